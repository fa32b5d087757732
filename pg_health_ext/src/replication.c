/*-------------------------------------------------------------------------
 *
 * replication.c
 *		The replication and replication_slots checks of health_report().
 *
 * On a primary, each standby as pg_stat_replication shows it: how far its
 * write, flush and replay are behind, in time and in bytes, and whether
 * the standbys pg_health.expected_standbys names (and those
 * synchronous_standby_names needs) are connected.  On a standby, how far
 * replay is behind what was received, and whether the WAL receiver
 * streams.  Replication slots (on either): inactive ones, lost or
 * unreserved WAL, and the WAL each retains against
 * max_slot_wal_keep_size, or against the pg_wal file system when that is
 * unlimited.
 *
 * Hazards this guards against:
 *	- A lag taken from the replay timestamp alone grows without end while
 *	  the primary is idle.  On a standby the lag is zero whenever replay
 *	  has caught up with what was received; on a primary the server
 *	  clears the lag columns (NULL) once a standby has applied all that
 *	  was sent, which reads as zero too.
 *	- pg_stat_replication and pg_stat_wal_receiver show their details
 *	  only to roles with the privileges of pg_read_all_stats: without
 *	  them the replication check is unknown, never a false healthy.
 *	  pg_replication_slots is readable by every role.
 *	- primary_conninfo may hold a password: only the host and port the
 *	  receiver connected to are shown, as pg_stat_wal_receiver does.
 *
 * The views are read with SPI inside health_report()'s transaction, with
 * plans kept for the backend's life; the positions to measure against are
 * read afterwards, so a figure is never behind the rows it is compared
 * with.
 *
 * pg_health_ext/src/replication.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/statvfs.h>

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "replication/walreceiver.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "pg_health.h"

/*
 * The two queries are planned once per backend and kept: parsing and
 * rewriting the views anew on every call cost ten times what the rest
 * of health_report() does.
 */
static SPIPlanPtr standbys_plan = NULL;
static SPIPlanPtr slots_plan = NULL;

