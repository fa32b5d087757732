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
 * That pass still reads every relation's statistics entry under its lock,
 * one random shared-memory read each: at 50,000 tables it was about half
 * of health_report() warm (perf), memory latency that no ordering
 * removes.  Autovacuum looks at a database at most once per
 * autovacuum_naptime (1 min by default), so a session keeps the judged
 * list for pg_health.tables_cache seconds (30 by default, 0 reads on
 * every call), and the dead_tuples and vacuum checks say its age (age_s).
 * It is reused only by the same role with the same settings the judging
 * reads; health_dead_tuples() always reads.
 *
 * pg_health_ext/src/tables.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
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
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#include "funcapi.h"
#include "lib/dshash.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/autovacuum.h"
#include "postmaster/postmaster.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pgstat_internal.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
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

/* PostgreSQL 18 widened the object of a statistics key */
#if PG_VERSION_NUM >= 180000
#define STATKEY_OBJECT(k)			((Oid) (k).objid)
#else
#define STATKEY_OBJECT(k)			((k).objoid)
#endif

PG_FUNCTION_INFO_V1(health_dead_tuples);

/* this session's last read for health_report(), for pg_health.tables_cache */
static MemoryContext tab_cache_cxt = NULL;
static HealthTables tab_cache;
static bool tab_cache_valid = false;
static TimestampTz tab_cache_at;
static Oid	tab_cache_user;
static int	tab_cache_min;
static double tab_cache_warning;
static double tab_cache_critical;
static int	tab_cache_thresh;
static double tab_cache_scale;
#if PG_VERSION_NUM >= 180000
static int	tab_cache_max_thresh;
#endif
static int	tab_cache_naptime;
static bool tab_cache_active;

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

/* autovacuum's parameters for one table: its reloptions over the settings */
typedef struct TableAutovac
{
	bool		own;			/* the table has autovacuum reloptions */
	bool		enabled;
	int			thresh;
	double		scale;
#if PG_VERSION_NUM >= 180000
	int			max_thresh;
#endif
} TableAutovac;

/* a table with a TOAST table, so the TOAST table can use its options */
typedef struct ToastOwner
{
	Oid			toastrelid;
	Oid			nspid;
	NameData	relname;
	TableAutovac av;
} ToastOwner;

static void
table_autovac_options(HeapTuple tup, TupleDesc desc, TableAutovac *av)
{
	av->own = false;
	av->enabled = true;
	av->thresh = autovacuum_vac_thresh;
	av->scale = autovacuum_vac_scale;
#if PG_VERSION_NUM >= 180000
	av->max_thresh = autovacuum_vac_max_thresh;
#endif

	if (!heap_attisnull(tup, Anum_pg_class_reloptions, desc))
	{
		bytea	   *opts = extractRelOptions(tup, desc, NULL);

		if (opts != NULL)
		{
			AutoVacOpts *o = &((StdRdOptions *) opts)->autovacuum;

			av->own = true;
			av->enabled = o->enabled;
			if (o->vacuum_threshold >= 0)
				av->thresh = o->vacuum_threshold;
			if (o->vacuum_scale_factor >= 0)
				av->scale = o->vacuum_scale_factor;
#if PG_VERSION_NUM >= 180000
			/* -1 turns the cap off, below that the setting applies */
			if (o->vacuum_max_threshold >= -1)
				av->max_thresh = o->vacuum_max_threshold;
#endif
			pfree(opts);
		}
	}
}

/*
 * autovacuum's own trigger for a vacuum of this table, as
 * relation_needs_vacanalyze() computes it: threshold + scale_factor *
 * reltuples (a never-vacuumed table's reltuples, -1, taken as zero), capped
 * on PostgreSQL 18 by the max threshold.
 */
static double
table_vacuum_trigger(const TableAutovac *av, float4 reltuples)
{
	double		t = (double) av->thresh + av->scale * Max(reltuples, 0);

#if PG_VERSION_NUM >= 180000
	if (av->max_thresh >= 0 && t > (double) av->max_thresh)
		t = av->max_thresh;
#endif

	return t;
}

/*
 * The tables autovacuum looks after (ordinary tables, materialized views
 * and their TOAST tables, outside pg_catalog and information_schema) with
 * at least min_dead dead tuples.  Other sessions' temporary tables are left
 * out: no vacuum but their owner's can ever reach them.  A table is judged
 * against pg_health.dead_tuples_* only once its dead tuples are past
 * autovacuum's own trigger (below it they are autovacuum's normal work) and
 * autovacuum is not keeping up with it (table_kept_up).
 */
