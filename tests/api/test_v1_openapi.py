# SPDX-License-Identifier: MIT
"""The /api/v1 OpenAPI document (docs/openapi-v1.json, served at
/api/v1/openapi.json) against the real server, as test_openapi.py checks the
root document: the route table's /api/v1 routes and the document list the
same paths, methods, access classes and scopes; every problem type the
handlers can answer is documented; every (path, method, status) the document
lists is provoked for real (except store failures no black-box test can
cause) and each answer is validated: status, headers, and body (problem
details included) against the schema. The test at the end of the file checks
that nothing documented went unseen. Domains change what a redirect answers,
so their redirects are also checked against the root document (GET /{code})."""

import copy
import json
import re
import threading
import time

import pytest

import backend
import openapi_check
from apiclient import BASE_URL, REPO, describe, expect, expect_json, new_user, uniq
from openapi_check import create_key, deref, is_v1, route_table

OA = openapi_check.Document("openapi-v1.json")
DOC, SPEC = OA.doc, OA.spec
ROOT = openapi_check.Document("openapi.json")
conforms, hit, send_json, send_raw = OA.conforms, OA.hit, OA.send_json, OA.send_raw
MiB = 1024 * 1024
PROBLEM = "urn:linkd:problem:"
_RAN = set()  # tests of this file that ran, for the coverage check at the end


@pytest.fixture(autouse=True)
def _note_ran(request):
    yield
    _RAN.add(request.node.originalname)


def slug(r):
    return r.json()["type"].removeprefix(PROBLEM)


def link_body(user_id, **over):
    return {"url": f"https://example.com/{uniq('oa1')}", "user_id": user_id, **over}


def new_link(c, user_id, **over):
    return expect_json(c.post("/api/v1/links", json=link_body(user_id, **over)), 201)


def big_json(key):
    return json.dumps({key: "a" * MiB}).encode()


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def new_host():
    return f"{uniq('oa1d')}.example.com"


def new_domain(c, **body):
    return send_json(c, "POST", "/api/v1/domains", 201, {"host": new_host(), **body}).json()


# ------------------------------------------------------------- the document


def test_document_is_well_formed_openapi_3_1():
    openapi_check.check_well_formed(DOC, SPEC)
    for path in DOC["paths"]:
        assert is_v1(path), f"{path} is not under /api/v1"


def handler_problem_types():
    """{slug: statuses} of every problem the handlers can answer: the
    generic type of each status (problem.c), the specific ones of the /api/v1
    handlers and of Idempotency-Key (idempotency.c), and the policy module's
    (all 422, but the one it never lets out: a password not hashed yet)."""
    src = REPO / "src" / "handlers"
    found = {}
    generic = re.findall(r'\{(\d{3}), "([a-z-]+)", "[^"]+"\}', (src / "problem.c").read_text())
    assert len(generic) >= 10, "problem.c's table was not read (has its layout changed?)"
    for status, name in generic:
        found.setdefault(name, set()).add(int(status))
    calls = 0
    for f in sorted(src.glob("v1_*.c")) + [src / "idempotency.c"]:
        text = re.sub(r"\s+", " ", f.read_text())
        for status, name in re.findall(
                r'(?:lnk_h_problem(?:_new)?\(r, |fail\(r, j, )(\d{3}), "([a-z-]+)"', text):
            found.setdefault(name, set()).add(int(status))
            calls += 1
        for a, b, sa, sb in re.findall(
                r'lnk_h_problem(?:_new)?\( ?r, (?:n|rc == LNK_ETOOBIG) \? (\d{3}) : (\d{3}), '
                r'(?:n|rc == LNK_ETOOBIG) \? "([a-z-]+)" : "([a-z-]+)"', text):
            found.setdefault(sa, set()).add(int(a))
            found.setdefault(sb, set()).add(int(b))
            calls += 1
    assert calls >= 8, "the handlers' problems were not read (has their layout changed?)"
    policy = (REPO / "include" / "linkd" / "policy.h").read_text()
    for name in re.findall(r'#define LNK_POLICY_E_\w+\s+"([a-z-]+)"', policy):
        if name != "password-not-hashed":
            found.setdefault(name, set()).add(422)
    return found


def test_every_problem_type_is_documented():
    documented = DOC["x-linkd-problem-types"]
    found = handler_problem_types()
    assert {"too-many-items", "code-taken", "etag-mismatch", "invalid-url", "user-not-found",
            "invalid-idempotency-key", "idempotency-key-reused", "idempotency-key-in-use",
            "unknown-domain", "domain-taken", "domain-in-use"} <= set(found)
    for name, statuses in found.items():
        assert name in documented, f"problem type {name} is not documented"
        assert statuses <= set(documented[name]["status"]), \
            f"{name}: answered with {sorted(statuses)}, documented {documented[name]['status']}"
    assert set(documented) == set(found), \
        f"documented but never answered: {sorted(set(documented) - set(found))}"
    for name, entry in documented.items():
        assert entry["type"] == PROBLEM + name and entry["description"]
    # every problem an answer documents names documented types and its status
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            for status, answer in op["responses"].items():
                media = answer.get("content", {}).get("application/problem+json")
                if not media:
                    continue
                types = [t for part in media["schema"]["allOf"]
                         for t in part.get("properties", {}).get("type", {}).get("enum", [])]
                assert types, f"{method} {path} {status}: no problem types"
                for t in types:
                    assert int(status) in documented[t.removeprefix(PROBLEM)]["status"], \
                        f"{method} {path} {status}: {t}"


def test_served_document_is_the_file(server):
    r = hit(server, "GET", "/api/v1/openapi.json", 200)
    assert r.content == OA.file.read_bytes(), "GET /api/v1/openapi.json is not the file"
    assert r.json() == DOC
    etag = r.headers["ETag"]
    root = server.get("/openapi.json")
    assert root.headers["ETag"] != etag and root.json() != DOC, "the two documents differ"
    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        hit(server, "GET", "/api/v1/openapi.json", 304, headers={"If-None-Match": inm})
    for inm in ('"0000000000000000"', root.headers["ETag"]):
        hit(server, "GET", "/api/v1/openapi.json", 200, headers={"If-None-Match": inm})
    assert server.get("/api/v1/openapi.json/").json() == DOC, "a trailing slash is ignored"


# ---------------------------------------------------- route table <-> document


def scope_of(access, method):
    """What guard.c's scope_needed asks of a key on a /api/v1 route: admin on
    an admin route, else links:read to read and links:write to write."""
    if access == "admin":
        return "admin"
    return "links:read" if method in ("get", "head") else "links:write"


