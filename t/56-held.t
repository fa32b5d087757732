#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Verdicts that hold before they change: for= and recover= on health_rule,
# health_redis and health_postgres.  A worse state is "pending" until it has
# held for for=, a better one until it has held for recover=; the check's
# status, the overall status, lb, Prometheus and the Redis alerts follow
# the held verdict only.  A flip back before the hold elapses leaves the
# verdict where it was; a reload keeps the held state and its "since".
#
# The semantics run on a clock the test holds (libfaketime, every clock
# frozen until set_clock() moves it): every "still pending" and every move
# is asserted at a time the test set, so nothing depends on how fast the
# machine is.  The parts that need time to run (the Redis probe and its
# publishing) use real time with deadlines; their "did not hold" cases use
# a for= far longer than the steps take.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

##########################################################################
# configuration errors, at nginx -t

sub conf_error { HealthTest::Nginx->conf_error(@_) }

{
    my ($rc, $out) = conf_error('health_zone api; health_rule error_rate '
        . 'warning=1% critical=5% for=5m recover=1m;');
    is($rc, 0, 'nginx -t: for= and recover= on health_rule') or diag $out;

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 for=10s '
        . 'recover=1d; health_postgres "host=127.0.0.1 port=5432 '
        . 'dbname=x" for=1s;');
    is($rc, 0, 'nginx -t: on health_redis and health_postgres') or diag $out;

    for my $bad (qw(for=abc for=0 for=500ms for=2d for=1500us recover=
                    recover=-1s for=1.0005s)) {
        ($rc, $out) = conf_error('health_zone api; health_rule error_rate '
            . "warning=1% critical=5% $bad;");
        isnt($rc, 0, "nginx -t: $bad fails");
        like($out, qr/invalid value "\Q$bad\E" in "health_rule" directive, (?#
                      )it must be a time from 1s to 1d/,
             "$bad: the value, the directive and the range are named");
    }

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 for=abc;');
    like($out, qr/invalid value "for=abc" in "health_redis" directive/,
         'nginx -t: for=abc on health_redis');
    ($rc, $out) = conf_error('health_postgres "host=127.0.0.1 dbname=x" '
        . 'recover=0;');
    like($out, qr/invalid value "recover=0" in "health_postgres" directive/,
         'nginx -t: recover=0 on health_postgres');
}

##########################################################################
# the semantics, on a frozen clock: no timer runs, every judgement is a
# request of the test's at a time the test set

my $ng = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                conf => <<'EOF');
    health_window 10m;

    health_rule error_rate zone=api  warning=10% critical=50%
                min_requests=10 for=30s recover=20s;
    health_rule error_rate zone=flip warning=10% critical=50%
                min_requests=10 for=30s;
    health_rule error_rate zone=lvl  warning=10% critical=50%
                min_requests=10 for=30s;
    health_rule error_rate zone=raw  warning=10% critical=50%
                min_requests=10;
    health_rule error_rate zone=rfl  warning=10% critical=50%
                min_requests=10 recover=20s;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /api/ok    { health_zone api;  return 200; }
        location /api/fail  { health_zone api;  return 500; }
        location /flip/ok   { health_zone flip; return 200; }
        location /flip/fail { health_zone flip; return 500; }
        location /lvl/ok    { health_zone lvl;  return 200; }
        location /lvl/fail  { health_zone lvl;  return 500; }
        location /raw/ok    { health_zone raw;  return 200; }
        location /raw/fail  { health_zone raw;  return 500; }
        location /rfl/ok    { health_zone rfl;  return 200; }
        location /rfl/fail  { health_zone rfl;  return 500; }

        location /health { health_status; }
        location /lb     { health_status lb; }
    }
EOF

my $T = '2026-01-01T00:';
sub at { $ng->set_clock("2026-01-01 00:$_[0]") }

sub send_n {
    my ($path, $n) = @_;
    $ng->get($path) for 1 .. $n;
}

