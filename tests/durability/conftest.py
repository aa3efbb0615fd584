# SPDX-License-Identifier: MIT
"""Fixtures for the durability tests (docs/durability.md): the real binary
from LINKD_BIN on a database in a temporary directory or on a tmpfs."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from durable import mount_tmpfs, reap, require_root, umount  # noqa: E402
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
