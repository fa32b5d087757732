/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the PostgreSQL probe.
 *
 * libpq in its asynchronous mode, driven by the worker's event loop: the
 * connection is started with PQconnectStartParams() and advanced with
 * PQconnectPoll() whenever its socket is ready, the query is sent with
 * PQsendQuery() and read with PQconsumeInput()/PQgetResult().  The socket
 * is wrapped in an nginx connection with level-triggered events, so libpq
 * never has to drain it.  One connection is kept between probes; a timer
 * bounds every probe, and a failure closes the connection and backs off.
 *
 * libpq may close its socket and open another during PQconnectPoll() (SSL
 * or GSS fallback) or close it on an error, and the new socket may get the
 * same number: the nginx connection is therefore checked against both the
 * descriptor and the socket's inode after every libpq call that can do it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "health_status.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_pg.h"
#include "ngx_http_health_relay.h"
#include "ngx_http_health_util.h"
#include "health_text.h"


#define NGX_HTTP_HEALTH_PG_REPORT_SIZE  65536

/*
 * The session's search_path is pinned first, so nothing a database owner
 * creates (a schema named after the probe's role, an operator in public)
 * can stand in for the extension; the extension's schema is then read
 * from the catalog and its function called by that schema's name.
 */
#define NGX_HTTP_HEALTH_PG_SCHEMA_QUERY                                       \
    "SET search_path TO pg_catalog; "                                         \
    "SELECT n.nspname FROM pg_catalog.pg_extension e "                        \
    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "               \
    "WHERE e.extname = 'pg_health'"

/* a quoted identifier of up to NAMEDATALEN - 1 bytes, all quotes doubled */
#define NGX_HTTP_HEALTH_PG_SCHEMA_LEN   (2 * 64 + 2)

#define NGX_HTTP_HEALTH_PG_REPORT_OFF      0
#define NGX_HTTP_HEALTH_PG_REPORT_SUMMARY  1
#define NGX_HTTP_HEALTH_PG_REPORT_FULL     2


typedef enum {
    NGX_HTTP_HEALTH_PG_CLOSED = 0,
    NGX_HTTP_HEALTH_PG_CONNECTING,
    NGX_HTTP_HEALTH_PG_IDLE,
    NGX_HTTP_HEALTH_PG_QUERYING
} ngx_http_health_pg_state_e;


typedef struct {
    const char                 **keywords;
    const char                 **values;

    PGconn                      *conn;
    PGresult                    *res;
    ngx_connection_t            *c;
    ino_t                        ino;
    ngx_http_health_pg_state_e   state;
    ngx_uint_t                   flushing;
    ngx_uint_t                   discovering;
    ngx_uint_t                   report;
    uint64_t                     started;

    size_t                       schema_len;     /* 0: not known yet */
    u_char                       schema[NGX_HTTP_HEALTH_PG_SCHEMA_LEN];

    ngx_http_health_probe_t     *probe;

    /* NULL for health_postgres; else its queries, sent in turn */
    ngx_http_health_pg_kind_t   *kind;
    ngx_uint_t                   step;
    PGresult                    *results[NGX_HTTP_HEALTH_PG_QUERIES_MAX];

    /* libpq reads what the worker passes on, never more than the cap */
    ngx_http_health_relay_t      relay;
} ngx_http_health_pg_ctx_t;


static char *ngx_http_health_pg_conninfo(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *conninfo, ngx_http_health_pg_ctx_t *ctx, ngx_str_t *target);
static ngx_int_t ngx_http_health_pg_check_host(char *host, ngx_uint_t addr);
static void ngx_http_health_pg_run(ngx_http_health_probe_t *probe);
static u_char *ngx_http_health_pg_abort(ngx_http_health_probe_t *probe,
    u_char *buf, u_char *last);
