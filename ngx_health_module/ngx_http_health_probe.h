/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: dependency probes (PostgreSQL, Redis) common parts.
 *
 * Every worker runs a cancelable tick timer per probe.  At each tick a
 * worker renews or takes the probe's lease in shared memory (owner pid and
 * expiry); only the owner talks to the dependency.  The owner writes the
 * result to the probe's block in shared memory and every worker serves it,
 * so the status handler only copies memory and never waits on a dependency.
 *
 * This file owns a round's lifecycle: it starts a round (busy, the round's
 * deadline, the byte count) and only it ends one, when the backend reports
 * the end through ngx_http_health_probe_end() or the deadline passes.  A
 * backend's error path can then not leave a probe busy: the deadline,
 * armed whenever busy is set, is cancelled only by the end of the round.
 */

#ifndef _NGX_HTTP_HEALTH_PROBE_H_INCLUDED_
#define _NGX_HTTP_HEALTH_PROBE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_health_module.h"
#include "ngx_http_health_status.h"
#include "ngx_http_health_util.h"
#include "ngx_http_health_hold.h"


#define NGX_HTTP_HEALTH_PROBE_REASON_LEN  512

/*
 * What one probe round may read from a dependency.  A server that sends
 * more (a bulk string announced as 2 GB, an endless row) is cut off while
 * it sends: the client libraries would otherwise buffer all of it.
 */
#define NGX_HTTP_HEALTH_PROBE_INPUT_MAX   (1024 * 1024)


typedef struct ngx_http_health_probe_s  ngx_http_health_probe_t;


/* lives in shared memory, followed by data_size bytes of data */
typedef struct {
    ngx_http_health_lease_t      lease;          /* of the probe */

    /* under the zone's mutex */
    ngx_uint_t                   checked;        /* a result is there */
    health_status_t              status;
    uint64_t                     response_us;
    ngx_msec_t                   checked_at;     /* wall clock, ms */
    ngx_msec_t                   changed_at;
    uint64_t                     checks;
    uint64_t                     failures;
    size_t                       data_len;
    size_t                       data_size_seen; /* before truncation */
    size_t                       reason_len;
    u_char                       reason[NGX_HTTP_HEALTH_PROBE_REASON_LEN];
    u_char                       data[1];
} ngx_http_health_probe_sh_t;


/* a copy of the shared block, for the status handler */
typedef struct {
    ngx_uint_t                   checked;
    health_status_t              status;
    uint64_t                     response_us;
    ngx_msec_t                   checked_at;
    ngx_msec_t                   changed_at;
    uint64_t                     checks;
    uint64_t                     failures;
    ngx_str_t                    data;
    size_t                       data_size_seen;
    ngx_str_t                    reason;
} ngx_http_health_probe_result_t;


/* a round has begun: talk to the dependency */
typedef void (*ngx_http_health_probe_run_pt)(ngx_http_health_probe_t *probe);
/* the round's deadline has passed: write what the round was waiting for
 * (after "timed out after N ms "), then drop the connection */
typedef u_char *(*ngx_http_health_probe_abort_pt)(
    ngx_http_health_probe_t *probe, u_char *buf, u_char *last);
/* this worker no longer probes: drop the connection and what it kept */
typedef void (*ngx_http_health_probe_stop_pt)(ngx_http_health_probe_t *probe);
typedef ngx_int_t (*ngx_http_health_probe_json_pt)(
    ngx_http_health_probe_t *probe, ngx_http_health_probe_result_t *res,
    json_t *obj);


struct ngx_http_health_probe_s {
    ngx_str_t                      name;
    ngx_str_t                      kind;         /* "postgres", "redis" */
    ngx_str_t                      target;       /* safe to show */
    ngx_msec_t                     interval;
    ngx_msec_t                     timeout;
    ngx_flag_t                     required;
    ngx_http_health_hold_t         hold;         /* for=, recover= */
    size_t                         data_size;
    size_t                         state_size;   /* the backend's own */
    health_status_t                unanswered;   /* a round with no answer */

