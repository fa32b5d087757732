/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, the balancer wrapper.
 *
 * The group's per-request peer init is wrapped the way the keepalive module
 * wraps it, after every balancer directive has had its say: our get calls
 * the original one and, when the chosen peer failed its active checks,
 * gives it back and asks again (the balancer marks what it chose as tried,
 * so the loop ends); our free counts the attempt before passing it on.
 * The chosen peer is found from its sockaddr pointer through a small hash
 * built per worker from the live peer list, so no name is compared.
 *
 * Slow start takes the same way: a peer back in rotation since less than
 * slow_start is taken, when the balancer chooses it, only for the share
 * of those times that the elapsed part of slow_start is, the others are
 * given back like a skipped peer's, so any balancer ramps.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_log.h"
#include "ngx_http_health_upstream_int.h"


#define NGX_HTTP_HEALTH_FAIL_OPEN_LOG  10          /* seconds between lines */
#define NGX_HTTP_HEALTH_RAMPED         4           /* given back, a request */


/* per request, in front of the balancer's own data */
typedef struct {
    ngx_http_health_upstream_t  *upstream;
    ngx_http_request_t          *request;
    void                        *data;
    ngx_event_get_peer_pt        original_get_peer;
    ngx_event_free_peer_pt       original_free_peer;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt   original_set_session;
    ngx_event_save_peer_session_pt  original_save_session;
#endif
    ngx_event_notify_peer_pt     original_notify;
    ngx_http_upstream_rr_peer_data_t  *rrp;      /* NULL: not found */
    ngx_uint_t                   index;
    uint64_t                     start;          /* usec */
    unsigned                     skipped:1;      /* a peer, once */
    unsigned                     fail_open:1;    /* for this request */
    unsigned                     ramp_off:1;     /* for this request */
    ngx_uint_t                   nramped;
    ngx_uint_t                   ramped[NGX_HTTP_HEALTH_RAMPED];
} ngx_http_health_upstream_peer_data_t;


/* the peers a retry of the balancer makes candidates again */
typedef ngx_uint_t (*ngx_http_health_upstream_pick_pt)(
    ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_upstream_rr_peer_t *rr);


/* what choosing and giving back a skipped peer changes in nginx's own */
typedef struct {
    ngx_http_upstream_rr_peer_t *rr;
    ngx_uint_t                   fails;
    time_t                       checked;
} ngx_http_health_rr_snap_t;


#define NGX_HTTP_HEALTH_SNAPS  32


