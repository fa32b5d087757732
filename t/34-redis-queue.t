#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis_queue: a queue's backlog kept in Redis as a check of its
# own.  TYPE, then LLEN, ZCARD or XLEN by the type, against real
# redis-servers: a list, a sorted set, a stream, a missing key (0, healthy),
# a key of another type (unknown); "over 10" at 10 and 11, "over 50" at 50
# and 51; redis=NAME to a second health_redis declared after the queue; a
# key of hostile bytes sent binary-safe and shown escaped; the check in the
# JSON, Prometheus, lb and the published status; its Redis gone: unknown.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;

use HealthTest qw(:all);

sub resp_cmd {
    my ($port, @a) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect to redis: $!\n";
    print $s '*' . @a . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @a;
    my $line = <$s> // die "redis closed the connection\n";
    close $s;
    return $line;
}

##########################################################################
# nginx -t

sub conf_error { HealthTest::Nginx->conf_error(@_) }

{
    my ($rc, $out) = conf_error('health_redis_queue jobs key=bull:wait '
        . 'warning=10 critical=50 redis=later interval=1s timeout=200ms '
        . 'required=on for=10s; health_redis 127.0.0.1:6379 name=later;');
    is($rc, 0, 'nginx -t: a queue before the health_redis it names') or diag $out;

    my @bad = (
        ['health_redis_queue jobs key=k warning=10 critical=50;',
         qr/"health_redis_queue" "jobs" needs a "health_redis"/,
         'no health_redis at all'],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue jobs key=k warning=10 critical=50 redis=nosuch;',
         qr/"health_redis_queue" "jobs": no "health_redis" named "nosuch"/,
         'redis= names none'],
        ['health_redis 127.0.0.1:6379; health_redis_queue jobs warning=1 critical=2;',
         qr/"health_redis_queue" directive needs key=, warning= and critical=/,
         'no key='],
        ['health_redis 127.0.0.1:6379; health_redis_queue jobs key=k critical=2;',
         qr/needs key=, warning= and critical=/, 'no warning='],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue jobs key=k warning=51 critical=50;',
         qr/invalid thresholds in "health_redis_queue" directive, warning is above critical/,
         'warning above critical'],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue jobs key=k warning=-1 critical=50;',
         qr/invalid value "warning=-1" in "health_redis_queue" directive, it must be a number from 0 to/,
         'a negative warning'],
        ['health_redis 127.0.0.1:6379; health_redis_queue jobs key='
         . ('k' x 513) . ' warning=1 critical=2;',
         qr/in "health_redis_queue" directive, a key is 1 to 512 bytes/,
         'a key of 513 bytes'],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue jobs name=x key=k warning=1 critical=2;',
         qr/invalid parameter "name=x" in "health_redis_queue" directive/,
         'name= (the name is the first argument)'],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue cache key=k warning=1 critical=2;',
         qr/duplicate check name "cache" in "health_redis_queue"/,
         'the name of another check'],
        ['health_redis 127.0.0.1:6379; '
         . 'health_redis_queue "bad name" key=k warning=1 critical=2;',
         qr/invalid value "name=bad name" in "health_redis_queue"/,
         'a name outside the rule'],
    );

    for my $b (@bad) {
        ($rc, $out) = conf_error($b->[0]);
        isnt($rc, 0, "nginx -t fails: $b->[2]");
        like($out, $b->[1], "nginx -t: $b->[2], named");
    }

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379; health_redis_queue '
        . 'jobs key=' . ('k' x 512) . ' warning=1 critical=2;');
    is($rc, 0, 'nginx -t: a key of 512 bytes') or diag $out;
}

##########################################################################
# the queues of one nginx against two Redis servers

my $rd = HealthTest::Redis->start;
my $r2 = HealthTest::Redis->start;
my ($port, $port2) = ($rd->port, $r2->port);

