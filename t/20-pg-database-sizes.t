#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_report()'s disk check shows each database's size as the
# "pg_health worker" background worker last measured it, with
# pg_database_size(oid), every pg_health.database_sizes_interval: the
# report reads shared memory only.  Sizes are compared exactly with
# pg_database_size() on a quiescent cluster (autovacuum off, a CHECKPOINT
# after each change), once a round that started after the change is shown.
# A database grown once the worker says (database_sizes_interval_s) it
# runs with an hour between rounds keeps its old size and the age grows:
# the worker rereads its settings between rounds only, so none can come;
# the interval brought down, the new size comes.  A dropped database is
# gone after the next round.  Without the worker (not preloaded, interval
# 0) the sizes are null with the reason and the disk check's verdict is
# the file systems' alone.  A hot standby's worker measures the standby's
# own files.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# as psql prints it and JSON::PP (not ->utf8) reads it: UTF-8 bytes
my $WEIRD = "we\"ird\\caf\xc3\xa9";

sub disk { report($_[0], %{ $_[1] // {} })->{checks}{disk} }

# the disk check, once it shows a round that started after $t (the time
# taken before the report is a lower bound of the server's); deadlines are
# a minute, as a loaded machine may be slow to run a round or a reload
sub round_after {
    my ($pg, $t, %o) = @_;
    my $d;
    wait_until(sub {
        my $asked = time;
        $d = disk($pg, \%o);
        return defined $d->{database_sizes_age_s}
            && $asked - $d->{database_sizes_age_s}
               - $d->{database_sizes_took_ms} / 1000 > $t;
    }, timeout => 60);
    return $d;
}

# { name => bytes } as pg_database_size() says, and as the check lists them
sub pg_sizes {
    my ($pg) = @_;
    my %s;
    for (split /\n/, $pg->psql("SELECT datname || '|' || pg_database_size(oid) "
                               . "FROM pg_database")) {
        my ($n, $b) = /^(.*)\|(\d+)$/s or die "bad row $_";
        $s{$n} = $b;
    }
    return \%s;
}

sub listed { return { map { $_->{name} => $_->{size_bytes} } @{ $_[0]{databases} } } }

sub sum { my $t = 0; $t += $_ for @_; return $t }

# the disk check, once the worker says it runs with $s between rounds: it
# rereads its settings between rounds only
sub interval_is {
    my ($pg, $s) = @_;
    my $d;
    wait_until(sub {
        $d = disk($pg);
        return defined $d->{database_sizes_interval_s}
            && $d->{database_sizes_interval_s} == $s;
    }, timeout => 60);
    return $d;
}

# the disk check's verdict without the sizes: the file systems' worst
sub fs_verdict {
    my ($d) = @_;
    my %rank = (unhealthy => 0, degraded => 1, unknown => 2, healthy => 3);
    my ($w) = sort { $rank{$a} <=> $rank{$b} }
              map { $_->{status} } @{ $d->{file_systems} };
    return $w;
}

# not preloaded: no worker, the sizes say why, the verdict is untouched
my $pg = pg_with_extension();
my $d = disk($pg);
is($d->{databases}, undef, 'not preloaded: databases null');
is($d->{databases_count}, undef, 'databases_count null');
is($d->{database_sizes_age_s}, undef, 'no age');
is($d->{database_sizes_took_ms}, undef, 'no cost');
is($d->{database_sizes_interval_s}, undef, 'no worker\'s interval');
is($d->{database_sizes_reason}, 'pg_health is not in shared_preload_libraries: '
   . 'database sizes are not measured', 'and why');
is($d->{status}, fs_verdict($d), 'the status is the file systems\' alone');
is($pg->psql("SELECT count(*) FROM pg_stat_activity "
             . "WHERE backend_type = 'pg_health worker'"), 0,
   'and no worker');
$pg->stop;

$pg = pg_with_extension(conf => "shared_preload_libraries = 'pg_health'\n"
                        . "pg_health.database_sizes_interval = '1s'\n"
                        . "autovacuum = off\n");
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_stat_activity "
              . "WHERE backend_type = 'pg_health worker'") == 1 },
              timeout => 60),
   'preloaded: the worker runs');
