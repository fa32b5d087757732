/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the backlog of a queue kept in Redis (health_redis_queue).
 *
 *   health_redis_queue NAME key=KEY [redis=NAME] warning=N critical=N
 *                      [interval=TIME] [timeout=TIME] [required=on|off]
 *                      [for=TIME] [recover=TIME];
 *
 * A probe of its own (a lease, a deadline, a result in shared memory) on a
 * connection of its own made with the settings of its health_redis, which
 * may be declared after it: it is found once the http block has been read.
 * Each round asks TYPE, then LLEN, ZCARD or XLEN by the type.  The key is
 * the operator's, but it is sent as a binary-safe argument and shown only
 * through the JSON encoder.  A queue whose Redis does not answer has no
 * known length: its check is unknown, and the Redis check tells why.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_redis.h"
#include "ngx_http_health_redis_queue.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_util.h"


#define NGX_HTTP_HEALTH_QUEUE_DATA_SIZE  256
#define NGX_HTTP_HEALTH_QUEUE_KEY_MAX    512
#define NGX_HTTP_HEALTH_QUEUE_MAX        1000000000000000ULL


typedef struct {
    ngx_str_t                     key;
    ngx_str_t                     redis;         /* its name; "": the first */
    uint64_t                      warning;       /* over which */
    uint64_t                      critical;
    ngx_msec_t                    interval;      /* unset: the redis' */
    ngx_msec_t                    timeout;

    ngx_http_health_redis_ctx_t  *conn;
    ngx_http_health_probe_t      *probe;
    uint64_t                      started;
    const char                   *type;          /* of this round's key */
} ngx_http_health_redis_queue_t;


static void ngx_http_health_redis_queue_run(ngx_http_health_probe_t *probe);
static void ngx_http_health_redis_queue_round(
    ngx_http_health_redis_ctx_t *conn, void *data);
static u_char *ngx_http_health_redis_queue_abort(
    ngx_http_health_probe_t *probe, u_char *buf, u_char *last);
static void ngx_http_health_redis_queue_stop(ngx_http_health_probe_t *probe);
static ngx_int_t ngx_http_health_redis_queue_json(
    ngx_http_health_probe_t *probe, ngx_http_health_probe_result_t *res,
    json_t *obj);
static void ngx_http_health_redis_queue_type_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_queue_length_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_queue_end(
    ngx_http_health_redis_queue_t *q, health_status_t status, uint64_t len,
    u_char *reason, size_t reason_len);
static ngx_int_t ngx_http_health_redis_queue_param(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_str_t *arg, ngx_http_health_redis_queue_t *q);
static ngx_int_t ngx_http_health_redis_queue_prometheus(
    ngx_http_health_report_t *rep, void *data);


