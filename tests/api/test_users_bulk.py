# SPDX-License-Identifier: MIT
"""POST /users/bulk: multipart CSV upload (CONTRACT §4.3)."""

import pytest

from apiclient import (USER_KEYS, SEED_DIR, check_user, expect_error, expect_json, expect_list,
                       ids, new_user, project, uniq)


def upload(c, csv_bytes, field="file", filename="users.csv"):
    return c.post("/users/bulk", files={field: (filename, csv_bytes, "text/csv")})


def expect_counts(r, imported, skipped):
    body = expect_json(r, 201)
    assert isinstance(body, dict), body
    assert body.get("imported") == imported, body
    assert body.get("count") == imported, body
    assert body.get("skipped") == skipped, body
    return body


def users_by_name(c):
    return {u["username"]: u for u in expect_list(c.get("/users"))}


def names(n):
    return [uniq("bulk_") for _ in range(n)]


def test_bulk_inserts_rows_without_ids(server):
    ns = names(3)
    csv_text = "username,email\n" + "".join(f"{n},{n}@example.com\n" for n in ns)
    expect_counts(upload(server, csv_text.encode()), 3, 0)
    have = users_by_name(server)
    for n in ns:
        check_user(have[n])
        assert have[n]["email"] == f"{n}@example.com"


def test_bulk_columns_in_any_order_extra_ignored_quotes_understood(server):
    n1, n2 = names(2)
    csv_text = ("email,nickname,username,created_at\n"
                f'{n1}@example.com,x,"{n1}",2024-03-04 05:06:07\n'
                f'"{n2}@example.com","a, b",{n2},2024-03-04T05:06:08\n')
    expect_counts(upload(server, csv_text.encode()), 2, 0)
    have = users_by_name(server)
    assert project(have[n1], ("email", "created_at")) == {
        "email": f"{n1}@example.com", "created_at": "2024-03-04T05:06:07"}
    assert project(have[n2], ("email", "created_at")) == {
        "email": f"{n2}@example.com", "created_at": "2024-03-04T05:06:08"}


def test_bulk_skips_rows_with_bad_email_or_empty_fields(server):
    good, e1, e2, e3 = names(4)
    csv_text = ("username,email\n"
                f"{good},{good}@example.com\n"
                f"{e1},not-an-email\n"
                f",{e2}@example.com\n"
                f"{e3},\n")
    expect_counts(upload(server, csv_text.encode()), 1, 3)
    have = users_by_name(server)
    assert good in have and e1 not in have and e3 not in have
    assert f"{e2}@example.com" not in {u["email"] for u in have.values()}


def test_bulk_skips_taken_username_or_email_for_rows_without_id(server):
    taken = new_user(server)
    fresh, other = names(2)
    csv_text = ("username,email\n"
                f"{taken['username']},{other}@example.com\n"
                f"{other},{taken['email']}\n"
                f"{fresh},{fresh}@example.com\n")
    expect_counts(upload(server, csv_text.encode()), 1, 2)
    assert expect_json(server.get(f"/users/{taken['id']}"), 200) == taken
    assert fresh in users_by_name(server)


def test_bulk_upserts_by_id(server):
    u = new_user(server)
    new_id = u["id"] + 5000
    renamed, inserted = names(2)
    csv_text = ("id,username,email,created_at\n"
                f"{u['id']},{renamed},{renamed}@example.com,{u['created_at'].replace('T', ' ')}\n"
                f"{new_id},{inserted},{inserted}@example.com,2025-01-02 03:04:05\n")
    expect_counts(upload(server, csv_text.encode()), 2, 0)
    assert expect_json(server.get(f"/users/{u['id']}"), 200) == dict(
        u, username=renamed, email=f"{renamed}@example.com")
    assert expect_json(server.get(f"/users/{new_id}"), 200) == {
        "id": new_id, "username": inserted, "email": f"{inserted}@example.com",
        "created_at": "2025-01-02T03:04:05"}
    after = new_user(server)
    assert after["id"] > new_id, "the id sequence must move past max(id) after a bulk upsert"


def test_bulk_seed_users_into_empty_db_keeps_ids_and_is_idempotent(fresh_server, seed):
    data = (SEED_DIR / "users.csv").read_bytes()
    n = len(seed.users)
    expect_counts(upload(fresh_server, data), n, 0)
    rows = expect_list(fresh_server.get("/users"))
    assert [project(u, USER_KEYS) for u in rows] == seed.users
    # Uploading the same seeds again updates in place: same ids, no new rows.
    expect_counts(upload(fresh_server, data), n, 0)
    rows = expect_list(fresh_server.get("/users"))
    assert [project(u, USER_KEYS) for u in rows] == seed.users
    u = new_user(fresh_server)
    assert u["id"] > max(seed.user)


def test_bulk_header_only_imports_nothing(server):
    expect_counts(upload(server, b"username,email\n"), 0, 0)


def test_bulk_accepts_any_single_file_part(server):
    (n,) = names(1)
    expect_counts(upload(server, f"username,email\n{n},{n}@example.com\n".encode(),
                         field="upload", filename="people.csv"), 1, 0)
    assert n in users_by_name(server)


@pytest.mark.parametrize("header", ["email", "username", "name,email", "username,mail", ""])
def test_bulk_header_lacking_username_or_email_is_400(server, header):
    n = uniq("hdr_")
    before = len(expect_list(server.get("/users")))
    expect_error(upload(server, f"{header}\n{n},{n}@example.com\n".encode()), 400)
    assert len(expect_list(server.get("/users"))) == before


def test_bulk_non_utf8_is_400(server):
    n = uniq("latin_")
    data = f"username,email\n{n},{n}@example.com\n".encode() + b"caf\xe9\xff,x\xfe@example.com\n"
    expect_error(upload(server, data), 400)
    assert n not in users_by_name(server)


def test_bulk_without_file_part_is_400(server):
    expect_error(server.post("/users/bulk", files={"note": (None, "username,email\n")}), 400)


def test_bulk_non_multipart_body_is_400(server):
    n = uniq("raw_")
    expect_error(server.post("/users/bulk", data=f"username,email\n{n},{n}@example.com\n",
                             headers={"Content-Type": "text/csv"}), 400)
    expect_error(server.post("/users/bulk", data={"file": "username,email\n"}), 400)
    assert n not in users_by_name(server)
