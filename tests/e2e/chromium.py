"""Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe).

No websocket library is needed: with --remote-debugging-pipe Chromium reads commands on
fd 3 and writes replies and events on fd 4, each a JSON object ended by a NUL byte.
The viewport is set with Emulation.setDeviceMetricsOverride, so a page can be laid out
at 390 CSS pixels (a plain --window-size cannot go below Chromium's 500 px minimum),
and Network.requestWillBeSent events list every request the page makes.

Example::

    with Chromium(tmp_path / "profile") as browser:
        page = browser.open(report, width=390)
        assert page.requests == [report.as_uri()]
        page.screenshot(tmp_path / "shot.png")
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import select
import shutil
import subprocess
import time
from typing import Any

import pytest

TIMEOUT_S = 30.0


def chromium_binary() -> str:
    """The Chromium to use; fails the test when it is not installed (scripts/install-deps.sh installs it)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    pytest.fail("chromium is not installed: run scripts/install-deps.sh (Debian package chromium)")


class Page:
    """One tab: its session on the pipe, and what it loaded."""

    def __init__(self, browser: "Chromium", session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} raised in the page: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    @property
    def requests(self) -> list[str]:
        """URLs of every request the page made since it was opened."""
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == self.session]

    @property
    def console_errors(self) -> list[str]:
        out = []
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(e["params"]["exceptionDetails"])[:500])
            if e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error":
                out.append(json.dumps(e["params"]["args"])[:500])
        return out

    def screenshot(self, path: pathlib.Path, width: int) -> None:
        """The whole page (its full scroll height) at `width` CSS pixels, as PNG."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))


class Chromium:
    """A headless Chromium with its own throw-away profile; stopped by pid on exit."""

    def __init__(self, profile: pathlib.Path, extra_args: list[str] | None = None) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child: fd 3 reads commands, fd 4 writes replies
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--mute-audio",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", *(extra_args or []), "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        os.close(self._w)
        os.close(self._r)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise AssertionError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise AssertionError("chromium exited")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, path: pathlib.Path, width: int, height: int = 900) -> Page:
        """Opens `path` in a new tab laid out `width` CSS pixels wide and waits until the
        report's script has drawn it (html[data-report-ready])."""
        target = self.call("Target.createTarget", {"url": "about:blank"})
        session = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Network.enable", "Page.enable", "Runtime.enable"):
            page.call(domain)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.call("Page.navigate", {"url": path.resolve().as_uri()})
        deadline = time.monotonic() + TIMEOUT_S
        ready = "document.documentElement ? document.documentElement.getAttribute('data-report-ready') : null"
        while page.evaluate(ready) != "true":
            if time.monotonic() > deadline:
                raise AssertionError(f"the report did not finish drawing; errors: {page.console_errors}")
            time.sleep(0.05)
        return page
