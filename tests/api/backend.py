# SPDX-License-Identifier: MIT
"""The database under each server the suites start. LNK_TEST_BACKEND picks
the backend: `sqlite` (the default) gives every server a SQLite file;
`postgres` gives it a database of its own on one private PostgreSQL server
(scripts/pg-test-server.sh), created on first use and dropped after the test.

Tests name a database by a path, as they always have (`tmp_path / "x.db"`,
LinkdProcess.db_path): url(path) is its DATABASE_URL on either backend, so a
test that imports into a database and then serves it, or restarts a server
on the database of another, runs unchanged on both.

The PostgreSQL server is the one in LNK_TEST_PG_DIR when set (with
LNK_TEST_PG_URL and LNK_TEST_PG_ADMIN_URL: `pg-test-server.sh run` sets
them); otherwise the first use starts one in a temporary directory, removed
when the process exits."""

import atexit
import os
import queue
import secrets
import sqlite3
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BACKEND = (os.environ.get("LNK_TEST_BACKEND") or "sqlite").strip().lower()
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"LNK_TEST_BACKEND={BACKEND!r}: expected sqlite or postgres")
IS_PG = BACKEND == "postgres"

PG_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-test-server.sh"


def sqlite_only(why):
    """Marks a test that is about SQLite itself (its file, its WAL): skipped
    on PostgreSQL, with the reason."""
    return pytest.mark.skipif(IS_PG, reason=f"SQLite only: {why}")


def _pg():
    import psycopg2  # Debian's python3-psycopg2 (scripts/install-deps.sh pg)

    return psycopg2


# ---------------------------------------------------------------- the server


