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
 * lock, at most pg_stat_statements.max rows (5000 by default), sorted
 * twice by the window functions and cut to PG_HEALTH_REPORT_ITEMS rows
 * each way.  No query text is ever reported: queryid identifies the
 * statement, and pg_stat_statements shows its text to those allowed.
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
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pg_health.h"

/* the columns of the query below */
#define STMT_COLS	14

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
	int64		by_mean;		/* rank among the judged ones, 1 first */
	int64		by_total;		/* rank among all */
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
	int			nrows;
	HealthStatement *rows;
} HealthStatements;

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
 * One call of pg_stat_statements(false): the top rows by mean (of the
 * statements with enough calls) and by total, with the counts over every
 * row.  Runs in an SPI connection; the rows are copied into cxt.
 */
static void
stmt_read(HealthStatements *s, MemoryContext cxt)
{
	Oid			argtypes[2] = {INT8OID, FLOAT8OID};
	Datum		args[2];
	char	   *schema;
	char	   *sql;
	TupleDesc	desc;
	uint64		i;

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
				   " mean_exec_time, max_exec_time, rows, by_mean, by_total,"
				   " n_all, n_judged, n_over, n_hidden"
				   " FROM (SELECT p.queryid, p.userid, p.dbid, p.calls,"
				   " p.total_exec_time, p.mean_exec_time, p.max_exec_time,"
				   " p.rows,"
				   " pg_catalog.row_number() OVER (ORDER BY p.calls >= $1 DESC,"
				   " p.mean_exec_time DESC, p.queryid, p.userid, p.dbid)"
				   " AS by_mean,"
				   " pg_catalog.row_number() OVER (ORDER BY"
				   " p.total_exec_time DESC, p.queryid, p.userid, p.dbid)"
				   " AS by_total,"
				   " pg_catalog.count(*) OVER () AS n_all,"
				   " pg_catalog.count(*) FILTER (WHERE p.calls >= $1) OVER ()"
				   " AS n_judged,"
				   " pg_catalog.count(*) FILTER (WHERE p.calls >= $1"
				   " AND p.mean_exec_time >= $2) OVER () AS n_over,"
				   " pg_catalog.count(*) FILTER (WHERE p.queryid IS NULL)"
				   " OVER () AS n_hidden"
				   " FROM %s.pg_stat_statements(false) AS p) AS s"
				   " WHERE (by_mean <= %d AND calls >= $1) OR by_total <= %d"
				   " ORDER BY by_mean",
				   quote_identifier(schema),
				   PG_HEALTH_REPORT_ITEMS, PG_HEALTH_REPORT_ITEMS);

	args[0] = Int64GetDatum(pg_health_statements_min_calls);
	args[1] = Float8GetDatum(pg_health_statement_warning);

	if (SPI_execute_with_args(sql, 2, argtypes, args, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not read pg_stat_statements");

	desc = SPI_tuptable->tupdesc;
	if (desc->natts != STMT_COLS)
		elog(ERROR, "unexpected pg_stat_statements result");

	s->rows = MemoryContextAllocZero(cxt, sizeof(HealthStatement)
									 * Max(SPI_processed, 1));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		HealthStatement *r = &s->rows[s->nrows++];
		bool		isnull;

		r->queryid = stmt_int8(tup, desc, 1, &isnull);
		r->has_queryid = !isnull;
		r->userid = stmt_oid(tup, desc, 2);
		r->dbid = stmt_oid(tup, desc, 3);
		r->calls = stmt_int8(tup, desc, 4, NULL);
		r->total_ms = stmt_float(tup, desc, 5);
		r->mean_ms = stmt_float(tup, desc, 6);
		r->max_ms = stmt_float(tup, desc, 7);
		r->rows = stmt_int8(tup, desc, 8, NULL);
		r->by_mean = stmt_int8(tup, desc, 9, NULL);
		r->by_total = stmt_int8(tup, desc, 10, NULL);

		if (i == 0)
		{
			s->entries = stmt_int8(tup, desc, 11, NULL);
			s->judged = stmt_int8(tup, desc, 12, NULL);
			s->over_warning = stmt_int8(tup, desc, 13, NULL);
			s->not_visible = stmt_int8(tup, desc, 14, NULL);
		}

		/* sorted by by_mean: the first judged row is the worst judged */
		if (r->calls >= pg_health_statements_min_calls
			&& r->by_mean == 1)
			s->worst_mean_ms = r->mean_ms;
	}
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
	int			n;

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

	health_json_array_open(w, "by_mean");
	for (i = 0, n = 0; i < s.nrows && n < PG_HEALTH_REPORT_ITEMS; i++)
	{
		if (s.rows[i].calls < pg_health_statements_min_calls
			|| s.rows[i].by_mean > PG_HEALTH_REPORT_ITEMS)
			continue;
		stmt_entry(w, &s.rows[i], &t);
		n++;
	}
	health_json_array_close(w);

	health_json_array_open(w, "by_total");
	for (n = 1; n <= PG_HEALTH_REPORT_ITEMS; n++)
	{
		for (i = 0; i < s.nrows; i++)
		{
			if (s.rows[i].by_total == n)
			{
				stmt_entry(w, &s.rows[i], &t);
				break;
			}
		}
	}
	health_json_array_close(w);
	health_json_object_close(w);

	if (chk.status == HEALTH_UNKNOWN && !s.weighs)
		return HEALTH_HEALTHY;

	return chk.status;
}
