/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: service-level objectives and their error budgets.
 *
 * A request is good when its status is not a 5xx and, with latency=, its
 * time is strictly below latency.  Each SLO has a shared zone of its own,
 * "health_slo_NAME", of one fixed size and with a tag of its own (the
 * counters' segment is found by the module's tag): whatever the reload
 * changes, nginx hands the same memory to the new cycle, and the buckets
 * carry on.  Its header keeps a hash of what "good" means (the zone and
 * the latency): when a reload changes that, the buckets start again, with
 * a notice; a new objective or period reads the same buckets differently.
 *
 * The buckets are wall-clock aligned, so that a window means the same
 * minutes in every process and across reloads: minute m = floor(t / 60)
 * at m % MINUTES, hour h = floor(t / 3600) at h % HOURS, each stamped with
 * its number, reset when it is reused for a newer one and ignored by a
 * reader when its stamp is not the one it looks for.  Counts are exact per
 * bucket: a request is in the minute (and the hour) its record is folded
 * into, and every record is folded once, under the segment's mutex.
 *
 * Lock order: the segment's mutex (the fold), then an SLO's own (its
 * zone's slab pool).  Readers take the SLO's alone.  The old workers of a
 * reload fold under the old segment's mutex into the same SLO zones: the
 * SLO's mutex is what keeps two folds apart.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include "health_status.h"
#include "health_threshold.h"
#include "ngx_http_health_module.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_slo.h"
#include "ngx_http_health_status.h"


/* "nhslo001" */
#define NGX_HTTP_HEALTH_SLO_MAGIC    0x6e68736c6f303031ULL

/* three days of minutes (the longest window), ninety of hours (period) */
#define NGX_HTTP_HEALTH_SLO_MINUTES  (3 * 24 * 60)
#define NGX_HTTP_HEALTH_SLO_HOURS    (90 * 24)

/* the zone's size: the buckets, the header and the slab pool's own pages */
#define NGX_HTTP_HEALTH_SLO_SHM_SIZE (256 * 1024)

#define NGX_HTTP_HEALTH_SLO_WINDOWS  7
#define NGX_HTTP_HEALTH_SLO_PAIRS    4


typedef struct {
    uint32_t                     stamp;          /* minute or hour number */
    uint32_t                     pad;
    uint64_t                     total;
    uint64_t                     bad;
} ngx_http_health_slo_bucket_t;


typedef struct {
    uint64_t                     magic;
    uint32_t                     definition;
    uint32_t                     pad;

    /* since the counting began: a Prometheus counter of its own */
    uint64_t                     total;
    uint64_t                     bad;

    ngx_http_health_slo_bucket_t minute[NGX_HTTP_HEALTH_SLO_MINUTES];
    ngx_http_health_slo_bucket_t hour[NGX_HTTP_HEALTH_SLO_HOURS];
} ngx_http_health_slo_shctx_t;


/* what a reader gets */
typedef struct {
    uint64_t                     total;          /* since counting began */
    uint64_t                     bad;
    uint64_t                     period_total;
    uint64_t                     period_bad;
    uint64_t                     w_total[NGX_HTTP_HEALTH_SLO_WINDOWS];
    uint64_t                     w_bad[NGX_HTTP_HEALTH_SLO_WINDOWS];
    double                       burn[NGX_HTTP_HEALTH_SLO_WINDOWS];
    double                       budget;         /* remaining, ratio */
    double                       sli;            /* %, NAN: no requests */
} ngx_http_health_slo_figures_t;


typedef struct {
    const char                  *name;
    ngx_uint_t                   minutes;
} ngx_http_health_slo_window_t;


/* the alert pairs of the Google SRE workbook, over the windows above */
typedef struct {
    ngx_uint_t                   short_w;
    ngx_uint_t                   long_w;
    double                       factor;
    const char                  *factor_text;
    ngx_uint_t                   page;
} ngx_http_health_slo_pair_t;


static ngx_int_t ngx_http_health_slo_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_health_slo_add(ngx_http_health_slo_bucket_t *b,
    uint32_t stamp, uint64_t total, uint64_t bad);
static void ngx_http_health_slo_read(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f);
static ngx_int_t ngx_http_health_slo_collect(ngx_http_health_report_t *rep,
    void *data);
static ngx_int_t ngx_http_health_slo_fires(ngx_http_health_slo_figures_t *f,
    ngx_uint_t page);
static json_t *ngx_http_health_slo_check_json(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f, ngx_int_t page);
static ngx_int_t ngx_http_health_slo_prometheus(
    ngx_http_health_report_t *rep, void *data);
static json_t *ngx_http_health_slo_json(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f);
static json_t *ngx_http_health_slo_burn_json(
    ngx_http_health_slo_figures_t *f);
static json_t *ngx_http_health_slo_real(double v);
static u_char *ngx_http_health_slo_number(u_char *buf, double v);


/* a tag of its own: the counters' segment is found by the module's tag */
static ngx_uint_t  ngx_http_health_slo_tag;


static ngx_http_health_slo_window_t  ngx_http_health_slo_windows[] = {
    { "5m", 5 },
    { "30m", 30 },
    { "1h", 60 },
    { "2h", 120 },
    { "6h", 360 },
    { "1d", 1440 },
    { "3d", 4320 }
};


static ngx_http_health_slo_pair_t  ngx_http_health_slo_pairs[] = {
    { 0, 2, 14.4, "14.4", 1 },                   /* 5m and 1h */
    { 1, 4, 6, "6", 1 },                         /* 30m and 6h */
    { 3, 5, 3, "3", 0 },                         /* 2h and 1d */
    { 4, 6, 1, "1", 0 }                          /* 6h and 3d */
};


char *
ngx_http_health_slo(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_health_main_conf_t *hmcf = conf;

    uint64_t                 us;
    ngx_int_t                rc;
    ngx_str_t               *value, s;
    ngx_uint_t               i;
    ngx_http_health_slo_t   *slo, **sp;

    value = cf->args->elts;

    if (!ngx_http_health_valid_name(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "an SLO name is " NGX_HTTP_HEALTH_NAME_RULE,
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (hmcf->slos == NULL) {
        hmcf->slos = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_health_slo_t *));
        if (hmcf->slos == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    sp = hmcf->slos->elts;

    for (i = 0; i < hmcf->slos->nelts; i++) {
        if (sp[i]->name.len == value[1].len
            && ngx_strncmp(sp[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate SLO \"%V\", the first is in %s:%ui",
                               &value[1], sp[i]->file, sp[i]->line);
            return NGX_CONF_ERROR;
        }
    }

    slo = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_slo_t));
    if (slo == NULL) {
        return NGX_CONF_ERROR;
    }

    sp = ngx_array_push(hmcf->slos);
    if (sp == NULL) {
        return NGX_CONF_ERROR;
    }

    *sp = slo;

    slo->name = value[1];
    slo->latency = UINT64_MAX;
    slo->period = 30 * 86400;
    slo->required = 0;
    slo->file = cf->conf_file->file.name.data;
    slo->line = cf->conf_file->line;

    slo->check.len = sizeof("slo:") - 1 + value[1].len;
    slo->check.data = ngx_pnalloc(cf->pool, slo->check.len);
    if (slo->check.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(slo->check.data, "slo:%V", &value[1]);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0
            && slo->zone_name.len == 0)
        {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (!ngx_http_health_valid_name(&s)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, a zone name is "
                                   NGX_HTTP_HEALTH_NAME_RULE,
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            slo->zone_name = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "objective=", 10) == 0
            && slo->objective == 0)
        {
            if (health_parse_percent((char *) value[i].data + 10,
                                     value[i].len - 10, &slo->objective,
                                     NULL, 0)
                != 0
                || !(slo->objective > 0 && slo->objective < 100))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a percentage "
                                   "above 0 and below 100",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "latency=", 8) == 0
            && slo->latency == UINT64_MAX)
        {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            if (ngx_http_health_parse_usec(&s, &us) != NGX_OK
                || us == 0 || us > 3600000000ULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a time from 1us "
                                   "to 1h", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            slo->latency = us;
            continue;
        }

        if (ngx_strncmp(value[i].data, "period=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (ngx_http_health_parse_usec(&s, &us) != NGX_OK
                || us % 3600000000ULL != 0
                || us < 3600000000ULL
                || us > 90 * 86400000000ULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be whole hours "
                                   "from 1h to 90d", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            slo->period = (time_t) (us / 1000000);
            continue;
        }

        if (ngx_strcmp(value[i].data, "required=on") == 0) {
            slo->required = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "required=off") == 0) {
            slo->required = 0;
            continue;
        }

        rc = ngx_http_health_hold_param(cf, &value[i], &slo->hold);

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (slo->zone_name.len == 0 || slo->objective == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs zone= and objective=",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Once the http block is known: each SLO's zone (health_zone usually
 * comes later, in servers), its shared zone and the reporter.
 */
char *
ngx_http_health_slo_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf)
{
    uint32_t                     crc;
    ngx_str_t                    name;
    ngx_uint_t                   i, j;
    ngx_http_health_slo_t      **sp, *slo;
    ngx_http_health_zone_t      *zone;
    ngx_http_health_reporter_t   reporter;

    if (hmcf->slos == NULL) {
        return NGX_CONF_OK;
    }

    sp = hmcf->slos->elts;
    zone = hmcf->zones.elts;

    for (i = 0; i < hmcf->slos->nelts; i++) {
        slo = sp[i];

        for (j = 0; j < hmcf->zones.nelts; j++) {
            if (slo->zone_name.len == zone[j].name.len
                && ngx_strncmp(slo->zone_name.data, zone[j].name.data,
                               zone[j].name.len) == 0)
            {
                break;
            }
        }

        if (j == hmcf->zones.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "invalid value \"zone=%V\" in \"health_slo\" "
                          "directive, no \"health_zone %V\" is defined "
                          "in %s:%ui", &slo->zone_name, &slo->zone_name,
                          slo->file, slo->line);
            return NGX_CONF_ERROR;
        }

        slo->zone = j;

        /* what "good" means: the requests counted, and how fast */
        ngx_crc32_init(crc);
        ngx_crc32_update(&crc, slo->zone_name.data, slo->zone_name.len);
        ngx_crc32_update(&crc, (u_char *) "\0", 1);
        ngx_crc32_update(&crc, (u_char *) &slo->latency,
                         sizeof(slo->latency));
        ngx_crc32_final(crc);
        slo->definition = crc;

        name.len = sizeof("health_slo_") - 1 + slo->name.len;
        name.data = ngx_pnalloc(cf->pool, name.len);
        if (name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(name.data, "health_slo_%V", &slo->name);

        slo->shm_zone = ngx_shared_memory_add(cf, &name,
                                              NGX_HTTP_HEALTH_SLO_SHM_SIZE,
                                              &ngx_http_health_slo_tag);
        if (slo->shm_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        if (slo->shm_zone->data) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "shared zone \"%V\" of \"health_slo %V\" in %s:%ui "
                          "is already used", &name, &slo->name, slo->file,
                          slo->line);
            return NGX_CONF_ERROR;
        }

        slo->shm_zone->init = ngx_http_health_slo_init_zone;
        slo->shm_zone->data = slo;
    }

    reporter.collect = ngx_http_health_slo_collect;
    reporter.prometheus = ngx_http_health_slo_prometheus;
    reporter.data = hmcf->slos;

    if (ngx_http_health_add_reporter(cf, &reporter) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_health_slo_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_health_slo_t  *oslo = data;

    ngx_slab_pool_t              *shpool;
    ngx_http_health_slo_t        *slo;
    ngx_http_health_slo_shctx_t  *sh;

    slo = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    slo->shpool = shpool;

    if (oslo != NULL && shpool->data != NULL) {
        /* the same memory as before the reload: the buckets carry on */
        sh = shpool->data;

        if (sh->magic == NGX_HTTP_HEALTH_SLO_MAGIC) {
            slo->sh = sh;

            if (sh->definition != slo->definition) {
                ngx_shmtx_lock(&shpool->mutex);

                ngx_memzero(&sh->total,
                            sizeof(ngx_http_health_slo_shctx_t)
                            - offsetof(ngx_http_health_slo_shctx_t, total));
                sh->definition = slo->definition;

                ngx_shmtx_unlock(&shpool->mutex);

                ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                              "health: the zone or the latency of SLO "
                              "\"%V\" changed, its counts start again",
                              &slo->name);
            }

            return NGX_OK;
        }
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_health_slo_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_HEALTH_SLO_MAGIC;
    sh->definition = slo->definition;

    shpool->data = sh;
    slo->sh = sh;

    return NGX_OK;
}


/*
 * This process' map from a block's place to the SLOs of its zone, for the
 * fold: the places are fixed once the segment's init_zone has run, and
 * nothing of this process folds before init_process.
 */
void
ngx_http_health_slo_init_process(ngx_cycle_t *cycle)
{
    uint32_t                      place;
    ngx_uint_t                    i;
    ngx_http_health_slo_t       **sp, **map;
    ngx_http_health_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_health_module);

    if (hmcf == NULL || hmcf->slos == NULL || hmcf->place == NULL
        || hmcf->sh == NULL)
    {
        return;
    }

    map = ngx_pcalloc(cycle->pool,
                      hmcf->capacity * sizeof(ngx_http_health_slo_t *));
    if (map == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "health: no memory for the SLOs, they do not count");
        return;
    }

    sp = hmcf->slos->elts;

    for (i = 0; i < hmcf->slos->nelts; i++) {
        if (sp[i]->sh == NULL) {
            continue;
        }

        place = hmcf->place[sp[i]->zone];

        sp[i]->next = map[place];
        map[place] = sp[i];
    }

    hmcf->slo_of = (void **) map;
}


