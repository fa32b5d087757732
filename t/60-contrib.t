#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# contrib/: the Prometheus rules pass promtool's checks and unit tests, the
# scrape config is valid, the Grafana dashboard is importable JSON whose
# queries (and the alerts') only use metrics the module emits, and the
# example nginx configurations pass nginx -t.
#
# "Metrics the module emits" is checked two ways: against the names of the
# design (hard-coded below), and against the live /health?format=prometheus
# of a real nginx with the module.  The live check is the one that counts:
# a module that is not built, or does not serve a name, fails it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;

use HealthTest qw(:all);

my $ROOT = repo_root();
chdir $ROOT or die "chdir $ROOT: $!\n";

my $promtool = $ENV{PROMTOOL}
    // (grep { -x } map { "$_/promtool" } split(/:/, $ENV{PATH} // ''),
                                         '/usr/bin')[0];
ok($promtool, 'promtool is installed') or BAIL_OUT('promtool missing (make deps)');

# The metric families of the design ("nginx side: the status location").
my %DESIGN = (
    nginx_health_requests_total                              => 'counter',
    nginx_health_responses_total                             => 'counter',
    nginx_health_request_duration_seconds                    => 'histogram',
    nginx_health_upstream_peer_up                            => 'gauge',
    nginx_health_upstream_peer_state                         => 'gauge',
    nginx_health_upstream_peer_failed_attempts_total         => 'counter',
    nginx_health_upstream_peer_requests_total                => 'counter',
    nginx_health_upstream_peer_responses_total               => 'counter',
    nginx_health_upstream_peer_response_duration_seconds     => 'histogram',
    nginx_health_check_status                                => 'gauge',
    nginx_health_check_judged                                => 'gauge',
    nginx_health_status                                      => 'gauge',
    nginx_health_info                                        => 'gauge',
    nginx_health_slo_objective                               => 'gauge',
    nginx_health_slo_events_total                            => 'counter',
    nginx_health_slo_burn_rate                               => 'gauge',
    nginx_health_slo_error_budget_remaining                  => 'gauge',
    # issue 15: peer health (design.md names only peer_fails_total)
    nginx_health_upstream_peer_kept_by_limit                 => 'gauge',
    nginx_health_upstream_peer_fails_total                   => 'counter',
    nginx_health_upstream_peer_checks_total                  => 'counter',
    nginx_health_upstream_peer_check_duration_seconds        => 'summary',
    nginx_health_upstream_peer_check_last_duration_seconds   => 'gauge',
    nginx_health_upstream_peer_slow_start_ratio              => 'gauge',
    # issues 12, 14, 16: dependencies, queues, the fleet, PgBouncer's
    # pools (design.md does not list them)
    nginx_health_dependency_response_seconds                 => 'gauge',
    nginx_health_redis_queue_length                          => 'gauge',
    nginx_health_fleet_status                                => 'gauge',
    nginx_health_fleet_instances                             => 'gauge',
    nginx_health_fleet_instance_stale                        => 'gauge',
    nginx_health_pgbouncer_pool_clients                      => 'gauge',
);

# families the live nginx below does not serve (they need a database,
# Redis, a fleet or PgBouncer): t/61 scrapes them with a real Prometheus,
# t/37 serves PgBouncer's
my %NOT_LIVE_HERE = map { $_ => 1 } qw(nginx_health_dependency_response_seconds
    nginx_health_redis_queue_length nginx_health_fleet_status
    nginx_health_fleet_instances nginx_health_fleet_instance_stale
    nginx_health_pgbouncer_pool_clients);

# The directives of the design, for the example configurations.
my %DIRECTIVES = map { $_ => 1 } qw(health_zone health_status health_service
    health_window health_buckets health_rule health_postgres health_redis
    health_check health_slo);

###########################################################################
# promtool

for my $cmd (['check', 'rules', 'contrib/prometheus/alerts.yml'],
             ['test', 'rules', 'contrib/prometheus/alerts_test.yml'],
             ['check', 'config', 'contrib/prometheus/prometheus.yml'])
{
    my ($rc, $out) = run_cmd($promtool, @$cmd);
    is($rc, 0, "promtool @$cmd") or diag $out;
}

###########################################################################
# metric names in queries

