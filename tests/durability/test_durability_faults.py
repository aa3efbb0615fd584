# SPDX-License-Identifier: MIT
"""Storage faults under a running linkd (docs/durability.md#faults): writes
answer 503 JSON, redirects of cached links keep answering 302, /health
answers 503 naming the fault, and linkd recovers without a restart when the
condition clears. No click of a redirect served meanwhile is lost."""

import errno
import os
import subprocess
import time

from durable import Server, health, integrity, new_links, new_user, report, wait_for


def fill(path):
    """Writes path until the filesystem is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 4096, 512):
            buf = b"\0" * chunk
            while True:
                try:
                    written += f.write(buf)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    return written


def redirect_all(server, links, expect_cached=False):
    """GET /{code} for every link; returns the number of 302s."""
    c = server.session()
    n = 0
    for _, code, url in links:
        r = c.get("/" + code)
        assert r.status_code == 302 and r.headers["Location"] == url, (code, r.status_code)
        if expect_cached:
            assert r.headers.get("X-Cache") == "HIT", f"{code} was not served from the cache"
        n += 1
    return n


def create(server, user_id, tag):
    return server.client.post("/urls", json={"user_id": user_id,
                                             "original_url": f"https://example.com/{tag}"})


def assert_503_json(r):
    assert r.status_code == 503, f"{r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json().get("error"), r.text


def store_check(server):
    status, body = health(server.client)
    return status, body["checks"]["store"]


def wait_healthy(server, timeout_s):
    t0 = time.monotonic()
    wait_for(lambda: health(server.client)[0] == 200, timeout_s, "/health to answer 200")
    return (time.monotonic() - t0) * 1000


def wait_clicks(server, links, expected, timeout_s=5):
    def total():
        c = server.session()
        return sum(c.get(f"/urls/{i}/stats").json()["clicks"] for i, _, _ in links)

    wait_for(lambda: total() == expected, timeout_s, f"{expected} clicks to be stored")


def test_full_disk_refuses_writes_keeps_redirects_and_recovers(tmpfs):
    mnt = tmpfs("16m")
    db = mnt / "linkd.db"
    server = Server(mnt.parent, db)  # logs stay off the filesystem under test
    user_id = new_user(server.client, "full")
    links = new_links(server.client, user_id, 5, "full")
    uncached = new_links(server.client, user_id, 1, "full-uncached")[0]
    served = redirect_all(server, links)  # fills the link cache

    filler = mnt / "filler"
    fill(filler)
    r = create(server, user_id, "during-1")
    assert_503_json(r)
    status, check = store_check(server)
    assert status == 503 and check["reason"] == "disk_full", check
    assert check["readable"] is True and check["writable"] is False, check
    for i in range(5):
        assert_503_json(create(server, user_id, f"during-{i + 2}"))
    served += redirect_all(server, links, expect_cached=True)
    r = server.client.get(f"/urls/{uncached[0]}")
    assert r.status_code == 200 and r.json()["short_code"] == uncached[1], r.text
    time.sleep(0.6)  # the events writer retries, and fails, meanwhile
    served += redirect_all(server, links, expect_cached=True)
    status, check = store_check(server)
    assert status == 503 and check["failed_probes"] >= 1, check

    os.unlink(filler)
    recover_ms = wait_healthy(server, 5)
    assert create(server, user_id, "after").status_code == 201
    wait_clicks(server, links, served)
    server.stop()
    final = integrity(db)
    assert final["integrity"] == ["ok"], final
    report("fault_disk_full", recover_ms=round(recover_ms), clicks_kept=served)


def test_read_only_remount_is_refused_while_linkd_has_the_database_open(tmpfs):
    """`mount -o remount,ro` of a filesystem where a process holds a file
    open for writing fails with EBUSY: the kernel protects linkd from this
    fault. (A read-only filesystem under a running process only happens
    when the kernel forces it after I/O errors; tests/unit/store covers
    that path with an injected EROFS.) If the remount ever succeeds, the
    full read-only scenario runs."""
    mnt = tmpfs("16m")
    db = mnt / "linkd.db"
    server = Server(mnt.parent, db)  # logs stay off the filesystem under test
    user_id = new_user(server.client, "ro")
    links = new_links(server.client, user_id, 3, "ro")
    served = redirect_all(server, links)
    r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        assert "busy" in r.stderr, r.stderr
        assert create(server, user_id, "still-writable").status_code == 201
        assert health(server.client)[0] == 200
        server.stop()
        report("fault_read_only", remount="refused: busy")
        return
    try:
        assert_503_json(create(server, user_id, "during"))
        status, check = store_check(server)
        assert status == 503 and check["reason"] == "read_only", check
        served += redirect_all(server, links, expect_cached=True)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
    recover_ms = wait_healthy(server, 5)
    assert create(server, user_id, "after").status_code == 201
    wait_clicks(server, links, served)
    server.stop()
    assert integrity(db)["integrity"] == ["ok"]
    report("fault_read_only", remount="done", recover_ms=round(recover_ms))


def test_removed_database_is_detected_rescued_and_reopened(tmp_path):
    db = tmp_path / "linkd.db"
    server = Server(tmp_path, db)
    user_id = new_user(server.client, "gone")
    links = new_links(server.client, user_id, 5, "gone")
    uncached = new_links(server.client, user_id, 1, "gone-uncached")[0]
    served = redirect_all(server, links)

    t0 = time.monotonic()
    os.unlink(db)
    wait_for(lambda: health(server.client)[0] == 503, 5, "/health to notice the removal")
    detect_ms = (time.monotonic() - t0) * 1000
    status, check = store_check(server)
    assert check["reason"] == "file_removed", check
    assert_503_json(create(server, user_id, "during"))
    served += redirect_all(server, links, expect_cached=True)
    r = server.client.get(f"/urls/{uncached[0]}")
    assert r.status_code == 200, "uncached reads are served from the open file"
    rescue = wait_for(lambda: store_check(server)[1].get("rescue_copy"), 5,
                      "/health to name the rescue copy")
    assert os.path.exists(rescue), rescue

    os.rename(rescue, db)  # the runbook's restore step
    recover_ms = wait_healthy(server, 5)
    assert create(server, user_id, "after").status_code == 201
    c = server.session()
    for url_id, code, url in links + [uncached]:
        r = c.get(f"/urls/{url_id}")
        assert r.status_code == 200 and r.json()["original_url"] == url
    wait_clicks(server, links, served)
    server.stop()
    final = integrity(db)
    assert final["integrity"] == ["ok"], final
    assert final["counts"]["urls"] == len(links) + 2
    report("fault_file_removed", detect_ms=round(detect_ms), recover_ms=round(recover_ms),
           clicks_kept=served)

