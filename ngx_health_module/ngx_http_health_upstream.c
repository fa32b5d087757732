/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, the module: the health_check directive,
 * the configuration of the groups, and their start in the master and in
 * each worker.
 *
 * Every explicit upstream group is tracked.  Its peers are known once the
 * upstream module has initialised the group (round-robin peers, also under
 * least_conn, hash and keepalive), so each peer gets a fixed slot at
 * configuration time: a block laid out like a zone's in every worker's
 * segment (passive statistics, ngx_http_health_shm.c's), and a state
 * record in the upstream region (active check results, the check lease,
 * passive failures).
 *
 * The balancer wrapper is in ngx_http_health_upstream_balancer.c, the
 * active checks in ngx_http_health_upstream_check.c, the report in
 * ngx_http_health_upstream_report.c and the slots of "server ... resolve"
 * lines in ngx_http_health_upstream_resolve.c; what they share is in
 * ngx_http_health_upstream_int.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_upstream_int.h"

/* from 1.29.4 on, the proxy module's configuration is public */
#if (NGX_HTTP_SSL && nginx_version >= 1029004)
#include <ngx_http_proxy_module.h>
#endif


static void *ngx_http_health_upstream_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_health_upstream_create_srv_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_health_upstream_init_module(ngx_cycle_t *cycle);
static void ngx_http_health_upstream_inherit(ngx_http_health_upstream_t *hu,
    ngx_http_health_main_conf_t *hmcf);
static void ngx_http_health_upstream_limit(ngx_http_health_upstream_t *hu,
    ngx_http_health_main_conf_t *hmcf);
static ngx_int_t ngx_http_health_upstream_init_process(ngx_cycle_t *cycle);
static char *ngx_http_health_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_health_parse_ranges(ngx_str_t *value,
    ngx_http_health_upstream_srv_conf_t *hucf);
static ngx_int_t ngx_http_health_upstream_track(ngx_conf_t *cf,
    ngx_http_health_upstream_main_conf_t *humcf,
    ngx_http_upstream_srv_conf_t *uscf);
static ngx_int_t ngx_http_health_parse_flag(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_health_upstream_srv_conf_t *hucf,
    ngx_str_t *value);
#if (NGX_HTTP_SSL)
static char *ngx_http_health_upstream_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_health_upstream_tls(ngx_conf_t *cf);
static ngx_int_t ngx_http_health_upstream_tls_group(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_health_upstream_srv_conf_t *hucf);
#endif


typedef struct {
    ngx_str_t                      name;
    size_t                         offset;
} ngx_http_health_check_flag_t;


/* health_check's on|off parameters */
static ngx_http_health_check_flag_t  ngx_http_health_check_flags[] = {
    { ngx_string("tls="),
      offsetof(ngx_http_health_upstream_srv_conf_t, tls) },
    { ngx_string("tls_server_name="),
      offsetof(ngx_http_health_upstream_srv_conf_t, tls_server_name) },
    { ngx_string("tls_verify="),
      offsetof(ngx_http_health_upstream_srv_conf_t, tls_verify) },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_health_upstream_commands[] = {

    { ngx_string("health_check"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_health_check,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_health_upstream_module_ctx = {
    NULL,                                  /* preconfiguration */
#if (NGX_HTTP_SSL)
    ngx_http_health_upstream_tls,          /* postconfiguration */
#else
    NULL,                                  /* postconfiguration */
#endif

    ngx_http_health_upstream_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_health_upstream_create_srv_conf,
                                           /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
#if (NGX_HTTP_SSL)
    ngx_http_health_upstream_merge_loc_conf
                                           /* merge location configuration */
#else
    NULL                                   /* merge location configuration */
#endif
};


ngx_module_t  ngx_http_health_upstream_module = {
    NGX_MODULE_V1,
    &ngx_http_health_upstream_module_ctx,  /* module context */
    ngx_http_health_upstream_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_health_upstream_init_module,  /* init module */
    ngx_http_health_upstream_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_health_upstream_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_health_upstream_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_health_upstream_main_conf_t  *humcf;

    humcf = ngx_pcalloc(cf->pool,
                        sizeof(ngx_http_health_upstream_main_conf_t));
    if (humcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&humcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_health_upstream_t))
        != NGX_OK)
    {
        return NULL;
    }

    return humcf;
}


static void *
ngx_http_health_upstream_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_health_upstream_srv_conf_t  *hucf;

    hucf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_upstream_srv_conf_t));
    if (hucf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hucf->enabled = 0;
     *     hucf->uri = { 0, NULL };
     *     hucf->nranges = 0;
     *     hucf->upstream = NULL;
     */

    hucf->interval = NGX_CONF_UNSET_MSEC;
    hucf->timeout = NGX_CONF_UNSET_MSEC;
    hucf->fails = NGX_CONF_UNSET_UINT;
    hucf->passes = NGX_CONF_UNSET_UINT;
    hucf->required = NGX_CONF_UNSET;
    hucf->max_ejected = NGX_CONF_UNSET_UINT;
    hucf->match_bytes = NGX_CONF_UNSET_SIZE;
    hucf->observe = NGX_CONF_UNSET_UINT;
    hucf->observe_fails = NGX_CONF_UNSET_UINT;
    hucf->slow_start = NGX_CONF_UNSET_MSEC;
    hucf->tls = NGX_CONF_UNSET;
    hucf->tls_server_name = NGX_CONF_UNSET;
    hucf->tls_verify = NGX_CONF_UNSET;

    return hucf;
}


static char *
ngx_http_health_check(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_upstream_srv_conf_t *hucf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_msec_t   ms;
    ngx_uint_t   i;

    if (hucf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "uri=", 4) == 0) {
            if (hucf->uri.data) {
                goto duplicate;
            }

            v.data = value[i].data + 4;
            v.len = value[i].len - 4;

            if (v.len == 0 || v.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, the uri must start with \"/\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            for (n = 0; n < (ngx_int_t) v.len; n++) {
                if (v.data[n] <= ' ' || v.data[n] == 0x7f) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid value \"%V\" in \"%V\" "
                                       "directive, the uri must not hold "
                                       "spaces or control characters",
                                       &value[i], &cmd->name);
                    return NGX_CONF_ERROR;
                }
            }

            hucf->uri = v;
            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0
            || ngx_strncmp(value[i].data, "timeout=", 8) == 0)
        {
            v.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            v.len = value[i].data + value[i].len - v.data;

            ms = ngx_parse_time(&v, 0);

            /*
             * The floors protect the peers: one worker checks a peer at a
             * time, so an instance sends a peer at most ten checks a
             * second, and a timeout under 10ms fails healthy peers on a
             * busy machine.
             */
            if (ms == (ngx_msec_t) NGX_ERROR
                || ms < (value[i].data[0] == 'i' ? 100 : 10)
                || ms > 86400000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a time from %s "
                                   "to 1d", &value[i], &cmd->name,
                                   value[i].data[0] == 'i' ? "100ms"
                                                           : "10ms");
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'i') {
                if (hucf->interval != NGX_CONF_UNSET_MSEC) {
                    goto duplicate;
                }

                hucf->interval = ms;

            } else {
                if (hucf->timeout != NGX_CONF_UNSET_MSEC) {
                    goto duplicate;
                }

                hucf->timeout = ms;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "fails=", 6) == 0
            || ngx_strncmp(value[i].data, "passes=", 7) == 0)
        {
            v.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            v.len = value[i].data + value[i].len - v.data;

            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n < 1 || n > 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a number from 1 "
                                   "to 1000", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'f') {
                if (hucf->fails != NGX_CONF_UNSET_UINT) {
                    goto duplicate;
                }

                hucf->fails = n;

            } else {
                if (hucf->passes != NGX_CONF_UNSET_UINT) {
                    goto duplicate;
                }

                hucf->passes = n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "required=", 9) == 0) {
            if (hucf->required != NGX_CONF_UNSET) {
                goto duplicate;
            }

            if (ngx_strcmp(value[i].data + 9, "on") == 0) {
                hucf->required = 1;

            } else if (ngx_strcmp(value[i].data + 9, "off") == 0) {
                hucf->required = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be \"on\" or \"off\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_ejected=", 12) == 0) {
            if (hucf->max_ejected != NGX_CONF_UNSET_UINT) {
                goto duplicate;
            }

            v.data = value[i].data + 12;
            v.len = value[i].len - 12;

            if (v.len && v.data[v.len - 1] == '%') {
                v.len--;
            }

            n = ngx_atoi(v.data, v.len);

            if (n == NGX_ERROR || n < 1 || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a percentage from "
                                   "1%% to 100%%", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hucf->max_ejected = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "observe=", 8) == 0) {
            if (hucf->observe != NGX_CONF_UNSET_UINT) {
                goto duplicate;
            }

            v.data = value[i].data + 8;

            if (ngx_strcmp(v.data, "off") == 0) {
                hucf->observe = 0;

            } else if (ngx_strcmp(v.data, "5xx") == 0) {
                hucf->observe = NGX_HTTP_HEALTH_OBSERVE_5XX;

            } else if (ngx_strcmp(v.data, "timeout") == 0) {
                hucf->observe = NGX_HTTP_HEALTH_OBSERVE_TIMEOUT;

            } else if (ngx_strcmp(v.data, "5xx,timeout") == 0
                       || ngx_strcmp(v.data, "timeout,5xx") == 0)
            {
                hucf->observe = NGX_HTTP_HEALTH_OBSERVE_5XX
                                |NGX_HTTP_HEALTH_OBSERVE_TIMEOUT;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be \"5xx\", "
                                   "\"timeout\", \"5xx,timeout\" or \"off\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "observe_fails=", 14) == 0) {
            if (hucf->observe_fails != NGX_CONF_UNSET_UINT) {
                goto duplicate;
            }

            n = ngx_atoi(value[i].data + 14, value[i].len - 14);

            if (n == NGX_ERROR || n < 1 || n > 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a number from 1 "
                                   "to 1000", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hucf->observe_fails = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "slow_start=", 11) == 0) {
            if (hucf->slow_start != NGX_CONF_UNSET_MSEC) {
                goto duplicate;
            }

            v.data = value[i].data + 11;
            v.len = value[i].len - 11;

            ms = ngx_parse_time(&v, 0);

            /* 0 is off; the ramp is computed in milliseconds */
            if (ms == (ngx_msec_t) NGX_ERROR || ms > 86400000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a time from 0 "
                                   "(off) to 1d", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hucf->slow_start = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "status=", 7) == 0) {
            if (hucf->nranges) {
                goto duplicate;
            }

            if (ngx_http_health_parse_ranges(&value[i], hucf) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a comma-separated "
                                   "list of at most %d status codes or "
                                   "ranges (\"200-399\") from 100 to 599",
                                   &value[i], &cmd->name,
                                   NGX_HTTP_HEALTH_MAX_RANGES);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        switch (ngx_http_health_parse_flag(cf, cmd, hucf, &value[i])) {
        case NGX_OK:
            continue;
        case NGX_BUSY:
            goto duplicate;
        case NGX_ERROR:
            return NGX_CONF_ERROR;
        default: /* NGX_DECLINED */
            break;
        }

        if (ngx_strncmp(value[i].data, "tls_name=", 9) == 0) {
            if (hucf->tls_name.data) {
                goto duplicate;
            }

            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

            /* a host name: what SNI and the certificate check compare */
            for (n = 0; n < (ngx_int_t) v.len; n++) {
                if (v.data[n] <= ' ' || v.data[n] >= 0x7f) {
                    break;
                }
            }

            if (v.len == 0 || v.len > 253 || n != (ngx_int_t) v.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a host name",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hucf->tls_name = v;
            continue;
        }

        if (ngx_strncmp(value[i].data, "tls_trusted_certificate=", 24) == 0) {
            if (hucf->tls_trusted_certificate.data) {
                goto duplicate;
            }

            v.data = value[i].data + 24;
            v.len = value[i].len - 24;

            if (v.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a file",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            hucf->tls_trusted_certificate = v;
            continue;
        }

        switch (ngx_http_health_match_parse(cf, hucf, &value[i])) {
        case NGX_OK:
            continue;
        case NGX_BUSY:
            goto duplicate;
        case NGX_ERROR:
            return NGX_CONF_ERROR;
        default: /* NGX_DECLINED */
            break;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

#if !(NGX_HTTP_SSL)
    if (hucf->tls == 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tls=on\" in \"%V\" directive requires "
                           "the ngx_http_ssl_module", &cmd->name);
        return NGX_CONF_ERROR;
    }
#endif

    if (hucf->uri.data == NULL) {
        ngx_str_set(&hucf->uri, "/");
    }

    ngx_conf_init_msec_value(hucf->interval, 5000);
    ngx_conf_init_msec_value(hucf->timeout, 1000);
    ngx_conf_init_uint_value(hucf->fails, 3);
    ngx_conf_init_uint_value(hucf->passes, 2);
    ngx_conf_init_value(hucf->required, 0);
    ngx_conf_init_uint_value(hucf->max_ejected, 50);
    ngx_conf_init_size_value(hucf->match_bytes, 4096);
    hucf->match_size = ngx_http_health_match_size(hucf);
    ngx_conf_init_uint_value(hucf->observe, 0);
    ngx_conf_init_uint_value(hucf->observe_fails, 5);
    ngx_conf_init_msec_value(hucf->slow_start, 0);

    if (hucf->nranges == 0) {
        hucf->ranges[0].lo = 200;
        hucf->ranges[0].hi = 399;
        hucf->nranges = 1;
    }

    hucf->enabled = 1;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/*
 * The on|off parameters: NGX_OK, NGX_BUSY for one given twice, NGX_ERROR,
 * or NGX_DECLINED for another parameter.
 */
static ngx_int_t
ngx_http_health_parse_flag(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_health_upstream_srv_conf_t *hucf, ngx_str_t *value)
{
    size_t                         len;
    ngx_flag_t                    *flag;
    ngx_http_health_check_flag_t  *f;

    for (f = ngx_http_health_check_flags; f->name.len; f++) {
        if (value->len >= f->name.len
            && ngx_strncmp(value->data, f->name.data, f->name.len) == 0)
        {
            break;
        }
    }

    if (f->name.len == 0) {
        return NGX_DECLINED;
    }

    flag = (ngx_flag_t *) ((char *) hucf + f->offset);

    if (*flag != NGX_CONF_UNSET) {
        return NGX_BUSY;
    }

    len = value->len - f->name.len;

    if (len == 2 && ngx_strncmp(value->data + f->name.len, "on", 2) == 0) {
        *flag = 1;
        return NGX_OK;
    }

    if (len == 3 && ngx_strncmp(value->data + f->name.len, "off", 3) == 0) {
        *flag = 0;
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"on\" or \"off\"", value, &cmd->name);
    return NGX_ERROR;
}


/* "200-399,404": codes or ranges from 100 to 599 */
static ngx_int_t
ngx_http_health_parse_ranges(ngx_str_t *value,
    ngx_http_health_upstream_srv_conf_t *hucf)
{
    u_char     *p, *last, *comma, *dash;
    ngx_int_t   lo, hi;

    p = value->data + 7;
    last = value->data + value->len;

    if (p == last) {
        return NGX_ERROR;
    }

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        dash = ngx_strlchr(p, comma, '-');

        if (dash) {
            lo = ngx_atoi(p, dash - p);
            hi = ngx_atoi(dash + 1, comma - dash - 1);

        } else {
            lo = ngx_atoi(p, comma - p);
            hi = lo;
        }

        if (lo < 100 || hi > 599 || lo > hi
            || hucf->nranges == NGX_HTTP_HEALTH_MAX_RANGES)
        {
            return NGX_ERROR;
        }

        hucf->ranges[hucf->nranges].lo = lo;
        hucf->ranges[hucf->nranges].hi = hi;
        hucf->nranges++;

        if (comma == last) {
            return NGX_OK;
        }

        p = comma + 1;
    }
}


char *
ngx_http_health_upstream_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf)
{
    uint64_t                               h, gh;
    ngx_str_t                             *key;
    ngx_uint_t                             i, j, k;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_reporter_t             reporter;
    ngx_http_upstream_srv_conf_t         **uscfp;
    ngx_http_upstream_main_conf_t         *umcf;
    ngx_http_health_upstream_srv_conf_t   *hucf;
    ngx_http_health_upstream_main_conf_t  *humcf;

    humcf = ngx_http_conf_get_module_main_conf(cf,
                                             ngx_http_health_upstream_module);
    humcf->hmcf = hmcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (ngx_http_health_upstream_track(cf, humcf, uscfp[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    hmcf->npeers = 0;
    h = 0xcbf29ce484222325ULL;

    hu = humcf->upstreams.elts;

    if (ngx_array_init(&hmcf->peer_keys, cf->pool, 16, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < humcf->upstreams.nelts; i++) {
        hu[i].index = i;
        hu[i].first = hmcf->npeers;

        /*
         * The peers' blocks are kept by these names across reloads: the
         * group, the peer's name and how many peers of that name come
         * before it, so that a peer added or removed moves no other.
         */
        for (j = 0; j < hu[i].npeers; j++) {
            key = ngx_array_push(&hmcf->peer_keys);
            if (key == NULL) {
                return NGX_CONF_ERROR;
            }

            key->data = ngx_pnalloc(cf->pool, sizeof("p:/#") - 1
                                    + hu[i].name.len + NGX_INT_T_LEN
                                    + hu[i].peers[j].name.len);
            if (key->data == NULL) {
                return NGX_CONF_ERROR;
            }

            key->len = ngx_sprintf(key->data, "p:%V/%V#%ui", &hu[i].name,
                                   &hu[i].peers[j].name,
                                   ngx_http_health_peer_ordinal(&hu[i], j))
                       - key->data;
        }

        /* the array has stopped growing: pointers into it are stable */
        hucf = ngx_http_conf_upstream_srv_conf(hu[i].uscf,
                                             ngx_http_health_upstream_module);
        hucf->upstream = &hu[i];

        hmcf->npeers += hu[i].npeers;

        gh = 0xcbf29ce484222325ULL;

        for (j = 0; j < hu[i].name.len; j++) {
            gh = (gh ^ hu[i].name.data[j]) * 0x100000001b3ULL;
        }

        gh = (gh ^ '/') * 0x100000001b3ULL;

        for (j = 0; j < hu[i].npeers; j++) {
            for (k = 0; k < hu[i].peers[j].name.len; k++) {
                gh = (gh ^ hu[i].peers[j].name.data[k]) * 0x100000001b3ULL;
            }

            /* a peer marked down keeps no check state: a new segment */
            gh = (gh ^ (hu[i].peers[j].backup ? '+'
                        : hu[i].peers[j].down ? '-' : ','))
                 * 0x100000001b3ULL;
        }

#if (NGX_HTTP_HEALTH_RESOLVE)
        /* the slots' addresses are bound in the segment: keep it with them */
        hu[i].rfirst = humcf->nrslots;
        humcf->nrslots += hu[i].npeers - hu[i].nstatic;

        for (j = 0; j < hu[i].nresolve; j++) {
            for (k = 0; k < hu[i].resolve[j].server.len; k++) {
                gh = (gh ^ hu[i].resolve[j].server.data[k]) * 0x100000001b3ULL;
            }

            gh = (gh ^ '~') * 0x100000001b3ULL;
        }
#endif

        hu[i].hash = gh;
        h = (h ^ gh) * 0x100000001b3ULL;
    }

    hmcf->upstream_hash = h;
    hmcf->upstream_size = 0;

    if (humcf->upstreams.nelts == 0) {
        return NGX_CONF_OK;
    }

    hmcf->upstream_size = hmcf->npeers * sizeof(ngx_http_health_peer_sh_t)
                          + NGX_HTTP_HEALTH_CACHE_LINE
                          + humcf->upstreams.nelts
                            * sizeof(ngx_http_health_upstream_sh_t);

#if (NGX_HTTP_HEALTH_RESOLVE)
    if (humcf->nrslots) {
        /* the binding lock on a line of its own, then the slot records */
        hmcf->upstream_size += NGX_HTTP_HEALTH_CACHE_LINE
                               + humcf->nrslots
                                 * sizeof(ngx_http_health_rslot_sh_t);
    }
#endif

    reporter.collect = ngx_http_health_upstream_collect;
    reporter.prometheus = ngx_http_health_upstream_prometheus;
    reporter.data = humcf;

    if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Runs after the upstream module initialised the group: its peers are
 * there and peer.init is whatever the balancer directives left, which we
 * wrap.
 */
static ngx_int_t
ngx_http_health_upstream_track(ngx_conf_t *cf,
    ngx_http_health_upstream_main_conf_t *humcf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    u_char                               *p;
    ngx_uint_t                            n, k, backup, nslots;
    ngx_http_health_upstream_t           *hu;
    ngx_http_upstream_rr_peer_t          *peer;
    ngx_http_upstream_rr_peers_t         *peers, *list;
    ngx_http_health_upstream_srv_conf_t  *hucf;

    /* implicit groups (proxy_pass to an address) have no block */
    if (uscf->srv_conf == NULL || uscf->peer.init == NULL
        || uscf->peer.data == NULL)
    {
        return NGX_OK;
    }

    hucf = ngx_http_conf_upstream_srv_conf(uscf,
                                           ngx_http_health_upstream_module);

    peers = uscf->peer.data;

    /*
     * Every balancer of nginx keeps the round-robin peers, which name
     * the group by its host; a third-party one that does not is left
     * alone rather than misread.
     */
    if (peers->name != &uscf->host) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "health: the balancer of upstream \"%V\" keeps "
                           "no round-robin peers, its peers are not tracked",
                           &uscf->host);

        if (hucf->enabled) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"health_check\" cannot be used with the "
                               "balancer of upstream \"%V\"", &uscf->host);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    n = 0;

    for (list = peers; list; list = list->next) {
        for (peer = list->peer; peer; peer = peer->next) {
            n++;
        }
    }

    nslots = 0;

#if (NGX_HTTP_HEALTH_RESOLVE)
    nslots = ngx_http_health_resolve_count(peers)
             * NGX_HTTP_HEALTH_RESOLVE_SLOTS;
#endif

    if (n + nslots == 0) {
        return NGX_OK;
    }

    hu = ngx_array_push(&humcf->upstreams);
    if (hu == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(hu, sizeof(ngx_http_health_upstream_t));

    hu->uscf = uscf;
    hu->conf = hucf->enabled ? hucf : NULL;
    hu->observe = hucf->enabled ? hucf->observe : 0;
    hu->slow_start = hucf->enabled ? hucf->slow_start : 0;
    hu->hmcf = humcf->hmcf;
    hu->name = uscf->host;
    hu->npeers = n + nslots;

    hu->peers = ngx_pcalloc(cf->pool,
                            hu->npeers * sizeof(ngx_http_health_peer_t));
    if (hu->peers == NULL) {
        return NGX_ERROR;
    }

    k = 0;
    backup = 0;

    for (list = peers; list; list = list->next) {
        for (peer = list->peer; peer; peer = peer->next) {
            hu->peers[k].name = peer->name;
            hu->peers[k].backup = backup;
            hu->peers[k].down = peer->down ? 1 : 0;
            hu->nchecked += peer->down ? 0 : 1;
            k++;
        }

        backup = 1;
    }

#if (NGX_HTTP_HEALTH_RESOLVE)
    if (ngx_http_health_resolve_track(cf, hu, n) != NGX_OK) {
        return NGX_ERROR;
    }
#endif

    if (hu->conf) {

        /* the name goes out as the check's Host header */
        for (k = 0; k < uscf->host.len; k++) {
            if (uscf->host.data[k] <= ' ' || uscf->host.data[k] == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"health_check\" cannot be used in "
                                   "upstream \"%V\": its name holds a space "
                                   "or a control character and is sent as "
                                   "the Host header of the checks",
                                   &uscf->host);
                return NGX_ERROR;
            }
        }

        hu->request.len = sizeof("GET  HTTP/1.0" CRLF "Host: " CRLF
                                 "User-Agent: nginx-health/"
                                 NGX_HTTP_HEALTH_VERSION CRLF
                                 "Connection: close" CRLF CRLF) - 1
                          + hucf->uri.len + uscf->host.len;

        hu->request.data = ngx_pnalloc(cf->pool, hu->request.len);
        if (hu->request.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(hu->request.data,
                        "GET %V HTTP/1.0" CRLF "Host: %V" CRLF
                        "User-Agent: nginx-health/" NGX_HTTP_HEALTH_VERSION
                        CRLF "Connection: close" CRLF CRLF,
                        &hucf->uri, &uscf->host);

        hu->request.len = p - hu->request.data;
    }

    hu->original_init_peer = uscf->peer.init;
    uscf->peer.init = ngx_http_health_upstream_init_peer;

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

/*
 * The modules merge one after the other, in their order, and a dynamic
 * module comes after the built-in ones: the proxy module has merged every
 * location by now, so the location's proxy settings here are final.  Its
 * configuration starts with the public ngx_http_upstream_conf_t; the
 * module is looked up by name, so an nginx built without it loads this one
 * all the same.
 */
static char *
ngx_http_health_upstream_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_uint_t                            i, tls;
    ngx_module_t                         *m;
    ngx_http_conf_ctx_t                  *ctx;
    ngx_http_upstream_conf_t             *ucf, *first;
    ngx_http_health_upstream_srv_conf_t  *hucf;

    m = NULL;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, "ngx_http_proxy_module")
            == 0)
        {
            m = cf->cycle->modules[i];
            break;
        }
    }

    if (m == NULL || m->type != NGX_HTTP_MODULE) {
        return NGX_CONF_OK;
    }

    ctx = cf->ctx;
    ucf = ctx->loc_conf[m->ctx_index];

    /* proxy_pass with variables names no group */
    if (ucf == NULL || ucf->upstream == NULL
        || ucf->upstream->srv_conf == NULL)
    {
        return NGX_CONF_OK;
    }

    hucf = ngx_http_conf_upstream_srv_conf(ucf->upstream,
                                           ngx_http_health_upstream_module);

    if (hucf == NULL || !hucf->enabled) {
        return NGX_CONF_OK;
    }

#if (nginx_version < 1023000)
    /* the proxy module makes an SSL object for "https://" only */
    tls = (ucf->ssl != NULL);
#elif (nginx_version >= 1029004)
    tls = ((ngx_http_proxy_loc_conf_t *) ucf)->ssl ? 1 : 0;
#else
    /*
     * It makes one for every location, and its context once any location
     * proxies over TLS: "https://" is its private flag.  A group that may
     * be proxied over TLS, with no tls= of its own, is said at nginx -t,
     * once: its checks speak plain HTTP, and against peers that speak
     * only TLS they would fail (up to max_ejected of the group out).
     */
    tls = 0;

    if (hucf->tls == NGX_CONF_UNSET && ucf->ssl && ucf->ssl->ctx
        && !hucf->tls_unknown_warned)
    {
        hucf->tls_unknown_warned = 1;

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "health: nginx %s does not tell modules whether "
                           "upstream \"%V\" is proxied over https; its "
                           "checks speak plain HTTP unless its health_check "
                           "says tls=on (say tls=off to silence this)",
                           NGINX_VERSION, &ucf->upstream->host);
    }
#endif

    first = hucf->proxy;

    if (first == NULL) {
        hucf->proxy = ucf;
        hucf->proxy_tls = tls;
        return NGX_CONF_OK;
    }

    if (first == ucf || hucf->proxy_warned) {
        return NGX_CONF_OK;
    }

    if (tls == hucf->proxy_tls
        && ucf->ssl_server_name == first->ssl_server_name
        && ucf->ssl_verify == first->ssl_verify
        && ((ucf->ssl_name == NULL && first->ssl_name == NULL)
            || (ucf->ssl_name && first->ssl_name
                && ucf->ssl_name->value.len == first->ssl_name->value.len
                && ngx_strncmp(ucf->ssl_name->value.data,
                               first->ssl_name->value.data,
                               ucf->ssl_name->value.len) == 0)))
    {
        return NGX_CONF_OK;
    }

    hucf->proxy_warned = 1;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "health: locations proxy to upstream \"%V\" with "
                       "different TLS settings (https or not, "
                       "proxy_ssl_name, proxy_ssl_server_name, "
                       "proxy_ssl_verify); its checks follow the first "
                       "location, or the health_check tls parameters",
                       &ucf->upstream->host);

    return NGX_CONF_OK;
}


/* after every merge: what TLS the checks of each group speak */
static ngx_int_t
ngx_http_health_upstream_tls(ngx_conf_t *cf)
{
    ngx_uint_t                            i;
    ngx_http_upstream_srv_conf_t        **uscfp;
    ngx_http_upstream_main_conf_t        *umcf;
    ngx_http_health_upstream_srv_conf_t  *hucf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        hucf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                             ngx_http_health_upstream_module);

        if (hucf == NULL || !hucf->enabled) {
            continue;
        }

        if (ngx_http_health_upstream_tls_group(cf, uscfp[i], hucf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_upstream_tls_group(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf,
    ngx_http_health_upstream_srv_conf_t *hucf)
{
    u_char                    *p, *last;
    ngx_str_t                  name;
    ngx_ssl_t                 *ssl;
    ngx_pool_cleanup_t        *cln;
    ngx_http_upstream_conf_t  *ucf;

    ucf = hucf->proxy;

    if (hucf->tls == NGX_CONF_UNSET) {
        /* a tls_ parameter asks for TLS, else as the group is proxied */
        hucf->tls = hucf->proxy_tls || hucf->tls_name.data
                    || hucf->tls_trusted_certificate.data
                    || hucf->tls_verify != NGX_CONF_UNSET
                    || hucf->tls_server_name != NGX_CONF_UNSET;
    }

    if (!hucf->tls) {
        return NGX_OK;
    }

    hucf->ssl_verify = (hucf->tls_verify != NGX_CONF_UNSET) ? hucf->tls_verify
                       : ucf ? ucf->ssl_verify : 0;
    hucf->ssl_server_name = (hucf->tls_server_name != NGX_CONF_UNSET)
                            ? hucf->tls_server_name
                            : ucf ? ucf->ssl_server_name : 0;

    /* as nginx: proxy_ssl_name, else the host of proxy_pass, the group */
    if (hucf->tls_name.data) {
        name = hucf->tls_name;

    } else if (ucf && ucf->ssl_name && ucf->ssl_name->lengths == NULL) {
        name = ucf->ssl_name->value;

    } else {
        if (ucf && ucf->ssl_name) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "health: \"proxy_ssl_name\" of upstream \"%V\" "
                          "holds variables, its checks use the name "
                          "\"%V\" (set tls_name= to change it)",
                          &uscf->host, &uscf->host);
        }

        name = uscf->host;
    }

    /* a port, as in "$proxy_host", is not part of the name */
    p = name.data;
    last = name.data + name.len;

    if (p < last && *p == '[') {
        p = ngx_strlchr(p, last, ']');
        if (p == NULL) {
            p = name.data;
        }
    }

    p = ngx_strlchr(p, last, ':');
    if (p) {
        name.len = p - name.data;
    }

    hucf->ssl_name.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (hucf->ssl_name.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(hucf->ssl_name.data, name.data, name.len + 1);
    hucf->ssl_name.len = name.len;

    /* the proxy's SSL context carries its certificates and protocols */
    if (hucf->tls_trusted_certificate.data == NULL
        && ucf && ucf->ssl && ucf->ssl->ctx)
    {
        if (hucf->ssl_verify && !ucf->ssl_verify) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"health_check\" of upstream \"%V\" in %s:%ui "
                          "verifies certificates but the proxy does not, "
                          "so it has no trusted certificates: set "
                          "tls_trusted_certificate=", &uscf->host,
                          uscf->file_name, uscf->line);
            return NGX_ERROR;
        }

        hucf->ssl = ucf->ssl;
        return NGX_OK;
    }

    if (hucf->ssl_verify && hucf->tls_trusted_certificate.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"health_check\" of upstream \"%V\" in %s:%ui has "
                      "tls_verify=on but no trusted certificates: set "
                      "tls_trusted_certificate=", &uscf->host,
                      uscf->file_name, uscf->line);
        return NGX_ERROR;
    }

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NGX_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    /* the depth of proxy_ssl_verify_depth's default */
    if (hucf->tls_trusted_certificate.data
        && ngx_ssl_trusted_certificate(cf, ssl,
                                       &hucf->tls_trusted_certificate, 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    hucf->ssl = ssl;

    return NGX_OK;
}

#endif


/*
 * In the master, after the shared segment is in place and before the
 * workers start; ngx_cycle is still the previous cycle during a reload.
 */
static ngx_int_t
ngx_http_health_upstream_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                             u;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_main_conf_t           *hmcf;
    ngx_http_health_upstream_sh_t         *ush;
    ngx_http_health_upstream_main_conf_t  *humcf;

    humcf = ngx_http_cycle_get_module_main_conf(cycle,
                                             ngx_http_health_upstream_module);
    if (humcf == NULL || humcf->hmcf == NULL || humcf->hmcf->sh == NULL) {
        return NGX_OK;
    }

    hmcf = humcf->hmcf;
    hu = humcf->upstreams.elts;

    for (u = 0; u < humcf->upstreams.nelts; u++) {
        ush = ngx_http_health_upstream_sh(hmcf, u);

        if (ush->hash == 0) {
            /* a new segment: an unchanged group brings its check state */
            ngx_http_health_upstream_inherit(&hu[u], hmcf);
        }

        ush->hash = hu[u].hash;
        ush->first = hu[u].first;
        ush->npeers = hu[u].npeers;

        if (hu[u].conf) {
            ush->max_ejected = hu[u].conf->max_ejected;
        }

        ngx_http_health_upstream_limit(&hu[u], hmcf);

        /* a ramp under way goes on at the pace of this configuration */
        ngx_http_health_upstream_ramp_extend(&hu[u], 0);

        hu[u].generation = __atomic_add_fetch(&ush->generation, 1,
                                              __ATOMIC_ACQ_REL)
                           & 0xffffffff;
    }

    return NGX_OK;
}


