# SPDX-License-Identifier: MIT
"""The shared cache tier: local cache -> Redis -> store, a miss fills both,
and the metrics tell the three apart. X-Cache stays as CONTRACT.md §2 has
it: HIT only when the node's own cache answered."""

import time

from apiclient import expect
from conftest import new_link, wait_until


def counters(node):
    m = node.metrics()
    return {k: m[k] for k in ("cache_hits_total", "cache_misses_total", "cache_redis_hits_total",
                              "cache_store_reads_total")}


def delta(before, after):
    return {k: after[k] - before[k] for k in before}


def test_a_redirect_fills_redis_and_another_node_serves_it_from_redis(pair):
    redis, a, b = pair
    link = new_link(a, "https://example.com/tier?x=1")
    code = link["short_code"]

    before = counters(a)
    r = expect(a.c.get("/" + code), 302)
    assert r.headers["Location"] == link["original_url"]
    assert r.headers["X-Cache"] == "MISS"
    assert delta(before, counters(a)) == {"cache_hits_total": 0, "cache_misses_total": 1,
                                          "cache_redis_hits_total": 0,
                                          "cache_store_reads_total": 1}, "A read the store"
    stored = redis.hgetall(f"linkd:link:{code}")
    assert stored.get("v") == f"{link['id']} {link['user_id']} 1 {link['original_url']}", stored

    before = counters(b)
    r = expect(b.c.get("/" + code), 302)
    assert r.headers["Location"] == link["original_url"]
    assert r.headers["X-Cache"] == "MISS", "a Redis hit is not a local HIT"
    assert delta(before, counters(b)) == {"cache_hits_total": 0, "cache_misses_total": 1,
                                          "cache_redis_hits_total": 1,
                                          "cache_store_reads_total": 0}, "B answered from Redis"

    before = counters(b)
    r = expect(b.c.get("/" + code), 302)
    assert r.headers["X-Cache"] == "HIT"
    assert delta(before, counters(b))["cache_hits_total"] == 1, "the Redis hit filled B's cache"


def test_an_inactive_link_in_redis_answers_404_on_another_node(pair):
    redis, a, b = pair
    link = new_link(a)
    expect(a.c.put(f"/urls/{link['id']}", json={"is_active": False}), 200)
    expect(a.c.get("/" + link["short_code"]), 404)
    key = f"linkd:link:{link['short_code']}"
    # A fills Redis from its own thread, after its answer
    wait_until("A's fill of the inactive link in Redis", lambda: redis.hgetall(key).get("v"))
    assert redis.hgetall(key)["v"].split(" ")[2] == "0"
    before = counters(b)
    r = expect(b.c.get("/" + link["short_code"]), 404)
    assert r.headers["Content-Type"].startswith("application/json")
    assert delta(before, counters(b))["cache_redis_hits_total"] == 1


def test_an_unknown_code_is_not_put_in_redis(pair):
    redis, a, _ = pair
    expect(a.c.get("/zzzzzz"), 404)
    assert redis.call("EXISTS", "linkd:link:zzzzzz") == 0


def test_clicks_of_redis_hits_are_recorded(pair):
    _, a, b = pair
    link = new_link(a)
    expect(a.c.get("/" + link["short_code"]), 302)
    expect(b.c.get("/" + link["short_code"]), 302)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = expect(a.c.get(f"/events?url_id={link['id']}&event_type=click"), 200).json()
        if len(events) == 2:
            break
        time.sleep(0.05)
    assert len(events) == 2, events
