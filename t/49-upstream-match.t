#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_check match_header=NAME:TEXT and match_body=TEXT (a substring, or
# a regular expression after "~", "~*" without case): a check passes only
# when its status is accepted and every expectation holds.  Real nginx
# backends answer with the header or body that passes or not; exact
# request counts show who is in rotation.  The read is bounded: a body
# whose text lies past match_bytes does not match (and does with a larger
# match_bytes), endless headers and an endless body end the check at the
# bound, never at its timeout.  nginx -t refuses what cannot work.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HostileServer;

###########################################################################
# nginx -t

for my $bad ('match_body=~(', 'match_header=:x', 'match_header=X Y:z',
             'match_header=novalue', 'match_bytes=0', 'match_bytes=65537',
             'match_bytes=abc', 'match_body=', 'match_header=X:~*',
             'match_body=a match_body=b', 'match_bytes=1k match_bytes=2k',
             join(' ', map { "match_header=H$_:x" } 1 .. 9))
{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check $bad;
    }
EOF
    isnt($rc, 0, "\"$bad\" is refused");
    like($out, qr/\[emerg\].*health_check/, "\"$bad\": said at nginx -t");
}

for my $good ('match_body=ok', 'match_header=X-A:', 'match_header=X-A:~^a+$',
              '"match_body=~*status:\s+ok"', 'match_bytes=64k match_body=x',
              'match_header=A:1 match_header=B:2 status=200')
{
    my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u {
        server 127.0.0.1:1;
        health_check $good;
    }
EOF
    is($rc, 0, "$good is accepted") or diag $out;
}

###########################################################################
# backends

sub backend {
    my ($name, $hc, $file) = @_;
    my $be = HealthTest::Nginx->new(conf => <<"EOF2");
    server {
        listen 127.0.0.1:%%PORT%%;
        default_type text/plain;
        location / { return 200 "$name"; }
        location = /hc { $hc }
    }
EOF2
    spew($be->dir . '/html/hc.txt', $file) if defined $file;
    return $be->start;
}

my %B = (
    green => backend('green', 'add_header X-Health green; add_header X-Only-Green 1; '
                              . 'return 200 "status: ok\n";'),
    red   => backend('red', 'add_header X-Health red; return 200 "status: degraded\n";'),
    # the needle lies past the first 4k of the body
    far   => backend('far', 'add_header X-Health green; root %%DIR%%/html; '
                            . 'try_files /hc.txt =404;', ('p' x 5000) . " needle\n"),
    near  => backend('near', 'add_header X-Health green; return 200 "needle\n";'),
    down  => backend('down', 'add_header X-Health green; return 503 "status: ok\n";'),
);

# endless headers, and an endless body without a length
sub peer {
    my ($answer) = @_;
    return HostileServer->start(sub {
        my ($s) = @_;
        while (defined(my $l = <$s>)) { last if $l =~ /^\r?\n$/ }
        $answer->($s);
    });
}
my %H = (
    headers => peer(sub {
        my ($s) = @_;
        print $s "HTTP/1.1 200 OK\r\n";
        for (1 .. 200000) { print $s "X-Pad-$_: " . ('h' x 50) . "\r\n" or return }
        sleep 30;
    }),
    stream => peer(sub {
        my ($s) = @_;
        print $s "HTTP/1.0 200 OK\r\nX-Health: green\r\n\r\n";
        my $chunk = 'y' x 65536;
        for (1 .. 2000) { print $s $chunk or return }
        sleep 30;
    }),
);

my %A = map { $_ => '127.0.0.1:' . $B{$_}->port } keys %B;
$A{$_} = '127.0.0.1:' . $H{$_}->port for keys %H;

my $hc = 'uri=/hc interval=100ms timeout=10s fails=1 passes=1 max_ejected=100%';

my %GROUP = (
    hdr      => [[qw(green red)],     'match_header=X-Health:green'],
    hdr_re   => [[qw(green red)],     'match_header=X-Health:~^(green|amber)$'],
    hdr_ci   => [[qw(green red)],     'match_header=x-health:~*^GREEN$'],
    present  => [[qw(green red)],     'match_header=X-Only-Green:'],
    two      => [[qw(green near)],    'match_header=X-Health:green match_header=X-Only-Green:'],
    body     => [[qw(green red)],     '"match_body=status: ok"'],
    body_re  => [[qw(green red)],     '"match_body=~*STATUS:\s+OK$"'],
    far      => [[qw(near far)],      'match_body=needle'],
    far8     => [[qw(near far)],      'match_body=needle match_bytes=8k'],
    status   => [[qw(green down)],    'match_body=ok'],
    headers  => [[qw(green headers)], 'match_header=X-Health:green'],
    stream   => [[qw(near stream)],   'match_body=needle'],
);

