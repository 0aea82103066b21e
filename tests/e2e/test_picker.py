"""`loadpilot run` without a file: a picker on a terminal, a clear message elsewhere."""

from __future__ import annotations

import os
import select
import subprocess
import time

from conftest import binary

SCENARIO = """from loadpilot import scenario, task

@scenario(rps=1, duration="1s", ramp_up="0")
class {name}:
    @task
    def home(self, client):
        client.get("/health")
"""


def write_scenarios(root):
    (root / "scenarios").mkdir()
    (root / "scenarios" / "alpha.py").write_text(SCENARIO.format(name="Alpha"))
    (root / "scenarios" / "beta.py").write_text(SCENARIO.format(name="Beta"))
    (root / "notes.py").write_text("print('not a scenario')\n")


def read_until(fd: int, needle: bytes, timeout: float = 10.0) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_on_a_terminal_the_user_picks_from_the_scenarios_found(tmp_path):
    write_scenarios(tmp_path)
    primary, secondary = os.openpty()
    proc = subprocess.Popen([str(binary("loadpilot")), "run", "--dry-run"], cwd=tmp_path,
                            stdin=secondary, stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
    os.close(secondary)

    shown = read_until(primary, b"Number [1]: ")
    os.write(primary, b"2\n")
    rest = read_until(primary, b'"vuser_configs"')
    proc.wait(timeout=20)
    os.close(primary)

    assert b"1) scenarios/alpha.py" in shown and b"2) scenarios/beta.py" in shown
    assert b"notes.py" not in shown
    assert b'"name": "Beta"' in rest
    assert proc.returncode == 0, proc.stderr.read()


def test_without_a_terminal_it_says_which_files_to_pass(tmp_path):
    write_scenarios(tmp_path)

    out = subprocess.run([str(binary("loadpilot")), "run"], cwd=tmp_path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=30)

    assert out.returncode == 2
    assert "no scenario file given" in out.stderr
    assert "pass one of: scenarios/alpha.py, scenarios/beta.py" in out.stderr


def test_with_no_scenario_anywhere_it_says_so(tmp_path):
    out = subprocess.run([str(binary("loadpilot")), "run"], cwd=tmp_path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=30)

    assert out.returncode == 2
    assert "none found in . or ./scenarios" in out.stderr


def test_on_a_terminal_the_user_picks_one_of_several_scenarios_in_a_file(tmp_path):
    path = tmp_path / "shop.py"
    path.write_text(SCENARIO.format(name="Alpha") + SCENARIO.format(name="Beta").split("\n", 1)[1]
                    + SCENARIO.format(name="Gamma").split("\n", 1)[1])
    primary, secondary = os.openpty()
    proc = subprocess.Popen([str(binary("loadpilot")), "run", str(path), "--dry-run"], cwd=tmp_path,
                            stdin=secondary, stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
    os.close(secondary)

    shown = read_until(primary, b"Number [1]: ")
    os.write(primary, b"3\n")
    rest = read_until(primary, b'"vuser_configs"')
    proc.wait(timeout=20)
    os.close(primary)

    assert b"shop.py has 3 scenarios; pick one to run:" in shown
    assert b"1) Alpha" in shown and b"2) Beta" in shown and b"3) Gamma" in shown
    assert b'"name": "Gamma"' in rest
    assert proc.returncode == 0, proc.stderr.read()


def test_a_bad_pick_of_a_scenario_names_it_and_what_to_pass(tmp_path):
    path = tmp_path / "shop.py"
    path.write_text(SCENARIO.format(name="Alpha") + SCENARIO.format(name="Beta").split("\n", 1)[1])
    primary, secondary = os.openpty()
    proc = subprocess.Popen([str(binary("loadpilot")), "run", str(path), "--dry-run"], cwd=tmp_path,
                            stdin=secondary, stdout=secondary, stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
    os.close(secondary)

    read_until(primary, b"Number [1]: ")
    os.write(primary, b"9\n")
    proc.wait(timeout=20)
    os.close(primary)

    err = proc.stderr.read().decode()
    assert proc.returncode == 2
    assert "not a choice: '9'" in err
    assert "--scenario NAME (e.g. --scenario Alpha)" in err
