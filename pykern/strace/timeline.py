"""--timeline FILE: the traced run as a Chrome trace-event file (Perfetto, chrome://tracing).

A sink of the tracer's events (pykern.strace.events), made from the same records as the
--trace-json stream (pykern.strace.jsonl.record), each stamped with the guest's
CLOCK_MONOTONIC (pykern.clock) when it happened. One track per task:
pid is the guest tgid, tid the guest tid, named by the task's comm through "M"
(metadata) events. Each completed system call is a complete ("X") slice from its entry
to its exit, its decoded arguments and result in "args"; signals, group stops, forks,
execs and process exits are instant ("i") events. A call that never returned (its task
was killed while blocked) has no slice, as it has no syscall_exit record. Timestamps are
microseconds. The events are kept until `close`, then written sorted by time (a slice is
known only at its exit, after the events that happened during it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pykern.strace.jsonl import record
from pykern.strace.sinks import Sink

if TYPE_CHECKING:
    from pykern.clock import Clock
    from pykern.strace.events import Event

# the records that become instant events, and the name each one's event gets
INSTANT_NAMES = {"signal": lambda r: r["signal"], "stopped": lambda r: f"stopped by {r['signal']}",
                 "fork": lambda r: "thread" if r["thread"] else "fork", "exec": lambda r: "exec",
                 "exit": lambda r: "exit"}


@dataclass
class Timeline(Sink):
    stream: TextIO
    events: list[dict] = field(default_factory=list)
    names: dict[tuple[int, int], str] = field(default_factory=dict)  # (pid, tid) -> comm, the latest
    starts: dict[Any, int] = field(default_factory=dict)  # a call's entry event -> its guest time
    guest_clock: Clock | None = None  # the traced kernel's, from the latest event's task

    def handle(self, event: Event) -> None:
        task = event.task
        if task is not None:
            self.guest_clock = task.kernel.clock
        if event.kind == "syscall_enter":
            self.starts[event] = self.guest_clock.monotonic_ns()
        elif event.kind == "unfinished":
            self.starts.pop(event.enter, None)
        made = record(event)
        if made is None:
            return
        if task is not None:
            self.name(made["pid"], made.get("tid", made["pid"]), task.comm)
        if self.guest_clock is not None:
            start = self.starts.pop(event.enter, None) if event.kind == "syscall_exit" else None
            self.add(made, self.guest_clock.monotonic_ns(), start)

    def name(self, pid: int, tid: int, comm: bytes) -> None:
        self.names[(pid, tid)] = comm.decode(errors="backslashreplace")

    def add(self, record: dict, now_ns: int, start_ns: int | None = None) -> None:
        """One --trace-json record at guest time `now_ns`; `start_ns` is a syscall_exit's
        entry time."""
        kind = record["event"]
        pid = record["pid"]
        tid = record.get("tid", pid)  # a process's exit: on its leader's track
        if kind == "syscall_exit":
            start = now_ns if start_ns is None else min(start_ns, now_ns)  # nosys: no entry
            self.events.append({"name": record["name"], "cat": "syscall", "ph": "X", "pid": pid, "tid": tid,
                                "ts": start / 1000, "dur": (now_ns - start) / 1000,
                                "args": {"args": record["decoded"], "ret": record["ret"],
                                         "error": record.get("error")}})
            return
        instant = INSTANT_NAMES.get(kind)
        if instant is None:  # syscall_entry, block: a slice shows them
            return
        args = {key: value for key, value in record.items() if key not in ("event", "pid", "tid", "time")}
        self.events.append({"name": instant(record), "cat": kind, "ph": "i", "s": "t", "pid": pid, "tid": tid,
                            "ts": now_ns / 1000, "args": args})

    def close(self) -> None:
        tracks = {(event["pid"], event["tid"]) for event in self.events}
        meta = []
        for pid, tid in sorted(tracks):
            comm = self.names.get((pid, tid)) or self.names.get((pid, pid)) or str(tid)
            if tid == pid:
                meta.append({"name": "process_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": comm}})
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": comm}})
        ordered = sorted(self.events, key=lambda event: event["ts"])
        json.dump({"traceEvents": meta + ordered, "displayTimeUnit": "ms"}, self.stream)
        self.stream.write("\n")
        self.stream.flush()