def is_admin_route(path):
    return path.startswith(("/api/v1/keys", "/api/v1/domains"))


def test_route_table_and_document_agree():
    table = {path: v for path, v in route_table().items() if is_v1(path)}
    assert "/api/v1/openapi.json" in table
    assert set(table) == set(DOC["paths"]), (
        f"only in the route table: {sorted(set(table) - set(DOC['paths']))}; "
        f"only in the document: {sorted(set(DOC['paths']) - set(table))}")
    schemes = [name for req in DOC["security"] for name in req]
    for path, (access, methods) in table.items():
        item = DOC["paths"][path]
        assert set(item) == methods, f"{path}: route table {sorted(methods)}, document " \
                                     f"{sorted(item)}"
        for method, op in item.items():
            assert op["x-linkd-access"] == access, f"{method} {path}"
            security = op.get("security", DOC["security"])
            if access == "public":
                assert security == [] and "x-linkd-scope" not in op, f"{method} {path} is public"
                continue
            assert access == ("admin" if is_admin_route(path) else "manage"), \
                f"{method} {path}: {access}"
            scope = scope_of(access, method)
            assert op["x-linkd-scope"] == scope, f"{method} {path}"
            assert security == [{name: [scope]} for name in schemes], \
                f"{method} {path}: {security}"


def test_route_table_puts_the_document_before_the_link_routes():
    routes_c = (REPO / "src" / "router" / "routes.c").read_text()
    assert routes_c.index("LNK_ROUTE_V1_OPENAPI,") < routes_c.index("LNK_ROUTE_V1_LINK,")


# ------------------------------------------------- every route, session server


def test_list(server):
    c = server
    owner = new_user(c)["id"]
    made = [new_link(c, owner, tags=["oa-list"]) for _ in range(3)]
    page = hit(c, "GET", "/api/v1/links", 200, params={"user_id": owner, "limit": 2}).json()
    assert [x["id"] for x in page["data"]] == [m["id"] for m in made[:2]]
    assert page["next_cursor"]
    last = hit(c, "GET", "/api/v1/links", 200,
               params={"user_id": owner, "limit": 2, "cursor": page["next_cursor"]}).json()
    assert [x["id"] for x in last["data"]] == [made[2]["id"]] and last["next_cursor"] is None
    hit(c, "GET", "/api/v1/links", 200, params={"tag": "OA-LIST", "active": "true"})
    for bad in ({"limit": 0}, {"limit": "x"}, {"cursor": "b123"}, {"active": "yes"},
                {"user_id": "-1"}, {"tag": ""}):
        r = hit(c, "GET", "/api/v1/links", 400, params=bad)
        assert slug(r) == "invalid-parameter"
        assert r.json()["errors"][0]["pointer"] == "/query/" + next(iter(bad)), r.json()


def test_create(server):
    c = server
    owner = new_user(c)["id"]
    code = uniq("oa1c")[:20]
    every = link_body(
        owner, code=code, title="T", notes="n", tags=["A", "b"], active=True,
        redirect_type=308, forward_query=True, utm={"source": "s", "campaign": "c"},
        valid_from="2026-01-01T00:00:00Z", valid_until="2099-01-01T00:00:00+00:00",
        max_clicks=3, fallback_url="https://example.com/over", password="pw",
        rules=[{"url": "https://m.example.com/", "device": ["mobile"], "os": ["ios"],
                "lang": ["de"], "country": ["de"], "query": {"ref": "tw"},
                "from": "2026-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z"}],
        split=[{"url": "https://a.example.com/", "weight": 1}])
    r = send_json(c, "POST", "/api/v1/links", 201, every)
    link = r.json()
    assert r.headers["Location"] == f"/api/v1/links/{link['id']}"
    assert link["code"] == code and link["password_protected"] is True
    assert link["rules"][0]["country"] == ["DE"] and link["tags"] == ["a", "b"]
    send_json(c, "POST", "/api/v1/links", 201, link_body(owner, code=None, title=None))
    assert slug(send_json(c, "POST", "/api/v1/links", 409, link_body(owner, code=code))) == \
        "code-taken"
    r = hit(c, "POST", "/api/v1/links", 404, json=link_body(999999999))
    assert slug(r) == "user-not-found" and r.json()["errors"][0]["pointer"] == "/user_id"
    for bad, want in (({"url": "ftp://x"}, "validation-failed"),
                      ({"code": "users"}, "validation-failed"),
                      ({"bogus": 1}, "invalid-field"),
                      ({"redirect_type": 303}, "invalid-field"),
                      ({"fallback_url": "javascript:alert(1)"}, "invalid-url"),
                      ({"valid_from": "2026-01-01"}, "invalid-time"),
                      ({"tags": [f"t{i}" for i in range(33)]}, "too-many-items"),
                      ({"split": [{"url": "https://a.example.com/"}]}, "invalid-field")):
        r = send_json(c, "POST", "/api/v1/links", 422, link_body(owner, **bad))
        assert slug(r) == want, (bad, r.json())
    # refused for what a schema cannot say: relations between fields
    for bad, want in (({"valid_from": "2027-01-01T00:00:00Z",
                        "valid_until": "2026-01-01T00:00:00Z"}, "invalid-time-window"),
                      ({"split": [{"url": "https://a.example.com/", "weight": 6000},
                                  {"url": "https://b.example.com/", "weight": 6000}]},
                       "invalid-weights")):
        assert slug(hit(c, "POST", "/api/v1/links", 422, json=link_body(owner, **bad))) == want
    for body in (b"[]", b"{", b""):
        assert slug(hit(c, "POST", "/api/v1/links", 400, data=body)) == "bad-request"
    hit(c, "POST", "/api/v1/links", 400, data={"url": "https://example.com/"})
    r = send_raw(c, "POST", "/api/v1/links", 413, big_json("notes"))
    assert r.json()["type"] == PROBLEM + "payload-too-large"


