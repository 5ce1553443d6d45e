"""The wheel (issue 15): `pip wheel .` ships pykern's patched libunicorn, and a fresh
virtual environment with only that wheel installed runs programs on it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT

TIMEOUT = 600


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pykern.ucbind import HAS_BUDGET, LIBRARY_PATH

    if not HAS_BUDGET:
        pytest.skip("the venv's libunicorn is not pykern's build (make venv)")
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, PYKERN_UNICORN_LIB=LIBRARY_PATH)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "-q", "-w", str(out)],
                   env=env, check=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, capture_output=True)
    (built,) = out.glob("pykern-*.whl")
    return built


def test_wheel_carries_the_patched_library(wheel: Path) -> None:
    assert "linux_x86_64" in wheel.name  # a shared library inside: not a pure-Python wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "pykern/_unicorn/libunicorn.so.2" in names
    for module in ("pykern/cli.py", "pykern/syscalls/table.py", "pykern/loader/elf.py", "pykern/api.py"):
        assert module in names


def test_fresh_venv_runs_programs_with_the_wheel(wheel: Path, tmp_path: Path, built_testbins) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    pip = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert pip.returncode == 0, pip.stderr.decode()[-2000:]
    env = {"PATH": "/usr/bin:/bin"}  # nothing of this repo's venv

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin/pykern"), *argv], cwd=tmp_path, env=env, capture_output=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    version = run("version")
    assert version.returncode == 0
    assert f"{venv}/lib/" in version.stdout.decode() and "pykern's patched build" in version.stdout.decode()
    hello = run("run", str(REPO_ROOT / "testbins/hello"))
    assert (hello.returncode, hello.stdout, hello.stderr) == (0, b"hello, world\n", b"")
    forked = run("run", str(REPO_ROOT / "testbins/forkexec"))
    native = subprocess.run([str(REPO_ROOT / "testbins/forkexec")], cwd=tmp_path, capture_output=True, timeout=60)
    assert (forked.returncode, forked.stdout) == (native.returncode, native.stdout)
    api = subprocess.run([str(venv / "bin/python"), "-c",
                          f"import pykern; print(pykern.run([{str(REPO_ROOT / 'testbins/hello')!r}]).stdout)"],
                         cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert api.stdout == b"b'hello, world\\n'\n", api.stderr


def test_unpatched_library_is_named_at_start(built_testbins) -> None:
    """With the unicorn wheel's library (LIBUNICORN_PATH), pykern says so in one line."""
    spec = importlib.util.find_spec("unicorn")  # (not imported: its lib/ holds the wheel's libunicorn)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the unicorn package is not installed")
    env = dict(os.environ, LIBUNICORN_PATH=str(Path(spec.submodule_search_locations[0]) / "lib"))
    done = subprocess.run([sys.executable, "-m", "pykern", "run", str(REPO_ROOT / "testbins/hello")], env=env,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.stdout == b"hello, world\n"
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pykern: warning: libunicorn ") and "not pykern's build" in lines[0]
    version = subprocess.run([sys.executable, "-m", "pykern", "run", "--version"], env=env, capture_output=True,
                             timeout=120)
    assert "not pykern's build" in version.stdout.decode()
