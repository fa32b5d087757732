/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers.
 *
 * Every explicit upstream group is tracked.  Its peers are known once the
 * upstream module has initialised the group (round-robin peers, also under
 * least_conn, hash and keepalive), so each peer gets a fixed slot at
 * configuration time: a block laid out like a zone's in every worker's
 * shard (passive statistics, lock-free), and a state record after the
 * shards (active check results, the check lease, passive failures).
 *
 * The group's per-request peer init is wrapped the way the keepalive module
 * wraps it, after every balancer directive has had its say: our get calls
 * the original one and, when the chosen peer failed its active checks,
 * gives it back and asks again (the balancer marks what it chose as tried,
 * so the loop ends); our free counts the attempt before passing it on.
 * The chosen peer is found from its sockaddr pointer through a small hash
 * built per worker from the live peer list, so no name is compared.
 *
 * Active checks run in every worker's event loop; for each peer only the
 * worker holding the lease in shared memory (its pid and an expiry it
 * renews at each check) probes it.  A lease whose owner is gone, or that
 * was not renewed, is taken over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_health_log.h"
#include "ngx_http_health_upstream_int.h"


#define NGX_HTTP_HEALTH_FAIL_OPEN_LOG  10          /* seconds between lines */


/* per request, in front of the balancer's own data */
typedef struct {
    ngx_http_health_upstream_t  *upstream;
    ngx_http_request_t          *request;
    void                        *data;
    ngx_event_get_peer_pt        original_get_peer;
    ngx_event_free_peer_pt       original_free_peer;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt   original_set_session;
    ngx_event_save_peer_session_pt  original_save_session;
#endif
    ngx_event_notify_peer_pt     original_notify;
    ngx_http_upstream_rr_peer_data_t  *rrp;      /* NULL: not found */
    ngx_uint_t                   index;
    uint64_t                     start;          /* usec */
    unsigned                     skipped:1;      /* a peer, once */
    unsigned                     fail_open:1;    /* for this request */
} ngx_http_health_upstream_peer_data_t;


/* what choosing and giving back a skipped peer changes in nginx's own */
typedef struct {
    ngx_http_upstream_rr_peer_t *rr;
    ngx_uint_t                   fails;
    time_t                       checked;
} ngx_http_health_rr_snap_t;


#define NGX_HTTP_HEALTH_SNAPS  32


static void *ngx_http_health_upstream_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_health_upstream_create_srv_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_health_upstream_init_module(ngx_cycle_t *cycle);
static void ngx_http_health_upstream_inherit(ngx_http_health_upstream_t *hu,
    ngx_http_health_main_conf_t *hmcf);
static ngx_int_t ngx_http_health_upstream_init_process(ngx_cycle_t *cycle);
static char *ngx_http_health_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_health_parse_ranges(ngx_str_t *value,
    ngx_http_health_upstream_srv_conf_t *hucf);
static ngx_int_t ngx_http_health_upstream_track(ngx_conf_t *cf,
    ngx_http_health_upstream_main_conf_t *humcf,
    ngx_http_upstream_srv_conf_t *uscf);
static ngx_int_t ngx_http_health_upstream_map(ngx_cycle_t *cycle,
    ngx_http_health_upstream_t *hu);
