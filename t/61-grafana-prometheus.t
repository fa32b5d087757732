#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The Grafana dashboard against a real Prometheus (issue 17): a prometheus
# server scrapes a live nginx with the module (traffic, an upstream with one
# peer down, a PostgreSQL probe, a Redis probe with a queue and the fleet
# view, an SLO) the way contrib/prometheus/prometheus.yml does, an env
# label included (and the fleet job keeping only the fleet's families, as
# contrib's scrape config does), and every query of every panel is evaluated through its
# HTTP API with the dashboard's variables at "All".  Each must succeed and
# show data (PgBouncer's panel aside: t/37 serves that family), the
# tables carry only the labels they mean, and the peers panel's colour for
# one peer of two is the colour of the upstream check's verdict.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use HTTP::Tiny;
use POSIX ();

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $PROM = (grep { -x } map { "$_/prometheus" } split(/:/, $ENV{PATH} // ''),
            '/usr/bin')[0];
ok($PROM, 'the prometheus server is installed') or BAIL_OUT('prometheus missing (make deps)');

my $dash = JSON::PP->new->decode(slurp(HealthTest::repo_root()
                                       . '/contrib/grafana/nginx-health.json'));

##########################################################################
# the datasource: a template variable, so that file provisioning works

ok(!exists $dash->{__inputs}, 'no import-only ${DS_...} input');
my ($dsvar) = grep { $_->{name} eq 'datasource' } @{ $dash->{templating}{list} };
ok($dsvar && $dsvar->{type} eq 'datasource' && $dsvar->{query} eq 'prometheus',
   'a datasource variable of type prometheus');

my (@panels, @todo);
@todo = @{ $dash->{panels} };
while (my $p = shift @todo) {
    push @panels, $p;
    push @todo, @{ $p->{panels} || [] };
}
my @bad_ds;
for my $p (@panels) {
    for my $o ($p, @{ $p->{targets} || [] }) {
        next unless $o->{datasource};
        push @bad_ds, $p->{title} if ($o->{datasource}{uid} // '') ne '${datasource}';
    }
}
for my $v (@{ $dash->{templating}{list} }) {
    next if $v->{type} ne 'query';
    push @bad_ds, "variable $v->{name}" if ($v->{datasource}{uid} // '') ne '${datasource}';
}
is_deeply(\@bad_ds, [], 'every panel, target and variable uses ${datasource}');
unlike(JSON::PP->new->encode($dash), qr/DS_PROMETHEUS/, 'no ${DS_PROMETHEUS} left');

##########################################################################
# what Prometheus scrapes

my $rd = HealthTest::Redis->start;
$rd->cli('RPUSH', 'jobs', 'a', 'b', 'c');
my $pg = pg_with_extension();
my ($pgp) = ($pg->port);

my $ng = HealthTest::Nginx->new(conf => <<"EOF");
    health_service grafana-1;
    health_slo availability zone=api objective=99%;
    health_postgres "hostaddr=127.0.0.1 port=$pgp dbname=postgres user=postgres"
                    interval=500ms;
    health_redis 127.0.0.1:@{[ $rd->port ]} interval=500ms fleet=on;
    health_redis_queue jobs key=jobs warning=10 critical=50 interval=500ms;

    upstream app {
        server 127.0.0.1:%%PORT_1%%;
        server 127.0.0.1:%%PORT_2%%;
        health_check uri=/ interval=300ms fails=1 passes=1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        health_zone api;
        location / { proxy_pass http://app; }
        location = /health { health_status; health_zone off; }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / { return 200 "ok\\n"; }
    }
EOF
$ng->start;

# one peer of two: nothing listens on PORT_2
ok(defined $ng->wait_check('upstream:app', 'degraded', timeout => 20),
   'upstream:app is degraded: one peer of two is down');
ok(defined $ng->wait_check('database', 'healthy', timeout => 20), 'the database check runs');
ok(defined $ng->wait_check('jobs', 'healthy', timeout => 20), 'the queue check runs');
$ng->get('/') for 1 .. 20;

my $dir = tmp_dir('prometheus');
my $pp = free_port();
my $target = '127.0.0.1:' . $ng->port;
spew("$dir/prometheus.yml", <<"EOF");
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nginx-health
    metrics_path: /health
    params: { format: [prometheus] }
    static_configs:
      - targets: ['$target']
        labels: { env: test }
  - job_name: nginx-health-fleet
    metrics_path: /health
    params: { scope: [fleet], format: [prometheus] }
    static_configs:
      - targets: ['$target']
        labels: { env: test }
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'nginx_health_fleet_.*'
        action: keep
EOF

my $prom = fork // die "fork: $!\n";
if ($prom == 0) {
    open STDOUT, '>', "$dir/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    exec $PROM, "--config.file=$dir/prometheus.yml",
        "--storage.tsdb.path=$dir/data", "--web.listen-address=127.0.0.1:$pp",
        '--log.level=warn' or POSIX::_exit(127);
}
END { local $?; if ($prom) { kill 'TERM', $prom; waitpid($prom, 0) } }

my $http = HTTP::Tiny->new(timeout => 10);
sub query {
    my ($q) = @_;
    my $r = $http->get("http://127.0.0.1:$pp/api/v1/query?query="
                       . $http->www_form_urlencode({ q => $q }) =~ s/^q=//r);
    return undef unless $r->{success};
    return eval { JSON::PP->new->decode($r->{content}) };
}

# enough scrapes for the rates of the panels ($__rate_interval is 1m here)
ok(wait_until(sub {
    my $r = query('min(count_over_time(up{job=~"nginx-health.*"}[1m]))');
    $r && $r->{status} eq 'success' && @{ $r->{data}{result} }
       && $r->{data}{result}[0]{value}[1] >= 8
       && $ng->get('/') && 1;
}, timeout => 60), 'Prometheus scraped both jobs at least 8 times')
    or diag slurp("$dir/prometheus.log");

##########################################################################
# every query of every panel

my %vars = (instance => '.*', zone => '.*', upstream => '.*');
my (%result, @failed);
for my $p (@panels) {
    for my $t (@{ $p->{targets} || [] }) {
        my $q = $t->{expr};
        $q =~ s/\$__rate_interval/1m/g;
        $q =~ s/\$(\w+)/$vars{$1} \/\/ die "unknown variable \$$1 in $p->{title}"/ge;
        my $r = query($q);
        if (!$r || $r->{status} ne 'success') {
            push @failed, "$p->{title}: $q";
            next;
        }
        push @{ $result{$p->{id}} }, @{ $r->{data}{result} };
    }
}
is_deeply(\@failed, [], 'Prometheus evaluates every panel query');

for my $p (grep { @{ $_->{targets} || [] } } @panels) {
    next if $p->{id} == 30;    # PgBouncer: t/37 serves the family
    ok(@{ $result{$p->{id}} || [] }, "panel '$p->{title}' shows data");
}

my %by_id = map { $_->{id} => $_ } @panels;

# the tables: the labels they mean, not what the scrape adds (env, job)
is_deeply([sort keys %{ $result{15}[0]{metric} }], [qw(check instance)],
          'Checks now: instance and check only');
is_deeply([sort keys %{ $result{6}[0]{metric} }], [qw(instance service version)],
          'Instances: instance, service and version only');

# peers up: 1 of 2 is 0.5, and the colour is the verdict's (degraded)
{
    my ($app) = grep { $_->{metric}{upstream} eq 'app' } @{ $result{17} };
    is($app && $app->{value}[1], '0.5', 'Peers up per upstream: app at 0.5');
    my $steps = $by_id{17}{fieldConfig}{defaults}{thresholds}{steps};
    my $colour = sub {
        my ($v) = @_;
        my $c;
        for (@$steps) { $c = $_->{color} if !defined $_->{value} || $v >= $_->{value} }
        return $c;
    };
    my %verdict = (0 => 'red', 0.5 => 'orange', 1 => 'green');
    is($colour->($_), $verdict{$_}, "Peers up at $_: $verdict{$_}") for sort keys %verdict;
    my $map = $by_id{14}{fieldConfig}{defaults}{mappings}[0]{options};
    is($map->{1}{color}, 'orange', 'the same orange as a degraded check');
    is($map->{2}{color}, 'red', 'the same red as an unhealthy one');
}

# the dependencies: the probes' checks, the queue's length
{
    my %deps = map { $_->{metric}{check} => 1 } @{ $result{27} };
    ok($deps{$_}, "Dependency checks: $_") for qw(database cache jobs);
    ok(!(grep { /^(?:zone|upstream):/ } keys %deps), 'and no zone or upstream check');
    my ($jobs) = grep { $_->{metric}{queue} eq 'jobs' } @{ $result{29} };
    is($jobs && $jobs->{value}[1], '3', 'Queue length: jobs is 3');
}

# SLO and fleet
ok((grep { $_->{metric}{slo} eq 'availability' } @{ $result{33} }),
   'Error budget remaining: the availability SLO');
{
    my %num = (healthy => 0, degraded => 1, unhealthy => 2, unknown => 3);
    my ($r, $doc) = $ng->get_json('/health?scope=fleet');
    is($result{34}[0] && $result{34}[0]{value}[1], $num{$doc->{fleet}{status}},
       "Fleet status: the fleet's $doc->{fleet}{status}");
    my ($seen) = grep { $_->{metric}{__name__} // 1 } @{ $result{35} };
    is($result{35}[0]{value}[1], 1, 'Fleet members seen: this one');
}

$pg->stop;
$ng->stop;
$rd->stop;

done_testing;
