"""Task capture, the Python half of plan building (loadpilot._capture)."""

import textwrap

from loadpilot import VUser, scenario, task
from loadpilot import _capture as capture


def calls_of(cls):
    return {t["name"]: t["calls"] for t in capture.capture(cls)["tasks"]}


def test_render_appends_params_to_the_query_string():
    call = capture.render("get", "/api/products?sort=name", params={"page": 2, "tag": ["a", "b"]})

    assert call["method"] == "GET"
    assert call["url"] == "/api/products?sort=name&page=2&tag=a&tag=b"


def test_render_json_serialises_and_sets_the_content_type():
    call = capture.render("POST", "/api/cart", headers={"X-Trace": "1"}, json={"id": 1, "qty": 2})

    assert call["body"] == b'{"id": 1, "qty": 2}'
    assert call["headers"] == [["X-Trace", "1"], ["Content-Type", "application/json"]]


def test_render_keeps_a_content_type_the_user_set():
    call = capture.render("POST", "/x", headers={"content-type": "application/vnd.api+json"}, json={})

    assert call["headers"] == [["content-type", "application/vnd.api+json"]]


def test_render_data_as_str_bytes_and_form():
    assert capture.render("POST", "/x", data="a=1")["body"] == b"a=1"
    assert capture.render("POST", "/x", data=b"\x00\xff")["body"] == b"\x00\xff"
    form = capture.render("POST", "/x", data={"user": "demo", "pass": "s p"})
    assert form["body"] == b"user=demo&pass=s+p"
    assert form["headers"] == [["Content-Type", "application/x-www-form-urlencoded"]]


def test_every_call_of_a_task_is_recorded_in_order():
    @scenario()
    class Flow:
        @task
        def checkout(self, client):
            client.get("/api/products")
            client.post("/api/cart", json={"id": 1})
            client.delete("/api/cart/1")

    calls = calls_of(Flow)["checkout"]

    assert [(c["method"], c["url"]) for c in calls] == [
        ("GET", "/api/products"), ("POST", "/api/cart"), ("DELETE", "/api/cart/1")]


def test_async_tasks_and_batch_are_captured_without_an_event_loop():
    @scenario()
    class Flow:
        @task
        async def fetch(self, client):
            resp = await client.get("/a")
            assert resp.status_code == 200
            await client.batch([{"path": "/b"}, {"method": "put", "path": "/c", "data": "x"}])

    calls = calls_of(Flow)["fetch"]

    assert [(c["method"], c["url"]) for c in calls] == [("GET", "/a"), ("GET", "/b"), ("PUT", "/c")]


def test_on_start_state_shows_as_placeholders_and_its_calls_are_not_tasks():
    @scenario()
    class Flow(VUser):
        def on_start(self, client):
            self.token = client.post("/auth/login", json={}).json()["access_token"]
            self.project = client.post("/api/v1/projects", json={}).json()["id"]

        @task
        def read(self, client):
            client.get(f"/api/v1/projects/{self.project}",
                       headers={"Authorization": f"Bearer {self.token}"})

    calls = calls_of(Flow)

    assert list(calls) == ["read"]
    assert calls["read"][0]["url"] == "/api/v1/projects/{id}"
    assert calls["read"][0]["headers"] == [["Authorization", "Bearer {access_token}"]]


def test_problems_name_the_task():
    @scenario()
    class Flow:
        @task
        def idle(self, client):
            pass

        @task
        def broken(self, client):
            raise ValueError("no")

    problems = capture.capture(Flow)["problems"]

    assert problems[0] == "task 'idle' makes no HTTP call"
    assert problems[1].startswith("task 'broken' raised ValueError: no (test_capture.py, line ")


def test_tasks_are_found_through_inheritance_base_first():
    class Base:
        @task(weight=2)
        def a(self, client):
            client.get("/a")

    @scenario()
    class Child(Base):
        @task
        def b(self, client):
            client.get("/b")

    assert capture.find_tasks(Child) == [("a", 2), ("b", 1)]


