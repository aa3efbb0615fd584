# SPDX-License-Identifier: MIT
"""`linkd copy TO_URL` (docs/deploy.md, ADR 0013): a SQLite database made
through the API, `linkd import` and `linkd keys` is copied into a fresh
database, and linkd started on the copy must show every row as the source
does: domains, users, urls (each on its domain, with its options), the
clicks counted against links' maximums, events, click stats, redirects (by
Host), API keys, retired codes, and ids that go on past the copied ones. Copying again changes no count; copying a database
into itself is refused.

The source is always a SQLite file, the way a node grows; the target is a
database of the suite's backend (tests/api/backend.py): another SQLite file
under `api`, a fresh PostgreSQL database under `api.postgres`."""

import os
import re
import sqlite3
import uuid
from contextlib import closing
from urllib.parse import urlsplit

import pytest

from apiclient import (BASE_URL, EVENT_KEYS, SEED_DIR, URL_KEYS, USER_KEYS, expect, expect_error,
                       expect_json, expect_list, new_url, new_user, project, wait_events)
from linkdproc import LinkdProcess, db_url, linkd_env, run_linkd

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")

COUNT_NAMES = ("domains", "users", "urls", "slots", "slots used", "events", "keys",
               "retired codes", "clicks")
COPY_TIMEOUT_S = 600


# ---------------------------------------------------------------- targets


def password_of(url):
    return urlsplit(url).password if "://" in url else None


def sqlite_url(path):
    return f"sqlite:///{path}"


@pytest.fixture
def target(tmp_path):
    """An empty database of the suite's backend to copy into."""
    return db_url(tmp_path / "target.db")


# ---------------------------------------------------------------- the source


def keys_cli(url, *args):
    r = run_linkd(["keys", *args], env=linkd_env(DATABASE_URL=url))
    assert r.returncode == 0, r.stderr
    return r.stdout


def create_key(url, name, admin=False, user=None):
    out = keys_cli(url, "create", "--name", name, *(["--admin"] if admin else ["--user", str(user)]))
    key = out.splitlines()[0]
    assert key.startswith("lnk_"), out
    return key


