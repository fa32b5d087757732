#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (f): shared memory taken by the module with 1,000 zones
# and 4 upstream groups of 25 peers (100 peers, tracked passively: the
# peers need not exist and get no request) at 2 and at 64 workers
# (BENCH_MEM_WORKERS), every zone with traffic.
#
# How it is measured: nginx maps every shared zone (ngx_shm_alloc) as a
# shared anonymous mapping, which /proc/PID/maps of the master lists as
# "rw-s ... /dev/zero (deleted)" (or /SYSV... where nginx uses shmget).
# The same configuration is started once with the module and once on stock
# nginx without it (same servers, same upstreams, no health_* directive);
# the module's shared memory is the difference of the two sums of those
# mappings' sizes, whatever number of segments the module creates and
# whatever their names.  The resident figure is the sum over the master and
# every worker of those mappings' Pss (/proc/PID/smaps), the difference
# taken the same way: the RAM the segments really occupy after the traffic.
#
# The anchor: nginx-module-vts keeps one node per server zone in one zone
# shared by every worker, of a size the user sets.  The smallest size of
# the ladder 1m, 2m, 4m, ... at which its status still lists all 1,000
# server zones after the same traffic is printed next to ours.
#
# The traffic (3 requests a zone) has a deadline (BENCH_MEM_TRAFFIC_SECONDS,
# 30): a build whose workers stop answering is measured anyway, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ZONES=${BENCH_MEM_ZONES:-1000}
UPSTREAMS=${BENCH_MEM_UPSTREAMS:-4}
PEERS=${BENCH_MEM_PEERS:-25}
WORKERS_LIST=${BENCH_MEM_WORKERS:-2 64}
LIMIT_MB=${BENCH_MEM_LIMIT_MB:-64}
TRAFFIC_SECS=${BENCH_MEM_TRAFFIC_SECONDS:-30}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-memory
rm -rf "$out"
mkdir -p "$out"
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

bench_require curl
vts=$(bench_vts_module) || { echo "vts: $vts"; vts=; }

# shellcheck disable=SC2154
trap 'for d in "$out"/*/; do bench_stop_nginx "$d" 2>/dev/null || true; done' EXIT

# conf KIND WORKERS DIR PORT: KIND is ours, stock or vts:SIZE
conf() {
    local kind=$1 workers=$2 dir=$3 port=$4 module='' u p
    case $kind in
        ours) module=$MODULE ;;
        vts:*) module=$vts ;;
    esac
    bench_nginx_head "$module" "$workers" "$dir"
    case $kind in
        vts:*) echo "    vhost_traffic_status_zone shared:vhost_traffic_status:${kind#vts:};" ;;
    esac
    # peers on loopback addresses nothing listens on: passive statistics
    # only, no request is proxied
    for u in $(seq 1 "$UPSTREAMS"); do
        echo "    upstream up$u {"
        for p in $(seq 1 "$PEERS"); do
            echo "        server 127.0.$u.$p:9;"
        done
        echo "    }"
    done
    echo "    server { listen 127.0.0.1:$port default_server; server_name status.bench;"
    case $kind in
        ours) echo "        location /health { health_status; }" ;;
        vts:*) echo "        vhost_traffic_status off;"
               echo "        location /vts { vhost_traffic_status_display;"
               echo "            vhost_traffic_status_display_format json; }" ;;
    esac
    for u in $(seq 1 "$UPSTREAMS"); do
        echo "        location /up$u { proxy_pass http://up$u; }"
    done
    echo "    }"
    bench_zone_servers "${kind%%:*}" "$port" "$ZONES"
    echo "}"
}

# shm PID...: "mapped_bytes pss_kb" of the shared anonymous mappings: the
# size from the first process's maps, Pss summed over all of them
shm() {
    perl -e '
        my ($mapped, $pss) = (0, 0);
        my $first = 1;
        for my $pid (@ARGV) {
            open my $f, "<", "/proc/$pid/smaps" or next;
            my $in = 0;
            while (<$f>) {
                if (/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/) {
                    my ($a, $b, $perm, $path) = ($1, $2, $3, $4);
                    $in = $perm =~ /s$/
                        && $path =~ m{^(/dev/zero \(deleted\)|/SYSV)};
                    $mapped += hex($b) - hex($a) if $in && $first;
                } elsif ($in && /^Pss:\s+(\d+) kB/) {
                    $pss += $1;
                }
            }
            $first = 0;
        }
        print "$mapped $pss\n"' "$@"
}

