"""Fixtures for the black-box tests of `loadpilot run`.

Binaries come from $LOADPILOT_BIN (ctest sets it to <build>/bin), else <repo>/build/bin.
`target` starts loadpilot-target on a free loopback port and stops it by pid;
`loadpilot` runs the CLI and returns the CompletedProcess.

Example::

    def test_version(loadpilot):
        assert loadpilot("version").stdout.startswith("loadpilot ")
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import time
import urllib.request
from typing import Any, Callable, Iterator

import pytest

REPO = pathlib.Path(os.environ.get("LOADPILOT_SRC") or pathlib.Path(__file__).resolve().parents[2])
START_TIMEOUT_S = 10.0
RUN_TIMEOUT_S = 120.0
_LISTENING = re.compile(r"^loadpilot-target listening on (http://\S+:\d+)$")


def binary(name: str) -> pathlib.Path:
    """Path of one LoadPilot binary; fails the test when it was not built."""
    path = pathlib.Path(os.environ.get("LOADPILOT_BIN") or REPO / "build" / "bin") / name
    if not path.is_file():
        pytest.fail(f"{path} not found: build it, or point LOADPILOT_BIN at its directory")
    return path


@dataclasses.dataclass
class Target:
    """A running loadpilot-target."""

    process: subprocess.Popen
    url: str  # "http://127.0.0.1:PORT"

    def stats(self) -> dict[str, Any]:
        """The target's request counters (GET /__stats, not counted itself)."""
        with urllib.request.urlopen(self.url + "/__stats", timeout=5) as resp:
            return json.loads(resp.read())

    def call(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        """One request from the test itself; returns the parsed JSON body or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=5) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process.stdout.close()


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


@pytest.fixture
def target() -> Iterator[Target]:
    """A fresh loadpilot-target on a free loopback port, stopped by pid at the end."""
    process = subprocess.Popen([str(binary("loadpilot-target")), "--port", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    line = _first_line(process, START_TIMEOUT_S)
    match = _LISTENING.match(line)
    if match is None:
        process.kill()
        process.wait()
        pytest.fail(f"loadpilot-target did not start: {line!r}")
    started = Target(process, match.group(1))
    yield started
    started.stop()


@pytest.fixture
def loadpilot() -> Callable[..., subprocess.CompletedProcess]:
    """Runs `loadpilot ARGS...` and returns the finished process (text output)."""
    path = binary("loadpilot")

    def run(*args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(path), *map(str, args)], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, cwd=cwd, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture
def write_scenario(tmp_path: pathlib.Path) -> Callable[[str, str], pathlib.Path]:
    """Writes `source` to tmp_path/`name` and returns the path."""

    def write(source: str, name: str = "scenario.py") -> pathlib.Path:
        path = tmp_path / name
        path.write_text(source)
        return path

    return write
