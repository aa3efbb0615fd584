# SPDX-License-Identifier: MIT
"""The cluster of docs/deploy.md#cluster on 127.0.0.1: a private PostgreSQL
server (tests/api/backend.py PgServer), a private redis-server
(tests/redis/redisproc.py), three linkd nodes (tests/api/linkdproc.py) on
fixed ports, and nginx with deploy/nginx/linkd.conf in front of them, every
process started here and stopped by its PID. Load comes from client threads
through nginx, one connection per request, and records what was answered."""

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "api"))
sys.path.insert(0, str(HERE.parent / "redis"))

from backend import PgServer  # noqa: E402  (tests/api)
from apiclient import wait_until  # noqa: E402  (tests/api)
from linkdproc import LinkdProcess, tail  # noqa: E402
from redisproc import RedisServer, free_port  # noqa: E402  (tests/redis)

NGINX_CONF_SRC = REPO / "deploy" / "nginx" / "linkd.conf"
UPSTREAM_NODE = REPO / "deploy" / "nginx" / "upstream-node.sh"
N_NODES = 3
FLUSH_MS = 100
# Every node's settings. A long local TTL: a change another node makes shows
# here only through Redis pub/sub, which the tests then measure. The drain
# delay is the one deploy/nginx/linkd.conf asks for (a little longer than a
# failed node takes to be skipped); the rolling restart takes the node out of
# nginx first, so it adds only to the stop's duration.
NODE_ENV = {
    "LINKD_CACHE_MB": 16,
    "LINKD_WORKERS": 2,
    "LINKD_CACHE_TTL_MS": 30000,
    "LINKD_RATE_LIMIT": "off",
    "LINKD_AUTH": "off",
    "LINKD_ACCESS_LOG": "off",
    "LINKD_CLICK_FLUSH_MS": FLUSH_MS,
    "LINKD_TRUSTED_PROXIES": "127.0.0.1/32",
    "LINKD_DRAIN_DELAY_MS": 500,
}
TIMEOUT_S = 10  # a hang guard on each client request, not a speed limit


