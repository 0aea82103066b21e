"""What users take away from a run, through the binary: the results document (schema 2),
step mode's per-step figures and knee, --save-baseline and compare, --junit, the CI
overrides, Prometheus on --metrics-port (checked with promtool while a test runs),
init, version and --help."""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from conftest import binary

STATIC = """
from loadpilot import scenario, task

@scenario(rps=40, duration="3s", mode="constant", thresholds={"p99_ms": 1000, "error_rate": 50})
class Shop:
    @task(weight=3)
    def browse(self, client):
        client.get("/api/products")

    @task
    def broken(self, client):
        client.get("/status/503")
"""


def run_json(loadpilot, path, target, tmp_path, *args):
    results = tmp_path / "results.json"
    out = loadpilot("run", path, "--target", target.url, "--results-json", results, "--metrics-port", "0", *args)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return out, json.loads(results.read_text())


def quantile_from_buckets(hist, q):
    """docs/results.md's rule: the midpoint of the bucket holding the ceil(q·count)-th sample."""
    rank = min(hist["count"], max(1, math.ceil(q * hist["count"] * (1 - 1e-12))))
    seen = 0
    for lower, upper, count in hist["buckets"]:
        seen += count
        if seen >= rank:
            return min(hist["max_us"], max(hist["min_us"], lower + (upper - lower + 1) // 2))
    return hist["max_us"]


def test_results_document_has_metadata_histograms_and_interval_timeline(loadpilot, target, write_scenario, tmp_path):
    path = write_scenario(STATIC)

    out, doc = run_json(loadpilot, path, target, tmp_path, "--rps", "50")

    assert doc["schema_version"] == 2
    assert doc["loadpilot"]["version"] and doc["loadpilot"]["commit"] and doc["loadpilot"]["compiler"]
    assert doc["command_line"][1:4] == ["run", str(path), "--target"] and "--rps" in doc["command_line"]
    assert doc["plan"] == {"mode": "constant", "rps": 50.0, "duration_secs": 3.0, "ramp_up_secs": 0.0,
                           "steps": 0, "total_secs": 3.0, "vusers": 0}
    assert doc["vusers"] is None  # static mode has no pool of virtual users
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["started_at_iso"])
    assert doc["agents"] == []
    assert doc["requests_total"] == target.stats()["total"] == 150
    # The histograms re-compute the document's own percentiles.
    hist = doc["histograms"]["latency"]
    assert hist["count"] == doc["latency"]["count"] == sum(b[2] for b in hist["buckets"])
    for key, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("p999_ms", 0.999)):
        assert quantile_from_buckets(hist, q) / 1000 == doc["latency"][key]
    assert doc["histograms"]["success"]["count"] == doc["success_latency"]["count"]
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert tasks["broken"]["errors_by_kind"] == {"http_5xx": tasks["broken"]["requests"]}
    assert tasks["browse"]["success_latency"]["count"] == tasks["browse"]["requests"]
    assert tasks["broken"]["success_latency"]["count"] == 0
    # Interval figures add up to the totals.
    intervals = [e["interval"] for e in doc["timeline"]]
    assert sum(i["requests"] for i in intervals) == doc["requests_total"]
    assert sum(i.get("errors_by_kind", {}).get("http_5xx", 0) for i in intervals) == doc["errors_by_kind"]["http_5xx"]
    assert all({"in_flight", "connections", "late", "dropped"} <= e.keys() for e in doc["timeline"])


STEPS = """
import time
from loadpilot import scenario, task

FIRST = []

@scenario(rps=40, duration="8s", mode="step", steps=4, thresholds={"error_rate": 5})
class Steps:
    @task
    def browse(self, client):
        client.get("/api/products")

    def check_browse(self, status_code, body):
        # Fine for the first 5 s of the run (steps 1 and 2), failing from then on.
        if not FIRST:
            FIRST.append(time.monotonic())
        assert time.monotonic() - FIRST[0] < 5.0, "too late"
"""


