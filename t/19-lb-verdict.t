#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# lb answers from a verdict kept current in shared memory instead of
# reading every zone of every shard (its cost must not grow with zones or
# workers: bench/12 measures that).  What holds by construction, and is
# asserted here:
#
# - the first lb answer after start is right, before any timer tick;
# - lb answers from the verdict: with every clock frozen, errors counted
#   after it was judged do not show until the clock passes 250 ms;
# - with 1,000 zones, driving the last zone unhealthy and back moves lb
#   (polled with a deadline, the verdict may be up to 250 ms old) and at
#   the end lb and the JSON agree;
# - a reload that changes only a rule keeps the segment and its counters,
#   and the first lb answer afterwards is judged by the new rule, never by
#   the verdict the old workers left.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

# lb, polled until it answers WANT (or the deadline); returns the last
sub wait_lb {
    my ($ng, $want) = @_;
    my $r;
    wait_until(sub {
        $r = $ng->get('/lb');
        $r->{content} eq "$want\n";
    }, timeout => 10, step => 0.02);
    return $r;
}

##########################################################################
# right after start: a required group whose every peer is marked down is
# unhealthy from the first moment, and the very first lb answer says so

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<'EOF');
    upstream gone {
        server 127.0.0.1:1 down;
        server 127.0.0.1:2 down;
        health_check uri=/hc interval=1s required=on;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /lb     { health_status lb; }
        location /health { health_status; }
    }
EOF
$ng->start;

my $r = $ng->get('/lb');
is($r->{status}, 503, 'the first lb answer after start: 503');
is($r->{content}, "unhealthy\n", 'and says unhealthy');
my ($jr, $doc) = $ng->get_json('/health');
is($doc->{status}, 'unhealthy', 'as the JSON does');
is($ng->http('HEAD', '/lb')->{status}, 503, 'HEAD /lb: 503');
$ng->stop;

##########################################################################
# 1,000 zones, two workers: the last zone drives the verdict

my $ZONES = 1000;
my $rules = <<'EOF';
    health_rule error_rate warning=50 critical=60 min_requests=5;
EOF
my $servers = join '', map {
    "        location = /z$_/ok   { health_zone z$_; return 200; }\n"
  . "        location = /z$_/fail { health_zone z$_; return 500; }\n"
} 1 .. $ZONES;
my $conf = sub {
    my ($rule) = @_;
    return <<"EOF";
    $rule
    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_requests 100000;
        location /lb     { health_zone off; health_status lb; }
        location /health { health_zone off; health_status; }
$servers
    }
EOF
};

$ng = HealthTest::Nginx->new(workers => 2, conf => $conf->($rules));
$ng->start;

my $last = "z$ZONES";

$ng->get("/$last/ok") for 1 .. 10;
$doc = $ng->wait_counted($last, 10);
is(scalar keys %{ $doc->{zones} }, $ZONES, "$ZONES zones");
$r = $ng->get('/lb');
is($r->{content}, "healthy\n", 'lb: healthy');
is($r->{status}, 200, 'lb: 200');

# 30 errors in 40 requests: 75 % > 60 %
$ng->get("/$last/fail") for 1 .. 30;
$ng->wait_counted($last, 40);
$r = wait_lb($ng, 'unhealthy');
is($r->{content}, "unhealthy\n", 'lb follows the last zone to unhealthy');
is($r->{status}, 503, 'lb: 503');
($jr, $doc) = $ng->get_json('/health');
is($doc->{checks}{"zone:$last:error_rate"}{status}, 'unhealthy',
   "the JSON: zone:$last:error_rate is unhealthy");
is($doc->{status}, 'unhealthy', 'the JSON says unhealthy');
$r = $ng->get('/lb');
is($r->{content}, "$doc->{status}\n", 'lb and the JSON agree');
is($r->{status}, $jr->{status}, 'on the status code too');

