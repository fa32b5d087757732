/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the PgBouncer probe.
 *
 * PgBouncer's pools are what "connection pool usage" means to an operator
 * who runs it.  The probe logs in to its admin console (the "pgbouncer"
 * database, as a user of admin_users or stats_users) over the PostgreSQL
 * probe's asynchronous libpq connection and asks, one statement per
 * message (the console takes no more, and no extended protocol):
 *
 *     SHOW POOLS        clients and server connections of each pool
 *     SHOW DATABASES    each database's pool_size
 *     SHOW CONFIG       default_pool_size, when a database's is missing
 *
 * Columns are looked up by name: they differ between PgBouncer versions,
 * and a missing one leaves its figure null instead of failing the answer.
 * Every field is the server's and hostile: numbers must be plain decimal,
 * names are made valid UTF-8 and cut at 64 bytes, and the pools kept are
 * the 32 fullest, with the count of the others.
 *
 * The check's value is the highest share of a pool's server connections
 * in use (sv_active against pool_size); the longest wait of a client
 * (check_postgres's pgb_pool_maxwait) is judged beside it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "health_status.h"
#include "health_text.h"
#include "health_threshold.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_pg.h"
#include "ngx_http_health_pgbouncer.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_util.h"


#define NGX_HTTP_HEALTH_PGB_DATA_SIZE   32768
#define NGX_HTTP_HEALTH_PGB_POOLS_SHOWN 32
#define NGX_HTTP_HEALTH_PGB_NAME_LEN    64

/* the admin console's own pool, not one of the operator's */
#define NGX_HTTP_HEALTH_PGB_ADMIN_DB    "pgbouncer"


typedef enum {
    NGX_HTTP_HEALTH_PGB_CL_ACTIVE = 0,
    NGX_HTTP_HEALTH_PGB_CL_WAITING,
    NGX_HTTP_HEALTH_PGB_SV_ACTIVE,
    NGX_HTTP_HEALTH_PGB_SV_IDLE,
    NGX_HTTP_HEALTH_PGB_SV_USED,
    NGX_HTTP_HEALTH_PGB_FIGURES
} ngx_http_health_pgb_figure_e;


typedef struct {
    ngx_http_health_pg_kind_t   kind;
    health_threshold_t          pool;         /* % of pool_size */
    health_threshold_t          wait;         /* seconds */
} ngx_http_health_pgb_conf_t;


typedef struct {
    char                       *database;     /* the server's bytes */
    size_t                      database_len;
    char                       *user;
    size_t                      user_len;
    int64_t                     figure[NGX_HTTP_HEALTH_PGB_FIGURES];
    int64_t                     pool_size;    /* -1: not known */
    double                      share;        /* NAN: not known */
    double                      maxwait;      /* seconds, NAN: not known */
} ngx_http_health_pgb_pool_t;


typedef struct {
    char                       *name;
    size_t                      len;
    int64_t                     pool_size;
    int64_t                     max_connections;  /* max_db_connections */
} ngx_http_health_pgb_db_t;


/* what sizes a pool: SHOW DATABASES, and SHOW CONFIG's defaults */
typedef struct {
    ngx_http_health_pgb_db_t   *dbs;          /* sorted by name */
    ngx_uint_t                  ndbs;
    int64_t                     dflt;         /* default_pool_size */
    int64_t                     max;          /* max_db_connections */
} ngx_http_health_pgb_sizes_t;


static ngx_int_t ngx_http_health_pgb_threshold(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value, ngx_http_health_pgb_conf_t *conf);
static void ngx_http_health_pgb_evaluate(ngx_http_health_pg_kind_t *kind,
    ngx_http_health_probe_t *probe, PGconn *conn, PGresult **res,
    ngx_uint_t n, uint64_t response_us);
static ngx_int_t ngx_http_health_pgb_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj);
static ngx_int_t ngx_http_health_pgb_pools(PGresult **res, ngx_uint_t n,
    ngx_http_health_pgb_pool_t **pools, ngx_uint_t *npools, ngx_log_t *log);
static int64_t ngx_http_health_pgb_size(ngx_http_health_pgb_sizes_t *sizes,
    ngx_http_health_pgb_pool_t *pl);
static u_char *ngx_http_health_pgb_judge(ngx_http_health_pgb_conf_t *conf,
    ngx_http_health_pgb_pool_t *pools, ngx_uint_t n, u_char *p,
    u_char *last, health_status_t *status);
