/*-------------------------------------------------------------------------
 *
 * pg_health.h
 *		Declarations shared by the files of the pg_health extension.
 *
 * The extension reads what pg_stat_activity, pg_locks and
 * pg_stat_user_tables show, but straight from the backend status array,
 * the lock manager and the cumulative statistics, and judges it with the
 * project's common rules in ../shared (status words, thresholds, the check
 * object of the report).
 *
 * pg_health_ext/src/pg_health.h
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_HEALTH_H
#define PG_HEALTH_H

#include "datatype/timestamp.h"
#include "utils/backend_status.h"

#include "health_json.h"
#include "health_status.h"
#include "health_threshold.h"

#if PG_VERSION_NUM < 150000
#error "pg_health needs PostgreSQL 15 or later"
#endif

/* offenders listed per check in health_report(), worst first */
#define PG_HEALTH_REPORT_ITEMS	5

/* query text in health_report() is cut to this many bytes */
#define PG_HEALTH_REPORT_QUERY_LEN	256

/* settings (pg_health.c) */
extern double pg_health_connections_warning;
extern double pg_health_connections_critical;
extern int	pg_health_statement_warning;
extern int	pg_health_statement_critical;
extern int	pg_health_transaction_warning;
extern int	pg_health_transaction_critical;
extern int	pg_health_lock_wait_warning;
extern int	pg_health_lock_wait_critical;
extern int	pg_health_dead_tuples_min;
extern double pg_health_dead_tuples_warning;
extern double pg_health_dead_tuples_critical;
extern int	pg_health_vacuum_overdue;
extern double pg_health_wraparound_warning;
extern double pg_health_wraparound_critical;
extern double pg_health_multixact_warning;
extern double pg_health_multixact_critical;
extern int	pg_health_xmin_horizon_warning;
extern int	pg_health_xmin_horizon_critical;
extern bool pg_health_report_query_text;
extern char *pg_health_ignore_applications;
extern int	pg_health_statements_min_calls;
extern int	pg_health_statements_cache;
extern int	pg_health_tables_cache;
extern int	pg_health_statement_objective_ms;
extern double pg_health_statement_objective_pct;
extern int	pg_health_statement_latency_min;

/*
 * One backend as the backend status array shows it, copied out of the
 * array (health_activity_collect) so the strings live as long as it.
 */
typedef struct HealthBackend
{
	int			pid;
	BackendType backend_type;
	BackendState state;
	Oid			databaseid;
	Oid			userid;
	bool		visible;		/* caller may see the details */
	TimestampTz xact_start;		/* 0 when not in a transaction */
	TimestampTz query_start;
	TimestampTz state_change;
	TimestampTz proc_start;		/* 0 when not visible */
	uint32		wait_event_info;	/* 0 when not waiting or not visible */
	TransactionId xid;			/* pg_stat_activity.backend_xid */
	TransactionId xmin;			/* pg_stat_activity.backend_xmin */
	bool		in_vacuum;		/* a VACUUM: other vacuums ignore its xmin */
	int			progress_command;	/* ProgressCommandType, when visible */
	Oid			progress_relid; /* the relation it works on */
	uint64		query_id;		/* 0 when not computed or not visible */
	const char *appname;		/* appname_buf */
	const char *activity_raw;	/* NULL when not visible or not asked for */
	char		appname_buf[NAMEDATALEN];
} HealthBackend;

typedef struct HealthActivity
{
	TimestampTz now;
	int			nbackends;
	HealthBackend *backends;
	int			nclients;		/* client backends */
	int			ninvisible;		/* client backends the caller cannot see */
	int			nignored;		/* client backends of ignored applications */
	bool		lock_waiters;	/* some backend waits on a heavyweight lock */
} HealthActivity;

typedef struct HealthConnections
{
	int			used;
	int			max_connections;
	int			reserved;
	double		usage_pct;
	int			active;
	int			idle;
	int			idle_in_transaction;
	int			idle_in_transaction_aborted;
	int			waiting;
	int			not_visible;	/* client backends whose state is hidden */
	health_threshold_t threshold;
	health_status_t status;
} HealthConnections;

/* a session waiting on a heavyweight lock */
typedef struct HealthLockWait
{
	const HealthBackend *backend;	/* NULL if it left the status array */
	int			pid;
	double		wait_ms;
	const char *locktype;
	const char *mode;
	Oid			relid;			/* InvalidOid unless a relation here */
	health_status_t status;
} HealthLockWait;