static ngx_http_upstream_rr_peer_data_t *
    ngx_http_health_upstream_wrapped_rrp(ngx_http_upstream_t *u,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_health_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_health_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_health_upstream_observe(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_uint_t state,
    ngx_uint_t status);
static void ngx_http_health_upstream_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
static ngx_uint_t ngx_http_health_upstream_snap(
    ngx_http_health_upstream_t *hu, ngx_http_health_rr_snap_t *snap,
    ngx_uint_t all);
static uint64_t ngx_http_health_upstream_ramping(
    ngx_http_health_upstream_t *hu, ngx_http_health_upstream_sh_t *ush);
static ngx_uint_t ngx_http_health_upstream_ramp_skip(
    ngx_http_health_upstream_peer_data_t *hp, ngx_uint_t i, uint64_t now);
static ngx_uint_t ngx_http_health_upstream_ramp_retry(
    ngx_http_health_upstream_peer_data_t *hp);
static ngx_uint_t ngx_http_health_upstream_untry(
    ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_health_upstream_pick_pt pick);
static ngx_uint_t ngx_http_health_upstream_ramped(
    ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_upstream_rr_peer_t *rr);
static void ngx_http_health_upstream_skip(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_http_health_rr_snap_t *snap,
    ngx_uint_t nsnap, ngx_uint_t i);
static void ngx_http_health_upstream_close(ngx_connection_t *c);
static ngx_uint_t ngx_http_health_upstream_fail_open(
    ngx_peer_connection_t *pc, ngx_http_health_upstream_peer_data_t *hp);
static ngx_uint_t ngx_http_health_upstream_out(
    ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_upstream_rr_peer_t *rr);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_health_upstream_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_health_upstream_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif


/*
 * The live peer list (copied into the upstream's zone, if it has one, by
 * now) is walked in the order of configuration time; a group whose peers
 * differ is left untracked rather than counted in the wrong slots.
 */
ngx_int_t
ngx_http_health_upstream_map(ngx_cycle_t *cycle,
    ngx_http_health_upstream_t *hu)
{
    ngx_uint_t                     k, size, h, nstatic;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *list;

#if (NGX_HTTP_HEALTH_RESOLVE)
    nstatic = hu->nstatic;
#else
    nstatic = hu->npeers;
#endif

    size = 4;
    while (size < 2 * hu->npeers) {
        size *= 2;
    }

    hu->map = ngx_pcalloc(cycle->pool,
                          size * sizeof(ngx_http_health_peer_map_t));
    if (hu->map == NULL) {
        return NGX_ERROR;
    }

    hu->map_mask = size - 1;

    k = 0;

    for (list = hu->uscf->peer.data; list; list = list->next) {
        for (peer = list->peer; peer; peer = peer->next) {

#if (NGX_HTTP_HEALTH_RESOLVE)
            /* a resolved peer (kept over a reload): its slot is found later */
            if (peer->host) {
                continue;
            }
#endif

            if (k == nstatic
                || peer->name.len != hu->peers[k].name.len
                || ngx_strncmp(peer->name.data, hu->peers[k].name.data,
                               peer->name.len) != 0)
            {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "health: peers of upstream \"%V\" changed "
                              "since configuration, not tracked", &hu->name);
                return NGX_OK;
            }

            hu->peers[k].rr = peer;

            h = ((uintptr_t) peer->sockaddr >> 3) & hu->map_mask;

            while (hu->map[h].key) {
                h = (h + 1) & hu->map_mask;
            }

            hu->map[h].key = peer->sockaddr;
            hu->map[h].index = k;

            k++;
        }
    }

    hu->tracked = (k == nstatic);

    return NGX_OK;
}


/*
 * A ramp ends at until (monotonic msec), or, with 0, each ramp of the
 * group's peers under way ends slow_start after the peer came back (at a
 * reload, which may change slow_start): the group's record keeps the
 * latest end, so the requests know when no peer ramps.
 */
void
ngx_http_health_upstream_ramp_extend(ngx_http_health_upstream_t *hu,
    uint64_t until)
{
    uint64_t                        cur, returned;
    ngx_uint_t                      i;
    ngx_http_health_upstream_sh_t  *ush;

    if (hu->slow_start == 0) {
        return;
    }

    for (i = 0; until == 0 && i < hu->npeers; i++) {
        returned = ngx_http_health_load(
                       &ngx_http_health_peer_sh(hu->hmcf,
                                                hu->first + i)->returned);

        if (returned) {
            until = ngx_max(until, returned + hu->slow_start);
        }
    }

    if (until == 0) {
        return;
    }

    ush = ngx_http_health_upstream_sh(hu->hmcf, hu->index);
    cur = ngx_http_health_load(&ush->ramp_until);

    while (cur < until
           && !__atomic_compare_exchange_n(&ush->ramp_until, &cur, until, 0,
                                           __ATOMIC_RELEASE,
                                           __ATOMIC_RELAXED))
    {
        /* void */
    }
}


static ngx_inline ngx_uint_t
ngx_http_health_upstream_lookup(ngx_http_health_upstream_t *hu, void *key)
{
    ngx_uint_t  h;

    h = ((uintptr_t) key >> 3) & hu->map_mask;

    while (hu->map[h].key) {
        if (hu->map[h].key == key) {
            return hu->map[h].index;
        }

        h = (h + 1) & hu->map_mask;
    }

    return NGX_HTTP_HEALTH_NO_PEER;
}


/*
 * A hash balancer below keepalive (on by default for every upstream block
 * since nginx 1.29) allocates its own peer data, so the round-robin part
 * cannot be handed to it beforehand.  keepalive's peer data starts with
 * {conf, upstream, data} in every nginx this module builds against (1.22
 * to 1.30); the data behind it is taken only when the second pointer is
 * this request's upstream and the data's round-robin part is this group's,
 * otherwise the request simply has no per-request fail-open.
 */