static void ngx_http_health_pg_stop(ngx_http_health_probe_t *probe);
static ngx_int_t ngx_http_health_pg_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj);
static void ngx_http_health_pg_connect(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_connect_step(ngx_http_health_pg_ctx_t *ctx,
    PostgresPollingStatusType poll);
static void ngx_http_health_pg_send_query(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_flush(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_read(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_idle_read(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_done(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_kind_done(ngx_http_health_pg_ctx_t *ctx,
    PGresult *res, uint64_t response_us);
static void ngx_http_health_pg_evaluate(ngx_http_health_pg_ctx_t *ctx,
    PGresult *res, uint64_t response_us);
static void ngx_http_health_pg_event(ngx_event_t *ev);
static ngx_int_t ngx_http_health_pg_watch(ngx_http_health_pg_ctx_t *ctx,
    ngx_uint_t rd, ngx_uint_t wr);
static ngx_uint_t ngx_http_health_pg_connected(
    ngx_http_health_pg_ctx_t *ctx);
static ngx_uint_t ngx_http_health_pg_stale(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_overflow(void *data);
static void ngx_http_health_pg_release(ngx_http_health_pg_ctx_t *ctx,
    ngx_uint_t stale);
static void ngx_http_health_pg_close(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_fail(ngx_http_health_pg_ctx_t *ctx,
    health_status_t status, const char *fmt, ...);
static size_t ngx_http_health_pg_clean(u_char *p, size_t len);
static void ngx_http_health_pg_notice(void *arg, const char *message);
static void ngx_http_health_pg_discovered(ngx_http_health_pg_ctx_t *ctx,
    PGresult *res);
static u_char *ngx_http_health_pg_summary(ngx_http_health_pg_ctx_t *ctx,
    json_t *report, size_t *len);
static ngx_uint_t ngx_http_health_pg_safe_key(const char *key, size_t max);


char *
ngx_http_health_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                  rc;
    ngx_str_t                 *value, name;
    ngx_uint_t                 i, report;
    ngx_flag_t                 required;
    ngx_msec_t                 interval, timeout;
    ngx_http_health_hold_t     hold;
    ngx_http_health_probe_t   *probe;
    ngx_http_health_pg_ctx_t  *ctx;

    value = cf->args->elts;
    ngx_memzero(&hold, sizeof(ngx_http_health_hold_t));

    ngx_str_set(&name, "database");
    interval = 10000;
    timeout = 2000;
    required = 0;

    report = NGX_HTTP_HEALTH_PG_REPORT_SUMMARY;

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_health_probe_arg(cf, &cmd->name, &value[i], &name,
                                       &interval, &timeout, &required);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DECLINED
            && value[i].len > 7
            && ngx_strncmp(value[i].data, "report=", 7) == 0)
        {
            if (ngx_strcmp(value[i].data + 7, "summary") == 0) {
                report = NGX_HTTP_HEALTH_PG_REPORT_SUMMARY;

            } else if (ngx_strcmp(value[i].data + 7, "full") == 0) {
                report = NGX_HTTP_HEALTH_PG_REPORT_FULL;

            } else if (ngx_strcmp(value[i].data + 7, "off") == 0) {
                report = NGX_HTTP_HEALTH_PG_REPORT_OFF;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be \"report=summary\", "
                                   "\"report=full\" or \"report=off\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_health_hold_param(cf, &value[i], &hold);

            if (rc == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" directive",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    probe = ngx_http_health_pg_add(cf, cmd, &value[1], &name, NULL);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&probe->kind, "postgres");
    probe->interval = interval;
    probe->timeout = timeout;
    probe->required = required;
    probe->hold = hold;
    probe->data_size = NGX_HTTP_HEALTH_PG_REPORT_SIZE;

    ctx = probe->ctx;
    ctx->report = report;

    return NGX_CONF_OK;
}


ngx_http_health_probe_t *
ngx_http_health_pg_add(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *conninfo, ngx_str_t *name, ngx_http_health_pg_kind_t *kind)
{
    ngx_str_t                  target;
    ngx_http_health_probe_t   *probe;
    ngx_http_health_pg_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_pg_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    if (ngx_http_health_pg_conninfo(cf, cmd, conninfo, ctx, &target)
        != NGX_CONF_OK)
    {
        return NULL;
    }

    probe = ngx_http_health_probe_add(cf, name, &cmd->name);
    if (probe == NULL) {
        return NULL;
    }

    probe->target = target;
    probe->run = ngx_http_health_pg_run;
    probe->abort = ngx_http_health_pg_abort;
    probe->stop = ngx_http_health_pg_stop;
    probe->json = ngx_http_health_pg_json;
    probe->ctx = ctx;

    ctx->probe = probe;
    ctx->kind = kind;

    return probe;
}


/*
 * Keep the options as keyword/value arrays for PQconnectStartParams(), and
 * a description without the password for messages and the status.
 */
static char *
ngx_http_health_pg_conninfo(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *conninfo, ngx_http_health_pg_ctx_t *ctx, ngx_str_t *target)
{
    char                *err, *host, *hostaddr;
    u_char              *p, *last;
    size_t               len;
    ngx_uint_t           n, k, appname, gssencmode;
    PQconninfoOption    *opts, *o;

    static char  *shown[] = { "host", "hostaddr", "port", "dbname", "user",
                              NULL };

    err = NULL;

    opts = PQconninfoParse((char *) conninfo->data, &err);
    if (opts == NULL) {
        /* the string is not echoed: it may hold a password */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid connection string in \"%V\" directive: "
                           "%s", &cmd->name,
                           err ? err : "out of memory");
        PQfreemem(err);
        return NGX_CONF_ERROR;
    }

    n = 0;
    len = 0;
    host = NULL;
    hostaddr = NULL;
    appname = 0;
    gssencmode = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        n++;

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            appname = 1;

        } else if (ngx_strcmp(o->keyword, "gssencmode") == 0) {
            gssencmode = 1;
        }

        for (k = 0; shown[k]; k++) {
            if (ngx_strcmp(o->keyword, shown[k]) == 0) {
                len += ngx_strlen(o->keyword) + ngx_strlen(o->val) + 2;
            }
        }
    }

    if ((hostaddr && ngx_http_health_pg_check_host(hostaddr, 1) != NGX_OK)
        || (hostaddr == NULL && host
            && ngx_http_health_pg_check_host(host, 0) != NGX_OK))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%s=%s\" in \"%V\" directive, "
                           "libpq resolves host names synchronously, which "
                           "would block the worker: give an IP address "
                           "(host=ADDRESS or hostaddr=ADDRESS) or a socket "
                           "directory",
                           hostaddr ? "hostaddr" : "host",
                           hostaddr ? hostaddr : host, &cmd->name);
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    ctx->keywords = ngx_pcalloc(cf->pool, (n + 3) * sizeof(char *));
    ctx->values = ngx_pcalloc(cf->pool, (n + 3) * sizeof(char *));
    target->data = ngx_pnalloc(cf->pool, len + sizeof("libpq defaults"));

    if (ctx->keywords == NULL || ctx->values == NULL || target->data == NULL)
    {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    n = 0;
    p = target->data;
    last = p + len;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        ctx->keywords[n] = (char *) ngx_pstrdup(cf->pool,
                               &(ngx_str_t) { ngx_strlen(o->keyword) + 1,
                                              (u_char *) o->keyword });
        ctx->values[n] = (char *) ngx_pstrdup(cf->pool,
                               &(ngx_str_t) { ngx_strlen(o->val) + 1,
                                              (u_char *) o->val });

        if (ctx->keywords[n] == NULL || ctx->values[n] == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        n++;

        for (k = 0; shown[k]; k++) {
            if (ngx_strcmp(o->keyword, shown[k]) == 0) {
                p = ngx_slprintf(p, last, "%s%s=%s",
                                 p == target->data ? "" : " ",
                                 o->keyword, o->val);
            }
        }
    }

    PQconninfoFree(opts);

    /* it names the probe's session in pg_stat_activity */
    if (!appname) {
        ctx->keywords[n] = "application_name";
        ctx->values[n] = "nginx-health";
        n++;
    }

    /*
     * libpq's default gssencmode=prefer asks the Kerberos library for
     * credentials, synchronously, before every connection: only when the
     * connection string asks for GSS encryption
     */
    if (!gssencmode) {
        ctx->keywords[n] = "gssencmode";
        ctx->values[n] = "disable";
    }

    if (p == target->data) {
        p = ngx_cpymem(p, "libpq defaults", sizeof("libpq defaults") - 1);
    }

    target->len = p - target->data;

    return NGX_CONF_OK;
}


/* every host of a list must be an address or a socket directory */
static ngx_int_t
ngx_http_health_pg_check_host(char *host, ngx_uint_t addr)
{
    u_char   buf[sizeof(struct in6_addr)];
    char    *p, *comma, item[NGX_SOCKADDR_STRLEN + 1];
    size_t   len;

    for (p = host; /* void */ ; p = comma + 1) {
        comma = strchr(p, ',');
        len = comma ? (size_t) (comma - p) : ngx_strlen(p);

        if (len > NGX_SOCKADDR_STRLEN) {
            return NGX_ERROR;
        }

        ngx_memcpy(item, p, len);
        item[len] = '\0';

        if (!(len == 0
              || (!addr && (item[0] == '/' || item[0] == '@'))
              || inet_pton(AF_INET, item, buf) == 1
              || inet_pton(AF_INET6, item, buf) == 1))
        {
            return NGX_ERROR;
        }

        if (comma == NULL) {
            return NGX_OK;
        }
    }
}


static void
ngx_http_health_pg_run(ngx_http_health_probe_t *probe)
{
    ngx_http_health_pg_ctx_t  *ctx = probe->ctx;

    if (ctx->state == NGX_HTTP_HEALTH_PG_IDLE) {
        ngx_http_health_pg_send_query(ctx);
        return;
    }

    ngx_http_health_pg_connect(ctx);
}


static u_char *
ngx_http_health_pg_abort(ngx_http_health_probe_t *probe, u_char *buf,
    u_char *last)
{
    u_char                    *p;
    ngx_http_health_pg_ctx_t  *ctx = probe->ctx;

    if (ctx->state == NGX_HTTP_HEALTH_PG_CONNECTING) {
        p = ngx_slprintf(buf, last, "connecting to %V", &probe->target);

    } else {
        p = ngx_slprintf(buf, last, "waiting for %s from %V",
                         ctx->kind ? ctx->kind->asked : "health_report()",
                         &probe->target);
    }

    ngx_http_health_pg_close(ctx);

    return p;
}


static void
ngx_http_health_pg_stop(ngx_http_health_probe_t *probe)
{
    ngx_http_health_pg_close(probe->ctx);
}


static void
ngx_http_health_pg_connect(ngx_http_health_pg_ctx_t *ctx)
{
    ctx->conn = PQconnectStartParams(ctx->keywords, ctx->values, 0);

    if (ctx->conn == NULL) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot connect: out of memory");
        return;
    }

    if (PQstatus(ctx->conn) == CONNECTION_BAD) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot connect to %V: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
        return;
    }

    /* libpq would print notices to the worker's stderr */
    PQsetNoticeProcessor(ctx->conn, ngx_http_health_pg_notice, ctx->probe);

    if (PQsetnonblocking(ctx->conn, 1) != 0) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot connect to %V: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
        return;
    }

    ctx->state = NGX_HTTP_HEALTH_PG_CONNECTING;

    /* as libpq's documentation says: behave as if it had said "writing" */
    ngx_http_health_pg_connect_step(ctx, PGRES_POLLING_WRITING);
}


static void
ngx_http_health_pg_connect_step(ngx_http_health_pg_ctx_t *ctx,
    PostgresPollingStatusType poll)
{
    switch (poll) {

    case PGRES_POLLING_OK:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->probe->log, 0,
                       "health pg: connected to %V", &ctx->probe->target);
        ngx_http_health_pg_send_query(ctx);
        return;

    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (ngx_http_health_pg_watch(ctx, poll == PGRES_POLLING_READING,
                                     poll == PGRES_POLLING_WRITING)
            != NGX_OK)
        {
            ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                    "cannot connect to %V: %s",
                                    &ctx->probe->target,
                                    PQerrorMessage(ctx->conn));
        }

        return;

    default: /* PGRES_POLLING_FAILED */
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot connect to %V: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
    }
}


