"""`loadpilot run`, black-box, where a run ends: slow responses at the profile's end, a
target that never answers, a generator that cannot deliver the load, and Ctrl+C. Each
test checks what a user sees: the summary, the results JSON and the exit code."""

import json
import os
import signal
import subprocess

import pytest

from conftest import START_TIMEOUT_S, Target, _LISTENING, _first_line, binary

SLOW = """
from loadpilot import scenario, task

@scenario(rps=10, duration="3s", ramp_up="0", mode="constant")
class Slow:
    @task
    def slow(self, client):
        client.get("/delay/{ms}")
"""

# A check_ puts the run in Python mode (virtual users run the task body).
SLOW_PYTHON = SLOW + """
    def check_slow(self, status_code, body):
        assert status_code == 200
"""


@pytest.fixture
def roomy_target():
    """loadpilot-target with a thread for each of the engine's 1,024 connections, so a
    flood is answered (one thread per keep-alive connection) instead of left waiting."""
    process = subprocess.Popen([str(binary("loadpilot-target")), "--port", "0", "--threads", "2048"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    match = _LISTENING.match(_first_line(process, START_TIMEOUT_S))
    if match is None:
        process.kill()
        process.wait()
        pytest.fail("loadpilot-target did not start")
    started = Target(process, match.group(1))
    yield started
    started.stop()


def results_of(path):
    return json.loads(path.read_text())


def test_responses_slower_than_the_old_drain_at_the_end_are_successes(loadpilot, target, write_scenario, tmp_path):
    # The 2.5 s answers of the last 2.5 s of the profile used to be cut off by a fixed
    # 2 s drain and reported as timeouts although the server answered every one.
    results = tmp_path / "r.json"

    out = loadpilot("run", write_scenario(SLOW.replace("{ms}", "2500")), "--target", target.url,
                    "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    doc = results_of(results)
    assert doc["requests_total"] == 30 == target.stats()["total"]
    assert doc["errors_total"] == 0
    assert doc["errors_by_kind"]["timeout"] == 0
    assert 2500 <= doc["latency"]["p50_ms"] < 2500 * 1.2
    assert doc["latency"]["count"] == 30
    assert doc["rps_actual"] == 10.0  # 30 requests over the 3 s of load, not over the wall time
    assert "draining" in out.stdout
    assert any(entry["phase"] == "draining" for entry in doc["timeline"])


def test_python_mode_keeps_slow_responses_at_the_end_too(loadpilot, target, write_scenario, tmp_path):
    results = tmp_path / "r.json"

    out = loadpilot("run", write_scenario(SLOW_PYTHON.replace("{ms}", "2500")), "--target", target.url,
                    "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    doc = results_of(results)
    assert doc["mode"] == "python"
    assert doc["requests_total"] == 30
    assert doc["errors_total"] == 0
    assert doc["latency"]["p50_ms"] >= 2500


def test_a_dead_target_fails_a_latency_threshold_and_says_why(loadpilot, write_scenario, tmp_path):
    results = tmp_path / "r.json"
    path = write_scenario("""
from loadpilot import scenario, task

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant", thresholds={"p99_ms": 200})
class Dead:
    @task
    def home(self, client):
        client.get("/")
""")

    out = loadpilot("run", path, "--target", "http://127.0.0.1:9", "--results-json", results)

    assert out.returncode == 1, out.stdout + out.stderr
    assert "✗ p99_ms" in out.stdout
    assert "no responses to measure" in out.stdout
    doc = results_of(results)
    assert doc["errors_by_kind"]["connect"] == doc["requests_total"] == 10
    assert doc["passed"] is False
    assert doc["thresholds"][0]["reason"] == "no responses to measure"


def test_a_run_that_cannot_deliver_the_load_fails_the_default_dropped_rate(loadpilot, roomy_target,
                                                                            write_scenario, tmp_path):
    # A million iterations a second: far more than one machine sends, so most are dropped.
    path = write_scenario("""
from loadpilot import scenario, task

@scenario(rps=1000000, duration="1s", ramp_up="0", mode="constant")
class Flood:
    @task
    def health(self, client):
        client.get("/health")
""")
    results = tmp_path / "r.json"

    failed = loadpilot("run", path, "--target", roomy_target.url, "--results-json", results)
    allowed = loadpilot("run", path, "--target", roomy_target.url, "--threshold", "dropped_rate=100")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "✗ dropped_rate" in failed.stdout
    assert "limit 1% (default)" in failed.stdout
    doc = results_of(results)
    assert doc["dropped"] > 0
    assert doc["dropped_rate"] > 1
    assert doc["dropped_rate"] == round(100 * doc["dropped"] / (doc["dropped"] + doc["iterations"]), 4)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def run_and_interrupt(source_path, target_url, results, signals):
    """Starts `loadpilot run`, waits for its first dashboard line, then sends `signals`
    one after the other (each after the next line of output). Returns (exit code, stdout)."""
    proc = subprocess.Popen([str(binary("loadpilot")), "run", str(source_path), "--target", target_url,
                             "--results-json", str(results)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for sig in signals:
            line = proc.stdout.readline()  # a dashboard line: the load is running
            assert line, proc.stderr.read()
            seen.append(line)
            os.kill(proc.pid, sig)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(seen) + rest


def test_ctrl_c_mid_run_counts_the_requests_cut_off_as_interrupted(target, write_scenario, tmp_path):
    results = tmp_path / "r.json"
    path = write_scenario(SLOW.replace("{ms}", "20000").replace('duration="3s"', 'duration="30s"'))

    code, stdout = run_and_interrupt(path, target.url, results, [signal.SIGINT])

    assert code == 0, stdout
    assert "stopping: draining" in stdout
    assert "Summary · Slow" in stdout
    assert "interrupted" in stdout
    doc = results_of(results)
    assert doc["stopped"] is True
    assert doc["errors_by_kind"]["interrupted"] == doc["requests_total"] > 0
    assert doc["errors_by_kind"]["timeout"] == 0
    assert doc["latency"]["count"] == 0  # cut off: no wait to report as a latency


def test_a_second_ctrl_c_cuts_the_grace_short_and_still_prints_the_summary(target, write_scenario, tmp_path):
    results = tmp_path / "r.json"
    path = write_scenario(SLOW.replace("{ms}", "20000").replace('duration="3s"', 'duration="30s"'))

    code, stdout = run_and_interrupt(path, target.url, results, [signal.SIGINT, signal.SIGINT])

    assert code == 0, stdout
    assert "Summary · Slow" in stdout
    doc = results_of(results)
    assert doc["errors_by_kind"]["interrupted"] > 0
    assert doc["errors_by_kind"]["timeout"] == 0
    stop = next(e for e in doc["timeline"] if e["phase"] == "draining")
    assert doc["timeline"][-1]["elapsed_secs"] - stop["elapsed_secs"] < 2  # ended before the 2 s grace


def test_ctrl_c_in_python_mode_counts_interrupted_too(target, write_scenario, tmp_path):
    results = tmp_path / "r.json"
    # A fixed pool with a user for every iteration until the stop: the default pool grows
    # one user per iteration that finds all busy, and one due at the very moment of the
    # stop would be dropped (and fail the default dropped_rate of this 11-iteration run).
    path = write_scenario(SLOW_PYTHON.replace("{ms}", "20000").replace(
        'duration="3s", ramp_up="0", mode="constant"', 'duration="30s", ramp_up="0", mode="constant", vusers=40'))

    code, stdout = run_and_interrupt(path, target.url, results, [signal.SIGINT])

    assert code == 0, stdout
    doc = results_of(results)
    assert doc["mode"] == "python"
    assert doc["stopped"] is True
    assert doc["errors_by_kind"]["interrupted"] > 0
    assert doc["errors_by_kind"]["timeout"] == 0
