# SPDX-License-Identifier: MIT
"""Black-box helpers for the root API tests (CONTRACT.md): an HTTP client,
assertions on the contract's shapes, factories for fresh rows, the seed CSVs
read at run time, and a raw-socket sender for bodies requests cannot send
politely (oversized uploads that the server may cut off)."""

import csv
import json
import os
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

TIMEOUT = 5  # seconds, every request
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
GEN_CODE_RE = re.compile(r"^[A-Za-z0-9]{6}$")

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = Path(os.environ.get("LNK_SEED_DIR") or REPO.parent / "shared" / "data" / "seed")
LINKD_BIN = Path(os.environ.get("LINKD_BIN") or REPO / "build" / "linkd")
BASE_URL = os.environ.get("LNK_TEST_BASE_URL") or None

USER_KEYS = ("id", "username", "email", "created_at")
URL_KEYS = ("id", "user_id", "short_code", "original_url", "title", "is_active", "created_at",
            "updated_at")
EVENT_KEYS = ("id", "url_id", "user_id", "event_type", "timestamp", "details")


# ---------------------------------------------------------------- client


class Client:
    """A requests session aimed at one server. Never follows redirects and
    never reads proxy settings from the environment."""

    def __init__(self, base_url, proc=None):
        self.base_url = base_url.rstrip("/")
        self.proc = proc  # LinkdProcess when the suite started the server
        self.http = requests.Session()
        self.http.trust_env = False

    def clone(self):
        """A client with its own connection pool (one per thread)."""
        return Client(self.base_url, self.proc)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.http.request(method, self.base_url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def health_ok(self):
        r = self.get("/health")
        assert r.status_code == 200, "server unhealthy after the previous request: " + describe(r)


# ---------------------------------------------------------------- assertions


def describe(r):
    """One line about a response, for assertion messages."""
    req = r.request
    body = r.content[:400]
    hdrs = {k: v for k, v in r.headers.items()
            if k.lower() in ("content-type", "location", "allow", "retry-after", "x-cache")}
    return f"{req.method} {req.path_url} -> {r.status_code} {hdrs} {body!r}"


def is_json_ct(ct):
    return (ct or "").split(";")[0].strip().lower() == "application/json"


def expect(r, status):
    assert r.status_code == status, f"expected {status}: {describe(r)}"
    return r


def expect_json(r, status):
    """Status, JSON Content-Type, a parseable body; returns the body."""
    expect(r, status)
    assert is_json_ct(r.headers.get("Content-Type")), f"not application/json: {describe(r)}"
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"body is not JSON: {describe(r)}") from None


def expect_error(r, status):
    """CONTRACT §2: errors are JSON objects with a string "error" key."""
    body = expect_json(r, status)
    assert isinstance(body, dict), f"error body is not an object: {describe(r)}"
    assert isinstance(body.get("error"), str) and body["error"], \
        f'error body lacks a string "error": {describe(r)}'
    return body


def expect_list(r):
    body = expect_json(r, 200)
    assert isinstance(body, list), f"expected a bare JSON array: {describe(r)}"
    return body


def is_int(v):
    return type(v) is int


def check_ts(v, what="timestamp"):
    assert isinstance(v, str) and TS_RE.match(v), f"{what} {v!r} is not YYYY-MM-DDTHH:MM:SS"


def parse_ts(v):
    check_ts(v)
    return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def check_recent(v, what="timestamp", slack_s=120):
    """v is 'now' in UTC (the server and the tests share a clock)."""
    delta = abs((parse_ts(v) - datetime.now(timezone.utc)).total_seconds())
    assert delta <= slack_s, f"{what} {v!r} is {delta:.0f} s away from now (UTC)"


def check_user(u):
    assert isinstance(u, dict), u
    for k in USER_KEYS:
        assert k in u, f"user lacks {k!r}: {u}"
    assert is_int(u["id"]) and u["id"] > 0, u
    assert isinstance(u["username"], str) and isinstance(u["email"], str), u
    check_ts(u["created_at"], "created_at")
    return u


