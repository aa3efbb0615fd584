# SPDX-License-Identifier: MIT
"""GET /urls/<id>/stats: click totals and per-day counts kept as clicks are
recorded (redirects and POST /events with event_type "click")."""

import re
from datetime import datetime, timezone

from apiclient import expect, expect_error, expect_json, new_url, new_user, poll


def stats(c, url_id):
    return expect_json(c.get(f"/urls/{url_id}/stats"), 200)


def test_unknown_and_non_numeric_ids_are_404(server):
    expect_error(server.get("/urls/999999999/stats"), 404)
    expect_error(server.get("/urls/abc/stats"), 404)
    r = server.post("/urls/1/stats")
    expect_error(r, 405)
    assert "GET" in r.headers["Allow"]


def test_a_new_link_has_no_clicks(server):
    u = new_url(server, new_user(server)["id"])
    s = stats(server, u["id"])
    assert s == {"url_id": u["id"], "user_id": u["user_id"], "short_code": u["short_code"],
                 "clicks": 0, "last_click_at": None, "daily": []}


def test_redirects_and_click_events_are_counted_per_day(server):
    u = new_url(server, new_user(server)["id"])
    for _ in range(3):
        expect(server.get(f"/{u['short_code']}", allow_redirects=False), 302)
    expect(server.head(f"/{u['short_code']}", allow_redirects=False), 302)  # not a click
    expect_json(server.post("/events", json={"url_id": u["id"], "event_type": "click"}), 201)
    expect_json(server.post("/events", json={"url_id": u["id"], "event_type": "share"}), 201)
    s, ok = poll(lambda: stats(server, u["id"]), lambda v: v["clicks"] >= 4, 2.0)
    assert ok, s
    assert s["clicks"] == 4, "three redirects and one click event; HEAD and 'share' do not count"
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert s["daily"] == [{"date": today, "clicks": 4}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s["last_click_at"])
