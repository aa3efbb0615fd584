# SPDX-License-Identifier: MIT
"""Domains (docs/api-v1.md#domains, ADR 0028): a link belongs to the domain
its create names, the Host of a visit picks the domain, the same custom
code lives on two domains, each domain has its own root, not-found and
fallback redirects, and the root API and unlisted hosts see the default
domain. Redirects are checked on a cache miss and on a hit."""

from apiclient import expect, expect_json, uniq
from v1client import expect_problem, new_link, owner

import pytest


@pytest.fixture(scope="module")
def user(server):
    return owner(server)


def host():
    return f"{uniq('d')}.example.com"


def new_domain(c, **body):
    body.setdefault("host", host())
    r = c.post("/api/v1/domains", json=body)
    d = expect_json(r, 201)
    assert r.headers["Location"] == f"/api/v1/domains/{d['id']}"
    return d


def visit(c, h, path, status):
    return expect(c.get(path, headers={"Host": h}), status)


def test_create_list_update_delete(server):
    h = host()
    d = new_domain(server, host=h.upper(), root_url="https://example.com/home")
    assert set(d) == {"id", "host", "root_url", "not_found_url", "fallback_url", "created_at"}
    assert d["host"] == h  # lower-cased
    assert d["root_url"] == "https://example.com/home"
    assert d["not_found_url"] is None and d["fallback_url"] is None
    listed = expect_json(server.get("/api/v1/domains"), 200)["data"]
    assert [x for x in listed if x["id"] == d["id"]] == [d]
    r = server.patch(f"/api/v1/domains/{d['id']}",
                     json={"root_url": None, "not_found_url": "https://example.com/nf"})
    p = expect_json(r, 200)
    assert p == dict(d, root_url=None, not_found_url="https://example.com/nf")
    expect(server.delete(f"/api/v1/domains/{d['id']}"), 204)
    assert all(x["id"] != d["id"] for x in expect_json(server.get("/api/v1/domains"), 200)["data"])
    expect_problem(server.delete(f"/api/v1/domains/{d['id']}"), 404, "not-found")
    expect_problem(server.patch(f"/api/v1/domains/{d['id']}", json={}), 404, "not-found")


def test_validation_problems(server, user):
    d = new_domain(server)
    expect_problem(server.post("/api/v1/domains", json={"host": d["host"]}), 409, "domain-taken",
                   "/host")
    for bad in ["", "a..b", "-a.example.com", "a-.example.com", "x.example.com:8080",
                "bücher.example", "a b.example", "x" * 64 + ".example.com"]:
        expect_problem(server.post("/api/v1/domains", json={"host": bad}), 422,
                       "validation-failed", "/host")
    expect_problem(server.post("/api/v1/domains", json={}), 422, "validation-failed", "/host")
    expect_problem(server.post("/api/v1/domains", json={"host": host(), "root_url": "ftp://x"}),
                   422, "invalid-url", "/root_url")
    expect_problem(server.post("/api/v1/domains", json={"host": host(), "colour": 1}), 422,
                   "invalid-field", "/colour")
    expect_problem(server.patch(f"/api/v1/domains/{d['id']}", json={"host": "x.example"}), 422,
                   "invalid-field", "/host")
    expect_problem(server.post("/api/v1/links", json={"url": "https://example.com/",
                                                      "user_id": user["id"],
                                                      "domain": host()}),
                   422, "unknown-domain", "/domain")
    expect_problem(server.post("/api/v1/links", json={"url": "https://example.com/",
                                                      "user_id": user["id"], "domain": 3}),
                   422, "invalid-field", "/domain")
    link = new_link(server, user["id"], domain=d["host"])
    expect_problem(server.patch(f"/api/v1/links/{link['id']}", json={"domain": None}), 422,
                   "invalid-field", "/domain")


def test_same_code_on_two_domains_by_host(server, user):
    a, b = new_domain(server), new_domain(server)
    code = uniq("c")
    la = new_link(server, user["id"], code=code, url="https://example.com/a", domain=a["host"])
    lb = new_link(server, user["id"], code=code, url="https://example.com/b", domain=b["host"])
    assert la["domain"] == a["host"] and lb["domain"] == b["host"]
    assert la["short_url"] == f"http://{a['host']}/{code}"
    assert lb["short_url"] == f"http://{b['host']}/{code}"
    expect_problem(server.post("/api/v1/links", json={"url": "https://example.com/c",
                                                      "user_id": user["id"], "code": code,
                                                      "domain": a["host"]}),
                   409, "code-taken", "/code")
    for _ in range(2):  # a miss, then a cache hit
        assert visit(server, a["host"], "/" + code, 302).headers["Location"] == la["url"]
        assert visit(server, b["host"].upper() + ":80", "/" + code, 302).headers["Location"] == \
            lb["url"]
        # the default domain (an unlisted Host, or the API's own) has no such code
        expect(server.get("/" + code), 404)
        visit(server, "other.example.org", "/" + code, 404)
    # a link on the default domain with that code is a third one
    ld = new_link(server, user["id"], code=code, url="https://example.com/d")
    assert ld["domain"] is None
    for _ in range(2):
        assert expect(server.get("/" + code), 302).headers["Location"] == ld["url"]
        assert visit(server, a["host"], "/" + code, 302).headers["Location"] == la["url"]
    # a change of a domain's link is seen at once (its cache entry is dropped)
    expect(server.patch(f"/api/v1/links/{la['id']}", json={"url": "https://example.com/a2"}), 200)
    assert visit(server, a["host"], "/" + code, 302).headers["Location"] == "https://example.com/a2"
    expect(server.delete(f"/api/v1/links/{lb['id']}"), 204)
    visit(server, b["host"], "/" + code, 404)
    # the root API sees the rows with their codes, and never a domain
    u = expect_json(server.get(f"/urls/{la['id']}"), 200)
    assert u["short_code"] == code and "domain" not in u
    got = expect_json(server.get(f"/api/v1/links/{la['id']}"), 200)
    assert got["domain"] == a["host"] and got["short_url"] == la["short_url"]


