/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the Redis probe and publisher.
 *
 * hiredis' asynchronous API through an event adapter of our own: its
 * addRead/delRead/addWrite/delWrite hooks become level-triggered events on
 * an nginx connection wrapping its descriptor, cleanup gives the connection
 * back (hiredis closes the descriptor itself).  hiredis 0.14 has no timers:
 * an nginx timer bounds every probe.
 *
 * hiredis may free the context inside redisAsyncHandleRead() or a reply
 * callback (an error, EOF, or our own redisAsyncFree()).  A reply callback
 * therefore checks that its context is still ctx->ac before acting, a NULL
 * reply is a disconnect, and ctx->ac is cleared before any free of ours so
 * the NULL replies that free delivers are recognised as stale.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <arpa/inet.h>

#include <jansson.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_redis.h"
#include "ngx_http_health_util.h"


/* the element count of an array reply: int until hiredis 1.0 */
#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_http_health_redis_elements_t;
#else
typedef int     ngx_http_health_redis_elements_t;
#endif


#define NGX_HTTP_HEALTH_REDIS_DATA_SIZE  1024
#define NGX_HTTP_HEALTH_REDIS_TTL        86400
#define NGX_HTTP_HEALTH_REDIS_METRICS    5          /* every 5 intervals */

/* the operators' guides: PING round trip and memory against maxmemory */
#define NGX_HTTP_HEALTH_REDIS_PING_WARN  10000      /* us */
#define NGX_HTTP_HEALTH_REDIS_PING_CRIT  50000
#define NGX_HTTP_HEALTH_REDIS_MEM_WARN   80.0       /* % */
#define NGX_HTTP_HEALTH_REDIS_MEM_CRIT   95.0

/* ngx_http_health_redis_fail()'s flags */
#define NGX_HTTP_HEALTH_REDIS_FREE       0x01    /* the context is ours */
#define NGX_HTTP_HEALTH_REDIS_LOST       0x02    /* maybe between rounds */


typedef struct {
    uint64_t                     used_memory;
    uint64_t                     maxmemory;
    uint64_t                     evicted_keys;
    uint64_t                     hits;
    uint64_t                     misses;
    ngx_uint_t                   have_memory;
    ngx_uint_t                   have_stats;
} ngx_http_health_redis_info_t;


typedef struct {
    char                        *host;
    int                          port;
    ngx_str_t                    password;
    ngx_int_t                    db;
    ngx_flag_t                   publish;
    ngx_str_t                    prefix;
    ngx_http_health_main_conf_t *hmcf;

    redisAsyncContext           *ac;
    ngx_connection_t            *c;
    uint64_t                     started;
    uint64_t                     ping_us;
    ngx_http_health_redis_info_t info;
    ngx_uint_t                   rounds;
    ngx_uint_t                   pending;    /* INFO replies to come */
    ngx_uint_t                   unasked;    /* a reply nobody asked for */
    ngx_shm_zone_t              *alerts_zone; /* the statuses last seen */

    ngx_http_health_probe_t     *probe;
} ngx_http_health_redis_ctx_t;


static void ngx_http_health_redis_run(ngx_http_health_probe_t *probe);
static u_char *ngx_http_health_redis_abort(ngx_http_health_probe_t *probe,
    u_char *buf, u_char *last);
static void ngx_http_health_redis_stop(ngx_http_health_probe_t *probe);
static ngx_int_t ngx_http_health_redis_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj);
static ngx_int_t ngx_http_health_redis_connect(
    ngx_http_health_redis_ctx_t *ctx);
static void ngx_http_health_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_health_redis_disconnected(const redisAsyncContext *ac,
    int status);
static ngx_int_t ngx_http_health_redis_reply_ok(
    ngx_http_health_redis_ctx_t *ctx, redisAsyncContext *ac,
    redisReply *reply, const char *what);
static void ngx_http_health_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_ping_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_info_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_publish_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_redis_parse_info(
    ngx_http_health_redis_info_t *info, char *text, size_t len);
static void ngx_http_health_redis_evaluate(ngx_http_health_redis_ctx_t *ctx);
static void ngx_http_health_redis_publish(ngx_http_health_redis_ctx_t *ctx);
static ngx_int_t ngx_http_health_redis_send_json(
    ngx_http_health_redis_ctx_t *ctx, const char *cmd, ngx_str_t *key,
    json_t *msg, ngx_uint_t ex);
static void ngx_http_health_redis_alerts(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_report_t *rep, json_t *ts);
static ngx_int_t ngx_http_health_redis_alerts_zone(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *ctx);
static ngx_int_t ngx_http_health_redis_init_alerts_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static json_t *ngx_http_health_redis_last_load(
    ngx_http_health_redis_ctx_t *ctx, ngx_pool_t *pool);
static void ngx_http_health_redis_last_store(
    ngx_http_health_redis_ctx_t *ctx, json_t *last);
static json_t *ngx_http_health_redis_now(void);
static void ngx_http_health_redis_fail(ngx_http_health_redis_ctx_t *ctx,
    health_status_t status, ngx_uint_t flags, const char *fmt, ...);
static void ngx_http_health_redis_close(ngx_http_health_redis_ctx_t *ctx);
static void ngx_http_health_redis_json_cleanup(void *data);

static ngx_connection_t *ngx_http_health_redis_conn(
    ngx_http_health_redis_ctx_t *ctx);
