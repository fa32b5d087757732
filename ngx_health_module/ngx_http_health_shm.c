/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the shared memory segment, its layout and reloads.
 *
 * The segment's name carries a hash of its shape: the window, the bounds,
 * the number of rings (from the workers), the number of blocks it has room
 * for and the upstream groups' state.  The zones are not part of it: a
 * reload that adds or removes zones keeps the segment when it has room,
 * and every block is found again by its name, so the counters of what
 * stays carry on where they were, old and new workers counting into the
 * same memory.  Room is made with an eighth more blocks than configured;
 * a block no longer configured is kept (its old workers may still count)
 * until a new segment is made.
 *
 * A new segment (other shape, no room, other upstreams) takes every block
 * that keeps its name from the old one, with a notice; what the old
 * workers count after that stays in the old segment.  A changed window
 * restarts the windows, changed bounds restart the totals.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_slo.h"


/* "nhelth03": since 03, blocks by name, rings of records */
#define NGX_HTTP_HEALTH_MAGIC  0x6e68656c74683033ULL

#define NGX_HTTP_HEALTH_FOLD_PERIOD  1000        /* ms */


typedef struct {
    ngx_str_t                    key;
    uint64_t                     hash;
} ngx_http_health_key_t;




static ngx_int_t ngx_http_health_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_health_keys(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
static ngx_http_health_main_conf_t *ngx_http_health_old_zone(
    ngx_cycle_t *cycle, ngx_http_health_main_conf_t *hmcf);
static void ngx_http_health_place(ngx_http_health_main_conf_t *hmcf);
static ngx_uint_t ngx_http_health_inherit(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_main_conf_t *ohmcf);
static ngx_int_t ngx_http_health_find(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_key_t *k);
static void ngx_http_health_fold(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_ring_t *ring);
static void ngx_http_health_fold_records(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_rec_t *recs, uint64_t first, uint64_t last);
static ngx_inline void ngx_http_health_fold_loop(
    ngx_http_health_main_conf_t *hmcf, ngx_http_health_rec_t *recs,
    uint64_t first, uint64_t last, ngx_uint_t with_slo);
static void ngx_http_health_expire(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_slot_t *slots, ngx_uint_t k, uint64_t epoch);
static void ngx_http_health_fold_timer(ngx_event_t *ev);
static uint64_t ngx_http_health_hash(uint64_t h, const void *p, size_t len);


static ngx_event_t  ngx_http_health_fold_ev;

/*
 * Where the fold counts what no reader looks at: a status outside
 * 100 .. 599, and a record older than the window (its slot is a newer
 * second's), so that the loop does not test for them a record.
 */
static uint64_t                ngx_http_health_no_code;
static ngx_http_health_slot_t  ngx_http_health_no_slot;


#define ngx_http_health_dir(hmcf)                                             \
    ((ngx_http_health_dirent_t *) ((u_char *) (hmcf)->sh                      \
                    + ngx_align(sizeof(ngx_http_health_shctx_t),              \
                                NGX_HTTP_HEALTH_CACHE_LINE)))

#define ngx_http_health_block(hmcf, place)                                    \
    ((hmcf)->blocks + (size_t) (place) * (hmcf)->block_size)

#define ngx_http_health_slots(hmcf, b)                                        \
    ((ngx_http_health_slot_t *) ((b)                                          \
                    + ngx_align(sizeof(ngx_http_health_totals_t),             \
                                NGX_HTTP_HEALTH_CACHE_LINE)))

#define ngx_http_health_ring_at(hmcf, i)                                      \
    ((ngx_http_health_ring_t *) (hmcf)->rings + (i))


char *
ngx_http_health_shm_add(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf)
{
    size_t                        size, dir;
    uint64_t                      h, v;
    ngx_str_t                     name;
    ngx_uint_t                    i, n, need, missing, free;
    ngx_core_conf_t              *ccf;
    ngx_http_health_key_t        *k;
    ngx_http_health_dirent_t     *de;
    ngx_http_health_main_conf_t  *ohmcf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ngx_http_health_keys(cf, hmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * A ring for each worker, and as many again for the old workers that
     * finish their requests during a reload; a process that finds none
     * free counts under the mutex.  worker_processes may come after the
     * http block: then one ring is planned and every process finds one.
     */
    n = ccf->worker_processes > 0 ? (ngx_uint_t) ccf->worker_processes : 1;
    hmcf->nrings = 2 * n + 2;

    /* room for an eighth more, so that adding zones keeps the segment */
    need = hmcf->zones.nelts + hmcf->npeers;
    hmcf->capacity = need ? ngx_align(need + need / 8 + 16, 64) : 0;

    hmcf->block_size = ngx_align(ngx_align(sizeof(ngx_http_health_totals_t),
                                           NGX_HTTP_HEALTH_CACHE_LINE)
                                 + (hmcf->nslots + 1)
                                   * sizeof(ngx_http_health_slot_t),
                                 NGX_HTTP_HEALTH_CACHE_LINE);

    /* the previous segment, if it has the same shape and room, is kept */
    ohmcf = ngx_http_health_old_zone((ngx_cycle_t *) ngx_cycle, hmcf);

    if (ohmcf != NULL
        && ohmcf->nrings == hmcf->nrings
        && ohmcf->block_size == hmcf->block_size
        && ohmcf->slot_width == hmcf->slot_width
        && ohmcf->nbounds == hmcf->nbounds
        && ngx_memcmp(ohmcf->bounds, hmcf->bounds,
                      hmcf->nbounds * sizeof(uint64_t)) == 0
        && ohmcf->upstream_hash == hmcf->upstream_hash
        && ohmcf->upstream_size == hmcf->upstream_size
        && ohmcf->capacity >= need)
    {
        de = ngx_http_health_dir(ohmcf);
        k = hmcf->keys;

        free = 0;
        for (i = 0; i < ohmcf->capacity; i++) {
            free += (de[i].len == 0);
        }

        missing = 0;
        for (i = 0; i < need; i++) {
            missing += (ngx_http_health_find(ohmcf, &k[i]) == NGX_ERROR);
        }

        if (missing <= free) {
            hmcf->capacity = ohmcf->capacity;

        } else if (hmcf->capacity <= ohmcf->capacity) {
            hmcf->capacity = ohmcf->capacity + 64;
        }
    }

    dir = ngx_align(hmcf->capacity * sizeof(ngx_http_health_dirent_t),
                    NGX_HTTP_HEALTH_CACHE_LINE);

    hmcf->data_size = ngx_align(sizeof(ngx_http_health_shctx_t),
                                NGX_HTTP_HEALTH_CACHE_LINE)
                      + dir
                      + hmcf->nrings * sizeof(ngx_http_health_ring_t)
                      + hmcf->capacity * hmcf->block_size
                      + hmcf->upstream_size;

    h = 0xcbf29ce484222325ULL;

    v = NGX_HTTP_HEALTH_MAGIC;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = sizeof(ngx_http_health_totals_t) ^ sizeof(ngx_http_health_slot_t)
        ^ sizeof(ngx_http_health_ring_t);
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->window;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nslots;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nrings;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->capacity;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nbounds;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    h = ngx_http_health_hash(h, hmcf->bounds,
                             hmcf->nbounds * sizeof(uint64_t));

    /* upstream groups, their peers and the size of their state */
    v = hmcf->upstream_hash;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->upstream_size;
    h = ngx_http_health_hash(h, &v, sizeof(v));

    hmcf->layout = h;

    name.data = ngx_pnalloc(cf->pool, sizeof("health_") + 16);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    name.len = ngx_sprintf(name.data, "health_%016uxL", h) - name.data;

    /* the slab pool's own pages and descriptors come on top of the data */
    size = hmcf->data_size + hmcf->data_size / 128 + 16 * ngx_pagesize;

    hmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_health_module);
    if (hmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    hmcf->shm_zone->init = ngx_http_health_init_zone;
    hmcf->shm_zone->data = hmcf;

    return NGX_CONF_OK;
}


/*
 * The blocks' names: "z:NAME" for a zone, "p:GROUP/PEER#N" for an upstream
 * peer (N: how many peers of that name come before it in the group).
 */
static ngx_int_t
ngx_http_health_keys(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf)
{
    u_char                  *p;
    ngx_str_t               *pk;
    ngx_uint_t               i, n;
    ngx_http_health_key_t   *k;
    ngx_http_health_zone_t  *zone;

    n = hmcf->zones.nelts + hmcf->npeers;

    k = ngx_pcalloc(cf->pool, (n + 1) * sizeof(ngx_http_health_key_t));
    if (k == NULL) {
        return NGX_ERROR;
    }

    zone = hmcf->zones.elts;

    for (i = 0; i < hmcf->zones.nelts; i++) {
        p = ngx_pnalloc(cf->pool, zone[i].name.len + 2);
        if (p == NULL) {
            return NGX_ERROR;
        }

        k[i].key.data = p;
        k[i].key.len = ngx_sprintf(p, "z:%V", &zone[i].name) - p;
    }

    pk = hmcf->peer_keys.elts;

    for (i = 0; i < hmcf->npeers && i < hmcf->peer_keys.nelts; i++) {
        k[hmcf->zones.nelts + i].key = pk[i];
    }

    for (i = 0; i < n; i++) {
        k[i].hash = ngx_http_health_hash(0xcbf29ce484222325ULL,
                                         k[i].key.data, k[i].key.len);

        if (k[i].key.len > NGX_HTTP_HEALTH_KEY_LEN) {
            /* a prefix, and the whole name's hash tells them apart */
            k[i].key.len = NGX_HTTP_HEALTH_KEY_LEN;
        }
    }

    hmcf->keys = k;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_health_main_conf_t  *ohmcf = data;

    size_t                        dir;
    ngx_uint_t                    kept;
    ngx_slab_pool_t              *shpool;
    ngx_http_health_shctx_t      *sh;
    ngx_http_health_main_conf_t  *hmcf, *prev;

    hmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    hmcf->shpool = shpool;

    dir = ngx_align(hmcf->capacity * sizeof(ngx_http_health_dirent_t),
                    NGX_HTTP_HEALTH_CACHE_LINE);

    if (ohmcf != NULL) {
        /* same name, so same shape: carry on counting where it was */

        if (ohmcf->sh == NULL || ohmcf->sh->layout != hmcf->layout) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "health: shared zone \"%V\" does not match "
                          "its layout",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        hmcf->sh = ohmcf->sh;

        /* the old workers' verdict was judged by the old rules */
        hmcf->generation = __atomic_add_fetch(&hmcf->sh->generation, 1,
                                              __ATOMIC_RELAXED);

    } else {
        sh = ngx_slab_calloc(shpool, hmcf->data_size);
        if (sh == NULL) {
            return NGX_ERROR;
        }

        sh->magic = NGX_HTTP_HEALTH_MAGIC;
        sh->layout = hmcf->layout;
        sh->started = ngx_http_health_monotonic_sec();
        sh->generation = 1;
        sh->capacity = hmcf->capacity;

        hmcf->sh = sh;
        hmcf->generation = 1;
    }

    hmcf->rings = (u_char *) hmcf->sh
                  + ngx_align(sizeof(ngx_http_health_shctx_t),
                              NGX_HTTP_HEALTH_CACHE_LINE)
                  + dir;
    hmcf->blocks = (u_char *) hmcf->rings
                   + hmcf->nrings * sizeof(ngx_http_health_ring_t);

    ngx_shmtx_lock(&shpool->mutex);
    ngx_http_health_place(hmcf);
    ngx_shmtx_unlock(&shpool->mutex);

    if (hmcf->place == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "health: no room for the blocks in \"%V\"",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    if (ohmcf != NULL) {
        return NGX_OK;
    }

    prev = ngx_http_health_old_zone((ngx_cycle_t *) ngx_cycle, hmcf);

    if (prev != NULL) {
        hmcf->sh->started = prev->sh->started;

        ngx_shmtx_lock(&prev->shpool->mutex);
        kept = ngx_http_health_inherit(hmcf, prev);
        ngx_shmtx_unlock(&prev->shpool->mutex);

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "health: the window, the buckets, the worker count, "
                      "the upstreams or the number of zones changed: a new "
                      "shared zone \"%V\", %ui of %ui zones and peers carry "
                      "their counters over%s%s; what old workers count "
                      "from now on is not carried",
                      &shm_zone->shm.name, kept,
                      hmcf->zones.nelts + hmcf->npeers,
                      prev->slot_width != hmcf->slot_width
                      || prev->nslots != hmcf->nslots
                      ? ", the window restarts" : "",
                      prev->nbounds != hmcf->nbounds
                      || ngx_memcmp(prev->bounds, hmcf->bounds,
                                    hmcf->nbounds * sizeof(uint64_t))
                      ? ", the totals restart (other buckets)" : "");
    }

    return NGX_OK;
}


/*
 * Every configured block to its place: the entry of its name, or a free
 * one (cleared).  Under the mutex.  The places are written over the keys'
 * memory, the configuration's; hmcf->place is NULL when there is no room.
 */
static void
ngx_http_health_place(ngx_http_health_main_conf_t *hmcf)
{
    uint32_t                  *place;
    ngx_int_t                  at;
    ngx_uint_t                 i, j, n;
    ngx_http_health_key_t     *k;
    ngx_http_health_dirent_t  *de;

    k = hmcf->keys;
    n = hmcf->zones.nelts + hmcf->npeers;
    de = ngx_http_health_dir(hmcf);

    place = ngx_alloc((n + 1) * sizeof(uint32_t), ngx_cycle->log);
    if (place == NULL) {
        hmcf->place = NULL;
        return;
    }

    for (i = 0; i < n; i++) {
        at = ngx_http_health_find(hmcf, &k[i]);

        if (at == NGX_ERROR) {
            for (j = 0; j < hmcf->capacity; j++) {
                if (de[j].len == 0) {
                    break;
                }
            }

            if (j == hmcf->capacity) {
                ngx_free(place);
                hmcf->place = NULL;
                return;
            }

            ngx_memzero(ngx_http_health_block(hmcf, j), hmcf->block_size);

            de[j].hash = k[i].hash;
            ngx_memcpy(de[j].key, k[i].key.data, k[i].key.len);
            de[j].len = k[i].key.len;

            at = j;
        }

        place[i] = (uint32_t) at;
    }

    ngx_memcpy(k, place, n * sizeof(uint32_t));
    ngx_free(place);

    hmcf->keys = NULL;
    hmcf->place = (uint32_t *) k;
}


static ngx_int_t
ngx_http_health_find(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_key_t *k)
{
    ngx_uint_t                 i;
    ngx_http_health_dirent_t  *de;

    de = ngx_http_health_dir(hmcf);

    for (i = 0; i < hmcf->capacity; i++) {
        if (de[i].hash == k->hash && de[i].len == k->key.len
            && ngx_memcmp(de[i].key, k->key.data, k->key.len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/* a new segment takes what keeps its name from the old one; prev locked */
static ngx_uint_t
ngx_http_health_inherit(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_main_conf_t *prev)
{
    u_char                    *b, *ob;
    ngx_uint_t                 i, r, j, n, kept, window, totals;
    ngx_http_health_key_t      k;
    ngx_http_health_dirent_t  *de;

    /* the old workers' pending records first */
    for (r = 0; r < prev->nrings; r++) {
        ngx_http_health_fold(prev, ngx_http_health_ring_at(prev, r));
    }

    window = prev->slot_width == hmcf->slot_width
             && prev->nslots == hmcf->nslots;
    totals = prev->nbounds == hmcf->nbounds
             && ngx_memcmp(prev->bounds, hmcf->bounds,
                           hmcf->nbounds * sizeof(uint64_t)) == 0;

    de = ngx_http_health_dir(hmcf);
    n = hmcf->zones.nelts + hmcf->npeers;
    kept = 0;

    for (i = 0; i < n; i++) {
        j = hmcf->place[i];

        k.key.data = de[j].key;
        k.key.len = de[j].len;
        k.hash = de[j].hash;

        if (ngx_http_health_find(prev, &k) == NGX_ERROR) {
            continue;
        }

        ob = ngx_http_health_block(prev, ngx_http_health_find(prev, &k));
        b = ngx_http_health_block(hmcf, j);

        if (totals) {
            ngx_memcpy(b, ob, sizeof(ngx_http_health_totals_t));
        }

        if (window) {
            ngx_memcpy(ngx_http_health_slots(hmcf, b),
                       ngx_http_health_slots(prev, ob),
                       (hmcf->nslots + 1) * sizeof(ngx_http_health_slot_t));
        }

        kept++;
    }

    return kept;
}


/*
 * A segment of ours in the running cycle: the previous configuration's.
 * During a reload ngx_cycle is still the old cycle.
 */
static ngx_http_health_main_conf_t *
ngx_http_health_old_zone(ngx_cycle_t *cycle, ngx_http_health_main_conf_t *hmcf)
{
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_shm_zone_t               *zone;
    ngx_http_health_main_conf_t  *ohmcf;

    if (cycle == NULL || cycle->shared_memory.part.elts == NULL) {
        return NULL;
    }

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != &ngx_http_health_module || zone[i].data == NULL) {
            continue;
        }

        ohmcf = zone[i].data;

        if (ohmcf != hmcf && ohmcf->sh != NULL && ohmcf->sh != hmcf->sh
            && ohmcf->sh->magic == NGX_HTTP_HEALTH_MAGIC
            && ohmcf->shpool != NULL)
        {
            return ohmcf;
        }
    }
}


/*
 * A ring for this process, if it counts: a free one, or one whose owner
 * is gone (its records are folded first), else none (it counts under
 * the mutex).
 */
void
ngx_http_health_shm_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    r;
    ngx_pid_t                     owner;
    ngx_http_health_ring_t       *ring;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL || hmcf->sh == NULL) {
        return;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    ngx_shmtx_lock(&hmcf->shpool->mutex);

    for (r = 0; r < hmcf->nrings; r++) {
        ring = ngx_http_health_ring_at(hmcf, r);
        owner = ring->owner;

        if (owner != 0 && owner != ngx_pid
            && (kill(owner, 0) == 0 || ngx_errno != NGX_ESRCH))
        {
            continue;
        }

        ngx_http_health_fold(hmcf, ring);

        ring->owner = ngx_pid;
        ring->generation = hmcf->generation;
        hmcf->ring = ring;
        break;
    }

    ngx_shmtx_unlock(&hmcf->shpool->mutex);

    if (hmcf->ring == NULL) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "health: every counting ring is taken (reloads "
                      "overlap), this process counts under the mutex");
        return;
    }

    ngx_http_health_fold_ev.handler = ngx_http_health_fold_timer;
    ngx_http_health_fold_ev.data = hmcf;
    ngx_http_health_fold_ev.log = cycle->log;
    ngx_http_health_fold_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_health_fold_ev, NGX_HTTP_HEALTH_FOLD_PERIOD);
}


