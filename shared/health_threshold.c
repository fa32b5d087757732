/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: threshold evaluation.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_threshold.h"


health_status_t
health_threshold_eval(const health_threshold_t *t, double value)
{
    if (isnan(value)) {
        return HEALTH_UNKNOWN;
    }

    if (t->direction == HEALTH_LOWER_IS_WORSE) {
        if (value <= t->critical) {
            return HEALTH_UNHEALTHY;
        }

        return value <= t->warning ? HEALTH_DEGRADED : HEALTH_HEALTHY;
    }

    if (value >= t->critical) {
        return HEALTH_UNHEALTHY;
    }

    return value >= t->warning ? HEALTH_DEGRADED : HEALTH_HEALTHY;
}


int
health_threshold_validate(const health_threshold_t *t, char *err,
    size_t errlen)
{
    if (!isfinite(t->warning) || !isfinite(t->critical)) {
        if (err != NULL) {
            snprintf(err, errlen, "thresholds must be finite numbers");
        }
        return -1;
    }

    if (t->direction == HEALTH_HIGHER_IS_WORSE && t->warning > t->critical) {
        if (err != NULL) {
            snprintf(err, errlen, "warning %g is above critical %g",
                     t->warning, t->critical);
        }
        return -1;
    }

    if (t->direction == HEALTH_LOWER_IS_WORSE && t->warning < t->critical) {
        if (err != NULL) {
            snprintf(err, errlen, "warning %g is below critical %g",
                     t->warning, t->critical);
        }
        return -1;
    }

    return 0;
}


int
health_parse_percent(const char *text, size_t len, double *out, char *err,
    size_t errlen)
{
    char    buf[64], *end;
    double  v;

    if (len == 0 || len >= sizeof(buf)) {
        goto invalid;
    }

    memcpy(buf, text, len);
    buf[len] = '\0';

    if (buf[len - 1] == '%') {
        buf[--len] = '\0';
    }

    /*
     * plain decimal only: strtod() would also take "0x10", "1e1", "inf"
     * and leading blanks or signs, none of which an operator means here
     */
    if (len == 0 || buf[0] == '.' || buf[len - 1] == '.'
        || strspn(buf, "0123456789.") != len
        || strchr(buf, '.') != strrchr(buf, '.'))
    {
        goto invalid;
    }

    v = strtod(buf, &end);

    if (*end != '\0' || !isfinite(v)) {
        goto invalid;
    }

    if (v < 0 || v > 100) {
        if (err != NULL) {
            snprintf(err, errlen, "percentage %g is outside 0..100", v);
        }
        return -1;
    }

    *out = v;
    return 0;

invalid:

    if (err != NULL) {
        snprintf(err, errlen, "not a percentage");
    }

    return -1;
}
