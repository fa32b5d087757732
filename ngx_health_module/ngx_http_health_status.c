/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the status location.
 *
 * Every format is rendered from one report: the zone checks from the
 * rules, then whatever the registered reporters add.  The handler only
 * reads shared memory (relaxed loads, no lock), so a busy status location
 * never slows the workers' hot path, and it never waits on a dependency.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_rules.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_status.h"
#include "health_text.h"
#include "ngx_http_health_html.h"
#include "ngx_http_health_verdict.h"


#define NGX_HTTP_HEALTH_JSON_FLAGS  (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* the longest single piece of a text answer */
#define NGX_HTTP_HEALTH_PRINTF_MAX  (16 * 1024 * 1024)


/* a zone's totals as Prometheus wants them, kept for the family pass */
typedef struct {
    uint64_t                     requests;
    uint64_t                     time_us;
    uint64_t                     classes[5];
    uint64_t                     buckets[HEALTH_HIST_MAX_BOUNDS + 1];
} ngx_http_health_prom_zone_t;


static ngx_int_t ngx_http_health_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_health_parse_format(ngx_str_t *value,
    ngx_http_health_format_e *format);
static ngx_http_health_report_t *ngx_http_health_report_collect(
    ngx_pool_t *pool, ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_format_e format);
static ngx_int_t ngx_http_health_report_init(ngx_http_health_report_t *rep);
static ngx_int_t ngx_http_health_collect_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz);
static ngx_int_t ngx_http_health_zone_checks(ngx_http_health_report_t *rep,
    ngx_http_health_zone_t *zone, ngx_http_health_window_t *w,
    uint64_t requests);
static json_t *ngx_http_health_zone_json(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_stats_t *st, ngx_http_health_window_t *w);
static ngx_int_t ngx_http_health_render_json(ngx_http_request_t *r,
    ngx_http_health_report_t *rep);
static ngx_int_t ngx_http_health_render_prometheus(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_prom_zone_t *pz);
static ngx_int_t ngx_http_health_render_lb(ngx_http_request_t *r,
    ngx_http_health_report_t *rep);
static ngx_int_t ngx_http_health_send(ngx_http_request_t *r,
    ngx_uint_t status, char *type, ngx_chain_t *out, off_t length);
static void ngx_http_health_json_cleanup(void *data);


static ngx_str_t  ngx_http_health_formats[] = {
    ngx_string("json"),
    ngx_string("prometheus"),
    ngx_string("lb"),
    ngx_string("html"),
    ngx_null_string
};


/* by ngx_http_health_format_e: how much each format shows */
static ngx_uint_t  ngx_http_health_format_rank[] = {
    2,      /* json */
    1,      /* prometheus */
    0,      /* lb */
    2       /* html */
};


