# SPDX-License-Identifier: MIT
"""Fixtures for the monitoring tests: one real `linkd serve` (the API
suite's LinkdProcess, imported by path: ephemeral port, temporary SQLite
file, stopped by PID) with a little traffic of every kind, and its /metrics."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from apiclient import expect  # noqa: E402  (tests/api)
from linkdproc import LinkdProcess, require_binary  # noqa: E402


def make_traffic(c):
    """Requests that touch every family: a create (store writer, commit and
    sync), redirects (cache miss then hits, clicks), a 404, a 4xx."""
    user = expect(c.post("/users", json={"username": "mon", "email": "mon@example.com"}), 201).json()
    link = expect(c.post("/urls", json={"user_id": user["id"],
                                        "original_url": "https://example.com/monitoring"}), 201).json()
    for _ in range(5):
        expect(c.get("/" + link["short_code"]), 302)
    expect(c.get("/" + link["short_code"] + "x"), 404)
    expect(c.post("/urls", data="not json"), 400)
    expect(c.get("/health"), 200)


@pytest.fixture(scope="session")
def linkd_node(tmp_path_factory):
    require_binary()
    p = LinkdProcess(tmp_path_factory.mktemp("monitoring"), name="monitoring")
    p.start()
    try:
        make_traffic(p.client())
        yield p
    finally:
        problem = p.stop()
        if problem:
            pytest.fail("linkd: " + problem, pytrace=False)


@pytest.fixture(scope="session")
def exposition(linkd_node):
    """The text of one /metrics scrape taken after the traffic."""
    r = expect(linkd_node.client().get("/metrics"), 200)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text
