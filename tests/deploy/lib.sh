# shellcheck shell=bash
# Shared by the container tests of tests/deploy (sourced; bash). The caller
# sets `test_name` (its name in messages) and `name` (its container's name, which
# no one else uses) before sourcing. Gives: say, skip (exit 77: ctest's
# SKIP_RETURN_CODE), fail, pm (podman with this tree's runtime and limits),
# work (a temporary directory), and build_image, which sets iid.
# Environment: LNK_CONTAINER_CACHE  where the base's debootstrap tarball is kept
#              (default ./container-base, in ctest's build directory)

: "${test_name:?}" "${name:?}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${LNK_CONTAINER_CACHE:-$PWD/container-base}"
base=localhost/linkd-base:bookworm
image=localhost/linkd:test
work="$(mktemp -d)"
started=no

say() { printf '%s: [%3ss] %s\n' "$test_name" "$SECONDS" "$*"; }
skip() {
    echo "SKIPPED: $*"
    exit 77
}
fail() {
    echo "FAILED: $*" >&2
    if [ "$started" = yes ]; then
        echo "--- last lines of the container's log:" >&2
        podman logs "$name" 2>&1 | tail -n 30 >&2 || true
    fi
    if [ -s "$work/podman.log" ]; then
        echo "--- podman's messages:" >&2
        tail -n 20 "$work/podman.log" >&2
    fi
    exit 1
}

# The same runtime and limits as scripts/container-image.sh (the reasons are there).
pm() { podman --runtime runc "$@" 2>>"$work/podman.log"; }
nofile="$(ulimit -Hn)"
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
    nofile=65536
fi
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

# Skips unless podman can run a container here; bootstraps the base if missing.
check_podman() {
    command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh test installs it)"
    command -v curl >/dev/null || skip "curl is not installed"
    podman info >"$work/info" 2>&1 || skip "podman cannot work on this host: $(tail -n 3 "$work/info")"
    if ! podman image exists "$base"; then
        command -v debootstrap >/dev/null || skip "$base is missing and debootstrap is not installed"
        say "bootstrapping $base (cache: $cache)"
    fi
    LINKD_BASE_CACHE="$cache" "$repo/scripts/container-base.sh" "$base" || fail "scripts/container-base.sh"
    pm run --rm "${limits[@]}" "$base" true ||
        skip "podman cannot run a container on this host: $(tail -n 3 "$work/podman.log")"
}

# Builds deploy/Containerfile (layers cached by podman) and sets iid to the
# image's id: another tree may move the tag meanwhile, the id stays.
build_image() {
    say "building $image"
    LINKD_BASE_IMAGE="$base" "$repo/scripts/container-image.sh" "$image" "$work/iid" \
        >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        fail "scripts/container-image.sh"
    }
    iid="$(cat "$work/iid")"
    iid="${iid#sha256:}"
    say "built ${iid:0:12}, $(podman image inspect "$iid" --format '{{.Size}}') bytes"
}
