"""Fixtures shared by the black-box integration tests.

Binaries are taken from $LOADPILOT_BIN (ctest sets it to build/bin); without it, from
<repo>/build/bin. `target_server` starts loadpilot-target on a free loopback
port and stops it by pid when the test ends.

Example::

    def test_health(target_server):
        with urllib.request.urlopen(target_server.url + "/health") as response:
            assert response.status == 200
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import select
import signal
import subprocess
import tempfile
import time
from typing import Callable, Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN_DIR = REPO / "build" / "bin"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
_LISTENING = re.compile(r"^loadpilot-target listening on (http://(\S+):(\d+))$")


def bin_dir() -> pathlib.Path:
    """The directory holding the LoadPilot binaries: $LOADPILOT_BIN when set."""
    return pathlib.Path(os.environ.get("LOADPILOT_BIN") or DEFAULT_BIN_DIR)


def binary(name: str) -> pathlib.Path:
    """Path of one LoadPilot binary; fails the test when it was not built."""
    path = bin_dir() / name
    if not path.is_file():
        pytest.fail(f"{path} not found: build it, or point LOADPILOT_BIN at its directory")
    return path


@dataclasses.dataclass
class TargetProcess:
    """A running loadpilot-target."""

    process: subprocess.Popen
    first_line: str  # what it printed on stdout, without the newline
    url: str  # "http://127.0.0.1:PORT"
    host: str
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Sends `sig` to the pid and returns the exit code; SIGKILL after `timeout`."""
        if self.process.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """First stdout line, read straight from the pipe so nothing waits in a buffer."""
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError(f"no line on stdout within {timeout} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            break  # the process exited
        data += chunk
    return data.decode(errors="replace").rstrip("\n")


def start_target(*args: str, timeout: float = START_TIMEOUT_S) -> TargetProcess:
    """Starts loadpilot-target on a free loopback port (`--port 0`, overridable by
    `args`) and waits for its "listening on" line."""
    stderr = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(binary("loadpilot-target")), "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    try:
        line = _read_line(process, timeout)
    except TimeoutError:
        line = ""
    match = _LISTENING.match(line)
    if match is None:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        stderr.seek(0)
        pytest.fail(
            f"loadpilot-target did not start (exit {process.returncode}); "
            f"stdout {line!r}; stderr {stderr.read().decode(errors='replace')!r}"
        )
    stderr.close()
    return TargetProcess(process, line, match.group(1), match.group(2), int(match.group(3)))


@pytest.fixture
def target_factory() -> Iterator[Callable[..., TargetProcess]]:
    """Starts loadpilot-target instances with extra flags; stops each by pid at the end."""
    started: list[TargetProcess] = []

    def start(*args: str) -> TargetProcess:
        target = start_target(*args)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


@pytest.fixture
def target_server(target_factory) -> TargetProcess:
    """A fresh loadpilot-target on a free loopback port, stopped when the test ends."""
    return target_factory()