is($pg->psql("SELECT datname IS NULL FROM pg_stat_activity "
             . "WHERE backend_type = 'pg_health worker'"), 't',
   'connected to no database');

$pg->psql('CREATE DATABASE sizes');
(my $quoted = $WEIRD) =~ s/"/""/g;
$pg->psql(qq{CREATE DATABASE "$quoted"});
$pg->psql("CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad "
          . "FROM generate_series(1, 20000) g", db => 'sizes');
$pg->psql('CHECKPOINT');
my $t0 = time;

$d = round_after($pg, $t0);
my $want = pg_sizes($pg);
is(scalar(keys %$want), 5, 'five databases');
is_deeply(listed($d), $want, 'each size is pg_database_size(), exactly');
is_deeply([map { $_->{size_bytes} } @{ $d->{databases} }],
          [sort { $b <=> $a } values %$want], 'largest first');
is($d->{databases}[0]{name}, 'sizes', 'the one with the table is the largest');
ok(exists listed($d)->{$WEIRD}, 'a name with a quote, a backslash and UTF-8 '
   . 'comes through the JSON');
is($d->{databases_count}, 5, 'databases_count');
is($d->{databases_total_bytes}, sum(values %$want), 'databases_total_bytes: '
   . 'their sum');
is_deeply([@$d{qw(databases_not_visible databases_failed)}], [0, 0],
          'none hidden, none failed');
is($d->{database_sizes_reason}, undef, 'no reason');
cmp_ok($d->{database_sizes_took_ms}, '>', 0, 'the round took some time');
cmp_ok($d->{database_sizes_age_s}, '<', time - $t0, 'and is recent: of a '
       . 'round that started after the change');
is($d->{database_sizes_interval_s}, 1, 'the worker runs with a second');
is($d->{status}, fs_verdict($d), 'the status is the file systems\' alone');

# the report does not measure: an hour between rounds, the database grows
$pg->psql("ALTER SYSTEM SET pg_health.database_sizes_interval = '1h'");
$pg->psql('SELECT pg_reload_conf()');
# the worker rereads its settings between rounds and decides the next
# with what it publishes: once it says an hour, no round comes for one
my $before = interval_is($pg, 3600);
is($before->{database_sizes_interval_s}, 3600, 'an hour: the worker has '
   . 'taken it');
my $old = pg_sizes($pg);
is_deeply(listed($before), $old, 'the last round\'s sizes');

$pg->psql("INSERT INTO t SELECT g, repeat('y', 200) "
          . "FROM generate_series(1, 20000) g", db => 'sizes');
$pg->psql('CHECKPOINT');
my $grown = pg_sizes($pg);
cmp_ok($grown->{sizes}, '>', $old->{sizes}, 'the database grew');

my $after = disk($pg);
is(listed($after)->{sizes}, $old->{sizes}, 'the report still shows the old size');
is($after->{database_sizes_took_ms}, $before->{database_sizes_took_ms},
   'from the same round');
cmp_ok($after->{database_sizes_age_s}, '>', $before->{database_sizes_age_s},
       'whose age grows');

$pg->psql("ALTER SYSTEM SET pg_health.database_sizes_interval = '1s'");
my $t1 = time;
$pg->psql('SELECT pg_reload_conf()');
$d = round_after($pg, $t1);
is_deeply(listed($d), pg_sizes($pg), 'a second between rounds again: the new sizes');
is(listed($d)->{sizes}, $grown->{sizes}, 'the grown one\'s too');

# a role sees the sizes pg_database_size() would show it
$pg->psql('CREATE ROLE plain LOGIN; '
          . 'GRANT EXECUTE ON FUNCTION health_report() TO plain; '
          . 'REVOKE CONNECT ON DATABASE sizes FROM PUBLIC');
$d = disk($pg, { user => 'plain' });
$want = pg_sizes($pg);
ok(!exists listed($d)->{sizes}, 'no size of a database the role may not connect to');
is($d->{databases_not_visible}, 1, 'counted as not visible');
is($d->{databases_count}, 4, 'the four others');
is($d->{databases_total_bytes}, sum(values %$want) - $want->{sizes},
   'and only theirs in the total');
