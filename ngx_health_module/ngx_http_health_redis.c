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
#if (NGX_HTTP_HEALTH_REDIS_SSL)
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#endif

#include "health_status.h"
#include "health_threshold.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_redis.h"
#include "ngx_http_health_redis_sentinel.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_fleet.h"


/* the element count of an array reply: int until hiredis 1.0 */
#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_http_health_redis_elements_t;
#else
typedef int     ngx_http_health_redis_elements_t;
#endif


#define NGX_HTTP_HEALTH_REDIS_DATA_SIZE  1024

/* "[IPv6]:PORT (master of NAME)" with the name cut at 64 bytes */
#define NGX_HTTP_HEALTH_REDIS_PEER_LEN                                       \
    (NGX_INET6_ADDRSTRLEN + sizeof("[]:65535 (master of )") + 64)
#define NGX_HTTP_HEALTH_REDIS_TTL        86400
#define NGX_HTTP_HEALTH_REDIS_METRICS    5          /* every 5 intervals */

/*
 * The operators' guides: PING round trip, memory against maxmemory, the
 * keyspace hit rate (below 80% a warning, below 60% critical) and any
 * eviction within the window a warning.  A hit rate is judged on at least
 * 100 lookups: below that one lookup moves it by more than a point, and a
 * quiet cache would flap on a handful of misses.
 */
#define NGX_HTTP_HEALTH_REDIS_PING_WARN  10000      /* us */
#define NGX_HTTP_HEALTH_REDIS_PING_CRIT  50000
#define NGX_HTTP_HEALTH_REDIS_MEM_WARN   80.0       /* % */
#define NGX_HTTP_HEALTH_REDIS_MEM_CRIT   95.0
#define NGX_HTTP_HEALTH_REDIS_HIT_WARN   80.0       /* % */
#define NGX_HTTP_HEALTH_REDIS_HIT_CRIT   60.0
#define NGX_HTTP_HEALTH_REDIS_LOOKUPS    100

/* the samples of the window: 32 cover it in steps of 1/30th */
#define NGX_HTTP_HEALTH_REDIS_SAMPLES    32
#define NGX_HTTP_HEALTH_REDIS_RUN_ID     40



typedef struct {
    uint64_t                     used_memory;
    uint64_t                     maxmemory;
    uint64_t                     evicted_keys;
    uint64_t                     hits;
    uint64_t                     misses;
    ngx_uint_t                   have_memory;
    ngx_uint_t                   have_stats;
    size_t                       run_id_len;
    u_char                       run_id[NGX_HTTP_HEALTH_REDIS_RUN_ID];
} ngx_http_health_redis_info_t;


/* the thresholds of a health_redis */
typedef struct {
    uint64_t                     ping_warning;   /* us */
    uint64_t                     ping_critical;
    double                       memory_warning; /* % of maxmemory */
    double                       memory_critical;
    double                       hit_warning;    /* %, below which */
    double                       hit_critical;
    uint64_t                     min_lookups;
    health_status_t              evictions;      /* healthy: off */
} ngx_http_health_redis_limits_t;


/*
 * keyspace_hits, keyspace_misses and evicted_keys count since the server
 * started: a window's figures are the difference from a sample taken up
 * to a window earlier.  The samples live in the probe's state in shared
 * memory, where the next owner of the lease finds them; a server that
 * restarted (another run_id, or a counter gone backwards: CONFIG
 * RESETSTAT) starts them over.
 */
typedef struct {
    uint64_t                     at;             /* monotonic ms */
    uint64_t                     hits;
    uint64_t                     misses;
    uint64_t                     evicted;
} ngx_http_health_redis_sample_t;


typedef struct {
    ngx_uint_t                   n;
    ngx_uint_t                   last;           /* the newest sample */
    size_t                       run_id_len;
    u_char                       run_id[NGX_HTTP_HEALTH_REDIS_RUN_ID];
    ngx_http_health_redis_sample_t  samples[NGX_HTTP_HEALTH_REDIS_SAMPLES];
} ngx_http_health_redis_state_t;


/* what the window saw */
typedef struct {
    uint64_t                     hits;
    uint64_t                     misses;
    uint64_t                     evicted;
    uint64_t                     span;           /* ms */
} ngx_http_health_redis_window_t;


struct ngx_http_health_redis_ctx_s {
    ngx_http_health_redis_server_t     server;
    ngx_http_health_redis_sentinel_t  *sentinel;

    /* once the server is found: the cache's round, or another probe's */
    ngx_http_health_redis_round_pt     round;
    void                              *round_data;
    ngx_uint_t                         inherited;  /* another probe's */

    char                        *host;       /* the server talked to */
    int                          port;
    ngx_str_t                    peer;       /* it, in messages */
    u_char                       peer_buf[NGX_HTTP_HEALTH_REDIS_PEER_LEN];
    char                         master_host[NGX_INET6_ADDRSTRLEN + 1];
    u_char                       master[NGX_INET6_ADDRSTRLEN + 8];
    size_t                       master_len; /* "IP:PORT" of the master */
    ngx_addr_t                  *answered;   /* the Sentinel that named it */

    ngx_flag_t                   publish;
    ngx_str_t                    prefix;
    ngx_http_health_main_conf_t *hmcf;
    ngx_http_health_redis_limits_t  limits;

    redisAsyncContext           *ac;
    ngx_connection_t            *c;
    uint64_t                     started;
    uint64_t                     ping_us;
    ngx_http_health_redis_info_t info;
    ngx_uint_t                   rounds;
    ngx_uint_t                   pending;    /* INFO replies to come */
    ngx_uint_t                   unasked;    /* a reply nobody asked for */
    ngx_shm_zone_t              *alerts_zone; /* the statuses last seen */
    ngx_http_health_fleet_t     *fleet;      /* registry, fleet=on */

    ngx_http_health_probe_t     *probe;
};


static ngx_int_t ngx_http_health_redis_addresses(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_str_t *list, ngx_http_health_redis_ctx_t *ctx);
static ngx_int_t ngx_http_health_redis_address(ngx_conf_t *cf,
    ngx_str_t *text, char **host, int *port);
