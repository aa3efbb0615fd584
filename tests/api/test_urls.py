# SPDX-License-Identifier: MIT
"""URLs: GET/POST /urls, GET/PUT/DELETE /urls/<id> (CONTRACT §4.9-§4.13)."""

import random
import string
import time

import pytest

from apiclient import (GEN_CODE_RE, URL_KEYS, assert_sorted_ids, check_recent, check_url,
                       expect, expect_error, expect_json, expect_list, ids, list_events,
                       new_url, new_user, parse_ts, project, uniq)

NON_NUMERIC_IDS = ["abc", "1abc", "1.0", "-1", "0", "99999999999999999999999"]
RESERVED = ["health", "metrics", "users", "urls", "events", "api"]


@pytest.fixture(scope="module")
def owner(server):
    return new_user(server)


def url_body(user_id, **over):
    body = {"user_id": user_id, "original_url": f"https://example.com/{uniq('p')}",
            "title": "A title"}
    body.update(over)
    return body


def rand_code(n, alphabet=string.ascii_letters + string.digits + "_-"):
    return "".join(random.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------- POST /urls


def test_create_url_returns_201_and_the_url(server, seed, owner):
    body = url_body(owner["id"], original_url="https://example.com/a/b?x=1&y=%2F", title="Docs")
    u = check_url(expect_json(server.post("/urls", json=body), 201))
    assert project(u, ("user_id", "original_url", "title", "is_active")) == {
        "user_id": owner["id"], "original_url": body["original_url"], "title": "Docs",
        "is_active": True}
    assert GEN_CODE_RE.match(u["short_code"]), u["short_code"]
    assert u["created_at"] == u["updated_at"]
    check_recent(u["created_at"], "created_at")
    assert u["id"] > max(seed.url), "new ids must continue after the seed's max(id)"
    assert expect_json(server.get(f"/urls/{u['id']}"), 200) == u


def test_create_url_inserts_one_created_event(server, seed, owner):
    u = new_url(server, owner["id"])
    evs = list_events(server, url_id=u["id"])
    assert len(evs) == 1, evs
    e = evs[0]
    assert project(e, ("url_id", "user_id", "event_type", "timestamp")) == {
        "url_id": u["id"], "user_id": owner["id"], "event_type": "created",
        "timestamp": u["created_at"]}
    assert e["details"] == {"short_code": u["short_code"], "original_url": u["original_url"]}
    assert e["id"] > max(seed.event)


def test_create_url_title_optional_or_null(server, owner):
    body = url_body(owner["id"])
    del body["title"]
    assert expect_json(server.post("/urls", json=body), 201)["title"] is None
    assert expect_json(server.post("/urls", json=url_body(owner["id"], title=None)),
                       201)["title"] is None


def test_create_url_inactive(server, owner):
    u = expect_json(server.post("/urls", json=url_body(owner["id"], is_active=False)), 201)
    assert u["is_active"] is False
    assert expect_json(server.get(f"/urls/{u['id']}"), 200)["is_active"] is False


def test_create_url_boundaries_accepted(server, owner):
    long_url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    assert len(long_url) == 2048
    u = expect_json(server.post("/urls", json=url_body(owner["id"], original_url=long_url,
                                                       title="t" * 255)), 201)
    assert u["original_url"] == long_url and u["title"] == "t" * 255
    for ok in ["http://example.com", "https://sub.example.co.uk:8443/p?q#frag",
               "http://127.0.0.1:8080/x"]:
        assert expect_json(server.post("/urls", json=url_body(owner["id"], original_url=ok)),
                           201)["original_url"] == ok


def test_twins_paradox_same_url_twice_gives_two_codes(server, owner):
    target = f"https://example.com/twin/{uniq()}"
    a = new_url(server, owner["id"], target)
    b = new_url(server, owner["id"], target)
    assert a["id"] != b["id"]
    assert a["short_code"] != b["short_code"]
    for u in (a, b):
        assert [e["event_type"] for e in list_events(server, url_id=u["id"])] == ["created"]


def test_create_url_unknown_user_is_404(server):
    body = expect_error(server.post("/urls", json=url_body(999999999)), 404)
    assert body["error"] == "user not found", body


BAD_URL_FIELDS = [
    {"user_id": None}, {"user_id": "1"}, {"user_id": 1.5}, {"user_id": True}, {"user_id": 0},
    {"user_id": -1}, {"user_id": [1]},
    {"original_url": None}, {"original_url": 123}, {"original_url": ["https://a.com"]},
    {"original_url": ""}, {"original_url": "hello"}, {"original_url": "example.com"},
    {"original_url": "javascript:alert(1)"}, {"original_url": "ftp://example.com/file"},
    {"original_url": "mailto:a@example.com"}, {"original_url": "http://"},
    {"original_url": "https://"}, {"original_url": "http:///path"},
    {"original_url": "//example.com/x"}, {"original_url": "https://exa mple.com/"},
    {"original_url": "https://example.com/a b"}, {"original_url": "https://example.com/\x01"},
    {"original_url": "https://example.com/\n"}, {"original_url": " https://example.com/"},
    {"original_url": "https://example.com/" + "a" * 2029},
    {"title": 123}, {"title": ["x"]}, {"title": {"a": 1}}, {"title": False},
    {"title": "t" * 256},
    {"is_active": "false"}, {"is_active": "true"}, {"is_active": 0}, {"is_active": 1},
    {"is_active": None},
]


@pytest.mark.parametrize("patch", BAD_URL_FIELDS, ids=lambda p: repr(p)[:50])
def test_create_url_bad_field_is_422(server, owner, patch):
    body = url_body(owner["id"])
    body.update(patch)
    expect_error(server.post("/urls", json=body), 422)


@pytest.mark.parametrize("missing", ["user_id", "original_url"])
def test_create_url_missing_required_field_is_422(server, owner, missing):
    body = url_body(owner["id"])
    del body[missing]
    expect_error(server.post("/urls", json=body), 422)


@pytest.mark.parametrize("raw", [b"", b"[]", b'"https://example.com"', b"null", b"{]"],
                         ids=repr)
def test_create_url_body_not_an_object_is_400(server, raw):
    expect_error(server.post("/urls", data=raw, headers={"Content-Type": "application/json"}),
                 400)


def test_create_url_form_encoded_is_400(server, owner):
    expect_error(server.post("/urls", data=url_body(owner["id"])), 400)


# ---------------------------------------------------------------- custom short codes


@pytest.mark.parametrize("length", [3, 32])
def test_custom_short_code_accepted(server, owner, length):
    code = rand_code(length - 1) + "x"
    u = expect_json(server.post("/urls", json=url_body(owner["id"], short_code=code)), 201)
    assert u["short_code"] == code
    r = expect(server.get("/" + code), 302)
    assert r.headers["Location"] == u["original_url"]


def test_custom_short_code_with_dash_and_underscore(server, owner):
    code = f"my-link_{uniq()}"
    u = expect_json(server.post("/urls", json=url_body(owner["id"], short_code=code)), 201)
    assert u["short_code"] == code
    expect(server.get(f"/urls/{code}/redirect"), 302)


@pytest.mark.parametrize("code", ["ab", "x" * 33, "abc!", "abc.def", "abc def", "abc/def",
                                  "ab%cd", "héllo", "", 123, None] + RESERVED,
                         ids=repr)
def test_custom_short_code_invalid_or_reserved_is_422(server, owner, code):
    if code is None:
        body = url_body(owner["id"], short_code=None)
        r = server.post("/urls", json=body)
        # null means "generate one"; anything else than a clean 201 or 422 is wrong
        if r.status_code == 201:
            assert GEN_CODE_RE.match(r.json()["short_code"])
            return
        expect_error(r, 422)
        return
    expect_error(server.post("/urls", json=url_body(owner["id"], short_code=code)), 422)


def test_custom_short_code_taken_is_409(server, owner, seed):
    code = f"taken_{uniq()}"
    expect_json(server.post("/urls", json=url_body(owner["id"], short_code=code)), 201)
    expect_error(server.post("/urls", json=url_body(owner["id"], short_code=code)), 409)
    expect_error(server.post("/urls", json=url_body(owner["id"],
                                                    short_code=seed.urls[0]["short_code"])), 409)


def test_short_codes_are_case_sensitive(server, owner):
    code = "CaSe" + uniq()
    a = expect_json(server.post("/urls", json=url_body(owner["id"], short_code=code)), 201)
    expect_error(server.get("/" + code.swapcase()), 404)
    b = expect_json(server.post("/urls", json=url_body(owner["id"], short_code=code.swapcase())),
                    201)
    assert expect(server.get("/" + code), 302).headers["Location"] == a["original_url"]
    assert expect(server.get("/" + code.swapcase()), 302).headers["Location"] \
        == b["original_url"]


# ---------------------------------------------------------------- GET /urls


def test_list_urls_without_params_returns_every_row(server, seed, owner):
    mine = new_url(server, owner["id"])
    rows = expect_list(server.get("/urls"))
    for u in rows:
        check_url(u)
    assert_sorted_ids(rows)
    got = set(ids(rows))
    assert set(seed.url) <= got, f"{len(set(seed.url) - got)} seed urls missing"
    assert mine["id"] in got


def test_list_urls_shows_seed_rows_as_in_the_csv(server, seed):
    rows = {u["id"]: u for u in expect_list(server.get("/urls"))}
    for s in seed.urls:
        assert project(rows[s["id"]], URL_KEYS) == s


def seed_user_with_mixed_urls(seed):
    for u in seed.users:
        mine = seed.urls_of(u["id"])
        if len(mine) >= 2 and {x["is_active"] for x in mine} == {True, False}:
            return u["id"], mine
    pytest.fail("the seed has no user owning both active and inactive urls")


def test_list_urls_filter_by_user_id(server, seed):
    uid, mine = seed_user_with_mixed_urls(seed)
    rows = expect_list(server.get("/urls", params={"user_id": uid}))
    assert [project(r, URL_KEYS) for r in rows] == mine


def test_list_urls_filter_by_unknown_user_is_empty(server):
    assert expect_list(server.get("/urls", params={"user_id": 999999999})) == []


@pytest.mark.parametrize("word,want", [
    ("true", True), ("false", False), ("TRUE", True), ("False", False), ("1", True),
    ("0", False), ("yes", True), ("no", False), ("Yes", True), ("NO", False),
])
def test_list_urls_filter_is_active_booleans(server, seed, word, want):
    uid, mine = seed_user_with_mixed_urls(seed)
    rows = expect_list(server.get("/urls", params={"user_id": uid, "is_active": word}))
    assert [project(r, URL_KEYS) for r in rows] == [u for u in mine if u["is_active"] is want]


def test_list_urls_is_active_alone(server, seed):
    rows = expect_list(server.get("/urls", params={"is_active": "true"}))
    assert rows and all(r["is_active"] is True for r in rows)
    got = set(ids(rows))
    assert {u["id"] for u in seed.urls if u["is_active"]} <= got
    assert not {u["id"] for u in seed.urls if not u["is_active"]} & got
    inactive = expect_list(server.get("/urls", params={"is_active": "false"}))
    assert all(r["is_active"] is False for r in inactive)
    assert {u["id"] for u in seed.urls if not u["is_active"]} <= set(ids(inactive))


@pytest.mark.parametrize("params", [
    {"is_active": "maybe"}, {"is_active": "2"}, {"is_active": ""}, {"is_active": "tru"},
    {"user_id": "abc"}, {"user_id": "1.5"}, {"user_id": ""},
    {"page": 0}, {"page": "x"}, {"per_page": 0}, {"per_page": "-1"},
], ids=repr)
def test_list_urls_bad_query_is_400(server, params):
    expect_error(server.get("/urls", params=params), 400)


def test_list_urls_pagination(server, seed):
    everything = ids(expect_list(server.get("/urls")))
    assert len(everything) > 1000
    assert ids(expect_list(server.get("/urls", params={"page": 1}))) == everything[:20]
    assert ids(expect_list(server.get("/urls", params={"page": 2, "per_page": 50}))) \
        == everything[50:100]
    assert ids(expect_list(server.get("/urls", params={"per_page": 5000}))) == everything[:1000]
    assert ids(expect_list(server.get("/urls", params={"page": 2, "per_page": 1001}))) \
        == everything[1000:2000]
    uid, mine = seed_user_with_mixed_urls(seed)
    assert ids(expect_list(server.get("/urls", params={"user_id": uid, "page": 2,
                                                       "per_page": 1}))) == [mine[1]["id"]]


# ---------------------------------------------------------------- GET /urls/<id>


def test_get_seed_urls(server, seed):
    for s in seed.spread(seed.urls):
        r = server.get(f"/urls/{s['id']}")
        assert project(expect_json(r, 200), URL_KEYS) == s
        assert r.headers.get("X-Cache") in ("HIT", "MISS"), r.headers


def test_get_url_sets_x_cache(server, owner):
    u = new_url(server, owner["id"])
    for _ in range(2):
        r = server.get(f"/urls/{u['id']}")
        assert expect_json(r, 200) == u
        assert r.headers.get("X-Cache") in ("HIT", "MISS"), r.headers


def test_get_unknown_url_is_404(server):
    expect_error(server.get("/urls/999999999"), 404)


@pytest.mark.parametrize("bad", NON_NUMERIC_IDS)
def test_get_url_non_numeric_id_is_404(server, bad):
    expect_error(server.get(f"/urls/{bad}"), 404)


# ---------------------------------------------------------------- PUT /urls/<id>


def updated_events(c, url_id):
    return list_events(c, url_id=url_id, event_type="updated")


def test_update_title_returns_the_url_and_one_event(server, owner):
    u = new_url(server, owner["id"])
    got = check_url(expect_json(server.put(f"/urls/{u['id']}", json={"title": "New title"}), 200))
    assert project(got, ("id", "user_id", "short_code", "original_url", "is_active",
                         "created_at")) == project(u, ("id", "user_id", "short_code",
                                                       "original_url", "is_active",
                                                       "created_at"))
    assert got["title"] == "New title"
    assert expect_json(server.get(f"/urls/{u['id']}"), 200) == got
    evs = updated_events(server, u["id"])
    assert len(evs) == 1, evs
    assert evs[0]["user_id"] == owner["id"]
    assert evs[0]["details"] == {"field": "title", "new_value": "New title"}


def test_update_sets_updated_at_only_on_change(server, owner):
    u = new_url(server, owner["id"])
    time.sleep(1.1)
    assert expect_json(server.put(f"/urls/{u['id']}", json={}), 200) == u
    got = expect_json(server.put(f"/urls/{u['id']}", json={"title": "changed"}), 200)
    assert got["created_at"] == u["created_at"]
    assert parse_ts(got["updated_at"]) > parse_ts(u["updated_at"])
    check_recent(got["updated_at"], "updated_at")


def test_update_one_event_per_changed_field(server, owner):
    u = new_url(server, owner["id"])
    new_target = f"https://example.org/{uniq()}?a=1"
    body = {"title": u["title"], "is_active": False, "original_url": new_target}
    got = expect_json(server.put(f"/urls/{u['id']}", json=body), 200)
    assert got["is_active"] is False and got["original_url"] == new_target
    assert got["title"] == u["title"]
    evs = updated_events(server, u["id"])
    by_field = {e["details"].get("field"): e for e in evs}
    assert len(evs) == 2 and set(by_field) == {"is_active", "original_url"}, evs
    for e in evs:
        assert set(e["details"]) == {"field", "new_value"}, e
        assert isinstance(e["details"]["new_value"], str), e
        assert e["user_id"] == owner["id"]
    assert by_field["original_url"]["details"]["new_value"] == new_target
    assert by_field["is_active"]["details"]["new_value"].lower() == "false"


def test_update_without_change_records_no_event(server, owner):
    u = new_url(server, owner["id"])
    for body in ({}, {"title": u["title"]}, {"is_active": True},
                 {"original_url": u["original_url"]}):
        assert expect_json(server.put(f"/urls/{u['id']}", json=body), 200) == u
    expect_json(server.put(f"/urls/{u['id']}", json={"title": "after"}), 200)
    evs = updated_events(server, u["id"])
    assert [e["details"] for e in evs] == [{"field": "title", "new_value": "after"}], evs


def test_update_title_to_null(server, owner):
    u = new_url(server, owner["id"])
    got = expect_json(server.put(f"/urls/{u['id']}", json={"title": None}), 200)
    assert got["title"] is None
    evs = updated_events(server, u["id"])
    assert len(evs) == 1 and evs[0]["details"].get("field") == "title", evs


def test_update_ignores_fields_that_are_not_updatable(server, owner):
    u = new_url(server, owner["id"])
    other = new_user(server)
    body = {"user_id": other["id"], "short_code": "zzzzzz", "id": u["id"] + 1,
            "created_at": "2000-01-01T00:00:00", "updated_at": "2000-01-01T00:00:00"}
    assert expect_json(server.put(f"/urls/{u['id']}", json=body), 200) == u
    assert expect_json(server.get(f"/urls/{u['id']}"), 200) == u
    assert updated_events(server, u["id"]) == []


def test_deactivate_stops_redirect_at_once_and_reactivate_restores_it(server, owner):
    u = new_url(server, owner["id"])
    code = u["short_code"]
    for path in (f"/{code}", f"/urls/{code}/redirect"):
        expect(server.get(path), 302)  # now cached
    expect_json(server.put(f"/urls/{u['id']}", json={"is_active": False}), 200)
    for path in (f"/{code}", f"/urls/{code}/redirect"):
        expect_error(server.get(path), 404)
    expect_json(server.put(f"/urls/{u['id']}", json={"is_active": True}), 200)
    for path in (f"/{code}", f"/urls/{code}/redirect"):
        expect(server.get(path), 302)


def test_new_original_url_is_used_by_the_next_redirect(server, owner):
    u = new_url(server, owner["id"])
    assert expect(server.get("/" + u["short_code"]), 302).headers["Location"] \
        == u["original_url"]
    target = f"https://example.net/{uniq()}"
    expect_json(server.put(f"/urls/{u['id']}", json={"original_url": target}), 200)
    for path in (f"/{u['short_code']}", f"/urls/{u['short_code']}/redirect"):
        assert expect(server.get(path), 302).headers["Location"] == target


BAD_UPDATES = [
    {"is_active": "false"}, {"is_active": 0}, {"is_active": None}, {"title": 5},
    {"title": ["t"]}, {"title": "t" * 256}, {"original_url": "hello"},
    {"original_url": "ftp://example.com/"}, {"original_url": "javascript:alert(1)"},
    {"original_url": None}, {"original_url": 42},
    {"original_url": "https://example.com/" + "a" * 2029},
]


@pytest.mark.parametrize("patch", BAD_UPDATES, ids=lambda p: repr(p)[:50])
def test_update_url_bad_field_is_422_and_changes_nothing(server, owner, patch):
    u = new_url(server, owner["id"])
    expect_error(server.put(f"/urls/{u['id']}", json=patch), 422)
    assert expect_json(server.get(f"/urls/{u['id']}"), 200) == u
    assert updated_events(server, u["id"]) == []


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b'"title"', b"{"], ids=repr)
def test_update_url_body_not_an_object_is_400(server, owner, raw):
    u = new_url(server, owner["id"])
    expect_error(server.put(f"/urls/{u['id']}", data=raw,
                            headers={"Content-Type": "application/json"}), 400)


