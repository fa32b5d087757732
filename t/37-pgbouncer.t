#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# health_pgbouncer (issue 16 point 6): a real PgBouncer in front of a real
# PostgreSQL.  The check's figures are compared with what SHOW POOLS and
# SHOW DATABASES say themselves: K of 5 server connections held busy by
# psql sessions through PgBouncer give a share of K/5, healthy at 3,
# degraded at 4 (80%, inclusive), unhealthy at 5; clients waiting on a
# paused database make maxwait rise past the wait thresholds;
# max_db_connections caps a pool's size; a stopped PgBouncer and a user who
# may not use the admin console give the reason; a fake admin console
# sending invalid UTF-8, huge names, garbage numbers, 100 pools and wrong
# columns leaves the status valid JSON, bounded.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(WNOHANG);

use HealthTest qw(:all);
use HostileServer;

sub conf_error { HealthTest::Nginx->conf_error(@_) }

sub promtool {
    my ($text, $what) = @_;
    my $f = tmp_dir('prom') . '/metrics.txt';
    spew($f, $text);
    my ($rc, $out) = run_cmd('sh', '-c', "promtool check metrics < $f");
    is($rc, 0, "promtool accepts $what") or diag $out;
}

##########################################################################
# configuration

{
    my ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1 '
        . 'port=6432 dbname=pgbouncer user=pgbouncer" interval=200ms '
        . 'timeout=1s required=on pool_warning=70 pool_critical=90% '
        . 'wait_warning=500ms wait_critical=3s;');
    is($rc, 0, 'nginx -t: a valid health_pgbouncer') or diag $out;

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1";'
        . ' health_pgbouncer "hostaddr=127.0.0.1 port=6433";');
    like($out, qr/duplicate check name "pgbouncer" in "health_pgbouncer"/,
         'nginx -t: the default name is "pgbouncer", unique');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" pool_warning=101;');
    like($out, qr/invalid value "pool_warning=101" in "health_pgbouncer" directive, it must be a percentage from 0 to 100/,
         'nginx -t: a share over 100% is refused');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" wait_critical=soon;');
    like($out, qr/invalid value "wait_critical=soon" in "health_pgbouncer" directive, it must be a time from 1us to 1h/,
         'nginx -t: a wait that is no time is refused');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" wait_warning=0 wait_critical=2h;');
    like($out, qr/invalid value "wait_warning=0" in "health_pgbouncer" directive, it must be a time from 1us to 1h/,
         'nginx -t: a wait threshold of 0 is refused');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" wait_critical=2h;');
    like($out, qr/invalid value "wait_critical=2h" in "health_pgbouncer" directive/,
         'nginx -t: a wait threshold over 1h is refused');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" wait_warning=250ms wait_critical=2.5s;');
    is($rc, 0, 'nginx -t: fractions and units of the module\'s times') or diag $out;

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" pool_warning=90 pool_critical=80;');
    like($out, qr/invalid thresholds in "health_pgbouncer" directive, pool_warning is above pool_critical/,
         'nginx -t: a warning beyond the critical threshold is refused');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" wait_warning=6s;');
    like($out, qr/invalid thresholds in "health_pgbouncer" directive, wait_warning is above wait_critical/,
         'nginx -t: wait_warning beyond the default wait_critical is refused');

    ($rc, $out) = conf_error('health_pgbouncer "host=bouncer.example.com";');
    like($out, qr/invalid value "host=bouncer\.example\.com" in "health_pgbouncer".*synchronously/,
         'nginx -t: a host name is refused as for health_postgres');

    ($rc, $out) = conf_error('health_pgbouncer "hostaddr=127.0.0.1" report=full;');
    like($out, qr/invalid parameter "report=full" in "health_pgbouncer"/,
         'nginx -t: an unknown parameter is named');
}

##########################################################################
# PostgreSQL and PgBouncer

