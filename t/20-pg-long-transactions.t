#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Long transactions and idle-in-transaction sessions are judged by
# transaction age in long_transactions, apart from slow statements.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension();

my $idle = HealthTest::PgUtil::Session->open($pg, app => 'idle_tx');
$idle->send('BEGIN;')->send('SELECT txid_current();');
ok(wait_until(sub {
    $pg->psql("SELECT state FROM pg_stat_activity WHERE application_name = 'idle_tx'")
        eq 'idle in transaction'
}), 'a session sits idle in transaction');
my $idle_pid = $idle->backend_pid;

# a transaction that is busy, not idle
bg_with_app($pg, 'busy_tx', 'BEGIN; SELECT pg_sleep(30); COMMIT;');
ok(wait_for_clients($pg, 'busy_tx', 1), 'a session runs a long transaction');
my ($busy_pid) = pids_of_app($pg, 'busy_tx');

# transaction thresholds low, statement thresholds out of reach: the
# sessions are long transactions, not slow queries
my %set = ('pg_health.transaction_warning' => '500ms',
           'pg_health.transaction_critical' => '1s',
           'pg_health.statement_warning' => '1h',
           'pg_health.statement_critical' => '2h');
my $r;
ok(wait_until(sub {
    $r = report($pg, set => \%set);
    my $lt = $r->{checks}{long_transactions};
    $lt->{count} == 2
        && !grep { $_->{status} ne 'unhealthy' } @{ $lt->{sessions} };
}, timeout => 10), 'long_transactions: both sessions, unhealthy after 1s');
is($r->{checks}{long_transactions}{status}, 'unhealthy', 'long_transactions unhealthy');

my $lt = $r->{checks}{long_transactions};
is($lt->{unit}, 'ms', 'unit ms');
is_deeply([$lt->{warning}, $lt->{critical}], [500, 1000], 'thresholds as SET');
is($lt->{idle_in_transaction}, 1, 'one of them idle in transaction');
cmp_ok($lt->{value}, '>=', 1000, 'value is the oldest transaction age');
my %by_pid = map { $_->{pid} => $_ } @{ $lt->{sessions} };
is($by_pid{$idle_pid}{state}, 'idle in transaction', 'the idle one, with its state');
ok(!exists $by_pid{$idle_pid}{query}, 'no query text by default');
is($by_pid{$busy_pid}{state}, 'active', 'the busy one');
cmp_ok($by_pid{$_}{xact_age_ms}, '>=', 1000, "pid $_: transaction age over 1s")
    for $idle_pid, $busy_pid;
is($by_pid{$_}{status}, 'unhealthy', "pid $_: unhealthy") for $idle_pid, $busy_pid;
is($r->{checks}{slow_queries}{status}, 'healthy', 'slow_queries judged apart: healthy');
is($r->{status}, 'unhealthy', 'the report is unhealthy');

# with the default thresholds (1min / 5min) a few seconds are nothing
$r = report($pg);
is($r->{checks}{long_transactions}{status}, 'healthy', 'defaults: healthy');
is_deeply([$r->{checks}{long_transactions}{warning},
           $r->{checks}{long_transactions}{critical}], [60000, 300000],
          'defaults: 1min / 5min');

# the idle-in-transaction time also counts as a slow statement, by its own
# thresholds
ok(wait_until(sub {
    scalar grep { $_ == $idle_pid } split /\n/, $pg->psql(
        "SELECT pid FROM health_slow_queries() WHERE state = 'idle in transaction'")
}, timeout => 10), 'health_slow_queries() lists the idle-in-transaction session');

# COMMIT ends it
$idle->send('COMMIT;');
ok(wait_until(sub {
    my $r = report($pg, set => \%set);
    !grep { $_->{pid} == $idle_pid } @{ $r->{checks}{long_transactions}{sessions} };
}, timeout => 10), 'after COMMIT the session is no longer listed');

$pg->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          . "WHERE application_name = 'busy_tx'");
$idle->close;
$pg->kill_bg;
$pg->stop;
done_testing;
