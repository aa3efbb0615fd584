# SPDX-License-Identifier: MIT
"""Three linkd nodes on PostgreSQL and Redis behind nginx
(docs/deploy.md#cluster), every request of the load through nginx. The only
timing bound asserted is the contract's: a changed link stops redirecting on
every node within 1 s. Everything else is counted: failed client requests,
acknowledged creates missing from PostgreSQL, clicks against 302s. Figures
are printed on lines that start with CLUSTER."""

import json
import os
import time

import pytest

from clusterlib import (FLUSH_MS, Load, figures, lost_creates, p99, request, wait_until)

BOUND_S = 1.0  # CONTRACT.md: a changed link stops redirecting within 1 s
TRIALS = int(os.environ.get("LNK_CLUSTER_TRIALS", "30"))
ROLLING = int(os.environ.get("LNK_CLUSTER_ROLLING", "1"))


def links_for_load(cluster, n=12, tag="l"):
    user = cluster.new_user()
    links = [cluster.new_link(user, f"https://example.com/{tag}/{i}") for i in range(n)]
    return user, [(x["short_code"], x["original_url"]) for x in links]


def warm_everywhere(cluster, links):
    """Each node answers each link from its own cache from now on."""
    for n in cluster.nodes:
        for code, url in links:
            warm(n, code, url)


def warm(node, code, url):
    """Redirects until node answers code from its own cache. A fill is
    dropped when any invalidation (another link's change, a create's)
    arrives during its store read (include/linkd/cache.h), so it may take
    a few tries."""
    for _ in range(50):
        status, h, _ = node.get("/" + code)
        assert status == 302 and h["location"] == url, (node.addr, code, status)
        if h["x-cache"] == "HIT":
            return
        time.sleep(0.01)
    pytest.fail(f"{code} never reached the cache of {node.addr}")


def served_by(cluster, since, uri_prefix="/"):
    """Requests nginx sent to each node since access-log offset `since`."""
    counts = {n.addr: 0 for n in cluster.nodes}
    for e in cluster.nginx.access(since):
        if e["uri"].startswith(uri_prefix):
            for a in e["upstream"].split(", "):
                counts[a] = counts.get(a, 0) + 1
    return counts


def wait_serving(cluster, node):
    """The node answers through nginx again: a request nginx sent it got
    its answer (the access log's last upstream of a request is the node)."""
    since = cluster.nginx.access_mark()

    def served():
        request(cluster.port, "GET", "/health")
        return any(e["upstream"].split(", ")[-1] == node.addr and e["status"] == 200
                   for e in cluster.nginx.access(since))

    wait_until(f"{node.addr} serves through nginx again", served)


def check_load(load, name, **extra):
    s = load.summary()
    figures(name, **s, **extra)
    assert load.redirect_errors == [], load.redirect_errors[:5]
    assert s["redirects_302"] > 0 and s["creates_acked"] > 0, s


