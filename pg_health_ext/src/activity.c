/*-------------------------------------------------------------------------
 *
 * activity.c
 *		Backends: connection headroom and slow queries.
 *
 * Reads the server's backend status array the way pg_stat_activity's
 * snapshot is made (each slot copied until its change count says no write
 * was under way), straight from shared memory and only the fields used
 * here: the snapshot copies every slot whole with its query text, several
 * MB a call at a few thousand max_connections, most of it in fresh pages.
 * A session connecting or leaving at that instant may be counted here and
 * not by a pg_stat_activity read a moment apart.  Details of a backend
 * (state, times, wait event, query) are used only where the caller could
 * see them in pg_stat_activity: it has the privileges of pg_read_all_stats
 * or of the backend's role.
 *
 * pg_health_ext/src/activity.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/postmaster.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/backend_status.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"
#include "utils/wait_event.h"

#include "pg_health.h"

/* the slots of the backend status array, as backend_status.c counts them */
#if PG_VERSION_NUM >= 170000
#define HEALTH_STATUS_SLOTS		(MaxBackends + NUM_AUXILIARY_PROCS)
#else
#define HEALTH_STATUS_SLOTS		(MaxBackends + NUM_AUXPROCTYPES)
#endif

#define HEALTH_WAIT_CLASS(info)	((info) & 0xFF000000U)

/* another backend writes wait_event_info at will: read it once */
#define HEALTH_READ_ONCE_U32(var)	((uint32) (*((volatile uint32 *) &(var))))

PG_FUNCTION_INFO_V1(health_connections);
PG_FUNCTION_INFO_V1(health_slow_queries);

typedef struct SlowRow
{
	const HealthBackend *b;
	double		ms;
} SlowRow;

/* a process of the server by its pid, for the wait event and vacuum flag */
typedef struct ProcByPid
{
	int			pid;
	PGPROC	   *proc;
} ProcByPid;

static int
proc_by_pid_cmp(const void *x, const void *y)
{
	int			a = ((const ProcByPid *) x)->pid;
	int			b = ((const ProcByPid *) y)->pid;

	return (a > b) - (a < b);
}

/*
 * Every PGPROC in use, sorted by pid, in one pass over ProcGlobal's array
 * and without ProcArrayLock: BackendPidGetProc() takes the lock and walks
 * the array once per call, which made the session scan quadratic in the
 * number of sessions.  What is read here is read racily anyway (a
 * backend sets its wait event at will); a slot taken over by another
 * process in between has another pid and is simply not matched.
 */
static ProcByPid *
health_procs_by_pid(int *nprocs)
{
	uint32		i;
	uint32		all = ProcGlobal->allProcCount;
	ProcByPid  *procs = palloc(sizeof(ProcByPid) * Max(all, 1));
	int			n = 0;

	for (i = 0; i < all; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		int			pid = *((volatile int *) &proc->pid);

		if (pid <= 0)
			continue;

		procs[n].pid = pid;
		procs[n].proc = proc;
		n++;
	}

	qsort(procs, n, sizeof(ProcByPid), proc_by_pid_cmp);
	*nprocs = n;

	return procs;
}

/*
 * The server's backend status array, looked up by the name and size the
 * postmaster created it with; a server whose layout differs from the one
 * built against fails the lookup with an error instead of being misread.
 */
static PgBackendStatus *
health_status_array(void)
{
	static PgBackendStatus *array = NULL;
	bool		found;
	PgBackendStatus *p;

	if (array != NULL)
		return array;

	p = ShmemInitStruct("Backend Status Array",
						mul_size(sizeof(PgBackendStatus), HEALTH_STATUS_SLOTS),
						&found);
	if (!found)
		elog(ERROR, "the server has no backend status array");
	array = p;

	return array;
}

/*
 * One slot copied as pgstat_read_current_status() copies it: again until
 * the change count is even and unchanged, so no write of the owner was
 * under way.  text is where the query goes, NULL when it is not wanted.
 * Returns false for an unused slot.
 */
