#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The zones' part of the status is written as text, not through a jansson
# tree (issue 12, render): every number it carries, exactly, in the JSON and
# in the Prometheus text, for zones with known traffic (codes 200, 404,
# 500, 503; bytes counted by the client on the wire), for a zone without
# any, and for 1,000 zones at once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;

use HealthTest qw(:all);

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<'EOF2');
    health_service "render test";
    health_buckets 1ms 2.5ms 1s;
    health_rule error_rate warning=0.5 critical=2.25;
    health_rule latency_p95 zone=a warning=1.5ms critical=0.5s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /a/ok      { health_zone a; return 200 "fine\n"; }
        location /a/missing { health_zone a; return 404; }
        location /a/err     { health_zone a; return 500; }
        location /a/busy    { health_zone a; return 503; }
        location /b/        { health_zone b; return 200 "bee\n"; }
        location /c/        { health_zone c; return 200; }

        location /health  { health_zone off; health_status; }
        location /metrics { health_zone off; health_status prometheus; }
    }
EOF2
$ng->start;

# one request a connection, so that the bytes nginx counts for it are the
# bytes on the wire: request_length in, the connection's sent out
sub raw_get {
    my ($path) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n\r\n";
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ng->port,
                                  Timeout => 30)
        or die "connect: $!";
    print $s $req;
    local $/;
    my $resp = <$s>;
    close $s;
    return (length $req, length $resp);
}

my %want = (a => { in => 0, out => 0 }, b => { in => 0, out => 0 });

for ([a => '/a/ok', 17], [a => '/a/missing', 3], [a => '/a/err', 2],
     [a => '/a/busy', 1], [b => '/b/x', 5])
{
    my ($zone, $path, $n) = @$_;
    for (1 .. $n) {
        my ($in, $out) = raw_get($path);
        $want{$zone}{in} += $in;
        $want{$zone}{out} += $out;
    }
}

my ($r, $doc) = $ng->wait_doc(sub {
    $_[0]{zones}{a}{requests} == 23 && $_[0]{zones}{b}{requests} == 5
      && $_[0]{zones}{a}{bytes_out} == $want{a}{out}
      && $_[0]{zones}{b}{bytes_out} == $want{b}{out} });

is($r->{status}, 503, 'an error rate of 13% is unhealthy: 503');
is($doc->{status}, 'unhealthy', 'status unhealthy');
is($doc->{service}, 'render test', 'service');
like($r->{content}, qr/^\{"status":"unhealthy","service":"render test",/,
     'the answer starts with status and service');
like($r->{content}, qr/\}\n\z/, 'and ends with one newline');

my $a = $doc->{zones}{a};
is($a->{requests}, 23, 'a: requests');
is_deeply($a->{responses},
          { '1xx' => 0, '2xx' => 17, '3xx' => 0, '4xx' => 3, '5xx' => 3,
            codes => { 200 => 17, 404 => 3, 500 => 2, 503 => 1 } },
          'a: responses by class and by exact code');
is($a->{bytes_in}, $want{a}{in}, "a: bytes_in $want{a}{in}, as sent");
is($a->{bytes_out}, $want{a}{out}, "a: bytes_out $want{a}{out}, as received");
is($a->{window}{seconds}, 60, 'a: window seconds');
is($a->{window}{requests}, 23, 'a: window requests');
is($a->{window}{error_rate_pct}, 13.043, 'a: 3 errors in 23 are 13.043%');
cmp_ok($a->{window}{rps}, '>', 0, 'a: rps');
my $l = $a->{latency_ms};
ok($l->{p50} <= $l->{p95} && $l->{p95} <= $l->{p99} && $l->{p99} <= $l->{max},
   'a: p50 <= p95 <= p99 <= max');

like($r->{content},
     qr/"a":\{"requests":23,"responses":\{"1xx":0,"2xx":17,"3xx":0,"4xx":3,"5xx":3,"codes":\{"200":17,"404":3,"500":2,"503":1\}\},"bytes_in":$want{a}{in},"bytes_out":$want{a}{out},"latency_ms":\{"p50":[0-9.]+,"p95":[0-9.]+,"p99":[0-9.]+,"max":[0-9.]+\},"window":\{"seconds":60,"requests":23,"rps":[0-9.]+,"error_rate_pct":13.043\}\}/,
     'a: the object as text, keys in the order of the design');

my $b = $doc->{zones}{b};
is($b->{requests}, 5, 'b: requests');
is_deeply($b->{responses},
          { '1xx' => 0, '2xx' => 5, '3xx' => 0, '4xx' => 0, '5xx' => 0,
            codes => { 200 => 5 } }, 'b: responses');
