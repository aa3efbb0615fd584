#!/bin/sh
# Takes one linkd node out of nginx's upstream, or puts it back, without a
# failed request: the rolling restart of docs/deploy.md#rolling-restart and
# docs/adr/0015-rolling-restart-through-nginx.md.
#
# Usage: upstream-node.sh out ADDR    mark `server ADDR` down, reload nginx, and
#                                     return once no nginx worker that could
#                                     still send to ADDR is left
#        upstream-node.sh in ADDR     the reverse (run `ready ADDR` first)
#        upstream-node.sh ready ADDR  wait until http://ADDR/health/ready is 200
#
# ADDR is the node's address as the upstream lists it (host:port). A rolling
# restart runs, for each node in turn: out, stop and start the node, ready, in.
#
# Environment:
#   NGINX_CONF   the file with the upstream (/etc/nginx/conf.d/linkd.conf)
#   NGINX_PID    nginx's pid file (/run/nginx.pid)
#   NGINX        how to run nginx for `-t` ("nginx"; with -c/-p if not the default)
#   WAIT_S       how long to wait for old workers or for readiness (90)
#
# Why a reload: nginx without active health checks goes on sending to a node
# until requests to it fail, and a POST that failed after it was sent is not
# retried. After a reload the new workers never pick the node marked down; the
# old ones finish the requests they have and close their idle connections to
# it themselves, then exit. Once they are gone the node has no connection from
# nginx and a SIGTERM has nothing to race with.
set -eu

conf="${NGINX_CONF:-/etc/nginx/conf.d/linkd.conf}"
pidfile="${NGINX_PID:-/run/nginx.pid}"
nginx_cmd="${NGINX:-nginx}"
wait_s="${WAIT_S:-90}"

die() {
    echo "upstream-node: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 out|in|ready HOST:PORT" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
addr=$2
case "$addr" in
*[!A-Za-z0-9.:_\[\]-]* | "") die "not an address: $addr" ;;
esac

# ADDR as a regular expression: its dots (and an IPv6 address's brackets) literal.
re=$(printf '%s' "$addr" | sed 's/[].[]/\\&/g')

# The `server ADDR ...;` line of the upstream, exactly once.
server_lines() {
    grep -cE "^[[:space:]]*server[[:space:]]+${re}[[:space:];]" "$conf" || true
}

# Rewrites the server line of ADDR with or without ` down` before its `;`.
mark() {
    n=$(server_lines)
    [ "$n" -eq 1 ] || die "$conf has $n server lines for $addr, expected 1"
    tmp="$conf.upstream-node.$$"
    if [ "$1" = down ]; then
        sed -E "/^[[:space:]]*server[[:space:]]+${re}[[:space:];]/{/[[:space:]]down[[:space:]]*;/!s/[[:space:]]*;/ down;/}" \
            "$conf" >"$tmp"
    else
        sed -E "/^[[:space:]]*server[[:space:]]+${re}[[:space:];]/s/[[:space:]]+down[[:space:]]*;/;/" \
            "$conf" >"$tmp"
    fi
    cat "$tmp" >"$conf" # keeps the file's owner and mode
    rm -f "$tmp"
}

workers() {
    ps -o pid= --ppid "$1" | tr -d ' ' | sort
}

# Reloads nginx and waits until every worker it had before has exited.
reload() {
    # shellcheck disable=SC2086
    if ! $nginx_cmd -t -q; then
        cat "$conf.upstream-node.orig" >"$conf"
        die "nginx -t refused the change; $conf is as it was"
    fi
    [ -s "$pidfile" ] || die "no nginx pid file at $pidfile"
    master=$(cat "$pidfile")
    old=" $(workers "$master" | tr '\n' ' ') "
    kill -HUP "$master"
    end=$(($(date +%s) + wait_s))
    while :; do
        now=$(workers "$master")
        left=""
        fresh=0
        for p in $now; do
            case "$old" in
            *" $p "*) left="$left $p" ;;
            *) fresh=$((fresh + 1)) ;;
            esac
        done
        [ -z "$left" ] && [ "$fresh" -gt 0 ] && return 0
        [ "$(date +%s)" -lt "$end" ] || die "nginx's old workers ($left) still run after ${wait_s}s"
        sleep 0.1
    done
}

ready() {
    end=$(($(date +%s) + wait_s))
    until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$addr/health/ready")" = 200 ]; do
        [ "$(date +%s)" -lt "$end" ] || die "$addr not ready after ${wait_s}s"
        sleep 0.1
    done
}

case "$cmd" in
out | in)
    cp "$conf" "$conf.upstream-node.orig"
    trap 'rm -f "$conf.upstream-node.orig"' EXIT
    if [ "$cmd" = out ]; then mark down; else mark up; fi
    reload
    ;;
ready) ready ;;
*) usage ;;
esac
