/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers in the status: the groups' checks, their
 * peers in the JSON and their Prometheus metrics.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_histogram.h"
#include "health_status.h"
#include "ngx_http_health_upstream_int.h"


#define ngx_http_health_put(p, s)  ngx_cpymem(p, s, sizeof(s) - 1)


/* a peer's figures for a scrape, read once for all the families */
typedef struct {
    const char                  *state;      /* NULL: not listed */
    ngx_uint_t                   kept;       /* kept in by max_ejected */
    ngx_uint_t                   ramp;       /* 1/10000 of the share */
    uint64_t                     requests;   /* attempts with a response */
    uint64_t                     failed;
    uint64_t                     fails;      /* nginx's, all workers */
    uint64_t                     time_us;
    uint64_t                     classes[5];
    uint64_t                     checks;
    uint64_t                     results[NGX_HTTP_HEALTH_CHECK_NRESULTS];
    uint64_t                     rtt_us;     /* of the last check */
    uint64_t                     rtt_sum_us;
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];
} ngx_http_health_prom_peer_t;


static const char *ngx_http_health_peer_state(ngx_http_health_upstream_t *hu,
    ngx_uint_t i, ngx_http_health_peer_sh_t *psh, time_t now);
static ngx_uint_t ngx_http_health_peer_kept(ngx_http_health_upstream_t *hu,
    ngx_http_health_peer_sh_t *psh, const char *state);
static ngx_int_t ngx_http_health_peer_event(ngx_http_health_report_t *rep,
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh);
static u_char *ngx_http_health_prom_peer(ngx_http_health_main_conf_t *hmcf,
    ngx_uint_t f, u_char *p, u_char *un, u_char *pn,
    ngx_http_health_prom_peer_t *pr);
static ngx_int_t ngx_http_health_peer_json(ngx_http_health_report_t *rep,
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, const char *state,
    ngx_http_health_stats_t *st, ngx_uint_t first);
static ngx_uint_t ngx_http_health_peer_ramp(ngx_http_health_upstream_t *hu,
    ngx_uint_t i, ngx_http_health_peer_sh_t *psh, ngx_msec_t *left);
static u_char *ngx_http_health_peer_slow_start(u_char *p,
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh);


/* the state of a peer for the report: ours first, then nginx's own */
static const char *
ngx_http_health_peer_state(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, time_t now)
{
    ngx_http_upstream_rr_peer_t  *rr;

#if (NGX_HTTP_HEALTH_RESOLVE)
    if (hu->peers[i].slot) {
        return ngx_http_health_resolve_state(hu, i, psh, now);
    }
#endif

    rr = hu->tracked ? hu->peers[i].rr : NULL;

#ifdef NGX_HTTP_UPSTREAM_DRAINING
    /* "drain": only sticky requests, deliberately; not a failure */
    if (rr && (rr->down & NGX_HTTP_UPSTREAM_DRAINING)) {
        return "draining";
    }
#endif

    if (rr ? rr->down : hu->peers[i].down) {
        return "down";
    }

    if (hu->conf && ngx_http_health_load(&psh->down)) {
        return "unhealthy";
    }

    if (rr && rr->max_fails && rr->fails >= rr->max_fails
        && now - rr->checked <= rr->fail_timeout)
    {
        return "unavailable";
    }

    return "up";
}


/*
 * Failing its checks but in rotation: "unhealthy" by its checks (not a
 * peer marked down or draining) and kept in by max_ejected.
 */
static ngx_uint_t
ngx_http_health_peer_kept(ngx_http_health_upstream_t *hu,
    ngx_http_health_peer_sh_t *psh, const char *state)
{
    return hu->conf && state[0] == 'u' && state[2] == 'h'
           && ngx_http_health_load(&psh->down) == NGX_HTTP_HEALTH_PEER_KEPT;
}


/*
 * The share of its balancer's choices a peer takes, in 1/10000: 0 out of
 * rotation by its checks, the elapsed part of slow_start while it ramps
 * (and the time left of it), 10000 otherwise.
 */
static ngx_uint_t
ngx_http_health_peer_ramp(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, ngx_msec_t *left)
{
    ngx_msec_t  elapsed;

    *left = 0;

    if (ngx_http_health_peer_out(hu->hmcf, hu->first + i)) {
        return 0;
    }

    if (hu->slow_start == 0) {
        return 10000;
    }

    elapsed = ngx_http_health_ramp_elapsed(hu, i,
                                ngx_http_health_monotonic_usec() / 1000);

    *left = hu->slow_start - elapsed;

    return (uint64_t) elapsed * 10000 / hu->slow_start;
}


