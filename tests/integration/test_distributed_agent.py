"""loadpilot-agent on its own: what it links and how it refuses bad input."""

from __future__ import annotations

import subprocess

from conftest import binary


def test_the_agent_never_links_libpython():
    out = subprocess.run(["ldd", str(binary("loadpilot-agent"))], capture_output=True, text=True, check=True).stdout

    assert out.strip(), "ldd printed nothing"
    assert sum("python" in line for line in out.splitlines()) == 0, out


def test_an_agent_without_a_coordinator_says_what_to_pass():
    p = subprocess.run([str(binary("loadpilot-agent"))], capture_output=True, text=True, timeout=10,
                       env={"PATH": "/usr/bin:/bin"})

    assert p.returncode == 2
    assert "no coordinator: pass --coordinator HOST:PORT (or set COORDINATOR)" in p.stderr


def test_an_agent_id_that_is_not_a_subject_token_is_refused():
    p = subprocess.run([str(binary("loadpilot-agent")), "--coordinator", "127.0.0.1:1", "--agent-id", "a.b"],
                       capture_output=True, text=True, timeout=10)

    assert p.returncode == 2
    assert "agent id 'a.b' is not usable" in p.stderr
    assert "letters, digits, '-' and '_'" in p.stderr
