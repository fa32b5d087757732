/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: latency histogram maths.
 */

#include <stdio.h>
#include <string.h>

#include "health_histogram.h"


uint64_t
health_hist_lower(unsigned i)
{
    unsigned  g, sub;

    g = i / HEALTH_HIST_SUB;
    sub = i % HEALTH_HIST_SUB;

    if (g == 0) {
        return sub;
    }

    return (uint64_t) (HEALTH_HIST_SUB + sub) << (g - 1);
}


uint64_t
health_hist_upper(unsigned i)
{
    unsigned  g;

    g = i / HEALTH_HIST_SUB;

    return health_hist_lower(i) + (g == 0 ? 1 : (uint64_t) 1 << (g - 1));
}


void
health_hist_bound_table(const uint64_t *bounds, unsigned n,
    unsigned char *table)
{
    unsigned  i;

    for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
        table[i] = (unsigned char) health_hist_bound_index(bounds, n,
                                                   health_hist_lower(i));
    }
}


/* nearest rank: the smallest value with at least q of them at or below */
static uint64_t
health_hist_rank(uint64_t total, double q)
{
    uint64_t  rank;

    if (q <= 0) {
        q = 1.0 / (double) total;
    }

    if (q > 1) {
        q = 1;
    }

    rank = (uint64_t) (q * (double) total);

    if ((double) rank < q * (double) total) {
        rank++;
    }

    return rank ? rank : 1;
}


/* the answer for bucket i: the middle of the integers it holds */
static double
health_hist_value(unsigned i, uint64_t max)
{
    double  v;

    if (i >= HEALTH_HIST_BUCKETS - 1) {
        return (double) max;
    }

    v = ((double) health_hist_lower(i) + (double) (health_hist_upper(i) - 1))
        / 2;

    return v > (double) max ? (double) max : v;
}


double
health_hist_quantile(const uint32_t *counts, uint64_t total, double q,
    uint64_t max)
{
    uint64_t  rank, seen;
    unsigned  i;

    if (total == 0) {
        return 0;
    }

    rank = health_hist_rank(total, q);
    seen = 0;

    for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
        seen += counts[i];

        if (seen >= rank) {
            break;
        }
    }

    return health_hist_value(i, max);
}


void
health_hist_quantiles(const uint32_t *counts, uint64_t total,
    const double *q, double *out, unsigned n, uint64_t max)
{
    uint64_t  rank[HEALTH_HIST_MAX_QUANTILES], seen;
    unsigned  i, k;

    if (n > HEALTH_HIST_MAX_QUANTILES) {
        n = HEALTH_HIST_MAX_QUANTILES;
    }

    if (total == 0) {
        for (k = 0; k < n; k++) {
            out[k] = 0;
        }

        return;
    }

    for (k = 0; k < n; k++) {
        rank[k] = health_hist_rank(total, q[k]);
    }

    /* q ascending: one walk of the buckets answers them all in turn */
    seen = 0;
    k = 0;

    for (i = 0; i < HEALTH_HIST_BUCKETS && k < n; i++) {
        seen += counts[i];

        while (k < n && seen >= rank[k]) {
            out[k++] = health_hist_value(i, max);
        }
    }

    /* ranks past the counts (total above their sum): as the walk ends */
    while (k < n) {
        out[k++] = health_hist_value(HEALTH_HIST_BUCKETS, max);
    }
}


int
health_hist_bounds_validate(const uint64_t *bounds, size_t n, size_t *bad,
    char *err, size_t errlen)
{
    size_t  i;

    if (n == 0 || n > HEALTH_HIST_MAX_BOUNDS) {
        if (bad != NULL) {
            *bad = n ? HEALTH_HIST_MAX_BOUNDS : 0;
        }

        if (err != NULL) {
            snprintf(err, errlen, "between 1 and %d bounds are needed",
                     HEALTH_HIST_MAX_BOUNDS);
        }

        return -1;
    }

    for (i = 0; i < n; i++) {
        if (bounds[i] == 0) {
            if (bad != NULL) {
                *bad = i;
            }

            if (err != NULL) {
                snprintf(err, errlen, "a bound must be above zero");
            }

            return -1;
        }

        if (i > 0 && bounds[i] <= bounds[i - 1]) {
            if (bad != NULL) {
                *bad = i;
            }

            if (err != NULL) {
                snprintf(err, errlen, "%s",
                         bounds[i] == bounds[i - 1]
                         ? "duplicate bound"
                         : "bounds must be in increasing order");
            }

            return -1;
        }
    }

    return 0;
}


int
health_hist_format_seconds(uint64_t us, char *buf, size_t len)
{
    char      tmp[28], *p, *end;
    uint64_t  s;
    unsigned  f, digits;

    /* digits by hand: a scrape formats one of these per zone and peer */

    end = tmp + sizeof(tmp);
    p = end;

    f = (unsigned) (us % 1000000);

    if (f) {
        for (digits = 6; f % 10 == 0; digits--) {
            f /= 10;
        }

        while (digits--) {
            *--p = (char) ('0' + f % 10);
            f /= 10;
        }

        *--p = '.';
    }

    s = us / 1000000;

    do {
        *--p = (char) ('0' + s % 10);
        s /= 10;
    } while (s);

    if ((size_t) (end - p) >= len) {
        return -1;
    }

    memcpy(buf, p, (size_t) (end - p));
    buf[end - p] = '\0';

    return (int) (end - p);
}
