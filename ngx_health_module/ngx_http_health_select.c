/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: check= lists.
 *
 * The query argument is hostile: it is bounded by the caller
 * (NGX_HTTP_HEALTH_SELECT_MAX), an item that holds a byte no check name
 * has is dropped here, and nothing of it is ever written back to the
 * client or to error.log.  A pattern is matched with one step back to the
 * last "*" at most per character, so a check costs at most the product of
 * the two lengths, never an exponential walk.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_select.h"


static ngx_uint_t ngx_http_health_select_glob(u_char *p, size_t plen,
    u_char *s, size_t slen);


ngx_int_t
ngx_http_health_select_parse(ngx_pool_t *pool, ngx_str_t *list,
    ngx_array_t **patterns)
{
    u_char       *p, *last, *start;
    ngx_str_t    *item;
    ngx_uint_t    clean;
    ngx_array_t  *a;

    a = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    p = list->data;
    last = list->data + list->len;

    while (p < last) {
        start = p;
        clean = 1;

        for ( /* void */ ; p < last && *p != ','; p++) {
            if (*p <= 0x20 || *p >= 0x7f) {
                clean = 0;
            }
        }

        if (clean && p > start) {
            item = ngx_array_push(a);
            if (item == NULL) {
                return NGX_ERROR;
            }

            item->data = start;
            item->len = p - start;
        }

        p++;            /* the comma */
    }

    *patterns = a;

    return NGX_OK;
}


ngx_uint_t
ngx_http_health_select_match(ngx_array_t *patterns, ngx_str_t *name)
{
    ngx_str_t   *pat;
    ngx_uint_t   i;

    pat = patterns->elts;

    for (i = 0; i < patterns->nelts; i++) {
        if (ngx_http_health_select_glob(pat[i].data, pat[i].len,
                                        name->data, name->len))
        {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_health_select_glob(u_char *p, size_t plen, u_char *s, size_t slen)
{
    size_t  pi, si, star, mark;

    pi = 0;
    si = 0;
    star = (size_t) -1;
    mark = 0;

    while (si < slen) {

        if (pi < plen && p[pi] == '*') {
            star = pi++;
            mark = si;
            continue;
        }

        if (pi < plen && p[pi] == s[si]) {
            pi++;
            si++;
            continue;
        }

        if (star == (size_t) -1) {
            return 0;
        }

        /* the last "*" takes one character more */
        pi = star + 1;
        si = ++mark;
    }

    while (pi < plen && p[pi] == '*') {
        pi++;
    }

    return pi == plen;
}
