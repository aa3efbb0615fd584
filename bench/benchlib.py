# SPDX-License-Identifier: MIT
"""Shared helpers for the linkd benchmarks (bench/redirect, bench/create).

Debian python3 standard library only. Every process started here is tracked by
PID and stopped by PID on exit, on an exception and on SIGINT/SIGTERM/SIGHUP.
"""
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
LUA_DIR = os.path.join(BENCH_DIR, "lua")
OUT_DIR = os.path.join(BENCH_DIR, "out")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, flush=True)


def warn(msg):
    print("warning: " + msg, file=sys.stderr, flush=True)


def die(msg):
    print("error: " + msg, file=sys.stderr, flush=True)
    raise SystemExit(1)


# --------------------------------------------------------------------------
# Processes and clean-up


class Cleanup:
    """Stops every tracked process (by PID) and removes temp dirs, once."""

    def __init__(self):
        self.procs = []  # (name, Popen, stop signal, grace seconds)
        self.callbacks = []  # (name, fn(keep_dirs)): after the processes, before the dirs
        self.dirs = []
        self.done = False

    def track(self, name, proc, sig=signal.SIGTERM, grace=15.0):
        self.procs.append((name, proc, sig, grace))
        return proc

    def add_dir(self, path):
        self.dirs.append(path)

    def add_callback(self, name, fn):
        """fn(keep_dirs) runs at clean-up after every tracked process has
        stopped and before the dirs are removed (last added, first run)."""
        self.callbacks.append((name, fn))

    def stop(self, proc, sig=signal.SIGTERM, grace=15.0):
        """Stops one tracked process; returns its exit code (None if killed)."""
        for i, (_, p, _, _) in enumerate(self.procs):
            if p is proc:
                del self.procs[i]
                break
        return stop_proc(proc, sig, grace)

    def run(self, keep_dirs=False):
        if self.done:
            return
        self.done = True
        for _, p, sig, grace in reversed(self.procs):
            stop_proc(p, sig, grace)
        self.procs = []
        for name, fn in reversed(self.callbacks):
            try:
                fn(keep_dirs)
            except Exception as e:  # clean up the rest all the same
                warn("clean-up of %s failed: %s" % (name, e))
        self.callbacks = []
        if not keep_dirs:
            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)


def stop_proc(proc, sig=signal.SIGTERM, grace=15.0):
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        warn("pid %d did not stop within %.0fs; killing it" % (proc.pid, grace))
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return None


class Interrupted(Exception):
    pass


