# SPDX-License-Identifier: MIT
"""Helpers of the /api/v1 tests: problem details, links, expected views."""

import re

from apiclient import describe, expect, expect_json, new_user, uniq

PROBLEM_CT = "application/problem+json"
PROBLEM_PREFIX = "urn:linkd:problem:"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

LINK_KEYS = {"id", "user_id", "code", "short_url", "url", "title", "active", "notes", "tags",
             "redirect_type", "forward_query", "utm", "valid_from", "valid_until", "max_clicks",
             "fallback_url", "password_protected", "rules", "split", "created_at", "updated_at",
             "domain"}

DEFAULTS = {"title": None, "active": True, "notes": None, "tags": [], "redirect_type": 302,
            "forward_query": False, "utm": {}, "valid_from": None, "valid_until": None,
            "max_clicks": None, "fallback_url": None, "password_protected": False, "rules": [],
            "split": [], "domain": None}


def expect_problem(r, status, slug=None, pointer=None):
    """RFC 9457: the content type, every member, the request id echoed."""
    expect(r, status)
    ct = (r.headers.get("Content-Type") or "").split(";")[0].strip()
    assert ct == PROBLEM_CT, f"not {PROBLEM_CT}: {describe(r)}"
    p = r.json()
    assert isinstance(p, dict), describe(r)
    assert p["type"].startswith(PROBLEM_PREFIX), p
    if slug:
        assert p["type"] == PROBLEM_PREFIX + slug, f"expected {slug}: {p}"
    assert p["status"] == status, p
    assert isinstance(p["title"], str) and p["title"], p
    assert p["instance"] == r.request.path_url.split("?")[0], p
    assert p["request_id"] == r.headers["X-Request-ID"], p
    if pointer is not None:
        assert pointer in [e["pointer"] for e in p.get("errors", [])], p
    return p


def check_link(link):
    assert set(link) == LINK_KEYS, f"keys differ: {sorted(set(link) ^ LINK_KEYS)}"
    assert type(link["id"]) is int and link["id"] > 0, link
    assert link["short_url"].endswith("/" + link["code"]), link
    for k in ("created_at", "updated_at"):
        assert TIME_RE.match(link[k]), link
    return link


def link_body(user_id, **over):
    body = {"url": f"https://example.com/{uniq('v')}", "user_id": user_id}
    body.update(over)
    return body


def new_link(c, user_id, **over):
    r = c.post("/api/v1/links", json=link_body(user_id, **over))
    expect(r, 201)
    return check_link(r.json())


def owner(c):
    return new_user(c)


def links_of(c, user_id):
    """Every link of a user (at most 1000), as the list shows them."""
    return expect_json(c.get("/api/v1/links", params={"user_id": user_id, "limit": 1000}),
                       200)["data"]
