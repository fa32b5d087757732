/*-------------------------------------------------------------------------
 *
 * report.c
 *		health_report(): every check, judged, as one jsonb document.
 *
 * The sessions are read once (activity.c, from the backend status array)
 * and shared by the connection, slow query, long transaction and lock
 * checks; pg_class is scanned once
 * for the dead tuple and vacuum checks, or that scan's result reused for
 * pg_health.tables_cache seconds (tables.c).  The text is written with the
 * project's check-object writer (../shared/health_json.h) into palloc'd
 * memory and handed to jsonb_in, so the shape is the one the nginx module
 * writes for its own checks.
 *
 * Status rules beyond plain thresholds:
 *	- slow_queries judges running statements of client applications:
 *	  maintenance commands (those whose progress the server reports, and
 *	  VACUUM) and sessions of pg_health.ignore_applications are left out,
 *	  and idle-in-transaction time belongs to long_transactions.
 *	- slow_queries, long_transactions: when the caller cannot see some
 *	  client backends the check is unknown (with a reason), unless what it
 *	  can see is already unhealthy.
 *	- dead_tuples judges only tables past autovacuum's own trigger that
 *	  autovacuum is not keeping up with: it cannot process them, or has not
 *	  vacuumed them within three autovacuum_naptime rounds, and no vacuum
 *	  of them is running.
 *	- vacuum: value is the number of tables (of those health_dead_tuples()
 *	  lists) past autovacuum's trigger that autovacuum will not deal with:
 *	  autovacuum is off for them (autovacuum_enabled = false, or autovacuum
 *	  or track_counts off for the server), or their last vacuum (never
 *	  vacuumed: the server's start) is older than pg_health.vacuum_overdue.
 *	  One such table is degraded; this check alone never makes the report
 *	  unhealthy (critical is null).
 *	- dead_tuples and vacuum are unknown on a hot standby, which keeps no
 *	  table statistics of its own.
 *	- wraparound: the oldest database of the cluster, in percent of the
 *	  2^31 transaction (or multixact) IDs after which wraparound stops the
 *	  server.
 *	- xmin_horizon: what holds back the oldest xmin vacuum must respect
 *	  (sessions, prepared transactions, replication slots), by how long.
 *	- a warning setting above its critical one makes that check unknown.
 *
 * pg_health_ext/src/report.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/transam.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/autovacuum.h"
#include "postmaster/postmaster.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "pg_health.h"

#define REPORT_CHECKS	15

/* the distance from an ID to its wraparound: 2^31 */
#define REPORT_WRAP_LIMIT	2147483648.0

PG_FUNCTION_INFO_V1(health_report);

typedef struct ReportRow
{
	const HealthBackend *b;
	double		ms;
	health_status_t status;
} ReportRow;

typedef struct VacuumRow
{
	const HealthTable *t;
	bool		overdue;
	const char *reason;
} VacuumRow;

static void *
report_grow(void *ctx, void *ptr, size_t old, size_t size)
{
	if (ptr == NULL)
		return palloc(size);

	return repalloc(ptr, size);
}

/*
 * Fill the common part of a check.  A warning beyond critical cannot be
 * judged against: the check says unknown and why.
 */
bool
health_check_init(health_check_t *c, const char *setting, const char *unit,
				  health_threshold_t t)
{
	char		err[128];

	memset(c, 0, sizeof(health_check_t));
	c->unit = unit;
	c->threshold = t;
	c->value = 0.0;

	if (health_threshold_validate(&t, err, sizeof(err)) != 0)
	{
		c->status = HEALTH_UNKNOWN;
		c->reason = psprintf("pg_health.%s_warning and pg_health.%s_critical do not fit together: %s",
							 setting, setting, err);
		return false;
	}

	return true;
}

static void
report_timestamp(health_json_t *w, const char *key, TimestampTz ts)
{
	char		buf[64];

	health_json_string(w, key, health_format_timestamp(ts, buf, sizeof(buf)));
}

static void
report_ms(health_json_t *w, const char *key, double ms)
{
	health_json_number(w, key, rint(ms * 1000.0) / 1000.0);
}

/*
 * query_id where the server computes it; the text itself only when a
 * superuser turned pg_health.report_query_text on, converted to this
 * database's encoding.
 */
