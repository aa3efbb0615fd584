# SPDX-License-Identifier: MIT
"""Fixtures for the durability tests (docs/durability.md): the real binary
from LINKD_BIN on a database in a temporary directory or on a tmpfs, or (the
tests marked postgres) on a database of the private PostgreSQL server."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from durable import mount_tmpfs, reap, require_root, umount  # noqa: E402
import backend  # noqa: E402,I100  (tests/api, put on the path by durable)
from linkdproc import require_binary  # noqa: E402


@pytest.fixture(autouse=True)
def _binary():
    if os.environ.get("LNK_TEST_BASE_URL"):
        pytest.skip("process-level test; LNK_TEST_BASE_URL points at an external server")
    require_binary()
    yield
    reap()


@pytest.fixture
def tmpfs(tmp_path):
    """Mounts a small tmpfs for the test and always unmounts it."""
    require_root()
    mounted = []

    def mount(size="16m"):
        path = tmp_path / f"mnt{len(mounted)}"
        mount_tmpfs(path, size)
        mounted.append(path)
        return path

    try:
        yield mount
    finally:
        reap()
        for path in mounted:
            umount(path)


@pytest.fixture
def pg():
    """The private PostgreSQL server (backend.pg_server). A test may stop
    it; it is started again after the test, whatever the outcome."""
    server = backend.pg_server()
    server.start()
    try:
        yield server
    finally:
        reap()
        server.start()


class PgDatabase:
    """A database of its own on the server, for one test."""

    def __init__(self, key):
        self.key = key
        self.url = backend.pg_url(key)

    def query(self, sql, params=()):
        return backend.pg_query(self.key, sql, params)

    def scalar(self, sql, params=()):
        return self.query(sql, params)[0][0]


@pytest.fixture
def pg_db(pg, tmp_path):
    db = PgDatabase(tmp_path / "linkd.pg")
    try:
        yield db
    finally:
        reap()
        backend.drop(db.key)
        errors = backend.drop_all()
        assert not errors, errors
