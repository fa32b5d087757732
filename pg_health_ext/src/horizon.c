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
 * as other vacuums ignore it.  Prepared transactions and slots come from
 * pg_prepared_xacts and pg_replication_slots, which every role may read.
 *
 * pg_health_ext/src/horizon.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/transam.h"
#include "executor/spi.h"
#include "miscadmin.h"
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

static void
horizon_spi(HealthHorizon *h, const health_threshold_t *t,
			TransactionId next_xid, TimestampTz now)
{
	uint64		i;

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

	if (SPI_execute("SELECT s.slot_name::pg_catalog.text, s.slot_type,"
					" s.active, s.xmin::pg_catalog.text,"
					" s.catalog_xmin::pg_catalog.text"
					" FROM pg_catalog.pg_replication_slots s"
					" WHERE s.xmin IS NOT NULL OR s.catalog_xmin IS NOT NULL",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_replication_slots");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HealthHolder *r;
		bool		isnull;
		TransactionId xmin = parse_xid(SPI_getvalue(tup, desc, 4));
		TransactionId cxmin = parse_xid(SPI_getvalue(tup, desc, 5));
		bool		catalog = false;

		if (!TransactionIdIsNormal(xmin)
			|| (TransactionIdIsNormal(cxmin)
				&& TransactionIdPrecedes(cxmin, xmin)))
		{
			xmin = cxmin;
			catalog = true;
		}
		if (!TransactionIdIsNormal(xmin))
			continue;

		r = holder_add(h, HEALTH_HOLDER_SLOT, xmin, next_xid);
		r->name = spi_text(h, tup, desc, 1);
		r->slot_type = spi_text(h, tup, desc, 2);
		r->catalog = catalog;
		r->active = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

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

	SPI_finish();
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
	horizon_spi(h, &t, next_xid, a->now);

	if (h->nholders > 0)
		qsort(h->holders, h->nholders, sizeof(HealthHolder), holder_cmp);
}