static void ngx_http_health_redis_add_read(void *privdata);
static void ngx_http_health_redis_del_read(void *privdata);
static void ngx_http_health_redis_add_write(void *privdata);
static void ngx_http_health_redis_del_write(void *privdata);
static void ngx_http_health_redis_cleanup(void *privdata);
static void ngx_http_health_redis_event(ngx_event_t *ev);

static ngx_uint_t ngx_http_health_redis_asked(const redisReadTask *task);
static void *ngx_http_health_redis_string(const redisReadTask *task,
    char *str, size_t len);
static void *ngx_http_health_redis_array(const redisReadTask *task,
    ngx_http_health_redis_elements_t elements);
static void *ngx_http_health_redis_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_health_redis_nil(const redisReadTask *task);
#if (HIREDIS_MAJOR >= 1)
static void *ngx_http_health_redis_double(const redisReadTask *task,
    double value, char *str, size_t len);
static void *ngx_http_health_redis_bool(const redisReadTask *task, int bval);
#endif


/*
 * hiredis' own reply functions, and ours wrapped around them: the table is
 * filled at the first connect, member by member, so that it fits both
 * hiredis 0.14 (Debian 12) and 1.x (RESP3's doubles and booleans).
 */
static redisReplyObjectFunctions  *ngx_http_health_redis_lib_fns;
static redisReplyObjectFunctions   ngx_http_health_redis_fns;

static ngx_uint_t  ngx_http_health_redis_alerts_tag;


char *
ngx_http_health_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                       *p, buf[sizeof(struct in6_addr)];
    uint64_t                      db;
    ngx_int_t                     rc, n;
    ngx_str_t                    *value, name, host, port, v;
    ngx_uint_t                    i;
    ngx_flag_t                    required;
    ngx_msec_t                    interval, timeout;
    ngx_http_health_hold_t        hold;
    ngx_http_health_probe_t      *probe;
    ngx_http_health_redis_ctx_t  *ctx;

    value = cf->args->elts;
    ngx_memzero(&hold, sizeof(ngx_http_health_hold_t));

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_redis_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "cache");
    ngx_str_set(&ctx->prefix, "health");
    interval = 5000;
    timeout = 1000;
    required = 0;
    ctx->db = -1;
    ctx->publish = 1;

    /* HOST:PORT or [IPv6]:PORT, an address: hiredis would resolve a name
     * synchronously */
    for (p = value[1].data + value[1].len; p > value[1].data; p--) {
        if (p[-1] == ':') {
            break;
        }
    }

    if (p == value[1].data) {
        goto bad_address;
    }

    p--;

    host.data = value[1].data;
    host.len = p - value[1].data;
    port.data = p + 1;
    port.len = value[1].data + value[1].len - port.data;

    if (host.len > 2 && host.data[0] == '[' && host.data[host.len - 1] == ']')
    {
        host.data++;
        host.len -= 2;
    }

    n = ngx_atoi(port.data, port.len);

    ctx->host = ngx_pnalloc(cf->pool, host.len + 1);
    if (ctx->host == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(ctx->host, host.data, host.len) = '\0';

    if (n < 1 || n > 65535
        || (inet_pton(AF_INET, ctx->host, buf) != 1
            && inet_pton(AF_INET6, ctx->host, buf) != 1))
    {
        goto bad_address;
    }

    ctx->port = (int) n;

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_health_probe_arg(cf, &cmd->name, &value[i], &name,
                                       &interval, &timeout, &required);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (value[i].len > 9
            && ngx_strncmp(value[i].data, "password=", 9) == 0)
        {
            ctx->password.data = value[i].data + 9;
            ctx->password.len = value[i].len - 9;
            continue;
        }

        if (value[i].len > 3 && ngx_strncmp(value[i].data, "db=", 3) == 0) {
            v.data = value[i].data + 3;
            v.len = value[i].len - 3;

            /* Redis numbers its databases with a C int */
            if (ngx_http_health_parse_uint(&v, 2147483647, &db) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a number from 0 "
                                   "to 2147483647", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            ctx->db = (ngx_int_t) db;
            continue;
        }

        if (value[i].len > 7
            && ngx_strncmp(value[i].data, "prefix=", 7) == 0)
        {
            ctx->prefix.data = value[i].data + 7;
            ctx->prefix.len = value[i].len - 7;
            continue;
        }

        if (value[i].len > 8
            && ngx_strncmp(value[i].data, "publish=", 8) == 0)
        {
            v.data = value[i].data + 8;
            v.len = value[i].len - 8;

            if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
                ctx->publish = 1;

            } else if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
                ctx->publish = 0;

            } else {
                goto invalid;
            }

            continue;
        }

        rc = ngx_http_health_hold_param(cf, &value[i], &hold);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    probe = ngx_http_health_probe_add(cf, &name, &cmd->name);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    probe->target.data = ngx_pnalloc(cf->pool, value[1].len
                                               + sizeof(" db=") + NGX_INT_T_LEN);
    if (probe->target.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(probe->target.data, value[1].data, value[1].len);

    if (ctx->db >= 0) {
        p = ngx_sprintf(p, " db=%i", ctx->db);
    }

    probe->target.len = p - probe->target.data;

    ngx_str_set(&probe->kind, "redis");
    probe->interval = interval;
    probe->timeout = timeout;
    probe->required = required;
    probe->hold = hold;
    probe->data_size = NGX_HTTP_HEALTH_REDIS_DATA_SIZE;
    probe->run = ngx_http_health_redis_run;
    probe->abort = ngx_http_health_redis_abort;
    probe->stop = ngx_http_health_redis_stop;
    probe->json = ngx_http_health_redis_json;
    probe->ctx = ctx;

    ctx->probe = probe;
    ctx->hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    if (ctx->publish && ngx_http_health_redis_alerts_zone(cf, ctx) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

bad_address:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "an IP address and a port are needed (a host name "
                       "would be resolved synchronously)",
                       &value[1], &cmd->name);
    return NGX_CONF_ERROR;
}


