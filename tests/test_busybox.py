"""Debian's static busybox, software nobody wrote for pykern: each tests/busybox/NAME.sh
runs through `busybox sh` natively and under `pykern run`, each in a fresh temporary
directory, and the two must agree on stdout, stderr and exit status.

The Makefile installs busybox-static (make test-tools); without /bin/busybox these tests
are skipped. A script that fails under pykern today carries an xfail mark (strict: it
fails the suite once it passes) that names the cause; remove the mark when it is fixed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

BUSYBOX = "/bin/busybox"
SCRIPTS_DIR = REPO_ROOT / "tests" / "busybox"
TIMEOUT = 120  # seconds, for each run of a script (pykern runs the slow ones in about 10 s)

# Busybox's shell runs most applets by execve("/proc/self/exe", [APPLET, ...]) (its
# "standalone shell"; applets that run other programs, xargs and timeout, do the same);
# under pykern that path is the host's /proc/self/exe, pykern's own Python interpreter,
# which fails with Python's usage message or a Python error about its arguments.
# Scripts that fail under pykern today, and why (strict: a fixed one fails the suite
# until its mark goes). Every script matches Linux since the guest has its own /proc
# (busybox re-executes /proc/self/exe), FIFOs and sendfile.
XFAIL: dict[str, str] = {}


def scripts() -> list:
    params = []
    for script in sorted(SCRIPTS_DIR.glob("*.sh")):
        reason = XFAIL.get(script.stem)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(script, id=script.stem, marks=marks))
    return params


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LC_ALL": "C", "TZ": "UTC"}
    return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=TIMEOUT, check=False)


def outcome(done: subprocess.CompletedProcess, cwd: Path) -> tuple[int, str, str]:
    """Exit status, stdout and stderr, with the run's own directory spelled $DIR."""
    def text(data: bytes) -> str:
        return data.decode(errors="replace").replace(str(cwd), "$DIR")
    return done.returncode, text(done.stdout), text(done.stderr)


def check_ps_listing(directory: Path) -> None:
    """Under pykern, ps lists the guest's processes only: pid 1 (pykern's init) and the script's."""
    listing = (directory / "ps.out").read_text().splitlines()
    assert listing[0].split() == ["PID", "COMMAND"], listing
    foreign = [line for line in listing[1:] if not re.match(r"\s*1\s", line) and "/busybox/ps.sh" not in line]
    assert not foreign, f"ps lists processes that are not the guest's: {foreign}"


# Checks of a pykern run beyond the comparison with Linux, by script.
PYKERN_ONLY_CHECKS = {"ps": check_ps_listing}


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="no /bin/busybox (make test-tools installs busybox-static)")
@pytest.mark.parametrize("script", scripts())
def test_busybox_script_matches_native(script: Path, tmp_path: Path) -> None:
    native_dir, pykern_dir = tmp_path / "native", tmp_path / "pykern"
    native_dir.mkdir()
    pykern_dir.mkdir()
    native = outcome(run([BUSYBOX, "sh", str(script)], native_dir), native_dir)
    emulated = outcome(run([sys.executable, "-m", "pykern", "run", BUSYBOX, "sh", str(script)], pykern_dir),
                       pykern_dir)
    assert "Traceback" not in emulated[2], emulated[2]
    assert emulated == native
    check = PYKERN_ONLY_CHECKS.get(script.stem)
    if check:
        check(pykern_dir)
