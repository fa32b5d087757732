/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the PostgreSQL probe (health_postgres).
 */

#ifndef _NGX_HTTP_HEALTH_PG_H_INCLUDED_
#define _NGX_HTTP_HEALTH_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "ngx_http_health_probe.h"


#define NGX_HTTP_HEALTH_PG_QUERIES_MAX  4


typedef struct ngx_http_health_pg_kind_s  ngx_http_health_pg_kind_t;

/*
 * The round has its answers, one result per query sent (n of them; the
 * last may be an error or NULL, which stopped the sequence): judge them
 * and end the round with ngx_http_health_probe_end().  conn stays open.
 */
typedef void (*ngx_http_health_pg_evaluate_pt)(
    ngx_http_health_pg_kind_t *kind, ngx_http_health_probe_t *probe,
    PGconn *conn, PGresult **res, ngx_uint_t n, uint64_t response_us);

/*
 * What a libpq probe other than health_postgres asks (health_pgbouncer):
 * its queries go one after another on the probe's connection, each in
 * the simple query protocol and alone in its message (PgBouncer's admin
 * console takes no more), under the round's one deadline.  The connection,
 * the byte cap, the lease and the backoff are health_postgres's own.
 */
struct ngx_http_health_pg_kind_s {
    const char                      *asked;     /* "SHOW POOLS" */
    const char                      *queries[NGX_HTTP_HEALTH_PG_QUERIES_MAX
                                             + 1];
    ngx_http_health_pg_evaluate_pt   evaluate;
    void                            *data;
};


char *ngx_http_health_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/*
 * A probe of kind's over libpq to conninfo, named name.  The caller sets
 * its kind name, interval, timeout, required, hold and data_size.
 * Returns NULL after logging the error.
 */
ngx_http_health_probe_t *ngx_http_health_pg_add(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *conninfo, ngx_str_t *name,
    ngx_http_health_pg_kind_t *kind);


#endif /* _NGX_HTTP_HEALTH_PG_H_INCLUDED_ */