char *
ngx_http_health_redis_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                       rc;
    ngx_str_t                      *value, unused;
    ngx_uint_t                      i;
    ngx_flag_t                      required;
    ngx_http_health_hold_t          hold;
    ngx_http_health_probe_t        *probe;
    ngx_http_health_redis_queue_t  *q;

    value = cf->args->elts;
    ngx_memzero(&hold, sizeof(ngx_http_health_hold_t));

    q = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_redis_queue_t));
    if (q == NULL) {
        return NGX_CONF_ERROR;
    }

    q->warning = (uint64_t) -1;
    q->critical = (uint64_t) -1;
    q->interval = NGX_CONF_UNSET_MSEC;
    q->timeout = NGX_CONF_UNSET_MSEC;
    required = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        /* the name is the first argument */
        if (value[i].len >= 5 && ngx_strncmp(value[i].data, "name=", 5) == 0)
        {
            goto invalid;
        }

        rc = ngx_http_health_probe_arg(cf, &cmd->name, &value[i], &unused,
                                       &q->interval, &q->timeout, &required);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        rc = ngx_http_health_redis_queue_param(cf, &cmd->name, &value[i], q);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        rc = ngx_http_health_hold_param(cf, &value[i], &hold);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (q->key.len == 0
        || q->warning == (uint64_t) -1 || q->critical == (uint64_t) -1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs key=, warning= and "
                           "critical=", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (q->warning > q->critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, "
                           "warning is above critical", &cmd->name);
        return NGX_CONF_ERROR;
    }

    probe = ngx_http_health_probe_add(cf, &value[1], &cmd->name);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the target, interval and timeout come with the health_redis */
    ngx_str_set(&probe->kind, "redis_queue");
    probe->required = required;
    probe->hold = hold;
    probe->data_size = NGX_HTTP_HEALTH_QUEUE_DATA_SIZE;
    probe->unanswered = HEALTH_UNKNOWN;
    probe->run = ngx_http_health_redis_queue_run;
    probe->abort = ngx_http_health_redis_queue_abort;
    probe->stop = ngx_http_health_redis_queue_stop;
    probe->json = ngx_http_health_redis_queue_json;
    probe->ctx = q;

    q->probe = probe;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_health_redis_queue_param(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *arg, ngx_http_health_redis_queue_t *q)
{
    uint64_t   *n;
    ngx_str_t   v;

    if (arg->len > 4 && ngx_strncmp(arg->data, "key=", 4) == 0) {
        if (arg->len - 4 > NGX_HTTP_HEALTH_QUEUE_KEY_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "a key is 1 to %d bytes", arg, directive,
                               NGX_HTTP_HEALTH_QUEUE_KEY_MAX);
            return NGX_ERROR;
        }

        q->key.data = arg->data + 4;
        q->key.len = arg->len - 4;
        return NGX_OK;
    }

    if (arg->len > 6 && ngx_strncmp(arg->data, "redis=", 6) == 0) {
        q->redis.data = arg->data + 6;
        q->redis.len = arg->len - 6;
        return NGX_OK;
    }

    if (arg->len >= 8 && ngx_strncmp(arg->data, "warning=", 8) == 0) {
        v.data = arg->data + 8;
        v.len = arg->len - 8;
        n = &q->warning;

    } else if (arg->len >= 9 && ngx_strncmp(arg->data, "critical=", 9) == 0) {
        v.data = arg->data + 9;
        v.len = arg->len - 9;
        n = &q->critical;

    } else {
        return NGX_DECLINED;
    }

    if (ngx_http_health_parse_uint(&v, NGX_HTTP_HEALTH_QUEUE_MAX, n)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a number from 0 to %uL", arg,
                           directive, NGX_HTTP_HEALTH_QUEUE_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * After the http block: each queue finds its health_redis, declared before
 * or after it, and takes its connection settings.  Before the probes'
 * segment is laid out, whose name hashes the targets.
 */
char *
ngx_http_health_redis_queue_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf)
{
    ngx_uint_t                      i, n;
    ngx_http_health_probe_t       **pp, *rp;
    ngx_http_health_reporter_t      reporter;
    ngx_http_health_redis_ctx_t    *from;
    ngx_http_health_redis_queue_t  *q;

    pp = hmcf->probes.elts;
    n = 0;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        if (pp[i]->run != ngx_http_health_redis_queue_run) {
            continue;
        }

        q = pp[i]->ctx;
        n++;

        from = ngx_http_health_redis_find(hmcf, &q->redis);

        if (from == NULL) {
            if (q->redis.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"health_redis_queue\" \"%V\": no "
                                   "\"health_redis\" named \"%V\"",
                                   &pp[i]->name, &q->redis);

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"health_redis_queue\" \"%V\" needs a "
                                   "\"health_redis\"", &pp[i]->name);
            }

            return NGX_CONF_ERROR;
        }

        rp = ngx_http_health_redis_probe(from);

        pp[i]->interval = q->interval != NGX_CONF_UNSET_MSEC ? q->interval
                                                             : rp->interval;
        pp[i]->timeout = q->timeout != NGX_CONF_UNSET_MSEC ? q->timeout
                                                           : rp->timeout;

        /* after the timeout: the Sentinels share it */
        q->conn = ngx_http_health_redis_inherit(cf, from, pp[i]);
        if (q->conn == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (n == 0) {
        return NGX_CONF_OK;
    }

    reporter.collect = NULL;
    reporter.prometheus = ngx_http_health_redis_queue_prometheus;
    reporter.data = &hmcf->probes;

    if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_health_redis_queue_run(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_queue_t  *q = probe->ctx;

    /* the server found (through the Sentinels, if any): round() */
    ngx_http_health_redis_start(q->conn, ngx_http_health_redis_queue_round,
                                q);
}


static void
ngx_http_health_redis_queue_round(ngx_http_health_redis_ctx_t *conn,
    void *data)
{
    redisAsyncContext              *ac;
    ngx_http_health_redis_queue_t  *q = data;
    ngx_http_health_probe_t        *probe;

    probe = ngx_http_health_redis_probe(conn);

    ac = ngx_http_health_redis_ready(conn);
    if (ac == NULL) {
        return;
    }

    q->started = ngx_http_health_monotonic_usec();
    q->type = NULL;

    if (redisAsyncCommand(ac, ngx_http_health_redis_queue_type_reply, q,
                          "TYPE %b", q->key.data, q->key.len)
        != REDIS_OK)
    {
        ngx_http_health_redis_fail(q->conn, HEALTH_UNKNOWN,
                                   NGX_HTTP_HEALTH_REDIS_FREE,
                                   "cannot send TYPE to %V", &probe->target);
    }
}


static void
ngx_http_health_redis_queue_type_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                     *reply = r;
    ngx_http_health_redis_queue_t  *q = privdata;

    u_char       reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    u_char       text[64];
    const char  *cmd;

    if (ngx_http_health_redis_reply_ok(q->conn, ac, reply, "TYPE")
        != NGX_OK)
    {
        return;
    }

    if (reply->type != REDIS_REPLY_STATUS
        && reply->type != REDIS_REPLY_STRING)
    {
        ngx_http_health_redis_fail(q->conn, HEALTH_UNKNOWN,
                                   NGX_HTTP_HEALTH_REDIS_FREE,
                                   "TYPE on %V answered no type",
                                   &q->probe->target);
        return;
    }

#define is(t)  (reply->len == sizeof(t) - 1                                  \
                && ngx_strncmp(reply->str, t, reply->len) == 0)

    if (is("none")) {
        /* no key, no backlog: Redis removes an emptied list */
        q->type = "none";
        ngx_http_health_redis_queue_end(q, HEALTH_HEALTHY, 0, NULL, 0);
        return;
    }

    if (is("list")) {
        q->type = "list";
        cmd = "LLEN";

    } else if (is("zset")) {
        q->type = "zset";
        cmd = "ZCARD";

    } else if (is("stream")) {
        q->type = "stream";
        cmd = "XLEN";

    } else {
        /* the server's word for it: one line of valid UTF-8 */
        p = ngx_http_health_text_line(text, sizeof(text),
                                      (u_char *) reply->str, reply->len);

        q->type = "other";
        p = ngx_slprintf(reason, reason + sizeof(reason),
                         "the key is a %*s, not a list, a sorted set or "
                         "a stream", p - text, text);
        ngx_http_health_redis_queue_end(q, HEALTH_UNKNOWN, 0, reason,
                                        p - reason);
        return;
    }