static ngx_int_t ngx_http_health_redis_tls_param(ngx_str_t *arg,
    ngx_http_health_redis_server_t *server);
static ngx_int_t ngx_http_health_redis_tls(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_http_health_redis_server_t *server);
#if (NGX_HTTP_HEALTH_REDIS_SSL)
static void ngx_http_health_redis_ssl_cleanup(void *data);
#endif
static void ngx_http_health_redis_run(ngx_http_health_probe_t *probe);
static void ngx_http_health_redis_round(ngx_http_health_redis_ctx_t *ctx,
    void *data);
static ngx_int_t ngx_http_health_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *ctx, ngx_msec_t timeout);
static void ngx_http_health_redis_master_found(void *data, ngx_int_t rc);
static void ngx_http_health_redis_role_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static u_char *ngx_http_health_redis_abort(ngx_http_health_probe_t *probe,
    u_char *buf, u_char *last);
static void ngx_http_health_redis_stop(ngx_http_health_probe_t *probe);
static ngx_int_t ngx_http_health_redis_connect(
    ngx_http_health_redis_ctx_t *ctx);
static void ngx_http_health_redis_connected(const redisAsyncContext *ac,
    int status);
static const char *ngx_http_health_redis_lost_why(
    ngx_http_health_redis_ctx_t *ctx, const redisAsyncContext *ac,
    u_char *buf, size_t len);
static void ngx_http_health_redis_disconnected(const redisAsyncContext *ac,
    int status);
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
static void ngx_http_health_redis_window(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_redis_window_t *win);
static u_char *ngx_http_health_redis_number(u_char *buf, double v);
static ngx_int_t ngx_http_health_redis_limit(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *arg, ngx_http_health_redis_limits_t *limits);
static char *ngx_http_health_redis_limits_check(ngx_conf_t *cf,
    ngx_str_t *name, ngx_http_health_redis_limits_t *limits);
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
    u_char                       *p;
    uint64_t                      db;
    ngx_int_t                     rc;
    ngx_str_t                    *value, name, v;
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
    ctx->server.db = -1;
    ctx->publish = 1;

    ctx->limits.ping_warning = NGX_HTTP_HEALTH_REDIS_PING_WARN;
    ctx->limits.ping_critical = NGX_HTTP_HEALTH_REDIS_PING_CRIT;
    ctx->limits.memory_warning = NGX_HTTP_HEALTH_REDIS_MEM_WARN;
    ctx->limits.memory_critical = NGX_HTTP_HEALTH_REDIS_MEM_CRIT;
    ctx->limits.hit_warning = NGX_HTTP_HEALTH_REDIS_HIT_WARN;
    ctx->limits.hit_critical = NGX_HTTP_HEALTH_REDIS_HIT_CRIT;
    ctx->limits.min_lookups = NGX_HTTP_HEALTH_REDIS_LOOKUPS;
    ctx->limits.evictions = HEALTH_DEGRADED;

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
            ctx->server.password.data = value[i].data + 9;
            ctx->server.password.len = value[i].len - 9;
            continue;
        }

        if (value[i].len > 9
            && ngx_strncmp(value[i].data, "sentinel=", 9) == 0)
        {
            ctx->server.master_name.data = value[i].data + 9;
            ctx->server.master_name.len = value[i].len - 9;
            continue;
        }

        if (value[i].len > 18
            && ngx_strncmp(value[i].data, "sentinel_password=", 18) == 0)
        {
            ctx->server.sentinel_password.data = value[i].data + 18;
            ctx->server.sentinel_password.len = value[i].len - 18;
            continue;
        }

        rc = ngx_http_health_redis_tls_param(&value[i], &ctx->server);

        if (rc == NGX_ERROR) {
            goto invalid;
        }

        if (rc == NGX_OK) {
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

            ctx->server.db = (ngx_int_t) db;
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

        rc = ngx_http_health_redis_limit(cf, &cmd->name, &value[i],
                                         &ctx->limits);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        rc = ngx_http_health_fleet_param(cf, &value[i], &ctx->fleet);

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

    if (ngx_http_health_redis_limits_check(cf, &cmd->name, &ctx->limits)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_health_redis_addresses(cf, &cmd->name, &value[1], ctx)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_health_redis_tls(cf, &cmd->name, &ctx->server) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    probe = ngx_http_health_probe_add(cf, &name, &cmd->name);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the addresses, the master's name, the database: never a password */
    probe->target.data = ngx_pnalloc(cf->pool, value[1].len
                                     + sizeof(" sentinel=")
                                     + ctx->server.master_name.len
                                     + sizeof(" db=") + NGX_INT_T_LEN);
    if (probe->target.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(probe->target.data, value[1].data, value[1].len);

    if (ctx->server.sentinels) {
        p = ngx_sprintf(p, " sentinel=%V", &ctx->server.master_name);
    }

    if (ctx->server.db >= 0) {
        p = ngx_sprintf(p, " db=%i", ctx->server.db);
    }

    probe->target.len = p - probe->target.data;

    ngx_str_set(&probe->kind, "redis");
    probe->interval = interval;
    probe->timeout = timeout;
    probe->required = required;
    probe->hold = hold;
    probe->data_size = NGX_HTTP_HEALTH_REDIS_DATA_SIZE;
    probe->state_size = sizeof(ngx_http_health_redis_state_t);
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

    if (ctx->server.sentinels == NULL) {
        ctx->host = ctx->server.host;
        ctx->port = ctx->server.port;
        ctx->peer = probe->target;

    } else if (ngx_http_health_redis_sentinel_conf(cf, ctx, timeout)
               != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_health_fleet_init(cf, &ctx->fleet, probe, &ctx->prefix,
                                      ctx->publish, &ctx->ac);
}


/* the Sentinels' part of the configuration */
static ngx_int_t
ngx_http_health_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *ctx, ngx_msec_t timeout)
{
    ctx->sentinel = ngx_pcalloc(cf->pool,
                                sizeof(ngx_http_health_redis_sentinel_t));
    if (ctx->sentinel == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_health_redis_sentinel_init(cf, &ctx->server) != NGX_OK) {
        return NGX_ERROR;
    }

    /* each Sentinel gets a share of the round, the master the last one */
    ctx->sentinel->server = &ctx->server;
    ctx->sentinel->timeout = ngx_max(timeout
                                     / (ctx->server.sentinels->nelts + 1), 1);
    ctx->sentinel->handler = ngx_http_health_redis_master_found;
    ctx->sentinel->data = ctx;

    return NGX_OK;
}


/*
 * HOST:PORT or [IPv6]:PORT, an address: hiredis would resolve a name
 * synchronously.  With sentinel= a list of them, separated by commas: the
 * Sentinels.
 */
static ngx_int_t
ngx_http_health_redis_addresses(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *list, ngx_http_health_redis_ctx_t *ctx)
{
    u_char      *p, *last, *comma;
    ngx_str_t    one;
    ngx_addr_t  *addr;

    last = list->data + list->len;

    if (ctx->server.master_name.len == 0) {
        if (ngx_strlchr(list->data, last, ',') != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "a list of addresses is a list of Sentinels "
                               "and needs \"sentinel=\"", list, directive);
            return NGX_ERROR;
        }

        if (ctx->server.sentinel_password.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"sentinel_password=\" in \"%V\" directive "
                               "needs \"sentinel=\"", directive);
            return NGX_ERROR;
        }

        if (ngx_http_health_redis_address(cf, list, &ctx->server.host,
                                          &ctx->server.port)
            != NGX_OK)
        {
            goto bad_address;
        }

        return NGX_OK;
    }

    ctx->server.sentinels = ngx_array_create(cf->pool, 3, sizeof(ngx_addr_t));
    if (ctx->server.sentinels == NULL) {
        return NGX_ERROR;
    }

    for (p = list->data; p <= last; p = comma + 1) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        one.data = p;
        one.len = comma - p;

        addr = ngx_array_push(ctx->server.sentinels);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_health_redis_address(cf, &one, NULL, NULL) != NGX_OK
            || ngx_parse_addr_port(cf->pool, addr, one.data, one.len)
               != NGX_OK)
        {
            list = &one;
            goto bad_address;
        }

        addr->name = one;
    }

    return NGX_OK;