time_t
ngx_http_health_slo_offset(void)
{
    struct timespec  wall, mono;

    (void) clock_gettime(CLOCK_REALTIME, &wall);
    (void) clock_gettime(CLOCK_MONOTONIC, &mono);

    /* to the second below: a record knows its monotonic second only */
    return wall.tv_sec - mono.tv_sec - (wall.tv_nsec < mono.tv_nsec);
}


void
ngx_http_health_slo_flush(ngx_http_health_slo_t *slo, uint64_t minute,
    uint64_t bad, ngx_http_health_rec_t *recs, uint64_t first, uint64_t last,
    uint64_t mask)
{
    uint64_t                      n, total, latency;
    ngx_http_health_rec_t        *rec;
    ngx_http_health_slo_shctx_t  *sh;

    total = last - first;

    for ( /* void */ ; slo; slo = slo->next) {
        sh = slo->sh;

        if (bad == (uint64_t) -1) {
            /* the zone's second SLO and after: a 5xx, or not fast */
            latency = slo->latency;
            bad = 0;

            for (n = first; n != last; n++) {
                rec = &recs[n & mask];
                bad += ((((rec->word >> 32) & 0x3ff) - 500) < 100)
                       | (rec->us >= latency);
            }
        }

        ngx_shmtx_lock(&slo->shpool->mutex);

        sh->total += total;
        sh->bad += bad;

        ngx_http_health_slo_add(&sh->minute[minute
                                            % NGX_HTTP_HEALTH_SLO_MINUTES],
                                (uint32_t) minute, total, bad);
        ngx_http_health_slo_add(&sh->hour[minute / 60
                                          % NGX_HTTP_HEALTH_SLO_HOURS],
                                (uint32_t) (minute / 60), total, bad);

        ngx_shmtx_unlock(&slo->shpool->mutex);
        bad = (uint64_t) -1;
    }
}


