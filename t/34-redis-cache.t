#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis: the cache checks of the guides, judged over health_window
# rather than since Redis started.  Hit rate: a warning below 80%, critical
# below 60%, judged from min_lookups lookups on, null with none; evictions
# within the window a warning; thresholds per health_redis.  Exact lookups
# are made with GET on a present and a missing key, on one connection; the
# probe's own commands (PING, INFO) are no lookups.  The window's samples
# live in shared memory: a reload (the lease moves to a new worker) keeps
# them, a restarted Redis (its counters start over) starts them over.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;

use HealthTest qw(:all);
use Resp;

# exactly $hits keyspace hits and $misses misses, pipelined
sub lookups {
    my ($port, $hits, $misses) = @_;
    my $s = resp_connect($port);
    resp_send($s, 'GET', 'present') for 1 .. $hits;
    resp_send($s, 'GET', 'absent') for 1 .. $misses;
    resp_read($s) for 1 .. $hits + $misses;
    close $s;
}

##########################################################################
# nginx -t: the thresholds, checked with the range allowed

sub conf_error { HealthTest::Nginx->conf_error(@_) }

{
    my ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 '
        . 'hit_rate_warning=90 hit_rate_critical=70.5 min_lookups=500 '
        . 'memory_warning=70 memory_critical=90 latency_warning=5ms '
        . 'latency_critical=20ms evictions=critical;');
    is($rc, 0, 'nginx -t: every threshold') or diag $out;

    my @bad = (
        ['hit_rate_warning=101',
         qr/invalid value "hit_rate_warning=101" in "health_redis" directive, it must be a percentage from 0 to 100/],
        ['hit_rate_critical=x',
         qr/invalid value "hit_rate_critical=x" in "health_redis" directive, it must be a percentage/],
        ['memory_warning=-1',
         qr/invalid value "memory_warning=-1" in "health_redis" directive, it must be a percentage/],
        ['latency_critical=2h',
         qr/invalid value "latency_critical=2h" in "health_redis" directive, it must be a time from 1us to 1h/],
        ['latency_warning=0ms',
         qr/invalid value "latency_warning=0ms" in "health_redis" directive, it must be a time from 1us to 1h/],
        ['min_lookups=0',
         qr/invalid value "min_lookups=0" in "health_redis" directive, it must be a number from 1 to 1000000000/],
        ['evictions=maybe',
         qr/invalid value "evictions=maybe" in "health_redis" directive, evictions is "warning", "critical" or "off"/],
        ['hit_rate_warning=50',
         qr/invalid thresholds in "health_redis" directive, hit_rate_warning is below hit_rate_critical/],
        ['memory_warning=96',
         qr/invalid thresholds in "health_redis" directive, memory_warning is above memory_critical/],
        ['latency_warning=51ms',
         qr/invalid thresholds in "health_redis" directive, latency_warning is above latency_critical/],
    );

    for my $b (@bad) {
        ($rc, $out) = conf_error("health_redis 127.0.0.1:6379 $b->[0];");
        isnt($rc, 0, "nginx -t: $b->[0] fails");
        like($out, $b->[1], "nginx -t: $b->[0] is named with the rule");
    }
}

##########################################################################
# the hit rate at its boundaries, over a window no test outlasts

my $rd = HealthTest::Redis->start(args => ['--maxmemory', '10mb']);
my $port = $rd->port;
$rd->cli('SET', 'present', 'v');

# latency judged never (a round is bounded by its timeout): a loaded
# machine's slow PING cannot change what these tests assert
my $QUIET = 'latency_warning=1h latency_critical=1h publish=off '
          . 'interval=100ms timeout=1s';

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_window 1h;
    health_redis 127.0.0.1:$port $QUIET;
    health_redis 127.0.0.1:$port name=mem $QUIET
                 memory_warning=0.01 memory_critical=99.5;
    health_redis 127.0.0.1:$port name=slow publish=off interval=100ms
                 timeout=1s latency_warning=1us latency_critical=1h;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng->start;

