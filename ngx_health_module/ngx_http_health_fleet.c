/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the fleet view through Redis.
 *
 * Publishing: every round SET prefix:instance:SERVICE (with version,
 * uptime_s, config_hash and interval_s) is followed by
 * ZADD prefix:instances <unix time> SERVICE, a registry scored by the time
 * each instance was last seen.
 *
 * Reading (fleet=on, the probe's owner, after publishing, never a
 * request): ZREMRANGEBYSCORE drops the members older than the gone time,
 * ZREVRANGEBYSCORE ... LIMIT reads at most NGX_HTTP_HEALTH_FLEET_MAX of the
 * newest, and one GETRANGE per member reads at most
 * NGX_HTTP_HEALTH_FLEET_VALUE_MAX bytes of its instance key: Redis itself
 * bounds what comes back, so the reading stays well under the probe's cap
 * of a round.  Every instance is parsed on its own, known fields with sane
 * types are kept, text is made one line of valid UTF-8 and cut; an
 * instance that cannot be read is shown "unknown" with the reason, never
 * failing the others.  The reading goes to a zone of its own as JSON text
 * with the time it was read; the status location serves it and judges
 * staleness when it serves.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>
#include <stdlib.h>

#include "health_status.h"
#include "health_text.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_probe.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_fleet.h"


#define NGX_HTTP_HEALTH_FLEET_MAX        64      /* instances read */
#define NGX_HTTP_HEALTH_FLEET_VALUE_MAX  8192    /* bytes of one instance */
#define NGX_HTTP_HEALTH_FLEET_MEMBER_MAX 256     /* bytes of a member */
#define NGX_HTTP_HEALTH_FLEET_NAME_MAX   128     /* bytes of a shown name */
#define NGX_HTTP_HEALTH_FLEET_TEXT_MAX   64      /* version, error */
#define NGX_HTTP_HEALTH_FLEET_CHECKS     32      /* non-healthy checks kept */
#define NGX_HTTP_HEALTH_FLEET_SIZE       (1024 * 1024)

#define NGX_HTTP_HEALTH_FLEET_STALE      3       /* intervals */
#define NGX_HTTP_HEALTH_FLEET_STALE_MIN  5000    /* ms */
#define NGX_HTTP_HEALTH_FLEET_GONE       10      /* intervals */
#define NGX_HTTP_HEALTH_FLEET_GONE_MIN   60000   /* ms */

/* the configuration files hashed: bounds of a sane configuration */
#define NGX_HTTP_HEALTH_FLEET_FILES      1024
#define NGX_HTTP_HEALTH_FLEET_DEPTH      16
#define NGX_HTTP_HEALTH_FLEET_FILE_MAX   (16 * 1024 * 1024)


/* the last reading, in the zone */
typedef struct {
    ngx_msec_t                   read_at;        /* wall clock ms, 0: never */
    ngx_uint_t                   omitted;        /* members not shown */
    size_t                       error_len;
    u_char                       error[256];
    size_t                       len;
    u_char                       text[1];        /* JSON: name -> object */
} ngx_http_health_fleet_sh_t;


typedef struct {
    ngx_http_health_fleet_t     *fleet;
    u_char                      *member;
    size_t                       len;
    double                       score;
} ngx_http_health_fleet_slot_t;


struct ngx_http_health_fleet_s {
    ngx_flag_t                   enabled;
    ngx_msec_t                   gone;           /* 0: the default */
    ngx_uint_t                   warning;        /* % */
    ngx_uint_t                   critical;
    u_char                       config_hash[16];

    ngx_str_t                    prefix;
    ngx_http_health_probe_t     *probe;
    ngx_http_health_main_conf_t *hmcf;
    redisAsyncContext          **acp;

    ngx_shm_zone_t              *shm_zone;
    ngx_http_health_fleet_sh_t  *sh;

    /* this worker's reading under way */
    redisAsyncContext           *ac;
    ngx_pool_t                  *pool;
    json_t                      *instances;
    ngx_uint_t                   omitted;
    ngx_uint_t                   pending;
    ngx_http_health_fleet_slot_t slots[NGX_HTTP_HEALTH_FLEET_MAX];
};


/* an instance as served, and the counts the fleet is judged on */
typedef struct {
    ngx_uint_t                   total;
    ngx_uint_t                   bad;            /* unhealthy/unknown/stale */
    ngx_uint_t                   stale;
    ngx_uint_t                   unhealthy;
    ngx_msec_t                   read_at;
    ngx_uint_t                   omitted;
    ngx_str_t                    error;
    json_t                      *instances;      /* served form */
    health_status_t              status;
} ngx_http_health_fleet_view_t;


static ngx_int_t ngx_http_health_fleet_pct(ngx_str_t *v, ngx_uint_t *pct);
static uint64_t ngx_http_health_fleet_hash_file(ngx_conf_t *cf,
    ngx_str_t *name, uint64_t h, ngx_uint_t depth, ngx_uint_t *files);
static uint64_t ngx_http_health_fleet_hash_include(ngx_conf_t *cf,
    u_char *arg, size_t len, uint64_t h, ngx_uint_t depth,
    ngx_uint_t *files);
static ngx_int_t ngx_http_health_fleet_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_msec_t ngx_http_health_fleet_gone(ngx_http_health_fleet_t *fleet);
static void ngx_http_health_fleet_log_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_http_health_fleet_ours(ngx_http_health_fleet_t *fleet,
    redisAsyncContext *ac, redisReply *reply);
static void ngx_http_health_fleet_drop(ngx_http_health_fleet_t *fleet);
static void ngx_http_health_fleet_range_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_health_fleet_value_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static json_t *ngx_http_health_fleet_instance(u_char *v, size_t len,
    const char *error);
static void ngx_http_health_fleet_done(ngx_http_health_fleet_t *fleet,
    u_char *error, size_t error_len);
static ngx_int_t ngx_http_health_fleet_view(ngx_http_health_fleet_t *fleet,
    ngx_pool_t *pool, ngx_http_health_fleet_view_t *view);