void
ngx_http_health_shm_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_health_ring_t       *ring;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL || hmcf->ring == NULL) {
        return;
    }

    ring = hmcf->ring;
    hmcf->ring = NULL;

    ngx_shmtx_lock(&hmcf->shpool->mutex);
    ngx_http_health_fold(hmcf, ring);
    ring->owner = 0;
    ngx_shmtx_unlock(&hmcf->shpool->mutex);
}


static void
ngx_http_health_fold_timer(ngx_event_t *ev)
{
    ngx_http_health_ring_t       *ring;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ev->data;
    ring = hmcf->ring;

    if (ring == NULL) {
        return;
    }

    if (__atomic_load_n(&ring->head, __ATOMIC_RELAXED)
        != __atomic_load_n(&ring->folded, __ATOMIC_RELAXED))
    {
        ngx_shmtx_lock(&hmcf->shpool->mutex);
        ngx_http_health_fold(hmcf, ring);
        ngx_shmtx_unlock(&hmcf->shpool->mutex);
    }

    ngx_add_timer(ev, NGX_HTTP_HEALTH_FOLD_PERIOD);
}


/*
 * The hot path's rare ways (ngx_http_health_count in the header): no ring
 * (count under the mutex), a full ring (fold it, waiting for the mutex),
 * half a ring pending (fold it if the mutex is free).
 */