static void
ngx_http_health_slo_add(ngx_http_health_slo_bucket_t *b, uint32_t stamp,
    uint64_t total, uint64_t bad)
{
    if (b->stamp != stamp) {
        if (b->stamp > stamp && b->total) {
            /* older than the ring (a clock set back): a newer one's place */
            return;
        }

        b->stamp = stamp;
        b->total = 0;
        b->bad = 0;
    }

    b->total += total;
    b->bad += bad;
}


/*
 * The figures of an SLO now: window W is the W minute buckets that end
 * with the current one, the period the period / 3600 hour buckets that end
 * with the current one.  Every bucket is read under the SLO's mutex, after
 * the reader folded every pending record (ngx_http_health_shm_sync).
 */
static void
ngx_http_health_slo_read(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f)
{
    double                         allowed;
    uint64_t                       now, m, h, total, bad;
    ngx_uint_t                     i, w, n;
    ngx_http_health_slo_bucket_t  *b;
    ngx_http_health_slo_shctx_t   *sh;

    sh = slo->sh;
    now = (uint64_t) (ngx_http_health_slo_offset()
                      + ngx_http_health_monotonic_sec());
    m = now / 60;
    h = now / 3600;
    n = slo->period / 3600;

    ngx_shmtx_lock(&slo->shpool->mutex);

    f->total = sh->total;
    f->bad = sh->bad;

    total = 0;
    bad = 0;
    w = 0;

    for (i = 0; i < NGX_HTTP_HEALTH_SLO_MINUTES; i++) {
        b = &sh->minute[(m - i) % NGX_HTTP_HEALTH_SLO_MINUTES];

        if (b->stamp == (uint32_t) (m - i)) {
            total += b->total;
            bad += b->bad;
        }

        if (i + 1 == ngx_http_health_slo_windows[w].minutes) {
            f->w_total[w] = total;
            f->w_bad[w] = bad;
            w++;
        }
    }

    total = 0;
    bad = 0;

    for (i = 0; i < n; i++) {
        b = &sh->hour[(h - i) % NGX_HTTP_HEALTH_SLO_HOURS];

        if (b->stamp == (uint32_t) (h - i)) {
            total += b->total;
            bad += b->bad;
        }
    }

    ngx_shmtx_unlock(&slo->shpool->mutex);

    f->period_total = total;
    f->period_bad = bad;

    allowed = 1 - slo->objective / 100;

    for (w = 0; w < NGX_HTTP_HEALTH_SLO_WINDOWS; w++) {
        f->burn[w] = f->w_total[w]
                     ? ((double) f->w_bad[w] / f->w_total[w]) / allowed
                     : 0;
    }

    f->budget = total ? 1 - (double) bad / (allowed * total) : 1;
    f->sli = total ? 100 * (double) (total - bad) / total : NAN;
}


