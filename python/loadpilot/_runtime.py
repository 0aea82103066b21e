"""Python mode: what a virtual-user thread runs. Internal to LoadPilot.

The binary starts one thread per virtual user; each thread holds the GIL only while it
runs Python. Every HTTP call goes to the C++ engine through ``_loadpilot_native``
(``Transport.request`` releases the GIL while the engine does the I/O), so many virtual
users wait on the network at once while one of them runs Python.
"""

from __future__ import annotations

import asyncio
import inspect
import json as _json
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from loadpilot import HTTPError, LoadClient, Response, _ResponseList
from loadpilot._capture import render

#: CallTag::kSetup in the engine: calls made by on_start / on_stop.
SETUP_TASK = 0xFFFFFFFF


def _join(target: str, url: str) -> str:
    if "://" in url:
        return url
    return target.rstrip("/") + (url if url.startswith("/") else "/" + url)


class LiveClient(LoadClient):
    """The LoadClient that sends: every call through the engine, measured on its own.

    The first call of an iteration is measured from the iteration's due time (so time
    spent waiting for a free virtual user shows), the others from when they are made.
    """

    def __init__(self, transport: Any, target: str, task: int = SETUP_TASK,
                 status_is_error: bool = True) -> None:
        self._transport = transport
        self._target = target
        self._task = task
        self._status_is_error = status_is_error
        self._intended_ns = 0
        #: The last response of the current task, for its check_<task>.
        self.last: Optional[Response] = None

    def _begin(self, task: int, intended_ns: int, status_is_error: bool) -> None:
        self._task = task
        self._intended_ns = intended_ns
        self._status_is_error = status_is_error
        self.last = None

    def _call(self, method: str, path: str, headers: Any, json: Any, data: Any, params: Any) -> Tuple[str, Dict[str, Any]]:
        call = render(method, path, headers, json, data, params)
        call["url"] = _join(self._target, call["url"])
        return call["url"], call

    def request(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                json: Any = None, data: Union[str, bytes, Mapping[str, Any], None] = None,
                params: Union[Mapping[str, Any], List[Any], None] = None,
                timeout: Optional[float] = None) -> Response:
        url, call = self._call(method, path, headers, json, data, params)
        intended, self._intended_ns = self._intended_ns, 0
        result = self._transport.request(call["method"], url, call["headers"], call["body"],
                                         timeout or 0.0, self._task, intended, self._status_is_error)
        response = _response(result, path)
        self.last = response
        return response

    def batch(self, requests: List[Mapping[str, Any]]) -> List[Response]:
        calls = []
        for item in requests:
            url, call = self._call(str(item.get("method", "GET")), item["path"], item.get("headers"),
                                   item.get("json"), item.get("data"), item.get("params"))
            calls.append((call["method"], url, call["headers"], call["body"], float(item.get("timeout") or 0.0)))
        intended, self._intended_ns = self._intended_ns, 0
        results = self._transport.batch(calls, self._task, intended, self._status_is_error)
        responses = _ResponseList(_response(r, item["path"]) for r, item in zip(results, requests))
        if responses:
            self.last = responses[-1]
        return responses


class TransportError(ConnectionError):
    """A call that got no HTTP response (refused, reset, timed out, TLS)."""


def _response(result: Tuple[Any, ...], path: str) -> Response:
    status, headers, body, elapsed_ms, error = result
    r = Response(status, body.decode("utf-8", "replace"), dict(headers), elapsed_ms, path)
    r.error = error  # type: ignore[attr-defined]
    return r


def _drive(result: Any) -> Any:
    """Finishes what a task returned. A coroutine is driven by hand while it awaits only
    client calls (they never suspend); at its first real suspension (asyncio.sleep,
    a Future) the rest runs on this thread's asyncio loop."""
    if not inspect.iscoroutine(result):
        return result
    loop = _thread_loop()
    asyncio.events._set_running_loop(loop)  # lets the task create futures on our loop
    try:
        yielded = result.send(None)
    except StopIteration as done:
        return done.value
    finally:
        asyncio.events._set_running_loop(None)
    return loop.run_until_complete(_resume(result, yielded))


async def _resume(coro: Any, yielded: Any) -> Any:
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
                value = None
            else:
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


_LOOPS: Dict[int, asyncio.AbstractEventLoop] = {}


def _thread_loop() -> asyncio.AbstractEventLoop:
    import threading

    key = threading.get_ident()
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
    except HTTPError:
        return None  # raise_for_status(): the status was already counted as an HTTP error
    except Exception as e:  # noqa: BLE001
        return _message(e)
    if check is None:
        return None
    last = client.last
    try:
        _drive(check(last.status_code if last is not None else 0, _body_of(last)))
    except Exception as e:  # noqa: BLE001
        return _message(e) or "check failed"
    return None


def run_hook(vuser: Any, name: str, client: LiveClient) -> Optional[str]:
    """Runs on_start / on_stop; returns the formatted traceback when it raised."""
    from loadpilot._capture import format_exception

    try:
        _drive(getattr(vuser, name)(client))
    except Exception as e:  # noqa: BLE001
        return format_exception(e)
    return None
