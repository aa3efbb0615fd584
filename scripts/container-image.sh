#!/bin/bash
# Builds linkd's container image from deploy/Containerfile with podman. The base
# is LINKD_BASE_IMAGE (default localhost/linkd-base:bookworm, which
# scripts/container-base.sh bootstraps from the apt mirror when it is missing);
# set it to docker.io/library/debian:12-slim where a registry is reachable.
# Layers are cached by podman, so a rebuild with unchanged sources is quick.
#
# Usage: container-image.sh [IMAGE] [IIDFILE]   (default localhost/linkd:latest;
#        the image id is written to IIDFILE when given)
set -eu
cd "$(dirname "$0")/.."

image="${1:-localhost/linkd:latest}"
iidfile="${2:-}"
base="${LINKD_BASE_IMAGE:-localhost/linkd-base:bookworm}"

case "$base" in
localhost/linkd-base:*) scripts/container-base.sh "$base" ;;
esac

# runc and the RUN steps' limits: scripts/podman-limits.sh says why.
. scripts/podman-limits.sh
# shellcheck disable=SC2086
set -- --runtime runc build --format docker --layers $podman_limits \
    --build-arg "BASE_IMAGE=$base" -f deploy/Containerfile -t "$image"
[ -z "$iidfile" ] || set -- "$@" --iidfile "$iidfile"
podman "$@" .
