#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Active checks of groups proxied over TLS (issue 15, point 1), against
# real nginx backends serving TLS with certificates made here: a CA, a
# server certificate for app.test, one for other.test, a self-signed one.
# The checks speak TLS with the proxy's SNI and verification (or the
# health_check tls parameters); a wrong name, an untrusted certificate, a
# plain HTTP peer and a peer that never speaks TLS fail with their reason;
# the handshake never holds the worker.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use POSIX ();

use HealthTest qw(:all);

my $dir = HealthTest::tmp_dir('tls-certs');

sub openssl {
    my ($rc, $out) = HealthTest::run_cmd('openssl', @_);
    die "openssl @_: $out" if $rc;
}

openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', '/CN=health test ca', '-keyout', "$dir/ca.key",
        '-out', "$dir/ca.crt");

for my $name (qw(app other)) {
    spew("$dir/$name.ext", "subjectAltName=DNS:$name.test\n");
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', "/CN=$name.test",
            '-keyout', "$dir/$name.key", '-out', "$dir/$name.csr");
    openssl('x509', '-req', '-in', "$dir/$name.csr", '-CA', "$dir/ca.crt",
            '-CAkey', "$dir/ca.key", '-CAcreateserial', '-days', '2',
            '-extfile', "$dir/$name.ext", '-out', "$dir/$name.crt");
}

# self-signed, for the right name: trusted by no one
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', '/CN=app.test', '-addext', 'subjectAltName=DNS:app.test',
        '-keyout', "$dir/self.key", '-out', "$dir/self.crt");

# a real nginx serving TLS with CERT: its NAME on /, the SNI it got on
# /hc, and each check's SNI in its access log
sub tls_backend {
    my ($name, $cert) = @_;
    return HealthTest::Nginx->new(conf => <<"EOF")->start;
    log_format sni '\$ssl_server_name \$uri';
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        ssl_certificate     $dir/$cert.crt;
        ssl_certificate_key $dir/$cert.key;
        access_log %%DIR%%/logs/sni.log sni;
        location / { return 200 "$name"; }
        location = /hc { return 200 "sni=\$ssl_server_name"; }
    }
EOF
}

# a listener that accepts and never speaks; what it was sent goes to FILE
sub silent_listener {
    my ($file) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 16, ReuseAddr => 1)
        or die "listen: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my @held;
        while (my $c = $l->accept) {
            push @held, $c;
            my $got = '';
            $c->blocking(0);
            for (1 .. 50) {
                my $n = sysread($c, my $buf, 4096);
                last if defined $n && $n == 0;
                $got .= $buf if $n;
                last if length $got >= 5;
                select(undef, undef, undef, 0.02);
            }
            open my $f, '>>', $file or POSIX::_exit(1);
            printf $f "%d %s\n", length $got, unpack('H4', $got);
            close $f;
        }
        POSIX::_exit(0);
    }
    my $port = $l->sockport;
    close $l;
    return ($pid, $port);
}

my %be = (
    g1   => tls_backend('g1', 'app'),
    g2   => tls_backend('g2', 'app'),
    g3   => tls_backend('g3', 'app'),
    w    => tls_backend('w', 'other'),
    s    => tls_backend('s', 'self'),
    p    => HealthTest::Nginx->backend('p'),
);
my %addr = map { $_ => '127.0.0.1:' . $be{$_}->port } keys %be;

my $tmp = HealthTest::tmp_dir('tls-silent');
my ($h1pid, $h1port) = silent_listener("$tmp/h1");
my ($h2pid, $h2port) = silent_listener("$tmp/h2");
$addr{h1} = "127.0.0.1:$h1port";
$addr{h2} = "127.0.0.1:$h2port";
END { kill 'KILL', grep { $_ } $h1pid, $h2pid; }

my $hc = 'uri=/hc interval=200ms fails=1 passes=1 max_ejected=100%';

# nginx 1.23.0 to 1.29.3 keep "https://" in a private field of the proxy
# module: there the groups proxied over TLS say tls=on (and take the rest
# from the location all the same), and nginx -t says why
my ($maj, $min, $pat) = (`${\ HealthTest::Nginx::nginx_bin()} -v 2>&1`
                         =~ m{nginx/(\d+)\.(\d+)\.(\d+)});
my $v = $maj * 1000000 + $min * 1000 + $pat;
my $blind = $v >= 1023000 && $v < 1029004;
my $on = $blind ? 'tls=on' : '';
diag("nginx $maj.$min.$pat: " . ($blind ? "https:// not visible, tls=on"
                                        : "https:// detected"));

