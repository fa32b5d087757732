#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_check max_ejected=PCT: at most that share of a group's checked
# peers is out of rotation for failed checks at once (floor, at least
# one); a peer failing beyond the limit stays in rotation, kept in, and
# serves; the first to leave stay out, and a slot freed by a peer coming
# back goes to a kept-in one at its next failed check.  Every change is
# logged once (two workers) with the check's reason.  100% lets every peer
# leave, and the group then fails open as before.  A reload that lowers
# the limit brings the excess back in.
#
# Four real nginx backends, /hc toggled by a file; the groups have a zone,
# so the two workers share the round-robin state and the requests of a
# peer are exact counts.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

###########################################################################
# nginx -t refuses bad values

for my $bad ('0', '0%', '101%', '150', 'abc', '%', '', '-5%', '50%%') {
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check max_ejected=$bad;
    }
EOF
    isnt($rc, 0, "max_ejected=$bad is refused");
    like($out, qr/\[emerg\].*invalid value "max_ejected=\Q$bad\E" in "health_check" directive, it must be a percentage from 1% to 100%/,
         "max_ejected=$bad: the message states the range");
}

{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check max_ejected=50% max_ejected=60%;
    }
EOF
    isnt($rc, 0, 'max_ejected twice is refused');
    like($out, qr/duplicate parameter "max_ejected=60%"/, 'said as such');
}

for my $good ('1%', '100%', '33', '50%') {
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check max_ejected=$good;
    }
EOF
    is($rc, 0, "max_ejected=$good is accepted") or diag $out;
}

###########################################################################
# the groups

sub backend { HealthTest::Nginx->toggled_backend(@_) }

my @B = map { backend("P$_") } 1 .. 4;
my @A = map { '127.0.0.1:' . $_->port } @B;
my %NAME = map { ($A[$_] => 'P' . ($_ + 1)) } 0 .. 3;
my $closed = '127.0.0.1:' . free_port();

my $check = 'health_check uri=/hc interval=100ms timeout=5s fails=1 passes=1';
my $servers = join '', map { "        server $_;\n" } @A;

