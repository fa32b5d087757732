/*-------------------------------------------------------------------------
 *
 * dbsize.c
 *		Database sizes for the disk check, measured off the report path by
 *		a background worker.
 *
 * pg_database_size() stats every file of a database (each segment of each
 * relation, in the default tablespace and every other): with tens of
 * thousands of tables that is seconds of system calls, too slow for a
 * report polled every few seconds.  So health_report() never measures:
 * when pg_health is in shared_preload_libraries a background worker
 * ("pg_health worker") wakes every
 * pg_health.database_sizes_interval, lists pg_database and measures each
 * database with PostgreSQL's own pg_database_size(oid), and leaves the
 * round in shared memory; the report copies it out under the LWLock and
 * says how old it is and how long the round took (its cost).
 *
 * The worker connects to no database (shared catalogs only) as the
 * bootstrap superuser, so it holds nothing a DROP DATABASE waits for; each
 * database is measured in a transaction of its own, so its snapshot, if
 * any, is not held for the whole round (the xmin horizon check would see
 * it).  A database dropped while it is measured has no directory left
 * (pg_database_size returns NULL) and is left out; any other error is
 * logged and counted, and the round goes on.  Databases being dropped
 * (datconnlimit DATCONNLIMIT_INVALID_DB) are skipped; templates are
 * measured, as they take disk space like any other.
 *
 * The segment keeps the DBSIZE_MAX largest databases of the last round;
 * the others count in the round's totals only.
 *
 * The same worker ("pg_health worker") samples pg_stat_archiver every
 * ARCHWATCH_SAMPLE_MS while this server runs an archiver (archive_mode
 * always, or on outside recovery), and between the databases of a round,
 * for the archiver check's failures since the last success (archiver.c).
 *
 * pg_health_ext/src/dbsize.c
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
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "pg_health.h"

#define DBSIZE_MAX		256

#ifndef DATCONNLIMIT_INVALID_DB
#define DATCONNLIMIT_INVALID_DB		-2
#endif

typedef struct DbSizeEntry
{
	Oid			dboid;
	NameData	name;
	int64		bytes;
} DbSizeEntry;

typedef struct DbSizeShared
{
	LWLock	   *lock;
	int			interval_s;		/* the worker's, as it last read its
								 * settings; -1: not started */
	TimestampTz ended;			/* 0: no round finished yet */
	double		took_ms;
	int			nmeasured;		/* databases measured in the round */
	int			nfailed;		/* could not be measured (logged) */
	int			nstored;		/* the largest, in entries[], largest first */
	int64		total_bytes;	/* of all measured */
	int64		unstored_bytes; /* of those not in entries[] */
	DbSizeEntry entries[DBSIZE_MAX];
} DbSizeShared;

int			pg_health_database_sizes_interval = 5 * 60;

static DbSizeShared *dbsize = NULL;

PGDLLEXPORT void health_dbsize_main(Datum main_arg);

void
health_dbsize_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(DbSizeShared)));
	RequestNamedLWLockTranche("pg_health database sizes", 1);
}

/* in the shared memory startup, under AddinShmemInitLock */
void
health_dbsize_shmem_startup(void)
{
	bool		found;

	dbsize = ShmemInitStruct("pg_health database sizes",
							 sizeof(DbSizeShared), &found);
	if (!found)
	{
		memset(dbsize, 0, sizeof(DbSizeShared));
		dbsize->interval_s = -1;
		dbsize->lock =
			&(GetNamedLWLockTranche("pg_health database sizes"))->lock;
	}
}

/* _PG_init, while shared_preload_libraries are loaded */
void
health_dbsize_init(void)
{
	BackgroundWorker worker;

	/* a standby's databases fill its disk too: run once consistent */
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS
		| BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 60;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_health");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "health_dbsize_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_health worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_health worker");
	RegisterBackgroundWorker(&worker);
}

static int
dbsize_entry_cmp(const void *x, const void *y)
{
	const DbSizeEntry *a = x;
	const DbSizeEntry *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;

	return strcmp(NameStr(a->name), NameStr(b->name));
}

/* the databases of pg_database, but those being dropped */
static DbSizeEntry *
dbsize_list(int *n)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	DbSizeEntry *list;
	int			cap = 16;

	*n = 0;
	list = palloc(sizeof(DbSizeEntry) * cap);

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
		if (*n == cap)
		{
			cap *= 2;
			list = repalloc(list, sizeof(DbSizeEntry) * cap);
		}
		list[*n].dboid = db->oid;
		list[*n].name = db->datname;
		list[*n].bytes = -1;
		(*n)++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	PopActiveSnapshot();
	CommitTransactionCommand();

	return list;
}