bad_address:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "an IP address and a port are needed (a host name "
                       "would be resolved synchronously)",
                       list, directive);
    return NGX_ERROR;
}


/* the health_redis named name, or the first one when name is empty */
ngx_http_health_redis_ctx_t *
ngx_http_health_redis_find(ngx_http_health_main_conf_t *hmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_health_probe_t  **pp;

    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        if (pp[i]->run != ngx_http_health_redis_run) {
            continue;
        }

        if (name->len == 0
            || (pp[i]->name.len == name->len
                && ngx_strncmp(pp[i]->name.data, name->data, name->len) == 0))
        {
            return pp[i]->ctx;
        }
    }

    return NULL;
}


/* one IP:PORT; host and port may be NULL: checked only */
static ngx_int_t
ngx_http_health_redis_address(ngx_conf_t *cf, ngx_str_t *text, char **host,
    int *port)
{
    u_char     *p, buf[sizeof(struct in6_addr)];
    u_char      ip[NGX_INET6_ADDRSTRLEN + 1];
    ngx_int_t   n;
    ngx_str_t   h, pt;

    for (p = text->data + text->len; p > text->data; p--) {
        if (p[-1] == ':') {
            break;
        }
    }

    if (p == text->data) {
        return NGX_ERROR;
    }

    p--;

    h.data = text->data;
    h.len = p - text->data;
    pt.data = p + 1;
    pt.len = text->data + text->len - pt.data;

    if (h.len > 2 && h.data[0] == '[' && h.data[h.len - 1] == ']') {
        h.data++;
        h.len -= 2;
    }

    n = ngx_atoi(pt.data, pt.len);

    if (h.len >= sizeof(ip) || n < 1 || n > 65535) {
        return NGX_ERROR;
    }

    *ngx_cpymem(ip, h.data, h.len) = '\0';

    if (inet_pton(AF_INET, (char *) ip, buf) != 1
        && inet_pton(AF_INET6, (char *) ip, buf) != 1)
    {
        return NGX_ERROR;
    }

    if (host) {
        *host = ngx_pnalloc(cf->pool, h.len + 1);
        if (*host == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(*host, ip, h.len + 1);
        *port = (int) n;
    }

    return NGX_OK;
}


/* tls=, tls_ca=, tls_cert=, tls_key=, tls_server_name= */
static ngx_int_t
ngx_http_health_redis_tls_param(ngx_str_t *arg,
    ngx_http_health_redis_server_t *server)
{
    size_t      n;
    ngx_str_t  *field;

    if (arg->len == 6 && ngx_strncmp(arg->data, "tls=on", 6) == 0) {
        server->tls = 1;
        return NGX_OK;
    }

    if (arg->len == 7 && ngx_strncmp(arg->data, "tls=off", 7) == 0) {
        server->tls = 0;
        return NGX_OK;
    }

    if (arg->len >= 4 && ngx_strncmp(arg->data, "tls=", 4) == 0) {
        return NGX_ERROR;
    }

#define param(p)  (n = sizeof(p) - 1,                                       \
                   arg->len > n && ngx_strncmp(arg->data, p, n) == 0)

    if (param("tls_ca=")) {
        field = &server->tls_ca;

    } else if (param("tls_cert=")) {
        field = &server->tls_cert;

    } else if (param("tls_key=")) {
        field = &server->tls_key;

    } else if (param("tls_server_name=")) {
        field = &server->tls_server_name;

    } else {
        return NGX_DECLINED;
    }

#undef param

    /* the end of an argument: nginx ends each with a NUL */
    field->data = arg->data + n;
    field->len = arg->len - n;

    return NGX_OK;
}


/*
 * A connection for another probe (a queue's) with the connection settings
 * of the health_redis "from": the one place that copies them.  It neither
 * publishes nor judges the server; its failures end the probe's rounds.
 */
