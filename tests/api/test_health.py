# SPDX-License-Identifier: MIT
"""GET /health (CONTRACT §1.1 #1, §4.1)."""

import collections
import time
import uuid

import pytest

from apiclient import expect_json


def test_health_returns_status_ok(server):
    body = expect_json(server.get("/health"), 200)
    assert isinstance(body, dict)
    assert body.get("status") == "ok", body


def test_health_is_never_rate_limited(server):
    codes = collections.Counter(server.get("/health").status_code for _ in range(300))
    assert codes == {200: 300}, f"statuses of 300 quick /health calls: {dict(codes)}"


def test_health_is_not_logged_at_info_on_every_call(server):
    if server.proc is None:
        pytest.skip("needs the stdout of a server the suite started")
    before = len(server.proc.stdout_text())
    rids = [f"hc-{uuid.uuid4().hex}" for _ in range(20)]
    for rid in rids:
        expect_json(server.get("/health", headers={"X-Request-ID": rid}), 200)
    time.sleep(0.3)  # an asynchronous logger may lag a little
    new = server.proc.stdout_text()[before:].splitlines()
    logged = [line for line in new if "/health" in line or any(r in line for r in rids)]
    assert len(logged) < len(rids), (
        f"{len(logged)} log lines at LOG_LEVEL=info for {len(rids)} /health calls, "
        f"e.g. {logged[:2]}")
