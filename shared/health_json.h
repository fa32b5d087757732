/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the report schema, and a small JSON writer for it.
 *
 * Both the PostgreSQL extension and the nginx module describe a check with
 * the same object: {"status", "value", "unit", "warning", "critical"} plus
 * a "reason" when the check could not judge, and fields of its own.  The
 * writer below emits that shape into a growable buffer whose memory comes
 * from the caller (palloc in PostgreSQL, a pool in nginx), so it needs no
 * allocator of its own and keeps no global state.
 */

#ifndef HEALTH_JSON_H
#define HEALTH_JSON_H

#include <stddef.h>

#include "health_status.h"
#include "health_threshold.h"

/* keys of a check object: the contract of ../shared/design.md */
#define HEALTH_KEY_STATUS    "status"
#define HEALTH_KEY_VALUE     "value"
#define HEALTH_KEY_UNIT      "unit"
#define HEALTH_KEY_WARNING   "warning"
#define HEALTH_KEY_CRITICAL  "critical"
#define HEALTH_KEY_REASON    "reason"
#define HEALTH_KEY_CHECKS    "checks"

#define HEALTH_JSON_MAX_DEPTH  32

/*
 * Grow ptr (old bytes long, NULL at first) to size bytes, keeping its
 * contents; NULL on failure.
 */
typedef void *(*health_grow_pt)(void *ctx, void *ptr, size_t old,
    size_t size);

typedef struct {
    char            *data;
    size_t           len;
    size_t           cap;
    health_grow_pt   grow;
    void            *ctx;
    int              failed;       /* an allocation failed; output is cut */
    unsigned         depth;
    unsigned char    first[HEALTH_JSON_MAX_DEPTH];
} health_json_t;

typedef struct {
    health_status_t      status;
    double               value;    /* NaN: nothing measured, written null */
    const char          *unit;     /* NULL: no unit */
    health_threshold_t   threshold;
    const char          *reason;   /* NULL: no reason to give */
} health_check_t;

void health_json_init(health_json_t *w, health_grow_pt grow, void *ctx);

/* 0 if the document is complete and no allocation failed, -1 otherwise */
int health_json_finish(health_json_t *w);

/* key is NULL inside arrays and for the top-level value */
void health_json_object_open(health_json_t *w, const char *key);
void health_json_object_close(health_json_t *w);
void health_json_array_open(health_json_t *w, const char *key);
void health_json_array_close(health_json_t *w);

void health_json_string(health_json_t *w, const char *key, const char *s);
void health_json_stringn(health_json_t *w, const char *key, const char *s,
    size_t len);
void health_json_number(health_json_t *w, const char *key, double v);
void health_json_integer(health_json_t *w, const char *key, long long v);
void health_json_bool(health_json_t *w, const char *key, int v);
void health_json_null(health_json_t *w, const char *key);
/* an already rendered JSON value, copied as it is */
void health_json_raw(health_json_t *w, const char *key, const char *json,
    size_t len);

/*
 * Open the object of one check under key and write the common fields.  The
 * caller may add fields of its own, then closes it with
 * health_json_object_close().
 */
void health_json_check_open(health_json_t *w, const char *key,
    const health_check_t *c);

#endif /* HEALTH_JSON_H */
