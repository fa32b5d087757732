/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the status vocabulary shared by the nginx module and the
 * PostgreSQL extension.
 *
 * Order of badness: healthy < degraded < unhealthy.  unknown (a check that
 * could not run) counts as degraded when folded with other statuses, never
 * as unhealthy by itself.
 */

#ifndef HEALTH_STATUS_H
#define HEALTH_STATUS_H

#include <stddef.h>

typedef enum {
    HEALTH_HEALTHY = 0,
    HEALTH_DEGRADED = 1,
    HEALTH_UNHEALTHY = 2,
    HEALTH_UNKNOWN = 3          /* also the Prometheus value of unknown */
} health_status_t;

#define HEALTH_STATUS_COUNT  4

const char *health_status_name(health_status_t s);

/* 0 on success, -1 if the text is not one of the four words */
int health_status_parse(const char *text, size_t len, health_status_t *out);

/*
 * The worse of two statuses.  unknown ranks as degraded: two unknowns stay
 * unknown, an unknown next to healthy or degraded gives degraded, next to
 * unhealthy gives unhealthy.
 */
health_status_t health_status_worst(health_status_t a, health_status_t b);

/* Fold an array with health_status_worst; an empty array is healthy. */
health_status_t health_status_fold(const health_status_t *s, size_t n);

/*
 * Limit a status to at most "cap" (a dependency with required=off is capped
 * at degraded).  unknown is left as it is: it never exceeds degraded.
 */
health_status_t health_status_cap(health_status_t s, health_status_t cap);

/* 503 for unhealthy, 200 for everything else */
int health_status_http_code(health_status_t s);

#endif /* HEALTH_STATUS_H */
