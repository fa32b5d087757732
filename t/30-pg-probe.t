#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_postgres: the database check polls SELECT health_report() through
# libpq's asynchronous API in one worker at a time (a lease), and every
# worker serves the result from shared memory.  A stopped, a hung, an
# extension-less and a lying database each give a clear reason; requests
# to other locations never wait on the database; required=on lets a down
# database make the instance unhealthy; the password is shown nowhere; and
# 200 reconnections leave the worker's memory and descriptors flat.
#
# The probe pins search_path to pg_catalog and calls the extension's
# function by its schema, so a database owner's look-alike function is
# never called (issue 10 point 1); the status carries a summary of the
# report unless report=full (issue 9 point 2); text the server sends is made
# valid UTF-8 before it is kept (issue 9 point 1); libpq never takes the
# GSS path unless asked (issue 9 point 10).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);

use HealthTest qw(:all);

my $PASSWORD = 'Sw0rdf1sh-not-shown';

##########################################################################
# configuration errors

sub conf_error { HealthTest::Nginx->conf_error(@_) }

{
    my ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1 '
        . 'port=5432" interval=200ms timeout=500ms name=db1 required=on;');
    is($rc, 0, 'nginx -t: a valid health_postgres') or diag $out;

    ($rc, $out) = conf_error('health_postgres "host=127.0.0.1";'
        . ' health_postgres "host=127.0.0.1 port=5433";');
    isnt($rc, 0, 'nginx -t: two checks named "database" fail');
    like($out, qr/duplicate check name "database" in "health_postgres"/,
         'the duplicate name is named');

    ($rc, $out) = conf_error('health_postgres "host=db.example.com '
        . "password=$PASSWORD\";");
    isnt($rc, 0, 'nginx -t: a host name fails');
    like($out, qr/invalid value "host=db\.example\.com" in "health_postgres".*synchronously.*: give an IP address \(host=ADDRESS or hostaddr=ADDRESS\) or a socket directory/,
         'the host name is refused with the reason and what to give');
    unlike($out, qr/\Q$PASSWORD\E/, 'the error does not show the password');

    ($rc, $out) = conf_error("health_postgres \"hostaddr=127.0.0.1 password=$PASSWORD\" interval=fast;");
    like($out, qr/invalid value "interval=fast" in "health_postgres"/,
         'nginx -t: a bad interval is named');

    ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1" timeout=5ms;');
    like($out, qr/invalid value "timeout=5ms" in "health_postgres"/,
         'nginx -t: a timeout under 10ms is refused');

    ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1" required=maybe;');
    like($out, qr/invalid value "required=maybe" in "health_postgres"/,
         'nginx -t: a bad required is named');

    ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1" report=all;');
    like($out, qr/invalid value "report=all" in "health_postgres" directive, it must be "report=summary", "report=full" or "report=off"/,
         'nginx -t: a bad report= is named with the choices');

    ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1" report=full;'
        . ' health_postgres "hostaddr=127.0.0.1" name=b report=off;'
        . ' health_postgres "hostaddr=127.0.0.1" name=c report=summary;');
    is($rc, 0, 'nginx -t: report=full, off and summary') or diag $out;

    ($rc, $out) = conf_error('health_postgres "hostaddr=127.0.0.1" colour=blue;');
    like($out, qr/invalid parameter "colour=blue" in "health_postgres"/,
         'nginx -t: an unknown parameter is named');

    ($rc, $out) = conf_error("health_postgres \"hostaddr=127.0.0.1 bogus=1 password=$PASSWORD\";");
    like($out, qr/invalid connection string in "health_postgres" directive: .*bogus/,
         'nginx -t: a bad connection string is refused with libpq\'s reason');
    unlike($out, qr/\Q$PASSWORD\E/, 'that error does not show the password');
}

##########################################################################
# the databases

my $pg = HealthTest::Pg->start;
$pg->psql('CREATE EXTENSION pg_health');
$pg->psql("CREATE ROLE prober LOGIN PASSWORD '$PASSWORD' IN ROLE pg_monitor");
$pg->psql('CREATE DATABASE noext');

