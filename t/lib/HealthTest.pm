package HealthTest;

# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Test harness for nginx-health: starts real servers on loopback with
# directories of their own and stops them at the end.  Core Perl only.
#
#   my $pg    = HealthTest::Pg->start;           # throwaway cluster
#   my $redis = HealthTest::Redis->start;        # throwaway redis-server
#   my $ng    = HealthTest::Nginx->start(conf => $http_block_text);
#
# Every object stops its server when it goes out of scope or at exit.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(free_port wait_until repo_root slurp spew run_cmd
                    tmp_dir as_postgres);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my %PORTS_USED;

sub repo_root { $ROOT }

# A directory for one test's files, kept after a failure when
# HEALTH_TEST_KEEP is set.  World-readable so that the postgres user and
# nginx workers (nobody) can reach their parts.
#
# As root, the postgres user must reach the directory: when the checkout
# sits below a directory it cannot enter (/root, say), the base moves to
# /tmp.
my $BASE;

sub tmp_base {
    return $BASE if $BASE;
    $BASE = "$ROOT/t/tmp";
    make_path($BASE);
    chmod 0755, "$ROOT/t", $BASE;
    if (is_root() && system('runuser', '-u', 'postgres', '--',
                            'test', '-x', $BASE) != 0)
    {
        $BASE = "/tmp/nginx-health-t";
        make_path($BASE);
        chmod 0755, $BASE;
    }
    return $BASE;
}

sub tmp_dir {
    my ($tag) = @_;
    my $base = tmp_base();
    my $dir = tempdir(($tag // 'test') . '-XXXXXX', DIR => $base,
                      CLEANUP => !$ENV{HEALTH_TEST_KEEP});
    chmod 0755, $dir;
    return $dir;
}

sub free_port {
    for (1 .. 200) {
        my $port = 20000 + int(rand(30000));
        next if $PORTS_USED{$port};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 0)
            or next;
        close $s;
        $PORTS_USED{$port} = 1;
        return $port;
    }
    die "no free port found\n";
}