# a key of bytes no JSON, log or shell would take as they are
my $hostile = "we\"ird\\key\xff<b>";
my $conf_key = $hostile =~ s/(["\\])/\\$1/gr;

my $P = 'interval=100ms timeout=1s';
my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service web1;
    health_redis 127.0.0.1:$port $P latency_warning=1h latency_critical=1h;
    health_redis_queue q_list key=bull:email:wait warning=10 critical=50;
    health_redis_queue q_zset key=bull:email:delayed warning=10 critical=50;
    health_redis_queue q_stream key=events warning=10 critical=50;
    health_redis_queue q_missing key=nothing-here warning=10 critical=50;
    health_redis_queue q_string key=astring warning=10 critical=50;
    health_redis_queue q_hostile "key=$conf_key" warning=2 critical=5;
    health_redis_queue q_second key=bull:email:wait redis=second
                       warning=0 critical=1;
    health_redis 127.0.0.1:$port2 name=second publish=off $P
                 latency_warning=1h latency_critical=1h;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /lb     { health_status lb; }
    }
EOF

$rd->cli('SET', 'astring', 'x');
resp_cmd($port, 'RPUSH', $hostile, 'a', 'b', 'c');
$rd->cli('RPUSH', 'bull:email:wait', map { "job$_" } 1 .. 10);
$rd->cli('ZADD', 'bull:email:delayed', map { ($_, "job$_") } 1 .. 11);
$rd->cli('XADD', 'events', '*', 'n', $_) for 1 .. 51;
$r2->cli('RPUSH', 'bull:email:wait', 'a', 'b');

$ng->start;

# the check once it has measured a length ($want: a value or undef)
sub queue_at {
    my ($name, $value) = @_;
    my $doc = $ng->wait_doc(sub {
        my $c = $_[0]{checks}{$name};
        $c && exists $c->{value}
           && (defined $value ? defined $c->{value} && $c->{value} == $value
                              : !defined $c->{value})
    });
    return $doc && $doc->{checks}{$name};
}

my $c = queue_at('q_list', 10);
ok($c, 'a list: its LLEN');
is($c->{status}, 'healthy', '10 items, warning over 10: healthy');
is_deeply([@$c{qw(unit warning critical type key)}],
          ['items', 10, 50, 'list', 'bull:email:wait'],
          'unit, thresholds, type and key');
is($c->{required}, JSON::PP::false, 'required=off by default');
is($c->{target}, "127.0.0.1:$port", 'the target of its health_redis');

$rd->cli('RPUSH', 'bull:email:wait', 'job11');
$c = queue_at('q_list', 11);
is($c->{status}, 'degraded', '11 items: over 10, a warning');
is($c->{reason}, '11 items, over the warning 10', 'the reason says so');

$rd->cli('RPUSH', 'bull:email:wait', map { "job$_" } 12 .. 50);
$c = queue_at('q_list', 50);
is($c->{status}, 'degraded', '50 items: not over 50, a warning');

$rd->cli('RPUSH', 'bull:email:wait', 'job51');
$c = queue_at('q_list', 51);
is($c->{status}, 'unhealthy', '51 items: over 50, critical');
is($c->{reason}, '51 items, over the critical 50', 'the reason says so');

$c = queue_at('q_zset', 11);
is_deeply([@$c{qw(status type)}], ['degraded', 'zset'], 'a sorted set: ZCARD');
$c = queue_at('q_stream', 51);
is_deeply([@$c{qw(status type)}], ['unhealthy', 'stream'], 'a stream: XLEN');
$c = queue_at('q_missing', 0);
is_deeply([@$c{qw(status type)}], ['healthy', 'none'],
          'a missing key: length 0, healthy');

$c = queue_at('q_string', undef);
is($c->{status}, 'unknown', 'a string: unknown');
is($c->{type}, 'other', 'type: other');
is($c->{reason}, 'the key is a string, not a list, a sorted set or a stream',
   'the reason names the type');

$c = queue_at('q_hostile', 3);
ok($c, 'a key of hostile bytes is sent as it is');
# (the harness decodes bytes: U+FFFD is its three bytes in UTF-8)
is($c->{key}, "we\"ird\\key\xef\xbf\xbd<b>",
   'and shown as valid UTF-8, escaped by the encoder');

$c = queue_at('q_second', 2);
ok($c, 'redis=second: the second Redis\'s list');
is($c->{status}, 'unhealthy', '2 items over critical 1');
is($c->{target}, "127.0.0.1:$port2", 'with the target of "second"');

# the overall status: required=off caps a queue at degraded
my ($r, $doc) = $ng->get_json('/health');
is($doc->{status}, 'degraded', 'unhealthy queues, required=off: degraded');
is($r->{status}, 200, 'and 200');
like($ng->get('/lb')->{content}, qr/^degraded\n?$/, 'lb: degraded');

$r = $ng->get('/health?check=q_list');
is($r->{status}, 503, '?check=q_list: its own status, 503');

my $prom = $ng->get('/health?format=prometheus')->{content};
like($prom, qr/^nginx_health_check_status\{check="q_list"\} 2$/m,
     'prometheus: check_status of the queue');
like($prom, qr/^nginx_health_check_status\{check="q_string"\} 3$/m,
     'prometheus: unknown is 3');
like($prom, qr/^# TYPE nginx_health_redis_queue_length gauge$/m,
     'prometheus: the length gauge');
like($prom, qr/^nginx_health_redis_queue_length\{queue="q_list"\} 51$/m,
     'prometheus: the list\'s length');
like($prom, qr/^nginx_health_redis_queue_length\{queue="q_missing"\} 0$/m,
     'prometheus: a missing key is 0');
unlike($prom, qr/queue_length\{queue="q_string"\}/,
       'prometheus: no length for a key of another type');

# published with the other checks
ok(wait_until(sub {
    my $j = eval { decode_json($rd->cli('GET', 'health:instance:web1')) };
    $j && ($j->{checks}{q_list} // '') eq 'unhealthy'
       && ($j->{checks}{q_missing} // '') eq 'healthy'
}, timeout => 10), 'the published status names the queue checks');

# its Redis gone: the length is not known
$r2->stop;
ok(defined $ng->wait_check('q_second', 'unknown'),
   'its Redis stopped: unknown, not unhealthy');
$c = ($ng->check('q_second'))[0];
like($c->{reason} // '', qr/127\.0\.0\.1:$port2/, 'the reason names its Redis');
ok(defined $ng->wait_check('second', 'unhealthy'),
   'while the Redis check says unhealthy');
ok(wait_until(sub {
    $ng->get('/health?format=prometheus')->{content}
        !~ /queue_length\{queue="q_second"\}/
}, timeout => 10), 'prometheus: no length while it is not known');

$r2->restart;
# saved nothing: the key is gone with the old server
$c = queue_at('q_second', 0);
is_deeply([@$c{qw(status type)}], ['healthy', 'none'],
          'its Redis back: measured again');

$ng->stop;

##########################################################################
# required=on: a queue over critical makes the instance unhealthy

my $ng2 = HealthTest::Nginx->new(conf => <<"EOF");
    health_redis 127.0.0.1:$port $P publish=off
                 latency_warning=1h latency_critical=1h;
    health_redis_queue q_list key=bull:email:wait warning=10 critical=50
                       required=on;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng2->start;
ok(defined $ng2->wait_check('q_list', 'unhealthy'), 'required=on: unhealthy');
($r, $doc) = $ng2->get_json('/health');
is($doc->{status}, 'unhealthy', 'required=on: the instance is unhealthy');
is($r->{status}, 503, 'and answers 503');
$ng2->stop;

##########################################################################
# fake servers answering the queue's commands badly: unknown, with why

{
    require HostileServer;

    sub queue_server {
        my ($type, $length) = @_;
        return HostileServer->start(sub {
            HostileServer::redis_serve($_[0], sub {
                my ($s, $cmd) = @_;
                my $name = uc $cmd->[0];
                if ($name eq 'PING') { print $s "+PONG\r\n"; return 1 }
                if ($name eq 'INFO') { print $s HostileServer::redis_info(); return 1 }
                if ($name eq 'TYPE') { return $type->($s) }
                return $length->($s);
            });
        });
    }

    my $list = sub { print { $_[0] } "+list\r\n"; 1 };
    my %srv = (
        badtype   => queue_server(sub { print { $_[0] } "+\xff\xfe<b>x\r\n"; 1 }),
        wrongtype => queue_server($list, sub {
            print { $_[0] } "-WRONGTYPE Operation against a key\r\n"; 1 }),
        negative  => queue_server($list, sub { print { $_[0] } ":-5\r\n"; 1 }),
        bulk      => queue_server($list, sub { print { $_[0] } "\$3\r\nabc\r\n"; 1 }),
        stall     => queue_server(sub { sleep 3600 }),
    );

    my $conf = join '', map {
        "    health_redis 127.0.0.1:" . $srv{$_}->port
        . " name=r_$_ publish=off interval=100ms timeout=3s"
        . " latency_warning=1h latency_critical=1h;\n"
        . "    health_redis_queue q_$_ key=k redis=r_$_ warning=1 critical=2;\n"
    } sort keys %srv;

    my $ng3 = HealthTest::Nginx->new(conf => $conf . <<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
    $ng3->start;

    my %want = (
        badtype   => qr/^the key is a \x{fffd}\x{fffd}<b>x, not a list/,
        wrongtype => qr/^the length failed on 127\.0\.0\.1:\d+: WRONGTYPE Operation against a key$/,
        negative  => qr/^127\.0\.0\.1:\d+ answered no length$/,
        bulk      => qr/^127\.0\.0\.1:\d+ answered no length$/,
        stall     => qr/^timed out after 3000ms waiting for 127\.0\.0\.1:\d+$/,
    );

    for my $k (sort keys %want) {
        my $c;
        ok(wait_until(sub {
            my $r = $ng3->get('/health');
            # decoded as UTF-8 here: the reason is compared as text
            my $doc = eval { JSON::PP->new->utf8->decode($r->{content}) };
            $c = $doc && $doc->{checks}{"q_$k"};
            $c && $c->{status} eq 'unknown' && ($c->{reason} // '') =~ $want{$k};
        }, timeout => 30), "$k: unknown, with why") or diag explain $c;
        ok($c && exists $c->{value} ? !defined $c->{value} : 1,
           "$k: no length");
    }

    my $c = ($ng3->check('r_stall'))[0];
    is($c->{status}, 'healthy', 'the Redis itself answers PING: healthy');

    $ng3->stop;
}

done_testing();
