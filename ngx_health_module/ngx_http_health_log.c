/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: counting requests (the hot path).
 *
 * The log-phase handler takes no lock, allocates nothing and looks nothing
 * up: the zone is an index fixed at configuration time, the shard is this
 * worker's, and every counter is one relaxed atomic add.
 *
 * Request time has microsecond resolution: a post-read handler stores a
 * monotonic timestamp in this module's context slot of the request (the
 * slot holds the number itself, not a pointer, so nothing is allocated).
 * When the slot is empty (an internal redirect clears it, or the request
 * never reached the phases) the time falls back to nginx's own millisecond
 * request start.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_log.h"


static ngx_int_t ngx_http_health_start_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_health_log_handler(ngx_http_request_t *r);
static ngx_inline uintptr_t ngx_http_health_now_us(void);
static void ngx_http_health_count_window(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_slot_t *slots, ngx_uint_t status, uint64_t us,
    unsigned index);


ngx_int_t
ngx_http_health_log_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_health_start_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_health_log_handler;

    return NGX_OK;
}


static ngx_inline uintptr_t
ngx_http_health_now_us(void)
{
    uintptr_t  us;

    us = (uintptr_t) ngx_http_health_monotonic_usec();

    /* 0 means "no timestamp" */
    return us ? us : 1;
}


/*
 * Only main requests run the post-read phase, once each: internal
 * redirects and subrequests enter the phases further on.
 */
static ngx_int_t
ngx_http_health_start_handler(ngx_http_request_t *r)
{
    ngx_http_set_ctx(r, (void *) ngx_http_health_now_us(),
                     ngx_http_health_module);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_health_log_handler(ngx_http_request_t *r)
{
    uint64_t                      us;
    uintptr_t                     start;
    ngx_uint_t                    status;
    ngx_time_t                   *tp;
    ngx_msec_int_t                ms;
    ngx_http_health_loc_conf_t   *hlcf;
    ngx_http_health_main_conf_t  *hmcf;
    ngx_http_health_counters_t   *c;

    /*
     * with "log_subrequest on" the log phase also runs for each SSI
     * include, mirror or auth_request: a zone counts the client's request
     * once, in the location that finally answered it (an internal
     * redirect or error_page moves the main request, it does not add one)
     */
    if (r != r->main) {
        return NGX_OK;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_health_module);

    if (hlcf->zone == NGX_HTTP_HEALTH_ZONE_OFF) {
        return NGX_OK;
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_health_module);

    if (hmcf->shard == NULL) {
        return NGX_OK;
    }

    start = (uintptr_t) ngx_http_get_module_ctx(r, ngx_http_health_module);

    if (start) {
        /* wraps correctly on 32-bit platforms too */
        us = (uintptr_t) (ngx_http_health_now_us() - start);

    } else {
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));
        us = (uint64_t) ngx_max(ms, 0) * 1000;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    c = ngx_http_health_count(hmcf, hlcf->zone, status, us);

    ngx_http_health_add(&c->bytes_in, (uint64_t) r->request_length);
    ngx_http_health_add(&c->bytes_out, (uint64_t) r->connection->sent);

    return NGX_OK;
}


ngx_http_health_counters_t *
ngx_http_health_count(ngx_http_health_main_conf_t *hmcf, ngx_uint_t block,
    ngx_uint_t status, uint64_t us)
{
    unsigned                     index;
    ngx_http_health_counters_t  *c;

    c = ngx_http_health_zone_counters(hmcf, hmcf->shard, block);
    index = health_hist_index(us);

    ngx_http_health_add(&c->buckets[health_hist_bound_lookup(hmcf->bound_of,
                                                             hmcf->bounds,
                                                             hmcf->nbounds,
                                                             index, us)],
                        1);
    ngx_http_health_add(&c->time_us, us);

    if (status >= 100 && status < 600) {
        ngx_http_health_add(&c->codes[status - 100], 1);
    }

    ngx_http_health_count_window(hmcf,
                    ngx_http_health_zone_slots(hmcf, hmcf->shard, block),
                    status, us, index);

    return c;
}


static void
ngx_http_health_count_window(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_slot_t *slots, ngx_uint_t status, uint64_t us,
    unsigned index)
{
    uint32_t                 us32, max;
    uint64_t                 epoch, old;
    ngx_http_health_slot_t  *slot;

    epoch = ngx_http_health_monotonic_sec() / hmcf->slot_width;
    slot = &slots[epoch % hmcf->nslots];

    old = ngx_http_health_load(&slot->epoch);

    /*
     * The first request of a new slot width resets the slot.  Only the
     * worker that wins the exchange clears it; during a reload a request
     * of the other worker sharing this shard may be added just before the
     * clear and be lost to the window (never to the totals above).
     */
    if (old != epoch
        && __atomic_compare_exchange_n(&slot->epoch, &old, epoch, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    {
        __atomic_store_n(&slot->errors, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->max_us, 0, __ATOMIC_RELAXED);
        ngx_memzero(slot->hist, sizeof(slot->hist));
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }

    if (status >= 500 && status < 600) {
        ngx_http_health_add(&slot->errors, 1);
    }

    ngx_http_health_add(&slot->hist[index], 1);

    us32 = us > 0xffffffff ? 0xffffffff : (uint32_t) us;
    max = ngx_http_health_load(&slot->max_us);

    while (us32 > max
           && !__atomic_compare_exchange_n(&slot->max_us, &max, us32, 1,
                                           __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
    {
        /* max is reloaded by the failed exchange */
    }
}
