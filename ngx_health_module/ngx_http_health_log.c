/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: counting requests (the hot path).
 *
 * The log-phase handler takes no lock, allocates nothing and looks nothing
 * up: the zone is an index fixed at configuration time, and the request
 * becomes one record in this process' ring (ngx_http_health_count, in
 * ngx_http_health_shm.c).
 *
 * Request time has microsecond resolution: a post-read handler stores a
 * monotonic timestamp in this module's context slot of the request (the
 * slot holds the number itself, not a pointer, so nothing is allocated):
 * nanoseconds plus one where a pointer has 64 bits (never 0, and no
 * division; the log handler divides the difference once), microseconds
 * where it has 32 (nanoseconds would wrap every 4 seconds).
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
static ngx_inline uintptr_t ngx_http_health_stamp(void);


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


/* 0 means "no timestamp" */
static ngx_inline uintptr_t
ngx_http_health_stamp(void)
{
#if (NGX_PTR_SIZE == 8)

    (void) clock_gettime(CLOCK_MONOTONIC, &ngx_http_health_ts);

    return (uintptr_t) ngx_http_health_ts.tv_sec * 1000000000
           + (uintptr_t) ngx_http_health_ts.tv_nsec + 1;

#else

    uintptr_t  us;

    us = (uintptr_t) ngx_http_health_monotonic_usec();

    return us ? us : 1;

#endif
}


/*
 * Only main requests run the post-read phase, once each: internal
 * redirects and subrequests enter the phases further on.
 */
static ngx_int_t
ngx_http_health_start_handler(ngx_http_request_t *r)
{
    ngx_http_set_ctx(r, (void *) ngx_http_health_stamp(),
                     ngx_http_health_module);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_health_log_handler(ngx_http_request_t *r)
{
    uint64_t                      us;
    uintptr_t                     start, now;
    ngx_uint_t                    status;
    ngx_time_t                   *tp;
    ngx_msec_int_t                ms;
    ngx_http_health_loc_conf_t   *hlcf;
    ngx_http_health_main_conf_t  *hmcf;

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

    if (hmcf->sh == NULL) {
        return NGX_OK;
    }

    now = ngx_http_health_stamp();
    start = (uintptr_t) ngx_http_get_module_ctx(r, ngx_http_health_module);

    if (start) {
        /* wraps correctly on 32-bit platforms too */
        us = (uintptr_t) (now - start);

#if (NGX_PTR_SIZE == 8)
        us /= 1000;
#endif

    } else {
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));
        us = (uint64_t) ngx_max(ms, 0) * 1000;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    ngx_http_health_count(hmcf, hlcf->zone, status, us,
                          (uint64_t) ngx_http_health_ts.tv_sec,
                          (uint64_t) r->request_length,
                          (uint64_t) r->connection->sent);

    return NGX_OK;
}
