# SPDX-License-Identifier: MIT
"""Routing and response conventions (CONTRACT §2): unknown routes, 405 with
Allow, trailing slashes, JSON everywhere, security headers, request ids."""

import json

import pytest

from apiclient import (expect, expect_error, expect_json, expect_list, ids, is_json_ct,
                       new_url, new_user, uniq)


@pytest.fixture(scope="module")
def link(server):
    owner = new_user(server)
    return owner, new_url(server, owner["id"])


@pytest.mark.parametrize("path", ["/no/such/route", "/users/1/no-such-thing",
                                  "/urls/1/no/such", "/events/x/y/z", "/health/extra",
                                  "/metrics/x/y"])
def test_unknown_route_is_404_json(server, path):
    expect_error(server.get(path), 404)


ALLOWED = {
    "/health": {"GET"},
    "/metrics": {"GET"},
    "/users": {"GET", "POST"},
    "/users/1": {"GET", "PUT", "DELETE"},
    "/urls": {"GET", "POST"},
    "/urls/1": {"GET", "PUT", "DELETE"},
    "/events": {"GET", "POST"},
    "/users/bulk": {"POST"},
}
WRONG = [("POST", "/health"), ("DELETE", "/health"), ("PUT", "/metrics"),
         ("POST", "/metrics"), ("PATCH", "/users"), ("DELETE", "/users"), ("PUT", "/users"),
         ("POST", "/users/1"), ("PATCH", "/users/1"), ("PUT", "/urls"), ("DELETE", "/urls"),
         ("POST", "/urls/1"), ("PATCH", "/urls/1"), ("PUT", "/events"), ("DELETE", "/events"),
         ("PATCH", "/events"), ("PUT", "/users/bulk"), ("DELETE", "/users/bulk")]


@pytest.mark.parametrize("method,path", WRONG, ids=lambda v: v)
def test_wrong_method_is_405_with_allow(server, method, path):
    r = server.request(method, path, json={})
    expect_error(r, 405)
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert ALLOWED[path] <= allow, f"Allow {allow} lacks {ALLOWED[path] - allow}"
    assert method not in allow


def test_trailing_slash_on_collections(server, link):
    owner, u = link
    # events are filtered to this link: clicks of earlier tests may still be
    # landing, asynchronously, between the two listings
    for path, query in (("/users", ""), ("/urls", ""), ("/events", f"?url_id={u['id']}")):
        plain, slashed = server.get(path + query), server.get(path + "/" + query)
        assert ids(expect_list(slashed)) == ids(expect_list(plain)), path
        assert expect_list(plain), path
    assert expect_json(server.get("/health/"), 200).get("status") == "ok"
    expect(server.get("/metrics/"), 200)
    assert expect_json(server.get(f"/users/{owner['id']}/"), 200) == owner
    assert expect_json(server.get(f"/urls/{u['id']}/"), 200) == u
    assert expect_list(server.get("/urls/", params={"user_id": owner["id"]})) \
        == expect_list(server.get("/urls", params={"user_id": owner["id"]}))


def test_trailing_slash_on_writes(server, link):
    owner, u = link
    name = uniq("slash_")
    created = expect_json(server.post("/users/", json={"username": name,
                                                       "email": f"{name}@example.com"}), 201)
    assert created["username"] == name
    got = expect_json(server.put(f"/users/{created['id']}/", json={"username": name + "x"}), 200)
    assert got["username"] == name + "x"
    link2 = expect_json(server.post("/urls/", json={"user_id": owner["id"],
                                                    "original_url": "https://example.com/s"}),
                        201)
    expect_json(server.put(f"/urls/{link2['id']}/", json={"title": "slashed"}), 200)
    expect_json(server.post("/events/", json={"url_id": u["id"], "event_type": "slash"}), 201)
    expect(server.delete(f"/urls/{link2['id']}/"), 204)
    expect(server.delete(f"/users/{created['id']}/"), 204)
    r = server.post("/users/bulk/", files={"file": ("u.csv", b"username,email\n")})
    assert expect_json(r, 201).get("imported") == 0


def sample_responses(c, link):
    """(label, response) for many kinds of answers."""
    owner, u = link
    throwaway = new_url(c, owner["id"])
    name = uniq("hdr_")
    return [
        ("200 list", c.get("/users", params={"page": 1, "per_page": 2})),
        ("200 item", c.get(f"/urls/{u['id']}")),
        ("200 health", c.get("/health")),
        ("200 metrics", c.get("/metrics")),
        ("201", c.post("/users", json={"username": name, "email": f"{name}@example.com"})),
        ("204", c.delete(f"/urls/{throwaway['id']}")),
        ("302", c.get("/" + u["short_code"])),
        ("400", c.post("/users", data=b"[]", headers={"Content-Type": "application/json"})),
        ("404 route", c.get("/no/such/route")),
        ("404 id", c.get("/users/999999999")),
        ("404 code", c.get("/" + "Q" + uniq()[:5])),
        ("405", c.request("PATCH", "/users")),
        ("409", c.post("/users", json={"username": owner["username"],
                                       "email": owner["email"]})),
        ("422", c.post("/urls", json={"user_id": owner["id"], "original_url": "nope"})),
    ]


def test_every_non_redirect_answer_is_json(server, link):
    for label, r in sample_responses(server, link):
        if r.status_code in (204, 302) or label == "200 metrics":
            continue
        assert is_json_ct(r.headers.get("Content-Type")), f"{label}: {r.headers}"
        json.loads(r.content)
        assert "html" not in r.headers.get("Content-Type", "").lower()


def test_security_headers_on_every_answer(server, link):
    for label, r in sample_responses(server, link):
        h = r.headers
        assert h.get("X-Content-Type-Options", "").lower() == "nosniff", f"{label}: {h}"
        assert h.get("X-Frame-Options", "").upper() == "DENY", f"{label}: {h}"
        assert h.get("Referrer-Policy"), f"{label}: no Referrer-Policy"


def test_request_id_is_echoed(server, link):
    _, u = link
    for path in ("/health", "/users/999999999", "/" + u["short_code"], "/no/such/route"):
        rid = f"req-{uniq()}"
        r = server.get(path, headers={"X-Request-ID": rid})
        assert r.headers.get("X-Request-ID") == rid, (path, r.headers)


def test_request_id_is_generated_when_absent(server, link):
    _, u = link
    seen = set()
    for path in ("/health", "/health", "/users/999999999", "/" + u["short_code"]):
        rid = server.get(path).headers.get("X-Request-ID")
        assert rid and rid.strip(), f"{path}: no generated X-Request-ID"
        seen.add(rid)
    assert len(seen) == 4, f"generated request ids repeat: {seen}"


def test_unknown_query_parameters_are_ignored(server):
    rows = expect_list(server.get("/users", params={"page": 1, "per_page": 3, "sort": "x"}))
    assert len(rows) == 3