static void
ngx_http_health_pg_send_query(ngx_http_health_pg_ctx_t *ctx)
{
    char    *text;
    u_char   query[NGX_HTTP_HEALTH_PG_SCHEMA_LEN + 128], *p;

    ctx->state = NGX_HTTP_HEALTH_PG_QUERYING;

    if (ctx->kind) {
        /* the round's time runs from its first query to its last answer */
        if (ctx->step == 0) {
            ctx->started = ngx_http_health_monotonic_usec();
        }

        text = (char *) ctx->kind->queries[ctx->step];
        goto send;
    }

    ctx->started = ngx_http_health_monotonic_usec();
    ctx->discovering = (ctx->schema_len == 0);

    if (ctx->discovering) {
        p = ngx_cpymem(query, NGX_HTTP_HEALTH_PG_SCHEMA_QUERY,
                       sizeof(NGX_HTTP_HEALTH_PG_SCHEMA_QUERY) - 1);

    } else {
        /* known from an earlier connection to the same database: the
         * call fails and the next round looks again if it moved */
        p = ngx_sprintf(query, "SET search_path TO pg_catalog; "
                        "SELECT %*s.health_report()",
                        ctx->schema_len, ctx->schema);
    }

    *p = '\0';
    text = (char *) query;

send:

    if (!PQsendQuery(ctx->conn, text)) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot send the query to %V: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
        return;
    }

    ngx_http_health_pg_flush(ctx);
}


