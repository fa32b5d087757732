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

# bench_vts_module: prints the path of nginx-module-vts built as a dynamic
# module for the comparisons, or "skipped: <reason>" (and returns 1) when it
# cannot be had; a benchmark then goes on with its own figures only.
#
# The source is the public tarball BENCH_VTS_SRC (default: the project's
# anchors, ../shared/anchors/nginx-module-vts.tar.gz next to the repo, or
# next to the main checkout when run from a git worktree).  It
# is built the way the Makefile builds our module: a copy of the nginx
# sources of the distribution's nginx-dev (NGX_SRC), configured with the
# package's own flags (conf_flags) and the same dpkg-buildflags, then
# "make modules".  The result is cached under bench/out/vts/, keyed by the
# tarball's checksum and nginx's version; a failed build is reported once
# per key (its log stays in bench/out/vts/).
bench_vts_module() {
    local src=${BENCH_VTS_SRC:-} common
    if [ -z "$src" ]; then
        # next to the repo; from a git worktree, next to its main checkout
        src=$PWD/../shared/anchors/nginx-module-vts.tar.gz
        common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || common=
        if [ ! -f "$src" ] && [ -n "$common" ]; then
            src=$(dirname "$common")/../shared/anchors/nginx-module-vts.tar.gz
        fi
    fi
    local ngx_src=${NGX_SRC:-/usr/share/nginx/src}
    local dir=$PWD/bench/out/vts key bf cc ld mod

    if [ ! -f "$src" ]; then
        echo "skipped: no nginx-module-vts source at $src (set BENCH_VTS_SRC)"
        return 1
    fi
    if [ ! -x "$ngx_src/configure" ]; then
        echo "skipped: nginx sources not found in $ngx_src (nginx-dev)"
        return 1
    fi
    key=$(sha256sum "$src" | cut -c1-16)-$("${NGINX:-/usr/sbin/nginx}" -v 2>&1 | sed 's/.*nginx\///')
    mod=$dir/$key/ngx_http_vhost_traffic_status_module.so
    if [ -f "$mod" ]; then echo "$mod"; return 0; fi
    if [ -f "$dir/$key.failed" ]; then
        echo "skipped: nginx-module-vts did not build (see $dir/$key.log)"
        return 1
    fi

    bf='dpkg-buildflags --get'
    cc="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all $bf CFLAGS) -fPIC $(DEB_BUILD_MAINT_OPTIONS=hardening=+all $bf CPPFLAGS)"
    ld="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all $bf LDFLAGS) -fPIC"
    rm -rf "${dir:?}/$key"
    mkdir -p "$dir/$key"
    if (
        set -e
        cd "$dir/$key"
        tar xzf "$src"
        cp -a "$ngx_src" nginx
        cd nginx
        source ./conf_flags
        ./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt="$cc" \
            --with-ld-opt="$ld" --add-dynamic-module="$dir/$key/nginx-module-vts"
        make -f objs/Makefile modules -j"$(nproc)"
        cp objs/ngx_http_vhost_traffic_status_module.so "$mod"
    ) > "$dir/$key.log" 2>&1 && [ -f "$mod" ]; then
        rm -rf "$dir/$key/nginx"
        echo "$mod"
        return 0
    fi
    touch "$dir/$key.failed"
    echo "skipped: nginx-module-vts did not build (see $dir/$key.log)"
    return 1
}

# bench_zone_servers MODULE-KIND PORT ZONES: ZONES server blocks on one port,
# server_name zN.bench, each serving "return 200" and counted in a zone of
# its own: for KIND "ours" a health_zone zN per server; for "vts" the server
# itself (nginx-module-vts counts server zones per server_name).  The
# server_name hash is sized for 10,000 names.
bench_zone_servers() {
    local kind=$1 port=$2 zones=$3 i zone=''
    echo "    server_names_hash_max_size 65536;"
    echo "    server_names_hash_bucket_size 128;"
    for i in $(seq 1 "$zones"); do
        [ "$kind" = ours ] && zone="health_zone z$i; "
        echo "    server { listen 127.0.0.1:$port; server_name z$i.bench; ${zone}location / { return 200; } }"
    done
}

