#!/bin/bash
# The compose stack for real (deploy/compose/compose.yaml, docs/deploy.md#compose):
# scripts/compose.sh up with the local images (the third-party images built
# from Debian packages; no registry is reachable here), in a project, network
# and volumes of its own, nginx and the monitoring ports on ephemeral
# 127.0.0.1 ports. Then: X-Forwarded-For believed from nginx only; through
# nginx a key, a user, a link and its 302,
# redirects answered by all three nodes, their clicks in the one database;
# Prometheus with the three nodes' targets up, the rules loaded and the
# Alertmanager found; Alertmanager ready. `compose.sh down` removes the
# containers and keeps the volumes; a second `up` still redirects the link.
#
# Grafana is not run: Debian 12 has no grafana package, so no local image
# exists. The test says so and does not count it as checked.
#
# Exits 77 (ctest: skipped) with the reason when podman cannot run a container
# on this host at all; every other problem is a failure. Everything it makes
# is named after the project and removed on exit (the images' cached layers stay).
set -eu -o pipefail

test_name=deploy.compose_stack
name="lnkcompose$$"
project="$name"
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/lib.sh"

tag="localhost/linkd:$project"
logs="$work/logs"
export LINKD_COMPOSE_DIR="$work/deploy/compose" LINKD_COMPOSE_PROJECT="$project" \
    LINKD_COMPOSE_IMAGES=local LINKD_IMAGE="$tag" LINKD_BASE_IMAGE="$base" \
    LINKD_COMPOSE_LOG_DIR="$logs" LINKD_BASE_CACHE="$cache"

