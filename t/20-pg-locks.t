#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A session blocked by another's lock shows in health_report()'s lock_waits
# with the blocker's pid; and health_report() still answers at once while
# a user table is locked ACCESS EXCLUSIVE, because nothing on its path
# takes a lock on a user table.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension();

# a table with 40% dead tuples, so the report has something to read of it
$pg->psql(<<'SQL');
CREATE TABLE locked_t (id int) WITH (autovacuum_enabled = false);
INSERT INTO locked_t SELECT generate_series(1, 10000);
DELETE FROM locked_t WHERE id <= 4000;
SELECT pg_stat_force_next_flush();
SQL
ok(wait_until(sub { $pg->psql("SELECT n_dead_tup FROM pg_stat_user_tables "
                              . "WHERE relname = 'locked_t'") == 4000 }),
   'dead tuples are in the statistics');

my $holder = HealthTest::PgUtil::Session->open($pg, app => 'lock_holder');
$holder->send('BEGIN;')->send('LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE;');
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_locks WHERE granted AND mode = 'AccessExclusiveLock' "
              . "AND relation = 'locked_t'::regclass") == 1
}), 'the holder has ACCESS EXCLUSIVE on locked_t');
my $holder_pid = $holder->backend_pid;

# what takes a lock on the table is blocked (the test is real)
my ($rc, $out) = $pg->psql("SET statement_timeout = '300ms'; "
                           . "SELECT pg_relation_size('locked_t')", allow_error => 1);
isnt($rc, 0, 'pg_relation_size() on the locked table blocks');
like($out, qr/statement timeout/, '... until statement_timeout');

# the report does not
my $t0 = time;
($rc, $out) = $pg->psql("SET statement_timeout = '1s'; SELECT health_report()",
                        allow_error => 1);
my $elapsed = time - $t0;
is($rc, 0, 'health_report() answers under statement_timeout = 1s') or diag $out;
cmp_ok($elapsed, '<', 1.5, 'and within a second');
my $r = JSON::PP->new->decode($out);
is($r->{checks}{dead_tuples}{tables}[0]{relname}, 'locked_t',
   'the locked table is judged from its statistics');
is($r->{checks}{dead_tuples}{status}, 'unhealthy', '40% dead: unhealthy');

($rc, $out) = $pg->psql("SET statement_timeout = '1s'; "
                        . "SELECT relname, status FROM health_dead_tuples()",
                        allow_error => 1);
is($rc, 0, 'health_dead_tuples() answers too');
is($out, 'locked_t|unhealthy', 'and lists the locked table');

# a second session waits for the lock
bg_with_app($pg, 'lock_waiter', 'SELECT count(*) FROM locked_t');
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_locks WHERE NOT granted "
              . "AND relation = 'locked_t'::regclass") == 1
}), 'the waiter waits on the lock');
my ($waiter) = pids_of_app($pg, 'lock_waiter');

is($pg->psql('SELECT waiting FROM health_connections()'), 1,
   'health_connections() counts one waiting session');

my %low = ('pg_health.lock_wait_warning' => '200ms',
           'pg_health.lock_wait_critical' => '1s');
my $lw;
ok(wait_until(sub {
    $lw = report($pg, set => \%low)->{checks}{lock_waits};
    $lw->{status} eq 'unhealthy';
}, timeout => 10), 'lock_waits turns unhealthy after 1s of waiting');

is($lw->{count}, 1, 'one session waits too long');
is($lw->{unit}, 'ms', 'unit ms');
is_deeply([$lw->{warning}, $lw->{critical}], [200, 1000], 'thresholds as SET');
cmp_ok($lw->{value}, '>=', 1000, 'value is the longest wait');
my $s = $lw->{sessions}[0];
is($s->{pid}, $waiter, 'the waiter is listed');
is_deeply($s->{blocking_pids}, [$holder_pid], 'with the holder as its blocker');
is($s->{relation}, 'public.locked_t', 'on locked_t');
is($s->{mode}, 'AccessShareLock', 'wanting ACCESS SHARE');
is($s->{locktype}, 'relation', 'a relation lock');
ok(!exists $s->{query}, 'no query text by default');
is(report($pg, set => {'pg_health.lock_wait_warning' => '200ms',
                       'pg_health.lock_wait_critical' => '1s',
                       'pg_health.report_query_text' => 'on'})
       ->{checks}{lock_waits}{sessions}[0]{query},
   'SELECT count(*) FROM locked_t', 'its query when report_query_text is on');
cmp_ok($s->{wait_ms}, '>=', 1000, 'waiting for over a second');

# the default thresholds (30s / 2min) are not reached yet
is(report($pg)->{checks}{lock_waits}{status}, 'healthy',
   'under the default 30s: healthy');

$holder->send('COMMIT;');
ok(wait_until(sub {
    report($pg, set => \%low)->{checks}{lock_waits}{waiting} == 0
}, timeout => 10), 'after COMMIT nobody waits');

$holder->close;
$pg->kill_bg;
$pg->stop;
done_testing;
