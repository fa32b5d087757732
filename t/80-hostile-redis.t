#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis against fake Redis servers that misbehave on purpose (issue
# 9 points 1, 7, 9, 13, 14): invalid UTF-8 in an error, an error cut at
# 200 bytes inside a character, CR/LF meant to forge an error.log line,
# garbage, a bulk string announced as 2 GB and streamed, a reply that
# stalls half way, a reset in the middle of a reply, a byte at a time,
# replies nobody asked for.  In every case the JSON status stays valid and
# answers by the rules, the worker's memory stays bounded, error.log gets
# no [alert] or [crit], and the check says why.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);
use HostileServer;

my $FFFD = "\x{FFFD}";
my $E = "\xc3\xa9";    # "é" as bytes

sub ping_then {
    my ($answer) = @_;
    return HostileServer->start(sub {
        my ($s) = @_;
        HostileServer::redis_serve($s, sub {
            my ($s, $cmd) = @_;
            return $answer->($s, $cmd);
        });
    });
}

my %srv = (
    invalid => ping_then(sub { print { $_[0] } "-ERR \xff\xfe bad\r\n"; 1 }),
    cut199  => ping_then(sub { print { $_[0] } '-' . ('E' x 199) . "$E tail\r\n"; 1 }),
    forge   => ping_then(sub {
        print { $_[0] } "-ERR x\n2026/01/01 00:00:00 [emerg] 1#1: forged\r\n"; 1 }),
    garbage => ping_then(sub { print { $_[0] } "\x00\xff\xfegarbage\r\n"; 1 }),
    huge    => ping_then(sub {
        my ($s) = @_;
        print $s "\$2000000000\r\n";
        my $chunk = 'x' x 65536;
        while (1) { print $s $chunk or return 0 }
    }),
    stall   => ping_then(sub { print { $_[0] } '+PO'; sleep 3600 }),
    reset   => ping_then(sub {
        print { $_[0] } '$100' . "\r\nabc";
        HostileServer::reset_close($_[0]);
        return 0;
    }),
    slow    => ping_then(sub {
        for my $b (split //, "+PONG\r\n") { print { $_[0] } $b; sleep 0.5 }
        1;
    }),
    unasked => ping_then(sub {
        my ($s, $cmd) = @_;
        if (uc $cmd->[0] eq 'INFO') { print $s HostileServer::redis_info(); return 1 }
        print $s "+PONG\r\n" x 3;
        1;
    }),
);

# forge's first round must not time out: the log line that quotes its text
# is written when the status changes, and a timeout would change it first
my %timeout = (forge => '5s');
my $conf = join '', map {
    "    health_redis 127.0.0.1:" . $srv{$_}->port
    . " name=$_ publish=off interval=100ms timeout=" . ($timeout{$_} // '400ms') . ";\n"
} sort keys %srv;

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service hostile;
$conf
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /lb     { health_status lb; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF
$ng->start;
my ($worker) = $ng->worker_pids;
my ($rss0) = HealthTest::proc_usage($worker);

# every answer on the way: valid JSON, 200 (required=off: degraded at most)
my $watch = HostileServer::Watch->new($ng);
sub status_ok { $watch->doc }
sub wait_reason { $watch->wait_reason(@_) }

my $c;
$c = wait_reason('invalid', 'unhealthy', qr/PING failed on .*: ERR $FFFD$FFFD bad$/);

$c = wait_reason('cut199', 'unhealthy', qr/PING failed on/);
like($c->{reason}, qr/: E{199}$/, 'cut199: cut at 200 bytes before the split character');

# hiredis 0.14 hands the error text over with its LF; hiredis 1.x (Debian
# 13 and later) refuses a bare LF in a simple string as a protocol error
$c = wait_reason('forge', 'unhealthy',
                 qr/PING failed on .*: ERR x 2026|lost: Bad simple string value/);
unlike(HealthTest::slurp($ng->error_log), qr/^\S+ \S+ \[emerg\] 1#1: forged/m,
       'forge: no forged line in error.log');
if ($c && $c->{reason} =~ /PING failed/) {
    like(HealthTest::slurp($ng->error_log), qr/ERR x.*\[emerg\] 1#1: forged/,
         'forge: the text is on the line of the message that quotes it');
} else {
    pass('forge: this hiredis refuses the reply before any text is kept');
}

wait_reason('garbage', 'unhealthy', qr/connection to .* lost: Protocol error/);
wait_reason('huge', 'unhealthy', qr/sent more than 1048576 bytes in one round, connection closed/);
wait_reason('stall', 'unhealthy', qr/timed out after 400ms/);
wait_reason('reset', 'unhealthy', qr/connection to .* lost/);
wait_reason('slow', 'unhealthy', qr/timed out after 400ms/);

# replies nobody asked for: hiredis 0.14 would abort the worker; the
# connection is closed instead and the check says why
wait_reason('unasked', 'unhealthy', qr/it sent a reply no command waited for/);

# issue 12: probe.c ends every round, whichever path the backend took
# (an error reply, a protocol error, a reset, the cap, the deadline, a
# reply nobody asked for): every check goes on ending rounds, and a round
# ended twice would be an [alert] in error.log
$watch->rounds_go_on(2, sort keys %srv);

# a few more rounds of all of them, the streamer among them
my $rounds0 = $srv{huge}->connections;
ok(wait_until(sub { status_ok(); $srv{huge}->connections >= $rounds0 + 3 },
              timeout => 60, step => 0.2),
   'huge: three more rounds of streaming');
is($ng->get('/lb')->{status}, 200, 'lb: required=off, 200');
my $log = $watch->finish($worker, $rss0, except => qr/forged/);

# issue 9 point 14: a cache going down is seen at the stock level (error)
like($log, qr/\[error\] .*health: check "reset" is unhealthy/,
     'a cache going down: a line at [error]');

$ng->stop;
$_->stop for values %srv;

done_testing;