ngx_http_health_redis_ctx_t *
ngx_http_health_redis_inherit(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *from, ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_redis_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->inherited = 1;
    ctx->server = from->server;
    ctx->host = from->host;
    ctx->port = from->port;
    ctx->peer = from->peer;

    ctx->publish = 0;
    ctx->prefix = from->prefix;
    ctx->hmcf = from->hmcf;
    ctx->limits = from->limits;
    ctx->probe = probe;

    /* Sentinels: a conversation of its own, within its own timeout */
    if (ctx->server.sentinels
        && ngx_http_health_redis_sentinel_conf(cf, ctx, probe->timeout)
           != NGX_OK)
    {
        return NULL;
    }

    probe->target = from->probe->target;

    return ctx;
}


ngx_http_health_probe_t *
ngx_http_health_redis_probe(ngx_http_health_redis_ctx_t *ctx)
{
    return ctx->probe;
}


/* the connection, made if there is none: NULL once the failure has ended
 * the round */
redisAsyncContext *
ngx_http_health_redis_ready(ngx_http_health_redis_ctx_t *ctx)
{
    if (ctx->ac == NULL && ngx_http_health_redis_connect(ctx) != NGX_OK) {
        return NULL;
    }

    return ctx->ac;
}


/*
 * The TLS context is made here, so that a missing or unreadable file, or
 * a key that does not match its certificate, fails nginx -t.
 */
static ngx_int_t
ngx_http_health_redis_tls(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_http_health_redis_server_t *server)
{
#if (NGX_HTTP_HEALTH_REDIS_SSL)
    ngx_pool_cleanup_t    *cln;
    redisSSLContext       *ssl;
    redisSSLContextError   err;
#endif

    if (!server->tls) {
        if (server->tls_ca.len || server->tls_cert.len || server->tls_key.len
            || server->tls_server_name.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"tls_*=\" parameters in \"%V\" directive "
                               "need \"tls=on\"", directive);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if ((server->tls_cert.len == 0) != (server->tls_key.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tls_cert=\" and \"tls_key=\" in \"%V\" "
                           "directive go together", directive);
        return NGX_ERROR;
    }

#if !(NGX_HTTP_HEALTH_REDIS_SSL)

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"tls=on\" in \"%V\" directive is not supported: "
                       "this module was built with hiredis %d.%d.%d "
                       "without its TLS library; TLS to Redis needs hiredis "
                       "1.0 or later with hiredis_ssl (Debian 13's "
                       "libhiredis-dev) when the module is built",
                       directive, HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    return NGX_ERROR;

#else

    if ((server->tls_ca.len
         && ngx_conf_full_name(cf->cycle, &server->tls_ca, 1) != NGX_OK)
        || (server->tls_cert.len
            && ngx_conf_full_name(cf->cycle, &server->tls_cert, 1) != NGX_OK)
        || (server->tls_key.len
            && ngx_conf_full_name(cf->cycle, &server->tls_key, 1) != NGX_OK))
    {
        return NGX_ERROR;
    }

    /* the cleanup first: it frees whatever was made */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_health_redis_ssl_cleanup;
    cln->data = NULL;

    (void) redisInitOpenSSL();

    err = REDIS_SSL_CTX_NONE;

#define file(f)  ((f).len ? (const char *) (f).data : NULL)

    ssl = redisCreateSSLContext(file(server->tls_ca), NULL,
                                file(server->tls_cert), file(server->tls_key),
                                file(server->tls_server_name), &err);

#undef file

    if (ssl == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot make the TLS context of \"%V\" "
                           "directive: %s (tls_ca=\"%V\" tls_cert=\"%V\" "
                           "tls_key=\"%V\")", directive,
                           redisSSLContextGetError(err), &server->tls_ca,
                           &server->tls_cert, &server->tls_key);
        return NGX_ERROR;
    }

    cln->data = ssl;
    server->ssl = ssl;

    return NGX_OK;

#endif
}


#if (NGX_HTTP_HEALTH_REDIS_SSL)

static void
ngx_http_health_redis_ssl_cleanup(void *data)
{
    if (data) {
        redisFreeSSLContext(data);
    }
}

#endif


static void
ngx_http_health_redis_run(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_start(probe->ctx, ngx_http_health_redis_round,
                                NULL);
}


void
ngx_http_health_redis_start(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_redis_round_pt round, void *data)
{
    ctx->round = round;
    ctx->round_data = data;

    if (ctx->sentinel) {
        /* the round goes on in ngx_http_health_redis_master_found() */
        ctx->sentinel->log = ctx->probe->log;
        ngx_http_health_redis_sentinel_ask(ctx->sentinel);
        return;
    }

    round(ctx, data);
}


static void
ngx_http_health_redis_round(ngx_http_health_redis_ctx_t *ctx, void *data)
{
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
                                   "cannot send PING to %V", &ctx->peer);
        return;
    }

    /*
     * behind PING, so its round trip is PING's alone; the answer comes
     * before those of the INFO commands PING's reply sends
     */
    if (ctx->sentinel
        && redisAsyncCommand(ctx->ac, ngx_http_health_redis_role_reply, ctx,
                             "ROLE")
           != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send ROLE to %V", &ctx->peer);
    }
}


/*
 * A Sentinel has named the master (or none answered): talk to it, after
 * letting go of the old one if it has moved.
 */
