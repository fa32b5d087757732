#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Peer health in Prometheus: every active check counted by its result
# (nginx_health_upstream_peer_checks_total{result}), its round trip
# (nginx_health_upstream_peer_check_duration_seconds, a summary, and the
# last one as a gauge), and the attempts nginx counted as failed
# (nginx_health_upstream_peer_fails_total).  What holds by construction is
# asserted: a peer whose check endpoint answers 200 has only "passed"
# checks, one answering 503 only "status", a closed port only "connect",
# a listener that never answers only "timeout", each check no shorter than
# the timeout there; _count is the sum of the results; every attempt at a
# closed port is a failed attempt, a fail, and a request of that peer.
# The JSON says the same per peer (health_checks.results, last_rtt_ms).
# promtool accepts the page.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;

use HealthTest qw(:all);

sub backend {
    my ($hc) = @_;
    return HealthTest::Nginx->new(conf => <<"EOF2")->start;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok"; }
        location = /hc { return $hc "hc"; }
    }
EOF2
}

my $good = backend(200);
my $bad = backend(503);
my ($ag, $ab) = map { '127.0.0.1:' . $_->port } $good, $bad;
my $closed = '127.0.0.1:' . free_port();

# a listener that accepts (the kernel does, from its backlog) and never
# answers: every check of it times out
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 128, Proto => 'tcp')
    or die "listen: $!\n";
my $as = '127.0.0.1:' . $silent->sockport;

