#!/bin/bash
# The compose stack (deploy/compose/compose.yaml, docs/deploy.md#compose) with
# podman-compose: `make up` and `make down`.
#
#   compose.sh up            installs podman and podman-compose when missing,
#                            makes .env from .env.example when missing (random
#                            passwords), builds the linkd image, starts the stack
#                            in three stages, each waited for until healthy, and
#                            prints the URLs
#   compose.sh down [--volumes]   stops and removes the containers (20 s for
#                            linkd's drain); the volumes stay unless --volumes
#
# Environment (deploy/compose/.env wins over it, as it does in podman-compose):
#   LINKD_COMPOSE_DIR      the directory of compose.yaml and .env (deploy/compose)
#   LINKD_COMPOSE_PROJECT  the project: names of containers, volumes, network (linkd)
#   LINKD_COMPOSE_IMAGES   official (pulled from registries) or local (built here
#                          from Debian packages by scripts/compose-local-images.sh;
#                          Grafana is then left out: Debian 12 has no package)
#   LINKD_IMAGE, LINKD_BASE_IMAGE   the linkd image and its base (as `make image`)
#   LINKD_COMPOSE_WAIT_S   how long each stage may take to be healthy (300)
#   LINKD_COMPOSE_LOG_DIR  where the output of the builds and podman-compose goes
#                          (build/compose)
#
# podman-compose 1.0 starts containers in dependency order but neither waits
# for `condition: service_healthy` nor applies the network's ipam: this script
# creates the network with LINKD_SUBNET and starts the stack in stages
# (PostgreSQL and Redis; the nodes; the rest), running each container's
# health check itself (podman runs them from systemd timers, which a host
# without systemd as PID 1 does not have).
set -eu -o pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

dir="${LINKD_COMPOSE_DIR:-deploy/compose}"
file="$dir/compose.yaml"
envfile="$dir/.env"
# podman-compose's and the image build's output
logdir="${LINKD_COMPOSE_LOG_DIR:-$repo/build/compose}"

die() {
    echo "compose: $*" >&2
    exit 1
}
say() { echo "compose: $*" >&2; }

# .env from .env.example, the empty passwords filled with random ones.
make_env() {
    [ -f "$envfile" ] && return 0
    local pg gf
    pg="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    gf="$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
    (umask 077 && sed -e "s/^POSTGRES_PASSWORD=\$/POSTGRES_PASSWORD=$pg/" \
        -e "s/^GRAFANA_ADMIN_PASSWORD=\$/GRAFANA_ADMIN_PASSWORD=$gf/" \
        "$dir/.env.example" >"$envfile")
    say "wrote $envfile with generated passwords (keep it: the database volume is initialised with its password)"
}

load_env() {
    if [ -f "$envfile" ]; then
        set -a
        # shellcheck disable=SC1090
        . "$envfile"
        set +a
    fi
    project="${LINKD_COMPOSE_PROJECT:-linkd}"
    images="${LINKD_COMPOSE_IMAGES:-official}"
    subnet="${LINKD_SUBNET:-10.89.213.0/24}"
    wait_s="${LINKD_COMPOSE_WAIT_S:-300}"
    export LINKD_IMAGE="${LINKD_IMAGE:-localhost/linkd:latest}"
}

. scripts/podman-limits.sh
pc() {
    echo "+ podman-compose $*" >>"$logdir/podman-compose.log" 2>&1
    podman-compose -p "$project" -f "$file" --podman-args="--runtime runc" \
        --podman-run-args="$podman_limits" "$@"
}

# The project's network with the subnet whose addresses the nodes trust; an
# existing network must have it.
ensure_network() {
    local net="${project}_default" have
    if podman network exists "$net"; then
        have="$(podman network inspect "$net" --format '{{range .Subnets}}{{.Subnet}} {{end}}')"
        case " $have " in
        *" $subnet "*) return 0 ;;
        esac
        die "network $net has subnet $have, not LINKD_SUBNET=$subnet: remove it (make down VOLUMES=1, or podman network rm $net)"
    fi
    podman network create --subnet "$subnet" --label "io.podman.compose.project=$project" \
        --label "com.docker.compose.project=$project" "$net" >/dev/null
}

# stage SERVICE...: podman-compose up for these services (and what they
# depend on, already running), then waits for them to be healthy. A
# container that was not even created (an image that could not be pulled)
# fails at once.
stage() {
    local svc
    pc up -d --no-build "$@" >>"$logdir/podman-compose.log" 2>&1
    for svc in "$@"; do
        podman container exists "${project}_${svc}_1" || {
            tail -n 15 "$logdir/podman-compose.log" >&2
            die "no container for $svc (see above; an image that cannot be pulled? COMPOSE_IMAGES=local builds them here)"
        }
    done
    wait_healthy "$@"
}

