"""`pykern explore -n RUNS [--jobs J] [--seed-from K] PROG [ARGS...]`: schedule exploration.

Runs `pykern run --deterministic --seed S PROG ARGS...` for RUNS seeds S = K, K+1, ...,
J subprocesses at a time, each with the same stdin (a file, or /dev/null) and a time
limit. A deterministic run is a function of its inputs and its seed, so two seeds whose
runs differ have found two schedules that give different results: a race. The runs are
grouped by outcome (exit status, and digests of stdout and stderr), and the table shows
each outcome with its count, its first seed and a short excerpt, followed by the command
that replays it. Exit status, as diff(1)'s: 0 when every run agreed, 1 when outcomes
differ (or a run did not finish), 2 for trouble (usage, no such program).

Imported by pykern.cli for every command line, so the module itself imports only what
argparse needs; the rest comes when explore runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

TROUBLE_EXIT = 2
INTERRUPTED_EXIT = 130
DEFAULT_RUN_TIMEOUT = 60.0
MAX_ROWS = 10  # outcomes shown in the table; the rest are summed up in one line
EXCERPT_CHARS = 60
DIGEST_CHARS = 8
PROGRESS_WIDTH = 30
TIMED_OUT = "timeout"


def configure(parser: argparse.ArgumentParser) -> None:
    """explore's arguments, on the subcommand's parser (pykern.cli.build_parser)."""
    from pykern.cli import positive_float, positive_int

    parser.add_argument("-n", "--runs", type=positive_int, required=True, metavar="RUNS",
                        help="how many runs (seeds) to try")
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="J",
                        help="runs at a time (default: the CPUs pykern may use)")
    parser.add_argument("--seed-from", type=seed_number, default=0, metavar="K",
                        help="the first seed; the runs use K, K+1, ... (default 0)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_RUN_TIMEOUT, metavar="SECONDS",
                        help="kill a run after SECONDS of real time; it counts as an outcome of its own "
                             f"(default {DEFAULT_RUN_TIMEOUT:g})")
    parser.add_argument("--stdin", metavar="FILE", help="every run reads FILE as its stdin (default /dev/null)")
    parser.add_argument("prog", nargs="?", metavar="PROG", help="the program (a path, or a name looked up in PATH)")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for PROG")


def seed_number(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


# --- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a run ended with: the shell's exit status (128 + signal when pykern was killed),
    or TIMED_OUT, and its output's digests."""
    status: int | str
    stdout_digest: str
    stderr_digest: str


@dataclass
class Run:
    seed: int
    outcome: Outcome
    stdout: bytes
    stderr: bytes


def run_command(seed: int, prog: str, args: Sequence[str]) -> list[str]:
    """The replay command's argv after `pykern`."""
    return ["run", "--deterministic", "--seed", str(seed), prog, *args]


def program_text(prog: str, args: Sequence[str]) -> str:
    import shlex

    return " ".join(map(shlex.quote, [prog, *args]))


def replay_text(seed: int, prog: str, args: Sequence[str], stdin: str | None) -> str:
    import shlex

    command = " ".join(map(shlex.quote, ["pykern", *run_command(seed, prog, args)]))
    return command + (f" < {shlex.quote(stdin)}" if stdin else "")


class Runner:
    """Starts the runs as subprocesses (each in a session of its own, so that a time limit or
    Ctrl-C kills pykern and every copy of it, detached orphans included), and kills
    the live ones on request."""

    def __init__(self, prog: str, args: Sequence[str], stdin: str | None, timeout: float) -> None:
        import threading

        self.prog, self.args, self.stdin, self.timeout = prog, list(args), stdin, timeout
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run(self, seed: int) -> Run | None:
        """One run, in a worker thread; None when explore is being interrupted."""
        import hashlib
        import subprocess

        command = [sys.executable, "-m", "pykern", *run_command(seed, self.prog, self.args)]
        with open(self.stdin or os.devnull, "rb") as stdin, self.lock:
            if self.stopping:
                return None
            process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       start_new_session=True)
            self.live.add(process)
        try:
            stdout, stderr = process.communicate(timeout=self.timeout)
            status: int | str = 128 - process.returncode if process.returncode < 0 else process.returncode
        except subprocess.TimeoutExpired:
            self.kill(process)
            stdout, stderr = process.communicate()
            status = TIMED_OUT
        finally:
            with self.lock:
                self.live.discard(process)
        if self.stopping:
            return None
        outcome = Outcome(status, hashlib.sha256(stdout).hexdigest(), hashlib.sha256(stderr).hexdigest())
        return Run(seed, outcome, stdout, stderr)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        import signal

        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Ctrl-C: start nothing more, kill what runs."""
        with self.lock:
            self.stopping = True
            for process in self.live:
                self.kill(process)


# --- grouping and the table -------------------------------------------------------------------


@dataclass
class Group:
    """The runs that ended with one outcome; the first (lowest seed) keeps its output."""
    first: Run
    seeds: list[int] = field(default_factory=list)


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Outcomes, the most frequent first (ties: the lower first seed)."""
    groups: dict[Outcome, Group] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        groups.setdefault(run.outcome, Group(run)).seeds.append(run.seed)
    return sorted(groups.values(), key=lambda g: (-len(g.seeds), g.first.seed))


def printable(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 0x100 else "?" for c in text)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 3] + "..."


