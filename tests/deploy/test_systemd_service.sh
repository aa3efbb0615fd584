#!/bin/bash
# deploy/systemd/linkd.service under a real systemd: a container boots systemd
# with the unit enabled (tests/deploy/systemd.Containerfile, on the image that
# test_container.sh checks), and the test checks that the hardened service
# starts and serves /health and the API as a dynamic user, with seccomp, no
# capabilities and no new privileges; that /metrics can read what it needs;
# that a crash is followed by a restart; and that `systemctl stop` (SIGTERM)
# ends it with status 0 within TimeoutStopSec, its data kept for the next start.
#
# The container is privileged: systemd inside needs to mount and make the
# namespaces of the unit's sandbox. Exits 77 (ctest: skipped) when podman
# cannot run a container here or systemd does not boot in one.
set -eu -o pipefail

test_name=deploy.systemd_service
name="linkd-systemd-test-$$-$(date +%s)"
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ex() { pm exec "$name" "$@"; }
# in_curl ARGS...: curl inside the container, against the service on loopback.
in_curl() { ex curl -s --max-time 10 "$@" || true; }
prop() { ex systemctl show linkd.service -p "$1" --value; }
journal() {
    echo "--- systemctl status linkd and its journal:" >&2
    ex systemctl status linkd.service --no-pager -n 0 >&2 || true
    ex journalctl -u linkd.service --no-pager -n 30 >&2 || true
}
# wait_health: /health answers 200 within 20 s.
wait_health() {
    local i code=""
    for i in $(seq 1 200); do
        code="$(in_curl -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health)"
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    journal
    fail "/health answered ${code:-nothing} after 20 s (attempt $i)"
}

check_podman
build_image
say "building the systemd image on it"
pm build --format docker --layers "${limits[@]}" --build-arg "LINKD_IMAGE=$iid" \
    -f "$repo/tests/deploy/systemd.Containerfile" -t localhost/linkd-systemd:test \
    --iidfile "$work/systemd.iid" "$repo/deploy/systemd" >"$work/systemd-build.log" 2>&1 || {
    tail -n 40 "$work/systemd-build.log" >&2
    fail "podman build tests/deploy/systemd.Containerfile"
}

pm run -d --name "$name" --privileged --systemd=always --image-volume=ignore "${limits[@]}" \
    "$(cat "$work/systemd.iid")" >/dev/null || fail "podman run"
started=yes
# systemctl cannot connect until systemd has its socket up: ask again.
for _ in $(seq 1 180); do
    state="$(timeout 60 podman --runtime runc exec "$name" systemctl is-system-running --wait 2>&1 || true)"
    case "$state" in
    running | degraded) break ;;
    esac
    sleep 0.5
done
case "$state" in
running | degraded) ;;
*) skip "systemd did not boot in a container here: '$state'" ;;
esac
say "systemd is $state"

[ "$(prop ActiveState)" = active ] || {
    journal
    fail "linkd.service is $(prop ActiveState)"
}
wait_health
pid="$(prop MainPID)"
uid="$(ex stat -c %u "/proc/$pid")"
if [ "$uid" -lt 61184 ] || [ "$uid" -gt 65519 ]; then
    fail "linkd runs as uid $uid, not a dynamic user"
fi
status="$(ex grep -E '^(CapEff|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t ' ' ' | paste -sd ' ')"
[ "$status" = "CapEff: 0000000000000000 NoNewPrivs: 1 Seccomp: 2" ] || fail "sandbox of linkd: $status"
say "linkd.service active: uid $uid, $status"

# From loopback inside the container: protected mode serves it without a key.
created="$(in_curl -X POST -H 'Content-Type: application/json' -w '\n%{http_code}' \
    -d '{"username":"unit","email":"unit@example.com"}' http://127.0.0.1:8080/users)"
[ "${created##*$'\n'}" = 201 ] || fail "POST /users: $created"
link="$(in_curl -X POST -H 'Content-Type: application/json' \
    -d '{"user_id":1,"original_url":"https://example.com/unit"}' http://127.0.0.1:8080/urls)"
code="$(printf '%s' "$link" | python3 -c 'import json, sys; print(json.load(sys.stdin)["short_code"])')" ||
    fail "POST /urls: $link"
redirect="$(in_curl -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:8080/$code")"
[ "$redirect" = "302 https://example.com/unit" ] || fail "GET /$code: $redirect"
rss="$(in_curl http://127.0.0.1:8080/metrics | awk '$1 == "process_resident_memory_bytes" { print $2 }')"
awk -v r="${rss:-0}" 'BEGIN { exit !(r > 0) }' || fail "process_resident_memory_bytes is '${rss}'"
say "user, link, GET /$code: $redirect; /metrics reads its memory ($rss bytes)"

ex systemctl kill -s SIGSEGV linkd.service
for _ in $(seq 1 100); do
    [ "$(prop NRestarts)" = 1 ] && [ "$(prop ActiveState)" = active ] && break
    sleep 0.1
done
[ "$(prop NRestarts)" = 1 ] || {
    journal
    fail "no restart after a crash (NRestarts=$(prop NRestarts))"
}
wait_health
say "restarted after SIGSEGV (RestartSec=2s)"

t0="$(date +%s%N)"
ex systemctl stop linkd.service || fail "systemctl stop"
ms=$((($(date +%s%N) - t0) / 1000000))
result="$(prop Result) $(prop ExecMainCode) $(prop ExecMainStatus)"
# Result "timeout" would be a SIGKILL after TimeoutStopSec; ExecMainCode 1:
# exited (2: killed by a signal).
[ "$result" = "success 1 0" ] || {
    journal
    fail "after systemctl stop: Result, ExecMainCode, ExecMainStatus = $result"
}
say "systemctl stop: exit 0 after $ms ms"

ex systemctl start linkd.service || fail "systemctl start"
wait_health
user="$(in_curl -w '\n%{http_code}' http://127.0.0.1:8080/users/1)"
[ "${user##*$'\n'}" = 200 ] || fail "GET /users/1 after a restart: $user"
say "started again, the user is still there"
echo "$test_name: passed in ${SECONDS}s"
