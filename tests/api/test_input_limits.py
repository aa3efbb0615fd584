# SPDX-License-Identifier: MIT
"""Input that would mislead or break the service (docs/security.md): misleading
destinations, ids past 2^53 - 1, names with control or bidi characters, and
numbers in event details that must come back as they were sent. Each rule is
checked on every path that takes the input: JSON bodies, query strings, path
ids, POST /users/bulk and `linkd import`."""

import json
import math
import re

import pytest

import backend
from apiclient import (BASE_URL, expect_error, expect_json, new_url, new_user, uniq)
from linkdproc import db_url, linkd_env, run_linkd

process_level = pytest.mark.skipif(bool(BASE_URL),
                                   reason="process-level test; LNK_TEST_BASE_URL set")


@pytest.fixture(scope="module")
def owner(server):
    return new_user(server)


def expect_invalid(r, field):
    """422 "validation failed" whose details name field (and only it)."""
    body = expect_error(r, 422)
    assert body["error"] == "validation failed", body
    assert isinstance(body.get("details"), dict), body
    assert list(body["details"]) == [field], body
    assert isinstance(body["details"][field], str) and body["details"][field], body
    return body["details"][field]


# ---------------------------------------------------------------- helpers: `linkd import`

USERS_HEADER = "id,username,email,created_at\n"
URLS_HEADER = "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n"
EVENTS_HEADER = "id,url_id,user_id,event_type,timestamp,details\n"
TS = "2024-05-06 07:08:09"


def seed_dir(tmp_path, users=None, urls=None, events=None):
    """A seed directory with one user and one url unless told otherwise."""
    d = tmp_path / uniq("seed")
    d.mkdir()
    (d / "users.csv").write_text(
        USERS_HEADER + (users if users is not None else f"1,seeder,seeder@example.com,{TS}\n"),
        encoding="utf-8")
    (d / "urls.csv").write_text(
        URLS_HEADER + (urls if urls is not None
                       else f"1,1,AbC123,https://example.com/a,Title,True,{TS},{TS}\n"),
        encoding="utf-8")
    (d / "events.csv").write_text(EVENTS_HEADER + (events or ""), encoding="utf-8")
    return d


def run_import(tmp_path, d):
    return run_linkd(["import", str(d)], env=linkd_env(DATABASE_URL=db_url(tmp_path / "i.db")))


def expect_import_error(r, fname, line_no, column):
    """`linkd import` failed with one line naming file, line and column."""
    assert r.returncode == 1, f"exit {r.returncode}; stderr: {r.stderr!r}"
    msg = r.stderr.strip()
    assert len(msg.splitlines()) == 1, msg
    assert fname in msg and re.search(rf"\bline {line_no}\b", msg), msg
    assert f"({column})" in msg, msg
    return msg


# ---------------------------------------------------------------- destinations

MISLEADING_URLS = [
    ("https://good.com@evil.com/", "user information"),
    ("http://@evil.com/", "user information"),
    ("https://user:pw@example.com/", "user information"),
    ("http://example.com:0/", "port"),
    ("https://.../", "host name"),
    ("https://-.-/", "host name"),
    ("https://a_b.example.com/", "host name"),
    ("https://1/", "number"),
    ("https://1.2.3/", "number"),
    ("https://0x7f000001/", "number"),
    ("https://%65vil.com/", "percent-encoded"),
    ("http://[v1.fe]/", "IP address"),
]

TRUSTWORTHY_URLS = [
    "http://127.0.0.1:8080/",
    "http://[::1]/",
    "http://[2001:db8::1]:8443/x",
    "https://xn--bcher-kva.example/buch?x=1",
    "https://sub-domain.example.co.uk/a",
    "https://example.com./fqdn",
    "http://localhost/",
]


@pytest.mark.parametrize("url,word", MISLEADING_URLS, ids=[u for u, _ in MISLEADING_URLS])
def test_create_url_refuses_misleading_destination(server, owner, url, word):
    reason = expect_invalid(server.post("/urls", json={"user_id": owner["id"],
                                                       "original_url": url}), "original_url")
    assert word in reason, reason


