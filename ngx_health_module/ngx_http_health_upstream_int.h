/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, what the files of the upstream module
 * share: the records in shared memory, the health_check configuration,
 * a group and its peers as a worker sees them, and the functions one
 * file calls in another.  Private to ngx_http_health_upstream*.c; the rest
 * of the module uses ngx_http_health_upstream.h.
 */


#ifndef _NGX_HTTP_HEALTH_UPSTREAM_INT_H_INCLUDED_
#define _NGX_HTTP_HEALTH_UPSTREAM_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_upstream.h"
#include "ngx_http_health_util.h"


#define NGX_HTTP_HEALTH_NO_PEER        ((ngx_uint_t) -1)
#define NGX_HTTP_HEALTH_MAX_RANGES     16
#define NGX_HTTP_HEALTH_MAX_MATCH      8
#define NGX_HTTP_HEALTH_MATCH_HEADERS  4096


/*
 * nginx 1.27.3 and later re-resolve the "server ... resolve" lines of a
 * group with a zone at run time: their peers come and go in the zone.
 * Each such line gets a fixed set of slots, each bound for the life of the
 * shared segment to the first address that takes it.
 */
#if (NGX_HTTP_UPSTREAM_ZONE && nginx_version >= 1027003)
#define NGX_HTTP_HEALTH_RESOLVE        1
#define NGX_HTTP_HEALTH_RESOLVE_SLOTS  8
#else
#define NGX_HTTP_HEALTH_RESOLVE        0
#endif


typedef enum {
    NGX_HTTP_HEALTH_CHECK_OK = 0,
    NGX_HTTP_HEALTH_CHECK_CONNECT,
    NGX_HTTP_HEALTH_CHECK_TIMEOUT,
    NGX_HTTP_HEALTH_CHECK_CLOSED,
    NGX_HTTP_HEALTH_CHECK_INVALID,
    NGX_HTTP_HEALTH_CHECK_STATUS,
    NGX_HTTP_HEALTH_CHECK_HEADER,
    NGX_HTTP_HEALTH_CHECK_BODY,
    NGX_HTTP_HEALTH_CHECK_TLS_HANDSHAKE,
    NGX_HTTP_HEALTH_CHECK_TLS_VERIFY
} ngx_http_health_check_result_e;

#define NGX_HTTP_HEALTH_CHECK_LAST     NGX_HTTP_HEALTH_CHECK_TLS_VERIFY

/* the longest reason ngx_http_health_check_reason() writes */
#define NGX_HTTP_HEALTH_REASON_LEN     96


/* room for every result in a peer's record (results[] below) */
#define NGX_HTTP_HEALTH_CHECK_NRESULTS  12


/*
 * A peer's state by its checks ("down" in its record): in rotation, out
 * of it, or failing its checks but kept in because max_ejected of the
 * group's peers are out already.
 */
#define NGX_HTTP_HEALTH_PEER_IN        0
#define NGX_HTTP_HEALTH_PEER_OUT       1
#define NGX_HTTP_HEALTH_PEER_KEPT      2


/* why a peer left rotation or is kept in ("cause" in its record) */
#define NGX_HTTP_HEALTH_CAUSE_CHECKS   0
#define NGX_HTTP_HEALTH_CAUSE_OBSERVE  1


/* health_check observe=: what of the real traffic counts as a failure */
#define NGX_HTTP_HEALTH_OBSERVE_5XX      0x01
#define NGX_HTTP_HEALTH_OBSERVE_TIMEOUT  0x02


/* in shared memory, one per peer; written by the lease holder */
typedef struct {
    ngx_http_health_lease_t      lease;          /* of the checks */
    uint64_t                     checks;
    uint64_t                     check_fails;
    uint64_t                     fails;          /* passive, all workers */
    uint32_t                     down;           /* NGX_HTTP_HEALTH_PEER_* */
    uint32_t                     consecutive_fails;
    uint32_t                     consecutive_passes;
    uint32_t                     last_passed;    /* 0 none, 1 yes, 2 no */
    uint32_t                     last_code;
    uint32_t                     last_result;
    uint32_t                     last_tls_error; /* X509_V_ERR_*, or 0 */
    uint64_t                     failed;         /* attempts, no response */
    uint64_t                     results[NGX_HTTP_HEALTH_CHECK_NRESULTS];
    uint64_t                     rtt_us;         /* of the last check */
    uint64_t                     rtt_sum_us;     /* of every check */
    uint32_t                     observed;       /* consecutive, observe= */
    uint32_t                     cause;          /* NGX_HTTP_HEALTH_CAUSE_* */
    uint64_t                     returned;       /* monotonic msec, back in
                                                    rotation from out */
} ngx_http_health_peer_sh_t;


