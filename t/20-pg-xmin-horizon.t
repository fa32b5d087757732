#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# xmin_horizon: what holds vacuum back is seen and named: a session that
# holds an XID with track_activities off (so no xact_start), a prepared
# transaction, a replication slot.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(conf => "max_prepared_transactions = 2\n"
                                   . "wal_level = logical");

my %low = ('pg_health.xmin_horizon_warning' => '500ms',
           'pg_health.xmin_horizon_critical' => '1s');

my $r = report($pg, set => \%low);
is($r->{checks}{xmin_horizon}{status}, 'healthy', 'nothing holds it: healthy');
is($r->{checks}{xmin_horizon}{holders}, 0, 'no holders');

# a session holds an XID with track_activities off: no transaction start
# is reported, so long_transactions cannot see it
my $s = HealthTest::PgUtil::Session->open($pg, app => 'hidden');
$s->send('SET track_activities = off;')->send('BEGIN;')
  ->send('SELECT txid_current();');
my $spid = $s->backend_pid;
ok(wait_until(sub {
    $pg->psql("SELECT backend_xid IS NOT NULL FROM pg_stat_activity "
              . "WHERE pid = $spid") eq 't'
}, timeout => 10), 'the session holds an XID');
is($pg->psql("SELECT xact_start IS NULL FROM pg_stat_activity WHERE pid = $spid"),
   't', 'and reports no transaction start');

my $h;
ok(wait_until(sub {
    $r = report($pg, set => { %low, 'pg_health.transaction_warning' => '500ms',
                              'pg_health.transaction_critical' => '1s' });
    $h = $r->{checks}{xmin_horizon};
    $h->{status} ne 'healthy';
}, timeout => 10), 'once the session is older than the warning, the check is not healthy');
is($h->{status}, 'unknown', 'unknown: since when it holds the horizon is not known');
like($h->{reason}, qr/track_activities is off/, 'the reason says why');
is($h->{held_by}, "session $spid", 'held_by names the session');
is($h->{holders_list}[0]{pid}, $spid, 'listed with its pid');
is($h->{holders_list}[0]{application_name}, 'hidden', 'and its application_name');
is($r->{checks}{long_transactions}{status}, 'healthy',
   'long_transactions alone cannot see it');
isnt($r->{status}, 'healthy', 'the report is not healthy');
$s->send('COMMIT;');
ok(wait_until(sub { report($pg, set => \%low)->{checks}{xmin_horizon}{holders} == 0 },
              timeout => 10), 'after COMMIT nothing holds it');

# a prepared transaction
$pg->psql("BEGIN; CREATE TABLE p (i int); PREPARE TRANSACTION 'held_p1'");
ok(wait_until(sub {
    $r = report($pg, set => \%low);
    $r->{checks}{xmin_horizon}{status} eq 'unhealthy';
}, timeout => 10), 'a prepared transaction older than 1s: unhealthy');
$h = $r->{checks}{xmin_horizon};
is($h->{held_by}, 'prepared transaction held_p1', 'held_by names it');
is($h->{holders_list}[0]{kind}, 'prepared_transaction', 'kind');
is($h->{holders_list}[0]{gid}, 'held_p1', 'gid');
is($h->{holders_list}[0]{owner}, 'postgres', 'owner');
cmp_ok($h->{holders_list}[0]{age_ms}, '>=', 1000, 'age since PREPARE');
cmp_ok($h->{value}, '>=', 1000, 'value: the longest age');
is(report($pg)->{checks}{xmin_horizon}{status}, 'healthy',
   'under the default 1min: healthy');
$pg->psql("ROLLBACK PREPARED 'held_p1'");

# an inactive logical slot holds catalog_xmin
$pg->psql("SELECT pg_create_logical_replication_slot('held_slot', 'test_decoding')");
$r = report($pg);
$h = $r->{checks}{xmin_horizon};
is($h->{status}, 'degraded', 'an inactive slot holding catalog_xmin: degraded');
is($h->{held_by}, 'replication slot held_slot', 'held_by names the slot');
is($h->{holders_list}[0]{holds}, 'catalog_xmin', 'it holds catalog_xmin');
is($h->{holders_list}[0]{active}, JSON::PP::false, 'inactive');
like($h->{reason}, qr/inactive replication slot/, 'the reason');
$pg->psql("SELECT pg_drop_replication_slot('held_slot')");
is(report($pg)->{checks}{xmin_horizon}{status}, 'healthy', 'slot dropped: healthy');

$s->close;
$pg->stop;
done_testing;
