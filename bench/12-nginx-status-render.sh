#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (c): time to render the status with 1,000 zones, every
# one of them with traffic in its window, with 2 workers (shards).  Each
# format is fetched repeatedly over keep-alive; the median and 95th
# percentile of the round trip on loopback (render plus transfer) are
# printed with the size of the answer.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ZONES=${BENCH_RENDER_ZONES:-1000}
FETCHES=${BENCH_RENDER_FETCHES:-50}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-render
rm -rf "$out"
mkdir -p "$out/logs"
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

port=$(bench_free_port)

{
    bench_nginx_head "$MODULE" 2 "$out"
    cat <<EOC
    server {
        listen 127.0.0.1:$port;
        location /health { health_status; }
EOC
    for i in $(seq 1 "$ZONES"); do
        echo "        location = /z$i { health_zone z$i; return 200; }"
    done
    echo "    }"
    echo "}"
} > "$out/nginx.conf"

"$NGINX" -p "$out" -c "$out/nginx.conf" -e "$out/logs/error.log"
trap 'kill -QUIT $(cat "$out/nginx.pid") 2>/dev/null || true' EXIT
sleep 0.5

perl -MHTTP::Tiny -MTime::HiRes=time -e '
    my ($port, $zones, $fetches) = @ARGV;
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my $base = "http://127.0.0.1:$port";
    for my $z (1 .. $zones) {
        $ua->get("$base/z$z") for 1 .. 3;
    }
    for my $fmt (qw(json prometheus lb)) {
        my (@t, $len);
        $ua->get("$base/health?format=$fmt") for 1 .. 3;    # warm up
        for (1 .. $fetches) {
            my $t0 = time;
            my $r = $ua->get("$base/health?format=$fmt");
            push @t, (time - $t0) * 1000;
            $len = length $r->{content};
            die "status $r->{status}\n" unless $r->{status} =~ /^(200|503)$/;
        }
        @t = sort { $a <=> $b } @t;
        printf "render %-10s %d zones: median %.2f ms, p95 %.2f ms, %d bytes\n",
            $fmt, $zones, $t[$#t / 2], $t[int(0.95 * $#t)], $len;
    }
' "$port" "$ZONES" "$FETCHES" | tee "$out/result.txt"