    ngx_http_health_probe_run_pt   run;
    ngx_http_health_probe_abort_pt abort;
    ngx_http_health_probe_stop_pt  stop;
    ngx_http_health_probe_json_pt  json;         /* the check's fields */
    void                          *ctx;

    /* probe.c's alone: the backends read them, never write them */
    ngx_uint_t                     busy;         /* a round under way */
    ngx_uint_t                     owner;        /* this worker owns it */
    ngx_uint_t                     failing;      /* in a row */
    ngx_msec_t                     next_connect;

    size_t                         input;        /* read in this round */
    size_t                         input_waiting;
    uint64_t                       input_seen;   /* the socket's total */
    ngx_socket_t                   input_fd;

    ngx_shm_zone_t                *shm_zone;
    ngx_http_health_probe_sh_t    *sh;

    /*
     * state_size bytes of the backend's own in shared memory, never shown:
     * what the next owner of the lease needs (the samples of a window).
     * Kept across lease moves and reloads that keep the probe; zero at
     * first.  Under the zone's mutex, as the result is.
     */
    void                          *state;
    ngx_event_t                    tick;
    ngx_event_t                    deadline;     /* of the round */
    ngx_log_t                     *log;
};


/*
 * A new probe of the configuration: the name must be unique.  Returns
 * NULL after logging the error.
 */
ngx_http_health_probe_t *ngx_http_health_probe_add(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *directive);

/* parse "interval=", "timeout=", "required=" and "name="; NGX_DECLINED if
 * the argument is none of them */
ngx_int_t ngx_http_health_probe_arg(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *arg, ngx_str_t *name, ngx_msec_t *interval,
    ngx_msec_t *timeout, ngx_flag_t *required);

char *ngx_http_health_probe_init_conf(ngx_conf_t *cf,
    ngx_http_health_main_conf_t *hmcf);
void ngx_http_health_probe_init_process(ngx_cycle_t *cycle);
void ngx_http_health_probe_exit_process(ngx_cycle_t *cycle);

/*
 * The round's end, reported once by the backend: rc is NGX_OK when the
 * dependency answered (its answer may still be "unhealthy") and NGX_ERROR
 * when it could not be reached, which backs the next round off.  The
 * backend has already dropped the connection on an error.  A second end,
 * or one with no round under way, is a bug: logged at "alert", ignored.
 */
void ngx_http_health_probe_end(ngx_http_health_probe_t *probe, ngx_int_t rc,
    health_status_t status, uint64_t response_us, u_char *data, size_t len,
    u_char *reason, size_t reason_len);

/*
 * A connection kept between rounds was closed for what the dependency did
 * (a reply nobody asked for, a flood): recorded and backed off as a failed
 * round; it ends the round if one is under way.
 */
void ngx_http_health_probe_lost(ngx_http_health_probe_t *probe,
    health_status_t status, u_char *reason, size_t reason_len);


/*
 * The byte cap of a round, enforced while reading: call _input_before()
 * before a client library reads fd and _input_after() once it has; the
 * latter returns NGX_ERROR when the round has read more than the cap.
 * The count is exact on TCP (the kernel's bytes received), an upper bound
 * on Unix sockets (what was waiting before each read).
 */
void ngx_http_health_probe_input_before(ngx_http_health_probe_t *probe,
    ngx_socket_t fd);
ngx_int_t ngx_http_health_probe_input_after(ngx_http_health_probe_t *probe,
    ngx_socket_t fd);

/*
 * Give back an nginx connection wrapped around a socket that a client
 * library (libpq, hiredis) owns and closes itself.  flags is
 * NGX_CLOSE_EVENT when the descriptor is already gone or reused.
 */
void ngx_http_health_probe_release_connection(ngx_connection_t *c,
    ngx_uint_t flags);


#endif /* _NGX_HTTP_HEALTH_PROBE_H_INCLUDED_ */
