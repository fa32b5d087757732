#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The wrapper works under every balancer that keeps round-robin peers:
# round-robin, least_conn, hash, consistent hash, ip_hash, random, and
# with a shared zone and keepalive connections.  A peer failing its checks gets no
# traffic under any of them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub backend {
    my ($name, $hc) = @_;
    return HealthTest::Nginx->backend($name, hc => $hc,
                                      extra => 'keepalive_requests 10000;');
}

my @good = (backend('g1', 200), backend('g2', 200));
my $bad = backend('bad', 503);
my @addr = map { '127.0.0.1:' . $_->port } @good, $bad;

my %variants = (
    rr         => '',
    least_conn => 'least_conn;',
    hash       => 'hash $request_uri;',
    chash      => 'hash $request_uri consistent;',
    random     => 'random two least_conn;',
    ip_hash    => 'ip_hash;',
    zone_ka    => "zone z_ka 64k;\n        least_conn;\n        keepalive 4;",
    weighted   => '',
);

my $ups = '';
my $locs = '';
for my $v (sort keys %variants) {
    my $w = $v eq 'weighted' ? ' weight=5' : '';
    $ups .= <<"EOF2";
    upstream $v {
        $variants{$v}
        server $addr[0];
        server $addr[1];
        server $addr[2]$w;
        health_check uri=/hc interval=200ms timeout=5s fails=1;
    }
EOF2
    $locs .= <<"EOF2";
        location /$v/ {
            proxy_pass http://$v;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }
EOF2
}

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF2");
$ups
    server {
        listen 127.0.0.1:%%PORT%%;
$locs
        location = /health { health_status; }
    }
EOF2
$ng->start;

my $doc = wait_until(sub {
    my $d = $ng->get_json('/health');
    return (!grep { $d->{upstreams}{$_}{peers}[2]{state} ne 'unhealthy' }
            keys %variants) ? $d : undef;
}, timeout => 10);
ok($doc, 'the bad peer is unhealthy in every group');

for my $v (sort keys %variants) {
    my %seen;
    $seen{ $ng->get("/$v/u$_")->{content} }++ for 1 .. 60;
    ok(!$seen{bad} && ($seen{g1} // 0) + ($seen{g2} // 0) == 60,
       "$v: 60 requests, none to the unhealthy peer")
        or diag explain \%seen;
    $doc = $ng->get_json('/health');
    my @p = @{ $doc->{upstreams}{$v}{peers} };
    is($p[0]{requests} + $p[1]{requests}, 60, "$v: peer requests add up");
    is($p[2]{requests}, 0, "$v: the unhealthy peer counted no request");
}

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
