/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the lease and the shared results of dependency probes.
 *
 * The probes' blocks live in a segment of their own, named after a hash of
 * the probes' configuration: a reload that keeps them keeps their results
 * and leases (an old worker hands the lease on when it exits), a reload
 * that changes them starts from "not probed yet" in a fresh segment while
 * the old workers finish with the old one.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/ioctl.h>
#include <netinet/tcp.h>

#include "health_status.h"
#include "health_text.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_util.h"


typedef struct {
    ngx_array_t                 *probes;     /* ngx_http_health_probe_t * */
    size_t                       size;
    u_char                      *base;
} ngx_http_health_probe_zone_t;


static ngx_int_t ngx_http_health_probe_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_health_probe_attach(ngx_http_health_probe_zone_t *pz);
static void ngx_http_health_probe_tick(ngx_event_t *ev);
static void ngx_http_health_probe_start(ngx_http_health_probe_t *probe);
static void ngx_http_health_probe_expire(ngx_event_t *ev);
static void ngx_http_health_probe_stop(ngx_http_health_probe_t *probe);
static void ngx_http_health_probe_set(ngx_http_health_probe_t *probe,
    health_status_t status, uint64_t response_us, u_char *data, size_t len,
    u_char *reason, size_t reason_len);
static void ngx_http_health_probe_failed(ngx_http_health_probe_t *probe,
    health_status_t status, u_char *reason, size_t reason_len);
static ngx_uint_t ngx_http_health_probe_lease(ngx_http_health_probe_t *probe);
static void ngx_http_health_probe_release(ngx_http_health_probe_t *probe);
static ngx_int_t ngx_http_health_probe_collect(ngx_http_health_report_t *rep,
    void *data);
static ngx_int_t ngx_http_health_probe_prometheus(
    ngx_http_health_report_t *rep, void *data);
static ngx_int_t ngx_http_health_probe_read(ngx_http_health_probe_t *probe,
    ngx_pool_t *pool, ngx_http_health_probe_result_t *res);
static json_t *ngx_http_health_probe_time_json(ngx_msec_t ms);


/* a tag of its own: the counters' segment is found by the module's tag */
static ngx_uint_t  ngx_http_health_probe_tag;


ngx_http_health_probe_t *
ngx_http_health_probe_add(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *directive)
{
    ngx_uint_t                    i;
    ngx_http_health_probe_t     **pp, *probe;
    ngx_http_health_main_conf_t  *hmcf;

    if (!ngx_http_health_valid_name(name)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"name=%V\" in \"%V\" directive, "
                           "a name is " NGX_HTTP_HEALTH_NAME_RULE,
                           name, directive);
        return NULL;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        if (pp[i]->name.len == name->len
            && ngx_strncmp(pp[i]->name.data, name->data, name->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate check name \"%V\" in \"%V\" "
                               "directive, set another with name=",
                               name, directive);
            return NULL;
        }
    }

    probe = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_probe_t));
    if (probe == NULL) {
        return NULL;
    }

    pp = ngx_array_push(&hmcf->probes);
    if (pp == NULL) {
        return NULL;
    }

    *pp = probe;

    probe->name.len = name->len;
    probe->name.data = ngx_pnalloc(cf->pool, name->len + 1);
    if (probe->name.data == NULL) {
        return NULL;
    }

    *ngx_cpymem(probe->name.data, name->data, name->len) = '\0';

    /* a dependency that does not answer is unhealthy; a measurement
     * through it (a queue's length) is unknown instead */
    probe->unanswered = HEALTH_UNHEALTHY;

    return probe;
}


