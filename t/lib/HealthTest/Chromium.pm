package HealthTest::Chromium;

# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Debian's headless Chromium for the dashboard tests, two ways.  Core Perl
# only.
#
#   my $dom = HealthTest::Chromium::run('--virtual-time-budget=3000',
#                                       '--dump-dom', $url);
#
# runs it once and returns its stdout (a DOM dump, or nothing for
# --screenshot=FILE).  Virtual time makes such a run quick and repeatable,
# but it also stops the page's clocks while its script runs: a render
# timed by the page itself always takes 0 ms there.  So, to click, type
# and time things in real time:
#
#   my $b = HealthTest::Chromium->start(width => 1280, height => 1600);
#   $b->navigate($url);
#   $b->wait_for('document.querySelector("#zones tr")', timeout => 30);
#   $b->click('button[data-sort="rps"]');
#   $b->type('#filter', 'z42');
#   my $v = $b->js('document.title');
#   $b->screenshot("$dir/page.png");
#   $b->stop;                    # also when the object goes out of scope
#
# speaks the DevTools protocol over --remote-debugging-pipe: Chromium reads
# commands on its file descriptor 3 and answers on 4, one JSON message per
# NUL.  Both ways start Chromium with the same flags, on a fresh profile,
# in a process group of its own that is killed whole when it hangs.

use strict;
use warnings;

use IO::Handle;
use IO::Select;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(time sleep);

use HealthTest ();

sub bin { $ENV{HEALTH_CHROMIUM} || '/usr/bin/chromium' }

sub flags {
    my ($profile) = @_;
    return ('--headless', '--no-sandbox', '--disable-gpu',
            '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--disable-extensions', '--mute-audio',
            "--user-data-dir=$profile");
}

