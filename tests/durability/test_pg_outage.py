# SPDX-License-Identifier: MIT
"""PostgreSQL goes away under a running linkd (docs/runbooks/LinkdPostgresDown.md):
writes answer 503 JSON at once, /health answers 503 naming the fault,
redirects of cached links keep answering 302 and their clicks wait in the
backlog; when PostgreSQL is back linkd recovers by itself, no create it
acknowledged is missing, and every click is written once."""

import time

import pytest
import requests

from durable import RedirectLoad, Server, _Load, new_links, new_user, report, wait_for

pytestmark = pytest.mark.postgres

CLIENT_TIMEOUT_S = 5  # a request that takes longer counts as hung
RECOVER_TIMEOUT_S = 60


class OutageLoad(_Load):
    """Threads POSTing /urls on keep-alive sessions with a bounded timeout.
    Unlike CreateLoad they go on after a failed request: every answer is
    kept as (sent, elapsed_s, status), a timeout as status "timeout"."""

    def __init__(self, server, user_id, tag, n_threads=8):
        self.server, self.user_id, self.tag = server, user_id, tag
        self.results, self.acked, self.bad_bodies = [], [], []
        super().__init__(n_threads)

    def _run(self, i):
        c = self.server.session()
        n = 0
        while not self.stop.is_set():
            n += 1
            url = f"https://example.com/{self.tag}/{i}/{n}"
            t0 = time.monotonic()
            try:
                r = c.post("/urls", json={"user_id": self.user_id, "original_url": url},
                           timeout=CLIENT_TIMEOUT_S)
            except requests.Timeout:
                self._keep(t0, "timeout")
                c = self.server.session()
                continue
            except requests.RequestException as e:
                self._keep(t0, type(e).__name__)
                c = self.server.session()
                time.sleep(0.05)
                continue
            self._keep(t0, r.status_code)
            if r.status_code == 201:
                body = r.json()
                with self.lock:
                    self.acked.append((body["id"], body["short_code"], url))
            elif r.status_code == 503:
                if not (r.headers.get("Content-Type", "").startswith("application/json")
                        and isinstance(r.json().get("error"), str)):
                    with self.lock:
                        self.bad_bodies.append(r.text[:200])

    def _keep(self, t0, status):
        with self.lock:
            self.results.append((t0, time.monotonic() - t0, status))


    def between(self, t_from, t_to=float("inf")):
        """Results of the requests sent in [t_from, t_to)."""
        with self.lock:
            return [r for r in self.results if t_from <= r[0] < t_to]


def statuses(results):
    out = {}
    for _, _, s in results:
        out[s] = out.get(s, 0) + 1
    return out


def create(server, user_id, tag):
    return server.client.post("/urls", json={"user_id": user_id,
                                             "original_url": f"https://example.com/{tag}"},
                              timeout=CLIENT_TIMEOUT_S)


def health(server):
    r = server.client.get("/health", timeout=CLIENT_TIMEOUT_S)
    return r.status_code, r.json()


def wait_creates_again(server, user_id, tag):
    """Polls POST /urls until one answers 201; returns the time it took."""
    t0 = time.monotonic()
    n = [0]

    def ok():
        n[0] += 1
        try:
            return create(server, user_id, f"{tag}/{n[0]}").status_code == 201
        except requests.RequestException:
            return False

    wait_for(ok, RECOVER_TIMEOUT_S, "a create to succeed again without restarting linkd",
             step_s=0.1)
    return time.monotonic() - t0


def stored_urls(pg_db, user_id):
    return {row[0]: (row[1], row[2]) for row in pg_db.query(
        "SELECT id, short_code, original_url FROM urls WHERE user_id = %s", (user_id,))}


def stored_clicks(pg_db, url_ids):
    return pg_db.scalar("SELECT count(*) FROM events WHERE event_type = 'click'"
                        " AND url_id = ANY(%s)", (list(url_ids),))


