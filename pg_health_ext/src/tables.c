/*-------------------------------------------------------------------------
 *
 * tables.c
 *		Dead tuples, autovacuum's trigger, and transaction ID wraparound.
 *
 * One sequential pass over pg_class and one statistics lookup per user
 * table: no relation is opened but pg_class itself, so a table locked
 * ACCESS EXCLUSIVE by another session is read like any other, and nothing
 * here costs more than the pg_stat_user_tables view would for one column.
 *
 * pg_health_ext/src/tables.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/autovacuum.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "pg_health.h"

/* PostgreSQL 16 renamed the table statistics fields */
#if PG_VERSION_NUM >= 160000
#define TABSTAT_LIVE(t)				((t)->live_tuples)
#define TABSTAT_DEAD(t)				((t)->dead_tuples)
#define TABSTAT_LAST_VACUUM(t)		((t)->last_vacuum_time)
#define TABSTAT_LAST_AUTOVACUUM(t)	((t)->last_autovacuum_time)
#else
#define TABSTAT_LIVE(t)				((t)->n_live_tuples)
#define TABSTAT_DEAD(t)				((t)->n_dead_tuples)
#define TABSTAT_LAST_VACUUM(t)		((t)->vacuum_timestamp)
#define TABSTAT_LAST_AUTOVACUUM(t)	((t)->autovac_vacuum_timestamp)
#endif

PG_FUNCTION_INFO_V1(health_dead_tuples);

static int
table_cmp(const void *x, const void *y)
{
	const HealthTable *a = x;
	const HealthTable *b = y;

	if (a->dead_pct != b->dead_pct)
		return a->dead_pct > b->dead_pct ? -1 : 1;
	if (a->n_dead != b->n_dead)
		return a->n_dead > b->n_dead ? -1 : 1;

	return strcmp(NameStr(a->relname), NameStr(b->relname));
}

/*
 * autovacuum's own trigger for a vacuum of this table, as
 * relation_needs_vacanalyze() computes it: the per-table reloptions where
 * set, the server settings otherwise, and a never-vacuumed table's
 * reltuples (-1) taken as zero.
 */
static void
table_autovacuum_options(HeapTuple tup, TupleDesc desc, HealthTable *t)
{
	Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);
	int			vac_thresh = autovacuum_vac_thresh;
	double		vac_scale = autovacuum_vac_scale;
	double		reltuples = form->reltuples < 0 ? 0 : form->reltuples;

	t->autovacuum_enabled = true;

	if (!heap_attisnull(tup, Anum_pg_class_reloptions, desc))
	{
		bytea	   *opts = extractRelOptions(tup, desc, NULL);

		if (opts != NULL)
		{
			AutoVacOpts *av = &((StdRdOptions *) opts)->autovacuum;

			t->autovacuum_enabled = av->enabled;
			if (av->vacuum_threshold >= 0)
				vac_thresh = av->vacuum_threshold;
			if (av->vacuum_scale_factor >= 0)
				vac_scale = av->vacuum_scale_factor;
			pfree(opts);
		}
	}

	t->vacuum_threshold = (double) vac_thresh + vac_scale * reltuples;
}

/*
 * The user tables (ordinary and materialized, outside pg_catalog and
 * information_schema, as in pg_stat_user_tables) with at least min_dead
 * dead tuples, judged against pg_health.dead_tuples_*.
 */
