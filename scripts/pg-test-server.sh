#!/bin/sh
# A private PostgreSQL server for the tests: Debian's postgresql-15, a cluster
# of its own in DIR, on 127.0.0.1 and a free port, with fsync on. The cluster
# runs as an unprivileged user (initdb refuses root): as root, the system user
# linkd-pgtest, made here when missing; otherwise the caller.
#
# Usage: pg-test-server.sh start DIR     start (initdb first if DIR has no
#                                        cluster); prints the URL; idempotent
#        pg-test-server.sh stop DIR      pg_ctl stop -m fast; keeps the cluster
#        pg-test-server.sh url DIR       postgres://linkd:PASS@127.0.0.1:PORT/linkd
#        pg-test-server.sh admin-url DIR the same as the superuser postgres
#        pg-test-server.sh clean DIR     stop, then remove DIR
#        pg-test-server.sh run CMD...    start a server in a new temporary DIR,
#                                        run CMD with it, stop it, remove DIR
#
# CMD of `run` sees LNK_TEST_PG_DIR (DIR), LNK_TEST_PG_URL (the database
# linkd, owned by the role linkd, which may create databases),
# LNK_TEST_PG_ADMIN_URL and LNK_TEST_DATABASE_URL (= LNK_TEST_PG_URL, for the
# store contract tests). Its exit status is run's. A restart (`start DIR`
# after `stop DIR`) keeps the port, so clients reconnect to the same URL.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
self="$repo/scripts/pg-test-server.sh"
bin="${LNK_PG_BIN:-/usr/lib/postgresql/15/bin}"
os_user=linkd-pgtest
role=linkd

die() {
    echo "pg-test-server: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop|url|admin-url|clean DIR | run CMD [ARG...]" >&2
    exit 2
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid="$os_user" --regid="$(id -g "$os_user")" --clear-groups -- "$@"
    else
        "$@"
    fi
}

ensure_binaries() {
    [ -x "$bin/postgres" ] || "$repo/scripts/install-deps.sh" pg
    [ -x "$bin/postgres" ] || die "no PostgreSQL server in $bin"
}

# As root: the system user that owns clusters. Two tests may race to make
# it; the loser finds it made.
ensure_os_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id -u "$os_user" >/dev/null 2>&1 && return 0
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$os_user" 2>/dev/null || true
    id -u "$os_user" >/dev/null 2>&1 || die "cannot create the system user $os_user"
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

secret() {
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

running() {
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

show_log() {
    echo "--- $dir/server.log (last 40 lines) ---" >&2
    tail -n 40 "$dir/server.log" >&2 2>/dev/null || echo "(no log)" >&2
}

psql_admin() {
    PGPASSWORD='' "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" \
        -U postgres -d postgres "$@"
}

init_cluster() {
    secret >"$dir/admin-password"
    secret >"$dir/password"
    chmod 600 "$dir/admin-password" "$dir/password"
    [ "$(id -u)" -ne 0 ] || chown "$os_user" "$dir/admin-password" "$dir/password"
    # Sockets only in DIR: no clash with a system cluster in /var/run/postgresql.
    # Host logins need the password; the socket (mode 0700, DIR is private) is
    # how this script administers the cluster.
    if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/admin-password" \
        -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 --no-sync \
        >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed in $dir/data"
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF

# pg-test-server.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
}

start_server() {
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $(cat "$dir/port")" \
        -w -t 60 start >/dev/null 2>&1
}

# The role and database the tests use, made once.
make_role() {
    pw=$(cat "$dir/password")
    have=$(psql_admin -tA -c "SELECT count(*) FROM pg_roles WHERE rolname = '$role'")
    if [ "$have" = 0 ]; then
        psql_admin -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$pw'"
        psql_admin -c "CREATE DATABASE $role OWNER $role"
    fi
    port=$(cat "$dir/port")
    echo "postgres://$role:$pw@127.0.0.1:$port/$role" >"$dir/url"
    echo "postgres://postgres:$(cat "$dir/admin-password")@127.0.0.1:$port/postgres" \
        >"$dir/admin-url"
}

cmd_start() {
    ensure_binaries
    ensure_os_user
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # the socket's path must fit in sun_path (108 bytes) with /.s.PGSQL.NNNNN
    [ "${#dir}" -le 90 ] || die "DIR is longer than 90 bytes (the socket lives there): $dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$os_user:$(id -g "$os_user")" "$dir"
        chmod 700 "$dir"
        as_owner test -w "$dir" ||
            die "$os_user cannot write $dir (a parent directory shuts it out); use a DIR under /tmp"
    fi
    if running; then
        [ -f "$dir/url" ] || make_role
        cat "$dir/url"
        return 0
    fi
    fresh=0
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        init_cluster
        fresh=1
    fi
    # A fresh cluster retries on another port when its port was taken
    # between the pick and the bind; a restart keeps its port, which its
    # clients' URLs name.
    tries=0
    while :; do
        tries=$((tries + 1))
        if [ "$fresh" = 1 ] || [ ! -f "$dir/port" ]; then
            free_port >"$dir/port"
        fi
        if start_server; then
            break
        fi
        if [ "$fresh" = 1 ] && [ "$tries" -lt 5 ] &&
            grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null; then
            continue
        fi
        show_log
        die "postgres did not start on port $(cat "$dir/port") (cluster $dir/data)"
    done
    make_role
    cat "$dir/url"
}

cmd_stop() {
    [ -d "$dir/data" ] || return 0
    running || return 0
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
        show_log
        die "pg_ctl stop failed (cluster $dir/data)"
    fi
}

cmd_clean() {
    [ -d "$dir" ] || return 0
    cmd_stop
    rm -rf "$dir"
}

# Removes DIR's cluster if `run` goes without cleaning up (it was killed):
# a detached watcher outlives it, notices, and stops the server.
watch_parent() {
    parent=$1
    # shellcheck disable=SC2016 # expanded by the watcher's shell
    (setsid sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" clean "$3"' \
        watcher "$parent" "$self" "$dir" </dev/null >/dev/null 2>&1 &)
}

cmd_run() {
    [ $# -gt 0 ] || usage
    dir=$(mktemp -d /tmp/linkd-pg.XXXXXX)
    trap 'cmd_clean' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    watch_parent $$
    url=$(cmd_start)
    export LNK_TEST_PG_DIR="$dir" LNK_TEST_PG_URL="$url" LNK_TEST_DATABASE_URL="$url"
    LNK_TEST_PG_ADMIN_URL=$(cat "$dir/admin-url")
    export LNK_TEST_PG_ADMIN_URL
    echo "pg-test-server: PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on" \
        "127.0.0.1:$(cat "$dir/port"), cluster $dir/data" >&2
    status=0
    "$@" || status=$?
    return $status
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
run)
    cmd_run "$@"
    exit $?
    ;;
start | stop | url | admin-url | clean)
    [ $# -eq 1 ] || usage
    dir=$1
    ;;
*) usage ;;
esac
case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
clean) cmd_clean ;;
url | admin-url)
    [ -f "$dir/$cmd" ] || die "no server was started in $dir"
    cat "$dir/$cmd"
    ;;
esac
