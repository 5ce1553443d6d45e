"""`pykern explore -n RUNS [--jobs J] [--seed-from K] PROG [ARGS...]`: schedule exploration.

Runs `pykern run --deterministic --seed S PROG ARGS...` for RUNS seeds S = K, K+1, ...,
J child processes at a time (see Runner), each with the same stdin (a file, or
/dev/null) and a time limit. A deterministic run is a function of its inputs and its seed, so two seeds whose
runs differ have found two schedules that give different results: a race. The runs are
grouped by outcome (exit status, and digests of stdout and stderr), and the table shows
each outcome with its count, its first seed and a short excerpt, followed by the command
that replays it. Exit status, as diff(1)'s: 0 when every run agreed, 1 when outcomes
differ (or a run did not finish), 2 for trouble (usage, no such program).

Imported by pykern.cli for every command line (for its arguments), so the module itself
imports little; the rest comes when explore runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

TROUBLE_EXIT = 2
DEFAULT_RUN_TIMEOUT = 60.0
MAX_ROWS = 10  # outcomes shown in the table; the rest are summed up in one line
EXCERPT_CHARS = 60
DIGEST_CHARS = 8
PROGRESS_WIDTH = 30
TIMED_OUT = "timeout"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # explore kills its runs and stops


def configure(parser: argparse.ArgumentParser) -> None:
    """explore's arguments, on the subcommand's parser (pykern.cli.build_parser)."""
    from pykern.cli import non_negative_int, positive_float, positive_int

    parser.add_argument("-n", "--runs", type=positive_int, required=True, metavar="RUNS",
                        help="how many runs (seeds) to try")
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="J",
                        help="runs at a time (default: the CPUs pykern may use)")
    parser.add_argument("--seed-from", type=non_negative_int, default=0, metavar="K",
                        help="the first seed; the runs use K, K+1, ... (default 0)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_RUN_TIMEOUT, metavar="SECONDS",
                        help="kill a run after SECONDS of real time; it counts as an outcome of its own "
                             f"(default {DEFAULT_RUN_TIMEOUT:g})")
    parser.add_argument("--stdin", metavar="FILE", help="every run reads FILE as its stdin (default /dev/null)")
    parser.add_argument("--start-time", type=non_negative_int, default=None, metavar="EPOCH_SECONDS",
                        help="passed on to every run (pykern run --start-time)")
    parser.add_argument("prog", nargs="?", metavar="PROG", help="the program (a path, or a name looked up in PATH)")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for PROG")


# --- one run ----------------------------------------------------------------------------------


class Outcome:
    """What a run ended with: the shell's exit status (128 + signal when pykern was killed),
    or TIMED_OUT, and its output's digests. Runs with equal outcomes agreed.

    (Plain classes here, not dataclasses: pykern.cli imports this module for every command
    line: with four dataclasses, importing it took 1.5 ms of `pykern run`'s start-up; now 0.25 ms.)"""

    __slots__ = ("status", "stdout_digest", "stderr_digest")

    def __init__(self, status: int | str, stdout: bytes, stderr: bytes) -> None:
        import hashlib

        self.status = status
        self.stdout_digest = hashlib.sha256(stdout).hexdigest()
        self.stderr_digest = hashlib.sha256(stderr).hexdigest()

    def _key(self) -> tuple:
        return (self.status, self.stdout_digest, self.stderr_digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class Run:
    """A run that ended: its seed, outcome and output."""

    __slots__ = ("seed", "outcome", "stdout", "stderr")

    def __init__(self, seed: int, status: int | str, stdout: bytes, stderr: bytes) -> None:
        self.seed, self.stdout, self.stderr = seed, stdout, stderr
        self.outcome = Outcome(status, stdout, stderr)


def run_command(seed: int, options: argparse.Namespace) -> list[str]:
    """The replay command's argv after `pykern`."""
    start_time = [] if options.start_time is None else ["--start-time", str(options.start_time)]
    return ["run", "--deterministic", "--seed", str(seed), *start_time, options.prog, *options.args]


def program_text(prog: str, args: Sequence[str]) -> str:
    import shlex

    return " ".join(map(shlex.quote, [prog, *args]))


def replay_text(seed: int, options: argparse.Namespace) -> str:
    import shlex

    command = " ".join(map(shlex.quote, ["pykern", *run_command(seed, options)]))
    return command + (f" < {shlex.quote(options.stdin)}" if options.stdin else "")


class Child:
    """A run under way: its pid, its time limit, and the read ends of its stdout and stderr
    pipes with what came through them (a pipe leaves `open` at EOF)."""

    __slots__ = ("seed", "pid", "deadline", "stdout_fd", "stderr_fd", "output", "open", "timed_out")

    def __init__(self, seed: int, pid: int, deadline: float, stdout_fd: int, stderr_fd: int) -> None:
        self.seed, self.pid, self.deadline = seed, pid, deadline
        self.stdout_fd, self.stderr_fd = stdout_fd, stderr_fd
        self.output = {stdout_fd: bytearray(), stderr_fd: bytearray()}
        self.open = {stdout_fd, stderr_fd}
        self.timed_out = False


class Runner:
    """Starts the runs and collects them, J at a time.

    Each run is a child process, forked from this one once pykern's modules are loaded and
    its syscall table built: then the child runs `pykern run` (pykern.cli.entry, the console
    script's own path) with its stdin, stdout and stderr on a file and two pipes. Measured
    on testbins/pykern_only/racy, 40 seeds one at a time: a fresh `pykern run` each costs
    90 ms of CPU time (most of it Python's start-up and imports; 0.2 s where Python may
    not cache bytecode), a forked run 33 ms; 3.3 s of real time in all instead of 7.4 s.
    A child is the leader of a session of its own, so that its time limit or Ctrl-C kills
    pykern and every process it made at once. This process has no
    threads (forking a threaded process is unsafe): one loop waits on all the pipes."""

    def __init__(self, options: argparse.Namespace) -> None:
        import selectors

        self.options = options
        self.selector = selectors.DefaultSelector()
        self.live: dict[int, Child] = {}  # pid -> child
        self.parent_fds: set[int] = set()  # the pipes' read ends, which no child may keep open

    @staticmethod
    def warm_up() -> None:
        """Load in this process what every run would load: the CPU (libunicorn), the kernel and
        the syscall table's modules."""
        import pykern.kernel  # noqa: F401
        from pykern.syscalls.table import build_table

        build_table()

    def start(self, seed: int) -> None:
        import selectors
        import time

        stdin = os.open(self.options.stdin or os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        sys.stdout.flush()  # (or the child would write this process's buffered output too)
        sys.stderr.flush()
        # No interruption between the fork and `live`: a run started must be one stop() kills.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child(seed, mask, stdin, stdout_w, stderr_w, (stdout_r, stderr_r, *self.parent_fds))
            for fd in (stdin, stdout_w, stderr_w):
                os.close(fd)
            child = Child(seed, pid, time.monotonic() + self.options.timeout, stdout_r, stderr_r)
            for fd in (stdout_r, stderr_r):
                self.selector.register(fd, selectors.EVENT_READ, child)
                self.parent_fds.add(fd)
            self.live[pid] = child
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _child(self, seed: int, mask: set, stdin: int, stdout: int, stderr: int, inherited: Sequence[int]) -> None:
        """In the forked child: become `pykern run --deterministic --seed SEED PROG ARGS`.
        Never returns."""
        status = 1
        try:
            os.setsid()
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in inherited:
                os.close(fd)
            for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
                os.dup2(fd, target)
                os.close(fd)
            fresh_std_streams()
            sys.argv = ["pykern", *run_command(seed, self.options)]
            from pykern.cli import entry

            entry()  # ends the process
        except SystemExit as exit:  # argparse's usage errors, SystemExit("pykern: ...")
            if isinstance(exit.code, int) or exit.code is None:
                status = exit.code or 0
            else:
                print(exit.code, file=sys.stderr)
        except BaseException:  # as Python reports an exception nobody caught
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)

    def collect(self) -> list[Run]:
        """Wait a little for the live runs: read their output, kill those past their time
        limit; return the runs that ended (every pipe at EOF and the process reaped)."""
        import time

        now = time.monotonic()
        waiting = [child for child in self.live.values() if not child.open]  # only the process is left
        timeout = 0.01 if waiting else max(0.0, min(child.deadline for child in self.live.values()) - now)
        for key, _ in self.selector.select(min(timeout, 1.0)):
            child = key.data
            data = os.read(key.fd, 1 << 16)
            if data:
                child.output[key.fd] += data
            else:
                self._close(child, key.fd)
        now = time.monotonic()
        ended = []
        for child in list(self.live.values()):
            if not child.timed_out and now >= child.deadline:
                child.timed_out = True
                kill_session(child.pid)
            if child.open:
                continue
            pid, wait_status = os.waitpid(child.pid, os.WNOHANG)
            if pid == 0:
                continue
            del self.live[child.pid]
            code = os.waitstatus_to_exitcode(wait_status)
            status: int | str = TIMED_OUT if child.timed_out else 128 - code if code < 0 else code
            ended.append(Run(child.seed, status, bytes(child.output[child.stdout_fd]),
                             bytes(child.output[child.stderr_fd])))
        return ended

    def _close(self, child: Child, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        child.open.discard(fd)
        self.parent_fds.discard(fd)

    def stop(self) -> None:
        """Ctrl-C: kill every live run and reap it."""
        for child in list(self.live.values()):
            kill_session(child.pid)
            for fd in list(child.open):
                self._close(child, fd)
            os.waitpid(child.pid, 0)
        self.live.clear()


def kill_session(pid: int) -> None:
    """SIGKILL to the run's process group (its session: pykern and its detached copy)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def fresh_std_streams() -> None:
    """sys.stdin, stdout and stderr anew on fds 0-2, buffered as a fresh Python process
    buffers them (stdout by lines only on a terminal; stderr always by lines), so that a
    forked run writes exactly as `pykern run` would."""
    sys.stdin = open(0, closefd=False, encoding=sys.stdin.encoding, errors=sys.stdin.errors)
    sys.stdout = open(1, "w", closefd=False, encoding=sys.stdout.encoding, errors=sys.stdout.errors)
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding=sys.stderr.encoding, errors="backslashreplace")


# --- grouping and the table -------------------------------------------------------------------


class Group:
    """The runs that ended with one outcome; the first (lowest seed) keeps its output."""

    __slots__ = ("first", "seeds")

    def __init__(self, first: Run) -> None:
        self.first = first
        self.seeds: list[int] = []


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Outcomes, the most frequent first (ties: the lower first seed)."""
    groups: dict[Outcome, Group] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        groups.setdefault(run.outcome, Group(run)).seeds.append(run.seed)
    return sorted(groups.values(), key=lambda g: (-len(g.seeds), g.first.seed))


def printable(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else "?" for c in text)
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
    path = find_program(options.prog)
    if path is None or not os.path.exists(path):
        problem = "command not found" if path is None else "No such file or directory"
        print(f"pykern explore: {options.prog}: {problem}", file=sys.stderr)
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
    runner = Runner(options)
    runs, interrupted = run_all(runner, seeds, jobs)
    groups = group_runs(runs)
    try:
        for line in report(groups, seeds, len(runs), interrupted, options):
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # (explore ... | head): the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if interrupted:
        return 128 + interrupted  # (130 for Ctrl-C, as a shell reports it)
    if not groups:
        return TROUBLE_EXIT
    agreed = len(groups) == 1 and groups[0].first.outcome.status != TIMED_OUT
    return 0 if agreed else 1


def report(groups: Sequence[Group], seeds: range, done: int, interrupted: int,
           options: argparse.Namespace) -> list[str]:
    """The summary line, the table, and the command that replays an outcome: the one that
    differs from the most common, or the only one."""
    count = "1 outcome" if len(groups) == 1 else f"{len(groups)} outcomes"
    lines = [f"pykern explore: {done} runs of {program_text(options.prog, options.args)}, "
             f"seeds {seeds[0]} to {seeds[-1]}: {count}"]
    if interrupted:
        lines.append(f"pykern explore: interrupted after {done} of {len(seeds)} runs")
    if not groups:
        return lines
    lines += ["", *format_table(groups), ""]
    number = 1 if len(groups) == 1 else 2
    command = replay_text(groups[number - 1].first.seed, options)
    lines.append(f"replay: {command}" if number == 1 else f"replay outcome 2: {command}")
    return lines


def keep_first_output(firsts: dict[Outcome, Run], run: Run) -> None:
    """Of the runs with one outcome, only the lowest seed's keeps its output (the table's
    excerpt): 10000 runs that print a megabyte each need not hold 10 GB."""
    first = firsts.setdefault(run.outcome, run)
    if run is first:
        return
    if run.seed < first.seed:
        firsts[run.outcome] = run
        first.stdout = first.stderr = b""
    else:
        run.stdout = run.stderr = b""


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached explore."""

    def __init__(self, sig: int) -> None:
        super().__init__(sig)
        self.signal = sig


def interrupt(sig: int, frame: object) -> None:
    raise Interrupted(sig)


def run_all(runner: Runner, seeds: range, jobs: int) -> tuple[list[Run], int]:
    """Every seed's run, `jobs` at a time. Ctrl-C, SIGTERM or SIGHUP stop it early: the
    runs under way are killed, and the signal's number returned (else 0)."""
    progress = Progress(len(seeds))
    runs: list[Run] = []
    firsts: dict[Outcome, Run] = {}  # each outcome's run of the lowest seed, which keeps its output
    to_start = iter(seeds)
    interrupted = 0
    handlers = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        runner.warm_up()
        progress.update(0, 0)
        while True:
            while len(runner.live) < jobs and (seed := next(to_start, None)) is not None:
                runner.start(seed)
            if not runner.live:
                break
            ended = runner.collect()
            for run in ended:
                runs.append(run)
                keep_first_output(firsts, run)
            if ended:
                progress.update(len(runs), len(firsts))
    except Interrupted as stop:
        for sig in STOP_SIGNALS:  # (a second Ctrl-C must not interrupt the clean-up)
            signal.signal(sig, signal.SIG_IGN)
        interrupted = stop.signal
        runner.stop()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        progress.clear()
    return runs, interrupted
