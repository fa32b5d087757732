/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: status vocabulary.
 */

#include <string.h>

#include "health_status.h"


static const char *const health_status_names[HEALTH_STATUS_COUNT] = {
    "healthy", "degraded", "unhealthy", "unknown"
};


const char *
health_status_name(health_status_t s)
{
    if ((unsigned) s >= HEALTH_STATUS_COUNT) {
        return "unknown";
    }

    return health_status_names[s];
}


int
health_status_parse(const char *text, size_t len, health_status_t *out)
{
    unsigned  i;

    for (i = 0; i < HEALTH_STATUS_COUNT; i++) {
        if (strlen(health_status_names[i]) == len
            && memcmp(health_status_names[i], text, len) == 0)
        {
            *out = (health_status_t) i;
            return 0;
        }
    }

    return -1;
}


static int
health_status_rank(health_status_t s)
{
    switch (s) {
    case HEALTH_HEALTHY:
        return 0;
    case HEALTH_DEGRADED:
    case HEALTH_UNKNOWN:
        return 1;
    case HEALTH_UNHEALTHY:
        return 2;
    }

    return 1;
}


health_status_t
health_status_worst(health_status_t a, health_status_t b)
{
    int  ra, rb;

    if (a == b) {
        return a;
    }

    ra = health_status_rank(a);
    rb = health_status_rank(b);

    /*
     * Only unknown and unknown stay unknown: next to a judged check an
     * unknown one is degraded.
     */
    if (ra == 1 || rb == 1) {
        if (ra <= 1 && rb <= 1) {
            return HEALTH_DEGRADED;
        }
    }

    return ra > rb ? a : b;
}


health_status_t
health_status_fold(const health_status_t *s, size_t n)
{
    size_t           i;
    health_status_t  acc;

    if (n == 0) {
        return HEALTH_HEALTHY;
    }

    acc = s[0];

    for (i = 1; i < n; i++) {
        acc = health_status_worst(acc, s[i]);
    }

    return acc;
}


health_status_t
health_status_cap(health_status_t s, health_status_t cap)
{
    if (s == HEALTH_UNKNOWN || cap == HEALTH_UNKNOWN) {
        return s;
    }

    return s > cap ? cap : s;
}


int
health_status_http_code(health_status_t s)
{
    return s == HEALTH_UNHEALTHY ? 503 : 200;
}
