#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# make demo / make demo-stop: the demo stack on loopback under .run/.
#
#   PostgreSQL with the pg_health extension and a table with dead tuples;
#   Redis, probed and published to;
#   two small app backends (each a stock nginx of its own) behind an upstream
#   with active health checks;
#   nginx (Debian's, with the module built here) counting a site and an API
#   zone and probing the database, its status and dashboard at /health, and
#   a light load so the figures move.
#
# Works as root (servers run as the postgres user where they must) and as a
# normal user.  Ports are fixed so the printed URLs stay the same; override
# them with DEMO_PG_PORT, DEMO_REDIS_PORT, DEMO_HTTP_PORT, DEMO_APP_PORT,
# DEMO_APP2_PORT, and
# the directory with DEMO_RUN (the tests run a demo of their own that way).
set -euo pipefail
cd "$(dirname "$0")/.."

run=${DEMO_RUN:-$PWD/.run}
PG_PORT=${DEMO_PG_PORT:-54329}
REDIS_PORT=${DEMO_REDIS_PORT:-63799}
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
APP_PORT=${DEMO_APP_PORT:-8081}
APP2_PORT=${DEMO_APP2_PORT:-8082}
MODULE=$PWD/build/modules/ngx_http_health_module.so
bindir=$(pg_config --bindir)

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

psql_() {
    PGOPTIONS='-c client_min_messages=warning' \
    "$bindir/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        -v ON_ERROR_STOP=1 "$@"
}

# As root, PostgreSQL runs as postgres, which must reach its directory: when
# the checkout sits below a directory it cannot enter (/root, say), .run/pg
# is a link to a directory under /tmp.
pg_dir() {
    mkdir -p "$run"
    chmod 755 "$run"
    if [ "$(id -u)" = 0 ] && [ ! -e "$run/pg" ] \
        && ! runuser -u postgres -- test -x "$run"
    then
        local d
        d=$(mktemp -d /tmp/nginx-health-demo-pg.XXXXXX)
        chmod 755 "$d"
        ln -s "$d" "$run/pg"
    fi
    mkdir -p "$run/pg/"
    chmod 755 "$run/pg/"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$run/pg/"
    pgd=$(readlink -f "$run/pg")
}

start_pg() {
    local pgd
    pg_dir

    if [ ! -f "$pgd/data/PG_VERSION" ]; then
        as_pg "$bindir/initdb" -D "$pgd/data" -U postgres -A trust \
            -E UTF8 --locale=C --no-sync > "$pgd/initdb.log"
        cat >> "$pgd/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$pgd'
fsync = off
CONF
    fi

    if ! as_pg "$bindir/pg_ctl" -D "$pgd/data" status > /dev/null 2>&1
    then
        as_pg "$bindir/pg_ctl" -D "$pgd/data" -l "$pgd/postgres.log" \
            -w start > /dev/null
    fi

    psql_ -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_health" \
        > /dev/null
    # a table past its dead-tuple thresholds, so the report has something
    # to say
    psql_ -d postgres > /dev/null <<'SQL'
DROP TABLE IF EXISTS public.demo_orders;
CREATE TABLE public.demo_orders (id int PRIMARY KEY, note text)
    WITH (autovacuum_enabled = false);
INSERT INTO public.demo_orders SELECT g, 'order ' || g
    FROM generate_series(1, 20000) g;
-- the insert's statistics reach the shared counters before ANALYZE sets the
-- live count, or they are added on top of it
SELECT pg_catalog.pg_stat_force_next_flush();
ANALYZE public.demo_orders;
DELETE FROM public.demo_orders WHERE id % 10 < 3;
SQL
}

stop_pg() {
    local pgd
    pgd=$(readlink -f "$run/pg" 2>/dev/null) || return 0
    if [ -f "$pgd/data/PG_VERSION" ]; then
        as_pg "$bindir/pg_ctl" -D "$pgd/data" -m fast -w stop \
            > /dev/null 2>&1 || true
    fi
}