/*
 * pg_database_size(oid) of one database, in a transaction of its own: -1
 * when it has gone (no directory left), -2 on an error, which is logged.
 */
static int64
dbsize_measure(const DbSizeEntry *e, MemoryContext cxt)
{
	volatile int64 bytes = -1;

	StartTransactionCommand();

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		Datum		d;

		InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = ObjectIdGetDatum(e->dboid);
		fcinfo->args[0].isnull = false;
		d = pg_database_size_oid(fcinfo);
		if (!fcinfo->isnull)
			bytes = DatumGetInt64(d);

		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		ereport(LOG,
				(errmsg("pg_health could not measure the size of database \"%s\": %s",
						NameStr(e->name), edata->message)));
		FreeErrorData(edata);
		bytes = -2;
	}
	PG_END_TRY();

	return bytes;
}

static void
dbsize_round(MemoryContext cxt)
{
	DbSizeEntry *list;
	instr_time	start;
	instr_time	took;
	int64		total = 0;
	int64		unstored = 0;
	int			n;
	int			kept = 0;
	int			failed = 0;
	int			i;

	INSTR_TIME_SET_CURRENT(start);

	list = dbsize_list(&n);
	for (i = 0; i < n; i++)
	{
		int64		bytes;

		CHECK_FOR_INTERRUPTS();

		bytes = dbsize_measure(&list[i], cxt);
		MemoryContextSwitchTo(cxt);
		health_archwatch_sample();
		if (bytes == -2)
			failed++;
		if (bytes < 0)
			continue;

		list[kept] = list[i];
		list[kept].bytes = bytes;
		total += bytes;
		kept++;
	}

	qsort(list, kept, sizeof(DbSizeEntry), dbsize_entry_cmp);
	for (i = DBSIZE_MAX; i < kept; i++)
		unstored += list[i].bytes;

	INSTR_TIME_SET_CURRENT(took);
	INSTR_TIME_SUBTRACT(took, start);

	LWLockAcquire(dbsize->lock, LW_EXCLUSIVE);
	dbsize->ended = GetCurrentTimestamp();
	dbsize->took_ms = INSTR_TIME_GET_MILLISEC(took);
	dbsize->nmeasured = kept;
	dbsize->nfailed = failed;
	dbsize->nstored = Min(kept, DBSIZE_MAX);
	dbsize->total_bytes = total;
	dbsize->unstored_bytes = unstored;
	memcpy(dbsize->entries, list, sizeof(DbSizeEntry) * dbsize->nstored);
	LWLockRelease(dbsize->lock);

	MemoryContextReset(cxt);
}

/*
 * The worker: a round every pg_health.database_sizes_interval after the
 * end of the last one, none while it is 0.  SIGHUP rereads the settings
 * between rounds (a shorter interval takes effect at once), and the
 * interval the next round is decided with is published for the report;
 * SIGTERM ends it, even in the middle of a round (pg_database_size checks
 * for interrupts).
 */
void
health_dbsize_main(Datum main_arg)
{
	MemoryContext cxt;
	TimestampTz last = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_health database sizes",
								ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int64		interval_ms;
		long		wait_ms = -1;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (dbsize->interval_s != pg_health_database_sizes_interval)
		{
			LWLockAcquire(dbsize->lock, LW_EXCLUSIVE);
			dbsize->interval_s = pg_health_database_sizes_interval;
			LWLockRelease(dbsize->lock);
		}

		interval_ms = (int64) pg_health_database_sizes_interval * 1000;
		if (interval_ms > 0)
		{
			TimestampTz now = GetCurrentTimestamp();

			if (last == 0 || now >= last + interval_ms * 1000)
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				dbsize_round(cxt);
				MemoryContextSwitchTo(old);
				last = GetCurrentTimestamp();
				now = last;
			}
			wait_ms = (long) Min((last + interval_ms * 1000 - now) / 1000 + 1,
								 (int64) INT_MAX);
		}

		/*
		 * The archiver's statistics, sampled while an archiver runs; with
		 * archive_mode = on in recovery, the wakeups watch for a promotion
		 */
		health_archwatch_sample();
		if (XLogArchiveMode != ARCHIVE_MODE_OFF
			&& (wait_ms < 0 || wait_ms > ARCHWATCH_SAMPLE_MS))
			wait_ms = ARCHWATCH_SAMPLE_MS;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH
						 | (wait_ms >= 0 ? WL_TIMEOUT : 0),
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* the caller may see this database's size, as pg_database_size says */
static bool
dbsize_visible(Oid dboid, bool all)
{
	if (all)
		return true;
	if (!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboid)))
		return false;

