# SPDX-License-Identifier: MIT
"""Garbage input (CONTRACT §1.3 hint 6, §2 body size and validation split;
DESIGN §6): every bad request gets a JSON error, never a crash. After every
test the server must still answer /health."""

import json

import pytest

from apiclient import (expect_error, expect_json, expect_raw_error, new_url, new_user,
                       raw_request, uniq)

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def still_healthy(server):
    yield
    server.health_ok()


@pytest.fixture(scope="module")
def link(server):
    owner = new_user(server)
    return owner, new_url(server, owner["id"])


def json_endpoints(link):
    owner, u = link
    return [("POST", "/users"), ("PUT", f"/users/{owner['id']}"), ("POST", "/urls"),
            ("PUT", f"/urls/{u['id']}"), ("POST", "/events")]


NOT_OBJECTS = [b"{bad json", b"{", b"}", b'{"a":1,}', b"{'a': 1}", b'"a string"', b"[1, 2]",
               b"[]", b"null", b"true", b"123", b"", b"   \n\t", b'{"a":1} trailing', b"\xef\xbb",
               b"NaN", b'{"a": NaN}', b'{"a": 01}']


@pytest.mark.parametrize("raw", NOT_OBJECTS, ids=repr)
def test_bodies_that_are_not_json_objects_are_400(server, link, raw):
    for method, path in json_endpoints(link):
        r = server.request(method, path, data=raw, headers={"Content-Type": "application/json"})
        expect_error(r, 400)


def test_wrong_field_types_are_422(server, link):
    owner, u = link
    cases = [("POST", "/users", {"username": 1, "email": ["x"]}),
             ("PUT", f"/users/{owner['id']}", {"username": {"a": 1}}),
             ("POST", "/urls", {"user_id": "one", "original_url": 5, "title": 3}),
             ("PUT", f"/urls/{u['id']}", {"is_active": "yes"}),
             ("POST", "/events", {"url_id": u["id"], "event_type": 1, "details": "x"})]
    for method, path, body in cases:
        expect_error(server.request(method, path, json=body), 422)
    assert expect_json(server.get(f"/urls/{u['id']}"), 200) == u


@pytest.mark.parametrize("depth", [100_000])
def test_deep_nesting_survives(server, link, depth):
    bodies = [b"[" * depth, b"[" * depth + b"]" * depth, b'{"a":' * depth,
              b'{"a":' * depth + b"1" + b"}" * depth,
              b'{"username":' + b"[" * depth + b"]" * depth + b"}"]
    for body in bodies:
        for method, path in json_endpoints(link):
            r = server.request(method, path, data=body,
                               headers={"Content-Type": "application/json"})
            expect_error(r, 400)


def test_raw_nul_bytes_are_400(server):
    name = uniq("nul_")
    for body in (b'{"username":"' + name.encode() + b'\x00x","email":"a@example.com"}',
                 b"\x00" * 64, b'{"username":"a"}\x00\x00'):
        expect_error(server.post("/users", data=body,
                                 headers={"Content-Type": "application/json"}), 400)


def test_escaped_nul_is_kept_or_rejected_never_truncated(server, link):
    owner, _ = link
    name = uniq("esc_")
    r = server.post("/users", json={"username": name + "\u0000tail",
                                    "email": f"{name}@example.com"})
    if r.status_code == 201:
        assert r.json()["username"] == name + "\u0000tail", "username truncated at \\u0000"
    else:
        expect_error(r, 422)
    # A control character makes an original_url invalid.
    expect_error(server.post("/urls", json={"user_id": owner["id"],
                                            "original_url": "https://example.com/\u0000x"}), 422)


def test_invalid_utf8_is_400(server, link):
    owner, u = link
    bodies = [(("POST", "/users"), b'{"username":"\xff\xfe\xfd","email":"x@example.com"}'),
              (("POST", "/users"), b'{"username":"\xc3","email":"x@example.com"}'),
              (("POST", "/urls"), b'{"user_id":%d,"original_url":"https://example.com/\xe9"}'
               % owner["id"]),
              (("PUT", f"/urls/{u['id']}"), b'{"title":"\xed\xa0\x80"}'),
              (("POST", "/events"), b'{"url_id":%d,"event_type":"\xc0\xaf"}' % u["id"])]
    for (method, path), body in bodies:
        expect_error(server.request(method, path, data=body,
                                    headers={"Content-Type": "application/json"}), 400)


def padded_user_body(total):
    """A JSON object of exactly `total` bytes with a huge username."""
    head, tail = b'{"username":"', b'","email":"big@example.com"}'
    return head + b"u" * (total - len(head) - len(tail)) + tail