static json_t *ngx_http_health_fleet_time(ngx_msec_t ms);
static ngx_int_t ngx_http_health_fleet_collect(ngx_http_health_report_t *rep,
    void *data);
static ngx_int_t ngx_http_health_fleet_prometheus(ngx_http_request_t *r,
    ngx_http_health_fleet_view_t *view, ngx_chain_t **out, off_t *length);
static u_char *ngx_http_health_fleet_label(ngx_pool_t *pool,
    const char *v);
static ngx_int_t ngx_http_health_fleet_send(ngx_http_request_t *r,
    ngx_uint_t status, char *type, u_char *body, size_t len);


static ngx_uint_t  ngx_http_health_fleet_tag;


ngx_int_t
ngx_http_health_fleet_param(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_health_fleet_t **fleetp)
{
    uint64_t                  us;
    ngx_str_t                 v;
    ngx_uint_t               *pct;
    ngx_http_health_fleet_t  *fleet;

    if (!(arg->len > 6 && ngx_strncmp(arg->data, "fleet", 5) == 0
          && (arg->data[5] == '=' || arg->data[5] == '_')))
    {
        return NGX_DECLINED;
    }

    fleet = *fleetp;

    if (fleet == NULL) {
        fleet = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_fleet_t));
        if (fleet == NULL) {
            return NGX_ERROR;
        }

        fleet->warning = 25;
        fleet->critical = 50;
        *fleetp = fleet;
    }

    if (ngx_strncmp(arg->data, "fleet=", 6) == 0) {
        v.data = arg->data + 6;
        v.len = arg->len - 6;

        if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
            fleet->enabled = 1;
            return NGX_OK;
        }

        if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
            fleet->enabled = 0;
            return NGX_OK;
        }

        goto invalid;
    }

    if (arg->len > 11 && ngx_strncmp(arg->data, "fleet_gone=", 11) == 0) {
        v.data = arg->data + 11;
        v.len = arg->len - 11;

        if (ngx_http_health_parse_usec(&v, &us) != NGX_OK
            || us < 2000000 || us > 86400ULL * 1000000)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\", fleet_gone must be a "
                               "time from 2s to 1d", arg);
            return NGX_ERROR;
        }

        fleet->gone = (ngx_msec_t) (us / 1000);
        return NGX_OK;
    }

    if (arg->len > 14 && ngx_strncmp(arg->data, "fleet_warning=", 14) == 0) {
        v.data = arg->data + 14;
        v.len = arg->len - 14;
        pct = &fleet->warning;

    } else if (arg->len > 15
               && ngx_strncmp(arg->data, "fleet_critical=", 15) == 0)
    {
        v.data = arg->data + 15;
        v.len = arg->len - 15;
        pct = &fleet->critical;

    } else {
        return NGX_DECLINED;
    }

    if (ngx_http_health_fleet_pct(&v, pct) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be a percentage "
                           "from 1 to 100", arg);
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\", fleet is \"on\" or \"off\"",
                       arg);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_health_fleet_pct(ngx_str_t *v, ngx_uint_t *pct)
{
    uint64_t  n;

    if (v->len && v->data[v->len - 1] == '%') {
        v->len--;
    }

    if (ngx_http_health_parse_uint(v, 100, &n) != NGX_OK || n == 0) {
        return NGX_ERROR;
    }

    *pct = (ngx_uint_t) n;

    return NGX_OK;
}


