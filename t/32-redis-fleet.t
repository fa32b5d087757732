#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_redis fleet=on: every instance registers in prefix:instances (a
# sorted set scored by when it was last seen) and the owner of the probe
# reads the fleet back after publishing.  Three real nginx instances
# against one redis-server see each other in ?scope=fleet; a stopped one
# becomes stale, then gone; the fleet check holds at its boundaries; the
# configuration hash follows the configuration; hostile registry entries
# written with a Redis client break neither the answer nor the others.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

# a minimal RESP client: binary-safe values of any size
sub resp_cmd {
    my ($port, @a) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect to redis: $!\n";
    binmode $s;
    print $s '*' . @a . "\r\n"
             . join '', map { '$' . length($_) . "\r\n$_\r\n" } @a;
    my $line = <$s> // die "redis closed the connection\n";
    close $s;
    $line =~ s/\r\n$//;
    return $line;
}

sub conf_error { HealthTest::Nginx->conf_error(@_) }

##########################################################################
# configuration

{
    my ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 fleet=on '
        . 'fleet_gone=30s fleet_warning=10% fleet_critical=100;');
    is($rc, 0, 'nginx -t: fleet parameters') or diag $out;

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 fleet=on '
                             . 'publish=off;');
    like($out, qr/fleet=on needs publish=on/, 'fleet=on needs publish=on');

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 fleet=on '
        . 'fleet_warning=60 fleet_critical=50;');
    like($out, qr/fleet_warning=60 is above fleet_critical=50/,
         'warning above critical is refused');

    for my $bad ('fleet_gone=1s', 'fleet_warning=0', 'fleet_critical=101',
                 'fleet=yes', 'fleet_warning=5.5')
    {
        ($rc, $out) = conf_error("health_redis 127.0.0.1:6379 $bad;");
        isnt($rc, 0, "nginx -t refuses $bad");
        like($out, qr/invalid value "\Q$bad\E"/, "... and names it");
    }

    ($rc, $out) = conf_error('health_redis 127.0.0.1:6379 fleet=on; '
        . 'health_redis 127.0.0.1:6380 name=c2 fleet=on;');
    like($out, qr/fleet=on is already set/, 'one fleet reader a configuration');
}

##########################################################################
# three instances, one Redis

my $rd = HealthTest::Redis->start;
my $rp = $rd->port;

sub conf {
    my ($svc, %o) = @_;
    my $extra = $o{extra} // '';
    my $comment = $o{comment} // '';
    return <<"EOF";
    $comment
    health_service $svc;
    health_redis 127.0.0.1:$rp interval=1s timeout=800ms fleet=on
                 fleet_gone=8s $extra;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
}

my %ng;
for my $svc (qw(fleet-a fleet-b fleet-c)) {
    $ng{$svc} = HealthTest::Nginx->new(workers => 2, conf => conf($svc));
    $ng{$svc}->start;
}

