#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# PostgreSQL benchmark: health_report() with every check on, against the
# same checks done three other ways:
#   A   SELECT health_report(), warm (one connection, many calls)
#   A1  the same on a new connection (pgbench -C), reported apart
#   B1  the plain SQL an operator would run for the same checks, one
#       statement
#   B2  check_postgres' queries for the same actions, as it sends them
#   B3  pghero's queries for the same checks, as it sends them
# on a cluster at the scale of issue 16 point 7: 50,000 tables (500 with
# dead tuples), 2,000 sessions (held by one pgbench; half running a long
# statement, half idle in a transaction that holds an xid), one lock
# wait, 5,000 pg_stat_statements entries, an inactive replication slot
# and archiving on.  A, B1, B2 and B3 are interleaved in rounds; each
# per-call latency comes from pgbench's transaction log; the medians and
# the ratios are printed, with what the report saw.
#
# Smaller runs: BENCH_PG_TABLES, BENCH_PG_DEAD_TABLES, BENCH_PG_SESSIONS,
# BENCH_PG_STATEMENTS, BENCH_PG_ROUNDS, BENCH_PG_CALLS.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

TABLES=${BENCH_PG_TABLES:-50000}
DEAD_TABLES=${BENCH_PG_DEAD_TABLES:-500}
SESSIONS=${BENCH_PG_SESSIONS:-2000}
STATEMENTS=${BENCH_PG_STATEMENTS:-5000}
ROUNDS=${BENCH_PG_ROUNDS:-5}
CALLS=${BENCH_PG_CALLS:-10}
[ "$DEAD_TABLES" -le "$TABLES" ] || DEAD_TABLES=$TABLES
[ "$STATEMENTS" -le "$TABLES" ] || STATEMENTS=$TABLES
[ "$STATEMENTS" -ge 100 ] || STATEMENTS=100   # pg_stat_statements.max's least

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
t0=$(date +%s)

[ "$(id -u)" = 0 ] && chown postgres:postgres "$out"
as_pg "$bindir/initdb" -D "$out/data" -U postgres -A trust --no-sync \
    -E UTF8 --locale=C > "$out/initdb.log"
# Every pg_health check has work: statement_latency needs the library
# preloaded, the archiver an archive_command, the replication checks a slot
# and an expected standby, the byte lag thresholds are on, and statements
# judges every entry (statements_min_calls 1).
cat >> "$out/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$out'
max_connections = $((SESSIONS + 100))
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
shared_buffers = 256MB
max_locks_per_transaction = 128
shared_preload_libraries = 'pg_stat_statements, pg_health'
pg_stat_statements.max = $STATEMENTS
archive_mode = on
archive_command = '/bin/true'
pg_health.statements_min_calls = 1
pg_health.expected_standbys = 'bench_standby'
pg_health.replication_lag_bytes_warning = '16MB'
pg_health.replication_lag_bytes_critical = '64MB'
CONF

sleepers=
cleanup() {
    # shellcheck disable=SC2086
    if [ -n "$sleepers" ]; then kill $sleepers 2>/dev/null || true; fi
    as_pg "$bindir/pg_ctl" -D "$out/data" -m immediate stop >/dev/null 2>&1 \
        || true
    # the cluster is large; only the logs and results are kept
    rm -rf "$out/data"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_pg "$bindir/pg_ctl" -D "$out/data" -l "$out/postgres.log" -w start \
    > /dev/null

psql_() { "$bindir/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres \
          -v ON_ERROR_STOP=1 "$@"; }

echo "setup: $TABLES tables ($DEAD_TABLES with dead tuples), $SESSIONS" \
     "sessions, $STATEMENTS pg_stat_statements entries"
psql_ -c "CREATE EXTENSION pg_health" -c "CREATE EXTENSION pg_stat_statements"
# the tables in transactions of 1,000 (the lock table holds them), then the
# dead tuples; each DO commits as it goes
psql_ > /dev/null <<SQL
DO \$\$
BEGIN
    FOR i IN 1..$TABLES LOOP
        EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text)',
                       i);
        IF i % 1000 = 0 THEN
            COMMIT;
        END IF;
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
        EXECUTE format('ANALYZE public.t%s', i);
        IF i % 100 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END
