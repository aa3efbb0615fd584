# SPDX-License-Identifier: MIT
"""No request can stall the server (docs/security.md, ADR 0010): lists run on
reader threads and stream in chunks, work stops when the client goes away, a
client has a budget of lists in progress, unpaginated lists have a ceiling,
and the drain deadline is a deadline."""

import json
import socket
import sqlite3
import statistics
import threading
import time

import pytest

import backend
from apiclient import expect, expect_error, expect_json, expect_list, new_url, new_user, uniq
from linkdproc import LinkdProcess

N_EVENTS = 1_000_000
N_URLS = 50
DETAILS = '{"short_code":"x","user_agent":"u","referrer":""}'
# the click rollups linkd keeps with every click (GET /stats reads them)
ROLLUPS = ("INSERT INTO link_clicks (url_id, clicks, last_click_at)"
           " SELECT url_id, count(*), max(timestamp) FROM events GROUP BY url_id",
           "INSERT INTO link_clicks_daily (url_id, day, clicks)"
           " SELECT url_id, timestamp / 86400, count(*) FROM events"
           " GROUP BY url_id, timestamp / 86400")


def fill_events(db_path, n_events, n_urls):
    """Writes n_events click rows straight into a database linkd created and
    has stopped using: much faster than through the API."""
    if backend.IS_PG:
        fill_events_pg(db_path, n_events, n_urls)
        return
    db = sqlite3.connect(db_path)
    db.execute("INSERT INTO users (id, username, email, created_at) "
               "VALUES (1, 'bulk', 'bulk@example.com', 1700000000)")
    db.executemany("INSERT INTO urls (id, user_id, short_code, original_url, title, is_active,"
                   " created_at, updated_at) VALUES (?, 1, ?, ?, 't', 1, 1700000000, 1700000000)",
                   [(i, f"hard{i:03d}", f"https://example.com/{i}") for i in range(1, n_urls + 1)])
    db.executemany("INSERT INTO events (url_id, user_id, event_type, timestamp, details)"
                   f" VALUES (?, 1, 'click', ?, '{DETAILS}')",
                   ((1 + i % n_urls, 1700000000 + i) for i in range(n_events)))
    # The store lists the id buckets of the events it writes (ADR 0019);
    # rows written around it list theirs themselves.
    db.execute("INSERT OR IGNORE INTO event_buckets (b) SELECT DISTINCT id >> 16 FROM events")
    for sql in ROLLUPS:
        db.execute(sql)
    db.commit()
    db.close()


class _Lines:
    """A file to read COPY input from, made line by line as it is read."""

    def __init__(self, lines):
        self.lines, self.buf = lines, ""

    def read(self, size=65536):
        parts, n = [self.buf], len(self.buf)
        for line in self.lines:
            parts.append(line)
            n += len(line)
            if n >= size:
                break
        data = "".join(parts)
        self.buf = data[size:]
        return data[:size]


def fill_events_pg(db_path, n_events, n_urls):
    """The same rows on PostgreSQL, in one transaction: the events by COPY."""
    con = backend.pg_server().connect(backend.pg_url(db_path))
    con.autocommit = False
    try:
        with con.cursor() as cur:
            cur.execute("INSERT INTO users (id, username, email, created_at)"
                        " VALUES (1, 'bulk', 'bulk@example.com', 1700000000)")
            cur.executemany("INSERT INTO urls (id, user_id, short_code, original_url, title,"
                            " is_active, created_at, updated_at)"
                            " VALUES (%s, 1, %s, %s, 't', true, 1700000000, 1700000000)",
                            [(i, f"hard{i:03d}", f"https://example.com/{i}")
                             for i in range(1, n_urls + 1)])
            rows = (f"{1 + i % n_urls}\t1\tclick\t{1700000000 + i}\t{DETAILS}\n"
                    for i in range(n_events))
            cur.copy_expert("COPY events (url_id, user_id, event_type, timestamp, details)"
                            " FROM STDIN", _Lines(rows))
            for sql in ROLLUPS:
                cur.execute(sql)
        con.commit()
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("ANALYZE")  # as autovacuum would soon after a load
    finally:
        con.close()


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """A database of 1M click events, made once for the module."""
    d = tmp_path_factory.mktemp("big")
    p = LinkdProcess(d, name="maker")
    p.start()
    problem = p.stop()
    assert problem is None, problem
    fill_events(p.db_path, N_EVENTS, N_URLS)
    yield p.db_path
    backend.drop(p.db_path)


