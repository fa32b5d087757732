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
 *	  were reset; the server keeps no count since the last success, so
 *	  none is made up.
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
	double		age_s = 0.0;

	active = XLogArchiveMode == ARCHIVE_MODE_ALWAYS
		|| (XLogArchiveMode == ARCHIVE_MODE_ON && !RecoveryInProgress());
	failing = s->last_failed_timestamp != 0
		&& s->last_failed_timestamp > s->last_archived_timestamp;

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
			chk.status = HEALTH_UNHEALTHY;
			chk.reason = psprintf("archiving failed for WAL file %s at %s and has not succeeded since",
								  health_file_text(pnstrdup(s->last_failed_wal,
													   MAX_XFN_CHARS)),
								  health_format_timestamp(s->last_failed_timestamp,
														  buf, sizeof(buf)));
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
	archive_wal(w, "last_failed_wal", s->last_failed_wal);
	archive_timestamp(w, "last_failed_time", s->last_failed_timestamp);
	archive_timestamp(w, "stats_reset", s->stat_reset_timestamp);
	health_json_object_close(w);

	return chk.status;
}
