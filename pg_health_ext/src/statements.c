/*-------------------------------------------------------------------------
 *
 * statements.c
 *		The statements check: the slowest statements pg_stat_statements
 *		has seen, by mean and by total execution time.
 *
 * pg_stat_statements is an extension of its own, possibly in any schema,
 * possibly absent, possibly installed but not loaded (its functions then
 * raise "must be loaded via shared_preload_libraries"), possibly not
 * executable by the caller.  Its function is found by name in the schema
 * of the extension's pg_extension row and called through SPI inside an
 * internal subtransaction, as PL/pgSQL runs an EXCEPTION block: whatever
 * fails there is rolled back and becomes the check's reason, and
 * health_report() goes on with its other checks.  A query cancel is not
 * caught (PL/pgSQL's OTHERS does not catch it either).
 *
 * The function is called with showtext = false, so the query text file is
 * not read: one pass over pg_stat_statements' hash table under its shared
 * lock, at most pg_stat_statements.max rows (5000 by default).  Its rows
 * are read through an SPI cursor, a batch at a time, and judged here in C
 * in that one pass: the counts, and the top PG_HEALTH_REPORT_ITEMS by mean
 * and by total kept in two small arrays, in the order the SQL
 * ORDER BY mean_exec_time DESC, queryid, userid, dbid would give (and the
 * same with total_exec_time).  That replaced two window-function sorts of
 * every row: measured at 5000 entries on PostgreSQL 15 (2 loaded cores,
 * medians of 40 calls), the check's query took 28 ms where the bare
 * SELECT count(*) FROM pg_stat_statements(false) takes 9.3 ms, and the
 * one-pass read costs about the bare read.  That bare read, building
 * pg_stat_statements' own result of some forty columns a row, is the
 * floor (9-15 ms there, as much as the rest of the report together), so
 * a session keeps its last read for pg_health.statements_cache seconds
 * (30 by default, 0 reads on every call) and the check says the age of
 * its figures (age_s): they are cumulative since the last reset, and the
 * nginx module polls on a persistent connection.  The read is reused only
 * by the same role (what pg_stat_statements shows depends on it) with the
 * same min_calls and warning; a failed read is never kept.
 *
 * No query text is ever reported: queryid identifies the statement, and
 * pg_stat_statements shows its text to those allowed.
 *
 * Means are over everything since pg_stat_statements' last reset, and a
 * statement is judged only after pg_health.statements_min_calls calls, so
 * one-off statements (a migration, a report run by hand) do not stand for
 * the application's.
 *
 * pg_health_ext/src/statements.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "pg_health.h"

/* the columns of the query below */
#define STMT_COLS	8

/* rows fetched from the cursor at a time */
#define STMT_BATCH	500

typedef struct HealthStatement
{
	bool		has_queryid;	/* NULL for other roles' statements */
	int64		queryid;
	Oid			userid;
	Oid			dbid;
	int64		calls;
	double		total_ms;
	double		mean_ms;
	double		max_ms;
	int64		rows;
} HealthStatement;

typedef struct HealthStatements
{
	const char *reason;			/* not NULL: could not read them */
	bool		weighs;			/* an unknown counts in the report */
	int64		entries;
	int64		judged;
	int64		over_warning;
	int64		not_visible;
	double		worst_mean_ms;	/* of the judged ones */
	double		age_s;			/* since the figures were read */
	int			nmean;
	int			ntotal;
	HealthStatement by_mean[PG_HEALTH_REPORT_ITEMS];	/* judged ones only */
	HealthStatement by_total[PG_HEALTH_REPORT_ITEMS];
} HealthStatements;

/* this session's last successful read, for pg_health.statements_cache */
static HealthStatements stmt_cache;
static bool stmt_cache_valid = false;
static TimestampTz stmt_cache_at;
static Oid	stmt_cache_user;
static int	stmt_cache_min_calls;
static int	stmt_cache_warning;

static double
stmt_float(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0.0 : DatumGetFloat8(d);
}

static int64
stmt_int8(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
	bool		n;
	Datum		d = SPI_getbinval(tup, desc, col, &n);

	if (isnull != NULL)
		*isnull = n;

	return n ? 0 : DatumGetInt64(d);
}

static Oid
stmt_oid(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * The schema pg_stat_statements is installed in, or NULL when it is not
 * installed in this database.  Runs inside the caller's SPI connection.
 */
static char *
stmt_schema(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e"
					" JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					" WHERE e.extname = 'pg_stat_statements'",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the pg_stat_statements extension");

	if (SPI_processed == 0)
		return NULL;

	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	if (isnull)
		return NULL;

	return NameStr(*DatumGetName(d));
}

/*
 * float8 order as PostgreSQL's float8 btree opclass has it (NaN above
 * every number, equal to itself), so the C order is the SQL one.
 */