# wait until every zone counted what was sent, then the checks
my %sent;
sub counted {
    my ($r, $doc) = $ng->wait_doc(sub {
        my $d = shift;
        !grep { ($d->{zones}{$_}{requests} // -1) != $sent{$_} } keys %sent;
    });
    return ($r, $doc);
}

sub send_zone {
    my ($zone, $ok, $fail) = @_;
    send_n("/$zone/ok", $ok);
    send_n("/$zone/fail", $fail);
    $sent{$zone} += $ok + $fail;
}

at('00:00');
$ng->start;

send_zone($_, 10, 0) for qw(api flip lvl raw rfl);
my ($r, $doc) = counted();
my $c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'healthy', 'api: healthy to begin with');
is($c->{since}, "${T}00:00.000Z", 'api: since its first judgement');
is($c->{held_s}, 0, 'api: held_s 0');
ok(!exists $c->{pending}, 'api: nothing pending');
ok(!exists $doc->{checks}{'zone:raw:error_rate'}{since},
   'a check without a hold has no "since"');

# 10 errors in 20 requests: 50%, unhealthy at once without a hold
send_zone($_, 0, 10) for qw(api flip lvl raw rfl);
($r, $doc) = counted();
is($doc->{checks}{'zone:raw:error_rate'}{status}, 'unhealthy',
   'raw: 50% is unhealthy at once');
$c = $doc->{checks}{'zone:rfl:error_rate'};
is($c->{status}, 'unhealthy', 'rfl: without for=, unhealthy at once');
is($c->{since}, "${T}00:00.000Z", 'rfl: since now');
ok(!exists $c->{pending}, 'rfl: nothing pending');
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{value}, 50, 'api: the value is the raw 50%');
is($c->{status}, 'healthy', 'api: still healthy, for=30s has not passed');
is_deeply($c->{pending}, { status => 'unhealthy', until => "${T}00:30.000Z" },
          'api: unhealthy pending until 30 s after it was first seen');
is($c->{since}, "${T}00:00.000Z", 'api: since unchanged');

like($ng->get('/health?format=prometheus')->{content},
     qr/^nginx_health_check_status\{check="zone:api:error_rate"\} 0$/m,
     'prometheus: api is 0 (healthy) while pending');

at('00:10');
# flip: back under 10% before for= elapsed (10 errors in 200)
send_zone('flip', 180, 0);
# lvl: 10 errors in 40, 25%: degraded, still worse than healthy
send_zone('lvl', 20, 0);
# rfl: 5%, healthy pending for recover=20s
send_zone('rfl', 180, 0);
($r, $doc) = counted();
$c = $doc->{checks}{'zone:flip:error_rate'};
is($c->{value}, 5, 'flip: 5% now');
is($c->{status}, 'healthy', 'flip: healthy');
ok(!exists $c->{pending}, 'flip: the flip back cleared pending');
is($c->{since}, "${T}00:00.000Z", 'flip: the verdict never moved');
$c = $doc->{checks}{'zone:lvl:error_rate'};
is($c->{status}, 'healthy', 'lvl: healthy at 25%');
is_deeply($c->{pending}, { status => 'degraded', until => "${T}00:30.000Z" },
          'lvl: degraded pending, timed from when it first got worse');
$c = $doc->{checks}{'zone:rfl:error_rate'};
is($c->{status}, 'unhealthy', 'rfl: 5% but still unhealthy');
is_deeply($c->{pending}, { status => 'healthy', until => "${T}00:30.000Z" },
          'rfl: healthy pending until recover= has passed');

at('00:20');
# lvl: 40 errors in 70, 57%: unhealthy again
send_zone('lvl', 0, 30);
# rfl: 310 errors in 510, 61%: unhealthy again before recover= passed
send_zone('rfl', 0, 300);
($r, $doc) = counted();
$c = $doc->{checks}{'zone:rfl:error_rate'};
is($c->{status}, 'unhealthy', 'rfl: unhealthy again');
ok(!exists $c->{pending}, 'rfl: the recovery that did not hold is cleared');
is_deeply($doc->{checks}{'zone:lvl:error_rate'}{pending},
          { status => 'unhealthy', until => "${T}00:50.000Z" },
          'lvl: unhealthy pending, timed from when it came back');

at('00:29');
($r, $doc) = counted();
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'healthy', 'api: still healthy a second before for=');
is($c->{held_s}, 29, 'api: held_s 29');

