#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The replication and replication_slots checks on real clusters: a
# standby made with pg_basebackup streams into a physical slot.  The
# primary lists it as pg_stat_replication does and names the expected
# standbys that are missing; the standby reads a lag of zero while the
# primary is idle, however old its last replayed commit, and is unhealthy
# when its WAL receiver stops streaming; a slot left behind is inactive,
# and the WAL it retains is judged against max_slot_wal_keep_size.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# a report that fails (a setting the extension does not know) reads as
# empty, so every later assertion still runs and says what is missing
sub rep {
    my ($pg, %o) = @_;
    return eval { report($pg, %o) } // { checks => {} };
}

sub lsn {
    my ($s) = @_;
    return undef unless defined $s && $s =~ m{^([0-9A-F]+)/([0-9A-F]+)$};
    return hex($1) * 2**32 + hex($2);
}

my $primary = pg_with_extension();
$primary->psql(<<'SQL');
CREATE ROLE app LOGIN;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION health_report() TO app;
CREATE TABLE filler (id int, pad text);
SQL

# no standby, no slot: nothing to judge
my $r = rep($primary);
my $rep = $r->{checks}{replication};
is($rep->{status}, 'healthy', 'alone: replication healthy');
is($rep->{role}, 'primary', 'alone: the role is primary');
is($rep->{connected}, 0, 'alone: no standby connected');
is($rep->{value}, 0, 'alone: no lag');
is($rep->{unit}, 'ms', 'alone: the lag is in ms');
is($rep->{warning}, 30000, 'the default lag warning is 30s');
is($rep->{critical}, 300000, 'the default lag critical is 5min');
is($r->{checks}{replication_slots}{status}, 'healthy', 'alone: slots healthy');
is($r->{checks}{replication_slots}{count}, 0, 'alone: no slot');
is($r->{checks}{replication_slots}{warning}, 80, 'slot WAL warning 80%');
is($r->{checks}{replication_slots}{critical}, 90, 'slot WAL critical 90%');

# nothing hidden from a role without pg_read_all_stats when no standby is
# connected: judged, not unknown
$rep = rep($primary, user => 'app')->{checks}{replication};
is($rep->{status}, 'healthy', 'alone, no pg_read_all_stats: healthy, nothing hidden');
is($rep->{connected}, 0, 'alone, no pg_read_all_stats: no standby');

# a standby, application_name standby1, streaming into slot standby1_slot
$primary->psql("SELECT pg_create_physical_replication_slot('standby1_slot', true)");
my $standby = $primary->standby(app => 'standby1', slot => 'standby1_slot',
                                conninfo => 'password=s3cr3t-pw');
is($standby->psql('SELECT pg_is_in_recovery()'), 't', 'it is in recovery');

# caught up: replayed everything the primary has written
$primary->psql("INSERT INTO filler VALUES (1, 'x')");
ok(wait_until(sub {
    $primary->psql("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby1' "
                   . "AND state = 'streaming' AND replay_lsn = pg_current_wal_lsn()") == 1
}, timeout => 30), 'the primary sees standby1 streaming and caught up');

