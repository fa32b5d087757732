/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the shared memory segment, its layout and reloads.
 *
 * The segment's name carries a hash of its layout (zones, window, bounds,
 * shards).  nginx hands init_zone the old segment only when a zone of the
 * same name and size existed, so a compatible reload keeps the counters in
 * place, old and new workers adding to the same memory, and a changed
 * layout gets a fresh segment while the old workers finish with the old
 * one: nothing is ever re-initialised under a live writer.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"


/* "nhelth02": since 02, started and the slots' epochs are monotonic */
#define NGX_HTTP_HEALTH_MAGIC  0x6e68656c74683032ULL


static ngx_int_t ngx_http_health_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_health_main_conf_t *ngx_http_health_old_zone(
    ngx_shm_zone_t *shm_zone);
static uint64_t ngx_http_health_hash(uint64_t h, const void *p, size_t len);


char *
ngx_http_health_shm_add(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf)
{
    size_t                   size;
    uint64_t                 h, v;
    ngx_str_t                name;
    ngx_uint_t               i;
    ngx_core_conf_t         *ccf;
    ngx_http_health_zone_t  *zone;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    /*
     * worker_processes is usually known by now; if it comes after the http
     * block the workers share shards (index modulo nshards), which stays
     * exact because every add is atomic
     */
    hmcf->nshards = ccf->worker_processes > 0 ? ccf->worker_processes : 1;

    if (hmcf->nshards > NGX_HTTP_HEALTH_MAX_SHARDS) {
        hmcf->nshards = NGX_HTTP_HEALTH_MAX_SHARDS;
    }

    hmcf->zone_size = ngx_align(sizeof(ngx_http_health_counters_t),
                                NGX_HTTP_HEALTH_CACHE_LINE)
                      + hmcf->nslots * sizeof(ngx_http_health_slot_t);
    hmcf->shard_size = hmcf->zone_size * (hmcf->zones.nelts + hmcf->npeers);
    hmcf->data_size = ngx_align(sizeof(ngx_http_health_shctx_t),
                                NGX_HTTP_HEALTH_CACHE_LINE)
                      + hmcf->shard_size * hmcf->nshards
                      + hmcf->upstream_size;

    h = 0xcbf29ce484222325ULL;

    v = NGX_HTTP_HEALTH_MAGIC;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = sizeof(ngx_http_health_counters_t) ^ sizeof(ngx_http_health_slot_t);
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->window;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nslots;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nshards;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    v = hmcf->nbounds;
    h = ngx_http_health_hash(h, &v, sizeof(v));
    h = ngx_http_health_hash(h, hmcf->bounds,
                             hmcf->nbounds * sizeof(uint64_t));

    zone = hmcf->zones.elts;
    for (i = 0; i < hmcf->zones.nelts; i++) {
        h = ngx_http_health_hash(h, zone[i].name.data, zone[i].name.len + 1);
    }

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


static ngx_int_t
ngx_http_health_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_health_main_conf_t  *ohmcf = data;

    ngx_slab_pool_t              *shpool;
    ngx_http_health_shctx_t      *sh;
    ngx_http_health_main_conf_t  *hmcf, *prev;

    hmcf = shm_zone->data;

    if (ohmcf != NULL) {
        /* same name, so same layout: carry on counting where it was */

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

        hmcf->shard = (u_char *) hmcf->sh
                      + ngx_align(sizeof(ngx_http_health_shctx_t),
                                  NGX_HTTP_HEALTH_CACHE_LINE);
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    sh = ngx_slab_calloc(shpool, hmcf->data_size);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_HEALTH_MAGIC;
    sh->layout = hmcf->layout;
    sh->started = ngx_http_health_monotonic_sec();
    sh->generation = 1;

    prev = ngx_http_health_old_zone(shm_zone);

    if (prev != NULL) {
        sh->started = prev->sh->started;

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "health: zones, window, buckets or worker count "
                      "changed, counters start again from zero in \"%V\"",
                      &shm_zone->shm.name);
    }

    hmcf->sh = sh;
    hmcf->generation = 1;
    hmcf->shard = (u_char *) sh + ngx_align(sizeof(ngx_http_health_shctx_t),
                                            NGX_HTTP_HEALTH_CACHE_LINE);

    return NGX_OK;
}


