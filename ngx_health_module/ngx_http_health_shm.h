/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the shared memory segment.
 *
 * One segment holds every counter.  It is cut into one shard per worker
 * process; a shard holds a block per zone, each made of the counters since
 * the zone was created and a ring of window slots.  Writers add atomically
 * to their own shard (an old and a new worker with the same index share one
 * during a reload); readers sum all shards.
 */

#ifndef _NGX_HTTP_HEALTH_SHM_H_INCLUDED_
#define _NGX_HTTP_HEALTH_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"


#define NGX_HTTP_HEALTH_CODES        500         /* 100 .. 599 */
#define NGX_HTTP_HEALTH_CACHE_LINE   64


/* relaxed atomics: each counter is exact; a snapshot is not a transaction */
#define ngx_http_health_add(p, v)  __atomic_fetch_add(p, v, __ATOMIC_RELAXED)
#define ngx_http_health_load(p)    __atomic_load_n(p, __ATOMIC_RELAXED)
#define ngx_http_health_store(p, v)  __atomic_store_n(p, v, __ATOMIC_RELAXED)


struct ngx_http_health_shctx_s {
    uint64_t                     magic;
    uint64_t                     layout;
    time_t                       started;        /* monotonic seconds */

    /*
     * The verdict lb answers with (ngx_http_health_verdict.c).  These
     * words live in the header's cache line, before the shards, so they
     * move no counter: the header is aligned to a whole line anyway.
     */
    uint64_t                     generation;     /* of the configuration */
    uint64_t                     verdict;
    uint64_t                     verdict_next;   /* usec */
    uint64_t                     verdict_asked;  /* usec */
};


/*
 * Durations (uptime, the window's slots) are measured on CLOCK_MONOTONIC,
 * which is one clock for every process of the machine and never steps:
 * when the wall clock is set back, uptime_s would go negative and rps
 * divide by a negative or zero time.  The wall clock is for timestamps.
 */
static ngx_inline time_t
ngx_http_health_monotonic_sec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec;
}


/*
 * The same clock in microseconds, the module's one clock for durations:
 * response times, probe rounds, leases and the verdict's age, comparable
 * across processes
 */
static ngx_inline uint64_t
ngx_http_health_monotonic_usec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* one window slot: the requests of slot_width seconds (the sum of hist) */
typedef struct {
    uint64_t                     epoch;          /* time / slot_width */
    uint32_t                     errors;         /* 5xx */
    uint32_t                     max_us;
    u_char                       pad[NGX_HTTP_HEALTH_CACHE_LINE - 16];
    uint32_t                     hist[HEALTH_HIST_BUCKETS];
} ngx_http_health_slot_t;


/*
 * Since the zone was created.  Requests are the sum of the buckets and the
 * classes the sums of the codes: every add left out of the hot path counts.
 */
typedef struct {
    uint64_t                     bytes_in;
    uint64_t                     bytes_out;
    uint64_t                     time_us;
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];
    uint64_t                     codes[NGX_HTTP_HEALTH_CODES];
} ngx_http_health_counters_t;


/* what a reader gets for a zone, summed over the shards */
typedef struct {
    uint64_t                     requests;
    uint64_t                     bytes_in;
    uint64_t                     bytes_out;
    uint64_t                     time_us;
    uint64_t                     classes[5];
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];
    uint64_t                     codes[NGX_HTTP_HEALTH_CODES];

    time_t                       w_seconds;      /* covered so far */
    uint64_t                     w_requests;
    uint64_t                     w_errors;
    uint64_t                     w_max_us;
    uint64_t                     w_hist[HEALTH_HIST_BUCKETS];
} ngx_http_health_stats_t;


#define ngx_http_health_zone_counters(hmcf, shard, z)                         \
    ((ngx_http_health_counters_t *) ((shard) + (z) * (hmcf)->zone_size))

#define ngx_http_health_zone_slots(hmcf, shard, z)                            \
    ((ngx_http_health_slot_t *) ((shard) + (z) * (hmcf)->zone_size            \
                        + ngx_align(sizeof(ngx_http_health_counters_t),       \
                                    NGX_HTTP_HEALTH_CACHE_LINE)))


char *ngx_http_health_shm_add(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
void ngx_http_health_shm_init_process(ngx_cycle_t *cycle);
void ngx_http_health_shm_read(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t zone, ngx_http_health_stats_t *st, ngx_uint_t totals);


#endif /* _NGX_HTTP_HEALTH_SHM_H_INCLUDED_ */
