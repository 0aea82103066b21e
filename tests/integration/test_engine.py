"""The engine, black-box: loadpilot-coordinator against loadpilot-target and nginx.

What the engine reports must be what the servers saw; rates, weights, errors and
latency must mean what the docs say."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import binary
from servers import free_port, get_json, plan, run_plan, start_nginx


@pytest.fixture(scope="module")
def nginx():
    ng = start_nginx()
    yield ng
    ng.stop()


def reset(target):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(target.url + "/__reset", method="POST"), timeout=5).read()


def test_requests_reported_equal_requests_the_target_counted(target_server):
    tasks = [{"name": "list", "url": "/api/products"}, {"name": "one", "url": "/api/products/7"}]

    result = run_plan(plan(target_server.url, tasks, rps=150, duration=2, threads=2))

    assert result.returncode == 0, result.stderr
    stats = get_json(target_server.url + "/__stats")
    assert result.final["phase"] == "done"
    assert result.final["requests_total"] == stats["total"] == 300
    assert result.final["errors_total"] == 0
    by_task = {t["name"]: t["requests"] for t in result.final["tasks"]}
    assert by_task["list"] == stats["by_route"]["/api/products"]
    assert by_task["one"] == stats["by_route"]["/api/products/{id}"]


def test_four_hundred_rps_for_five_seconds_fires_two_thousand(nginx):
    before = nginx.requests_served()

    result = run_plan(plan(nginx.url, [{"name": "user", "url": "/api/user"}], rps=400, duration=5))

    served = nginx.requests_served() - before - 1  # minus our own status request
    assert result.returncode == 0, result.stderr
    assert abs(result.final["requests_total"] - 2000) <= 20
    assert served == result.final["requests_total"]
    assert result.final["errors_total"] == 0


def test_weights_hold_within_three_percent(target_server):
    tasks = [
        {"name": "heavy", "url": "/api/products", "weight": 3},
        {"name": "light", "url": "/health", "weight": 1},
    ]

    result = run_plan(plan(target_server.url, tasks, rps=400, duration=2))

    stats = get_json(target_server.url + "/__stats")
    heavy, light = stats["by_route"]["/api/products"], stats["by_route"]["/health"]
    assert result.final["requests_total"] == heavy + light
    assert abs(heavy / (heavy + light) - 0.75) <= 0.03


def test_a_dead_target_gives_connect_errors_and_ends_on_time():
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    result = run_plan(plan(dead, [{"name": "x", "url": "/"}], rps=50, duration=2))

    final = result.final
    assert result.returncode == 0, result.stderr
    assert final["requests_total"] == 100
    assert final["errors_by_kind"]["connect"] == final["errors_total"] == 100
    assert final["elapsed_secs"] < 2 + 1.5  # the engine's own clock: no drain wait for nothing


def test_a_slow_target_shows_latency_from_due_time_growing_while_service_time_does_not(target_server):
    # 2 connections × 5 responses/s each = 10/s of capacity for 25/s of schedule.
    result = run_plan(plan(target_server.url, [{"name": "slow", "url": "/delay/200"}], rps=25, duration=4,
                           threads=1, max_connections=2))

    final, early = result.final, result.snapshots[0]
    assert final["late"] > 0 or final["dropped"] > 0
    assert 150 <= final["service_latency"]["p50_ms"] <= 450
    assert final["latency"]["p99_ms"] > 2 * final["service_latency"]["p99_ms"]
    assert final["latency"]["p50_ms"] > early["latency"]["p50_ms"]


def test_status_errors_are_counted_by_kind(target_server):
    tasks = [{"name": "missing", "url": "/status/404"}, {"name": "broken", "url": "/status/503"}]

    result = run_plan(plan(target_server.url, tasks, rps=40, duration=1))

    kinds = result.final["errors_by_kind"]
    assert kinds["http_4xx"] == 20
    assert kinds["http_5xx"] == 20
    assert result.final["errors_total"] == result.final["requests_total"] == 40


def test_a_chained_task_makes_every_call_in_order(target_server):
    task = {
        "name": "checkout",
        "url": "/api/products",
        "requests": [
            {"method": "GET", "url": "/api/products"},
            {"method": "GET", "url": "/api/products/3"},
            {"method": "POST", "url": "/api/cart", "headers": {"Content-Type": "application/json"},
             "body": "{\"items\": [3]}"},
        ],
    }

    result = run_plan(plan(target_server.url, [task], rps=20, duration=1))

    stats = get_json(target_server.url + "/__stats")
    assert stats["by_path"]["/api/products"] == stats["by_path"]["/api/products/3"] == stats["by_path"]["/api/cart"] == 20
    assert result.final["requests_total"] == 60
    assert result.final["errors_total"] == 0


def test_virtual_user_configs_rotate_headers_and_urls(target_server):
    tasks = [{"name": "read", "url": "/api/v1/projects", "headers": {"Authorization": "Bearer task-default"}}]
    configs = [
        {"task_headers": {"read": {"Authorization": "Bearer alice"}}, "task_urls": {"read": "/api/products/1"}},
        {"task_headers": {"read": {"Authorization": "Bearer bob"}}, "task_urls": {"read": "/api/products/2"}},
    ]

    run_plan(plan(target_server.url, tasks, rps=40, duration=1, vuser_configs=configs))

    stats = get_json(target_server.url + "/__stats")
    assert stats["by_authorization"].get("Bearer alice") == 20
    assert stats["by_authorization"].get("Bearer bob") == 20
    assert stats["by_path"].get("/api/products/1") == 20
    assert "Bearer task-default" not in stats["by_authorization"]


def test_https_with_a_self_signed_certificate_needs_insecure_tls(nginx):
    tasks = [{"name": "user", "url": "/api/user"}]

    trusted = run_plan(plan(nginx.tls_url, tasks, rps=50, duration=1, insecure_tls=True))
    verified = run_plan(plan(nginx.tls_url, tasks, rps=10, duration=1))

    assert trusted.final["requests_total"] == 50
    assert trusted.final["errors_total"] == 0
    assert verified.final["errors_by_kind"]["tls"] == verified.final["requests_total"] == 10


def test_an_invalid_plan_lists_every_problem_and_exits_2():
    bad = plan("localhost:8000", [{"name": "x", "url": "/", "method": "FETCH", "weight": 0}], rps=0)

    result = run_plan(bad)

    assert result.returncode == 2
    assert result.snapshots == []
    for text in ("rps must be > 0, got 0", "target_url must start with http:// or https://",
                 "unknown method 'FETCH'", "weight must be > 0, got 0"):
        assert text in result.stderr


def test_bad_json_exits_2_naming_the_problem():
    result = run_plan('{"rps": 10,')

    assert result.returncode == 2
    assert "plan is not valid JSON" in result.stderr


def test_sigint_stops_sending_and_emits_the_final_snapshot(target_server):
    proc = subprocess.Popen([str(binary("loadpilot-coordinator"))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(json.dumps(plan(target_server.url, [{"name": "x", "url": "/health"}], rps=100,
                                     duration=30)).encode())
    proc.stdin.close()
    first = proc.stdout.readline()  # the load is running once the first snapshot is out
    assert json.loads(first)["phase"] == "steady"

    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=15)
    rest = proc.stdout.read()

    lines = [json.loads(l) for l in rest.decode().splitlines() if l.strip()]
    assert proc.returncode == 0
    assert lines[-1]["phase"] == "done"
    assert lines[-1]["requests_total"] == get_json(target_server.url + "/__stats")["total"]
    assert lines[-1]["elapsed_secs"] < 10


def test_snapshots_arrive_once_a_second_with_the_documented_fields(target_server):
    result = run_plan(plan(target_server.url, [{"name": "x", "url": "/health"}], rps=20, duration=3))

    assert 3 <= len(result.snapshots) <= 5
    for snap in result.snapshots:
        for key in ("timestamp_secs", "elapsed_secs", "current_rps", "target_rps", "requests_total",
                    "errors_total", "active_workers", "phase", "latency", "errors_by_kind", "tasks"):
            assert key in snap
        assert set(snap["latency"]) >= {"min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"}
    assert result.snapshots[0]["target_rps"] == 20
    assert result.final["phase"] == "done"


def test_the_engine_rides_out_a_target_crash_and_restart(target_factory):
    first = target_factory()
    port = first.port
    proc = subprocess.Popen([str(binary("loadpilot-coordinator"))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(json.dumps(plan(first.url, [{"name": "h", "url": "/health"}], rps=100, duration=6,
                                     timeout_ms=1000)).encode())
    proc.stdin.close()
    lines = [proc.stdout.readline()]                 # 1 s of load against a healthy target

    first.stop(signal.SIGKILL)                       # crash
    lines.append(proc.stdout.readline())
    lines.append(proc.stdout.readline())             # ~2 s with nothing listening
    target_factory("--port", str(port))              # back on the same port
    proc.wait(timeout=30)
    lines += proc.stdout.readlines()

    snaps = [json.loads(l) for l in lines if l.strip()]
    final = snaps[-1]
    assert final["phase"] == "done"
    assert final["requests_total"] == 600            # the rate was held through the outage
    assert final["errors_by_kind"]["connect"] > 0    # the outage is counted, by kind
    assert final["errors_total"] == snaps[-2]["errors_total"]  # recovered: no new errors in the last second


class RawServer:
    """A bare HTTP server on a free loopback port, one thread per connection, for
    behaviours loadpilot-target and nginx do not have. `reply(conn, index, length)`
    is called with the request head read (the body, `length` bytes, still unread);
    `index` counts requests on the connection from 0. It returns True to read the
    next request on the connection, False to close it. Counts the requests it read."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self._sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, sock):
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = RawConnection(sock)
            index = 0
            while True:
                while b"\r\n\r\n" not in conn.buffered:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.buffered += data
                head, _, conn.buffered = conn.buffered.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                with self._lock:
                    self.requests += 1
                if not self.reply(conn, index, length):
                    return
                index += 1