void
ngx_http_health_count_locked(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_uint_t status, uint64_t us, uint64_t sec,
    uint64_t bytes_in, uint64_t bytes_out)
{
    ngx_http_health_rec_t  rec;

    rec.word = ngx_http_health_rec_word(hmcf->place[block], status, sec);
    rec.us = us;
    rec.bytes_in = bytes_in;
    rec.bytes_out = bytes_out;

    ngx_shmtx_lock(&hmcf->shpool->mutex);
    /* record 0 of a "ring" of one: n % RING is 0 */
    ngx_http_health_fold_records(hmcf, &rec, 0, 1);
    ngx_shmtx_unlock(&hmcf->shpool->mutex);
}


void
ngx_http_health_count_busy(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_uint_t status, uint64_t us, uint64_t sec,
    uint64_t bytes_in, uint64_t bytes_out)
{
    uint64_t                 head, pending;
    ngx_http_health_ring_t  *ring;

    ring = hmcf->ring;

    head = ring->head;
    pending = head - __atomic_load_n(&ring->folded, __ATOMIC_ACQUIRE);

    if (pending >= NGX_HTTP_HEALTH_RING) {
        ngx_shmtx_lock(&hmcf->shpool->mutex);
        ngx_http_health_fold(hmcf, ring);
        ngx_shmtx_unlock(&hmcf->shpool->mutex);
        pending = 0;
    }

    ngx_http_health_rec_put(hmcf, ring, head, block, status, us, sec,
                            bytes_in, bytes_out);

    if (pending + 1 >= NGX_HTTP_HEALTH_RING / 2
        && ngx_shmtx_trylock(&hmcf->shpool->mutex))
    {
        ngx_http_health_fold(hmcf, ring);
        ngx_shmtx_unlock(&hmcf->shpool->mutex);
    }
}


