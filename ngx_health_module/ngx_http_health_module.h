/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: configuration shared by the parts of the module.
 */

#ifndef _NGX_HTTP_HEALTH_MODULE_H_INCLUDED_
#define _NGX_HTTP_HEALTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "health_histogram.h"
#include "health_status.h"


#define NGX_HTTP_HEALTH_VERSION      "0.1.0"

/* a location whose requests are not counted */
#define NGX_HTTP_HEALTH_ZONE_OFF     ((ngx_uint_t) -2)

#define NGX_HTTP_HEALTH_MAX_SHARDS   64
#define NGX_HTTP_HEALTH_MAX_SLOTS    20


typedef struct ngx_http_health_shctx_s  ngx_http_health_shctx_t;


typedef struct {
    ngx_str_t                    name;
    ngx_array_t                  rules;       /* ngx_http_health_rule_t * */
} ngx_http_health_zone_t;


typedef struct {
    ngx_str_t                    service;
    time_t                       window;         /* seconds */
    time_t                       slot_width;     /* seconds */
    ngx_uint_t                   nslots;

    /* and UINT64_MAX after the last: the fold's search needs no count */
    uint64_t                     bounds[HEALTH_HIST_MAX_BOUNDS + 1];
    ngx_str_t                    bound_labels[HEALTH_HIST_MAX_BOUNDS];
    ngx_uint_t                   nbounds;
    u_char                       bound_of[HEALTH_HIST_BUCKETS];

    ngx_array_t                  zones;          /* ngx_http_health_zone_t */
    ngx_array_t                  rules;          /* ngx_http_health_rule_t */
    ngx_array_t                  reporters;  /* ngx_http_health_reporter_t */
    ngx_array_t                  probes;    /* ngx_http_health_probe_t * */

    /* the segment's layout (ngx_http_health_shm.c), fixed at configuration */
    ngx_uint_t                   nrings;
    ngx_uint_t                   capacity;       /* blocks */
    size_t                       block_size;
    size_t                       data_size;
    uint64_t                     layout;

    /* upstream peers: blocks after the zones', then their check state */
    ngx_uint_t                   npeers;
    ngx_array_t                  peer_keys;      /* ngx_str_t, by peer */
    size_t                       upstream_size;
    uint64_t                     upstream_hash;

    ngx_shm_zone_t              *shm_zone;
    ngx_slab_pool_t             *shpool;         /* its mutex folds */
    ngx_http_health_shctx_t     *sh;
    void                        *keys;           /* blocks' names, conf */
    uint32_t                    *place;          /* block -> its place */
    u_char                      *blocks;         /* the first block */
    void                        *rings;
    void                        *ring;           /* this process' or NULL */

    uint64_t                     generation;     /* see the verdict */
    ngx_shm_zone_t              *hold_zone;      /* held checks, or NULL */
    ngx_uint_t                   status_served;  /* health_status is used */

    /* health_slo (ngx_http_health_slo.c) */
    ngx_array_t                 *slos;       /* ngx_http_health_slo_t * */
    void                       **slo_of;         /* place -> first SLO */

    /* health_redis fleet=on (ngx_http_health_fleet.c), or NULL */
    void                        *fleet;
} ngx_http_health_main_conf_t;


typedef struct {
    ngx_uint_t                   zone;           /* index or ZONE_OFF */
    ngx_uint_t                   format;         /* of health_status */
    ngx_array_t                 *checks;    /* check=, ngx_str_t, or NULL */
    ngx_uint_t                   degraded;   /* degraded=, 0: 200 */
    unsigned                     status:1;
} ngx_http_health_loc_conf_t;


extern ngx_module_t  ngx_http_health_module;


/*
 * Parse a time with an optional fraction and unit ("250ms", "2.5s",
 * "100us", "1m", "1h", "1d", a bare number is seconds) into microseconds.
 * NGX_ERROR if it is not one.
 */
ngx_int_t ngx_http_health_parse_usec(ngx_str_t *value, uint64_t *us);

/*
 * Parse a decimal number from 0 to max: digits only (no sign, no blank,
 * no hex, nothing after), overflow refused.  The one parser of every
 * count in the module's directives; NGX_ERROR if it is not one.
 */
ngx_int_t ngx_http_health_parse_uint(ngx_str_t *value, uint64_t max,
    uint64_t *n);

/*
 * A name of a zone or a check: 1 to 64 ASCII letters, digits, "_", "-"
 * or ".", so that it goes into JSON keys, Prometheus labels, HTML and
 * error.log as it is.  The one validator of names.
 */
#define NGX_HTTP_HEALTH_NAME_RULE                                             \
    "1 to 64 letters, digits, \"_\", \"-\" or \".\""

ngx_uint_t ngx_http_health_valid_name(ngx_str_t *name);


#endif /* _NGX_HTTP_HEALTH_MODULE_H_INCLUDED_ */
