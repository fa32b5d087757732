#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Health rules over the sliding window: 6 errors in 66 requests make /lb
# answer 503 and JSON say unhealthy (HEAD too); once they leave the window
# it is back to 200.  min_requests keeps a handful of requests from
# flipping a verdict; a zone rule overrides the rule for all zones.
#
# The window is a matter of time, so the first nginx runs on a clock the
# test holds (libfaketime, every clock frozen until set_clock() moves it):
# the 66 requests are in one second however slow the machine, and the
# errors leave the window exactly when the clock says they must.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $ng = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                conf => <<'EOF2');
    health_window 3s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ok    { health_zone api; return 200; }
        location /api/fail  { health_zone api; return 500; }
        location /few/fail  { health_zone few; return 500; }

        location /health  { health_status; }
        location /lb      { health_status lb; }
    }
EOF2
$ng->set_clock('2026-01-01 00:00:00');
$ng->start;

# a handful of errors is not enough to judge by (min_requests=20)
$ng->get('/few/fail') for 1 .. 5;
my ($r, $doc) = $ng->wait_counted('few', 5);
is($doc->{checks}{'zone:few:error_rate'}{value}, 100, 'few: 100% errors');
is($doc->{checks}{'zone:few:error_rate'}{status}, 'healthy',
   'but 5 requests are below min_requests');
is($r->{status}, 200, 'so JSON answers 200');

# 6 errors in 66 requests: 9.1 % > 5 %
$ng->get('/api/ok') for 1 .. 60;
$ng->get('/api/fail') for 1 .. 6;

($r, $doc) = $ng->wait_counted('api', 66);
is($doc->{zones}{api}{window}{requests}, 66, '66 requests in the window');
is($doc->{checks}{'zone:api:error_rate'}{value}, 9.091, 'error rate 9.091%');
is($doc->{checks}{'zone:api:error_rate'}{window_s}, 3, 'window_s 3');
is($doc->{checks}{'zone:api:error_rate'}{status}, 'unhealthy',
   'error_rate check unhealthy');
is($doc->{status}, 'unhealthy', 'JSON says unhealthy');
is($r->{status}, 503, 'JSON answers 503');
is($r->{headers}{'cache-control'}, 'no-store', '503 JSON: no-store');

$r = $ng->get('/lb');
is($r->{status}, 503, '/lb answers 503');
is($r->{content}, "unhealthy\n", '/lb says unhealthy');
is($r->{headers}{'cache-control'}, 'no-store', '503 lb: no-store');
is($ng->http('HEAD', '/lb')->{status}, 503, 'HEAD /lb answers 503 too');
is($ng->http('HEAD', '/health')->{status}, 503, 'HEAD /health too');

# a Prometheus scrape must not fail during an incident: 200, and the
# status is in the metrics
$r = $ng->get('/health?format=prometheus');
is($r->{status}, 200, 'Prometheus answers 200 while unhealthy');
like($r->{content}, qr/^nginx_health_status 2$/m,
     'and says unhealthy in nginx_health_status');
like($r->{content},
     qr/^nginx_health_check_status\{check="zone:api:error_rate"\} 2$/m,
     'and in the check');

# the totals stay, the window moves on: 3 one-second slots, this one and
# the two before it
$ng->set_clock('2026-01-01 00:00:02');
is($ng->get('/lb')->{status}, 503, 'two seconds later the errors are in');
is($ng->get_json('/health')->{zones}{api}{window}{requests}, 66,
   'the window still has every request');
$ng->set_clock('2026-01-01 00:00:03');
is($ng->get('/lb')->{status}, 200,
   'three seconds later they have left: back to 200');
($r, $doc) = $ng->get_json('/health');
is($doc->{status}, 'healthy', 'JSON says healthy again');
is($doc->{zones}{api}{window}{requests}, 0, 'window is empty');
is($doc->{zones}{api}{requests}, 66, 'totals kept');
is($doc->{zones}{api}{responses}{'5xx'}, 6, '5xx total kept');
is($ng->get('/lb')->{content}, "healthy\n", '/lb says healthy');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

# explicit rules: a zone rule overrides the rule for all zones, a latency
# rule turns p50 into a check, and only the rules given apply
my $ng2 = HealthTest::Nginx->new(conf => <<'EOF2');
    health_rule error_rate warning=1 critical=5;
    health_rule error_rate zone=lenient warning=20% critical=50% min_requests=5;
    health_rule latency_p50 zone=strict warning=1us critical=1s min_requests=1;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /strict/ok     { health_zone strict; return 200; }
        location /lenient/ok    { health_zone lenient; return 200; }
        location /lenient/fail  { health_zone lenient; return 500; }

        location /health { health_zone off; health_status; }
    }
EOF2
$ng2->start;

$ng2->get('/lenient/ok') for 1 .. 8;
$ng2->get('/lenient/fail') for 1 .. 2;
$ng2->get('/strict/ok') for 1 .. 3;

($r, $doc) = $ng2->wait_doc(sub {
    $_[0]{zones}{lenient}{requests} == 10
        && $_[0]{zones}{strict}{requests} == 3 });
is_deeply([sort keys %{ $doc->{checks} }],
          [qw(zone:lenient:error_rate zone:strict:error_rate
              zone:strict:latency_p50)],
          'only the rules given, no default latency_p95');
is($doc->{checks}{'zone:lenient:error_rate'}{warning}, 20,
   'the zone rule overrides the rule for all zones');
is($doc->{checks}{'zone:lenient:error_rate'}{status}, 'degraded',
   '20% errors over 10 requests is degraded under the zone rule');
is($doc->{checks}{'zone:strict:latency_p50'}{status}, 'degraded',
   'p50 above 1us is degraded');
is($doc->{checks}{'zone:strict:latency_p50'}{warning}, 0.001,
   'thresholds in ms');
is($doc->{status}, 'degraded', 'overall degraded');
is($r->{status}, 200, 'degraded answers 200');

$ng2->stop;
is_deeply([$ng2->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
