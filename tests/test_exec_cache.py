"""exec maps segments from the page cache and keeps translated code across exec (issue
11): two programs at the same addresses, each run twice from one shell, a program
rewritten in place, and a program renamed over another must all run their own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT

BUSYBOX = "/bin/busybox"
TIMEOUT = 120
SCRIPT = "./a; ./b one; ./a; ./b two; cat b > a; ./a three; ./b four; cp c.new c; ./c five; mv c.new2 c; ./c six"


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="no /bin/busybox (make test-tools installs busybox-static)")
def test_exec_runs_each_programs_own_code(tmp_path: Path) -> None:
    testbins = REPO_ROOT / "testbins"
    for name, source in (("a", "hello"), ("b", "echoargs"), ("c", "hello"), ("c.new", "echoargs"),
                         ("c.new2", "hello")):
        if not (testbins / source).exists():
            pytest.skip(f"testbins/{source} is not built")
        shutil.copy(testbins / source, tmp_path / name)
    time.sleep(2.2)  # old enough for the page cache (mm.PageCache.settle_ns), so the cache is used
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    native = subprocess.run([BUSYBOX, "sh", "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                            timeout=TIMEOUT, check=False)
    for name, source in (("a", "hello"), ("c", "hello"), ("c.new", "echoargs"), ("c.new2", "hello")):
        shutil.copy(testbins / source, tmp_path / name)  # as before the native run
    time.sleep(2.2)
    emulated = subprocess.run([sys.executable, "-m", "pykern", "run", BUSYBOX, "sh", "-c", SCRIPT], cwd=tmp_path,
                              env=env, capture_output=True, timeout=TIMEOUT, check=False)
    assert native.returncode == 0 and b"argv[1]=three" in native.stdout
    assert (emulated.returncode, emulated.stdout, emulated.stderr) == (native.returncode, native.stdout,
                                                                       native.stderr)