sub conf {
    my ($half) = @_;
    return <<"EOF2";
    upstream half {
        zone half 64k;
$servers        $check $half;
    }

    upstream all {
        zone all 64k;
$servers        $check max_ejected=100%;
    }

    # a peer nobody listens on: its checks are refused
    upstream refused {
        server $A[3];
        server $closed;
        health_check uri=/hc interval=100ms timeout=5s fails=2 passes=1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /half/ { proxy_pass http://half/; }
        location /all/ { proxy_pass http://all/; }
    }
EOF2
}

# the default (50%) in the group "half"
my $ng = HealthTest::Nginx->new(workers => 2, conf => conf(''))->start;

sub status { scalar $ng->get_json('/health') }

# the peers of a group by name (P1..P4): {state, kept}
sub peers {
    my ($d, $u) = @_;
    my %p;
    for my $p (@{ $d->{upstreams}{$u}{peers} // [] }) {
        $p{ $NAME{ $p->{server} } // $p->{server} } = $p;
    }
    return \%p;
}

# the states of a group's peers as "P1:out P2:kept P3:up P4:up"
sub states {
    my ($d, $u) = @_;
    my $p = peers($d, $u);
    return join ' ', map {
        my $s = $p->{$_};
        "$_:" . (!$s ? 'none'
                 : $s->{kept_by_limit} ? 'kept'
                 : $s->{state} eq 'unhealthy' ? 'out'
                 : $s->{state})
    } map { "P$_" } 1 .. 4;
}

sub wait_states {
    my (%want) = @_;
    my $last;
    my $ok = wait_until(sub {
        $last = status() or return;
        for my $u (keys %want) {
            return if states($last, $u) ne $want{$u};
        }
        return 1;
    }, timeout => 20, step => 0.05);
    diag explain { map { ($_ => states($last, $_)) } keys %want } unless $ok;
    return $ok ? $last : undef;
}

# N requests to a group: {P1 => n, ...}
sub spread {
    my ($u, $n) = @_;
    my %seen;
    for (1 .. $n) {
        my $r = $ng->get("/$u/x$_");
        $seen{ $r->{status} == 200 ? $r->{content} : "status $r->{status}" }++;
    }
    return \%seen;
}

my $doc = wait_states(half => 'P1:up P2:up P3:up P4:up',
                      all => 'P1:up P2:up P3:up P4:up');
ok($doc, 'every peer up at first');
is($doc->{upstreams}{half}{max_ejected}, 2,
   'half: 50% (the default) of 4 peers may be out: 2');
is($doc->{upstreams}{all}{max_ejected}, 4, 'all: 100% of 4: 4');
is($doc->{upstreams}{half}{ejected}, 0, 'none out');
is($doc->{upstreams}{half}{kept_by_limit}, 0, 'none kept in');

###########################################################################
# 1. P1, then P2, then P3 fail: in "half" the first two leave, P3 stays

$B[0]->hc_off;
ok(wait_states(half => 'P1:out P2:up P3:up P4:up'), 'P1 leaves');
$B[1]->hc_off;
ok(wait_states(half => 'P1:out P2:out P3:up P4:up'), 'P2 leaves');
$B[2]->hc_off;
$doc = wait_states(half => 'P1:out P2:out P3:kept P4:up',
                   all => 'P1:out P2:out P3:out P4:up');
ok($doc, 'half: P3 fails too but is kept in; all: P3 leaves');

my $h = $doc->{upstreams}{half};
is($h->{ejected}, 2, 'half: 2 out');
is($h->{kept_by_limit}, 1, 'half: 1 kept in');
is($h->{fail_open}, JSON::PP::false, 'half: no fail-open');
my $p3 = peers($doc, 'half')->{P3};
is($p3->{state}, 'unhealthy', 'P3 is unhealthy by its checks');
is($p3->{kept_by_limit}, JSON::PP::true, 'P3 says kept_by_limit');
like($p3->{kept_reason} // '',
     qr/max_ejected=50%: at most 2 of 4 peers may be out at once/,
     'and why');
ok(!exists peers($doc, 'half')->{P1}{kept_by_limit},
   'P1 (out) is not kept in');
my $hc = $doc->{checks}{'upstream:half'};
is($hc->{status}, 'degraded', 'upstream:half degraded');
is($hc->{healthy_peers}, 1, 'one healthy peer');
is($hc->{kept_by_limit}, 1, 'the check counts the kept-in peer');
like($hc->{reason} // '', qr/max_ejected/, 'and says why');
is($doc->{upstreams}{all}{kept_by_limit}, 0, 'all: none kept in');

# the zone shares the round-robin state: 40 requests alternate exactly
is_deeply(spread('half', 40), { P3 => 20, P4 => 20 },
          'half: the failing P3 kept in still serves its share, 20 of 40');
is_deeply(spread('all', 40), { P4 => 40 }, 'all: P4 alone serves');

my $prom = $ng->get('/health?format=prometheus')->{content};
like($prom, qr/^nginx_health_upstream_peer_kept_by_limit\{upstream="half",peer="\Q$A[2]\E"\} 1$/m,
     'Prometheus: P3 kept in');
like($prom, qr/^nginx_health_upstream_peer_kept_by_limit\{upstream="half",peer="\Q$A[0]\E"\} 0$/m,
     'Prometheus: P1 not kept in');
like($prom, qr/^nginx_health_upstream_peer_up\{upstream="half",peer="\Q$A[2]\E"\} 1$/m,
     'Prometheus: P3 is in rotation');
like($prom, qr/^nginx_health_upstream_peer_up\{upstream="half",peer="\Q$A[0]\E"\} 0$/m,
     'Prometheus: P1 is not');
like($prom, qr/^nginx_health_upstream_peer_state\{upstream="half",peer="\Q$A[2]\E",state="unhealthy"\} 1$/m,
     'Prometheus: P3 unhealthy');

# logged once, by the worker that changed the state, with the reason
my $log = slurp($ng->error_log) // '';
my @kept = $log =~ /^.*\[error\].*peer \Q$A[2]\E of upstream "half" failed 1 checks \(last: status 503\) but stays in rotation, kept in by max_ejected=50%: 2 of 4 peers are out already$/mg;
is(scalar @kept, 1, 'P3 kept in: logged once, at error, with the reason');
my @out = $log =~ /^.*\[error\].*peer \Q$A[0]\E of upstream "half" failed 1 checks \(last: status 503\), out of rotation$/mg;
is(scalar @out, 1, 'P1 out: logged once, with the reason');

###########################################################################
# 2. P1 passes again: its slot goes to P3 at P3's next failed check

$B[0]->hc_on;
$doc = wait_states(half => 'P1:up P2:out P3:out P4:up',
                   all => 'P1:up P2:out P3:out P4:up');
ok($doc, 'P1 back; the kept-in P3 takes the freed slot');
is($doc->{upstreams}{half}{ejected}, 2, 'half: 2 out');
is($doc->{upstreams}{half}{kept_by_limit}, 0, 'half: none kept in');
is_deeply(spread('half', 40), { P1 => 20, P4 => 20 },
          'half: P1 and P4 serve, P3 no longer');

$log = slurp($ng->error_log) // '';
my @back = $log =~ /^.*\[notice\].*peer \Q$A[0]\E of upstream "half" passed 1 checks, back in rotation$/mg;
is(scalar @back, 1, 'P1 back: logged once at notice');
my @took = $log =~ /^.*\[error\].*peer \Q$A[2]\E of upstream "half" failed 1 checks \(last: status 503\), out of rotation \(a slot under max_ejected freed up\)$/mg;
is(scalar @took, 1, 'P3 out: logged once, saying a slot freed up');

###########################################################################
# 3. every peer fails: "half" keeps two in (no flapping: P2 and P3 stay
#    out), "all" fails open as it did before max_ejected

$B[0]->hc_off;
$B[3]->hc_off;
$doc = wait_states(half => 'P1:kept P2:out P3:out P4:kept',
                   all => 'P1:out P2:out P3:out P4:out');
ok($doc, 'half: P1 and P4 kept in; all: every peer out');
is($doc->{upstreams}{half}{fail_open}, JSON::PP::false, 'half does not fail open');
is($doc->{upstreams}{half}{kept_by_limit}, 2, 'half: 2 kept in');
is($doc->{upstreams}{all}{fail_open}, JSON::PP::true, 'all fails open');
is_deeply(spread('half', 40), { P1 => 20, P4 => 20 },
          'half: the kept-in peers serve');
is_deeply(spread('all', 40), { P1 => 10, P2 => 10, P3 => 10, P4 => 10 },
          'all: fail-open, every peer serves its share');

###########################################################################
# 4. a reload keeps the state; one that lowers the limit brings the peers
#    beyond it back in, the first listed staying out

$ng->reload;
$doc = status();
is(states($doc, 'half'), 'P1:kept P2:out P3:out P4:kept',
   'the same configuration reloaded: the same peers out and kept in');
$doc = wait_states(half => 'P1:kept P2:out P3:out P4:kept');
ok($doc, 'and it stays so');

$ng->reload(conf => conf('max_ejected=25%'));
$doc = status();
is(states($doc, 'half'), 'P1:kept P2:out P3:kept P4:kept',
   'max_ejected=25% (1 of 4): P3 back in, kept; P2 stays out');
is($doc->{upstreams}{half}{ejected}, 1, '1 out');
is($doc->{upstreams}{half}{max_ejected}, 1, '1 may be');
like(slurp($ng->error_log) // '',
     qr/\[notice\].*peer \Q$A[2]\E of upstream "half" fails its checks but is back in rotation, kept in by max_ejected=25%/,
     'the reload says so');
is_deeply(spread('half', 30), { P1 => 10, P3 => 10, P4 => 10 },
          'P1, P3 and P4 serve');

# the peer kept in passes again: no longer kept
$B[2]->hc_on;
ok(wait_states(half => 'P1:kept P2:out P3:up P4:kept'), 'P3 passes: up');
like(slurp($ng->error_log) // '',
     qr/\[notice\].*peer \Q$A[2]\E of upstream "half" passed 1 checks, no longer kept in rotation by max_ejected/,
     'logged at notice');

###########################################################################
# 5. the reason of a refused connection

$doc = wait_until(sub {
    my $d = status() or return;
    my $p = peers($d, 'refused')->{$closed};
    return ($p && $p->{state} eq 'unhealthy') ? $d : undef;
}, timeout => 20, step => 0.05);
ok($doc, 'the closed port is out of rotation (1 of 2 may be)');
like(slurp($ng->error_log) // '',
     qr/\[error\].*peer \Q$closed\E of upstream "refused" failed 2 checks \(last: connect failed\), out of rotation \(111: Connection refused\)$/m,
     'the log says connect failed, with the socket error');

$ng->stop;
$_->stop for @B;

done_testing;
