"""Plan building, the Python half: load a scenario file, find its @scenario classes,
run each task once against a recording client and hand plain data to the binary.

Internal to LoadPilot (the binary calls it; tests/python checks it). Everything here
returns plain dicts, lists, str, bytes and numbers so the C++ side never needs to
know a Python type.
"""

from __future__ import annotations

import json as _json
import os
import sys
import time
import traceback
import types
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from loadpilot import LoadClient, Response, ScenarioSettings, task_weight


# `inspect` costs about 12 ms to import; these two checks are all we need of it.
_CO_COROUTINE = 0x80


def _is_coroutine(value: Any) -> bool:
    return isinstance(value, types.CoroutineType)


def _is_async_function(func: Any) -> bool:
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)

Call = Dict[str, Any]




def load_file(path: str) -> Tuple[Optional[types.ModuleType], str]:
    """Imports the scenario file at `path` as a real module named after its stem, with
    its folder first on sys.path so helper modules next to it import.

    Returns (module, "") or (None, traceback text naming file and line).
    """
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    module = types.ModuleType(name)
    module.__file__ = path
    module.__loader__ = None
    module.__spec__ = None
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec")
        exec(code, module.__dict__)
    except BaseException as e:  # noqa: BLE001 - any error in user code is reported, not raised
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        return None, format_exception(e)
    return module, ""


def format_exception(e: BaseException, tb: Optional[types.TracebackType] = None) -> str:
    """The traceback of `e` (or `tb`, when the exception was caught outside Python and
    carries none) without LoadPilot's own frames, so it starts in user code."""
    tb = tb or e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb)).rstrip("\n")


def where(e: BaseException) -> str:
    """`file.py, line N` of the innermost frame of `e` in user code, or ""."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename != __file__]
    if not frames:
        return ""
    last = frames[-1]
    return f"{os.path.basename(last.filename)}, line {last.lineno}"


def find_scenarios(module: types.ModuleType) -> List[type]:
    """Classes in `module`'s namespace decorated with @scenario, in definition order."""
    found: List[type] = []
    for value in vars(module).values():
        if isinstance(value, type) and ScenarioSettings.of(value) is not None and value not in found:
            found.append(value)
    return found


def find_tasks(cls: type) -> List[Tuple[str, Any]]:
    """(name, weight) of every @task method of `cls`, inherited ones first."""
    tasks: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            weight = task_weight(attr)
            if weight is not None:
                tasks[name] = weight
            elif name in tasks:
                del tasks[name]  # overridden by something that is not a task
    return list(tasks.items())


def describe(cls: type) -> Dict[str, Any]:
    """What the binary needs to know about a scenario class before building a plan."""
    settings = ScenarioSettings.of(cls)
    assert settings is not None
    tasks = find_tasks(cls)
    return {
        "name": cls.__name__,
        "rps": settings.rps,
        "duration": settings.duration,
        "ramp_up": settings.ramp_up,
        "mode": settings.mode,
        "steps": settings.steps,
        "thresholds": settings.thresholds,
        "vusers": settings.vusers,
        "tasks": [name for name, _ in tasks],
        "has_on_start": _overrides(cls, "on_start"),
        "has_on_stop": _overrides(cls, "on_stop"),
        "has_checks": any(callable(getattr(cls, "check_" + name, None)) for name, _ in tasks),
        "checked": [name for name, _ in tasks if callable(getattr(cls, "check_" + name, None))],
        "has_async": any(_is_async_function(getattr(cls, name)) for name, _ in tasks),
    }