/*
 * In shared memory, one per group.  The master writes hash, first and
 * npeers and bumps generation at each (re)load, so a segment rebuilt for
 * another reason finds the check state of an unchanged group in the old
 * one, and the workers of a new configuration take the check leases from
 * the old ones at once.
 */
typedef struct {
    uint64_t                     ndown;          /* peers out by checks */
    uint64_t                     fail_open_logged;
    uint64_t                     generation;
    uint64_t                     hash;           /* name and peers */
    uint64_t                     first;
    uint64_t                     npeers;
    uint64_t                     max_ejected;    /* %, newest config */
    uint64_t                     ramp_until;     /* monotonic msec, 0 none */
    u_char                       pad[2 * NGX_HTTP_HEALTH_CACHE_LINE - 64];
} ngx_http_health_upstream_sh_t;


#if (NGX_HTTP_HEALTH_RESOLVE)

/*
 * in shared memory, one per slot of a "server ... resolve" line: the
 * address the slot is bound to; written once, under the binding lock,
 * before "bound" is set
 */
typedef struct {
    uint32_t                     bound;
    uint32_t                     socklen;
    uint32_t                     len;
    uint32_t                     pad;
    ngx_sockaddr_t               sockaddr;
    u_char                       name[NGX_SOCKADDR_STRLEN];
} ngx_http_health_rslot_sh_t;


/* a "server ... resolve" line */
typedef struct {
    ngx_str_t                    server;         /* "name:port" */
    ngx_uint_t                   first;          /* its first peer slot */
    unsigned                     backup:1;
    unsigned                     down:1;
    unsigned                     warned:1;       /* per worker */

    /* per worker, in the upstream's zone */
    ngx_http_upstream_host_t    *host;
    ngx_http_upstream_rr_peers_t *peers;
} ngx_http_health_resolve_t;

#endif


typedef struct {
    ngx_uint_t                   lo;
    ngx_uint_t                   hi;
} ngx_http_health_range_t;


/* a match_header or match_body expectation */
typedef struct {
    ngx_str_t                    name;           /* of the header */
    ngx_str_t                    text;           /* or the pattern */
#if (NGX_PCRE)
    ngx_regex_t                 *re;
#else
    void                        *re;
#endif
} ngx_http_health_match_t;


/* health_check, in the upstream block's srv_conf of this module */
typedef struct {
    ngx_flag_t                   enabled;
    ngx_str_t                    uri;
    ngx_msec_t                   interval;
    ngx_msec_t                   timeout;
    ngx_uint_t                   fails;
    ngx_uint_t                   passes;
    ngx_flag_t                   required;
    ngx_uint_t                   max_ejected;    /* percent */
    ngx_uint_t                   observe;        /* OBSERVE_* bits */
    ngx_uint_t                   observe_fails;
    ngx_msec_t                   slow_start;     /* 0: off */
    ngx_uint_t                   nranges;
    ngx_http_health_range_t      ranges[NGX_HTTP_HEALTH_MAX_RANGES];
    ngx_array_t                 *match_headers;  /* ngx_http_health_match_t */
    ngx_http_health_match_t     *match_body;
    size_t                       match_bytes;
    size_t                       match_size;     /* of the read, 0: none */

    /* TLS: the parameters, then what the checks use */
    ngx_flag_t                   tls;            /* unset: as proxied */
    ngx_str_t                    tls_name;
    ngx_flag_t                   tls_server_name;
    ngx_flag_t                   tls_verify;
    ngx_str_t                    tls_trusted_certificate;
#if (NGX_HTTP_SSL)
    ngx_ssl_t                   *ssl;            /* NULL: plain HTTP */
    ngx_str_t                    ssl_name;       /* null-terminated */
    ngx_flag_t                   ssl_server_name;
    ngx_flag_t                   ssl_verify;

    /* the first location that proxies to the group */
    ngx_http_upstream_conf_t    *proxy;
    ngx_uint_t                   proxy_line;
    unsigned                     proxy_tls:1;
    unsigned                     proxy_warned:1;
    unsigned                     tls_unknown_warned:1;
#endif

    struct ngx_http_health_upstream_s  *upstream;
} ngx_http_health_upstream_srv_conf_t;


typedef struct ngx_http_health_upstream_s  ngx_http_health_upstream_t;