#undef is

    if (redisAsyncCommand(ac, ngx_http_health_redis_queue_length_reply, q,
                          "%s %b", cmd, q->key.data, q->key.len)
        != REDIS_OK)
    {
        ngx_http_health_redis_fail(q->conn, HEALTH_UNKNOWN,
                                   NGX_HTTP_HEALTH_REDIS_FREE,
                                   "cannot send %s to %V", cmd,
                                   &q->probe->target);
    }
}


static void
ngx_http_health_redis_queue_length_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                     *reply = r;
    ngx_http_health_redis_queue_t  *q = privdata;

    u_char           reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    uint64_t         len;
    health_status_t  status;

    if (ngx_http_health_redis_reply_ok(q->conn, ac, reply, "the length")
        != NGX_OK)
    {
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 0) {
        ngx_http_health_redis_fail(q->conn, HEALTH_UNKNOWN,
                                   NGX_HTTP_HEALTH_REDIS_FREE,
                                   "%V answered no length",
                                   &q->probe->target);
        return;
    }

    len = (uint64_t) reply->integer;
    p = reason;

    /* "over 10": 11 is a warning, 10 is not */
    if (len > q->critical) {
        status = HEALTH_UNHEALTHY;
        p = ngx_slprintf(reason, reason + sizeof(reason),
                         "%uL items, over the critical %uL", len,
                         q->critical);

    } else if (len > q->warning) {
        status = HEALTH_DEGRADED;
        p = ngx_slprintf(reason, reason + sizeof(reason),
                         "%uL items, over the warning %uL", len, q->warning);

    } else {
        status = HEALTH_HEALTHY;
    }

    ngx_http_health_redis_queue_end(q, status, len, reason, p - reason);
}


