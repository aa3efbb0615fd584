# SPDX-License-Identifier: MIT
"""Seed loading (CONTRACT §6, §4.3): `linkd import DIR` and `linkd serve
--seed DIR`. Expected values are read from the CSVs at run time."""

import re
import shutil

import pytest

from apiclient import (BASE_URL, EVENT_KEYS, SEED_DIR, URL_KEYS, USER_KEYS, expect_json,
                       expect_list, list_events, new_url, new_user, project)
from linkdproc import db_url, linkd_env, run_linkd

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")


def import_env(db):
    return linkd_env(DATABASE_URL=db_url(db))


def run_import(db, directory=SEED_DIR):
    return run_linkd(["import", str(directory)], env=import_env(db))


def table(c, path, keys):
    return [project(row, keys) for row in expect_list(c.get(path))]


def assert_holds_exactly_the_seed(c, seed):
    assert table(c, "/users", USER_KEYS) == seed.users
    assert table(c, "/urls", URL_KEYS) == seed.urls
    assert table(c, "/events", EVENT_KEYS) == seed.events
    for etype in sorted({e["event_type"] for e in seed.events}):
        assert len(list_events(c, event_type=etype)) == len(seed.events_of(event_type=etype))


def assert_new_ids_follow_the_seed(c, seed):
    u = new_user(c)
    assert u["id"] > max(seed.user)
    link = new_url(c, u["id"])
    assert link["id"] > max(seed.url)
    (created,) = list_events(c, url_id=link["id"])
    assert created["id"] > max(seed.event)
    return u, link


def test_import_loads_every_row_and_keeps_ids(linkd, tmp_path, seed):
    db = tmp_path / "import.db"
    r = run_import(db)
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    assert_holds_exactly_the_seed(c, seed)
    assert_new_ids_follow_the_seed(c, seed)


def test_import_is_idempotent(linkd, tmp_path, seed):
    db = tmp_path / "twice.db"
    for _ in range(2):
        r = run_import(db)
        assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    assert_holds_exactly_the_seed(c, seed)
    u, link = assert_new_ids_follow_the_seed(c, seed)
    c.proc.stop()  # its exit status is checked at teardown
    # Again over a database that also holds rows made through the API.
    r = run_import(db)
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    assert table(c, "/users", USER_KEYS) == seed.users + [u]
    assert table(c, "/urls", URL_KEYS) == seed.urls + [project(link, URL_KEYS)]
    assert len(expect_list(c.get("/events"))) == len(seed.events) + 1


@pytest.mark.parametrize("flag_first", [False, True], ids=["DIR-then-flag", "flag-then-DIR"])
def test_import_with_database_flag(linkd, tmp_path, seed, flag_first):
    db = tmp_path / "flag.db"
    env = linkd_env()
    env.pop("DATABASE_URL", None)
    flag = ["--database", db_url(db)]
    args = ["import", *flag, str(SEED_DIR)] if flag_first else ["import", str(SEED_DIR), *flag]
    r = run_linkd(args, env=env)
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    assert len(expect_list(c.get("/users"))) == len(seed.users)
    assert len(expect_list(c.get("/urls"))) == len(seed.urls)


def test_serve_seed_loads_an_empty_database_once(linkd, seed):
    c = linkd.start(seed=True)
    assert_holds_exactly_the_seed(c, seed)
    u, link = assert_new_ids_follow_the_seed(c, seed)
    db = c.proc.db_path
    c.proc.stop()  # its exit status is checked at teardown
    c = linkd.start(seed=True, db_path=db)  # tables not empty: no second load
    assert table(c, "/users", USER_KEYS) == seed.users + [u]
    assert expect_json(c.get(f"/urls/{link['id']}"), 200) == link
    assert len(expect_list(c.get("/events"))) == len(seed.events) + 1


def test_serve_without_seed_starts_empty(fresh_server):
    for path in ("/users", "/urls", "/events"):
        assert expect_list(fresh_server.get(path)) == []
    new_user(fresh_server)
    assert len(expect_list(fresh_server.get("/users"))) == 1