static ngx_http_upstream_rr_peer_data_t *
    ngx_http_health_upstream_wrapped_rrp(ngx_http_upstream_t *u,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_health_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_health_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_health_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_health_upstream_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
static ngx_uint_t ngx_http_health_upstream_snap(
    ngx_http_health_upstream_t *hu, ngx_http_health_rr_snap_t *snap);
static void ngx_http_health_upstream_skip(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_http_health_rr_snap_t *snap,
    ngx_uint_t nsnap, ngx_uint_t i);
static void ngx_http_health_upstream_close(ngx_connection_t *c);
static ngx_uint_t ngx_http_health_upstream_fail_open(
    ngx_peer_connection_t *pc, ngx_http_health_upstream_peer_data_t *hp);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_health_upstream_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_health_upstream_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif


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
    NULL,                                  /* postconfiguration */

    ngx_http_health_upstream_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_health_upstream_create_srv_conf,
                                           /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
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

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (hucf->uri.data == NULL) {
        ngx_str_set(&hucf->uri, "/");
    }

    ngx_conf_init_msec_value(hucf->interval, 5000);
    ngx_conf_init_msec_value(hucf->timeout, 1000);
    ngx_conf_init_uint_value(hucf->fails, 3);
    ngx_conf_init_uint_value(hucf->passes, 2);
    ngx_conf_init_value(hucf->required, 0);

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

    for (i = 0; i < humcf->upstreams.nelts; i++) {
        hu[i].index = i;
        hu[i].first = hmcf->npeers;

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
            ush->ndown += psh[i].down;
        }

        ush->generation = ngx_http_health_load(&oush->generation);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "health: upstream \"%V\" unchanged, its check state "
                      "carries over", &hu->name);
        return;
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

    if (hmcf->sh == NULL || hmcf->shard == NULL) {
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
 * The live peer list (copied into the upstream's zone, if it has one, by
 * now) is walked in the order of configuration time; a group whose peers
 * differ is left untracked rather than counted in the wrong slots.
 */
static ngx_int_t
ngx_http_health_upstream_map(ngx_cycle_t *cycle,
    ngx_http_health_upstream_t *hu)
{
    ngx_uint_t                     k, size, h, nstatic;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *list;

#if (NGX_HTTP_HEALTH_RESOLVE)
    nstatic = hu->nstatic;
#else
    nstatic = hu->npeers;
#endif

    size = 4;
    while (size < 2 * hu->npeers) {
        size *= 2;
    }

    hu->map = ngx_pcalloc(cycle->pool,
                          size * sizeof(ngx_http_health_peer_map_t));
    if (hu->map == NULL) {
        return NGX_ERROR;
    }

    hu->map_mask = size - 1;

    k = 0;

    for (list = hu->uscf->peer.data; list; list = list->next) {
        for (peer = list->peer; peer; peer = peer->next) {

#if (NGX_HTTP_HEALTH_RESOLVE)
            /* a resolved peer (kept over a reload): its slot is found later */
            if (peer->host) {
                continue;
            }
#endif

            if (k == nstatic
                || peer->name.len != hu->peers[k].name.len
                || ngx_strncmp(peer->name.data, hu->peers[k].name.data,
                               peer->name.len) != 0)
            {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "health: peers of upstream \"%V\" changed "
                              "since configuration, not tracked", &hu->name);
                return NGX_OK;
            }

            hu->peers[k].rr = peer;

            h = ((uintptr_t) peer->sockaddr >> 3) & hu->map_mask;

            while (hu->map[h].key) {
                h = (h + 1) & hu->map_mask;
            }

            hu->map[h].key = peer->sockaddr;
            hu->map[h].index = k;

            k++;
        }
    }

    hu->tracked = (k == nstatic);

    return NGX_OK;
}


static ngx_inline ngx_uint_t
ngx_http_health_upstream_lookup(ngx_http_health_upstream_t *hu, void *key)
{
    ngx_uint_t  h;

    h = ((uintptr_t) key >> 3) & hu->map_mask;

    while (hu->map[h].key) {
        if (hu->map[h].key == key) {
            return hu->map[h].index;
        }

        h = (h + 1) & hu->map_mask;
    }

    return NGX_HTTP_HEALTH_NO_PEER;
}


/*
 * A hash balancer below keepalive (on by default for every upstream block
 * since nginx 1.29) allocates its own peer data, so the round-robin part
 * cannot be handed to it beforehand.  keepalive's peer data starts with
 * {conf, upstream, data} in every nginx this module builds against (1.22
 * to 1.30); the data behind it is taken only when the second pointer is
 * this request's upstream and the data's round-robin part is this group's,
 * otherwise the request simply has no per-request fail-open.
 */
static ngx_http_upstream_rr_peer_data_t *
ngx_http_health_upstream_wrapped_rrp(ngx_http_upstream_t *u,
    ngx_http_upstream_srv_conf_t *us)
{
    void                              **kp;
    ngx_http_upstream_rr_peer_data_t   *rrp;

    kp = u->peer.data;

    if (kp == NULL || kp[1] != (void *) u || kp[2] == NULL) {
        return NULL;
    }

    rrp = kp[2];

    return rrp->peers == us->peer.data ? rrp : NULL;
}