static ngx_http_health_pgb_db_t *ngx_http_health_pgb_databases(
    PGresult *res, ngx_uint_t *n, ngx_log_t *log);
static int64_t ngx_http_health_pgb_setting(PGresult *res, const char *name);
static int64_t ngx_http_health_pgb_int(PGresult *res, int row, int col);
static int ngx_http_health_pgb_db_cmp(const void *a, const void *b);
static int ngx_http_health_pgb_pool_cmp(const void *a, const void *b);
static u_char *ngx_http_health_pgb_render(ngx_http_health_pgb_conf_t *conf,
    PGconn *conn, ngx_http_health_pgb_pool_t *pools, ngx_uint_t n,
    size_t *len, ngx_log_t *log);
static json_t *ngx_http_health_pgb_number(int64_t v);
static ngx_int_t ngx_http_health_pgb_prometheus(ngx_http_health_report_t *rep,
    void *data);
static ngx_int_t ngx_http_health_pgb_series(ngx_http_health_report_t *rep,
    u_char *check, json_t *pool, const char *metric, const char *state,
    const char *field);
static json_t *ngx_http_health_pgb_text(char *src, size_t len);


static const char  *ngx_http_health_pgb_columns[] = {
    "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used"
};


char *
ngx_http_health_pgbouncer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                     rc;
    ngx_str_t                    *value, name;
    ngx_uint_t                    i;
    ngx_flag_t                    required;
    ngx_msec_t                    interval, timeout;
    ngx_http_health_hold_t        hold;
    ngx_http_health_probe_t      *probe, **pp;
    ngx_http_health_reporter_t    reporter;
    ngx_http_health_pgb_conf_t   *pcf;
    ngx_http_health_main_conf_t  *hmcf = conf;

    value = cf->args->elts;
    ngx_memzero(&hold, sizeof(ngx_http_health_hold_t));

    pcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_pgb_conf_t));
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "pgbouncer");
    interval = 10000;
    timeout = 2000;
    required = 0;

    /* the guides' connection pool thresholds; check_postgres's
     * pgb_pool_maxwait has none of its own */
    pcf->pool.warning = 80;
    pcf->pool.critical = 95;
    pcf->pool.direction = HEALTH_HIGHER_IS_WORSE;
    pcf->wait.warning = 1;
    pcf->wait.critical = 5;
    pcf->wait.direction = HEALTH_HIGHER_IS_WORSE;

    for (i = 2; i < cf->args->nelts; i++) {
        rc = ngx_http_health_probe_arg(cf, &cmd->name, &value[i], &name,
                                       &interval, &timeout, &required);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_health_pgb_threshold(cf, cmd, &value[i], pcf);
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_health_hold_param(cf, &value[i], &hold);
        }

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

    if (pcf->pool.warning > pcf->pool.critical
        || pcf->wait.warning > pcf->wait.critical)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thresholds in \"%V\" directive, %s",
                           &cmd->name,
                           pcf->pool.warning > pcf->pool.critical
                           ? "pool_warning is above pool_critical"
                           : "wait_warning is above wait_critical");
        return NGX_CONF_ERROR;
    }

    pcf->kind.asked = "SHOW POOLS";
    pcf->kind.queries[0] = "SHOW POOLS";
    pcf->kind.queries[1] = "SHOW DATABASES";
    pcf->kind.queries[2] = "SHOW CONFIG";
    pcf->kind.evaluate = ngx_http_health_pgb_evaluate;
    pcf->kind.data = pcf;

    /* one reporter writes the series of every health_pgbouncer */
    pp = hmcf->probes.elts;

    for (i = 0; i < hmcf->probes.nelts; i++) {
        if (pp[i]->json == ngx_http_health_pgb_json) {
            break;
        }
    }

    if (i == hmcf->probes.nelts) {
        reporter.collect = NULL;
        reporter.prometheus = ngx_http_health_pgb_prometheus;
        reporter.data = &hmcf->probes;

        if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    probe = ngx_http_health_pg_add(cf, cmd, &value[1], &name, &pcf->kind);
    if (probe == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&probe->kind, "pgbouncer");
    probe->interval = interval;
    probe->timeout = timeout;
    probe->required = required;
    probe->hold = hold;
    probe->data_size = NGX_HTTP_HEALTH_PGB_DATA_SIZE;
    probe->json = ngx_http_health_pgb_json;

    return NGX_CONF_OK;
}


