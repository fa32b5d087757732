/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the Redis probe and publisher (health_redis), and the
 * connection code the queue checks (health_redis_queue) share with it.
 */

#ifndef _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_
#define _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_probe.h"


/* ngx_http_health_redis_fail()'s flags */
#define NGX_HTTP_HEALTH_REDIS_FREE       0x01    /* the context is ours */
#define NGX_HTTP_HEALTH_REDIS_LOST       0x02    /* maybe between rounds */


typedef struct ngx_http_health_redis_ctx_s  ngx_http_health_redis_ctx_t;


/*
 * How to reach a Redis server, as the directive configured it: one
 * assignment copies it to another probe of the same server.  With
 * sentinel= the addresses are the Sentinels' and the master is asked for
 * every round; host and port are then unused.
 */
typedef struct {
    char                        *host;            /* an IP literal */
    int                          port;
    ngx_str_t                    password;
    ngx_int_t                    db;              /* -1: no SELECT */

    ngx_str_t                    master_name;     /* sentinel= */
    ngx_str_t                    sentinel_password;
    ngx_array_t                 *sentinels;       /* ngx_addr_t */
    ngx_str_t                    sentinel_request; /* AUTH, SENTINEL */

    ngx_flag_t                   tls;             /* to the master */
    ngx_str_t                    tls_ca;
    ngx_str_t                    tls_cert;
    ngx_str_t                    tls_key;
    ngx_str_t                    tls_server_name;
    void                        *ssl;             /* redisSSLContext */
} ngx_http_health_redis_server_t;


char *ngx_http_health_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* the health_redis named name, the first one if name is empty, or NULL */
ngx_http_health_redis_ctx_t *ngx_http_health_redis_find(
    ngx_http_health_main_conf_t *hmcf, ngx_str_t *name);

/*
 * A connection for probe with the connection settings of from (and its
 * target): the one function that copies them.
 */
ngx_http_health_redis_ctx_t *ngx_http_health_redis_inherit(ngx_conf_t *cf,
    ngx_http_health_redis_ctx_t *from, ngx_http_health_probe_t *probe);
ngx_http_health_probe_t *ngx_http_health_redis_probe(
    ngx_http_health_redis_ctx_t *ctx);

/*
 * A round on a connection of inherit(): start() finds the server (through
 * the Sentinels when there are) and calls round(ctx, data), or ends the
 * round with the probe's "unanswered" status.
 */
typedef void (*ngx_http_health_redis_round_pt)(
    ngx_http_health_redis_ctx_t *ctx, void *data);

void ngx_http_health_redis_start(ngx_http_health_redis_ctx_t *ctx,
    ngx_http_health_redis_round_pt round, void *data);

/*
 * The round's side of a connection: ready() connects (after AUTH, SELECT)
 * when there is no connection and returns NULL once a failure has ended
 * the round; reply_ok() is NGX_OK for a usable reply to a command sent on
 * it and has dealt with anything else (a stale context, a disconnect, an
 * error reply); fail() ends the round; close() drops the connection.
 */
redisAsyncContext *ngx_http_health_redis_ready(
    ngx_http_health_redis_ctx_t *ctx);
ngx_int_t ngx_http_health_redis_reply_ok(ngx_http_health_redis_ctx_t *ctx,
    redisAsyncContext *ac, redisReply *reply, const char *what);
void ngx_http_health_redis_fail(ngx_http_health_redis_ctx_t *ctx,
    health_status_t status, ngx_uint_t flags, const char *fmt, ...);
void ngx_http_health_redis_close(ngx_http_health_redis_ctx_t *ctx);

/* a probe's json(): the fields its rounds stored, as they were stored */
ngx_int_t ngx_http_health_redis_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj);


#endif /* _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_ */