static ngx_int_t
ngx_http_health_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t                   *u;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_upstream_srv_conf_t   *hucf;
    ngx_http_health_upstream_peer_data_t  *hp;

    ngx_http_upstream_rr_peer_data_t      *rrp;

    hucf = ngx_http_conf_upstream_srv_conf(us,
                                           ngx_http_health_upstream_module);
    hu = hucf->upstream;
    u = r->upstream;
    rrp = NULL;

    if (hu->tracked && u->peer.data == NULL) {
        /*
         * The round-robin init takes the data it finds here, so the
         * tried peers of this request stay within reach below any
         * wrapper (keepalive); the hash balancers bring their own, which
         * starts with the round-robin part.
         */
        rrp = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_rr_peer_data_t));
        if (rrp == NULL) {
            return NGX_ERROR;
        }

        u->peer.data = rrp;
    }

    if (hu->original_init_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!hu->tracked) {
        return NGX_OK;
    }

    if (rrp == NULL || rrp->peers != us->peer.data) {
        rrp = u->peer.data;

        if (rrp->peers != us->peer.data) {
            rrp = ngx_http_health_upstream_wrapped_rrp(u, us);
        }
    }

    hp = ngx_palloc(r->pool, sizeof(ngx_http_health_upstream_peer_data_t));
    if (hp == NULL) {
        return NGX_ERROR;
    }

    hp->upstream = hu;
    hp->rrp = rrp;
    hp->skipped = 0;
    hp->fail_open = 0;
    hp->request = r;
    hp->data = u->peer.data;
    hp->original_get_peer = u->peer.get;
    hp->original_free_peer = u->peer.free;
    hp->original_notify = u->peer.notify;
    hp->index = NGX_HTTP_HEALTH_NO_PEER;

    u->peer.data = hp;
    u->peer.get = ngx_http_health_upstream_get_peer;
    u->peer.free = ngx_http_health_upstream_free_peer;

    if (u->peer.notify) {
        u->peer.notify = ngx_http_health_upstream_notify_peer;
    }

