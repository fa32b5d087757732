#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The statements check at pg_stat_statements' default size (5000 entries):
# it reads pg_stat_statements(false) once, in C, keeping the top five by
# mean (of the statements with pg_health.statements_min_calls calls) and by
# total; its lists and counts must be what SQL over the view gives, in
# ORDER BY mean_exec_time DESC, queryid, userid, dbid (and the same by
# total), for a superuser and for a role that sees other roles' queryids
# as NULL (NULLs last, then userid, dbid).  A session reuses its last read
# for pg_health.statements_cache seconds and says the figures' age
# (age_s); 0 reads on every call; another role or other settings read
# again.  No timing is asserted here: the cost is measured in the bench.
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
          . "pg_stat_statements.max = 5000\n"
          . "pg_stat_statements.track = top\n");
$pg->psql(<<'SQL');
CREATE EXTENSION pg_stat_statements;
CREATE ROLE app LOGIN;
GRANT EXECUTE ON FUNCTION health_report() TO app;
SELECT pg_stat_statements_reset();
SQL

# 4600 statements of distinct shapes (an array of A elements and a row of
# B: constants are normalised, list lengths are not), each top-level; the
# first 300 run twice and again as app, so there are judged ones of two
# roles, and app's own rows
my @stmts;
for my $a (1 .. 70) {
    for my $b (1 .. 66) {
        push @stmts, 'SELECT ARRAY[' . join(',', (1) x $a) . '], ROW('
            . join(',', (2) x $b) . ');';
    }
}
splice @stmts, 4600;
is(scalar @stmts, 4600, '4600 distinct statements');
for (my $i = 0; $i < @stmts; $i += 200) {
    $pg->psql(join ' ', @stmts[$i .. ($i + 199 > $#stmts ? $#stmts : $i + 199)]);
}
$pg->psql(join ' ', @stmts[0 .. 299]);
$pg->psql(join(' ', @stmts[0 .. 299], @stmts[0 .. 299]), user => 'app');

my $V = 'pg_stat_statements';
my $COLS = "queryid::text AS queryid, calls, mean_exec_time, total_exec_time, "
    . "max_exec_time, rows, d.datname, r.rolname AS usename";
my $FROM = "$V p LEFT JOIN pg_database d ON d.oid = p.dbid "
    . "LEFT JOIN pg_roles r ON r.oid = p.userid";

sub report_and_view {
    my (%o) = @_;
    my $min = 2;
    my $warning = 10;
    my $set = {'pg_health.statements_min_calls' => $min,
               'pg_health.statement_warning' => "${warning}ms",
               'pg_health.statements_cache' => 0};
    # a non-superuser session cannot SET these; app has them as its own
    my $sql = "SELECT json_build_object("
        . "'r', health_report(), "
        . "'n', (SELECT count(*) FROM $V), "
        . "'judged', (SELECT count(*) FROM $V WHERE calls >= $min), "
        . "'over', (SELECT count(*) FROM $V WHERE calls >= $min "
        . "         AND mean_exec_time >= $warning), "
        . "'hidden', (SELECT count(*) FROM $V WHERE queryid IS NULL), "
        . "'by_mean', (SELECT json_agg(s) FROM (SELECT $COLS FROM $FROM "
        . "  WHERE calls >= $min ORDER BY mean_exec_time DESC, p.queryid, "
        . "  p.userid, p.dbid LIMIT 5) AS s), "
        . "'by_total', (SELECT json_agg(s) FROM (SELECT $COLS FROM $FROM "
        . "  ORDER BY total_exec_time DESC, p.queryid, p.userid, p.dbid "
        . "  LIMIT 5) AS s))";
    return $o{user}
        ? psql_json($pg, $sql, user => $o{user})
        : psql_json($pg, $sql, set => $set);
}

sub ms { defined $_[0] ? sprintf('%.3f', $_[0]) : 'null' }

sub entry {
    my ($e, $from_view) = @_;
    return join ' ', map { $_ // 'null' } $e->{queryid}, $e->{calls},
        ms($from_view ? $e->{mean_exec_time} : $e->{mean_ms}),
        ms($from_view ? $e->{total_exec_time} : $e->{total_ms}),
        ms($from_view ? $e->{max_exec_time} : $e->{max_ms}),
        $e->{rows}, $e->{datname}, $e->{usename};
}

sub same_as_view {
    my ($d, $who) = @_;
    my $c = $d->{r}{checks}{statements};
    is($c->{status} eq 'unknown' ? $c->{reason} : undef, undef,
       "$who: read");
    is($c->{entries}, $d->{n}, "$who: entries as the view ($d->{n})");
    is($c->{judged}, $d->{judged}, "$who: judged as the view ($d->{judged})");
    is($c->{count}, $d->{over}, "$who: count over the warning as the view");
    is($c->{not_visible}, $d->{hidden}, "$who: not_visible as the view");
    is($c->{age_s}, 0, "$who: figures read now");
    for my $list ('by_mean', 'by_total') {
        is_deeply([ map { entry($_, 0) } @{ $c->{$list} } ],
                  [ map { entry($_, 1) } @{ $d->{$list} || [] } ],
                  "$who: $list as ORDER BY over the view");
    }
    is(ms($c->{value}), ms($d->{by_mean}[0]{mean_exec_time}),
       "$who: value is the worst judged mean");
}

# a superuser sees every queryid
my $d = report_and_view();
cmp_ok($d->{n}, '>=', 4900, "the view holds the 4600, app's 300 and more ($d->{n})");
cmp_ok($d->{n}, '<', 5000, 'none evicted yet');
cmp_ok($d->{judged}, '>=', 300, 'the 300 run again are judged');
is($d->{hidden}, 0, 'superuser: no queryid hidden');
same_as_view($d, 'superuser');

# app sees its own queryids only: the superuser's rows have NULL queryids,
# ordered after the visible ones and among themselves by userid, dbid
$pg->psql(<<'SQL');
ALTER ROLE app SET pg_health.statements_min_calls = 2;
ALTER ROLE app SET pg_health.statement_warning = '10ms';
ALTER ROLE app SET pg_health.statements_cache = 0;
SQL
$d = report_and_view(user => 'app');
cmp_ok($d->{hidden}, '>', 4000, "app: the view hides the superuser's queryids");
cmp_ok($d->{judged} - 300, '>', 0, 'app: judged ones of both roles');
same_as_view($d, 'app');

# the cache: in one session, a report, a statement of a new shape, and the
# report and the view in one statement
my $STMT = "(health_report()->'checks'->'statements')";
my $NEW = 0;
sub two_reads {
    my (%o) = @_;
    my $new = 'SELECT ARRAY[1], ROW(' . join(',', (3) x (100 + $NEW++)) . ') WHERE false; ';
    my $out = $pg->psql(set_sql({'pg_health.statements_min_calls' => 2,
                                 'pg_health.statement_warning' => '10ms',
                                 'pg_health.statements_cache' => $o{cache}})
        . "SELECT $STMT; $new" . ($o{between} // '')
        . "SELECT json_build_object('s', $STMT, "
        . "'n', (SELECT count(*) FROM $V), "
        . "'judged', (SELECT count(*) FROM $V WHERE calls >= $o{min}), "
        . "'hidden', (SELECT count(*) FROM $V WHERE queryid IS NULL))");
    my @l = split /\n/, $out;
    is(scalar @l, 2, 'two reports');
    return (decode_json($l[0]), decode_json($l[1]));
}

sub figures {
    my ($c) = @_;
    return [ map { $c->{$_} } qw(entries judged count not_visible value) ],
           [ map { entry($_, 0) } @{ $c->{by_mean} }, @{ $c->{by_total} } ];
}

# kept: the second report gives the first one's figures, with their age
my ($first, $second) = two_reads(cache => 3600, min => 2);
is($first->{age_s}, 0, 'cache: the first report reads');
is_deeply([ figures($second->{s}) ], [ figures($first) ],
          'cache: the second report gives the same figures');
cmp_ok($second->{n}, '>', $first->{entries},
       'though the view has more entries now');
like($second->{s}{age_s}, qr/^\d+(\.\d+)?$/, 'cache: age_s says their age');
cmp_ok($second->{s}{age_s}, '<', 3600, 'within pg_health.statements_cache');

# 0: every report reads
($first, $second) = two_reads(cache => 0, min => 2);
is($second->{s}{age_s}, 0, 'cache 0: the second report reads too');
is($second->{s}{entries}, $second->{n}, 'cache 0: entries as the view now');
cmp_ok($second->{s}{entries}, '>', $first->{entries}, 'cache 0: the new entry is counted');

# other settings read again
($first, $second) = two_reads(cache => 3600, min => 3,
    between => "SET pg_health.statements_min_calls = 3; ");
is($second->{s}{age_s}, 0, 'another min_calls: read again');
is($second->{s}{judged}, $second->{judged}, 'judged as the view with min_calls 3');
is($second->{s}{entries}, $second->{n}, 'entries as the view now');

# another role reads again: what pg_stat_statements shows depends on it
($first, $second) = two_reads(cache => 3600, min => 2, between => 'SET ROLE app; ');
is($first->{not_visible}, 0, 'superuser: nothing hidden');
is($second->{s}{age_s}, 0, 'another role: read again');
cmp_ok($second->{hidden}, '>', 0, 'app: the view hides queryids');
is($second->{s}{not_visible}, $second->{hidden}, 'app: not_visible as the view');

# a failed read is not kept: no privilege, then unknown at once
$pg->psql('REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM PUBLIC');
my $out = $pg->psql("SELECT $STMT->>'status'; SELECT $STMT->>'status'", user => 'app');
is($out, "unknown\nunknown", 'no privilege: unknown, never a kept read');

$pg->stop;
done_testing;
