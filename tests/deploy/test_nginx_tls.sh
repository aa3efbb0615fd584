#!/bin/bash
# deploy/nginx/linkd-tls.conf, as docs/deploy.md#tls-with-certbot installs it
# beside linkd.conf's upstream, map and log_format, with a self-signed
# certificate in place of Let's Encrypt's: `nginx -t` accepts it, and a real
# nginx on 127.0.0.1 in front of a linkd node answers HTTPS with HSTS, sends
# plain HTTP to HTTPS with a 301, and linkd (LINKD_PUBLIC_URL=https://sho.rt)
# answers short links on https. Its `location /` block is linkd.conf's.
# Environment: LINKD_BIN  the linkd binary.
set -eu -o pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
plain="$repo/deploy/nginx/linkd.conf"
tls="$repo/deploy/nginx/linkd-tls.conf"
fail() { echo "FAILED: $*" >&2; exit 1; }
[ -x "${LINKD_BIN:-}" ] || fail "LINKD_BIN is not an executable: '${LINKD_BIN:-}'"
command -v nginx >/dev/null || fail "nginx is not installed (scripts/install-deps.sh test)"
command -v openssl >/dev/null || fail "openssl is not installed (a dependency of ca-certificates)"

# the last `location /` block of a file: the proxy's
location() { awk '/^    location \/ \{$/ { b = ""; on = 1 } on { b = b $0 "\n" } on && /^    }$/ { on = 0 }
                  END { printf "%s", b }' "$1"; }
[ -n "$(location "$plain")" ] || fail "no 'location / {' block in linkd.conf"
diff <(location "$plain") <(location "$tls") ||
    fail "the location / block of linkd-tls.conf differs from linkd.conf's"

tmp="$(mktemp -d /tmp/linkd-tls.XXXXXX)"
linkd_pid="" nginx_pid=""
cleanup() {
    [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
    [ -z "$linkd_pid" ] || kill "$linkd_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sho.rt \
    -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" 2>/dev/null

# the node
LINKD_LISTEN=127.0.0.1:0 DATABASE_URL="sqlite://$tmp/linkd.db" LINKD_WORKERS=1 \
    LINKD_PUBLIC_URL=https://sho.rt LINKD_TRUSTED_PROXIES=127.0.0.1 \
    "$LINKD_BIN" serve >"$tmp/linkd.out" 2>"$tmp/linkd.err" </dev/null &
linkd_pid=$!
lport=""
for _ in $(seq 200); do
    lport="$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/linkd.out")"
    [ -n "$lport" ] && break
    kill -0 "$linkd_pid" 2>/dev/null || fail "linkd exited: $(cat "$tmp/linkd.err")"
    sleep 0.05
done
[ -n "$lport" ] || fail "linkd did not listen"

# the proxy: linkd.conf up to its server block, one node; then linkd-tls.conf
p80="$(free_port)" p443="$(free_port)"
sed -n '/^server {$/q;p' "$plain" |
    awk -v node="127.0.0.1:$lport" '/^    server [^ ]+:[0-9]+ / { if (!seen++) { sub(/server [^ ]+:[0-9]+ /, "server " node " "); print } next } { print }' \
        >"$tmp/site.conf"
grep -q "server 127.0.0.1:$lport " "$tmp/site.conf" || fail "linkd.conf's upstream servers changed"
sed -e "s|^    listen 80;|    listen 127.0.0.1:$p80;|" \
    -e "s|^    listen 443 ssl http2;|    listen 127.0.0.1:$p443 ssl http2;|" \
    -e "s|/etc/letsencrypt/live/sho.rt/|$tmp/|" \
    -e "s|/var/log/nginx/linkd.access.log|$tmp/access.log|" "$tls" >>"$tmp/site.conf"
for want in "listen 127.0.0.1:$p80;" "listen 127.0.0.1:$p443 ssl http2;" \
    "ssl_certificate $tmp/fullchain.pem;" "ssl_certificate_key $tmp/privkey.pem;" \
    "access_log $tmp/access.log linkd_json;"; do
    grep -qF "$want" "$tmp/site.conf" || fail "linkd-tls.conf changed: no '$want' after the substitutions"
done
for t in body proxy fastcgi uwsgi scgi; do mkdir "$tmp/$t"; done
[ "$(id -u)" != 0 ] || chown nobody "$tmp"/{body,proxy,fastcgi,uwsgi,scgi}
cat >"$tmp/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log notice;
events { worker_connections 256; }
http {
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/site.conf;
}
CONF
nginx -t -q -p "$tmp" -c "$tmp/nginx.conf" || fail "nginx -t refused the TLS configuration"
nginx -p "$tmp" -c "$tmp/nginx.conf" </dev/null &
nginx_pid=$!
for _ in $(seq 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$p443/health" && break
    kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited: $(cat "$tmp/error.log")"
    sleep 0.05
done

https() { curl -sk --resolve "sho.rt:$p443:127.0.0.1" -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$@"; }
header() { tr -d '\r' <"$tmp/h" | sed -n "s/^$1: //Ip"; }

[ "$(https https://sho.rt:$p443/health)" = 200 ] || fail "GET /health over HTTPS: $(cat "$tmp/b")"
[ "$(header strict-transport-security)" = "max-age=63072000" ] ||
    fail "no HSTS header on an HTTPS answer: $(cat "$tmp/h")"

code="$(curl -s -D "$tmp/h" -o /dev/null -w '%{http_code}' -H 'Host: sho.rt' "http://127.0.0.1:$p80/abc?x=1")"
[ "$code" = 301 ] && [ "$(header location)" = "https://sho.rt/abc?x=1" ] ||
    fail "plain HTTP is not sent to HTTPS: $code $(cat "$tmp/h")"

[ "$(https -H 'Content-Type: application/json' -d '{"username":"tls","email":"tls@example.com"}' \
    https://sho.rt:$p443/users)" = 201 ] || fail "POST /users: $(cat "$tmp/b")"
uid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/b")"
[ "$(https -H 'Content-Type: application/json' \
    -d "{\"user_id\":$uid,\"original_url\":\"https://example.com/tls\"}" \
    https://sho.rt:$p443/shorten)" = 201 ] || fail "POST /shorten: $(cat "$tmp/b")"
short="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["short_url"])' "$tmp/b")"
case "$short" in https://sho.rt/?*) ;; *) fail "short_url is not on https://sho.rt: $short" ;; esac
[ "$(https "${short/sho.rt/sho.rt:$p443}")" = 302 ] && [ "$(header location)" = https://example.com/tls ] ||
    fail "the short link does not redirect over HTTPS: $(cat "$tmp/h")"
[ "$(header strict-transport-security)" = "max-age=63072000" ] || fail "no HSTS header on a redirect"

kill "$nginx_pid"
wait "$nginx_pid" || true
nginx_pid=""
kill -TERM "$linkd_pid"
rc=0
wait "$linkd_pid" || rc=$?
linkd_pid=""
[ "$rc" = 0 ] || fail "linkd exited $rc: $(tail -20 "$tmp/linkd.err")"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$tmp/linkd.err"; then
    fail "sanitizer report: $(tail -40 "$tmp/linkd.err")"
fi
echo "OK: nginx -t accepts linkd-tls.conf; HTTPS with HSTS, HTTP sent to HTTPS, short links on https"
