#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis with sentinel= (issue 14 point 2): the master found through
# real Sentinels (redis-server --sentinel) on loopback, a dead first
# Sentinel passed over, a failover followed (the check and the publishing
# move to the new master, the move logged once), a master the Sentinels
# do not know, one they name that is down, a node named master that says
# it is a replica, and fake Sentinels answering garbage: unhealthy with a
# bounded, escaped reason, the worker unharmed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);
use HostileServer;

sub conf_error { HealthTest::Nginx->conf_error(@_) }

##########################################################################
# configuration

{
    my ($rc, $out) = conf_error('health_redis 127.0.0.1:26379,[::1]:26380 '
        . 'sentinel=mymaster sentinel_password=s password=p db=1;');
    is($rc, 0, 'nginx -t: Sentinels, the master\'s name, passwords') or diag $out;

    ($rc, $out) = conf_error('health_redis 127.0.0.1:26379,127.0.0.1:26380;');
    like($out, qr/invalid value "127\.0\.0\.1:26379,127\.0\.0\.1:26380" in "health_redis" directive, a list of addresses is a list of Sentinels and needs "sentinel="/,
         'nginx -t: a list without sentinel=');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:26379 sentinel_password=s;');
    like($out, qr/"sentinel_password=" in "health_redis" directive needs "sentinel="/,
         'nginx -t: sentinel_password= without sentinel=');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:26379,sentinel.example:26379 '
        . 'sentinel=m;');
    like($out, qr/invalid value "sentinel\.example:26379" in "health_redis".*synchronously/,
         'nginx -t: a Sentinel given by name');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:26379,127.0.0.1:0 sentinel=m;');
    like($out, qr/invalid value "127\.0\.0\.1:0" in "health_redis"/,
         'nginx -t: a Sentinel on port 0');
}

##########################################################################
# a master, its replica, a Sentinel; a dead address listed first

my $master = HealthTest::Redis->start;
my $replica = HealthTest::Redis->start(
    args => ['--replicaof', '127.0.0.1', $master->port]);
my $other = HealthTest::Redis->start;    # a second master the Sentinel watches
my ($pm, $pr, $po) = ($master->port, $replica->port, $other->port);

my $sdir = HealthTest::tmp_dir('sentinel');
HealthTest::spew("$sdir/sentinel.conf", <<"EOF");
sentinel monitor mymaster 127.0.0.1 $pm 1
sentinel down-after-milliseconds mymaster 2000
sentinel failover-timeout mymaster 10000
sentinel monitor other 127.0.0.1 $po 1
sentinel down-after-milliseconds other 3600000
EOF
my $sentinel = HealthTest::Redis->start(conf => "$sdir/sentinel.conf",
                                        dir => $sdir, args => ['--sentinel']);
my $ps = $sentinel->port;
my $dead = HealthTest::free_port();

# a fake Sentinel: answers every command with $reply
sub fake_sentinel {
    my ($reply) = @_;
    return HostileServer->start(sub {
        my ($s) = @_;
        while (my $cmd = HostileServer::redis_command($s)) {
            my $r = ref $reply ? $reply->($s, $cmd) : $reply;
            return unless defined $r;
            print $s $r;
        }
    });
}

sub bulk { '$' . length($_[0]) . "\r\n$_[0]\r\n" }

my %fake = (
    integer  => fake_sentinel(":5\r\n"),
    three    => fake_sentinel("*3\r\n" . bulk('127.0.0.1') . bulk('6379') . bulk('x')),
    nested   => fake_sentinel("*2\r\n*1\r\n" . bulk('127.0.0.1') . bulk('6379')),
    hostname => fake_sentinel("*2\r\n" . bulk('redis.example') . bulk('6379')),
    port0    => fake_sentinel("*2\r\n" . bulk('127.0.0.1') . bulk('0')),
    hugestr  => fake_sentinel(sub {
        my ($s) = @_;
        print $s "*2\r\n\$2000000000\r\n";
        my $chunk = 'x' x 65536;
        while (1) { print $s $chunk or return undef }
    }),
    flood    => fake_sentinel(sub {
        my ($s) = @_;
        my $chunk = "+OK\r\n" x 1000;
        while (1) { print $s $chunk or return undef }
    }),
    badutf8  => fake_sentinel("-ERR \xff\xfe\r\n\r2026/01/01 [emerg] forged\r\n"),
    replica  => fake_sentinel("*2\r\n" . bulk('127.0.0.1') . bulk($pm)),
);