static void
ngx_http_health_redis_master_found(void *data, ngx_int_t rc)
{
    u_char                            *p, text[NGX_INET6_ADDRSTRLEN + 8];
    size_t                             len;
    ngx_http_health_redis_ctx_t       *ctx = data;
    ngx_http_health_redis_sentinel_t  *s;

    s = ctx->sentinel;

    if (rc != NGX_OK) {
        ngx_http_health_redis_fail(ctx, ctx->probe->unanswered, 0, "%*s",
                                   (size_t) (s->reason_end - s->reason),
                                   s->reason);
        return;
    }

    ctx->answered = s->answered;

    p = ngx_strlchr((u_char *) s->host, (u_char *) s->host
                                        + ngx_strlen(s->host), ':')
        ? ngx_sprintf(text, "[%s]:%d", s->host, s->port)
        : ngx_sprintf(text, "%s:%d", s->host, s->port);
    len = p - text;

    if (ctx->master_len == len && ngx_memcmp(ctx->master, text, len) == 0) {
        ctx->round(ctx, ctx->round_data);
        return;
    }

    if (ctx->master_len) {
        /* once for the move: by the health_redis, not by each queue */
        ngx_log_error((ctx->inherited ? NGX_LOG_INFO : NGX_LOG_NOTICE),
                      ctx->probe->log, 0,
                      "health: master of \"%V\" moved from %*s to %*s",
                      &ctx->server.master_name, ctx->master_len, ctx->master,
                      len, text);

    } else {
        ngx_log_error(NGX_LOG_INFO, ctx->probe->log, 0,
                      "health: Sentinel %V names %*s master of \"%V\"",
                      &s->answered->name, len, text,
                      &ctx->server.master_name);
    }

    /* not inside a hiredis callback: the old master's context goes now */
    ngx_http_health_redis_close(ctx);

    ngx_memcpy(ctx->master, text, len);
    ctx->master_len = len;

    (void) ngx_cpystrn((u_char *) ctx->master_host, (u_char *) s->host,
                       sizeof(ctx->master_host));
    ctx->host = ctx->master_host;
    ctx->port = s->port;

    ctx->peer.data = ctx->peer_buf;
    ctx->peer.len = ngx_snprintf(ctx->peer_buf, sizeof(ctx->peer_buf),
                                 "%*s (master of %*s)", len, text,
                                 ngx_min(ctx->server.master_name.len, 64),
                                 ctx->server.master_name.data)
                    - ctx->peer_buf;

    ctx->round(ctx, ctx->round_data);
}


static void
ngx_http_health_redis_role_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    u_char                       text[64], *p;
    redisReply                  *reply = r, *role;
    ngx_http_health_redis_ctx_t *ctx = privdata;

    if (ngx_http_health_redis_reply_ok(ctx, ac, reply, "ROLE") != NGX_OK) {
        return;
    }

    role = NULL;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1
        && (reply->element[0]->type == REDIS_REPLY_STRING
            || reply->element[0]->type == REDIS_REPLY_STATUS))
    {
        role = reply->element[0];

        if (role->len == 6 && ngx_strncmp(role->str, "master", 6) == 0) {
            return;
        }
    }

    /* a replica (a failover under way, or a Sentinel that lags behind) */
    p = role ? ngx_http_health_text_line(text, sizeof(text),
                                         (u_char *) role->str, role->len)
             : ngx_cpymem(text, "no role", 7);

    ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY,
                               NGX_HTTP_HEALTH_REDIS_FREE,
                               "%V, named by Sentinel %V, says its role is "
                               "\"%*s\", not master", &ctx->peer,
                               &ctx->answered->name, p - text, text);
}


static u_char *
ngx_http_health_redis_abort(ngx_http_health_probe_t *probe, u_char *buf,
    u_char *last)
{
    u_char                       *p;
    ngx_addr_t                   *addr;
    ngx_http_health_redis_ctx_t  *ctx = probe->ctx;

    addr = ctx->sentinel ? ngx_http_health_redis_sentinel_busy(ctx->sentinel)
                         : NULL;

    if (addr) {
        p = ngx_slprintf(buf, last, "waiting for Sentinel %V", &addr->name);
        ngx_http_health_redis_sentinel_close(ctx->sentinel);

    } else {
        p = ngx_slprintf(buf, last, "waiting for %V", &ctx->peer);
    }

    /* not inside a hiredis callback: the context goes now, and its
     * callbacks see a context that is no longer ours */
    ngx_http_health_redis_close(ctx);

    return p;
}


static void
ngx_http_health_redis_stop(ngx_http_health_probe_t *probe)
{
    ngx_http_health_redis_ctx_t  *ctx = probe->ctx;

    if (ctx->sentinel) {
        ngx_http_health_redis_sentinel_close(ctx->sentinel);

        /* the next owner finds the master anew: a move is logged once */
        ctx->master_len = 0;
    }

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
                                       &ctx->peer, ac->errstr);
            redisAsyncFree(ac);

        } else {
            ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                       "cannot connect to %V: out of memory",
                                       &ctx->peer);
        }

        return NGX_ERROR;
    }

#if (NGX_HTTP_HEALTH_REDIS_SSL)

    /* the handshake goes on in hiredis' reads and writes */
    if (ctx->server.ssl
        && redisInitiateSSLWithContext(&ac->c, ctx->server.ssl) != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                   "cannot start TLS with %V: %s",
                                   &ctx->peer, ac->c.errstr);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

#endif

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

    if ((ctx->server.password.len
         && redisAsyncCommand(ac, ngx_http_health_redis_setup_reply, "AUTH",
                              "AUTH %b", ctx->server.password.data,
                              ctx->server.password.len)
            != REDIS_OK)
        || (ctx->server.db >= 0
            && redisAsyncCommand(ac, ngx_http_health_redis_setup_reply,
                                 "SELECT", "SELECT %d", (int) ctx->server.db)
               != REDIS_OK)
        || redisAsyncCommand(ac, ngx_http_health_redis_setup_reply,
                             "CLIENT SETNAME",
                             "CLIENT SETNAME nginx-health")
           != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send commands to %V",
                                   &ctx->peer);
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
                               &ctx->peer, ac->errstr);
}


