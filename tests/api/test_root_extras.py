# SPDX-License-Identifier: MIT
"""The optional root routes (CONTRACT §4.17): POST /shorten, GET /users/{id}/urls,
GET /urls/{id}/events, GET /events/{id}, GET /stats, and the redirect spellings
/s/{code} and /r/{code}; and the 201 body of every posted event type."""

import threading

import pytest

from apiclient import (EVENT_KEYS, URL_KEYS, assert_sorted_ids, check_event, check_recent,
                       check_url, expect, expect_error, expect_json, expect_list, ids, list_events,
                       new_url, new_user, poll, project, uniq, wait_events)


@pytest.fixture(scope="module")
def owner(server):
    return new_user(server)


# ------------------------------------------------------- POST /events answers itself


@pytest.mark.parametrize("etype", ["click", "created", "updated", "deleted", "share"])
def test_posted_event_answers_with_itself_field_by_field(server, owner, etype):
    url = new_url(server, owner["id"])
    other = new_user(server)
    details = {"x": 1, "nested": {"k": [1, "two"]}, "s": "é"}
    body = expect_json(server.post("/events", json={
        "url_id": url["id"], "user_id": other["id"], "event_type": etype,
        "details": details}), 201)
    check_event(body)
    assert set(body) == set(EVENT_KEYS), body
    assert body["url_id"] == url["id"]
    assert body["user_id"] == other["id"]
    assert body["event_type"] == etype
    assert body["details"] == details
    check_recent(body["timestamp"])
    # the answer is the stored row, not another one
    assert expect_json(server.get(f"/events/{body['id']}"), 200) == body
    listed = list_events(server, url_id=url["id"], event_type=etype)
    assert body in listed
    assert max(ids(list_events(server, url_id=url["id"]))) == body["id"]


def test_posted_click_without_user_defaults_to_the_owner(server, owner):
    url = new_url(server, owner["id"])
    body = expect_json(server.post("/events", json={"url_id": url["id"],
                                                   "event_type": "click"}), 201)
    assert (body["url_id"], body["user_id"], body["event_type"], body["details"]) == \
        (url["id"], owner["id"], "click", {})
    stats = expect_json(server.get(f"/urls/{url['id']}/stats"), 200)
    assert stats["clicks"] == 1, "a posted click counts in the rollups"


def test_creates_answer_with_the_stored_rows(server, owner):
    u = new_user(server)
    assert expect_json(server.get(f"/users/{u['id']}"), 200) == u
    url = new_url(server, owner["id"])
    assert expect_json(server.get(f"/urls/{url['id']}"), 200) == url
    created = list_events(server, url_id=url["id"], event_type="created")
    assert [e["details"] for e in created] == [{"short_code": url["short_code"],
                                               "original_url": url["original_url"]}]


# ------------------------------------------------------------------ POST /shorten


def test_shorten_creates_a_url_with_an_absolute_short_url(server, owner):
    target = f"https://example.com/{uniq('s')}?a=1&b=2"
    r = server.post("/shorten", json={"original_url": target, "user_id": owner["id"],
                                       "title": "Docs"})
    body = expect_json(r, 201)
    check_url(body)
    assert project(body, ("user_id", "original_url", "title", "is_active")) == {
        "user_id": owner["id"], "original_url": target, "title": "Docs", "is_active": True}
    host = server.base_url.split("://", 1)[1]
    assert body["short_url"] == f"http://{host}/{body['short_code']}"
    assert expect_json(server.get(f"/urls/{body['id']}"), 200) == \
        {k: body[k] for k in URL_KEYS}
    r = expect(server.get(f"/{body['short_code']}"), 302)
    assert r.headers["Location"] == target


def test_shorten_uses_the_host_header(server, owner):
    body = expect_json(server.post("/shorten", json={
        "original_url": "https://example.com/h", "user_id": owner["id"]},
        headers={"Host": "sho.rt:8443"}), 201)
    assert body["short_url"] == f"http://sho.rt:8443/{body['short_code']}"


