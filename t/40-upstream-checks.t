#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Active checks against real backends (nginx instances of their own on
# loopback): a killed peer leaves rotation within fails x interval +
# timeout, traffic with proxy_next_upstream off then never reaches it, it
# comes back after `passes` checks once restarted, and with every peer
# down the group fails open and the status says so: degraded (200) by
# default, unhealthy (503) with required=on.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time);

use HealthTest qw(:all);

# the peers are refused when killed: the timeout is never what ends a
# check, and no healthy peer misses it on a loaded machine
my ($INTERVAL, $TIMEOUT, $FAILS, $PASSES) = (0.2, 5, 2, 2);

sub backend {
    my ($name) = @_;
    return HealthTest::Nginx->backend($name, hc => '200 "ok"');
}

my @b = (backend('b1'), backend('b2'));
my @addr = map { '127.0.0.1:' . $_->port } @b;

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF2");
    upstream app {
        server $addr[0];
        server $addr[1];
        health_check uri=/hc interval=200ms timeout=${TIMEOUT}s fails=$FAILS
                     passes=$PASSES max_ejected=100%;
    }

    upstream req {
        server $addr[0];
        server $addr[1];
        health_check uri=/hc interval=200ms timeout=${TIMEOUT}s fails=1 passes=1
                     required=on max_ejected=100%;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            proxy_pass http://app;
            proxy_next_upstream off;
        }

        location = /health { health_status; }
    }
EOF2
$ng->start;

# kill a backend nginx (master and workers, SIGKILL: a crash, not a
# graceful stop) and return the time its port stopped accepting
sub kill_peer {
    my ($be) = @_;
    my @pids = ($be->master_pid, $be->worker_pids);
    kill 'KILL', @pids;
    $be->{running} = 0;
    wait_until(sub {
        !IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $be->port,
                               Proto => 'tcp', Timeout => 1)
    }, timeout => 10, step => 0.01);
    return time;
}

sub status { scalar $ng->get_json('/health') }

sub peer {
    my ($doc, $i) = @_;
    return $doc->{upstreams}{app}{peers}[$i];
}

# both peers checked and up
my $doc = wait_until(sub {
    my $d = status();
    return (peer($d, 0)->{health_checks}{checks} >= 2
            && peer($d, 1)->{health_checks}{checks} >= 2) ? $d : undef;
}, timeout => 10);
ok($doc, 'both peers are checked') or diag explain status();
is_deeply([map { peer($doc, $_)->{state} } 0, 1], ['up', 'up'],
          'both peers up');
is(peer($doc, 0)->{server}, $addr[0], 'peer named by its address');
is($doc->{checks}{'upstream:app'}{status}, 'healthy',
   'upstream:app healthy with every peer up');
is($doc->{checks}{'upstream:app'}{total_peers}, 2, 'total_peers');
is(peer($doc, 0)->{health_checks}{last_passed}, JSON::PP::true,
   'last check passed');

# kill b2: out of rotation within fails x interval + timeout
# the clock starts when the peer stops accepting connections
my $t0 = kill_peer($b[1]);
$doc = wait_until(sub {
    my $d = status();
    return peer($d, 1)->{state} eq 'unhealthy' ? $d : undef;
}, timeout => 10, step => 0.02);
my $took = time - $t0;
ok($doc, 'killed peer shown unhealthy');
# what holds by construction: it left after $FAILS failed checks in a row
# (how long that took on this machine is only shown)
cmp_ok(peer($doc, 1)->{health_checks}{consecutive_fails}, '>=', $FAILS,
       sprintf('unhealthy after %d failed checks (%.2fs)', $FAILS, $took));
is($doc->{checks}{'upstream:app'}{status}, 'degraded',
   'upstream:app degraded with one peer down');
is($doc->{checks}{'upstream:app'}{healthy_peers}, 1, 'one healthy peer');
is(peer($doc, 1)->{health_checks}{last_passed}, JSON::PP::false,
   'last check failed');
is($doc->{upstreams}{app}{fail_open}, JSON::PP::false, 'no fail-open');

my %seen;
for (1 .. 200) {
    my $r = $ng->get("/r$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 b1' => 200 },
          '200 requests with proxy_next_upstream off all reach b1');

# restart b2: back after `passes` checks
# the clock starts before the peer can answer a check: its second passing
# check comes at least one interval after the first
$t0 = time;
$b[1]->start;
$doc = wait_until(sub {
    my $d = status();
    return peer($d, 1)->{state} eq 'up' ? $d : undef;
}, timeout => 10, step => 0.02);
$took = time - $t0;
ok($doc, sprintf('restarted peer back in rotation after %.2fs', $took));
cmp_ok($doc->{upstreams}{app}{peers}[1]{health_checks}{consecutive_passes},
       '>=', $PASSES, "it passed $PASSES checks in a row");
cmp_ok($took, '>=', ($PASSES - 1) * $INTERVAL * 0.9,
       'not before the second check');
like(slurp($ng->error_log) // '',
     qr/peer \Q$addr[1]\E of upstream "app" passed $PASSES checks, back/,
     'error.log says it is back');
like(slurp($ng->error_log) // '',
     qr/peer \Q$addr[1]\E of upstream "app" failed $FAILS checks .*out of/,
     'error.log said it left');

%seen = ();
for (1 .. 20) {
    my $r = $ng->get("/s$_");
    $seen{$r->{content}}++;
}
# each worker balances on its own, so the split need not be 10/10
ok($seen{b1} && $seen{b2} && $seen{b1} + $seen{b2} == 20,
   'both peers in rotation again') or diag explain \%seen;

# every peer down: fail-open, said in the status and the log (with
# max_ejected=100%, which lets every peer leave; t/49-upstream-max-ejected.t
# has the default)
$_->stop for @b;
$doc = wait_until(sub {
    my $d = status();
    return $d->{upstreams}{app}{fail_open} ? $d : undef;
}, timeout => 10, step => 0.05);
ok($doc, 'fail_open with every peer down');
is($doc->{checks}{'upstream:app'}{status}, 'degraded',
   'upstream:app degraded at most (required=off)');
is($doc->{checks}{'upstream:app'}{required}, JSON::PP::false,
   'the check says required: false');
is($doc->{checks}{'upstream:app'}{fail_open}, JSON::PP::true,
   'the check says fail_open');
like($doc->{checks}{'upstream:app'}{reason} // '', qr/fail-open/,
     'the check says why');
ok(wait_until(sub { status()->{upstreams}{req}{fail_open} }, timeout => 10),
   'the required group fails open too');
$doc = status();
is($doc->{checks}{'upstream:req'}{status}, 'unhealthy',
   'upstream:req unhealthy (required=on)');
is($doc->{checks}{'upstream:req'}{required}, JSON::PP::true,
   'the check says required: true');
is($ng->get('/health')->{status}, 503,
   '/health answers 503 for the required group');

# fail-open: the balancer still tries the peers (both are really dead)
my $r = $ng->get('/x');
is($r->{status}, 502, 'a request still goes to a peer: 502 from nginx');
ok(wait_until(sub { (slurp($ng->error_log) // '') =~ /every peer of upstream "app" failed its health checks, using them all \(fail-open\)/ }, timeout => 5),
   'error.log says fail-open');
like(slurp($ng->error_log) // '',
     qr/\[error\].*peer \Q$addr[1]\E of upstream "app" failed $FAILS checks .*out of rotation/,
     'leaving rotation is logged at error, seen with a stock error_log');
like(slurp($ng->error_log) // '',
     qr/\[error\].*every peer of upstream "app" failed its health checks/,
     'fail-open is logged at error');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
