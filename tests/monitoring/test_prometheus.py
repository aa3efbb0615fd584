# SPDX-License-Identifier: MIT
"""Debian's Prometheus, started here on 127.0.0.1 (an ephemeral port, a
temporary storage directory, a generated config that scrapes the running
linkd every second and loads the repository's rule files), scrapes linkd:
the target turns up, every alert is loaded, linkd's metrics and a recording
rule come back through the query API, and every dashboard query parses.
Waits are bounded; nothing is timed."""

import os
import signal
import subprocess
import time
from urllib.parse import urlencode

import pytest
import requests
import yaml

from monlib import RULES, alerting_rules, dashboard_panels, free_port, recording_names, tool

START_TRIES = 3
WAIT_S = 90  # bound of every wait below; each returns as soon as its condition holds
STOP_TIMEOUT_S = 20


class Prometheus:
    def __init__(self, workdir, linkd_port):
        self.workdir = workdir
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "linkd",
                                "static_configs": [{"targets": [f"127.0.0.1:{linkd_port}"]}]}],
        }))
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        for attempt in range(START_TRIES):
            self.port = free_port()
            log = open(self.workdir / f"prometheus.{attempt}.log", "wb")
            self.log_path = log.name
            self.proc = subprocess.Popen(
                [tool("prometheus"), f"--config.file={self.config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            if self.wait(lambda: self.ready(), "Prometheus to be ready", fail=False):
                return self
            self.stop()
            if "address already in use" not in self.log_text():
                break
        pytest.fail(f"Prometheus did not start:\n{self.log_text()[-3000:]}")

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.proc.returncode}")
        try:
            return requests.get(self.url + "/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait(self, cond, what, fail=True):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                got = cond()
            except RuntimeError as e:
                if fail:
                    pytest.fail(f"{e}\n{self.log_text()[-3000:]}")
                return None
            if got:
                return got
            time.sleep(0.2)
        if fail:
            pytest.fail(f"waited {WAIT_S} s for {what}\n{self.log_text()[-3000:]}")
        return None

    def api(self, path, **params):
        r = requests.get(f"{self.url}/api/v1/{path}" + ("?" + urlencode(params) if params else ""),
                         timeout=10)
        body = r.json()
        return body

    def query(self, q):
        body = self.api("query", query=q)
        assert body["status"] == "success", (q, body)
        return body["data"]["result"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def prometheus(linkd_node, tmp_path_factory):
    p = Prometheus(tmp_path_factory.mktemp("prometheus"), linkd_node.port)
    p.start()
    try:
        yield p
    finally:
        p.stop()


def linkd_target(p):
    targets = p.api("targets")["data"]["activeTargets"]
    return next((t for t in targets if t["labels"].get("job") == "linkd"), None)


def test_prometheus_scrapes_linkd_and_sees_it_up(prometheus, linkd_node):
    t = prometheus.wait(lambda: (lambda t: t if t and t["health"] == "up" else None)(
        linkd_target(prometheus)), "the linkd target to be up")
    assert t["labels"]["instance"] == f"127.0.0.1:{linkd_node.port}"
    assert t["lastError"] == ""
    up = prometheus.wait(lambda: prometheus.query('up{job="linkd"}'), "up{job=\"linkd\"}")
    assert up[0]["value"][1] == "1", up


def test_prometheus_loaded_every_rule(prometheus):
    groups = prometheus.wait(lambda: prometheus.api("rules")["data"]["groups"], "rules")
    loaded = {r["name"] for g in groups for r in g["rules"]}
    alerts = {a["alert"] for a in alerting_rules()}
    assert alerts <= loaded, f"alerts not loaded: {sorted(alerts - loaded)}"
    assert recording_names() <= loaded, f"recording rules not loaded: {recording_names() - loaded}"
    for g in groups:
        for r in g["rules"]:
            assert r["health"] != "err", f"rule {r['name']}: {r.get('lastError')}"


def test_prometheus_reads_linkd_metrics_back(prometheus, linkd_node):
    res = prometheus.wait(lambda: prometheus.query('linkd_build_info{job="linkd"}'),
                          "linkd_build_info")
    assert res[0]["metric"]["backend"] == "sqlite" and res[0]["metric"]["version"], res
    redirects = prometheus.query(
        'sum(http_requests_total{job="linkd",route="/{code}",status="302"})')
    assert float(redirects[0]["value"][1]) >= 5, redirects
    store = prometheus.query('linkd_store_up{job="linkd"}')
    assert store[0]["value"][1] == "1", store


def test_a_recording_rule_evaluates_on_linkd_data(prometheus, linkd_node):
    c = linkd_node.client()
    # the recorded rate needs two scrapes of a counter that moved between them
    res = prometheus.wait(lambda: c.get("/health") and prometheus.query(
        'instance:linkd_http_requests:rate5m{job="linkd"}'), "instance:linkd_http_requests:rate5m")
    assert float(res[0]["value"][1]) > 0, res


def grafana_to_promql(expr):
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            .replace("$instance", ".*"))


def test_every_dashboard_query_parses(prometheus):
    for p in dashboard_panels():
        for t in p["targets"]:
            body = prometheus.api("query", query=grafana_to_promql(t["expr"]))
            assert body["status"] == "success", f"panel {p['title']!r}: {body.get('error')}"
