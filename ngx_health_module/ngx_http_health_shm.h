/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the shared memory segment, the one owner of its layout.
 *
 *   header     the segment's shape and the lb verdict (one cache line)
 *   directory  one entry per block: the name it is kept by across reloads
 *   rings      one per counting process: the records of its last requests
 *   blocks     one per zone and upstream peer: totals and the window
 *   upstream   the check state of the upstream groups (upstream.c's)
 *
 * Memory does not multiply by workers: a block exists once, shared by
 * every worker, and a worker owns only a ring of 32-byte records.  The
 * hot path writes one record into its own ring (no lock, no allocation,
 * no search; a cache line written by this process only) and the records
 * are folded into the blocks under the segment's mutex: when half the ring
 * is pending, once a second by a timer, at exit, and by every reader before
 * it reads.  A reader reads a block under the same mutex, so what it gets
 * is one consistent snapshot of it (requests are the sum of the classes),
 * and exact: every record a finished request wrote is folded first.
 *
 * Blocks are found by name when a reload keeps the segment, so a zone or a
 * peer that exists before and after it keeps its counters, and the old
 * workers still finishing requests count into the same blocks.
 */

#ifndef _NGX_HTTP_HEALTH_SHM_H_INCLUDED_
#define _NGX_HTTP_HEALTH_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"


#define NGX_HTTP_HEALTH_CODES        500         /* 100 .. 599 */
#define NGX_HTTP_HEALTH_CACHE_LINE   64

/* the distinct exact status codes a block keeps (the classes are exact) */
#define NGX_HTTP_HEALTH_BLOCK_CODES  24

/* records in a process' ring; folded when half of them are pending */
#define NGX_HTTP_HEALTH_RING         2048

/* a block's name in the directory: longer ones keep a prefix and a hash */
#define NGX_HTTP_HEALTH_KEY_LEN      112


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
     * words live in the header's cache line, apart from every counter.
     */
    uint64_t                     generation;     /* of the configuration */
    uint64_t                     verdict;
    uint64_t                     verdict_next;   /* usec */
    uint64_t                     verdict_asked;  /* usec */
    uint64_t                     capacity;       /* blocks */
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
 * across processes.  Its timespec is not on the stack: the hot path calls
 * it twice a request, and an address-taken local costs a stack canary
 * each time; a process' event loop is one thread, and nothing of this
 * module runs in nginx's thread pools.
 */
static struct timespec  ngx_http_health_ts;

static ngx_inline uint64_t
ngx_http_health_monotonic_usec(void)
{
    (void) clock_gettime(CLOCK_MONOTONIC, &ngx_http_health_ts);

    return (uint64_t) ngx_http_health_ts.tv_sec * 1000000
           + ngx_http_health_ts.tv_nsec / 1000;
}


/*
 * The wall clock in milliseconds, read now: what dates a moment timed by
 * the monotonic clock.  Not nginx's cached time: ngx_time_update() reads
 * the wall clock before the monotonic one, and a report started after a
 * wake-up would pair a fresh monotonic reading with a wall time from
 * before it (a date of the past, when the wall clock was set in between).
 */
static ngx_inline uint64_t
ngx_http_health_wall_msec(void)
{
    (void) clock_gettime(CLOCK_REALTIME, &ngx_http_health_ts);

    return (uint64_t) ngx_http_health_ts.tv_sec * 1000
           + ngx_http_health_ts.tv_nsec / 1000000;
}


/*
 * One request, as the hot path writes it: the block's place in the
 * segment (22 bits), the status (10 bits, 0 when above 1023) and the
 * monotonic second it ended in (32 bits); its time and bytes.
 */
typedef struct {
    uint64_t                     word;
    uint64_t                     us;
    uint64_t                     bytes_in;
    uint64_t                     bytes_out;
} ngx_http_health_rec_t;

#define ngx_http_health_rec_word(place, status, sec)                          \
    (((uint64_t) (place) << 42)                                               \
     | ((uint64_t) ((status) < 1024 ? (status) : 0) << 32)                    \
     | ((sec) & 0xffffffff))


/*
 * A process' ring.  head is written by its owner only, on a line of its
 * own; folded is written under the segment's mutex by whoever folds.
 */
typedef struct {
    ngx_pid_t                    owner;          /* 0: free */
    uint32_t                     pad0;
    uint64_t                     generation;
    uint64_t                     folded;
    u_char                       pad1[NGX_HTTP_HEALTH_CACHE_LINE - 24];
    uint64_t                     head;
    u_char                       pad2[NGX_HTTP_HEALTH_CACHE_LINE - 8];
    ngx_http_health_rec_t        rec[NGX_HTTP_HEALTH_RING];
} ngx_http_health_ring_t;


/* a directory entry: the name a block is found by across reloads */
typedef struct {
    uint64_t                     hash;
    uint32_t                     len;            /* 0: a free block */
    uint32_t                     pad;
    u_char                       key[NGX_HTTP_HEALTH_KEY_LEN];
} ngx_http_health_dirent_t;


/*
 * A window slot: the requests of slot_width seconds.  A block has nslots
 * of them in a ring and one more after them, the sum of those in use, so
 * that a reader does not add them up.
 */
typedef struct {
    uint32_t                     epoch;          /* second / slot_width */
    uint32_t                     requests;
    uint32_t                     errors;         /* 5xx */
    uint32_t                     max_us;
    uint32_t                     hist[HEALTH_HIST_BUCKETS];
} ngx_http_health_slot_t;


/* a block's totals, since the zone or the peer was first configured */
typedef struct {
    uint64_t                     requests;
    uint64_t                     bytes_in;
    uint64_t                     bytes_out;
    uint64_t                     time_us;
    uint64_t                     codes_other[5]; /* past BLOCK_CODES */
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];
    uint64_t                     code_count[NGX_HTTP_HEALTH_BLOCK_CODES];
    uint16_t                     code[NGX_HTTP_HEALTH_BLOCK_CODES];
} ngx_http_health_totals_t;


