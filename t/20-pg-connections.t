#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_connections(): used equals the client backends of pg_stat_activity,
# and headroom is judged against max_connections minus the reserved slots.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

# 20 slots, 3 reserved for superusers: 17 usable
my $pg = pg_with_extension(max_connections => 20,
                           conf => 'superuser_reserved_connections = 3');

my $cmp = "SELECT used, (SELECT count(*) FROM pg_stat_activity "
    . "WHERE backend_type = 'client backend'), max_connections, reserved, "
    . "usage_pct, status FROM health_connections()";

sub connections {
    my ($used, $count, $max, $reserved, $pct, $status) = split /\|/, $pg->psql($cmp);
    return { used => $used, count => $count, max => $max,
             reserved => $reserved, pct => $pct, status => $status };
}

my $c = connections();
is($c->{used}, $c->{count}, 'alone: used equals client backends');
is($c->{used}, 1, 'alone: one client backend');
is_deeply([$c->{max}, $c->{reserved}], [20, 3], 'max_connections and reserved');

# 12 sleepers + this query: 13 of 17 usable = 76.47%: healthy
bg_with_app($pg, 'conn_test', 'SELECT pg_sleep(30)') for 1 .. 12;
ok(wait_for_clients($pg, 'conn_test', 12), '12 more sessions connected');
$c = connections();
is($c->{used}, $c->{count}, 'with 12 more: used equals client backends');
is($c->{used}, 13, 'with 12 more: 13 used');
is($c->{pct}, '76.47', 'usage is of the 17 usable slots');
is($c->{status}, 'healthy', 'under 80%: healthy');

# 14 of 17 = 82.35%: degraded (14 of 20 would have been a healthy 70%)
bg_with_app($pg, 'conn_test', 'SELECT pg_sleep(30)');
ok(wait_for_clients($pg, 'conn_test', 13), 'one more session connected');
$c = connections();
is($c->{used}, $c->{count}, 'with 13 more: used equals client backends');
is($c->{pct}, '82.35', '14 of 17 usable');
is($c->{status}, 'degraded', 'reserved slots are not headroom: degraded');

# idle and idle in transaction sessions are counted apart
my $idle = HealthTest::PgUtil::Session->open($pg, app => 'conn_idle');
my $itx = HealthTest::PgUtil::Session->open($pg, app => 'conn_itx');
$itx->send('BEGIN;')->send('SELECT 1;');
my $abort = HealthTest::PgUtil::Session->open($pg, app => 'conn_abort');
$abort->send('BEGIN;')->send('SELECT 1/0;');
ok(wait_until(sub {
    $pg->psql("SELECT count(*) FROM pg_stat_activity WHERE "
              . "application_name IN ('conn_itx', 'conn_abort') AND state LIKE 'idle in%'") == 2
}, timeout => 10), 'idle in transaction sessions are there');
my ($used, $count, $active, $idle_n, $itx_n, $abort_n, $status) = split /\|/,
    $pg->psql("SELECT used, (SELECT count(*) FROM pg_stat_activity "
              . "WHERE backend_type = 'client backend'), active, idle, "
              . "idle_in_transaction, idle_in_transaction_aborted, status "
              . "FROM health_connections()");
is($used, $count, '17 used: used equals client backends');
is($used, 17, '17 used');
is($active, 14, '13 sleepers and this query are active');
is($idle_n, 1, 'one idle');
is($itx_n, 1, 'one idle in transaction');
is($abort_n, 1, 'one idle in transaction (aborted)');
is($status, 'unhealthy', 'every usable slot taken: unhealthy');

my $r = report($pg);
my $rc = $r->{checks}{connections};
is($rc->{status}, 'unhealthy', 'report: connections unhealthy');
is($rc->{used}, 17, 'report: used');
is($rc->{value}, 100, 'report: value is usage_pct');
is($rc->{unit}, '%', 'report: unit');
is_deeply([$rc->{warning}, $rc->{critical}], [80, 95], 'report: thresholds');
is($r->{status}, 'unhealthy', 'report: overall unhealthy');

$_->close for $idle, $itx, $abort;
$pg->kill_bg;
$pg->stop;
done_testing;
