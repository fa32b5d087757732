/*
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
#include "ngx_http_health_pg.h"


#define NGX_HTTP_HEALTH_PG_REPORT_SIZE  65536
#define NGX_HTTP_HEALTH_PG_QUERY        "SELECT health_report()"


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
    uint64_t                     started;

    ngx_event_t                  timeout;
    ngx_http_health_probe_t     *probe;
} ngx_http_health_pg_ctx_t;


static char *ngx_http_health_pg_conninfo(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *conninfo, ngx_http_health_pg_ctx_t *ctx, ngx_str_t *target);
static ngx_int_t ngx_http_health_pg_check_host(char *host, ngx_uint_t addr);
static void ngx_http_health_pg_run(ngx_http_health_probe_t *probe);
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
static void ngx_http_health_pg_evaluate(ngx_http_health_pg_ctx_t *ctx,
    PGresult *res, uint64_t response_us);
static void ngx_http_health_pg_event(ngx_event_t *ev);
static void ngx_http_health_pg_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_health_pg_watch(ngx_http_health_pg_ctx_t *ctx,
    ngx_uint_t rd, ngx_uint_t wr);
static ngx_uint_t ngx_http_health_pg_stale(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_release(ngx_http_health_pg_ctx_t *ctx,
    ngx_uint_t stale);
static void ngx_http_health_pg_close(ngx_http_health_pg_ctx_t *ctx);
static void ngx_http_health_pg_fail(ngx_http_health_pg_ctx_t *ctx,
    health_status_t status, const char *fmt, ...);
static size_t ngx_http_health_pg_clean(u_char *p, size_t len);
static void ngx_http_health_pg_notice(void *arg, const char *message);


char *
ngx_http_health_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_int_t                  rc;
    ngx_str_t                 *value, name, target;
    ngx_uint_t                 i;
    ngx_flag_t                 required;
    ngx_msec_t                 interval, timeout;
    ngx_http_health_probe_t   *probe;
    ngx_http_health_pg_ctx_t  *ctx;

    value = cf->args->elts;

    ngx_str_set(&name, "database");
    interval = 10000;
    timeout = 2000;
    required = 0;

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_health_probe_arg(cf, &cmd->name, &value[i], &name,
                                       &interval, &timeout, &required);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" directive",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_pg_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_health_pg_conninfo(cf, cmd, &value[1], ctx, &target);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    probe = ngx_http_health_probe_add(cf, &name, &cmd->name);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&probe->kind, "postgres");
    probe->target = target;
    probe->interval = interval;
    probe->timeout = timeout;
    probe->required = required;
    probe->data_size = NGX_HTTP_HEALTH_PG_REPORT_SIZE;
    probe->run = ngx_http_health_pg_run;
    probe->stop = ngx_http_health_pg_stop;
    probe->json = ngx_http_health_pg_json;
    probe->ctx = ctx;

    ctx->probe = probe;
    ctx->timeout.handler = ngx_http_health_pg_timeout;
    ctx->timeout.data = probe;
    ctx->timeout.cancelable = 1;

    return NGX_CONF_OK;
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
    ngx_uint_t           n, k, appname;
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
                           "(hostaddr=) or a socket directory",
                           hostaddr ? "hostaddr" : "host",
                           hostaddr ? hostaddr : host, &cmd->name);
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    ctx->keywords = ngx_pcalloc(cf->pool, (n + 2) * sizeof(char *));
    ctx->values = ngx_pcalloc(cf->pool, (n + 2) * sizeof(char *));
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

    probe->busy = 1;
    ctx->timeout.log = probe->log;
    ngx_add_timer(&ctx->timeout, probe->timeout);

    if (ctx->state == NGX_HTTP_HEALTH_PG_IDLE) {
        ngx_http_health_pg_send_query(ctx);
        return;
    }

    ngx_http_health_pg_connect(ctx);
}


static void
ngx_http_health_pg_stop(ngx_http_health_probe_t *probe)
{
    ngx_http_health_pg_ctx_t  *ctx = probe->ctx;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    ngx_http_health_pg_close(ctx);
    probe->busy = 0;
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
    ctx->state = NGX_HTTP_HEALTH_PG_QUERYING;
    ctx->started = ngx_http_health_probe_now_us();

    if (!PQsendQuery(ctx->conn, NGX_HTTP_HEALTH_PG_QUERY)) {
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

        if (ctx->res == NULL) {
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
    rt = ngx_http_health_probe_now_us() - ctx->started;

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

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
    probe->busy = 0;
    probe->failing = 0;

    ngx_http_health_pg_evaluate(ctx, res, rt);
    PQclear(res);

    if (ngx_http_health_pg_watch(ctx, 1, 0) != NGX_OK) {
        ngx_http_health_pg_close(ctx);
    }
}


static void
ngx_http_health_pg_evaluate(ngx_http_health_pg_ctx_t *ctx, PGresult *res,
    uint64_t response_us)
{
    char                     *text, *sqlstate, *sep;
    u_char                    reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                   *p, *last;
    size_t                    len;
    json_t                   *report, *st, *checks, *v, *cst;
    const char               *key;
    json_error_t              error;
    health_status_t           status, s;
    ngx_http_health_probe_t  *probe;

    probe = ctx->probe;
    p = reason;
    last = reason + sizeof(reason);
    text = NULL;
    len = 0;
    status = HEALTH_UNKNOWN;

    if (res == NULL) {
        p = ngx_slprintf(p, last, "no answer to health_report()");
        goto done;
    }

    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
        sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

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
        p = ngx_slprintf(p, last, "health_report() did not return the "
                         "expected report (an object with a \"status\"): "
                         "%*s%s", ngx_min(len, 64), text,
                         len > 64 ? "..." : "");
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

    json_decref(report);

    if (len > probe->data_size) {
        p = ngx_slprintf(p, last, "%sthe report of %uz bytes is over the "
                         "%uz kept, left out", p == reason ? "" : "; ",
                         len, probe->data_size);
    }

done:

    len = text ? len : 0;

    ngx_http_health_probe_set(probe, status, response_us, (u_char *) text,
                              len, reason,
                              ngx_http_health_pg_clean(reason, p - reason));
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
        return;

    case NGX_HTTP_HEALTH_PG_QUERYING:
        if (ev->write) {
            ngx_http_health_pg_flush(ctx);

        } else {
            ngx_http_health_pg_read(ctx);
        }

        return;

    case NGX_HTTP_HEALTH_PG_IDLE:
        if (!ev->write) {
            ngx_http_health_pg_idle_read(ctx);
        }

        return;

    default:
        return;
    }
}


static void
ngx_http_health_pg_timeout(ngx_event_t *ev)
{
    ngx_http_health_probe_t   *probe = ev->data;
    ngx_http_health_pg_ctx_t  *ctx = probe->ctx;

    ngx_http_health_pg_fail(ctx, HEALTH_UNHEALTHY,
                            "timed out after %Mms %s %V", probe->timeout,
                            ctx->state == NGX_HTTP_HEALTH_PG_CONNECTING
                            ? "connecting to"
                            : "waiting for health_report() from",
                            &probe->target);
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

    if (ctx->conn) {
        /* non-blocking: the Terminate message is sent if it fits */
        PQfinish(ctx->conn);
        ctx->conn = NULL;
    }

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

    if (ctx->timeout.timer_set) {
        ngx_del_timer(&ctx->timeout);
    }

    ngx_http_health_pg_close(ctx);
    ctx->probe->busy = 0;

    ngx_http_health_probe_failed(ctx->probe, status, reason,
                                 ngx_http_health_pg_clean(reason,
                                                          p - reason));
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

    p = ngx_slprintf(buf, buf + sizeof(buf), "%s", message);

    ngx_log_error(NGX_LOG_INFO, probe->log, 0,
                  "health: \"%V\" server notice: %*s", &probe->name,
                  ngx_http_health_pg_clean(buf, p - buf), buf);
}
