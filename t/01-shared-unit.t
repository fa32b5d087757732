#!/usr/bin/perl
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause

# The C unit tests of shared/ (built by make test-unit, under ASan/UBSan),
# whose TAP output is passed through to prove.

use strict;
use warnings;

use FindBin;

my $bin = "$FindBin::Bin/../build/unit/test_shared";

unless (-x $bin) {
    print "1..1\nnot ok 1 - $bin is built (make test-unit)\n";
    exit 1;
}

exec $bin or die "exec $bin: $!\n";
