#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (b): throughput A/B with wrk.  Two nginx instances, one
# worker each, serve "return 200" over keep-alive: stock, and with the
# module counting every request.  Runs are interleaved (A B A B ...) so
# drift hits both; the median of the per-round ratios is printed.  With
# two CPUs or more, nginx and wrk are pinned to different ones.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${BENCH_WRK_ROUNDS:-7}
SECS=${BENCH_WRK_SECONDS:-3}
CONNS=${BENCH_WRK_CONNECTIONS:-32}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-wrk
command -v wrk >/dev/null || { echo "wrk is missing (make deps)" >&2; exit 1; }
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }


pin_nginx='' pin_wrk=''
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_nginx='taskset -c 0'
    pin_wrk='taskset -c 1'
fi

declare -A port
start() {     # $1: stock|module
    local dir=$out/$1 module='' zone='' status=''
    rm -rf "$dir"; mkdir -p "$dir/logs"
    port[$1]=$(bench_free_port)
    if [ "$1" = module ]; then
        module=$MODULE
        zone="health_zone bench;"
        status="location /health { health_zone off; health_status; }"
    fi
    {
        bench_nginx_head "$module" 1 "$dir"
        cat <<EOC
    $zone
    server {
        listen 127.0.0.1:${port[$1]};
        location / { return 200 "ok\n"; }
        $status
    }
}
EOC
    } > "$dir/nginx.conf"
    # nginx on the first CPU, wrk on the second: less noise on small hosts
    $pin_nginx "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
}

stop() {
    local pid
    for v in stock module; do
        pid=$(cat "$out/$v/nginx.pid" 2>/dev/null || true)
        [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null || true
    done
}
trap stop EXIT

start stock
start module
sleep 0.5

rps() {
    $pin_wrk wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:${port[$1]}/" \
        | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}

rps stock >/dev/null; rps module >/dev/null          # warm up
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    a=$(rps stock)
    b=$(rps module)
    ratio=$(perl -e 'printf "%.4f", $ARGV[1] / $ARGV[0]' "$a" "$b")
    ratios+=("$ratio")
    printf 'round %d: stock %.0f req/s, module %.0f req/s, ratio %s\n' \
        "$r" "$a" "$b" "$ratio"
done

counted=$(curl -s "http://127.0.0.1:${port[module]}/health" \
          | perl -MJSON::PP -0ne 'print decode_json($_)->{zones}{bench}{requests}')
perl -e 'my @r = sort { $a <=> $b } @ARGV;
    printf "wrk: median throughput ratio module/stock %.4f (%+.2f%%) over " .
        "%d interleaved rounds\n", $r[$#r / 2], ($r[$#r / 2] - 1) * 100,
        scalar @r' "${ratios[@]}" | tee "$out/result.txt"
echo "wrk: the module counted $counted requests"
