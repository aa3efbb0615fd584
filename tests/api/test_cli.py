# SPDX-License-Identifier: MIT
"""The command line: help, usage errors (exit 2), flags as an alternative to
the environment, JSON log lines on stdout."""

import json

import pytest

import backend
from apiclient import BASE_URL, expect_json, new_user
from linkdproc import db_url, linkd_env, run_linkd

pytestmark = pytest.mark.skipif(bool(BASE_URL), reason="process-level test; LNK_TEST_BASE_URL set")


def test_help(tmp_path):
    r = run_linkd(["--help"], timeout_s=10)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "serve" in out and "import" in out, out


def test_serve_help(tmp_path):
    r = run_linkd(["serve", "--help"], timeout_s=10)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    for flag in ("--listen", "--database", "--workers", "--log-level", "--seed"):
        assert flag in out, f"{flag} missing from `linkd serve --help`"


@pytest.mark.parametrize("args", [
    ["--bogus"], ["serve", "--bogus"], ["serve", "--workers", "abc"], ["serve", "--workers"],
    ["serve", "--workers", "-1"], ["serve", "--log-level", "loud"], ["import", "--bogus", "x"],
    ["serve", "--log-format", "xml"], ["config"], ["config", "--markdown", "x"],
], ids=" ".join)
def test_usage_errors_exit_2_with_one_line(tmp_path, args):
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=db_url(tmp_path / "u.db"))
    r = run_linkd(args, env=env, timeout_s=15)
    assert r.returncode == 2, f"exit {r.returncode}; stderr {r.stderr!r}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one error line: {r.stderr!r}"


def test_serve_configured_by_flags(linkd, tmp_path):
    db = tmp_path / "flags.db"
    c = linkd.start(by_env=False, args=["--listen", "127.0.0.1:0", "--database", db_url(db),
                                        "--workers", "1", "--log-level", "info"])
    assert expect_json(c.get("/health"), 200).get("status") == "ok"
    new_user(c)
    assert backend.used(db), "--database was not used"


def test_flags_override_environment(linkd, tmp_path):
    db = tmp_path / "flag-wins.db"
    env_db = tmp_path / "env-loses.db"
    c = linkd.start(env={"DATABASE_URL": db_url(env_db)}, args=["--database", db_url(db)])
    new_user(c)
    assert backend.used(db) and not backend.used(env_db)


def test_stdout_is_json_lines(fresh_server):
    for path in ("/health", "/users", "/no/such/route"):
        fresh_server.get(path)
    new_user(fresh_server)
    fresh_server.proc.stop()  # flushes the log; exit status checked at teardown
    lines = [l for l in fresh_server.proc.stdout_text().splitlines() if l.strip()]
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert "level" in obj and "event" in obj, line


@pytest.mark.parametrize("url", [
    "postgres://linkd:hunter2@127.0.0.1:1/linkd",
    "postgres://127.0.0.1:1/linkd?user=linkd&password=hunter2",
], ids=["userinfo", "query"])
@pytest.mark.parametrize("command", [["serve"], ["import", "."], ["keys", "list"]], ids=" ".join)
def test_a_database_password_never_reaches_the_output(tmp_path, url, command):
    """Nothing listens on port 1: the store cannot open, and says where it
    tried without the password."""
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=url)
    r = run_linkd(command, env=env, timeout_s=30, cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "hunter2" not in out, out
    assert "***" in out, f"the location is shown, redacted: {out!r}"