def check_url(u):
    assert isinstance(u, dict), u
    for k in URL_KEYS:
        assert k in u, f"url lacks {k!r}: {u}"
    assert "user" not in u, f"the owner key is user_id, not user: {u}"
    assert is_int(u["id"]) and u["id"] > 0, u
    assert is_int(u["user_id"]), u
    assert isinstance(u["short_code"], str) and u["short_code"], u
    assert isinstance(u["original_url"], str), u
    assert u["title"] is None or isinstance(u["title"], str), u
    assert isinstance(u["is_active"], bool), u
    check_ts(u["created_at"], "created_at")
    check_ts(u["updated_at"], "updated_at")
    return u


def check_event(e):
    assert isinstance(e, dict), e
    for k in EVENT_KEYS:
        assert k in e, f"event lacks {k!r}: {e}"
    assert is_int(e["id"]) and e["id"] > 0, e
    assert is_int(e["url_id"]), e
    assert e["user_id"] is None or is_int(e["user_id"]), e
    assert isinstance(e["event_type"], str), e
    check_ts(e["timestamp"], "timestamp")
    assert isinstance(e["details"], dict), f"details is not an object: {e}"
    return e


def project(obj, keys):
    return {k: obj.get(k) for k in keys}


def ids(rows):
    return [r["id"] for r in rows]


def assert_sorted_ids(rows):
    got = ids(rows)
    assert got == sorted(got), "list is not ordered by id ascending"
    assert len(got) == len(set(got)), "list repeats ids"


# ---------------------------------------------------------------- factories


def uniq(prefix="t"):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def new_user(c, **fields):
    name = uniq("user_")
    body = {"username": name, "email": f"{name}@example.com"}
    body.update(fields)
    u = expect_json(c.post("/users", json=body), 201)
    return check_user(u)


def new_url(c, user_id, original_url=None, **fields):
    body = {"user_id": user_id,
            "original_url": original_url or f"https://example.com/{uniq('p')}?q=1",
            "title": "test link"}
    body.update(fields)
    u = expect_json(c.post("/urls", json=body), 201)
    return check_url(u)


def list_events(c, **params):
    rows = expect_list(c.get("/events", params=params))
    for e in rows:
        check_event(e)
    return rows