def test_shorten_custom_code(server, owner):
    code = uniq("c")[:20]
    body = expect_json(server.post("/shorten", json={
        "original_url": "https://example.com/c", "user_id": owner["id"], "custom_code": code}), 201)
    assert body["short_code"] == code and body["short_url"].endswith("/" + code)
    err = expect_error(server.post("/shorten", json={
        "original_url": "https://example.com/c2", "user_id": owner["id"],
        "custom_code": code}), 409)
    assert err["details"] == {"short_code": "taken"}
    same = expect_json(server.post("/shorten", json={
        "original_url": "https://example.com/c3", "user_id": owner["id"],
        "custom_code": code + "x", "short_code": code + "x"}), 201)
    assert same["short_code"] == code + "x"


@pytest.mark.parametrize("body,field", [
    ({"original_url": "hello"}, "original_url"),
    ({"original_url": "javascript:alert(1)"}, "original_url"),
    ({}, "original_url"),
    ({"original_url": "https://example.com/", "custom_code": "ab"}, "custom_code"),
    ({"original_url": "https://example.com/", "custom_code": "health"}, "custom_code"),
    ({"original_url": "https://example.com/", "custom_code": 12}, "custom_code"),
    ({"original_url": "https://example.com/", "custom_code": "abcd", "short_code": "abce"},
     "custom_code"),
    ({"original_url": "https://example.com/", "title": 5}, "title"),
    ({"original_url": "https://example.com/", "reuse": "yes"}, "reuse"),
    ({"original_url": "https://example.com/", "user_id": "1"}, "user_id"),
])
def test_shorten_validates_like_post_urls(server, owner, body, field):
    body = dict(body)
    body.setdefault("user_id", owner["id"])
    before = len(expect_list(server.get(f"/urls?user_id={owner['id']}")))
    err = expect_error(server.post("/shorten", json=body), 422)
    assert field in err["details"], err
    assert len(expect_list(server.get(f"/urls?user_id={owner['id']}"))) == before


def test_shorten_without_user_id_is_422_and_unknown_user_404(server):
    err = expect_error(server.post("/shorten", json={"original_url": "https://example.com/"}),
                       422)
    assert "user_id" in err["details"]
    err = expect_error(server.post("/shorten", json={"original_url": "https://example.com/",
                                                      "user_id": 987654321}), 404)
    assert err["error"] == "user not found"


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b'"x"', b"{bad"])
def test_shorten_body_not_an_object_is_400(server, data):
    expect_error(server.post("/shorten", data=data,
                             headers={"Content-Type": "application/json"}), 400)


def test_shorten_wrong_method_is_405(server):
    r = server.get("/shorten")
    expect_error(r, 405)
    assert r.headers["Allow"] == "POST"


def test_public_url_setting_and_trusted_forwarded_proto(linkd):
    c = linkd.start(env={"LINKD_PUBLIC_URL": "https://sho.rt/"})
    u = new_user(c)
    body = expect_json(c.post("/shorten", json={"original_url": "https://example.com/",
                                                "user_id": u["id"]}), 201)
    assert body["short_url"] == f"https://sho.rt/{body['short_code']}"
    c2 = linkd.start(env={"LINKD_TRUSTED_PROXIES": "127.0.0.1"})
    u2 = new_user(c2)
    body = expect_json(c2.post("/shorten", json={"original_url": "https://example.com/",
                                                 "user_id": u2["id"]},
                               headers={"Host": "s.example", "X-Forwarded-Proto": "https"}), 201)
    assert body["short_url"] == f"https://s.example/{body['short_code']}"


def test_public_url_must_be_http_url(linkd):
    from linkdproc import run_linkd, linkd_env
    r = run_linkd(["serve", "--public-url", "ftp://x"], env=linkd_env())
    assert r.returncode == 2 and "public-url" in r.stderr


# ------------------------------------------------------------------ opt-in reuse


def test_without_reuse_creates_never_deduplicate(server, owner):
    target = f"https://example.com/{uniq('d')}"
    a = new_url(server, owner["id"], target)
    b = new_url(server, owner["id"], target)
    assert a["id"] != b["id"] and a["short_code"] != b["short_code"]


def test_reuse_returns_the_existing_link(server, owner):
    target = f"https://example.com/{uniq('r')}"
    first = expect_json(server.post("/urls", json={"user_id": owner["id"],
                                                  "original_url": target, "reuse": True}), 201)
    again = expect_json(server.post("/urls", json={"user_id": owner["id"],
                                                  "original_url": target, "reuse": True}), 200)
    assert again == first
    via_shorten = expect_json(server.post("/shorten", json={
        "user_id": owner["id"], "original_url": target, "reuse": True}), 200)
    assert {k: via_shorten[k] for k in URL_KEYS} == first
    assert len(list_events(server, url_id=first["id"], event_type="created")) == 1
    other = new_user(server)
    theirs = expect_json(server.post("/urls", json={"user_id": other["id"],
                                                   "original_url": target, "reuse": True}), 201)
    assert theirs["id"] != first["id"], "reuse is per owner"


