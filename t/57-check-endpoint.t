#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# One endpoint per check, a warning code, and rules that say when they did
# not judge (issue 13 points 4, 5 and 6).  Each check's status is set by
# exact request counts:
#
#   zone a: 100 x 200, min_requests=5            -> healthy (and latency_p95)
#   zone b: 10 x 500, min_requests=5             -> unhealthy
#   zone c: 3 requests, one a 502, min_requests=20 -> healthy, not judged
#   zone d: 20 requests, two 500 (10%), warning=1 critical=50 -> degraded
#
# The first nginx has plain status locations only (so that every point
# can be seen failing, one by one, on a module without them); the second
# configures check= and degraded= on its locations; the third is degraded
# as a whole, for degraded= on the unfiltered answers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;

use HealthTest qw(:all);

my $rules = <<'EOF';
    health_service chk-1;
    health_rule error_rate zone=a warning=1 critical=5 min_requests=5;
    health_rule latency_p95 zone=a warning=2s critical=5s;
    health_rule error_rate zone=b warning=1 critical=5 min_requests=5;
    health_rule error_rate zone=c warning=1 critical=5 min_requests=20;
    health_rule error_rate zone=d warning=1 critical=50 min_requests=5;
EOF

my $traffic = <<'EOF';
        location = /a/ok  { health_zone a; return 200 "a\n"; }
        location = /b/err { health_zone b; return 500; }
        location = /c/ok  { health_zone c; return 200 "c\n"; }
        location = /c/bad { health_zone c; return 502; }
        location = /d/ok  { health_zone d; return 200 "d\n"; }
        location = /d/err { health_zone d; return 500; }
EOF