at('00:30');
($r, $doc) = counted();
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'unhealthy', 'api: unhealthy once for= has passed');
is($c->{since}, "${T}00:30.000Z", 'api: since the move');
is($c->{held_s}, 0, 'api: held_s 0 again');
ok(!exists $c->{pending}, 'api: nothing pending');
$c = $doc->{checks}{'zone:lvl:error_rate'};
is($c->{status}, 'degraded',
   'lvl: degraded, worse than healthy for 30 s though unhealthy only for 10');
is_deeply($c->{pending}, { status => 'unhealthy', until => "${T}00:50.000Z" },
          'lvl: unhealthy still pending');
is($doc->{checks}{'zone:flip:error_rate'}{status}, 'healthy',
   'flip: still healthy');
is($doc->{checks}{'zone:rfl:error_rate'}{since}, "${T}00:00.000Z",
   'rfl: still unhealthy since 00:00, it never recovered');
like($ng->get('/health?format=prometheus')->{content},
     qr/^nginx_health_check_status\{check="zone:api:error_rate"\} 2$/m,
     'prometheus: api is 2 (unhealthy)');

at('00:40');
$ng->reload;
($r, $doc) = counted();
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'unhealthy', 'after a reload: api still unhealthy');
is($c->{since}, "${T}00:30.000Z", 'after a reload: the same since');
is($c->{held_s}, 10, 'after a reload: held_s 10');
is_deeply($doc->{checks}{'zone:lvl:error_rate'}{pending},
          { status => 'unhealthy', until => "${T}00:50.000Z" },
          'after a reload: lvl pending as before');

# api recovers: 10 errors in 200, 5%; recover=20s
send_zone('api', 180, 0);
($r, $doc) = counted();
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'unhealthy', 'api: 5% but still unhealthy (recover=20s)');
is_deeply($c->{pending}, { status => 'healthy', until => "${T}01:00.000Z" },
          'api: healthy pending until 20 s later');

at('00:50');
($r, $doc) = counted();
is($doc->{checks}{'zone:lvl:error_rate'}{status}, 'unhealthy',
   'lvl: unhealthy after 30 s of it');

at('00:59');
($r, $doc) = counted();
is($doc->{checks}{'zone:api:error_rate'}{status}, 'unhealthy',
   'api: still unhealthy a second before recover=');

at('01:00');
($r, $doc) = counted();
$c = $doc->{checks}{'zone:api:error_rate'};
is($c->{status}, 'healthy', 'api: healthy once recover= has passed');
is($c->{since}, "${T}01:00.000Z", 'api: since the recovery');
is($doc->{checks}{'zone:flip:error_rate'}{since}, "${T}00:00.000Z",
   'flip: never moved');

$ng->stop;

my $log = slurp($ng->error_log);
# rfl moves at once: through degraded too when a poll came between the
# counting of its errors; it never recovered
like($log, qr/held check "zone:rfl:error_rate" went from \w+ to unhealthy/,
     'error.log: rfl went to unhealthy');
unlike($log, qr/held check "zone:rfl:error_rate" went from unhealthy/,
       'error.log: and never back');
my @moves;
while ($log =~ /held check "([^"]+)" went from (\w+) to (\w+)/g) {
    push @moves, "$1 $2 $3" unless $1 eq 'zone:rfl:error_rate';
}
is_deeply(\@moves, ['zone:api:error_rate healthy unhealthy',
                    'zone:lvl:error_rate healthy degraded',
                    'zone:lvl:error_rate degraded unhealthy',
                    'zone:api:error_rate unhealthy healthy'],
          'error.log: a notice per held move, none for the flip');

##########################################################################
# lb and the overall status follow the held verdict (no unheld check here)

my $ng2 = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                 conf => <<'EOF');
    health_window 10m;
    health_rule error_rate warning=10% critical=50% min_requests=10 for=30s;
    health_rule latency_p95 warning=1h critical=1h;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /ok    { health_zone a; return 200; }
        location /fail  { health_zone a; return 500; }
        location /health { health_zone off; health_status; }
        location /lb     { health_zone off; health_status lb; }
    }
