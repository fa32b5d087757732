#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Durations come from the monotonic clock: when the wall clock is set back
# an hour (or forward a day) under a running nginx, uptime_s stays a small
# positive number that only grows, the window keeps the requests it had,
# and rps stays a finite positive number.  The timestamp follows the wall
# clock, as a timestamp should.
#
# The wall clock is stepped with libfaketime (the harness's faketime =>
# 'wall': the offset is read from a file on every call, CLOCK_MONOTONIC is
# left alone).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::Local qw(timegm);

use HealthTest qw(:all);

my $ng = HealthTest::Nginx->new(faketime => 'wall', conf => <<'EOF2');
    health_window 1d;
    health_zone site;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /       { return 200 "hello\n"; }
        location /health { health_zone off; health_status; }
    }
EOF2

$ng->start;

sub ts {
    my ($t) = @_;
    my ($y, $mo, $d, $h, $mi, $s) = $t =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/
        or return undef;
    return timegm($s, $mi, $h, $d, $mo - 1, $y);
}

# a status whose timestamp says the wall clock moved by about $delta
sub after_step {
    my ($before, $delta) = @_;
    my $doc;
    wait_until(sub {
        $ng->get('/');    # a request wakes the worker, which reads the clock
        $doc = $ng->get_json('/health');
        $doc && abs(ts($doc->{timestamp}) - ($before + $delta)) < 600;
    }, timeout => 20);
    return $doc;
}

$ng->get('/') for 1 .. 30;

my $doc = $ng->get_json('/health');
my $t0 = ts($doc->{timestamp});
my $up0 = $doc->{uptime_s};
cmp_ok($up0, '>=', 0, 'uptime_s before the step');
is($doc->{zones}{site}{window}{requests}, 30, 'window: 30 requests');

# one hour back
$ng->set_clock("-3600");
$doc = after_step($t0, -3600);
ok($doc, 'the wall clock went back an hour')
    or BAIL_OUT('libfaketime had no effect on nginx');

my $w = $doc->{zones}{site}{window};
cmp_ok($doc->{uptime_s}, '>=', $up0, 'uptime_s did not go back');
cmp_ok($doc->{uptime_s}, '<', $up0 + 300, 'nor jump');
is($w->{requests}, $doc->{zones}{site}{requests},
   'the window kept every request');
ok(defined $w->{rps} && $w->{rps} > 0 && $w->{rps} <= $w->{requests},
   'rps is a finite positive number') or diag explain $w;

my $up1 = $doc->{uptime_s};

# a day forward
$ng->set_clock("+86400");
$doc = after_step($t0, 86400);
ok($doc, 'the wall clock went forward a day');
$w = $doc->{zones}{site}{window};
cmp_ok($doc->{uptime_s}, '>=', $up1, 'uptime_s still grows');
cmp_ok($doc->{uptime_s}, '<', $up0 + 300, 'by the time that passed');
is($w->{requests}, $doc->{zones}{site}{requests},
   'the window still has every request');
ok(defined $w->{rps} && $w->{rps} > 0 && $w->{rps} <= $w->{requests},
   'rps is a finite positive number') or diag explain $w;

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
