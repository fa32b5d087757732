/*
 * Unit tests for shared/: status vocabulary, thresholds, JSON writer.
 * Prints TAP for prove.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_json.h"
#include "health_status.h"
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


int
main(void)
{
    test_status();
    test_threshold();
    test_json();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
