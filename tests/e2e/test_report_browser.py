"""The HTML report (--report) in a real browser: headless Chromium at 1280 and 390 CSS
pixels. It draws every section, fits the width (nothing beyond the right edge), stays
readable, and loads nothing from the network.

Screenshots are kept under pytest's tmp_path (printed with -s) for a look by eye.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading

import pytest
from PIL import Image

from chromium import Chromium
from conftest import START_TIMEOUT_S, Target, _first_line, _LISTENING, binary

STEP_SCENARIO = """
from loadpilot import scenario, task

@scenario(rps=60, duration="6s", mode="step", steps=3, thresholds={"p99_ms": 500, "error_rate": 20})
class StepShop:
    @task(weight=6)
    def browse(self, client):
        client.get("/api/products")

    @task(weight=2)
    def slow(self, client):
        client.get("/delay/20")

    @task(weight=1)
    def broken(self, client):
        client.get("/status/503")
"""

PYTHON_SCENARIO = """
from loadpilot import VUser, scenario, task

@scenario(rps=30, duration="3s", ramp_up="1s", thresholds={"p95_ms": 300, "error_rate": 1})
class Checked(VUser):
    def on_start(self, client):
        self.token = client.post("/auth/login", json={}).json()["access_token"]

    @task
    def browse(self, client):
        client.get("/api/products", headers={"Authorization": "Bearer " + self.token})

    def check_browse(self, status_code, body):
        assert len(body) == 11, f"expected 11 products, got {len(body)}"
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Two reports from real runs against loadpilot-target: a step-mode static run with
    errors, and a Python-mode run with on_start and failing checks."""
    work = tmp_path_factory.mktemp("reports")
    process = subprocess.Popen([str(binary("loadpilot-target")), "--port", "0"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    match = _LISTENING.match(_first_line(process, START_TIMEOUT_S))
    if match is None:
        process.kill()
        process.wait()
        pytest.fail("loadpilot-target did not start")
    target = Target(process, match.group(1))
    out = {}
    try:
        for name, source in (("step", STEP_SCENARIO), ("python", PYTHON_SCENARIO)):
            scenario = work / f"{name}.py"
            scenario.write_text(source)
            report = work / f"{name}.html"
            run = subprocess.run([str(binary("loadpilot")), "run", str(scenario), "--target", target.url,
                                  "--report", str(report), "--metrics-port", "0"],
                                 capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
            assert run.returncode in (0, 1), run.stdout + run.stderr
            assert report.is_file(), run.stdout + run.stderr
            out[name] = report
    finally:
        target.stop()
    return out


def embedded_results(report: pathlib.Path) -> dict:
    text = report.read_text()
    body = re.search(r'<script type="application/json" id="lp-results">(.*?)</script>', text, re.S).group(1)
    return json.loads(body)


def with_results(report: pathlib.Path, doc: dict, out: pathlib.Path) -> pathlib.Path:
    """A copy of `report` carrying `doc` as its results document."""
    text = report.read_text()
    embedded = json.dumps(doc).replace("<", "\\u003c")
    out.write_text(re.sub(r'(<script type="application/json" id="lp-results">).*?(</script>)',
                          lambda m: m.group(1) + embedded + m.group(2), text, count=1, flags=re.S))
    return out


def headings(page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('h1, h2, h3')).map(e => e.textContent)")


def test_step_report_draws_every_section(reports, tmp_path):
    with Chromium(tmp_path / "profile") as browser:
        page = browser.open(reports["step"], width=1280)

        found = headings(page)
        charts = page.evaluate("document.querySelectorAll('.chart svg path').length")
        knee_rows = page.evaluate("Array.from(document.querySelectorAll('tr.knee td')).map(e => e.textContent)")
        errors = page.console_errors

    for title in ("StepShop", "Thresholds", "Summary", "Requests per second", "Latency per interval",
                  "Errors per second, by kind", "In flight and connections", "Steps", "Percentile spectrum",
                  "Response-time ranges", "Latency", "Tasks", "Errors by kind"):
        assert title in found, found
    assert charts >= 8  # rps achieved + target, 3 latency lines, errors, in flight, spectrum
    doc = embedded_results(reports["step"])
    assert doc["knee"] is not None and len(doc["steps"]) == 3
    assert knee_rows and knee_rows[0].startswith(str(doc["knee"]["step"])), knee_rows
    assert errors == []


def test_python_report_shows_check_failures_and_setup_apart(reports, tmp_path):
    with Chromium(tmp_path / "profile") as browser:
        page = browser.open(reports["python"], width=1280)

        found = headings(page)
        text = page.evaluate("document.body.innerText")

    assert "Check failures by message" in found and "Setup calls" in found
    assert "expected 11 products, got 10" in text
    assert "Steps" not in found  # not a step-mode run


def test_agents_table_when_the_results_have_agents(reports, tmp_path):
    doc = embedded_results(reports["step"])
    doc["agents"] = [{"id": "agent-0", "state": "done", "requests": 210, "start_skew_ms": 0.4},
                     {"id": "agent-1", "state": "timed_out", "requests": 190, "start_skew_ms": 1.2}]
    report = with_results(reports["step"], doc, tmp_path / "agents.html")

    with Chromium(tmp_path / "profile") as browser:
        page = browser.open(report, width=1280)

        rows = page.evaluate("Array.from(document.querySelectorAll('section')).filter(s => "
                             "s.querySelector('h3')?.textContent === 'Agents').map(s => s.innerText)")

    assert rows and "agent-1" in rows[0] and "timed_out" in rows[0]


class LoggingProxy:
    """A TCP listener standing in for an HTTP proxy: it records every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.seen: list[bytes] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.seen.append(conn.recv(4096))
            except OSError:
                self.seen.append(b"?")
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("name", ["step", "python"])
def test_report_loads_nothing_from_the_network(reports, tmp_path, name):
    report = reports[name]
    html = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(https?:)?//""", html, re.I)
    proxy = LoggingProxy()
    try:
        # Every request would go to the proxy, and no host name resolves.
        with Chromium(tmp_path / "profile", [f"--proxy-server=http://127.0.0.1:{proxy.sock.getsockname()[1]}",
                                             "--proxy-bypass-list=<-loopback>",
                                             "--host-resolver-rules=MAP * ~NOTFOUND"]) as browser:
            page = browser.open(report, width=1280)
            requests = page.requests
    finally:
        proxy.stop()

    assert requests == [report.resolve().as_uri()]
    assert proxy.seen == []


