# SPDX-License-Identifier: MIT
"""Protection (DESIGN.md §6): API keys and the access matrix of every
management endpoint, protected mode seen from a real non-loopback address (a
network namespace joined by a veth pair), rate limits and their headers,
trusted proxies, and the input limits: header size, connection count, CSV rows
and the read timeout that cuts off slowloris clients."""

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import requests

import backend
from apiclient import expect, expect_error, expect_json, new_url, new_user
from linkdproc import db_url, linkd_env, run_linkd

MULTIPART_CSV = "username,email\n"  # a valid upload with no rows


# ------------------------------------------------------------------ helpers


def keys_cli(proc, *args):
    env = linkd_env(DATABASE_URL=db_url(proc.db_path))
    return run_linkd(["keys", *args], env=env)


def create_key(proc, name, admin=False, user=None):
    args = ["create", "--name", name] + (["--admin"] if admin else ["--user", str(user)])
    r = keys_cli(proc, *args)
    assert r.returncode == 0, r.stderr
    key = r.stdout.splitlines()[0]
    assert key.startswith("lnk_") and len(key) == 44
    return key


def key_id(proc, name):
    r = keys_cli(proc, "list")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines()[1:]:
        cols = line.split()
        if cols[1] == name:
            return int(cols[0])
    raise AssertionError(f"key {name} not listed:\n{r.stdout}")


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(linkd):
    """A private server with two users and a url each (made from loopback in
    protected mode), then an admin key, a user key for alice, and a revoked
    admin key."""
    c = linkd.start()
    alice, bob = new_user(c), new_user(c)
    a_url, b_url = new_url(c, alice["id"]), new_url(c, bob["id"])
    b_event = expect_json(c.post("/events", json={"url_id": b_url["id"],
                                                  "event_type": "share"}), 201)
    b_url["event"] = b_event["id"]
    proc = c.proc
    keys = {"admin": create_key(proc, "admin", admin=True),
            "alice": create_key(proc, "alice", user=alice["id"]),
            "revoked": create_key(proc, "old", admin=True)}
    r = keys_cli(proc, "revoke", str(key_id(proc, "old")))
    assert r.returncode == 0, r.stderr
    return c, keys, alice, bob, a_url, b_url


# ------------------------------------------------------------------ the CLI


