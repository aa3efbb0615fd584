# SPDX-License-Identifier: MIT
"""Redis down, killed or silent, under redirect load: every redirect is
still answered (local cache and store), /health stays 200 and says
"redis":"degraded" with the reason, linkd_dependency_up{dependency="redis"}
is 0, and once Redis is back on its port the node uses it again by itself."""

import threading
import time

from apiclient import expect
from conftest import new_link, wait_until

LINKS = 50


class Load:
    """Threads that redirect through a node's links until stopped, counting
    every status (and every exception as an error)."""

    def __init__(self, node, codes, threads=2):
        self.node, self.codes = node, codes
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.statuses = {}
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, i):
        c = self.node.c.clone()
        k = i
        while not self.stop_flag.is_set():
            code = self.codes[k % len(self.codes)]
            k += 1
            try:
                s = c.get("/" + code).status_code
            except Exception as e:  # noqa: BLE001  (any failure is a client error)
                with self.lock:
                    self.errors.append(repr(e))
                continue
            with self.lock:
                self.statuses[s] = self.statuses.get(s, 0) + 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def total(self):
        with self.lock:
            return sum(self.statuses.values())


def run_for(load, seconds):
    start = load.total()
    time.sleep(seconds)
    return load.total() - start


def test_redis_killed_under_load_costs_no_request_and_comes_back(cluster):
    redis = cluster.redis()
    # a short local TTL keeps sending lookups past the local cache, to Redis
    # while it is there and to the store once it is gone
    node = cluster.node(redis.url, LINKD_CACHE_TTL_MS=20)
    user = None
    codes = []
    for _ in range(LINKS):
        link = new_link(node, user=user)
        user = user or {"id": link["user_id"]}
        codes.append(link["short_code"])
    with Load(node, codes) as load:
        assert run_for(load, 0.5) > 0
        redis.kill()
        assert run_for(load, 1.5) > 0, "redirects go on without Redis"
        health = expect(node.health(), 200).json()
        assert health["status"] == "ok" and health["db"] == "ok", health
        assert health["redis"] == "degraded", health
        check = health["checks"]["redis"]
        assert check["status"] == "degraded" and check["reason"] == "unreachable", check
        assert check["connected"] is False and check["error"], check
        assert node.metric("dependency_up", "redis") == 0
        store_reads = node.metric("cache_store_reads_total")
        assert run_for(load, 0.5) > 0
        assert node.metric("cache_store_reads_total") > store_reads, "misses read the store"

        redis.start()  # the same port
        wait_until("the node reconnected by itself",
                   lambda: expect(node.health(), 200).json().get("redis") == "ok")
        assert run_for(load, 0.5) > 0
    assert load.errors == [], load.errors[:5]
    assert set(load.statuses) == {302}, load.statuses
    m = node.metrics()
    assert m["dependency_up"]["redis"] == 1
    assert m["redis_reconnects_total"] >= 1
    assert m["dependency_errors_total"]["redis"] >= 1
    hits = m["cache_redis_hits_total"]
    wait_until("the restarted Redis is filled and read again",
               lambda: [node.c.get("/" + c) for c in codes[:5]] and
               node.metric("cache_redis_hits_total") > hits)


def test_a_silent_redis_is_timed_out_and_dropped(cluster):
    """SIGSTOP: connections stay open, nothing answers. Lookups give up at
    LINKD_REDIS_TIMEOUT_MS and read the store; the stuck connection is
    dropped, and after SIGCONT the node reconnects."""
    redis = cluster.redis()
    node = cluster.node(redis.url, LINKD_CACHE_TTL_MS=20)
    codes = [new_link(node)["short_code"] for _ in range(5)]
    with Load(node, codes) as load:
        assert run_for(load, 0.3) > 0
        redis.pause()
        try:
            assert run_for(load, 1.5) > 0
            assert node.metric("redis_timeouts_total") >= 1
            wait_until("the stuck connection was dropped",
                       lambda: node.metric("dependency_up", "redis") == 0)
            health = expect(node.health(), 200).json()
            assert health["redis"] == "degraded", health
        finally:
            redis.resume()
        wait_until("the node reconnected", lambda: node.metric("dependency_up", "redis") == 1)
    assert load.errors == [], load.errors[:5]
    assert set(load.statuses) == {302}, load.statuses


def test_a_node_starts_without_redis_and_connects_when_it_comes(cluster):
    redis = cluster.redis()
    redis.stop()
    node = cluster.node(redis.url)
    health = expect(node.health(), 200).json()
    assert health["status"] == "ok" and health["redis"] == "degraded", health
    link = new_link(node)
    expect(node.c.get("/" + link["short_code"]), 302)
    redis.start()
    wait_until("connected", lambda: node.metric("dependency_up", "redis") == 1)
    assert '"event":"start_without_redis"' in node.proc.stdout_text()
