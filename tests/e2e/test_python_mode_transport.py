"""Python mode when a call fails before it reaches the network: each call completes as
a `connect` error and the run goes on (it used to end in a KeyError from the hub)."""

from __future__ import annotations

import json

SCENARIO = """
from loadpilot import scenario, task


@scenario(rps=20, duration="2s", ramp_up="0", mode="constant")
class Checked:
    @task
    def fetch(self, client):
        client.get("/health")

    def check_fetch(self, status_code, body):
        assert status_code == 200
"""


def test_an_unresolvable_host_gives_connect_errors_and_the_run_goes_on(loadpilot, write_scenario, tmp_path):
    results = tmp_path / "results.json"

    # 'a..b' is not a valid host name: the resolver refuses it at once, asking no server.
    out = loadpilot("run", write_scenario(SCENARIO), "--target", "http://a..b:8000", "--results-json", results)

    assert "bug in LoadPilot" not in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    doc = json.loads(results.read_text())
    assert doc["requests_total"] == 40
    assert doc["errors_by_kind"]["connect"] == doc["errors_total"] == 40
    assert doc["errors_by_kind"]["check"] == 0  # the transport failure is the one error of each call