my $fakes = join '', map {
    "    health_redis 127.0.0.1:" . $fake{$_}->port
    . " sentinel=mymaster name=$_ publish=off interval=500ms timeout=4s;\n"
} grep { $_ ne 'replica' } sort keys %fake;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service web1;
    health_redis 127.0.0.1:$dead,127.0.0.1:$ps sentinel=mymaster
                 interval=200ms timeout=1s;
    health_redis_queue jobs key=jobs:wait warning=10 critical=50
                 interval=200ms timeout=1s;
    health_redis 127.0.0.1:$ps sentinel=nosuch name=unknown publish=off
                 interval=200ms timeout=1s;
    health_redis 127.0.0.1:$dead sentinel=mymaster name=nosentinel
                 publish=off interval=200ms timeout=1s;
    health_redis 127.0.0.1:$ps sentinel=other name=down publish=off
                 interval=200ms timeout=1s;
$fakes
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_zone off; health_status; }
    }
EOF
$ng->start;
my ($worker) = $ng->worker_pids;

ok(defined $ng->wait_check('cache', 'healthy', timeout => 20),
   'the master found through the second Sentinel: healthy');
my ($c, $r) = $ng->check('cache');
is($c->{master}, "127.0.0.1:$pm", 'the master in use');
is($c->{sentinel}, "127.0.0.1:$ps", 'the Sentinel that answered');
like($c->{target}, qr/^127\.0\.0\.1:$dead,127\.0\.0\.1:$ps sentinel=mymaster$/,
     "the target ($c->{target})");

ok(wait_until(sub { $master->cli('EXISTS', 'health:instance:web1') eq '1' },
              timeout => 10), 'published on the master');

