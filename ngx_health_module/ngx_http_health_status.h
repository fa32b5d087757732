/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the status location (json, prometheus, lb, html) and the
 * report it is rendered from (html is a static page that reads the JSON).
 *
 * Later parts (upstreams, PostgreSQL, Redis) add to the report through a
 * reporter registered at configuration time:
 *
 *   collect     adds checks with ngx_http_health_report_add_check() and,
 *               for JSON, the text of the upstreams' members into
 *               upstreams_text;
 *   prometheus  appends its metric families with ngx_http_health_printf().
 */

#ifndef _NGX_HTTP_HEALTH_STATUS_H_INCLUDED_
#define _NGX_HTTP_HEALTH_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_health_module.h"


typedef enum {
    NGX_HTTP_HEALTH_JSON = 0,
    NGX_HTTP_HEALTH_PROMETHEUS,
    NGX_HTTP_HEALTH_LB,
    NGX_HTTP_HEALTH_HTML
} ngx_http_health_format_e;


typedef struct {
    ngx_str_t                    name;
    health_status_t              status;
    unsigned                     rule:1;     /* a zone's rule */
    unsigned                     judged:1;   /* had min_requests */
    unsigned                     peer:1;     /* a peer's state: alerts only */
} ngx_http_health_check_t;


/*
 * Text written straight into pool buffers: a chain that grows by a buffer
 * of at least "chunk" bytes when the room asked for is not left.  A piece
 * asked for with ngx_http_health_text_room() is never split, the answer
 * as a whole may be.
 */
typedef struct {
    ngx_chain_t                 *out;
    ngx_chain_t                 *tail;
    off_t                        length;
    size_t                       chunk;
} ngx_http_health_text_t;


/*
 * A report is built for a status request or, with no request at all, for
 * publishing and for the verdict's timer: its parts allocate from pool and
 * log to log, whoever asked.
 */
typedef struct {
    ngx_pool_t                  *pool;
    ngx_log_t                   *log;
    ngx_http_health_main_conf_t *hmcf;
    ngx_http_health_format_e     format;
    uint64_t                     clock;      /* monotonic us, reads began */
    uint64_t                     wall;       /* wall ms, read after clock */

    health_status_t              status;         /* worst of the checks */
    ngx_array_t                  checks;     /* ngx_http_health_check_t */

    /*
     * check= of the location and of the query (NULL: every check): the
     * answer covers the checks both name, with their own status, and
     * nothing else.  degraded is the code a degraded answer goes with.
     */
    ngx_array_t                 *select[2];
    ngx_uint_t                   selected;       /* select[] is set */
    ngx_uint_t                   degraded;

    /*
     * JSON only, else NULL: the members that reporters add as objects
     * ("upstreams"); the checks and the zones, one object per item and
     * thousands of them, are written as text instead of a tree.
     */
    json_t                      *root;
    ngx_http_health_text_t       checks_text;
    ngx_http_health_text_t       zones_text;
    ngx_http_health_text_t       upstreams_text;
    ngx_uint_t                   upstreams;      /* "upstreams" is shown */

    /* for publishing only (ngx_http_health_report_build): parsed back */
    ngx_uint_t                   publish;
    json_t                      *zones_json;
    json_t                      *upstreams_json;

    ngx_http_health_text_t       text;           /* text formats */
} ngx_http_health_report_t;


typedef ngx_int_t (*ngx_http_health_collect_pt)(
    ngx_http_health_report_t *rep, void *data);
typedef ngx_int_t (*ngx_http_health_prometheus_pt)(
    ngx_http_health_report_t *rep, void *data);


typedef struct {
    ngx_http_health_collect_pt     collect;
    ngx_http_health_prometheus_pt  prometheus;
    void                          *data;
} ngx_http_health_reporter_t;


char *ngx_http_health_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* a response header of the status location (key and value are static) */
ngx_int_t ngx_http_health_header(ngx_http_request_t *r, char *key,
    const char *value);
ngx_int_t ngx_http_health_add_reporter(ngx_conf_t *cf,
    ngx_http_health_reporter_t *reporter);

/*
 * obj (JSON only, may be NULL otherwise) is owned by the report from here.
 * NGX_DECLINED: the answer does not cover that check (check=): it is not
 * in the answer and must not touch rep->status; an answer for a selection
 * shows its checks and nothing else a reporter writes.
 */
ngx_int_t ngx_http_health_report_add_check(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj);
ngx_int_t ngx_http_health_printf(ngx_http_health_report_t *rep,
    const char *fmt, ...);

/*
 * A Prometheus label value, escaped and NUL-terminated (print it with
 * "%s"): every label value that comes from configuration or from outside
 * goes through it.
 */
u_char *ngx_http_health_prom_escape(ngx_pool_t *pool, ngx_str_t *s);
u_char *ngx_http_health_prom_write(u_char *p, ngx_str_t *s);

/*
 * The JSON report as the status location builds it, outside any request
 * (for publishing); its objects are freed with the pool.
 */
ngx_http_health_report_t *ngx_http_health_report_build(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf);

/* the overall status alone, as lb answers it, outside any request */
ngx_int_t ngx_http_health_report_status(ngx_pool_t *pool,
    ngx_http_health_main_conf_t *hmcf, health_status_t *status);

/* a JSON number: an integer when it is one, else rounded to 3 decimals */
json_t *ngx_http_health_json_number(double v);

/*
 * The same number as text, exactly as jansson prints that json_t with
 * JSON_REAL_PRECISION(15); "null" when it is not finite.  At most
 * NGX_HTTP_HEALTH_NUMBER_LEN bytes.
 */
#define NGX_HTTP_HEALTH_NUMBER_LEN  40
u_char *ngx_http_health_json_write_number(u_char *p, double v);

/* a JSON string, quoted; invalid UTF-8 becomes U+FFFD; 6 * len + 2 bytes */
u_char *ngx_http_health_json_write_string(u_char *p, u_char *s, size_t len);

u_char *ngx_http_health_write_uint(u_char *p, uint64_t v);

/*
 * ,"responses":{"1xx":N,...,"5xx":N of a zone or a peer, the object left
 * open; 64 + 5 * NGX_INT64_LEN bytes
 */
u_char *ngx_http_health_json_write_classes(u_char *p,
    const uint64_t *classes);
ngx_buf_t *ngx_http_health_text_room(ngx_pool_t *pool,
    ngx_http_health_text_t *text, size_t size);

#define ngx_http_health_text_advance(text, b, p)                              \
    (text)->length += (p) - (b)->last;                                        \
    (b)->last = (p)


/*
 * An answer with Cache-Control: no-store, its status, type and length;
 * out NULL (or HEAD) sends the header alone.
 */
ngx_int_t ngx_http_health_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_chain_t *out, off_t length);


#endif /* _NGX_HTTP_HEALTH_STATUS_H_INCLUDED_ */
