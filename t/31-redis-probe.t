#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis: the cache check (PING round trip, memory against maxmemory,
# evicted keys, hit rate) through hiredis on nginx's event loop, and the
# publishing: status every interval, metrics every 5, an alert on every
# change of a check's status, the instance key with its TTL.  A stopped or
# hung Redis is unhealthy while requests are unaffected, and 200 killed
# connections leave the worker's memory and descriptors flat.

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
use Resp qw(resp_connect resp_send resp_read resp_cmd);

my $PASSWORD = 'R3dis-secret-not-shown';


##########################################################################
# configuration errors

sub conf_error { HealthTest::Nginx->conf_error(@_) }

{
    my ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 name=c1 '
        . 'password=x db=3 interval=1s timeout=200ms required=on '
        . 'publish=off prefix=hc;');
    is($rc, 0, 'nginx -t: a valid health_redis') or diag $out;

    ($rc, $out) = conf_error('health_redis redis.example.com:6379;');
    isnt($rc, 0, 'nginx -t: a host name fails');
    like($out, qr/invalid value "redis\.example\.com:6379" in "health_redis".*synchronously/,
         'the host name is named with the reason');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:99999;');
    like($out, qr/invalid value "127\.0\.0\.1:99999" in "health_redis"/,
         'nginx -t: a bad port');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 db=x;');
    like($out, qr/invalid value "db=x" in "health_redis"/, 'nginx -t: a bad db');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 publish=yes;');
    like($out, qr/invalid value "publish=yes" in "health_redis"/,
         'nginx -t: a bad publish');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379; '
        . 'health_redis 127.0.0.1:6380;');
    like($out, qr/duplicate check name "cache" in "health_redis"/,
         'nginx -t: two checks named "cache"');
}

##########################################################################
# two Redis servers: the cache, and another to change a check's status

my $rd = HealthTest::Redis->start(password => $PASSWORD,
                                  args => ['--maxmemory', '100mb']);
my $other = HealthTest::Redis->start;
my ($port, $oport) = ($rd->port, $other->port);

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service web1;
    health_zone api;
    health_redis 127.0.0.1:$port password=$PASSWORD db=2
                 interval=200ms timeout=500ms;
    health_redis 127.0.0.1:$oport name=other publish=off
                 interval=200ms timeout=500ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_zone off; health_status; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF

# subscribed before nginx starts: the first messages are seen too
my $sub = resp_connect($port, $PASSWORD);
resp_send($sub, 'SUBSCRIBE', 'health:service:web1:status',
          'health:service:web1:metrics', 'health:system:alerts');
resp_read($sub) for 1 .. 3;
my $sel = IO::Select->new($sub);
my %got;

sub drain {
    my ($until, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $until && $until->();
        next unless $sel->can_read(0.05);
        my $m = resp_read($sub);
        next unless ref $m && $m->[0] eq 'message';
        push @{ $got{$m->[1]} }, eval { decode_json($m->[2]) } // $m->[2];
    }
    return $until ? $until->() : 1;
}

$ng->start;

