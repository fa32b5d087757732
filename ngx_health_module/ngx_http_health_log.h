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

#endif /* _NGX_HTTP_HEALTH_LOG_H_INCLUDED_ */
