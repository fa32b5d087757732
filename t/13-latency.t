#!/usr/bin/perl

# A backend with a known delay: the percentiles nginx reports are within
# the histogram's stated error (3.125 % of a value observed at that rank),
# and the Prometheus buckets at the configured bounds are exact.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

use HealthTest qw(:all);

my $REL = 1 / 32;           # HEALTH_HIST_REL_ERROR
my $OVERHEAD = HealthTest::Nginx::asan() ? 25 : 10;     # ms, proxying

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<'EOF2');
    health_zone off;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /slow/ {
            health_zone slow;
            proxy_pass http://127.0.0.1:%%PORT_1%%/delay/;
        }

        location /health  { health_status; }
        location /metrics { health_status prometheus; }
    }
EOF2

# the backend: answers /delay/N after N milliseconds, one at a time
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $ng->port(1),
                                   Listen => 16, ReuseAddr => 1)
    or die "backend: $!";
my $backend = fork // die "fork: $!";
if ($backend == 0) {
    while (my $c = $listen->accept) {
        my $line = <$c> // '';
        while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
        my ($ms) = $line =~ m{/delay/(\d+)};
        sleep(($ms // 0) / 1000);
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                 . "Connection: close\r\n\r\nok\n";
        close $c;
    }
    _exit(0);
}
close $listen;

$ng->start;

my @plan = ((30) x 40, (150) x 10);
my %took;
for my $ms (@plan) {
    my $t0 = time;
    my $r = $ng->get("/slow/$ms");
    die "backend failed: $r->{status}" unless $r->{status} == 200;
    push @{ $took{$ms} }, (time - $t0) * 1000;
}

my $doc = $ng->get_json('/health');
my $lat = $doc->{zones}{slow}{latency_ms};
my $z = $doc->{zones}{slow};
is($z->{requests}, 50, '50 requests');

sub within {
    my ($got, $delay, $name) = @_;
    my $lo = $delay * (1 - $REL);
    my $hi = ($delay + $OVERHEAD) * (1 + $REL);
    ok($got >= $lo && $got <= $hi,
       sprintf('%s %.3f ms within [%.2f, %.2f]', $name, $got, $lo, $hi));
}

within($lat->{p50}, 30, 'p50 of 40 x 30 ms + 10 x 150 ms');
within($lat->{p95}, 150, 'p95');
within($lat->{p99}, 150, 'p99');
within($lat->{max}, 150, 'max');
within($doc->{checks}{'zone:slow:latency_p95'}{value}, 150,
       'latency_p95 check value');

# the client saw at least what nginx measured
my ($slowest) = sort { $b <=> $a } @{ $took{150} };
cmp_ok($lat->{max}, '<=', $slowest + 1, 'max is not above what the client saw');

my $text = $ng->get('/metrics')->{content};
my %le = $text =~ /^nginx_health_request_duration_seconds_bucket\{zone="slow",le="([^"]+)"\} (\d+)$/mg;
is_deeply([@le{qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 +Inf)}],
          [0, 0, 0, 40, 40, 50, 50, 50],
          'exact counts at the Prometheus bounds');
my ($sum) = $text =~ /^nginx_health_request_duration_seconds_sum\{zone="slow"\} ([\d.]+)$/m;
my $want = (40 * 30 + 10 * 150) / 1000;
ok($sum >= $want && $sum <= $want + 50 * $OVERHEAD / 1000,
   "_sum $sum s is the total request time (>= $want s)");

$ng->stop;
kill 'TERM', $backend;
waitpid($backend, 0);

is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