static bool
table_vacuum_running(const HealthActivity *a, Oid relid)
{
	int			i;

	for (i = 0; i < a->nbackends; i++)
	{
		if (a->backends[i].progress_command == PROGRESS_COMMAND_VACUUM
			&& a->backends[i].progress_relid == relid)
			return true;
	}

	return false;
}

/*
 * Whether autovacuum is keeping up with a table past its trigger: it can
 * process the table, and has vacuumed it (or anyone has) within three of
 * its rounds (autovacuum_naptime); a never-vacuumed table counts from the
 * server's start.  A table being vacuumed right now is being dealt with.
 */
static bool
table_kept_up(const HealthActivity *a, const HealthTable *t)
{
	TimestampTz last = Max(t->last_autovacuum, t->last_vacuum);

	if (t->vacuum_running)
		return true;
	if (!health_autovacuum_active() || !t->autovacuum_enabled || t->temp)
		return false;
	if (last == 0)
		last = PgStartTime;

	return health_ms_between(last, a->now)
		<= 3.0 * autovacuum_naptime * 1000.0;
}

/* a table of this database with enough dead tuples, from the statistics */
typedef struct TableHit
{
	Oid			relid;
	int64		live;
	int64		dead;
	TimestampTz last_vacuum;
	TimestampTz last_autovacuum;
} TableHit;

/*
 * The relations of this database with at least min_dead dead tuples, in
 * one pass over the shared statistics hash table (what pg_stat_user_tables
 * reads one lookup per table).  The partition locks the pass holds keep
 * every entry it sees from being freed; the figures are read as the view
 * reads them with stats_fetch_consistency = none.
 */
static TableHit *
tables_stats_pass(int64 min_dead, int *nhits)
{
	dshash_seq_status hstat;
	PgStatShared_HashEntry *p;
	TableHit   *hits;
	int			cap = 16;

	*nhits = 0;
	hits = palloc(sizeof(TableHit) * cap);

	dshash_seq_init(&hstat, pgStatLocal.shared_hash, false);

	while ((p = dshash_seq_next(&hstat)) != NULL)
	{
		PgStatShared_Relation *shrel;
		PgStat_StatTabEntry *st;
		TableHit   *h;

		if (p->key.kind != PGSTAT_KIND_RELATION
			|| p->key.dboid != MyDatabaseId || p->dropped)
			continue;

		shrel = dsa_get_address(pgStatLocal.dsa, p->body);
		st = &shrel->stats;

		LWLockAcquire(&shrel->header.lock, LW_SHARED);

		if (TABSTAT_DEAD(st) < min_dead)
		{
			LWLockRelease(&shrel->header.lock);
			continue;
		}

		if (*nhits == cap)
		{
			cap *= 2;
			hits = repalloc(hits, sizeof(TableHit) * cap);
		}

		h = &hits[(*nhits)++];
		h->relid = STATKEY_OBJECT(p->key);
		h->live = TABSTAT_LIVE(st);
		h->dead = TABSTAT_DEAD(st);
		h->last_vacuum = TABSTAT_LAST_VACUUM(st);
		h->last_autovacuum = TABSTAT_LAST_AUTOVACUUM(st);

		LWLockRelease(&shrel->header.lock);
	}

	dshash_seq_term(&hstat);

	return hits;
}

/*
 * The owner of a TOAST table, named pg_toast_<owner's OID> by PostgreSQL
 * and checked against the owner's reltoastrelid; false when that fails
 * (a name changed by hand), and the caller scans pg_class instead.
 */
static bool
tables_toast_owner(Form_pg_class toast, Oid toastrelid, TupleDesc desc,
				   HealthTable *t, TableAutovac *av)
{
	unsigned int owner;
	char		tail;
	HeapTuple	tup;
	Form_pg_class form;
	TableAutovac oav;

	if (sscanf(NameStr(toast->relname), "pg_toast_%u%c", &owner, &tail) != 1)
		return false;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum((Oid) owner));
	if (!HeapTupleIsValid(tup))
		return false;

	form = (Form_pg_class) GETSTRUCT(tup);
	if (form->reltoastrelid != toastrelid)
	{
		ReleaseSysCache(tup);
		return false;
	}

	namestrcpy(&t->ownername, NameStr(form->relname));
	t->owner_nspid = form->relnamespace;

	/* a TOAST table without options of its own uses its table's */
	if (!av->own)
	{
		table_autovac_options(tup, desc, &oav);
		*av = oav;
	}

	/* a TOAST table of pg_catalog's or information_schema's is not a user
	 * table */
	if (form->relnamespace == PG_CATALOG_NAMESPACE
		|| form->relnamespace == get_namespace_oid("information_schema", true))
		t->n_dead = -1;

	ReleaseSysCache(tup);
	return true;
}

