# SPDX-License-Identifier: MIT
"""Fixtures for the black-box API tests: the real `linkd serve` on a temporary
database and an ephemeral port (or LNK_TEST_BASE_URL), read through HTTP
only. The database is a SQLite file, or with LNK_TEST_BACKEND=postgres a
PostgreSQL database of its own (backend.py). Every process the suite starts
must exit 0 on SIGTERM within 15 s and leave no sanitizer report on stderr."""

import pytest

import backend
from apiclient import BASE_URL, SEED_DIR, Client, Seed
from linkdproc import LinkdFactory, LinkdProcess, require_binary, tail

_session_procs = []  # the session server, watched after every test


def pytest_report_header(config):
    return None if BASE_URL else backend.describe()


def pytest_sessionfinish(session, exitstatus):
    errors = backend.drop_all()
    if errors:
        print("\n".join(["", "databases left behind:", *errors]))


@pytest.fixture(autouse=True)
def _databases_of_the_test():
    """Drops the databases a test made (PostgreSQL), once its servers are
    stopped: this fixture is set up before, so torn down after, theirs.
    Databases of session and module fixtures were made before it started."""
    mark = backend.mark()
    yield
    backend.drop_since(mark)


@pytest.fixture(scope="session")
def seed():
    return Seed(SEED_DIR)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server, seeded from LNK_SEED_DIR. Tests that use it add rows
    of their own and never change or delete seed rows."""
    if BASE_URL:
        yield Client(BASE_URL)
        return
    require_binary()
    # every test is one client here: its password guesses over all links
    # must not run into the budget one real client has (a test of that
    # budget runs a server of its own)
    p = LinkdProcess(tmp_path_factory.mktemp("session"), seed_dir=SEED_DIR, name="session",
                     env={"LINKD_PASSWORD_GUESSES": 100000})
    p.start()
    _session_procs.append(p)
    store = p.client().get("/health").json()["checks"]["store"]
    assert store["backend"] == backend.BACKEND, f"LNK_TEST_BACKEND={backend.BACKEND}: {store}"
    try:
        yield p.client()
    finally:
        _session_procs.remove(p)
        problem = p.stop()
        if problem:
            pytest.fail("session server: " + problem, pytrace=False)


@pytest.fixture
def linkd(tmp_path):
    """Factory for private servers (process-level tests)."""
    if BASE_URL:
        pytest.skip("process-level test; LNK_TEST_BASE_URL points at an external server")
    require_binary()
    f = LinkdFactory(tmp_path)
    yield f
    problems = f.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def fresh_server(linkd):
    """A private server on an empty database."""
    return linkd.start()


@pytest.fixture(autouse=True)
def _session_server_survives():
    yield
    for p in _session_procs:
        if not p.alive():
            pytest.fail(f"the session server died (exit {p.proc.returncode})\n"
                        f"stderr tail:\n{tail(p.stderr_path, 60)}", pytrace=False)
