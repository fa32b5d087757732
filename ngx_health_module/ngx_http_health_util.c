/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: small primitives several parts need (see the header).
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "health_text.h"
#include "ngx_http_health_shm.h"
#include "ngx_http_health_util.h"


#define ngx_http_health_lease_id(generation)                                 \
    ((generation) << 32 | (uint32_t) ngx_pid)


u_char *
ngx_http_health_log_escape(u_char *dst, u_char *last, u_char *src,
    size_t len)
{
    u_char  c, *end;

    static u_char  hex[] = "0123456789abcdef";

    end = src + len;

    while (src < end) {
        c = *src;

        if (c < 0x20 || c == 0x7f) {
            if (last - dst < 4) {
                break;
            }

            *dst++ = '\\';
            *dst++ = 'x';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];

        } else if (c == '\\') {
            if (last - dst < 2) {
                break;
            }

            *dst++ = '\\';
            *dst++ = '\\';

        } else {
            if (dst == last) {
                break;
            }

            *dst++ = c;
        }

        src++;
    }

    return dst;
}


u_char *
ngx_http_health_text_line(u_char *dst, size_t size, u_char *src, size_t len)
{
    return dst + health_text_sanitize((char *) dst, size, (char *) src, len,
                                      HEALTH_TEXT_LINE, NULL);
}


json_t *
ngx_http_health_json_text(u_char *src, size_t len)
{
    char    *buf;
    size_t   n;
    json_t  *s;

    if (health_text_valid_prefix((char *) src, len) == len) {
        return json_stringn((char *) src, len);
    }

    /* every byte may become the 3 bytes of U+FFFD */
    buf = ngx_alloc(3 * len + 1, ngx_cycle->log);
    if (buf == NULL) {
        return NULL;
    }

    n = health_text_sanitize(buf, 3 * len + 1, (char *) src, len, 0, NULL);
    s = json_stringn(buf, n);

    ngx_free(buf);

    return s;
}


ngx_int_t
ngx_http_health_json_set_text(json_t *obj, const char *key, u_char *src,
    size_t len)
{
    json_t  *s;

    s = ngx_http_health_json_text(src, len);

    if (s == NULL) {
        /* a marker says a field was there */
        s = json_string("(text left out)");
    }

    (void) json_object_set_new(obj, key, s);

    return NGX_OK;
}


u_char *
ngx_http_health_iso8601(u_char *buf, time_t sec, ngx_uint_t msec)
{
    ngx_tm_t  tm;

    ngx_gmtime(sec, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03uiZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       msec % 1000);
}


ngx_uint_t
ngx_http_health_lease_take(ngx_http_health_lease_t *lease,
    uint64_t generation, ngx_msec_t ttl)
{
    uint64_t  owner, mine, now;

    now = ngx_http_health_monotonic_usec() / 1000;

    mine = ngx_http_health_lease_id(generation);
    owner = ngx_http_health_load(&lease->owner);

    if (owner == mine) {
        __atomic_store_n(&lease->expires, now + ttl, __ATOMIC_RELEASE);
        return NGX_HTTP_HEALTH_LEASE_KEPT;
    }

    if (owner != 0
        && (owner >> 32) >= generation
        && ngx_http_health_load(&lease->expires) > now
        && (kill((ngx_pid_t) (owner & 0xffffffff), 0) == 0
            || ngx_errno != NGX_ESRCH))
    {
        return NGX_HTTP_HEALTH_LEASE_NO;
    }

    if (!__atomic_compare_exchange_n(&lease->owner, &owner, mine, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    {
        return NGX_HTTP_HEALTH_LEASE_NO;
    }

    __atomic_store_n(&lease->expires, now + ttl, __ATOMIC_RELEASE);

    return owner ? NGX_HTTP_HEALTH_LEASE_TAKEN : NGX_HTTP_HEALTH_LEASE_FREE;
}


/*
 * Free at once for the others, if this worker holds it; expires is left
 * alone: a free lease is free whatever it says, and a store after the
 * exchange could shorten the lease of the worker that took it meanwhile.
 */
void
ngx_http_health_lease_release(ngx_http_health_lease_t *lease,
    uint64_t generation)
{
    uint64_t  mine;

    mine = ngx_http_health_lease_id(generation);

    (void) __atomic_compare_exchange_n(&lease->owner, &mine, 0, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}