# ---------------------------------------------------------------- bad CSVs


def copy_seed(tmp_path):
    d = tmp_path / "seedcopy"
    d.mkdir()
    for name in ("users.csv", "urls.csv", "events.csv"):
        shutil.copy(SEED_DIR / name, d / name)
    return d


def replace_line(path, line_no, fn):
    """Rewrites 1-based line line_no (the header is line 1) with fn(old)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line_no - 1] = fn(lines[line_no - 1])
    path.write_text("\n".join(lines), encoding="utf-8")


def set_field(line, index, value):
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def header(path):
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")


def check_error_line(r, fname, line_no, column):
    assert r.returncode == 1, f"exit {r.returncode}; stderr: {r.stderr!r}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got: {r.stderr!r}"
    msg = lines[0]
    assert fname in msg, msg
    assert re.search(rf"\bline\W{{0,3}}{line_no}\b", msg, re.I) or f"{fname}:{line_no}" in msg, \
        f"line {line_no} not named: {msg}"
    if column is not None:
        name, number = column
        assert re.search(r"\bcol(umn)?\b", msg, re.I) or re.search(rf"{fname}:{line_no}:\d", msg), \
            f"no column named: {msg}"
        assert name in msg or re.search(rf"\b{number}\b", msg.replace(str(line_no), "", 1)), \
            f"column {name} ({number}) not named: {msg}"


def test_import_reads_csv_booleans_in_any_case(linkd, tmp_path, seed):
    d = copy_seed(tmp_path)
    idx = header(d / "urls.csv").index("is_active")
    spellings = ["true", "FALSE", "tRuE", "false", "TRUE", "False"]
    changed = {}
    for line_no, word in zip(range(2, 2 + len(spellings)), spellings):
        replace_line(d / "urls.csv", line_no, lambda l, w=word: set_field(l, idx, w))
        changed[seed.urls[line_no - 2]["id"]] = word.lower() == "true"
    db = tmp_path / "bools.db"
    r = run_import(db, d)
    assert r.returncode == 0, r.stderr
    c = linkd.start(db_path=db)
    for url_id, active in changed.items():
        assert expect_json(c.get(f"/urls/{url_id}"), 200)["is_active"] is active


@pytest.mark.parametrize("fname,line_no,column,value", [
    ("urls.csv", 5, "user_id", "abc"),
    ("urls.csv", 9, "is_active", "maybe"),
    ("users.csv", 3, "id", "x7"),
    ("users.csv", 12, "email", "no-at-sign"),
])
def test_import_bad_row_fails_naming_file_line_and_column(tmp_path, fname, line_no, column,
                                                         value):
    d = copy_seed(tmp_path)
    idx = header(d / fname).index(column)
    replace_line(d / fname, line_no, lambda l: set_field(l, idx, value))
    r = run_import(tmp_path / "bad.db", d)
    check_error_line(r, fname, line_no, (column, idx + 1))


def test_import_bad_details_json_fails(tmp_path):
    d = copy_seed(tmp_path)
    line_no = 10

    def broken(line):
        head = line.split(",", 5)  # id,url_id,user_id,event_type,timestamp,details
        return ",".join(head[:5]) + ',"{not json"'
    replace_line(d / "events.csv", line_no, broken)
    r = run_import(tmp_path / "bad.db", d)
    check_error_line(r, "events.csv", line_no, ("details", 6))


def test_import_malformed_record_fails(tmp_path):
    d = copy_seed(tmp_path)
    replace_line(d / "urls.csv", 4, lambda l: l.rsplit(",", 2)[0])  # two fields short
    r = run_import(tmp_path / "bad.db", d)
    check_error_line(r, "urls.csv", 4, None)


def test_import_missing_file_fails(tmp_path):
    d = copy_seed(tmp_path)
    (d / "events.csv").unlink()
    r = run_import(tmp_path / "bad.db", d)
    assert r.returncode != 0
    assert "events.csv" in r.stderr, r.stderr