static int
run_kept(SPIPlanPtr *plan, const char *sql, const char *what)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, 0, NULL);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not plan the query of %s: %s", what,
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}

	if (SPI_execute_plan(*plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s", what);

	return (int) SPI_processed;
}

static int
rank(health_status_t s)
{
	switch (s)
	{
		case HEALTH_UNHEALTHY:
			return 3;
		case HEALTH_UNKNOWN:
			return 2;
		case HEALTH_DEGRADED:
			return 1;
		default:
			return 0;
	}
}

static health_status_t
worse(health_status_t a, health_status_t b)
{
	return rank(b) > rank(a) ? b : a;
}

static const char *
col_text(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v == NULL ? NULL : MemoryContextStrdup(cxt, v);
}

static XLogRecPtr
col_lsn(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
}

/* an interval column in milliseconds, -1 when NULL */
static double
col_ms(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Interval   *iv;

	if (isnull)
		return -1.0;

	iv = DatumGetIntervalP(d);

	return iv->time / 1000.0 + iv->day * 86400000.0
		+ iv->month * 30.0 * 86400000.0;
}

static bool
col_bool(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static int64
lsn_diff(XLogRecPtr to, XLogRecPtr from)
{
	if (XLogRecPtrIsInvalid(to) || XLogRecPtrIsInvalid(from) || to <= from)
		return 0;

	return (int64) (to - from);
}

/* pg_health.replication_lag_bytes_* are in kB, -1 off */
static health_status_t
judge_bytes(int64 bytes)
{
	if (pg_health_replication_lag_bytes_critical >= 0
		&& bytes >= (int64) pg_health_replication_lag_bytes_critical * 1024)
		return HEALTH_UNHEALTHY;
	if (pg_health_replication_lag_bytes_warning >= 0
		&& bytes >= (int64) pg_health_replication_lag_bytes_warning * 1024)
		return HEALTH_DEGRADED;

	return HEALTH_HEALTHY;
}

static int
standby_cmp(const void *x, const void *y)
{
	const HealthStandby *a = x;
	const HealthStandby *b = y;

	if (a->status != b->status)
		return rank(a->status) > rank(b->status) ? -1 : 1;
	if (a->replay_lag_ms != b->replay_lag_ms)
		return a->replay_lag_ms > b->replay_lag_ms ? -1 : 1;
	if (a->replay_lag_bytes != b->replay_lag_bytes)
		return a->replay_lag_bytes > b->replay_lag_bytes ? -1 : 1;

	return strcmp(a->application_name ? a->application_name : "",
				  b->application_name ? b->application_name : "");
}

/* judge one standby of pg_stat_replication */
static void
standby_judge(HealthStandby *s, const health_threshold_t *t)
{
	s->status = HEALTH_HEALTHY;
	s->reason = NULL;

	if (s->state == NULL || strcmp(s->state, "streaming") != 0)
	{
		s->status = HEALTH_DEGRADED;
		s->reason = psprintf("the standby is in state \"%s\", not streaming",
							 s->state ? s->state : "unknown");
	}

	if (s->replay_lag_ms >= 0)
		s->status = worse(s->status, health_threshold_eval(t, s->replay_lag_ms));
	else if (s->status == HEALTH_HEALTHY)
	{
		s->status = HEALTH_UNKNOWN;
		s->reason = "the standby has not reported a replay yet";
	}

	s->status = worse(s->status, judge_bytes(s->replay_lag_bytes));
}

static void
primary_collect(HealthReplication *r, MemoryContext cxt)
{
	const health_threshold_t t =
		health_threshold(pg_health_replication_lag_warning,
						 pg_health_replication_lag_critical);
	MemoryContext old;
	XLogRecPtr	current;
	uint64		i;

	/*
	 * pg_stat_replication's own join, less its cost: the view reads
	 * pg_stat_get_activity(NULL), a row of every backend of the server
	 * (each looked up in the proc array under ProcArrayLock), to keep the
	 * few that are WAL senders.  Asked for one pid, the function returns
	 * that backend's row alone, the same row the view joins.
	 */
	run_kept(&standbys_plan,
			 "SELECT s.application_name, pg_catalog.host(s.client_addr),"
			 " w.state, w.sync_state, w.sent_lsn, w.write_lsn, w.flush_lsn,"
			 " w.replay_lsn, w.write_lag, w.flush_lag, w.replay_lag"
			 " FROM pg_catalog.pg_stat_get_wal_senders() w,"
			 " LATERAL pg_catalog.pg_stat_get_activity(w.pid) s"
			 " WHERE s.pid = w.pid AND w.state IS DISTINCT FROM 'backup'",
			 "pg_stat_replication");

	/* after the rows: no standby is ahead of what it is measured against */
	current = GetXLogWriteRecPtr();
	r->current_lsn = current;

	r->nstandbys = (int) SPI_processed;
	r->standbys = MemoryContextAllocZero(cxt, sizeof(HealthStandby)
										 * Max(r->nstandbys, 1));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HealthStandby *s = &r->standbys[i];

		s->application_name = col_text(tup, desc, 1, cxt);
		s->client_addr = col_text(tup, desc, 2, cxt);
		s->state = col_text(tup, desc, 3, cxt);
		s->sync_state = col_text(tup, desc, 4, cxt);
		s->sent_lsn = col_lsn(tup, desc, 5);
		s->write_lsn = col_lsn(tup, desc, 6);
		s->flush_lsn = col_lsn(tup, desc, 7);
		s->replay_lsn = col_lsn(tup, desc, 8);
		s->write_lag_ms = col_ms(tup, desc, 9);
		s->flush_lag_ms = col_ms(tup, desc, 10);
		s->replay_lag_ms = col_ms(tup, desc, 11);
		s->replay_lag_bytes = lsn_diff(current, s->replay_lsn);

		/*
		 * The walsender clears the lag times once the standby has applied
		 * everything sent: caught up and idle reads as zero.
		 */
		if (!XLogRecPtrIsInvalid(s->replay_lsn)
			&& s->replay_lsn == s->sent_lsn)
		{
			if (s->write_lag_ms < 0)
				s->write_lag_ms = 0;
			if (s->flush_lag_ms < 0)
				s->flush_lag_ms = 0;
			if (s->replay_lag_ms < 0)
				s->replay_lag_ms = 0;
		}

		/* reasons outlive SPI's memory */
		old = MemoryContextSwitchTo(cxt);
		standby_judge(s, &t);
		MemoryContextSwitchTo(old);

		if (s->state != NULL && strcmp(s->state, "streaming") == 0
			&& s->sync_state != NULL
			&& (strcmp(s->sync_state, "sync") == 0
				|| strcmp(s->sync_state, "quorum") == 0))
			r->sync_connected++;
	}

	qsort(r->standbys, r->nstandbys, sizeof(HealthStandby), standby_cmp);
}

/*
 * pg_health.expected_standbys against the connected application names,
 * compared without regard to case as synchronous_standby_names does.
 */
static void
expected_collect(HealthReplication *r, MemoryContext cxt)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;

	r->expected = NIL;
	r->missing = NIL;

	if (pg_health_expected_standbys == NULL
		|| pg_health_expected_standbys[0] == '\0')
		return;

	raw = pstrdup(pg_health_expected_standbys);
	if (!SplitGUCList(raw, ',', &names))
		return;					/* the check hook refused such a list */

	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		bool		found = false;
		int			i;

		r->expected = lappend(r->expected, MemoryContextStrdup(cxt, name));

		for (i = 0; i < r->nstandbys && !found; i++)
		{
			const HealthStandby *s = &r->standbys[i];

			found = s->application_name != NULL
				&& pg_strcasecmp(s->application_name, name) == 0;
		}

		if (!found)
			r->missing = lappend(r->missing, MemoryContextStrdup(cxt, name));
	}
}