def test_step_mode_judges_each_step_on_its_own_and_finds_the_knee(loadpilot, target, write_scenario, tmp_path):
    out, doc = run_json(loadpilot, write_scenario(STEPS), target, tmp_path)

    assert out.returncode == 1  # the run as a whole has too many errors
    steps = doc["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert [s["target_rps"] for s in steps] == [10.0, 20.0, 30.0, 40.0]
    assert [s["passed"] for s in steps] == [True, True, False, False]
    assert steps[0]["error_rate"] == 0 and steps[3]["error_rate"] == 100.0  # its own figures, not a running total
    assert sum(s["requests"] for s in steps) == doc["requests_total"]
    assert doc["knee"]["step"] == 2 and doc["knee"]["target_rps"] == 20.0 and doc["knee"]["last_step"] is False
    assert all(s["latency"]["count"] == s["requests"] for s in steps)


def test_save_baseline_then_compare_finds_a_regression(loadpilot, target, write_scenario, tmp_path):
    path = write_scenario("""
import os
from loadpilot import scenario, task

@scenario(rps=30, duration="4s", mode="constant")
class Delay:
    @task
    def wait(self, client):
        client.get("/delay/" + os.environ.get("DELAY_MS", "1"))
""")
    base = subprocess.run([str(binary("loadpilot")), "run", str(path), "--target", target.url, "--save-baseline",
                           "--metrics-port", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DELAY_MS": "1"})
    assert base.returncode == 0, base.stdout + base.stderr
    assert (tmp_path / ".loadpilot" / "baseline.json").is_file()
    slow = subprocess.run([str(binary("loadpilot")), "run", str(path), "--target", target.url, "--results-json",
                           "slow.json", "--metrics-port", "0"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "DELAY_MS": "40"})
    assert slow.returncode == 0, slow.stdout + slow.stderr

    regressed = loadpilot("compare", "slow.json", cwd=tmp_path)
    same = loadpilot("compare", ".loadpilot/baseline.json", cwd=tmp_path)
    lenient = loadpilot("compare", "slow.json", "--threshold", "100000", cwd=tmp_path)

    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    lines = {line.split()[0]: line for line in regressed.stdout.splitlines() if line.strip()}
    assert "REGRESSION" in lines["p50_ms"] and "REGRESSION" in lines["p99_ms"]
    assert "regressed by more than 10%" in regressed.stdout
    assert "\x1b[" not in regressed.stdout  # no colours off a terminal
    assert same.returncode == 0 and "No regression beyond 10%" in same.stdout
    assert lenient.returncode == 0


def test_compare_refuses_unreadable_and_foreign_files(loadpilot, tmp_path):
    (tmp_path / "plan.json").write_text('{"name": "x", "rps": 1}')
    (tmp_path / "future.json").write_text('{"schema_version": 99}')

    missing = loadpilot("compare", "nope.json", cwd=tmp_path)
    no_baseline = loadpilot("compare", "plan.json", cwd=tmp_path)
    foreign = loadpilot("compare", "plan.json", "future.json", cwd=tmp_path)
    future = loadpilot("compare", "future.json", "plan.json", cwd=tmp_path)

    assert missing.returncode == 2 and "cannot read nope.json" in missing.stderr
    assert no_baseline.returncode == 2
    assert foreign.returncode == 2 and "plan.json is not a LoadPilot results file" in foreign.stderr
    assert future.returncode == 2 and "future.json has results schema 99" in future.stderr


def test_junit_has_a_test_case_per_threshold_and_fails_the_breached_ones(loadpilot, target, write_scenario, tmp_path):
    junit = tmp_path / "out" / "junit.xml"

    out = loadpilot("run", write_scenario(STATIC), "--target", target.url, "--junit", junit,
                    "--threshold", "error_rate=1", "--metrics-port", "0")

    assert out.returncode == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"p99_ms <= 1000 ms", "error_rate <= 1 %", "dropped_rate <= 1 % (default)"}
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    failure = cases["error_rate <= 1 %"].find("failure")
    assert failure is not None and re.match(r"error_rate was [\d.]+ %, over the limit of 1 %", failure.get("message"))
    assert cases["p99_ms <= 1000 ms"].find("failure") is None


def test_overrides_change_the_plan_and_are_shown_in_dry_run(loadpilot, write_scenario):
    path = write_scenario(STATIC)

    out = loadpilot("run", path, "--dry-run", "--rps", "12.5", "--duration", "1m30s", "--mode", "step",
                    "--steps", "3", "--ramp-up", "0")

    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert (plan["rps"], plan["duration_secs"], plan["mode"], plan["steps"], plan["ramp_up_secs"]) == \
        (12.5, 90.0, "step", 3, 0.0)
    assert "note: from the command line: rps 12.5 (scenario: 40), duration 1m30s (scenario: 3s)" in out.stderr


def test_bad_overrides_are_listed_with_the_scenarios_problems(loadpilot, write_scenario):
    out = loadpilot("run", write_scenario(STATIC), "--dry-run", "--rps", "0", "--duration", "soon",
                    "--mode", "burst", "--steps", "-1")

    assert out.returncode == 2
    assert "--duration is not a duration: 'soon'" in out.stderr
    assert "--mode must be one of ramp, constant, step, spike, got 'burst'" in out.stderr
    assert "--steps must be a whole number >= 1, got '-1'" in out.stderr
    assert "  - rps must be > 0, got 0" in out.stderr  # the good one is applied and checked with the plan: all at once


def test_overrides_drive_the_real_run(loadpilot, target, write_scenario, tmp_path):
    out, doc = run_json(loadpilot, write_scenario(STATIC), target, tmp_path, "--rps", "10", "--duration", "2s")

    assert target.stats()["total"] == doc["requests_total"] == 20
    assert doc["plan"]["rps"] == 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is not installed: run scripts/install-deps.sh (Debian package prometheus)")
    return path


def scrape_while_running(loadpilot_args, port, want):
    """Starts `loadpilot run`, returns the first /metrics text for which want(text) holds,
    and the finished run."""
    run = subprocess.Popen([str(binary("loadpilot")), *map(str, loadpilot_args), "--metrics-port", str(port)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and run.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    body = resp.read().decode()
                if want(body):
                    text = body
                    break
            except OSError:
                pass
            time.sleep(0.2)
    finally:
        stdout, stderr = run.communicate(timeout=60)
    assert text is not None, f"no scrape matched; run said:\n{stdout}\n{stderr}"
    return text, run.returncode, stderr


def test_prometheus_metrics_during_a_run_pass_promtool(loadpilot, target, write_scenario):
    path = write_scenario(STATIC.replace('duration="3s"', 'duration="5s"'))
    port = free_port()

    text, code, stderr = scrape_while_running(
        ["run", path, "--target", target.url], port,
        lambda t: re.search(r'^loadpilot_requests_total\{task="browse"\} [1-9]', t, re.M) is not None)

    assert code == 0, stderr
    assert "note:" not in stderr  # said on a terminal only
    check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr
    # A real histogram: cumulative buckets ending in +Inf == _count.
    buckets = [int(v) for v in re.findall(r'^loadpilot_request_duration_seconds_bucket\{task="browse",le="[^"]+"\} (\d+)$',
                                          text, re.M)]
    count = int(re.search(r'^loadpilot_request_duration_seconds_count\{task="browse"\} (\d+)$', text, re.M).group(1))
    assert len(buckets) == 90 and buckets == sorted(buckets) and buckets[-1] == count > 0
    assert re.search(r'^loadpilot_errors_total\{task="broken",kind="http_5xx"\} [1-9]', text, re.M)
    assert re.search(r'^loadpilot_rps_target 40$', text, re.M)


def test_a_busy_metrics_port_chosen_by_the_user_stops_the_run_before_any_traffic(loadpilot, target, write_scenario):
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        out = loadpilot("run", write_scenario(STATIC), "--target", target.url, "--metrics-port", port)
    finally:
        holder.close()

    assert out.returncode == 2
    assert f"cannot serve metrics on 0.0.0.0:{port}: Address already in use" in out.stderr
    assert "--metrics-port 0" in out.stderr
    assert target.stats()["total"] == 0


def test_metrics_port_must_be_a_port(loadpilot, write_scenario):
    out = loadpilot("run", write_scenario(STATIC), "--dry-run", "--metrics-port", "99999")

    assert out.returncode == 2
    assert "--metrics-port must be a port number from 0 to 65535, got '99999'" in out.stderr


def test_init_scaffolds_a_project_and_never_overwrites(loadpilot, tmp_path):
    project = tmp_path / "proj"
    (project / "scenarios").mkdir(parents=True)
    (project / ".env.example").write_text("MINE=1\n")

    first = loadpilot("init", project)
    second = loadpilot("init", project)

    assert first.returncode == 0, first.stderr
    for name in ("scenarios/example.py", "monitoring/docker-compose.yml", "monitoring/prometheus.yml",
                 "monitoring/grafana-dashboard.json"):
        assert (project / name).is_file() and f"created  {name}" in first.stdout
    assert "skipped  .env.example (already exists" in first.stdout
    assert (project / ".env.example").read_text() == "MINE=1\n"
    assert second.returncode == 0 and "created" not in second.stdout
    assert second.stdout.count("skipped") == 7
    compose = (project / "monitoring/docker-compose.yml").read_text()
    assert "prometheus" in compose and "grafana" in compose
    assert "host.docker.internal:9090" in (project / "monitoring/prometheus.yml").read_text()


def test_init_scenario_passes_dry_run_and_runs_against_the_target(loadpilot, target, tmp_path):
    assert loadpilot("init", tmp_path).returncode == 0
    example = tmp_path / "scenarios" / "example.py"

    dry = loadpilot("run", example, "--dry-run")
    run = loadpilot("run", example, "--target", target.url, "--duration", "2s", "--ramp-up", "1s",
                    "--metrics-port", "0")

    assert dry.returncode == 0, dry.stderr
    assert {t["name"] for t in json.loads(dry.stdout)["tasks"]} == {"browse", "view_product", "add_to_cart"}
    assert run.returncode == 0, run.stdout + run.stderr
    assert target.stats()["by_route"]


def test_grafana_dashboard_queries_only_metrics_we_expose(loadpilot, target, write_scenario, tmp_path):
    assert loadpilot("init", tmp_path).returncode == 0
    dashboard = json.loads((tmp_path / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs.append(dashboard["templating"]["list"][0]["definition"])
    path = write_scenario(STATIC.replace('duration="3s"', 'duration="4s"'))

    text, code, _ = scrape_while_running(["run", path, "--target", target.url], free_port(),
                                         lambda t: "loadpilot_requests_total{" in t)

    exposed = set(re.findall(r"^(loadpilot_[a-z_]+)[{ ]", text, re.M))
    queried = {name for e in exprs for name in re.findall(r"\bloadpilot_[a-z_]+", e)}
    assert queried and queried <= exposed, f"not exposed: {queried - exposed}"
    # Every query is valid PromQL: promtool parses them as recording rules.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": e.replace("$__rate_interval", "1m").replace("$job", ".*")}
        for i, e in enumerate(exprs) if "label_values" not in e]}]}
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(json.dumps(rules))  # JSON is YAML
    check = subprocess.run([promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_version_prints_the_build(loadpilot):
    for args in (["version"], ["--version"]):
        out = loadpilot(*args)

        assert out.returncode == 0
        assert re.match(r"loadpilot \d+\.\d+\.\d+\n  commit    \S+\n  build     \S+\n  compiler  .+\n$", out.stdout)


@pytest.mark.parametrize("command", [[], ["run"], ["compare"], ["init"], ["version"]])
def test_help_lists_every_flag_with_its_default(loadpilot, command):
    out = loadpilot(*command, "--help")

    assert out.returncode == 0
    # Each option or positional entry, with its wrapped continuation lines.
    entries = re.findall(r"^  (\S.*?)(?=^  \S|^\S|\Z)", out.stdout, re.M | re.S)
    flags = [e for e in entries if not e.startswith(("-h,--help", "version", "run ", "compare", "init"))]
    for entry in flags:
        if entry.startswith("--version") or "REQUIRED" in entry:
            continue
        assert "default" in entry, f"{command}: no default in {entry!r}"
    if command == ["run"]:
        listed = " ".join(flags)
        for flag in ("--target", "--scenario", "--dry-run", "--threshold", "--rps", "--duration", "--ramp-up",
                     "--mode", "--steps", "--results-json", "--save-baseline", "--report", "--report-ranges",
                     "--junit", "--metrics-port"):
            assert flag in listed, flag
