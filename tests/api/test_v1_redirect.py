# SPDX-License-Identifier: MIT
"""Redirects of links with /api/v1 options (docs/link-policy.md): redirect
types, query forwarding, UTM, rules, splits, time windows, click maximums,
passwords. Every answer is checked on a cache miss and on a hit."""

from urllib.parse import parse_qs, urlsplit

import pytest

from apiclient import expect, list_events, poll
from v1client import new_link, owner

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")


@pytest.fixture(scope="module")
def user(server):
    return owner(server)


def clicks(server, link, n):
    """The link's click events once n are written (the writer batches)."""
    rows, _ = poll(lambda: list_events(server, url_id=link["id"], event_type="click"),
                   lambda v: len(v) >= n, 5.0)
    return rows


def go(server, link, status, path_suffix="", **kw):
    return expect(server.get("/" + link["code"] + path_suffix, **kw), status)


@pytest.mark.parametrize("kind", [301, 302, 307, 308])
def test_redirect_type(server, user, kind):
    link = new_link(server, user["id"], redirect_type=kind)
    for _ in range(2):  # a miss, then a cache hit
        assert go(server, link, kind).headers["Location"] == link["url"]
    assert len(clicks(server, link, 2)) == 2


def test_a_plain_link_still_answers_302_and_refuses_post(server, user):
    link = new_link(server, user["id"])
    assert go(server, link, 302).headers["Location"] == link["url"]
    r = expect(server.post("/" + link["code"], data={"password": "x"}), 405)
    assert r.json() == {"error": "method not allowed"}


def test_forward_query_and_utm(server, user):
    link = new_link(server, user["id"], url="https://example.com/p?keep=1&utm_source=own",
                    forward_query=True, utm={"source": "news", "campaign": "spring sale"})
    for _ in range(2):
        loc = go(server, link, 302, "?ref=tw&x=%C3%A9").headers["Location"]
        q = parse_qs(urlsplit(loc).query)
        assert urlsplit(loc)._replace(query="").geturl() == "https://example.com/p"
        assert q == {"keep": ["1"], "utm_source": ["own"], "ref": ["tw"], "x": ["é"],
                     "utm_campaign": ["spring sale"]}, loc


def test_query_is_not_forwarded_unless_asked(server, user):
    link = new_link(server, user["id"], url="https://example.com/q")
    assert go(server, link, 302, "?ref=tw").headers["Location"] == "https://example.com/q"