static bool
health_read_slot(volatile PgBackendStatus *be, HealthBackend *b, char *text)
{
	for (;;)
	{
		int			before;
		int			after;

		pgstat_begin_read_activity(be, before);

		b->pid = be->st_procpid;
		if (b->pid > 0)
		{
			b->backend_type = be->st_backendType;
			b->databaseid = be->st_databaseid;
			b->userid = be->st_userid;
			b->proc_start = be->st_proc_start_timestamp;
			b->progress_command = be->st_progress_command;
			b->progress_relid = be->st_progress_command_target;
			b->query_id = be->st_query_id;
			b->state = be->st_state;
			b->xact_start = be->st_xact_start_timestamp;
			b->query_start = be->st_activity_start_timestamp;
			b->state_change = be->st_state_start_timestamp;
			strlcpy(b->appname_buf, (const char *) be->st_appname,
					NAMEDATALEN);
			if (text != NULL)
			{
				const char *raw = (const char *) be->st_activity_raw;
				size_t		len = strnlen(raw,
										  pgstat_track_activity_query_size - 1);

				memcpy(text, raw, len);
				text[len] = '\0';
			}
		}

		pgstat_end_read_activity(be, after);
		if (pgstat_read_activity_complete(before, after))
			break;

		CHECK_FOR_INTERRUPTS();
	}

	return b->pid > 0;
}

/*
 * The sessions of the server as of now.  want_text: copy each visible
 * backend's query text as well (activity_raw), else it stays NULL.
 */
void
health_activity_collect(HealthActivity *a, bool want_text)
{
	int			slots = HEALTH_STATUS_SLOTS;
	int			i;
	Oid			me = GetUserId();
	bool		read_all;
	PgBackendStatus *array = health_status_array();
	ProcByPid  *procs;
	int			nprocs;
	char	   *text = NULL;

	read_all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);

	memset(a, 0, sizeof(HealthActivity));
	a->now = GetCurrentTimestamp();
	a->backends = palloc(sizeof(HealthBackend) * Max(slots, 1));
	procs = health_procs_by_pid(&nprocs);

	for (i = 0; i < slots; i++)
	{
		HealthBackend *b = &a->backends[a->nbackends];
		PGPROC	   *proc = NULL;
		ProcByPid	key;
		ProcByPid  *found;

		if (want_text && text == NULL)
			text = palloc(pgstat_track_activity_query_size);

		memset(b, 0, sizeof(HealthBackend));
		if (!health_read_slot(&array[i], b, text))
			continue;
		a->nbackends++;

		b->appname = b->appname_buf;
		b->visible = read_all || has_privs_of_role(me, b->userid);

		/*
		 * The wait event is kept even for backends the caller may not see:
		 * it only tells whether to ask the lock manager, whose view
		 * (pg_locks) is open to everyone.  It is never shown for them.
		 * The transaction ids are pg_stat_activity's backend_xid and
		 * backend_xmin, read from the same PGPROC as it does.
		 */
		key.pid = b->pid;
		found = bsearch(&key, procs, nprocs, sizeof(ProcByPid),
						proc_by_pid_cmp);
		if (found != NULL)
			proc = found->proc;
		if (proc != NULL)
		{
			b->wait_event_info = HEALTH_READ_ONCE_U32(proc->wait_event_info);
			b->in_vacuum = (proc->statusFlags & PROC_IN_VACUUM) != 0;
			b->xid = HEALTH_READ_ONCE_U32(proc->xid);
			b->xmin = HEALTH_READ_ONCE_U32(proc->xmin);
		}
		if (HEALTH_WAIT_CLASS(b->wait_event_info) == PG_WAIT_LOCK)
			a->lock_waiters = true;

		if (b->backend_type == B_BACKEND)
		{
			a->nclients++;

			/* not yet authenticated: nothing to hide, nothing to judge */
			if (!b->visible && OidIsValid(b->userid))
				a->ninvisible++;
			else if (b->visible && health_backend_ignored(b))
				a->nignored++;
		}

		if (!b->visible)
		{
			/* what pg_stat_activity shows only to those who may see it */
			b->proc_start = 0;
			b->progress_command = 0;
			b->progress_relid = InvalidOid;
			b->query_id = 0;
			b->state = STATE_UNDEFINED;
			b->xact_start = 0;
			b->query_start = 0;
			b->state_change = 0;
			continue;
		}

		if (text != NULL)
		{
			b->activity_raw = text;
			text = NULL;
		}
	}

	pfree(procs);
}

const HealthBackend *
health_activity_find(const HealthActivity *a, int pid)
{
	int			i;

	for (i = 0; i < a->nbackends; i++)
	{
		if (a->backends[i].pid == pid)
			return &a->backends[i];
	}

	return NULL;
}

/*
 * pg_health.ignore_applications, split once per value of the setting: it
 * is asked for every session, and splitting it anew each time cost more
 * than the rest of the session scan.  The names live in TopMemoryContext
 * with the value they were split from.
 */
