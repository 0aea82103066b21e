"""Golden plans: each tests/data/scenarios/NAME.py with a NAME.plan.json beside it must
dry-run to exactly that plan. Set LOADPILOT_UPDATE_GOLDEN=1 to rewrite the files after a
deliberate change (and review the diff)."""

import json
import os
import pathlib
import subprocess

import pytest

SRC = pathlib.Path(os.environ.get("LOADPILOT_SRC") or pathlib.Path(__file__).resolve().parents[2])
SCENARIOS = SRC / "tests" / "data" / "scenarios"
# Nothing listens on the discard port: a dry run must not need the target.
TARGET = "http://127.0.0.1:9"


def loadpilot():
    path = pathlib.Path(os.environ.get("LOADPILOT_BIN") or SRC / "build" / "bin") / "loadpilot"
    if not path.is_file():
        pytest.fail(f"{path} not found: build it, or point LOADPILOT_BIN at its directory")
    return path


GOLDEN = sorted(SCENARIOS.glob("*.plan.json"))


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.name.removesuffix(".plan.json") for g in GOLDEN])
def test_dry_run_prints_the_golden_plan(golden):
    scenario = golden.with_name(golden.name.removesuffix(".plan.json") + ".py")

    out = subprocess.run([str(loadpilot()), "run", str(scenario), "--dry-run", "--target", TARGET],
                         capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    if os.environ.get("LOADPILOT_UPDATE_GOLDEN") == "1":
        golden.write_text(out.stdout)
    assert json.loads(out.stdout) == json.loads(golden.read_text())


def test_every_scenario_file_has_a_golden_plan():
    helpers = {"scenario_helpers.py"}
    missing = [p.name for p in SCENARIOS.glob("*.py")
               if p.name not in helpers and not p.with_suffix(".plan.json").is_file()]

    assert missing == []