static ngx_http_upstream_rr_peer_data_t *
ngx_http_health_upstream_wrapped_rrp(ngx_http_upstream_t *u,
    ngx_http_upstream_srv_conf_t *us)
{
    void                              **kp;
    ngx_http_upstream_rr_peer_data_t   *rrp;

    kp = u->peer.data;

    if (kp == NULL || kp[1] != (void *) u || kp[2] == NULL) {
        return NULL;
    }

    rrp = kp[2];

    return rrp->peers == us->peer.data ? rrp : NULL;
}


ngx_int_t
ngx_http_health_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t                   *u;
    ngx_http_health_upstream_t            *hu;
    ngx_http_health_upstream_srv_conf_t   *hucf;
    ngx_http_health_upstream_peer_data_t  *hp;

    ngx_http_upstream_rr_peer_data_t      *rrp;

    hucf = ngx_http_conf_upstream_srv_conf(us,
                                           ngx_http_health_upstream_module);
    hu = hucf->upstream;
    u = r->upstream;
    rrp = NULL;

    if (hu->tracked && u->peer.data == NULL) {
        /*
         * The round-robin init takes the data it finds here, so the
         * tried peers of this request stay within reach below any
         * wrapper (keepalive); the hash balancers bring their own, which
         * starts with the round-robin part.
         */
        rrp = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_rr_peer_data_t));
        if (rrp == NULL) {
            return NGX_ERROR;
        }

        u->peer.data = rrp;
    }

    if (hu->original_init_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!hu->tracked) {
        return NGX_OK;
    }

    if (rrp == NULL || rrp->peers != us->peer.data) {
        rrp = u->peer.data;

        if (rrp->peers != us->peer.data) {
            rrp = ngx_http_health_upstream_wrapped_rrp(u, us);
        }
    }

    hp = ngx_palloc(r->pool, sizeof(ngx_http_health_upstream_peer_data_t));
    if (hp == NULL) {
        return NGX_ERROR;
    }

    hp->upstream = hu;
    hp->rrp = rrp;
    hp->skipped = 0;
    hp->fail_open = 0;
    hp->ramp_off = 0;
    hp->nramped = 0;
    hp->request = r;
    hp->data = u->peer.data;
    hp->original_get_peer = u->peer.get;
    hp->original_free_peer = u->peer.free;
    hp->original_notify = u->peer.notify;
    hp->index = NGX_HTTP_HEALTH_NO_PEER;

    u->peer.data = hp;
    u->peer.get = ngx_http_health_upstream_get_peer;
    u->peer.free = ngx_http_health_upstream_free_peer;

    if (u->peer.notify) {
        u->peer.notify = ngx_http_health_upstream_notify_peer;
    }