# Metric family names used in a PromQL text: histogram series (_bucket,
# _sum, _count) count as their histogram.
sub families {
    my ($text, $hist) = @_;
    my %f;
    while ($text =~ /\b(nginx_health_[a-z_]+)/g) {
        my $n = $1;
        $n = $1 if $n =~ /^(.*)_(?:bucket|sum|count)$/ && $hist->{$1};
        $f{$n} = 1;
    }
    return keys %f;
}

my %DESIGN_HIST = map { $_ => 1 } grep { $DESIGN{$_} =~ /^(?:histogram|summary)$/ }
                   keys %DESIGN;

# Grafana dashboard
my $json = slurp('contrib/grafana/nginx-health.json');
ok(defined $json, 'grafana dashboard exists');
my $dash = eval { JSON::PP->new->decode($json) };
ok($dash, 'grafana dashboard is valid JSON') or diag $@;
$dash //= {};

cmp_ok($dash->{schemaVersion} // 0, '>=', 36, 'schemaVersion is recent');
is($dash->{title}, 'nginx-health', 'dashboard title');
# a datasource variable, not an import-only ${DS_...} input, so that file
# provisioning loads it too (t/61 evaluates the queries in Prometheus)
ok((grep { ($_->{type} // '') eq 'datasource' && ($_->{query} // '') eq 'prometheus' }
         @{ $dash->{templating}{list} || [] }),
   'a Prometheus datasource variable');
ok(!$dash->{__inputs}, 'no __inputs');

my %vars = map { $_->{name} => $_ } @{ $dash->{templating}{list} || [] };
like(ref $vars{zone} && ($vars{zone}{definition} // $vars{zone}{query} // ''),
     qr/label_values\(nginx_health_requests_total\b.*,\s*zone\)/,
     'zone variable from label_values(nginx_health_requests_total, zone)');
ok($vars{instance}, 'instance variable');

my (@panels, @exprs);
my @todo = @{ $dash->{panels} || [] };
while (my $p = shift @todo) {
    push @panels, $p;
    push @todo, @{ $p->{panels} || [] };         # panels of collapsed rows
    for my $t (@{ $p->{targets} || [] }) {
        push @exprs, { panel => $p->{title}, expr => $t->{expr} // '' };
        is($t->{datasource}{uid}, '${datasource}',
           "panel '$p->{title}' target $t->{refId} uses the datasource variable");
    }
}
cmp_ok(scalar @exprs, '>=', 10, 'dashboard has queries');

my %dash_families;
for my $e (@exprs) {
    my @f = families($e->{expr}, \%DESIGN_HIST);
    ok(@f, "panel '$e->{panel}' queries a nginx_health metric") or diag $e->{expr};
    $dash_families{$_}{$e->{panel}} = 1 for @f;
}
for my $v (values %vars) {
    $dash_families{$_}{"variable $v->{name}"} = 1
        for families($v->{definition} // $v->{query} // '', \%DESIGN_HIST);
}

# the panels the issue asks for, found by the metric they show
my %by_metric;
for my $f (keys %dash_families) { $by_metric{$f} = 1 }
ok($by_metric{$_}, "dashboard shows $_") for qw(nginx_health_status
    nginx_health_requests_total nginx_health_responses_total
    nginx_health_request_duration_seconds nginx_health_check_status
    nginx_health_upstream_peer_up nginx_health_upstream_peer_requests_total
    nginx_health_upstream_peer_response_duration_seconds
    nginx_health_upstream_peer_checks_total nginx_health_upstream_peer_fails_total
    nginx_health_upstream_peer_check_duration_seconds
    nginx_health_upstream_peer_kept_by_limit);
for my $q (qw(0.50 0.95 0.99)) {
    ok((grep { $_->{expr} =~ /histogram_quantile\(\Q$q\E,\s*sum by \(zone, le\)/ } @exprs),
       "latency p" . ($q * 100) . " per zone from the histogram");
}

my ($status_panel) = grep { ($_->{type} // '') eq 'stat'
                            && grep { $_->{expr} =~ /nginx_health_status\b/ }
                                    @{ $_->{targets} || [] } } @panels;
ok($status_panel, 'overall status stat panel');
my %mapped;
for my $m (@{ $status_panel->{fieldConfig}{defaults}{mappings} || [] }) {
    $mapped{$_} = $m->{options}{$_}{text} for keys %{ $m->{options} || {} };
}
is_deeply(\%mapped, { 0 => 'healthy', 1 => 'degraded', 2 => 'unhealthy',
                      3 => 'unknown' }, 'status values mapped to words');

# every dashboard query is valid PromQL: promtool checks it as a recording
# rule once Grafana's variables are replaced
{
    my $dir = tmp_dir('contrib');
    my $rules = "groups:\n  - name: dashboard\n    rules:\n";
    my $i = 0;
    for my $e (@exprs) {
        my $x = $e->{expr};
        $x =~ s/\$__rate_interval/5m/g;
        $x =~ s/\$(instance|zone|upstream)\b/.*/g;
        $x =~ s/\n/ /g;
        $rules .= "      - record: dashboard:query$i\n"
                . "        expr: " . JSON::PP->new->encode([$x]) =~ s/^\[|\]$//gr
                . "\n";
        $i++;
    }
    spew("$dir/dashboard_rules.yml", $rules);
    my ($rc, $out) = run_cmd($promtool, 'check', 'rules', "$dir/dashboard_rules.yml");
    is($rc, 0, 'every dashboard query parses as PromQL') or diag $out;
}

# alert rules: every nginx_health name outside comments
my %alert_families;
{
    my $text = slurp('contrib/prometheus/alerts.yml') // '';
    $text =~ s/^\s*#.*$//mg;
    $alert_families{$_} = 1 for families($text, \%DESIGN_HIST);
    ok($alert_families{$_}, "alerts use $_") for qw(nginx_health_responses_total
        nginx_health_requests_total nginx_health_request_duration_seconds
        nginx_health_upstream_peer_up nginx_health_check_status
        nginx_health_status nginx_health_slo_burn_rate
        nginx_health_upstream_peer_kept_by_limit
        nginx_health_upstream_peer_fails_total);
    like($text, qr/up\{job="nginx-health"\}/, 'alerts watch the scrape job');
}

# metric name => where it is used
my %used = %dash_families;
$used{$_}{alerts} = 1 for keys %alert_families;

for my $f (sort keys %used) {
    ok($DESIGN{$f}, "$f is a metric of the design")
        or diag 'used by: ' . join(', ', sort keys %{ $used{$f} });
}

###########################################################################
# live: the names a real nginx with the module serves

{
    my $module = HealthTest::Nginx::module_path();
    ok(-f $module, "the module is built ($module)")
        or BAIL_OUT('build the module first: make');

    my $probe = HealthTest::Nginx->new(conf => <<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /metrics { health_status prometheus; }
    }
EOF
    my ($rc, $out) = $probe->test_conf;
    is($rc, 0, 'nginx -t with health_status prometheus') or diag $out;

    my $health_check = 'health_check uri=/ interval=1s;';

    my $ng = HealthTest::Nginx->new(conf => <<"EOF");
    health_service contrib-test;
    health_slo availability zone=api objective=99.9%;
    health_slo fast zone=api objective=95% latency=500ms period=7d;

    upstream app {
        server 127.0.0.1:%%PORT_1%%;
        server 127.0.0.1:%%PORT_2%%;
        $health_check
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        health_zone api;

        location / { proxy_pass http://app; }

        location = /health {
            health_status;
            health_zone off;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        listen 127.0.0.1:%%PORT_2%%;
        location / { return 200 "ok\\n"; }
        location /fail { return 500; }
    }
EOF
    $ng->start;
    for my $i (1 .. 40) {
        my $r = $ng->get($i % 10 ? '/' : '/fail');
        $r->{status} == 200 || $r->{status} == 500
            or diag "request $i: $r->{status} $r->{content}";
    }

    my $m = $ng->get('/health?format=prometheus');
    is($m->{status}, 200, 'GET /health?format=prometheus answers 200')
        or diag $m->{content};
    like($m->{headers}{'content-type'} // '', qr{^text/plain},
         'Prometheus text content type');

    my $dir = tmp_dir('contrib');
    spew("$dir/metrics.txt", $m->{content});
    my ($crc, $cout) = run_cmd('sh', '-c',
                               "'$promtool' check metrics < '$dir/metrics.txt'");
    is($crc, 0, 'promtool check metrics accepts the output') or diag $cout;

    # families from # TYPE lines, and sample names folded into them
    my (%type, %live);
    for (split /\n/, $m->{content}) {
        $type{$1} = $2 if /^# TYPE (\S+) (\S+)/;
    }
    my %live_hist = map { $_ => 1 } grep { $type{$_} =~ /^(?:histogram|summary)$/ }
                    keys %type;
    for (split /\n/, $m->{content}) {
        next if /^#/ || !/^(nginx_health_[a-z_]+)/;
        $live{$_} = 1 for families($1, \%live_hist);
    }
    $live{$_} = 1 for grep { /^nginx_health_/ } keys %type;

    # the SLO families of the design, served when an SLO is configured
    for my $f (grep { /^nginx_health_slo_/ } sort keys %DESIGN) {
        ok($live{$f}, "live output has $f");
        is($type{$f}, $DESIGN{$f}, "$f is a $DESIGN{$f}");
    }
    like($m->{content},
         qr/^nginx_health_slo_events_total\{slo="availability",result="bad"\} 4$/m,
         'the SLO counted the 4 answers 500 as bad');
    like($m->{content},
         qr/^nginx_health_slo_burn_rate\{slo="fast",window="5m"\} /m,
         'burn rates by window');

    for my $f (grep { !$NOT_LIVE_HERE{$_} } sort keys %used) {
        ok($live{$f}, "live output has $f")
            or diag 'used by: ' . join(', ', sort keys %{ $used{$f} });
        is($type{$f}, $DESIGN{$f}, "$f is a $DESIGN{$f}")
            if $live{$f} && $DESIGN{$f};
    }
    # issue 13: a rule with too few requests says it did not judge
    ok($live{nginx_health_check_judged},
       'live output has nginx_health_check_judged');
    is($type{nginx_health_check_judged}, 'gauge',
       'nginx_health_check_judged is a gauge');
    my @extra = grep { !$DESIGN{$_} } sort keys %live;
    diag "live names not in the design: @extra" if @extra;

    $ng->stop;
    is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');
}

###########################################################################
# example configurations

# Make an example testable in place: the module and files under a prefix
# directory of its own, loopback ports.
sub localise {
    my ($conf, $dir, %o) = @_;
    $conf =~ s{^load_module\s+[^;]+;}{$o{module} ? "load_module $o{module};" : ''}me;
    $conf =~ s{^\s*health_\w+[^;]*;}{}mg unless $o{module};
    $conf =~ s{^user\s+[^;]+;}{}m;
    $conf =~ s{^pid\s+[^;]+;}{pid $dir/nginx.pid;}m;
    $conf =~ s{/var/log/nginx/}{$dir/logs/}g;
    $conf =~ s{include\s+mime\.types;}{include /etc/nginx/mime.types;}g;
    $conf =~ s{listen\s+[^;\s]+}{'listen 127.0.0.1:' . free_port()}ge;
    return $conf;
}

sub nginx_t {
    my ($conf, $tag) = @_;
    my $dir = tmp_dir($tag);
    mkdir "$dir/logs";
    spew("$dir/nginx.conf", localise($conf, $dir, @_[2 .. $#_]));
    return HealthTest::Nginx->run_nginx('-t', '-p', $dir,
        '-c', "$dir/nginx.conf", '-e', "$dir/logs/error.log");
}

my @examples = sort glob 'contrib/examples/*.conf';
ok(scalar(grep { m{/site-with-api\.conf$} } @examples), 'site-with-api example');
ok(scalar(grep { m{/load-balancer\.conf$} } @examples), 'load-balancer example');

for my $file (@examples) {
    my $conf = slurp($file);
    my $name = $file =~ s{.*/}{}r;

    like($conf, qr/^load_module modules\/ngx_http_health_module\.so;$/m,
         "$name: loads the module the Debian way");
    my %seen;
    my $text = $conf =~ s/#.*$//mgr;
    $seen{$1}++ while $text =~ /^\s*(health_\w+)/mg;
    ok($DIRECTIVES{$_}, "$name: $_ is a directive of the design")
        for sort keys %seen;
    ok($seen{health_status} && $seen{health_zone} && $seen{health_check},
       "$name: has zones, a status location and active checks");

    # the rest of the file is valid for the stock nginx ...
    my ($rc, $out) = nginx_t($conf, 'example');
    is($rc, 0, "$name: nginx -t without the module's directives") or diag $out;

    # ... and the whole file for nginx with the module
    ($rc, $out) = nginx_t($conf, 'example',
                          module => HealthTest::Nginx::module_path());
    is($rc, 0, "$name: nginx -t with the module") or diag $out;
}

done_testing;