static void
ngx_http_health_redis_disconnected(const redisAsyncContext *ac, int status)
{
    u_char                        why[160];
    ngx_http_health_redis_ctx_t  *ctx = ac->data;

    if (ac != ctx->ac) {
        return;
    }

    ctx->ac = NULL;

    /*
     * A round that is still asking the Sentinels has sent nothing on this
     * context: it goes on and connects anew to the master it is told of.
     * Ending it here would end it a second time when the answer comes.
     */
    if (ctx->sentinel
        && ngx_http_health_redis_sentinel_busy(ctx->sentinel) != NULL)
    {
        ngx_log_error((ctx->unasked ? NGX_LOG_WARN : NGX_LOG_INFO),
                      ctx->probe->log, 0,
                      "health: connection of \"%V\" to %V %s while asking "
                      "the Sentinels, reconnecting in this round",
                      &ctx->probe->name, &ctx->peer,
                      ctx->unasked ? "lost: it sent a reply no command "
                                     "waited for" : "closed");
        return;
    }

    /* a reply nobody asked for may come between rounds */
    if (ctx->probe->busy || ctx->unasked) {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY,
                                   ctx->unasked ? NGX_HTTP_HEALTH_REDIS_LOST
                                                : 0,
                                   "connection to %V lost: %s",
                                   &ctx->peer,
                                   ngx_http_health_redis_lost_why(ctx, ac, why,
                                                              sizeof(why)));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->probe->log, 0,
                  "health: connection of \"%V\" to %V closed, "
                  "reconnecting at the next probe",
                  &ctx->probe->name, &ctx->peer);
}


/*
 * Why a connection was lost: hiredis' error text, but a TLS failure that
 * hiredis reports as an I/O error without errno ("Success": the handshake
 * went on inside its reads and a certificate was refused) takes OpenSSL's
 * reason from the error queue, written into the caller's buf.
 */
static const char *
ngx_http_health_redis_lost_why(ngx_http_health_redis_ctx_t *ctx,
    const redisAsyncContext *ac, u_char *buf, size_t len)
{
#if (NGX_HTTP_HEALTH_REDIS_SSL)
    unsigned long   e;
    const char     *r;

    if (ctx->server.ssl && ac->err == REDIS_ERR_IO && !ctx->unasked) {
        e = ERR_peek_last_error();

        if (e) {
            r = ERR_reason_error_string(e);
            ERR_clear_error();

            if (r) {
                (void) ngx_snprintf(buf, len - 1, "TLS failed: %s%Z", r);
                buf[len - 1] = '\0';
                return (const char *) buf;
            }
        }
    }
#else
    (void) buf;
    (void) len;
#endif

    if (ctx->unasked) {
        return "it sent a reply no command waited for";
    }

    /* an I/O error without errno says "Success" */
    if (ac->errstr[0] == '\0' || ngx_strcmp(ac->errstr, "Success") == 0) {
        return "closed";
    }

    return ac->errstr;
}


