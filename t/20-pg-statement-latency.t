#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# With pg_health in shared_preload_libraries every top-level statement is
# timed into its database's window, and health_report()'s
# statement_latency says what share took at most
# pg_health.statement_objective_ms (100 ms), judged against
# pg_health.statement_objective_pct (99%), with p50/p95/p99.
#
# Counts are exact by construction: the extension is created in template1
# before each test database is made from it, so the only statements a
# database ever runs are the test's own; a report counts the statements
# before it (its own is recorded when it ends).  Fast statements
# (SELECT 1) do not wait; the slow ones sleep 150 ms.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# pg_stat_statements loaded first: pg_health's hooks call its hooks, and
# both count
my $pg = HealthTest::Pg->start(
    conf => "shared_preload_libraries = 'pg_stat_statements, pg_health'\n");
$pg->psql('CREATE EXTENSION pg_health', db => 'template1');
$pg->psql('CREATE EXTENSION pg_stat_statements');
$pg->psql("CREATE DATABASE $_") for qw(work few nested);

sub lat { report($pg, db => $_[0])->{checks}{statement_latency} }

my ($N, $M) = (60, 3);
$pg->psql(join(' ', ('SELECT 1;') x $N, ('SELECT pg_sleep(0.15);') x $M),
          db => 'work');

my $c = lat('work');
is($c->{statements}, $N + $M, "the window holds the $N + $M statements");
is($c->{value}, sprintf('%.2f', 100 * $N / ($N + $M)) + 0,
   'value: the share within 100 ms, N/(N+M)');
is($c->{unit}, '%', 'unit %');
is_deeply([$c->{warning}, $c->{critical}], [99, 90],
          'warning the 99% objective, critical ten times its budget');
is($c->{status}, 'degraded', 'below the objective: degraded');
is($c->{objective_ms}, 100, 'objective_ms');
is($c->{judged}, JSON::PP::true, 'judged');
is($c->{window_s}, 300, 'a five-minute window');
cmp_ok($c->{p50_ms}, '<', 100, 'p50 is a fast statement');
cmp_ok($c->{max_ms}, '>=', 150, 'max: a sleep');
cmp_ok($c->{p99_ms}, '>=', 150 * (1 - 1 / 32), 'p99 is a sleep (within the histogram\'s 1/32)');
cmp_ok($c->{p99_ms}, '<=', $c->{max_ms}, 'p99 never above max');

# pg_stat_statements, chained, saw the same statements
is($pg->psql("SELECT string_agg(calls::text, ',' ORDER BY calls) "
             . "FROM pg_stat_statements WHERE dbid = "
             . "(SELECT oid FROM pg_database WHERE datname = 'work') "
             . "AND query IN ('SELECT \$1', 'SELECT pg_sleep(\$1)')"),
   "$M,$N", 'pg_stat_statements counted them too');

# the first report is counted now, and only by its own database
$c = lat('work');
is($c->{statements}, $N + $M + 1, 'the report before is counted');
is(lat('few')->{statements}, 0, 'another database: none');

# the objective set for the database (no statement in it): the verdicts
$pg->psql("ALTER DATABASE work SET pg_health.statement_objective_pct = 99.9");
$c = lat('work');
is($c->{critical}, 99, 'objective 99.9%: critical 99%');
is($c->{status}, 'unhealthy', 'more than ten times the budget gone: unhealthy');
$pg->psql("ALTER DATABASE work SET pg_health.statement_objective_pct = 90");
$c = lat('work');
is($c->{statements}, $N + $M + 3, 'every report counted');
# the reports may or may not have taken 100 ms on a loaded machine
ok($c->{value} >= sprintf('%.2f', 100 * $N / ($N + $M + 3))
   && $c->{value} <= sprintf('%.2f', 100 * ($N + 3) / ($N + $M + 3)),
   'value: the sleeps over 100 ms, the SELECT 1s within');
is($c->{status}, 'healthy', 'objective 90%: healthy');

# fewer than pg_health.statement_latency_min (20): healthy, not judged
$pg->psql(join(' ', ('SELECT pg_sleep(0.15);') x 5), db => 'few');
$c = lat('few');
is($c->{statements}, 6, 'few: 5 sleeps and the report before');
ok($c->{value} == 0 || $c->{value} == sprintf('%.2f', 100 / 6),
   'few: the sleeps over 100 ms');
is($c->{judged}, JSON::PP::false, 'few: not judged');
is($c->{status}, 'healthy', 'few: too few to judge is healthy, as min_requests');

# top-level only: a DO block's and a function's statements are the
# caller's; EXECUTE is one statement, PREPARE another; an error is none
$pg->psql(<<'SQL', db => 'nested');
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM 1; PERFORM 2; RETURN 3; END$$;
DO $$BEGIN FOR i IN 1..100 LOOP PERFORM f(); END LOOP; END$$;
SELECT f();
PREPARE p AS SELECT f();
EXECUTE p;
SQL
my ($rc) = $pg->psql('SELECT 1/0', db => 'nested', allow_error => 1);
isnt($rc, 0, 'a statement that fails');
is(lat('nested')->{statements}, 5,
   'CREATE FUNCTION, DO, SELECT, PREPARE and EXECUTE: 5');
$pg->stop;

# not preloaded: unknown with the reason, weighing nothing
my $pg2 = pg_with_extension();
my $r = report($pg2);
$c = $r->{checks}{statement_latency};
is($c->{status}, 'unknown', 'not preloaded: unknown');
is($c->{reason}, 'pg_health is not in shared_preload_libraries: statements are not timed',
   'not preloaded: the reason');
is($c->{value}, undef, 'not preloaded: value null');
is($r->{status}, 'healthy', 'not preloaded: the report stays healthy');
$pg2->stop;

done_testing;
