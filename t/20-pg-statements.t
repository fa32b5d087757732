#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_report()'s statements check reads pg_stat_statements(false): the
# top statements by mean (of those with pg_health.statements_min_calls
# calls) and by total time, with queryid and figures equal to what
# pg_stat_statements' own view shows, judged against the statement
# thresholds; no query text.  Not installed in the database: unknown with
# the reason, weighing nothing in the report.  Installed but not loaded, or
# not executable by the caller: unknown with the reason, and the report
# goes on with its other checks.
#
# The report and the view are read in one statement, so no statement is
# recorded between them (pg_stat_statements records a statement when it
# ends) and the figures are equal by construction.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(
    conf => "shared_preload_libraries = 'pg_stat_statements'\n"
          . "pg_stat_statements.track = top\n");

# not installed in this database: unknown with the reason, weighing nothing
my $r = report($pg);
my $c = $r->{checks}{statements};
is($c->{status}, 'unknown', 'not installed: unknown');
is($c->{reason}, 'pg_stat_statements is not installed in database "postgres"',
   'not installed: the reason');
is($c->{value}, undef, 'not installed: value null');
is($r->{status}, 'healthy', 'not installed: the report is still healthy');

# installed in a schema of its own whose name needs quoting
my $S = '"pgss Stats"';
$pg->psql(qq{CREATE SCHEMA $S; CREATE EXTENSION pg_stat_statements SCHEMA $S;});
$pg->psql(qq{SELECT $S.pg_stat_statements_reset()});

# 20 slow ones and 50 fast ones, each its own top-level statement
$pg->psql(join ' ', ('SELECT pg_sleep(0.05);') x 20);
$pg->psql(join ' ', ('SELECT 42;') x 50);

# the report and the view in one statement
my $VIEW = "$S.pg_stat_statements";
sub row_of {
    my ($text) = @_;
    return "(SELECT row_to_json(s) FROM (SELECT queryid::text AS queryid, calls, "
        . "mean_exec_time, total_exec_time, max_exec_time, rows "
        . "FROM $VIEW WHERE query = '$text') AS s)";
}
sub report_and_view {
    my (%o) = @_;
    my $min = $o{min_calls} // 20;
    my $warning = $o{warning} // 10;
    return psql_json($pg, "SELECT json_build_object("
        . "'r', health_report(), "
        . "'n', (SELECT count(*) FROM $VIEW), "
        . "'judged', (SELECT count(*) FROM $VIEW WHERE calls >= $min), "
        . "'over', (SELECT count(*) FROM $VIEW WHERE calls >= $min "
        . "         AND mean_exec_time >= $warning), "
        . "'hidden', (SELECT count(*) FROM $VIEW WHERE queryid IS NULL), "
        . "'sleep', " . row_of('SELECT pg_sleep($1)') . ", "
        . "'fast', " . row_of('SELECT $1') . ")", %o{qw(set user)});
}

sub ms { sprintf '%.3f', $_[0] }

my $set = {'pg_health.statements_min_calls' => 20,
           'pg_health.statement_warning' => '10ms'};
my $d = report_and_view(set => $set);
$c = $d->{r}{checks}{statements};
my $sleep = $d->{sleep};
my $fast = $d->{fast};
is($sleep->{calls}, 20, 'the view: 20 sleeps');
is($fast->{calls}, 50, 'the view: 50 fast ones');

is($c->{status}, 'degraded', 'a mean over the 10ms warning: degraded');
is($d->{r}{status}, 'degraded', 'the report is degraded');
is($c->{unit}, 'ms', 'unit ms');
is_deeply([$c->{warning}, $c->{critical}], [10, 2000], 'the statement thresholds');
is($c->{min_calls}, 20, 'min_calls');
is($c->{entries}, $d->{n}, "entries: every row of the view ($d->{n})");
is($c->{judged}, $d->{judged}, 'judged: the rows with 20 calls or more');
is($c->{judged}, 2, 'judged: the sleep and the fast one');
is($c->{count}, $d->{over}, 'count: the judged rows over the warning');
is($c->{count}, 1, 'count: the sleep alone');
is($c->{not_visible}, 0, 'a superuser sees every queryid');

my $top = $c->{by_mean}[0];
is($top->{queryid}, $sleep->{queryid}, 'top by mean: the sleep\'s queryid');
is($top->{calls}, 20, 'top by mean: 20 calls');
is(ms($top->{mean_ms}), ms($sleep->{mean_exec_time}), 'mean_ms as the view');
is(ms($top->{total_ms}), ms($sleep->{total_exec_time}), 'total_ms as the view');
is(ms($top->{max_ms}), ms($sleep->{max_exec_time}), 'max_ms as the view');
is($top->{rows}, 20, 'rows: one a sleep');
is($top->{status}, 'degraded', 'the sleep is degraded');
is($top->{datname}, 'postgres', 'datname');
is($top->{usename}, 'postgres', 'usename');
is(ms($c->{value}), ms($sleep->{mean_exec_time}), 'value: the worst mean');
is(scalar @{ $c->{by_mean} }, 2, 'by_mean lists the judged ones only');
is($c->{by_mean}[1]{queryid}, $fast->{queryid}, 'the fast one second');
is($c->{by_mean}[1]{calls}, 50, 'the fast one: 50 calls');
is($c->{by_mean}[1]{status}, 'healthy', 'the fast one: healthy');
is($c->{by_total}[0]{queryid}, $sleep->{queryid}, 'top by total: the sleep');
is(scalar @{ $c->{by_total} }, $d->{n} < 5 ? $d->{n} : 5,
   'by_total: the top five of every row');

