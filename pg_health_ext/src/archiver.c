/*-------------------------------------------------------------------------
 *
 * archiver.c
 *		WAL archiving: is archive_command (archive_library) keeping up?
 *
 * WAL that is not archived is not in the backups, and pg_wal grows until
 * it is: a failing archive_command fills the disk.  The check reads what
 * pg_stat_archiver shows (the cumulative statistics) and what waits in
 * pg_wal/archive_status:
 *	- failing: the last failure is newer than the last success, as the
 *	  documentation of pg_stat_archiver reads it: unhealthy, naming the
 *	  segment.  failed_count is the server's count since the statistics
 *	  were reset.
 *	- failed_since_success: the failures since the last success.  The
 *	  server keeps no such count; the background worker (dbsize.c) samples
 *	  pg_stat_archiver every ARCHWATCH_SAMPLE_MS and keeps it (see
 *	  archwatch_advance for when it is exact), and the report carries the
 *	  worker's last sample forward to its own read of the view.  Without
 *	  the worker it is 0 when the last attempt succeeded and null when it
 *	  failed: none is made up.
 *	- ready: the .ready files, WAL completed and not yet archived
 *	  (check_postgres' archive_ready: warning 10, critical 15).
 *	- value: how long the oldest of them has waited (the mtime of its
 *	  .ready file, written when the segment was completed), judged
 *	  against pg_health.archive_age_*.  Not the age of the last archived
 *	  segment: an idle server archives nothing for hours and is fine.
 * archive_mode off, or on for a standby (which archives only with
 * always), is healthy: nothing is meant to be archived here.
 *
 * archive_status is read once, at most PG_HEALTH_ARCHIVE_SCAN entries,
 * and one file (the oldest waiting, by name) is stat'ed.
 *
 * pg_health_ext/src/archiver.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/stat.h>

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "pg_health.h"

/* directory entries of archive_status read at most */
#define PG_HEALTH_ARCHIVE_SCAN	100000

typedef struct HealthArchiveReady
{
	int			count;
	bool		truncated;		/* more entries than were read */
	char		oldest[MAXPGPATH];	/* "" when none waits */
	TimestampTz oldest_since;	/* 0 if unknown */
} HealthArchiveReady;

/*
 * What the worker last saw of pg_stat_archiver, and the failures since the
 * last success as of then.
 */
typedef struct ArchWatch
{
	bool		valid;			/* a sample was taken (or restored) */
	bool		exact;			/* streak is the count, not its least */
	TimestampTz sampled;		/* when the worker read the statistics */
	int64		streak;			/* failures since the last success */
	PgStat_Counter archived_count;
	PgStat_Counter failed_count;
	TimestampTz last_archived;
	TimestampTz last_failed;
	TimestampTz stats_reset;
} ArchWatch;

typedef struct ArchWatchShared
{
	slock_t		mutex;
	ArchWatch	w;
} ArchWatchShared;

/* kept across a clean restart, as pg_stat_statements keeps its entries */
#define ARCHWATCH_FILE		"pg_stat/pg_health_archiver.stat"
#define ARCHWATCH_MAGIC		0x70676861	/* "pgha" */

static ArchWatchShared *archwatch = NULL;

/* the last attempt failed: the last failure is newer than the last success */
static bool
archwatch_failing(const PgStat_ArchiverStats *s)
{
	return s->last_failed_timestamp != 0
		&& s->last_failed_timestamp > s->last_archived_timestamp;
}

/*
 * Carry the failures since the last success from the sample st to the
 * statistics s, read later.  PostgreSQL's archiver (pgarch.c) archives one
 * segment at a time; a failed attempt that is not the segment's third is
 * followed by a pg_usleep of one second before the retry.  So between two
 * reads:
 *	- the last attempt succeeded: 0, exactly;
 *	- no success: the streak grows by the failures counted in between,
 *	  and stays exact if it was;
 *	- successes and then failures: only the failures after the last
 *	  success count.  The first attempt at the next segment is followed by
 *	  a second's sleep, so a last failure less than a second after the last
 *	  success is that first attempt: 1, exactly.  Otherwise the split is
 *	  not known: at least 1, not exact.
 * With no earlier read of these statistics (no sample yet, or they were
 * reset since), a failing archiver has failed at least once since its last
 * success, at least failed_count times if it has never succeeded since the
 * reset.  Statistics with no attempt at all since their reset (a crash
 * resets them too) say 0, but not exactly: what failed before is gone,
 * and the failures counted from there on are a lower bound.
 */