typedef struct {
    void                        *key;            /* peer sockaddr */
    ngx_uint_t                   index;
} ngx_http_health_peer_map_t;


/* a peer as this worker sees it */
typedef struct {
    ngx_str_t                    name;
    unsigned                     backup:1;
    unsigned                     down:1;         /* "down" in the config */
    ngx_http_upstream_rr_peer_t *rr;             /* live, per worker */
    uint64_t                     ramp_credit;    /* per worker, msec */
#if (NGX_HTTP_HEALTH_RESOLVE)
    ngx_http_health_rslot_sh_t  *slot;           /* of a resolve line */
    unsigned                     live:1;         /* per worker, at sync */
#endif

    /* active check, per worker */
    ngx_http_health_upstream_t  *upstream;
    ngx_uint_t                   index;
    ngx_event_t                  timer;
    ngx_peer_connection_t        pc;
    size_t                       sent;
    size_t                       received;
    ngx_err_t                    err;            /* of a failed check */
    uint32_t                     tls_error;      /* X509_V_ERR_* */
    ngx_msec_t                   deadline;
    uint64_t                     start_us;       /* of the check */
    u_char                      *mbuf;           /* match_size, or NULL */
    ngx_uint_t                   which;          /* header not matched */
    u_char                       buf[512];
} ngx_http_health_peer_t;


struct ngx_http_health_upstream_s {
    ngx_http_upstream_srv_conf_t        *uscf;
    ngx_http_health_upstream_srv_conf_t *conf;
    ngx_http_health_main_conf_t         *hmcf;
    ngx_str_t                            name;
    ngx_uint_t                           index;   /* of the group */
    ngx_uint_t                           first;   /* global peer slot */
    ngx_uint_t                           npeers;
    ngx_uint_t                           nchecked;  /* not marked down */
    ngx_uint_t                           observe;   /* 0 without checks */
    ngx_msec_t                           slow_start;  /* 0: off */
    ngx_http_health_peer_t              *peers;
    ngx_str_t                            request;  /* of the check */
    uint64_t                             hash;     /* name and peers */
    uint64_t                             generation;

    ngx_http_upstream_init_peer_pt       original_init_peer;

    /* per worker: sockaddr -> peer index */
    ngx_http_health_peer_map_t          *map;
    ngx_uint_t                           map_mask;
    unsigned                             tracked:1;

#if (NGX_HTTP_HEALTH_RESOLVE)
    ngx_uint_t                           nstatic;  /* peers before slots */
    ngx_uint_t                           nchecked_static;
    ngx_uint_t                           nresolve;
    ngx_http_health_resolve_t           *resolve;
    ngx_uint_t                           rfirst;   /* global slot record */
    ngx_uint_t                           config;   /* *peers->config seen */
    ngx_atomic_t                        *lock;     /* of the bindings */
#endif
};


typedef struct {
    ngx_array_t                  upstreams;  /* ngx_http_health_upstream_t */
    ngx_http_health_main_conf_t *hmcf;
#if (NGX_HTTP_HEALTH_RESOLVE)
    ngx_uint_t                   nrslots;    /* slot records, all groups */
#endif
} ngx_http_health_upstream_main_conf_t;


static ngx_inline ngx_http_health_peer_sh_t *
ngx_http_health_peer_sh(ngx_http_health_main_conf_t *hmcf, ngx_uint_t g)
{
    u_char  *p;

    p = ngx_http_health_shm_upstream(hmcf);

    return (ngx_http_health_peer_sh_t *) p + g;
}


static ngx_inline ngx_http_health_upstream_sh_t *
ngx_http_health_upstream_sh(ngx_http_health_main_conf_t *hmcf, ngx_uint_t u)
{
    u_char  *p;

    p = (u_char *) ngx_http_health_peer_sh(hmcf, hmcf->npeers);
    p = ngx_align_ptr(p, NGX_HTTP_HEALTH_CACHE_LINE);

    return (ngx_http_health_upstream_sh_t *) p + u;
}


/* whether peer g is out of rotation by its checks */
static ngx_inline ngx_uint_t
ngx_http_health_peer_out(ngx_http_health_main_conf_t *hmcf, ngx_uint_t g)
{
    return ngx_http_health_load(&ngx_http_health_peer_sh(hmcf, g)->down)
           == NGX_HTTP_HEALTH_PEER_OUT;
}


/*
 * How far peer i of a group is into its slow start at now (monotonic
 * msec): the milliseconds since it came back into rotation from out of
 * it, or slow_start itself when it is not ramping (or slow start is off).
 */