my $pg = HealthTest::Pg->start;
my $PSQL = "$HealthTest::Pg::PGBIN/psql";

my $bdir = tmp_dir('pgbouncer');
my $bport = free_port();
my $pgport = $pg->port;

spew("$bdir/pgbouncer.ini", <<"EOF");
[databases]
app = host=127.0.0.1 port=$pgport dbname=postgres
wide = host=127.0.0.1 port=$pgport dbname=postgres pool_size=40
capped = host=127.0.0.1 port=$pgport dbname=postgres pool_size=10 max_db_connections=2
paused = host=127.0.0.1 port=$pgport dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $bdir/users.txt
admin_users = admin
stats_users = watcher
pool_mode = session
default_pool_size = 5
max_client_conn = 100
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
EOF
spew("$bdir/users.txt", qq{"admin" ""\n"watcher" ""\n"postgres" ""\n"nobody" ""\n});
system('chown', '-R', 'postgres', $bdir) if HealthTest::is_root();

sub bouncer_start {
    my ($rc, $out) = run_cmd(as_postgres('pgbouncer', '-d',
                                         "$bdir/pgbouncer.ini"));
    die "pgbouncer failed to start: $out\n"
        . (slurp("$bdir/pgbouncer.log") // '') if $rc;
    wait_until(sub { IO::Socket::INET->new("127.0.0.1:$bport") })
        or die "pgbouncer does not listen on $bport\n";
}

sub bouncer_pid { my $p = slurp("$bdir/pgbouncer.pid") // ''; chomp $p; $p }

# SIGTERM stops PgBouncer at once before 1.23; from 1.23 it waits for every
# client to leave (nginx's probe never does), and SIGQUIT stops it at once
sub bouncer_stop {
    my $pid = bouncer_pid() or return;
    for my $sig (qw(TERM QUIT KILL)) {
        kill $sig, $pid;
        last if wait_until(sub { !kill 0, $pid }, timeout => 5);
    }
    unlink "$bdir/pgbouncer.pid";
}

END { local $?; bouncer_stop() }

bouncer_start();

# SHOW POOLS or DATABASES of the admin console: rows as hashes by column
sub admin_show {
    my ($what) = @_;
    my ($rc, $out) = run_cmd($PSQL, '-X', '-A', '-F', "\t", '-P',
        'footer=off', '-h', '127.0.0.1', '-p', $bport, '-U', 'admin',
        '-d', 'pgbouncer', '-c', "SHOW $what");
    die "SHOW $what failed: $out" if $rc;
    my @lines = split /\n/, $out;
    my @cols = split /\t/, shift @lines;
    return [ map { my %h; @h{@cols} = split /\t/, $_, -1; \%h } @lines ];
}

sub pool_row {
    my ($db, $user) = @_;
    my ($row) = grep { $_->{database} eq $db && $_->{user} eq $user }
                @{ admin_show('POOLS') };
    return $row;
}

# a session through PgBouncer running $sql; returns its pid
my @clients;
sub client {
    my ($db, $sql) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec $PSQL, '-X', '-q', '-h', '127.0.0.1', '-p', $bport,
             '-U', 'postgres', '-d', $db, '-c', $sql
            or POSIX::_exit(127);
    }
    push @clients, $pid;
    return $pid;
}

sub end_clients {
    kill 'TERM', @clients;
    waitpid($_, 0) for @clients;
    @clients = ();
}

END { local $?; kill 'TERM', @clients if @clients }

# the pools exist once a client has used them: one short session each.
# PgBouncer counts the wait of a client from its first query: one that
# waits to log in (a pool with no server connection yet) shows maxwait 0
for my $db (qw(app wide capped paused)) {
    my ($rc, $out) = run_cmd($PSQL, '-X', '-q', '-h', '127.0.0.1', '-p',
        $bport, '-U', 'postgres', '-d', $db, '-c', 'SELECT 1');
    is($rc, 0, "a session through PgBouncer to \"$db\"") or diag $out;
}

my $ci = "hostaddr=127.0.0.1 port=$bport dbname=pgbouncer";

my $ng = HealthTest::Nginx->new(workers => 2, conf => <<"EOF");
    health_service bouncer;
    health_pgbouncer "$ci user=admin" interval=100ms timeout=2s;
    health_pgbouncer "$ci user=watcher" name=patient interval=100ms
                     timeout=2s wait_warning=1s wait_critical=1h
                     pool_warning=100 pool_critical=100;
    health_pgbouncer "$ci user=nobody" name=stranger interval=100ms
                     timeout=2s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /metrics { health_status prometheus; }
    }