#if PG_VERSION_NUM >= 160000
	return object_aclcheck(DatabaseRelationId, dboid, GetUserId(),
						   ACL_CONNECT) == ACLCHECK_OK;
#else
	return pg_database_aclcheck(dboid, GetUserId(), ACL_CONNECT) == ACLCHECK_OK;
#endif
}

/*
 * The interval the worker runs with, as it last read its settings (it
 * rereads them between rounds only): null without a worker or before it
 * started.
 */
static void
dbsize_interval_json(health_json_t *w, const DbSizeShared *copy)
{
	if (copy->interval_s < 0)
		health_json_null(w, "database_sizes_interval_s");
	else
		health_json_integer(w, "database_sizes_interval_s", copy->interval_s);
}

/*
 * The disk check's database sizes, from the worker's last round: no file
 * is read here.  Without one (not preloaded, the interval 0, no round yet)
 * the sizes are null with the reason, and the check's status is not
 * touched.  A role sees the sizes pg_database_size would show it: those
 * of databases it may connect to, all with pg_read_all_stats.
 */
void
health_dbsize_report(health_json_t *w)
{
	DbSizeShared *copy;
	const char *reason = NULL;
	bool		all;
	int64		total = 0;
	int			listed = 0;
	int			hidden = 0;
	int			i;

	copy = palloc(sizeof(DbSizeShared));
	copy->interval_s = -1;
	if (dbsize != NULL)
	{
		LWLockAcquire(dbsize->lock, LW_SHARED);
		memcpy(copy, dbsize, offsetof(DbSizeShared, entries)
			   + sizeof(DbSizeEntry) * dbsize->nstored);
		LWLockRelease(dbsize->lock);
	}

	if (dbsize == NULL)
		reason = "pg_health is not in shared_preload_libraries: database sizes are not measured";
	else if (pg_health_database_sizes_interval == 0)
		reason = "pg_health.database_sizes_interval is 0: database sizes are not measured";
	else if (copy->ended == 0)
		reason = "the first round of the database sizes worker has not finished";

	if (reason != NULL)
	{
		health_json_null(w, "databases");
		health_json_null(w, "databases_count");
		health_json_null(w, "databases_total_bytes");
		health_json_null(w, "database_sizes_age_s");
		health_json_null(w, "database_sizes_took_ms");
		dbsize_interval_json(w, copy);
		health_json_string(w, "database_sizes_reason", reason);
		return;
	}

	all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	health_json_array_open(w, "databases");
	for (i = 0; i < copy->nstored; i++)
	{
		DbSizeEntry *e = &copy->entries[i];

		if (!dbsize_visible(e->dboid, all))
		{
			hidden++;
			continue;
		}
		total += e->bytes;
		if (listed++ >= PG_HEALTH_REPORT_ITEMS)
			continue;

		/* written in the encoding of the database that created it */
		health_json_object_open(w, NULL);
		health_json_string(w, "name", health_file_text(NameStr(e->name)));
		health_json_integer(w, "size_bytes", (long long) e->bytes);
		health_json_object_close(w);
	}
	health_json_array_close(w);

	/* past the segment's bound: in the totals for those who see all */
	if (all)
	{
		listed += copy->nmeasured - copy->nstored;
		total += copy->unstored_bytes;
	}
	else
		hidden += copy->nmeasured - copy->nstored;

	health_json_integer(w, "databases_count", listed);
	health_json_integer(w, "databases_total_bytes", (long long) total);
	health_json_integer(w, "databases_not_visible", hidden);
	health_json_integer(w, "databases_failed", copy->nfailed);
	health_json_number(w, "database_sizes_age_s",
					   rint((double) Max(GetCurrentTimestamp() - copy->ended, 0)
							/ 1000.0) / 1000.0);
	health_json_number(w, "database_sizes_took_ms",
					   rint(copy->took_ms * 1000.0) / 1000.0);
	dbsize_interval_json(w, copy);
	health_json_null(w, "database_sizes_reason");
}
