/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: finding a Redis master through its Sentinels.
 *
 * Every round asks the Sentinels in turn, starting with the one that
 * answered last, "SENTINEL get-master-addr-by-name NAME" (after AUTH when
 * sentinel_password= is set), on a connection of its own that lasts one
 * question.  The conversation is two short commands and two short
 * replies, so it is spoken here on a plain nginx connection rather than
 * through hiredis: the replies land in a fixed buffer, a Sentinel that
 * sends more, or anything but the expected shapes, is wrong and the next
 * one is asked.  The answer must be an IP literal and a port 1..65535: a
 * host name would need a synchronous resolver, anything else is hostile.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <arpa/inet.h>

#include "ngx_http_health_util.h"
#include "ngx_http_health_redis_sentinel.h"


/* the longest string a valid answer holds: an IPv6 address */
#define NGX_HTTP_HEALTH_REDIS_SENTINEL_STR  64


static void ngx_http_health_redis_sentinel_next(
    ngx_http_health_redis_sentinel_t *s);
static ngx_int_t ngx_http_health_redis_sentinel_connect(
    ngx_http_health_redis_sentinel_t *s);
static void ngx_http_health_redis_sentinel_write(ngx_event_t *wev);
static void ngx_http_health_redis_sentinel_read(ngx_event_t *rev);
static ngx_int_t ngx_http_health_redis_sentinel_parse(
    ngx_http_health_redis_sentinel_t *s);
static ngx_int_t ngx_http_health_redis_sentinel_line(u_char **pos,
    u_char *last, ngx_str_t *line);
static ngx_int_t ngx_http_health_redis_sentinel_string(u_char **pos,
    u_char *last, ngx_str_t *str);
static ngx_int_t ngx_http_health_redis_sentinel_master(
    ngx_http_health_redis_sentinel_t *s, ngx_str_t *host, ngx_str_t *port);
static void ngx_http_health_redis_sentinel_failed(
    ngx_http_health_redis_sentinel_t *s, const char *fmt, ...);
static void ngx_http_health_redis_sentinel_quote(
    ngx_http_health_redis_sentinel_t *s, const char *what, ngx_str_t *text,
    const char *after);


