/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: which checks an answer of the status location covers,
 * chosen by "check=" (a parameter of health_status and a query argument).
 */

#ifndef _NGX_HTTP_HEALTH_SELECT_H_INCLUDED_
#define _NGX_HTTP_HEALTH_SELECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the longest check= list, so that matching stays cheap at any scale */
#define NGX_HTTP_HEALTH_SELECT_MAX  256


/*
 * A comma-separated list of check names, each of them exact or a pattern
 * where "*" stands for any run of characters, into an array of ngx_str_t
 * allocated from pool.  An item with a byte outside printable ASCII can
 * name no check and is dropped (so never compared, never echoed); so are
 * empty items.  NGX_ERROR on allocation failure only; the array may be
 * empty.
 */
ngx_int_t ngx_http_health_select_parse(ngx_pool_t *pool, ngx_str_t *list,
    ngx_array_t **patterns);

/* whether one of the patterns names the check */
ngx_uint_t ngx_http_health_select_match(ngx_array_t *patterns,
    ngx_str_t *name);


#endif /* _NGX_HTTP_HEALTH_SELECT_H_INCLUDED_ */
