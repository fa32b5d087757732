/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the overall status kept current for load balancers.
 *
 * The lb answer reads one word of shared memory instead of every zone of
 * every shard; see ngx_http_health_verdict.c for how old it may be.
 */

#ifndef _NGX_HTTP_HEALTH_VERDICT_H_INCLUDED_
#define _NGX_HTTP_HEALTH_VERDICT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"


/* a verdict older than this is not answered with: it is judged again */
#define NGX_HTTP_HEALTH_VERDICT_MAX_AGE  250     /* ms */


void ngx_http_health_verdict_init_process(ngx_cycle_t *cycle);

/*
 * The current verdict: NGX_OK with *status set when one of this
 * configuration at most NGX_HTTP_HEALTH_VERDICT_MAX_AGE old is there, else
 * NGX_DECLINED (the caller judges the full report and puts it).
 */
ngx_int_t ngx_http_health_verdict_get(ngx_http_health_main_conf_t *hmcf,
    health_status_t *status);

/* the verdict's clock (usec): "since" of ngx_http_health_verdict_put() */
uint64_t ngx_http_health_verdict_clock(ngx_http_health_main_conf_t *hmcf);

/* a verdict judged from reads that began at "since" */
void ngx_http_health_verdict_put(ngx_http_health_main_conf_t *hmcf,
    health_status_t status, uint64_t since);


#endif /* _NGX_HTTP_HEALTH_VERDICT_H_INCLUDED_ */
