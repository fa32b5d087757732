#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Reloads: the same groups and peers keep their counters and check results
# (the new workers take the check leases over); a changed peer list gets a
# fresh segment and says so.  Since issue 12 the peers that stay keep their
# counters there (blocks are found by name), only their check state starts
# again; the new peer counts from zero.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub backend {
    my ($name, $hc) = @_;
    return HealthTest::Nginx->backend($name, hc => $hc);
}

my @b = (backend('b1', 200), backend('b2', 500), backend('b3', 200));
my @addr = map { '127.0.0.1:' . $_->port } @b;

sub conf {
    my (@peers) = @_;
    my $check = 'health_check uri=/hc interval=200ms timeout=5s fails=1 '
        . 'passes=1;';
    $check = '' if $peers[0] eq 'nocheck' && shift @peers;
    my $servers = join "\n", map { "        server $_;" } @peers;
    return <<"EOF2";
    upstream app {
$servers
        $check
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://app; proxy_next_upstream off; }
        location = /health { health_status; }
    }
EOF2
}

my $ng = HealthTest::Nginx->new(workers => 2, conf => conf(@addr[0, 1]));
$ng->start;

sub status { scalar $ng->get_json('/health') }

ok(wait_until(sub { status()->{upstreams}{app}{peers}[1]{state} eq 'unhealthy' },
              timeout => 10), 'b2 unhealthy');
$ng->get("/r$_") for 1 .. 25;
my $before = status()->{upstreams}{app}{peers};
is($before->[0]{requests}, 25, '25 requests on b1');

$ng->reload(conf => conf(@addr[0, 1]));
my $after = status()->{upstreams}{app}{peers};
is($after->[0]{requests}, 25, 'a compatible reload keeps the counters');
is($after->[1]{state}, 'unhealthy', 'and the check results');
cmp_ok($after->[1]{health_checks}{checks}, '>=',
       $before->[1]{health_checks}{checks}, 'check counts carry on');

# the new workers take the leases over and keep checking
my $n = $after->[0]{health_checks}{checks};
ok(wait_until(sub { status()->{upstreams}{app}{peers}[0]{health_checks}{checks}
                    >= $n + 5 }, timeout => 10),
   'checks go on after the reload');

$ng->reload(conf => conf(@addr));
my $doc = status();
is(scalar @{ $doc->{upstreams}{app}{peers} }, 3, 'a third peer after reload');
is($doc->{upstreams}{app}{peers}[0]{requests}, 25,
   'a changed peer list: the peers that stay keep their counters');
is($doc->{upstreams}{app}{peers}[2]{requests}, 0, 'the new one counts from zero');
like(slurp($ng->error_log) // '', qr/a new shared zone .* 2 of 3 zones and peers carry/,
     'error.log says the layout changed, and what was kept');
ok(wait_until(sub { status()->{upstreams}{app}{peers}[1]{state} eq 'unhealthy' },
              timeout => 10), 'b2 found unhealthy again');
my %seen;
$seen{ $ng->get("/s$_")->{content} }++ for 1 .. 30;
ok(!$seen{b2} && $seen{b1} && $seen{b3}, 'traffic to b1 and b3 only')
    or diag explain \%seen;

# health_check removed, same peers: the segment is kept, its check
# results are not used any more
my $reqs = status()->{upstreams}{app}{peers}[0]{requests};
$ng->reload(conf => conf('nocheck', @addr));
$doc = status();
is($doc->{upstreams}{app}{peers}[0]{requests}, $reqs,
   'same peers without health_check: counters kept');
is($doc->{upstreams}{app}{peers}[1]{state}, 'up',
   'b2 no longer held out of rotation');
ok(!exists $doc->{upstreams}{app}{peers}[1]{health_checks},
   'no health_checks object without health_check');
%seen = ();
$seen{ $ng->get("/t$_")->{content} }++ for 1 .. 30;
ok($seen{b1} && $seen{b2} && $seen{b3}, 'traffic to every peer again')
    or diag explain \%seen;

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
