# SPDX-License-Identifier: MIT
"""HTTP framing (docs/security.md, "HTTP framing and errors"; RFC 9112 §3.2,
§5.2, §6.1, §6.3): a request whose body length a proxy could read
differently, a folded header line, or an HTTP/1.1 request without exactly one
Host is answered 400 JSON and its connection closed, so bytes after it are
never run as a request. Raw sockets: each case is sent together with a
request that would create a user, and that user must not exist afterwards."""

import json

import pytest

from apiclient import check_raw_json_error, expect_json, raw_converse, uniq

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


# ------------------------------------------------------------------ helpers


def converse(client, data):
    return raw_converse(client.base_url, data)


def create_user_request(name):
    """A whole request that creates user `name`: the smuggled one."""
    body = json.dumps({"username": name, "email": f"{name}@example.com"}).encode()
    return (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def user_exists(client, name):
    return name in {u["username"] for u in expect_json(client.get("/users"), 200)}


def check_rejected_and_closed(client, head_and_body, *words, after_valid=False):
    """Sends [a served request,] the bad one and a request creating a user,
    all at once: one 400 JSON answers the bad request, nothing answers what
    follows it, the connection is closed and the user was not created."""
    name = uniq("smuggled_")
    data = (HEALTH if after_valid else b"") + head_and_body + create_user_request(name)
    responses, closed, rest = converse(client, data)
    if after_valid:
        assert responses and responses[0][0] == 200, responses
        responses = responses[1:]
    assert len(responses) == 1, f"expected one answer, got {len(responses)}: {responses}"
    status, headers, body = responses[0]
    check_raw_json_error(status, headers, body, 400, *words)
    assert headers.get("connection", "").lower() == "close", headers
    assert closed, "the connection stayed open after the 400"
    assert rest == b"", f"bytes after the 400: {rest!r}"
    assert not user_exists(client, name), "the request after the rejected one was run"


POSITIONS = pytest.mark.parametrize("after_valid", [False, True],
                                    ids=["first-request", "after-a-served-request"])


# ------------------------------------------------------- ambiguous framing


@POSITIONS
@pytest.mark.parametrize("order", ["length-first", "coding-first"])
def test_content_length_with_transfer_encoding_is_400_and_closes(server, after_valid, order):
    framing = [b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"]
    if order == "coding-first":
        framing.reverse()
    bad = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           b"".join(framing) + b"\r\n0\r\n\r\n")
    check_rejected_and_closed(server, bad, "Content-Length", "Transfer-Encoding",
                              after_valid=after_valid)


@POSITIONS
def test_two_different_content_lengths_are_400_and_close(server, after_valid):
    # The first length ends the body where the smuggled request begins; the
    # second covers it. A proxy that keeps the last sees one request only.
    name = uniq("smuggled_")
    rest = create_user_request(name)
    bad = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (2 + len(rest)))
    check_rejected_and_closed(server, bad, "Content-Length", after_valid=after_valid)


@POSITIONS
def test_longer_content_length_first_is_400_and_closes(server, after_valid):
    smuggled = create_user_request(uniq("smuggled_"))
    bad = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nContent-Length: 2\r\n\r\n{}" % (2 + len(smuggled)))
    responses, closed, _ = converse(server, (HEALTH if after_valid else b"") + bad + smuggled)
    if after_valid:
        assert responses and responses[0][0] == 200, responses
        responses = responses[1:]
    assert len(responses) == 1, responses
    check_raw_json_error(*responses[0], 400, "Content-Length")
    assert closed, "the connection stayed open after the 400"


@POSITIONS
def test_two_transfer_encodings_are_400_and_close(server, after_valid):
    bad = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    check_rejected_and_closed(server, bad, "Transfer-Encoding", after_valid=after_valid)


# --------------------------------------------------- folding and Host


@POSITIONS
@pytest.mark.parametrize("fold", [b" ", b"\t"], ids=["space", "tab"])
def test_obs_fold_is_400_and_closes(server, after_valid, fold):
    bad = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n" + fold + b"b\r\n\r\n"
    check_rejected_and_closed(server, bad, "fold", after_valid=after_valid)


@POSITIONS
def test_http11_without_host_is_400_and_closes(server, after_valid):
    check_rejected_and_closed(server, b"GET /health HTTP/1.1\r\n\r\n", "Host",
                              after_valid=after_valid)


@POSITIONS
def test_two_hosts_are_400_and_close(server, after_valid):
    bad = b"GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"
    check_rejected_and_closed(server, bad, "Host", after_valid=after_valid)


# ------------------------------------------------ what is still accepted


def test_http10_without_host_is_served(server):
    responses, closed, _ = converse(server, b"GET /health HTTP/1.0\r\n\r\n")
    assert [r[0] for r in responses] == [200], responses
    assert json.loads(responses[0][2])["status"] == "ok"
    assert closed


def test_pipelined_requests_are_all_answered(server):
    last = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    responses, closed, rest = converse(server, HEALTH * 3 + last)
    assert [r[0] for r in responses] == [200] * 4, responses
    assert closed and rest == b""


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_one_framing_header_still_frames_a_body(server, framing):
    name = uniq("framed_")
    body = json.dumps({"username": name, "email": f"{name}@example.com"}).encode()
    if framing == "length":
        head, payload = b"Content-Length: %d\r\n" % len(body), body
    else:
        head = b"Transfer-Encoding: chunked\r\n"
        payload = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    req = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head +
           b"Connection: close\r\n\r\n" + payload)
    responses, closed, _ = converse(server, req)
    assert len(responses) == 1 and responses[0][0] == 201, responses
    assert json.loads(responses[0][2])["username"] == name
    assert closed and user_exists(server, name)