\$\$;
SELECT pg_create_physical_replication_slot('bench_slot', true);
SELECT pg_switch_wal();
SELECT pg_stat_force_next_flush();
SQL

# distinct statements, one per table: each its own pg_stat_statements entry
psql_ -c "SELECT pg_stat_statements_reset()" > /dev/null
seq 1 "$STATEMENTS" | awk '{ printf "SELECT v FROM public.t%d WHERE id = 1;\n", $1 }' \
    > "$out/statements.sql"
psql_ -f "$out/statements.sql" > /dev/null
pgss=$(psql_ -c "SELECT count(*) FROM public.pg_stat_statements")
if [ "$pgss" -lt $((STATEMENTS * 9 / 10)) ]; then
    echo "pg_stat_statements holds $pgss entries, wanted $STATEMENTS" >&2
    exit 1
fi

# the sessions, all held by one pgbench: the even clients run a long
# statement, the odd ones sit idle in a transaction that holds an xid
# (pgbench's \sleep counts microseconds in an int: 2000 s is near its most)
cat > "$out/sessions.sql" <<'SQL'
\if :client_id % 2 = 0
SELECT pg_sleep(3600);
\else
BEGIN;
SELECT txid_current();
\sleep 2000 s
END;
\endif
SQL
(cd "$out" && exec "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres \
    -c "$SESSIONS" -j 4 -T 3600 -f sessions.sql postgres \
    > "$out/sessions.log" 2>&1) &
sleepers="$sleepers $!"

# one lock wait: a holder of t1 and a session waiting for it
psql_ -c "BEGIN; LOCK TABLE public.t1; SELECT pg_sleep(3600)" \
    > /dev/null 2>&1 &
sleepers="$sleepers $!"
for _ in $(seq 1 100); do
    n=$(psql_ -c "SELECT count(*) FROM pg_catalog.pg_locks
                  WHERE relation = 'public.t1'::regclass AND granted
                    AND mode = 'AccessExclusiveLock'")
    [ "$n" = 1 ] && break
    sleep 0.1
done
psql_ -c "SELECT count(*) FROM public.t1" > /dev/null 2>&1 &
sleepers="$sleepers $!"

want=$((SESSIONS + 2))
n=0
deadline=$((SECONDS + 300))
while [ "$SECONDS" -lt "$deadline" ]; do
    n=$(psql_ -c "SELECT count(*) FROM pg_catalog.pg_stat_activity
                  WHERE backend_type = 'client backend'
                    AND pid <> pg_backend_pid()
                    AND (state = 'idle in transaction'
                         OR wait_event IN ('PgSleep', 'relation'))")
    [ "$n" -ge "$want" ] && break
    sleep 0.1
done
if [ "$n" -lt "$want" ]; then
    echo "only $n of $want sessions reached their state" >&2
    tail -5 "$out/sessions.log" >&2
    exit 1
fi
mix=$(psql_ -c "SELECT format('%s running pg_sleep, %s idle in a transaction
 holding an xid, %s waiting for a lock',
    count(*) FILTER (WHERE wait_event = 'PgSleep'),
    count(*) FILTER (WHERE state = 'idle in transaction'
                       AND backend_xid IS NOT NULL),
    count(*) FILTER (WHERE wait_event_type = 'Lock'))
  FROM pg_catalog.pg_stat_activity")
echo "setup: $(( $(date +%s) - t0 )) s ($n sessions held: ${mix//$'\n'/};" \
     "$pgss pg_stat_statements entries)"

cat > "$out/a.sql" <<'SQL'
SELECT public.health_report();
SQL
cp "$out/a.sql" "$out/a1.sql"

# B1: what an operator runs without the extension for the same checks, one
# statement straight from the statistics views: connections, slow
# statements and long transactions, lock waits with their blockers, dead
# tuples and vacuum, xmin horizon, wraparound, the slowest statements of
# pg_stat_statements, standbys and slots, and the archiver.
cat > "$out/b1.sql" <<'SQL'
SELECT json_build_object(
 'connections', (SELECT json_build_object(
      'used', count(*) FILTER (WHERE backend_type = 'client backend'),
      'active', count(*) FILTER (WHERE state = 'active'),
      'idle_in_transaction',
          count(*) FILTER (WHERE state = 'idle in transaction'),
      'waiting', count(*) FILTER (WHERE wait_event_type = 'Lock'),
      'longest_query_ms', max(extract(epoch FROM now() - query_start) * 1000)
          FILTER (WHERE state = 'active' AND backend_type = 'client backend'),
      'longest_xact_ms', max(extract(epoch FROM now() - xact_start) * 1000)
          FILTER (WHERE backend_type = 'client backend'),
      'long_xacts', count(*) FILTER (WHERE now() - xact_start > '1 min'),
      'oldest_xmin_age', max(age(backend_xmin)),
      'max', current_setting('max_connections')::int
              - current_setting('superuser_reserved_connections')::int)
     FROM pg_catalog.pg_stat_activity),
 'lock_waits', (SELECT json_agg(w) FROM (
      SELECT pid, now() - state_change AS waited, wait_event,
             pg_catalog.pg_blocking_pids(pid) AS blockers
        FROM pg_catalog.pg_stat_activity
       WHERE wait_event_type = 'Lock'
       ORDER BY state_change LIMIT 5) w),
 'dead_tuples', (SELECT json_agg(json_build_object(
      'table', schemaname || '.' || relname,
      'dead', n_dead_tup, 'live', n_live_tup,
      'dead_pct', round(100.0 * n_dead_tup
                        / greatest(n_live_tup + n_dead_tup, 1), 1),
      'last_vacuum', greatest(last_vacuum, last_autovacuum)))
     FROM pg_catalog.pg_stat_user_tables
    WHERE n_dead_tup >= 1000
      AND n_dead_tup > 0.1 * (n_live_tup + n_dead_tup)),
 'wraparound', (SELECT json_build_object(
      'xid_age', max(age(datfrozenxid)),
      'mxid_age', max(mxid_age(datminmxid)))
     FROM pg_catalog.pg_database),
 'statements', (SELECT json_agg(s) FROM (
      SELECT queryid, calls, mean_exec_time, total_exec_time
        FROM public.pg_stat_statements
       ORDER BY mean_exec_time DESC LIMIT 5) s),
 'replication', (SELECT json_agg(json_build_object(
      'name', application_name, 'state', state, 'replay_lag', replay_lag))
     FROM pg_catalog.pg_stat_replication),
 'slots', (SELECT json_agg(json_build_object(
      'slot', slot_name, 'active', active, 'wal_status', wal_status,
      'retained', pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
                                             restart_lsn)))
     FROM pg_catalog.pg_replication_slots),
 'archiver', (SELECT json_build_object(
      'failed_count', failed_count, 'last_failed_time', last_failed_time,
      'last_archived_time', last_archived_time,
      'ready', (SELECT count(*)
                  FROM pg_catalog.pg_ls_archive_statusdir()
                 WHERE name LIKE '%.ready'))
     FROM pg_catalog.pg_stat_archiver));
SQL

# B2: check_postgres 2.25.0 (bucardo/check_postgres, BSD-2-Clause; the
# Debian package check-postgres 2.25.0-5, /usr/bin/check_postgres): the
# SQL text its actions send to a PostgreSQL 10+ server, with its default
# options, one statement per action, in this order: backends,
# txn_wraparound, txn_time, txn_idle, query_time, locks, last_vacuum,
# last_autovacuum, replication_slots, archive_ready.  check_postgres has no
# dead-tuple action: its "bloat" estimates wasted space from pg_stats (a
# different, heavier measure) and is left out; last_vacuum and
# last_autovacuum are what it runs to watch vacuum.  hot_standby_delay
# needs a standby and is left out too.
cat > "$out/b2.sql" <<'SQL'
SELECT COUNT(datid) AS current,
  (SELECT setting AS mc FROM pg_settings WHERE name = 'max_connections') AS mc,
  d.datname
FROM pg_database d
LEFT JOIN pg_stat_activity s ON (s.datid = d.oid)
GROUP BY 2,3
ORDER BY datname;
SELECT datname, age(datfrozenxid) AS age FROM pg_database WHERE datallowconn ORDER BY 1, 2;
SELECT datname, datid, pid AS pid, usename, client_addr, xact_start, query AS query, state AS state, CASE WHEN client_port < 0 THEN 0 ELSE client_port END AS client_port, COALESCE(ROUND(EXTRACT(epoch FROM now()-xact_start)),0) AS seconds FROM pg_stat_activity WHERE backend_type = 'client backend' AND (xact_start IS NOT NULL) ORDER BY xact_start, state_change, pid DESC;
SELECT datname, datid, pid AS pid, usename, client_addr, xact_start, query AS query, state AS state, CASE WHEN client_port < 0 THEN 0 ELSE client_port END AS client_port, COALESCE(ROUND(EXTRACT(epoch FROM now()-state_change)),0) AS seconds FROM pg_stat_activity WHERE backend_type = 'client backend' AND ((state = 'idle in transaction' OR state IS NULL)) ORDER BY xact_start, state_change, pid DESC;
SELECT datname, datid, pid AS pid, usename, client_addr, query AS query, state AS state, CASE WHEN client_port < 0 THEN 0 ELSE client_port END AS client_port, COALESCE(ROUND(EXTRACT(epoch FROM now()-state_change)),0) AS seconds FROM pg_stat_activity WHERE backend_type = 'client backend' AND (state_change IS NOT NULL AND (state NOT LIKE 'idle%' OR state IS NULL)) ORDER BY state_change, pid DESC;
SELECT granted, mode, datname FROM pg_locks l RIGHT JOIN pg_database d ON (d.oid=l.database) WHERE d.datallowconn;
SELECT current_database() AS datname, nspname AS sname, relname AS tname,
  CASE WHEN v IS NULL THEN -1 ELSE round(extract(epoch FROM now()-v)) END AS ltime,
  CASE WHEN v IS NULL THEN '?' ELSE TO_CHAR(v, 'HH24:MI FMMonth DD, YYYY') END AS ptime
FROM (SELECT nspname, relname, GREATEST(pg_stat_get_last_vacuum_time(c.oid), pg_stat_get_last_autovacuum_time(c.oid)) AS v
      FROM pg_class c, pg_namespace n
      WHERE relkind = 'r'
      AND n.oid = c.relnamespace
      AND n.nspname <> 'information_schema'
      ORDER BY 3) AS foo;
SELECT current_database() AS datname, nspname AS sname, relname AS tname,
  CASE WHEN v IS NULL THEN -1 ELSE round(extract(epoch FROM now()-v)) END AS ltime,
  CASE WHEN v IS NULL THEN '?' ELSE TO_CHAR(v, 'HH24:MI FMMonth DD, YYYY') END AS ptime
FROM (SELECT nspname, relname, pg_stat_get_last_autovacuum_time(c.oid) AS v
      FROM pg_class c, pg_namespace n
      WHERE relkind = 'r'
      AND n.oid = c.relnamespace
      AND n.nspname <> 'information_schema'
      ORDER BY 3) AS foo;
WITH slots AS (SELECT slot_name,
    slot_type,
    coalesce(restart_lsn, '0/0'::pg_lsn) AS slot_lsn,
    coalesce(pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), pg_current_wal_lsn()), restart_lsn),0) AS delta,
    active