/*
 * With min_dead > 0, only the tables the statistics show past it are read
 * from the catalog, each through the syscache: no scan of pg_class and no
 * statistics lookup per table, whatever the number of tables.  false when
 * a TOAST table's owner cannot be found by its name.
 */
static bool
tables_collect_hits(int64 min_dead, HealthTables *result, TableAutovac **avsp)
{
	Relation	rel;
	TupleDesc	desc;
	TableHit   *hits;
	TableAutovac *avs;
	Oid			infoschema;
	int			nhits;
	int			i;

	hits = tables_stats_pass(min_dead, &nhits);

	result->ntables = 0;
	result->tables = palloc(sizeof(HealthTable) * Max(nhits, 1));
	avs = palloc(sizeof(TableAutovac) * Max(nhits, 1));
	*avsp = avs;

	infoschema = get_namespace_oid("information_schema", true);

	/* pg_class's descriptor, for the reloptions */
	rel = table_open(RelationRelationId, AccessShareLock);
	desc = RelationGetDescr(rel);

	for (i = 0; i < nhits; i++)
	{
		HeapTuple	tup;
		Form_pg_class form;
		HealthTable *t;
		TableAutovac *av;

		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(hits[i].relid));
		if (!HeapTupleIsValid(tup))
			continue;			/* dropped since */

		form = (Form_pg_class) GETSTRUCT(tup);

		if ((form->relkind != RELKIND_RELATION
			 && form->relkind != RELKIND_MATVIEW
			 && form->relkind != RELKIND_TOASTVALUE)
			|| form->relnamespace == PG_CATALOG_NAMESPACE
			|| form->relnamespace == infoschema
			|| (form->relpersistence == RELPERSISTENCE_TEMP
				&& isOtherTempNamespace(form->relnamespace)))
		{
			ReleaseSysCache(tup);
			continue;
		}

		av = &avs[result->ntables];
		t = &result->tables[result->ntables];
		memset(t, 0, sizeof(HealthTable));
		table_autovac_options(tup, desc, av);

		t->relid = hits[i].relid;
		t->nspid = form->relnamespace;
		namestrcpy(&t->relname, NameStr(form->relname));
		t->temp = form->relpersistence == RELPERSISTENCE_TEMP;
		t->toast = form->relkind == RELKIND_TOASTVALUE;
		t->n_live = hits[i].live;
		t->n_dead = hits[i].dead;
		t->dead_pct = t->n_live + t->n_dead > 0
			? t->n_dead * 100.0 / (t->n_live + t->n_dead) : 0.0;
		t->vacuum_threshold = form->reltuples;
		t->last_vacuum = hits[i].last_vacuum;
		t->last_autovacuum = hits[i].last_autovacuum;

		if (t->toast
			&& !tables_toast_owner(form, t->relid, desc, t, av))
		{
			ReleaseSysCache(tup);
			table_close(rel, AccessShareLock);
			return false;
		}

		ReleaseSysCache(tup);
		result->ntables++;
	}

	table_close(rel, AccessShareLock);
	return true;
}