def test_read_update_delete(server):
    c = server
    owner = new_user(c)["id"]
    link = new_link(c, owner, tags=["x"])
    one = f"/api/v1/links/{link['id']}"
    r = hit(c, "GET", "/api/v1/links/{id}", 200, path=one)
    assert r.json() == link
    etag = r.headers["ETag"]
    hit(c, "GET", "/api/v1/links/{id}", 304, path=one, headers={"If-None-Match": etag})
    hit(c, "GET", "/api/v1/links/{id}", 200, path=one, headers={"If-None-Match": '"0"'})
    for missing in ("999999999", "abc", "0"):
        assert slug(hit(c, "GET", "/api/v1/links/{id}", 404, path=f"/api/v1/links/{missing}")) \
            == "not-found"
    r = send_json(c, "PATCH", "/api/v1/links/{id}", 200, {"title": "new", "tags": None},
                  path=one, headers={"If-Match": etag})
    assert r.json()["title"] == "new" and r.json()["tags"] == []
    assert r.headers["ETag"] != etag
    r = send_json(c, "PATCH", "/api/v1/links/{id}", 412, {"title": "stale"}, path=one,
                  headers={"If-Match": etag})
    assert slug(r) == "etag-mismatch"
    send_json(c, "PATCH", "/api/v1/links/{id}", 412, {"title": "empty"}, path=one,
              headers={"If-Match": ""})
    send_json(c, "PATCH", "/api/v1/links/{id}", 200, {"max_clicks": 5}, path=one)
    for bad, want in (({"code": "other"}, "validation-failed"), ({"user_id": 1}, "invalid-field"),
                      ({"rules": [{"device": ["mobile"]}]}, "invalid-field"),
                      ({"active": "no"}, "validation-failed")):
        r = send_json(c, "PATCH", "/api/v1/links/{id}", 422, bad, path=one)
        assert slug(r) == want, (bad, r.json())
    send_json(c, "PATCH", "/api/v1/links/{id}", 404, {}, path="/api/v1/links/999999999")
    hit(c, "PATCH", "/api/v1/links/{id}", 400, path=one, data=b"[1]")
    send_raw(c, "PATCH", "/api/v1/links/{id}", 413, big_json("notes"), path=one)
    hit(c, "DELETE", "/api/v1/links/{id}", 204, path=one)
    hit(c, "DELETE", "/api/v1/links/{id}", 204, path=one)
    hit(c, "DELETE", "/api/v1/links/{id}", 404, path="/api/v1/links/999999999")
    assert hit(c, "GET", "/api/v1/links/{id}", 200, path=one).json()["active"] is False


def test_bulk(server):
    c = server
    owner = new_user(c)["id"]
    keep, gone = new_link(c, owner), new_link(c, owner)
    body = {"create": [link_body(owner), link_body(owner, url="ftp://bad"), "not a link"],
            "update": [{"id": keep["id"], "title": "t"}, {"id": 999999999, "title": "x"}],
            "delete": [gone["id"]]}
    out = send_json(c, "POST", "/api/v1/links/bulk", 200, body).json()
    assert [(x["op"], x["status"]) for x in out["results"]] == [
        ("create", 201), ("create", 422), ("create", 422), ("update", 200), ("update", 404),
        ("delete", 204)]
    assert (out["succeeded"], out["failed"]) == (3, 3)
    for bad in ({}, {"upsert": []}, {"create": {}}, {"update": [{"title": "x"}]},
                {"delete": ["x"]}):
        assert slug(send_json(c, "POST", "/api/v1/links/bulk", 422, bad)) == "validation-failed"
    hit(c, "POST", "/api/v1/links/bulk", 422,
        json={"update": [{"id": keep["id"]}], "delete": [keep["id"]]})
    r = hit(c, "POST", "/api/v1/links/bulk", 413, json={"create": [{}] * 1001})
    assert slug(r) == "too-many-items"
    r = send_raw(c, "POST", "/api/v1/links/bulk", 413, big_json("create"))
    assert r.json()["type"] == PROBLEM + "payload-too-large"
    hit(c, "POST", "/api/v1/links/bulk", 400, data=b"[]")


SHLINK_CSV = ("createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n"
              "2023-05-01T10:20:30+02:00,s.test,{c},https://s.test/{c},https://example.com/i,"
              "Imported,a|b,1\r\n"
              "2023-06-02T08:00:00+00:00,s.test,ab,https://s.test/ab,https://example.com/a,,,0\r\n")


def test_import(server):
    c = server
    owner = new_user(c)["id"]
    text = SHLINK_CSV.format(c=uniq("im")[:12])
    out = hit(c, "POST", "/api/v1/links/import", 200,
              params={"format": "shlink-csv", "user_id": owner}, data=text.encode(),
              headers={"Content-Type": "text/csv"}).json()
    assert out["succeeded"] == 1 and len(out["refused_rows"]) == 1
    rows = [{"keyword": uniq("y")[:12], "url": "https://example.com/y"}]
    hit(c, "POST", "/api/v1/links/import", 200,
        params={"format": "yourls-json", "user_id": owner}, json=rows)
    for params in ({"user_id": owner}, {"format": "shlink-csv"},
                   {"format": "shlink-csv", "user_id": "0"}):
        r = hit(c, "POST", "/api/v1/links/import", 400, params=params, data=b"x")
        assert slug(r) == "invalid-parameter"
    for params, data in (({"format": "bitly", "user_id": owner}, b"[]"),
                         ({"format": "shlink-json", "user_id": owner}, b"{not json")):
        r = hit(c, "POST", "/api/v1/links/import", 422, params=params, data=data)
        assert slug(r) == "unreadable-import"
    stem = uniq("k")[:12]
    many = [{"keyword": f"{stem}{i}", "url": "https://example.com/k"} for i in range(1001)]
    r = hit(c, "POST", "/api/v1/links/import", 413,
            params={"format": "yourls-json", "user_id": owner}, json=many)
    assert slug(r) == "too-many-items"


def test_export(server):
    c = server
    owner = new_user(c)["id"]
    made = [new_link(c, owner, tags=["ex"]), new_link(c, owner, redirect_type=301)]
    r = hit(c, "GET", "/api/v1/links/export", 200, params={"format": "json", "user_id": owner})
    assert r.json() == made
    r = hit(c, "GET", "/api/v1/links/export", 200, params={"user_id": owner, "tag": "ex"})
    assert r.headers["Content-Type"].startswith("text/csv") and len(r.text.splitlines()) == 2
    for bad in ({"format": "xml"}, {"active": "1"}, {"user_id": "me"}):
        assert slug(hit(c, "GET", "/api/v1/links/export", 400, params=bad)) == \
            "invalid-parameter"