# no query text anywhere, even with pg_health.report_query_text on
for my $qt ('off', 'on') {
    my $raw = $pg->psql(set_sql({%$set, 'pg_health.report_query_text' => $qt})
                        . 'SELECT health_report()');
    unlike($raw, qr/pg_sleep|SELECT/i, "report_query_text=$qt: no query text");
}

# critical within reach: unhealthy
$d = report_and_view(set => {%$set, 'pg_health.statement_critical' => '40ms'});
is($d->{r}{checks}{statements}{status}, 'unhealthy', 'over the 40ms critical: unhealthy');
is($d->{r}{checks}{statements}{by_mean}[0]{status}, 'unhealthy', 'the sleep: unhealthy');

# the defaults: 100 calls before a statement is judged, 500ms warning
$d = report_and_view(min_calls => 100, warning => 500);
$c = $d->{r}{checks}{statements};
is($c->{min_calls}, 100, 'default min_calls 100');
is($c->{judged}, $d->{judged}, 'defaults: judged as the view says');
is($c->{judged}, 0, 'defaults: none has 100 calls');
is($c->{status}, 'healthy', 'defaults: healthy');
is($c->{value}, 0, 'defaults: value 0');
is_deeply($c->{by_mean}, [], 'defaults: by_mean empty');
is($c->{by_total}[0]{queryid}, $d->{sleep}{queryid}, 'defaults: by_total still lists');
is($c->{by_total}[0]{status}, undef, 'a statement with too few calls is not judged');

# a warning over its critical: unknown
$d = report_and_view(set => {%$set, 'pg_health.statement_critical' => '5ms'});
is($d->{r}{checks}{statements}{status}, 'unknown', 'warning over critical: unknown');
like($d->{r}{checks}{statements}{reason}, qr/do not fit together/, 'and why');

# a role outside pg_read_all_stats: pg_stat_statements hides other roles'
# queryids but shows their figures, so the check still judges
$pg->psql(<<'SQL');
CREATE ROLE app LOGIN;
GRANT EXECUTE ON FUNCTION health_report() TO app;
GRANT USAGE ON SCHEMA "pgss Stats" TO app;
ALTER ROLE app SET pg_health.statements_min_calls = 20;
ALTER ROLE app SET pg_health.statement_warning = '10ms';
SQL
$d = report_and_view(user => 'app');
$c = $d->{r}{checks}{statements};
cmp_ok($d->{hidden}, '>', 0, 'app: the view hides some queryids');
is($c->{not_visible}, $d->{hidden}, 'app: not_visible as the view');
is($c->{status}, 'degraded', 'app: still judged');
is($c->{by_mean}[0]{queryid}, undef, 'app: the superuser\'s sleep has no queryid');
is($c->{by_mean}[0]{calls}, 20, 'app: but its figures');

# a role that may not call pg_stat_statements: unknown, the report goes on
$pg->psql(qq{REVOKE EXECUTE ON FUNCTION $S.pg_stat_statements(boolean) FROM PUBLIC});
$r = psql_json($pg, 'SELECT health_report()', user => 'app');
$c = $r->{checks}{statements};
is($c->{status}, 'unknown', 'no privilege: unknown');
like($c->{reason}, qr/^pg_stat_statements could not be read: permission denied for function pg_stat_statements$/,
     'no privilege: the reason');
is($r->{status}, 'degraded', 'no privilege: the unknown weighs as degraded');
is($r->{checks}{connections}{status}, 'healthy', 'no privilege: the other checks are there');
$pg->stop;

# installed but not in shared_preload_libraries
my $pg2 = pg_with_extension();
$pg2->psql('CREATE EXTENSION pg_stat_statements');
$r = report($pg2);
$c = $r->{checks}{statements};
is($c->{status}, 'unknown', 'not preloaded: unknown');
# PostgreSQL 17 quotes the setting's name in its message
like($c->{reason}, qr/^pg_stat_statements could not be read: pg_stat_statements must be loaded via "?shared_preload_libraries"?$/,
     'not preloaded: the reason');
is($r->{status}, 'degraded', 'not preloaded: the report is degraded');

# the error was rolled back with its subtransaction: the transaction and
# the session go on
is($pg2->psql('BEGIN; CREATE TABLE t (a int); SELECT health_report()->>\'status\'; '
              . 'INSERT INTO t VALUES (1); COMMIT; SELECT count(*) FROM t'),
   "degraded\n1", 'the caller\'s transaction goes on and commits');

# a cancel inside is not swallowed: statement_timeout still ends the call
my ($rc, $out) = $pg2->psql("SET statement_timeout = '1ms'; "
                            . "SELECT health_report() FROM generate_series(1, 100000)",
                            allow_error => 1);
isnt($rc, 0, 'statement_timeout ends health_report()');
like($out, qr/canceling statement due to statement timeout/, 'with the timeout\'s error');

$pg2->stop;
done_testing;