static char *ignored_setting = NULL;
static char *ignored_buf = NULL;
static List *ignored_names = NIL;

static List *
health_ignored_names(void)
{
	const char *setting = pg_health_ignore_applications != NULL
		? pg_health_ignore_applications : "";
	MemoryContext old;

	if (ignored_setting != NULL && strcmp(ignored_setting, setting) == 0)
		return ignored_names;

	if (ignored_setting != NULL)
		pfree(ignored_setting);
	if (ignored_buf != NULL)
		pfree(ignored_buf);
	list_free(ignored_names);
	ignored_setting = NULL;
	ignored_buf = NULL;
	ignored_names = NIL;

	old = MemoryContextSwitchTo(TopMemoryContext);
	ignored_buf = pstrdup(setting);
	if (!SplitIdentifierString(ignored_buf, ',', &ignored_names))
	{
		/* the check hook refuses such lists: nothing to match */
		list_free(ignored_names);
		ignored_names = NIL;
	}
	ignored_setting = pstrdup(setting);
	MemoryContextSwitchTo(old);

	return ignored_names;
}

/*
 * pg_health.ignore_applications: a comma-separated list of
 * application_name values whose sessions are not judged as slow queries or
 * long transactions (backup and restore tools run long by design).
 */
bool
health_backend_ignored(const HealthBackend *b)
{
	ListCell   *lc;

	if (b->appname == NULL || b->appname[0] == '\0')
		return false;

	foreach(lc, health_ignored_names())
	{
		if (strcmp((const char *) lfirst(lc), b->appname) == 0)
			return true;
	}

	return false;
}

/*
 * A maintenance command runs long by design: the server itself reports
 * its progress (VACUUM, ANALYZE, CLUSTER, CREATE INDEX, a base backup,
 * COPY as pg_dump runs it), so a client statement doing one of them is not
 * an application's slow query.
 */
bool
health_backend_maintenance(const HealthBackend *b)
{
	return b->progress_command != PROGRESS_COMMAND_INVALID || b->in_vacuum;
}

static int
health_database_encoding(Oid dbid)
{
	HeapTuple	tup;
	int			enc;

	if (dbid == MyDatabaseId)
		return GetDatabaseEncoding();
	if (!OidIsValid(dbid))
		return PG_SQL_ASCII;

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dbid));
	if (!HeapTupleIsValid(tup))
		return PG_SQL_ASCII;
	enc = ((Form_pg_database) GETSTRUCT(tup))->encoding;
	ReleaseSysCache(tup);

	return enc;
}

/*
 * Text a backend reported (its query) is in its own database's encoding,
 * and may be cut in the middle of a character.  Return it valid in this
 * database's encoding, at most maxlen bytes: converted where a conversion
 * exists, every byte that is not valid or has no equivalent replaced by
 * '?'; from a SQL_ASCII database only ASCII is kept.
 */
char *
health_backend_text(const HealthBackend *b, const char *s, int maxlen)
{
	int			src = health_database_encoding(b->databaseid);
	int			dst = GetDatabaseEncoding();
	int			len = strlen(s);
	Oid			proc = InvalidOid;
	StringInfoData out;

	if (src != dst && src != PG_SQL_ASCII && dst != PG_SQL_ASCII)
		proc = FindDefaultConversionProc(src, dst);

	initStringInfo(&out);

	while (len > 0 && out.len < maxlen)
	{
		const unsigned char *p = (const unsigned char *) s;
		int			l;

		if (IS_HIGHBIT_SET(*p) == 0)
		{
			if (*p == '\0')
				break;
			appendStringInfoChar(&out, *s);
			s++;
			len--;
			continue;
		}

		/* a whole valid character of the source, or one bad byte */
		if (src == PG_SQL_ASCII)
			l = dst == PG_SQL_ASCII ? 1 : -1;
		else
			l = pg_encoding_verifymbchar(src, s, len);

		if (l > 0 && src == dst)
		{
			if (out.len + l > maxlen)
				break;
			appendBinaryStringInfo(&out, s, l);
		}
		else if (l > 0 && dst == PG_SQL_ASCII)
			appendBinaryStringInfo(&out, s, l);
		else if (l > 0 && OidIsValid(proc))
		{
			unsigned char buf[MAX_CONVERSION_GROWTH * 8 + 1];
			int			done;

			done = pg_do_encoding_conversion_buf(proc, src, dst,
												 (unsigned char *) s, l,
												 buf, sizeof(buf), true);
			if (done == l)
			{
				int			blen = strlen((char *) buf);

				if (out.len + blen > maxlen)
					break;
				appendBinaryStringInfo(&out, (char *) buf, blen);
			}
			else
				appendStringInfoChar(&out, '?');
		}
		else
		{
			appendStringInfoChar(&out, '?');
			l = Max(l, 1);
		}

		s += l;
		len -= l;
	}

	return out.data;
}

