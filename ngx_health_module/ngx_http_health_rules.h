/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: health rules, turning windowed zone figures into checks.
 */

#ifndef _NGX_HTTP_HEALTH_RULES_H_INCLUDED_
#define _NGX_HTTP_HEALTH_RULES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_threshold.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_hold.h"


#define NGX_HTTP_HEALTH_ALL_ZONES  ((ngx_uint_t) -1)


typedef enum {
    NGX_HTTP_HEALTH_ERROR_RATE = 0,
    NGX_HTTP_HEALTH_LATENCY_P50,
    NGX_HTTP_HEALTH_LATENCY_P95,
    NGX_HTTP_HEALTH_LATENCY_P99
} ngx_http_health_metric_e;


typedef struct {
    ngx_http_health_metric_e     metric;
    ngx_str_t                    zone_name;      /* empty: every zone */
    ngx_uint_t                   zone;
    health_threshold_t           threshold;      /* % or ms */
    ngx_uint_t                   min_requests;
    ngx_http_health_hold_t       hold;
    u_char                      *file;
    ngx_uint_t                   line;
} ngx_http_health_rule_t;


/* what a rule is judged on, derived from a zone's stats */
typedef struct {
    double                       error_rate;     /* % */
    double                       p50;            /* ms */
    double                       p95;
    double                       p99;
    double                       max;
} ngx_http_health_window_t;


char *ngx_http_health_rule(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_health_rules_init(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
const char *ngx_http_health_metric_name(ngx_http_health_metric_e metric);
double ngx_http_health_rule_value(ngx_http_health_rule_t *rule,
    ngx_http_health_window_t *w);
ngx_uint_t ngx_http_health_rule_judged(ngx_http_health_rule_t *rule,
    uint64_t requests);
health_status_t ngx_http_health_rule_eval(ngx_http_health_rule_t *rule,
    ngx_http_health_window_t *w, uint64_t requests);


#endif /* _NGX_HTTP_HEALTH_RULES_H_INCLUDED_ */
