#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_report() carries no query text unless a superuser turns
# pg_health.report_query_text on (query_id instead); what it carries is
# valid in the report's encoding, also from a LATIN1 database; the row
# functions keep pg_stat_activity's visibility; and a second call in the
# same transaction sees the sessions as they are now.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode ();

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(conf => 'compute_query_id = on');

$pg->psql(<<'SQL');
CREATE ROLE app LOGIN;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE other LOGIN;
GRANT EXECUTE ON FUNCTION health_report(), health_slow_queries(interval) TO other;
SQL

my %low = ('pg_health.statement_warning' => '100ms',
           'pg_health.statement_critical' => '1h');

# a statement with a secret in it
bg_with_app($pg, 'secret', "SELECT pg_sleep(60) /* card 4111-1111 */",
            user => 'app');
ok(wait_for_clients($pg, 'secret', 1), 'a session runs a statement with a secret');
my ($pid) = pids_of_app($pg, 'secret');

my ($r, $raw);
ok(wait_until(sub {
    $raw = $pg->psql(set_sql(\%low) . 'SELECT health_report()', user => 'postgres');
    $r = JSON::PP->new->decode($raw);
    grep { $_->{pid} == $pid } @{ $r->{checks}{slow_queries}{sessions} };
}, timeout => 10), 'the session is a slow query');
unlike($raw, qr/4111/, 'default: the secret is nowhere in the report');
my ($s) = grep { $_->{pid} == $pid } @{ $r->{checks}{slow_queries}{sessions} };
ok(!exists $s->{query}, 'default: no query key');
my $qid = $pg->psql("SELECT query_id FROM pg_stat_activity WHERE pid = $pid");
ok(length $qid, 'the server computes a query_id');
is($s->{query_id}, $qid, 'the session is identified by its query_id instead');

# only a superuser may turn the text on
my ($rc, $out) = $pg->psql("SELECT 1 FROM health_report(); SET pg_health.report_query_text = on",
                           user => 'monitor', allow_error => 1);
isnt($rc, 0, 'pg_monitor may not turn report_query_text on');
like($out, qr/permission denied to set parameter "pg_health.report_query_text"/,
     'permission denied');

# before the library is loaded in a session PostgreSQL keeps any
# SET pg_health.* as a placeholder: a role that is not superuser gets SET,
# then a WARNING when the library loads, and the value is dropped (the
# README says so)
($rc, $out) = $pg->psql("SET pg_health.statement_warning = '1s'; "
    . "SELECT 1 FROM health_report(); SHOW pg_health.statement_warning",
    user => 'monitor', allow_error => 1);
is($rc, 0, 'before the library loads, SET by pg_monitor answers SET');
like($out, qr/WARNING:  permission denied to set parameter "pg_health\.statement_warning"/,
     'the library loading drops it with a warning');
like($out, qr/^500ms$/m, 'and the setting keeps its value');

# with the library preloaded the same SET is refused at once
{
    my $pre = pg_with_extension(conf => "shared_preload_libraries = 'pg_health'");
    $pre->psql('CREATE ROLE monitor LOGIN IN ROLE pg_monitor');
    my ($prc, $pout) = $pre->psql("SET pg_health.statement_warning = '1s'",
                                  user => 'monitor', allow_error => 1);
    isnt($prc, 0, 'preloaded: SET by pg_monitor fails');
    like($pout, qr/permission denied to set parameter "pg_health\.statement_warning"/,
         'preloaded: permission denied at once');
    $pre->stop;
}

$r = report($pg, set => { %low, 'pg_health.report_query_text' => 'on' });
($s) = grep { $_->{pid} == $pid } @{ $r->{checks}{slow_queries}{sessions} };
is($s->{query}, 'SELECT pg_sleep(60) /* card 4111-1111 */',
   'report_query_text on (superuser): the text is shown');
ok(defined $s->{query_truncated} && !$s->{query_truncated},
   'query_truncated: false for a text shown whole');

# a text over 256 bytes: cut at a character (byte 256 is the first of a
# two-byte one), and said so
{
    my $long = 'SELECT pg_sleep(60) /* ' . ('x' x 232) . ("\x{e9}" x 10) . ' */';
    my $bytes = do { my $b = $long; utf8::encode($b); $b };
    bg_with_app($pg, 'long', $bytes, user => 'app');
    ok(wait_for_clients($pg, 'long', 1), 'a session runs a long statement');
    my ($lp) = pids_of_app($pg, 'long');
    my $ls;
    ok(wait_until(sub {
        my $lr = report($pg, set => { %low, 'pg_health.report_query_text' => 'on' });
        ($ls) = grep { $_->{pid} == $lp } @{ $lr->{checks}{slow_queries}{sessions} };
        $ls && $ls->{query};
    }, timeout => 10), 'the long statement is a slow query');
    is($ls->{query}, substr($long, 0, 255),
       'its text cut before the character that byte 256 starts');
    ok($ls->{query_truncated}, 'query_truncated: true');
    $pg->psql("SELECT pg_terminate_backend($lp)");
}

