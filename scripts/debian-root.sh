#!/usr/bin/env bash
# Copyright (C) 2026 nginx-health authors
# SPDX-License-Identifier: BSD-2-Clause
# A Debian root of another release, made with debootstrap from the package
# mirror this machine's apt uses (no other hosts), and commands run in it.
#
#   scripts/debian-root.sh create DIR SUITE   debootstrap + apt sources
#   scripts/debian-root.sh run DIR CMD...     CMD chrooted in DIR
#   scripts/debian-root.sh copy DIR DEST      this tree (no build output)
#                                             into DIR/DEST
#
# "run" mounts /proc, /sys and /dev in a mount namespace of its own, so the
# mounts end with the command even when it is killed; the trap unmounts
# them in order all the same.  Services are not started inside the root
# (policy-rc.d): the chroot shares this machine's network, and the packaged
# nginx, PostgreSQL and Redis would take the ports of the host's.  Needs
# root.
set -euo pipefail

die() { echo "debian-root: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"

# the URIs of this machine's apt sources: the archive and its security
# archive, from deb822 .sources files or one-line sources.list entries
mirror_uris() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++)
             print u, $i } /^$/ { u = "" }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) \([^ ]*\) .*/\2 \3/p' "$f"
    done
}

mirror() {
    mirror_uris | awk '$2 !~ /-security$/ { print $1; exit }'
}

security_mirror() {
    mirror_uris | awk '$2 ~ /-security$/ { print $1; exit }'
}

create() {
    local dir=$1 suite=$2 m sec
    m=$(mirror)
    [ -n "$m" ] || die "no apt source found in /etc/apt"
    sec=$(security_mirror)
    command -v debootstrap > /dev/null || die "debootstrap is not installed"

    debootstrap --variant=minbase \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$suite" "$dir" "$m" > "$dir.debootstrap.log" 2>&1 || {
        tail -30 "$dir.debootstrap.log" >&2
        die "debootstrap $suite from $m failed"
    }

    # unstable has no -updates and no security suite; a snapshot mirror's
    # Release file may be past its Valid-Until
    {
        echo "deb $m $suite main"
        if [ "$suite" != sid ] && [ "$suite" != unstable ]; then
            echo "deb $m $suite-updates main"
            [ -n "$sec" ] && echo "deb $sec $suite-security main"
        fi
    } > "$dir/etc/apt/sources.list"
    cat > "$dir/etc/apt/apt.conf.d/99nginx-health" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
    # the root's own hosts file; localhost is all the tests need
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' \
        > "$dir/etc/hosts"

    run "$dir" apt-get update -qq
}

run() {
    local dir
    dir=$(cd "$1" && pwd)
    shift
    [ -x "$dir/bin/sh" ] || die "$dir is not a root (no bin/sh)"
    exec unshare --mount --propagation private -- \
        "$0" _run "$dir" "$@"
}

# inside the private mount namespace
_run() {
    root_dir=$1
    shift
    unmount() {
        local m
        for m in dev/shm dev/pts dev sys proc; do
            if mountpoint -q "$root_dir/$m"; then
                umount -l "$root_dir/$m" || true
            fi
        done
    }
    trap unmount EXIT
    local dir=$root_dir
    mount -t proc proc "$dir/proc"
    mount -t sysfs sysfs "$dir/sys"
    mount --bind /dev "$dir/dev"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts" \
        2> /dev/null || mount --bind /dev/pts "$dir/dev/pts"
    mount -t tmpfs -o mode=1777 shm "$dir/dev/shm"
    local rc=0
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive \
        ${HEALTH_TEST_KEEP:+HEALTH_TEST_KEEP=$HEALTH_TEST_KEEP} \
        chroot "$dir" "$@" || rc=$?
    return $rc
}

copy() {
    local dir=$1 dest=$2 top
    top=$(cd "$(dirname "$0")/.." && pwd)
    mkdir -p "$dir/$dest"
    # the tracked and the new files of the tree, not its build output
    (cd "$top" && git ls-files -co --exclude-standard -z \
        | tar --null -T - -cf -) | tar -C "$dir/$dest" -xf -
    chmod 0755 "$dir/$dest"
}

cmd=${1:-}
shift || true
case "$cmd" in
    create) [ $# -eq 2 ] || die "usage: create DIR SUITE"; create "$@" ;;
    run)    [ $# -ge 2 ] || die "usage: run DIR CMD..."; run "$@" ;;
    _run)   _run "$@" ;;
    copy)   [ $# -eq 2 ] || die "usage: copy DIR DEST"; copy "$@" ;;
    *)      die "usage: $0 create|run|copy ..." ;;
esac