# bench_zone_traffic PORT ZONES N [SECONDS]: N requests to each zone's
# server (by Host name, one keep-alive connection); every answer must be a
# 200.  With SECONDS, gives up at that deadline: says on stderr how many
# requests were answered and returns 3 (a build whose workers stop
# answering must not hold the benchmark forever).
bench_zone_traffic() {
    perl -MIO::Socket::INET -e '
        my ($port, $zones, $n, $secs) = @ARGV;
        my ($s, $done) = (undef, 0);
        my $ok = eval {
            local $SIG{ALRM} = sub { die "deadline\n" };
            alarm $secs if $secs;
            for my $z (1 .. $zones) {
                for (1 .. $n) {
                    $s ||= IO::Socket::INET->new("127.0.0.1:$port")
                        or die "connect: $!\n";
                    print $s "GET / HTTP/1.1\r\nHost: z$z.bench\r\n\r\n";
                    my ($h, $len) = ("", 0);
                    while (defined(my $l = <$s>)) {
                        $h .= $l;
                        last if $l eq "\r\n";
                    }
                    die "z$z: $h\n" unless $h =~ m{^HTTP/1\.1 200 };
                    $len = $1 if $h =~ /^Content-Length: *(\d+)/mi;
                    read($s, my $b, $len) if $len;
                    undef $s if $h =~ /^Connection: *close/mi;
                    $done++;
                }
            }
            alarm 0;
            1;
        };
        exit 0 if $ok;
        die $@ unless $@ eq "deadline\n";
        printf STDERR "traffic: %d of %d requests answered in %d s\n",
            $done, $zones * $n, $secs;
        exit 3' "$1" "$2" "$3" "${4:-0}"
}

# bench_wait_port PORT: until something listens there (10 s at most)
bench_wait_port() {
    local _
    for _ in $(seq 1 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# bench_stop_nginx DIR: stop the nginx whose pid file is DIR/nginx.pid, wait
# for it to exit, and fail if its error.log has an alert, crit or emerg
bench_stop_nginx() {
    local dir=$1 pid _ killed=
    [ -s "$dir/nginx.pid" ] || return 0
    pid=$(cat "$dir/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # workers too busy to finish gracefully: a fast shutdown, then KILL
    # (this master and its own workers only)
    if kill -0 "$pid" 2>/dev/null; then
        echo "nginx of $dir did not stop on QUIT in 15 s: TERM" >&2
        kill -TERM "$pid" 2>/dev/null || true
        killed=1
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if kill -0 "$pid" 2>/dev/null; then
        echo "nginx of $dir did not stop on TERM in 10 s: KILL" >&2
        # shellcheck disable=SC2046
        kill -KILL $(pgrep -P "$pid") "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/nginx.pid"
    # after TERM the master KILLs the workers that do not exit in a second,
    # and says so in an alert: that is the forced stop, no finding
    if grep -E '^[0-9/]+ [0-9:]+ \[(alert|crit|emerg)\]' "$dir/logs/error.log" \
        | { if [ -n "$killed" ]; then grep -v 'exited on signal 9$'; else cat; fi; } \
        | grep . >&2
    then
        echo "error.log of $dir has alerts" >&2
        return 1
    fi
}

# bench_fetch_interleaved ROUNDS LABEL=URL...: fetch each URL once per round,
# in turn (A B A B ...), over one keep-alive connection per URL after three
# warm-up fetches each; prints "LABEL median_ms p95_ms bytes" per URL.  An
# answer other than 200 or 503 (a status may judge the instance unhealthy)
# stops the benchmark.
bench_fetch_interleaved() {
    perl -MHTTP::Tiny -MTime::HiRes=time -e '
        my ($rounds, @t) = @ARGV;
        my (@label, %url, %ua, %ms, %len);
        for (@t) {
            my ($l, $u) = split /=/, $_, 2;
            push @label, $l;
            $url{$l} = $u;
            $ua{$l} = HTTP::Tiny->new(keep_alive => 1, timeout => 120);
            $ua{$l}->get($u) for 1 .. 3;
        }
        for (1 .. $rounds) {
            for my $l (@label) {
                my $t0 = time;
                my $r = $ua{$l}->get($url{$l});
                push @{$ms{$l}}, (time - $t0) * 1000;
                die "$l: status $r->{status}\n"
                    unless $r->{status} =~ /^(200|503)$/;
                $len{$l} = length $r->{content};
            }
        }
        for my $l (@label) {
            my @s = sort { $a <=> $b } @{$ms{$l}};
            printf "%s %.3f %.3f %d\n", $l, $s[$#s / 2], $s[int(0.95 * $#s)],
                $len{$l};
        }' "$@"
}
