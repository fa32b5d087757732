/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: small primitives several parts need.
 *
 * Text that comes from outside (a server's error message, a reply) must
 * neither forge lines in error.log nor make a JSON encoder fail: these
 * helpers escape it for the log and make it valid UTF-8 for JSON.
 */

#ifndef _NGX_HTTP_HEALTH_UTIL_H_INCLUDED_
#define _NGX_HTTP_HEALTH_UTIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>


/*
 * Copy src to dst for error.log: control characters (C0 and DEL) become
 * \xNN and "\" becomes "\\", so a CR or LF can never start a line of its
 * own.  Stops before last without cutting an escape; returns the end.
 */
u_char *ngx_http_health_log_escape(u_char *dst, u_char *last, u_char *src,
    size_t len);

/* a one-line, valid UTF-8 copy of src cut at size bytes; returns its end */
u_char *ngx_http_health_text_line(u_char *dst, size_t size, u_char *src,
    size_t len);

/*
 * A JSON string of src made valid UTF-8 (invalid sequences become U+FFFD):
 * NULL only when out of memory.
 */
json_t *ngx_http_health_json_text(u_char *src, size_t len);

/*
 * Set obj[key] to that string.  A field that cannot be set is left out
 * rather than failing the report: always NGX_OK.
 */
ngx_int_t ngx_http_health_json_set_text(json_t *obj, const char *key,
    u_char *src, size_t len);


/* "2026-11-30T20:45:01.123Z": the wall-clock time of sec and msec, in UTC */
#define NGX_HTTP_HEALTH_ISO8601_LEN  (sizeof("1970-01-01T00:00:00.000Z") - 1)

u_char *ngx_http_health_iso8601(u_char *buf, time_t sec, ngx_uint_t msec);


/*
 * A lease in shared memory: one worker at a time does a job (probes a
 * dependency, checks an upstream peer).  The holder renews it at each
 * round; a lease that was not renewed within its ttl, whose holder has
 * exited, or that a worker of an older generation holds, is taken over.
 * Owner and generation are one word, so that one exchange decides between
 * two workers.
 */
typedef struct {
    uint64_t                     owner;          /* generation << 32 | pid */
    uint64_t                     expires;        /* monotonic msec */
} ngx_http_health_lease_t;


#define NGX_HTTP_HEALTH_LEASE_NO      0          /* another worker's */
#define NGX_HTTP_HEALTH_LEASE_KEPT    1          /* ours, renewed */
#define NGX_HTTP_HEALTH_LEASE_FREE    2          /* was free, ours now */
#define NGX_HTTP_HEALTH_LEASE_TAKEN   3          /* taken over, ours now */


ngx_uint_t ngx_http_health_lease_take(ngx_http_health_lease_t *lease,
    uint64_t generation, ngx_msec_t ttl);
void ngx_http_health_lease_release(ngx_http_health_lease_t *lease,
    uint64_t generation);


#endif /* _NGX_HTTP_HEALTH_UTIL_H_INCLUDED_ */
