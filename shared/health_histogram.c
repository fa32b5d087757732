/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: latency histogram maths.
 */

#include <stdio.h>

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


double
health_hist_quantile(const uint64_t *counts, uint64_t total, double q,
    uint64_t max)
{
    double    v;
    uint64_t  rank, seen;
    unsigned  i;

    if (total == 0) {
        return 0;
    }

    if (q <= 0) {
        q = 1.0 / (double) total;
    }

    if (q > 1) {
        q = 1;
    }

    /* nearest rank: the smallest value with at least q of them at or below */
    rank = (uint64_t) (q * (double) total);

    if ((double) rank < q * (double) total) {
        rank++;
    }

    if (rank == 0) {
        rank = 1;
    }

    seen = 0;

    for (i = 0; i < HEALTH_HIST_BUCKETS; i++) {
        seen += counts[i];

        if (seen >= rank) {
            break;
        }
    }

    if (i >= HEALTH_HIST_BUCKETS - 1) {
        return (double) max;
    }

    /* the middle of the integers the bucket holds */
    v = ((double) health_hist_lower(i) + (double) (health_hist_upper(i) - 1))
        / 2;

    return v > (double) max ? (double) max : v;
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
    int       n;
    char      frac[8];
    unsigned  f, digits;

    f = (unsigned) (us % 1000000);

    if (f == 0) {
        n = snprintf(buf, len, "%llu", (unsigned long long) (us / 1000000));

    } else {
        snprintf(frac, sizeof(frac), "%06u", f);

        for (digits = 6; frac[digits - 1] == '0'; digits--) {
            /* void */
        }

        n = snprintf(buf, len, "%llu.%.*s",
                     (unsigned long long) (us / 1000000), (int) digits, frac);
    }

    if (n < 0 || (size_t) n >= len) {
        return -1;
    }

    return n;
}