EOF
$ng->start;

sub pool_of {
    my ($c, $db, $user) = @_;
    my ($p) = grep { $_->{database} eq $db && $_->{user} eq ($user // 'postgres') }
              @{ $c->{pools} || [] };
    return $p;
}

# wait until the check shows the pool with $k server connections active
sub wait_active {
    my ($name, $db, $k) = @_;
    my $c;
    wait_until(sub {
        ($c) = $ng->check($name);
        my $p = $c && pool_of($c, $db);
        $p && defined $p->{sv_active} && $p->{sv_active} == $k;
    }, timeout => 30);
    return $c;
}

ok(defined $ng->wait_check('pgbouncer', 'healthy'),
   'the pgbouncer check becomes healthy');

my ($c, $r, $doc) = $ng->check('pgbouncer');
is($r->{status}, 200, 'the status answers 200');
is($c->{unit}, '%', 'the value is a share in %');
is($c->{warning}, 80, 'warning at 80% by default');
is($c->{critical}, 95, 'critical at 95% by default');
is($c->{wait_warning_seconds}, 1, 'wait warning at 1 s by default');
is($c->{wait_critical_seconds}, 5, 'wait critical at 5 s by default');
is($c->{pools_total}, 4, 'four pools: app, wide, capped, paused (the console\'s own left out)');
is($c->{pools_omitted}, 0, 'none omitted');
ok(!grep({ $_->{database} eq 'pgbouncer' } @{ $c->{pools} }),
   'the admin console\'s own pool is not one of them');
like($c->{server_version}, qr/^1\.\d+/, "PgBouncer's version ($c->{server_version})");

my %dbs = map { $_->{name} => $_ } @{ admin_show('DATABASES') };
is(pool_of($c, 'app')->{pool_size}, $dbs{app}{pool_size},
   "app: pool_size is SHOW DATABASES's ($dbs{app}{pool_size}, the default)");
is(pool_of($c, 'wide')->{pool_size}, 40, 'wide: its own pool_size=40');
is($dbs{capped}{max_connections}, 2, 'capped: SHOW DATABASES says max_db_connections 2');
is(pool_of($c, 'capped')->{pool_size}, 2,
   'capped: its pool is max_db_connections (2), not pool_size (10)');

##########################################################################
# K of 5 server connections busy

my %want = (3 => 'healthy', 4 => 'degraded', 5 => 'unhealthy');

for my $k (1 .. 5) {
    client('app', 'SELECT pg_sleep(600)');
    ok(wait_until(sub { my $p = pool_row('app', 'postgres');
                        $p && $p->{sv_active} == $k }, timeout => 30),
       "SHOW POOLS: app has $k active server connections");
    next unless $want{$k};

    $c = wait_active('pgbouncer', 'app', $k);
    my $p = pool_of($c, 'app');
    my $show = pool_row('app', 'postgres');
    is($p->{sv_active}, $show->{sv_active}, "$k busy: sv_active is SHOW POOLS's ($k)");
    is($p->{cl_active}, $show->{cl_active}, "$k busy: cl_active is SHOW POOLS's ($show->{cl_active})");
    is($p->{pool_size}, 5, "$k busy: of a pool of 5");
    is($p->{use_percent}, $k * 20, "$k busy: use_percent is $k/5 = " . $k * 20);
    is($c->{value}, $k * 20, "$k busy: the check's value is the fullest pool's");
    is_deeply($c->{fullest}, { database => 'app', user => 'postgres' },
              "$k busy: app is the fullest pool");
    is($c->{pools}[0]{database}, 'app', "$k busy: listed first");
    is($c->{status}, $want{$k}, "$k of 5 busy: $want{$k}");
    if ($k >= 4) {
        like($c->{reason}, qr{pool app/postgres uses $k of 5 server connections},
             "$k busy: the reason names the pool");
    } else {
        ok(!exists $c->{reason}, "$k busy: no reason");
    }
}

# Prometheus: the pools' series, the figures of SHOW POOLS
{
    my $m = $ng->get('/metrics')->{content};
    my $l = 'check="pgbouncer",database="app",user="postgres"';
    like($m, qr/^nginx_health_pgbouncer_pool_server_connections\{$l,state="active"\} 5$/m,
         'Prometheus: 5 active server connections of app');
    like($m, qr/^nginx_health_pgbouncer_pool_clients\{$l,state="active"\} 5$/m,
         'Prometheus: 5 active clients of app');
    like($m, qr/^nginx_health_pgbouncer_pool_size\{$l\} 5$/m,
         'Prometheus: a pool of 5');
    like($m, qr/^nginx_health_pgbouncer_pool_size\{check="patient",database="capped",user="postgres"\} 2$/m,
         'Prometheus: every health_pgbouncer has its series');
    is(scalar(() = $m =~ /^# TYPE nginx_health_pgbouncer_pool_server_connections gauge$/mg), 1,
       'one TYPE line for the family of two checks');
    promtool($m, 'the page with the pools');
    like($m, qr/^nginx_health_pgbouncer_pool_clients\{$l,state="waiting"\} \d+$/m,
         'Prometheus: the waiting clients the dashboard\'s pool panel reads');
}

# required=off: the instance is capped at degraded
($c, $r, $doc) = $ng->check('pgbouncer');
is($doc->{status}, 'degraded', 'an unhealthy pgbouncer, required=off: the instance is degraded');
is($r->{status}, 200, 'and answers 200');

# a sixth client waits: cl_waiting, and maxwait rises
client('app', 'SELECT 1');
ok(wait_until(sub { my $p = pool_row('app', 'postgres');
                    $p && $p->{cl_waiting} == 1 }, timeout => 30),
   'SHOW POOLS: a sixth client of app waits');
ok(wait_until(sub { ($c) = $ng->check('pgbouncer');
                    my $p = pool_of($c, 'app');
                    $p && $p->{cl_waiting} == 1 && $c->{clients_waiting} == 1 },
              timeout => 30),
   'the check: app has 1 client waiting, 1 in all');

end_clients();
ok(wait_until(sub { my $p = pool_row('app', 'postgres');
                    $p && $p->{sv_active} == 0 && $p->{cl_waiting} == 0 }, timeout => 30),
   'the sessions ended');
ok(defined $ng->wait_check('pgbouncer', 'healthy', timeout => 30),
   'the check is healthy again');

##########################################################################
# clients waiting on a paused database: maxwait rises past the thresholds

my ($rc, $out) = run_cmd($PSQL, '-X', '-q', '-h', '127.0.0.1', '-p', $bport,
    '-U', 'admin', '-d', 'pgbouncer', '-c', 'PAUSE paused');
is($rc, 0, 'PAUSE paused') or diag $out;
client('paused', 'SELECT 1');
client('paused', 'SELECT 1');

ok(wait_until(sub { my $p = pool_row('paused', 'postgres');
                    $p && $p->{cl_waiting} == 2 }, timeout => 30),
   'SHOW POOLS: two clients of "paused" wait');

ok(defined $ng->wait_check('patient', 'degraded', timeout => 30,
                           reason => qr{a client of pool paused/postgres has waited \d+\.\d{3} s}),
   'patient (wait_warning=1s): degraded once a client has waited 1 s, with the reason');
($c) = $ng->check('patient');
my $p = pool_of($c, 'paused');
ok($p->{maxwait_seconds} >= 1, "maxwait_seconds of the pool >= 1 ($p->{maxwait_seconds})");
ok($c->{maxwait_seconds} >= 1, "the check's maxwait_seconds >= 1 ($c->{maxwait_seconds})");
is($p->{cl_waiting}, 2, 'cl_waiting is 2');
is($p->{sv_active}, 0, 'with no server connection active');
is($c->{value}, 0, 'the share in use is 0');

ok(defined $ng->wait_check('pgbouncer', 'unhealthy', timeout => 30,
                           reason => qr{a client of pool paused/postgres has waited}),
   'the defaults: unhealthy once a client has waited 5 s');
($c) = $ng->check('pgbouncer');
my $show = pool_row('paused', 'postgres');
ok(pool_of($c, 'paused')->{maxwait_seconds} >= 5 && $show->{maxwait} >= 5,
   'the check and SHOW POOLS both say maxwait >= 5 s');
is(pool_of($c, 'paused')->{use_percent}, 0, 'the paused pool\'s share is 0%');

($c) = $ng->check('patient');
is($c->{status}, 'degraded', 'patient stays degraded (wait_critical=1h)');

($rc, $out) = run_cmd($PSQL, '-X', '-q', '-h', '127.0.0.1', '-p', $bport,
    '-U', 'admin', '-d', 'pgbouncer', '-c', 'RESUME paused');
end_clients();

##########################################################################
# who may not use the console, and a stopped PgBouncer

ok(defined $ng->wait_check('stranger', 'unhealthy',
                           reason => qr/cannot connect to .*user=nobody.*not allowed/),
   'a user in neither admin_users nor stats_users: unhealthy, PgBouncer\'s reason')
    or diag explain [$ng->check('stranger')];

bouncer_stop();
ok(defined $ng->wait_check('pgbouncer', 'unhealthy', timeout => 30,
                           reason => qr/(?:cannot connect to|connection to) .*port=$bport/),
   'PgBouncer stopped: unhealthy, with the reason');
($c, $r, $doc) = $ng->check('pgbouncer');
is($r->{status}, 200, 'required=off: the status still answers 200');
ok(!exists $c->{pools}, 'no pools from a round that failed');

bouncer_start();
ok(defined $ng->wait_check('pgbouncer', 'healthy', timeout => 30),
   'PgBouncer back: healthy again');

# Prometheus: the check's status comes with the check
$r = $ng->get('/metrics');
like($r->{content}, qr/^nginx_health_check_status\{[^}]*check="pgbouncer"[^}]*\} 0$/m,
     'Prometheus: nginx_health_check_status{check="pgbouncer"} 0');

$ng->stop;
is_deeply([$ng->log_alerts], [], 'no alerts in error.log');

##########################################################################
# a hostile admin console

my $POOL_COLS = [qw(database user cl_active cl_waiting sv_active sv_idle
                    sv_used maxwait maxwait_us pool_mode)];

# a result of text columns
sub rows_result {
    my ($cols, $rows) = @_;
    my $t = pack('n', scalar @$cols)
          . join('', map { "$_\0" . pack('NnNnNn', 0, 0, 25, -1, -1, 0) } @$cols);
    my $out = HostileServer::pg_msg('T', $t);
    for my $row (@$rows) {
        $out .= HostileServer::pg_msg('D', pack('n', scalar @$row) . join('',
            map { defined $_ ? pack('N', length $_) . $_ : pack('N', 0xffffffff) } @$row));
    }
    return $out . HostileServer::pg_msg('C', "SHOW\0");
}

sub console {
    my (%answer) = @_;
    return HostileServer->start(sub {
        my ($sock) = @_;
        HostileServer::pg_startup($sock) or return;
        while (defined(my $q = HostileServer::pg_query($sock))) {
            my $a = $answer{$q} // rows_result(['x'], []);
            print $sock $a . HostileServer::pg_ready();
        }
    });
}

# the JSON's strings as UTF-8 bytes
my $FFFD = qr/\xef\xbf\xbd/;
my $BAD = "\xff\xfe\xc3\x28\"<b>\\\x01\n";
my @many = map { ["db$_", "user$_", 1, 0, $_ % 7, 0, 0, 0, 0, 'session'] } 1 .. 100;
push @many, [$BAD x 400, $BAD x 400, 'abc', '-1', '99999999999999999999', '1e3', ' 2', 'x', '12', 'session'];
push @many, ['pgbouncer', 'pgbouncer', 1, 0, 0, 0, 0, 0, 0, 'statement'];
my $DBCOLS = [qw(name host port database pool_size max_connections)];
my @dbrows = map { ["db$_", '127.0.0.1', 5432, "db$_", 10, 0] } 1 .. 100;
my $hostile = console(
    'SHOW POOLS' => rows_result($POOL_COLS, \@many),
    'SHOW DATABASES' => rows_result($DBCOLS, \@dbrows),
    'SHOW CONFIG' => rows_result([qw(key value)], [['default_pool_size', 20]]));

my $wrong = console(
    'SHOW POOLS' => rows_result([qw(database owner maxwait)], [['app', 'x', 0]]),
    'SHOW DATABASES' => rows_result([qw(name)], [['app']]));
# logs in, then never answers
my $hung = HostileServer->start(sub {
    my ($sock) = @_;
    HostileServer::pg_startup($sock) or return;
    HostileServer::pg_query($sock);
    sleep 300;
});
my $alien = console('SHOW POOLS' => rows_result([qw(a b)], [[1, 2]]));
my $refuse = console('SHOW POOLS' => HostileServer::pg_msg('E',
    "SERROR\0C42501\0M" . ("\xff" x 3000) . "\0\0"));

my $ng2 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$hostile->port]} dbname=pgbouncer user=a"
                     interval=100ms timeout=2s;
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$wrong->port]} dbname=pgbouncer user=a"
                     name=wrong interval=100ms timeout=2s;
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$alien->port]} dbname=pgbouncer user=a"
                     name=alien interval=100ms timeout=2s;
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$refuse->port]} dbname=pgbouncer user=a"
                     name=refuse interval=100ms timeout=2s;
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$hung->port]} dbname=pgbouncer user=a"
                     name=hung interval=100ms timeout=300ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
    }
