#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A backend with a known delay: the percentiles nginx reports are within
# the histogram's stated error (3.125 % of a value observed at that rank),
# and the Prometheus buckets at the configured bounds are exact.
#
# Nothing here depends on how fast a loaded machine is.  Each request's
# time as nginx measures it lies, by construction, between the backend's
# delay (the backend sleeps that long after nginx has started the clock)
# and what the client saw from before sending the request until after the
# status shows it counted (so after the log phase stopped the clock).
# Every expectation is computed from those two, per request: a 30 ms
# request that took 52 ms on a busy machine moves the expectation with it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep clock_gettime CLOCK_MONOTONIC);

use HealthTest qw(:all);

my $REL = 1 / 32;           # HEALTH_HIST_REL_ERROR

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<'EOF2');
    health_zone off;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /slow/ {
            health_zone slow;
            proxy_pass http://127.0.0.1:%%PORT_1%%/delay/;
        }

        location /health  { health_status; }
        location /metrics { health_status prometheus; }
    }
EOF2

# the backend: answers /delay/N after N milliseconds, one at a time
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $ng->port(1),
                                   Listen => 16, ReuseAddr => 1)
    or die "backend: $!";
my $backend = fork // die "fork: $!";
if ($backend == 0) {
    while (my $c = $listen->accept) {
        my $line = <$c> // '';
        while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
        my ($ms) = $line =~ m{/delay/(\d+)};
        sleep(($ms // 0) / 1000);
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                 . "Connection: close\r\n\r\nok\n";
        close $c;
    }
    _exit(0);
}
close $listen;

$ng->start;

my @plan = ((30) x 40, (150) x 10);
my (@lo, @hi);              # per request, ms: nginx's time is in [lo, hi]
my $n = 0;
for my $ms (@plan) {
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    my $r = $ng->get("/slow/$ms");
    die "backend failed: $r->{status}" unless $r->{status} == 200;
    $n++;
    wait_until(sub {
        my $d = $ng->get_json('/health');
        $d && $d->{zones}{slow}{requests} == $n;
    }, timeout => 30, step => 0.001) or die "request $n was not counted";
    push @lo, $ms;
    push @hi, (clock_gettime(CLOCK_MONOTONIC) - $t0) * 1000;
}

my $doc = $ng->get_json('/health');
my $lat = $doc->{zones}{slow}{latency_ms};
my $z = $doc->{zones}{slow};
is($z->{requests}, 50, '50 requests');

# nearest rank, as the module computes it; the k-th smallest of nginx's
# times lies between the k-th smallest of @lo and of @hi
my @slo = sort { $a <=> $b } @lo;
my @shi = sort { $a <=> $b } @hi;

sub rank_within {
    my ($got, $q, $name) = @_;
    my $k = int($q * 50 + 0.999999);
    my $lo = $slo[$k - 1] * (1 - $REL);
    my $hi = $shi[$k - 1] * (1 + $REL);
    ok($got >= $lo && $got <= $hi,
       sprintf('%s %.3f ms within [%.2f, %.2f]', $name, $got, $lo, $hi));
}

rank_within($lat->{p50}, 0.50, 'p50 of 40 x 30 ms + 10 x 150 ms');
rank_within($lat->{p95}, 0.95, 'p95');
rank_within($lat->{p99}, 0.99, 'p99');
rank_within($doc->{checks}{'zone:slow:latency_p95'}{value}, 0.95,
            'latency_p95 check value');

# max is kept exactly (in microseconds)
cmp_ok($lat->{max}, '>=', $slo[-1], 'max is at least the longest delay');
cmp_ok($lat->{max}, '<=', $shi[-1], 'max is not above what the client saw');

my $text = $ng->get('/metrics')->{content};
my %le = $text =~ /^nginx_health_request_duration_seconds_bucket\{zone="slow",le="([^"]+)"\} (\d+)$/mg;

# a request is certainly at or below a bound when the client saw it take
# no longer, certainly above it when the backend alone took longer
my @bounds = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5);
my (@min, @max);
for my $b (@bounds) {
    push @min, scalar grep { $_ <= $b * 1000 } @hi;
    push @max, scalar grep { $_ <= $b * 1000 } @lo;
}
my @got = @le{@bounds};
my @bad = grep { !defined $got[$_] || $got[$_] < $min[$_]
                 || $got[$_] > $max[$_] } 0 .. $#bounds;
ok(!@bad, 'exact counts at the Prometheus bounds')
    or diag explain { bounds => \@bounds, got => \@got, at_least => \@min,
                      at_most => \@max };
is_deeply([@max[0 .. 2]], [0, 0, 0], 'no request can be below 25 ms');
is_deeply([@got[0 .. 2]], [0, 0, 0], 'and none is counted there');
is($le{'+Inf'}, 50, '+Inf counts every request');

my ($sum) = $text =~ /^nginx_health_request_duration_seconds_sum\{zone="slow"\} ([\d.]+)$/m;
my ($slo_sum, $shi_sum) = (0, 0);
$slo_sum += $_ for @lo;
$shi_sum += $_ for @hi;
ok($sum >= $slo_sum / 1000 && $sum <= $shi_sum / 1000,
   sprintf('_sum %s s is the total request time (%.3f .. %.3f s)', $sum,
           $slo_sum / 1000, $shi_sum / 1000));

$ng->stop;
kill 'TERM', $backend;
waitpid($backend, 0);

is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
