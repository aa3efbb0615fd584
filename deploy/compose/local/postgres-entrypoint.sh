#!/bin/bash
# The local PostgreSQL image's entrypoint (deploy/compose/local/Containerfile),
# doing what the official postgres image does for the compose stack: on an
# empty data directory, initdb with POSTGRES_USER as the superuser and
# POSTGRES_PASSWORD as its password (scram-sha-256 over the network), and
# POSTGRES_DB created; then the server in the foreground as the postgres user.
set -eu

bin=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

install -d -o postgres -g postgres -m 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -n "${POSTGRES_PASSWORD:-}" ] || {
        echo "postgres-entrypoint: POSTGRES_PASSWORD is empty" >&2
        exit 1
    }
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\" OWNER \"$user\"" |
            as_postgres "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)" >&2
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
