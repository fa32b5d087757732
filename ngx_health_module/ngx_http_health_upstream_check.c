/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, the active checks.
 *
 * Active checks run in every worker's event loop; for each peer only the
 * worker holding the lease in shared memory (its pid and an expiry it
 * renews at each check) probes it.  A lease whose owner is gone, or that
 * was not renewed, is taken over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_upstream_int.h"


static void ngx_http_health_check_write(ngx_event_t *wev);
#if (NGX_HTTP_SSL)
static void ngx_http_health_check_ssl(ngx_http_health_peer_t *peer,
    ngx_connection_t *c);
static void ngx_http_health_check_ssl_handshaked(ngx_connection_t *c);
#endif
static void ngx_http_health_check_close(ngx_connection_t *c);
static void ngx_http_health_check_read(ngx_event_t *rev);
static void ngx_http_health_check_done(ngx_http_health_peer_t *peer,
    ngx_http_health_check_result_e result, ngx_uint_t code);
static void ngx_http_health_check_pass(ngx_http_health_peer_t *peer,
    ngx_http_health_peer_sh_t *psh, ngx_http_health_upstream_sh_t *ush);
static void ngx_http_health_check_fail(ngx_http_health_peer_t *peer,
    ngx_http_health_peer_sh_t *psh, ngx_http_health_upstream_sh_t *ush,
    ngx_http_health_check_result_e result, ngx_uint_t code);


const char  *ngx_http_health_check_reasons[] = {
    "passed",
    "connect failed",
    "timed out",
    "closed before a status line",
    "invalid status line",
    "status not accepted",
    "tls handshake failed",
    "certificate verify failed"
};


#if (NGX_HTTP_SSL) && !defined X509_V_ERR_HOSTNAME_MISMATCH
#define X509_V_ERR_HOSTNAME_MISMATCH  62
#endif


/*
 * The reason of a failed check, at most NGX_HTTP_HEALTH_REASON_LEN
 * bytes of ASCII: a certificate that fails verification says why, in
 * OpenSSL's words.
 */
u_char *
ngx_http_health_check_reason(u_char *buf, uint32_t result, uint32_t code,
    uint32_t tls_error)
{
    result = ngx_min(result, NGX_HTTP_HEALTH_CHECK_LAST);

#if (NGX_HTTP_SSL)
    if (result == NGX_HTTP_HEALTH_CHECK_TLS_VERIFY && tls_error) {
        return ngx_snprintf(buf, NGX_HTTP_HEALTH_REASON_LEN, "%s: %s",
                            ngx_http_health_check_reasons[result],
                            X509_verify_cert_error_string(tls_error));
    }
#endif

    return ngx_snprintf(buf, NGX_HTTP_HEALTH_REASON_LEN, "%s",
                        ngx_http_health_check_reasons[result]);
}


/* leases this worker holds are free at once for the others */
void
ngx_http_health_upstream_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                             u, j;
    ngx_connection_t                      *c;
    ngx_http_health_peer_sh_t             *psh;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_upstream_main_conf_t  *humcf;

    humcf = ngx_http_cycle_get_module_main_conf(cycle,
                                             ngx_http_health_upstream_module);
    if (humcf == NULL || humcf->hmcf == NULL || humcf->hmcf->sh == NULL) {
        return;
    }

    hu = humcf->upstreams.elts;

    for (u = 0; u < humcf->upstreams.nelts; u++) {
        for (j = 0; j < hu[u].npeers; j++) {
            psh = ngx_http_health_peer_sh(humcf->hmcf, hu[u].first + j);
            ngx_http_health_lease_release(&psh->lease, hu[u].generation);

            /* a check under way ends with the worker, quietly */
            c = hu[u].peers[j].pc.connection;

            if (c == NULL) {
                continue;
            }

#if (NGX_HTTP_SSL)
            if (c->ssl) {
                c->ssl->no_send_shutdown = 1;
            }
#endif

            ngx_http_health_check_close(c);
            hu[u].peers[j].pc.connection = NULL;
        }
    }
}