/* pool_warning=PCT, pool_critical=PCT, wait_warning=TIME, wait_critical= */
static ngx_int_t
ngx_http_health_pgb_threshold(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_http_health_pgb_conf_t *conf)
{
    char        err[128];
    double     *pct, *sec;
    size_t      len;
    uint64_t    us;
    ngx_str_t   s;

    pct = NULL;
    sec = NULL;

    if (value->len > 13 && ngx_strncmp(value->data, "pool_warning=", 13) == 0)
    {
        pct = &conf->pool.warning;
        len = 13;

    } else if (value->len > 14
               && ngx_strncmp(value->data, "pool_critical=", 14) == 0)
    {
        pct = &conf->pool.critical;
        len = 14;

    } else if (value->len > 13
               && ngx_strncmp(value->data, "wait_warning=", 13) == 0)
    {
        sec = &conf->wait.warning;
        len = 13;

    } else if (value->len > 14
               && ngx_strncmp(value->data, "wait_critical=", 14) == 0)
    {
        sec = &conf->wait.critical;
        len = 14;

    } else {
        return NGX_DECLINED;
    }

    if (pct) {
        if (health_parse_percent((char *) value->data + len,
                                 value->len - len, pct, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be a percentage from 0 to 100",
                               value, &cmd->name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    s.data = value->data + len;
    s.len = value->len - len;

    if (ngx_http_health_parse_usec(&s, &us) != NGX_OK
        || us == 0 || us > 3600000000ULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time from 1us to 1h",
                           value, &cmd->name);
        return NGX_ERROR;
    }

    *sec = us / 1e6;

    return NGX_OK;
}


static void
ngx_http_health_pgb_evaluate(ngx_http_health_pg_kind_t *kind,
    ngx_http_health_probe_t *probe, PGconn *conn, PGresult **res,
    ngx_uint_t n, uint64_t response_us)
{
    u_char                       reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                      *p, *last, *data;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_uint_t                   i, npools;
    health_status_t              status;
    ngx_http_health_pgb_pool_t  *pools;
    ngx_http_health_pgb_conf_t  *conf = kind->data;

    p = reason;
    last = reason + sizeof(reason);
    data = NULL;
    len = 0;
    pools = NULL;
    npools = 0;
    status = HEALTH_UNKNOWN;

    for (i = 0; i < n; i++) {
        if (res[i] == NULL || PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
            break;
        }
    }

    if (i == 0) {
        if (res[0] == NULL) {
            p = ngx_slprintf(p, last, "no answer to %s", kind->queries[0]);

        } else if (PQresultStatus(res[0]) == PGRES_FATAL_ERROR) {
            p = ngx_slprintf(p, last, "%s failed: %s", kind->queries[0],
                             PQresultErrorMessage(res[0]));

        } else {
            p = ngx_slprintf(p, last, "%s did not answer rows (%s)",
                             kind->queries[0],
                             PQresStatus(PQresultStatus(res[0])));
        }

        goto done;
    }

    /* a later query that failed leaves the pool sizes unknown, only */
    rc = ngx_http_health_pgb_pools(res, i, &pools, &npools, probe->log);

    if (rc == NGX_DECLINED) {
        p = ngx_slprintf(p, last, "SHOW POOLS answered no \"database\" "
                         "column: is %V PgBouncer's admin console?",
                         &probe->target);
        goto done;
    }

    if (rc == NGX_ERROR) {
        p = ngx_slprintf(p, last, "out of memory");
        goto done;
    }

    p = ngx_http_health_pgb_judge(conf, pools, npools, p, last, &status);

    data = ngx_http_health_pgb_render(conf, conn, pools, npools, &len,
                                      probe->log);

done:

    ngx_http_health_probe_end(probe, NGX_OK, status, response_us,
                              data, data ? len : 0, reason, p - reason);

    if (data) {
        ngx_free(data);
    }

    if (pools) {
        ngx_free(pools);
    }
}


/*
 * The pools of SHOW POOLS (res[0]) but the console's own, with their
 * sizes from SHOW DATABASES (res[1]) and SHOW CONFIG (res[2]) when n says
 * they answered; sorted fullest first.  NGX_DECLINED: no "database"
 * column.  *pools is malloc'd.
 */
static ngx_int_t
ngx_http_health_pgb_pools(PGresult **res, ngx_uint_t n,
    ngx_http_health_pgb_pool_t **pools, ngx_uint_t *npools, ngx_log_t *log)
{
    int                          rows, row, col[NGX_HTTP_HEALTH_PGB_FIGURES];
    int                          cdb, cuser, cwait, cwait_us;
    int64_t                      mw, us;
    ngx_uint_t                   k, np;
    ngx_http_health_pgb_pool_t  *pl;
    ngx_http_health_pgb_sizes_t  sizes;

    rows = PQntuples(res[0]);
    cdb = PQfnumber(res[0], "database");
    cuser = PQfnumber(res[0], "user");
    cwait = PQfnumber(res[0], "maxwait");
    cwait_us = PQfnumber(res[0], "maxwait_us");

    if (cdb < 0) {
        return NGX_DECLINED;
    }

    for (k = 0; k < NGX_HTTP_HEALTH_PGB_FIGURES; k++) {
        col[k] = PQfnumber(res[0], ngx_http_health_pgb_columns[k]);
    }

    if (rows <= 0) {
        return NGX_OK;
    }

    *pools = ngx_alloc(rows * sizeof(ngx_http_health_pgb_pool_t), log);
    if (*pools == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&sizes, sizeof(ngx_http_health_pgb_sizes_t));
    sizes.dflt = -1;
    sizes.max = -1;

    if (n > 1) {
        sizes.dbs = ngx_http_health_pgb_databases(res[1], &sizes.ndbs, log);
    }

    if (n > 2) {
        sizes.dflt = ngx_http_health_pgb_setting(res[2], "default_pool_size");
        sizes.max = ngx_http_health_pgb_setting(res[2], "max_db_connections");
    }

    np = 0;

    for (row = 0; row < rows; row++) {
        if (PQgetisnull(res[0], row, cdb)) {
            continue;
        }

        pl = &(*pools)[np];
        pl->database = PQgetvalue(res[0], row, cdb);
        pl->database_len = PQgetlength(res[0], row, cdb);

        if (pl->database_len == sizeof(NGX_HTTP_HEALTH_PGB_ADMIN_DB) - 1
            && ngx_memcmp(pl->database, NGX_HTTP_HEALTH_PGB_ADMIN_DB,
                          pl->database_len) == 0)
        {
            continue;
        }

        pl->user = NULL;
        pl->user_len = 0;

        if (cuser >= 0 && !PQgetisnull(res[0], row, cuser)) {
            pl->user = PQgetvalue(res[0], row, cuser);
            pl->user_len = PQgetlength(res[0], row, cuser);
        }

        for (k = 0; k < NGX_HTTP_HEALTH_PGB_FIGURES; k++) {
            pl->figure[k] = ngx_http_health_pgb_int(res[0], row, col[k]);
        }

        pl->pool_size = ngx_http_health_pgb_size(&sizes, pl);

        pl->share = NAN;

        if (pl->pool_size > 0
            && pl->figure[NGX_HTTP_HEALTH_PGB_SV_ACTIVE] >= 0)
        {
            pl->share = pl->figure[NGX_HTTP_HEALTH_PGB_SV_ACTIVE] * 100.0
                        / pl->pool_size;
        }

        mw = ngx_http_health_pgb_int(res[0], row, cwait);
        us = ngx_http_health_pgb_int(res[0], row, cwait_us);

        pl->maxwait = NAN;

        if (mw >= 0) {
            pl->maxwait = mw + ((us >= 0 && us < 1000000) ? us / 1e6 : 0);
        }

        np++;
    }

    if (sizes.dbs) {
        ngx_free(sizes.dbs);
    }

    ngx_qsort(*pools, np, sizeof(ngx_http_health_pgb_pool_t),
              ngx_http_health_pgb_pool_cmp);

    *npools = np;

    return NGX_OK;
}


/* the database's pool_size, else the default, capped by max_db_connections */
static int64_t
ngx_http_health_pgb_size(ngx_http_health_pgb_sizes_t *sizes,
    ngx_http_health_pgb_pool_t *pl)
{
    int64_t                    size, max;
    ngx_http_health_pgb_db_t  *db, key;

    size = -1;
    max = -1;

    if (sizes->dbs) {
        key.name = pl->database;
        key.len = pl->database_len;

        db = bsearch(&key, sizes->dbs, sizes->ndbs,
                     sizeof(ngx_http_health_pgb_db_t),
                     ngx_http_health_pgb_db_cmp);

        if (db) {
            size = db->pool_size;
            max = db->max_connections;
        }
    }

    /* none of their own: the defaults, as PgBouncer takes them */
    if (size <= 0) {
        size = sizes->dflt > 0 ? sizes->dflt : -1;
    }

    if (max <= 0) {
        max = sizes->max;
    }

    /* max_db_connections stops the pool from growing to its size */
    if (max > 0 && size > max) {
        size = max;
    }

    return size;
}


/*
 * The fullest pool against the pool thresholds, the longest wait against
 * the wait thresholds: the worse is the status, the reason names the
 * pools.  unknown only when no pool's share is known.
 */
static u_char *
ngx_http_health_pgb_judge(ngx_http_health_pgb_conf_t *conf,
    ngx_http_health_pgb_pool_t *pools, ngx_uint_t n, u_char *p,
    u_char *last, health_status_t *status)
{
    u_char                      *start;
    ngx_uint_t                   i;
    health_status_t              s;
    ngx_http_health_pgb_pool_t  *fullest, *longest;

    start = p;
    fullest = NULL;
    longest = NULL;

    for (i = 0; i < n; i++) {
        /* sorted: the first with a share is the fullest */
        if (fullest == NULL && !isnan(pools[i].share)) {
            fullest = &pools[i];
        }

        if (!isnan(pools[i].maxwait)
            && (longest == NULL || pools[i].maxwait > longest->maxwait))
        {
            longest = &pools[i];
        }
    }

    *status = HEALTH_HEALTHY;

    if (n && fullest == NULL) {
        *status = HEALTH_UNKNOWN;
        p = ngx_slprintf(p, last, "the share of the pools in use is not "
                         "known: SHOW POOLS or SHOW DATABASES lacks "
                         "sv_active or pool_size");
    }

    s = fullest ? health_threshold_eval(&conf->pool, fullest->share)
                : HEALTH_HEALTHY;

    if (s != HEALTH_HEALTHY) {
        p = ngx_slprintf(p, last, "%spool %*s/%*s uses %L of %L server "
                         "connections", p == start ? "" : "; ",
                         ngx_min(fullest->database_len,
                                 NGX_HTTP_HEALTH_PGB_NAME_LEN),
                         fullest->database,
                         ngx_min(fullest->user_len,
                                 NGX_HTTP_HEALTH_PGB_NAME_LEN),
                         fullest->user ? fullest->user : "",
                         fullest->figure[NGX_HTTP_HEALTH_PGB_SV_ACTIVE],
                         fullest->pool_size);
        *status = health_status_worst(*status, s);
    }

    s = longest ? health_threshold_eval(&conf->wait, longest->maxwait)
                : HEALTH_HEALTHY;

    if (s != HEALTH_HEALTHY) {
        p = ngx_slprintf(p, last, "%sa client of pool %*s/%*s has waited "
                         "%.3f s for a server connection",
                         p == start ? "" : "; ",
                         ngx_min(longest->database_len,
                                 NGX_HTTP_HEALTH_PGB_NAME_LEN),
                         longest->database,
                         ngx_min(longest->user_len,
                                 NGX_HTTP_HEALTH_PGB_NAME_LEN),
                         longest->user ? longest->user : "",
                         longest->maxwait);
        *status = health_status_worst(*status, s);
    }

    return p;
}


/* SHOW DATABASES: name and pool_size, sorted by name for the lookups */
static ngx_http_health_pgb_db_t *
ngx_http_health_pgb_databases(PGresult *res, ngx_uint_t *n, ngx_log_t *log)
{
    int                        rows, row, cname, csize, cmax;
    ngx_uint_t                 k;
    ngx_http_health_pgb_db_t  *dbs;

    rows = PQntuples(res);
    cname = PQfnumber(res, "name");
    csize = PQfnumber(res, "pool_size");
    cmax = PQfnumber(res, "max_connections");

    if (rows <= 0 || cname < 0 || csize < 0) {
        return NULL;
    }

    dbs = ngx_alloc(rows * sizeof(ngx_http_health_pgb_db_t), log);
    if (dbs == NULL) {
        return NULL;
    }

    k = 0;

    for (row = 0; row < rows; row++) {
        if (PQgetisnull(res, row, cname)) {
            continue;
        }

        dbs[k].name = PQgetvalue(res, row, cname);
        dbs[k].len = PQgetlength(res, row, cname);
        dbs[k].pool_size = ngx_http_health_pgb_int(res, row, csize);
        dbs[k].max_connections = ngx_http_health_pgb_int(res, row, cmax);
        k++;
    }

    ngx_qsort(dbs, k, sizeof(ngx_http_health_pgb_db_t),
              ngx_http_health_pgb_db_cmp);

    *n = k;

    return dbs;
}


/* SHOW CONFIG: the number a setting has, -1 if none */
static int64_t
ngx_http_health_pgb_setting(PGresult *res, const char *name)
{
    size_t  len;

    int  rows, row, ckey, cvalue;

    rows = PQntuples(res);
    ckey = PQfnumber(res, "key");
    cvalue = PQfnumber(res, "value");

    if (ckey < 0 || cvalue < 0) {
        return -1;
    }

    len = ngx_strlen(name);

    for (row = 0; row < rows; row++) {
        if ((size_t) PQgetlength(res, row, ckey) == len
            && ngx_memcmp(PQgetvalue(res, row, ckey), name, len) == 0)
        {
            return ngx_http_health_pgb_int(res, row, cvalue);
        }
    }

    return -1;
}


/* a plain non-negative decimal the server sent, -1 for anything else */
static int64_t
ngx_http_health_pgb_int(PGresult *res, int row, int col)
{
    int    len;
    off_t  v;

    if (col < 0 || PQgetisnull(res, row, col)) {
        return -1;
    }

    len = PQgetlength(res, row, col);

    if (len <= 0 || len > 18) {
        return -1;
    }

    v = ngx_atoof((u_char *) PQgetvalue(res, row, col), len);

    return v == NGX_ERROR ? -1 : (int64_t) v;
}


static int
ngx_http_health_pgb_db_cmp(const void *one, const void *two)
{
    int                              rc;
    const ngx_http_health_pgb_db_t  *a = one, *b = two;

    rc = ngx_memcmp(a->name, b->name, ngx_min(a->len, b->len));

    if (rc != 0) {
        return rc;
    }

    return (a->len > b->len) - (a->len < b->len);
}


/* the fullest first; then the most clients waiting, the longest wait */
static int
ngx_http_health_pgb_pool_cmp(const void *one, const void *two)
{
    double                             x, y;
    const ngx_http_health_pgb_pool_t  *a = one, *b = two;

    x = isnan(a->share) ? -1 : a->share;
    y = isnan(b->share) ? -1 : b->share;

    if (x != y) {
        return x > y ? -1 : 1;
    }

    if (a->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING]
        != b->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING])
    {
        return a->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING]
               > b->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING] ? -1 : 1;
    }

    x = isnan(a->maxwait) ? -1 : a->maxwait;
    y = isnan(b->maxwait) ? -1 : b->maxwait;

    return (x < y) - (x > y);
}