char *
ngx_http_health_fleet_init(ngx_conf_t *cf, ngx_http_health_fleet_t **fleetp,
    ngx_http_health_probe_t *probe, ngx_str_t *prefix, ngx_flag_t publish,
    redisAsyncContext **acp)
{
    uint64_t                      h;
    ngx_str_t                     name;
    ngx_uint_t                    files;
    ngx_http_health_fleet_t      *fleet;
    ngx_http_health_reporter_t    reporter;
    ngx_http_health_main_conf_t  *hmcf;

    fleet = *fleetp;

    if (fleet == NULL) {
        fleet = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_fleet_t));
        if (fleet == NULL) {
            return NGX_CONF_ERROR;
        }

        fleet->warning = 25;
        fleet->critical = 50;
        *fleetp = fleet;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_health_module);

    fleet->prefix = *prefix;
    fleet->probe = probe;
    fleet->hmcf = hmcf;
    fleet->acp = acp;

    if (fleet->warning > fleet->critical) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fleet_warning=%ui is above fleet_critical=%ui",
                           fleet->warning, fleet->critical);
        return NGX_CONF_ERROR;
    }

    if (publish) {
        /* FNV-1a 64 of the files nginx read, in the order it read them */
        files = 0;
        h = ngx_http_health_fleet_hash_file(cf, &cf->cycle->conf_file,
                                            0xcbf29ce484222325ULL, 0,
                                            &files);
        ngx_sprintf(fleet->config_hash, "%016uxL", h);
    }

    if (!fleet->enabled) {
        return NGX_CONF_OK;
    }

    if (!publish) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fleet=on needs publish=on: the instance reads "
                           "the fleet after publishing itself");
        return NGX_CONF_ERROR;
    }

    if (hmcf->fleet != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fleet=on is already set by another "
                           "\"health_redis\"");
        return NGX_CONF_ERROR;
    }

    hmcf->fleet = fleet;

    ngx_str_set(&name, "health_fleet");

    fleet->shm_zone = ngx_shared_memory_add(cf, &name,
                                            NGX_HTTP_HEALTH_FLEET_SIZE
                                            + 8 * ngx_pagesize,
                                            &ngx_http_health_fleet_tag);
    if (fleet->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    fleet->shm_zone->init = ngx_http_health_fleet_init_zone;
    fleet->shm_zone->data = fleet;

    reporter.collect = ngx_http_health_fleet_collect;
    reporter.prometheus = NULL;
    reporter.data = fleet;

    if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The bytes of a configuration file, then of the files its "include"
 * directives name, recursively, in the order nginx reads them.  The
 * tokens are found the way nginx splits them (quotes, backslash escapes,
 * comments); a file that cannot be read hashes as its name and a marker.
 */
static uint64_t
ngx_http_health_fleet_hash_file(ngx_conf_t *cf, ngx_str_t *name, uint64_t h,
    ngx_uint_t depth, ngx_uint_t *files)
{
    u_char           *buf, *p, *last, *word, quote, arg[NGX_MAX_PATH];
    size_t            size, wlen, alen;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_uint_t        words, include, k;
    ngx_file_t        file;
    ngx_file_info_t   fi;

#define ngx_http_health_fnv(s, len)                                           \
    for (k = 0; k < (len); k++) {                                             \
        h ^= ((u_char *) (s))[k];                                             \
        h *= 0x100000001b3ULL;                                                \
    }

    if (depth > NGX_HTTP_HEALTH_FLEET_DEPTH
        || ++*files > NGX_HTTP_HEALTH_FLEET_FILES)
    {
        return h;
    }

    buf = NULL;
    size = 0;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd != NGX_INVALID_FILE) {
        if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
            && ngx_file_size(&fi) <= NGX_HTTP_HEALTH_FLEET_FILE_MAX)
        {
            size = (size_t) ngx_file_size(&fi);
            buf = ngx_alloc(size + 1, cf->log);
        }

        if (buf != NULL) {
            ngx_memzero(&file, sizeof(ngx_file_t));
            file.fd = fd;
            file.name = *name;
            file.log = cf->log;

            n = ngx_read_file(&file, buf, size, 0);
            size = n < 0 ? 0 : (size_t) n;
        }

        (void) ngx_close_file(fd);
    }

    if (buf == NULL) {
        ngx_http_health_fnv(name->data, name->len);
        ngx_http_health_fnv("\0unreadable", sizeof("\0unreadable") - 1);
        return h;
    }

    ngx_http_health_fnv(buf, size);

    /* the statements "include ARG;" of the file */
    p = buf;
    last = buf + size;
    words = 0;
    include = 0;
    alen = 0;

    while (p < last) {

        if (*p == '#') {
            while (p < last && *p != '\n') {
                p++;
            }
            continue;
        }

        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
            continue;
        }

        if (*p == ';' || *p == '{' || *p == '}') {
            if (*p == ';' && include && words == 2) {
                h = ngx_http_health_fleet_hash_include(cf, arg, alen, h,
                                                       depth, files);
            }

            words = 0;
            include = 0;
            p++;
            continue;
        }

        /* a word, quoted or not; its text goes to arg when it is one */
        quote = (*p == '"' || *p == '\'') ? *p++ : 0;
        word = p;
        wlen = 0;

        while (p < last) {
            if (quote ? *p == quote
                      : (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'
                         || *p == ';' || *p == '{' || *p == '}'))
            {
                break;
            }

            if (*p == '\\' && p + 1 < last) {
                p++;
            }

            if (words == 1 && include && wlen < sizeof(arg) - 1) {
                arg[wlen] = *p;
            }

            wlen++;
            p++;
        }

        if (quote && p < last) {
            p++;
        }

        if (words == 0) {
            include = (p - word == 7 && ngx_strncmp(word, "include", 7) == 0);

        } else if (words == 1 && include) {
            alen = ngx_min(wlen, sizeof(arg) - 1);
        }

        words++;
    }

    ngx_free(buf);

    return h;

#undef ngx_http_health_fnv
}


static uint64_t
ngx_http_health_fleet_hash_include(ngx_conf_t *cf, u_char *arg, size_t len,
    uint64_t h, ngx_uint_t depth, ngx_uint_t *files)
{
    ngx_str_t   name, file;
    ngx_glob_t  gl;

    name.data = ngx_pnalloc(cf->temp_pool, len + 1);
    if (name.data == NULL) {
        return h;
    }

    *ngx_cpymem(name.data, arg, len) = '\0';
    name.len = len;

    /* relative to the configuration's prefix, as nginx takes it */
    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return h;
    }

    if (strpbrk((char *) name.data, "*?[") == NULL) {
        return ngx_http_health_fleet_hash_file(cf, &name, h, depth + 1,
                                               files);
    }

    ngx_memzero(&gl, sizeof(ngx_glob_t));
    gl.pattern = name.data;
    gl.log = cf->log;
    gl.test = 1;

    if (ngx_open_glob(&gl) != NGX_OK) {
        return h;
    }

    for ( ;; ) {
        if (ngx_read_glob(&gl, &file) != NGX_OK) {
            break;
        }

        /* with its NUL, for ngx_open_file() */
        file.len++;
        file.data = ngx_pstrdup(cf->temp_pool, &file);
        if (file.data == NULL) {
            break;
        }

        file.len--;

        h = ngx_http_health_fleet_hash_file(cf, &file, h, depth + 1, files);
    }

    ngx_close_glob(&gl);

    return h;
}


static ngx_int_t
ngx_http_health_fleet_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_health_fleet_t  *ofleet = data;

    ngx_slab_pool_t          *shpool;
    ngx_http_health_fleet_t  *fleet;

    fleet = shm_zone->data;

    if (ofleet != NULL) {
        /* the same fixed size: the reading carries over a reload */
        fleet->sh = ofleet->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    fleet->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_health_fleet_sh_t)
                                        + NGX_HTTP_HEALTH_FLEET_SIZE);
    if (fleet->sh == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_health_fleet_fields(ngx_http_health_fleet_t *fleet, json_t *msg)
{
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = fleet->hmcf;

    (void) json_object_set_new(msg, "version",
                               json_string(NGX_HTTP_HEALTH_VERSION));
    (void) json_object_set_new(msg, "uptime_s",
                               json_integer(hmcf->sh
                                   ? ngx_http_health_monotonic_sec()
                                     - hmcf->sh->started
                                   : 0));
    (void) json_object_set_new(msg, "config_hash",
                               json_stringn((char *) fleet->config_hash, 16));
    (void) json_object_set_new(msg, "interval_s",
                               ngx_http_health_json_number(
                                   fleet->probe->interval / 1000.0));
}


void
ngx_http_health_fleet_register(ngx_http_health_fleet_t *fleet,
    redisAsyncContext *ac, ngx_str_t *service)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    (void) redisAsyncCommand(ac, ngx_http_health_fleet_log_reply, "ZADD",
                             "ZADD %b:instances %lld.%03d %b",
                             fleet->prefix.data, fleet->prefix.len,
                             (long long) tp->sec, (int) tp->msec,
                             service->data, service->len);
}


