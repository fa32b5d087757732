#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Reloads: a compatible configuration (same zones, window, buckets and
# workers) keeps the segment and the counters; an incompatible one gets a
# fresh segment, says so in error.log, and counts from zero.  The segment
# is sized from the configuration: many zones, no "no memory".

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

unlike(slurp($ng->error_log), qr/counters start again/,
       'no layout notice for a compatible reload');

# a new window is a new layout
sleep 1;
$ng->reload(conf => conf(service => 'two', extra => 'health_window 30s;'));
$doc = $ng->get_json('/health');
is($doc->{zones}{a}{requests}, 0, 'a new window starts from zero');
is($doc->{zones}{a}{window}{seconds}, 30, 'with the new window');
cmp_ok($doc->{uptime_s}, '>=', 1, 'uptime is not reset by a new layout');
like(slurp($ng->error_log),
     qr/\[notice\].*health: zones, window, buckets or worker count changed, counters start again from zero/,
     'the rebuild is logged');

# so is a new zone, and new buckets
$ng->get('/a') for 1 .. 3;
$ng->reload(conf => conf(service => 'two', extra => 'health_window 30s;',
                         zones => 3));
$doc = $ng->get_json('/health');
is($doc->{zones}{a}{requests}, 0, 'a new zone starts from zero');
ok(exists $doc->{zones}{z3}, 'the new zone is there');

$ng->get('/a') for 1 .. 4;
$ng->reload(conf => conf(service => 'two',
                         extra => 'health_window 30s; health_buckets 1ms 1s;',
                         zones => 3));
my $text = $ng->get('/health?format=prometheus')->{content};
like($text, qr/nginx_health_request_duration_seconds_bucket\{zone="a",le="0.001"\} 0/,
     'new buckets, from zero');
my $count = () = slurp($ng->error_log) =~ /counters start again/g;
is($count, 3, 'each of the three rebuilds logged once');

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