def test_idempotency_key(server):
    c = server
    owner = new_user(c)["id"]
    key = {"Idempotency-Key": uniq("oa1k")}
    body = link_body(owner, title="once")
    first = send_json(c, "POST", "/api/v1/links", 201, body, headers=key)
    assert "Idempotent-Replayed" not in first.headers and first.headers["ETag"]
    again = send_json(c, "POST", "/api/v1/links", 201, body, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and "ETag" not in again.headers
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()
    r = hit(c, "POST", "/api/v1/links", 422, json=link_body(owner), headers=key)
    assert slug(r) == "idempotency-key-reused" and "errors" not in r.json()
    # an error is kept and replayed as it was
    key = {"Idempotency-Key": uniq("oa1k")}
    bad = link_body(owner, url="ftp://x")
    first = send_json(c, "POST", "/api/v1/links", 422, bad, headers=key)
    again = send_json(c, "POST", "/api/v1/links", 422, bad, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    # bulk and import: the same
    key = {"Idempotency-Key": uniq("oa1k")}
    bulk = {"create": [link_body(owner), link_body(owner)]}
    first = send_json(c, "POST", "/api/v1/links/bulk", 200, bulk, headers=key)
    again = send_json(c, "POST", "/api/v1/links/bulk", 200, bulk, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    r = hit(c, "POST", "/api/v1/links/bulk", 422, json={"create": [link_body(owner)]},
            headers=key)
    assert slug(r) == "idempotency-key-reused"
    key = {"Idempotency-Key": uniq("oa1k")}
    rows = [{"keyword": uniq("y")[:12], "url": "https://example.com/y"}]
    params = {"format": "yourls-json", "user_id": owner}
    first = hit(c, "POST", "/api/v1/links/import", 200, params=params, json=rows, headers=key)
    again = hit(c, "POST", "/api/v1/links/import", 200, params=params, json=rows, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.json()["succeeded"] == 1
    r = hit(c, "POST", "/api/v1/links/import", 422, params={**params, "format": "yourls-csv"},
            json=rows, headers=key)
    assert slug(r) == "idempotency-key-reused"
    for bad_key in ("", "x" * 256, "has space", "tab\tkey", "caf\u00e9"):
        headers = {"Idempotency-Key": bad_key.encode("utf-8")}
        for template, kw in (("/api/v1/links", {"json": link_body(owner)}),
                             ("/api/v1/links/bulk", {"json": bulk}),
                             ("/api/v1/links/import", {"params": params, "json": rows})):
            r = hit(c, "POST", template, 400, headers=headers, **kw)
            assert slug(r) == "invalid-idempotency-key" and "errors" not in r.json(), bad_key


def in_parallel(c, n, method, path, **kw):
    """n requests at once, each over its own connection."""
    answers = []

    def send():
        answers.append(c.clone().request(method, path, **kw))

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == n
    return answers


def test_idempotency_key_in_use_409(server):
    """A request that sends the key of one still running gets 409. Passwords
    hold a key for their Argon2id hashes (tens of ms each), an import of many
    rows for its writes; six requests at once with one key overlap in
    practice, but nothing forces them to, so up to five rounds are tried
    (each with a new key) and the rounds it took are printed."""
    c = server
    owner = new_user(c)["id"]

    def slow():
        return link_body(owner, password="slow to hash")

    def rows():
        stem = uniq("p")[:12]
        return [{"keyword": f"{stem}{i}", "url": "https://example.com/p"} for i in range(500)]

    requests = {
        "/api/v1/links": (201, lambda: {"json": slow()}),
        "/api/v1/links/bulk": (200, lambda: {"json": {"create": [slow() for _ in range(4)]}}),
        "/api/v1/links/import": (200, lambda: {
            "params": {"format": "yourls-json", "user_id": owner}, "json": rows()}),
    }
    rounds = {}
    for template, (ok, kw) in requests.items():
        for n in range(1, 6):
            answers = in_parallel(c, 6, "POST", template, headers={"Idempotency-Key": uniq("oa1p")},
                                  **kw())
            for a in answers:
                conforms(a, template)
            statuses = sorted(a.status_code for a in answers)
            assert set(statuses) <= {ok, 409} and ok in statuses, statuses
            done = [a.json() for a in answers if a.status_code == ok]
            assert all(x == done[0] for x in done), "every replay is the first answer"
            busy = [a for a in answers if a.status_code == 409]
            for a in busy:
                assert slug(a) == "idempotency-key-in-use" and "errors" not in a.json()
                assert a.headers["Retry-After"] == "1"
            if busy:
                rounds[template] = n
                break
        assert template in rounds, f"{template}: no 409 in 5 rounds of 6 requests with one key"
    print(f"\nidempotency-key-in-use: rounds it took {rounds}")


def test_qr(server):
    c = server
    link = new_link(c, new_user(c)["id"])
    where = f"/api/v1/links/{link['id']}/qr"
    r = hit(c, "GET", "/api/v1/links/{id}/qr", 200, path=where)
    assert r.content.startswith(b"\x89PNG") and r.headers["Content-Type"] == "image/png"
    svg = hit(c, "GET", "/api/v1/links/{id}/qr", 200, path=where,
              params={"format": "svg", "size": 300})
    hit(c, "GET", "/api/v1/links/{id}/qr", 304, path=where, params={"format": "svg", "size": 300},
        headers={"If-None-Match": svg.headers["ETag"]})
    for bad in ({"format": "gif"}, {"size": 63}, {"size": "big"}, {"size": 64}):
        r = hit(c, "GET", "/api/v1/links/{id}/qr", 400, path=where, params=bad)
        assert slug(r) == "invalid-parameter" and r.json()["errors"][0]["pointer"] == \
            "/query/" + next(iter(bad))
    hit(c, "GET", "/api/v1/links/{id}/qr", 404, path="/api/v1/links/999999999/qr")


DOMAIN_FIELDS = {"id", "host", "root_url", "not_found_url", "fallback_url", "created_at"}


def test_domains(server):
    """Domains are admin routes; the session server has no key (protected
    mode), so its loopback client may use them."""
    c = server
    host = new_host()
    r = send_json(c, "POST", "/api/v1/domains", 201,
                  {"host": host.upper(), "root_url": "https://example.com/home"})
    d = r.json()
    assert r.headers["Location"] == f"/api/v1/domains/{d['id']}"
    assert set(d) == DOMAIN_FIELDS
    assert (d["host"], d["root_url"], d["not_found_url"], d["fallback_url"]) == (
        host, "https://example.com/home", None, None)
    every = new_domain(c, root_url=None, not_found_url="https://example.com/nf",
                       fallback_url="https://example.com/fb")
    assert (every["root_url"], every["not_found_url"], every["fallback_url"]) == (
        None, "https://example.com/nf", "https://example.com/fb")
    listed = hit(c, "GET", "/api/v1/domains", 200).json()["data"]
    assert [x["id"] for x in listed] == sorted(x["id"] for x in listed)
    assert [x for x in listed if x["id"] in (d["id"], every["id"])] == [d, every]
    # Idempotency-Key: the key with another body, a malformed key (a replay:
    # test_domain_create_replay)
    key = {"Idempotency-Key": uniq("oa1dk")}
    first = send_json(c, "POST", "/api/v1/domains", 201, {"host": new_host()}, headers=key)
    assert "Idempotent-Replayed" not in first.headers
    r = hit(c, "POST", "/api/v1/domains", 422, json={"host": new_host()}, headers=key)
    assert slug(r) == "idempotency-key-reused" and "errors" not in r.json()
    r = hit(c, "POST", "/api/v1/domains", 400, json={"host": new_host()},
            headers={"Idempotency-Key": "has space"})
    assert slug(r) == "invalid-idempotency-key"
    r = send_json(c, "POST", "/api/v1/domains", 409, {"host": host})
    assert slug(r) == "domain-taken" and r.json()["errors"][0]["pointer"] == "/host"
    for bad, want, pointer in (
            ({}, "validation-failed", "/host"),
            ({"host": 7}, "validation-failed", "/host"),
            ({"host": ""}, "validation-failed", "/host"),
            ({"host": "a..b.example"}, "validation-failed", "/host"),
            ({"host": "-a.example"}, "validation-failed", "/host"),
            ({"host": "a-.example"}, "validation-failed", "/host"),
            ({"host": "a.example."}, "validation-failed", "/host"),
            ({"host": "x.example:8080"}, "validation-failed", "/host"),
            ({"host": "b\u00fccher.example"}, "validation-failed", "/host"),
            ({"host": "a_b.example"}, "validation-failed", "/host"),
            ({"host": "x" * 64 + ".example"}, "validation-failed", "/host"),
            ({"host": ".".join(["a" * 60] * 5)}, "validation-failed", "/host"),
            ({"host": new_host(), "root_url": "ftp://x"}, "invalid-url", "/root_url"),
            ({"host": new_host(), "fallback_url": 3}, "invalid-url", "/fallback_url"),
            ({"host": new_host(), "colour": 1}, "invalid-field", "/colour")):
        r = send_json(c, "POST", "/api/v1/domains", 422, bad)
        assert slug(r) == want and r.json()["errors"][0]["pointer"] == pointer, (bad, r.json())
    r = hit(c, "POST", "/api/v1/domains", 422,
            data=b'{"host": "x.example", "root_url": 18446744073709551616}')
    assert slug(r) == "validation-failed"
    for body in (b"[]", b"{", b""):
        assert slug(hit(c, "POST", "/api/v1/domains", 400, data=body)) == "bad-request"
    hit(c, "POST", "/api/v1/domains", 400, data={"host": new_host()})
    r = send_raw(c, "POST", "/api/v1/domains", 413, big_json("host"))
    assert r.json()["type"] == PROBLEM + "payload-too-large"
    assert len(hit(c, "GET", "/api/v1/domains", 200).json()["data"]) == len(listed) + 1, \
        "no refused request made a domain"
    # PATCH: absent keeps, null unsets; the host never changes
    one = f"/api/v1/domains/{d['id']}"
    r = send_json(c, "PATCH", "/api/v1/domains/{id}", 200,
                  {"root_url": None, "not_found_url": "https://example.com/nf2"}, path=one)
    d = dict(d, root_url=None, not_found_url="https://example.com/nf2")
    assert r.json() == d
    assert send_json(c, "PATCH", "/api/v1/domains/{id}", 200, {}, path=one).json() == d
    for bad, want, pointer in (({"host": "x.example"}, "invalid-field", "/host"),
                               ({"bogus": 1}, "invalid-field", "/bogus"),
                               ({"root_url": "javascript:alert(1)"}, "invalid-url", "/root_url"),
                               ({"not_found_url": False}, "invalid-url", "/not_found_url")):
        r = send_json(c, "PATCH", "/api/v1/domains/{id}", 422, bad, path=one)
        assert slug(r) == want and r.json()["errors"][0]["pointer"] == pointer, (bad, r.json())
    r = hit(c, "PATCH", "/api/v1/domains/{id}", 422, path=one,
            data=b'{"root_url": 18446744073709551616}')
    assert slug(r) == "validation-failed"
    for missing in ("999999999", "abc", "0"):
        r = send_json(c, "PATCH", "/api/v1/domains/{id}", 404, {},
                      path=f"/api/v1/domains/{missing}")
        assert slug(r) == "not-found"
    hit(c, "PATCH", "/api/v1/domains/{id}", 400, path=one, data=b"[1]")
    send_raw(c, "PATCH", "/api/v1/domains/{id}", 413, big_json("root_url"), path=one)
    assert [x for x in hit(c, "GET", "/api/v1/domains", 200).json()["data"]
            if x["id"] == d["id"]] == [d], "no refused change was applied"
    hit(c, "DELETE", "/api/v1/domains/{id}", 204, path=one)
    assert all(x["id"] != d["id"] for x in hit(c, "GET", "/api/v1/domains", 200).json()["data"])
    for missing in (str(d["id"]), "abc", "0"):
        r = hit(c, "DELETE", "/api/v1/domains/{id}", 404, path=f"/api/v1/domains/{missing}")
        assert slug(r) == "not-found"


def test_domain_create_replay(server):
    c = server
    key = {"Idempotency-Key": uniq("oa1dk")}
    body = {"host": new_host()}
    first = send_json(c, "POST", "/api/v1/domains", 201, body, headers=key)
    again = c.post("/api/v1/domains", json=body, headers=key)
    expect(again, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert [x["host"] for x in hit(c, "GET", "/api/v1/domains", 200).json()["data"]].count(
        body["host"]) == 1, "the replay made nothing"
    assert again.headers["Location"] == first.headers["Location"], describe(again)
    conforms(again, "/api/v1/domains")


def visit(c, host, code, status):
    """GET /{code} with this Host, checked against the root document."""
    r = c.get(f"/{code}", headers={"Host": host})
    expect(r, status)
    return ROOT.conforms(r, "/{code}", spec=ROOT.spec)


def test_links_on_a_domain(server):
    c = server
    owner = new_user(c)["id"]
    dom = new_domain(c, not_found_url="https://example.com/nf")
    code = uniq("oa1c")[:20]
    link = send_json(c, "POST", "/api/v1/links", 201,
                     link_body(owner, code=code, domain=dom["host"].upper())).json()
    assert link["domain"] == dom["host"]
    assert re.fullmatch(rf"https?://{re.escape(dom['host'])}/{code}", link["short_url"]), link
    plain = send_json(c, "POST", "/api/v1/links", 201, link_body(owner, code=code, domain=None))
    plain = plain.json()
    assert plain["domain"] is None and plain["short_url"] != link["short_url"]
    got = hit(c, "GET", "/api/v1/links/{id}", 200, path=f"/api/v1/links/{link['id']}").json()
    assert got == link
    assert slug(send_json(c, "POST", "/api/v1/links", 409,
                          link_body(owner, code=code, domain=dom["host"]))) == "code-taken"
    # refused for what a schema cannot say: a host that is not listed
    for host in (new_host(), f"{dom['host']}:80"):
        r = hit(c, "POST", "/api/v1/links", 422, json=link_body(owner, domain=host))
        assert slug(r) == "unknown-domain" and r.json()["errors"][0]["pointer"] == "/domain"
    r = send_json(c, "POST", "/api/v1/links", 422, link_body(owner, domain=3))
    assert slug(r) == "invalid-field" and r.json()["errors"][0]["pointer"] == "/domain"
    for change in ({"domain": None}, {"domain": dom["host"]}):
        r = send_json(c, "PATCH", "/api/v1/links/{id}", 422, change,
                      path=f"/api/v1/links/{plain['id']}")
        assert slug(r) == "invalid-field" and r.json()["errors"][0]["pointer"] == "/domain"
    out = send_json(c, "POST", "/api/v1/links/bulk", 200, {"create": [
        link_body(owner, domain=dom["host"]), link_body(owner, domain=new_host())]}).json()
    assert [x["status"] for x in out["results"]] == [201, 422]
    assert out["results"][0]["link"]["domain"] == dom["host"]
    assert out["results"][1]["problem"]["type"] == PROBLEM + "unknown-domain"
    # the visit's Host picks the domain (any case, with a port)
    r = visit(c, dom["host"].upper() + ":8080", code, 302)
    assert r.headers["Location"] == link["url"]
    assert visit(c, "127.0.0.1", code, 302).headers["Location"] == plain["url"]
    r = visit(c, dom["host"], "nosuchcode", 302)
    assert r.headers["Location"] == "https://example.com/nf"
    visit(c, new_host(), "nosuchcode", 404)
    # a domain no link names is deleted; a deleted link still names its domain
    hit(c, "DELETE", "/api/v1/links/{id}", 204, path=f"/api/v1/links/{link['id']}")
    r = hit(c, "DELETE", "/api/v1/domains/{id}", 409, path=f"/api/v1/domains/{dom['id']}")
    assert slug(r) == "domain-in-use" and "errors" not in r.json()
    assert dom in hit(c, "GET", "/api/v1/domains", 200).json()["data"]


def concrete(path, link_id=999999999):
    """path with {id} filled: the link's id, or, on a key or domain route, no
    key's or domain's."""
    return path.replace("{id}", str(999999999 if is_admin_route(path) else link_id))


def test_wrong_methods_answer_405_with_allow(server):
    answer = SPEC["components"]["responses"]["MethodNotAllowed"]
    for path, item in DOC["paths"].items():
        for method in ("GET", "PATCH", "OPTIONS", "PUT", "DELETE", "POST"):
            if method.lower() in item:
                continue
            r = server.request(method, concrete(path))
            expect(r, 405)
            assert slug(r) == "method-not-allowed"
            OA.check_answer(r, answer, method.lower(), f"{method} {path}")
            assert set(r.headers["Allow"].split(", ")) == {m.upper() for m in item}, path
        OA.seen_405.add(path)


def test_unknown_routes_answer_404_problems(server):
    answer = SPEC["components"]["responses"]["RouteNotFound"]
    for path in ("/api/v1", "/api/v1/nope", "/api/v1/links/1/qr/2", "/api/v1/links/1/x",
                 "/api/v1/a/b/c/d/e/f/g"):
        for method in ("GET", "POST"):
            r = server.request(method, path)
            expect(r, 404)
            assert r.json()["instance"] == path
            OA.check_answer(r, answer, method.lower(), f"{method} {path}")


def test_oversized_headers_answer_431_on_every_operation(server):
    big = {"X-Padding": "a" * 20000}
    for path, item in DOC["paths"].items():
        for method in item:
            r = server.request(method.upper(), concrete(path), headers=big)
            expect(r, 431)
            conforms(r, path)


# ------------------------------------------------------- private servers


KEY_FIELDS = {"id", "name", "prefix", "role", "user_id", "scopes", "expires_at", "created_at",
              "revoked_at", "status"}


def test_keys(linkd):
    c = linkd.start()
    owner = new_user(c)["id"]
    root = create_key(c.proc, "root", admin=True)  # from now on every request needs a key
    auth = bearer(root)
    (row,) = hit(c, "GET", "/api/v1/keys", 200, headers=auth).json()["data"]
    assert set(row) == KEY_FIELDS and row["prefix"] == root[:12]
    assert {f: row[f] for f in ("name", "role", "user_id", "scopes", "expires_at", "revoked_at",
                                "status")} == {
        "name": "root", "role": "admin", "user_id": None, "scopes": None, "expires_at": None,
        "revoked_at": None, "status": "active"}
    r = send_json(c, "POST", "/api/v1/keys", 201,
                  {"name": "ci", "user_id": owner, "scopes": ["links:write", "links:read"],
                   "expires_at": "2099-01-01T00:00:00Z"}, headers=auth)
    ci = r.json()
    assert r.headers["Location"] == f"/api/v1/keys/{ci['id']}"
    assert r.headers["Cache-Control"] == "no-store"
    assert set(ci) == KEY_FIELDS | {"key"} and ci["prefix"] == ci["key"][:12]
    assert {f: ci[f] for f in ("name", "role", "user_id", "scopes", "expires_at", "revoked_at",
                               "status")} == {
        "name": "ci", "role": "user", "user_id": owner, "scopes": ["links:read", "links:write"],
        "expires_at": "2099-01-01T00:00:00Z", "revoked_at": None, "status": "active"}
    expect(c.get("/api/v1/links", headers=bearer(ci["key"])), 200)
    ops = send_json(c, "POST", "/api/v1/keys", 201,
                    {"name": "ops", "admin": True, "scopes": ["admin"],
                     "expires_at": "2099-01-01T00:00:00+00:00"}, headers=auth).json()
    assert (ops["role"], ops["user_id"], ops["scopes"], ops["expires_at"]) == (
        "admin", None, ["admin"], "2099-01-01T00:00:00Z")
    # no Idempotency-Key here: the same request twice makes two keys
    twice = [send_json(c, "POST", "/api/v1/keys", 201, {"name": "t", "admin": True},
                       headers={**auth, "Idempotency-Key": "one"}) for _ in range(2)]
    assert all("Idempotent-Replayed" not in r.headers for r in twice)
    assert twice[0].json()["key"] != twice[1].json()["key"]
    listed = hit(c, "GET", "/api/v1/keys", 200, headers=auth).json()["data"]
    assert [k["id"] for k in listed] == sorted(k["id"] for k in listed) and len(listed) == 5
    assert listed[1] == {f: v for f, v in ci.items() if f != "key"}
    for bad, pointer in (({"admin": True}, "/name"),
                         ({"name": " ", "admin": True}, "/name"),
                         ({"name": "x" * 65, "admin": True}, "/name"),
                         ({"name": "x"}, "/user_id"),
                         ({"name": "x", "user_id": 0}, "/user_id"),
                         ({"name": "x", "admin": True, "user_id": owner}, "/user_id"),
                         ({"name": "x", "admin": "yes", "user_id": owner}, "/admin"),
                         ({"name": "x", "admin": True, "scopes": []}, "/scopes"),
                         ({"name": "x", "admin": True, "scopes": "admin"}, "/scopes"),
                         ({"name": "x", "user_id": owner, "scopes": ["admin"]}, "/scopes"),
                         ({"name": "x", "admin": True, "scopes": ["links:read", "links:delete"]},
                          "/scopes/1"),
                         ({"name": "x", "admin": True, "scopes": ["links:read,admin"]},
                          "/scopes/0"),
                         ({"name": "x", "admin": True, "expires_at": "soon"}, "/expires_at")):
        r = send_json(c, "POST", "/api/v1/keys", 422, bad, headers=auth)
        assert slug(r) == "validation-failed", (bad, r.json())
        assert pointer in [e["pointer"] for e in r.json()["errors"]], (bad, r.json())
    # refused for what a schema cannot say: a time that has passed, a time
    # without its zone
    for when in ("2020-01-01T00:00:00Z", "2099-01-01 00:00:00"):
        r = hit(c, "POST", "/api/v1/keys", 422, headers=auth,
                json={"name": "x", "admin": True, "expires_at": when})
        assert r.json()["errors"][0]["pointer"] == "/expires_at"
    # a typo must not make a key with every right of its role
    r = send_json(c, "POST", "/api/v1/keys", 422,
                  {"name": "x", "user_id": owner, "scope": ["links:read"]}, headers=auth)
    assert slug(r) == "invalid-field" and r.json()["errors"][0]["pointer"] == "/scope"
    r = send_json(c, "POST", "/api/v1/keys", 404, {"name": "x", "user_id": 999999999},
                  headers=auth)
    assert slug(r) == "user-not-found" and r.json()["errors"][0]["pointer"] == "/user_id"
    for body in (b"[]", b"{", b""):
        assert slug(hit(c, "POST", "/api/v1/keys", 400, data=body, headers=auth)) == \
            "bad-request"
    r = send_raw(c, "POST", "/api/v1/keys", 413, big_json("name"), headers=auth)
    assert r.json()["type"] == PROBLEM + "payload-too-large"
    assert len(hit(c, "GET", "/api/v1/keys", 200, headers=auth).json()["data"]) == 5, \
        "no refused request made a key"
    one = f"/api/v1/keys/{ci['id']}"
    hit(c, "DELETE", "/api/v1/keys/{id}", 204, path=one, headers=auth)
    hit(c, "DELETE", "/api/v1/keys/{id}", 204, path=one, headers=auth)
    expect(c.get("/api/v1/links", headers=bearer(ci["key"])), 401)
    gone = hit(c, "GET", "/api/v1/keys", 200, headers=auth).json()["data"][1]
    assert gone["status"] == "revoked" and gone["revoked_at"]
    for missing in ("999999999", "abc", "0"):
        r = hit(c, "DELETE", "/api/v1/keys/{id}", 404, path=f"/api/v1/keys/{missing}",
                headers=auth)
        assert slug(r) == "not-found"


def test_keys_401_403_and_scopes(linkd):
    c = linkd.start()
    u = new_user(c)
    other = new_user(c)
    link = new_link(c, u["id"])
    admin = create_key(c.proc, "admin", admin=True)
    reader = create_key(c.proc, "reader", admin=True, scopes="links:read")
    writer = create_key(c.proc, "writer", user=u["id"], scopes="links:write")
    plain = create_key(c.proc, "plain", user=u["id"])
    for path, method in OA.operations("manage", "admin"):
        where = concrete(path, link["id"])
        for headers in ({}, {"Authorization": "Bearer lnk_" + "x" * 40}):
            r = c.request(method, where, headers=headers)
            expect(r, 401)
            conforms(r, path)
        scope = DOC["paths"][path][method.lower()]["x-linkd-scope"]
        wrong = writer if scope == "links:read" else reader
        r = c.request(method, where, headers={"X-API-Key": wrong})
        expect(r, 403)
        assert method == "HEAD" or r.json()["detail"] == f"this key lacks the scope {scope}"
        conforms(r, path)
        if scope == "admin":  # a user key with every scope of its role
            r = c.request(method, where, headers=bearer(plain))
            expect(r, 403)
            assert method == "HEAD" or "needs an admin key" in r.json()["detail"]
            conforms(r, path)
        if method != "DELETE":  # the right key gets past the guard (what follows may refuse)
            r = c.request(method, where, headers={"Authorization": f"Bearer {admin}"})
            assert r.status_code not in (401, 403), describe(r)
            conforms(r, path)
    r = hit(c, "POST", "/api/v1/links", 404, json=link_body(other["id"]),
            headers={"Authorization": f"Bearer {writer}"})
    assert slug(r) == "user-not-found"


def test_protected_mode_403(linkd):
    c = linkd.start(env={"LINKD_TRUSTED_PROXIES": "127.0.0.1"})
    for path, method in OA.operations("manage", "admin"):
        r = c.request(method, concrete(path), headers={"X-Forwarded-For": "198.51.100.9"})
        expect(r, 403)
        conforms(r, path)


def test_rate_limits_429(linkd):
    budgets = {f"LINKD_RATE_{kind}{part}": "1" for kind in ("READ", "WRITE")
               for part in ("", "_BURST")}
    c = linkd.start(env=budgets)
    for path, method in OA.operations("manage", "admin"):
        for _ in range(5):
            r = c.request(method, concrete(path))
            conforms(r, path)
            if r.status_code == 429:
                break
        expect(r, 429)
        assert method == "HEAD" or slug(r) == "rate-limited"
    for path, method in OA.operations("public"):
        for _ in range(3):
            assert c.request(method, path).status_code == 200, f"{method} {path} is limited"


def test_store_failure_503(linkd):
    c = linkd.start()
    owner = new_user(c)["id"]
    changed, deleted = new_link(c, owner), new_link(c, owner)
    backend.take_away(c.proc.db_path)  # writes are refused until it is back
    deadline = time.monotonic() + 5
    while c.get("/health").status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    r = hit(c, "POST", "/api/v1/links", 503, json=link_body(owner))
    assert slug(r) == "unavailable"
    hit(c, "PATCH", "/api/v1/links/{id}", 503, path=f"/api/v1/links/{changed['id']}",
        json={"title": "x"})
    hit(c, "DELETE", "/api/v1/links/{id}", 503, path=f"/api/v1/links/{deleted['id']}")
    # Bulk items fail one by one, inside a 200, while the store still reads
    # (SQLite); a store that cannot be read either (PostgreSQL) fails the
    # request's first read, the key check, with 503.
    r = conforms(c.post("/api/v1/links/bulk", json={"create": [link_body(owner)]}),
                 "/api/v1/links/bulk")
    item = r.json()["results"][0] if r.status_code == 200 else r.json()
    assert r.status_code == (503 if backend.IS_PG else 200), describe(r)
    assert item["status"] == 503, describe(r)
    assert (item.get("problem") or item)["type"] == PROBLEM + "unavailable"


def test_admin_routes_store_failure_503(linkd):
    c = linkd.start()
    owner = new_user(c)["id"]
    auth = bearer(create_key(c.proc, "root", admin=True))
    made = send_json(c, "POST", "/api/v1/keys", 201, {"name": "u", "user_id": owner},
                     headers=auth).json()
    dom = send_json(c, "POST", "/api/v1/domains", 201, {"host": new_host()},
                    headers=auth).json()
    backend.take_away(c.proc.db_path)
    deadline = time.monotonic() + 5
    while c.get("/health").status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    r = hit(c, "POST", "/api/v1/keys", 503, json={"name": "v", "admin": True}, headers=auth)
    assert slug(r) == "unavailable"
    r = hit(c, "DELETE", "/api/v1/keys/{id}", 503, path=f"/api/v1/keys/{made['id']}",
            headers=auth)
    assert slug(r) == "unavailable"
    r = hit(c, "POST", "/api/v1/domains", 503, json={"host": new_host()}, headers=auth)
    assert slug(r) == "unavailable"
    one = f"/api/v1/domains/{dom['id']}"
    r = hit(c, "PATCH", "/api/v1/domains/{id}", 503, path=one, json={"root_url": None},
            headers=auth)
    assert slug(r) == "unavailable"
    r = hit(c, "DELETE", "/api/v1/domains/{id}", 503, path=one, headers=auth)
    assert slug(r) == "unavailable"


def test_export_over_the_row_limit_400(linkd):
    c = linkd.start(env={"LINKD_LIST_MAX_ROWS": "1"})
    owner = new_user(c)["id"]
    new_link(c, owner)
    new_link(c, owner)
    r = hit(c, "GET", "/api/v1/links/export", 400, params={"user_id": owner})
    assert slug(r) == "too-many-rows"


# ------------------------------------------------ the tests can fail


def test_a_wrong_document_fails(server):
    """The checks above can fail: each change below makes the document wrong
    about real answers that the document as it is accepts."""
    link = new_link(server, new_user(server)["id"])
    found = server.get(f"/api/v1/links/{link['id']}")
    missing = server.get("/api/v1/links/999999999")
    conforms(found, "/api/v1/links/{id}", spec=SPEC)
    conforms(missing, "/api/v1/links/{id}", spec=SPEC)

    def broken(change):
        doc = copy.deepcopy(DOC)
        change(doc["components"]["schemas"], doc["paths"]["/api/v1/links/{id}"]["get"]["responses"])
        return deref(doc)

    wrong_about_found = [
        broken(lambda s, _: s["Time"].update(pattern=r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")),
        broken(lambda s, _: s["Link"]["properties"].pop("split")),
        broken(lambda s, _: s["Link"]["properties"].pop("domain")),
        broken(lambda s, _: s["Link"]["properties"]["domain"].update(type="string")),
        broken(lambda s, _: s["Link"]["properties"].update(tags={"type": "object"})),
        broken(lambda _, a: a["200"]["headers"].pop("ETag")),
        broken(lambda _, a: a["200"]["content"].update(
            {"application/json": {"schema": {"type": "array"}}})),
    ]
    for spec in wrong_about_found:
        with pytest.raises(AssertionError):
            conforms(found, "/api/v1/links/{id}", spec=spec)
    wrong_about_missing = [
        broken(lambda _, a: a.pop("404")),
        broken(lambda s, _: s["Problem"]["required"].append("errors")),
        broken(lambda _, a: a["404"]["content"]["application/problem+json"]["schema"]["allOf"][1][
            "properties"]["type"].update(enum=[PROBLEM + "gone"])),
    ]
    for spec in wrong_about_missing:
        with pytest.raises(AssertionError):
            conforms(missing, "/api/v1/links/{id}", spec=spec)


# ------------------------------------------------------------ coverage


def undrivable(path, method, status):
    """Store failures a black-box test cannot cause: an internal error, and a
    store that cannot be read (a removed file still reads); bulk and import
    only read the store themselves (the key lookup) before their items, which
    fail one by one inside a 200."""
    return status == "500" or (status == "503" and (
        method in ("get", "head") or path in ("/api/v1/links/bulk", "/api/v1/links/import")))


def test_every_documented_answer_was_seen():
    if BASE_URL:
        pytest.skip("the private servers this needs are not started against an external server")
    others = {n for n in globals() if n.startswith("test_")} - {
        "test_every_documented_answer_was_seen"}
    if not others <= _RAN:
        pytest.skip("only part of this file ran")
    documented = OA.documented_triples()
    assert OA.seen <= documented
    missing = sorted(t for t in documented - OA.seen if not undrivable(*t))
    assert not missing, f"{len(missing)} documented answers were never provoked: {missing[:20]}"
    assert OA.seen_405 == set(DOC["paths"])
    print(f"\nopenapi-v1: {len(OA.seen)} of {len(documented)} documented (path, method, status) "
          f"validated against real answers; "
          f"{sum(1 for t in documented if undrivable(*t))} store failures not provoked")