/* ,"slow_start":{...} of a ramping peer; at most 128 bytes */
static u_char *
ngx_http_health_peer_slow_start(u_char *p, ngx_http_health_upstream_t *hu,
    ngx_uint_t i, ngx_http_health_peer_sh_t *psh)
{
    uint64_t     until;
    ngx_uint_t   ramp;
    ngx_msec_t   left;
    ngx_time_t  *tp;

    ramp = ngx_http_health_peer_ramp(hu, i, psh, &left);

    if (left == 0) {
        return p;
    }

    tp = ngx_timeofday();
    until = (uint64_t) tp->sec * 1000 + tp->msec + left;

    p = ngx_http_health_put(p, ",\"slow_start\":{\"until\":\"");
    p = ngx_http_health_iso8601(p, (time_t) (until / 1000), until % 1000);

    return ngx_sprintf(p, "\",\"seconds_left\":%M.%03M,\"weight_pct\":%ui,"
                       "\"ratio\":0.%04ui}", left / 1000, left % 1000,
                       ramp / 100, ramp);
}


/*
 * For publishing: the peer's state by its checks as a pseudo-check
 * "upstream:GROUP:PEER" that the Redis alerts compare round by round
 * (healthy in rotation, degraded kept in by max_ejected, unhealthy out of
 * rotation).  It is no check of the instance: it leaves the report's
 * status alone (the group's check says as much) and stays out of the
 * published checks.
 */
static ngx_int_t
ngx_http_health_peer_event(ngx_http_health_report_t *rep,
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh)
{
    ngx_str_t                 *name;
    ngx_uint_t                 k;
    ngx_http_health_check_t   *ch;

    name = &hu->peers[i].name;
    k = ngx_http_health_peer_ordinal(hu, i);

    ch = ngx_array_push(&rep->checks);
    if (ch == NULL) {
        return NGX_ERROR;
    }

    ch->name.data = ngx_pnalloc(rep->pool, sizeof("upstream:::#") - 1
                                           + hu->name.len + name->len
                                           + NGX_INT_T_LEN);
    if (ch->name.data == NULL) {
        return NGX_ERROR;
    }

    /* a server listed twice: "#N" after its N-th repeat, as in Prometheus */
    ch->name.len = (k ? ngx_sprintf(ch->name.data, "upstream:%V:%V#%ui",
                                    &hu->name, name, k)
                      : ngx_sprintf(ch->name.data, "upstream:%V:%V",
                                    &hu->name, name))
                   - ch->name.data;

    switch (ngx_http_health_load(&psh->down)) {
    case NGX_HTTP_HEALTH_PEER_IN:
        ch->status = HEALTH_HEALTHY;
        break;
    case NGX_HTTP_HEALTH_PEER_KEPT:
        ch->status = HEALTH_DEGRADED;
        break;
    default:
        ch->status = HEALTH_UNHEALTHY;
    }

    ch->rule = 0;
    ch->judged = 1;
    ch->peer = 1;

    return NGX_OK;
}


/*
 * A peer's object, written as text like a zone's (see the status): the
 * keys and their order are those the jansson tree had.
 */
