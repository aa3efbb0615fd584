# SPDX-License-Identifier: MIT
"""GET /metrics (CONTRACT §4.2): Prometheus text, and JSON on request."""

import re

from apiclient import expect, expect_json, is_int, new_url, new_user

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
REQS_RE = re.compile(r"^(?:linkd_)?http_requests_total$")


def parse_labels(s):
    labels, pos = {}, 0
    s = s or ""
    while pos < len(s):
        m = LABEL_RE.match(s, pos)
        assert m, f"bad label set {{{s}}}"
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def scrape(c):
    """[(name, labels, value)] and the raw text; asserts the exposition format."""
    r = expect(c.get("/metrics"), 200)
    ct = r.headers.get("Content-Type", "")
    assert ct.startswith("text/plain"), ct
    assert "version=0.0.4" in ct, ct
    text = r.text
    assert text.strip(), "empty /metrics body"
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        samples.append((m.group(1), parse_labels(m.group(2)), float(m.group(3))))
    return samples, text


def ok_status(label, code):
    return label in (str(code), f"{str(code)[0]}xx")


def requests_total(samples, method, route_part, code):
    return sum(v for n, lb, v in samples
               if REQS_RE.match(n) and lb.get("method") == method
               and route_part in lb.get("route", "") and ok_status(lb.get("status", ""), code))


def test_metrics_is_prometheus_text(server):
    samples, _ = scrape(server)
    assert samples


def test_http_requests_total_has_method_route_status_labels(server):
    server.get("/health")
    samples, _ = scrape(server)
    reqs = [(n, lb) for n, lb, _ in samples if REQS_RE.match(n)]
    assert reqs, "no http_requests_total samples"
    for n, lb in reqs:
        assert {"method", "route", "status"} <= set(lb), f"{n} labels {lb}"


def test_http_requests_total_counts_requests(server):
    before, _ = scrape(server)
    for _ in range(5):
        expect(server.get("/health"), 200)
    expect(server.get("/users/999999999999"), 404)
    after, _ = scrape(server)
    got = requests_total(after, "GET", "health", 200) - requests_total(before, "GET", "health", 200)
    assert got >= 5, f"GET /health 200 counter grew by {got} after 5 calls"
    assert requests_total(after, "GET", "", 404) >= 1, "no GET 404 sample after a 404"


def test_request_duration_histogram(server):
    server.get("/health")
    samples, text = scrape(server)
    hist = re.findall(r"^# TYPE (\S+) histogram$", text, re.M)
    assert hist, "no histogram in /metrics"
    name = next((h for h in hist if "duration" in h or "seconds" in h), hist[0])
    buckets = [(lb, v) for n, lb, v in samples if n == name + "_bucket"]
    assert buckets, f"{name} has no _bucket samples"
    assert all("le" in lb for lb, _ in buckets)
    assert any(lb["le"] == "+Inf" for lb, _ in buckets), f"{name} lacks le=\"+Inf\""
    counts = {tuple(sorted(lb.items())): v for n, lb, v in samples if n == name + "_count"}
    assert counts, f"{name} has no _count"
    assert any(n == name + "_sum" for n, _, _ in samples), f"{name} has no _sum"
    # Per label set: buckets never decrease and +Inf equals _count.
    series = {}
    for lb, v in buckets:
        key = tuple(sorted((k, x) for k, x in lb.items() if k != "le"))
        le = float("inf") if lb["le"] == "+Inf" else float(lb["le"])
        series.setdefault(key, []).append((le, v))
    for key, pts in series.items():
        vals = [v for _, v in sorted(pts)]
        assert vals == sorted(vals), f"{name}{dict(key)} buckets decrease: {sorted(pts)}"
        assert counts.get(key) == vals[-1], f"{name}{dict(key)} +Inf != _count"


def test_process_cpu_and_resident_memory(server):
    samples, _ = scrape(server)
    cpu = [v for n, _, v in samples if "cpu" in n and "seconds" in n]
    rss = [v for n, _, v in samples if "resident_memory" in n or "rss" in n]
    assert cpu and all(v >= 0 for v in cpu), "no process CPU seconds metric"
    assert rss and max(rss) > 1e6, f"no plausible resident memory metric: {rss}"


def test_redirect_and_cache_counters(server):
    u = new_user(server)
    link = new_url(server, u["id"])
    for _ in range(2):
        expect(server.get("/" + link["short_code"]), 302)
    samples, _ = scrape(server)
    redirects = [v for n, lb, v in samples if "redirect" in n]
    assert redirects and max(redirects) >= 2, "no redirect counter counting our redirects"
    cache = [(n, lb) for n, lb, _ in samples if "cache" in n]
    assert cache, "no cache counters"
    words = " ".join(n + " " + " ".join(lb.values()) for n, lb in cache).lower()
    assert "hit" in words and "miss" in words, f"cache counters lack hit/miss: {cache}"


def number(v):
    return (is_int(v) or type(v) is float) and v >= 0


def check_json_metrics(body):
    assert isinstance(body, dict), body
    assert number(body.get("cpu_percent")), f"cpu_percent missing or not a number: {body}"
    mem = {k: v for k, v in body.items()
           if any(w in k.lower() for w in ("mem", "rss", "ram")) and number(v)}
    assert mem, f"no memory figure among {sorted(body)}"


def test_metrics_format_json(server):
    check_json_metrics(expect_json(server.get("/metrics", params={"format": "json"}), 200))


def test_metrics_accept_json(server):
    check_json_metrics(expect_json(server.get("/metrics",
                                              headers={"Accept": "application/json"}), 200))
