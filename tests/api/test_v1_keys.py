# SPDX-License-Identifier: MIT
"""/api/v1/keys and what keys may do: roles, scopes, expiry
(docs/api-v1.md#keys, docs/security.md#scopes). Each test runs its own
server: once a key exists, every management request needs one."""

import time

import pytest

from apiclient import expect, expect_json
from linkdproc import db_url, linkd_env, run_linkd
from v1client import expect_problem


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def make_key(c, auth=None, **body):
    r = c.post("/api/v1/keys", json=body, headers=bearer(auth) if auth else {})
    return expect_json(r, 201)


@pytest.fixture
def srv(fresh_server):
    """A private server with an admin key, a user, and that user's key."""
    c = fresh_server
    admin = make_key(c, name="root", admin=True)
    user = expect_json(c.post("/users", json={"username": "kim", "email": "kim@example.com"},
                              headers=bearer(admin["key"])), 201)
    return c, admin, user


def test_create_shows_the_key_once_and_lists_without_it(fresh_server):
    c = fresh_server
    k = make_key(c, name="root", admin=True)
    assert k["key"].startswith("lnk_") and len(k["key"]) == 44
    assert k["prefix"] == k["key"][:12]
    assert {x: k[x] for x in ("name", "role", "user_id", "scopes", "expires_at", "revoked_at",
                              "status")} == {
        "name": "root", "role": "admin", "user_id": None, "scopes": None, "expires_at": None,
        "revoked_at": None, "status": "active"}
    listed = expect_json(c.get("/api/v1/keys", headers=bearer(k["key"])), 200)["data"]
    assert len(listed) == 1 and "key" not in listed[0]
    assert listed[0] == {x: v for x, v in k.items() if x != "key"}


def test_scoped_user_key_may_only_do_what_its_scopes_say(srv):
    c, admin, user = srv
    ro = make_key(c, admin["key"], name="ro", user_id=user["id"], scopes=["links:read"])
    assert ro["scopes"] == ["links:read"] and ro["role"] == "user"
    rw = make_key(c, admin["key"], name="rw", user_id=user["id"],
                  scopes=["links:write", "links:read"])
    assert rw["scopes"] == ["links:read", "links:write"], "canonical order"
    link = expect_json(c.post("/api/v1/links", json={"url": "https://example.com/s"},
                              headers=bearer(rw["key"])), 201)
    assert link["user_id"] == user["id"]
    expect(c.get(f"/api/v1/links/{link['id']}", headers=bearer(ro["key"])), 200)
    p = expect_problem(c.post("/api/v1/links", json={"url": "https://example.com/t"},
                              headers=bearer(ro["key"])), 403, "forbidden")
    assert p["detail"] == "this key lacks the scope links:write"
    r = c.get("/events", params={"url_id": link["id"]}, headers=bearer(rw["key"]))
    assert r.status_code == 403 and r.json() == {"error": "this key lacks the scope analytics:read"}
    expect(c.get("/api/v1/keys", headers=bearer(rw["key"])), 403)


def test_admin_scope_needs_an_admin_key_and_bad_scopes_are_422(srv):
    c, admin, user = srv
    expect_problem(c.post("/api/v1/keys", json={"name": "x", "user_id": user["id"],
                                                "scopes": ["admin"]},
                          headers=bearer(admin["key"])), 422, None, "/scopes")
    expect_problem(c.post("/api/v1/keys", json={"name": "x", "admin": True,
                                                "scopes": ["links:delete"]},
                          headers=bearer(admin["key"])), 422, None, "/scopes/0")
    expect_problem(c.post("/api/v1/keys", json={"name": "x", "admin": True, "scopes": []},
                          headers=bearer(admin["key"])), 422, None, "/scopes")
    expect_problem(c.post("/api/v1/keys", json={"name": "x", "admin": True,
                                                "expires_at": "2020-01-01T00:00:00Z"},
                          headers=bearer(admin["key"])), 422, None, "/expires_at")
    expect_problem(c.post("/api/v1/keys", json={"name": "x", "user_id": 999999},
                          headers=bearer(admin["key"])), 404, "user-not-found")
    assert len(expect_json(c.get("/api/v1/keys", headers=bearer(admin["key"])), 200)[
        "data"]) == 1, "no refused key was made"


def test_an_expired_key_is_refused(srv):
    c, admin, _ = srv
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    k = make_key(c, admin["key"], name="brief", admin=True, expires_at=soon)
    assert k["expires_at"] == soon and k["status"] == "active"
    expect(c.get("/api/v1/links", headers=bearer(k["key"])), 200)
    time.sleep(2.5)
    r = c.get("/api/v1/links", headers=bearer(k["key"]))
    p = expect_problem(r, 401, "unauthorized")
    assert p["detail"] == "expired API key"
    listed = expect_json(c.get("/api/v1/keys", headers=bearer(admin["key"])), 200)["data"]
    assert [x["status"] for x in listed] == ["active", "expired"]


def test_revoke_is_at_once_and_twice_is_fine(srv):
    c, admin, user = srv
    k = make_key(c, admin["key"], name="tmp", user_id=user["id"])
    expect(c.get("/api/v1/links", headers=bearer(k["key"])), 200)
    expect(c.delete(f"/api/v1/keys/{k['id']}", headers=bearer(admin["key"])), 204)
    expect(c.delete(f"/api/v1/keys/{k['id']}", headers=bearer(admin["key"])), 204)
    expect_problem(c.get("/api/v1/links", headers=bearer(k["key"])), 401)
    expect_problem(c.delete("/api/v1/keys/999999", headers=bearer(admin["key"])), 404)


def test_cli_sets_scopes_and_expiry(linkd, tmp_path):
    c = linkd.start()
    env = linkd_env(DATABASE_URL=db_url(c.proc.db_path))
    out = run_linkd(["keys", "create", "--name", "cli", "--admin", "--scopes",
                     "admin, links:read", "--expires", "30d"], env=env)
    assert out.returncode == 0, out.stderr
    key = out.stdout.split()[0]
    listed = expect_json(c.get("/api/v1/keys", headers=bearer(key)), 200)["data"]
    assert listed[0]["scopes"] == ["links:read", "admin"]
    expect(c.post("/api/v1/links", json={"url": "https://example.com/", "user_id": 1},
                  headers=bearer(key)), 403)
    left = time.mktime(time.strptime(listed[0]["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - \
        time.mktime(time.gmtime())
    assert 29 * 86400 < left <= 30 * 86400 + 5
    bad = run_linkd(["keys", "create", "--name", "x", "--user", "1", "--scopes", "admin"],
                    env=env)
    assert bad.returncode != 0 and "admin scope needs an admin key" in bad.stderr
    bad = run_linkd(["keys", "create", "--name", "x", "--admin", "--expires", "soon"], env=env)
    assert bad.returncode != 0 and "--expires" in bad.stderr