def test_pg_stopped_under_create_load_answers_503_at_once_and_loses_no_acknowledged_create(
        pg, pg_db, tmp_path):
    server = Server(tmp_path, database_url=pg_db.url)
    user_id = new_user(server.client, "outage")
    load = OutageLoad(server, user_id, "outage")
    wait_for(lambda: len(load.acked) >= 50, 30, "50 acknowledged creates before the outage")

    t_stop = time.monotonic()
    pg.stop()  # fast shutdown: every session of linkd is ended
    t_down = time.monotonic()
    wait_for(lambda: statuses(load.between(t_down)).get(503, 0) >= 50, 30,
             "50 creates answered 503 while PostgreSQL is down")
    status, body = health(server)
    store = body.get("checks", {}).get("store", {})
    assert status == 503 and body.get("status") != "ok", body
    assert isinstance(store.get("reason"), str) and store["reason"], body
    assert store.get("writable") is False and store.get("backend") == "postgres", body
    during = load.between(t_down)
    # nothing can be committed while the server is down
    assert statuses(during).keys() <= {503}, f"while PostgreSQL was down: {statuses(during)}"

    t_start = time.monotonic()
    pg.start()
    t_up = time.monotonic()
    recover_s = wait_creates_again(server, user_id, "after")
    wait_for(lambda: statuses(load.between(t_up + recover_s)).get(201, 0) >= 20, 30,
             "the load's creates to succeed again")
    # every reader's connection died with the server: each read that finds
    # its connection broken runs again on a new one, so once writes work,
    # reads answer at the first try, on every reader
    polls = [health(server)[0] for _ in range(8)]
    assert polls == [200] * 8, f"/health after recovery: {polls}"
    for _ in range(8):
        r = server.client.get("/urls", params={"user_id": user_id}, timeout=CLIENT_TIMEOUT_S)
        assert r.status_code == 200, f"a list read after recovery: {r.status_code} {r.text[:200]}"
    load.finish()

    everything = statuses(load.results)
    hung = [r for r in load.results if r[2] == "timeout"]
    slow_503 = max((r[1] for r in load.results if r[2] == 503), default=0.0)
    server.stop()  # SIGTERM; asserts a clean exit
    stored = stored_urls(pg_db, user_id)
    lost = [a for a in load.acked if stored.get(a[0]) != (a[1], a[2])]
    report("pg_stopped_under_create_load", acked=len(load.acked), lost=len(lost),
           statuses=everything, answered_503_while_down=statuses(during).get(503, 0),
           max_503_ms=round(slow_503 * 1000), hung=len(hung), health_reason=store["reason"],
           stop_ms=round((t_down - t_stop) * 1000), start_ms=round((t_up - t_start) * 1000),
           recover_ms=round(recover_s * 1000), health_polls_to_200=len(polls))
    assert not hung, f"{len(hung)} creates got no answer within {CLIENT_TIMEOUT_S} s"
    assert set(everything) <= {201, 503}, f"statuses under load: {everything}"
    assert not load.bad_bodies, f"503s that are not JSON errors: {load.bad_bodies[:3]}"
    assert not lost, f"{len(lost)} of {len(load.acked)} acknowledged creates missing: {lost[:5]}"


def test_pg_restarted_keeps_cached_redirects_and_writes_their_clicks_once(pg, pg_db, tmp_path):
    server = Server(tmp_path, database_url=pg_db.url)
    user_id = new_user(server.client, "redirects")
    links = new_links(server.client, user_id, 10, "redirects")
    ids = [i for i, _, _ in links]
    codes = [code for _, code, _ in links]
    c = server.session()
    for _, code, url in links:  # fills the link cache
        r = c.get("/" + code)
        assert r.status_code == 302 and r.headers["Location"] == url
    served = len(links)
    wait_for(lambda: stored_clicks(pg_db, ids) == served, 10, "the first clicks to be written")

    pg.stop()
    wait_for(lambda: health(server)[0] == 503, 10, "/health to answer 503")
    r = create(server, user_id, "down")
    assert r.status_code == 503 and r.json().get("error"), r.text
    load = RedirectLoad(server, codes, n_threads=4)
    time.sleep(2)  # redirects served from the cache while PostgreSQL is down
    during = load.finish()
    assert not load.other and not load.errors, (
        f"redirects while PostgreSQL was down: {load.other}, {load.errors} errors")
    assert during > 0
    served += during
    r = c.get("/" + codes[0])
    assert r.status_code == 302 and r.headers.get("X-Cache") == "HIT", r.status_code
    served += 1
    status, body = health(server)
    assert status == 503, body

    t0 = time.monotonic()
    pg.start()
    recover_s = wait_creates_again(server, user_id, "up")
    wait_for(lambda: health(server)[0] == 200, 10, "/health to answer 200 again")
    wait_for(lambda: stored_clicks(pg_db, ids) >= served, 30,
             f"{served} clicks to be written once PostgreSQL is back")
    time.sleep(0.5)  # a second write of the same clicks would land by now
    clicks = stored_clicks(pg_db, ids)
    api_clicks = sum(server.session().get(f"/urls/{i}/stats").json()["clicks"] for i in ids)
    server.stop()
    report("pg_restarted_redirects", redirects_while_down=during, redirects=served,
           clicks=clicks, api_clicks=api_clicks, recover_ms=round(recover_s * 1000),
           back_ms=round((time.monotonic() - t0) * 1000))
    assert clicks == served, f"{served} redirects answered 302, {clicks} click rows stored"
    assert api_clicks == served, f"GET /urls/{{id}}/stats counts {api_clicks} of {served}"
