#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The per-table part of health_report() (the dead_tuples and vacuum checks)
# costs one pass over every relation's statistics entry, so a session
# reuses its last read for pg_health.tables_cache seconds and says the
# figures' age (age_s); 0 reads on every call; other thresholds, another
# role, or the cache time running out read again.  All of it in one
# session (a psql fed through a pipe, answered a line at a time), as the
# nginx module polls on a persistent connection; every figure is compared
# with pg_stat_user_tables.  No timing is asserted: the cost is measured in
# the bench.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use IPC::Open2;
use Time::HiRes qw(time);

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension();
$pg->psql(<<'SQL');
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE TABLE t (id int) WITH (autovacuum_enabled = false);
INSERT INTO t SELECT generate_series(1, 10000);
DELETE FROM t WHERE id <= 4000;
SELECT pg_stat_force_next_flush();
SQL

sub view_dead {
    return $pg->psql("SELECT n_dead_tup FROM pg_stat_user_tables "
                     . "WHERE relname = 't'");
}
ok(wait_until(sub { view_dead() == 4000 }), 'the view has 4000 dead tuples');

is(scalar $pg->psql("LOAD 'pg_health'; SHOW pg_health.tables_cache",
                    allow_error => 1),
   '30s', 'pg_health.tables_cache is 30s by default');

# one session: each statement sent on its own line, each answers one line
# (stdbuf: psql's output to a pipe would wait for its buffer to fill)
my $pid = open2(my $out, my $in, 'stdbuf', '-oL',
                "$HealthTest::Pg::PGBIN/psql", '-X', '-q',
                '-A', '-t', '-h', $pg->host, '-p', $pg->port,
                '-U', 'postgres', '-d', 'postgres');
$in->autoflush(1);
END { kill 'TERM', $pid if $pid }

sub ask {
    my ($sql) = @_;
    print {$in} "$sql;\n";
    local $SIG{ALRM} = sub { die "no answer to: $sql\n" };
    alarm 60;
    my $line = <$out>;
    alarm 0;
    die "psql ended at: $sql\n" unless defined $line;
    chomp $line;
    return $line;
}

sub set { print {$in} "$_[0]\n" }

my $backend = ask('SELECT pg_backend_pid()');
like($backend, qr/^\d+$/, "one session (backend $backend)");

# the dead_tuples and vacuum checks of one report
my %pids;
sub checks {
    my $j = decode_json(ask("SELECT json_build_object("
        . "'r', health_report()->'checks', 'pid', pg_backend_pid())"));
    $pids{ $j->{pid} }++;
    my ($dt) = @{ $j->{r}{dead_tuples}{tables} };
    my ($v) = @{ $j->{r}{vacuum}{tables} };
    return { dead => $dt->{n_dead_tup}, vacuum_dead => $v->{n_dead_tup},
             age => $j->{r}{dead_tuples}{age_s},
             vacuum_age => $j->{r}{vacuum}{age_s},
             warning => $j->{r}{dead_tuples}{warning},
             min_dead => $j->{r}{dead_tuples}{min_dead} };
}

# delete more in this session and wait until the statistics have it
my $upto = 4000;
sub more_dead {
    my ($n) = @_;
    $upto += $n;
    set("DELETE FROM t WHERE id <= $upto;");
    ask('SELECT pg_stat_force_next_flush()');
    ok(wait_until(sub { view_dead() == $upto }),
       "the view has $upto dead tuples");
    is(ask("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 't'"),
       $upto, "... seen by this session too");
}

sub fresh {
    my ($c, $dead, $why) = @_;
    is($c->{dead}, $dead, "$why: dead_tuples reads $dead, as the view");
    is($c->{vacuum_dead}, $dead, "$why: vacuum too");
    is($c->{age}, 0, "$why: age_s 0, read now");
    is($c->{vacuum_age}, 0, "$why: vacuum's age_s 0");
}

sub kept {
    my ($c, $dead, $why, $max) = @_;
    is($c->{dead}, $dead, "$why: dead_tuples keeps $dead");
    is($c->{vacuum_dead}, $dead, "$why: vacuum too");
    like($c->{age}, qr/^\d+(\.\d+)?$/, "$why: age_s says their age");
    cmp_ok($c->{age}, '>', 0, "$why: age_s over 0 ($c->{age})");
    cmp_ok($c->{age}, '<', $max, "$why: within pg_health.tables_cache");
    is($c->{vacuum_age}, $c->{age}, "$why: the same age in vacuum");
}

# kept: the second report gives the first one's figures, with their age
set("LOAD 'pg_health'; SET pg_health.tables_cache = 3600;");
fresh(checks(), 4000, 'first report');
more_dead(2000);
kept(checks(), 4000, 'second report', 3600);

# 0: every report reads
set('SET pg_health.tables_cache = 0;');
fresh(checks(), 6000, 'cache 0');
more_dead(500);
fresh(checks(), 6500, 'cache 0 again');

# a threshold the judging reads: read again
set('SET pg_health.tables_cache = 3600;');
fresh(checks(), 6500, 'cache back on');
more_dead(500);
kept(checks(), 6500, 'kept', 3600);
set('SET pg_health.dead_tuples_warning = 11;');
my $c = checks();
fresh($c, 7000, 'another dead_tuples_warning');
is($c->{warning}, 11, '... judged with it');
more_dead(500);
kept(checks(), 7000, 'kept', 3600);
set('SET pg_health.dead_tuples_min = 999;');
$c = checks();
fresh($c, 7500, 'another dead_tuples_min');
is($c->{min_dead}, 999, '... judged with it');

# another role: read again
more_dead(500);
kept(checks(), 7500, 'kept', 3600);
set('SET ROLE monitor;');
is(ask('SELECT current_user'), 'monitor', 'SET ROLE monitor');
fresh(checks(), 8000, 'another role');
set('RESET ROLE;');
fresh(checks(), 8000, 'back to the superuser');

# the cache time runs out: the fresh figures appear, and until then every
# report gives the kept ones, younger than the cache time
set("SET pg_health.tables_cache = '1s';");
more_dead(1000);
my $deadline = time + 30;
my (@stale, $new);
while (time < $deadline) {
    $c = checks();
    if ($c->{dead} == 9000) {
        $new = $c;
        last;
    }
    push @stale, $c;
}
ok($new, 'after pg_health.tables_cache the new figures appear')
    and fresh($new, 9000, 'expired');
is_deeply([ grep { $_->{dead} != 8000 || $_->{age} <= 0 || $_->{age} > 1 }
            @stale ], [], 'before, the kept figures, at most 1s old ('
          . scalar(@stale) . ' reports)');

is_deeply([ keys %pids ], [ $backend ], 'every report in that one session');

close $in;
waitpid $pid, 0;
undef $pid;
$pg->stop;
done_testing;
