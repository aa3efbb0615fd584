# SPDX-License-Identifier: MIT
"""/api/v1 many links at once: bulk create/update/delete, import from other
shorteners, export as CSV and JSON, and QR codes (docs/api-v1.md)."""

import csv
import io
import json
import shutil
import subprocess

import pytest

from apiclient import expect, expect_json, uniq
from v1client import check_link, expect_problem, link_body, links_of, new_link, owner


@pytest.fixture(scope="module")
def user(server):
    return owner(server)



# ---------------------------------------------------------------- bulk


def test_bulk_gives_one_result_per_item_and_failures_undo_nothing_else(server):
    u = owner(server)
    keep = new_link(server, u["id"], title="old")
    gone = new_link(server, u["id"])
    body = {
        "create": [link_body(u["id"], title="b1"), link_body(u["id"], url="ftp://bad"),
                   link_body(u["id"], tags=["x"], redirect_type=301)],
        "update": [{"id": keep["id"], "title": "new", "notes": "n"},
                   {"id": 999999999999, "title": "nobody"}],
        "delete": [gone["id"]],
    }
    out = expect_json(server.post("/api/v1/links/bulk", json=body), 200)
    assert out["succeeded"] == 4 and out["failed"] == 2
    res = out["results"]
    assert [(x["op"], x["status"]) for x in res] == [
        ("create", 201), ("create", 422), ("create", 201), ("update", 200), ("update", 404),
        ("delete", 204)]
    assert check_link(res[0]["link"])["title"] == "b1"
    assert res[1]["problem"]["errors"][0]["pointer"] == "/create/1/url"
    assert res[1]["problem"]["type"] == "urn:linkd:problem:validation-failed"
    assert res[2]["link"]["redirect_type"] == 301 and res[2]["link"]["tags"] == ["x"]
    assert res[3]["link"]["title"] == "new" and res[3]["link"]["notes"] == "n"
    assert res[4]["id"] == 999999999999 and res[4]["problem"]["status"] == 404
    assert res[5] == {"op": "delete", "status": 204, "id": gone["id"]}
    now = {x["id"]: x for x in links_of(server, u["id"])}
    assert now[res[0]["link"]["id"]] == res[0]["link"]
    assert now[keep["id"]]["title"] == "new"
    assert now[gone["id"]]["active"] is False
    assert len(now) == 4, "the refused create wrote nothing"


def test_bulk_of_a_thousand_creates(server):
    u = owner(server)
    body = {"create": [link_body(u["id"], title=f"n{i}") for i in range(1000)]}
    out = expect_json(server.post("/api/v1/links/bulk", json=body), 200)
    assert out["succeeded"] == 1000 and out["failed"] == 0
    made = links_of(server, u["id"])
    assert len(made) == 1000
    assert sorted(x["title"] for x in made) == sorted(f"n{i}" for i in range(1000))
    assert len({x["code"] for x in made}) == 1000


@pytest.mark.parametrize("body,status,pointer", [
    ({"create": [{}] * 1001}, 413, None),
    ({}, 422, None),
    ({"create": {}}, 422, "/create"),
    ({"upsert": []}, 422, "/upsert"),
    ({"update": [{"title": "x"}]}, 422, "/update/0/id"),
    ({"delete": ["x"]}, 422, "/delete/0"),
    ({"update": [{"id": 5, "title": "a"}], "delete": [5]}, 422, "/delete/0"),
])
def test_bad_bulk_request_is_refused_whole(server, user, body, status, pointer):
    before = links_of(server, user["id"])
    expect_problem(server.post("/api/v1/links/bulk", json=body), status, None, pointer)
    assert links_of(server, user["id"]) == before


# ---------------------------------------------------------------- import


SHLINK_CSV = (
    "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n"
    "2023-05-01T10:20:30+02:00,s.test,{c1},https://s.test/{c1},https://example.com/spring?x=1,"
    "Spring promo,spring| Mail ,12\r\n"
    "2023-06-02T08:00:00+00:00,s.test,ab,https://s.test/ab,https://example.com/a,,,0\r\n"
    "2023-06-04T08:00:00+00:00,s.test,{c2},https://s.test/{c2},https://example.com/b,B,,0\r\n")


def test_import_a_shlink_csv(server):
    u = owner(server)
    c1, c2 = uniq("s")[:12], uniq("s")[:12]
    r = server.post("/api/v1/links/import", params={"format": "shlink-csv", "user_id": u["id"]},
                    data=SHLINK_CSV.format(c1=c1, c2=c2).encode(),
                    headers={"Content-Type": "text/csv"})
    out = expect_json(r, 200)
    assert out["succeeded"] == 2 and out["failed"] == 0
    assert out["refused_rows"] == [{"row": 2, "field": "shortCode",
                                    "detail": out["refused_rows"][0]["detail"]}]
    a, b = (x["link"] for x in out["results"])
    assert (a["code"], a["url"], a["title"], a["tags"]) == (
        c1, "https://example.com/spring?x=1", "Spring promo", ["spring", "mail"])
    assert (b["code"], b["url"], b["title"]) == (c2, "https://example.com/b", "B")
    assert a["user_id"] == u["id"]
    assert expect(server.get("/" + c1), 302).headers["Location"] == a["url"]


