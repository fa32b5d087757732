#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The PostgreSQL probe's relay (issue 9 point 7): once libpq's connection
# is made, its socket is one end of a socket pair and the worker passes
# the server's bytes on, at most the round's cap.  Everything libpq does
# on a real connection still works through it: TLS (sslmode=require, and
# prefer against a server with and without TLS), the next address of a
# list when one cannot be reached, and the next server of a list when a
# made connection is dropped for target_session_attrs (a new socket, so a
# new relay).  Each session is checked from the server's side, and 100
# rounds on one kept connection leave the worker's descriptors flat.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::PgUtil qw(:all);

my $tls = pg_with_extension(ssl => 1);
my $plain = pg_with_extension();
# read-only for target_session_attrs=read-write: libpq logs in, asks, and
# drops the connection for the next server of the list
my $ro = HealthTest::Pg->start(conf => 'default_transaction_read_only = on');
my $closed = free_port();

my ($tp, $pp, $rp) = ($tls->port, $plain->port, $ro->port);
my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service relay;
    health_postgres "hostaddr=127.0.0.1 port=$tp dbname=postgres user=postgres sslmode=require application_name=tls"
                    name=tls interval=100ms timeout=2s;
    health_postgres "hostaddr=127.0.0.1 port=$tp dbname=postgres user=postgres sslmode=prefer application_name=prefer_tls"
                    name=prefer_tls interval=100ms timeout=2s;
    health_postgres "hostaddr=127.0.0.1 port=$pp dbname=postgres user=postgres sslmode=prefer application_name=prefer_plain"
                    name=prefer_plain interval=100ms timeout=2s;
    health_postgres "hostaddr=127.0.0.1,127.0.0.1 port=$closed,$pp dbname=postgres user=postgres application_name=next_addr"
                    name=next_addr interval=100ms timeout=2s;
    health_postgres "hostaddr=127.0.0.1,127.0.0.1 port=$rp,$pp dbname=postgres user=postgres target_session_attrs=read-write application_name=next_server"
                    name=next_server interval=100ms timeout=2s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng->start;
my ($worker) = $ng->worker_pids;

for my $name (qw(tls prefer_tls prefer_plain next_addr next_server)) {
    ok(defined $ng->wait_check($name, 'healthy', timeout => 20),
       "$name: healthy through the relay")
        or diag explain [$ng->check($name)];
}

# the server's view: which sessions, and which of them are encrypted
sub sessions {
    my ($pg, $app) = @_;
    return $pg->psql("SELECT coalesce(s.ssl::text, 'none') FROM pg_stat_activity a "
        . "LEFT JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = '$app'");
}

is(sessions($tls, 'tls'), 'true', 'sslmode=require: one session, over TLS');
is(sessions($tls, 'prefer_tls'), 'true', 'sslmode=prefer with TLS: over TLS');
is(sessions($plain, 'prefer_plain'), 'false',
   'sslmode=prefer without TLS: the same connection goes on in the clear');
is(sessions($plain, 'next_addr'), 'false',
   'an address that refuses: the next one of the list');
is(sessions($plain, 'next_server'), 'false',
   'target_session_attrs=read-write: the primary, after the read-only one');
ok(wait_until(sub { sessions($ro, 'next_server') eq '' }, timeout => 10),
   'and no session is left on the read-only server');

# one kept connection per check: 100 more rounds, the same descriptors
my (undef, $fds0) = HealthTest::proc_usage($worker);
my $start = $tls->psql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'");
ok(wait_until(sub {
    $tls->psql("SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'")
        >= $start + 200;
}, timeout => 60, step => 0.2), '100 more rounds of each TLS check');
my (undef, $fds1) = HealthTest::proc_usage($worker);
is($fds1, $fds0, "the worker's descriptors stay at $fds0");
is(sessions($tls, 'tls'), 'true', 'still one TLS session');

is_deeply([$ng->log_alerts], [], 'no alerts');
$ng->stop;
$_->stop for $tls, $plain, $ro;

done_testing;
