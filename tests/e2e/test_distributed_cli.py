"""`loadpilot run` in distributed mode, black-box: --agents N (local loadpilot-agent
processes on the embedded broker), --external-agents N (agents this test starts, on the
embedded broker or a real nats-server), the pre-auth pool (on_start here, per-user calls
on the agents, on_stop after), and every way out leaving no agent behind.

Every process carries LOADPILOT_TEST_SESSION=<id> in its environment (agents inherit
it), so `leftover_agents()` finds this session's loadpilot-agent processes with pgrep
even when other test sessions run theirs. Servers bind free loopback ports; every run
is bounded by a timeout.
"""

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
import uuid

import pytest

from conftest import REPO, RUN_TIMEOUT_S, binary

SESSION = uuid.uuid4().hex
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"

STATIC = """from loadpilot import scenario, task

@scenario(rps=20, duration="3s", ramp_up="0", mode="constant", thresholds={"error_rate": 1.0})
class Shop:
    @task(weight=3)
    def products(self, client):
        client.get("/api/products")

    @task
    def product(self, client):
        client.get("/api/products/1")
"""


def env(**extra: str) -> dict:
    e = dict(os.environ)
    e.pop("NATS_TOKEN", None)
    e["LOADPILOT_TEST_SESSION"] = SESSION
    e.update(extra)
    return e