def test_describe_reports_hooks_checks_and_async():
    @scenario(rps=3)
    class Flow(VUser):
        def on_start(self, client):
            pass

        @task
        async def t(self, client):
            await client.get("/")

        def check_t(self, status_code, body):
            assert status_code == 200

    info = capture.describe(Flow)

    assert info["rps"] == 3 and info["tasks"] == ["t"]
    assert info["has_on_start"] and not info["has_on_stop"]
    assert info["has_checks"] and info["has_async"]


def test_plain_vuser_has_no_hooks():
    @scenario()
    class Flow(VUser):
        @task
        def t(self, client):
            client.get("/")

    info = capture.describe(Flow)

    assert not info["has_on_start"] and not info["has_on_stop"]


def test_load_file_imports_helpers_beside_it_and_finds_scenarios(tmp_path):
    (tmp_path / "shared_paths.py").write_text("HOME = '/home'\n")
    (tmp_path / "flows.py").write_text(textwrap.dedent("""
        from loadpilot import scenario, task
        from shared_paths import HOME

        @scenario()
        class First:
            @task
            def home(self, client):
                client.get(HOME)

        @scenario()
        class Second(First):
            pass
    """))

    module, error = capture.load_file(str(tmp_path / "flows.py"))

    assert error == ""
    assert module.__name__ == "flows"
    assert [c.__name__ for c in capture.find_scenarios(module)] == ["First", "Second"]


def test_load_file_returns_the_traceback_with_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("x = 1\ny = undefined_name\n")

    module, error = capture.load_file(str(path))

    assert module is None
    assert f'File "{path}", line 2' in error
    assert error.endswith("NameError: name 'undefined_name' is not defined")
    assert "_capture.py" not in error


def test_a_task_whose_calls_differ_between_two_runs_needs_python_mode(capsys):
    import itertools

    ids = itertools.count(1)

    @scenario()
    class Flow:
        @task
        def same(self, client):
            client.get("/api/products")

        @task
        def counted(self, client):
            client.get(f"/api/products/{next(ids)}")

    calls = calls_of(Flow)

    assert capture.NEEDS_PYTHON_MODE is True
    assert calls["counted"][0]["url"] == "/api/products/1"  # the plan keeps the first run
    note = capsys.readouterr().err
    assert "task 'counted' made different calls on two capture runs (url '/api/products/1', then " \
           "'/api/products/2')" in note
    assert "'same'" not in note


def test_a_task_that_repeats_its_calls_keeps_the_static_plan(capsys):
    @scenario()
    class Flow:
        @task
        def same(self, client):
            client.post("/api/cart", json={"id": 1}, headers={"X": "1"})

    calls_of(Flow)

    assert capture.NEEDS_PYTHON_MODE is False
    assert capsys.readouterr().err == ""


def test_the_second_capture_run_names_a_header_or_body_that_changed(capsys):
    import itertools

    ids = itertools.count(1)

    @scenario()
    class Flow:
        @task
        def header(self, client):
            client.get("/a", headers={"X-Request-Id": str(next(ids))})

    calls_of(Flow)

    assert "header X-Request-Id: '1', then X-Request-Id: '2'" in capsys.readouterr().err


def test_a_scenario_that_runs_in_python_mode_anyway_is_captured_once():
    runs = []

    @scenario()
    class Flow(VUser):
        def on_start(self, client):
            pass

        @task
        def counted(self, client):
            runs.append(1)
            client.get(f"/a/{len(runs)}")

    calls_of(Flow)

    assert len(runs) == 1


def test_head_and_options_are_recorded_and_head_gets_no_body():
    seen = []

    @scenario()
    class Flow:
        @task
        def peek(self, client):
            seen.append(client.head("/api/products", params={"q": 1}).text)
            client.options("/api/cart", headers={"Origin": "https://shop.example"})

    calls = calls_of(Flow)["peek"]

    assert [(c["method"], c["url"], c["body"]) for c in calls] == [
        ("HEAD", "/api/products?q=1", b""), ("OPTIONS", "/api/cart", b"")]
    assert calls[1]["headers"] == [["Origin", "https://shop.example"]]
    assert seen[0] == ""


