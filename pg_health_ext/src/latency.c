/*-------------------------------------------------------------------------
 *
 * latency.c
 *		The statement_latency check: how long every top-level statement
 *		took, per database, over a sliding window, in shared memory.
 *
 * Only when pg_health is in shared_preload_libraries: the postmaster
 * reserves the segment (shmem_request_hook) and the executor and utility
 * hooks, chained after whatever was there, time each top-level statement.
 * "Top-level" is counted the way pg_stat_statements counts it: a nesting
 * level raised around ExecutorRun, ExecutorFinish and ProcessUtility, so
 * statements run by functions, DO blocks and procedures belong to the
 * statement that called them.  A planned statement is timed from
 * ExecutorRun to ExecutorFinish (queryDesc->totaltime, as pg_stat_statements
 * does), a utility statement around ProcessUtility; EXECUTE is left to the
 * executor hooks, which see the prepared statement run at the top level.
 * Statements that end in an error are not counted, nor parallel workers'
 * share of a statement.
 *
 * Each database (up to LAT_DBS, claimed on its first statement) has
 * LAT_SLOTS slots of LAT_SLOT_SECONDS each: a histogram of
 * ../shared/health_histogram.h buckets and the largest time.  A statement
 * adds one to its bucket with an atomic add, no lock; the first statement
 * of a new slot period clears the slot under the LWLock.  The window is
 * the slots of the last LAT_SLOTS periods, so between
 * (LAT_SLOTS - 1) * LAT_SLOT_SECONDS and LAT_SLOTS * LAT_SLOT_SECONDS
 * seconds.  Periods are counted on CLOCK_MONOTONIC(_COARSE), the same for
 * every process, so a step of the wall clock moves nothing.
 *
 * pg_health_ext/src/latency.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "access/parallel.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#include "health_histogram.h"
#include "pg_health.h"

#define LAT_DBS				64
#define LAT_SLOTS			10
#define LAT_SLOT_SECONDS	30

typedef struct LatSlot
{
	pg_atomic_uint64 period;	/* seconds / LAT_SLOT_SECONDS, 0: empty */
	pg_atomic_uint64 max_us;
	pg_atomic_uint32 hist[HEALTH_HIST_BUCKETS];
} LatSlot;

typedef struct LatDb
{
	pg_atomic_uint32 dboid;		/* InvalidOid: free */
	LatSlot		slots[LAT_SLOTS];
} LatDb;

typedef struct LatShared
{
	LWLock	   *lock;			/* claims a database, clears a slot */
	pg_atomic_uint64 overflow;	/* statements of databases without a slot */
	LatDb		dbs[LAT_DBS];
} LatShared;

static LatShared *lat = NULL;
static int	lat_db = -1;		/* this backend's database's slot */
static int	lat_nesting = 0;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

static uint64
lat_period(void)
{
	struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif

	/* + 1: period 0 marks an empty slot */
	return (uint64) ts.tv_sec / LAT_SLOT_SECONDS + 1;
}

void
health_latency_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LatShared)));
	RequestNamedLWLockTranche("pg_health", 1);
}

/* in the shared memory startup, under AddinShmemInitLock */
void
health_latency_shmem_startup(void)
{
	bool		found;
	int			i;
	int			j;
	int			k;

	lat = ShmemInitStruct("pg_health statement latency", sizeof(LatShared),
						  &found);
	if (!found)
	{
		lat->lock = &(GetNamedLWLockTranche("pg_health"))->lock;
		pg_atomic_init_u64(&lat->overflow, 0);

		for (i = 0; i < LAT_DBS; i++)
		{
			pg_atomic_init_u32(&lat->dbs[i].dboid, InvalidOid);
			for (j = 0; j < LAT_SLOTS; j++)
			{
				LatSlot    *s = &lat->dbs[i].slots[j];

				pg_atomic_init_u64(&s->period, 0);
				pg_atomic_init_u64(&s->max_us, 0);
				for (k = 0; k < HEALTH_HIST_BUCKETS; k++)
					pg_atomic_init_u32(&s->hist[k], 0);
			}
		}
	}
}

