# SPDX-License-Identifier: MIT
"""A 201 means the link is on disk (docs/durability.md#what-a-2xx-guarantees):
SIGKILL under concurrent create load, at a random moment, loses no link the
client was told about, and leaves a database that passes integrity_check."""

import random
import time

from durable import CreateLoad, Server, check_redirects, integrity, new_user, report, trials


def test_acknowledged_links_survive_sigkill_under_create_load(tmp_path):
    n_trials = trials(5)
    rnd = random.Random()
    db = tmp_path / "linkd.db"
    server = Server(tmp_path, db)
    user_id = new_user(server.client, "crash")
    all_acked, figures, unacked_before = [], [], 0
    for trial in range(n_trials):
        load = CreateLoad(server, user_id, f"t{trial}", n_threads=16)
        time.sleep(rnd.uniform(0.3, 1.2))  # a random moment under load
        t_kill = time.monotonic()
        server.kill()
        load.finish()
        assert not set(load.other) - {201}, f"unexpected statuses under load: {load.other}"
        assert load.acked, "no create was acknowledged before the kill"
        all_acked += load.acked

        # the crash image, exactly as the kill left it on disk
        image = integrity(db)
        assert image["integrity"] == ["ok"], image["integrity"]
        lost = [a for a in all_acked if a[0] not in image["url_ids"]]
        assert not lost, f"trial {trial}: {len(lost)} acknowledged urls missing: {lost[:5]}"

        t0 = time.monotonic()
        server = Server(tmp_path, db)
        restart_ms = (time.monotonic() - t0) * 1000
        bad = check_redirects(server, load.acked)
        assert not bad, f"trial {trial}: acknowledged links that do not redirect: {bad[:5]}"
        # committed but never acknowledged: requests in flight at the kill
        unacked = len(image["url_ids"]) - len(all_acked) - unacked_before
        unacked_before += unacked
        figures.append({"acked": len(load.acked), "in_flight": load.errors,
                        "committed_unacked": unacked, "lost": len(lost),
                        "load_ms": round((t_kill - load.t0) * 1000),
                        "restart_ms": round(restart_ms)})
    # every link of every trial still redirects after the last restart
    bad = check_redirects(server, all_acked)
    assert not bad, f"acknowledged links lost across restarts: {bad[:5]}"
    server.stop()
    final = integrity(db)
    assert final["integrity"] == ["ok"]
    report("sigkill_create_load", trials=n_trials, acked=len(all_acked),
           lost=sum(f["lost"] for f in figures),
           committed_unacked=sum(f["committed_unacked"] for f in figures), per_trial=figures)