void
health_tables_collect(int64 min_dead, HealthTables *result)
{
	Relation	rel;
	TupleDesc	desc;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			infoschema;
	health_threshold_t th;
	int			cap = 64;

	th = health_threshold(pg_health_dead_tuples_warning,
						  pg_health_dead_tuples_critical);

	result->ntables = 0;
	result->tables = palloc(sizeof(HealthTable) * cap);

	infoschema = get_namespace_oid("information_schema", true);

	rel = table_open(RelationRelationId, AccessShareLock);
	desc = RelationGetDescr(rel);
	/* heap_getnext: no slot per tuple, as autovacuum scans pg_class */
	scan = table_beginscan_catalog(rel, 0, NULL);

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);
		PgStat_StatTabEntry *stat;
		HealthTable *t;
		int64		live = 0;
		int64		dead = 0;

		if (form->relkind != RELKIND_RELATION
			&& form->relkind != RELKIND_MATVIEW)
			continue;
		if (form->relnamespace == PG_CATALOG_NAMESPACE
			|| form->relnamespace == infoschema)
			continue;

		/* user tables are never shared: skip IsSharedRelation() */
		stat = pgstat_fetch_stat_tabentry_ext(false, form->oid);
		if (stat != NULL)
		{
			live = TABSTAT_LIVE(stat);
			dead = TABSTAT_DEAD(stat);
		}

		if (dead < min_dead || (stat == NULL && min_dead > 0))
			continue;

		if (result->ntables == cap)
		{
			cap *= 2;
			result->tables = repalloc(result->tables,
									  sizeof(HealthTable) * cap);
		}

		t = &result->tables[result->ntables++];
		memset(t, 0, sizeof(HealthTable));
		t->relid = form->oid;
		t->nspid = form->relnamespace;
		namestrcpy(&t->relname, NameStr(form->relname));
		t->temp = form->relpersistence == RELPERSISTENCE_TEMP;
		t->n_live = live;
		t->n_dead = dead;
		t->dead_pct = live + dead > 0 ? dead * 100.0 / (live + dead) : 0.0;
		if (stat != NULL)
		{
			t->last_vacuum = TABSTAT_LAST_VACUUM(stat);
			t->last_autovacuum = TABSTAT_LAST_AUTOVACUUM(stat);
		}
		table_autovacuum_options(tup, desc, t);
		t->status = health_threshold_eval(&th, t->dead_pct);
	}

	table_endscan(scan);
	table_close(rel, AccessShareLock);

	qsort(result->tables, result->ntables, sizeof(HealthTable), table_cmp);
}

/* autovacuum can run at all: the launcher is on and counts are kept */
bool
health_autovacuum_active(void)
{
	return autovacuum_start_daemon && pgstat_track_counts;
}

/*
 * age(datfrozenxid) and mxid_age(datminmxid) of the current database.
 */
void
health_xid_ages(int64 *xid_age, int64 *mxid_age)
{
	HeapTuple	tup;
	Form_pg_database db;
	TransactionId next_xid = ReadNextTransactionId();
	MultiXactId next_mxid = ReadNextMultiXactId();

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	db = (Form_pg_database) GETSTRUCT(tup);

	*xid_age = TransactionIdIsNormal(db->datfrozenxid)
		? (int32) (next_xid - db->datfrozenxid) : 0;
	*mxid_age = MultiXactIdIsValid(db->datminmxid)
		? (int32) (next_mxid - db->datminmxid) : 0;

	ReleaseSysCache(tup);
}

Datum
health_dead_tuples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	health_threshold_t th;
	HealthTables tabs;
	int64		min_dead;
	int			i;

	th = health_threshold(pg_health_dead_tuples_warning,
						  pg_health_dead_tuples_critical);
	health_check_threshold("dead_tuples", &th);

	if (PG_ARGISNULL(0))
		min_dead = pg_health_dead_tuples_min;
	else
	{
		min_dead = PG_GETARG_INT64(0);
		if (min_dead < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_dead must not be negative"),
					 errhint("Pass NULL to use pg_health.dead_tuples_min.")));
	}

	InitMaterializedSRF(fcinfo, 0);

	health_tables_collect(min_dead, &tabs);

	for (i = 0; i < tabs.ntables; i++)
	{
		HealthTable *t = &tabs.tables[i];
		Datum		values[9];
		bool		nulls[9] = {0};
		Name		nsp = (Name) palloc(NAMEDATALEN);
		char	   *nspname = get_namespace_name(t->nspid);

		namestrcpy(nsp, nspname != NULL ? nspname : "");
		values[0] = NameGetDatum(nsp);
		values[1] = NameGetDatum(&t->relname);
		values[2] = Int64GetDatum(t->n_live);
		values[3] = Int64GetDatum(t->n_dead);
		values[4] = Float8GetDatum(rint(t->dead_pct * 100.0) / 100.0);
		values[5] = Int64GetDatum((int64) floor(t->vacuum_threshold));
		if (t->last_autovacuum != 0)
			values[6] = TimestampTzGetDatum(t->last_autovacuum);
		else
			nulls[6] = true;
		if (t->last_vacuum != 0)
			values[7] = TimestampTzGetDatum(t->last_vacuum);
		else
			nulls[7] = true;
		values[8] = CStringGetTextDatum(health_status_name(t->status));

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}

	return (Datum) 0;
}