/* one user table, as pg_stat_user_tables would show it */
typedef struct HealthTable
{
	Oid			relid;
	Oid			nspid;
	NameData	relname;
	bool		temp;
	bool		toast;			/* a TOAST table, shown as its owner's */
	NameData	ownername;		/* the owner table's name, for TOAST */
	Oid			owner_nspid;
	int64		n_live;
	int64		n_dead;
	double		dead_pct;
	double		vacuum_threshold;
	bool		past_trigger;	/* n_dead over autovacuum's trigger */
	bool		vacuum_running; /* a VACUUM of it is under way */
	bool		judged;			/* autovacuum is not keeping up with it */
	bool		autovacuum_enabled; /* per-table reloption */
	TimestampTz last_autovacuum;	/* 0 if never */
	TimestampTz last_vacuum;	/* 0 if never */
	health_status_t status;
} HealthTable;

typedef struct HealthTables
{
	int			ntables;
	HealthTable *tables;		/* sorted by dead_pct, worst first */
	TimestampTz now;			/* when they were judged */
	double		age_s;			/* since they were read (tables_cache) */
} HealthTables;

/* something that holds back the xmin horizon */
#define HEALTH_HOLDER_SESSION	0
#define HEALTH_HOLDER_PREPARED	1
#define HEALTH_HOLDER_SLOT		2

typedef struct HealthHolder
{
	int			kind;
	const HealthBackend *backend;	/* a session */
	const char *name;			/* a prepared transaction's gid, a slot */
	const char *owner;			/* a prepared transaction's */
	const char *datname;		/* a prepared transaction's */
	const char *slot_type;
	bool		catalog;		/* a slot's catalog_xmin is the older */
	bool		active;			/* a slot */
	TransactionId xmin;
	int64		xid_age;		/* transaction IDs since xmin */
	double		age_ms;			/* since when, -1 if not known */
	const char *reason;
	health_status_t status;
} HealthHolder;

typedef struct HealthHorizon
{
	int			nholders;
	int			cap;
	HealthHolder *holders;		/* worst first */
	MemoryContext cxt;
} HealthHorizon;

/* pg_health.c */
extern health_threshold_t health_threshold(double warning, double critical);
extern void health_check_threshold(const char *name,
								   const health_threshold_t *t);
extern double health_ms_between(TimestampTz start, TimestampTz stop);
extern const char *health_format_timestamp(TimestampTz ts, char *buf,
										   size_t len);

/* activity.c */
extern void health_activity_collect(HealthActivity *a, bool want_text);
extern bool health_backend_ignored(const HealthBackend *b);
extern bool health_backend_maintenance(const HealthBackend *b);
extern char *health_backend_text(const HealthBackend *b, const char *s,
								 int maxlen);
extern void health_connections_count(const HealthActivity *a,
									 HealthConnections *c);
extern const char *health_backend_state_name(BackendState state);
extern double health_statement_ms(const HealthActivity *a,
								  const HealthBackend *b);
extern double health_transaction_ms(const HealthActivity *a,
									const HealthBackend *b);
extern const HealthBackend *health_activity_find(const HealthActivity *a,
												 int pid);

/* locks.c */
extern int	health_lock_waits_collect(const HealthActivity *a,
									  HealthLockWait **waits);
extern int	health_blocking_pids(int pid, int **pids);

/* horizon.c */
extern void health_horizon_collect(const HealthActivity *a, HealthHorizon *h);

/* tables.c */
extern void health_tables_collect(const HealthActivity *a, int64 min_dead,
								  HealthTables *t);
extern void health_tables_report_collect(const HealthActivity *a,
										 HealthTables *t);
extern bool health_autovacuum_active(void);

/* the oldest datfrozenxid and datminmxid of the cluster */
typedef struct HealthWraparound
{
	int64		xid_age;
	int64		mxid_age;
	NameData	xid_datname;	/* the database with the oldest of each */
	NameData	mxid_datname;
	int			ndatabases;
} HealthWraparound;

extern void health_wraparound_collect(HealthWraparound *w);

/* report.c: a check's thresholds, validated; false (the check unknown,
 * with the reason) when pg_health.SETTING_warning and _critical do not
 * fit together */
extern bool health_check_init(health_check_t *c, const char *setting,
							  const char *unit, health_threshold_t t);

