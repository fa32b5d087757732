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
    "header not matched",
    "body not matched",
    "tls handshake failed",
    "certificate verify failed"
};


/* the "result" label of nginx_health_upstream_peer_checks_total */
const char  *ngx_http_health_check_results[] = {
    "passed",
    "connect",
    "timeout",
    "closed",
    "invalid",
    "status",
    "header",
    "body",
    "tls_handshake",
    "tls_verify"
};

const ngx_uint_t  ngx_http_health_check_nresults =
    sizeof(ngx_http_health_check_results) / sizeof(char *);

/* a reason for every result */
typedef char  ngx_http_health_reasons_fit[
    sizeof(ngx_http_health_check_reasons)
    == sizeof(ngx_http_health_check_results) ? 1 : -1];

/* every result has its counter in the peer's record */
typedef char  ngx_http_health_results_fit[
    sizeof(ngx_http_health_check_results) / sizeof(char *)
    <= NGX_HTTP_HEALTH_CHECK_NRESULTS ? 1 : -1];

/* what observe= counts, by its bits */
const char  *ngx_http_health_observed[] = {
    "failures",
    "5xx responses",
    "timeouts",
    "5xx responses or timeouts"
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
    peer->start_us = ngx_http_health_monotonic_usec();

    if (hu->conf->match_size && peer->mbuf == NULL) {
        /* for the life of the worker: one buffer per checked peer */
        peer->mbuf = ngx_palloc(ngx_cycle->pool, hu->conf->match_size);
        if (peer->mbuf == NULL) {
            return;
        }
    }

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


/*
 * The status line, "HTTP/1.1 200 OK", and with match_* parameters the
 * headers and the first match_bytes of the body.
 */
static void
ngx_http_health_check_read(ngx_event_t *rev)
{
    u_char                      *p, *buf;
    size_t                       size;
    ssize_t                      n;
    ngx_uint_t                   code, i;
    ngx_http_health_check_result_e  rc;
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

    if (peer->mbuf) {
        buf = peer->mbuf;
        size = hu->conf->match_size;

    } else {
        buf = peer->buf;
        size = sizeof(peer->buf);
    }

    /*
     * The whole status line, as nginx would need it to proxy the answer: a
     * line that does not end within the buffer is invalid, however it
     * starts, and nothing more is read.  What is matched is read until it
     * is all in, the buffer is full or the peer closes.
     */
    while (peer->mbuf
           ? !ngx_http_health_match_complete(hu->conf, buf, peer->received)
           : ngx_strlchr(buf, buf + peer->received, LF) == NULL)
    {
        if (peer->received == size) {
            if (peer->mbuf) {
                break;
            }

            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_INVALID, 0);
            return;
        }

        n = c->recv(c, buf + peer->received, size - peer->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_health_check_done(peer,
                                           NGX_HTTP_HEALTH_CHECK_CONNECT, 0);
            }

            return;
        }

        if (n == 0 && peer->mbuf
            && ngx_strlchr(buf, buf + peer->received, LF))
        {
            /* the end of an answer of HTTP/1.0 without a length */
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            peer->err = (n == NGX_ERROR) ? ngx_socket_errno : 0;
            ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_CLOSED, 0);
            return;
        }

        peer->received += n;
    }

    if (peer->received < 13
        || ngx_strlchr(buf, buf + peer->received, LF) == NULL)
    {
        ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_INVALID, 0);
        return;
    }

    p = buf;

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
            rc = NGX_HTTP_HEALTH_CHECK_OK;

            if (peer->mbuf) {
                rc = ngx_http_health_match(hu->conf, buf, peer->received,
                                           &peer->which);
            }

            ngx_http_health_check_done(peer, rc, code);
            return;
        }
    }

    ngx_http_health_check_done(peer, NGX_HTTP_HEALTH_CHECK_STATUS, code);
}


static void
ngx_http_health_check_done(ngx_http_health_peer_t *peer,
    ngx_http_health_check_result_e result, ngx_uint_t code)
{
    uint64_t                        rtt;
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

    rtt = ngx_http_health_monotonic_usec() - peer->start_us;

    ngx_http_health_add(&psh->checks, 1);
    ngx_http_health_add(&psh->results[result], 1);
    ngx_http_health_add(&psh->rtt_sum_us, rtt);
    __atomic_store_n(&psh->rtt_us, rtt, __ATOMIC_RELAXED);
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
    uint64_t                     now;
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

    /* what real requests did while it was out (fail-open) counts no more */
    __atomic_store_n(&psh->observed, 0, __ATOMIC_RELAXED);

    if (state == NGX_HTTP_HEALTH_PEER_OUT) {
        __atomic_fetch_sub(&ush->ndown, 1, __ATOMIC_RELEASE);

        /* back from out of rotation: its slow start, if any, begins */
        now = ngx_max(ngx_http_health_monotonic_usec() / 1000, 1);
        __atomic_store_n(&psh->returned, now, __ATOMIC_RELEASE);
        ngx_http_health_upstream_ramp_extend(hu, now + hu->slow_start);

        if (hu->slow_start) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "health: peer %V of upstream \"%V\" passed %ui "
                          "checks, back in rotation, its share ramping up "
                          "over slow_start=%Mms",
                          &peer->name, &hu->name, hu->conf->passes,
                          hu->slow_start);
            return;
        }

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
 * Enough checks failed: the peer leaves rotation, or is kept in by the
 * group's limit (ngx_http_health_peer_fail()).
 */