@pytest.mark.parametrize("url,word", MISLEADING_URLS, ids=[u for u, _ in MISLEADING_URLS])
def test_update_url_refuses_misleading_destination(server, owner, url, word):
    link = new_url(server, owner["id"])
    reason = expect_invalid(server.put(f"/urls/{link['id']}", json={"original_url": url}),
                            "original_url")
    assert word in reason, reason
    got = expect_json(server.get(f"/urls/{link['id']}"), 200)
    assert got["original_url"] == link["original_url"], got


@pytest.mark.parametrize("url", TRUSTWORTHY_URLS)
def test_ip_literals_and_punycode_hosts_still_redirect(server, owner, url):
    link = new_url(server, owner["id"], original_url=url)
    assert link["original_url"] == url
    r = server.get("/" + link["short_code"])
    assert r.status_code == 302 and r.headers["Location"] == url, r.status_code


@process_level
def test_import_refuses_misleading_destination_naming_line_and_column(tmp_path):
    urls = (f"1,1,AbC123,https://example.com/a,Title,True,{TS},{TS}\n"
            f"2,1,AbC124,https://good.com@evil.com/,Title,True,{TS},{TS}\n")
    msg = expect_import_error(run_import(tmp_path, seed_dir(tmp_path, urls=urls)), "urls.csv", 3,
                              "original_url")
    assert "user information" in msg, msg


# ---------------------------------------------------------------- numbers in event details

# Sent as JSON text; each must come back as the same number (the same float,
# sign of zero included, or the same integer).
DETAIL_NUMBERS = {
    "price": "1234567890.5", "tenth": "0.1", "sum": "0.30000000000000004", "huge": "1e300",
    "tiny": "5e-324", "max": "1.7976931348623157e308", "neg_zero": "-0.0", "pi": "3.141592653589793",
    "hundred": "100.0", "big_int": "9007199254740993", "max_int": "9223372036854775807",
    "min_int": "-9223372036854775808", "nested": '{"list":[0.1,2.5e-8,-7.25]}',
}
DETAILS_TEXT = "{" + ",".join(f'"{k}":{v}' for k, v in DETAIL_NUMBERS.items()) + "}"


def same_numbers(got, sent):
    """Equal values, the same types, and the same sign on every zero."""
    if isinstance(sent, dict):
        return isinstance(got, dict) and got.keys() == sent.keys() and all(
            same_numbers(got[k], sent[k]) for k in sent)
    if isinstance(sent, list):
        return isinstance(got, list) and len(got) == len(sent) and all(
            same_numbers(g, s) for g, s in zip(got, sent))
    if isinstance(sent, float):
        return type(got) is float and got == sent and math.copysign(1, got) == math.copysign(1, sent)
    return type(got) is type(sent) and got == sent


def test_event_details_numbers_round_trip(server, owner):
    link = new_url(server, owner["id"])
    sent = json.loads(DETAILS_TEXT)
    body = '{"url_id":%d,"event_type":"measure","details":%s}' % (link["id"], DETAILS_TEXT)
    r = server.post("/events", data=body, headers={"Content-Type": "application/json"})
    created = expect_json(r, 201)
    assert same_numbers(created["details"], sent), created["details"]
    assert '"price":1234567890.5' in r.text and '"tenth":0.1' in r.text, r.text
    (listed,) = [e for e in expect_json(server.get("/events", params={"url_id": link["id"]}), 200)
                 if e["event_type"] == "measure"]
    assert same_numbers(listed["details"], sent), listed["details"]


def test_event_details_number_past_64_bits_is_400_saying_so(server, owner):
    link = new_url(server, owner["id"])
    body = '{"url_id":%d,"event_type":"x","details":{"n":18446744073709551616}}' % link["id"]
    r = server.post("/events", data=body, headers={"Content-Type": "application/json"})
    err = expect_error(r, 400)
    assert "out of range" in json.dumps(err), err


