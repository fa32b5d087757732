/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the overall status kept current for load balancers.
 *
 * Judging the status reads every zone's window in every worker's shard:
 * its cost grows with zones times workers, and a load balancer asks for
 * it often, from every balancer at once.  So the verdict is kept in one
 * word of the segment's header, stamped with the time its reads began and
 * with the configuration it was judged by, and lb answers with one load.
 *
 * Who keeps it: every worker has a timer, and at each tick the first
 * worker that finds the verdict due claims the next judgement with one
 * compare-and-swap, so workers that start, stop or hang change nothing;
 * and every full report (JSON, Prometheus, lb, publishing) puts its
 * verdict too.  A reader never answers with a verdict older than
 * NGX_HTTP_HEALTH_VERDICT_MAX_AGE or of another configuration: it judges
 * the full report itself then, as every request did before, which also
 * covers the start, before any tick.
 *
 * Reloads: the rules are not part of the segment's layout, so a segment
 * kept across a reload may be judged by new rules.  init_zone gives each
 * configuration a generation; a verdict of another one is never answered
 * with, and workers that are shutting down stop judging.
 *
 * Cost: a judgement starts at most every NGX_HTTP_HEALTH_VERDICT_PERIOD,
 * and no sooner than ten times its last duration after the last one began,
 * so the timer takes at most a tenth of one CPU however large the segment
 * is; it only runs while someone asked for lb in the last minute, or while
 * a check is held (for=, recover=): a held state only moves when it is
 * judged, so then it judges at least once a second whoever asks.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_verdict.h"
#include "ngx_http_health_hold.h"


#define NGX_HTTP_HEALTH_VERDICT_PERIOD  100      /* ms */
#define NGX_HTTP_HEALTH_VERDICT_WARM    60       /* s */

/*
 * stamp (usec since the segment's start, 48 bits: 8 years) |
 * generation (8) | status (8); a worker 256 reloads old could mistake a
 * verdict for its own
 */
#define ngx_http_health_verdict_word(stamp, gen, status)                      \
    (((uint64_t) (stamp) << 16) | (((gen) & 0xff) << 8) | (status))
#define ngx_http_health_verdict_stamp(v)  ((v) >> 16)
#define ngx_http_health_verdict_gen(v)    (((v) >> 8) & 0xff)
#define ngx_http_health_verdict_mine(hmcf, v)                                 \
    (ngx_http_health_verdict_gen(v) == ((hmcf)->generation & 0xff))


static void ngx_http_health_verdict_tick(ngx_event_t *ev);
static void ngx_http_health_verdict_judge(ngx_http_health_main_conf_t *hmcf,
    ngx_log_t *log);


static ngx_event_t  ngx_http_health_verdict_timer;


void
ngx_http_health_verdict_init_process(ngx_cycle_t *cycle)
{
    ngx_event_t                  *ev;
    ngx_http_health_main_conf_t  *hmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    /* no status location and no held check: no one to answer */
    if (hmcf == NULL || hmcf->sh == NULL
        || (!hmcf->status_served && !ngx_http_health_hold_configured(hmcf)))
    {
        return;
    }

    ev = &ngx_http_health_verdict_timer;

    ev->handler = ngx_http_health_verdict_tick;
    ev->data = hmcf;
    ev->log = cycle->log;
    ev->cancelable = 1;

    /* the workers' ticks spread over the period */
    ngx_add_timer(ev, 1 + ngx_worker * 37 % NGX_HTTP_HEALTH_VERDICT_PERIOD);
}