/* the group's state in the previous cycle's segment, if it is unchanged */
static void
ngx_http_health_upstream_inherit(ngx_http_health_upstream_t *hu,
    ngx_http_health_main_conf_t *hmcf)
{
    size_t                          fixed;
    ngx_uint_t                      i, u, ngroups;
    ngx_list_part_t                *part;
    ngx_shm_zone_t                 *zone;
    ngx_http_health_peer_sh_t      *psh, *opsh;
    ngx_http_health_main_conf_t    *ohmcf;
    ngx_http_health_upstream_sh_t  *ush, *oush;

    if (ngx_cycle == NULL) {
        return;
    }

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    zone = part->elts;
    ohmcf = NULL;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == hmcf->shm_zone->tag && zone[i].data != NULL
            && ((ngx_http_health_main_conf_t *) zone[i].data)->sh != NULL
            && ((ngx_http_health_main_conf_t *) zone[i].data)->sh != hmcf->sh)
        {
            ohmcf = zone[i].data;
            break;
        }
    }

    fixed = ohmcf ? ohmcf->npeers * sizeof(ngx_http_health_peer_sh_t)
                    + NGX_HTTP_HEALTH_CACHE_LINE : 0;

    if (ohmcf == NULL || ohmcf->upstream_size <= fixed) {
        return;
    }

    ngroups = (ohmcf->upstream_size - fixed)
              / sizeof(ngx_http_health_upstream_sh_t);

    for (u = 0; u < ngroups; u++) {
        oush = ngx_http_health_upstream_sh(ohmcf, u);

        if (oush->hash != hu->hash || oush->npeers != hu->npeers
            || oush->first + oush->npeers > ohmcf->npeers)
        {
            continue;
        }

        ush = ngx_http_health_upstream_sh(hmcf, hu->index);
        psh = ngx_http_health_peer_sh(hmcf, hu->first);
        opsh = ngx_http_health_peer_sh(ohmcf, oush->first);

        ngx_memcpy(psh, opsh, hu->npeers * sizeof(ngx_http_health_peer_sh_t));

        ush->ndown = 0;

        for (i = 0; i < hu->npeers; i++) {
            ush->ndown += (psh[i].down == NGX_HTTP_HEALTH_PEER_OUT);
        }

        ush->generation = ngx_http_health_load(&oush->generation);
        ush->ramp_until = ngx_http_health_load(&oush->ramp_until);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "health: upstream \"%V\" unchanged, its check state "
                      "carries over", &hu->name);
        return;
    }
}