void
health_tables_collect(const HealthActivity *a, int64 min_dead,
					  HealthTables *result)
{
	Relation	rel;
	TupleDesc	desc;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			infoschema;
	health_threshold_t th;
	ToastOwner *owners;
	int			nowners = 0;
	int			capowners = 64;
	TableAutovac *avs;
	int			cap = 64;
	int			i;
	int			j;

	th = health_threshold(pg_health_dead_tuples_warning,
						  pg_health_dead_tuples_critical);

	if (min_dead > 0 && tables_collect_hits(min_dead, result, &avs))
	{
		owners = NULL;
		goto judge;
	}

	result->ntables = 0;
	result->tables = palloc(sizeof(HealthTable) * cap);
	avs = palloc(sizeof(TableAutovac) * cap);
	owners = palloc(sizeof(ToastOwner) * capowners);

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
		TableAutovac av;
		int64		live = 0;
		int64		dead = 0;

		if (form->relkind != RELKIND_RELATION
			&& form->relkind != RELKIND_MATVIEW
			&& form->relkind != RELKIND_TOASTVALUE)
			continue;
		if (form->relnamespace == PG_CATALOG_NAMESPACE
			|| form->relnamespace == infoschema)
			continue;
		if (form->relpersistence == RELPERSISTENCE_TEMP
			&& isOtherTempNamespace(form->relnamespace))
			continue;

		table_autovac_options(tup, desc, &av);

		if (form->relkind != RELKIND_TOASTVALUE
			&& OidIsValid(form->reltoastrelid))
		{
			if (nowners == capowners)
			{
				capowners *= 2;
				owners = repalloc(owners, sizeof(ToastOwner) * capowners);
			}
			owners[nowners].toastrelid = form->reltoastrelid;
			owners[nowners].nspid = form->relnamespace;
			namestrcpy(&owners[nowners].relname, NameStr(form->relname));
			owners[nowners].av = av;
			nowners++;
		}

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
			avs = repalloc(avs, sizeof(TableAutovac) * cap);
		}

		avs[result->ntables] = av;
		t = &result->tables[result->ntables++];
		memset(t, 0, sizeof(HealthTable));
		t->relid = form->oid;
		t->nspid = form->relnamespace;
		namestrcpy(&t->relname, NameStr(form->relname));
		t->temp = form->relpersistence == RELPERSISTENCE_TEMP;
		t->toast = form->relkind == RELKIND_TOASTVALUE;
		t->n_live = live;
		t->n_dead = dead;
		t->dead_pct = live + dead > 0 ? dead * 100.0 / (live + dead) : 0.0;
		/* reltuples is kept here until the TOAST owners are known */
		t->vacuum_threshold = form->reltuples;
		if (stat != NULL)
		{
			t->last_vacuum = TABSTAT_LAST_VACUUM(stat);
			t->last_autovacuum = TABSTAT_LAST_AUTOVACUUM(stat);
		}
	}

	table_endscan(scan);
	table_close(rel, AccessShareLock);

judge:

	for (i = 0; i < result->ntables; i++)
	{
		HealthTable *t = &result->tables[i];
		TableAutovac *av = &avs[i];

		/*
		 * A TOAST table without autovacuum options of its own uses its
		 * table's, as autovacuum does.  A TOAST table of pg_catalog's is
		 * not a user table.  (The pass over the statistics has found the
		 * owners already.)
		 */
		if (t->toast && owners != NULL)
		{
			for (j = 0; j < nowners; j++)
			{
				if (owners[j].toastrelid == t->relid)
					break;
			}

			if (j == nowners)
			{
				t->n_dead = -1;
				continue;
			}

			namestrcpy(&t->ownername, NameStr(owners[j].relname));
			t->owner_nspid = owners[j].nspid;
			if (!av->own)
				*av = owners[j].av;
		}

		t->autovacuum_enabled = av->enabled;
		t->vacuum_threshold = table_vacuum_trigger(av,
												   (float4) t->vacuum_threshold);
		t->past_trigger = (double) t->n_dead > t->vacuum_threshold;
		t->vacuum_running = table_vacuum_running(a, t->relid);
		t->judged = t->past_trigger && !table_kept_up(a, t);
		t->status = t->judged
			? health_threshold_eval(&th, t->dead_pct) : HEALTH_HEALTHY;
	}

	/* drop the TOAST tables of system catalogs */
	for (i = 0, j = 0; i < result->ntables; i++)
	{
		if (result->tables[i].n_dead >= 0)
			result->tables[j++] = result->tables[i];
	}
	result->ntables = j;

	qsort(result->tables, result->ntables, sizeof(HealthTable), table_cmp);
	result->now = a->now;
	result->age_s = 0.0;
}

/*
 * health_report()'s tables: this session's last read, while it is younger
 * than pg_health.tables_cache and was made by the same role with the same
 * settings (those of pg_health and of autovacuum that the judging above
 * reads), or a new read, kept.  The whole judged list is kept, as of its
 * read: the figures, the trigger, whether autovacuum kept up then, and the
 * time the vacuum check judges it against (t->now).  A HealthTable holds
 * no pointer, so the copy is one memcpy.
 */