is($b->{bytes_in}, $want{b}{in}, 'b: bytes_in');
is($b->{bytes_out}, $want{b}{out}, 'b: bytes_out');
is($b->{window}{error_rate_pct}, 0, 'b: no errors');

like($r->{content},
     qr/"c":\{"requests":0,"responses":\{"1xx":0,"2xx":0,"3xx":0,"4xx":0,"5xx":0,"codes":\{\}\},"bytes_in":0,"bytes_out":0,"latency_ms":\{"p50":0,"p95":0,"p99":0,"max":0\},"window":\{"seconds":60,"requests":0,"rps":0,"error_rate_pct":0\}\}/,
     'c, without traffic: every number 0, codes empty, exactly');

# the checks as text: numbers of the configuration and of the window
like($r->{content},
     qr/"zone:a:error_rate":\{"status":"unhealthy","value":13.043,"unit":"%","warning":0.5,"critical":2.25,"window_s":60\}/,
     'zone:a:error_rate, exactly');
like($r->{content},
     qr/"zone:b:error_rate":\{"status":"healthy","value":0,"unit":"%","warning":0.5,"critical":2.25,"window_s":60,"judged":false,"requests":5,"min_requests":20\}/,
     'zone:b:error_rate, exactly: 5 requests of the 20 it needs, not judged');
like($r->{content},
     qr/"zone:a:latency_p95":\{"status":"\w+","value":[0-9.]+,"unit":"ms","warning":1.5,"critical":500\}/,
     'zone:a:latency_p95: thresholds in ms');
is_deeply([sort keys %{ $doc->{checks} }],
          [qw(zone:a:error_rate zone:a:latency_p95 zone:b:error_rate
              zone:c:error_rate)], 'the checks');
is($doc->{checks}{'zone:a:latency_p95'}{value}, $l->{p95},
   'the latency check shows the zone\'s p95');

# Prometheus: the same numbers, every sample of the zones' families
my $m = $ng->get('/metrics');
is($m->{status}, 200, 'Prometheus answers 200');
my %s;
for (split /\n/, $m->{content}) {
    next if /^#/;
    my ($k, $v) = /^(.+) (\S+)$/ or do { fail("sample line: $_"); next };
    $s{$k} = $v;
}

is($s{'nginx_health_status'}, 2, 'nginx_health_status 2 (unhealthy)');
is($s{'nginx_health_check_status{check="zone:a:error_rate"}'}, 2,
   'check status of zone:a:error_rate');
is($s{'nginx_health_check_status{check="zone:b:error_rate"}'}, 0,
   'check status of zone:b:error_rate');

my %resp = (a => [0, 17, 0, 3, 3], b => [0, 5, 0, 0, 0], c => [0, 0, 0, 0, 0]);
my %req = (a => 23, b => 5, c => 0);

for my $z (qw(a b c)) {
    is($s{"nginx_health_requests_total{zone=\"$z\"}"}, $req{$z},
       "$z: requests_total");
    is_deeply([map { $s{"nginx_health_responses_total{zone=\"$z\",code=\"${_}xx\"}"} }
               1 .. 5], $resp{$z}, "$z: responses_total by class");

    my @le = map { $s{"nginx_health_request_duration_seconds_bucket{zone=\"$z\",le=\"$_\"}"} }
             qw(0.001 0.0025 1 +Inf);
    is(scalar(grep { defined } @le), 4, "$z: a bucket for every bound");
    ok($le[0] <= $le[1] && $le[1] <= $le[2] && $le[2] <= $le[3],
       "$z: buckets cumulative");
    is($le[3], $req{$z}, "$z: +Inf is the requests");
    is($s{"nginx_health_request_duration_seconds_count{zone=\"$z\"}"},
       $req{$z}, "$z: _count");
}

is($s{'nginx_health_request_duration_seconds_sum{zone="c"}'}, '0',
   'c: _sum 0');
like($s{'nginx_health_request_duration_seconds_sum{zone="a"}'},
     qr/^\d+(\.\d+)?$/, 'a: _sum in seconds');

like($m->{content}, qr/
    \# \s HELP \s nginx_health_requests_total [^\n]*\n
    \# \s TYPE \s nginx_health_requests_total \s counter\n
    nginx_health_requests_total\{zone="a"\} \s 23\n
    nginx_health_requests_total\{zone="b"\} \s 5\n
    nginx_health_requests_total\{zone="c"\} \s 0\n
    \# \s HELP \s nginx_health_responses_total [^\n]*\n
    \# \s TYPE \s nginx_health_responses_total \s counter\n
    nginx_health_responses_total\{zone="a",code="1xx"\} \s 0\n
    /x, 'families in order, one line a zone');