ngx_int_t
ngx_http_health_redis_sentinel_init(ngx_conf_t *cf,
    ngx_http_health_redis_server_t *server)
{
    size_t      len;
    u_char     *p;
    ngx_str_t  *name, *pw;

    name = &server->master_name;
    pw = &server->sentinel_password;

    len = sizeof("*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n"
                 "$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + name->len;

    if (pw->len) {
        len += sizeof("*2\r\n$4\r\nAUTH\r\n$\r\n\r\n") - 1 + NGX_SIZE_T_LEN
               + pw->len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    server->sentinel_request.data = p;

    if (pw->len) {
        p = ngx_sprintf(p, "*2\r\n$4\r\nAUTH\r\n$%uz\r\n%V\r\n", pw->len, pw);
    }

    p = ngx_sprintf(p, "*3\r\n$8\r\nSENTINEL\r\n$23\r\n"
                    "get-master-addr-by-name\r\n$%uz\r\n%V\r\n",
                    name->len, name);

    server->sentinel_request.len = p - server->sentinel_request.data;

    return NGX_OK;
}


void
ngx_http_health_redis_sentinel_ask(ngx_http_health_redis_sentinel_t *s)
{
    /* a question still open would leak its connection: one at a time */
    ngx_http_health_redis_sentinel_close(s);

    s->tried = 0;
    s->unknown = 0;
    s->answered = NULL;
    s->said_end = s->said;
    s->reason_end = s->reason;

    ngx_http_health_redis_sentinel_next(s);
}


ngx_addr_t *
ngx_http_health_redis_sentinel_busy(ngx_http_health_redis_sentinel_t *s)
{
    ngx_addr_t  *addr;

    if (s->pc.connection == NULL) {
        return NULL;
    }

    addr = s->server->sentinels->elts;

    return &addr[s->current];
}


void
ngx_http_health_redis_sentinel_close(ngx_http_health_redis_sentinel_t *s)
{
    if (s->pc.connection) {
        ngx_close_connection(s->pc.connection);
        s->pc.connection = NULL;
    }
}


/* the next Sentinel to ask, or the end: none answered */
static void
ngx_http_health_redis_sentinel_next(ngx_http_health_redis_sentinel_t *s)
{
    size_t      len;
    ngx_uint_t  n;

    n = s->server->sentinels->nelts;

    while (s->tried < n) {
        s->tried++;

        if (ngx_http_health_redis_sentinel_connect(s) == NGX_OK) {
            return;
        }

        s->current = (s->current + 1) % n;
    }

    /* what it means, then what each one said, less the last "; " */
    len = s->said_end - s->said;
    len = len >= 2 ? len - 2 : 0;

    s->reason_end = ngx_slprintf(s->reason, s->reason + sizeof(s->reason),
                                 s->unknown
                                 ? "master \"%V\" is unknown to the "
                                   "Sentinels: %*s"
                                 : "no Sentinel answered for master \"%V\": "
                                   "%*s",
                                 &s->server->master_name, len, s->said);

    s->handler(s->data, NGX_ERROR);
}


static ngx_int_t
ngx_http_health_redis_sentinel_connect(ngx_http_health_redis_sentinel_t *s)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    addr = s->server->sentinels->elts;
    addr = &addr[s->current];

    ngx_memzero(&s->pc, sizeof(ngx_peer_connection_t));

    s->pc.sockaddr = addr->sockaddr;
    s->pc.socklen = addr->socklen;
    s->pc.name = &addr->name;
    s->pc.get = ngx_event_get_peer;
    s->pc.log = s->log;
    s->pc.log_error = NGX_ERROR_INFO;

    s->sent = 0;
    s->len = 0;

    rc = ngx_event_connect_peer(&s->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (s->pc.connection) {
            ngx_close_connection(s->pc.connection);
            s->pc.connection = NULL;
        }

        s->said_end = ngx_slprintf(s->said_end,
                                     s->said + sizeof(s->said),
                                     "%V: cannot connect; ", &addr->name);
        return NGX_ERROR;
    }

    c = s->pc.connection;
    c->data = s;
    c->read->handler = ngx_http_health_redis_sentinel_read;
    c->write->handler = ngx_http_health_redis_sentinel_write;
    c->read->log = s->log;
    c->write->log = s->log;

    /* a graceful shutdown does not wait for a Sentinel */
    c->read->cancelable = 1;
    c->write->cancelable = 1;

    ngx_add_timer(c->read, s->timeout);

    if (rc == NGX_OK) {
        /* connected at once: the request goes now */
        ngx_http_health_redis_sentinel_write(c->write);
    }

    return NGX_OK;
}


static void
ngx_http_health_redis_sentinel_write(ngx_event_t *wev)
{
    int                                err;
    ssize_t                            n;
    socklen_t                          len;
    ngx_str_t                         *req;
    ngx_connection_t                  *c;
    ngx_http_health_redis_sentinel_t  *s;

    c = wev->data;
    s = c->data;
    req = &s->server->sentinel_request;

    if (s->sent == req->len) {
        return;
    }

    if (s->sent == 0) {
        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            ngx_http_health_redis_sentinel_failed(s, "cannot connect: %s",
                                                  strerror(err));
            return;
        }
    }

    n = c->send(c, req->data + s->sent, req->len - s->sent);

    if (n == NGX_ERROR) {
        ngx_http_health_redis_sentinel_failed(s, "cannot send: %s",
                                              strerror(ngx_socket_errno));
        return;
    }

    if (n > 0) {
        s->sent += n;
    }

    if (s->sent < req->len) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_health_redis_sentinel_failed(s, "cannot send");
        }

        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_health_redis_sentinel_failed(s, "cannot read");
        return;
    }

    if (c->read->ready) {
        ngx_http_health_redis_sentinel_read(c->read);
    }
}


