#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# "server ... drain" (nginx 1.29.6 and later, with the sticky module): the
# peer takes only the requests that stick to it.  It is leaving on
# purpose: the status says "draining", it does not degrade the group, it
# is never actively checked (a passing check must not put it back in
# rotation), and the sticky requests it serves are counted for it, as
# successes.  The same holds for a "server NAME resolve drain" line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);
use HealthTest::Dns;

sub nginx_version {
    my ($rc, $out) = HealthTest::run_cmd(HealthTest::Nginx::nginx_bin(), '-v');
    my ($v) = $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)} ? ($1 * 1000000 + $2 * 1000 + $3) : 0;
    return ($v, $out =~ m{(nginx/\S+)} ? $1 : 'nginx of unknown version');
}

my ($version, $vtext) = nginx_version();
plan skip_all => "$vtext: \"server ... drain\" needs nginx 1.29.6 or later"
    if $version < 1029006;

my @b = map { HealthTest::Nginx->backend($_) } qw(b1 b2 b3 b4);
my @addr = map { '127.0.0.1:' . $_->port } @b;

my $dns = HealthTest::Dns->start;
$dns->set('r.test' => ['127.0.0.1'], 'd.test' => ['127.0.0.1']);
my ($p3, $p4) = ($b[2]->port, $b[3]->port);

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    resolver 127.0.0.1:${\ $dns->port } valid=1s ipv6=off;

    upstream app {
        server $addr[0] route=a;
        server $addr[1] route=b drain;
        sticky cookie srv_id;
        health_check uri=/hc interval=100ms timeout=1s fails=1 passes=1;
    }

    upstream rd {
        zone rd 64k;
        server r.test:$p3 resolve;
        server d.test:$p4 resolve drain;
        health_check uri=/hc interval=100ms timeout=1s fails=1 passes=1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            proxy_pass http://app;
            proxy_next_upstream off;
        }

        location /rd/ {
            proxy_pass http://rd;
            proxy_next_upstream off;
        }

        location = /health { health_status; }
    }
EOF
$ng->start;

sub status { scalar $ng->get_json('/health') }

sub peer {
    my ($doc, $group, $server) = @_;
    my ($p) = grep { $_->{server} eq $server }
              @{ $doc->{upstreams}{$group}{peers} // [] };
    return $p;
}

# the other peers checked a few times: long enough for a check of the
# draining one, had there been one, to have passed and put it back
my $doc = wait_until(sub {
    my $d = status() or return;
    my $a = peer($d, 'app', $addr[0]);
    my $r = peer($d, 'rd', "127.0.0.1:$p3");
    my $dr = peer($d, 'rd', "127.0.0.1:$p4");
    return ($a && ($a->{health_checks}{checks} // 0) >= 5
            && $r && ($r->{health_checks}{checks} // 0) >= 5 && $dr)
           ? $d : undef;
}, timeout => 20, step => 0.1);
ok($doc, 'the peers in rotation were checked') or diag explain status();

my $d = peer($doc, 'app', $addr[1]);
is($d->{state}, 'draining', 'the drain peer is "draining"');
is($d->{health_checks}{checks}, 0, 'it is never checked');
is($doc->{checks}{'upstream:app'}{status}, 'healthy',
   'upstream:app stays healthy');
is($doc->{checks}{'upstream:app'}{total_peers}, 2, 'total_peers 2');
is($doc->{checks}{'upstream:app'}{healthy_peers}, 1, 'healthy_peers 1');

my $rd = peer($doc, 'rd', "127.0.0.1:$p4");
is($rd->{state}, 'draining', 'a resolved drain peer is "draining"');
is($rd->{health_checks}{checks}, 0, 'and never checked');
is($doc->{checks}{'upstream:rd'}{status}, 'healthy',
   'upstream:rd stays healthy');

# new requests never reach it
my %seen;
for (1 .. 20) {
    my $r = $ng->get("/n$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 b1' => 20 }, 'new requests all go to b1');

%seen = ();
for (1 .. 10) {
    my $r = $ng->get("/rd/n$_");
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 b3' => 10 }, 'and to the resolved peer in rotation');

# requests that stick to it still reach it, counted for it, not failed
%seen = ();
for (1 .. 5) {
    my $r = $ng->get("/s$_", options => { headers => { Cookie => 'srv_id=b' } });
    $seen{"$r->{status} $r->{content}"}++;
}
is_deeply(\%seen, { '200 b2' => 5 }, 'sticky requests reach the draining peer');

$doc = status();
$d = peer($doc, 'app', $addr[1]);
is($d->{requests}, 5, 'its 5 requests are counted');
is($d->{responses}{'2xx'}, 5, 'as 2xx');
is($d->{fails}, 0, 'no failure counted');
is($d->{state}, 'draining', 'still draining');
is(peer($doc, 'app', $addr[0])->{requests}, 20, 'b1 counted its 20');

# its backend stops: nothing checks it, it stays draining, the group healthy
$b[1]->stop;
$doc = wait_until(sub {
    my $d = status() or return;
    my $a = peer($d, 'app', $addr[0]);
    return ($a->{health_checks}{checks} // 0) >= 5 + 10 ? $d : undef;
}, timeout => 20, step => 0.1);
ok($doc, 'b1 checked ten times more') or diag explain status();
$d = peer($doc, 'app', $addr[1]);
is($d->{state}, 'draining', 'the stopped draining peer is still "draining"');
is($d->{health_checks}{checks}, 0, 'still never checked');
is($doc->{checks}{'upstream:app'}{status}, 'healthy', 'group still healthy');
is($doc->{upstreams}{app}{fail_open}, JSON::PP::false, 'no fail-open');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
