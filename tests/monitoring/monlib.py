# SPDX-License-Identifier: MIT
"""Helpers for the monitoring tests: the repository's monitoring files, the
Prometheus text format, the metric names a PromQL expression reads, and the
Debian binaries (promtool, amtool, prometheus) run as child processes."""

import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM_DIR = REPO / "deploy" / "prometheus"
RULES = PROM_DIR / "rules" / "linkd.rules.yml"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
AM_CONFIG = PROM_DIR / "alertmanager.yml"
RULES_TEST = Path(__file__).resolve().parent / "rules_test.yml"
RUNBOOKS = REPO / "docs" / "runbooks"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "linkd.json"
GRAFANA_PROV = REPO / "deploy" / "grafana" / "provisioning"
MONITORING_DOC = REPO / "docs" / "monitoring.md"

TOOL_TIMEOUT_S = 120


def tool(name):
    """The path of a Debian tool the kit needs; fails (not skips) when
    missing: scripts/install-deps.sh test installs it."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found: run scripts/install-deps.sh test "
                    "(packages prometheus, prometheus-alertmanager)")
    return path


def run_tool(args, stdin=None, cwd=None):
    return subprocess.run(args, input=stdin, cwd=cwd, capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S)


def load_rules(path=RULES):
    return yaml.safe_load(path.read_text())


def alerting_rules(doc=None):
    doc = doc or load_rules()
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def recording_names(doc=None):
    doc = doc or load_rules()
    return {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}


# ---------------------------------------------------------------- exposition

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")


def families(text):
    """{family name: type} from the # TYPE lines of an exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def sample_names(text):
    """Every sample name (histograms as _bucket/_sum/_count)."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = SAMPLE_RE.match(line)
            assert m, f"not a sample line: {line!r}"
            names.add(m.group(1))
    return names


# ---------------------------------------------------------------- PromQL

# Words of PromQL that are never metric names (aggregations are followed by
# a grouping clause or a parenthesis, but are skipped by name as well).
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "inf", "nan", "atan2",
}
GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def promql_metric_names(expr):
    """The metric names an expression selects. Good enough for the kit's own
    expressions: strings, label matchers, ranges, Grafana variables and
    grouping clauses are removed first; a name followed by "(" is a function."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    s = GROUPING_RE.sub(" ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def exported_name(name, exposition_names):
    """True when `name` is a sample name of the exposition."""
    return name in exposition_names


# ---------------------------------------------------------------- processes

def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashboard():
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(d=None):
    """Every panel with targets, rows' nested panels included."""
    d = d or dashboard()
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return [p for p in out if p.get("type") != "row"]