def right_edge_is_background(png: pathlib.Path, margin: int) -> bool:
    """True when the last `margin` pixel columns hold one colour: nothing is drawn there."""
    image = Image.open(png).convert("RGB")
    width, height = image.size
    strip = image.crop((width - margin, 0, width, height))
    return len(strip.getcolors(maxcolors=4) or []) == 1


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("name", ["step", "python"])
def test_report_fits_the_width_and_stays_readable(reports, tmp_path, width, name):
    shot = tmp_path / f"{name}-{width}.png"
    with Chromium(tmp_path / "profile", ["--hide-scrollbars"]) as browser:
        page = browser.open(reports[name], width=width)
        inner = page.evaluate("window.innerWidth")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        # The right edge of everything drawn, tables, charts and text included.
        rightmost = page.evaluate("Math.max(...Array.from(document.querySelectorAll('main *'))"
                                  ".map(e => e.getBoundingClientRect().right))")
        smallest_font = page.evaluate(
            "Math.min(...Array.from(document.querySelectorAll('main *')).filter(e => "
            "Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())).map(e => "
            "parseFloat(getComputedStyle(e).fontSize)))")
        page.screenshot(shot, width)
    print(f"screenshot: {shot}")

    assert inner == width
    assert scroll <= width, f"the page scrolls sideways: {scroll} > {width}"
    assert rightmost <= width, f"something ends at {rightmost} px, past the {width} px viewport"
    assert smallest_font >= 10, f"text as small as {smallest_font} px"
    image = Image.open(shot)
    assert image.size[0] == width and image.size[1] > 1500
    assert right_edge_is_background(shot, margin=4), "content touches the right edge"
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50  # not a blank page
