#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_check observe=5xx|timeout|5xx,timeout|off observe_fails=N: real
# requests count as failed checks.  N consecutive 5xx answers (or
# timeouts) of a peer, from any worker, take it out of rotation as N
# failed checks would, within the same max_ejected limit; any answer that
# is not counted resets the count; the peer comes back through "passes"
# passing checks after it left.  Off (the default): never.
#
# Real nginx backends.  P1 answers 200 "P1" everywhere; P2 and P3 answer
# 500 on /fail, hang on /slow (they proxy it to a socket that never
# answers) and 200 "Pn" elsewhere, and pass their checks on /hc.  The front
# nginx has two workers and proxy_next_upstream off, so each request is one
# attempt on one peer, and the answer says which.  A small answer leaves the
# front only with its last buffer, which nginx sends after the attempt was
# given back to the balancer: when the client has it, the count has moved
# (and the peer is out if it was the N-th; nginx's own 504 and the next
# peer's answer come after it anyway), whichever worker serves the
# next request.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;

use HealthTest qw(:all);

###########################################################################
# nginx -t refuses bad values

for my $bad ('observe=', 'observe=on', 'observe=5XX', 'observe=5xx,',
             'observe=timeout,timeout', 'observe=4xx')
{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check $bad;
    }
EOF
    isnt($rc, 0, "$bad is refused");
    like($out, qr/invalid value "\Q$bad\E" in "health_check" directive, it must be "5xx", "timeout", "5xx,timeout" or "off"/,
         "$bad: the message lists the values");
}

for my $bad ('observe_fails=0', 'observe_fails=1001', 'observe_fails=x',
             'observe_fails=')
{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check observe=5xx $bad;
    }
EOF
    isnt($rc, 0, "$bad is refused");
    like($out, qr/invalid value "\Q$bad\E" in "health_check" directive, it must be a number from 1 to 1000/,
         "$bad: the message states the range");
}

for my $dup ('observe=5xx observe=off', 'observe_fails=2 observe_fails=3') {
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check $dup;
    }
EOF
    isnt($rc, 0, "\"$dup\" is refused");
    like($out, qr/duplicate parameter/, 'as a duplicate');
}

for my $good ('observe=5xx', 'observe=timeout', 'observe=5xx,timeout',
              'observe=timeout,5xx', 'observe=off',
              'observe=5xx observe_fails=1', 'observe_fails=1000')
{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check $good;
    }
EOF
    is($rc, 0, "$good is accepted") or diag $out;
}

###########################################################################
# the backends and the front

# accepts connections into its backlog and never answers
my $hole = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                 LocalPort => 0, Proto => 'tcp')
    or die "listen: $!";
my $hole_port = $hole->sockport;

my $P1 = HealthTest::Nginx->backend('P1');

sub failing {
    my ($name) = @_;
    return HealthTest::Nginx->backend($name, extra => <<"EOF");
        location = /fail { return 500 "$name"; }
        location = /slow {
            proxy_pass http://127.0.0.1:$hole_port;
            proxy_read_timeout 1h;
        }
EOF
}

my $P2 = failing('P2');
my $P3 = failing('P3');

my %NAME = map { ('127.0.0.1:' . $_->[1]->port => $_->[0]) }
           (['P1', $P1], ['P2', $P2], ['P3', $P3]);
my ($A1, $A2, $A3) = map { '127.0.0.1:' . $_->port } $P1, $P2, $P3;

# nginx's own passive checks (max_fails) stay out of the way
my ($S1, $S2, $S3) = map { "server $_ max_fails=0;" } $A1, $A2, $A3;