EOF
$ng2->set_clock('2026-01-01 00:00:00');
$ng2->start;
$ng2->get('/ok') for 1 .. 10;
$ng2->get('/fail') for 1 .. 10;
($r, $doc) = $ng2->wait_counted('a', 20);
is($doc->{status}, 'healthy', 'overall: healthy while the check is pending');
is($r->{status}, 200, 'JSON: 200 while pending');
$r = $ng2->get('/lb');
is("$r->{status} $r->{content}", "200 healthy\n", 'lb: 200 healthy while pending');
$ng2->set_clock('2026-01-01 00:00:29');
is($ng2->get('/lb')->{status}, 200, 'lb: still 200 at 29 s');
$ng2->set_clock('2026-01-01 00:00:30');
$r = $ng2->get('/lb');
is("$r->{status} $r->{content}", "503 unhealthy\n", 'lb: 503 at 30 s');
($r, $doc) = $ng2->get_json('/health');
is($r->{status}, 503, 'JSON: 503');
is($doc->{status}, 'unhealthy', 'overall: unhealthy');
$ng2->stop;

##########################################################################
# the verdict's timer judges the held checks while nobody asks: here there
# is no status location at all, only error.log tells.  On the frozen clock
# a worker's timer runs once each time the test moves the clock on; past
# the verdict's first minute (when it judges anyway) it judges only
# because a check is held.

my $ng3 = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                 conf => <<'EOF');
    health_window 1h;
    health_rule error_rate zone=bg warning=10% critical=50% min_requests=5
                for=30s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /fail { health_zone bg; return 500; }
    }
EOF
$ng3->set_clock('2026-01-01 00:00:00');
$ng3->start;
$ng3->get('/fail') for 1 .. 5;

my ($t, $after) = (70);
ok(wait_until(sub {
    $ng3->set_clock(sprintf '2026-01-01 00:%02d:%02d', $t / 60, $t % 60);
    $t++ if $t < 3000;
    ($after) = (slurp($ng3->error_log) // '')
        =~ /held check "zone:bg:error_rate" went from healthy to unhealthy after (\d+)ms/;
    defined $after;
}, timeout => 60, step => 0.1), 'the timer moved the held check, nobody asked');
ok(defined $after && $after >= 30000,
   'after the 30 s of for= (' . ($after // 'none') . ' ms)');
$ng3->stop;

##########################################################################
# real time: a held Redis probe, and the alerts on the Redis channel

# a minimal RESP client, so the test can subscribe without forking
sub resp_read {
    my ($s) = @_;
    my $line = <$s> // die "redis closed the connection\n";
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':' || $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "short read\n";
        return substr($buf, 0, $v);
    }
    return [ map { resp_read($s) } 1 .. $v ] if $t eq '*';
    die "bad reply: $line\n";
}

my $rd = HealthTest::Redis->start;
my $target = HealthTest::Redis->start;
my ($port, $tport) = ($rd->port, $target->port);

my $ng4 = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service web1;
    health_window 10m;
    health_redis 127.0.0.1:$port interval=200ms timeout=1s;
    health_redis 127.0.0.1:$tport name=target publish=off interval=200ms
                 timeout=1s required=on for=30s;

    health_rule error_rate zone=fast warning=10% critical=50%
                min_requests=10 for=2s;
    health_rule error_rate zone=slow warning=10% critical=50%
                min_requests=10 for=30s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /fast/ok   { health_zone fast; return 200; }
        location /fast/fail { health_zone fast; return 500; }
        location /slow/ok   { health_zone slow; return 200; }
        location /slow/fail { health_zone slow; return 500; }
        location /health { health_zone off; health_status; }
    }
EOF

my $sub = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                Proto => 'tcp', Timeout => 5)
    or die "connect to redis: $!\n";
print $sub "*2\r\n\$9\r\nSUBSCRIBE\r\n\$20\r\nhealth:system:alerts\r\n";
resp_read($sub);
my $sel = IO::Select->new($sub);
my @alerts;

sub drain {
    my ($until, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $until->();
        next unless $sel->can_read(0.05);
        my $m = resp_read($sub);
        push @alerts, eval { decode_json($m->[2]) } // { raw => $m->[2] }
            if ref $m && $m->[0] eq 'message';
    }
    return $until->();
}

$ng4->start;
# not probed yet is pending too (a check starts healthy, as an alert
# starts pending); the first answer clears it
ok($ng4->wait_doc(sub {
    my $t = $_[0]{checks}{target};
    $t && $t->{checked_at} && !exists $t->{pending} }, timeout => 20),
   'the held probe: probed, nothing pending');
