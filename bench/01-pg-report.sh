#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# PostgreSQL benchmark: health_report() against the plain SQL an operator
# would otherwise run (connections from pg_stat_activity, dead tuples from
# pg_stat_user_tables), on a database with 5,000 tables (500 of them with
# dead tuples) and 60 sessions.  A and B are interleaved in rounds; each
# query's per-call latencies come from pgbench's transaction log, and the
# medians and their ratio are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

TABLES=${BENCH_PG_TABLES:-5000}
DEAD_TABLES=${BENCH_PG_DEAD_TABLES:-500}
SESSIONS=${BENCH_PG_SESSIONS:-60}
ROUNDS=${BENCH_PG_ROUNDS:-7}
CALLS=${BENCH_PG_CALLS:-20}

bindir=$(pg_config --bindir)
out=$PWD/bench/out/pg
rm -rf "$out"
mkdir -p "$out"
chmod 755 "$PWD/bench/out" "$out"
# as root the server runs as postgres, which must reach its directory
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$out"; then
    rm -rf "$out"
    out=$(mktemp -d /tmp/nginx-health-bench-pg.XXXXXX)
    chmod 755 "$out"
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

port=$(bench_free_port)

[ "$(id -u)" = 0 ] && chown postgres:postgres "$out"
as_pg "$bindir/initdb" -D "$out/data" -U postgres -A trust --no-sync \
    -E UTF8 --locale=C > "$out/initdb.log"
cat >> "$out/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$out'
max_connections = 100
fsync = off
synchronous_commit = off
autovacuum = off
shared_buffers = 256MB
max_locks_per_transaction = 512
CONF

cleanup() {
    [ -n "${sleepers:-}" ] && kill $sleepers 2>/dev/null || true
    as_pg "$bindir/pg_ctl" -D "$out/data" -m immediate stop >/dev/null 2>&1 \
        || true
    # the cluster is large; only the logs and results are kept
    rm -rf "$out/data"
}
trap cleanup EXIT

as_pg "$bindir/pg_ctl" -D "$out/data" -l "$out/postgres.log" -w start \
    > /dev/null

psql_() { "$bindir/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres \
          -v ON_ERROR_STOP=1 "$@"; }

echo "setup: $TABLES tables ($DEAD_TABLES with dead tuples), $SESSIONS sessions"
psql_ -c "CREATE EXTENSION pg_health"
psql_ <<SQL
DO \$\$
BEGIN
    FOR i IN 1..$TABLES LOOP
        EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text)',
                       i);
    END LOOP;
END
\$\$;
DO \$\$
BEGIN
    FOR i IN 1..$DEAD_TABLES LOOP
        EXECUTE format('INSERT INTO public.t%s
                        SELECT g, ''x'' FROM generate_series(1, 4000) g', i);
        EXECUTE format('DELETE FROM public.t%s WHERE id %% 10 < %s', i,
                       1 + i % 5);
    END LOOP;
END
\$\$;
ANALYZE;
SELECT pg_stat_force_next_flush();
SQL

# 60 sessions: half running a long statement, half idle in a transaction
sleepers=
for i in $(seq 1 "$SESSIONS"); do
    if [ $((i % 2)) = 0 ]; then
        sql="SELECT pg_sleep(3600)"
    else
        sql="BEGIN; SELECT 1; SELECT pg_sleep(3600)"
    fi
    psql_ -c "$sql" > /dev/null 2>&1 &
    sleepers="$sleepers $!"
done

for _ in $(seq 1 100); do
    n=$(psql_ -c "SELECT count(*) FROM pg_catalog.pg_stat_activity
                  WHERE backend_type = 'client backend'")
    [ "$n" -gt "$SESSIONS" ] && break
    sleep 0.1
done

cat > "$out/a.sql" <<'SQL'
SELECT public.health_report();
SQL

# What an operator runs without the extension: connection headroom and the
# tables with many dead tuples, straight from the statistics views.
cat > "$out/b.sql" <<'SQL'
SELECT
  (SELECT json_build_object(
      'used', count(*) FILTER (WHERE backend_type = 'client backend'),
      'active', count(*) FILTER (WHERE state = 'active'),
      'idle_in_transaction',
          count(*) FILTER (WHERE state = 'idle in transaction'),
      'waiting', count(*) FILTER (WHERE wait_event_type = 'Lock'),
      'max', current_setting('max_connections')::int
              - current_setting('superuser_reserved_connections')::int)
     FROM pg_catalog.pg_stat_activity),
  (SELECT json_agg(json_build_object(
      'table', schemaname || '.' || relname,
      'dead', n_dead_tup, 'live', n_live_tup,
      'dead_pct', round(100.0 * n_dead_tup
                        / greatest(n_live_tup + n_dead_tup, 1), 1),
      'last_autovacuum', last_autovacuum))
     FROM pg_catalog.pg_stat_user_tables
    WHERE n_dead_tup >= 1000
      AND n_dead_tup > 0.1 * (n_live_tup + n_dead_tup));
SQL

# warm both once
psql_ -f "$out/a.sql" > /dev/null
psql_ -f "$out/b.sql" > /dev/null

run() {
    local name=$1 round=$2
    (cd "$out" && "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres \
        -f "$name.sql" -t "$CALLS" -c 1 -l --log-prefix="log-$name-$round" \
        postgres > /dev/null 2>&1)
}

for r in $(seq 1 "$ROUNDS"); do
    run a "$r"
    run b "$r"
done

median() {
    cat "$out"/log-"$1"-* | awk '{print $3}' | sort -n \
        | awk '{ v[NR] = $1 }
               END { if (NR % 2) print v[(NR + 1) / 2];
                     else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

a=$(median a)
b=$(median b)

# what the report saw, so the figures are known to cover the full work
seen=$(psql_ -c "SELECT format('report saw: %s client backends, %s dead-tuple
 tables, %s slow statements, %s long transactions',
    r -> 'connections' ->> 'used', r -> 'dead_tuples' ->> 'count',
    r -> 'slow_queries' ->> 'count', r -> 'long_transactions' ->> 'count')
  FROM (SELECT public.health_report() -> 'checks' AS r) s")
plain=$(psql_ -c "SELECT count(*) FROM pg_catalog.pg_stat_user_tables
                   WHERE n_dead_tup >= 1000
                     AND n_dead_tup > 0.1 * (n_live_tup + n_dead_tup)")
echo "pg: ${seen//$'\n'/} (plain SQL: $plain tables)" | tee "$out/seen.txt"

awk -v a="$a" -v b="$b" -v n=$((ROUNDS * CALLS)) -v t="$TABLES" \
    -v s="$SESSIONS" 'BEGIN {
    printf "pg: %d tables, %d sessions, %d calls each, interleaved\n", t, s, n
    printf "pg: health_report()            median %8.3f ms\n", a / 1000
    printf "pg: plain SQL (activity+dead)  median %8.3f ms\n", b / 1000
    printf "pg: ratio health_report/plain  %.3f (goal <= 0.5)\n", a / b
}' | tee "$out/result.txt"