static void
report_query(health_json_t *w, const HealthBackend *b)
{
	char	   *q;
	int			len;

	if (b == NULL || !b->visible || b->query_id == 0)
		health_json_null(w, "query_id");
	else
		health_json_string(w, "query_id",
						   psprintf(INT64_FORMAT, (int64) b->query_id));

	if (!pg_health_report_query_text)
		return;

	if (b == NULL || !b->visible || b->activity_raw == NULL)
	{
		health_json_null(w, "query");
		return;
	}

	/* whole, then cut at a character: whether it was cut is said */
	q = health_backend_text(b, b->activity_raw, INT_MAX);
	len = strlen(q);
	if (len > PG_HEALTH_REPORT_QUERY_LEN)
		q[pg_mbcliplen(q, len, PG_HEALTH_REPORT_QUERY_LEN)] = '\0';

	health_json_string(w, "query", q);
	health_json_bool(w, "query_truncated", len > PG_HEALTH_REPORT_QUERY_LEN);
}

/* who the session is: what pg_stat_activity shows to every role */
static void
report_session(health_json_t *w, const HealthBackend *b)
{
	if (b == NULL)
		return;

	health_json_string(w, "datname", get_database_name(b->databaseid));
	health_json_string(w, "usename", GetUserNameFromId(b->userid, true));
	health_json_string(w, "application_name", b->appname);
}

static void
report_wait_event(health_json_t *w, const HealthBackend *b)
{
	health_json_string(w, "wait_event_type",
					   pgstat_get_wait_event_type(b->wait_event_info));
	health_json_string(w, "wait_event",
					   pgstat_get_wait_event(b->wait_event_info));
}

static int
report_row_cmp(const void *x, const void *y)
{
	const ReportRow *a = x;
	const ReportRow *b = y;

	if (a->ms != b->ms)
		return a->ms > b->ms ? -1 : 1;

	return a->b->pid - b->b->pid;
}

static const char *
report_invisible_reason(int n)
{
	return psprintf("%d session%s of other roles not visible to role \"%s\": grant it pg_read_all_stats (or pg_monitor)",
					n, n == 1 ? " is" : "s are",
					GetUserNameFromId(GetUserId(), false));
}

static health_status_t
report_connections(health_json_t *w, const HealthActivity *a)
{
	HealthConnections c;
	health_check_t chk;

	health_connections_count(a, &c);

	if (health_check_init(&chk, "connections", "%", c.threshold))
		chk.status = c.status;
	chk.value = isnan(c.usage_pct) ? NAN
		: rint(c.usage_pct * 100.0) / 100.0;

	/*
	 * used counts every session and is judged; active, idle and the idle
	 * in transaction counts are of the visible ones only.
	 */
	if (c.not_visible > 0 && chk.reason == NULL)
		chk.reason = psprintf("%s; active, idle and idle_in_transaction count only the visible sessions",
							  report_invisible_reason(c.not_visible));

	health_json_check_open(w, "connections", &chk);
	health_json_integer(w, "used", c.used);
	health_json_integer(w, "max_connections", c.max_connections);
	health_json_integer(w, "reserved", c.reserved);
	health_json_integer(w, "active", c.active);
	health_json_integer(w, "idle", c.idle);
	health_json_integer(w, "idle_in_transaction", c.idle_in_transaction);
	health_json_integer(w, "idle_in_transaction_aborted",
						c.idle_in_transaction_aborted);
	health_json_integer(w, "waiting", c.waiting);
	health_json_integer(w, "not_visible", c.not_visible);
	health_json_object_close(w);

	return chk.status;
}

/*
 * slow_queries and long_transactions: the same walk over client backends
 * with a different clock (statement or transaction).
 */