char *
ngx_http_health_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_loc_conf_t *hlcf = conf;

    ngx_str_t                    *value;
    ngx_http_health_format_e      format;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_health_main_conf_t  *hmcf;

    if (hlcf->status) {
        return "is duplicate";
    }

    format = NGX_HTTP_HEALTH_JSON;

    if (cf->args->nelts == 2) {
        value = cf->args->elts;

        if (ngx_http_health_parse_format(&value[1], &format) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be \"json\", \"prometheus\", "
                               "\"html\" or \"lb\"", &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    hlcf->status = 1;
    hlcf->format = format;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);
    hmcf->status_served = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_health_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_health_parse_format(ngx_str_t *value,
    ngx_http_health_format_e *format)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_health_formats[i].len; i++) {
        if (value->len == ngx_http_health_formats[i].len
            && ngx_strncmp(value->data, ngx_http_health_formats[i].data,
                           value->len) == 0)
        {
            *format = i;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_health_add_reporter(ngx_conf_t *cf,
    ngx_http_health_reporter_t *reporter)
{
    ngx_http_health_reporter_t   *r;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    r = ngx_array_push(&hmcf->reporters);
    if (r == NULL) {
        return NGX_ERROR;
    }

    *r = *reporter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_status_handler(ngx_http_request_t *r)
{
    uint64_t                       since;
    ngx_int_t                      rc;
    ngx_str_t                      arg;
    ngx_uint_t                     i;
    ngx_http_health_report_t      *rep;
    ngx_http_health_reporter_t    *reporter;
    ngx_http_health_loc_conf_t    *hlcf;
    ngx_http_health_prom_zone_t   *pz;
    ngx_http_health_main_conf_t   *hmcf;

    static u_char  bad_format[] =
        "unknown format, use json, prometheus, html or lb" CRLF;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_health_module);
    hmcf = ngx_http_get_module_main_conf(r, ngx_http_health_module);

    rep = ngx_pcalloc(r->pool, sizeof(ngx_http_health_report_t));
    if (rep == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rep->pool = r->pool;
    rep->log = r->connection->log;
    rep->hmcf = hmcf;
    rep->format = hlcf->format;

    if (r->args.len
        && ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK)
    {
        if (ngx_http_health_parse_format(&arg, &rep->format) != NGX_OK) {
            ngx_str_set(&arg, bad_format);
            return ngx_http_health_printf(rep, "%V", &arg) == NGX_OK
                   ? ngx_http_health_send(r, NGX_HTTP_BAD_REQUEST,
                                          "text/plain", rep->out,
                                          rep->length)
                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /*
         * A query argument only makes the answer lighter: lb < prometheus
         * < json = html (the page reads the JSON).  A location configured
         * for lb, often public, never shows the details of a rich one.
         */
        if (ngx_http_health_format_rank[rep->format]
            > ngx_http_health_format_rank[hlcf->format])
        {
            return ngx_http_health_printf(rep, "that format is not served "
                                          "here, this location serves %V"
                                          CRLF,
                                          &ngx_http_health_formats[
                                              hlcf->format]) == NGX_OK
                   ? ngx_http_health_send(r, NGX_HTTP_FORBIDDEN,
                                          "text/plain", rep->out,
                                          rep->length)
                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the page reads the JSON itself: no report to build */
    if (rep->format == NGX_HTTP_HEALTH_HTML) {
        return ngx_http_health_html_send(r);
    }

    /* one load instead of every zone of every shard */
    if (rep->format == NGX_HTTP_HEALTH_LB
        && ngx_http_health_verdict_get(hmcf, &rep->status) == NGX_OK)
    {
        return ngx_http_health_render_lb(r, rep);
    }

    since = hmcf->sh ? ngx_http_health_verdict_clock(hmcf) : 0;

    if (ngx_http_health_report_init(rep) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pz = NULL;

    if (rep->format == NGX_HTTP_HEALTH_PROMETHEUS && hmcf->zones.nelts) {
        pz = ngx_palloc(r->pool, hmcf->zones.nelts
                                 * sizeof(ngx_http_health_prom_zone_t));
        if (pz == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_health_collect_zones(rep, pz) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    reporter = hmcf->reporters.elts;

    for (i = 0; i < hmcf->reporters.nelts; i++) {
        if (reporter[i].collect
            && reporter[i].collect(rep, reporter[i].data) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_health_verdict_put(hmcf, rep->status, since);

    switch (rep->format) {

    case NGX_HTTP_HEALTH_JSON:
        return ngx_http_health_render_json(r, rep);

    case NGX_HTTP_HEALTH_PROMETHEUS:
        return ngx_http_health_render_prometheus(r, rep, pz);

    default: /* NGX_HTTP_HEALTH_LB */
        return ngx_http_health_render_lb(r, rep);
    }
}


ngx_http_health_report_t *
ngx_http_health_report_build(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf)
{
    uint64_t                   since;
    ngx_http_health_report_t  *rep;

    since = hmcf->sh ? ngx_http_health_verdict_clock(hmcf) : 0;

    rep = ngx_http_health_report_collect(pool, hmcf, NGX_HTTP_HEALTH_JSON);

    if (rep != NULL) {
        ngx_http_health_verdict_put(hmcf, rep->status, since);
    }

    return rep;
}


ngx_int_t
ngx_http_health_report_status(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf, health_status_t *status)
{
    ngx_http_health_report_t  *rep;

    rep = ngx_http_health_report_collect(pool, hmcf, NGX_HTTP_HEALTH_LB);

    if (rep == NULL) {
        return NGX_ERROR;
    }

    *status = rep->status;

    return NGX_OK;
}


static ngx_http_health_report_t *
ngx_http_health_report_collect(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf, ngx_http_health_format_e format)
{
    ngx_uint_t                   i;
    ngx_http_health_report_t    *rep;
    ngx_http_health_reporter_t  *reporter;

    rep = ngx_pcalloc(pool, sizeof(ngx_http_health_report_t));
    if (rep == NULL) {
        return NULL;
    }

    rep->pool = pool;
    rep->log = pool->log;
    rep->hmcf = hmcf;
    rep->format = format;

    if (ngx_http_health_report_init(rep) != NGX_OK
        || ngx_http_health_collect_zones(rep, NULL) != NGX_OK)
    {
        return NULL;
    }

    reporter = hmcf->reporters.elts;

    for (i = 0; i < hmcf->reporters.nelts; i++) {
        if (reporter[i].collect
            && reporter[i].collect(rep, reporter[i].data) != NGX_OK)
        {
            return NULL;
        }
    }

    return rep;
}


static ngx_int_t
ngx_http_health_report_init(ngx_http_health_report_t *rep)
{
    ngx_pool_cleanup_t  *cln;

    /* every record a finished request wrote, into the blocks first */
    ngx_http_health_shm_sync(rep->hmcf);

    if (ngx_array_init(&rep->checks, rep->pool, 8,
                       sizeof(ngx_http_health_check_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rep->status = HEALTH_HEALTHY;

    if (rep->format != NGX_HTTP_HEALTH_JSON) {
        return NGX_OK;
    }

    /* the cleanup first, so that the tree is freed whatever happens next */
    cln = ngx_pool_cleanup_add(rep->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_health_json_cleanup;

    rep->root = json_object();
    if (rep->root == NULL) {
        return NGX_ERROR;
    }

    cln->data = rep->root;

    rep->checks_json = json_object();
    rep->zones_json = json_object();

    if (json_object_set_new(rep->root, "checks", rep->checks_json) != 0
        || json_object_set_new(rep->root, "zones", rep->zones_json) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_health_json_cleanup(void *data)
{
    json_decref(data);
}


ngx_int_t
ngx_http_health_report_add_check(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj)
{
    u_char                   *p;
    json_t                   *check_json;
    ngx_http_health_check_t  *check;

    check = ngx_array_push(&rep->checks);
    if (check == NULL) {
        json_decref(obj);
        return NGX_ERROR;
    }

    check->name = *name;
    check->status = status;
    rep->status = health_status_worst(rep->status, status);

    if (rep->checks_json == NULL) {
        json_decref(obj);
        return NGX_OK;
    }

    p = ngx_pnalloc(rep->pool, name->len + 1);
    if (p == NULL) {
        json_decref(obj);
        return NGX_ERROR;
    }

    *ngx_cpymem(p, name->data, name->len) = '\0';

    /* "status" leads, as in every check object of the design */
    check_json = json_object();

    if (check_json == NULL
        || json_object_set_new(check_json, "status",
                               json_string(health_status_name(status)))
           != 0
        || (obj != NULL && json_object_update(check_json, obj) != 0)
        || json_object_set_new(rep->checks_json, (char *) p, check_json)
           != 0)
    {
        json_decref(obj);
        return NGX_ERROR;
    }

    json_decref(obj);

    return NGX_OK;
}


json_t *
ngx_http_health_report_upstreams(ngx_http_health_report_t *rep)
{
    if (rep->root == NULL) {
        return NULL;
    }

    if (rep->upstreams_json == NULL) {
        rep->upstreams_json = json_object();

        if (json_object_set_new(rep->root, "upstreams", rep->upstreams_json)
            != 0)
        {
            rep->upstreams_json = NULL;
        }
    }

    return rep->upstreams_json;
}


json_t *
ngx_http_health_json_number(double v)
{
    int64_t  n;

    if (v > -9007199254740992.0 && v < 9007199254740992.0) {
        n = (int64_t) v;

        if ((double) n == v) {
            return json_integer(n);
        }

        if (v < 9e12 && v > -9e12) {
            n = (int64_t) (v * 1000 + (v < 0 ? -0.5 : 0.5));
            return (n % 1000 == 0) ? json_integer(n / 1000)
                                   : json_real((double) n / 1000);
        }
    }

    return json_real(v);
}


static ngx_int_t
ngx_http_health_collect_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz)
{
    json_t                       *obj;
    ngx_uint_t                    z, i;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_stats_t      *st;
    ngx_http_health_window_t      w;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = rep->hmcf;

    if (hmcf->zones.nelts == 0 || hmcf->sh == NULL) {
        return NGX_OK;
    }

    st = ngx_palloc(rep->pool, sizeof(ngx_http_health_stats_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    zone = hmcf->zones.elts;

    for (z = 0; z < hmcf->zones.nelts; z++) {

        ngx_http_health_shm_read(hmcf, z, st,
                                 rep->format != NGX_HTTP_HEALTH_LB);

        w.error_rate = st->w_requests
                       ? 100.0 * st->w_errors / st->w_requests : 0;
        w.p50 = health_hist_quantile(st->w_hist, st->w_requests, 0.5,
                                     st->w_max_us) / 1000;
        w.p95 = health_hist_quantile(st->w_hist, st->w_requests, 0.95,
                                     st->w_max_us) / 1000;
        w.p99 = health_hist_quantile(st->w_hist, st->w_requests, 0.99,
                                     st->w_max_us) / 1000;
        w.max = (double) st->w_max_us / 1000;

        if (ngx_http_health_zone_checks(rep, &zone[z], &w, st->w_requests)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (rep->zones_json) {
            obj = ngx_http_health_zone_json(hmcf, st, &w);

            if (obj == NULL
                || json_object_set_new(rep->zones_json,
                                       (char *) zone[z].name.data, obj)
                   != 0)
            {
                return NGX_ERROR;
            }
        }

        if (pz) {
            pz[z].requests = st->requests;
            pz[z].time_us = st->time_us;
            ngx_memcpy(pz[z].classes, st->classes, sizeof(st->classes));

            /* cumulative, from the very same reads: +Inf is the count */
            pz[z].buckets[0] = st->buckets[0];

            for (i = 1; i <= hmcf->nbounds; i++) {
                pz[z].buckets[i] = pz[z].buckets[i - 1] + st->buckets[i];
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_zone_checks(ngx_http_health_report_t *rep,
    ngx_http_health_zone_t *zone, ngx_http_health_window_t *w,
    uint64_t requests)
{
    double                    value;
    json_t                   *obj;
    ngx_str_t                 name;
    ngx_uint_t                i;
    const char               *metric;
    health_status_t           status;
    ngx_http_health_rule_t  **rule;

    rule = zone->rules.elts;

    for (i = 0; i < zone->rules.nelts; i++) {

        metric = ngx_http_health_metric_name(rule[i]->metric);

        name.len = sizeof("zone::") - 1 + zone->name.len + ngx_strlen(metric);
        name.data = ngx_pnalloc(rep->pool, name.len);
        if (name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(name.data, "zone:%V:%s", &zone->name, metric);

        status = ngx_http_health_rule_eval(rule[i], w, requests);
        obj = NULL;

        if (rep->checks_json) {
            value = ngx_http_health_rule_value(rule[i], w);

            obj = json_object();
            if (obj == NULL) {
                return NGX_ERROR;
            }

            json_object_set_new(obj, "value",
                                ngx_http_health_json_number(value));

            if (rule[i]->metric == NGX_HTTP_HEALTH_ERROR_RATE) {
                json_object_set_new(obj, "unit", json_string("%"));

            } else {
                json_object_set_new(obj, "unit", json_string("ms"));
            }

            json_object_set_new(obj, "warning",
                       ngx_http_health_json_number(rule[i]->threshold.warning));
            json_object_set_new(obj, "critical",
                      ngx_http_health_json_number(rule[i]->threshold.critical));

            if (rule[i]->metric == NGX_HTTP_HEALTH_ERROR_RATE) {
                json_object_set_new(obj, "window_s",
                                    json_integer(rep->hmcf->window));
            }
        }

        if (ngx_http_health_report_add_check(rep, &name, status, obj)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static json_t *
ngx_http_health_zone_json(ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_stats_t *st, ngx_http_health_window_t *w)
{
    char        code[4];
    json_t     *zone, *responses, *codes, *latency, *window;
    ngx_uint_t  i;

    zone = json_object();
    responses = json_object();
    codes = json_object();
    latency = json_object();
    window = json_object();

    if (zone == NULL || responses == NULL || codes == NULL || latency == NULL
        || window == NULL)
    {
        goto failed;
    }

    json_object_set_new(zone, "requests", json_integer(st->requests));

    json_object_set_new(responses, "1xx", json_integer(st->classes[0]));
    json_object_set_new(responses, "2xx", json_integer(st->classes[1]));
    json_object_set_new(responses, "3xx", json_integer(st->classes[2]));
    json_object_set_new(responses, "4xx", json_integer(st->classes[3]));
    json_object_set_new(responses, "5xx", json_integer(st->classes[4]));

    for (i = 0; i < NGX_HTTP_HEALTH_CODES; i++) {
        if (st->codes[i]) {
            ngx_sprintf((u_char *) code, "%03ui%Z", i + 100);
            json_object_set_new(codes, code, json_integer(st->codes[i]));
        }
    }

    json_object_set_new(responses, "codes", codes);
    json_object_set_new(zone, "responses", responses);

    json_object_set_new(zone, "bytes_in", json_integer(st->bytes_in));
    json_object_set_new(zone, "bytes_out", json_integer(st->bytes_out));

    json_object_set_new(latency, "p50", ngx_http_health_json_number(w->p50));
    json_object_set_new(latency, "p95", ngx_http_health_json_number(w->p95));
    json_object_set_new(latency, "p99", ngx_http_health_json_number(w->p99));
    json_object_set_new(latency, "max", ngx_http_health_json_number(w->max));
    json_object_set_new(zone, "latency_ms", latency);

    json_object_set_new(window, "seconds", json_integer(hmcf->window));
    json_object_set_new(window, "requests", json_integer(st->w_requests));
    json_object_set_new(window, "rps",
                        ngx_http_health_json_number(
                            (double) st->w_requests / st->w_seconds));
    json_object_set_new(window, "error_rate_pct",
                        ngx_http_health_json_number(w->error_rate));
    json_object_set_new(zone, "window", window);

    return zone;

failed:

    json_decref(zone);
    json_decref(responses);
    json_decref(codes);
    json_decref(latency);
    json_decref(window);

    return NULL;
}


static ngx_int_t
ngx_http_health_render_json(ngx_http_request_t *r,
    ngx_http_health_report_t *rep)
{
    u_char                       ts[NGX_HTTP_HEALTH_ISO8601_LEN + 1];
    size_t                       size;
    json_t                      *root, *status;
    ngx_buf_t                   *b;
    ngx_chain_t                 *out;
    ngx_time_t                  *tp;
    ngx_http_health_main_conf_t *hmcf;

    hmcf = rep->hmcf;
    root = rep->root;

    tp = ngx_timeofday();
    *ngx_http_health_iso8601(ts, tp->sec, tp->msec) = '\0';

    /* the leading keys in the order of the design, before checks and zones */
    status = json_object();
    if (status == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_object_set_new(status, "status",
                        json_string(health_status_name(rep->status)));
    json_object_set_new(status, "service",
                        json_stringn((char *) hmcf->service.data,
                                     hmcf->service.len));
    json_object_set_new(status, "version",
                        json_string(NGX_HTTP_HEALTH_VERSION));
    json_object_set_new(status, "timestamp", json_string((char *) ts));
    json_object_set_new(status, "uptime_s",
                        json_integer(hmcf->sh
                                     ? ngx_http_health_monotonic_sec()
                                       - hmcf->sh->started
                                     : 0));

    if (json_object_update(status, root) != 0) {
        json_decref(status);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = json_dumpb(status, NULL, 0, NGX_HTTP_HEALTH_JSON_FLAGS);

    if (size == 0) {
        /* a load balancer sees 500: the operator must see why */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "health: the JSON status could not be rendered");
        json_decref(status);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, size + 1);
    if (b == NULL) {
        json_decref(status);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += json_dumpb(status, (char *) b->pos, size,
                          NGX_HTTP_HEALTH_JSON_FLAGS);
    *b->last++ = LF;

    json_decref(status);

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out->buf = b;
    out->next = NULL;

    return ngx_http_health_send(r, health_status_http_code(rep->status),
                                "application/json", out, b->last - b->pos);
}


static ngx_int_t
ngx_http_health_render_lb(ngx_http_request_t *r,
    ngx_http_health_report_t *rep)
{
    ngx_str_t  word;

    word.data = (u_char *) health_status_name(rep->status);
    word.len = ngx_strlen(word.data);

    if (ngx_http_health_printf(rep, "%V\n", &word) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_health_send(r,
                                health_status_http_code(rep->status),
                                "text/plain", rep->out, rep->length);
}


static ngx_int_t
ngx_http_health_render_prometheus(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_prom_zone_t *pz)
{
    u_char                       *service, *check, **zname, sum[32];
    ngx_uint_t                    i, z, k;
    ngx_pool_t                   *pool;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_check_t      *ch;
    ngx_http_health_reporter_t   *reporter;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = rep->hmcf;
    pool = rep->pool;
    zone = hmcf->zones.elts;

    service = ngx_http_health_prom_escape(pool, &hmcf->service);
    if (service == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#define emit(...)                                                             \
    if (ngx_http_health_printf(rep, __VA_ARGS__) != NGX_OK) {                 \
        return NGX_HTTP_INTERNAL_SERVER_ERROR;                                \
    }

    emit("# HELP nginx_health_info nginx-health instance.\n"
         "# TYPE nginx_health_info gauge\n"
         "nginx_health_info{service=\"%s\",version=\"%s\"} 1\n",
         service, NGX_HTTP_HEALTH_VERSION);

    emit("# HELP nginx_health_status Overall status: 0 healthy, "
         "1 degraded, 2 unhealthy, 3 unknown.\n"
         "# TYPE nginx_health_status gauge\n"
         "nginx_health_status %d\n", (int) rep->status);

    ch = rep->checks.elts;

    if (rep->checks.nelts) {
        emit("# HELP nginx_health_check_status Status of a check: "
             "0 healthy, 1 degraded, 2 unhealthy, 3 unknown.\n"
             "# TYPE nginx_health_check_status gauge\n");
    }

    for (i = 0; i < rep->checks.nelts; i++) {
        check = ngx_http_health_prom_escape(pool, &ch[i].name);
        if (check == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        emit("nginx_health_check_status{check=\"%s\"} %d\n",
             check, (int) ch[i].status);
    }

    if (pz != NULL) {
        zname = ngx_palloc(pool, hmcf->zones.nelts * sizeof(u_char *));
        if (zname == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (z = 0; z < hmcf->zones.nelts; z++) {
            zname[z] = ngx_http_health_prom_escape(pool, &zone[z].name);
            if (zname[z] == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        emit("# HELP nginx_health_requests_total Requests of a zone.\n"
             "# TYPE nginx_health_requests_total counter\n");

        for (z = 0; z < hmcf->zones.nelts; z++) {
            emit("nginx_health_requests_total{zone=\"%s\"} %uL\n",
                 zname[z], pz[z].requests);
        }

        emit("# HELP nginx_health_responses_total Responses of a zone "
             "by status class.\n"
             "# TYPE nginx_health_responses_total counter\n");

        for (z = 0; z < hmcf->zones.nelts; z++) {
            for (k = 0; k < 5; k++) {
                emit("nginx_health_responses_total{zone=\"%s\","
                     "code=\"%uixx\"} %uL\n",
                     zname[z], k + 1, pz[z].classes[k]);
            }
        }

        emit("# HELP nginx_health_request_duration_seconds Request time "
             "of a zone.\n"
             "# TYPE nginx_health_request_duration_seconds histogram\n");

        for (z = 0; z < hmcf->zones.nelts; z++) {
            for (k = 0; k < hmcf->nbounds; k++) {
                emit("nginx_health_request_duration_seconds_bucket"
                     "{zone=\"%s\",le=\"%V\"} %uL\n",
                     zname[z], &hmcf->bound_labels[k],
                     pz[z].buckets[k]);
            }

            (void) health_hist_format_seconds(pz[z].time_us, (char *) sum,
                                              sizeof(sum));

            emit("nginx_health_request_duration_seconds_bucket"
                 "{zone=\"%s\",le=\"+Inf\"} %uL\n"
                 "nginx_health_request_duration_seconds_sum"
                 "{zone=\"%s\"} %s\n"
                 "nginx_health_request_duration_seconds_count"
                 "{zone=\"%s\"} %uL\n",
                 zname[z], pz[z].buckets[hmcf->nbounds],
                 zname[z], sum,
                 zname[z], pz[z].buckets[hmcf->nbounds]);
        }
    }

#undef emit

    reporter = hmcf->reporters.elts;

    for (i = 0; i < hmcf->reporters.nelts; i++) {
        if (reporter[i].prometheus
            && reporter[i].prometheus(rep, reporter[i].data) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_health_send(r, NGX_HTTP_OK,
                                "text/plain; version=0.0.4; charset=utf-8",
                                rep->out, rep->length);
}


/*
 * A Prometheus label value: backslash, double quote and newline escaped,
 * and, since the exposition format is UTF-8, a byte that does not start
 * a valid UTF-8 sequence becomes U+FFFD instead of reaching the scraper.
 */
u_char *
ngx_http_health_prom_escape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char      *p, *q, *dst, *last;
    size_t       n;

    /* the worst case: every byte becomes the 3 bytes of U+FFFD */
    dst = ngx_pnalloc(pool, 3 * s->len + 1);
    if (dst == NULL) {
        return NULL;
    }

    p = dst;
    q = s->data;
    last = s->data + s->len;

    while (q < last) {

        if (*q < 0x80) {
            switch (*q) {

            case '\\':
            case '"':
                *p++ = '\\';
                *p++ = *q;
                break;

            case '\n':
                *p++ = '\\';
                *p++ = 'n';
                break;

            default:
                *p++ = *q;
            }

            q++;
            continue;
        }

        n = health_text_char_len((char *) q, last - q);

        if (n == 0) {
            *p++ = 0xef;
            *p++ = 0xbf;
            *p++ = 0xbd;
            q++;
            continue;
        }

        p = ngx_cpymem(p, q, n);
        q += n;
    }

    *p = '\0';

    return dst;
}


/*
 * Appends to the text answer.  A line is never cut: when the output fills
 * the room it was given, it is written again into a fresh buffer twice as
 * large; past NGX_HTTP_HEALTH_PRINTF_MAX the answer fails (500) with a line
 * in error.log rather than going out truncated.
 */
ngx_int_t
ngx_http_health_printf(ngx_http_health_report_t *rep, const char *fmt, ...)
{
    u_char       *p;
    size_t        want;
    va_list       args, copy;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    va_start(args, fmt);

    /* the room left in the last buffer first, then fresh ones */
    cl = rep->tail;
    b = cl ? cl->buf : NULL;
    want = 16384;

    for ( ;; ) {

        if (b == NULL) {
            b = ngx_create_temp_buf(rep->pool, want);
            if (b == NULL) {
                va_end(args);
                return NGX_ERROR;
            }

            cl = NULL;
        }

        va_copy(copy, args);
        p = ngx_vslprintf(b->last, b->end, fmt, copy);
        va_end(copy);

        if (p < b->end) {
            break;
        }

        /* it may have been cut: again, with twice the room it had */

        if ((size_t) (b->end - b->last) >= NGX_HTTP_HEALTH_PRINTF_MAX) {
            va_end(args);
            ngx_log_error(NGX_LOG_ERR, rep->log, 0,
                          "health: a line of the status answer is over "
                          "%uz bytes", (size_t) NGX_HTTP_HEALTH_PRINTF_MAX);
            return NGX_ERROR;
        }

        want = ngx_max(want, 2 * (size_t) (b->end - b->last));
        b = NULL;
    }

    va_end(args);

    /* a fresh buffer is linked only once it holds the line, never empty */
    if (cl == NULL) {
        cl = ngx_alloc_chain_link(rep->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;

        if (rep->tail) {
            rep->tail->next = cl;

        } else {
            rep->out = cl;
        }

        rep->tail = cl;
    }

    rep->length += p - b->last;
    b->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    ngx_chain_t *out, off_t length)
{
    ngx_int_t          rc;
    ngx_chain_t       *cl;
    ngx_table_elt_t   *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    r->headers_out.status = status;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = length;

    if (r->method == NGX_HTTP_HEAD || out == NULL) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (cl = out; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, out);
}
