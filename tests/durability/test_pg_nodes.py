# SPDX-License-Identifier: MIT
"""linkd on PostgreSQL (DESIGN.md §4b: several nodes on one database): a 201
means the link is committed, so SIGKILL under create load loses none the
client was told about; and two linkd processes creating links at once
through their APIs hand out distinct short codes, with no error."""

import concurrent.futures
import random
import threading
import time

import pytest
import requests

from durable import CreateLoad, Server, new_user, report, trials

pytestmark = pytest.mark.postgres

N_TWO_NODES = 10_000
THREADS_PER_NODE = 4


def stored_urls(pg_db, user_id):
    return {row[0]: (row[1], row[2]) for row in pg_db.query(
        "SELECT id, short_code, original_url FROM urls WHERE user_id = %s", (user_id,))}


def check_redirects(server, links):
    """Every (id, code, url) answers GET /{code} with 302 to url."""

    def one(chunk):
        c = server.session()
        bad = []
        for _, code, url in chunk:
            r = c.get("/" + code)
            if r.status_code != 302 or r.headers.get("Location") != url:
                bad.append((code, r.status_code, r.headers.get("Location"), url))
        return bad

    chunks = [links[i::4] for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        return [b for part in ex.map(one, chunks) for b in part]


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
        bad = check_redirects(server, load.acked)
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
    bad_cross = check_redirects(nodes[1], cross) + check_redirects(nodes[0], back)
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


def test_pg_nodes_without_redis_see_each_others_changes_within_the_cache_ttl(pg_db, tmp_path):
    """Without Redis nothing tells a node of another's change: a cached link
    lives LINKD_CACHE_TTL_MS there, so a deactivation on node A stops the
    redirect on node B within that time (plus a read)."""
    ttl_ms = 500
    for n in ("a", "b"):
        (tmp_path / n).mkdir()
    a, b = [Server(tmp_path / n, database_url=pg_db.url, env={"LINKD_CACHE_TTL_MS": str(ttl_ms)})
            for n in ("a", "b")]
    user_id = new_user(a.client, "ttl")
    waits = []
    for i in range(5):
        r = a.client.post("/urls", json={"user_id": user_id,
                                         "original_url": f"https://example.com/ttl/{i}"})
        assert r.status_code == 201, r.text
        link = r.json()
        for _ in range(3):  # B caches it
            assert b.client.get("/" + link["short_code"]).status_code == 302
        r = a.client.put(f"/urls/{link['id']}", json={"is_active": False})
        assert r.status_code == 200 and r.json()["is_active"] is False, r.text
        t0 = time.monotonic()
        while b.client.get("/" + link["short_code"]).status_code == 302:
            assert time.monotonic() - t0 < ttl_ms / 1000 + 2, "B still redirects long past the TTL"
            time.sleep(0.01)
        waits.append(time.monotonic() - t0)
    report("pg_nodes_cache_ttl", ttl_ms=ttl_ms,
           max_ms=round(max(waits) * 1000), median_ms=round(sorted(waits)[2] * 1000))
    a.stop()
    b.stop()
