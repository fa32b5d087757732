/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: serving the dashboard.
 *
 * The page is static: it reads the JSON from the same location with
 * ?format=json, so serving it builds no report and always answers 200,
 * whatever the status (the page shows that).  The body is the embedded
 * array itself, never copied.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_html.h"
#include "ngx_http_health_status.h"


ngx_int_t
ngx_http_health_html_send(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_http_health_header(r, "Cache-Control", "no-store") != NGX_OK
        || ngx_http_health_header(r, "Content-Security-Policy",
                                  ngx_http_health_html_csp)
           != NGX_OK
        || ngx_http_health_header(r, "X-Content-Type-Options", "nosniff")
           != NGX_OK
        || ngx_http_health_header(r, "Referrer-Policy", "no-referrer")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ngx_http_health_html_len;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* read-only data in the module's image: no filter may write to it */
    b->pos = (u_char *) ngx_http_health_html;
    b->last = b->pos + ngx_http_health_html_len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

