#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_slo: known numbers of good, 5xx and slow requests, and every SLI,
# error budget and burn rate compared with the formula of the README, to
# the request; the check slo:NAME degraded while a page-level pair of
# windows burns above its factor (unhealthy with required=on), healthy
# below; a reload keeps the buckets (also one that adds an SLO and a zone)
# and one that changes the latency restarts them with a notice; the
# Prometheus families pass promtool; configuration errors at nginx -t.
#
# The windows are a matter of wall-clock minutes and hours, so the first
# nginx runs on a clock the test holds (libfaketime, every clock frozen
# until set_clock() moves it): a request is in the minute the test says,
# a "slow" request lasts exactly the step the test gives the clock while
# its backend holds the answer, and a fast one lasts 0us.  No margin a
# loaded machine can break.  The second nginx runs on the real clock: all
# its requests are within the last few minutes, so every window holds all
# of them whichever minute or hour boundary the test straddles.
#
# health_slo is new: on the old code (502f119) every nginx here fails to
# start ("unknown directive"), so every test fails there.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::Local qw(timegm);

use HealthTest qw(:all);
use HostileServer;

my @WINDOWS = ([ '5m', 5 ], [ '30m', 30 ], [ '1h', 60 ], [ '2h', 120 ],
               [ '6h', 360 ], [ '1d', 1440 ], [ '3d', 4320 ]);
my @PAIRS = ([ '5m', '1h', 14.4, 1 ], [ '30m', '6h', 6, 1 ],
             [ '2h', '1d', 3, 0 ], [ '6h', '3d', 1, 0 ]);

###########################################################################
# configuration errors at nginx -t, with the file and line

my @bad = (
    [ 'health_slo a zone=nope objective=99%;',
      qr/"zone=nope" in "health_slo" directive, no "health_zone nope" is defined in \S+nginx\.conf:\d+/ ],
    [ 'health_slo a zone=api objective=100%;',
      qr/invalid value "objective=100%" .*above 0 and below 100/ ],
    [ 'health_slo a zone=api objective=0;',
      qr/invalid value "objective=0" .*above 0 and below 100/ ],
    [ 'health_slo a zone=api objective=abc;',
      qr/invalid value "objective=abc"/ ],
    [ 'health_slo a zone=api objective=99.9% latency=0;',
      qr/invalid value "latency=0" .*from 1us to 1h/ ],
    [ 'health_slo a zone=api objective=99.9% latency=2h;',
      qr/invalid value "latency=2h"/ ],
    [ 'health_slo a zone=api objective=99.9% period=90m;',
      qr/invalid value "period=90m" .*whole hours from 1h to 90d/ ],
    [ 'health_slo a zone=api objective=99.9% period=30m;',
      qr/invalid value "period=30m" .*whole hours/ ],
    [ 'health_slo a zone=api objective=99.9% period=91d;',
      qr/invalid value "period=91d" .*whole hours/ ],
    [ 'health_slo a zone=api objective=99.9% required=yes;',
      qr/invalid value "required=yes"/ ],
    [ 'health_slo a zone=api;',
      qr/"health_slo" directive needs zone= and objective=/ ],
    [ 'health_slo a/b zone=api objective=99%;',
      qr/invalid value "a\/b" in "health_slo" directive, an SLO name is/ ],
    [ "health_slo a zone=api objective=99%;\n"
      . "health_slo a zone=api objective=95%;",
      qr/duplicate SLO "a", the first is in \S+nginx\.conf:\d+ in \S+nginx\.conf:\d+/ ],
);

for my $b (@bad) {
    my ($text, $want) = @$b;
    my ($rc, $out) = HealthTest::Nginx->conf_error(
        "health_zone api;\n    $text");
    isnt($rc, 0, "nginx -t refuses: " . ($text =~ s/\n\s*/ /gr));
    like($out, $want, '  and says why') or diag $out;
}

{
    my ($rc, $out) = HealthTest::Nginx->conf_error(
        "health_slo a zone=api objective=99.95% latency=500ms period=1h "
        . "required=on;\n    health_slo b zone=api objective=95 period=90d;\n"
        . "    health_zone api;");
    is($rc, 0, 'nginx -t accepts valid SLOs (the zone may come later)')
        or diag $out;
}

###########################################################################
# the model: what the README says an SLO reports

sub epoch {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $se) = $s =~ /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)$/
        or die "bad time $s\n";
    return timegm($se, $mi, $h, $d, $mo - 1, $y);
}

