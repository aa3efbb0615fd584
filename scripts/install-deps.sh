#!/bin/sh
# Installs what linkd needs on Debian 12, idempotently: nothing is touched
# when every package is already there. Usage: install-deps.sh [build|test|bench|fuzz|image|compose|pg]
set -eu

# cmocka is in `build` because configuring the tree needs it (tests/CMakeLists.txt).
# hiredis and libevent: the Redis client (src/redis/). libsodium and
# libmaxminddb: link passwords and GeoIP countries (src/policy/). libqrencode
# and libpng: QR codes (src/codec/qr.c).
build="gcc libc6-dev make cmake pkg-config libh2o-evloop-dev libssl-dev libjansson-dev
       liburiparser-dev libsqlite3-dev liburcu-dev libpq-dev libhiredis-dev libevent-dev
       libsodium-dev libmaxminddb-dev libqrencode-dev libpng-dev libcmocka-dev"
# The container image (`make image`, tests/deploy): rootful podman with runc
# (scripts/container-image.sh says why), netavark and iptables for its network,
# debootstrap for the local Debian base.
image="podman runc netavark iptables debootstrap"
# The compose stack (`make up`, tests/deploy/test_compose*.sh): podman-compose,
# and aardvark-dns, which resolves the services' names on the stack's network.
compose="$image podman-compose aardvark-dns"
# The private PostgreSQL server of the tests (scripts/pg-test-server.sh) and
# the tests' own reads of its databases.
pg="postgresql-15 python3-psycopg2"
# tests/deploy also runs curl against the container and systemd-analyze;
# tests/monitoring runs Prometheus, promtool and amtool (deploy/prometheus/);
# tests/redis starts its own redis-server processes (the package's service is
# not used: on a machine without systemd as PID 1 it does not start either);
# tests/cluster puts nginx in front of three nodes; tests/qr reads the QR
# codes back with zbarimg.
test="libcmocka-dev python3 python3-pytest python3-requests python3-jsonschema python3-yaml
      clang-format sqlite3 iproute2 $compose curl systemd prometheus prometheus-alertmanager $pg
      redis-server nginx zbar-tools"
bench="nginx-light wrk $pg"
# `make fuzz`: clang's libFuzzer runtime (-fsanitize=fuzzer) is in
# libclang-rt-14-dev; cmocka because configuring the tree needs it.
fuzz="clang libclang-rt-14-dev libcmocka-dev"

case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $bench" ;;
fuzz) want="$build $fuzz" ;;
image) want="$image" ;;
compose) want="$compose" ;;
pg) want="$pg" ;;
*) echo "usage: $0 [build|test|bench|fuzz|image|compose|pg]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
