#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Skipping a peer that failed its checks never turns a request stock nginx
# would serve into an error, and leaves nginx's own accounting alone:
#
# - fail-open per request: peer A fails its checks but serves, peer B
#   passes them but resets every request; with max_fails=1 each request
#   ends on A, as it would without health_check;
# - a skip spends none of proxy_next_upstream_tries;
# - a skip does not reset the passive fails of the skipped peer.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);

use HealthTest qw(:all);

# a real nginx as backend: /hc answers 200 while hc.txt exists (503
# otherwise), / answers NAME, /bad and, with reset => 1, every path close
# the connection without an answer (444)
sub backend {
    my ($name, %o) = @_;
    my $root = $o{reset} ? 'return 444;' : "return 200 \"$name\";";
    my $be = HealthTest::Nginx->new(conf => <<"EOF2");
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { $root }
        location /bad { return 444; }
        location = /hc {
            root %%DIR%%/html;
            try_files /hc.txt =503;
        }
    }
EOF2
    spew($be->dir . '/html/hc.txt', "ok\n") if $o{hc};
    return $be->start;
}

sub hc_on { spew($_[0]->dir . '/html/hc.txt', "ok\n") }
sub hc_off { unlink $_[0]->dir . '/html/hc.txt' }

my $A = backend('A');                        # fails its checks, serves
my $B = backend('B', hc => 1, reset => 1);   # passes, resets every request
my $C = backend('C', hc => 1);               # passes, serves
my $D = backend('D', hc => 1);               # checks toggled by the test
my $E = backend('E', hc => 1);               # passes, serves
my ($a, $b, $c, $d, $e) = map { '127.0.0.1:' . $_->port } $A, $B, $C, $D, $E;

my $check = 'health_check uri=/hc interval=100ms timeout=5s fails=1 passes=1;';

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF2");
    upstream issue {
        server $a max_fails=1;
        server $b max_fails=1;
        $check
    }

    # the same below keepalive, and with a hash balancer
    upstream issue_ka {
        server $a max_fails=1;
        server $b max_fails=1;
        keepalive 4;
        $check
    }

    upstream issue_hash {
        hash \$request_uri;
        server $a max_fails=1;
        server $b max_fails=1;
        $check
    }

    # a hash balancer below keepalive (nginx 1.29+ has it on by default)
    upstream issue_hash_ka {
        hash \$request_uri;
        server $a max_fails=1;
        server $b max_fails=1;
        keepalive 4;
        $check
    }

    upstream tries {
        server $a max_fails=0;
        server $b max_fails=0;
        server $c max_fails=0;
        $check
    }

    upstream passive {
        server $d max_fails=2 fail_timeout=6s;
        server $e max_fails=0;
        $check
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /issue/ { proxy_pass http://issue/; }
        location /issue_hash/ { proxy_pass http://issue_hash/; }
        location /issue_hash_ka/ {
            proxy_pass http://issue_hash_ka/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /issue_ka/ {
            proxy_pass http://issue_ka/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /tries/ {
            proxy_pass http://tries/;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
        }

        location /passive/ { proxy_pass http://passive/; }

        location = /health { health_status; }
    }
EOF2
$ng->start;

sub peers {
    my ($up) = @_;
    return $ng->get_json('/health')->{upstreams}{$up}{peers};
}

ok(wait_until(sub {
    my ($p, $q) = (peers('issue'), peers('passive'));
    !grep({ peers($_)->[0]{state} ne 'unhealthy' } qw(issue_ka issue_hash issue_hash_ka))
        && $p->[0]{state} eq 'unhealthy' && $p->[1]{health_checks}{last_passed}
        && $q->[0]{health_checks}{last_passed}
        && $q->[1]{health_checks}{last_passed}
}, timeout => 10), 'A failed its checks, B, D and E passed theirs');

# point 3: the peers left (B) are exhausted for the request: A serves it
my %seen;
for (1 .. 6) {
    my $r = $ng->get("/issue/r$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 A' => 6 },
          '6 of 6 requests served by A (fail-open per request), as without '
          . 'health_check');
for my $g (qw(issue_ka issue_hash issue_hash_ka)) {
    %seen = ();
    for (1 .. 6) {
        my $r = $ng->get("/$g/r$_");
        $seen{"$r->{status} $r->{content}"}++;
    }
    is_deeply(\%seen, { '200 A' => 6 }, "$g: 6 of 6 requests served by A");
}
like(slurp($ng->error_log) // '', qr/\[error\].*upstream "issue".*fail-open/,
     'the per-request fail-open is logged at error');

# point 4: a skip is no try: A skipped, B reset, C serves within 2 tries
%seen = ();
for (1 .. 12) {
    my $r = $ng->get("/tries/t$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 C' => 12 },
          'proxy_next_upstream_tries 2: skipping A spends no try');
my $t = peers('tries');
is($t->[0]{requests}, 0, 'A got no request of its group');

# point 4: a skip keeps the passive fails of the peer.  D fails once
# (max_fails=2), then fails its checks and is skipped after its
# fail_timeout; back in rotation, one more failure makes the two that
# max_fails allows: nginx holds it unavailable.
sub fail_d_until {
    my ($n) = @_;
    for (1 .. 10) {
        last if peers('passive')->[0]{fails} >= $n;
        $ng->get("/passive/bad$_");
    }
    return peers('passive')->[0]{fails};
}
is(fail_d_until(1), 1, 'D failed one request');
is(peers('passive')->[0]{state}, 'up', 'D still up (max_fails=2)');
hc_off($D);
ok(wait_until(sub { peers('passive')->[0]{state} eq 'unhealthy' },
              timeout => 10), 'D fails its checks');
sleep 7.2;                   # a full second past fail_timeout=6s
%seen = ();
$seen{ $ng->get("/passive/s$_")->{content} }++ for 1 .. 4;
is_deeply(\%seen, { E => 4 }, 'D skipped, E serves');
hc_on($D);
ok(wait_until(sub { peers('passive')->[0]{state} eq 'up' }, timeout => 10),
   'D back in rotation');
is(fail_d_until(2), 2, 'D failed a second request');
is(peers('passive')->[0]{state}, 'unavailable',
   'two fails: nginx holds D unavailable (the skips reset nothing)');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
