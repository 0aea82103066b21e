"""loadpilot-coordinator, black-box, at the end of a run: the ndjson stream carries the
interval figures, a "draining" phase while the last responses come in, and after
SIGINT / SIGTERM the requests cut off counted as `interrupted`, never as timeouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from conftest import binary
from servers import get_json, plan, run_plan


def slow(target_url: str, delay_ms: int, duration: float) -> dict:
    return plan(target_url, [{"name": "slow", "url": f"/delay/{delay_ms}"}], rps=10, duration=duration)


def test_slow_responses_at_the_end_keep_their_own_timeout(target_server):
    result = run_plan(slow(target_server.url, 2500, 3))

    final = result.final
    assert result.returncode == 0, result.stderr
    assert final["requests_total"] == 30 == get_json(target_server.url + "/__stats")["total"]
    assert final["errors_total"] == 0
    assert 2500 <= final["latency"]["p50_ms"] < 3000
    assert final["load_secs"] == 3.0
    assert final["current_rps"] == 10.0  # requests / load duration
    draining = [s for s in result.snapshots if s["phase"] == "draining"]
    assert draining and draining[0]["in_flight"] > 0
    assert all(s["target_rps"] == 0 for s in draining)


def test_every_snapshot_carries_the_last_intervals_own_figures(target_server):
    result = run_plan(plan(target_server.url, [{"name": "h", "url": "/health"}], rps=50, duration=3))

    running = [s for s in result.snapshots if s["phase"] == "steady"]
    assert len(running) >= 2
    for before, now in zip(result.snapshots, result.snapshots[1:]):
        assert now["interval"]["requests"] == now["requests_total"] - before["requests_total"]
        assert now["interval"]["errors"] == now["errors_total"] - before["errors_total"]
    assert result.snapshots[0]["interval"]["requests"] == result.snapshots[0]["requests_total"]
    assert sum(s["interval"]["requests"] for s in result.snapshots) == result.final["requests_total"]
    assert all(s["interval"]["latency"]["count"] == s["interval"]["requests"] for s in running)


def start(plan_doc: dict) -> subprocess.Popen:
    proc = subprocess.Popen([str(binary("loadpilot-coordinator"))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(json.dumps(plan_doc).encode())
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen) -> list[dict]:
    proc.wait(timeout=30)
    out = proc.stdout.read()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def test_sigterm_mid_run_counts_in_flight_requests_as_interrupted(target_server):
    proc = start(slow(target_server.url, 20000, 30))
    first = json.loads(proc.stdout.readline())  # the load is running
    assert first["phase"] == "steady"

    os.kill(proc.pid, signal.SIGTERM)
    snapshots = [first] + finish(proc)

    final = snapshots[-1]
    assert proc.returncode == 0
    assert final["phase"] == "done"
    assert final["stopped"] is True
    assert final["errors_by_kind"]["interrupted"] == final["requests_total"] > 0
    assert final["errors_by_kind"]["timeout"] == 0
    assert final["load_secs"] < final["elapsed_secs"]  # the 2 s grace is not load
    assert any(s["phase"] == "draining" and s["stopped"] for s in snapshots)


def test_a_second_signal_cuts_the_in_flight_requests_off_at_once(target_server):
    proc = start(slow(target_server.url, 20000, 30))
    assert json.loads(proc.stdout.readline())["phase"] == "steady"

    os.kill(proc.pid, signal.SIGINT)
    drain = json.loads(proc.stdout.readline())  # emitted as soon as the stop is seen
    os.kill(proc.pid, signal.SIGINT)
    snapshots = finish(proc)

    final = snapshots[-1]
    assert drain["phase"] == "draining"
    assert final["errors_by_kind"]["interrupted"] > 0
    assert final["errors_by_kind"]["timeout"] == 0
    assert final["elapsed_secs"] - drain["elapsed_secs"] < 2  # before the grace would have ended
