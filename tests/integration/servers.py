"""Real servers for the engine's integration tests: nginx (plain and TLS with a
throw-away self-signed certificate) on free loopback ports, and a helper that runs
loadpilot-coordinator on a plan and returns its snapshots. Everything is stopped by
pid; every run is bounded by a timeout."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

from conftest import binary

RUN_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunResult:
    returncode: int
    snapshots: list[dict]
    stderr: str
    wall_secs: float

    @property
    def final(self) -> dict:
        assert self.snapshots, f"no snapshots; stderr: {self.stderr}"
        return self.snapshots[-1]


def run_plan(plan: dict | str, timeout: float = RUN_TIMEOUT_S) -> RunResult:
    """Runs loadpilot-coordinator with `plan` on stdin and parses its ndjson stdout."""
    text = plan if isinstance(plan, str) else json.dumps(plan)
    start = time.monotonic()
    proc = subprocess.run(
        [str(binary("loadpilot-coordinator"))],
        input=text.encode(),
        capture_output=True,
        timeout=timeout,
    )
    wall = time.monotonic() - start
    lines = [json.loads(l) for l in proc.stdout.decode().splitlines() if l.strip()]
    return RunResult(proc.returncode, lines, proc.stderr.decode(), wall)


def plan(target_url: str, tasks: list[dict], rps: float = 50, duration: float = 2, **extra) -> dict:
    p = {
        "name": "test",
        "rps": rps,
        "duration_secs": duration,
        "ramp_up_secs": 0,
        "mode": "constant",
        "target_url": target_url,
        "tasks": tasks,
    }
    p.update(extra)
    return p


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@dataclass
class Nginx:
    """nginx, 1 worker, serving `return 200` JSON on /api/user over http and https."""

    root: pathlib.Path
    port: int
    tls_port: int
    process: subprocess.Popen | None = None
    _stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"https://localhost:{self.tls_port}"

    def requests_served(self) -> int:
        """stub_status' request counter (it counts this status request too)."""
        with urllib.request.urlopen(self.url + "/nginx_status", timeout=5) as r:
            return int(r.read().decode().splitlines()[2].split()[2])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_nginx() -> Nginx:
    root = pathlib.Path(tempfile.mkdtemp(prefix="lp-nginx-"))
    key, cert = root / "key.pem", root / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=60,
    )
    ng = Nginx(root, free_port(), free_port())
    (root / "nginx.conf").write_text(f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{ng.port};
        listen 127.0.0.1:{ng.tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location /api/user {{ default_type application/json; return 200 '{{"id":1,"name":"bench"}}'; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
""")
    # nginx lives in /usr/sbin, which a non-login PATH may lack.
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    ng.process = subprocess.Popen(
        [nginx_bin, "-p", str(root), "-e", str(root / "error.log"), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            ng.requests_served()
            return ng
        except OSError:
            if ng.process.poll() is not None:
                break
            time.sleep(0.1)
    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
    ng.stop()
    raise RuntimeError(f"nginx did not start: {log}")