FROM pg_replication_slots)
SELECT *, pg_size_pretty(delta) AS delta_pretty FROM slots;
SELECT count(*) AS count FROM pg_ls_waldir() WHERE name ~ E'^[0-9A-F]{24}.ready$';
SQL

# B3: pghero 4.0.1 (ankane/pghero, MIT, lib/pghero/methods/*.rb): the SQL
# its dashboard's checks send, binds filled with its defaults
# (long_running_query_sec 60, query_stats limit 100): connections.rb
# total_connections and connection_states, queries.rb long_running_queries
# and blocked_queries, maintenance.rb transaction_id_danger,
# autovacuum_danger (SHOW, then transaction_id_danger) and maintenance_info
# (its vacuum and dead-row view), query_stats.rb current_query_stats (what
# slow_queries filters), replication.rb replication_lag and
# replication_slots.
cat > "$out/b3.sql" <<'SQL'
SELECT COUNT(*) FROM pg_stat_activity;
SELECT
  state,
  COUNT(*) AS connections
FROM
  pg_stat_activity
GROUP BY
  1
ORDER BY
  2 DESC, 1;
SELECT
  pid,
  state,
  application_name AS source,
  age(NOW(), COALESCE(query_start, xact_start)) AS duration,
  wait_event IS NOT NULL AS waiting,
  query,
  COALESCE(query_start, xact_start) AS started_at,
  EXTRACT(EPOCH FROM NOW() - COALESCE(query_start, xact_start)) * 1000.0 AS duration_ms,
  usename AS user,
  backend_type