like($m->{content}, qr/
    nginx_health_request_duration_seconds_bucket\{zone="c",le="0.001"\} \s 0\n
    nginx_health_request_duration_seconds_bucket\{zone="c",le="0.0025"\} \s 0\n
    nginx_health_request_duration_seconds_bucket\{zone="c",le="1"\} \s 0\n
    nginx_health_request_duration_seconds_bucket\{zone="c",le="\+Inf"\} \s 0\n
    nginx_health_request_duration_seconds_sum\{zone="c"\} \s 0\n
    nginx_health_request_duration_seconds_count\{zone="c"\} \s 0\n
    /x, 'c: the histogram, line by line');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert in error.log');

# upstream peers, written as text too: exact counts, keys in order, a name
# that needs escaping
my $be = HealthTest::Nginx->new(conf => <<'EOF4')->start;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
        location /nf { return 404; }
        location = /hc { return 200; }
    }
EOF4
my $addr = '127.0.0.1:' . $be->port;
my $dead = '127.0.0.1:' . free_port();

my $up = HealthTest::Nginx->new(workers => 1, conf => <<"EOF5");
    upstream "u\\"1" {
        server $addr;
        server 127.0.0.1:1 down;
    }

    upstream checked {
        server $addr;
        server $dead;
        health_check uri=/hc interval=200ms timeout=1s fails=1 passes=1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /p/ { proxy_pass "http://u\\"1/"; proxy_next_upstream off; }
        location = /health { health_status; }
    }
EOF5
$up->start;

is($up->get('/p/x')->{status}, 200, 'through u"1: 200') for 1 .. 5;
is($up->get('/p/nf')->{status}, 404, 'through u"1: 404') for 1 .. 2;

my ($ur, $udoc) = $up->wait_doc(sub {
    my $c = $_[0]{upstreams}{checked}{peers};
    $c && ($c->[0]{health_checks}{last_passed} // 0)
       && defined $c->[1]{health_checks}{last_passed} });

my @u = @{ $udoc->{upstreams}{'u"1'}{peers} };
is(scalar @u, 2, 'u"1: two peers, by a name that needed escaping');
like($ur->{content},
     qr/"u\\"1":\{"peers":\[\{"server":"\Q$addr\E","state":"up","backup":false,"requests":7,"fails":0,"failed_attempts":0,"responses":\{"1xx":0,"2xx":5,"3xx":0,"4xx":2,"5xx":0\},"latency_ms":\{"p50":[0-9.]+,"p95":[0-9.]+,"p99":[0-9.]+\}\},\{"server":"127.0.0.1:1","state":"down","backup":false,"requests":0,"fails":0,"failed_attempts":0,"responses":\{"1xx":0,"2xx":0,"3xx":0,"4xx":0,"5xx":0\},"latency_ms":\{"p50":0,"p95":0,"p99":0\}\}\],"fail_open":false\}/,
     'u"1: its peers as text, exactly, keys in order');
like($ur->{content},
     qr/"checked":\{"peers":\[\{"server":"\Q$addr\E","state":"up",[^{}]*"responses":\{[^{}]*\},"latency_ms":\{[^{}]*\},"health_checks":\{"checks":\d+,"fails":0,"consecutive_fails":0,"consecutive_passes":\d+,"last_passed":true,"last_status":200,"last_rtt_ms":[0-9.]+,"results":\{"passed":\d+,"connect":0,"timeout":0,"closed":0,"invalid":0,"status":0,"header":0,"body":0,"tls_handshake":0,"tls_verify":0\}\}\},\{"server":"\Q$dead\E",[^{}]*"responses":\{[^{}]*\},"latency_ms":\{[^{}]*\},"health_checks":\{"checks":\d+,"fails":\d+,"consecutive_fails":\d+,"consecutive_passes":0,"last_passed":false,"last_error":"connect failed","last_rtt_ms":[0-9.]+,"results":\{"passed":0,"connect":\d+,"timeout":0,"closed":0,"invalid":0,"status":0,"header":0,"body":0,"tls_handshake":0,"tls_verify":0\}\}\}\],"fail_open":false,"max_ejected":1,"ejected":[01],"kept_by_limit":0\}/,
     'checked: health_checks of a passing and of a refused peer');
like($ur->{content}, qr/"upstream:u\\"1":\{"status":"healthy","healthy_peers":1,"total_peers":1,"down_peers":1,"required":false\}/,
     'the upstream\'s check, with its escaped name');

my $um = $up->get('/health?format=prometheus')->{content};
my $lab = qq{upstream="u\\"1",peer="$addr"};
my $lad = qq{upstream="u\\"1",peer="127.0.0.1:1"};
for (["nginx_health_upstream_peer_up{$lab} 1", 'up'],
     ["nginx_health_upstream_peer_state{$lab,state=\"up\"} 1", 'state up'],
     ["nginx_health_upstream_peer_state{$lad,state=\"down\"} 1",
      'down: state down'],
     ["nginx_health_upstream_peer_requests_total{$lab} 7", 'requests 7'],
     ["nginx_health_upstream_peer_failed_attempts_total{$lab} 0",
      'no failed attempt'],
     (map { ["nginx_health_upstream_peer_responses_total{$lab,code=\"${_}xx\"} "
             . ({ 2 => 5, 4 => 2 }->{$_} // 0), "${_}xx"] } 1 .. 5),
     ["nginx_health_upstream_peer_response_duration_seconds_bucket{$lab,le=\"+Inf\"} 7",
      '+Inf 7'],
     ["nginx_health_upstream_peer_response_duration_seconds_count{$lab} 7",
      '_count 7'],
     ["nginx_health_upstream_peer_response_duration_seconds_sum{$lad} 0",
      'down: _sum 0'])
{
    my ($line, $what) = @$_;
    like($um, qr/^\Q$line\E$/m, "u\"1 Prometheus: $what");
}
unlike($um, qr/^nginx_health_upstream_peer_up\{\Q$lad\E\}/m,
       'no peer_up line for a peer marked down');

$up->stop;
is_deeply([$up->log_alerts], [], 'no alert in error.log');
$be->stop;

# A name that is not UTF-8 (a Latin-1 configuration file): jansson refused
# it, which left "service" out and failed the whole answer with 500 for an
# upstream; written as text, the bad byte becomes U+FFFD.
my $l1 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF6");
    health_service "caf\xe9";

    upstream "gr\xfcn" { server $addr; }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://gr\xfcn; }
        location = /health { health_status; }
    }
EOF6
$l1->start;
my ($lr, $ldoc) = $l1->get_json('/health');
is($lr->{status}, 200, 'Latin-1 names: the status answers 200');
ok($ldoc, 'and parses');
is($ldoc && $ldoc->{service}, "caf\xef\xbf\xbd", 'service: the byte is U+FFFD');
ok($ldoc && $ldoc->{upstreams}{"gr\xef\xbf\xbdn"},
   'the upstream is listed, the byte as U+FFFD');
$l1->stop;
is_deeply([$l1->log_alerts], [], 'no alert in error.log');

# 1,000 zones: the answer parses and lists every zone with its exact count
my $n = 1000;
my $locs = join "\n", map {
    "        location = /z$_ { health_zone z$_; return 200; }"
} 1 .. $n;

my $big = HealthTest::Nginx->new(workers => 2, conf => <<EOF3);
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health  { health_zone off; health_status; }
        location /metrics { health_zone off; health_status prometheus; }
$locs
    }
EOF3
$big->start;

my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
my $total = 0;
for my $z (1 .. $n) {
    for (1 .. $z % 3 + 1) {
        my $res = $ua->get($big->url("/z$z"));
        die "z$z: $res->{status}\n" unless $res->{status} == 200;
        $total++;
    }
}
is($total, 2000, '2,000 requests over 1,000 zones');

my ($br, $bdoc) = $big->wait_doc(sub {
    my $sum = 0;
    $sum += $_->{requests} for values %{ $_[0]{zones} };
    $sum == $total }, timeout => 60);
is($br->{status}, 200, '1,000 zones: JSON answers 200');
is(scalar keys %{ $bdoc->{zones} }, $n, 'every zone is listed');
is(scalar(grep { $bdoc->{zones}{"z$_"}{requests} == $_ % 3 + 1
                 && $bdoc->{zones}{"z$_"}{responses}{codes}{200}
                    == $_ % 3 + 1 } 1 .. $n),
   $n, 'each with its exact requests and codes');
is(scalar keys %{ $bdoc->{checks} }, 2 * $n,
   'two default checks a zone');

my $bm = $big->get('/metrics');
is($bm->{status}, 200, '1,000 zones: Prometheus answers 200');
my %req_total = $bm->{content}
    =~ /^nginx_health_requests_total\{zone="(z\d+)"\} (\d+)$/mg;
is(scalar keys %req_total, $n, 'a requests_total line for every zone');
is(scalar(grep { $req_total{"z$_"} == $_ % 3 + 1 } 1 .. $n), $n,
   'each with its exact count');
my @count = $bm->{content}
    =~ /^nginx_health_request_duration_seconds_count\{zone="z\d+"\} \d+$/mg;
is(scalar @count, $n, 'a histogram for every zone');

$big->stop;
is_deeply([$big->log_alerts], [], 'no alert in error.log');

done_testing;
