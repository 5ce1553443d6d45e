"""Limits that protect the host, and a guest's lifetime as the shell sees it (issue 16):
--max-tasks, --timeout, signals sent to pykern, and orphans that outlive the first
process. pykern-only behaviour; where Linux has an answer, it is asked."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT

TIMEOUT = 60
PYKERN = [sys.executable, "-m", "pykern", "run"]


def pykern(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([*PYKERN, *args], cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, check=False)


def test_max_tasks_contains_a_fork_bomb(built_testbins) -> None:
    done = pykern("--max-tasks", "50", "./testbins/pykern_only/forkbomb")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"forks: 49, then EAGAIN\nreaped: 49\n"  # pykern's init does not count
    assert done.stderr == b""


def test_max_tasks_is_threads_max() -> None:
    done = pykern("--max-tasks", "123", "/bin/cat", "/proc/sys/kernel/threads-max")
    assert done.stdout == b"123\n"
    assert pykern("/bin/cat", "/proc/sys/kernel/threads-max").stdout == b"4096\n"


def test_bad_limit_options_are_usage_errors() -> None:
    for option in (["--max-tasks", "0"], ["--max-tasks", "x"], ["--timeout", "0"], ["--timeout", "-1"],
                   ["--timeout", "nan"]):
        done = pykern(*option, "/bin/true")
        assert done.returncode == 2, option
        assert b"Traceback" not in done.stderr


def test_timeout_ends_a_spinning_guest() -> None:
    start = time.monotonic()
    done = pykern("--timeout", "1", "/bin/sh", "-c", "echo before; while :; do :; done")
    assert time.monotonic() - start < 20
    assert done.returncode == 124
    assert done.stdout == b"before\n"  # what was written before the kill is all there
    assert done.stderr.decode().startswith("pykern: timed out after 1 s")


def test_timeout_kills_what_ignores_sigterm() -> None:
    start = time.monotonic()
    done = pykern("--timeout", "0.5", "--kill-after", "0.5", "/bin/sh", "-c", "trap '' TERM; sleep 30")
    assert time.monotonic() - start < 20
    assert done.returncode == 124
    assert b"timed out" in done.stderr


def test_a_guest_that_finishes_in_time_keeps_its_status() -> None:
    done = pykern("--timeout", "30", "/bin/sh", "-c", "exit 7")
    assert done.returncode == 7 and done.stderr == b""


def test_host_signals_reach_the_first_process(built_testbins) -> None:
    """SIGUSR1, SIGUSR2 and a real-time signal sent to pykern go to the program (they used
    to kill pykern)."""
    proc = subprocess.Popen([*PYKERN, "./testbins/pykern_only/waitsig"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 3):
            proc.send_signal(sig)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == b"got SIGUSR1, SIGUSR2 and SIGRTMIN+3\n"


def test_timeout1_ends_the_whole_guest_group() -> None:
    """timeout(1) signals its whole process group: natively bash, sleep and cat all get
    SIGTERM, so under pykern the guest's whole group does too (it used to wait for sleep)."""
    command = ["timeout", "1", *PYKERN, "/bin/bash", "-c", "sleep 30 | cat"]
    start = time.monotonic()
    done = subprocess.run(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                          check=False)
    assert time.monotonic() - start < 10
    assert done.returncode == 124