/* under the mutex */
static void
ngx_http_health_fold(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_ring_t *ring)
{
    uint64_t  head, i;

    head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
    i = ring->folded;

    if (head == i) {
        return;
    }

    if (head - i > NGX_HTTP_HEALTH_RING) {
        /* never by construction; a torn ring is not folded twice */
        i = head - NGX_HTTP_HEALTH_RING;
    }

    ngx_http_health_fold_records(hmcf, ring->rec, i, head);

    __atomic_store_n(&ring->folded, head, __ATOMIC_RELEASE);
}


/*
 * Records first .. last - 1 (modulo RING) into their blocks, under the
 * mutex.  The records of one process in one second are mostly of a few
 * blocks and codes, so a block's addresses, its slot and its code are
 * looked up again only when they change; everything the loop needs is in
 * locals, which the stores into the blocks cannot alias.  The inner loop
 * runs over the records of one block and one second (one compare of the
 * record's word without its status tells), so that what the outer loop
 * keeps for a change of block or second is not in the way of the
 * registers of the counting itself.
 *
 * The loop is compiled twice: without SLOs it is the loop it always was,
 * and a configuration with SLOs pays a branch a fold to choose the other.
 */
static void
ngx_http_health_fold_records(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_rec_t *recs, uint64_t first, uint64_t last)
{
    if (hmcf->slo_of == NULL) {
        ngx_http_health_fold_loop(hmcf, recs, first, last, 0);

    } else {
        ngx_http_health_fold_loop(hmcf, recs, first, last, 1);
    }
}


