# SPDX-License-Identifier: MIT
"""The write timeout (--write-timeout-s, LINKD_WRITE_TIMEOUT_S; docs/security.md): a client that
sends requests and never reads the answers is disconnected once it has left
a response unread for the timeout, the disconnection is counted in
linkd_http_write_timeouts_total, and the worker serves other clients all
along. Raw sockets; one worker, so the stuck connection and the others share
its loop."""

import socket
import time

import pytest

from apiclient import expect, expect_json, wait_until
from linkdproc import db_url, linkd_env, run_linkd

WAIT_LIMIT_S = 60  # bounds for a server that never acts, not measurements
EVENTS = b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n"


def metric(client, name):
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def stuck_client(port, n_requests):
    """A connection with a small receive buffer that pipelines n_requests
    GET /events (about 0.6 MB each on the seed) and reads nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(EVENTS * n_requests)
    return s


# tcp_info's first byte is the connection's state (linux/tcp.h).
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8


def ended_by_server(s):
    """Whether the server has shut or reset the connection, seen from the
    client's TCP state, without reading (which would unblock the server)."""
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    return state in (TCP_CLOSE, TCP_CLOSE_WAIT)


def test_client_that_never_reads_is_closed_counted_and_others_are_served(linkd):
    c = linkd.start(seed=True, env={"LINKD_WORKERS": "1"}, args=["--write-timeout-s", "1"])
    s = stuck_client(c.proc.port, 200)
    try:
        deadline, served = time.monotonic() + WAIT_LIMIT_S, 0
        while not ended_by_server(s) and time.monotonic() < deadline:
            body = expect_json(c.get("/health"), 200)  # the same worker, meanwhile
            assert body["status"] == "ok"
            expect_json(c.get("/users", params={"per_page": 1}), 200)
            served += 1
            time.sleep(0.1)
        assert ended_by_server(s), \
            f"the client that reads nothing still had its connection after {WAIT_LIMIT_S} s"
        assert served > 0
    finally:
        s.close()
    assert metric(c, "linkd_http_write_timeouts_total") == 1
    # the log thread writes the line within its flush interval
    wait_until("the write_timeout log line",
               lambda: '"event":"write_timeout"' in c.proc.stdout_text(), timeout_s=5)
    expect(c.get("/health"), 200)


def test_write_timeout_counter_starts_at_zero(fresh_server):
    assert metric(fresh_server, "linkd_http_write_timeouts_total") == 0


@pytest.mark.parametrize("value", ["0", "3601", "soon"])
def test_write_timeout_out_of_range_is_a_usage_error(linkd, tmp_path, value):
    env = linkd_env(LINKD_LISTEN="127.0.0.1:0", DATABASE_URL=db_url(tmp_path / "w.db"),
                    LINKD_WRITE_TIMEOUT_S=value)
    r = run_linkd(["serve"], env=env, timeout_s=15)
    assert r.returncode == 2, f"exit {r.returncode}; stderr {r.stderr!r}"
    assert "LINKD_WRITE_TIMEOUT_S" in r.stderr or "write-timeout" in r.stderr, r.stderr
