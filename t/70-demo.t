#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# make demo: the stack starts, the JSON URL it prints shows zones,
# upstreams, the database and the cache, and demo-stop leaves no process
# behind.  The demo runs in a directory and on ports of its own.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;

use HealthTest qw(:all);

my $root = repo_root();
my $dir = tmp_dir('demo');
my %env = (
    DEMO_RUN        => "$dir/run",
    DEMO_PG_PORT    => free_port(),
    DEMO_REDIS_PORT => free_port(),
    DEMO_HTTP_PORT  => free_port(),
    DEMO_APP_PORT   => free_port(),
    DEMO_APP2_PORT  => free_port(),
);

sub demo {
    my ($what) = @_;
    local %ENV = (%ENV, %env);
    return run_cmd("$root/scripts/demo.sh", $what);
}

# The demo's processes: those whose environment has its DEMO_RUN (the load
# loop, curl, Redis) or whose command line names its directories (the
# nginx master, the postmaster: both overwrite their environment with their
# process titles), and all their descendants (nginx workers, backends).
sub demo_processes {
    my $run = $env{DEMO_RUN};
    my @paths = ($run);
    my $pg = readlink("$run/pg");
    push @paths, $pg if $pg;
    my (%ppid, %mine);
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $st = slurp($stat) // next;
        my ($pid, $ppid) = $st =~ /^(\d+) \(.*\) \S (\d+)/s or next;
        next if $pid == $$;
        $ppid{$pid} = $ppid;
        my $environ = slurp("/proc/$pid/environ") // '';
        my $cmdline = slurp("/proc/$pid/cmdline") // '';
        $mine{$pid} = 1
            if index($environ, "DEMO_RUN=$run\0") >= 0
            || grep { index($cmdline, $_) >= 0 } @paths;
    }
    my $grew = 1;
    while ($grew) {
        $grew = 0;
        for my $pid (keys %ppid) {
            next if $mine{$pid} || !$mine{ $ppid{$pid} };
            $mine{$pid} = $grew = 1;
        }
    }
    my @pids = sort { $a <=> $b } keys %mine;
    return wantarray ? @pids : scalar @pids;
}

my ($rc, $out) = demo('start');
END { local $?; demo('stop') if $env{started} }
$env{started} = 1;
is($rc, 0, 'demo starts') or diag $out;

my ($url) = $out =~ m{status \(JSON\):\s+curl\s+(\S+)};
ok($url, 'demo prints the JSON URL') or diag $out;
like($out, qr{dashboard:\s+http://\S+format=html}, 'and the dashboard URL');
like($out, qr{psql\s+-h 127\.0\.0\.1 -p $env{DEMO_PG_PORT}}, 'and psql');

my $ua = HTTP::Tiny->new(timeout => 10);
my $doc;

# the probes and the load need a few seconds to have something to show
wait_until(sub {
    my $r = $ua->get($url);
    return 0 unless $r->{status} == 200 || $r->{status} == 503;
    $doc = eval { decode_json($r->{content}) } or return 0;
    my $c = $doc->{checks} || {};
    return $c->{database} && $c->{database}{status} ne 'unknown'
        && $c->{cache} && $c->{cache}{status} ne 'unknown'
        && ($doc->{zones}{api}{requests} // 0) > 5;
}, timeout => 30);

ok($doc, 'the JSON URL answers JSON') or BAIL_OUT('no status');
ok(($doc->{zones}{site}{requests} // 0) > 0, 'zone site counts the load');
ok(($doc->{zones}{api}{requests} // 0) > 0, 'zone api counts the load');
ok($doc->{checks}{database}{report}{checks}{dead_tuples},
   'the database check carries health_report()');
isnt($doc->{checks}{database}{report}{checks}{dead_tuples}{status}, 'healthy',
     'which flags the demo table full of dead tuples');
is($doc->{checks}{cache}{status}, 'healthy', 'the cache check is healthy');

my $peers = $doc->{upstreams} && $doc->{upstreams}{app}
    ? $doc->{upstreams}{app}{peers} : [];
is(scalar @$peers, 2, 'upstream app shows its two backends');
is_deeply([map { $_->{state} } @$peers], ['up', 'up'], 'both up');
is($doc->{checks}{'upstream:app'}{status}, 'healthy',
   'and the upstream check is healthy');

# the servers' own pid files name what a scan cannot see (Redis daemonizes
# and rewrites its title)
my $run = $env{DEMO_RUN};
my @pidfiles = ("$run/redis/redis.pid", "$run/nginx/nginx.pid",
                "$run/pg/data/postmaster.pid", "$run/load.pid");
my @started = map { my $p = slurp($_) // ''; $p =~ /^(\d+)/ ? $1 : () }
              @pidfiles;
is(scalar @started, 4, 'Redis, nginx, PostgreSQL and the load wrote pids');

# the same scan that must come back empty after demo-stop finds them now:
# PostgreSQL (postmaster and its children), Redis, the nginx master and
# workers, the load loop
cmp_ok(scalar(demo_processes()), '>=', 6,
       'the demo processes are found while it runs')
    or diag 'found: ', join(' ', demo_processes()), " under $env{DEMO_RUN}";

($rc, $out) = demo('stop');
is($rc, 0, 'demo stops') or diag $out;
delete $env{started};

my $alive = sub {
    my %seen;
    return grep { !$seen{$_}++ } (grep { kill 0, $_ } @started),
                                 demo_processes();
};
my @left = wait_until(sub { !$alive->() }, timeout => 15) ? () : $alive->();
is_deeply(\@left, [], 'demo-stop leaves no process behind')
    or diag map { "left: $_ " . (slurp("/proc/$_/cmdline") // '') . "\n" } @left;

for my $port (@env{qw(DEMO_PG_PORT DEMO_REDIS_PORT DEMO_HTTP_PORT)}) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 1);
    ok(!$s, "nothing listens on $port any more");
}

done_testing;