static int
stmt_float_cmp(double a, double b)
{
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return a > b ? 1 : (a < b ? -1 : 0);
}

/*
 * Whether a comes before b in ORDER BY <key> DESC, queryid, userid, dbid:
 * queryid ascending with NULLs last, the oids ascending as unsigned.
 */
static bool
stmt_before(const HealthStatement *a, double akey,
			const HealthStatement *b, double bkey)
{
	int			c = stmt_float_cmp(akey, bkey);

	if (c != 0)
		return c > 0;
	if (a->has_queryid != b->has_queryid)
		return a->has_queryid;
	if (a->has_queryid && a->queryid != b->queryid)
		return a->queryid < b->queryid;
	if (a->userid != b->userid)
		return a->userid < b->userid;
	return a->dbid < b->dbid;
}

/* keep r in top[] (*n of PG_HEALTH_REPORT_ITEMS, in order) if it ranks */
static void
stmt_keep(HealthStatement *top, int *n, const HealthStatement *r,
		  bool by_mean)
{
	double		key = by_mean ? r->mean_ms : r->total_ms;
	int			i = *n;

	if (i == PG_HEALTH_REPORT_ITEMS)
	{
		const HealthStatement *last = &top[i - 1];

		if (!stmt_before(r, key, last, by_mean ? last->mean_ms
						 : last->total_ms))
			return;
		i--;
	}
	else
		(*n)++;

	for (; i > 0; i--)
	{
		const HealthStatement *prev = &top[i - 1];

		if (!stmt_before(r, key, prev, by_mean ? prev->mean_ms
						 : prev->total_ms))
			break;
		top[i] = *prev;
	}
	top[i] = *r;
}

/*
 * One call of pg_stat_statements(false), read once: the top rows by mean
 * (of the statements with enough calls) and by total, with the counts over
 * every row.  Runs in an SPI connection; the rows are copied into s.
 */
static void
stmt_read(HealthStatements *s, MemoryContext cxt)
{
	char	   *schema;
	char	   *sql;
	Portal		portal;

	schema = stmt_schema();
	if (schema == NULL)
	{
		s->reason = MemoryContextStrdup(cxt,
										psprintf("pg_stat_statements is not installed in database \"%s\"",
												 get_database_name(MyDatabaseId)));
		s->weighs = false;
		return;
	}

	sql = psprintf("SELECT queryid, userid, dbid, calls, total_exec_time,"
				   " mean_exec_time, max_exec_time, rows"
				   " FROM %s.pg_stat_statements(false)",
				   quote_identifier(schema));

	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL,
									   true, CURSOR_OPT_NO_SCROLL);
	if (portal == NULL)
		elog(ERROR, "could not read pg_stat_statements");

	for (;;)
	{
		TupleDesc	desc;
		uint64		i;

		SPI_cursor_fetch(portal, true, STMT_BATCH);
		if (SPI_processed == 0)
			break;

		desc = SPI_tuptable->tupdesc;
		if (desc->natts != STMT_COLS)
			elog(ERROR, "unexpected pg_stat_statements result");

		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			HealthStatement r;
			bool		isnull;

			r.queryid = stmt_int8(tup, desc, 1, &isnull);
			r.has_queryid = !isnull;
			r.userid = stmt_oid(tup, desc, 2);
			r.dbid = stmt_oid(tup, desc, 3);
			r.calls = stmt_int8(tup, desc, 4, NULL);
			r.total_ms = stmt_float(tup, desc, 5);
			r.mean_ms = stmt_float(tup, desc, 6);
			r.max_ms = stmt_float(tup, desc, 7);
			r.rows = stmt_int8(tup, desc, 8, NULL);

			s->entries++;
			if (!r.has_queryid)
				s->not_visible++;
			if (r.calls >= pg_health_statements_min_calls)
			{
				s->judged++;
				if (stmt_float_cmp(r.mean_ms,
								   pg_health_statement_warning) >= 0)
					s->over_warning++;
				stmt_keep(s->by_mean, &s->nmean, &r, true);
			}
			stmt_keep(s->by_total, &s->ntotal, &r, false);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	if (s->nmean > 0)
		s->worst_mean_ms = s->by_mean[0].mean_ms;
}

/*
 * Read pg_stat_statements in a subtransaction of its own; an error there
 * (not installed, not loaded, no privilege) becomes s->reason.
 */