ngx_int_t
ngx_http_health_probe_arg(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *arg, ngx_str_t *name, ngx_msec_t *interval,
    ngx_msec_t *timeout, ngx_flag_t *required)
{
    uint64_t     us;
    ngx_str_t    v;
    ngx_msec_t  *t;

    if (arg->len > 5 && ngx_strncmp(arg->data, "name=", 5) == 0) {
        name->data = arg->data + 5;
        name->len = arg->len - 5;
        return NGX_OK;
    }

    if (arg->len >= 9 && ngx_strncmp(arg->data, "required=", 9) == 0) {
        v.data = arg->data + 9;
        v.len = arg->len - 9;

        if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
            *required = 1;
            return NGX_OK;
        }

        if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
            *required = 0;
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "required is \"on\" or \"off\"", arg, directive);
        return NGX_ERROR;
    }

    if (arg->len >= 9 && ngx_strncmp(arg->data, "interval=", 9) == 0) {
        v.data = arg->data + 9;
        v.len = arg->len - 9;
        t = interval;

    } else if (arg->len >= 8 && ngx_strncmp(arg->data, "timeout=", 8) == 0) {
        v.data = arg->data + 8;
        v.len = arg->len - 8;
        t = timeout;

    } else {
        return NGX_DECLINED;
    }

    /* whole milliseconds, from 10ms to 1h */
    if (ngx_http_health_parse_usec(&v, &us) != NGX_OK
        || us < 10000 || us > 3600000000ULL || us % 1000)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time from 10ms to 1h", arg,
                           directive);
        return NGX_ERROR;
    }

    *t = (ngx_msec_t) (us / 1000);

    return NGX_OK;
}


char *
ngx_http_health_probe_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf)
{
    size_t                         size;
    uint64_t                       h;
    ngx_str_t                      name;
    ngx_uint_t                     i, k;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_health_probe_t      **pp;
    ngx_http_health_reporter_t     reporter;
    ngx_http_health_probe_zone_t  *pz;

    if (hmcf->probes.nelts == 0) {
        return NGX_CONF_OK;
    }

    pz = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_probe_zone_t));
    if (pz == NULL) {
        return NGX_CONF_ERROR;
    }

    pz->probes = &hmcf->probes;

    /* FNV-1a over what gives a block its meaning */
    h = 0xcbf29ce484222325ULL ^ sizeof(ngx_http_health_probe_sh_t);
    size = 0;

    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        size += ngx_align(sizeof(ngx_http_health_probe_sh_t)
                          + pp[i]->data_size, NGX_ALIGNMENT)
                + ngx_align(pp[i]->state_size, NGX_ALIGNMENT);

#define hash(p, n)                                                            \
        for (k = 0; k < (n); k++) {                                           \
            h ^= ((u_char *) (p))[k];                                         \
            h *= 0x100000001b3ULL;                                            \
        }

        hash(pp[i]->name.data, pp[i]->name.len + 1);
        hash(pp[i]->kind.data, pp[i]->kind.len);
        hash(pp[i]->target.data, pp[i]->target.len);
        hash(&pp[i]->data_size, sizeof(size_t));
        hash(&pp[i]->state_size, sizeof(size_t));

#undef hash
    }

    pz->size = size;

    name.data = ngx_pnalloc(cf->pool, sizeof("health_probes_") + 16);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    name.len = ngx_sprintf(name.data, "health_probes_%016uxL", h) - name.data;

    shm_zone = ngx_shared_memory_add(cf, &name,
                                     size + size / 64 + 16 * ngx_pagesize,
                                     &ngx_http_health_probe_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_health_probe_init_zone;
    shm_zone->data = pz;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        pp[i]->shm_zone = shm_zone;
    }

    reporter.collect = ngx_http_health_probe_collect;
    reporter.prometheus = ngx_http_health_probe_prometheus;
    reporter.data = &hmcf->probes;

    if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_health_probe_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_health_probe_zone_t  *opz = data;

    ngx_uint_t                     i;
    ngx_slab_pool_t               *shpool;
    ngx_http_health_probe_t      **pp;
    ngx_http_health_probe_zone_t  *pz;

    pz = shm_zone->data;

    if (opz != NULL) {
        /* same name, so the same probes in the same order */
        pz->base = opz->base;
        ngx_http_health_probe_attach(pz);
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    pz->base = ngx_slab_calloc(shpool, pz->size);
    if (pz->base == NULL) {
        return NGX_ERROR;
    }

    ngx_http_health_probe_attach(pz);

    pp = pz->probes->elts;

    for (i = 0; i < pz->probes->nelts; i++) {
        pp[i]->sh->status = HEALTH_UNKNOWN;
    }

    return NGX_OK;
}