# the checks pass throughout; "passes" keeps a peer out for the test's
# length but in the group "back"
my $hc = 'health_check uri=/hc interval=100ms timeout=5s fails=3';
my $long = "$hc passes=1000";

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF")->start;
    upstream g5 {
        $S1
        $S2
        $long observe=5xx observe_fails=3;
    }

    upstream reset {
        $S1
        $S2
        $long observe=5xx observe_fails=3;
    }

    upstream next5 {
        $S1
        $S2
        $long observe=5xx observe_fails=3;
    }

    upstream gt {
        $S1
        $S2
        $long observe=timeout observe_fails=3;
    }

    upstream t5 {
        $S1
        $S2
        $long observe=5xx observe_fails=2;
    }

    upstream limit {
        $S2
        $S3
        $long observe=5xx observe_fails=3 max_ejected=50%;
    }

    upstream back {
        $S1
        $S2
        $hc passes=3 observe=5xx,timeout observe_fails=3;
    }

    # one peer: out of rotation, it still serves (fail-open)
    upstream single {
        $S2
        $hc passes=10 observe=5xx observe_fails=3;
    }

    upstream off {
        $S1
        $S2
        $long;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        proxy_next_upstream off;
        proxy_read_timeout 1s;
        add_header X-Peer \$upstream_addr always;

        location /health { health_status; }
        location /g5/ { proxy_pass http://g5/; }
        location /reset/ { proxy_pass http://reset/; }
        location /gt/ { proxy_pass http://gt/; }
        location /t5/ { proxy_pass http://t5/; }
        location /limit/ { proxy_pass http://limit/; }
        location /back/ { proxy_pass http://back/; }
        location /off/ { proxy_pass http://off/; }
        location /single/ { proxy_pass http://single/; }
        location /next5/ {
            proxy_pass http://next5/;
            proxy_next_upstream error timeout http_500;
        }
    }
EOF

sub status { scalar $ng->get_json('/health') }

# the peer of group U at P ('P1'..'P3') in the status
sub peer {
    my ($d, $u, $p) = @_;
    for my $s (@{ $d->{upstreams}{$u}{peers} // [] }) {
        return $s if ($NAME{ $s->{server} } // '') eq $p;
    }
    return undef;
}

# who answered a request and how: "P2:500", "P2:504" (timed out), from the
# last peer the front names in X-Peer
sub who {
    my ($r) = @_;
    my ($last) = ($r->{headers}{'x-peer'} // '') =~ /([^\s,]*)$/;
    my $peer = $NAME{$last} // '?';
    return "$peer:$r->{status}";
}

# requests to /U/PATH until N of them went to peer P (at most 40
# requests); returns the list of who answered every one
sub until_hits {
    my ($u, $path, $p, $n) = @_;
    my @seen;
    my $hits = 0;
    while ($hits < $n && @seen < 40) {
        my $w = who($ng->get("/$u/$path"));
        push @seen, $w;
        $hits++ if $w =~ /^\Q$p\E:/;
    }
    return @seen;
}

ok(wait_until(sub {
    my $d = status() or return;
    for my $u (qw(g5 reset next5 gt t5 limit back single off)) {
        for my $s (@{ $d->{upstreams}{$u}{peers} }) {
            return unless ($s->{health_checks}{checks} // 0) >= 1;
        }
    }
    return 1;
}, timeout => 20), 'every peer checked at least once');

###########################################################################
# 1. three 500s of P2: out at the third, not before; P1 takes the rest

{
    my @seen = until_hits('g5', 'fail', 'P2', 2);
    my $d = status();
    is(peer($d, 'g5', 'P2')->{state}, 'up', 'g5: P2 still in after two 500s');
    is(peer($d, 'g5', 'P2')->{health_checks}{consecutive_passive_fails}, 2,
       'g5: its passive count is 2');

    push @seen, until_hits('g5', 'fail', 'P2', 1);
    $d = status();
    my $p2 = peer($d, 'g5', 'P2');
    is($p2->{state}, 'unhealthy', 'g5: P2 out at its third 500');
    is($p2->{reason}, '3 consecutive 5xx responses', 'g5: the reason');
    is($p2->{health_checks}{consecutive_passive_fails}, 0,
       'g5: the count starts over once out');
    is($p2->{health_checks}{fails}, 0, 'g5: no check failed');
    is($d->{upstreams}{g5}{ejected}, 1, 'g5: one peer ejected');

    my %after;
    $after{ who($ng->get("/g5/fail")) }++ for 1 .. 10;
    is_deeply(\%after, { 'P1:200' => 10 },
              'g5: the next 10 requests all go to P1');

    ok($ng->wait_doc(sub {
        my $s = peer($_[0], 'g5', 'P2');
        $s && ($s->{requests} // -1) == 3
    }), 'g5: P2 was sent exactly 3 requests')
        or diag explain peer(status(), 'g5', 'P2');
    is(scalar(grep { /^P2:500$/ } @seen), 3, 'g5: three 500s from P2');

    my $log = slurp($ng->error_log);
    my @lines = $log =~ /(health: peer \Q$A2\E of upstream "g5" [^\n]*)/g;
    is(scalar @lines, 1, 'g5: logged once') or diag explain \@lines;
    like($lines[0] // '', qr/had 3 consecutive 5xx responses, out of rotation$/,
         'g5: with the reason');
}

###########################################################################
# 2. an answer that is not a 5xx resets the count: 500, 500, 200, 500, 500

{
    until_hits('reset', 'fail', 'P2', 2);
    until_hits('reset', 'ok', 'P2', 1);
    is(peer(status(), 'reset', 'P2')->{health_checks}{consecutive_passive_fails},
       0, 'reset: a 200 sets the count back to 0');
    until_hits('reset', 'fail', 'P2', 2);

    my $p2 = peer(status(), 'reset', 'P2');
    is($p2->{state}, 'up', 'reset: P2 still in after 500 500 200 500 500');
    is($p2->{health_checks}{consecutive_passive_fails}, 2,
       'reset: its count is 2');
    is($p2->{reason}, undef, 'reset: no reason while in');

    until_hits('reset', 'fail', 'P2', 1);
    is(peer(status(), 'reset', 'P2')->{state}, 'unhealthy',
       'reset: the third 500 in a row takes it out');
}

###########################################################################
# 3. a 500 given up for the next peer (proxy_next_upstream http_500)
# counts: the client only ever sees P1

{
    my %seen;
    my $n = 0;
    my $p2;
    while ($n++ < 20) {
        $seen{ who($ng->get('/next5/fail')) }++;
        $p2 = peer(status(), 'next5', 'P2');
        last if $p2->{state} eq 'unhealthy';
    }
    is($p2->{state}, 'unhealthy', 'next5: P2 out');
    is_deeply(\%seen, { 'P1:200' => $n > 20 ? 20 : $n },
              'next5: every answer from P1');
    ok($ng->wait_doc(sub {
        my $s = peer($_[0], 'next5', 'P2');
        $s && ($s->{fails} // -1) == 3
    }), 'next5: P2 failed exactly 3 attempts')
        or diag explain peer(status(), 'next5', 'P2');
}

###########################################################################
# 4. observe=timeout: three timeouts of P2 take it out; 5xx do not count
# there, and they reset the count as any answer does

{
    my @seen = until_hits('gt', 'slow', 'P2', 2);
    is(scalar(grep { $_ eq 'P2:504' } @seen), 2, 'gt: two timeouts of P2');
    is(peer(status(), 'gt', 'P2')->{health_checks}{consecutive_passive_fails},
       2, 'gt: count 2');

    until_hits('gt', 'fail', 'P2', 3);
    my $p2 = peer(status(), 'gt', 'P2');
    is($p2->{state}, 'up', 'gt: 500s do not count for observe=timeout');
    is($p2->{health_checks}{consecutive_passive_fails}, 0,
       'gt: and an answer resets the count');

    @seen = until_hits('gt', 'slow', 'P2', 3);
    is(scalar(grep { $_ eq 'P2:504' } @seen), 3, 'gt: three more');
    $p2 = peer(status(), 'gt', 'P2');
    is($p2->{state}, 'unhealthy', 'gt: out at the third timeout in a row');
    is($p2->{reason}, '3 consecutive timeouts', 'gt: the reason');

    my %after;
    $after{ who($ng->get("/gt/slow")) }++ for 1 .. 6;
    is_deeply(\%after, { 'P1:200' => 6 }, 'gt: the rest go to P1');
}

# and timeouts do not count for observe=5xx (nor do they reset it)
{
    until_hits('t5', 'fail', 'P2', 1);
    my @seen = until_hits('t5', 'slow', 'P2', 3);
    is(scalar(grep { $_ eq 'P2:504' } @seen), 3, 't5: three timeouts of P2');
    my $p2 = peer(status(), 't5', 'P2');
    is($p2->{state}, 'up', 't5: timeouts do not count for observe=5xx');
    is($p2->{health_checks}{consecutive_passive_fails}, 1,
       't5: nor reset the count');
    until_hits('t5', 'fail', 'P2', 1);
    is(peer(status(), 't5', 'P2')->{state}, 'unhealthy',
       't5: the second 500 takes it out');
}

###########################################################################
# 5. the limit: P2 and P3 both fail, max_ejected=50% of 2 lets one go;
# the other is kept in and keeps serving

{
    my %seen;
    for (1 .. 8) {
        $seen{ who($ng->get('/limit/fail')) }++;
    }
    my $d = status();
    my @p = (peer($d, 'limit', 'P2'), peer($d, 'limit', 'P3'));
    my @out = grep { $_->{state} eq 'unhealthy' && !$_->{kept_by_limit} } @p;
    my @kept = grep { $_->{kept_by_limit} } @p;
    is(scalar @out, 1, 'limit: one peer out');
    is(scalar @kept, 1, 'limit: the other kept in by max_ejected');
    is($d->{upstreams}{limit}{ejected}, 1, 'limit: ejected 1');
    is($d->{upstreams}{limit}{kept_by_limit}, 1, 'limit: kept_by_limit 1');
    is($out[0] && $out[0]{reason}, '3 consecutive 5xx responses',
       'limit: why the one is out');
    is($kept[0] && $kept[0]{reason}, '3 consecutive 5xx responses',
       'limit: why the other would be');
    like($kept[0] && $kept[0]{kept_reason}, qr/^fails real requests \(observe\), kept in rotation by max_ejected=50%/,
         'limit: the kept reason');
    is(($seen{'P2:500'} // 0) + ($seen{'P3:500'} // 0), 8,
       'limit: every request served by a peer, no fail-open needed')
        or diag explain \%seen;

    my $kept = $NAME{ $kept[0]{server} };
    my %after;
    $after{ who($ng->get('/limit/fail')) }++ for 1 .. 4;
    is_deeply(\%after, { "$kept:500" => 4 },
              'limit: the kept peer takes the traffic');

    my $log = slurp($ng->error_log);
    like($log, qr/health: peer \S+ of upstream "limit" had 3 consecutive 5xx responses but stays in rotation, kept in by max_ejected=50%: 1 of 2 peers are out already/,
         'limit: the kept peer logged');
}

###########################################################################
# 6. back in through its checks: "passes" passing checks after it left

{
    until_hits('back', 'fail', 'P2', 3);

    # it may be back by the time the status is read: the log says it all
    ok(wait_until(sub {
        slurp($ng->error_log) =~ /passed 3 checks, back in rotation/
    }, timeout => 20), 'back: P2 back in through its checks');

    my $log = slurp($ng->error_log);
    my @lines = $log =~ /(health: peer \Q$A2\E of upstream "back" [^\n]*)/g;
    is(scalar @lines, 2, 'back: two lines') or diag explain \@lines;
    like($lines[0] // '', qr/had 3 consecutive 5xx responses or timeouts, out of rotation$/,
         'back: out, the reason names both');
    like($lines[1] // '', qr/passed 3 checks, back in rotation$/,
         'back: in again as after failed checks');
    is(peer(status(), 'back', 'P2')->{state}, 'up', 'back: up');

    my @seen = until_hits('back', 'ok', 'P2', 1);
    is($seen[-1], 'P2:200', 'back: P2 serves again');
}

###########################################################################
# 7. the 5xx a peer answers while out (fail-open) do not count once it is
# back: it takes observe_fails new ones

{
    my @seen = until_hits('single', 'fail', 'P2', 5);
    is_deeply(\@seen, [('P2:500') x 5], 'single: five 500s, fail-open');

    ok(wait_until(sub {
        slurp($ng->error_log)
            =~ /peer \Q$A2\E of upstream "single" passed 10 checks, back/
    }, timeout => 20), 'single: P2 back in through its checks');

    my $p2 = peer(status(), 'single', 'P2');
    is($p2->{health_checks}{consecutive_passive_fails}, 0,
       'single: the count starts over');

    until_hits('single', 'fail', 'P2', 2);
    $p2 = peer(status(), 'single', 'P2');
    is($p2->{state}, 'up', 'single: two 500s leave it in');
    is($p2->{health_checks}{consecutive_passive_fails}, 2, 'single: count 2');

    my $log = slurp($ng->error_log);
    my @out = $log =~ /(peer \Q$A2\E of upstream "single" had [^\n]*)/g;
    is(scalar @out, 1, 'single: out once') or diag explain \@out;
}

###########################################################################
# 8. off (the default): 10 500s in a row, P2 stays in

{
    my @seen = until_hits('off', 'fail', 'P2', 10);
    is(scalar(grep { $_ eq 'P2:500' } @seen), 10, 'off: ten 500s from P2');
    my $p2 = peer(status(), 'off', 'P2');
    is($p2->{state}, 'up', 'off: P2 stays in');
    ok(!exists $p2->{health_checks}{consecutive_passive_fails},
       'off: no passive count in the status');
}

$ng->stop;

done_testing();