static void
ngx_http_health_redis_sentinel_read(ngx_event_t *rev)
{
    ssize_t                            n;
    ngx_int_t                          rc;
    ngx_connection_t                  *c;
    ngx_http_health_redis_sentinel_t  *s;

    c = rev->data;
    s = c->data;

    if (rev->timedout) {
        ngx_http_health_redis_sentinel_failed(s, "timed out after %Mms",
                                              s->timeout);
        return;
    }

    if (s->sent < s->server->sentinel_request.len) {
        /* a reply before the question: the write handler tells why */
        ngx_http_health_redis_sentinel_write(c->write);
        return;
    }

    for ( ;; ) {
        if (s->len == sizeof(s->buf)) {
            ngx_http_health_redis_sentinel_failed(s, "sent more than %uz "
                                                  "bytes", sizeof(s->buf));
            return;
        }

        n = c->recv(c, s->buf + s->len, sizeof(s->buf) - s->len);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_health_redis_sentinel_failed(s, "connection %s",
                                                  n ? "lost" : "closed");
            return;
        }

        s->len += n;

        rc = ngx_http_health_redis_sentinel_parse(s);

        if (rc == NGX_AGAIN) {
            continue;
        }

        if (rc == NGX_OK) {
            /* current stays: the same one is asked first next time */
            s->answered = s->server->sentinels->elts;
            s->answered += s->current;

            ngx_http_health_redis_sentinel_close(s);

            s->handler(s->data, NGX_OK);
            return;
        }

        /* the reason is written: the next one */
        ngx_http_health_redis_sentinel_close(s);
        s->current = (s->current + 1) % s->server->sentinels->nelts;
        ngx_http_health_redis_sentinel_next(s);
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_health_redis_sentinel_failed(s, "cannot read");
    }
}


/*
 * The replies in the buffer: NGX_AGAIN while incomplete, NGX_OK with the
 * master, NGX_DECLINED with the reason written.  The buffer is small and
 * parsed again from its start as it fills.
 */
static ngx_int_t
ngx_http_health_redis_sentinel_parse(ngx_http_health_redis_sentinel_t *s)
{
    u_char     *pos, *last;
    ngx_int_t   n, rc;
    ngx_str_t   line, host, port;

    pos = s->buf;
    last = s->buf + s->len;

    if (s->server->sentinel_password.len) {
        if (ngx_http_health_redis_sentinel_line(&pos, last, &line) != NGX_OK)
        {
            return NGX_AGAIN;
        }

        if (line.len == 3 && ngx_strncmp(line.data, "+OK", 3) == 0) {
            /* authenticated: the answer follows */

        } else if (line.len && line.data[0] == '-') {
            line.data++;
            line.len--;
            ngx_http_health_redis_sentinel_quote(s, "AUTH failed", &line, "");
            return NGX_DECLINED;

        } else {
            ngx_http_health_redis_sentinel_quote(s, "AUTH got", &line, "");
            return NGX_DECLINED;
        }
    }

    if (ngx_http_health_redis_sentinel_line(&pos, last, &line) != NGX_OK) {
        return NGX_AGAIN;
    }

    if (line.len == 0) {
        goto bad;
    }

    switch (line.data[0]) {

    case '-':
        line.data++;
        line.len--;
        ngx_http_health_redis_sentinel_quote(s, "error", &line, "");
        return NGX_DECLINED;

    case '*':
    case '$':
        if (line.len == 3 && line.data[1] == '-' && line.data[2] == '1') {
            /* nil: no master of that name */
            s->unknown = 1;
            s->said_end = ngx_slprintf(s->said_end,
                                         s->said + sizeof(s->said),
                                         "%V: unknown; ", s->pc.name);
            return NGX_DECLINED;
        }

        if (line.data[0] != '*') {
            goto bad;
        }

        n = ngx_atoi(line.data + 1, line.len - 1);
        if (n != 2) {
            goto bad;
        }

        rc = ngx_http_health_redis_sentinel_string(&pos, last, &host);
        if (rc == NGX_OK) {
            rc = ngx_http_health_redis_sentinel_string(&pos, last, &port);
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            goto bad;
        }

        if (pos != last) {
            /* more than was asked for */
            goto bad;
        }

        return ngx_http_health_redis_sentinel_master(s, &host, &port);

    case '_':
        /* RESP3's null, should a proxy speak it */
        if (line.len == 1) {
            s->unknown = 1;
            s->said_end = ngx_slprintf(s->said_end,
                                         s->said + sizeof(s->said),
                                         "%V: unknown; ", s->pc.name);
            return NGX_DECLINED;
        }

        goto bad;

    default:
        goto bad;
    }

bad:

    s->said_end = ngx_slprintf(s->said_end, s->said + sizeof(s->said),
                                 "%V: not an address and a port in "
                                 "reply; ", s->pc.name);
    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_health_redis_sentinel_line(u_char **pos, u_char *last,
    ngx_str_t *line)
{
    u_char  *p;

    for (p = *pos; p + 1 < last; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            line->data = *pos;
            line->len = p - *pos;
            *pos = p + 2;
            return NGX_OK;
        }
    }

    return NGX_AGAIN;
}


