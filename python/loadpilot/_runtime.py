"""Python mode: virtual users as greenlets on one thread. Internal to LoadPilot.

Every virtual user is a greenlet. A task runs plain Python until it makes an HTTP
call; the call is handed to the C++ engine (``_loadpilot_native.Engine``) and the user
switches to the hub, which polls the engine (with the GIL released while it waits on
the network) and switches back to each user whose response arrived. One thread, no
locks, no GIL hand-offs: a switch costs about a microsecond, where an OS thread per
user costs a futex wake-up and a GIL transfer per call.

The hub also takes the open-model schedule from the engine: each ``step()`` says which
iterations are due now (given the idle users) and how many users to start (the pool:
``python/vuser_pool.hpp``). Work goes to the user that has been idle longest, so the
load, and the tokens users got in ``on_start``, spread evenly over the pool.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import heapq
import threading
import time
import json as _json
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple, Union

import greenlet

from loadpilot import HTTPError, LoadClient, Response, _ResponseList, _coop
from loadpilot._capture import _is_coroutine, drive, format_exception, render

#: CallTag::kSetup in the engine: calls made by on_start / on_stop.
SETUP_TASK = 0xFFFFFFFF


def _join(target: str, url: str) -> str:
    if "://" in url:
        return url
    return target.rstrip("/") + (url if url.startswith("/") else "/" + url)


class LiveClient(LoadClient):
    """The LoadClient that sends: every call through the engine, measured on its own.

    A call's latency is its own time (from when it is made); the first call of an
    iteration also carries the iteration's lateness (from its due time until a user was
    free to start it). What the task does in Python before its first call (think time,
    time.sleep, computation) is never charged to the server.
    """

    def __init__(self, hub: "Hub", target: str) -> None:
        self._hub = hub
        self._target = target
        self._task = SETUP_TASK
        self._status_is_error = True
        self._lateness_ns = 0
        #: The last response of the current task, for its check_<task>.
        self.last: Optional[Response] = None

    def _begin(self, task: int, lateness_ns: int, status_is_error: bool) -> None:
        self._task = task
        self._lateness_ns = lateness_ns
        self._status_is_error = status_is_error
        self.last = None

    def request(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                json: Any = None, data: Union[str, bytes, Mapping[str, Any], None] = None,
                params: Union[Mapping[str, Any], List[Any], None] = None,
                timeout: Optional[float] = None) -> Response:
        lateness, self._lateness_ns = self._lateness_ns, 0
        if json is None and data is None and not params and (headers is None or type(headers) is dict):
            # The common call: nothing to encode, so skip render()'s dict.
            url = path if "://" in path else self._target + path if path[:1] == "/" else _join(self._target, path)
            cid = self._hub.engine.submit(method.upper(), url, list(headers.items()) if headers else [], b"",
                                          timeout or 0.0, self._task, lateness, self._status_is_error)
        else:
            call = render(method, path, headers, json, data, params)
            cid = self._hub.engine.submit(call["method"], _join(self._target, call["url"]), call["headers"],
                                          call["body"], timeout or 0.0, self._task, lateness, self._status_is_error)
        response = _response(self._hub.wait([cid])[0], path)
        self.last = response
        return response

    def batch(self, requests: List[Mapping[str, Any]]) -> List[Response]:
        lateness, self._lateness_ns = self._lateness_ns, 0
        ids = []
        for item in requests:
            call = render(str(item.get("method", "GET")), item["path"], item.get("headers"),
                          item.get("json"), item.get("data"), item.get("params"))
            ids.append(self._hub.engine.submit(call["method"], _join(self._target, call["url"]), call["headers"],
                                               call["body"], float(item.get("timeout") or 0.0), self._task,
                                               lateness, self._status_is_error))
        results = self._hub.wait(ids)
        responses = _ResponseList(_response(r, item["path"]) for r, item in zip(results, requests))
        if responses:
            self.last = responses[-1]
        return responses


class Hub:
    """Runs the virtual users of one scenario class on this thread (see the module doc)."""

    def __init__(self, engine: Any, cls: type, target: str, tasks: List[str], checked: List[bool],
                 has_on_start: bool, has_on_stop: bool) -> None:
        self.engine = engine
        self.cls = cls
        self.target = target.rstrip("/")
        self.tasks = tasks
        self.checked = checked
        self.has_on_start = has_on_start
        self.has_on_stop = has_on_stop
        self.main = greenlet.getcurrent()
        self.users: List[greenlet.greenlet] = []
        self.idle: Deque[greenlet.greenlet] = collections.deque()  # idle longest on the left
        self.starting = 0
        self.waiting: Dict[int, Tuple[greenlet.greenlet, List[Any], List[int]]] = {}
        self.first_failure: Optional[str] = None
        self.hook_failures = 0
        self.thread_id = threading.get_ident()
        self.sleepers: List[Tuple[int, int, greenlet.greenlet]] = []  # heap of (wake ns, seq, user)
        self._seq = 0

    def nap(self, secs: float) -> None:
        """Parks the calling user for `secs` (time.sleep, a contended lock); the others run."""
        self._seq += 1
        heapq.heappush(self.sleepers, (time.monotonic_ns() + int(secs * 1e9), self._seq, greenlet.getcurrent()))
        self.main.switch()

    def _wake_sleepers(self) -> None:
        now = time.monotonic_ns()
        while self.sleepers and self.sleepers[0][0] <= now:
            heapq.heappop(self.sleepers)[2].switch()

    # ---- called on user greenlets
    def wait(self, ids: List[int]) -> List[Any]:
        """Parks the calling user until every call in `ids` completed; results in order."""
        results: List[Any] = [None] * len(ids)
        me = greenlet.getcurrent()
        remaining = [len(ids)]
        for i, cid in enumerate(ids):
            self.waiting[cid] = (me, results, remaining)
            results[i] = cid  # replaced by the result when it completes
        if me in _IN_ASYNC:
            # This user is inside its asyncio loop; another user may drive its own meanwhile.
            asyncio.events._set_running_loop(None)
            try:
                self.main.switch()
            finally:
                asyncio.events._set_running_loop(_IN_ASYNC[me])
        else:
            self.main.switch()
        return results

    def _user(self, index: int) -> None:
        me = greenlet.getcurrent()
        user = client = None
        try:
            user = self.cls()
            client = LiveClient(self, self.target)
            if self.has_on_start:
                err = run_hook(user, "on_start", client)
                if err is not None:
                    if index == 0:
                        self.first_failure = err
                    else:
                        self._report("on_start", err)
        except Exception as e:  # noqa: BLE001  (the class could not be created)
            err = format_exception(e)
            if index == 0:
                self.first_failure = err
            else:
                self._report("creating the virtual user", err)
        self.starting -= 1
        while True:
            self.idle.append(me)
            work = self.main.switch()
            if work is None:
                break
            task, due_ns = work
            if user is None or client is None:
                continue
            client._begin(task, max(0, time.monotonic_ns() - due_ns), not self.checked[task])
            name = self.tasks[task]
            check = getattr(user, "check_" + name, None) if self.checked[task] else None
            failure = run_task(user, name, client, check)
            if failure is not None:
                self.engine.record_check_failure(task, failure)
        if self.has_on_stop and user is not None and client is not None and self.first_failure is None:
            client._begin(SETUP_TASK, 0, True)
            err = run_hook(user, "on_stop", client)
            if err is not None:
                self._report("on_stop", err)

    def _report(self, hook: str, traceback: str) -> None:
        self.hook_failures += 1
        if self.hook_failures == 1:
            import sys

            sys.stderr.write(f"\n{hook} raised (reported once; later failures count as setup errors):\n{traceback}\n")

    # ---- the hub
    def _spawn(self) -> None:
        g = greenlet.greenlet(self._user, parent=self.main)
        self.users.append(g)
        self.starting += 1
        g.switch(len(self.users) - 1)

    def _resume(self, completions: List[Tuple[int, Any]]) -> None:
        for cid, result in completions:
            g, results, remaining = self.waiting.pop(cid)
            results[results.index(cid)] = result
            remaining[0] -= 1
            if remaining[0] == 0:
                g.switch()

    def _pump(self) -> bool:
        wake = self.sleepers[0][0] if self.sleepers else 0
        starts, spawn, completions, finished = self.engine.step(len(self.idle), len(self.users), self.starting,
                                                                wake)
        self._resume(completions)
        self._wake_sleepers()
        for _ in range(spawn):
            self._spawn()
        for work in starts:
            self.idle.popleft().switch(work)
        return finished

    def run(self) -> Optional[str]:
        """Runs the whole test; returns the first user's on_start traceback if it failed
        (then nothing was measured)."""
        # Every call allocates a few short-lived objects; with the default threshold (700)
        # the cyclic collector would run every few dozen calls. Young objects are still
        # collected, just in larger batches.
        gc.set_threshold(20_000, 20, 20)
        _coop.HUB = self
        try:
            return self._run()
        finally:
            _coop.HUB = None

    def _run(self) -> Optional[str]:
        # The first user alone, before the clock: if its on_start fails, nothing is sent.
        self._spawn()
        self._start_users()
        if self.first_failure is not None:
            self._stop_users()
            return self.first_failure
        for _ in range(self.engine.before_clock() - 1):
            self._spawn()  # the rest of the pool, unless it starts staggered
        self._start_users()
        self.engine.start_clock()
        while not self._pump():
            pass
        while (self.waiting or self.sleepers) and not self.engine.drain_expired():
            self._pump()
        if self.waiting:
            self.engine.expire_in_flight()
            while self.waiting:
                self._pump()
        self._stop_users()
        return None

    def _start_users(self) -> None:
        while self.starting:
            self._pump()  # the clock has not started: this only completes on_start's calls

    def _stop_users(self) -> None:
        # A napping user finishes its iteration before it stops; past the drain time its
        # sleep is cut short, so a long time.sleep cannot hold the run open.
        while self.sleepers and not self.engine.drain_expired():
            self._pump()
        while self.sleepers:
            heapq.heappop(self.sleepers)[2].switch()
        while any(not g.dead for g in self.users):
            while self.idle:
                self.idle.popleft().switch(None)
            if any(not g.dead for g in self.users):
                self._pump()


class _LiveResponse(Response):
    """A Response built straight from the engine's result; the header dict is only built
    when a task reads it (most never do)."""

    __slots__ = ("status_code", "text", "elapsed_ms", "url", "error", "_raw_headers", "_headers")

    def __init__(self, status: int, raw_headers: str, text: str, elapsed_ms: float, error: Optional[str],
                 url: str) -> None:
        self.status_code = status
        self.text = text
        self.elapsed_ms = elapsed_ms
        self.url = url
        #: Why the call got no response (refused, timed out, ...); None when it got one.
        self.error = error
        self._raw_headers = raw_headers
        self._headers: Optional[Dict[str, str]] = None

    @property  # type: ignore[override]
    def headers(self) -> Dict[str, str]:
        if self._headers is None:
            self._headers = dict(line.split(": ", 1) for line in self._raw_headers.split("\r\n") if line)
        return self._headers

    @headers.setter
    def headers(self, value: Dict[str, str]) -> None:
        self._headers = dict(value)


def _response(result: Tuple[Any, ...], path: str) -> Response:
    status, raw_headers, text, elapsed_ms, error = result
    return _LiveResponse(status, raw_headers, text, elapsed_ms, error, path)


def _drive(result: Any) -> Any:
    """Finishes what a task returned (see _capture.drive), on this user's own loop."""
    if not _is_coroutine(result):
        return result
    me = greenlet.getcurrent()
    _IN_ASYNC[me] = _thread_loop()
    try:
        return drive(result, _IN_ASYNC[me])
    finally:
        del _IN_ASYNC[me]


