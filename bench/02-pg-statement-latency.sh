#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# PostgreSQL benchmark: the cost of timing every statement (pg_health in
# shared_preload_libraries, the statement_latency check) against the same
# server without the library.  Two clusters of the same binaries run
# pgbench -S (select-only, prepared: the cheapest statement, so the hooks'
# share is at its largest) at the same time, one with the library
# preloaded and one without, the roles swapped every round; the servers
# share one CPU, so the one that spends more per statement does fewer.
# Printed: the median tps of each, and the median over pairs of rounds of
# the cost, 1 - sqrt(ratio1 * ratio2), in which a difference between the
# clusters themselves cancels.  The issue's bar: at most 2% fewer.
#
# The instructions a statement costs are counted too: cluster x's server
# in single-user mode under callgrind, with and without
# shared_preload_libraries = pg_health, running 1,000 and then 4,000
# pgbench -S statements; the difference of the two runs divided by 3,000
# is the cost of one statement, startup taken out.  (Single-user mode has
# no client round trip, so the share is larger than over TCP.)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${BENCH_PG_LAT_ROUNDS:-16}
SECONDS_PER_ROUND=${BENCH_PG_LAT_SECONDS:-8}
CLIENTS=${BENCH_PG_LAT_CLIENTS:-4}
# the "with" side's shared_preload_libraries; BENCH_PG_LAT_WITH= (empty)
# loads it on neither side, which measures the method's own noise
WITH_LIB=${BENCH_PG_LAT_WITH-pg_health}

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

# Two clusters of the same binaries, x and y
declare -A port
for c in x y; do
    port[$c]=$(bench_free_port)
    as_pg mkdir -p "$out/$c"
    as_pg "$bindir/initdb" -D "$out/$c/data" -U postgres -A trust --no-sync \
        -E UTF8 --locale=C > "$out/$c/initdb.log"
    as_pg tee -a "$out/$c/data/postgresql.conf" > /dev/null <<CONF
listen_addresses = '127.0.0.1'
port = ${port[$c]}
unix_socket_directories = '$out/$c'
fsync = off
synchronous_commit = off
autovacuum = off
CONF
done

# With two or more CPUs both servers (each postmaster and every backend it
# forks) run on CPU 0 and both pgbench on CPU 1: the servers share one CPU
# at the same moments, so whatever the machine does to that CPU (another
# job, a slower clock) falls on both alike, and the one that spends more
# per statement does fewer.
pin_server=() pin_client=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi

# pg_start CLUSTER PRELOAD
pg_start() {
    as_pg "${pin_server[@]}" "$bindir/pg_ctl" -D "$out/$1/data" \
        -l "$out/$1/postgres.log" -w \
        -o "-c shared_preload_libraries=$2" start > /dev/null
}
pg_stop() {
    as_pg "$bindir/pg_ctl" -D "$out/$1/data" -m fast -w stop > /dev/null
}
cleanup() {
    for c in x y; do
        as_pg "$bindir/pg_ctl" -D "$out/$c/data" -m immediate stop \
            > /dev/null 2>&1 || true
    done
}
trap cleanup EXIT

for c in x y; do
    pg_start $c pg_health
    "$bindir/pgbench" -h 127.0.0.1 -p "${port[$c]}" -U postgres -i -s 1 -q \
        postgres > "$out/$c/init.log" 2>&1
    "$bindir/psql" -X -q -h 127.0.0.1 -p "${port[$c]}" -U postgres \
        -c 'CREATE EXTENSION pg_health' postgres
    n=$("$bindir/psql" -X -A -t -h 127.0.0.1 -p "${port[$c]}" -U postgres \
        -c "SELECT health_report()->'checks'->'statement_latency'->>'statements'" \
        postgres)
    [ "$n" -gt 0 ] || { echo "pg_health does not time statements" >&2; exit 1; }
    pg_stop $c
done

# pgb CLUSTER SECONDS: select-only, prepared
pgb() {
    "${pin_client[@]}" "$bindir/pgbench" -h 127.0.0.1 -p "${port[$1]}" \
        -U postgres -n -S -M prepared -c "$CLIENTS" -j 1 -T "$2" postgres \
        2> /dev/null
}

# Each round: one cluster with the library, the other without, both run
# at once (a short run first to warm the caches).  The roles swap every
# round, so a difference between the two clusters themselves (measured
# with neither loaded: up to 0.7% on the development machine) cancels in
# each pair of rounds: the pair's cost is 1 - sqrt(ratio1 * ratio2).
: > "$out/with.tps"
: > "$out/without.tps"
: > "$out/pair.cost"
prev=''
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then w=x o=y; else w=y o=x; fi
    pg_start $w "$WITH_LIB"
    pg_start $o ''
    pgb $w 2 > /dev/null & pgb $o 2 > /dev/null & wait
    pgb $w "$SECONDS_PER_ROUND" > "$out/round.with" &
    pgb $o "$SECONDS_PER_ROUND" > "$out/round.without" &
    wait
    a=$(awk '/^tps = / { print $3 }' "$out/round.with")
    b=$(awk '/^tps = / { print $3 }' "$out/round.without")
    echo "$a" >> "$out/with.tps"
    echo "$b" >> "$out/without.tps"
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.6f", a / b }')
    if [ -z "$prev" ]; then
        prev=$ratio
    else
        awk -v p="$prev" -v q="$ratio" 'BEGIN { printf "%.6f\n", 1 - sqrt(p * q) }' \
            >> "$out/pair.cost"
        prev=''
    fi
    pg_stop $w
    pg_stop $o
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
            "$bindir/postgres" --single -D "$out/x/data" \
            -c shared_preload_libraries="$pre" -c log_min_messages=error \
            postgres < "$out/q$n.sql" > /dev/null 2> "$out/vg.$pre.$n.log"
        r=$(grep -o 'Collected : [0-9]*' "$out/vg.$pre.$n.log" | awk '{ print $3 }')
        ir+=("$r")
    done
    echo $(( (ir[1] - ir[0]) / 3000 ))
}

if [ "${BENCH_PG_LAT_CALLGRIND:-1}" != 0 ] && command -v valgrind > /dev/null; then
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
p=$(median "$out/pair.cost")
what='pg_health preloaded'
[ -z "$WITH_LIB" ] && what='(loaded on neither)'
awk -v a="$a" -v b="$b" -v p="$p" -v what="$what" 'BEGIN {
    printf "pg: pgbench -S, %-24s median %10.1f tps\n", what, a
    printf "pg: pgbench -S, %-24s median %10.1f tps\n", "without", b
    printf "pg: statement timing costs %.2f%% of tps, median of the pairs of rounds (bar: 2%%)\n", p * 100
}'
echo "pairs: $(awk '{ printf "%.2f%% ", $1 * 100 }' "$out/pair.cost")"
