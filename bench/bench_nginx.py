"""The private nginx the Python benchmarks fire at (fixed_rate.py, distributed_overhead.py).

One worker, keep-alive without limit, a 23-byte JSON at /api/user and stub_status at
/nginx_status, whose request count is the benchmarks' ground truth.
"""
from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(root: pathlib.Path, cpu: int | None = None) -> tuple[subprocess.Popen, int]:
    """nginx serving from `root` on a free loopback port (pinned to `cpu` if given)."""
    port = free_port()
    (root / "nginx.conf").write_text(f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /api/user {{ default_type application/json; return 200 '{{"id":1,"name":"bench"}}'; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cmd = [nginx, "-p", str(root), "-e", str(root / "error.log"), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            served(port)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("nginx did not start")


def served(port: int) -> int:
    """nginx's count of requests so far (stub_status), this one included."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx_status", timeout=5) as r:
        return int(r.read().decode().splitlines()[2].split()[2])