void
ngx_http_health_check_timer(ngx_event_t *ev)
{
    ngx_http_health_peer_t *peer = ev->data;

    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_http_health_peer_sh_t    *psh;
    ngx_http_health_upstream_t   *hu;

    hu = peer->upstream;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_health_upstream_exit_process((ngx_cycle_t *) ngx_cycle);
        return;
    }

    ngx_add_timer(ev, hu->conf->interval);

    if (peer->pc.connection) {
        /* the previous check is still running (its own timeout ends it) */
        return;
    }

#if (NGX_HTTP_HEALTH_RESOLVE)
    /* a slot is checked while its address is among the group's peers */
    if (peer->slot) {
        if (hu->config != *((ngx_http_upstream_rr_peers_t *)
                            hu->uscf->peer.data)->config)
        {
            ngx_http_health_resolve_sync(hu, ev->log);
        }

        if (!peer->live) {
            ngx_http_health_resolve_forget(hu, peer->index);
            return;
        }
    }
#endif

    psh = ngx_http_health_peer_sh(hu->hmcf, hu->first + peer->index);

    /*
     * One worker checks a peer at a time.  The lease outlives two
     * intervals and a timeout; the workers of a new configuration (a newer
     * generation) take it from the old ones at once.
     */
    if (ngx_http_health_lease_take(&psh->lease, hu->generation,
                                   2 * hu->conf->interval + hu->conf->timeout)
        == NGX_HTTP_HEALTH_LEASE_NO)
    {
        return;
    }

    ngx_memzero(&peer->pc, sizeof(ngx_peer_connection_t));

#if (NGX_HTTP_HEALTH_RESOLVE)
    if (peer->slot) {
        peer->pc.sockaddr = &peer->slot->sockaddr.sockaddr;
        peer->pc.socklen = peer->slot->socklen;

    } else
#endif
    {
        peer->pc.sockaddr = peer->rr->sockaddr;
        peer->pc.socklen = peer->rr->socklen;
    }

    peer->pc.name = &peer->name;
    peer->pc.get = ngx_event_get_peer;
    peer->pc.log = ev->log;
    peer->pc.log_error = NGX_ERROR_INFO;
    peer->sent = 0;
    peer->received = 0;
    peer->err = 0;
    peer->tls_error = 0;
    peer->deadline = ngx_current_msec + hu->conf->timeout;

    rc = ngx_event_connect_peer(&peer->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        peer->err = ngx_socket_errno;

        if (peer->pc.connection) {
            ngx_close_connection(peer->pc.connection);
            peer->pc.connection = NULL;
        }

        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
        return;
    }

    c = peer->pc.connection;
    c->data = peer;
    c->log = ev->log;
    c->read->handler = ngx_http_health_check_read;
    c->write->handler = ngx_http_health_check_write;
    c->read->log = ev->log;
    c->write->log = ev->log;

    /* a check holds no graceful shutdown: the worker closes it at exit */
    c->read->cancelable = 1;
    c->write->cancelable = 1;

    ngx_add_timer(c->write, hu->conf->timeout);

    if (rc == NGX_OK) {
        ngx_http_health_check_write(c->write);
    }
}


static void
ngx_http_health_check_write(ngx_event_t *wev)
{
    ssize_t                      n;
    ngx_connection_t            *c;
    ngx_http_health_peer_t      *peer;
    ngx_http_health_upstream_t  *hu;

    c = wev->data;
    peer = c->data;
    hu = peer->upstream;

    if (wev->timedout) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TIMEOUT, 0);
        return;
    }

#if (NGX_HTTP_SSL)
    if (hu->conf->ssl && c->ssl == NULL) {
        ngx_http_health_check_ssl(peer, c);
        return;
    }
