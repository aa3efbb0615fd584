# SPDX-License-Identifier: MIT
"""Parallel writes (CONTRACT §1.3 Twin's Paradox, §4.6, §4.9; DESIGN §3):
16 clients at once, each with its own connection."""

import collections
import threading
from concurrent.futures import ThreadPoolExecutor

from apiclient import (GEN_CODE_RE, expect_json, expect_list, ids, list_events, new_url,
                       new_user, uniq, wait_events)

N = 16


def in_parallel(server, fn):
    """Runs fn(client, i) for i in range(N) on N threads released together."""
    barrier = threading.Barrier(N)

    def run(i):
        c = server.clone()
        barrier.wait(10)
        return fn(c, i)

    with ThreadPoolExecutor(N) as ex:
        return list(ex.map(run, range(N)))


def statuses(responses):
    return collections.Counter(r.status_code for r in responses)


def test_parallel_url_creates_of_one_target(server):
    owner = new_user(server)
    target = f"https://example.com/parallel/{uniq()}"
    rs = in_parallel(server, lambda c, i: c.post("/urls", json={
        "user_id": owner["id"], "original_url": target, "title": f"t{i}"}))
    assert statuses(rs) == {201: N}, [r.text for r in rs if r.status_code != 201][:3]
    made = [r.json() for r in rs]
    assert len({u["id"] for u in made}) == N
    assert len({u["short_code"] for u in made}) == N
    assert all(GEN_CODE_RE.match(u["short_code"]) for u in made)
    listed = expect_list(server.get("/urls", params={"user_id": owner["id"]}))
    assert sorted(ids(listed)) == sorted(u["id"] for u in made)
    created = list_events(server, user_id=owner["id"], event_type="created")
    assert sorted(e["url_id"] for e in created) == sorted(u["id"] for u in made)


def test_parallel_user_creates(server):
    names = [uniq("par_") for _ in range(N)]
    rs = in_parallel(server, lambda c, i: c.post("/users", json={
        "username": names[i], "email": f"{names[i]}@example.com"}))
    assert statuses(rs) == {201: N}, [r.text for r in rs if r.status_code != 201][:3]
    made = [r.json() for r in rs]
    assert len({u["id"] for u in made}) == N
    assert sorted(u["username"] for u in made) == sorted(names)
    for u in made:
        assert expect_json(server.get(f"/users/{u['id']}"), 200) == u


def test_parallel_same_username_only_one_wins(server):
    name = uniq("race_")
    rs = in_parallel(server, lambda c, i: c.post("/users", json={
        "username": name, "email": f"{name}.{i}@example.com"}))
    assert statuses(rs) == {201: 1, 409: N - 1}, statuses(rs)
    assert [u["username"] for u in expect_list(server.get("/users"))].count(name) == 1


def test_parallel_same_custom_code_only_one_wins(server):
    owner = new_user(server)
    code = uniq("race")
    rs = in_parallel(server, lambda c, i: c.post("/urls", json={
        "user_id": owner["id"], "original_url": f"https://example.com/{i}", "short_code": code}))
    assert statuses(rs) == {201: 1, 409: N - 1}, statuses(rs)
    winner = next(r.json() for r in rs if r.status_code == 201)
    assert server.get("/" + code).headers.get("Location") == winner["original_url"]


def test_parallel_clicks_are_all_recorded(server):
    owner = new_user(server)
    link = new_url(server, owner["id"])
    rs = in_parallel(server, lambda c, i: c.get(f"/{link['short_code']}" if i % 2 else
                                                f"/urls/{link['short_code']}/redirect"))
    assert statuses(rs) == {302: N}
    wait_events(server, N, url_id=link["id"], event_type="click")
    assert len(list_events(server, url_id=link["id"], event_type="click")) == N


def test_parallel_updates_of_one_url(server):
    owner = new_user(server)
    link = new_url(server, owner["id"])
    titles = [uniq("title_") for _ in range(N)]
    rs = in_parallel(server, lambda c, i: c.put(f"/urls/{link['id']}", json={"title": titles[i]}))
    assert statuses(rs) == {200: N}
    final = expect_json(server.get(f"/urls/{link['id']}"), 200)
    assert final["title"] in titles
    evs = list_events(server, url_id=link["id"], event_type="updated")
    assert sorted(e["details"]["new_value"] for e in evs) == sorted(titles)
    assert evs[-1]["details"]["new_value"] == final["title"]


def test_creates_that_fail_do_not_fail_those_written_with_them(server):
    """Writes arriving together share a transaction (group commit); one that
    is refused (a code in use, an unknown owner) is refused alone: the
    others are written, and it answers its own error, not a 5xx."""
    owner = new_user(server)
    taken = new_url(server, owner["id"], short_code=uniq("tk")[:12])["short_code"]
    rounds = 20  # each round: 16 creates at once, 2 of them refused

    def one(c, i):
        out = []
        for n in range(rounds):
            body = {"user_id": owner["id"], "original_url": f"https://example.com/{i}/{n}"}
            if i == 0:
                body["short_code"] = taken
            elif i == 1:
                body["user_id"] = 2**52 + n  # no such user
            out.append(c.post("/urls", json=body))
        return out

    results = in_parallel(server, one)
    assert statuses(results[0]) == {409: rounds}, [r.text for r in results[0]][:3]
    assert statuses(results[1]) == {404: rounds}, [r.text for r in results[1]][:3]
    good = [r for rs in results[2:] for r in rs]
    assert statuses(good) == {201: len(good)}, (
        statuses(good), [r.text for r in good if r.status_code != 201][:3])
    listed = expect_list(server.get("/urls", params={"user_id": owner["id"]}))
    assert sorted(ids(listed)) == sorted([u["id"] for u in listed if u["short_code"] == taken]
                                         + [r.json()["id"] for r in good])