/* the slot of a database, or -1; claim says to take a free one */
static int
lat_find_db(Oid dboid, bool claim)
{
	int			i;

	for (i = 0; i < LAT_DBS; i++)
	{
		if (pg_atomic_read_u32(&lat->dbs[i].dboid) == dboid)
			return i;
	}

	if (!claim)
		return -1;

	LWLockAcquire(lat->lock, LW_EXCLUSIVE);

	for (i = 0; i < LAT_DBS; i++)
	{
		uint32		d = pg_atomic_read_u32(&lat->dbs[i].dboid);

		if (d == dboid)
			break;
		if (d == InvalidOid)
		{
			pg_atomic_write_u32(&lat->dbs[i].dboid, dboid);
			break;
		}
	}

	LWLockRelease(lat->lock);

	return i < LAT_DBS ? i : -1;
}

static void
lat_record(uint64 us)
{
	LatSlot    *s;
	uint64		period = lat_period();
	uint64		max;

	if (lat_db < 0)
	{
		lat_db = lat_find_db(MyDatabaseId, true);
		if (lat_db < 0)
		{
			pg_atomic_fetch_add_u64(&lat->overflow, 1);
			return;
		}
	}

	s = &lat->dbs[lat_db].slots[period % LAT_SLOTS];

	if (pg_atomic_read_u64(&s->period) != period)
	{
		LWLockAcquire(lat->lock, LW_EXCLUSIVE);

		if (pg_atomic_read_u64(&s->period) != period)
		{
			int			k;

			for (k = 0; k < HEALTH_HIST_BUCKETS; k++)
				pg_atomic_write_u32(&s->hist[k], 0);
			pg_atomic_write_u64(&s->max_us, 0);

			/* the slot is clear before anyone sees it current */
			pg_write_barrier();
			pg_atomic_write_u64(&s->period, period);
		}

		LWLockRelease(lat->lock);
	}

	pg_atomic_fetch_add_u32(&s->hist[health_hist_index(us)], 1);

	max = pg_atomic_read_u64(&s->max_us);
	while (us > max)
	{
		if (pg_atomic_compare_exchange_u64(&s->max_us, &max, us))
			break;
	}
}

static bool
lat_enabled(void)
{
	return lat != NULL && lat_nesting == 0 && !IsParallelWorker()
		&& OidIsValid(MyDatabaseId);
}

static void
lat_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	/* ExecutorRun and ExecutorFinish add their time to totaltime */
	if (lat_enabled() && queryDesc->totaltime == NULL)
	{
		MemoryContext old;

		old = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);
		queryDesc->totaltime = InstrAlloc(1, INSTRUMENT_TIMER, false);
		MemoryContextSwitchTo(old);
	}
}

static void
#if PG_VERSION_NUM >= 180000
lat_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count)
#else
lat_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				 bool execute_once)
#endif
{
	lat_nesting++;
	PG_TRY();
	{
#if PG_VERSION_NUM >= 180000
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count);
		else
			standard_ExecutorRun(queryDesc, direction, count);
#else
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
#endif
	}
	PG_FINALLY();
	{
		lat_nesting--;
	}
	PG_END_TRY();
}

static void
lat_executor_finish(QueryDesc *queryDesc)
{
	lat_nesting++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		lat_nesting--;
	}
	PG_END_TRY();
}

static void
lat_executor_end(QueryDesc *queryDesc)
{
	if (queryDesc->totaltime != NULL && lat_enabled())
	{
		InstrEndLoop(queryDesc->totaltime);
		lat_record((uint64) (queryDesc->totaltime->total * 1000000.0));
	}

	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
lat_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	instr_time	start;
	instr_time	end;
	bool		timed;

	/* EXECUTE: the executor hooks time the prepared statement */
	timed = lat_enabled() && !IsA(pstmt->utilityStmt, ExecuteStmt);

	if (!timed)
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv, dest, qc);
		return;
	}

	INSTR_TIME_SET_CURRENT(start);

	lat_nesting++;
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		lat_nesting--;
	}
	PG_END_TRY();

	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	lat_record(INSTR_TIME_GET_MICROSEC(end));
}

/* _PG_init, while shared_preload_libraries are loaded */
void
health_latency_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = lat_executor_start;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = lat_executor_run;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = lat_executor_finish;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = lat_executor_end;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = lat_process_utility;
}

/*
 * The share of the window's statements that took at most bound_us, in
 * percent.  Buckets below the bound count whole; the one holding the bound
 * (at most 1/16 of its lower end wide) counts in proportion to the part of
 * it at or below the bound.  Exact when no statement falls in that bucket.
 */