# Poll until $cond returns true or the deadline passes; returns the last
# value of $cond.
sub wait_until {
    my ($cond, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $step = $o{step} // 0.05;
    my $deadline = time + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return $v if time > $deadline;
        sleep $step;
    }
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub spew {
    my ($f, $s) = @_;
    open my $fh, '>', $f or die "cannot write $f: $!\n";
    print $fh $s;
    close $fh;
}

sub is_root { $> == 0 }

# The command as the postgres user when we are root: PostgreSQL refuses to
# run as root.
sub as_postgres {
    my (@cmd) = @_;
    return is_root() ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

# Run a command; returns (exit code, stdout+stderr).
sub run_cmd {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec $cmd[0]: $!\n";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# (resident memory in kB, open descriptors) of a process
sub proc_usage {
    my ($pid) = @_;
    my ($rss) = (slurp("/proc/$pid/status") // '') =~ /VmRSS:\s+(\d+)/;
    my @fds = glob "/proc/$pid/fd/*";
    return ($rss, scalar @fds);
}

##########################################################################

package HealthTest::Pg;

use strict;
use warnings;

use File::Path qw(make_path);
use Time::HiRes qw(time sleep);

our $PGBIN;

sub pgbin {
    return $PGBIN if $PGBIN;
    my $v = `pg_config --bindir 2>/dev/null`;
    chomp $v;
    # the server of the version pg_config reports; without a server's
    # pg_config (libpq-dev's alone), the newest server installed
    my %major = map { $_ => (m{/(\d+)[^/]*/bin$})[0] // 0 }
                glob('/usr/lib/postgresql/*/bin');
    $PGBIN = $v && -x "$v/initdb" ? $v
        : (sort { $major{$a} <=> $major{$b} } keys %major)[-1];
    die "PostgreSQL server binaries not found (make deps)\n"
        unless $PGBIN && -x "$PGBIN/initdb";
    return $PGBIN;
}

# start(conf => "extra postgresql.conf lines", extension => 1, ssl => 1)
sub start {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    my $dir = HealthTest::tmp_dir('pg');
    $self->{dir} = $dir;
    $self->{data} = "$dir/data";
    $self->{port} = HealthTest::free_port();
    $self->{host} = '127.0.0.1';
    $self->{owner} = $$;

    if (HealthTest::is_root()) {
        system('chown', '-R', 'postgres:postgres', $dir) == 0
            or die "chown $dir failed\n";
    }

    my $bin = pgbin();
    my ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
        "$bin/initdb", '-D', $self->{data}, '-U', 'postgres', '-A', 'trust',
        '-E', 'UTF8', '--locale=C', '--no-sync'));
    die "initdb failed:\n$out" if $rc;

    # ssl => 1: a self-signed certificate, made anew for this cluster
    if ($o{ssl}) {
        ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
            'openssl', 'req', '-new', '-x509', '-nodes', '-days', '2',
            '-subj', '/CN=localhost', '-newkey', 'rsa:2048',
            '-keyout', "$self->{data}/server.key",
            '-out', "$self->{data}/server.crt"));
        die "openssl req failed:\n$out" if $rc;
        chmod 0600, "$self->{data}/server.key";
    }

    my $conf = join "\n",
        "listen_addresses = '127.0.0.1'",
        "port = $self->{port}",
        "unix_socket_directories = '$dir'",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "max_connections = " . ($o{max_connections} // 100),
        "shared_preload_libraries = ''",
        "log_min_messages = warning",
        ($o{ssl} ? "ssl = on" : ()),
        ($o{conf} // ''), '';
    open my $fh, '>>', "$self->{data}/postgresql.conf" or die;
    print $fh $conf;
    close $fh;

    ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
        "$bin/pg_ctl", '-D', $self->{data}, '-l', "$dir/postgres.log",
        '-w', '-t', '60', 'start'));
    die "pg_ctl start failed:\n$out\n" . (HealthTest::slurp("$dir/postgres.log") // '')
        if $rc;
    $self->{running} = 1;
    return $self;
}

sub port { $_[0]{port} }
sub host { $_[0]{host} }
sub dir  { $_[0]{dir} }
sub log_file { "$_[0]{dir}/postgres.log" }

sub conninfo {
    my ($self, %o) = @_;
    return "host=$self->{host} port=$self->{port} dbname="
        . ($o{db} // 'postgres') . " user=" . ($o{user} // 'postgres');
}

sub psql_cmd {
    my ($self, %o) = @_;
    return ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
            '-h', $self->{host}, '-p', $self->{port},
            '-U', $o{user} // 'postgres', '-d', $o{db} // 'postgres');
}

# Run SQL; returns its output (unaligned, tuples only).  Dies on error
# unless allow_error => 1, in which case it returns (rc, output).
sub psql {
    my ($self, $sql, %o) = @_;
    my @cmd = ($self->psql_cmd(%o), '-c', $sql);
    my ($rc, $out) = HealthTest::run_cmd(@cmd);
    if ($o{allow_error}) {
        chomp $out;
        return wantarray ? ($rc, $out) : $out;
    }
    die "psql failed ($rc) for: $sql\n$out" if $rc;
    chomp $out;
    return $out;
}

# Start a psql session in the background running $sql (pg_sleep, lock
# holders); returns its pid.  kill_bg() or stop() ends it.
sub psql_bg {
    my ($self, $sql, %o) = @_;
    my @cmd = ($self->psql_cmd(%o), '-c', $sql);
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    push @{ $self->{bg} }, $pid;
    return $pid;
}

sub kill_bg {
    my ($self, @pids) = @_;
    @pids = @{ $self->{bg} || [] } unless @pids;
    kill 'TERM', @pids;
    waitpid($_, 0) for @pids;
    my %gone = map { $_ => 1 } @pids;
    $self->{bg} = [ grep { !$gone{$_} } @{ $self->{bg} || [] } ];
}

sub stop {
    my ($self, %o) = @_;
    $self->kill_bg if $self->{bg} && @{ $self->{bg} };
    return unless $self->{running};
    HealthTest::run_cmd(HealthTest::as_postgres("$PGBIN/pg_ctl", '-D',
        $self->{data}, '-m', $o{mode} // 'immediate', '-w', 'stop'));
    $self->{running} = 0;
}

# start again after stop() (same data directory and port)
sub restart {
    my ($self) = @_;
    my ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
        "$PGBIN/pg_ctl", '-D', $self->{data}, '-l', "$self->{dir}/postgres.log",
        '-w', '-t', '60', 'start'));
    die "pg_ctl start failed:\n$out" if $rc;
    $self->{running} = 1;
}

# A hot standby of this cluster, made with pg_basebackup and started:
#   my $s = $primary->standby(app => 'standby1', slot => 'standby1_slot',
#                             conninfo => 'password=x', conf => "...\n");
# It streams as application_name app (default "standby") into slot, if
# given; conf lines are added to the postgresql.conf it copied.  Dies,
# with what failed, when it cannot be made or does not start.
sub standby {
    my ($self, %o) = @_;
    my $dir = HealthTest::tmp_dir('standby');
    my $data = "$dir/data";
    my $port = HealthTest::free_port();
    system('chown', 'postgres:postgres', $dir) if HealthTest::is_root();
    my ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
        "$PGBIN/pg_basebackup", '-h', $self->{host}, '-p', $self->{port},
        '-U', 'postgres', '-D', $data, '-X', 'stream', '--no-sync'));
    die "pg_basebackup failed:\n$out" if $rc;
    open my $fh, '>>', "$data/postgresql.conf" or die "$data/postgresql.conf: $!\n";
    print $fh "port = $port\nunix_socket_directories = '$dir'\nhot_standby = on\n",
        "primary_conninfo = 'host=$self->{host} port=$self->{port} user=postgres ",
        ($o{conninfo} ? "$o{conninfo} " : ''),
        "application_name=", $o{app} // 'standby', "'\n",
        ($o{slot} ? "primary_slot_name = '$o{slot}'\n" : ''),
        $o{conf} // '';
    close $fh;
    open $fh, '>', "$data/standby.signal" or die "$data/standby.signal: $!\n";
    close $fh;
    system('chown', 'postgres:postgres', "$data/standby.signal")
        if HealthTest::is_root();
    ($rc, $out) = HealthTest::run_cmd(HealthTest::as_postgres(
        "$PGBIN/pg_ctl", '-D', $data, '-l', "$dir/postgres.log", '-w',
        '-t', '60', 'start'));
    die "the standby did not start:\n$out\n" . (HealthTest::slurp("$dir/postgres.log") // '')
        if $rc;
    return bless { %$self, port => $port, dir => $dir, data => $data,
                   bg => [], owner => $$, running => 1 }, ref $self;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

##########################################################################

package HealthTest::Redis;

use strict;
use warnings;

sub start {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{dir} //= HealthTest::tmp_dir('redis');
    $self->{port} //= HealthTest::free_port();
    $self->{owner} = $$;
    my $bin = (grep { -x } map { "$_/redis-server" } split /:/, "$ENV{PATH}:/usr/bin:/usr/sbin")[0] // "";
    chomp $bin;
    die "redis-server not found (make deps)\n" unless $bin;
    # conf: a configuration file first (a Sentinel needs one to write to)
    my @args = ($bin, defined $o{conf} ? $o{conf} : (),
                '--port', $self->{port}, '--bind', '127.0.0.1',
                '--dir', $self->{dir}, '--save', '', '--appendonly', 'no',
                '--daemonize', 'yes', '--pidfile', "$self->{dir}/redis.pid",
                '--logfile', "$self->{dir}/redis.log",
                @{ $o{args} || [] });
    push @args, '--requirepass', $o{password} if defined $o{password};
    my ($rc, $out) = HealthTest::run_cmd(@args);
    die "redis-server failed: $out" if $rc;
    HealthTest::wait_until(sub { $self->cli('PING') =~ /PONG/ }, timeout => 10)
        or die "redis-server did not answer\n";
    $self->{running} = 1;
    return $self;
}

sub port { $_[0]{port} }
sub dir  { $_[0]{dir} }

sub cli {
    my ($self, @cmd) = @_;
    my @auth = defined $self->{password} ? ('-a', $self->{password},
                                            '--no-auth-warning') : ();
    my ($rc, $out) = HealthTest::run_cmd('redis-cli', '-h', '127.0.0.1',
                                         '-p', $self->{port}, @auth, @cmd);
    chomp $out;
    return $out;
}

sub pid {
    my ($self) = @_;
    my $p = HealthTest::slurp("$self->{dir}/redis.pid") // '';
    chomp $p;
    return $p;
}

sub stop {
    my ($self) = @_;
    return unless $self->{running};
    my $pid = $self->pid;
    $self->cli('SHUTDOWN', 'NOSAVE');
    HealthTest::wait_until(sub { !$pid || !kill(0, $pid) }, timeout => 10);
    kill 'KILL', $pid if $pid && kill(0, $pid);
    $self->{running} = 0;
}

# start again after stop() on the same port and directory
sub restart {
    my ($self) = @_;
    my $new = HealthTest::Redis->start(%$self);
    $new->{owner} = 0;          # $self owns the server from here
    $self->{running} = 1;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

##########################################################################

package HealthTest::Nginx;

use strict;
use warnings;

use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Scalar::Util qw(refaddr weaken);
use Test2::API qw(test2_add_callback_testing_done);
use Test::More ();
use Time::HiRes qw(time sleep);

# Like nginx-tests, the harness itself checks every nginx it stops: its
# error.log may hold no [alert], [crit] or [emerg] line and no sanitizer
# report, so that no test file can forget to look.  A test that provokes
# such a line on purpose says which, per instance: allow_log => qr/.../ in
# new() (lines matching it are not counted).  An nginx still running when
# the test ends (done_testing, or a test that dies) is stopped then, and
# checked before the plan is printed.
my %LIVE;

test2_add_callback_testing_done(sub {
    for my $ng (grep { defined } values %LIVE) {
        $ng->stop if $ng->{owner} == $$;
    }
});

sub module_path {
    return $ENV{HEALTH_MODULE}
        || HealthTest::repo_root() . '/build/modules/ngx_http_health_module.so';
}

sub nginx_bin { $ENV{HEALTH_NGINX} || '/usr/sbin/nginx' }

# HEALTH_TEST_ASAN=1: the module (built with -fsanitize=address,undefined)
# runs inside the stock, uninstrumented nginx, so the sanitizer runtimes
# must be loaded first, through LD_PRELOAD.  Reports go to files under
# logs/ (and stderr ends up in error.log); log_alerts() returns them.
#
# detect_leaks=0: nginx frees its cycle and connection pools by exiting,
# never one by one, so LeakSanitizer would report every pool of the stock
# binary at each process exit, and it cannot tell those from ours.  The
# module's only foreign allocations (jansson trees) are freed by a pool
# cleanup, which ASan does check: a use after that free is reported.
sub asan { $ENV{HEALTH_TEST_ASAN} ? 1 : 0 }

sub sanitizer_env {
    my ($self) = @_;
    return () unless asan();
    my @libs;
    for my $lib (qw(libasan.so libubsan.so)) {
        my $path = `gcc -print-file-name=$lib`;
        chomp $path;
        die "$lib not found (gcc -print-file-name=$lib)\n"
            unless $path =~ m{/} && -e $path;
        push @libs, $path;
    }
    # also callable as a class method, for a plain "nginx -t" elsewhere
    my $logs = ref $self ? "$self->{dir}/logs" : HealthTest::tmp_dir('asan');
    return (
        LD_PRELOAD => join(' ', @libs),
        ASAN_OPTIONS => join(':', 'detect_leaks=0', 'abort_on_error=0',
                             'halt_on_error=1', 'detect_odr_violation=0',
                             "log_path=$logs/asan"),
        UBSAN_OPTIONS => join(':', 'print_stacktrace=1', 'halt_on_error=1',
                              "log_path=$logs/ubsan"),
    );
}

# faketime => 'wall' or 'all' in new(): nginx runs under libfaketime
# (Debian package faketime), reading the time it is to report from
# clock_file() on every call; set_clock() changes it at once.  'wall' fakes
# the wall clock only (the monotonic clock runs on), 'all' both, so that
# "2026-01-01 00:00:00" freezes every clock nginx reads until the next
# set_clock().  nginx's own timers stand still with the clock: only for
# tests that need none.
sub faketime_lib {
    my ($lib) = grep { -e } map { "$_/faketime/libfaketime.so.1" }
        qw(/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib);
    die "libfaketime.so.1 not found (make deps: Debian package faketime)\n"
        unless $lib;
    return $lib;
}

sub clock_file { "$_[0]{dir}/faketime" }

sub set_clock {
    my ($self, $when) = @_;
    HealthTest::spew($self->clock_file . '.new', "$when\n");
    rename $self->clock_file . '.new', $self->clock_file
        or die "rename: $!\n";
}

# the environment nginx runs in: sanitizers and libfaketime when asked
sub run_env {
    my ($self) = @_;
    my %e = $self->sanitizer_env;
    return %e unless ref $self && $self->{faketime};
    # libfaketime first: preloaded after the ASan runtime, its start-up
    # lookups deadlock in ASan's allocator; ASan is told not to mind
    $e{LD_PRELOAD} = join ' ', faketime_lib(),
                               grep { defined } $e{LD_PRELOAD};
    $e{ASAN_OPTIONS} .= ':verify_asan_link_order=0' if $e{ASAN_OPTIONS};
    $e{FAKETIME_TIMESTAMP_FILE} = $self->clock_file;
    $e{FAKETIME_NO_CACHE} = 1;
    $e{FAKETIME_DONT_FAKE_MONOTONIC} = $self->{faketime} eq 'wall' ? 1 : 0;
    return %e;
}

# run nginx with the sanitizer environment when asked; returns (rc, output).
# HealthTest::Nginx->run_nginx('-t', ...) works without an instance.
sub run_nginx {
    my ($self, @args) = @_;
    local %ENV = (%ENV, $self->run_env);
    return HealthTest::run_cmd(nginx_bin(), @args);
}

# new(conf => TEXT, main => TEXT, workers => N, allow_log => qr/.../)
#
# conf is the inside of the http block; main is extra main-context text.
# allow_log: the [alert], [crit] or [emerg] lines this test provokes on
# purpose (see %LIVE above); there is no way to switch the check off.
# In both, %%PORT%%, %%PORT_1%%.. %%PORT_9%% become free loopback ports and
# %%DIR%% the prefix directory.
sub new {
    my ($class, %o) = @_;
    my $self = bless { workers => 1, %o }, $class;
    $self->{dir} = HealthTest::tmp_dir('nginx');
    $self->{owner} = $$;
    my $dir = $self->{dir};
    make_path("$dir/logs", "$dir/html");
    chmod 0777, "$dir/logs";
    $self->{ports} = {};
    $self->set_clock('+0') if $self->{faketime};
    $self->write_conf($o{conf} // '', $o{main} // '');
    return $self;
}

sub port {
    my ($self, $n) = @_;
    $n //= 0;
    return $self->{ports}{$n} //= HealthTest::free_port();
}

sub dir { $_[0]{dir} }
sub error_log { "$_[0]{dir}/logs/error.log" }

sub expand {
    my ($self, $text) = @_;
    $text =~ s/%%PORT%%/$self->port(0)/ge;
    $text =~ s/%%PORT_(\d)%%/$self->port($1)/ge;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    return $text;
}

sub write_conf {
    my ($self, $http, $main) = @_;
    my $dir = $self->{dir};
    my $module = module_path();
    my $workers = $self->{workers};
    my $master = $self->{single} ? "master_process off;\ndaemon off;" : '';
    my $user = HealthTest::is_root() ? 'user root;' : '';
    # nginx clears the workers' environment but for what env names
    my $env = $self->{faketime}
        ? join '', map { "env $_;\n" } qw(LD_PRELOAD FAKETIME_TIMESTAMP_FILE
                             FAKETIME_NO_CACHE FAKETIME_DONT_FAKE_MONOTONIC)
        : '';
    my $text = <<"EOF";
load_module $module;
$master
$user
$env
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
$main

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path       $dir/proxy_temp;
    fastcgi_temp_path     $dir/fastcgi_temp;
    uwsgi_temp_path       $dir/uwsgi_temp;
    scgi_temp_path        $dir/scgi_temp;
    default_type          text/plain;

$http
}
EOF
    HealthTest::spew("$dir/nginx.conf", $self->expand($text));
}

# nginx -t; returns (rc, output)
sub test_conf {
    my ($self) = @_;
    return $self->run_nginx('-t', '-p', $self->{dir},
        '-c', "$self->{dir}/nginx.conf", '-e', "$self->{dir}/logs/error.log");
}

sub start {
    my ($class, %o) = @_;
    my $self = ref $class ? $class : $class->new(%o);
    unlink "$self->{dir}/nginx.pid";
    if ($self->{single}) {
        # master_process off and daemon off: nginx stays in the foreground,
        # so it runs as our child
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            %ENV = (%ENV, $self->run_env);
            open STDOUT, '>>', $self->error_log;
            open STDERR, '>&', \*STDOUT;
            exec nginx_bin(), '-p', $self->{dir}, '-c',
                "$self->{dir}/nginx.conf", '-e', $self->error_log
                or POSIX::_exit(127);
        }
        $self->{child} = $pid;
    } else {
        my ($rc, $out) = $self->run_nginx('-p', $self->{dir},
            '-c', "$self->{dir}/nginx.conf", '-e', $self->error_log);
        die "nginx failed to start:\n$out\n"
            . (HealthTest::slurp($self->error_log) // '') if $rc;
    }
    HealthTest::wait_until(sub {
        -s "$self->{dir}/nginx.pid"
            or ($self->{child} and waitpid($self->{child}, WNOHANG) > 0
                and die "nginx failed to start:\n"
                        . (HealthTest::slurp($self->error_log) // ''))
    }, timeout => 20) or die "nginx wrote no pid file\n";
    $self->{running} = 1;
    $LIVE{refaddr $self} = $self;
    weaken $LIVE{refaddr $self};
    # the listening sockets are open once the pid file is written, but an
    # instrumented nginx may need a moment more before its workers accept
    HealthTest::wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->port(0),
                              Proto => 'tcp', Timeout => 1)
    }, timeout => 10) if $self->{ports}{0};
    # and the workers are forked after that: a test that reads
    # worker_pids() right after start() finds them all
    HealthTest::wait_until(sub {
        $self->worker_pids >= $self->{workers}
    }, timeout => 20) unless $self->{single} || $self->{workers} eq 'auto';
    return $self;
}

sub master_pid {
    my ($self) = @_;
    my $p = HealthTest::slurp("$self->{dir}/nginx.pid") // '';
    chomp $p;
    return $p;
}

# pids of the worker processes (children of the master)
sub worker_pids {
    my ($self) = @_;
    my $m = $self->master_pid or return ();
    my @w;
    for my $st (glob '/proc/[0-9]*/stat') {
        my $s = HealthTest::slurp($st) or next;
        my ($pid, $ppid) = $s =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @w, $pid if $ppid == $m && $s =~ /\(nginx\)/;
    }
    return @w;
}

sub reload {
    my ($self, %o) = @_;
    # nginx reconfigures in single-process mode, but its old cycle's
    # descriptors and connections are not handed over cleanly there
    die "reload needs the master process (not single => 1)\n"
        if $self->{single};
    $self->write_conf($o{conf}, $o{main} // '') if defined $o{conf};
    my @old = $self->worker_pids;
    kill 'HUP', $self->master_pid;
    return if $o{nowait};
    # the reload is done when none of the old workers is left
    HealthTest::wait_until(sub {
        !grep { kill 0, $_ and (HealthTest::slurp("/proc/$_/cmdline") // '')
                                 !~ /shutting down/ } @old
    }, timeout => 20);
}

sub stop {
    my ($self) = @_;
    return unless $self->{running};
    my $pid = $self->master_pid;
    if ($self->{child}) {
        kill 'QUIT', $self->{child};
        HealthTest::wait_until(sub {
            waitpid($self->{child}, WNOHANG) != 0
        }, timeout => 20) or do {
            kill 'KILL', $self->{child};
            waitpid($self->{child}, 0);
        };
        $self->{child} = undef;
    } elsif ($pid) {
        kill 'QUIT', $pid;
        HealthTest::wait_until(sub { !kill 0, $pid }, timeout => 20)
            or kill 'KILL', $pid;
    }
    $self->{running} = 0;
    delete $LIVE{refaddr $self};
    $self->check_log;
}

# the harness's own check at every stop, of the lines written since the
# last one (an instance may be started and stopped more than once)
sub check_log {
    my ($self) = @_;
    my @bad = $self->log_alerts(from => $self->{log_checked} // 0,
                                seen => $self->{reports_checked} //= {});
    $self->{log_checked} = -s $self->error_log // 0;
    local $Test::Builder::Level = $Test::Builder::Level + 2;
    Test::More::ok(!@bad, "nginx in " . ($self->{dir} =~ s{.*/}{}r)
                   . ": no [alert], [crit] or [emerg] in error.log")
        or Test::More::diag(join "\n", @bad);
}

sub url {
    my ($self, $path, $n) = @_;
    return "http://127.0.0.1:" . $self->port($n // 0) . ($path // '/');
}

sub http {
    my ($self, $method, $path, %o) = @_;
    my $ua = $self->{ua} //= HTTP::Tiny->new(keep_alive => 0, timeout => 30);
    return $ua->request($method, $self->url($path, $o{port}),
                        $o{options} || {});
}

sub get { my ($self, $path, %o) = @_; $self->http('GET', $path, %o) }

# GET a JSON document; returns (response, decoded body or undef)
sub get_json {
    my ($self, $path, %o) = @_;
    my $r = $self->get($path, %o);
    my $doc = eval { JSON::PP->new->decode($r->{content}) };
    return wantarray ? ($r, $doc) : $doc;
}

# A client can read its answer before nginx's log phase has counted the
# request, and with two workers its next request (the status) may be served
# by the other one in between.  So a test that wants exact counts polls:
# wait_doc(COND) GETs the JSON at /health (or path => ...) until COND($doc)
# holds or the deadline passes, and returns ($response, $doc) of the last
# try; wait_counted(ZONE, N) waits for ZONE to have counted N requests.
sub wait_doc {
    my ($self, $cond, %o) = @_;
    my ($r, $doc);
    HealthTest::wait_until(sub {
        ($r, $doc) = $self->get_json($o{path} // '/health');
        $doc && $cond->($doc);
    }, timeout => $o{timeout} // 20, step => 0.01);
    return wantarray ? ($r, $doc) : $doc;
}

sub wait_counted {
    my ($self, $zone, $n, %o) = @_;
    return $self->wait_doc(sub {
        ($_[0]{zones}{$zone}{requests} // -1) >= $n
    }, %o);
}

# the check NAME of the status at /health (or path => ...): returns
# (check, response, document)
sub check {
    my ($self, $name, %o) = @_;
    my ($r, $doc) = $self->get_json($o{path} // '/health');
    return ($doc && $doc->{checks}{$name}, $r, $doc);
}

# wait until check NAME says WANT (and its reason matches reason => qr//);
# returns the seconds it took, undef at the deadline
sub wait_check {
    my ($self, $name, $want, %o) = @_;
    my $t0 = time;
    my $ok = HealthTest::wait_until(sub {
        my ($c) = $self->check($name, %o);
        $c && $c->{status} eq $want
           && (!$o{reason} || ($c->{reason} // '') =~ $o{reason});
    }, timeout => $o{timeout} // 10, step => 0.02);
    return $ok ? time - $t0 : undef;
}

# nginx -t of an http block holding TEXT and a status location; returns
# (rc, output and error.log)
sub conf_error {
    my ($class, $text) = @_;
    my $ng = $class->new(conf => <<"EOF");
    $text
    server { listen 127.0.0.1:%%PORT%%; location /health { health_status; } }
EOF
    my ($rc, $out) = $ng->test_conf;
    return ($rc, $out . (HealthTest::slurp($ng->error_log) // ''));
}

# a started backend answering its NAME on / and HC (default 200) on /hc;
# extra => more server-level text
# A backend whose /hc answers 200 while the file html/hc.txt exists and
# 503 once hc_off removed it (hc_on puts it back): a check endpoint the
# test turns on and off, every other path answering NAME.
sub toggled_backend {
    my ($class, $name) = @_;
    my $be = $class->new(conf => <<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "$name"; }
        location = /hc {
            root %%DIR%%/html;
            try_files /hc.txt =503;
        }
    }
EOF
    $be->hc_on;
    return $be->start;
}

sub hc_on  { HealthTest::spew($_[0]->dir . '/html/hc.txt', "ok\n") }
sub hc_off { unlink $_[0]->dir . '/html/hc.txt' }

sub backend {
    my ($class, $name, %o) = @_;
    my $hc = $o{hc} // 200;
    my $extra = $o{extra} // '';
    return $class->new(conf => <<"EOF")->start;
    server {
        listen 127.0.0.1:%%PORT%%;
        $extra
        location / { return 200 "$name"; }
        location = /hc { return $hc; }
    }
EOF
}

# [alert], [crit] and [emerg] lines of error.log (but those allow_log
# names), and any sanitizer report (a test ends with none); from => N
# reads error.log from byte N on, seen => {} skips the reports it holds.
# The level is matched where nginx writes it, after the time (or after
# "nginx:" on stderr), so that a line quoting a forged "[emerg]" from a
# hostile server is not one, while a forged line of its own would be.
sub log_alerts {
    my ($self, %o) = @_;
    my $log = HealthTest::slurp($self->error_log) // '';
    $log = substr $log, $o{from} if $o{from} && $o{from} <= length $log;
    my $allow = $self->{allow_log} // qr/(?!)/;
    my $level = qr{^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d|nginx:) \[(?:alert|crit|emerg)\]};
    my @bad = grep {
        /$level|ERROR: AddressSanitizer|runtime error:/ && !/$allow/
    } split /\n/, $log;
    for my $f (glob "$self->{dir}/logs/asan.* $self->{dir}/logs/ubsan.*") {
        next if $o{seen} && $o{seen}{$f}++;
        push @bad, "$f:", split /\n/, HealthTest::slurp($f) // '';
    }
    return @bad;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

1;
