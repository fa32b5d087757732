#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A busy, healthy database with default autovacuum reads healthy: pgbench
# running, a pg_dump that takes its time, a manual VACUUM running for
# seconds, another session's temporary table full of dead rows, a session
# idle in its transaction for a few seconds.  Statement thresholds are for
# client applications' statements; dead tuples are judged against
# autovacuum's own trigger.  pgbench's statements, recorded by
# pg_stat_statements, are judged by the statements check and healthy.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(
    conf => "shared_preload_libraries = 'pg_stat_statements'\n");
$pg->psql('CREATE EXTENSION pg_stat_statements');
my $bin = HealthTest::Pg::pgbin();
my @conn = ('-h', $pg->host, '-p', $pg->port, '-U', 'postgres');

my ($rc, $out) = run_cmd("$bin/pgbench", @conn, '-i', '-s', '1', '-q', 'postgres');
is($rc, 0, 'pgbench -i') or diag($out);
$pg->psql(<<'SQL');
CREATE TABLE archive (id int);
CREATE TABLE big (id int);
INSERT INTO big SELECT g FROM generate_series(1, 50000) g;
SQL

# pgbench runs through the whole test
my $bench = fork // die;
if ($bench == 0) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    exec "$bin/pgbench", @conn, '-n', '-c', '2', '-j', '1', '-T', '120', 'postgres';
}
ok(wait_for_clients($pg, 'pgbench', 2), 'pgbench runs');

# a pg_dump that waits for a table held by another session: it runs its
# statement for as long as the test wants
my $holder = HealthTest::PgUtil::Session->open($pg, app => 'holder');
$holder->send('BEGIN;')->send('LOCK TABLE archive IN ACCESS EXCLUSIVE MODE;');
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_locks WHERE relation = 'archive'::regclass "
              . "AND mode = 'AccessExclusiveLock' AND granted") == 1
}, timeout => 10), 'archive is held');
my $dump = fork // die;
if ($dump == 0) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    exec "$bin/pg_dump", @conn, '-f', '/dev/null', 'postgres';
}

# a manual VACUUM slowed to at least 100ms a page (over 200 pages)
{
    local $ENV{PGOPTIONS} = '-c vacuum_cost_delay=100ms -c vacuum_cost_limit=1';
    bg_with_app($pg, 'manual_vacuum', 'VACUUM big');
}

# another session's temporary table, all dead
my $tmp = HealthTest::PgUtil::Session->open($pg, app => 'temp_owner');
$tmp->send('CREATE TEMP TABLE scratch AS SELECT g FROM generate_series(1, 5000) g;')
    ->send('DELETE FROM scratch;');

# a session idle in its transaction
my $idle = HealthTest::PgUtil::Session->open($pg, app => 'idler');
$idle->send('BEGIN;')->send('SELECT 1;');

ok(wait_until(sub {
    $pg->psql(<<'SQL') eq 't|t|t|t'
SELECT (SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'pg_dump'
          AND state = 'active' AND now() - query_start > '2.5s'),
       (SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'manual_vacuum'
          AND query LIKE '%VACUUM big%' AND now() - query_start > '2.5s'),
       (SELECT coalesce(sum(n_dead_tup), 0) = 5000 FROM pg_stat_all_tables
          WHERE relname = 'scratch'),
       (SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'idler'
          AND state = 'idle in transaction' AND now() - state_change > '2.5s')
SQL
}, timeout => 30), 'pg_dump and VACUUM run over 2.5s, 5000 dead temp rows, '
                   . 'an idle transaction over 2.5s');

ok(wait_until(sub { report($pg)->{checks}{statements}{judged} > 0 },
              timeout => 30), 'pgbench\'s statements are judged');

my $r = report($pg);
is($r->{checks}{$_}{status}, 'healthy', "$_ healthy")
    for grep { $_ ne 'statement_latency' } sort keys %{ $r->{checks} };
# (pg_health is not preloaded here: t/20-pg-statement-latency.t)
is($r->{checks}{statement_latency}{status}, 'unknown',
   'statement_latency: unknown without shared_preload_libraries');
is($r->{status}, 'healthy', 'the report is healthy');
cmp_ok($r->{checks}{slow_queries}{excluded}, '>=', 2,
       'slow_queries: the pg_dump and the VACUUM were left out');
# pgbench's one-row tables pass their trigger (50 dead rows) within
# moments of each autovacuum round: autovacuum keeps up with them
is($r->{checks}{dead_tuples}{judged}, 0,
   'dead_tuples: no table autovacuum is not keeping up with');
ok(!(grep { $_->{relname} eq 'scratch' } @{ $r->{checks}{dead_tuples}{tables} }),
   'dead_tuples: the other session\'s temporary table is not judged');
is($pg->psql("SELECT count(*) FROM health_dead_tuples() WHERE relname = 'scratch'"),
   0, 'health_dead_tuples() leaves it out too');

# the pg_dump's session, without the default ignore list, is a slow query
$r = report($pg, set => {'pg_health.ignore_applications' => ''});
is($r->{checks}{slow_queries}{status}, 'unhealthy',
   'ignore_applications emptied: the waiting pg_dump is a slow statement');

# one session: the list is split once per value, so a SET between two
# calls must still change what is left out, and RESET change it back
my $listed = "SELECT count(*) FROM jsonb_array_elements(health_report()"
    . "->'checks'->'slow_queries'->'sessions') e"
    . " WHERE e->>'application_name' = 'pg_dump'";
is(join(',', grep { /^\d+$/ } split /\n/, $pg->psql(
       "$listed; SET pg_health.ignore_applications = ''; $listed;"
       . " RESET pg_health.ignore_applications; $listed;")),
   '0,1,0', 'ignore_applications: SET and RESET take effect in the session');

# the idle transaction is long_transactions' business
$r = report($pg, set => {'pg_health.transaction_warning' => '1s',
                         'pg_health.transaction_critical' => '1h'});
my ($s) = grep { $_->{application_name} eq 'idler' }
    @{ $r->{checks}{long_transactions}{sessions} };
is($s->{state}, 'idle in transaction', 'long_transactions lists the idle transaction');

$holder->send('COMMIT;');
waitpid($dump, 0);
is($?, 0, 'pg_dump completes');
kill 'TERM', $bench;
waitpid($bench, 0);
$_->close for $holder, $tmp, $idle;
$pg->psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
          . "WHERE application_name = 'manual_vacuum'");
$pg->kill_bg;
$pg->stop;
done_testing;