def test_a_link_redirects_on_every_node_and_a_deactivation_stops_it_everywhere(cluster):
    user = cluster.new_user()
    samples = []
    for trial in range(TRIALS):
        link = cluster.new_link(user, f"https://example.com/inv/{trial}")
        code = link["short_code"]
        for n in cluster.nodes:  # at once: no node waits for anything
            status, h, _ = n.get("/" + code)
            assert status == 302 and h["location"] == link["original_url"], (n.addr, status)
        for n in cluster.nodes:
            warm(n, code, link["original_url"])
        a = cluster.nodes[trial % len(cluster.nodes)]
        status, _, body = a.get(f"/urls/{link['id']}", "PUT", {"is_active": False})
        assert status == 200 and json.loads(body)["is_active"] is False, (status, body)
        start = time.monotonic()
        pending = list(cluster.nodes)
        while pending:
            for n in list(pending):
                status, h, _ = n.get("/" + code)
                elapsed = time.monotonic() - start
                if status == 404:
                    pending.remove(n)
                else:
                    assert status == 302, status
                    assert elapsed < BOUND_S, (
                        f"{n.addr} still redirects {code} {elapsed * 1000:.0f} ms after the "
                        f"deactivation on {a.addr}")
        samples.append(elapsed)
    figures("invalidation", trials=len(samples),
            median_ms=round(sorted(samples)[len(samples) // 2] * 1000, 1),
            p99_ms=round(p99(samples) * 1000, 1), max_ms=round(max(samples) * 1000, 1))
    assert max(samples) < BOUND_S
    # a client's request id goes through nginx to the node and back
    status, h, _ = request(cluster.port, "GET", "/health", headers={"X-Request-ID": "cluster-rid-7"})
    assert status == 200 and h["x-request-id"] == "cluster-rid-7", h
    status, h, _ = request(cluster.port, "GET", "/health")
    assert status == 200 and len(h["x-request-id"]) == 32, h  # nginx's $request_id


def test_clicks_served_by_every_node_are_counted_once_each(cluster):
    user = cluster.new_user()
    link = cluster.new_link(user, "https://example.com/clicks")
    code, since = link["short_code"], cluster.nginx.access_mark()
    served = 0
    for _ in range(300):
        status, h, _ = request(cluster.port, "GET", "/" + code)
        assert status == 302 and h["location"] == link["original_url"], status
        served += 1
    per_node = served_by(cluster, since, "/" + code)
    assert all(per_node[n.addr] > 0 for n in cluster.nodes), per_node

    def clicks():
        return cluster.query("SELECT count(*) FROM events WHERE url_id = %s AND "
                             "event_type = 'click'", (link["id"],))[0][0]

    wait_until(f"{served} click rows", lambda: clicks() >= served)
    time.sleep(5 * FLUSH_MS / 1000)  # a few more flushes: nothing more comes
    rows = clicks()
    summary = cluster.query("SELECT clicks FROM link_clicks WHERE url_id = %s", (link["id"],))
    figures("clicks", served_302=served, click_rows=rows, per_node=per_node,
            link_clicks=summary[0][0] if summary else None)
    assert rows == served
    assert summary == [(served,)]


def test_redis_killed_under_load_costs_no_request_and_comes_back(cluster):
    user, links = links_for_load(cluster, tag="redis")
    warm_everywhere(cluster, links)
    with Load(cluster.port, links, user, tag="redis") as load:
        assert load.run_for(1.0) > 0
        cluster.redis.kill()
        assert load.run_for(1.5) > 0
        for n in cluster.nodes:
            wait_until(f"{n.addr} sees Redis gone",
                       lambda: n.json("/health")["redis"] == "degraded")
            health = n.json("/health")
            assert health["status"] == "ok" and health["db"] == "ok", health
            check = health["checks"]["redis"]
            assert check["status"] == "degraded" and check["connected"] is False, check
            assert check["reason"] == "unreachable" and check["error"], check
        assert load.run_for(1.0) > 0
        cluster.redis.start()  # the same port
        for n in cluster.nodes:
            wait_until(f"{n.addr} reconnected", lambda: n.json("/health")["redis"] == "ok")
        assert load.run_for(1.0) > 0
    check_load(load, "redis_outage")
    assert load.create_errors == [], load.create_errors[:5]
    assert lost_creates(cluster, load.acked) == []

    # invalidation through pub/sub again: node B's local TTL is 30 s, so only
    # Redis can tell it within the bound
    a, b, c = cluster.nodes
    link = cluster.new_link(user, "https://example.com/redis/after")
    code = link["short_code"]
    hits = c.metric("cache_redis_hits_total")
    for n in (a, b, c):  # a fills the tier, b and c read it
        status, _, _ = n.get("/" + code)
        assert status == 302
    assert c.metric("cache_redis_hits_total") > hits, "the shared cache is read again"
    received = b.metric("redis_invalidations_received_total")
    status, _, _ = a.get(f"/urls/{link['id']}", "PUT", {"is_active": False})
    assert status == 200
    start = time.monotonic()
    while b.get("/" + code)[0] != 404:
        assert time.monotonic() - start < BOUND_S, "node B still redirects"
    seen_ms = (time.monotonic() - start) * 1000
    assert b.metric("redis_invalidations_received_total") > received
    figures("redis_back", invalidation_seen_on_b_ms=round(seen_ms, 1))


def test_postgresql_restarted_under_load(cluster):
    user, links = links_for_load(cluster, tag="pg")
    warm_everywhere(cluster, links)
    with Load(cluster.port, links, user, tag="pg", create_ok=(201, 503)) as load:
        assert load.run_for(1.0) > 0
        acked_before = len(load.acked)
        t0 = time.monotonic()
        cluster.pg.stop()
        wait_until("a create answered 503", lambda: load.creates.get(503, 0) > 0)
        assert load.run_for(1.0) > 0
        cluster.pg.start()
        down_s = time.monotonic() - t0
        n503 = load.creates.get(503, 0)
        wait_until("creates succeed again", lambda: len(load.acked) > acked_before + 5)
        assert load.run_for(0.5) > 0
    check_load(load, "postgresql_restart", down_s=round(down_s, 2), creates_503_while_down=n503)
    assert load.create_errors == [], load.create_errors[:5]
    assert load.creates.get(503, 0) > 0
    for status, body in load.create_bodies:
        assert status == 503
        assert json.loads(body) == {"error": "storage unavailable, retry later"}, body
    assert lost_creates(cluster, load.acked) == []


def test_a_node_killed_under_load_costs_no_redirect_and_rejoins(cluster):
    user, links = links_for_load(cluster, tag="kill")
    victim = cluster.nodes[1]
    with Load(cluster.port, links, user, tag="kill", creators=2, create_ok=(201, 502)) as load:
        assert load.run_for(1.0) > 0
        victim.kill()
        assert load.run_for(2.0) > 0
        victim.start()
        wait_serving(cluster, victim)
        assert load.run_for(1.0) > 0
    # a create in flight on the killed node: nginx cannot know whether it
    # was written, does not repeat it, and answers 502
    check_load(load, "node_sigkill", creates_in_flight_502=load.creates.get(502, 0))
    assert load.create_errors == [], load.create_errors[:5]
    assert lost_creates(cluster, load.acked) == []


def test_a_rolling_restart_under_load_fails_no_request(cluster):
    user, links = links_for_load(cluster, tag="roll")
    per_round = []
    with Load(cluster.port, links, user, tag="roll", creators=2) as load:
        assert load.run_for(1.0) > 0
        for _ in range(ROLLING):
            t0 = time.monotonic()
            for n in cluster.nodes:  # docs/deploy.md#rolling-restart
                cluster.nginx.upstream_node("out", n.addr)
                out_since = cluster.nginx.access_mark()
                n.stop()
                assert not n.problems, n.problems
                n.start()
                cluster.nginx.upstream_node("ready", n.addr)
                sent = served_by(cluster, out_since)[n.addr]
                assert sent == 0, f"nginx sent {sent} requests to {n.addr} while it was out"
                cluster.nginx.upstream_node("in", n.addr)
                wait_serving(cluster, n)
            per_round.append(round(time.monotonic() - t0, 1))
        assert load.run_for(0.5) > 0
    check_load(load, "rolling_restart", rounds=ROLLING, round_s=per_round)
    assert load.create_errors == [], load.create_errors[:5]
    assert set(load.creates) == {201}, load.creates
    assert lost_creates(cluster, load.acked) == []


def test_v1_options_change_everywhere_and_a_click_maximum_holds_across_nodes(cluster):
    """/api/v1: a PATCH of a link's options on one node is seen on every
    node within the bound (the options travel with the cache and Redis
    entries, so a stale entry would keep the old redirect type), and a
    click maximum is counted by the database, not per node."""
    user = cluster.new_user()
    a, b = cluster.nodes[0], cluster.nodes[1]
    status, _, body = a.get("/api/v1/links", "POST",
                            {"url": "https://example.com/v1/opts", "user_id": user})
    assert status == 201, (status, body)
    link = json.loads(body)
    code = link["code"]
    for n in cluster.nodes:
        warm(n, code, link["url"])
    status, _, body = b.get(f"/api/v1/links/{link['id']}", "PATCH",
                            {"redirect_type": 308, "utm": {"source": "cluster"}})
    assert status == 200 and json.loads(body)["redirect_type"] == 308, (status, body)
    want = link["url"] + "?utm_source=cluster"
    start = time.monotonic()
    pending = list(cluster.nodes)
    while pending:
        for n in list(pending):
            status, h, _ = n.get("/" + code)
            if status == 308:
                assert h["location"] == want, h
                pending.remove(n)
            else:
                assert status == 302 and time.monotonic() - start < BOUND_S, (n.addr, status)
    figures("v1_invalidation", ms=round((time.monotonic() - start) * 1000, 1))

    status, _, body = a.get("/api/v1/links", "POST",
                            {"url": "https://example.com/v1/max", "user_id": user,
                             "max_clicks": 7, "fallback_url": "https://example.com/v1/used"})
    assert status == 201, (status, body)
    capped = json.loads(body)
    since = cluster.nginx.access_mark()
    got = {}
    for _ in range(21):  # through nginx: spread over the nodes
        status, h, _ = request(cluster.port, "GET", "/" + capped["code"])
        assert status == 302, status
        got[h["location"]] = got.get(h["location"], 0) + 1
    per_node = served_by(cluster, since, "/" + capped["code"])
    figures("v1_max_clicks", per_node=per_node, answers=got)
    assert sum(1 for v in per_node.values() if v) >= 2, per_node
    assert got == {capped["url"]: 7, "https://example.com/v1/used": 14}, got
    used = cluster.query("SELECT used FROM link_slots WHERE url_id = %s", (capped["id"],))
    assert used == [(7,)], used
