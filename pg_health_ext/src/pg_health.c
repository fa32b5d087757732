/*-------------------------------------------------------------------------
 *
 * pg_health.c
 *		Module load: the pg_health.* settings, and small helpers the checks
 *		share.
 *
 * Every threshold is a setting of class SUSET: operators tune them in
 * postgresql.conf, ALTER SYSTEM, ALTER DATABASE/ROLE or SET, but only a
 * superuser (or a role granted SET on the parameter) may change them, so a
 * monitored application cannot talk its own verdict down.
 *
 * pg_health_ext/src/pg_health.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "pg_health.h"

PG_MODULE_MAGIC;

double		pg_health_connections_warning = 80.0;
double		pg_health_connections_critical = 95.0;
int			pg_health_statement_warning = 500;
int			pg_health_statement_critical = 2000;
int			pg_health_transaction_warning = 60 * 1000;
int			pg_health_transaction_critical = 5 * 60 * 1000;
int			pg_health_lock_wait_warning = 30 * 1000;
int			pg_health_lock_wait_critical = 2 * 60 * 1000;
int			pg_health_dead_tuples_min = 1000;
double		pg_health_dead_tuples_warning = 10.0;
double		pg_health_dead_tuples_critical = 25.0;
int			pg_health_vacuum_overdue = 24 * 60 * 60;
double		pg_health_wraparound_warning = 50.0;
double		pg_health_wraparound_critical = 75.0;
double		pg_health_multixact_warning = 50.0;
double		pg_health_multixact_critical = 75.0;
int			pg_health_xmin_horizon_warning = 60 * 1000;
int			pg_health_xmin_horizon_critical = 5 * 60 * 1000;
bool		pg_health_report_query_text = false;
char	   *pg_health_ignore_applications = NULL;
double		pg_health_disk_warning = 80.0;
double		pg_health_disk_critical = 90.0;
int			pg_health_archive_age_warning = 10 * 60;
int			pg_health_archive_age_critical = 30 * 60;
int			pg_health_archive_ready_warning = 10;
int			pg_health_archive_ready_critical = 15;
int			pg_health_statements_min_calls = 100;
int			pg_health_statements_cache = 30;
int			pg_health_tables_cache = 30;
int			pg_health_statement_objective_ms = 100;
double		pg_health_statement_objective_pct = 99.0;
int			pg_health_statement_latency_min = 20;
int			pg_health_replication_lag_warning = 30 * 1000;
int			pg_health_replication_lag_critical = 5 * 60 * 1000;
int			pg_health_replication_lag_bytes_warning = -1;
int			pg_health_replication_lag_bytes_critical = -1;
char	   *pg_health_expected_standbys = NULL;
double		pg_health_slot_wal_warning = 80.0;
double		pg_health_slot_wal_critical = 90.0;

void		_PG_init(void);

static void
define_percent(const char *name, const char *desc, double *var, double dflt)
{
	DefineCustomRealVariable(name, desc, NULL, var, dflt, 0.0, 100.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

static void
define_ms(const char *name, const char *desc, int *var, int dflt)
{
	DefineCustomIntVariable(name, desc, NULL, var, dflt, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

static void
define_int(const char *name, const char *desc, const char *long_desc,
		   int *var, int dflt, int min, int unit)
{
	DefineCustomIntVariable(name, desc, long_desc, var, dflt, min, INT_MAX,
							PGC_SUSET, unit, NULL, NULL, NULL);
}

static bool
check_application_list(char **newval, void **extra, GucSource source)
{
	char	   *list = pstrdup(*newval);
	List	   *names;
	bool		ok = SplitIdentifierString(list, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	else
		list_free(names);
	pfree(list);

	return ok;
}

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* the shared memory of latency.c, dbsize.c and archiver.c, requested */
static void
health_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();

	health_latency_shmem_request();
	health_dbsize_shmem_request();
	health_archwatch_shmem_request();
}

