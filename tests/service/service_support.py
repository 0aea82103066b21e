"""Helpers for the coordinator service's black-box tests (tests/e2e/test_service*.py):
`loadpilot-coordinator --serve` with real agents on a real nats-server, every process
on a free loopback port, stopped by pid, every wait bounded.

It builds on tests/integration/distributed_support.py (NatsServer, Proc, the session
marker that `no_leftovers` uses to find processes left behind).

Example::

    from service_support import *

    def test_health(service):
        assert get(service.api + "/healthz") == (200, "ok")
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))

from distributed_support import NatsServer, Proc, leftovers, no_leftovers, wait_for  # noqa: E402,F401
from conftest import binary  # noqa: E402
from servers import free_port  # noqa: E402

API_TOKEN = "api-" + os.urandom(8).hex()
NATS_TOKEN = "nats-" + os.urandom(8).hex()
_SERVING = re.compile(r"serving the API on http://[^:]+:(\d+) .* Prometheus on http://[^:]+:(\d+)/metrics")


class Service:
    """loadpilot-coordinator --serve on loopback: API and Prometheus on free ports."""

    def __init__(self, nats: NatsServer | None, *extra: str, api_token: str = API_TOKEN, agents: int | None = None,
                 broker_port: int | None = None):
        args = [str(binary("loadpilot-coordinator")), "--serve", "--listen", "127.0.0.1:0", "--metrics-listen",
                "127.0.0.1:0", "--wait-for-agents", "20s"]
        if nats is not None:
            args += ["--nats-url", nats.url, "--nats-token", nats.token]
        else:
            args += ["--broker-addr", f"127.0.0.1:{broker_port}", "--nats-token", NATS_TOKEN]
        if agents is not None:
            args += ["--serve-agents", str(agents)]
        # Set to empty, not inherited: an outer LOADPILOT_API_TOKEN must not leak in.
        self.proc = Proc(args + list(extra), env={"LOADPILOT_API_TOKEN": api_token})
        match = wait_for(self._serving, 15, "the service's 'serving the API' line")
        self.port, self.metrics_port = int(match.group(1)), int(match.group(2))
        self.api = f"http://127.0.0.1:{self.port}"
        self.metrics = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.token = api_token

    def _serving(self):
        if not self.proc.alive():
            raise AssertionError(f"loadpilot-coordinator --serve exited: {self.proc.stderr()}")
        return _SERVING.search(self.proc.stderr())

    def stderr(self) -> str:
        return self.proc.stderr()

    def wait_ready(self, timeout: float = 20) -> dict:
        """Waits for /readyz 200 with no run in progress (agents idle again after a run)."""
        def ready():
            status, body = get(self.api + "/readyz")
            return status == 200 and not json.loads(body)["running"] and json.loads(body)
        return wait_for(ready, timeout, "/readyz 200 with no run", every=0.1)

    def close(self) -> None:
        self.proc.stop(timeout=20)
        self.proc.close()


class Stream:
    """One POST /run, read as it comes (http.client decodes the chunks)."""

    def __init__(self, service: Service, plan: dict | str | bytes, token: str | None = None, query: str = "",
                 timeout: float = 30):
        body = plan if isinstance(plan, bytes) else (plan if isinstance(plan, str) else json.dumps(plan)).encode()
        self.conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        token = service.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request("POST", "/run" + query, body=body, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.run_id = self.response.getheader("X-LoadPilot-Run")
        self.lines: list[dict] = []

    def body_json(self) -> dict:
        return json.loads(self.response.read())

    def next_line(self) -> dict | None:
        raw = self.response.readline()
        if not raw:
            return None
        line = json.loads(raw)
        self.lines.append(line)
        return line

    def read_all(self) -> list[dict]:
        while self.next_line() is not None:
            pass
        return self.lines

    @property
    def final(self) -> dict:
        assert self.lines and self.lines[-1].get("phase") == "done", f"no final line: {self.lines[-1:]}"
        return self.lines[-1]

    def close(self) -> None:
        """Closes the connection for real: the response's file holds the socket too."""
        self.response.close()
        self.conn.close()


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def start_agent(url: str, agent_id: str, token: str) -> Proc:
    return Proc([str(binary("loadpilot-agent")), "--coordinator", url, "--agent-id", agent_id],
                env={"NATS_TOKEN": token})


def plan_for(target_url: str, rps: float, duration: float, **extra) -> dict:
    p = {"name": "svc", "rps": rps, "duration_secs": duration, "ramp_up_secs": 0, "mode": "constant",
         "target_url": target_url, "threads": 1, "tasks": [{"name": "products", "url": "/api/products"}]}
    p.update(extra)
    return p


def target_total(target) -> int:
    return target.stats()["total"]


def settled_total(target, timeout: float = 20, quiet: float = 2.0) -> int:
    """The target's count once it stopped growing for `quiet` seconds (bounded)."""
    deadline = time.monotonic() + timeout
    last, since = target_total(target), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = target_total(target)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError(f"the target's count still grows after {timeout} s: {last}")


def promtool_check(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


def raw_request(port: int, head: str, timeout: float = 10) -> str:
    """Sends `head` (a request without its body) and returns the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def cluster():
    """nats-server (token), agents agent-0 and agent-1, and the service (--serve-agents 2),
    shared by a test module: agents are persistent, so every test is also a next run."""
    nats = NatsServer(token=NATS_TOKEN)
    agents = [start_agent(nats.url, f"agent-{i}", NATS_TOKEN) for i in range(2)]
    service = Service(nats, agents=2)
    service.wait_ready()
    yield service
    service.close()
    for a in agents:
        a.stop(timeout=10)
        a.close()
    nats.close()


@pytest.fixture
def service(cluster):
    """The module's service, once the previous test's run is over and its agents idle."""
    cluster.wait_ready()
    return cluster
