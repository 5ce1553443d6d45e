"""--timeline FILE: a Chrome trace-event file (Perfetto, chrome://tracing) fed by the same
events as --trace-json. Run on a testbin that forks, makes threads, signals threads and
execs from a thread; the file's structure is checked, and its syscall slices against the
--trace-json stream of the same run."""

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


def _key(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def test_timeline_tracks_slices_and_instants(tmp_path: Path, built_testbins: str) -> None:
    timeline_path = tmp_path / "timeline.json"
    json_path = tmp_path / "trace.jsonl"
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--timeline", str(timeline_path),
                           "--trace-json", str(json_path), "./testbins/threads"],
                          check=False, cwd=REPO_ROOT, env=BASE_ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    document = json.loads(timeline_path.read_text())
    events = document["traceEvents"]
    records = [json.loads(line) for line in json_path.read_text().splitlines()]

    # structure: the keys each event type needs
    for event in events:
        assert {"name", "ph", "pid", "tid"} <= event.keys(), event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name")
            assert isinstance(event["args"]["name"], str) and event["args"]["name"]
        elif event["ph"] == "X":
            assert event["cat"] == "syscall"
            assert isinstance(event["ts"], (int, float)) and event["dur"] >= 0
            assert {"args", "ret", "error"} <= event["args"].keys()
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
    assert len(processes) >= 2  # forks
    assert "threads" in named.values()

    # time only goes forward on each track
    by_track: dict[tuple[int, int], list[dict]] = {}
    for event in timed:
        by_track.setdefault((event["pid"], event["tid"]), []).append(event)
    for track, track_events in by_track.items():
        stamps = [e["ts"] for e in track_events]
        assert stamps == sorted(stamps), track

    # the syscall slices are the --trace-json stream's completed calls, one to one
    exits = [r for r in records if r["event"] == "syscall_exit"]
    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == len(exits) > 100
    assert Counter((e["pid"], e["tid"], e["name"], _key(e["args"]["args"]), _key(e["args"]["ret"]),
                    e["args"]["error"]) for e in slices) == \
        Counter((r["pid"], r["tid"], r["name"], _key(r["decoded"]), _key(r["ret"]), r.get("error"))
                for r in exits)
    # and the instants are its signals, stops, forks, execs and exits
    assert Counter(e["cat"] for e in events if e["ph"] == "i") == \
        Counter(r["event"] for r in records if r["event"] in INSTANT_KINDS)
    assert any(e.get("cat") == "signal" and e["name"] == "SIGUSR1" for e in events)


def test_timeline_file_that_cannot_be_created(tmp_path: Path, built_testbins: str) -> None:
    """A --timeline path that cannot be opened is an error message, not a traceback."""
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--timeline", str(tmp_path / "no" / "such"),
                           "./testbins/hello"], check=False, cwd=REPO_ROOT, env=BASE_ENV,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.decode().startswith("pykern: ") and b"Traceback" not in done.stderr
