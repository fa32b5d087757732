/*-------------------------------------------------------------------------
 *
 * locks.c
 *		Sessions waiting on heavyweight locks, and who blocks them.
 *
 * The lock manager is asked only when some backend's wait event says it
 * waits on a lock: GetLockStatusData() takes every lock partition's LWLock
 * and walks every PGPROC's fast-path slots, which a health probe polled
 * every few seconds should not do when nothing waits.  What it returns is
 * what pg_locks shows to any role, so this check needs no privilege.
 *
 * pg_health_ext/src/locks.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "pg_health.h"

static int
lock_wait_cmp(const void *x, const void *y)
{
	const HealthLockWait *a = x;
	const HealthLockWait *b = y;

	if (a->wait_ms != b->wait_ms)
		return a->wait_ms > b->wait_ms ? -1 : 1;

	return a->pid - b->pid;
}

/*
 * Every session waiting on a heavyweight lock, longest wait first, judged
 * against pg_health.lock_wait_*.  The wait starts when the backend began to
 * sleep on the lock (pg_locks.waitstart); in the instant before the lock
 * manager records that, the statement's start stands in for it.
 */
int
health_lock_waits_collect(const HealthActivity *a, HealthLockWait **waits)
{
	LockData   *ld;
	HealthLockWait *out;
	health_threshold_t t;
	int			n = 0;
	int			i;

	*waits = NULL;

	if (!a->lock_waiters)
		return 0;

	t = health_threshold(pg_health_lock_wait_warning,
						 pg_health_lock_wait_critical);

	ld = GetLockStatusData();
	out = palloc(sizeof(HealthLockWait) * Max(ld->nelements, 1));

	for (i = 0; i < ld->nelements; i++)
	{
		LockInstanceData *inst = &ld->locks[i];
		HealthLockWait *w;
		TimestampTz start;
		uint8		type = inst->locktag.locktag_type;

		if (inst->waitLockMode == NoLock)
			continue;

		w = &out[n++];
		w->pid = inst->pid;
		w->backend = health_activity_find(a, inst->pid);

		start = inst->waitStart;
		if (start == 0 && w->backend != NULL)
			start = w->backend->query_start;
		w->wait_ms = health_ms_between(start != 0 ? start : a->now, a->now);

		w->locktype = type <= LOCKTAG_LAST_TYPE ? LockTagTypeNames[type]
			: "unknown";
		w->mode = GetLockmodeName(inst->locktag.locktag_lockmethodid,
								  inst->waitLockMode);

		w->relid = InvalidOid;
		if (type == LOCKTAG_RELATION
			&& inst->locktag.locktag_field1 == MyDatabaseId)
			w->relid = inst->locktag.locktag_field2;

		w->status = health_threshold_eval(&t, w->wait_ms);
	}

	qsort(out, n, sizeof(HealthLockWait), lock_wait_cmp);

	*waits = out;
	return n;
}

/* pg_blocking_pids(pid), without duplicates; the count is returned */
int
health_blocking_pids(int pid, int **pids)
{
	ArrayType  *arr;
	Datum	   *elems;
	int			nelems;
	int			n = 0;
	int			i;
	int			j;

	arr = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
												 Int32GetDatum(pid)));
	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, NULL, &nelems);

	*pids = palloc(sizeof(int) * Max(nelems, 1));

	for (i = 0; i < nelems; i++)
	{
		int			p = DatumGetInt32(elems[i]);

		for (j = 0; j < n; j++)
		{
			if ((*pids)[j] == p)
				break;
		}

		if (j == n)
			(*pids)[n++] = p;
	}

	return n;
}
