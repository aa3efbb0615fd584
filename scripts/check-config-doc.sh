#!/bin/sh
# Fails when docs/configuration.md is not what `linkd config --markdown`
# prints, that is when a setting in include/linkd/config.h changed without
# the reference. Usage: check-config-doc.sh LINKD_BINARY
# To bring the page up to date: LINKD_BINARY config --markdown > docs/configuration.md
set -eu
[ $# -eq 1 ] || { echo "usage: $0 LINKD_BINARY" >&2; exit 2; }
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$1" config --markdown >"$out"
if ! diff -u docs/configuration.md "$out"; then
    echo "docs/configuration.md differs from \`linkd config --markdown\`;" \
         "regenerate it: $1 config --markdown > docs/configuration.md" >&2
    exit 1
fi