sub cache {
    my ($n, $name) = @_;
    return ($n->check($name // 'cache'))[0];
}

# the check once the round that saw $lookups lookups is the last one
sub at_lookups {
    my ($n, $lookups) = @_;
    my $doc = $n->wait_doc(sub {
        my $c = $_[0]{checks}{cache};
        $c && defined $c->{lookups} && $c->{lookups} == $lookups
    });
    return $doc && $doc->{checks}{cache};
}

my $c = at_lookups($ng, 0);
ok($c, 'the window starts with no lookups');
is($c->{status}, 'healthy', 'no lookups: healthy');
ok(exists $c->{hit_rate_pct} && !defined $c->{hit_rate_pct},
   'no lookups: hit_rate_pct is null, not 100');
is(join(' ', map { $_ + 0 } @$c{qw(hit_rate_warning hit_rate_critical
                                  min_lookups memory_warning
                                  memory_critical warning critical)}),
   '80 60 100 80 95 3600000 3600000',
   'the guides\' thresholds by default, the latency\'s as configured');
is($c->{evictions}, 'warning', 'evictions are a warning by default');

# the other thresholds, per health_redis (no lookups yet)
ok(defined $ng->wait_check('mem', 'degraded'), 'memory_warning=0.01: degraded');
like(cache($ng, 'mem')->{reason} // '',
     qr/^memory at [\d.]+% of maxmemory \(warning 0\.01%, critical 99\.5%\)$/,
     'memory: the reason names the configured thresholds');
ok(defined $ng->wait_check('slow', 'degraded'), 'latency_warning=1us: degraded');
$c = cache($ng, 'slow');
like($c->{reason} // '', qr/^PING took [\d.]+ ms \(warning 0\.001 ms, critical 3600000 ms\)$/,
     'latency: the reason names the configured thresholds');
cmp_ok($c->{warning}, '==', 0.001, 'warning: the configured latency');
is($c->{unit}, 'ms', 'value is still the PING round trip');

lookups($port, 40, 59);
$c = at_lookups($ng, 99);
is($c->{status}, 'healthy', '40 hits of 99 lookups: fewer than min_lookups, not judged');
ok(abs($c->{hit_rate_pct} - 40.40) < 0.001, 'but its rate is shown')
    or diag explain $c;

lookups($port, 0, 1);
$c = at_lookups($ng, 100);
is($c->{status}, 'unhealthy', '40 hits of 100 lookups: critical');
like($c->{reason} // '', qr/^hit rate 40\.0% of 100 lookups in \d+s \(warning below 80%, critical below 60%\)$/,
     'the reason names the hit rate and its thresholds');
is($c->{keyspace_hits}, 40, 'keyspace_hits: the cumulative count');

# CONFIG RESETSTAT sets the counters back: the window starts over
$rd->cli('CONFIG', 'RESETSTAT');
$c = at_lookups($ng, 0);
is($c->{status}, 'healthy', 'counters reset: the window starts over');
ok(!defined $c->{hit_rate_pct}, 'and its rate is null again');

lookups($port, 80, 20);
$c = at_lookups($ng, 100);
cmp_ok($c->{hit_rate_pct}, '==', 80, '80 hits of 100: 80%');
is($c->{status}, 'healthy', 'exactly 80% is not below 80%: healthy');

lookups($port, 0, 1);
$c = at_lookups($ng, 101);
is($c->{status}, 'degraded', '80 hits of 101 lookups: below 80%, a warning');
like($c->{reason} // '', qr/^hit rate 79\.2% of 101 lookups/,
     'the reason says so');

$rd->cli('CONFIG', 'RESETSTAT');
at_lookups($ng, 0);
lookups($port, 60, 40);
$c = at_lookups($ng, 100);
is($c->{status}, 'degraded', 'exactly 60% is not below 60%: a warning');

lookups($port, 0, 1);
$c = at_lookups($ng, 101);
is($c->{status}, 'unhealthy', '60 hits of 101 lookups: critical');

##########################################################################
# a reload hands the lease to a new worker: the window's samples stay

$rd->cli('CONFIG', 'RESETSTAT');
at_lookups($ng, 0);
lookups($port, 80, 20);
is(at_lookups($ng, 100)->{status}, 'healthy', 'before the reload: 80 of 100');

my %old = map { $_ => 1 } $ng->worker_pids;
$ng->reload;
ok(wait_until(sub {
    grep { !$old{$_} } (slurp($ng->error_log) // '')
        =~ /\[info\] (\d+)#\d+: \*?\d*\s*health: this worker probes "cache"/g
}, timeout => 30), 'a worker of the new generation owns the probe');

lookups($port, 0, 1);
$c = at_lookups($ng, 101);
is($c->{status}, 'degraded',
   'after the reload the new owner judges 80 of 101 from the old samples');

##########################################################################
# a restarted Redis: its counters start over, so does the window

$rd->cli('CONFIG', 'RESETSTAT');
at_lookups($ng, 0);
lookups($port, 50, 0);
at_lookups($ng, 50);
$rd->stop;
$rd->restart;
$rd->cli('SET', 'present', 'v');
$c = at_lookups($ng, 0);
ok($c, 'after a restart: no lookups in the window');
ok($c && !defined $c->{hit_rate_pct}, 'and no rate');

# 80 hits would be 30 since the last sample if the old one were kept
lookups($port, 80, 20);
$c = at_lookups($ng, 100);
ok($c, 'after a restart: the lookups since it, exactly');
cmp_ok($c && $c->{hit_rate_pct}, '==', 80, 'and their rate');
like(slurp($ng->error_log), qr/the counters of 127\.0\.0\.1:$port started over/,
     'the start-over is logged');

$ng->stop;

##########################################################################
# evictions: judged by evictions=, over the window

my $ev = HealthTest::Redis->start;
my $eport = $ev->port;

# A keeps them in a window of an hour, B in one of 10s: long enough that
# a round after the writes sees their evictions in it on a loaded machine
# (with 2s the writes' own rounds, judged on memory, could be the only
# ones that saw them), short enough to see them leave it
my $ng_a = HealthTest::Nginx->new(conf => <<"EOF");
    health_window 1h;
    health_redis 127.0.0.1:$eport name=ev_warn $QUIET;
    health_redis 127.0.0.1:$eport name=ev_crit $QUIET evictions=critical;
    health_redis 127.0.0.1:$eport name=ev_off $QUIET evictions=off;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
my $ng_b = HealthTest::Nginx->new(conf => <<"EOF");
    health_window 10s;
    health_redis 127.0.0.1:$eport $QUIET;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng_a->start;
$ng_b->start;

for my $n ([$ng_a, 'ev_warn'], [$ng_a, 'ev_crit'], [$ng_a, 'ev_off'],
           [$ng_b, 'cache']) {
    ok(defined $n->[0]->wait_check($n->[1], 'healthy'),
       "$n->[1]: healthy before any eviction");
}

# a tiny maxmemory: writes evict, then no limit, so only evictions count
$ev->cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
$ev->cli('CONFIG', 'SET', 'maxmemory', '2mb');
{
    my $s = resp_connect($eport);
    my $v = 'x' x 10240;
    resp_send($s, 'SET', "k$_", $v) for 1 .. 400;
    resp_read($s) for 1 .. 400;
    close $s;
}
$ev->cli('CONFIG', 'SET', 'maxmemory', '0');
my $evicted = $ev->cli('INFO', 'stats') =~ /evicted_keys:(\d+)/ ? $1 : 0;
ok($evicted > 0, "Redis evicted keys ($evicted)");

# B first, as its window is short: seen in it (a degraded status that the
# memory rounds of the writes may already have logged, so it is read from
# the status)
# (the exact count is A's: B's window may already begin among the writes)
ok(wait_until(sub {
    my $c = cache($ng_b);
    my $n = $c && $c->{evicted_keys_window} // 0;
    $n > 0 && $n <= $evicted && $c->{status} eq 'degraded'
       && ($c->{reason} // '') =~ /^$n keys evicted in \d+s$/
}, timeout => 30), 'while they are in the window the check is degraded, saying so');

my $doc = $ng_a->wait_doc(sub {
    my $k = $_[0]{checks};
    ($k->{ev_warn}{evicted_keys_window} // 0) == $evicted
        && ($k->{ev_crit}{evicted_keys_window} // 0) == $evicted
        && ($k->{ev_off}{evicted_keys_window} // 0) == $evicted
        && ($k->{ev_warn}{maxmemory} // 1) == 0
        && ($k->{ev_crit}{maxmemory} // 1) == 0
        && ($k->{ev_off}{maxmemory} // 1) == 0
});
my $k = $doc->{checks};
is($k->{ev_warn}{status}, 'degraded', 'evictions in the window: a warning');
like($k->{ev_warn}{reason} // '', qr/^$evicted keys evicted in \d+s$/,
     'the reason counts them');
is($k->{ev_warn}{evicted_keys}, $evicted, 'evicted_keys: the cumulative count');
is($k->{ev_crit}{status}, 'unhealthy', 'evictions=critical: critical');
is($k->{ev_off}{status}, 'healthy', 'evictions=off: not judged');

# B: out of the window a window later
ok(wait_until(sub {
    my $c = cache($ng_b);
    $c && ($c->{evicted_keys} // 0) == $evicted
       && $c->{evicted_keys_window} == 0 && $c->{status} eq 'healthy'
}, timeout => 60), 'a window later the evictions are past: healthy again');
is(cache($ng_b)->{evicted_keys}, $evicted, 'the cumulative count stays');

$ng_a->stop;
$ng_b->stop;

done_testing();