static ngx_inline ngx_msec_t
ngx_http_health_ramp_elapsed(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    uint64_t now)
{
    uint64_t  returned;

    returned = ngx_http_health_load(
                   &ngx_http_health_peer_sh(hu->hmcf, hu->first + i)->returned);

    if (returned == 0 || now >= returned + hu->slow_start) {
        return hu->slow_start;
    }

    return now > returned ? (ngx_msec_t) (now - returned) : 0;
}


/*
 * max_ejected of the newest configuration: the master writes it at each
 * (re)load, so the workers of the previous one, which check until they
 * exit, do not take peers out beyond a limit lowered by a reload.
 */
static ngx_inline ngx_uint_t
ngx_http_health_max_ejected_pct(ngx_http_health_upstream_t *hu)
{
    uint64_t  pct;

    pct = ngx_http_health_load(
              &ngx_http_health_upstream_sh(hu->hmcf, hu->index)->max_ejected);

    return (pct >= 1 && pct <= 100) ? pct : hu->conf->max_ejected;
}


/*
 * How many of the group's checked peers may be out of rotation at once:
 * max_ejected percent of them, rounded down, and at least one.
 */
static ngx_inline ngx_uint_t
ngx_http_health_max_ejected(ngx_http_health_upstream_t *hu)
{
    return ngx_max(hu->nchecked * ngx_http_health_max_ejected_pct(hu) / 100,
                   1);
}


/* ngx_http_health_upstream_resolve.c */

#if (NGX_HTTP_HEALTH_RESOLVE)
ngx_uint_t ngx_http_health_resolve_count(
    ngx_http_upstream_rr_peers_t *peers);
ngx_int_t ngx_http_health_resolve_track(ngx_conf_t *cf,
    ngx_http_health_upstream_t *hu, ngx_uint_t nstatic);
ngx_int_t ngx_http_health_resolve_init(ngx_cycle_t *cycle,
    ngx_http_health_upstream_main_conf_t *humcf,
    ngx_http_health_upstream_t *hu);
void ngx_http_health_resolve_sync(ngx_http_health_upstream_t *hu,
    ngx_log_t *log);
void ngx_http_health_resolve_forget(ngx_http_health_upstream_t *hu,
    ngx_uint_t k);
const char *ngx_http_health_resolve_state(
    ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, time_t now);
#endif


/* ngx_http_health_upstream_check.c */

void ngx_http_health_upstream_exit_process(ngx_cycle_t *cycle);
void ngx_http_health_check_timer(ngx_event_t *ev);
void ngx_http_health_peer_fail(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_uint_t cause, u_char *why, ngx_err_t err);

u_char *ngx_http_health_check_reason(u_char *buf, uint32_t result,
    uint32_t code, uint32_t tls_error);

extern const char  *ngx_http_health_check_reasons[];
extern const char  *ngx_http_health_check_results[];
extern const ngx_uint_t  ngx_http_health_check_nresults;


/* ngx_http_health_upstream_match.c */

ngx_int_t ngx_http_health_match_parse(ngx_conf_t *cf,
    ngx_http_health_upstream_srv_conf_t *hucf, ngx_str_t *value);
size_t ngx_http_health_match_size(ngx_http_health_upstream_srv_conf_t *hucf);
ngx_uint_t ngx_http_health_match_complete(
    ngx_http_health_upstream_srv_conf_t *hucf, u_char *buf, size_t len);
ngx_http_health_check_result_e ngx_http_health_match(
    ngx_http_health_upstream_srv_conf_t *hucf, u_char *buf, size_t len,
    ngx_uint_t *which);
extern const char  *ngx_http_health_observed[];


/* ngx_http_health_upstream_report.c */

ngx_uint_t ngx_http_health_peer_ordinal(ngx_http_health_upstream_t *hu,
    ngx_uint_t i);
ngx_int_t ngx_http_health_upstream_collect(
    ngx_http_health_report_t *rep, void *data);
ngx_int_t ngx_http_health_upstream_prometheus(
    ngx_http_health_report_t *rep, void *data);


/* ngx_http_health_upstream_balancer.c */

ngx_int_t ngx_http_health_upstream_map(ngx_cycle_t *cycle,
    ngx_http_health_upstream_t *hu);
ngx_int_t ngx_http_health_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
void ngx_http_health_upstream_ramp_extend(ngx_http_health_upstream_t *hu,
    uint64_t until);


#endif /* _NGX_HTTP_HEALTH_UPSTREAM_INT_H_INCLUDED_ */
