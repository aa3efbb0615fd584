# SPDX-License-Identifier: MIT
"""Country rules against a real MaxMind DB (LINKD_GEOIP_DB), written by the
mkmmdb tool the build makes (LNK_MKMMDB). The client address comes from
X-Forwarded-For, the server trusting the loopback proxy."""

import os
import subprocess

import pytest

from apiclient import expect, expect_json
from linkdproc import db_url, linkd_env, run_linkd

MKMMDB = os.environ.get("LNK_MKMMDB")

pytestmark = pytest.mark.skipif(not MKMMDB, reason="LNK_MKMMDB (the mkmmdb tool) is not set")


def mmdb(tmp_path):
    path = tmp_path / "geo.mmdb"
    subprocess.run([MKMMDB, str(path), "192.0.2.0/24=DE", "198.51.100.0/25=AT",
                    "2001:db8::/32=FR"], check=True, timeout=30)
    return path


def test_country_rules_follow_the_clients_address(linkd, tmp_path):
    c = linkd.start(env={"LINKD_GEOIP_DB": str(mmdb(tmp_path)),
                         "LINKD_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"})
    u = expect_json(c.post("/users", json={"username": "geo", "email": "geo@example.com"}), 201)
    link = expect_json(c.post("/api/v1/links", json={
        "url": "https://example.com/world", "user_id": u["id"],
        "rules": [{"url": "https://example.com/dach", "country": ["DE", "at"]},
                  {"url": "https://example.com/fr", "country": ["FR"]}]}), 201)
    assert link["rules"][0]["country"] == ["DE", "AT"], "countries are stored upper-case"
    cases = [("192.0.2.44", "https://example.com/dach"),
             ("198.51.100.5", "https://example.com/dach"),
             ("198.51.100.200", "https://example.com/world"),  # outside the /25
             ("2001:db8::1", "https://example.com/fr"),
             ("203.0.113.9", "https://example.com/world")]
    for ip, want in cases * 2:  # a miss, then a cache hit
        r = expect(c.get("/" + link["code"], headers={"X-Forwarded-For": ip}), 302)
        assert r.headers["Location"] == want, ip


def test_a_geoip_file_that_cannot_be_read_stops_the_start(tmp_path):
    env = linkd_env(DATABASE_URL=db_url(tmp_path / "g.db"), LINKD_LISTEN="127.0.0.1:0",
                    LINKD_GEOIP_DB=str(tmp_path / "missing.mmdb"))
    r = run_linkd(["serve"], env=env, timeout_s=60)
    assert r.returncode == 1
    assert '"event":"geoip_open_failed"' in r.stdout + r.stderr
    (tmp_path / "bad.mmdb").write_bytes(b"not a database" * 100)
    env["LINKD_GEOIP_DB"] = str(tmp_path / "bad.mmdb")
    r = run_linkd(["serve"], env=env, timeout_s=60)
    assert r.returncode == 1 and "not a MaxMind DB" in r.stdout + r.stderr