/*
 * Client backends use the max_connections slots; superusers (and on 16+
 * members of pg_use_reserved_connections) may use the reserved ones, so
 * headroom is judged against what ordinary roles can get.
 */
void
health_connections_count(const HealthActivity *a, HealthConnections *c)
{
	int			i;
	int			usable;

	memset(c, 0, sizeof(HealthConnections));

	c->used = a->nclients;
	c->max_connections = MaxConnections;
#if PG_VERSION_NUM >= 160000
	c->reserved = SuperuserReservedConnections + ReservedConnections;
#else
	c->reserved = ReservedBackends;
#endif

	usable = c->max_connections - c->reserved;
	c->usage_pct = usable > 0 ? c->used * 100.0 / usable : NAN;

	for (i = 0; i < a->nbackends; i++)
	{
		const HealthBackend *b = &a->backends[i];

		if (b->backend_type != B_BACKEND)
			continue;

		/* what pg_locks shows everyone: counted for every session */
		if (HEALTH_WAIT_CLASS(b->wait_event_info) == PG_WAIT_LOCK)
			c->waiting++;

		if (!b->visible)
			continue;

		switch (b->state)
		{
			case STATE_RUNNING:
			case STATE_FASTPATH:
				c->active++;
				break;
			case STATE_IDLE:
				c->idle++;
				break;
			case STATE_IDLEINTRANSACTION:
				c->idle_in_transaction++;
				break;
			case STATE_IDLEINTRANSACTION_ABORTED:
				c->idle_in_transaction_aborted++;
				break;
			default:
				break;
		}
	}
	c->not_visible = a->ninvisible;

	c->threshold = health_threshold(pg_health_connections_warning,
									pg_health_connections_critical);
	c->status = health_threshold_eval(&c->threshold, c->usage_pct);
}

/* the words of pg_stat_activity.state */
const char *
health_backend_state_name(BackendState state)
{
	switch (state)
	{
		case STATE_IDLE:
			return "idle";
		case STATE_RUNNING:
			return "active";
		case STATE_IDLEINTRANSACTION:
			return "idle in transaction";
		case STATE_FASTPATH:
			return "fastpath function call";
		case STATE_IDLEINTRANSACTION_ABORTED:
			return "idle in transaction (aborted)";
		case STATE_DISABLED:
			return "disabled";
#if PG_VERSION_NUM >= 180000
		case STATE_STARTING:
			return "starting";
#endif
		case STATE_UNDEFINED:
			break;
	}

	return NULL;
}

static TimestampTz
health_statement_start(const HealthBackend *b)
{
	if (b->backend_type != B_BACKEND || !b->visible || b->pid == MyProcPid)
		return 0;

	switch (b->state)
	{
		case STATE_RUNNING:
		case STATE_FASTPATH:
			return b->query_start;
		case STATE_IDLEINTRANSACTION:
		case STATE_IDLEINTRANSACTION_ABORTED:
			return b->state_change;
		default:
			break;
	}

	return 0;
}

/*
 * How long the session's current statement has run, or how long it has sat
 * idle in a transaction; -1 for sessions that are neither, the caller's
 * own, or not visible.
 */
double
health_statement_ms(const HealthActivity *a, const HealthBackend *b)
{
	TimestampTz start = health_statement_start(b);

	return start == 0 ? -1.0 : health_ms_between(start, a->now);
}

/* age of the session's transaction, -1 as above */
double
health_transaction_ms(const HealthActivity *a, const HealthBackend *b)
{
	if (b->backend_type != B_BACKEND || !b->visible || b->pid == MyProcPid
		|| b->xact_start == 0)
		return -1.0;

	return health_ms_between(b->xact_start, a->now);
}

