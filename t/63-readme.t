#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Every configuration and command in README.md is run, so the README cannot
# drift from the software.  The fenced blocks are taken from README.md:
#
#   ```nginx  a complete configuration (it has `events`) passes nginx -t as
#             printed, but for the substitutions below; a fragment needs a
#             marker saying what it is wrapped in.
#   ```sql    runs in a real cluster with the extension, as the role the
#             marker names, in the order of the README.
#   ```sh     runs (bash -e) when marked `sh`, after the substitutions below.
#   ```json   is valid JSON (a block of members, "key": value, as the inside
#             of an object), unless marked an excerpt.
#
# A marker is an HTML comment on the line before the fence (blank lines
# between are allowed), invisible on GitHub:
#
#   <!-- test: http -->          nginx: inside http {}
#   <!-- test: server -->        nginx: inside http { server {} }
#   <!-- test: upstream -->      nginx: inside http { upstream {} }
#   <!-- test: main -->          nginx: before events {} and http {} (load_module)
#   <!-- test: start -->         nginx: complete; also started, for the sh blocks
#   <!-- test: http start -->    nginx: a fragment, also started with a status
#                                location; every check of it must be
#                                probed, healthy or, for a database, carry
#                                the report (the recipe's role, pg_hba.conf
#                                line and password file, read by www-data)
#   <!-- test: sql ROLE [DB] --> sql: run as ROLE (postgres, monitor) in DB
#                                (default app: the test's cluster has a
#                                database app, as the reader's has)
#   <!-- test: pg_hba -->        (a block of no language) its lines go first
#                                in the cluster's pg_hba.conf, which is
#                                reloaded: so the recipe's line is the one
#                                that lets the sh blocks' psql in
#   <!-- test: sh -->            sh: run
#   <!-- test: excerpt -->       json: a part of a document, not parsed
#   <!-- test: skip (REASON) --> any: not run, for REASON (apt, make install,
#                                systemctl, a file of the real system)
#
# An nginx, sh or sql block without a marker fails (but a complete nginx
# configuration), so a new block cannot go untested by accident; so does a
# marker that stands before no block.
#
# Substitutions (the only changes made to a block before it runs):
#   load_module modules/ngx_http_health_module.so  -> the module just built
#   listen [ADDR:]PORT                  -> listen 127.0.0.1:FREE (the same
#                                          PORT always maps to the same FREE)
#   127.0.0.1:PORT / localhost:PORT / localhost/ in URLs (sh)
#                                       -> 127.0.0.1:FREE of that PORT (80
#                                          when none)
#   /var/log/nginx/, /etc/nginx/*.pgpass, /etc/nginx/mime.types paths
#                                       -> files in the test's directory
#   pid, error_log and the temp paths   -> in the test's directory (added)
#   user                                -> www-data when root (Debian's
#                                          worker user: the password file is
#                                          read as nginx reads it there)
#   host=192.0.2.20 or hostaddr= (the database) -> the same =127.0.0.1 port=<the cluster>
#   192.0.2.20:5432: (a password file)  -> 127.0.0.1:<the cluster's port>:
#   192.0.2.10/32 (the nginx host, pg_hba) -> 127.0.0.1/32
#   psql (sh)                           -> the cluster in PGHOST, PGPORT
#   -o www-data -g www-data, runuser -u www-data -- (sh)
#                                       -> dropped when the test is not root
# and a fragment gets what it names but does not define (another block of
# the README does): a location for each zone of zone=NAME, an upstream for
# each proxy_pass http://NAME.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;

use HealthTest qw(:all);

my $ROOT = repo_root();
my $README = $ENV{README} // "$ROOT/README.md";
my @lines = split /\n/, slurp($README) // die "$README: $!\n";