FROM
  pg_stat_activity
WHERE
  state <> 'idle'
  AND pid <> pg_backend_pid()
  AND datname = current_database()
  AND NOW() - COALESCE(query_start, xact_start) > interval '60 seconds'
  AND query <> '<insufficient privilege>'
ORDER BY
  COALESCE(query_start, xact_start) DESC;
SELECT
  COALESCE(blockingl.relation::regclass::text,blockingl.locktype) as locked_item,
  blockeda.pid AS blocked_pid,
  blockeda.usename AS blocked_user,
  blockeda.query as blocked_query,
  age(now(), blockeda.query_start) AS blocked_duration,
  blockedl.mode as blocked_mode,
  blockinga.pid AS blocking_pid,
  blockinga.usename AS blocking_user,
  blockinga.state AS state_of_blocking_process,
  blockinga.query AS current_or_recent_query_in_blocking_process,
  age(now(), blockinga.query_start) AS blocking_duration,
  blockingl.mode as blocking_mode
FROM
  pg_catalog.pg_locks blockedl
LEFT JOIN
  pg_stat_activity blockeda ON blockedl.pid = blockeda.pid
LEFT JOIN
  pg_catalog.pg_locks blockingl ON blockedl.pid != blockingl.pid AND (
    blockingl.transactionid = blockedl.transactionid
    OR (blockingl.relation = blockedl.relation AND blockingl.locktype = blockedl.locktype)
  )
