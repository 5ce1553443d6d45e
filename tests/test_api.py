"""pykern from Python (pykern.api) and from pytest (pykern.pytest_plugin), issue 15.

The plugin is exercised with pytest's own `pytester` on a small sample project: C test
programs that pass, segfault, fail with output, and differ from their native run."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import pykern
from conftest import REPO_ROOT

pytest_plugins = ["pytester"]

SAMPLES = {
    "passes.c": 'int main(void) { puts("all good"); return 0; }',
    "segfaults.c": "int main(void) { *(volatile int *)0 = 1; return 0; }",
    "fails.c": 'int main(void) { fprintf(stderr, "assertion failed: 2 + 2 == 5\\n"); return 1; }',
    "pid.c": 'int main(void) { printf("%d\\n", getpid()); return 0; }',  # differs natively
    # racy: two threads add to a counter without a lock; it passes whatever the interleaving
    "racy.c": "#include <pthread.h>\nstatic long n; static void *add(void *a) { for (int i = 0; i < 100000; i++) n++;"
              " return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, add, 0); add(0);"
              ' pthread_join(t, 0); printf("%s\\n", n > 0 ? "counted" : "lost"); return n > 0 ? 0 : 1; }',
}


def compile_samples(directory: Path) -> None:
    for name, body in SAMPLES.items():
        source = directory / name
        source.write_text("#include <stdio.h>\n#include <unistd.h>\n" + body + "\n")
        subprocess.run(["gcc", "-O1", "-g", "-static", "-pthread", "-o", str(directory / name[:-2]), str(source)], check=True,
                       timeout=120)


def test_run_returns_what_the_guest_did() -> None:
    result = pykern.run(["/bin/sh", "-c", "echo out; echo err >&2; cat; exit 3"], stdin=b"fed\n")
    assert (result.stdout, result.stderr, result.exit_status, result.exit_code, result.signal) == (
        b"out\nfed\n", b"err\n", 3, 3, None)
    with pytest.raises(pykern.GuestFailed) as failed:
        result.check()
    assert "exited with status 3" in str(failed.value) and "  err" in str(failed.value)
    assert pykern.run(["./testbins/hello"], cwd=str(REPO_ROOT)).check().stdout == b"hello, world\n"


def test_run_reports_a_crash_and_traces(built_testbins) -> None:
    result = pykern.run([str(REPO_ROOT / "testbins/segv")])
    assert result.signal == 11 and result.exit_status == 139
    assert "SIGSEGV" in result.crash_report and "<main+0x" in result.crash_report
    traced = pykern.run([str(REPO_ROOT / "testbins/hello")], strace=True)
    assert any(line.startswith('write(1, "hello, world\\n", 13)') and line.endswith("= 13")
               for line in traced.strace.splitlines())
    assert any(event.get("name") == "write" for event in traced.events)


def test_run_options_and_bad_input(tmp_path: Path) -> None:
    assert pykern.run(["pwd"], cwd=str(tmp_path)).stdout == f"{tmp_path}\n".encode()
    assert pykern.run(["/bin/sh", "-c", "echo $X"], env={"X": "42", "PATH": "/usr/bin:/bin"}).stdout == b"42\n"
    slow = pykern.run(["/bin/sh", "-c", "sleep 30"], timeout=0.5)
    assert slow.timed_out and not slow.ok and "timed out" in slow.report()
    with pytest.raises(FileNotFoundError):
        pykern.run(["/no/such/program"])
    first, second = (pykern.run(["/bin/sh", "-c", "date +%s; sleep 2; date +%s"], seed=5) for _ in range(2))
    assert first.ok and first.stdout == second.stdout == b"946684800\n946684802\n"


def test_many_runs_keep_memory_and_fds_flat(built_testbins) -> None:
    def sample() -> tuple[int, int]:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1])
        return rss, len(os.listdir("/proc/self/fd"))

    for _ in range(20):  # warm up: imports, caches
        pykern.run([str(REPO_ROOT / "testbins/forkexec")]).check()
    rss_before, fds_before = sample()
    for _ in range(200):
        pykern.run([str(REPO_ROOT / "testbins/forkexec")]).check()
    rss_after, fds_after = sample()
    assert fds_after == fds_before
    assert rss_after <= rss_before * 1.05 + 256, (rss_before, rss_after)  # pages


def test_plugin_is_registered() -> None:
    assert any(entry.value == "pykern.pytest_plugin" for entry in entry_points(group="pytest11"))


@pytest.fixture
def sample_project(pytester: pytest.Pytester) -> pytest.Pytester:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed for the sample programs")
    compile_samples(pytester.path)
    return pytester


def test_bins_pass_fail_and_report(sample_project: pytest.Pytester) -> None:
    result = sample_project.runpytest_inprocess("--pykern-bins", "*", "-v",
                                                "--junitxml=report.xml")
    result.assert_outcomes(passed=3, failed=2)
    output = result.stdout.str()
    assert "passes PASSED" in output and "pid PASSED" in output and "racy PASSED" in output
    assert "killed by SIGSEGV" in output and "<main" in output and "mov dword ptr [0], 1" in output
    assert "assertion failed: 2 + 2 == 5" in output and "exited with status 1" in output
    assert 'write(2, "assertion failed: 2 + 2 == 5\\n"' in output  # its last syscalls
    junit = (sample_project.path / "report.xml").read_text()
    assert 'tests="5"' in junit and 'failures="2"' in junit and "killed by SIGSEGV" in junit


def test_bins_compare_native(sample_project: pytest.Pytester) -> None:
    result = sample_project.runpytest_inprocess("--pykern-bins", "p*",
                                                "--pykern-compare-native")
    result.assert_outcomes(passed=1, failed=1)  # passes matches; pid prints another number
    assert "differs from the native run" in result.stdout.str()


def test_fixture_failure_shows_the_guest(sample_project: pytest.Pytester) -> None:
    sample_project.makepyfile(test_it=textwrap.dedent("""
        def test_ok(pykern):
            assert pykern.run(["./passes"]).check().stdout == b"all good\\n"

        def test_crash(pykern):
            pykern.run(["./segfaults"]).check()
    """))
    result = sample_project.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "pykern run 1" in output and "killed by SIGSEGV" in output
    assert "last " in output and " syscalls:" in output  # the fixture's runs are traced


def test_seeds_run_each_program_under_several_schedules(sample_project: pytest.Pytester) -> None:
    """--pykern-seeds N: deterministic runs under seeds 0..N-1; a program whose output
    depends on the interleaving fails, naming a seed of each outcome and its replay."""
    # a load, a branch and a store: pykern preempts at block boundaries, so the branch
    # lets a quantum end between the load and the store
    (sample_project.path / "count.c").write_text(
        "#include <pthread.h>\n#include <stdio.h>\nstatic volatile long n;\n"
        "static void *add(void *a) { for (int i = 0; i < 1000000; i++) { long v = n; if (v < 0) break;"
        " n = v + 1; } return a; }\n"
        "int main(void) { pthread_t t; pthread_create(&t, 0, add, 0); add(0); pthread_join(t, 0);"
        ' printf("%ld\\n", n); return 0; }\n')
    subprocess.run(["gcc", "-O1", "-static", "-pthread", "-o", str(sample_project.path / "count"),
                    str(sample_project.path / "count.c")], check=True, timeout=120)
    result = sample_project.runpytest_inprocess("--pykern-bins", "[cp]*[st]", "--pykern-seeds", "8", "-v")
    result.assert_outcomes(passed=1, failed=1)  # passes: one outcome; count: several
    output = result.stdout.str()
    assert "passes PASSED" in output and "count FAILED" in output
    assert "different outcomes under 8 schedules" in output
    assert "pykern run --deterministic --seed 0 " in output
    usage = sample_project.runpytest_inprocess("--pykern-bins", "passes", "--pykern-seeds", "0")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR
