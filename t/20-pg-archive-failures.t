#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The archiver check's failures since the last success
# (failed_since_success), which pg_stat_archiver does not keep: the
# "pg_health worker" samples the view and the report carries its last
# sample forward.  The archive_command is a script that does what a
# control file says (succeed, fail, succeed once and then fail and hold the
# next attempt until released) and logs every attempt, so the count is
# compared with the log: the failures after its last success.  The report
# is compared only when its archived_count and failed_count are the log's
# (the script logs before it returns, the server counts after), so no
# attempt is under way between the two reads.
#
# Exact where the archiver's own rhythm makes it so (pgarch.c sleeps a
# second after a failed attempt before the retry): no success in between,
# or the last failure less than a second after the last success.  With the
# worker stopped (SIGSTOP), a success followed by three failures is "at
# least 1", not exact.  A clean restart keeps the count (the sample is
# saved at the postmaster's exit); a reset of the statistics and a crash
# make it a least.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use POSIX qw(strftime);

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $ctl = HealthTest::tmp_dir('archctl');
my $log = "$ctl/attempts";
spew("$ctl/mode", "ok\n");
spew($log, '');
spew("$ctl/archive.sh", <<"SH");
#!/bin/sh
# \$1: %f.  Waits while $ctl/hold exists, then does what mode says.
while [ -e '$ctl/hold' ]; do sleep 0.05; done
mode=\$(cat '$ctl/mode')
case "\$mode" in
ok|okonce)
    echo "ok \$1" >> '$log'
    if [ "\$mode" = okonce ]; then
        echo failhold > '$ctl/mode.tmp' && mv '$ctl/mode.tmp' '$ctl/mode'
    fi
    exit 0 ;;
failhold)
    echo "fail \$1" >> '$log'
    touch '$ctl/hold'
    exit 1 ;;
*)
    echo "fail \$1" >> '$log'
    exit 1 ;;
esac
SH
chmod 0755, "$ctl/archive.sh";
chmod 0666, $log;
chmod 0777, $ctl;
system('chown', '-R', 'postgres:postgres', $ctl) if HealthTest::is_root();

sub set_mode {
    spew("$ctl/mode.tmp", "$_[0]\n");
    rename("$ctl/mode.tmp", "$ctl/mode") or die "rename: $!";
}

sub release { unlink "$ctl/hold" }

my $pg = pg_with_extension(conf => "shared_preload_libraries = 'pg_health'\n"
                           . "pg_health.database_sizes_interval = 0\n"
                           . "autovacuum = off\n"
                           . "archive_mode = on\n"
                           . "archive_command = '$ctl/archive.sh %f'\n");
my $worker_stopped;
END {
    release();
    kill 'CONT', $worker_stopped if $worker_stopped;
}

sub archiver { return report($pg)->{checks}{archiver} }

# (successes, failures, failures after the last success) as logged
sub logged {
    my ($ok, $fail, $trail) = (0, 0, 0);
    for (split /\n/, slurp($log) // '') {
        if (/^ok /) { $ok++; $trail = 0 }
        elsif (/^fail /) { $fail++; $trail++ }
    }
    return ($ok, $fail, $trail);
}

# the check once its counts are the log's and the log has $want failures
# after its last success ($want or more with at_least => 1); in list
# context the check and that count
sub settled {
    my ($want, %o) = @_;
    my ($a, $trail);
    ok(wait_until(sub {
        $a = archiver();
        my ($ok, $fail);
        ($ok, $fail, $trail) = logged();
        return $a->{archived_count} == $ok && $a->{failed_count} == $fail
            && ($o{at_least} ? $trail >= $want : $trail == $want);
    }, timeout => 60), "the log and the check agree, "
                       . ($o{at_least} ? 'at least ' : '')
                       . "$want failures after the last success");
    return wantarray ? ($a, $trail) : $a;
}

# a time as the report writes one
sub iso {
    my ($t) = @_;
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime $t)
        . sprintf('.%03dZ', int(($t - int $t) * 1000));
}

# wait until the worker has read the view after now: what it read holds
# every attempt already counted
sub worker_sampled {
    my $t = iso(time);
    ok(wait_until(sub {
        my $s = archiver()->{sampled_at};
        return defined $s && $s gt $t;
    }, timeout => 60), 'the worker sampled the view again');
}

