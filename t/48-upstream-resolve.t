#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# "server NAME resolve" (nginx 1.27.3 and later, a group with a zone): the
# test's own DNS server on loopback changes what app.test resolves to, and
# nginx's resolver (valid=1s) adds and removes the group's peers at run
# time.  The peers in the status follow, every attempt is counted for the
# peer that answered it (each backend address answers its own address, so
# the counts are compared with the answers, exactly), a peer that leaves
# and comes back keeps its counts, a new one never inherits another's,
# active checks follow the peers that are there, and a reload keeps it all.
# An address beyond the line's slots is served and not counted.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

use HealthTest qw(:all);
use HealthTest::Dns;

sub nginx_version {
    my ($rc, $out) = HealthTest::run_cmd(HealthTest::Nginx::nginx_bin(), '-v');
    my ($v) = $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)} ? ($1 * 1000000 + $2 * 1000 + $3) : 0;
    return ($v, $out =~ m{(nginx/\S+)} ? $1 : 'nginx of unknown version');
}

my ($version, $vtext) = nginx_version();
plan skip_all => "$vtext: \"server ... resolve\" needs nginx 1.27.3 or later"
    if $version < 1027003;

my $dns = HealthTest::Dns->start;
# app.test as the steps below want it; mix.test stays
my %fixed = ('mix.test' => ['127.0.0.5']);
sub app_resolves { $dns->set(%fixed, 'app.test' => [map { "127.0.0.$_" } @_]) }
app_resolves(2);

# one backend nginx answering on five loopback addresses, the same port:
# / answers the address, /hc fails on 127.0.0.4
my $P = free_port();
my $servers = join '', map { <<"EOF" } 2 .. 6;
    server {
        listen 127.0.0.$_:$P;
        location / { return 200 "\$server_addr"; }
        location = /hc { return ${\ ($_ == 4 ? 503 : 200) }; }
    }
EOF
my $be = HealthTest::Nginx->new(conf => $servers);
$be->start;

my $conf = <<"EOF";
    resolver 127.0.0.1:${\ $dns->port } valid=1s ipv6=off;

    upstream app {
        zone app 64k;
        server app.test:$P resolve;
        health_check uri=/hc interval=200ms timeout=1s fails=1 passes=1;
    }

    # a static peer and a resolve line
    upstream mix {
        zone mix 64k;
        server 127.0.0.6:$P;
        server mix.test:$P resolve;
    }

    upstream two {
        zone two 64k;
        server many.test:$P resolve;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            proxy_pass http://app;
            proxy_next_upstream off;
        }

        location /mix/ {
            proxy_pass http://mix;
            proxy_next_upstream off;
        }

        location /two/ {
            proxy_pass http://two;
            proxy_next_upstream off;
        }

        location = /health { health_status; }
        location = /metrics { health_status prometheus; }
    }
EOF
my $ng = HealthTest::Nginx->new(workers => 2, conf => $conf);
$ng->start;

sub status { scalar $ng->get_json('/health') }

