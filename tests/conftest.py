"""Shared test setup: where the repo is, which testbins exist, and building them.

Every `testbins/NAME.c` is a testbin and every `testbins/*.sh` a script testbin. Tests
that take a `testbin` argument are parametrized over all of them, one test each. The
`built_testbins` fixture runs `make testbins` once per session when a binary is missing
or older than its source; a testbin that fails to build fails only its own tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTBINS_DIR = REPO_ROOT / "testbins"
MAKE_TIMEOUT = 300


def testbin_names() -> list[str]:
    """Names as run from the repo root: `hello` for testbins/hello.c, `shebang.sh` for scripts."""
    programs = [p.stem for p in TESTBINS_DIR.glob("*.c")]
    scripts = [p.name for p in TESTBINS_DIR.glob("*.sh")]
    return sorted(programs) + sorted(scripts)


def _stale(name: str) -> bool:
    source = TESTBINS_DIR / f"{name}.c"
    binary = TESTBINS_DIR / name
    return source.exists() and (not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "testbin" in metafunc.fixturenames:
        metafunc.parametrize("testbin", testbin_names())


def host_tool(name: str, package: str) -> str:
    """The path of a host program the tests compare against. Without it the test is
    skipped, but under CI (CI=true) it fails: there `make test` installs it (make
    test-tools), and a comparison silently skipped would hide a regression."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test-tools installs Debian's {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; under CI every comparison runs", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def strace() -> str:
    """The real strace, the oracle of pykern's tracer."""
    return host_tool("strace", "strace")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def built_testbins() -> str:
    """Run `make testbins` if anything is missing or stale; return make's output ('' if not run).

    `make -k` keeps going past a source that does not compile, so one broken testbin does
    not take the others down; its own test then reports the missing binary.
    """
    if not any(_stale(p.stem) for p in TESTBINS_DIR.glob("*.c")):
        return ""
    try:
        done = subprocess.run(
            ["make", "-k", "testbins"],
            check=False,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"make testbins timed out after {MAKE_TIMEOUT} s"
    return done.stdout + done.stderr
