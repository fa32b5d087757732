#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Active upstream checks against fake peers that misbehave on purpose
# (issue 9 point 13): garbage instead of a status line, invalid UTF-8 in
# it, a status line of megabytes, a status line that stalls half way, a
# reset before the status line, a byte at a time, an endless body.  In
# every case the JSON status stays valid and answers by the rules, the
# worker's memory stays bounded, error.log gets no [alert] or [crit], and
# the peer's checks say why.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);
use HostileServer;

# read the request head, then answer with $answer->($sock)
sub peer {
    my ($answer) = @_;
    return HostileServer->start(sub {
        my ($s) = @_;
        while (defined(my $l = <$s>)) { last if $l =~ /^\r?\n$/ }
        $answer->($s);
    });
}

my %peer = (
    garbage  => peer(sub { print { $_[0] } "\x00\xff\xfe garbage\r\n\r\n"; sleep 1 }),
    utf8     => peer(sub {
        print { $_[0] } "HTTP/1.1 200 \xff\xfe\xc3\r\nContent-Length: 2\r\n\r\nok"; sleep 1 }),
    long     => peer(sub {
        my ($s) = @_;
        print $s 'HTTP/1.1 200 ';
        my $chunk = 'x' x 65536;
        for (1 .. 160) { print $s $chunk or return }    # 10 MB, no end of line
        sleep 1;
    }),
    stall    => peer(sub { print { $_[0] } 'HTTP/1.1 2'; sleep 3600 }),
    reset    => peer(sub { print { $_[0] } 'HTTP/1.'; HostileServer::reset_close($_[0]) }),
    slow     => peer(sub {
        for my $b (split //, "HTTP/1.1 200 OK\r\n\r\n") { print { $_[0] } $b; sleep 0.2 }
    }),
    body     => peer(sub {
        my ($s) = @_;
        print $s "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n";
        my $chunk = 'y' x 65536;
        while (1) { print $s $chunk or return }
    }),
);

my @names = sort keys %peer;
my $servers = join '', map { "        server 127.0.0.1:" . $peer{$_}->port . ";\n" } @names;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    upstream hostile {
$servers
        health_check uri=/hc interval=100ms timeout=2s fails=1 passes=1;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF
$ng->start;
my ($worker) = $ng->worker_pids;
my ($rss0) = HealthTest::proc_usage($worker);

my $watch = HostileServer::Watch->new($ng, 200, 503);
sub status { $watch->doc }

sub peer_of {
    my ($doc, $name) = @_;
    my $addr = '127.0.0.1:' . $peer{$name}->port;
    my ($p) = grep { $_->{server} eq $addr } @{ $doc->{upstreams}{hostile}{peers} || [] };
    return $p;
}

my %want = (
    garbage => [ 'unhealthy', qr/invalid status line/ ],
    utf8    => [ 'up', undef ],
    long    => [ 'unhealthy', qr/invalid status line|timed out/ ],
    stall   => [ 'unhealthy', qr/timed out/ ],
    reset   => [ 'unhealthy', qr/closed before a status line|connect failed/ ],
    slow    => [ 'unhealthy', qr/timed out/ ],
    body    => [ 'up', undef ],
);

for my $name (@names) {
    my ($state, $re) = @{ $want{$name} };
    my $p;
    my $ok = wait_until(sub {
        my $doc = status() or return 0;
        $p = peer_of($doc, $name) or return 0;
        ($p->{health_checks}{checks} // 0) >= 2 && $p->{state} eq $state
            && (!$re || ($p->{health_checks}{last_error} // '') =~ $re);
    }, timeout => 20, step => 0.05);
    diag(explain($p)) unless $ok;
    ok($ok, "$name: $state" . ($p && $p->{health_checks}{last_error}
                               ? " ($p->{health_checks}{last_error})" : ''));
}

# a few more rounds of the streaming peers
my $n0 = $peer{body}->connections + $peer{long}->connections;
ok(wait_until(sub { status(); $peer{body}->connections + $peer{long}->connections >= $n0 + 6 },
              timeout => 60, step => 0.2),
   'more rounds of the streaming peers');
$watch->finish($worker, $rss0);

$ng->stop;
$_->stop for values %peer;

done_testing;