static void
ngx_http_health_redis_run(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_ctx_t  *ctx = probe->ctx;

    if (ctx->ac == NULL && ngx_http_health_redis_connect(ctx) != NGX_OK) {
        return;
    }

    ngx_memzero(&ctx->info, sizeof(ngx_http_health_redis_info_t));
    ctx->started = ngx_http_health_monotonic_usec();

    if (redisAsyncCommand(ctx->ac, ngx_http_health_redis_ping_reply, ctx,
                          "PING")
        != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send PING to %V",
                                   &probe->target);
    }
}


static u_char *
ngx_http_health_redis_abort(ngx_http_health_probe_t *probe, u_char *buf,
    u_char *last)
{
    u_char  *p;

    p = ngx_slprintf(buf, last, "waiting for %V", &probe->target);

    /* not inside a hiredis callback: the context goes now, and its
     * callbacks see a context that is no longer ours */
    ngx_http_health_redis_close(probe->ctx);

    return p;
}


static void
ngx_http_health_redis_stop(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_ctx_t  *ctx = probe->ctx;

    ngx_http_health_redis_close(ctx);
}


static ngx_int_t
ngx_http_health_redis_connect(ngx_http_health_redis_ctx_t *ctx)
{
    redisAsyncContext  *ac;

    ac = redisAsyncConnect(ctx->host, ctx->port);

    if (ac == NULL || ac->err) {
        if (ac) {
            ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                       "cannot connect to %V: %s",
                                       &ctx->probe->target, ac->errstr);
            redisAsyncFree(ac);

        } else {
            ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                       "cannot connect to %V: out of memory",
                                       &ctx->probe->target);
        }

        return NGX_ERROR;
    }

    ctx->ac = ac;
    ac->data = ctx;

    /*
     * hiredis 0.14 asserts, and so aborts the worker, on a reply that no
     * command waits for (outside pub/sub and MONITOR, whose flags would
     * change how it matches replies): our reply objects refuse to be made
     * for such a reply, which hiredis turns into a disconnect instead
     */
    ctx->unasked = 0;

    if (ngx_http_health_redis_lib_fns == NULL) {
        ngx_http_health_redis_lib_fns = ac->c.reader->fn;

        ngx_http_health_redis_fns = *ngx_http_health_redis_lib_fns;
        ngx_http_health_redis_fns.createString = ngx_http_health_redis_string;
        ngx_http_health_redis_fns.createArray = ngx_http_health_redis_array;
        ngx_http_health_redis_fns.createInteger =
                                                ngx_http_health_redis_integer;
        ngx_http_health_redis_fns.createNil = ngx_http_health_redis_nil;
#if (HIREDIS_MAJOR >= 1)
        ngx_http_health_redis_fns.createDouble = ngx_http_health_redis_double;
        ngx_http_health_redis_fns.createBool = ngx_http_health_redis_bool;
#endif
    }

    ac->c.reader->fn = &ngx_http_health_redis_fns;
    ac->c.reader->privdata = ctx;

    ac->ev.data = ctx;
    ac->ev.addRead = ngx_http_health_redis_add_read;
    ac->ev.delRead = ngx_http_health_redis_del_read;
    ac->ev.addWrite = ngx_http_health_redis_add_write;
    ac->ev.delWrite = ngx_http_health_redis_del_write;
    ac->ev.cleanup = ngx_http_health_redis_cleanup;

    /* the first callback set starts watching for the connection */
    (void) redisAsyncSetConnectCallback(ac, ngx_http_health_redis_connected);
    (void) redisAsyncSetDisconnectCallback(ac,
                                           ngx_http_health_redis_disconnected);

    if (ctx->ac == NULL) {
        return NGX_ERROR;
    }

    if ((ctx->password.len
         && redisAsyncCommand(ac, ngx_http_health_redis_setup_reply, "AUTH",
                              "AUTH %b", ctx->password.data,
                              ctx->password.len)
            != REDIS_OK)
        || (ctx->db >= 0
            && redisAsyncCommand(ac, ngx_http_health_redis_setup_reply,
                                 "SELECT", "SELECT %d", (int) ctx->db)
               != REDIS_OK)
        || redisAsyncCommand(ac, ngx_http_health_redis_setup_reply,
                             "CLIENT SETNAME",
                             "CLIENT SETNAME nginx-health")
           != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send commands to %V",
                                   &ctx->probe->target);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_health_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_health_redis_ctx_t  *ctx = ac->data;

    if (status == REDIS_OK || ac != ctx->ac) {
        return;
    }

    /* hiredis frees the context when this returns */
    ctx->ac = NULL;

    ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                               "cannot connect to %V: %s",
                               &ctx->probe->target, ac->errstr);
}


