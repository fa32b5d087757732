#!/usr/bin/env bash
# make demo / make demo-stop: the demo stack on loopback under .run/.
#
#   PostgreSQL with the pg_health extension and a table with dead tuples.
#
# Works as root (servers run as the postgres user where they must) and as a
# normal user.  Ports are fixed so the printed URLs stay the same; override
# with DEMO_PG_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

run=$PWD/.run
PG_PORT=${DEMO_PG_PORT:-54329}
bindir=$(pg_config --bindir)

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_() {
    "$bindir/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        -v ON_ERROR_STOP=1 "$@"
}

start_pg() {
    mkdir -p "$run/pg"
    chmod 755 "$run" "$run/pg"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$run/pg"

    if [ ! -f "$run/pg/data/PG_VERSION" ]; then
        as_pg "$bindir/initdb" -D "$run/pg/data" -U postgres -A trust \
            -E UTF8 --locale=C --no-sync > "$run/pg/initdb.log"
        cat >> "$run/pg/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$run/pg'
fsync = off
CONF
    fi

    if ! as_pg "$bindir/pg_ctl" -D "$run/pg/data" status > /dev/null 2>&1
    then
        as_pg "$bindir/pg_ctl" -D "$run/pg/data" -l "$run/pg/postgres.log" \
            -w start > /dev/null
    fi

    psql_ -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_health" \
        > /dev/null
    # a table past its dead-tuple thresholds, so the report has something
    # to say
    psql_ -d postgres > /dev/null <<'SQL'
CREATE TABLE IF NOT EXISTS public.demo_orders (id int PRIMARY KEY, note text)
    WITH (autovacuum_enabled = false);
TRUNCATE public.demo_orders;
INSERT INTO public.demo_orders SELECT g, 'order ' || g
    FROM generate_series(1, 20000) g;
ANALYZE public.demo_orders;
DELETE FROM public.demo_orders WHERE id % 10 < 3;
SQL
}

stop_pg() {
    if [ -f "$run/pg/data/PG_VERSION" ]; then
        as_pg "$bindir/pg_ctl" -D "$run/pg/data" -m fast -w stop \
            > /dev/null 2>&1 || true
    fi
}

case "${1:-start}" in
start)
    start_pg
    # let the statistics of the delete reach the shared stats
    sleep 1.5
    echo "PostgreSQL with pg_health on 127.0.0.1:$PG_PORT (data in .run/pg)"
    echo
    psql_ -d postgres -A -t -c "SELECT jsonb_pretty(public.health_report())"
    echo
    echo "psql:  psql -h 127.0.0.1 -p $PG_PORT -U postgres postgres"
    echo "       SELECT health_report();"
    echo "stop:  make demo-stop"
    ;;
stop)
    stop_pg
    echo "demo stopped"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