def install_signal_handlers():
    """SIGINT/SIGTERM/SIGHUP raise Interrupted so that `finally` cleans up.
    Children run in their own sessions, so a Ctrl-C reaches only us."""

    def handler(signum, _frame):
        signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut clean-up short
        raise Interrupted("signal %d" % signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def spawn(args, env=None, stdout=None, stderr=None, cwd=None):
    return subprocess.Popen(args, env=env, stdout=stdout, stderr=stderr, cwd=cwd,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def raise_nofile(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# HTTP and linkd


def http_get(port, path, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_status(port, path, want, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            die("server on port %d exited with code %s during start-up" % (port, proc.returncode))
        try:
            status, _ = http_get(port, path, 2.0)
            if status == want:
                return
            last = status
        except OSError as e:
            last = e
        time.sleep(0.1)
    die("server on port %d did not answer %s %d within %.0fs (last: %s)" % (port, path, want,
                                                                             timeout, last))


def clean_env():
    """The caller's environment without any linkd setting, so that linkd runs
    with its defaults plus what the benchmark sets explicitly."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("LINKD_") or k in ("LOG_LEVEL", "DATABASE_URL", "REDIS_URL"))}
    return env


def database_url(db):
    """A SQLite file path, or a postgres:// URL as it is."""
    return db if "://" in db else "sqlite://" + db


def hide_password(url):
    """A database URL as it may be printed: without its password."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]+):[^@]*@", r"\1:***@", url)


class Linkd:
    def __init__(self, cleanup, binary, db, port, log_path, env_extra):
        """db: a SQLite file, or a postgres:// URL."""
        self.port = port
        self.log_path = log_path
        env = clean_env()
        env.update({"LINKD_LISTEN": "127.0.0.1:%d" % port, "DATABASE_URL": database_url(db),
                    "LINKD_RATE_LIMIT": "off"})
        env.update(env_extra)
        self.env_shown = {k: hide_password(v) if k == "DATABASE_URL" else v for k, v in env.items()
                          if k.startswith("LINKD_") or k in ("LOG_LEVEL", "DATABASE_URL")}
        self.log_f = open(log_path, "ab") if log_path != os.devnull else open(os.devnull, "wb")
        self.proc = cleanup.track("linkd", spawn([binary, "serve"], env=env, stdout=self.log_f,
                                                 stderr=subprocess.STDOUT), signal.SIGTERM, 60)
        self.cleanup = cleanup
        wait_status(port, "/health", 200, self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def metrics(self):
        status, body = http_get(self.port, "/metrics?format=json", 10.0)
        if status != 200:
            die("GET /metrics answered %d" % status)
        return json.loads(body)

    def rss(self):
        return proc_status(self.pid)

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def alive(self):
        return self.proc.poll() is None

    def log_rotate(self):
        """Counts warn/error lines and bytes written since the last call, then
        truncates the log (access lines at 100k req/s fill disks)."""
        if self.log_path == os.devnull:
            return {"log_bytes": 0, "log_warn_error_lines": 0}
        size = os.path.getsize(self.log_path)
        # Warnings and errors, except the one that LINKD_RATE_LIMIT=off asks for.
        r = subprocess.run("grep -E '\"level\":\"(warn|error)\"' %s | grep -v '\"event\":\"rate_limit_off\"'"
                           % shlex.quote(self.log_path), shell=True, capture_output=True, text=True)
        lines = r.stdout.splitlines()
        bad = len(lines)
        if bad:
            warn("linkd logged %d warn/error lines, e.g.:\n%s" % (bad, "\n".join(lines[:5])))
        os.truncate(self.log_path, 0)  # stdout is O_APPEND: linkd goes on at offset 0
        return {"log_bytes": size, "log_warn_error_lines": bad}

    def stop(self):
        rc = self.cleanup.stop(self.proc, signal.SIGTERM, 120)
        self.log_f.close()
        return rc


# --------------------------------------------------------------------------
# PostgreSQL

PG_SCRIPT = os.path.join(REPO_DIR, "scripts", "pg-test-server.sh")


class PgServer:
    """A private PostgreSQL server started with scripts/pg-test-server.sh in
    d, a new directory inside the benchmark's temp dir. At clean-up the same
    script stops it and removes it (only stops it with --keep); if this
    process dies without cleaning up (SIGKILL), a small watcher started here
    runs that command as soon as this process is gone. Queries go through
    psycopg2 as the cluster's superuser; linkd and `linkd import` connect as
    the role linkd, which owns the databases made here."""

    def __init__(self, cleanup, d, keep=False):
        try:
            import psycopg2
        except ImportError:
            die("python3-psycopg2 is missing; run scripts/install-deps.sh bench")
        self._psycopg2 = psycopg2
        self.dir = os.path.abspath(d)
        if len(self.dir) > 90:  # the socket lives there (pg-test-server.sh)
            die("%s is too long for the server's socket; use a shorter --tmpdir" % self.dir)
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            # The script runs the cluster as an unprivileged system user, who
            # must be able to pass through the temp dir (mkdtemp makes it 0700).
            parent = os.path.dirname(self.dir)
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
        self._conns = {}
        cleanup.add_callback("PostgreSQL in %s" % self.dir, self._cleanup)
        spawn(["sh", "-c", 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3" "$4"',
               "bench-pg-watch", str(os.getpid()), PG_SCRIPT, "stop" if keep else "clean",
               self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run([PG_SCRIPT, "start", self.dir], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
        if r.returncode != 0 or "://" not in r.stdout:
            die("pg-test-server.sh start %s failed (exit %d):\n%s%s" % (
                self.dir, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        self.url = r.stdout.strip().splitlines()[-1]
        self.admin_url = self._script_out("admin-url")
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            self.pid = int(f.readline())
        self.version = self.query("SHOW server_version")[0][0]

    def _script_out(self, cmd):
        r = subprocess.run([PG_SCRIPT, cmd, self.dir], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=600)
        if r.returncode != 0:
            die("pg-test-server.sh %s %s failed: %s" % (cmd, self.dir, r.stderr[-2000:]))
        return r.stdout.strip()

    def _cleanup(self, keep_dirs):
        self.close()
        r = subprocess.run([PG_SCRIPT, "stop" if keep_dirs else "clean", self.dir],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if r.returncode != 0:
            warn("pg-test-server.sh %s %s failed: %s" % ("stop" if keep_dirs else "clean",
                                                         self.dir, r.stderr[-2000:]))

    def url_for(self, db):
        """linkd's URL (role linkd) for database db."""
        return self.url.rsplit("/", 1)[0] + "/" + db

    def _conn(self, db):
        c = self._conns.get(db)
        if c is None or c.closed:
            c = self._psycopg2.connect(self.admin_url.rsplit("/", 1)[0] + "/" + db)
            c.autocommit = True
            self._conns[db] = c
        return c

    def close(self, db=None):
        for name in [db] if db else list(self._conns):
            c = self._conns.pop(name, None)
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass

    def query(self, sql, args=None, db="postgres"):
        with self._conn(db).cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None

    def create_db(self, name, template=None):
        """A new database owned by linkd; template: a database to copy (no
        session may be connected to it)."""
        if template:
            self.close(template)
        q = 'CREATE DATABASE "%s" OWNER linkd' % name
        self.query(q + (' TEMPLATE "%s"' % template if template else ""))

    def cpu(self):
        return pg_tree_cpu_seconds(self.pid)

    def rss(self):
        return tree_rss(self.pid)

    def counters(self):
        """Cluster-wide counters that move without delay: the next
        transaction id (each write transaction takes one; a read-only one
        does not) and the WAL position (bytes of WAL written)."""
        r = self.query("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,"
                       " pg_current_wal_lsn() - '0/0'::pg_lsn")[0]
        return {"next_xid": int(r[0]), "wal_lsn_bytes": int(r[1])}

    def db_stats(self, db):
        """pg_stat_database for db. Backends report these up to 10 s late
        while they stay connected: read them after linkd has stopped."""
        r = self.query("SELECT xact_commit, xact_rollback, tup_inserted, blks_read, blks_hit"
                       " FROM pg_stat_database WHERE datname = %s", (db,))[0]
        return dict(zip(("xact_commit", "xact_rollback", "tup_inserted", "blks_read", "blks_hit"),
                        (int(x) for x in r)))

    def pgbench(self, db, script, clients, duration, script_dir):
        """pgbench (the server's own) as linkd's role on database db, running
        the SQL `script` with `clients` sessions (one thread per core at
        most) for `duration` (e.g. "10s"), prepared statements. Returns
        {"tps", "xacts", "secs", "cpu_s"}: transactions per second, their
        count, the wall time and the server's CPU seconds meanwhile."""
        path = os.path.join(script_dir, "pgbench-%d.sql" % len(os.listdir(script_dir)))
        with open(path, "w") as f:
            f.write(script)
        binary = os.path.join(os.environ.get("LNK_PG_BIN", "/usr/lib/postgresql/15/bin"),
                              "pgbench")
        cmd = [binary, "-n", "-M", "prepared", "-c", str(clients),
               "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(int(parse_seconds(duration))),
               "-f", path, self.url_for(db)]
        cpu0, t0 = self.cpu(), time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=parse_seconds(duration) + 300)
        secs, cpu = time.monotonic() - t0, self.cpu() - cpu0
        tps = re.search(r"^tps = ([0-9.]+)", r.stdout, re.M)
        n = re.search(r"^number of transactions actually processed: (\d+)", r.stdout, re.M)
        failed = re.search(r"^number of failed transactions: (\d+)", r.stdout, re.M)
        if r.returncode != 0 or not n or (failed and int(failed.group(1))):
            die("pgbench failed (exit %d):\n%s%s" % (r.returncode, r.stdout[-2000:],
                                                     r.stderr[-2000:]))
        if not int(n.group(1)):
            # Many sessions on a busy machine: connecting (a backend forked and
            # a SCRAM exchange each) can take the whole duration.
            warn("pgbench with %d sessions completed no transaction in %s" % (clients, duration))
        return {"tps": float(tps.group(1)) if tps else 0.0, "xacts": int(n.group(1)),
                "secs": secs, "cpu_s": cpu}

    def wal_stats(self):
        r = self.query("SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync"
                       " FROM pg_stat_wal")[0]
        return dict(zip(("wal_records", "wal_fpi", "wal_bytes", "wal_write", "wal_sync"),
                        (int(x) for x in r)))


# --------------------------------------------------------------------------
# /proc sampling


def proc_status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile and RssShmem in bytes."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_run_delays(pid):
    """{tid: seconds} each thread of pid alive now spent runnable but waiting
    for a CPU (field 2 of /proc/PID/task/TID/schedstat)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[tid] = int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return out


def run_delay_seconds(pid):
    """thread_run_delays of pid, added up."""
    return sum(thread_run_delays(pid).values())


class RunDelaySampler:
    """Follows the run_delay of a child process's threads until it exits.
    A thread's counter vanishes with the thread, so each thread counts with
    the last value seen for it (missing at most the last `every` seconds)."""

    def __init__(self, proc, every=0.2):
        self.proc, self.seen, self._stop = proc, {}, threading.Event()
        self._t = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._t.start()

    def _loop(self, every):
        while not self._stop.wait(every) and self.proc.poll() is None:
            self.seen.update(thread_run_delays(self.proc.pid))

    def stop(self):
        self._stop.set()
        self._t.join()
        return sum(self.seen.values())


def machine_busy_seconds():
    """CPU seconds all cores spent busy (not idle or iowait) since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / CLK_TCK


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def tree_cpu_seconds(pid):
    """CPU of a process and its direct children (nginx master + workers)."""
    return proc_cpu_seconds(pid) + sum(proc_cpu_seconds(k) for k in children_of(pid))


def pg_tree_cpu_seconds(pid):
    """CPU of a PostgreSQL server: the postmaster, its children that it has
    reaped (cutime + cstime: backends and autovacuum workers that exited) and
    its children alive now (backends, walwriter, checkpointer, ...)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0
    return own + sum(proc_cpu_seconds(k) for k in children_of(pid))


def tree_run_delay_seconds(pid):
    """run_delay_seconds of a process and its direct children."""
    return run_delay_seconds(pid) + sum(run_delay_seconds(k) for k in children_of(pid))


def tree_rss(pid):
    return proc_status(pid).get("VmRSS", 0) + sum(
        proc_status(k).get("VmRSS", 0) for k in children_of(pid))


# --------------------------------------------------------------------------
# Build and machine


def git_describe():
    def git(*a):
        try:
            return subprocess.run(["git", "-C", REPO_DIR] + list(a), capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", "src",
                              "include", "CMakeLists.txt"))}


def ensure_binary(path, build_dir, do_build):
    """Builds linkd in Release into build_dir (unless do_build is False) and
    returns the binary path. Falls back to an existing binary when the build
    fails (others may be editing src/)."""
    if path:
        if not os.access(path, os.X_OK):
            die("%s is not an executable" % path)
        return os.path.abspath(path)
    binary = os.path.join(build_dir, "linkd")
    if do_build:
        log("building linkd (Release) in %s ..." % build_dir)
        cfg = subprocess.run(["cmake", "-S", REPO_DIR, "-B", build_dir,
                              "-DCMAKE_BUILD_TYPE=Release"], capture_output=True, text=True)
        bld = cfg.returncode == 0 and subprocess.run(
            ["cmake", "--build", build_dir, "-j%d" % (os.cpu_count() or 2), "--target", "linkd"],
            capture_output=True, text=True)
        if cfg.returncode != 0 or bld.returncode != 0:
            text = cfg.stderr if cfg.returncode != 0 else (bld.stdout + bld.stderr)
            if os.access(binary, os.X_OK):
                warn("build failed; using the existing %s:\n%s" % (binary, text[-2000:]))
            else:
                die("build failed:\n" + text[-4000:])
    if not os.access(binary, os.X_OK):
        die("no linkd binary at %s (run without --no-build)" % binary)
    return binary


def write_seed(d, n_users, url_lines=()):
    """Writes in d what `linkd import` reads: users.csv with users 1..n_users
    (bench<N>), urls.csv with its header then url_lines (CSV lines, newline
    included; any iterable, written as it comes), and events.csv with its
    header only."""
    with open(os.path.join(d, "users.csv"), "w", newline="") as f:
        f.write("id,username,email,created_at\n")
        f.writelines("%d,bench%d,bench%d@example.com,2025-01-01 00:00:00\n" % (i, i, i)
                     for i in range(1, n_users + 1))
    with open(os.path.join(d, "urls.csv"), "w", newline="") as f:
        f.write("id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n")
        f.writelines(url_lines)
    with open(os.path.join(d, "events.csv"), "w", newline="") as f:
        f.write("id,url_id,user_id,event_type,timestamp,details\n")


def import_seed(binary, seed_dir, db):
    """`linkd import seed_dir` into a new SQLite file db (or the empty
    database of a postgres:// URL). Returns the seconds it took and the last
    line linkd printed (its summary)."""
    env = clean_env()
    env["DATABASE_URL"] = database_url(db)
    t0 = time.monotonic()
    imp = subprocess.run([binary, "import", seed_dir], env=env, capture_output=True, text=True)
    secs = time.monotonic() - t0
    if imp.returncode != 0:
        die("linkd import failed (exit %d):\n%s%s" % (imp.returncode, imp.stdout[-2000:],
                                                      imp.stderr[-2000:]))
    return secs, (imp.stdout.strip().splitlines() or [""])[-1]


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass

    def version(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception:
            return ""

    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "mem_bytes": mem, "loadavg": os.getloadavg(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wrk": version(["wrk", "-v"]), "nginx": version(["nginx", "-v"]),
            "postgres": version([os.path.join(os.environ.get("LNK_PG_BIN", "/usr/lib/postgresql/15/bin"),
                                              "postgres"), "-V"])}


def require_tools(names):
    missing = [n for n in names if not shutil.which(n)]
    if missing:
        die("missing %s; run scripts/install-deps.sh bench" % ", ".join(missing))


# --------------------------------------------------------------------------
# wrk

RESULT_RE = re.compile(r"^@@BENCH (\{.*\})\s*$", re.M)


def run_wrk(url, lua, lua_args, conns, duration, threads=2, timeout="2s", extra_env=None,
            server_pid=None):
    """Runs wrk with one of bench/lua/*.lua, whose done() prints one
    `@@BENCH {json}` line. Returns that dict plus wrk's CPU seconds and how
    long wrk's threads (and server_pid's) waited for a CPU."""
    threads = max(1, min(threads, conns))
    args = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%s" % duration, "--timeout", timeout,
            "-s", os.path.join(LUA_DIR, lua), url, "--"] + [str(a) for a in lua_args]
    res = run_loadgen("wrk", args, parse_seconds(duration), extra_env, server_pid)
    res["conns"] = conns
    res["threads"] = threads
    secs = res["duration_us"] / 1e6
    res["rps"] = res["requests"] / secs if secs > 0 else 0.0
    res["socket_errors"] = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_timeout"]
    return res


def run_loadgen(name, args, duration_s, extra_env=None, server_pid=None):
    """Runs a load generator that prints one `@@BENCH {json}` line (wrk with
    bench/lua, bench/openloop.c). Returns that dict plus the generator's CPU
    seconds, the machine's busy CPU seconds and how long the generator's
    threads (and server_pid's) waited for a CPU meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = machine_busy_seconds(), time.monotonic()
    server_wait0 = tree_run_delay_seconds(server_pid) if server_pid else 0.0
    proc = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 env=dict(os.environ, **(extra_env or {})))
    sampler = RunDelaySampler(proc)
    try:
        out, err = proc.communicate(timeout=duration_s + 120)
    except BaseException:
        stop_proc(proc, signal.SIGKILL, 5)
        raise
    finally:
        gen_wait = sampler.stop()
    server_wait = tree_run_delay_seconds(server_pid) - server_wait0 if server_pid else None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, t1 = machine_busy_seconds(), time.monotonic()
    m = RESULT_RE.search(out.decode(errors="replace"))
    if proc.returncode != 0 or not m:
        die("%s failed (exit %s):\n%s\n%s" % (name, proc.returncode,
                                              out.decode(errors="replace")[-2000:],
                                              err.decode(errors="replace")[-2000:]))
    res = json.loads(m.group(1))
    res["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res["machine_busy_s"] = busy1 - busy0
    res["wrk_wait_s"] = gen_wait
    res["server_wait_s"] = server_wait
    res["wall_s"] = t1 - t0
    return res


OPENLOOP_SRC = os.path.join(BENCH_DIR, "openloop.c")


def build_openloop(d):
    """Compiles bench/openloop.c into d with cc; returns the executable."""
    exe = os.path.join(d, "openloop")
    cc = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe,
                         OPENLOOP_SRC, "-lpthread", "-lm"], capture_output=True, text=True)
    if cc.returncode != 0:
        die("building %s failed:\n%s" % (OPENLOOP_SRC, cc.stderr[-3000:]))
    return exe


def run_openloop(exe, port, codes, conns, rate, duration, warmup="1s", threads=2, timeout="2s",
                 sequential=False, server_pid=None):
    """Runs bench/openloop.c: `rate` requests per second on a fixed schedule
    over `conns` keep-alive connections, latency counted from each request's
    due time (rate 0: closed loop). Returns its dict like run_wrk's, with
    rps the responses per second it measured."""
    threads = max(1, min(threads, conns))
    args = [exe, "-p", str(port), "-c", str(conns), "-t", str(threads), "-r", "%.1f" % rate,
            "-d", "%g" % parse_seconds(duration), "-w", "%g" % parse_seconds(warmup),
            "-T", "%g" % parse_seconds(timeout)] + (["-s"] if sequential else []) + [codes]
    res = run_loadgen("openloop", args,
                      parse_seconds(duration) + parse_seconds(warmup) + parse_seconds(timeout),
                      server_pid=server_pid)
    res["rps"] = res["rate_achieved"]
    res["sent"] = res["sent_all"]
    res["socket_errors"] = res["err_connect"] + res["err_read"] + res["err_write"]
    return res


def other_cpu(res, server_cpu_s):
    """Cores' worth of CPU used during a wrk run by everything but wrk and the
    server under test (other tenants, the idle reference server, the kernel's
    own threads): how noisy the machine was. Stored in res["other_cores"]."""
    if res.get("wall_s"):
        res["other_cores"] = max(0.0, (res["machine_busy_s"] - res["wrk_cpu_s"] - server_cpu_s)
                                 / res["wall_s"])
    return res.get("other_cores")


def wait_quiet(max_wait, max_cores, own_cpu=lambda: 0.0, sample=2.0):
    """Waits up to max_wait seconds until the processes other than ours use
    less than max_cores over a `sample`-second window (a shared machine).
    own_cpu() returns the CPU seconds of our servers so far. Returns the last
    measured cores of the others."""
    deadline = time.monotonic() + max_wait
    said = False
    while True:
        b0, o0 = machine_busy_seconds(), own_cpu()
        time.sleep(sample)
        cores = max(0.0, (machine_busy_seconds() - b0 - (own_cpu() - o0)) / sample)
        if cores < max_cores or time.monotonic() >= deadline:
            if said:
                log("    (others at %.2f cores%s)" % (
                    cores, "" if cores < max_cores else "; going on anyway"))
            return cores
        if not said:
            log("    waiting up to %.0fs for other processes to calm down (%.2f cores busy)" % (
                max_wait, cores))
            said = True


def settle(cpu, max_wait=30.0, max_cores=0.05, sample=0.5):
    """Waits up to max_wait seconds until cpu() (CPU seconds of one of our
    servers, e.g. PostgreSQL's autovacuum after a run) grows by less than
    max_cores over `sample` seconds. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_wait:
        c0 = cpu()
        time.sleep(sample)
        if (cpu() - c0) / sample < max_cores:
            break
    return time.monotonic() - t0


def histo_delta(after, before, name):
    """(count, sum) of a /metrics?format=json histogram between two scrapes."""
    a, b = after.get(name) or {}, before.get(name) or {}
    return (a.get("count", 0) - b.get("count", 0), a.get("sum", 0.0) - b.get("sum", 0.0))


def writer_figures(m1, m0, secs):
    """The store writer's group commits between two scrapes of linkd's
    metrics: batches, ops per batch, mean time per batch (begin to commit) and
    the share of the run the writer spent in batches."""
    n, ops = histo_delta(m1, m0, "store_batch_ops")
    nc, commit_s = histo_delta(m1, m0, "store_commit_duration_seconds")
    return {"batches": n, "batch_ops": ops,
            "ops_per_batch": ops / n if n else None,
            "batch_ms": commit_s * 1000 / nc if nc else None,
            "writer_busy": commit_s / secs if secs else None}


def parse_seconds(d):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", str(d).strip())
    if not m:
        raise ValueError("bad duration %r (e.g. 10s, 2m)" % d)
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse_int_list(s):
    try:
        v = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("error: %r is not a comma-separated list of numbers" % s)
    if not v or min(v) < 1:
        raise SystemExit("error: %r: numbers must be >= 1" % s)
    return v


# --------------------------------------------------------------------------
# Numbers and output


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec="{:,.0f}"):
    return "-" if v is None else spec.format(v)


def mb(b):
    return "-" if not b else "%.1f MiB" % (b / 1048576)


def table(rows, headers, aligns=None):
    cols = list(zip(*([headers] + rows))) if rows else [[h] for h in headers]
    widths = [max(len(str(c)) for c in col) for col in cols]
    aligns = aligns or ["<"] + [">"] * (len(headers) - 1)
    out = []
    for i, r in enumerate([headers] + rows):
        out.append("  ".join(("{:%s%d}" % (a, w)).format(str(c)) for c, w, a in zip(r, widths, aligns)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def out_path(name):
    os.makedirs(OUT_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(OUT_DIR, "%s-%s.json" % (name, stamp))


def write_json(path, data):
    """(Re)writes the raw results; called after each part, so that an
    interrupted run keeps what it measured."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def make_tmpdir(base, prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=base)