static void
ngx_http_health_check_fail(ngx_http_health_peer_t *peer,
    ngx_http_health_peer_sh_t *psh, ngx_http_health_upstream_sh_t *ush,
    ngx_http_health_check_result_e result, ngx_uint_t code)
{
    u_char                       why[NGX_HTTP_HEALTH_REASON_LEN + 64];
    u_char                       reason[NGX_HTTP_HEALTH_REASON_LEN];
    u_char                      *last;
    ngx_http_health_match_t     *m;
    ngx_http_health_upstream_t  *hu;

    if (ngx_http_health_load(&psh->down) == NGX_HTTP_HEALTH_PEER_OUT) {
        return;
    }

    hu = peer->upstream;

    if (result == NGX_HTTP_HEALTH_CHECK_STATUS) {
        *ngx_snprintf(why, sizeof(why) - 1,
                      "failed %ui checks (last: status %ui)",
                      hu->conf->fails, code) = '\0';

    } else if (result == NGX_HTTP_HEALTH_CHECK_HEADER
               && (hu->conf->match_headers == NULL
                   || peer->which >= hu->conf->match_headers->nelts))
    {
        *ngx_snprintf(why, sizeof(why) - 1, "failed %ui checks (last: "
                      "headers did not end within %uz bytes)",
                      hu->conf->fails, hu->conf->match_size) = '\0';

    } else if (result == NGX_HTTP_HEALTH_CHECK_HEADER) {
        m = hu->conf->match_headers->elts;
        *ngx_snprintf(why, sizeof(why) - 1, "failed %ui checks (last: "
                      "header %V not matched)", hu->conf->fails,
                      &m[peer->which].name) = '\0';

    } else {
        last = ngx_http_health_check_reason(reason, result, code,
                                            peer->tls_error);
        *ngx_snprintf(why, sizeof(why) - 1, "failed %ui checks (last: %*s)",
                      hu->conf->fails, last - reason, reason) = '\0';
    }

    ngx_http_health_peer_fail(hu, peer->index, NGX_HTTP_HEALTH_CAUSE_CHECKS,
                              why, peer->err);
}


/*
 * A peer that just left rotation, or was just kept in: it comes back (or
 * is no longer kept in) through "passes" checks after this, and the real
 * requests before this do not count again (observe=), so a peer kept in
 * is tried again after as many failures as first.
 */
static ngx_inline void
ngx_http_health_peer_restart(ngx_http_health_peer_sh_t *psh,
    ngx_uint_t cause)
{
    __atomic_store_n(&psh->cause, (uint32_t) cause, __ATOMIC_RELAXED);
    __atomic_store_n(&psh->consecutive_passes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&psh->observed, 0, __ATOMIC_RELAXED);
}


/*
 * Peer i failed enough checks, or enough real requests (observe=, from any
 * worker): it leaves rotation if the group's limit leaves room, else it
 * stays in, kept by the limit, and takes a slot at a later failure once
 * one is free.  A peer out of rotation stays out until it passes its
 * checks again, so the limit never swaps peers around.  Whoever changes
 * the state (the exchanges make it one worker) logs it.
 */
void
ngx_http_health_peer_fail(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_uint_t cause, u_char *why, ngx_err_t err)
{
    uint32_t                        state;
    uint64_t                        n;
    ngx_str_t                      *name;
    ngx_uint_t                      max;
    ngx_http_health_peer_sh_t      *psh;
    ngx_http_health_upstream_sh_t  *ush;

    psh = ngx_http_health_peer_sh(hu->hmcf, hu->first + i);
    ush = ngx_http_health_upstream_sh(hu->hmcf, hu->index);
    name = &hu->peers[i].name;

    state = ngx_http_health_load(&psh->down);

    if (state == NGX_HTTP_HEALTH_PEER_OUT) {
        return;
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

            ngx_http_health_peer_restart(psh, cause);

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                          "health: peer %V of upstream \"%V\" %s, out of "
                          "rotation%s", name, &hu->name, why,
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

    ngx_http_health_peer_restart(psh, cause);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                  "health: peer %V of upstream \"%V\" %s but stays in "
                  "rotation, kept in by max_ejected=%ui%%: %uL of %ui peers "
                  "are out already",
                  name, &hu->name, why, ngx_http_health_max_ejected_pct(hu),
                  n, hu->nchecked);
}