#if (NGX_HTTP_SSL)
    hp->original_set_session = u->peer.set_session;
    hp->original_save_session = u->peer.save_session;

    if (u->peer.set_session) {
        u->peer.set_session = ngx_http_health_upstream_set_session;
    }

    if (u->peer.save_session) {
        u->peer.save_session = ngx_http_health_upstream_save_session;
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_health_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    uint64_t                        ndown, logged, ramp;
    ngx_int_t                       rc;
    ngx_uint_t                      i, n, nsnap;
    ngx_http_health_upstream_t     *hu;
    ngx_http_health_main_conf_t    *hmcf;
    ngx_http_health_rr_snap_t       snap[NGX_HTTP_HEALTH_SNAPS];
    ngx_http_health_upstream_sh_t  *ush;

    hu = hp->upstream;
    hmcf = hu->hmcf;
    hp->index = NGX_HTTP_HEALTH_NO_PEER;

    ush = ngx_http_health_upstream_sh(hmcf, hu->index);

    /*
     * Without health_check (also after a reload that removed it from a
     * group whose segment was kept) check results are ignored.
     */
    ndown = (hu->conf && !hp->fail_open)
            ? ngx_http_health_load(&ush->ndown) : 0;

    if (ndown && ndown >= hu->nchecked) {
        /* every peer failed its checks: better try them than refuse all */
        logged = ngx_http_health_load(&ush->fail_open_logged);

        if ((uint64_t) ngx_time() >= logged + NGX_HTTP_HEALTH_FAIL_OPEN_LOG
            && __atomic_compare_exchange_n(&ush->fail_open_logged, &logged,
                                           (uint64_t) ngx_time(), 0,
                                           __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
        {
            ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                          "health: every peer of upstream \"%V\" failed its "
                          "health checks, using them all (fail-open)",
                          &hu->name);
        }

        ndown = 0;
    }

    /* slow start: without it, or past the ramps, this load and a branch */
    ramp = (hu->slow_start && hp->rrp)
           ? ngx_http_health_upstream_ramping(hu, ush) : 0;

    nsnap = (ndown || ramp) ? ngx_http_health_upstream_snap(hu, snap, ramp != 0)
                            : 0;

    for (n = 0; /* void */ ; n++) {

        rc = hp->original_get_peer(pc, hp->data);

        if (rc == NGX_BUSY && hp->nramped
            && ngx_http_health_upstream_ramp_retry(hp))
        {
            /* nothing else is left: the ramping peer is better than none */
            continue;
        }

        if (rc == NGX_BUSY && hp->skipped
            && ngx_http_health_upstream_fail_open(pc, hp))
        {
            /* the peers left are exhausted: this request takes any */
            ndown = 0;
            continue;
        }

        if (rc != NGX_OK && rc != NGX_DONE) {
            return rc;
        }

#if (NGX_HTTP_HEALTH_RESOLVE)
        /*
         * The peer chosen is referenced, so alive; a sockaddr of a peer
         * removed since the last sync may be reused by a new one, so the
         * map is rebuilt first whenever the peers changed.
         */
        if (hu->nresolve
            && hu->config != *((ngx_http_upstream_rr_peers_t *)
                               hu->uscf->peer.data)->config)
        {
            ngx_http_health_resolve_sync(hu, pc->log);
        }
#endif

        i = ngx_http_health_upstream_lookup(hu, pc->sockaddr);

        if (i == NGX_HTTP_HEALTH_NO_PEER || n >= hu->npeers) {
            break;
        }

        if (ndown && ngx_http_health_peer_out(hmcf, hu->first + i)) {
            ngx_http_health_upstream_skip(pc, hp, snap, nsnap, i);
            hp->skipped = 1;
            continue;
        }

        if (ramp == 0) {
            break;
        }

        if (hp->nramped && !hp->ramp_off && hu->peers[i].backup
            && !hu->peers[hp->ramped[0]].backup)
        {
            /*
             * The primaries are used up but for a ramping one that was
             * given back: it, not a backup, takes the request.
             */
            ngx_http_health_upstream_skip(pc, hp, snap, nsnap, i);

            /*
             * It is in the primary list, unless a re-resolve took it out
             * meanwhile: then the balancer goes on with the backups.
             */
            (void) ngx_http_health_upstream_ramp_retry(hp);
            continue;
        }

        if (!ngx_http_health_upstream_ramp_skip(hp, i, ramp)) {
            break;
        }

        ngx_http_health_upstream_skip(pc, hp, snap, nsnap, i);
    }

    hp->index = i;
    hp->start = ngx_http_health_monotonic_usec();

    return rc;
}


/*
 * What nginx's round-robin get changes in a peer it picks (checked) and
 * what its free does with state 0 (fails reset when accessed < checked),
 * taken before the balancer runs for the peers that may be skipped.
 */
static ngx_uint_t
ngx_http_health_upstream_snap(ngx_http_health_upstream_t *hu,
    ngx_http_health_rr_snap_t *snap, ngx_uint_t all)
{
    ngx_uint_t                    k, n;
    ngx_http_upstream_rr_peer_t  *rr;

    n = 0;

    for (k = 0; k < hu->npeers && n < NGX_HTTP_HEALTH_SNAPS; k++) {
        rr = hu->peers[k].rr;

        if (rr == NULL
            || (!all && !ngx_http_health_peer_out(hu->hmcf, hu->first + k)))
        {
            continue;
        }

        snap[n].rr = rr;
        snap[n].fails = rr->fails;
        snap[n].checked = rr->checked;
        n++;
    }

    return n;
}


/*
 * Whether a peer of the group ramps now: the group's record holds the end
 * of its last ramp, cleared by the first request past it, so after a ramp
 * the requests are back to the one load.  The time now (monotonic msec),
 * or 0.
 */
static uint64_t
ngx_http_health_upstream_ramping(ngx_http_health_upstream_t *hu,
    ngx_http_health_upstream_sh_t *ush)
{
    uint64_t  until, now;

    until = ngx_http_health_load(&ush->ramp_until);

    if (until == 0) {
        return 0;
    }

    now = ngx_http_health_monotonic_usec() / 1000;

    if (now < until) {
        return now;
    }

    (void) __atomic_compare_exchange_n(&ush->ramp_until, &until, 0, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);

    return 0;
}


/*
 * The balancer chose peer i during a ramp: the request takes it for the
 * share elapsed/slow_start of the times it is chosen.  Deterministic error
 * diffusion per worker (the credit grows by the elapsed milliseconds at
 * each choice and pays slow_start for each one taken), so over any run of
 * choices the peers taken are the sum of those shares to within one.
 */
static ngx_uint_t
ngx_http_health_upstream_ramp_skip(ngx_http_health_upstream_peer_data_t *hp,
    ngx_uint_t i, uint64_t now)
{
    ngx_msec_t                   elapsed;
    ngx_http_health_peer_t      *peer;
    ngx_http_health_upstream_t  *hu;

    hu = hp->upstream;

    if (hp->ramp_off || hp->nramped == NGX_HTTP_HEALTH_RAMPED) {
        return 0;
    }

    elapsed = ngx_http_health_ramp_elapsed(hu, i, now);

    if (elapsed >= hu->slow_start) {
        return 0;
    }

    peer = &hu->peers[i];
    peer->ramp_credit += elapsed;

    if (peer->ramp_credit >= hu->slow_start) {
        peer->ramp_credit -= hu->slow_start;
        return 0;
    }

    hp->ramped[hp->nramped++] = i;

    return 1;
}


/*
 * No peer is left for the request but the ramping ones it gave back: they
 * become candidates again.  Once a request.
 */
static ngx_uint_t
ngx_http_health_upstream_ramp_retry(ngx_http_health_upstream_peer_data_t *hp)
{
    if (hp->rrp == NULL || hp->ramp_off) {
        return 0;
    }

    hp->ramp_off = 1;

    return ngx_http_health_upstream_untry(hp,
                                          ngx_http_health_upstream_ramped);
}


/*
 * The peers pick() chooses become candidates again: their tried marks are
 * cleared in the list the balancer is on or, when it moved on to backups
 * that hold none of them, in the primary list with everything else there
 * marked tried.  The marks of the primary list are written only when one
 * of them is picked, as the bitmap then changes lists.
 */
static ngx_uint_t
ngx_http_health_upstream_untry(ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_health_upstream_pick_pt pick)
{
    uintptr_t                          m;
    ngx_uint_t                         i, n, cleared;
    ngx_http_upstream_rr_peer_t       *rr;
    ngx_http_upstream_rr_peers_t      *primary;
    ngx_http_upstream_rr_peer_data_t  *rrp;

    rrp = hp->rrp;
    primary = hp->upstream->uscf->peer.data;
    cleared = 0;

    ngx_http_upstream_rr_peers_rlock(primary);

    for (rr = rrp->peers->peer, i = 0; rr; rr = rr->next, i++) {
        if (pick(hp, rr)) {
            rrp->tried[i / (8 * sizeof(uintptr_t))]
                &= ~((uintptr_t) 1 << i % (8 * sizeof(uintptr_t)));
            cleared++;
        }
    }

    if (cleared == 0 && rrp->peers != primary) {

        for (rr = primary->peer; rr; rr = rr->next) {
            cleared += pick(hp, rr);
        }

        for (rr = cleared ? primary->peer : NULL, i = 0; rr;
             rr = rr->next, i++)
        {
            n = i / (8 * sizeof(uintptr_t));
            m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));

            if (pick(hp, rr)) {
                rrp->tried[n] &= ~m;

            } else {
                rrp->tried[n] |= m;
            }
        }

        if (cleared) {
            rrp->peers = primary;
        }
    }

    ngx_http_upstream_rr_peers_unlock(primary);

    return cleared != 0;
}


