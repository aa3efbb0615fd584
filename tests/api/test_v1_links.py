# SPDX-License-Identifier: MIT
"""/api/v1/links: create, read, update, delete, lists (docs/api-v1.md)."""

import pytest

from apiclient import expect, expect_json, list_events, uniq, wait_events
from v1client import (DEFAULTS, check_link, expect_problem, link_body, new_link, owner)


@pytest.fixture(scope="module")
def user(server):
    return owner(server)


# ---------------------------------------------------------------- create


def test_create_minimal_link_has_every_default(server, user):
    body = link_body(user["id"])
    r = expect(server.post("/api/v1/links", json=body), 201)
    link = check_link(r.json())
    assert r.headers["Location"] == f"/api/v1/links/{link['id']}"
    assert r.headers["ETag"].startswith('"') and r.headers["ETag"].endswith('"')
    assert link["url"] == body["url"] and link["user_id"] == user["id"]
    for k, v in DEFAULTS.items():
        assert link[k] == v, f"{k}: {link[k]!r} != default {v!r}"
    got = server.get(f"/api/v1/links/{link['id']}")
    assert expect_json(got, 200) == link
    assert got.headers["ETag"] == r.headers["ETag"]


def test_create_with_every_option_shows_them_back(server, user):
    code = uniq("all")[:20]
    body = link_body(
        user["id"], code=code, title="Spring", notes="for the mail", tags=["Spring", " Mail "],
        active=True, redirect_type=308, forward_query=True,
        utm={"source": "news", "medium": "email", "campaign": "spring"},
        valid_from="2026-01-01T00:00:00Z", valid_until="2099-01-01T00:00:00+00:00",
        max_clicks=10, fallback_url="https://example.com/over",
        rules=[{"url": "https://m.example.com/", "device": ["mobile"], "os": ["ios"],
                "lang": ["de"], "query": {"ref": "tw"},
                "from": "2026-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z"}],
        split=[{"url": "https://a.example.com/", "weight": 3},
               {"url": "https://b.example.com/", "weight": 1}])
    link = check_link(expect_json(server.post("/api/v1/links", json=body), 201))
    assert link["code"] == code and link["title"] == "Spring" and link["notes"] == "for the mail"
    assert link["tags"] == ["spring", "mail"], "tags are trimmed and lower-cased"
    assert link["redirect_type"] == 308 and link["forward_query"] is True
    assert link["utm"] == {"source": "news", "medium": "email", "campaign": "spring"}
    assert link["valid_from"] == "2026-01-01T00:00:00Z"
    assert link["valid_until"] == "2099-01-01T00:00:00Z"
    assert link["max_clicks"] == 10 and link["fallback_url"] == "https://example.com/over"
    assert link["password_protected"] is False
    assert link["rules"] == [{"url": "https://m.example.com/", "device": ["mobile"],
                              "os": ["ios"], "lang": ["de"], "query": {"ref": "tw"},
                              "from": "2026-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z"}]
    assert link["split"] == body["split"]
    assert expect_json(server.get(f"/api/v1/links/{link['id']}"), 200) == link


def test_password_is_write_only(server, user):
    link = new_link(server, user["id"], password="correct horse")
    assert link["password_protected"] is True
    assert "password" not in link and "password_hash" not in link
    text = server.get(f"/api/v1/links/{link['id']}").text
    assert "argon2" not in text and "correct horse" not in text


def test_the_root_api_sees_a_v1_link_and_keeps_its_options(server, user):
    link = new_link(server, user["id"], redirect_type=301, tags=["kept"])
    root = expect_json(server.get(f"/urls/{link['id']}"), 200)
    assert root["short_code"] == link["code"] and root["original_url"] == link["url"]
    expect_json(server.put(f"/urls/{link['id']}", json={"title": "from root"}), 200)
    after = expect_json(server.get(f"/api/v1/links/{link['id']}"), 200)
    assert after["title"] == "from root"
    assert after["redirect_type"] == 301 and after["tags"] == ["kept"]
    assert expect(server.get("/" + link["code"]), 301).headers["Location"] == link["url"]


