"""`loadpilot run` on scenario files, black-box: validation, Python errors, scenario
choice, dry runs, and short real runs against loadpilot-target."""

import json
import re

import pytest

from conftest import REPO

DEAD_TARGET = "http://127.0.0.1:9"  # nothing listens there: dry runs must not need it

STATIC = """
from loadpilot import scenario, task

@scenario(rps=40, duration="2s", ramp_up="0", mode="constant", thresholds={"error_rate": 1.0})
class Static:
    @task(weight=3)
    def products(self, client):
        client.get("/api/products")

    @task
    def product(self, client):
        client.get("/api/products/1")
"""


def dry_run_plan(loadpilot, path, *args):
    out = loadpilot("run", path, "--dry-run", "--target", DEAD_TARGET, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_version(loadpilot):
    out = loadpilot("version")

    assert out.returncode == 0
    assert re.fullmatch(r"loadpilot \d+\.\d+\.\d+\n(  (commit|build|compiler) +\S.*\n){3}", out.stdout)


def test_every_validation_problem_is_listed_at_once_before_any_traffic(loadpilot, target, write_scenario):
    path = write_scenario("""
from loadpilot import scenario, task

@scenario(rps=0, duration="abc", mode="wave", thresholds={"p98_ms": 5})
class Broken:
    @task(weight=0)
    def weightless(self, client):
        client.get("/api/products")

    @task
    def odd_method(self, client):
        client.request("FETCH", "/api/products")

    @task
    def idle(self, client):
        pass
""")

    out = loadpilot("run", path, "--target", target.url, "--threshold", "p99=1")

    assert out.returncode == 2
    for message in [
        "rps must be > 0, got 0",
        "duration is not a duration: 'abc'",
        "mode must be one of ramp, constant, step, spike, got 'wave'",
        "unknown threshold 'p98_ms'",
        "task 'weightless': weight must be > 0, got 0",
        "task 'odd_method': unknown method 'FETCH'",
        "task 'idle' makes no HTTP call",
        "--threshold 'p99=1': unknown key 'p99'",
    ]:
        assert message in out.stderr
    assert "url is empty" not in out.stderr  # 'makes no HTTP call' already says it
    assert target.stats()["total"] == 0


def test_ramp_up_longer_than_duration_and_bad_target(loadpilot, write_scenario):
    path = write_scenario("""
from loadpilot import scenario, task

@scenario(duration="30s", ramp_up="90s")
class Slow:
    @task
    def home(self, client):
        client.get("/")
""")

    out = loadpilot("run", path, "--dry-run", "--target", "ftp://example.com")

    assert out.returncode == 2
    assert "ramp_up (1m30s) exceeds duration (30s)" in out.stderr
    assert "target_url must start with http:// or https://" in out.stderr


def test_scenario_without_tasks(loadpilot, write_scenario):
    path = write_scenario("from loadpilot import scenario\n\n@scenario()\nclass Empty:\n    pass\n")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2
    assert "no tasks: add at least one @task method" in out.stderr


def test_task_that_raises_names_its_file_and_line(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario()
class Raises:
    @task
    def boom(self, client):
        client.get("/x").json()["missing"].upper()
        raise RuntimeError("broken task")
""")

    out = loadpilot("run", path, "--dry-run")

    # It made its call before raising: it may only need real responses, so it is not
    # rejected; it runs in Python mode, where each raise counts as an error.
    assert out.returncode == 0
    assert "task 'boom' raised RuntimeError: broken task (scenario.py, line 8)" in out.stderr
    assert "runs in Python mode" in out.stderr


def test_task_that_raises_before_any_call_is_rejected(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario()
class Raises:
    @task
    def boom(self, client):
        raise RuntimeError("broken task")
""")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2
    assert "task 'boom' raised RuntimeError: broken task (scenario.py, line 7)" in out.stderr


def test_python_syntax_error_shows_file_and_line(loadpilot, write_scenario):
    path = write_scenario("from loadpilot import scenario, task\n\n@scenario(rps=5\nclass Flow:\n    pass\n")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2
    assert f'File "{path}", line 3' in out.stderr
    assert "SyntaxError" in out.stderr


def test_exception_at_import_shows_the_traceback(loadpilot, write_scenario):
    path = write_scenario("from loadpilot import scenario\n\ndef setup():\n    raise ValueError('bad config')\n\nsetup()\n")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2
    assert "Traceback (most recent call last):" in out.stderr
    assert f'File "{path}", line 4, in setup' in out.stderr
    assert "ValueError: bad config" in out.stderr


def test_unknown_scenario_lists_the_choices(loadpilot, write_scenario):
    path = write_scenario(STATIC + STATIC.replace("class Static", "class Other").split("\n", 2)[2])

    unknown = loadpilot("run", path, "--dry-run", "--scenario", "Nope")
    picked = loadpilot("run", path, "--dry-run", "--scenario", "Other")

    assert unknown.returncode == 2
    assert "no scenario named 'Nope'" in unknown.stderr and "Static, Other" in unknown.stderr
    assert picked.returncode == 0 and json.loads(picked.stdout)["name"] == "Other"
    assert "note: running" not in picked.stderr


def test_several_scenarios_and_no_terminal_run_the_first_and_name_the_others(loadpilot, target, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class CheckoutFlow:
    @task
    def checkout(self, client):
        client.get("/status/201")

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class Browse:
    @task
    def browse(self, client):
        client.get("/status/202")

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class Admin:
    @task
    def admin(self, client):
        client.get("/status/203")
""", name="x.py")

    out = loadpilot("run", path, "--target", target.url)

    assert out.returncode == 0, out.stdout + out.stderr
    assert ("note: running CheckoutFlow (first of 3 in x.py: CheckoutFlow, Browse, Admin); "
            "pick another with --scenario NAME") in out.stderr
    assert "Summary · CheckoutFlow" in out.stdout
    assert target.stats()["by_path"] == {"/status/201": 10}


def test_a_task_whose_calls_change_between_runs_runs_in_python_mode(loadpilot, target, write_scenario, tmp_path):
    # A uuid (or a random id, a timestamp) in a call: replaying one recording would send
    # the same value every time. The capture runs the task twice and notices.
    path = write_scenario("""import uuid
from loadpilot import scenario, task

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class Orders:
    @task
    def order(self, client):
        client.post("/api/cart", json={"order": str(uuid.uuid4())},
                    headers={"Authorization": f"Bearer {uuid.uuid4()}"})

    @task
    def home(self, client):
        client.get("/health")
""")
    results = tmp_path / "r.json"

    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    assert "note: task 'order' made different calls on two capture runs" in out.stderr
    assert "runs in Python mode" in out.stderr and "'home'" not in out.stderr
    doc = json.loads(results.read_text())
    assert doc["mode"] == "python" and doc["errors_total"] == 0
    stats = target.stats()
    assert stats["by_path"]["/api/cart"] == 5
    assert len(stats["by_authorization"]) == 5  # a new value on every iteration


def test_a_task_that_makes_the_same_calls_every_time_stays_static(loadpilot, target, write_scenario, tmp_path):
    path = write_scenario(STATIC)
    results = tmp_path / "r.json"

    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(results.read_text())["mode"] == "static"
    assert "note:" not in out.stderr


def test_vusers_must_be_a_whole_number_and_is_listed_with_the_other_problems(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import VUser, scenario, task

@scenario(rps=0, duration="1s", ramp_up="0", vusers=0)
class Pool(VUser):
    def on_start(self, client):
        pass

    @task
    def home(self, client):
        client.get("/health")
""")

    out = loadpilot("run", path, "--dry-run", "--vusers", "2.5")

    assert out.returncode == 2
    assert "vusers must be a whole number >= 1 (or left unset to grow the pool on demand), got 0" in out.stderr
    assert "--vusers must be a whole number >= 1, got '2.5'" in out.stderr
    assert "rps must be > 0, got 0" in out.stderr


def test_dry_run_shows_the_pool_of_virtual_users(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import VUser, scenario, task

@scenario(rps=3500, duration="1s", ramp_up="0")
class Pool(VUser):
    def on_start(self, client):
        pass

    @task
    def home(self, client):
        client.get("/health")
""")

    default = loadpilot("run", path, "--dry-run")
    fixed = loadpilot("run", path, "--dry-run", "--vusers", "7")

    assert default.returncode == 0 and fixed.returncode == 0, default.stderr + fixed.stderr
    assert "vusers" not in json.loads(default.stdout)
    assert ("note: Pool runs in Python mode with 35 virtual users to start (for 3500 rps), grown on demand "
            "up to 1000 when every user is busy") in default.stderr
    assert json.loads(fixed.stdout)["vusers"] == 7
    assert "note: Pool runs in Python mode with 7 virtual users (vusers)" in fixed.stderr


def test_vusers_in_a_static_scenario_is_said_to_have_no_effect(loadpilot, write_scenario):
    path = write_scenario(STATIC)

    out = loadpilot("run", path, "--dry-run", "--vusers", "3")

    assert out.returncode == 0, out.stderr
    assert "note: vusers (3) has no effect: Static runs in static mode" in out.stderr


def test_head_and_options_are_recorded_and_sent_in_static_mode(loadpilot, target, write_scenario, tmp_path):
    # Needs the engine side of HEAD (validation accepts HEAD and OPTIONS; no body awaited).
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class Peek:
    @task
    def peek(self, client):
        client.head("/api/products")
        client.options("/status/204", headers={"Origin": "https://shop.example"})
""")
    results = tmp_path / "r.json"

    plan = dry_run_plan(loadpilot, path)
    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    assert [(r["method"], r["url"]) for r in plan["tasks"][0]["requests"]] == [
        ("HEAD", "/api/products"), ("OPTIONS", "/status/204")]
    assert out.returncode == 0, out.stdout + out.stderr
    by_method = target.stats()["by_method"]
    assert by_method["HEAD"] == by_method["OPTIONS"] == 10
    assert json.loads(results.read_text())["errors_total"] == 0


def test_dry_run_prints_the_plan_and_sends_nothing(loadpilot, target, write_scenario):
    path = write_scenario(STATIC)

    out = loadpilot("run", path, "--dry-run", "--target", target.url, "--threshold", "p99_ms=250")

    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["name"] == "Static" and plan["target_url"] == target.url
    assert plan["rps"] == 40 and plan["duration_secs"] == 2 and plan["mode"] == "constant"
    assert plan["thresholds"] == {"error_rate": 1.0, "p99_ms": 250}
    assert [(t["name"], t["weight"], t["url"]) for t in plan["tasks"]] == [
        ("products", 3, "/api/products"), ("product", 1, "/api/products/1")]
    assert target.stats()["total"] == 0


def test_dry_run_of_a_scenario_with_on_start_sends_nothing(loadpilot, target):
    out = loadpilot("run", REPO / "examples" / "projects.py", "--dry-run", "--target", target.url)

    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["tasks"][0]["url"] == "/api/v1/projects/{id}"
    assert target.stats()["total"] == 0


def test_multi_call_task_is_recorded_in_order(loadpilot, write_scenario):
    path = write_scenario("""
from loadpilot import scenario, task

@scenario()
class Chain:
    @task
    def buy(self, client):
        client.get("/api/products", params={"page": 1})
        client.post("/api/cart", json={"items": [1]})
        client.delete("/api/cart/1", headers={"X-Why": "cleanup"})
""")

    plan = dry_run_plan(loadpilot, path)

    task = plan["tasks"][0]
    assert [(r["method"], r["url"]) for r in task["requests"]] == [
        ("GET", "/api/products?page=1"), ("POST", "/api/cart"), ("DELETE", "/api/cart/1")]
    assert task["requests"][1]["body"] == '{"items": [1]}'
    assert task["requests"][1]["headers"] == [["Content-Type", "application/json"]]
    assert task["requests"][2]["headers"] == [["X-Why", "cleanup"]]
    assert (task["method"], task["url"]) == ("GET", "/api/products?page=1")


def test_helper_module_next_to_the_scenario_imports(loadpilot, write_scenario):
    write_scenario("BASE = '/api/v1'\n\ndef project(pid):\n    return f'{BASE}/projects/{pid}'\n", "paths.py")
    path = write_scenario("""
from loadpilot import scenario, task
from paths import project

@scenario()
class UsesHelper:
    @task
    def read(self, client):
        client.get(project(3))
""", "uses_helper.py")

    plan = dry_run_plan(loadpilot, path)

    assert plan["tasks"][0]["url"] == "/api/v1/projects/3"


@pytest.mark.parametrize("example", ["quickstart.py", "checkout.py", "projects.py"])
def test_examples_dry_run(loadpilot, example):
    plan = dry_run_plan(loadpilot, REPO / "examples" / example)

    assert plan["tasks"]


@pytest.mark.parametrize("args, message", [
    ([], "A subcommand is required"),
    (["run", "x.py", "--bogus"], "--bogus"),
    (["run"], "no scenario file given"),
    (["run", "does_not_exist.py"], "scenario file not found"),
    (["run", "x.py", "--threshold"], "--threshold"),
])
def test_usage_errors_exit_2(loadpilot, args, message):
    out = loadpilot(*args)

    assert out.returncode == 2
    assert message in out.stderr


def test_static_run_sends_the_load_and_passes(loadpilot, target, write_scenario, tmp_path):
    path = write_scenario(STATIC)
    results = tmp_path / "out" / "results.json"

    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    assert "All thresholds passed" in out.stdout
    stats = target.stats()
    assert 60 <= stats["total"] <= 100  # 40 rps for 2 s
    assert stats["by_path"]["/api/products"] > stats["by_path"]["/api/products/1"]
    assert json.loads(results.read_text())["requests_total"] == stats["total"]


def test_breached_threshold_exits_1(loadpilot, target, write_scenario):
    path = write_scenario(STATIC.replace('duration="2s"', 'duration="1s"'))

    out = loadpilot("run", path, "--target", target.url, "--threshold", "max_ms=0")

    assert out.returncode == 1, out.stdout + out.stderr
    assert "thresholds failed" in out.stdout


def test_on_start_runs_for_real_and_on_stop_cleans_up(loadpilot, target, tmp_path):
    source = (REPO / "examples" / "projects.py").read_text()
    path = tmp_path / "projects.py"
    path.write_text(source.replace('duration="2m", ramp_up="20s"', 'duration="2s", ramp_up="0"'))

    out = loadpilot("run", path, "--target", target.url)

    assert out.returncode == 0, out.stdout + out.stderr
    stats = target.stats()
    logins = stats["by_path"]["/auth/login"]
    assert logins >= 1                                     # one per virtual user
    assert stats["by_method"]["POST"] == logins + 1        # the shared project was created once
    assert stats["by_method"]["DELETE"] == 1               # the last on_stop deleted it
    assert len(stats["by_authorization"]) == logins        # every user sent its own token
    token = target.call("POST", "/auth/login", {})["access_token"]
    assert target.call("GET", "/api/v1/projects", token=token) == []


def test_each_virtual_user_logs_in_once_and_sends_its_own_token(loadpilot, target, write_scenario, tmp_path):
    # 100 ms per call at 40 iterations/s needs about four users at once.
    path = write_scenario("""
from loadpilot import VUser, scenario, task

@scenario(rps=40, duration="2s", ramp_up="0", mode="constant")
class Shopper(VUser):
    def on_start(self, client):
        self.token = client.post("/auth/login", json={"user": "u"}).json()["access_token"]

    @task
    def slow(self, client):
        client.get("/delay/100", headers={"Authorization": f"Bearer {self.token}"})
""")
    results = tmp_path / "results.json"

    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    assert out.returncode == 0, out.stdout + out.stderr
    stats, doc = target.stats(), json.loads(results.read_text())
    logins = stats["by_path"]["/auth/login"]
    tokens = {k: v for k, v in stats["by_authorization"].items()}
    assert logins >= 3
    assert 3 <= len(tokens) <= logins                      # users' own tokens (a reserve user may get no work)
    assert sum(tokens.values()) == stats["by_route"]["/delay/{ms}"] == doc["requests_total"] == 80
    assert doc["setup"]["requests"] == logins              # setup calls reported apart
    assert doc["mode"] == "python"


def test_on_start_failure_shows_the_traceback(loadpilot, target, write_scenario):
    path = write_scenario("""
from loadpilot import VUser, scenario, task

@scenario(duration="1s", ramp_up="0")
class Fails(VUser):
    def on_start(self, client):
        client.get("/status/500").raise_for_status()

    @task
    def home(self, client):
        client.get("/health")
""")

    out = loadpilot("run", path, "--target", target.url)

    assert out.returncode == 2
    assert target.stats()["by_path"].get("/health", 0) == 0  # no load after a failed on_start
    assert "on_start failed against" in out.stderr
    assert "HTTPError: 500 Server Error for url: /status/500" in out.stderr
    assert f'File "{path}", line 7, in on_start' in out.stderr


def test_threshold_flags_do_not_swallow_the_scenario_file(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=1, duration="1s", ramp_up="0")
class Named:
    @task
    def home(self, client):
        client.get("/health")
""")

    out = loadpilot("run", "--threshold", "p99_ms=5", "--threshold", "error_rate=1", path, "--dry-run")

    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["name"] == "Named"
    assert plan["thresholds"] == {"p99_ms": 5.0, "error_rate": 1.0}


def test_a_low_rate_run_lasts_its_whole_duration(loadpilot, target, write_scenario, tmp_path):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=0.5, duration="4s", ramp_up="0", mode="constant")
class Slow:
    @task
    def home(self, client):
        client.get("/health")
""")
    results = tmp_path / "r.json"

    loadpilot("run", path, "--target", target.url, "--results-json", results)

    doc = json.loads(results.read_text())
    assert doc["requests_total"] == 2                  # at 0 s and 2 s
    assert doc["duration_secs"] >= 3.9                 # not cut short after the last request


