"""scripts/install.sh on this machine, where it must refuse or only say what it would do:
usage errors, no package source, a system that is not Debian, no root. Nothing here
installs a package (tests/package/test-package.sh does, in a throw-away root). Run by
dash, the /bin/sh of Debian, as `curl ... | sh` would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(os.environ.get("LOADPILOT_SRC", Path(__file__).resolve().parents[2]))
SCRIPT = SRC / "scripts" / "install.sh"
DASH = shutil.which("dash") or "/bin/sh"
VERSION = re.search(r"^project\(loadpilot VERSION ([0-9.]+)", (SRC / "CMakeLists.txt").read_text(), re.M).group(1)


def run(args: list[str], cwd: Path = SRC, stdin: str | None = None, prefix: list[str] | None = None,
        script: Path | str = SCRIPT) -> subprocess.CompletedProcess:
    command = (prefix or []) + [DASH] + ([str(script)] if script else []) + args
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp"})


def test_an_unknown_option_is_a_usage_error_with_the_usage():
    p = run(["--agent"])

    assert p.returncode == 2
    assert "install.sh: error: unknown option '--agent'" in p.stderr
    assert "usage: install.sh [--cli] [--dry-run] [FILE.deb | URL]" in p.stderr


def test_two_sources_at_once_are_refused():
    p = run(["a.deb", "b.deb"])

    assert p.returncode == 2
    assert "one package source at a time: got 'a.deb' and 'b.deb'" in p.stderr


def test_in_a_checkout_a_dry_run_names_the_build_and_the_package_it_makes():
    agent = run(["--dry-run"])
    cli = run(["--dry-run", "--cli"])

    assert agent.returncode == 0 and cli.returncode == 0
    assert f"would build the packages: make -C {SRC} package" in agent.stdout
    assert f"would install {SRC}/build/packages/loadpilot-agent_{VERSION}_amd64.deb" in agent.stdout
    assert f"would install {SRC}/build/packages/loadpilot_{VERSION}_amd64.deb" in cli.stdout


def test_a_url_from_the_environment_is_what_a_dry_run_would_download():
    url = "https://example.invalid/loadpilot-agent_1.2.3_amd64.deb"

    p = subprocess.run([DASH, str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LOADPILOT_DEB_URL": url})

    assert p.returncode == 0
    assert f"would download {url}" in p.stdout
    assert "would build" not in p.stdout


def test_outside_a_checkout_with_nothing_to_install_from_it_says_what_to_pass(tmp_path):
    copy = tmp_path / "install.sh"
    shutil.copy(SCRIPT, copy)

    p = run([], cwd=tmp_path, script=copy)

    assert p.returncode == 2
    assert "nothing to install from: pass a .deb file or a URL, or set LOADPILOT_DEB_URL" in p.stderr


def test_piped_into_sh_inside_a_checkout_it_does_not_build_that_checkout():
    # `curl ... | sh` run from a checkout directory: $0 is the shell, not this script.
    p = run([], stdin=SCRIPT.read_text(), script="")

    assert p.returncode == 2
    assert "nothing to install from" in p.stderr
    assert "make -C" not in p.stdout


def test_a_missing_file_and_a_file_that_is_not_a_package_are_named(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("not root: install.sh asks for root (or sudo) before it looks at the file")
    not_a_deb = tmp_path / "loadpilot-agent_0.1.0_amd64.deb"
    not_a_deb.write_text("this is not an ar archive\n")

    missing = run([str(tmp_path / "nope.deb")])
    broken = run([str(not_a_deb)])

    assert missing.returncode == 2 and broken.returncode == 2
    assert f"no such file: {tmp_path / 'nope.deb'}" in missing.stderr
    assert f"{not_a_deb} is not a Debian package" in broken.stderr


def test_without_root_and_without_sudo_it_says_it_needs_root():
    if shutil.which("sudo"):
        pytest.skip("sudo is installed here: install.sh would use it")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []

    p = run(["/nonexistent/loadpilot-agent_0.1.0_amd64.deb"], prefix=prefix)

    assert p.returncode == 4
    assert "installing needs root: run this as root, or install sudo" in p.stderr


def test_a_system_that_is_not_debian_is_named_and_refused(tmp_path):
    fedora = tmp_path / "os-release"
    fedora.write_text('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39 (Workstation Edition)"\n')
    inner = f'mount --bind {fedora} /etc/os-release && exec {DASH} {SCRIPT} --dry-run'
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here to show install.sh another /etc/os-release: {probe.stderr.decode().strip()}")

    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                       capture_output=True, text=True, timeout=60)

    assert p.returncode == 3, p.stderr
    assert "this is not a Debian system (Fedora Linux 39 (Workstation Edition)): the LoadPilot packages are for Debian 12" in p.stderr
    assert "see docs/install.md" in p.stderr


RELEASE = f"https://github.com/VladislavAkulich/loadpilot/releases/download/v{VERSION}"


def test_the_root_install_sh_is_scripts_install_sh_published_at_this_versions_release(tmp_path):
    # What `curl -fsSL https://raw.githubusercontent.com/VladislavAkulich/loadpilot/main/install.sh | sh`
    # fetches: it must be this checkout's installer, for this version (make install-sh writes it).
    fresh = tmp_path / "install.sh"
    subprocess.run(["cmake", f"-DLP_INSTALLER_URL={RELEASE}", f"-DLP_INSTALLER_IN={SCRIPT}",
                    f"-DLP_INSTALLER_OUT={fresh}", f"-DLP_INSTALLER_VERSION={VERSION}",
                    "-P", str(SRC / "cmake" / "package.cmake")], check=True, capture_output=True, timeout=60)

    assert (SRC / "install.sh").read_text() == fresh.read_text(), \
        "install.sh at the root is stale: run `make install-sh` and commit it"


def test_the_root_install_sh_piped_into_sh_installs_the_agent_of_the_github_release():
    for extra, package in (([], "loadpilot-agent"), (["--cli"], "loadpilot")):
        p = run(["-s", "--", "--dry-run", *extra], stdin=(SRC / "install.sh").read_text(), script="")

        assert p.returncode == 0, p.stderr
        assert f"would download {RELEASE}/{package}_{VERSION}_amd64.deb" in p.stdout
        assert "would build" not in p.stdout
