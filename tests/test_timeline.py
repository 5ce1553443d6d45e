"""--timeline FILE: a Chrome trace-event file (Perfetto, chrome://tracing) fed by the same
events as --trace-json and by the scheduler's runs and wake-ups. Run on a testbin that
forks, makes threads, signals threads and execs from a thread, and on one whose tasks
wake each other (testbins/wakeups); the file's structure is checked (slices nest on each
track, each flow pairs a waker with a woken task's sleep), its syscall slices against the
--trace-json stream of the same run, and under --deterministic two runs give the same file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import REPO_ROOT

TIMEOUT = 120
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
INSTANT_KINDS = {"signal", "stopped", "fork", "exec", "exit"}
SLICE_KINDS = {"syscall", "run", "sleep", "kernel"}


def _key(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _run(tmp_path: Path, program: str, *options: str, name: str = "timeline") -> tuple[list[dict], list[dict]]:
    """The trace events of `program`'s --timeline, and the records of its --trace-json."""
    timeline_path = tmp_path / f"{name}.json"
    json_path = tmp_path / f"{name}.jsonl"
    done = subprocess.run([sys.executable, "-m", "pykern", "run", *options, "--timeline", str(timeline_path),
                           "--trace-json", str(json_path), program],
                          check=False, cwd=REPO_ROOT, env=BASE_ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    document = json.loads(timeline_path.read_text())
    records = [json.loads(line) for line in json_path.read_text().splitlines()]
    return document["traceEvents"], records


def _ns(microseconds: float) -> int:
    """A time of the file in nanoseconds, as Perfetto reads it (truncated)."""
    return int(microseconds * 1000.0)


def _end(event: dict) -> int:
    return _ns(event["ts"]) + _ns(event["dur"])


def check_timeline(events: list[dict], records: list[dict]) -> None:
    """The trace-event file's structure, and its agreement with the --trace-json stream."""

    # structure: the keys each event type needs
    for event in events:
        assert {"name", "ph", "pid", "tid"} <= event.keys(), event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name")
            assert isinstance(event["args"]["name"], str) and event["args"]["name"]
        elif event["ph"] == "X":
            assert event["cat"] in SLICE_KINDS
            assert isinstance(event["ts"], (int, float)) and event["dur"] >= 0
            if event["cat"] == "syscall":
                assert {"args", "ret", "error"} <= event["args"].keys()
            if event["cat"] == "sleep":
                assert event["name"].startswith("sleep") and "call" in event["args"]
        elif event["ph"] in ("s", "f"):
            assert event["cat"] == "wake" and event["name"] == "wake-up" and isinstance(event["id"], int)
            assert event["ph"] == "s" or event["bp"] == "e"
        else:
            assert event["ph"] == "i", event
            assert event["s"] == "t" and event["cat"] in INSTANT_KINDS
            assert isinstance(event["ts"], (int, float))

    # one named track per task; the pid is the guest tgid (a thread's tid differs)
    named = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    processes = {e["pid"] for e in events if e["name"] == "process_name"}
    timed = [e for e in events if e["ph"] != "M"]
    tracks = {(e["pid"], e["tid"]) for e in timed}
    assert tracks <= named.keys()
    assert {pid for pid, _ in tracks} <= processes
    assert any(pid != tid for pid, tid in tracks)  # threads
    assert len(processes - {0}) >= 2  # forks

    # time only goes forward on each track
    by_track: dict[tuple[int, int], list[dict]] = {}
    for event in timed:
        by_track.setdefault((event["pid"], event["tid"]), []).append(event)
    for track, track_events in by_track.items():
        stamps = [e["ts"] for e in track_events]
        assert stamps == sorted(stamps), track
        # the slices of a track nest (as Perfetto needs): none ends inside another and
        # after it; one starting where another does follows it only if it is shorter
        stack: list[tuple[int, int]] = []
        for event in track_events:
            if event["ph"] != "X":
                continue
            start, end = _ns(event["ts"]), _end(event)
            while stack and stack[-1][1] <= start and not (stack[-1][0] == start == stack[-1][1] == end):
                stack.pop()
            assert not stack or end <= stack[-1][1], (track, event, stack[-1])
            stack.append((start, end))

    # the syscall slices are the --trace-json stream's completed calls, one to one
    exits = [r for r in records if r["event"] == "syscall_exit"]
    slices = [e for e in events if e["ph"] == "X" and e["cat"] == "syscall"]
    assert len(slices) == len(exits) > 20
    assert Counter((e["pid"], e["tid"], e["name"], _key(e["args"]["args"]), _key(e["args"]["ret"]),
                    e["args"]["error"]) for e in slices) == \
        Counter((r["pid"], r["tid"], r["name"], _key(r["decoded"]), _key(r["ret"]), r.get("error"))
                for r in exits)
    # and the instants are its signals, stops, forks, execs and exits
    assert Counter(e["cat"] for e in events if e["ph"] == "i") == \
        Counter(r["event"] for r in records if r["event"] in INSTANT_KINDS)
    # runs in the JIT: on every task's track, each before the task's first call or within
    # its calls' gaps
    runs = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X" and e["cat"] == "run"}
    assert {(e["pid"], e["tid"]) for e in slices} <= runs

    # each flow: one start on the waker's track, one end on a woken task's track, at the
    # moment its sleep slice ended
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    assert starts.keys() == ends.keys()
    sleeps = [e for e in events if e["ph"] == "X" and e["cat"] == "sleep"]
    woken_sleeps = {(e["pid"], e["tid"], _end(e)) for e in sleeps if "woken_by" in e["args"]}
    for flow, end in ends.items():
        assert (end["pid"], end["tid"], _ns(end["ts"])) in woken_sleeps, end
        assert _ns(starts[flow]["ts"]) == _ns(end["ts"])


def _waker_call(events: list[dict], flow: dict) -> str | None:
    """The name of the slice a flow starts in: the innermost one on its track that holds it."""
    at = _ns(flow["ts"])
    holding = [e for e in events if e["ph"] == "X" and (e["pid"], e["tid"]) == (flow["pid"], flow["tid"])
               and _ns(e["ts"]) <= at <= _end(e)]
    if not holding:
        return None
    return min(holding, key=lambda e: (e["dur"], -e["ts"]))["name"]


def _wakes(events: list[dict]) -> set[tuple[str, str]]:
    """(the waker's slice, the woken sleep's name) of each flow."""
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    sleeps = {(e["pid"], e["tid"], _end(e)): e["name"] for e in events
              if e["ph"] == "X" and e["cat"] == "sleep"}
    return {(_waker_call(events, start), sleeps[(ends[start["id"]]["pid"], ends[start["id"]]["tid"],
                                               _ns(start["ts"]))])
            for start in events if start["ph"] == "s"}


def test_timeline_tracks_slices_and_instants(tmp_path: Path, built_testbins: str) -> None:
    events, records = _run(tmp_path, "./testbins/threads")
    check_timeline(events, records)
    named = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert "threads" in named
    assert len([e for e in events if e["ph"] == "X" and e["cat"] == "syscall"]) > 100
    assert any(e.get("cat") == "signal" and e["name"] == "SIGUSR1" for e in events)


def test_timeline_runs_sleeps_and_wakeups(tmp_path: Path, built_testbins: str) -> None:
    """testbins/wakeups: each of its wake-ups is a flow from the waker's call (or the
    kernel's timer) to the woken task's sleep, named by what it waited on."""
    events, records = _run(tmp_path, "./testbins/wakeups")
    check_timeline(events, records)
    wakes = _wakes(events)
    assert ("write", "sleep: pipe_read") in wakes  # the child's write wakes the parent's read
    assert any(waker in ("exit_group", "exit") and sleep.startswith("sleep: child_events")
               for waker, sleep in wakes)  # the child's exit wakes wait4
    assert ("futex", "sleep: futex") in wakes  # pthread_cond_signal's FUTEX_WAKE
    assert any(waker in ("exit", "exit_group") and sleep == "sleep: futex"
               for waker, sleep in wakes)  # the thread's exit wakes pthread_join
    assert ("timer", "sleep: timeout") in wakes  # nanosleep, woken by the kernel's timer
    assert {"kernel"} <= {e["args"]["name"] for e in events if e["name"] == "thread_name"}


def test_timeline_deterministic(tmp_path: Path, built_testbins: str) -> None:
    """Under --deterministic the timeline's times are virtual: two runs, the same file."""
    files = []
    for name in ("first", "second"):
        events, records = _run(tmp_path, "./testbins/wakeups", "--deterministic", name=name)
        check_timeline(events, records)
        files.append((tmp_path / f"{name}.json").read_bytes())
    assert files[0] == files[1]
    assert _wakes(json.loads(files[0])["traceEvents"])


def test_timeline_file_that_cannot_be_created(tmp_path: Path, built_testbins: str) -> None:
    """A --timeline path that cannot be opened is an error message, not a traceback."""
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--timeline", str(tmp_path / "no" / "such"),
                           "./testbins/hello"], check=False, cwd=REPO_ROOT, env=BASE_ENV,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.decode().startswith("pykern: ") and b"Traceback" not in done.stderr
