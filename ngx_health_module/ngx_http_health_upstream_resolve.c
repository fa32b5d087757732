/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: upstream peers, the slots of "server ... resolve" lines.
 *
 * "server name resolve" (nginx 1.27.3 and later, a group with a zone): the
 * zone module adds and removes the line's peers in the zone whenever the
 * name resolves differently, and counts every change in *peers->config.
 *
 * Each such line has NGX_HTTP_HEALTH_RESOLVE_SLOTS peer slots, laid out
 * after the group's static peers.  A slot is bound, under a lock in the
 * shared segment, to the first address that needs it, and keeps it for the
 * life of the segment: a peer that leaves and comes back finds its
 * statistics, and a new address never inherits another's.  An address
 * beyond the line's slots is served as usual but neither counted nor
 * checked (error.log says so once per worker).
 *
 * Each worker rebuilds its sockaddr map when *peers->config moved since
 * it last looked: before it attributes an attempt, before a check and
 * before a report.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_health_upstream_int.h"


#if (NGX_HTTP_HEALTH_RESOLVE)

static ngx_uint_t ngx_http_health_resolve_bind(ngx_http_health_upstream_t *hu,
    ngx_http_health_resolve_t *t, ngx_http_upstream_rr_peer_t *peer,
    ngx_log_t *log);


ngx_uint_t
ngx_http_health_resolve_count(ngx_http_upstream_rr_peers_t *peers)
{
    ngx_uint_t                     n;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *list;

    n = 0;

    for (list = peers; list; list = list->next) {
        for (peer = list->resolve; peer; peer = peer->next) {
            n++;
        }
    }

    return n;
}


ngx_int_t
ngx_http_health_resolve_track(ngx_conf_t *cf, ngx_http_health_upstream_t *hu,
    ngx_uint_t nstatic)
{
    ngx_uint_t                     t, k, s, backup;
    ngx_http_health_resolve_t     *r;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *list;

    hu->nstatic = nstatic;
    hu->nchecked_static = hu->nchecked;
    hu->nresolve = ngx_http_health_resolve_count(hu->uscf->peer.data);

    if (hu->nresolve == 0) {
        return NGX_OK;
    }

    hu->resolve = ngx_pcalloc(cf->pool, hu->nresolve
                                        * sizeof(ngx_http_health_resolve_t));
    if (hu->resolve == NULL) {
        return NGX_ERROR;
    }

    t = 0;
    k = nstatic;
    backup = 0;

    for (list = hu->uscf->peer.data; list; list = list->next) {
        for (peer = list->resolve; peer; peer = peer->next) {
            r = &hu->resolve[t++];

            r->server = peer->server;
            r->first = k;
            r->backup = backup;
            r->down = peer->down ? 1 : 0;

            for (s = 0; s < NGX_HTTP_HEALTH_RESOLVE_SLOTS; s++, k++) {
                hu->peers[k].backup = backup;
                hu->peers[k].down = r->down;
            }
        }

        backup = 1;
    }

    return NGX_OK;
}


/* per worker, once the zone holds the peers */
ngx_int_t
ngx_http_health_resolve_init(ngx_cycle_t *cycle,
    ngx_http_health_upstream_main_conf_t *humcf,
    ngx_http_health_upstream_t *hu)
{
    u_char                        *p;
    ngx_uint_t                     t, k;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers, *list;
    ngx_http_health_rslot_sh_t    *slots;

    if (hu->nresolve == 0) {
        return NGX_OK;
    }

    p = (u_char *) ngx_http_health_upstream_sh(hu->hmcf,
                                               humcf->upstreams.nelts);

    hu->lock = (ngx_atomic_t *) p;
    slots = (ngx_http_health_rslot_sh_t *) (p + NGX_HTTP_HEALTH_CACHE_LINE)
            + hu->rfirst;

    for (k = hu->nstatic; k < hu->npeers; k++) {
        hu->peers[k].slot = &slots[k - hu->nstatic];
        hu->peers[k].live = 0;
    }

    peers = hu->uscf->peer.data;
    t = 0;

    for (list = peers; list; list = list->next) {
        ngx_http_upstream_rr_peers_rlock(list);

        for (peer = list->resolve; peer; peer = peer->next) {
            if (t < hu->nresolve) {
                hu->resolve[t].host = peer->host;
                hu->resolve[t].peers = list;
            }

            t++;
        }

        ngx_http_upstream_rr_peers_unlock(list);
    }

    if (t != hu->nresolve || peers->shpool == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "health: resolved peers of upstream \"%V\" changed "
                      "since configuration, not tracked", &hu->name);
        hu->tracked = 0;
        hu->nresolve = 0;
        return NGX_OK;
    }

    /* the first use syncs */
    hu->config = ~*peers->config;

    return NGX_OK;
}