/*
 * With SLOs, a zone's records are counted in a run of one place and one
 * wall-clock minute (the monotonic second plus the offset of this fold),
 * added to the SLOs' buckets when the place or the minute changes and at
 * the end.  The run's length is its records' count; its bad ones, for
 * the zone's first SLO, are those whose time is not below a bound that
 * the status sets where the loop looks it up anyway: the latency
 * (UINT64_MAX without one), or 0 for a 5xx.  A compare and an add with
 * carry a record.  The zone's other SLOs judge the run's records when it
 * is added.  A lock a run.
 *
 * Every instruction of this loop is paid once a request (README, "nginx:
 * cost per request"): what is rare (a status without a code of its own,
 * a record older than the window) writes into scratch counters rather
 * than being tested for a record.
 */
static ngx_inline __attribute__((always_inline)) void
ngx_http_health_fold_loop(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_rec_t *recs, uint64_t first, uint64_t last,
    ngx_uint_t with_slo)
{
    u_char                    *blocks;
    size_t                     block_size;
    uint64_t                   n, word, key, place, sec, epoch, us;
    uint64_t                   cplace, csec;
    uint64_t                   capacity, width, nslots, *code;
    uint64_t                   minute, m, rstart, bound, sbad;
    const uint64_t            *bounds;
    const u_char              *bound_of;
    unsigned                   index, b;
    time_t                     offset;
    ngx_uint_t                 status, cstatus, i;
    ngx_http_health_slo_t     *slo;
    ngx_http_health_rec_t     *rec;
    ngx_http_health_slot_t    *slots, *slot, *sum;
    ngx_http_health_totals_t  *t;

    blocks = hmcf->blocks;
    block_size = hmcf->block_size;
    capacity = hmcf->capacity;
    width = hmcf->slot_width;
    nslots = hmcf->nslots;
    bounds = hmcf->bounds;
    bound_of = hmcf->bound_of;

    cplace = (uint64_t) -1;
    csec = (uint64_t) -1;
    cstatus = (ngx_uint_t) -1;
    t = NULL;
    slots = NULL;
    slot = NULL;
    sum = NULL;
    code = &ngx_http_health_no_code;

    offset = with_slo ? ngx_http_health_slo_offset() : 0;
    slo = NULL;
    minute = 0;
    rstart = first;
    bound = UINT64_MAX;
    sbad = 0;

#define ngx_http_health_fold_flush(n)                                         \
    ngx_http_health_slo_flush(slo, minute, sbad, recs, rstart, n,             \
                              NGX_HTTP_HEALTH_RING - 1)

    n = first;

    while (n != last) {
        rec = &recs[n % NGX_HTTP_HEALTH_RING];
        word = rec->word;

        place = word >> 42;
        sec = word & 0xffffffff;

        if (place != cplace) {
            if (with_slo) {
                if (slo && n != rstart) {
                    ngx_http_health_fold_flush(n);
                }

                slo = NULL;
            }

            if (place >= capacity) {
                if (with_slo) {
                    cplace = (uint64_t) -1;
                }

                n++;
                continue;
            }

            if (with_slo) {
                slo = ((ngx_http_health_slo_t **) hmcf->slo_of)[place];
                rstart = n;
                sbad = 0;
            }

            cplace = place;
            t = (ngx_http_health_totals_t *) (blocks + place * block_size);
            slots = (ngx_http_health_slot_t *) ((u_char *) t
                        + ngx_align(sizeof(ngx_http_health_totals_t),
                                    NGX_HTTP_HEALTH_CACHE_LINE));
            csec = (uint64_t) -1;
            cstatus = (ngx_uint_t) -1;
        }

        if (sec != csec) {
            csec = sec;

            if (with_slo && slo) {
                m = (uint64_t) (sec + offset) / 60;

                if (m != minute) {
                    if (n != rstart) {
                        ngx_http_health_fold_flush(n);
                    }

                    minute = m;
                    rstart = n;
                    sbad = 0;
                }
            }

            epoch = sec / width;
            i = epoch % nslots;
            slot = &slots[i];
            sum = &slots[nslots];

            if (slot->epoch != epoch) {
                if (slot->requests && slot->epoch > epoch) {
                    /* older than the window: its slot is a newer one's */
                    slot = &ngx_http_health_no_slot;
                    sum = &ngx_http_health_no_slot;

                } else {
                    ngx_http_health_expire(hmcf, slots, i, epoch);
                }
            }
        }

        /*
         * The records of this block and second: all that changes from one
         * to the next is the status, the time and the bytes.
         */
        key = word & ~((uint64_t) 0x3ff << 32);

        do {
            status = (word >> 32) & 0x3ff;
            us = rec->us;

            index = health_hist_index(us);

            t->requests++;
            t->bytes_in += rec->bytes_in;
            t->bytes_out += rec->bytes_out;
            t->time_us += us;

            /* health_hist_bound_lookup(), stopped by bounds[nbounds] */
            b = bound_of[index];

            while (us > bounds[b]) {
                b++;
            }

            t->buckets[b]++;

            /* the classes are the sums of the codes, read by the reader */
            if (status != cstatus) {
                cstatus = status;
                code = &ngx_http_health_no_code;

                if (with_slo) {
                    bound = (status - 500 < 100) ? 0
                            : slo ? slo->latency : UINT64_MAX;
                }

                if (status >= 100 && status < 600) {
                    for (i = 0; i < NGX_HTTP_HEALTH_BLOCK_CODES; i++) {
                        if (t->code[i] == status) {
                            break;
                        }

                        if (t->code[i] == 0) {
                            t->code[i] = (uint16_t) status;
                            break;
                        }
                    }

                    code = (i < NGX_HTTP_HEALTH_BLOCK_CODES)
                           ? &t->code_count[i]
                           : &t->codes_other[status / 100 - 1];
                }
            }

            (*code)++;

            if (with_slo && us >= bound) {
                sbad++;
            }

            slot->requests++;
            slot->hist[index]++;
            sum->requests++;
            sum->hist[index]++;

            if (status >= 500 && status < 600) {
                slot->errors++;
                sum->errors++;
            }

            if (us > slot->max_us) {
                slot->max_us = us > 0xffffffff ? 0xffffffff : (uint32_t) us;
            }

            if (++n == last) {
                break;
            }

            rec = &recs[n % NGX_HTTP_HEALTH_RING];
            word = rec->word;

        } while ((word & ~((uint64_t) 0x3ff << 32)) == key);
    }

    if (with_slo && slo && last != rstart) {
        ngx_http_health_fold_flush(last);
    }

#undef ngx_http_health_fold_flush
}


