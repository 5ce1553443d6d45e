"""pytest plugin (entry point `pytest11`: active once pykern is installed).

- The `pykern` fixture: `pykern.run(argv, ...)` (pykern.api) that remembers its results;
  when the test fails, the report gets a section per run with how the guest ended, its
  crash report, its stderr tail and its last syscalls.
- `--pykern-bins GLOB` (repeatable): every executable file matching GLOB becomes a test
  item that passes when the program exits 0 under pykern; a failure shows the same
  report (a segfault: the signal, the faulting instruction and its symbol).
  `--pykern-compare-native` runs each also natively and fails on any difference in
  stdout, stderr or exit status. `--pykern-timeout SECONDS` bounds each run (60).
  `--pykern-seeds N` runs each program deterministically (`pykern run --deterministic`)
  under seeds 0 to N-1, that is under N different schedules: it fails when one of them
  fails or when they do not all end alike (status, stdout, stderr), and names the seed
  and the command that replays it.
- JUnit XML is pytest's own `--junitxml`; pytest-xdist (`-n auto`) spreads the items.
"""

from __future__ import annotations

import difflib
import glob
import os
import subprocess
from pathlib import Path

import pytest

DEFAULT_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pykern", "running test binaries under pykern")
    group.addoption("--pykern-bins", action="append", default=[], metavar="GLOB",
                    help="collect each executable matching GLOB as a test that passes when it exits 0 under pykern")
    group.addoption("--pykern-compare-native", action="store_true",
                    help="also run each --pykern-bins program natively; fail on any difference in stdout, "
                         "stderr or exit status")
    group.addoption("--pykern-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help="the longest one --pykern-bins program may run (default 60)")
    group.addoption("--pykern-seeds", type=int, default=None, metavar="N",
                    help="run each --pykern-bins program deterministically under N schedules (seeds 0 to N-1); "
                         "fail when one fails or when they do not all end alike")


def pytest_configure(config: pytest.Config) -> None:
    seeds = config.getoption("--pykern-seeds")
    if seeds is not None and seeds < 1:
        raise pytest.UsageError(f"--pykern-seeds: {seeds}: at least one seed")


# --- the fixture -------------------------------------------------------------------------


class PykernRunner:
    """The `pykern` fixture: run(argv, ...) as pykern.run, results kept for the report.
    Runs are traced unless strace=False is passed, so that a failing test's report can
    show the last syscalls."""

    def __init__(self) -> None:
        self.results: list = []

    def run(self, argv, **options):
        from pykern.api import run

        options.setdefault("strace", True)
        result = run(argv, **options)
        self.results.append(result)
        return result


@pytest.fixture
def pykern(request: pytest.FixtureRequest) -> PykernRunner:
    runner = PykernRunner()
    request.node.stash[_RUNNER] = runner
    return runner


_RUNNER = pytest.StashKey[PykernRunner]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    runner = item.stash.get(_RUNNER, None)
    if runner is not None and report.when == "call" and report.failed:
        for number, result in enumerate(runner.results, 1):
            report.sections.append((f"pykern run {number}", result.report()))


# --- --pykern-bins -------------------------------------------------------------------------


def _is_program(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except OSError:
        return False
    return path.is_file() and os.access(path, os.X_OK) and (magic == b"\x7fELF" or magic[:2] == b"#!")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    patterns = config.getoption("--pykern-bins")
    if not patterns:
        return
    seen: set[Path] = set()
    for pattern in patterns:
        for name in sorted(glob.glob(pattern, recursive=True)):
            path = Path(name).resolve()
            if path in seen or not _is_program(path):
                continue
            seen.add(path)
            name = os.path.relpath(path, config.rootpath)
            items.append(PykernBinary.from_parent(session, name=name, path=path, nodeid=name))


class PykernFailure(Exception):
    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class PykernBinary(pytest.Item):
    """One test program: passes when it exits 0 under pykern (and, with
    --pykern-compare-native, when it behaves exactly as it does natively)."""

    def __init__(self, *, path: Path, **kwargs) -> None:
        super().__init__(path=path, **kwargs)
        self.program = path

    def runtest(self) -> None:
        from pykern.api import run

        timeout = self.config.getoption("--pykern-timeout")
        argv = [str(self.program)]
        seeds = self.config.getoption("--pykern-seeds")
        if seeds is not None:
            result = self._run_seeds(seeds, timeout)
        else:
            result = run(argv, cwd=str(self.program.parent), timeout=timeout, strace=True)
        if self.config.getoption("--pykern-compare-native"):
            self._compare_native(result, timeout)
        if not result.ok:
            raise PykernFailure(result.report())

    def _run_seeds(self, seeds: int, timeout: float):
        """Seeds 0 to `seeds`-1, each a deterministic run; the first one's result when
        every run passed and all ended alike. Outcomes are grouped and shown as
        `pykern explore` shows them (pykern.explore)."""
        from pykern.api import run
        from pykern.explore import Run, format_table, group_runs

        runs, first = [], None
        for seed in range(seeds):
            result = run([str(self.program)], cwd=str(self.program.parent), timeout=timeout, strace=True, seed=seed)
            if not result.ok:
                raise PykernFailure(f"{self.program}: failed under seed {seed} (replay: {self._replay(seed)})"
                                    "\n\n" + result.report())
            first = first or result
            runs.append(Run(seed, result.exit_status, result.stdout, result.stderr))
        groups = group_runs(runs)
        if len(groups) > 1:
            raise PykernFailure("\n".join([
                f"{self.program}: {len(groups)} different outcomes under {seeds} schedules", "",
                *format_table(groups), "",
                *(f"replay outcome {number}: {self._replay(group.first.seed)}"
                  for number, group in enumerate(groups, 1))]))
        return first

    def _replay(self, seed: int) -> str:
        """The command that replays `seed` (pykern.explore's, run where the program is)."""
        import argparse

        from pykern.explore import replay_text

        where = argparse.Namespace(prog=str(self.program), args=[], start_time=None, stdin=None)
        return f"cd {self.program.parent} && {replay_text(seed, where)}"

    def _compare_native(self, result, timeout: float) -> None:
        try:
            native = subprocess.run([str(self.program)], cwd=self.program.parent, stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PykernFailure(f"{self.program}: natively, it did not finish in {timeout:g} s") from None
        native_status = native.returncode if native.returncode >= 0 else 128 - native.returncode
        problems = []
        if native_status != result.exit_status:
            problems.append(f"exit status: native {native_status}, pykern {result.exit_status}")
        for name, mine, theirs in (("stdout", result.stdout, native.stdout), ("stderr", result.stderr, native.stderr)):
            if mine != theirs:
                diff = difflib.unified_diff(theirs.decode(errors="replace").splitlines(),
                                            mine.decode(errors="replace").splitlines(),
                                            f"{name} (native)", f"{name} (pykern)", lineterm="", n=2)
                problems.append("\n".join(list(diff)[:40]))
        if problems:
            raise PykernFailure(f"{self.program}: differs from the native run\n\n" + "\n\n".join(problems)
                                + "\n\n" + result.report())

    def repr_failure(self, excinfo, style=None) -> str:
        if isinstance(excinfo.value, PykernFailure):
            return excinfo.value.report
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.program, None, f"pykern: {self.name}"
