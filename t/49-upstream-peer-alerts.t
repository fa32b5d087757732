#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# issue 15 point 7: a peer's state changes by its checks are events.  With
# a publishing health_redis each change is an alert on
# <prefix>:system:alerts, check "upstream:GROUP:PEER": healthy (in
# rotation), degraded (failing, kept in by max_ejected), unhealthy (out of
# rotation); each once, whichever worker published.  The per-peer states
# are no checks of the instance: the status messages do not carry them.
# Each change is logged once, by the worker that made it, with the reason.
# A real redis-server, real nginx backends.

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
use Resp;

sub backend { HealthTest::Nginx->toggled_backend(@_) }

my @B = map { backend("P$_") } 1 .. 3;
my @A = map { '127.0.0.1:' . $_->port } @B;

my $rd = HealthTest::Redis->start;
my $alerts = 'health:system:alerts';
my $status = 'health:service:web1:status';
my $sub = subscriber($rd->port, $status, $alerts);

# 50% of 3: one peer may be out
my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service web1;
    health_redis 127.0.0.1:${\ $rd->port } interval=200ms timeout=2s;

    upstream g {
        server $A[0];
        server $A[1];
        server $A[2];
        health_check uri=/hc interval=100ms timeout=5s fails=1 passes=1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng->start;

sub peer_alerts {
    my ($i) = @_;
    return grep { $_->{check} eq "upstream:g:$A[$i]" } msgs($sub, $alerts);
}

# the alert of peer I from FROM to TO, waited for
sub wait_alert {
    my ($i, $from, $to) = @_;
    my $a;
    drain($sub, sub {
        ($a) = grep { $_->{from} eq $from && $_->{to} eq $to } peer_alerts($i);
        $a;
    }, 30);
    return $a;
}

ok(drain($sub, sub { msgs($sub, $status) >= 3 }, 30),
   'three rounds published');
is_deeply([grep { $_->{check} =~ /^upstream:g:/ } msgs($sub, $alerts)], [],
          'peers starting healthy raise no alert');

# P1 fails: out of rotation
$B[0]->hc_off;
my $a = wait_alert(0, 'healthy', 'unhealthy');
ok($a, 'P1 out: an alert healthy -> unhealthy');
is($a && $a->{severity}, 'critical', 'critical');
is($a && $a->{service}, 'web1', 'it names the service');
like($a && $a->{message}, qr/"upstream:g:\Q$A[0]\E" of web1 went from healthy to unhealthy/,
     'and says what changed');

# P2 fails: 1 of 3 may be out, P2 is kept in
$B[1]->hc_off;
$a = wait_alert(1, 'healthy', 'degraded');
ok($a, 'P2 kept in by max_ejected: an alert healthy -> degraded');
is($a && $a->{severity}, 'warning', 'a warning');

# P1 passes again: P1 back, and P2 takes the slot
$B[0]->hc_on;
ok(wait_alert(0, 'unhealthy', 'healthy'), 'P1 back: unhealthy -> healthy');
ok(wait_alert(1, 'degraded', 'unhealthy'), 'P2 out: degraded -> unhealthy');

# a few more rounds: nothing repeats
my $n = msgs($sub, $status);
ok(drain($sub, sub { msgs($sub, $status) >= $n + 3 }, 30),
   'three more rounds published');

is_deeply([map { "$_->{from}>$_->{to}" } peer_alerts(0)],
          ['healthy>unhealthy', 'unhealthy>healthy'], 'P1: two alerts, once each');
is_deeply([map { "$_->{from}>$_->{to}" } peer_alerts(1)],
          ['healthy>degraded', 'degraded>unhealthy'], 'P2: two alerts, once each');
is_deeply([peer_alerts(2)], [], 'P3: none');

my @st = msgs($sub, $status);
is_deeply([grep { /^upstream:g:/ } map { keys %{ $_->{checks} } } @st], [],
          'the status messages carry no per-peer state');
is($st[-1]{checks}{'upstream:g'}, 'degraded', 'but the group check');

# logged once each, at the levels of the README, with the reason
my $log = slurp($ng->error_log) // '';
my %count;
$count{out1}  = () = $log =~ /\[error\].*peer \Q$A[0]\E of upstream "g" failed 1 checks \(last: status 503\), out of rotation$/mg;
$count{kept2} = () = $log =~ /\[error\].*peer \Q$A[1]\E of upstream "g" failed 1 checks \(last: status 503\) but stays in rotation, kept in by max_ejected=50%: 1 of 3 peers are out already$/mg;
$count{back1} = () = $log =~ /\[notice\].*peer \Q$A[0]\E of upstream "g" passed 1 checks, back in rotation$/mg;
$count{out2}  = () = $log =~ /\[error\].*peer \Q$A[1]\E of upstream "g" failed 1 checks \(last: status 503\), out of rotation \(a slot under max_ejected freed up\)$/mg;
is_deeply(\%count, { out1 => 1, kept2 => 1, back1 => 1, out2 => 1 },
          'each change logged once') or diag $log;

$ng->stop;
$_->stop for @B;

done_testing;