LEFT JOIN
  pg_stat_activity blockinga ON blockingl.pid = blockinga.pid AND blockinga.datid = blockeda.datid
WHERE
  NOT blockedl.granted
  AND blockeda.query <> '<insufficient privilege>'
  AND blockeda.datname = current_database()
ORDER BY
  blocked_duration DESC;
SELECT
  n.nspname AS schema,
  c.relname AS table,
  2146483648 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid)) AS transactions_left
FROM
  pg_class c
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN
  pg_class t ON c.reltoastrelid = t.oid
WHERE
  c.relkind = 'r'
  AND (2146483648 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid))) < 10000000
ORDER BY
 3, 1, 2;
SHOW autovacuum_freeze_max_age;
SELECT
  n.nspname AS schema,
  c.relname AS table,
  200000000 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid)) AS transactions_left
FROM
  pg_class c
INNER JOIN
  pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN
  pg_class t ON c.reltoastrelid = t.oid
WHERE
  c.relkind = 'r'
  AND (200000000 - GREATEST(AGE(c.relfrozenxid), AGE(t.relfrozenxid))) < 2000000
ORDER BY
 3, 1, 2;
SELECT
  schemaname AS schema,
  relname AS table,
  last_vacuum,
  last_autovacuum,
  last_analyze,
  last_autoanalyze,
  n_dead_tup AS dead_rows,
  n_live_tup AS live_rows
FROM
  pg_stat_user_tables
ORDER BY
  1, 2;
WITH query_stats AS (
  SELECT
    LEFT(query, 10000) AS query,
    queryid AS query_hash,
    rolname AS user,
    total_plan_time + total_exec_time AS total_time,
    calls
  FROM
    pg_stat_statements
  INNER JOIN
    pg_database ON pg_database.oid = pg_stat_statements.dbid
  INNER JOIN
    pg_roles ON pg_roles.oid = pg_stat_statements.userid
  WHERE
    calls > 0 AND
    pg_database.datname = current_database()
)
(
  SELECT
    query,
    query_hash,
    query_stats.user,
    total_time,
    calls
  FROM
    query_stats
  ORDER BY
    "total_time" DESC
  LIMIT 100
) UNION ALL (
  SELECT NULL, NULL, NULL, SUM(total_time), NULL FROM query_stats
);
SELECT
  CASE
    WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT (EPOCH FROM NOW() - pg_last_xact_replay_timestamp())
  END