static void
ngx_http_health_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_health_redis_ctx_t  *ctx = ac->data;

    if (ac != ctx->ac) {
        return;
    }

    ctx->ac = NULL;

    /* a reply nobody asked for may come between rounds */
    if (ctx->probe->busy || ctx->unasked) {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY,
                                   ctx->unasked ? NGX_HTTP_HEALTH_REDIS_LOST
                                                : 0,
                                   "connection to %V lost: %s",
                                   &ctx->probe->target,
                                   ctx->unasked
                                   ? "it sent a reply no command waited for"
                                   : ac->errstr[0] ? ac->errstr : "closed");
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->probe->log, 0,
                  "health: connection of \"%V\" to %V closed, "
                  "reconnecting at the next probe",
                  &ctx->probe->name, &ctx->probe->target);
}


/* NGX_OK for a usable reply; anything else is dealt with here */
static ngx_int_t
ngx_http_health_redis_reply_ok(ngx_http_health_redis_ctx_t *ctx,
    redisAsyncContext *ac, redisReply *reply, const char *what)
{
    u_char  text[200], *p;

    if (ac != ctx->ac) {
        /* a context we let go of: its replies do not count */
        return NGX_DECLINED;
    }

    if (reply == NULL) {
        /* hiredis is disconnecting: the context goes when we return */
        ctx->ac = NULL;
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                   "connection to %V lost: %s",
                                   &ctx->probe->target,
                                   ctx->unasked
                                   ? "it sent a reply no command waited for"
                                   : ac->errstr[0] ? ac->errstr : "closed");
        return NGX_DECLINED;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* the server's words: 200 bytes of one line of valid UTF-8 */
        p = ngx_http_health_text_line(text, sizeof(text), (u_char *) reply->str,
                                      reply->len);

        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "%s failed on %V: %*s", what,
                                   &ctx->probe->target, p - text, text);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_health_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_health_redis_ctx_t  *ctx = ac->data;

    (void) ngx_http_health_redis_reply_ok(ctx, ac, r, privdata);
}


static void
ngx_http_health_redis_ping_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_health_redis_ctx_t  *ctx = privdata;

    if (ngx_http_health_redis_reply_ok(ctx, ac, r, "PING") != NGX_OK) {
        return;
    }

    ctx->ping_us = ngx_http_health_monotonic_usec() - ctx->started;
    ctx->pending = 2;

    if (redisAsyncCommand(ac, ngx_http_health_redis_info_reply, ctx,
                          "INFO memory") != REDIS_OK
        || redisAsyncCommand(ac, ngx_http_health_redis_info_reply, ctx,
                             "INFO stats") != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send INFO to %V",
                                   &ctx->probe->target);
    }
}


static void
ngx_http_health_redis_info_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                   *reply = r;
    ngx_http_health_redis_ctx_t  *ctx = privdata;

    if (ngx_http_health_redis_reply_ok(ctx, ac, reply, "INFO") != NGX_OK) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING) {
        ngx_http_health_redis_parse_info(&ctx->info, reply->str,
                                         reply->len);
    }

    if (--ctx->pending == 0) {
        ngx_http_health_redis_evaluate(ctx);
    }
}


static void
ngx_http_health_redis_publish_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                   *reply = r;
    ngx_http_health_redis_ctx_t  *ctx = ac->data;

    u_char  text[800], *p;

    /* a disconnect is the disconnect callback's business */
    if (reply == NULL || ac != ctx->ac || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    p = ngx_http_health_log_escape(text, text + sizeof(text),
                                   (u_char *) reply->str,
                                   ngx_min(reply->len, 200));

    ngx_log_error(NGX_LOG_WARN, ctx->probe->log, 0,
                  "health: %s to %V failed: %*s", (char *) privdata,
                  &ctx->probe->target, p - text, text);
}


