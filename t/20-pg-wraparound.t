#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Wraparound is judged for the whole cluster, against the distance to the
# wraparound limit: a database 160 million XIDs old (well past
# autovacuum_freeze_max_age's start of anti-wraparound vacuum, 1.99 billion
# from the limit) is healthy; 1.2 billion old is degraded, named, even when
# the database asked has just been frozen.  XIDs are aged with
# pg_resetwal -x on the stopped cluster.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $pg = pg_with_extension(conf => 'autovacuum = off');
$pg->psql('CREATE DATABASE app1');
$pg->psql('CREATE DATABASE app2');
my $bin = HealthTest::Pg::pgbin();
my $data = "$pg->{data}";

# next XID set to the start of a pg_xact segment, which must then exist
sub age_xids {
    my ($xid) = @_;
    $pg->stop(mode => 'fast');
    my ($rc, $out) = run_cmd(HealthTest::as_postgres("$bin/pg_resetwal", '-x', $xid, $data));
    is($rc, 0, "pg_resetwal -x $xid") or diag($out);
    my $seg = sprintf('%s/pg_xact/%04X', $data, $xid / 1048576);
    open my $fh, '>', $seg or die "$seg: $!";
    print $fh "\0" x 262144;
    close $fh;
    system('chown', 'postgres:postgres', $seg) if HealthTest::is_root();
    $pg->restart;
}

my $seg = 1048576;
age_xids(153 * $seg);    # 160,432,128

my $r = report($pg);
my $w = $r->{checks}{wraparound};
cmp_ok($w->{age}, '>=', 153 * $seg - 1000, 'the oldest database is 160M XIDs old');
cmp_ok($w->{age}, '>', $w->{freeze_max_age} * 0.75,
       'past 75% of autovacuum_freeze_max_age');
is($w->{status}, 'healthy', '160M old, 1.99 billion from the limit: healthy');
is($w->{remaining}, 2147483648 - $w->{age}, 'remaining: the distance to the limit');
is($w->{unit}, '%', 'in percent of the way to wraparound');
is_deeply([$w->{warning}, $w->{critical}], [50, 75], 'pgmonitor: 50% / 75%');
is($w->{databases}, 5, 'every database of the cluster is looked at');
is($r->{checks}{multixact_wraparound}{status}, 'healthy', 'multixacts: healthy');

# far older; autovacuum_freeze_max_age at its maximum keeps the forced
# anti-wraparound vacuums from changing the ages under the test
$pg->stop(mode => 'fast');
open my $fh, '>>', "$data/postgresql.conf" or die;
print $fh "autovacuum_freeze_max_age = 2000000000\n";
close $fh;
$pg->restart;
age_xids(1144 * $seg);   # 1,199,570,944

# the database asked is frozen young; the others are not
$pg->psql('VACUUM (FREEZE)');
is($pg->psql("SELECT age(datfrozenxid) < 1000000 FROM pg_database "
             . "WHERE datname = 'postgres'"), 't', 'postgres itself is young');

$r = report($pg);
$w = $r->{checks}{wraparound};
cmp_ok($w->{age}, '>=', 1144 * $seg - 1000, 'the oldest database is 1.2 billion XIDs old');
is($w->{status}, 'degraded', 'degraded: 56% of the way to wraparound');
ok((grep { $_ eq $w->{oldest_database} } qw(app1 app2 template0 template1)),
   "the oldest database is named ($w->{oldest_database}), not the one asked");
is($r->{status}, 'degraded', 'the report says so');

# check_postgres' 1.3B / 1.4B as the thresholds
$r = report($pg, set => {'pg_health.wraparound_warning' => '50',
                         'pg_health.wraparound_critical' => '55'});
is($r->{checks}{wraparound}{status}, 'unhealthy', 'past a lower critical: unhealthy');

$pg->stop;
done_testing;