static double
lat_share_under(const uint32 *hist, uint64 total, uint64 bound_us)
{
	double		under = 0.0;
	int			k;

	for (k = 0; k < HEALTH_HIST_BUCKETS; k++)
	{
		uint64		lo = health_hist_lower(k);
		uint64		hi = health_hist_upper(k);	/* first value past it */

		if (hist[k] == 0)
			continue;
		if (hi - 1 <= bound_us)
			under += hist[k];
		else if (lo <= bound_us && k < HEALTH_HIST_BUCKETS - 1)
			under += hist[k] * (double) (bound_us - lo + 1) / (double) (hi - lo);
	}

	return under * 100.0 / (double) total;
}

/*
 * statement_latency for this database.  Returns the status the report
 * folds: an unknown because pg_health is not preloaded weighs nothing
 * (timing statements is the operator's choice).
 */
health_status_t
health_latency_report(health_json_t *w)
{
	health_check_t chk;
	uint32		hist[HEALTH_HIST_BUCKETS];
	uint64		total = 0;
	uint64		max_us = 0;
	uint64		period;
	double		objective = pg_health_statement_objective_pct;
	double		critical;
	int			db;
	int			i;
	int			k;

	memset(&chk, 0, sizeof(health_check_t));
	memset(hist, 0, sizeof(hist));

	/* ten times the error budget gone is unhealthy: 90% for 99% */
	critical = Max(0.0, rint((100.0 - 10.0 * (100.0 - objective)) * 100.0) / 100.0);
	chk.unit = "%";
	chk.threshold.warning = objective;
	chk.threshold.critical = critical;
	chk.threshold.direction = HEALTH_LOWER_IS_WORSE;
	chk.value = NAN;

	if (lat == NULL)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.reason = "pg_health is not in shared_preload_libraries: statements are not timed";
		health_json_check_open(w, "statement_latency", &chk);
		health_json_object_close(w);
		return HEALTH_HEALTHY;
	}

	db = lat_find_db(MyDatabaseId, false);
	period = lat_period();

	if (db >= 0)
	{
		for (i = 0; i < LAT_SLOTS; i++)
		{
			LatSlot    *s = &lat->dbs[db].slots[i];
			uint64		p = pg_atomic_read_u64(&s->period);

			if (p == 0 || p + LAT_SLOTS <= period)
				continue;

			pg_read_barrier();
			for (k = 0; k < HEALTH_HIST_BUCKETS; k++)
			{
				uint32		c = pg_atomic_read_u32(&s->hist[k]);

				hist[k] += c;
				total += c;
			}
			max_us = Max(max_us, pg_atomic_read_u64(&s->max_us));
		}
	}

	if (db < 0 && pg_atomic_read_u64(&lat->overflow) > 0)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.reason = psprintf("more than %d databases ran statements since the server started: this one is not timed",
							  LAT_DBS);
	}
	else if (total < (uint64) pg_health_statement_latency_min)
	{
		/* too few to judge: not noise (as the nginx rules' min_requests) */
		chk.status = HEALTH_HEALTHY;
		if (total > 0)
			chk.value = rint(lat_share_under(hist, total,
											 (uint64) pg_health_statement_objective_ms * 1000) * 100.0) / 100.0;
	}
	else
	{
		chk.value = rint(lat_share_under(hist, total,
										 (uint64) pg_health_statement_objective_ms * 1000) * 100.0) / 100.0;
		chk.status = chk.value < critical ? HEALTH_UNHEALTHY
			: chk.value < objective ? HEALTH_DEGRADED : HEALTH_HEALTHY;
	}

	health_json_check_open(w, "statement_latency", &chk);
	health_json_integer(w, "objective_ms", pg_health_statement_objective_ms);
	health_json_integer(w, "statements", (long long) total);
	health_json_integer(w, "min_statements", pg_health_statement_latency_min);
	health_json_bool(w, "judged",
					 total >= (uint64) pg_health_statement_latency_min);
	health_json_integer(w, "window_s", LAT_SLOTS * LAT_SLOT_SECONDS);
	if (total > 0)
	{
		double		q[3] = {0.50, 0.95, 0.99};
		double		out[3];

		health_hist_quantiles(hist, total, q, out, 3, max_us);
		health_json_number(w, "p50_ms", rint(out[0]) / 1000.0);
		health_json_number(w, "p95_ms", rint(out[1]) / 1000.0);
		health_json_number(w, "p99_ms", rint(out[2]) / 1000.0);
		health_json_number(w, "max_ms", (double) max_us / 1000.0);
	}
	else
	{
		health_json_null(w, "p50_ms");
		health_json_null(w, "p95_ms");
		health_json_null(w, "p99_ms");
		health_json_null(w, "max_ms");
	}
	health_json_object_close(w);

	return chk.status;
}