static void
ngx_http_health_redis_parse_info(ngx_http_health_redis_info_t *info,
    char *text, size_t len)
{
    char        *p, *last, *eol, *colon;
    size_t       klen;
    uint64_t    *field;
    ngx_int_t    n;

    p = text;
    last = text + len;

    while (p < last) {
        eol = (char *) ngx_strlchr((u_char *) p, (u_char *) last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        colon = (char *) ngx_strlchr((u_char *) p, (u_char *) eol, ':');

        if (colon != NULL) {
            klen = colon - p;
            field = NULL;

#define key(k)  (klen == sizeof(k) - 1 && ngx_strncmp(p, k, klen) == 0)

            if (key("used_memory")) {
                field = &info->used_memory;
                info->have_memory = 1;

            } else if (key("maxmemory")) {
                field = &info->maxmemory;

            } else if (key("evicted_keys")) {
                field = &info->evicted_keys;
                info->have_stats = 1;

            } else if (key("keyspace_hits")) {
                field = &info->hits;

            } else if (key("keyspace_misses")) {
                field = &info->misses;
            }

#undef key

            if (field) {
                len = eol - colon - 1;

                if (len && colon[len] == '\r') {
                    len--;
                }

                n = ngx_atoi((u_char *) colon + 1, len);
                *field = n == NGX_ERROR ? 0 : (uint64_t) n;
            }
        }

        p = eol + 1;
    }
}


static void
ngx_http_health_redis_evaluate(ngx_http_health_redis_ctx_t *ctx)
{
    u_char                        data[NGX_HTTP_HEALTH_REDIS_DATA_SIZE];
    u_char                        reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                       *d, *dl, *p, *pl;
    double                        pct, hit;
    uint64_t                      lookups;
    health_status_t               status;
    ngx_http_health_probe_t      *probe;
    ngx_http_health_redis_info_t *info;

    probe = ctx->probe;
    info = &ctx->info;

    status = HEALTH_HEALTHY;
    p = reason;
    pl = reason + sizeof(reason);

    if (ctx->ping_us >= NGX_HTTP_HEALTH_REDIS_PING_CRIT) {
        status = HEALTH_UNHEALTHY;

    } else if (ctx->ping_us >= NGX_HTTP_HEALTH_REDIS_PING_WARN) {
        status = HEALTH_DEGRADED;
    }

    if (status != HEALTH_HEALTHY) {
        p = ngx_slprintf(p, pl, "PING took %.1f ms (warning 10 ms, "
                         "critical 50 ms)", ctx->ping_us / 1000.0);
    }

    pct = 0;

    if (info->maxmemory) {
        pct = 100.0 * info->used_memory / info->maxmemory;

        if (pct >= NGX_HTTP_HEALTH_REDIS_MEM_WARN) {
            status = health_status_worst(status,
                                     pct >= NGX_HTTP_HEALTH_REDIS_MEM_CRIT
                                     ? HEALTH_UNHEALTHY : HEALTH_DEGRADED);
            p = ngx_slprintf(p, pl, "%smemory at %.1f%% of maxmemory "
                             "(warning 80%%, critical 95%%)",
                             p == reason ? "" : "; ", pct);
        }
    }

    lookups = info->hits + info->misses;
    hit = lookups ? 100.0 * info->hits / lookups : 100.0;

    d = data;
    dl = data + sizeof(data);

    /* value, unit and thresholds: what the status was judged on */
    d = ngx_slprintf(d, dl, "{\"value\":%.3f,\"unit\":\"ms\","
                     "\"warning\":10,\"critical\":50,"
                     "\"used_memory\":%uL,\"maxmemory\":%uL,",
                     ctx->ping_us / 1000.0, info->used_memory,
                     info->maxmemory);

    if (info->maxmemory) {
        d = ngx_slprintf(d, dl, "\"used_memory_pct\":%.2f,", pct);
    }

    d = ngx_slprintf(d, dl, "\"evicted_keys\":%uL,\"keyspace_hits\":%uL,"
                     "\"keyspace_misses\":%uL,\"hit_rate_pct\":%.2f}",
                     info->evicted_keys, info->hits, info->misses, hit);

    ngx_http_health_probe_end(probe, NGX_OK, status, ctx->ping_us, data,
                              d - data, reason, p - reason);

    if (ctx->publish) {
        ngx_http_health_redis_publish(ctx);
    }
}


static ngx_int_t
ngx_http_health_redis_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj)
{
    json_t  *fields;

    if (res->data.len == 0) {
        return NGX_OK;
    }

    fields = json_loadb((char *) res->data.data, res->data.len, 0, NULL);
    if (fields == NULL) {
        return NGX_OK;
    }

    if (json_object_update(obj, fields) != 0) {
        json_decref(fields);
        return NGX_ERROR;
    }

    json_decref(fields);

    return NGX_OK;
}


/*
 * The status every interval (and the instance key), the metrics every 5
 * intervals, an alert for every check whose status changed since the last
 * round.  The report is built as the status location builds it.
 */
static void
ngx_http_health_redis_publish(ngx_http_health_redis_ctx_t *ctx)
{
    u_char                     *p;
    json_t                     *msg, *checks, *ts, *metrics;
    ngx_str_t                   key, *service;
    ngx_uint_t                  i;
    ngx_pool_t                 *pool;
    ngx_pool_cleanup_t         *cln;
    ngx_http_health_check_t    *ch;
    ngx_http_health_report_t   *rep;

    pool = ngx_create_pool(16384, ctx->probe->log);
    if (pool == NULL) {
        return;
    }

    rep = ngx_http_health_report_build(pool, ctx->hmcf);
    if (rep == NULL) {
        goto done;
    }

    /* the messages go with the pool too, whatever happens */
    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        goto done;
    }

    cln->handler = ngx_http_health_redis_json_cleanup;

    msg = json_object();
    if (msg == NULL) {
        goto done;
    }

    cln->data = msg;

    service = &ctx->hmcf->service;
    checks = json_object();
    ts = ngx_http_health_redis_now();

    if (json_object_set_new(msg, "service",
               json_stringn((char *) service->data, service->len)) != 0
        || json_object_set_new(msg, "status",
               json_string(health_status_name(rep->status))) != 0
        || json_object_set(msg, "timestamp", ts) != 0
        || json_object_set_new(msg, "checks", checks) != 0)
    {
        json_decref(ts);
        goto done;
    }

    ch = rep->checks.elts;

    for (i = 0; i < rep->checks.nelts; i++) {
        if (ch[i].peer) {
            /* an upstream peer's state: an alert when it changes, no more */
            continue;
        }

        p = ngx_pnalloc(pool, ch[i].name.len + 1);
        if (p == NULL) {
            json_decref(ts);
            goto done;
        }

        *ngx_cpymem(p, ch[i].name.data, ch[i].name.len) = '\0';
        json_object_set_new(checks, (char *) p,
                            json_string(health_status_name(ch[i].status)));
    }

    key.data = ngx_pnalloc(pool, ctx->prefix.len + service->len
                                 + sizeof(":service::metrics"));
    if (key.data == NULL) {
        json_decref(ts);
        goto done;
    }

    key.len = ngx_sprintf(key.data, "%V:service:%V:status", &ctx->prefix,
                          service) - key.data;
    (void) ngx_http_health_redis_send_json(ctx, "PUBLISH", &key, msg, 0);

    key.len = ngx_sprintf(key.data, "%V:instance:%V", &ctx->prefix,
                          service) - key.data;
    (void) ngx_http_health_redis_send_json(ctx, "SET", &key, msg, 1);

    if (ctx->rounds++ % NGX_HTTP_HEALTH_REDIS_METRICS == 0) {
        metrics = json_object();

        if (metrics != NULL) {
            json_object_set_new(metrics, "service",
                json_stringn((char *) service->data, service->len));
            json_object_set(metrics, "timestamp", ts);
            json_object_set(metrics, "zones", rep->zones_json);

            if (rep->upstreams_json) {
                json_object_set(metrics, "upstreams", rep->upstreams_json);
            }

            key.len = ngx_sprintf(key.data, "%V:service:%V:metrics",
                                  &ctx->prefix, service) - key.data;
            (void) ngx_http_health_redis_send_json(ctx, "PUBLISH", &key,
                                                   metrics, 0);
            json_decref(metrics);
        }
    }

    ngx_http_health_redis_alerts(ctx, rep, ts);

    json_decref(ts);

