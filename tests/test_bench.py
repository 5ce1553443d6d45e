"""The benchmark runner (bench/run.py, `make bench`) works: a smoke test in quick mode.

Tiny sizes, one repetition, two workloads; checks the runner exits 0, writes valid JSON
with the machine description, and that pykern's output matched native's. Performance
is never asserted here: the timings of a loaded CI machine mean nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

RUNNER = REPO_ROOT / "bench" / "run.py"
WORKLOADS = ("hello", "getppid")
TIMEOUT = 120


@pytest.fixture(scope="module")
def quick_run(built_testbins: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    for program in ("hello", "bench/getppid"):
        if not (REPO_ROOT / "testbins" / program).exists():
            pytest.fail(f"testbins/{program} was not built: {built_testbins[-2000:]}")
    modes = "native,qemu,pykern" if shutil.which("qemu-x86_64") else "native,pykern"
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--only", ",".join(WORKLOADS), "--modes", modes,
         "--timeout", "60", "--json", str(out)],
        cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text())


def test_quick_run_writes_json(quick_run: tuple[subprocess.CompletedProcess, dict]) -> None:
    done, doc = quick_run
    assert doc["config"]["quick"] is True
    assert doc["config"]["reps"] == 1
    assert set(doc["workloads"]) == set(WORKLOADS)
    for key in ("cpu", "cores", "python", "unicorn", "kernel"):
        assert key in doc["machine"]
    for name in WORKLOADS:
        assert f"| {name}" in done.stdout  # a row of the printed table


def test_pykern_output_matches_native(quick_run: tuple[subprocess.CompletedProcess, dict]) -> None:
    _, doc = quick_run
    for name in WORKLOADS:
        modes = doc["workloads"][name]["modes"]
        assert modes["native"]["status"] == "ok", modes["native"]
        assert modes["pykern"]["status"] == "ok", modes["pykern"]
        assert len(modes["pykern"]["times_s"]) == 1