def _overrides(cls: type, name: str) -> bool:
    """True when `cls` defines `name` itself or through a base other than VUser."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__ != "loadpilot"
    return False




def render(method: str, path: str, headers: Optional[Mapping[str, Any]] = None, json: Any = None,
           data: Union[str, bytes, Mapping[str, Any], None] = None,
           params: Union[Mapping[str, Any], List[Any], None] = None) -> Call:
    """One call as the engine sends it: method, URL with query, headers in order, body bytes."""
    url = str(path)
    if params:
        query = urllib.parse.urlencode(params, doseq=True)
        if query:
            url += ("&" if "?" in url else "?") + query
    pairs: List[List[str]] = []
    if headers:
        items = headers.items() if isinstance(headers, Mapping) else headers
        pairs = [[str(k), str(v)] for k, v in items]
    body = b""
    content_type = None
    if json is not None:
        body = _json.dumps(json).encode("utf-8")
        content_type = "application/json"
    elif data is not None:
        if isinstance(data, bytes):
            body = data
        elif isinstance(data, str):
            body = data.encode("utf-8")
        else:
            body = urllib.parse.urlencode(data, doseq=True).encode("utf-8")
            content_type = "application/x-www-form-urlencoded"
    if content_type and not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(["Content-Type", content_type])
    return {"method": str(method).upper(), "url": url, "headers": pairs, "body": body}




class Placeholder(str):
    """Stands in for a value a response would have held while a plan is captured:
    `resp.json()["access_token"]` reads back as "{access_token}", so a header or URL
    built from it shows where the real value goes."""

    def __new__(cls, path: str) -> "Placeholder":
        self = super().__new__(cls, "{" + path + "}")
        self._path = path
        _ISSUED.add(str(self))
        return self

    def __getitem__(self, key: Any) -> "Placeholder":  # type: ignore[override]
        return Placeholder(f"{self._path}[{key}]" if isinstance(key, int) else f"{self._path}.{key}")

    def get(self, key: Any, default: Any = None) -> "Placeholder":
        return self[key]


#: Every placeholder handed out during the current capture, to notice a call that sends
#: one (a value the static plan cannot know).
_ISSUED: set = set()


class PlaceholderJSON(dict):  # type: ignore[type-arg]
    """An empty JSON object whose missing keys read as placeholders."""

    def __missing__(self, key: Any) -> Placeholder:
        return Placeholder(str(key))


class RecordedResponse(Response):
    """The dummy answer to a recorded call: 200 with an empty JSON object (no body at
    all for HEAD, which never gets one)."""

    def __init__(self, url: str, method: str = "GET") -> None:
        super().__init__(200, "" if method == "HEAD" else "{}", {"Content-Type": "application/json"}, 0.0, url)

    def json(self) -> Any:
        return PlaceholderJSON()


#: Set during capture when the plan alone cannot run the scenario: a task calls
#: client.batch (concurrent for real only in Python mode), or a task raised on the dummy
#: responses after making calls (it needs the real ones).
NEEDS_PYTHON_MODE = False

#: Why each task needs Python at run time (task name -> the first reason found), filled
#: beside NEEDS_PYTHON_MODE. Distributed mode refuses such a task: agents only replay
#: captured calls.
PYTHON_REASONS: Dict[str, str] = {}

#: Distributed capture (see capture(distributed=True)): no notes on stderr (the binary
#: turns PYTHON_REASONS into errors), every task compared over two runs, and an async
#: task's first real suspension ends its capture.
_DISTRIBUTED = False


def _needs_python(task: Optional[str], reason: str, note: str) -> None:
    """Records that `task` (None: on_start) needs Python at run time, and why; in a
    local capture, says on stderr that it runs in Python mode."""
    global NEEDS_PYTHON_MODE
    NEEDS_PYTHON_MODE = True
    if task is not None:
        PYTHON_REASONS.setdefault(task, reason)
    if not _DISTRIBUTED and note:
        sys.stderr.write(note)


class _Suspended(Exception):
    """An async task awaited something other than a client call during a distributed
    capture (asyncio.sleep, a future, another task)."""


class RecordingClient(LoadClient):
    """A LoadClient that sends nothing: it records every call in order."""

    def batch(self, requests: List[Mapping[str, Any]]) -> List[Response]:
        _needs_python(self.task, "it calls client.batch, whose calls go out concurrently", "")
        return super().batch(requests)

    def __init__(self, task: Optional[str] = None) -> None:
        self.calls: List[Call] = []
        self.task = task  # set for a task's capture; None for on_start

    def request(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                json: Any = None, data: Union[str, bytes, Mapping[str, Any], None] = None,
                params: Union[Mapping[str, Any], List[Any], None] = None,
                timeout: Optional[float] = None) -> Response:
        call = render(method, path, headers, json, data, params)
        if self.task is not None:
            self._notice_response_values(call)
        self.calls.append(call)
        return RecordedResponse(call["url"], call["method"])

    def _notice_response_values(self, call: Call) -> None:
        """A call that sends a value read from an earlier response (a created id, a
        token) cannot be replayed from the plan: the task runs in Python mode instead."""
        if not _ISSUED or (NEEDS_PYTHON_MODE and not _DISTRIBUTED) or self.task in PYTHON_REASONS:
            return
        texts = [call["url"], call["body"].decode("utf-8", "replace")] + [v for _, v in call["headers"]]
        used = sorted(p for p in _ISSUED if any(p in t for t in texts))
        if used:
            _needs_python(self.task, f"it sends {used[0]}, a value read from an earlier response",
                          f"note: task {self.task!r} sends {used[0]}, a value read from an earlier response; "
                          "it runs in Python mode, where each iteration uses the real value\n")


def drive(result: Any, loop: Any = None, stop_at_suspension: bool = False) -> Any:
    """Finishes what a task or hook returned. A coroutine is driven by hand while it
    awaits only client calls (they never suspend); at its first real suspension
    (asyncio.sleep, a Future) the rest runs on `loop` (a private one by default), or,
    with `stop_at_suspension`, the coroutine is closed and _Suspended raised."""
    if not _is_coroutine(result):
        return result
    import asyncio  # only async scenarios pay for it

    if loop is None:
        global _LOOP
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
        loop = _LOOP
    asyncio.events._set_running_loop(loop)  # lets the task create futures on our loop
    try:
        yielded = result.send(None)
    except StopIteration as done:
        return done.value
    finally:
        asyncio.events._set_running_loop(None)
    if stop_at_suspension:
        result.close()
        raise _Suspended()
    # The rest runs on `loop`, one pass at a time; between passes the caller sleeps until
    # the loop's next timer with time.sleep, which in Python mode parks only this user.
    task = loop.create_task(_resume(result, yielded))
    while not task.done():
        loop.call_soon(loop.stop)
        loop.run_forever()
        if task.done():
            break
        timers = loop._scheduled  # noqa: SLF001  (asyncio keeps no public "next timer")
        delay = timers[0].when() - loop.time() if timers else 0.001
        time.sleep(min(max(delay, 0.0), 0.05))
    return task.result()


_LOOP: Any = None


async def _resume(coro: Any, yielded: Any) -> Any:
    import asyncio

    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
                value = None
            else:
                # As asyncio's Task does when it takes a yielded future: the task's own
                # `await` marked it blocking, and a second await would be refused.
                if getattr(yielded, "_asyncio_future_blocking", False):
                    yielded._asyncio_future_blocking = False
                value = await yielded
        except BaseException as e:  # noqa: BLE001  (forwarded into the task)
            try:
                yielded = coro.throw(e)
            except StopIteration as done:
                return done.value
            continue
        try:
            yielded = coro.send(value)
        except StopIteration as done:
            return done.value


def run_callable(func: Any, client: LoadClient, capturing: bool = False) -> None:
    """Calls func(client) and finishes it (see drive()). With `capturing` (a run against
    placeholder responses) time.sleep returns at once meanwhile."""
    from loadpilot import _coop

    _coop.CAPTURING = capturing
    try:
        drive(func(client), stop_at_suspension=capturing and _DISTRIBUTED)
    finally:
        _coop.CAPTURING = False


def capture_tasks(vuser: Any, tasks: List[Tuple[str, Any]],
                  twice: bool = True) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Runs each task of `vuser` against a fresh RecordingClient: once, and with `twice`
    a second time to see whether it makes the same calls (see _compare_runs).

    Returns (tasks, problems); each task is {name, weight, calls} from the first run.
    """
    captured: List[Dict[str, Any]] = []
    problems: List[str] = []
    for name, weight in tasks:
        client = RecordingClient(task=name)
        try:
            run_callable(getattr(vuser, name), client, capturing=True)
        except _Suspended:
            _needs_python(name, "it awaits something other than a client call (asyncio.sleep, a future, "
                                "another task)", "")
        except Exception as e:  # noqa: BLE001
            if not client.calls:
                problems.append(_raised(f"task '{name}'", e))
            else:
                # It raised on the dummy responses after making calls (e.g. it asserts on
                # a real value): its body must run for real, in Python mode, where an
                # exception counts as an error of that iteration.
                _needs_python(name, f"{_raised('it', e)} on the placeholder responses of the capture: it reads "
                                    "the real responses",
                              f"note: {_raised(f'task {name!r}', e)} on the placeholder responses of "
                              "the plan capture; it runs in Python mode, where a raise counts as an error\n")
        else:
            if not client.calls:
                problems.append(f"task '{name}' makes no HTTP call")
            elif twice and (_DISTRIBUTED or not NEEDS_PYTHON_MODE) and name not in PYTHON_REASONS:
                _compare_runs(vuser, name, client.calls)
        captured.append({"name": name, "weight": weight, "calls": client.calls})
    return captured, problems


