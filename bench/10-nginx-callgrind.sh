#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# nginx benchmark (a): instructions per request, measured with callgrind on
# a single-process nginx (master_process off, daemon off) serving
# "return 200" to one keep-alive client (ab -k), stock versus the module
# counting every request (zone with codes, bytes, bounds histogram and the
# windowed histogram).  Each variant runs twice, with N1 and N2 requests;
# (Ir(N2) - Ir(N1)) / (N2 - N1) cancels start-up and shutdown.
#
# A third run loads the module without any health_zone (no handler is
# installed): loading a module shifts glibc's heap, which moves malloc's
# per-request cost by a few dozen instructions either way, so the
# difference between "idle" and "module" is the cost of the counting itself.
#
# A fourth variant, "slo", counts the same zone with an SLO on it
# (health_slo ... latency=500ms): what the SLO adds to the fold of each
# request's record, against "module".
#
# Each variant is measured BENCH_NGX_REPS (3) times, interleaved, and the
# medians are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N1=${BENCH_NGX_N1:-2000}
N2=${BENCH_NGX_N2:-12000}
REPS=${BENCH_NGX_REPS:-3}
MODULE=${HEALTH_MODULE:-$PWD/build/modules/ngx_http_health_module.so}
NGINX=${HEALTH_NGINX:-/usr/sbin/nginx}

out=$PWD/bench/out/nginx-callgrind
rm -rf "$out"
mkdir -p "$out/logs"

bench_require valgrind ab
[ -f "$MODULE" ] || { echo "build the module first: make" >&2; exit 1; }

port=$(bench_free_port)

write_conf() {     # $1: stock|idle|module|slo
    local load='' zone='' user=''
    if [ "$1" != stock ]; then
        load="load_module $MODULE;"
    fi
    if [ "$1" = module ]; then
        zone="health_zone bench;"
    fi
    if [ "$1" = slo ]; then
        zone="health_zone bench;
    health_slo bench zone=bench objective=99.9% latency=500ms;"
    fi
    [ "$(id -u)" = 0 ] && user='user root;'
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
    $zone
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok\n"; }
    }
}
EOC
}

# total instructions (Ir) of one nginx run serving $2 requests
measure() {     # $1: variant, $2: requests
    bench_callgrind_ir "$out" "$1" "$2" "$port"
}

# each variant REPS times, interleaved (stock, idle, module, stock, ...), so
# that what drifts on a shared machine hits the three alike; the medians
# are compared
for v in stock idle module slo; do write_conf $v; done

declare -A per
for r in $(seq 1 "$REPS"); do
    for v in stock idle module slo; do
        a=$(measure $v "$N1")
        b=$(measure $v "$N2")
        per[$v,$r]=$(( (b - a) / (N2 - N1) ))
        printf '%-7s run %d: Ir(%d)=%d Ir(%d)=%d -> %d instructions/request\n' \
            "$v" "$r" "$N1" "$a" "$N2" "$b" "${per[$v,$r]}"
    done
done

median() {     # $1: variant
    local r
    for r in $(seq 1 "$REPS"); do echo "${per[$1,$r]}"; done \
        | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

perl -e 'my ($n, $s, $i, $m) = @ARGV;
    printf "callgrind (median of %d): stock %d, module counting %d instructions/request: " .
        "ratio %.4f (%+.2f%%)\n", $n, $s, $m, $m / $s, ($m / $s - 1) * 100;
    printf "callgrind (median of %d): module loaded but idle %d: counting itself costs " .
        "%d instructions/request (%+.2f%% of stock)\n",
        $n, $i, $m - $i, ($m - $i) / $s * 100' \
    "$REPS" "$(median stock)" "$(median idle)" "$(median module)" \
    | tee "$out/result.txt"
perl -e 'my ($n, $s, $m, $o) = @ARGV;
    printf "callgrind (median of %d): module counting with an SLO %d " .
        "instructions/request: ratio %.4f (%+.2f%%), the SLO adds %d\n",
        $n, $o, $o / $s, ($o / $s - 1) * 100, $o - $m' \
    "$REPS" "$(median stock)" "$(median module)" "$(median slo)" \
    | tee -a "$out/result.txt"

# The module's own functions per request: the instructions callgrind counts
# in functions of the module's object (also on the lines callgrind_annotate
# prints with the function's name but not the object, "???:ngx_http_..."
# or its source file: a third of the fold's instructions are there, and
# were not counted before this note), plus the clock_gettime calls it adds
# (nginx calls it too, once an event loop turn: stock's count is taken
# off), between the N1 and N2 runs of the last round.
own_ir() {     # $1: callgrind output, $2: module object or "" for none
    callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null \
        | perl -ne 'BEGIN { $m = shift } if (/^\s*([\d,]+)\s.*(\[\Q$m\E\]|:ngx_http_health_[\w.]+\s*$|clock_gettime)/) {
              next if !length $m && $2 ne "clock_gettime";
              ($v = $1) =~ tr/,//d; $s += $v } END { print $s + 0, "\n" }' "$2"
}
oa=$(own_ir "$out/callgrind.module.$N1" "$MODULE")
ob=$(own_ir "$out/callgrind.module.$N2" "$MODULE")
sa=$(own_ir "$out/callgrind.stock.$N1" "")
sb=$(own_ir "$out/callgrind.stock.$N2" "")
perl -e 'my ($oa, $ob, $sa, $sb, $n1, $n2, $s) = @ARGV;
    my $own = (($ob - $oa) - ($sb - $sa)) / ($n2 - $n1);
    printf "callgrind: the module'"'"'s own functions %.0f instructions/request " .
        "(%+.2f%% of stock %d)\n", $own, $own / $s * 100, $s' \
    "$oa" "$ob" "$sa" "$sb" "$N1" "$N2" "$(median stock)" | tee -a "$out/result.txt"
la=$(own_ir "$out/callgrind.slo.$N1" "$MODULE")
lb=$(own_ir "$out/callgrind.slo.$N2" "$MODULE")
perl -e 'my ($oa, $ob, $sa, $sb, $n1, $n2, $s) = @ARGV;
    my $own = (($ob - $oa) - ($sb - $sa)) / ($n2 - $n1);
    printf "callgrind: the module'"'"'s own functions with an SLO %.0f " .
        "instructions/request (%+.2f%% of stock %d)\n", $own, $own / $s * 100,
        $s' \
    "$la" "$lb" "$sa" "$sb" "$N1" "$N2" "$(median stock)" | tee -a "$out/result.txt"
