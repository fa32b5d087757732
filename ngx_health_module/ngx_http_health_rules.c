/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: health rules.
 *
 *   health_rule METRIC [zone=NAME] warning=V critical=V [min_requests=N]
 *               [for=TIME] [recover=TIME];
 *
 * Rules are parsed as they come; zone names are resolved once the whole
 * http block is known, since health_zone usually comes later in servers.
 * A rule naming a zone overrides a rule of the same metric for all zones.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_rules.h"


static char *ngx_http_health_rule_threshold(ngx_conf_t *cf,
    ngx_http_health_rule_t *rule, ngx_str_t *value, double *out);
static ngx_int_t ngx_http_health_rule_attach(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf, ngx_http_health_rule_t *rule);


static ngx_str_t  ngx_http_health_metrics[] = {
    ngx_string("error_rate"),
    ngx_string("latency_p50"),
    ngx_string("latency_p95"),
    ngx_string("latency_p99"),
};


const char *
ngx_http_health_metric_name(ngx_http_health_metric_e metric)
{
    return (const char *) ngx_http_health_metrics[metric].data;
}


char *
ngx_http_health_rule(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_main_conf_t *hmcf = conf;

    char                    *rv;
    u_char                   err[128];
    uint64_t                 n;
    ngx_int_t                rc;
    ngx_str_t               *value, s;
    ngx_uint_t               i, have_warning, have_critical;
    ngx_http_health_rule_t  *rule;

    value = cf->args->elts;

    rule = ngx_array_push(&hmcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_health_rule_t));
    rule->zone = NGX_HTTP_HEALTH_ALL_ZONES;
    rule->file = cf->conf_file->file.name.data;
    rule->line = cf->conf_file->line;

    for (i = 0; i < 4; i++) {
        if (value[1].len == ngx_http_health_metrics[i].len
            && ngx_strncmp(value[1].data, ngx_http_health_metrics[i].data,
                           value[1].len) == 0)
        {
            break;
        }
    }

    if (i == 4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"error_rate\", \"latency_p50\", "
                           "\"latency_p95\" or \"latency_p99\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    rule->metric = i;
    rule->min_requests = (i == NGX_HTTP_HEALTH_ERROR_RATE) ? 20 : 1;
    have_warning = 0;
    have_critical = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0
            && value[i].len > 5 && rule->zone_name.len == 0)
        {
            rule->zone_name.data = value[i].data + 5;
            rule->zone_name.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "warning=", 8) == 0 && !have_warning) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rv = ngx_http_health_rule_threshold(cf, rule, &s,
                                                &rule->threshold.warning);
            if (rv != NGX_CONF_OK) {
                goto threshold;
            }

            have_warning = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "critical=", 9) == 0
            && !have_critical)
        {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            rv = ngx_http_health_rule_threshold(cf, rule, &s,
                                                &rule->threshold.critical);
            if (rv != NGX_CONF_OK) {
                goto threshold;
            }

            have_critical = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_requests=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            if (ngx_http_health_parse_uint(&s, 1000000000, &n) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a number from 0 "
                                   "to 1000000000", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            rule->min_requests = (ngx_uint_t) n;
            continue;
        }

        rc = ngx_http_health_hold_param(cf, &value[i], &rule->hold);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        goto invalid;
    }

    if (!have_warning || !have_critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs warning= and critical=",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    rule->threshold.direction = HEALTH_HIGHER_IS_WORSE;

    if (health_threshold_validate(&rule->threshold, (char *) err,
                                  sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, %s",
                           &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

threshold:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, %s",
                       &value[i], &cmd->name,
                       rule->metric == NGX_HTTP_HEALTH_ERROR_RATE
                       ? "it must be a percentage from 0 to 100"
                       : "it must be a time from 0ms to 1h");
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_health_rule_threshold(ngx_conf_t *cf, ngx_http_health_rule_t *rule,
    ngx_str_t *value, double *out)
{
    uint64_t  us;

    if (rule->metric == NGX_HTTP_HEALTH_ERROR_RATE) {
        return health_parse_percent((char *) value->data, value->len, out,
                                    NULL, 0)
               == 0 ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_health_parse_usec(value, &us) != NGX_OK
        || us > 3600000000ULL)
    {
        return NGX_CONF_ERROR;
    }

    *out = (double) us / 1000;

    return NGX_CONF_OK;
}


char *
ngx_http_health_rules_init(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf)
{
    ngx_uint_t               i, j;
    ngx_http_health_rule_t  *rule;
    ngx_http_health_zone_t  *zone;

    if (hmcf->rules.nelts == 0) {
        /* the defaults of the design, for every zone */

        rule = ngx_array_push_n(&hmcf->rules, 2);
        if (rule == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(rule, 2 * sizeof(ngx_http_health_rule_t));

        rule[0].metric = NGX_HTTP_HEALTH_ERROR_RATE;
        rule[0].zone = NGX_HTTP_HEALTH_ALL_ZONES;
        rule[0].threshold.warning = 1;
        rule[0].threshold.critical = 5;
        rule[0].min_requests = 20;

        rule[1].metric = NGX_HTTP_HEALTH_LATENCY_P95;
        rule[1].zone = NGX_HTTP_HEALTH_ALL_ZONES;
        rule[1].threshold.warning = 2000;
        rule[1].threshold.critical = 5000;
        rule[1].min_requests = 1;
    }

    rule = hmcf->rules.elts;
    zone = hmcf->zones.elts;

    for (i = 0; i < hmcf->rules.nelts; i++) {
        if (rule[i].zone_name.len == 0) {
            continue;
        }

        for (j = 0; j < hmcf->zones.nelts; j++) {
            if (rule[i].zone_name.len == zone[j].name.len
                && ngx_strncmp(rule[i].zone_name.data, zone[j].name.data,
                               zone[j].name.len) == 0)
            {
                rule[i].zone = j;
                break;
            }
        }

        if (j == hmcf->zones.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "invalid value \"zone=%V\" in \"health_rule\" "
                          "directive, no \"health_zone %V\" is defined "
                          "in %s:%ui", &rule[i].zone_name,
                          &rule[i].zone_name, rule[i].file, rule[i].line);
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < hmcf->rules.nelts; i++) {
        for (j = 0; j < i; j++) {
            if (rule[i].metric == rule[j].metric
                && rule[i].zone == rule[j].zone)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "duplicate \"health_rule %s%s%V\" in %s:%ui",
                              ngx_http_health_metric_name(rule[i].metric),
                              rule[i].zone_name.len ? " zone=" : "",
                              &rule[i].zone_name, rule[i].file,
                              rule[i].line);
                return NGX_CONF_ERROR;
            }
        }
    }

    for (i = 0; i < hmcf->rules.nelts; i++) {
        if (ngx_http_health_rule_attach(cf, hmcf, &rule[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* give each zone its rules: its own, and those for all zones not overridden */
static ngx_int_t
ngx_http_health_rule_attach(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf,
    ngx_http_health_rule_t *rule)
{
    ngx_uint_t                j, k, overridden;
    ngx_http_health_rule_t  **r, *other;
    ngx_http_health_zone_t   *zone;

    zone = hmcf->zones.elts;
    other = hmcf->rules.elts;

    for (j = 0; j < hmcf->zones.nelts; j++) {

        if (rule->zone != NGX_HTTP_HEALTH_ALL_ZONES && rule->zone != j) {
            continue;
        }

        overridden = 0;

        if (rule->zone == NGX_HTTP_HEALTH_ALL_ZONES) {
            for (k = 0; k < hmcf->rules.nelts; k++) {
                if (other[k].zone == j && other[k].metric == rule->metric) {
                    overridden = 1;
                }
            }
        }

        if (overridden) {
            continue;
        }

        r = ngx_array_push(&zone[j].rules);
        if (r == NULL) {
            return NGX_ERROR;
        }

        *r = rule;
    }

    return NGX_OK;
}


double
ngx_http_health_rule_value(ngx_http_health_rule_t *rule,
    ngx_http_health_window_t *w)
{
    switch (rule->metric) {

    case NGX_HTTP_HEALTH_ERROR_RATE:
        return w->error_rate;

    case NGX_HTTP_HEALTH_LATENCY_P50:
        return w->p50;

    case NGX_HTTP_HEALTH_LATENCY_P95:
        return w->p95;

    default: /* NGX_HTTP_HEALTH_LATENCY_P99 */
        return w->p99;
    }
}


/* a handful of requests is not enough to judge by, and none is nothing */
ngx_uint_t
ngx_http_health_rule_judged(ngx_http_health_rule_t *rule, uint64_t requests)
{
    return requests >= rule->min_requests && requests != 0;
}


health_status_t
ngx_http_health_rule_eval(ngx_http_health_rule_t *rule,
    ngx_http_health_window_t *w, uint64_t requests)
{
    /* healthy, never a failure: the check says it was not judged */
    if (!ngx_http_health_rule_judged(rule, requests)) {
        return HEALTH_HEALTHY;
    }

    return health_threshold_eval(&rule->threshold,
                                 ngx_http_health_rule_value(rule, w));
}