ok(defined $ng4->wait_check('cache', 'healthy', timeout => 20),
   'the cache');
my ($tc) = $ng4->check('target');
my $target_since = $tc->{since};
like($target_since, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'the held probe shows since');

# slow: a flip that does not hold (for=30s, back within a few seconds)
$ng4->get('/slow/ok') for 1 .. 10;
$ng4->get('/slow/fail') for 1 .. 10;
my $slow = $ng4->wait_doc(sub {
    ($_[0]{checks}{'zone:slow:error_rate'}{pending}{status} // '')
        eq 'unhealthy' });
is($slow->{checks}{'zone:slow:error_rate'}{status}, 'healthy',
   'slow: 50% errors, pending, still healthy');
my $slow_since = $slow->{checks}{'zone:slow:error_rate'}{since};
$ng4->get('/slow/ok') for 1 .. 180;
$slow = $ng4->wait_doc(sub {
    ($_[0]{zones}{slow}{requests} // 0) == 200 });
ok(!exists $slow->{checks}{'zone:slow:error_rate'}{pending},
   'slow: back to 5%, nothing pending');
is($slow->{checks}{'zone:slow:error_rate'}{since}, $slow_since,
   'slow: the verdict never moved');

# the probe's target goes away: pending, not unhealthy (for=30s)
$target->stop;
ok($ng4->wait_doc(sub {
    ($_[0]{checks}{target}{pending}{status} // '') eq 'unhealthy' }),
   'target stopped: unhealthy is pending');
($tc, $r) = $ng4->check('target');
is($tc->{status}, 'healthy', 'target: still healthy while pending');
is($tc->{since}, $target_since, 'target: since unchanged');
$target->restart;
ok($ng4->wait_doc(sub {
    !exists $_[0]{checks}{target}{pending}
        && ($_[0]{checks}{target}{reason} // '') eq '' }, timeout => 20),
   'target back: nothing pending');
($tc) = $ng4->check('target');
is($tc->{since}, $target_since, 'target: the verdict never moved');

# fast: a change that holds (for=2s).  The failures first: the rule
# judges from the 10th request on, at 100%, and the successes after them
# bring it down to 50%, still critical, so the raw status goes from
# healthy to unhealthy at once and never through degraded, however long
# the requests take on a loaded machine
$ng4->get('/fast/fail') for 1 .. 10;
$ng4->get('/fast/ok') for 1 .. 10;
ok(defined $ng4->wait_check('zone:fast:error_rate', 'unhealthy',
                            timeout => 30),
   'fast: unhealthy after for=2s');
ok(drain(sub { grep { ($_->{check} // '') eq 'zone:fast:error_rate' }
                    @alerts }, 30),
   'the alert for fast arrives');

# everything nginx published so far is before this marker
$rd->cli('PUBLISH', 'health:system:alerts', '{"marker":1}');
ok(drain(sub { grep { $_->{marker} } @alerts }, 10), 'the marker arrives');

my @fast = grep { ($_->{check} // '') eq 'zone:fast:error_rate' } @alerts;
is(scalar @fast, 1, 'one alert for the held change');
is("$fast[0]{from} $fast[0]{to} $fast[0]{severity}",
   'healthy unhealthy critical', 'from healthy to unhealthy, critical');
is(scalar(grep { ($_->{check} // '') eq 'zone:slow:error_rate' } @alerts),
   0, 'no alert for the flip that did not hold');
is(scalar(grep { ($_->{check} // '') eq 'target' } @alerts), 0,
   'none for the probe that came back within its hold');

$ng4->stop;

##########################################################################
# a reload that changes the hold keeps the state: the pending change is
# timed from when it began, by the new duration

{
    my $conf = sub { <<"EOF" };
    health_window 10m;
    health_rule error_rate warning=10% critical=50% min_requests=10
                for=$_[0];

    server {
        listen 127.0.0.1:%%PORT%%;
        location /fail   { health_zone r; return 500; }
        location /health { health_zone off; health_status; }
    }
EOF
    my $ng7 = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                     conf => $conf->('30s'));
    $ng7->set_clock('2026-01-01 00:00:00');
    $ng7->start;
    $ng7->get('/fail') for 1 .. 10;
    my $d7 = $ng7->wait_counted('r', 10);
    is_deeply($d7->{checks}{'zone:r:error_rate'}{pending},
              { status => 'unhealthy', until => "${T}00:30.000Z" },
              'reload: pending until 00:30 with for=30s');
    $ng7->set_clock('2026-01-01 00:00:10');
    $ng7->reload(conf => $conf->('60s'));
    $d7 = $ng7->get_json('/health');
    my $c7 = $d7->{checks}{'zone:r:error_rate'};
    is_deeply($c7->{pending}, { status => 'unhealthy',
                                until => "${T}01:00.000Z" },
              'reload to for=60s: pending until 01:00, timed from 00:00');
    is("$c7->{status} $c7->{since}", "healthy ${T}00:00.000Z",
       'reload to for=60s: healthy since 00:00');
    $ng7->set_clock('2026-01-01 00:00:59');
    is($ng7->get_json('/health')->{checks}{'zone:r:error_rate'}{status},
       'healthy', 'reload to for=60s: healthy at 00:59');
    $ng7->set_clock('2026-01-01 00:01:00');
    is($ng7->get_json('/health')->{checks}{'zone:r:error_rate'}{status},
       'unhealthy', 'reload to for=60s: unhealthy at 01:00');
    $ng7->stop;
}

##########################################################################
# a judgement older than the last one applied is not applied: what a
# worker whose reads began before another's would do, made certain here by
# moving the frozen clock back

{
    my $ng6 = HealthTest::Nginx->new(faketime => 'all', conf => <<'EOF');
    health_window 10m;
    health_rule error_rate warning=10% critical=50% min_requests=10 for=30s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /ok     { health_zone o; return 200; }
        location /fail   { health_zone o; return 500; }
        location /health { health_zone off; health_status; }
    }
EOF
    $ng6->set_clock('2026-01-01 00:00:00');
    $ng6->start;
    $ng6->get('/fail') for 1 .. 10;
    $ng6->wait_counted('o', 10);
    $ng6->set_clock('2026-01-01 00:00:31');
    my ($r6, $doc6) = $ng6->get_json('/health');
    my $c6 = $doc6->{checks}{'zone:o:error_rate'};
    is("$c6->{status} $c6->{since}", "unhealthy ${T}00:31.000Z",
       'order: unhealthy since 00:31');

    # healthy now (10 errors in 200); judged at 00:09, before 00:31
    $ng6->set_clock('2026-01-01 00:00:09');
    $ng6->get('/ok') for 1 .. 190;
    ($r6, $doc6) = $ng6->wait_counted('o', 200);
    $c6 = $doc6->{checks}{'zone:o:error_rate'};
    is("$c6->{status} $c6->{since}", "unhealthy ${T}00:31.000Z",
       'order: a judgement from before 00:31 changes nothing');

    $ng6->set_clock('2026-01-01 00:00:32');
    ($r6, $doc6) = $ng6->get_json('/health');
    $c6 = $doc6->{checks}{'zone:o:error_rate'};
    is("$c6->{status} $c6->{since}", "healthy ${T}00:32.000Z",
       'order: the next one does (no recover=: at once)');
    $ng6->stop;
}

##########################################################################
# a bounded table: 4,100 zones under one held rule, room for 4,096

{
    my $n = 4100;
    my $zones = join "\n", map {
        "        location = /z$_ { health_zone z$_; return 200; }"
    } 1 .. $n;
    my $ng5 = HealthTest::Nginx->new(conf => <<"EOF");
    health_rule error_rate warning=10% critical=50% for=30s;

    server {
        listen 127.0.0.1:%%PORT%%;
$zones
        location = /health { health_zone off; health_status; }
    }
EOF
    $ng5->start;
    my ($r5, $doc5) = $ng5->get_json('/health');
    ($r5, $doc5) = $ng5->get_json('/health');
    my @checks = values %{ $doc5->{checks} };
    is(scalar @checks, $n, "$n checks");
    is(scalar(grep { exists $_->{since} } @checks), 4096,
       '4,096 of them held');
    is(scalar(grep { !exists $_->{since} } @checks), $n - 4096,
       'the others judged without their hold');
    my @full = (slurp($ng5->error_log) // '')
        =~ /\[warn\].*health: no room for the hold of check/g;
    is(scalar @full, 1, 'error.log says so once');
    $ng5->stop;
}

done_testing;