# wait_healthy SERVICE...: each container runs and passes its health check.
wait_healthy() {
    local svc c state deadline=$((SECONDS + wait_s)) t0=$SECONDS
    for svc in "$@"; do
        c="${project}_${svc}_1"
        while :; do
            state="$(podman inspect "$c" --format '{{.State.Status}}' 2>/dev/null || echo missing)"
            if [ "$state" = running ] && podman healthcheck run "$c" >/dev/null 2>&1; then
                break
            fi
            if [ $SECONDS -ge $deadline ]; then
                echo "--- last lines of $c's log:" >&2
                podman logs --tail 30 "$c" >&2 || true
                die "$c not healthy after ${wait_s}s (state: $state)"
            fi
            sleep 1
        done
    done
    say "healthy after $((SECONDS - t0))s: $*"
}

up() {
    "$repo/scripts/install-deps.sh" compose
    make_env
    load_env
    mkdir -p "$logdir"
    [ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is empty in $envfile"
    local rest="alertmanager prometheus nginx grafana"
    case "$images" in
    official) ;;
    local)
        say "building the local images (log: $logdir/local-images.log)"
        LINKD_BASE_IMAGE="${LINKD_BASE_IMAGE:-localhost/linkd-base:bookworm}" \
            scripts/compose-local-images.sh >"$logdir/local-images.env" \
            2>"$logdir/local-images.log" || {
            tail -n 30 "$logdir/local-images.log" >&2
            die "scripts/compose-local-images.sh failed"
        }
        say "local images ready after ${SECONDS}s"
        local line
        while IFS= read -r line; do
            export "${line?}"
        done <"$logdir/local-images.env"
        rest="alertmanager prometheus nginx"
        say "local images: Grafana is left out (Debian 12 has no grafana package)"
        ;;
    *) die "LINKD_COMPOSE_IMAGES must be official or local, not '$images'" ;;
    esac
    say "building $LINKD_IMAGE"
    LINKD_BASE_IMAGE="${LINKD_BASE_IMAGE:-localhost/linkd-base:bookworm}" \
        scripts/container-image.sh "$LINKD_IMAGE" >"$logdir/build.log" 2>&1 || {
        tail -n 30 "$logdir/build.log" >&2
        die "scripts/container-image.sh failed (log: $logdir/build.log)"
    }
    say "$LINKD_IMAGE ready after ${SECONDS}s"
    ensure_network
    stage postgres redis
    stage linkd1 linkd2 linkd3
    # shellcheck disable=SC2086
    stage $rest
    # The defaults of compose.yaml where .env leaves one out.
    local host="${LINKD_HTTP_ADDR:-0.0.0.0}" mon="${MONITORING_ADDR:-127.0.0.1}"
    [ "$host" != 0.0.0.0 ] || host=localhost
    [ "$mon" != 0.0.0.0 ] || mon=localhost
    cat <<EOF
linkd (nginx, 3 nodes): http://$host:${LINKD_HTTP_PORT:-8080}/
Prometheus:             http://$mon:${PROMETHEUS_PORT:-9090}/
Alertmanager:           http://$mon:${ALERTMANAGER_PORT:-9093}/
EOF
    if [ "$images" = official ]; then
        echo "Grafana:                http://$mon:${GRAFANA_PORT:-3000}/  (admin, GRAFANA_ADMIN_PASSWORD in $envfile)"
    else
        echo "Grafana:                not started (local images: Debian 12 has no grafana package)"
    fi
    echo "An admin key for the API: podman exec ${project}_linkd1_1 linkd keys create --name ops --admin"
}

down() {
    load_env
    mkdir -p "$logdir"
    command -v podman-compose >/dev/null || die "podman-compose is not installed"
    if [ "${1:-}" = --volumes ]; then
        pc down -t 20 -v >>"$logdir/podman-compose.log" 2>&1
        podman network rm -f "${project}_default" >/dev/null 2>&1 || true
        say "stopped; containers, volumes and network removed"
    else
        pc down -t 20 >>"$logdir/podman-compose.log" 2>&1
        local vols
        vols="$(podman volume ls --filter "label=io.podman.compose.project=$project" \
            --format '{{.Name}}' | paste -sd ' ')"
        say "stopped; the volumes stay (${vols:-none}): 'make down VOLUMES=1' removes them"
    fi
}

case "${1:-}" in
up) up ;;
down) down "${2:-}" ;;
*)
    echo "usage: $0 up | down [--volumes]" >&2
    exit 2
    ;;
esac
