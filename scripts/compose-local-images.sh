#!/bin/bash
# Builds the local stand-ins for the compose stack's third-party images
# (deploy/compose/local/Containerfile) from the Debian 12 base, for machines
# that reach no container registry: localhost/linkd-compose-NAME:bookworm for
# postgres, redis, nginx, prometheus and alertmanager. Grafana has no Debian
# package and no stand-in (docs/adr/0016-compose-stack.md). Layers are cached
# by podman: a rebuild with nothing changed takes seconds.
#
# Usage: compose-local-images.sh            (prints NAME=IMAGE lines, the
#        variables of deploy/compose/compose.yaml that select them)
# Environment: LINKD_BASE_IMAGE (default localhost/linkd-base:bookworm,
#              bootstrapped by scripts/container-base.sh when missing)
set -eu
cd "$(dirname "$0")/.."

base="${LINKD_BASE_IMAGE:-localhost/linkd-base:bookworm}"
case "$base" in
localhost/linkd-base:*) scripts/container-base.sh "$base" ;;
esac
. scripts/podman-limits.sh

for target in postgres redis nginx prometheus alertmanager; do
    image="localhost/linkd-compose-$target:bookworm"
    echo "compose-local-images: building $image" >&2
    # shellcheck disable=SC2086
    podman --runtime runc build --format docker --layers $podman_limits \
        --build-arg "BASE_IMAGE=$base" --target "$target" -t "$image" \
        -f deploy/compose/local/Containerfile deploy/compose/local >&2
    var="$(echo "$target" | tr '[:lower:]' '[:upper:]')_IMAGE"
    echo "$var=$image"
done