# One run; returns its stdout.  Killed whole if it takes over 120 s.
sub run {
    my (@args) = @_;
    my $profile = HealthTest::tmp_dir('chromium');
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDERR, '>', "$profile/stderr.log";
        exec bin(), flags($profile), @args or POSIX::_exit(127);
    }
    local $/;
    local $SIG{ALRM} = sub { kill 'KILL', -$pid; };
    alarm 120;
    my $text = <$fh> // '';
    close $fh;
    alarm 0;
    Test::More::diag("chromium exited with " . ($? >> 8) . ":\n"
         . (HealthTest::slurp("$profile/stderr.log") // '')) if $?;
    return $text;
}

my $JSON = JSON::PP->new->canonical->allow_nonref;

sub start {
    my ($class, %o) = @_;
    my ($w, $h) = ($o{width} // 1280, $o{height} // 1024);
    my $profile = HealthTest::tmp_dir('chromium');
    pipe(my $cmd_r, my $cmd_w) or die "pipe: $!\n";
    pipe(my $ans_r, my $ans_w) or die "pipe: $!\n";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDERR, '>', "$profile/stderr.log";
        open STDOUT, '>&', \*STDERR;
        # dup first: a pipe may already sit on 3 or 4, and dup2 onto
        # itself would keep its close-on-exec flag
        my ($r, $a) = (POSIX::dup(fileno $cmd_r), POSIX::dup(fileno $ans_w));
        POSIX::dup2($r, 3) // POSIX::_exit(126);
        POSIX::dup2($a, 4) // POSIX::_exit(126);
        exec bin(), flags($profile), '--remote-debugging-pipe',
            "--window-size=$w,$h", '--hide-scrollbars', 'about:blank'
            or POSIX::_exit(127);
    }
    close $cmd_r;
    close $ans_w;
    $cmd_w->autoflush(1);
    my $self = bless { pid => $pid, owner => $$, profile => $profile,
                       w => $cmd_w, r => $ans_r, buf => '', id => 0,
                       width => $w, height => $h }, $class;

    my $targets = $self->cmd('Target.getTargets');
    my ($page) = grep { $_->{type} eq 'page' } @{ $targets->{targetInfos} };
    die "chromium: no page target\n" unless $page;
    $self->{session} = $self->cmd('Target.attachToTarget',
        { targetId => $page->{targetId}, flatten => JSON::PP::true })
        ->{sessionId};
    $self->page('Emulation.setDeviceMetricsOverride',
                { width => $w, height => $h, deviceScaleFactor => 1,
                  mobile => JSON::PP::false });
    return $self;
}

# a browser command (page commands go through page()); returns its result
sub cmd {
    my ($self, $method, $params, $session) = @_;
    my $id = ++$self->{id};
    my $msg = { id => $id, method => $method, params => $params || {} };
    $msg->{sessionId} = $session if $session;
    print { $self->{w} } $JSON->encode($msg) . "\0"
        or die "chromium: cannot send $method: $!\n";

    my $sel = IO::Select->new($self->{r});
    my $deadline = time + ($self->{timeout} // 120);
    while (1) {
        while ($self->{buf} =~ s/^([^\0]*)\0//) {
            my $m = $JSON->decode($1);
            next unless ($m->{id} // 0) == $id;     # an event, or late
            die "chromium: $method: $m->{error}{message}\n" if $m->{error};
            return $m->{result};
        }
        my $left = $deadline - time;
        die "chromium: no answer to $method\n"
            if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($self->{r}, $self->{buf}, 1 << 20,
                        length $self->{buf});
        die "chromium: gone during $method: "
            . (HealthTest::slurp("$self->{profile}/stderr.log") // '') . "\n"
            unless $n;
    }
}

sub page { my ($self, $m, $p) = @_; $self->cmd($m, $p, $self->{session}) }

# load URL and wait for its load event
sub navigate {
    my ($self, $url) = @_;
    my $r = $self->page('Page.navigate', { url => $url });
    die "chromium: $url: $r->{errorText}\n" if $r->{errorText};
    $self->wait_for('document.readyState === "complete"'
                    . ' && location.href !== "about:blank"', timeout => 60)
        or die "chromium: $url did not load\n";
    return $self;
}

# the value of a JavaScript expression (promises awaited); dies on an
# exception in the page
sub js {
    my ($self, $js) = @_;
    my $r = $self->page('Runtime.evaluate',
        { expression => $js, returnByValue => JSON::PP::true,
          awaitPromise => JSON::PP::true });
    if ($r->{exceptionDetails}) {
        my $e = $r->{exceptionDetails};
        die "chromium: $js: "
            . ($e->{exception}{description} // $e->{text}) . "\n";
    }
    return $r->{result}{value};
}

# poll a JavaScript expression until it is true (an exception is false:
# the page may not be there yet); returns its last value
sub wait_for {
    my ($self, $js, %o) = @_;
    my $v;
    HealthTest::wait_until(sub { $v = eval { $self->js($js) } },
                           timeout => $o{timeout} // 30, step => 0.05);
    return $v;
}

sub js_string { $JSON->encode("$_[1]") }

# a real mouse click in the middle of the first element SELECTOR matches
sub click {
    my ($self, $selector) = @_;
    my $at = $self->js('(function (e) { if (!e) { return null; }'
        . ' e.scrollIntoView({ block: "center" });'
        . ' var r = e.getBoundingClientRect();'
        . ' return [r.left + r.width / 2, r.top + r.height / 2]; })'
        . '(document.querySelector(' . $self->js_string($selector) . '))');
    die "chromium: nothing to click at $selector\n" unless $at;
    for my $type (qw(mousePressed mouseReleased)) {
        $self->page('Input.dispatchMouseEvent',
            { type => $type, x => $at->[0], y => $at->[1],
              button => 'left', clickCount => 1 });
    }
}

# type TEXT into the field SELECTOR, replacing what it holds, as a user
# would: the page sees input events
sub type {
    my ($self, $selector, $text) = @_;
    $self->js('(function (e) { e.focus(); e.select(); })(document'
        . '.querySelector(' . $self->js_string($selector) . '))');
    if ($text eq '') {
        $self->page('Input.dispatchKeyEvent',
            { type => $_, key => 'Backspace', code => 'Backspace',
              windowsVirtualKeyCode => 8 }) for qw(rawKeyDown keyUp);
    } else {
        $self->page('Input.insertText', { text => $text });
    }
}

sub screenshot {
    my ($self, $file) = @_;
    my $r = $self->page('Page.captureScreenshot', { format => 'png' });
    HealthTest::spew($file, decode_base64($r->{data}));
    return -s $file;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    local $self->{timeout} = 10;
    eval { $self->cmd('Browser.close') };
    my $pid = delete $self->{pid};
    HealthTest::wait_until(sub { waitpid($pid, WNOHANG) != 0 },
                           timeout => 10, step => 0.05)
        or do { kill 'KILL', -$pid; waitpid $pid, 0; };
    close $self->{w};
    close $self->{r};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

1;
