package HealthTest::PgUtil;

# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Helpers for the pg_health tests (t/2*-pg-*.t) on top of HealthTest::Pg.
#
#   my $pg = pg_with_extension(max_connections => 20);
#   my $r  = report($pg, set => {'pg_health.lock_wait_warning' => '100ms'});
#   my $s  = HealthTest::PgUtil::Session->open($pg, app => 'holder');
#   $s->send('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;');
#
# Core Perl only.

use strict;
use warnings;

use Exporter qw(import);
use IO::Handle;
use JSON::PP;
use POSIX qw(WNOHANG);

use HealthTest qw(:all);

our @EXPORT_OK = qw(pg_with_extension report psql_json set_sql pids_of_app
                    bg_with_app wait_for_clients);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# a throwaway cluster with CREATE EXTENSION pg_health done in "postgres"
sub pg_with_extension {
    my (%o) = @_;
    my $pg = HealthTest::Pg->start(%o);
    $pg->psql('CREATE EXTENSION pg_health');
    return $pg;
}

# "LOAD; SET a = 'x'; ..." for a superuser session: the library is loaded
# first so that the settings are real ones, not placeholders
sub set_sql {
    my ($set) = @_;
    return '' unless $set && %$set;
    return "LOAD 'pg_health'; "
        . join('', map { "SET $_ = '$set->{$_}'; " } sort keys %$set);
}

# run SQL whose single value is JSON and decode it
sub psql_json {
    my ($pg, $sql, %o) = @_;
    my $set = delete $o{set};
    my $out = $pg->psql(set_sql($set) . $sql, %o);
    return JSON::PP->new->decode($out);
}

# health_report() decoded; set => {setting => value} applies SET first
sub report {
    my ($pg, %o) = @_;
    return psql_json($pg, 'SELECT health_report()', %o);
}

# pids of the client backends with this application_name
sub pids_of_app {
    my ($pg, $app) = @_;
    my $out = $pg->psql("SELECT pid FROM pg_stat_activity "
        . "WHERE application_name = '$app' ORDER BY pid");
    return grep { length } split /\n/, $out;
}

# psql_bg with an application_name, so the session can be found again
sub bg_with_app {
    my ($pg, $app, $sql, %o) = @_;
    local $ENV{PGAPPNAME} = $app;
    return $pg->psql_bg($sql, %o);
}

# wait until at least n client backends have application_name app
sub wait_for_clients {
    my ($pg, $app, $n, %o) = @_;
    return wait_until(sub { pids_of_app($pg, $app) >= $n },
                      timeout => $o{timeout} // 15);
}

##########################################################################

# An interactive psql fed through a pipe: statements are sent one by one
# and the session stays open in between (idle, idle in transaction, or
# holding a lock) until close().  Errors do not end it.

package HealthTest::PgUtil::Session;

use strict;
use warnings;

use IO::Handle;

sub open {
    my ($class, $pg, %o) = @_;
    my @cmd = ("$HealthTest::Pg::PGBIN/psql", '-X', '-q', '-A', '-t',
               '-h', $pg->host, '-p', $pg->port,
               '-U', $o{user} // 'postgres', '-d', $o{db} // 'postgres');
    local $ENV{PGAPPNAME} = $o{app} // 'pg_health_test';
    my $pid = open(my $fh, '|-') // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    $fh->autoflush(1);
    my $self = bless { fh => $fh, pid => $pid, pg => $pg,
                       app => $o{app} // 'pg_health_test' }, $class;
    return $self;
}

sub send {
    my ($self, $sql) = @_;
    print { $self->{fh} } "$sql\n";
    return $self;
}

# the backend pid of this session (waits for it to connect)
sub backend_pid {
    my ($self) = @_;
    return $self->{backend_pid} if $self->{backend_pid};
    HealthTest::wait_until(sub {
        ($self->{backend_pid}) = HealthTest::PgUtil::pids_of_app(
            $self->{pg}, $self->{app});
        $self->{backend_pid};
    }, timeout => 10);
    return $self->{backend_pid};
}

# ends psql at once: a statement still waiting (on a lock) must not hold
# the test up
sub close {
    my ($self) = @_;
    return unless $self->{fh};
    kill 'TERM', $self->{pid};
    CORE::close($self->{fh});
    delete $self->{fh};
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->close;
}

1;
