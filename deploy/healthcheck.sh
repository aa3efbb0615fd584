#!/bin/bash
# The container's HEALTHCHECK: GET /health (or the path given, such as
# /health/ready) on the address of LINKD_LISTEN and exit 0 only on a 200.
# bash's /dev/tcp, so the image needs no HTTP client.
set -eu

path="${1:-/health}"

listen="${LINKD_LISTEN:-0.0.0.0:8080}"
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"
host="${host%]}"
case "$host" in
"" | 0.0.0.0 | ::) host=127.0.0.1 ;;
esac

exec 3<>"/dev/tcp/$host/$port"
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
status=""
IFS=$' \t\r' read -r -t 4 _ status _ <&3 || true
if [ "$status" = 200 ]; then
    exit 0
fi
echo "linkd-healthcheck: GET $path on $host:$port answered ${status:-nothing}" >&2
exit 1