#endif

    while (peer->sent < hu->request.len) {
        n = c->send(c, hu->request.data + peer->sent,
                    hu->request.len - peer->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_health_check_done(peer,
                                           NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
            }

            return;
        }

        if (n == NGX_ERROR) {
            peer->err = ngx_socket_errno;
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
            return;
        }

        peer->sent += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    wev->handler = ngx_http_health_check_write;

    if (!c->read->timer_set) {
        ngx_add_timer(c->read, (ngx_msec_int_t) (peer->deadline
                                                 - ngx_current_msec) > 0
                               ? peer->deadline - ngx_current_msec : 1);
    }

    if (c->read->ready) {
        ngx_http_health_check_read(c->read);
    }
}


#if (NGX_HTTP_SSL)

/*
 * Connected: the handshake, as nginx's upstream does it, under the timer
 * of the check's write event, which bounds connect, handshake and request.
 */
static void
ngx_http_health_check_ssl(ngx_http_health_peer_t *peer, ngx_connection_t *c)
{
    int                                   err;
    socklen_t                             len;
    ngx_int_t                             rc;
    ngx_http_health_upstream_srv_conf_t  *hucf;

    hucf = peer->upstream->conf;

    /* a refused connect is a failed connect, not a failed handshake */
    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        peer->err = err;
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
        return;
    }

    /* the TLS state lives in a pool of the connection's own */
    c->pool = ngx_create_pool(512, c->log);
    if (c->pool == NULL) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_HANDSHAKE,
                                   0);
        return;
    }

    if (ngx_ssl_create_connection(hucf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_HANDSHAKE,
                                   0);
        return;
    }

    /* as per RFC 6066, no literal IPv4 or IPv6 address */
    if (hucf->ssl_server_name && hucf->ssl_name.len
        && hucf->ssl_name.data[0] != '['
        && ngx_inet_addr(hucf->ssl_name.data, hucf->ssl_name.len)
           == INADDR_NONE
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) hucf->ssl_name.data)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                      "SSL_set_tlsext_host_name(\"%s\") failed",
                      hucf->ssl_name.data);
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_HANDSHAKE,
                                   0);
        return;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_health_check_ssl_handshaked;
        return;
    }

    ngx_http_health_check_ssl_handshaked(c);
}


static void
ngx_http_health_check_ssl_handshaked(ngx_connection_t *c)
{
    long                                  rc;
    ngx_http_health_peer_t               *peer;
    ngx_http_health_upstream_srv_conf_t  *hucf;

    peer = c->data;
    hucf = peer->upstream->conf;

    if (c->read->timedout || c->write->timedout) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TIMEOUT, 0);
        return;
    }

    if (!c->ssl->handshaked) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_HANDSHAKE,
                                   0);
        return;
    }

    if (hucf->ssl_verify) {
        rc = SSL_get_verify_result(c->ssl->connection);

        if (rc != X509_V_OK) {
            peer->tls_error = (uint32_t) rc;
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_VERIFY,
                                       0);
            return;
        }

        if (ngx_ssl_check_host(c, &hucf->ssl_name) != NGX_OK) {
            peer->tls_error = X509_V_ERR_HOSTNAME_MISMATCH;
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TLS_VERIFY,
                                       0);
            return;
        }
    }

    c->read->handler = ngx_http_health_check_read;
    c->write->handler = ngx_http_health_check_write;

    ngx_http_health_check_write(c->write);
}

#endif


/*
 * A TLS connection says close_notify without waiting for the peer's; a
 * full socket buffer finishes it later, for a second at most.
 */
static void
ngx_http_health_check_close(ngx_connection_t *c)
{
    ngx_pool_t  *pool;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_health_check_close;
            c->data = NULL;
            ngx_add_timer(c->write, 1000);
            return;
        }
    }
#endif

    pool = c->pool;

    ngx_close_connection(c);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}