/* a bulk string short enough to be part of an answer */
static ngx_int_t
ngx_http_health_redis_sentinel_string(u_char **pos, u_char *last,
    ngx_str_t *str)
{
    u_char     *p;
    ngx_int_t   n;
    ngx_str_t   line;

    p = *pos;

    if (ngx_http_health_redis_sentinel_line(&p, last, &line) != NGX_OK) {
        return NGX_AGAIN;
    }

    if (line.len < 2 || line.data[0] != '$') {
        return NGX_ERROR;
    }

    n = ngx_atoi(line.data + 1, line.len - 1);

    if (n == NGX_ERROR || n > NGX_HTTP_HEALTH_REDIS_SENTINEL_STR) {
        return NGX_ERROR;
    }

    if (last - p < n + 2) {
        return NGX_AGAIN;
    }

    if (p[n] != '\r' || p[n + 1] != '\n') {
        return NGX_ERROR;
    }

    str->data = p;
    str->len = n;
    *pos = p + n + 2;

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_redis_sentinel_master(ngx_http_health_redis_sentinel_t *s,
    ngx_str_t *host, ngx_str_t *port)
{
    u_char     buf[sizeof(struct in6_addr)];
    u_char     text[NGX_HTTP_HEALTH_REDIS_SENTINEL_STR * 2 + 2], *p;
    ngx_int_t  n;
    ngx_str_t  both;

    n = ngx_atoi(port->data, port->len);

    if (host->len < sizeof(s->host) && n >= 1 && n <= 65535) {
        *ngx_cpymem(s->host, host->data, host->len) = '\0';

        if (inet_pton(AF_INET, s->host, buf) == 1
            || inet_pton(AF_INET6, s->host, buf) == 1)
        {
            s->port = (int) n;
            return NGX_OK;
        }
    }

    p = ngx_cpymem(text, host->data, host->len);
    *p++ = ' ';
    p = ngx_cpymem(p, port->data, port->len);

    both.data = text;
    both.len = p - text;

    ngx_http_health_redis_sentinel_quote(s, "named", &both,
                                         ", not an IP address and a port");

    return NGX_DECLINED;
}


/* "A: what \"text\"after; ", the text one line of valid UTF-8, 200 bytes */
static void
ngx_http_health_redis_sentinel_quote(ngx_http_health_redis_sentinel_t *s,
    const char *what, ngx_str_t *text, const char *after)
{
    u_char  buf[200], *p;

    p = ngx_http_health_text_line(buf, sizeof(buf), text->data, text->len);

    s->said_end = ngx_slprintf(s->said_end, s->said + sizeof(s->said),
                                 "%V: %s \"%*s\"%s; ", s->pc.name, what,
                                 p - buf, buf, after);
}


static void
ngx_http_health_redis_sentinel_failed(ngx_http_health_redis_sentinel_t *s,
    const char *fmt, ...)
{
    va_list  args;

    s->said_end = ngx_slprintf(s->said_end, s->said + sizeof(s->said),
                                 "%V: ", s->pc.name);

    va_start(args, fmt);
    s->said_end = ngx_vslprintf(s->said_end, s->said + sizeof(s->said), fmt,
                                args);
    va_end(args);

    s->said_end = ngx_slprintf(s->said_end, s->said + sizeof(s->said),
                                 "; ");

    ngx_http_health_redis_sentinel_close(s);

    s->current = (s->current + 1) % s->server->sentinels->nelts;
    ngx_http_health_redis_sentinel_next(s);
}
