#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# Install what nginx-health needs from Debian's packages, only what is
# missing.  Runs apt-get as root, or through sudo.
#
# Versions are the distribution's own, discovered from apt, never written
# here: the PostgreSQL major is the one the "postgresql" metapackage depends
# on (PG_MAJOR=NN overrides it), the clang runtime the one matching the
# "clang" metapackage's clang-NN.  Works on Debian 12, 13 and unstable.
set -euo pipefail

sudo=
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive

updated=
apt_update() {
    [ -n "$updated" ] && return 0
    $sudo apt-get update -qq
    updated=1
}

# the NN of the first "Depends: <prefix>NN" of a package, empty if unknown
dep_version() {
    apt-cache depends "$1" 2>/dev/null \
        | sed -n "s/^ *Depends: $2\([0-9][0-9]*\)\$/\1/p" | head -1
}

has_candidate() {
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

discover() {
    pg=${PG_MAJOR:-$(dep_version postgresql postgresql-)}
    llvm=$(dep_version clang clang-)
    [ -n "$pg" ] && [ -n "$llvm" ]
}

if ! discover; then
    # a fresh root may have no package lists yet
    apt_update
    discover || {
        echo "deps: no PostgreSQL or clang version found in apt" \
             "(apt-cache depends postgresql / clang)" >&2
        exit 1
    }
fi

# clang's sanitizer runtime: its own package from LLVM 15 on (Debian 12's
# libclang-rt-14-dev too), inside libclang-common-NN-dev before
rt=libclang-rt-$llvm-dev
has_candidate "$rt" || rt=libclang-common-$llvm-dev

# (contrib is part of postgresql-NN; postgresql-contrib is only a virtual
# package on Debian 13, which dpkg-query never shows as installed)
pkgs=(
    nginx nginx-dev                     # the server and its module sources
    postgresql "postgresql-$pg" "postgresql-server-dev-$pg"
    libpq-dev libjansson-dev libhiredis-dev
    redis-server
    build-essential pkg-config
    debhelper dpkg-dev                  # make deb
    perl                                # the t/ harness (core Perl only)
    wrk apache2-utils valgrind          # make bench
    clang "$rt"                         # make test-asan
    prometheus                          # promtool, the server for t/61
    prometheus-alertmanager             # amtool and the server for t/62
    chromium                            # dashboard browser test
    procps psmisc util-linux curl
    openssl                             # a TLS PostgreSQL for the probe's tests
    faketime                            # t/18-clock-step.t steps the wall clock
    pgbouncer                           # t/37-pgbouncer.t
    debootstrap                         # make test-matrix, test-deb, CI
)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: installing ${missing[*]}"

apt_update
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    > /tmp/nginx-health-deps.log 2>&1 || {
    tail -50 /tmp/nginx-health-deps.log >&2
    echo "deps: apt-get install failed" >&2
    exit 1
}

# Debian starts the packaged services; the tests and the demo run their own
# servers on free ports, so the stock ones are left as the system has them.
