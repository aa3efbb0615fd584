# SPDX-License-Identifier: MIT
"""Running the real binary: `linkd serve` as a child process with its stdout
(log lines, JSON or with LOG_FORMAT=text text) and stderr (sanitizer
reports) in files, and one-shot CLI commands. A server is up once it prints
{"event":"listening","port":N} (text: `... http listening ... port=N`).
Its database is named by a path (db_path) on the backend LNK_TEST_BACKEND
picks (backend.py), or given whole as database_url."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import backend
from apiclient import LINKD_BIN, SEED_DIR, Client

# Hang guards, not speed limits. A server loading the seed on PostgreSQL
# takes 4-8 s to listen in the sanitizer build (row by row over the network),
# against 1 s on SQLite; on a machine loaded by parallel suites every start
# and stop of the sanitizer build takes several times longer (measured at a
# load average of 20: 7-12 s to listen, 10-15 s to stop). A stop's own
# deadline (LINKD_DRAIN_S) is checked by the tests about stopping.
LISTEN_TIMEOUT_S = 60
STOP_TIMEOUT_S = 40
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


_TEXT_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^ "]*)'
TEXT_LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (debug|info|warn|error) (\S+) (\S+)"
                       r"((?: [a-z0-9_]+=" + _TEXT_VALUE + r")*)\n?")
TEXT_FIELD = re.compile(r" ([a-z0-9_]+)=(" + _TEXT_VALUE + ")")


def parse_text_line(line):
    """A LOG_FORMAT=text line as the dict its JSON line would be (bare
    values stay strings, a quoted one is decoded, `key=` is None), or None
    when the line does not have the text shape."""
    m = TEXT_LINE.fullmatch(line)
    if not m:
        return None
    obj = {"ts": m.group(1), "level": m.group(2), "component": m.group(3), "event": m.group(4)}
    for key, value in TEXT_FIELD.findall(m.group(5)):
        obj[key] = json.loads(value) if value.startswith('"') else (value or None)
    return obj


def parse_log_line(line):
    """A JSON or text log line as a dict, or None."""
    try:
        obj = json.loads(line)
    except ValueError:
        return parse_text_line(line)
    return obj if isinstance(obj, dict) else None


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(none)"
    return "\n".join(lines[-n:]) or "(empty)"


def require_binary():
    if not LINKD_BIN.is_file() or not os.access(LINKD_BIN, os.X_OK):
        pytest.fail(f"linkd binary not found at {LINKD_BIN} (set LINKD_BIN or build it)")


def db_url(path):
    """DATABASE_URL of the database named by path: a SQLite file, or a
    PostgreSQL database of its own (LNK_TEST_BACKEND=postgres)."""
    return backend.url(path)


def linkd_env(**extra):
    env = os.environ.copy()
    env.pop("LNK_TEST_BASE_URL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_linkd(args, env=None, timeout_s=60, cwd=None):
    """Runs a linkd CLI command to completion; returns CompletedProcess (text)."""
    require_binary()
    return subprocess.run([str(LINKD_BIN), *args], env=env if env is not None else linkd_env(),
                          cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout_s)


class LinkdProcess:
    """One `linkd serve` with stdout/stderr in files under workdir."""

    def __init__(self, workdir, db_path=None, seed_dir=None, args=(), env=None, name="linkd",
                 by_env=True, database_url=None):
        self.workdir = workdir
        self.by_env = by_env  # False: configure by flags only (args), no LINKD_* env
        self.db_path = db_path or workdir / "linkd.db"
        self.database_url = database_url  # None: db_url(db_path)
        self.seed_dir = seed_dir
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.name = name
        self.runs = 0
        self.proc = None
        self.port = None
        self.stopped = False
        self.stop_problem = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.runs += 1
        tag = f"{self.name}.{self.runs}"
        self.stdout_path = self.workdir / f"{tag}.stdout"
        self.stderr_path = self.workdir / f"{tag}.stderr"
        if self.by_env:
            url = self.database_url or db_url(self.db_path)
            env = linkd_env(**{"LINKD_LISTEN": "127.0.0.1:0", "DATABASE_URL": url,
                               "LINKD_WORKERS": 2, "LOG_LEVEL": "info", **self.extra_env})
        else:
            env = linkd_env(**self.extra_env)
            for k in ("LINKD_LISTEN", "DATABASE_URL", "LINKD_WORKERS", "LOG_LEVEL"):
                env.pop(k, None)
        cmd = [str(LINKD_BIN), "serve", *self.args]
        if self.seed_dir is not None:
            cmd += ["--seed", str(self.seed_dir)]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.workdir)
        self.port = self._wait_listening()
        return self

    def _wait_listening(self):
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.stdout_text().splitlines():
                obj = parse_log_line(line)
                if obj and obj.get("event") == "listening":
                    port = obj.get("port")
                    port = int(port) if isinstance(port, str) and port.isdigit() else port
                    if type(port) is int and 0 < port < 65536:
                        return port
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"linkd serve exited with {rc} before listening\n"
                            f"stdout:\n{tail(self.stdout_path)}\nstderr:\n{tail(self.stderr_path)}")
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        pytest.fail(f'linkd serve printed no {{"event":"listening","port":N}} line within '
                    f"{LISTEN_TIMEOUT_S} s\nstdout:\n{tail(self.stdout_path)}\n"
                    f"stderr:\n{tail(self.stderr_path)}")

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and waits. Returns a description of what went
        wrong (slow exit, non-zero status, sanitizer report) or None; the
        answer is kept, so later calls return the same."""
        if self.proc is None:
            return None
        if self.stopped:
            return self.stop_problem
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.stop_problem = (f"linkd did not exit within {STOP_TIMEOUT_S} s of "
                                     f"{sig.name}\nstderr:\n{tail(self.stderr_path)}")
                return self.stop_problem
        self.stop_problem = self.problems()
        return self.stop_problem

    def problems(self):
        rc = self.proc.returncode
        err = self.stderr_text()
        bad = [m for m in SANITIZER_MARKS if m in err]
        if rc == 0 and not bad:
            return None
        return (f"linkd serve ({self.stderr_path}) exited with {rc}"
                f"{' and sanitizer reports ' + str(bad) if bad else ''}\n"
                f"stderr tail:\n{tail(self.stderr_path, 60)}")

    def client(self):
        return Client(self.base_url, self)


class LinkdFactory:
    """Starts servers for one test and checks that each one stops cleanly."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.procs = []

    def start(self, seed=False, db_path=None, args=(), env=None, by_env=True):
        d = self.tmp_path / f"srv{len(self.procs)}"
        d.mkdir()
        p = LinkdProcess(d, db_path=db_path, seed_dir=SEED_DIR if seed else None,
                         args=args, env=env, by_env=by_env)
        self.procs.append(p)
        p.start()
        return p.client()

    def finish(self):
        """Stops every server still running; returns the problems of all."""
        return [m for m in (p.stop() for p in self.procs) if m]
