#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# make bench: run every benchmark under bench/ (NN-name.sh, in order).  Each
# prints its own ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
status=0
for b in bench/[0-9][0-9]-*.sh; do
    [ -x "$b" ] || continue
    echo "== $b"
    "$b" || { echo "bench: $b failed" >&2; status=1; }
done
exit $status
