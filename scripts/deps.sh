#!/usr/bin/env bash
# Install what nginx-health needs from Debian's packages, only what is
# missing.  Runs apt-get as root, or through sudo.
set -euo pipefail

pkgs=(
    nginx nginx-dev                     # the server and its module sources
    postgresql postgresql-15 postgresql-server-dev-15 postgresql-contrib
    libpq-dev libjansson-dev libhiredis-dev
    redis-server
    build-essential pkg-config
    perl                                # the t/ harness (core Perl only)
    wrk apache2-utils valgrind          # make bench
    clang libclang-rt-14-dev            # make test-asan
    prometheus                          # promtool
    chromium                            # dashboard browser test
    procps psmisc util-linux curl
    faketime                            # t/18-clock-step.t steps the wall clock
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

sudo=
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    > /tmp/nginx-health-deps.log 2>&1 || {
    tail -50 /tmp/nginx-health-deps.log >&2
    echo "deps: apt-get install failed" >&2
    exit 1
}

# Debian starts the packaged services; the tests and the demo run their own
# servers on free ports, so the stock ones are left as the system has them.
