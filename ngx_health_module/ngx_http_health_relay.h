/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#ifndef _NGX_HTTP_HEALTH_RELAY_H_INCLUDED_
#define _NGX_HTTP_HEALTH_RELAY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <sys/stat.h>


#define NGX_HTTP_HEALTH_RELAY_CHUNK  16384


/*
 * A client library's connected socket, taken over: the library's
 * descriptor number is made one end of a socket pair, and the worker moves
 * the bytes between the other end and the server.  The library can then
 * read no more than the relay has passed on, whatever its own buffering
 * does: the byte cap of a round holds by construction.
 */
typedef struct {
    ngx_connection_t   *server;      /* the socket to the server */
    ngx_connection_t   *local;       /* the worker's end of the pair */
    ino_t               ino;         /* the library's end */

    size_t             *input;       /* passed on in this round */
    size_t              max;
    void              (*overflow)(void *data);
    void               *data;
    ngx_log_t          *log;

    unsigned            server_eof:1;
    unsigned            local_eof:1;
    unsigned            local_shut:1;

    u_char             *in_pos;      /* server -> library */
    u_char             *in_last;
    u_char             *out_pos;     /* library -> server */
    u_char             *out_last;
    u_char              in[NGX_HTTP_HEALTH_RELAY_CHUNK];
    u_char              out[NGX_HTTP_HEALTH_RELAY_CHUNK];
} ngx_http_health_relay_t;


/* take over fd, whose connection to the server is established */
ngx_int_t ngx_http_health_relay_open(ngx_http_health_relay_t *r,
    ngx_socket_t fd);
/* the relay of the library's socket fd is open */
ngx_uint_t ngx_http_health_relay_owns(ngx_http_health_relay_t *r,
    ngx_socket_t fd);
void ngx_http_health_relay_close(ngx_http_health_relay_t *r);


#endif /* _NGX_HTTP_HEALTH_RELAY_H_INCLUDED_ */