EOF
$ng2->start;

ok(defined $ng2->wait_check('pgbouncer', 'healthy'),
   'the hostile console: judged on what can be read (6 of 10 = 60%), a garbage pool does not fail it')
    or diag explain [$ng2->check('pgbouncer')];
($c, $r, $doc) = $ng2->check('pgbouncer');
ok($doc, 'the status is valid JSON');
is($c->{pools_total}, 101, '101 pools counted (the console\'s own left out)');
is($c->{pools_omitted}, 69, '69 of them omitted');
is(scalar @{ $c->{pools} }, 32, '32 listed');
is($c->{value}, 60, 'the fullest: 6 of 10 = 60%');
is($c->{pools}[0]{use_percent}, 60, 'listed first');
my ($garbage) = grep { $_->{database} =~ /$FFFD/ } @{ $c->{pools} };
ok(!$garbage, 'the garbage pool has no share: not among the 32 fullest');
ok(length($r->{content}) < 32768, 'the answer stays bounded (' . length($r->{content}) . ' bytes)');

# the garbage pool itself, alone
my $solo = console(
    'SHOW POOLS' => rows_result($POOL_COLS, [$many[100]]),
    'SHOW DATABASES' => rows_result($DBCOLS, []),
    'SHOW CONFIG' => rows_result([qw(key value)], [['default_pool_size', 20]]));
