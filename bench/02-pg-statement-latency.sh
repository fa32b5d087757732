#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# PostgreSQL benchmark: the cost of timing every statement (pg_health in
# shared_preload_libraries, the statement_latency check) against the same
# server without the library.  Two clusters of the same binaries, one with
# and one without, take turns running pgbench -S (select-only, prepared:
# the cheapest statement, so the hooks' share is at its largest) for
# ROUNDS rounds each; the median transactions per second of each and their
# ratio are printed.  The issue's bar: at most 2% fewer.
#
# On a shared machine tps move by more than the bar from round to round,
# so the instructions a statement costs are counted too: the "without"
# cluster's server in single-user mode under callgrind, with and without
# shared_preload_libraries = pg_health, running 1,000 and then 4,000
# pgbench -S statements; the difference of the two runs divided by 3,000
# is the cost of one statement, startup taken out.  (Single-user mode has
# no client round trip, so the share is larger than over TCP.)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${BENCH_PG_LAT_ROUNDS:-7}
SECONDS_PER_ROUND=${BENCH_PG_LAT_SECONDS:-10}
CLIENTS=${BENCH_PG_LAT_CLIENTS:-2}

bindir=$(pg_config --bindir)
out=$PWD/bench/out/pg-latency
rm -rf "$out"
mkdir -p "$out"
chmod 755 "$PWD/bench/out" "$out"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$out"; then
    rm -rf "$out"
    out=$(mktemp -d /tmp/nginx-health-bench-pglat.XXXXXX)
    chmod 755 "$out"
fi
[ "$(id -u)" = 0 ] && chown postgres:postgres "$out"

as_pg() {
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

declare -A port
for c in with without; do
    port[$c]=$(bench_free_port)
    as_pg mkdir -p "$out/$c"
    as_pg "$bindir/initdb" -D "$out/$c/data" -U postgres -A trust --no-sync \
        -E UTF8 --locale=C > "$out/$c/initdb.log"
    preload=''
    [ $c = with ] && preload=pg_health
    as_pg tee -a "$out/$c/data/postgresql.conf" > /dev/null <<CONF
listen_addresses = '127.0.0.1'
port = ${port[$c]}
unix_socket_directories = '$out/$c'
fsync = off
synchronous_commit = off
autovacuum = off
shared_preload_libraries = '$preload'
CONF
done

cleanup() {
    for c in with without; do
        as_pg "$bindir/pg_ctl" -D "$out/$c/data" -m immediate stop \
            > /dev/null 2>&1 || true
    done
}
trap cleanup EXIT

for c in with without; do
    as_pg "$bindir/pg_ctl" -D "$out/$c/data" -l "$out/$c/postgres.log" -w start \
        > /dev/null
    "$bindir/pgbench" -h 127.0.0.1 -p "${port[$c]}" -U postgres -i -s 1 -q \
        postgres > "$out/$c/init.log" 2>&1
done

# the library is loaded and timing in "with" only
"$bindir/psql" -X -q -h 127.0.0.1 -p "${port[with]}" -U postgres \
    -c 'CREATE EXTENSION pg_health' postgres
"$bindir/psql" -X -q -h 127.0.0.1 -p "${port[without]}" -U postgres \
    -c 'CREATE EXTENSION pg_health' postgres
n=$("$bindir/psql" -X -A -t -h 127.0.0.1 -p "${port[with]}" -U postgres \
    -c "SELECT health_report()->'checks'->'statement_latency'->>'statements'" \
    postgres)
[ "$n" -gt 0 ] || { echo "pg_health does not time statements" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
    for c in with without; do
        "$bindir/pgbench" -h 127.0.0.1 -p "${port[$c]}" -U postgres -n -S \
            -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_ROUND" \
            postgres 2> /dev/null \
            | awk '/^tps = / { print $3 }' >> "$out/$c.tps"
    done
done

median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

a=$(median "$out/with.tps")
b=$(median "$out/without.tps")
ir_per_statement() {
    local pre=$1 n r ir=()
    for n in 1000 4000; do
        perl -e 'for (1..$ARGV[0]) { printf "SELECT abalance FROM pgbench_accounts WHERE aid = %d;\n", 1 + ($_ * 7919) % 100000 }' \
            "$n" > "$out/q$n.sql"
        as_pg valgrind --tool=callgrind --callgrind-out-file="$out/cg.$pre.$n" \
            "$bindir/postgres" --single -D "$out/without/data" \
            -c shared_preload_libraries="$pre" -c log_min_messages=error \
            postgres < "$out/q$n.sql" > /dev/null 2> "$out/vg.$pre.$n.log"
        r=$(grep -o 'Collected : [0-9]*' "$out/vg.$pre.$n.log" | awk '{ print $3 }')
        ir+=("$r")
    done
    echo $(( (ir[1] - ir[0]) / 3000 ))
}

if command -v valgrind > /dev/null; then
    as_pg "$bindir/pg_ctl" -D "$out/without/data" -m fast -w stop > /dev/null
    chmod 755 "$out"
    i0=$(ir_per_statement '')
    i1=$(ir_per_statement pg_health)
    awk -v a="$i1" -v b="$i0" 'BEGIN {
        printf "pg: instructions a statement, pg_health preloaded  %8d\n", a
        printf "pg: instructions a statement, without               %8d\n", b
        printf "pg: statement timing costs %.2f%% of the instructions (bar: 2%%)\n", (a / b - 1) * 100
    }'
fi

echo "with:    $(tr '\n' ' ' < "$out/with.tps")"
echo "without: $(tr '\n' ' ' < "$out/without.tps")"
awk -v a="$a" -v b="$b" 'BEGIN {
    printf "pg: pgbench -S, pg_health preloaded      median %10.1f tps\n", a
    printf "pg: pgbench -S, without                  median %10.1f tps\n", b
    printf "pg: statement timing costs %.2f%% of tps (bar: 2%%)\n", (1 - a / b) * 100
}'
