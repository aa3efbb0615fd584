#!/bin/sh
# Builds the Debian 12 base image that deploy/Containerfile starts from when no
# registry is reachable: debootstrap --variant=minbase from the apt mirror this
# machine already uses, then `podman import`. Idempotent: nothing is done when the
# image exists, and the bootstrapped tree is kept as a tarball in the cache
# directory, so a removed image is imported again without a new debootstrap.
# See docs/adr/0008-local-debian-base-image.md.
#
# Usage: container-base.sh [IMAGE]   (default localhost/linkd-base:bookworm)
# Environment: LINKD_BASE_CACHE   cache directory (default build/container-base)
#              LINKD_DEBIAN_MIRROR, LINKD_DEBIAN_SECURITY_MIRROR   override the
#              mirrors read from /etc/apt/sources.list*
set -eu

image="${1:-localhost/linkd-base:bookworm}"
suite=bookworm
cache="${LINKD_BASE_CACHE:-build/container-base}"

# Prints the URI of the first apt source (one-line or deb822 format) that
# serves suite $1, or nothing.
apt_mirror() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$1" '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == s) { print $i; exit }
        }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$1" '
            function check() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && enabled != "no")
                    { split(uris, u, " "); print u[1]; found = 1 }
                types = suites = uris = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { check(); if (found) exit; next }
            { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
            key == "types:" { types = $0 } key == "suites:" { suites = $0 }
            key == "uris:" { uris = $0 } key == "enabled:" { enabled = tolower($0) }
            END { if (!found) check() }' "$f"
    done
}

if podman image exists "$image"; then
    exit 0
fi

# Trees building at once share podman's image store: one bootstraps, the
# others wait for it and then find the image.
mkdir -p "$cache"
lock=/run/lock/linkd-container-base.lock
[ -d /run/lock ] || lock="$cache/.lock"
exec 9>"$lock"
flock 9
if podman image exists "$image"; then
    exit 0
fi

tarball="$cache/debian-$suite-minbase.tar"
if [ ! -s "$tarball" ]; then
    mirror="${LINKD_DEBIAN_MIRROR:-$(apt_mirror "$suite" | head -n 1)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    security="${LINKD_DEBIAN_SECURITY_MIRROR:-$(apt_mirror "$suite-security" | head -n 1)}"
    security="${security:-http://deb.debian.org/debian-security}"
    root="$cache/rootfs"
    # A bootstrap that failed may have left /proc or /sys mounted in the tree.
    awk -v r="$(cd "$cache" && pwd -P)/rootfs" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts |
        sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
    rm -rf --one-file-system "$root"
    echo "container-base: debootstrap $suite from $mirror into $root" >&2
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        echo "container-base: debootstrap failed, see $cache/debootstrap.log" >&2
        tail -n 20 "$cache/debootstrap.log" >&2
        exit 1
    }
    cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
    # As Debian's slim images: no documentation, manual pages or translations.
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
SLIM
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$root/usr/share/info/"* "$root/usr/share/man/"* "$root/usr/share/locale/"* \
        "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
        "$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log \
        "$root/var/log/apt/"* "$root/etc/hostname"
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$root"
fi

podman import --quiet --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
echo "container-base: imported $image" >&2
