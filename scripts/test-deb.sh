#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# make test-deb ROOT=DIR: the packages of make deb installed as an operator
# would, in a fresh Debian root DIR (debootstrap'ed, nothing else installed,
# made by scripts/debian-root.sh create): "apt install ./*.deb", the stock
# "nginx -t" with the module enabled through /etc/nginx/modules-enabled,
# and CREATE EXTENSION pg_health in the packaged PostgreSQL's cluster.
# The root is changed by the test; make it anew for the next run.
set -euo pipefail

root=${1:?usage: test-deb.sh ROOT [DEBDIR]}
top=$(cd "$(dirname "$0")/.." && pwd)
debs=${2:-$top/build/deb}
in_root() { "$top/scripts/debian-root.sh" run "$root" "$@"; }

ls "$debs"/*.deb > /dev/null
rm -rf "$root/tmp/nginx-health-debs"
mkdir -p "$root/tmp/nginx-health-debs"
cp "$debs"/*.deb "$root/tmp/nginx-health-debs/"

in_root sh -c 'apt-get update -qq && apt-get install -y -qq ./tmp/nginx-health-debs/*.deb' \
    > "$root/tmp/nginx-health-debs/apt.log" 2>&1 || {
    tail -30 "$root/tmp/nginx-health-debs/apt.log" >&2
    echo "test-deb: apt install of the packages failed" >&2
    exit 1
}

# the check runs inside the root; the packaged cluster listens on its Unix
# socket only (the root shares this machine's network and its ports)
in_root sh -s <<'CHECK'
set -eu
fail() { echo "test-deb: not ok: $*" >&2; exit 1; }
ok() { echo "test-deb: ok: $*"; }

link=/etc/nginx/modules-enabled/50-mod-http-health.conf
[ -L "$link" ] || fail "$link is not a link"
grep -qx 'load_module modules/ngx_http_health_module.so;' "$link" \
    || fail "$link does not load the module"
ok "$link -> $(readlink "$link")"

nginx -t 2>&1 || fail "nginx -t with the module enabled"
ok "the stock nginx -t passes with the module enabled"
nginx -T 2>/dev/null | grep -q 'ngx_http_health_module.so' \
    || fail "nginx -T does not show the module"

# a directive of the module is known to the packaged nginx
cat > /etc/nginx/conf.d/health-test.conf <<'CONF'
server {
    listen 127.0.0.1:8;
    location = /health { health_status; }
}
CONF
nginx -t 2>&1 || fail "nginx -t with a health_status location"
rm /etc/nginx/conf.d/health-test.conf
ok "the packaged nginx knows the module's directives"

major=$(ls /usr/lib/postgresql)
[ "$(echo "$major" | wc -w)" -eq 1 ] || fail "PostgreSQL majors: $major"
pg_lsclusters
pg_conftool "$major" main set listen_addresses ''
pg_ctlcluster "$major" main start
trap 'pg_ctlcluster "$major" main stop || true' EXIT
out=$(runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -c \
    'CREATE EXTENSION pg_health' -c \
    "SELECT extversion FROM pg_extension WHERE extname = 'pg_health'" -c \
    "SELECT health_report()::jsonb ? 'status'") \
    || fail "CREATE EXTENSION pg_health in PostgreSQL $major"
echo "$out"
[ "$(echo "$out" | tail -1)" = t ] || fail "health_report() has no status"
ok "CREATE EXTENSION pg_health in the packaged PostgreSQL $major"
CHECK
