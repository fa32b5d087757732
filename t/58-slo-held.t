#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# An SLO's check with a held verdict (for=, recover= of health_slo), and
# an SLO's check picked out by check= (issue 13 points 2, 3 and 5 together).
#
# Every request of zone api answers 500: the page-level pairs burn at
# 1 / (1 - 0.999) = 1000, far above 14.4, so the SLO's raw status is
# degraded from the first request on.  With for=1h the held verdict stays
# healthy with degraded pending for an hour: true by construction for as
# long as this test runs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use HealthTest qw(:all);

my $conf = <<'EOF';
    health_service slo-held;
    health_slo api zone=api objective=99.9% for=1h;
    health_slo web zone=web objective=99.9% required=on;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /api/err { health_zone api; return 500; }
        location = /web/err { health_zone web; return 500; }
        location = /health  { health_status; }
        location = /lb      { health_status lb; }
    }
EOF

# the configuration errors first
for my $bad ('for=abc', 'for=0', 'recover=2d') {
    my $ng = HealthTest::Nginx->new(conf => <<"EOF");
    health_slo api zone=api objective=99.9% $bad;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { health_zone api; return 200; }
    }
EOF
    my ($rc, $out) = $ng->test_conf;
    isnt($rc, 0, "nginx -t refuses health_slo ... $bad");
    like($out, qr/health_slo/, "$bad: the message names the directive")
        or diag $out;
}

my $ng = HealthTest::Nginx->new(workers => 2, conf => $conf);
my ($rc, $out) = $ng->test_conf;
is($rc, 0, 'health_slo with for= passes nginx -t') or diag $out;
$ng->start;

$ng->get('/api/err') for 1 .. 10;
$ng->get('/web/err') for 1 .. 10;

my $doc = $ng->wait_doc(sub {
    ($_[0]{slos}{api}{total} // 0) == 10 && ($_[0]{slos}{web}{total} // 0) == 10
});
ok($doc, 'both SLOs counted their 10 requests');

my $api = $doc->{checks}{'slo:api'};
is($api->{status}, 'healthy', 'slo:api: held healthy, for=1h has not passed');
is($api->{pending}{status}, 'degraded', 'slo:api: degraded pending');
like($api->{pending}{until} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'slo:api: with the time it takes effect');
like($api->{since} // '', qr/^\d{4}-\d\d-\d\dT/, 'slo:api: since when it holds');
# 1 / (1 - 0.999) in binary floating point: 1000 to 12 digits
ok(abs(($doc->{slos}{api}{burn_rates}{'5m'} // 0) - 1000) < 1e-6,
   'slo:api: the raw burn rate is 1000');
is($doc->{checks}{'slo:web'}{status}, 'unhealthy',
   'slo:web (no hold, required=on): unhealthy at once');
ok(!exists $doc->{checks}{'slo:web'}{pending}, 'slo:web: nothing pending');

# one endpoint per SLO: the check's own status and code
my ($r, $sel) = $ng->get_json('/health?check=slo:api');
is($r->{status}, 200, '?check=slo:api: 200 (held healthy)');
is_deeply([sort keys %{$sel->{checks} // {}}], ['slo:api'],
          '?check=slo:api: that check alone');
($r, $sel) = $ng->get_json('/health?check=slo:*');
is($r->{status}, 503, '?check=slo:*: 503, slo:web is unhealthy');
is_deeply([sort keys %{$sel->{checks} // {}}], ['slo:api', 'slo:web'],
          '?check=slo:*: both SLO checks');
$r = $ng->get('/lb?check=slo:api');
is($r->{status}, 200, 'lb ?check=slo:api: 200');
is($r->{content}, "healthy\n", 'lb ?check=slo:api: healthy');

# the held state and the buckets survive a reload
my $since = $api->{since};
$ng->reload;
$doc = $ng->wait_doc(sub { ($_[0]{slos}{api}{total} // 0) == 10 });
is($doc->{checks}{'slo:api'}{since}, $since, 'after a reload: the same since');
is($doc->{checks}{'slo:api'}{pending}{status}, 'degraded',
   'after a reload: still pending');

$ng->stop;
done_testing;