$pg->psql('GRANT pg_read_all_stats TO plain');
$d = disk($pg, { user => 'plain' });
is($d->{databases_count}, 5, 'pg_read_all_stats: all five');
is($d->{databases_not_visible}, 0, 'none hidden');

# a database dropped: gone after the next round
$pg->psql('DROP DATABASE sizes');
my $t2 = time;
$d = round_after($pg, $t2);
ok(!exists listed($d)->{sizes}, 'dropped: gone from the list');
is($d->{databases_count}, 4, 'four databases');
is_deeply(listed($d), pg_sizes($pg), 'the others\' sizes');
is($d->{databases_failed}, 0, 'nothing failed');

# a name that is not UTF-8 (made in a SQL_ASCII database) becomes ?; six
# databases: five listed, all six counted (then five: the odd one listed)
$pg->psql("CREATE DATABASE ascii ENCODING SQL_ASCII TEMPLATE template0 "
          . "LC_COLLATE 'C' LC_CTYPE 'C'");
$pg->psql(qq{CREATE DATABASE "caf\xe9"}, db => 'ascii');
my $t4 = time;
$d = round_after($pg, $t4);
$want = pg_sizes($pg);
is($d->{databases_count}, 6, 'six databases counted');
is(scalar @{ $d->{databases} }, 5, 'five listed');
is($d->{databases_total_bytes}, sum(values %$want), 'all six in the total');
$pg->psql(qq{DROP DATABASE "$quoted"});
$d = round_after($pg, time);
is(listed($d)->{'caf?'},
   $pg->psql("SELECT pg_database_size(oid) FROM pg_database "
             . "WHERE datname LIKE 'caf_'"),
   'a byte that is not UTF-8 becomes ?');
$pg->psql(qq{DROP DATABASE "caf\xe9"}, db => 'ascii');
$pg->psql('DROP DATABASE ascii');

# interval 0: no sizes, the reason, the verdict untouched
$pg->psql("ALTER SYSTEM SET pg_health.database_sizes_interval = 0");
$pg->psql('SELECT pg_reload_conf()');
ok(wait_until(sub { !defined disk($pg)->{databases} }, timeout => 60),
   'interval 0: no sizes');
$d = interval_is($pg, 0);
is($d->{database_sizes_interval_s}, 0, 'the worker has taken it');
is($d->{database_sizes_reason}, 'pg_health.database_sizes_interval is 0: '
   . 'database sizes are not measured', 'and why');
is($d->{database_sizes_age_s}, undef, 'no age');
is($d->{status}, fs_verdict($d), 'the status is the file systems\' alone');

# the worker ends with the server, and comes back with it
unlike(slurp($pg->log_file), qr/pg_health could not measure/,
       'no measurement failed in the log');
$pg->stop(mode => 'fast');
$pg->restart;
$pg->psql("ALTER SYSTEM SET pg_health.database_sizes_interval = '1s'");
my $t3 = time;
$pg->psql('SELECT pg_reload_conf()');
$d = round_after($pg, $t3);
is_deeply(listed($d), pg_sizes($pg), 'after a restart: measured again');

# a hot standby measures its own files, as its pg_database_size() does
my $standby = $pg->standby;
is($standby->psql('SELECT pg_is_in_recovery()'), 't', 'in recovery');

$pg->psql('CREATE DATABASE replicated');
$pg->psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 50000) g",
          db => 'replicated');
my $lsn = $pg->psql('SELECT pg_current_wal_lsn()');
ok(wait_until(sub { $standby->psql("SELECT pg_last_wal_replay_lsn() >= '$lsn'")
                    eq 't' }, timeout => 60), 'the standby replayed it');
my $t5 = time;
$d = round_after($standby, $t5);
is_deeply(listed($d), pg_sizes($standby), 'standby: each size is its '
          . 'pg_database_size(), exactly');
ok(exists listed($d)->{replicated}, 'the new database too');
$standby->stop;
$pg->stop;

done_testing;