static void
ngx_http_health_pg_flush(ngx_http_health_pg_ctx_t *ctx)
{
    int  rc;

    rc = PQflush(ctx->conn);

    if (rc == -1) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "cannot send the query to %V: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
        return;
    }

    ctx->flushing = (rc == 1);

    if (ngx_http_health_pg_watch(ctx, 1, ctx->flushing) != NGX_OK) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "connection to %V lost: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
    }
}


static void
ngx_http_health_pg_read(ngx_http_health_pg_ctx_t *ctx)
{
    PGresult  *res;

    if (!PQconsumeInput(ctx->conn)) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "connection to %V lost: %s",
                                &ctx->probe->target,
                                PQerrorMessage(ctx->conn));
        return;
    }

    while (!PQisBusy(ctx->conn)) {
        res = PQgetResult(ctx->conn);

        if (res == NULL) {
            ngx_http_health_pg_done(ctx);
            return;
        }

        /* SET, then SELECT: an error sticks, else the last result */
        if (ctx->res == NULL
            || PQresultStatus(ctx->res) != PGRES_FATAL_ERROR)
        {
            PQclear(ctx->res);
            ctx->res = res;

        } else {
            PQclear(res);
        }
    }

    if (ctx->flushing) {
        ngx_http_health_pg_flush(ctx);
    }
}


/* between probes: a notice, or the server going away */
static void
ngx_http_health_pg_idle_read(ngx_http_health_pg_ctx_t *ctx)
{
    PGnotify  *n;
    PGresult  *res;

    if (!PQconsumeInput(ctx->conn) || PQstatus(ctx->conn) == CONNECTION_BAD)
    {
        ngx_log_error(NGX_LOG_INFO, ctx->probe->log, 0,
                      "health: connection of \"%V\" to %V closed, "
                      "reconnecting at the next probe",
                      &ctx->probe->name, &ctx->probe->target);
        ngx_http_health_pg_close(ctx);
        return;
    }

    while ((n = PQnotifies(ctx->conn)) != NULL) {
        PQfreemem(n);
    }

    while (!PQisBusy(ctx->conn) && (res = PQgetResult(ctx->conn)) != NULL) {
        PQclear(res);
    }
}


