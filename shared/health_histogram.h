/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: latency histogram maths.
 *
 * A log-linear histogram of microseconds.  Values below 32 us have a bucket
 * each; from there every power of two is split into 16 equal sub-buckets,
 * so a bucket is at most 1/16 of its lower bound wide.  A quantile answered
 * with the middle of its bucket is therefore within 1/32 (3.125 %) of a
 * value actually observed at that rank, and exact below 32 us.  Values of
 * 2^27 us (134 s) and more share the last bucket; the quantile of that
 * bucket is the largest value seen, which the caller keeps apart.
 *
 * Independently of that, the Prometheus bounds configured by the operator
 * are counted exactly: health_hist_bound_index() places a value in the
 * first bound it does not exceed (Prometheus "le" semantics).
 *
 * The arrays are plain integers so that they can sit in shared memory; the
 * caller decides how to add to them (atomically or not).
 */

#ifndef HEALTH_HISTOGRAM_H
#define HEALTH_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HEALTH_HIST_SUB_BITS   4
#define HEALTH_HIST_SUB        (1 << HEALTH_HIST_SUB_BITS)
#define HEALTH_HIST_TOP_EXP    27
#define HEALTH_HIST_BUCKETS                                                   \
    (HEALTH_HIST_SUB * (HEALTH_HIST_TOP_EXP - HEALTH_HIST_SUB_BITS + 1))

/* relative error bound of health_hist_quantile() for values >= 32 us */
#define HEALTH_HIST_REL_ERROR  (1.0 / (2 * HEALTH_HIST_SUB))

/* the largest number of Prometheus bounds (the +Inf bucket comes on top) */
#define HEALTH_HIST_MAX_BOUNDS  32


static inline unsigned
health_hist_msb(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    /* 63 - clz, written so that the compiler keeps bsr's answer */
    return (unsigned) __builtin_clzll(v) ^ 63;
#else
    unsigned  n = 0;

    while (v >>= 1) {
        n++;
    }

    return n;
#endif
}


/*
 * The bucket of a value in microseconds: no loop, no table.  With s the
 * shift that leaves the top SUB_BITS + 1 bits of us, us >> s is SUB plus
 * the sub-bucket, so the group's base (s + 1) * SUB and that add up to
 * s * SUB + (us >> s): a shift, a shift and an add (the hot path's fold
 * runs this once a request).
 */
static inline unsigned
health_hist_index(uint64_t us)
{
    unsigned  s;

    if (us < HEALTH_HIST_SUB) {
        return (unsigned) us;
    }

    s = health_hist_msb(us) - HEALTH_HIST_SUB_BITS;

    if (s >= HEALTH_HIST_TOP_EXP - HEALTH_HIST_SUB_BITS) {
        return HEALTH_HIST_BUCKETS - 1;
    }

    return s * HEALTH_HIST_SUB + (unsigned) (us >> s);
}


/*
 * The index of the first bound that us does not exceed, or n (the +Inf
 * bucket) when it exceeds them all.  bounds must be strictly increasing.
 */
static inline unsigned
health_hist_bound_index(const uint64_t *bounds, unsigned n, uint64_t us)
{
    unsigned  lo = 0, hi = n, mid;

    while (lo < hi) {
        mid = (lo + hi) / 2;

        if (us <= bounds[mid]) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return lo;
}


/*
 * The same answer without a search, for a hot path that has computed the
 * fine bucket index of us anyway: table (HEALTH_HIST_BUCKETS entries, made
 * by health_hist_bound_table) gives the first bound not below the bucket's
 * lower end, and at most the few bounds that fall inside the bucket are
 * stepped over.
 */
static inline unsigned
health_hist_bound_lookup(const unsigned char *table, const uint64_t *bounds,
    unsigned n, unsigned index, uint64_t us)
{
    unsigned  b;

    b = table[index];

    while (b < n && us > bounds[b]) {
        b++;
    }

    return b;
}


void health_hist_bound_table(const uint64_t *bounds, unsigned n,
    unsigned char *table);

/* the smallest value of bucket i, and the first value past it */
uint64_t health_hist_lower(unsigned i);
uint64_t health_hist_upper(unsigned i);

/*
 * The q-quantile (0 < q <= 1, nearest rank) of a histogram of
 * HEALTH_HIST_BUCKETS counts holding total values whose largest was max.
 * The counts are a window's (32 bits each: 4 billion requests in one
 * bucket of one window is 70 million a second for a minute).
 * The answer never exceeds max.  0 when total is 0.
 */
double health_hist_quantile(const uint32_t *counts, uint64_t total,
    double q, uint64_t max);

/*
 * The same for n quantiles at once (q ascending, at most
 * HEALTH_HIST_MAX_QUANTILES), in one walk of the counts: out[k] is exactly
 * health_hist_quantile(counts, total, q[k], max).
 */
#define HEALTH_HIST_MAX_QUANTILES  8

void health_hist_quantiles(const uint32_t *counts, uint64_t total,
    const double *q, double *out, unsigned n, uint64_t max);

/*
 * Check Prometheus bounds: 1..HEALTH_HIST_MAX_BOUNDS values, each above 0
 * and strictly above the one before.  0 if usable; otherwise -1, the index
 * of the offending bound in *bad and a message in err.
 */
int health_hist_bounds_validate(const uint64_t *bounds, size_t n,
    size_t *bad, char *err, size_t errlen);

/*
 * Format microseconds as seconds in the shortest exact decimal ("0.005",
 * "2.5", "10"), as Prometheus "le" labels and _sum values want them.
 * Returns the length written (without the NUL), or -1 if buf is too small;
 * 28 bytes always suffice.
 */
int health_hist_format_seconds(uint64_t us, char *buf, size_t len);

#endif /* HEALTH_HISTOGRAM_H */