# the extension's own function, replaced by a superuser: what a broken or
# hostile extension could answer
sub fake_report {
    my ($db, $body) = @_;
    $pg->psql("CREATE DATABASE $db");
    $pg->psql('CREATE EXTENSION pg_health', db => $db);
    $pg->psql("CREATE OR REPLACE FUNCTION public.health_report() RETURNS jsonb
               AS \$\$ $body \$\$ LANGUAGE plpgsql", db => $db);
}

fake_report('garbage', q{BEGIN RETURN '"garbage"'::jsonb; END});
fake_report('big', q{BEGIN RETURN jsonb_build_object('status', 'degraded',
                   'checks', jsonb_build_object('huge', jsonb_build_object('status', 'degraded')),
                   'pad', repeat('x', 70000)); END});

# issue 9 point 1: text cut inside a character
fake_report('quote', q{BEGIN RETURN to_jsonb(repeat('é', 100)); END});
fake_report('raise', q{BEGIN RAISE EXCEPTION '%', repeat('é', 400); END});

# issue 9 point 2: an extension that sends query text
my $SECRET = 'card=4111111111111111';
fake_report('leaky', qq{BEGIN RETURN jsonb_build_object('status', 'degraded',
    'database', '$SECRET',
    'checks', jsonb_build_object(
        'slow_queries', jsonb_build_object('status', 'degraded', 'value', 2,
            'unit', 'sessions', 'warning', 1, 'critical', 5, 'count', 2,
            'reason', 'SELECT $SECRET',
            'sessions', jsonb_build_array(jsonb_build_object(
                'usename', 'alice', 'query', 'SELECT $SECRET'))),
        'SELECT $SECRET', jsonb_build_object('status', 'healthy'),
        'connections', jsonb_build_object('status', 'healthy',
            'value', 3.5, 'unit', '%', 'warning', 80, 'critical', 95,
            'used', 4, 'detail', '$SECRET'))); END});

# issue 10 point 1: the owner of a database plants monitor.health_report()
# for the probe role "monitor", whose search_path starts with "$user"; the
# real report is unhealthy (any use of a connection slot is critical)
$pg->psql('CREATE ROLE dbowner LOGIN');
$pg->psql("CREATE ROLE monitor LOGIN PASSWORD '$PASSWORD' IN ROLE pg_monitor");
$pg->psql('CREATE DATABASE spoof OWNER dbowner');
$pg->psql('CREATE EXTENSION pg_health', db => 'spoof');
$pg->psql('ALTER DATABASE spoof SET pg_health.connections_warning = 0');
$pg->psql('ALTER DATABASE spoof SET pg_health.connections_critical = 0');
$pg->psql(q{SET ROLE dbowner;
            CREATE SCHEMA monitor;
            GRANT USAGE ON SCHEMA monitor TO PUBLIC;
            CREATE FUNCTION monitor.health_report() RETURNS jsonb
            AS $$ SELECT '{"status": "healthy", "checks": {"planted": {"status": "healthy"}}}'::jsonb $$
            LANGUAGE sql}, db => 'spoof');
# stop -m immediate loses what synchronous_commit=off has not flushed
$pg->psql('CHECKPOINT');

my $port = $pg->port;
my $ci = "hostaddr=127.0.0.1 port=$port user=prober password=$PASSWORD";
my $mci = "hostaddr=127.0.0.1 port=$port user=monitor password=$PASSWORD";

# the attack works against an unqualified call
is($pg->psql('SELECT health_report()->>\'status\'', db => 'spoof', user => 'monitor'),
   'healthy', 'spoof: the planted function answers an unqualified call');
is($pg->psql('SELECT public.health_report()->>\'status\'', db => 'spoof', user => 'monitor'),
   'unhealthy', 'spoof: the real report is unhealthy');

# two workers, three databases, required=off; the owner worker is killed
# below, which the master reports
my $ng = HealthTest::Nginx->new(workers => 2,
    allow_log => qr/worker process \d+ exited on signal 9/, conf => <<"EOF");
    health_service pgtest;
    health_postgres "$ci dbname=postgres" interval=200ms timeout=500ms;
    health_postgres "$ci dbname=noext" name=noext interval=200ms timeout=500ms;
    health_postgres "$ci dbname=garbage" name=garbage interval=200ms timeout=500ms;
    health_postgres "$ci dbname=big" name=big interval=200ms timeout=500ms
                    report=full;
    health_postgres "$ci dbname=quote" name=quote interval=200ms timeout=500ms;
    health_postgres "$ci dbname=raise" name=raise interval=200ms timeout=500ms;
    health_postgres "$ci dbname=leaky" name=leaky interval=200ms timeout=500ms;
    health_postgres "$ci dbname=leaky" name=leaky_full interval=200ms
                    timeout=500ms report=full;
    health_postgres "$ci dbname=leaky" name=leaky_off interval=200ms
                    timeout=500ms report=off;
    health_postgres "$mci dbname=spoof" name=spoof interval=200ms timeout=500ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF
$ng->start;

# one worker, required=on, a short interval for the reconnection cycles
my $ng2 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_service pgreq;
    health_postgres "host=127.0.0.1 port=$port dbname=postgres user=postgres"
                    interval=50ms timeout=500ms required=on;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /fast   { return 200 "fast\\n"; }
    }
