# SPDX-License-Identifier: MIT
"""Redirects: GET /<code> and GET /urls/<code>/redirect (CONTRACT §1.4, §4.14;
DESIGN §3). Both paths must behave identically, so most tests run on both."""

import json
import time

import pytest

from apiclient import (check_recent, expect, expect_error, list_events, new_url, new_user,
                       poll, uniq, wait_events)

PATHS = {"root": "/{}", "urls": "/urls/{}/redirect"}
TRICKY_URL = "https://example.com/Some/Path;p=1?q=a%20b&r=%2F&s=x+y&t=~u&empty=&u=%C3%A9"


@pytest.fixture(params=sorted(PATHS))
def path_of(request):
    return PATHS[request.param].format


@pytest.fixture(scope="module")
def owner(server):
    return new_user(server)


def clicks(c, url_id):
    return list_events(c, url_id=url_id, event_type="click")


def check_redirect(r, location):
    expect(r, 302)
    assert r.headers.get("Location") == location, r.headers
    cc = r.headers.get("Cache-Control", "").lower().replace(" ", "")
    assert "no-store" in cc or ("private" in cc and "max-age=0" in cc), \
        f"redirect must not be cacheable: Cache-Control={cc!r}"
    assert r.headers.get("X-Cache") in ("HIT", "MISS"), r.headers
    if r.content:
        assert len(r.content) < 4096
        json.loads(r.content)  # a small JSON body, or none


def test_redirect_is_302_to_original_url_byte_for_byte(server, owner, path_of):
    u = new_url(server, owner["id"], TRICKY_URL)
    assert u["original_url"] == TRICKY_URL
    check_redirect(server.get(path_of(u["short_code"])), TRICKY_URL)
    check_redirect(server.get(path_of(u["short_code"])), TRICKY_URL)


def test_redirect_of_seed_urls(server, seed, path_of):
    active = [u for u in seed.urls if u["is_active"]]
    for s in seed.spread(active, 4):
        check_redirect(server.get(path_of(s["short_code"])), s["original_url"])
    inactive = [u for u in seed.urls if not u["is_active"]]
    for s in seed.spread(inactive, 3):
        r = server.get(path_of(s["short_code"]))
        assert expect_error(r, 404)["error"] == "url not found"
        assert "Location" not in r.headers


def test_click_is_recorded_within_one_second(server, owner, path_of):
    u = new_url(server, owner["id"])
    ua, ref = f"linkd-tests/{uniq()}", "https://referrer.example/page?x=1"
    expect(server.get(path_of(u["short_code"]), headers={"User-Agent": ua, "Referer": ref}), 302)
    evs, ok = poll(lambda: clicks(server, u["id"]), lambda v: len(v) >= 1, 1.0)
    assert ok, "the click was not visible in GET /events within 1 s"
    assert len(evs) == 1, evs
    e = evs[0]
    assert e["url_id"] == u["id"] and e["user_id"] == owner["id"], e
    assert e["details"] == {"short_code": u["short_code"], "user_agent": ua, "referrer": ref}
    check_recent(e["timestamp"], "click timestamp")


def test_click_without_referrer(server, owner, path_of):
    u = new_url(server, owner["id"])
    expect(server.get(path_of(u["short_code"]), headers={"User-Agent": "ua-only"}), 302)
    (e,) = wait_events(server, 1, url_id=u["id"], event_type="click")
    assert set(e["details"]) == {"short_code", "user_agent", "referrer"}, e
    assert e["details"]["referrer"] == "" and e["details"]["user_agent"] == "ua-only", e


def test_every_redirect_is_counted(server, owner, path_of):
    u = new_url(server, owner["id"])
    for _ in range(5):
        expect(server.get(path_of(u["short_code"])), 302)
    wait_events(server, 5, url_id=u["id"], event_type="click")
    time.sleep(0.2)
    assert len(clicks(server, u["id"])) == 5
    assert len(list_events(server, event_type="click", user_id=owner["id"],
                           url_id=u["id"])) == 5


def test_inactive_url_is_404_without_event_even_when_cached(server, owner, path_of):
    u = new_url(server, owner["id"])
    code = u["short_code"]
    expect(server.get(path_of(code)), 302)
    wait_events(server, 1, url_id=u["id"], event_type="click")
    expect(server.put(f"/urls/{u['id']}", json={"is_active": False}), 200)
    t0 = time.monotonic()
    for path in PATHS.values():
        r = server.get(path.format(code))
        assert expect_error(r, 404)["error"] == "url not found"
        assert "Location" not in r.headers
    time.sleep(max(0.0, t0 + 1.1 - time.monotonic()))
    assert len(clicks(server, u["id"])) == 1, "a 404 on an inactive url recorded a click"


def test_created_inactive_never_redirects(server, owner, path_of):
    u = new_url(server, owner["id"], is_active=False)
    expect_error(server.get(path_of(u["short_code"])), 404)
    time.sleep(1.1)
    assert clicks(server, u["id"]) == []


def test_head_gives_same_status_and_records_no_event(server, owner, path_of):
    u = new_url(server, owner["id"])
    t0 = time.monotonic()
    r = server.head(path_of(u["short_code"]))
    expect(r, 302)
    assert r.headers.get("Location") == u["original_url"]
    expect(server.get(path_of(u["short_code"])), 302)  # one real click, as a control
    wait_events(server, 1, url_id=u["id"], event_type="click")
    time.sleep(max(0.0, t0 + 1.1 - time.monotonic()))
    assert len(clicks(server, u["id"])) == 1, "HEAD recorded a click"
    gone = new_url(server, owner["id"], is_active=False)
    expect(server.head(path_of(gone["short_code"])), 404)
    expect(server.head(path_of("zz" + uniq())), 404)


@pytest.mark.parametrize("code", ["Zz9Zz9", "abcdefg", "x" * 64, "x" * 65, "a" * 4000,
                                  "bad!code", "%00", "a%2Fb", "..%2f..%2fetc"],
                         ids=lambda c: c[:12] + f"[{len(c)}]")
def test_unknown_code_is_404_json(server, path_of, code):
    if code == "Zz9Zz9":
        code = "Q" + uniq()[:5]  # 6 alphanumerics nobody owns
    r = server.get(path_of(code))
    expect_error(r, 404)
    assert "Location" not in r.headers


def test_lookup_is_case_sensitive(server, owner, path_of):
    u = new_url(server, owner["id"])
    swapped = u["short_code"].swapcase()
    if swapped == u["short_code"]:
        pytest.fail(f"generated code {swapped!r} has no letters")
    expect_error(server.get(path_of(swapped)), 404)


def test_numeric_custom_code_redirects(server, owner, path_of):
    code = str(int(uniq("9")[:10], 16))[:12]
    u = new_url(server, owner["id"], short_code=code)
    check_redirect(server.get(path_of(code)), u["original_url"])


def test_reserved_routes_are_not_codes(server):
    assert expect(server.get("/health"), 200).json().get("status") == "ok"