/*
 * A reload that lowers max_ejected: the peers out of rotation beyond the
 * new limit come back, kept in, the ones listed first staying out; they
 * leave again as slots free up.  The workers of the previous
 * configuration still check until they exit, but read the new limit from
 * the group's record (written just before), hence the atomics.
 */
static void
ngx_http_health_upstream_limit(ngx_http_health_upstream_t *hu,
    ngx_http_health_main_conf_t *hmcf)
{
    uint32_t                        down;
    ngx_uint_t                      i, n, max;
    ngx_http_health_peer_sh_t      *psh;
    ngx_http_health_upstream_sh_t  *ush;

#if (NGX_HTTP_HEALTH_RESOLVE)
    /* the resolved peers are not known before the workers sync them */
    if (hu->nresolve) {
        return;
    }
#endif

    if (hu->conf == NULL) {
        return;
    }

    ush = ngx_http_health_upstream_sh(hmcf, hu->index);
    psh = ngx_http_health_peer_sh(hmcf, hu->first);
    max = ngx_http_health_max_ejected(hu);
    n = 0;

    for (i = 0; i < hu->npeers; i++) {
        if (ngx_http_health_load(&psh[i].down) != NGX_HTTP_HEALTH_PEER_OUT
            || ++n <= max)
        {
            continue;
        }

        down = NGX_HTTP_HEALTH_PEER_OUT;

        if (!__atomic_compare_exchange_n(&psh[i].down, &down,
                                         NGX_HTTP_HEALTH_PEER_KEPT, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        {
            continue;
        }

        __atomic_fetch_sub(&ush->ndown, 1, __ATOMIC_RELEASE);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "health: peer %V of upstream \"%V\" fails its checks "
                      "but is back in rotation, kept in by max_ejected=%ui%% "
                      "(%ui of %ui peers may be out)",
                      &hu->peers[i].name, &hu->name,
                      ngx_http_health_max_ejected_pct(hu),
                      max, hu->nchecked);
    }
}


static ngx_int_t
ngx_http_health_upstream_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                             i, j;
    ngx_msec_t                             delay;
    ngx_http_health_peer_t                *peer;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_main_conf_t           *hmcf;
    ngx_http_health_upstream_main_conf_t  *humcf;

    humcf = ngx_http_cycle_get_module_main_conf(cycle,
                                             ngx_http_health_upstream_module);
    if (humcf == NULL || humcf->hmcf == NULL) {
        return NGX_OK;
    }

    hmcf = humcf->hmcf;

    if (hmcf->sh == NULL) {
        return NGX_OK;
    }

    hu = humcf->upstreams.elts;

    for (i = 0; i < humcf->upstreams.nelts; i++) {

        if (ngx_http_health_upstream_map(cycle, &hu[i]) != NGX_OK) {
            return NGX_ERROR;
        }

#if (NGX_HTTP_HEALTH_RESOLVE)
        if (ngx_http_health_resolve_init(cycle, humcf, &hu[i]) != NGX_OK) {
            return NGX_ERROR;
        }
#endif

        if (!hu[i].tracked || hu[i].conf == NULL) {
            continue;
        }

        /* the cache manager and loader serve no request and check nothing */
        if (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE)
        {
            continue;
        }

        for (j = 0; j < hu[i].npeers; j++) {
            peer = &hu[i].peers[j];

            /* a peer marked down is out of rotation anyway */
            if (peer->down) {
                continue;
            }

            peer->upstream = &hu[i];
            peer->index = j;
            peer->timer.handler = ngx_http_health_check_timer;
            peer->timer.data = peer;
            peer->timer.log = cycle->log;
            peer->timer.cancelable = 1;

            /* spread the workers' and peers' checks over the interval */
            delay = 1 + ngx_random() % hu[i].conf->interval;
            ngx_add_timer(&peer->timer, delay);
        }
    }

    return NGX_OK;
}


/*
 * How many peers of peer i's name come before it in its group: 0 but for
 * a server listed more than once (once with a weight and once as a
 * backup, say).  Its block's key and its Prometheus label carry it.
 */
ngx_uint_t
ngx_http_health_peer_ordinal(ngx_http_health_upstream_t *hu, ngx_uint_t i)
{
    ngx_str_t   *name;
    ngx_uint_t   k, n;

    name = &hu->peers[i].name;
    n = 0;

    for (k = 0; k < i; k++) {
        n += (hu->peers[k].name.len == name->len
              && ngx_strncmp(hu->peers[k].name.data, name->data, name->len)
                 == 0);
    }

    return n;
}