# which peer of each group fails its checks, and with which result
my %OUT = (hdr => ['red', 'header'], hdr_re => ['red', 'header'],
           hdr_ci => ['red', 'header'], present => ['red', 'header'],
           two => ['near', 'header'], body => ['red', 'body'],
           body_re => ['red', 'body'], far => ['far', 'body'],
           status => ['down', 'status'], headers => ['headers', 'header'],
           stream => ['stream', 'body']);

my $conf = '';
for my $g (sort keys %GROUP) {
    my ($peers, $match) = @{ $GROUP{$g} };
    $conf .= "    upstream $g {\n        zone $g 64k;\n"
           . join('', map { "        server $A{$_};\n" } @$peers)
           . "        health_check $hc $match;\n    }\n";
}
my $locations = join '', map { "        location /$_/ { proxy_pass http://$_/; }\n" }
                         sort keys %GROUP;

my $ng = HealthTest::Nginx->new(conf => <<"EOF")->start;
$conf
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
$locations    }
EOF

# every peer checked at least twice
my $doc;
my %peer;
ok(wait_until(sub {
    $doc = $ng->get_json('/health') or return 0;
    for my $g (keys %GROUP) {
        for my $p (@{ $doc->{upstreams}{$g}{peers} || [] }) {
            $peer{$g}{$p->{server}} = $p;
        }
        return 0 unless keys %{ $peer{$g} } == @{ $GROUP{$g}[0] };
        return 0 if grep { ($_->{health_checks}{checks} // 0) < 2 } values %{ $peer{$g} };
    }
    1;
}, timeout => 30), 'every peer checked twice');

for my $g (sort keys %GROUP) {
    my ($out, $result) = @{ $OUT{$g} // [] };
    for my $name (@{ $GROUP{$g}[0] }) {
        my $p = $peer{$g}{ $A{$name} };
        my $res = $p->{health_checks}{results};
        if (defined $out && $name eq $out) {
            is($p->{state}, 'unhealthy', "$g: $name fails its checks");
            cmp_ok($res->{$result}, '>=', 2, "$g: $name: by \"$result\"");
            is($res->{timeout}, 0, "$g: $name: never by its timeout");
            is($res->{passed}, 0, "$g: $name: never passed");
        } else {
            is($p->{state}, 'up', "$g: $name passes");
            is($res->{passed}, $p->{health_checks}{checks}, "$g: $name: every check passed")
                or diag explain $res;
        }
    }
}

# the traffic: 10 requests per group, all to the peer that passes
for my $g (sort keys %GROUP) {
    my %by;
    for (1 .. 10) {
        my $r = $ng->get("/$g/x");
        $by{$r->{status} == 200 ? $r->{content} : "status $r->{status}"}++;
    }
    my ($out) = @{ $OUT{$g} // [] };
    my @in = grep { !defined $out || $_ ne $out } @{ $GROUP{$g}[0] };
    if (@in == 1) {
        is_deeply(\%by, { $in[0] => 10 }, "$g: the 10 requests went to $in[0]");
    } else {
        is_deeply(\%by, { map { ($_ => 5) } @in }, "$g: 5 and 5");
    }
}

# the reasons in error.log name what failed
my $log = slurp($ng->error_log);
like($log, qr/peer \Q$A{red}\E of upstream "hdr" failed 1 checks \(last: header X-Health not matched\)/,
     'error.log: the header that did not match');
like($log, qr/peer \Q$A{near}\E of upstream "two" failed 1 checks \(last: header X-Only-Green not matched\)/,
     'error.log: the second expectation, by name');
like($log, qr/peer \Q$A{red}\E of upstream "body" failed 1 checks \(last: body not matched\)/,
     'error.log: the body');
like($log, qr/peer \Q$A{headers}\E of upstream "headers" failed 1 checks \(last: headers did not end within 4096 bytes\)/,
     'error.log: endless headers end at the bound');
like($log, qr/peer \Q$A{down}\E of upstream "status" failed 1 checks \(last: status 503\)/,
     'error.log: the status is judged first');

# the worker's memory is what was configured, not what the peers sent
my @w = $ng->worker_pids;
for my $pid (@w) {
    my ($rss) = (slurp("/proc/$pid/status") // '') =~ /VmRSS:\s+(\d+)/;
    cmp_ok($rss // 0, '<', 200 * 1024, "worker $pid: RSS under 200 MB after "
           . "endless answers") if !HealthTest::Nginx::asan();
}

$ng->stop;
$_->stop for values %H;
$_->stop for values %B;
done_testing();
