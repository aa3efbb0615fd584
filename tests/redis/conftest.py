# SPDX-License-Identifier: MIT
"""Fixtures for the Redis tests (docs/adr/0014-redis-tier.md): private
redis-server processes (redisproc.py) and linkd nodes that share one SQLite
file in WAL mode (several processes may open it: docs/durability.md) and
one Redis, as nodes behind a load balancer share PostgreSQL and Redis. The
nodes are the API suite's LinkdProcess (tests/api), stopped by PID."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from apiclient import expect  # noqa: E402  (tests/api)
from apiclient import wait_until as poll_until  # noqa: E402
from linkdproc import LinkdProcess, require_binary  # noqa: E402
from redisproc import RedisServer  # noqa: E402

# Small caches stop fast; the tests hold a few hundred links at most.
NODE_ENV = {"LINKD_CACHE_MB": 16, "LINKD_WORKERS": 2}


class Node:
    """One linkd serve and a client for it."""

    def __init__(self, proc):
        self.proc = proc
        self.c = proc.client()

    def metrics(self):
        return expect(self.c.get("/metrics?format=json"), 200).json()

    def metric(self, name, label=None):
        v = self.metrics().get(name)
        if label is not None:
            v = (v or {}).get(label)
        return v

    def health(self):
        return self.c.get("/health")

    def stop(self):
        return self.proc.stop()


class Cluster:
    """Starts nodes and Redis servers for a test (or a module) and stops
    every one of them, failing the test on a node's unclean exit."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.db_path = self.workdir / "shared.db"
        self.nodes = []
        self.redises = []

    def redis(self, password=None):
        r = RedisServer(password=password, name=f"redis{len(self.redises)}")
        self.redises.append(r)
        return r.start()

    def node(self, redis_url, db_path=None, **env):
        d = self.workdir / f"node{len(self.nodes)}"
        d.mkdir()
        extra = {**NODE_ENV, **({"REDIS_URL": redis_url} if redis_url else {}), **env}
        p = LinkdProcess(d, db_path=db_path or self.db_path, env=extra,
                         name=f"node{len(self.nodes)}")
        self.nodes.append(p)
        p.start()
        return Node(p)

    def finish(self):
        problems = [m for m in (p.stop() for p in self.nodes) if m]
        for r in self.redises:
            r.cleanup()
        return problems


def _cluster(workdir):
    require_binary()
    c = Cluster(workdir)
    yield c
    problems = c.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def cluster(tmp_path):
    yield from _cluster(tmp_path)


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory):
    yield from _cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def pair(module_cluster):
    """Redis and two nodes, A and B, on one database."""
    r = module_cluster.redis()
    a = module_cluster.node(r.url)
    b = module_cluster.node(r.url)
    return r, a, b


def new_link(node, url="https://example.com/redis", user=None):
    """A user (unless given) and an active link, created through node."""
    if user is None:
        name = f"u{time.monotonic_ns()}"
        user = expect(node.c.post("/users", json={"username": name,
                                                   "email": f"{name}@example.com"}), 201).json()
    return expect(node.c.post("/urls", json={"user_id": user["id"], "original_url": url}),
                  201).json()


def wait_until(what, cond, timeout_s=15.0):
    """apiclient.wait_until, polled every 20 ms."""
    return poll_until(what, cond, timeout_s, step_s=0.02)
