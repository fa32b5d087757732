#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# A zone counts client requests, once each.  With "log_subrequest on" the
# log phase also runs for every SSI "include virtual": 1,000 pages with two
# includes each are 1,000 requests in their zone, not 3,000.  An internal
# redirect (rewrite ... last, try_files) and an error_page are still one
# request, counted where it was answered.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;

use HealthTest qw(:all);

my $N = 1000;

my $ng = HealthTest::Nginx->new(conf => <<'EOF2');
    health_zone site;
    log_subrequest on;
    log_format uris '$uri $status';

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/logs/access.log uris;

        location = /page.html { ssi on; health_zone pages; }
        location /frag        { health_zone pages; return 200 "frag"; }

        location /old         { rewrite ^ /new last; }
        location /new         { health_zone moved; return 200 "new\n"; }
        location /tried       { try_files /nothing @named; }
        location @named       { health_zone moved; return 200 "named\n"; }

        location /broken      { health_zone errors; error_page 404 /oops;
                                return 404; }
        location /oops        { health_zone oops; return 200 "oops\n"; }

        location /health      { health_zone off; health_status; }
    }
EOF2

spew($ng->dir . '/html/page.html',
     "<p><!--# include virtual=\"/frag/a\" --> and "
     . "<!--# include virtual=\"/frag/b\" --></p>\n");

$ng->start;

my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
my $url = $ng->url('/page.html');
my $ok = 0;

for (1 .. $N) {
    my $r = $ua->get($url);
    $ok++ if $r->{status} == 200 && $r->{content} eq "<p>frag and frag</p>\n";
}

is($ok, $N, "$N pages, each with both includes");

$ua->get($ng->url('/old')) for 1 .. 7;
$ua->get($ng->url('/tried')) for 1 .. 5;
$ua->get($ng->url('/broken')) for 1 .. 3;

# the access log, which logs subrequests too, shows what happened
my $log = slurp($ng->dir . '/logs/access.log') // '';
my @frag = $log =~ m{^/frag/[ab] 200$}mg;
is(scalar @frag, 2 * $N, 'the subrequests ran and were logged');

my $doc = $ng->get_json('/health');
is($doc->{zones}{pages}{requests}, $N,
   'pages: one count per client request, none per include');
is($doc->{zones}{pages}{responses}{'2xx'}, $N, 'pages: all 2xx');
is($doc->{zones}{pages}{window}{requests}, $N, 'pages: window counts once');
is($doc->{zones}{moved}{requests}, 12,
   'a rewrite and a try_files fallback count once, where they answered');
is($doc->{zones}{site}{requests}, 0,
   'and not again in the location they left');
is($doc->{zones}{oops}{requests}, 3, 'error_page: counted once');
is($doc->{zones}{oops}{responses}{'4xx'}, 3,
   'with the status the client got');
is($doc->{zones}{errors}{requests}, 0, 'not in the location that failed');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alert or emerg in error.log');

done_testing;
