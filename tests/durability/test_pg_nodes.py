# SPDX-License-Identifier: MIT
"""linkd on PostgreSQL (DESIGN.md §4b: several nodes on one database): a 201
means the link is committed, so SIGKILL under create load loses none the
client was told about; and two linkd processes creating links at once
through their APIs hand out distinct short codes, with no error; and without
Redis a change on one node reaches the others over LISTEN/NOTIFY."""

import random
import threading
import time

import pytest
import requests

from durable import CreateLoad, Server, check_redirects, new_user, report, trials, wait_for

pytestmark = pytest.mark.postgres

N_TWO_NODES = 10_000
THREADS_PER_NODE = 4


def stored_urls(pg_db, user_id):
    return {row[0]: (row[1], row[2]) for row in pg_db.query(
        "SELECT id, short_code, original_url FROM urls WHERE user_id = %s", (user_id,))}


def test_pg_acknowledged_links_survive_sigkill_under_create_load(pg_db, tmp_path):
    n_trials = trials(3)
    rnd = random.Random()
    server = Server(tmp_path, database_url=pg_db.url)
    user_id = new_user(server.client, "crash")
    all_acked, figures, unacked_before = [], [], 0
    for trial in range(n_trials):
        load = CreateLoad(server, user_id, f"t{trial}", n_threads=8)
        time.sleep(rnd.uniform(0.5, 1.5))  # a random moment under load
        server.kill()
        load.finish()
        assert not set(load.other) - {201}, f"unexpected statuses under load: {load.other}"
        assert load.acked, "no create was acknowledged before the kill"
        all_acked += load.acked
        stored = stored_urls(pg_db, user_id)  # what the database holds after the kill
        lost = [a for a in all_acked if stored.get(a[0]) != (a[1], a[2])]
        assert not lost, f"trial {trial}: {len(lost)} acknowledged urls missing: {lost[:5]}"
        t0 = time.monotonic()
        server = Server(tmp_path, database_url=pg_db.url)
        restart_ms = (time.monotonic() - t0) * 1000
        bad = check_redirects(server, load.acked, threads=4)
        assert not bad, f"trial {trial}: acknowledged links that do not redirect: {bad[:5]}"
        # committed but never acknowledged: requests in flight at the kill
        unacked = len(stored) - len(all_acked) - unacked_before
        unacked_before += unacked
        figures.append({"acked": len(load.acked), "in_flight": load.errors,
                        "committed_unacked": unacked, "lost": len(lost),
                        "restart_ms": round(restart_ms)})
    server.stop()
    report("pg_sigkill_create_load", trials=n_trials, acked=len(all_acked),
           lost=sum(f["lost"] for f in figures), committed_unacked=unacked_before,
           per_trial=figures)


def start_together(workdirs, url):
    """Starts a linkd per workdir at once, all on the database at url (a
    fresh one: both may set up its schema)."""
    nodes, failures = [None] * len(workdirs), []

    def start(i):
        workdirs[i].mkdir()
        try:
            nodes[i] = Server(workdirs[i], database_url=url)
        except BaseException as e:  # pytest.fail raises outside Exception
            failures.append(f"node {i}: {e}")

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(workdirs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, "\n".join(failures)
    return nodes


def test_pg_two_nodes_create_10000_links_with_distinct_codes(pg_db, tmp_path):
    nodes = start_together([tmp_path / "a", tmp_path / "b"], pg_db.url)
    user_id = new_user(nodes[0].client, "nodes")
    per_thread = N_TWO_NODES // (2 * THREADS_PER_NODE)
    created, failures = [], []
    lock = threading.Lock()

    def run(node, i):
        c = nodes[node].session()
        mine, bad = [], []
        for n in range(per_thread):
            url = f"https://example.com/n{node}/{i}/{n}"
            try:
                r = c.post("/urls", json={"user_id": user_id, "original_url": url})
            except requests.RequestException as e:
                bad.append((node, url, type(e).__name__))
                c = nodes[node].session()
                continue
            if r.status_code == 201:
                body = r.json()
                mine.append((body["id"], body["short_code"], url, node))
            else:
                bad.append((node, url, r.status_code, r.text[:200]))
        with lock:
            created.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=run, args=(node, i), daemon=True)
               for node in range(2) for i in range(THREADS_PER_NODE)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    elapsed = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "client threads did not finish"

    codes = [c for _, c, _, _ in created]
    dup_codes = len(codes) - len(set(codes))
    dup_ids = len(created) - len({i for i, _, _, _ in created})
    stored = stored_urls(pg_db, user_id)
    stored_codes = [code for code, _ in stored.values()]
    wrong = [c for c in created if stored.get(c[0]) != (c[1], c[2])]
    # each node serves the other's links (read through, then cached)
    sample = random.Random(7).sample(created, 200)
    cross = [(i, code, url) for i, code, url, node in sample if node == 0]
    back = [(i, code, url) for i, code, url, node in sample if node == 1]
    bad_cross = check_redirects(nodes[1], cross, threads=4) + check_redirects(nodes[0], back, threads=4)
    for n in nodes:
        n.stop()
    report("pg_two_nodes", creates=len(created), errors=len(failures), dup_codes=dup_codes,
           dup_ids=dup_ids, stored=len(stored), rate_per_s=round(len(created) / elapsed),
           elapsed_s=round(elapsed, 1))
    assert not failures, f"{len(failures)} creates failed: {failures[:5]}"
    assert len(created) == N_TWO_NODES
    assert dup_codes == 0 and dup_ids == 0, f"{dup_codes} duplicate codes, {dup_ids} ids"
    assert len(stored) == N_TWO_NODES and len(set(stored_codes)) == N_TWO_NODES
    assert not wrong, f"{len(wrong)} acknowledged links differ in the database: {wrong[:5]}"
    assert not bad_cross, f"links that the other node does not redirect: {bad_cross[:5]}"


