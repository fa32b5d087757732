#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Check state and check leases across reloads:
#
# - a reload that rebuilds the shared segment for a reason of its own (a
#   changed health_window; an added health_zone used to, issue 12 keeps the
#   segment for that) keeps the verdicts of unchanged groups: a dead peer
#   stays out of rotation at once and gets no request;
# - the workers of a new configuration take the check leases at once, even
#   while an old worker is still finishing a request (it used to hold them
#   for up to 2 x interval + timeout).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use HealthTest qw(:all);

my @b = (HealthTest::Nginx->backend('b1', hc => 200),
         HealthTest::Nginx->backend('b2', hc => 503));
my @addr = map { '127.0.0.1:' . $_->port } @b;

# a peer that accepts and never answers: keeps an old worker busy
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, Proto => 'tcp')
    or die "listen: $!\n";
my $silent_addr = '127.0.0.1:' . $silent->sockport;

# fails=3 at interval=1s: a fresh state needs two seconds or more to find
# b2 failing again, so "unhealthy right after the reload" is inherited
sub conf {
    my ($extra, $interval, $timeout) = @_;
    $timeout //= "5s";
    return <<"EOF2";
    $extra
    upstream app {
        server $addr[0];
        server $addr[1];
        health_check uri=/hc interval=$interval timeout=$timeout fails=3 passes=1;
    }

    upstream silent { server $silent_addr; }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://app; proxy_next_upstream off; }
        location /hang { proxy_pass http://silent; proxy_read_timeout 60s; }
        location = /health { health_status; }
    }
EOF2
}

my $ng = HealthTest::Nginx->new(workers => 1, conf => conf('', '1s'));
$ng->start;

sub peers { $ng->get_json('/health')->{upstreams}{app}{peers} }

ok(wait_until(sub { peers()->[1]{state} eq 'unhealthy' }, timeout => 15),
   'b2 unhealthy');

$ng->reload(conf => conf('health_zone other; health_window 30s;', '1s'));
like(slurp($ng->error_log) // '', qr/a new shared zone/,
     'an unrelated health_window rebuilt the segment');
my $p = peers();
is($p->[1]{state}, 'unhealthy', 'b2 still unhealthy right after the reload');
cmp_ok($p->[1]{health_checks}{checks}, '>=', 3, 'its check history kept');
my %seen;
$seen{ $ng->get("/r$_")->{content} }++ for 1 .. 20;
is_deeply(\%seen, { b1 => 20 }, 'no request reaches b2');
like(slurp($ng->error_log) // '',
     qr/upstream "app" unchanged, its check state carries over/,
     'error.log says the check state carried over');

# leases: interval=5s timeout=5s (a 15s lease), an old worker kept busy
$ng->reload(conf => conf("health_zone other;", "5s", "5s"));
my $c0;
ok(wait_until(sub { ($c0 = peers()->[0]{health_checks}{checks}) >= 1 },
              timeout => 15), 'checks run at interval=5s');
# one worker: the one holding the leases is the one kept busy
my @hang = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
                          Proto => 'tcp') or die "connect: $!\n"
} 1 .. 2;
print {$_} "GET /hang HTTP/1.0\r\nHost: x\r\n\r\n" for @hang;
ok(wait_until(sub { $silent->blocking(0); my $s = $silent->accept }, timeout => 5),
   'a request waits on the silent peer');
$c0 = peers()->[0]{health_checks}{checks};
my @old = $ng->worker_pids;
my $t0 = time;
$ng->reload(conf => conf("health_zone other;", "5s", "5s"), nowait => 1);
# the new workers' first check comes within one interval (5s)
ok(wait_until(sub { peers()->[0]{health_checks}{checks} > $c0 },
              timeout => 9, step => 0.1),
   sprintf('a new worker checks after the reload (%.1fs), while an old '
           . 'one still holds a request', time - $t0));
# alive for the request it holds, once it has handled the master's QUIT
ok(@old && wait_until(sub {
    !grep { (slurp("/proc/$_/cmdline") // '') !~ /shutting down/ } @old;
}, timeout => 20), 'the old worker is still there');
close $_ for @hang;

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
