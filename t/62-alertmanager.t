#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# contrib/alertmanager/alertmanager.yml pages once per incident (issue 17):
# amtool accepts it and routes warnings to the ticket receiver; a real
# Alertmanager with it (group_wait cut to 1s, the webhooks pointed at a
# listener here) gets the four alerts one 5xx incident raises, with the
# labels contrib/prometheus/alerts_test.yml shows them firing with, in
# the order they fire: the zone check's on two instances first, then the
# instance's and the zone's error-rate rules.  Exactly one notification
# goes out, to the page receiver, holding the check's alerts of both
# instances; the other three are inhibited.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

my ($AM) = grep { -x } map { ("$_/prometheus-alertmanager", "$_/alertmanager") }
                       split(/:/, $ENV{PATH} // ''), '/usr/bin';
my ($AMTOOL) = grep { -x } map { "$_/amtool" } split(/:/, $ENV{PATH} // ''), '/usr/bin';
ok($AM && $AMTOOL, 'Alertmanager and amtool are installed')
    or BAIL_OUT('prometheus-alertmanager missing (make deps)');

my $conf = HealthTest::repo_root() . '/contrib/alertmanager/alertmanager.yml';

my ($rc, $out) = run_cmd($AMTOOL, 'check-config', $conf);
is($rc, 0, 'amtool check-config') or diag $out;

($rc, $out) = run_cmd($AMTOOL, 'config', 'routes', 'test', "--config.file=$conf",
                      'severity=warning', 'alertname_group=NginxHealthCheck');
like($out, qr/^ticket$/m, 'a warning opens a ticket') or diag $out;
($rc, $out) = run_cmd($AMTOOL, 'config', 'routes', 'test', "--config.file=$conf",
                      'severity=critical', 'alertname_group=NginxHealthCheck');
like($out, qr/^page$/m, 'a critical alert pages') or diag $out;

##########################################################################
# a webhook listener: every notification's path and body, one per line

my $dir = tmp_dir('alertmanager');
my $hooks = "$dir/hooks";
spew($hooks, '');
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1) or die "listen: $!\n";
my $hp = $listen->sockport;
my $hook = fork // die "fork: $!\n";
if ($hook == 0) {
    while (my $c = $listen->accept) {
        my ($line, %h) = (scalar <$c>);
        while (my $l = <$c>) {
            last if $l =~ /^\r?\n$/;
            $h{lc $1} = $2 if $l =~ /^([^:]+):\s*(.*?)\r?$/;
        }
        my $body = '';
        read($c, $body, $h{'content-length'} // 0);
        my ($path) = ($line // '') =~ m{^POST (\S+)};
        $body =~ s/\n/ /g;
        if (open my $fh, '>>', $hooks) { print $fh ($path // '?'), "\t$body\n"; close $fh }
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;

# the shipped file, its webhooks pointed here and group_wait cut to 1s
my $text = slurp($conf);
$text =~ s{http://127\.0\.0\.1:9099/}{http://127.0.0.1:$hp/}g;
$text =~ s/group_wait: 30s/group_wait: 1s/ or die "no group_wait in $conf\n";
spew("$dir/alertmanager.yml", $text);

my $ap = free_port();
my $am = fork // die "fork: $!\n";
if ($am == 0) {
    open STDOUT, '>', "$dir/alertmanager.log";
    open STDERR, '>&', \*STDOUT;
    exec $AM, "--config.file=$dir/alertmanager.yml", "--storage.path=$dir/data",
        "--web.listen-address=127.0.0.1:$ap", '--cluster.listen-address=',
        '--log.level=warn' or POSIX::_exit(127);
}
END {
    local $?;
    for my $p (grep { $_ } $am, $hook) { kill 'TERM', $p; waitpid($p, 0) }
}

my $http = HTTP::Tiny->new(timeout => 10);
my $api = "http://127.0.0.1:$ap/api/v2";
ok(wait_until(sub { $http->get("http://127.0.0.1:$ap/-/ready")->{success} },
              timeout => 30), 'Alertmanager is ready')
    or diag slurp("$dir/alertmanager.log");

sub alert {
    my (%labels) = @_;
    return { labels => { job => 'nginx-health', %labels },
             annotations => { summary => "$labels{alertname} on $labels{instance}" } };
}
sub post {
    my $r = $http->post("$api/alerts", { headers => { 'Content-Type' => 'application/json' },
                                         content => encode_json([@_]) });
    ok($r->{success}, 'posted ' . join(', ', map { "$_->{labels}{alertname}\@$_->{labels}{instance}" } @_))
        or diag "$r->{status} $r->{content}";
}
sub notifications {
    return map { my ($p, $b) = split /\t/, $_, 2; [$p, decode_json($b)] }
           grep { length } split /\n/, slurp($hooks) // '';
}

my %check = (alertname => 'NginxHealthCheckUnhealthy', severity => 'critical',
             alertname_group => 'NginxHealthCheck', check => 'zone:api:error_rate',
             zone => 'api');

# 2m: the zone check fires, on the two instances behind the balancer
post(alert(%check, instance => 'web-1:80'), alert(%check, instance => 'web-2:80'));
ok(wait_until(sub { notifications() >= 1 }, timeout => 30), 'a notification went out');

# 3m and 6m: the instance's alert, then Prometheus' error-rate rules
post(alert(alertname => 'NginxHealthInstanceUnhealthy', severity => 'critical',
           alertname_group => 'NginxHealthInstance', instance => 'web-1:80'),
     alert(alertname => 'NginxHealthErrorRateCritical', severity => 'critical',
           alertname_group => 'NginxHealthErrorRate', instance => 'web-1:80', zone => 'api'),
     alert(alertname => 'NginxHealthErrorRateHigh', severity => 'warning',
           alertname_group => 'NginxHealthErrorRate', instance => 'web-1:80', zone => 'api'));

# Alertmanager's own word on them: inhibited by the check's alert
my %state;
ok(wait_until(sub {
    my $r = $http->get("$api/alerts");
    return 0 unless $r->{success};
    %state = map { ("$_->{labels}{alertname}\@$_->{labels}{instance}"
                    => $_->{status}) } @{ decode_json($r->{content}) };
    keys %state == 5;
}, timeout => 30), 'Alertmanager holds the five alerts');
for my $a (qw(NginxHealthInstanceUnhealthy NginxHealthErrorRateCritical
              NginxHealthErrorRateHigh))
{
    my $s = $state{"$a\@web-1:80"};
    ok($s && $s->{state} eq 'suppressed' && @{ $s->{inhibitedBy} || [] },
       "$a is inhibited") or diag explain $s;
}
is($state{'NginxHealthCheckUnhealthy@web-1:80'}{state}, 'active', 'the check\'s alert is active');

# three more group_waits: the inhibited ones never notify
sleep 3;
my @n = notifications();
is(scalar @n, 1, 'one notification for the incident');
is($n[0][0], '/page', 'to the page receiver');
is_deeply([sort map { "$_->{labels}{alertname}\@$_->{labels}{instance}" }
                @{ $n[0][1]{alerts} }],
          ['NginxHealthCheckUnhealthy@web-1:80', 'NginxHealthCheckUnhealthy@web-2:80'],
          'holding the check\'s alert of both instances');

done_testing;