@pytest.mark.parametrize("how", ["deactivate", "delete"])
def test_reuse_reactivates_an_inactive_link(server, owner, how):
    target = f"https://example.com/{uniq('z')}"
    url = new_url(server, owner["id"], target)
    if how == "delete":
        expect(server.delete(f"/urls/{url['id']}"), 204)
    else:
        expect_json(server.put(f"/urls/{url['id']}", json={"is_active": False}), 200)
    expect_error(server.get(f"/{url['short_code']}"), 404)
    got = expect_json(server.post("/urls", json={"user_id": owner["id"],
                                                "original_url": target, "reuse": True}), 200)
    assert got["id"] == url["id"] and got["is_active"] is True
    check_recent(got["updated_at"])
    ups = list_events(server, url_id=url["id"], event_type="updated")
    assert ups[-1]["details"] == {"field": "is_active", "new_value": "true"}
    r = expect(server.get(f"/{url['short_code']}"), 302)
    assert r.headers["Location"] == target


def test_reuse_prefers_an_active_link(server, owner):
    target = f"https://example.com/{uniq('p')}"
    active = new_url(server, owner["id"], target)
    newer = new_url(server, owner["id"], target)
    expect(server.delete(f"/urls/{newer['id']}"), 204)
    got = expect_json(server.post("/urls", json={"user_id": owner["id"],
                                                "original_url": target, "reuse": True}), 200)
    assert got["id"] == active["id"]