def _compare_runs(vuser: Any, name: str, first: List[Call]) -> None:
    """Runs task `name` a second time. A task whose calls differ between two runs (a
    random id, a timestamp, a uuid, a counter) cannot be replayed from one recording:
    the scenario runs in Python mode, where every iteration makes its own calls, and
    stderr says which task and what changed."""
    again = RecordingClient(task=name)
    try:
        run_callable(getattr(vuser, name), again, capturing=True)
    except Exception as e:  # noqa: BLE001  (it passed once: what differs is its data)
        _needs_python(name, f"it passed its first capture run but {_raised('its second', e)}",
                      f"note: task {name!r} passed its first capture run but {_raised('its second', e)}; "
                      "it runs in Python mode, where each iteration runs the task itself\n")
        return
    if again.calls == first:
        return
    difference = _difference(first, again.calls)
    _needs_python(name, f"it made different calls on two capture runs ({difference}): a random or changing value",
                  f"note: task {name!r} made different calls on two capture runs ({difference}); "
                  "it runs in Python mode, where each iteration makes its own calls instead of "
                  "replaying one recording\n")


def _difference(a: List[Call], b: List[Call]) -> str:
    """The first difference between two runs of a task, for the note."""
    if len(a) != len(b):
        return f"{len(a)} calls, then {len(b)}"
    for x, y in zip(a, b):
        for key in ("method", "url"):
            if x[key] != y[key]:
                return f"{key} {_short(x[key])}, then {_short(y[key])}"
        if x["headers"] != y["headers"]:
            for (k1, v1), (k2, v2) in zip(x["headers"], y["headers"]):
                if (k1, v1) != (k2, v2):
                    return f"header {k1}: {_short(v1)}, then {k2}: {_short(v2)}"
            return f"{len(x['headers'])} headers, then {len(y['headers'])}"
        if x["body"] != y["body"]:
            return f"body {_short(x['body'].decode('utf-8', 'replace'))}, then {_short(y['body'].decode('utf-8', 'replace'))}"
    return "the calls differ"


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _raised(what: str, e: BaseException) -> str:
    location = where(e)
    detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return f"{what} raised {detail}" + (f" ({location})" if location else "")