def excerpt(run: Run, reference: Run | None) -> str:
    """A line that tells this outcome apart: for the most common outcome (reference None),
    the last line of its stdout (else of its stderr); for the others, the first line where
    stdout (then stderr) differs from the most common outcome's."""
    if run.outcome.status == TIMED_OUT and not run.stdout and not run.stderr:
        return "(no output before the time limit)"
    streams = (("", run.stdout, reference.stdout if reference else None),
               ("stderr: ", run.stderr, reference.stderr if reference else None))
    for label, data, other in streams:
        lines = data.splitlines()
        if other is None:
            nonblank = [line for line in lines if line.strip()]
            if nonblank:
                return label + printable(nonblank[-1])
            continue
        if data == other:
            continue
        other_lines = other.splitlines()
        for index, line in enumerate(lines):
            if index >= len(other_lines) or line != other_lines[index]:
                return label + printable(line)
        return label + "(ends early)" if len(lines) < len(other_lines) else label + "(a newline differs)"
    return "(same output)" if reference is not None else "(no output)"


def format_table(groups: Sequence[Group]) -> list[str]:
    """outcome, status, digests, count, first seed, excerpt: one row per outcome."""
    header = ("outcome", "status", "stdout", "stderr", "runs", "first seed", "output")
    rows = []
    reference = groups[0].first if groups else None
    for number, group in enumerate(groups[:MAX_ROWS], 1):
        outcome = group.first.outcome
        rows.append((str(number), str(outcome.status), outcome.stdout_digest[:DIGEST_CHARS],
                     outcome.stderr_digest[:DIGEST_CHARS], str(len(group.seeds)), str(group.first.seed),
                     excerpt(group.first, None if number == 1 else reference)))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) if i >= 2 and i < 4 else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    hidden = groups[MAX_ROWS:]
    if hidden:
        lines.append(f"... and {len(hidden)} more outcomes in {sum(len(g.seeds) for g in hidden)} runs")
    return lines


class Progress:
    """A one-line progress bar on stderr, redrawn after each run; only on a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.shown = sys.stderr.isatty()

    def update(self, done: int, outcomes: int) -> None:
        if not self.shown:
            return
        filled = PROGRESS_WIDTH * done // self.total
        bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
        plural = "" if outcomes == 1 else "s"
        sys.stderr.write(f"\r[{bar}] {done}/{self.total} runs, {outcomes} outcome{plural} ")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * (PROGRESS_WIDTH + 40) + "\r")
            sys.stderr.flush()


# --- the command ------------------------------------------------------------------------------


def explore(options: argparse.Namespace) -> int:
    from pykern.cli import find_program

    if options.prog is None:
        print("pykern explore: error: the following arguments are required: PROG", file=sys.stderr)
        return TROUBLE_EXIT
    if find_program(options.prog) is None:
        print(f"pykern explore: {options.prog}: command not found", file=sys.stderr)
        return TROUBLE_EXIT
    if options.stdin is not None:
        try:
            with open(options.stdin, "rb"):
                pass
        except OSError as error:
            print(f"pykern explore: {options.stdin}: {error.strerror}", file=sys.stderr)
            return TROUBLE_EXIT
    jobs = options.jobs or len(os.sched_getaffinity(0))
    seeds = range(options.seed_from, options.seed_from + options.runs)
    runner = Runner(options.prog, options.args, options.stdin, options.timeout)
    runs, interrupted = run_all(runner, seeds, jobs)

    groups = group_runs(runs)
    last = seeds[0] + len(runs) - 1 if runs else seeds[0]
    outcomes = "1 outcome" if len(groups) == 1 else f"{len(groups)} outcomes"
    print(f"pykern explore: {len(runs)} runs of {program_text(options.prog, options.args)}, "
          f"seeds {seeds[0]} to {last}: {outcomes}")
    if interrupted:
        print(f"pykern explore: interrupted after {len(runs)} of {len(seeds)} runs")
    if not groups:
        return INTERRUPTED_EXIT if interrupted else TROUBLE_EXIT
    print()
    for line in format_table(groups):
        print(line)
    print()
    for number, group in enumerate(groups[:MAX_ROWS], 1):
        print(f"replay {number}: {replay_text(group.first.seed, options.prog, options.args, options.stdin)}")
    sys.stdout.flush()
    if interrupted:
        return INTERRUPTED_EXIT
    agreed = len(groups) == 1 and groups[0].first.outcome.status != TIMED_OUT
    return 0 if agreed else 1


def run_all(runner: Runner, seeds: range, jobs: int) -> tuple[list[Run], bool]:
    """Every seed's run, `jobs` at a time; stops early (interrupted True) on Ctrl-C."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    progress = Progress(len(seeds))
    runs: list[Run] = []
    outcomes: set[Outcome] = set()
    executor = ThreadPoolExecutor(max_workers=jobs)
    pending = {executor.submit(runner.run, seed) for seed in seeds}
    interrupted = False
    try:
        progress.update(0, 0)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                run = future.result()
                if run is not None:
                    runs.append(run)
                    outcomes.add(run.outcome)
            if done:
                progress.update(len(runs), len(outcomes))
    except KeyboardInterrupt:
        interrupted = True
        runner.stop()
        for future in pending:
            future.cancel()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        progress.clear()
    return runs, interrupted