static const char *
receiver_state_name(WalRcvState state)
{
	switch (state)
	{
		case WALRCV_STOPPED:
			return "stopped";
		case WALRCV_STARTING:
			return "starting";
		case WALRCV_STREAMING:
			return "streaming";
		case WALRCV_WAITING:
			return "waiting";
		case WALRCV_RESTARTING:
			return "restarting";
		case WALRCV_STOPPING:
			return "stopping";
	}

	return "unknown";
}

/*
 * On a standby: the lag of replay behind receipt.  Equal positions are
 * zero lag whatever the last replayed commit's age: an idle primary sends
 * nothing to replay.
 */
static void
standby_collect(HealthReplication *r, MemoryContext cxt, TimestampTz now)
{
	WalRcvState state;
	char		host[NI_MAXHOST];
	int			port;

	r->receive_lsn = GetWalRcvFlushRecPtr(NULL, NULL);
	r->replay_lsn = GetXLogReplayRecPtr(NULL);
	r->last_replay = GetLatestXTime();
	r->lag_bytes = lsn_diff(r->receive_lsn, r->replay_lsn);

	if (r->lag_bytes == 0)
		r->lag_ms = 0.0;
	else if (r->last_replay != 0)
		r->lag_ms = health_ms_between(r->last_replay, now);
	else
		r->lag_ms = -1.0;

	SpinLockAcquire(&WalRcv->mutex);
	state = WalRcv->walRcvState;
	strlcpy(host, (char *) WalRcv->sender_host, sizeof(host));
	port = WalRcv->sender_port;
	SpinLockRelease(&WalRcv->mutex);

	r->receiver_state = receiver_state_name(state);
	r->receiver_streaming = state == WALRCV_STREAMING;
	r->receiver_expected = PrimaryConnInfo != NULL
		&& PrimaryConnInfo[0] != '\0';
	if (r->receiver_streaming && host[0] != '\0')
	{
		r->sender_host = MemoryContextStrdup(cxt, host);
		r->sender_port = port;
	}
}

