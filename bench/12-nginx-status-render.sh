#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (c): time to render the status of 1,000 server zones that
# all have traffic, ours against nginx-module-vts in the same run.
#
# Two nginx instances run side by side with BENCH_RENDER_WORKERS workers
# (2): one loads the module under test (HEALTH_MODULE), one vts (built from
# its public source by bench_vts_module, or skipped with the reason).  Each
# has the same 1,000 server blocks on one port (distinct server_name, each
# "return 200"); ours counts each in a health_zone of its own, vts counts
# each as a server zone.  Every zone gets 3 requests.  Then the four
# answers (our JSON, vts JSON, our Prometheus, vts Prometheus) are fetched
# in turn, BENCH_RENDER_FETCHES times each, over keep-alive: the median and
# 95th percentile of the round trip on loopback (render plus transfer), the
# size, and the ratios ours/vts of the medians are printed.  The same is
# done with BENCH_RENDER_BIG_ZONES (10,000) zones, one request each, to
# state the cost at that scale, vts included when it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ZONES=${BENCH_RENDER_ZONES:-1000}
BIG=${BENCH_RENDER_BIG_ZONES:-10000}
FETCHES=${BENCH_RENDER_FETCHES:-50}
BIG_FETCHES=${BENCH_RENDER_BIG_FETCHES:-10}
WORKERS=${BENCH_RENDER_WORKERS:-2}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-render
rm -rf "$out"
mkdir -p "$out"
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

vts=$(bench_vts_module) || { echo "vts: $vts"; vts=; }

# shellcheck disable=SC2154
trap 'for d in "$out"/*/; do bench_stop_nginx "$d" 2>/dev/null || true; done' EXIT

# start KIND ZONES: an nginx of KIND (ours|vts) with ZONES zones; prints its port
start() {
    local kind=$1 zones=$2 dir=$out/$1-$2 port module size
    mkdir -p "$dir/logs"
    port=$(bench_free_port)
    module=$MODULE
    [ "$kind" = vts ] && module=$vts
    # vts's zone: room for every node, with a wide margin (bench/15 finds
    # the smallest size that holds 1,000)
    size=$(( zones / 1000 * 16 + 16 ))m
    {
        bench_nginx_head "$module" "$WORKERS" "$dir"
        if [ "$kind" = ours ]; then
            cat <<EOC
    server { listen 127.0.0.1:$port default_server; server_name status.bench;
        location /health { health_status; } }
EOC
        else
            cat <<EOC
    vhost_traffic_status_zone shared:vhost_traffic_status:$size;
    server { listen 127.0.0.1:$port default_server; server_name status.bench;
        vhost_traffic_status off;
        location /vts { vhost_traffic_status_display;
                        vhost_traffic_status_display_format json; } }
EOC
        fi
        bench_zone_servers "$kind" "$port" "$zones"
        echo "}"
    } > "$dir/nginx.conf"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    bench_wait_port "$port"
    echo "$port"
}

# zones_listed KIND URL: how many zones the JSON lists (ours: "zones"; vts:
# "serverZones" without its "*" total)
zones_listed() {
    curl -s "$2" | KIND=$1 perl -MJSON::PP -0777 -ne '
        my $j = decode_json($_);
        my $z = $ENV{KIND} eq "ours" ? $j->{zones} : $j->{serverZones};
        print scalar grep { $_ ne "*" } keys %$z'
}

# bench ZONES REQUESTS FETCHES
bench() {
    local zones=$1 n=$2 fetches=$3 po pv t
    local -a targets
    po=$(start ours "$zones")
    bench_zone_traffic "$po" "$zones" "$n"
    t=$(zones_listed ours "http://127.0.0.1:$po/health")
    [ "$t" = "$zones" ] || { echo "ours lists $t zones of $zones" >&2; exit 1; }
    targets=("ours-json=http://127.0.0.1:$po/health?format=json")
    if [ -n "$vts" ]; then
        pv=$(start vts "$zones")
        bench_zone_traffic "$pv" "$zones" "$n"
        t=$(zones_listed vts "http://127.0.0.1:$pv/vts")
        [ "$t" = "$zones" ] || { echo "vts lists $t zones of $zones" >&2; exit 1; }
        targets+=("vts-json=http://127.0.0.1:$pv/vts/format/json")
    fi
    targets+=("ours-prometheus=http://127.0.0.1:$po/health?format=prometheus")
    [ -n "$vts" ] && targets+=("vts-prometheus=http://127.0.0.1:$pv/vts/format/prometheus")
    targets+=("ours-lb=http://127.0.0.1:$po/health?format=lb")

    bench_fetch_interleaved "$fetches" "${targets[@]}" > "$out/fetch-$zones.txt"
    bench_stop_nginx "$out/ours-$zones"
    [ -n "$vts" ] && bench_stop_nginx "$out/vts-$zones"

    perl -e '
        my ($zones, $workers, $file) = @ARGV;
        open my $f, "<", $file or die;
        my (%r, @l);
        while (<$f>) { my ($l, @v) = split; $r{$l} = \@v; push @l, $l }
        for my $l (@l) {
            my ($who, $fmt) = split /-/, $l;
            printf "render %d zones, %d workers: %-4s %-10s median %8.2f ms, p95 %8.2f ms, %9d bytes\n",
                $zones, $workers, $who, $fmt, @{$r{$l}};
        }
        for my $fmt (qw(json prometheus)) {
            my ($o, $v) = ($r{"ours-$fmt"}, $r{"vts-$fmt"});
            next unless $o && $v;
            printf "render %d zones, %d workers: %-10s ours/vts median %.2f, p95 %.2f, bytes %.2f\n",
                $zones, $workers, $fmt, $o->[0] / $v->[0], $o->[1] / $v->[1],
                $o->[2] / $v->[2];
        }' "$zones" "$WORKERS" "$out/fetch-$zones.txt"
}

bench_require curl
{
    bench "$ZONES" 3 "$FETCHES"
    if [ "$BIG" -gt 0 ]; then bench "$BIG" 1 "$BIG_FETCHES"; fi
} | tee "$out/result.txt"