static void
ngx_http_health_probe_attach(ngx_http_health_probe_zone_t *pz)
{
    u_char                    *p;
    ngx_uint_t                 i;
    ngx_http_health_probe_t  **pp;

    p = pz->base;
    pp = pz->probes->elts;

    for (i = 0; i < pz->probes->nelts; i++) {
        pp[i]->sh = (ngx_http_health_probe_sh_t *) p;
        p += ngx_align(sizeof(ngx_http_health_probe_sh_t)
                       + pp[i]->data_size, NGX_ALIGNMENT);

        pp[i]->state = pp[i]->state_size ? p : NULL;
        p += ngx_align(pp[i]->state_size, NGX_ALIGNMENT);
    }
}


void
ngx_http_health_probe_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_health_probe_t     **pp;
    ngx_http_health_main_conf_t  *hmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL) {
        return;
    }

    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        pp[i]->log = cycle->log;
        pp[i]->tick.handler = ngx_http_health_probe_tick;
        pp[i]->tick.data = pp[i];
        pp[i]->tick.log = cycle->log;
        pp[i]->tick.cancelable = 1;

        pp[i]->deadline.handler = ngx_http_health_probe_expire;
        pp[i]->deadline.data = pp[i];
        pp[i]->deadline.log = cycle->log;
        pp[i]->deadline.cancelable = 1;

        /* soon, and not all workers at once */
        ngx_add_timer(&pp[i]->tick, 1 + ngx_worker * 7 % 50);
    }
}


void
ngx_http_health_probe_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_health_probe_t     **pp;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL) {
        return;
    }

    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        if (pp[i]->tick.handler == NULL) {
            continue;
        }

        if (pp[i]->tick.timer_set) {
            ngx_del_timer(&pp[i]->tick);
        }

        ngx_http_health_probe_stop(pp[i]);
        ngx_http_health_probe_release(pp[i]);
    }
}


static void
ngx_http_health_probe_tick(ngx_event_t *ev)
{
    ngx_http_health_probe_t  *probe = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* hand the probe on to a worker of the new generation now */
        ngx_http_health_probe_stop(probe);
        ngx_http_health_probe_release(probe);
        return;
    }

    if (probe->busy && !probe->deadline.timer_set) {
        /* cannot happen: only the round's end cancels its deadline */
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "health: check \"%V\" is busy with no deadline",
                      &probe->name);
    }

    if (ngx_http_health_probe_lease(probe)) {
        if (!probe->busy
            && (ngx_msec_int_t) (ngx_current_msec - probe->next_connect) >= 0)
        {
            ngx_http_health_probe_start(probe);
        }

    } else if (probe->owner) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "health: lost the lease of \"%V\"", &probe->name);
        probe->owner = 0;
        ngx_http_health_probe_stop(probe);
    }

    ngx_add_timer(ev, probe->interval);
}


/*
 * busy is set here with the deadline armed, and cleared only where the
 * deadline is cancelled: the round ends by the backend's report or by the
 * deadline, whatever path the backend took.
 */
static void
ngx_http_health_probe_start(ngx_http_health_probe_t *probe)
{
    probe->busy = 1;
    probe->input = 0;
    ngx_add_timer(&probe->deadline, probe->timeout);

    probe->run(probe);
}


static void
ngx_http_health_probe_expire(ngx_event_t *ev)
{
    u_char                   reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                  *p, *last;
    ngx_http_health_probe_t *probe;

    probe = ev->data;
    last = reason + sizeof(reason);

    /* what the round waited for is known before the connection goes */
    p = ngx_slprintf(reason, last, "timed out after %Mms ", probe->timeout);
    p = probe->abort(probe, p, last);

    ngx_http_health_probe_end(probe, NGX_ERROR, probe->unanswered, 0, NULL,
                              0, reason, p - reason);
}


/* no result: the round is abandoned, not failed */
static void
ngx_http_health_probe_stop(ngx_http_health_probe_t *probe)
{
    if (probe->deadline.timer_set) {
        ngx_del_timer(&probe->deadline);
    }

    probe->busy = 0;
    probe->stop(probe);
}


void
ngx_http_health_probe_end(ngx_http_health_probe_t *probe, ngx_int_t rc,
    health_status_t status, uint64_t response_us, u_char *data, size_t len,
    u_char *reason, size_t reason_len)
{
    if (!probe->busy) {
        ngx_log_error(NGX_LOG_ALERT, probe->log, 0,
                      "health: check \"%V\" ended a round that was not "
                      "under way", &probe->name);
        return;
    }

    probe->busy = 0;

    if (probe->deadline.timer_set) {
        ngx_del_timer(&probe->deadline);
    }

    if (rc == NGX_OK) {
        probe->failing = 0;
        ngx_http_health_probe_set(probe, status, response_us, data, len,
                                  reason, reason_len);
        return;
    }

    ngx_http_health_probe_failed(probe, status, reason, reason_len);
}