static ngx_msec_t
ngx_http_health_fleet_gone(ngx_http_health_fleet_t *fleet)
{
    if (fleet->gone) {
        return fleet->gone;
    }

    return ngx_max(NGX_HTTP_HEALTH_FLEET_GONE_MIN,
                   NGX_HTTP_HEALTH_FLEET_GONE * fleet->probe->interval);
}


void
ngx_http_health_fleet_read(ngx_http_health_fleet_t *fleet)
{
    double              min;
    ngx_time_t         *tp;
    redisAsyncContext  *ac;

    if (fleet == NULL || !fleet->enabled || fleet->sh == NULL) {
        return;
    }

    ac = *fleet->acp;

    /* no connection, or the last reading has not come back yet */
    if (ac == NULL || fleet->ac != NULL) {
        return;
    }

    tp = ngx_timeofday();
    min = tp->sec + tp->msec / 1000.0
          - ngx_http_health_fleet_gone(fleet) / 1000.0;

    fleet->pool = ngx_create_pool(4096, fleet->probe->log);
    if (fleet->pool == NULL) {
        return;
    }

    fleet->instances = json_object();
    if (fleet->instances == NULL) {
        ngx_destroy_pool(fleet->pool);
        fleet->pool = NULL;
        return;
    }

    fleet->omitted = 0;
    fleet->pending = 0;
    fleet->ac = ac;

    if (redisAsyncCommand(ac, ngx_http_health_fleet_log_reply,
                          "ZREMRANGEBYSCORE",
                          "ZREMRANGEBYSCORE %b:instances -inf (%.3f",
                          fleet->prefix.data, fleet->prefix.len, min)
           != REDIS_OK
        || redisAsyncCommand(ac, ngx_http_health_fleet_range_reply, fleet,
                             "ZREVRANGEBYSCORE %b:instances +inf (%.3f "
                             "WITHSCORES LIMIT 0 %d",
                             fleet->prefix.data, fleet->prefix.len, min,
                             NGX_HTTP_HEALTH_FLEET_MAX)
           != REDIS_OK)
    {
        ngx_http_health_fleet_drop(fleet);
    }
}


void
ngx_http_health_fleet_stop(ngx_http_health_fleet_t *fleet)
{
    if (fleet != NULL && fleet->ac != NULL) {
        ngx_http_health_fleet_drop(fleet);
    }
}


/* publishing and pruning: an error is logged, nothing more */
static void
ngx_http_health_fleet_log_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply  *reply = r;

    u_char  text[800], *p;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    p = ngx_http_health_log_escape(text, text + sizeof(text),
                                   (u_char *) reply->str,
                                   ngx_min(reply->len, 200));

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "health: %s of the fleet failed: %*s", (char *) privdata,
                  p - text, text);
}


/* NGX_OK: a reply of the reading under way on the probe's connection */
static ngx_int_t
ngx_http_health_fleet_ours(ngx_http_health_fleet_t *fleet,
    redisAsyncContext *ac, redisReply *reply)
{
    if (ac != fleet->ac) {
        return NGX_DECLINED;
    }

    if (reply == NULL || ac != *fleet->acp) {
        /* the connection goes: so does the reading */
        ngx_http_health_fleet_drop(fleet);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_health_fleet_drop(ngx_http_health_fleet_t *fleet)
{
    fleet->ac = NULL;
    fleet->pending = 0;

    if (fleet->instances) {
        json_decref(fleet->instances);
        fleet->instances = NULL;
    }

    if (fleet->pool) {
        ngx_destroy_pool(fleet->pool);
        fleet->pool = NULL;
    }
}


static void
ngx_http_health_fleet_range_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply               *reply = r;
    ngx_http_health_fleet_t  *fleet = privdata;

    u_char                        num[64], *p;
    size_t                        i, n;
    double                        score;
    redisReply                   *m, *s;
    ngx_http_health_fleet_slot_t *slot;

    if (ngx_http_health_fleet_ours(fleet, ac, reply) != NGX_OK) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        p = ngx_http_health_text_line(num, sizeof(num), (u_char *) reply->str,
                                      reply->len);
        ngx_http_health_fleet_done(fleet, num, p - num);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_health_fleet_done(fleet, (u_char *) "the registry's reply "
                                   "is not an array", 34);
        return;
    }

    n = 0;

    for (i = 0; i + 1 < (size_t) reply->elements
                && n < NGX_HTTP_HEALTH_FLEET_MAX; i += 2)
    {
        m = reply->element[i];
        s = reply->element[i + 1];

        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING
            || m->len == 0 || m->len > NGX_HTTP_HEALTH_FLEET_MEMBER_MAX
            || s->len == 0 || s->len >= sizeof(num))
        {
            fleet->omitted++;
            continue;
        }

        *ngx_cpymem(num, s->str, s->len) = '\0';
        score = strtod((char *) num, (char **) &p);

        if (p != num + s->len || !isfinite(score) || score < 0
            || score > 1e11)
        {
            fleet->omitted++;
            continue;
        }

        slot = &fleet->slots[n];
        slot->fleet = fleet;
        slot->score = score;
        slot->len = m->len;
        slot->member = ngx_pnalloc(fleet->pool, m->len);
        if (slot->member == NULL) {
            fleet->omitted++;
            continue;
        }

        ngx_memcpy(slot->member, m->str, m->len);

        if (redisAsyncCommand(ac, ngx_http_health_fleet_value_reply, slot,
                              "GETRANGE %b:instance:%b 0 %d",
                              fleet->prefix.data, fleet->prefix.len,
                              slot->member, slot->len,
                              NGX_HTTP_HEALTH_FLEET_VALUE_MAX)
            != REDIS_OK)
        {
            ngx_http_health_fleet_drop(fleet);
            return;
        }

        n++;
        fleet->pending++;
    }

    if (fleet->pending == 0) {
        ngx_http_health_fleet_done(fleet, NULL, 0);
    }
}


