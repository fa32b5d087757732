/*-------------------------------------------------------------------------
 *
 * horizon.c
 *		What holds back the xmin horizon: sessions, prepared transactions
 *		and replication slots.
 *
 * Vacuum may remove no row version a transaction still running (or a
 * snapshot still held) might see.  The oldest such xmin, whoever holds it,
 * decides how much dead data stays: a session with a snapshot open for an
 * hour keeps an hour of updates of every table.  This collects each
 * holder with the xmin it holds, how many transaction IDs ago that was,
 * and, where the server knows it, since when.
 *
 * Sessions are read from the status snapshot (backend_xid/backend_xmin of
 * pg_stat_activity, shown to every role); a VACUUM's own xmin is left out,
 * as other vacuums ignore it.  Prepared transactions come from
 * pg_prepared_xacts, slots from shared memory as pg_replication_slots reads
 * them; every role may read both views.
 *
 * pg_health_ext/src/horizon.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/transam.h"
#include "access/twophase.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pg_health.h"

static int
holder_rank(health_status_t s)
{
	switch (s)
	{
		case HEALTH_UNHEALTHY:
			return 2;
		case HEALTH_HEALTHY:
			return 0;
		default:
			return 1;
	}
}

static int
holder_cmp(const void *x, const void *y)
{
	const HealthHolder *a = x;
	const HealthHolder *b = y;

	if (a->status != b->status)
		return holder_rank(a->status) > holder_rank(b->status)
			? -1 : 1;
	if (a->xid_age != b->xid_age)
		return a->xid_age > b->xid_age ? -1 : 1;

	return a->age_ms > b->age_ms ? -1 : (a->age_ms < b->age_ms ? 1 : 0);
}

static HealthHolder *
holder_add(HealthHorizon *h, int kind, TransactionId xmin,
		   TransactionId next_xid)
{
	HealthHolder *r;

	if (h->nholders == h->cap)
	{
		h->cap = Max(h->cap * 2, 16);
		h->holders = h->holders == NULL
			? palloc(sizeof(HealthHolder) * h->cap)
			: repalloc(h->holders, sizeof(HealthHolder) * h->cap);
	}

	r = &h->holders[h->nholders++];
	memset(r, 0, sizeof(HealthHolder));
	r->kind = kind;
	r->xmin = xmin;
	r->xid_age = Max((int32) (next_xid - xmin), 0);
	r->age_ms = -1.0;

	return r;
}

/* a column as text in the caller's context; NULL stays NULL */
static const char *
spi_text(HealthHorizon *h, HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v == NULL ? NULL : MemoryContextStrdup(h->cxt, v);
}

static TransactionId
parse_xid(const char *s)
{
	return s == NULL ? InvalidTransactionId
		: (TransactionId) strtoul(s, NULL, 10);
}

static void
horizon_backends(const HealthActivity *a, HealthHorizon *h,
				 const health_threshold_t *t, TransactionId next_xid)
{
	int			i;

	for (i = 0; i < a->nbackends; i++)
	{
		const HealthBackend *b = &a->backends[i];
		TransactionId xmin = b->xmin;
		HealthHolder *r;

		if (TransactionIdIsNormal(b->xid)
			&& (!TransactionIdIsNormal(xmin)
				|| TransactionIdPrecedes(b->xid, xmin)))
			xmin = b->xid;

		if (!TransactionIdIsNormal(xmin) || b->pid == MyProcPid
			|| b->in_vacuum)
			continue;
		if (b->backend_type != B_BACKEND && b->backend_type != B_WAL_SENDER)
			continue;

		r = holder_add(h, HEALTH_HOLDER_SESSION, xmin, next_xid);
		r->backend = b;

		if (b->backend_type == B_WAL_SENDER)
		{
			/* a standby's hot_standby_feedback: named, judged on it */
			r->status = HEALTH_HEALTHY;
			continue;
		}

		if (!b->visible)
		{
			r->status = HEALTH_UNKNOWN;
			r->reason = "the session's role is not visible to the caller";
			continue;
		}

		if (b->xact_start != 0)
		{
			r->age_ms = health_ms_between(b->xact_start, a->now);
			r->status = health_threshold_eval(t, r->age_ms);
			continue;
		}

		/*
		 * track_activities is off for it: the transaction's start is not
		 * reported.  The session's own start bounds it from above.
		 */
		if (health_ms_between(b->proc_start, a->now) <= t->warning)
			r->status = HEALTH_HEALTHY;
		else
		{
			r->status = HEALTH_UNKNOWN;
			r->reason = "track_activities is off for the session: since when it holds the horizon is not known";
		}
	}
}