def test_a_task_that_sends_a_value_from_an_earlier_response_runs_for_real(loadpilot, target, write_scenario,
                                                                          tmp_path):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(rps=10, duration="1s", ramp_up="0", mode="constant")
class Chain:
    @task
    def login_then_list(self, client):
        token = client.post("/auth/login", json={}).json()["access_token"]
        client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
""")
    results = tmp_path / "r.json"

    out = loadpilot("run", path, "--target", target.url, "--results-json", results)

    doc = json.loads(results.read_text())
    assert "sends {access_token}, a value read from an earlier response" in out.stderr
    assert doc["mode"] == "python" and doc["errors_total"] == 0
    tokens = target.stats()["by_authorization"]
    assert len(tokens) == 10 and "Bearer {access_token}" not in tokens  # real values, never the placeholder


def test_thresholds_that_are_not_a_dict_are_named(loadpilot, write_scenario):
    path = write_scenario("""from loadpilot import scenario, task

@scenario(thresholds=[1])
class T:
    @task
    def a(self, client):
        client.get("/")
""")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2
    assert 'thresholds must be a dict such as {"p99_ms": 500}, got [1]' in out.stderr
    assert "Traceback" not in out.stderr


def test_numbers_no_double_holds_are_validation_problems_not_a_crash(loadpilot, write_scenario):
    # Found by UBSan/pybind11: 10**400 made the cast throw and the CLI abort.
    path = write_scenario("""
from loadpilot import scenario, task

@scenario(rps=10**400, duration=1e400, steps=10**30, thresholds={"p99_ms": 10**400})
class Huge:
    @task
    def t(self, client):
        client.get("/x")
""")

    out = loadpilot("run", path, "--dry-run")

    assert out.returncode == 2, out.stderr
    assert "rps is too large, got 1000000000000000000000000000000000000000… (401 characters)" in out.stderr
    assert "threshold p99_ms is too large" in out.stderr
    assert "steps must be a whole number >= 1, got 1000000000000000000000000000000" in out.stderr
    assert "duration must be a finite number of seconds, got inf" in out.stderr
    assert "Traceback" not in out.stderr and "bug in LoadPilot" not in out.stderr