EOF
$ng2->start;

sub check {
    my ($n, $name) = @_;
    return $n->check($name // 'database');
}

sub wait_status {
    my ($n, $want, %o) = @_;
    return $n->wait_check($o{name} // 'database', $want, %o);
}

ok(defined wait_status($ng, 'healthy'), 'the database check becomes healthy');
ok(defined wait_status($ng2, 'healthy'), 'and on the required=on instance');

my ($c, $r, $doc) = check($ng);
is($r->{status}, 200, 'status answers 200');
is($c->{required}, JSON::PP::false, 'required is false by default');
ok($c->{response_time_ms} > 0 && $c->{response_time_ms} < 500,
   "response_time_ms is measured ($c->{response_time_ms})");
is(ref $c->{report}, 'HASH', 'the check carries the report');
is($c->{report}{database}, 'postgres', 'the report is health_report()\'s');
is(ref $c->{report}{checks}{connections}, 'HASH', 'a summary of each check');
ok(defined $c->{report}{checks}{connections}{value}
   && defined $c->{report}{checks}{connections}{warning},
   'with its value and thresholds');
is($c->{report}{status}, 'healthy', 'the report\'s status is the check\'s');
ok($c->{report}{checks}{connections}, 'with its checks');
ok(!exists $c->{reason}, 'no reason when healthy');

ok(wait_status($ng, 'unknown', name => 'noext',
               reason => qr/pg_health extension is not installed in database "noext"/),
   'a database without the extension: unknown, with the reason');
# a dependency that cannot be judged needs an operator, from its first
# answer on: at error, the level of Debian's stock error_log
like(HealthTest::slurp($ng->error_log),
     qr/\[error\] \d+#\d+: health: check "noext" is unknown: [^\n]*pg_health extension is not installed/,
     'error.log: the unknown check at [error], with the reason');
ok(wait_status($ng, 'unknown', name => 'garbage',
               reason => qr/health_report\(\) did not return the expected report/),
   'a health_report() returning garbage: unknown, with the reason');
($c) = check($ng, 'garbage');
like($c->{reason}, qr/"garbage"/, 'the reason quotes the answer');
ok(!exists $c->{report}, 'garbage is not passed on as the report');

ok(wait_status($ng, 'degraded', name => 'big'),
   'a report over 64 KB: its status still counts');
($c) = check($ng, 'big');
like($c->{reason}, qr/health_report\(\) says degraded: huge degraded; the report of \d+ bytes is over the 65536 kept, left out/,
     "and the reason says it was left out ($c->{reason})");
ok(!exists $c->{report} && $c->{report_truncated}, 'report_truncated instead of the report');

# issue 10 point 1: the schema-qualified call
# polled for a round that answered: on a loaded machine a round may time
# out, which is unhealthy too but carries no report
ok(wait_until(sub {
    ($c) = check($ng, 'spoof');
    $c && $c->{status} eq 'unhealthy' && ref $c->{report} eq 'HASH';
}, timeout => 30), 'spoof: the real, unhealthy report is the one judged');
ok($c->{report}{checks}{connections} && !$c->{report}{checks}{planted},
   'spoof: the report is the extension\'s, not the planted one');

# issue 9 point 1: cuts on character boundaries, valid JSON throughout
ok(wait_status($ng, 'unknown', name => 'quote',
               reason => qr/did not return the expected report/),
   'a 64-byte quote of 100 x "é": unknown');
($c, $r, $doc) = check($ng, 'quote');
is($r->{status}, 200, 'and the status still answers 200');
like($c->{reason}, qr/: "(?:é){31}\.\.\.$/, 'the quote ends on a character boundary');
ok(wait_status($ng, 'unknown', name => 'raise',
               reason => qr/health_report\(\) failed: ERROR: é/),
   'an error of 400 x "é": unknown');
($c, $r, $doc) = check($ng, 'raise');
is($r->{status}, 200, 'and the status still answers 200');
ok($c->{reason} =~ /é$/ && $c->{reason} !~ /\x{FFFD}/,
   'the 512-byte cut ends on a character boundary');
{
    my $raw = $ng->get('/health')->{content};
    ok(utf8::decode(my $copy = $raw), 'the whole status is valid UTF-8');
}

# issue 9 point 2: a summary by default, whatever the extension sends
ok(wait_status($ng, 'degraded', name => 'leaky'), 'leaky: judged');
ok(wait_status($ng, 'degraded', name => 'leaky_full'), 'leaky_full: judged');
ok(wait_status($ng, 'degraded', name => 'leaky_off'), 'leaky_off: judged');
($c, $r, $doc) = check($ng, 'leaky');
is_deeply($c->{report}{checks}{slow_queries},
          { status => 'degraded', value => 2, unit => 'sessions', warning => 1,
            critical => 5, count => 2 },
          'summary: status, value, unit, thresholds and counts only');
is_deeply([sort keys %{ $c->{report}{checks} }], ['connections', 'slow_queries'],
          'summary: no check named by the server\'s odd text');
is($c->{report}{database}, 'leaky', 'summary: the database is the one connected to');
unlike(JSON::PP->new->encode($c), qr/\Q$SECRET\E|alice/,
       'summary: no query text or user in the check');
($c) = check($ng, 'leaky_full');
is($c->{report}{checks}{slow_queries}{sessions}[0]{usename}, 'alice',
   'report=full: the report as returned');
($c) = check($ng, 'leaky_off');
ok(!exists $c->{report}, 'report=off: no report');
is($c->{status}, 'degraded', 'report=off: still judged');

# issue 9 point 10: no GSS path unless asked.  libpq takes its default
# gssencmode from PGGSSENCMODE: "require" there makes every connection that
# does not set gssencmode itself fail (no Kerberos here), so a healthy
# check shows the probe set it to disable.
{
    my $ng3 = HealthTest::Nginx->new(main => 'env PGGSSENCMODE=require;',
                                     conf => <<"EOF");
    health_postgres "$ci dbname=postgres" interval=200ms timeout=500ms;
    health_postgres "$ci dbname=postgres gssencmode=require" name=gss
                    interval=200ms timeout=500ms;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
    $ng3->start;
    ok(defined wait_status($ng3, 'healthy'),
       'gssencmode: disabled unless the connection string asks for it');
    ok(defined wait_status($ng3, 'unhealthy', name => 'gss', reason => qr/GSS/i),
       'gssencmode=require in the connection string is honoured');
    is_deeply([$ng3->log_alerts], [], 'gssencmode: no alerts');
    $ng3->stop;
}

($c, $r, $doc) = check($ng);
is($doc->{status}, 'degraded', 'unknown dependencies degrade the instance');
is($r->{status}, 200, 'degraded answers 200');

my $prom = $ng->get('/health?format=prometheus')->{content};
like($prom, qr/^nginx_health_check_status\{check="database"\} 0$/m,
     'prometheus: the database check is 0');
like($prom, qr/^nginx_health_check_status\{check="noext"\} 3$/m,
     'prometheus: the check without extension is 3 (unknown)');
like($prom, qr/^nginx_health_dependency_response_seconds\{check="database"\} [0-9.]+$/m,
     'prometheus: the response time');

# the lease: one connection per probe whatever the number of workers
sleep 1;
is($pg->psql("SELECT count(*) FROM pg_stat_activity WHERE "
             . "application_name = 'nginx-health' AND usename = 'prober' "
             . "AND datname = 'postgres'"), 1,
   'two workers, one connection to the database: one owner');

##########################################################################
# the owner dies: another worker takes the probe over

{
    my ($owner) = HealthTest::slurp($ng->error_log)
        =~ /(\d+)#\d+: health: this worker probes "database"/;
    ok($owner, "the owner worker is $owner");
    kill 'KILL', $owner;
    my ($before) = check($ng);
    ok(wait_until(sub {
        my $log = HealthTest::slurp($ng->error_log);
        $log =~ /(\d+)#\d+: health: this worker probes "database" \(took over/
            && $1 != $owner;
    }, timeout => 10), 'another worker takes the lease over');
    ok(wait_until(sub {
        my ($c) = check($ng);
        $c->{checked_at} gt $before->{checked_at} && $c->{status} eq 'healthy';
    }, timeout => 10), 'and the check goes on');
}

##########################################################################
# the password is nowhere

{
    my $all = join "\n", $ng->get('/health')->{content},
        $ng->get('/health?format=prometheus')->{content},
        $ng->get('/health?format=lb')->{content},
        HealthTest::slurp($ng->error_log);
    unlike($all, qr/\Q$PASSWORD\E/, 'the password is not in the status or error.log');
    ($c) = check($ng);
    like($c->{target}, qr/hostaddr=127\.0\.0\.1 port=$port dbname=postgres|user=prober/,
         'the target is shown without it');
}

##########################################################################
# a hung server: reported unhealthy, requests elsewhere are not delayed

sub pg_pids {
    my $pm = (split /\n/, HealthTest::slurp($pg->{data} . '/postmaster.pid') // '')[0];
    my @kids = split /\s+/, `pgrep -P $pm`;
    return ($pm, grep { /^\d+$/ } @kids);
}

my @stopped;
END { kill 'CONT', @stopped if @stopped }

{
    @stopped = pg_pids();
    ok(@stopped > 1, 'postmaster and backends found (' . scalar(@stopped) . ')');
    kill 'STOP', @stopped;
    my $t0 = time;
    my ($worst, $n, $seen) = (0, 0, 0);
    # a deadline, not a measure: it ends as soon as the hang is seen
    while (time - $t0 < 30) {
        my $t = time;
        my $r = $ng2->get('/fast');
        my $dt = time - $t;
        $worst = $dt if $dt > $worst;
        $n++ if $r->{status} == 200;
        $t = time;
        $ng->get('/fast');
        $dt = time - $t;
        $worst = $dt if $dt > $worst;
        unless ($seen) {
            my ($c) = check($ng2);
            $seen = time - $t0 if $c->{status} eq 'unhealthy';
        }
        last if $seen && time - $t0 > 2;
        sleep 0.01;
    }
    ok($seen, sprintf 'a hung server is unhealthy after %.2fs', $seen);
    ($c, $r) = check($ng2);
    like($c->{reason}, qr/timed out after 500ms/, "the reason says so: $c->{reason}");
    is($r->{status}, 503, 'required=on: 503 while the server hangs');
    # served while the server cannot answer at all: no request waits on it
    # (the time is shown, not judged: a loaded machine may be slow anyway)
    note sprintf 'the worst request time during the hang: %.1f ms', $worst * 1000;
    ok($n > 10, "$n requests served while the server was stopped");
    ($c, $r) = check($ng);
    is($r->{status}, 200, 'required=off: 200 meanwhile');
    kill 'CONT', @stopped;
    @stopped = ();
    ok(defined wait_status($ng2, 'healthy', timeout => 15),
       'healthy again once the server runs');
}

##########################################################################
# stopped and started

{
    $pg->stop;
    my $t = wait_status($ng, 'unhealthy', timeout => 10);
    ok(defined $t, sprintf 'a stopped server: unhealthy (after %.2fs)', $t // -1);
    ($c, $r, $doc) = check($ng);
    like($c->{reason}, qr/cannot connect to .*port=$port|connection .* lost|timed out after 500ms/,
         "with the reason: $c->{reason}");
    is($r->{status}, 200, 'required=off: still 200');
    is($doc->{status}, 'degraded', 'required=off: the instance is degraded');

    ok(defined wait_status($ng2, 'unhealthy'), 'required=on: unhealthy');
    ($c, $r, $doc) = check($ng2);
    is($r->{status}, 503, 'required=on: 503');
    is($doc->{status}, 'unhealthy', 'required=on: the instance is unhealthy');
    is($c->{required}, JSON::PP::true, 'required is true');
    is($ng2->get('/health?format=lb')->{status}, 503, 'lb answers 503');

    $pg->restart;
    ok(defined wait_status($ng, 'healthy', timeout => 15),
       'healthy again once the server is back');
    ok(defined wait_status($ng2, 'healthy', timeout => 15),
       'required=on: healthy again');
    is($ng2->get('/health')->{status}, 200, 'required=on: 200 again');
}

##########################################################################
# a reload keeps the probes going

{
    $ng->reload;
    ok(defined wait_status($ng, 'healthy'), 'healthy after a reload');
    ok(wait_until(sub {
        $pg->psql("SELECT count(*) FROM pg_stat_activity WHERE "
                  . "application_name = 'nginx-health' AND usename = 'prober' "
                  . "AND datname = 'postgres'") == 1
    }, timeout => 10), 'one connection after the reload');
}

##########################################################################
# 200 reconnections: memory and descriptors stay flat

$pg->psql(<<'EOF');
CREATE FUNCTION public.kill_probe(cycles int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int := 0;
    p int;
    last int := 0;
    deadline timestamptz := clock_timestamp() + interval '180 s';
BEGIN
    WHILE n < cycles AND clock_timestamp() < deadline LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT pid INTO p FROM pg_stat_activity
         WHERE application_name = 'nginx-health' AND usename = 'postgres'
           AND datname = 'postgres' AND pid <> last AND state = 'idle'
         LIMIT 1;
        IF p IS NOT NULL THEN
            PERFORM pg_terminate_backend(p);
            last := p;
            n := n + 1;
        END IF;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RETURN n;
END $$
EOF

# Only an idle probe connection is killed: a kill in the middle of a round
# is a failure, and failures back off (up to 8 intervals), which made 200
# cycles take longer than a loaded machine gives them.  The deadline is a
# guard against a hang, not a measure.
#
# with the probe connected (it is closed between a kill and the next probe)
sub usage {
    my ($pid) = @_;
    wait_status($ng2, 'healthy');
    wait_until(sub {
        $pg->psql("SELECT count(*) FROM pg_stat_activity WHERE "
                  . "application_name = 'nginx-health' AND usename = 'postgres'") == 1
    }, timeout => 10);
    sleep 0.3;
    return HealthTest::proc_usage($pid);
}

{
    my ($w) = $ng2->worker_pids;
    is($pg->psql('SELECT public.kill_probe(20)'), 20, 'warm-up: 20 reconnections');
    my ($rss0, $fd0) = usage($w);
    my $t0 = time;
    is($pg->psql('SELECT public.kill_probe(200)'), 200, '200 reconnections');
    note sprintf '200 cycles in %.1fs', time - $t0;
    ok(defined wait_status($ng2, 'healthy', timeout => 10), 'healthy after them');
    my ($rss1, $fd1) = usage($w);
    is($fd1, $fd0, "the worker's descriptors stay at $fd0");
    if (HealthTest::Nginx::asan()) {
        note "RSS $rss0 -> $rss1 kB (not judged under ASan: its quarantine grows)";
    } else {
        ok($rss1 - $rss0 < 1024, "the worker's RSS stays flat ($rss0 -> $rss1 kB)");
    }
    is(($ng2->worker_pids)[0], $w, 'the same worker throughout');
}

is_deeply([$ng->log_alerts], [], 'no alerts in error.log (but the killed worker)');
is_deeply([$ng2->log_alerts], [], 'no alerts in the second error.log');

$ng->stop;
$ng2->stop;
$pg->stop;

done_testing;