def key_ids(url):
    """name -> id, from `linkd keys list`."""
    lines = keys_cli(url, "list").splitlines()[1:]
    return {cols[1]: int(cols[0]) for cols in (line.split() for line in lines)}


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A SQLite database holding the seed (`linkd import`) and, made through
    the API: users with urls (custom codes, a generated one, a deactivated
    one), clicks by redirects and by POST /events, other events, a deleted
    user whose codes are retired; two domains (domain_links) with one code
    on each and on the default domain, options, a deactivated link and a
    retired code on a domain; links with a maximum of clicks, part used
    (capped_links); then an admin key, a user key and a revoked
    key (`linkd keys`). Tests read it and never change it."""
    d = tmp_path_factory.mktemp("copy-source")
    db = d / "source.db"
    url = sqlite_url(db)
    r = run_linkd(["import", str(SEED_DIR)], env=linkd_env(DATABASE_URL=url))
    assert r.returncode == 0, r.stderr
    p = LinkdProcess(d, db_path=db, name="source-maker", database_url=url)
    p.start()
    try:
        c = p.client()
        alice, bob = new_user(c), new_user(c)
        tag = uuid.uuid4().hex[:8]
        a1 = new_url(c, alice["id"], short_code=f"cpA-{tag}", title=None)
        a2 = new_url(c, alice["id"], title="generated code")
        off = new_url(c, alice["id"], short_code=f"cpOff-{tag}")
        expect_json(c.put(f"/urls/{off['id']}", json={"is_active": False}), 200)
        gone = [new_url(c, bob["id"], short_code=f"cpGone{i}-{tag}")["short_code"]
                for i in range(2)]
        seed_url = expect_list(c.get("/urls", params={"is_active": "true"}))[0]
        for code, n in ((a1["short_code"], 3), (a2["short_code"], 1), (seed_url["short_code"], 2)):
            for _ in range(n):
                expect(c.get(f"/{code}"), 302)
        expect_json(c.post("/events", json={"url_id": a2["id"], "event_type": "click"}), 201)
        expect_json(c.post("/events", json={"url_id": a1["id"], "event_type": "share",
                                            "details": {"to": "mail"}}), 201)
        wait_events(c, 3, url_id=a1["id"], event_type="click")
        wait_events(c, 2, url_id=seed_url["id"], event_type="click")
        expect(c.delete(f"/users/{bob['id']}"), 204)
        domains = domain_links(c, alice, tag)
        capped = capped_links(c, alice, tag)
    finally:
        problem = p.stop()
    assert problem is None, problem
    keys = {"admin": create_key(url, "copy-admin", admin=True),
            "alice": create_key(url, "copy-alice", user=alice["id"]),
            "old": create_key(url, "copy-old", admin=True)}
    keys_cli(url, "revoke", str(key_ids(url)["copy-old"]))
    return {"db": db, "url": url, "keys": keys, "alice": alice, "a1": a1, "a2": a2, "off": off,
            "gone": gone, "clicked": [a1["id"], a2["id"], seed_url["id"]], "domains": domains,
            "capped": capped}


def domain_links(c, alice, tag):
    """Through /api/v1: domains a (root and not-found redirects) and b (a
    fallback); the code `same` on the default domain, on a and on b, each
    with other options (b's behind a password); on a, a deactivated link
    and the code of a deleted user's link, retired there only."""
    doms = {
        "a": expect_json(c.post("/api/v1/domains", json={
            "host": f"a-{tag}.example.com", "root_url": "https://example.com/a-root",
            "not_found_url": "https://example.com/a-missing"}), 201),
        "b": expect_json(c.post("/api/v1/domains", json={
            "host": f"b-{tag}.example.com", "fallback_url": "https://example.com/b-fallback"}),
            201),
    }
    same = f"same-{tag}"
    options = {
        "default": {"tags": ["plain"], "notes": "on the default domain"},
        "a": {"redirect_type": 301, "tags": ["a", "mail"], "notes": "on a",
              "valid_until": "2099-01-01T00:00:00Z"},
        "b": {"redirect_type": 307, "forward_query": True, "max_clicks": 50,
              "password": "pw-on-b"},
    }
    links = {}
    for name, opts in options.items():
        body = {"url": f"https://example.com/{name}-{tag}", "user_id": alice["id"], "code": same,
                "domain": doms[name]["host"] if name in doms else None, **opts}
        links[name] = expect_json(c.post("/api/v1/links", json=body), 201)
    off = expect_json(c.post("/api/v1/links", json={
        "url": f"https://example.com/off-{tag}", "user_id": alice["id"], "code": f"off-{tag}",
        "domain": doms["a"]["host"]}), 201)
    expect(c.delete(f"/api/v1/links/{off['id']}"), 204)
    carol = new_user(c)
    gone = expect_json(c.post("/api/v1/links", json={
        "url": f"https://example.com/gone-{tag}", "user_id": carol["id"], "code": f"gone-{tag}",
        "domain": doms["a"]["host"]}), 201)
    expect(c.delete(f"/users/{carol['id']}"), 204)
    return {"doms": doms, "same": same, "links": links, "off": off, "gone": gone["code"]}


CAPPED_VISITS = {"three": 2, "once": 1}  # redirects taken on the source


def capped_links(c, alice, tag):
    """Through /api/v1: a link of at most 3 clicks with a fallback, visited
    twice, and a one-time link, visited once; each redirect waits for its
    slot, and the fixture for its click event."""
    bodies = {"three": {"max_clicks": 3, "fallback_url": "https://example.com/used-up"},
              "once": {"max_clicks": 1}}
    links = {}
    for name, extra in bodies.items():
        links[name] = expect_json(c.post("/api/v1/links", json={
            "url": f"https://example.com/{name}-{tag}", "user_id": alice["id"],
            "code": f"cap-{name}-{tag}", **extra}), 201)
        for _ in range(CAPPED_VISITS[name]):
            r = expect(c.get(f"/{links[name]['code']}"), 302)
            assert r.headers["Location"] == links[name]["url"]
        wait_events(c, CAPPED_VISITS[name], url_id=links[name]["id"], event_type="click")
    return links


def slots_of(db):
    """{url_id: used} of a SQLite file's link_slots."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return dict(con.execute("SELECT url_id, used FROM link_slots"))


# ---------------------------------------------------------------- helpers


def run_copy(source_url, target_url):
    return run_linkd(["copy", target_url], env=linkd_env(DATABASE_URL=source_url),
                     timeout_s=COPY_TIMEOUT_S)


def counts_of(out):
    """{name: (source, target)} from the table `linkd copy` prints."""
    found = {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s*(domains|users|urls|slots used|slots|events|keys|retired codes"
                         r"|clicks)\s+(\d+)\s+(\d+)\s*", line)
        if m:
            found[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    assert set(found) == set(COUNT_NAMES), f"no table of counts in:\n{out}"
    return found


def copied(source, target_url):
    r = run_copy(source["url"], target_url)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    pw = password_of(target_url)
    assert not pw or pw not in out, f"the target's password was printed:\n{out}"
    return counts_of(r.stdout)


def start_on(linkd, url):
    return linkd.start(env={"DATABASE_URL": url})


def rows(c, path, keys, key):
    return [project(row, keys) for row in expect_list(c.get(path, headers=bearer(key)))]


# ---------------------------------------------------------------- tests


def test_the_copy_serves_every_row_as_the_source_does(linkd, source, target):
    counts = copied(source, target)
    for name, (src, dst) in counts.items():
        assert src == dst, f"{name}: {src} on the source, {dst} on the target"
    # redirects, a posted click, the capped links' redirects
    assert counts["clicks"][0] == 3 + (1 + 1) + 2 + sum(CAPPED_VISITS.values()) + \
        count_seed_clicks()
    assert counts["keys"] == (3, 3) and counts["retired codes"][0] >= 2

    admin = source["keys"]["admin"]
    src, dst = start_on(linkd, source["url"]), start_on(linkd, target)
    for path, keys in (("/users", USER_KEYS), ("/urls", URL_KEYS), ("/events", EVENT_KEYS)):
        want = rows(src, path, keys, admin)
        got = rows(dst, path, keys, admin)
        assert len(got) == len(want), f"{path}: {len(want)} rows on the source, {len(got)} copied"
        for w, g in zip(want, got):
            assert g == w, f"{path}: copied {g}, source {w}"
    assert expect_json(dst.get("/stats", headers=bearer(admin)), 200) == \
        expect_json(src.get("/stats", headers=bearer(admin)), 200)
    for url_id in source["clicked"]:
        path = f"/urls/{url_id}/stats"
        want = expect_json(src.get(path, headers=bearer(admin)), 200)
        assert want["clicks"] > 0, want
        assert expect_json(dst.get(path, headers=bearer(admin)), 200) == want

    # every key authenticates on the copy as on the source, the revoked one does not
    alice = source["alice"]["id"]
    own = rows(dst, "/urls", URL_KEYS, source["keys"]["alice"])
    assert own and all(u["user_id"] == alice for u in own)
    assert own == rows(src, "/urls", URL_KEYS, source["keys"]["alice"])
    seed_url = source["clicked"][2]
    expect_error(dst.get(f"/urls/{seed_url}", headers=bearer(source["keys"]["alice"])), 404)
    expect_error(dst.get("/users", headers=bearer(source["keys"]["alice"])), 403)
    expect_error(dst.get("/users", headers=bearer(source["keys"]["old"])), 401)
    expect_error(dst.get("/users"), 401)

    # redirects of the copy (the source is left as it is)
    for u in (source["a1"], source["a2"]):
        r = expect(dst.get(f"/{u['short_code']}"), 302)
        assert r.headers["Location"] == u["original_url"]
    expect_error(dst.get(f"/{source['off']['short_code']}"), 404)
    for code in source["gone"]:
        expect_error(dst.get(f"/{code}"), 404)


def count_seed_clicks():
    with open(SEED_DIR / "events.csv", encoding="utf-8") as f:
        return sum(1 for line in f if line.split(",")[3:4] == ["click"])


def test_the_copy_never_reissues_a_retired_code_and_moves_ids_on(linkd, source, target):
    copied(source, target)
    admin = bearer(source["keys"]["admin"])
    c = start_on(linkd, target)
    tops = {path: max(r["id"] for r in expect_list(c.get(path, headers=admin)))
            for path in ("/users", "/urls", "/events")}
    alice = source["alice"]["id"]
    for code in source["gone"]:
        body = {"user_id": alice, "original_url": "https://example.com/again", "short_code": code}
        expect_error(c.post("/urls", json=body, headers=admin), 409)
    expect_error(c.post("/urls", json={"user_id": alice, "original_url": "https://example.com/x",
                                       "short_code": source["a1"]["short_code"]},
                        headers=admin), 409)
    u = expect_json(c.post("/users", json={"username": f"after_{uuid.uuid4().hex[:8]}",
                                           "email": f"after_{uuid.uuid4().hex[:8]}@example.com"},
                           headers=admin), 201)
    assert u["id"] > tops["/users"]
    link = expect_json(c.post("/urls", json={"user_id": u["id"],
                                             "original_url": "https://example.com/new"},
                              headers=admin), 201)
    assert link["id"] > tops["/urls"]
    assert link["short_code"] not in source["gone"]
    (created,) = expect_list(c.get(f"/urls/{link['id']}/events", headers=admin))
    assert created["id"] > tops["/events"]
    ids = key_ids(target)
    create_key(target, "made-on-the-copy", admin=True)
    assert key_ids(target)["made-on-the-copy"] > max(ids.values())


def test_the_copy_keeps_each_link_on_its_domain(linkd, source, target):
    counts = copied(source, target)
    assert counts["domains"] == (2, 2), counts
    d = source["domains"]
    doms, links, same = d["doms"], d["links"], d["same"]
    admin = bearer(source["keys"]["admin"])
    src, dst = start_on(linkd, source["url"]), start_on(linkd, target)

    # the domains, every field and id as they were made
    got = expect_json(dst.get("/api/v1/domains", headers=admin), 200)["data"]
    assert got == [doms["a"], doms["b"]]
    assert got == expect_json(src.get("/api/v1/domains", headers=admin), 200)["data"]

    # each link on its domain, with its code and options, as the source shows it
    for name, made in (*links.items(), ("off", d["off"])):
        path = f"/api/v1/links/{made['id']}"
        g = expect_json(dst.get(path, headers=admin), 200)
        w = expect_json(src.get(path, headers=admin), 200)
        assert g["domain"] == (doms[name if name != "off" else "a"]["host"]
                               if name != "default" else None), g
        for k in sorted(set(w) | set(g)):
            if k == "short_url" and name == "default":  # on the request's host
                assert g[k].endswith("/" + g["code"]), g
                continue
            assert g.get(k) == w.get(k), f"{name}: {k} copied as {g.get(k)!r}, was {w.get(k)!r}"
        for k, v in made.items():  # and as it was made (a deactivation aside)
            if k not in ("short_url", "active", "updated_at"):
                assert g[k] == v, f"{name}: {k} copied as {g[k]!r}, made {v!r}"
    assert links["a"]["code"] == links["b"]["code"] == links["default"]["code"] == same
    assert links["a"]["redirect_type"] == 301 and links["b"]["password_protected"] is True

    # the Host of a visit picks the domain on the copy
    def visit(host, path, status, **headers):
        return expect(dst.get(path, headers={"Host": host, **headers}), status)

    ha, hb = doms["a"]["host"], doms["b"]["host"]
    r = visit("unlisted.example.com", f"/{same}", 302)
    assert r.headers["Location"] == links["default"]["url"]
    r = visit(ha.upper(), f"/{same}", 301)
    assert r.headers["Location"] == links["a"]["url"]
    expect_error(dst.get(f"/{same}", headers={"Host": hb}), 401)  # b's is behind its password
    r = visit(hb, f"/{same}", 307, **{"X-Link-Password": "pw-on-b"})
    assert r.headers["Location"] == links["b"]["url"]
    assert visit(ha, "/", 302).headers["Location"] == "https://example.com/a-root"
    for code in (d["off"]["code"], d["gone"]):  # deactivated, retired: a's not-found page
        assert visit(ha, f"/{code}", 302).headers["Location"] == "https://example.com/a-missing"
    expect_error(dst.get(f"/{d['off']['code']}", headers={"Host": hb}), 404)

    # the retired code stays retired on its domain only
    alice = source["alice"]["id"]
    body = {"url": "https://example.com/again", "user_id": alice, "code": d["gone"]}
    r = dst.post("/api/v1/links", json={**body, "domain": ha}, headers=admin)
    assert r.status_code == 409 and r.json()["type"].endswith(":code-taken"), r.text
    again = expect_json(dst.post("/api/v1/links", json={**body, "domain": hb}, headers=admin), 201)
    assert again["domain"] == hb and again["code"] == d["gone"]
    r = dst.post("/api/v1/links", json={**body, "code": same, "domain": hb}, headers=admin)
    assert r.status_code == 409, r.text


def test_the_copy_carries_the_clicks_counted_against_maximums(linkd, source, target):
    capped = source["capped"]
    held = slots_of(source["db"])
    for name, link in capped.items():
        assert held.get(link["id"]) == CAPPED_VISITS[name], held
    first = copied(source, target)
    assert first["slots"] == (len(held), len(held)), first
    assert first["slots used"] == (sum(held.values()), sum(held.values())), first
    again = copied(source, target)  # sets each count again, adds nothing
    assert again["slots"] == first["slots"] and again["slots used"] == first["slots used"], again

    dst = start_on(linkd, target)
    three, once = capped["three"], capped["once"]
    r = expect(dst.get(f"/{three['code']}"), 302)  # the third of three
    assert r.headers["Location"] == three["url"]
    for _ in range(2):
        r = expect(dst.get(f"/{three['code']}"), 302)
        assert r.headers["Location"] == "https://example.com/used-up"
    expect_error(dst.get(f"/{once['code']}"), 410)  # a one-time link stays used


def test_copying_again_changes_no_count(source, target):
    first = copied(source, target)
    again = copied(source, target)
    assert again == first
    assert all(src == dst for src, dst in again.values()), again


def respelled(url):
    """Another name of the same database: the other PostgreSQL scheme and an
    option, or the SQLite file's path through "."."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        other = "postgresql" if scheme == "postgres" else "postgres"
        return f"{other}://{rest}{'&' if '?' in rest else '?'}application_name=linkd-copy-test"
    path = rest.lstrip("/")
    return os.path.join("/" + os.path.dirname(path), ".", os.path.basename(path))


def test_copying_a_database_into_itself_is_refused(source, target):
    r = run_copy(source["url"], str(source["db"]))  # a bare path names the same file
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == "", r.stderr
    copied(source, target)
    r = run_copy(target, respelled(target))
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    pw = password_of(target)
    assert not pw or pw not in out, out


def test_copy_needs_a_target_and_an_existing_source(tmp_path):
    env = linkd_env(DATABASE_URL=sqlite_url(tmp_path / "none.db"))
    r = run_linkd(["copy"], env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_linkd(["copy", db_url(tmp_path / "t.db")], env=env)
    assert r.returncode == 1 and "none.db" in r.stderr, r.stderr
    assert not (tmp_path / "none.db").exists(), "a missing source was created"
