#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Passive statistics per peer are exact: requests, responses by class and
# failures match what was sent; nginx's own peer state (down, backup,
# unavailable after max_fails) shows; the Prometheus families agree with
# the JSON and pass promtool.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;

use HealthTest qw(:all);

sub backend {
    my ($name) = @_;
    return HealthTest::Nginx->new(conf => <<"EOF2")->start;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "$name"; }
        location /created { return 201 "$name"; }
        location /nf { return 404 "$name"; }
        location /err { return 500 "$name"; }
    }
EOF2
}

my @b = (backend('b1'), backend('b2'));
my ($a1, $a2) = map { '127.0.0.1:' . $_->port } @b;
my $dead = '127.0.0.1:' . free_port();
my $dead2 = '127.0.0.1:' . free_port();

# a peer that accepts connections and never answers: upstream timeouts
my $slow = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 64, Proto => 'tcp')
    or die "listen: $!\n";
my $slow_addr = '127.0.0.1:' . $slow->sockport;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF2");
    # passive only: no health_check
    upstream app {
        server $a1;
        server $a2;
        server 127.0.0.1:1 down;
        server $dead backup;
    }

    # a name that needs escaping as a Prometheus label value
    upstream "q\\"t\\\\x" { server $a1; }

    # a dead peer: every attempt a failure, retried on b1
    upstream retry {
        server $a1 max_fails=0;
        server $dead2 max_fails=1 fail_timeout=60s;
    }

    # a peer that times out: each attempt a failure, retried on b2
    upstream slow {
        server $a2 max_fails=0;
        server $slow_addr max_fails=0;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /slow/ {
            proxy_pass http://slow/;
            proxy_read_timeout 200ms;
            proxy_next_upstream error timeout;
        }

        location / {
            proxy_pass http://app;
            proxy_next_upstream off;
        }

        location /retry/ {
            proxy_pass http://retry/;
            proxy_next_upstream error timeout;
        }

        location = /health { health_status; }
    }
EOF2
$ng->start;

# what the client saw, per peer and class
my (%req, %class);
my @paths = ((map { "/ok$_" } 1 .. 30), (map { "/created$_" } 1 .. 8),
             (map { "/nf$_" } 1 .. 7), (map { "/err$_" } 1 .. 5));
for my $p (@paths) {
    my $r = $ng->get($p);
    $req{ $r->{content} }++;
    $class{ $r->{content} }{ substr($r->{status}, 0, 1) . 'xx' }++;
}
is($req{b1} + $req{b2}, 50, '50 requests answered by b1 and b2');

my $doc = $ng->get_json('/health');
my @p = @{ $doc->{upstreams}{app}{peers} };
is(scalar @p, 4, 'four peers, backup and down included');

for my $i (0, 1) {
    my $name = "b" . ($i + 1);
    is($p[$i]{requests}, $req{$name}, "$name: requests exact ($req{$name})");
    my %want = (map({ $_ => 0 } qw(1xx 2xx 3xx 4xx 5xx)),
                %{ $class{$name} });
    is_deeply($p[$i]{responses}, \%want, "$name: responses by class exact");
    is($p[$i]{fails}, 0, "$name: no failures");
    ok($p[$i]{latency_ms}{p50} > 0 && $p[$i]{latency_ms}{p99}
       >= $p[$i]{latency_ms}{p50}, "$name: latency percentiles");
    ok(!exists $p[$i]{health_checks}, "$name: no health_checks without "
       . 'health_check');
}
is($p[2]{state}, 'down', 'a peer marked down says so');
is($p[2]{server}, '127.0.0.1:1', 'its address');
is($p[3]{backup}, JSON::PP::true, 'backup peer flagged');
is($p[3]{requests}, 0, 'backup peer unused');
is($doc->{checks}{'upstream:app'}{status}, 'healthy',
   'upstream:app healthy: a peer marked down is no failure');
is($doc->{checks}{'upstream:app'}{total_peers}, 3,
   'total_peers: the peers not marked down (backup included)');
is($doc->{checks}{'upstream:app'}{down_peers}, 1, 'down_peers: 1');

# failures: each request tries the dead peer at most once, then b1
for (1 .. 10) {
    my $r = $ng->get("/retry/x$_");
    is($r->{content}, 'b1', "retry $_ served by b1") if $r->{content} ne 'b1';
}
$doc = $ng->get_json('/health');
my ($r1, $rd) = @{ $doc->{upstreams}{retry}{peers} };
is($r1->{requests}, 10, 'retry: b1 answered all 10');
cmp_ok($rd->{requests}, '>=', 1, 'retry: the dead peer was tried');
is($rd->{fails}, $rd->{requests}, 'retry: every attempt on it failed');
is($rd->{failed_attempts}, $rd->{requests},
   'retry: every attempt a failed attempt (refused)');
