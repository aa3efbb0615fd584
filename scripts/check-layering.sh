#!/bin/sh
# Fails when a backend header leaks out of its backend file (hiredis and
# libevent: src/redis/ only; libsodium and libmaxminddb: one file each of
# src/policy/), or when h2o types escape src/http/
# (DESIGN.md §2, STYLE.md §2).
set -eu
cd "$(dirname "$0")/.."
status=0
check() { # pattern allowed-path-regex
    bad=$(grep -rlE "$1" src include | grep -vE "$2" || true)
    if [ -n "$bad" ]; then
        echo "layering: '$1' used outside $2:" $bad
        status=1
    fi
}
check '#include <sqlite3.h>' '^src/store/store_sqlite'
check '#include <libpq-fe.h>' '^src/store/store_pg'
check '#include <hiredis' '^src/redis/'
check '#include <event2/' '^src/redis/'
check '#include <h2o' '^src/http/'
check '#include <uriparser' '^src/codec/url\.c$'
check '#include <sodium' '^src/policy/password\.c$'
check '#include <maxminddb' '^src/policy/geo\.c$'
exit $status
