#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# What a caller may see follows pg_stat_activity: a role given EXECUTE but
# not pg_read_all_stats does not see other roles' sessions, so the checks
# that need them say unknown (never a false healthy) and their details are
# not shown; a pg_monitor member sees and judges everything.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension();

$pg->psql(<<'SQL');
CREATE ROLE app LOGIN;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE outsider LOGIN;
GRANT EXECUTE ON FUNCTION health_report(), health_slow_queries(interval),
    health_connections() TO app;
SQL

# outside pg_monitor, without a grant: refused
for my $f ('health_connections()', 'health_slow_queries()',
           'health_dead_tuples()', 'health_report()') {
    my ($rc, $out) = $pg->psql("SELECT * FROM $f", user => 'outsider',
                               allow_error => 1);
    isnt($rc, 0, "outsider: $f refused");
    like($out, qr/permission denied for function health_/, "outsider: $f permission denied");
}

# another role's long statement, and one of app's own
bg_with_app($pg, 'su_sleep', 'SELECT pg_sleep(30)');
bg_with_app($pg, 'app_sleep', 'SELECT pg_sleep(30)', user => 'app');
ok(wait_for_clients($pg, 'su_sleep', 1) && wait_for_clients($pg, 'app_sleep', 1),
   'a superuser session and an app session sleep');
my ($su_pid) = pids_of_app($pg, 'su_sleep');
my ($app_pid) = pids_of_app($pg, 'app_sleep');

# statement warning low (for every new session, set by the superuser) so
# the sleepers are over it at once
# (critical out of reach, so what app sees of its own stays degraded and
# the verdict on what it cannot see is the one at stake)
$pg->psql("ALTER DATABASE postgres SET pg_health.statement_warning = '100ms'");
$pg->psql("ALTER DATABASE postgres SET pg_health.statement_critical = '1h'");
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM health_slow_queries() "
              . "WHERE application_name IN ('su_sleep', 'app_sleep')") == 2
}, timeout => 10), 'superuser: both sleepers are slow queries');

# app sees only its own session
my $r;
ok(wait_until(sub {
    $r = report($pg, user => 'app');
    $r->{checks}{slow_queries}{count} >= 1;
}, timeout => 10), 'app: its own session is judged');
my $sq = $r->{checks}{slow_queries};
is($sq->{status}, 'unknown', 'app: slow_queries unknown');
like($sq->{reason}, qr/not visible to role "app".*pg_read_all_stats/,
     'app: the reason says why');
cmp_ok($sq->{not_visible}, '>=', 1, 'app: sessions not visible are counted');
is_deeply([map { $_->{pid} } @{ $sq->{sessions} }], [$app_pid],
          'app: lists only its own session');
is($r->{checks}{long_transactions}{status}, 'unknown', 'app: long_transactions unknown');
is($r->{checks}{connections}{status}, 'healthy', 'app: connections still judged');
# the part it saw is not shown as the whole: counted and said
my $c = $r->{checks}{connections};
cmp_ok($c->{not_visible}, '>=', 1, 'app: connections counts the sessions it cannot see');
is($c->{active} + $c->{idle} + $c->{idle_in_transaction}
       + $c->{idle_in_transaction_aborted} + $c->{not_visible},
   $c->{used}, 'app: the visible states and not_visible add up to used');
like($c->{reason}, qr/not visible to role "app".*count only the visible/,
     'app: connections says its state counts are partial');
is($r->{checks}{dead_tuples}{status}, 'healthy', 'app: dead_tuples still judged');
isnt($r->{status}, 'healthy', 'app: the report is not healthy (unknown folds to degraded)');
is($r->{status}, 'degraded', 'app: degraded');

is($pg->psql("SELECT string_agg(pid::text, ',') FROM health_slow_queries('0')",
             user => 'app'), $app_pid,
   'app: health_slow_queries() omits sessions it cannot see');
# connection counts are public (pg_stat_database.numbackends): app's used
# is what the superuser counts in pg_stat_activity
is($pg->psql("SELECT used FROM health_connections()", user => 'app'),
   $pg->psql("SELECT count(*) FROM pg_stat_activity "
             . "WHERE backend_type = 'client backend'"),
   'app: used still counts every client backend');

# pg_monitor sees both (query text only where a superuser turned it on)
$r = report($pg, user => 'monitor');
$sq = $r->{checks}{slow_queries};
is($sq->{status}, 'degraded', 'monitor: slow_queries judged (degraded)');
is($sq->{not_visible}, 0, 'monitor: everything visible');
is_deeply([sort { $a <=> $b } map { $_->{pid} } @{ $sq->{sessions} }],
          [sort { $a <=> $b } $su_pid, $app_pid], 'monitor: both sessions listed');
ok(!exists $sq->{sessions}[0]{query}, 'monitor: no query text by default');
is($r->{checks}{long_transactions}{status}, 'healthy', 'monitor: long_transactions judged');

# a superuser's session waits on a lock: app's connections check counts it
# as waiting, as its lock_waits check lists it (pg_locks is public)
$pg->psql('CREATE TABLE held (i int)');
my $holder = HealthTest::PgUtil::Session->open($pg, app => 'held_holder');
$holder->send('BEGIN;')->send('LOCK TABLE held IN ACCESS EXCLUSIVE MODE;');
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_locks WHERE relation = 'held'::regclass "
              . "AND granted") == 1
}, timeout => 10), 'a superuser holds a table');
bg_with_app($pg, 'held_waiter', 'SELECT count(*) FROM held');
ok(wait_until(sub {
    $r = report($pg, user => 'app');
    $r->{checks}{lock_waits}{waiting} == 1
}, timeout => 10), 'app: lock_waits sees the superuser\'s waiter');
is($r->{checks}{connections}{waiting}, 1, 'app: connections counts it as waiting too');
$holder->send('COMMIT;');
$holder->close;

$pg->psql("ALTER DATABASE postgres RESET ALL");
$pg->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          . "WHERE application_name IN ('su_sleep', 'app_sleep')");
$pg->kill_bg;
$pg->stop;
done_testing;