/* only the status line matters: "HTTP/1.1 200 OK" */
static void
ngx_http_health_check_read(ngx_event_t *rev)
{
    u_char                      *p;
    ssize_t                      n;
    ngx_uint_t                   code, i;
    ngx_connection_t            *c;
    ngx_http_health_peer_t      *peer;
    ngx_http_health_upstream_t  *hu;

    c = rev->data;
    peer = c->data;
    hu = peer->upstream;

    if (rev->timedout) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_TIMEOUT, 0);
        return;
    }

    if (peer->sent < hu->request.len) {
        /* a read event before the request went out: wait for the write */
        if (ngx_handle_read_event(rev, 0) != NGX_OK) {
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
        }

        return;
    }

    /*
     * The whole status line, as nginx would need it to proxy the answer: a
     * line that does not end within the buffer is invalid, however it
     * starts, and nothing more is read.
     */
    while (ngx_strlchr(peer->buf, peer->buf + peer->received, LF) == NULL) {

        if (peer->received == sizeof(peer->buf)) {
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_INVALID, 0);
            return;
        }

        n = c->recv(c, peer->buf + peer->received,
                    sizeof(peer->buf) - peer->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_health_check_done(peer,
                                           NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            peer->err = (n == NGX_ERROR) ? ngx_socket_errno : 0;
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CLOSED, 0);
            return;
        }

        peer->received += n;
    }

    if (peer->received < 13) {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_INVALID, 0);
        return;
    }

    p = peer->buf;

    if (ngx_strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' '
        || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9'
        || (p[12] != ' ' && p[12] != CR && p[12] != LF))
    {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_INVALID, 0);
        return;
    }

    code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    for (i = 0; i < hu->conf->nranges; i++) {
        if (code >= hu->conf->ranges[i].lo && code <= hu->conf->ranges[i].hi) {
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_OK, code);
            return;
        }
    }

    ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_STATUS, code);
}


static void
ngx_http_health_check_done(ngx_http_health_peer_t *peer,
    ngx_http_health_check_result_e result, ngx_uint_t code)
{
    ngx_http_health_peer_sh_t      *psh;
    ngx_http_health_upstream_t     *hu;
    ngx_http_health_upstream_sh_t  *ush;

    if (peer->pc.connection) {
        ngx_http_health_check_close(peer->pc.connection);
        peer->pc.connection = NULL;
    }

    hu = peer->upstream;
    psh = ngx_http_health_peer_sh(hu->hmcf, hu->first + peer->index);
    ush = ngx_http_health_upstream_sh(hu->hmcf, hu->index);

#if (NGX_HTTP_HEALTH_RESOLVE)
    /*
     * The address left during the check: its result would count a peer
     * that is gone toward fail-open.  (Should it leave in the instant
     * after this, the next tick of any worker's timer forgets it.)
     */
    if (peer->slot) {
        if (hu->config != *((ngx_http_upstream_rr_peers_t *)
                            hu->uscf->peer.data)->config)
        {
            ngx_http_health_resolve_sync(hu, ngx_cycle->log);
        }

        if (!peer->live) {
            ngx_http_health_resolve_forget(hu, peer->index);
            return;
        }
    }
#endif

    ngx_http_health_add(&psh->checks, 1);
    __atomic_store_n(&psh->last_code, (uint32_t) code, __ATOMIC_RELAXED);
    __atomic_store_n(&psh->last_result, (uint32_t) result, __ATOMIC_RELAXED);
    __atomic_store_n(&psh->last_tls_error, peer->tls_error, __ATOMIC_RELAXED);

    if (result == NGX_HTTP_HEALTH_CHECK_OK) {
        __atomic_store_n(&psh->last_passed, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&psh->consecutive_fails, 0, __ATOMIC_RELAXED);
        ngx_http_health_add(&psh->consecutive_passes, 1);

        if (psh->consecutive_passes >= hu->conf->passes) {
            ngx_http_health_check_pass(peer, psh, ush);
        }

        return;
    }

    ngx_http_health_add(&psh->check_fails, 1);
    __atomic_store_n(&psh->last_passed, 2, __ATOMIC_RELAXED);
    __atomic_store_n(&psh->consecutive_passes, 0, __ATOMIC_RELAXED);
    ngx_http_health_add(&psh->consecutive_fails, 1);

    if (psh->consecutive_fails >= hu->conf->fails) {
        ngx_http_health_check_fail(peer, psh, ush, result, code);
    }
}


/*
 * Enough checks passed: a peer out of rotation, or kept in by the limit,
 * is back.  The exchange makes one worker the one that changes the state
 * (and logs it), should a lease have changed hands during a check.
 */