def test_update_unknown_url_is_404(server):
    expect_error(server.put("/urls/999999999", json={"title": "x"}), 404)


@pytest.mark.parametrize("bad", ["abc", "0", "-2"])
def test_update_url_non_numeric_id_is_404(server, bad):
    expect_error(server.put(f"/urls/{bad}", json={"title": "x"}), 404)


# ---------------------------------------------------------------- DELETE /urls/<id>


def test_delete_url_soft_deletes_once(server, owner):
    u = new_url(server, owner["id"])
    code = u["short_code"]
    expect(server.get("/" + code), 302)  # now cached
    r = expect(server.delete(f"/urls/{u['id']}"), 204)
    assert r.content == b""
    got = check_url(expect_json(server.get(f"/urls/{u['id']}"), 200))
    assert got["is_active"] is False
    assert project(got, ("id", "user_id", "short_code", "original_url", "title",
                         "created_at")) == project(u, ("id", "user_id", "short_code",
                                                       "original_url", "title", "created_at"))
    check_recent(got["updated_at"], "updated_at")
    for path in (f"/{code}", f"/urls/{code}/redirect"):
        expect_error(server.get(path), 404)
    # Idempotent: 204 again, and still exactly one deleted event.
    expect(server.delete(f"/urls/{u['id']}"), 204)
    evs = list_events(server, url_id=u["id"], event_type="deleted")
    assert len(evs) == 1, evs
    assert evs[0]["details"] == {"reason": "user_requested"}
    assert evs[0]["user_id"] == owner["id"]
    assert u["id"] in ids(expect_list(server.get("/urls", params={"is_active": "false",
                                                                 "user_id": owner["id"]})))


def test_delete_unknown_url_is_404(server):
    expect_error(server.delete("/urls/999999999"), 404)


@pytest.mark.parametrize("bad", ["abc", "0", "7x"])
def test_delete_url_non_numeric_id_is_404(server, bad):
    expect_error(server.delete(f"/urls/{bad}"), 404)