static ngx_int_t
ngx_http_health_slo_collect(ngx_http_health_report_t *rep, void *data)
{
    ngx_array_t *slos = data;

    json_t                         *all, *obj, *v;
    ngx_int_t                       page;
    ngx_uint_t                      i;
    health_status_t                 status;
    ngx_http_health_slo_t         **sp;
    ngx_http_health_slo_figures_t   f;

    sp = slos->elts;
    all = NULL;

    if (rep->root != NULL) {
        all = json_object();
        if (all == NULL
            || json_object_set_new(rep->root, "slos", all) != 0)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < slos->nelts; i++) {
        if (sp[i]->sh == NULL) {
            continue;
        }

        ngx_http_health_slo_read(sp[i], &f);

        page = ngx_http_health_slo_fires(&f, 1);

        status = (page == NGX_DECLINED) ? HEALTH_HEALTHY
                 : sp[i]->required ? HEALTH_UNHEALTHY : HEALTH_DEGRADED;

        obj = NULL;

        if (rep->root != NULL) {
            obj = ngx_http_health_slo_check_json(sp[i], &f, page);
            v = ngx_http_health_slo_json(sp[i], &f);

            if (obj == NULL || v == NULL
                || json_object_set_new(all, (char *) sp[i]->name.data, v)
                   != 0)
            {
                json_decref(obj);
                return NGX_ERROR;
            }
        }

        if (ngx_http_health_report_add_dependency(rep, &sp[i]->check, status,
                                                  obj, &sp[i]->hold,
                                                  sp[i]->required)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The first pair of the level (page or ticket) whose two windows both burn
 * above its factor; NGX_DECLINED if none.
 */
static ngx_int_t
ngx_http_health_slo_fires(ngx_http_health_slo_figures_t *f, ngx_uint_t page)
{
    ngx_uint_t                   k;
    ngx_http_health_slo_pair_t  *pr;

    pr = ngx_http_health_slo_pairs;

    for (k = 0; k < NGX_HTTP_HEALTH_SLO_PAIRS; k++) {
        if (pr[k].page == page
            && f->burn[pr[k].short_w] > pr[k].factor
            && f->burn[pr[k].long_w] > pr[k].factor)
        {
            return k;
        }
    }

    return NGX_DECLINED;
}


/* the check's object: which pair fires and why, the tickets, the rates */
static json_t *
ngx_http_health_slo_check_json(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f, ngx_int_t page)
{
    u_char                      *p, reason[128];
    json_t                      *obj, *tickets;
    ngx_uint_t                   k;
    ngx_http_health_slo_pair_t  *pr;

    pr = ngx_http_health_slo_pairs;

    obj = json_object();
    tickets = json_array();

    if (obj == NULL || tickets == NULL) {
        json_decref(obj);
        json_decref(tickets);
        return NULL;
    }

    for (k = 0; k < NGX_HTTP_HEALTH_SLO_PAIRS; k++) {
        if (!pr[k].page
            && f->burn[pr[k].short_w] > pr[k].factor
            && f->burn[pr[k].long_w] > pr[k].factor)
        {
            (void) json_array_append_new(tickets,
                json_sprintf("%s&%s",
                             ngx_http_health_slo_windows[pr[k].short_w].name,
                             ngx_http_health_slo_windows[pr[k].long_w].name));
        }
    }

    if (page == NGX_DECLINED) {
        p = ngx_snprintf(reason, sizeof(reason),
                         "no page-level pair of windows burns above "
                         "its factor");

        (void) json_object_set_new(obj, "page", json_null());

    } else {
        p = ngx_snprintf(reason, sizeof(reason),
                         "the %s and %s burn rates are above %s",
                         ngx_http_health_slo_windows[pr[page].short_w].name,
                         ngx_http_health_slo_windows[pr[page].long_w].name,
                         pr[page].factor_text);

        (void) json_object_set_new(obj, "page",
            json_sprintf("%s&%s",
                         ngx_http_health_slo_windows[pr[page].short_w].name,
                         ngx_http_health_slo_windows[pr[page].long_w].name));
    }

    (void) json_object_set_new(obj, "reason",
                               json_stringn((char *) reason, p - reason));
    (void) json_object_set_new(obj, "tickets", tickets);
    (void) json_object_set_new(obj, "required",
                               json_boolean(slo->required));
    (void) json_object_set_new(obj, "value",
                               ngx_http_health_slo_real(f->budget));
    (void) json_object_set_new(obj, "unit", json_string("budget remaining"));
    (void) json_object_set_new(obj, "burn_rates",
                               ngx_http_health_slo_burn_json(f));

    return obj;
}


static json_t *
ngx_http_health_slo_json(ngx_http_health_slo_t *slo,
    ngx_http_health_slo_figures_t *f)
{
    json_t  *obj;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    (void) json_object_set_new(obj, "zone",
                               json_stringn((char *) slo->zone_name.data,
                                            slo->zone_name.len));
    (void) json_object_set_new(obj, "objective",
                               ngx_http_health_json_number(slo->objective));
    (void) json_object_set_new(obj, "latency_ms",
                               slo->latency == UINT64_MAX
                               ? json_null()
                               : ngx_http_health_json_number(
                                     (double) slo->latency / 1000));
    (void) json_object_set_new(obj, "period_s", json_integer(slo->period));
    (void) json_object_set_new(obj, "sli", ngx_http_health_slo_real(f->sli));
    (void) json_object_set_new(obj, "error_budget_remaining",
                               ngx_http_health_slo_real(f->budget));
    (void) json_object_set_new(obj, "burn_rates",
                               ngx_http_health_slo_burn_json(f));
    (void) json_object_set_new(obj, "good",
                               json_integer(f->period_total
                                            - f->period_bad));
    (void) json_object_set_new(obj, "total",
                               json_integer(f->period_total));

    return obj;
}


static json_t *
ngx_http_health_slo_burn_json(ngx_http_health_slo_figures_t *f)
{
    json_t      *obj;
    ngx_uint_t   w;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    for (w = 0; w < NGX_HTTP_HEALTH_SLO_WINDOWS; w++) {
        (void) json_object_set_new(obj, ngx_http_health_slo_windows[w].name,
                                   ngx_http_health_slo_real(f->burn[w]));
    }

    return obj;
}


/*
 * Not rounded to thousandths as the zones' figures are: one request in a
 * million of a three-day window moves a burn rate by less than that.
 */
static json_t *
ngx_http_health_slo_real(double v)
{
    if (!isfinite(v)) {
        return json_null();
    }

    if (v == (double) (int64_t) v && v > -9e15 && v < 9e15) {
        return json_integer((json_int_t) v);
    }

    return json_real(v);
}


static ngx_int_t
ngx_http_health_slo_prometheus(ngx_http_health_report_t *rep, void *data)
{
    ngx_array_t *slos = data;

    u_char                          *name, num[64];
    ngx_uint_t                       i, w, k;
    ngx_http_health_slo_t          **sp;
    ngx_http_health_slo_figures_t   *f;

    static const char  *head[] = {
        "# HELP nginx_health_slo_objective Objective of an SLO: the share "
        "of good requests it aims at, as a ratio (0.999 for 99.9%).\n"
        "# TYPE nginx_health_slo_objective gauge\n",

        "# HELP nginx_health_slo_events_total Requests an SLO counted since "
        "its counts began (nginx started, the SLO was added or its zone or "
        "latency changed), by result.\n"
        "# TYPE nginx_health_slo_events_total counter\n",

        "# HELP nginx_health_slo_burn_rate Error rate of a window over the "
        "error rate the objective allows (1: the budget lasts the period "
        "exactly).\n"
        "# TYPE nginx_health_slo_burn_rate gauge\n",

        "# HELP nginx_health_slo_error_budget_remaining Share of the "
        "period's error budget left (1: untouched, below 0: overspent).\n"
        "# TYPE nginx_health_slo_error_budget_remaining gauge\n"
    };

    sp = slos->elts;

    f = ngx_palloc(rep->pool,
                   slos->nelts * sizeof(ngx_http_health_slo_figures_t));
    if (f == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < slos->nelts; i++) {
        if (sp[i]->sh != NULL) {
            ngx_http_health_slo_read(sp[i], &f[i]);
        }
    }

    for (k = 0; k < sizeof(head) / sizeof(head[0]); k++) {
        if (ngx_http_health_printf(rep, "%s", head[k]) != NGX_OK) {
            return NGX_ERROR;
        }

        for (i = 0; i < slos->nelts; i++) {
            if (sp[i]->sh == NULL) {
                continue;
            }

            name = ngx_http_health_prom_escape(rep->pool, &sp[i]->name);
            if (name == NULL) {
                return NGX_ERROR;
            }

            switch (k) {

            case 0:
                ngx_http_health_slo_number(num, sp[i]->objective / 100);

                if (ngx_http_health_printf(rep,
                        "nginx_health_slo_objective{slo=\"%s\"} %s\n",
                        name, num)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                break;

            case 1:
                if (ngx_http_health_printf(rep,
                        "nginx_health_slo_events_total{slo=\"%s\","
                        "result=\"good\"} %uL\n"
                        "nginx_health_slo_events_total{slo=\"%s\","
                        "result=\"bad\"} %uL\n",
                        name, f[i].total - f[i].bad, name, f[i].bad)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                break;

            case 2:
                for (w = 0; w < NGX_HTTP_HEALTH_SLO_WINDOWS; w++) {
                    ngx_http_health_slo_number(num, f[i].burn[w]);

                    if (ngx_http_health_printf(rep,
                            "nginx_health_slo_burn_rate{slo=\"%s\","
                            "window=\"%s\"} %s\n", name,
                            ngx_http_health_slo_windows[w].name, num)
                        != NGX_OK)
                    {
                        return NGX_ERROR;
                    }
                }

                break;

            default:
                ngx_http_health_slo_number(num, f[i].budget);

                if (ngx_http_health_printf(rep,
                        "nginx_health_slo_error_budget_remaining"
                        "{slo=\"%s\"} %s\n", name, num)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


/* a float as Prometheus reads it, 15 significant digits; NUL-terminated */
static u_char *
ngx_http_health_slo_number(u_char *buf, double v)
{
    (void) snprintf((char *) buf, 64, "%.15g", v);

    return buf;
}