static void
ngx_http_health_resolve_map_add(ngx_http_health_upstream_t *hu, void *key,
    ngx_uint_t index)
{
    ngx_uint_t  h;

    h = ((uintptr_t) key >> 3) & hu->map_mask;

    while (hu->map[h].key) {
        if (hu->map[h].key == key) {
            return;
        }

        h = (h + 1) & hu->map_mask;
    }

    hu->map[h].key = key;
    hu->map[h].index = index;
}


void
ngx_http_health_resolve_sync(ngx_http_health_upstream_t *hu, ngx_log_t *log)
{
    ngx_uint_t                      k, t, nchecked;
    ngx_http_health_peer_t         *hp;
    ngx_http_upstream_rr_peer_t    *peer;
    ngx_http_upstream_rr_peers_t   *peers, *list;

    if (hu->nresolve == 0 || !hu->tracked) {
        return;
    }

    peers = hu->uscf->peer.data;

    ngx_memzero(hu->map, (hu->map_mask + 1)
                         * sizeof(ngx_http_health_peer_map_t));

    for (k = 0; k < hu->nstatic; k++) {
        ngx_http_health_resolve_map_add(hu, hu->peers[k].rr->sockaddr, k);
    }

    for (k = hu->nstatic; k < hu->npeers; k++) {
        hu->peers[k].live = 0;
        hu->peers[k].rr = NULL;
    }

    nchecked = hu->nchecked_static;

    for (list = peers; list; list = list->next) {
        ngx_http_upstream_rr_peers_rlock(list);

        /* read under the lock: a change after it brings another sync */
        if (list == peers) {
            hu->config = *peers->config;
        }

        for (peer = list->peer; peer; peer = peer->next) {

            if (peer->host == NULL) {
                continue;
            }

            for (t = 0; t < hu->nresolve; t++) {
                if (hu->resolve[t].host == peer->host) {
                    break;
                }
            }

            if (t == hu->nresolve) {
                continue;
            }

            k = ngx_http_health_resolve_bind(hu, &hu->resolve[t], peer, log);

            if (k == NGX_HTTP_HEALTH_NO_PEER) {
                continue;
            }

            hp = &hu->peers[k];

            if (hp->live) {
                /* the same address twice (two lines of one name) */
                continue;
            }

            hp->live = 1;
            hp->rr = peer;        /* valid while *peers->config stays */

            ngx_http_health_resolve_map_add(hu, peer->sockaddr, k);

            if (!hp->down) {
                nchecked++;
            }
        }

        ngx_http_upstream_rr_peers_unlock(list);
    }

    hu->nchecked = nchecked;

    for (k = hu->nstatic; k < hu->npeers; k++) {
        if (!hu->peers[k].live) {
            ngx_http_health_resolve_forget(hu, k);
        }
    }
}


/*
 * A peer that left while out of rotation leaves no count behind: the
 * fail-open decision compares the count with the peers there are.  Its
 * checks start afresh should its address come back.
 */