NOTIFY_TRIALS = 20
NOTIFY_BOUND_S = 1.0  # the requirement: no node redirects a deactivated link longer


def metric(server, name):
    """The value of an unlabelled linkd metric on server's /metrics."""
    for line in server.session().get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    pytest.fail(f"/metrics of {server.base_url} has no {name}")


def cached_on(server, link):
    """GET /{code} until server answers from its link cache (a fill that
    raced with an invalidation, such as the creating node's own, is not
    kept: the next read fills again)."""
    c = server.session()
    for _ in range(50):
        r = c.get("/" + link["short_code"])
        assert r.status_code == 302 and r.headers["Location"] == link["original_url"], r.text
        if r.headers.get("X-Cache") == "HIT":
            return
        time.sleep(0.01)
    pytest.fail(f"{link['short_code']} never answered from the cache: {r.headers}")


def deactivation_seen_s(a, b, user_id, tag):
    """Creates a link on A, caches it on B, deactivates it on A: how long B
    went on redirecting it after A answered."""
    r = a.client.post("/urls", json={"user_id": user_id,
                                     "original_url": f"https://example.com/notify/{tag}"})
    assert r.status_code == 201, r.text
    link = r.json()
    cached_on(b, link)
    r = a.client.put(f"/urls/{link['id']}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False, r.text
    t0 = time.monotonic()
    c = b.session()
    while True:
        r = c.get("/" + link["short_code"])
        waited = time.monotonic() - t0
        if r.status_code != 302:
            assert r.status_code == 404 and r.json().get("error"), (r.status_code, r.text)
            return waited
        assert waited < NOTIFY_BOUND_S, f"B still redirects {link['short_code']} after {waited:.2f} s"
        time.sleep(0.005)


def test_pg_nodes_without_redis_drop_changed_links_on_notify(pg, pg_db, tmp_path):
    """Without Redis, nodes on one PostgreSQL database tell each other of a
    changed link over LISTEN/NOTIFY (docs/adr/0011-postgresql-backend.md).
    The cache TTL is set far beyond the bound, so only the notification can
    stop node B's redirect of a link node A deactivated within 1 s. After a
    restart of PostgreSQL both nodes subscribe again and the same holds."""
    env = {"LINKD_CACHE_TTL_MS": "60000"}
    for n in ("a", "b"):
        (tmp_path / n).mkdir()
    a, b = [Server(tmp_path / n, database_url=pg_db.url, env=env) for n in ("a", "b")]
    user_id = new_user(a.client, "notify")
    for s in (a, b):
        wait_for(lambda: metric(s, "linkd_pg_notify_subscribed") == 1, 10, "the subscription")
    waits = [deactivation_seen_s(a, b, user_id, i) for i in range(NOTIFY_TRIALS)]
    assert metric(a, "linkd_pg_notify_invalidations_published_total") >= NOTIFY_TRIALS
    assert metric(b, "linkd_pg_notify_invalidations_received_total") >= NOTIFY_TRIALS
    assert metric(a, "linkd_pg_notify_invalidations_dropped_total") == 0

    pg.stop()
    for s in (a, b):
        wait_for(lambda: metric(s, "linkd_pg_notify_subscribed") == 0, 10,
                 "the subscription to be seen lost")
    t0 = time.monotonic()
    pg.start()
    for s in (a, b):
        wait_for(lambda: metric(s, "linkd_pg_notify_subscribed") == 1, 30,
                 "the subscription to come back")
    resubscribed_s = time.monotonic() - t0

    def creates():
        r = a.client.post("/urls", json={"user_id": user_id,
                                         "original_url": "https://example.com/notify/up"})
        return r.status_code == 201

    wait_for(creates, 30, "creates on A to succeed again")
    after = [deactivation_seen_s(a, b, user_id, f"after{i}") for i in range(3)]
    reconnects = metric(b, "linkd_pg_notify_reconnects_total")
    a.stop()
    b.stop()
    waits_ms = sorted(w * 1000 for w in waits)
    report("pg_nodes_notify", trials=len(waits), ttl_ms=60000,
           median_ms=round(waits_ms[len(waits_ms) // 2], 1),
           p99_ms=round(waits_ms[min(len(waits_ms) - 1, round(0.99 * (len(waits_ms) - 1)))], 1),
           max_ms=round(waits_ms[-1], 1), resubscribed_ms=round(resubscribed_s * 1000),
           after_restart_ms=[round(w * 1000, 1) for w in after], reconnects_b=reconnects)
    assert reconnects >= 1