/*
 * During a reload init_zone runs while ngx_cycle is still the old cycle:
 * a segment of ours under another name there means the layout changed.
 */
static ngx_http_health_main_conf_t *
ngx_http_health_old_zone(ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_shm_zone_t               *zone;
    ngx_http_health_main_conf_t  *ohmcf;

    if (ngx_cycle == NULL) {
        return NULL;
    }

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
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

        if (ohmcf->sh != NULL && ohmcf->sh->magic == NGX_HTTP_HEALTH_MAGIC) {
            return ohmcf;
        }
    }
}


void
ngx_http_health_shm_init_process(ngx_cycle_t *cycle)
{
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL || hmcf->sh == NULL) {
        return;
    }

    hmcf->shard = (u_char *) hmcf->sh
                  + ngx_align(sizeof(ngx_http_health_shctx_t),
                              NGX_HTTP_HEALTH_CACHE_LINE)
                  + (ngx_worker % hmcf->nshards) * hmcf->shard_size;
}


void
ngx_http_health_shm_read(ngx_http_health_main_conf_t *hmcf, ngx_uint_t zone,
    ngx_http_health_stats_t *st, ngx_uint_t totals)
{
    time_t                       now;
    u_char                      *base;
    uint64_t                     epoch, e, max;
    ngx_uint_t                   s, k, i, nb;
    ngx_http_health_slot_t      *slot;
    ngx_http_health_counters_t  *c;

    ngx_memzero(st, sizeof(ngx_http_health_stats_t));

    now = ngx_http_health_monotonic_sec();
    epoch = now / hmcf->slot_width;
    nb = hmcf->nbounds + 1;

    base = (u_char *) hmcf->sh + ngx_align(sizeof(ngx_http_health_shctx_t),
                                           NGX_HTTP_HEALTH_CACHE_LINE);

    for (s = 0; s < hmcf->nshards; s++) {
        c = ngx_http_health_zone_counters(hmcf, base + s * hmcf->shard_size,
                                          zone);

        for (i = 0; i < nb; i++) {
            st->buckets[i] += ngx_http_health_load(&c->buckets[i]);
        }

        /* lb needs the window only */
        if (totals) {
            st->bytes_in += ngx_http_health_load(&c->bytes_in);
            st->bytes_out += ngx_http_health_load(&c->bytes_out);
            st->time_us += ngx_http_health_load(&c->time_us);

            for (i = 0; i < NGX_HTTP_HEALTH_CODES; i++) {
                st->codes[i] += ngx_http_health_load(&c->codes[i]);
            }
        }

        slot = ngx_http_health_zone_slots(hmcf, base + s * hmcf->shard_size,
                                          zone);

        for (k = 0; k < hmcf->nslots; k++) {
            e = ngx_http_health_load(&slot[k].epoch);

            /* a slot of the current epoch or of the nslots - 1 before it */
            if (e > epoch || e + hmcf->nslots <= epoch) {
                continue;
            }

            st->w_errors += ngx_http_health_load(&slot[k].errors);

            max = ngx_http_health_load(&slot[k].max_us);
            if (max > st->w_max_us) {
                st->w_max_us = max;
            }

            for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
                st->w_hist[i] += ngx_http_health_load(&slot[k].hist[i]);
            }
        }
    }

    for (i = 0; i < nb; i++) {
        st->requests += st->buckets[i];
    }

    for (i = 0; i < NGX_HTTP_HEALTH_CODES; i++) {
        st->classes[i / 100] += st->codes[i];
    }

    for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
        st->w_requests += st->w_hist[i];
    }

    /* the full slots before this one, and this one so far */
    st->w_seconds = (hmcf->nslots - 1) * hmcf->slot_width
                    + now % hmcf->slot_width + 1;

    if (st->w_seconds > now - hmcf->sh->started + 1) {
        st->w_seconds = now - hmcf->sh->started + 1;
    }
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