my $verify = <<"EOF";
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $dir/ca.crt;
            proxy_ssl_name app.test;
            proxy_ssl_server_name on;
EOF

# one worker: round-robin over two peers is exactly 50/50
my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    upstream good {
        server $addr{g1};
        server $addr{g2};
        health_check $hc timeout=5s $on;
    }

    upstream wrongname {
        server $addr{w};
        server $addr{g1};
        health_check $hc timeout=5s $on;
    }

    upstream untrusted {
        server $addr{s};
        server $addr{g2};
        health_check $hc timeout=5s $on;
    }

    upstream noverify {
        server $addr{w};
        server $addr{s};
        health_check $hc timeout=5s tls_name=sni.test tls_server_name=on;
    }

    upstream plain {
        server $addr{p};
        server $addr{g3};
        health_check $hc timeout=5s $on;
    }

    # no location proxies to these: the checks' own TLS context
    upstream own {
        server $addr{g2};
        health_check $hc timeout=5s tls_verify=on tls_name=app.test
                     tls_trusted_certificate=$dir/ca.crt;
    }

    upstream ownwrong {
        server $addr{w};
        health_check $hc timeout=5s tls_verify=on tls_name=app.test
                     tls_trusted_certificate=$dir/ca.crt;
    }

    # proxied over https, but the checks told to speak plain HTTP
    upstream forcedplain {
        server $addr{p};
        health_check $hc timeout=5s tls=off;
    }

    upstream silent {
        server $addr{h1};
        health_check $hc timeout=1s $on;
    }

    upstream hanging {
        server $addr{h2};
        health_check $hc timeout=60s $on;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /good/ {
            proxy_pass https://good;
$verify
        }

        location /wrongname/ {
            proxy_pass https://wrongname;
$verify
        }

        location /untrusted/ {
            proxy_pass https://untrusted;
$verify
        }

        location /noverify/ {
            proxy_pass https://noverify;
        }

        location /plain/ {
            proxy_pass https://plain;
        }

        location /forcedplain/ {
            proxy_pass https://forcedplain;
        }

        location /silent/ {
            proxy_pass https://silent;
        }

        location /hanging/ {
            proxy_pass https://hanging;
        }

        location = /health { health_status; }
    }
EOF
$ng->start;

sub status { scalar $ng->get_json('/health') }

sub peer {
    my ($doc, $group, $i) = @_;
    return $doc->{upstreams}{$group}{peers}[$i];
}

sub hc { peer(@_)->{health_checks} }

# the peers that pass: both of "good", each checked at least twice
my $doc = wait_until(sub {
    my $d = status();
    return (hc($d, 'good', 0)->{consecutive_passes} >= 2
            && hc($d, 'good', 1)->{consecutive_passes} >= 2) ? $d : undef;
}, timeout => 20);
ok($doc, 'https group: both peers pass their TLS checks')
    or diag explain status()->{upstreams}{good};
$doc //= status();
for my $i (0, 1) {
    is(hc($doc, 'good', $i)->{last_passed}, JSON::PP::true,
       "https group: peer $i last check passed");
    is(hc($doc, 'good', $i)->{fails}, 0, "https group: peer $i no failed check");
    is(hc($doc, 'good', $i)->{last_status}, 200,
       "https group: peer $i answered 200 over TLS");
    is(peer($doc, 'good', $i)->{state}, 'up', "https group: peer $i up");
}
my $checks = hc($doc, 'good', 0)->{checks};
ok(wait_until(sub { hc(status(), 'good', 0)->{checks} >= $checks + 2 },
              timeout => 20),
   'https group: the check count keeps rising');

