/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: verdicts that hold before they change ("for=", "recover=").
 *
 * A check given a hold reports its raw status as "pending" until that
 * status (or one at least as bad) has been seen at every evaluation for
 * "for" (worse) or "recover" (better); only then does the check's status,
 * and with it the overall status, lb, Prometheus and the Redis alerts,
 * move.  The state lives in a shared zone of its own, keyed by check name,
 * and is kept across reloads.
 */

#ifndef _NGX_HTTP_HEALTH_HOLD_H_INCLUDED_
#define _NGX_HTTP_HEALTH_HOLD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"


/* held checks a configuration may have; more are judged without a hold */
#define NGX_HTTP_HEALTH_HOLD_MAX       4096

/* a check name that long or longer is judged without its hold */
#define NGX_HTTP_HEALTH_HOLD_NAME_LEN  96

/* ,"since":"...","held_s":N,"pending":{"status":"...","until":"..."} */
#define NGX_HTTP_HEALTH_HOLD_TEXT_LEN  192


typedef struct {
    ngx_msec_t                   for_ms;         /* 0: worse at once */
    ngx_msec_t                   recover_ms;     /* 0: better at once */
} ngx_http_health_hold_t;


/* what a held check shows */
typedef struct {
    health_status_t              status;         /* the held verdict */
    health_status_t              pending;        /* when has_pending */
    ngx_uint_t                   has_pending;
    uint64_t                     since;          /* wall clock, ms */
    uint64_t                     until;          /* wall clock, ms */
    uint64_t                     held_ms;
} ngx_http_health_held_t;


#define ngx_http_health_hold_set(hold)                                        \
    ((hold) != NULL && ((hold)->for_ms || (hold)->recover_ms))


/*
 * NGX_OK: value was "for=" or "recover=" and is stored in hold;
 * NGX_DECLINED: it is neither; NGX_ERROR: invalid (logged with the
 * directive's name).  The first hold of a configuration adds the zone.
 */
ngx_int_t ngx_http_health_hold_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_health_hold_t *hold);

/*
 * Judge check "name" whose raw status is "raw": NGX_OK with *held filled
 * in, or NGX_DECLINED when the check is not held (no hold, or no room in
 * the zone): its status is the raw one then.
 */
ngx_int_t ngx_http_health_hold_eval(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t raw, ngx_http_health_hold_t *hold,
    ngx_http_health_held_t *held);

/* the members of a held check: as text (HOLD_TEXT_LEN bytes at most) ... */
u_char *ngx_http_health_hold_write(u_char *p, ngx_http_health_held_t *held);
/* ... or in its object (a member that cannot be set is left out) */
void ngx_http_health_hold_json(json_t *obj, ngx_http_health_held_t *held);

/* ngx_http_health_report_add_check() for a check with a hold */
ngx_int_t ngx_http_health_report_add_held(ngx_http_health_report_t *rep,
    ngx_str_t *name, health_status_t status, json_t *obj,
    ngx_http_health_hold_t *hold);

/*
 * ... for a dependency (a probe, an SLO): held, and without required=on
 * at most degraded for the instance; an answer for chosen checks (check=)
 * tells the dependency's own status
 */
ngx_int_t ngx_http_health_report_add_dependency(
    ngx_http_health_report_t *rep, ngx_str_t *name, health_status_t status,
    json_t *obj, ngx_http_health_hold_t *hold, ngx_flag_t required);

/* some check of this configuration is held */
#define ngx_http_health_hold_configured(hmcf)  ((hmcf)->hold_zone != NULL)

/*
 * For the verdict's timer: a held state only moves when it is judged, so
 * the report is judged at least every NGX_HTTP_HEALTH_HOLD_TICK while a
 * hold is configured.  _due() says it is time, _ticked() that it was done.
 */
#define NGX_HTTP_HEALTH_HOLD_TICK      1000      /* ms */

ngx_uint_t ngx_http_health_hold_due(ngx_http_health_main_conf_t *hmcf);
void ngx_http_health_hold_ticked(ngx_http_health_main_conf_t *hmcf);


#endif /* _NGX_HTTP_HEALTH_HOLD_H_INCLUDED_ */