/* whether the request gave back the peer for its ramp */
static ngx_uint_t
ngx_http_health_upstream_ramped(ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_upstream_rr_peer_t *rr)
{
    ngx_uint_t  k, j;

    k = ngx_http_health_upstream_lookup(hp->upstream, rr->sockaddr);

    for (j = 0; k != NGX_HTTP_HEALTH_NO_PEER && j < hp->nramped; j++) {
        if (hp->ramped[j] == k) {
            return 1;
        }
    }

    return 0;
}


/*
 * Out of rotation: give the peer back as if it had never been chosen.
 * The balancer keeps it marked tried, so asking again moves on; the try it
 * took is given back, and what choosing it changed in the peer's passive
 * state (checked, and fails through the free) is put back.  A kept-alive
 * connection to it is closed the way the keepalive module closes one.
 */
static void
ngx_http_health_upstream_skip(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_http_health_rr_snap_t *snap,
    ngx_uint_t nsnap, ngx_uint_t i)
{
    ngx_uint_t                     k, tries;
    ngx_http_upstream_rr_peer_t   *rr;
    ngx_http_upstream_rr_peers_t  *peers;

    if (pc->connection) {
        ngx_http_health_upstream_close(pc->connection);
        pc->connection = NULL;
    }

    pc->cached = 0;
    tries = pc->tries;

    hp->original_free_peer(pc, hp->data, 0);

    pc->tries = tries;

    rr = hp->upstream->peers[i].rr;
    peers = hp->upstream->uscf->peer.data;

    for (k = 0; k < nsnap; k++) {
        if (snap[k].rr != rr) {
            continue;
        }

        ngx_http_upstream_rr_peers_rlock(peers);
        ngx_http_upstream_rr_peer_lock(peers, rr);

        rr->fails = snap[k].fails;
        rr->checked = snap[k].checked;

        ngx_http_upstream_rr_peer_unlock(peers, rr);
        ngx_http_upstream_rr_peers_unlock(peers);

        break;
    }
}