def request(port, method, path, body=None, headers=None):
    """One request on a new connection: (status, headers dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        h = {"Connection": "close", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def p99(samples):
    if len(samples) < 2:
        return max(samples)
    return statistics.quantiles(samples, n=100, method="inclusive")[-1]


def figures(name, **kw):
    """One line of measured figures in the test output (ctest shows it)."""
    print(f"\nCLUSTER {name} " + json.dumps(kw, sort_keys=True), flush=True)


# ---------------------------------------------------------------- nodes


class Node:
    """One linkd serve on a fixed port, restarted on the same port."""

    def __init__(self, workdir, index, database_url, redis_url):
        self.index = index
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        d = Path(workdir) / f"node{index}"
        d.mkdir()
        env = {**NODE_ENV, "LINKD_LISTEN": self.addr, "REDIS_URL": redis_url}
        self.proc = LinkdProcess(d, database_url=database_url, env=env, name=f"node{index}")
        self.problems = []

    def start(self):
        self.proc.stopped = False
        self.proc.stop_problem = None
        self.proc.start()
        assert self.proc.port == self.port
        return self

    def stop(self):
        """SIGTERM and wait; an unclean exit is recorded for the end."""
        problem = self.proc.stop()
        if problem:
            self.problems.append(problem)

    def kill(self):
        self.proc.proc.send_signal(signal.SIGKILL)
        self.proc.proc.wait(15)
        self.proc.stopped = True

    def alive(self):
        return self.proc.alive()

    def get(self, path, method="GET", body=None):
        return request(self.port, method, path, body)

    def json(self, path):
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:200])
        return json.loads(body)

    def metric(self, name, label=None):
        v = self.json("/metrics?format=json").get(name)
        if label is not None:
            v = (v or {}).get(label)
        return v

    def stderr_tail(self):
        return tail(self.proc.stderr_path)


# ---------------------------------------------------------------- nginx


class Nginx:
    """nginx with deploy/nginx/linkd.conf, its upstream listing the nodes.
    The file is the deployed one with only the addresses and the log path
    replaced; a change to the file that these replacements no longer match
    fails here rather than test a different configuration."""

    def __init__(self, workdir, nodes):
        # not under pytest's directory, which only root may enter
        self.dir = Path(tempfile.mkdtemp(prefix="linkd-nginx-", dir="/tmp"))
        self.port = free_port()
        self.conf = self.dir / "linkd.conf"
        self.main_conf = self.dir / "nginx.conf"
        self.pidfile = self.dir / "nginx.pid"
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.proc = None
        self.user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        for t in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / t).mkdir()
        self.conf.write_text(self.site_conf(NGINX_CONF_SRC.read_text(), nodes))
        self.main_conf.write_text(self.main())
        if self.user:
            for p in [self.dir, *self.dir.iterdir()]:
                os.chown(p, self.user.pw_uid, self.user.pw_gid)

    def site_conf(self, src, nodes):
        servers = re.findall(r"^(\s*)server \S+:\d+( [^;\n]*)?;\n", src, re.M)
        assert len(servers) >= 1, "deploy/nginx/linkd.conf lists no upstream server"
        indent, params = servers[0]
        lines = "".join(f"{indent}server {n.addr}{params};\n" for n in nodes)
        out, n = re.subn(r"(^\s*server \S+:\d+( [^;\n]*)?;\n)+", lines, src, count=1, flags=re.M)
        assert n == 1 and len(re.findall(r"^\s*server \S+:\d+", out, re.M)) == len(nodes)
        out, n = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{self.port};", out, flags=re.M)
        assert n == 1, "deploy/nginx/linkd.conf: no `listen 80;`"
        out, n = re.subn(r"access_log \S+ linkd_json;", f"access_log {self.access_log} linkd_json;",
                         out)
        assert n == 1, "deploy/nginx/linkd.conf: no `access_log ... linkd_json;`"
        return out

    def main(self):
        temps = "".join(f"    {k}_temp_path {self.dir / v};\n" for k, v in (
            ("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"),
            ("uwsgi", "uwsgi"), ("scgi", "scgi")))
        return (f"daemon off;\nworker_processes 2;\npid {self.pidfile};\n"
                f"error_log {self.error_log} notice;\n"
                "events { worker_connections 4096; }\n"
                f"http {{\n{temps}    include {self.conf};\n}}\n")

    def nginx_args(self):
        return ["nginx", "-p", str(self.dir), "-c", str(self.main_conf)]

    def start(self):
        kw = {}
        if self.user:
            kw = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        r = subprocess.run([*self.nginx_args(), "-t", "-q"], capture_output=True, text=True, **kw)
        assert r.returncode == 0, f"nginx -t: {r.stderr}"
        self.proc = subprocess.Popen(self.nginx_args(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"nginx exited: {self.error_tail()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"nginx did not listen within 10 s: {self.error_tail()}")

    def upstream_node(self, cmd, addr):
        """deploy/nginx/upstream-node.sh on this nginx."""
        env = {**os.environ, "NGINX_CONF": str(self.conf), "NGINX_PID": str(self.pidfile),
               "NGINX": " ".join(self.nginx_args()), "WAIT_S": "60"}
        r = subprocess.run([str(UPSTREAM_NODE), cmd, addr], env=env, capture_output=True,
                           text=True, timeout=90)
        assert r.returncode == 0, f"upstream-node.sh {cmd} {addr}: {r.stderr}"

    def access_mark(self):
        """Where the access log ends now, for access(since)."""
        return self.access_log.stat().st_size

    def access(self, since=0):
        """The JSON lines of the access log from byte `since` on (whole
        lines only: nginx writes each with one write)."""
        with open(self.access_log, "rb") as f:
            f.seek(since)
            data = f.read()
        lines = data[:data.rfind(b"\n") + 1].decode().splitlines()
        return [json.loads(line) for line in lines if line]

    def error_tail(self):
        return tail(self.error_log)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- the whole


class Cluster:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.pg = None
        self.redis = None
        self.nodes = []
        self.nginx = None

    def start(self):
        self.pg = PgServer.create()
        self.redis = RedisServer(name="cluster-redis").start()
        self.nodes = [Node(self.workdir, i, self.pg.url, self.redis.url) for i in range(N_NODES)]
        # the first creates the schema; the others find it
        self.nodes[0].start()
        for n in self.nodes[1:]:
            n.start()
        self.nginx = Nginx(self.workdir, self.nodes).start()
        return self

    @property
    def port(self):
        return self.nginx.port

    def query(self, sql, params=()):
        con = self.pg.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()

    def new_user(self):
        name = f"u{time.monotonic_ns()}"
        status, _, body = request(self.port, "POST", "/users",
                                  {"username": name, "email": f"{name}@example.com"})
        assert status == 201, (status, body)
        return json.loads(body)["id"]

    def new_link(self, user_id, url="https://example.com/cluster"):
        status, _, body = request(self.port, "POST", "/urls",
                                  {"user_id": user_id, "original_url": url})
        assert status == 201, (status, body)
        return json.loads(body)

    def finish(self):
        problems = []
        if self.nginx:
            self.nginx.stop()
        for n in self.nodes:
            if n.proc.proc is not None:
                n.stop()
            problems += n.problems
        if self.redis:
            self.redis.cleanup()
        if self.pg:
            self.pg.clean()
        return problems


# ---------------------------------------------------------------- load


class Load:
    """Client threads through nginx until stopped: `redirectors` threads
    GET the given codes round robin (a 302 to the link's url is a success),
    `creators` threads POST /urls (a 201 is recorded as acknowledged).
    Anything else is recorded with what was answered."""

    def __init__(self, port, links, user_id, redirectors=3, creators=1, tag="load",
                 create_ok=(201,)):
        self.port = port
        self.links = links  # [(code, url)]
        self.user_id = user_id
        self.tag = tag
        self.create_ok = create_ok
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.redirects = 0
        self.redirect_errors = []
        self.creates = {}  # status -> count
        self.acked = []  # (id, short_code, original_url)
        self.create_errors = []
        self.create_bodies = []  # (status, body) of answers other than 201
        self.threads = [threading.Thread(target=self._redirect, args=(i,), daemon=True)
                        for i in range(redirectors)]
        self.threads += [threading.Thread(target=self._create, args=(i,), daemon=True)
                         for i in range(creators)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(TIMEOUT_S * 2)

    def _redirect(self, i):
        k = i
        while not self.stop_flag.is_set():
            code, url = self.links[k % len(self.links)]
            k += 1
            try:
                status, h, body = request(self.port, "GET", "/" + code)
            except OSError as e:
                with self.lock:
                    self.redirect_errors.append(("exception", code, repr(e)))
                continue
            with self.lock:
                if status == 302 and h.get("location") == url:
                    self.redirects += 1
                else:
                    self.redirect_errors.append((status, code, body[:200]))

    def _create(self, i):
        k = 0
        while not self.stop_flag.is_set():
            k += 1
            url = f"https://example.com/{self.tag}/{i}/{k}"
            try:
                status, _, body = request(self.port, "POST", "/urls",
                                          {"user_id": self.user_id, "original_url": url})
            except OSError as e:
                with self.lock:
                    self.create_errors.append(("exception", url, repr(e)))
                continue
            with self.lock:
                self.creates[status] = self.creates.get(status, 0) + 1
                if status == 201:
                    o = json.loads(body)
                    assert o["original_url"] == url
                    self.acked.append((o["id"], o["short_code"], url))
                else:
                    self.create_bodies.append((status, body))
                    if status not in self.create_ok:
                        self.create_errors.append((status, url, body[:200]))
            if status != 201:
                time.sleep(0.01)

    def total(self):
        with self.lock:
            return self.redirects + len(self.acked)

    def summary(self):
        with self.lock:
            return {"redirects_302": self.redirects, "redirect_errors": len(self.redirect_errors),
                    "creates": dict(self.creates), "creates_acked": len(self.acked),
                    "create_errors": len(self.create_errors)}

    def run_for(self, seconds):
        """Sleeps while the load runs; how many requests succeeded meanwhile."""
        start = self.total()
        time.sleep(seconds)
        return self.total() - start


def lost_creates(cluster, acked):
    """The acknowledged creates PostgreSQL does not hold as answered."""
    if not acked:
        return []
    ids = [a[0] for a in acked]
    rows = {r[0]: (r[1], r[2]) for r in cluster.query(
        "SELECT id, short_code, original_url FROM urls WHERE id = ANY(%s)", (ids,))}
    return [a for a in acked if rows.get(a[0]) != (a[1], a[2])]
