#!/bin/bash
# deploy/systemd/linkd.service passes `systemd-analyze verify` without a single
# message, and its exposure in `systemd-analyze security` stays at 2.0 or
# below ("OK"). Both run offline in a temporary root that holds the unit, the
# environment file, an executable at ExecStart's path (verify checks it) and
# the host's system units (verify resolves sysinit.target and the like there).
# Exits 77 (ctest: skipped) when systemd-analyze is missing.
# Environment: LINKD_BIN  the binary to put at /usr/local/bin/linkd
set -eu -o pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
unit="$repo/deploy/systemd/linkd.service"
max_exposure=20 # tenths: 2.0

command -v systemd-analyze >/dev/null ||
    { echo "SKIPPED: systemd-analyze is not installed (package systemd)"; exit 77; }
[ -x "${LINKD_BIN:-}" ] || { echo "FAILED: LINKD_BIN is not an executable: '${LINKD_BIN:-}'" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$LINKD_BIN" "$root/usr/local/bin/linkd"
install -D -m 0644 "$unit" "$root/etc/systemd/system/linkd.service"
install -D -m 0600 "$repo/deploy/systemd/linkd.env" "$root/etc/linkd/linkd.env"
mkdir -p "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"

verify() { systemd-analyze verify --man=no --root="$root" linkd.service 2>&1; }

# The check is only as good as verify's voice: a unit with a mistake must
# make it speak.
cp "$root/etc/systemd/system/linkd.service" "$root/good"
sed -i 's/^\[Service\]$/&\nProtectSystem=strictly/' "$root/etc/systemd/system/linkd.service"
if [ -z "$(verify || true)" ]; then
    echo "FAILED: systemd-analyze verify said nothing about ProtectSystem=strictly" >&2
    exit 1
fi
mv "$root/good" "$root/etc/systemd/system/linkd.service"

out="$(verify)" || { echo "FAILED: systemd-analyze verify: $out" >&2; exit 1; }
if [ -n "$out" ]; then
    echo "FAILED: systemd-analyze verify has something to say about $unit:" >&2
    echo "$out" >&2
    exit 1
fi
echo "deploy.systemd_unit: systemd-analyze verify: no message"

security="$(systemd-analyze security --offline=yes --root="$root" --threshold="$max_exposure" \
    linkd.service 2>&1)" || {
    echo "$security" | grep -E '✗|exposure' >&2
    echo "FAILED: exposure above $((max_exposure / 10)).$((max_exposure % 10))" >&2
    exit 1
}
echo "deploy.systemd_unit: $(echo "$security" | grep -o 'Overall exposure level.*')"
