#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# One worker checks a peer at a time: with four workers the backend sees
# one check per interval, not four.  When the workers holding the leases
# die, the new ones take the checks over.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

my $be = HealthTest::Nginx->new(conf => <<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "b"; }
        location = /hc { access_log %%DIR%%/logs/hc.log; return 200; }
    }
EOF2
$be->start;
my $hc_log = $be->dir . '/logs/hc.log';
sub hc_seen { scalar(() = (slurp($hc_log) // '') =~ /GET \/hc /g) }

my $addr = '127.0.0.1:' . $be->port;
# the workers killed below are reported by the master, as they should be
my $ng = HealthTest::Nginx->new(workers => 4,
    allow_log => qr/worker process \d+ exited on signal 9/, conf => <<"EOF2");
    upstream app {
        server $addr;
        health_check uri=/hc interval=100ms timeout=5s;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://app; }
        location = /health { health_status; }
    }
EOF2
$ng->start;

sub checks {
    $ng->get_json('/health')->{upstreams}{app}{peers}[0]{health_checks}{checks}
}

ok(wait_until(sub { checks() >= 3 }, timeout => 10), 'checks run');
my ($n0, $t0) = (hc_seen(), time);
sleep 2;
my ($n1, $t1) = (hc_seen(), time);
# an upper bound: a loaded machine only checks less often
my $max = int(($t1 - $t0) / 0.1) + 3;
cmp_ok($n1 - $n0, '<=', $max,
       sprintf('the backend got %d checks in %.1fs from 4 workers '
               . '(one per 100ms is %d)', $n1 - $n0, $t1 - $t0, $max - 3));
ok(wait_until(sub { hc_seen() >= $n1 + 5 }, timeout => 15),
   'and they keep coming');

# every check is counted once: the backend logs a check around the time
# nginx counts it, and one check at a time is in flight, so the count read
# just before the log is at most one ahead, the one read after at most one
# behind
my ($ca, $n, $cb) = (checks(), hc_seen(), checks());
ok($ca <= $n + 1 && $n <= $cb + 1,
   "the checks counted are the ones the backend saw ($ca <= $n <= $cb)");

# the lease holders die: the new workers take over
my @old = $ng->worker_pids;
kill 'KILL', @old;
ok(wait_until(sub {
    my @w = $ng->worker_pids;
    @w == 4 && !grep { my $o = $_; grep { $_ == $o } @old } @w
}, timeout => 10), 'the master started 4 new workers');
my $c2 = checks();
ok(wait_until(sub { checks() >= $c2 + 5 }, timeout => 15),
   'checks go on under the new workers');

($n0, $t0) = (hc_seen(), time);
sleep 1;
($n1, $t1) = (hc_seen(), time);
cmp_ok($n1 - $n0, '<=', int(($t1 - $t0) / 0.1) + 3,
       'still one worker at a time');

$ng->stop;

done_testing;
