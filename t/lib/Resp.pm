# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A minimal Redis (RESP) client for the tests: commands pipelined on one
# socket, and a subscriber that collects the messages of its channels so a
# test can poll without forking.
#
#   my $s = resp_connect($port, @auth);     # AUTH when @auth is given
#   resp_cmd($s, 'SET', 'k', 'v');          # send and read one reply
#   my $sub = subscriber($port, @channels);
#   drain($sub, sub { msgs($sub, $channel) >= 3 }, 30);

package Resp;

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

our @EXPORT = qw(resp_connect resp_send resp_read resp_cmd
                 subscriber drain msgs);

sub resp_connect {
    my ($port, @auth) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect to redis: $!\n";
    resp_cmd($s, 'AUTH', @auth) if @auth;
    return $s;
}

sub resp_send {
    my ($s, @a) = @_;
    print $s '*' . @a . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @a;
}

sub resp_read {
    my ($s) = @_;
    my $line = <$s> // die "redis closed the connection\n";
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    return "ERR $v" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "short read\n";
        return substr($buf, 0, $v);
    }
    return [ map { resp_read($s) } 1 .. $v ] if $t eq '*';
    die "bad reply: $line\n";
}

sub resp_cmd { my $s = shift; resp_send($s, @_); resp_read($s) }

# every message of the channels, decoded when it is JSON, in order
sub subscriber {
    my ($port, @channels) = @_;
    my %o = ref $channels[0] eq 'HASH' ? %{ shift @channels } : ();
    my $s = resp_connect($port, @{ $o{auth} || [] });
    resp_send($s, 'SUBSCRIBE', @channels);
    resp_read($s) for @channels;
    return { sock => $s, sel => IO::Select->new($s), got => {} };
}

# read messages until $until is true or $timeout seconds have passed
sub drain {
    my ($sub, $until, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $until && $until->();
        next unless $sub->{sel}->can_read(0.05);
        my $m = resp_read($sub->{sock});
        next unless ref $m && $m->[0] eq 'message';
        push @{ $sub->{got}{$m->[1]} }, eval { decode_json($m->[2]) } // $m->[2];
    }
    return $until ? $until->() : 1;
}

# the decoded messages of a channel
sub msgs { my ($sub, $ch) = @_; grep { ref $_ } @{ $sub->{got}{$ch} || [] } }

1;