/* ... and attached (made when the postmaster starts) */
static void
health_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	health_latency_shmem_startup();
	health_dbsize_shmem_startup();
	health_archwatch_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	define_percent("pg_health.connections_warning",
				   "Connection slots in use, in percent of the usable ones, that make the connections check degraded.",
				   &pg_health_connections_warning, 80.0);
	define_percent("pg_health.connections_critical",
				   "Connection slots in use, in percent of the usable ones, that make the connections check unhealthy.",
				   &pg_health_connections_critical, 95.0);

	define_ms("pg_health.statement_warning",
			  "Statement or idle-in-transaction time that makes a session a degraded slow query.",
			  &pg_health_statement_warning, 500);
	define_ms("pg_health.statement_critical",
			  "Statement or idle-in-transaction time that makes a session an unhealthy slow query.",
			  &pg_health_statement_critical, 2000);

	define_ms("pg_health.transaction_warning",
			  "Transaction age that makes the long transactions check degraded.",
			  &pg_health_transaction_warning, 60 * 1000);
	define_ms("pg_health.transaction_critical",
			  "Transaction age that makes the long transactions check unhealthy.",
			  &pg_health_transaction_critical, 5 * 60 * 1000);

	define_ms("pg_health.lock_wait_warning",
			  "Time waiting on a lock that makes the lock waits check degraded.",
			  &pg_health_lock_wait_warning, 30 * 1000);
	define_ms("pg_health.lock_wait_critical",
			  "Time waiting on a lock that makes the lock waits check unhealthy.",
			  &pg_health_lock_wait_critical, 2 * 60 * 1000);

	define_int("pg_health.dead_tuples_min",
			   "Dead tuples a table needs before the dead tuples check judges it.",
			   NULL, &pg_health_dead_tuples_min, 1000, 0, 0);
	define_percent("pg_health.dead_tuples_warning",
				   "Dead tuples, in percent of a table's tuples, that make the table degraded.",
				   &pg_health_dead_tuples_warning, 10.0);
	define_percent("pg_health.dead_tuples_critical",
				   "Dead tuples, in percent of a table's tuples, that make the table unhealthy.",
				   &pg_health_dead_tuples_critical, 25.0);

	define_int("pg_health.vacuum_overdue",
			   "Time since the last vacuum after which a table past autovacuum's trigger counts as overdue.",
			   NULL, &pg_health_vacuum_overdue, 24 * 60 * 60, 1, GUC_UNIT_S);

	/*
	 * The per-table figures cost one pass over every relation's statistics
	 * entry (memory latency, tens of milliseconds at 50,000 tables), and
	 * autovacuum looks at a database at most once per autovacuum_naptime
	 * (1 min by default): judging its trigger more often than that tells
	 * nothing new.  A poller on a persistent connection may reuse them for
	 * a while, the report saying their age (age_s).
	 */
	DefineCustomIntVariable("pg_health.tables_cache",
							"Seconds the dead tuples and vacuum checks may reuse this session's last read of the table statistics (0: read them on every call).",
							NULL, &pg_health_tables_cache, 30, 0, 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	define_percent("pg_health.wraparound_warning",
				   "Age of the cluster's oldest datfrozenxid, in percent of the way to transaction ID wraparound, that is degraded.",
				   &pg_health_wraparound_warning, 50.0);
	define_percent("pg_health.wraparound_critical",
				   "Age of the cluster's oldest datfrozenxid, in percent of the way to transaction ID wraparound, that is unhealthy.",
				   &pg_health_wraparound_critical, 75.0);
	define_percent("pg_health.multixact_wraparound_warning",
				   "Age of the cluster's oldest datminmxid, in percent of the way to multixact ID wraparound, that is degraded.",
				   &pg_health_multixact_warning, 50.0);
	define_percent("pg_health.multixact_wraparound_critical",
				   "Age of the cluster's oldest datminmxid, in percent of the way to multixact ID wraparound, that is unhealthy.",
				   &pg_health_multixact_critical, 75.0);

	define_ms("pg_health.xmin_horizon_warning",
			  "Time a session or prepared transaction has held back the xmin horizon that makes the xmin horizon check degraded.",
			  &pg_health_xmin_horizon_warning, 60 * 1000);
	define_ms("pg_health.xmin_horizon_critical",
			  "Time a session or prepared transaction has held back the xmin horizon that makes the xmin horizon check unhealthy.",
			  &pg_health_xmin_horizon_critical, 5 * 60 * 1000);

	DefineCustomBoolVariable("pg_health.report_query_text",
							 "Shows the query text of listed sessions in health_report().",
							 "Off: sessions are identified by query_id; their text stays in pg_stat_activity.",
							 &pg_health_report_query_text, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("pg_health.ignore_applications",
							   "Application names whose sessions are not judged as slow queries or long transactions.",
							   "A comma-separated list, matched exactly against application_name.",
							   &pg_health_ignore_applications,
							   "pg_dump,pg_dumpall,pg_basebackup,pg_restore",
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_application_list, NULL, NULL);

	/* disk and archiver checks (disk.c, archiver.c) */
	define_percent("pg_health.disk_warning",
				   "Use of a file system holding the data directory, pg_wal or a tablespace, in percent as df computes it, that makes the disk check degraded.",
				   &pg_health_disk_warning, 80.0);
	define_percent("pg_health.disk_critical",
				   "Use of a file system holding the data directory, pg_wal or a tablespace, in percent as df computes it, that makes the disk check unhealthy.",
				   &pg_health_disk_critical, 90.0);
	/*
	 * The worker (dbsize.c) rereads it on SIGHUP; 0 stops it measuring.
	 * pg_database_size stats every file of a database: with many tables
	 * a round costs seconds of system calls, never on the report's path.
	 */
	DefineCustomIntVariable("pg_health.database_sizes_interval",
							"Time between two rounds of the background worker that measures each database's size for the disk check (0: none).",
							"Needs pg_health in shared_preload_libraries.",
							&pg_health_database_sizes_interval, 5 * 60,
							0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	define_int("pg_health.archive_age_warning",
			   "Time the oldest WAL file waiting to be archived has waited that makes the archiver check degraded.",
			   NULL, &pg_health_archive_age_warning, 10 * 60, 0, GUC_UNIT_S);
	define_int("pg_health.archive_age_critical",
			   "Time the oldest WAL file waiting to be archived has waited that makes the archiver check unhealthy.",
			   NULL, &pg_health_archive_age_critical, 30 * 60, 0, GUC_UNIT_S);
	define_int("pg_health.archive_ready_warning",
			   "WAL files waiting to be archived (.ready) that make the archiver check degraded.",
			   NULL, &pg_health_archive_ready_warning, 10, 0, 0);
	define_int("pg_health.archive_ready_critical",
			   "WAL files waiting to be archived (.ready) that make the archiver check unhealthy.",
			   NULL, &pg_health_archive_ready_critical, 15, 0, 0);
	/*
	 * PgHero's slow_query_calls: a mean over fewer calls says little about
	 * the application's statements, and pg_stat_statements never forgets
	 * a one-off (a migration, a report run by hand) until it is reset.
	 */
	define_int("pg_health.statements_min_calls",
			   "Calls a pg_stat_statements entry needs before the statements check judges its mean time.",
			   NULL, &pg_health_statements_min_calls, 100, 1, 0);

	/*
	 * Reading pg_stat_statements costs as much as the rest of the report
	 * together at its default 5000 entries; its figures are cumulative
	 * since the last reset, so a poller on a persistent connection may
	 * reuse them for a while, the report saying their age (age_s).
	 */
	DefineCustomIntVariable("pg_health.statements_cache",
							"Seconds the statements check may reuse this session's last read of pg_stat_statements (0: read it on every call).",
							NULL, &pg_health_statements_cache, 30, 0, 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	/* the guides' objective: 99% of database queries within 100 ms */
	define_int("pg_health.statement_objective_ms",
			   "Time within which a statement counts as fast for the statement latency check.",
			   NULL, &pg_health_statement_objective_ms, 100, 1, GUC_UNIT_MS);
	define_percent("pg_health.statement_objective_pct",
				   "Share of statements, in percent, that must be within pg_health.statement_objective_ms; below it the statement latency check is degraded.",
				   &pg_health_statement_objective_pct, 99.0);
	define_int("pg_health.statement_latency_min",
			   "Statements the statement latency window needs before the check judges it.",
			   NULL, &pg_health_statement_latency_min, 20, 1, 0);
	/* replication (replication.c) */
	define_ms("pg_health.replication_lag_warning",
			  "Replay lag of a standby that makes the replication check degraded.",
			  &pg_health_replication_lag_warning, 30 * 1000);
	define_ms("pg_health.replication_lag_critical",
			  "Replay lag of a standby that makes the replication check unhealthy.",
			  &pg_health_replication_lag_critical, 5 * 60 * 1000);
	define_int("pg_health.replication_lag_bytes_warning",
			   "WAL not yet replayed by a standby that makes the replication check degraded.",
			   "-1 turns this threshold off.",
			   &pg_health_replication_lag_bytes_warning, -1, -1, GUC_UNIT_KB);
	define_int("pg_health.replication_lag_bytes_critical",
			   "WAL not yet replayed by a standby that makes the replication check unhealthy.",
			   "-1 turns this threshold off.",
			   &pg_health_replication_lag_bytes_critical, -1, -1, GUC_UNIT_KB);
	DefineCustomStringVariable("pg_health.expected_standbys",
							   "Application names of the standbys that should be connected to this primary.",
							   "A comma-separated list, compared with pg_stat_replication.application_name without regard to case.",
							   &pg_health_expected_standbys, "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_application_list, NULL, NULL);
	define_percent("pg_health.slot_wal_warning",
				   "WAL a replication slot retains, in percent of max_slot_wal_keep_size (or of the room for WAL on the pg_wal file system), that is degraded.",
				   &pg_health_slot_wal_warning, 80.0);
	define_percent("pg_health.slot_wal_critical",
				   "WAL a replication slot retains, in percent of max_slot_wal_keep_size (or of the room for WAL on the pg_wal file system), that is unhealthy.",
				   &pg_health_slot_wal_critical, 90.0);

	MarkGUCPrefixReserved("pg_health");

	/*
	 * statement timing, database sizes and the archiver's failures need
	 * shared memory (and the latter two a background worker): only when
	 * preloaded
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request = shmem_request_hook;
		shmem_request_hook = health_shmem_request;
		prev_shmem_startup = shmem_startup_hook;
		shmem_startup_hook = health_shmem_startup;
		health_latency_init();
		health_dbsize_init();
	}
}

health_threshold_t
health_threshold(double warning, double critical)
{
	health_threshold_t t;

	t.warning = warning;
	t.critical = critical;
	t.direction = HEALTH_HIGHER_IS_WORSE;

	return t;
}

/*
 * The set-returning functions refuse to judge against a warning beyond its
 * critical (health_report() says unknown instead).  name is the part of the
 * two setting names between "pg_health." and "_warning".
 */
void
health_check_threshold(const char *name, const health_threshold_t *t)
{
	char		err[128];

	if (health_threshold_validate(t, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_health.%s_warning and pg_health.%s_critical do not fit together: %s",
						name, name, err),
				 errhint("Set pg_health.%s_warning at or below pg_health.%s_critical.",
						 name, name)));
}

double
health_ms_between(TimestampTz start, TimestampTz stop)
{
	if (start == 0 || stop < start)
		return 0.0;

	return (double) (stop - start) / 1000.0;
}

/* ISO 8601 in UTC with milliseconds, as the nginx side writes its own */
const char *
health_format_timestamp(TimestampTz ts, char *buf, size_t len)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (ts == 0 || TIMESTAMP_NOT_FINITE(ts)
		|| timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return NULL;

	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));

	return buf;
}

/*
 * A name read from the file system (a path, a file name, strerror) as text
 * of this database: its bytes follow no encoding, and one bad byte must
 * not make jsonb_in fail the whole report.  Whole valid characters are
 * kept, any other byte becomes '?' (in SQL_ASCII every high-bit byte).
 */
char *
health_file_text(const char *s)
{
	int			enc = GetDatabaseEncoding();
	int			len = strlen(s);
	StringInfoData out;

	initStringInfo(&out);

	while (len > 0)
	{
		int			l = 1;

		if (!IS_HIGHBIT_SET(*s))
			appendStringInfoChar(&out, *s);
		else if (enc != PG_SQL_ASCII
				 && (l = pg_encoding_verifymbchar(enc, s, len)) > 0)
			appendBinaryStringInfo(&out, s, l);
		else
		{
			appendStringInfoChar(&out, '?');
			l = 1;
		}

		s += l;
		len -= l;
	}

	return out.data;
}
