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

# runc, not crun: crun refuses hosts whose cgroup v2 hierarchy has controllers
# while v1 is in use (a hybrid layout); runc runs on both. Rootful podman asks
# for nofile and nproc limits far above what a host without CAP_SYS_RESOURCE
# can grant, so the RUN steps get limits within the host's.
nofile="$(ulimit -Hn)"
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
    nofile=65536
fi
set -- --runtime runc build --format docker --layers \
    --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096 \
    --build-arg "BASE_IMAGE=$base" -f deploy/Containerfile -t "$image"
[ -z "$iidfile" ] || set -- "$@" --iidfile "$iidfile"
podman "$@" .