void
health_replication_collect(HealthReplication *r, TimestampTz now)
{
	MemoryContext cxt = CurrentMemoryContext;

	memset(r, 0, sizeof(HealthReplication));
	r->standby = RecoveryInProgress();
	r->lag_ms = 0.0;

	/*
	 * pg_stat_replication and pg_stat_wal_receiver show other columns than
	 * the pid and application_name only to these roles.  A primary's list
	 * of senders is read all the same: when it is empty, nothing is hidden.
	 */
	r->visible = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	if (r->standby)
	{
		if (r->visible)
			standby_collect(r, cxt, now);
		return;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	primary_collect(r, cxt);
	SPI_finish();

	expected_collect(r, cxt);

	if (SyncRepConfig != NULL)
		r->sync_wanted = SyncRepConfig->num_sync;
}

/*
 * The status of the replication check and its reason (the worst finding
 * speaks).
 */
health_status_t
health_replication_judge(HealthReplication *r, const health_threshold_t *t,
						 const char **reason)
{
	health_status_t status = HEALTH_HEALTHY;
	int			i;

	*reason = NULL;

	if (r->standby)
	{
		if (r->lag_ms >= 0)
			status = health_threshold_eval(t, r->lag_ms);
		else
		{
			status = HEALTH_UNKNOWN;
			*reason = "replay is behind receipt and no transaction has been replayed yet to date it";
		}
		status = worse(status, judge_bytes(r->lag_bytes));

		if (r->receiver_expected && !r->receiver_streaming)
		{
			status = HEALTH_UNHEALTHY;
			*reason = psprintf("the WAL receiver is not streaming (state \"%s\"): the standby receives nothing from its primary",
							   r->receiver_state);
		}
		return status;
	}

	for (i = 0; i < r->nstandbys; i++)
	{
		status = worse(status, r->standbys[i].status);
		r->max_lag_ms = Max(r->max_lag_ms, r->standbys[i].replay_lag_ms);
	}
	if (r->nstandbys > 0 && r->standbys[0].status != HEALTH_HEALTHY)
		*reason = r->standbys[0].reason != NULL
			? psprintf("standby \"%s\": %s",
					   r->standbys[0].application_name
					   ? r->standbys[0].application_name : "",
					   r->standbys[0].reason)
			: psprintf("standby \"%s\" lags behind",
					   r->standbys[0].application_name
					   ? r->standbys[0].application_name : "");

	if (r->missing != NIL)
	{
		StringInfoData buf;
		ListCell   *lc;

		initStringInfo(&buf);
		foreach(lc, r->missing)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 quote_identifier(lfirst(lc)));

		status = worse(status, HEALTH_DEGRADED);
		*reason = psprintf("expected standby%s not connected: %s",
						   list_length(r->missing) == 1 ? "" : "s",
						   buf.data);
	}

	/* commits wait for synchronous standbys that are not there */
	if (r->sync_wanted > 0 && r->sync_connected < r->sync_wanted)
	{
		status = HEALTH_UNHEALTHY;
		*reason = psprintf("synchronous_standby_names needs %d synchronous standby%s, %d %s connected: commits wait%s%s",
						   r->sync_wanted, r->sync_wanted == 1 ? "" : "s",
						   r->sync_connected,
						   r->sync_connected == 1 ? "is" : "are",
						   *reason != NULL ? "; " : "",
						   *reason != NULL ? *reason : "");
	}

	return status;
}

static int
slot_cmp(const void *x, const void *y)
{
	const HealthSlot *a = x;
	const HealthSlot *b = y;

	if (a->status != b->status)
		return rank(a->status) > rank(b->status) ? -1 : 1;
	if (a->retained_bytes != b->retained_bytes)
		return a->retained_bytes > b->retained_bytes ? -1 : 1;

	return strcmp(a->name, b->name);
}

/*
 * Replication slots.  The WAL a slot retains is counted from its
 * restart_lsn to the newest WAL this server has (the write position on a
 * primary, what was received or replayed on a standby).  It is judged
 * against max_slot_wal_keep_size when that is set, else against the room
 * WAL has on the pg_wal file system: what the slots retain plus what is
 * still free there.
 */
