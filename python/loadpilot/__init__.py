"""LoadPilot scenario DSL: write a load test as a plain Python class.

The ``loadpilot`` binary ships this very file inside itself, so scenario files import it
without installing anything; this copy is for editors, type checkers and pytest.

Example::

    from loadpilot import VUser, scenario, task, LoadClient

    @scenario(rps=50, duration="2m", ramp_up="30s", thresholds={"p99_ms": 500})
    class Browse(VUser):
        @task(weight=3)
        def list_products(self, client: LoadClient) -> None:
            client.get("/api/products")

        @task
        def view_product(self, client: LoadClient) -> None:
            client.get("/api/products/1")

Run it with ``loadpilot run browse.py --target http://localhost:8000``.
"""

from __future__ import annotations

import json as _json
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, TypeVar, Union, overload

__all__ = [
    "VUser",
    "scenario",
    "task",
    "LoadClient",
    "Response",
    "HTTPError",
    "ScenarioSettings",
    "MODES",
    "THRESHOLD_KEYS",
    "registered_scenarios",
    "task_weight",
]

__version__ = "0.1.0"

#: Load profiles ``@scenario(mode=...)`` accepts.
MODES = ("ramp", "constant", "step", "spike")

#: Keys ``@scenario(thresholds=...)`` accepts: latency limits in milliseconds and the
#: error and dropped rates in percent (0..100).
THRESHOLD_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "error_rate", "dropped_rate")

# Attribute names the decorators leave on classes and functions. Private: read them
# through `ScenarioSettings.of()` and `task_weight()`.
_SCENARIO_ATTR = "__loadpilot_scenario__"
_TASK_ATTR = "__loadpilot_task_weight__"

_C = TypeVar("_C", bound=type)
_F = TypeVar("_F", bound=Callable[..., Any])

Headers = Mapping[str, str]


class HTTPError(Exception):
    """Raised by :meth:`Response.raise_for_status` for a status of 400 or more, or when
    the request got no response at all (status 0: refused, reset, timed out).

    Example::

        try:
            client.get("/api/missing").raise_for_status()
        except HTTPError as e:
            print(e.status_code, e.url)   # 404 /api/missing
    """

    def __init__(self, status_code: int, url: str, reason: str = "") -> None:
        if status_code == 0:
            super().__init__(f"no response for url: {url}" + (f" ({reason})" if reason else ""))
            self.status_code = status_code
            self.url = url
            return
        kind = "Client Error" if status_code < 500 else "Server Error"
        text = f"{status_code} {kind}"
        if reason:
            text += f": {reason}"
        super().__init__(f"{text} for url: {url}")
        self.status_code = status_code
        self.url = url


