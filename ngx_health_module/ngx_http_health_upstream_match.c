/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, matching a check's answer beyond its
 * status: match_header=NAME:TEXT and match_body=TEXT, where TEXT is a
 * substring, or a regular expression after "~" ("~*" without case).  The
 * answer is read into a buffer of its own, bounded: the header block to
 * 4k (nginx's proxy_buffer_size on most systems), the body to
 * match_bytes (4k by default), so a peer can never make a check read more.
 */


#include "ngx_http_health_upstream_int.h"


static ngx_int_t ngx_http_health_match_text(ngx_http_health_match_t *m,
    u_char *p, size_t len);
static u_char *ngx_http_health_match_headers_end(u_char *p, u_char *last);


/*
 * One match_* parameter of health_check; NGX_DECLINED for another one.
 * The configuration is trusted, but a pattern that does not compile, or a
 * header name that is not a token, is refused at nginx -t.
 */
ngx_int_t
ngx_http_health_match_parse(ngx_conf_t *cf,
    ngx_http_health_upstream_srv_conf_t *hucf, ngx_str_t *value)
{
    u_char                   *colon, *p;
    ngx_str_t                 v;
    ngx_http_health_match_t  *m;
#if (NGX_PCRE)
    u_char                    errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t       rc;
#endif

    if (ngx_strncmp(value->data, "match_bytes=", 12) == 0) {
        if (hucf->match_bytes != NGX_CONF_UNSET_SIZE) {
            return NGX_BUSY;
        }

        v.data = value->data + 12;
        v.len = value->len - 12;

        hucf->match_bytes = ngx_parse_size(&v);

        if (hucf->match_bytes == (size_t) NGX_ERROR
            || hucf->match_bytes < 1
            || hucf->match_bytes > 65536)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"health_check\" "
                               "directive, it must be a size from 1 to 64k",
                               value);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "match_header=", 13) == 0) {
        if (hucf->match_headers == NULL) {
            hucf->match_headers = ngx_array_create(cf->pool, 2,
                                              sizeof(ngx_http_health_match_t));
            if (hucf->match_headers == NULL) {
                return NGX_ERROR;
            }
        }

        if (hucf->match_headers->nelts == NGX_HTTP_HEALTH_MAX_MATCH) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too many \"match_header\" parameters in "
                               "\"health_check\" directive, at most %d",
                               NGX_HTTP_HEALTH_MAX_MATCH);
            return NGX_ERROR;
        }

        v.data = value->data + 13;
        v.len = value->len - 13;

        colon = ngx_strlchr(v.data, v.data + v.len, ':');

        if (colon == NULL || colon == v.data) {
            goto bad_header;
        }

        /* a token, as in RFC 9110 */
        for (p = v.data; p < colon; p++) {
            if (*p <= ' ' || *p >= 0x7f
                || ngx_strchr("\"(),/:;<=>?@[\\]{}", *p))
            {
                goto bad_header;
            }
        }

        m = ngx_array_push(hucf->match_headers);
        if (m == NULL) {
            return NGX_ERROR;
        }

        m->name.data = v.data;
        m->name.len = colon - v.data;
        v.len -= colon + 1 - v.data;
        v.data = colon + 1;

    } else if (ngx_strncmp(value->data, "match_body=", 11) == 0) {
        if (hucf->match_body) {
            return NGX_BUSY;
        }

        m = ngx_pcalloc(cf->pool, sizeof(ngx_http_health_match_t));
        if (m == NULL) {
            return NGX_ERROR;
        }

        hucf->match_body = m;

        v.data = value->data + 11;
        v.len = value->len - 11;

        if (v.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"health_check\" "
                               "directive, the text to find is empty",
                               value);
            return NGX_ERROR;
        }

    } else {
        return NGX_DECLINED;
    }

    m->re = NULL;
    m->text = v;

    if (v.len == 0 || v.data[0] != '~') {
        return NGX_OK;
    }

#if (NGX_PCRE)
    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern.data = v.data + 1;
    rc.pattern.len = v.len - 1;

    if (rc.pattern.len && rc.pattern.data[0] == '*') {
        rc.pattern.data++;
        rc.pattern.len--;
        rc.options = NGX_REGEX_CASELESS;
    }

    if (rc.pattern.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"health_check\" "
                           "directive, the regular expression is empty",
                           value);
        return NGX_ERROR;
    }

    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"health_check\" "
                           "directive: %V", value, &rc.err);
        return NGX_ERROR;
    }

    m->re = rc.regex;
    m->text = rc.pattern;

    return NGX_OK;
#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"health_check\" directive, "
                       "nginx is built without PCRE: regular expressions "
                       "are not available", value);
    return NGX_ERROR;
#endif

bad_header:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"health_check\" directive, "
                       "it must be \"match_header=NAME:TEXT\" with a header "
                       "name", value);
    return NGX_ERROR;
}


/* the buffer the answer is read into, when anything beyond the status is */
size_t
ngx_http_health_match_size(ngx_http_health_upstream_srv_conf_t *hucf)
{
    if (hucf->match_headers == NULL && hucf->match_body == NULL) {
        return 0;
    }

    return NGX_HTTP_HEALTH_MATCH_HEADERS
           + (hucf->match_body ? hucf->match_bytes : 0);
}


