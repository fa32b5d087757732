package HostileServer;

# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Fake servers on loopback that misbehave on purpose, where a real server
# cannot: garbage, invalid UTF-8, oversized replies, partial replies that
# stall, resets in the middle of a reply, a byte at a time.  Core Perl only.
#
#   my $srv = HostileServer->start(sub { my ($sock) = @_; ... });
#   $srv->port; $srv->connections; $srv->stop;
#
# The handler runs in a process of its own for every connection (so a
# stalling one does not hold the others up) and gets the accepted socket.
# Helpers for the protocols the probes speak: redis_command() reads one
# RESP command; pg_startup() and pg_query() speak enough of PostgreSQL's
# v3 protocol to take a client past authentication and read its query.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

use HealthTest;

sub start {
    my ($class, $handler) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                       Proto => 'tcp', Listen => 64, ReuseAddr => 1)
        or die "listen: $!\n";
    my $dir = HealthTest::tmp_dir('hostile');
    my $self = bless { port => $listen->sockport, owner => $$,
                       count => "$dir/connections" }, $class;
    HealthTest::spew($self->{count}, '');

    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{PIPE} = 'IGNORE';
        while (1) {
            my $c = $listen->accept or next;
            if (open my $fh, '>>', $self->{count}) { print $fh "1\n"; close $fh }
            my $kid = fork;
            if (defined $kid && $kid == 0) {
                close $listen;
                $c->autoflush(1);
                eval { $handler->($c) };
                _exit(0);
            }
            close $c;
        }
    }
    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }

# connections accepted so far
sub connections {
    my ($self) = @_;
    my $s = HealthTest::slurp($self->{count}) // '';
    return scalar(() = $s =~ /\n/g);
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    # the listener and every connection's process: the group is ours
    kill 'KILL', -$self->{pid};
    waitpid($self->{pid}, 0);
    $self->{pid} = undef;
}

sub DESTROY { local $?; $_[0]->stop }

# an RST instead of a FIN when the socket is closed
sub reset_close {
    my ($sock) = @_;
    setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $sock;
}

##########################################################################
# Redis (RESP)

# one command as a list of words, undef at EOF
sub redis_command {
    my ($sock) = @_;
    my $line = <$sock> // return undef;
    $line =~ s/\r\n$//;
    return [ split ' ', $line ] unless $line =~ /^\*(\d+)$/;
    my @a;
    for (1 .. $1) {
        my $len = <$sock> // return undef;
        $len =~ /^\$(\d+)/ or return undef;
        my $buf = '';
        while (length $buf < $1 + 2) {
            my $n = read($sock, $buf, $1 + 2 - length $buf, length $buf);
            return undef unless $n;
        }
        push @a, substr($buf, 0, $1);
    }
    return \@a;
}

