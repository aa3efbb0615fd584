# SPDX-License-Identifier: MIT
"""deploy/grafana/: the dashboard is well-formed Grafana JSON on the
provisioned data source, covers the golden signals, cache, clicks, store
and nodes, and every query reads only metrics linkd exports (checked
against a real scrape) or recording rules of the rules file. Grafana itself
is not run; tests/monitoring/test_prometheus.py runs each query."""

import yaml

from monlib import (GRAFANA_PROV, dashboard, dashboard_panels, promql_metric_names,
                    recording_names, sample_names)


def datasource_uid():
    ds = yaml.safe_load((GRAFANA_PROV / "datasources" / "prometheus.yml").read_text())
    (only,) = ds["datasources"]
    assert only["type"] == "prometheus"
    return only["uid"]


def test_provisioning_names_the_data_source_and_the_dashboards():
    assert datasource_uid()
    prov = yaml.safe_load((GRAFANA_PROV / "dashboards" / "linkd.yml").read_text())
    (p,) = prov["providers"]
    assert p["type"] == "file" and p["options"]["path"], p


def test_dashboard_is_well_formed():
    d = dashboard()
    assert d["uid"] == "linkd" and d["title"] and d["schemaVersion"] >= 30
    uid = datasource_uid()
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for p in dashboard_panels(d):
        assert p["datasource"]["uid"] == uid, f"{p['title']}: data source {p['datasource']}"
        assert p["targets"], f"{p['title']} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), f"{p['title']}: refIds repeat"
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == uid, (p["title"], t)
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]), p["title"]
    names = [v["name"] for v in d["templating"]["list"]]
    assert "instance" in names


def test_dashboard_covers_the_golden_signals_and_every_part():
    titles = " | ".join(p["title"] for p in dashboard()["panels"])
    for word in ("Traffic", "Errors", "Latency p50", "Latency p95", "Latency p99", "Saturation",
                 "Cache", "Click", "Commit duration", "Batch size", "Store takes writes",
                 "by node"):
        assert word in titles, f"no panel about {word}: {titles}"


def test_dashboard_queries_read_only_exported_metrics(exposition):
    known = sample_names(exposition) | recording_names() | {"up"}
    for p in dashboard_panels():
        for t in p["targets"]:
            unknown = promql_metric_names(t["expr"]) - known
            assert not unknown, f"panel {p['title']!r} reads {sorted(unknown)}, which linkd " \
                                f"does not export: {t['expr']}"
