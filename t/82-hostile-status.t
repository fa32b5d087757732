#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The status location against a curious client (issue 9 point 2a): a query
# argument only makes an answer lighter, never richer than the location is
# configured for.  The order is lb < prometheus < json = html (the
# dashboard reads the JSON of its own location): an lb location answers
# only lb, a prometheus location prometheus or lb; a richer format is
# refused with 403, and nothing of the richer answer is sent.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $ng = HealthTest::Nginx->new(conf => <<'EOF');
    health_zone api;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /lb        { health_zone off; health_status lb; }
        location /metrics   { health_zone off; health_status prometheus; }
        location /health    { health_zone off; health_status; }
        location /dashboard { health_zone off; health_status html; }
    }
EOF
$ng->start;

my %allowed = (
    lb        => [qw(lb)],
    metrics   => [qw(lb prometheus)],
    health    => [qw(lb prometheus json html)],
    dashboard => [qw(lb prometheus json html)],
);

my %sign = (
    lb         => qr/^(healthy|degraded|unhealthy)\n$/,
    prometheus => qr/^# HELP/,
    json       => qr/^\{"status"/,
    html       => qr/<html/i,
);

for my $loc (sort keys %allowed) {
    my %ok = map { $_ => 1 } @{ $allowed{$loc} };
    for my $f (qw(lb prometheus json html)) {
        my $r = $ng->get("/$loc?format=$f");
        if ($ok{$f}) {
            is($r->{status}, 200, "/$loc?format=$f: served");
            like($r->{content}, $sign{$f}, "/$loc?format=$f: as $f");
        } else {
            is($r->{status}, 403, "/$loc?format=$f: refused with 403");
            my $conf = $loc eq 'metrics' ? 'prometheus' : $loc;
            like($r->{content},
                 qr/^that format is not served here, this location serves $conf\r?\n$/,
                 "/$loc?format=$f: says what it serves, nothing more");
        }
    }
}

is($ng->get('/lb?format=JSON')->{status}, 400, 'an unknown format is still 400');
is($ng->get('/lb')->{status}, 200, '/lb without an argument: lb');

is_deeply([$ng->log_alerts], [], 'no alerts in error.log');
$ng->stop;

done_testing;