sub ms_of {
    my ($iso) = @_;
    my ($y, $mo, $d, $h, $mi, $s, $ms) =
        $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/ or die $iso;
    require Time::Local;
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y) * 1000 + $ms;
}

# whether the last failure came less than a second after the last success
# (the milliseconds the report prints; undef at the boundary)
sub within_second {
    my ($a) = @_;
    my $gap = ms_of($a->{last_failed_time}) - ms_of($a->{last_archived_time});
    return $gap < 999 ? 1 : $gap > 1001 ? 0 : undef;
}

sub switch_wal {
    $pg->psql('CREATE TABLE IF NOT EXISTS w (i int); INSERT INTO w VALUES (1)');
    return $pg->psql('SELECT pg_walfile_name(pg_switch_wal())');
}

ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_stat_activity "
              . "WHERE backend_type = 'pg_health worker'") == 1 }, timeout => 60),
   'the worker runs');
my $worker = $pg->psql("SELECT pid FROM pg_stat_activity "
                       . "WHERE backend_type = 'pg_health worker'");

# nothing attempted since the statistics began: 0, and not exact
my $a = archiver();
is($a->{failed_since_success}, 0, 'no attempt yet: 0');
ok(!$a->{failed_since_success_exact}, 'but not exact: failures before the '
   . 'statistics began are not known');
worker_sampled();

# a success: 0, exactly
switch_wal();
$a = settled(0);
is($a->{archived_count}, 1, 'one segment archived');
is($a->{failed_since_success}, 0, 'archived: 0 failures since');
ok($a->{failed_since_success_exact}, 'exactly');
worker_sampled();

# failures: the archiver tries three times, a second apart, then waits
set_mode('fail');
my $seg = switch_wal();
$a = settled(3);
is($a->{status}, 'unhealthy', 'failing: unhealthy');
is($a->{failed_since_success}, 3, '3 failures since the last success');
ok($a->{failed_since_success_exact}, 'exactly: no success in between');
is($a->{failed_count}, $pg->psql('SELECT failed_count FROM pg_stat_archiver'),
   'failed_count is the view\'s');
like($a->{reason},
     qr/^archiving has failed 3 times since the last success, the last time for WAL file \Q$seg\E at \d{4}-\d\d-\d\dT[\d:.]+Z$/,
     'the reason counts them');

# woken by another segment: three more, on the same oldest segment
switch_wal();
$a = settled(6);
is($a->{failed_since_success}, 6, '6 failures since the last success');
ok($a->{failed_since_success_exact}, 'exactly');

# a success, then at once the next segment's first attempt fails and the
# second waits: 1, exact when the failure came within the second
set_mode('okonce');
switch_wal();
$a = settled(1);
my $within = within_second($a);
is($a->{failed_since_success}, 1, 'a success and a failure: 1 since');
# exact for certain when the failure came within the second; if not, the
# worker may still have read the view between the two
ok($a->{failed_since_success_exact}, 'exact: the failure came within a '
   . 'second of the success') if $within;
worker_sampled();
set_mode('fail');
release();
$a = settled(3);
is($a->{failed_since_success}, 3, 'two more attempts fail: 3 since');
ok($a->{failed_since_success_exact}, 'as exact as the worker\'s count of the '
   . 'first') if $within;

# the worker stopped: a success and three failures in one stretch, which
# no sample splits, take more than a second: at least 1, not exact
kill 'STOP', $worker or die "SIGSTOP $worker: $!";
$worker_stopped = $worker;
set_mode('okonce');
switch_wal();
$a = settled(1);
$within = within_second($a);
is($a->{failed_since_success}, 1, 'worker stopped, success then a failure: 1');
is($a->{failed_since_success_exact} ? 1 : 0, $within,
   'exact as the failure came within a second (the report\'s own read)')
    if defined $within;
set_mode('fail');
release();
$a = settled(3);
is($a->{failed_since_success}, 1, 'then three failures: at least 1');
ok(!$a->{failed_since_success_exact}, 'not exact: the failures span over a '
   . 'second, so some may have come before the success');
