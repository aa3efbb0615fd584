# SPDX-License-Identifier: MIT
"""The bulk routes (CONTRACT §4.17, docs/api.md "Bulk"): POST /urls/bulk and
POST /events/bulk (JSON array or multipart CSV), and POST /users/bulk's JSON
variant. Rows are applied one by one: the answer says what became of each."""

import pytest

from apiclient import (EVENT_KEYS, URL_KEYS, check_recent, check_url, expect, expect_error,
                       expect_json, expect_list, list_events, new_url, new_user, project, uniq)


@pytest.fixture(scope="module")
def owner(server):
    return new_user(server)


def post_rows(c, path, rows):
    return c.post(path, json=rows)


def upload(c, path, text):
    return c.post(path, files={"file": ("rows.csv", text.encode(), "text/csv")})


def answer(r):
    body = expect_json(r, 201)
    assert set(body) == {"created", "updated", "failed", "imported", "count", "skipped",
                         "results"}, body
    assert body["imported"] == body["count"] == body["created"] + body["updated"]
    assert body["skipped"] == body["failed"]
    assert body["created"] + body["updated"] + body["failed"] == len(body["results"])
    return body


# ------------------------------------------------------------------ /urls/bulk


def test_urls_bulk_json_creates_each_row_like_post_urls(server, owner):
    targets = [f"https://example.com/{uniq('b')}" for _ in range(3)]
    code = uniq("bc")[:16]
    rows = [{"user_id": owner["id"], "original_url": targets[0], "title": "one"},
            {"user_id": owner["id"], "original_url": targets[1], "short_code": code,
             "is_active": False},
            {"user_id": owner["id"], "original_url": targets[2], "title": None}]
    body = answer(post_rows(server, "/urls/bulk", rows))
    assert (body["created"], body["updated"], body["failed"]) == (3, 0, 0)
    res = body["results"]
    assert [r["row"] for r in res] == [1, 2, 3] and all(r["status"] == 201 for r in res)
    assert res[1]["short_code"] == code
    for r, row in zip(res, rows):
        got = check_url(expect_json(server.get(f"/urls/{r['id']}"), 200))
        assert got["short_code"] == r["short_code"]
        assert got["original_url"] == row["original_url"]
        assert got["title"] == row.get("title")
        assert got["is_active"] == row.get("is_active", True)
        check_recent(got["created_at"])
        created = list_events(server, url_id=r["id"], event_type="created")
        assert [e["details"] for e in created] == [{"short_code": got["short_code"],
                                                   "original_url": got["original_url"]}]
    expect(server.get(f"/{res[0]['short_code']}"), 302)
    expect_error(server.get(f"/{code}"), 404)


def test_urls_bulk_reports_each_bad_row_and_writes_the_rest(server, owner):
    taken = new_url(server, owner["id"])
    good = f"https://example.com/{uniq('g')}"
    rows = [{"user_id": owner["id"], "original_url": "hello"},
            {"user_id": owner["id"], "original_url": good},
            {"user_id": 987654321, "original_url": good},
            {"user_id": owner["id"], "original_url": good, "short_code": taken["short_code"]},
            "not an object",
            {"user_id": "1", "original_url": good, "title": 3},
            {"user_id": owner["id"], "original_url": good, "short_code": "health"}]
    body = answer(post_rows(server, "/urls/bulk", {"urls": rows}))
    assert (body["created"], body["failed"]) == (1, 6)
    res = body["results"]
    assert [r["status"] for r in res] == [422, 201, 404, 409, 400, 422, 422]
    assert res[0]["error"] == "validation failed" and "original_url" in res[0]["details"]
    assert res[2]["error"] == "user not found"
    assert res[3]["details"] == {"short_code": "taken"}
    assert res[4]["error"] == "a row must be a JSON object"
    assert set(res[5]["details"]) == {"user_id", "title"}
    assert "short_code" in res[6]["details"]
    mine = [u for u in expect_list(server.get(f"/urls?user_id={owner['id']}"))
            if u["original_url"] == good]
    assert [u["id"] for u in mine] == [res[1]["id"]], "only the good row was written"


def test_urls_bulk_csv_upload(server, owner):
    a, b = (f"https://example.com/{uniq('csv')}" for _ in range(2))
    text = ("user_id,original_url,title,is_active,note\n"
            f"{owner['id']},{a},\"T, one\",True,x\n"
            f"{owner['id']},not-a-url,,,\n"
            f"{owner['id']},{b},,false,\n"
            f"abc,{b},,,\n")
    body = answer(upload(server, "/urls/bulk", text))
    res = body["results"]
    assert [(r["line"], r["status"]) for r in res] == [(2, 201), (3, 422), (4, 201), (5, 422)]
    assert res[3]["details"] == {"user_id": "must be an integer"}
    first = expect_json(server.get(f"/urls/{res[0]['id']}"), 200)
    assert project(first, ("original_url", "title", "is_active")) == {
        "original_url": a, "title": "T, one", "is_active": True}
    second = expect_json(server.get(f"/urls/{res[2]['id']}"), 200)
    assert (second["title"], second["is_active"]) == (None, False)


