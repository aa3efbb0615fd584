# SPDX-License-Identifier: MIT
"""REDIS_URL at start: AUTH and SELECT from the URL, a refused password is
a clear error at start (exit 1), an unusable URL too, and the password
never reaches stdout or stderr, whatever happens. docs/monitoring.md names
every family a node with Redis exports."""

import re
import sys
from pathlib import Path

import pytest

from apiclient import expect
from conftest import NODE_ENV, new_link, wait_until
from linkdproc import linkd_env, run_linkd
from redisproc import _encode, _Reader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))

SECRET = "s3cret-Pa55:word"  # a ':' inside, as passwords may have


def test_auth_and_select_come_from_the_url(cluster):
    redis = cluster.redis(password=SECRET)
    url = f"redis://:{SECRET.replace(':', '%3A')}@127.0.0.1:{redis.port}/3"
    node = cluster.node(url)
    link = new_link(node)
    expect(node.c.get("/" + link["short_code"]), 302)
    with redis.connect() as s:
        s.sendall(_encode(["SELECT", "3"]) + _encode(["EXISTS", f"linkd:link:{link['short_code']}"]))
        reader = _Reader(s)
        assert reader.reply() == "OK"
        assert reader.reply() == 1, "the link went to db 3"
    assert redis.call("EXISTS", f"linkd:link:{link['short_code']}") == 0, "not to db 0"
    assert redis.subscribers("linkd:invalidate:3") == 1, "the channel names the db"
    node.stop()
    out = node.proc.stdout_text() + node.proc.stderr_text()
    assert SECRET not in out and "s3cret" not in out
    assert f"redis://:***@127.0.0.1:{redis.port}/3" in out, "the URL is shown, redacted"


@pytest.mark.parametrize("auth,said", [(f":wrong-{SECRET}@", r"WRONGPASS|invalid"),
                                       ("", r"NOAUTH")], ids=["wrong", "missing"])
def test_a_wrong_password_stops_the_start_with_a_clear_error(cluster, tmp_path, auth, said):
    redis = cluster.redis(password=SECRET)
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
                    REDIS_URL=f"redis://{auth}127.0.0.1:{redis.port}/0",
                    **{k: str(v) for k, v in NODE_ENV.items()})
    r = run_linkd(["serve"], env=env, timeout_s=30, cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert '"event":"auth_failed"' in out and '"event":"open_failed"' in out, out
    assert re.search(said, out), out
    assert "s3cret" not in out, out


def test_a_password_never_reaches_the_logs_even_when_redis_fails(cluster):
    redis = cluster.redis(password=SECRET)
    node = cluster.node(redis.url)
    link = new_link(node)
    expect(node.c.get("/" + link["short_code"]), 302)
    redis.kill()
    wait_until("the node noticed", lambda: node.metric("dependency_up", "redis") == 0)
    expect(node.c.get("/health"), 200)
    redis.start()
    wait_until("reconnected", lambda: node.metric("dependency_up", "redis") == 1)
    node.stop()
    out = node.proc.stdout_text() + node.proc.stderr_text()
    assert '"event":"connection_lost"' in out
    assert "s3cret" not in out, "the password leaked into the output"


def test_unusable_urls_are_refused_at_start_without_echoing_them(tmp_path):
    for url, why in [("rediss://:s3cret@127.0.0.1:6379/0", "TLS"),
                     ("redis://:s3cret@127.0.0.1:99999/0", "port"),
                     ("redis://:s3cret@127.0.0.1:6379/x", "database"),
                     ("http://:s3cret@127.0.0.1:6379", "redis://")]:
        env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
                        REDIS_URL=url)
        r = run_linkd(["serve"], env=env, timeout_s=30, cwd=tmp_path)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (url, out)
        assert why in out, (url, out)
        assert "s3cret" not in out, (url, out)


def test_the_monitoring_docs_name_every_family_of_a_node_with_redis(cluster):
    from monlib import MONITORING_DOC, families
    redis = cluster.redis()
    node = cluster.node(redis.url)
    link = new_link(node)
    expect(node.c.get("/" + link["short_code"]), 302)
    text = expect(node.c.get("/metrics"), 200).text
    got = families(text)
    for name in ("linkd_redis_subscribed", "linkd_redis_command_duration_seconds",
                 "linkd_cache_redis_hits_total", "linkd_cache_store_reads_total"):
        assert name in got, name
    assert 'linkd_dependency_up{dependency="redis"} 1' in text
    doc = MONITORING_DOC.read_text()
    missing = [f for f in got if f"`{f}`" not in doc]
    assert not missing, f"docs/monitoring.md does not describe {missing}"
