# SPDX-License-Identifier: MIT
"""deploy/prometheus/: the configs pass promtool and amtool, the rules pass
their unit tests (rules_test.yml), every alert is complete and unit tested
both firing and quiet, and every rule reads only metrics linkd exports."""

import re

import yaml

from monlib import (AM_CONFIG, PROM_CONFIG, PROM_DIR, RULES, RULES_TEST, alerting_rules,
                    load_rules, promql_metric_names, recording_names, run_tool, sample_names, tool)


def check_ok(r, what):
    assert r.returncode == 0, f"{what} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"


def test_promtool_accepts_the_rules():
    check_ok(run_tool([tool("promtool"), "check", "rules", str(RULES)]), "promtool check rules")


def test_promtool_accepts_the_prometheus_config():
    # also checks the rule files it names and the file_sd target files
    check_ok(run_tool([tool("promtool"), "check", "config", str(PROM_CONFIG)]),
             "promtool check config")


def test_amtool_accepts_the_alertmanager_config():
    check_ok(run_tool([tool("amtool"), "check-config", str(AM_CONFIG)]), "amtool check-config")


def test_promtool_unit_tests_of_the_alerts_pass():
    r = run_tool([tool("promtool"), "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent)
    check_ok(r, "promtool test rules")
    assert "SUCCESS" in r.stdout, r.stdout


def test_every_alert_has_a_severity_summary_description_and_runbook():
    alerts = alerting_rules()
    assert len(alerts) >= 12, [a["alert"] for a in alerts]
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    for a in alerts:
        labels, ann = a.get("labels", {}), a.get("annotations", {})
        assert labels.get("severity") in ("critical", "warning"), f"{a['alert']}: severity {labels}"
        for key in ("summary", "description", "runbook_url"):
            assert ann.get(key, "").strip(), f"{a['alert']} has no {key}"
        assert ann["runbook_url"] == f"docs/runbooks/{a['alert']}.md", \
            f"{a['alert']}: runbook_url {ann['runbook_url']!r} is not its runbook's path"


def test_the_required_alerts_exist():
    names = {a["alert"] for a in alerting_rules()}
    for want in ("LinkdInstanceDown", "LinkdHigh5xxRatio", "LinkdRedirectLatencyBudgetBurn",
                 "LinkdClickBacklogGrowing", "LinkdClicksDropped", "LinkdStoreWriteFailures",
                 "LinkdStoreDegraded", "LinkdDiskAlmostFull", "LinkdCacheHitRatioLow",
                 "LinkdRedisDown", "LinkdPostgresDown", "LinkdRateLimitStorm"):
        assert want in names, f"no alert {want}"


def test_the_burn_rate_alert_has_two_window_pairs():
    a = next(r for r in alerting_rules() if r["alert"] == "LinkdRedirectLatencyBudgetBurn")
    for window in ("1h", "5m", "6h", "30m"):
        assert f"job:linkd_redirect_slow:ratio_rate{window}" in a["expr"], window


def test_every_alert_is_unit_tested_firing_and_quiet():
    """Each alert fires in some test case, and in some case it is expected
    not to fire: an empty exp_alerts, or input series of an instance (or
    job) that its expected alerts leave out."""
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    fired, quiet = set(), set()
    for t in tests:
        series = " ".join(s["series"] for s in t["input_series"])
        instances = set(re.findall(r'instance="([^"]+)"', series))
        for case in t.get("alert_rule_test", []):
            exp = case.get("exp_alerts") or []
            if exp:
                fired.add(case["alertname"])
                alerted = {e["exp_labels"].get("instance") for e in exp}
                if instances - alerted and None not in alerted:
                    quiet.add(case["alertname"])
            else:
                quiet.add(case["alertname"])
    names = {a["alert"] for a in alerting_rules()}
    assert names - fired == set(), f"alerts no test fires: {sorted(names - fired)}"
    assert names - quiet == set(), f"alerts no test shows quiet: {sorted(names - quiet)}"


def test_rules_read_only_metrics_linkd_exports(exposition):
    """Every metric a rule reads is in a real scrape of linkd, a recording
    rule of the file, or Prometheus's own `up`."""
    doc = load_rules()
    known = sample_names(exposition) | recording_names(doc) | {"up"}
    for g in doc["groups"]:
        for r in g["rules"]:
            unknown = promql_metric_names(r["expr"]) - known
            assert not unknown, f"{r.get('alert') or r.get('record')} reads {sorted(unknown)}, " \
                                "which linkd does not export"


def test_prometheus_config_scrapes_the_compose_nodes_and_static_hosts():
    cfg = yaml.safe_load(PROM_CONFIG.read_text())
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "linkd")
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["linkd1:8080", "linkd2:8080", "linkd3:8080"], targets
    files = [f for sd in job["file_sd_configs"] for f in sd["files"]]
    assert files and all((PROM_DIR / f).parent.is_dir() for f in files), files
    assert cfg["rule_files"] == ["rules/linkd.rules.yml"], cfg["rule_files"]
    am = cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"], am


def test_alertmanager_routes_to_a_webhook():
    cfg = yaml.safe_load(AM_CONFIG.read_text())
    receivers = {r["name"]: r for r in cfg["receivers"]}
    assert cfg["route"]["receiver"] in receivers
    hooks = receivers[cfg["route"]["receiver"]].get("webhook_configs") or []
    assert hooks and hooks[0]["url"].startswith("http"), hooks
    alerts = {a["alert"] for a in alerting_rules()}
    for rule in cfg.get("inhibit_rules", []):
        for m in rule["source_matchers"] + rule["target_matchers"]:
            name = re.fullmatch(r'alertname(=|=~|!=)"(.*)"', m)
            assert name, f"inhibit matcher {m!r} is not on alertname"
            for part in name.group(2).split("|"):
                if re.fullmatch(r"\w+", part):
                    assert part in alerts, f"inhibit rule names unknown alert {part} ({m})"