done:

    ngx_destroy_pool(pool);
}


static ngx_int_t
ngx_http_health_redis_send_json(ngx_http_health_redis_ctx_t *ctx,
    const char *cmd, ngx_str_t *key, json_t *msg, ngx_uint_t ex)
{
    int     rc;
    char   *text;

    if (ctx->ac == NULL) {
        return NGX_ERROR;
    }

    text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    /* hiredis formats the command into its own buffer */
    if (ex) {
        rc = redisAsyncCommand(ctx->ac, ngx_http_health_redis_publish_reply,
                               (void *) cmd, "%s %b %s EX %d", cmd,
                               key->data, key->len, text,
                               NGX_HTTP_HEALTH_REDIS_TTL);

    } else {
        rc = redisAsyncCommand(ctx->ac, ngx_http_health_redis_publish_reply,
                               (void *) cmd, "%s %b %s", cmd,
                               key->data, key->len, text);
    }

    free(text);

    return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
}


/*
 * An alert for every check whose status changed since the last round of
 * whichever worker published it: the statuses last seen are kept in shared
 * memory, so a lease that moves, or a reload, loses no change and repeats
 * none.  A check first seen counts as unknown before; unknown to healthy
 * is no alert unless the check was known before it became unknown.
 */
static void
ngx_http_health_redis_alerts(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_report_t *rep, json_t *ts)
{
    u_char                   *name, msgbuf[256], *m;
    json_t                   *prev, *last, *alert, *v;
    ngx_str_t                 key, *service;
    ngx_uint_t                i, known;
    const char               *from, *to;
    ngx_http_health_check_t  *ch;

    last = json_object();
    if (last == NULL) {
        return;
    }

    prev = ngx_http_health_redis_last_load(ctx, rep->pool);

    key.data = ngx_pnalloc(rep->pool,
                           ctx->prefix.len + sizeof(":system:alerts"));
    if (key.data == NULL) {
        goto done;
    }

    key.len = ngx_sprintf(key.data, "%V:system:alerts", &ctx->prefix)
              - key.data;

    service = &ctx->hmcf->service;
    ch = rep->checks.elts;

    for (i = 0; i < rep->checks.nelts; i++) {
        name = ngx_pnalloc(rep->pool, ch[i].name.len + 1);
        if (name == NULL) {
            goto done;
        }

        *ngx_cpymem(name, ch[i].name.data, ch[i].name.len) = '\0';

        to = health_status_name(ch[i].status);

        v = prev ? json_object_get(prev, (char *) name) : NULL;
        from = v ? json_string_value(v) : NULL;

        /*
         * "unknown+": unknown after a known status, whose recovery is news;
         * a plain "unknown" was never known
         */
        known = (from != NULL && ngx_strcmp(from, "unknown") != 0);

        if (from == NULL || ngx_strcmp(from, "unknown+") == 0) {
            from = health_status_name(HEALTH_UNKNOWN);
        }

        if (json_object_set_new(last, (char *) name,
                   json_string(ch[i].status == HEALTH_UNKNOWN && known
                               ? "unknown+" : to))
            != 0)
        {
            goto done;
        }

        if (ngx_strcmp(from, to) == 0
            || (ch[i].status == HEALTH_HEALTHY && !known))
        {
            continue;
        }

        m = ngx_snprintf(msgbuf, sizeof(msgbuf),
                         "check \"%s\" of %V went from %s to %s",
                         name, service, from, to);

        alert = json_pack("{s:s%,s:s%,s:s,s:s,s:s,s:s,s:s%,s:O}",
                "service", (char *) service->data, (size_t) service->len,
                "instance", (char *) service->data, (size_t) service->len,
                "check", (char *) name,
                "from", from,
                "to", to,
                "severity", ch[i].status == HEALTH_UNHEALTHY
                            ? "critical" : "warning",
                "message", (char *) msgbuf, (size_t) (m - msgbuf),
                "timestamp", ts);

        if (alert) {
            (void) ngx_http_health_redis_send_json(ctx, "PUBLISH", &key,
                                                   alert, 0);
            json_decref(alert);
        }
    }

    ngx_http_health_redis_last_store(ctx, last);

done:

    if (prev) {
        json_decref(prev);
    }

    json_decref(last);
}


