/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: the relay between a client library and its server.
 *
 * libpq enlarges its input buffer to a message's declared length (up to
 * 1 GB for a row) and then reads for as long as its socket has data, so a
 * cap checked between its reads is passed by a server that writes faster
 * than the worker reads.  The relay owns the reads instead: once the
 * library's connection is established, its descriptor number is made one
 * end of a socket pair (dup3() keeps the number the library knows), and
 * the worker copies between the other end and the real socket, at most
 * one chunk at a time and never more than the round's cap.  Bytes pass
 * through unchanged, TLS included.
 *
 * The server's end of file, or an error, becomes an end of file the
 * library reads after the last byte; the library closing its end closes
 * nothing here: its owner notices and closes the relay.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/socket.h>

#include "ngx_http_health_probe.h"
#include "ngx_http_health_relay.h"


static void ngx_http_health_relay_event(ngx_event_t *ev);
static void ngx_http_health_relay_pump(ngx_http_health_relay_t *r);
static ngx_int_t ngx_http_health_relay_watch(ngx_event_t *ev,
    ngx_int_t event, ngx_uint_t want);
static ngx_connection_t *ngx_http_health_relay_connection(
    ngx_http_health_relay_t *r, ngx_socket_t fd);


ngx_int_t
ngx_http_health_relay_open(ngx_http_health_relay_t *r, ngx_socket_t fd)
{
    int           sv[2];
    struct stat   st;
    ngx_socket_t  s;

    r->server = NULL;
    r->local = NULL;
    r->server_eof = 0;
    r->local_eof = 0;
    r->local_shut = 0;
    r->in_pos = r->in_last = r->in;
    r->out_pos = r->out_last = r->out;

    s = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (s == -1) {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_socket_errno,
                      "health: dup() of a probe's socket failed");
        return NGX_ERROR;
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv)
        == -1)
    {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_socket_errno,
                      "health: socketpair() failed");
        (void) close(s);
        return NGX_ERROR;
    }

    /* the library's number now names its end of the pair */
    if (dup3(sv[0], fd, O_CLOEXEC) == -1 || fstat(fd, &st) == -1) {
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_socket_errno,
                      "health: dup3() of a probe's socket failed");
        (void) close(s);
        (void) close(sv[0]);
        (void) close(sv[1]);
        return NGX_ERROR;
    }

    (void) close(sv[0]);
    r->ino = st.st_ino;

    /* the real socket is the library's, so already non-blocking */
    r->server = ngx_http_health_relay_connection(r, s);
    r->local = ngx_http_health_relay_connection(r, sv[1]);

    if (r->server == NULL || r->local == NULL) {
        if (r->server == NULL) {
            (void) close(s);
        }

        if (r->local == NULL) {
            (void) close(sv[1]);
        }

        /* the library reads an end of file on its end and fails */
        ngx_http_health_relay_close(r);

        return NGX_ERROR;
    }

    /*
     * Nothing is moved here but by the events: a server that has already
     * sent more than the round's cap would otherwise have the owner's
     * overflow handler close the library's connection inside the owner's
     * own call to open the relay, and the owner go on with it.
     */
    if (ngx_http_health_relay_watch(r->server->read, NGX_READ_EVENT, 1)
        != NGX_OK
        || ngx_http_health_relay_watch(r->local->read, NGX_READ_EVENT, 1)
           != NGX_OK)
    {
        ngx_http_health_relay_close(r);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_connection_t *
ngx_http_health_relay_connection(ngx_http_health_relay_t *r, ngx_socket_t fd)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, r->log);
    if (c == NULL) {
        return NULL;
    }

    c->data = r;
    c->log = r->log;
    c->read->handler = ngx_http_health_relay_event;
    c->write->handler = ngx_http_health_relay_event;
    c->read->log = r->log;
    c->write->log = r->log;

    return c;
}


ngx_uint_t
ngx_http_health_relay_owns(ngx_http_health_relay_t *r, ngx_socket_t fd)
{
    struct stat  st;

    return r->server != NULL && fd != (ngx_socket_t) -1
           && fstat(fd, &st) == 0 && st.st_ino == r->ino;
}


void
ngx_http_health_relay_close(ngx_http_health_relay_t *r)
{
    ssize_t  n;

    if (r->local) {
        /* what the library wrote last (libpq's Terminate), if it fits */
        if (r->server && r->out_pos == r->out_last) {
            n = recv(r->local->fd, r->out, sizeof(r->out), 0);
            if (n > 0) {
                r->out_pos = r->out;
                r->out_last = r->out + n;
            }
        }

        ngx_close_connection(r->local);
        r->local = NULL;
    }

    if (r->server) {
        if (r->out_pos < r->out_last) {
            (void) send(r->server->fd, r->out_pos, r->out_last - r->out_pos,
                        MSG_NOSIGNAL);
        }

        ngx_close_connection(r->server);
        r->server = NULL;
    }

    r->in_pos = r->in_last = r->in;
    r->out_pos = r->out_last = r->out;
}


