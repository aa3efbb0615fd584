# SPDX-License-Identifier: MIT
"""GET /metrics of the real binary: promtool accepts the whole exposition
(names, help, types, _total suffixes, units, histogram series), the golden
signals are there with the right types, and docs/monitoring.md describes
every family."""

import re

from monlib import MONITORING_DOC, REPO, families, run_tool, tool

GOLDEN = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "linkd_build_info": "gauge",
    "linkd_connections_open": "gauge",
    "linkd_connections_limit": "gauge",
    "linkd_events_queue_depth": "gauge",
    "linkd_events_overflow_depth": "gauge",
    "linkd_events_backlog_limit": "gauge",
    "linkd_store_writer_queue_depth": "gauge",
    "linkd_cache_hits_total": "counter",
    "linkd_cache_misses_total": "counter",
    "linkd_cache_evictions_total": "counter",
    "linkd_cache_entries": "gauge",
    "linkd_cache_bytes": "gauge",
    "linkd_clicks_enqueued_total": "counter",
    "linkd_clicks_written_total": "counter",
    "linkd_clicks_dropped_total": "counter",
    "linkd_store_commit_duration_seconds": "histogram",
    "linkd_store_sync_duration_seconds": "histogram",
    "linkd_store_batch_ops": "histogram",
    "linkd_store_write_failures_total": "counter",
    "linkd_store_up": "gauge",
    "linkd_store_disk_free_bytes": "gauge",
    "linkd_store_disk_total_bytes": "gauge",
    "linkd_dependency_up": "gauge",
    "linkd_dependency_errors_total": "counter",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
}


def test_promtool_accepts_a_real_scrape(exposition):
    r = run_tool([tool("promtool"), "check", "metrics"], stdin=exposition)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        f"promtool check metrics ({r.returncode}):\n{r.stdout}{r.stderr}"


def test_the_golden_signals_are_exported_with_their_types(exposition):
    got = families(exposition)
    for name, kind in GOLDEN.items():
        assert got.get(name) == kind, f"{name}: {got.get(name)!r}, expected {kind}"


def test_the_traffic_shows_in_the_values(exposition):
    def value(pattern):
        m = re.search(r"^" + pattern + r" (\S+)$", exposition, re.M)
        assert m, f"no sample {pattern}"
        return float(m.group(1))
    assert value(r'http_requests_total\{method="GET",route="/\{code\}",status="302"\}') == 5
    assert value(r'http_request_duration_seconds_count\{route="/\{code\}"\}') == 6
    assert value(r'linkd_store_up\{backend="sqlite"\}') == 1
    assert value(r'linkd_dependency_up\{dependency="sqlite"\}') == 1
    assert value(r'linkd_store_batch_ops_count\{backend="sqlite"\}') >= 2
    assert value(r'linkd_store_commit_duration_seconds_count\{backend="sqlite"\}') >= 2
    assert value(r"linkd_store_disk_total_bytes") >= value(r"linkd_store_disk_free_bytes") > 0
    version = re.search(r"project\(linkd VERSION (\S+)", (REPO / "CMakeLists.txt").read_text())
    assert f'linkd_build_info{{version="{version.group(1)}",backend="sqlite"}} 1' in exposition


def test_docs_describe_every_exported_family(exposition):
    doc = MONITORING_DOC.read_text()
    missing = [f for f in families(exposition) if f"`{f}`" not in doc]
    assert not missing, f"docs/monitoring.md does not describe {missing}"