static void
health_statements_collect(HealthStatements *s)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	TimestampTz now = GetCurrentTimestamp();

	if (pg_health_statements_cache > 0 && stmt_cache_valid
		&& stmt_cache_user == GetUserId()
		&& stmt_cache_min_calls == pg_health_statements_min_calls
		&& stmt_cache_warning == pg_health_statement_warning
		&& now >= stmt_cache_at
		&& now - stmt_cache_at
		< (int64) pg_health_statements_cache * USECS_PER_SEC)
	{
		*s = stmt_cache;
		s->age_s = (double) (now - stmt_cache_at) / USECS_PER_SEC;
		return;
	}
	stmt_cache_valid = false;

	memset(s, 0, sizeof(HealthStatements));
	s->weighs = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");

		stmt_read(s, cxt);

		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		if (s->reason == NULL)
		{
			stmt_cache = *s;
			stmt_cache_valid = true;
			stmt_cache_at = now;
			stmt_cache_user = GetUserId();
			stmt_cache_min_calls = pg_health_statements_min_calls;
			stmt_cache_warning = pg_health_statement_warning;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		/* a cancel (statement_timeout, the client) ends the report */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);

		memset(s, 0, sizeof(HealthStatements));
		s->weighs = true;

		/* the server's message, in this database's encoding; bounded */
		s->reason = psprintf("pg_stat_statements could not be read: %.*s",
							 pg_mbcliplen(edata->message,
										  strlen(edata->message),
										  PG_HEALTH_REPORT_QUERY_LEN),
							 edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

static void
stmt_ms(health_json_t *w, const char *key, double ms)
{
	health_json_number(w, key, rint(ms * 1000.0) / 1000.0);
}

static void
stmt_entry(health_json_t *w, const HealthStatement *r,
		   const health_threshold_t *t)
{
	char	   *name;

	health_json_object_open(w, NULL);
	if (r->has_queryid)
		health_json_string(w, "queryid", psprintf(INT64_FORMAT, r->queryid));
	else
		health_json_null(w, "queryid");

	name = OidIsValid(r->dbid) ? get_database_name(r->dbid) : NULL;
	health_json_string(w, "datname", name);
	name = OidIsValid(r->userid) ? GetUserNameFromId(r->userid, true) : NULL;
	health_json_string(w, "usename", name);

	health_json_integer(w, "calls", r->calls);
	stmt_ms(w, "mean_ms", r->mean_ms);
	stmt_ms(w, "total_ms", r->total_ms);
	stmt_ms(w, "max_ms", r->max_ms);
	health_json_integer(w, "rows", r->rows);

	/* too few calls to stand for the statement: not judged */
	if (r->calls >= pg_health_statements_min_calls)
		health_json_string(w, "status",
						   health_status_name(health_threshold_eval(t, r->mean_ms)));
	else
		health_json_null(w, "status");
	health_json_object_close(w);
}

/*
 * The statements check.  value is the worst mean of the statements with at
 * least pg_health.statements_min_calls calls, judged against the statement
 * thresholds slow_queries uses.  Returns the status the report folds: an
 * unknown because pg_stat_statements is not installed in this database is
 * shown but weighs nothing, since that is the operator's choice, not a
 * fault; one because it is installed but cannot be read weighs as unknown.
 */
health_status_t
health_statements_report(health_json_t *w)
{
	HealthStatements s;
	health_check_t chk;
	health_threshold_t t;
	char		err[128];
	int			i;

	t = health_threshold(pg_health_statement_warning,
						 pg_health_statement_critical);
	memset(&chk, 0, sizeof(health_check_t));
	chk.unit = "ms";
	chk.threshold = t;

	health_statements_collect(&s);

	chk.value = rint(s.worst_mean_ms * 1000.0) / 1000.0;
	chk.status = health_threshold_eval(&t, s.worst_mean_ms);

	if (s.reason != NULL)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.value = NAN;
		chk.reason = s.reason;
	}
	else if (health_threshold_validate(&t, err, sizeof(err)) != 0)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.reason = psprintf("pg_health.statement_warning and pg_health.statement_critical do not fit together: %s",
							  err);
	}

	health_json_check_open(w, "statements", &chk);
	health_json_integer(w, "min_calls", pg_health_statements_min_calls);
	health_json_integer(w, "entries", s.entries);
	health_json_integer(w, "judged", s.judged);
	health_json_integer(w, "count", s.over_warning);
	health_json_integer(w, "not_visible", s.not_visible);
	if (s.reason == NULL)
		health_json_number(w, "age_s", rint(s.age_s * 1000.0) / 1000.0);
	else
		health_json_null(w, "age_s");

	health_json_array_open(w, "by_mean");
	for (i = 0; i < s.nmean; i++)
		stmt_entry(w, &s.by_mean[i], &t);
	health_json_array_close(w);

	health_json_array_open(w, "by_total");
	for (i = 0; i < s.ntotal; i++)
		stmt_entry(w, &s.by_total[i], &t);
	health_json_array_close(w);
	health_json_object_close(w);

	if (chk.status == HEALTH_UNKNOWN && !s.weighs)
		return HEALTH_HEALTHY;

	return chk.status;
}
