/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: verdicts that hold before they change.
 *
 *   health_rule ... [for=TIME] [recover=TIME];   (and health_postgres,
 *   health_redis)
 *
 * As in Prometheus: a worse state must be seen at every evaluation for
 * "for" before the check moves to it (pending until then), a better one
 * for "recover" (by default at once, as an alert resolves at once unless
 * keep_firing_for is given).  Each level is timed on its own: an error
 * rate that goes between degraded and unhealthy for "for" makes the check
 * at least degraded, whichever of the two it is at that moment.  A check
 * starts healthy with its first raw state pending, as an alert starts
 * pending: there is nothing to hold against yet.
 *
 * Hazards:
 *
 *  - Several workers judge the same check; a judgement whose reads began
 *    before the last one applied is not applied (it would move the state
 *    back in time).  Everything is under the zone's mutex: the critical
 *    section is a hash lookup and a few stores.
 *
 *  - Durations come from CLOCK_MONOTONIC, one clock for every process of
 *    the machine, so that a wall-clock step neither fires nor delays a
 *    hold; the wall clock only dates "since" and "until" for display.
 *
 *  - A reload must not restart a hold: the zone has a fixed size, so nginx
 *    hands the same memory to the new cycle, and its name changes with
 *    the layout of a node, so a module of another layout starts afresh.
 *    A check no longer configured is no longer judged; after a minute
 *    without a judgement (the verdict's timer judges every held check at
 *    least once a second) its node may be taken by another check.
 *
 *  - The table is bounded (NGX_HTTP_HEALTH_HOLD_MAX): a check that finds
 *    no room is judged without its hold, and that is logged once.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_hold.h"


/* a node not judged for this long belongs to a check no longer there */
#define NGX_HTTP_HEALTH_HOLD_STALE   60000000    /* us */

/* levels: healthy, degraded (and unknown), unhealthy */
#define NGX_HTTP_HEALTH_HOLD_LEVELS  3


typedef struct {
    uint32_t                     hash;           /* 0: never used */
    u_char                       len;
    u_char                       status;         /* the held verdict */
    u_char                       raw;            /* of the last judgement */
    u_char                       pad;
    uint64_t                     judged;         /* monotonic us */
    uint64_t                     since;          /* monotonic us */
    uint64_t                     since_wall;     /* ms */

    /*
     * since when every judgement found the raw level at least (worse) or
     * at most (better) k; 0: the last one did not
     */
    uint64_t                     worse[NGX_HTTP_HEALTH_HOLD_LEVELS];
    uint64_t                     better[NGX_HTTP_HEALTH_HOLD_LEVELS];

    u_char                       name[NGX_HTTP_HEALTH_HOLD_NAME_LEN];
} ngx_http_health_hold_node_t;


typedef struct {
    uint64_t                     ticked;         /* monotonic us */
    ngx_uint_t                   full_logged;
    ngx_http_health_hold_node_t  nodes[NGX_HTTP_HEALTH_HOLD_MAX];
} ngx_http_health_hold_shctx_t;


/* a judgement's result, carried out of the mutex */
typedef struct {
    ngx_uint_t                   moved;
    health_status_t              from;
    uint64_t                     after_ms;
} ngx_http_health_hold_move_t;


static ngx_int_t ngx_http_health_hold_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_health_hold_node_t *ngx_http_health_hold_lookup(
    ngx_http_health_hold_shctx_t *sh, ngx_str_t *name, uint64_t now);
static void ngx_http_health_hold_judge(ngx_http_health_hold_node_t *node,
    health_status_t raw, ngx_http_health_hold_t *hold, uint64_t now,
    uint64_t wall, ngx_http_health_hold_move_t *move);
static void ngx_http_health_hold_show(ngx_http_health_hold_node_t *node,
    ngx_http_health_hold_t *hold, uint64_t now, uint64_t wall,
    ngx_http_health_held_t *held);


/* a tag of its own: the counters' segment is found by the module's tag */
static ngx_uint_t  ngx_http_health_hold_tag;


#define ngx_http_health_hold_level(s)                                         \
    ((s) == HEALTH_UNKNOWN ? 1 : (ngx_uint_t) (s))


