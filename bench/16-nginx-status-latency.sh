#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (g): what a client fetching the full JSON status in a
# loop does to the latency of ordinary requests.  One nginx with the module
# (HEALTH_MODULE), BENCH_WORKERS (4) workers and 1,000 server blocks, each
# counted in a health_zone of its own and given 3 requests first.  wrk
# (one thread, BENCH_LAT_CONNECTIONS connections, BENCH_LAT_SECONDS
# seconds) sends ordinary requests to one of them ("return 200"), alone
# and then with a second client fetching /health (the JSON of every zone)
# over keep-alive as fast as it answers; BENCH_LAT_ROUNDS rounds,
# interleaved (alone, with, alone, with, ...).  Printed: wrk's p50 and p99
# per run, their medians, and the ratios with/without.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ZONES=${BENCH_LAT_ZONES:-1000}
WORKERS=${BENCH_WORKERS:-4}
ROUNDS=${BENCH_LAT_ROUNDS:-5}
SECS=${BENCH_LAT_SECONDS:-3}
CONNS=${BENCH_LAT_CONNECTIONS:-16}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-latency
rm -rf "$out"
mkdir -p "$out/logs"
bench_require wrk
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

loop=
trap '[ -n "$loop" ] && kill "$loop" 2>/dev/null; bench_stop_nginx "$out" 2>/dev/null || true' EXIT

port=$(bench_free_port)
{
    bench_nginx_head "$MODULE" "$WORKERS" "$out"
    cat <<EOC
    server { listen 127.0.0.1:$port default_server; server_name status.bench;
        location /health { health_status; } }
EOC
    bench_zone_servers ours "$port" "$ZONES"
    echo "}"
} > "$out/nginx.conf"
"$NGINX" -p "$out" -c "$out/nginx.conf" -e "$out/logs/error.log"
bench_wait_port "$port"
bench_zone_traffic "$port" "$ZONES" 3

# wrk_run NAME: prints "p50_ms p99_ms requests"
wrk_run() {
    wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -H "Host: z1.bench" \
        "http://127.0.0.1:$port/" > "$out/wrk.$1.txt"
    perl -ne '
        sub ms { my ($v, $u) = @_; $u eq "us" ? $v / 1000 : $u eq "s" ? $v * 1000 : $v }
        $p50 = ms($1, $2) if /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/;
        $p99 = ms($1, $2) if /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/;
        $n = $1 if /^\s*(\d+) requests in/;
        $bad = 1 if /Non-2xx|Socket errors/;
        END { die "wrk: errors or non-2xx answers\n" if $bad;
              printf "%.3f %.3f %d\n", $p50, $p99, $n }' "$out/wrk.$1.txt"
}

# status_loop FILE: fetch the JSON status until killed; the number of
# answers goes to FILE
status_loop() {
    perl -MHTTP::Tiny -e '
        my ($url, $file) = @ARGV;
        my $n = 0;
        $SIG{TERM} = sub { open my $f, ">", $file; print $f "$n\n"; exit 0 };
        my $ua = HTTP::Tiny->new(keep_alive => 1);
        while (1) {
            my $r = $ua->get($url);
            die "status: $r->{status}\n" unless $r->{status} =~ /^(200|503)$/;
            $n++;
        }' "http://127.0.0.1:$port/health" "$1" &
    loop=$!
}

{
    for r in $(seq 1 "$ROUNDS"); do
        read -r p50 p99 n < <(wrk_run "alone.$r")
        echo "latency round $r, alone:        p50 $p50 ms, p99 $p99 ms, $n requests"
        echo "alone $p50 $p99" >> "$out/runs.txt"
        status_loop "$out/fetches.$r"
        read -r p50 p99 n < <(wrk_run "with.$r")
        kill "$loop"; wait "$loop" 2>/dev/null || true; loop=
        echo "latency round $r, with status: p50 $p50 ms, p99 $p99 ms, $n requests, $(cat "$out/fetches.$r") JSON answers"
        echo "with $p50 $p99" >> "$out/runs.txt"
    done
    perl -e '
        my ($zones, $workers, $file) = @ARGV;
        open my $f, "<", $file or die;
        my %v;
        while (<$f>) { my ($k, $a, $b) = split; push @{$v{$k}{p50}}, $a;
                       push @{$v{$k}{p99}}, $b }
        sub med { my @s = sort { $a <=> $b } @_; $s[$#s / 2] }
        my %m = map { my $k = $_; $k => { map { $_ => med(@{$v{$k}{$_}}) }
                                          qw(p50 p99) } } qw(alone with);
        printf "latency %d zones, %d workers, ordinary requests: alone p50 %.3f ms, p99 %.3f ms; with a JSON status loop p50 %.3f ms, p99 %.3f ms\n",
            $zones, $workers, $m{alone}{p50}, $m{alone}{p99}, $m{with}{p50}, $m{with}{p99};
        printf "latency with/without the status loop: p50 ratio %.2f, p99 ratio %.2f\n",
            $m{with}{p50} / $m{alone}{p50}, $m{with}{p99} / $m{alone}{p99}' \
        "$ZONES" "$WORKERS" "$out/runs.txt"
} | tee "$out/result.txt"
bench_stop_nginx "$out"