#if (NGX_HTTP_SSL)
    hp->original_set_session = u->peer.set_session;
    hp->original_save_session = u->peer.save_session;

    if (u->peer.set_session) {
        u->peer.set_session = ngx_http_health_upstream_set_session;
    }

    if (u->peer.save_session) {
        u->peer.save_session = ngx_http_health_upstream_save_session;
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    uint64_t                        ndown, logged;
    ngx_int_t                       rc;
    ngx_uint_t                      i, n, nsnap;
    ngx_http_health_upstream_t     *hu;
    ngx_http_health_main_conf_t    *hmcf;
    ngx_http_health_rr_snap_t       snap[NGX_HTTP_HEALTH_SNAPS];
    ngx_http_health_upstream_sh_t  *ush;

    hu = hp->upstream;
    hmcf = hu->hmcf;
    hp->index = NGX_HTTP_HEALTH_NO_PEER;

    ush = ngx_http_health_upstream_sh(hmcf, hu->index);

    /*
     * Without health_check (also after a reload that removed it from a
     * group whose segment was kept) check results are ignored.
     */
    ndown = (hu->conf && !hp->fail_open)
            ? ngx_http_health_load(&ush->ndown) : 0;

    if (ndown && ndown >= hu->nchecked) {
        /* every peer failed its checks: better try them than refuse all */
        logged = ngx_http_health_load(&ush->fail_open_logged);

        if ((uint64_t) ngx_time() >= logged + NGX_HTTP_HEALTH_FAIL_OPEN_LOG
            && __atomic_compare_exchange_n(&ush->fail_open_logged, &logged,
                                           (uint64_t) ngx_time(), 0,
                                           __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
        {
            ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                          "health: every peer of upstream \"%V\" failed its "
                          "health checks, using them all (fail-open)",
                          &hu->name);
        }

        ndown = 0;
    }

    nsnap = ndown ? ngx_http_health_upstream_snap(hu, snap) : 0;

    for (n = 0; /* void */ ; n++) {

        rc = hp->original_get_peer(pc, hp->data);

        if (rc == NGX_BUSY && hp->skipped
            && ngx_http_health_upstream_fail_open(pc, hp))
        {
            /* the peers left are exhausted: this request takes any */
            ndown = 0;
            continue;
        }

        if (rc != NGX_OK && rc != NGX_DONE) {
            return rc;
        }

#if (NGX_HTTP_HEALTH_RESOLVE)
        /*
         * The peer chosen is referenced, so alive; a sockaddr of a peer
         * removed since the last sync may be reused by a new one, so the
         * map is rebuilt first whenever the peers changed.
         */
        if (hu->nresolve
            && hu->config != *((ngx_http_upstream_rr_peers_t *)
                               hu->uscf->peer.data)->config)
        {
            ngx_http_health_resolve_sync(hu, pc->log);
        }
#endif

        i = ngx_http_health_upstream_lookup(hu, pc->sockaddr);

        if (ndown == 0 || i == NGX_HTTP_HEALTH_NO_PEER || n >= hu->npeers
            || !ngx_http_health_load(
                   &ngx_http_health_peer_sh(hmcf, hu->first + i)->down))
        {
            break;
        }

        ngx_http_health_upstream_skip(pc, hp, snap, nsnap, i);
        hp->skipped = 1;
    }

    hp->index = i;
    hp->start = ngx_http_health_monotonic_usec();

    return rc;
}


/*
 * What nginx's round-robin get changes in a peer it picks (checked) and
 * what its free does with state 0 (fails reset when accessed < checked),
 * taken before the balancer runs for the peers that may be skipped.
 */
static ngx_uint_t
ngx_http_health_upstream_snap(ngx_http_health_upstream_t *hu,
    ngx_http_health_rr_snap_t *snap)
{
    ngx_uint_t                    k, n;
    ngx_http_upstream_rr_peer_t  *rr;

    n = 0;

    for (k = 0; k < hu->npeers && n < NGX_HTTP_HEALTH_SNAPS; k++) {
        rr = hu->peers[k].rr;

        if (rr == NULL
            || !ngx_http_health_load(
                   &ngx_http_health_peer_sh(hu->hmcf, hu->first + k)->down))
        {
            continue;
        }

        snap[n].rr = rr;
        snap[n].fails = rr->fails;
        snap[n].checked = rr->checked;
        n++;
    }

    return n;
}


/*
 * Out of rotation: give the peer back as if it had never been chosen.
 * The balancer keeps it marked tried, so asking again moves on; the try it
 * took is given back, and what choosing it changed in the peer's passive
 * state (checked, and fails through the free) is put back.  A kept-alive
 * connection to it is closed the way the keepalive module closes one.
 */
static void
ngx_http_health_upstream_skip(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_http_health_rr_snap_t *snap,
    ngx_uint_t nsnap, ngx_uint_t i)
{
    ngx_uint_t                     k, tries;
    ngx_http_upstream_rr_peer_t   *rr;
    ngx_http_upstream_rr_peers_t  *peers;

    if (pc->connection) {
        ngx_http_health_upstream_close(pc->connection);
        pc->connection = NULL;
    }

    pc->cached = 0;
    tries = pc->tries;

    hp->original_free_peer(pc, hp->data, 0);

    pc->tries = tries;

    rr = hp->upstream->peers[i].rr;
    peers = hp->upstream->uscf->peer.data;

    for (k = 0; k < nsnap; k++) {
        if (snap[k].rr != rr) {
            continue;
        }

        ngx_http_upstream_rr_peers_rlock(peers);
        ngx_http_upstream_rr_peer_lock(peers, rr);

        rr->fails = snap[k].fails;
        rr->checked = snap[k].checked;

        ngx_http_upstream_rr_peer_unlock(peers, rr);
        ngx_http_upstream_rr_peers_unlock(peers);

        break;
    }
}


static void
ngx_http_health_upstream_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_health_upstream_close;
            return;
        }
    }

#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
        c->pool = NULL;
    }

    ngx_close_connection(c);
}