static void
ngx_http_health_fleet_value_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                   *reply = r;
    ngx_http_health_fleet_slot_t *slot = privdata;

    u_char                   name[NGX_HTTP_HEALTH_FLEET_NAME_MAX], *p;
    json_t                  *obj;
    const char              *error;
    ngx_http_health_fleet_t *fleet;

    fleet = slot->fleet;

    if (ngx_http_health_fleet_ours(fleet, ac, reply) != NGX_OK) {
        return;
    }

    error = NULL;

    if (reply->type != REDIS_REPLY_STRING) {
        /* a key of another type answers WRONGTYPE */
        error = "the instance key is not a string";

    } else if (reply->len == 0) {
        error = "the instance key is missing";

    } else if (reply->len > NGX_HTTP_HEALTH_FLEET_VALUE_MAX) {
        error = "the instance key is larger than 8192 bytes";
    }

    obj = ngx_http_health_fleet_instance((u_char *) reply->str,
                                         error ? 0 : reply->len, error);

    p = ngx_http_health_text_line(name, sizeof(name) - 1, slot->member,
                                  slot->len);
    *p = '\0';

    if (obj == NULL || json_object_get(fleet->instances, (char *) name)) {
        /* two members that show as one name: the newest stays */
        fleet->omitted++;

        if (obj) {
            json_decref(obj);
        }

    } else {
        (void) json_object_set_new(obj, "last_seen_ms",
                     json_integer((json_int_t) (slot->score * 1000 + 0.5)));
        (void) json_object_set_new(fleet->instances, (char *) name, obj);
    }

    if (--fleet->pending == 0) {
        ngx_http_health_fleet_done(fleet, NULL, 0);
    }
}


/* the known fields with sane types of one instance's JSON */
static json_t *
ngx_http_health_fleet_instance(u_char *v, size_t len, const char *error)
{
    u_char       text[NGX_HTTP_HEALTH_FLEET_NAME_MAX], *p;
    double       d;
    size_t       i, n;
    json_t      *obj, *j, *f, *checks, *val;
    ngx_uint_t   left, other;
    const char  *key, *s, *st, *st_all;

    static const char  *names[] = {
        "healthy", "degraded", "unhealthy", "unknown"
    };

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    j = NULL;

    if (error == NULL) {
        j = json_loadb((char *) v, len, 0, NULL);

        if (j == NULL || !json_is_object(j)) {
            error = "the instance key is not a JSON object";
        }
    }

    if (error != NULL) {
        (void) json_object_set_new(obj, "status", json_string("unknown"));
        (void) json_object_set_new(obj, "error", json_string(error));

        if (j) {
            json_decref(j);
        }

        return obj;
    }

    st = "unknown";
    s = json_string_value(json_object_get(j, "status"));

    for (i = 0; s && i < 4; i++) {
        if (ngx_strcmp(s, names[i]) == 0) {
            st = names[i];
        }
    }

    (void) json_object_set_new(obj, "status", json_string(st));
    st_all = st;

    f = json_object_get(j, "version");

    if (json_is_string(f)) {
        p = ngx_http_health_text_line(text, NGX_HTTP_HEALTH_FLEET_TEXT_MAX,
                                      (u_char *) json_string_value(f),
                                      json_string_length(f));
        (void) json_object_set_new(obj, "version",
                                   json_stringn((char *) text, p - text));
    }

    f = json_object_get(j, "uptime_s");

    if (json_is_integer(f) && json_integer_value(f) >= 0) {
        (void) json_object_set_new(obj, "uptime_s",
                                   json_integer(json_integer_value(f)));
    }

    f = json_object_get(j, "config_hash");
    s = json_string_value(f);

    if (s != NULL) {
        n = json_string_length(f);

        for (i = 0; i < n; i++) {
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            {
                break;
            }
        }

        if (n > 0 && n <= 16 && i == n) {
            (void) json_object_set_new(obj, "config_hash", json_string(s));
        }
    }

    f = json_object_get(j, "interval_s");

    if (json_is_number(f)) {
        d = json_number_value(f);

        if (isfinite(d) && d >= 0.001 && d <= 86400) {
            (void) json_object_set_new(obj, "interval_s", json_real(d));
        }
    }

    /* the non-healthy checks, a bounded number of them */
    checks = json_object();
    f = json_object_get(j, "checks");
    left = 0;
    n = 0;

    if (checks != NULL && json_is_object(f)) {
        json_object_foreach(f, key, val) {
            s = json_string_value(val);
            st = "unknown";

            for (i = 0; s && i < 4; i++) {
                if (ngx_strcmp(s, names[i]) == 0) {
                    st = names[i];
                }
            }

            if (st == names[0]) {
                continue;
            }

            if (n == NGX_HTTP_HEALTH_FLEET_CHECKS) {
                left++;
                continue;
            }

            p = ngx_http_health_text_line(text, sizeof(text) - 1,
                                          (u_char *) key, ngx_strlen(key));
            *p = '\0';

            if (json_object_get(checks, (char *) text) == NULL) {
                (void) json_object_set_new(checks, (char *) text,
                                           json_string(st));
                n++;
            }
        }
    }

    /*
     * An instance whose status is bad only for its own fleet check is not
     * counted bad: with required=on every instance would otherwise keep
     * every other one unhealthy, for good.
     */
    if (checks != NULL && left == 0
        && (ngx_strcmp(st_all, "unhealthy") == 0
            || ngx_strcmp(st_all, "unknown") == 0))
    {
        other = 0;

        json_object_foreach(checks, key, val) {
            if (ngx_strcmp(key, "fleet") != 0
                && ngx_strcmp(json_string_value(val), st_all) == 0)
            {
                other = 1;
            }
        }

        if (!other && json_object_get(checks, "fleet") != NULL) {
            (void) json_object_set_new(obj, "fleet_only", json_true());
        }
    }

    if (checks != NULL) {
        (void) json_object_set_new(obj, "checks", checks);
    }

    if (left) {
        (void) json_object_set_new(obj, "checks_left_out", json_integer(left));
    }

    json_decref(j);

    return obj;
}