# the blocks, each with its language, line and marker
my (@blocks, $pending, $pending_line, $in);
for my $i (0 .. $#lines) {
    my $l = $lines[$i];
    if ($in) {
        if ($l =~ /^```\s*$/) { push @blocks, $in; $in = undef }
        else { $in->{text} .= "$l\n" }
        next;
    }
    if ($l =~ /^```\s*(\S*)\s*$/) {
        $in = { lang => $1, line => $i + 1, text => '', marker => $pending };
        $pending = undef;
        next;
    }
    if ($l =~ /^<!-- test: (.*?) -->\s*$/) {
        fail("README.md:$pending_line: a marker before no block") if defined $pending;
        ($pending, $pending_line) = ($1, $i + 1);
        next;
    }
    if ($l =~ /\S/ && defined $pending) {
        fail("README.md:$pending_line: a marker before no block");
        $pending = undef;
    }
}
ok(!$in, 'every fence is closed');
ok(scalar(grep { $_->{lang} eq 'nginx' } @blocks) >= 10, 'README has nginx blocks');
# a newcomer's first configuration is a whole nginx.conf, started for real
my ($first) = grep { $_->{lang} eq 'nginx' && $_->{text} =~ /^\s*events\b/m } @blocks;
ok($first && ($first->{marker} // '') eq 'start',
   'README has a complete configuration (events {}), started by this test');

###########################################################################
# substitutions

my $dir = tmp_dir('readme');
mkdir "$dir/logs";
chmod 0777, "$dir/logs";
my %port;
sub port_for { my ($p) = @_; $port{$p} //= free_port() }

my $pg;            # started at the first block that needs it
sub pg {
    return $pg if $pg;
    $pg = HealthTest::Pg->start;
    $pg->psql('CREATE DATABASE app');
    return $pg;
}

sub localise_nginx {
    my ($conf) = @_;
    my $module = HealthTest::Nginx::module_path();
    $conf =~ s{^(\s*)load_module\s+modules/ngx_http_health_module\.so;}{$1load_module $module;}m;
    $conf =~ s{\blisten\s+(?:[\w.\[\]:]+:)?(\d+)\b}{'listen 127.0.0.1:' . port_for($1)}ge;
    $conf =~ s{/var/log/nginx/}{$dir/logs/}g;
    $conf =~ s{/etc/nginx/([\w.-]+\.pgpass)}{$dir/$1}g;
    $conf =~ s{\b(host|hostaddr)=192\.0\.2\.20}{"$1=127.0.0.1 port=" . pg()->port}ge;
    my $user = HealthTest::is_root() ? "user www-data;\n" : '';
    $conf =~ s{^user\s+[^;]+;\n}{}m;
    $conf = "${user}pid $dir/nginx.pid;\nerror_log $dir/logs/error.log info;\n$conf";
    $conf =~ s#^http\s*\{#http {
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path       $dir/proxy_temp;
    fastcgi_temp_path     $dir/fastcgi_temp;
    uwsgi_temp_path       $dir/uwsgi_temp;
    scgi_temp_path        $dir/scgi_temp;#m;
    return $conf;
}

sub localise_sh {
    my ($sh) = @_;
    $sh =~ s{\b(?:127\.0\.0\.1|localhost)(?::(\d+))?(?=/)}{'127.0.0.1:' . port_for($1 // 80)}ge;
    $sh =~ s{/etc/nginx/([\w.-]+\.pgpass)}{$dir/$1}g;
    # not root: no other user to be (the file stays mode 600, ours)
    unless (HealthTest::is_root()) {
        $sh =~ s{ -o www-data -g www-data}{}g;
        $sh =~ s{runuser -u www-data -- }{}g;
    }
    $sh =~ s{\b(host|hostaddr)=192\.0\.2\.20}{"$1=127.0.0.1 port=" . pg()->port}ge;
    $sh =~ s{192\.0\.2\.20:5432:}{'127.0.0.1:' . pg()->port . ':'}ge;
    return $sh;
}

my $n = 0;
sub nginx_t {
    my ($conf) = @_;
    $n++;
    my $file = "$dir/nginx-$n.conf";
    spew($file, $conf);
    return HealthTest::Nginx->run_nginx('-t', '-p', $dir, '-c', $file,
                                        '-e', "$dir/logs/error.log");
}

sub wrap {
    my ($kind, $text) = @_;
    my $p = free_port();
    return "$text\nevents {}\nhttp {}\n" if $kind eq 'main';
    my $inner = $kind eq 'http' ? $text
        : $kind eq 'server' ? "server {\n    listen 127.0.0.1:$p;\n$text}\n"
        : "upstream readme {\n    zone readme 64k;\n    server 127.0.0.1:$p;\n$text}\n";
    # what the fragment names but another part of the README defines: the
    # zones of zone=NAME, the groups of proxy_pass http://NAME
    my (%zone, %group);
    $zone{$1} = 1 while $text =~ /\bzone=([\w.-]+)/g;
    delete $zone{$1} while $text =~ /\bhealth_zone\s+([\w.-]+)/g;
    $group{$1} = 1 while $text =~ m{proxy_pass\s+https?://([\w.-]+)}g;
    delete $group{$1} while $text =~ /\bupstream\s+([\w.-]+)/g;
    $inner .= "upstream $_ { server 127.0.0.1:$p; }\n" for sort keys %group;
    $inner .= "server {\n    listen 127.0.0.1:" . free_port() . ";\n"
        . join('', map { "    location /$_/ { health_zone $_; }\n" } sort keys %zone)
        . "}\n" if %zone;
    return "load_module modules/ngx_http_health_module.so;\n"
         . "events {}\nhttp {\n$inner}\n";
}

###########################################################################
# the blocks, in the README's order

my @started;       # nginx instances from `start` blocks, for the sh blocks
for my $b (@blocks) {
    my ($lang, $line, $m, $text) = @$b{qw(lang line marker text)};
    my $where = "README.md:$line ($lang)";
    $m //= '';

    if ($m =~ /^skip\b/) {
        like($m, qr/^skip \(.+\)$/, "$where: skipped, with a reason");
        next;
    }

    if ($lang eq 'nginx') {
        my $complete = $text =~ /^\s*events\b/m;
        my ($kind, $start) = $m =~ /^(start|main|http|server|upstream)( start)?$/;
        $kind //= '';
        $start = 1 if $kind eq 'start';
        if (!$complete && (!$kind || $kind eq 'start')) {
            fail("$where: a fragment without a marker (main, http, server, upstream or skip)");
            next;
        }
        my $ng = $start ? HealthTest::Nginx->new : undef;
        # a fragment that is started gets a status location to read it by
        $port{$ng->port} = $ng->port if $ng && !$complete;   # kept as it is
        my $fixture = $ng && !$complete
            ? "server {\n    listen 127.0.0.1:" . $ng->port . ";\n"
              . "    location = /health { health_status; }\n}\n"
            : '';
        my $conf = localise_nginx($complete ? $text : wrap($kind, $text . $fixture));
        my ($rc, $out) = nginx_t($conf);
        is($rc, 0, "$where: nginx -t") or diag "$out\n$conf";
        next unless $ng && $rc == 0;
        my $ngdir = $ng->dir;
        $conf =~ s{^pid [^;]+;}{pid $ngdir/nginx.pid;}m;
        $conf =~ s{^error_log [^;]+;}{error_log $ngdir/logs/error.log info;}m;
        spew("$ngdir/nginx.conf", $conf);
        ok(eval { $ng->start; 1 }, "$where: nginx starts") or diag $@;
        push @started, $ng;
        next if $complete;
        # every check of the fragment is probed and answers healthy: so the
        # recipe's role, pg_hba.conf line and password file work as the
        # worker reads them
        my $doc = $ng->wait_doc(sub {
            my $c = $_[0]{checks} // {};
            %$c && !grep { ($_->{reason} // '') =~ /not probed yet/ } values %$c;
        });
        for my $name (sort keys %{ $doc->{checks} // {} }) {
            my $c = $doc->{checks}{$name};
            if ($c->{report}) {
                # the database's own verdict is the machine's (its disk):
                # what is at stake is that the report arrived
                is($c->{report}{database}, 'app',
                   "$where: check $name has the report of database app");
                is($c->{status}, $c->{report}{status},
                   "$where: check $name is the report's status") or diag explain $c;
            } else {
                is($c->{status}, 'healthy', "$where: check $name is healthy")
                    or diag explain $c;
            }
        }
        ok($doc && %{ $doc->{checks} // {} }, "$where: checks probed") or diag explain $doc;
    } elsif ($lang eq 'sql') {
        my ($role, $db) = $m =~ /^sql (\w+)(?: (\w+))?$/;
        if (!$role) {
            fail("$where: an sql block without a marker (sql ROLE or skip)");
            next;
        }
        # after the recipe, monitor logs in with its password file
        local $ENV{PGPASSFILE} = "$dir/health.pgpass";
        my ($rc, $out) = pg()->psql($text, user => $role, db => $db // 'app',
                                    allow_error => 1);
        is($rc, 0, "$where: runs as $role") or diag $out;
    } elsif ($m eq 'pg_hba') {
        my $hba = pg()->{data} . '/pg_hba.conf';
        (my $lines = $text) =~ s{192\.0\.2\.10/32}{127.0.0.1/32}g;
        spew($hba, $lines . slurp($hba));
        my ($rc, $out) = pg()->psql('SELECT pg_reload_conf()', allow_error => 1);
        is($rc, 0, "$where: pg_hba.conf line taken") or diag $out;
        # the superuser still gets in (trust), monitor now needs its password
        ($rc, $out) = pg()->psql('SELECT 1', user => 'monitor', db => 'app',
                                allow_error => 1);
        isnt($rc, 0, "$where: monitor needs its password now");
    } elsif ($lang eq 'sh') {
        if ($m ne 'sh') {
            fail("$where: an sh block without a marker (sh or skip)");
            next;
        }
        my $sh = localise_sh($text);
        local $ENV{PGPORT} = pg()->port;
        # not the address the blocks name: Debian's psql wrapper sets PGHOST
        # too, and libpq looks a password file up under the host it uses,
        # so a conninfo with hostaddr= and no host= would miss the file
        local $ENV{PGHOST} = 'localhost';
        local $ENV{PATH} = HealthTest::Pg::pgbin() . ":$ENV{PATH}";
        my ($rc, $out) = run_cmd('bash', '-e', '-o', 'pipefail', '-c', $sh);
        is($rc, 0, "$where: runs") or diag "$out\n$sh";
        note $out;
    } elsif ($lang eq 'json') {
        next if $m eq 'excerpt';
        # a block of members ("key": value, ...) is a part of an object
        my $doc = $text =~ /^\s*"/ ? "{$text}" : $text;
        ok(eval { JSON::PP->new->decode($doc); 1 }, "$where: valid JSON") or diag $@;
    }
}

$_->stop for @started;
# not left to global destruction, which may remove its directory first
# and leave the server running
$pg->stop if $pg;
done_testing;