void
health_slots_collect(HealthSlots *s)
{
	MemoryContext cxt = CurrentMemoryContext;
	health_threshold_t t = health_threshold(pg_health_slot_wal_warning,
											pg_health_slot_wal_critical);
	XLogRecPtr	current;
	uint64		i;

	memset(s, 0, sizeof(HealthSlots));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	run_kept(&slots_plan,
			 "SELECT slot_name, slot_type, database, active,"
			 " wal_status, restart_lsn, temporary"
			 " FROM pg_catalog.pg_replication_slots",
			 "pg_replication_slots");

	if (RecoveryInProgress())
	{
		XLogRecPtr	received = GetWalRcvFlushRecPtr(NULL, NULL);
		XLogRecPtr	replayed = GetXLogReplayRecPtr(NULL);

		current = Max(received, replayed);
	}
	else
		current = GetXLogWriteRecPtr();

	s->nslots = (int) SPI_processed;
	s->slots = MemoryContextAllocZero(cxt, sizeof(HealthSlot)
									  * Max(s->nslots, 1));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HealthSlot *sl = &s->slots[i];

		sl->name = col_text(tup, desc, 1, cxt);
		sl->slot_type = col_text(tup, desc, 2, cxt);
		sl->database = col_text(tup, desc, 3, cxt);
		sl->active = col_bool(tup, desc, 4);
		sl->wal_status = col_text(tup, desc, 5, cxt);
		sl->restart_lsn = col_lsn(tup, desc, 6);
		sl->temporary = col_bool(tup, desc, 7);
		sl->retained_bytes = lsn_diff(current, sl->restart_lsn);
		s->max_retained = Max(s->max_retained, sl->retained_bytes);
	}

	SPI_finish();

	if (max_slot_wal_keep_size_mb > 0)
	{
		s->limit_bytes = (int64) max_slot_wal_keep_size_mb * 1024 * 1024;
		s->limit_source = "max_slot_wal_keep_size";
	}
	else
	{
		struct statvfs fs;
		char	   *path = psprintf("%s/%s", DataDir, XLOGDIR);

		s->limit_source = "pg_wal file system";
		if (statvfs(path, &fs) == 0)
			s->limit_bytes = s->max_retained
				+ (int64) fs.f_bavail * (int64) fs.f_frsize;
		else
		{
			s->limit_bytes = -1;
			s->statvfs_error = psprintf("statvfs(\"%s\") failed: %m",
										XLOGDIR);
		}
	}

	for (i = 0; i < (uint64) s->nslots; i++)
	{
		HealthSlot *sl = &s->slots[i];

		sl->status = HEALTH_HEALTHY;
		sl->reason = NULL;
		sl->retained_pct = s->limit_bytes > 0
			? sl->retained_bytes * 100.0 / (double) s->limit_bytes : 0.0;
		s->max_pct = Max(s->max_pct, sl->retained_pct);

		if (s->limit_bytes > 0)
		{
			sl->status = health_threshold_eval(&t, sl->retained_pct);
			if (sl->status != HEALTH_HEALTHY)
				sl->reason = psprintf("it retains %.1f%% of the room for WAL (%s)",
									  sl->retained_pct, s->limit_source);
		}

		if (!sl->active)
		{
			s->inactive++;
			if (sl->status == HEALTH_HEALTHY)
			{
				sl->status = HEALTH_DEGRADED;
				sl->reason = XLogRecPtrIsInvalid(sl->restart_lsn)
					? "the slot is inactive: no consumer reads from it"
					: "the slot is inactive: no consumer reads from it, and the WAL it retains grows";
			}
		}

		if (sl->wal_status != NULL
			&& (strcmp(sl->wal_status, "lost") == 0
				|| strcmp(sl->wal_status, "unreserved") == 0))
		{
			sl->status = HEALTH_UNHEALTHY;
			sl->reason = strcmp(sl->wal_status, "lost") == 0
				? "wal_status is lost: WAL its consumer needs has been removed"
				: "wal_status is unreserved: WAL its consumer needs is past max_slot_wal_keep_size and will be removed at the next checkpoint";
		}
	}

	qsort(s->slots, s->nslots, sizeof(HealthSlot), slot_cmp);
}

