"""--deterministic (issue 14): the same inputs give byte-identical runs — stdout, stderr,
exit status, --strace and --trace-json — for programs with threads, processes, pipes,
futexes, signals and timers; sleeps take no real time while the guest sees them pass;
--seed chooses the schedule and the random bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pykern

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120

# Testbins with threads, fork, futexes, pipes, signals and timers.
RACY_ENOUGH = ["threads", "forkloop", "futex_ops", "pipe_pingpong", "posix_timers", "timerfd", "signals",
               "preempt", "sigstorm", "spawn", "clock_consistency"]


def run_traced(tmp_path: Path, name: str, run: int, *options: str) -> tuple[int, bytes, bytes, bytes, bytes]:
    """One --deterministic run of testbin `name` under --strace and --trace-json:
    (status, stdout, stderr, strace text, trace-json text)."""
    strace, events = tmp_path / f"{name}.{run}.strace", tmp_path / f"{name}.{run}.jsonl"
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--deterministic", *options,
                           "--strace", "-o", str(strace), "--trace-json", str(events), f"testbins/{name}"],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    return done.returncode, done.stdout, done.stderr, strace.read_bytes(), events.read_bytes()


@pytest.mark.parametrize("name", RACY_ENOUGH)
def test_two_runs_are_identical(built_testbins: str, tmp_path: Path, name: str) -> None:
    first = run_traced(tmp_path, name, 1)
    second = run_traced(tmp_path, name, 2)
    assert first[0] == 0, first[2].decode(errors="replace")
    for what, a, b in zip(("status", "stdout", "stderr", "strace", "trace-json"), first, second):
        assert a == b, f"{name}: the two runs' {what} differ"


def test_a_seed_replays_and_seeds_differ(built_testbins: str, tmp_path: Path) -> None:
    """The same seed gives the same schedule; among a few seeds, the schedules (the order
    of the traced events' threads) are not all the same, while the output is."""
    assert run_traced(tmp_path, "threads", 1, "--seed", "3") == run_traced(tmp_path, "threads", 2, "--seed", "3")
    schedules, outputs = set(), set()
    for seed in range(1, 6):
        status, stdout, _, _, events = run_traced(tmp_path, "threads", 10 + seed, "--seed", str(seed))
        assert status == 0
        outputs.add(stdout)
        schedules.add(tuple(json.loads(line).get("tid") for line in events.splitlines()))
    assert len(outputs) == 1
    assert len(schedules) > 1


def test_sleep_takes_no_real_time_but_guest_time_passes() -> None:
    started = time.monotonic()
    result = pykern.run(["/bin/sh", "-c", "date +%s.%N; sleep 3; date +%s.%N; cat /proc/uptime"],
                        deterministic=True)
    took = time.monotonic() - started
    assert result.ok, result.report()
    before, after, uptime = result.stdout.decode().split("\n")[:3]
    assert float(after) - float(before) >= 3.0
    assert float(before) >= 946684800.0 and float(before) < 946684801.0  # the default start: 2000-01-01
    assert float(uptime.split()[0]) >= 13.0  # booted at 10 s of CLOCK_MONOTONIC, then slept 3 s
    assert took < 3.0, f"sleep 3 took {took:.2f} s of real time"  # (about 0.3 s on a quiet machine)


def test_start_time_and_randomness_follow_the_options() -> None:
    script = "date +%s; head -c 16 /dev/urandom | od -An -tx1"
    first = pykern.run(["/bin/sh", "-c", script], deterministic=True, start_time=1_700_000_000)
    again = pykern.run(["/bin/sh", "-c", script], deterministic=True, start_time=1_700_000_000)
    other = pykern.run(["/bin/sh", "-c", script], seed=9, start_time=1_700_000_000)
    assert first.stdout == again.stdout
    assert first.stdout.startswith(b"1700000000\n")
    assert other.stdout.split(b"\n")[0] == b"1700000000" and other.stdout != first.stdout


def test_getrandom_and_at_random_are_seeded(built_testbins: str) -> None:
    """The auxv testbin prints nothing random; the strace shows getrandom's bytes (glibc's
    malloc asks for them) and AT_RANDOM feeds the stack protector: same seed, same trace."""
    runs = [pykern.run([str(REPO_ROOT / "testbins/threads")], seed=4, strace=True) for _ in range(2)]
    assert runs[0].ok and runs[0].strace == runs[1].strace


def test_the_machine_is_fixed() -> None:
    script = "cat /proc/loadavg; head -2 /proc/meminfo; ls -l --full-time /proc/self/fd/ | tail -1"
    result = pykern.run(["/bin/sh", "-c", script], deterministic=True)
    assert result.ok
    text = result.stdout.decode()
    assert text.startswith("0.00 0.00 0.00 ")
    assert "MemTotal:        4194304 kB" in text
    assert "2000-01-01 00:00:00" in text
    assert result.stdout == pykern.run(["/bin/sh", "-c", script], deterministic=True).stdout
