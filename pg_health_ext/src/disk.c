/*-------------------------------------------------------------------------
 *
 * disk.c
 *		Disk headroom: the file systems holding the data directory, the WAL
 *		directory and every tablespace.
 *
 * A full file system stops the server (no WAL, no new pages), so the check
 * judges each file system the cluster writes to, the way df reports it:
 * used is blocks - bfree, available is bavail (the root reserve is not
 * available to PostgreSQL), and use% is used / (used + available) rounded
 * up.  Locations on one file system (the same st_dev after following the
 * pg_wal and pg_tblspc symlinks) are judged once and all named.
 *
 * The cost is one stat() and at most one statvfs() per location and one
 * read of pg_tblspc: no file of a relation is opened or stat'ed.  Database
 * sizes (pg_database_size stats every file) are measured by a background
 * worker off this path (dbsize.c); the check shows its last round, and
 * never judges by it.
 * A location that cannot be read (a dangling tablespace link, EACCES) is
 * unknown with the reason; the others are still judged.
 *
 * Absolute paths are shown only to roles that may read data_directory
 * (pg_read_all_settings); others see the kind and name of each location.
 *
 * pg_health_ext/src/disk.c
 *
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "access/xlog_internal.h"
#include "catalog/pg_authid_d.h"
#include "commands/tablespace.h"
#include "common/relpath.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "pg_health.h"

typedef struct HealthDiskLocation
{
	const char *kind;			/* data_directory, pg_wal, tablespace */
	const char *name;			/* a tablespace's name, else NULL */
	const char *path;			/* where the data is (symlink followed) */
	int			fs;				/* index into HealthDisk.fs */
} HealthDiskLocation;

typedef struct HealthDiskFs
{
	dev_t		dev;
	int			index;			/* before sorting */
	int			first;			/* the first location on it */
	int			nlocations;
	uint64		size;
	uint64		used;
	uint64		avail;
	int			used_pct;
	const char *error;			/* strerror of a failed stat or statvfs */
	health_status_t status;
} HealthDiskFs;

typedef struct HealthDisk
{
	int			nlocations;
	int			nfs;
	int			cap;
	HealthDiskLocation *locations;
	HealthDiskFs *fs;			/* worst first, once collected */
	health_threshold_t threshold;
	bool		show_paths;
} HealthDisk;

