"""Black-box tests of loadpilot-target, the load generator's demo and test server.

Every test starts its own server on a free loopback port (conftest.target_server),
so /__stats counts only what the test itself sent.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import binary

ALPHABET = b"abcdefghijklmnopqrstuvwxyz"
MIB = 1024 * 1024


class Reply:
    def __init__(self, response: http.client.HTTPResponse):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self):
        return json.loads(self.body)


def call(target, method, path, body=None, headers=None, raw=None) -> Reply:
    """One request on a new connection. `body` is sent as JSON, `raw` as given."""
    conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
    try:
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        conn.request(method, path, body=payload, headers=headers or {})
        return Reply(conn.getresponse())
    finally:
        conn.close()


def stats(target) -> dict:
    reply = call(target, "GET", "/__stats")
    assert reply.status == 200
    return reply.json()


def pattern(n: int) -> bytes:
    return (ALPHABET * (n // len(ALPHABET) + 1))[:n]


def assert_json(reply: Reply, status: int):
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == "application/json"


def run_target(*args: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary("loadpilot-target")), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Startup and command line


def test_first_stdout_line_announces_the_bound_url(target_server):
    match = re.fullmatch(r"loadpilot-target listening on http://127\.0\.0\.1:(\d+)", target_server.first_line)

    assert match is not None
    assert int(match.group(1)) == target_server.port != 0


def test_urllib_can_reach_the_announced_url(target_server):
    with urllib.request.urlopen(target_server.url + "/health", timeout=10) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--bogus"], "unknown argument '--bogus'"),
        (["extra"], "unknown argument 'extra'"),
        (["--port", "abc"], "--port must be an integer in 0..65535, got 'abc'"),
        (["--port=70000"], "--port must be an integer in 0..65535, got '70000'"),
        (["--threads", "0"], "--threads must be an integer in 1..16384, got '0'"),
        (["--host="], "--host must not be empty"),
        (["--port"], "--port needs a value"),
    ],
)
def test_a_bad_flag_exits_2_naming_the_problem_with_usage(args, problem):
    result = run_target(*args)

    assert result.returncode == 2
    assert problem in result.stderr
    assert "usage: loadpilot-target" in result.stderr
    assert result.stdout == ""


def test_every_bad_flag_is_reported_at_once():
    result = run_target("--bogus", "--threads", "x")

    assert result.returncode == 2
    assert "unknown argument '--bogus'" in result.stderr
    assert "--threads must be an integer" in result.stderr


def test_help_prints_usage_and_exits_0():
    result = run_target("--help")

    assert result.returncode == 0
    assert result.stdout.startswith("usage: loadpilot-target")


def test_a_port_in_use_exits_1(target_server):
    result = run_target("--port", str(target_server.port))

    assert result.returncode == 1
    assert "cannot listen on" in result.stderr


def test_flags_take_effect(target_factory):
    target = target_factory("--threads", "4", "--host", "127.0.0.1")

    assert call(target, "GET", "/health").status == 200


# Shutdown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_exits_0(target_server, sig):
    assert target_server.stop(sig) == 0


def test_sigterm_exits_0_promptly_despite_an_idle_keep_alive_connection(target_server):
    conn = http.client.HTTPConnection(target_server.host, target_server.port, timeout=10)
    conn.request("GET", "/health")
    conn.getresponse().read()
    started = time.monotonic()

    code = target_server.stop()

    assert code == 0
    assert time.monotonic() - started < 8  # the keep-alive timeout is 30 s
    conn.close()


def test_sigterm_cuts_a_pending_delay_short(target_server):
    replies = []
    waiter = threading.Thread(target=lambda: replies.append(call(target_server, "GET", "/delay/60000")))
    waiter.start()
    deadline = time.monotonic() + 10
    while stats(target_server)["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()

    code = target_server.stop()
    waiter.join(timeout=10)

    assert code == 0
    assert time.monotonic() - started < 8
    assert replies and replies[0].status == 200


# Routes


def test_health_is_ok(target_server):
    reply = call(target_server, "GET", "/health")

    assert_json(reply, 200)
    assert reply.json() == {"status": "ok"}


def test_login_issues_a_new_bearer_token_per_call(target_server):
    first = call(target_server, "POST", "/auth/login", body={"user": "ada", "pass": "x"})
    second = call(target_server, "POST", "/auth/login", body={"user": "ada", "pass": "x"})

    assert_json(first, 200)
    assert first.json()["token_type"] == "bearer"
    assert re.fullmatch(r"tok-\d+-[0-9a-f]{16}", first.json()["access_token"])
    assert first.json()["access_token"] != second.json()["access_token"]


def test_login_accepts_an_empty_body(target_server):
    assert call(target_server, "POST", "/auth/login").status == 200


def test_login_rejects_a_body_that_is_not_json(target_server):
    reply = call(target_server, "POST", "/auth/login", raw="user=ada")

    assert_json(reply, 400)
    assert "error" in reply.json()


def raw_exchange(target, request: bytes) -> bytes:
    """Sends raw bytes, returns everything until the server closes."""
    with socket.create_connection((target.host, target.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("method, path, status", [("POST", "/auth/login", 200), ("PUT", "/status/201", 201), ("DELETE", "/health", 404)])
def test_a_body_method_without_content_length_has_an_empty_body(target_server, method, path, status):
    # RFC 9112 6.3: neither Content-Length nor Transfer-Encoding means no body; the
    # server must answer at once instead of waiting for one.
    response = raw_exchange(target_server, f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())

    assert response.startswith(f"HTTP/1.1 {status} ".encode())


def test_products_lists_ten(target_server):
    reply = call(target_server, "GET", "/api/products")

    assert_json(reply, 200)
    products = reply.json()
    assert [p["id"] for p in products] == list(range(1, 11))
    assert all(set(p) == {"id", "name", "price"} for p in products)


def test_one_product_by_id(target_server):
    reply = call(target_server, "GET", "/api/products/100")

    assert_json(reply, 200)
    assert reply.json()["id"] == 100
    assert reply.json()["name"] == "Product 100"
    assert isinstance(reply.json()["price"], float)


@pytest.mark.parametrize("product_id", ["0", "101", "abc", "99999999999999999999999"])
def test_an_unknown_product_is_404(target_server, product_id):
    assert_json(call(target_server, "GET", f"/api/products/{product_id}"), 404)


def test_cart_echoes_the_items_with_201(target_server):
    items = [{"product_id": 3, "qty": 2}, {"product_id": 9, "qty": 1}]

    first = call(target_server, "POST", "/api/cart", body={"items": items})
    second = call(target_server, "POST", "/api/cart", body={"items": []})

    assert_json(first, 201)
    assert first.json()["items"] == items
    assert isinstance(first.json()["cart_id"], int)
    assert second.json()["cart_id"] != first.json()["cart_id"]


def test_cart_rejects_invalid_json(target_server):
    assert_json(call(target_server, "POST", "/api/cart", raw="{"), 400)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/projects"),
        ("POST", "/api/v1/projects"),
        ("GET", "/api/v1/projects/1"),
        ("PUT", "/api/v1/projects/1"),
        ("PATCH", "/api/v1/projects/1"),
        ("DELETE", "/api/v1/projects/1"),
    ],
)
def test_projects_require_authorization(target_server, method, path):
    reply = call(target_server, method, path, body={"name": "x"})

    assert_json(reply, 401)
    assert reply.json() == {"error": "missing Authorization"}


def test_projects_crud_round_trip(target_server):
    auth = {"Authorization": "Bearer test"}

    created = call(target_server, "POST", "/api/v1/projects", body={"name": "alpha", "tier": 1}, headers=auth)
    pid = created.json()["id"]
    listed = call(target_server, "GET", "/api/v1/projects", headers=auth)
    fetched = call(target_server, "GET", f"/api/v1/projects/{pid}", headers=auth)
    replaced = call(target_server, "PUT", f"/api/v1/projects/{pid}", body={"name": "beta"}, headers=auth)
    patched = call(target_server, "PATCH", f"/api/v1/projects/{pid}", body={"tier": 2}, headers=auth)
    deleted = call(target_server, "DELETE", f"/api/v1/projects/{pid}", headers=auth)
    gone = call(target_server, "GET", f"/api/v1/projects/{pid}", headers=auth)

    assert_json(created, 201)
    assert created.json() == {"id": pid, "name": "alpha", "tier": 1}
    assert listed.json() == [created.json()]
    assert fetched.json() == created.json()
    assert replaced.status == 200 and replaced.json() == {"id": pid, "name": "beta"}
    assert patched.status == 200 and patched.json() == {"id": pid, "name": "beta", "tier": 2}
    assert deleted.status == 204 and deleted.body == b""
    assert_json(gone, 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_changing_a_missing_project_is_404(target_server, method):
    reply = call(target_server, method, "/api/v1/projects/424242", body={"a": 1}, headers={"Authorization": "x"})

    assert_json(reply, 404)


def test_delay_waits_then_reports(target_server):
    started = time.monotonic()

    reply = call(target_server, "GET", "/delay/150")

    assert time.monotonic() - started >= 0.15
    assert_json(reply, 200)
    assert reply.json() == {"delayed_ms": 150}


def test_delay_rejects_a_malformed_duration(target_server):
    assert_json(call(target_server, "GET", "/delay/soon"), 400)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("code", [200, 201, 302, 404, 429, 500, 503, 599])
def test_status_answers_any_method_with_the_requested_code(target_server, method, code):
    reply = call(target_server, method, f"/status/{code}")

    assert reply.status == code
    if method != "HEAD":
        assert json.loads(reply.body) == {"status": code}


def test_status_204_has_no_body(target_server):
    reply = call(target_server, "GET", "/status/204")

    assert reply.status == 204
    assert reply.body == b""


@pytest.mark.parametrize("code", ["99", "100", "199", "600", "abc", "-1"])
def test_status_outside_200_to_599_is_400(target_server, code):
    assert_json(call(target_server, "GET", f"/status/{code}"), 400)


@pytest.mark.parametrize("n", [0, 1, 26, 1000, 200_000])
def test_bytes_returns_n_bytes(target_server, n):
    reply = call(target_server, "GET", f"/bytes/{n}")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Length"] == str(n)
    assert reply.body == pattern(n)


def test_bytes_caps_at_10_mib(target_server):
    reply = call(target_server, "GET", f"/bytes/{100 * MIB}")

    assert len(reply.body) == 10 * MIB
    assert reply.body == pattern(10 * MIB)


def read_chunked_raw(target, path: str) -> tuple[bytes, list[bytes]]:
    """Response head and the list of chunks, parsed by hand from the wire."""
    data = raw_exchange(target, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    head, _, rest = data.partition(b"\r\n\r\n")
    chunks = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return head, chunks
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]


def test_chunked_sends_n_bytes_in_several_chunks(target_server):
    head, chunks = read_chunked_raw(target_server, "/chunked/100000")

    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"content-length" not in head.lower()
    assert len(chunks) > 1
    assert b"".join(chunks) == pattern(100_000)


@pytest.mark.parametrize("n", [0, 5, 16384, 16385])
def test_chunked_body_reassembles_to_n_bytes(target_server, n):
    reply = call(target_server, "GET", f"/chunked/{n}")

    assert reply.status == 200
    assert reply.headers["Transfer-Encoding"] == "chunked"
    assert reply.body == pattern(n)


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/nope"), ("GET", "/health/"), ("DELETE", "/health"), ("GET", "/auth/login"), ("POST", "/__stats")],
)
def test_anything_else_is_404_json(target_server, method, path):
    reply = call(target_server, method, path)

    assert_json(reply, 404)
    assert reply.json()["error"] == "not found"


# Keep-alive


def test_one_connection_serves_200_sequential_requests(target_server):
    conn = http.client.HTTPConnection(target_server.host, target_server.port, timeout=10)
    conn.connect()
    sock = conn.sock
    local = sock.getsockname()

    for i in range(200):
        conn.request("GET", f"/api/products/{i % 100 + 1}")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert not response.will_close
        # http.client reconnects silently when the server closes; the socket must stay.
        assert conn.sock is sock and sock.getsockname() == local
    conn.close()

    assert stats(target_server)["total"] == 200


# /__stats oracle


def test_stats_count_every_request_exactly(target_server):
    t1 = {"Authorization": "Bearer t1"}
    t2 = {"Authorization": "Bearer t2"}
    call(target_server, "GET", "/health")
    call(target_server, "GET", "/api/products/7", headers=t1)
    call(target_server, "GET", "/api/products/7", headers=t1)
    call(target_server, "GET", "/api/products/8")
    call(target_server, "POST", "/api/v1/projects", body={"name": "x"}, headers=t2)
    call(target_server, "GET", "/api/v1/projects")  # 401, still counted
    call(target_server, "GET", "/nope")
    call(target_server, "DELETE", "/health")
    call(target_server, "PUT", "/status/503", headers=t2)
    call(target_server, "GET", "/__stats")  # never counted

    assert stats(target_server) == {
        "total": 9,
        "by_route": {
            "/health": 1,
            "/api/products/{id}": 3,
            "/api/v1/projects": 2,
            "/status/{code}": 1,
            "(unmatched)": 2,
        },
        "by_method": {"GET": 6, "POST": 1, "DELETE": 1, "PUT": 1},
        "by_path": {
            "/health": 2,
            "/api/products/7": 2,
            "/api/products/8": 1,
            "/api/v1/projects": 2,
            "/nope": 1,
            "/status/503": 1,
        },
        "by_authorization": {"Bearer t1": 2, "Bearer t2": 2},
    }


def test_stats_count_by_login_token(target_server):
    token = call(target_server, "POST", "/auth/login", body={"user": "u"}).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    for _ in range(3):
        call(target_server, "GET", "/api/v1/projects", headers=bearer)

    assert stats(target_server)["by_authorization"] == {f"Bearer {token}": 3}


def test_stats_are_exact_under_concurrency(target_server):
    workers, per_worker = 8, 100

    def work(n: int):
        conn = http.client.HTTPConnection(target_server.host, target_server.port, timeout=30)
        for i in range(per_worker):
            conn.request("GET", f"/api/products/{i % 100 + 1}", headers={"Authorization": f"Bearer w{n}"})
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    counted = stats(target_server)
    assert counted["total"] == workers * per_worker
    assert counted["by_route"] == {"/api/products/{id}": workers * per_worker}
    assert counted["by_authorization"] == {f"Bearer w{n}": per_worker for n in range(workers)}
    assert sum(counted["by_path"].values()) == workers * per_worker


def test_reset_zeroes_the_counters(target_server):
    call(target_server, "GET", "/health", headers={"Authorization": "a"})

    reply = call(target_server, "POST", "/__reset")

    assert_json(reply, 200)
    assert stats(target_server) == {
        "total": 0,
        "by_route": {},
        "by_method": {},
        "by_path": {},
        "by_authorization": {},
    }