# wait up to 5 s for the process to go, then kill it
wait_gone() {
    local pid=$1
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# stop the nginx whose prefix is $1, gracefully
stop_nginx_at() {
    local pid
    [ -f "$1/nginx.pid" ] || return 0
    pid=$(cat "$1/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    wait_gone "$pid"
}

# the temporary paths of an nginx under prefix $1, none in /var/lib/nginx
nginx_temp_paths() {
    local t
    for t in client_body proxy fastcgi uwsgi scgi; do
        printf '    %s_temp_path %s/tmp/%s;\n' "$t" "$1" "$t"
    done
}

start_redis() {
    local d=$run/redis
    mkdir -p "$d"
    if redis-cli -p "$REDIS_PORT" PING > /dev/null 2>&1; then
        return 0
    fi
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$d" \
        --save '' --appendonly no --maxmemory 64mb \
        --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log"
    for _ in $(seq 1 50); do
        redis-cli -p "$REDIS_PORT" PING > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "demo: redis-server did not start (see $d/redis.log)" >&2
    return 1
}

stop_redis() {
    local d=$run/redis pid
    [ -f "$d/redis.pid" ] || return 0
    pid=$(cat "$d/redis.pid")
    redis-cli -p "$REDIS_PORT" SHUTDOWN NOSAVE > /dev/null 2>&1 || true
    wait_gone "$pid"
    rm -f "$d/redis.pid"
}

# an app backend: a stock nginx of its own, with the occasional failure
start_app() {
    local name=$1 port=$2 d=$run/$1
    mkdir -p "$d/logs" "$d/tmp"
    cat > "$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
$(nginx_temp_paths "$d")
    default_type application/json;
    server {
        listen 127.0.0.1:$port;
        location = /healthz { return 200 '{"ok": true}\n'; }
        location /api/orders { return 200 '{"orders": [], "served_by": "$name"}\n'; }
        location /api/fail { return 502; }
        location / { return 200 '{"served_by": "$name"}\n'; }
    }
}
CONF
    if [ -f "$d/nginx.pid" ] && kill -0 "$(cat "$d/nginx.pid")" 2>/dev/null
    then
        return 0
    fi
    /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
}

stop_app() {
    stop_nginx_at "$run/$1"
}

start_nginx() {
    local d=$run/nginx
    mkdir -p "$d/logs" "$d/tmp"
    cat > "$d/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/logs/error.log notice;

events { worker_connections 1024; }

http {
    access_log off;
$(nginx_temp_paths "$d")
    default_type          text/plain;

    health_service demo;
    health_window  60s;

    # the cache: PING, memory and hit rate, and the status published to it
    health_redis 127.0.0.1:$REDIS_PORT name=cache interval=2s timeout=1s;

    # the database, through SELECT health_report() of pg_health
    health_postgres "hostaddr=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
                    name=database interval=5s timeout=2s;

    # the site, with its API behind a proxy
    server {
        listen 127.0.0.1:$HTTP_PORT;
        health_zone site;

        location / { return 200 "welcome\n"; }
        location /missing { return 404; }

        location /api/ {
            health_zone api;
            proxy_pass http://app;
        }

        location = /health {
            health_status;
            health_zone off;
            allow 127.0.0.1;
            deny all;
        }

        location = /lb {
            health_status lb;
            health_zone off;
        }
    }

    # the two app backends; a stopped one leaves rotation after two failed
    # checks and comes back after two good ones
    upstream app {
        server 127.0.0.1:$APP_PORT;
        server 127.0.0.1:$APP2_PORT;
        health_check uri=/healthz interval=2s timeout=1s fails=2 passes=2;
    }
}
CONF
    if [ -f "$d/nginx.pid" ] && kill -0 "$(cat "$d/nginx.pid")" 2>/dev/null
    then
        /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" \
            -s reload
    else
        /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
    fi
}

# a light load: a few requests a second; one API call in forty fails (the
# API zone sees half the requests), enough for a degraded error rate
start_load() {
    stop_load
    (
        trap 'exit 0' TERM
        i=0
        while :; do
            i=$((i + 1))
            case $((i % 80)) in
                0) path=/api/fail ;;
                1) path=/missing ;;
                *) if [ $((i % 2)) = 0 ]; then path=/api/orders;
                   else path=/; fi ;;
            esac
            curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT$path" || true
            sleep 0.2
        done
    ) > /dev/null 2>&1 &
    echo $! > "$run/load.pid"
}

stop_load() {
    if [ -f "$run/load.pid" ]; then
        kill "$(cat "$run/load.pid")" 2>/dev/null || true
        rm -f "$run/load.pid"
    fi
}

stop_nginx() {
    stop_nginx_at "$run/nginx"
}

case "${1:-start}" in
start)
    start_pg
    start_redis
    start_app app1 "$APP_PORT"
    start_app app2 "$APP2_PORT"
    start_nginx
    start_load
    # let the statistics of the delete reach the shared stats
    sleep 1.5
    echo "PostgreSQL with pg_health on 127.0.0.1:$PG_PORT (data in .run/pg)"
    echo
    psql_ -d postgres -A -t -c "SELECT jsonb_pretty(public.health_report())"
    echo
    echo "nginx with the module on 127.0.0.1:$HTTP_PORT, light load running"
    echo
    echo "dashboard:      http://127.0.0.1:$HTTP_PORT/health?format=html"
    echo "status (JSON):  curl http://127.0.0.1:$HTTP_PORT/health"
    echo "Prometheus:     curl 'http://127.0.0.1:$HTTP_PORT/health?format=prometheus'"
    echo "load balancer:  curl -i http://127.0.0.1:$HTTP_PORT/lb"
    echo "a backend down: kill \$(cat $run/app2/nginx.pid)   (back: make demo)"
    echo "Redis:          redis-cli -p $REDIS_PORT SUBSCRIBE health:service:demo:status"
    echo "psql:           psql -h 127.0.0.1 -p $PG_PORT -U postgres postgres"
    echo "                SELECT health_report();"
    echo "stop:           make demo-stop"
    ;;
stop)
    stop_load
    stop_nginx
    stop_app app1
    stop_app app2
    stop_redis
    stop_pg
    echo "demo stopped"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