def _class_state(cls: type) -> List[Tuple[type, str, Any]]:
    """The data attributes of `cls` and its bases (class-level shared state such as a
    shared project id or a user counter), with copies of plain containers."""
    state = []
    for klass in cls.__mro__:
        if klass is object or klass.__module__ == "loadpilot":
            continue
        for name, value in list(vars(klass).items()):
            if name.startswith("__") or callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                continue
            if isinstance(value, (list, dict, set)):
                value = value.copy()
            state.append((klass, name, value))
    return state


def _restore(cls: type, state: List[Tuple[type, str, Any]]) -> None:
    """Puts class-level state back as _class_state() saw it; attributes added since go."""
    saved = {(klass, name) for klass, name, _ in state}
    for klass in cls.__mro__:
        if klass is object or klass.__module__ == "loadpilot":
            continue
        for name, value in list(vars(klass).items()):
            if (klass, name) not in saved and not name.startswith("__") and not callable(value) \
                    and not isinstance(value, (staticmethod, classmethod, property)):
                delattr(klass, name)
    for klass, name, value in state:
        setattr(klass, name, value)


def capture(cls: type, distributed: bool = False) -> Dict[str, Any]:
    """Captures the static plan of `cls` without sending anything: on_start runs against
    a recording client too (its calls are setup, so they are dropped) and then each
    task once (twice for a scenario that could run static: see _compare_runs). Returns
    {tasks, problems, needs_python}; NEEDS_PYTHON_MODE says afterwards whether the plan
    alone can run it, and needs_python lists [task, reason] for each task that needs
    Python at run time.

    `distributed`: for agents, which only replay calls. Every task is compared over two
    runs, notes are not printed (the reasons come back instead), and an async task stops
    at its first real suspension.

    Class-level state the capture changes (a shared id set under a lock, a counter) is
    restored afterwards, so the real virtual users start from what the file defines
    rather than from placeholders."""
    global NEEDS_PYTHON_MODE, _DISTRIBUTED
    state = _class_state(cls)
    _ISSUED.clear()
    PYTHON_REASONS.clear()
    NEEDS_PYTHON_MODE = False
    _DISTRIBUTED = distributed
    try:
        captured = _capture(cls)
        captured["needs_python"] = [[name, why] for name, why in PYTHON_REASONS.items()]
        return captured
    finally:
        _DISTRIBUTED = False
        _restore(cls, state)


