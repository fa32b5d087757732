/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the dashboard page, served by health_status html and
 * ?format=html.
 *
 * The page itself lives in dashboard/dashboard.html;
 * scripts/embed-html.sh turns it into ngx_http_health_html_data.c (the
 * bytes, and a Content-Security-Policy naming the hashes of its one
 * script and one style element), which is committed so that a static
 * ./configure --add-module build needs no generator.
 */

#ifndef _NGX_HTTP_HEALTH_HTML_H_INCLUDED_
#define _NGX_HTTP_HEALTH_HTML_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


extern const u_char  ngx_http_health_html[];
extern const size_t  ngx_http_health_html_len;
extern const char    ngx_http_health_html_csp[];


ngx_int_t ngx_http_health_html_send(ngx_http_request_t *r);


#endif /* _NGX_HTTP_HEALTH_HTML_H_INCLUDED_ */
