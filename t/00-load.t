#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The module loads into Debian's nginx and the configuration test passes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

ok(-f HealthTest::Nginx::module_path(), 'module is built')
    or BAIL_OUT('build the module first: make');

my $ng = HealthTest::Nginx->new(conf => <<'EOF2');
    health_service smoke-test;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
EOF2

my ($rc, $out) = $ng->test_conf;
is($rc, 0, 'nginx -t passes with the module loaded') or diag $out;
like($out, qr/test is successful/, 'nginx -t says so');

$ng->start;
my $r = $ng->get('/');
is($r->{status}, 200, 'nginx with the module serves requests');
$ng->stop;

is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
