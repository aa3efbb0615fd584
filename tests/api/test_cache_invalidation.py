# SPDX-License-Identifier: MIT
"""The link cache under concurrent redirect load: once a mutation's 2xx has
reached its client, no redirect that starts afterwards may serve the old
target (DESIGN.md §3, CONTRACT.md hint "Slumbering Guide")."""

import threading
import time

import requests

from apiclient import expect, expect_json, new_url, new_user


class Hammer:
    """Threads that redirect through `code` on keep-alive sessions and record
    (start time, status, Location) of every answer."""

    def __init__(self, base, code, n_threads=4):
        self.base, self.code = base, code
        self.stop = threading.Event()
        self.results = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(n_threads)]

    def run(self):
        s = requests.Session()
        mine = []
        deadline = time.monotonic() + 30  # bounded whatever happens
        while not self.stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            r = s.get(f"{self.base}/{self.code}", allow_redirects=False, timeout=5)
            mine.append((t0, r.status_code, r.headers.get("Location"), r.headers.get("X-Cache")))
        with self.lock:
            self.results.extend(mine)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def warm(c, code, n=5):
    for _ in range(n):
        expect(c.get(f"/{code}", allow_redirects=False), 302)
    r = c.get(f"/{code}", allow_redirects=False)
    assert r.headers["X-Cache"] == "HIT", "the link is cached before the change"


def test_deactivation_is_seen_by_every_later_redirect(fresh_server):
    c = fresh_server
    u = new_url(c, new_user(c)["id"])
    warm(c, u["short_code"])
    with Hammer(c.base_url, u["short_code"]) as h:
        time.sleep(0.5)
        expect_json(c.put(f"/urls/{u['id']}", json={"is_active": False}), 200)
        acked = time.monotonic()
        time.sleep(0.5)
    after = [x for x in h.results if x[0] > acked]
    before = [x for x in h.results if x[0] <= acked]
    assert len(before) > 20 and len(after) > 20, (len(before), len(after))
    assert all(x[1] == 302 for x in before if x[0] < acked - 0.3), "redirects before the change"
    stale = [x for x in after if x[1] != 404]
    assert not stale, f"{len(stale)} redirects after the 200 served the old link: {stale[:3]}"
    assert any(x[3] == "HIT" for x in after), "the 404s come from the cache again"


def test_new_destination_is_served_after_the_update(fresh_server):
    c = fresh_server
    u = new_url(c, new_user(c)["id"], original_url="https://old.example/a")
    warm(c, u["short_code"])
    with Hammer(c.base_url, u["short_code"]) as h:
        time.sleep(0.5)
        expect_json(c.put(f"/urls/{u['id']}", json={"original_url": "https://new.example/b"}), 200)
        acked = time.monotonic()
        time.sleep(0.5)
    after = [x for x in h.results if x[0] > acked]
    assert after and all(x[2] == "https://new.example/b" for x in after), \
        [x for x in after if x[2] != "https://new.example/b"][:3]


def test_deleting_the_owner_stops_redirects_at_once(fresh_server):
    c = fresh_server
    owner = new_user(c)
    u = new_url(c, owner["id"])
    warm(c, u["short_code"])
    with Hammer(c.base_url, u["short_code"]) as h:
        time.sleep(0.3)
        expect(c.delete(f"/users/{owner['id']}"), 204)
        acked = time.monotonic()
        time.sleep(0.5)
    after = [x for x in h.results if x[0] > acked]
    assert after and all(x[1] == 404 for x in after)


def test_a_code_cached_as_unknown_works_once_created(fresh_server):
    c = fresh_server
    owner = new_user(c)
    for _ in range(3):
        expect(c.get("/fresh-code-1", allow_redirects=False), 404)
    r = c.get("/fresh-code-1", allow_redirects=False)
    assert r.headers["X-Cache"] == "HIT", "the unknown code is cached as unknown"
    new_url(c, owner["id"], short_code="fresh-code-1")
    expect(c.get("/fresh-code-1", allow_redirects=False), 302)