def test_keys_cli_rejects_misuse(linkd):
    proc = linkd.start().proc
    for args in (["create", "--admin"], ["create", "--name", "x"],
                 ["create", "--name", "x", "--admin", "--user", "1"], ["revoke"],
                 ["revoke", "abc"], ["rotate"]):
        r = keys_cli(proc, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("linkd keys")
    r = keys_cli(proc, "create", "--name", "ghost", "--user", "424242")
    assert r.returncode == 1 and "not found" in r.stderr
    r = keys_cli(proc, "revoke", "424242")
    assert r.returncode == 1 and "not found" in r.stderr


def test_key_is_shown_once_and_stored_hashed(linkd):
    proc = linkd.start().proc
    key = create_key(proc, "ops", admin=True)
    listing = keys_cli(proc, "list").stdout
    assert key[:12] in listing and key not in listing, "the list shows a prefix only"
    proc.stop()
    stored = [row[0] for row in backend.query(proc.db_path, "SELECT key_hash FROM api_keys")]
    assert len(stored) == 1 and key not in stored[0] and len(stored[0]) == 64


# ------------------------------------------------------------- access matrix

MANAGEMENT = [
    ("GET", "/users", None), ("POST", "/users", "user"), ("GET", "/users/{alice}", None),
    ("PUT", "/users/{alice}", {}), ("POST", "/users/bulk", "csv"), ("GET", "/urls", None), ("POST", "/urls", "url"),
    ("GET", "/urls/{b_url}", None), ("PUT", "/urls/{b_url}", {}),
    ("DELETE", "/urls/{b_url}", None), ("GET", "/urls/{b_url}/stats", None),
    ("GET", "/events", None), ("POST", "/events", "event"),
    ("GET", "/users/{bob}/urls", None), ("GET", "/urls/{b_url}/events", None),
    ("GET", "/events/{b_event}", None), ("GET", "/stats", None), ("POST", "/shorten", "url"),
    ("POST", "/urls/bulk", "url_rows"), ("POST", "/events/bulk", "event_rows"),
    ("POST", "/users/bulk", "user_rows"),
    ("DELETE", "/users/{bob}", None),  # last: it takes bob's url with it
]


def call(c, method, path, body, ids, headers):
    path = path.format(**ids)
    kw = {"headers": dict(headers)}
    if body == "user":
        n = uuid.uuid4().hex[:10]
        kw["json"] = {"username": f"m{n}", "email": f"m{n}@example.com"}
    elif body == "url":
        kw["json"] = {"user_id": ids["bob"], "original_url": "https://example.com/m"}
    elif body == "event":
        kw["json"] = {"url_id": ids["b_url"], "event_type": "share"}
    elif body == "csv":
        kw["files"] = {"file": ("u.csv", MULTIPART_CSV)}
    elif body == "url_rows":
        kw["json"] = [{"user_id": ids["bob"], "original_url": "https://example.com/b"}]
    elif body == "event_rows":
        kw["json"] = [{"url_id": ids["b_url"], "event_type": "share"}]
    elif body == "user_rows":
        kw["json"] = []
    elif body is not None:
        kw["json"] = body
    return c.request(method, path, **kw)


def test_matrix_without_key_bad_key_and_revoked_key(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    ids = {"alice": alice["id"], "bob": bob["id"], "b_url": b_url["id"],
           "b_event": b_url["event"]}
    for method, path, body in MANAGEMENT:
        for headers, why in (({}, "no key"), (bearer("lnk_" + "x" * 40), "unknown key"),
                             (bearer(keys["revoked"]), "revoked key"),
                             ({"X-API-Key": "nonsense"}, "bad X-API-Key")):
            r = call(c, method, path, body, ids, headers)
            expect_error(r, 401)
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path, why)


def test_matrix_admin_key_reaches_everything(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    ids = {"alice": alice["id"], "bob": bob["id"], "b_url": b_url["id"],
           "b_event": b_url["event"]}
    for method, path, body in MANAGEMENT:
        r = call(c, method, path, body, ids, bearer(keys["admin"]))
        assert r.status_code in (200, 201, 204), (method, path, r.status_code, r.text)
    expect(c.get("/users", headers={"X-API-Key": keys["admin"]}), 200)


def test_matrix_user_key_is_refused_user_management(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    ids = {"alice": alice["id"], "bob": bob["id"], "b_url": b_url["id"],
           "b_event": b_url["event"]}
    for method, path, body in MANAGEMENT:
        if path.startswith("/users") and not path.endswith("/urls"):
            expect_error(call(c, method, path, body, ids, bearer(keys["alice"])), 403)


def test_matrix_user_key_on_another_users_resources_is_404(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    h = bearer(keys["alice"])
    for method, path, body in (("GET", f"/urls/{b_url['id']}", None),
                               ("PUT", f"/urls/{b_url['id']}", {"title": "mine now"}),
                               ("DELETE", f"/urls/{b_url['id']}", None),
                               ("GET", f"/urls/{b_url['id']}/stats", None),
                               ("POST", "/urls", {"user_id": bob["id"],
                                                  "original_url": "https://example.com/x"}),
                               ("POST", "/events", {"url_id": b_url["id"],
                                                    "event_type": "share"}),
                               ("POST", "/events", {"url_id": a_url["id"], "event_type": "x",
                                                    "user_id": bob["id"]}),
                               ("GET", f"/users/{bob['id']}/urls", None),
                               ("GET", f"/urls/{b_url['id']}/events", None),
                               ("GET", f"/events/{b_url['event']}", None),
                               ("POST", "/shorten", {"user_id": bob["id"],
                                                     "original_url": "https://example.com/x"})):
        expect_error(c.request(method, path, json=body, headers=h), 404)
    rows = expect_json(c.post("/urls/bulk", headers=h, json=[
        {"user_id": bob["id"], "original_url": "https://example.com/x"},
        {"id": b_url["id"], "user_id": alice["id"], "short_code": "stolen1",
         "original_url": "https://example.com/x"}]), 201)["results"]
    assert [r["status"] for r in rows] == [404, 422]
    assert rows[1]["details"] == {"id": "only an admin key may write rows by id"}
    rows = expect_json(c.post("/events/bulk", headers=h, json=[
        {"url_id": b_url["id"], "event_type": "share"},
        {"url_id": a_url["id"], "event_type": "share", "user_id": bob["id"]}]),
        201)["results"]
    assert [r["status"] for r in rows] == [404, 404]
    admin = bearer(keys["admin"])
    after = expect_json(c.get(f"/urls/{b_url['id']}", headers=admin), 200)
    assert after["title"] == b_url["title"] and after["is_active"], "bob's url is untouched"
    assert [u["id"] for u in expect_json(c.get("/urls", headers=h), 200)] == [a_url["id"]]
    assert expect_json(c.get(f"/urls?user_id={bob['id']}", headers=h), 200) == []
    events = expect_json(c.get("/events", headers=h), 200)
    assert events and all(e["url_id"] == a_url["id"] for e in events), "only alice's events"


def test_matrix_user_key_on_own_resources(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    h = bearer(keys["alice"])
    got = expect_json(c.get(f"/urls/{a_url['id']}", headers=h), 200)
    assert got["id"] == a_url["id"]
    upd = expect_json(c.put(f"/urls/{a_url['id']}", json={"title": "renamed"}, headers=h), 200)
    assert upd["title"] == "renamed"
    own = expect_json(c.post("/urls", json={"original_url": "https://example.com/own"},
                             headers=h), 201)
    assert own["user_id"] == alice["id"], "a user key's url belongs to its user by default"
    expect_json(c.post("/events", json={"url_id": a_url["id"], "event_type": "share"},
                       headers=h), 201)
    expect_json(c.get(f"/urls/{a_url['id']}/stats", headers=h), 200)
    mine = expect_json(c.get(f"/users/{alice['id']}/urls", headers=h), 200)
    assert [u["id"] for u in mine] == [a_url["id"], own["id"]]
    events = expect_json(c.get(f"/urls/{a_url['id']}/events", headers=h), 200)
    assert [e["event_type"] for e in events] == ["created", "updated", "share"]
    assert expect_json(c.get(f"/events/{events[-1]['id']}", headers=h), 200) == events[-1]
    stats = expect_json(c.get("/stats", headers=h), 200)
    assert (stats["users"], stats["urls"], stats["active_urls"]) == (1, 2, 2)
    assert stats["events_by_type"] == {"click": 0, "created": 2, "updated": 1, "share": 1}
    short = expect_json(c.post("/shorten", json={"original_url": "https://example.com/s"},
                               headers=h), 201)
    assert short["user_id"] == alice["id"] and short["short_url"].endswith(short["short_code"])
    bulk = expect_json(c.post("/urls/bulk", json=[{"original_url": "https://example.com/b"}],
                              headers=h), 201)
    assert bulk["results"][0]["status"] == 201
    expect(c.delete(f"/urls/{own['id']}", headers=h), 204)


def test_public_routes_need_no_key(keyed):
    c, keys, alice, bob, a_url, b_url = keyed
    expect_json(c.get("/health"), 200)
    expect(c.get(f"/{a_url['short_code']}", allow_redirects=False), 302)
    expect(c.get(f"/urls/{a_url['short_code']}/redirect", allow_redirects=False), 302)
    expect(c.get("/metrics"), 200)


def test_metrics_can_be_restricted(linkd):
    c = linkd.start(env={"LINKD_METRICS_PUBLIC": "off"})
    expect(c.get("/metrics"), 200)  # loopback, no key yet
    key = create_key(c.proc, "ops", admin=True)
    expect_error(c.get("/metrics"), 401)
    expect(c.get("/metrics", headers=bearer(key)), 200)


def test_auth_off_opens_everything_and_warns(linkd):
    c = linkd.start(env={"LINKD_AUTH": "off"})
    create_key(c.proc, "ops", admin=True)
    expect_json(c.get("/users"), 200)
    warned = [json.loads(line) for line in c.proc.stdout_text().splitlines()
              if '"auth_off"' in line]
    assert warned and warned[0]["level"] == "warn"


# ------------------------------------------- protected mode, from a network


NS = f"lnkt{os.getpid() % 100000}"
HOST_IP, NS_IP = "10.213.7.1", "10.213.7.2"


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=20)


@pytest.fixture
def netns():
    """A network namespace joined to the host by a veth pair: the host end is
    HOST_IP, the namespace end NS_IP. Requires root and iproute2."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    assert shutil.which("ip"), "iproute2 is missing (scripts/install-deps.sh test installs it)"
    host_if, ns_if = f"{NS}h", f"{NS}n"
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{NS_IP}/30", "dev", ns_if)
        sh("ip", "netns", "exec", NS, "ip", "link", "set", ns_if, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        yield NS
    finally:
        sh("ip", "link", "del", host_if, check=False)
        sh("ip", "netns", "del", NS, check=False)


def from_ns(ns, method, url, headers=None):
    """One request made from inside the namespace; returns (status, headers with
    lower-case names, body)."""
    code = ("import json,sys,requests\n"
            "r=requests.request(sys.argv[1],sys.argv[2],headers=json.loads(sys.argv[3]),"
            "timeout=5,allow_redirects=False)\n"
            "print(json.dumps([r.status_code,{k.lower():v for k,v in r.headers.items()},r.text]))\n")
    p = sh("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code, method, url,
           json.dumps(headers or {}))
    return json.loads(p.stdout)


def test_protected_mode_from_a_non_loopback_address(linkd, netns):
    c = linkd.start(env={"LINKD_LISTEN": f"{HOST_IP}:0"})
    base = f"http://{HOST_IP}:{c.proc.port}"
    # the server listens on HOST_IP only: every request below is non-loopback
    status, headers, body = from_ns(netns, "GET", f"{base}/users")
    assert status == 403, body
    assert headers["content-type"].startswith("application/json")
    assert "linkd keys create" in json.loads(body)["error"]
    status, _, body = from_ns(netns, "POST", f"{base}/urls")
    assert status == 403, body
    status, _, body = from_ns(netns, "GET", f"{base}/health")
    assert status == 200, "health stays public"
    status, _, _ = from_ns(netns, "GET", f"{base}/nosuch1")
    assert status == 404, "redirects stay public"
    key = create_key(c.proc, "ops", admin=True)
    status, headers, _ = from_ns(netns, "GET", f"{base}/users")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    status, _, body = from_ns(netns, "GET", f"{base}/users", bearer(key))
    assert status == 200 and json.loads(body) == []


# --------------------------------------------------------------- rate limits


def test_write_budget_gives_429_with_headers(linkd):
    c = linkd.start(env={"LINKD_RATE_WRITE": "1", "LINKD_RATE_WRITE_BURST": "3"})
    codes, last = [], None
    for i in range(5):
        last = c.post("/users", json={"username": f"rl{i}", "email": f"rl{i}@example.com"})
        codes.append(last.status_code)
        if last.status_code != 429:
            assert int(last.headers["RateLimit-Limit"]) == 3
            assert int(last.headers["RateLimit-Remaining"]) == 2 - i
    assert codes[:3] == [201, 201, 201] and 429 in codes[3:], codes
    expect_error(last, 429)
    assert int(last.headers["Retry-After"]) >= 1
    assert last.headers["RateLimit-Remaining"] == "0"
    assert int(last.headers["RateLimit-Reset"]) >= 1
    expect_json(c.get("/users"), 200)  # reads have their own budget
    time.sleep(1.1)
    expect_json(c.post("/users", json={"username": "rlx", "email": "rlx@example.com"}), 201)
    assert "linkd_rate_limited_total" in c.get("/metrics").text


def test_redirects_are_not_limited_by_default_but_can_be(linkd):
    c = linkd.start(env={"LINKD_RATE_READ": "1", "LINKD_RATE_READ_BURST": "1"})
    u = new_url(c, new_user(c)["id"])
    for _ in range(20):
        r = c.get(f"/{u['short_code']}", allow_redirects=False)
        expect(r, 302)
        assert "RateLimit-Limit" not in r.headers
    d = linkd.start(env={"LINKD_RATE_REDIRECT": "1", "LINKD_RATE_REDIRECT_BURST": "2"})
    v = new_url(d, new_user(d)["id"])
    codes = [d.get(f"/{v['short_code']}", allow_redirects=False).status_code for _ in range(4)]
    assert codes[:2] == [302, 302] and codes[2:] == [429, 429], codes


def test_rate_limit_off_turns_every_limit_off(linkd):
    c = linkd.start(env={"LINKD_RATE_LIMIT": "off", "LINKD_RATE_WRITE": "1",
                         "LINKD_RATE_WRITE_BURST": "1"})
    for i in range(5):
        r = c.post("/users", json={"username": f"off{i}", "email": f"off{i}@example.com"})
        expect(r, 201)
        assert "RateLimit-Limit" not in r.headers


def test_forwarded_for_is_believed_only_from_trusted_proxies(linkd):
    env = {"LINKD_RATE_REDIRECT": "1", "LINKD_RATE_REDIRECT_BURST": "1"}
    trusting = linkd.start(env={**env, "LINKD_TRUSTED_PROXIES": "127.0.0.1"})
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        r = trusting.get("/nosuch1", headers={"X-Forwarded-For": f"{ip}, 127.0.0.1"})
        expect_error(r, 404)  # each forwarded client has a budget of its own
    # and a forwarded client is not local: protected mode applies to it
    expect_error(trusting.get("/urls", headers={"X-Forwarded-For": "198.51.100.9"}), 403)
    expect_json(trusting.get("/urls"), 200)  # the proxy's own requests are local
    untrusting = linkd.start(env=env)
    expect_error(untrusting.get("/nosuch1", headers={"X-Forwarded-For": "198.51.100.1"}), 404)
    expect_error(untrusting.get("/nosuch1", headers={"X-Forwarded-For": "198.51.100.2"}), 429)
    expect_json(untrusting.get("/urls", headers={"X-Forwarded-For": "198.51.100.9"}), 200)


# -------------------------------------------------------------- input limits


def test_oversized_headers_get_431(server):
    r = server.get("/health", headers={"X-Big": "a" * 20000})
    expect_error(r, 431)
    expect(server.get("/health", headers={"X-Fine": "a" * 8000}), 200)


def test_csv_row_limit_gives_413(linkd):
    c = linkd.start(env={"LINKD_CSV_MAX_ROWS": "5"})
    rows = "".join(f"u{i},u{i}@example.com\n" for i in range(6))
    expect_error(c.post("/users/bulk", files={"file": ("u.csv", "username,email\n" + rows)}), 413)
    assert expect_json(c.get("/users"), 200) == [], "nothing was imported"
    rows = "".join(f"u{i},u{i}@example.com\n" for i in range(5))
    expect_json(c.post("/users/bulk", files={"file": ("u.csv", "username,email\n" + rows)}), 201)


def test_connections_past_the_maximum_are_closed(linkd):
    c = linkd.start(env={"LINKD_MAX_CONNECTIONS": "4"})
    socks, served = [], 0
    try:
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", c.proc.port), timeout=3)
            socks.append(s)
        for s in socks:
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(4096).startswith(b"HTTP/1.1 200"):
                    served += 1
            except OSError:
                pass
    finally:
        for s in socks:
            s.close()
    assert 1 <= served <= 4, f"{served} of 12 connections were served with a limit of 4"
    # once the server has seen those connections close, new ones are served
    deadline, ok = time.monotonic() + 5, False
    while not ok and time.monotonic() < deadline:
        try:
            ok = requests.get(f"http://127.0.0.1:{c.proc.port}/health", timeout=2).ok
        except requests.ConnectionError:
            time.sleep(0.1)
    assert ok, "connections were not accepted again after the others closed"
    text = c.get("/metrics").text
    rejected = [ln for ln in text.splitlines() if ln.startswith("linkd_connections_rejected_total")]
    assert rejected and float(rejected[0].split()[1]) >= 8


def test_slowloris_is_cut_off_while_others_are_served(linkd):
    c = linkd.start(env={"LINKD_READ_TIMEOUT_S": "2"})
    s = socket.create_connection(("127.0.0.1", c.proc.port), timeout=1)
    start, closed_after = time.monotonic(), None
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - start < 8:
            try:
                s.sendall(b"X")  # a trickle of header bytes, never a blank line
            except OSError:
                closed_after = time.monotonic() - start
                break
            try:
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            expect(c.get("/health"), 200)  # everyone else is still served
    finally:
        s.close()
    assert closed_after is not None, "the slow client was never cut off"
    assert closed_after < 6, f"cut off only after {closed_after:.1f} s"