static void
archwatch_advance(ArchWatch *st, const PgStat_ArchiverStats *s)
{
	bool		failing = archwatch_failing(s);

	if (!failing)
	{
		/* no attempt at all since the reset: earlier ones are not known */
		st->streak = 0;
		st->exact = s->last_archived_timestamp != 0;
	}
	else if (!st->valid
			 || s->stat_reset_timestamp != st->stats_reset
			 || s->archived_count < st->archived_count
			 || s->failed_count < st->failed_count)
	{
		st->streak = s->last_archived_timestamp == 0
			? Max(s->failed_count, 1) : 1;
		st->exact = false;
	}
	else if (s->archived_count == st->archived_count)
		st->streak += s->failed_count - st->failed_count;
	else
	{
		st->streak = 1;
		st->exact = s->last_failed_timestamp - s->last_archived_timestamp
			< USECS_PER_SEC;
	}

	st->valid = true;
	st->archived_count = s->archived_count;
	st->failed_count = s->failed_count;
	st->last_archived = s->last_archived_timestamp;
	st->last_failed = s->last_failed_timestamp;
	st->stats_reset = s->stat_reset_timestamp;
}

/* at the postmaster's exit, a clean one only */
static void
archwatch_save(int code, Datum arg)
{
	FILE	   *f;
	uint32		magic = ARCHWATCH_MAGIC;
	ArchWatch	w;

	if (code != 0 || archwatch == NULL)
		return;
	SpinLockAcquire(&archwatch->mutex);
	w = archwatch->w;
	SpinLockRelease(&archwatch->mutex);
	if (!w.valid)
		return;

	f = AllocateFile(ARCHWATCH_FILE ".tmp", PG_BINARY_W);
	if (f != NULL)
	{
		bool		written = fwrite(&magic, sizeof(magic), 1, f) == 1
			&& fwrite(&w, sizeof(w), 1, f) == 1;

		/* FreeFile flushes: its failure is a failed write too */
		if (FreeFile(f) == 0 && written)
		{
			(void) durable_rename(ARCHWATCH_FILE ".tmp", ARCHWATCH_FILE, LOG);
			return;
		}
	}
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("pg_health could not write \"%s\": %m",
					ARCHWATCH_FILE ".tmp")));
	unlink(ARCHWATCH_FILE ".tmp");
}

/* the last run's sample, if it ended cleanly; the file is removed */
static void
archwatch_restore(void)
{
	FILE	   *f;
	uint32		magic;
	ArchWatch	w;

	f = AllocateFile(ARCHWATCH_FILE, PG_BINARY_R);
	if (f == NULL)
		return;
	if (fread(&magic, sizeof(magic), 1, f) == 1 && magic == ARCHWATCH_MAGIC
		&& fread(&w, sizeof(w), 1, f) == 1 && w.valid
		&& fgetc(f) == EOF)
		archwatch->w = w;
	FreeFile(f);
	unlink(ARCHWATCH_FILE);
}

void
health_archwatch_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(ArchWatchShared)));
}

/* in the shared memory startup, under AddinShmemInitLock */
void
health_archwatch_shmem_startup(void)
{
	bool		found;

	archwatch = ShmemInitStruct("pg_health archiver watch",
								sizeof(ArchWatchShared), &found);
	if (!found)
	{
		memset(archwatch, 0, sizeof(ArchWatchShared));
		SpinLockInit(&archwatch->mutex);
		if (!IsUnderPostmaster)
			archwatch_restore();
	}
	if (!IsUnderPostmaster)
		on_shmem_exit(archwatch_save, (Datum) 0);
}

/*
 * Whether this server runs an archiver, as the postmaster decides it:
 * archive_mode = always, or on outside recovery (a standby with "on"
 * starts archiving when it is promoted).
 */
bool
health_archiver_runs(void)
{
	return XLogArchiveMode == ARCHIVE_MODE_ALWAYS
		|| (XLogArchiveMode == ARCHIVE_MODE_ON && !RecoveryInProgress());
}

