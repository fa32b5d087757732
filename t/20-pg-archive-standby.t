#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The archiver check on standbys, real ones made with pg_basebackup from a
# primary with archive_mode = on and pg_health preloaded.  A standby with
# archive_mode = on archives nothing (PostgreSQL starts its archiver there
# only with always): the check is healthy and says so, and the pg_health
# worker does not sample pg_stat_archiver there.  Promoted, it archives:
# the worker samples and counts from then on.  A standby with
# archive_mode = always archives what it receives, and is watched.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# one archive directory per server: each archives the same segment names
my $arch = tmp_dir('archives');
mkdir "$arch/$_" or die "$arch/$_: $!" for qw(primary on always);
system('chown', '-R', 'postgres:postgres', $arch) if HealthTest::is_root();
sub archive_conf {
    my ($mode, $to) = @_;
    return "archive_mode = $mode\n"
        . "archive_command = 'test ! -f $arch/$to/%f && cp %p $arch/$to/%f'\n";
}

my $primary = pg_with_extension(conf => "shared_preload_libraries = 'pg_health'\n"
                                . "wal_level = replica\n"
                                . archive_conf('on', 'primary'));

sub archiver { report($_[0])->{checks}{archiver} }

# the worker has finished a database sizes round at least a second ago:
# it has been through its loop, where it samples, for that second
sub worker_went_round {
    my ($pg) = @_;
    return wait_until(sub {
        my $age = report($pg)->{checks}{disk}{database_sizes_age_s};
        defined $age && $age >= 1;
    }, timeout => 60);
}

ok(wait_until(sub { defined archiver($primary)->{sampled_at} }, timeout => 60),
   'primary: the worker samples pg_stat_archiver');

# archive_mode = on, copied from the primary by pg_basebackup
my $on = $primary->standby(app => 'on', conf => archive_conf('on', 'on'));
is($on->psql('SELECT pg_is_in_recovery()'), 't', 'on: in recovery');
ok(worker_went_round($on), 'on: the worker went round');
my $a = archiver($on);
is($a->{archive_mode}, 'on', 'on: archive_mode on');
is($a->{status}, 'healthy', 'on: healthy');
is($a->{active}, JSON::PP::false, 'on: not active');
is($a->{reason}, 'archive_mode is on: a standby archives only with archive_mode = always',
   'on: says why');
is($a->{sampled_at}, undef, 'on: the worker does not sample an archiver that does not run');

# archive_mode = always: archives the WAL it receives
my $always = $primary->standby(app => 'always', conf => archive_conf('always', 'always'));
is($always->psql('SELECT pg_is_in_recovery()'), 't', 'always: in recovery');
# WAL in a segment the standby streams (the base backup ended one), then
# that segment completed
$primary->psql('CREATE TABLE before_switch ()');
my $seg = $primary->psql('SELECT pg_walfile_name(pg_switch_wal())');
# a standby closes, and so archives, a segment once WAL of the next arrives
$primary->psql('CREATE TABLE after_switch ()');
ok(wait_until(sub { -f "$arch/always/$seg" }, timeout => 60),
   "always: the standby archived $seg");
ok(wait_until(sub {
    $a = archiver($always);
    defined $a->{sampled_at} && $a->{archived_count} >= 1
}, timeout => 60), 'always: sampled, and counts what it archived');
is($a->{active}, JSON::PP::true, 'always: active');
is($a->{status}, 'healthy', 'always: healthy');
is($a->{failed_since_success}, 0, 'always: no failure since the last success');
ok(-f "$arch/primary/$seg", "primary: archived $seg as well");

# promoted, the standby with archive_mode = on archives, and is watched
is($on->psql('SELECT pg_promote(true, 60)'), 't', 'on: promoted');
$on->psql('SELECT pg_switch_wal()');
ok(wait_until(sub {
    $a = archiver($on);
    defined $a->{sampled_at} && $a->{archived_count} >= 1
}, timeout => 60), 'promoted: sampled, and counts what it archived');
is($a->{active}, JSON::PP::true, 'promoted: active');
is($a->{status}, 'healthy', 'promoted: healthy');
is($a->{failed_since_success}, 0, 'promoted: no failure since the last success');
is($a->{failed_since_success_exact}, JSON::PP::true, 'promoted: exactly');
ok(-f "$arch/on/$a->{last_archived_wal}", 'promoted: its last archived WAL is in its archive');

$_->stop for $always, $on, $primary;
done_testing;
