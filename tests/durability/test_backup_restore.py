# SPDX-License-Identifier: MIT
"""Backups taken while linkd serves writes, restored as docs/operations.md
says, hold every link acknowledged before the backup started: SQLite with
the sqlite3 shell's `.backup` and `VACUUM INTO`, PostgreSQL with
`pg_dump -Fc` and `pg_restore`. And a binary older than its database's
schema refuses to start and leaves the database as it was (the rollback
rule of docs/operations.md)."""

import os
import subprocess
import time
from pathlib import Path

import pytest

import backend
from durable import CreateLoad, Server, new_user, report, wait_for
from linkdproc import LINKD_BIN, linkd_env

N_BEFORE = 300  # creates acknowledged before the backup starts
PG_BIN = Path(os.environ.get("LNK_PG_BIN", "/usr/lib/postgresql/15/bin"))


def sh(cmd, timeout_s=120):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def backup_under_load(server, take):
    """Creates links from 8 threads, runs take() once N_BEFORE are
    acknowledged, goes on a little, and returns (acknowledged before the
    backup started, all acknowledged, seconds take() ran)."""
    uid = new_user(server.client, "backup")
    load = CreateLoad(server, uid, "bk", n_threads=8)
    try:
        wait_for(lambda: len(load.acked) >= N_BEFORE, 120, f"{N_BEFORE} creates acknowledged")
        with load.lock:
            before = list(load.acked)
        t0 = time.monotonic()
        take()
        took = time.monotonic() - t0
        n_at_end = len(load.acked)
        wait_for(lambda: len(load.acked) >= n_at_end + 50, 60, "creates after the backup")
    finally:
        load.finish()
    assert not load.other and not load.errors, (load.other, load.errors)
    return before, list(load.acked), took


def check_restored(server, before, acked, stored):
    """Every link acknowledged before the backup redirects from the restored
    database; every row there that was acknowledged is what the client was
    told; the restored node takes new writes."""
    c = server.session()
    bad = []
    for _, code, url in before:
        r = c.get("/" + code, allow_redirects=False)
        if r.status_code != 302 or r.headers.get("Location") != url:
            bad.append((code, r.status_code, r.headers.get("Location"), url))
    assert not bad, f"{len(bad)} of {len(before)} links missing after the restore: {bad[:5]}"
    told = {i: (code, url) for i, code, url in acked}
    wrong = [(i, row, told[i]) for i, row in stored.items() if i in told and told[i] != row]
    assert not wrong, f"restored rows differ from what was acknowledged: {wrong[:5]}"
    assert len(stored) >= len(before)
    uid = new_user(c, "after-restore")
    r = c.post("/urls", json={"user_id": uid, "original_url": "https://example.com/after"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] not in stored, "a new link reuses a restored id"


SQLITE_BACKUPS = {
    # the commands of docs/operations.md, with the paths of this test
    "dot-backup": lambda db, out: ["sqlite3", str(db), ".timeout 5000", f".backup '{out}'"],
    "vacuum-into": lambda db, out: ["sqlite3", str(db), ".timeout 5000", f"VACUUM INTO '{out}'"],
}


@pytest.mark.parametrize("how", sorted(SQLITE_BACKUPS))
def test_sqlite_backup_under_writes_restores_acknowledged_links(tmp_path, how):
    live = tmp_path / "live"
    live.mkdir()
    db, out = live / "linkd.db", tmp_path / "backup.db"
    server = Server(live, db_path=db)
    before, acked, took = backup_under_load(server, lambda: sh(SQLITE_BACKUPS[how](db, out)))
    server.stop()
    assert sh(["sqlite3", str(out), "PRAGMA integrity_check"]).strip() == "ok"
    # restore: linkd stopped, the old file and its -wal and -shm replaced
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    out.rename(db)
    restored = Server(live, db_path=db)
    rows = sh(["sqlite3", "-separator", "\t", str(db),
               "SELECT id, short_code, original_url FROM urls"]).splitlines()
    stored = {int(i): (code, url) for i, code, url in (r.split("\t") for r in rows)}
    check_restored(restored, before, acked, stored)
    restored.stop()
    report(f"sqlite_backup_{how}", seconds=round(took, 3), acked_before=len(before),
           acked_total=len(acked), rows_in_backup=len(stored))


@pytest.mark.postgres
def test_pg_dump_under_writes_restores_acknowledged_links(pg_db, tmp_path):
    dump = tmp_path / "linkd.dump"
    server = Server(tmp_path, database_url=pg_db.url)
    before, acked, took = backup_under_load(
        server, lambda: sh([str(PG_BIN / "pg_dump"), "-Fc", "-f", str(dump), pg_db.url]))
    server.stop()
    target = tmp_path / "restored.pg"
    url = backend.pg_url(target)  # an empty database, as `createdb` makes
    try:
        sh([str(PG_BIN / "pg_restore"), "--no-owner", "-d", url, str(dump)])
        restored = Server(tmp_path, database_url=url)
        stored = {i: (code, u) for i, code, u in backend.pg_query(
            target, "SELECT id, short_code, original_url FROM urls")}
        check_restored(restored, before, acked, stored)
        restored.stop()
    finally:
        backend.drop(target)
    report("pg_dump", seconds=round(took, 3), acked_before=len(before), acked_total=len(acked),
           rows_in_dump=len(stored))


def start_fails(url, cwd):
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=url, LINKD_WORKERS=1)
    return subprocess.run([str(LINKD_BIN), "serve"], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def check_refused(r):
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert '"event":"open_failed"' in r.stdout, r.stdout
    assert "the database schema is newer than this linkd" in r.stdout, r.stdout
    assert '"event":"listening"' not in r.stdout, r.stdout


def test_sqlite_newer_schema_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "linkd.db"
    server = Server(tmp_path, db_path=db)
    new_user(server.client, "schema")
    server.stop()
    version = int(sh(["sqlite3", str(db), "PRAGMA user_version"]))
    assert version > 0
    newer = version + 1  # what a later release's migration leaves
    sh(["sqlite3", str(db), f"PRAGMA user_version = {newer}"])
    check_refused(start_fails(f"sqlite://{db}", tmp_path))
    assert int(sh(["sqlite3", str(db), "PRAGMA user_version"])) == newer
    assert sh(["sqlite3", str(db), "SELECT username FROM users"]).strip() == "schema"


@pytest.mark.postgres
def test_pg_newer_schema_is_refused_and_left_alone(pg_db, tmp_path):
    server = Server(tmp_path, database_url=pg_db.url)
    new_user(server.client, "schema")
    server.stop()
    version = pg_db.scalar("SELECT max(version) FROM linkd_schema")
    backend.pg_query(pg_db.key, "INSERT INTO linkd_schema (version) VALUES (%s)", (version + 1,))
    check_refused(start_fails(pg_db.url, tmp_path))
    assert pg_db.scalar("SELECT max(version) FROM linkd_schema") == version + 1
    assert pg_db.scalar("SELECT count(*) FROM users") == 1
