/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Unit tests for shared/: status vocabulary, thresholds, JSON writer,
 * latency histogram, text from outside.
 * Prints TAP for prove.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_histogram.h"
#include "health_json.h"
#include "health_status.h"
#include "health_text.h"
#include "health_threshold.h"

static int  tests, failures;

#define OK(cond, name)                                                      \
    do {                                                                    \
        tests++;                                                            \
        if (cond) {                                                         \
            printf("ok %d - %s\n", tests, name);                            \
        } else {                                                            \
            failures++;                                                     \
            printf("not ok %d - %s\n#   at %s line %d\n", tests, name,      \
                   __FILE__, __LINE__);                                     \
        }                                                                   \
    } while (0)

#define IS_STR(got, want, name)                                             \
    do {                                                                    \
        const char *g_ = (got), *w_ = (want);                               \
        OK(g_ != NULL && strcmp(g_, w_) == 0, name);                        \
        if (g_ == NULL || strcmp(g_, w_) != 0) {                            \
            printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", w_); \
        }                                                                   \
    } while (0)


static void *
grow_malloc(void *ctx, void *ptr, size_t old, size_t size)
{
    (void) ctx;
    (void) old;
    return realloc(ptr, size);
}


static void *
grow_limited(void *ctx, void *ptr, size_t old, size_t size)
{
    (void) old;
    return size > *(size_t *) ctx ? NULL : realloc(ptr, size);
}


static void
test_status(void)
{
    health_status_t  s, all_unknown[] = { HEALTH_UNKNOWN, HEALTH_UNKNOWN };
    health_status_t  mixed[] = { HEALTH_HEALTHY, HEALTH_UNKNOWN,
                                 HEALTH_HEALTHY };
    health_status_t  bad[] = { HEALTH_DEGRADED, HEALTH_UNHEALTHY,
                               HEALTH_UNKNOWN };

    IS_STR(health_status_name(HEALTH_HEALTHY), "healthy", "name healthy");
    IS_STR(health_status_name(HEALTH_DEGRADED), "degraded", "name degraded");
    IS_STR(health_status_name(HEALTH_UNHEALTHY), "unhealthy",
           "name unhealthy");
    IS_STR(health_status_name(HEALTH_UNKNOWN), "unknown", "name unknown");
    IS_STR(health_status_name((health_status_t) 42), "unknown",
           "out-of-range status is named unknown");

    OK(health_status_parse("degraded", 8, &s) == 0 && s == HEALTH_DEGRADED,
       "parse degraded");
    OK(health_status_parse("degrade", 7, &s) == -1, "parse rejects prefix");
    OK(health_status_parse("HEALTHY", 7, &s) == -1,
       "parse is case-sensitive");

    OK(health_status_worst(HEALTH_HEALTHY, HEALTH_DEGRADED)
       == HEALTH_DEGRADED, "worst(healthy, degraded) = degraded");
    OK(health_status_worst(HEALTH_UNHEALTHY, HEALTH_DEGRADED)
       == HEALTH_UNHEALTHY, "worst(unhealthy, degraded) = unhealthy");
    OK(health_status_worst(HEALTH_HEALTHY, HEALTH_UNKNOWN)
       == HEALTH_DEGRADED, "unknown counts as degraded next to healthy");
    OK(health_status_worst(HEALTH_UNKNOWN, HEALTH_DEGRADED)
       == HEALTH_DEGRADED, "worst(unknown, degraded) = degraded");
    OK(health_status_worst(HEALTH_UNKNOWN, HEALTH_UNHEALTHY)
       == HEALTH_UNHEALTHY, "unhealthy beats unknown");
    OK(health_status_worst(HEALTH_UNKNOWN, HEALTH_UNKNOWN)
       == HEALTH_UNKNOWN, "two unknowns stay unknown");

    OK(health_status_fold(NULL, 0) == HEALTH_HEALTHY,
       "no checks is healthy");
    OK(health_status_fold(all_unknown, 2) == HEALTH_UNKNOWN,
       "only unknown checks give unknown");
    OK(health_status_fold(mixed, 3) == HEALTH_DEGRADED,
       "one unknown among healthy checks gives degraded, never unhealthy");
    OK(health_status_fold(bad, 3) == HEALTH_UNHEALTHY,
       "fold finds unhealthy");

    OK(health_status_cap(HEALTH_UNHEALTHY, HEALTH_DEGRADED)
       == HEALTH_DEGRADED, "required=off caps unhealthy at degraded");
    OK(health_status_cap(HEALTH_HEALTHY, HEALTH_DEGRADED) == HEALTH_HEALTHY,
       "cap leaves healthy alone");
    OK(health_status_cap(HEALTH_UNKNOWN, HEALTH_DEGRADED) == HEALTH_UNKNOWN,
       "cap leaves unknown alone");
    OK(health_status_cap(HEALTH_UNHEALTHY, HEALTH_UNHEALTHY)
       == HEALTH_UNHEALTHY, "cap at unhealthy changes nothing");

    OK(health_status_http_code(HEALTH_HEALTHY) == 200, "healthy is 200");
    OK(health_status_http_code(HEALTH_DEGRADED) == 200, "degraded is 200");
    OK(health_status_http_code(HEALTH_UNKNOWN) == 200, "unknown is 200");
    OK(health_status_http_code(HEALTH_UNHEALTHY) == 503,
       "unhealthy is 503");
}


static void
test_threshold(void)
{
    char                err[128];
    double              v;
    health_threshold_t  up = { 1, 5, HEALTH_HIGHER_IS_WORSE };
    health_threshold_t  down = { 90, 50, HEALTH_LOWER_IS_WORSE };
    health_threshold_t  inverted = { 5, 1, HEALTH_HIGHER_IS_WORSE };
    health_threshold_t  inv_down = { 50, 90, HEALTH_LOWER_IS_WORSE };
    health_threshold_t  inf = { 1, INFINITY, HEALTH_HIGHER_IS_WORSE };

    OK(health_threshold_eval(&up, 0.5) == HEALTH_HEALTHY, "below warning");
    OK(health_threshold_eval(&up, 1) == HEALTH_DEGRADED,
       "at warning is degraded");
    OK(health_threshold_eval(&up, 4.99) == HEALTH_DEGRADED,
       "between thresholds");
    OK(health_threshold_eval(&up, 5) == HEALTH_UNHEALTHY,
       "at critical is unhealthy");
    OK(health_threshold_eval(&up, 1e9) == HEALTH_UNHEALTHY,
       "far past critical");
    OK(health_threshold_eval(&up, NAN) == HEALTH_UNKNOWN,
       "nothing measured is unknown");

    OK(health_threshold_eval(&down, 99) == HEALTH_HEALTHY,
       "lower-is-worse: above warning is healthy");
    OK(health_threshold_eval(&down, 90) == HEALTH_DEGRADED,
       "lower-is-worse: at warning");
    OK(health_threshold_eval(&down, 50) == HEALTH_UNHEALTHY,
       "lower-is-worse: at critical");

    OK(health_threshold_validate(&up, err, sizeof(err)) == 0,
       "valid thresholds");
    OK(health_threshold_validate(&down, err, sizeof(err)) == 0,
       "valid lower-is-worse thresholds");
    OK(health_threshold_validate(&inverted, err, sizeof(err)) == -1,
       "warning above critical is refused");
    IS_STR(err, "warning 5 is above critical 1", "and says why");
    OK(health_threshold_validate(&inv_down, err, sizeof(err)) == -1,
       "lower-is-worse warning below critical is refused");
    OK(health_threshold_validate(&inf, NULL, 0) == -1,
       "infinite threshold is refused");

    OK(health_parse_percent("12.5%", 5, &v, err, sizeof(err)) == 0
       && v == 12.5, "parse 12.5%");
    OK(health_parse_percent("100", 3, &v, err, sizeof(err)) == 0
       && v == 100, "parse 100");
    OK(health_parse_percent("0", 1, &v, err, sizeof(err)) == 0 && v == 0,
       "parse 0");
    OK(health_parse_percent("101%", 4, &v, err, sizeof(err)) == -1,
       "over 100 refused");
    IS_STR(err, "percentage 101 is outside 0..100", "and says why");
    OK(health_parse_percent("-1", 2, &v, err, sizeof(err)) == -1,
       "negative refused");
    OK(health_parse_percent("5x", 2, &v, err, sizeof(err)) == -1,
       "trailing junk refused");
    OK(health_parse_percent("%", 1, &v, err, sizeof(err)) == -1,
       "bare % refused");
    OK(health_parse_percent("", 0, &v, err, sizeof(err)) == -1,
       "empty refused");
    OK(health_parse_percent("nan", 3, &v, err, sizeof(err)) == -1,
       "nan refused");
    OK(health_parse_percent("0x10", 4, &v, err, sizeof(err)) == -1,
       "hex refused");
    OK(health_parse_percent("1e1", 3, &v, err, sizeof(err)) == -1,
       "exponent refused");
    OK(health_parse_percent(" 5", 2, &v, err, sizeof(err)) == -1,
       "leading blank refused");
    OK(health_parse_percent("1.2.3", 5, &v, err, sizeof(err)) == -1,
       "two points refused");
    OK(health_parse_percent("5.", 2, &v, err, sizeof(err)) == -1,
       "trailing point refused");
    OK(health_parse_percent("0.5%", 4, &v, err, sizeof(err)) == 0
       && v == 0.5, "parse 0.5%");
}


static void
test_json(void)
{
    size_t          limit;
    health_json_t   w;
    health_check_t  c = {
        HEALTH_DEGRADED, 2310, "ms", { 2000, 5000, HEALTH_HIGHER_IS_WORSE },
        NULL
    };
    health_check_t  u = {
        HEALTH_UNKNOWN, NAN, NULL, { 80, 95, HEALTH_HIGHER_IS_WORSE },
        "permission denied for \"pg_stat_activity\"\n"
    };

    health_json_init(&w, grow_malloc, NULL);
    health_json_object_open(&w, NULL);
    health_json_string(&w, "status", "degraded");
    health_json_object_open(&w, HEALTH_KEY_CHECKS);
    health_json_check_open(&w, "latency_p95", &c);
    health_json_integer(&w, "window_s", 60);
    health_json_object_close(&w);
    health_json_check_open(&w, "db", &u);
    health_json_object_close(&w);
    health_json_object_close(&w);
    health_json_array_open(&w, "list");
    health_json_integer(&w, NULL, 1);
    health_json_number(&w, NULL, 0.1);
    health_json_bool(&w, NULL, 1);
    health_json_null(&w, NULL);
    health_json_raw(&w, NULL, "{\"a\":[]}", 8);
    health_json_string(&w, NULL, NULL);
    health_json_array_close(&w);
    health_json_stringn(&w, "ctl", "a\x01\tb", 4);
    health_json_object_close(&w);

    OK(health_json_finish(&w) == 0, "document complete");
    IS_STR(w.data,
           "{\"status\":\"degraded\",\"checks\":{\"latency_p95\":"
           "{\"status\":\"degraded\",\"value\":2310,\"unit\":\"ms\","
           "\"warning\":2000,\"critical\":5000,\"window_s\":60},"
           "\"db\":{\"status\":\"unknown\",\"value\":null,\"warning\":80,"
           "\"critical\":95,\"reason\":"
           "\"permission denied for \\\"pg_stat_activity\\\"\\n\"}},"
           "\"list\":[1,0.1,true,null,{\"a\":[]},null],"
           "\"ctl\":\"a\\u0001\\tb\"}",
           "check objects and escaping as the schema says");
    free(w.data);

    health_json_init(&w, grow_malloc, NULL);
    health_json_object_open(&w, NULL);
    OK(health_json_finish(&w) == -1, "unclosed object is incomplete");
    health_json_object_close(&w);
    health_json_object_close(&w);
    OK(health_json_finish(&w) == -1, "closing too often is caught");
    free(w.data);

    limit = 300;
    health_json_init(&w, grow_limited, &limit);
    health_json_array_open(&w, NULL);
    for (int i = 0; i < 200; i++) {
        health_json_string(&w, NULL, "0123456789");
    }
    health_json_array_close(&w);
    OK(health_json_finish(&w) == -1,
       "an allocation failure is reported, not a truncated document");
    OK(w.len < 300, "nothing written past the failure");
    free(w.data);
}


/* a sorted sample and its true nearest-rank quantile */
static uint64_t
true_quantile(const uint64_t *sorted, size_t n, double q)
{
    size_t  rank;

    rank = (size_t) (q * (double) n);

    if ((double) rank < q * (double) n) {
        rank++;
    }

    return sorted[rank ? rank - 1 : 0];
}


static int
cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


static void
check_quantiles(const char *name, uint64_t *sample, size_t n)
{
    char      msg[128];
    double    q[] = { 0.5, 0.95, 0.99, 1.0 }, got, want, err, all[4];
    size_t    i;
    uint32_t  counts[HEALTH_HIST_BUCKETS];
    uint64_t  max = 0;
    unsigned  k;

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < n; i++) {
        counts[health_hist_index(sample[i])]++;
        max = sample[i] > max ? sample[i] : max;
    }

    qsort(sample, n, sizeof(uint64_t), cmp_u64);

    for (k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
        got = health_hist_quantile(counts, n, q[k], max);
        want = (double) true_quantile(sample, n, q[k]);
        err = want ? fabs(got - want) / want : fabs(got);
        snprintf(msg, sizeof(msg), "%s: q%.2f %.1f vs %.0f (%.2f%%)", name,
                 q[k], got, want, err * 100);
        OK(err <= HEALTH_HIST_REL_ERROR + 1e-12, msg);
    }

    /* one walk for them all answers what one walk each does */
    health_hist_quantiles(counts, n, q, all, 4, max);

    for (k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
        snprintf(msg, sizeof(msg), "%s: q%.2f in one walk %.1f", name, q[k],
                 all[k]);
        OK(all[k] == health_hist_quantile(counts, n, q[k], max), msg);
    }

    /* counts that fall short of total (a racy read): max, like the walk */
    health_hist_quantiles(counts, n + 1000000, q, all, 4, max);
    snprintf(msg, sizeof(msg), "%s: short counts in one walk", name);
    OK(all[3] == health_hist_quantile(counts, n + 1000000, 1.0, max)
       && all[0] == health_hist_quantile(counts, n + 1000000, 0.5, max),
       msg);
}


static void
test_histogram(void)
{
    int       monotonic, inside, narrow, ends;
    char      buf[32], err[128];
    size_t    bad, i;
    unsigned  idx, prev;
    uint64_t  v, sample[20000], seed = 42;
    uint64_t  dflt[] = { 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                         1000000, 2500000, 5000000, 10000000 };
    uint64_t  unsorted[] = { 5000, 1000, 20000 };
    uint64_t  dup[] = { 5000, 5000 };
    uint64_t  zero[] = { 0, 5000 };
    uint64_t  many[HEALTH_HIST_MAX_BOUNDS + 1];
    uint32_t  counts[HEALTH_HIST_BUCKETS];

    OK(HEALTH_HIST_BUCKETS == 384, "384 buckets up to 2^27 us");

    monotonic = inside = narrow = 1;
    prev = 0;

    for (v = 0; v < ((uint64_t) 1 << 28); v += 1 + v / 97) {
        idx = health_hist_index(v);

        if (idx < prev) {
            monotonic = 0;
        }

        prev = idx;

        if (idx < HEALTH_HIST_BUCKETS - 1
            && (v < health_hist_lower(idx) || v >= health_hist_upper(idx)))
        {
            inside = 0;
        }
    }

    for (idx = 32; idx < HEALTH_HIST_BUCKETS; idx++) {
        if ((health_hist_upper(idx) - health_hist_lower(idx)) * HEALTH_HIST_SUB
            > health_hist_lower(idx))
        {
            narrow = 0;
        }

        if (health_hist_lower(idx) != health_hist_upper(idx - 1)) {
            narrow = 0;
        }
    }

    /* both ends of every bucket, and the values just outside them */
    ends = 1;

    for (idx = 0; idx < HEALTH_HIST_BUCKETS - 1; idx++) {
        if (health_hist_index(health_hist_lower(idx)) != idx
            || health_hist_index(health_hist_upper(idx) - 1) != idx
            || health_hist_index(health_hist_upper(idx)) != idx + 1)
        {
            ends = 0;
        }
    }

    OK(ends, "the first and the last value of every bucket index to it");
    OK(monotonic, "bucket index never decreases with the value");
    OK(inside, "every value lies inside its bucket");
    OK(narrow, "buckets are contiguous and at most 1/16 of their bound wide");
    OK(health_hist_index(31) == 31 && health_hist_index(32) == 32
       && health_hist_index(33) == 32, "exact below 32 us");
    OK(health_hist_index((uint64_t) 1 << 27) == HEALTH_HIST_BUCKETS - 1
       && health_hist_index(UINT64_MAX) == HEALTH_HIST_BUCKETS - 1,
       "huge values share the last bucket");

    memset(counts, 0, sizeof(counts));
    OK(health_hist_quantile(counts, 0, 0.5, 0) == 0, "empty: quantile 0");

    for (i = 0; i < 1000; i++) {
        sample[i] = 50000;
    }
    check_quantiles("constant 50ms", sample, 1000);

    for (i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        sample[i] = 100 + (seed >> 33) % 2000000;
    }
    check_quantiles("uniform 0.1ms..2s", sample, 20000);

    for (i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        sample[i] = (uint64_t) exp(3 + ((seed >> 11) % 1000000) / 1e5);
    }
    check_quantiles("log-uniform 20us..440ms", sample, 20000);

    for (i = 0; i < 100; i++) {
        sample[i] = i < 99 ? 7 : 29;
    }
    check_quantiles("small exact values", sample, 100);

    sample[0] = 300000000;
    check_quantiles("one value past the top", sample, 1);

    OK(health_hist_bound_index(dflt, 11, 0) == 0, "0 goes to the first bound");
    OK(health_hist_bound_index(dflt, 11, 5000) == 0,
       "a value equal to a bound is counted in it (le)");
    OK(health_hist_bound_index(dflt, 11, 5001) == 1, "just past goes on");
    OK(health_hist_bound_index(dflt, 11, 2500000) == 8, "2.5s is bound 8");
    OK(health_hist_bound_index(dflt, 11, 10000001) == 11,
       "past the last bound is +Inf");

    {
        int            same = 1;
        unsigned char  table[HEALTH_HIST_BUCKETS];
        uint64_t       close[] = { 100, 101, 102, 5000, 5001, 1000000 };

        health_hist_bound_table(dflt, 11, table);

        for (v = 0; v < ((uint64_t) 1 << 29); v += 1 + v / 1000) {
            if (health_hist_bound_lookup(table, dflt, 11,
                                         health_hist_index(v), v)
                != health_hist_bound_index(dflt, 11, v))
            {
                same = 0;
            }
        }

        /* several bounds inside one fine bucket */
        health_hist_bound_table(close, 6, table);

        for (v = 0; v < 2000000; v += 1 + v / 5000) {
            if (health_hist_bound_lookup(table, close, 6,
                                         health_hist_index(v), v)
                != health_hist_bound_index(close, 6, v))
            {
                same = 0;
            }
        }

        OK(same, "table lookup agrees with the search for every value");
    }

    OK(health_hist_bounds_validate(dflt, 11, &bad, err, sizeof(err)) == 0,
       "default bounds are valid");
    OK(health_hist_bounds_validate(unsorted, 3, &bad, err, sizeof(err)) == -1
       && bad == 1, "unsorted bounds are refused at the offending one");
    IS_STR(err, "bounds must be in increasing order", "and says why");
    OK(health_hist_bounds_validate(dup, 2, &bad, err, sizeof(err)) == -1
       && bad == 1, "duplicate bounds are refused");
    IS_STR(err, "duplicate bound", "and says why");
    OK(health_hist_bounds_validate(zero, 2, &bad, err, sizeof(err)) == -1
       && bad == 0, "a zero bound is refused");

    for (i = 0; i < HEALTH_HIST_MAX_BOUNDS + 1; i++) {
        many[i] = 1000 * (i + 1);
    }

    OK(health_hist_bounds_validate(many, HEALTH_HIST_MAX_BOUNDS, NULL, NULL,
                                   0) == 0, "32 bounds are fine");
    OK(health_hist_bounds_validate(many, HEALTH_HIST_MAX_BOUNDS + 1, NULL,
                                   NULL, 0) == -1, "33 bounds are too many");

    health_hist_format_seconds(5000, buf, sizeof(buf));
    IS_STR(buf, "0.005", "5ms formats as 0.005");
    health_hist_format_seconds(2500000, buf, sizeof(buf));
    IS_STR(buf, "2.5", "2.5s formats as 2.5");
    health_hist_format_seconds(10000000, buf, sizeof(buf));
    IS_STR(buf, "10", "10s formats as 10");
    health_hist_format_seconds(1234567, buf, sizeof(buf));
    IS_STR(buf, "1.234567", "microseconds are kept");
    health_hist_format_seconds(0, buf, sizeof(buf));
    IS_STR(buf, "0", "zero");
    OK(health_hist_format_seconds(UINT64_MAX, buf, sizeof(buf)) > 0,
       "the largest value fits 32 bytes");
    OK(health_hist_format_seconds(1000000, buf, 1) == -1,
       "a short buffer is reported");
    OK(health_hist_format_seconds(UINT64_MAX, buf, sizeof(buf)) == 21
       && strcmp(buf, "18446744073709.551615") == 0,
       "the largest value, exactly");
    OK(health_hist_format_seconds(1000000, buf, 2) == 1
       && strcmp(buf, "1") == 0, "a buffer just long enough");

    {
        int       same = 1, n;
        char      ref[32];
        uint64_t  us;

        /* the digits by hand are what printf gives */
        for (us = 0; us < 50000000; us += 1 + us / 1000) {
            n = snprintf(ref, sizeof(ref), "%llu",
                         (unsigned long long) (us / 1000000));

            if (us % 1000000) {
                snprintf(ref + n, sizeof(ref) - n, ".%06u",
                         (unsigned) (us % 1000000));

                for (n = (int) strlen(ref); ref[n - 1] == '0'; n--) {
                    ref[n - 1] = '\0';
                }
            }

            if (health_hist_format_seconds(us, buf, sizeof(buf))
                    != (int) strlen(ref)
                || strcmp(buf, ref) != 0)
            {
                same = 0;
            }
        }

        OK(same, "seconds as printf writes them, 0 to 50 s");
    }
}


/* the text as a C string, for IS_STR */
static const char *
text(const char *src, size_t len, size_t size, unsigned flags, int *cut)
{
    static char  buf[1024];
    size_t       n;

    n = health_text_sanitize(buf, size, src, len, flags, cut);
    buf[n] = '\0';

    return buf;
}


static void
test_text(void)
{
    int     cut;
    char    in[512];
    size_t  i, n;

    IS_STR(text("plain", 5, 100, 0, &cut), "plain", "ASCII is kept");
    OK(cut == 0, "and not cut");
    IS_STR(text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 100, 0,
                NULL),
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "valid 2-, 3- and 4-byte characters are kept");
    IS_STR(text("ERR \xff\xfe", 6, 100, 0, NULL),
           "ERR \xef\xbf\xbd\xef\xbf\xbd", "0xff 0xfe: two U+FFFD");
    IS_STR(text("a\xc0\xafz", 4, 100, 0, NULL), "a\xef\xbf\xbdz",
           "an overlong '/' is one U+FFFD");
    IS_STR(text("\xed\xa0\x80x", 4, 100, 0, NULL), "\xef\xbf\xbdx",
           "a surrogate is refused");
    IS_STR(text("\xf4\x90\x80\x80x", 5, 100, 0, NULL), "\xef\xbf\xbdx",
           "above U+10FFFF is refused");
    IS_STR(text("\xe2\x82", 2, 100, 0, NULL), "\xef\xbf\xbd",
           "a truncated character at the end: U+FFFD");
    IS_STR(text("ab\xe2\x82", 4, 100, HEALTH_TEXT_CUT_INPUT, NULL), "ab",
           "the same with HEALTH_TEXT_CUT_INPUT: dropped");
    IS_STR(text("ab\xe2\x28", 4, 100, HEALTH_TEXT_CUT_INPUT, NULL),
           "ab\xef\xbf\xbd(", "but an invalid one is still replaced");

    /* 199 ASCII bytes then an e-acute, cut at 200 */
    memset(in, 'a', 199);
    memcpy(in + 199, "\xc3\xa9", 2);
    n = health_text_sanitize(in + 256, 200, in, 201, 0, &cut);
    OK(n == 199 && cut == 1, "a cut never splits a character");
    n = health_text_sanitize(in + 256, 201, in, 201, 0, &cut);
    OK(n == 201 && cut == 0, "and keeps it when it fits");

    /* 100 e-acute, quoted in 64 bytes */
    for (i = 0; i < 100; i++) {
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    }

    n = health_text_sanitize(in + 256, 63, in, 200, 0, &cut);
    OK(n == 62 && cut == 1, "63 bytes of 2-byte characters: 62");
    OK(health_text_valid_prefix(in + 256, n) == n, "and valid");
    OK(health_text_valid_prefix(in, 63) == 62,
       "valid_prefix stops before a split character");

    n = health_text_sanitize(in + 256, 2, "\xff", 1, 0, &cut);
    OK(n == 0 && cut == 1, "U+FFFD that does not fit is not half written");

    IS_STR(text("a\r\n[emerg] b\tc\x7f\xc2\x85", 17, 100, HEALTH_TEXT_LINE,
                NULL),
           "a  [emerg] b c  ", "HEALTH_TEXT_LINE: controls become spaces");
    IS_STR(text("a\r\nb", 4, 100, 0, NULL), "a\r\nb",
           "without it they are kept");
    IS_STR(text("a\0b", 3, 100, HEALTH_TEXT_LINE, NULL), "a b",
           "a NUL byte too");

    for (i = 0; i < 256; i++) {
        in[i] = (char) i;
    }

    n = health_text_sanitize(in + 256, 256, in, 256, 0, &cut);
    OK(health_text_valid_prefix(in + 256, n) == n,
       "every byte value gives valid UTF-8");
}


int
main(void)
{
    test_status();
    test_threshold();
    test_json();
    test_histogram();
    test_text();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
