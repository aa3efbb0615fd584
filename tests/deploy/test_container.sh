#!/bin/bash
# The container image end to end (docs/deploy.md): builds the Debian base when it
# is missing and the image from deploy/Containerfile, runs it as an operator
# would (rootful podman, the port published on 127.0.0.1, a named volume) and
# checks /health, a non-root process, a user, a link and its 302 through the
# API, a SIGTERM stop that exits 0 before podman's SIGKILL with the click
# written, the data in a new container on the same volume, and the HEALTHCHECK.
#
# Exits 77 (ctest: skipped, SKIP_RETURN_CODE) with the reason when podman cannot
# run a container on this host at all; every other problem is a failure. The
# container and its volume have a name of their own and are removed on exit.
set -eu -o pipefail

test_name=deploy.container
name="linkd-test-$$-$(date +%s)"
volume="$name-data"
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

# Both names are this run's own.
cleanup() {
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    podman volume rm -f "$volume" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The key sent with every management request (set once the container runs).
key=""
# api METHOD PATH [JSON]: prints the body, then the status on a line of its own.
api() {
    local args=(-s --max-time 10 -X "$1" -H "Authorization: Bearer $key" -w '\n%{http_code}')
    if [ $# -gt 2 ]; then
        args+=(-H 'Content-Type: application/json' -d "$3")
    fi
    curl "${args[@]}" "$url$2" || true
}
# expect STATUS OUTPUT-OF-api WHAT: fails unless the status matches; prints the body.
expect() {
    local status="${2##*$'\n'}" body="${2%$'\n'*}"
    [ "$status" = "$1" ] || fail "$3: expected $1, got ${status:-no answer}: $body"
    printf '%s' "$body"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# start: runs the image on the volume, publishes 8080 on an ephemeral
# loopback port and waits for /health to answer 200.
start() {
    pm run -d --name "$name" "${limits[@]}" -p 127.0.0.1::8080 \
        -v "$volume:/var/lib/linkd" "$iid" >/dev/null || fail "podman run"
    started=yes
    local port
    port="$(pm port "$name" 8080/tcp | head -n 1)"
    port="${port##*:}"
    [ -n "$port" ] || fail "no published port for 8080/tcp"
    url="http://127.0.0.1:$port"
    local i code=""
    for i in $(seq 1 300); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/health" || true)"
        [ "$code" = 200 ] && break
        [ "$(pm inspect "$name" --format '{{.State.Running}}')" = true ] ||
            fail "the container stopped before /health answered"
        sleep 0.1
    done
    [ "$code" = 200 ] || fail "/health answered ${code:-nothing} after 30 s (attempt $i)"
    say "running, /health 200 on $url"
}

# stop: podman stop (SIGTERM) with the stop timeout docs/deploy.md gives
# (20 s, as the unit's TimeoutStopSec): linkd must exit 0 by itself before
# podman would send SIGKILL (status 137).
stop() {
    local t0 ms code
    t0="$(date +%s%N)"
    pm stop -t 20 "$name" >/dev/null || fail "podman stop"
    ms=$((($(date +%s%N) - t0) / 1000000))
    code="$(pm inspect "$name" --format '{{.State.ExitCode}}')"
    [ "$code" = 0 ] || fail "exit status $code after SIGTERM (137: killed after 20 s)"
    podman logs "$name" 2>&1 | grep -q '"event":"stopped","exit_code":0' ||
        fail "no stopped event in the log"
    say "podman stop: exit 0 after $ms ms"
}

check_podman
build_image
config="$(podman image inspect "$iid" --format \
    '{{.Config.User}}|{{.Config.StopSignal}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Volumes}}|{{json .Config.ExposedPorts}}')"
case "$config" in
'10001:10001|SIGTERM|["/usr/local/bin/linkd","serve"]|["CMD","/usr/local/bin/linkd-healthcheck"]|{"/var/lib/linkd":{}}|{"8080/tcp":{}}') ;;
*) fail "image config: $config" ;;
esac

start
uid="$(pm exec "$name" id -u)"
[ "$uid" != 0 ] || fail "the container's user is root"
# Every process of the container, as the host sees it (rootful: no user namespace).
host_uids="$(pm top "$name" huser | tail -n +2 | sort -u | paste -sd ' ')"
[ "$host_uids" = 10001 ] || fail "processes run as host uids: $host_uids"
say "runs as uid $uid (host: $host_uids)"

# Requests through the published port do not come from loopback inside the
# container: protected mode needs a key, made as an operator would.
key="$(pm exec "$name" linkd keys create --name deploy-test --admin | head -n 1)"
case "$key" in lnk_*) ;; *) fail "linkd keys create printed '$key'" ;; esac
user_id="$(expect 201 "$(api POST /users '{"username":"deploy","email":"deploy@example.com"}')" \
    "POST /users" | field id)"
link="$(expect 201 "$(api POST /urls "{\"user_id\":$user_id,\"original_url\":\"https://example.com/deploy?x=1\"}")" \
    "POST /urls")"
url_id="$(printf '%s' "$link" | field id)"
code="$(printf '%s' "$link" | field short_code)"
redirect="$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{redirect_url}' "$url/$code" || true)"
[ "$redirect" = "302 https://example.com/deploy?x=1" ] || fail "GET /$code: $redirect"
say "user $user_id, link $url_id ($code), GET /$code: $redirect"

pm healthcheck run "$name" >/dev/null || fail "podman healthcheck run: unhealthy"
if pm exec -e LINKD_LISTEN=127.0.0.1:1 "$name" linkd-healthcheck >/dev/null 2>&1; then
    fail "the health probe passed against a closed port"
fi
say "HEALTHCHECK passes (and fails on a closed port)"

stop
pm rm "$name" >/dev/null
started=no
start
expect 200 "$(api GET "/users/$user_id")" "GET /users/$user_id after the restart" >/dev/null
expect 200 "$(api GET "/urls/$url_id")" "GET /urls/$url_id after the restart" >/dev/null
# The one redirect before the stop: its click was queued, SIGTERM wrote it.
clicks="$(expect 200 "$(api GET "/events?url_id=$url_id&event_type=click")" "GET /events" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
[ "$clicks" = 1 ] || fail "$clicks clicks in the new container's database, not 1"
redirect="$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{redirect_url}' "$url/$code" || true)"
[ "$redirect" = "302 https://example.com/deploy?x=1" ] || fail "GET /$code after the restart: $redirect"
say "a new container on the volume has the key, the user, the link and its click"
pm healthcheck run "$name" >/dev/null || fail "podman healthcheck run after the restart: unhealthy"
stop
echo "deploy.container: passed in ${SECONDS}s"
