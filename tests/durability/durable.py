# SPDX-License-Identifier: MIT
"""Helpers for the durability tests: the real binary started the way the API
suite starts it (tests/api/linkdproc.py, imported by path), killed or stopped
on purpose, load from client threads that record what the server
acknowledged, and the database read directly with Python's sqlite3 (or
psycopg2, for the tests on PostgreSQL)."""

import concurrent.futures
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

API_DIR = Path(__file__).resolve().parents[1] / "api"
sys.path.insert(0, str(API_DIR))

from apiclient import Client  # noqa: E402  (tests/api, imported by path)
from linkdproc import SANITIZER_MARKS, LinkdProcess, tail  # noqa: E402

FLUSH_MS = 100  # LINKD_CLICK_FLUSH_MS for every server here (the default)
BASE_ENV = {
    # these tests measure durability, not admission control
    "LINKD_RATE_LIMIT": "off",
    "LINKD_AUTH": "off",
    "LINKD_CLICK_FLUSH_MS": str(FLUSH_MS),
    "LOG_LEVEL": "info",
    "LINKD_ACCESS_LOG": "off",
}


def trials(default):
    """How many kill cycles a test runs: LNK_DURABILITY_TRIALS or default."""
    v = os.environ.get("LNK_DURABILITY_TRIALS")
    return max(1, int(v)) if v else default