static void
ngx_http_health_relay_event(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_health_relay_pump(c->data);
}


static void
ngx_http_health_relay_pump(ngx_http_health_relay_t *r)
{
    size_t      size;
    ssize_t     n;
    ngx_err_t   err;
    ngx_uint_t  moved;

    do {
        moved = 0;

        /* server -> library: one chunk, and no byte past the cap */
        if (r->in_pos == r->in_last && !r->server_eof) {
            size = ngx_min(sizeof(r->in), r->max - *r->input + 1);

            n = recv(r->server->fd, r->in, size, 0);
            err = ngx_socket_errno;

            if (n > 0) {
                if (*r->input + n > r->max) {
                    /* the owner closes the relay: nothing after this */
                    r->overflow(r->data);
                    return;
                }

                *r->input += n;
                r->in_pos = r->in;
                r->in_last = r->in + n;
                moved = 1;

            } else if (n == 0 || (err != NGX_EAGAIN && err != NGX_EINTR)) {
                ngx_log_debug1(NGX_LOG_DEBUG_EVENT, r->log, err,
                               "health relay: server end, %z", n);
                r->server_eof = 1;
                moved = 1;
            }
        }

        if (r->in_pos < r->in_last && !r->local_eof) {
            n = send(r->local->fd, r->in_pos, r->in_last - r->in_pos,
                     MSG_NOSIGNAL);
            err = ngx_socket_errno;

            if (n > 0) {
                r->in_pos += n;
                moved = 1;

            } else if (err != NGX_EAGAIN && err != NGX_EINTR) {
                r->local_eof = 1;
                moved = 1;
            }

            if (r->in_pos == r->in_last) {
                r->in_pos = r->in_last = r->in;
            }
        }

        if (r->server_eof && r->in_pos == r->in_last && !r->local_shut) {
            /* the library reads its end of file after the last byte */
            (void) shutdown(r->local->fd, SHUT_WR);
            r->local_shut = 1;
        }

        /* library -> server */
        if (r->out_pos == r->out_last && !r->local_eof) {
            n = recv(r->local->fd, r->out, sizeof(r->out), 0);
            err = ngx_socket_errno;

            if (n > 0) {
                r->out_pos = r->out;
                r->out_last = r->out + n;
                moved = 1;

            } else if (n == 0 || (err != NGX_EAGAIN && err != NGX_EINTR)) {
                r->local_eof = 1;
                moved = 1;
            }
        }

        if (r->out_pos < r->out_last) {
            if (r->server_eof) {
                /* nobody to write to: the library reads the end */
                r->out_pos = r->out_last = r->out;

            } else {
                n = send(r->server->fd, r->out_pos,
                         r->out_last - r->out_pos, MSG_NOSIGNAL);
                err = ngx_socket_errno;

                if (n > 0) {
                    r->out_pos += n;
                    moved = 1;

                } else if (err != NGX_EAGAIN && err != NGX_EINTR) {
                    r->server_eof = 1;
                    moved = 1;
                }

                if (r->out_pos == r->out_last) {
                    r->out_pos = r->out_last = r->out;
                }
            }
        }

    } while (moved);

    if (ngx_http_health_relay_watch(r->server->read, NGX_READ_EVENT,
                                    r->in_pos == r->in_last
                                    && !r->server_eof)
        != NGX_OK
        || ngx_http_health_relay_watch(r->server->write, NGX_WRITE_EVENT,
                                       r->out_pos < r->out_last)
           != NGX_OK
        || ngx_http_health_relay_watch(r->local->read, NGX_READ_EVENT,
                                       r->out_pos == r->out_last
                                       && !r->local_eof)
           != NGX_OK
        || ngx_http_health_relay_watch(r->local->write, NGX_WRITE_EVENT,
                                       r->in_pos < r->in_last
                                       && !r->local_eof)
           != NGX_OK)
    {
        /* the library sees the end of its connection and fails */
        ngx_log_error(NGX_LOG_ERR, r->log, ngx_socket_errno,
                      "health: a probe's relay cannot wait for its sockets");
        r->server_eof = 1;
        r->in_pos = r->in_last = r->in;
        (void) shutdown(r->local->fd, SHUT_RDWR);
        r->local_shut = 1;
    }
}


/* level-triggered: interest only while there is something to do */
static ngx_int_t
ngx_http_health_relay_watch(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t want)
{
    if (want && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!want && ev->active) {
        return ngx_del_event(ev, event, NGX_LEVEL_EVENT);
    }

    return NGX_OK;
}