static ngx_int_t
ngx_http_health_peer_json(ngx_http_health_report_t *rep,
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, const char *state,
    ngx_http_health_stats_t *st, ngx_uint_t first)
{
    u_char                  *p;
    double                   pc[3];
    uint64_t                 failed;
    uint32_t                 code;
    ngx_uint_t               k;
    ngx_buf_t               *b;
    ngx_str_t               *name;
    u_char                  *last;
    ngx_http_health_text_t  *text;
    u_char                   reason[NGX_HTTP_HEALTH_REASON_LEN];

    static const double  q[] = { 0.5, 0.95, 0.99 };

    name = &hu->peers[i].name;
    text = &rep->upstreams_text;

    b = ngx_http_health_text_room(rep->pool, text,
                                  6 * name->len + 1280 + 128
                                  + 13 * NGX_INT64_LEN
                                  + 3 * NGX_HTTP_HEALTH_NUMBER_LEN
                                  + NGX_HTTP_HEALTH_CHECK_NRESULTS
                                    * (32 + NGX_INT64_LEN));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    if (!first) {
        *p++ = ',';
    }

    failed = ngx_http_health_load(&psh->failed);

    p = ngx_http_health_put(p, "{\"server\":");
    p = ngx_http_health_json_write_string(p, name->data, name->len);
    p = ngx_http_health_put(p, ",\"state\":\"");
    p = ngx_cpymem(p, state, ngx_strlen(state));
    p = ngx_http_health_put(p, "\",\"backup\":");
    p = hu->peers[i].backup ? ngx_http_health_put(p, "true")
                            : ngx_http_health_put(p, "false");

    if (ngx_http_health_peer_kept(hu, psh, state)) {
        p = ngx_sprintf(p, ",\"kept_by_limit\":true,\"kept_reason\":\"%s, "
                        "kept in rotation by "
                        "max_ejected=%ui%%: at most %ui of %ui peers may be "
                        "out at once\"",
                        ngx_http_health_load(&psh->cause)
                        == NGX_HTTP_HEALTH_CAUSE_OBSERVE
                        ? "fails real requests (observe)"
                        : "fails its health checks",
                        ngx_http_health_max_ejected_pct(hu),
                        ngx_http_health_max_ejected(hu), hu->nchecked);
    }

    /* why it is out of rotation, or kept in */
    if (hu->conf
        && ngx_http_health_load(&psh->down) != NGX_HTTP_HEALTH_PEER_IN)
    {
        if (ngx_http_health_load(&psh->cause)
            == NGX_HTTP_HEALTH_CAUSE_OBSERVE)
        {
            p = ngx_sprintf(p, ",\"reason\":\"%ui consecutive %s\"",
                            hu->conf->observe_fails,
                            ngx_http_health_observed[hu->observe]);

        } else {
            p = ngx_sprintf(p, ",\"reason\":\"%ui failed checks\"",
                            hu->conf->fails);
        }
    }

    if (hu->slow_start && state[0] != 'd') {
        p = ngx_http_health_peer_slow_start(p, hu, i, psh);
    }

    p = ngx_http_health_put(p, ",\"requests\":");
    p = ngx_http_health_write_uint(p, st->requests + failed);
    p = ngx_http_health_put(p, ",\"fails\":");
    p = ngx_http_health_write_uint(p, ngx_http_health_load(&psh->fails));
    p = ngx_http_health_put(p, ",\"failed_attempts\":");
    p = ngx_http_health_write_uint(p, failed);
    p = ngx_http_health_json_write_classes(p, st->classes);
    health_hist_quantiles(st->w_hist, st->w_requests, q, pc, 3,
                          st->w_max_us);

    p = ngx_http_health_put(p, "},\"latency_ms\":{\"p50\":");
    p = ngx_http_health_json_write_number(p, pc[0] / 1000);
    p = ngx_http_health_put(p, ",\"p95\":");
    p = ngx_http_health_json_write_number(p, pc[1] / 1000);
    p = ngx_http_health_put(p, ",\"p99\":");
    p = ngx_http_health_json_write_number(p, pc[2] / 1000);
    *p++ = '}';

    if (hu->conf) {
        p = ngx_http_health_put(p, ",\"health_checks\":{\"checks\":");
        p = ngx_http_health_write_uint(p, ngx_http_health_load(&psh->checks));
        p = ngx_http_health_put(p, ",\"fails\":");
        p = ngx_http_health_write_uint(p,
                                 ngx_http_health_load(&psh->check_fails));
        p = ngx_http_health_put(p, ",\"consecutive_fails\":");
        p = ngx_http_health_write_uint(p,
                           ngx_http_health_load(&psh->consecutive_fails));
        p = ngx_http_health_put(p, ",\"consecutive_passes\":");
        p = ngx_http_health_write_uint(p,
                          ngx_http_health_load(&psh->consecutive_passes));

        if (hu->observe) {
            p = ngx_http_health_put(p, ",\"consecutive_passive_fails\":");
            p = ngx_http_health_write_uint(p,
                                  ngx_http_health_load(&psh->observed));
        }

        switch (ngx_http_health_load(&psh->last_passed)) {
        case 0:
            p = ngx_http_health_put(p, ",\"last_passed\":null");
            break;
        case 1:
            p = ngx_http_health_put(p, ",\"last_passed\":true");
            break;
        default:
            last = ngx_http_health_check_reason(reason,
                           ngx_http_health_load(&psh->last_result), 0,
                           ngx_http_health_load(&psh->last_tls_error));
            p = ngx_http_health_put(p, ",\"last_passed\":false,"
                                       "\"last_error\":");
            p = ngx_http_health_json_write_string(p, reason, last - reason);
        }

        code = ngx_http_health_load(&psh->last_code);

        if (code) {
            p = ngx_http_health_put(p, ",\"last_status\":");
            p = ngx_http_health_write_uint(p, code);
        }

        if (ngx_http_health_load(&psh->last_passed)) {
            p = ngx_http_health_put(p, ",\"last_rtt_ms\":");
            p = ngx_http_health_json_write_number(p,
                           (double) ngx_http_health_load(&psh->rtt_us) / 1000);
        }

        /* every check by its result, as in Prometheus */
        p = ngx_http_health_put(p, ",\"results\":{");

        for (k = 0; k < ngx_http_health_check_nresults; k++) {
            if (k) {
                *p++ = ',';
            }

            *p++ = '"';
            p = ngx_cpymem(p, ngx_http_health_check_results[k],
                           ngx_strlen(ngx_http_health_check_results[k]));
            p = ngx_http_health_put(p, "\":");
            p = ngx_http_health_write_uint(p,
                                   ngx_http_health_load(&psh->results[k]));
        }

        *p++ = '}';

        *p++ = '}';
    }

    *p++ = '}';

    ngx_http_health_text_advance(text, b, p);

    return NGX_OK;
}