def test_orphans_outlive_the_first_process() -> None:
    """`sleep & echo` returns at once with the first process's status, as natively; the
    orphan runs on (in a detached pykern) and its output still arrives."""
    script = "(sleep 5; echo late) & echo early; exit 3"
    start = time.monotonic()
    proc = subprocess.Popen([*PYKERN, "/bin/sh", "-c", script], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        status = proc.wait(timeout=TIMEOUT)
        returned = time.monotonic() - start
        out, err = proc.communicate(timeout=TIMEOUT)  # EOF once the orphan is done
    finally:
        proc.kill()
    native = subprocess.run(["/bin/sh", "-c", script], capture_output=True, timeout=TIMEOUT, check=False)
    assert status == native.returncode == 3
    assert returned < 4  # it did not wait for the orphan's sleep
    assert out == native.stdout == b"early\nlate\n"
    assert err == native.stderr


def test_oom_killer_kills_the_hog_and_the_rest_runs_on(built_testbins) -> None:
    done = pykern("--max-memory", "256M", "./testbins/pykern_only/memhog")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"hog: killed by SIGKILL\nsurvivor: still here\nsurvivor: exited 0\n"
    line = done.stderr.decode()
    assert line.startswith("pykern: Out of memory: Killed process 3 (memhog) total-vm:"), line
    assert "anon-rss:" in line and line.rstrip().endswith("oom_score_adj:0") and line.count("\n") == 1


def test_oom_killer_spares_oom_score_adj_min() -> None:
    """A process at oom_score_adj -1000 is never picked; its child that hogs memory is
    (oom_score_adj is inherited, so the child raises its own first)."""
    script = ("echo -1000 > /proc/self/oom_score_adj; "
              "sh -c 'echo 0 > /proc/self/oom_score_adj; exec ./testbins/pykern_only/memhog'; echo parent lives")
    done = pykern("--max-memory", "256M", "/bin/sh", "-c", script)
    assert done.stdout.endswith(b"parent lives\n"), done.stderr
    assert b"Out of memory: Killed process" in done.stderr


def test_max_memory_is_the_oom_score_scale() -> None:
    """/proc/PID/oom_score is the killer's badness with --max-memory as totalpages."""
    done = pykern("--max-memory", "64M", "/bin/cat", "/proc/self/oom_score")
    small = int(done.stdout)
    done = pykern("--max-memory", "64G", "/bin/cat", "/proc/self/oom_score")
    assert small > int(done.stdout)  # the same process is a bigger share of a smaller limit


def test_bad_max_memory_is_a_usage_error() -> None:
    for size in ("0", "-5M", "lots", "12Q"):
        done = pykern("--max-memory", size, "/bin/true")
        assert done.returncode == 2 and b"Traceback" not in done.stderr, size


def test_gnu_time_sees_real_use(built_testbins) -> None:
    """GNU time (wait4's rusage) shows what the guest used: CPU time split into user and
    system, the peak RSS and the minor faults, close to the native run's (ranges: the
    JIT is slower, and pykern reads a program's text in whole)."""
    time_cmd = ["/usr/bin/time", "-f", "%U %S %M %R", "./testbins/accounting"]
    if not shutil.which(time_cmd[0]):
        pytest.skip("GNU time is not installed")
    native = subprocess.run(time_cmd, cwd=REPO_ROOT, capture_output=True, timeout=TIMEOUT, check=True)
    done = pykern(*time_cmd, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == native.stdout
    user, system, maxrss, minflt = (float(x) for x in done.stderr.split())
    _, _, native_maxrss, native_minflt = (float(x) for x in native.stderr.split())
    assert user >= 0.05 and system >= 0.01  # it computes (~60 ms natively) and makes 50,000 getppid calls
    assert 0.9 * native_maxrss <= maxrss <= 1.5 * native_maxrss + 4096
    assert 0.9 * native_minflt <= minflt <= 1.5 * native_minflt + 1000


def test_overcommit_never_fails_up_front(built_testbins) -> None:
    """vm.overcommit_memory=2: mmap, brk, mprotect and fork past CommitLimit (half of
    --max-memory) fail with ENOMEM at once, and Committed_AS follows; modes 1 and 0 as
    Linux (testbins/pykern_only/overcommit checks itself)."""
    done = pykern("--max-memory", "256M", "./testbins/pykern_only/overcommit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == b""
    assert b"ok mode 2: fork fails (ENOMEM)" in done.stdout and done.stdout.endswith(b"ok mode 0: smaller ones succeed\n")


def test_meminfo_commit_lines_are_the_guests() -> None:
    done = pykern("--max-memory", "1G", "/bin/sh", "-c",
                  "grep -E '^(CommitLimit|Committed_AS):' /proc/meminfo; echo 25 > /proc/sys/vm/overcommit_ratio; "
                  "grep CommitLimit /proc/meminfo; echo 1000 > /proc/sys/vm/overcommit_kbytes; "
                  "cat /proc/sys/vm/overcommit_ratio; grep CommitLimit /proc/meminfo")
    lines = done.stdout.decode().split("\n")
    assert lines[0] == "CommitLimit:      524288 kB", done.stdout
    assert lines[1].startswith("Committed_AS:") and 0 < int(lines[1].split()[1]) < 65536
    assert lines[2] == "CommitLimit:      262144 kB"
    assert lines[3:5] == ["0", "CommitLimit:        1000 kB"]  # kbytes and ratio exclude each other


def test_host_fds_return_to_start_after_cycles(built_testbins) -> None:
    """fork/exec/exit and pipe cycles in one pykern leave its host fd count where it was:
    a reaped process lets go of its host fds at once, not when Python's cyclic garbage
    collector happens to run (the soak test's fd count used to wander). Run with the
    collector off."""
    cycle = "./testbins/exitcode 0 >/dev/null 2>&1; echo x | cat >/dev/null; (exit 3); i=$((i+1))"
    script = (f"i=0; while [ $i -lt 10 ]; do {cycle}; done; echo warm; read x; "
              f"while [ $i -lt 110 ]; do {cycle}; done; echo done; read x")
    # Python's cyclic collector off: what a reference cycle holds would stay held.
    without_gc = [sys.executable, "-c", "import gc, sys; gc.set_threshold(0); from pykern.cli import main; "
                  "sys.exit(main())", "run"]
    proc = subprocess.Popen([*without_gc, "/bin/sh", "-c", script], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    counts = []
    try:
        for expected in (b"warm\n", b"done\n"):
            assert proc.stdout.readline() == expected
            time.sleep(0.2)  # the guest is reading its stdin
            counts.append(len(os.listdir(f"/proc/{proc.pid}/fd")))
            proc.stdin.write(b"\n")
            proc.stdin.flush()
        proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    assert counts[1] == counts[0], counts