/*
 * Fail-open for one request: every peer left after skipping the ones that
 * failed their checks has been tried, so the skipped ones become the
 * candidates (the request would have gone to them without the module).
 * Their tried marks are cleared in the list the balancer is on, or, when
 * it moved on to backups that hold none of them, on the primary list with
 * everything else marked tried.
 */
static ngx_uint_t
ngx_http_health_upstream_fail_open(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp)
{
    uintptr_t                          m;
    ngx_uint_t                         i, k, n, cleared, pass;
    ngx_http_upstream_rr_peer_t       *rr;
    ngx_http_health_upstream_t        *hu;
    ngx_http_upstream_rr_peers_t      *peers, *primary;
    ngx_http_upstream_rr_peer_data_t  *rrp;

    rrp = hp->rrp;
    hu = hp->upstream;

    if (rrp == NULL || hp->fail_open) {
        return 0;
    }

    primary = hu->uscf->peer.data;
    cleared = 0;

    for (pass = 0; pass < 2 && cleared == 0; pass++) {

        peers = pass ? primary : rrp->peers;

        if (pass && rrp->peers == primary) {
            break;
        }

        ngx_http_upstream_rr_peers_rlock(primary);

        for (rr = peers->peer, i = 0; rr; rr = rr->next, i++) {
            n = i / (8 * sizeof(uintptr_t));
            m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));

            k = ngx_http_health_upstream_lookup(hu, rr->sockaddr);

            if (k != NGX_HTTP_HEALTH_NO_PEER
                && ngx_http_health_load(
                       &ngx_http_health_peer_sh(hu->hmcf, hu->first + k)
                           ->down))
            {
                rrp->tried[n] &= ~m;
                cleared++;

            } else if (pass) {
                rrp->tried[n] |= m;
            }
        }

        ngx_http_upstream_rr_peers_unlock(primary);

        if (cleared && pass) {
            rrp->peers = primary;
        }
    }

    if (cleared == 0) {
        return 0;
    }

    hp->fail_open = 1;

    ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                  "health: no peer of upstream \"%V\" that passes its "
                  "health checks is left for this request, trying the "
                  "ones that failed them (fail-open)", &hu->name);

    return 1;
}


/*
 * Every attempt ends here once: the hot path of the passive statistics.
 * The status is the upstream's own (0 when it never sent one).
 */
static void
ngx_http_health_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    uint64_t                      us;
    ngx_uint_t                    g, status;
    ngx_http_upstream_t          *u;
    ngx_http_health_main_conf_t  *hmcf;
    ngx_http_health_peer_sh_t    *psh;

    if (hp->index != NGX_HTTP_HEALTH_NO_PEER) {
        hmcf = hp->upstream->hmcf;
        g = hmcf->zones.nelts + hp->upstream->first + hp->index;

        us = ngx_http_health_monotonic_usec() - hp->start;

        u = hp->request->upstream;
        status = (u && u->state) ? u->state->status : 0;

        if (status == 0 && (state & NGX_PEER_FAILED)) {
            /*
             * Refused, reset or timed out before a status line: no
             * response time and no class to count it in.
             */
            psh = ngx_http_health_peer_sh(hmcf, hp->upstream->first
                                                + hp->index);
            ngx_http_health_add(&psh->fails, 1);
            ngx_http_health_add(&psh->failed, 1);

            hp->index = NGX_HTTP_HEALTH_NO_PEER;
            hp->original_free_peer(pc, hp->data, state);
            return;
        }

        (void) ngx_http_health_count(hmcf, g, status, us);

        if (state & NGX_PEER_FAILED) {
            ngx_http_health_add(
                &ngx_http_health_peer_sh(hmcf, hp->upstream->first
                                               + hp->index)->fails, 1);
        }

        hp->index = NGX_HTTP_HEALTH_NO_PEER;
    }

    hp->original_free_peer(pc, hp->data, state);
}


static void
ngx_http_health_upstream_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    hp->original_notify(pc, hp->data, type);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_health_upstream_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    return hp->original_set_session(pc, hp->data);
}


static void
ngx_http_health_upstream_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    hp->original_save_session(pc, hp->data);
}

#endif