def poll(fn, pred, timeout_s):
    """Calls fn until pred(result) or the deadline; no call starts after the
    deadline. Returns (last result, whether pred held)."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = fn()
        if pred(v):
            return v, True
        if time.monotonic() + 0.05 >= deadline:
            return v, False
        time.sleep(0.05)


def wait_events(c, n, timeout_s=3.0, **params):
    """Waits until GET /events?params lists at least n rows."""
    rows, ok = poll(lambda: list_events(c, **params), lambda v: len(v) >= n, timeout_s)
    assert ok, f"expected {n} events for {params} within {timeout_s} s, got {len(rows)}: {rows}"
    return rows


# ---------------------------------------------------------------- seed CSVs


def seed_ts(v):
    """Seeds say 'YYYY-MM-DD HH:MM:SS'; the API says 'YYYY-MM-DDTHH:MM:SS'."""
    datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
    return v.replace(" ", "T")


class Seed:
    """The seed CSVs as the API must show them (CONTRACT §3, §6)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.users = [self._user(r) for r in self._rows("users.csv")]
        self.urls = [self._url(r) for r in self._rows("urls.csv")]
        self.events = [self._event(r) for r in self._rows("events.csv")]
        self.user = {u["id"]: u for u in self.users}
        self.url = {u["id"]: u for u in self.urls}
        self.event = {e["id"]: e for e in self.events}

    def _rows(self, name):
        with open(self.dir / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    @staticmethod
    def _user(r):
        return {"id": int(r["id"]), "username": r["username"], "email": r["email"],
                "created_at": seed_ts(r["created_at"])}

    @staticmethod
    def _url(r):
        active = r["is_active"].strip().lower()
        assert active in ("true", "false"), r
        return {"id": int(r["id"]), "user_id": int(r["user_id"]), "short_code": r["short_code"],
                "original_url": r["original_url"], "title": r["title"] if r["title"] else None,
                "is_active": active == "true", "created_at": seed_ts(r["created_at"]),
                "updated_at": seed_ts(r["updated_at"])}

    @staticmethod
    def _event(r):
        return {"id": int(r["id"]), "url_id": int(r["url_id"]),
                "user_id": int(r["user_id"]) if r.get("user_id") else None,
                "event_type": r["event_type"], "timestamp": seed_ts(r["timestamp"]),
                "details": json.loads(r["details"]) if r.get("details") else {}}

    def urls_of(self, user_id):
        return [u for u in self.urls if u["user_id"] == user_id]

    def events_of(self, **flt):
        return [e for e in self.events if all(e[k] == v for k, v in flt.items())]

    def spread(self, rows, n=7):
        """A few rows spread over the file: first, last and some between."""
        if len(rows) <= n:
            return list(rows)
        step = (len(rows) - 1) / (n - 1)
        return [rows[round(i * step)] for i in range(n)]


# ---------------------------------------------------------------- raw HTTP


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers  # lower-cased names
        self.content = body

    def json(self):
        return json.loads(self.content)

    def __repr__(self):
        return f"<raw {self.status_code} {self.headers} {self.content[:300]!r}>"


def _parse_response(buf):
    """(RawResponse, complete) from the bytes read so far, or (None, False)."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None, False
    lines = buf[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    rest = buf[head_end + 4:]
    if "content-length" in headers:
        n = int(headers["content-length"])
        return RawResponse(status, headers, rest[:n]), len(rest) >= n
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, pos = b"", 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return RawResponse(status, headers, body), False
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                return RawResponse(status, headers, body), True
            if len(rest) < eol + 2 + size + 2:
                return RawResponse(status, headers, body), False
            body += rest[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    return RawResponse(status, headers, rest), False


def raw_request(base_url, method, path, headers, body, timeout_s=30):
    """Sends one request over a fresh socket while a reader thread collects
    the answer, so that a server that answers 413 early and closes is heard
    even if our send fails half way. Returns a RawResponse or raises
    AssertionError when no response came."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s)
    buf = bytearray()
    done = threading.Event()

    def reader():
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf.extend(chunk)
                if _parse_response(bytes(buf))[1]:
                    break
        except OSError:
            pass
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    head = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
            "Connection: close"]
    if not any(k.lower() == "transfer-encoding" for k in headers):
        head.append(f"Content-Length: {len(body)}")
    head += [f"{k}: {v}" for k, v in headers.items()]
    send_error = None
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        view = memoryview(body)
        for off in range(0, len(view), 256 * 1024):
            if done.is_set():
                break
            sock.sendall(view[off:off + 256 * 1024])
    except OSError as e:  # the server may stop reading once it has answered
        send_error = e
    done.wait(timeout_s)
    try:
        sock.close()
    except OSError:
        pass
    resp, _ = _parse_response(bytes(buf))
    assert resp is not None, (f"no HTTP response to {method} {path} "
                              f"({len(body)} body bytes; send error: {send_error!r})")
    return resp


def expect_raw_error(resp, status):
    assert resp.status_code == status, f"expected {status}: {resp!r}"
    assert is_json_ct(resp.headers.get("content-type")), f"not application/json: {resp!r}"
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), resp
    return body


RAW_READ_LIMIT_S = 30  # a bound for a server that never closes, not a measurement


def split_responses(buf):
    """The whole responses at the start of buf, as (status, headers, body)
    with lower-cased header names, and the bytes after them."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(buf) < end + 4 + n:
            return out, buf
        out.append((status, headers, buf[end + 4:end + 4 + n]))
        buf = buf[end + 4 + n:]


def raw_converse(base_url, data, timeout_s=RAW_READ_LIMIT_S):
    """Sends data on a new connection and reads until the server closes it
    (or timeout_s passes). Returns (responses as split_responses gives them,
    whether the server closed, the bytes that were not a whole response)."""
    parts = urlsplit(base_url)
    s = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s)
    buf, closed = b"", False
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    responses, rest = split_responses(buf)
    return responses, closed, rest


def check_raw_json_error(status, headers, body, want_status, *words):
    """A raw response that is a JSON error whose only field, "error", is a
    non-empty string naming each of `words` (any case)."""
    assert status == want_status, (status, headers, body)
    assert is_json_ct(headers.get("content-type")), f"not JSON: {headers} {body!r}"
    obj = json.loads(body)
    assert isinstance(obj, dict) and set(obj) == {"error"}, obj
    assert isinstance(obj["error"], str) and obj["error"], obj
    for w in words:
        assert w.lower() in obj["error"].lower(), f"{w!r} not in {obj['error']!r}"
    return obj


def wait_until(what, cond, timeout_s=20.0, step_s=0.05):
    """Polls cond (a liveness check, not a timing test) and fails with `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step_s)
    pytest.fail(f"not within {timeout_s} s: {what}")
