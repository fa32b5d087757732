#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The dashboard: health_status html and ?format=html serve the embedded page
# with a strict Content-Security-Policy; the embedded C is not stale; and
# Debian's headless Chromium, loading the page from a live nginx, renders
# the status, the zones and the upstream by name, shows a clear message
# when the JSON cannot be read, and never turns JSON text into markup.  A
# screenshot is written under the test's folder (kept with
# HEALTH_TEST_KEEP=1).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

use HealthTest qw(:all);
use HealthTest::Chromium;

my $CHROMIUM = HealthTest::Chromium::bin();

# the embedded page is what the source says
my $root = repo_root();
chdir $root or die "chdir $root: $!\n";
my ($rc, $fresh) = run_cmd("$root/scripts/embed-html.sh",
                           'ngx_health_module/dashboard/dashboard.html', '-');
is($rc, 0, 'scripts/embed-html.sh runs');
ok(defined $fresh
   && $fresh eq (slurp("$root/ngx_health_module/ngx_http_health_html_data.c")
                 // ''),
   'ngx_http_health_html_data.c is up to date with dashboard.html '
   . '(run scripts/embed-html.sh)');

# a JSON document written to test escaping: every string is markup
my $evil = JSON::PP->new->canonical->encode({
    status => 'degraded', service => '<img src=x id=pwned>web',
    version => '<b id=bold>1</b>', uptime_s => 5,
    timestamp => '2026-11-22T10:30:00.000Z',
    checks => {
        '<i id=chk>x</i>' => { status => 'degraded', value => '<u id=val>',
                               unit => '%', warning => 1, critical => 5 },
    },
    zones => {},
});
(my $evil_conf = $evil) =~ s/'/\\'/g;

# every section the design describes, as the merged module will write it:
# upstream peers (issue 5), the database and cache checks (issue 4)
my $full = JSON::PP->new->canonical->encode({
    status => 'degraded', service => 'web-1', version => '0.1.0',
    timestamp => '2026-11-22T10:30:00.000Z', uptime_s => 5123,
    checks => {
        'zone:api:error_rate' => { status => 'healthy', value => 0.4,
            unit => '%', warning => 1, critical => 5, window_s => 60 },
        'zone:api:latency_p95' => { status => 'degraded', value => 2310,
            unit => 'ms', warning => 2000, critical => 5000,
            since => '2026-11-22T10:25:00.000Z', held_s => 300,
            pending => { status => 'unhealthy',
                         until => '2026-11-22T10:31:30.000Z' } },
        'upstream:app' => { status => 'degraded', healthy_peers => 1,
                            total_peers => 2 },
        database => { status => 'degraded', response_time_ms => 3.1,
            required => JSON::PP::false, report => {
                status => 'degraded', database => 'shop',
                server_version => '15.8', duration_ms => 1.2,
                generated_at => '2026-11-22T10:29:58.000Z',
                checks => {
                    connections => { status => 'healthy', value => 12.5,
                        unit => '%', warning => 80, critical => 95 },
                    slow_queries => { status => 'healthy', value => 0,
                        unit => 'ms', warning => 500, critical => 2000 },
                    dead_tuples => { status => 'degraded', value => 15,
                        unit => '%', warning => 10, critical => 25,
                        tables => [ { relname => 'orders',
                                      dead_pct => 15 } ] },
                    lock_waits => { status => 'healthy', value => 0,
                        unit => 'ms', warning => 5000,
                        critical => 30000 },
                    disk => { status => 'healthy', value => 30,
                        unit => '%', warning => 80, critical => 90,
                        databases => [
                            { name => 'shop', size_bytes => 21474836480 },
                            { name => 'postgres', size_bytes => 7708007 } ],
                        database_sizes_age_s => 41.2 },
                } } },
        cache => { status => 'healthy', response_time_ms => 0.4,
                   required => JSON::PP::false, used_memory_pct => 12.5,
                   evicted_keys => 0, keyspace_hits => 900,
                   keyspace_misses => 100 },
        # no lookups in the window: no rate, whatever the counters say
        sessions => { status => 'healthy', response_time_ms => 0.3,
                      evicted_keys => 0, keyspace_hits => 900,
                      keyspace_misses => 100, hit_rate_pct => undef,
                      lookups => 0 },
        jobs => { status => 'degraded', value => 11, unit => 'items',
                  warning => 10, critical => 50, type => 'list',
                  key => 'bull:email:wait',
                  reason => '11 items, over the warning 10' },
        'slo:api_availability' => { status => 'degraded',
            reason => 'the 30m and 6h burn rates are above 6',
            page => '30m&6h', tickets => [], required => JSON::PP::false,
            value => 0.25, unit => 'budget remaining' },
    },
    slos => { api_availability => {
        zone => 'api', objective => 99.9, latency_ms => undef,
        period_s => 2592000, sli => 99.925, error_budget_remaining => 0.25,
        burn_rates => { '5m' => 2, '30m' => 7.5, '1h' => 5, '2h' => 4,
                        '6h' => 6.5, '1d' => 1.2, '3d' => 0.8 },
        good => 399700, total => 400000 } },
    zones => { api => {
        requests => 1500, bytes_in => 1234, bytes_out => 567890,
        responses => { '1xx' => 0, '2xx' => 1495, '3xx' => 0, '4xx' => 3,
                       '5xx' => 2 },
        latency_ms => { p50 => 12.1, p95 => 2310, p99 => 2900,
                        max => 3010 },
        window => { seconds => 60, requests => 1200, rps => 20,
                    error_rate_pct => 0.4 } } },
    upstreams => { app => { peers => [
        { server => '127.0.0.1:8081', state => 'up', requests => 700,
          fails => 0, latency_ms => { p50 => 9.8, p95 => 60, p99 => 99 },
          health_checks => { checks => 120, fails => 0,
                             last_passed => JSON::PP::true } },
        { server => '127.0.0.1:8082', state => 'unhealthy', requests => 12,
          fails => 9, latency_ms => { p95 => 1000 },
          health_checks => { checks => 120, fails => 30,
                             last_passed => JSON::PP::false } },
        # issue 15: failing its checks, kept in rotation by max_ejected
        { server => '127.0.0.1:8083', state => 'unhealthy', requests => 50,
          fails => 0, kept_by_limit => JSON::PP::true,
          kept_reason => 'fails its health checks, kept in rotation by '
                         . 'max_ejected=50%: at most 1 of 3 peers may be out at once',
          latency_ms => { p95 => 20 },
          health_checks => { checks => 120, fails => 40, last_status => 503,
                             last_passed => JSON::PP::false,
                             last_error => 'status not accepted',
                             last_rtt_ms => 1.5 } },
        # issue 15: back in rotation, its share ramping up (slow_start)
        { server => '127.0.0.1:8084', state => 'up', requests => 5,
          fails => 0, latency_ms => { p95 => 20 },
          slow_start => { until => '2026-11-22T10:31:00.000Z',
                          seconds_left => 12.5, weight_pct => 37,
                          ratio => 0.375 },
          health_checks => { checks => 120, fails => 40,
                             last_passed => JSON::PP::true } },
    ], max_ejected => 1, ejected => 1, kept_by_limit => 1 } },
});
(my $full_conf = $full) =~ s/'/\\'/g;

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service dash-1;

    # for the screenshot: the page's polls paced at two a second of real
    # time, so that Chromium's virtual time still sees rates and charts
    limit_req_zone \$server_port zone=pace:1m rate=2r/s;

    upstream app {
        server 127.0.0.1:%%PORT_1%%;
        server 127.0.0.1:%%PORT_2%%;
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        listen 127.0.0.1:%%PORT_2%%;

        location /       { return 200 "backend\\n"; }
        location /fail/  { return 500; }
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/      { health_zone api; proxy_pass http://app; }
        location /checkout/ { health_zone checkout; proxy_pass http://app/fail/; }

        # 3 requests, one a 502: below min_requests (20), not judged
        location = /sparse/ok  { health_zone sparse; return 200; }
        location = /sparse/bad { health_zone sparse; return 502; }

        location = /health    { health_status; }
        location = /dashboard { health_status html; }
        location = /paced {
            limit_req zone=pace burst=100;
            health_status html;
        }

        # the page served where ?format=json answers garbage, 404, or a
        # document whose strings are markup
        location = /garbage {
            if (\$arg_format = json) { return 200 "<html>not json"; }
            health_status html;
        }
        location = /gone {
            if (\$arg_format = json) { return 404; }
            health_status html;
        }
        location = /full {
            default_type application/json;
            if (\$arg_format = json) { return 503 '$full_conf'; }
            health_status html;
        }
        location = /warn {
            default_type application/json;
            if (\$arg_format = json) { return 429 '$full_conf'; }
            health_status html;
        }
        location = /evil {
            default_type application/json;
            if (\$arg_format = json) { return 200 '$evil_conf'; }
            health_status html;
        }
    }
EOF

my ($trc, $tout) = $ng->test_conf;
is($trc, 0, 'health_status html; passes nginx -t') or diag $tout;

$ng->start;

# the format switch
my $r = $ng->get('/dashboard');
is($r->{status}, 200, 'health_status html answers 200');
is($r->{headers}{'content-type'}, 'text/html; charset=utf-8',
   'text/html; charset=utf-8');
is($r->{headers}{'cache-control'}, 'no-store', 'html: no-store');
my $csp = $r->{headers}{'content-security-policy'} // '';
like($csp, qr/(^|; )default-src 'none'(;|$)/, "CSP: default-src 'none'");
like($csp, qr/(^|; )script-src 'sha256-[A-Za-z0-9+\/]{43}='(;|$)/,
     'CSP: script-src only the hash of the page\'s script');
like($csp, qr/(^|; )style-src 'sha256-[A-Za-z0-9+\/]{43}='(;|$)/,
     'CSP: style-src only the hash of the page\'s style');
like($csp, qr/(^|; )connect-src 'self'(;|$)/, "CSP: connect-src 'self'");
like($csp, qr/(^|; )img-src data:(;|$)/, 'CSP: img-src data:');
unlike($csp, qr/unsafe-(inline|eval)/, 'CSP: nothing unsafe');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
like($r->{content}, qr/^<!DOCTYPE html>/, 'an HTML page');
is(length $r->{content}, $r->{headers}{'content-length'},
   'Content-Length is the page');
unlike($r->{content}, qr/<(script|link|img)[^>]+(src|href)="(https?:)?\/\//i,
       'no external scripts, styles or images');
unlike($r->{content}, qr/\@font-face|\@import|url\(\s*['"]?(https?:)?\/\//i,
       'no web fonts or remote stylesheets');

$r = $ng->get('/health?format=html');
is($r->{status}, 200, '?format=html on a JSON location');
is($r->{headers}{'content-type'}, 'text/html; charset=utf-8',
   '?format=html is text/html');
is($r->{content}, $ng->get('/dashboard')->{content}, 'the same page');

$r = $ng->get('/dashboard?format=json');
like($r->{content}, qr/^\{"status"/, '?format=json on the html location');
is($r->{headers}{'content-type'}, 'application/json', 'application/json');

$r = $ng->http('HEAD', '/dashboard');
is($r->{status}, 200, 'HEAD on the page');
is($r->{content} // '', '', 'HEAD has no body');

for my $bad (qw(xml HTML htm), '') {
    $r = $ng->get("/dashboard?format=$bad");
    is($r->{status}, 400, "?format=$bad is still refused with 400");
}
like($ng->get('/dashboard?format=xml')->{content},
     qr/^unknown format, use json, prometheus, html or lb/,
     'the 400 message names html');

# traffic: api is fine, checkout fails every request (unhealthy, so the
# JSON answers 503 and the page must still read it)
$ng->get('/api/x') for 1 .. 60;
$ng->get('/checkout/x') for 1 .. 25;
$ng->get('/sparse/ok') for 1 .. 2;
$ng->get('/sparse/bad');

my ($jr, $doc) = $ng->wait_doc(sub {
    $_[0]{zones}{api}{requests} == 60 && $_[0]{zones}{checkout}{requests} == 25
      && $_[0]{zones}{sparse}{requests} == 3 });
is($jr->{status}, 503, 'the instance is unhealthy: the JSON answers 503');
my $has_upstreams = ref $doc eq 'HASH' && ref $doc->{upstreams} eq 'HASH';

ok(-x $CHROMIUM, "$CHROMIUM is installed (make deps)");

my $out = tmp_dir('dashboard');

# light traffic while the browser polls, so the charts move
my $load = fork // die "fork: $!\n";
if ($load == 0) {
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 5);
    my $end = time + 60;
    while (time < $end) {
        $ua->get($ng->url('/api/y'));
        $ua->get($ng->url('/checkout/y')) if rand() < 0.1;
        sleep 0.01 + 0.04 * (0.5 + 0.5 * sin(time));
    }
    POSIX::_exit(0);
}

my $dom = chromium('--virtual-time-budget=4000', '--dump-dom',
                   $ng->url('/paced?refresh=1'));
like($dom, qr/id="status-word"[^>]*>.*?<span>unhealthy<\/span>/s,
     'the banner says unhealthy (read from a 503)');
like($dom, qr/class="banner s-unhealthy"/, 'in the unhealthy colour');
like($dom, qr/<dd id="service">dash-1<\/dd>/, 'the service name');
like($dom, qr/<h3>api<\/h3>/, 'zone api by name');
like($dom, qr/<h3>checkout<\/h3>/, 'zone checkout by name');
like($dom, qr/<code>zone:checkout:error_rate<\/code>/, 'a check by name');
like($dom, qr/<div id="error" class="error" role="alert" hidden="">/,
     'no error message');
ok(index($dom, 'zone:checkout:error_rate') < index($dom, 'zone:api:error_rate'),
   'checks worst first');
like($dom, qr/<path class="rps" d="M/, 'a chart from the page\'s own samples');

# too little traffic: 3 requests, one a 502, shows 33.3% but not under a
# green "healthy": a grey badge that says it was not judged
ok($dom =~ m{<h3>sparse</h3><span class="pill s-notjudged"[^>]*><span aria-hidden="true">[^<]*</span>not judged \(3 of 20 requests\)</span>},
   'zone sparse: a grey "not judged (3 of 20 requests)" badge')
    or diag(($dom =~ m{(<h3>sparse</h3>.{0,300})}s)[0] // 'no zone sparse');
ok($dom !~ m{<h3>sparse</h3><span class="pill s-healthy"},
   'zone sparse: not the green healthy badge');
like($dom, qr/<article class="card s-notjudged" aria-label="zone sparse">/,
     'zone sparse: its card greyed');
ok($dom =~ m{<code>zone:sparse:error_rate</code></div><div role="cell"><span class="pill s-notjudged"[^>]*><span aria-hidden="true">[^<]*</span>not judged \(3 of 20 requests\)</span>},
   'check zone:sparse:error_rate: the same grey badge')
    or diag(($dom =~ m{(zone:sparse:error_rate</code>.{0,300})}s)[0] // 'no check');

# ?refresh=N: whole seconds from 1 to 30, not rounded to the list's
for (['7', 7], ['45', 30], ['0.4', 1], ['2', 2]) {
    my ($q, $want) = @$_;
    my $d = chromium('--virtual-time-budget=1000', '--dump-dom',
                     $ng->url("/paced?refresh=$q"));
    ok($d =~ m{<select id="refresh">(.*?)</select>}s
       && $1 =~ m{<option value="$want" selected="">$want s</option>},
       "?refresh=$q: the list shows $want s, selected")
        or diag(($d =~ m{(<select id="refresh">.*?</select>)}s)[0] // 'no list');
}

ok($has_upstreams, 'the status JSON has upstreams');
# ok(), not like(): a failure need not print the whole page
ok($dom =~ /<h3>app<\/h3>/, 'upstream app by name')
    or diag 'rendered page kept under ' . $out;
ok($dom =~ /127\.0\.0\.1:${\ $ng->port(1)}/, 'its first peer');

my $png = "$out/dashboard.png";
chromium('--virtual-time-budget=12000', '--window-size=1280,1600',
         '--hide-scrollbars', "--screenshot=$png", $ng->url('/paced?refresh=1'));
ok(-s $png, 'a screenshot was written');
diag("screenshot: $png" . ($ENV{HEALTH_TEST_KEEP} ? ''
                           : ' (HEALTH_TEST_KEEP=1 keeps it)'));

kill 'TERM', $load;
waitpid $load, 0;

# the JSON cannot be read
$dom = chromium('--virtual-time-budget=3000', '--dump-dom',
                $ng->url('/garbage'));
like($dom, qr/<div id="error" class="error" role="alert">/,
     'garbage: the error message is shown');
like($dom, qr/Cannot read the status JSON/, 'garbage: it says so');
like($dom, qr/is not JSON/, 'garbage: and why');
like($dom, qr/<span>no data<\/span>/, 'garbage: the banner says no data');

$dom = chromium('--virtual-time-budget=3000', '--dump-dom',
                $ng->url('/gone'));
like($dom, qr/<div id="error" class="error" role="alert">/,
     '404: the error message is shown');
like($dom, qr/HTTP 404/, '404: with the HTTP status');

# a location that answers degraded with its own code (degraded=429): the
# page reads the document, no error
$dom = chromium('--virtual-time-budget=3000', '--dump-dom',
                $ng->url('/warn'));
like($dom, qr/class="banner s-degraded"/, '429: the degraded banner');
like($dom, qr/<div id="error" class="error" role="alert" hidden="">/,
     '429: no error message');

# text from the JSON is text, never markup; absent sections stay hidden
$dom = chromium('--virtual-time-budget=3000', '--dump-dom',
                $ng->url('/evil'));
like($dom, qr/<span>degraded<\/span>/, 'escaping: the document was read');
like($dom, qr/&lt;img src=x id=pwned&gt;web/, 'escaping: service as text');
like($dom, qr/&lt;i id=chk&gt;x&lt;\/i&gt;/, 'escaping: check name as text');
unlike($dom, qr/id="(pwned|bold|chk|val)"/, 'escaping: no element made');
like($dom, qr/No zones/, 'no zones: said so');
like($dom, qr/id="upstreams-panel" hidden/, 'no upstreams: hidden');
like($dom, qr/id="database-panel" hidden/, 'no database: hidden');
like($dom, qr/id="cache-panel" hidden/, 'no cache: hidden');
like($dom, qr/id="slos-panel" hidden/, 'no SLO: hidden');

# every section, from a document of the design's shape
$dom = chromium('--virtual-time-budget=3000', '--dump-dom',
                $ng->url('/full'));
like($dom, qr/class="banner s-degraded"/, 'full: degraded banner');
like($dom, qr/id="upstreams-panel"(?! hidden)/, 'full: upstreams shown');
like($dom, qr/<h3>app<\/h3>/, 'full: upstream app by name');
like($dom, qr/<code>127\.0\.0\.1:8082<\/code>.*?unhealthy/s,
     'full: a peer with its state');
like($dom, qr/2 of 4 peers up, 1 failing but kept in by max_ejected/,
     'full: peers up, and the ones kept in by max_ejected');
like($dom, qr/<tr class="s-degraded"><th scope="row"><code>127\.0\.0\.1:8083<\/code>.*?title="fails its health checks, kept in rotation by max_ejected=50%: at most 1 of 3 peers may be out at once".*?unhealthy, kept in by max_ejected/s,
     'full: the kept-in peer is degraded, says so, and why on hover');
like($dom, qr/<code>127\.0\.0\.1:8083<\/code>.*?failed: status not accepted \S+ HTTP 503 \S+ 1\.5 ms/s,
     'full: the last check\'s error, status and round trip');
like($dom, qr/<code>127\.0\.0\.1:8084<\/code>.*?title="slow_start: its share ramps up until 2026-11-22T10:31:00\.000Z".*?up, ramping up: 37 %/s,
     'full: a peer in its slow start says how far its share has ramped');
like($dom, qr/<code>zone:api:latency_p95<\/code>.*?pending unhealthy at 10:31:30 UTC \S+ held 300 s/s,
     'full: a held check says what is pending, when, and how long it held');
like($dom, qr/id="database-panel"(?! hidden)/, 'full: database shown');
like($dom, qr/<th scope="row">dead tuples<\/th>.*?degraded.*?orders 15 %/s,
     'full: a health_report() check with its status and table');
like($dom, qr/<th scope="row">disk<\/th>.*?healthy.*?shop 20 GB, postgres 7,527 kB \(41 s ago\)/s,
     'full: the disk check with the largest databases, sized');
like($dom, qr/<dt>PostgreSQL<\/dt><dd class="num">15\.8<\/dd>/,
     'full: the server version');
like($dom, qr/id="cache-panel"(?! hidden)/, 'full: cache shown');
like($dom, qr/id="slos-panel"(?! hidden)/, 'full: SLOs shown');
like($dom, qr/aria-label="SLO api_availability"/, 'full: the SLO by name');
like($dom, qr/<dt>Budget left<\/dt><dd>25 %/, 'full: its budget left');
like($dom, qr/<tr class="s-unhealthy"><th scope="row">30m<\/th><td class="r num">7\.5(?:\xc3\x97|\x{d7})/,
     'full: the 30m window above its page factor, marked');
like($dom, qr/<tr><th scope="row">5m<\/th><td class="r num">2(?:\xc3\x97|\x{d7})/,
     'full: the 5m window below its factor, not marked');
like($dom, qr/<dt>memory used<\/dt><dd class="num">12\.5 %<\/dd>/,
     'full: cache memory');
like($dom, qr/<dt>hit rate<\/dt><dd class="num">90 %<\/dd>/,
     'full: cache hit rate');
like($dom, qr/aria-label="cache sessions".*?<dt>hit rate<\/dt><dd[^>]*>no lookups<\/dd>/s,
     'full: no lookups in the window, no hit rate');
like($dom, qr/<code>jobs<\/code>.*?11 items/s,
     'full: a queue check with its length');
my $png_full = "$out/dashboard-full.png";
chromium('--virtual-time-budget=3000', '--window-size=1280,2000',
         '--hide-scrollbars', "--screenshot=$png_full", $ng->url('/full'));
ok(-s $png_full, 'a screenshot of every section was written');
diag("screenshot: $png_full");

is(join("\n", $ng->log_alerts), '', 'no alerts in error.log');

# Once any health_rule is given, a zone no rule names has no check: its
# badge says it is never judged, not a green "healthy"; a zone under an
# SLO only is as healthy as its SLO; the headline counts the checks that
# judged nothing for want of requests
{
    my $ng2 = HealthTest::Nginx->new(conf => <<'EOF2');
    health_rule error_rate zone=api warning=10% critical=50% min_requests=1;
    health_rule error_rate zone=sparse warning=10% critical=50% min_requests=20;
    health_slo s zone=slozone objective=99%;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/    { health_zone api; return 200; }
        location /site/   { health_zone site; return 200; }
        location /sparse/ { health_zone sparse; return 200; }
        location /slo/    { health_zone slozone; return 200; }
        location = /dashboard { health_zone off; health_status html; }
        location = /health    { health_zone off; health_status; }
    }
EOF2
    $ng2->start;
    $ng2->get($_) for qw(/api/a /api/b /site/a /slo/a);
    $ng2->wait_counted('api', 2);
    my $d = chromium('--virtual-time-budget=2000', '--dump-dom',
                     $ng2->url('/dashboard'));
    like($d, qr{id="summary">all 3 checks healthy \(1 of them not judged: too few requests\)<},
         'headline: all healthy, one of them not judged');
    ok($d =~ m{<h3>site</h3><span class="pill s-notjudged"[^>]*><span aria-hidden="true">[^<]*</span>not judged \(no rule\)</span>},
       'zone site, named by no rule: "not judged (no rule)"')
        or diag(($d =~ m{(<h3>site</h3>.{0,200})}s)[0] // 'no zone site');
    like($d, qr{<h3>slozone</h3><span class="pill s-healthy"},
         'zone slozone, under an SLO only: as healthy as its SLO');
    like($d, qr{<h3>api</h3><span class="pill s-healthy"}, 'zone api: healthy');
    is(join("\n", $ng2->log_alerts), '', 'no alerts in error.log');
    $ng2->stop;
}

done_testing();

# headless Chromium on a fresh profile, with the flags every dashboard test
# uses; returns its stdout
sub chromium { HealthTest::Chromium::run(@_) }
