/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the backlog of a queue kept in Redis (health_redis_queue).
 */

#ifndef _NGX_HTTP_HEALTH_REDIS_QUEUE_H_INCLUDED_
#define _NGX_HTTP_HEALTH_REDIS_QUEUE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"


char *ngx_http_health_redis_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* after the http block, before the probes' segment: each queue finds its
 * health_redis */
char *ngx_http_health_redis_queue_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);


#endif /* _NGX_HTTP_HEALTH_REDIS_QUEUE_H_INCLUDED_ */