class PgServer:
    """A private PostgreSQL server in a directory of scripts/pg-test-server.sh.
    stop() and start() stop and restart it on the same port (fault tests)."""

    def __init__(self, directory, url=None, admin_url=None, owned=False):
        self.dir = Path(directory)
        self.url = url or self._script("url")
        self.admin_url = admin_url or self._script("admin-url")
        self.owned = owned  # started here, so cleaned up here

    @classmethod
    def create(cls):
        d = tempfile.mkdtemp(prefix="linkd-pg.", dir="/tmp")
        r = subprocess.run([str(PG_SCRIPT), "start", d], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            subprocess.run([str(PG_SCRIPT), "clean", d], capture_output=True, timeout=120)
            raise RuntimeError(f"pg-test-server.sh start failed:\n{r.stderr}")
        return cls(d, owned=True)

    def _script(self, cmd):
        r = subprocess.run([str(PG_SCRIPT), cmd, str(self.dir)], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pg-test-server.sh {cmd} {self.dir} failed (exit "
                               f"{r.returncode}):\n{r.stderr}{r.stdout}")
        return r.stdout.strip()

    def stop(self):
        """pg_ctl stop -m fast: sessions are ended, the cluster kept."""
        self._script("stop")

    def start(self):
        """Starts it again, on the same port, and waits until it answers."""
        self._script("start")

    def clean(self):
        subprocess.run([str(PG_SCRIPT), "clean", str(self.dir)], capture_output=True,
                       timeout=120)

    def log_tail(self, n=40):
        try:
            lines = (self.dir / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def connect(self, url=None, admin=False):
        """A psycopg2 connection in autocommit mode (to url, or to the
        server's own database)."""
        con = _pg().connect(url or (self.admin_url if admin else self.url), connect_timeout=10)
        con.autocommit = True
        return con

    def database_url(self, name):
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))


_server = None
_server_lock = threading.Lock()


def pg_server():
    """The PostgreSQL server of this process (see the module's doc)."""
    global _server
    with _server_lock:
        if _server is None:
            d = os.environ.get("LNK_TEST_PG_DIR")
            if d:
                _server = PgServer(d, os.environ.get("LNK_TEST_PG_URL"),
                                   os.environ.get("LNK_TEST_PG_ADMIN_URL"))
            else:
                _server = PgServer.create()
                atexit.register(_server.clean)
        return _server


# ---------------------------------------------------------------- databases


class _Databases:
    """path -> database name on the PostgreSQL server. A database is made
    when its path is first named and dropped by drop_since() or drop_all();
    drops run on a thread of their own (each one waits for a checkpoint)."""

    def __init__(self):
        self.names = {}  # str(path) -> name, in creation order
        self.lock = threading.Lock()
        self.prefix = f"lnk_{secrets.token_hex(3)}_"
        self.made = 0
        self.drops = queue.Queue()
        self.dropper = None
        self.drop_errors = []

    def name(self, path):
        key = str(path)
        with self.lock:
            name = self.names.get(key)
            if name is None:
                self.made += 1
                name = f"{self.prefix}{self.made}"
                con = pg_server().connect()
                try:
                    with con.cursor() as cur:
                        cur.execute(f'CREATE DATABASE "{name}"')
                finally:
                    con.close()
                self.names[key] = name
        return name

    def known(self, path):
        with self.lock:
            return self.names.get(str(path))

    def mark(self):
        with self.lock:
            return len(self.names)

    def drop_since(self, mark):
        with self.lock:
            keys = list(self.names)[mark:]
            for k in keys:
                self._queue_drop(self.names.pop(k))

    def drop(self, path):
        with self.lock:
            name = self.names.pop(str(path), None)
            if name:
                self._queue_drop(name)

    def drop_all(self):
        self.drop_since(0)
        if self.dropper is not None:
            self.drops.put(None)
            self.dropper.join(300)
            self.dropper = None
        errors, self.drop_errors = self.drop_errors, []
        return errors

    def _queue_drop(self, name):
        if self.dropper is None:
            self.dropper = threading.Thread(target=self._drop_loop, daemon=True)
            self.dropper.start()
        self.drops.put(name)

    def _drop_loop(self):
        while True:
            name = self.drops.get()
            if name is None:
                return
            try:
                # as the superuser: FORCE also ends an autovacuum worker there
                con = pg_server().connect(admin=True)
                try:
                    with con.cursor() as cur:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    con.close()
            except Exception as e:  # reported by drop_all
                self.drop_errors.append(f"DROP DATABASE {name}: {e}")


_dbs = _Databases()


def url(path):
    """DATABASE_URL of the database named by path."""
    return pg_url(path) if IS_PG else f"sqlite:///{path}"


def pg_url(path):
    """DATABASE_URL of the PostgreSQL database named by path, whatever the
    backend of the suite (tests about PostgreSQL itself)."""
    return pg_server().database_url(_dbs.name(path))


def pg_query(path, sql, params=()):
    """Rows of one statement (autocommit, `%s` placeholders) on the
    PostgreSQL database named by path."""
    con = pg_server().connect(pg_url(path))
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


def used(path):
    """Whether linkd made its tables in the database named by path (SQLite:
    the file exists)."""
    if not IS_PG:
        return Path(path).exists()
    if _dbs.known(path) is None:
        return False
    return bool(pg_query(path, "SELECT to_regclass('public.users') IS NOT NULL")[0][0])


def query(path, sql, params=()):
    """Rows of one statement on the database named by path. Placeholders
    are `?` on both backends."""
    if not IS_PG:
        con = sqlite3.connect(path)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
    return pg_query(path, sql.replace("?", "%s"), params)


def execute(path, sql, params=()):
    """Runs one statement on the database named by path and commits it."""
    if not IS_PG:
        con = sqlite3.connect(path)
        try:
            con.execute(sql, params)
            con.commit()
        finally:
            con.close()
        return
    query(path, sql, params)


def take_away(path):
    """Takes the database named by path away from the servers using it.
    SQLite: the file is removed (linkd rescues what it holds open).
    PostgreSQL: the database refuses new connections and every session on
    it is ended, as when its server goes away; give_back() undoes it."""
    if not IS_PG:
        os.unlink(path)
        return
    name = _dbs.name(path)
    con = pg_server().connect(admin=True)
    try:
        with con.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    finally:
        con.close()


def give_back(path):
    """PostgreSQL: the database named by path accepts connections again."""
    if IS_PG:
        con = pg_server().connect(admin=True)
        try:
            with con.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{_dbs.name(path)}" WITH ALLOW_CONNECTIONS true')
        finally:
            con.close()


# Databases are made on either backend by the pg_ functions; these drop them.


def mark():
    return _dbs.mark()


def drop_since(m):
    """Drops the databases made since mark() returned m."""
    _dbs.drop_since(m)


def drop(path):
    _dbs.drop(path)


def drop_all():
    """Drops every database still here, waits for the drops, and returns
    their errors."""
    return _dbs.drop_all()


def database_name(path):
    """The PostgreSQL database of path (made if new)."""
    return _dbs.name(path)


def describe():
    """One line for the suite's header."""
    if not IS_PG:
        return "backend: sqlite (a file per server)"
    s = pg_server()
    port = urlsplit(s.url).port
    return f"backend: postgres (a database per server on 127.0.0.1:{port}, cluster {s.dir})"
