#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Sessions running pg_sleep for longer than pg_health.statement_critical
# (2s) are listed by health_slow_queries() as unhealthy, and health_report()
# says so in slow_queries; a superuser's SET changes the verdict.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $N = 3;
my $pg = pg_with_extension();

bg_with_app($pg, 'slow_test', 'SELECT pg_sleep(30)') for 1 .. $N;
ok(wait_for_clients($pg, 'slow_test', $N), "$N sleeping sessions connected");
my @pids = pids_of_app($pg, 'slow_test');

my $sql = "SELECT count(*) FROM health_slow_queries() "
    . "WHERE application_name = 'slow_test' AND status = 'unhealthy'";
ok(wait_until(sub { $pg->psql($sql) == $N }, timeout => 15),
   "all $N sessions are unhealthy slow queries after 2s");

my @rows = map { [split /\|/] } split /\n/, $pg->psql(
    "SELECT pid, datname, usename, state, duration >= interval '2s', "
    . "wait_event_type, wait_event, query, status FROM health_slow_queries() "
    . "WHERE application_name = 'slow_test' ORDER BY pid");
is(scalar @rows, $N, 'one row per session');
is_deeply([map { $_->[0] } @rows], \@pids, 'the rows are those sessions');
for my $r (@rows) {
    is_deeply([@$r[1 .. 8]],
              ['postgres', 'postgres', 'active', 't', 'Timeout', 'PgSleep',
               'SELECT pg_sleep(30)', 'unhealthy'],
              "session $r->[0]: what pg_stat_activity shows, and the verdict");
}

# rows are the longest first
my $durations = $pg->psql("SELECT string_agg(extract(epoch FROM duration)::text, ',') "
                          . "FROM health_slow_queries()");
my @d = split /,/, $durations;
is_deeply(\@d, [sort { $b <=> $a } @d], 'longest statement first');

is($pg->psql("SELECT count(*) FROM health_slow_queries('1 hour')"), 0,
   'none exceeds an explicit threshold of an hour');

my $r = report($pg);
my $c = $r->{checks}{slow_queries};
is($c->{status}, 'unhealthy', 'report: slow_queries unhealthy');
is($r->{status}, 'unhealthy', 'report: overall unhealthy');
cmp_ok($c->{value}, '>=', 2000, 'report: value is the longest duration in ms');
is($c->{unit}, 'ms', 'report: unit ms');
is_deeply([$c->{warning}, $c->{critical}], [500, 2000], 'report: thresholds');
cmp_ok($c->{count}, '>=', $N, 'report: count of slow sessions');
is_deeply([sort { $a <=> $b } map { $_->{pid} } @{ $c->{sessions} }], \@pids,
          'report: the sleeping sessions are listed');
ok(!exists $c->{sessions}[0]{query}, 'report: no query text by default');
ok(exists $c->{sessions}[0]{query_id}, 'report: query_id instead');
is($c->{sessions}[0]{wait_event}, 'PgSleep', 'report: wait event');

# a superuser relaxes the thresholds: the same sessions are healthy
$r = report($pg, set => {'pg_health.statement_warning' => '1h',
                         'pg_health.statement_critical' => '2h'});
is($r->{checks}{slow_queries}{status}, 'healthy',
   'SET by a superuser changes the verdict');
is($r->{checks}{slow_queries}{warning}, 3600000, 'the new warning is reported');

# and tightens them: degraded between warning and critical
$r = report($pg, set => {'pg_health.statement_warning' => '1s',
                         'pg_health.statement_critical' => '1h'});
is($r->{checks}{slow_queries}{status}, 'degraded', 'between thresholds: degraded');

# psql going away does not stop a running pg_sleep: end the backends
$pg->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          . "WHERE application_name = 'slow_test'");
$pg->kill_bg;
ok(wait_until(sub { $pg->psql($sql) == 0 }, timeout => 10),
   'ended sessions leave the list');

$pg->stop;
done_testing;