/*
 * The worker's sample: pg_stat_archiver read afresh (not the cached
 * snapshot of the last read).  Only the worker writes the sample.
 */
void
health_archwatch_sample(void)
{
	PgStat_ArchiverStats *s;
	ArchWatch	w;

	if (archwatch == NULL || !health_archiver_runs())
		return;

	SpinLockAcquire(&archwatch->mutex);
	w = archwatch->w;
	SpinLockRelease(&archwatch->mutex);

	/* taken before the read: a sample is never older than its time */
	w.sampled = GetCurrentTimestamp();
	pgstat_clear_snapshot();
	s = pgstat_fetch_stat_archiver();
	archwatch_advance(&w, s);

	SpinLockAcquire(&archwatch->mutex);
	archwatch->w = w;
	SpinLockRelease(&archwatch->mutex);
}

/*
 * The failures since the last success as of s, the report's read: the
 * worker's last sample carried forward.  false: not known at all (no
 * worker, and the archiver is failing).
 */
static bool
archwatch_since_success(const PgStat_ArchiverStats *s, int64 *n, bool *exact,
						TimestampTz *sampled)
{
	ArchWatch	w;

	memset(&w, 0, sizeof(w));
	if (archwatch != NULL)
	{
		SpinLockAcquire(&archwatch->mutex);
		w = archwatch->w;
		SpinLockRelease(&archwatch->mutex);
	}
	*sampled = w.valid ? w.sampled : 0;
	if (archwatch == NULL && archwatch_failing(s))
		return false;

	archwatch_advance(&w, s);
	*n = w.streak;
	*exact = w.exact;
	return true;
}

static void
archive_ready_collect(HealthArchiveReady *r)
{
	char		path[MAXPGPATH];
	char		file[MAXPGPATH];
	DIR		   *dir;
	struct dirent *de;
	struct stat st;
	int			scanned = 0;
	size_t		len;

	memset(r, 0, sizeof(HealthArchiveReady));
	snprintf(path, sizeof(path), "%s/%s/archive_status", DataDir, XLOGDIR);

	dir = AllocateDir(path);
	while ((de = ReadDirExtended(dir, path, LOG)) != NULL)
	{
		if (++scanned > PG_HEALTH_ARCHIVE_SCAN)
		{
			r->truncated = true;
			break;
		}

		len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".ready") != 0)
			continue;

		r->count++;
		if (len - 6 < sizeof(r->oldest)
			&& (r->oldest[0] == '\0'
				|| strncmp(de->d_name, r->oldest, len - 6) < 0))
		{
			memcpy(r->oldest, de->d_name, len - 6);
			r->oldest[len - 6] = '\0';
		}
	}
	if (dir != NULL)
		FreeDir(dir);

	if (r->oldest[0] == '\0')
		return;

	snprintf(file, sizeof(file), "%s/%s.ready", path, r->oldest);
	if (stat(file, &st) == 0)
		r->oldest_since = time_t_to_timestamptz(st.st_mtime);
}

static void
archive_timestamp(health_json_t *w, const char *key, TimestampTz ts)
{
	char		buf[64];

	health_json_string(w, key, health_format_timestamp(ts, buf, sizeof(buf)));
}

static void
archive_wal(health_json_t *w, const char *key, const char *name)
{
	if (name[0] == '\0')
		health_json_null(w, key);
	else
		health_json_string(w, key,
						   health_file_text(pnstrdup(name, MAX_XFN_CHARS)));
}