# ---------------------------------------------------------------- errors


BAD_OPTIONS = [
    ({"redirect_type": 303}, "invalid-field", "/redirect_type"),
    ({"forward_query": "yes"}, "invalid-field", "/forward_query"),
    ({"tags": ["x" * 65]}, "invalid-field", "/tags/0"),
    ({"tags": [f"t{i}" for i in range(33)]}, "too-many-items", "/tags"),
    ({"utm": {"colour": "red"}}, "invalid-field", "/utm/colour"),
    ({"valid_from": "tomorrow"}, "invalid-time", "/valid_from"),
    ({"valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"},
     "invalid-time-window", None),
    ({"max_clicks": 0}, "invalid-field", "/max_clicks"),
    ({"fallback_url": "ftp://example.com/"}, "invalid-url", "/fallback_url"),
    ({"rules": [{"url": "https://m.example.com/", "device": ["phone"]}]}, "invalid-field",
     "/rules/0/device/0"),
    ({"rules": [{"device": ["mobile"]}]}, "invalid-field", None),
    ({"split": [{"url": "https://a.example.com/", "weight": 9000},
                {"url": "https://b.example.com/", "weight": 9000}]}, "invalid-weights", None),
    ({"notes": "n" * 4097}, "too-many-items", "/notes"),
]


@pytest.mark.parametrize("over,slug,pointer", BAD_OPTIONS, ids=lambda v: repr(v)[:40])
def test_bad_option_is_a_422_problem_and_writes_nothing(server, user, over, slug, pointer):
    before = server.get("/api/v1/links", params={"user_id": user["id"], "limit": 1000}).json()
    p = expect_problem(server.post("/api/v1/links", json=link_body(user["id"], **over)), 422,
                       slug, pointer)
    assert p["detail"], p
    after = server.get("/api/v1/links", params={"user_id": user["id"], "limit": 1000}).json()
    assert after["data"] == before["data"], "a refused create wrote a link"


@pytest.mark.parametrize("over,pointer", [
    ({"url": "ftp://example.com/"}, "/url"), ({"url": None}, "/url"), ({"title": 5}, "/title"),
    ({"active": "no"}, "/active"), ({"code": "a b"}, "/code"), ({"code": "health"}, "/code"),
    ({"colour": "red"}, "/colour")])
def test_bad_core_field_is_a_422_problem(server, user, over, pointer):
    expect_problem(server.post("/api/v1/links", json=link_body(user["id"], **over)), 422,
                   None, pointer)


def test_missing_url_is_a_422_problem(server, user):
    expect_problem(server.post("/api/v1/links", json={"user_id": user["id"]}), 422,
                   "validation-failed", "/url")


def test_taken_code_is_a_409_problem(server, user):
    link = new_link(server, user["id"])
    expect_problem(server.post("/api/v1/links", json=link_body(user["id"], code=link["code"])),
                   409, "code-taken", "/code")


def test_body_that_is_not_json_is_a_400_problem(server):
    expect_problem(server.post("/api/v1/links", data=b"{]",
                               headers={"Content-Type": "application/json"}), 400, "bad-request")


def test_unknown_link_route_and_method_are_problems(server):
    expect_problem(server.get("/api/v1/links/999999999999"), 404, "not-found")
    expect_problem(server.get("/api/v1/links/abc"), 404, "not-found")
    expect_problem(server.get("/api/v1/nothing/here"), 404, "not-found")
    p = server.put("/api/v1/links/1", json={})
    expect_problem(p, 405, "method-not-allowed")
    assert set(p.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


def test_root_errors_stay_in_the_root_format(server):
    r = expect(server.get("/urls/999999999999"), 404)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"error": "url not found"}


# ---------------------------------------------------------------- update


