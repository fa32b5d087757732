#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# On a hot standby the table checks say unknown, with the reason: table
# statistics are kept by the primary only, so a standby's zero counts
# would read as a false healthy.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $primary = pg_with_extension();
$primary->psql(<<'SQL');
CREATE TABLE dead40 (id int) WITH (autovacuum_enabled = false);
INSERT INTO dead40 SELECT g FROM generate_series(1, 10000) g;
DELETE FROM dead40 WHERE id <= 4000;
SQL
ok(wait_until(sub {
    report($primary)->{checks}{dead_tuples}{status} eq 'unhealthy'
}, timeout => 15), 'primary: dead_tuples unhealthy');
is(report($primary)->{checks}{vacuum}{status}, 'degraded', 'primary: vacuum degraded');

# a standby made by pg_basebackup
my $standby = $primary->standby;
is($standby->psql('SELECT pg_is_in_recovery()'), 't', 'it is in recovery');

my $r = report($standby);
for my $k (qw(dead_tuples vacuum)) {
    is($r->{checks}{$k}{status}, 'unknown', "standby: $k unknown");
    like($r->{checks}{$k}{reason}, qr/hot standby.*primary/, "standby: $k says why");
}
is($r->{checks}{connections}{status}, 'healthy', 'standby: connections still judged');
is($r->{checks}{wraparound}{status}, 'healthy', 'standby: wraparound still judged');
is($r->{status}, 'degraded', 'standby: degraded (unknown), never a false healthy');

my ($rc, $out) = $standby->psql('SELECT * FROM health_dead_tuples()', allow_error => 1);
isnt($rc, 0, 'standby: health_dead_tuples() refuses');
like($out, qr/table statistics are not kept during recovery/, 'and says why');

$standby->stop;
$primary->stop;
done_testing;
