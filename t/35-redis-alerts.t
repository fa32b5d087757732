#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# issue 14 point 5: the alerts on <prefix>:system:alerts.  A check that
# starts unknown and becomes healthy raises none (a start is no news); a
# change seen in the first round after the lease moved to another worker
# is raised (the statuses last published are kept in shared memory, not in
# the worker that published them); every alert names the instance.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);
use Resp;
use HostileServer;

my @killme;
END { kill 'KILL', @killme if @killme }

my $rd = HealthTest::Redis->start;
my $port = $rd->port;

##########################################################################
# start-up: "late" answers only after a few rounds of the publisher; its
# unknown to healthy is no alert, its healthy to unhealthy is one, and it
# names the instance

{
    # answers PING at once, and INFO only once the test lets it: the check
    # is unknown until then, and its first status is healthy.  One process
    # serving its connections in turn: no fork delays the first PING.
    my $flag = HealthTest::tmp_dir('late') . '/answer';
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                       Proto => 'tcp', Listen => 16, ReuseAddr => 1)
        or die "listen: $!\n";
    my $lport = $listen->sockport;
    my $late = fork // die "fork: $!\n";
    if ($late == 0) {
        $SIG{PIPE} = 'IGNORE';
        while (1) {
            my $c = $listen->accept or next;
            $c->autoflush(1);
            HostileServer::redis_serve($c, sub {
                my ($s, $cmd) = @_;
                if (uc $cmd->[0] eq 'INFO') {
                    sleep 0.05 until -e $flag;
                    print $s HostileServer::redis_info();
                } else {
                    print $s "+PONG\r\n";
                }
                1;
            });
            close $c;
        }
    }
    close $listen;
    @killme = ($late);

    my $sub = subscriber($port, 'health:service:web1:status',
                         'health:system:alerts');

    my $ng = HealthTest::Nginx->new(conf => <<"EOF");
    health_service web1;
    health_redis 127.0.0.1:$port interval=300ms timeout=1s;
    health_redis 127.0.0.1:$lport name=late publish=off
                 interval=300ms timeout=1h
                 latency_warning=30m latency_critical=1h;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
    $ng->start;

    my $status = 'health:service:web1:status';
    ok(drain($sub, sub {
        (grep { ($_->{checks}{late} // '') eq 'unknown' } msgs($sub, $status)) >= 3
    }, 30), 'three rounds published with "late" unknown');

    HealthTest::spew($flag, '');

    my $healthy_at;
    ok(drain($sub, sub {
        my @m = msgs($sub, $status);
        ($healthy_at) = grep { ($m[$_]{checks}{late} // '') eq 'healthy' } 0 .. $#m;
        defined $healthy_at;
    }, 30), '"late" becomes healthy');
    # the alerts of a round are published before the next round's status
    ok(drain($sub, sub { msgs($sub, $status) >= $healthy_at + 3 }, 30),
       'two more rounds published');

    my @late = grep { $_->{check} eq 'late' } msgs($sub, 'health:system:alerts');
    is_deeply([grep { $_->{from} eq 'unknown' && $_->{to} eq 'healthy' } @late], [],
              'no alert for a check going from unknown to healthy')
        or diag explain \@late;
    # its first status after unknown is healthy by construction: no PING
    # is slow enough to matter, the hit rate has too few lookups to judge
    my ($first) = grep { ($_->{checks}{late} // '') ne 'unknown' }
                  msgs($sub, $status);
    is($first->{checks}{late}, 'healthy', 'its first status is healthy');
    is_deeply(\@late, [], 'no alert for it at all');

    kill 'KILL', $late;
    waitpid $late, 0;
    @killme = ();
    my $alert;
    ok(drain($sub, sub {
        ($alert) = grep { $_->{check} eq 'late' && $_->{to} eq 'unhealthy' }
                   msgs($sub, 'health:system:alerts');
        $alert;
    }, 30), 'an alert when it goes down');
    is($alert->{from}, 'healthy', 'from healthy');
    is($alert->{severity}, 'critical', 'critical');
    is($alert->{service}, 'web1', 'the alert names the service');
    is($alert->{instance}, 'web1', 'and the instance');
    like($alert->{message}, qr/"late" of web1 went from healthy to unhealthy/,
         "the message ($alert->{message})");

    is_deeply([$ng->log_alerts], [], 'no alerts in error.log');
    $ng->stop;
}

##########################################################################
# the lease moves: the owner of the publishing probe is killed, requests
# then fail, and the first round of the new owner raises the alert

{
    my $sub = subscriber($port, 'health:service:web2:status',
                         'health:system:alerts');

    # the lease lasts 2 intervals and the timeout: 4.5 s for the failing
    # requests to be counted before the next owner's first round
    my $ng = HealthTest::Nginx->new(workers => 2,
        allow_log => qr/worker process \d+ exited on signal 9/,
        conf => <<"EOF");
    health_service web2;
    health_zone api;
    health_rule error_rate zone=api warning=1% critical=5% min_requests=1;
    health_redis 127.0.0.1:$port interval=2s timeout=500ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_zone off; health_status; }
        location /fail   { return 500; }
    }
EOF
    $ng->start;

    my $status = 'health:service:web2:status';
    my $check = 'zone:api:error_rate';
    ok(drain($sub, sub {
        (grep { ($_->{checks}{$check} // '') eq 'healthy' } msgs($sub, $status)) >= 2
    }, 30), 'two rounds published with the error rate healthy');

    # the last worker that took the lease is the owner
    my $log = HealthTest::slurp($ng->error_log);
    my ($owner) = ($log =~ /(\d+)#\d+: health: this worker probes "cache"/g)[-1];
    ok($owner, "the publishing worker is $owner");
    my $from = length $log;
    kill 'KILL', $owner;
    my $n500 = grep { $ng->get('/fail')->{status} == 500 } 1 .. 10;
    is($n500, 10, 'ten failing requests, served by the other worker');

    ok(wait_until(sub {
        substr(HealthTest::slurp($ng->error_log), $from)
            =~ /(\d+)#\d+: health: this worker probes "cache" \(took over/
            && $1 != $owner;
    }, timeout => 30), 'another worker takes the lease over');

    my $alert;
    ok(drain($sub, sub {
        ($alert) = grep { $_->{check} eq $check && $_->{service} eq 'web2' }
                   msgs($sub, 'health:system:alerts');
        $alert;
    }, 30), 'the new owner raises the alert in its first round');
    is($alert && $alert->{from}, 'healthy', 'from healthy');
    is($alert && $alert->{to}, 'unhealthy', 'to unhealthy');
    is($alert && $alert->{instance}, 'web2', 'naming the instance');

    # and once only: the next rounds raise nothing more for it
    my $seen = msgs($sub, $status);
    drain($sub, sub { msgs($sub, $status) >= $seen + 2 }, 30);
    my @all = grep { $_->{check} eq $check && $_->{service} eq 'web2' }
              msgs($sub, 'health:system:alerts');
    is(scalar @all, 1, 'one alert for one change');

    # a reload keeps what was last seen: no alert repeated after it
    $ng->reload;
    $seen = msgs($sub, $status);
    drain($sub, sub { msgs($sub, $status) >= $seen + 3 }, 30);
    @all = grep { $_->{check} eq $check && $_->{service} eq 'web2' }
           msgs($sub, 'health:system:alerts');
    is(scalar @all, 1, 'a reload repeats no alert');

    is_deeply([$ng->log_alerts], [], 'no alerts in error.log (but the killed worker)');
    $ng->stop;
}

$rd->stop;
done_testing();