def test_describe_reports_vusers_as_written():
    @scenario(vusers=7)
    class Fixed:
        @task
        def a(self, client):
            client.get("/a")

    @scenario()
    class Grows:
        @task
        def a(self, client):
            client.get("/a")

    assert capture.describe(Fixed)["vusers"] == 7
    assert capture.describe(Grows)["vusers"] is None


def _needs(cls):
    return dict(capture.capture(cls, distributed=True)["needs_python"])


def test_a_distributed_capture_names_each_task_that_needs_python_and_prints_nothing(capsys):
    import uuid

    @scenario()
    class Flow(VUser):
        def on_start(self, client):
            self.token = client.post("/auth/login", json={}).json()["access_token"]

        @task
        def replayable(self, client):
            client.get("/api/products", headers={"Authorization": f"Bearer {self.token}"})

        @task
        def reads_a_response(self, client):
            created = client.post("/api/v1/projects", json={}).json()
            client.get(f"/api/v1/projects/{created['id']}")

        @task
        def batches(self, client):
            client.batch([{"path": "/a"}, {"path": "/b"}])

        @task
        def random_id(self, client):
            client.get(f"/api/products?trace={uuid.uuid4()}")

        @task
        def raises_on_the_answer(self, client):
            assert client.get("/health").json()["status"] == "ok"

    needs = _needs(Flow)

    assert sorted(needs) == ["batches", "raises_on_the_answer", "random_id", "reads_a_response"]
    assert needs["reads_a_response"] == "it sends {id}, a value read from an earlier response"
    assert needs["batches"] == "it calls client.batch, whose calls go out concurrently"
    assert needs["random_id"].startswith("it made different calls on two capture runs (url '/api/products?trace=")
    assert needs["raises_on_the_answer"].startswith("it raised AssertionError")
    assert capsys.readouterr().err == ""  # the binary turns the reasons into errors


def test_a_distributed_capture_stops_an_async_task_at_its_first_real_await():
    import asyncio

    awaited = []

    @scenario()
    class Flow:
        @task
        async def calls_only(self, client):
            await client.get("/a")
            await client.get("/b")

        @task
        async def sleeps(self, client):
            await client.get("/c")
            await asyncio.sleep(30)  # never waited for: the capture stops here
            awaited.append(1)

    captured = capture.capture(Flow, distributed=True)

    assert dict(captured["needs_python"]) == {
        "sleeps": "it awaits something other than a client call (asyncio.sleep, a future, another task)"}
    assert awaited == []
    assert [c["url"] for c in captured["tasks"][0]["calls"]] == ["/a", "/b"]


def test_a_local_capture_of_the_same_tasks_still_notes_python_mode(capsys):
    @scenario()
    class Flow:
        @task
        def reads_a_response(self, client):
            created = client.post("/api/v1/projects", json={}).json()
            client.get(f"/api/v1/projects/{created['id']}")

    captured = capture.capture(Flow)

    assert capture.NEEDS_PYTHON_MODE is True
    assert dict(captured["needs_python"]) == {"reads_a_response": "it sends {id}, a value read from an earlier response"}
    assert "it runs in Python mode" in capsys.readouterr().err


def test_capture_user_records_what_its_on_start_left_and_changes_nothing():
    @scenario()
    class Flow(VUser):
        users = 0
        shared = {"project": 7}

        @task
        def read(self, client):
            self.reads = getattr(self, "reads", 0) + 1  # state a task changes is put back
            Flow.users += 100
            Flow.shared["project"] = None
            client.get(f"/api/v1/projects/{self.project}", headers={"Authorization": f"Bearer {self.token}"})

    user = Flow()
    user.token, user.project = "tok-1", 42  # as a real on_start would have left them
    Flow.users = 1

    captured = capture.capture_user(user, Flow)

    call = captured["calls"]["read"][0]
    assert (call["method"], call["url"]) == ("GET", "/api/v1/projects/42")
    assert call["headers"] == [["Authorization", "Bearer tok-1"]]
    assert captured["problems"] == [] and captured["needs_python"] == []
    assert vars(user) == {"token": "tok-1", "project": 42}
    assert Flow.users == 1 and Flow.shared == {"project": 7}
