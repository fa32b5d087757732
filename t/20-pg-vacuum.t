#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The vacuum check's blind spots: a table past autovacuum's trigger that
# was never vacuumed is overdue once the server has been up longer than
# pg_health.vacuum_overdue; TOAST tables are judged too, with their own
# reloptions (toast.autovacuum_enabled).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# autovacuum on, but its first visit a day away: nothing gets vacuumed
# while the test runs, as when autovacuum is cancelled again and again
my $pg = pg_with_extension(conf => "autovacuum_naptime = '1d'");

$pg->psql(<<'SQL');
CREATE TABLE never (id int);
INSERT INTO never SELECT g FROM generate_series(1, 5000) g;
DELETE FROM never;
CREATE TABLE docs (id int, body text) WITH (toast.autovacuum_enabled = false);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs SELECT g, repeat('x', 3000) FROM generate_series(1, 4000) g;
DELETE FROM docs;
SQL

my $toast = $pg->psql("SELECT c.reltoastrelid::regclass FROM pg_class c "
                      . "WHERE c.relname = 'docs'");
$toast =~ s/^pg_toast\.//;
my $r;
ok(wait_until(sub {
    $r = report($pg);
    my %t = map { $_->{relname} => $_ } @{ $r->{checks}{vacuum}{tables} };
    $t{never} && $t{$toast};
}, timeout => 15), 'both tables are past their trigger (statistics flushed)');

my %t = map { $_->{relname} => $_ } @{ $r->{checks}{vacuum}{tables} };
is($t{$toast}{schemaname}, 'pg_toast', 'the TOAST table is listed');
is($t{$toast}{toast_of}, 'public.docs', 'with the table it belongs to');
cmp_ok($t{$toast}{n_dead_tup}, '>=', 8000, 'its dead chunks counted');
is($t{$toast}{overdue}, JSON::PP::true, 'overdue');
is($t{$toast}{reason}, 'autovacuum_enabled is off for the TOAST table', 'and why');
is($t{$toast}{autovacuum_enabled}, JSON::PP::false, 'its own reloption read');

is($t{never}{last_vacuum}, undef, 'never vacuumed');
is($t{never}{overdue}, JSON::PP::false, 'not overdue while the server is young');

# the server has been up longer than a short vacuum_overdue
ok(wait_until(sub {
    $r = report($pg, set => {'pg_health.vacuum_overdue' => '1s'});
    my ($n) = grep { $_->{relname} eq 'never' } @{ $r->{checks}{vacuum}{tables} };
    $n && $n->{overdue};
}, timeout => 10), 'never vacuumed, up longer than vacuum_overdue: overdue');
my ($n) = grep { $_->{relname} eq 'never' } @{ $r->{checks}{vacuum}{tables} };
like($n->{reason}, qr/never vacuumed/, 'the reason says so');
is($r->{checks}{vacuum}{value}, 3, 'three overdue: never, docs (never vacuumed) and its TOAST table');
is($r->{checks}{vacuum}{status}, 'degraded', 'vacuum degraded');

# the dead tuples check sees the TOAST table too
my ($d) = grep { $_->{relname} eq $toast } @{ $r->{checks}{dead_tuples}{tables} };
ok($d, 'dead_tuples lists the TOAST table');
is($d->{status}, 'unhealthy', 'all dead: unhealthy');

# the pass over the statistics (min_dead > 0) finds what the scan of
# pg_class (min_dead 0) finds: a TOAST table taking its table's options
# (autovacuum_enabled off on the table only), one renamed so that its
# owner cannot be told from its name (the scan is used then), and a table
# in a schema of its own
$pg->psql(<<'SQL');
CREATE SCHEMA other;
CREATE TABLE other.notes (id int, body text) WITH (autovacuum_enabled = false);
ALTER TABLE other.notes ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO other.notes SELECT g, repeat('y', 3000) FROM generate_series(1, 2000) g;
DELETE FROM other.notes;
SQL
my $cols = "schemaname, relname, n_live_tup, n_dead_tup, vacuum_threshold, "
         . "last_autovacuum, last_vacuum, status";
my $same = sub {
    my ($what) = @_;
    my $fast = $pg->psql("SELECT $cols FROM health_dead_tuples(1) ORDER BY 1, 2");
    my $scan = $pg->psql("SELECT $cols FROM health_dead_tuples(0) "
                         . "WHERE n_dead_tup >= 1 ORDER BY 1, 2");
    is($fast, $scan, "$what: the pass over the statistics equals the scan")
        or diag "fast:\n$fast\nscan:\n$scan";
    return $fast;
};
my $notes_toast = $pg->psql("SELECT c.reltoastrelid::regclass FROM pg_class c "
                            . "WHERE c.relname = 'notes'") =~ s/^pg_toast\.//r;
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM health_dead_tuples(1) WHERE relname = '$notes_toast'") eq '1'
}, timeout => 15), 'the new TOAST table\'s dead chunks are counted');
my $fast = $same->('TOAST tables named after their owners');
like($fast, qr/^pg_toast\|\Q$notes_toast\E\|/m, 'the TOAST table of other.notes is listed');
($d) = grep { $_->{relname} eq $notes_toast } @{ report($pg)->{checks}{vacuum}{tables} };
is($d && $d->{autovacuum_enabled}, JSON::PP::false,
   'it takes autovacuum_enabled = off from its table');
is($d && $d->{toast_of}, 'other.notes', 'and names it');

$pg->psql("ALTER TABLE pg_toast.$notes_toast RENAME TO renamed_toast",
          allow_error => 1);
$pg->psql('SET allow_system_table_mods = on; '
          . "ALTER TABLE pg_toast.$notes_toast RENAME TO renamed_toast");
$fast = $same->('a TOAST table renamed');
like($fast, qr/^pg_toast\|renamed_toast\|/m, 'the renamed TOAST table is listed');

# a vacuum clears them all
$pg->psql('VACUUM never, docs, other.notes');
$r = report($pg, set => {'pg_health.vacuum_overdue' => '1s'});
is($r->{checks}{vacuum}{past_trigger}, 0, 'after VACUUM nothing is past its trigger');
is($r->{checks}{vacuum}{status}, 'healthy', 'vacuum healthy');

$pg->stop;
done_testing;
