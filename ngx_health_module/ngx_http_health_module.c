/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: module definition, directives and configuration.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_log.h"
#include "ngx_http_health_slo.h"
#include "ngx_http_health_rules.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_pg.h"
#include "ngx_http_health_pgbouncer.h"
#include "ngx_http_health_redis.h"
#include "ngx_http_health_redis_queue.h"
#include "ngx_http_health_upstream.h"
#include "ngx_http_health_verdict.h"


static ngx_int_t ngx_http_health_init(ngx_conf_t *cf);
static void *ngx_http_health_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_health_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_health_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_health_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_health_init_process(ngx_cycle_t *cycle);
static void ngx_http_health_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_health_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_health_window(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_health_buckets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_health_set_bounds(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf, uint64_t *bounds, ngx_uint_t n);


static uint64_t  ngx_http_health_default_bounds[] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};


static ngx_command_t  ngx_http_health_commands[] = {

    { ngx_string("health_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_health_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE123,
      ngx_http_health_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_service"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_health_main_conf_t, service),
      NULL },

    { ngx_string("health_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_health_window,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_health_buckets,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_rule"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_health_rule,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_health_pg,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_pgbouncer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_health_pgbouncer,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_health_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_redis_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_health_redis_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("health_slo"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_health_slo,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_health_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_health_init,                  /* postconfiguration */

    ngx_http_health_create_main_conf,      /* create main configuration */
    ngx_http_health_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_health_create_loc_conf,       /* create location configuration */
    ngx_http_health_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_health_module = {
    NGX_MODULE_V1,
    &ngx_http_health_module_ctx,           /* module context */
    ngx_http_health_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_health_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_health_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_health_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hmcf->service = { 0, NULL };
     *     hmcf->nbounds = 0;
     *     hmcf->sh = NULL;
     *     hmcf->ring = NULL;
     */

    hmcf->window = NGX_CONF_UNSET;

    if (ngx_array_init(&hmcf->zones, cf->pool, 4,
                       sizeof(ngx_http_health_zone_t))
        != NGX_OK
        || ngx_array_init(&hmcf->rules, cf->pool, 4,
                          sizeof(ngx_http_health_rule_t))
           != NGX_OK
        || ngx_array_init(&hmcf->reporters, cf->pool, 2,
                          sizeof(ngx_http_health_reporter_t))
           != NGX_OK
        || ngx_array_init(&hmcf->probes, cf->pool, 2,
                          sizeof(ngx_http_health_probe_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return hmcf;
}


static char *
ngx_http_health_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_health_main_conf_t  *hmcf = conf;

    char  *rv;

    if (hmcf->service.data == NULL) {
        hmcf->service = cf->cycle->hostname;
    }

    if (hmcf->window == NGX_CONF_UNSET) {
        hmcf->window = 60;
    }

    if (hmcf->nbounds == 0) {
        rv = ngx_http_health_set_bounds(cf, hmcf,
                                        ngx_http_health_default_bounds,
                                        sizeof(ngx_http_health_default_bounds)
                                        / sizeof(uint64_t));
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    /* per-second slots, or coarser ones for long windows */
    hmcf->slot_width = (hmcf->window + NGX_HTTP_HEALTH_MAX_SLOTS - 1)
                       / NGX_HTTP_HEALTH_MAX_SLOTS;
    hmcf->nslots = (hmcf->window + hmcf->slot_width - 1) / hmcf->slot_width;

    rv = ngx_http_health_rules_init(cf, hmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_health_redis_queue_init_conf(cf, hmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_health_probe_init_conf(cf, hmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_health_upstream_conf(cf, hmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_health_slo_init_conf(cf, hmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_health_shm_add(cf, hmcf);
}


static void *
ngx_http_health_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_health_loc_conf_t  *hlcf;

    hlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_loc_conf_t));
    if (hlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hlcf->format = NGX_HTTP_HEALTH_JSON;
     *     hlcf->checks = NULL;
     *     hlcf->degraded = 0;
     *     hlcf->status = 0;
     */

    hlcf->zone = NGX_CONF_UNSET_UINT;

    return hlcf;
}


static char *
ngx_http_health_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_health_loc_conf_t *prev = parent;
    ngx_http_health_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->zone, prev->zone,
                              NGX_HTTP_HEALTH_ZONE_OFF);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_health_init(ngx_conf_t *cf)
{
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    if (hmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    return ngx_http_health_log_init(cf);
}


static ngx_int_t
ngx_http_health_init_process(ngx_cycle_t *cycle)
{
    /* the SLOs' map first: the segment's init_process may fold */
    ngx_http_health_slo_init_process(cycle);
    ngx_http_health_shm_init_process(cycle);
    ngx_http_health_probe_init_process(cycle);
    ngx_http_health_verdict_init_process(cycle);

    return NGX_OK;
}


static void
ngx_http_health_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_health_probe_exit_process(cycle);
    ngx_http_health_shm_exit_process(cycle);
}


static char *
ngx_http_health_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_loc_conf_t *hlcf = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_http_health_zone_t       *zone;
    ngx_http_health_main_conf_t  *hmcf;

    if (hlcf->zone != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        hlcf->zone = NGX_HTTP_HEALTH_ZONE_OFF;
        return NGX_CONF_OK;
    }

    if (!ngx_http_health_valid_name(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "a zone name is " NGX_HTTP_HEALTH_NAME_RULE,
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    zone = hmcf->zones.elts;

    for (i = 0; i < hmcf->zones.nelts; i++) {
        if (zone[i].name.len == value[1].len
            && ngx_strncmp(zone[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            hlcf->zone = i;
            return NGX_CONF_OK;
        }
    }

    zone = ngx_array_push(&hmcf->zones);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name.len = value[1].len;
    zone->name.data = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (zone->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(zone->name.data, value[1].data, value[1].len) = '\0';

    if (ngx_array_init(&zone->rules, cf->pool, 2,
                       sizeof(ngx_http_health_rule_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    hlcf->zone = hmcf->zones.nelts - 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_health_window(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_main_conf_t *hmcf = conf;

    time_t      t;
    ngx_str_t  *value;

    if (hmcf->window != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t <= 0 || t > 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time from 1s to 1d",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hmcf->window = t;

    return NGX_CONF_OK;
}


static char *
ngx_http_health_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_main_conf_t *hmcf = conf;

    u_char      err[128];
    size_t      bad;
    uint64_t    bounds[HEALTH_HIST_MAX_BOUNDS];
    ngx_str_t  *value;
    ngx_uint_t  i, n;

    if (hmcf->nbounds) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    if (n > HEALTH_HIST_MAX_BOUNDS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many values in \"%V\" directive, "
                           "at most %d", &cmd->name, HEALTH_HIST_MAX_BOUNDS);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_health_parse_usec(&value[i + 1], &bounds[i]) != NGX_OK
            || bounds[i] == 0 || bounds[i] > 3600000000ULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be a time from 1us to 1h",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    if (health_hist_bounds_validate(bounds, n, &bad, (char *) err,
                                    sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, %s",
                           &value[bad + 1], &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    return ngx_http_health_set_bounds(cf, hmcf, bounds, n);
}


static char *
ngx_http_health_set_bounds(ngx_conf_t *cf, ngx_http_health_main_conf_t *hmcf,
    uint64_t *bounds, ngx_uint_t n)
{
    int          len;
    u_char       buf[32];
    ngx_uint_t   i;

    for (i = 0; i < n; i++) {
        hmcf->bounds[i] = bounds[i];

        len = health_hist_format_seconds(bounds[i], (char *) buf,
                                         sizeof(buf));
        if (len < 0) {
            return NGX_CONF_ERROR;
        }

        hmcf->bound_labels[i].data = ngx_pstrdup(cf->pool,
                                                 &(ngx_str_t) { len, buf });
        if (hmcf->bound_labels[i].data == NULL) {
            return NGX_CONF_ERROR;
        }

        hmcf->bound_labels[i].len = len;
    }

    hmcf->nbounds = n;
    hmcf->bounds[n] = UINT64_MAX;

    health_hist_bound_table(hmcf->bounds, n, hmcf->bound_of);

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_health_parse_usec(ngx_str_t *value, uint64_t *us)
{
    u_char      *p, *last;
    uint64_t     whole, frac, scale, unit;
    ngx_uint_t   digits;

    p = value->data;
    last = p + value->len;
    whole = 0;
    frac = 0;
    scale = 1;
    digits = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        if (whole > 1000000000) {
            return NGX_ERROR;
        }

        whole = whole * 10 + (*p++ - '0');
        digits++;
    }

    if (p < last && *p == '.') {
        p++;

        while (p < last && *p >= '0' && *p <= '9') {
            if (scale < 1000000) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }

            p++;
            digits++;
        }
    }

    if (digits == 0) {
        return NGX_ERROR;
    }

    /* the units of nginx's own times, up to days */
    switch (last - p) {

    case 0:
        unit = 1000000;
        break;

    case 1:
        if (*p == 's') {
            unit = 1000000;

        } else if (*p == 'm') {
            unit = 60000000;

        } else if (*p == 'h') {
            unit = 3600000000ULL;

        } else if (*p == 'd') {
            unit = 86400000000ULL;

        } else {
            return NGX_ERROR;
        }

        break;

    case 2:
        if (p[0] == 'm' && p[1] == 's') {
            unit = 1000;

        } else if (p[0] == 'u' && p[1] == 's') {
            unit = 1;

        } else {
            return NGX_ERROR;
        }

        break;

    default:
        return NGX_ERROR;
    }

    if (whole > (UINT64_MAX - unit) / unit) {
        return NGX_ERROR;
    }

    *us = whole * unit + frac * unit / scale;

    return NGX_OK;
}


ngx_uint_t
ngx_http_health_valid_name(ngx_str_t *name)
{
    u_char      ch;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 64) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        ch = name->data[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9')
              || ch == '_' || ch == '-' || ch == '.'))
        {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_health_parse_uint(ngx_str_t *value, uint64_t max, uint64_t *n)
{
    u_char      *p, *last;
    uint64_t     v;
    ngx_uint_t   d;

    if (value->len == 0) {
        return NGX_ERROR;
    }

    v = 0;
    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        d = *p - '0';

        if (v > max / 10 || (v == max / 10 && d > max % 10)) {
            return NGX_ERROR;
        }

        v = v * 10 + d;
    }

    *n = v;

    return NGX_OK;
}
