#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Dead tuple verdicts on real tables: 40% dead is unhealthy, 15% degraded,
# a table under pg_health.dead_tuples_min is not flagged; the same in
# health_report(), with the vacuum check for tables past autovacuum's
# trigger.  Thresholds change for a superuser and are refused to others.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension();

$pg->psql(<<'SQL');
CREATE TABLE dead40 (id int) WITH (autovacuum_enabled = false);
CREATE TABLE dead15 (id int) WITH (autovacuum_enabled = false);
CREATE TABLE dead_few (id int) WITH (autovacuum_enabled = false);
INSERT INTO dead40 SELECT generate_series(1, 10000);
INSERT INTO dead15 SELECT generate_series(1, 10000);
INSERT INTO dead_few SELECT generate_series(1, 5000);
DELETE FROM dead40 WHERE id <= 4000;
DELETE FROM dead15 WHERE id <= 1500;
DELETE FROM dead_few WHERE id <= 900;
SELECT pg_stat_force_next_flush();
SQL
ok(wait_until(sub {
    $pg->psql("SELECT sum(n_dead_tup) FROM pg_stat_user_tables") == 6400
}), 'the deletes are in the statistics');

is($pg->psql("SELECT string_agg(relname || ':' || n_dead_tup || ':' || dead_pct "
             . "|| ':' || status, ' ') FROM health_dead_tuples()"),
   'dead40:4000:40:unhealthy dead15:1500:15:degraded',
   'health_dead_tuples(): 40% unhealthy, 15% degraded, worst first; '
   . '900 dead not listed');
is($pg->psql("SELECT status FROM health_dead_tuples(100) WHERE relname = 'dead_few'"),
   'degraded', 'dead_few (18%) is listed under a lower minimum');

my $r = report($pg);
my $dt = $r->{checks}{dead_tuples};
is($dt->{status}, 'unhealthy', 'report: dead_tuples unhealthy');
is($dt->{value}, 40, 'report: value is the worst dead_pct');
is($dt->{unit}, '%', 'report: unit');
is_deeply([$dt->{warning}, $dt->{critical}, $dt->{min_dead}], [10, 25, 1000],
          'report: thresholds and minimum');
is_deeply([map { "$_->{relname}:$_->{status}" } @{ $dt->{tables} }],
          ['dead40:unhealthy', 'dead15:degraded'], 'report: the tables');
is($r->{status}, 'unhealthy', 'report: overall unhealthy');

my $v = $r->{checks}{vacuum};
is($v->{status}, 'degraded', 'vacuum: degraded, tables past the trigger with autovacuum off');
is($v->{value}, 2, 'vacuum: two overdue tables');
is($v->{past_trigger}, 2, 'vacuum: two past the trigger');
is($v->{critical}, undef, 'vacuum: never unhealthy on its own');
is_deeply([map { "$_->{relname}:$_->{vacuum_threshold}:" . ($_->{autovacuum_enabled} ? 1 : 0) }
           @{ $v->{tables} }], ['dead40:50:0', 'dead15:50:0'],
          'vacuum: trigger 50 + 0.2 * reltuples(0), autovacuum_enabled off');

# VACUUM clears a table; with autovacuum on and just vacuumed nothing is due
$pg->psql('VACUUM dead15');
$pg->psql('ALTER TABLE dead40 SET (autovacuum_enabled = true, '
          . 'autovacuum_vacuum_threshold = 100000)');
$r = report($pg);
is_deeply([map { $_->{relname} } @{ $r->{checks}{dead_tuples}{tables} }],
          [], 'after VACUUM dead15 is clean, dead40 is under its own trigger');
is($r->{checks}{vacuum}{status}, 'healthy',
   'dead40 under its own per-table trigger (reloption): vacuum healthy');
is($r->{checks}{vacuum}{past_trigger}, 0, 'nothing past the trigger');
$pg->psql('ALTER TABLE dead40 SET (autovacuum_enabled = false, '
          . 'autovacuum_vacuum_threshold = 50)');

# thresholds: a superuser may change them, in the session or for a database
$r = report($pg, set => {'pg_health.dead_tuples_critical' => '50'});
is($r->{checks}{dead_tuples}{status}, 'degraded', 'SET critical 50: 40% is degraded');
is($pg->psql("LOAD 'pg_health'; SET pg_health.dead_tuples_warning = 41; "
             . "SET pg_health.dead_tuples_critical = 60; "
             . "SELECT status FROM health_dead_tuples()"), 'healthy',
   'SET warning 41, critical 60: 40% is healthy');

$pg->psql('CREATE ROLE monitor LOGIN IN ROLE pg_monitor');
$pg->psql('ALTER DATABASE postgres SET pg_health.dead_tuples_critical = 50');
is(report($pg, user => 'monitor')->{checks}{dead_tuples}{status}, 'degraded',
   'ALTER DATABASE SET by a superuser applies to other roles');
$pg->psql('ALTER DATABASE postgres RESET pg_health.dead_tuples_critical');
is(report($pg, user => 'monitor')->{checks}{dead_tuples}{status}, 'unhealthy',
   'and RESET restores the default');

my ($rc, $out) = $pg->psql("SELECT 1 FROM health_connections(); "
                           . "SET pg_health.dead_tuples_critical = 50",
                           user => 'monitor', allow_error => 1);
isnt($rc, 0, 'a pg_monitor member may not SET a threshold');
like($out, qr/permission denied to set parameter "pg_health.dead_tuples_critical"/,
     '... permission denied');
($rc, $out) = $pg->psql("ALTER ROLE monitor SET pg_health.dead_tuples_critical = 50",
                        user => 'monitor', allow_error => 1);
isnt($rc, 0, 'nor ALTER ROLE ... SET it');

# outside pg_monitor: no EXECUTE at all
$pg->psql('CREATE ROLE outsider LOGIN');
for my $f ('health_dead_tuples()', 'health_report()') {
    ($rc, $out) = $pg->psql("SELECT $f", user => 'outsider', allow_error => 1);
    like($out, qr/permission denied for function health_\w+/,
         "a role outside pg_monitor: $f permission denied");
}

$pg->stop;
done_testing;