/*
 * Whether enough of the answer is in: the header block ended and, with a
 * body to match, match_bytes of it or all of it by Content-Length.  (The
 * check is HTTP/1.0 without keep-alive, so the peer closing the
 * connection ends the answer too.)
 */
ngx_uint_t
ngx_http_health_match_complete(ngx_http_health_upstream_srv_conf_t *hucf,
    u_char *buf, size_t len)
{
    u_char  *body, *p, *last, *eol;
    off_t    n;

    body = ngx_http_health_match_headers_end(buf, buf + len);

    if (body == NULL) {
        return 0;
    }

    if (hucf->match_body == NULL) {
        return 1;
    }

    if ((size_t) (buf + len - body) >= hucf->match_bytes) {
        return 1;
    }

    /* Content-Length, if the answer says it */
    last = body;
    p = ngx_strlchr(buf, last, LF);

    while (p && p + 1 < last) {
        p++;
        eol = ngx_strlchr(p, last, LF);

        if (eol == NULL) {
            break;
        }

        if (eol - p > 15 && ngx_strncasecmp(p, (u_char *) "content-length:",
                                            15) == 0)
        {
            p += 15;

            while (p < eol && (*p == ' ' || *p == '\t')) {
                p++;
            }

            while (eol > p && (eol[-1] == CR || eol[-1] == ' '
                               || eol[-1] == '\t'))
            {
                eol--;
            }

            n = ngx_atoof(p, eol - p);

            return n != NGX_ERROR && buf + len - body >= n;
        }

        p = eol;
    }

    return 0;
}


/*
 * The answer's headers and body against the match_* parameters, once its
 * status was accepted: NGX_HTTP_HEALTH_CHECK_OK, _HEADER or _BODY.  *which
 * is the index of the header expectation that failed.
 */
ngx_http_health_check_result_e
ngx_http_health_match(ngx_http_health_upstream_srv_conf_t *hucf,
    u_char *buf, size_t len, ngx_uint_t *which)
{
    u_char                   *p, *last, *eol, *colon, *v, *ve, *body;
    ngx_uint_t                i, found;
    ngx_http_health_match_t  *m;

    last = buf + len;
    body = ngx_http_health_match_headers_end(buf, last);

    if (body == NULL) {
        /* the header block did not end within the bound */
        *which = NGX_HTTP_HEALTH_MAX_MATCH;
        return NGX_HTTP_HEALTH_CHECK_HEADER;
    }

    if (hucf->match_headers) {
        m = hucf->match_headers->elts;

        for (i = 0; i < hucf->match_headers->nelts; i++) {
            found = 0;
            p = ngx_strlchr(buf, body, LF) + 1;

            /* every line of the block, a name repeated counts for each */
            while (!found && p < body) {
                eol = ngx_strlchr(p, body, LF);
                if (eol == NULL) {
                    break;
                }

                colon = ngx_strlchr(p, eol, ':');

                if (colon && (size_t) (colon - p) == m[i].name.len
                    && ngx_strncasecmp(p, m[i].name.data, m[i].name.len) == 0)
                {
                    v = colon + 1;
                    ve = eol;

                    while (v < ve && (*v == ' ' || *v == '\t')) {
                        v++;
                    }

                    while (ve > v && (ve[-1] == CR || ve[-1] == ' '
                                      || ve[-1] == '\t'))
                    {
                        ve--;
                    }

                    found = ngx_http_health_match_text(&m[i], v, ve - v);
                }

                p = eol + 1;
            }

            if (!found) {
                *which = i;
                return NGX_HTTP_HEALTH_CHECK_HEADER;
            }
        }
    }

    if (hucf->match_body) {
        len = ngx_min((size_t) (last - body), hucf->match_bytes);

        if (!ngx_http_health_match_text(hucf->match_body, body, len)) {
            return NGX_HTTP_HEALTH_CHECK_BODY;
        }
    }

    return NGX_HTTP_HEALTH_CHECK_OK;
}


static ngx_int_t
ngx_http_health_match_text(ngx_http_health_match_t *m, u_char *p, size_t len)
{
#if (NGX_PCRE)
    ngx_str_t  s;

    if (m->re) {
        s.data = p;
        s.len = len;

        return ngx_regex_exec(m->re, &s, NULL, 0) >= 0;
    }
#endif

    if (m->text.len == 0) {
        /* "match_header=NAME:": the header is there */
        return 1;
    }

    return memmem(p, len, m->text.data, m->text.len) != NULL;
}


/* just past the empty line that ends the header block, or NULL */
static u_char *
ngx_http_health_match_headers_end(u_char *p, u_char *last)
{
    u_char  *lf;

    for ( ;; ) {
        lf = ngx_strlchr(p, last, LF);

        if (lf == NULL) {
            return NULL;
        }

        if (lf + 1 < last && lf[1] == LF) {
            return lf + 2;
        }

        if (lf + 2 < last && lf[1] == CR && lf[2] == LF) {
            return lf + 3;
        }

        p = lf + 1;
    }
}
