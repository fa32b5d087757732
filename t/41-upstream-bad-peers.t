#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Peers that answer but badly: 500 on the check URI, or slower than the
# check timeout (a listening socket that never answers).  Both leave
# rotation.  When every peer fails its checks but still serves traffic,
# the group fails open: requests keep being proxied, the status says so.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;

use HealthTest qw(:all);

sub backend {
    my ($name, $hc) = @_;
    return HealthTest::Nginx->backend($name, hc => $hc);
}

my $good = backend('good', 200);
my $bad = backend('bad', 500);
my $b404 = backend('nf', 404);

# a peer slower than the timeout: the kernel completes the handshake, but
# nobody ever reads the request or answers
my $slow = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 16, Proto => 'tcp')
    or die "listen: $!\n";
my $slow_addr = '127.0.0.1:' . $slow->sockport;

my ($g, $x, $n) = map { '127.0.0.1:' . $_->port } $good, $bad, $b404;

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF2");
    upstream app {
        server $g;
        server $x;
        health_check uri=/hc interval=200ms timeout=5s fails=2 passes=2;
    }

    # the short timeout in a group of its own: no healthy peer can miss it
    # on a loaded machine
    upstream slow {
        server $g;
        server $slow_addr;
        health_check uri=/hc interval=200ms timeout=300ms fails=2 passes=2;
    }

    # 404 accepted by an explicit list
    upstream lists {
        server $n;
        health_check uri=/hc interval=200ms timeout=5s fails=1
                     status=200,404,500-503;
    }

    # both peers fail their checks but serve: fail-open keeps them (a
    # peer marked down is not checked and does not count); max_ejected
    # lets both leave
    upstream open {
        server $x;
        server $n;
        server 127.0.0.1:1 down;
        health_check uri=/hc interval=200ms timeout=5s fails=1 passes=1
                     status=200 max_ejected=100%;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        proxy_next_upstream off;

        location / { proxy_pass http://app; }
        location /lists/ { proxy_pass http://lists; }
        location /open/ { proxy_pass http://open; }
        location = /health { health_status; }
    }
EOF2
$ng->start;

sub status { scalar $ng->get_json('/health') }

my $doc = wait_until(sub {
    my $d = status();
    my @p = @{ $d->{upstreams}{app}{peers} };
    return ($p[1]{state} eq 'unhealthy'
            && $d->{upstreams}{slow}{peers}[1]{state} eq 'unhealthy'
            && $d->{upstreams}{open}{fail_open}) ? $d : undef;
}, timeout => 10);
ok($doc, 'bad peers marked unhealthy') or diag explain status();

my @p = @{ $doc->{upstreams}{app}{peers} };
is($p[0]{state}, 'up', 'good peer up');
is($p[1]{state}, 'unhealthy', 'peer answering 500 on the check URI unhealthy');
is($p[1]{health_checks}{last_status}, 500, 'its last check saw 500');
is($p[1]{health_checks}{last_error}, 'status not accepted',
   'and says why');
my $sp = $doc->{upstreams}{slow}{peers}[1];
is($sp->{state}, 'unhealthy', 'peer slower than the timeout unhealthy');
is($sp->{health_checks}{last_error}, 'timed out', 'its checks timed out');
ok(!exists $sp->{health_checks}{last_status}, 'with no status');
is($doc->{checks}{'upstream:app'}{status}, 'degraded', 'app degraded');
is($doc->{checks}{'upstream:app'}{healthy_peers}, 1, 'one healthy peer of 2');

is($doc->{upstreams}{lists}{peers}[0]{state}, 'up',
   '404 passes with status=200,404,500-503');
is($doc->{checks}{'upstream:lists'}{status}, 'healthy', 'lists healthy');

my %seen;
$seen{ $ng->get("/r$_")->{content} }++ for 1 .. 60;
is_deeply(\%seen, { good => 60 }, 'only the good peer gets traffic');

is($doc->{upstreams}{open}{fail_open}, JSON::PP::true, 'open fails open');
is($doc->{checks}{'upstream:open'}{status}, 'degraded',
   'upstream:open degraded at most (required=off)');
%seen = ();
$seen{ $ng->get("/open/$_")->{status} }++ for 1 .. 20;
is_deeply(\%seen, { 200 => 20 },
          'fail-open: requests still reach the peers that failed checks');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
