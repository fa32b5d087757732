#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_check slow_start=TIME: a peer that comes back into rotation from
# out of it takes, each time its balancer chooses it, the request for the
# share elapsed/slow_start of those times (a linear ramp from 0 to 1), and
# gives the others back to the balancer like a peer out of rotation; so
# round-robin (with weights), least_conn and hash all ramp.  The wrapper
# decides by deterministic error diffusion per worker: over a batch in
# which the balancer chose the peer c times, it took it within 1 per
# worker of the sum of the ratios at those choices, which lies between c
# times the ratio the status showed before the batch and c times the one
# it showed after.  A request with no other peer left (or only backups)
# takes the ramping one.  A peer never out does not ramp: not at startup,
# not at a reload; a reload during a ramp keeps it going.
#
# Two real nginx backends, /hc toggled by a file; the groups have a zone
# and nginx two workers, which share the balancers' state: with two peers
# a peer given back leaves the round-robin state as it was, so the
# balancer's choices of B2 are exact (half, 3 of 4 for weight 3 to 1, the
# keys hashed to it); the counts are the backends' own answers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);

use HealthTest qw(:all);

###########################################################################
# nginx -t

for my $bad ('abc', '-1s', '2d', '', '10x') {
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check slow_start=$bad;
    }
EOF
    isnt($rc, 0, "slow_start=$bad is refused");
    like($out, qr/\[emerg\].*invalid value "slow_start=\Q$bad\E" in "health_check" directive, it must be a time from 0 \(off\) to 1d/,
         "slow_start=$bad: the message states the range");
}

{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check slow_start=10s slow_start=20s;
    }
EOF
    isnt($rc, 0, 'slow_start twice is refused');
    like($out, qr/duplicate parameter "slow_start=20s"/, 'said as such');
}

for my $good ('0', '30s', '1m', '1d', '500ms') {
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check slow_start=$good;
    }
EOF
    is($rc, 0, "slow_start=$good is accepted") or diag $out;
}

###########################################################################
# the groups

sub backend { HealthTest::Nginx->toggled_backend(@_) }

my @B = map { backend("B$_") } 1 .. 2;
my ($A1, $A2) = map { '127.0.0.1:' . $_->port } @B;
my $closed = '127.0.0.1:' . free_port();

my $SLOW = 20;
my $check = "health_check uri=/hc interval=100ms timeout=5s fails=1 "
            . "passes=1 slow_start=${SLOW}s";

# the groups, what a batch sends to each and the balancer's choices of B2
# in a batch (c): exact for two peers (the hash's from its keys, below)
my @G = qw(rr w lc hs);
my %N = (rr => 40, w => 40, lc => 40, hs => 40);
my %C = (rr => 20, w => 30, lc => 20);