static void
ngx_http_health_verdict_tick(ngx_event_t *ev)
{
    uint64_t                      now, v, next;
    ngx_uint_t                    due;
    ngx_http_health_shctx_t      *sh;
    ngx_http_health_main_conf_t  *hmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    hmcf = ev->data;
    sh = hmcf->sh;
    now = ngx_http_health_verdict_clock(hmcf);

    v = ngx_http_health_load(&sh->verdict);
    next = ngx_http_health_load(&sh->verdict_next);

    due = (now - ngx_http_health_load(&sh->verdict_asked)
           < NGX_HTTP_HEALTH_VERDICT_WARM * 1000000
           && (!ngx_http_health_verdict_mine(hmcf, v)
               || now - ngx_http_health_verdict_stamp(v)
                  >= NGX_HTTP_HEALTH_VERDICT_PERIOD * 1000))
          || ngx_http_health_hold_due(hmcf);

    if (due
        && now >= next
        && __atomic_compare_exchange_n(&sh->verdict_next, &next,
                                       now + NGX_HTTP_HEALTH_VERDICT_PERIOD
                                             * 1000,
                                       0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    {
        ngx_http_health_verdict_judge(hmcf, ev->log);
    }

    ngx_add_timer(ev, NGX_HTTP_HEALTH_VERDICT_PERIOD);
}


static void
ngx_http_health_verdict_judge(ngx_http_health_main_conf_t *hmcf,
    ngx_log_t *log)
{
    uint64_t          start, cost;
    ngx_pool_t       *pool;
    health_status_t   status;

    start = ngx_http_health_verdict_clock(hmcf);

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return;
    }

    /* on failure no verdict is put: readers judge for themselves */
    if (ngx_http_health_report_status(pool, hmcf, &status) == NGX_OK) {
        ngx_http_health_verdict_put(hmcf, status, start);
        ngx_http_health_hold_ticked(hmcf);
    }

    ngx_destroy_pool(pool);

    cost = ngx_http_health_verdict_clock(hmcf) - start;

    if (cost * 10 > NGX_HTTP_HEALTH_VERDICT_PERIOD * 1000) {
        ngx_http_health_store(&hmcf->sh->verdict_next, start + cost * 10);
    }
}


/*
 * The monotonic clock counted from the segment's start: it fits the
 * stamp's 48 bits whatever the clock's own origin (boot, or a time
 * namespace's offset), and is never 0, the stamp of no verdict yet.
 */
uint64_t
ngx_http_health_verdict_clock(ngx_http_health_main_conf_t *hmcf)
{
    uint64_t  now, base;

    now = ngx_http_health_monotonic_usec();
    base = (uint64_t) hmcf->sh->started * 1000000;

    return now > base ? now - base + 1 : 1;
}


ngx_int_t
ngx_http_health_verdict_get(ngx_http_health_main_conf_t *hmcf,
    health_status_t *status)
{
    uint64_t                  now, v, stamp;
    ngx_http_health_shctx_t  *sh;

    sh = hmcf->sh;

    if (sh == NULL) {
        return NGX_DECLINED;
    }

    now = ngx_http_health_verdict_clock(hmcf);

    /* written about once a second, not on every request */
    if (now - ngx_http_health_load(&sh->verdict_asked) >= 1000000) {
        ngx_http_health_store(&sh->verdict_asked, now);
    }

    v = ngx_http_health_load(&sh->verdict);
    stamp = ngx_http_health_verdict_stamp(v);

    if (stamp == 0
        || !ngx_http_health_verdict_mine(hmcf, v)
        || (now > stamp
            && now - stamp > NGX_HTTP_HEALTH_VERDICT_MAX_AGE * 1000))
    {
        return NGX_DECLINED;
    }

    *status = (health_status_t) (v & 0xff);

    return NGX_OK;
}


void
ngx_http_health_verdict_put(ngx_http_health_main_conf_t *hmcf,
    health_status_t status, uint64_t since)
{
    uint64_t                  v, word;
    ngx_http_health_shctx_t  *sh;

    sh = hmcf->sh;

    if (sh == NULL || ngx_exiting) {
        return;
    }

    word = ngx_http_health_verdict_word(since, hmcf->generation,
                                        (uint64_t) status);
    v = ngx_http_health_load(&sh->verdict);

    /* a judgement that began later, by these rules, stays */
    do {
        if (ngx_http_health_verdict_mine(hmcf, v)
            && ngx_http_health_verdict_stamp(v) > since)
        {
            return;
        }

    } while (!__atomic_compare_exchange_n(&sh->verdict, &v, word, 0,
                                          __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}