static json_t *
ngx_http_health_pgb_number(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}


/*
 * The check's fields, a JSON text of at most the probe's data_size: the
 * names are cut to 64 bytes of valid UTF-8 and at most 32 pools listed.
 * Returns a malloc'd text, NULL if none.
 */
static u_char *
ngx_http_health_pgb_render(ngx_http_health_pgb_conf_t *conf, PGconn *conn,
    ngx_http_health_pgb_pool_t *pools, ngx_uint_t n, size_t *len,
    ngx_log_t *log)
{
    char                        *buf;
    size_t                       size;
    json_t                      *doc, *list, *o;
    int64_t                      waiting;
    ngx_uint_t                   i, k;
    const char                  *version;
    ngx_http_health_pgb_pool_t  *pl, *fullest, *longest;

    doc = json_object();
    list = json_array();

    if (doc == NULL || list == NULL) {
        json_decref(doc);
        json_decref(list);
        return NULL;
    }

    version = PQparameterStatus(conn, "server_version");
    if (version) {
        (void) json_object_set_new(doc, "server_version",
            ngx_http_health_pgb_text((char *) version,
                                     ngx_min(ngx_strlen(version), 64)));
    }

    waiting = 0;
    fullest = NULL;
    longest = NULL;

    for (i = 0; i < n; i++) {
        pl = &pools[i];

        if (pl->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING] > 0) {
            waiting += pl->figure[NGX_HTTP_HEALTH_PGB_CL_WAITING];
        }

        if (!isnan(pl->share) && fullest == NULL) {
            fullest = pl;    /* sorted: the first with a share */
        }

        if (!isnan(pl->maxwait)
            && (longest == NULL || pl->maxwait > longest->maxwait))
        {
            longest = pl;
        }
    }

    (void) json_object_set_new(doc, "value", fullest
                               ? ngx_http_health_json_number(fullest->share)
                               : json_null());
    (void) json_object_set_new(doc, "unit", json_string("%"));
    (void) json_object_set_new(doc, "warning",
                               ngx_http_health_json_number(conf->pool.warning));
    (void) json_object_set_new(doc, "critical",
                            ngx_http_health_json_number(conf->pool.critical));
    (void) json_object_set_new(doc, "wait_warning_seconds",
                               ngx_http_health_json_number(conf->wait.warning));
    (void) json_object_set_new(doc, "wait_critical_seconds",
                            ngx_http_health_json_number(conf->wait.critical));
    (void) json_object_set_new(doc, "clients_waiting", json_integer(waiting));
    (void) json_object_set_new(doc, "maxwait_seconds", longest
                               ? ngx_http_health_json_number(longest->maxwait)
                               : json_null());

    if (fullest) {
        o = json_object();

        if (o) {
            (void) json_object_set_new(o, "database",
                ngx_http_health_pgb_text(fullest->database,
                                         fullest->database_len));
            (void) json_object_set_new(o, "user",
                ngx_http_health_pgb_text(fullest->user, fullest->user_len));
            (void) json_object_set_new(doc, "fullest", o);
        }
    }

    (void) json_object_set_new(doc, "pools_total", json_integer(n));
    (void) json_object_set_new(doc, "pools_omitted",
        json_integer(n > NGX_HTTP_HEALTH_PGB_POOLS_SHOWN
                     ? n - NGX_HTTP_HEALTH_PGB_POOLS_SHOWN : 0));
    (void) json_object_set_new(doc, "pools", list);

    for (i = 0; i < n && i < NGX_HTTP_HEALTH_PGB_POOLS_SHOWN; i++) {
        pl = &pools[i];

        o = json_object();
        if (o == NULL) {
            continue;
        }

        (void) json_object_set_new(o, "database",
            ngx_http_health_pgb_text(pl->database, pl->database_len));
        (void) json_object_set_new(o, "user",
            ngx_http_health_pgb_text(pl->user, pl->user_len));

        for (k = 0; k < NGX_HTTP_HEALTH_PGB_FIGURES; k++) {
            (void) json_object_set_new(o, ngx_http_health_pgb_columns[k],
                                  ngx_http_health_pgb_number(pl->figure[k]));
        }

        (void) json_object_set_new(o, "pool_size",
                                  ngx_http_health_pgb_number(pl->pool_size));
        (void) json_object_set_new(o, "use_percent", isnan(pl->share)
                                   ? json_null()
                                   : ngx_http_health_json_number(pl->share));
        (void) json_object_set_new(o, "maxwait_seconds", isnan(pl->maxwait)
                                   ? json_null()
                                   : ngx_http_health_json_number(pl->maxwait));

        (void) json_array_append_new(list, o);
    }

    size = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    buf = size ? ngx_alloc(size, log) : NULL;

    if (buf == NULL) {
        json_decref(doc);
        return NULL;
    }

    *len = json_dumpb(doc, buf, size, JSON_COMPACT);
    json_decref(doc);

    return (u_char *) buf;
}