def test_import_of_a_code_in_use_fails_that_row_only(server, user):
    taken = new_link(server, user["id"])
    doc = json.dumps([{"keyword": taken["code"], "url": "https://example.com/one"},
                      {"keyword": uniq("y")[:12], "url": "https://example.com/two"}])
    out = expect_json(server.post("/api/v1/links/import",
                                  params={"format": "yourls-json", "user_id": user["id"]},
                                  data=doc), 200)
    assert [x["status"] for x in out["results"]] == [409, 201]
    assert out["results"][0]["problem"]["type"] == "urn:linkd:problem:code-taken"


@pytest.mark.parametrize("params,data,status,slug", [
    ({"user_id": 1}, b"a,b\n", 400, "invalid-parameter"),
    ({"format": "bitly", "user_id": 1}, b"[]", 422, "unreadable-import"),
    ({"format": "shlink-json"}, b"[]", 400, "invalid-parameter"),
    ({"format": "shlink-json", "user_id": 1}, b"{not json", 422, "unreadable-import"),
])
def test_bad_import_is_a_problem(server, params, data, status, slug):
    expect_problem(server.post("/api/v1/links/import", params=params, data=data), status, slug)


# ---------------------------------------------------------------- export


def test_export_csv_and_json_hold_every_link_as_the_api_shows_it(server):
    u = owner(server)
    made = [new_link(server, u["id"], title="=cmd()", tags=["a", "b"], notes="n"),
            new_link(server, u["id"], redirect_type=308, max_clicks=4)]
    js = server.get("/api/v1/links/export", params={"format": "json", "user_id": u["id"]})
    assert expect_json(js, 200) == made
    assert "links.json" in js.headers["Content-Disposition"]
    r = expect(server.get("/api/v1/links/export", params={"user_id": u["id"]}), 200)
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["id"]) for x in rows] == [m["id"] for m in made]
    assert rows[0]["title"] == "'=cmd()", "a formula is defused"
    assert rows[0]["tags"] == "a|b" and rows[0]["code"] == made[0]["code"]
    assert rows[1]["redirect_type"] == "308" and rows[1]["max_clicks"] == "4"
    assert rows[1]["url"] == made[1]["url"]


def test_export_filters_by_tag(server):
    u = owner(server)
    a = new_link(server, u["id"], tags=["keep"])
    new_link(server, u["id"])
    out = expect_json(server.get("/api/v1/links/export",
                                 params={"format": "json", "user_id": u["id"], "tag": "keep"}),
                      200)
    assert [x["id"] for x in out] == [a["id"]]


# ---------------------------------------------------------------- QR codes


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="needs zbar-tools")
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_code_reads_back_as_the_short_url(server, user, tmp_path, fmt):
    link = new_link(server, user["id"])
    r = expect(server.get(f"/api/v1/links/{link['id']}/qr", params={"format": fmt,
                                                                      "size": 300}), 200)
    assert r.headers["Content-Type"] == ("image/png" if fmt == "png" else "image/svg+xml")
    assert r.headers["Cache-Control"] == "private, max-age=86400"
    if fmt == "svg":
        assert r.text.startswith("<svg") or r.text.startswith("<?xml")
        assert expect(server.get(f"/api/v1/links/{link['id']}/qr", params={"format": "svg",
                                                                            "size": 300}),
                      200).content == r.content, "the same SVG every time"
        return
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    f = tmp_path / "qr.png"
    f.write_bytes(r.content)
    got = subprocess.run(["zbarimg", "--raw", "-q", str(f)], capture_output=True, text=True,
                         timeout=30)
    assert got.stdout.strip() == link["short_url"]
    again = server.get(f"/api/v1/links/{link['id']}/qr",
                       params={"format": fmt, "size": 300},
                       headers={"If-None-Match": r.headers["ETag"]})
    expect(again, 304)


@pytest.mark.parametrize("params,pointer", [
    ({"format": "gif"}, "/query/format"), ({"size": 63}, "/query/size"),
    ({"size": 2049}, "/query/size"), ({"size": "big"}, "/query/size"),
    ({"size": 64}, "/query/size")])
def test_bad_qr_parameters_are_problems(server, user, params, pointer):
    link = new_link(server, user["id"])
    expect_problem(server.get(f"/api/v1/links/{link['id']}/qr", params=params), 400,
                   "invalid-parameter", pointer)


def test_qr_of_an_unknown_link_is_404(server):
    expect_problem(server.get("/api/v1/links/999999999999/qr"), 404, "not-found")