/* the reading is complete: into the zone, as text */
static void
ngx_http_health_fleet_done(ngx_http_health_fleet_t *fleet, u_char *error,
    size_t error_len)
{
    char              *text;
    size_t             len;
    ngx_time_t        *tp;
    ngx_slab_pool_t   *shpool;
    const char        *key, *last;
    json_t            *val;

    text = NULL;

    if (error == NULL) {
        for ( ;; ) {
            text = json_dumps(fleet->instances,
                              JSON_COMPACT | JSON_SORT_KEYS);

            if (text == NULL) {
                break;
            }

            len = ngx_strlen(text);

            if (len <= NGX_HTTP_HEALTH_FLEET_SIZE) {
                break;
            }

            /* cannot happen with the bounds above: shed the last one */
            free(text);
            text = NULL;

            last = NULL;

            json_object_foreach(fleet->instances, key, val) {
                last = key;
            }

            if (last == NULL
                || json_object_del(fleet->instances, last) != 0)
            {
                break;
            }

            fleet->omitted++;
        }

        if (text == NULL) {
            error = (u_char *) "out of memory";
            error_len = sizeof("out of memory") - 1;
        }
    }

    tp = ngx_timeofday();
    shpool = (ngx_slab_pool_t *) fleet->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    if (text != NULL) {
        len = ngx_strlen(text);
        ngx_memcpy(fleet->sh->text, text, len);
        fleet->sh->len = len;
        fleet->sh->read_at = (ngx_msec_t) tp->sec * 1000 + tp->msec;
        fleet->sh->omitted = fleet->omitted;
        fleet->sh->error_len = 0;

    } else {
        /* the last good reading stays, with what went wrong since */
        fleet->sh->error_len = ngx_min(error_len, sizeof(fleet->sh->error));
        ngx_memcpy(fleet->sh->error, error, fleet->sh->error_len);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (text != NULL) {
        free(text);
    }

    ngx_http_health_fleet_drop(fleet);
}


/*
 * The last reading as served now: staleness and the gone time are judged
 * against the current time, so a reader that cannot read any more shows
 * its fleet going stale rather than frozen.
 */
static ngx_int_t
ngx_http_health_fleet_view(ngx_http_health_fleet_t *fleet, ngx_pool_t *pool,
    ngx_http_health_fleet_view_t *view)
{
    u_char           *text, *error;
    size_t            len, want;
    json_t           *read, *val, *out, *f;
    ngx_uint_t        tries;
    ngx_msec_t        now, seen, stale, gone, age;
    ngx_time_t       *tp;
    const char       *name, *st;
    ngx_uint_t        bad;
    ngx_slab_pool_t  *shpool;

    ngx_memzero(view, sizeof(ngx_http_health_fleet_view_t));

    view->instances = json_object();
    if (view->instances == NULL) {
        return NGX_ERROR;
    }

    error = ngx_pnalloc(pool, sizeof(fleet->sh->error));
    if (error == NULL) {
        return NGX_ERROR;
    }

    shpool = (ngx_slab_pool_t *) fleet->shm_zone->shm.addr;

    /* room for the reading as it is now, allocated outside the lock */
    text = NULL;
    len = 0;

    for (tries = 0; tries < 3; tries++) {
        ngx_shmtx_lock(&shpool->mutex);
        want = fleet->sh->len;
        ngx_shmtx_unlock(&shpool->mutex);

        if (text == NULL || want > len) {
            len = want;
            text = ngx_pnalloc(pool, len + 1);
            if (text == NULL) {
                return NGX_ERROR;
            }
        }

        ngx_shmtx_lock(&shpool->mutex);

        if (fleet->sh->len <= len) {
            break;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    if (tries == 3) {
        /* written over three times while we looked: the next answer */
        view->status = HEALTH_UNKNOWN;
        return NGX_OK;
    }

    view->read_at = fleet->sh->read_at;
    view->omitted = fleet->sh->omitted;
    len = fleet->sh->len;
    ngx_memcpy(text, fleet->sh->text, len);
    view->error.len = fleet->sh->error_len;
    ngx_memcpy(error, fleet->sh->error, view->error.len);
    view->error.data = error;

    ngx_shmtx_unlock(&shpool->mutex);

    if (view->read_at == 0) {
        view->status = HEALTH_UNKNOWN;
        return NGX_OK;
    }

    /* our own text, but read as carefully as any */
    read = json_loadb((char *) text, len, 0, NULL);

    if (read == NULL || !json_is_object(read)) {
        if (read) {
            json_decref(read);
        }

        view->status = HEALTH_UNKNOWN;
        return NGX_OK;
    }

    tp = ngx_timeofday();
    now = (ngx_msec_t) tp->sec * 1000 + tp->msec;
    gone = ngx_http_health_fleet_gone(fleet);

    json_object_foreach(read, name, val) {
        seen = (ngx_msec_t) json_integer_value(json_object_get(val,
                                                             "last_seen_ms"));
        age = now > seen ? now - seen : 0;

        if (age > gone) {
            continue;
        }

        f = json_object_get(val, "interval_s");
        stale = json_is_number(f)
                ? (ngx_msec_t) (json_number_value(f) * 1000)
                : fleet->probe->interval;
        stale = ngx_max(NGX_HTTP_HEALTH_FLEET_STALE * stale,
                        NGX_HTTP_HEALTH_FLEET_STALE_MIN);

        out = json_object();
        if (out == NULL) {
            continue;
        }

        st = json_string_value(json_object_get(val, "status"));
        st = st ? st : "unknown";

        (void) json_object_set_new(out, "status", json_string(st));

#define copy(k)                                                               \
        f = json_object_get(val, k);                                          \
        (void) json_object_set(out, k, f ? f : json_null());

        copy("version");
        copy("uptime_s");
        copy("config_hash");

        (void) json_object_set_new(out, "last_seen",
                                   ngx_http_health_fleet_time(seen));
        (void) json_object_set_new(out, "stale", json_boolean(age > stale));
        (void) json_object_set_new(out, "last_seen_ms",
                                   json_integer((json_int_t) seen));

        copy("checks");

#undef copy

        f = json_object_get(val, "checks_left_out");
        if (f) {
            (void) json_object_set(out, "checks_left_out", f);
        }

        f = json_object_get(val, "error");
        if (f) {
            (void) json_object_set(out, "error", f);
        }

        (void) json_object_set_new(view->instances, name, out);

        bad = 0;
        view->total++;

        if (age > stale) {
            view->stale++;
            bad = 1;
        }

        if ((ngx_strcmp(st, "unhealthy") == 0
             || ngx_strcmp(st, "unknown") == 0)
            && !json_is_true(json_object_get(val, "fleet_only")))
        {
            view->unhealthy++;
            bad = 1;
        }

        view->bad += bad;
    }

    json_decref(read);

    /* inclusive on both thresholds: 1 of 4 is 25%, at warning=25 */
    if (view->total == 0) {
        view->status = HEALTH_UNKNOWN;

    } else if (view->bad * 100 >= fleet->critical * view->total) {
        view->status = HEALTH_UNHEALTHY;

    } else if (view->bad * 100 >= fleet->warning * view->total) {
        view->status = HEALTH_DEGRADED;

    } else {
        view->status = HEALTH_HEALTHY;
    }

    return NGX_OK;
}


static json_t *
ngx_http_health_fleet_time(ngx_msec_t ms)
{
    u_char  buf[NGX_HTTP_HEALTH_ISO8601_LEN], *p;

    p = ngx_http_health_iso8601(buf, (time_t) (ms / 1000), ms % 1000);

    return json_stringn((char *) buf, p - buf);
}


/* the "fleet" check of the instance's own report */
static ngx_int_t
ngx_http_health_fleet_collect(ngx_http_health_report_t *rep, void *data)
{
    ngx_http_health_fleet_t  *fleet = data;

    json_t                        *obj;
    ngx_str_t                      name;
    ngx_http_health_hold_t         hold;
    ngx_http_health_fleet_view_t   view;

    if (fleet->sh == NULL) {
        return NGX_OK;
    }

    if (ngx_http_health_fleet_view(fleet, rep->pool, &view) != NGX_OK) {
        if (view.instances) {
            json_decref(view.instances);
        }

        return NGX_ERROR;
    }

    json_decref(view.instances);

    obj = NULL;

    if (rep->root != NULL) {
        obj = json_object();

        if (obj != NULL) {
            (void) json_object_set_new(obj, "instances",
                                       json_integer(view.total));
            (void) json_object_set_new(obj, "unhealthy",
                                       json_integer(view.unhealthy));
            (void) json_object_set_new(obj, "stale",
                                       json_integer(view.stale));
            (void) json_object_set_new(obj, "warning_pct",
                                       json_integer(fleet->warning));
            (void) json_object_set_new(obj, "critical_pct",
                                       json_integer(fleet->critical));
            (void) json_object_set_new(obj, "required",
                                       json_boolean(fleet->probe->required));

            if (view.total) {
                (void) json_object_set_new(obj, "bad_pct",
                    ngx_http_health_json_number(100.0 * view.bad
                                                / view.total));
            }

            if (view.read_at) {
                (void) json_object_set_new(obj, "read_at",
                    ngx_http_health_fleet_time(view.read_at));

            } else {
                (void) json_object_set_new(obj, "reason",
                                           json_string("not read yet"));
            }
        }
    }

    ngx_str_set(&name, "fleet");

    /* like any dependency: at most degraded unless it is required; the
     * fleet check takes no for=/recover= */
    ngx_memzero(&hold, sizeof(ngx_http_health_hold_t));

    if (ngx_http_health_report_add_dependency(rep, &name, view.status, obj,
                                              &hold, fleet->probe->required)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_health_fleet_handler(ngx_http_request_t *r, ngx_uint_t format)
{
    char                          *text;
    off_t                          length;
    u_char                        *body;
    json_t                        *root, *fl, *val;
    ngx_int_t                      rc;
    const char                    *name;
    ngx_chain_t                   *out;
    ngx_http_health_fleet_t       *fleet;
    ngx_http_health_fleet_view_t   view;
    ngx_http_health_main_conf_t   *hmcf;

    static u_char  no_fleet[] =
        "the fleet view needs \"health_redis ... fleet=on\"" CRLF;
    static u_char  bad_format[] =
        "scope=fleet is answered in json or prometheus" CRLF;

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_health_module);
    fleet = hmcf->fleet;

    if (fleet == NULL || fleet->sh == NULL) {
        return ngx_http_health_fleet_send(r, NGX_HTTP_BAD_REQUEST,
                                          "text/plain", no_fleet,
                                          sizeof(no_fleet) - 1);
    }

    if (format != NGX_HTTP_HEALTH_JSON
        && format != NGX_HTTP_HEALTH_PROMETHEUS)
    {
        return ngx_http_health_fleet_send(r, NGX_HTTP_BAD_REQUEST,
                                          "text/plain", bad_format,
                                          sizeof(bad_format) - 1);
    }

    if (ngx_http_health_fleet_view(fleet, r->pool, &view) != NGX_OK) {
        if (view.instances) {
            json_decref(view.instances);
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (format == NGX_HTTP_HEALTH_PROMETHEUS) {
        rc = ngx_http_health_fleet_prometheus(r, &view, &out, &length);
        json_decref(view.instances);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the last buffer marked: a short answer is not held back */
        return ngx_http_health_send(r, NGX_HTTP_OK,
                                    "text/plain; version=0.0.4; "
                                    "charset=utf-8", out, length);
    }

    root = json_object();
    fl = json_object();

    if (root == NULL || fl == NULL) {
        json_decref(view.instances);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) json_object_set_new(root, "fleet", fl);
    (void) json_object_set_new(fl, "status",
                               json_string(health_status_name(view.status)));
    (void) json_object_set_new(fl, "read_at", view.read_at
                               ? ngx_http_health_fleet_time(view.read_at)
                               : json_null());
    (void) json_object_set_new(fl, "instances_total",
                               json_integer(view.total));
    (void) json_object_set_new(fl, "unhealthy", json_integer(view.unhealthy));
    (void) json_object_set_new(fl, "stale", json_integer(view.stale));

    if (view.omitted) {
        (void) json_object_set_new(fl, "omitted", json_integer(view.omitted));
    }

    if (view.error.len) {
        (void) ngx_http_health_json_set_text(fl, "error", view.error.data,
                                             view.error.len);
    }

    /* the ms were for Prometheus: the JSON says last_seen */
    json_object_foreach(view.instances, name, val) {
        (void) json_object_del(val, "last_seen_ms");
    }

    (void) json_object_set_new(fl, "instances", view.instances);

    text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(root);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    length = ngx_strlen(text);

    body = ngx_pnalloc(r->pool, length + 1);
    if (body == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body, text, length);
    body[length] = '\n';
    free(text);

    return ngx_http_health_fleet_send(r, NGX_HTTP_OK, "application/json",
                                      body, length + 1);
}


static ngx_int_t
ngx_http_health_fleet_prometheus(ngx_http_request_t *r,
    ngx_http_health_fleet_view_t *view, ngx_chain_t **out, off_t *length)
{
    json_t                    *val, *checks, *cv;
    json_int_t                 seen;
    const char                *name, *check, *st;
    ngx_http_health_report_t   rep;

    ngx_memzero(&rep, sizeof(ngx_http_health_report_t));
    rep.pool = r->pool;
    rep.log = r->connection->log;

#define status_of(st)                                                         \
    (ngx_strcmp(st, "healthy") == 0 ? 0                                       \
     : ngx_strcmp(st, "degraded") == 0 ? 1                                    \
     : ngx_strcmp(st, "unhealthy") == 0 ? 2 : 3)

#define label(v)  ngx_http_health_fleet_label(r->pool, v)

    if (ngx_http_health_printf(&rep,
            "# HELP nginx_health_fleet_status Status of the fleet: "
            "0 healthy, 1 degraded, 2 unhealthy, 3 unknown.\n"
            "# TYPE nginx_health_fleet_status gauge\n"
            "nginx_health_fleet_status %d\n"
            "# HELP nginx_health_fleet_instances Instances of the fleet "
            "seen within the gone time.\n"
            "# TYPE nginx_health_fleet_instances gauge\n"
            "nginx_health_fleet_instances %ui\n"
            "# HELP nginx_health_status Overall status of an instance: "
            "0 healthy, 1 degraded, 2 unhealthy, 3 unknown.\n"
            "# TYPE nginx_health_status gauge\n",
            (int) view->status, view->total)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json_object_foreach(view->instances, name, val) {
        st = json_string_value(json_object_get(val, "status"));

        if (ngx_http_health_printf(&rep,
                "nginx_health_status{instance=\"%s\"} %d\n",
                label(name), status_of(st ? st : "unknown"))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_health_printf(&rep,
            "# HELP nginx_health_check_status Status of a non-healthy "
            "check of an instance: 1 degraded, 2 unhealthy, 3 unknown.\n"
            "# TYPE nginx_health_check_status gauge\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json_object_foreach(view->instances, name, val) {
        checks = json_object_get(val, "checks");

        if (!json_is_object(checks)) {
            continue;
        }

        json_object_foreach(checks, check, cv) {
            st = json_string_value(cv);

            if (ngx_http_health_printf(&rep,
                    "nginx_health_check_status{instance=\"%s\","
                    "check=\"%s\"} %d\n", label(name), label(check),
                    status_of(st ? st : "unknown"))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_health_printf(&rep,
            "# HELP nginx_health_fleet_instance_last_seen_seconds When the "
            "instance last published, Unix time.\n"
            "# TYPE nginx_health_fleet_instance_last_seen_seconds gauge\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json_object_foreach(view->instances, name, val) {
        seen = json_integer_value(json_object_get(val, "last_seen_ms"));

        if (ngx_http_health_printf(&rep,
                "nginx_health_fleet_instance_last_seen_seconds"
                "{instance=\"%s\"} %uL.%03uL\n", label(name),
                (uint64_t) seen / 1000, (uint64_t) seen % 1000)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_health_printf(&rep,
            "# HELP nginx_health_fleet_instance_stale 1 when the instance "
            "missed 3 of its publishing intervals.\n"
            "# TYPE nginx_health_fleet_instance_stale gauge\n")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json_object_foreach(view->instances, name, val) {
        if (ngx_http_health_printf(&rep,
                "nginx_health_fleet_instance_stale{instance=\"%s\"} %d\n",
                label(name), json_is_true(json_object_get(val, "stale")))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *out = rep.text.out;
    *length = rep.text.length;

    return NGX_OK;

#undef status_of
#undef label
}


/* a label value escaped; "" when out of memory, as printf fails then */
static u_char *
ngx_http_health_fleet_label(ngx_pool_t *pool, const char *v)
{
    u_char     *p;
    ngx_str_t   s;

    s.data = (u_char *) v;
    s.len = ngx_strlen(v);

    p = ngx_http_health_prom_escape(pool, &s);

    return p ? p : (u_char *) "";
}


static ngx_int_t
ngx_http_health_fleet_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *body, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_health_send(r, status, type, &out, len);
}