# the row functions follow pg_stat_activity: app's text for monitor, not
# for a role that merely has EXECUTE
is($pg->psql("SELECT query FROM health_slow_queries('0') WHERE pid = $pid",
             user => 'monitor'),
   'SELECT pg_sleep(60) /* card 4111-1111 */', 'monitor: health_slow_queries() shows it');
is($pg->psql("SELECT count(*) FROM health_slow_queries('0') WHERE pid = $pid",
             user => 'other'), 0, 'other: the session is not listed');
is($pg->psql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid "
             . "AND query LIKE '%4111%'", user => 'other'), 0,
   'as pg_stat_activity hides it from other');

# a LATIN1 database: its sessions' text is converted, never copied raw
$pg->psql("CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' "
          . "LC_COLLATE 'C' LC_CTYPE 'C'");
$pg->psql('CREATE EXTENSION pg_health', db => 'latin');
{
    local $ENV{PGCLIENTENCODING} = 'UTF8';
    bg_with_app($pg, 'latin', "SELECT 'caf\x{c3}\x{a9}', pg_sleep(60)", db => 'latin');
}
ok(wait_for_clients($pg, 'latin', 1), 'a session of the LATIN1 database runs');
my ($lpid) = pids_of_app($pg, 'latin');
# listed among the slow queries, not merely elsewhere (the xmin horizon's
# holders carry pids too, from the statement's first millisecond on)
ok(wait_until(sub {
    $raw = $pg->psql(set_sql({ %low, 'pg_health.report_query_text' => 'on' })
                     . 'SELECT health_report()');
    $r = eval { JSON::PP->new->utf8->decode($raw) } or return 0;
    ($s) = grep { $_->{pid} == $lpid } @{ $r->{checks}{slow_queries}{sessions} };
    defined $s;
}, timeout => 10), 'the LATIN1 session is listed');
ok(eval { Encode::decode('UTF-8', my $copy = $raw, Encode::FB_CROAK); 1 },
   'the report is valid UTF-8');
is($s->{query}, "SELECT 'caf\x{e9}', pg_sleep(60)", 'the text converted from LATIN1');
is($pg->psql("SELECT query FROM health_slow_queries('0') WHERE pid = $lpid"),
   "SELECT 'caf\x{c3}\x{a9}', pg_sleep(60)", 'health_slow_queries() converts it too');

# and the other way: a UTF-8 session's text seen from the LATIN1 database,
# a character LATIN1 lacks replaced
bg_with_app($pg, 'euro', "SELECT '\x{e2}\x{82}\x{ac}5 caf\x{c3}\x{a9}', pg_sleep(60)");
ok(wait_for_clients($pg, 'euro', 1), 'a UTF-8 session with a euro sign runs');
my ($epid) = pids_of_app($pg, 'euro');
{
    local $ENV{PGCLIENTENCODING} = 'UTF8';
    is($pg->psql("SELECT query FROM health_slow_queries('0') WHERE pid = $epid",
                 db => 'latin'),
       "SELECT '?5 caf\x{c3}\x{a9}', pg_sleep(60)",
       'from LATIN1: the euro sign replaced, the rest converted');
}

# a second report in the same transaction sees a session end
my $sql = set_sql(\%low) . "BEGIN; "
    . "SELECT count(*) FROM jsonb_array_elements(health_report()->'checks'->'slow_queries'->'sessions') s WHERE (s->>'pid')::int = $pid; "
    . "SELECT pg_terminate_backend($pid, 20000); "
    . "SELECT count(*) FROM jsonb_array_elements(health_report()->'checks'->'slow_queries'->'sessions') s WHERE (s->>'pid')::int = $pid; "
    . "SELECT count(*) FROM health_slow_queries('0') WHERE pid = $pid; "
    . "COMMIT;";
is($pg->psql($sql), join("\n", 1, 't', 0, 0),
   'in one transaction: listed, terminated, then gone from the report and the rows');

$pg->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          . "WHERE application_name IN ('latin', 'euro')");
$pg->kill_bg;
$pg->stop;
done_testing;
