# SPDX-License-Identifier: MIT
"""Users: GET/POST /users, GET/PUT/DELETE /users/<id> (CONTRACT §4.4-§4.8)."""

import json

import pytest

from apiclient import (USER_KEYS, assert_sorted_ids, check_recent, check_user, expect,
                       expect_error, expect_json, expect_list, ids, list_events, new_url,
                       new_user, project, uniq, wait_events)

NON_NUMERIC_IDS = ["abc", "1abc", "1.0", "-1", "0", "99999999999999999999999", "%20"]


def user_body(**over):
    name = uniq("user_")
    body = {"username": name, "email": f"{name}@example.com"}
    body.update(over)
    return body


# ---------------------------------------------------------------- POST /users


def test_create_user_returns_201_and_the_user(server, seed):
    body = user_body()
    u = check_user(expect_json(server.post("/users", json=body), 201))
    assert u["username"] == body["username"] and u["email"] == body["email"]
    check_recent(u["created_at"], "created_at")
    assert u["id"] > max(seed.user), "new ids must continue after the seed's max(id)"
    assert expect_json(server.get(f"/users/{u['id']}"), 200) == u


def test_create_user_ignores_other_keys(server):
    body = user_body(id=1, created_at="2000-01-01T00:00:00", role="admin")
    u = check_user(expect_json(server.post("/users", json=body), 201))
    assert u["id"] != 1 and u["created_at"] != "2000-01-01T00:00:00"
    assert u["username"] == body["username"]


def test_create_user_accepts_255_character_username(server):
    name = uniq("u") + "x" * (255 - 13)
    assert len(name) == 255
    u = expect_json(server.post("/users", json=user_body(username=name)), 201)
    assert u["username"] == name


@pytest.mark.parametrize("ctype", ["text/plain", "application/octet-stream", None])
def test_create_user_parses_json_whatever_the_content_type(server, ctype):
    body = user_body()
    headers = {"Content-Type": ctype} if ctype else {}
    r = server.post("/users", data=json.dumps(body).encode(), headers=headers)
    assert expect_json(r, 201)["username"] == body["username"]


@pytest.mark.parametrize("patch", [
    {"username": None}, {"email": None}, {"username": 123}, {"email": 123},
    {"username": True}, {"email": False}, {"username": ["a"]}, {"email": {"a": 1}},
    {"username": 1.5}, {"username": ""}, {"email": ""}, {"username": "   "}, {"email": " \t "},
    {"username": "x" * 256}, {"email": "x" * 244 + "@example.com"},
    {"email": "plainaddress"}, {"email": "user@"}, {"email": "@example.com"},
    {"email": "user@example"}, {"email": "user@@example.com"},
], ids=lambda p: repr(p)[:40])
def test_create_user_bad_field_is_422(server, patch):
    body = user_body(**patch)
    expect_error(server.post("/users", json=body), 422)


@pytest.mark.parametrize("missing", ["username", "email"])
def test_create_user_missing_field_is_422(server, missing):
    body = user_body()
    del body[missing]
    expect_error(server.post("/users", json=body), 422)


@pytest.mark.parametrize("raw", [b"", b"[]", b'"alice"', b"null", b"42", b"{", b'{"username":'],
                         ids=repr)
def test_create_user_body_not_an_object_is_400(server, raw):
    expect_error(server.post("/users", data=raw, headers={"Content-Type": "application/json"}),
                 400)


def test_create_user_form_encoded_is_400(server):
    expect_error(server.post("/users", data=user_body()), 400)


def test_create_user_multipart_is_400(server):
    expect_error(server.post("/users", files={"username": (None, "x"), "email": (None, "y")}),
                 400)


def test_duplicate_username_is_409(server):
    a = new_user(server)
    expect_error(server.post("/users", json=user_body(username=a["username"])), 409)


def test_duplicate_email_is_409(server):
    a = new_user(server)
    expect_error(server.post("/users", json=user_body(email=a["email"])), 409)


