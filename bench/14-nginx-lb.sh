#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (e): the lb answer's round trip does not grow with zones
# or workers.  For 2 and 64 workers (BENCH_LB_WORKERS: the first and the
# last are compared), with 1 zone and with 1,000 zones that
# all have traffic in their window, lb is fetched repeatedly over
# keep-alive (median and p95 of the round trip on loopback), and so is the
# JSON, whose cost does grow: it reads every zone of every shard.  The
# ratios compare lb at 1,000 zones with lb at 1 zone, and 64 workers with
# 2.  BENCH_LB_BASE_MODULE=/path/to/module.so adds the same figures for
# another build (the code before the verdict, say) in the same run.  Each
# configuration has BENCH_LB_SECONDS (60) to answer everything: a build
# whose workers stop answering is reported as such, not waited for.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

FETCHES=${BENCH_LB_FETCHES:-300}
WORKERS_LIST=${BENCH_LB_WORKERS:-2 64}
DEADLINE=${BENCH_LB_SECONDS:-60}
JSON_FETCHES=${BENCH_LB_JSON_FETCHES:-30}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
BASE=${BENCH_LB_BASE_MODULE:-}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-lb
rm -rf "$out"
mkdir -p "$out"
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

pid_file=
# the runs happen in the pipeline's subshell, whose variables this shell
# does not see: every nginx still running under out/ is stopped
# shellcheck disable=SC2154
trap 'for d in "$out"/*/; do bench_stop_nginx "$d" 2>/dev/null || true; done' EXIT

# run MODULE WORKERS ZONES: prints "lb_median lb_p95 json_median json_p95"
run() {
    local module=$1 workers=$2 zones=$3 dir port pid
    dir="$out/$(basename "$module" .so)-$workers-$zones"
    mkdir -p "$dir/logs"
    port=$(bench_free_port)
    {
        bench_nginx_head "$module" "$workers" "$dir"
        cat <<EOC
    server {
        listen 127.0.0.1:$port;
        location /health { health_zone off; health_status; }
        location /lb { health_zone off; health_status lb; }
EOC
        for i in $(seq 1 "$zones"); do
            echo "        location = /z$i { health_zone z$i; return 200; }"
        done
        echo "    }"
        echo "}"
    } > "$dir/nginx.conf"

    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    pid_file=$dir/nginx.pid
    for _ in $(seq 1 100); do [ -s "$pid_file" ] && break; sleep 0.1; done

    perl -MHTTP::Tiny -MTime::HiRes=time,sleep -e '
        my ($port, $zones, $fetches, $json_fetches, $secs) = @ARGV;
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => $secs + 5);
        my $base = "http://127.0.0.1:$port";
        my (@r, $expired, $stage);
        # HTTP::Tiny turns a die inside it into a 599 answer: the alarm
        # leaves a flag that every fetch checks
        sub get {
            my $r = $ua->get(@_);
            die "deadline\n" if $expired;
            $r;
        }
        my $ok = eval {
            local $SIG{ALRM} = sub { $expired = 1; die "deadline\n" };
            alarm $secs;
            $stage = "waiting for the first lb answer";
            for (1 .. 100) { last if get("$base/lb")->{status} == 200;
                             sleep 0.1 }
            for my $z (1 .. $zones) {
                $stage = "traffic, zone $z of $zones";
                get("$base/z$z") for 1 .. 3;
            }
            for ([lb => $fetches], [health => $json_fetches]) {
                my ($loc, $n) = @$_;
                my @t;
                $stage = "warming up $loc";
                get("$base/$loc") for 1 .. 5;    # warm up
                for my $i (1 .. $n) {
                    $stage = "$loc fetch $i of $n";
                    my $t0 = time;
                    my $r = get("$base/$loc");
                    push @t, (time - $t0) * 1000;
                    die "$loc: status $r->{status}\n"
                        unless $r->{status} == 200;
                }
                @t = sort { $a <=> $b } @t;
                push @r, $t[$#t / 2], $t[int(0.95 * $#t)];
            }
            alarm 0;
            1;
        };
        # a build whose workers stop answering: "-" where nothing was had
        die $@ unless $ok || $@ eq "deadline\n";
        printf "%s %s %s %s %s\n",
            (map { defined $r[$_] ? sprintf("%.3f", $r[$_]) : "-" } 0 .. 3),
            $ok ? "" : "stopped at: $stage";
    ' "$port" "$zones" "$FETCHES" "$JSON_FETCHES" "$DEADLINE"

    bench_stop_nginx "$dir" || exit 1
    pid_file=
}

# div A B [DIGITS]: A / B, or "n/a" when either was not measured
div() {
    if [ "$1" = - ] || [ "$2" = - ]; then echo n/a; return; fi
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%." d "f", a / b }'
}

report() {
    local label=$1 module=$2 w z lm lp jm jp lo hi stage
    declare -A lb json
    # shellcheck disable=SC2086
    set -- $WORKERS_LIST
    lo=$1 hi=${!#}
    for w in $WORKERS_LIST; do
        for z in 1 1000; do
            run "$module" "$w" "$z" > "$out/run.txt"
            read -r lm lp jm jp stage < "$out/run.txt"
            lb[$w,$z]=$lm
            json[$w,$z]=$jm
            if [ "$jp" = - ]; then
                echo "$label $w workers $z zones: not done within $DEADLINE s (lb median $lm ms, p95 $lp; JSON median $jm ms, p95 $jp; $stage)"
            else
                printf "%-8s %2d workers %4d zones: lb median %.3f ms (p95 %.3f), JSON median %.2f ms (p95 %.2f)\n" \
                    "$label" "$w" "$z" "$lm" "$lp" "$jm" "$jp"
            fi
        done
    done
    for w in $WORKERS_LIST; do
        printf "%-8s %2d workers: lb at 1,000 zones / 1 zone: %s; JSON: %s\n" \
            "$label" "$w" "$(div "${lb[$w,1000]}" "${lb[$w,1]}")" \
            "$(div "${json[$w,1000]}" "${json[$w,1]}")"
    done
    printf "%-8s 1,000 zones: lb at %d workers / %d workers: %s; JSON: %s\n" \
        "$label" "$hi" "$lo" "$(div "${lb[$hi,1000]}" "${lb[$lo,1000]}")" \
        "$(div "${json[$hi,1000]}" "${json[$lo,1000]}")"
    printf "%-8s 1,000 zones, %d workers: lb / JSON: %s\n" "$label" "$hi" \
        "$(div "${lb[$hi,1000]}" "${json[$hi,1000]}" 4)"
}

{
    report this "$MODULE"
    if [ -n "$BASE" ]; then
        [ -f "$BASE" ] || { echo "$BASE: not found" >&2; exit 1; }
        cp "$BASE" "$out/base.so"
        report base "$out/base.so"
    fi
} | tee "$out/result.txt"
