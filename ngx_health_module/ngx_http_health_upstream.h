/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, passive statistics and active checks.
 */

#ifndef _NGX_HTTP_HEALTH_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_HEALTH_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_module.h"


extern ngx_module_t  ngx_http_health_upstream_module;


/*
 * Called from the main module's init_main_conf, after the upstream module
 * has initialised every group and before the shared segment is sized:
 * sets hmcf->npeers, upstream_size and upstream_hash, wraps the balancers
 * and registers the reporter.
 */
char *ngx_http_health_upstream_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);


#endif /* _NGX_HTTP_HEALTH_UPSTREAM_H_INCLUDED_ */
