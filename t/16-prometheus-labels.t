#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Prometheus label values are escaped wherever they come from: a service
# name with a double quote, a backslash, a newline, a byte that is not
# UTF-8, and one long enough that its line is over 2,048 bytes comes out
# whole and escaped, and promtool accepts the page.  A dependency that
# never answered has no response time: its gauge is absent, as the JSON
# leaves response_time_ms out, instead of a false 0.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $long = 'x' x 3000;

# nginx's own parser turns \" \\ \n inside double quotes into the bytes
my $service = 'q\"b\\\\s\nl' . "\xff\xc3\xa9" . $long;
my $escaped = 'q\"b\\\\s\nl' . "\xef\xbf\xbd\xc3\xa9" . $long;

my $dead = free_port();

my $ng = HealthTest::Nginx->new(conf => <<"EOF2");
    health_service "$service";
    health_zone site;
    health_redis 127.0.0.1:$dead name=cache interval=100ms timeout=100ms;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /        { return 200 "hello\\n"; }
        location /metrics { health_zone off; health_status prometheus; }
        location /health  { health_zone off; health_status; }
    }
EOF2
$ng->start;

$ng->get('/') for 1 .. 3;

# the probe has run and failed: the check says why
ok($ng->wait_check('cache', 'unhealthy', reason => qr/./)
   // $ng->wait_check('cache', 'unknown', reason => qr/./),
   'the dead Redis has been probed');

my $r = $ng->get('/metrics');
is($r->{status}, 200, 'Prometheus answers 200');
my $text = $r->{content};

my ($info) = grep { /^nginx_health_info\{/ } split /\n/, $text;
is(length($info // ''), length("nginx_health_info{service=\"$escaped\","
                                . "version=\"0.1.0\"} 1"),
   'the long info line is whole');
is($info, "nginx_health_info{service=\"$escaped\",version=\"0.1.0\"} 1",
   'quote, backslash and newline escaped, a bad byte is U+FFFD');
unlike($text, qr/^l\xef\xbf\xbd/m, 'no label breaks its line');

like($text, qr/^nginx_health_requests_total\{zone="site"\} 3$/m,
     'the lines after the long one are there');

unlike($text, qr/^nginx_health_dependency_response_seconds\{check="cache"\}/m,
       'no response time for a dependency that never answered');
my ($c) = $ng->check('cache');
ok($c && !exists $c->{response_time_ms},
   'the JSON has no response_time_ms either');

my $dir = $ng->dir;
spew("$dir/metrics.txt", $text);
my ($rc, $out) = run_cmd('sh', '-c',
                         "promtool check metrics < $dir/metrics.txt");
is($rc, 0, 'promtool check metrics passes') or diag $out;

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

# a page of many buffers: every line that does not fit in what is left of
# one is written again, whole, into the next
my $zones = join "\n", map {
    "        location /z$_ { health_zone z$_; return 200; }"
} 1 .. 300;
my $big = HealthTest::Nginx->new(conf => <<"EOF2");
    health_service "$long";

    server {
        listen 127.0.0.1:%%PORT%%;
$zones
        location /metrics { health_zone off; health_status prometheus; }
    }
EOF2
$big->start;
$big->get("/z$_") for 1 .. 300;
$big->get('/z7') for 1 .. 6;

$r = $big->get('/metrics');
$text = $r->{content};
cmp_ok(length $text, '>', 5 * 16384, 'the page spans several buffers');
my %req = $text =~ /^nginx_health_requests_total\{zone="(z\d+)"\} (\d+)$/mg;
is(scalar(keys %req), 300, 'a requests_total line for each of 300 zones');
is(scalar(grep { $req{$_} != 1 } keys %req), 1, 'each with 1 request');
is($req{z7}, 7, 'z7 with 7');
my @inf = $text =~ /^nginx_health_request_duration_seconds_bucket\{zone="z\d+",le="\+Inf"\} (\d+)$/mg;
is(scalar @inf, 300, 'a +Inf bucket for each zone');
is(length $r->{content}, $r->{headers}{'content-length'},
   'Content-Length is the page');
spew("$dir/metrics.txt", $text);
($rc, $out) = run_cmd('sh', '-c', "promtool check metrics < $dir/metrics.txt");
is($rc, 0, 'promtool check metrics passes on the long page') or diag $out;

$big->stop;
is_deeply([$big->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