like($a->{reason}, qr/^archiving has failed at least 1 time since the last success, /,
     'the reason says "at least"');
kill 'CONT', $worker;
$worker_stopped = undef;
worker_sampled();
$a = archiver();
is($a->{failed_since_success}, 1, 'the worker resumed: still at least 1');
ok(!$a->{failed_since_success_exact}, 'not exact');
switch_wal();
$a = settled(6);
is($a->{failed_since_success}, 4, 'three more failures: at least 4');
ok(!$a->{failed_since_success_exact}, 'still not exact until a success');

# a clean restart keeps the count.  From here the log is not compared:
# PostgreSQL 15 writes its statistics before the archiver's last pass at
# shutdown, so attempts made then are logged but counted nowhere.  The
# count is the server's: failed_count less what it was at the last
# success.
set_mode('ok');
switch_wal();
$a = settled(0);
ok($a->{failed_since_success_exact}, 'archived again: 0, exactly');
my $failed_at_success = $a->{failed_count};
worker_sampled();
set_mode('fail');
switch_wal();
$a = settled(3);
ok($a->{failed_since_success_exact}, '3, exactly');
worker_sampled();
$pg->stop(mode => 'fast');
ok(-f "$pg->{data}/pg_stat/pg_health_archiver.stat",
   'the sample is saved at a clean shutdown');
my $failed_at_stop = $a->{failed_count};
$pg->restart;
ok(!-e "$pg->{data}/pg_stat/pg_health_archiver.stat",
   'and read back (the file removed) at the start');
# the archiver retries the waiting segment at once
ok(wait_until(sub { ($a = archiver())->{failed_count} > $failed_at_stop },
              timeout => 60), 'the archiver fails again after the restart');
is($a->{failed_since_success}, $a->{failed_count} - $failed_at_success,
   'after the restart: failed_count less its value at the last success, '
   . ($a->{failed_count} - $failed_at_success));
ok($a->{failed_since_success_exact}, 'exactly');

# the statistics reset: what failed before is gone, the rest is a least
# (the log no longer matches the counters)
$pg->psql("SELECT pg_stat_reset_shared('archiver')");
$a = archiver();
is($a->{failed_since_success}, $a->{failed_count},
   'reset: the failures counted since, ' . $a->{failed_count});
ok(!$a->{failed_since_success_exact}, 'not exact');
switch_wal();
ok(wait_until(sub { ($a = archiver())->{failed_count} >= 3 }, timeout => 60),
   'three failures counted since the reset');
is($a->{failed_since_success}, $a->{failed_count},
   'at least the failures counted since the reset');
cmp_ok($a->{failed_count}, '>=', 3, 'three or more');
ok(!$a->{failed_since_success_exact}, 'not exact');
like($a->{reason}, qr/^archiving has failed at least \d+ times since /,
     'the reason says "at least"');

# a crash resets the statistics too; the archiver fails again at once
$pg->stop(mode => 'immediate');
$pg->restart;
$a = archiver();
is($a->{failed_since_success}, $a->{failed_count},
   'after a crash: the failures counted since, ' . $a->{failed_count});
ok(!$a->{failed_since_success_exact}, 'not exact');
$pg->stop(mode => 'fast');

# not preloaded: 0 after a success, null while failing (not made up)
release();
set_mode('ok');
spew($log, '');
my $plain = pg_with_extension(conf => "archive_mode = on\n"
                              . "archive_command = '$ctl/archive.sh %f'\n");
$pg = $plain;
switch_wal();
$a = settled(0);
is($a->{failed_since_success}, 0, 'not preloaded, archived: 0');
ok($a->{failed_since_success_exact}, 'exactly: the last attempt succeeded');
is($a->{sampled_at}, undef, 'no worker, no sample');
set_mode('fail');
switch_wal();
$a = settled(3);
is($a->{failed_since_success}, undef, 'failing: null');
is($a->{failed_since_success_exact}, undef, 'null');
like($a->{reason}, qr/^archiving failed for WAL file \S+ at \S+ and has not succeeded since$/,
     'the reason without a count');
set_mode('ok');
$plain->stop;

done_testing();
