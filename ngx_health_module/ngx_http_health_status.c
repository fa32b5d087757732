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

#include <math.h>
#include <jansson.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_rules.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_status.h"
#include "health_text.h"
#include "ngx_http_health_html.h"
#include "ngx_http_health_verdict.h"
#include "ngx_http_health_select.h"
#include "ngx_http_health_hold.h"
#include "ngx_http_health_fleet.h"


#define NGX_HTTP_HEALTH_JSON_FLAGS  (JSON_COMPACT | JSON_REAL_PRECISION(15))

#define ngx_http_health_put(p, s)  ngx_cpymem(p, s, sizeof(s) - 1)

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
static ngx_uint_t ngx_http_health_count_char(ngx_str_t *s, u_char c);
static ngx_int_t ngx_http_health_parse_format(ngx_str_t *value,
    ngx_http_health_format_e *format);
static ngx_int_t ngx_http_health_select_query(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_loc_conf_t *hlcf);
static ngx_int_t ngx_http_health_send_text(ngx_http_request_t *r,
    ngx_uint_t status, char *text);
static ngx_uint_t ngx_http_health_answer_code(ngx_http_health_report_t *rep);
static ngx_http_health_report_t *ngx_http_health_report_collect(
    ngx_pool_t *pool, ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_format_e format);
static ngx_int_t ngx_http_health_report_init(ngx_http_health_report_t *rep);
static ngx_int_t ngx_http_health_collect_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz);
static ngx_int_t ngx_http_health_zone_checks(ngx_http_health_report_t *rep,
    ngx_http_health_zone_t *zone, ngx_http_health_window_t *w,
    uint64_t requests);
static ngx_int_t ngx_http_health_zone_json(ngx_http_health_report_t *rep,
    ngx_http_health_zone_t *zone, ngx_http_health_stats_t *st,
    ngx_http_health_window_t *w);
static ngx_int_t ngx_http_health_check_push(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status);
static json_t *ngx_http_health_text_parse(ngx_http_health_report_t *rep,
    ngx_http_health_text_t *text);
static ngx_int_t ngx_http_health_prom_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz);
static ngx_int_t ngx_http_health_render_json(ngx_http_request_t *r,
    ngx_http_health_report_t *rep);
static ngx_int_t ngx_http_health_render_prometheus(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_prom_zone_t *pz);
static ngx_int_t ngx_http_health_render_lb(ngx_http_request_t *r,
    ngx_http_health_report_t *rep);
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

    uint64_t                      code;
    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_http_health_format_e      format;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_health_main_conf_t  *hmcf;

    if (hlcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;
    format = NGX_HTTP_HEALTH_JSON;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "check=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            if (hlcf->checks != NULL
                || s.len > NGX_HTTP_HEALTH_SELECT_MAX
                || ngx_http_health_select_parse(cf->pool, &s, &hlcf->checks)
                   != NGX_OK
                || hlcf->checks->nelts
                   != ngx_http_health_count_char(&s, ',') + 1)
            {
                /* in the configuration no item is dropped: each is kept */
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "degraded=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            if (hlcf->degraded
                || ngx_http_health_parse_uint(&s, 599, &code) != NGX_OK
                || code < 200)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a status code "
                                   "from 200 to 599", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hlcf->degraded = (ngx_uint_t) code;
            continue;
        }

        if (i == 1
            && ngx_http_health_parse_format(&value[i], &format) == NGX_OK)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"json\", \"prometheus\", "
                           "\"html\" or \"lb\", then \"check=\" or "
                           "\"degraded=\"", &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hlcf->status = 1;
    hlcf->format = format;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);
    hmcf->status_served = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_health_status_handler;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, it "
                       "must be a comma-separated list of check names or "
                       "patterns with \"*\", printable ASCII, at most %d "
                       "characters", &value[i], &cmd->name,
                       NGX_HTTP_HEALTH_SELECT_MAX);
    return NGX_CONF_ERROR;
}


