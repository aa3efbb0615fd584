# SPDX-License-Identifier: MIT
"""A private redis-server for the tests: 127.0.0.1 only, a free port, a
temporary directory, no persistence, not daemonized, run as an unprivileged
user when the tests run as root, stopped by its PID. RedisServer.call speaks
RESP over a plain socket, so the tests need no Redis client library."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10


def redis_server_bin():
    path = shutil.which("redis-server")
    if not path:
        pytest.fail("redis-server not found: run scripts/install-deps.sh test (package redis-server)")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisError(Exception):
    """An error reply (-ERR ...)."""


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"unexpected RESP line {line!r}")


class RedisServer:
    """One redis-server process. The port is kept across restarts."""

    def __init__(self, password=None, name="redis"):
        self.password = password
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="linkd-redis-")
        self.proc = None
        self.runs = 0
        self.user = None
        if os.geteuid() == 0:
            # redis-server refuses nothing as root, but a test has no reason to give it root
            self.user = pwd.getpwnam("nobody")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self):
        self.runs += 1
        log = os.path.join(self.dir, f"{self.name}.{self.runs}.log")
        args = [redis_server_bin(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", log, "--protected-mode", "yes"]
        if self.password:
            args += ["--requirepass", self.password]
        kw = {}
        if self.user:
            kw = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir, **kw)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited with {self.proc.returncode}; log {log}")
            try:
                if self.call("PING") == "PONG":
                    return self
            except (OSError, ConnectionError, RedisError):
                pass
            time.sleep(0.02)
        self.kill()
        pytest.fail(f"redis-server did not answer PING within {START_TIMEOUT_S} s; log {log}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self):
        """SIGTERM by PID, then SIGKILL if it lingers."""
        if self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def pause(self):
        """SIGSTOP: Redis keeps its connections and answers nothing."""
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)

    def cleanup(self):
        self.resume()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):
        """A socket that has authenticated."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if self.password:
            s.sendall(_encode(["AUTH", self.password]))
            _Reader(s).reply()
        return s

    def call(self, *args):
        with self.session() as s:
            return s.call(*args)

    def session(self):
        """One connection for several commands (close it, or use `with`)."""
        return Session(self.connect())

    def hgetall(self, key):
        flat = self.call("HGETALL", key) or []
        return dict(zip(flat[0::2], flat[1::2]))

    def subscribers(self, channel):
        """How many clients are subscribed to channel."""
        reply = self.call("PUBSUB", "NUMSUB", channel)
        return int(reply[1])


class Session:
    """Commands over one connection: for a test that must not open new ones."""

    def __init__(self, sock):
        self.sock = sock
        self.reader = _Reader(sock)

    def call(self, *args):
        self.sock.sendall(_encode(args))
        return self.reader.reply()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
