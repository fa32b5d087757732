/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: counting requests (the hot path).
 */

#ifndef _NGX_HTTP_HEALTH_LOG_H_INCLUDED_
#define _NGX_HTTP_HEALTH_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"


ngx_int_t ngx_http_health_log_init(ngx_conf_t *cf);

/*
 * Count one response of block (a zone, or an upstream peer: their blocks
 * are laid out alike) in this worker's shard: the histogram, the time,
 * the exact code and the window.  The one writer of a block's counters;
 * returns them for what only the caller knows (bytes).
 */
ngx_http_health_counters_t *ngx_http_health_count(
    ngx_http_health_main_conf_t *hmcf, ngx_uint_t block, ngx_uint_t status,
    uint64_t us);


#endif /* _NGX_HTTP_HEALTH_LOG_H_INCLUDED_ */