my %seen;
for (1 .. 100) {
    my $r = $ng->get("/good/r$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 g1' => 50, '200 g2' => 50 },
          'https group: 100 requests, exactly 50 to each peer');

# SNI: the proxy's name went out with each check, and the checks' name
# follows the proxy_ssl_name (g1 is also in "wrongname", same settings)
# (a backend logs a request after its answer: poll for the lines)
sub hc_lines {
    my ($b, $n) = @_;
    my @l;
    wait_until(sub {
        @l = grep { / \/hc$/ } split /\n/,
                  slurp($be{$b}->dir . '/logs/sni.log') // '';
        @l >= $n;
    }, timeout => 20);
    return @l;
}

my @hc = hc_lines('g1', 2);
my $sni = join "\n", @hc;
ok(@hc >= 2, 'SNI: the backend logged the checks');
is_deeply([grep { $_ ne 'app.test /hc' } @hc], [],
          'SNI: every check sent "app.test" (proxy_ssl_name)')
    or diag $sni;

# verification on, the wrong name: out, with the reason
$doc = wait_until(sub {
    my $d = status();
    return peer($d, 'wrongname', 0)->{state} eq 'unhealthy' ? $d : undef;
}, timeout => 20);
ok($doc, 'wrong name: the peer is out of rotation');
$doc //= status();
is(hc($doc, 'wrongname', 0)->{last_error},
   'certificate verify failed: hostname mismatch',
   'wrong name: the reason says so');
ok(!exists hc($doc, 'wrongname', 0)->{last_status},
   'wrong name: no status, no request was sent');
is(peer($doc, 'wrongname', 1)->{state}, 'up',
   'wrong name: the good peer of the group stays up');
%seen = ();
$seen{$ng->get("/wrongname/r$_")->{content}}++ for 1 .. 20;
is_deeply(\%seen, { g1 => 20 }, 'wrong name: 20 requests, all to the good peer');

# verification on, a certificate of no trusted CA: out, with the reason
$doc = wait_until(sub {
    my $d = status();
    return peer($d, 'untrusted', 0)->{state} eq 'unhealthy' ? $d : undef;
}, timeout => 20);
ok($doc, 'untrusted: the peer is out of rotation');
$doc //= status();
like(hc($doc, 'untrusted', 0)->{last_error} // '',
     qr/^certificate verify failed: self.signed certificate$/,
     'untrusted: the reason is OpenSSL\'s');
is(peer($doc, 'untrusted', 1)->{state}, 'up',
   'untrusted: the good peer of the group stays up');

# verification off (proxy_ssl_verify's default): both pass; SNI from
# tls_name= and tls_server_name=on (the checks of "untrusted" send no
# request to this backend: they fail at the handshake)
$doc = wait_until(sub {
    my $d = status();
    return (hc($d, 'noverify', 0)->{consecutive_passes} >= 2
            && hc($d, 'noverify', 1)->{consecutive_passes} >= 2) ? $d : undef;
}, timeout => 20);
ok($doc, 'verify off: the wrong-name and the self-signed peer pass')
    or diag explain status()->{upstreams}{noverify};
@hc = hc_lines('s', 2);
$sni = join "\n", @hc;
ok(@hc >= 2, 'SNI by tls_name: the self-signed backend logged the checks');
is_deeply([grep { $_ ne 'sni.test /hc' } @hc], [],
          'SNI by tls_name: every check sent "sni.test"') or diag $sni;

# a plain HTTP peer in a TLS group: a failed handshake
$doc = wait_until(sub {
    my $d = status();
    return peer($d, 'plain', 0)->{state} eq 'unhealthy' ? $d : undef;
}, timeout => 20);
ok($doc, 'plain peer: out of rotation');
$doc //= status();
is(hc($doc, 'plain', 0)->{last_error}, 'tls handshake failed',
   'plain peer: the reason is the handshake');
# while the proxy's own location sends no SNI (proxy_ssl_server_name off)
@hc = hc_lines('g3', 1);
$sni = join "\n", @hc;
ok(@hc >= 1, 'no SNI: the TLS peer of the group logged the checks');
is_deeply([grep { $_ ne '- /hc' } @hc], [],
          'no SNI: no check sent a name (proxy_ssl_server_name off)')
    or diag $sni;

# health_check's own TLS settings, no location: verified, or refused
$doc = wait_until(sub {
    my $d = status();
    return (hc($d, 'own', 0)->{consecutive_passes} >= 2
            && peer($d, 'ownwrong', 0)->{state} eq 'unhealthy') ? $d : undef;
}, timeout => 20);
ok($doc, 'tls_ parameters: the right certificate passes, the wrong name not')
    or diag explain status()->{upstreams};
$doc //= status();
is(hc($doc, 'ownwrong', 0)->{last_error},
   'certificate verify failed: hostname mismatch',
   'tls_ parameters: the reason of the wrong name');

# tls=off: a group proxied over https checked in plain HTTP
$doc = wait_until(sub {
    my $d = status();
    return hc($d, 'forcedplain', 0)->{consecutive_passes} >= 2 ? $d : undef;
}, timeout => 20);
ok($doc, 'tls=off: the plain peer passes its plain checks');
is(hc($doc // status(), 'forcedplain', 0)->{last_status}, 200,
   'tls=off: it answered 200');

# a peer that accepts and never speaks: the check sent a ClientHello and
# timed out within its timeout (1s)
$doc = wait_until(sub {
    my $d = status();
    return (hc($d, 'silent', 0)->{fails} // 0) >= 1 ? $d : undef;
}, timeout => 20);
ok($doc, 'silent peer: its check failed');
$doc //= status();
is(hc($doc, 'silent', 0)->{last_error}, 'timed out',
   'silent peer: the check timed out');
like(slurp("$tmp/h1") // '', qr/^\d+ 1603/m,
     'silent peer: it was sent a TLS handshake record');

# while a check's handshake hangs (timeout 60s), the worker serves: the
# status answers with that check still under way, and so does traffic
ok(wait_until(sub { -s "$tmp/h2" }, timeout => 20),
   'hanging peer: a check connected');
my ($r, $d) = $ng->get_json('/health');
is($r->{status}, 200, 'hanging handshake: the status answers meanwhile');
is(hc($d, 'hanging', 0)->{checks}, 0,
   'hanging handshake: the check is still under way');
is($ng->get('/good/x')->{content}, 'g1',
   'hanging handshake: a proxied request is served meanwhile');
like(slurp("$tmp/h2") // '', qr/^\d+ 1603/m,
     'hanging peer: it was sent a TLS handshake record');

# the reasons are in error.log too
my $log = slurp($ng->error_log) // '';
like($log, qr/peer \Q$addr{w}\E of upstream "wrongname" failed 1 checks \(last: certificate verify failed: hostname mismatch\)/,
     'error.log: the wrong name');
like($log, qr/peer \Q$addr{p}\E of upstream "plain" failed 1 checks \(last: tls handshake failed\)/,
     'error.log: the handshake');

$ng->stop;
$_->stop for values %be;

# configuration: tls_verify without trusted certificates is refused, bad
# values are named
my ($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u { server 127.0.0.1:1; health_check tls_verify=on; }
EOF
ok($rc, 'tls_verify=on without certificates: nginx -t fails');
like($out, qr/tls_verify=on but no trusted certificates/,
     'tls_verify=on without certificates: it says why');

($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u { server 127.0.0.1:1; health_check tls=yes; }
EOF
like($out, qr/invalid value "tls=yes"/, 'tls=yes is refused');

# each on|off parameter: a value other than on or off, an empty one, twice
for my $p (qw(tls tls_server_name tls_verify)) {
    for my $bad ("$p=yes", "$p=", "$p=onn") {
        ($rc, $out) = HealthTest::Nginx->conf_error(
            "upstream u { server 127.0.0.1:1; health_check $bad; }");
        like($out, qr/invalid value "\Q$bad\E" in "health_check" directive, it must be "on" or "off"/,
             "$bad is refused");
    }
    ($rc, $out) = HealthTest::Nginx->conf_error(
        "upstream u { server 127.0.0.1:1; health_check $p=off $p=off; }");
    like($out, qr/duplicate parameter "$p=off" in "health_check" directive/,
         "$p= twice is refused");
}

($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u { server 127.0.0.1:1;
                 health_check tls_verify=on tls_trusted_certificate=$dir/ca.crt; }
EOF
is($rc, 0, 'tls_verify=on with tls_trusted_certificate: accepted') or diag $out;

# two locations proxy to the group, over https and over http: the first
# counts, and nginx -t says so
($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u { server 127.0.0.1:1; health_check; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /a { proxy_pass https://u; }
        location /b { proxy_pass http://u; }
    }
EOF
is($rc, 0, 'https and http locations of one group: accepted') or diag $out;
if ($blind) {
    like($out, qr/\[warn\].*health: nginx \S+ does not tell modules whether upstream "u" is proxied over https; its checks speak plain HTTP unless its health_check says tls=on/,
         'https and http locations of one group: nginx -t says the checks cannot tell');
} else {
    like($out, qr/\[warn\].*locations proxy to upstream "u" with different TLS settings/,
         'https and http locations of one group: nginx -t warns');
}

# a group with tls= of its own is not warned about
($rc, $out) = HealthTest::Nginx->conf_error(<<"EOF");
    upstream u { server 127.0.0.1:1; health_check tls=on; }
    upstream p { server 127.0.0.1:2; health_check tls=off; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /a { proxy_pass https://u; }
        location /b { proxy_pass https://p; }
    }
EOF
is($rc, 0, 'tls=on and tls=off groups: accepted') or diag $out;
unlike($out, qr/does not tell modules/, 'tls= said: no warning');

done_testing();