/* disk.c, archiver.c: each writes its own check of health_report() */
extern double pg_health_disk_warning;
extern double pg_health_disk_critical;
extern int	pg_health_archive_age_warning;
extern int	pg_health_archive_age_critical;
extern int	pg_health_archive_ready_warning;
extern int	pg_health_archive_ready_critical;

extern char *health_file_text(const char *s);
extern health_status_t health_report_disk(health_json_t *w);

/* dbsize.c: database sizes, measured by a background worker */
extern int	pg_health_database_sizes_interval;
extern void health_dbsize_init(void);
extern void health_dbsize_shmem_request(void);
extern void health_dbsize_shmem_startup(void);
extern void health_dbsize_report(health_json_t *w);
extern health_status_t health_report_archiver(health_json_t *w);
/* archiver.c: the failures since the last success, sampled by the worker */
#define ARCHWATCH_SAMPLE_MS		250
extern void health_archwatch_shmem_request(void);
extern void health_archwatch_shmem_startup(void);
extern bool health_archiver_runs(void);
extern void health_archwatch_sample(void);
/* statements.c */
extern health_status_t health_statements_report(health_json_t *w);

/* latency.c */
extern void health_latency_init(void);
extern void health_latency_shmem_request(void);
extern void health_latency_shmem_startup(void);
extern health_status_t health_latency_report(health_json_t *w);
/* replication.c: the replication and replication_slots checks */
#include "access/xlogdefs.h"
#include "nodes/pg_list.h"

extern int	pg_health_replication_lag_warning;
extern int	pg_health_replication_lag_critical;
extern int	pg_health_replication_lag_bytes_warning;	/* kB, -1 off */
extern int	pg_health_replication_lag_bytes_critical;
extern char *pg_health_expected_standbys;
extern double pg_health_slot_wal_warning;
extern double pg_health_slot_wal_critical;

/* one row of pg_stat_replication; lags in ms, -1 when not known */
typedef struct HealthStandby
{
	const char *application_name;
	const char *client_addr;
	const char *state;
	const char *sync_state;
	XLogRecPtr	sent_lsn;
	XLogRecPtr	write_lsn;
	XLogRecPtr	flush_lsn;
	XLogRecPtr	replay_lsn;
	double		write_lag_ms;
	double		flush_lag_ms;
	double		replay_lag_ms;
	int64		replay_lag_bytes;	/* the write position minus replay_lsn */
	const char *reason;
	health_status_t status;
} HealthStandby;

typedef struct HealthReplication
{
	bool		standby;		/* this server is in recovery */
	bool		visible;		/* the caller may see the views' details */
	/* a primary */
	XLogRecPtr	current_lsn;
	int			nstandbys;
	HealthStandby *standbys;	/* worst first */
	double		max_lag_ms;
	List	   *expected;		/* pg_health.expected_standbys */
	List	   *missing;		/* of those, the ones not connected */
	int			sync_wanted;	/* synchronous_standby_names' count */
	int			sync_connected;
	/* a standby */
	XLogRecPtr	receive_lsn;
	XLogRecPtr	replay_lsn;
	TimestampTz last_replay;
	double		lag_ms;			/* -1 when not known */
	int64		lag_bytes;
	const char *receiver_state;
	bool		receiver_streaming;
	bool		receiver_expected;	/* primary_conninfo is set */
	const char *sender_host;
	int			sender_port;
} HealthReplication;

typedef struct HealthSlot
{
	const char *name;
	const char *slot_type;
	const char *database;
	const char *wal_status;
	bool		active;
	bool		temporary;
	XLogRecPtr	restart_lsn;
	int64		retained_bytes;
	double		retained_pct;
	const char *reason;
	health_status_t status;
} HealthSlot;

typedef struct HealthSlots
{
	int			nslots;
	HealthSlot *slots;			/* worst first */
	int			inactive;
	int64		max_retained;
	double		max_pct;
	int64		limit_bytes;	/* -1 when not known */
	const char *limit_source;
	const char *statvfs_error;
} HealthSlots;

extern void health_replication_collect(HealthReplication *r, TimestampTz now);
extern health_status_t health_replication_judge(HealthReplication *r,
												const health_threshold_t *t,
												const char **reason);
extern void health_slots_collect(HealthSlots *s);
extern health_status_t health_report_replication(health_json_t *w,
												 TimestampTz now);
extern health_status_t health_report_slots(health_json_t *w);

#endif							/* PG_HEALTH_H */