class RawConnection:
    """A server-side socket and the bytes read from it that were not consumed yet."""

    def __init__(self, sock):
        self.sock = sock
        self.buffered = b""

    def recv(self, n):
        return self.sock.recv(n)

    def sendall(self, data):
        self.sock.sendall(data)


def read_body(conn, length):
    while len(conn.buffered) < length:
        data = conn.recv(65536)
        if not data:
            break
        conn.buffered += data
    conn.buffered = conn.buffered[length:]


def close_after(conn, data):
    """Writes `data` with the FIN in the same segment, then waits for the client to close."""
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    conn.sendall(data)
    conn.sock.shutdown(socket.SHUT_WR)
    while conn.recv(65536):
        pass


@pytest.fixture
def raw_server():
    servers = []

    def start(reply):
        servers.append(RawServer(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def test_a_body_delimited_by_the_close_completes_when_the_fin_comes_with_it(raw_server):
    def http10(conn, index, length):
        read_body(conn, length)
        close_after(conn, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, the close ends me")
        return False

    server = raw_server(http10)
    timeout_ms = 10_000

    result = run_plan(plan(server.url, [{"name": "old", "url": "/"}], rps=25, duration=2, timeout_ms=timeout_ms))

    final = result.final
    assert result.returncode == 0, result.stderr
    assert final["requests_total"] == server.requests == 50
    assert final["errors_total"] == 0, final["errors_by_kind"]
    assert final["latency"]["max_ms"] < timeout_ms / 2  # none of them waited for the timeout


def test_an_early_413_to_a_large_post_is_counted_as_http_4xx_not_reset(raw_server):
    def too_large(conn, index, length):
        # Answers from the head alone and closes with the body unread: the kernel resets.
        conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return False

    server = raw_server(too_large)
    upload = {"name": "upload", "method": "POST", "url": "/upload", "body_template": "x" * (16 << 20)}

    result = run_plan(plan(server.url, [upload], rps=5, duration=2))

    kinds = result.final["errors_by_kind"]
    assert result.returncode == 0, result.stderr
    assert result.final["requests_total"] == server.requests == 10
    assert kinds["http_4xx"] == 10, kinds
    assert kinds["reset"] == 0


def test_a_post_on_a_kept_alive_connection_the_server_closes_is_never_resent(raw_server):
    def closes_second(conn, index, length):
        read_body(conn, length)
        if index == 0:
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            return True
        return False  # read it, then close without answering: the client cannot know if it ran

    server = raw_server(closes_second)
    order = {"name": "order", "method": "POST", "url": "/orders", "body_template": "{\"item\": 1}"}

    result = run_plan(plan(server.url, [order], rps=20, duration=2, threads=1, max_connections=1))

    final = result.final
    assert result.returncode == 0, result.stderr
    assert server.requests == final["requests_total"] == 40  # each POST reached the server once
    assert final["errors_by_kind"]["reset"] == final["errors_total"] == 20


def test_head_requests_end_at_the_response_head_and_keep_the_connection(target_server):
    tasks = [{"name": "peek", "method": "HEAD", "url": "/api/products"}]

    # One connection: a HEAD that waited for the body its Content-Length announces would
    # time out, and one that read the next response as its body would put it out of step.
    result = run_plan(plan(target_server.url, tasks, rps=20, duration=1, threads=1, max_connections=1,
                           timeout_ms=2000))

    stats = get_json(target_server.url + "/__stats")
    assert result.returncode == 0, result.stderr
    assert result.final["requests_total"] == stats["by_method"]["HEAD"] == 20
    assert result.final["errors_total"] == 0, result.final["errors_by_kind"]