@process_level
def test_imported_event_details_numbers_round_trip(linkd, tmp_path):
    quoted = DETAILS_TEXT.replace('"', '""')
    d = seed_dir(tmp_path, events=f'1,1,1,measure,{TS},"{quoted}"\n')
    db = tmp_path / "numbers.db"
    r = run_linkd(["import", str(d)], env=linkd_env(DATABASE_URL=db_url(db)))
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    (event,) = expect_json(c.get("/events", params={"event_type": "measure"}), 200)
    assert same_numbers(event["details"], json.loads(DETAILS_TEXT)), event["details"]


# ---------------------------------------------------------------- names

HIDDEN = [("cr_lf", "a\r\nX-Injected: 1", "control"), ("lf", "a\nb", "control"),
          ("tab", "a\tb", "control"), ("nel", "a\u0085b", "control"),
          ("del", "a\u007fb", "control"), ("rlo", "admin\u202etxt.exe", "bidirectional"),
          ("lrm", "a\u200eb", "bidirectional"), ("rli", "a\u2067b", "bidirectional"),
          ("alm", "a\u061cb", "bidirectional"), ("ffff", "a\uffffb", "noncharacter"),
          ("fdd0", "a\ufdd0b", "noncharacter"), ("1fffe", "a\U0001fffeb", "noncharacter"),
          ("bom", "\ufeffada", "FEFF")]
HIDDEN_IDS = [h[0] for h in HIDDEN]


@pytest.mark.parametrize("tag,text,word", HIDDEN, ids=HIDDEN_IDS)
def test_create_user_refuses_hidden_characters_in_username(server, tag, text, word):
    name = uniq("h_")
    reason = expect_invalid(server.post("/users", json={"username": name + text,
                                                        "email": f"{name}@example.com"}),
                            "username")
    assert word in reason, reason


@pytest.mark.parametrize("tag,text,word", HIDDEN, ids=HIDDEN_IDS)
def test_create_user_refuses_hidden_characters_in_email(server, tag, text, word):
    name = uniq("h_")
    reason = expect_invalid(server.post("/users", json={"username": name,
                                                        "email": f"{name}{text}@example.com"}),
                            "email")
    assert word in reason, reason


def test_update_user_refuses_hidden_characters(server):
    u = new_user(server)
    reason = expect_invalid(server.put(f"/users/{u['id']}", json={"username": "x\u202ey"}),
                            "username")
    assert "bidirectional" in reason, reason
    assert expect_json(server.get(f"/users/{u['id']}"), 200)["username"] == u["username"]


@pytest.mark.parametrize("tag,text,word", HIDDEN, ids=HIDDEN_IDS)
def test_url_title_refuses_hidden_characters(server, owner, tag, text, word):
    body = {"user_id": owner["id"], "original_url": "https://example.com/t", "title": "T" + text}
    reason = expect_invalid(server.post("/urls", json=body), "title")
    assert word in reason, reason
    link = new_url(server, owner["id"])
    reason = expect_invalid(server.put(f"/urls/{link['id']}", json={"title": "T" + text}),
                            "title")
    assert word in reason, reason


def test_names_in_every_script_are_kept(server, owner):
    name = uniq("\u05e9\u05dc\u05d5\u05dd_\u5c71\u7530_caf\u00e9_\U0001f600_")
    u = new_user(server, username=name)
    assert u["username"] == name
    link = new_url(server, owner["id"], title="\u0645\u0631\u062d\u0628\u0627 \u00a0\u200d")
    assert link["title"] == "\u0645\u0631\u062d\u0628\u0627 \u00a0\u200d"


def upload(c, text):
    return c.post("/users/bulk", files={"file": ("users.csv", text.encode("utf-8"), "text/csv")})


@pytest.mark.parametrize("tag,text,word", HIDDEN, ids=HIDDEN_IDS)
def test_bulk_upload_refuses_hidden_characters_naming_row_and_column(server, tag, text, word):
    good, bad = uniq("b_"), uniq("b_")
    quoted = '"' + (bad + text).replace('"', '""') + '"'
    csv_text = f"username,email\n{good},{good}@example.com\n{quoted},{bad}@example.com\n"
    err = expect_error(upload(server, csv_text), 400)["error"]
    assert re.search(r"\bline 3\b", err), err  # the line where the bad record starts
    assert "(username)" in err and word in err, err
    names = {u["username"] for u in expect_json(server.get("/users"), 200)}
    assert good not in names, "nothing of a refused upload is imported"