/* the rendering in health_report() */

static void
json_ms(health_json_t *w, const char *key, double ms)
{
	if (ms < 0)
		health_json_null(w, key);
	else
		health_json_number(w, key, rint(ms * 1000.0) / 1000.0);
}

static void
json_lsn(health_json_t *w, const char *key, XLogRecPtr lsn)
{
	if (XLogRecPtrIsInvalid(lsn))
		health_json_null(w, key);
	else
		health_json_string(w, key, psprintf("%X/%X", LSN_FORMAT_ARGS(lsn)));
}

static void
json_kb(health_json_t *w, const char *key, int kb)
{
	if (kb < 0)
		health_json_null(w, key);
	else
		health_json_integer(w, key, (long long) kb * 1024);
}

static void
json_list(health_json_t *w, const char *key, List *names)
{
	ListCell   *lc;

	health_json_array_open(w, key);
	foreach(lc, names)
		health_json_string(w, NULL, lfirst(lc));
	health_json_array_close(w);
}

static void
report_standby(health_json_t *w, const HealthStandby *s)
{
	health_json_object_open(w, NULL);
	health_json_string(w, "application_name", s->application_name);
	health_json_string(w, "client_addr", s->client_addr);
	health_json_string(w, "state", s->state);
	health_json_string(w, "sync_state", s->sync_state);
	json_lsn(w, "sent_lsn", s->sent_lsn);
	json_lsn(w, "write_lsn", s->write_lsn);
	json_lsn(w, "flush_lsn", s->flush_lsn);
	json_lsn(w, "replay_lsn", s->replay_lsn);
	json_ms(w, "write_lag_ms", s->write_lag_ms);
	json_ms(w, "flush_lag_ms", s->flush_lag_ms);
	json_ms(w, "replay_lag_ms", s->replay_lag_ms);
	health_json_integer(w, "replay_lag_bytes", s->replay_lag_bytes);
	if (s->reason != NULL)
		health_json_string(w, "reason", s->reason);
	health_json_string(w, "status", health_status_name(s->status));
	health_json_object_close(w);
}

/*
 * replication: value is the longest replay lag (a primary's standbys, or
 * this standby's own), judged against pg_health.replication_lag_*; the
 * byte thresholds, when set, judge the WAL not yet replayed.
 */
health_status_t
health_report_replication(health_json_t *w, TimestampTz now)
{
	HealthReplication r;
	health_check_t chk;
	health_threshold_t t;
	const char *reason;
	int			i;

	t = health_threshold(pg_health_replication_lag_warning,
						 pg_health_replication_lag_critical);
	health_replication_collect(&r, now);

	if (health_check_init(&chk, "replication_lag", "ms", t))
	{
		if (!r.visible && (r.standby || r.nstandbys > 0))
		{
			chk.status = HEALTH_UNKNOWN;
			chk.reason = psprintf("role \"%s\" cannot see pg_stat_replication and pg_stat_wal_receiver: grant it pg_read_all_stats (or pg_monitor)",
								  GetUserNameFromId(GetUserId(), false));
		}
		else
		{
			chk.status = health_replication_judge(&r, &t, &reason);
			chk.reason = reason;
		}
	}
	chk.value = r.standby ? (r.lag_ms >= 0 ? rint(r.lag_ms * 1000.0) / 1000.0 : NAN)
		: rint(Max(r.max_lag_ms, 0.0) * 1000.0) / 1000.0;
	if (!r.visible && (r.standby || r.nstandbys > 0))
		chk.value = NAN;

	health_json_check_open(w, "replication", &chk);
	health_json_string(w, "role", r.standby ? "standby" : "primary");
	json_kb(w, "bytes_warning", pg_health_replication_lag_bytes_warning);
	json_kb(w, "bytes_critical", pg_health_replication_lag_bytes_critical);

	if (r.visible && r.standby)
	{
		json_lsn(w, "receive_lsn", r.receive_lsn);
		json_lsn(w, "replay_lsn", r.replay_lsn);
		health_json_integer(w, "replay_lag_bytes", r.lag_bytes);
		{
			char		buf[64];

			health_json_string(w, "last_replay_at",
							   health_format_timestamp(r.last_replay, buf,
													   sizeof(buf)));
		}
		health_json_string(w, "wal_receiver", r.receiver_state);
		health_json_bool(w, "primary_conninfo", r.receiver_expected);
		health_json_string(w, "sender_host", r.sender_host);
		if (r.sender_host != NULL)
			health_json_integer(w, "sender_port", r.sender_port);
		else
			health_json_null(w, "sender_port");
	}
	else if (!r.standby)
	{
		json_lsn(w, "current_lsn", r.current_lsn);
		health_json_integer(w, "connected", r.nstandbys);
		json_list(w, "expected", r.expected);
		json_list(w, "missing", r.missing);
		health_json_integer(w, "sync_wanted", r.sync_wanted);
		health_json_integer(w, "sync_connected", r.sync_connected);
		if (r.visible)
		{
			health_json_array_open(w, "standbys");
			for (i = 0; i < r.nstandbys && i < PG_HEALTH_REPORT_ITEMS; i++)
				report_standby(w, &r.standbys[i]);
			health_json_array_close(w);
		}
	}

	health_json_object_close(w);

	return chk.status;
}