/*
 * The statuses last published, one zone per publishing health_redis, of a
 * fixed size so that a reload keeps it: {"check": "status", ...} as text.
 */

#define NGX_HTTP_HEALTH_REDIS_ALERTS_ZONE  (256 * 1024)


typedef struct {
    u_char                      *text;
    size_t                       len;
    ngx_uint_t                   full;   /* logged once */
} ngx_http_health_redis_last_t;


static ngx_int_t
ngx_http_health_redis_alerts_zone(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *ctx)
{
    ngx_str_t  name;

    name.data = ngx_pnalloc(cf->pool, sizeof("health_alerts_")
                                      + ctx->probe->name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    name.len = ngx_sprintf(name.data, "health_alerts_%V", &ctx->probe->name)
               - name.data;

    ctx->alerts_zone = ngx_shared_memory_add(cf, &name,
                                         NGX_HTTP_HEALTH_REDIS_ALERTS_ZONE,
                                         &ngx_http_health_redis_alerts_tag);
    if (ctx->alerts_zone == NULL) {
        return NGX_ERROR;
    }

    if (ctx->alerts_zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate health_redis \"%V\"", &ctx->probe->name);
        return NGX_ERROR;
    }

    ctx->alerts_zone->init = ngx_http_health_redis_init_alerts_zone;
    ctx->alerts_zone->data = ctx;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_redis_init_alerts_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t               *shpool;
    ngx_http_health_redis_last_t  *last;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data != NULL) {
        /* the same zone across a reload: what was last seen stays */
        shm_zone->data = data;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    last = ngx_slab_calloc(shpool, sizeof(ngx_http_health_redis_last_t));
    if (last == NULL) {
        return NGX_ERROR;
    }

    shpool->data = last;
    shm_zone->data = last;

    return NGX_OK;
}