def test_parallel_reuse_creates_yield_one_link(server, owner):
    target = f"https://example.com/{uniq('race')}"
    results, errors = [], []

    def create():
        c = server.clone()
        try:
            r = c.post("/urls", json={"user_id": owner["id"], "original_url": target,
                                      "reuse": True})
            results.append((r.status_code, r.json()["id"]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=create) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == 16
    assert len({i for _, i in results}) == 1, results
    assert sorted(s for s, _ in results) == [200] * 15 + [201]
    mine = [u for u in expect_list(server.get(f"/urls?user_id={owner['id']}"))
            if u["original_url"] == target]
    assert len(mine) == 1


# ---------------------------------------------------------- nested lists and one event


def test_user_urls_lists_that_users_urls(server):
    u = new_user(server)
    urls = [new_url(server, u["id"]) for _ in range(3)]
    expect_json(server.put(f"/urls/{urls[1]['id']}", json={"is_active": False}), 200)
    rows = expect_list(server.get(f"/users/{u['id']}/urls"))
    assert ids(rows) == ids(urls)
    assert rows[0] == urls[0]
    assert ids(expect_list(server.get(f"/users/{u['id']}/urls?is_active=false"))) == \
        [urls[1]["id"]]
    assert ids(expect_list(server.get(f"/users/{u['id']}/urls/?per_page=2&page=2"))) == \
        [urls[2]["id"]]
    assert expect_list(server.get(f"/users/{new_user(server)['id']}/urls")) == []


def test_user_urls_matches_the_seed(server, seed):
    uid = seed.urls[0]["user_id"]
    rows = expect_list(server.get(f"/users/{uid}/urls"))
    assert [project(r, URL_KEYS) for r in rows if r["id"] in seed.url] == seed.urls_of(uid)


@pytest.mark.parametrize("path", ["/users/987654321/urls", "/users/abc/urls", "/users/0/urls",
                                  "/urls/987654321/events", "/urls/x1/events",
                                  "/events/987654321", "/events/abc", "/events/-1"])
def test_nested_unknown_parent_is_404(server, path):
    body = expect_error(server.get(path), 404)
    assert body["error"] in ("user not found", "url not found", "event not found")


@pytest.mark.parametrize("query", ["page=0", "per_page=x", "is_active=maybe"])
def test_user_urls_bad_query_is_400(server, owner, query):
    expect_error(server.get(f"/users/{owner['id']}/urls?{query}"), 400)


def test_url_events_lists_that_urls_events(server, owner):
    url = new_url(server, owner["id"])
    other = new_url(server, owner["id"])
    for t in ("share", "click", "share"):
        expect_json(server.post("/events", json={"url_id": url["id"], "event_type": t}), 201)
    expect_json(server.post("/events", json={"url_id": other["id"], "event_type": "share"}), 201)
    rows = expect_list(server.get(f"/urls/{url['id']}/events"))
    assert_sorted_ids(rows)
    assert [e["event_type"] for e in rows] == ["created", "share", "click", "share"]
    assert all(e["url_id"] == url["id"] for e in rows)
    assert rows == list_events(server, url_id=url["id"])
    shares = expect_list(server.get(f"/urls/{url['id']}/events?event_type=share"))
    assert [e["event_type"] for e in shares] == ["share", "share"]
    page = expect_list(server.get(f"/urls/{url['id']}/events?page=2&per_page=3"))
    assert page == rows[3:]
    expect_error(server.get(f"/urls/{url['id']}/events?user_id=x"), 400)
    expect_error(server.post(f"/urls/{url['id']}/events", json={}), 405)


def test_url_events_includes_redirect_clicks(server, owner):
    url = new_url(server, owner["id"])
    expect(server.get(f"/{url['short_code']}", headers={"User-Agent": "t/1"}), 302)
    rows, ok = poll(lambda: expect_list(server.get(f"/urls/{url['id']}/events?event_type=click")),
                    lambda v: len(v) == 1, 3.0)
    assert ok, rows
    assert rows[0]["details"]["user_agent"] == "t/1"


def test_event_get_returns_the_seed_row(server, seed):
    s = seed.events[len(seed.events) // 2]
    assert project(expect_json(server.get(f"/events/{s['id']}"), 200), EVENT_KEYS) == s


# ------------------------------------------------------------------ GET /stats


def test_stats_totals_match_the_lists(linkd, seed):
    c = linkd.start(seed=True)
    body = expect_json(c.get("/stats"), 200)
    urls = expect_list(c.get("/urls"))
    events = expect_list(c.get("/events"))
    by_type = {}
    for e in events:
        by_type[e["event_type"]] = by_type.get(e["event_type"], 0) + 1
    by_type.setdefault("click", 0)
    assert body == {"users": len(expect_list(c.get("/users"))), "urls": len(urls),
                    "active_urls": sum(u["is_active"] for u in urls),
                    "inactive_urls": sum(not u["is_active"] for u in urls),
                    "events": len(events), "events_by_type": by_type}
    u = new_user(c)
    url = new_url(c, u["id"])
    expect(c.get(f"/{url['short_code']}"), 302)
    wait_events(c, 1, url_id=url["id"], event_type="click")
    after = expect_json(c.get("/stats"), 200)
    assert after["users"] == body["users"] + 1
    assert after["urls"] == body["urls"] + 1 and after["active_urls"] == body["active_urls"] + 1
    assert after["events_by_type"]["click"] == by_type["click"] + 1
    assert after["events_by_type"]["created"] == by_type["created"] + 1
    assert after["events"] == body["events"] + 2


def test_stats_wrong_method_is_405(server):
    expect_error(server.post("/stats", json={}), 405)


# ---------------------------------------------------------- /s/{code} and /r/{code}


@pytest.mark.parametrize("prefix", ["/s/", "/r/"])
def test_redirect_spellings_redirect_and_record(server, owner, prefix):
    url = new_url(server, owner["id"])
    r = expect(server.get(prefix + url["short_code"], headers={"Referer": "https://ref/"}), 302)
    assert r.headers["Location"] == url["original_url"]
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Cache"] in ("HIT", "MISS")
    rows = wait_events(server, 1, url_id=url["id"], event_type="click")
    assert rows[0]["details"] == {"short_code": url["short_code"], "user_agent":
                                  rows[0]["details"]["user_agent"], "referrer": "https://ref/"}
    expect(server.head(prefix + url["short_code"]), 302)
    expect_json(server.put(f"/urls/{url['id']}", json={"is_active": False}), 200)
    body = expect_error(server.get(prefix + url["short_code"]), 404)
    assert body["error"] == "url not found"
    expect_error(server.get(prefix + "zzzzzzzzzz"), 404)
    expect_error(server.get(prefix + "x" * 65), 404)
    rows = list_events(server, url_id=url["id"], event_type="click")
    assert len(rows) == 1, "HEAD, inactive and unknown codes record no click"