def test_one_mib_json_is_parsed_not_refused(server):
    body = padded_user_body(MiB)
    assert len(body) == MiB
    r = server.post("/users", data=body, headers={"Content-Type": "application/json"})
    expect_error(r, 422)  # too long a username, but within the body cap


def test_json_larger_than_one_mib_is_413(server):
    body = padded_user_body(MiB + 1)
    r = raw_request(server.base_url, "POST", "/users", {"Content-Type": "application/json"}, body)
    expect_raw_error(r, 413)


@pytest.mark.parametrize("method,path", [("POST", "/users"), ("POST", "/urls"),
                                         ("POST", "/events")])
def test_two_mib_json_is_413(server, method, path):
    body = json.dumps({"username": "x" * (2 * MiB), "user_id": 1, "url_id": 1,
                       "original_url": "https://example.com/", "event_type": "v",
                       "email": "a@example.com"}).encode()
    r = raw_request(server.base_url, method, path, {"Content-Type": "application/json"}, body)
    expect_raw_error(r, 413)


def test_two_mib_chunked_json_is_413(server):
    chunk = b"x" * 65536
    head = b'{"username":"'
    body = bytearray()
    for piece in [head] + [chunk] * 32 + [b'","email":"a@example.com"}']:
        body += b"%x\r\n" % len(piece) + piece + b"\r\n"
    body += b"0\r\n\r\n"
    r = raw_request(server.base_url, "POST", "/users",
                    {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                    bytes(body))
    expect_raw_error(r, 413)


def multipart(parts, boundary="XyZzYboundary"):
    out = bytearray()
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        for h in headers:
            out += h.encode() + b"\r\n"
        out += b"\r\n" + content + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def test_seventeen_mib_multipart_is_413(server):
    row = b"nobody_upload,nobody_upload@example.com\n"
    csv_bytes = b"username,email\n" + row * (17 * MiB // len(row) + 1)
    body, ct = multipart([(['Content-Disposition: form-data; name="file"; filename="u.csv"',
                            "Content-Type: text/csv"], csv_bytes)])
    assert len(body) > 17 * MiB
    r = raw_request(server.base_url, "POST", "/users/bulk", {"Content-Type": ct}, body,
                    timeout_s=60)
    expect_raw_error(r, 413)
    assert not [u for u in server.get("/users").json() if u["username"] == "nobody_upload"]


def test_multipart_without_boundary_is_400(server):
    body, _ = multipart([(['Content-Disposition: form-data; name="file"; filename="u.csv"'],
                          b"username,email\n")])
    expect_error(server.post("/users/bulk", data=body,
                             headers={"Content-Type": "multipart/form-data"}), 400)


def test_truncated_multipart_is_400(server):
    n = uniq("trunc_")
    body, ct = multipart([(['Content-Disposition: form-data; name="file"; filename="u.csv"'],
                           f"username,email\n{n},{n}@example.com\n".encode())])
    cut = body[:body.rindex(b"\r\n--")]  # no closing boundary
    expect_error(server.post("/users/bulk", data=cut, headers={"Content-Type": ct}), 400)
    assert n not in {u["username"] for u in server.get("/users").json()}


def test_multipart_without_file_part_is_400(server):
    body, ct = multipart([(['Content-Disposition: form-data; name="comment"'], b"hello")])
    expect_error(server.post("/users/bulk", data=body, headers={"Content-Type": ct}), 400)


def test_multipart_with_wrong_boundary_is_400(server):
    body, _ = multipart([(['Content-Disposition: form-data; name="file"; filename="u.csv"'],
                          b"username,email\n")], boundary="AAA")
    expect_error(server.post("/users/bulk", data=body,
                             headers={"Content-Type": "multipart/form-data; boundary=BBB"}), 400)


def test_multipart_garbage_is_400(server):
    for body in (b"", b"--", b"\x00\xff" * 100, b"--XyZzYboundary\r\n\r\n"):
        expect_error(server.post("/users/bulk", data=body,
                                 headers={"Content-Type":
                                          "multipart/form-data; boundary=XyZzYboundary"}), 400)


@pytest.mark.parametrize("query", ["page=%ff", "page=%00", "per_page=1%00", "user_id=%00",
                                   "user_id=1%20OR%201=1", "is_active=%ff"])
def test_garbage_query_strings_are_400(server, query):
    expect_error(server.get("/urls?" + query), 400)


def test_long_path_is_404_json(server):
    expect_error(server.get("/" + "a" * 4000), 404)
    expect_error(server.get("/users/" + "9" * 2000), 404)