static void
ngx_http_health_redis_queue_end(ngx_http_health_redis_queue_t *q,
    health_status_t status, uint64_t len, u_char *reason, size_t reason_len)
{
    u_char    data[NGX_HTTP_HEALTH_QUEUE_DATA_SIZE], *d;
    uint64_t  us;

    us = ngx_http_health_monotonic_usec() - q->started;

    d = data;

    /* a key of another type has no length: null, not 0 */
    if (status == HEALTH_UNKNOWN) {
        d = ngx_slprintf(d, data + sizeof(data), "{\"value\":null,");

    } else {
        d = ngx_slprintf(d, data + sizeof(data), "{\"value\":%uL,", len);
    }

    d = ngx_slprintf(d, data + sizeof(data),
                     "\"unit\":\"items\",\"warning\":%uL,"
                     "\"critical\":%uL,\"type\":\"%s\"}",
                     q->warning, q->critical, q->type);

    ngx_http_health_probe_end(q->probe, NGX_OK, status, us ? us : 1, data,
                              d - data, reason, reason_len);
}


static u_char *
ngx_http_health_redis_queue_abort(ngx_http_health_probe_t *probe,
    u_char *buf, u_char *last)
{
    ngx_http_health_redis_queue_t  *q = probe->ctx;

    buf = ngx_slprintf(buf, last, "waiting for %V", &probe->target);

    /* not inside a hiredis callback: the context goes now */
    ngx_http_health_redis_close(q->conn);

    return buf;
}


static void
ngx_http_health_redis_queue_stop(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_queue_t  *q = probe->ctx;

    ngx_http_health_redis_close(q->conn);
}


static ngx_int_t
ngx_http_health_redis_queue_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj)
{
    ngx_http_health_redis_queue_t  *q = probe->ctx;

    /* the operator's key, made valid UTF-8 by the encoder's rules */
    (void) ngx_http_health_json_set_text(obj, "key", q->key.data,
                                         q->key.len);

    if (res->data.len == 0) {
        (void) json_object_set_new(obj, "unit", json_string("items"));
        (void) json_object_set_new(obj, "warning",
                                   json_integer((json_int_t) q->warning));
        (void) json_object_set_new(obj, "critical",
                                   json_integer((json_int_t) q->critical));
        return NGX_OK;
    }

    return ngx_http_health_redis_json(probe, res, obj);
}


/* the last length measured, absent when the last round measured none */
static ngx_int_t
ngx_http_health_redis_queue_prometheus(ngx_http_health_report_t *rep,
    void *data)
{
    ngx_array_t *probes = data;

    u_char                          buf[NGX_HTTP_HEALTH_QUEUE_DATA_SIZE];
    u_char                         *name;
    size_t                          len;
    json_t                         *fields, *v;
    ngx_uint_t                      i, head;
    ngx_slab_pool_t                *shpool;
    ngx_http_health_probe_t       **pp;
    ngx_http_health_probe_sh_t     *sh;

    pp = probes->elts;
    head = 0;

    for (i = 0; i < probes->nelts; i++) {
        if (pp[i]->run != ngx_http_health_redis_queue_run) {
            continue;
        }

        sh = pp[i]->sh;
        shpool = (ngx_slab_pool_t *) pp[i]->shm_zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        len = sh->checked ? ngx_min(sh->data_len, sizeof(buf)) : 0;
        ngx_memcpy(buf, sh->data, len);

        ngx_shmtx_unlock(&shpool->mutex);

        if (len == 0) {
            continue;
        }

        fields = json_loadb((char *) buf, len, 0, NULL);
        if (fields == NULL) {
            continue;
        }

        v = json_object_get(fields, "value");

        if (!json_is_integer(v)) {
            json_decref(fields);
            continue;
        }

        name = ngx_http_health_prom_escape(rep->pool, &pp[i]->name);

        if (name == NULL
            || (!head
                && ngx_http_health_printf(rep,
                       "# HELP nginx_health_redis_queue_length Length of "
                       "a queue kept in Redis, at the last check.\n"
                       "# TYPE nginx_health_redis_queue_length gauge\n")
                   != NGX_OK)
            || ngx_http_health_printf(rep,
                   "nginx_health_redis_queue_length{queue=\"%s\"} %uL\n",
                   name, (uint64_t) json_integer_value(v))
               != NGX_OK)
        {
            json_decref(fields);
            return NGX_ERROR;
        }

        head = 1;
        json_decref(fields);
    }

    return NGX_OK;
}