my $ng3 = HealthTest::Nginx->new(workers => 1, conf => <<"EOF");
    health_pgbouncer "hostaddr=127.0.0.1 port=@{[$solo->port]} dbname=pgbouncer user=a"
                     interval=100ms timeout=2s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /health { health_status; }
        location /metrics { health_status prometheus; }
    }
EOF
$ng3->start;
ok(defined $ng3->wait_check('pgbouncer', 'unknown',
                            reason => qr/share of the pools in use is not known/),
   'a pool of garbage numbers: unknown, with the reason');
($c, $r, $doc) = $ng3->check('pgbouncer');
ok($doc, 'valid JSON');
$p = $c->{pools}[0];
ok(length($p->{database}) <= 64 && length($p->{user}) <= 64,
   'names cut to 64 bytes (' . length($p->{database}) . ')');
like($p->{database}, qr/^(?:$FFFD)+\("<b>\\ /, 'invalid UTF-8 became U+FFFD, a control character a space');
unlike($p->{database}, qr/[\x00-\x1f]/, 'no control characters');
is($p->{cl_active}, undef, '"abc": null');
is($p->{cl_waiting}, undef, '"-1": null');
is($p->{sv_active}, undef, 'a number of 20 digits: null');
is($p->{sv_idle}, undef, '"1e3": null');
is($p->{sv_used}, undef, '" 2": null');
is($p->{maxwait_seconds}, undef, 'maxwait "x": null');
is($p->{pool_size}, 20, 'pool_size: default_pool_size of SHOW CONFIG');
{
    my $m = $ng3->get('/metrics')->{content};
    like($m, qr/^nginx_health_pgbouncer_pool_size\{check="pgbouncer",database="(?:$FFFD)+\(\\"<b>\\\\ [^\n]*\} 20$/m,
         'Prometheus: the hostile names escaped in the labels, on one line');
    unlike($m, qr/^nginx_health_pgbouncer_pool_(?:server_connections|clients)\{/m,
           'no series for the null figures');
    promtool($m, 'the page of the hostile names');
}

ok(defined $ng2->wait_check('wrong', 'unknown',
                            reason => qr/share of the pools in use is not known/),
   'SHOW POOLS without its figures: unknown, with the reason');
($c) = $ng2->check('wrong');
is($c->{pools_total}, 1, 'the pool is still listed');
is($c->{pools}[0]{database}, 'app', 'by its name');
is($c->{pools}[0]{sv_active}, undef, 'sv_active null');
is($c->{pools}[0]{pool_size}, undef, 'pool_size null');
is($c->{pools}[0]{maxwait_seconds}, 0, 'maxwait read (0): a healthy wait does not turn unknown into degraded');

ok(defined $ng2->wait_check('alien', 'unknown',
                            reason => qr/SHOW POOLS answered no "database" column/),
   'an answer without a "database" column: unknown, with the reason');

ok(defined $ng2->wait_check('refuse', 'unknown',
                            reason => qr/^SHOW POOLS failed: ERROR:\s+$FFFD/),
   'an error of invalid UTF-8: unknown, the reason made valid');
($c) = $ng2->check('refuse');
ok(length($c->{reason}) <= 512, 'and bounded (' . length($c->{reason}) . ')');

ok(defined $ng2->wait_check('hung', 'unhealthy',
                            reason => qr/^timed out after 300ms waiting for SHOW POOLS from .*port=@{[$hung->port]}/),
   'a console that never answers: unhealthy after the timeout, with the reason');
$r = $ng2->get('/health');
is($r->{status}, 200, 'and the status location answers meanwhile');

$ng2->stop;
$ng3->stop;
is_deeply([$ng2->log_alerts], [], 'no alerts in error.log (hostile)');
is_deeply([$ng3->log_alerts], [], 'no alerts in error.log (garbage pool)');

done_testing();
