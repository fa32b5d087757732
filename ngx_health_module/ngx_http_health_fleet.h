/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the fleet view through Redis (health_redis fleet=on).
 *
 * Every publishing instance registers itself in a sorted set scored by
 * the time it was last seen (prefix:instances); the owner of a probe with
 * fleet=on reads the registry and the instance keys it names, bounded, in
 * the event loop after publishing, and keeps the reading in a shared
 * memory zone of its own that the status location serves (?scope=fleet)
 * and the "fleet" check judges.
 */

#ifndef _NGX_HTTP_HEALTH_FLEET_H_INCLUDED_
#define _NGX_HTTP_HEALTH_FLEET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_health_probe.h"


typedef struct ngx_http_health_fleet_s  ngx_http_health_fleet_t;


/*
 * fleet=on|off, fleet_gone=TIME, fleet_warning=PCT, fleet_critical=PCT of
 * health_redis: NGX_DECLINED if arg is none of them.  *fleet is created
 * at the first of them.
 */
ngx_int_t ngx_http_health_fleet_param(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_health_fleet_t **fleet);

/*
 * The end of a health_redis directive: the configuration's hash (once),
 * and with fleet=on the zone and the "fleet" check.  *acp is where the
 * probe keeps its hiredis context.
 */
char *ngx_http_health_fleet_init(ngx_conf_t *cf,
    ngx_http_health_fleet_t **fleet, ngx_http_health_probe_t *probe,
    ngx_str_t *prefix, ngx_flag_t publish, redisAsyncContext **acp);

/* version, uptime_s, config_hash and interval_s of the instance JSON */
void ngx_http_health_fleet_fields(ngx_http_health_fleet_t *fleet,
    json_t *msg);

/* ZADD prefix:instances <now> SERVICE after the SET of the instance key */
void ngx_http_health_fleet_register(ngx_http_health_fleet_t *fleet,
    redisAsyncContext *ac, ngx_str_t *service);

/* the owner's reading, after publishing; fleet may be NULL */
void ngx_http_health_fleet_read(ngx_http_health_fleet_t *fleet);

/* a worker no longer probes: a reading under way is dropped */
void ngx_http_health_fleet_stop(ngx_http_health_fleet_t *fleet);

/* ?scope=fleet */
ngx_int_t ngx_http_health_fleet_handler(ngx_http_request_t *r,
    ngx_uint_t format);


#endif /* _NGX_HTTP_HEALTH_FLEET_H_INCLUDED_ */
