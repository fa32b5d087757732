package HealthTest::Dns;

# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A tiny authoritative DNS server of the tests, on loopback UDP: it answers
# A queries from a table the test changes at any time, so nginx's
# `resolver 127.0.0.1:PORT valid=1s;` sees peers come and go.  Core Perl
# only.
#
#   my $dns = HealthTest::Dns->start;
#   $dns->set('app.test' => ['127.0.0.2', '127.0.0.3']);
#   ... resolver 127.0.0.1:${\ $dns->port } valid=1s; ...
#   $dns->queries('app.test')     # A queries answered so far
#
# A name in the table gets its addresses (TTL 1) for A and an empty answer
# for any other type (AAAA, ...); a name not in the table gets NXDOMAIN.
# The table lives in a file the server reads at each query (the test
# rewrites it atomically), and each answered A query adds a line to a log.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

sub start {
    my ($class) = @_;
    my $dir = HealthTest::tmp_dir('dns');
    my $self = bless { dir => $dir, owner => $$ }, $class;
    $self->set();

    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => 0, Proto => 'udp')
        or die "dns: cannot bind: $!\n";
    $self->{port} = $sock->sockport;

    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        serve($self, $sock);
        POSIX::_exit(0);
    }
    close $sock;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }

# set(name => [addresses], ...): the whole table
sub set {
    my ($self, %table) = @_;
    my $text = '';
    for my $name (sort keys %table) {
        $text .= lc($name) . ' ' . join(' ', @{ $table{$name} }) . "\n";
    }
    my $tmp = "$self->{dir}/table.new";
    HealthTest::spew($tmp, $text);
    rename $tmp, "$self->{dir}/table" or die "dns: rename: $!\n";
}

# how many A queries for NAME were answered
sub queries {
    my ($self, $name) = @_;
    my $log = HealthTest::slurp("$self->{dir}/queries") // '';
    my $n = () = $log =~ /^\Q${\ lc $name}\E$/mg;
    return $n;
}

sub table {
    my ($self) = @_;
    my %t;
    for (split /\n/, HealthTest::slurp("$self->{dir}/table") // '') {
        my ($name, @addr) = split ' ';
        $t{$name} = \@addr if defined $name;
    }
    return \%t;
}

sub serve {
    my ($self, $sock) = @_;
    while (1) {
        my $peer = $sock->recv(my $q, 512);
        next unless defined $peer && length($q) >= 12;
        my $a = answer($self, $q) // next;
        $sock->send($a, 0, $peer);
    }
}

# the reply to query Q, undef for anything but a one-question query
sub answer {
    my ($self, $q) = @_;
    my ($id, $flags, $qd) = unpack 'n n n', $q;
    return undef if $flags & 0x8000 || $qd != 1;

    # the question: labels, type, class (no compression in a query)
    my $off = 12;
    my @labels;
    while (1) {
        return undef if $off >= length $q;
        my $len = ord substr($q, $off, 1);
        $off++;
        last if $len == 0;
        return undef if $len > 63 || $off + $len > length $q;
        push @labels, substr($q, $off, $len);
        $off += $len;
    }
    return undef if $off + 4 > length $q;
    my ($type, $class) = unpack 'n n', substr($q, $off, 4);
    my $question = substr($q, 12, $off + 4 - 12);
    my $name = lc join '.', @labels;

    my $addrs = $self->table->{$name};
    my @rr;
    my $rcode = 0;

    if (!$addrs) {
        $rcode = 3;                                 # NXDOMAIN

    } elsif ($type == 1 && $class == 1) {
        for my $ip (@$addrs) {
            # a pointer to the name in the question, A, IN, TTL 1
            push @rr, pack('n n n N n', 0xc00c, 1, 1, 1, 4)
                      . pack('C4', split /\./, $ip);
        }
        if (open my $fh, '>>', "$self->{dir}/queries") {
            print $fh "$name\n";
            close $fh;
        }
    }

    # QR, AA, RA; the opcode and RD as asked
    my $rflags = 0x8000 | ($flags & 0x7900) | 0x0400 | 0x0080 | $rcode;
    return pack('n n n n n n', $id, $rflags, 1, scalar @rr, 0, 0)
           . $question . join('', @rr);
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{pid} = undef;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

1;