def test_seed_username_and_email_are_taken(server, seed):
    s = seed.users[len(seed.users) // 2]
    expect_error(server.post("/users", json=user_body(username=s["username"])), 409)
    expect_error(server.post("/users", json=user_body(email=s["email"])), 409)


# ---------------------------------------------------------------- GET /users


def test_list_users_without_params_returns_every_row(server, seed):
    mine = new_user(server)
    rows = expect_list(server.get("/users"))
    for u in rows:
        check_user(u)
    assert_sorted_ids(rows)
    got = set(ids(rows))
    assert set(seed.user) <= got, f"{len(set(seed.user) - got)} seed users missing"
    assert mine["id"] in got, "a user just created is not in GET /users"


def test_list_users_shows_seed_rows_as_in_the_csv(server, seed):
    rows = {u["id"]: u for u in expect_list(server.get("/users"))}
    for s in seed.users:
        assert project(rows[s["id"]], USER_KEYS) == s


def test_list_users_page_only_gives_20(server):
    everything = ids(expect_list(server.get("/users")))
    assert ids(expect_list(server.get("/users", params={"page": 1}))) == everything[:20]
    assert ids(expect_list(server.get("/users", params={"page": 2}))) == everything[20:40]


def test_list_users_per_page_is_honoured(server):
    everything = ids(expect_list(server.get("/users")))
    assert ids(expect_list(server.get("/users", params={"page": 3, "per_page": 7}))) \
        == everything[14:21]
    assert ids(expect_list(server.get("/users", params={"per_page": 5}))) == everything[:5]
    assert ids(expect_list(server.get("/users", params={"page": 1, "per_page": 1000}))) \
        == everything[:1000]


def test_list_users_page_past_the_end_is_empty(server):
    assert expect_list(server.get("/users", params={"page": 100000, "per_page": 50})) == []


@pytest.mark.parametrize("params", [
    {"page": 0}, {"page": -1}, {"page": "abc"}, {"page": "1.5"}, {"page": ""},
    {"per_page": 0}, {"per_page": -5}, {"per_page": "x"}, {"page": 1, "per_page": "2e3"},
], ids=repr)
def test_list_users_bad_pagination_is_400(server, params):
    expect_error(server.get("/users", params=params), 400)


# ---------------------------------------------------------------- GET /users/<id>


def test_get_seed_user(server, seed):
    for s in seed.spread(seed.users):
        assert project(expect_json(server.get(f"/users/{s['id']}"), 200), USER_KEYS) == s


def test_get_unknown_user_is_404(server):
    body = expect_error(server.get("/users/999999999"), 404)
    assert body["error"] == "user not found", body


@pytest.mark.parametrize("bad", NON_NUMERIC_IDS)
def test_get_user_non_numeric_id_is_404(server, bad):
    expect_error(server.get(f"/users/{bad}"), 404)


# ---------------------------------------------------------------- PUT /users/<id>


def test_update_username(server):
    u = new_user(server)
    name = uniq("renamed_")
    got = check_user(expect_json(server.put(f"/users/{u['id']}", json={"username": name}), 200))
    assert got == dict(u, username=name)
    assert expect_json(server.get(f"/users/{u['id']}"), 200) == got


def test_update_email(server):
    u = new_user(server)
    email = uniq("mail_") + "@example.org"
    got = check_user(expect_json(server.put(f"/users/{u['id']}", json={"email": email}), 200))
    assert got == dict(u, email=email)


def test_update_both_fields_and_ignore_id(server):
    u = new_user(server)
    name = uniq("both_")
    got = expect_json(server.put(f"/users/{u['id']}",
                                 json={"username": name, "email": f"{name}@example.net",
                                       "id": u["id"] + 1000}), 200)
    assert got == dict(u, username=name, email=f"{name}@example.net")


def test_update_user_with_empty_object_is_a_no_op(server):
    u = new_user(server)
    assert expect_json(server.put(f"/users/{u['id']}", json={}), 200) == u


def test_update_user_to_its_own_values_is_not_a_conflict(server):
    u = new_user(server)
    body = {"username": u["username"], "email": u["email"]}
    assert expect_json(server.put(f"/users/{u['id']}", json=body), 200) == u


@pytest.mark.parametrize("patch", [
    {"username": 5}, {"username": None}, {"username": ""}, {"username": "  "},
    {"username": "x" * 256}, {"email": "nope"}, {"email": []}, {"email": "a@b"},
], ids=repr)
def test_update_user_bad_field_is_422_and_changes_nothing(server, patch):
    u = new_user(server)
    expect_error(server.put(f"/users/{u['id']}", json=patch), 422)
    assert expect_json(server.get(f"/users/{u['id']}"), 200) == u


@pytest.mark.parametrize("raw", [b"", b"[]", b'"x"', b"null", b"{,}"], ids=repr)
def test_update_user_body_not_an_object_is_400(server, raw):
    u = new_user(server)
    expect_error(server.put(f"/users/{u['id']}", data=raw,
                            headers={"Content-Type": "application/json"}), 400)


def test_update_user_conflicts_are_409(server):
    a, b = new_user(server), new_user(server)
    expect_error(server.put(f"/users/{b['id']}", json={"username": a["username"]}), 409)
    expect_error(server.put(f"/users/{b['id']}", json={"email": a["email"]}), 409)
    assert expect_json(server.get(f"/users/{b['id']}"), 200) == b


def test_update_unknown_user_is_404(server):
    expect_error(server.put("/users/999999999", json={"username": uniq()}), 404)


@pytest.mark.parametrize("bad", ["abc", "0", "-3"])
def test_update_user_non_numeric_id_is_404(server, bad):
    expect_error(server.put(f"/users/{bad}", json={"username": uniq()}), 404)


# ---------------------------------------------------------------- DELETE /users/<id>


def test_delete_user_is_204_then_404(server):
    u = new_user(server)
    r = expect(server.delete(f"/users/{u['id']}"), 204)
    assert r.content == b""
    expect_error(server.get(f"/users/{u['id']}"), 404)
    expect_error(server.delete(f"/users/{u['id']}"), 404)
    assert u["id"] not in ids(expect_list(server.get("/users")))


def test_delete_unknown_user_is_404(server):
    expect_error(server.delete("/users/999999999"), 404)


@pytest.mark.parametrize("bad", ["abc", "0", "1x"])
def test_delete_user_non_numeric_id_is_404(server, bad):
    expect_error(server.delete(f"/users/{bad}"), 404)


def test_delete_user_cascades_to_urls_and_events(server):
    owner, other = new_user(server), new_user(server)
    a, b = new_url(server, owner["id"]), new_url(server, owner["id"])
    kept = new_url(server, other["id"])
    for link in (a, kept):
        expect(server.get("/" + link["short_code"]), 302)
    wait_events(server, 1, url_id=a["id"], event_type="click")
    wait_events(server, 1, url_id=kept["id"], event_type="click")
    expect_json(server.post("/events", json={"url_id": b["id"], "event_type": "share"}), 201)

    expect(server.delete(f"/users/{owner['id']}"), 204)

    for link in (a, b):
        expect_error(server.get("/" + link["short_code"]), 404)
        expect_error(server.get(f"/urls/{link['short_code']}/redirect"), 404)
        expect_error(server.get(f"/urls/{link['id']}"), 404)
        assert list_events(server, url_id=link["id"]) == []
    assert list_events(server, user_id=owner["id"]) == []
    assert expect_list(server.get("/urls", params={"user_id": owner["id"]})) == []
    # The other user's link is untouched.
    expect(server.get("/" + kept["short_code"]), 302)
    assert len(list_events(server, url_id=kept["id"], event_type="click")) >= 1
    assert expect_json(server.get(f"/users/{other['id']}"), 200) == other