/*
 * Prepared transactions, from pg_prepared_xacts: only asked when the
 * server allows any (max_prepared_transactions is 0 by default).
 */
static void
horizon_prepared(HealthHorizon *h, const health_threshold_t *t,
				 TransactionId next_xid, TimestampTz now)
{
	uint64		i;

	if (max_prepared_xacts <= 0)
		return;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (SPI_execute("SELECT p.gid, p.transaction::pg_catalog.text, p.prepared,"
					" p.owner::pg_catalog.text, p.database::pg_catalog.text"
					" FROM pg_catalog.pg_prepared_xacts p", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_prepared_xacts");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HealthHolder *r;
		bool		isnull;
		Datum		d;
		TransactionId xid = parse_xid(SPI_getvalue(tup, desc, 2));

		if (!TransactionIdIsNormal(xid))
			continue;

		r = holder_add(h, HEALTH_HOLDER_PREPARED, xid, next_xid);
		r->name = spi_text(h, tup, desc, 1);
		r->owner = spi_text(h, tup, desc, 4);
		r->datname = spi_text(h, tup, desc, 5);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
			r->age_ms = health_ms_between(DatumGetTimestampTz(d), now);
		r->status = r->age_ms >= 0 ? health_threshold_eval(t, r->age_ms)
			: HEALTH_UNKNOWN;
	}

	SPI_finish();
}

/*
 * Replication slots, read from shared memory as pg_replication_slots does:
 * the control lock keeps the set, each slot's spinlock its data.
 */
static void
horizon_slots(HealthHorizon *h, TransactionId next_xid)
{
	int			i;

	if (max_replication_slots <= 0 || ReplicationSlotCtl == NULL)
		return;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);

	for (i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
		ReplicationSlotPersistentData data;
		pid_t		active_pid;
		TransactionId xmin;
		bool		catalog = false;
		HealthHolder *r;

		if (!slot->in_use)
			continue;

		SpinLockAcquire(&slot->mutex);
		data = slot->data;
		active_pid = slot->active_pid;
		SpinLockRelease(&slot->mutex);

		xmin = data.xmin;
		if (!TransactionIdIsNormal(xmin)
			|| (TransactionIdIsNormal(data.catalog_xmin)
				&& TransactionIdPrecedes(data.catalog_xmin, xmin)))
		{
			xmin = data.catalog_xmin;
			catalog = true;
		}
		if (!TransactionIdIsNormal(xmin))
			continue;

		r = holder_add(h, HEALTH_HOLDER_SLOT, xmin, next_xid);
		r->name = pstrdup(NameStr(data.name));
		r->slot_type = OidIsValid(data.database) ? "logical" : "physical";
		r->catalog = catalog;
		r->active = active_pid != 0;

		/*
		 * Nobody consumes an inactive slot: what it holds only grows
		 * older.  An active one moves with its consumer.
		 */
		if (r->active)
			r->status = HEALTH_HEALTHY;
		else
		{
			r->status = HEALTH_DEGRADED;
			r->reason = "an inactive replication slot holds the horizon";
		}
	}

	LWLockRelease(ReplicationSlotControlLock);
}

void
health_horizon_collect(const HealthActivity *a, HealthHorizon *h)
{
	TransactionId next_xid = ReadNextTransactionId();
	health_threshold_t t = health_threshold(pg_health_xmin_horizon_warning,
											pg_health_xmin_horizon_critical);

	memset(h, 0, sizeof(HealthHorizon));
	h->cxt = CurrentMemoryContext;

	horizon_backends(a, h, &t, next_xid);
	horizon_prepared(h, &t, next_xid, a->now);
	horizon_slots(h, next_xid);

	if (h->nholders > 0)
		qsort(h->holders, h->nholders, sizeof(HealthHolder), holder_cmp);
}
