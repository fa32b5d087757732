#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The status location: the JSON shape of the design, Prometheus text that
# promtool accepts and that agrees with the JSON, the lb answer, ?format=,
# HEAD, and Cache-Control: no-store on every answer.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<'EOF2');
    health_service web-1;
    health_zone site;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /        { return 200 "hello\n"; }
        location /api/    { health_zone api; return 200 "api\n"; }
        location /missing { return 404; }
        location /boom    { health_zone api; return 502; }

        location /health  { health_zone off; health_status; }
        location /metrics { health_zone off; health_status prometheus; }
        location /lb      { health_zone off; health_status lb; }
        location /counted { health_status; }
    }
EOF2
$ng->start;

$ng->get('/') for 1 .. 30;
$ng->get('/missing') for 1 .. 3;
$ng->get('/api/x') for 1 .. 40;
$ng->get('/boom') for 1 .. 2;

# JSON
my ($r, $doc) = $ng->wait_doc(sub {
    $_[0]{zones}{site}{requests} == 33 && $_[0]{zones}{api}{requests} == 42 });
is($r->{status}, 200, 'JSON answers 200');
is($r->{headers}{'content-type'}, 'application/json', 'application/json');
is($r->{headers}{'cache-control'}, 'no-store', 'JSON: no-store');

my @top = $r->{content} =~ /^\{"(status)":"\w+","(service)":"[^"]*","(version)":"[^"]*","(timestamp)":"[^"]*","(uptime_s)":\d+,"(checks)":\{.*\},"(zones)":\{/;
is_deeply(\@top, [qw(status service version timestamp uptime_s checks zones)],
          'top-level keys in the order of the design');
is($doc->{service}, 'web-1', 'service');
is($doc->{version}, '0.1.0', 'version');
like($doc->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'timestamp in UTC with milliseconds');
cmp_ok($doc->{uptime_s}, '>=', 0, 'uptime_s');

is_deeply([sort keys %{ $doc->{checks} }],
          [qw(zone:api:error_rate zone:api:latency_p95
              zone:site:error_rate zone:site:latency_p95)],
          'default rules: error_rate and latency_p95 for every zone');

my $er = $doc->{checks}{'zone:api:error_rate'};
is_deeply([sort keys %$er],
          [sort qw(status value unit warning critical window_s)],
          'error_rate check keys');
