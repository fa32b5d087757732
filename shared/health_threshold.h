/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: turning a measured value into a status against a warning
 * and a critical threshold.
 */

#ifndef HEALTH_THRESHOLD_H
#define HEALTH_THRESHOLD_H

#include <stddef.h>

#include "health_status.h"

typedef enum {
    HEALTH_HIGHER_IS_WORSE = 0,     /* error rate, latency, usage */
    HEALTH_LOWER_IS_WORSE = 1       /* hit rate, free slots */
} health_direction_t;

typedef struct {
    double              warning;
    double              critical;
    health_direction_t  direction;
} health_threshold_t;

/*
 * A value at or beyond critical is unhealthy, at or beyond warning is
 * degraded, otherwise healthy.  NaN (nothing measured) is unknown.
 */
health_status_t health_threshold_eval(const health_threshold_t *t,
    double value);

/*
 * 0 if the thresholds are usable: finite, and warning not beyond critical
 * in the direction of badness.  Otherwise -1 and a message in err.
 */
int health_threshold_validate(const health_threshold_t *t, char *err,
    size_t errlen);

/*
 * Parse a percentage "12.5" or "12.5%" in [0, 100].  0 on success, -1 and a
 * message in err otherwise.
 */
int health_parse_percent(const char *text, size_t len, double *out,
    char *err, size_t errlen);

#endif /* HEALTH_THRESHOLD_H */
