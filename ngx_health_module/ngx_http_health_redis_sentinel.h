/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: finding a Redis master through its Sentinels.
 */

#ifndef _NGX_HTTP_HEALTH_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_HEALTH_REDIS_SENTINEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_health_probe.h"
#include "ngx_http_health_redis.h"


#define NGX_HTTP_HEALTH_REDIS_SENTINEL_BUF  512


/* NGX_OK: host, port and answered hold the master; NGX_ERROR: reason */
typedef void (*ngx_http_health_redis_sentinel_pt)(void *data,
    ngx_int_t rc);


typedef struct {
    ngx_http_health_redis_server_t    *server;
    ngx_msec_t                         timeout;     /* for one Sentinel */
    ngx_log_t                         *log;
    ngx_http_health_redis_sentinel_pt  handler;
    void                              *data;

    ngx_uint_t                         current;     /* asked first */
    ngx_uint_t                         tried;
    ngx_uint_t                         unknown;     /* said nil */
    ngx_peer_connection_t              pc;
    size_t                             sent;
    size_t                             len;
    u_char                             buf[NGX_HTTP_HEALTH_REDIS_SENTINEL_BUF];

    /* the answer */
    char                               host[NGX_INET6_ADDRSTRLEN + 1];
    int                                port;
    ngx_addr_t                        *answered;

    u_char                            *said_end;   /* by each Sentinel */
    u_char                             said[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                            *reason_end;
    u_char                             reason[
                                           NGX_HTTP_HEALTH_PROBE_REASON_LEN];
} ngx_http_health_redis_sentinel_t;


/* build the request once, at configuration */
ngx_int_t ngx_http_health_redis_sentinel_init(ngx_conf_t *cf,
    ngx_http_health_redis_server_t *server);

/* ask the Sentinels in turn; the handler is called once, maybe at once */
void ngx_http_health_redis_sentinel_ask(ngx_http_health_redis_sentinel_t *s);

/* the Sentinel being asked, or NULL */
ngx_addr_t *ngx_http_health_redis_sentinel_busy(
    ngx_http_health_redis_sentinel_t *s);

/* drop the conversation under way, if any; the handler is not called */
void ngx_http_health_redis_sentinel_close(
    ngx_http_health_redis_sentinel_t *s);


#endif /* _NGX_HTTP_HEALTH_REDIS_SENTINEL_H_INCLUDED_ */
