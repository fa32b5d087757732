/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: service-level objectives and their error budgets.
 *
 *   health_slo NAME zone=Z objective=PCT [latency=TIME] [period=TIME]
 *              [required=on|off] [for=TIME] [recover=TIME];
 *
 * An SLO counts the good and all requests of its zone in wall-clock
 * minutes (three days of them) and hours (ninety days of them), in a
 * shared zone of its own whose size does not depend on its parameters:
 * nginx keeps it across a reload by itself, so old and new workers count
 * into the same buckets.  The counting is not on the hot path: the records
 * of ngx_http_health_count() are added up as they are folded (shm.c), a
 * run of records of one zone and one minute at a time.
 */

#ifndef _NGX_HTTP_HEALTH_SLO_H_INCLUDED_
#define _NGX_HTTP_HEALTH_SLO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_hold.h"
#include "ngx_http_health_shm.h"


typedef struct ngx_http_health_slo_s  ngx_http_health_slo_t;

struct ngx_http_health_slo_s {
    ngx_str_t                    name;
    ngx_str_t                    check;          /* "slo:NAME" */
    ngx_str_t                    zone_name;
    ngx_uint_t                   zone;           /* index in hmcf->zones */
    double                       objective;      /* %, 0 < objective < 100 */
    uint64_t                     latency;        /* usec; UINT64_MAX: none */
    time_t                       period;         /* seconds, whole hours */
    ngx_flag_t                   required;
    ngx_http_health_hold_t       hold;           /* for=, recover= */
    uint32_t                     definition;     /* hash of zone, latency */

    u_char                      *file;
    ngx_uint_t                   line;

    ngx_shm_zone_t              *shm_zone;
    ngx_slab_pool_t             *shpool;
    void                        *sh;

    /* this process' fold: the next SLO of the same zone */
    ngx_http_health_slo_t       *next;
};


char *ngx_http_health_slo(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_health_slo_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
void ngx_http_health_slo_init_process(ngx_cycle_t *cycle);

/* wall-clock seconds minus monotonic seconds, now: once per fold */
time_t ngx_http_health_slo_offset(void);

/*
 * A run of records of the zone whose SLOs start with slo, all ended in
 * wall-clock minute: records first .. last - 1 (their index & mask: the
 * ring's size is a power of two), bad of them bad for slo; the zone's
 * other SLOs judge them here.  Under the segment's mutex (the lock order:
 * the segment's, then an SLO's).
 */
void ngx_http_health_slo_flush(ngx_http_health_slo_t *slo, uint64_t minute,
    uint64_t bad, ngx_http_health_rec_t *recs, uint64_t first, uint64_t last,
    uint64_t mask);


#endif /* _NGX_HTTP_HEALTH_SLO_H_INCLUDED_ */