/* slot k leaves the sum and starts again for epoch; under the mutex */
static void
ngx_http_health_expire(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_slot_t *slots, ngx_uint_t k, uint64_t epoch)
{
    ngx_uint_t               i;
    ngx_http_health_slot_t  *slot, *sum;

    slot = &slots[k];
    sum = &slots[hmcf->nslots];

    if (slot->requests) {
        sum->requests -= slot->requests;
        sum->errors -= slot->errors;

        for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
            sum->hist[i] -= slot->hist[i];
        }

        ngx_memzero(slot, sizeof(ngx_http_health_slot_t));
    }

    slot->epoch = (uint32_t) epoch;
}


void
ngx_http_health_shm_sync(ngx_http_health_main_conf_t *hmcf)
{
    ngx_uint_t  r;

    if (hmcf->sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&hmcf->shpool->mutex);

    for (r = 0; r < hmcf->nrings; r++) {
        ngx_http_health_fold(hmcf, ngx_http_health_ring_at(hmcf, r));
    }

    ngx_shmtx_unlock(&hmcf->shpool->mutex);
}


/*
 * A block's figures, read under the mutex its records are folded under:
 * one consistent snapshot.  Every field of st is set (nothing is cleared
 * first: a status of 10,000 zones reads 10,000 of them).
 */
