#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The disk check judges each file system holding the data directory,
# pg_wal and the tablespaces, with the figures df gives for the same path.
# A 16 MB tmpfs tablespace is filled with dd past 80% (degraded, naming the
# tablespace) and past 90% (unhealthy), then emptied (healthy); a
# tablespace whose directory is gone is unknown with the reason while the
# others are still judged.  Needs root for mount (skipped otherwise).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# size, used, avail, use% as df -B1 prints them for the file system of path
sub df {
    my ($path) = @_;
    my ($rc, $out) = run_cmd('df', '-B1', '--output=size,used,avail,pcent',
                             $path);
    die "df $path: $out" if $rc;
    my @l = split /\n/, $out;
    my @f = split ' ', $l[-1];
    $f[3] =~ s/%$//;
    return { size => $f[0], used => $f[1], avail => $f[2], pct => $f[3] };
}

sub fs_of {
    my ($disk, $kind, $name) = @_;
    for my $fs (@{ $disk->{file_systems} }) {
        for my $loc (@{ $fs->{locations} }) {
            return $fs if $loc->{kind} eq $kind
                && (!defined $name || ($loc->{name} // '') eq $name);
        }
    }
    return undef;
}

my ($mnt, $mounted);
END { system('umount', $mnt) if $mounted; }

my $pg = pg_with_extension();
my $data = $pg->{data};

# the data directory and pg_wal share one file system here
my $r = report($pg);
my $d = $r->{checks}{disk};
is($d->{file_systems_count}, 1, 'one file system: data directory and pg_wal');
is($d->{locations_count}, 2, 'two locations');
my $fs = $d->{file_systems}[0];
is_deeply([map { $_->{kind} } @{ $fs->{locations} }],
          ['data_directory', 'pg_wal'], 'both named on it');
is($fs->{locations}[0]{path}, $data, 'a superuser sees the path');
my $df = df($data);
is($fs->{size_bytes}, $df->{size}, 'size_bytes is df\'s size');
# a shared disk: others write while we look, so used and avail may move a bit
cmp_ok(abs($fs->{used_bytes} - $df->{used}), '<', $df->{size} / 100,
       'used_bytes is df\'s used');
cmp_ok(abs($fs->{avail_bytes} - $df->{avail}), '<', $df->{size} / 100,
       'avail_bytes is df\'s avail');
cmp_ok(abs($fs->{used_pct} - $df->{pct}), '<=', 1, 'used_pct is df\'s use%');
is_deeply([$d->{warning}, $d->{critical}, $d->{unit}], [80, 90, '%'],
          'warning 80%, critical 90%');
is($d->{value}, $fs->{used_pct}, 'value: the fullest file system\'s use%');

# thresholds that do not fit together: unknown, the settings named
$d = report($pg, set => { 'pg_health.disk_warning' => 95,
                          'pg_health.disk_critical' => 90 })->{checks}{disk};
is($d->{status}, 'unknown', 'disk: warning above critical is unknown');
is($d->{reason}, 'pg_health.disk_warning and pg_health.disk_critical do not '
                 . 'fit together: warning 95 is above critical 90', 'and why');
# the data directory's file system is shared: other writers move its use%
# between two reports, by a point at most in a test's time
cmp_ok(abs($d->{value} - $fs->{used_pct}), '<=', 1, 'the figures still shown');

# a role with only EXECUTE sees no paths (data_directory is not its to read)
$pg->psql('CREATE ROLE plain LOGIN; '
          . 'GRANT EXECUTE ON FUNCTION health_report() TO plain');
my $rp = psql_json($pg, 'SELECT health_report()', user => 'plain');
ok(!exists $rp->{checks}{disk}{file_systems}[0]{locations}[0]{path},
   'no path for a role that may not read data_directory');
cmp_ok(abs($rp->{checks}{disk}{value} - $d->{value}), '<=', 1,
       'but the same figures');
is($rp->{checks}{disk}{file_systems_count}, $d->{file_systems_count},
   'and the same file systems');

SKIP: {
    skip 'mount needs root', 1 unless HealthTest::is_root();

    $mnt = HealthTest::tmp_dir('tmpfs');
    my ($rc, $out) = run_cmd('mount', '-t', 'tmpfs', '-o', 'size=16m',
                             'tmpfs', $mnt);
    skip "cannot mount a tmpfs: $out", 1 if $rc;
    $mounted = 1;

    system('mkdir', "$mnt/ts") == 0 or die;
    system('chown', 'postgres:postgres', "$mnt/ts") == 0 or die;
    $pg->psql("CREATE TABLESPACE small LOCATION '$mnt/ts'");

    $r = report($pg);
    $d = $r->{checks}{disk};
    is($d->{file_systems_count}, 2, 'the tablespace\'s file system too');
    is($d->{locations_count}, 3, 'three locations');
    my $t = fs_of($d, 'tablespace', 'small');
    ok($t, 'the tablespace is named') or diag(explain($d));
    is($t->{locations}[0]{path}, "$mnt/ts", 'with the path its link points to');
    $df = df("$mnt/ts");
    is_deeply([@$t{qw(size_bytes used_bytes avail_bytes used_pct)}],
              [@$df{qw(size used avail pct)}],
              'size, used, avail and use% are df\'s, exactly');
    is($t->{size_bytes}, 16 * 1024 * 1024, '16 MB');
    is($d->{status}, 'healthy', 'nearly empty: healthy');

    # 82% of 4096 pages, then 92%
    my $page = 4096;
    for my $case ([3360, 'degraded', 82], [3770, 'unhealthy', 93]) {
        my ($pages, $want, $pct) = @$case;
        unlink "$mnt/fill";
        ($rc, $out) = run_cmd('dd', 'if=/dev/zero', "of=$mnt/fill",
                              "bs=$page", "count=$pages");
        is($rc, 0, "dd $pages pages") or diag($out);
        $r = report($pg);
        $d = $r->{checks}{disk};
        $df = df("$mnt/ts");
        $t = fs_of($d, 'tablespace', 'small');
        is($t->{used_pct}, $df->{pct}, "use% $df->{pct} is df's");
        cmp_ok($df->{pct}, '>=', $pct - 1, "past ${pct}% by df");
        is($d->{status}, $want, "$df->{pct}% full: $want");
        is($t->{status}, $want, 'the tablespace\'s file system says so');
        is($d->{file_systems}[0]{locations}[0]{name}, 'small',
           'listed first: worst first');
        is($d->{fullest}, 'tablespace small', 'the fullest is named');
        is($d->{value}, $df->{pct}, 'value: its use%');
        like($d->{reason}, qr/^file system of tablespace small is \Q$df->{pct}\E% full$/,
             'the reason names it');
        is($r->{status}, $want, 'and the report');
    }

    # thresholds are settings: relaxed, 93% is healthy; crossed, unknown
    $r = report($pg, set => {'pg_health.disk_warning' => '95',
                             'pg_health.disk_critical' => '99'});
    is($r->{checks}{disk}{status}, 'healthy', 'warning 95: healthy');
    is_deeply([$r->{checks}{disk}{warning}, $r->{checks}{disk}{critical}],
              [95, 99], 'judged against the settings');
    $r = report($pg, set => {'pg_health.disk_warning' => '95',
                             'pg_health.disk_critical' => '90'});
    is($r->{checks}{disk}{status}, 'unknown', 'warning above critical: unknown');
    like($r->{checks}{disk}{reason}, qr/disk_warning and pg_health\.disk_critical/,
         'and why');

    # a tablespace whose directory has gone: unknown, the others judged
    my $gone = HealthTest::tmp_dir('gone');
    system('chown', 'postgres:postgres', $gone) == 0 or die;
    $pg->psql("CREATE TABLESPACE lost LOCATION '$gone'");
    system('rm', '-rf', $gone) == 0 or die;

    $r = report($pg);
    $d = $r->{checks}{disk};
    my $l = fs_of($d, 'tablespace', 'lost');
    is($l->{status}, 'unknown', 'the lost tablespace is unknown');
    is($l->{reason}, 'No such file or directory', 'with strerror');
    is($l->{used_pct}, undef, 'and no figures');
    is($d->{status}, 'unhealthy', 'the full tablespace still makes it unhealthy');
    is($d->{file_systems_count}, 3, 'three file systems');

    unlink "$mnt/fill";
    $r = report($pg);
    $d = $r->{checks}{disk};
    is($d->{status}, 'unknown', 'emptied, but one location unreadable: unknown, not healthy');
    like($d->{reason}, qr/^could not read the file system of tablespace lost: No such file or directory$/,
         'the reason names it');
    is(fs_of($d, 'tablespace', 'small')->{status}, 'healthy', 'the emptied one is healthy');
    is($r->{status}, 'degraded', 'unknown counts as degraded in the report');

    $pg->psql('DROP TABLESPACE lost');
    $r = report($pg);
    is($r->{checks}{disk}{status}, 'healthy', 'lost dropped: healthy');
    is($r->{checks}{disk}{file_systems_count}, 2, 'two file systems again');

    # a link to a path that is not UTF-8: the report still parses
    my $odd = HealthTest::tmp_dir('odd');
    mkdir "$odd/a" or die;
    mkdir "$odd/caf\xe9" or die;
    system('chown', '-R', 'postgres:postgres', $odd) == 0 or die;
    $pg->psql("CREATE TABLESPACE odd LOCATION '$odd/a'");
    my $oid = $pg->psql("SELECT oid FROM pg_tablespace WHERE spcname = 'odd'");
    unlink "$data/pg_tblspc/$oid" or die;
    symlink("$odd/caf\xe9", "$data/pg_tblspc/$oid") or die;
    $r = report($pg);
    my ($loc) = grep { ($_->{name} // '') eq 'odd' }
        map { @{ $_->{locations} } } @{ $r->{checks}{disk}{file_systems} };
    is($loc->{path}, "$odd/caf?", 'a byte that is not UTF-8 becomes ?');
    is($r->{checks}{disk}{status}, 'healthy', 'and is judged');
    unlink "$data/pg_tblspc/$oid";
    symlink("$odd/a", "$data/pg_tblspc/$oid") or die;
    $pg->psql('DROP TABLESPACE odd');

    # pg_tblspc cannot be listed: unknown, not healthy
    chmod 0, "$data/pg_tblspc" or die;
    $r = report($pg);
    $d = $r->{checks}{disk};
    chmod 0700, "$data/pg_tblspc";
    is($d->{status}, 'unknown', 'pg_tblspc unreadable: unknown');
    like($d->{reason}, qr/^could not read the file system of pg_tblspc: Permission denied$/,
         'with the reason');
    is(fs_of($d, 'data_directory')->{status}, 'healthy', 'the data directory still judged');

    $pg->psql('DROP TABLESPACE small');
    $pg->stop;
    ($rc, $out) = run_cmd('umount', $mnt);
    is($rc, 0, 'umount') or diag($out);
    $mounted = 0 unless $rc;
}

$pg->stop;
done_testing;