static health_status_t
report_sessions(health_json_t *w, const HealthActivity *a, bool xact)
{
	const char *key = xact ? "long_transactions" : "slow_queries";
	const char *setting = xact ? "transaction" : "statement";
	health_check_t chk;
	health_threshold_t t;
	ReportRow  *rows;
	double		max_ms = 0.0;
	int			nrows = 0;
	int			idle_in_xact = 0;
	int			excluded = 0;
	int			i;
	bool		valid;

	if (xact)
		t = health_threshold(pg_health_transaction_warning,
							 pg_health_transaction_critical);
	else
		t = health_threshold(pg_health_statement_warning,
							 pg_health_statement_critical);

	valid = health_check_init(&chk, setting, "ms", t);
	rows = palloc(sizeof(ReportRow) * Max(a->nbackends, 1));

	for (i = 0; i < a->nbackends; i++)
	{
		const HealthBackend *b = &a->backends[i];
		double		ms;
		health_status_t s;

		ms = xact ? health_transaction_ms(a, b) : health_statement_ms(a, b);
		if (ms < 0)
			continue;

		/* backups, restores and maintenance run long by design */
		if (health_backend_maintenance(b) || health_backend_ignored(b))
		{
			excluded++;
			continue;
		}

		/* idle in transaction is the transaction's time, not a statement's */
		if (!xact && b->state != STATE_RUNNING && b->state != STATE_FASTPATH)
			continue;

		max_ms = Max(max_ms, ms);
		s = health_threshold_eval(&t, ms);
		if (s == HEALTH_HEALTHY)
			continue;

		rows[nrows].b = b;
		rows[nrows].ms = ms;
		rows[nrows].status = s;
		nrows++;

		if (b->state == STATE_IDLEINTRANSACTION
			|| b->state == STATE_IDLEINTRANSACTION_ABORTED)
			idle_in_xact++;
	}

	qsort(rows, nrows, sizeof(ReportRow), report_row_cmp);

	chk.value = rint(max_ms * 1000.0) / 1000.0;
	if (valid)
	{
		chk.status = health_threshold_eval(&t, max_ms);

		/* never a false healthy: what cannot be seen cannot be judged */
		if (a->ninvisible > 0 && chk.status != HEALTH_UNHEALTHY)
		{
			chk.status = HEALTH_UNKNOWN;
			chk.reason = report_invisible_reason(a->ninvisible);
		}
	}

	health_json_check_open(w, key, &chk);
	health_json_integer(w, "count", nrows);
	if (xact)
		health_json_integer(w, "idle_in_transaction", idle_in_xact);
	health_json_integer(w, "not_visible", a->ninvisible);
	health_json_integer(w, "excluded", excluded);
	health_json_array_open(w, "sessions");

	for (i = 0; i < nrows && i < PG_HEALTH_REPORT_ITEMS; i++)
	{
		const HealthBackend *b = rows[i].b;

		health_json_object_open(w, NULL);
		health_json_integer(w, "pid", b->pid);
		report_session(w, b);
		health_json_string(w, "state", health_backend_state_name(b->state));
		if (xact)
		{
			report_ms(w, "xact_age_ms", rows[i].ms);
			report_ms(w, "state_age_ms",
					  health_ms_between(b->state_change, a->now));
		}
		else
			report_ms(w, "duration_ms", rows[i].ms);
		report_wait_event(w, b);
		report_query(w, b);
		health_json_string(w, "status", health_status_name(rows[i].status));
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}

static health_status_t
report_lock_waits(health_json_t *w, const HealthActivity *a)
{
	health_check_t chk;
	health_threshold_t t;
	HealthLockWait *waits;
	int			nwaits;
	int			count = 0;
	int			i;
	int			j;

	t = health_threshold(pg_health_lock_wait_warning,
						 pg_health_lock_wait_critical);
	nwaits = health_lock_waits_collect(a, &waits);

	if (health_check_init(&chk, "lock_wait", "ms", t))
		chk.status = nwaits > 0
			? health_threshold_eval(&t, waits[0].wait_ms) : HEALTH_HEALTHY;
	chk.value = nwaits > 0 ? rint(waits[0].wait_ms * 1000.0) / 1000.0 : 0.0;

	for (i = 0; i < nwaits; i++)
	{
		if (waits[i].status != HEALTH_HEALTHY)
			count++;
	}

	health_json_check_open(w, "lock_waits", &chk);
	health_json_integer(w, "count", count);
	health_json_integer(w, "waiting", nwaits);
	health_json_array_open(w, "sessions");

	/* longest first: the listed ones are the ones over warning */
	for (i = 0; i < count && i < PG_HEALTH_REPORT_ITEMS; i++)
	{
		HealthLockWait *lw = &waits[i];
		int		   *pids;
		int			npids;

		health_json_object_open(w, NULL);
		health_json_integer(w, "pid", lw->pid);
		report_session(w, lw->backend);
		report_ms(w, "wait_ms", lw->wait_ms);
		health_json_string(w, "locktype", lw->locktype);
		health_json_string(w, "mode", lw->mode);
		if (OidIsValid(lw->relid))
		{
			char	   *rel = get_rel_name(lw->relid);
			char	   *nsp = get_namespace_name(get_rel_namespace(lw->relid));

			if (rel != NULL && nsp != NULL)
				health_json_string(w, "relation",
								   quote_qualified_identifier(nsp, rel));
		}

		npids = health_blocking_pids(lw->pid, &pids);
		health_json_array_open(w, "blocking_pids");
		for (j = 0; j < npids; j++)
			health_json_integer(w, NULL, pids[j]);
		health_json_array_close(w);

		report_query(w, lw->backend);
		health_json_string(w, "status", health_status_name(lw->status));
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}

/* a table as the report names it; a TOAST table names its table too */
static void
report_table(health_json_t *w, const HealthTable *tab)
{
	health_json_string(w, "schemaname", get_namespace_name(tab->nspid));
	health_json_string(w, "relname", NameStr(tab->relname));
	if (tab->toast)
		health_json_string(w, "toast_of",
						   quote_qualified_identifier(get_namespace_name(tab->owner_nspid),
													  NameStr(tab->ownername)));
}

/* the age of the tables' figures (pg_health.tables_cache), null unread */
static void
report_tables_age(health_json_t *w, const HealthTables *tabs)
{
	if (tabs->age_s >= 0)
		health_json_number(w, "age_s", rint(tabs->age_s * 1000.0) / 1000.0);
	else
		health_json_null(w, "age_s");
}

static const char *standby_reason =
"this server is a hot standby: table statistics are kept on the primary only";

static health_status_t
report_dead_tuples(health_json_t *w, const HealthTables *tabs, bool standby)
{
	health_check_t chk;
	health_threshold_t t;
	double		worst = 0.0;
	int			past = 0;
	int			judged = 0;
	int			count = 0;
	int			i;

	t = health_threshold(pg_health_dead_tuples_warning,
						 pg_health_dead_tuples_critical);

	for (i = 0; i < tabs->ntables; i++)
	{
		if (tabs->tables[i].past_trigger)
			past++;
		if (!tabs->tables[i].judged)
			continue;
		judged++;
		worst = Max(worst, tabs->tables[i].dead_pct);
		if (tabs->tables[i].status != HEALTH_HEALTHY)
			count++;
	}

	if (health_check_init(&chk, "dead_tuples", "%", t))
		chk.status = health_threshold_eval(&t, worst);
	chk.value = rint(worst * 100.0) / 100.0;
	if (standby)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.reason = standby_reason;
	}

	health_json_check_open(w, "dead_tuples", &chk);
	health_json_integer(w, "min_dead", pg_health_dead_tuples_min);
	health_json_integer(w, "past_trigger", past);
	health_json_integer(w, "judged", judged);
	health_json_integer(w, "count", count);
	report_tables_age(w, tabs);
	health_json_array_open(w, "tables");

	/* sorted by dead_pct, worst first */
	for (i = 0, count = 0; i < tabs->ntables && count < PG_HEALTH_REPORT_ITEMS;
		 i++)
	{
		const HealthTable *tab = &tabs->tables[i];

		if (tab->status == HEALTH_HEALTHY)
			continue;
		count++;

		health_json_object_open(w, NULL);
		report_table(w, tab);
		health_json_integer(w, "n_live_tup", tab->n_live);
		health_json_integer(w, "n_dead_tup", tab->n_dead);
		health_json_number(w, "dead_pct", rint(tab->dead_pct * 100.0) / 100.0);
		health_json_integer(w, "vacuum_threshold",
							(long long) floor(tab->vacuum_threshold));
		health_json_string(w, "status", health_status_name(tab->status));
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}

static int
vacuum_row_cmp(const void *x, const void *y)
{
	const VacuumRow *a = x;
	const VacuumRow *b = y;

	if (a->overdue != b->overdue)
		return a->overdue ? -1 : 1;
	if (a->t->n_dead != b->t->n_dead)
		return a->t->n_dead > b->t->n_dead ? -1 : 1;

	return strcmp(NameStr(a->t->relname), NameStr(b->t->relname));
}

static health_status_t
report_vacuum(health_json_t *w, const HealthTables *tabs, bool standby)
{
	TimestampTz now = tabs->now;	/* as of the tables' read */
	health_check_t chk;
	health_threshold_t t = health_threshold(1, INFINITY);
	VacuumRow  *rows;
	bool		autovacuum = health_autovacuum_active();
	double		overdue_ms = (double) pg_health_vacuum_overdue * 1000.0;
	int			nrows = 0;
	int			overdue = 0;
	int			i;

	rows = palloc(sizeof(VacuumRow) * Max(tabs->ntables, 1));

	for (i = 0; i < tabs->ntables; i++)
	{
		const HealthTable *tab = &tabs->tables[i];
		VacuumRow  *r;
		TimestampTz last;

		/* autovacuum never processes temporary tables */
		if (tab->temp || !tab->past_trigger)
			continue;

		r = &rows[nrows++];
		r->t = tab;
		r->overdue = true;
		last = Max(tab->last_autovacuum, tab->last_vacuum);

		if (!autovacuum)
			r->reason = "autovacuum is off for the server";
		else if (!tab->autovacuum_enabled)
			r->reason = tab->toast
				? "autovacuum_enabled is off for the TOAST table"
				: "autovacuum_enabled is off for the table";
		else if (last != 0 && health_ms_between(last, now) > overdue_ms)
			r->reason = "not vacuumed for longer than pg_health.vacuum_overdue";

		/*
		 * Never vacuumed, though past the trigger since at least the
		 * server's start: autovacuum keeps failing on it (cancelled by
		 * lock conflicts) or never gets to it.
		 */
		else if (last == 0 && health_ms_between(PgStartTime, now) > overdue_ms)
			r->reason = "never vacuumed, for longer than pg_health.vacuum_overdue since the server started";
		else
		{
			r->overdue = false;
			r->reason = NULL;
		}

		if (r->overdue)
			overdue++;
	}

	qsort(rows, nrows, sizeof(VacuumRow), vacuum_row_cmp);

	/* the threshold is fixed: one overdue table is degraded, never more */
	memset(&chk, 0, sizeof(health_check_t));
	chk.unit = "tables";
	chk.threshold = t;
	chk.status = health_threshold_eval(&t, overdue);
	chk.value = overdue;
	if (standby)
	{
		chk.status = HEALTH_UNKNOWN;
		chk.reason = standby_reason;
	}

	health_json_check_open(w, "vacuum", &chk);
	health_json_bool(w, "autovacuum", autovacuum);
	health_json_integer(w, "past_trigger", nrows);
	health_json_integer(w, "overdue_after_s", pg_health_vacuum_overdue);
	report_tables_age(w, tabs);
	health_json_array_open(w, "tables");

	for (i = 0; i < nrows && i < PG_HEALTH_REPORT_ITEMS; i++)
	{
		const HealthTable *tab = rows[i].t;

		health_json_object_open(w, NULL);
		report_table(w, tab);
		health_json_integer(w, "n_dead_tup", tab->n_dead);
		health_json_integer(w, "vacuum_threshold",
							(long long) floor(tab->vacuum_threshold));
		health_json_bool(w, "autovacuum_enabled", tab->autovacuum_enabled);
		report_timestamp(w, "last_autovacuum", tab->last_autovacuum);
		report_timestamp(w, "last_vacuum", tab->last_vacuum);
		health_json_bool(w, "overdue", rows[i].overdue);
		if (rows[i].reason != NULL)
			health_json_string(w, "reason", rows[i].reason);
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}

/*
 * Wraparound: the age of the oldest database's datfrozenxid (datminmxid)
 * in percent of the 2^31 IDs after which the server would have to stop
 * (it refuses new IDs a few million before).  The defaults, 50% and 75%,
 * are Crunchy pgmonitor's; check_postgres' txn_wraparound warns at 1.3
 * and 1.4 billion (60.5% and 65.2%).  Anti-wraparound autovacuum starts at
 * autovacuum_freeze_max_age, shown for reference: a database past it is
 * normal work, not danger.
 */
static health_status_t
report_wraparound(health_json_t *w, const char *key, const char *setting,
				  int64 age, const char *datname, int ndatabases,
				  int max_age, double warning, double critical)
{
	health_check_t chk;
	health_threshold_t t = health_threshold(warning, critical);
	double		pct = age * 100.0 / REPORT_WRAP_LIMIT;

	if (health_check_init(&chk, setting, "%", t))
		chk.status = health_threshold_eval(&t, pct);
	chk.value = rint(pct * 100.0) / 100.0;

	health_json_check_open(w, key, &chk);
	health_json_integer(w, "age", age);
	health_json_string(w, "oldest_database", datname);
	health_json_integer(w, "databases", ndatabases);
	health_json_integer(w, "remaining", (long long) (REPORT_WRAP_LIMIT - age));
	health_json_integer(w, "freeze_max_age", max_age);
	health_json_object_close(w);

	return chk.status;
}

static const char *
holder_kind_name(int kind)
{
	switch (kind)
	{
		case HEALTH_HOLDER_PREPARED:
			return "prepared_transaction";
		case HEALTH_HOLDER_SLOT:
			return "replication_slot";
		default:
			return "session";
	}
}

/*
 * xmin_horizon: value is the longest known time a session or prepared
 * transaction has held the horizon; the status is the worst holder's (a
 * session whose start is not known is unknown, an inactive slot holding an
 * xmin degraded).  held_by names the worst one.
 */
static health_status_t
report_xmin_horizon(health_json_t *w, const HealthActivity *a)
{
	health_check_t chk;
	health_threshold_t t;
	HealthHorizon h;
	health_status_t worst = HEALTH_HEALTHY;
	double		max_ms = 0.0;
	int64		max_xids = 0;
	int			count = 0;
	int			i;
	bool		valid;

	t = health_threshold(pg_health_xmin_horizon_warning,
						 pg_health_xmin_horizon_critical);
	valid = health_check_init(&chk, "xmin_horizon", "ms", t);

	health_horizon_collect(a, &h);

	for (i = 0; i < h.nholders; i++)
	{
		const HealthHolder *r = &h.holders[i];

		max_ms = Max(max_ms, r->age_ms);
		max_xids = Max(max_xids, r->xid_age);
		worst = health_status_worst(worst, r->status);
		if (r->status != HEALTH_HEALTHY)
			count++;
	}

	chk.value = rint(max_ms * 1000.0) / 1000.0;
	if (valid)
	{
		/* holders are sorted worst first: the first one speaks */
		chk.status = worst == HEALTH_HEALTHY ? HEALTH_HEALTHY
			: h.holders[0].status;
		if (worst != HEALTH_HEALTHY && h.holders[0].reason != NULL)
			chk.reason = h.holders[0].reason;
	}

	health_json_check_open(w, "xmin_horizon", &chk);
	health_json_integer(w, "xid_age", max_xids);
	health_json_integer(w, "holders", h.nholders);
	health_json_integer(w, "count", count);
	if (h.nholders > 0)
	{
		const HealthHolder *r = &h.holders[0];

		if (r->kind == HEALTH_HOLDER_SESSION)
			health_json_string(w, "held_by", psprintf("session %d", r->backend->pid));
		else
			health_json_string(w, "held_by",
							   psprintf("%s %s",
										r->kind == HEALTH_HOLDER_SLOT
										? "replication slot"
										: "prepared transaction",
										quote_identifier(r->name)));
	}
	else
		health_json_null(w, "held_by");
	health_json_array_open(w, "holders_list");

	for (i = 0; i < h.nholders && i < PG_HEALTH_REPORT_ITEMS; i++)
	{
		const HealthHolder *r = &h.holders[i];

		health_json_object_open(w, NULL);
		health_json_string(w, "kind", holder_kind_name(r->kind));
		if (r->kind == HEALTH_HOLDER_SESSION)
		{
			health_json_integer(w, "pid", r->backend->pid);
			report_session(w, r->backend);
			health_json_string(w, "state",
							   health_backend_state_name(r->backend->state));
		}
		else if (r->kind == HEALTH_HOLDER_PREPARED)
		{
			health_json_string(w, "gid", r->name);
			health_json_string(w, "owner", r->owner);
			health_json_string(w, "datname", r->datname);
		}
		else
		{
			health_json_string(w, "slot_name", r->name);
			health_json_string(w, "slot_type", r->slot_type);
			health_json_bool(w, "active", r->active);
			health_json_string(w, "holds", r->catalog ? "catalog_xmin" : "xmin");
		}
		health_json_integer(w, "xmin", r->xmin);
		health_json_integer(w, "xid_age", r->xid_age);
		if (r->age_ms >= 0)
			report_ms(w, "age_ms", r->age_ms);
		else
			health_json_null(w, "age_ms");
		if (r->reason != NULL)
			health_json_string(w, "reason", r->reason);
		health_json_string(w, "status", health_status_name(r->status));
		health_json_object_close(w);
	}

	health_json_array_close(w);
	health_json_object_close(w);

	return chk.status;
}

Datum
health_report(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	health_status_t statuses[REPORT_CHECKS];
	HealthActivity a;
	HealthTables tabs;
	HealthWraparound wrap;
	health_json_t cw;
	health_json_t w;
	bool		standby = RecoveryInProgress();
	int			n = 0;

	/* as of now, not as of this transaction's first look */
	pgstat_clear_snapshot();

	health_activity_collect(&a, pg_health_report_query_text);
	if (standby)
	{
		memset(&tabs, 0, sizeof(HealthTables));
		tabs.now = a.now;
		tabs.age_s = -1;
	}
	else
		health_tables_report_collect(&a, &tabs);
	health_wraparound_collect(&wrap);

	health_json_init(&cw, report_grow, NULL);
	health_json_object_open(&cw, NULL);
	statuses[n++] = report_connections(&cw, &a);
	statuses[n++] = report_sessions(&cw, &a, false);
	statuses[n++] = report_dead_tuples(&cw, &tabs, standby);
	statuses[n++] = report_sessions(&cw, &a, true);
	statuses[n++] = report_lock_waits(&cw, &a);
	statuses[n++] = report_xmin_horizon(&cw, &a);
	statuses[n++] = report_vacuum(&cw, &tabs, standby);
	statuses[n++] = report_wraparound(&cw, "wraparound", "wraparound",
									  wrap.xid_age,
									  NameStr(wrap.xid_datname),
									  wrap.ndatabases,
									  autovacuum_freeze_max_age,
									  pg_health_wraparound_warning,
									  pg_health_wraparound_critical);
	statuses[n++] = report_wraparound(&cw, "multixact_wraparound",
									  "multixact_wraparound", wrap.mxid_age,
									  NameStr(wrap.mxid_datname),
									  wrap.ndatabases,
									  autovacuum_multixact_freeze_max_age,
									  pg_health_multixact_warning,
									  pg_health_multixact_critical);
	statuses[n++] = health_report_disk(&cw);
	statuses[n++] = health_report_archiver(&cw);
	statuses[n++] = health_statements_report(&cw);
	statuses[n++] = health_latency_report(&cw);
	statuses[n++] = health_report_replication(&cw, a.now);
	statuses[n++] = health_report_slots(&cw);
	health_json_object_close(&cw);

	if (health_json_finish(&cw) != 0)
		elog(ERROR, "could not write the checks of the health report");

	health_json_init(&w, report_grow, NULL);
	health_json_object_open(&w, NULL);
	health_json_string(&w, "status",
					   health_status_name(health_status_fold(statuses, n)));
	health_json_string(&w, "database", get_database_name(MyDatabaseId));
	health_json_string(&w, "server_version",
					   GetConfigOption("server_version", false, false));
	report_timestamp(&w, "generated_at", start);
	report_ms(&w, "duration_ms",
			  health_ms_between(start, GetCurrentTimestamp()));
	health_json_raw(&w, HEALTH_KEY_CHECKS, cw.data, cw.len);
	health_json_object_close(&w);

	if (health_json_finish(&w) != 0)
		elog(ERROR, "could not write the health report");

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(w.data)));
}
