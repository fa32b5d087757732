#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Reloads: a compatible configuration (same window, buckets, workers and
# room for its zones) keeps the segment and the counters; an incompatible
# one gets a fresh segment and says so in error.log.  Since issue 12 a zone
# that exists before and after a reload keeps its counters whatever else
# changed: a new window restarts the windows only, new buckets restart the
# totals, a new zone changes nothing for the others (behaviour changed on
# purpose: they used to count from zero).  The segment is sized from the
# configuration: many zones, no "no memory".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub conf {
    my (%o) = @_;
    my $extra = $o{extra} // '';
    my $zones = join "\n", map {
        "        location /z$_ { health_zone z$_; return 200; }"
    } 1 .. ($o{zones} // 2);
    return <<"EOF2";
    health_service $o{service};
    $extra

    server {
        listen 127.0.0.1:%%PORT%%;

        location /a { health_zone a; return 200; }
$zones
        location /health { health_zone off; health_status; }
    }
EOF2
}

my $ng = HealthTest::Nginx->new(workers => 2,
                                conf => conf(service => 'one'));
$ng->start;

$ng->get('/a') for 1 .. 25;
my $before = $ng->wait_counted('a', 25);
is($before->{zones}{a}{requests}, 25, '25 requests before the reload');

# rules and service name are not part of the layout
$ng->reload(conf => conf(service => 'two',
                         extra => 'health_rule error_rate warning=2 critical=9;'));
my $doc = $ng->get_json('/health');
is($doc->{service}, 'two', 'new configuration in force');
is($doc->{checks}{'zone:a:error_rate'}{warning}, 2, 'new rules in force');
is($doc->{zones}{a}{requests}, 25, 'counters survive a compatible reload');
cmp_ok($doc->{uptime_s}, '>=', $before->{uptime_s}, 'uptime carries on');

$ng->get('/a') for 1 .. 5;
is($ng->wait_counted('a', 30)->{zones}{a}{requests}, 30,
   'and keep counting after it');

unlike(slurp($ng->error_log), qr/a new shared zone/,
       'no layout notice for a compatible reload');

# a new window is a new layout: the totals stay, the window restarts
sleep 1;
$ng->reload(conf => conf(service => 'two', extra => 'health_window 30s;'));
$doc = $ng->get_json('/health');
is($doc->{zones}{a}{requests}, 30, 'a new window keeps the totals');
is($doc->{zones}{a}{window}{requests}, 0, 'and starts the window from zero');
is($doc->{zones}{a}{window}{seconds}, 30, 'with the new window');
cmp_ok($doc->{uptime_s}, '>=', 1, 'uptime is not reset by a new layout');
like(slurp($ng->error_log),
     qr/\[notice\].*health: .*a new shared zone "health_\w+", 3 of 3 zones and peers carry their counters over, the window restarts/,
     'the rebuild is logged');

# a new zone keeps the segment and every other zone's counters
$ng->get('/a') for 1 .. 3;
$ng->wait_counted('a', 33);
$ng->reload(conf => conf(service => 'two', extra => 'health_window 30s;',
                         zones => 3));
$doc = $ng->get_json('/health');
is($doc->{zones}{a}{requests}, 33, 'a new zone: the others keep counting');
is($doc->{zones}{a}{window}{requests}, 3, 'their windows too');
ok(exists $doc->{zones}{z3}, 'the new zone is there');
is($doc->{zones}{z3}{requests}, 0, 'from zero');

# new buckets restart the totals
$ng->get('/a') for 1 .. 4;
$ng->reload(conf => conf(service => 'two',
                         extra => 'health_window 30s; health_buckets 1ms 1s;',
                         zones => 3));
my $text = $ng->get('/health?format=prometheus')->{content};
like($text, qr/nginx_health_request_duration_seconds_bucket\{zone="a",le="0.001"\} 0/,
     'new buckets, from zero');
like($text, qr/nginx_health_requests_total\{zone="a"\} 0\n/,
     'the totals with them');
my $count = () = slurp($ng->error_log) =~ /a new shared zone/g;
is($count, 2, 'each of the two rebuilds logged once');
like(slurp($ng->error_log), qr/the totals restart \(other buckets\)/,
     'the restart of the totals is said');

# many zones in one segment sized from the configuration
$ng->reload(conf => conf(service => 'many', zones => 500));
$ng->get("/z$_") for 1 .. 500;
$ng->get('/z250') for 1 .. 9;
$doc = $ng->wait_doc(sub {
    my $sum = 0;
    $sum += $_->{requests} for values %{ $_[0]{zones} };
    $sum == 509;
});
is(scalar(keys %{ $doc->{zones} }), 501, '501 zones');
is($doc->{zones}{z250}{requests}, 10, 'z250: 10 requests');
is($doc->{zones}{z500}{requests}, 1, 'z500: 1 request');
is(scalar(grep { $_->{requests} != 1 } values %{ $doc->{zones} }), 2,
   'every other zone: 1 request (a: 0)');

$ng->stop;
unlike(slurp($ng->error_log), qr/no memory|could not allocate/,
       'never out of shared memory');
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
