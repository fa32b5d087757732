#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# Warnings are errors in the project's own builds (WERROR=1, which the top
# Makefile passes), not in every user's make install: a newer compiler's new
# warning must not break an install.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

use HealthTest qw(:all);

my $dir = repo_root() . '/pg_health_ext';

# -n: print the compile commands of a clean build without running them
sub compile_flags {
    my (@vars) = @_;
    my ($rc, $out) = run_cmd('make', '-n', '-B', '-C', $dir, @vars, 'src/report.o');
    is($rc, 0, "make -n @vars") or diag($out);
    my ($line) = grep { /-c -o src\/report\.o/ } split /\n/, $out;
    return $line // '';
}

my $plain = compile_flags();
like($plain, qr/-Wall -Wextra/, 'a plain make warns');
unlike($plain, qr/-Werror(?![=\w])/, 'a plain make does not make warnings errors');
like(compile_flags('WERROR=1'), qr/-Werror(?![=\w])/, 'WERROR=1 does');

my ($rc, $out) = run_cmd('make', '-n', '-B', '-C', repo_root(), 'ext');
like($out, qr/make.* -C pg_health_ext .*WERROR=1/, 'the top Makefile builds with WERROR=1');

done_testing;