/*
 * replication_slots: value is the largest share of the room for WAL one
 * slot retains; an inactive slot is degraded, a lost or unreserved one
 * unhealthy.
 */
health_status_t
health_report_slots(health_json_t *w)
{
	HealthSlots s;
	health_check_t chk;
	health_threshold_t t;
	bool		valid;
	int			i;

	t = health_threshold(pg_health_slot_wal_warning,
						 pg_health_slot_wal_critical);
	valid = health_check_init(&chk, "slot_wal", "%", t);
	health_slots_collect(&s);

	if (valid)
	{
		chk.status = HEALTH_HEALTHY;
		for (i = 0; i < s.nslots; i++)
			chk.status = worse(chk.status, s.slots[i].status);
		if (s.nslots > 0 && s.slots[0].status != HEALTH_HEALTHY)
			chk.reason = psprintf("slot %s: %s",
								  quote_identifier(s.slots[0].name),
								  s.slots[0].reason);
		else if (s.statvfs_error != NULL && s.nslots > 0)
		{
			chk.status = HEALTH_UNKNOWN;
			chk.reason = s.statvfs_error;
		}
	}
	chk.value = rint(s.max_pct * 100.0) / 100.0;

	health_json_check_open(w, "replication_slots", &chk);
	health_json_integer(w, "count", s.nslots);
	health_json_integer(w, "inactive", s.inactive);
	health_json_integer(w, "max_retained_bytes", s.max_retained);
	if (s.limit_bytes > 0)
		health_json_integer(w, "limit_bytes", s.limit_bytes);
	else
		health_json_null(w, "limit_bytes");
	health_json_string(w, "limit", s.limit_source);
	health_json_array_open(w, "slots");

	for (i = 0; i < s.nslots && i < PG_HEALTH_REPORT_ITEMS; i++)
	{
		const HealthSlot *sl = &s.slots[i];

		health_json_object_open(w, NULL);
		health_json_string(w, "slot_name", sl->name);
		health_json_string(w, "slot_type", sl->slot_type);
		health_json_string(w, "database", sl->database);
		health_json_bool(w, "active", sl->active);
		health_json_bool(w, "temporary", sl->temporary);
		health_json_string(w, "wal_status", sl->wal_status);
		json_lsn(w, "restart_lsn", sl->restart_lsn);
		health_json_integer(w, "retained_bytes", sl->retained_bytes);
		health_json_number(w, "retained_pct",
						   rint(sl->retained_pct * 100.0) / 100.0);
		if (sl->reason != NULL)
			health_json_string(w, "reason", sl->reason);
		health_json_string(w, "status", health_status_name(sl->status));
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}
