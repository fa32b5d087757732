#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A peer that fails its checks while nginx holds kept-alive connections to
# it: the cached connections are not used (they are closed when the
# balancer picks the peer), nothing breaks, and the peer comes back when
# its check passes again.  The check sends the group's name as Host.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

# /hc answers 200 while hc.txt exists and the Host is the group's
sub backend {
    my ($name) = @_;
    my $be = HealthTest::Nginx->new(conf => <<"EOF2");
    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_requests 10000;
        keepalive_timeout 60s;
        location / { return 200 "$name"; }
        location = /hc {
            if (\$http_host != "ka") { return 421; }
            root %%DIR%%/html;
            try_files /hc.txt =503;
        }
    }
EOF2
    spew($be->dir . '/html/hc.txt', "ok\n");
    return $be->start;
}

my @b = (backend('g'), backend('x'));
my @addr = map { '127.0.0.1:' . $_->port } @b;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF2");
    upstream ka {
        server $addr[0];
        server $addr[1];
        keepalive 8;
        health_check uri=/hc interval=200ms timeout=5s fails=1 passes=1
                     status=200;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            proxy_pass http://ka;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }

        location = /health { health_status; }
    }
EOF2
$ng->start;

sub peers { $ng->get_json('/health')->{upstreams}{ka}{peers} }

ok(wait_until(sub { my $p = peers();
                    $p->[0]{health_checks}{last_passed}
                    && $p->[1]{health_checks}{last_passed} }, timeout => 10),
   'checks pass: the Host header is the group name');

my %seen;
$seen{ $ng->get("/a$_")->{content} }++ for 1 .. 20;
is_deeply(\%seen, { g => 10, x => 10 }, 'both peers used, connections kept');

# x fails its checks; nginx still holds idle connections to it
unlink $b[1]->dir . '/html/hc.txt';
ok(wait_until(sub { peers()->[1]{state} eq 'unhealthy' }, timeout => 10),
   'x unhealthy');

%seen = ();
for (1 .. 50) {
    my $r = $ng->get("/b$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 g' => 50 },
          'all 50 requests to g, none over a cached connection to x');

spew($b[1]->dir . '/html/hc.txt', "ok\n");
ok(wait_until(sub { peers()->[1]{state} eq 'up' }, timeout => 10),
   'x back after its check passes');

%seen = ();
$seen{ $ng->get("/c$_")->{content} }++ for 1 .. 20;
ok($seen{g} && $seen{x}, 'both peers in rotation again')
    or diag explain \%seen;

my $p = peers();
is($p->[0]{requests} + $p->[1]{requests}, 90, 'every request counted once');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