def test_root_and_not_found_redirects_per_domain(server, user):
    d = new_domain(server, root_url="https://example.com/home",
                   not_found_url="https://example.com/missing")
    plain = new_domain(server)
    for _ in range(2):
        assert visit(server, d["host"], "/", 302).headers["Location"] == "https://example.com/home"
        r = visit(server, d["host"], "/" + uniq("nope"), 302)
        assert r.headers["Location"] == "https://example.com/missing"
        visit(server, plain["host"], "/", 404)
        visit(server, plain["host"], "/" + uniq("nope"), 404)
        expect(server.get("/"), 404)
    # an inactive link of the domain goes to its not-found page too
    link = new_link(server, user["id"], domain=d["host"], active=False)
    for _ in range(2):
        r = visit(server, d["host"], "/" + link["code"], 302)
        assert r.headers["Location"] == "https://example.com/missing"
    # and a change of the domain is seen at once by this node
    expect(server.patch(f"/api/v1/domains/{d['id']}", json={"not_found_url": None}), 200)
    visit(server, d["host"], "/" + uniq("nope"), 404)


def test_domain_fallback_for_an_expired_link(server, user):
    d = new_domain(server, fallback_url="https://example.com/domain-fallback")
    gone = new_link(server, user["id"], domain=d["host"], valid_until="2020-01-01T00:00:00Z")
    own = new_link(server, user["id"], domain=d["host"], valid_until="2020-01-01T00:00:00Z",
                   fallback_url="https://example.com/own-fallback")
    plain = new_link(server, user["id"], valid_until="2020-01-01T00:00:00Z")
    for _ in range(2):
        r = visit(server, d["host"], "/" + gone["code"], 302)
        assert r.headers["Location"] == "https://example.com/domain-fallback"
        r = visit(server, d["host"], "/" + own["code"], 302)
        assert r.headers["Location"] == "https://example.com/own-fallback"
        expect(server.get("/" + plain["code"]), 410)


def test_a_domain_in_use_is_not_deleted(server, user):
    d = new_domain(server)
    link = new_link(server, user["id"], domain=d["host"])
    expect_problem(server.delete(f"/api/v1/domains/{d['id']}"), 409, "domain-in-use")
    expect(server.delete(f"/api/v1/links/{link['id']}"), 204)  # a deactivated link still names it
    expect_problem(server.delete(f"/api/v1/domains/{d['id']}"), 409, "domain-in-use")
    visit(server, d["host"], "/" + link["code"], 404)


def test_a_root_bulk_upsert_of_a_domains_link_is_seen_at_once(server, user):
    """The root API knows nothing of domains, but a write through it to a
    domain's link must drop that link's cached redirect on its domain."""
    d = new_domain(server)
    code = uniq("b")[:12]
    link = new_link(server, user["id"], code=code, domain=d["host"])
    for _ in range(2):  # a miss, then a cache hit
        assert visit(server, d["host"], "/" + code, 302).headers["Location"] == link["url"]
    row = {"id": link["id"], "user_id": user["id"], "short_code": code,
           "original_url": "https://example.com/moved"}
    out = expect_json(server.post("/urls/bulk", json=[row]), 201)
    assert out["results"][0]["status"] == 200, out
    assert visit(server, d["host"], "/" + code, 302).headers["Location"] == \
        "https://example.com/moved"
    assert expect_json(server.get(f"/api/v1/links/{link['id']}"), 200)["domain"] == d["host"]


def test_the_qr_code_of_a_domains_link_names_its_domain(server, user, tmp_path):
    import shutil
    import subprocess
    if shutil.which("zbarimg") is None:
        pytest.skip("needs zbar-tools")
    d = new_domain(server)
    code = uniq("q")[:12]
    on_domain = new_link(server, user["id"], code=code, domain=d["host"])
    plain = new_link(server, user["id"], code=code)
    r = expect(server.get(f"/api/v1/links/{on_domain['id']}/qr", params={"size": 300}), 200)
    other = expect(server.get(f"/api/v1/links/{plain['id']}/qr", params={"size": 300}), 200)
    assert r.headers["ETag"] != other.headers["ETag"] and r.content != other.content
    f = tmp_path / "qr.png"
    f.write_bytes(r.content)
    got = subprocess.run(["zbarimg", "--raw", "-q", str(f)], capture_output=True, text=True,
                         timeout=30)
    assert got.stdout.strip() == on_domain["short_url"]
    assert d["host"] in on_domain["short_url"]
