#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis tls=on (issue 14 point 2).  Where the module was built
# without hiredis_ssl (hiredis 0.14, Debian 12) nginx -t refuses tls=on
# and says what is needed; where it was built with it (Debian 13), a real
# redis-server with --tls-port and certificates made here with the openssl
# CLI: healthy with the right CA and a client certificate, unhealthy with
# a reason under another CA, and the files checked at nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub conf_error { HealthTest::Nginx->conf_error(@_) }

my $dir = HealthTest::tmp_dir('tls');

sub openssl {
    my ($rc, $out) = HealthTest::run_cmd('openssl', @_);
    die "openssl @_: $out" if $rc;
}

# two CAs; a server and a client certificate signed by the first
for my $ca (qw(ca other)) {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
            '-subj', "/CN=test $ca", '-keyout', "$dir/$ca.key",
            '-out', "$dir/$ca.crt");
}
for my $who (qw(server client)) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
            '-keyout', "$dir/$who.key", '-out', "$dir/$who.csr");
    openssl('x509', '-req', '-in', "$dir/$who.csr", '-CA', "$dir/ca.crt",
            '-CAkey', "$dir/ca.key", '-CAcreateserial', '-days', '2',
            '-out', "$dir/$who.crt");
}

{
    my ($rc, $out) = conf_error("health_redis 127.0.0.1:6379 tls_ca=$dir/ca.crt;");
    like($out, qr/"tls_\*=" parameters in "health_redis" directive need "tls=on"/,
         'nginx -t: tls_ca= without tls=on');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 tls=yes;');
    like($out, qr/invalid value "tls=yes" in "health_redis"/, 'nginx -t: tls=yes');

    ($rc, $out) = conf_error("health_redis 127.0.0.1:6379 tls=on tls_cert=$dir/client.crt;");
    like($out, qr/"tls_cert=" and "tls_key=" in "health_redis" directive go together/,
         'nginx -t: a certificate without its key');
}

my ($rc, $out) = conf_error("health_redis 127.0.0.1:6379 tls=on tls_ca=$dir/ca.crt;");
my $supported = $rc == 0;

# where the headers are, the module must have been built with TLS
my $have_ssl_h = grep { -e "$_/hiredis/hiredis_ssl.h" } qw(/usr/include /usr/local/include);

if (!$supported) {
    ok(!$have_ssl_h, 'refused only where hiredis_ssl is missing') or diag $out;
    like($out, qr/"tls=on" in "health_redis" directive is not supported: this module was built with hiredis \d+\.\d+\.\d+ without its TLS library; TLS to Redis needs hiredis 1\.0 or later with hiredis_ssl/,
         'nginx -t: tls=on refused, saying why and what is needed');
    done_testing;
    exit 0;
}

pass('nginx -t: tls=on with a CA');

($rc, $out) = conf_error("health_redis 127.0.0.1:6379 tls=on tls_ca=$dir/none.crt;");
like($out, qr/cannot make the TLS context of "health_redis" directive: .*tls_ca="\Q$dir\E\/none\.crt"/,
     'nginx -t: a CA file that is not there');

($rc, $out) = conf_error("health_redis 127.0.0.1:6379 tls=on tls_ca=$dir/ca.crt "
    . "tls_cert=$dir/client.crt tls_key=$dir/server.key;");
like($out, qr/cannot make the TLS context/, 'nginx -t: a key that is not the certificate\'s');

my $tport = HealthTest::free_port();
my $rd = HealthTest::Redis->start(args => [
    '--tls-port', $tport, '--tls-cert-file', "$dir/server.crt",
    '--tls-key-file', "$dir/server.key", '--tls-ca-cert-file', "$dir/ca.crt",
    '--tls-auth-clients', 'yes']);

my $ng = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service tls1;
    health_redis 127.0.0.1:$tport tls=on tls_ca=$dir/ca.crt
                 tls_cert=$dir/client.crt tls_key=$dir/client.key
                 tls_server_name=127.0.0.1 interval=200ms timeout=2s;
    health_redis 127.0.0.1:$tport name=wrongca tls=on tls_ca=$dir/other.crt
                 tls_cert=$dir/client.crt tls_key=$dir/client.key
                 publish=off interval=200ms timeout=2s;
    health_redis 127.0.0.1:$tport name=nocert tls=on tls_ca=$dir/ca.crt
                 publish=off interval=200ms timeout=2s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng->start;

ok(defined $ng->wait_check('cache', 'healthy', timeout => 20),
   'TLS with the CA and a client certificate: healthy');
ok(wait_until(sub { $rd->cli('EXISTS', 'health:instance:tls1') eq '1' },
              timeout => 10), 'published over TLS');
ok(defined $ng->wait_check('wrongca', 'unhealthy', timeout => 20,
    reason => qr/certificate verify failed|SSL|TLS/i),
   'another CA: unhealthy, the reason says why');
# a refused certificate found inside hiredis' reads is an I/O error without
# errno to hiredis ("Success"): the reason is OpenSSL's instead
unlike(slurp($ng->error_log), qr/lost: Success/,
       'no "lost: Success" for a TLS failure');
ok(defined $ng->wait_check('nocert', 'unhealthy', timeout => 20),
   'no client certificate where Redis asks for one: unhealthy');
is_deeply([$ng->log_alerts], [], 'no alerts in error.log');

$ng->stop;
$rd->stop;

done_testing;
