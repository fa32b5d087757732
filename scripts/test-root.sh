#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# The suite on another Debian release, from nothing: a root debootstrap'ed
# from this machine's mirror into a temporary directory, this tree copied
# into it, then inside it "make deps" and the make targets asked for.
#
#   scripts/test-root.sh SUITE [TARGET...]     default TARGET: test
#
# TARGET "deb" also builds the packages there and installs them in a second,
# untouched copy of the fresh root (scripts/test-deb.sh).  Every phase says
# its time.  Nothing is kept: the temporary directory (below $TMPDIR, or
# /tmp) is removed at the end unless HEALTH_ROOT_KEEP is set.  Needs root.
set -euo pipefail

suite=${1:?usage: test-root.sh SUITE [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test)
top=$(cd "$(dirname "$0")/.." && pwd)
rootsh=$top/scripts/debian-root.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nginx-health-$suite.XXXXXX")
cleanup() {
    # a server a failed test left running inside one of the roots (its
    # processes see the root as /) is stopped by its pid
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in
            "$tmp"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;;
        esac
    done
    # run's mounts live in mount namespaces of their own: none is left
    # below $tmp once its commands have ended
    if [ -z "${HEALTH_ROOT_KEEP:-}" ]; then
        rm -rf --one-file-system "$tmp"
    else
        echo "$suite: kept $tmp"
    fi
}
trap cleanup EXIT

start=$SECONDS
phase() {
    local name=$1 t0=$SECONDS rc=0
    shift
    echo "== $suite: $name"
    "$@" || rc=$?
    printf '== %s: %s: %s in %dm%02ds\n' "$suite" "$name" \
        "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")" \
        $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60))
    return $rc
}

phase debootstrap "$rootsh" create "$tmp/root" "$suite"
want_deb=
for t in "${targets[@]}"; do [ "$t" = deb ] && want_deb=1; done
if [ -n "$want_deb" ]; then
    phase "copy of the fresh root" cp -a "$tmp/root" "$tmp/fresh"
fi
"$rootsh" copy "$tmp/root" src
# a minimal root has no make yet: what make deps runs
phase "make deps" "$rootsh" run "$tmp/root" /src/scripts/deps.sh
"$rootsh" run "$tmp/root" sh -c 'echo "== versions: $(nginx -v 2>&1)," \
    "$(pg_config --version), $(clang --version | head -1)"' || true
phase "make all" "$rootsh" run "$tmp/root" make -C /src all

rc=0
for t in "${targets[@]}"; do
    if [ "$t" = deb ]; then
        phase "make deb" "$rootsh" run "$tmp/root" make -C /src deb \
            && phase "package test" "$top/scripts/test-deb.sh" \
                "$tmp/fresh" "$tmp/root/src/build/deb" \
            || rc=1
    else
        phase "make $t" "$rootsh" run "$tmp/root" make -C /src "$t" || rc=1
    fi
done

printf '== %s: total %dm%02ds, %s\n' "$suite" $(((SECONDS - start) / 60)) \
    $(((SECONDS - start) % 60)) "$([ $rc -eq 0 ] && echo passed || echo FAILED)"
exit $rc