static ngx_uint_t
ngx_http_health_count_char(ngx_str_t *s, u_char c)
{
    ngx_uint_t  i, n;

    n = 0;

    for (i = 0; i < s->len; i++) {
        n += (s->data[i] == c);
    }

    return n;
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
        /*
         * nginx's own page, error_page honoured: only the headers are
         * ours (the special response keeps headers_out.headers)
         */
        return (ngx_http_health_header(r, "Allow", "GET, HEAD") == NGX_OK
                && ngx_http_health_header(r, "Cache-Control", "no-store")
                   == NGX_OK)
               ? NGX_HTTP_NOT_ALLOWED : NGX_HTTP_INTERNAL_SERVER_ERROR;
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
                                          "text/plain", rep->text.out,
                                          rep->text.length)
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
                                          "text/plain", rep->text.out,
                                          rep->text.length)
                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the page reads the JSON itself: no report to build */
    if (rep->format == NGX_HTTP_HEALTH_HTML) {
        return ngx_http_health_html_send(r);
    }

    /* the fleet as the last reading saw it, nothing of this instance */
    if (r->args.len
        && ngx_http_arg(r, (u_char *) "scope", 5, &arg) == NGX_OK)
    {
        if (arg.len == 5 && ngx_strncmp(arg.data, "fleet", 5) == 0) {
            /* a location that serves chosen checks serves nothing more */
            if (hlcf->checks != NULL) {
                return ngx_http_health_send_text(r, NGX_HTTP_FORBIDDEN,
                                                 "scope=fleet is not served "
                                                 "where check= is set" CRLF);
            }

            return ngx_http_health_fleet_handler(r, rep->format);
        }

        return ngx_http_health_send_text(r, NGX_HTTP_BAD_REQUEST,
                                         "unknown scope, use fleet" CRLF);
    }

    rep->degraded = hlcf->degraded;

    rc = ngx_http_health_select_query(r, rep, hlcf);

    if (rc == NGX_HTTP_NOT_FOUND) {
        return ngx_http_health_send_text(r, NGX_HTTP_NOT_FOUND,
                                         "no check matches" CRLF);
    }

    if (rc == NGX_HTTP_BAD_REQUEST) {
        return ngx_http_health_send_text(r, NGX_HTTP_BAD_REQUEST,
                                         "check= is too long" CRLF);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* one load instead of every zone of every shard, for every check */
    if (rep->format == NGX_HTTP_HEALTH_LB
        && !rep->selected
        && ngx_http_health_verdict_get(hmcf, &rep->status) == NGX_OK)
    {
        return ngx_http_health_render_lb(r, rep);
    }

    since = hmcf->sh ? ngx_http_health_verdict_clock(hmcf) : 0;

    if (ngx_http_health_report_init(rep) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pz = NULL;

    if (rep->format == NGX_HTTP_HEALTH_PROMETHEUS && hmcf->zones.nelts
        && !rep->selected)
    {
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

    if (rep->selected) {
        if (rep->checks.nelts == 0) {
            return ngx_http_health_send_text(r, NGX_HTTP_NOT_FOUND,
                                             "no check matches" CRLF);
        }

    } else {
        /* the verdict is of every check, never of a selection */
        ngx_http_health_verdict_put(hmcf, rep->status, since);
    }

    switch (rep->format) {

    case NGX_HTTP_HEALTH_JSON:
        return ngx_http_health_render_json(r, rep);

    case NGX_HTTP_HEALTH_PROMETHEUS:
        return ngx_http_health_render_prometheus(r, rep, pz);

    default: /* NGX_HTTP_HEALTH_LB */
        return ngx_http_health_render_lb(r, rep);
    }
}


/*
 * check= of the location and of the query: the answer covers what both
 * name.  So a query only picks among the checks the location serves; one
 * that names none of them is answered 404 like an unknown name, and the
 * names of the checks it does not serve are not told.  Nothing of the
 * query goes back to the client.  NGX_OK to go on, else the code to
 * answer with (the caller writes its short text).
 */
static ngx_int_t
ngx_http_health_select_query(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_loc_conf_t *hlcf)
{
    u_char     *dst;
    ngx_str_t   arg, list;

    rep->select[0] = hlcf->checks;
    rep->selected = (hlcf->checks != NULL);

    if (r->args.len == 0
        || ngx_http_arg(r, (u_char *) "check", 5, &arg) != NGX_OK)
    {
        return NGX_OK;
    }

    if (arg.len > 3 * NGX_HTTP_HEALTH_SELECT_MAX) {
        goto too_long;
    }

    list.data = ngx_pnalloc(r->pool, arg.len);
    if (list.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst = list.data;
    ngx_unescape_uri(&dst, &arg.data, arg.len, 0);
    list.len = dst - list.data;

    if (list.len > NGX_HTTP_HEALTH_SELECT_MAX) {
        goto too_long;
    }

    if (ngx_http_health_select_parse(r->pool, &list, &rep->select[1])
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rep->selected = 1;

    /* nothing left that could name a check */
    return rep->select[1]->nelts ? NGX_OK : NGX_HTTP_NOT_FOUND;

too_long:

    return NGX_HTTP_BAD_REQUEST;
}


static ngx_int_t
ngx_http_health_send_text(ngx_http_request_t *r, ngx_uint_t status,
    char *text)
{
    ngx_buf_t    *b;
    ngx_chain_t  *out;

    out = ngx_alloc_chain_link(r->pool);
    b = ngx_calloc_buf(r->pool);

    if (out == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) text;
    b->last = b->pos + ngx_strlen(text);
    b->memory = 1;

    out->buf = b;
    out->next = NULL;

    return ngx_http_health_send(r, status, "text/plain", out,
                                b->last - b->pos);
}


ngx_int_t
ngx_http_health_header(ngx_http_request_t *r, char *key, const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/* degraded (and unknown, which counts as degraded) may ask for its own */
static ngx_uint_t
ngx_http_health_answer_code(ngx_http_health_report_t *rep)
{
    ngx_uint_t  code;

    code = health_status_http_code(rep->status);

    if (rep->degraded && rep->status != HEALTH_HEALTHY
        && code == NGX_HTTP_OK)
    {
        return rep->degraded;
    }

    return code;
}


ngx_http_health_report_t *
ngx_http_health_report_build(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf)
{
    uint64_t                   since;
    ngx_http_health_report_t  *rep;

    since = hmcf->sh ? ngx_http_health_verdict_clock(hmcf) : 0;

    rep = ngx_http_health_report_collect(pool, hmcf, NGX_HTTP_HEALTH_JSON);

    if (rep == NULL) {
        return NULL;
    }

    ngx_http_health_verdict_put(hmcf, rep->status, since);

    rep->zones_json = ngx_http_health_text_parse(rep, &rep->zones_text);
    if (rep->zones_json == NULL) {
        return NULL;
    }

    if (rep->upstreams) {
        rep->upstreams_json = ngx_http_health_text_parse(rep,
                                                     &rep->upstreams_text);
        if (rep->upstreams_json == NULL) {
            return NULL;
        }
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

    /* JSON here is ngx_http_health_report_build's, for publishing */
    rep->publish = (format == NGX_HTTP_HEALTH_JSON);

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
    size_t                        nchecks;
    ngx_uint_t                    z;
    ngx_pool_cleanup_t           *cln;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_main_conf_t  *hmcf;

    /* for held checks: no judgement of older reads applies after this */
    rep->clock = ngx_http_health_monotonic_usec();

    /*
     * and its date, read after it: a wall clock set between the two
     * readings dates the moment later, never earlier, than it was
     */
    rep->wall = ngx_http_health_wall_msec();

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

    /*
     * The text of the checks and of the zones goes into buffers sized for
     * all of them at once: about 160 bytes a check, 512 a zone with traffic.
     */
    hmcf = rep->hmcf;
    zone = hmcf->zones.elts;
    nchecks = 16;

    for (z = 0; z < hmcf->zones.nelts; z++) {
        nchecks += zone[z].rules.nelts;
    }

    rep->checks_text.chunk = nchecks * 160;
    rep->zones_text.chunk = ngx_max(hmcf->zones.nelts * 512, 4096);

    return NGX_OK;
}


static void
ngx_http_health_json_cleanup(void *data)
{
    json_decref(data);
}


static ngx_int_t
ngx_http_health_check_push(ngx_http_health_report_t *rep, ngx_str_t *name,
    health_status_t status)
{
    ngx_http_health_check_t  *check;

    /* the one place every check passes: what check= leaves out stops here */
    if ((rep->select[0]
         && !ngx_http_health_select_match(rep->select[0], name))
        || (rep->select[1]
            && !ngx_http_health_select_match(rep->select[1], name)))
    {
        return NGX_DECLINED;
    }

    check = ngx_array_push(&rep->checks);
    if (check == NULL) {
        return NGX_ERROR;
    }

    check->name = *name;
    check->status = status;
    check->rule = 0;
    check->judged = 1;
    check->peer = 0;
    rep->status = health_status_worst(rep->status, status);

    return NGX_OK;
}


ngx_int_t
ngx_http_health_report_add_check(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj)
{
    u_char      *p;
    size_t       n, size;
    ngx_int_t    rc;
    ngx_buf_t   *b;
    const char  *word;

    rc = ngx_http_health_check_push(rep, name, status);

    if (rc != NGX_OK) {
        json_decref(obj);
        return rc;
    }

    if (rep->root == NULL) {
        json_decref(obj);
        return NGX_OK;
    }

    /* "status" leads, as in every check object of the design */

    n = (obj != NULL) ? json_dumpb(obj, NULL, 0, NGX_HTTP_HEALTH_JSON_FLAGS)
                      : 0;
    word = health_status_name(status);
    size = 6 * name->len + ngx_strlen(word) + n
           + sizeof(",\"\":{\"status\":\"\"}");

    b = ngx_http_health_text_room(rep->pool, &rep->checks_text, size);
    if (b == NULL) {
        json_decref(obj);
        return NGX_ERROR;
    }

    p = b->last;

    if (rep->checks_text.length) {
        *p++ = ',';
    }

    p = ngx_http_health_json_write_string(p, name->data, name->len);
    p = ngx_cpymem(p, ":{\"status\":\"", sizeof(":{\"status\":\"") - 1);
    p = ngx_cpymem(p, word, ngx_strlen(word));
    *p++ = '"';

    /* the object's own members follow: its "{" becomes the comma */
    if (n > 2
        && json_dumpb(obj, (char *) p, n, NGX_HTTP_HEALTH_JSON_FLAGS) == n)
    {
        *p = ',';
        p += n;

    } else {
        *p++ = '}';
    }

    ngx_http_health_text_advance(&rep->checks_text, b, p);

    json_decref(obj);

    return NGX_OK;
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


u_char *
ngx_http_health_write_uint(u_char *p, uint64_t v)
{
    u_char  *q, tmp[NGX_INT64_LEN];

    q = tmp + NGX_INT64_LEN;

    do {
        *--q = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    return ngx_cpymem(p, q, tmp + NGX_INT64_LEN - q);
}


u_char *
ngx_http_health_json_write_classes(u_char *p, const uint64_t *classes)
{
    p = ngx_http_health_put(p, ",\"responses\":{\"1xx\":");
    p = ngx_http_health_write_uint(p, classes[0]);
    p = ngx_http_health_put(p, ",\"2xx\":");
    p = ngx_http_health_write_uint(p, classes[1]);
    p = ngx_http_health_put(p, ",\"3xx\":");
    p = ngx_http_health_write_uint(p, classes[2]);
    p = ngx_http_health_put(p, ",\"4xx\":");
    p = ngx_http_health_write_uint(p, classes[3]);
    p = ngx_http_health_put(p, ",\"5xx\":");

    return ngx_http_health_write_uint(p, classes[4]);
}


/*
 * What json_dumpb() prints for ngx_http_health_json_number(v): an integer
 * as such; a number of thousandths below 10^15 as its exact decimal, which
 * is what "%.15g" gives for it; anything else the way jansson prints a
 * real, "%.15g" with ".0" added to a bare integer and the exponent without
 * its "+" and leading zeros.
 */
u_char *
ngx_http_health_json_write_number(u_char *p, double v)
{
    int       len;
    char      buf[NGX_HTTP_HEALTH_NUMBER_LEN], *e, *d;
    int64_t   n;
    uint64_t  a;

    if (!isfinite(v)) {
        return ngx_http_health_put(p, "null");
    }

    if (v > -9007199254740992.0 && v < 9007199254740992.0) {
        n = (int64_t) v;

        if ((double) n == v) {
            if (n < 0) {
                *p++ = '-';
                return ngx_http_health_write_uint(p, - (uint64_t) n);
            }

            return ngx_http_health_write_uint(p, (uint64_t) n);
        }

        if (v < 9e12 && v > -9e12) {
            n = (int64_t) (v * 1000 + (v < 0 ? -0.5 : 0.5));

            if (n % 1000 == 0) {
                return ngx_http_health_json_write_number(p,
                                                         (double) (n / 1000));
            }

            a = (n < 0) ? - (uint64_t) n : (uint64_t) n;

            if (a < 1000000000000000ULL) {
                if (n < 0) {
                    *p++ = '-';
                }

                p = ngx_http_health_write_uint(p, a / 1000);
                a %= 1000;

                *p++ = '.';
                *p++ = (u_char) ('0' + a / 100);

                if (a % 100) {
                    *p++ = (u_char) ('0' + a / 10 % 10);

                    if (a % 10) {
                        *p++ = (u_char) ('0' + a % 10);
                    }
                }

                return p;
            }

            v = (double) n / 1000;
        }
    }

    len = snprintf(buf, sizeof(buf), "%.15g", v);

    if (len <= 0 || len >= (int) sizeof(buf) - 3) {
        return ngx_http_health_put(p, "null");
    }

    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = '\0';
    }

    e = strchr(buf, 'e');

    if (e != NULL) {
        e++;
        p = ngx_cpymem(p, buf, e - buf);

        if (*e == '-') {
            *p++ = *e;
        }

        if (*e == '-' || *e == '+') {
            e++;
        }

        for (d = e; *d == '0' && d[1] != '\0'; d++) { /* void */ }

        return ngx_cpymem(p, d, buf + len - d);
    }

    return ngx_cpymem(p, buf, len);
}


/* as jansson escapes a string, except that bad UTF-8 is not dropped */
u_char *
ngx_http_health_json_write_string(u_char *p, u_char *s, size_t len)
{
    u_char  *last;
    size_t   n;

    static u_char  hex[] = "0123456789abcdef";

    last = s + len;
    *p++ = '"';

    while (s < last) {

        if (*s >= 0x80) {
            n = health_text_char_len((char *) s, last - s);

            if (n == 0) {
                p = ngx_http_health_put(p, "\xef\xbf\xbd");
                s++;
                continue;
            }

            p = ngx_cpymem(p, s, n);
            s += n;
            continue;
        }

        switch (*s) {

        case '"':
        case '\\':
            *p++ = '\\';
            *p++ = *s;
            break;

        case '\b':
            p = ngx_http_health_put(p, "\\b");
            break;

        case '\f':
            p = ngx_http_health_put(p, "\\f");
            break;

        case '\n':
            p = ngx_http_health_put(p, "\\n");
            break;

        case '\r':
            p = ngx_http_health_put(p, "\\r");
            break;

        case '\t':
            p = ngx_http_health_put(p, "\\t");
            break;

        default:
            if (*s < 0x20) {
                p = ngx_http_health_put(p, "\\u00");
                *p++ = hex[*s >> 4];
                *p++ = hex[*s & 0xf];

            } else {
                *p++ = *s;
            }
        }

        s++;
    }

    *p++ = '"';

    return p;
}


ngx_buf_t *
ngx_http_health_text_room(ngx_pool_t *pool, ngx_http_health_text_t *text,
    size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (text->tail != NULL
        && (size_t) (text->tail->buf->end - text->tail->buf->last) >= size)
    {
        return text->tail->buf;
    }

    /*
     * The caller writes into it at once: a buffer is never left empty in
     * the chain, which the output filters would refuse.
     */
    b = ngx_create_temp_buf(pool, ngx_max(size, ngx_max(text->chunk, 4096)));
    if (b == NULL) {
        return NULL;
    }

    cl = ngx_alloc_chain_link(pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    if (text->tail) {
        text->tail->next = cl;

    } else {
        text->out = cl;
    }

    text->tail = cl;

    return b;
}


static ngx_int_t
ngx_http_health_collect_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz)
{
    double                        pc[3];
    ngx_uint_t                    z, i;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_stats_t      *st;
    ngx_http_health_window_t      w;
    ngx_http_health_main_conf_t  *hmcf;

    static const double  q[] = { 0.5, 0.95, 0.99 };

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
        health_hist_quantiles(st->w_hist, st->w_requests, q, pc, 3,
                              st->w_max_us);

        w.p50 = pc[0] / 1000;
        w.p95 = pc[1] / 1000;
        w.p99 = pc[2] / 1000;
        w.max = (double) st->w_max_us / 1000;

        if (ngx_http_health_zone_checks(rep, &zone[z], &w, st->w_requests)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a selection of checks shows the checks alone */
        if (rep->root && !rep->selected
            && ngx_http_health_zone_json(rep, &zone[z], st, &w) != NGX_OK)
        {
            return NGX_ERROR;
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
    u_char                   *p;
    size_t                    size;
    ngx_int_t                 rc;
    ngx_str_t                 name;
    ngx_buf_t                *b;
    ngx_int_t                 held;
    ngx_uint_t                i, judged;
    const char               *metric, *word;
    health_status_t           status;
    ngx_http_health_held_t    hs;
    ngx_http_health_check_t  *ch;
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
        judged = ngx_http_health_rule_judged(rule[i], requests);

        /* a held check is judged whether or not this answer shows it */
        held = ngx_http_health_hold_eval(rep, &name, status, &rule[i]->hold,
                                         &hs);
        if (held == NGX_OK) {
            status = hs.status;
        }

        rc = ngx_http_health_check_push(rep, &name, status);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        ch = rep->checks.elts;
        ch[rep->checks.nelts - 1].rule = 1;
        ch[rep->checks.nelts - 1].judged = judged;

        if (rep->root == NULL) {
            continue;
        }

        /* the name is ASCII: a zone name is [A-Za-z0-9_.-] */

        word = health_status_name(status);
        size = name.len + ngx_strlen(word) + 3 * NGX_HTTP_HEALTH_NUMBER_LEN
               + 3 * NGX_INT64_LEN + NGX_HTTP_HEALTH_HOLD_TEXT_LEN
               + sizeof(",\"\":{\"status\":\"\",\"value\":,\"unit\":\"ms\","
                        "\"warning\":,\"critical\":,\"window_s\":}")
               + sizeof(",\"judged\":false,\"requests\":,\"min_requests\":");

        b = ngx_http_health_text_room(rep->pool, &rep->checks_text, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        p = b->last;

        if (rep->checks_text.length) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, name.data, name.len);
        p = ngx_cpymem(p, "\":{\"status\":\"",
                       sizeof("\":{\"status\":\"") - 1);
        p = ngx_cpymem(p, word, ngx_strlen(word));
        p = ngx_cpymem(p, "\",\"value\":", sizeof("\",\"value\":") - 1);
        p = ngx_http_health_json_write_number(p,
                                   ngx_http_health_rule_value(rule[i], w));

        if (rule[i]->metric == NGX_HTTP_HEALTH_ERROR_RATE) {
            p = ngx_cpymem(p, ",\"unit\":\"%\"", sizeof(",\"unit\":\"%\"") - 1);

        } else {
            p = ngx_cpymem(p, ",\"unit\":\"ms\"",
                           sizeof(",\"unit\":\"ms\"") - 1);
        }

        p = ngx_cpymem(p, ",\"warning\":", sizeof(",\"warning\":") - 1);
        p = ngx_http_health_json_write_number(p, rule[i]->threshold.warning);
        p = ngx_cpymem(p, ",\"critical\":", sizeof(",\"critical\":") - 1);
        p = ngx_http_health_json_write_number(p, rule[i]->threshold.critical);

        if (rule[i]->metric == NGX_HTTP_HEALTH_ERROR_RATE) {
            p = ngx_cpymem(p, ",\"window_s\":", sizeof(",\"window_s\":") - 1);
            p = ngx_http_health_write_uint(p, rep->hmcf->window);
        }

        /* only when it says something: a judged rule's object is as before */
        if (!judged) {
            p = ngx_http_health_put(p, ",\"judged\":false,\"requests\":");
            p = ngx_http_health_write_uint(p, requests);
            p = ngx_http_health_put(p, ",\"min_requests\":");
            p = ngx_http_health_write_uint(p, rule[i]->min_requests);
        }

        if (held == NGX_OK) {
            p = ngx_http_health_hold_write(p, &hs);
        }

        *p++ = '}';

        ngx_http_health_text_advance(&rep->checks_text, b, p);
    }

    return NGX_OK;
}


/*
 * A zone's object, written as text: at 1,000 zones a tree of some thirty
 * jansson nodes each, dumped twice, cost ten times the reading of the
 * counters.  The keys and their order are those of the design.
 */
static ngx_int_t
ngx_http_health_zone_json(ngx_http_health_report_t *rep,
    ngx_http_health_zone_t *zone, ngx_http_health_stats_t *st,
    ngx_http_health_window_t *w)
{
    u_char                  *p;
    ngx_buf_t               *b;
    ngx_uint_t               i, k;
    ngx_http_health_text_t  *text;

    /* the largest code entry: ,"599":N */
    enum { code_len = sizeof(",\"599\":") - 1 + NGX_INT64_LEN };

    text = &rep->zones_text;

    b = ngx_http_health_text_room(rep->pool, text,
                                  zone->name.len + 256 + 8 * NGX_INT64_LEN);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    if (text->length) {
        *p++ = ',';
    }

    /* the name is validated ASCII, [A-Za-z0-9_.-]: nothing to escape */
    *p++ = '"';
    p = ngx_cpymem(p, zone->name.data, zone->name.len);
    p = ngx_http_health_put(p, "\":{\"requests\":");
    p = ngx_http_health_write_uint(p, st->requests);
    p = ngx_http_health_json_write_classes(p, st->classes);
    p = ngx_http_health_put(p, ",\"codes\":{");

    k = 0;

    for (i = 0; i < st->ncodes; i++) {
        if (st->code_count[i] == 0) {
            continue;
        }

        if ((size_t) (b->end - p) < code_len) {
            ngx_http_health_text_advance(text, b, p);

            b = ngx_http_health_text_room(rep->pool, text, 64 * code_len);
            if (b == NULL) {
                return NGX_ERROR;
            }

            p = b->last;
        }

        if (k++) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_health_write_uint(p, st->code[i]);
        *p++ = '"';
        *p++ = ':';
        p = ngx_http_health_write_uint(p, st->code_count[i]);
    }

    ngx_http_health_text_advance(text, b, p);

    b = ngx_http_health_text_room(rep->pool, text,
                                  256 + 3 * NGX_INT64_LEN
                                  + 6 * NGX_HTTP_HEALTH_NUMBER_LEN);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    p = ngx_http_health_put(p, "}},\"bytes_in\":");
    p = ngx_http_health_write_uint(p, st->bytes_in);
    p = ngx_http_health_put(p, ",\"bytes_out\":");
    p = ngx_http_health_write_uint(p, st->bytes_out);
    p = ngx_http_health_put(p, ",\"latency_ms\":{\"p50\":");
    p = ngx_http_health_json_write_number(p, w->p50);
    p = ngx_http_health_put(p, ",\"p95\":");
    p = ngx_http_health_json_write_number(p, w->p95);
    p = ngx_http_health_put(p, ",\"p99\":");
    p = ngx_http_health_json_write_number(p, w->p99);
    p = ngx_http_health_put(p, ",\"max\":");
    p = ngx_http_health_json_write_number(p, w->max);
    p = ngx_http_health_put(p, "},\"window\":{\"seconds\":");
    p = ngx_http_health_write_uint(p, rep->hmcf->window);
    p = ngx_http_health_put(p, ",\"requests\":");
    p = ngx_http_health_write_uint(p, st->w_requests);
    p = ngx_http_health_put(p, ",\"rps\":");
    p = ngx_http_health_json_write_number(p,
                                 (double) st->w_requests / st->w_seconds);
    p = ngx_http_health_put(p, ",\"error_rate_pct\":");
    p = ngx_http_health_json_write_number(p, w->error_rate);
    p = ngx_http_health_put(p, "}}");

    ngx_http_health_text_advance(text, b, p);

    return NGX_OK;
}


/*
 * Publishing hands the zones and the upstreams to jansson as trees: parsed
 * back from the very text the status location serves, so that there is
 * one writer.
 */
static json_t *
ngx_http_health_text_parse(ngx_http_health_report_t *rep,
    ngx_http_health_text_t *text)
{
    u_char              *buf, *p;
    json_t              *obj;
    ngx_chain_t         *cl;
    json_error_t         err;
    ngx_pool_cleanup_t  *cln;

    buf = ngx_pnalloc(rep->pool, text->length + 2);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;
    *p++ = '{';

    for (cl = text->out; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    *p++ = '}';

    cln = ngx_pool_cleanup_add(rep->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    obj = json_loadb((char *) buf, p - buf, 0, &err);

    if (obj == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rep->log, 0,
                      "health: the status JSON does not parse: %s at %d",
                      err.text, err.position);
        return NULL;
    }

    cln->handler = ngx_http_health_json_cleanup;
    cln->data = obj;

    return obj;
}


static ngx_int_t
ngx_http_health_render_json(ngx_http_request_t *r,
    ngx_http_health_report_t *rep)
{
    u_char                       *p;
    size_t                        size, n;
    json_t                       *value;
    ngx_buf_t                    *b;
    const char                   *key, *word;
    ngx_chain_t                  *out, **ll;
    ngx_time_t                   *tp;
    ngx_http_health_text_t        text;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = rep->hmcf;

    /*
     * The leading keys in the order of the design, then the checks, the
     * zones and the upstreams as they were written, then whatever a
     * reporter added to the root as a tree: one answer in a chain of
     * buffers, never copied.
     */

    ngx_memzero(&text, sizeof(ngx_http_health_text_t));
    word = health_status_name(rep->status);

    b = ngx_http_health_text_room(r->pool, &text, 6 * hmcf->service.len + 256
                                                  + NGX_INT64_LEN);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();

    p = ngx_http_health_put(b->last, "{\"status\":\"");
    p = ngx_cpymem(p, word, ngx_strlen(word));
    p = ngx_http_health_put(p, "\",\"service\":");
    p = ngx_http_health_json_write_string(p, hmcf->service.data,
                                          hmcf->service.len);
    p = ngx_http_health_put(p, ",\"version\":\"" NGX_HTTP_HEALTH_VERSION
                               "\",\"timestamp\":\"");
    p = ngx_http_health_iso8601(p, tp->sec, tp->msec);

    if (rep->selected) {
        p = ngx_http_health_put(p, "\",\"checks\":{");

    } else {
        p = ngx_http_health_put(p, "\",\"uptime_s\":");
        p = ngx_http_health_write_uint(p, hmcf->sh
                                          ? ngx_http_health_monotonic_sec()
                                            - hmcf->sh->started
                                          : 0);
        p = ngx_http_health_put(p, ",\"checks\":{");
    }

    ngx_http_health_text_advance(&text, b, p);

    ll = &text.tail->next;
    *ll = rep->checks_text.out;
    ll = rep->checks_text.tail ? &rep->checks_text.tail->next : ll;

    /* a selection of checks: those checks and nothing else */
    if (rep->selected) {
        out = ngx_alloc_chain_link(r->pool);
        b = ngx_create_temp_buf(r->pool, sizeof("}}\n") - 1);

        if (out == NULL || b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_http_health_put(b->last, "}}\n");
        out->buf = b;
        out->next = NULL;
        *ll = out;

        goto send;
    }

    out = ngx_alloc_chain_link(r->pool);
    b = ngx_create_temp_buf(r->pool, sizeof("},\"zones\":{") - 1);

    if (out == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_health_put(b->last, "},\"zones\":{");
    out->buf = b;
    *ll = out;
    ll = &out->next;

    *ll = rep->zones_text.out;
    ll = rep->zones_text.tail ? &rep->zones_text.tail->next : ll;

    if (rep->upstreams) {
        out = ngx_alloc_chain_link(r->pool);
        b = ngx_create_temp_buf(r->pool, sizeof("},\"upstreams\":{") - 1);

        if (out == NULL || b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_http_health_put(b->last, "},\"upstreams\":{");
        out->buf = b;
        *ll = out;
        ll = &out->next;

        *ll = rep->upstreams_text.out;
        ll = rep->upstreams_text.tail ? &rep->upstreams_text.tail->next : ll;
    }

    /* the trees: their size first, as json_dumpb() tells it */

    size = sizeof("}}\n");

    json_object_foreach(rep->root, key, value) {
        n = json_dumpb(value, NULL, 0, NGX_HTTP_HEALTH_JSON_FLAGS);

        if (n == 0) {
            /* a load balancer sees 500: the operator must see why */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "health: the JSON status could not be rendered");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        size += 6 * ngx_strlen(key) + 4 + n;
    }

    out = ngx_alloc_chain_link(r->pool);
    b = ngx_create_temp_buf(r->pool, size);

    if (out == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    *p++ = '}';

    json_object_foreach(rep->root, key, value) {
        *p++ = ',';
        p = ngx_http_health_json_write_string(p, (u_char *) key,
                                              ngx_strlen(key));
        *p++ = ':';
        p += json_dumpb(value, (char *) p, b->end - p,
                        NGX_HTTP_HEALTH_JSON_FLAGS);
    }

    *p++ = '}';
    *p++ = LF;
    b->last = p;

    out->buf = b;
    out->next = NULL;
    *ll = out;

send:

    size = 0;

    for (out = text.out; out; out = out->next) {
        size += out->buf->last - out->buf->pos;
    }

    return ngx_http_health_send(r, ngx_http_health_answer_code(rep),
                                "application/json", text.out, size);
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

    return ngx_http_health_send(r, ngx_http_health_answer_code(rep),
                                "text/plain", rep->text.out, rep->text.length);
}


static ngx_int_t
ngx_http_health_render_prometheus(ngx_http_request_t *r,
    ngx_http_health_report_t *rep, ngx_http_health_prom_zone_t *pz)
{
    u_char                       *service, *p;
    ngx_buf_t                    *b;
    ngx_uint_t                    i, rules;
    ngx_pool_t                   *pool;
    ngx_http_health_check_t      *ch;
    ngx_http_health_reporter_t   *reporter;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = rep->hmcf;
    pool = rep->pool;

    service = ngx_http_health_prom_escape(pool, &hmcf->service);
    if (service == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#define emit(...)                                                             \
    if (ngx_http_health_printf(rep, __VA_ARGS__) != NGX_OK) {                 \
        return NGX_HTTP_INTERNAL_SERVER_ERROR;                                \
    }

    /* a selection of checks answers with their families alone */
    if (!rep->selected) {
        emit("# HELP nginx_health_info nginx-health instance.\n"
             "# TYPE nginx_health_info gauge\n"
             "nginx_health_info{service=\"%s\",version=\"%s\"} 1\n",
             service, NGX_HTTP_HEALTH_VERSION);

        emit("# HELP nginx_health_status Overall status: 0 healthy, "
             "1 degraded, 2 unhealthy (an unknown check makes it "
             "degraded).\n"
             "# TYPE nginx_health_status gauge\n"
             "nginx_health_status %d\n", (int) rep->status);
    }

    ch = rep->checks.elts;

    if (rep->checks.nelts) {
        emit("# HELP nginx_health_check_status Status of a check: "
             "0 healthy, 1 degraded, 2 unhealthy, 3 unknown.\n"
             "# TYPE nginx_health_check_status gauge\n");
    }

    rep->text.chunk = rep->checks.nelts * 192;
    rules = 0;

    for (i = 0; i < rep->checks.nelts; i++) {
        b = ngx_http_health_text_room(pool, &rep->text,
                                      3 * ch[i].name.len + 64);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_http_health_put(b->last,
                                "nginx_health_check_status{check=\"");
        p = ngx_http_health_prom_write(p, &ch[i].name);
        p = ngx_http_health_put(p, "\"} ");
        *p++ = (u_char) ('0' + ch[i].status);
        *p++ = '\n';

        ngx_http_health_text_advance(&rep->text, b, p);

        rules += ch[i].rule;
    }

    if (rules) {
        emit("# HELP nginx_health_check_judged Whether a zone's rule had "
             "its min_requests in the window (1) or too few requests to "
             "be judged (0, reported healthy).\n"
             "# TYPE nginx_health_check_judged gauge\n");
    }

    for (i = 0; rules && i < rep->checks.nelts; i++) {
        if (!ch[i].rule) {
            continue;
        }

        b = ngx_http_health_text_room(pool, &rep->text,
                                      3 * ch[i].name.len + 64);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_http_health_put(b->last,
                                "nginx_health_check_judged{check=\"");
        p = ngx_http_health_prom_write(p, &ch[i].name);
        p = ngx_http_health_put(p, "\"} ");
        *p++ = (u_char) ('0' + ch[i].judged);
        *p++ = '\n';

        ngx_http_health_text_advance(&rep->text, b, p);
    }

    if (rep->selected) {
        goto send;
    }

    if (pz != NULL && ngx_http_health_prom_zones(rep, pz) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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

send:

    return ngx_http_health_send(r, NGX_HTTP_OK,
                                "text/plain; version=0.0.4; charset=utf-8",
                                rep->text.out, rep->text.length);
}


/*
 * The zones' families, a line for every zone, written straight into the
 * answer's buffers: no format string to parse, nothing to escape (a zone
 * name is [A-Za-z0-9_.-]), room asked for once a line or once a zone.
 */
static ngx_int_t
ngx_http_health_prom_zones(ngx_http_health_report_t *rep,
    ngx_http_health_prom_zone_t *pz)
{
    u_char                       *p;
    size_t                        line, label;
    ngx_buf_t                    *b;
    ngx_str_t                    *name;
    ngx_uint_t                    z, k, n;
    ngx_http_health_text_t       *text;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_main_conf_t  *hmcf;

    static u_char  requests[] =
        "# HELP nginx_health_requests_total Requests of a zone.\n"
        "# TYPE nginx_health_requests_total counter\n";
    static u_char  responses[] =
        "# HELP nginx_health_responses_total Responses of a zone "
        "by status class.\n"
        "# TYPE nginx_health_responses_total counter\n";
    static u_char  duration[] =
        "# HELP nginx_health_request_duration_seconds Request time "
        "of a zone.\n"
        "# TYPE nginx_health_request_duration_seconds histogram\n";

    hmcf = rep->hmcf;
    zone = hmcf->zones.elts;
    text = &rep->text;
    n = hmcf->nbounds;

    label = 0;

    for (k = 0; k < n; k++) {
        label = ngx_max(label, hmcf->bound_labels[k].len);
    }

    /* the longest line of these families but for the zone's name */
    line = sizeof("nginx_health_request_duration_seconds_bucket"
                  "{zone=\"\",le=\"+Inf\"} \n") + label + 32 + NGX_INT64_LEN;

    /* the whole of them in one buffer, as far as it goes */
    text->chunk = hmcf->zones.nelts * (n + 9) * (line + 16);

    b = ngx_http_health_text_room(rep->pool, text, sizeof(requests));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, requests, sizeof(requests) - 1);
    ngx_http_health_text_advance(text, b, p);

    for (z = 0; z < hmcf->zones.nelts; z++) {
        name = &zone[z].name;

        b = ngx_http_health_text_room(rep->pool, text, line + name->len);
        if (b == NULL) {
            return NGX_ERROR;
        }

        p = ngx_http_health_put(b->last,
                                "nginx_health_requests_total{zone=\"");
        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pz[z].requests);
        *p++ = '\n';

        ngx_http_health_text_advance(text, b, p);
    }

    b = ngx_http_health_text_room(rep->pool, text, sizeof(responses));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, responses, sizeof(responses) - 1);
    ngx_http_health_text_advance(text, b, p);

    for (z = 0; z < hmcf->zones.nelts; z++) {
        name = &zone[z].name;

        b = ngx_http_health_text_room(rep->pool, text,
                                      5 * (line + name->len));
        if (b == NULL) {
            return NGX_ERROR;
        }

        p = b->last;

        for (k = 0; k < 5; k++) {
            p = ngx_http_health_put(p,
                                    "nginx_health_responses_total{zone=\"");
            p = ngx_cpymem(p, name->data, name->len);
            p = ngx_http_health_put(p, "\",code=\"");
            *p++ = (u_char) ('1' + k);
            p = ngx_http_health_put(p, "xx\"} ");
            p = ngx_http_health_write_uint(p, pz[z].classes[k]);
            *p++ = '\n';
        }

        ngx_http_health_text_advance(text, b, p);
    }

    b = ngx_http_health_text_room(rep->pool, text, sizeof(duration));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, duration, sizeof(duration) - 1);
    ngx_http_health_text_advance(text, b, p);

    for (z = 0; z < hmcf->zones.nelts; z++) {
        name = &zone[z].name;

        b = ngx_http_health_text_room(rep->pool, text,
                                      (n + 3) * (line + name->len));
        if (b == NULL) {
            return NGX_ERROR;
        }

        p = b->last;

        for (k = 0; k <= n; k++) {
            p = ngx_http_health_put(p,
                        "nginx_health_request_duration_seconds_bucket"
                        "{zone=\"");
            p = ngx_cpymem(p, name->data, name->len);
            p = ngx_http_health_put(p, "\",le=\"");

            if (k < n) {
                p = ngx_cpymem(p, hmcf->bound_labels[k].data,
                               hmcf->bound_labels[k].len);

            } else {
                p = ngx_http_health_put(p, "+Inf");
            }

            p = ngx_http_health_put(p, "\"} ");
            p = ngx_http_health_write_uint(p, pz[z].buckets[k]);
            *p++ = '\n';
        }

        p = ngx_http_health_put(p, "nginx_health_request_duration_seconds_sum"
                                   "{zone=\"");
        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_http_health_put(p, "\"} ");
        p += health_hist_format_seconds(pz[z].time_us, (char *) p, 32);
        *p++ = '\n';

        p = ngx_http_health_put(p, "nginx_health_request_duration_seconds_"
                                   "count{zone=\"");
        p = ngx_cpymem(p, name->data, name->len);
        p = ngx_http_health_put(p, "\"} ");
        p = ngx_http_health_write_uint(p, pz[z].buckets[n]);
        *p++ = '\n';

        ngx_http_health_text_advance(text, b, p);
    }

    return NGX_OK;
}


/*
 * A Prometheus label value: backslash, double quote and newline escaped,
 * and, since the exposition format is UTF-8, a byte that does not start
 * a valid UTF-8 sequence becomes U+FFFD instead of reaching the scraper.
 */
u_char *
ngx_http_health_prom_escape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *dst;

    /* the worst case: every byte becomes the 3 bytes of U+FFFD */
    dst = ngx_pnalloc(pool, 3 * s->len + 1);
    if (dst == NULL) {
        return NULL;
    }

    *ngx_http_health_prom_write(dst, s) = '\0';

    return dst;
}


/* the same, written at p (3 * s->len bytes at most), unterminated */
u_char *
ngx_http_health_prom_write(u_char *p, ngx_str_t *s)
{
    u_char  *q, *last;
    size_t   n;

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

    return p;
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
    cl = rep->text.tail;
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

        if (rep->text.tail) {
            rep->text.tail->next = cl;

        } else {
            rep->text.out = cl;
        }

        rep->text.tail = cl;
    }

    rep->text.length += p - b->last;
    b->last = p;

    return NGX_OK;
}


ngx_int_t
ngx_http_health_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    ngx_chain_t *out, off_t length)
{
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    if (ngx_http_health_header(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
