#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The pg_regress suite of pg_health_ext (test/sql, test/expected) against a
# fresh cluster with the installed extension (make install-ext).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $pg = HealthTest::Pg->start;
my $dir = repo_root() . '/pg_health_ext';

local $ENV{PGHOST} = $pg->host;
local $ENV{PGPORT} = $pg->port;
local $ENV{PGUSER} = 'postgres';

my ($rc, $out) = run_cmd('make', '-s', '-C', $dir, 'installcheck',
                         'PGHOST=' . $pg->host, 'PGPORT=' . $pg->port,
                         'PGUSER=postgres');
is($rc, 0, 'pg_regress suite passes')
    or diag($out, "\n", slurp("$dir/regression.diffs") // '(no regression.diffs)');
like($out, qr/All \d+ tests passed/, 'every regression test ran and passed');

$pg->stop;
done_testing;