static void
ngx_http_health_pg_done(ngx_http_health_pg_ctx_t *ctx)
{
    uint64_t                  rt;
    PGresult                 *res;
    ngx_http_health_probe_t  *probe;

    probe = ctx->probe;
    rt = ngx_http_health_monotonic_usec() - ctx->started;

    res = ctx->res;
    ctx->res = NULL;

    if (PQstatus(ctx->conn) == CONNECTION_BAD) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                                "connection to %V lost: %s", &probe->target,
                                PQerrorMessage(ctx->conn));
        PQclear(res);
        return;
    }

    ctx->state = NGX_HTTP_HEALTH_PG_IDLE;

    if (ctx->kind) {
        ngx_http_health_pg_kind_done(ctx, res, rt);
        return;
    }

    if (ctx->discovering && res != NULL
        && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
        && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0))
    {
        /* the same round goes on with the report, under the same timer */
        ngx_http_health_pg_discovered(ctx, res);
        PQclear(res);
        return;
    }

    /* the round ends in there */
    ngx_http_health_pg_evaluate(ctx, res, rt);
    PQclear(res);

    if (ngx_http_health_pg_watch(ctx, 1, 0) != NGX_OK) {
        ngx_http_health_pg_close(ctx);
    }
}


/* an answer to one of the kind's queries: the next, or the verdict */
static void
ngx_http_health_pg_kind_done(ngx_http_health_pg_ctx_t *ctx, PGresult *res,
    uint64_t response_us)
{
    ngx_uint_t  i, n;

    ctx->results[ctx->step++] = res;

    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK
        && ctx->step < NGX_HTTP_HEALTH_PG_QUERIES_MAX
        && ctx->kind->queries[ctx->step] != NULL)
    {
        /* the same round goes on, under the same timer */
        ngx_http_health_pg_send_query(ctx);
        return;
    }

    n = ctx->step;
    ctx->step = 0;

    /* the round ends in there */
    ctx->kind->evaluate(ctx->kind, ctx->probe, ctx->conn, ctx->results, n,
                        response_us);

    for (i = 0; i < n; i++) {
        PQclear(ctx->results[i]);
        ctx->results[i] = NULL;
    }

    if (ngx_http_health_pg_watch(ctx, 1, 0) != NGX_OK) {
        ngx_http_health_pg_close(ctx);
    }
}


static void
ngx_http_health_pg_evaluate(ngx_http_health_pg_ctx_t *ctx, PGresult *res,
    uint64_t response_us)
{
    char                     *text, *sqlstate, *sep;
    int                       cut;
    u_char                    reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                    quote[64];
    u_char                   *p, *last, *summary;
    size_t                    len, n;
    json_t                   *report, *st, *checks, *v, *cst;
    const char               *key;
    json_error_t              error;
    health_status_t           status, s;
    ngx_http_health_probe_t  *probe;

    probe = ctx->probe;
    p = reason;
    last = reason + sizeof(reason);
    text = NULL;
    summary = NULL;
    len = 0;
    status = HEALTH_UNKNOWN;

    if (res == NULL) {
        p = ngx_slprintf(p, last, "no answer to health_report()");
        goto done;
    }

    if (ctx->discovering && PQresultStatus(res) == PGRES_TUPLES_OK) {
        p = ngx_slprintf(p, last, "pg_health extension is not installed "
                         "in database \"%s\" (CREATE EXTENSION "
                         "pg_health)", PQdb(ctx->conn));
        goto done;
    }

    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
        sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        /* the extension was dropped or moved: look it up again */
        ctx->schema_len = 0;

        if (sqlstate && ngx_strcmp(sqlstate, "42883") == 0) {
            p = ngx_slprintf(p, last, "pg_health extension is not installed "
                             "in database \"%s\" (CREATE EXTENSION "
                             "pg_health)", PQdb(ctx->conn));

        } else if (sqlstate && ngx_strcmp(sqlstate, "42501") == 0) {
            p = ngx_slprintf(p, last, "user \"%s\" may not call "
                             "health_report() in database \"%s\" (GRANT "
                             "pg_monitor TO %s)", PQuser(ctx->conn),
                             PQdb(ctx->conn), PQuser(ctx->conn));

        } else {
            p = ngx_slprintf(p, last, "health_report() failed: %s",
                             PQresultErrorMessage(res));
        }

        goto done;
    }

    if (PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1 || PQnfields(res) != 1
        || PQgetisnull(res, 0, 0))
    {
        p = ngx_slprintf(p, last, "health_report() did not answer one "
                         "JSON value (%s, %d rows, %d columns)",
                         PQresStatus(PQresultStatus(res)), PQntuples(res),
                         PQnfields(res));
        goto done;
    }

    text = PQgetvalue(res, 0, 0);
    len = PQgetlength(res, 0, 0);

    report = json_loadb(text, len, JSON_DECODE_ANY, &error);

    if (report == NULL) {
        p = ngx_slprintf(p, last, "health_report() did not return JSON: "
                         "%s", error.text);
        text = NULL;
        goto done;
    }

    st = json_object_get(report, "status");

    if (!json_is_object(report) || !json_is_string(st)
        || health_status_parse(json_string_value(st),
                               json_string_length(st), &status)
           != 0)
    {
        status = HEALTH_UNKNOWN;
        /* 64 bytes of the answer, cut on a character boundary */
        n = health_text_sanitize((char *) quote, sizeof(quote), text, len,
                                 HEALTH_TEXT_LINE, &cut);
        p = ngx_slprintf(p, last, "health_report() did not return the "
                         "expected report (an object with a \"status\"): "
                         "%*s%s", n, quote, cut ? "..." : "");
        json_decref(report);
        text = NULL;
        goto done;
    }

    if (status != HEALTH_HEALTHY) {
        p = ngx_slprintf(p, last, "health_report() says %s",
                         health_status_name(status));
        sep = ": ";

        checks = json_object_get(report, "checks");

        if (json_is_object(checks)) {
            json_object_foreach(checks, key, v) {
                cst = json_object_get(v, "status");

                if (json_is_string(cst)
                    && health_status_parse(json_string_value(cst),
                                           json_string_length(cst), &s) == 0
                    && s != HEALTH_HEALTHY)
                {
                    p = ngx_slprintf(p, last, "%s%s %s", sep, key,
                                     health_status_name(s));
                    sep = ", ";
                }
            }
        }
    }

    summary = NULL;

    if (ctx->report == NGX_HTTP_HEALTH_PG_REPORT_OFF) {
        text = NULL;

    } else if (ctx->report == NGX_HTTP_HEALTH_PG_REPORT_SUMMARY) {
        /* built from the answer, never passed through: no session or
         * query details, whatever the extension sends */
        summary = ngx_http_health_pg_summary(ctx, report, &len);
        text = (char *) summary;
    }

    json_decref(report);

    if (text && len > probe->data_size) {
        p = ngx_slprintf(p, last, "%sthe report of %uz bytes is over the "
                         "%uz kept, left out", p == reason ? "" : "; ",
                         len, probe->data_size);
    }