/* what a reader gets for a zone or a peer */
typedef struct {
    uint64_t                     requests;
    uint64_t                     bytes_in;
    uint64_t                     bytes_out;
    uint64_t                     time_us;
    uint64_t                     classes[5];
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];

    /* the exact codes seen, in ascending order */
    ngx_uint_t                   ncodes;
    uint16_t                     code[NGX_HTTP_HEALTH_BLOCK_CODES];
    uint64_t                     code_count[NGX_HTTP_HEALTH_BLOCK_CODES];

    time_t                       w_seconds;      /* covered so far */
    uint64_t                     w_requests;
    uint64_t                     w_errors;
    uint64_t                     w_max_us;
    uint32_t                     w_hist[HEALTH_HIST_BUCKETS];
} ngx_http_health_stats_t;


void ngx_http_health_count_locked(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_uint_t status, uint64_t us, uint64_t sec,
    uint64_t bytes_in, uint64_t bytes_out);
void ngx_http_health_count_busy(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_uint_t status, uint64_t us, uint64_t sec,
    uint64_t bytes_in, uint64_t bytes_out);


/*
 * The record of one response at the ring's head: its owner alone writes
 * it, and the release store of head hands it to whoever folds.
 */
static ngx_inline void
ngx_http_health_rec_put(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_ring_t *ring, uint64_t head, ngx_uint_t block,
    ngx_uint_t status, uint64_t us, uint64_t sec, uint64_t bytes_in,
    uint64_t bytes_out)
{
    ngx_http_health_rec_t  *rec;

    rec = &ring->rec[head % NGX_HTTP_HEALTH_RING];

    rec->word = ngx_http_health_rec_word(hmcf->place[block], status, sec);
    rec->us = us;
    rec->bytes_in = bytes_in;
    rec->bytes_out = bytes_out;

    __atomic_store_n(&ring->head, head + 1, __ATOMIC_RELEASE);
}


/*
 * Count one response of block (a zone, or an upstream peer: their blocks
 * are laid out alike): the one writer of a block's counters, for the log
 * phase and the balancer alike.  us is its time, sec the monotonic second
 * it ended in.  One record into this process' ring: no lock unless the
 * ring is full (readers held the mutex for as long as it took to write
 * RING / 2 records) or this process has none.  One compare a request
 * tells the common case (less than half the ring pending after this
 * record) from the others, which count_busy handles.
 */
static ngx_inline void
ngx_http_health_count(ngx_http_health_main_conf_t *hmcf, ngx_uint_t block,
    ngx_uint_t status, uint64_t us, uint64_t sec, uint64_t bytes_in,
    uint64_t bytes_out)
{
    uint64_t                 head, pending;
    ngx_http_health_ring_t  *ring;

    ring = (ngx_http_health_ring_t *) hmcf->ring;

    if (ring == NULL) {
        ngx_http_health_count_locked(hmcf, block, status, us, sec, bytes_in,
                                     bytes_out);
        return;
    }

    head = ring->head;
    pending = head - __atomic_load_n(&ring->folded, __ATOMIC_ACQUIRE);

    if (pending >= NGX_HTTP_HEALTH_RING / 2 - 1) {
        ngx_http_health_count_busy(hmcf, block, status, us, sec, bytes_in,
                                   bytes_out);
        return;
    }

    ngx_http_health_rec_put(hmcf, ring, head, block, status, us, sec,
                            bytes_in, bytes_out);
}


char *ngx_http_health_shm_add(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
void ngx_http_health_shm_init_process(ngx_cycle_t *cycle);
void ngx_http_health_shm_exit_process(ngx_cycle_t *cycle);

/* fold every process' pending records: a reader's first step */
void ngx_http_health_shm_sync(ngx_http_health_main_conf_t *hmcf);

/* the block of the g-th upstream peer (of all groups): after the zones' */
#define ngx_http_health_peer_block(hmcf, g)  ((hmcf)->zones.nelts + (g))

/* block: a zone's index, or ngx_http_health_peer_block() of a peer */
void ngx_http_health_shm_read(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t block, ngx_http_health_stats_t *st, ngx_uint_t totals);

/* the upstream groups' region of the segment */
u_char *ngx_http_health_shm_upstream(ngx_http_health_main_conf_t *hmcf);


#endif /* _NGX_HTTP_HEALTH_SHM_H_INCLUDED_ */
