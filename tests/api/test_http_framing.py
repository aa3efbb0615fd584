# SPDX-License-Identifier: MIT
"""HTTP framing (docs/security.md, "HTTP framing and errors"; RFC 9112 §3.2,
§5.2, §6.1, §6.3): a request whose body length a proxy could read
differently, a folded header line, or an HTTP/1.1 request without exactly one
Host is answered 400 JSON and its connection closed, so bytes after it are
never run as a request. Raw sockets: each case is sent together with a
request that would create a user, and that user must not exist afterwards."""

import json
import socket
from urllib.parse import urlsplit

import pytest

from apiclient import expect_json, is_json_ct, uniq

READ_LIMIT_S = 30  # a bound for a server that never closes, not a measurement
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


# ------------------------------------------------------------------ helpers


def address(client):
    parts = urlsplit(client.base_url)
    return parts.hostname, parts.port


def split_responses(buf):
    """The responses in buf, as (status, headers, body) with lower-cased
    header names, and the bytes left over that do not make a whole one."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(buf) < end + 4 + n:
            return out, buf
        out.append((status, headers, buf[end + 4:end + 4 + n]))
        buf = buf[end + 4 + n:]


def converse(client, data):
    """Sends data on a new connection and reads until the server closes it.
    Returns (responses, whether it closed, bytes that were not a response)."""
    s = socket.create_connection(address(client), timeout=READ_LIMIT_S)
    buf, closed = b"", False
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    responses, rest = split_responses(buf)
    return responses, closed, rest


def create_user_request(name):
    """A whole request that creates user `name`: the smuggled one."""
    body = json.dumps({"username": name, "email": f"{name}@example.com"}).encode()
    return (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def user_exists(client, name):
    return name in {u["username"] for u in expect_json(client.get("/users"), 200)}


def check_json_error(status, headers, body, want_status, *words):
    """A JSON error whose only field is a non-empty "error" naming `words`."""
    assert status == want_status, (status, headers, body)
    assert is_json_ct(headers.get("content-type")), f"not JSON: {headers} {body!r}"
    obj = json.loads(body)
    assert isinstance(obj, dict) and set(obj) == {"error"}, obj
    assert isinstance(obj["error"], str) and obj["error"], obj
    for w in words:
        assert w.lower() in obj["error"].lower(), f"{w!r} not in {obj['error']!r}"
    return obj


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
    check_json_error(status, headers, body, 400, *words)
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
    check_json_error(*responses[0], 400, "Content-Length")
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
