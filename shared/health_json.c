/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: JSON writer for the report schema.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "health_json.h"


static void
health_json_put(health_json_t *w, const char *s, size_t n)
{
    size_t   cap;
    char    *p;

    if (w->failed) {
        return;
    }

    if (w->len + n + 1 > w->cap) {
        cap = w->cap ? w->cap : 256;

        while (cap < w->len + n + 1) {
            cap *= 2;
        }

        p = w->grow(w->ctx, w->data, w->cap, cap);
        if (p == NULL) {
            w->failed = 1;
            return;
        }

        w->data = p;
        w->cap = cap;
    }

    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}


static void
health_json_escaped(health_json_t *w, const char *s, size_t n)
{
    char                  esc[8];
    size_t                i, run;
    unsigned char         c;
    static const char     hex[] = "0123456789abcdef";

    health_json_put(w, "\"", 1);

    run = 0;

    for (i = 0; i < n; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }

        health_json_put(w, s + run, i - run);
        run = i + 1;

        switch (c) {
        case '"':  health_json_put(w, "\\\"", 2); break;
        case '\\': health_json_put(w, "\\\\", 2); break;
        case '\n': health_json_put(w, "\\n", 2); break;
        case '\r': health_json_put(w, "\\r", 2); break;
        case '\t': health_json_put(w, "\\t", 2); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            health_json_put(w, esc, 6);
        }
    }

    health_json_put(w, s + run, n - run);
    health_json_put(w, "\"", 1);
}


/* the separator and key that come before every value */
static void
health_json_prefix(health_json_t *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth - 1]) {
            health_json_put(w, ",", 1);
        }
        w->first[w->depth - 1] = 0;
    }

    if (key != NULL) {
        health_json_escaped(w, key, strlen(key));
        health_json_put(w, ":", 1);
    }
}


void
health_json_init(health_json_t *w, health_grow_pt grow, void *ctx)
{
    memset(w, 0, sizeof(health_json_t));
    w->grow = grow;
    w->ctx = ctx;
}


int
health_json_finish(health_json_t *w)
{
    if (w->failed || w->depth != 0 || w->len == 0) {
        return -1;
    }

    return 0;
}


static void
health_json_open(health_json_t *w, const char *key, const char *brace)
{
    health_json_prefix(w, key);
    health_json_put(w, brace, 1);

    if (w->depth == HEALTH_JSON_MAX_DEPTH) {
        w->failed = 1;
        return;
    }

    w->first[w->depth++] = 1;
}


static void
health_json_close(health_json_t *w, const char *brace)
{
    if (w->depth == 0) {
        w->failed = 1;
        return;
    }

    w->depth--;
    health_json_put(w, brace, 1);
}


void
health_json_object_open(health_json_t *w, const char *key)
{
    health_json_open(w, key, "{");
}


void
health_json_object_close(health_json_t *w)
{
    health_json_close(w, "}");
}


void
health_json_array_open(health_json_t *w, const char *key)
{
    health_json_open(w, key, "[");
}


void
health_json_array_close(health_json_t *w)
{
    health_json_close(w, "]");
}


void
health_json_stringn(health_json_t *w, const char *key, const char *s,
    size_t len)
{
    health_json_prefix(w, key);
    health_json_escaped(w, s, len);
}


void
health_json_string(health_json_t *w, const char *key, const char *s)
{
    if (s == NULL) {
        health_json_null(w, key);
        return;
    }

    health_json_stringn(w, key, s, strlen(s));
}


void
health_json_number(health_json_t *w, const char *key, double v)
{
    int   n;
    char  buf[32];

    if (!isfinite(v)) {
        health_json_null(w, key);
        return;
    }

    /* 15 significant digits print 0.1 as 0.1, and integers exactly */
    n = snprintf(buf, sizeof(buf), "%.15g", v);

    health_json_prefix(w, key);
    health_json_put(w, buf, (size_t) n);
}


void
health_json_integer(health_json_t *w, const char *key, long long v)
{
    int   n;
    char  buf[32];

    n = snprintf(buf, sizeof(buf), "%lld", v);

    health_json_prefix(w, key);
    health_json_put(w, buf, (size_t) n);
}


void
health_json_bool(health_json_t *w, const char *key, int v)
{
    health_json_prefix(w, key);

    if (v) {
        health_json_put(w, "true", 4);
    } else {
        health_json_put(w, "false", 5);
    }
}


void
health_json_null(health_json_t *w, const char *key)
{
    health_json_prefix(w, key);
    health_json_put(w, "null", 4);
}


void
health_json_raw(health_json_t *w, const char *key, const char *json,
    size_t len)
{
    health_json_prefix(w, key);
    health_json_put(w, json, len);
}


void
health_json_check_open(health_json_t *w, const char *key,
    const health_check_t *c)
{
    health_json_object_open(w, key);
    health_json_string(w, HEALTH_KEY_STATUS, health_status_name(c->status));
    health_json_number(w, HEALTH_KEY_VALUE, c->value);

    if (c->unit != NULL) {
        health_json_string(w, HEALTH_KEY_UNIT, c->unit);
    }

    health_json_number(w, HEALTH_KEY_WARNING, c->threshold.warning);
    health_json_number(w, HEALTH_KEY_CRITICAL, c->threshold.critical);

    if (c->reason != NULL) {
        health_json_string(w, HEALTH_KEY_REASON, c->reason);
    }
}
