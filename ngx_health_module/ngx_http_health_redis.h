/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the Redis probe and publisher (health_redis).
 */

#ifndef _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_
#define _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


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


#endif /* _NGX_HTTP_HEALTH_REDIS_H_INCLUDED_ */
