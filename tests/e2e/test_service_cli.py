"""`loadpilot run --coordinator-url URL` (and LOADPILOT_COORDINATOR_URL): the CLI sends
its plan to a coordinator service and renders its stream. Black box, through the
binaries: a real nats-server with a token, real agents, `loadpilot-coordinator --serve`,
loadpilot-target's own counts. Exit codes as for a local run: 0 passed, 1 a threshold
breached, 2 usage; 3 the coordinator could not run it (busy, token, unreachable, a
dropped stream).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "service"))

from service_support import (API_TOKEN, NATS_TOKEN, NatsServer, Service, Stream, binary, cluster,  # noqa: E402
                             free_port, no_leftovers, plan_for, service, settled_total, start_agent,
                             target_total, wait_for)

_ = (no_leftovers, cluster, service)

SCENARIO = '''
from loadpilot import scenario, task

@scenario(rps=20, duration="3s", ramp_up="0s", mode="constant", thresholds={"p99_ms": 2000, "error_rate": 5})
class Remote:
    @task(weight=3)
    def products(self, client):
        client.get("/api/products")

    @task(weight=1)
    def health(self, client):
        client.get("/health")
'''


REPO = pathlib.Path(__file__).resolve().parents[2]


def projects(tmp_path: pathlib.Path, rps: int = 20, duration: str = "3s") -> pathlib.Path:
    """examples/projects.py (the seed's ProjectCRUDFlow: on_start logs in, on_stop deletes), shortened."""
    source = (REPO / "examples" / "projects.py").read_text()
    source = source.replace('rps=5, duration="2m", ramp_up="20s"', f'rps={rps}, duration="{duration}", ramp_up="0"')
    assert f"rps={rps}" in source
    path = tmp_path / "projects.py"
    path.write_text(source)
    return path


def write_scenario(tmp_path: pathlib.Path, text: str = SCENARIO) -> pathlib.Path:
    path = tmp_path / "remote.py"
    path.write_text(text)
    return path


def cli_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LOADPILOT_COORDINATOR_URL", "LOADPILOT_API_TOKEN")}
    env.update(extra)
    return env


def loadpilot(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("loadpilot")), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else cli_env(), stdin=subprocess.DEVNULL)


def test_a_run_on_the_coordinator_renders_the_summary_and_writes_every_output(service, target, tmp_path):
    scenario = write_scenario(tmp_path)
    results, report, junit = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "j.xml"

    out = loadpilot("run", scenario, "--target", target.url, "--coordinator-url", service.api, "--metrics-port", 0,
                    "--results-json", results, "--report", report, "--junit", junit,
                    env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))

    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(results.read_text())
    assert doc["requests_total"] == 60 == target_total(target)
    assert doc["histograms"] is not None  # the stream's stats, not snapshots alone
    assert sorted(a["id"] for a in doc["agents"]) == ["agent-0", "agent-1"]
    assert all(t["passed"] for t in doc["thresholds"])
    assert "All thresholds passed" in out.stdout  # the summary, rendered from the stream
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert "<testsuite" in junit.read_text()


def test_the_pre_auth_pool_goes_in_the_plan_and_on_stop_runs_here_after_the_run(service, target, tmp_path):
    results = tmp_path / "r.json"

    out = loadpilot("run", projects(tmp_path), "--target", target.url, "--coordinator-url", service.api,
                    "--vusers", "4", "--metrics-port", 0, "--results-json", results,
                    env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))

    assert out.returncode == 0, out.stdout + out.stderr
    stats, doc = target.stats(), json.loads(results.read_text())
    assert stats["by_path"]["/auth/login"] == 4                   # on_start once per virtual user, here
    assert stats["by_method"]["DELETE"] == 1                       # the last on_stop, here, after the run
    assert len(stats["by_authorization"]) == 4                     # each user's token reached the target via the agents
    assert doc["requests_total"] == stats["total"] - 6 == 60      # 20 rps x 3 s; 4 logins, create, delete apart
    assert doc["setup"] == {"requests": 6, "errors": 0}
    assert sorted(a["id"] for a in doc["agents"]) == ["agent-0", "agent-1"]


def test_the_url_can_come_from_loadpilot_coordinator_url(service, target, tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--target", target.url, "--metrics-port", 0,
                    "--results-json", tmp_path / "r.json",
                    env=cli_env(LOADPILOT_COORDINATOR_URL=service.api, LOADPILOT_API_TOKEN=API_TOKEN))

    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["requests_total"] == 60 == target_total(target)