# ---------------------------------------------------------------- ids

ID_MAX = 2**53 - 1
TOO_LARGE = [2**53, 2**53 + 1, 2**63 - 1]


def test_bulk_upload_of_an_id_past_2_to_the_53_is_400_and_harms_nothing(fresh_server):
    c = fresh_server
    csv_text = "id,username,email\n9223372036854775807,maxid,maxid@ex.com\n"
    err = expect_error(upload(c, csv_text), 400)["error"]
    assert re.search(r"\bline 2\b", err) and "(id)" in err and "9007199254740991" in err, err
    assert expect_json(c.get("/users"), 200) == []
    for i in range(3):  # each used to answer 503 and make the store "disk full"
        u = new_user(c)
        assert u["id"] == i + 1, u
        assert expect_json(c.get("/health"), 200)["status"] == "ok"


@pytest.mark.parametrize("big", TOO_LARGE)
def test_bulk_upload_refuses_every_id_past_2_to_the_53(server, big):
    good, bad = uniq("i_"), uniq("i_")
    csv_text = f"id,username,email\n,{good},{good}@example.com\n{big},{bad},{bad}@example.com\n"
    err = expect_error(upload(server, csv_text), 400)["error"]
    assert re.search(r"\bline 3\b", err) and "(id)" in err, err
    names = {u["username"] for u in expect_json(server.get("/users"), 200)}
    assert good not in names and bad not in names


@pytest.mark.parametrize("big", TOO_LARGE)
def test_json_id_fields_past_2_to_the_53_are_422_naming_the_field(server, owner, big):
    reason = expect_invalid(server.post("/urls", json={"user_id": big,
                                                       "original_url": "https://example.com/"}),
                            "user_id")
    assert "9007199254740991" in reason, reason
    link = new_url(server, owner["id"])
    reason = expect_invalid(server.post("/events", json={"url_id": big, "event_type": "x"}),
                            "url_id")
    assert "9007199254740991" in reason, reason
    reason = expect_invalid(server.post("/events", json={"url_id": link["id"], "user_id": big,
                                                         "event_type": "x"}), "user_id")
    assert "9007199254740991" in reason, reason


@pytest.mark.parametrize("big", ["9223372036854775808", "18446744073709551616",
                                 "-99999999999999999999"])
def test_json_id_fields_past_64_bits_are_422_naming_the_field(server, owner, big):
    """jansson cannot hold these integers; the field is named all the same."""
    for path, body in (("/urls", '{"user_id":%s,"original_url":"https://example.com/"}'),
                       ("/events", '{"url_id":%s,"event_type":"x"}')):
        r = server.post(path, data=body % big, headers={"Content-Type": "application/json"})
        reason = expect_invalid(r, "user_id" if path == "/urls" else "url_id")
        assert "9007199254740991" in reason, reason


@pytest.mark.parametrize("path,key", [("/urls", "user_id"), ("/events", "url_id"),
                                      ("/events", "user_id")])
def test_query_id_filters_past_2_to_the_53_are_400(server, path, key):
    for big in TOO_LARGE:
        err = expect_error(server.get(path, params={key: big}), 400)["error"]
        assert key in err and "9007199254740991" in err, err
    assert isinstance(expect_json(server.get(path, params={key: ID_MAX}), 200), list)


@pytest.mark.parametrize("path", ["/users/{}", "/urls/{}", "/urls/{}/stats"])
def test_path_ids_past_2_to_the_53_are_404(server, path):
    for big in TOO_LARGE + [ID_MAX]:
        expect_error(server.get(path.format(big)), 404)


@process_level
@pytest.mark.parametrize("fname,rows,line_no,column", [
    ("users", f"9007199254740992,big,big@example.com,{TS}\n", 2, "id"),
    ("urls", f"1,9007199254740992,AbC123,https://example.com/a,T,True,{TS},{TS}\n", 2, "user_id"),
    ("events", f"9223372036854775807,1,1,created,{TS},{{}}\n", 2, "id"),
    ("events", f"1,9007199254740992,1,created,{TS},{{}}\n", 2, "url_id"),
])
def test_import_refuses_ids_past_2_to_the_53(tmp_path, fname, rows, line_no, column):
    d = seed_dir(tmp_path, **{fname: rows})
    msg = expect_import_error(run_import(tmp_path, d), f"{fname}.csv", line_no, column)
    assert "9007199254740991" in msg, msg


