# SPDX-License-Identifier: MIT
"""A client that pipelines requests and then resets its connection
(docs/security.md): the requests it left behind are not run, and the worker
is free for others at once. libh2o 2.2.5 alone ran every one of them, its
worker answering no one else meanwhile. Raw sockets; one worker."""

import socket
import struct

from apiclient import expect_json

# a page: answered in one piece, not streamed (a list streamed to a client
# that left is cut short by the list itself, tests/api/test_hardening.py)
EVENTS = b"GET /events?page=1&per_page=200 HTTP/1.1\r\nHost: x\r\n\r\n"
N_PIPELINED = 300


def requests_count(client, route, status):
    want = f'http_requests_total{{method="GET",route="{route}",status="{status}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(want):
            return float(line.split()[1])
    return 0.0


def test_requests_pipelined_by_a_client_that_reset_are_not_run(linkd):
    c = linkd.start(seed=True, env={"LINKD_WORKERS": "1"})
    s = socket.create_connection(("127.0.0.1", c.proc.port), timeout=30)
    try:
        s.sendall(EVENTS * N_PIPELINED)
        assert s.recv(1) == b"H", "the server started answering"
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        s.close()  # with no linger: a reset
    # One worker: this is answered once it has left that connection's queue.
    assert expect_json(c.get("/health"), 200)["status"] == "ok"
    ran = requests_count(c, "/events", "200")
    assert 1 <= ran < N_PIPELINED, f"{ran:.0f} of {N_PIPELINED} pipelined requests ran"
    # The reset lands either between two requests (none is cut) or during
    # one, which finds the client gone: never more than one.
    assert requests_count(c, "unmatched", "4xx") <= 1, "more than one request found the client gone"