def test_urls_bulk_reuse_per_row(server, owner):
    target = f"https://example.com/{uniq('ru')}"
    first = new_url(server, owner["id"], target)
    body = answer(post_rows(server, "/urls/bulk", [
        {"user_id": owner["id"], "original_url": target, "reuse": True},
        {"user_id": owner["id"], "original_url": target}]))
    res = body["results"]
    assert (res[0]["status"], res[0]["id"]) == (200, first["id"])
    assert res[1]["status"] == 201 and res[1]["id"] != first["id"]
    assert (body["created"], body["updated"]) == (1, 1)


def test_urls_bulk_by_id_upserts_and_forgets_the_old_code(server, owner):
    url = new_url(server, owner["id"])
    expect(server.get(f"/{url['short_code']}"), 302)  # now cached
    new_code = uniq("nc")[:12]
    rows = [{"id": url["id"], "user_id": owner["id"], "short_code": new_code,
             "original_url": "https://example.com/moved", "title": "moved",
             "is_active": True, "created_at": "2024-01-02 03:04:05",
             "updated_at": "2024-02-03T04:05:06"},
            {"id": url["id"] + 100000, "user_id": owner["id"], "original_url":
             "https://example.com/x"}]
    body = answer(post_rows(server, "/urls/bulk", rows))
    res = body["results"]
    assert (res[0]["status"], res[0]["id"], res[0]["short_code"]) == (200, url["id"], new_code)
    assert res[1]["status"] == 422 and "short_code" in res[1]["details"]
    got = expect_json(server.get(f"/urls/{url['id']}"), 200)
    assert project(got, URL_KEYS) == dict(
        url, short_code=new_code, original_url="https://example.com/moved", title="moved",
        created_at="2024-01-02T03:04:05", updated_at="2024-02-03T04:05:06")
    expect_error(server.get(f"/{url['short_code']}"), 404)
    r = expect(server.get(f"/{new_code}"), 302)
    assert r.headers["Location"] == "https://example.com/moved"


@pytest.mark.parametrize("data,ctype", [
    (b"", "application/json"), (b"{}", "application/json"), (b'{"urls": 3}', "application/json"),
    (b"[1,", "application/json"), (b"null", "application/json"), (b"user_id,original_url\n",
                                                                   "text/csv")])
def test_urls_bulk_malformed_body_is_400(server, data, ctype):
    expect_error(server.post("/urls/bulk", data=data, headers={"Content-Type": ctype}), 400)


@pytest.mark.parametrize("text", ["", "user_id,original_url\n1,\"unterminated\n",
                                  "user_id\n\xff\n"])
def test_urls_bulk_malformed_csv_is_400(server, text):
    data = text.encode("latin-1")
    expect_error(server.post("/urls/bulk", files={"file": ("u.csv", data, "text/csv")}), 400)


def test_urls_bulk_empty_array_is_201_with_nothing(server):
    body = answer(post_rows(server, "/urls/bulk", []))
    assert body["results"] == [] and body["created"] == 0


def test_bulk_row_limit_is_413_and_writes_nothing(linkd):
    c = linkd.start(env={"LINKD_CSV_MAX_ROWS": 2})
    u = new_user(c)
    rows = [{"user_id": u["id"], "original_url": f"https://example.com/{i}"} for i in range(3)]
    body = expect_error(c.post("/urls/bulk", json=rows), 413)
    assert "at most 2" in body["error"]
    text = "user_id,original_url\n" + "".join(f"{u['id']},https://e.com/{i}\n" for i in range(3))
    expect_error(upload(c, "/urls/bulk", text), 413)
    expect_error(c.post("/events/bulk", json=[{"url_id": 1, "event_type": "x"}] * 3), 413)
    expect_error(c.post("/users/bulk", json=[{"username": "a", "email": "a@b.co"}] * 3), 413)
    assert expect_list(c.get("/urls")) == []
    answer(c.post("/urls/bulk", json=rows[:2]))


def test_bulk_wrong_method_is_405(server):
    for path in ("/urls/bulk", "/events/bulk", "/users/bulk"):
        r = server.get(path)
        expect_error(r, 405)
        assert r.headers["Allow"] == "POST"


# ------------------------------------------------------------------ /events/bulk