cleanup() {
    if [ -f "$LINKD_COMPOSE_DIR/.env" ]; then
        "$repo/scripts/compose.sh" down --volumes >/dev/null 2>&1 || true
    fi
    podman rmi "$tag" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Shows the stack's state and the last lines of each container's log.
stack_fail() {
    echo "FAILED: $*" >&2
    podman ps -a --filter "label=io.podman.compose.project=$project" \
        --format '{{.Names}} {{.Status}}' >&2 || true
    local c
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
        echo "--- $c:" >&2
        podman logs --tail 15 "$c" 2>&1 | cut -c1-300 >&2 || true
    done
    [ ! -f "$logs/podman-compose.log" ] || tail -n 20 "$logs/podman-compose.log" >&2
    exit 1
}

key=""
# api METHOD PATH [JSON]: through nginx; prints the body, then the status on a line of its own.
api() {
    local args=(-s --max-time 10 -X "$1" -H "Authorization: Bearer $key" -w '\n%{http_code}')
    if [ $# -gt 2 ]; then
        args+=(-H 'Content-Type: application/json' -d "$3")
    fi
    curl "${args[@]}" "$url$2" || true
}
expect() {
    local status="${2##*$'\n'}" body="${2%$'\n'*}"
    [ "$status" = "$1" ] || stack_fail "$3: expected $1, got ${status:-no answer}: $body"
    printf '%s' "$body"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

check_podman
command -v podman-compose >/dev/null || fail "podman-compose is not installed (scripts/install-deps.sh test installs it)"

# The stack's files, copied: this run's .env must not touch the tree's.
mkdir -p "$work/deploy" "$logs"
for d in compose nginx prometheus grafana; do
    cp -r "$repo/deploy/$d" "$work/deploy/$d"
done
rm -f "$LINKD_COMPOSE_DIR/.env"
read -r http_port prom_port am_port graf_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
# A /24 of 10.89.200-249 that no podman network uses.
used="$(podman network ls --format '{{range .Subnets}}{{.Subnet}} {{end}}')"
subnet=""
for i in $(seq 200 249); do
    case " $used " in *" 10.89.$i.0/24 "*) continue ;; esac
    subnet="10.89.$i.0/24"
    break
done
[ -n "$subnet" ] || fail "no free subnet in 10.89.200-249.0/24"
# Every address of it but the gateway (.1), as .env.example has it.
trusted="$(python3 -c '
import ipaddress, sys
net = ipaddress.ip_network(sys.argv[1])
first_two = ipaddress.ip_network(f"{net.network_address}/{net.prefixlen + 7}")
print(",".join(str(n) for n in sorted(net.address_exclude(first_two))))' "$subnet")"
sed -i -e "s/^LINKD_HTTP_ADDR=.*/LINKD_HTTP_ADDR=127.0.0.1/" \
    -e "s/^LINKD_HTTP_PORT=.*/LINKD_HTTP_PORT=$http_port/" \
    -e "s/^PROMETHEUS_PORT=.*/PROMETHEUS_PORT=$prom_port/" \
    -e "s/^ALERTMANAGER_PORT=.*/ALERTMANAGER_PORT=$am_port/" \
    -e "s/^GRAFANA_PORT=.*/GRAFANA_PORT=$graf_port/" \
    -e "s|^LINKD_SUBNET=.*|LINKD_SUBNET=$subnet|" \
    -e "s|^LINKD_TRUSTED_PROXIES=.*|LINKD_TRUSTED_PROXIES=$trusted|" \
    -e "s/^LINKD_WORKERS=.*/LINKD_WORKERS=1/" \
    -e "s/^LINKD_CACHE_MB=.*/LINKD_CACHE_MB=16/" \
    "$LINKD_COMPOSE_DIR/.env.example"
url="http://127.0.0.1:$http_port"
prom="http://127.0.0.1:$prom_port"

say "compose.sh up (project $project, subnet $subnet, nginx on $url)"
t0=$SECONDS
"$repo/scripts/compose.sh" up >"$work/up.out" 2>&1 || {
    cat "$work/up.out" >&2
    stack_fail "compose.sh up"
}
up_s=$((SECONDS - t0))
grep -q "^linkd (nginx, 3 nodes): http://127.0.0.1:$http_port/" "$work/up.out" ||
    stack_fail "compose.sh up did not print nginx's URL: $(cat "$work/up.out")"
grep -q '^Grafana: .*not started' "$work/up.out" || stack_fail "compose.sh up did not say Grafana is left out"
sed -n 's/^compose: /  /p' "$work/up.out"
say "up in ${up_s}s, every stage healthy"
grep -q 'generated passwords' "$work/up.out" || stack_fail ".env was not generated"
pw="$(sed -n 's/^POSTGRES_PASSWORD=//p' "$LINKD_COMPOSE_DIR/.env")"
[ "${#pw}" = 48 ] || stack_fail "generated POSTGRES_PASSWORD has ${#pw} characters"

# X-Forwarded-For: the nodes believe nginx, not the gateway through which a
# client on this host reaches the published port. Before any key exists only
# local clients may use the management API: a claim of 127.0.0.1 sent through
# nginx from here must be refused, while nginx's own claim is believed.
status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'X-Forwarded-For: 127.0.0.1' "$url/users" || true)"
[ "$status" = 403 ] || stack_fail "GET /users with a forged X-Forwarded-For through nginx: $status, not 403"
status="$(podman exec "${project}_nginx_1" curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    -H 'X-Forwarded-For: 127.0.0.1' http://linkd1:8080/users || true)"
[ "$status" = 200 ] || stack_fail "GET /users from nginx's address for 127.0.0.1: $status, not 200"
say "X-Forwarded-For: believed from nginx (200), not from the gateway (403)"

# Management requests through nginx come from the network, not loopback:
# protected mode wants a key, made as an operator would.
key="$(podman exec "${project}_linkd1_1" linkd keys create --name compose-test --admin | head -n 1)"
case "$key" in lnk_*) ;; *) stack_fail "linkd keys create printed '$key'" ;; esac
user_id="$(expect 201 "$(api POST /users '{"username":"compose","email":"compose@example.com"}')" \
    "POST /users" | field id)"
link="$(expect 201 "$(api POST /urls "{\"user_id\":$user_id,\"original_url\":\"https://example.com/compose?x=1\"}")" \
    "POST /urls")"
url_id="$(printf '%s' "$link" | field id)"
code="$(printf '%s' "$link" | field short_code)"
for i in $(seq 1 9); do
    redirect="$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{redirect_url}' "$url/$code" || true)"
    [ "$redirect" = "302 https://example.com/compose?x=1" ] || stack_fail "GET /$code (#$i) through nginx: $redirect"