my $ng = HealthTest::Nginx->new(conf => <<"EOF")->start;
    upstream checked {
        zone checked 64k;
        server $ag;
        server $ab;
        server $closed;
        server $as;
        health_check uri=/hc interval=200ms timeout=300ms fails=1 passes=1
                     max_ejected=100%;
    }

    # no health_check: passive figures only
    upstream plain {
        zone plain 64k;
        server $ag max_fails=0;
        server $closed max_fails=0;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /plain/ { proxy_pass http://plain/; }
    }
EOF

sub metrics {
    my $r = $ng->get('/health?format=prometheus');
    my %m;
    for (split /\n/, $r->{content}) {
        next if /^#/;
        my ($name, $labels, $v) = /^(\w+)(?:\{(.*)\})? (\S+)$/ or next;
        my %l = ($labels // '') =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        push @{ $m{$name} }, { %l, value => $v };
    }
    return (\%m, $r->{content});
}

sub series {
    my ($m, $name, %want) = @_;
    my @s = grep { my $s = $_; !grep { ($s->{$_} // '') ne $want{$_} } keys %want }
            @{ $m->{$name} // [] };
    return @s;
}

sub value {
    my @s = series(@_);
    return @s == 1 ? $s[0]{value} : undef;
}

my %RESULT = ($ag => 'passed', $ab => 'status', $closed => 'connect',
              $as => 'timeout');
my @RESULTS = qw(passed connect timeout closed invalid status header body
               tls_handshake tls_verify);

# every peer of "checked" has had at least three checks
my ($m, $page);
ok(wait_until(sub {
    ($m, $page) = metrics();
    !grep { (value($m, 'nginx_health_upstream_peer_check_duration_seconds_count',
                   upstream => 'checked', peer => $_) // 0) < 3 } keys %RESULT;
}, timeout => 30), 'every peer has been checked three times')
    or diag $page;

for my $peer (sort keys %RESULT) {
    my $want = $RESULT{$peer};
    my %by = map { $_->{result} => $_->{value} }
             series($m, 'nginx_health_upstream_peer_checks_total',
                    upstream => 'checked', peer => $peer);

    is_deeply([sort keys %by], [sort @RESULTS],
              "$peer: a series for every result");
    cmp_ok($by{$want}, '>=', 3, "$peer: its checks are \"$want\"");
    is(join(',', map { "$_=$by{$_}" } grep { $_ ne $want && $by{$_} } @RESULTS),
       '', "$peer: and nothing else");

    my $sum = 0;
    $sum += $_ for values %by;
    is(value($m, 'nginx_health_upstream_peer_check_duration_seconds_count',
             upstream => 'checked', peer => $peer),
       $sum, "$peer: the summary's _count is the sum of the results");

    my $total = value($m, 'nginx_health_upstream_peer_check_duration_seconds_sum',
                      upstream => 'checked', peer => $peer);
    my $last = value($m, 'nginx_health_upstream_peer_check_last_duration_seconds',
                     upstream => 'checked', peer => $peer);
    ok(defined $total && defined $last, "$peer: round trips are there");
    cmp_ok($last, '<=', $total, "$peer: the last within the sum");
    cmp_ok($last, '<', 0.3, "$peer: a check that is answered or refused "
           . "ends before the timeout") if $want ne 'timeout';
}

# a timed-out check lasted its timeout (300 ms; the timer cannot fire
# before it, give or take the event loop's cached clock)
cmp_ok(value($m, 'nginx_health_upstream_peer_check_last_duration_seconds',
             upstream => 'checked', peer => $as), '>=', 0.25,
       'a timed-out check lasted its timeout');
cmp_ok(value($m, 'nginx_health_upstream_peer_check_duration_seconds_sum',
             upstream => 'checked', peer => $as), '>=', 3 * 0.25,
       'and so did every one before it');

# the JSON says the same
my $doc = $ng->get_json('/health');
my %peer = map { $_->{server} => $_ } @{ $doc->{upstreams}{checked}{peers} };

for my $p (sort keys %RESULT) {
    my $res = $peer{$p}{health_checks}{results};
    is_deeply([sort keys %$res], [sort @RESULTS], "JSON $p: every result");
    cmp_ok($res->{$RESULT{$p}}, '>=', 3, "JSON $p: \"$RESULT{$p}\"");
    my $n = 0;
    $n += $_ for values %$res;
    # a check may end while the document is written: one apart at most
    cmp_ok(abs($n - $peer{$p}{health_checks}{checks}), '<=', 1,
           "JSON $p: the results are the checks");
    ok(defined $peer{$p}{health_checks}{last_rtt_ms}, "JSON $p: last_rtt_ms");
}
cmp_ok($peer{$as}{health_checks}{last_rtt_ms}, '>=', 250,
       'JSON: the timed-out check took its timeout');

# no health_check, no check families
is(scalar(series($m, 'nginx_health_upstream_peer_checks_total',
                 upstream => 'plain')), 0, 'a group without health_check has '
   . 'no check results');

###########################################################################
# fails: 20 requests through "plain", every attempt at the closed port
# fails (max_fails=0 keeps it in rotation) and the request moves on

for (1 .. 20) {
    my $r = $ng->get("/plain/x$_");
    is($r->{status}, 200, "request $_ served") unless $r->{status} == 200;
}

my ($fails, $attempts, $requests, $gfails);
ok(wait_until(sub {
    ($m) = metrics();
    $fails = value($m, 'nginx_health_upstream_peer_fails_total',
                   upstream => 'plain', peer => $closed);
    $attempts = value($m, 'nginx_health_upstream_peer_failed_attempts_total',
                      upstream => 'plain', peer => $closed);
    $requests = value($m, 'nginx_health_upstream_peer_requests_total',
                      upstream => 'plain', peer => $closed);
    my $ok = value($m, 'nginx_health_upstream_peer_responses_total',
                   upstream => 'plain', peer => $ag, code => '2xx');
    defined $ok && $ok == 20;
}), 'the 20 answers are counted');

cmp_ok($fails, '>', 0, 'the closed peer was tried');
is($fails, $attempts, 'each of its attempts is a fail ...');
is($fails, $requests, '... and a request of that peer');
is(value($m, 'nginx_health_upstream_peer_fails_total', upstream => 'plain',
         peer => $ag), 0, 'the good peer: no fails');

$doc = $ng->get_json('/health');
%peer = map { $_->{server} => $_ } @{ $doc->{upstreams}{plain}{peers} };
is($peer{$closed}{fails}, $fails, 'JSON fails equals the counter');

###########################################################################
# promtool

my $dir = $ng->dir;
spew("$dir/metrics.txt", metrics() && (metrics())[1]);
my ($rc, $out) = run_cmd('sh', '-c', "promtool check metrics < $dir/metrics.txt");
is($rc, 0, 'promtool check metrics passes') or diag $out;

$ng->stop;
done_testing();
