# SPDX-License-Identifier: MIT
"""One cluster (clusterlib.py) for the module: PostgreSQL, Redis, three
nodes and nginx, stopped by PID at the end; a node's unclean exit fails."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clusterlib import Cluster  # noqa: E402
from linkdproc import require_binary  # noqa: E402  (tests/api, through clusterlib)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_binary()
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        problems = c.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