# run KIND WORKERS: start, traffic, measure; prints "mapped_bytes pss_kb"
run() {
    local kind=$1 workers=$2 dir port master pids _
    dir=$out/${kind//:/-}-$workers
    mkdir -p "$dir/logs"
    port=$(bench_free_port)
    conf "$kind" "$workers" "$dir" "$port" > "$dir/nginx.conf"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    bench_wait_port "$port"
    master=$(cat "$dir/nginx.pid")
    # every worker up before the traffic
    for _ in $(seq 1 300); do
        [ "$(pgrep -c -P "$master")" -ge "$workers" ] && break
        sleep 0.1
    done
    bench_zone_traffic "$port" "$ZONES" 3 "$TRAFFIC_SECS" 2> "$dir/traffic.txt" \
        || { [ $? = 3 ] || { cat "$dir/traffic.txt" >&2; exit 1; }; }
    pids="$master $(pgrep -P "$master" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    shm $pids
    echo "$port" > "$dir/port"
}

{
    declare -A mapped pss
    for w in $WORKERS_LIST; do
        read -r sm sp < <(run stock "$w")
        bench_stop_nginx "$out/stock-$w"
        read -r om op < <(run ours "$w")
        bench_stop_nginx "$out/ours-$w"
        mapped[$w]=$((om - sm))
        pss[$w]=$((op - sp))
        perl -e 'printf "memory %d zones + %d peers, %2d workers: module shared memory %.1f MB mapped, %.1f MB resident (stock nginx: %.0f KB mapped)\n",
            @ARGV[0 .. 2], $ARGV[3] / 1048576, $ARGV[4] / 1024, $ARGV[5] / 1024' \
            "$ZONES" "$((UPSTREAMS * PEERS))" "$w" "${mapped[$w]}" "${pss[$w]}" "$sm"
        if [ -s "$out/ours-$w/traffic.txt" ]; then
            echo "memory $w workers: $(cat "$out/ours-$w/traffic.txt") (resident figure partial)"
        fi
    done
    # shellcheck disable=SC2086
    set -- $WORKERS_LIST
    lo=$1 hi=${!#}
    if [ "$lo" != "$hi" ]; then
        perl -e 'my ($lo, $hi, $ml, $mh, $lim) = @ARGV;
            printf "memory %d workers / %d workers: ratio %.2f, increase %+.1f%% of the %d-worker figure (goal: at most +50%%)\n",
                $hi, $lo, $mh / $ml, ($mh / $ml - 1) * 100, $lo;
            printf "memory at %d workers: %.1f MB, %s %d MB\n", $hi, $mh / 1048576,
                $mh <= $lim * 1048576 ? "within" : "OVER", $lim' \
            "$lo" "$hi" "${mapped[$lo]}" "${mapped[$hi]}" "$LIMIT_MB"
    fi

    if [ -n "$vts" ]; then
        found=
        for mb in 1 2 4 8 16 32 64 128 256; do
            run "vts:${mb}m" "$lo" > /dev/null
            d=$out/vts-${mb}m-$lo
            n=$(curl -s "http://127.0.0.1:$(cat "$d/port")/vts/format/json" \
                | perl -MJSON::PP -0777 -ne '
                    print scalar grep { $_ ne "*" }
                        keys %{decode_json($_)->{serverZones}}')
            # a zone too small logs "ngx_slab_alloc() failed: no memory":
            # expected on the way up the ladder, so no alert check here
            kill -QUIT "$(cat "$d/nginx.pid")"
            for _ in $(seq 1 100); do [ -s "$d/nginx.pid" ] || break; sleep 0.1; done
            rm -f "$d/nginx.pid"
            echo "vts ${mb}m: $n of $ZONES server zones listed" >> "$out/vts-ladder.txt"
            if [ "$n" = "$ZONES" ]; then found=$mb; break; fi
        done
        if [ -n "$found" ]; then
            perl -e 'my ($z, $mb, $lo, $ml, $hi, $mh) = @ARGV;
                printf "memory anchor: nginx-module-vts holds %d server zones in a %d MB zone (smallest of 1m, 2m, 4m, ...; one zone for all workers)\n", $z, $mb;
                printf "memory ours/vts: %.1f at %d workers, %.1f at %d workers\n",
                    $ml / ($mb * 1048576), $lo, $mh / ($mb * 1048576), $hi' \
                "$ZONES" "$found" "$lo" "${mapped[$lo]}" "$hi" "${mapped[$hi]}"
        else
            echo "memory anchor: nginx-module-vts did not list all $ZONES zones up to 256m (see $out/vts-ladder.txt)"
        fi
    fi
} | tee "$out/result.txt"