/* a name of the server's, one line of valid UTF-8, at most 64 bytes */
static json_t *
ngx_http_health_pgb_text(char *src, size_t len)
{
    char    buf[NGX_HTTP_HEALTH_PGB_NAME_LEN];
    size_t  n;

    if (src == NULL) {
        return json_null();
    }

    n = health_text_sanitize(buf, sizeof(buf), src, len, HEALTH_TEXT_LINE,
                             NULL);

    return json_stringn(buf, n);
}


static ngx_int_t
ngx_http_health_pgb_json(ngx_http_health_probe_t *probe,
    ngx_http_health_probe_result_t *res, json_t *obj)
{
    json_t  *doc;

    if (res->data.len == 0) {
        return NGX_OK;
    }

    doc = json_loadb((char *) res->data.data, res->data.len, 0, NULL);
    if (doc == NULL) {
        return NGX_OK;
    }

    if (json_object_update(obj, doc) != 0) {
        json_decref(doc);
        return NGX_ERROR;
    }

    json_decref(doc);

    return NGX_OK;
}


/*
 * Prometheus: the listed pools of every health_pgbouncer, read back from
 * the check's fields.  A family's lines come together, so each family
 * goes through all the checks; a null figure has no line.
 */
static ngx_int_t
ngx_http_health_pgb_prometheus(ngx_http_health_report_t *rep, void *data)
{
    ngx_array_t *probes = data;

    u_char                      *buf, **names;
    size_t                       len;
    json_t                     **docs, *pools, *pool;
    ngx_int_t                    rc;
    ngx_uint_t                   i, f, k, n;
    ngx_slab_pool_t             *shpool;
    ngx_http_health_probe_t    **pp;
    ngx_http_health_probe_sh_t  *sh;

    static const char  *families[][4] = {
        { "server_connections", "active", "sv_active",
          "Server connections of a PgBouncer pool, by state." },
        { "server_connections", "idle", "sv_idle", NULL },
        { "server_connections", "used", "sv_used", NULL },
        { "clients", "active", "cl_active",
          "Clients of a PgBouncer pool, by state." },
        { "clients", "waiting", "cl_waiting", NULL },
        { "size", NULL, "pool_size",
          "Server connections a PgBouncer pool may open." },
        { "maxwait_seconds", NULL, "maxwait_seconds",
          "Longest wait of a client of a PgBouncer pool." }
    };

    pp = probes->elts;
    n = probes->nelts;

    docs = ngx_pcalloc(rep->pool, n * sizeof(json_t *));
    names = ngx_pcalloc(rep->pool, n * sizeof(u_char *));

    if (docs == NULL || names == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (pp[i]->json != ngx_http_health_pgb_json) {
            continue;
        }

        sh = pp[i]->sh;
        shpool = (ngx_slab_pool_t *) pp[i]->shm_zone->shm.addr;

        buf = ngx_pnalloc(rep->pool, pp[i]->data_size);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        ngx_shmtx_lock(&shpool->mutex);

        len = sh->checked ? ngx_min(sh->data_len, pp[i]->data_size) : 0;
        ngx_memcpy(buf, sh->data, len);

        ngx_shmtx_unlock(&shpool->mutex);

        if (len == 0) {
            continue;
        }

        docs[i] = json_loadb((char *) buf, len, 0, NULL);
        names[i] = ngx_http_health_prom_escape(rep->pool, &pp[i]->name);

        if (names[i] == NULL) {
            json_decref(docs[i]);
            docs[i] = NULL;
        }
    }

    rc = NGX_OK;

    for (f = 0; rc == NGX_OK && f < sizeof(families) / sizeof(families[0]);
         f++)
    {
        if (families[f][3]
            && ngx_http_health_printf(rep,
                   "# HELP nginx_health_pgbouncer_pool_%s %s\n"
                   "# TYPE nginx_health_pgbouncer_pool_%s gauge\n",
                   families[f][0], families[f][3], families[f][0])
               != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }

        for (i = 0; rc == NGX_OK && i < n; i++) {
            pools = docs[i] ? json_object_get(docs[i], "pools") : NULL;

            json_array_foreach(pools, k, pool) {
                if (ngx_http_health_pgb_series(rep, names[i], pool,
                                               families[f][0],
                                               families[f][1],
                                               families[f][2])
                    != NGX_OK)
                {
                    rc = NGX_ERROR;
                    break;
                }
            }
        }
    }

    for (i = 0; i < n; i++) {
        json_decref(docs[i]);
    }

    return rc;
}