void
ngx_http_health_probe_lost(ngx_http_health_probe_t *probe,
    health_status_t status, u_char *reason, size_t reason_len)
{
    if (probe->busy) {
        ngx_http_health_probe_end(probe, NGX_ERROR, status, 0, NULL, 0,
                                  reason, reason_len);
        return;
    }

    ngx_http_health_probe_failed(probe, status, reason, reason_len);
}


/* renew or take the lease; 1 when this worker owns the probe */
static ngx_uint_t
ngx_http_health_probe_lease(ngx_http_health_probe_t *probe)
{
    ngx_uint_t  rc;

    /* the probes' segment is per configuration: one generation */
    rc = ngx_http_health_lease_take(&probe->sh->lease, 0,
                                    2 * probe->interval + probe->timeout);

    if (rc == NGX_HTTP_HEALTH_LEASE_NO) {
        return 0;
    }

    if (rc == NGX_HTTP_HEALTH_LEASE_KEPT) {
        return 1;
    }

    if (!probe->owner) {
        ngx_log_error(NGX_LOG_INFO, probe->log, 0,
                      "health: this worker probes \"%V\"%s", &probe->name,
                      rc == NGX_HTTP_HEALTH_LEASE_TAKEN
                      ? " (took over the lease)" : "");
    }

    probe->owner = 1;
    probe->next_connect = ngx_current_msec;

    return 1;
}


static void
ngx_http_health_probe_release(ngx_http_health_probe_t *probe)
{
    if (probe->sh == NULL) {
        return;
    }

    ngx_http_health_lease_release(&probe->sh->lease, 0);

    probe->owner = 0;
}


