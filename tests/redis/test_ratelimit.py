# SPDX-License-Identifier: MIT
"""Shared rate limits: with Redis, nodes count one budget per client (one
EVALSHA per decision, GCRA on Redis's clock); without it each node falls
back to its own limiter, and never fails a request because of Redis."""

import time

from apiclient import expect
from conftest import wait_until

BURST = 20
RATE = 1  # per second: little refills while a test runs
LIMITS = {"LINKD_RATE_READ": RATE, "LINKD_RATE_READ_BURST": BURST}


def spend(nodes, n):
    """n reads spread over the nodes in turn; the statuses and the seconds it took."""
    start = time.monotonic()
    statuses = [nodes[i % len(nodes)].c.get("/users").status_code for i in range(n)]
    return statuses, time.monotonic() - start


def test_two_nodes_hand_out_one_budget(cluster):
    redis = cluster.redis()
    a = cluster.node(redis.url, **LIMITS)
    b = cluster.node(redis.url, **LIMITS)
    statuses, elapsed = spend([a, b], 4 * BURST)
    ok = statuses.count(200)
    assert set(statuses) <= {200, 429}, statuses
    # one burst, plus what refilled while the requests ran, plus one of slack
    assert BURST <= ok <= BURST + int(elapsed * RATE) + 1, (ok, elapsed, statuses)
    assert statuses[:BURST] == [200] * BURST, "both nodes spend the same budget"
    assert a.metric("rate_limit_local_decisions_total") == 0
    assert b.metric("rate_limit_local_decisions_total") == 0
    r = a.c.get("/users")
    assert r.headers["RateLimit-Limit"] == str(BURST)
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) >= 1
    assert redis.call("EXISTS", "linkd:rate:read:ip:127.0.0.1") == 1


def test_without_redis_each_node_falls_back_to_its_own_budget(cluster):
    redis = cluster.redis()
    a = cluster.node(redis.url, **LIMITS)
    b = cluster.node(redis.url, **LIMITS)
    redis.kill()
    wait_until("both nodes noticed", lambda: a.metric("dependency_up", "redis") == 0 and
               b.metric("dependency_up", "redis") == 0)
    statuses, elapsed = spend([a, b], 4 * BURST)
    ok = statuses.count(200)
    assert set(statuses) <= {200, 429}, statuses
    assert 2 * BURST <= ok <= 2 * BURST + 2 * int(elapsed * RATE) + 2, (ok, elapsed)
    assert a.metric("rate_limit_local_decisions_total") >= 2 * BURST // 2


def test_a_silent_redis_costs_a_timeout_not_an_error(cluster):
    """SIGSTOP: Redis keeps the connection and answers nothing. Decisions
    fall back to the node's limiter after LINKD_REDIS_TIMEOUT_MS; the
    client sees its usual answers."""
    redis = cluster.redis()
    a = cluster.node(redis.url, **LIMITS)
    redis.pause()
    try:
        statuses, _ = spend([a], 5)
    finally:
        redis.resume()
    assert statuses == [200] * 5, statuses
    assert a.metric("redis_timeouts_total") >= 1
    assert a.metric("rate_limit_local_decisions_total") >= 1
    wait_until("Redis usable again", lambda: a.metric("dependency_up", "redis") == 1)
    expect(a.c.get("/users"), 200)