done:

    len = text ? len : 0;

    ngx_http_health_probe_end(probe, NGX_OK, status, response_us,
                              (u_char *) text, len, reason,
                              ngx_http_health_pg_clean(reason, p - reason));

    if (summary) {
        ngx_free(summary);
    }
}


static void
ngx_http_health_pg_discovered(ngx_http_health_pg_ctx_t *ctx, PGresult *res)
{
    u_char  *p, *last, *name;
    size_t   i, len;

    name = (u_char *) PQgetvalue(res, 0, 0);
    len = PQgetlength(res, 0, 0);

    p = ctx->schema;
    last = p + sizeof(ctx->schema) - 1;
    *p++ = '"';

    for (i = 0; i < len && p < last - 1; i++) {
        if (name[i] == '"') {
            *p++ = '"';
        }

        *p++ = name[i];
    }

    if (i < len) {
        ngx_http_health_pg_fail(ctx, HEALTH_UNKNOWN, "the schema name of "
                                "pg_health in %V is too long",
                                &ctx->probe->target);
        return;
    }

    *p++ = '"';
    ctx->schema_len = p - ctx->schema;

    ngx_http_health_pg_send_query(ctx);
}


/*
 * report=summary: for each check its status, the numbers it was judged on
 * (value, thresholds, counts) and its unit.  No strings but those two, no
 * lists or objects: sessions, query text, user and application names stay
 * in the database.  Returns a malloc'd JSON text, NULL if none.
 */
static u_char *
ngx_http_health_pg_summary(ngx_http_health_pg_ctx_t *ctx, json_t *report,
    size_t *len)
{
    char             *buf;
    size_t            size;
    json_t           *sum, *checks, *out, *c, *o, *v;
    const char       *key, *k, *version;
    health_status_t   s;

    sum = json_object();
    out = json_object();

    if (sum == NULL || out == NULL) {
        json_decref(sum);
        json_decref(out);
        return NULL;
    }

    (void) json_object_set_new(sum, "status",
                               json_incref(json_object_get(report, "status")));
    (void) ngx_http_health_json_set_text(sum, "database",
                                         (u_char *) PQdb(ctx->conn),
                                         ngx_strlen(PQdb(ctx->conn)));

    version = PQparameterStatus(ctx->conn, "server_version");
    if (version) {
        (void) ngx_http_health_json_set_text(sum, "server_version",
                                             (u_char *) version,
                                             ngx_min(ngx_strlen(version), 64));
    }

    v = json_object_get(report, "duration_ms");
    if (json_is_number(v)) {
        (void) json_object_set(sum, "duration_ms", v);
    }

    (void) json_object_set_new(sum, "checks", out);

    checks = json_object_get(report, "checks");

    json_object_foreach(checks, key, c) {
        if (!json_is_object(c) || !ngx_http_health_pg_safe_key(key, 64)) {
            continue;
        }

        o = json_object();
        if (o == NULL) {
            continue;
        }

        json_object_foreach(c, k, v) {
            if (!ngx_http_health_pg_safe_key(k, 64)) {
                continue;
            }

            if (ngx_strcmp(k, "status") == 0) {
                if (json_is_string(v)
                    && health_status_parse(json_string_value(v),
                                           json_string_length(v), &s) == 0)
                {
                    (void) json_object_set_new(o, k,
                                        json_string(health_status_name(s)));
                }

            } else if (ngx_strcmp(k, "unit") == 0) {
                if (json_is_string(v)
                    && ngx_http_health_pg_safe_key(json_string_value(v), 16))
                {
                    (void) json_object_set(o, k, v);
                }

            } else if (json_is_number(v) || json_is_boolean(v)
                       || json_is_null(v))
            {
                (void) json_object_set(o, k, v);
            }
        }

        (void) json_object_set_new(out, key, o);
    }

    size = json_dumpb(sum, NULL, 0, JSON_COMPACT);
    buf = (size && size <= ctx->probe->data_size)
          ? ngx_alloc(size, ctx->probe->log) : NULL;

    if (buf == NULL) {
        json_decref(sum);
        *len = size;
        return NULL;
    }

    *len = json_dumpb(sum, buf, size, JSON_COMPACT);
    json_decref(sum);

    return (u_char *) buf;
}


