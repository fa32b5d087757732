#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Every bad value fails nginx -t with a message naming the directive and
# the value; good configurations pass.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub conf_test {
    my ($http, $location) = @_;
    $location //= 'health_status;';
    my $ng = HealthTest::Nginx->new(conf => <<"EOF2");
$http
    server {
        listen 127.0.0.1:%%PORT%%;
        health_zone site;
        location / { return 200; }
        location /health { health_zone off; $location }
    }
EOF2
    return $ng->test_conf;
}

my @bad = (
    [ 'health_rule error_rate zone=nope warning=1 critical=5;', undef,
      qr/invalid value "zone=nope" in "health_rule" directive, no "health_zone nope" is defined in \S+nginx.conf:\d+/,
      'unknown zone in a rule' ],
    [ 'health_window 0;', undef,
      qr/invalid value "0" in "health_window" directive/, 'zero window' ],
    [ 'health_window 0s;', undef,
      qr/invalid value "0s" in "health_window" directive/, 'zero window (0s)' ],
    [ 'health_window -5s;', undef,
      qr/invalid value "-5s" in "health_window" directive/,
      'negative window' ],
    [ 'health_window soon;', undef,
      qr/invalid value "soon" in "health_window" directive/,
      'window that is not a time' ],
    [ 'health_buckets 10ms 5ms 1s;', undef,
      qr/invalid value "5ms" in "health_buckets" directive, bounds must be in increasing order/,
      'unsorted buckets' ],
    [ 'health_buckets 10ms 100ms 0.1s;', undef,
      qr/invalid value "0.1s" in "health_buckets" directive, duplicate bound/,
      'duplicate buckets (same time, other spelling)' ],
    [ 'health_buckets 0ms;', undef,
      qr/invalid value "0ms" in "health_buckets" directive/, 'zero bucket' ],
    [ 'health_buckets 5parsecs;', undef,
      qr/invalid value "5parsecs" in "health_buckets" directive/,
      'bucket that is not a time' ],
    [ 'health_buckets ' . join(' ', map { "${_}ms" } 1 .. 33) . ';', undef,
      qr/too many values in "health_buckets" directive, at most 32/,
      '33 buckets' ],
    [ '', 'health_status xml;',
      qr/invalid value "xml" in "health_status" directive/,
      'unknown format' ],
    [ 'health_rule error_rate warning=1 critical=150%;', undef,
      qr/invalid value "critical=150%" in "health_rule" directive/,
      'percentage over 100' ],
    [ 'health_rule error_rate warning=-1 critical=5;', undef,
      qr/invalid value "warning=-1" in "health_rule" directive/,
      'negative percentage' ],
    [ 'health_rule error_rate warning=10 critical=5;', undef,
      qr/invalid thresholds in "health_rule" directive, warning 10 is above critical 5/,
      'warning above critical' ],
    [ 'health_rule latency_p95 warning=2s critical=500ms;', undef,
      qr/invalid thresholds in "health_rule" directive, warning 2000 is above critical 500/,
      'latency warning above critical' ],
    [ 'health_rule latency_p95 warning=abc critical=5s;', undef,
      qr/invalid value "warning=abc" in "health_rule" directive/,
      'latency threshold that is not a time' ],
    [ 'health_rule latency_p90 warning=1s critical=5s;', undef,
      qr/invalid value "latency_p90" in "health_rule" directive/,
      'unknown metric' ],
    [ 'health_rule error_rate warning=1 critical=5 min_requests=many;', undef,
      qr/invalid value "min_requests=many" in "health_rule" directive/,
      'bad min_requests' ],
    [ 'health_rule error_rate warning=1 critical=5 colour=red;', undef,
      qr/invalid value "colour=red" in "health_rule" directive/,
      'unknown rule parameter' ],
    [ 'health_rule error_rate warning=1;', undef,
      qr/"health_rule" directive needs warning= and critical=/,
      'rule without critical' ],
    [ 'health_rule error_rate warning=1 critical=5;'
      . ' health_rule error_rate warning=2 critical=6;', undef,
      qr/duplicate "health_rule error_rate" in \S+nginx.conf:\d+/,
      'duplicate rule' ],
    [ 'health_rule error_rate zone=site warning=1 critical=5;'
      . ' health_rule error_rate zone=site warning=2 critical=6;', undef,
      qr/duplicate "health_rule error_rate zone=site"/,
      'duplicate zone rule' ],
    [ 'health_window 10s; health_window 20s;', undef,
      qr/"health_window" directive is duplicate/, 'duplicate window' ],
    [ 'health_buckets 1s; health_buckets 2s;', undef,
      qr/"health_buckets" directive is duplicate/, 'duplicate buckets' ],
    [ 'health_service a; health_service b;', undef,
      qr/"health_service" directive is duplicate/, 'duplicate service' ],
    [ '', 'health_status; health_status json;',
      qr/"health_status" directive is duplicate/, 'duplicate health_status' ],
    [ '', 'health_status; health_zone a;',
      qr/"health_zone" directive is duplicate/,
      'duplicate health_zone in one block' ],
    [ 'server { listen 127.0.0.1:%%PORT_1%%; health_status; }', undef,
      qr/"health_status" directive is not allowed here/,
      'health_status outside a location' ],
    [ 'health_status;', undef,
      qr/"health_status" directive is not allowed here/,
      'health_status in http' ],
    [ 'health_zone "bad name";', undef,
      qr/invalid value "bad name" in "health_zone" directive/,
      'zone name with a space' ],
    [ 'health_zone a:b;', undef,
      qr/invalid value "a:b" in "health_zone" directive/,
      'zone name with a colon' ],

    # numbers and times: overflow, hex, negative, trailing garbage; the
    # message names the value and the allowed range
    (map { [ "health_redis 127.0.0.1:6379 db=$_;", undef,
             qr/invalid value "db=\Q$_\E" in "health_redis" directive, it must be a number from 0 to 2147483647/,
             "redis db=$_" ] }
         qw(4294967297 2147483648 18446744073709551617 -1 0x10 4x +4)),
    (map { [ "health_rule error_rate warning=$_ critical=50;", undef,
             qr/invalid value "warning=\Q$_\E" in "health_rule" directive, it must be a percentage from 0 to 100/,
             "error_rate warning=$_" ] }
         qw(0x10 1e1 inf 1.2.3 5. .5 +5 -1 101 5%%)),
    (map { [ "health_rule latency_p95 warning=$_ critical=2h;", undef,
             qr/invalid value "warning=\Q$_\E" in "health_rule" directive, it must be a time from 0ms to 1h/,
             "latency warning=$_" ] }
         qw(0x10 1e3ms -1s 2h 99999999999999999999s 5sec 1.5.5s)),
    (map { [ "health_rule error_rate warning=1 critical=5 min_requests=$_;",
             undef,
             qr/invalid value "min_requests=\Q$_\E" in "health_rule" directive, it must be a number from 0 to 1000000000/,
             "min_requests=$_" ] }
         qw(-1 0x10 1000000001 99999999999999999999999 5x)),
    (map { [ "health_buckets 10ms $_;", undef,
             qr/invalid value "\Q$_\E" in "health_buckets" directive, it must be a time from 1us to 1h/,
             "bucket $_" ] }
         qw(0x10 1e3ms 2h 1d 99999999999999999999s 213503982335d -5ms)),
    (map { [ "health_redis 127.0.0.1:6379 $_;", undef,
             qr/invalid value "\Q$_\E" in "health_redis" directive, it must be a time from 10ms to 1h/,
             "redis $_" ] }
         qw(timeout=1d timeout=0x10 timeout=-1s timeout=9ms timeout=1.0005s
            interval=213503982335d interval=10msx)),
    (map { [ "health_window $_;", undef,
             qr/invalid value "\Q$_\E" in "health_window" directive, it must be a time from 1s to 1d/,
             "window $_" ] }
         qw(0x10 2d 99999999999999999999s 5x)),
);