@process_level
def test_cli_key_ids_past_2_to_the_53_are_refused(tmp_path):
    env = linkd_env(DATABASE_URL=db_url(tmp_path / "keys.db"))
    r = run_linkd(["keys", "create", "--name", "k", "--user", str(2**53)], env=env)
    assert r.returncode == 2 and "--user" in r.stderr, (r.returncode, r.stderr)
    r = run_linkd(["keys", "revoke", str(2**63 - 1)], env=env)
    assert r.returncode == 2 and "key id" in r.stderr, (r.returncode, r.stderr)


def expect_id_space_exhausted(r, what):
    body = expect_error(r, 500)
    assert body["error"] == f"id space exhausted: no {what} id is left below 2^53", body
    return body


def test_exhausted_user_ids_fail_only_user_creates(fresh_server):
    c = fresh_server
    csv_text = f"id,username,email\n{ID_MAX},last,last@example.com\n"
    body = expect_json(upload(c, csv_text), 201)
    assert body["imported"] == 1, body
    assert expect_json(c.get(f"/users/{ID_MAX}"), 200)["username"] == "last"
    for _ in range(3):
        expect_id_space_exhausted(c.post("/users", json={"username": "next",
                                                          "email": "next@example.com"}), "user")
        health = expect_json(c.get("/health"), 200)
        assert health["status"] == "ok", health
    expect_id_space_exhausted(upload(c, "username,email\nnext,next@example.com\n"), "user")
    link = new_url(c, ID_MAX)  # the store still takes every other write
    assert link["user_id"] == ID_MAX
    r = c.get("/" + link["short_code"])
    assert r.status_code == 302, r.status_code


@process_level
def test_exhausted_event_ids_fail_only_what_adds_events(linkd, tmp_path):
    d = seed_dir(tmp_path, events=f"{ID_MAX},1,1,note,{TS},{{}}\n")
    db = tmp_path / "events.db"
    r = run_linkd(["import", str(d)], env=linkd_env(DATABASE_URL=db_url(db)))
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    expect_id_space_exhausted(c.post("/events", json={"url_id": 1, "event_type": "x"}), "event")
    expect_id_space_exhausted(c.post("/urls", json={"user_id": 1,
                                                     "original_url": "https://example.com/"}),
                              "event")
    assert expect_json(c.get("/health"), 200)["status"] == "ok"
    u = new_user(c)
    assert u["id"] == 2, u
    (event,) = expect_json(c.get("/events"), 200)
    assert event["id"] == ID_MAX, event


@process_level
def test_a_database_holding_id_2_to_the_63_is_not_reported_as_a_full_disk(linkd, tmp_path):
    """A row written before ids were limited (the store's own tables,
    changed straight in the database while linkd is stopped). On SQLite the
    next id after it overflows (AUTOINCREMENT); PostgreSQL hands out ids from
    a sequence, which a row written by hand does not move, so the sequence
    is set to its last value too."""
    db = tmp_path / "legacy.db"
    r = run_linkd(["import", str(seed_dir(tmp_path))], env=linkd_env(DATABASE_URL=db_url(db)))
    assert r.returncode == 0, r.stderr
    backend.execute(db, "INSERT INTO users (id, username, email, created_at)"
                        " VALUES (9223372036854775807, 'maxid', 'maxid@ex.com', 0)")
    if backend.IS_PG:
        backend.execute(db, "SELECT setval(pg_get_serial_sequence('users', 'id'),"
                            " 9223372036854775807)")
    c = linkd.start(db_path=db)
    for _ in range(3):
        expect_id_space_exhausted(c.post("/users", json={"username": "a2",
                                                          "email": "a2@ex.com"}), "user")
        assert expect_json(c.get("/health"), 200)["status"] == "ok"
    assert new_url(c, 1)["user_id"] == 1