class Response:
    """One HTTP response as a task sees it.

    Responses are also awaitable (awaiting one returns it), so ``async def`` tasks can
    write ``resp = await client.get(...)``.

    Example::

        resp = client.get("/api/products", params={"page": 2})
        if resp.ok:
            first = resp.json()[0]
        print(resp.status_code, resp.elapsed_ms, resp.headers.get("content-type"))
    """

    def __init__(
        self,
        status_code: int = 200,
        text: str = "",
        headers: Optional[Dict[str, str]] = None,
        elapsed_ms: float = 0.0,
        url: str = "",
    ) -> None:
        #: HTTP status code; 0 when the request never got an answer (transport failure).
        self.status_code = status_code
        #: Body decoded as text (UTF-8, invalid bytes replaced).
        self.text = text
        #: Response headers; names as the server sent them.
        self.headers: Dict[str, str] = dict(headers or {})
        #: Time from sending the request to the last byte of the response, in ms.
        self.elapsed_ms = elapsed_ms
        #: The path or URL that was requested.
        self.url = url

    @property
    def ok(self) -> bool:
        """True when the status is in 1xx..3xx.

        Example::

            assert client.get("/health").ok
        """
        return 0 < self.status_code < 400

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON).

        Example::

            token = client.post("/auth/login", json=creds).json()["access_token"]
        """
        return _json.loads(self.text)

    def raise_for_status(self) -> None:
        """Raises :class:`HTTPError` naming the status and URL when the status is >= 400.

        Example::

            client.post("/api/cart", json={"id": 1}).raise_for_status()
        """
        if self.status_code >= 400 or self.status_code == 0:
            raise HTTPError(self.status_code, self.url, getattr(self, "error", None) or "")

    def __await__(self) -> Iterator[Any]:
        # A completed response: awaiting it returns it without suspending.
        return self
        yield  # pragma: no cover  (makes this a generator)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class LoadClient:
    """The HTTP client a task receives. Paths are relative to ``--target``.

    This class is the interface; LoadPilot passes an implementation (one that records
    calls while it builds the plan, and one that sends them). Every call inside a task
    is measured on its own; calls in ``on_start``/``on_stop`` are setup and reported apart.

    Example::

        @task
        def add_to_cart(self, client: LoadClient) -> None:
            client.post("/api/cart", json={"product_id": 1, "quantity": 2},
                        headers={"Authorization": f"Bearer {self.token}"})
    """

    def request(
        self,
        method: str,
        path: str,
        headers: Optional[Headers] = None,
        json: Any = None,
        data: Union[str, bytes, Mapping[str, Any], None] = None,
        params: Union[Mapping[str, Any], List[Any], None] = None,
        timeout: Optional[float] = None,
    ) -> Response:
        """Sends one request; the verbs below call this.

        ``json=`` is serialised with ``json.dumps`` and sets ``Content-Type:
        application/json``; ``data=`` is sent as-is (a dict is form-encoded);
        ``params=`` is appended as a query string; ``timeout`` is in seconds.

        Example::

            client.request("GET", "/api/products", params={"q": "shoe"})
        """
        raise NotImplementedError

    def get(self, path: str, headers: Optional[Headers] = None, json: Any = None,
            data: Union[str, bytes, Mapping[str, Any], None] = None,
            params: Union[Mapping[str, Any], List[Any], None] = None,
            timeout: Optional[float] = None) -> Response:
        """GET ``path``.

        Example::

            client.get("/api/products", params={"page": 1})
        """
        return self.request("GET", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def post(self, path: str, headers: Optional[Headers] = None, json: Any = None,
             data: Union[str, bytes, Mapping[str, Any], None] = None,
             params: Union[Mapping[str, Any], List[Any], None] = None,
             timeout: Optional[float] = None) -> Response:
        """POST ``path``.

        Example::

            client.post("/auth/login", json={"username": "demo", "password": "demo"})
        """
        return self.request("POST", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def put(self, path: str, headers: Optional[Headers] = None, json: Any = None,
            data: Union[str, bytes, Mapping[str, Any], None] = None,
            params: Union[Mapping[str, Any], List[Any], None] = None,
            timeout: Optional[float] = None) -> Response:
        """PUT ``path``.

        Example::

            client.put("/api/v1/projects/7", json={"name": "renamed"})
        """
        return self.request("PUT", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def patch(self, path: str, headers: Optional[Headers] = None, json: Any = None,
              data: Union[str, bytes, Mapping[str, Any], None] = None,
              params: Union[Mapping[str, Any], List[Any], None] = None,
              timeout: Optional[float] = None) -> Response:
        """PATCH ``path``.

        Example::

            client.patch("/api/v1/projects/7", json={"archived": True})
        """
        return self.request("PATCH", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def delete(self, path: str, headers: Optional[Headers] = None, json: Any = None,
               data: Union[str, bytes, Mapping[str, Any], None] = None,
               params: Union[Mapping[str, Any], List[Any], None] = None,
               timeout: Optional[float] = None) -> Response:
        """DELETE ``path``.

        Example::

            client.delete("/api/v1/projects/7", headers=self._auth())
        """
        return self.request("DELETE", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def head(self, path: str, headers: Optional[Headers] = None,
             params: Union[Mapping[str, Any], List[Any], None] = None,
             timeout: Optional[float] = None) -> Response:
        """HEAD ``path``: the status and headers of a GET, without the body.

        Example::

            assert client.head("/api/products").status_code == 200
        """
        return self.request("HEAD", path, headers=headers, params=params, timeout=timeout)

    def options(self, path: str, headers: Optional[Headers] = None, json: Any = None,
                data: Union[str, bytes, Mapping[str, Any], None] = None,
                params: Union[Mapping[str, Any], List[Any], None] = None,
                timeout: Optional[float] = None) -> Response:
        """OPTIONS ``path`` (a CORS preflight, or what a resource allows).

        Example::

            client.options("/api/products", headers={"Origin": "https://shop.example",
                                                     "Access-Control-Request-Method": "POST"})
        """
        return self.request("OPTIONS", path, headers=headers, json=json, data=data, params=params, timeout=timeout)

    def batch(self, requests: List[Mapping[str, Any]]) -> List[Response]:
        """Sends several requests concurrently; returns the responses in the same order.

        Each item has ``method`` (default GET) and ``path``, and optionally ``headers``,
        ``json``, ``data``, ``params``.

        Example::

            home, cart = client.batch([
                {"method": "GET", "path": "/api/products"},
                {"method": "GET", "path": "/api/cart", "headers": auth},
            ])
        """
        return _ResponseList(
            self.request(
                str(item.get("method", "GET")),
                item["path"],
                headers=item.get("headers"),
                json=item.get("json"),
                data=item.get("data"),
                params=item.get("params"),
                timeout=item.get("timeout"),
            )
            for item in requests
        )


class _ResponseList(list):  # type: ignore[type-arg]
    """The list :meth:`LoadClient.batch` returns; awaitable like a single Response."""

    def __await__(self) -> Iterator[Any]:
        return self
        yield  # pragma: no cover


class VUser:
    """Optional base class for scenarios: one instance per virtual user.

    ``on_start`` runs once per virtual user before its tasks (log in, create fixtures),
    ``on_stop`` once after the test (clean up). Both do nothing by default, so
    subclasses may call ``super().on_start(client)`` freely.

    Example::

        class Authenticated(VUser):
            def on_start(self, client: LoadClient) -> None:
                resp = client.post("/auth/login", json={"username": "demo", "password": "demo"})
                self.token = resp.json()["access_token"]
    """

    def on_start(self, client: LoadClient) -> None:
        """Runs once per virtual user before its first task.

        Example::

            def on_start(self, client):
                self.token = client.post("/auth/login", json=CREDS).json()["access_token"]
        """

    def on_stop(self, client: LoadClient) -> None:
        """Runs once per virtual user after the test, also when it was stopped early.

        Example::

            def on_stop(self, client):
                client.delete(f"/api/v1/projects/{self.project_id}")
        """


class ScenarioSettings:
    """What ``@scenario(...)`` stored on a class, exactly as written (durations stay
    strings; the binary parses and validates them and reports every problem at once).

    Example::

        settings = ScenarioSettings.of(CheckoutFlow)
        assert settings.rps == 100 and settings.duration == "2m"
    """

    def __init__(self, rps: float = 10, duration: Union[str, float] = "1m",
                 ramp_up: Union[str, float] = "10s", mode: str = "ramp", steps: int = 5,
                 thresholds: Optional[Mapping[str, float]] = None, vusers: Optional[int] = None) -> None:
        self.rps = rps
        self.duration = duration
        self.ramp_up = ramp_up
        self.mode = mode
        self.steps = steps
        # Anything but a mapping is kept as given: validation then names it
        # ("thresholds must be a dict ..., got [1]") instead of a TypeError here.
        self.thresholds: Dict[str, float] = (dict(thresholds) if isinstance(thresholds, Mapping)
                                             else {} if thresholds is None else thresholds)  # type: ignore
        #: Virtual users in Python mode; None: chosen from the rate and grown on demand.
        self.vusers = vusers

    @staticmethod
    def of(cls: type) -> Optional["ScenarioSettings"]:
        """The settings of a class decorated with ``@scenario`` itself (not inherited),
        or None.

        Example::

            assert ScenarioSettings.of(object) is None
        """
        value = cls.__dict__.get(_SCENARIO_ATTR)
        return value if isinstance(value, ScenarioSettings) else None

    def __repr__(self) -> str:
        return (f"ScenarioSettings(rps={self.rps!r}, duration={self.duration!r}, "
                f"ramp_up={self.ramp_up!r}, mode={self.mode!r}, steps={self.steps!r}, "
                f"thresholds={self.thresholds!r}, vusers={self.vusers!r})")


_registry: List[type] = []


def scenario(rps: float = 10, duration: Union[str, float] = "1m", ramp_up: Union[str, float] = "10s",
             mode: str = "ramp", steps: int = 5,
             thresholds: Optional[Mapping[str, float]] = None,
             vusers: Optional[int] = None) -> Callable[[_C], _C]:
    """Marks a class as a scenario and stores its load settings on it.

    ``rps`` is iterations per second at full rate (fractions allowed); durations are
    strings such as ``"90"``, ``"500ms"``, ``"30s"``, ``"2m"``, ``"1h"``, ``"2m30s"``
    (or a number of seconds). ``mode`` is one of ``ramp`` (0 → rps over ``ramp_up``,
    then ``duration`` steady), ``constant``, ``step`` (``steps`` equal windows) and
    ``spike``. ``thresholds`` keys: ``p50_ms p95_ms p99_ms max_ms error_rate dropped_rate``.

    ``vusers`` (Python mode: a scenario with ``on_start``, checks, ...) is how many
    virtual users share the load, each with its own instance and its own ``on_start``.
    Unset, the pool starts at ``min(max(5, ceil(rps / 100)), 100)`` users and grows
    whenever every user is busy waiting for the target; set, it is exactly that many
    (a whole number >= 1).

    Example::

        @scenario(rps=100, duration="2m", ramp_up="30s",
                  thresholds={"p99_ms": 500, "error_rate": 1.0})
        class CheckoutFlow(VUser):
            @task
            def browse(self, client):
                client.get("/api/products")
    """
    if isinstance(rps, type):
        raise TypeError("use @scenario(...) with parentheses, e.g. @scenario(rps=10)")

    def decorate(cls: _C) -> _C:
        setattr(cls, _SCENARIO_ATTR,
                ScenarioSettings(rps, duration, ramp_up, mode, steps, thresholds, vusers))
        _registry.append(cls)
        return cls

    return decorate


def registered_scenarios() -> List[type]:
    """Every class decorated with ``@scenario`` so far, in decoration order.

    Example::

        names = [cls.__name__ for cls in registered_scenarios()]
    """
    return list(_registry)


@overload
def task(func: _F) -> _F: ...
@overload
def task(func: None = None, *, weight: float = 1) -> Callable[[_F], _F]: ...


def task(func: Optional[_F] = None, *, weight: float = 1) -> Any:
    """Marks a method as a task: ``@task``, ``@task()`` or ``@task(weight=N)``.

    A task takes ``(self, client)`` and may be ``async def``. Tasks are picked at random
    in proportion to their weight (> 0; default 1). ``check_<task>(self, status_code,
    body)``, when defined, judges the task's last response.

    Example::

        @task(weight=5)
        def browse(self, client):
            client.get("/api/products")

        @task
        async def view(self, client):
            await client.get("/api/products/1")
    """

    def mark(f: _F) -> _F:
        setattr(f, _TASK_ATTR, weight)
        return f

    if func is None:
        return mark
    if not callable(func):
        raise TypeError(f"use @task(weight={func!r}) with the keyword, not @task({func!r})")
    return mark(func)


def task_weight(func: Any) -> Optional[float]:
    """The weight ``@task`` gave ``func``, or None when it is not a task.

    Example::

        assert task_weight(CheckoutFlow.browse) == 5
    """
    return getattr(func, _TASK_ATTR, None)
