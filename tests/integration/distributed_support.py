"""Helpers for the distributed-mode tests (test_distributed*.py): real processes on
loopback — loadpilot-coordinator, loadpilot-agent, nats-server, loadpilot-target — each
started on a free port, stopped by pid, every wait bounded.

Every process a test starts carries LOADPILOT_TEST_SESSION=<id> in its environment
(children inherit it), so `no_leftovers` can tell, with pgrep and /proc/<pid>/environ,
whether this session left an agent, a coordinator or a nats-server behind, even when
other test sessions run theirs at the same time.

Usage: `from distributed_support import *` in a test module (fixtures included).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import pytest

from conftest import binary
from servers import free_port

SESSION = uuid.uuid4().hex
os.environ["LOADPILOT_TEST_SESSION"] = SESSION

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
WATCHED = ("loadpilot-agent", "loadpilot-coordinator", "nats-server")


def ours(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"LOADPILOT_TEST_SESSION={SESSION}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def leftovers() -> list[str]:
    """Processes of this session still running: '<name> <pid>'."""
    found = []
    for name in WATCHED:
        out = subprocess.run(["pgrep", "-x", name[:15]], capture_output=True, text=True).stdout
        found += [f"{name} {pid}" for pid in map(int, out.split()) if ours(pid)]
    return found


@pytest.fixture(scope="session", autouse=True)
def no_leftovers():
    yield
    deadline = time.monotonic() + 10
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = leftovers()
    for entry in left:  # clean up, then fail: the next session must start clean
        os.kill(int(entry.split()[1]), signal.SIGKILL)
    assert not left, f"left behind: {left}"


def wait_for(predicate, timeout: float, what: str, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def snapshot_at(c, elapsed: float, timeout: float) -> dict:
    """Waits for coordinator `c` to print a snapshot `elapsed` s or more into the run."""
    return wait_for(lambda: next((s for s in c.snapshots if s["elapsed_secs"] >= elapsed), None), timeout,
                    f"a snapshot {elapsed} s into the run")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Proc:
    """A process whose stderr goes to a file; stop() and kill() by pid."""

    def __init__(self, args: list[str], env: dict | None = None, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        self.errfile = tempfile.NamedTemporaryFile(prefix="lp-dist-", suffix=".err", delete=False)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.args = args
        self.process = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=self.errfile, env=full_env)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        with open(self.errfile.name, errors="replace") as f:
            return f.read()

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10) -> int:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        self.kill()
        os.unlink(self.errfile.name)


class NatsServer:
    """nats-server on 127.0.0.1 (a free port, or a given one to come back on)."""

    def __init__(self, token: str = "", port: int | None = None, max_payload: int = 0):
        self.token = token
        self.port = port or free_port()
        self.max_payload = max_payload
        self.proc: Proc | None = None
        self.conf = tempfile.NamedTemporaryFile(prefix="lp-nats-", suffix=".conf", delete=False)
        if max_payload:
            self.conf.write(f"max_payload: {max_payload}\n".encode())
        self.conf.close()
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-c", self.conf.name]
        if self.token:
            args += ["--auth", self.token]
        self.proc = Proc(args)
        wait_for(self._listening, 10, f"nats-server on {self.port}")

    def _listening(self) -> bool:
        import socket

        if not self.proc.alive():
            raise AssertionError(f"nats-server exited: {self.proc.stderr()}")
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        self.proc.kill()

    def close(self) -> None:
        if self.proc:
            self.proc.close()
        os.unlink(self.conf.name)


@dataclasses.dataclass
class Broker:
    """Where a test's agents and coordinator meet: the coordinator's embedded broker on
    a free port, or a real nats-server."""

    kind: str
    port: int
    server: NatsServer | None = None
    token: str = ""

    @property
    def agent_url(self) -> str:
        return f"127.0.0.1:{self.port}" if self.kind == "embedded" else self.server.url

    def coordinator_args(self) -> list[str]:
        args = ["--broker-addr", f"127.0.0.1:{self.port}"] if self.kind == "embedded" else ["--nats-url", self.server.url]
        if self.token:
            args += ["--nats-token", self.token]
        return args


def make_broker(kind: str, token: str = "") -> Broker:
    if kind == "embedded":
        return Broker(kind, free_port(), None, token)
    server = NatsServer(token=token)
    return Broker(kind, server.port, server, token)


@pytest.fixture(params=["embedded", "nats-server"])
def broker(request):
    b = make_broker(request.param)
    yield b
    if b.server:
        b.server.close()


@pytest.fixture
def agents():
    """Starts loadpilot-agent processes; kills each by pid at the end."""
    started: list[Proc] = []

    def start(url: str, agent_id: str, token: str = "", offset_ms: float | None = None, prefix: list[str] | None = None):
        args = (prefix or []) + [str(binary("loadpilot-agent")), "--coordinator", url, "--agent-id", agent_id]
        if offset_ms is not None:
            args += ["--clock-offset-ms", str(offset_ms)]
        env = {"NATS_TOKEN": token} if token else {}
        p = Proc(args, env=env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop(timeout=5)
        p.close()


class Coordinator:
    """loadpilot-coordinator with a plan on stdin; its snapshots are read as they come."""

    def __init__(self, plan: dict, *args: str, env: dict | None = None):
        self.proc = Proc([str(binary("loadpilot-coordinator")), *args], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
        self.snapshots: list[dict] = []
        self.started = time.monotonic()
        self.ended: float | None = None
        self.proc.process.stdin.write(json.dumps(plan).encode())
        self.proc.process.stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.process.stdout:
            if line.strip():
                self.snapshots.append(json.loads(line))
        self.ended = time.monotonic()

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"coordinator still running after {timeout} s; stderr:\n{self.proc.stderr()}")
        self._reader.join(timeout=5)
        return code

    @property
    def final(self) -> dict:
        assert self.snapshots and self.snapshots[-1]["phase"] == "done", \
            f"no final snapshot; stderr:\n{self.proc.stderr()}"
        return self.snapshots[-1]

    def stderr(self) -> str:
        return self.proc.stderr()

    def wall(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def close(self) -> None:
        self.proc.close()


@pytest.fixture
def coordinators():
    """Starts coordinators; kills each by pid at the end."""
    started: list[Coordinator] = []

    def start(plan: dict, *args: str, env: dict | None = None) -> Coordinator:
        c = Coordinator(plan, *args, env=env)
        started.append(c)
        return c

    yield start
    for c in started:
        c.proc.stop(timeout=10)
        c.close()


def plan_for(target_url: str, rps: float, duration: float, tasks: list[dict] | None = None, **extra) -> dict:
    p = {
        "name": "dist",
        "rps": rps,
        "duration_secs": duration,
        "ramp_up_secs": 0,
        "mode": "constant",
        "target_url": target_url,
        "tasks": tasks or [{"name": "products", "url": "/api/products"}],
        "threads": 1,
    }
    p.update(extra)
    return p


def target_total(target) -> int:
    return get_json(target.url + "/__stats")["total"]


def agent_rows(snapshot: dict) -> dict[str, dict]:
    return {a["id"]: a for a in snapshot.get("agents", [])}