void
ngx_http_health_shm_read(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_http_health_stats_t *st, ngx_uint_t totals)
{
    u_char                    *b;
    time_t                     now;
    uint64_t                   epoch, count, max;
    uint16_t                   code;
    ngx_uint_t                 k, i, j, nb;
    ngx_http_health_slot_t    *slots, *sum;
    ngx_http_health_totals_t  *t;

    now = ngx_http_health_monotonic_sec();
    epoch = now / hmcf->slot_width;
    nb = hmcf->nbounds + 1;

    b = ngx_http_health_block(hmcf, hmcf->place[block]);
    t = (ngx_http_health_totals_t *) b;
    slots = ngx_http_health_slots(hmcf, b);
    sum = &slots[hmcf->nslots];

    ngx_shmtx_lock(&hmcf->shpool->mutex);

    /* slots that left the window leave the sum */
    max = 0;

    for (k = 0; k < hmcf->nslots; k++) {
        if (slots[k].requests
            && (slots[k].epoch + hmcf->nslots <= epoch
                || slots[k].epoch > epoch))
        {
            ngx_http_health_expire(hmcf, slots, k, 0);
        }

        if (slots[k].max_us > max) {
            max = slots[k].max_us;
        }
    }

    st->w_max_us = max;
    st->w_requests = sum->requests;
    st->w_errors = sum->errors;

    ngx_memcpy(st->w_hist, sum->hist, sizeof(st->w_hist));

    st->requests = t->requests;

    for (i = 0; i < nb; i++) {
        st->buckets[i] = t->buckets[i];
    }

    ngx_memcpy(st->classes, t->codes_other, sizeof(st->classes));

    /* the codes in ascending order, and the classes their sums */
    st->ncodes = 0;

    for (i = 0; i < NGX_HTTP_HEALTH_BLOCK_CODES && t->code[i]; i++) {
        code = t->code[i];
        count = t->code_count[i];

        st->classes[code / 100 - 1] += count;

        for (j = st->ncodes; j > 0 && st->code[j - 1] > code; j--) {
            st->code[j] = st->code[j - 1];
            st->code_count[j] = st->code_count[j - 1];
        }

        st->code[j] = code;
        st->code_count[j] = count;
        st->ncodes++;
    }

    st->bytes_in = totals ? t->bytes_in : 0;
    st->bytes_out = totals ? t->bytes_out : 0;
    st->time_us = totals ? t->time_us : 0;

    ngx_shmtx_unlock(&hmcf->shpool->mutex);

    /* the full slots before this one, and this one so far */
    st->w_seconds = (hmcf->nslots - 1) * hmcf->slot_width
                    + now % hmcf->slot_width + 1;

    if (st->w_seconds > now - hmcf->sh->started + 1) {
        st->w_seconds = now - hmcf->sh->started + 1;
    }
}


u_char *
ngx_http_health_shm_upstream(ngx_http_health_main_conf_t *hmcf)
{
    return hmcf->blocks + hmcf->capacity * hmcf->block_size;
}


static uint64_t
ngx_http_health_hash(uint64_t h, const void *p, size_t len)
{
    const u_char  *c = p;

    while (len--) {
        h ^= *c++;
        h *= 0x100000001b3ULL;
    }

    return h;
}
