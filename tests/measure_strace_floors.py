#!/usr/bin/env python3
"""Measure the strace comparison's floors (tests/strace_floors.json, read by test_strace.py).

Each testbin is traced natively (strace -f) and under `pykern run --strace -f` several
times, round by round over all testbins (so a burst of load from elsewhere hits many
testbins once rather than one testbin every time), exactly as test_same_lines_as_strace
compares them. Every run prints one line, `run I/N NAME: main F whole F lines L tasks T
whole_lines W`;
save the output, because floors are better taken over several sessions under different
loads (--from-logs combines them without running anything).

A testbin's floor is its lowest fraction of identical lines, less a margin for jitter,
rounded down to 0.01. When every run of a one-task trace gave the same fraction the
margin is one line of it (at least 0.005): even those vary now and then (pipesize's
mkstemp names, and a getrandom glibc makes or not, cost one line in 1 of 20 runs;
unix_fuzz's 27,818 lines fell short of 1.0 once in 16 runs). Otherwise the margin is the
largest of three lines of the trace, 0.01 and the whole spread seen: several tasks race
even when five runs agree, and more under load (orphan's polling loop gave 1.0 fifteen
times, then 0.91; threads 0.89-0.90 in one session, 0.72 in another; shm_mutex 0.88-1.0
in fifteen runs, then 0.78 twice in six). The overall floors (the sum weighted by
lines, the mean over testbins) are the lowest complete round's, less 0.005.

    .venv/bin/python tests/measure_strace_floors.py | tee run1.log     # all testbins, 5 runs
    .venv/bin/python tests/measure_strace_floors.py --only pty,threads --runs 8
    .venv/bin/python tests/measure_strace_floors.py --from-logs run1.log run2.log run3.log

With --only, the other testbins' floors and the overall floors are kept. Measure on the
machine the tests run on, with its usual load; then look at the diff: a floor that went
down is a regression to explain, not to accept silently.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import test_strace  # noqa: E402  (the comparison itself, so both measure the same thing)

from conftest import testbin_names  # noqa: E402

FLOORS_FILE = test_strace.FLOORS_FILE
ABOUT = ("Floors of the fraction of strace lines pykern's tracer prints identically, per testbin: "
         "from main's first stdio call ('main') and over the whole trace ('whole'). Written by "
         "tests/measure_strace_floors.py (its docstring says how); read by tests/test_strace.py.")
RUN_LINE = re.compile(r"^run (\d+)/\d+ (\S+): main ([\d.]+) whole ([\d.]+) lines (\d+) tasks (\d+)"
                      r"(?: whole_lines (\d+))?$")


@dataclass(frozen=True)
class Run:
    session: str  # a log file or "now": rounds of different sessions are different rounds
    round: int
    main: float
    whole: float
    lines: int
    tasks: int
    whole_lines: int


def round_down(value: float) -> float:
    return math.floor(value * 100 + 1e-9) / 100


def floor_of(values: list[float], lines: int, tasks: int) -> float:
    """The floor for the runs' fractions of a trace of `lines` lines and `tasks` tasks."""
    lowest = min(values)
    if len({round(v, 3) for v in values}) == 1 and tasks == 1:  # (older logs: 3 decimals)
        margin = max(0.005, 1 / lines)
    else:
        margin = max(0.01, 3 / lines, max(values) - lowest)
    return max(0.0, round_down(lowest - margin))


def measure(names: list[str], runs: int) -> list[tuple[str, Run]]:
    measured = []
    for number in range(1, runs + 1):
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    result = test_strace.compare_testbin(name, Path(tmp))
                except AssertionError as error:
                    sys.exit(f"{name}: tracing changed its stdout or status; fix that first ({error!r})")
            run = Run("now", number, round(result.main, 6), round(result.whole, 6), result.total, result.tasks,
                      result.whole_total)
            measured.append((name, run))
            print(f"run {number}/{runs} {name}: main {run.main:.6f} whole {run.whole:.6f} lines {run.lines} "
                  f"tasks {run.tasks} whole_lines {run.whole_lines}", flush=True)
    return measured


def read_logs(paths: list[str]) -> list[tuple[str, Run]]:
    measured = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            match = RUN_LINE.match(line)
            if match:
                number, name, main, whole, lines, tasks, whole_lines = match.groups()
                measured.append((name, Run(path, int(number), float(main), float(whole), int(lines), int(tasks),
                                           int(whole_lines or lines))))  # (older logs: the lines from main)
    return measured


def floors_from(measured: list[tuple[str, Run]]) -> tuple[dict[str, dict], dict[str, float]]:
    by_name: dict[str, list[Run]] = defaultdict(list)
    rounds: dict[tuple[str, int], dict[str, Run]] = defaultdict(dict)
    for name, run in measured:
        by_name[name].append(run)
        rounds[(run.session, run.round)][name] = run
    entries = {}
    for name, runs in by_name.items():
        lines, tasks = min(r.lines for r in runs), max(r.tasks for r in runs)
        whole_lines = max(r.whole_lines for r in runs)  # (the most a run knew: older logs' are too low)
        mains, wholes = [r.main for r in runs], [r.whole for r in runs]
        entries[name] = {"main": floor_of(mains, lines, tasks), "whole": floor_of(wholes, whole_lines, tasks),
                         "measured": [round(min(mains), 3), round(max(mains), 3)],
                         "whole_measured": [round(min(wholes), 3), round(max(wholes), 3)],
                         "lines": max(r.lines for r in runs), "tasks": tasks, "runs": len(runs)}
    complete = [r for r in rounds.values() if len(r) == len(by_name)]
    overall = {}
    if complete:
        overall = {
            "weighted": round(min(sum(r.main * r.lines for r in rnd.values()) / sum(r.lines for r in rnd.values())
                                  for rnd in complete) - 0.005, 3),
            "mean": round(min(sum(r.main for r in rnd.values()) / len(rnd) for rnd in complete) - 0.005, 3),
        }
    return entries, overall


def write(floors: dict) -> None:
    """One testbin a line, sorted, so a re-measurement reads as a small diff."""
    lines = ["{", f'  "about": {json.dumps(floors["about"])},', f'  "overall": {json.dumps(floors["overall"])},',
             '  "testbins": {']
    names = sorted(floors["testbins"])
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(floors['testbins'][name])}{comma}")
    lines += ["  }", "}"]
    FLOORS_FILE.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="comma-separated testbins (default: all)")
    parser.add_argument("--from-logs", nargs="+", metavar="LOG", help="combine saved outputs; run nothing")
    args = parser.parse_args()
    everything = [n for n in testbin_names() if n not in test_strace.NOT_COMPARED]
    if args.from_logs:
        measured = read_logs(args.from_logs)
    else:
        if test_strace.STRACE is None:
            sys.exit("strace is not installed (make test-tools)")
        names = args.only.split(",") if args.only else everything
        unknown = set(names) - set(everything)
        if unknown:
            sys.exit(f"no such testbin (or not compared): {', '.join(sorted(unknown))}")
        measured = measure(names, args.runs)
    entries, overall = floors_from(measured)
    old = test_strace.FLOORS if FLOORS_FILE.exists() else {}
    whole_set = set(entries) >= set(everything)
    floors = {"about": ABOUT, "overall": overall if whole_set else old.get("overall", {}),
              "testbins": {**old.get("testbins", {}), **entries}}
    write(floors)
    print(f"wrote {FLOORS_FILE}")


if __name__ == "__main__":
    main()