/* NGX_OK for a usable reply; anything else is dealt with here */
ngx_int_t
ngx_http_health_redis_reply_ok(ngx_http_health_redis_ctx_t *ctx,
    redisAsyncContext *ac, redisReply *reply, const char *what)
{
    u_char  text[200], why[160], *p;

    if (ac != ctx->ac) {
        /* a context we let go of: its replies do not count */
        return NGX_DECLINED;
    }

    if (reply == NULL) {
        /* hiredis is disconnecting: the context goes when we return */
        ctx->ac = NULL;
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 0,
                                   "connection to %V lost: %s",
                                   &ctx->peer,
                                   ngx_http_health_redis_lost_why(ctx, ac, why,
                                                              sizeof(why)));
        return NGX_DECLINED;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* the server's words: 200 bytes of one line of valid UTF-8 */
        p = ngx_http_health_text_line(text, sizeof(text), (u_char *) reply->str,
                                      reply->len);

        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "%s failed on %V: %*s", what,
                                   &ctx->peer, p - text, text);
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
    ctx->pending = 3;

    /* INFO server for run_id: the counters of a restarted server */
    if (redisAsyncCommand(ac, ngx_http_health_redis_info_reply, ctx,
                          "INFO memory") != REDIS_OK
        || redisAsyncCommand(ac, ngx_http_health_redis_info_reply, ctx,
                             "INFO stats") != REDIS_OK
        || redisAsyncCommand(ac, ngx_http_health_redis_info_reply, ctx,
                             "INFO server") != REDIS_OK)
    {
        ngx_http_health_redis_fail(ctx, HEALTH_UNHEALTHY, 1,
                                   "cannot send INFO to %V",
                                   &ctx->peer);
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
                  &ctx->peer, p - text, text);
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

            } else if (key("run_id")) {
                len = eol - colon - 1;

                if (len && colon[len] == '\r') {
                    len--;
                }

                /* 40 hex digits; whatever it is, only compared */
                info->run_id_len = ngx_min(len, NGX_HTTP_HEALTH_REDIS_RUN_ID);
                ngx_memcpy(info->run_id, colon + 1, info->run_id_len);
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
    u_char                          data[NGX_HTTP_HEALTH_REDIS_DATA_SIZE];
    u_char                          reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                         *d, *dl, *p, *pl, *w, *c;
    u_char                          wb[NGX_INT64_LEN + 4];
    u_char                          cb[NGX_INT64_LEN + 4];
    double                          pct, hit;
    uint64_t                        lookups;
    health_status_t                 status, s;
    ngx_http_health_probe_t        *probe;
    ngx_http_health_redis_info_t   *info;
    ngx_http_health_redis_limits_t *lim;
    ngx_http_health_redis_window_t  win;

    probe = ctx->probe;
    info = &ctx->info;
    lim = &ctx->limits;

    ngx_http_health_redis_window(ctx, &win);

    status = HEALTH_HEALTHY;
    p = reason;
    pl = reason + sizeof(reason);

    if (ctx->ping_us >= lim->ping_critical) {
        status = HEALTH_UNHEALTHY;

    } else if (ctx->ping_us >= lim->ping_warning) {
        status = HEALTH_DEGRADED;
    }

    if (status != HEALTH_HEALTHY) {
        w = ngx_http_health_redis_number(wb, lim->ping_warning / 1000.0);
        c = ngx_http_health_redis_number(cb, lim->ping_critical / 1000.0);
        p = ngx_slprintf(p, pl, "PING took %.1f ms (warning %*s ms, "
                         "critical %*s ms)", ctx->ping_us / 1000.0,
                         w - wb, wb, c - cb, cb);
    }

    pct = 0;

    if (info->maxmemory) {
        pct = 100.0 * info->used_memory / info->maxmemory;

        if (pct >= lim->memory_warning) {
            status = health_status_worst(status,
                                         pct >= lim->memory_critical
                                         ? HEALTH_UNHEALTHY
                                         : HEALTH_DEGRADED);
            w = ngx_http_health_redis_number(wb, lim->memory_warning);
            c = ngx_http_health_redis_number(cb, lim->memory_critical);
            p = ngx_slprintf(p, pl, "%smemory at %.1f%% of maxmemory "
                             "(warning %*s%%, critical %*s%%)",
                             p == reason ? "" : "; ", pct,
                             w - wb, wb, c - cb, cb);
        }
    }

    /* "below 80%": the products compare exactly where the rate is 80% */
    lookups = win.hits + win.misses;
    hit = lookups ? 100.0 * win.hits / lookups : 0;

    if (lookups && lookups >= lim->min_lookups) {
        s = HEALTH_HEALTHY;

        if (100.0 * win.hits < lim->hit_critical * lookups) {
            s = HEALTH_UNHEALTHY;

        } else if (100.0 * win.hits < lim->hit_warning * lookups) {
            s = HEALTH_DEGRADED;
        }

        if (s != HEALTH_HEALTHY) {
            status = health_status_worst(status, s);
            w = ngx_http_health_redis_number(wb, lim->hit_warning);
            c = ngx_http_health_redis_number(cb, lim->hit_critical);
            p = ngx_slprintf(p, pl, "%shit rate %.1f%% of %uL lookups in "
                             "%.0fs (warning below %*s%%, critical below "
                             "%*s%%)", p == reason ? "" : "; ", hit,
                             lookups, win.span / 1000.0, w - wb, wb,
                             c - cb, cb);
        }
    }

    if (win.evicted && lim->evictions != HEALTH_HEALTHY) {
        status = health_status_worst(status, lim->evictions);
        p = ngx_slprintf(p, pl, "%s%uL keys evicted in %.0fs",
                         p == reason ? "" : "; ", win.evicted,
                         win.span / 1000.0);
    }

    d = data;
    dl = data + sizeof(data);

    /* the master in use and who named it: IP literals, nothing to escape */
    d = ngx_slprintf(d, dl, "{");

    if (ctx->sentinel) {
        d = ngx_slprintf(d, dl, "\"master\":\"%*s\",\"sentinel\":\"%V\",",
                         ctx->master_len, ctx->master, &ctx->answered->name);
    }

    /* value, unit and thresholds: what the status was judged on first */
    d = ngx_slprintf(d, dl, "\"value\":%.3f,\"unit\":\"ms\","
                     "\"warning\":%.3f,\"critical\":%.3f,"
                     "\"used_memory\":%uL,\"maxmemory\":%uL,",
                     ctx->ping_us / 1000.0, lim->ping_warning / 1000.0,
                     lim->ping_critical / 1000.0, info->used_memory,
                     info->maxmemory);

    if (info->maxmemory) {
        d = ngx_slprintf(d, dl, "\"used_memory_pct\":%.2f,", pct);
    }

    d = ngx_slprintf(d, dl, "\"memory_warning\":%.4f,"
                     "\"memory_critical\":%.4f,"
                     "\"evicted_keys\":%uL,\"evicted_keys_window\":%uL,"
                     "\"evictions\":\"%s\","
                     "\"keyspace_hits\":%uL,\"keyspace_misses\":%uL,"
                     "\"window_s\":%.3f,\"lookups\":%uL,",
                     lim->memory_warning, lim->memory_critical,
                     info->evicted_keys, win.evicted,
                     lim->evictions == HEALTH_HEALTHY ? "off"
                     : lim->evictions == HEALTH_UNHEALTHY ? "critical"
                                                          : "warning",
                     info->hits, info->misses, win.span / 1000.0, lookups);

    /* no lookups, no rate: null, not 100 */
    if (lookups) {
        d = ngx_slprintf(d, dl, "\"hit_rate_pct\":%.2f,", hit);

    } else {
        d = ngx_slprintf(d, dl, "\"hit_rate_pct\":null,");
    }

    d = ngx_slprintf(d, dl, "\"hit_rate_warning\":%.4f,"
                     "\"hit_rate_critical\":%.4f,\"min_lookups\":%uL}",
                     lim->hit_warning, lim->hit_critical, lim->min_lookups);

    ngx_http_health_probe_end(probe, NGX_OK, status, ctx->ping_us, data,
                              d - data, reason, p - reason);

    if (ctx->publish) {
        ngx_http_health_redis_publish(ctx);
    }
}


/* a threshold as the operator wrote it: "80", "99.5", "0.25" */
static u_char *
ngx_http_health_redis_number(u_char *buf, double v)
{
    u_char  *p;

    p = ngx_sprintf(buf, "%.3f", v);

    while (p[-1] == '0') {
        p--;
    }

    if (p[-1] == '.') {
        p--;
    }

    return p;
}


/*
 * Take this round's sample and compare it with the oldest one within the
 * window, or, when the probe could not run within it, with the newest
 * before it: a stalled probe still sees what happened since it last ran.
 * A sample is kept only a 30th of the window after the last one kept, so
 * 32 of them reach a window back whatever the interval.
 */