is_deeply($rd->{responses}, { map { $_ => 0 } qw(1xx 2xx 3xx 4xx 5xx) },
          'retry: no responses from it');
is($rd->{state}, 'unavailable', 'nginx holds it unavailable after max_fails');

# timeouts count as failures too
for (1 .. 4) {
    my $r = $ng->get("/slow/y$_");
    is($r->{content}, 'b2', "slow $_ served by b2") if $r->{content} ne 'b2';
}
$doc = $ng->get_json('/health');
my ($s2, $ss) = @{ $doc->{upstreams}{slow}{peers} };
is($s2->{requests}, 4, 'slow: b2 answered all 4');
cmp_ok($ss->{requests}, '>=', 1, 'slow: the silent peer was tried');
is($ss->{fails}, $ss->{requests}, 'slow: every attempt on it timed out');
is($ss->{failed_attempts}, $ss->{requests},
   'slow: every attempt a failed attempt');
ok(!$ss->{latency_ms}{p50}, 'slow: no response time without a response');

# Prometheus agrees with the JSON, and promtool accepts it
my $m = $ng->get('/health?format=prometheus')->{content};
for my $i (0, 1) {
    my $name = "b" . ($i + 1);
    my $addr = $i ? $a2 : $a1;
    like($m, qr/^nginx_health_upstream_peer_requests_total\{upstream="app",peer="\Q$addr\E"\} $req{$name}$/m,
         "prometheus: $name requests");
    like($m, qr/^nginx_health_upstream_peer_response_duration_seconds_count\{upstream="app",peer="\Q$addr\E"\} $req{$name}$/m,
         "prometheus: $name histogram count");
    like($m, qr/^nginx_health_upstream_peer_response_duration_seconds_bucket\{upstream="app",peer="\Q$addr\E",le="\+Inf"\} $req{$name}$/m,
         "prometheus: $name +Inf bucket");
    like($m, qr/^nginx_health_upstream_peer_responses_total\{upstream="app",peer="\Q$addr\E",code="4xx"\} @{[ $class{$name}{'4xx'} \/\/ 0 ]}$/m,
         "prometheus: $name 4xx");
    like($m, qr/^nginx_health_upstream_peer_up\{upstream="app",peer="\Q$addr\E"\} 1$/m,
         "prometheus: $name up");
}
unlike($m, qr/^nginx_health_upstream_peer_up\{upstream="app",peer="127.0.0.1:1"\}/m,
     'prometheus: no peer_up for the peer marked down (no alert fires)');
like($m, qr/^nginx_health_upstream_peer_state\{upstream="app",peer="127.0.0.1:1",state="down"\} 1$/m,
     'prometheus: its state is down');
like($m, qr/^nginx_health_upstream_peer_state\{upstream="app",peer="\Q$a1\E",state="up"\} 1$/m,
     'prometheus: b1 state up');
my $dead_peer = qr/upstream="retry",peer="\Q$dead2\E"/;
like($m, qr/^nginx_health_upstream_peer_failed_attempts_total\{$dead_peer\} $rd->{requests}$/m,
     'prometheus: the refused attempts counted as failed attempts');
like($m, qr/^nginx_health_upstream_peer_response_duration_seconds_count\{$dead_peer\} 0$/m,
     'prometheus: and not in the duration histogram');
like($m, qr/^nginx_health_upstream_peer_response_duration_seconds_bucket\{$dead_peer,le="0.005"\} 0$/m,
     'prometheus: nor in its fastest bucket');

like($m, qr/^nginx_health_upstream_peer_up\{upstream="q\\"t\\\\x",peer="\Q$a1\E"\} 1$/m,
     'prometheus: a quote and a backslash in a group name are escaped');
ok(exists $doc->{upstreams}{'q"t\\x'}, 'JSON: the group under its own name');

{
    my ($promtool) = grep { -x } map { "$_/promtool" }
        split /:/, $ENV{PATH} // '';
    $promtool //= 'promtool';
    my $dir = tmp_dir('passive');
    spew("$dir/m.txt", $m);
    my ($rc, $out) = run_cmd('sh', '-c', "'$promtool' check metrics < '$dir/m.txt'");
    is($rc, 0, 'promtool check metrics') or diag $out;
}

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