ngx_int_t
ngx_http_health_upstream_collect(ngx_http_health_report_t *rep, void *data)
{
    ngx_http_health_upstream_main_conf_t  *humcf = data;

    u_char                         *p;
    time_t                          now;
    json_t                         *check;
    uint64_t                        ndown;
    ngx_buf_t                      *b;
    ngx_str_t                       name;
    ngx_uint_t                      u, i, up, down, total, draining, json,
                                    kept;
    ngx_http_health_text_t         *text;
    const char                     *state;
    health_status_t                 status;
    ngx_http_health_stats_t        *st;
    ngx_http_health_peer_sh_t      *psh;
    ngx_http_health_upstream_t     *hu;
    ngx_http_health_main_conf_t    *hmcf;
    ngx_http_health_upstream_sh_t  *ush;

    hmcf = humcf->hmcf;

    if (hmcf->sh == NULL) {
        return NGX_OK;
    }

    st = ngx_palloc(rep->pool, sizeof(ngx_http_health_stats_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    json = (rep->root != NULL);
    text = &rep->upstreams_text;

    if (json) {
        /* "upstreams" is there, even empty, whenever there are groups */
        rep->upstreams = 1;
        text->chunk = ngx_max(hmcf->npeers * 512, 4096);
    }

    now = ngx_time();
    hu = humcf->upstreams.elts;

    for (u = 0; u < humcf->upstreams.nelts; u++) {
        ush = ngx_http_health_upstream_sh(hmcf, u);
        ndown = hu[u].conf ? ngx_http_health_load(&ush->ndown) : 0;

        if (json) {
            b = ngx_http_health_text_room(rep->pool, text,
                                          6 * hu[u].name.len + 16);
            if (b == NULL) {
                return NGX_ERROR;
            }

            p = b->last;

            if (u) {
                *p++ = ',';
            }

            p = ngx_http_health_json_write_string(p, hu[u].name.data,
                                                  hu[u].name.len);
            p = ngx_http_health_put(p, ":{\"peers\":[");

            ngx_http_health_text_advance(text, b, p);
        }

        up = 0;
        down = 0;
        kept = 0;
        total = 0;
        draining = 0;

#if (NGX_HTTP_HEALTH_RESOLVE)
        if (hu[u].nresolve
            && hu[u].config != *((ngx_http_upstream_rr_peers_t *)
                                 hu[u].uscf->peer.data)->config)
        {
            /* Redis publishing reports without a connection */
            ngx_http_health_resolve_sync(&hu[u], ngx_cycle->log);
        }
#endif

        for (i = 0; i < hu[u].npeers; i++) {

#if (NGX_HTTP_HEALTH_RESOLVE)
            /* a slot is listed while its address is one of the peers */
            if (hu[u].peers[i].slot && !hu[u].peers[i].live) {
                continue;
            }
#endif

            psh = ngx_http_health_peer_sh(hmcf, hu[u].first + i);
            state = ngx_http_health_peer_state(&hu[u], i, psh, now);

            total++;
            kept += ngx_http_health_peer_kept(&hu[u], psh, state);

            /* not a peer marked down or draining: it is not checked */
            if (rep->publish && hu[u].conf && state[0] != 'd'
                && ngx_http_health_peer_event(rep, &hu[u], i, psh) != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (state[0] == 'u' && state[1] == 'p') {
                up++;

            } else if (state[0] == 'd' && state[1] == 'r') {
                /* "drain": leaves on purpose, still counted as a peer */
                draining++;

            } else if (state[0] == 'd') {
                /* taken out on purpose: neither a failure nor degraded */
                down++;
            }

            if (!json) {
                continue;
            }

            ngx_http_health_shm_read(hmcf,
                    ngx_http_health_peer_block(hmcf, hu[u].first + i), st, 1);

            if (ngx_http_health_peer_json(rep, &hu[u], i, psh, state, st,
                                          total == 1)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        /* a peer marked down or draining leaves on purpose */
        status = (up && up == total - down - draining) ? HEALTH_HEALTHY
                 : up ? HEALTH_DEGRADED : HEALTH_UNHEALTHY;

        /*
         * Like a dependency with required=off: a group whose peers all
         * fail must not make every instance answer 503 at once.
         */
        if (status == HEALTH_UNHEALTHY
            && (hu[u].conf == NULL || !hu[u].conf->required))
        {
            status = HEALTH_DEGRADED;
        }

        check = NULL;

        if (json) {
            check = json_object();
            if (check == NULL) {
                return NGX_ERROR;
            }

            json_object_set_new(check, "healthy_peers", json_integer(up));
            json_object_set_new(check, "total_peers",
                                json_integer(total - down));

            if (down) {
                json_object_set_new(check, "down_peers", json_integer(down));
            }
            json_object_set_new(check, "required",
                                json_boolean(hu[u].conf
                                             && hu[u].conf->required));

            if (ndown && ndown >= hu[u].nchecked) {
                json_object_set_new(check, "fail_open", json_true());
                json_object_set_new(check, "reason", json_string(
                    "every peer failed its health checks: fail-open, "
                    "all peers stay in rotation"));

            } else if (kept) {
                json_object_set_new(check, "kept_by_limit",
                                    json_integer(kept));
                json_object_set_new(check, "reason", json_string(
                    "some peers fail their health checks but stay in "
                    "rotation: max_ejected of the peers are out already"));
            }
        }

        if (json) {
            b = ngx_http_health_text_room(rep->pool, text,
                                          sizeof("],\"fail_open\":false,"
                                                 "\"max_ejected\":,"
                                                 "\"ejected\":,"
                                                 "\"kept_by_limit\":}")
                                          + 3 * NGX_INT64_LEN);
            if (b == NULL) {
                json_decref(check);
                return NGX_ERROR;
            }

            p = (ndown && ndown >= hu[u].nchecked)
                ? ngx_http_health_put(b->last, "],\"fail_open\":true")
                : ngx_http_health_put(b->last, "],\"fail_open\":false");

            if (hu[u].conf) {
                p = ngx_sprintf(p, ",\"max_ejected\":%ui,\"ejected\":%uL,"
                                "\"kept_by_limit\":%ui",
                                ngx_http_health_max_ejected(&hu[u]), ndown,
                                kept);
            }

            *p++ = '}';

            ngx_http_health_text_advance(text, b, p);
        }

        name.len = sizeof("upstream:") - 1 + hu[u].name.len;
        name.data = ngx_pnalloc(rep->pool, name.len);
        if (name.data == NULL) {
            json_decref(check);
            return NGX_ERROR;
        }

        ngx_sprintf(name.data, "upstream:%V", &hu[u].name);

        /* NGX_DECLINED: not among the checks asked for, nothing to add */
        if (ngx_http_health_report_add_check(rep, &name, status, check)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_health_upstream_prometheus(ngx_http_health_report_t *rep,
    void *data)
{
    ngx_http_health_upstream_main_conf_t  *humcf = data;

    u_char                        *p, *un, *pn, **names;
    size_t                         line, label, lines;
    time_t                         now;
    ngx_str_t                      pl;
    uint64_t                       cum;
    ngx_buf_t                     *b;
    ngx_uint_t                     u, i, k, f, g, nu;
    ngx_msec_t                     left;
    ngx_http_health_text_t        *text;
    ngx_http_health_stats_t       *st;
    ngx_http_health_peer_sh_t     *psh;
    ngx_http_health_upstream_t    *hu;
    ngx_http_health_prom_peer_t   *pp, *pr;
    ngx_http_health_main_conf_t   *hmcf;

    static const char  *families[] = {
        "# HELP nginx_health_upstream_peer_up Whether a peer is in rotation "
        "(1) or not (0); absent for a peer marked down in the "
        "configuration.\n"
        "# TYPE nginx_health_upstream_peer_up gauge\n",
        "# HELP nginx_health_upstream_peer_state The state of a peer (up, "
        "down, unhealthy, unavailable): 1 for the one it is in.\n"
        "# TYPE nginx_health_upstream_peer_state gauge\n",
        "# HELP nginx_health_upstream_peer_requests_total Requests sent to "
        "a peer (every attempt).\n"
        "# TYPE nginx_health_upstream_peer_requests_total counter\n",
        "# HELP nginx_health_upstream_peer_failed_attempts_total Attempts "
        "that failed before a response (refused, reset, timed out).\n"
        "# TYPE nginx_health_upstream_peer_failed_attempts_total counter\n",
        "# HELP nginx_health_upstream_peer_responses_total Responses of a "
        "peer by status class.\n"
        "# TYPE nginx_health_upstream_peer_responses_total counter\n",
        "# HELP nginx_health_upstream_peer_response_duration_seconds Time "
        "from choosing a peer to the end of its response (attempts with a "
        "response).\n"
        "# TYPE nginx_health_upstream_peer_response_duration_seconds "
        "histogram\n",
        "# HELP nginx_health_upstream_peer_kept_by_limit Whether a peer "
        "that fails its health checks is kept in rotation by max_ejected "
        "(1) or not (0); only for groups with health_check.\n"
        "# TYPE nginx_health_upstream_peer_kept_by_limit gauge\n",
        "# HELP nginx_health_upstream_peer_fails_total Attempts nginx "
        "counted as failed for a peer (toward max_fails), all workers.\n"
        "# TYPE nginx_health_upstream_peer_fails_total counter\n",
        "# HELP nginx_health_upstream_peer_checks_total Active health checks "
        "of a peer by result; only for groups with health_check.\n"
        "# TYPE nginx_health_upstream_peer_checks_total counter\n",
        "# HELP nginx_health_upstream_peer_check_duration_seconds Round trip "
        "of a peer's active health checks, from connecting to the verdict.\n"
        "# TYPE nginx_health_upstream_peer_check_duration_seconds summary\n",
        "# HELP nginx_health_upstream_peer_check_last_duration_seconds Round "
        "trip of a peer's last active health check.\n"
        "# TYPE nginx_health_upstream_peer_check_last_duration_seconds "
        "gauge\n",
        "# HELP nginx_health_upstream_peer_slow_start_ratio The share of "
        "the balancer's choices of a peer it takes: from 0 to 1 during its "
        "slow start, 1 otherwise, 0 while out of rotation by its checks; "
        "only for groups with health_check.\n"
        "# TYPE nginx_health_upstream_peer_slow_start_ratio gauge\n"
    };

    hmcf = humcf->hmcf;

    if (hmcf->sh == NULL || humcf->upstreams.nelts == 0) {
        return NGX_OK;
    }

    st = ngx_palloc(rep->pool, sizeof(ngx_http_health_stats_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    now = ngx_time();
    hu = humcf->upstreams.elts;

#if (NGX_HTTP_HEALTH_RESOLVE)
    /* the same peers in every family of this scrape */
    for (u = 0; u < humcf->upstreams.nelts; u++) {
        if (hu[u].nresolve
            && hu[u].config != *((ngx_http_upstream_rr_peers_t *)
                                 hu[u].uscf->peer.data)->config)
        {
            ngx_http_health_resolve_sync(&hu[u], ngx_cycle->log);
        }
    }
#endif

    /* label values, escaped once: group names first, then every peer's */
    names = ngx_palloc(rep->pool,
                       (humcf->upstreams.nelts + hmcf->npeers)
                       * sizeof(u_char *));
    if (names == NULL) {
        return NGX_ERROR;
    }

    for (u = 0; u < humcf->upstreams.nelts; u++) {
        names[u] = ngx_http_health_prom_escape(rep->pool,
                                               &hu[u].name);
        if (names[u] == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < hu[u].npeers; i++) {
            /*
             * a server listed twice in a group: "#N" after the name of
             * its N-th repeat (as in its block's key), so that no two
             * series of a scrape have the same labels
             */
            k = ngx_http_health_peer_ordinal(&hu[u], i);
            pl = hu[u].peers[i].name;

            if (k) {
                pl.data = ngx_pnalloc(rep->pool, pl.len + 1 + NGX_INT_T_LEN);
                if (pl.data == NULL) {
                    return NGX_ERROR;
                }

                pl.len = ngx_sprintf(pl.data, "%V#%ui",
                                     &hu[u].peers[i].name, k)
                         - pl.data;
            }

            pn = ngx_http_health_prom_escape(rep->pool, &pl);
            if (pn == NULL) {
                return NGX_ERROR;
            }

            names[humcf->upstreams.nelts + hu[u].first + i] = pn;
        }
    }

    /* every peer read once, so that its families agree with each other */

    pp = ngx_palloc(rep->pool,
                    ngx_max(hmcf->npeers, 1)
                    * sizeof(ngx_http_health_prom_peer_t));
    if (pp == NULL) {
        return NGX_ERROR;
    }

    nu = humcf->upstreams.nelts;

    for (u = 0; u < nu; u++) {
        for (i = 0; i < hu[u].npeers; i++) {
            pr = &pp[hu[u].first + i];
            pr->state = NULL;

#if (NGX_HTTP_HEALTH_RESOLVE)
            /* a slot is listed while its address is one of the peers */
            if (hu[u].peers[i].slot && !hu[u].peers[i].live) {
                continue;
            }
#endif

            psh = ngx_http_health_peer_sh(hmcf, hu[u].first + i);
            pr->state = ngx_http_health_peer_state(&hu[u], i, psh, now);
            pr->kept = hu[u].conf
                       ? ngx_http_health_peer_kept(&hu[u], psh, pr->state) + 1
                       : 0;
            pr->failed = ngx_http_health_load(&psh->failed);
            pr->fails = ngx_http_health_load(&psh->fails);
            pr->rtt_us = ngx_http_health_load(&psh->rtt_us);
            pr->rtt_sum_us = ngx_http_health_load(&psh->rtt_sum_us);

            /* _count is the sum of the results of the same scrape */
            pr->checks = 0;

            for (k = 0; k < ngx_http_health_check_nresults; k++) {
                pr->results[k] = ngx_http_health_load(&psh->results[k]);
                pr->checks += pr->results[k];
            }
            pr->ramp = hu[u].conf
                       ? ngx_http_health_peer_ramp(&hu[u], i, psh, &left)
                       : 0;

            ngx_http_health_shm_read(hmcf,
                    ngx_http_health_peer_block(hmcf, hu[u].first + i), st, 1);

            pr->requests = st->requests;
            pr->time_us = st->time_us;
            ngx_memcpy(pr->classes, st->classes, sizeof(st->classes));

            cum = 0;

            for (k = 0; k < hmcf->nbounds; k++) {
                cum += st->buckets[k];
                pr->buckets[k] = cum;
            }
        }
    }

    label = 0;

    for (k = 0; k < hmcf->nbounds; k++) {
        label = ngx_max(label, hmcf->bound_labels[k].len);
    }

    line = sizeof("nginx_health_upstream_peer_response_duration_seconds_"
                  "bucket{upstream=\"\",peer=\"\",le=\"\"} \n")
           + label + 32 + NGX_INT64_LEN;

    text = &rep->text;
    lines = ngx_max(hmcf->nbounds, NGX_HTTP_HEALTH_CHECK_NRESULTS) + 5;

    text->chunk = ngx_max(text->chunk,
                          hmcf->npeers * (lines + 11) * (line + 32));

    /* one family at a time, as the exposition format wants them grouped */
    for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        b = ngx_http_health_text_room(rep->pool, text,
                                      ngx_strlen(families[f]));
        if (b == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(b->last, families[f], ngx_strlen(families[f]));
        ngx_http_health_text_advance(text, b, p);

        for (u = 0; u < nu; u++) {
            un = names[u];

            for (i = 0; i < hu[u].npeers; i++) {
                g = hu[u].first + i;
                pr = &pp[g];

                if (pr->state == NULL) {
                    continue;
                }

                pn = names[nu + g];

                b = ngx_http_health_text_room(rep->pool, text,
                                              lines
                                              * (line + ngx_strlen(un)
                                                 + ngx_strlen(pn)));
                if (b == NULL) {
                    return NGX_ERROR;
                }

                p = ngx_http_health_prom_peer(hmcf, f, b->last, un, pn, pr);

                ngx_http_health_text_advance(text, b, p);
            }
        }
    }

    return NGX_OK;
}


/* the lines of one family for one peer; the room is the caller's */
static u_char *
ngx_http_health_prom_peer(ngx_http_health_main_conf_t *hmcf, ngx_uint_t f,
    u_char *p, u_char *un, u_char *pn, ngx_http_health_prom_peer_t *pr)
{
    ngx_uint_t  k;

    static const char  *names[] = {
        "nginx_health_upstream_peer_up",
        "nginx_health_upstream_peer_state",
        "nginx_health_upstream_peer_requests_total",
        "nginx_health_upstream_peer_failed_attempts_total",
        "nginx_health_upstream_peer_responses_total",
        "nginx_health_upstream_peer_response_duration_seconds_bucket",
        "nginx_health_upstream_peer_kept_by_limit",
        "nginx_health_upstream_peer_fails_total",
        "nginx_health_upstream_peer_checks_total",
        "nginx_health_upstream_peer_check_duration_seconds_sum",
        "nginx_health_upstream_peer_check_last_duration_seconds",
        "nginx_health_upstream_peer_slow_start_ratio"
    };

#define ngx_http_health_labels(p, name)                                       \
    p = ngx_cpymem(p, name, ngx_strlen(name));                                \
    p = ngx_http_health_put(p, "{upstream=\"");                               \
    p = ngx_cpymem(p, un, ngx_strlen(un));                                    \
    p = ngx_http_health_put(p, "\",peer=\"");                                 \
    p = ngx_cpymem(p, pn, ngx_strlen(pn))

    switch (f) {

    case 0:
        /* absent for a peer marked down in the configuration */
        if (pr->state[0] == 'd') {
            return p;
        }

        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        *p++ = ((pr->state[0] == 'u' && pr->state[1] == 'p')
                || pr->kept == 2) ? '1' : '0';
        break;

    case 1:
        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\",state=\"");
        p = ngx_cpymem(p, pr->state, ngx_strlen(pr->state));
        p = ngx_http_health_put(p, "\"} 1");
        break;

    case 2:
        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pr->requests + pr->failed);
        break;

    case 3:
        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pr->failed);
        break;

    case 4:
        for (k = 0; k < 5; k++) {
            ngx_http_health_labels(p, names[f]);
            p = ngx_http_health_put(p, "\",code=\"");
            *p++ = (u_char) ('1' + k);
            p = ngx_http_health_put(p, "xx\"} ");
            p = ngx_http_health_write_uint(p, pr->classes[k]);

            if (k < 4) {
                *p++ = '\n';
            }
        }

        break;

    case 6:
        /* pr->kept: 0 no health_check, 1 not kept in, 2 kept in */
        if (pr->kept == 0) {
            return p;
        }

        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        *p++ = (u_char) ('0' + pr->kept - 1);
        break;

    case 7:
        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pr->fails);
        break;

    case 8:
        if (pr->kept == 0) {
            return p;
        }

        for (k = 0; k < ngx_http_health_check_nresults; k++) {
            if (k) {
                *p++ = '\n';
            }

            ngx_http_health_labels(p, names[f]);
            p = ngx_http_health_put(p, "\",result=\"");
            p = ngx_cpymem(p, ngx_http_health_check_results[k],
                           ngx_strlen(ngx_http_health_check_results[k]));
            p = ngx_http_health_put(p, "\"} ");
            p = ngx_http_health_write_uint(p, pr->results[k]);
        }

        break;

    case 9:
        if (pr->kept == 0) {
            return p;
        }

        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        p += health_hist_format_seconds(pr->rtt_sum_us, (char *) p, 32);
        *p++ = '\n';

        ngx_http_health_labels(p, "nginx_health_upstream_peer_check_"
                                  "duration_seconds_count");
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pr->checks);
        break;

    case 10:
        /* after a first check only */
        if (pr->kept == 0 || pr->checks == 0) {
            return p;
        }

        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\"} ");
        p += health_hist_format_seconds(pr->rtt_us, (char *) p, 32);
        break;

    case 11:
        if (pr->kept == 0) {
            return p;
        }

        ngx_http_health_labels(p, names[f]);

        if (pr->ramp == 0 || pr->ramp >= 10000) {
            p = ngx_http_health_put(p, "\"} ");
            *p++ = pr->ramp ? '1' : '0';

        } else {
            p = ngx_sprintf(p, "\"} 0.%04ui", pr->ramp);
        }
        break;

    default: /* 5 */
        for (k = 0; k < hmcf->nbounds; k++) {
            ngx_http_health_labels(p, names[f]);
            p = ngx_http_health_put(p, "\",le=\"");
            p = ngx_cpymem(p, hmcf->bound_labels[k].data,
                           hmcf->bound_labels[k].len);
            p = ngx_http_health_put(p, "\"} ");
            p = ngx_http_health_write_uint(p, pr->buckets[k]);
            *p++ = '\n';
        }

        ngx_http_health_labels(p, names[f]);
        p = ngx_http_health_put(p, "\",le=\"+Inf\"} ");
        p = ngx_http_health_write_uint(p, pr->requests);
        *p++ = '\n';

        ngx_http_health_labels(p, "nginx_health_upstream_peer_response_"
                                  "duration_seconds_sum");
        p = ngx_http_health_put(p, "\"} ");
        p += health_hist_format_seconds(pr->time_us, (char *) p, 32);
        *p++ = '\n';

        ngx_http_health_labels(p, "nginx_health_upstream_peer_response_"
                                  "duration_seconds_count");
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pr->requests);
    }

#undef ngx_http_health_labels

    *p++ = '\n';

    return p;
}

