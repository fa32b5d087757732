/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the PgBouncer probe (health_pgbouncer).
 */

#ifndef _NGX_HTTP_HEALTH_PGBOUNCER_H_INCLUDED_
#define _NGX_HTTP_HEALTH_PGBOUNCER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


char *ngx_http_health_pgbouncer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_HEALTH_PGBOUNCER_H_INCLUDED_ */
