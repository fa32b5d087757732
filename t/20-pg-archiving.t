#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The archiver check against pg_stat_archiver and pg_wal/archive_status on
# a real cluster with archive_mode = on:
#   - archiving not configured (archive_command ''): segments wait as
#     .ready files; their count and the oldest one's wait are judged;
#   - archive_command 'false': failing, unhealthy, naming the segment
#     pg_stat_archiver names;
#   - archive_command 'cp': healthy, nothing waiting, the last archived
#     segment is the view's;
# and archive_mode = off is healthy with archive_mode "off".

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(conf => "archive_mode = on\narchive_command = ''");
my $status = "$pg->{data}/pg_wal/archive_status";

sub ready_files {
    opendir(my $dh, $status) or die "$status: $!";
    my @r = sort grep { /\.ready$/ } readdir $dh;
    closedir $dh;
    s/\.ready$// for @r;
    return @r;
}

sub archiver {
    my (%o) = @_;
    return report($pg, %o)->{checks}{archiver};
}

sub view {
    my ($col) = @_;
    return $pg->psql("SELECT $col FROM pg_stat_archiver");
}

# a segment completed: something written, then the switch
sub switch_wal {
    $pg->psql('CREATE TABLE IF NOT EXISTS w (i int); INSERT INTO w VALUES (1)');
    return $pg->psql('SELECT pg_walfile_name(pg_switch_wal())');
}

my $a = archiver();
is($a->{status}, 'healthy', 'nothing completed yet: healthy');
is($a->{archive_mode}, 'on', 'archive_mode on');
ok($a->{active}, 'archiving is active on a primary');
is($a->{ready}, 0, 'nothing waits');
is_deeply([$a->{warning}, $a->{critical}, $a->{unit}], [600, 1800, 's'],
          'the oldest waiting segment: warning 10min, critical 30min');
is_deeply([$a->{ready_warning}, $a->{ready_critical}], [10, 15],
          'check_postgres archive_ready: 10 and 15');

# archiving not configured: the segment waits
my $seg1 = switch_wal();
ok(wait_until(sub { ready_files() == 1 }), 'one .ready file');
is_deeply([ready_files()], [$seg1], 'for the switched segment');

my %loose = ('pg_health.archive_ready_warning' => '100',
             'pg_health.archive_ready_critical' => '200');
$a = archiver(set => {%loose, 'pg_health.archive_age_warning' => '1s',
                      'pg_health.archive_age_critical' => '1h'});
is($a->{ready}, 1, 'ready: 1, as in archive_status');
is($a->{oldest_ready_wal}, $seg1, 'the oldest waiting segment is named');
ok(!$a->{failing}, 'nothing failed');
is($a->{failed_count}, 0, 'failed_count 0');

# its wait passes 1s
ok(wait_until(sub {
        archiver(set => {%loose, 'pg_health.archive_age_warning' => '1s',
                         'pg_health.archive_age_critical' => '1h'})
            ->{status} eq 'degraded'
    }, timeout => 30), 'waiting longer than archive_age_warning: degraded');
$a = archiver(set => {%loose, 'pg_health.archive_age_warning' => '1s',
                      'pg_health.archive_age_critical' => '1h'});
cmp_ok($a->{value}, '>=', 1, "value: waited $a->{value} s");
like($a->{reason}, qr/^WAL file \Q$seg1\E has waited \d+ s to be archived$/,
     'the reason names it');
is(archiver()->{status}, 'healthy', 'under the default 10min: healthy');

# the count of .ready files against its thresholds
my %count = ('pg_health.archive_ready_warning' => '1',
             'pg_health.archive_ready_critical' => '2');
is(archiver(set => \%count)->{status}, 'degraded', '1 waiting, warning 1: degraded');
my $seg2 = switch_wal();
ok(wait_until(sub { ready_files() == 2 }), 'two .ready files');
$a = archiver(set => \%count);
is($a->{ready}, 2, 'ready: 2, as in archive_status');
is($a->{oldest_ready_wal}, $seg1, 'the oldest is still the first');
is($a->{status}, 'unhealthy', '2 waiting, critical 2: unhealthy');
is($a->{reason}, '2 WAL files wait to be archived', 'the reason counts them');

# archive_command fails
$pg->psql("ALTER SYSTEM SET archive_command = 'false'");
$pg->psql('SELECT pg_reload_conf()');
ok(wait_until(sub { archiver()->{failing} }, timeout => 30),
   'archive_command false: failing');
$a = archiver();
is($a->{status}, 'unhealthy', 'failing: unhealthy');
is($a->{last_failed_wal}, view('last_failed_wal'),
   'last_failed_wal is pg_stat_archiver\'s');
is($a->{last_failed_wal}, $seg1, 'the oldest segment, the one retried');
like($a->{reason},
     qr/^archiving failed for WAL file \Q$seg1\E at \d{4}-\d\d-\d\dT[\d:.]+Z and has not succeeded since$/,
     'the reason names the segment and the time');
cmp_ok($a->{failed_count}, '>=', 1, 'failed_count counts the attempts');
is($a->{last_archived_wal}, undef, 'nothing archived yet');
is($a->{ready}, scalar(ready_files()), 'ready: as many as archive_status holds');

# a working archive_command
my $arch = HealthTest::tmp_dir('archive');
system('chown', 'postgres:postgres', $arch) if HealthTest::is_root();
$pg->psql("ALTER SYSTEM SET archive_command = 'cp %p $arch/%f'");
$pg->psql('SELECT pg_reload_conf()');
ok(wait_until(sub { !archiver()->{failing} && ready_files() == 0 },
              timeout => 30), 'cp: archived');
$a = archiver();
is($a->{status}, 'healthy', 'healthy');
is($a->{ready}, 0, 'nothing waits');
is($a->{oldest_ready_wal}, undef, 'no oldest');
is($a->{value}, 0, 'value 0');
is($a->{last_archived_wal}, view('last_archived_wal'),
   'last_archived_wal is pg_stat_archiver\'s');
is($a->{last_archived_wal}, $seg2, 'the second segment');
is($a->{archived_count}, view('archived_count'), 'archived_count is the view\'s');
is($a->{archived_count}, 2, 'two segments');
ok(-f "$arch/$seg1" && -f "$arch/$seg2", 'both are in the archive');
is($a->{failed_count}, view('failed_count'), 'failed_count is the view\'s');
cmp_ok($a->{last_archived_age_s}, '>=', 0, 'last_archived_age_s');

# thresholds that do not fit together: unknown, the settings named
for my $t (['archive_age', 600, 60], ['archive_ready', 20, 15]) {
    my ($name, $w, $c) = @$t;
    my $a = archiver(set => { "pg_health.${name}_warning" => $w,
                              "pg_health.${name}_critical" => $c });
    is($a->{status}, 'unknown', "$name: warning above critical is unknown");
    is($a->{reason}, "pg_health.${name}_warning and pg_health.${name}_critical"
                     . " do not fit together: warning $w is above critical $c",
       "$name: and why");
}

# archive_mode off
my $off = pg_with_extension();
$a = report($off)->{checks}{archiver};
is($a->{status}, 'healthy', 'archive_mode off: healthy');
is($a->{archive_mode}, 'off', 'archive_mode "off"');
ok(!$a->{active}, 'not active');
is($a->{reason}, 'archive_mode is off', 'and said');
$off->stop;

$pg->stop;
done_testing;
