#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Issue 12, point 1: shared memory that does not multiply by workers.
# 1,000 zones and 4 upstream groups of 25 peers took 76.8 MB at 2 workers
# and 2,455 MB at 64 (a full code table and a window of fine histograms per
# zone per worker).  Required: at most 64 MB at 64 workers, and going from
# 2 to 64 workers adds at most half of the 2-worker figure.  The size is
# the segment's mapping in the master, as the kernel has it; the counts at
# 64 workers stay exact.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

no warnings "portable";    # the addresses of a 64-bit map

use HealthTest qw(:all);

sub conf {
    my $ups = join "\n", map {
        my $u = $_;
        "    upstream u$u {\n"
        . join('', map { "        server 127.0.0.$u:" . (20000 + $_) . ";\n" } 1 .. 25)
        . "    }\n"
    } 1 .. 4;
    my $zones = join "\n", map {
        "        location = /z$_ { health_zone z$_; return 200; }"
    } 1 .. 1000;
    return <<"EOF2";
$ups
    server {
        listen 127.0.0.1:%%PORT%%;
$zones
        location /u1 { proxy_pass http://u1; }
        location /u2 { proxy_pass http://u2; }
        location /u3 { proxy_pass http://u3; }
        location /u4 { proxy_pass http://u4; }
        location = /health { health_zone off; health_status; }
    }
EOF2
}

# the module's segment: the largest shared mapping of the master
sub segment_mb {
    my ($ng) = @_;
    my $maps = slurp('/proc/' . $ng->master_pid . '/maps') // '';
    my $max = 0;
    for (split /\n/, $maps) {
        my ($lo, $hi, $perm, $what) = /^(\w+)-(\w+) (\S+) \S+ \S+ \S+\s*(.*)$/
            or next;
        next unless $perm =~ /s/ && $what =~ m{^/dev/zero|^/SYSV|zero \(deleted\)};
        my $mb = (hex($hi) - hex($lo)) / 1048576;
        $max = $mb if $mb > $max;
    }
    return $max;
}

my %mb;
for my $w (2, 64) {
    my $ng = HealthTest::Nginx->new(workers => $w, conf => conf());
    $ng->start;
    $mb{$w} = segment_mb($ng);
    ok($mb{$w} > 0, sprintf('%d workers: the segment is %.1f MB', $w, $mb{$w}));

    if ($w == 2) {
        $ng->stop;
        next;
    }

    cmp_ok($mb{64}, '<=', 64, 'at most 64 MB at 64 workers');
    cmp_ok($mb{64} - $mb{2}, '<=', $mb{2} / 2,
           sprintf('from 2 to 64 workers adds %.1f MB, at most half of %.1f MB',
                   $mb{64} - $mb{2}, $mb{2}));

    # exact at 64 workers; the old layout could stall them for minutes
    my $end = time + 120;
    for my $z (1 .. 1000) {
        last if time > $end;
        $ng->get("/z$z");
    }
    my $doc = $ng->wait_doc(sub {
        my $sum = 0;
        $sum += $_->{requests} for values %{ $_[0]{zones} };
        $sum == 1000;
    });
    my @bad = grep { ($doc->{zones}{"z$_"}{requests} // -1) != 1 } 1 .. 1000;
    is(scalar @bad, 0, '64 workers: each of the 1,000 zones counted 1 request');
    $ng->stop;
}

done_testing;
