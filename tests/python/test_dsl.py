"""The DSL package itself: decorators, defaults, responses."""

import pytest

import loadpilot
from loadpilot import HTTPError, LoadClient, Response, ScenarioSettings, VUser, scenario, task, task_weight


def test_scenario_defaults_match_the_spec():
    @scenario()
    class Plain:
        pass

    settings = ScenarioSettings.of(Plain)

    assert (settings.rps, settings.duration, settings.ramp_up, settings.mode, settings.steps,
            settings.thresholds, settings.vusers) == (10, "1m", "10s", "ramp", 5, {}, None)


def test_scenario_keeps_its_settings_as_written():
    @scenario(rps=0.5, duration="2m30s", ramp_up="500ms", mode="step", steps=4,
              thresholds={"p99_ms": 500, "error_rate": 1.0}, vusers=12)
    class Stepped(VUser):
        pass

    settings = ScenarioSettings.of(Stepped)

    assert settings.rps == 0.5
    assert settings.duration == "2m30s" and settings.ramp_up == "500ms"
    assert settings.mode == "step" and settings.steps == 4
    assert settings.thresholds == {"p99_ms": 500, "error_rate": 1.0}
    assert settings.vusers == 12


def test_scenario_registers_the_class_and_returns_it_unchanged():
    class Flow:
        pass

    decorated = scenario(rps=3)(Flow)

    assert decorated is Flow
    assert Flow in loadpilot.registered_scenarios()


def test_settings_are_not_inherited_as_a_scenario_of_their_own():
    @scenario(rps=7)
    class Base:
        pass

    class Child(Base):
        pass

    assert ScenarioSettings.of(Base).rps == 7
    assert ScenarioSettings.of(Child) is None


def test_scenario_without_parentheses_says_how_to_use_it():
    with pytest.raises(TypeError, match=r"@scenario\(\.\.\.\)"):
        @scenario
        class Oops:
            pass


@pytest.mark.parametrize("decorate, weight", [
    (task, 1),
    (task(), 1),
    (task(weight=5), 5),
    (task(weight=0.5), 0.5),
])
def test_task_forms_set_a_weight(decorate, weight):
    def browse(self, client):
        client.get("/")

    marked = decorate(browse)

    assert marked is browse
    assert task_weight(marked) == weight


def test_task_works_on_async_functions():
    @task(weight=2)
    async def fetch(self, client):
        await client.get("/x")

    assert task_weight(fetch) == 2


def test_plain_method_is_not_a_task():
    def helper(self):
        pass

    assert task_weight(helper) is None


def test_task_with_a_positional_weight_says_to_use_the_keyword():
    with pytest.raises(TypeError, match="weight=5"):
        task(5)


def test_vuser_hooks_do_nothing_by_default():
    user = VUser()

    assert user.on_start(None) is None
    assert user.on_stop(None) is None


def test_response_basics():
    resp = Response(201, '{"id": 7}', {"Content-Type": "application/json"}, 1.5, "/api/v1/projects")

    assert resp.ok
    assert resp.json() == {"id": 7}
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.elapsed_ms == 1.5
    resp.raise_for_status()


@pytest.mark.parametrize("status, kind", [(404, "Client Error"), (503, "Server Error")])
def test_raise_for_status_names_status_and_url(status, kind):
    resp = Response(status, "", url="/api/products/99")

    with pytest.raises(HTTPError) as raised:
        resp.raise_for_status()

    assert str(raised.value) == f"{status} {kind} for url: /api/products/99"
    assert raised.value.status_code == status and raised.value.url == "/api/products/99"


def test_response_is_not_ok_without_an_answer_or_from_400():
    assert not Response(0).ok
    assert not Response(400).ok
    assert Response(399).ok


def test_response_is_awaitable_and_awaiting_returns_it():
    resp = Response(200, "{}")

    async def use():
        return await resp

    coro = use()
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    assert done.value.value is resp


def test_load_client_is_an_interface():
    with pytest.raises(NotImplementedError):
        LoadClient().get("/")


def test_verbs_and_batch_go_through_request():
    class Spy(LoadClient):
        def __init__(self):
            self.seen = []

        def request(self, method, path, headers=None, json=None, data=None, params=None, timeout=None):
            self.seen.append((method, path, headers, json, data, params))
            return Response(200, "", url=path)

    spy = Spy()
    spy.get("/a", params={"q": 1})
    spy.post("/b", json={"x": 1})
    spy.put("/c", data="raw")
    spy.patch("/d", headers={"H": "v"})
    spy.delete("/e")
    spy.head("/h", params={"q": 2})
    spy.options("/o", headers={"Origin": "x"})
    responses = spy.batch([{"path": "/f"}, {"method": "POST", "path": "/g", "json": [1]}])

    assert [s[:2] for s in spy.seen] == [("GET", "/a"), ("POST", "/b"), ("PUT", "/c"), ("PATCH", "/d"),
                                         ("DELETE", "/e"), ("HEAD", "/h"), ("OPTIONS", "/o"), ("GET", "/f"),
                                         ("POST", "/g")]
    assert spy.seen[5][5] == {"q": 2} and spy.seen[6][2] == {"Origin": "x"}
    assert spy.seen[0][5] == {"q": 1} and spy.seen[1][3] == {"x": 1} and spy.seen[2][4] == "raw"
    assert [r.url for r in responses] == ["/f", "/g"]


def test_every_public_name_has_a_docstring_with_an_example():
    for name in loadpilot.__all__:
        value = getattr(loadpilot, name)
        if isinstance(value, tuple):
            continue
        assert value.__doc__ and "Example::" in value.__doc__, name


def test_package_ships_type_information():
    import pathlib

    assert (pathlib.Path(loadpilot.__file__).parent / "py.typed").is_file()
