# SPDX-License-Identifier: MIT
"""Errors the HTTP layer answers before a request is routed (docs/security.md,
"HTTP framing and errors"; CONTRACT §2: every error is JSON). A head the
parser refuses, a body that cannot be framed, a body over 32 MiB and an
unknown Expect each get a JSON error with the usual headers, and the
connection is closed. Raw sockets."""

import json
import re

import pytest

from apiclient import check_raw_json_error, raw_converse

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
RID_RE = re.compile(r"^[0-9a-f]{16}$")


def answer_and_close(client, data, after_valid=False):
    """The one response to data (after the 200 of a first request when
    after_valid), checked to end the connection."""
    responses, closed, rest = raw_converse(client.base_url, (HEALTH if after_valid else b"") + data)
    if after_valid:
        assert responses and responses[0][0] == 200, responses
        responses = responses[1:]
    assert len(responses) == 1, f"expected one answer, got {responses} and {rest!r}"
    status, headers, body = responses[0]
    assert headers.get("connection", "").lower() == "close", headers
    assert closed, "the connection stayed open after the error"
    assert rest == b"", f"bytes after the answer: {rest!r}"
    return status, headers, body


def check_usual_headers(headers):
    assert RID_RE.match(headers.get("x-request-id", "")), headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("x-frame-options") == "DENY", headers
    assert headers.get("referrer-policy") == "no-referrer", headers


def metric(client, name):
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# ------------------------------------------- heads the parser refuses

UNPARSABLE = {
    "request-line": (b"GARBAGE\r\n\r\n", "malformed"),
    "http-2.0": (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", "malformed"),
    "nul-in-path": (b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n", "malformed"),
    "control-byte": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", "malformed"),
    "bare-cr": (b"GET /health HTTP/1.1\rHost: x\r\n\r\n", "malformed"),
    "no-colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", "malformed"),
    "no-method": (b" /health HTTP/1.1\r\nHost: x\r\n\r\n", "malformed"),
    "no-target": (b"GET  HTTP/1.1\r\nHost: x\r\n\r\n", "malformed"),
    "101-fields": (b"GET /health HTTP/1.1\r\nHost: x\r\n" +
                   b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n", "100 header"),
}


@pytest.mark.parametrize("case", sorted(UNPARSABLE))
def test_unparsable_head_is_400_json_and_closes(server, case):
    data, word = UNPARSABLE[case]
    before = metric(server, "linkd_http_bad_requests_total")
    status, headers, body = answer_and_close(server, data)
    check_raw_json_error(status, headers, body, 400, word)
    check_usual_headers(headers)
    assert metric(server, "linkd_http_bad_requests_total") >= before + 1


def test_oversized_head_is_431_json_before_it_ends(server):
    # More than LINKD_MAX_HEADER_BYTES (16 KiB) and no blank line yet: the
    # answer must not wait for the rest of the head.
    data = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
    status, headers, body = answer_and_close(server, data)
    check_raw_json_error(status, headers, body, 431, "too large")
    check_usual_headers(headers)


@pytest.mark.parametrize("case", ["request-line", "nul-in-path", "101-fields"])
def test_unparsable_head_after_a_served_request_is_400_and_closes(server, case):
    # libh2o parses a keep-alive connection's later heads itself and answers
    # these in text/plain (docs/security.md lists it): status and closing
    # are all that holds here.
    status, _, _ = answer_and_close(server, UNPARSABLE[case][0], after_valid=True)
    assert status == 400


# ---------------------------------- bodies libh2o cannot or will not frame

POST = b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
UNFRAMABLE = {
    "bad-length": (POST + b"Content-Length: abc\r\n\r\n{}", 400, ["Content-Length"]),
    "negative-length": (POST + b"Content-Length: -1\r\n\r\n{}", 400, ["Content-Length"]),
    "bad-chunk": (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400,
                  ["chunked"]),
    "unknown-coding": (POST + b"Transfer-Encoding: gzip\r\n\r\n", 400, ["Transfer-Encoding"]),
    "over-32-mib": (POST + b"Content-Length: %d\r\n\r\n" % (32 * 1024 * 1024 + 1), 413,
                    ["too large", "32 MiB"]),
    "expect": (POST + b"Content-Length: 2\r\nExpect: something\r\n\r\n{}", 417, ["Expect"]),
}


@pytest.mark.parametrize("after_valid", [False, True],
                         ids=["first-request", "after-a-served-request"])
@pytest.mark.parametrize("case", sorted(UNFRAMABLE))
def test_body_framing_errors_are_json_and_close(server, case, after_valid):
    data, want, words = UNFRAMABLE[case]
    status, headers, body = answer_and_close(server, data, after_valid=after_valid)
    check_raw_json_error(status, headers, body, want, *words)
    check_usual_headers(headers)


def test_expect_100_continue_still_works(server):
    # The one expectation libh2o meets: it answers 100, then reads the body.
    data = (POST + b"Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
            b"{}")
    responses, closed, rest = raw_converse(server.base_url, data)
    assert [r[0] for r in responses] == [100, 422], responses
    assert json.loads(responses[1][2])["error"] == "validation failed"  # the handler ran
    assert closed and rest == b""