def report(name, **figures):
    """Prints one JSON line of measured figures (pytest -s shows them; they
    are also appended to $LNK_DURABILITY_REPORT when set)."""
    line = json.dumps({"test": name, **figures}, sort_keys=True)
    print("\nDURABILITY " + line)
    path = os.environ.get("LNK_DURABILITY_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


class Server:
    """One `linkd serve` run on db_path; several runs may share a database."""

    runs = 0
    live = []  # started and not yet killed or stopped; reap() ends them

    def __init__(self, workdir, db_path=None, env=None, database_url=None):
        Server.runs += 1
        self.proc = LinkdProcess(Path(workdir), db_path=Path(db_path) if db_path else None,
                                 env={**BASE_ENV, **(env or {})}, name=f"run{Server.runs}",
                                 database_url=database_url)
        self.proc.start()
        Server.live.append(self)
        self.client = self.proc.client()
        self.base_url = self.proc.base_url

    def session(self):
        return self.client.clone()

    def kill(self):
        """SIGKILL: no drain, no flush. Returns once the process is gone."""
        self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(15)
        self.proc.stopped = True
        Server.live.remove(self)
        err = self.proc.stderr_text()
        bad = [m for m in SANITIZER_MARKS if m in err]
        assert not bad, f"sanitizer report before SIGKILL: {bad}\n{tail(self.proc.stderr_path)}"

    def stop(self):
        """SIGTERM; asserts a clean exit (status 0, no sanitizer report)."""
        problem = self.proc.stop()
        Server.live.remove(self)
        assert problem is None, problem

    def log_events(self):
        out = []
        for line in self.proc.stdout_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


def reap():
    """Kills every server a failed test left running (before its tmpfs is
    unmounted)."""
    while Server.live:
        s = Server.live.pop()
        if s.proc.proc.poll() is None:
            s.proc.proc.kill()
            s.proc.proc.wait(15)
        s.proc.stopped = True


def integrity(db_path):
    """PRAGMA integrity_check of the database as it is on disk now, read
    from a copy (the WAL included) so that the original stays untouched."""
    db_path = Path(db_path)
    d = db_path.parent / f"check-{time.monotonic_ns()}"
    d.mkdir()
    try:
        copy = d / "copy.db"
        shutil.copyfile(db_path, copy)
        wal = Path(str(db_path) + "-wal")
        if wal.exists():
            shutil.copyfile(wal, str(copy) + "-wal")
        con = sqlite3.connect(copy)
        try:
            result = [r[0] for r in con.execute("PRAGMA integrity_check")]
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("users", "urls", "events")}
            clicks = con.execute(
                "SELECT count(*) FROM events WHERE event_type = 'click'").fetchone()[0]
            ids = {r[0] for r in con.execute("SELECT id FROM urls")}
        finally:
            con.close()
        return {"integrity": result, "counts": counts, "clicks": clicks, "url_ids": ids}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_threads(n, target, *args):
    threads = [threading.Thread(target=target, args=(i, *args), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def join_all(threads, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    assert not alive, f"{len(alive)} client threads did not stop"


class _Load:
    """Client threads that run self._run(i) on keep-alive sessions until
    stopped or until the server goes away. Subclasses set their own fields
    before calling __init__, which starts the threads."""

    def __init__(self, n_threads):
        self.errors, self.other = 0, {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.threads = run_threads(n_threads, self._run)

    def _count_error(self):
        with self.lock:
            self.errors += 1

    def _count_other(self, status):
        with self.lock:
            self.other[status] = self.other.get(status, 0) + 1

    def finish(self):
        self.stop.set()
        join_all(self.threads)


class CreateLoad(_Load):
    """Threads POSTing /urls, each with its own keep-alive session. Every 201
    is kept."""

    def __init__(self, server, user_id, tag, n_threads=16):
        self.server, self.user_id, self.tag = server, user_id, tag
        self.acked = []
        super().__init__(n_threads)

    def _run(self, i):
        c = self.server.session()
        n = 0
        while not self.stop.is_set():
            n += 1
            url = f"https://example.com/{self.tag}/{i}/{n}"
            try:
                r = c.post("/urls", json={"user_id": self.user_id, "original_url": url})
            except requests.RequestException:
                self._count_error()
                return
            if r.status_code == 201:
                body = r.json()
                with self.lock:
                    self.acked.append((body["id"], body["short_code"], url))
            else:
                self._count_other(r.status_code)


class RedirectLoad(_Load):
    """Threads GETting /{code} on keep-alive sessions; records the time of
    every 302 received (time.monotonic, after the response arrived)."""

    def __init__(self, server, codes, n_threads=8):
        self.server, self.codes = server, codes
        self.times = []
        super().__init__(n_threads)

    def _run(self, i):
        c = self.server.session()
        rnd = random.Random(i)
        mine = []
        while not self.stop.is_set():
            try:
                r = c.get("/" + rnd.choice(self.codes))
            except requests.RequestException:
                self._count_error()
                break
            if r.status_code == 302:
                mine.append(time.monotonic())
            else:
                self._count_other(r.status_code)
        with self.lock:
            self.times.extend(mine)

    def finish(self):
        super().finish()
        return len(self.times)


def new_user(client, name):
    r = client.post("/users", json={"username": name, "email": f"{name}@example.com"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def new_links(client, user_id, n, tag):
    out = []
    for i in range(n):
        url = f"https://example.com/{tag}/{i}"
        r = client.post("/urls", json={"user_id": user_id, "original_url": url})
        assert r.status_code == 201, r.text
        out.append((r.json()["id"], r.json()["short_code"], url))
    return out


def wait_for(predicate, timeout_s, what, step_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(step_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def health(client):
    r = client.get("/health")
    return r.status_code, r.json()


def mount_tmpfs(path, size):
    """Mounts a tmpfs at path (root only). Fails the test when mount fails."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                        str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"mount -t tmpfs failed as root: {r.stderr.strip()}")


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the test mounts a tmpfs (run `make test` as root)")


def check_redirects(server, links, threads=8):
    """Every (id, code, url) answers GET /{code} with 302 to url; the ones
    that do not, as (code, status, Location, url)."""

    def one(chunk):
        c = server.session()
        bad = []
        for _, code, url in chunk:
            r = c.get("/" + code)
            if r.status_code != 302 or r.headers.get("Location") != url:
                bad.append((code, r.status_code, r.headers.get("Location"), url))
        return bad

    chunks = [links[i::threads] for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return [b for part in ex.map(one, chunks) for b in part]