/* err: the location is known unreadable already (errno) */
static void
disk_add(HealthDisk *d, const char *kind, const char *name,
		 const char *path, int err)
{
	HealthDiskLocation *loc;
	HealthDiskFs *fs;
	struct stat st;
	struct statvfs vfs;
	char		target[MAXPGPATH];
	ssize_t		len;
	int			i;

	if (d->nlocations == d->cap)
	{
		d->cap *= 2;
		d->locations = repalloc(d->locations,
								sizeof(HealthDiskLocation) * d->cap);
		d->fs = repalloc(d->fs, sizeof(HealthDiskFs) * d->cap);
	}

	loc = &d->locations[d->nlocations++];
	loc->kind = kind;
	loc->name = name;

	/* what a symlink points at is where the data is */
	len = readlink(path, target, sizeof(target) - 1);
	if (len > 0)
	{
		target[len] = '\0';
		loc->path = health_file_text(target);
	}
	else
		loc->path = health_file_text(path);

	if (err == 0 && stat(path, &st) == 0)
	{
		for (i = 0; i < d->nfs; i++)
		{
			if (d->fs[i].error == NULL && d->fs[i].dev == st.st_dev)
			{
				loc->fs = i;
				d->fs[i].nlocations++;
				return;
			}
		}
	}

	fs = &d->fs[d->nfs];
	memset(fs, 0, sizeof(HealthDiskFs));
	loc->fs = d->nfs++;
	fs->nlocations = 1;
	fs->first = d->nlocations - 1;

	if (err != 0 || stat(path, &st) != 0 || statvfs(path, &vfs) != 0)
	{
		fs->error = health_file_text(strerror(err != 0 ? err : errno));
		fs->status = HEALTH_UNKNOWN;
		return;
	}

	fs->dev = st.st_dev;
	fs->size = (uint64) vfs.f_blocks * vfs.f_frsize;
	fs->used = (uint64) (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
	fs->avail = (uint64) vfs.f_bavail * vfs.f_frsize;

	/* df: used / (used + available), rounded up; "-" (here 0) when empty */
	if (fs->used + fs->avail == 0)
		fs->used_pct = 0;
	else
	{
		uint64		u = (uint64) (vfs.f_blocks - vfs.f_bfree);
		uint64		ua = u + (uint64) vfs.f_bavail;

		fs->used_pct = (int) ((u * 100 + ua - 1) / ua);
	}
	fs->status = health_threshold_eval(&d->threshold, fs->used_pct);
}

/* unhealthy, degraded, unknown, healthy; then fuller first */
static int
disk_rank(health_status_t s)
{
	switch (s)
	{
		case HEALTH_UNHEALTHY:
			return 0;
		case HEALTH_DEGRADED:
			return 1;
		case HEALTH_UNKNOWN:
			return 2;
		default:
			return 3;
	}
}

static int
disk_fs_cmp(const void *x, const void *y)
{
	const HealthDiskFs *a = x;
	const HealthDiskFs *b = y;

	if (disk_rank(a->status) != disk_rank(b->status))
		return disk_rank(a->status) - disk_rank(b->status);
	if (a->used_pct != b->used_pct)
		return b->used_pct - a->used_pct;

	return a->first - b->first;
}

/*
 * Every location and the file system it is on, file systems worst first.
 * Tablespaces are found as pg_tblspc/<oid> symlinks, as the server itself
 * finds them; all are judged, the report lists a bounded number.
 */
static void
disk_collect(HealthDisk *d)
{
	char		path[MAXPGPATH];
	DIR		   *dir;
	struct dirent *de;
	int		   *order;
	HealthDiskFs *sorted;
	int			i;

	memset(d, 0, sizeof(HealthDisk));
	d->cap = 8;
	d->locations = palloc(sizeof(HealthDiskLocation) * d->cap);
	d->fs = palloc(sizeof(HealthDiskFs) * d->cap);
	d->threshold = health_threshold(pg_health_disk_warning,
									pg_health_disk_critical);
	d->show_paths = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_SETTINGS);

	disk_add(d, "data_directory", NULL, DataDir, 0);
	snprintf(path, sizeof(path), "%s/%s", DataDir, XLOGDIR);
	disk_add(d, "pg_wal", NULL, path, 0);

	/* tablespaces that cannot be listed cannot be judged: say so */
	snprintf(path, sizeof(path), "%s/%s", DataDir, "pg_tblspc");
	dir = AllocateDir(path);
	if (dir == NULL)
		disk_add(d, "pg_tblspc", NULL, path, errno);
	while ((de = ReadDirExtended(dir, path, LOG)) != NULL)
	{
		char		link[MAXPGPATH];
		Oid			spcoid;
		char	   *name;

		if (strspn(de->d_name, "0123456789") != strlen(de->d_name)
			|| de->d_name[0] == '\0')
			continue;

		spcoid = atooid(de->d_name);
		name = get_tablespace_name(spcoid);
		if (name == NULL)
			name = psprintf("%u", spcoid);

		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		disk_add(d, "tablespace", name, link, 0);
	}
	if (dir != NULL)
		FreeDir(dir);

	/* sort the file systems and renumber the locations' references */
	sorted = palloc(sizeof(HealthDiskFs) * Max(d->nfs, 1));
	memcpy(sorted, d->fs, sizeof(HealthDiskFs) * d->nfs);
	for (i = 0; i < d->nfs; i++)
		sorted[i].index = i;
	qsort(sorted, d->nfs, sizeof(HealthDiskFs), disk_fs_cmp);

	order = palloc(sizeof(int) * Max(d->nfs, 1));
	for (i = 0; i < d->nfs; i++)
		order[sorted[i].index] = i;
	for (i = 0; i < d->nlocations; i++)
		d->locations[i].fs = order[d->locations[i].fs];

	d->fs = sorted;
}

/* "pg_wal", "data_directory", "tablespace ts" */
static const char *
disk_location_name(const HealthDiskLocation *loc)
{
	if (loc->name == NULL)
		return loc->kind;

	return psprintf("%s %s", loc->kind, quote_identifier(loc->name));
}

