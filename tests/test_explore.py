"""Deterministic runs and schedule exploration (issue 14), shown on testbins/pykern_only/racy:
two threads that lose updates of a shared counter when a preemption falls between a load
and a store, and a forked child that sleeps 3 s in all.

- `pykern run --deterministic --seed N`: one seed, one run (output, strace and JSON trace
  identical over 20 runs); the sleeps take no real time and the guest still sees 3 s pass.
- `pykern explore`: 200 seeds find more than one outcome, the seed of a lost update
  replays it, a deterministic program gives one outcome; the table, the replay command,
  the exit status, time limits, Ctrl-C and the progress bar.
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from argparse import Namespace
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import REPO_ROOT
from pykern.explore import TIMED_OUT, Run, format_table, group_runs, keep_first_output, report

RACY = "./testbins/pykern_only/racy"
SPIN = "./testbins/pykern_only/spin"
TIMEOUT = 120


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    """racy and spin are built by `make testbins` (testbins/pykern_only/ is not in the
    native comparison: racy's result varies natively too)."""
    done = subprocess.run(["make", "-s", RACY[2:], SPIN[2:]], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def pykern(*args: str, timeout: float = TIMEOUT, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pykern", *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          stderr=stderr, stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def table_rows(stdout: str) -> list[dict[str, str]]:
    """The rows of explore's table, by column name."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("outcome"))
    rows = []
    for line in lines[start + 1:]:
        if not line or line.startswith("..."):
            break
        number, status, out, err, runs, seed, excerpt = line.split(None, 6)
        rows.append({"outcome": number, "status": status, "stdout": out, "stderr": err, "runs": runs,
                     "seed": seed, "output": excerpt})
    return rows


# --- pykern run --deterministic ---------------------------------------------------------------


def traced_run(seed: int, directory, index: int) -> tuple:
    strace, events = directory / f"strace{index}.txt", directory / f"events{index}.jsonl"
    done = pykern("run", "--deterministic", "--seed", str(seed), "--strace", "-o", str(strace),
                  "--trace-json", str(events), RACY)
    return done.returncode, done.stdout, done.stderr, strace.read_bytes(), events.read_bytes()


def test_one_seed_one_run(tmp_path):
    """20 runs with one seed: the same stdout, stderr, status, strace text and JSON trace, to the byte."""
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: traced_run(5, tmp_path, i), range(20)))
    status, stdout, _, strace, events = results[0]
    assert b"counter: " in stdout and b"clone(" in strace and b'"syscall_entry"' in events
    assert status in (0, 1)
    for index, result in enumerate(results[1:], 1):
        for name, first, other in zip(("status", "stdout", "stderr", "strace", "trace-json"), results[0], result):
            assert other == first, f"run {index} differs from run 0 in its {name}"


def test_sleeps_take_no_real_time():
    """The child sleeps 3 s in all: under --deterministic the guest's CLOCK_MONOTONIC sees
    3 s pass, in less real time than the sleeps would take (at start-up's cost, a few
    tenths of a second; a run that really slept would need 3 s)."""
    started = time.monotonic()
    done = pykern("run", "--deterministic", RACY)
    elapsed = time.monotonic() - started
    assert done.returncode in (0, 1), done.stderr
    assert b"child: tick 3\nchild: 3 s passed\n" in done.stdout
    assert elapsed < 3.0, f"{elapsed:.2f} s of real time"


# --- pykern explore ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explored() -> subprocess.CompletedProcess:
    """200 seeds of racy, two at a time (about 10 s on two busy cores)."""
    return pykern("explore", "-n", "200", "--jobs", "2", RACY, timeout=600)


def test_seeds_find_the_race(explored):
    """200 seeds give at least two outcomes, among them a lost update; explore exits 1."""
    output = explored.stdout.decode()
    assert explored.returncode == 1, output + explored.stderr.decode()
    assert explored.stderr == b"", "no progress bar when stderr is not a terminal"
    first = output.splitlines()[0]
    match = re.fullmatch(rf"pykern explore: 200 runs of {RACY}, seeds 0 to 199: (\d+) outcomes", first)
    assert match and int(match[1]) >= 2, first
    rows = table_rows(output)
    assert {"0", "1"} <= {row["status"] for row in rows}
    assert any("updates lost" in row["output"] for row in rows)
    assert sum(int(row["runs"]) for row in rows) <= 200


def test_the_seed_of_a_lost_update_replays_it(explored):
    """The replay command explore prints, run as printed, gives that outcome again: the
    same status, and stdout and stderr with the same digests."""
    output = explored.stdout.decode()
    rows = table_rows(output)
    replay = output.splitlines()[-1]
    assert replay.startswith(f"replay outcome 2: pykern run --deterministic --seed {rows[1]['seed']} {RACY}")
    lost = next(row for row in rows if "updates lost" in row["output"])
    for row in (rows[1], lost):
        command = shlex.split(f"pykern run --deterministic --seed {row['seed']} {RACY}")
        done = pykern(*command[1:])
        assert str(done.returncode) == row["status"]
        assert hashlib.sha256(done.stdout).hexdigest().startswith(row["stdout"])
        assert hashlib.sha256(done.stderr).hexdigest().startswith(row["stderr"])
        assert row["output"] in done.stdout.decode().splitlines()


def test_one_outcome_for_a_deterministic_program():
    done = pykern("explore", "-n", "6", "-j", "2", "--seed-from", "37", "./testbins/echoargs", "a b", "c")
    output = done.stdout.decode()
    assert done.returncode == 0, output + done.stderr.decode()
    lines = output.splitlines()
    assert lines[0] == "pykern explore: 6 runs of ./testbins/echoargs 'a b' c, seeds 37 to 42: 1 outcome"
    (row,) = table_rows(output)
    assert (row["outcome"], row["status"], row["runs"], row["seed"]) == ("1", "0", "6", "37")
    assert lines[-1] == "replay: pykern run --deterministic --seed 37 ./testbins/echoargs 'a b' c"


def test_every_run_reads_the_same_stdin(tmp_path):
    data = tmp_path / "input.txt"
    data.write_bytes(b"first line\nlast line\n")
    done = pykern("explore", "-n", "3", "--stdin", str(data), "./testbins/stdin_echo")
    output = done.stdout.decode()
    assert done.returncode == 0, output + done.stderr.decode()
    (row,) = table_rows(output)
    assert row["output"] == "last line" and row["runs"] == "3"
    assert output.splitlines()[-1].endswith(f"./testbins/stdin_echo < {data}")


def test_start_time_reaches_every_run():
    done = pykern("explore", "-n", "2", "--start-time", "86400", "date", "-u", "+%F")
    output = done.stdout.decode()
    assert done.returncode == 0, output + done.stderr.decode()
    (row,) = table_rows(output)
    assert row["output"] == "1970-01-02"
    assert output.splitlines()[-1] == "replay: pykern run --deterministic --seed 0 --start-time 86400 date -u +%F"


def test_a_run_past_its_time_limit():
    """A run that never ends is killed at --timeout and counts as an outcome of its own,
    which is never an agreement: exit 1."""
    started = time.monotonic()
    done = pykern("explore", "-n", "2", "-j", "2", "--timeout", "1", SPIN, "loop")
    assert time.monotonic() - started < 30
    assert done.returncode == 1, done.stdout.decode() + done.stderr.decode()
    (row,) = table_rows(done.stdout.decode())
    assert (row["status"], row["runs"], row["output"]) == (TIMED_OUT, "2", "ready")


@pytest.mark.parametrize(("args", "message"), [
    ((), "required: -n/--runs"),
    (("-n", "3"), "required: PROG"),
    (("-n", "0", "./testbins/hello"), "must be positive"),
    (("-n", "3", "--seed-from", "-1", "./testbins/hello"), "must not be negative"),
    (("-n", "3", "./testbins/no-such-program"), "./testbins/no-such-program: No such file or directory"),
    (("-n", "3", "no-such-program-in-path"), "no-such-program-in-path: command not found"),
    (("-n", "3", "--stdin", "/nonexistent/input", "./testbins/hello"), "No such file or directory"),
])
def test_usage_errors(args, message):
    done = pykern("explore", *args)
    assert done.returncode == 2
    assert message in done.stderr.decode() and b"Traceback" not in done.stderr
    assert done.stdout == b""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_kills_every_run(sig):
    """Ctrl-C (or SIGTERM): explore kills the runs under way (and the pykern processes they
    are), prints what it has, and exits 128 + the signal."""
    marker = f"explore-test-{uuid.uuid4()}"

    def marked() -> list[str]:
        return processes_with(marker)

    process = subprocess.Popen([sys.executable, "-m", "pykern", "explore", "-n", "4", "-j", "2", SPIN, "loop",
                                marker], cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(marked()) < 3 and time.monotonic() < deadline:  # explore and its two runs
        time.sleep(0.1)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + sig, stdout.decode() + stderr.decode()
    assert b"interrupted after 0 of 4 runs" in stdout and b"Traceback" not in stderr
    assert not marked(), "processes left behind"


def processes_with(marker: str) -> list[str]:
    """The host's processes with `marker` in their command line (a forked run keeps explore's)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except (OSError, NotADirectoryError):
            pass
    return found


def test_progress_bar_on_a_terminal():
    """On a terminal, a progress bar on stderr, erased at the end; the table is the same."""
    controller, terminal = pty.openpty()
    try:
        done = pykern("explore", "-n", "3", "./testbins/hello", stderr=terminal)
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not data:
                break
            shown += data
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert done.returncode == 0
    assert b"] 3/3 runs, 1 outcome" in shown and b"\r[" in shown
    assert done.stdout.decode().splitlines()[0].endswith("seeds 0 to 2: 1 outcome")


# --- the table, without running anything ------------------------------------------------------


def test_table_format():
    """Most frequent outcome first; the others show the first line where they differ from
    it; digests are sha256 prefixes; past ten outcomes, one line sums up the rest."""
    runs = [Run(seed, 0, b"start\ncounter: 10\n", b"") for seed in (3, 1, 2)]
    runs.append(Run(7, 1, b"start\ncounter: 9, 1 lost\n", b""))
    runs.append(Run(8, 0, b"start\ncounter: 10\n", b"warning\x07\n"))
    runs.append(Run(9, TIMED_OUT, b"", b""))
    groups = group_runs(runs)
    assert [g.seeds for g in groups] == [[1, 2, 3], [7], [8], [9]]
    lines = format_table(groups)
    assert lines[0].split() == ["outcome", "status", "stdout", "stderr", "runs", "first", "seed", "output"]
    digest = hashlib.sha256(b"start\ncounter: 10\n").hexdigest()[:8]
    empty = hashlib.sha256(b"").hexdigest()[:8]
    assert lines[1].split(None, 6) == ["1", "0", digest, empty, "3", "1", "counter: 10"]
    assert lines[2].split(None, 6)[-1] == "counter: 9, 1 lost"
    assert lines[3].split(None, 6)[-1] == "stderr: warning\\x07"
    assert lines[4].split(None, 6)[1:] == ["timeout", empty, empty, "1", "9", "(no output before the time limit)"]
    many = group_runs([Run(seed, 1, b"%d\n" % seed, b"") for seed in range(13)])
    lines = format_table(many)
    assert len(lines) == 1 + 10 + 1 and lines[-1] == "... and 3 more outcomes in 3 runs"


def test_report_names_the_replay_command():
    options = Namespace(prog="./my prog", args=["--flag", "it's"], stdin=None, start_time=None)
    groups = group_runs([Run(4, 0, b"ok\n", b""), Run(5, 0, b"ok\n", b""), Run(6, 1, b"bad\n", b"")])
    lines = report(groups, range(4, 7), 3, False, options)
    assert lines[0] == "pykern explore: 3 runs of './my prog' --flag 'it'\"'\"'s', seeds 4 to 6: 2 outcomes"
    assert lines[-1] == ("replay outcome 2: pykern run --deterministic --seed 6 './my prog' --flag 'it'\"'\"'s'")
    assert shlex.split(lines[-1].split(": ", 1)[1])[-2:] == ["--flag", "it's"]
    options = Namespace(prog="p", args=[], stdin="in put", start_time=86400)
    interrupted = report(groups[:1], range(0, 10), 2, 2, options)
    assert interrupted[1] == "pykern explore: interrupted after 2 of 10 runs"
    assert interrupted[-1] == "replay: pykern run --deterministic --seed 4 --start-time 86400 p < 'in put'"


def test_only_the_first_seed_keeps_its_output():
    """Runs end out of order; of each outcome, the lowest seed's run keeps the output the
    excerpt is taken from, the others drop theirs."""
    firsts = {}
    runs = [Run(seed, 0, b"same\n", b"") for seed in (5, 2, 9)]
    for run in runs:
        keep_first_output(firsts, run)
    assert [run.stdout for run in runs] == [b"", b"same\n", b""]
    (group,) = group_runs(runs)
    assert group.first is runs[1] and group.seeds == [2, 5, 9]