def ours(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"LOADPILOT_TEST_SESSION={SESSION}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def leftover_agents() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "loadpilot-agent"], capture_output=True, text=True).stdout
    return [pid for pid in map(int, out.split()) if ours(pid)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lp(*args, timeout: float = RUN_TIMEOUT_S, **extra_env: str) -> subprocess.CompletedProcess:
    """`loadpilot ARGS... --metrics-port 0` (parallel tests must not fight over 9090)."""
    return subprocess.run([str(binary("loadpilot")), *map(str, args), "--metrics-port", "0"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env(**extra_env))


def projects(tmp_path: pathlib.Path, rps: int = 20, duration: str = "4s") -> pathlib.Path:
    """examples/projects.py (the seed's ProjectCRUDFlow), shortened."""
    source = (REPO / "examples" / "projects.py").read_text()
    source = source.replace('rps=5, duration="2m", ramp_up="20s"', f'rps={rps}, duration="{duration}", ramp_up="0"')
    assert f"rps={rps}" in source
    path = tmp_path / "projects.py"
    path.write_text(source)
    return path


class Agent:
    """A loadpilot-agent this test starts (external agents); stopped by pid."""

    def __init__(self, url: str, agent_id: str, token: str = ""):
        self.log = tempfile.NamedTemporaryFile(prefix="lp-agent-", suffix=".err", delete=False)
        extra = {"NATS_TOKEN": token} if token else {}
        self.process = subprocess.Popen([str(binary("loadpilot-agent")), "--coordinator", url, "--agent-id", agent_id],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
                                        env=env(**extra))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.unlink(self.log.name)


@pytest.fixture
def external_agents():
    started: list[Agent] = []

    def start(url: str, *ids: str, token: str = "") -> list[Agent]:
        new = [Agent(url, i, token) for i in ids]
        started.extend(new)
        return new

    yield start
    for a in started:
        a.stop()


@pytest.fixture
def nats_server():
    port = free_port()
    process = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(port)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("nats-server did not start")
        time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_local_agents_fire_what_the_target_counts_and_the_summary_lists_them(target, write_scenario, tmp_path):
    results = tmp_path / "results.json"

    out = lp("run", write_scenario(STATIC), "--target", target.url, "--agents", "2", "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(results.read_text())
    assert doc["requests_total"] == target.stats()["total"] == 60  # 20 rps x 3 s, split over two agents
    assert [(a["id"], a["state"]) for a in doc["agents"]] == [("agent-0", "done"), ("agent-1", "done")]
    assert sum(a["requests"] for a in doc["agents"]) == 60
    assert all(a["start_skew_ms"] is not None and a["start_skew_ms"] >= 0 for a in doc["agents"])
    assert "agent    state         requests   start skew" in out.stdout
    assert "  start skew " in out.stdout and "All thresholds passed" in out.stdout
    assert leftover_agents() == []


def test_a_run_on_agents_writes_the_same_documents_as_a_local_run(target, write_scenario, tmp_path):
    path = write_scenario(STATIC.replace('mode="constant"', 'mode="step", steps=2').replace('"3s"', '"4s"'))
    files = {}
    for name, extra in (("local", []), ("agents", ["--agents", "2"])):
        files[name] = {kind: tmp_path / f"{name}.{kind}" for kind in ("json", "html", "xml")}
        out = lp("run", path, "--target", target.url, *extra, "--results-json", files[name]["json"],
                 "--report", files[name]["html"], "--junit", files[name]["xml"], "--threshold", "max_ms=0")
        assert out.returncode == 1, out.stdout + out.stderr  # the same breach, the same exit code
        assert "1 of 3 thresholds failed" in out.stdout

    local, agents = (json.loads(files[n]["json"].read_text()) for n in ("local", "agents"))
    assert sorted(local) == sorted(agents)
    assert local["requests_total"] == agents["requests_total"] == 60  # steps of 10 and 20 rps, 2 s each
    assert len(agents["steps"]) == len(local["steps"]) == 2     # the cumulative stats reached the CLI
    assert agents["histograms"] is not None and agents["timeline"]
    assert [a["id"] for a in agents["agents"]] == ["agent-0", "agent-1"] and local["agents"] == []
    assert "agent-1" in files["agents"]["html"].read_text()
    assert 'failures="1"' in files["agents"]["xml"].read_text()


def test_projects_on_agents_ship_per_user_urls_and_tokens_and_clean_up(target, tmp_path):
    results = tmp_path / "results.json"

    out = lp("run", projects(tmp_path), "--target", target.url, "--agents", "2", "--vusers", "4",
             "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    stats, doc = target.stats(), json.loads(results.read_text())
    assert stats["by_path"]["/auth/login"] == 4                   # on_start once per virtual user, here
    assert stats["by_method"]["POST"] == 4 + 1                     # the shared project created once
    assert stats["by_method"]["DELETE"] == 1                       # by the last on_stop
    project_paths = {p for p in stats["by_path"] if p.startswith("/api/v1/projects/")}
    assert len(project_paths) == 1 and "{" not in project_paths.pop()  # the real id, never a placeholder
    tokens = stats["by_authorization"]
    assert len(tokens) == 4                                        # every user's own token reached the target
    assert doc["requests_total"] == stats["total"] - 6 == 80          # 20 rps x 4 s; 4 logins, create, delete apart
    assert sum(tokens.values()) == 80 + 2                          # the load, plus create and delete
    assert all(20 <= n <= 22 for n in tokens.values()), tokens     # disjoint slices, users rotated evenly
    assert doc["setup"] == {"requests": 6, "errors": 0}            # logins, create, delete: apart
    assert "setup (on_start/on_stop): 6 requests, 0 errors" in out.stdout
    login = target.call("POST", "/auth/login", {})["access_token"]
    assert target.call("GET", "/api/v1/projects", token=login) == []
    assert leftover_agents() == []


def test_dry_run_with_agents_runs_the_pool_prints_it_and_calls_on_stop(target, tmp_path):
    out = lp("run", projects(tmp_path), "--target", target.url, "--agents", "2", "--vusers", "3", "--dry-run")

    assert out.returncode == 0, out.stdout + out.stderr
    plan = json.loads(out.stdout)
    users = plan["vuser_configs"]
    assert len(users) == 3
    read = [u["task_calls"]["read_project"][0] for u in users]
    assert len({c["url"] for c in read}) == 1 and "{" not in read[0]["url"]
    assert read[0]["url"].startswith("/api/v1/projects/")
    tokens = {dict(c["headers"])["Authorization"] for c in read}
    assert len(tokens) == 3 and all(t.startswith("Bearer tok-") for t in tokens)
    rename = users[0]["task_calls"]["rename_project"][0]
    assert (rename["method"], rename["body"]) == ("PATCH", '{"description": "renamed"}')
    stats = target.stats()
    assert stats["by_path"]["/auth/login"] == 3 and stats["by_method"]["DELETE"] == 1  # on_stop after the dry run
    assert stats["by_method"].get("GET", 0) == 0 and stats["by_method"].get("PATCH", 0) == 0  # no load
    assert leftover_agents() == []


def test_a_failing_first_on_start_stops_with_its_traceback_and_no_agent_sends(target, write_scenario):
    path = write_scenario("""from loadpilot import VUser, scenario, task

@scenario(rps=20, duration="3s", ramp_up="0")
class Denied(VUser):
    def on_start(self, client):
        client.post("/status/401", json={}).raise_for_status()

    @task
    def browse(self, client):
        client.get("/api/products")
""")

    out = lp("run", path, "--target", target.url, "--agents", "2")

    assert out.returncode == 2, out.stdout + out.stderr
    assert "error: on_start failed against " + target.url in out.stderr
    assert "Traceback (most recent call last)" in out.stderr and "401 Client Error" in out.stderr
    assert target.stats()["total"] == 1  # the one on_start call; no agent was given the plan
    assert leftover_agents() == []


def test_a_later_user_whose_on_start_fails_is_left_out_of_the_pool(target, write_scenario):
    path = write_scenario("""import threading
from loadpilot import VUser, scenario, task

@scenario(rps=20, duration="2s", ramp_up="0", mode="constant", vusers=3)
class Flaky(VUser):
    _lock = threading.Lock()
    _started = 0

    def on_start(self, client):
        with Flaky._lock:
            Flaky._started += 1
            me = Flaky._started
        self.token = client.post("/auth/login", json={}).json()["access_token"]
        if me == 2:
            client.get("/status/503").raise_for_status()

    @task
    def home(self, client):
        client.get("/health", headers={"Authorization": f"Bearer {self.token}"})
""")

    out = lp("run", path, "--target", target.url, "--agents", "2")

    assert out.returncode == 0, out.stdout + out.stderr
    assert "on_start raised (reported once" in out.stderr and "503 Server Error" in out.stderr
    assert "note: 1 of 3 virtual users failed on_start" in out.stderr
    tokens = target.stats()["by_authorization"]
    assert len(tokens) == 2 and sum(tokens.values()) == 40  # the two good users carry the load
    assert "setup (on_start/on_stop): 4 requests, 1 errors" in out.stdout


def test_ctrl_c_during_on_start_stops_before_any_load_and_runs_on_stop(target, write_scenario):
    path = write_scenario("""from loadpilot import VUser, scenario, task

@scenario(rps=20, duration="5s", ramp_up="0")
class Slow(VUser):
    def on_start(self, client):
        client.get("/delay/2000")

    def on_stop(self, client):
        client.get("/status/299")

    @task
    def home(self, client):
        client.get("/health")
""")
    process = subprocess.Popen([str(binary("loadpilot")), "run", str(path), "--target", target.url, "--agents", "2",
                                "--metrics-port", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env())
    note = process.stderr.readline()  # said before the pool starts, with Ctrl+C already handled
    time.sleep(0.5)

    process.send_signal(signal.SIGINT)
    try:
        rest, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("loadpilot kept running 20 s after SIGINT")

    assert note.startswith("note: pre-auth pool: on_start runs here for 5 virtual users"), note + err
    assert process.returncode == 3, rest + err  # nothing ran: never a pass
    assert "stopped during on_start of the pre-auth pool: no agent was given the plan, no iteration was sent" in err
    by_path = target.stats()["by_path"]
    assert by_path == {"/delay/2000": 1, "/status/299": 1}  # the first user alone, then its on_stop
    assert leftover_agents() == []


def test_checks_are_announced_as_not_run_on_agents(target, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=10, duration="2s", ramp_up="0", mode="constant")
class Checked:
    @task
    def missing(self, client):
        client.get("/api/products/999")

    def check_missing(self, status_code, body):
        assert status_code == 404
""")

    out = lp("run", path, "--target", target.url, "--agents", "1", "--threshold", "error_rate=100")

    assert out.returncode == 0, out.stdout + out.stderr
    assert "note: checks are not run on agents (they have no Python): check_missing" in out.stderr
    assert "status-based only" in out.stderr
    assert "http_4xx" in out.stdout  # the 404s count as errors there, whatever the check says


@pytest.mark.parametrize("body, reason", [
    ("""        r = client.post("/api/v1/projects", json={}, headers={"Authorization": "x"})
        client.get(f"/api/v1/projects/{r.json()['id']}", headers={"Authorization": "x"})""",
     "it sends {id}, a value read from an earlier response"),
    ("""        client.batch([{"path": "/api/products"}, {"path": "/health"}])""",
     "it calls client.batch"),
    ("""        import uuid
        client.get(f"/api/products?trace={uuid.uuid4()}")""",
     "it made different calls on two capture runs"),
])
def test_a_task_that_needs_python_at_run_time_is_refused_naming_it(target, write_scenario, body, reason):
    path = write_scenario(f"""from loadpilot import scenario, task

@scenario(rps=10, duration="2s")
class Live:
    @task
    def fine(self, client):
        client.get("/health")

    @task
    def live(self, client):
{body}
""")

    out = lp("run", path, "--target", target.url, "--agents", "2")

    assert out.returncode == 2, out.stdout + out.stderr
    assert f"task 'live' needs Python at run time ({reason}" in out.stderr, out.stderr
    assert "agents have none" in out.stderr and "'fine'" not in out.stderr
    assert target.stats()["total"] == 0
    assert leftover_agents() == []


def test_an_async_task_with_a_real_await_is_refused_and_one_awaiting_calls_runs(target, write_scenario):
    path = write_scenario("""import asyncio
from loadpilot import scenario, task

@scenario(rps=10, duration="2s", ramp_up="0", mode="constant")
class Async:
    @task
    async def calls_only(self, client):
        await client.get("/health")

    @task
    async def sleeps(self, client):
        await asyncio.sleep(0.5)
        await client.get("/api/products")
""")

    refused = lp("run", path, "--target", target.url, "--agents", "1")
    runs = lp("run", path, "--target", target.url, "--agents", "1", "--dry-run")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "task 'sleeps' needs Python at run time (it awaits something other than a client call" in refused.stderr
    assert "'calls_only'" not in refused.stderr
    assert runs.returncode == 2  # the dry run validates the same way
    assert target.stats()["total"] == 0


def test_ctrl_c_stops_the_agents_runs_on_stop_and_reports_what_ran(target, tmp_path):
    results = tmp_path / "results.json"
    metrics_port = free_port()
    process = subprocess.Popen([str(binary("loadpilot")), "run", str(projects(tmp_path, rps=10, duration="60s")),
                                "--target", target.url, "--agents", "2", "--vusers", "2",
                                "--metrics-port", str(metrics_port), "--results-json", str(results)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env())
    first_line = process.stdout.readline()  # the first snapshot: the agents are sending
    process.stdout.readline()               # and the second: Prometheus has had a snapshot with stats
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        exposition = r.read().decode()

    process.send_signal(signal.SIGINT)
    try:
        rest, err = process.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("loadpilot kept running 40 s after SIGINT")

    assert first_line.startswith("[00:01/01:00]"), first_line + err
    served = [l for l in exposition.splitlines() if l.startswith('loadpilot_requests_total{task="read_project"}')]
    assert served and float(served[0].split()[-1]) > 0, exposition  # the agents' figures, merged, on :PORT/metrics
    assert "\nloadpilot_active_agents 2\n" in exposition, exposition
    assert process.returncode == 0, rest + err
    assert "stopped early after" in rest and "agent-0" in rest
    stats = target.stats()
    assert stats["by_method"]["DELETE"] == 1  # on_stop ran after the stop
    doc = json.loads(results.read_text())
    assert doc["stopped"] and 0 < doc["requests_total"] == stats["total"] - 4 < 600  # 2 logins, create, delete
    assert leftover_agents() == []


def test_agents_that_never_come_exit_3_naming_them_and_on_stop_still_runs(target, tmp_path):
    port = free_port()

    out = lp("run", projects(tmp_path), "--target", target.url, "--vusers", "2", "--external-agents", "2",
             "--broker-addr", f"127.0.0.1:{port}", "--wait-for-agents", "2s")

    assert out.returncode == 3, out.stdout + out.stderr
    assert "only 0 of 2 agents registered within 2 s: none came" in out.stderr
    assert f"loadpilot-agent --coordinator nats://127.0.0.1:{port} --agent-id ID" in out.stderr  # how to start one
    stats = target.stats()
    assert stats["by_path"]["/auth/login"] == 2 and stats["by_method"]["DELETE"] == 1  # no leak on the error path


def test_ctrl_c_while_waiting_for_agents_stops_without_load_and_runs_on_stop(target, tmp_path):
    process = subprocess.Popen([str(binary("loadpilot")), "run", str(projects(tmp_path)), "--target", target.url,
                                "--vusers", "2", "--external-agents", "2", "--broker-addr", f"127.0.0.1:{free_port()}",
                                "--metrics-port", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env())
    deadline = time.monotonic() + 30
    seen = ""
    while "waiting for agents: 0/2" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()

    process.send_signal(signal.SIGINT)
    try:
        rest, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("loadpilot kept running 20 s after SIGINT")

    assert "waiting for agents: 0/2" in seen, seen + err
    assert process.returncode == 3, rest + err  # nothing ran: never a pass
    assert "stopped before the load started: no agent was given the plan, no iteration was sent" in err
    stats = target.stats()
    assert stats["by_path"]["/auth/login"] == 2 and stats["by_method"]["DELETE"] == 1
    assert stats["by_method"].get("GET", 0) == 0


def test_an_agent_that_cannot_start_the_plan_fails_the_run_and_no_agent_is_left(write_scenario):
    out = lp("run", write_scenario(STATIC), "--target", "http://no-such-host.invalid:8000", "--agents", "2")

    assert out.returncode == 3, out.stdout + out.stderr
    assert "cannot run the plan: cannot resolve host 'no-such-host.invalid'" in out.stderr
    assert leftover_agents() == []


def test_external_agents_on_the_embedded_broker_started_before_the_run(target, write_scenario, external_agents):
    port = free_port()
    external_agents(f"127.0.0.1:{port}", "edge-a", "edge-b", token="s3cret")  # retry until the broker is up

    out = lp("run", write_scenario(STATIC), "--target", target.url, "--external-agents", "2",
             "--broker-addr", f"127.0.0.1:{port}", "--wait-for-agents", "30s", NATS_TOKEN="s3cret")

    assert out.returncode == 0, out.stdout + out.stderr
    assert "waiting for agents" in out.stderr or "agents ready: 2/2" in out.stderr
    assert target.stats()["total"] == 60
    assert "edge-a" in out.stdout and "edge-b" in out.stdout


def test_external_agents_on_a_nats_server(target, tmp_path, external_agents, nats_server):
    external_agents(nats_server, "agent-0", "agent-1")
    results = tmp_path / "results.json"

    out = lp("run", projects(tmp_path), "--target", target.url, "--vusers", "2", "--external-agents", "2",
             "--nats-url", nats_server, "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    stats, doc = target.stats(), json.loads(results.read_text())
    assert len(stats["by_authorization"]) == 2
    assert doc["requests_total"] == 80 == stats["total"] - 2 - 1 - 1  # logins, create, delete
    assert stats["by_method"]["DELETE"] == 1


def test_an_open_broker_without_a_token_is_warned_about(target, write_scenario, external_agents):
    port = free_port()
    external_agents(f"127.0.0.1:{port}", "agent-0")

    out = lp("run", write_scenario(STATIC.replace('"3s"', '"1s"')), "--target", target.url, "--external-agents", "1",
             "--broker-addr", f"0.0.0.0:{port}")

    assert out.returncode == 0, out.stdout + out.stderr
    assert f"warning: listening on 0.0.0.0:{port} without a token: anyone who can reach this port can join" in out.stderr


@pytest.mark.parametrize("args, problems", [
    (["--agents", "0"], ["--agents must be a whole number >= 1 and <= 10000, got '0'"]),
    (["--agents", "2", "--external-agents", "2"], ["--agents and --external-agents cannot be combined: pick one"]),
    (["--external-agents", "2", "--broker-addr", "nope"], ["--broker-addr must be ADDR:PORT (e.g. 0.0.0.0:4222), got 'nope'"]),
    (["--nats-url", "nats://127.0.0.1:4222"], ["--nats-url needs --agents N or --external-agents N"]),
    (["--agents", "x", "--wait-for-agents", "soon", "--rps", "0"],
     ["--agents must be a whole number >= 1", "--wait-for-agents must be a duration such as 30s or 5m, got 'soon'",
      "rps must be > 0, got 0"]),
])
def test_bad_distributed_flags_are_listed_with_the_other_problems(target, write_scenario, args, problems):
    out = lp("run", write_scenario(STATIC), "--target", target.url, *args)

    assert out.returncode == 2, out.stdout + out.stderr
    for problem in problems:
        assert f"  - {problem}" in out.stderr, out.stderr
    assert target.stats()["total"] == 0


def test_help_lists_the_distributed_flags_with_their_defaults():
    out = subprocess.run([str(binary("loadpilot")), "run", "--help"], capture_output=True, text=True, timeout=30)

    for flag, default in [("--agents", "default: off"), ("--external-agents", "default: off"),
                          ("--broker-addr", "default: 0.0.0.0:4222 with --external-agents"),
                          ("--nats-url", "default: the embedded broker"), ("--nats-token", "$NATS_TOKEN"),
                          ("--wait-for-agents", "default: 30s with --agents, 5m with --external-agents")]:
        assert flag in out.stdout and default in " ".join(out.stdout.split()), (flag, out.stdout)