/* the names of the locations on a file system, at most a few */
static char *
disk_fs_names(const HealthDisk *d, int fs)
{
	StringInfoData buf;
	int			n = 0;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < d->nlocations; i++)
	{
		if (d->locations[i].fs != fs)
			continue;
		if (n == PG_HEALTH_REPORT_ITEMS)
		{
			appendStringInfoString(&buf, ", ...");
			break;
		}
		appendStringInfo(&buf, "%s%s", n > 0 ? ", " : "",
						 disk_location_name(&d->locations[i]));
		n++;
	}

	return buf.data;
}

static void
disk_write_fs(health_json_t *w, const HealthDisk *d, int fs)
{
	const HealthDiskFs *f = &d->fs[fs];
	int			n = 0;
	int			i;

	health_json_object_open(w, NULL);
	health_json_array_open(w, "locations");
	for (i = 0; i < d->nlocations; i++)
	{
		const HealthDiskLocation *loc = &d->locations[i];

		if (loc->fs != fs || n++ >= PG_HEALTH_REPORT_ITEMS)
			continue;

		health_json_object_open(w, NULL);
		health_json_string(w, "kind", loc->kind);
		if (loc->name != NULL)
			health_json_string(w, "name", loc->name);
		if (d->show_paths)
			health_json_string(w, "path", loc->path);
		health_json_object_close(w);
	}
	health_json_array_close(w);
	health_json_integer(w, "locations_count", f->nlocations);

	if (f->error != NULL)
	{
		health_json_null(w, "size_bytes");
		health_json_null(w, "used_bytes");
		health_json_null(w, "avail_bytes");
		health_json_null(w, "used_pct");
		health_json_string(w, "reason", f->error);
	}
	else
	{
		health_json_integer(w, "size_bytes", (long long) f->size);
		health_json_integer(w, "used_bytes", (long long) f->used);
		health_json_integer(w, "avail_bytes", (long long) f->avail);
		health_json_integer(w, "used_pct", f->used_pct);
	}
	health_json_string(w, "status", health_status_name(f->status));
	health_json_object_close(w);
}

/*
 * The disk check: value is the use% of the fullest file system that could
 * be read; the status the worst file system's, and unknown rather than
 * healthy when some location could not be read.
 */
health_status_t
health_report_disk(health_json_t *w)
{
	HealthDisk	d;
	health_check_t chk;
	health_status_t judged = HEALTH_HEALTHY;
	bool		fit;
	int			fullest = -1;
	int			unknown = -1;
	int			i;

	disk_collect(&d);

	fit = health_check_init(&chk, "disk", "%", d.threshold);
	chk.value = NAN;

	for (i = 0; i < d.nfs; i++)
	{
		if (d.fs[i].error != NULL)
		{
			if (unknown < 0)
				unknown = i;
			continue;
		}
		if (fullest < 0 || d.fs[i].used_pct > d.fs[fullest].used_pct)
			fullest = i;
		judged = health_status_worst(judged, d.fs[i].status);
	}

	if (fullest >= 0)
		chk.value = d.fs[fullest].used_pct;

	if (!fit)
	{
		/* unknown, and the reason names the settings */
	}
	else if (judged != HEALTH_HEALTHY)
	{
		chk.status = judged;
		chk.reason = psprintf("file system of %s is %d%% full",
							  disk_fs_names(&d, 0), d.fs[0].used_pct);
	}
	else if (unknown >= 0)
	{
		/* never a false healthy: what cannot be read cannot be judged */
		chk.status = HEALTH_UNKNOWN;
		chk.reason = psprintf("could not read the file system of %s: %s",
							  disk_fs_names(&d, unknown),
							  d.fs[unknown].error);
	}
	else
		chk.status = HEALTH_HEALTHY;

	health_json_check_open(w, "disk", &chk);
	if (fullest >= 0)
		health_json_string(w, "fullest", disk_fs_names(&d, fullest));
	else
		health_json_null(w, "fullest");
	health_json_integer(w, "file_systems_count", d.nfs);
	health_json_integer(w, "locations_count", d.nlocations);
	health_json_array_open(w, "file_systems");
	for (i = 0; i < d.nfs && i < PG_HEALTH_REPORT_ITEMS; i++)
		disk_write_fs(w, &d, i);
	health_json_array_close(w);
	health_dbsize_report(w);
	health_json_object_close(w);

	return chk.status;
}