static void
ngx_http_health_upstream_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_health_upstream_close;
            return;
        }
    }

#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
        c->pool = NULL;
    }

    ngx_close_connection(c);
}


/*
 * Fail-open for one request: every peer left after skipping the ones that
 * failed their checks has been tried, so the skipped ones become the
 * candidates (the request would have gone to them without the module).
 */
static ngx_uint_t
ngx_http_health_upstream_fail_open(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp)
{
    ngx_http_health_upstream_t  *hu;

    hu = hp->upstream;

    if (hp->rrp == NULL || hp->fail_open
        || !ngx_http_health_upstream_untry(hp, ngx_http_health_upstream_out))
    {
        return 0;
    }

    hp->fail_open = 1;

    ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                  "health: no peer of upstream \"%V\" that passes its "
                  "health checks is left for this request, trying the "
                  "ones that failed them (fail-open)", &hu->name);

    return 1;
}


/* whether the peer is out of rotation by its checks */
static ngx_uint_t
ngx_http_health_upstream_out(ngx_http_health_upstream_peer_data_t *hp,
    ngx_http_upstream_rr_peer_t *rr)
{
    ngx_uint_t                   k;
    ngx_http_health_upstream_t  *hu;

    hu = hp->upstream;
    k = ngx_http_health_upstream_lookup(hu, rr->sockaddr);

    return k != NGX_HTTP_HEALTH_NO_PEER
           && ngx_http_health_peer_out(hu->hmcf, hu->first + k);
}


/*
 * Every attempt ends here once: the hot path of the passive statistics.
 * The status is the upstream's own (0 when it never sent one).
 */