my $conf = <<"EOF";
    upstream rr {
        zone rr 64k;
        server $A1;
        server $A2;
        $check;
    }

    upstream w {
        zone w 64k;
        server $A1 weight=1;
        server $A2 weight=3;
        $check;
    }

    upstream lc {
        zone lc 64k;
        least_conn;
        server $A1;
        server $A2;
        $check;
    }

    upstream hs {
        zone hs 64k;
        hash \$arg_k;
        server $A1;
        server $A2;
        $check;
    }

    # no other peer in rotation: the ramping one takes every request
    upstream solo {
        zone solo 64k;
        server $A2;
        server $closed down;
        $check;
    }

    # nor a backup while the ramping primary is there
    upstream bk {
        zone bk 64k;
        server $A2;
        server $closed down;
        server $A1 backup;
        $check;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location / { proxy_pass http://\$arg_g; }
    }
EOF

my $ng = HealthTest::Nginx->new(workers => 2, conf => $conf)->start;

sub status { scalar $ng->get_json('/health') }

sub b2 {
    my ($d, $g) = @_;
    for my $p (@{ $d->{upstreams}{$g}{peers} // [] }) {
        return $p if $p->{server} eq $A2;
    }
    return undef;
}

# B2's slow_start_ratio in each group, from Prometheus
sub ratios {
    my $prom = $ng->get('/health?format=prometheus')->{content} // '';
    my %r;
    while ($prom =~ /^nginx_health_upstream_peer_slow_start_ratio\{upstream="(\w+)",peer="\Q$A2\E"\} ([0-9.]+)$/mg) {
        $r{$1} = $2;
    }
    return \%r;
}

# a batch to group g: {B1 => n, B2 => n}
sub batch {
    my ($g, $n) = @_;
    my %seen = (B1 => 0, B2 => 0);
    for my $k (1 .. $n) {
        my $r = $ng->get("/x?g=$g&k=$k");
        $seen{ $r->{status} == 200 ? $r->{content} : "status $r->{status}" }++;
    }
    return \%seen;
}

sub wait_b2 {
    my ($what, $test) = @_;
    my $doc;
    my $ok = wait_until(sub {
        $doc = status() or return;
        for my $g (@G, 'solo', 'bk') {
            my $p = b2($doc, $g) or return;
            return unless $test->($p);
        }
        return 1;
    }, timeout => 20, step => 0.05);
    ok($ok, $what) or diag explain $doc;
    return $doc;
}

###########################################################################
# 1. at startup no peer ramps: full shares, ratio 1

my $doc = wait_b2('every peer up at first', sub { $_[0]{state} eq 'up' });
ok(!grep({ exists b2($doc, $_)->{slow_start} } @G),
   'no slow_start object at startup');
is_deeply(ratios(), { map { ($_ => 1) } @G, 'solo', 'bk' },
          'Prometheus: slow_start_ratio 1 for every group');

is_deeply(batch('rr', 40), { B1 => 20, B2 => 20 }, 'rr: 20 and 20 of 40');
is_deeply(batch('w', 40), { B1 => 10, B2 => 30 }, 'w: 10 and 30 of 40');
is_deeply(batch('lc', 40), { B1 => 20, B2 => 20 }, 'lc: 20 and 20 of 40');
my $hs = batch('hs', $N{hs});
$C{hs} = $hs->{B2};
cmp_ok($C{hs}, '>=', 10, "hs: $C{hs} of the $N{hs} keys hash to B2");
is($hs->{B1} + $hs->{B2}, $N{hs}, 'hs: every key answered');
is_deeply(batch('bk', 10), { B1 => 0, B2 => 10 }, 'bk: the primary serves');

###########################################################################
# 2. B2 fails its checks and comes back: it ramps

$B[1]->hc_off;
wait_b2('B2 out of rotation in every group',
        sub { $_[0]{state} eq 'unhealthy' });
is_deeply(ratios(), { map { ($_ => 0) } @G, 'solo', 'bk' },
          'Prometheus: slow_start_ratio 0 while out of rotation');
is_deeply(batch('rr', 10), { B1 => 10, B2 => 0 }, 'rr: B1 alone');

$B[1]->hc_on;
my $back = time;
$doc = wait_b2('B2 back in every group, ramping',
               sub { $_[0]{state} eq 'up' && $_[0]{slow_start} });

my $ss = b2($doc, 'rr')->{slow_start};
like($ss->{until} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'the status: slow_start.until is an ISO time');
cmp_ok($ss->{seconds_left}, '>', 0, 'seconds_left > 0');
cmp_ok($ss->{seconds_left}, '<=', $SLOW, "seconds_left <= $SLOW");
cmp_ok($ss->{weight_pct}, '<', 100, 'weight_pct < 100');
is($ss->{weight_pct}, int($ss->{ratio} * 100 + 1e-9),
   'weight_pct is the ratio in percent');
ok(abs($ss->{seconds_left} - $SLOW * (1 - $ss->{ratio})) <= 0.002,
   'seconds_left and the ratio agree');

my $log = slurp($ng->error_log) // '';
for my $g (@G) {
    my @l = $log =~ /^.*\[notice\].*peer \Q$A2\E of upstream "$g" passed 1 checks, back in rotation, its share ramping up over slow_start=20000ms$/mg;
    is(scalar @l, 1, "$g: the return logged once, with the ramp");
}

# batches while it ramps: B2's share within 2 (two workers) of the
# balancer's choices times the ratios read before and after
my (%batches, %ramped, %bad, %seen, $reloaded);
my $r0 = ratios();
my $round = 0;

while (grep { ($r0->{$_} // 1) < 1 } @G, 'solo', 'bk') {
    last if ++$round > 500 || time - $back > 5 * $SLOW;

    # a reload in the middle of the ramp: it goes on, in the new workers
    if (!$reloaded && ($r0->{rr} // 0) > 0.3 && ($r0->{rr} // 1) < 0.7) {
        $reloaded = $r0->{rr};
        $ng->reload;
        $r0 = ratios();
        my $d = status();
        ok(($r0->{rr} // 0) >= $reloaded && $r0->{rr} < 1,
           "a reload at ratio $reloaded: the ramp goes on ($r0->{rr})");
        ok(b2($d, 'rr')->{slow_start}, 'and the status still shows it');
    }

    for my $g (@G) {
        my $f0 = $r0->{$g} // 0;
        my $got = batch($g, $N{$g});
        my $r1 = ratios();
        my $f1 = $r1->{$g} // 0;
        $r0 = $r1;

        my ($lo, $hi) = ($C{$g} * $f0 - 2, $C{$g} * ($f1 + 0.0001) + 2);
        $batches{$g}++;
        $ramped{$g}++ if $f1 < 0.9;
        $seen{$g} .= sprintf "[%.4f..%.4f] %d of c=%d; ",
                             $f0, $f1, $got->{B2}, $C{$g};

        if ($got->{B1} + $got->{B2} != $N{$g}
            || $got->{B2} < $lo || $got->{B2} > $hi)
        {
            $bad{$g} .= sprintf "[%.4f..%.4f] B2 %d not in [%.1f, %.1f] "
                                . "(B1 %d); ", $f0, $f1, $got->{B2},
                                $lo, $hi, $got->{B1};
        }
    }

    for my $g ('solo', 'bk') {
        my $got = batch($g, 4);
        $bad{$g} .= "B1 $got->{B1} B2 $got->{B2}; " if $got->{B2} != 4;
        $batches{$g}++;
    }
}

ok($reloaded, 'the reload happened during the ramp');

for my $g (@G) {
    cmp_ok($ramped{$g} // 0, '>=', 3,
           "$g: at least 3 batches while B2's ratio was under 0.9");
    note "$g: $seen{$g}" if $ENV{TEST_VERBOSE};
    ok(!$bad{$g}, "$g: in every batch ($batches{$g}) B2's share is that "
                  . "of its ratio, within 2")
        or diag "$bad{$g}\nall: $seen{$g}";
}

for my $g ('solo', 'bk') {
    ok(!$bad{$g}, "$g: the ramping B2 served every request, no backup "
                  . "($batches{$g} batches)") or diag $bad{$g};
}

###########################################################################
# 3. the ramp is over: full shares again, exact

is_deeply(ratios(), { map { ($_ => 1) } @G, 'solo', 'bk' },
          'Prometheus: slow_start_ratio 1 after the ramp');
$doc = status();
ok(!grep({ exists b2($doc, $_)->{slow_start} } @G),
   'no slow_start object after the ramp');

is_deeply(batch('rr', 40), { B1 => 20, B2 => 20 }, 'rr: 20 and 20 again');
is_deeply(batch('w', 40), { B1 => 10, B2 => 30 }, 'w: 10 and 30 again');
is_deeply(batch('lc', 40), { B1 => 20, B2 => 20 }, 'lc: 20 and 20 again');
is_deeply(batch('hs', $N{hs}), $hs, 'hs: every key on its peer again');

###########################################################################
# 4. a reload starts no ramp

$ng->reload;
$doc = status();
ok(!grep({ exists b2($doc, $_)->{slow_start} } @G),
   'after a reload: no slow_start object');
is_deeply(ratios(), { map { ($_ => 1) } @G, 'solo', 'bk' },
          'after a reload: slow_start_ratio 1');
is_deeply(batch('rr', 40), { B1 => 20, B2 => 20 }, 'rr: 20 and 20');
is_deeply(batch('w', 40), { B1 => 10, B2 => 30 }, 'w: 10 and 30');

$ng->stop;
$_->stop for @B;

done_testing;