def test_patch_keeps_absent_fields_resets_nulls_and_changes_the_etag(server, user):
    link = new_link(server, user["id"], tags=["a"], notes="n", redirect_type=307, max_clicks=5)
    etag = server.get(f"/api/v1/links/{link['id']}").headers["ETag"]
    r = expect(server.patch(f"/api/v1/links/{link['id']}",
                            json={"notes": None, "tags": ["b", "c"], "title": "T"}), 200)
    after = check_link(r.json())
    assert after["tags"] == ["b", "c"] and after["notes"] is None and after["title"] == "T"
    assert after["redirect_type"] == 307 and after["max_clicks"] == 5, "absent keys are kept"
    assert r.headers["ETag"] != etag
    assert expect_json(server.get(f"/api/v1/links/{link['id']}"), 200) == after
    evs = wait_events(server, 3, url_id=link["id"])
    changed = {e["details"]["field"]: e["details"]["new_value"] for e in evs
               if e["event_type"] == "updated"}
    assert changed == {"title": "T", "options": "changed"}, changed


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(server, user):
    link = new_link(server, user["id"])
    etag = server.get(f"/api/v1/links/{link['id']}").headers["ETag"]
    expect(server.patch(f"/api/v1/links/{link['id']}", json={"title": "one"},
                        headers={"If-Match": etag}), 200)
    expect_problem(server.patch(f"/api/v1/links/{link['id']}", json={"title": "two"},
                                headers={"If-Match": etag}), 412, "etag-mismatch")
    now = server.get(f"/api/v1/links/{link['id']}")
    assert now.json()["title"] == "one"
    expect(server.patch(f"/api/v1/links/{link['id']}", json={"title": "three"},
                        headers={"If-Match": now.headers["ETag"]}), 200)


def test_get_with_if_none_match_is_304(server, user):
    link = new_link(server, user["id"])
    etag = server.get(f"/api/v1/links/{link['id']}").headers["ETag"]
    r = expect(server.get(f"/api/v1/links/{link['id']}", headers={"If-None-Match": etag}), 304)
    assert r.content == b"" and r.headers["ETag"] == etag


def test_patch_cannot_change_the_code_or_owner(server, user):
    link = new_link(server, user["id"])
    expect_problem(server.patch(f"/api/v1/links/{link['id']}", json={"code": "othercode"}), 422,
                   None, "/code")
    expect_problem(server.patch(f"/api/v1/links/{link['id']}", json={"user_id": 1}), 422,
                   "invalid-field", "/user_id")


def test_patch_password_then_remove_it(server, user):
    link = new_link(server, user["id"])
    on = expect_json(server.patch(f"/api/v1/links/{link['id']}", json={"password": "pw1"}), 200)
    assert on["password_protected"] is True
    expect(server.get("/" + link["code"]), 401)
    off = expect_json(server.patch(f"/api/v1/links/{link['id']}", json={"password": None}), 200)
    assert off["password_protected"] is False
    assert expect(server.get("/" + link["code"]), 302).headers["Location"] == link["url"]


# ---------------------------------------------------------------- delete


def test_delete_stops_the_redirect_and_keeps_the_row(server, user):
    link = new_link(server, user["id"])
    r = expect(server.delete(f"/api/v1/links/{link['id']}"), 204)
    assert r.content == b""
    expect(server.get("/" + link["code"]), 404)
    assert expect_json(server.get(f"/api/v1/links/{link['id']}"), 200)["active"] is False
    assert [e["event_type"] for e in list_events(server, url_id=link["id"])] == [
        "created", "deleted"]


# ---------------------------------------------------------------- lists