done
say "user $user_id, link $url_id ($code): 9 x GET /$code through nginx: 302 to the link"

# nginx's access log names the node of each request: the redirects went to all three.
nodes="$(podman exec "${project}_nginx_1" cat /var/log/nginx/linkd.access.log |
    python3 -c '
import json, sys
code = sys.argv[1]
ups = {json.loads(l)["upstream"] for l in sys.stdin if json.loads(l)["uri"] == "/" + code}
print(len(ups), " ".join(sorted(ups)))' "$code")"
[ "${nodes%% *}" = 3 ] || stack_fail "the redirects reached these nodes only: $nodes"
say "nginx sent the redirects to 3 nodes: ${nodes#* }"

# Each node queued its own clicks; all of them land in the one database.
clicks=0
for i in $(seq 1 50); do
    clicks="$(expect 200 "$(api GET "/events?url_id=$url_id&event_type=click")" "GET /events" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
    [ "$clicks" = 9 ] && break
    sleep 0.2
done
[ "$clicks" = 9 ] || stack_fail "$clicks clicks in the database, not 9"
say "the 9 clicks from 3 nodes are in PostgreSQL"

# Prometheus: the three nodes up (the first scrape comes within the 15 s interval).
targets=""
for i in $(seq 1 90); do
    targets="$(curl -s --max-time 5 "$prom/api/v1/targets?state=active" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(sorted(x["labels"]["instance"] + "=" + x["health"] for x in t if x["labels"]["job"] == "linkd")))' 2>/dev/null || true)"
    [ "$targets" = "linkd1:8080=up linkd2:8080=up linkd3:8080=up" ] && break
    sleep 1
done
[ "$targets" = "linkd1:8080=up linkd2:8080=up linkd3:8080=up" ] ||
    stack_fail "Prometheus's linkd targets: ${targets:-none}"
say "Prometheus: $targets"
rules="$(curl -s --max-time 5 "$prom/api/v1/rules" |
    python3 -c 'import json, sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')"
[ "$rules" -gt 0 ] || stack_fail "Prometheus loaded no rules"
ams="$(curl -s --max-time 5 "$prom/api/v1/alertmanagers" |
    python3 -c 'import json, sys; print(" ".join(a["url"] for a in json.load(sys.stdin)["data"]["activeAlertmanagers"]))')"
case "$ams" in http://*:9093/api/v2/alerts) ;; *) stack_fail "Prometheus's Alertmanagers: '$ams'" ;; esac
status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$am_port/-/ready" || true)"
[ "$status" = 200 ] || stack_fail "Alertmanager /-/ready: $status"
say "Prometheus: $rules rules loaded, Alertmanager $ams; Alertmanager ready"
echo "$test_name: Grafana NOT CHECKED: no local image (Debian 12 has no grafana package); the static test checks its provisioning"

t0=$SECONDS
"$repo/scripts/compose.sh" down >"$work/down.out" 2>&1 || {
    cat "$work/down.out" >&2
    stack_fail "compose.sh down"
}
down_s=$((SECONDS - t0))
left="$(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}' | paste -sd ' ')"
[ -z "$left" ] || stack_fail "containers left after down: $left"
podman volume exists "${project}_pgdata" || stack_fail "down removed the database volume"
say "down in ${down_s}s: no container left, the volumes kept"

t0=$SECONDS
"$repo/scripts/compose.sh" up >"$work/up2.out" 2>&1 || {
    cat "$work/up2.out" >&2
    stack_fail "compose.sh up (again)"
}
up2_s=$((SECONDS - t0))
sed -n 's/^compose: /  /p' "$work/up2.out"
redirect="$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{redirect_url}' "$url/$code" || true)"
[ "$redirect" = "302 https://example.com/compose?x=1" ] || stack_fail "GET /$code after down and up: $redirect"
say "up again in ${up2_s}s on the kept volumes: GET /$code still 302"

echo "$test_name: passed in ${SECONDS}s (up ${up_s}s, down ${down_s}s, up again ${up2_s}s); Grafana not run"