is($er->{unit}, '%', 'error rate in %');
is($er->{warning}, 1, 'default warning 1%');
is($er->{critical}, 5, 'default critical 5%');
is($er->{window_s}, 60, 'default window 60s');
is($er->{value}, 4.762, '2 errors in 42 requests is 4.762%');
is($er->{status}, 'degraded', 'which is degraded');
like($r->{content}, qr/"zone:api:error_rate":\{"status":/,
     'status leads the check object');

my $lat = $doc->{checks}{'zone:api:latency_p95'};
is_deeply([sort keys %$lat], [sort qw(status value unit warning critical)],
          'latency check keys');
is($lat->{unit}, 'ms', 'latency in ms');
is($lat->{warning}, 2000, 'default warning 2s');
is($lat->{critical}, 5000, 'default critical 5s');
is($lat->{status}, 'healthy', 'fast requests are healthy');

is($doc->{status}, 'degraded', 'overall status is the worst check');

my $site = $doc->{zones}{site};
is_deeply([sort keys %$site],
          [sort qw(requests responses bytes_in bytes_out latency_ms window)],
          'zone keys');
is($site->{requests}, 33, 'site: 33 requests');
is_deeply($site->{responses},
          { '1xx' => 0, '2xx' => 30, '3xx' => 0, '4xx' => 3, '5xx' => 0,
            codes => { 200 => 30, 404 => 3 } }, 'site: responses');
is_deeply([sort keys %{ $site->{latency_ms} }], [qw(max p50 p95 p99)],
          'latency_ms keys');
is_deeply([sort keys %{ $site->{window} }],
          [qw(error_rate_pct requests rps seconds)], 'window keys');
is($site->{window}{seconds}, 60, 'window seconds');
is($site->{window}{requests}, 33, 'window requests');
cmp_ok($site->{window}{rps}, '>', 0, 'window rps');
is($doc->{zones}{api}{window}{error_rate_pct}, 4.762, 'window error rate');
is($doc->{zones}{api}{responses}{codes}{502}, 2, 'api: two 502');

# HEAD: same code and headers, no body
$r = $ng->http('HEAD', '/health');
is($r->{status}, 200, 'HEAD answers 200');
ok(!length($r->{content} // ''), 'HEAD has no body');
is($r->{headers}{'cache-control'}, 'no-store', 'HEAD: no-store');

# a status location without health_zone off is counted like any other
$ng->get('/counted') for 1 .. 2;
$doc = $ng->wait_counted('site', 35);
is($doc->{zones}{site}{requests}, 35, 'status location counted unless off');

# Prometheus
$r = $ng->get('/metrics');
is($r->{status}, 200, 'Prometheus answers 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'text exposition 0.0.4');
is($r->{headers}{'cache-control'}, 'no-store', 'Prometheus: no-store');
my $text = $r->{content};
$doc = $ng->get_json('/health');

my $dir = $ng->dir;
spew("$dir/metrics.txt", $text);
my ($rc, $out) = run_cmd('sh', '-c', "promtool check metrics < $dir/metrics.txt");
is($rc, 0, 'promtool check metrics passes') or diag $out;
is($out, '', 'promtool has nothing to say') or diag $out;

like($text, qr/^nginx_health_info\{service="web-1",version="0\.1\.0"\} 1$/m,
     'nginx_health_info');
like($text, qr/^nginx_health_status 1$/m, 'nginx_health_status degraded');
like($text, qr/^# HELP nginx_health_status Overall status: 0 healthy, 1 degraded, 2 unhealthy \(an unknown check makes it degraded\)\.$/m,
     'nginx_health_status: its HELP names no value 3, which it never takes');
like($text, qr/^nginx_health_check_status\{check="zone:api:error_rate"\} 1$/m,
     'check status');

for my $zone (qw(site api)) {
    my $z = $doc->{zones}{$zone};
    my ($req) = $text =~ /^nginx_health_requests_total\{zone="$zone"\} (\d+)$/m;
    is($req, $z->{requests}, "$zone: requests_total equals the JSON");
    for my $class (qw(1xx 2xx 3xx 4xx 5xx)) {
        my ($n) = $text =~ /^nginx_health_responses_total\{zone="$zone",code="$class"\} (\d+)$/m;
        is($n, $z->{responses}{$class}, "$zone: $class equals the JSON");
    }
    my ($inf) = $text =~ /^nginx_health_request_duration_seconds_bucket\{zone="$zone",le="\+Inf"\} (\d+)$/m;
    my ($count) = $text =~ /^nginx_health_request_duration_seconds_count\{zone="$zone"\} (\d+)$/m;
    is($inf, $count, "$zone: +Inf bucket equals _count");
    is($count, $z->{requests}, "$zone: _count equals the requests");
    my @le = $text =~ /^nginx_health_request_duration_seconds_bucket\{zone="$zone",le="([^"]+)"\}/mg;
    is_deeply(\@le, [qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf)],
              "$zone: the default bounds");
}

# ?format= overrides, unknown formats are refused
$r = $ng->get('/health?format=prometheus');
like($r->{content}, qr/^# HELP/, '?format=prometheus');
$r = $ng->get('/metrics?format=json');
is($r->{status}, 403, '?format=json on a prometheus location: refused (t/82)');
$r = $ng->get('/health?x=1&format=lb');
is($r->{content}, "degraded\n", '?format=lb among other arguments');

for my $bad (qw(xml HTML JSON), '') {
    $r = $ng->get("/health?format=$bad");
    is($r->{status}, 400, "?format=$bad is refused with 400");
    like($r->{content}, qr/^unknown format/, 'with a short message');
    is($r->{headers}{'cache-control'}, 'no-store', '400: no-store');
}

$r = $ng->http('POST', '/health');
is($r->{status}, 405, 'POST is not allowed');

# lb
$r = $ng->get('/lb');
is($r->{status}, 200, 'lb answers 200 when degraded');
is($r->{content}, "degraded\n", 'lb: one word');
is($r->{headers}{'content-type'}, 'text/plain', 'lb: text/plain');
is($r->{headers}{'cache-control'}, 'no-store', 'lb: no-store');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
