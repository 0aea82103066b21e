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

A user can also be *parked*: in ``time.sleep``, or waiting for a lock, a condition, an
event, a semaphore or a queue (``_coop``). The hub resumes it when its time comes or
when another user (or thread) releases what it waits for.
"""

from __future__ import annotations

import _thread
import asyncio
import collections
import gc
import heapq
import sys
import time
import json as _json
from typing import Any, Deque, Dict, List, Mapping, Optional, Set, Tuple, Union

import greenlet

from loadpilot import HTTPError, LoadClient, Response, _ResponseList, _coop
from loadpilot._capture import _is_coroutine, drive, format_exception, render
from loadpilot._coop import Interrupted

#: CallTag::kSetup in the engine: calls made by on_start / on_stop.
SETUP_TASK = 0xFFFFFFFF
#: How often the hub looks for wake-ups from other threads while some are running.
REMOTE_POLL_NS = 1_000_000
#: After a stop, a user's on_stop may wait (for a lock, an event, ...) this long before
#: the wait is cut short with Interrupted.
STOP_WAIT_NS = 5_000_000_000

_get_ident = _thread.get_ident
_getcurrent = greenlet.getcurrent

_WRONG_THREAD = ("client.{verb}() was called from a thread the scenario started; the client works only on the "
                 "virtual user that received it. Make the call in the task itself (client.batch([...]) sends "
                 "several at once)")


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

    def _wrong_thread(self) -> bool:
        """True when the caller is not a virtual user (another thread, or the hub)."""
        hub = self._hub
        return _get_ident() != hub.thread_id or _getcurrent() is hub.main

    def request(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                json: Any = None, data: Union[str, bytes, Mapping[str, Any], None] = None,
                params: Union[Mapping[str, Any], List[Any], None] = None,
                timeout: Optional[float] = None) -> Response:
        if self._wrong_thread():
            raise RuntimeError(_WRONG_THREAD.format(verb=str(method).lower()))
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
        if self._wrong_thread():
            raise RuntimeError(_WRONG_THREAD.format(verb="batch"))
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


class Parked:
    """A user parked in a sleep or a wait (see Hub.parked_until)."""

    __slots__ = ("user", "sleeping", "active")

    def __init__(self, user: Any, sleeping: bool) -> None:
        self.user = user
        self.sleeping = sleeping  # time.sleep: at the stop it ends early, a wait is interrupted
        self.active = True        # False once resumed or cancelled


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
        self.thread_id = _thread.get_ident()
        self.users: List[greenlet.greenlet] = []
        #: Each user's scenario instance, by index (None until created, or if that failed).
        self.instances: List[Any] = []
        #: Users whose on_start raised (or whose class could not be created).
        self.failed: Set[int] = set()
        self.idle: Deque[greenlet.greenlet] = collections.deque()  # idle longest on the left
        self.starting = 0
        self.waiting: Dict[int, Tuple[greenlet.greenlet, List[Any], List[int]]] = {}
        self.first_failure: Optional[str] = None
        self.hook_failures = 0
        #: Users interrupted because they kept the thread after the run stopped.
        self.stuck = 0
        self.parked: Set[Parked] = set()
        self.timers: List[Tuple[int, int, Parked]] = []  # heap of (wake ns, seq, parked)
        self.ready: Deque[greenlet.greenlet] = collections.deque()  # woken, to resume
        self.remote: Deque[Parked] = collections.deque()  # woken from other threads
        self._seq = 0

    # ---- parking (called on user greenlets, by _coop)
    def parked_until(self, deadline_ns: Optional[int], sleeping: bool = False) -> Parked:
        """Registers the calling user as parked until `deadline_ns` (monotonic; None:
        until woken). It still runs until sleep_on(); a wake before that is kept."""
        parked = Parked(greenlet.getcurrent(), sleeping)
        self.parked.add(parked)
        if deadline_ns is not None:
            self._seq += 1
            heapq.heappush(self.timers, (deadline_ns, self._seq, parked))
        return parked

    def sleep_on(self, parked: Parked) -> None:
        """Switches to the hub until `parked` is woken or its deadline passes. Raises
        Interrupted when the run stops first (a wait; a sleep just ends)."""
        if parked.active:
            self._switch_to_hub()

    def cancel(self, parked: Parked) -> None:
        parked.active = False
        self.parked.discard(parked)

    def wake(self, parked: Parked) -> None:
        """Resumes a parked user on the hub's next turn. Safe from any thread."""
        if _thread.get_ident() != self.thread_id:
            self.remote.append(parked)  # deque.append is atomic; the hub takes it on its thread
        elif parked.active:
            self.cancel(parked)
            self.ready.append(parked.user)

    def nap(self, secs: float) -> None:
        """Parks the calling user for `secs` (time.sleep); the others run."""
        self.sleep_on(self.parked_until(time.monotonic_ns() + int(secs * 1e9), sleeping=True))

    def wait(self, ids: List[int]) -> List[Any]:
        """Parks the calling user until every call in `ids` completed; results in order."""
        results: List[Any] = [None] * len(ids)
        me = greenlet.getcurrent()
        remaining = [len(ids)]
        for i, cid in enumerate(ids):
            self.waiting[cid] = (me, results, remaining)
            results[i] = cid  # replaced by the result when it completes
        self._switch_to_hub()
        return results

    def _switch_to_hub(self) -> None:
        # A user inside its asyncio loop: another user may drive its own meanwhile.
        loop = asyncio.events._get_running_loop()
        if loop is None:
            self.main.switch()
            return
        asyncio.events._set_running_loop(None)
        try:
            self.main.switch()
        finally:
            asyncio.events._set_running_loop(loop)

    # ---- a virtual user
    def _user(self, index: int) -> None:
        me = greenlet.getcurrent()
        user = client = None
        try:
            user = self.cls()
            self.instances[index] = user
            client = LiveClient(self, self.target)
            if self.has_on_start:
                err = run_hook(user, "on_start", client)
                if err is not None:
                    self.failed.add(index)
                    if index == 0:
                        self.first_failure = err
                    else:
                        self._report("on_start", err)
        except KeyboardInterrupt as e:  # the run stopped during on_start: this user never started
            self.failed.add(index)
            self.starting -= 1
            self._interrupted(index, e, "on_start")
            return
        except Exception as e:  # noqa: BLE001  (the class could not be created)
            self.failed.add(index)
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
            try:
                failure = run_task(user, name, client, check)
            except KeyboardInterrupt as e:
                if isinstance(e, Interrupted) and not e.stuck:
                    continue  # a wait cut short by the stop: the iteration ends, uncounted
                self._interrupted(index, e, f"task {name!r}")
                return
            if failure is not None:
                self.engine.record_check_failure(task, failure)
        if self.has_on_stop and user is not None and client is not None and self.first_failure is None:
            client._begin(SETUP_TASK, 0, True)
            try:
                err = run_hook(user, "on_stop", client)
            except KeyboardInterrupt as e:
                self._interrupted(index, e, "on_stop")
                return
            if err is not None:
                self._report("on_stop", err)

    def _report(self, hook: str, traceback: str) -> None:
        self.hook_failures += 1
        if self.hook_failures == 1:
            sys.stderr.write(f"\n{hook} raised (reported once; later failures count as setup errors):\n{traceback}\n")

    def _interrupted(self, index: int, e: BaseException, where: str) -> None:
        if isinstance(e, Interrupted) and not e.stuck:
            return  # a wait cut short by the stop: nothing to say
        self.stuck += 1
        at = _user_frame(e)
        sys.stderr.write(f"note: virtual user {index + 1} still held the thread in {where}"
                         f"{' at ' + at if at else ''} (a busy loop or a blocking call) after the load ended; "
                         "it was interrupted and its on_stop skipped\n")

    # ---- the hub
    def _spawn(self) -> None:
        g = greenlet.greenlet(self._user, parent=self.main)
        self.users.append(g)
        self.instances.append(None)
        self.starting += 1
        g.switch(len(self.users) - 1)

    def _resume(self, completions: List[Tuple[int, Any]]) -> None:
        for cid, result in completions:
            g, results, remaining = self.waiting.pop(cid)
            results[results.index(cid)] = result
            remaining[0] -= 1
            if remaining[0] == 0:
                g.switch()

    def _resume_parked(self) -> None:
        while self.remote:
            self.wake(self.remote.popleft())
        while self.ready:
            self.ready.popleft().switch()
        now = time.monotonic_ns()
        while self.timers and self.timers[0][0] <= now:
            parked = heapq.heappop(self.timers)[2]
            if parked.active:
                self.cancel(parked)
                parked.user.switch()

    def _pump(self) -> bool:
        if self.ready or self.remote:
            wake = 1  # already due: do not wait for the network
        else:
            wake = self.timers[0][0] if self.timers else 0
            if self.parked and _thread._count():
                # A thread the scenario started may wake a parked user (Thread.start()
                # waits for one): look at `remote` every millisecond meanwhile.
                soon = time.monotonic_ns() + REMOTE_POLL_NS
                wake = min(wake, soon) if wake else soon
        starts, spawn, completions, finished = self.engine.step(len(self.idle), len(self.users), self.starting,
                                                                wake)
        self._resume(completions)
        if self.remote or self.ready or self.timers:
            self._resume_parked()
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
        stopped = self._start_users()
        if self.first_failure is not None:
            self._stop_users()
            return self.first_failure
        if not stopped:
            for _ in range(self.engine.before_clock() - 1):
                self._spawn()  # the rest of the pool, unless it starts staggered
            stopped = self._start_users()
        self.engine.start_clock()
        if not stopped:
            while not self._pump():
                pass
        while (self.waiting or self.parked) and not self.engine.drain_expired():
            self._pump()
        if self.waiting:
            self.engine.expire_in_flight()
            while self.waiting:
                self._pump()
        self._stop_users()
        return None

    def _start_users(self) -> bool:
        """Pumps until every started user is through on_start; True if the run was
        stopped meanwhile."""
        while self.starting:
            if self._pump():  # the clock has not started: this only completes on_start's work
                return True
        return False

    def _stop_users(self) -> None:
        # Past the drain time, a sleep still running ends early and a wait still parked
        # raises Interrupted, so neither can hold the run open; then on_stop, whose own
        # waits get STOP_WAIT_NS.
        self._cut_parked()
        deadline = time.monotonic_ns() + STOP_WAIT_NS
        while any(not g.dead for g in self.users):
            while self.idle:
                self.idle.popleft().switch(None)
            if any(not g.dead for g in self.users):
                self._pump()
                if self.parked and time.monotonic_ns() >= deadline:
                    self._cut_parked()

    def _cut_parked(self) -> None:
        # Users resumed here may park again (a sleep in a loop, a wait in a finally):
        # those are cut on a later turn, once the on_stop deadline has passed.
        for parked in list(self.parked):
            if not parked.active:
                continue
            self.cancel(parked)
            if parked.sleeping:
                parked.user.switch()
            else:
                parked.user.throw(Interrupted(stuck=False))


def _user_frame(e: BaseException) -> str:
    """`file.py, line N` of the innermost frame of `e` in scenario code, or ""."""
    import os
    import traceback

    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith("<embedded>/loadpilot/")
              and "/loadpilot/_" not in f.filename]
    if not frames:
        return ""
    return f"{os.path.basename(frames[-1].filename)}, line {frames[-1].lineno}"


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
    return drive(result, _thread_loop())


_LOOPS: Dict[int, asyncio.AbstractEventLoop] = {}


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
