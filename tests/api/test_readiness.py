# SPDX-License-Identifier: MIT
"""Readiness for a load balancer (docs/deploy.md#readiness): /health/ready
answers 200 while the node serves and its store answers; on SIGTERM it turns
503 first, the node goes on serving for LINKD_DRAIN_DELAY_MS, then drains."""

import signal
import time

import pytest

from apiclient import BASE_URL, expect, expect_json, new_url, new_user

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")


def test_ready_while_serving(server):
    r = server.get("/health/ready")
    assert expect_json(r, 200) == {"status": "ready"}
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("X-Request-ID")


def test_sigterm_turns_readiness_503_before_the_drain(linkd):
    c = linkd.start(env={"LINKD_DRAIN_DELAY_MS": "2000"})
    owner = new_user(c)
    link = new_url(c, owner["id"])
    assert expect_json(c.get("/health/ready"), 200)["status"] == "ready"
    c.proc.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    # the signal reaches the main thread a moment after kill() returns: a
    # request sent at once may still find the node ready
    while c.clone().get("/health/ready").status_code == 200:
        assert time.monotonic() - t0 < 1.0, "still ready 1 s after SIGTERM"
        time.sleep(0.01)
    # within the delay: not ready, yet everything else is served, on new
    # connections too (the node still accepts)
    seen = 0
    while time.monotonic() - t0 < 1.2:
        fresh = c.clone()
        body = expect_json(fresh.get("/health/ready"), 503)
        assert body == {"status": "not_ready", "reason": "draining"}, body
        assert expect_json(fresh.get("/health"), 200)["status"] == "ok"
        expect(fresh.get(f"/{link['short_code']}"), 302)
        seen += 1
        time.sleep(0.1)
    assert seen >= 3
    assert c.proc.proc.wait(15) == 0
    took = time.monotonic() - t0
    assert took >= 2.0, f"exited {took:.1f} s after SIGTERM, before the 2 s delay was over"
    log = c.proc.stdout_text()
    assert '"event":"not_ready"' in log and log.index('"event":"not_ready"') < log.index(
        '"event":"stopping"'), "readiness turned before the drain began"


def test_a_second_signal_during_the_delay_exits_at_once(linkd):
    c = linkd.start(env={"LINKD_DRAIN_DELAY_MS": "60000"})
    expect(c.get("/health/ready"), 200)
    c.proc.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    expect(c.get("/health/ready"), 503)
    c.proc.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    assert c.proc.proc.wait(10) == 1, "a second signal is a forced exit (status 1)"
    assert time.monotonic() - t0 < 5, "the forced exit waited for the delay"
    c.proc.stopped = True  # its exit status was checked here
    c.proc.stop_problem = None