# the report next to the view, in one statement
my ($sb, $view);
ok(wait_until(sub {
    my $j = psql_json($primary, "SELECT json_build_object('r', health_report(), "
        . "'v', (SELECT row_to_json(s) FROM pg_stat_replication s "
        . "WHERE application_name = 'standby1'))");
    $rep = $j->{r}{checks}{replication};
    $view = $j->{v};
    ($sb) = grep { ($_->{application_name} // '') eq 'standby1' } @{ $rep->{standbys} // [] };
    $sb && $sb->{status} eq 'healthy';
}, timeout => 30), 'primary: standby1 listed, healthy');
is($rep->{status}, 'healthy', 'primary: replication healthy');
is($rep->{connected}, 1, 'primary: one standby connected');
is($sb->{state}, 'streaming', 'primary: standby1 streaming');
is($sb->{client_addr}, '127.0.0.1', 'primary: its client_addr');
is($sb->{sync_state}, 'async', 'primary: asynchronous');
for my $k (qw(sent_lsn write_lsn flush_lsn replay_lsn)) {
    ok(defined lsn($sb->{$k}), "primary: $k is an LSN");
    cmp_ok(lsn($sb->{$k}), '<=', lsn($view->{$k}), "primary: $k not ahead of the view read after it");
}
cmp_ok(lsn($sb->{replay_lsn}), '<=', lsn($sb->{sent_lsn}), 'primary: replayed no more than sent');
cmp_ok($sb->{replay_lag_bytes}, '>=', 0, 'primary: replay lag in bytes');
is($sb->{replay_lag_bytes}, lsn($rep->{current_lsn}) - lsn($sb->{replay_lsn}),
   'primary: replay lag bytes = current_lsn - replay_lsn');
for my $k (qw(write_lag_ms flush_lag_ms replay_lag_ms)) {
    ok(defined $sb->{$k}, "primary: $k is a number (NULL while caught up reads 0)");
}
is($rep->{value}, $sb->{replay_lag_ms}, 'primary: value is the longest replay lag');

# caught up and idle: the lag columns read NULL, the report 0.  Any WAL
# the primary writes on its own (a standby snapshot, a checkpoint) sets
# the lag again until the standby has reported twice, one
# wal_receiver_status_interval (10s) apart, that it applied all of it:
# poll, with a deadline far past that, for the view reading cleared both
# before and after the report in the same statement, and judge that report
my $idle_view = "(SELECT row_to_json(s) FROM pg_stat_replication s WHERE application_name = 'standby1')";
my $idle;
ok(wait_until(sub {
    $idle = psql_json($primary, "SELECT json_build_object('b', $idle_view, "
        . "'r', health_report(), 'a', $idle_view)");
    my ($b, $a) = @$idle{qw(b a)};
    $b && $a && !defined $b->{replay_lag} && !defined $a->{replay_lag}
        && $b->{replay_lsn} eq $b->{sent_lsn} && $a->{replay_lsn} eq $a->{sent_lsn}
        && $a->{replay_lsn} eq $b->{replay_lsn};
}, timeout => 120), 'idle: pg_stat_replication clears the lag columns');
$rep = $idle->{r}{checks}{replication};
($sb) = @{ $rep->{standbys} // [] };
is($sb && $sb->{replay_lag_ms}, 0, 'idle: the report reads the cleared lag as 0');
is($sb && $sb->{status}, 'healthy', 'idle: standby1 healthy');

# no password from primary_conninfo anywhere
my $raw = $primary->psql('SELECT health_report()::text') . $standby->psql('SELECT health_report()::text');
unlike($raw, qr/s3cr3t/, 'no password from primary_conninfo in either report');

# expected standbys: one missing is named
my %exp = ('pg_health.expected_standbys' => 'standby1, standby2');
$rep = rep($primary, set => \%exp)->{checks}{replication};
is($rep->{status}, 'degraded', 'expected: a missing standby makes it degraded');
is_deeply($rep->{missing}, ['standby2'], 'expected: standby2 is missing');
is_deeply($rep->{expected}, ['standby1', 'standby2'], 'expected: the list');
like($rep->{reason}, qr/expected standby not connected: standby2/, 'expected: the reason names it');
$rep = rep($primary, set => { 'pg_health.expected_standbys' => 'STANDBY1' })->{checks}{replication};
is($rep->{status}, 'healthy', 'expected: compared without regard to case');

# synchronous_standby_names wanting two: commits would wait
$primary->psql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 2 (standby1, standby2)'");
$primary->psql('SELECT pg_reload_conf()');
ok(wait_until(sub {
    $rep = rep($primary)->{checks}{replication};
    $rep->{sync_wanted} == 2;
}, timeout => 15), 'sync: two synchronous standbys wanted');
is($rep->{sync_connected}, 1, 'sync: one connected');
is($rep->{status}, 'unhealthy', 'sync: commits wait: unhealthy');
like($rep->{reason}, qr/needs 2 synchronous standbys, 1 is connected: commits wait/, 'sync: the reason');
$primary->psql("ALTER SYSTEM RESET synchronous_standby_names");
$primary->psql('SELECT pg_reload_conf()');
ok(wait_until(sub { rep($primary)->{checks}{replication}{sync_wanted} == 0 }, timeout => 15),
   'sync: reset');

# privileges: pg_monitor sees the standby, a role without it is told why
$rep = rep($primary, user => 'monitor')->{checks}{replication};
is($rep->{connected}, 1, 'pg_monitor: sees the standby');
is($rep->{status}, 'healthy', 'pg_monitor: judged');
$r = rep($primary, user => 'app');
is($r->{checks}{replication}{status}, 'unknown', 'no pg_read_all_stats: unknown');
like($r->{checks}{replication}{reason}, qr/role "app" cannot see pg_stat_replication.*pg_monitor/,
     'no pg_read_all_stats: the reason');
ok(!exists $r->{checks}{replication}{standbys}, 'no pg_read_all_stats: no standby details');
is($r->{checks}{replication}{connected}, 1, 'no pg_read_all_stats: the sender is counted');
is($r->{checks}{replication_slots}{count}, 1, 'no pg_read_all_stats: slots are public');

# the slot while its standby streams: active, healthy
my $sl = rep($primary)->{checks}{replication_slots};
is($sl->{status}, 'healthy', 'slot: healthy while used');
is($sl->{slots}[0]{slot_name}, 'standby1_slot', 'slot: named');
is($sl->{slots}[0]{active}, JSON::PP::true, 'slot: active');
is($sl->{limit}, 'pg_wal file system', 'slot: unlimited, judged against the pg_wal file system');

# standby side, idle primary: lag 0 however old the last replayed commit
my $sr;
my %tight = ('pg_health.replication_lag_warning' => '1s',
             'pg_health.replication_lag_critical' => '2s');
ok(wait_until(sub {
    $standby->psql("SELECT now() - pg_last_xact_replay_timestamp() > interval '3s'") eq 't'
}, timeout => 30), 'standby: the last replayed commit is older than critical');
ok(wait_until(sub {
    $sr = rep($standby, set => \%tight)->{checks}{replication};
    $sr->{value} == 0 && $sr->{status} eq 'healthy';
}, timeout => 30), 'standby: received = replayed reads lag 0, healthy') or diag(explain $sr);
is($sr->{role}, 'standby', 'standby: role');
is($sr->{receive_lsn}, $sr->{replay_lsn}, 'standby: received = replayed');
is($sr->{replay_lag_bytes}, 0, 'standby: no bytes behind');
is($sr->{wal_receiver}, 'streaming', 'standby: the WAL receiver streams');
is($sr->{sender_host}, '127.0.0.1', 'standby: the host it streams from');
is($sr->{sender_port}, $primary->port, 'standby: the port');
ok(defined $sr->{last_replay_at}, 'standby: the last replay time is shown');
my $rc = $standby->psql("SELECT pg_last_wal_receive_lsn() >= '" . ($sr->{receive_lsn} // 'FFFFFFFF/0') . "'::pg_lsn");
is($rc, 't', 'standby: receive_lsn not ahead of pg_last_wal_receive_lsn()');
$r = rep($standby, user => 'app');
is($r->{checks}{replication}{status}, 'unknown', 'standby, no pg_read_all_stats: unknown');

# replay paused on the standby while the primary writes: behind in bytes
# and in time, on both sides
$standby->psql('SELECT pg_wal_replay_pause()');
ok(wait_until(sub { $standby->psql('SELECT pg_get_wal_replay_pause_state()') eq 'paused' },
              timeout => 15), 'paused: replay pauses');
$primary->psql("INSERT INTO filler SELECT g, repeat('y', 1000) FROM generate_series(1, 3000) g");
my $target = $primary->psql('SELECT pg_current_wal_lsn()');
ok(wait_until(sub {
    $standby->psql("SELECT pg_last_wal_receive_lsn() >= '$target'::pg_lsn") eq 't'
}, timeout => 30), 'paused: the standby received the new WAL');
my $lag_sql = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint"
    . " || ' ' || (extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::numeric(20,3)";
my ($bytes0, $ms0) = split ' ', $standby->psql($lag_sql);
$sr = rep($standby, set => \%tight)->{checks}{replication};
my ($bytes1, $ms1) = split ' ', $standby->psql($lag_sql);
# replay is paused, so what is behind only grows (the primary may still
# send a running-xacts or checkpoint record meanwhile): the report's figure
# lies between the readings before and after it
cmp_ok($bytes1, '>=', $bytes0, 'paused: received - replayed does not shrink');
cmp_ok($sr->{replay_lag_bytes}, '>=', $bytes0, 'paused: replay_lag_bytes not below received - replayed before');
cmp_ok($sr->{replay_lag_bytes}, '<=', $bytes1, 'paused: replay_lag_bytes not above received - replayed after');
cmp_ok($sr->{replay_lag_bytes}, '>', 1024 * 1024, 'paused: more than 1MB behind');
cmp_ok($sr->{value}, '>=', $ms0, 'paused: lag not below now - last replay before');
cmp_ok($sr->{value}, '<=', $ms1, 'paused: lag not above now - last replay after');
is($sr->{status}, 'unhealthy', 'paused: over the 2s critical, unhealthy');
like($sr->{reason} // '', qr/^$/, 'paused: no reason but the lag');
my %bytes = ('pg_health.replication_lag_bytes_warning' => '1MB',
             'pg_health.replication_lag_bytes_critical' => '1GB',
             'pg_health.replication_lag_warning' => '1h',
             'pg_health.replication_lag_critical' => '2h');
$sr = rep($standby, set => \%bytes)->{checks}{replication};
is($sr->{status}, 'degraded', 'paused: 1MB byte warning, degraded on the standby');
is($sr->{bytes_warning}, 1024 * 1024, 'paused: bytes_warning shown in bytes');
$rep = rep($primary, set => \%bytes)->{checks}{replication};
($sb) = @{ $rep->{standbys} // [] };
cmp_ok($sb->{replay_lag_bytes}, '>=', $bytes0, 'paused: the primary sees at least as many bytes behind');
is($sb->{status}, 'degraded', 'paused: 1MB byte warning, degraded on the primary');
$bytes{'pg_health.replication_lag_bytes_critical'} = '1MB';
is(rep($primary, set => \%bytes)->{checks}{replication}{status}, 'unhealthy',
   'paused: 1MB byte critical, unhealthy on the primary');
$standby->psql('SELECT pg_wal_replay_resume()');
ok(wait_until(sub {
    $sr = rep($standby)->{checks}{replication};
    $sr->{replay_lag_bytes} == 0 && $sr->{value} == 0;
}, timeout => 30), 'resumed: caught up, lag 0');

# the primary goes away: the WAL receiver stops streaming
$primary->stop;
ok(wait_until(sub {
    $sr = rep($standby)->{checks}{replication};
    $sr->{status} eq 'unhealthy';
}, timeout => 30), 'standby: unhealthy once its primary is gone');
isnt($sr->{wal_receiver}, 'streaming', "standby: the receiver is $sr->{wal_receiver}");
like($sr->{reason}, qr/WAL receiver is not streaming/, 'standby: the reason');
is($sr->{sender_host}, undef, 'standby: no sender host while not streaming');

$primary->restart;
ok(wait_until(sub {
    rep($standby)->{checks}{replication}{wal_receiver} eq 'streaming'
}, timeout => 60), 'standby: streaming again after the primary is back');

# the standby stops: missing, its slot inactive
$standby->stop(mode => 'fast');
ok(wait_until(sub {
    $rep = rep($primary, set => { 'pg_health.expected_standbys' => 'standby1' })->{checks}{replication};
    $rep->{connected} == 0;
}, timeout => 30), 'standby stopped: none connected');
is($rep->{status}, 'degraded', 'standby stopped: degraded');
is_deeply($rep->{missing}, ['standby1'], 'standby stopped: standby1 missing');
$sl = rep($primary)->{checks}{replication_slots};
is($sl->{status}, 'degraded', 'slot inactive: degraded');
is($sl->{inactive}, 1, 'slot inactive: counted');
like($sl->{reason}, qr/slot standby1_slot: the slot is inactive/, 'slot inactive: the reason');

# retained WAL, bounded by the view read before and after
sub retained_view {
    return $primary->psql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                          . "FROM pg_replication_slots WHERE slot_name = 'standby1_slot'");
}
sub one_segment {
    $primary->psql("INSERT INTO filler VALUES (1, repeat('x', 100)); SELECT pg_switch_wal()");
}
one_segment() for 1 .. 2;
my $before = retained_view();
$sl = rep($primary)->{checks}{replication_slots};
my $after = retained_view();
my $s1 = $sl->{slots}[0];
cmp_ok($s1->{retained_bytes}, '>=', $before, 'retained: not below the view before');
cmp_ok($s1->{retained_bytes}, '<=', $after, 'retained: not above the view after');
cmp_ok($s1->{retained_bytes}, '>', 16 * 1024 * 1024, 'retained: grows past a segment after switches');
is($sl->{max_retained_bytes}, $s1->{retained_bytes}, 'retained: the most of one slot');
my $room = $sl->{limit_bytes};
ok($room > $s1->{retained_bytes}, 'retained: the room on the file system is retained + free');

# max_slot_wal_keep_size 256MB: 80% and 90% crossed in 16MB steps
my $limit = 256 * 1024 * 1024;
$primary->psql("ALTER SYSTEM SET max_slot_wal_keep_size = '256MB'");
$primary->psql('SELECT pg_reload_conf()');
ok(wait_until(sub {
    (rep($primary)->{checks}{replication_slots}{limit} // '') eq 'max_slot_wal_keep_size'
}, timeout => 15), 'keep size: judged against max_slot_wal_keep_size');
my %seen;
for (1 .. 40) {
    $before = retained_view();
    $sl = rep($primary)->{checks}{replication_slots};
    $after = retained_view();
    $s1 = $sl->{slots}[0];
    last if $s1->{wal_status} eq 'unreserved' || $s1->{wal_status} eq 'lost';
    my $pct = $s1->{retained_bytes} * 100 / $limit;
    my $band = $pct >= 90 ? 'critical' : $pct >= 80 ? 'warning' : 'below';
    $seen{$band} //= { pct => $pct, slot => $s1, check => $sl,
                       bounded => $before <= $s1->{retained_bytes}
                                  && $s1->{retained_bytes} <= $after };
    one_segment();
}
ok($seen{warning}, 'keep size: a report between 80% and 90%');
ok($seen{critical}, 'keep size: a report between 90% and 100%');
for my $band (qw(warning critical)) {
    my $x = $seen{$band} or next;
    ok($x->{bounded}, "$band: retained bytes between the view's before and after");
    is($x->{check}{limit_bytes}, $limit, "$band: limit_bytes is max_slot_wal_keep_size");
    is($x->{slot}{retained_pct}, sprintf('%.2f', $x->{pct}) + 0, "$band: retained_pct = retained / limit");
    is($x->{check}{value}, $x->{slot}{retained_pct}, "$band: value is the worst slot's share");
    like($x->{slot}{reason}, qr/retains \d+\.\d% of the room for WAL \(max_slot_wal_keep_size\)/,
         "$band: the reason says it retains WAL (over being inactive)");
}
is($seen{warning}{slot}{status}, 'degraded', 'warning: degraded') if $seen{warning};
is($seen{critical}{slot}{status}, 'unhealthy', 'critical: unhealthy') if $seen{critical};

# past the limit: unreserved, then lost at a checkpoint
one_segment() for 1 .. 3;
$primary->psql('CHECKPOINT');
ok(wait_until(sub {
    $sl = rep($primary)->{checks}{replication_slots};
    ($sl->{slots}[0]{wal_status} // '') =~ /^(unreserved|lost)$/;
}, timeout => 30), 'past the limit: the slot is unreserved or lost');
is($sl->{slots}[0]{wal_status},
   $primary->psql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'standby1_slot'"),
   'past the limit: wal_status as the view says');
is($sl->{status}, 'unhealthy', 'past the limit: unhealthy');
like($sl->{reason}, qr/wal_status is (lost|unreserved)/, 'past the limit: the reason');

$primary->stop;
done_testing;