static ngx_int_t
ngx_http_health_pgb_series(ngx_http_health_report_t *rep, u_char *check,
    json_t *pool, const char *metric, const char *state, const char *field)
{
    u_char     *db, *user;
    json_t     *v, *d, *u;
    ngx_str_t   s;

    v = json_object_get(pool, field);
    d = json_object_get(pool, "database");
    u = json_object_get(pool, "user");

    if (!json_is_number(v) || !json_is_string(d)) {
        return NGX_OK;
    }

    /* the names were made valid UTF-8 when kept; escaped here */
    s.data = (u_char *) json_string_value(d);
    s.len = json_string_length(d);
    db = ngx_http_health_prom_escape(rep->pool, &s);

    s.data = (u_char *) (json_is_string(u) ? json_string_value(u) : "");
    s.len = json_is_string(u) ? json_string_length(u) : 0;
    user = ngx_http_health_prom_escape(rep->pool, &s);

    if (db == NULL || user == NULL) {
        return NGX_ERROR;
    }

    if (json_is_integer(v)) {
        return ngx_http_health_printf(rep,
                   "nginx_health_pgbouncer_pool_%s{check=\"%s\","
                   "database=\"%s\",user=\"%s\"%s%s%s} %L\n",
                   metric, check, db, user,
                   state ? ",state=\"" : "", state ? state : "",
                   state ? "\"" : "", (int64_t) json_integer_value(v));
    }

    return ngx_http_health_printf(rep,
               "nginx_health_pgbouncer_pool_%s{check=\"%s\","
               "database=\"%s\",user=\"%s\"%s%s%s} %.6f\n",
               metric, check, db, user,
               state ? ",state=\"" : "", state ? state : "",
               state ? "\"" : "", json_number_value(v));
}
