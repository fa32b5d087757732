# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# Shared by the benchmarks in bench/: sourced, never run on its own.

# a free TCP port on loopback
bench_free_port() {
    perl -MIO::Socket::INET -e '
        for (1..100) { my $p = 20000 + int(rand(30000));
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                LocalPort => $p, Listen => 1) or next; print $p; exit }'
}

# bench_nginx_head MODULE WORKERS DIR: the main context of a benchmark's
# nginx.conf (MODULE empty: stock nginx), up to the http block's opening
# and its common lines; the caller writes the servers and closes it
bench_nginx_head() {
    local module=$1 workers=$2 dir=$3
    [ -n "$module" ] && echo "load_module $module;"
    [ "$(id -u)" = 0 ] && echo 'user root;'
    cat <<EOC
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
EOC
}

# bench_require TOOL...: stop with a clear message if one is missing
bench_require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" > /dev/null \
            || { echo "$tool is missing (make deps)" >&2; exit 1; }
    done
}

# bench_callgrind_ir OUT NAME REQUESTS PORT
#
# Total instructions (Ir) of one single-process nginx run under callgrind,
# configured by OUT/NAME.conf to listen on PORT, serving REQUESTS requests
# to one keep-alive client (ab -k).  Every answer must be a 2xx: a
# benchmark of errors measures nothing.
bench_callgrind_ir() {
    local out=$1 name=$2 n=$3 port=$4 pid
    local cg="$out/callgrind.$name.$n" ablog="$out/ab.$name.$n.log"

    valgrind --tool=callgrind --callgrind-out-file="$cg" \
        "$NGINX" -p "$out" -c "$out/$name.conf" -e "$out/logs/error.log" \
        > "$out/valgrind.$name.$n.log" 2>&1 &
    pid=$!

    for _ in $(seq 1 300); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
        sleep 0.1
    done

    ab -q -k -c 1 -n "$n" "http://127.0.0.1:$port/" > "$ablog" 2>&1
    if ! grep -q "Failed requests:        0" "$ablog" \
        || grep -q "Non-2xx responses" "$ablog"
    then
        echo "ab saw failures or non-2xx answers:" >&2
        cat "$ablog" >&2
        kill "$pid"
        exit 1
    fi

    kill -QUIT "$pid"
    wait "$pid" || true
    sed -n 's/^summary: *\([0-9]*\).*/\1/p;s/^totals: *\([0-9]*\).*/\1/p' \
        "$cg" | head -1
}
