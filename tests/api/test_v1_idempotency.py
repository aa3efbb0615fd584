# SPDX-License-Identifier: MIT
"""Idempotency-Key on /api/v1 POSTs (docs/api-v1.md#idempotency)."""

import threading

import pytest

from apiclient import expect, expect_json, uniq
from v1client import expect_problem, link_body, links_of, owner


@pytest.fixture(scope="module")
def user(server):
    return owner(server)



def test_the_same_request_twice_creates_once_and_answers_the_same(server):
    u = owner(server)
    body = link_body(u["id"], title="once")
    key = {"Idempotency-Key": uniq("k")}
    first = expect(server.post("/api/v1/links", json=body, headers=key), 201)
    assert "Idempotent-Replayed" not in first.headers
    again = expect(server.post("/api/v1/links", json=body, headers=key), 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert [x["id"] for x in links_of(server, u["id"])] == [first.json()["id"]]


def test_the_same_key_with_another_body_is_422(server, user):
    key = {"Idempotency-Key": uniq("k")}
    expect(server.post("/api/v1/links", json=link_body(user["id"]), headers=key), 201)
    before = links_of(server, user["id"])
    expect_problem(server.post("/api/v1/links", json=link_body(user["id"]), headers=key), 422,
                   "idempotency-key-reused")
    assert links_of(server, user["id"]) == before


def test_an_error_answer_is_replayed_too(server, user):
    key = {"Idempotency-Key": uniq("k")}
    body = link_body(user["id"], url="ftp://nope")
    first = expect_problem(server.post("/api/v1/links", json=body, headers=key), 422)
    again = expect(server.post("/api/v1/links", json=body, headers=key), 422)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json() == first, "the answer as it was, the first request's id included"


def test_keys_are_per_route_body_and_independent_without_a_key(server):
    u = owner(server)
    body = link_body(u["id"])
    expect(server.post("/api/v1/links", json=body), 201)
    expect(server.post("/api/v1/links", json=body), 201)
    assert len(links_of(server, u["id"])) == 2, "without a key every POST runs"


def test_bulk_with_a_key_runs_once(server):
    u = owner(server)
    key = {"Idempotency-Key": uniq("k")}
    body = {"create": [link_body(u["id"]) for _ in range(3)]}
    first = expect_json(server.post("/api/v1/links/bulk", json=body, headers=key), 200)
    again = server.post("/api/v1/links/bulk", json=body, headers=key)
    assert expect_json(again, 200) == first
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(links_of(server, u["id"])) == 3


def test_parallel_requests_with_one_key_create_one_link(server):
    u = owner(server)
    key = {"Idempotency-Key": uniq("k")}
    body = link_body(u["id"], password="slow to hash")  # holds the key for a while
    answers = []

    def post():
        answers.append(server.clone().post("/api/v1/links", json=body, headers=key))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1, "every 201 names the same link"
    for a in answers:
        if a.status_code == 409:
            assert a.json()["type"] == "urn:linkd:problem:idempotency-key-in-use"
    assert len(links_of(server, u["id"])) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey"])
def test_bad_idempotency_key_is_400(server, user, key):
    expect_problem(server.post("/api/v1/links", json=link_body(user["id"]),
                               headers={"Idempotency-Key": key}), 400,
                   "invalid-idempotency-key")