health_status_t
health_report_archiver(health_json_t *w)
{
	PgStat_ArchiverStats *s = pgstat_fetch_stat_archiver();
	HealthArchiveReady r;
	health_check_t chk;
	health_check_t ready_chk;
	health_threshold_t ready_t;
	TimestampTz now = GetCurrentTimestamp();
	const char *mode = GetConfigOption("archive_mode", false, false);
	char		buf[64];
	bool		fit;
	bool		active;
	bool		failing;
	bool		since_known;
	bool		since_exact = false;
	int64		since = 0;
	TimestampTz sampled;
	double		age_s = 0.0;

	active = health_archiver_runs();
	failing = archwatch_failing(s);
	since_known = archwatch_since_success(s, &since, &since_exact, &sampled);

	if (active)
		archive_ready_collect(&r);
	else
		memset(&r, 0, sizeof(HealthArchiveReady));
	if (r.oldest_since != 0)
		age_s = health_ms_between(r.oldest_since, now) / 1000.0;

	fit = health_check_init(&chk, "archive_age", "s",
							health_threshold(pg_health_archive_age_warning,
											 pg_health_archive_age_critical));
	chk.value = rint(age_s * 1000.0) / 1000.0;
	ready_t = health_threshold(pg_health_archive_ready_warning,
							   pg_health_archive_ready_critical);

	/* the .ready count is judged too: its thresholds must fit as well */
	if (fit && !health_check_init(&ready_chk, "archive_ready", NULL, ready_t))
	{
		chk.status = ready_chk.status;
		chk.reason = ready_chk.reason;
		fit = false;
	}

	if (!fit)
	{
		/* unknown, and the reason names the settings */
	}
	else if (!active)
	{
		chk.status = HEALTH_HEALTHY;
		chk.reason = XLogArchiveMode == ARCHIVE_MODE_OFF
			? "archive_mode is off"
			: "archive_mode is on: a standby archives only with archive_mode = always";
	}
	else
	{
		health_status_t by_age = health_threshold_eval(&chk.threshold, age_s);
		health_status_t by_ready = health_threshold_eval(&ready_t, r.count);

		chk.status = health_status_worst(by_age, by_ready);
		if (failing)
		{
			const char *wal = health_file_text(pnstrdup(s->last_failed_wal,
														MAX_XFN_CHARS));
			const char *at = health_format_timestamp(s->last_failed_timestamp,
													 buf, sizeof(buf));

			chk.status = HEALTH_UNHEALTHY;
			if (since_known)
				chk.reason = psprintf("archiving has failed %s%lld %s since the last success, the last time for WAL file %s at %s",
									  since_exact ? "" : "at least ",
									  (long long) since,
									  since == 1 ? "time" : "times", wal, at);
			else
				chk.reason = psprintf("archiving failed for WAL file %s at %s and has not succeeded since",
									  wal, at);
		}
		else if (by_age != HEALTH_HEALTHY && by_age == chk.status)
			chk.reason = psprintf("WAL file %s has waited %.0f s to be archived",
								  health_file_text(r.oldest), age_s);
		else if (chk.status != HEALTH_HEALTHY)
			chk.reason = psprintf("%d WAL files wait to be archived", r.count);
	}

	health_json_check_open(w, "archiver", &chk);
	health_json_string(w, "archive_mode", mode);
	health_json_bool(w, "active", active);
	health_json_bool(w, "failing", failing);
	health_json_integer(w, "ready", r.count);
	health_json_bool(w, "ready_truncated", r.truncated);
	health_json_integer(w, "ready_warning", pg_health_archive_ready_warning);
	health_json_integer(w, "ready_critical", pg_health_archive_ready_critical);
	if (r.oldest[0] != '\0')
		health_json_string(w, "oldest_ready_wal", health_file_text(r.oldest));
	else
		health_json_null(w, "oldest_ready_wal");
	health_json_integer(w, "archived_count", s->archived_count);
	archive_wal(w, "last_archived_wal", s->last_archived_wal);
	archive_timestamp(w, "last_archived_time", s->last_archived_timestamp);
	if (s->last_archived_timestamp != 0)
		health_json_number(w, "last_archived_age_s",
						   rint(health_ms_between(s->last_archived_timestamp,
												  now)) / 1000.0);
	else
		health_json_null(w, "last_archived_age_s");
	health_json_integer(w, "failed_count", s->failed_count);
	if (since_known)
	{
		health_json_integer(w, "failed_since_success", since);
		health_json_bool(w, "failed_since_success_exact", since_exact);
	}
	else
	{
		health_json_null(w, "failed_since_success");
		health_json_null(w, "failed_since_success_exact");
	}
	if (sampled != 0)
		archive_timestamp(w, "sampled_at", sampled);
	else
		health_json_null(w, "sampled_at");
	archive_wal(w, "last_failed_wal", s->last_failed_wal);
	archive_timestamp(w, "last_failed_time", s->last_failed_timestamp);
	archive_timestamp(w, "stats_reset", s->stat_reset_timestamp);
	health_json_object_close(w);

	return chk.status;
}
