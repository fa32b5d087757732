#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Across 2 workers, 20,000 requests mixed 200/404/503 from parallel
# keep-alive clients, with a reload in the middle of the load, are each
# counted exactly once: requests, classes and codes.  The counters survive
# the reload, and the status location (health_zone off) is not counted.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

use HealthTest qw(:all);

my $CLIENTS = 8;
my $PER_CLIENT = 2500;
my $TOTAL = $CLIENTS * $PER_CLIENT;

my $conf = <<'EOF2';
    health_service exact;
    health_zone load;

    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_requests 100000;

        location /ok      { return 200 "ok\n"; }
        location /missing { return 404; }
        location /fail    { return 503; }

        location /health  { health_zone off; health_status; }
    }
EOF2

my $ng = HealthTest::Nginx->new(workers => 2, conf => $conf);
$ng->start;

my $doc = $ng->get_json('/health');
is($doc->{zones}{load}{requests}, 0, 'nothing counted at start');

my $dir = $ng->dir;
my @kids;

for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
        my %got;
        my $base = $ng->url('');
        for my $i (1 .. $PER_CLIENT) {
            # the last quarter waits for the reload, so that the reload is
            # in the middle of the load however fast or slow the machine
            if ($i == int($PER_CLIENT * 3 / 4) + 1) {
                my $until = time + 300;    # the test died: go on
                sleep 0.01 until -e "$dir/reloaded" or time > $until;
            }
            my $k = ($i + $c) % 10;
            my $path = $k < 7 ? '/ok' : $k < 9 ? '/missing' : '/fail';
            for my $try (1 .. 20) {
                my $r = $ua->get("${base}$path");
                # 599: the connection was closed under us (a worker of the
                # old generation leaving); nginx never saw the request
                if ($r->{status} != 599) {
                    $got{$r->{status}}++;
                    last;
                }
                $got{retries}++;
            }
        }
        spew("$dir/client-$c", join '', map { "$_ $got{$_}\n" } sort keys %got);
        _exit(0);
    }
    push @kids, $pid;
}

# reload once the load is well under way
my $seen = wait_until(sub {
    my $d = $ng->get_json('/health');
    my $n = $d ? $d->{zones}{load}{requests} : 0;
    $n >= $TOTAL / 4 ? $n : 0;
}, timeout => 60, step => 0.02);

ok($seen, "load under way before the reload ($seen requests)");
my @old = $ng->worker_pids;
$ng->reload;
my %old = map { $_ => 1 } @old;
# old workers may still be finishing their keep-alive connections
ok(wait_until(sub { (grep { !$old{$_} } $ng->worker_pids) == 2 },
              timeout => 60),
   'two new workers after reload');

my $after = $ng->get_json('/health');
cmp_ok($after->{zones}{load}{requests}, '>=', $seen,
       'counters carried over the reload');
cmp_ok($after->{zones}{load}{requests}, '<=', $TOTAL * 3 / 4,
       'reload happened in the middle of the load');
spew("$dir/reloaded", '');

waitpid($_, 0) for @kids;
is($? >> 8, 0, 'clients finished');

my %sent;
for my $c (1 .. $CLIENTS) {
    for (split /\n/, slurp("$dir/client-$c") // '') {
        my ($k, $v) = split / /;
        $sent{$k} += $v;
    }
}

is($sent{200} + $sent{404} + $sent{503}, $TOTAL,
   "clients got $TOTAL answers ($sent{200} x 200, $sent{404} x 404, "
   . "$sent{503} x 503, " . ($sent{retries} // 0) . ' retried)');

my ($r, $final) = $ng->wait_counted('load', $TOTAL);
my $z = $final->{zones}{load};

is($z->{requests}, $TOTAL, "exactly $TOTAL requests counted");
is($z->{responses}{'2xx'}, $sent{200}, '2xx counted exactly once each');
is($z->{responses}{'4xx'}, $sent{404}, '4xx counted exactly once each');
is($z->{responses}{'5xx'}, $sent{503}, '5xx counted exactly once each');
is($z->{responses}{'1xx'} + $z->{responses}{'3xx'}, 0, 'no 1xx or 3xx');
is_deeply($z->{responses}{codes},
          { 200 => $sent{200}, 404 => $sent{404}, 503 => $sent{503} },
          'exact codes');
cmp_ok($z->{bytes_in}, '>', 0, 'bytes in counted');
cmp_ok($z->{bytes_out}, '>', 100 * $TOTAL, 'bytes out counted');
cmp_ok($z->{bytes_out}, '<', 400 * $TOTAL,
       'bytes out are per request, not per keep-alive connection');

# the status location itself (health_zone off) was polled many times
my $again = $ng->get_json('/health');
is($again->{zones}{load}{requests}, $TOTAL,
   'the status location is not counted');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