def test_a_breached_threshold_exits_1_as_a_local_run_does(service, target, tmp_path):
    scenario = write_scenario(tmp_path)

    remote = loadpilot("run", scenario, "--target", target.url, "--coordinator-url", service.api, "--metrics-port", 0,
                       "--threshold", "p99_ms=0.001", env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))
    local = loadpilot("run", scenario, "--target", target.url, "--metrics-port", 0, "--threshold", "p99_ms=0.001")

    assert remote.returncode == local.returncode == 1, remote.stdout + remote.stderr
    assert "✗" in remote.stdout and "p99" in remote.stdout


def test_a_busy_coordinator_exits_3_saying_a_test_is_running(service, target, tmp_path):
    running = Stream(service, plan_for(target.url, rps=10, duration=6))
    running.next_line()

    out = loadpilot("run", write_scenario(tmp_path), "--target", target.url, "--coordinator-url", service.api,
                    "--metrics-port", 0, env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))
    running.read_all()

    assert out.returncode == 3, out.stdout + out.stderr
    assert "a test is already running" in out.stderr


def test_without_the_api_token_exits_3_saying_to_set_it(service, target, tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--target", target.url, "--coordinator-url", service.api,
                    "--metrics-port", 0)

    assert out.returncode == 3, out.stdout + out.stderr
    assert "401" in out.stderr and "LOADPILOT_API_TOKEN" in out.stderr
    assert target_total(target) == 0


def test_an_unreachable_coordinator_exits_3(target, tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--target", target.url, "--coordinator-url",
                    f"http://127.0.0.1:{free_port()}", "--metrics-port", 0)

    assert out.returncode == 3, out.stdout + out.stderr
    assert "cannot reach the coordinator" in out.stderr and "port-forward" in out.stderr


def test_a_bad_url_is_a_usage_error(tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--coordinator-url", "localhost:8080", "--metrics-port", 0)

    assert out.returncode == 2, out.stdout + out.stderr
    assert "--coordinator-url must be an http:// or https:// URL" in out.stderr


def run_has_agents_flag() -> bool:
    help_text = subprocess.run([str(binary("loadpilot")), "run", "--help"], capture_output=True, text=True, timeout=30)
    return "--agents" in help_text.stdout


@pytest.mark.skipif(not run_has_agents_flag(), reason="this loadpilot has no `run --agents` (the clustercli work)")
def test_with_agents_flags_the_url_is_a_usage_error(tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--coordinator-url", "http://127.0.0.1:1", "--agents", "2",
                    "--metrics-port", 0)

    assert out.returncode == 2, out.stdout + out.stderr
    assert "--coordinator-url" in out.stderr and "--agents" in out.stderr


def test_dry_run_prints_the_plan_and_contacts_nobody(tmp_path):
    out = loadpilot("run", write_scenario(tmp_path), "--coordinator-url", f"http://127.0.0.1:{free_port()}",
                    "--dry-run")

    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["name"] == "Remote"


def test_a_dropped_stream_is_an_error_not_a_hang(target, tmp_path):
    nats = NatsServer(token=NATS_TOKEN)
    agent = start_agent(nats.url, "drop", NATS_TOKEN)
    svc = Service(nats, agents=1)
    cli = None
    try:
        svc.wait_ready()
        cli = subprocess.Popen([str(binary("loadpilot")), "run", write_scenario(tmp_path, SCENARIO.replace('"3s"', '"60s"')),
                                "--target", target.url, "--coordinator-url", svc.api, "--metrics-port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                               env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))
        wait_for(lambda: target_total(target) > 20, 30, "the remote run to be under way")

        svc.proc.kill()  # no final line, no FIN before the process is gone: a dropped stream
        out, err = cli.communicate(timeout=60)

        assert cli.returncode == 3, out + err
        assert "ended before the run's last line" in err or "went silent" in err, err
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
            cli.wait()
        svc.close()
        agent.stop()
        agent.close()
        nats.close()


def test_ctrl_c_stops_the_remote_run_runs_on_stop_and_still_writes_the_results(service, target, tmp_path):
    results = tmp_path / "r.json"
    cli = subprocess.Popen([str(binary("loadpilot")), "run", str(projects(tmp_path, rps=20, duration="60s")),
                            "--target", target.url, "--coordinator-url", service.api, "--vusers", "2",
                            "--metrics-port", "0", "--results-json", str(results)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                           env=cli_env(LOADPILOT_API_TOKEN=API_TOKEN))
    try:
        wait_for(lambda: target_total(target) > 20, 30, "the remote run to be under way")

        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()

    doc = json.loads(results.read_text())
    assert cli.returncode == 0, out + err
    assert doc["stopped"] is True
    assert "stopping the run on the coordinator" in err
    stats = target.stats()
    assert stats["by_method"]["DELETE"] == 1  # on_stop ran here after the stop
    assert 0 < doc["requests_total"] == settled_total(target) - 4 < 20 * 60  # 2 logins, create, delete apart
    service.wait_ready()  # the service is free again
