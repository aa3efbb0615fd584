# SPDX-License-Identifier: MIT
"""LINKD_ACCESS_LOG_REDIRECTS=N: a worker writes the access line of the 1st,
N+1st, ... redirect it answers with a 3xx; every other request keeps its
line, and every redirect still records its click (docs/logging.md)."""

import pytest

from apiclient import BASE_URL, expect, expect_error, expect_json, new_url, new_user, wait_events
from linkdproc import db_url, linkd_env, parse_log_line, run_linkd

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")


def access_lines(server):
    server.proc.stop()  # flushes the log; the exit status is checked at teardown
    recs = [parse_log_line(l) for l in server.proc.stdout_text().splitlines() if l.strip()]
    return {r["request_id"]: r for r in recs if r and r.get("event") == "request"}


def visit(c, path, rid, status):
    r = c.get(path, headers={"X-Request-ID": rid})
    expect(r, status)
    return r


def test_one_redirect_line_in_n_and_every_other_line(linkd):
    c = linkd.start(env={"LINKD_ACCESS_LOG_REDIRECTS": "4", "LINKD_WORKERS": "1"})
    owner = new_user(c)
    link = new_url(c, owner["id"])
    code = link["short_code"]
    for i in range(10):
        path = f"/{code}" if i % 2 == 0 else f"/urls/{code}/redirect"
        visit(c, path, f"rid-redirect-{i}", 302)
    for i in range(3):
        expect_error(c.get("/no-such-code-here", headers={"X-Request-ID": f"rid-miss-{i}"}), 404)
    expect_json(c.get(f"/urls/{link['id']}", headers={"X-Request-ID": "rid-get"}), 200)
    clicks = wait_events(c, 10, url_id=link["id"], event_type="click")
    assert len(clicks) == 10, clicks
    assert all(e["details"]["short_code"] == code for e in clicks), clicks
    lines = access_lines(c)
    logged = sorted(rid for rid in lines if rid.startswith("rid-redirect-"))
    assert logged == ["rid-redirect-0", "rid-redirect-4", "rid-redirect-8"], logged
    first = lines["rid-redirect-0"]
    assert first["status"] == 302 and first["route"] == "/{code}", first
    assert first["path"] == f"/{code}" and first["method"] == "GET", first
    assert lines["rid-redirect-4"]["route"] == "/{code}", lines["rid-redirect-4"]
    for i in range(3):
        miss = lines[f"rid-miss-{i}"]
        assert miss["status"] == 404 and miss["path"] == "/no-such-code-here", miss
    assert lines["rid-get"]["status"] == 200 and lines["rid-get"]["route"] == "/urls/{id}"


def test_every_redirect_line_by_default(linkd):
    c = linkd.start(env={"LINKD_WORKERS": "1"})
    link = new_url(c, new_user(c)["id"])
    for i in range(5):
        visit(c, f"/{link['short_code']}", f"rid-all-{i}", 302)
    lines = access_lines(c)
    assert sorted(rid for rid in lines if rid.startswith("rid-all-")) == \
        [f"rid-all-{i}" for i in range(5)]


@pytest.mark.parametrize("value", ["0", "1000001", "-1", "two"])
def test_an_impossible_sampling_value_stops_the_start(tmp_path, value):
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=db_url(tmp_path / "s.db"),
                    LINKD_ACCESS_LOG_REDIRECTS=value)
    r = run_linkd(["serve"], env=env, timeout_s=15)
    assert r.returncode == 2, f"exit {r.returncode}; stderr {r.stderr!r}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "LINKD_ACCESS_LOG_REDIRECTS" in lines[0], r.stderr