static void
ngx_http_health_probe_set(ngx_http_health_probe_t *probe,
    health_status_t status, uint64_t response_us, u_char *data, size_t len,
    u_char *reason, size_t reason_len)
{
    u_char                       text[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                       line[4 * NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                      *p;
    ngx_uint_t                   level;
    ngx_msec_t                   now;
    ngx_time_t                  *tp;
    ngx_slab_pool_t             *shpool;
    ngx_uint_t                   changed;
    health_status_t              old;
    ngx_http_health_probe_sh_t  *sh;

    sh = probe->sh;
    shpool = (ngx_slab_pool_t *) probe->shm_zone->shm.addr;

    ngx_time_update();
    tp = ngx_timeofday();
    now = (ngx_msec_t) tp->sec * 1000 + tp->msec;

    /*
     * The reason may quote a server: one line of valid UTF-8 before it is
     * kept, so no field of the report can fail the JSON encoder.  Callers
     * cut it with ngx_slprintf(), maybe inside a character.
     */
    reason_len = health_text_sanitize((char *) text, sizeof(text),
                                      (char *) reason, reason_len,
                                      HEALTH_TEXT_LINE|HEALTH_TEXT_CUT_INPUT,
                                      NULL);

    ngx_shmtx_lock(&shpool->mutex);

    old = sh->checked ? sh->status : HEALTH_UNKNOWN;
    changed = !sh->checked || old != status;

    if (changed) {
        sh->changed_at = now;
    }

    sh->checked = 1;
    sh->status = status;
    sh->response_us = response_us;
    sh->checked_at = now;
    sh->checks++;

    if (status == HEALTH_UNHEALTHY || status == HEALTH_UNKNOWN) {
        sh->failures++;
    }

    sh->data_size_seen = len;

    if (len > probe->data_size) {
        len = 0;
    }

    sh->data_len = len;

    if (len) {
        ngx_memcpy(sh->data, data, len);
    }

    sh->reason_len = reason_len;

    if (reason_len) {
        ngx_memcpy(sh->reason, text, reason_len);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (changed) {
        /*
         * A dependency going down, or that cannot be judged (its first
         * answer included), needs an operator: "error", the level of
         * Debian's stock error_log; degraded is a warning, a recovery
         * routine.
         */
        level = (status == HEALTH_HEALTHY) ? NGX_LOG_NOTICE
                : (status == HEALTH_DEGRADED) ? NGX_LOG_WARN : NGX_LOG_ERR;

        p = ngx_http_health_log_escape(line, line + sizeof(line), text,
                                       reason_len);

        ngx_log_error(level, probe->log, 0,
                      "health: check \"%V\" is %s%s%*s", &probe->name,
                      health_status_name(status),
                      reason_len ? ": " : "", p - line, line);
    }
}


static void
ngx_http_health_probe_failed(ngx_http_health_probe_t *probe,
    health_status_t status, u_char *reason, size_t reason_len)
{
    ngx_msec_t  backoff, cap;

    ngx_http_health_probe_set(probe, status, 0, NULL, 0, reason, reason_len);

    /* the next tick retries, then every 2, 4, 8 intervals, at most 30s */
    cap = ngx_min(8 * probe->interval, 30000);
    cap = ngx_max(cap, probe->interval);

    backoff = probe->failing < 4 ? probe->interval << probe->failing
                                 : 8 * probe->interval;
    backoff = ngx_min(backoff, cap);

    probe->next_connect = ngx_current_msec + (probe->failing ? backoff : 0);
    probe->failing++;
}


/*
 * The bytes the kernel has received on a TCP socket, -1 on another.
 * tcpi_bytes_received (Linux 4.1) is not in glibc's struct tcp_info, and
 * <linux/tcp.h> cannot be included next to <netinet/tcp.h>: it is read at
 * its offset in the kernel's stable ABI.
 */
static int64_t
ngx_http_health_probe_received(ngx_socket_t fd)
{
#if (NGX_LINUX)
    uint64_t   v;
    socklen_t  len;
    u_char     ti[256];

    len = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) == 0
        && len >= 128 + sizeof(uint64_t))
    {
        ngx_memcpy(&v, ti + 128, sizeof(uint64_t));
        return (int64_t) v;
    }
#endif

    return -1;
}


void
ngx_http_health_probe_input_before(ngx_http_health_probe_t *probe,
    ngx_socket_t fd)
{
    int  n;

    probe->input_waiting = 0;

    if (ngx_http_health_probe_received(fd) >= 0) {
        return;
    }

    if (ioctl(fd, FIONREAD, &n) == 0 && n > 0) {
        probe->input_waiting = n;
    }
}


ngx_int_t
ngx_http_health_probe_input_after(ngx_http_health_probe_t *probe,
    ngx_socket_t fd)
{
    int64_t  total;

    total = (fd == (ngx_socket_t) -1) ? -1
                                      : ngx_http_health_probe_received(fd);

    if (total >= 0) {
        if (fd != probe->input_fd || (uint64_t) total < probe->input_seen) {
            /* another socket: all of its bytes are this round's */
            probe->input_seen = 0;
        }

        probe->input += total - probe->input_seen;
        probe->input_seen = total;
        probe->input_fd = fd;

    } else {
        probe->input += probe->input_waiting;
    }

    probe->input_waiting = 0;

    return probe->input > NGX_HTTP_HEALTH_PROBE_INPUT_MAX ? NGX_ERROR
                                                          : NGX_OK;
}


static ngx_int_t
ngx_http_health_probe_read(ngx_http_health_probe_t *probe, ngx_pool_t *pool,
    ngx_http_health_probe_result_t *res)
{
    u_char                      *data, *reason;
    size_t                       len;
    ngx_slab_pool_t             *shpool;
    ngx_http_health_probe_sh_t  *sh;

    sh = probe->sh;
    shpool = (ngx_slab_pool_t *) probe->shm_zone->shm.addr;

    /* allocate outside the lock: the data never outgrows data_size */
    data = ngx_pnalloc(pool, probe->data_size + 1);
    reason = ngx_pnalloc(pool, NGX_HTTP_HEALTH_PROBE_REASON_LEN + 1);
    if (data == NULL || reason == NULL) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    res->checked = sh->checked;
    res->status = sh->checked ? sh->status : HEALTH_UNKNOWN;
    res->response_us = sh->response_us;
    res->checked_at = sh->checked_at;
    res->changed_at = sh->changed_at;
    res->checks = sh->checks;
    res->failures = sh->failures;
    res->data_size_seen = sh->data_size_seen;

    len = ngx_min(sh->data_len, probe->data_size);
    ngx_memcpy(data, sh->data, len);
    res->data.data = data;
    res->data.len = len;

    len = ngx_min(sh->reason_len, NGX_HTTP_HEALTH_PROBE_REASON_LEN);
    ngx_memcpy(reason, sh->reason, len);
    res->reason.data = reason;
    res->reason.len = len;

    ngx_shmtx_unlock(&shpool->mutex);

    data[res->data.len] = '\0';
    reason[res->reason.len] = '\0';

    if (!res->checked) {
        ngx_str_set(&res->reason, "not probed yet");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_probe_collect(ngx_http_health_report_t *rep, void *data)
{
    ngx_array_t *probes = data;

    json_t                          *obj;
    ngx_uint_t                       i;
    ngx_http_health_probe_t        **pp;
    ngx_http_health_probe_result_t   res;

    pp = probes->elts;

    for (i = 0; i < probes->nelts; i++) {
        if (ngx_http_health_probe_read(pp[i], rep->pool, &res) != NGX_OK) {
            return NGX_ERROR;
        }

        obj = NULL;

        if (rep->root != NULL) {
            /*
             * A field that cannot be set is left out: one bad field never
             * fails the report, its status code or the publishing.
             */
            obj = json_object();

            if (obj != NULL) {
                if (res.response_us) {
                    (void) json_object_set_new(obj, "response_time_ms",
                        ngx_http_health_json_number(res.response_us / 1000.0));
                }

                (void) json_object_set_new(obj, "required",
                                           json_boolean(pp[i]->required));
                (void) ngx_http_health_json_set_text(obj, "target",
                                                     pp[i]->target.data,
                                                     pp[i]->target.len);

                if (pp[i]->json(pp[i], &res, obj) != NGX_OK) {
                    (void) json_object_set_new(obj, "fields_left_out",
                                               json_true());
                }

                if (res.reason.len) {
                    (void) ngx_http_health_json_set_text(obj, "reason",
                                                         res.reason.data,
                                                         res.reason.len);
                }

                if (res.checked) {
                    (void) json_object_set_new(obj, "checked_at",
                        ngx_http_health_probe_time_json(res.checked_at));
                    (void) json_object_set_new(obj, "since",
                        ngx_http_health_probe_time_json(res.changed_at));
                }
            }
        }

        if (ngx_http_health_report_add_dependency(rep, &pp[i]->name,
                                                  res.status, obj,
                                                  &pp[i]->hold,
                                                  pp[i]->required)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_probe_prometheus(ngx_http_health_report_t *rep, void *data)
{
    ngx_array_t *probes = data;

    u_char                          *name;
    ngx_uint_t                       i;
    ngx_http_health_probe_t        **pp;
    ngx_http_health_probe_result_t   res;

    if (ngx_http_health_printf(rep,
            "# HELP nginx_health_dependency_response_seconds Round trip of "
            "the last successful probe of a dependency.\n"
            "# TYPE nginx_health_dependency_response_seconds gauge\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pp = probes->elts;

    for (i = 0; i < probes->nelts; i++) {
        if (ngx_http_health_probe_read(pp[i], rep->pool, &res) != NGX_OK) {
            return NGX_ERROR;
        }

        /* never answered: absent, as the JSON leaves response_time_ms out */
        if (res.response_us == 0) {
            continue;
        }

        name = ngx_http_health_prom_escape(rep->pool, &pp[i]->name);
        if (name == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_health_printf(rep,
                "nginx_health_dependency_response_seconds{check=\"%s\"} "
                "%uL.%06uL\n", name,
                res.response_us / 1000000, res.response_us % 1000000)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static json_t *
ngx_http_health_probe_time_json(ngx_msec_t ms)
{
    u_char  buf[NGX_HTTP_HEALTH_ISO8601_LEN], *p;

    p = ngx_http_health_iso8601(buf, (time_t) (ms / 1000), ms % 1000);

    return json_stringn((char *) buf, p - buf);
}


void
ngx_http_health_probe_release_connection(ngx_connection_t *c,
    ngx_uint_t flags)
{
    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    /* the library closes the descriptor, never nginx */
    c->fd = (ngx_socket_t) -1;
}