void
ngx_http_health_resolve_forget(ngx_http_health_upstream_t *hu, ngx_uint_t k)
{
    uint32_t                        down;
    ngx_http_health_peer_sh_t      *psh;
    ngx_http_health_upstream_sh_t  *ush;

    if (hu->conf == NULL) {
        return;
    }

    psh = ngx_http_health_peer_sh(hu->hmcf, hu->first + k);
    ush = ngx_http_health_upstream_sh(hu->hmcf, hu->index);
    down = ngx_http_health_load(&psh->down);

    if (down != NGX_HTTP_HEALTH_PEER_IN
        && __atomic_compare_exchange_n(&psh->down, &down,
                                       NGX_HTTP_HEALTH_PEER_IN, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    {
        if (down == NGX_HTTP_HEALTH_PEER_OUT) {
            __atomic_fetch_sub(&ush->ndown, 1, __ATOMIC_RELEASE);
        }

        __atomic_store_n(&psh->consecutive_fails, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&psh->consecutive_passes, 0, __ATOMIC_RELAXED);
    }
}


/* the peer slot of a resolved address, NGX_HTTP_HEALTH_NO_PEER if full */
static ngx_uint_t
ngx_http_health_resolve_bind(ngx_http_health_upstream_t *hu,
    ngx_http_health_resolve_t *t, ngx_http_upstream_rr_peer_t *peer,
    ngx_log_t *log)
{
    ngx_uint_t                   s, pass;
    ngx_http_health_rslot_sh_t  *slot;

    slot = hu->peers[t->first].slot;

    if (peer->name.len > NGX_SOCKADDR_STRLEN
        || peer->socklen > sizeof(ngx_sockaddr_t))
    {
        return NGX_HTTP_HEALTH_NO_PEER;
    }

    /* a lookup without the lock first: the bound records never change */
    for (pass = 0; pass < 2; pass++) {

        for (s = 0; s < NGX_HTTP_HEALTH_RESOLVE_SLOTS; s++) {
            if (__atomic_load_n(&slot[s].bound, __ATOMIC_ACQUIRE)
                && slot[s].len == peer->name.len
                && ngx_memcmp(slot[s].name, peer->name.data, peer->name.len)
                   == 0)
            {
                if (pass) {
                    ngx_rwlock_unlock(hu->lock);
                }

                goto found;
            }
        }

        if (pass == 0) {
            ngx_rwlock_wlock(hu->lock);
        }
    }

    for (s = 0; s < NGX_HTTP_HEALTH_RESOLVE_SLOTS; s++) {
        if (!slot[s].bound) {
            ngx_memcpy(&slot[s].sockaddr, peer->sockaddr, peer->socklen);
            slot[s].socklen = peer->socklen;
            ngx_memcpy(slot[s].name, peer->name.data, peer->name.len);
            slot[s].len = peer->name.len;
            __atomic_store_n(&slot[s].bound, 1, __ATOMIC_RELEASE);

            ngx_rwlock_unlock(hu->lock);

            goto found;
        }
    }

    ngx_rwlock_unlock(hu->lock);

    if (!t->warned) {
        t->warned = 1;

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "health: \"server %V\" of upstream \"%V\" resolved to "
                      "more than %d addresses, %V and later ones are served "
                      "but not tracked", &t->server, &hu->name,
                      NGX_HTTP_HEALTH_RESOLVE_SLOTS, &peer->name);
    }

    return NGX_HTTP_HEALTH_NO_PEER;

found:

    hu->peers[t->first + s].name.data = slot[s].name;
    hu->peers[t->first + s].name.len = slot[s].len;

    return t->first + s;
}


/* as ngx_http_health_peer_state(), the nginx peer read under its lock */
const char *
ngx_http_health_resolve_state(ngx_http_health_upstream_t *hu, ngx_uint_t i,
    ngx_http_health_peer_sh_t *psh, time_t now)
{
    const char                    *state;
    ngx_http_health_peer_t        *hp;
    ngx_http_health_resolve_t     *t;
    ngx_http_upstream_rr_peer_t   *rr;
    ngx_http_upstream_rr_peers_t  *peers;

    hp = &hu->peers[i];
    t = &hu->resolve[(i - hu->nstatic) / NGX_HTTP_HEALTH_RESOLVE_SLOTS];
    peers = hu->uscf->peer.data;
    state = NULL;

    ngx_http_upstream_rr_peers_rlock(t->peers);

    rr = (hp->live && hu->config == *peers->config) ? hp->rr : NULL;

#ifdef NGX_HTTP_UPSTREAM_DRAINING
    if (rr && (rr->down & NGX_HTTP_UPSTREAM_DRAINING)) {
        state = "draining";
    }
#endif

    if (state == NULL && (rr ? rr->down != 0 : hp->down)) {
        state = "down";
    }

    if (state == NULL && hu->conf && ngx_http_health_load(&psh->down)) {
        state = "unhealthy";
    }

    if (state == NULL && rr && rr->max_fails && rr->fails >= rr->max_fails
        && now - rr->checked <= rr->fail_timeout)
    {
        state = "unavailable";
    }

    ngx_http_upstream_rr_peers_unlock(t->peers);

    return state ? state : "up";
}

#endif