# 30 errors in 80 requests: 37.5 %, healthy again
$ng->get("/$last/ok") for 1 .. 40;
$ng->wait_counted($last, 80);
$r = wait_lb($ng, 'healthy');
is($r->{content}, "healthy\n", 'lb follows it back to healthy');
is($r->{status}, 200, 'lb: 200');
($jr, $doc) = $ng->get_json('/health');
is($doc->{checks}{"zone:$last:error_rate"}{value}, 37.5, 'error rate 37.5 %');
is($doc->{status}, 'healthy', 'the JSON says healthy');
$r = $ng->get('/lb');
is($r->{content}, "$doc->{status}\n", 'lb and the JSON agree');

$ng->stop;

##########################################################################
# lb reads the verdict, not the zones.  Every clock stands still (faketime
# "all"), so no timer ticks and a verdict stays exactly as old as when it
# was judged: 0 ms.  One worker, so each request is counted before the
# next is read.  Errors that come after the verdict do not show in lb
# until the clock moves past the 250 ms bound; a full reading of the zones
# (what every lb request did before) would show them at once.

$ng = HealthTest::Nginx->new(workers => 1, faketime => 'all', conf => <<'EOF');
    health_rule error_rate warning=50 critical=60 min_requests=5;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /lb     { health_zone off; health_status lb; }
        location /health { health_zone off; health_status; }
        location /ok     { health_zone api; return 200; }
        location /fail   { health_zone api; return 500; }
    }
EOF
$ng->set_clock('2026-01-01 00:00:00');
$ng->start;
$ng->get('/ok') for 1 .. 10;
$r = $ng->get('/lb');
is($r->{content}, "healthy\n", 'lb: healthy, judged now');
$ng->get('/fail') for 1 .. 30;
$r = $ng->get('/lb');
is($r->{content}, "healthy\n",
   'no time has passed: lb answers the same verdict, without reading the '
   . 'zones');
$ng->set_clock('2026-01-01 00:00:01');
$r = $ng->get('/lb');
is($r->{content}, "unhealthy\n",
   'a second later the verdict is past its 250 ms: judged again, unhealthy');
is($r->{status}, 503, 'lb: 503');
($jr, $doc) = $ng->get_json('/health');
is($doc->{zones}{api}{requests}, 40, 'the JSON counted the 40 requests');
is($doc->{status}, 'unhealthy', 'and agrees');
$ng->stop;

##########################################################################
# a reload that only changes a rule keeps the segment, and with it the
# verdict the old workers left.  Every clock stands still here (faketime
# "all"): that verdict is as fresh as can be, and no timer ticks, so only
# the configuration's generation keeps the new workers from answering it.

my $small = sub {
    my ($rule) = @_;
    return <<"EOF";
    health_rule error_rate $rule min_requests=5;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /lb     { health_zone off; health_status lb; }
        location /health { health_zone off; health_status; }
        location /ok     { health_zone api; return 200; }
        location /fail   { health_zone api; return 500; }
    }
EOF
};

$ng = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                             conf => $small->('warning=50 critical=60'));
$ng->set_clock('2026-01-01 00:00:00');
$ng->start;
$ng->get('/ok') for 1 .. 5;
$ng->get('/fail') for 1 .. 3;
($jr, $doc) = $ng->wait_counted('api', 8);
is($doc->{checks}{'zone:api:error_rate'}{value}, 37.5, 'error rate 37.5 %');
$r = $ng->get('/lb');
is($r->{content}, "healthy\n", 'lb: healthy by the old rule');

$ng->reload(conf => $small->('warning=20 critical=30'));
$r = $ng->get('/lb');
is($r->{content}, "unhealthy\n",
   'the first lb answer after the reload is judged by the new rule');
is($r->{status}, 503, 'lb: 503');
($jr, $doc) = $ng->get_json('/health');
is($doc->{zones}{api}{requests}, 8, 'the counters were kept');
is($doc->{status}, 'unhealthy', 'the JSON agrees');
unlike(slurp($ng->error_log), qr/counters start again/,
       'the segment was kept');

done_testing;