static void
ngx_http_health_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    uint64_t                      us, now;
    ngx_uint_t                    g, status;
    ngx_http_upstream_t          *u;
    ngx_http_health_main_conf_t  *hmcf;
    ngx_http_health_peer_sh_t    *psh;

    if (hp->index != NGX_HTTP_HEALTH_NO_PEER) {
        hmcf = hp->upstream->hmcf;
        g = ngx_http_health_peer_block(hmcf,
                                       hp->upstream->first + hp->index);

        now = ngx_http_health_monotonic_usec();
        us = now - hp->start;

        u = hp->request->upstream;
        status = (u && u->state) ? u->state->status : 0;

        if (hp->upstream->observe) {
            ngx_http_health_upstream_observe(pc, hp, state, status);
        }

        if (status == 0 && (state & NGX_PEER_FAILED)) {
            /*
             * Refused, reset or timed out before a status line: no
             * response time and no class to count it in.
             */
            psh = ngx_http_health_peer_sh(hmcf, hp->upstream->first
                                                + hp->index);
            ngx_http_health_add(&psh->fails, 1);
            ngx_http_health_add(&psh->failed, 1);

            hp->index = NGX_HTTP_HEALTH_NO_PEER;
            hp->original_free_peer(pc, hp->data, state);
            return;
        }

        ngx_http_health_count(hmcf, g, status, us, now / 1000000, 0, 0);

        if (state & NGX_PEER_FAILED) {
            ngx_http_health_add(
                &ngx_http_health_peer_sh(hmcf, hp->upstream->first
                                               + hp->index)->fails, 1);
        }

        hp->index = NGX_HTTP_HEALTH_NO_PEER;
    }

    hp->original_free_peer(pc, hp->data, state);
}


/*
 * health_check observe=: the attempt's outcome as a passive check.  The
 * status is the peer's own, as the proxy parsed it (a 500 given up for the
 * next peer by proxy_next_upstream included); nginx sets its own 502/504
 * only after this call.  A timeout is told from other failures by the
 * timed out event of the upstream connection, still open here: the
 * connect and send timeouts time out its write event, the read timeout
 * its read event.  A refused or reset connection, or one closed before a
 * status line, is neither counted nor resets the count: no answer came,
 * and the active checks see such a peer.  Any answer that is not counted
 * resets it.
 */
static void
ngx_http_health_upstream_observe(ngx_peer_connection_t *pc,
    ngx_http_health_upstream_peer_data_t *hp, ngx_uint_t state,
    ngx_uint_t status)
{
    u_char                       why[64];
    uint32_t                     n;
    ngx_uint_t                   what;
    ngx_http_health_upstream_t  *hu;
    ngx_http_health_peer_sh_t   *psh;

    hu = hp->upstream;
    psh = ngx_http_health_peer_sh(hu->hmcf, hu->first + hp->index);

    if (status >= 500 && status <= 599) {
        what = NGX_HTTP_HEALTH_OBSERVE_5XX;

    } else if (status) {
        what = 0;

    } else if ((state & NGX_PEER_FAILED) && pc->connection
               && (pc->connection->read->timedout
                   || pc->connection->write->timedout))
    {
        what = NGX_HTTP_HEALTH_OBSERVE_TIMEOUT;

    } else {
        return;
    }

    if (!(hu->observe & what)) {
        if (what != NGX_HTTP_HEALTH_OBSERVE_TIMEOUT
            && ngx_http_health_load(&psh->observed))
        {
            __atomic_store_n(&psh->observed, 0, __ATOMIC_RELAXED);
        }

        return;
    }

    n = __atomic_add_fetch(&psh->observed, 1, __ATOMIC_RELAXED);

    if (n < hu->conf->observe_fails
        || ngx_http_health_load(&psh->down) == NGX_HTTP_HEALTH_PEER_OUT)
    {
        return;
    }

    *ngx_snprintf(why, sizeof(why) - 1, "had %ui consecutive %s",
                  hu->conf->observe_fails,
                  ngx_http_health_observed[hu->observe]) = '\0';

    ngx_http_health_peer_fail(hu, hp->index, NGX_HTTP_HEALTH_CAUSE_OBSERVE,
                              why, 0);
}


static void
ngx_http_health_upstream_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    hp->original_notify(pc, hp->data, type);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_health_upstream_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    return hp->original_set_session(pc, hp->data);
}


static void
ngx_http_health_upstream_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_health_upstream_peer_data_t  *hp = data;

    hp->original_save_session(pc, hp->data);
}

#endif
