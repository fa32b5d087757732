#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Only worker processes run active checks: with proxy_cache_path, the
# cache manager (a child of the master that runs the event loop too) never
# opens a check connection nor holds a check lease.  Six peers that accept
# and never answer keep each check connection open for the whole timeout,
# so /proc shows which process holds it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

my @silent = map {
    IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                          Listen => 64, Proto => 'tcp') or die "listen: $!\n"
} 1 .. 6;
my %port = map { $_->sockport => 1 } @silent;
my $servers = join "\n", map { "        server 127.0.0.1:" . $_->sockport . ";" }
    @silent;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF2");
    proxy_cache_path %%DIR%%/cache keys_zone=c:1m;

    upstream app {
$servers
        health_check uri=/hc interval=100ms timeout=2s;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://app; proxy_cache c; }
        location = /health { health_status; }
    }
EOF2
$ng->start;

# a child's title is set a moment after the fork
sub titled {
    my ($re) = @_;
    return grep { (slurp("/proc/$_/cmdline") // '') =~ $re } $ng->worker_pids;
}
my ($manager, @workers);
ok(wait_until(sub { ($manager) = titled(qr/cache manager/) }, timeout => 10),
   'a cache manager runs');
ok(wait_until(sub { @workers = titled(qr/worker process/) }, timeout => 10),
   'a worker runs');
is(scalar @workers, 1, 'one worker process');

# socket inodes of established connections to the silent peers
sub check_inodes {
    my %ino;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        for (split /\n/, slurp($f) // '') {
            my @f = split ' ';
            next unless @f > 9 && $f[2] =~ /:([0-9A-F]{4})$/;
            $ino{ $f[9] } = 1 if $port{ hex $1 };
        }
    }
    return \%ino;
}

# pids of the processes holding one of them
sub holders {
    my $ino = check_inodes();
    my %pid;
    for my $pid ($ng->worker_pids) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $l = readlink($fd) // next;
            $pid{$pid}++ if $l =~ /^socket:\[(\d+)\]$/ && $ino->{$1};
        }
    }
    return \%pid;
}

# sample while checks run: every peer is checked, by the worker only
my %seen;
my $t_end = time + 3;
while (time < $t_end) {
    my $h = holders();
    $seen{$_} += $h->{$_} for keys %$h;
    sleep 0.1;
}
ok($seen{ $workers[0] }, 'the worker holds check connections');
ok(!$manager || !$seen{$manager},
   'the cache manager holds none') or diag explain \%seen;
is_deeply([sort keys %seen], [$workers[0]], 'no other process checks');

my $doc = $ng->get_json('/health');
is(scalar(grep { $_->{health_checks}{checks} >= 1 }
          @{ $doc->{upstreams}{app}{peers} }), 6, 'all six peers checked');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