# answer the connection's setup (AUTH, SELECT, CLIENT SETNAME) with +OK and
# hand every other command to $on: $on->($sock, $words)
sub redis_serve {
    my ($sock, $on) = @_;
    while (my $cmd = redis_command($sock)) {
        my $name = uc($cmd->[0] // '');
        if ($name eq 'AUTH' || $name eq 'SELECT' || $name eq 'CLIENT') {
            print $sock "+OK\r\n";
            next;
        }
        return unless $on->($sock, $cmd);
    }
}

# a plausible INFO answer
sub redis_info {
    my $text = "# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n"
             . "# Stats\r\nevicted_keys:0\r\nkeyspace_hits:1\r\nkeyspace_misses:0\r\n";
    return '$' . length($text) . "\r\n$text\r\n";
}

##########################################################################
# PostgreSQL (protocol 3.0, trust authentication)

sub pg_msg {
    my ($type, $body) = @_;
    return $type . pack('N', 4 + length $body) . $body;
}

sub pg_read_exact {
    my ($sock, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $r = read($sock, $buf, $n - length $buf, length $buf);
        return undef unless $r;
    }
    return $buf;
}

# take a client through SSL/GSS refusals and the startup packet, answer
# AuthenticationOk, a few ParameterStatus, BackendKeyData, ReadyForQuery
sub pg_startup {
    my ($sock) = @_;
    while (1) {
        my $len = pg_read_exact($sock, 4) // return 0;
        $len = unpack('N', $len);
        my $body = pg_read_exact($sock, $len - 4) // return 0;
        my $code = unpack('N', $body);
        if ($code == 80877103 || $code == 80877104) {   # SSLRequest, GSSENCRequest
            print $sock 'N';
            next;
        }
        last;
    }
    print $sock pg_msg('R', pack('N', 0))
        . pg_msg('S', "server_version\0" . "15.0\0")
        . pg_msg('S', "server_encoding\0UTF8\0")
        . pg_msg('S', "client_encoding\0UTF8\0")
        . pg_msg('S', "integer_datetimes\0on\0")
        . pg_msg('S', "standard_conforming_strings\0on\0")
        . pg_msg('K', pack('NN', $$, 42))
        . pg_msg('Z', 'I');
    return 1;
}

# the text of the next simple Query, undef at EOF or Terminate
sub pg_query {
    my ($sock) = @_;
    my $head = pg_read_exact($sock, 5) // return undef;
    my ($type, $len) = unpack('aN', $head);
    my $body = pg_read_exact($sock, $len - 4) // return undef;
    return undef if $type eq 'X';
    return pg_query($sock) unless $type eq 'Q';
    $body =~ s/\0$//;
    return $body;
}

# a result of one text column holding $value (undef: NULL)
sub pg_result {
    my ($value) = @_;
    my $row = defined $value ? pack('nN', 1, length $value) . $value
                             : pack('nN', 1, 0xffffffff);
    return pg_msg('T', pack('n', 1) . "v\0" . pack('NnNnNn', 0, 0, 25, -1, -1, 0))
         . pg_msg('D', $row)
         . pg_msg('C', "SELECT 1\0");
}

sub pg_command_ok { pg_msg('C', "$_[0]\0") }
sub pg_ready { pg_msg('Z', 'I') }

# an ErrorResponse with SQLSTATE $code and message $text
sub pg_error {
    my ($code, $text) = @_;
    return pg_msg('E', "SERROR\0VERROR\0C$code\0M$text\0\0");
}

# answer the probe's queries the way a database with pg_health in schema
# "public" would, with $report->($query) as health_report()'s answer (a
# byte string, sent as is)
sub pg_serve_reports {
    my ($sock, $report) = @_;
    pg_startup($sock) or return;
    while (defined(my $q = pg_query($sock))) {
        my $out = '';
        $out .= pg_command_ok('SET') if $q =~ /^SET /;
        if ($q =~ /pg_extension/) {
            $out .= pg_result('public');
        } else {
            my $r = $report->($q, $sock);
            return unless defined $r;
            $out .= ref $r ? $$r : pg_result($r);
        }
        print $sock $out . pg_ready();
    }
}

# The status location as the hostile tests read it: every answer must be
# valid JSON with one of the allowed codes (200 unless given), and
# wait_reason() polls until a check says what the test expects.
#
#   my $w = HostileServer::Watch->new($ng, 200, 503);
#   $w->wait_reason('cache', 'unhealthy', qr/timed out/);
#   is($w->bad, 0, ...);
package HostileServer::Watch;

use JSON::PP ();
use Test::More ();

sub new {
    my ($class, $ng, @codes) = @_;
    @codes = (200) unless @codes;
    return bless { ng => $ng, codes => { map { $_ => 1 } @codes },
                   answers => 0, bad => 0 }, $class;
}

sub answers { $_[0]{answers} }
sub bad { $_[0]{bad} }

sub doc {
    my ($self) = @_;
    my $r = $self->{ng}->get('/health');
    my $doc = eval { JSON::PP->new->utf8->decode($r->{content}) };
    $self->{answers}++;
    $self->{bad}++ unless $doc && $self->{codes}{$r->{status}};
    return $doc;
}

sub wait_reason {
    my ($self, $name, $status, $re, %o) = @_;
    my $c;
    my $ok = HealthTest::wait_until(sub {
        my $doc = $self->doc or return 0;
        $c = $doc->{checks}{$name};
        $c && $c->{status} eq $status && ($c->{reason} // '') =~ $re;
    }, timeout => $o{timeout} // 20, step => 0.05);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::ok($ok, "$name: $status, "
                   . ($c ? "reason: " . ($c->{reason} // '') : 'no check'));
    return $c;
}

# Every named check ends n more rounds: its checked_at moves n times.  A
# check that an error path left busy would never end a round again.
sub rounds_go_on {
    my ($self, $n, @names) = @_;
    my (%moved, %last);
    my $ok = HealthTest::wait_until(sub {
        my $doc = $self->doc or return 0;
        for my $name (@names) {
            my $at = $doc->{checks}{$name}{checked_at} // next;
            $moved{$name}++ if defined $last{$name} && $at ne $last{$name};
            $last{$name} = $at;
        }
        !grep { ($moved{$_} // 0) < $n } @names;
    }, timeout => 60, step => 0.05);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::ok($ok, "every check ended $n more rounds ("
                   . join(', ', map { "$_ " . ($moved{$_} // 0) } sort @names)
                   . ')');
}

# The closing checks of every hostile suite: the worker that met the
# hostile servers is still the same one and its memory stayed bounded,
# every status answer was valid, plain requests are served, and error.log
# holds no [alert], [crit] or [emerg] and no sanitizer report (lines that
# match "except", which quote a forged text on purpose, aside).  Returns
# error.log's text.
sub finish {
    my ($self, $worker, $rss0, %o) = @_;
    my $ng = $self->{ng};
    my $except = $o{except} // qr/(?!)/;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my ($rss1) = HealthTest::proc_usage($worker);
    if (HealthTest::Nginx::asan()) {
        Test::More::note("RSS $rss0 -> " . ($rss1 // 'gone')
                         . ' kB (not judged under ASan)');
    } else {
        Test::More::ok(defined $rss1 && $rss1 - $rss0 < 32 * 1024,
                       "the worker's memory stays bounded ($rss0 -> "
                       . ($rss1 // 'gone') . ' kB)');
    }
    Test::More::is(($ng->worker_pids)[0], $worker,
                   'the same worker throughout');
    Test::More::is($self->bad, 0, 'every one of ' . $self->answers
                   . ' status answers was valid JSON with an expected code');
    Test::More::is($ng->get('/fast')->{status}, 200, 'requests are served');

    my $log = HealthTest::slurp($ng->error_log) // '';
    Test::More::is_deeply(
        [grep { /\[(alert|crit|emerg)\]/ && !/$except/ } split /\n/, $log],
        [], 'no [alert], [crit] or [emerg] in error.log');
    Test::More::is_deeply([grep { !/$except/ } $ng->log_alerts], [],
                          'no sanitizer reports');
    return $log;
}

1;
