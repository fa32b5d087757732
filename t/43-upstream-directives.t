#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_check: every bad value fails nginx -t with a message naming the
# directive and the value; good configurations pass.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

sub conf_test {
    my ($upstream, $server) = @_;
    $server //= '';
    my $ng = HealthTest::Nginx->new(conf => <<"EOF2");
    upstream app {
        server 127.0.0.1:%%PORT_1%%;
        $upstream
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        $server
        location / { proxy_pass http://app; }
        location /health { health_status; }
    }
EOF2
    return $ng->test_conf;
}

my @bad = (
    [ '', 'health_check;',
      qr/"health_check" directive is not allowed here in \S+nginx.conf:\d+/,
      'health_check in a server block' ],
    [ '', 'location /x { health_check; }',
      qr/"health_check" directive is not allowed here/,
      'health_check in a location' ],
    [ 'health_check status=abc;', '',
      qr/invalid value "status=abc" in "health_check" directive, it must be a comma-separated list/,
      'status that is not a number' ],
    [ 'health_check status=200,600;', '',
      qr/invalid value "status=200,600" in "health_check" directive/,
      'status above 599' ],
    [ 'health_check status=99;', '',
      qr/invalid value "status=99" in "health_check" directive/,
      'status below 100' ],
    [ 'health_check status=399-200;', '',
      qr/invalid value "status=399-200" in "health_check" directive/,
      'reversed range' ],
    [ 'health_check status=200,;', '',
      qr/invalid value "status=200," in "health_check" directive/,
      'empty item in the list' ],
    [ 'health_check status=;', '',
      qr/invalid value "status=" in "health_check" directive/,
      'empty status list' ],
    [ 'health_check interval=0;', '',
      qr/invalid value "interval=0" in "health_check" directive, it must be a time from 100ms to 1d/,
      'zero interval' ],
    [ 'health_check interval=0s;', '',
      qr/invalid value "interval=0s" in "health_check" directive/,
      'zero interval (0s)' ],
    [ 'health_check interval=soon;', '',
      qr/invalid value "interval=soon" in "health_check" directive/,
      'interval that is not a time' ],
    [ 'health_check timeout=0ms;', '',
      qr/invalid value "timeout=0ms" in "health_check" directive/,
      'zero timeout' ],
    [ 'health_check interval=1ms timeout=1ms;', '',
      qr/invalid value "interval=1ms" in "health_check" directive, it must be a time from 100ms to 1d/,
      'interval=1ms' ],
    [ 'health_check interval=99ms;', '',
      qr/invalid value "interval=99ms" in "health_check" directive, it must be a time from 100ms to 1d/,
      'interval under 100ms' ],
    [ 'health_check timeout=1ms;', '',
      qr/invalid value "timeout=1ms" in "health_check" directive, it must be a time from 10ms to 1d/,
      'timeout=1ms' ],
    [ 'health_check interval=2d;', '',
      qr/invalid value "interval=2d" in "health_check" directive, it must be a time from 100ms to 1d/,
      'interval over a day' ],
    [ 'health_check required=yes;', '',
      qr/invalid value "required=yes" in "health_check" directive, it must be "on" or "off"/,
      'required neither on nor off' ],
    [ 'health_check required=on required=off;', '',
      qr/duplicate parameter "required=off" in "health_check" directive/,
      'required twice' ],
    [ 'health_check fails=0;', '',
      qr/invalid value "fails=0" in "health_check" directive, it must be a number from 1 to 1000/,
      'fails=0' ],
    [ 'health_check passes=0;', '',
      qr/invalid value "passes=0" in "health_check" directive/,
      'passes=0' ],
    [ 'health_check fails=-1;', '',
      qr/invalid value "fails=-1" in "health_check" directive/,
      'negative fails' ],
    [ 'health_check uri=hc;', '',
      qr/invalid value "uri=hc" in "health_check" directive, the uri must start with "\/"/,
      'uri without a leading slash' ],
    [ 'health_check; health_check;', '',
      qr/"health_check" directive is duplicate/,
      'health_check twice in a group' ],
    [ 'health_check fails=2 fails=3;', '',
      qr/duplicate parameter "fails=3" in "health_check" directive/,
      'a parameter twice' ],
    [ 'health_check port=80;', '',
      qr/invalid parameter "port=80" in "health_check" directive/,
      'unknown parameter' ],
);

# [ text in the upstream block, text in the server block, message, name ]
for my $t (@bad) {
    my ($up, $srv, $re, $name) = @$t;
    my ($rc, $out) = conf_test($up, $srv);
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, $re, "message: $name") or diag $out;
}

my @good = (
    'health_check;',
    'health_check uri=/healthz interval=2s timeout=1s fails=2 passes=2 '
        . 'status=200;',
    'health_check status=200-299,301,404 interval=250ms timeout=100ms;',
    'least_conn; health_check;',
    'health_check; hash $request_uri consistent;',
    'zone app 64k; health_check; keepalive 8;',
    'health_check interval=100ms timeout=10ms;',
    'health_check timeout=1h;',
    'health_check required=on;',
    'health_check required=off;',
);
for my $g (@good) {
    my ($rc, $out) = conf_test($g);
    is($rc, 0, "nginx -t passes: $g") or diag $out;
}

# the group's name is the checks' Host header: no control characters
for my $t ([ 'a\\r\\nX-Injected: 1', 'CR LF' ], [ 'a b', 'a space' ],
           [ 'a\\tb', 'a tab' ]) {
    my ($name, $what) = @$t;
    my $ng = HealthTest::Nginx->new(conf => <<"EOF2");
    upstream "$name" { server 127.0.0.1:%%PORT_1%%; health_check; }
    server { listen 127.0.0.1:%%PORT%%; location /health { health_status; } }
EOF2
    my ($rc, $out) = $ng->test_conf;
    isnt($rc, 0, "nginx -t fails: upstream name with $what and health_check");
    like($out, qr/"health_check" cannot be used in upstream .*its name holds a space or a control character/s,
         "message: upstream name with $what") or diag $out;
}
{
    my $ng = HealthTest::Nginx->new(conf => <<"EOF2");
    upstream "a b" { server 127.0.0.1:%%PORT_1%%; }
    server { listen 127.0.0.1:%%PORT%%; location /health { health_status; } }
EOF2
    my ($rc, $out) = $ng->test_conf;
    is($rc, 0, 'such a name without health_check stays allowed') or diag $out;
}

done_testing;
