#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark: instructions per proxied request, measured with
# callgrind on a single-process nginx (master_process off, daemon off)
# proxying over keep-alive connections to a backend nginx (a separate,
# uninstrumented process), with one keep-alive client (ab -k).  Stock
# nginx versus nginx with the module tracking the upstream group: the
# balancer wrapper (per-request peer data, the peer lookup, the health
# state read) and the per-peer statistics (histogram, classes, window).
# Each variant runs twice, with N1 and N2 requests; (Ir(N2) - Ir(N1)) /
# (N2 - N1) cancels start-up and shutdown.
#
# Two module variants: "module", a group without health_check (passive
# statistics and the wrapper only), and "checked", the same group with
# health_check and every per-request feature of it on (slow_start, observe
# of 5xx and timeouts, max_ejected): interval=1d, so the one check at
# start-up is the same in both runs and cancels.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N1=${BENCH_NGX_N1:-2000}
N2=${BENCH_NGX_N2:-12000}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-upstream-callgrind
rm -rf "$out"
mkdir -p "$out/logs" "$out/backend/logs"

bench_require valgrind ab
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }


port=$(bench_free_port)
bport=$(bench_free_port)
user=''
[ "$(id -u)" = 0 ] && user='user root;'

# the backend: stock nginx, one worker, answers from memory
cat > "$out/backend/nginx.conf" <<EOC
$user
worker_processes 1;
pid $out/backend/nginx.pid;
error_log $out/backend/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$bport;
        location / { return 200 "ok\n"; }
    }
}
EOC
"$NGINX" -p "$out/backend" -c "$out/backend/nginx.conf" \
    -e "$out/backend/logs/error.log"
trap 'kill -QUIT $(cat "$out/backend/nginx.pid") 2>/dev/null || true' EXIT

write_conf() {     # $1: stock|module|checked
    local load='' check=''
    if [ "$1" != stock ]; then
        load="load_module $MODULE;"
    fi
    if [ "$1" = checked ]; then
        check="health_check interval=1d timeout=1s slow_start=30s observe=5xx,timeout max_ejected=50%;"
    fi
    cat > "$out/$1.conf" <<EOC
$load
$user
master_process off;
daemon off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream app {
        server 127.0.0.1:$bport;
        keepalive 4;
        $check
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOC
}

# total instructions (Ir) of one nginx run serving $2 requests
measure() {     # $1: variant, $2: requests
    bench_callgrind_ir "$out" "$1" "$2" "$port"
}

declare -A per
for v in stock module checked; do
    write_conf $v
    a=$(measure $v "$N1")
    b=$(measure $v "$N2")
    per[$v]=$(( (b - a) / (N2 - N1) ))
    printf '%-7s Ir(%d)=%d Ir(%d)=%d -> %d instructions/proxied request\n' \
        "$v" "$N1" "$a" "$N2" "$b" "${per[$v]}"
done

# Loading a module shifts glibc's heap and moves malloc's cost by a few
# hundred instructions either way (see bench/10), so the module's own code
# is also counted directly: the self cost of its functions, again as the
# difference of the two runs.
own() {     # $1: callgrind file
    callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null \
        | perl -ne '$s += $1 =~ s/,//gr
                        if /^\s*([\d,]+) .*:(ngx_http_health_\w+|health_\w+)/;
                    END { print $s + 0 }'
}
own_a=$(own "$out/callgrind.module.$N1")
own_b=$(own "$out/callgrind.module.$N2")
own_per=$(( (own_b - own_a) / (N2 - N1) ))
own_a=$(own "$out/callgrind.checked.$N1")
own_b=$(own "$out/callgrind.checked.$N2")
own_chk=$(( (own_b - own_a) / (N2 - N1) ))

perl -e 'my ($s, $m, $o) = @ARGV;
    printf "callgrind upstream: stock %d, module with peer statistics and " .
        "balancer wrapper %d instructions/proxied request: ratio %.4f " .
        "(%+.2f%%, %+d instructions; goal <= +2%%)\n",
        $s, $m, $m / $s, ($m / $s - 1) * 100, $m - $s;
    printf "callgrind upstream: the module'"'"'s own functions run %d " .
        "instructions/proxied request (%.2f%% of stock)\n", $o, $o / $s * 100' \
    "${per[stock]}" "${per[module]}" "$own_per" | tee "$out/result.txt"

perl -e 'my ($s, $m, $o) = @ARGV;
    printf "callgrind upstream: stock %d, module with health_check " .
        "(slow_start, observe, max_ejected) %d instructions/proxied request: " .
        "ratio %.4f (%+.2f%%, %+d instructions; goal <= +2%%)\n",
        $s, $m, $m / $s, ($m / $s - 1) * 100, $m - $s;
    printf "callgrind upstream: with health_check the module'"'"'s own " .
        "functions run %d instructions/proxied request (%.2f%% of stock)\n",
        $o, $o / $s * 100' \
    "${per[stock]}" "${per[checked]}" "$own_chk" | tee -a "$out/result.txt"
