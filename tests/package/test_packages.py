"""The two .deb packages as `make package` builds them (cpack on this build, into a
temporary directory): their names, versions, declared dependencies and contents, and the
install.sh a release publishes beside them. Installing them for real is
tests/package/test-package.sh (make test-package)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(os.environ.get("LOADPILOT_SRC", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("LOADPILOT_BIN", SRC / "build" / "bin"))
BUILD = BIN.parent
VERSION = re.search(r"^project\(loadpilot VERSION ([0-9.]+)", (SRC / "CMakeLists.txt").read_text(), re.M).group(1)


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def contents(deb: Path) -> list[str]:
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1].lstrip(".") for line in out.splitlines()]


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    if not (BUILD / "CPackConfig.cmake").exists():
        pytest.skip(f"{BUILD} has no CPackConfig.cmake (an instrumented build is never packaged)")
    if not shutil.which("dpkg-shlibdeps"):
        pytest.skip("dpkg-shlibdeps is not installed (Debian package dpkg-dev; scripts/install-deps.sh installs it)")
    out = tmp_path_factory.mktemp("packages")
    p = subprocess.run(["cpack", "-G", "DEB", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(out),
                        "-D", f"CPACK_OUTPUT_FILE_PREFIX={out}"],
                       cwd=BUILD, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return {"agent": out / f"loadpilot-agent_{VERSION}_amd64.deb", "cli": out / f"loadpilot_{VERSION}_amd64.deb"}


def test_both_packages_are_named_and_versioned_as_the_project_and_its_binaries(packages):
    agent_says = subprocess.run([str(BIN / "loadpilot-agent"), "--version"], capture_output=True, text=True).stdout
    cli_says = subprocess.run([str(BIN / "loadpilot"), "version"], capture_output=True, text=True).stdout

    assert packages["agent"].is_file() and packages["cli"].is_file(), sorted(p.name for p in packages["agent"].parent.iterdir())
    assert field(packages["agent"], "Package") == "loadpilot-agent"
    assert field(packages["cli"], "Package") == "loadpilot"
    assert field(packages["agent"], "Version") == field(packages["cli"], "Version") == VERSION
    assert agent_says.strip() == f"loadpilot-agent {VERSION}"
    assert cli_says.splitlines()[0] == f"loadpilot {VERSION}"


def test_the_agent_depends_on_the_libraries_its_binary_links_and_not_on_python(packages):
    depends = field(packages["agent"], "Depends")
    names = {d.split()[0] for d in depends.split(", ")}
    needed = subprocess.run(["objdump", "-p", str(BIN / "loadpilot-agent")], capture_output=True, text=True).stdout

    assert "libnats" in needed and "libssl.so.3" in needed, needed
    assert {"libc6", "libstdc++6", "libssl3"} <= names, depends
    assert any(n.startswith("libnats") for n in names), depends
    assert not any("python" in n for n in names), depends
    # dpkg-shlibdeps, not a hand-written list: each with the version its symbols need.
    assert re.search(r"libc6 \(>= [0-9.]+\)", depends), depends


def test_the_cli_depends_on_python_and_greenlet(packages):
    depends = field(packages["cli"], "Depends")

    assert re.search(r"libpython3\.\d+ \(>= ", depends), depends
    assert "python3-greenlet" in depends


def test_each_package_has_its_own_files(packages):
    agent = contents(packages["agent"])
    cli = contents(packages["cli"])

    assert "/usr/bin/loadpilot-agent" in agent
    assert "/lib/systemd/system/loadpilot-agent@.service" in agent
    assert "/etc/default/loadpilot-agent" in agent
    assert not any(f.startswith("/usr/bin/") and f != "/usr/bin/loadpilot-agent" and f != "/usr/bin/" for f in agent), agent
    assert {"/usr/bin/loadpilot", "/usr/bin/loadpilot-coordinator", "/usr/bin/loadpilot-target"} <= set(cli)
    assert "/usr/share/loadpilot/examples/checkout.py" in cli
    assert "/usr/share/doc/loadpilot/install.md" in cli
    assert "/usr/bin/loadpilot-agent" not in cli


def test_lintian_finds_nothing_but_the_overridden_tags(packages):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (LOADPILOT_PACKAGE_DEPS=1 scripts/install-deps.sh installs it)")
    p = subprocess.run(["lintian", "--pedantic", "--display-info", "--fail-on", "error,warning,info,pedantic",
                        str(packages["agent"]), str(packages["cli"])], capture_output=True, text=True, timeout=300)

    assert p.returncode == 0, p.stdout + p.stderr


def test_the_published_install_sh_installs_from_where_it_was_published(tmp_path):
    published = tmp_path / "install.sh"
    p = subprocess.run(["cmake", "-DLP_INSTALLER_URL=https://downloads.example.invalid/loadpilot/",
                        f"-DLP_INSTALLER_VERSION={VERSION}", f"-DLP_INSTALLER_IN={SRC}/scripts/install.sh",
                        f"-DLP_INSTALLER_OUT={published}", "-P", str(SRC / "cmake" / "package.cmake")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr

    # As `curl -fsSL URL/install.sh | sh -s -- ...` runs it: from stdin, not a file.
    agent = subprocess.run(["dash", "-s", "--", "--dry-run"], input=published.read_text(), capture_output=True,
                           text=True, timeout=60, cwd=tmp_path)
    cli = subprocess.run(["dash", "-s", "--", "--dry-run", "--cli"], input=published.read_text(), capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)

    assert agent.returncode == 0 and cli.returncode == 0, agent.stderr + cli.stderr
    assert f"would download https://downloads.example.invalid/loadpilot/loadpilot-agent_{VERSION}_amd64.deb" in agent.stdout
    assert f"would download https://downloads.example.invalid/loadpilot/loadpilot_{VERSION}_amd64.deb" in cli.stdout


def test_a_url_that_is_not_http_is_refused_when_publishing(tmp_path):
    p = subprocess.run(["cmake", "-DLP_INSTALLER_URL=ftp://host/dir", f"-DLP_INSTALLER_VERSION={VERSION}",
                        f"-DLP_INSTALLER_IN={SRC}/scripts/install.sh", f"-DLP_INSTALLER_OUT={tmp_path}/install.sh",
                        "-P", str(SRC / "cmake" / "package.cmake")], capture_output=True, text=True, timeout=60)

    assert p.returncode != 0
    assert "LOADPILOT_PACKAGE_URL 'ftp://host/dir' is not an http(s):// URL" in p.stderr
    assert not (tmp_path / "install.sh").exists()