sub check {
    my ($n, $name) = @_;
    return $n->check($name // 'cache');
}

sub wait_status {
    my ($n, $want, %o) = @_;
    return $n->wait_check($o{name} // 'cache', $want, %o);
}

ok(defined wait_status($ng, 'healthy'), 'the cache check becomes healthy');
ok(defined wait_status($ng, 'healthy', name => 'other'), 'and the other');

my ($c, $r, $doc) = check($ng);
is($r->{status}, 200, 'the status answers 200');
# bounded by the timeout by construction (a slower PING is a timeout)
ok($c->{response_time_ms} > 0 && $c->{response_time_ms} <= 500,
   "response_time_ms is the PING round trip ($c->{response_time_ms})");
ok($c->{used_memory_pct} > 0 && $c->{used_memory_pct} < 80,
   "used_memory_pct against maxmemory ($c->{used_memory_pct})");
is($c->{maxmemory}, 100 * 1024 * 1024, 'maxmemory from INFO');
is_deeply([@$c{qw(unit warning critical)}], ['ms', 10, 50],
          'judged on the PING round trip: unit and thresholds');
is($c->{value}, $c->{response_time_ms}, 'value is the round trip');
is($c->{evicted_keys}, 0, 'evicted_keys from INFO');
# no lookups in the window yet: no rate rather than a perfect one
ok(exists $c->{hit_rate_pct} && !defined $c->{hit_rate_pct},
   'the keyspace hit rate is null with no lookups');
is($c->{lookups}, 0, 'and the lookups it was judged on');
is($c->{required}, JSON::PP::false, 'required is false by default');
($c) = check($ng, 'other');
ok(!exists $c->{used_memory_pct}, 'no used_memory_pct without maxmemory');

# polled: a PING over 10 ms (a loaded machine) is degraded for a round
ok(wait_until(sub {
    $ng->get('/health?format=prometheus')->{content}
        =~ /^nginx_health_check_status\{check="cache"\} 0$/m
}, timeout => 10), 'prometheus: the cache check');

# one worker owns each probe
ok(wait_until(sub {
    (() = $rd->cli('CLIENT', 'LIST') =~ /name=nginx-health /g) == 1
}, timeout => 5), 'two workers, one connection: one owner');
like($rd->cli('CLIENT', 'LIST'), qr/name=nginx-health .*db=2 /,
     'SELECT 2 after AUTH');

##########################################################################
# publishing

ok(drain(sub { @{ $got{'health:service:web1:status'} || [] } >= 3 }, 10),
   'status messages every interval');
my $st = $got{'health:service:web1:status'}[-1];
is($st->{service}, 'web1', 'status: service');
like($st->{status}, qr/^(healthy|degraded)$/, 'status: status');
like($st->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'status: timestamp');
is($st->{checks}{cache}, 'healthy', 'status: the cache check');
is($st->{checks}{'zone:api:error_rate'}, 'healthy', 'status: the zone checks');

ok(drain(sub { @{ $got{'health:service:web1:metrics'} || [] } >= 1 }, 10),
   'a metrics message');
is(ref $got{'health:service:web1:metrics'}[0]{zones}{api}, 'HASH',
   'metrics: the zone figures');
{
    # counted over 10 rounds, however long they take: one metrics message
    # in 5 rounds gives 2, maybe one more or less at either end
    my $n_status = @{ $got{'health:service:web1:status'} };
    my $n_metrics = @{ $got{'health:service:web1:metrics'} };
    drain(sub { @{ $got{'health:service:web1:status'} } - $n_status >= 10 }, 60);
    my $ds = @{ $got{'health:service:web1:status'} } - $n_status;
    my $dm = @{ $got{'health:service:web1:metrics'} } - $n_metrics;
    ok($ds >= 10 && $dm >= 1 && $dm <= 3,
       "metrics every 5 intervals ($dm metrics for $ds status)");
}

my $ttl = $rd->cli('-n', 2, 'TTL', 'health:instance:web1');
ok($ttl > 86000 && $ttl <= 86400, "the instance key expires ($ttl s)");
my $inst = eval { decode_json($rd->cli('-n', 2, 'GET', 'health:instance:web1')) };
is($inst && $inst->{service}, 'web1', 'the instance key holds the status');
# what the README says it holds: the status message and four fields, no more
is(join(',', sort keys %{ $inst || {} }),
   'checks,config_hash,interval_s,service,status,timestamp,uptime_s,version',
   'the instance key: the status message with the fleet\'s fields');
ok(!grep({ ref } values %{ $inst->{checks} || {} }),
   'its checks are names and status words only');

# only the alerts after the stop: a slow first round may have had one
my $seen_alerts = @{ $got{'health:system:alerts'} || [] };
sub new_alerts { my @a = @{ $got{'health:system:alerts'} || [] }; @a[$seen_alerts .. $#a] }
$other->stop;
ok(drain(sub {
    grep { ref $_ && $_->{check} eq 'other' && $_->{to} eq 'unhealthy' } new_alerts()
}, 10), 'an alert when a check turns unhealthy');
my ($alert) = grep { ref $_ && $_->{check} eq 'other' && $_->{to} eq 'unhealthy' }
    new_alerts();
# healthy, or degraded when a loaded machine made a PING take over 10 ms
like($alert->{from}, qr/^(healthy|degraded)$/, "alert: from ($alert->{from})");
is($alert->{severity}, 'critical', 'alert: severity');
is($alert->{service}, 'web1', 'alert: service');
like($alert->{message}, qr/other/, "alert: message ($alert->{message})");
($c) = check($ng, 'other');
like($c->{reason}, qr/cannot connect to 127\.0\.0\.1:$oport|connection .* lost/,
     "the reason ($c->{reason})");
$other->restart;
ok(drain(sub {
    grep { ref $_ && $_->{check} eq 'other' && $_->{to} eq 'healthy' } new_alerts()
}, 15), 'and when it recovers');
close $sub;

{
    my $all = join "\n", $ng->get('/health')->{content},
        $ng->get('/health?format=prometheus')->{content},
        HealthTest::slurp($ng->error_log);
    unlike($all, qr/\Q$PASSWORD\E/, 'the password is not in the status or error.log');
}

# issue 9 point 14: a cache going down is seen at Debian's stock level
# (error), its recovery is routine (notice)
{
    my $log = HealthTest::slurp($ng->error_log);
    like($log, qr/\[error\] [^\n]*health: check "other" is unhealthy/,
         'a cache going down: a line at [error]');
    like($log, qr/\[notice\] [^\n]*health: check "other" is healthy/,
         'its recovery: a line at [notice]');
    unlike($log, qr/\[(?:error|warn)\] [^\n]*check "other" is healthy/,
           'the recovery is not at warn or error');
}

my @alerts = $ng->log_alerts;
is_deeply(\@alerts, [], 'no alerts in error.log');
$ng->stop;

##########################################################################
# one worker, required=on: stopped, hung, and 200 killed connections

my $ng2 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service web2;
    health_redis 127.0.0.1:$port password=$PASSWORD interval=50ms
                 timeout=300ms required=on;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF
$ng2->start;
ok(defined wait_status($ng2, 'healthy'), 'required=on: healthy');

sub measure {
    my ($secs, $until) = @_;
    my ($worst, $n, $seen, $t0) = (0, 0, undef, time);
    while (time - $t0 < $secs) {
        my $t = time;
        $n++ if $ng2->get('/fast')->{status} == 200;
        $worst = time - $t if time - $t > $worst;
        my ($c) = check($ng2);
        $seen //= time - $t0 if $c->{status} eq $until;
        last if defined $seen && time - $t0 > 1;
        sleep 0.01;
    }
    return ($worst, $n, $seen);
}

{
    $rd->stop;
    my ($worst, $n, $seen) = measure(30, 'unhealthy');
    ok(defined $seen, sprintf 'a stopped Redis: unhealthy after %.2fs', $seen // -1);
    # shown, not judged: a loaded machine may be slow for other reasons
    note sprintf 'requests meanwhile: worst %.1f ms of %d', $worst * 1000, $n;
    ok($n > 0, "$n requests served while Redis was stopped");
    is($ng2->get('/health')->{status}, 503, 'required=on: 503');
    $rd->restart;
    ok(defined wait_status($ng2, 'healthy', timeout => 15), 'healthy when it returns');
    is($ng2->get('/health')->{status}, 200, '200 again');
}

{
    my $pid = $rd->pid;
    kill 'STOP', $pid;
    my ($worst, $n, $seen) = eval { measure(30, 'unhealthy') };
    kill 'CONT', $pid;
    ok(defined $seen, sprintf 'a hung Redis: unhealthy after %.2fs', $seen // -1);
    # served while Redis cannot answer at all: no request waits on it
    note sprintf 'requests meanwhile: worst %.1f ms of %d', $worst * 1000, $n;
    ok($n > 0, "$n requests served while Redis was stopped with SIGSTOP");
    ok(defined wait_status($ng2, 'healthy', timeout => 15), 'healthy when it runs');
}

sub usage {
    my ($pid) = @_;
    wait_status($ng2, 'healthy');
    wait_until(sub { $rd->cli('CLIENT', 'LIST') =~ /name=nginx-health / }, timeout => 5);
    sleep 0.2;
    return HealthTest::proc_usage($pid);
}

sub kill_cycles {
    my ($want) = @_;
    my $s = resp_connect($port, $PASSWORD);
    my ($n, $last, $end) = (0, 0, time + 180);    # a guard, not a measure
    while ($n < $want && time < $end) {
        my ($id) = resp_cmd($s, 'CLIENT', 'LIST') =~ /^id=(\d+) [^\n]*name=nginx-health /m;
        if ($id && $id != $last) {
            resp_cmd($s, 'CLIENT', 'KILL', 'ID', $id);
            ($last, $n) = ($id, $n + 1);
        }
        sleep 0.005;
    }
    close $s;
    return $n;
}

{
    my ($w) = $ng2->worker_pids;
    is(kill_cycles(20), 20, 'warm-up: 20 killed connections');
    my ($rss0, $fd0) = usage($w);
    my $t0 = time;
    is(kill_cycles(200), 200, '200 killed connections');
    note sprintf '200 cycles in %.1fs', time - $t0;
    my ($rss1, $fd1) = usage($w);
    is($fd1, $fd0, "the worker's descriptors stay at $fd0");
    if (HealthTest::Nginx::asan()) {
        note "RSS $rss0 -> $rss1 kB (not judged under ASan: its quarantine grows)";
    } else {
        ok($rss1 - $rss0 < 1024, "the worker's RSS stays flat ($rss0 -> $rss1 kB)");
    }
    is(($ng2->worker_pids)[0], $w, 'the same worker throughout');
}

is_deeply([$ng2->log_alerts], [], 'no alerts in the second error.log');

$ng2->stop;
$rd->stop;
$other->stop;

done_testing;