def test_rules_first_match_wins_then_the_split_then_the_destination(server, user):
    link = new_link(server, user["id"], url="https://example.com/default", rules=[
        {"url": "https://example.com/ios-de", "os": ["ios"], "lang": ["de"]},
        {"url": "https://example.com/mobile", "device": ["mobile"]},
        {"url": "https://example.com/campaign", "query": {"ref": "tw"}},
    ])
    cases = [
        ({"User-Agent": IPHONE, "Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}, "",
         "https://example.com/ios-de"),
        ({"User-Agent": IPHONE, "Accept-Language": "en-GB,de;q=0.9"}, "",
         "https://example.com/mobile"),
        ({"User-Agent": WINDOWS}, "?ref=tw", "https://example.com/campaign"),
        ({"User-Agent": WINDOWS}, "?ref=fb", "https://example.com/default"),
        ({}, "", "https://example.com/default"),
    ]
    for headers, suffix, want in cases * 2:
        assert go(server, link, 302, suffix, headers=headers).headers["Location"] == want, headers


def test_time_window_rule(server, user):
    link = new_link(server, user["id"], url="https://example.com/now", rules=[
        {"url": "https://example.com/past", "until": "2020-01-01T00:00:00Z"},
        {"url": "https://example.com/future", "from": "2090-01-01T00:00:00Z"},
        {"url": "https://example.com/current", "from": "2020-01-01T00:00:00Z",
         "until": "2090-01-01T00:00:00Z"}])
    assert go(server, link, 302).headers["Location"] == "https://example.com/current"


def test_split_sends_visits_to_every_destination_by_weight(server, user):
    link = new_link(server, user["id"], split=[{"url": "https://a.example.com/", "weight": 3},
                                               {"url": "https://b.example.com/", "weight": 1}])
    seen = {}
    for _ in range(400):
        loc = go(server, link, 302).headers["Location"]
        seen[loc] = seen.get(loc, 0) + 1
    assert set(seen) == {"https://a.example.com/", "https://b.example.com/"}, seen
    # 400 draws at p = 3/4: the count of a is binomial(400, 0.75), mean 300, sd 8.7;
    # 240..360 is about 7 sd either side
    assert 240 <= seen["https://a.example.com/"] <= 360, seen


def test_out_of_its_window_a_link_is_gone(server, user):
    past = new_link(server, user["id"], valid_until="2020-01-01T00:00:00Z")
    future = new_link(server, user["id"], valid_from="2090-01-01T00:00:00Z")
    for link in (past, future):
        for _ in range(2):
            r = go(server, link, 410)
            assert r.json() == {"error": "link expired"}
            assert r.headers["Content-Type"].startswith("application/json")
            html = go(server, link, 410, headers={"Accept": "text/html,*/*"})
            assert html.headers["Content-Type"].startswith("text/html")
            assert "expired" in html.text
    assert clicks(server, past, 0) == [], "a gone link records no click"


def test_fallback_url_takes_an_expired_link(server, user):
    link = new_link(server, user["id"], redirect_type=301, valid_until="2020-01-01T00:00:00Z",
                    fallback_url="https://example.com/over")
    r = go(server, link, 302)  # never a cached 301 to the fallback
    assert r.headers["Location"] == "https://example.com/over"


def test_click_maximum_is_exact_then_the_fallback(server, user):
    link = new_link(server, user["id"], max_clicks=3, fallback_url="https://example.com/used")
    expect(server.head("/" + link["code"]), 302)  # HEAD takes no click
    for _ in range(3):
        assert go(server, link, 302).headers["Location"] == link["url"]
    for _ in range(2):
        assert go(server, link, 302).headers["Location"] == "https://example.com/used"
    assert len(clicks(server, link, 3)) == 3
    plain = new_link(server, user["id"], max_clicks=1)
    go(server, plain, 302)
    go(server, plain, 410)


def test_raising_the_maximum_reopens_a_used_up_link(server, user):
    link = new_link(server, user["id"], max_clicks=1)
    go(server, link, 302)
    go(server, link, 410)
    expect(server.patch(f"/api/v1/links/{link['id']}", json={"max_clicks": 2}), 200)
    go(server, link, 302)
    go(server, link, 410)


def test_password_link_for_api_clients(server, user):
    link = new_link(server, user["id"], password="s3cret pass")
    r = go(server, link, 401)
    assert r.json() == {"error": "password required: send it in X-Link-Password"}
    assert go(server, link, 401, headers={"X-Link-Password": "wrong"}).json() == {
        "error": "wrong password"}
    ok = go(server, link, 302, headers={"X-Link-Password": "s3cret pass"})
    assert ok.headers["Location"] == link["url"]
    assert len(clicks(server, link, 1)) == 1, "only the redirect counts as a click"


def test_password_link_for_browsers_is_a_form(server, user):
    link = new_link(server, user["id"], password="pw-for-form")
    form = go(server, link, 200, headers={"Accept": "text/html"})
    assert form.headers["Content-Type"].startswith("text/html")
    assert form.headers["Cache-Control"] == "no-store"
    assert f'<form method="post" action="/{link["code"]}">' in form.text
    assert 'name="password"' in form.text
    assert "<script" not in form.text
    wrong = expect(server.post("/" + link["code"], data={"password": "nope"}), 401)
    assert "Wrong password" in wrong.text
    right = expect(server.post("/" + link["code"], data={"password": "pw-for-form"}), 303)
    assert right.headers["Location"] == link["url"]


def test_password_guesses_are_limited_per_client_and_link(server, user):
    link = new_link(server, user["id"], password="right")
    other = new_link(server, user["id"], password="right")
    codes = [server.get("/" + link["code"], headers={"X-Link-Password": "bad"}).status_code
             for _ in range(8)]
    assert codes[:5] == [401] * 5 and 429 in codes[5:], codes
    r = server.get("/" + link["code"], headers={"X-Link-Password": "right"})
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) >= 1
    assert expect(server.get("/" + other["code"], headers={"X-Link-Password": "right"}),
                  302).headers["Location"] == other["url"], "another link has its own budget"


def test_deactivated_link_with_options_is_404(server, user):
    link = new_link(server, user["id"], redirect_type=308, active=False)
    go(server, link, 404)


@pytest.mark.parametrize("route", ["/s/{}", "/r/{}", "/urls/{}/redirect"])
def test_the_password_form_of_every_redirect_route_posts_where_it_is_taken(server, user, route):
    link = new_link(server, user["id"], password="pw-route")
    form = expect(server.get(route.format(link["code"]), headers={"Accept": "text/html"}), 200)
    assert f'action="/{link["code"]}"' in form.text
    right = expect(server.post("/" + link["code"], data={"password": "pw-route"}), 303)
    assert right.headers["Location"] == link["url"]


def test_head_on_a_used_up_link_answers_gone(server, user):
    link = new_link(server, user["id"], max_clicks=1)
    go(server, link, 302)
    expect(server.head("/" + link["code"]), 410)
    go(server, link, 410)


def test_a_clients_guesses_over_many_links_are_limited_too(linkd):
    """Each link has a budget of 5; a client cycling through links meets the
    budget over all of them (LINKD_PASSWORD_GUESSES at once, then 2 a
    second). The bound below is that law, whatever the machine's speed."""
    import math
    import time
    c = linkd.start(env={"LINKD_PASSWORD_GUESSES": 3})
    u = expect(c.post("/users", json={"username": "g", "email": "g@example.com"}), 201).json()
    links = [new_link(c, u["id"], password="right") for _ in range(20)]
    start = time.monotonic()
    codes = [c.get("/" + x["code"], headers={"X-Link-Password": "wrong"}).status_code
             for x in links]
    elapsed = time.monotonic() - start
    assert set(codes) <= {401, 429}, codes
    assert codes[:3] == [401] * 3, codes
    allowed = 3 + math.ceil(2 * elapsed) + 1
    assert codes.count(401) <= allowed, (codes, elapsed)
    if len(codes) > allowed:
        assert 429 in codes, (codes, elapsed)