for my $case (@bad) {
    my ($http, $loc, $re, $name) = @$case;
    my ($rc, $out) = conf_test($http, $loc);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: message names directive and value")
        or diag $out;
}

my @good = (
    [ '', 'defaults' ],
    [ 'health_window 3s; health_buckets 100us 2.5ms 1s 2.5s 1m;',
      'window and fractional buckets' ],
    [ 'health_rule error_rate zone=site warning=0.5% critical=2% '
      . 'min_requests=100; health_rule latency_p99 warning=250ms '
      . 'critical=1s; health_rule latency_p50 zone=site warning=10ms '
      . 'critical=20ms; health_rule error_rate warning=1 critical=5;',
      'zone and global rules, the same metric for both' ],
    [ 'health_rule error_rate zone=later warning=1 critical=5; '
      . 'server { listen 127.0.0.1:%%PORT_1%%; health_zone later; }',
      'a rule may name a zone defined further down' ],
    [ 'health_service "web 1";', 'service with a space' ],
    [ 'health_redis 127.0.0.1:6379 timeout=1h interval=1h db=2147483647;',
      'the largest redis timeout, interval and db' ],
    [ 'health_redis 127.0.0.1:6379 timeout=10ms interval=1.5s db=0;',
      'the smallest redis timeout and db, a fractional interval' ],
    [ 'health_rule error_rate warning=0.5% critical=100 min_requests=0; '
      . 'health_rule latency_p99 warning=0.5s critical=1h; '
      . 'health_buckets 1us 1.5ms 1m 1h;',
      'edges of thresholds, min_requests and buckets' ],
);

for my $case (@good) {
    my ($http, $name) = @$case;
    my ($rc, $out) = conf_test($http);
    is($rc, 0, "$name: nginx -t passes") or diag $out;
}

for my $fmt (qw(json prometheus lb)) {
    my ($rc, $out) = conf_test('', "health_status $fmt;");
    is($rc, 0, "health_status $fmt is accepted") or diag $out;
}

done_testing;