def start_on(tmp_path, db_path, name, **env):
    p = LinkdProcess(tmp_path / name, db_path=db_path, name=name,
                     env={"LINKD_RATE_LIMIT": "off", **env})
    (tmp_path / name).mkdir()
    p.start()
    return p


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def metric(c, name):
    text = c.get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def abandon(port, path, n):
    """n requests that are sent and closed at once, as fast as possible."""
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(req)
        s.close()


def test_abandoned_lists_leave_redirects_and_health_answered(big_db, tmp_path):
    """The worst case: no ceiling and no budget per client. 500 clients ask
    for a 1M-row list and hang up at once; meanwhile every probe of /health
    and of a redirect is answered, memory stays bounded, and the readers stop
    reading for clients that are gone."""
    p = start_on(tmp_path, big_db, "flood", LINKD_LIST_MAX_ROWS=0, LINKD_READS_PER_CLIENT=0)
    try:
        c = p.client()
        rss0 = rss_bytes(p.proc.pid)
        flood = threading.Thread(target=abandon, args=(p.port, "/events", 500))
        flood.start()
        lat = {"health": [], "redirect": []}
        # the flood takes moments to send; the server's share of it comes
        # after, so the probes go on for a fixed number of rounds
        for _ in range(100):
            for kind, path, status in (("health", "/health", 200),
                                       ("redirect", "/hard001", 302)):
                probe = c.clone()  # a new connection: SO_REUSEPORT spreads them
                t0 = time.monotonic()
                r = probe.get(path, timeout=10)
                lat[kind].append(time.monotonic() - t0)
                assert r.status_code == status, (path, r.status_code, r.text[:200])
        flood.join(60)
        assert not flood.is_alive(), "the flood did not finish"
        for kind, xs in lat.items():
            xs.sort()
            p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
            print(f"{kind}: {len(xs)} probes during the flood, p50 "
                  f"{statistics.median(xs) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        rss = rss_bytes(p.proc.pid)
        print(f"RSS {rss0 / 2**20:.0f} MiB before, {rss / 2**20:.0f} MiB after")
        assert rss < rss0 + 256 * 2**20, "memory grew with the abandoned lists"
        # Work stopped: far fewer chunks were read than 500 whole lists need.
        chunks = metric(c, "linkd_store_list_chunks_total")
        cancelled = metric(c, "linkd_store_reads_cancelled_total")
        print(f"list chunks read: {chunks:.0f} (whole lists: {500 * N_EVENTS / 500:.0f}); "
              f"reads dropped: {cancelled:.0f}")
        assert cancelled > 0, "no read was dropped for a client that hung up"
        assert chunks < 500 * (N_EVENTS / 500) / 10, "the readers went on for clients gone"
        # a list cut short because its client left is the client's doing
        # (499, under 4xx), not a server error an error-rate alert counts
        by_status = {}
        for line in c.get("/metrics").text.splitlines():
            if line.startswith('http_requests_total{method="GET",route="/events",'):
                status = line.split('status="')[1].split('"')[0]
                by_status[status] = float(line.rsplit(" ", 1)[1])
        print(f"/events answers by status: {by_status}")
        assert not any(s.startswith("5") for s in by_status), by_status
        assert by_status.get("4xx", 0) > 0, by_status
        # and the server still answers a whole list correctly
        rows = expect_list(c.get("/urls"))
        assert len(rows) == N_URLS
    finally:
        assert p.stop() is None


def test_a_long_list_streams_every_row_in_order(big_db, tmp_path):
    p = start_on(tmp_path, big_db, "stream", LINKD_LIST_MAX_ROWS=0)
    try:
        c = p.client()
        r = c.get("/events?url_id=7", timeout=120, stream=True)
        assert r.status_code == 200
        assert r.headers.get("Transfer-Encoding") == "chunked"
        assert r.headers["Content-Type"] == "application/json"
        rows = json.loads(r.content)
        assert len(rows) == N_EVENTS // N_URLS
        ids = [e["id"] for e in rows]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert all(e["url_id"] == 7 and e["event_type"] == "click" for e in rows)
        page = expect_list(c.get("/events?url_id=7&page=3&per_page=700"))
        assert [e["id"] for e in page] == ids[1400:2100]
    finally:
        assert p.stop() is None


def test_the_ceiling_asks_for_pages(big_db, tmp_path):
    p = start_on(tmp_path, big_db, "ceiling", LINKD_LIST_MAX_ROWS=1000)
    try:
        c = p.client()
        body = expect_error(c.get("/events"), 400)
        assert "more than 1000 rows" in body["error"] and "page" in body["error"]
        expect_error(c.get("/events?url_id=3"), 400)
        assert len(expect_list(c.get("/events?page=2&per_page=1000"))) == 1000
        assert len(expect_list(c.get("/urls"))) == N_URLS, "a short list is whole"
        stats = expect_json(c.get("/stats"), 200)
        assert stats["events"] >= N_EVENTS and stats["urls"] == N_URLS
    finally:
        assert p.stop() is None


def hold_a_list(port, path="/events"):
    """A client that asks for a long list and never reads: the server fills
    the socket buffers and waits. Returns the socket (the caller closes it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def test_a_client_has_a_budget_of_lists_in_progress(big_db, tmp_path):
    p = start_on(tmp_path, big_db, "budget", LINKD_LIST_MAX_ROWS=0, LINKD_READS_PER_CLIENT=2)
    held = []
    try:
        c = p.client()
        held = [hold_a_list(p.port) for _ in range(2)]
        time.sleep(0.5)  # both lists are streaming, blocked on their clients
        r = c.get("/events")
        body = expect_error(r, 429)
        assert r.headers["Retry-After"] == "1"
        assert "LINKD_READS_PER_CLIENT" in body["error"]
        expect_error(c.get("/stats"), 429)
        expect(c.get("/health"), 200)
        expect(c.get("/hard002"), 302)
        expect_json(c.get("/urls/1"), 200)
        for s in held:
            s.close()
        held = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if c.get("/stats").status_code == 200:
                break
            time.sleep(0.1)
        expect_json(c.get("/stats"), 200)
    finally:
        for s in held:
            s.close()
        assert p.stop() is None


def test_the_drain_deadline_cancels_a_stuck_list_and_keeps_clicks(big_db, tmp_path):
    """SIGTERM while a client holds a list open: linkd exits 0 soon after
    LINKD_DRAIN_S, and a click recorded before the signal is on disk."""
    p = start_on(tmp_path, big_db, "drain", LINKD_LIST_MAX_ROWS=0, LINKD_DRAIN_S=1,
                 LINKD_CLICK_FLUSH_MS=1000)
    held = None
    try:
        c = p.client()
        expect(c.get("/hard005"), 302)
        held = hold_a_list(p.port)
        time.sleep(0.5)
        t0 = time.monotonic()
        problem = p.stop()
        took = time.monotonic() - t0
        assert problem is None, problem
        print(f"exited {took:.1f} s after SIGTERM (LINKD_DRAIN_S=1)")
        assert "drain_timeout" in p.stdout_text()
    finally:
        if held:
            held.close()
    ((n,),) = backend.query(big_db, "SELECT count(*) FROM events"
                                    " WHERE url_id = 5 AND timestamp > 1750000000")
    assert n == 1, "the click of the redirect before SIGTERM was flushed"


def test_a_list_its_client_stops_reading_is_cut_by_the_write_timeout(big_db, tmp_path):
    """The write timeout watches a streamed list while a chunk waits to be
    taken: a client that stops reading loses its connection, and the list
    stops being read."""
    p = start_on(tmp_path, big_db, "stuck", LINKD_LIST_MAX_ROWS=0, LINKD_WRITE_TIMEOUT_S=1)
    held = None
    try:
        c = p.client()
        held = hold_a_list(p.port)
        deadline = time.monotonic() + 20
        while metric(c, "linkd_http_write_timeouts_total") < 1:
            assert time.monotonic() < deadline, "the stuck list was never timed out"
            time.sleep(0.2)
        chunks = metric(c, "linkd_store_list_chunks_total")
        time.sleep(1)
        assert metric(c, "linkd_store_list_chunks_total") == chunks, "the list went on"
        assert chunks < N_EVENTS / 500, "the whole list was read for a client that left"
        # the client finds its connection reset, its list cut short
        held.settimeout(5)
        got = b""
        with pytest.raises((ConnectionResetError, AssertionError)):
            while True:
                b = held.recv(65536)
                assert b, "closed without a reset"
                got += b
        assert not got.endswith(b"0\r\n\r\n"), "the list was sent whole"
    finally:
        if held:
            held.close()
        assert p.stop() is None