sub drive {
    my ($ng, %n) = @_;
    $ng->get('/a/ok') for 1 .. ($n{a} // 0);
    $ng->get('/b/err') for 1 .. ($n{b} // 0);
    $ng->get('/c/ok') for 1 .. ($n{c} // 0);
    $ng->get('/c/bad') for 1 .. ($n{cbad} // 0);
    $ng->get('/d/ok') for 1 .. ($n{d} // 0);
    $ng->get('/d/err') for 1 .. ($n{derr} // 0);
}

# a raw request: the query goes out byte for byte
sub raw_get {
    my ($ng, $target) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $ng->port,
                                  Timeout => 10) or die "connect: $!\n";
    print $s "GET $target HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $all = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $all, 2;
    my ($code) = $head =~ m{^HTTP/1\.\d (\d{3})};
    return ($code, $head, $body // '');
}

sub json_of { my $d = eval { JSON::PP->new->decode($_[0]{content}) }; $d }

##########################################################################
# 1. plain status locations: ?check=, and the not-judged flag

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
$rules
    upstream app {
        server 127.0.0.1:%%PORT_1%%;
        server 127.0.0.1:%%PORT_1%% down;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
$traffic
        location /app/   { proxy_pass http://app; }
        location /health { health_status; }
        location /lb     { health_status lb; }
    }
EOF
$ng->start;

drive($ng, a => 100, b => 10, c => 2, cbad => 1, d => 18, derr => 2);

my ($r, $doc) = $ng->wait_doc(sub {
    my $z = $_[0]{zones};
    $z->{a}{requests} == 100 && $z->{b}{requests} == 10
      && $z->{c}{requests} == 3 && $z->{d}{requests} == 20 });

is($r->{status}, 503, 'the whole instance: 503 (zone b)');
is($doc->{status}, 'unhealthy', 'unhealthy');

# point 4: too little traffic is not "healthy" without a word
my $c = $doc->{checks}{'zone:c:error_rate'};
is($c->{status}, 'healthy', 'zone c, 3 requests of 20: healthy, never a failure');
is($c->{value}, 33.333, 'its error rate is shown: 1 of 3 is 33.333%');
ok(JSON::PP::is_bool($c->{judged}) && !$c->{judged},
   'zone c: "judged": false');
is($c->{requests}, 3, 'zone c: "requests": 3, the window\'s');
is($c->{min_requests}, 20, 'zone c: "min_requests": 20');
like($r->{content},
     qr/"zone:c:error_rate":\{"status":"healthy","value":33\.333,"unit":"%","warning":1,"critical":5,"window_s":60,"judged":false,"requests":3,"min_requests":20\}/,
     'zone c: the check object, exactly');
ok(!exists $doc->{checks}{'zone:a:error_rate'}{judged},
   'a judged rule\'s object is as it was: no "judged" key');
is($doc->{checks}{'zone:b:error_rate'}{status}, 'unhealthy', 'zone b: unhealthy');
is($doc->{checks}{'zone:d:error_rate'}{status}, 'degraded', 'zone d: degraded');

my $prom = $ng->get('/health?format=prometheus')->{content};
like($prom, qr/^# TYPE nginx_health_check_judged gauge$/m,
     'nginx_health_check_judged: a gauge');
like($prom, qr/^nginx_health_check_judged\{check="zone:c:error_rate"\} 0$/m,
     'nginx_health_check_judged of zone c: 0');
like($prom, qr/^nginx_health_check_judged\{check="zone:a:error_rate"\} 1$/m,
     'nginx_health_check_judged of zone a: 1');
is(scalar(() = $prom =~ /^nginx_health_check_judged\{/mg), 5,
   'one judged sample for each of the 5 rules');
like($prom, qr/^nginx_health_check_status\{check="zone:c:error_rate"\} 0$/m,
     'and its status stays 0 (healthy)');
# "server A; server A down;": the same server twice in a group is two
# peers; each has series of its own ("#1" after the repeat's name), as a
# scrape with two series of the same labels is refused by newer promtool
# and Prometheus
my %series;
$series{$_}++ for $prom =~ /^(nginx_\w+\{[^}]*\})/mg;
is_deeply([grep { $series{$_} > 1 } sort keys %series], [],
          'no two samples with the same name and labels');
my $p1 = $ng->port(1);
like($prom, qr/^nginx_health_upstream_peer_requests_total\{upstream="app",peer="127\.0\.0\.1:$p1"\} /m,
     'the first peer of a server listed twice: its name');
like($prom, qr/^nginx_health_upstream_peer_requests_total\{upstream="app",peer="127\.0\.0\.1:$p1#1"\} /m,
     'the repeat: its name and #1');
spew($ng->dir . '/metrics.txt', $prom);
my ($rc, $out) = run_cmd('sh', '-c',
                         'promtool check metrics < ' . $ng->dir . '/metrics.txt');
is($rc, 0, 'promtool check metrics passes') or diag $out;

# point 5: one endpoint per check
$r = $ng->get('/health?check=zone:b:error_rate');
is($r->{status}, 503, '?check=zone:b:error_rate: 503');
$doc = json_of($r);
is($doc->{status}, 'unhealthy', '... unhealthy');
is_deeply([sort keys %{ $doc->{checks} }], ['zone:b:error_rate'],
          '... with that check alone');
is_deeply([sort keys %$doc], [qw(checks service status timestamp version)],
          '... and only status, service, version, timestamp and checks');
like($r->{content},
     qr/^\{"status":"unhealthy","service":"chk-1","version":"[^"]+","timestamp":"[^"]+","checks":\{"zone:b:error_rate":\{[^{}]*\}\}\}\n\z/,
     '... in that order, one newline at the end');
is($r->{headers}{'cache-control'}, 'no-store', '... no-store');
is($r->{headers}{'content-type'}, 'application/json', '... application/json');

$r = $ng->get('/health?check=zone:a:*');
is($r->{status}, 200, '?check=zone:a:*: 200');
$doc = json_of($r);
is($doc->{status}, 'healthy', '... healthy');
is_deeply([sort keys %{ $doc->{checks} }],
          [qw(zone:a:error_rate zone:a:latency_p95)], '... both checks of a');

$r = $ng->get('/health?check=zone:c:*');
is($r->{status}, 200, '?check=zone:c:*: 200');
$doc = json_of($r);
is($doc->{status}, 'healthy', '... healthy');
ok(JSON::PP::is_bool($doc->{checks}{'zone:c:error_rate'}{judged})
   && !$doc->{checks}{'zone:c:error_rate'}{judged},
   '... and says it was not judged');

$r = $ng->get('/health?check=zone:d:error_rate');
is($r->{status}, 200, '?check=zone:d:error_rate: degraded answers 200');
is(json_of($r)->{status}, 'degraded', '... degraded');

$r = $ng->get('/health?check=zone:a:error_rate,zone:d:*');
is($r->{status}, 200, 'a list: a and d, 200');
is(json_of($r)->{status}, 'degraded', '... the worst of them, degraded');
is_deeply([sort keys %{ json_of($r)->{checks} }],
          [qw(zone:a:error_rate zone:d:error_rate)], '... those checks');

$r = $ng->get('/health?check=zone:*:error_rate');
is($r->{status}, 503, '?check=zone:*:error_rate: 503');
is(scalar keys %{ json_of($r)->{checks} }, 4, '... the 4 error rates');

$r = $ng->get('/health?check=zone%3Aa%3A%2A');
is($r->{status}, 200, 'percent-encoded zone:a:* is zone:a:*');
is(scalar keys %{ json_of($r)->{checks} }, 2, '... its 2 checks');

# a reporter's check (an upstream group) obeys the same selection
$r = $ng->get('/health?check=upstream:*');
is($r->{status}, 200, '?check=upstream:*: 200');
$doc = json_of($r);
is_deeply([keys %{ $doc->{checks} }], ['upstream:app'], '... upstream:app alone');
is($doc->{checks}{'upstream:app'}{healthy_peers}, 1, '... its own object');
ok(!exists $doc->{upstreams}, '... no "upstreams" member');
ok(exists json_of($ng->get('/health'))->{upstreams},
   'the whole answer still has "upstreams"');

$r = $ng->http('HEAD', '/health?check=zone:b:*');
is($r->{status}, 503, 'HEAD ?check=zone:b:*: 503');
is($r->{content} // '', '', '... no body');

# unknown names: 404, short, nothing echoed
for my $q ('nope', 'zone:a', 'zone:a:error_rate_x', 'ZONE:A:*', '', ',,,') {
    $r = $ng->get("/health?check=$q");
    is($r->{status}, 404, "?check=$q: 404");
    is($r->{content}, "no check matches\r\n", '... a short message');
    is($r->{headers}{'content-type'}, 'text/plain', '... text/plain');
    is($r->{headers}{'cache-control'}, 'no-store', '... no-store');
}

my ($code, $head, $body) = raw_get($ng,
    '/health?check=%3Cscript%3Ealert(1)%3C/script%3E%00%FF%FE%0D%0AX-Evil:%201');
is($code, 404, 'hostile bytes in the name: 404');
is($body, "no check matches\r\n", '... the same short message');
unlike($head, qr/X-Evil/i, '... no header injected');
like($head, qr{^Content-Type: text/plain\r$}mi, '... text/plain');
unlike($body, qr/script|\xff|\x00/, '... nothing of the query echoed');

($code, $head, $body) = raw_get($ng, '/health?check=zone:a:*,%FF%00');
is($code, 200, 'an item with bytes no name has is dropped, the rest served');

($code, $head, $body) = raw_get($ng, '/health?check=' . ('a' x 300));
is($code, 400, 'a check= of 300 bytes: 400');
is($body, "check= is too long\r\n", '... a short message, no echo');
($code) = raw_get($ng, '/health?check=' . ('%41' x 257));
is($code, 400, '257 bytes once decoded: 400');
($code) = raw_get($ng, '/health?check=' . ('*' x 200) . 'x');
is($code, 404, 'a pattern of 200 stars matches nothing quickly: 404');

# lb: the check's own word and code; never the shared verdict
$r = $ng->get('/lb?check=zone:a:*');
is($r->{status}, 200, 'lb ?check=zone:a:*: 200');
is($r->{content}, "healthy\n", '... healthy');
$r = $ng->get('/lb');
is($r->{status}, 503, 'lb right after: still the whole instance, 503');
is($r->{content}, "unhealthy\n", '... unhealthy (a selection never puts the verdict)');
$r = $ng->get('/lb?check=zone:a:*');
is($r->{content}, "healthy\n", 'lb ?check= right after a verdict: not the verdict');
$r = $ng->get('/lb?check=zone:d:*');
is($r->{status}, 200, 'lb ?check=zone:d:*: 200');
is($r->{content}, "degraded\n", '... degraded');
$r = $ng->get('/lb?check=zone:b:error_rate');
is($r->{status}, 503, 'lb ?check=zone:b:error_rate: 503');
$r = $ng->get('/lb?check=nope');
is($r->{status}, 404, 'lb ?check=nope: 404');

# prometheus: the matching checks' samples only, always 200
$r = $ng->get('/health?format=prometheus&check=zone:b:*');
is($r->{status}, 200, 'prometheus ?check=zone:b:*: 200');
is($r->{content},
   "# HELP nginx_health_check_status Status of a check: 0 healthy, "
   . "1 degraded, 2 unhealthy, 3 unknown.\n"
   . "# TYPE nginx_health_check_status gauge\n"
   . "nginx_health_check_status{check=\"zone:b:error_rate\"} 2\n"
   . "# HELP nginx_health_check_judged Whether a zone's rule had its "
   . "min_requests in the window (1) or too few requests to be judged "
   . "(0, reported healthy).\n"
   . "# TYPE nginx_health_check_judged gauge\n"
   . "nginx_health_check_judged{check=\"zone:b:error_rate\"} 1\n",
   '... those samples, nothing else');
spew($ng->dir . '/sel.txt', $r->{content});
($rc, $out) = run_cmd('sh', '-c',
                      'promtool check metrics < ' . $ng->dir . '/sel.txt');
is($rc, 0, '... promtool check metrics passes') or diag $out;
is($ng->get('/health?format=prometheus&check=nope')->{status}, 404,
   'prometheus ?check=nope: 404');

# 405 carries no-store too (issue 17), and what is allowed
$r = $ng->http('POST', '/health');
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{'cache-control'}, 'no-store', '405: no-store');
is($r->{headers}{allow}, 'GET, HEAD', '405: Allow: GET, HEAD');

$ng->stop;

##########################################################################
# 2. check= and degraded= as parameters of health_status

$ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
$rules
    server {
        listen 127.0.0.1:%%PORT%%;
$traffic
        location /health  { health_status; }
        location /only-a  { health_status check=zone:a:*; }
        location /ad      { health_status json check=zone:a:*,zone:d:* degraded=429; }
        location /ad-lb   { health_status lb check=zone:a:*,zone:d:* degraded=429; }
        location /lb429   { health_status lb degraded=429; }
        location /json429 { health_status degraded=429; }
    }
EOF
my ($trc, $tout) = $ng->test_conf;
is($trc, 0, 'check= and degraded= pass nginx -t') or diag $tout;
$ng->start;

drive($ng, a => 100, b => 10, c => 2, cbad => 1, d => 18, derr => 2);
$ng->wait_doc(sub {
    my $z = $_[0]{zones};
    $z->{a}{requests} == 100 && $z->{b}{requests} == 10
      && $z->{c}{requests} == 3 && $z->{d}{requests} == 20 });

$r = $ng->get('/only-a');
is($r->{status}, 200, 'health_status check=zone:a:*: 200');
is_deeply([sort keys %{ json_of($r)->{checks} }],
          [qw(zone:a:error_rate zone:a:latency_p95)], '... zone a\'s checks');
$r = $ng->get('/only-a?check=zone:a:error_rate');
is($r->{status}, 200, 'a narrower query: 200');
is_deeply([keys %{ json_of($r)->{checks} }], ['zone:a:error_rate'],
          '... that check alone');
$r = $ng->get('/only-a?check=zone:b:error_rate');
is($r->{status}, 404, 'a query for a check the location does not serve: 404');
is($r->{content}, "no check matches\r\n", '... as an unknown name');
$r = $ng->get('/only-a?check=*');
is($r->{status}, 200, '?check=* cannot widen: 200');
is_deeply([sort keys %{ json_of($r)->{checks} }],
          [qw(zone:a:error_rate zone:a:latency_p95)], '... zone a\'s checks still');
$r = $ng->get('/only-a?format=prometheus');
unlike($r->{content}, qr/zone:b|nginx_health_requests_total/,
       '... prometheus too: nothing beyond them');

$r = $ng->get('/ad');
is($r->{status}, 429, 'check=zone:a:*,zone:d:* degraded=429: degraded is 429');
is(json_of($r)->{status}, 'degraded', '... degraded');
$r = $ng->get('/ad?check=zone:a:*');
is($r->{status}, 200, '... narrowed to a, healthy: 200');
$r = $ng->get('/ad-lb');
is($r->{status}, 429, 'lb check=... degraded=429: 429');
is($r->{content}, "degraded\n", '... degraded');
$r = $ng->get('/ad-lb?check=zone:a:*');
is($r->{status}, 200, '... narrowed to a: 200');

$r = $ng->get('/json429');
is($r->{status}, 503, 'degraded=429 leaves unhealthy at 503');
$r = $ng->get('/json429?check=zone:d:*');
is($r->{status}, 429, '... a degraded selection of it: 429');
$r = $ng->get('/lb429?check=zone:d:*');
is($r->{status}, 429, 'lb degraded=429, ?check=zone:d:*: 429');
is($r->{content}, "degraded\n", '... degraded');
$r = $ng->get('/json429?check=zone:c:*');
is($r->{status}, 200, 'not judged is healthy, 200 even with degraded=429');

$ng->stop;

##########################################################################
# 3. an instance degraded as a whole: degraded= on the unfiltered answers

$ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_rule error_rate zone=d warning=1 critical=50 min_requests=5;
    server {
        listen 127.0.0.1:%%PORT%%;
$traffic
        location /health  { health_status; }
        location /h429    { health_status degraded=429; }
        location /lb429   { health_status lb degraded=429; }
        location /lb      { health_status lb; }
        location /m429    { health_status prometheus degraded=429; }
        location /page429 { health_status html degraded=429; }
    }
EOF
$ng->start;
drive($ng, d => 18, derr => 2);
($r, $doc) = $ng->wait_doc(sub { $_[0]{zones}{d}{requests} == 20 });
is($doc->{status}, 'degraded', 'a degraded instance');
is($r->{status}, 200, 'plain health_status: degraded is 200');

$r = $ng->get('/h429');
is($r->{status}, 429, 'health_status degraded=429: 429');
is(json_of($r)->{status}, 'degraded', '... with the JSON');
is($ng->http('HEAD', '/h429')->{status}, 429, '... HEAD too');

# lb: the first answer judges, the next ones come from the verdict
my @codes = map { $ng->get('/lb429')->{status} } 1 .. 20;
is_deeply(\@codes, [(429) x 20], 'lb degraded=429: 429, 20 times in a row');
is($ng->get('/lb429')->{content}, "degraded\n", '... degraded');
is($ng->get('/lb')->{status}, 200, 'lb without degraded=: 200');

$r = $ng->get('/m429');
is($r->{status}, 200, 'prometheus with degraded=429: still 200');
$r = $ng->get('/page429');
is($r->{status}, 200, 'html with degraded=429: the page, 200');
is($ng->get('/page429?format=json')->{status}, 429,
   '... its JSON: 429');
is($ng->get('/h429?format=prometheus')->{status}, 200,
   '?format=prometheus on a degraded=429 location: 200');

$ng->stop;

##########################################################################
# 3b. the verdict's fast path, by construction: every clock stands still
# (as in t/19), so a verdict stays 0 ms old and lb answers from it; one
# worker, so each request is counted before the next is read.  Errors
# after the verdict do not show in plain lb, and do in a selection.

$ng = HealthTest::Nginx->new(workers => 1, faketime => 'all', conf => <<"EOF");
    health_rule error_rate zone=a warning=1 critical=5 min_requests=5;
    health_rule error_rate zone=d warning=1 critical=50 min_requests=5;
    server {
        listen 127.0.0.1:%%PORT%%;
$traffic
        location /lb429 { health_zone off; health_status lb degraded=429; }
        location /lb    { health_zone off; health_status lb; }
    }
EOF
$ng->set_clock('2026-01-01 00:00:00');
$ng->start;
drive($ng, a => 10, d => 18, derr => 2);
$r = $ng->get('/lb429');
is($r->{status}, 429, 'frozen clock: lb degraded=429 judges degraded, 429');
drive($ng, derr => 30);
$r = $ng->get('/lb429');
is($r->{content}, "degraded\n",
   '30 errors later, no time passed: the verdict answers, degraded');
is($r->{status}, 429, '... with the degraded= code, 429');
is($ng->get('/lb')->{status}, 200, '... and 200 where degraded= is not set');
$r = $ng->get('/lb429?check=zone:d:*');
is($r->{content}, "unhealthy\n",
   'a selection judges for itself, never from the verdict: unhealthy');
is($r->{status}, 503, '... 503');
is($ng->get('/lb?check=zone:a:*')->{content}, "healthy\n",
   'a selection of zone a: healthy');
is($ng->get('/lb')->{content}, "degraded\n",
   'and it did not put its verdict: plain lb still answers degraded');
$ng->stop;

##########################################################################
# 4. a dependency with required=off: capped for the instance, its own
# status when asked for by name (a real redis-server, then stopped)

my $rd = HealthTest::Redis->start;
$ng = HealthTest::Nginx->new(workers => 2,
                             conf => <<"EOF");
    health_rule error_rate zone=a warning=1 critical=5 min_requests=5;
    health_redis 127.0.0.1:${\ $rd->port} name=cache interval=1s timeout=1s publish=off;
    server {
        listen 127.0.0.1:%%PORT%%;
$traffic
        location /health { health_status; }
        location /lb     { health_status lb; }
    }
EOF
$ng->start;
drive($ng, a => 10);
ok(defined $ng->wait_check('cache', 'healthy'), 'cache: healthy');
$r = $ng->get('/health?check=cache');
is($r->{status}, 200, '?check=cache while Redis answers: 200');
is_deeply([keys %{ json_of($r)->{checks} }], ['cache'], '... the cache alone');

$rd->stop;
ok(defined $ng->wait_check('cache', 'unhealthy'), 'Redis stopped: cache unhealthy');
($r, $doc) = $ng->wait_doc(sub { $_[0]{zones}{a}{requests} == 10 });
is($r->{status}, 200, 'the instance: required=off caps it, 200');
is($doc->{status}, 'degraded', '... degraded');
$r = $ng->get('/health?check=cache');
is($r->{status}, 503, '?check=cache: its own status, 503');
is(json_of($r)->{status}, 'unhealthy', '... unhealthy');
$r = $ng->get('/lb?check=cache');
is($r->{status}, 503, 'lb ?check=cache: 503');
is($r->{content}, "unhealthy\n", '... unhealthy');
$r = $ng->get('/health?check=zone:a:*');
is($r->{status}, 200, '?check=zone:a:*: the cache leaves no trace, 200');
is(json_of($r)->{status}, 'healthy', '... healthy');
$ng->stop;

##########################################################################
# configuration errors state what is allowed

for my $bad ('check=', 'check=a,,b', 'check=a,', 'check=a check=b',
             'degraded=199', 'degraded=600', 'degraded=4x9', 'degraded=',
             'lb json', 'check=' . ('a' x 257))
{
    my $t = HealthTest::Nginx->new(conf => <<"EOF");
    server { listen 127.0.0.1:%%PORT%%; location /h { health_status $bad; } }
EOF
    my ($trc2, $tout2) = $t->test_conf;
    isnt($trc2, 0, "health_status $bad: refused");
    like($tout2, qr/\[emerg\].*invalid value/, '... invalid value')
        or diag $tout2;
}

done_testing;
