# SPDX-License-Identifier: MIT
"""LOG_FORMAT=text: a server writes one human-readable line per record
(time, level, component, event, key=value fields) and no JSON, and the same
records, field for field, as a server in the default JSON format given the
same requests (docs/logging.md)."""

import collections
import json

import pytest

from apiclient import BASE_URL, expect_json, new_user
from linkdproc import db_url, linkd_env, parse_text_line, run_linkd

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")


def drive(c):
    """The same requests for each server: a health check, a miss with a
    client's request id, a path a text line must quote, a user created."""
    expect_json(c.get("/health"), 200)
    assert c.get("/no/such/route", headers={"X-Request-ID": "rid-text-1"}).status_code == 404
    assert c.get("/a=b", headers={"X-Request-ID": "rid-text-2"}).status_code == 404
    new_user(c)


def records(server, parse):
    server.proc.stop()  # flushes the log; the exit status is checked at teardown
    lines = [l for l in server.proc.stdout_text().splitlines() if l.strip()]
    assert lines, "the server logged nothing"
    out = []
    for line in lines:
        obj = parse(line)
        assert isinstance(obj, dict), f"not a log line of this format: {line!r}"
        out.append(obj)
    return out


def not_json(line):
    try:
        json.loads(line)
    except ValueError:
        return parse_text_line(line)
    raise AssertionError(f"a JSON line from a server with LOG_FORMAT=text: {line!r}")


def access_line(recs, rid):
    found = [r for r in recs if r.get("event") == "request" and r.get("request_id") == rid]
    assert len(found) == 1, f"one access line with request_id {rid}: {found}"
    return found[0]


def test_text_format_writes_text_lines(linkd):
    c = linkd.start(env={"LOG_FORMAT": "text"})
    drive(c)
    recs = records(c, not_json)
    events = {(r["component"], r["event"]) for r in recs}
    assert {("http", "listening"), ("http", "request"), ("app", "stopped")} <= events, events
    line = access_line(recs, "rid-text-1")
    assert line["level"] == "info" and line["component"] == "http"
    assert line["method"] == "GET" and line["path"] == "/no/such/route"
    assert line["status"] == "404" and line["duration_us"].isdigit(), line
    assert line["route"], line
    quoted = access_line(recs, "rid-text-2")
    assert quoted["path"] == "/a=b", quoted
    raw = [l for l in c.proc.stdout_text().splitlines() if "request_id=rid-text-2" in l]
    assert len(raw) == 1 and ' path="/a=b" ' in raw[0], raw


def test_text_and_json_carry_the_same_records(linkd):
    """Each (level, component, event, field names) occurs as often in both
    logs; values such as times and ports differ between the two runs."""
    text = linkd.start(env={"LOG_FORMAT": "text"})
    as_json = linkd.start()
    drive(text)
    drive(as_json)
    def shape(r):
        return (r["level"], r["component"], r["event"], tuple(k for k in r if k != "ts"))

    t = collections.Counter(shape(r) for r in records(text, not_json))
    j = collections.Counter(shape(r) for r in records(as_json, json.loads))
    assert t == j, f"only in text: {t - j}\nonly in JSON: {j - t}"


def test_log_format_flag_wins_and_a_bad_value_is_refused(linkd, tmp_path):
    c = linkd.start(env={"LOG_FORMAT": "json"}, args=["--log-format", "text"])
    expect_json(c.get("/health"), 200)
    assert all(not_json(l) for l in c.proc.stdout_text().splitlines() if l.strip())
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=db_url(tmp_path / "b.db"),
                    LOG_FORMAT="logfmt")
    r = run_linkd(["serve"], env=env, timeout_s=15)
    assert r.returncode == 2, f"exit {r.returncode}; stderr {r.stderr!r}"
    assert r.stderr.strip() == "linkd serve: LOG_FORMAT: 'logfmt' is not json or text", r.stderr
