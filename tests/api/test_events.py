# SPDX-License-Identifier: MIT
"""Events: GET /events and POST /events (CONTRACT §4.15, §4.16)."""

import collections

import pytest

from apiclient import (EVENT_KEYS, assert_sorted_ids, check_event, check_recent, expect_error,
                       expect_json, expect_list, ids, list_events, new_url, new_user, project)


@pytest.fixture(scope="module")
def link(server):
    owner = new_user(server)
    return owner, new_url(server, owner["id"])


def seed_url_with_updates(seed):
    counts = collections.Counter(e["url_id"] for e in seed.events if e["event_type"] == "updated")
    url_id = max(counts, key=lambda k: (counts[k], -k))
    return seed.url[url_id]


# ---------------------------------------------------------------- GET /events


def test_list_events_without_params_returns_every_row(server, seed):
    rows = expect_list(server.get("/events"))
    for e in rows:
        check_event(e)
    assert_sorted_ids(rows)
    assert set(seed.event) <= set(ids(rows))


def test_list_events_shows_seed_rows_as_in_the_csv(server, seed):
    rows = {e["id"]: e for e in expect_list(server.get("/events"))}
    for s in seed.events:
        assert project(rows[s["id"]], EVENT_KEYS) == s


def test_filter_by_url_id(server, seed):
    s = seed_url_with_updates(seed)
    rows = list_events(server, url_id=s["id"])
    assert all(e["url_id"] == s["id"] for e in rows)
    want = seed.events_of(url_id=s["id"])
    assert [project(e, EVENT_KEYS) for e in rows if e["id"] in seed.event] == want


def test_filter_by_user_id(server, seed):
    uid = seed.events[len(seed.events) // 3]["user_id"]
    rows = list_events(server, user_id=uid)
    assert all(e["user_id"] == uid for e in rows)
    assert [project(e, EVENT_KEYS) for e in rows if e["id"] in seed.event] \
        == seed.events_of(user_id=uid)


@pytest.mark.parametrize("etype", ["created", "updated", "deleted"])
def test_filter_by_event_type(server, seed, etype):
    rows = list_events(server, event_type=etype)
    assert all(e["event_type"] == etype for e in rows)
    assert [e["id"] for e in rows if e["id"] in seed.event] \
        == [e["id"] for e in seed.events_of(event_type=etype)]


def test_filters_combine_with_and(server, seed):
    s = seed_url_with_updates(seed)
    rows = list_events(server, url_id=s["id"], event_type="updated", user_id=s["user_id"])
    assert [project(e, EVENT_KEYS) for e in rows] \
        == seed.events_of(url_id=s["id"], event_type="updated")
    assert len(rows) >= 1
    other_user = next(u["id"] for u in seed.users if u["id"] != s["user_id"])
    assert list_events(server, url_id=s["id"], user_id=other_user) == []
    assert list_events(server, url_id=s["id"], event_type="no-such-type") == []


def test_filter_event_type_is_exact(server):
    assert list_events(server, event_type="CREATED") == []
    assert list_events(server, event_type="creat") == []


def test_filter_unknown_ids_give_empty_lists(server):
    assert list_events(server, url_id=999999999) == []
    assert list_events(server, user_id=999999999) == []


@pytest.mark.parametrize("params", [
    {"url_id": "abc"}, {"url_id": "1.5"}, {"url_id": ""}, {"user_id": "x"}, {"user_id": "2b"},
    {"page": 0}, {"page": "one"}, {"per_page": 0}, {"per_page": "-3"},
], ids=repr)
def test_list_events_bad_query_is_400(server, params):
    expect_error(server.get("/events", params=params), 400)


def test_list_events_pagination(server):
    everything = ids(expect_list(server.get("/events")))
    assert len(everything) > 2000
    assert ids(expect_list(server.get("/events", params={"page": 1}))) == everything[:20]
    assert ids(expect_list(server.get("/events", params={"page": 3, "per_page": 100}))) \
        == everything[200:300]
    assert ids(expect_list(server.get("/events", params={"per_page": 1001}))) \
        == everything[:1000]
    assert ids(expect_list(server.get("/events", params={"page": 2, "per_page": 5000}))) \
        == everything[1000:2000]
    created = ids(list_events(server, event_type="created"))
    assert ids(expect_list(server.get("/events", params={"event_type": "created", "page": 2,
                                                         "per_page": 10}))) == created[10:20]


# ---------------------------------------------------------------- POST /events


def test_post_event_returns_201_and_the_event(server, link):
    owner, u = link
    body = {"url_id": u["id"], "user_id": owner["id"], "event_type": "share",
            "details": {"channel": "email", "n": 2, "nested": {"a": [1, 2]}}}
    e = check_event(expect_json(server.post("/events", json=body), 201))
    assert project(e, ("url_id", "user_id", "event_type", "details")) == project(
        body, ("url_id", "user_id", "event_type", "details"))
    check_recent(e["timestamp"], "timestamp")
    assert e in list_events(server, url_id=u["id"], event_type="share")


def test_post_event_user_id_defaults_to_url_owner(server, link):
    owner, u = link
    e = expect_json(server.post("/events", json={"url_id": u["id"], "event_type": "view"}), 201)
    assert e["user_id"] == owner["id"]
    assert e["details"] == {}


def test_post_event_user_id_may_be_another_user(server, link):
    _, u = link
    other = new_user(server)
    e = expect_json(server.post("/events", json={"url_id": u["id"], "event_type": "view",
                                                 "user_id": other["id"]}), 201)
    assert e["user_id"] == other["id"]


def test_post_event_type_of_64_characters(server, link):
    _, u = link
    e = expect_json(server.post("/events", json={"url_id": u["id"], "event_type": "e" * 64}), 201)
    assert e["event_type"] == "e" * 64


def test_post_event_unknown_url_is_404(server):
    expect_error(server.post("/events", json={"url_id": 999999999, "event_type": "view"}), 404)


def test_post_event_unknown_user_is_404(server, link):
    _, u = link
    expect_error(server.post("/events", json={"url_id": u["id"], "event_type": "view",
                                              "user_id": 999999999}), 404)


BAD_EVENT_FIELDS = [
    {"url_id": None}, {"url_id": "1"}, {"url_id": 1.5}, {"url_id": True}, {"url_id": [1]},
    {"event_type": None}, {"event_type": ""}, {"event_type": 7}, {"event_type": ["click"]},
    {"event_type": "e" * 65},
    {"user_id": "1"}, {"user_id": 2.5}, {"user_id": False},
    {"details": "a string"}, {"details": ["a", "b"]}, {"details": 42}, {"details": True},
    {"details": None}, {"details": '{"looks":"like json"}'},
]


@pytest.mark.parametrize("patch", BAD_EVENT_FIELDS, ids=lambda p: repr(p)[:45])
def test_post_event_bad_field_is_422(server, link, patch):
    _, u = link
    body = {"url_id": u["id"], "event_type": "view"}
    body.update(patch)
    before = len(list_events(server, url_id=u["id"]))
    expect_error(server.post("/events", json=body), 422)
    assert len(list_events(server, url_id=u["id"])) == before


@pytest.mark.parametrize("missing", ["url_id", "event_type"])
def test_post_event_missing_required_field_is_422(server, link, missing):
    _, u = link
    body = {"url_id": u["id"], "event_type": "view"}
    del body[missing]
    expect_error(server.post("/events", json=body), 422)


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b'"click"', b"{'url_id': 1}"], ids=repr)
def test_post_event_body_not_an_object_is_400(server, raw):
    expect_error(server.post("/events", data=raw, headers={"Content-Type": "application/json"}),
                 400)