AS replication_lag;
SELECT
  slot_name,
  database,
  active
FROM pg_replication_slots;
SQL

# warm each once; any error stops the benchmark
for q in a b1 b2 b3; do psql_ -f "$out/$q.sql" > /dev/null; done

# run NAME ROUND [pgbench options]: CALLS calls of NAME.sql, logged
run() {
    local name=$1 round=$2
    shift 2
    (cd "$out" && "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres \
        -f "$name.sql" -c 1 -l --log-prefix="log-$name-$round" "$@" \
        postgres > "$out/pgbench-$name-$round.log" 2>&1) \
        || { cat "$out/pgbench-$name-$round.log" >&2; exit 1; }
}

for r in $(seq 1 "$ROUNDS"); do
    run a "$r" -t "$CALLS"
    run b1 "$r" -t "$CALLS"
    run b2 "$r" -t "$CALLS"
    run b3 "$r" -t "$CALLS"
    run a1 "$r" -t 1 -C
done

median() {
    cat "$out"/log-"$1"-* | awk '{print $3}' | sort -n \
        | awk '{ v[NR] = $1 }
               END { if (NR % 2) print v[(NR + 1) / 2];
                     else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

a=$(median a)
a1=$(median a1)
b1=$(median b1)
b2=$(median b2)
b3=$(median b3)

# what the report saw, so the figures are known to cover the full work
seen=$(psql_ -c "SELECT format('report saw: %s client backends (%s active, %s
 idle in transaction, %s waiting for a lock), %s dead-tuple tables, %s
 pg_stat_statements entries judged, statement_latency %s, archiver %s,
 slots %s, replication %s; report duration_ms %s',
    r -> 'connections' ->> 'used', r -> 'connections' ->> 'active',
    r -> 'connections' ->> 'idle_in_transaction',
    r -> 'connections' ->> 'waiting',
    r -> 'dead_tuples' ->> 'count',
    r -> 'statements' ->> 'judged',
    r -> 'statement_latency' ->> 'status', r -> 'archiver' ->> 'status',
    r -> 'replication_slots' ->> 'status', r -> 'replication' ->> 'status',
    d)
  FROM (SELECT h -> 'checks' AS r, h ->> 'duration_ms' AS d
          FROM public.health_report() h) s")
plain=$(psql_ -c "SELECT format('%s dead-tuple tables, %s tables, %s
 pg_stat_statements entries',
    (SELECT count(*) FROM pg_catalog.pg_stat_user_tables
      WHERE n_dead_tup >= 1000
        AND n_dead_tup > 0.1 * (n_live_tup + n_dead_tup)),
    (SELECT count(*) FROM pg_catalog.pg_stat_user_tables),
    (SELECT count(*) FROM public.pg_stat_statements))")
echo "pg: ${seen//$'\n'/}" | tee "$out/seen.txt"
echo "pg: plain SQL sees ${plain//$'\n'/}" | tee -a "$out/seen.txt"

awk -v a="$a" -v a1="$a1" -v b1="$b1" -v b2="$b2" -v b3="$b3" \
    -v n=$((ROUNDS * CALLS)) -v t="$TABLES" -v s="$SESSIONS" \
    -v st="$STATEMENTS" -v r="$ROUNDS" 'BEGIN {
    printf "pg: %d tables, %d sessions, %d statements, %d calls each, interleaved\n", t, s, st, n
    printf "pg: A  health_report() warm         median %9.3f ms (%s 10 ms)\n", a / 1000, a < 10000 ? "under" : "NOT under"
    printf "pg: A1 health_report() new conn.   median %9.3f ms (%d calls; first call of a new backend, connecting not counted)\n", a1 / 1000, r
    printf "pg: B1 operator plain SQL          median %9.3f ms\n", b1 / 1000
    printf "pg: B2 check_postgres 2.25.0 SQL   median %9.3f ms\n", b2 / 1000
    printf "pg: B3 pghero 4.0.1 SQL            median %9.3f ms\n", b3 / 1000
    printf "pg: ratio A/B1 %.3f  A/B2 %.3f  A/B3 %.3f (below 1: A leads)\n", a / b1, a / b2, a / b3
}' | tee "$out/result.txt"