def capture_user(vuser: Any, cls: type) -> Dict[str, Any]:
    """Captures, for one virtual user whose on_start ran for real, every call each task
    would make (distributed mode's pre-authenticated pool), as capture(distributed=True)
    does for the plan. Nothing is sent. The user's own attributes and the class-level
    state are put back afterwards, so what its on_start left (a token, a shared
    project id, a user count) is what on_stop sees.

    Returns {calls: {task: [call, ...]}, problems, needs_python}."""
    global NEEDS_PYTHON_MODE, _DISTRIBUTED
    state = _class_state(cls)
    own = dict(getattr(vuser, "__dict__", {}))
    _ISSUED.clear()
    PYTHON_REASONS.clear()
    NEEDS_PYTHON_MODE = False
    _DISTRIBUTED = True
    try:
        tasks, problems = capture_tasks(vuser, find_tasks(cls), twice=True)
        return {"calls": {t["name"]: t["calls"] for t in tasks if t["calls"]},
                "problems": problems,
                "needs_python": [[name, why] for name, why in PYTHON_REASONS.items()]}
    finally:
        _DISTRIBUTED = False
        _restore(cls, state)
        if hasattr(vuser, "__dict__"):
            vuser.__dict__.clear()
            vuser.__dict__.update(own)


def _capture(cls: type) -> Dict[str, Any]:
    problems: List[str] = []
    try:
        vuser = cls()
    except Exception as e:  # noqa: BLE001
        return {"tasks": [], "problems": [_raised(f"{cls.__name__}()", e)]}
    if _overrides(cls, "on_start"):
        try:
            run_callable(vuser.on_start, RecordingClient(), capturing=True)
            # A scenario with on_start runs it for real (Python mode): values it read from
            # responses are real there, so tasks sending them need no note.
            _ISSUED.clear()
        except Exception:  # noqa: BLE001
            # Dummy responses can trip a real check (status == 201, a missing key). on_start
            # runs for real before any load, and a failure there stops the run with its
            # traceback; the tasks are still captured on what it set.
            pass
    # A scenario that runs in Python mode anyway need not learn whether its tasks repeat;
    # on agents every task is replayed, so there it must.
    shape = describe(cls)
    twice = _DISTRIBUTED or not (shape["has_on_start"] or shape["has_on_stop"] or shape["has_checks"]
                                 or shape["has_async"])
    tasks, task_problems = capture_tasks(vuser, find_tasks(cls), twice)
    return {"tasks": tasks, "problems": problems + task_problems}