_LOOPS: Dict[int, asyncio.AbstractEventLoop] = {}
#: Users (greenlets) currently inside an async task, with the loop they run it on.
_IN_ASYNC: Dict[Any, asyncio.AbstractEventLoop] = {}


def _thread_loop() -> asyncio.AbstractEventLoop:
    key = id(greenlet.getcurrent())  # one loop per virtual user: each drives its own
    loop = _LOOPS.get(key)
    if loop is None:
        loop = _LOOPS[key] = asyncio.new_event_loop()
    return loop


def _body_of(response: Optional[Response]) -> Any:
    if response is None:
        return None
    try:
        return _json.loads(response.text)
    except ValueError:
        return response.text


def _message(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_task(vuser: Any, name: str, client: LiveClient, check: Any) -> Optional[str]:
    """Runs one iteration of task `name` and its check. Returns None when it passed, or
    the message of the failure to count (an error of kind `check`)."""
    try:
        _drive(getattr(vuser, name)(client))
    except HTTPError as e:
        # raise_for_status(): a transport failure, or a status >= 400 without a check,
        # was counted when the response came; with a check the status was left to it.
        if check is None or e.status_code == 0:
            return None
        return _message(e)
    except Exception as e:  # noqa: BLE001
        return _message(e)
    if check is None:
        return None
    last = client.last
    if last is not None and getattr(last, "error", None):
        return None  # no response (refused, timed out): counted already, nothing to check
    try:
        _drive(check(last.status_code if last is not None else 0, _body_of(last)))
    except Exception as e:  # noqa: BLE001
        return _message(e) or "check failed"
    return None


def run_hook(vuser: Any, name: str, client: LiveClient) -> Optional[str]:
    """Runs on_start / on_stop; returns the formatted traceback when it raised."""
    try:
        _drive(getattr(vuser, name)(client))
    except Exception as e:  # noqa: BLE001
        return format_exception(e)
    return None