# the listed peers of a group: { "127.0.0.2:P" => peer }
sub peers {
    my ($doc, $group) = @_;
    return { map { $_->{server} => $_ }
             @{ $doc->{upstreams}{$group // 'app'}{peers} // [] } };
}

sub addr { "127.0.0.$_[0]:$P" }

# wait until the group lists exactly these peers (and, with up => 1, all up)
sub wait_peers {
    my ($want, %o) = @_;
    my $key = join ',', sort map { addr($_) } @$want;
    return wait_until(sub {
        my $d = status() or return;
        my $p = peers($d, $o{group});
        return if join(',', sort keys %$p) ne $key;
        return if $o{up} && grep { $_->{state} ne 'up' } values %$p;
        return if $o{checked}
                  && grep { ($_->{health_checks}{checks} // 0) < 1 } values %$p;
        return $d;
    }, timeout => 20, step => 0.1);
}

# N requests; returns { address => answers } and adds them to %answered
my %answered;
sub send_requests {
    my ($n, $path) = @_;
    my %seen;
    for (1 .. $n) {
        my $r = $ng->get(($path // '/') . "r$_");
        my $who = $r->{status} == 200 ? "$r->{content}:$P" : "status $r->{status}";
        $seen{$who}++;
        $answered{$who}++ unless $path;
    }
    return \%seen;
}

# the group lists exactly the peers LISTED (last octets), and each one's
# requests equal the answers it gave, exactly
sub counts_match {
    my ($doc, $name, @listed) = @_;
    my $p = peers($doc);
    my %got = map { $_ => $p->{$_}{requests} } keys %$p;
    my %want = map { addr($_) => $answered{addr($_)} // 0 } @listed;
    is_deeply(\%got, \%want, $name) or diag explain $doc->{upstreams}{app};
}

# 1. one address
my $doc = wait_peers([2], up => 1, checked => 1);
ok($doc, 'the resolved peer is listed, checked and up')
    or diag explain status();
is($doc->{checks}{'upstream:app'}{total_peers}, 1, 'total_peers 1');
is($doc->{checks}{'upstream:app'}{status}, 'healthy', 'upstream:app healthy');
is_deeply(send_requests(10), { addr(2) => 10 }, '10 answers from 127.0.0.2');
counts_match(status(), 'its 10 requests are counted for it', 2);

# 2. a second address appears
app_resolves(2, 3);
$doc = wait_peers([2, 3], up => 1, checked => 1);
ok($doc, 'the new address is listed, checked and up') or diag explain status();
my $seen = send_requests(40);
ok($seen->{addr(2)} && $seen->{addr(3)}
   && $seen->{addr(2)} + $seen->{addr(3)} == 40,
   'both peers answer') or diag explain $seen;
counts_match(status(), 'each peer counted exactly its own answers', 2, 3);
is(peers(status())->{addr(3)}{fails}, 0, 'no passive failure');

# 3. the first one leaves: gone from the status, nothing counted for it
app_resolves(3);
$doc = wait_peers([3]);
ok($doc, 'the address that left is no longer listed') or diag explain status();
is($doc->{checks}{'upstream:app'}{total_peers}, 1, 'total_peers 1 again');
is_deeply(send_requests(10), { addr(3) => 10 }, '10 answers from 127.0.0.3');
counts_match(status(), 'the remaining peer counted exactly', 3);

# 4. it comes back: its counts are there again, and go on
app_resolves(2, 3);
$doc = wait_peers([2, 3]);
ok($doc, 'the address is back') or diag explain status();
is(peers($doc)->{addr(2)}{requests}, $answered{addr(2)},
   'it kept its requests while away');
send_requests(20);
counts_match(status(), 'both counted exactly after its return', 2, 3);

# 5. a failing address replaces it: checked, out of rotation, and it
#    starts from zero (never the counts of the one it replaced)
app_resolves(3, 4);
$doc = wait_until(sub {
    my $d = status() or return;
    my $p = peers($d);
    return (join(',', sort keys %$p) eq join(',', addr(3), addr(4))
            && $p->{addr(4)}{state} eq 'unhealthy') ? $d : undef;
}, timeout => 20, step => 0.05);
ok($doc, 'the new address failed its check: unhealthy') or diag explain status();
is(peers($doc)->{addr(4)}{health_checks}{last_status}, 503,
   'its check saw the 503');
is($doc->{checks}{'upstream:app'}{status}, 'degraded', 'upstream:app degraded');
is($doc->{upstreams}{app}{fail_open}, JSON::PP::false, 'no fail-open');
# answers it gave before its first check are its own
counts_match($doc, 'the new address starts from its own answers', 3, 4);
is_deeply(send_requests(20), { addr(3) => 20 },
          'with it out of rotation 127.0.0.3 answers everything');
counts_match(status(), 'counted exactly', 3, 4);

# 6. the failing address leaves: the group is healthy, the fail-open
#    count holds no departed peer
app_resolves(3);
$doc = wait_peers([3]);
ok($doc, 'the failing address left') or diag explain status();
is($doc->{checks}{'upstream:app'}{status}, 'healthy', 'healthy again');

# then .3 fails too (the only peer): fail-open, not a stale count
app_resolves(4);
$doc = wait_until(sub {
    my $d = status() or return;
    my $p = peers($d);
    return (join(',', keys %$p) eq addr(4)
            && $p->{addr(4)}{state} eq 'unhealthy'
            && $d->{upstreams}{app}{fail_open}) ? $d : undef;
}, timeout => 20, step => 0.05);
ok($doc, 'the only peer failing its checks: fail-open')
    or diag explain status();
app_resolves(3);
$doc = wait_peers([3], up => 1);
ok($doc, 'back to 127.0.0.3, up') or diag explain status();
# a check of the departed peer still under way when it left may count it
# for an instant; the next timer tick of any worker (200 ms) forgets it
$doc = wait_until(sub {
    my $d = status() or return;
    return $d->{upstreams}{app}{fail_open} ? undef : $d;
}, timeout => 5, step => 0.05);
ok($doc, 'no fail-open left over from the peer that went away')
    or diag explain status();
is($doc && $doc->{checks}{'upstream:app'}{status}, 'healthy',
   'upstream:app healthy');

# 7. Prometheus lists the peers there are, with the same counts
my $m = $ng->get('/metrics')->{content};
my %prom = $m =~ /^nginx_health_upstream_peer_requests_total\{upstream="app",peer="([^"]+)"\} (\d+)$/mg;
is_deeply(\%prom, { addr(3) => $answered{addr(3)} },
          'prometheus: the listed peer and its exact count');

# a static peer and a resolved one in a group
$doc = wait_peers([5, 6], group => 'mix');
ok($doc, 'mix: the static peer and the resolved one are listed')
    or diag explain status();
my $mix = send_requests(20, '/mix/');
is($mix->{addr(5)} + $mix->{addr(6)}, 20, 'mix: both answer')
    or diag explain $mix;
my $mp = peers(status(), 'mix');
is_deeply({ map { $_ => $mp->{$_}{requests} } keys %$mp },
          { addr(5) => $mix->{addr(5)}, addr(6) => $mix->{addr(6)} },
          'mix: each counted exactly its answers');

# 8. a reload keeps the resolved peers and their counts (nginx hands the
#    resolved addresses over to the new configuration)
$ng->reload;
$doc = wait_peers([3], up => 1);
ok($doc, 'after a reload the resolved peer is still tracked')
    or diag explain status();
is(peers($doc)->{addr(3)}{requests}, $answered{addr(3)},
   'and keeps its requests');
send_requests(5);
counts_match(status(), 'counted exactly after the reload', 3);

$doc = wait_peers([5, 6], group => 'mix');
ok($doc, 'mix: still tracked after the reload') or diag explain status();
my $mix2 = send_requests(10, '/mix/');
$mp = peers(status(), 'mix');
is_deeply({ map { $_ => $mp->{$_}{requests} } keys %$mp },
          { map { $_ => ($mix->{$_} // 0) + ($mix2->{$_} // 0) }
                addr(5), addr(6) },
          'mix: counts kept and exact after the reload');
ok(!grep({ /not tracked/ } split /\n/, slurp($ng->error_log) // ''),
   'error.log says no group went untracked');

# 9. more addresses than slots (8): the first 8 are tracked, the others
#    are served and counted nowhere, error.log says so
$fixed{'many.test'} = [map { "127.0.0.$_" } 2 .. 6, 7 .. 11];
app_resolves(3);
$doc = wait_until(sub {
    my $d = status() or return;
    return keys %{ peers($d, 'two') } == 8 ? $d : undef;
}, timeout => 20, step => 0.1);
ok($doc, '8 of the 10 addresses listed') or diag explain status();
ok(wait_until(sub { (slurp($ng->error_log) // '')
                    =~ /"server many\.test:$P" of upstream "two" resolved to more than 8 addresses/ },
              timeout => 10),
   'error.log says the line has more addresses than slots');
# only 127.0.0.2-6 answer; the rest refuse: count what was answered by
# tracked peers only
$seen = send_requests(30, '/two/');
my $p = peers(status(), 'two');
my $sum = 0;
$sum += $_->{requests} for values %$p;
my $untracked = grep { !$p->{$_} } map { addr($_) } 2 .. 11;
is($untracked, 2, 'two addresses untracked');
cmp_ok($sum, '<=', 30, 'tracked peers counted no more than was sent');
for my $a (map { addr($_) } 2 .. 6) {
    next unless $p->{$a};
    is($p->{$a}{requests}, $seen->{$a} // 0, "$a counted exactly its answers");
}

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

# 10. Redis publishing reports the peers as they are, also when it is the
#     first to notice a change (one worker, no check, no request, no
#     status request: only the publisher looks at the group)
$fixed{'q.test'} = ['127.0.0.2'];
app_resolves(3);

my $rd = HealthTest::Redis->start;
my $sub = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $rd->port,
                                Proto => 'tcp', Timeout => 5)
    or die "connect to redis: $!\n";
print $sub "*2\r\n\$9\r\nSUBSCRIBE\r\n\$25\r\nhealth:service:rs:metrics\r\n";
my $sel = IO::Select->new($sub);

# the peers of "quiet" in the next metrics message that has the group
sub published_peers {
    my $buf = '';
    my $end = time + 10;
    while (time < $end) {
        next unless $sel->can_read(0.1);
        sysread($sub, $buf, 65536, length $buf) or last;
        while ($buf =~ s/^[^\n]*\n//) {
            my $line = $&;
            next unless $line =~ /^\{/;
            my $m = eval { JSON::PP->new->decode($line) } or next;
            my $q = $m->{upstreams}{quiet} or next;
            return join ',', sort map { $_->{server} } @{ $q->{peers} };
        }
    }
    return undef;
}

my $ng3 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    resolver 127.0.0.1:${\ $dns->port } valid=1s ipv6=off;
    health_service rs;
    health_redis 127.0.0.1:${\ $rd->port } interval=100ms publish=on;

    upstream quiet {
        zone quiet 64k;
        server q.test:$P resolve;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { proxy_pass http://quiet; }
    }
EOF
$ng3->start;

ok(wait_until(sub { (published_peers() // '') eq addr(2) }, timeout => 20),
   'published: the resolved peer');
$fixed{'q.test'} = ['127.0.0.3'];
app_resolves(3);
ok(wait_until(sub { (published_peers() // '') eq addr(3) }, timeout => 20),
   'published: the new address once the name changed');
$ng3->stop;
is_deeply([$ng3->log_alerts], [], 'no alert or emerg in error.log');
unlike(slurp($ng3->error_log) // '', qr/exited on signal/,
       'no worker crashed');

done_testing;