def test_events_bulk_creates_each_row_like_post_events(server, owner):
    url = new_url(server, owner["id"])
    other = new_user(server)
    rows = [{"url_id": url["id"], "event_type": "share", "details": {"via": "mail", "n": 1.5}},
            {"url_id": url["id"], "event_type": "click", "user_id": other["id"],
             "timestamp": "2025-05-06 07:08:09"},
            {"url_id": 987654321, "event_type": "share"},
            {"url_id": url["id"], "event_type": "share", "details": "x"},
            {"url_id": url["id"], "event_type": "share", "user_id": 987654321},
            {"url_id": url["id"]}]
    body = answer(post_rows(server, "/events/bulk", rows))
    res = body["results"]
    assert [r["status"] for r in res] == [201, 201, 404, 422, 404, 422]
    assert res[2]["error"] == "url not found" and res[4]["error"] == "user not found"
    assert res[3]["details"] == {"details": "must be an object"}
    assert res[5]["details"] == {"event_type": "is required"}
    e1 = expect_json(server.get(f"/events/{res[0]['id']}"), 200)
    assert project(e1, ("url_id", "user_id", "event_type", "details")) == {
        "url_id": url["id"], "user_id": owner["id"], "event_type": "share",
        "details": {"via": "mail", "n": 1.5}}
    check_recent(e1["timestamp"])
    e2 = expect_json(server.get(f"/events/{res[1]['id']}"), 200)
    assert project(e2, ("user_id", "event_type", "timestamp", "details")) == {
        "user_id": other["id"], "event_type": "click", "timestamp": "2025-05-06T07:08:09",
        "details": {}}
    stats = expect_json(server.get(f"/urls/{url['id']}/stats"), 200)
    assert stats["clicks"] == 1 and stats["daily"] == [{"date": "2025-05-06", "clicks": 1}]


def test_events_bulk_csv_in_the_seed_format_upserts_by_id(server, owner):
    url = new_url(server, owner["id"])
    ev = expect_json(server.post("/events", json={"url_id": url["id"],
                                                  "event_type": "share"}), 201)
    text = ("id,url_id,user_id,event_type,timestamp,details\n"
            f"{ev['id']},{url['id']},{owner['id']},updated,2024-01-01 00:00:00,"
            "\"{\"\"field\"\":\"\"title\"\",\"\"new_value\"\":\"\"x\"\"}\"\n"
            f",{url['id']},,note,,\n")
    body = answer(upload(server, "/events/bulk", text))
    res = body["results"]
    assert [(r["line"], r["status"], r["id"]) for r in res][0] == (2, 200, ev["id"])
    assert res[1]["status"] == 201
    got = expect_json(server.get(f"/events/{ev['id']}"), 200)
    assert project(got, EVENT_KEYS) == {"id": ev["id"], "url_id": url["id"],
                                        "user_id": owner["id"], "event_type": "updated",
                                        "timestamp": "2024-01-01T00:00:00",
                                        "details": {"field": "title", "new_value": "x"}}


# ------------------------------------------------------------- /users/bulk (JSON)


def test_users_bulk_json_rows(server):
    taken = new_user(server)
    n1, n2 = uniq("uj"), uniq("uj")
    rows = [{"username": n1, "email": f"{n1}@example.com"},
            {"username": taken["username"], "email": f"{n2}@example.com"},
            {"username": n2, "email": "not-mail"},
            {"username": n2},
            7,
            {"id": taken["id"], "username": n2, "email": f"{n2}@example.com",
             "created_at": "2024-01-01 00:00:00"}]
    body = answer(post_rows(server, "/users/bulk", rows))
    res = body["results"]
    assert [r["status"] for r in res] == [201, 409, 422, 422, 400, 200]
    assert res[1]["details"] == {"username": "taken"}
    assert res[2]["details"] == {"email": "must look like local@domain.tld"}
    assert res[3]["details"] == {"email": "is required"}
    assert expect_json(server.get(f"/users/{res[0]['id']}"), 200)["username"] == n1
    assert expect_json(server.get(f"/users/{taken['id']}"), 200) == {
        "id": taken["id"], "username": n2, "email": f"{n2}@example.com",
        "created_at": "2024-01-01T00:00:00"}


def test_users_bulk_csv_reports_lines(server):
    good, bad = uniq("ul"), uniq("ul")
    text = f"username,email\n{good},{good}@example.com\n{bad},nomail\n,{bad}@example.com\n"
    body = answer(upload(server, "/users/bulk", text))
    res = body["results"]
    assert [(r["line"], r["status"]) for r in res] == [(2, 201), (3, 422), (4, 422)]
    assert res[1]["details"] == {"email": "e-mail has no '@'"}
    assert res[2]["details"] == {"username": "empty"}
