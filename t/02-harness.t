#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The harness checks error.log of every nginx it stops, as nginx-tests
# does: an [alert], [crit] or [emerg] line fails the test file that started
# that nginx, whether or not the file looks itself; a line provoked on
# purpose is named by allow_log, per instance.  Here a reload with a
# broken configuration writes an [emerg] line, and the check made at stop
# is watched from the inside (Test2's intercept).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test2::API qw(intercept);

use HealthTest qw(:all);

my $good = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
EOF
my $bad = "    no_such_directive on;\n$good";

# the result of the harness's check when NG stops: (pass, name)
sub check_at_stop {
    my ($ng) = @_;
    my $events = intercept { $ng->stop };
    my @ok = grep { $_->isa('Test2::Event::Ok') } @$events;
    is(scalar @ok, 1, 'stop makes one check') or return;
    return ($ok[0]->pass, $ok[0]->name);
}

sub emerg_lines {
    my ($ng) = @_;
    return scalar grep { /\[emerg\].*no_such_directive/ }
        split /\n/, slurp($ng->error_log) // '';
}

# a test that does not look: the harness does
my $ng = HealthTest::Nginx->new(conf => $good);
$ng->start;
is($ng->get('/')->{status}, 200, 'nginx serves');
$ng->reload(conf => $bad, nowait => 1);
ok(wait_until(sub { emerg_lines($ng) }), 'the broken reload wrote [emerg]');
is($ng->get('/')->{status}, 200, 'and the old configuration serves on');
my ($pass, $name) = check_at_stop($ng);
ok(!$pass, 'the check at stop fails on the [emerg] line');
like($name, qr/no \[alert\], \[crit\] or \[emerg\] in error\.log/,
     "and says what it checks: $name");

# the same line, allowed by name: passes
$ng = HealthTest::Nginx->new(conf => $good,
                             allow_log => qr/unknown directive "no_such_directive"/);
$ng->start;
$ng->reload(conf => $bad, nowait => 1);
ok(wait_until(sub { emerg_lines($ng) }), 'the broken reload wrote [emerg]');
($pass) = check_at_stop($ng);
ok($pass, 'allowed by allow_log: the check passes');

# an allowance names its line, it is no blanket: another one still fails
$ng = HealthTest::Nginx->new(conf => $good,
                             allow_log => qr/unknown directive "something_else"/);
$ng->start;
$ng->reload(conf => $bad, nowait => 1);
ok(wait_until(sub { emerg_lines($ng) }), 'the broken reload wrote [emerg]');
($pass) = check_at_stop($ng);
ok(!$pass, 'a line allow_log does not name still fails the check');

# started again and stopped again: only what came after the first check
$ng = HealthTest::Nginx->new(conf => $good);
$ng->start;
$ng->reload(conf => $bad, nowait => 1);
ok(wait_until(sub { emerg_lines($ng) }), 'the broken reload wrote [emerg]');
($pass) = check_at_stop($ng);
ok(!$pass, 'first stop: fails');
$ng->write_conf($good, '');
$ng->start;
is($ng->get('/')->{status}, 200, 'started again');
($pass) = check_at_stop($ng);
ok($pass, 'second stop: nothing new, passes');

# an nginx still running when the test ends is stopped and checked then
# (its check is the last test of this file)
$ng = HealthTest::Nginx->new(conf => $good);
$ng->start;
is($ng->get('/')->{status}, 200, 'one left running to the end');

done_testing;