static json_t *
ngx_http_health_redis_last_load(ngx_http_health_redis_ctx_t *ctx,
    ngx_pool_t *pool)
{
    u_char                        *text;
    size_t                         len;
    ngx_slab_pool_t               *shpool;
    ngx_http_health_redis_last_t  *last;

    if (ctx->alerts_zone == NULL || ctx->alerts_zone->data == NULL) {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) ctx->alerts_zone->shm.addr;
    last = ctx->alerts_zone->data;
    text = NULL;

    ngx_shmtx_lock(&shpool->mutex);

    len = last->len;

    if (last->text != NULL) {
        text = ngx_pnalloc(pool, len);

        if (text != NULL) {
            ngx_memcpy(text, last->text, len);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (text == NULL) {
        return NULL;
    }

    return json_loadb((char *) text, len, 0, NULL);
}


static void
ngx_http_health_redis_last_store(ngx_http_health_redis_ctx_t *ctx,
    json_t *obj)
{
    char                          *text;
    size_t                         len;
    ngx_uint_t                     full;
    ngx_slab_pool_t               *shpool;
    ngx_http_health_redis_last_t  *last;

    if (ctx->alerts_zone == NULL || ctx->alerts_zone->data == NULL) {
        return;
    }

    text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL) {
        return;
    }

    len = ngx_strlen(text);
    shpool = (ngx_slab_pool_t *) ctx->alerts_zone->shm.addr;
    last = ctx->alerts_zone->data;
    full = 0;

    ngx_shmtx_lock(&shpool->mutex);

    if (last->text != NULL) {
        ngx_slab_free_locked(shpool, last->text);
        last->text = NULL;
        last->len = 0;
    }

    last->text = ngx_slab_alloc_locked(shpool, len);

    if (last->text != NULL) {
        ngx_memcpy(last->text, text, len);
        last->len = len;

    } else if (!last->full) {
        last->full = 1;
        full = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    free(text);

    if (full) {
        ngx_log_error(NGX_LOG_WARN, ctx->probe->log, 0,
                      "health: the %uz bytes of check statuses of \"%V\" "
                      "do not fit in its zone: the next round's changes "
                      "raise no alert", len, &ctx->probe->name);
    }
}


static void
ngx_http_health_redis_json_cleanup(void *data)
{
    json_decref(data);
}


static json_t *
ngx_http_health_redis_now(void)
{
    u_char      buf[NGX_HTTP_HEALTH_ISO8601_LEN], *p;
    ngx_time_t *tp;

    tp = ngx_timeofday();
    p = ngx_http_health_iso8601(buf, tp->sec, tp->msec);

    return json_stringn((char *) buf, p - buf);
}


/*
 * The round's end on an error.  NGX_HTTP_HEALTH_REDIS_FREE: the context is
 * ours to free; otherwise hiredis is freeing it (a NULL reply, a failed
 * connect) and ctx->ac has been cleared already.
 * NGX_HTTP_HEALTH_REDIS_LOST: the failure may come between rounds.
 */
static void
ngx_http_health_redis_fail(ngx_http_health_redis_ctx_t *ctx,
    health_status_t status, ngx_uint_t flags, const char *fmt, ...)
{
    u_char   reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(reason, reason + sizeof(reason), fmt, args);
    va_end(args);

    if (flags & NGX_HTTP_HEALTH_REDIS_FREE) {
        ngx_http_health_redis_close(ctx);
    }

    if (flags & NGX_HTTP_HEALTH_REDIS_LOST) {
        ngx_http_health_probe_lost(ctx->probe, status, reason, p - reason);

    } else {
        ngx_http_health_probe_end(ctx->probe, NGX_ERROR, status, 0, NULL, 0,
                                  reason, p - reason);
    }
}


static void
ngx_http_health_redis_close(ngx_http_health_redis_ctx_t *ctx)
{
    redisAsyncContext  *ac;

    ac = ctx->ac;

    if (ac == NULL) {
        return;
    }

    /* its NULL replies must see a context that is no longer ours */
    ctx->ac = NULL;

    /* deferred by hiredis when called from one of its callbacks */
    redisAsyncFree(ac);
}


/* the event adapter */

static ngx_connection_t *
ngx_http_health_redis_conn(ngx_http_health_redis_ctx_t *ctx)
{
    ngx_connection_t  *c;

    if (ctx->c) {
        return ctx->c;
    }

    if (ctx->ac == NULL || ctx->ac->c.fd < 0) {
        return NULL;
    }

    c = ngx_get_connection(ctx->ac->c.fd, ctx->probe->log);
    if (c == NULL) {
        return NULL;
    }

    c->data = ctx;
    c->read->handler = ngx_http_health_redis_event;
    c->write->handler = ngx_http_health_redis_event;
    c->read->log = ctx->probe->log;
    c->write->log = ctx->probe->log;

    ctx->c = c;

    return c;
}


static void
ngx_http_health_redis_add_read(void *privdata)
{
    ngx_connection_t  *c;

    c = ngx_http_health_redis_conn(privdata);

    if (c && !c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_health_redis_del_read(void *privdata)
{
    ngx_http_health_redis_ctx_t  *ctx = privdata;

    if (ctx->c && ctx->c->read->active) {
        (void) ngx_del_event(ctx->c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_health_redis_add_write(void *privdata)
{
    ngx_connection_t  *c;

    c = ngx_http_health_redis_conn(privdata);

    if (c && !c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_health_redis_del_write(void *privdata)
{
    ngx_http_health_redis_ctx_t  *ctx = privdata;

    if (ctx->c && ctx->c->write->active) {
        (void) ngx_del_event(ctx->c->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


/* hiredis closes the descriptor after this: give the connection back */
static void
ngx_http_health_redis_cleanup(void *privdata)
{
    ngx_http_health_redis_ctx_t  *ctx = privdata;

    if (ctx->c == NULL) {
        return;
    }

    ngx_http_health_probe_release_connection(ctx->c, NGX_LEVEL_EVENT);
    ctx->c = NULL;
}


static void
ngx_http_health_redis_event(ngx_event_t *ev)
{
    ngx_socket_t                  fd;
    ngx_connection_t             *c;
    redisAsyncContext            *ac;
    ngx_http_health_redis_ctx_t  *ctx;

    c = ev->data;
    ctx = c->data;
    ac = ctx->ac;

    if (ac == NULL) {
        return;
    }

    /* either may free the context: nothing of it is used afterwards */
    if (ev->write) {
        redisAsyncHandleWrite(ac);
        return;
    }

    fd = c->fd;

    ngx_http_health_probe_input_before(ctx->probe, fd);

    redisAsyncHandleRead(ac);

    if (ctx->ac != ac) {
        return;
    }

    /*
     * hiredis would buffer a 2 GB bulk string whole: cut it off here; the
     * replies to publishing, between rounds, count towards the last round
     */
    if (ngx_http_health_probe_input_after(ctx->probe, fd) != NGX_OK) {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY,
                                   NGX_HTTP_HEALTH_REDIS_FREE
                                   |NGX_HTTP_HEALTH_REDIS_LOST,
                                   "%V sent more than %uz bytes in one "
                                   "round, connection closed",
                                   &ctx->probe->target,
                                   (size_t) NGX_HTTP_HEALTH_PROBE_INPUT_MAX);
    }
}


/* the reply objects: hiredis' own, but none for a reply nobody asked for */

static ngx_uint_t
ngx_http_health_redis_asked(const redisReadTask *task)
{
    ngx_http_health_redis_ctx_t  *ctx = task->privdata;

    /* the callback of the reply being read is still queued while it is */
    if (task->parent != NULL || ctx == NULL || ctx->ac == NULL
        || ctx->ac->replies.head != NULL)
    {
        return 1;
    }

    ctx->unasked = 1;

    return 0;
}


static void *
ngx_http_health_redis_string(const redisReadTask *task, char *str,
    size_t len)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createString(task, str, len)
           : NULL;
}


static void *
ngx_http_health_redis_array(const redisReadTask *task,
    ngx_http_health_redis_elements_t elements)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createArray(task, elements)
           : NULL;
}


static void *
ngx_http_health_redis_integer(const redisReadTask *task, long long value)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createInteger(task, value)
           : NULL;
}


static void *
ngx_http_health_redis_nil(const redisReadTask *task)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createNil(task)
           : NULL;
}


#if (HIREDIS_MAJOR >= 1)

static void *
ngx_http_health_redis_double(const redisReadTask *task, double value,
    char *str, size_t len)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createDouble(task, value, str, len)
           : NULL;
}


static void *
ngx_http_health_redis_bool(const redisReadTask *task, int bval)
{
    return ngx_http_health_redis_asked(task)
           ? ngx_http_health_redis_lib_fns->createBool(task, bval)
           : NULL;
}

#endif