# the requests sent: [wall second it ended in, status, usec]
my @SENT;

sub is_bad {
    my ($slo, $req) = @_;
    my (undef, $status, $us) = @$req;
    return 1 if $status >= 500 && $status < 600;
    return 1 if defined $slo->{latency_us} && $us >= $slo->{latency_us};
    return 0;
}

sub expect {
    my ($slo, $now) = @_;
    my $m = int($now / 60);
    my $h = int($now / 3600);
    my $allowed = 1 - $slo->{objective} / 100;
    my %e = (burn_rates => {});
    for my $w (@WINDOWS) {
        my ($name, $minutes) = @$w;
        my ($total, $bad) = (0, 0);
        for my $r (@SENT) {
            my $rm = int($r->[0] / 60);
            next unless $rm > $m - $minutes && $rm <= $m;
            $total++;
            $bad += is_bad($slo, $r);
        }
        $e{burn_rates}{$name} = $total ? ($bad / $total) / $allowed : 0;
    }
    my $hours = $slo->{period_s} / 3600;
    my ($total, $bad) = (0, 0);
    for my $r (@SENT) {
        my $rh = int($r->[0] / 3600);
        next unless $rh > $h - $hours && $rh <= $h;
        $total++;
        $bad += is_bad($slo, $r);
    }
    $e{total} = $total;
    $e{good} = $total - $bad;
    $e{sli} = $total ? 100 * ($total - $bad) / $total : undef;
    $e{error_budget_remaining} = $total ? 1 - $bad / ($allowed * $total) : 1;

    my $page;
    my @tickets;
    for my $p (@PAIRS) {
        my ($s, $l, $f, $is_page) = @$p;
        next unless $e{burn_rates}{$s} > $f && $e{burn_rates}{$l} > $f;
        if ($is_page) { $page //= "$s&$l" } else { push @tickets, "$s&$l" }
    }
    $e{page} = $page;
    $e{tickets} = \@tickets;
    $e{status} = !$page ? 'healthy'
               : $slo->{required} ? 'unhealthy' : 'degraded';
    return \%e;
}

sub near {
    my ($got, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (!defined $want) {
        return is($got, undef, $name);
    }
    my $ok = defined $got && $got =~ /^-?[0-9.eE+-]+$/
             && abs($got - $want) <= 1e-9 * (abs($want) > 1 ? abs($want) : 1);
    ok($ok, $name) or diag("got " . ($got // 'undef') . ", want $want");
}

# every figure of every SLO against the model, at wall-clock second $now
sub compare {
    my ($ng, $slos, $now, $label) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $doc = $ng->get_json('/health');
    for my $name (sort keys %$slos) {
        my $slo = $slos->{$name};
        my $e = expect($slo, $now);
        my $got = $doc->{slos}{$name};
        ok($got, "$label: slos.$name is there") or next;
        is($got->{total}, $e->{total}, "$label: $name total $e->{total}");
        is($got->{good}, $e->{good}, "$label: $name good $e->{good}");
        near($got->{sli}, $e->{sli}, "$label: $name sli");
        near($got->{error_budget_remaining}, $e->{error_budget_remaining},
             "$label: $name error_budget_remaining");
        for my $w (@WINDOWS) {
            near($got->{burn_rates}{$w->[0]}, $e->{burn_rates}{$w->[0]},
                 "$label: $name burn rate $w->[0]");
        }
        my $c = $doc->{checks}{"slo:$name"};
        is($c->{status}, $e->{status}, "$label: check slo:$name $e->{status}");
        is($c->{page}, $e->{page},
           "$label: slo:$name page pair " . ($e->{page} // 'none'));
        is_deeply($c->{tickets}, $e->{tickets},
                  "$label: slo:$name tickets [@{ $e->{tickets} }]");
        if ($e->{page}) {
            my ($s, $l) = split /&/, $e->{page};
            like($c->{reason}, qr/the $s and $l burn rates are above/,
                 "$label: slo:$name says which pair fires");
        }
    }
    return $doc;
}

###########################################################################
# a held clock

# a backend that holds its answer until the test says so
my $go = tmp_dir('slo') . '/go';
my $slow = HostileServer->start(sub {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) {
        sysread($c, $req, 4096, length $req) or last;
    }
    HealthTest::wait_until(sub { -e $go }, timeout => 60, step => 0.005);
    print $c "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n"
             . "Connection: close\r\n\r\nslow";
});
my $slow_port = $slow->port;

my %SLOS = (
    avail => { objective => 99, period_s => 30 * 86400 },
    crit  => { objective => 99.9, period_s => 30 * 86400, required => 1 },
    fast  => { objective => 90, period_s => 7200, latency_us => 1000000 },
    fast2 => { objective => 90, period_s => 30 * 86400,
               latency_us => 1000001 },
);

my $ng = HealthTest::Nginx->new(workers => 2, faketime => 'all',
                                conf => <<"EOF");
    # one rule, so that the default error_rate rule does not judge the zone
    health_rule latency_p99 warning=59m critical=1h;

    health_slo avail zone=api objective=99%;
    health_slo crit  zone=api objective=99.9% required=on;
    health_slo fast  zone=api objective=90% latency=1s period=2h;
    health_slo fast2 zone=api objective=90% latency=1000001us;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /ok      { health_zone api; return 200; }
        location /other   { health_zone other; return 200; }
        location /missing { health_zone api; return 404; }
        location /err     { health_zone api; return 502; }
        location /slow    { health_zone api;
                            proxy_pass http://127.0.0.1:$slow_port; }

        location /health  { health_status; }
    }
EOF

my $NOW;

sub clock {
    my ($when) = @_;
    $ng->set_clock($when);
    $NOW = epoch($when);
}

# with $INTERLEAVE, each request of api is followed by one of a zone
# without SLO: the fold meets runs of one record, many of them; without,
# runs of many records and of several statuses
my $INTERLEAVE = 0;
my $OTHER = 0;

sub send_n {
    my ($path, $status, $n) = @_;
    for (1 .. $n) {
        my $r = $ng->get($path);
        die "$path answered $r->{status}\n" unless $r->{status} == $status;
        push @SENT, [ $NOW, $status, 0 ];
        next unless $INTERLEAVE;
        $ng->get('/other')->{status} == 200 or die "/other failed\n";
        $OTHER++;
    }
}

# a request that lasts exactly until the clock reads $until
sub send_slow {
    my ($until) = @_;
    unlink $go;
    my $before = $slow->connections;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my $r = HTTP::Tiny->new(timeout => 60)->get($ng->url('/slow'));
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    wait_until(sub { $slow->connections > $before }, timeout => 20)
        or die "the slow request did not reach its backend\n";
    my $start = $NOW;
    clock($until);
    spew($go, "1");
    waitpid $pid, 0;
    is($? >> 8, 0, "the slow request ($start to $until) was answered");
    push @SENT, [ $NOW, 200, ($NOW - $start) * 1000000 ];
}

sub wait_total {
    my ($n) = @_;
    $ng->wait_doc(sub { ($_[0]{slos}{avail}{total} // -1) >= $n });
}

clock('2026-01-01 00:00:00');
$ng->start;

my $doc = $ng->get_json('/health');
is($doc->{slos}{avail}{total}, 0, 'no request yet: total 0');
is($doc->{slos}{avail}{sli}, undef, 'sli null with no request');
is($doc->{slos}{avail}{error_budget_remaining}, 1, 'the budget whole');
is($doc->{checks}{'slo:avail'}{status}, 'healthy', 'healthy with none');
is($doc->{slos}{avail}{latency_ms}, undef, 'latency_ms null without one');
is($doc->{slos}{fast}{latency_ms}, 1000, 'latency_ms 1000');
is($doc->{slos}{fast2}{latency_ms}, 1000.001, 'latency_ms 1000.001');
is($doc->{slos}{avail}{objective}, 99, 'objective 99');
is($doc->{slos}{crit}{objective}, 99.9, 'objective 99.9');
is($doc->{slos}{fast}{period_s}, 7200, 'period_s 7200');
is($doc->{slos}{avail}{period_s}, 2592000, 'period_s 30d by default');

# 00:00: 85 good, 5 4xx (good), 10 5xx, then two requests of exactly 1s
send_n('/ok', 200, 85);
send_n('/missing', 404, 5);
send_n('/err', 502, 10);
send_slow('2026-01-01 00:00:01');
send_slow('2026-01-01 00:00:02');
wait_total(102);

$doc = compare($ng, \%SLOS, $NOW, '00:00');
is($doc->{slos}{fast}{total} - $doc->{slos}{fast}{good}, 12,
   'fast (latency=1s): a request of exactly 1s is bad (not below)');
is($doc->{slos}{fast2}{total} - $doc->{slos}{fast2}{good}, 10,
   'fast2 (latency=1.000001s): the same request is good');
is($doc->{checks}{'slo:avail'}{status}, 'degraded',
   'avail: 30m and 6h burn 9.8 > 6, degraded');
is($doc->{checks}{'slo:crit'}{status}, 'unhealthy',
   'crit (required=on): 5m and 1h burn 98 > 14.4, unhealthy');
is($doc->{checks}{'slo:fast'}{status}, 'healthy', 'fast burns 1.18: healthy');
is($doc->{status}, 'unhealthy', 'crit required=on makes the instance unhealthy');

my $prom = $ng->get('/health?format=prometheus')->{content};
like($prom, qr/^nginx_health_slo_events_total\{slo="fast",result="bad"\} 12$/m,
     'Prometheus: events_total bad 12');
like($prom, qr/^nginx_health_slo_events_total\{slo="fast",result="good"\} 90$/m,
     'Prometheus: events_total good 90');
like($prom, qr/^nginx_health_slo_objective\{slo="crit"\} 0\.999$/m,
     'Prometheus: the objective as a ratio');
like($prom, qr/^nginx_health_check_status\{check="slo:crit"\} 2$/m,
     'Prometheus: the check');

# 00:10: the 5m window holds only what comes now
clock('2026-01-01 00:10:00');
$INTERLEAVE = 1;
send_n('/ok', 200, 50);
$INTERLEAVE = 0;
wait_total(152);
compare($ng, \%SLOS, $NOW, '00:10');

# 00:14: counted before the clock moves on.  A client has its answer
# before nginx's log phase takes the request's time, so on a loaded
# machine the last request could otherwise be timed after the jump to
# 00:45 (it was, once, under ASan beside a whole second suite)
clock('2026-01-01 00:14:00');
send_n('/ok', 200, 7);
send_n('/err', 502, 3);
wait_total(162);

# 00:45: the 30m window has left 00:10 and 00:14 behind, the page pairs
# are quiet
clock('2026-01-01 00:45:00');
send_n('/ok', 200, 20);
wait_total(182);
$doc = compare($ng, \%SLOS, $NOW, '00:45');
is($doc->{checks}{'slo:avail'}{status}, 'healthy', 'avail healthy again');

# 03:00: the 2h window and fast's period (2h) have left hour 0
clock('2026-01-01 03:00:00');
send_n('/ok', 200, 10);
wait_total(10);
compare($ng, \%SLOS, $NOW, '03:00');

# the last second the 3d window holds minute 0, and the first it does not
clock('2026-01-03 23:59:59');
compare($ng, \%SLOS, $NOW, 'Jan 3 23:59:59');
clock('2026-01-04 00:00:00');
compare($ng, \%SLOS, $NOW, 'Jan 4 00:00');

# minute 0's bucket, stale, serves Jan 4 00:00 now
$INTERLEAVE = 1;
send_n('/ok', 200, 3);
send_n('/err', 502, 1);
$INTERLEAVE = 0;
wait_total(201);
$doc = compare($ng, \%SLOS, $NOW, 'Jan 4 00:00, a reused bucket');
near($doc->{slos}{avail}{burn_rates}{'5m'}, (1 / 4) / (1 - 0.99),
     'the 5m window: only the 4 requests of the reused bucket');

# the period (30d, 720 hours) holds hour 0 until Jan 31 00:00
clock('2026-01-30 23:59:59');
compare($ng, \%SLOS, $NOW, 'Jan 30 23:59:59');
clock('2026-01-31 00:00:00');
$doc = compare($ng, \%SLOS, $NOW, 'Jan 31 00:00');
is($doc->{slos}{avail}{total}, 14, 'Jan 31: the period holds 03:00 and Jan 4');
is($doc->{zones}{other}{requests}, $OTHER,
   "the zone without SLO counted its own $OTHER");

$ng->stop;

###########################################################################
# the real clock: reloads, and every window holds the last minutes

my $conf = <<'EOF';
    health_rule latency_p99 warning=59m critical=1h;
    %SLOS%

    server {
        listen 127.0.0.1:%%PORT%%;

        location /ok      { health_zone api; return 200; }
        location /err     { health_zone api; return 503; }
        location /new     { health_zone %NEWZONE%; return 200; }
        location /health  { health_status; }
    }
EOF

sub conf_with {
    my ($slos, $zone) = @_;
    my $c = $conf;
    $c =~ s/%SLOS%/$slos/;
    $c =~ s/%NEWZONE%/$zone/;
    return $c;
}

my $log_before;
my $rc = HealthTest::Nginx->new(workers => 2, conf => conf_with(
    'health_slo avail zone=api objective=99.9%;', 'api'));
$rc->start;

$rc->get('/ok') for 1 .. 40;
$rc->get('/err') for 1 .. 2;

sub real_check {
    my ($ng, $name, $objective, $total, $bad, $label) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $doc = $ng->wait_doc(sub { ($_[0]{slos}{$name}{total} // -1) >= $total });
    my $s = $doc->{slos}{$name};
    is($s->{total}, $total, "$label: $name total $total");
    is($s->{good}, $total - $bad, "$label: $name good " . ($total - $bad));
    my $allowed = 1 - $objective / 100;
    for my $w (@WINDOWS) {
        near($s->{burn_rates}{$w->[0]},
             $total ? ($bad / $total) / $allowed : 0,
             "$label: $name burn rate $w->[0] holds every request");
    }
    near($s->{error_budget_remaining},
         $total ? 1 - $bad / ($allowed * $total) : 1,
         "$label: $name error_budget_remaining");
    return $doc;
}

real_check($rc, 'avail', 99.9, 42, 2, 'real clock');

# promtool on the live answer
my $promtool = $ENV{PROMTOOL}
    // (grep { -x } map { "$_/promtool" } split(/:/, $ENV{PATH} // ''),
                                         '/usr/bin')[0];
ok($promtool, 'promtool is installed');
{
    my $file = tmp_dir('slo') . '/metrics';
    spew($file, $rc->get('/health?format=prometheus')->{content});
    my ($prc, $out) = run_cmd('sh', '-c', "$promtool check metrics < $file");
    is($prc, 0, 'promtool check metrics passes on the live answer')
        or diag $out;
}

# a reload that adds an SLO and a zone keeps the buckets
$rc->reload(conf => conf_with(
    "health_slo avail zone=api objective=99.9%;\n"
    . "    health_slo second zone=other objective=95%;", 'other'));
real_check($rc, 'avail', 99.9, 42, 2, 'reload adding an SLO and a zone');
$rc->get('/new') for 1 .. 3;
real_check($rc, 'second', 95, 3, 0, 'the new SLO counts');
$rc->get('/ok') for 1 .. 8;
real_check($rc, 'avail', 99.9, 50, 2, 'old and new requests together');

# another worker count makes a new counters' segment; an SLO's zone is
# its own, and stays
$rc->{workers} = 1;
$log_before = -s $rc->error_log;
$rc->reload(conf => conf_with(
    "health_slo avail zone=api objective=99.9%;\n"
    . "    health_slo second zone=other objective=95%;", 'other'));
like(substr(slurp($rc->error_log), $log_before),
     qr/health: the window, the buckets, the worker count/,
     'the counters\' segment is a new one');
real_check($rc, 'avail', 99.9, 50, 2, 'a new counters\' segment');
real_check($rc, 'second', 95, 3, 0, 'a new counters\' segment');

# a new objective reads the same buckets
$rc->reload(conf => conf_with(
    "health_slo avail zone=api objective=99%;\n"
    . "    health_slo second zone=other objective=95%;", 'other'));
real_check($rc, 'avail', 99, 50, 2, 'reload with another objective');

# a new latency is another definition of good: the counts start again
$log_before = -s $rc->error_log;
$rc->reload(conf => conf_with(
    "health_slo avail zone=api objective=99% latency=10s;\n"
    . "    health_slo second zone=other objective=95%;", 'other'));
my $log = substr(slurp($rc->error_log), $log_before);
like($log, qr/\[notice\].*the zone or the latency of SLO "avail" changed, its counts start again/,
     'a notice says the counts of avail start again');
unlike($log, qr/SLO "second" changed/, 'and not for second');
my $d = $rc->get_json('/health');
is($d->{slos}{avail}{total}, 0, 'avail starts from 0');
is($d->{slos}{second}{total}, 3, 'second keeps its 3');
$rc->get('/err');
real_check($rc, 'avail', 99, 1, 1, 'after the reset');

$rc->stop;

done_testing;