void
health_tables_report_collect(const HealthActivity *a, HealthTables *result)
{
	TimestampTz now = GetCurrentTimestamp();

	if (pg_health_tables_cache > 0 && tab_cache_valid
		&& tab_cache_user == GetUserId()
		&& tab_cache_min == pg_health_dead_tuples_min
		&& tab_cache_warning == pg_health_dead_tuples_warning
		&& tab_cache_critical == pg_health_dead_tuples_critical
		&& tab_cache_thresh == autovacuum_vac_thresh
		&& tab_cache_scale == autovacuum_vac_scale
#if PG_VERSION_NUM >= 180000
		&& tab_cache_max_thresh == autovacuum_vac_max_thresh
#endif
		&& tab_cache_naptime == autovacuum_naptime
		&& tab_cache_active == health_autovacuum_active()
		&& now >= tab_cache_at
		&& now - tab_cache_at
		< (int64) pg_health_tables_cache * USECS_PER_SEC)
	{
		*result = tab_cache;
		result->tables = palloc(sizeof(HealthTable)
								* Max(tab_cache.ntables, 1));
		memcpy(result->tables, tab_cache.tables,
			   sizeof(HealthTable) * tab_cache.ntables);
		result->age_s = (double) (now - tab_cache_at) / USECS_PER_SEC;
		return;
	}
	tab_cache_valid = false;

	health_tables_collect(a, pg_health_dead_tuples_min, result);

	if (pg_health_tables_cache <= 0)
		return;

	if (tab_cache_cxt == NULL)
		tab_cache_cxt = AllocSetContextCreate(TopMemoryContext,
											  "pg_health tables cache",
											  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(tab_cache_cxt);

	tab_cache = *result;
	tab_cache.tables = MemoryContextAlloc(tab_cache_cxt,
										  sizeof(HealthTable)
										  * Max(result->ntables, 1));
	memcpy(tab_cache.tables, result->tables,
		   sizeof(HealthTable) * result->ntables);
	tab_cache_valid = true;
	tab_cache_at = now;
	tab_cache_user = GetUserId();
	tab_cache_min = pg_health_dead_tuples_min;
	tab_cache_warning = pg_health_dead_tuples_warning;
	tab_cache_critical = pg_health_dead_tuples_critical;
	tab_cache_thresh = autovacuum_vac_thresh;
	tab_cache_scale = autovacuum_vac_scale;
#if PG_VERSION_NUM >= 180000
	tab_cache_max_thresh = autovacuum_vac_max_thresh;
#endif
	tab_cache_naptime = autovacuum_naptime;
	tab_cache_active = health_autovacuum_active();
}

/* autovacuum can run at all: the launcher is on and counts are kept */
bool
health_autovacuum_active(void)
{
	return autovacuum_start_daemon && pgstat_track_counts;
}

/*
 * The oldest datfrozenxid and datminmxid of every database of the cluster:
 * wraparound is a cluster-wide limit, and the database nobody connects to
 * is the one that gets old.
 */
void
health_wraparound_collect(HealthWraparound *w)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	TransactionId next_xid = ReadNextTransactionId();
	MultiXactId next_mxid = ReadNextMultiXactId();

	memset(w, 0, sizeof(HealthWraparound));
	w->xid_age = -1;
	w->mxid_age = -1;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		int64		age;

		w->ndatabases++;

		if (TransactionIdIsNormal(db->datfrozenxid))
		{
			age = (int32) (next_xid - db->datfrozenxid);
			if (age > w->xid_age)
			{
				w->xid_age = age;
				namestrcpy(&w->xid_datname, NameStr(db->datname));
			}
		}

		if (MultiXactIdIsValid(db->datminmxid))
		{
			age = (int32) (next_mxid - db->datminmxid);
			if (age > w->mxid_age)
			{
				w->mxid_age = age;
				namestrcpy(&w->mxid_datname, NameStr(db->datname));
			}
		}
	}

	table_endscan(scan);
	table_close(rel, AccessShareLock);

	w->xid_age = Max(w->xid_age, 0);
	w->mxid_age = Max(w->mxid_age, 0);
}

Datum
health_dead_tuples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	health_threshold_t th;
	HealthTables tabs;
	HealthActivity a;
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

	/* counts as of now, not as of this transaction's first look */
	pgstat_clear_snapshot();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table statistics are not kept during recovery"),
				 errdetail("n_dead_tup is counted by the primary only; a hot standby's counts are not those of its tables."),
				 errhint("Call health_dead_tuples() on the primary.")));

	health_activity_collect(&a, false);
	health_tables_collect(&a, min_dead, &tabs);

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