def test_cursor_pages_cover_every_link_once(server):
    u = owner(server)
    made = [new_link(server, u["id"], title=f"n{i}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"user_id": u["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = expect_json(server.get("/api/v1/links", params=params), 200)
        assert set(page) == {"data", "next_cursor"}
        assert len(page["data"]) <= 3
        seen += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == made, "pages in id order, every link once, each as GET shows it"


@pytest.mark.parametrize("sort", ["-created_at", "-id"])
def test_newest_first_pages_walk_down(server, sort):
    u = owner(server)
    made = [new_link(server, u["id"], tags=["walk"]) for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"user_id": u["id"], "limit": 2, "sort": sort, "tag": "walk"}
        if cursor:
            params["cursor"] = cursor
        page = expect_json(server.get("/api/v1/links", params=params), 200)
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]
    assert [x["id"] for x in expect_json(server.get(
        "/api/v1/links", params={"user_id": u["id"], "sort": "created_at"}), 200)["data"]] == [
        x["id"] for x in made]


def test_list_filters_by_tag_and_active(server):
    u = owner(server)
    a = new_link(server, u["id"], tags=["red", "blue"])
    b = new_link(server, u["id"], tags=["blue"])
    new_link(server, u["id"])
    c = new_link(server, u["id"], tags=["RED"], active=False)
    q = {"user_id": u["id"]}
    assert [x["id"] for x in server.get("/api/v1/links", params={**q, "tag": "red"}).json()[
        "data"]] == [a["id"], c["id"]]
    assert [x["id"] for x in server.get("/api/v1/links", params={**q, "tag": "Blue"}).json()[
        "data"]] == [a["id"], b["id"]]
    assert [x["id"] for x in server.get(
        "/api/v1/links", params={**q, "tag": "red", "active": "true"}).json()["data"]] == [a["id"]]
    assert server.get("/api/v1/links", params={**q, "tag": "none"}).json() == {
        "data": [], "next_cursor": None}


@pytest.mark.parametrize("params,pointer", [
    ({"limit": 0}, "/query/limit"), ({"limit": 1001}, "/query/limit"),
    ({"limit": "x"}, "/query/limit"), ({"cursor": "nope"}, "/query/cursor"),
    ({"active": "maybe"}, "/query/active"), ({"user_id": "0"}, "/query/user_id"),
    ({"sort": "title"}, "/query/sort"),
    ({"tag": ""}, "/query/tag")])
def test_bad_list_parameter_is_a_400_problem(server, params, pointer):
    expect_problem(server.get("/api/v1/links", params=params), 400, "invalid-parameter", pointer)


# ---------------------------------------------------------------- the other problem types


def test_unknown_owner_is_user_not_found(server):
    expect_problem(server.post("/api/v1/links", json=link_body(999999999)), 404,
                   "user-not-found", "/user_id")


def test_body_past_the_limit_is_413_problem(server, user):
    body = link_body(user["id"], notes="n" * (1024 * 1024 + 10))
    expect_problem(server.post("/api/v1/links", json=body), 413, "payload-too-large")


def test_rate_limited_is_a_429_problem(linkd):
    c = linkd.start(env={"LINKD_RATE_WRITE": 1, "LINKD_RATE_WRITE_BURST": 1})
    expect(c.post("/users", json={"username": "rl", "email": "rl@example.com"}), 201)
    r = c.post("/api/v1/links", json={"url": "https://example.com/", "user_id": 1})
    p = expect_problem(r, 429, "rate-limited")
    assert int(r.headers["Retry-After"]) >= 1 and p["detail"]


def test_export_past_the_list_ceiling_is_a_problem(linkd):
    c = linkd.start(env={"LINKD_LIST_MAX_ROWS": 2})
    u = expect_json(c.post("/users", json={"username": "ex", "email": "ex@example.com"}), 201)
    for _ in range(3):
        new_link(c, u["id"])
    expect_problem(c.get("/api/v1/links/export"), 400, "too-many-rows")
    assert len(expect_json(c.get("/api/v1/links/export",
                                 params={"format": "json", "tag": "none"}), 200)) == 0


def test_entity_tags_compare_as_rfc_9110_says(server, user):
    link = new_link(server, user["id"])
    etag = server.get(f"/api/v1/links/{link['id']}").headers["ETag"]
    for inm in (f'"x", {etag}', f"W/{etag}", "*"):
        expect(server.get(f"/api/v1/links/{link['id']}", headers={"If-None-Match": inm}), 304)
    expect(server.get(f"/api/v1/links/{link['id']}", headers={"If-None-Match": '"other"'}), 200)
    r = expect(server.patch(f"/api/v1/links/{link['id']}", json={"title": "any"},
                            headers={"If-Match": "*"}), 200)
    assert r.json()["title"] == "any"
    expect_problem(server.patch("/api/v1/links/999999999999", json={"title": "x"},
                                headers={"If-Match": "*"}), 404, "not-found")