Datum
health_connections(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	HealthActivity a;
	HealthConnections c;
	Datum		values[10];
	bool		nulls[10] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* sessions as of now, not as of this transaction's first look */
	pgstat_clear_snapshot();
	health_activity_collect(&a, false);
	health_connections_count(&a, &c);
	health_check_threshold("connections", &c.threshold);

	values[0] = Int32GetDatum(c.used);
	values[1] = Int32GetDatum(c.max_connections);
	values[2] = Int32GetDatum(c.reserved);
	if (isnan(c.usage_pct))
		nulls[3] = true;
	else
		values[3] = Float8GetDatum(rint(c.usage_pct * 100.0) / 100.0);
	values[4] = Int32GetDatum(c.active);
	values[5] = Int32GetDatum(c.idle);
	values[6] = Int32GetDatum(c.idle_in_transaction);
	values[7] = Int32GetDatum(c.idle_in_transaction_aborted);
	values[8] = Int32GetDatum(c.waiting);
	values[9] = CStringGetTextDatum(health_status_name(c.status));

	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values,
													  nulls)));
}

static int
slow_row_cmp(const void *x, const void *y)
{
	const SlowRow *a = x;
	const SlowRow *b = y;

	if (a->ms != b->ms)
		return a->ms > b->ms ? -1 : 1;

	return a->b->pid - b->b->pid;
}

static double
interval_ms(const Interval *iv)
{
#ifdef INTERVAL_NOT_FINITE
	if (INTERVAL_NOT_FINITE(iv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be a finite interval")));
#endif

	return ((double) iv->time
			+ ((double) iv->month * DAYS_PER_MONTH + iv->day)
			* (double) USECS_PER_DAY) / 1000.0;
}

Datum
health_slow_queries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	health_threshold_t t;
	HealthActivity a;
	SlowRow    *rows;
	double		min_ms;
	int			nrows = 0;
	int			i;

	t = health_threshold(pg_health_statement_warning,
						 pg_health_statement_critical);
	health_check_threshold("statement", &t);

	if (PG_ARGISNULL(0))
		min_ms = t.warning;
	else
	{
		min_ms = interval_ms(PG_GETARG_INTERVAL_P(0));
		if (min_ms < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("threshold must not be negative"),
					 errhint("Pass NULL to use pg_health.statement_warning.")));
	}

	InitMaterializedSRF(fcinfo, 0);

	pgstat_clear_snapshot();
	health_activity_collect(&a, true);
	rows = palloc(sizeof(SlowRow) * Max(a.nbackends, 1));

	for (i = 0; i < a.nbackends; i++)
	{
		double		ms = health_statement_ms(&a, &a.backends[i]);

		if (ms >= 0 && ms > min_ms)
		{
			rows[nrows].b = &a.backends[i];
			rows[nrows].ms = ms;
			nrows++;
		}
	}

	qsort(rows, nrows, sizeof(SlowRow), slow_row_cmp);

	for (i = 0; i < nrows; i++)
	{
		const HealthBackend *b = rows[i].b;
		Datum		values[10];
		bool		nulls[10] = {0};
		char	   *name;
		Name		n;
		const char *s;

		values[0] = Int32GetDatum(b->pid);

		name = get_database_name(b->databaseid);
		if (name == NULL)
			nulls[1] = true;
		else
		{
			n = (Name) palloc(NAMEDATALEN);
			namestrcpy(n, name);
			values[1] = NameGetDatum(n);
		}

		name = GetUserNameFromId(b->userid, true);
		if (name == NULL)
			nulls[2] = true;
		else
		{
			n = (Name) palloc(NAMEDATALEN);
			namestrcpy(n, name);
			values[2] = NameGetDatum(n);
		}

		if (b->appname != NULL)
			values[3] = CStringGetTextDatum(b->appname);
		else
			nulls[3] = true;

		s = health_backend_state_name(b->state);
		if (s != NULL)
			values[4] = CStringGetTextDatum(s);
		else
			nulls[4] = true;

		values[5] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(a.now),
										TimestampTzGetDatum(health_statement_start(b)));

		s = pgstat_get_wait_event_type(b->wait_event_info);
		if (s != NULL)
			values[6] = CStringGetTextDatum(s);
		else
			nulls[6] = true;
		s = pgstat_get_wait_event(b->wait_event_info);
		if (s != NULL)
			values[7] = CStringGetTextDatum(s);
		else
			nulls[7] = true;

		if (b->activity_raw != NULL)
			values[8] = CStringGetTextDatum(health_backend_text(b, b->activity_raw,
															   pgstat_track_activity_query_size));
		else
			nulls[8] = true;

		values[9] = CStringGetTextDatum(health_status_name(health_threshold_eval(&t, rows[i].ms)));

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}

	return (Datum) 0;
}