/* a name of letters, digits, "_" and "%" (a unit), up to max bytes */
static ngx_uint_t
ngx_http_health_pg_safe_key(const char *key, size_t max)
{
    size_t  i;

    for (i = 0; key[i]; i++) {
        if (i == max
            || !(isalnum((u_char) key[i]) || key[i] == '_'
                 || key[i] == '%'))
        {
            return 0;
        }
    }

    return i > 0;
}


static ngx_int_t
ngx_http_health_pg_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj)
{
    json_t  *report;

    if (res->data.len == 0) {
        if (res->data_size_seen > probe->data_size) {
            return json_object_set_new(obj, "report_truncated", json_true())
                   == 0 ? NGX_OK : NGX_ERROR;
        }

        return NGX_OK;
    }

    report = json_loadb((char *) res->data.data, res->data.len,
                        JSON_DECODE_ANY, NULL);
    if (report == NULL) {
        return NGX_OK;
    }

    return json_object_set_new(obj, "report", report) == 0
           ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_health_pg_event(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_health_probe_t   *probe;
    ngx_http_health_pg_ctx_t  *ctx;

    c = ev->data;
    probe = c->data;
    ctx = probe->ctx;

    switch (ctx->state) {

    case NGX_HTTP_HEALTH_PG_CONNECTING:
        ngx_http_health_pg_connect_step(ctx, PQconnectPoll(ctx->conn));
        break;

    case NGX_HTTP_HEALTH_PG_QUERYING:
        if (ev->write) {
            ngx_http_health_pg_flush(ctx);

        } else {
            ngx_http_health_pg_read(ctx);
        }

        break;

    case NGX_HTTP_HEALTH_PG_IDLE:
        if (!ev->write) {
            ngx_http_health_pg_idle_read(ctx);
        }

        break;

    default:
        return;
    }
}


/*
 * libpq makes room for a whole message as soon as its header says how
 * long it is (up to 1 GB for a row) and reads while its socket has data:
 * the relay stops at the round's cap and the connection is closed
 */
static void
ngx_http_health_pg_overflow(void *data)
{
    ngx_http_health_pg_ctx_t *ctx = data;

    u_char  reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;

    /* between rounds too: what was passed on is counted until the next */
    p = ngx_slprintf(reason, reason + sizeof(reason),
                     "%V sent more than %uz bytes in one round, "
                     "connection closed", &ctx->probe->target,
                     (size_t) NGX_HTTP_HEALTH_PROBE_INPUT_MAX);

    ngx_http_health_pg_close(ctx);

    ngx_http_health_probe_lost(ctx->probe, HEALTH_UNHEALTHY, reason,
                               p - reason);
}


/* level-triggered interest in the socket libpq has now */
static ngx_int_t
ngx_http_health_pg_watch(ngx_http_health_pg_ctx_t *ctx, ngx_uint_t rd,
    ngx_uint_t wr)
{
    int                fd;
    struct stat        st;
    ngx_connection_t  *c;

    fd = PQsocket(ctx->conn);

    if (fd < 0 || fstat(fd, &st) == -1) {
        return NGX_ERROR;
    }

    if (ctx->c && (ctx->c->fd != fd || ctx->ino != st.st_ino)) {
        ngx_http_health_pg_release(ctx, 1);
    }

    if (ctx->relay.server && st.st_ino != ctx->relay.ino) {
        /* of a socket libpq has closed (SSL or GSS fallback, next host) */
        ngx_http_health_relay_close(&ctx->relay);
    }

    if (ctx->relay.server == NULL && ngx_http_health_pg_connected(ctx)) {
        /* before libpq reads its first byte; the events were the server
         * socket's, which keeps the number no longer */
        if (ctx->c) {
            ngx_http_health_pg_release(ctx, 0);
        }

        ctx->relay.input = &ctx->probe->input;
        ctx->relay.max = NGX_HTTP_HEALTH_PROBE_INPUT_MAX;
        ctx->relay.overflow = ngx_http_health_pg_overflow;
        ctx->relay.data = ctx;
        ctx->relay.log = ctx->probe->log;

        if (ngx_http_health_relay_open(&ctx->relay, fd) != NGX_OK
            || fstat(fd, &st) == -1)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->c == NULL) {
        c = ngx_get_connection(fd, ctx->probe->log);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->data = ctx->probe;
        c->read->handler = ngx_http_health_pg_event;
        c->write->handler = ngx_http_health_pg_event;
        c->read->log = ctx->probe->log;
        c->write->log = ctx->probe->log;

        ctx->c = c;
        ctx->ino = st.st_ino;
    }

    c = ctx->c;

    if (rd && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!rd && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (wr && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!wr && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* libpq's TCP connection is made: it has sent at most, never read */
static ngx_uint_t
ngx_http_health_pg_connected(ngx_http_health_pg_ctx_t *ctx)
{
    switch (PQstatus(ctx->conn)) {
    case CONNECTION_NEEDED:
    case CONNECTION_STARTED:
    case CONNECTION_BAD:
        return 0;
    default:
        return 1;
    }
}


/* the socket of the nginx connection is no longer libpq's */
static ngx_uint_t
ngx_http_health_pg_stale(ngx_http_health_pg_ctx_t *ctx)
{
    int          fd;
    struct stat  st;

    fd = ctx->conn ? PQsocket(ctx->conn) : -1;

    return fd < 0 || fd != ctx->c->fd || fstat(fd, &st) == -1
           || st.st_ino != ctx->ino;
}


/*
 * Give the nginx connection back without closing the descriptor, which is
 * libpq's.  A stale one was closed already, and closing took it out of
 * epoll: only the flags are reset then.
 */
static void
ngx_http_health_pg_release(ngx_http_health_pg_ctx_t *ctx, ngx_uint_t stale)
{
    ngx_http_health_probe_release_connection(ctx->c,
                                    stale ? NGX_CLOSE_EVENT : NGX_LEVEL_EVENT);
    ctx->c = NULL;
}


static void
ngx_http_health_pg_close(ngx_http_health_pg_ctx_t *ctx)
{
    if (ctx->c) {
        ngx_http_health_pg_release(ctx, ngx_http_health_pg_stale(ctx));
    }

    if (ctx->res) {
        PQclear(ctx->res);
        ctx->res = NULL;
    }

    /* a sequence cut short: its answers so far */
    while (ctx->step) {
        ctx->step--;
        PQclear(ctx->results[ctx->step]);
        ctx->results[ctx->step] = NULL;
    }

    if (ctx->conn) {
        /* non-blocking: the Terminate message is sent if it fits */
        PQfinish(ctx->conn);
        ctx->conn = NULL;
    }

    ngx_http_health_relay_close(&ctx->relay);

    ctx->state = NGX_HTTP_HEALTH_PG_CLOSED;
    ctx->flushing = 0;
}


static void
ngx_http_health_pg_fail(ngx_http_health_pg_ctx_t *ctx,
    health_status_t status, const char *fmt, ...)
{
    u_char   reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    va_list  args;

    /* the message first: it may point into the connection */
    va_start(args, fmt);
    p = ngx_vslprintf(reason, reason + sizeof(reason), fmt, args);
    va_end(args);

    ngx_http_health_pg_close(ctx);

    ngx_http_health_probe_end(ctx->probe, NGX_ERROR, status, 0, NULL, 0,
                              reason,
                              ngx_http_health_pg_clean(reason, p - reason));
}


/* libpq's messages end with a newline and may span lines: one line */
static size_t
ngx_http_health_pg_clean(u_char *p, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t') {
            p[i] = ' ';
        }

        if (p[i] == ' ' && (n == 0 || p[n - 1] == ' ')) {
            continue;
        }

        p[n++] = p[i];
    }

    while (n && p[n - 1] == ' ') {
        n--;
    }

    return n;
}


static void
ngx_http_health_pg_notice(void *arg, const char *message)
{
    ngx_http_health_probe_t *probe = arg;

    u_char  buf[NGX_HTTP_HEALTH_PROBE_REASON_LEN], *p;
    u_char  line[4 * NGX_HTTP_HEALTH_PROBE_REASON_LEN], *l;

    /* the server's words: one line, valid UTF-8, escaped for the log */
    p = ngx_http_health_text_line(buf, sizeof(buf), (u_char *) message,
                                  ngx_strlen(message));
    l = ngx_http_health_log_escape(line, line + sizeof(line), buf,
                                   ngx_http_health_pg_clean(buf, p - buf));

    ngx_log_error(NGX_LOG_INFO, probe->log, 0,
                  "health: \"%V\" server notice: %*s", &probe->name,
                  l - line, line);
}