# a queue of the Sentinel health_redis finds the master through them too
$master->cli('RPUSH', 'jobs:wait', 'a', 'b', 'c');
ok(wait_until(sub {
    my ($q) = $ng->check('jobs');
    $q && $q->{status} eq 'healthy' && ($q->{value} // -1) == 3
}, timeout => 20), 'the queue is read on the master: 3 items');

# the master of "other" is stopped; the Sentinel, slow to judge, names it
$other->stop;
ok(defined $ng->wait_check('down', 'unhealthy', timeout => 20,
    reason => qr/cannot connect to 127\.0\.0\.1:$po \(master of other\)|connection to 127\.0\.0\.1:$po \(master of other\) lost/),
   'a master named but down: unhealthy, the reason names it');

ok(defined $ng->wait_check('unknown', 'unhealthy', timeout => 20,
    reason => qr/^master "nosuch" is unknown to the Sentinels: 127\.0\.0\.1:$ps: unknown$/),
   'a master the Sentinels do not know: unhealthy');

ok(defined $ng->wait_check('nosentinel', 'unhealthy', timeout => 20,
    reason => qr/^no Sentinel answered for master "mymaster": 127\.0\.0\.1:$dead: cannot connect/),
   'no Sentinel answers: unhealthy, the Sentinel tried named');

##########################################################################
# fake Sentinels

my %want = (
    integer  => qr/not an address and a port in reply/,
    three    => qr/not an address and a port in reply/,
    nested   => qr/not an address and a port in reply/,
    hostname => qr/named "redis\.example 6379", not an IP address and a port/,
    port0    => qr/named "127\.0\.0\.1 0", not an IP address and a port/,
    hugestr  => qr/not an address and a port in reply/,
    flood    => qr/not an address and a port in reply|sent more than 512 bytes/,
    badutf8  => qr/error "ERR \xef\xbf\xbd\xef\xbf\xbd"/,
);

for my $name (sort keys %want) {
    my $port = $fake{$name}->port;
    ok(defined $ng->wait_check($name, 'unhealthy', timeout => 20,
        reason => qr/^no Sentinel answered for master "mymaster": 127\.0\.0\.1:$port: $want{$name}/),
       "fake Sentinel $name: unhealthy with the reason")
        or diag explain [$ng->check($name)]->[0];
}

{
    my ($r, $doc) = $ng->get_json('/health');
    ok($doc, 'the status is valid JSON');
    for my $name (sort keys %want) {
        ok(length($doc->{checks}{$name}{reason}) <= 512,
           "$name: the reason is bounded");
    }
    is(($ng->worker_pids)[0], $worker, 'the same worker throughout');
    unlike(HealthTest::slurp($ng->error_log), qr/^\S+ \S+ \[emerg\] forged/m,
           'no forged line in error.log');
}

##########################################################################
# failover

ok(wait_until(sub {
    $replica->cli('INFO', 'replication') =~ /master_link_status:up/
    && $sentinel->cli('SENTINEL', 'replicas', 'mymaster') =~ /\b$pr\b/
}, timeout => 30), 'the Sentinel knows the replica');

like($sentinel->cli('SENTINEL', 'failover', 'mymaster'), qr/OK/,
     'SENTINEL failover');

ok(wait_until(sub {
    my ($c) = $ng->check('cache');
    $c && $c->{status} eq 'healthy' && ($c->{master} // '') eq "127.0.0.1:$pr"
}, timeout => 60), 'the check follows the failover: the new master, healthy');

# the cache's and the queue's connections both move to the new master
ok(wait_until(sub {
    (() = $replica->cli('CLIENT', 'LIST') =~ /name=nginx-health /g) == 2
}, timeout => 20), 'the cache and the queue talk to the new master');
ok(wait_until(sub {
    (() = $master->cli('CLIENT', 'LIST') =~ /name=nginx-health /g) == 0
}, timeout => 20), 'and no longer to the old one');

# the old master is a replica now: a key it holds may be a copy; the new
# master's own copy comes back after it is deleted
$replica->cli('DEL', 'health:instance:web1');
ok(wait_until(sub { $replica->cli('EXISTS', 'health:instance:web1') eq '1' },
              timeout => 10), 'published on the new master');

{
    my $log = HealthTest::slurp($ng->error_log);
    my @moved = $log =~ /\[notice\] [^\n]*(health: master of "mymaster" moved from 127\.0\.0\.1:$pm to 127\.0\.0\.1:$pr)/g;
    is(scalar @moved, 1, 'the move is logged once at notice');
}

$ng->stop;

# a Sentinel naming a node that is a replica (the old master, now)
ok(wait_until(sub { $master->cli('ROLE') =~ /^slave/ }, timeout => 30),
   'the old master is a replica');
my $ng2 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_redis 127.0.0.1:@{[ $fake{replica}->port ]} sentinel=mymaster
                 publish=off interval=200ms timeout=1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng2->start;
ok(defined $ng2->wait_check('cache', 'unhealthy', timeout => 20,
    reason => qr/^127\.0\.0\.1:$pm \(master of mymaster\), named by Sentinel 127\.0\.0\.1:\d+, says its role is "slave", not master$/),
   'a replica named master: unhealthy');
$ng2->stop;

##########################################################################
# the master's connection lost while a round asks the Sentinels (a master
# stopped or restarted between rounds): the round goes on to the master it
# is told of, connecting anew; it is neither failed nor ended twice (the
# second end was an [alert], seen on Debian 13)

{
    my $drop = HealthTest::Redis->start;
    my $pd = $drop->port;
    my $kills = HealthTest::tmp_dir('kills') . '/kills';
    HealthTest::spew($kills, '');

    # every question first drops nginx's connection to the master (CLIENT
    # KILL skips redis-cli's own), then is answered once the drop is seen
    my $asked = fake_sentinel(sub {
        my ($s) = @_;
        my $n = $drop->cli('CLIENT', 'KILL', 'TYPE', 'normal');
        sleep 0.3;
        if (open my $fh, '>>', $kills) { print $fh "$n\n"; close $fh }
        return "*2\r\n" . bulk('127.0.0.1') . bulk($pd);
    });

    my $ng3 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_redis 127.0.0.1:@{[ $asked->port ]} sentinel=mymaster name=drop
                 publish=off interval=200ms timeout=3s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
    $ng3->start;

    # a kill that found nginx's connection, then two more rounds
    my $dropped = sub {
        scalar grep { /^[1-9]/ } split /\n/, HealthTest::slurp($kills) // ''
    };
    ok(wait_until(sub { $dropped->() >= 3 }, timeout => 30),
       'three rounds lost the master\'s connection while asking the Sentinel');
    my ($c) = $ng3->check('drop');
    is($c->{status}, 'healthy',
       'the round went on to the master: healthy') or diag explain $c;
    my $log = HealthTest::slurp($ng3->error_log);
    unlike($log, qr/ended a round that was not under way/,
           'no round ended twice');
    unlike($log, qr/connection to 127\.0\.0\.1:$pd \(master of mymaster\) lost/,
           'no round failed for a connection it had not used');
    like($log, qr/\[info\] [^\n]*health: connection of "drop" to 127\.0\.0\.1:$pd \(master of mymaster\) closed while asking the Sentinels, reconnecting in this round/,
         'the drop under the question is logged at info');
    $ng3->stop;
    $asked->stop;
    $drop->stop;
}

$_->stop for values %fake;
$sentinel->stop;
$replica->stop;
$master->stop;

done_testing;