ngx_int_t
ngx_http_health_hold_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_health_hold_t *hold)
{
    size_t                        size;
    uint64_t                      us;
    ngx_str_t                     v, name, *args;
    ngx_msec_t                   *t;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_health_main_conf_t  *hmcf;

    if (value->len >= 4 && ngx_strncmp(value->data, "for=", 4) == 0) {
        v.data = value->data + 4;
        v.len = value->len - 4;
        t = &hold->for_ms;

    } else if (value->len >= 8
               && ngx_strncmp(value->data, "recover=", 8) == 0)
    {
        v.data = value->data + 8;
        v.len = value->len - 8;
        t = &hold->recover_ms;

    } else {
        return NGX_DECLINED;
    }

    args = cf->args->elts;

    /* judged about once a second: a shorter hold would mean nothing */
    if (ngx_http_health_parse_usec(&v, &us) != NGX_OK
        || us < 1000000 || us > 86400000000ULL || us % 1000)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time from 1s to 1d", value,
                           &args[0]);
        return NGX_ERROR;
    }

    *t = (ngx_msec_t) (us / 1000);

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    if (hmcf->hold_zone != NULL) {
        return NGX_OK;
    }

    /*
     * One size whatever the configuration, so that a reload keeps the
     * zone; the layout is in the name.
     */
    name.data = ngx_pnalloc(cf->pool, sizeof("health_hold_") + NGX_INT_T_LEN);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    name.len = ngx_sprintf(name.data, "health_hold_%uz",
                           sizeof(ngx_http_health_hold_node_t))
               - name.data;

    size = ngx_align(sizeof(ngx_http_health_hold_shctx_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_health_hold_tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_health_hold_init_zone;
    hmcf->hold_zone = shm_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_hold_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t               *shpool;
    ngx_http_health_hold_shctx_t  *sh;

    if (data != NULL) {
        /* the same name and size: the same layout, the held states stay */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_health_hold_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


ngx_int_t
ngx_http_health_hold_eval(ngx_http_health_report_t *rep, ngx_str_t *name,
    health_status_t raw, ngx_http_health_hold_t *hold,
    ngx_http_health_held_t *held)
{
    uint64_t                       now, wall;
    ngx_uint_t                     full;
    ngx_slab_pool_t               *shpool;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_health_hold_node_t   *node;
    ngx_http_health_hold_move_t    move;
    ngx_http_health_hold_shctx_t  *sh;

    shm_zone = rep->hmcf->hold_zone;

    if (!ngx_http_health_hold_set(hold) || shm_zone == NULL
        || shm_zone->data == NULL)
    {
        return NGX_DECLINED;
    }

    /*
     * when the report's reads began (later judgements may have applied),
     * and the wall-clock time read with it, which dates "since" and
     * "until": the two readings of one moment
     */
    if (rep->clock) {
        now = rep->clock;
        wall = rep->wall;

    } else {
        now = ngx_http_health_monotonic_usec();
        wall = ngx_http_health_wall_msec();
    }

    now = now ? now : 1;

    sh = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    full = 0;
    move.moved = 0;

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_health_hold_lookup(sh, name, now);

    if (node == NULL) {
        full = !sh->full_logged;
        sh->full_logged = 1;

    } else {
        if (node->judged == 0) {
            /* a new check: healthy, and what it is pending */
            node->status = HEALTH_HEALTHY;
            node->since = now;
            node->since_wall = wall;
        }

        if (now >= node->judged) {
            ngx_http_health_hold_judge(node, raw, hold, now, wall, &move);
        }

        ngx_http_health_hold_show(node, hold, now, wall, held);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (node == NULL) {
        if (full) {
            ngx_log_error(NGX_LOG_WARN, rep->log, 0,
                          "health: no room for the hold of check \"%V\": "
                          "more than %d checks are held, or its name is "
                          "longer than %d; it is judged without its hold",
                          name, NGX_HTTP_HEALTH_HOLD_MAX,
                          NGX_HTTP_HEALTH_HOLD_NAME_LEN - 1);
        }

        return NGX_DECLINED;
    }

    if (move.moved) {
        ngx_log_error(NGX_LOG_NOTICE, rep->log, 0,
                      "health: held check \"%V\" went from %s to %s "
                      "after %uLms",
                      name, health_status_name(move.from),
                      health_status_name(held->status), move.after_ms);
    }

    return NGX_OK;
}


/*
 * Open addressing by the name's hash; a node of a check not judged for a
 * minute is taken over by a new name.  NULL when the table is full.
 */
static ngx_http_health_hold_node_t *
ngx_http_health_hold_lookup(ngx_http_health_hold_shctx_t *sh, ngx_str_t *name,
    uint64_t now)
{
    uint32_t                      hash;
    ngx_uint_t                    i, n;
    ngx_http_health_hold_node_t  *node, *free;

    if (name->len == 0 || name->len >= NGX_HTTP_HEALTH_HOLD_NAME_LEN) {
        return NULL;
    }

    hash = ngx_crc32_short(name->data, name->len) | 1;
    free = NULL;

    for (n = 0, i = hash % NGX_HTTP_HEALTH_HOLD_MAX;
         n < NGX_HTTP_HEALTH_HOLD_MAX;
         n++, i = (i + 1) % NGX_HTTP_HEALTH_HOLD_MAX)
    {
        node = &sh->nodes[i];

        if (node->hash == 0) {
            if (free == NULL) {
                free = node;
            }

            break;
        }

        if (node->hash == hash && node->len == name->len
            && ngx_memcmp(node->name, name->data, name->len) == 0)
        {
            if (now > node->judged
                && now - node->judged > NGX_HTTP_HEALTH_HOLD_STALE)
            {
                /* not configured for a while: starts afresh */
                free = node;
                break;
            }

            return node;
        }

        if (free == NULL && now > node->judged
            && now - node->judged > NGX_HTTP_HEALTH_HOLD_STALE)
        {
            free = node;
        }
    }

    if (free == NULL) {
        return NULL;
    }

    ngx_memzero(free, sizeof(ngx_http_health_hold_node_t));

    free->hash = hash;
    free->len = (u_char) name->len;
    ngx_memcpy(free->name, name->data, name->len);

    return free;
}


static void
ngx_http_health_hold_judge(ngx_http_health_hold_node_t *node,
    health_status_t raw, ngx_http_health_hold_t *hold, uint64_t now,
    uint64_t wall, ngx_http_health_hold_move_t *move)
{
    uint64_t    wait;
    ngx_int_t   k, to;
    ngx_uint_t  r, h;

    node->judged = now;
    node->raw = (u_char) raw;

    r = ngx_http_health_hold_level(raw);
    h = ngx_http_health_hold_level((health_status_t) node->status);

    for (k = 0; k < NGX_HTTP_HEALTH_HOLD_LEVELS; k++) {
        if (r >= (ngx_uint_t) k) {
            node->worse[k] = node->worse[k] ? node->worse[k] : now;

        } else {
            node->worse[k] = 0;
        }

        if (r <= (ngx_uint_t) k) {
            node->better[k] = node->better[k] ? node->better[k] : now;

        } else {
            node->better[k] = 0;
        }
    }

    to = -1;

    if (r > h) {
        /* the worst level that has held long enough */
        wait = (uint64_t) hold->for_ms * 1000;

        for (k = r; k > (ngx_int_t) h; k--) {
            if (now - node->worse[k] >= wait) {
                to = k;
                break;
            }
        }

    } else if (r < h) {
        /* the best level that has held long enough */
        wait = (uint64_t) hold->recover_ms * 1000;

        for (k = r; k < (ngx_int_t) h; k++) {
            if (now - node->better[k] >= wait) {
                to = k;
                break;
            }
        }

    } else if (raw != node->status) {
        /* unknown and degraded weigh the same: nothing to hold */
        to = r;
    }

    if (to < 0) {
        return;
    }

    move->moved = 1;
    move->from = node->status;
    move->after_ms = (now - node->since) / 1000;

    node->status = ((ngx_uint_t) to == r) ? (u_char) raw : (u_char) to;
    node->since = now;
    node->since_wall = wall;
}


static void
ngx_http_health_hold_show(ngx_http_health_hold_node_t *node,
    ngx_http_health_hold_t *hold, uint64_t now, uint64_t wall,
    ngx_http_health_held_t *held)
{
    uint64_t    start, wait;
    ngx_uint_t  r, h;

    held->status = (health_status_t) node->status;
    held->since = node->since_wall;
    held->held_ms = now > node->since ? (now - node->since) / 1000 : 0;
    held->has_pending = 0;

    r = ngx_http_health_hold_level((health_status_t) node->raw);
    h = ngx_http_health_hold_level((health_status_t) node->status);

    if (r == h) {
        return;
    }

    /* when the raw state itself takes effect if it stays */
    if (r > h) {
        start = node->worse[r];
        wait = (uint64_t) hold->for_ms * 1000;

    } else {
        start = node->better[r];
        wait = (uint64_t) hold->recover_ms * 1000;
    }

    held->has_pending = 1;
    held->pending = (health_status_t) node->raw;
    held->until = wall;

    if (start + wait > now) {
        held->until += (start + wait - now + 999) / 1000;
    }
}


u_char *
ngx_http_health_hold_write(u_char *p, ngx_http_health_held_t *held)
{
    const char  *word;

    p = ngx_cpymem(p, ",\"since\":\"", sizeof(",\"since\":\"") - 1);
    p = ngx_http_health_iso8601(p, (time_t) (held->since / 1000),
                                held->since % 1000);
    p = ngx_cpymem(p, "\",\"held_s\":", sizeof("\",\"held_s\":") - 1);
    p = ngx_http_health_write_uint(p, held->held_ms / 1000);

    if (!held->has_pending) {
        return p;
    }

    word = health_status_name(held->pending);

    p = ngx_cpymem(p, ",\"pending\":{\"status\":\"",
                   sizeof(",\"pending\":{\"status\":\"") - 1);
    p = ngx_cpymem(p, word, ngx_strlen(word));
    p = ngx_cpymem(p, "\",\"until\":\"", sizeof("\",\"until\":\"") - 1);
    p = ngx_http_health_iso8601(p, (time_t) (held->until / 1000),
                                held->until % 1000);

    return ngx_cpymem(p, "\"}", 2);
}


void
ngx_http_health_hold_json(json_t *obj, ngx_http_health_held_t *held)
{
    u_char   buf[NGX_HTTP_HEALTH_ISO8601_LEN], *p;
    json_t  *pending;

    if (obj == NULL) {
        return;
    }

    p = ngx_http_health_iso8601(buf, (time_t) (held->since / 1000),
                                held->since % 1000);
    (void) json_object_set_new(obj, "since",
                               json_stringn((char *) buf, p - buf));
    (void) json_object_set_new(obj, "held_s",
                               json_integer(held->held_ms / 1000));

    if (!held->has_pending) {
        return;
    }

    pending = json_object();
    if (pending == NULL) {
        return;
    }

    p = ngx_http_health_iso8601(buf, (time_t) (held->until / 1000),
                                held->until % 1000);
    (void) json_object_set_new(pending, "status",
                               json_string(health_status_name(held->pending)));
    (void) json_object_set_new(pending, "until",
                               json_stringn((char *) buf, p - buf));
    (void) json_object_set_new(obj, "pending", pending);
}


ngx_int_t
ngx_http_health_report_add_held(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj,
    ngx_http_health_hold_t *hold)
{
    ngx_http_health_held_t  held;

    if (ngx_http_health_hold_eval(rep, name, status, hold, &held) == NGX_OK) {
        ngx_http_health_hold_json(obj, &held);
        status = held.status;
    }

    return ngx_http_health_report_add_check(rep, name, status, obj);
}


ngx_int_t
ngx_http_health_report_add_dependency(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj,
    ngx_http_health_hold_t *hold, ngx_flag_t required)
{
    ngx_int_t               rc;
    health_status_t         before;
    ngx_http_health_held_t  held;

    /* a held check: its held status stands for it everywhere */
    if (ngx_http_health_hold_eval(rep, name, status, hold, &held) == NGX_OK) {
        ngx_http_health_hold_json(obj, &held);
        status = held.status;
    }

    before = rep->status;

    rc = ngx_http_health_report_add_check(rep, name, status, obj);

    if (rc == NGX_OK && !rep->selected) {
        rep->status = health_status_worst(before,
                                          required
                                          ? status
                                          : health_status_cap(status,
                                                             HEALTH_DEGRADED));
    }

    return rc;
}


ngx_uint_t
ngx_http_health_hold_due(ngx_http_health_main_conf_t *hmcf)
{
    uint64_t                       now;
    ngx_http_health_hold_shctx_t  *sh;

    if (hmcf->hold_zone == NULL || hmcf->hold_zone->data == NULL) {
        return 0;
    }

    sh = hmcf->hold_zone->data;
    now = ngx_http_health_monotonic_usec();

    /* the timer ticks every 100 ms: a judgement within every second */
    return now < ngx_http_health_load(&sh->ticked)
           || now - ngx_http_health_load(&sh->ticked)
              >= (NGX_HTTP_HEALTH_HOLD_TICK - 200) * 1000;
}


void
ngx_http_health_hold_ticked(ngx_http_health_main_conf_t *hmcf)
{
    ngx_http_health_hold_shctx_t  *sh;

    if (hmcf->hold_zone == NULL || hmcf->hold_zone->data == NULL) {
        return;
    }

    sh = hmcf->hold_zone->data;

    ngx_http_health_store(&sh->ticked, ngx_http_health_monotonic_usec());
}