sub fleet {
    my ($n, $q) = @_;
    my ($r, $doc) = $ng{$n}->get_json('/health?scope=fleet' . ($q // ''));
    return ($doc && $doc->{fleet}, $r);
}

# every instance sees every instance, healthy and fresh
for my $n (sort keys %ng) {
    my $f;
    ok(wait_until(sub {
        ($f) = fleet($n);
        $f && 3 == grep {
            my $i = $f->{instances}{$_};
            $i && $i->{status} eq 'healthy' && !$i->{stale}
        } keys %ng;
    }, timeout => 30), "$n sees the three instances healthy")
        or diag explain $f;
}

my ($f, $r) = fleet('fleet-a');
is($r->{status}, 200, '?scope=fleet answers 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'as JSON');
is($f->{status}, 'healthy', 'the fleet is healthy');
is($f->{instances_total}, 3, 'three instances');
is_deeply([sort keys %{ $f->{instances} }], [sort keys %ng],
          'exactly the three');
like($f->{read_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'read_at');
for my $n (sort keys %ng) {
    my $i = $f->{instances}{$n};
    is($i->{version}, '0.1.0', "$n: version");
    like($i->{uptime_s}, qr/^\d+$/, "$n: uptime_s");
    like($i->{config_hash}, qr/^[0-9a-f]{16}$/, "$n: config_hash");
    like($i->{last_seen}, qr/^\d{4}-.*Z$/, "$n: last_seen");
    is_deeply($i->{checks}, {}, "$n: no non-healthy check");
    is($i->{stale}, JSON::PP::false, "$n: not stale");
}

# the publisher's side: the instance key and the registry
my $key = decode_json($rd->cli('GET', 'health:instance:fleet-b'));
is($key->{interval_s}, 1, 'the instance key has interval_s');
is($key->{config_hash}, $f->{instances}{'fleet-b'}{config_hash},
   'and the config_hash shown');
like($rd->cli('ZSCORE', 'health:instances', 'fleet-b'), qr/^\d{10}(\.\d+)?$/,
     'the registry scores it with Unix time');

# the fleet check in the normal report
my ($c) = $ng{'fleet-a'}->check('fleet');
is($c->{status}, 'healthy', 'the fleet check is healthy');
is($c->{instances}, 3, 'it counts three instances');
is($c->{warning_pct}, 25, 'warning 25% by default');
is($c->{critical_pct}, 50, 'critical 50% by default');

##########################################################################
# the configuration hash

my %hash = map { $_ => $f->{instances}{$_}{config_hash} } keys %ng;
isnt($hash{'fleet-a'}, $hash{'fleet-b'}, 'different files, different hashes');

# an include: its text is part of the hash, when it changes alone too
my $inc = $ng{'fleet-a'}->dir . '/extra.conf';
spew($inc, "# one\n");
# through a glob, as nginx expands it
(my $glob = $inc) =~ s/extra\.conf$/ext*.conf/;
$ng{'fleet-a'}->reload(conf => conf('fleet-a', comment => "include $glob;"));
my $with_inc;
ok(wait_until(sub {
    ($f) = fleet('fleet-b');
    $with_inc = $f && $f->{instances}{'fleet-a'}{config_hash};
    $with_inc && $with_inc ne $hash{'fleet-a'};
}, timeout => 30), 'a reload with an include shows a new hash');

spew($inc, "# two\n");
$ng{'fleet-a'}->reload;
ok(wait_until(sub {
    ($f) = fleet('fleet-b');
    my $h = $f && $f->{instances}{'fleet-a'}{config_hash};
    $h && $h ne $with_inc && $h ne $hash{'fleet-a'};
}, timeout => 30), 'a change in the included file alone shows a new hash');

$ng{'fleet-a'}->reload(conf => conf('fleet-a'));
ok(wait_until(sub {
    ($f) = fleet('fleet-b');
    ($f && $f->{instances}{'fleet-a'}{config_hash} // '') eq $hash{'fleet-a'};
}, timeout => 30), 'the same configuration again: the same hash again');

##########################################################################
# the fleet check at its boundaries: entries scored in the future never go
# stale, so the counts hold by construction

sub fake {
    my ($name, $value) = @_;
    is(resp_cmd($rp, 'SET', "health:instance:$name", $value), '+OK',
       "SET instance $name");
    is(resp_cmd($rp, 'ZADD', 'health:instances', 4000000000, $name), ':1',
       "ZADD $name");
}

sub wait_fleet_check {
    my ($n, $want, $total) = @_;
    my $c;
    ok(wait_until(sub {
        ($c) = $ng{$n}->check('fleet');
        $c && $c->{instances} == $total && $c->{status} eq $want;
    }, timeout => 30), "$n: fleet $want with $total instances")
        or diag explain $c;
    return $c;
}

fake('down-1', '{"status":"unhealthy","checks":{"db":"unhealthy","x":"healthy"}}');
$c = wait_fleet_check('fleet-a', 'degraded', 4);
is($c->{unhealthy}, 1, '1 of 4 unhealthy');
is($c->{bad_pct}, 25, 'is 25%: at warning=25, degraded (inclusive)');

($f) = fleet('fleet-a');
is_deeply($f->{instances}{'down-1'}{checks}, { db => 'unhealthy' },
          'checks: the non-healthy ones only');

fake('down-2', '{"status":"unhealthy"}');
$c = wait_fleet_check('fleet-a', 'degraded', 5);
is($c->{bad_pct}, 40, '2 of 5: 40%, still degraded');

fake('down-3', '{"status":"unhealthy"}');
$c = wait_fleet_check('fleet-a', 'unhealthy', 6);
is($c->{bad_pct}, 50, '3 of 6 is 50%: at critical=50, unhealthy (inclusive)');

my ($r2, $doc) = $ng{'fleet-a'}->get_json('/health');
is($doc->{status}, 'degraded',
   'required=off: an unhealthy fleet makes the instance degraded at most');
is($r2->{status}, 200, '... and the answer 200');

# required=on: the fleet's verdict is the instance's
$ng{'fleet-a'}->reload(conf => conf('fleet-a', extra => 'required=on'));
ok(wait_until(sub {
    ($r2, $doc) = $ng{'fleet-a'}->get_json('/health');
    $doc && $doc->{status} eq 'unhealthy' && $r2->{status} == 503;
}, timeout => 30), 'required=on: an unhealthy fleet makes the instance unhealthy, 503');
$ng{'fleet-a'}->reload(conf => conf('fleet-a'));
ok(wait_until(sub {
    ($r2, $doc) = $ng{'fleet-a'}->get_json('/health');
    $doc && $doc->{status} eq 'degraded';
}, timeout => 30), 'required=off again: degraded');

# a degraded instance does not count
fake('slow-1', '{"status":"degraded"}');
$c = wait_fleet_check('fleet-a', 'degraded', 7);
is($c->{unhealthy}, 3, 'a degraded instance is not counted as bad');

##########################################################################
# hostile entries

fake('notjson', 'this is not {json');
fake('huge', '{"status":"healthy","pad":"' . ('x' x (1024 * 1024)) . '"}');
fake('badutf8', qq({"status":"healthy","version":"\xff\xfe"}));
fake('types', '{"status":5,"version":[1],"uptime_s":"x","config_hash":"ZZZ",'
              . '"interval_s":"1","checks":[1]}');
fake('neg', '{"status":"healthy","uptime_s":-4,"config_hash":"0123456789abcdef0",'
            . '"checks":{"a":7,"b\nc":"degraded"}}');
is(resp_cmd($rp, 'RPUSH', 'health:instance:alist', 'x'), ':1', 'a list key');
is(resp_cmd($rp, 'ZADD', 'health:instances', 4000000000, 'alist'), ':1',
   'registered');
my $evil = 'a"b\\<script>alert(1)</script>';
fake($evil, '{"status":"degraded","version":"<b>1</b>",'
            . '"checks":{"x\"<i>":"unhealthy"}}');
fake("bad\xffname", '{"status":"healthy"}');
is(resp_cmd($rp, 'ZADD', 'health:instances', 4000000000, 'missing'), ':1',
   'a member without an instance key');

my $all = 3 + 13;
$c = wait_fleet_check('fleet-b', 'unhealthy', $all);

# each instance publishes its own fleet check when it has read the fleet
ok(wait_until(sub {
    ($f, $r) = fleet('fleet-b');
    3 == grep { ($f->{instances}{$_}{checks}{fleet} // '') eq 'unhealthy' }
                 keys %ng;
}, timeout => 30), 'every instance publishes its fleet check unhealthy');
is($r->{status}, 200, 'the answer stands');
for my $n (sort keys %ng) {
    # degraded by the fleet check alone, not counted among the bad; a
    # cache round that timed out on a loaded machine may be published
    # beside it for a round, so the fleet is read until it is not
    my $i;
    wait_until(sub {
        ($f) = fleet('fleet-b');
        $i = $f && $f->{instances}{$n};
        $i && join(',', sort keys %{ $i->{checks} || {} }) eq 'fleet';
    }, timeout => 30);
    is($i->{status}, 'degraded', "$n is in it, degraded");
    is_deeply($i->{checks}, { fleet => 'unhealthy' },
              "$n: for its fleet check alone");
}
is($f->{unhealthy}, 9, 'counted: 3 unhealthy and 6 unknown, 9 of 16');
is($f->{instances}{notjson}{status}, 'unknown', 'not JSON: unknown');
like($f->{instances}{notjson}{error}, qr/not a JSON object/, '... says why');
is($f->{instances}{huge}{status}, 'unknown', '1 MiB: unknown');
like($f->{instances}{huge}{error}, qr/larger than 8192 bytes/, '... says why');
is($f->{instances}{badutf8}{status}, 'unknown', 'bad UTF-8: unknown');
my $t = $f->{instances}{types};
is($t->{status}, 'unknown', 'wrong types: status unknown');
is($t->{version}, undef, 'version of a wrong type: null');
is($t->{uptime_s}, undef, 'uptime_s of a wrong type: null');
is($t->{config_hash}, undef, 'config_hash not hex: null');
is_deeply($t->{checks}, {}, 'checks of a wrong type: none');
my $neg = $f->{instances}{neg};
is($neg->{uptime_s}, undef, 'a negative uptime: null');
is($neg->{config_hash}, undef, 'a hash of 17 digits: null');
is_deeply($neg->{checks}, { a => 'unknown', 'b c' => 'degraded' },
          'a check of a wrong type is unknown, a name is one line');
like($f->{instances}{alist}{error}, qr/not a string/, 'a list key: not a string');
like($f->{instances}{missing}{error}, qr/missing/, 'no instance key: missing');
is($f->{instances}{$evil}{version}, '<b>1</b>', 'a hostile name is a key as it is');
is_deeply($f->{instances}{$evil}{checks}, { 'x"<i>' => 'unhealthy' },
          'its checks as they are (escaped by JSON)');
ok(exists $f->{instances}{"bad\xef\xbf\xbdname"}, 'bad UTF-8 in a name: U+FFFD');

# the cache check of the reader was not hurt by what it read
($c) = $ng{'fleet-b'}->check('cache');
is($c->{status}, 'healthy', 'the cache check is still healthy');

# Prometheus
my $p = $ng{'fleet-b'}->get('/health?scope=fleet&format=prometheus');
is($p->{status}, 200, 'Prometheus: 200');
my $text = $p->{content};
my $dir = $ng{'fleet-b'}->dir;
spew("$dir/fleet.txt", $text);
my ($rc, $out) = run_cmd('sh', '-c', "promtool check metrics < $dir/fleet.txt");
is($rc, 0, 'promtool check metrics passes') or diag $out;
like($text, qr/^nginx_health_status\{instance="fleet-a"\} 1$/m, 'an instance');
like($text, qr/^nginx_health_status\{instance="a\\"b\\\\<script>alert\(1\)<\/script>"\} 1$/m,
     'a hostile name escaped');
like($text, qr/^nginx_health_check_status\{instance="down-1",check="db"\} 2$/m,
     'a non-healthy check');
like($text, qr/^nginx_health_fleet_instance_stale\{instance="fleet-a"\} 0$/m,
     'stale');
like($text, qr/^nginx_health_fleet_instance_last_seen_seconds\{instance="fleet-a"\} \d+\.\d{3}$/m,
     'last seen');

# the dashboard: a fleet section, every name as text
SKIP: {
    require HealthTest::Chromium;
    my $bin = HealthTest::Chromium::bin();
    skip 'no Chromium', 6 unless -x $bin;
    my $dom = HealthTest::Chromium::run('--virtual-time-budget=4000',
        '--dump-dom', $ng{'fleet-b'}->url('/health?format=html'));
    like($dom, qr/<section class="panel" aria-labelledby="h-fleet" id="fleet-panel">/,
         'dashboard: the fleet section is shown');
    like($dom, qr/<tr class="s-\w+" data-instance="fleet-a">/,
         'dashboard: a row per instance');
    ok(index($dom, '<code>a"b\&lt;script&gt;alert(1)&lt;/script&gt;</code>') >= 0,
       'dashboard: a hostile name is text');
    unlike($dom, qr/<script>alert/, 'dashboard: no markup from a name');
    like($dom, qr/<td class="drift" title="differs from the most common configuration">/,
         'dashboard: configuration drift is marked');
    like($dom, qr/db unhealthy/, 'dashboard: the non-healthy checks of an instance');
}

# clean the fakes up, for what follows
for my $m (qw(down-1 down-2 down-3 slow-1 notjson huge badutf8 types neg
               alist missing), $evil, "bad\xffname") {
    is(resp_cmd($rp, 'ZREM', 'health:instances', $m), ':1', "ZREM $m");
}

##########################################################################
# stale, then gone

# the times are judged when the answer is served, against the clock this
# machine shares with nginx: "not before" holds by construction
sub unix_of {
    my ($iso) = @_;
    my ($y, $mo, $d, $h, $mi, $s) =
        $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z$/ or return;
    require Time::Local;
    return Time::Local::timegm(0, $mi, $h, $d, $mo - 1, $y) + $s;
}

$ng{'fleet-c'}->stop;
my $seen;
ok(wait_until(sub {
    ($f) = fleet('fleet-a');
    my $i = $f && $f->{instances}{'fleet-c'};
    $seen = $i && unix_of($i->{last_seen});
    $i && $i->{stale};
}, timeout => 30), 'a stopped instance becomes stale');
cmp_ok(time - $seen, '>=', 5, 'not before 3 intervals and 5 s');
is($f->{stale}, 1, 'counted as stale');
is($f->{instances}{'fleet-a'}{stale}, JSON::PP::false, 'the others are not');
$c = wait_fleet_check('fleet-a', 'degraded', 3);
is($c->{stale}, 1, 'the fleet check: 1 stale of 3, 33%, degraded');

ok(wait_until(sub {
    ($f) = fleet('fleet-a');
    $f && !exists $f->{instances}{'fleet-c'};
}, timeout => 30), 'then gone');
cmp_ok(time - $seen, '>=', 8, 'not before fleet_gone=8s');
ok(wait_until(sub {
    $rd->cli('ZSCORE', 'health:instances', 'fleet-c') eq '';
}, timeout => 10), 'and removed from the registry');
is(scalar keys %{ $f->{instances} }, 2, 'two instances left');

##########################################################################
# answers without a fleet

my $plain = HealthTest::Nginx->new(conf => <<"EOF")->start;
    health_redis 127.0.0.1:$rp interval=1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
# a fleet never read: unknown
my $closed = free_port();
my $unread = HealthTest::Nginx->new(conf => <<"EOF")->start;
    health_redis 127.0.0.1:$closed interval=1s fleet=on;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
($c) = $unread->check('fleet');
is($c->{status}, 'unknown', 'a fleet never read is unknown');
is($c->{reason}, 'not read yet', '... not read yet');
($f) = do { my ($r, $d) = $unread->get_json('/health?scope=fleet'); ($d && $d->{fleet}) };
is($f->{status}, 'unknown', '?scope=fleet: unknown');
is($f->{read_at}, undef, 'read_at null');

# a short Prometheus answer (under nginx's postpone_output of 1460 bytes)
# is sent, not held back until the keepalive timeout
{
    my $t0 = time;
    my $pr = $unread->get('/health?scope=fleet&format=prometheus');
    is($pr->{status}, 200, 'a fleet never read, Prometheus: 200');
    ok(length($pr->{content}) < 1460, 'a short answer (' . length($pr->{content}) . ' bytes)');
    like($pr->{content}, qr/^nginx_health_fleet_status 3$/m, 'nginx_health_fleet_status 3 (unknown)');
    ok(time - $t0 < 15, 'at once, not at the keepalive timeout');
}

$r = $plain->get('/health?scope=fleet');
is($r->{status}, 400, 'no fleet=on: 400');
like($r->{content}, qr/fleet=on/, '... saying what it needs');
is(($plain->check('fleet'))[0], undef, 'and no fleet check');
my $chosen = HealthTest::Nginx->new(conf => <<"EOF")->start;
    health_redis 127.0.0.1:$rp interval=1s fleet=on;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status json check=cache; }
    }
EOF
$r = $chosen->get('/health?scope=fleet');
is($r->{status}, 403, 'a location with check=: 403, the fleet is not shown');
$r = $ng{'fleet-a'}->get('/health?scope=nothing');
is($r->{status}, 400, 'an unknown scope: 400');
$r = $ng{'fleet-a'}->get('/health?scope=fleet&format=lb');
is($r->{status}, 400, 'scope=fleet in lb: 400');

done_testing;