static void
ngx_http_health_check_pass(ngx_http_health_peer_t *peer,
    ngx_http_health_peer_sh_t *psh, ngx_http_health_upstream_sh_t *ush)
{
    uint32_t                     state;
    ngx_http_health_upstream_t  *hu;

    hu = peer->upstream;
    state = ngx_http_health_load(&psh->down);

    if (state == NGX_HTTP_HEALTH_PEER_IN
        || !__atomic_compare_exchange_n(&psh->down, &state,
                                        NGX_HTTP_HEALTH_PEER_IN, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    {
        return;
    }

    if (state == NGX_HTTP_HEALTH_PEER_OUT) {
        __atomic_fetch_sub(&ush->ndown, 1, __ATOMIC_RELEASE);

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "health: peer %V of upstream \"%V\" passed %ui "
                      "checks, back in rotation",
                      &peer->name, &hu->name, hu->conf->passes);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "health: peer %V of upstream \"%V\" passed %ui checks, "
                  "no longer kept in rotation by max_ejected",
                  &peer->name, &hu->name, hu->conf->passes);
}


/*
 * Enough checks failed: the peer leaves rotation if the group's limit
 * leaves room, else it stays in, kept by the limit, and takes a slot at
 * a later failed check once one is free.  A peer out of rotation stays
 * out until it passes again, so the limit never swaps peers around.
 */
static void
ngx_http_health_check_fail(ngx_http_health_peer_t *peer,
    ngx_http_health_peer_sh_t *psh, ngx_http_health_upstream_sh_t *ush,
    ngx_http_health_check_result_e result, ngx_uint_t code)
{
    u_char                       reason[NGX_HTTP_HEALTH_REASON_LEN + 1];
    uint32_t                     state;
    uint64_t                     n;
    ngx_uint_t                   max;
    ngx_http_health_upstream_t  *hu;

    hu = peer->upstream;
    state = ngx_http_health_load(&psh->down);

    if (state == NGX_HTTP_HEALTH_PEER_OUT) {
        return;
    }

    if (result == NGX_HTTP_HEALTH_CHECK_STATUS) {
        *ngx_snprintf(reason, sizeof(reason) - 1, "status %ui", code) = '\0';

    } else {
        *ngx_http_health_check_reason(reason, result, code,
                                      peer->tls_error) = '\0';
    }

    /* a slot under the limit first, then the peer's state */
    max = ngx_http_health_max_ejected(hu);
    n = ngx_http_health_load(&ush->ndown);

    while (n < max) {
        if (__atomic_compare_exchange_n(&ush->ndown, &n, n + 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        {
            if (!__atomic_compare_exchange_n(&psh->down, &state,
                                             NGX_HTTP_HEALTH_PEER_OUT, 0,
                                             __ATOMIC_ACQ_REL,
                                             __ATOMIC_RELAXED))
            {
                /* another worker changed it meanwhile */
                __atomic_fetch_sub(&ush->ndown, 1, __ATOMIC_RELEASE);
                return;
            }

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, peer->err,
                          "health: peer %V of upstream \"%V\" failed %ui "
                          "checks (last: %s), out of rotation%s",
                          &peer->name, &hu->name, hu->conf->fails, reason,
                          state == NGX_HTTP_HEALTH_PEER_KEPT
                          ? " (a slot under max_ejected freed up)" : "");
            return;
        }
    }

    if (state == NGX_HTTP_HEALTH_PEER_KEPT
        || !__atomic_compare_exchange_n(&psh->down, &state,
                                        NGX_HTTP_HEALTH_PEER_KEPT, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, peer->err,
                  "health: peer %V of upstream \"%V\" failed %ui checks "
                  "(last: %s) but stays in rotation, kept in by "
                  "max_ejected=%ui%%: %uL of %ui peers are out already",
                  &peer->name, &hu->name, hu->conf->fails, reason,
                  ngx_http_health_max_ejected_pct(hu), n, hu->nchecked);
}
