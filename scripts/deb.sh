#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# make deb: the Debian packages libnginx-mod-http-health and
# postgresql-<major>-health, built from this tree with dpkg-buildpackage in
# build/deb/ (the tree itself gets no build output).  The PostgreSQL major is
# the one pg_config reports, as for make ext.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/deb
major=$("${PG_CONFIG:-pg_config}" --version \
        | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
[ -n "$major" ] || { echo "deb: no PostgreSQL major from pg_config" >&2; exit 1; }
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/nginx-health-$version

rm -rf "$out"
mkdir -p "$src"
tar -C "$top" --exclude=./.git --exclude=./build --exclude=./build-asan \
    --exclude=./.run --exclude=./t/tmp --exclude=./bench/out -cf - . \
    | tar -C "$src" -xf -
sed "s/@PG_MAJOR@/$major/g" "$src/debian/control.in" > "$src/debian/control"

(cd "$src" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1
}
rm -rf "$src"
ls "$out"/*.deb