static void
ngx_http_health_redis_window(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_redis_window_t *win)
{
    uint64_t                         now, window;
    ngx_uint_t                       i, k, restarted;
    ngx_slab_pool_t                 *shpool;
    ngx_http_health_redis_info_t    *info;
    ngx_http_health_redis_state_t   *st;
    ngx_http_health_redis_sample_t  *last, *base, *sm;

    ngx_memzero(win, sizeof(ngx_http_health_redis_window_t));

    info = &ctx->info;
    st = ctx->probe->state;
    shpool = (ngx_slab_pool_t *) ctx->probe->shm_zone->shm.addr;

    now = ngx_http_health_monotonic_usec() / 1000;
    window = (uint64_t) ctx->hmcf->window * 1000;

    if (!info->have_stats) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    last = st->n ? &st->samples[st->last] : NULL;

    restarted = last != NULL
                && (st->run_id_len != info->run_id_len
                    || ngx_memcmp(st->run_id, info->run_id,
                                  info->run_id_len) != 0
                    || info->hits < last->hits
                    || info->misses < last->misses
                    || info->evicted_keys < last->evicted
                    || now < last->at);

    if (restarted) {
        st->n = 0;
        last = NULL;
    }

    base = NULL;

    for (i = 0; i < st->n; i++) {
        k = (st->last + NGX_HTTP_HEALTH_REDIS_SAMPLES - (st->n - 1 - i))
            % NGX_HTTP_HEALTH_REDIS_SAMPLES;
        sm = &st->samples[k];

        if (now - sm->at <= window) {
            base = sm;
            break;
        }
    }

    if (base == NULL) {
        base = last;
    }

    if (base) {
        win->hits = info->hits - base->hits;
        win->misses = info->misses - base->misses;
        win->evicted = info->evicted_keys - base->evicted;
        win->span = now - base->at;
    }

    if (last == NULL
        || now - last->at >= window / (NGX_HTTP_HEALTH_REDIS_SAMPLES - 2))
    {
        st->last = (st->n ? st->last + 1 : 0) % NGX_HTTP_HEALTH_REDIS_SAMPLES;
        st->n = ngx_min(st->n + 1, NGX_HTTP_HEALTH_REDIS_SAMPLES);

        sm = &st->samples[st->last];
        sm->at = now;
        sm->hits = info->hits;
        sm->misses = info->misses;
        sm->evicted = info->evicted_keys;

        st->run_id_len = info->run_id_len;
        ngx_memcpy(st->run_id, info->run_id, info->run_id_len);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (restarted) {
        ngx_log_error(NGX_LOG_INFO, ctx->probe->log, 0,
                      "health: the counters of %V started over (a restart "
                      "or CONFIG RESETSTAT): so does the window of \"%V\"",
                      &ctx->probe->target, &ctx->probe->name);
    }
}


/*
 * The thresholds of health_redis: NGX_DECLINED if arg is none of them.
 * Percentages from 0 to 100, times up to 1h, a count of lookups.
 */
static ngx_int_t
ngx_http_health_redis_limit(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *arg,
    ngx_http_health_redis_limits_t *limits)
{
    u_char     *eq;
    double     *pct;
    uint64_t   *us, n;
    ngx_str_t   key, v;

    eq = ngx_strlchr(arg->data, arg->data + arg->len, '=');
    if (eq == NULL) {
        return NGX_DECLINED;
    }

    key.data = arg->data;
    key.len = eq - arg->data;
    v.data = eq + 1;
    v.len = arg->data + arg->len - v.data;

    pct = NULL;
    us = NULL;

#define is(k)                                                                 \
    (key.len == sizeof(k) - 1 && ngx_strncmp(key.data, k, key.len) == 0)

    if (is("hit_rate_warning")) {
        pct = &limits->hit_warning;

    } else if (is("hit_rate_critical")) {
        pct = &limits->hit_critical;

    } else if (is("memory_warning")) {
        pct = &limits->memory_warning;

    } else if (is("memory_critical")) {
        pct = &limits->memory_critical;

    } else if (is("latency_warning")) {
        us = &limits->ping_warning;

    } else if (is("latency_critical")) {
        us = &limits->ping_critical;

    } else if (is("min_lookups")) {
        if (ngx_http_health_parse_uint(&v, 1000000000, &n) != NGX_OK
            || n == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be a number from 1 to 1000000000",
                               arg, name);
            return NGX_ERROR;
        }

        limits->min_lookups = n;
        return NGX_OK;

    } else if (is("evictions")) {
        if (v.len == 7 && ngx_strncmp(v.data, "warning", 7) == 0) {
            limits->evictions = HEALTH_DEGRADED;

        } else if (v.len == 8 && ngx_strncmp(v.data, "critical", 8) == 0) {
            limits->evictions = HEALTH_UNHEALTHY;

        } else if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
            limits->evictions = HEALTH_HEALTHY;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "evictions is \"warning\", \"critical\" or "
                               "\"off\"", arg, name);
            return NGX_ERROR;
        }

        return NGX_OK;

    } else {
        return NGX_DECLINED;
    }

#undef is

    if (pct) {
        if (health_parse_percent((char *) v.data, v.len, pct, NULL, 0) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be a percentage from 0 to 100",
                               arg, name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ngx_http_health_parse_usec(&v, us) != NGX_OK
        || *us == 0 || *us > 3600000000ULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time from 1us to 1h", arg, name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_health_redis_limits_check(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_health_redis_limits_t *limits)
{
    if (limits->ping_warning > limits->ping_critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, "
                           "latency_warning is above latency_critical",
                           name);
        return NGX_CONF_ERROR;
    }

    if (limits->memory_warning > limits->memory_critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, "
                           "memory_warning is above memory_critical", name);
        return NGX_CONF_ERROR;
    }

    /* a hit rate is bad below its thresholds */
    if (limits->hit_warning < limits->hit_critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, "
                           "hit_rate_warning is below hit_rate_critical",
                           name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
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
    ngx_http_health_fleet_fields(ctx->fleet, msg);
    (void) ngx_http_health_redis_send_json(ctx, "SET", &key, msg, 1);

    if (ctx->ac) {
        ngx_http_health_fleet_register(ctx->fleet, ctx->ac, service);
    }

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

    ngx_http_health_fleet_read(ctx->fleet);

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
void
ngx_http_health_redis_fail(ngx_http_health_redis_ctx_t *ctx,
    health_status_t status, ngx_uint_t flags, const char *fmt, ...)
{
    u_char   reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(reason, reason + sizeof(reason), fmt, args);
    va_end(args);

    /* what a queue's length is when its Redis cannot tell */
    if (status == HEALTH_UNHEALTHY) {
        status = ctx->probe->unanswered;
    }

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


void
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
                                   &ctx->peer,
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
