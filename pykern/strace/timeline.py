"""--timeline FILE: the traced run as a Chrome trace-event file (Perfetto, chrome://tracing).

A sink of the tracer's events (pykern.strace.events), made from the same records as the
--trace-json stream (pykern.strace.jsonl.record), each stamped with the guest's
CLOCK_MONOTONIC (pykern.clock) when it happened, and from the scheduler's own events
(Ran, Woken: only this sink takes them). One track per task: pid is the guest tgid, tid
the guest tid, named by the task's comm through "M" (metadata) events; the kernel's own
wake-ups (timers, host fds) are on a track of their own, pid 0 tid 0, named "kernel".

On a task's track, complete ("X") slices, which nest and never partly overlap:
- "run" (cat "run"): a stretch the task ran in the JIT (one of the scheduler's slices).
  A run that ends inside a call that went to sleep ends at that call's entry: the call's
  slice goes on from there.
- a system call (cat "syscall"), from its entry to its exit, its decoded arguments and
  result in "args": inside a run, or, when it slept, from the run it was made in to the
  one after its wake-up. A call that never returned (its task was killed while blocked)
  has no slice, as it has no syscall_exit record.
- "sleep: WHAT" (cat "sleep"): inside a call's slice, from the moment it went to sleep to
  its wake-up (or the call's end, when a signal ended it), named by what it waited for:
  its wait queues, its deadline ("timeout"), its host fds.
Each wake-up of a sleep is a flow arrow (v1 flow events, name "wake-up", cat "wake",
a fresh "id"): "s" on the waker's track, where its system call was running (or a zero
length "timer"/"host fd" slice on the kernel's track), "f" with "bp": "e" on the woken
task's track, bound to its sleep slice. Signals, group stops, forks, execs and process
exits are instant ("i") events.

Timestamps are microseconds, with the nanoseconds as decimals (`microseconds`: exact as
Perfetto reads them). The events are kept
until `close`, then written ordered by time; at one time, flow ends first, then the
slices, longest first (a parent before its children), then instants and flow starts,
each kind in the order it happened. Under --deterministic every time is virtual, and the
file is the same on every run.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pykern.strace.jsonl import record
from pykern.strace.sinks import Sink

if TYPE_CHECKING:
    from pykern.clock import Clock
    from pykern.errors import Block
    from pykern.strace.events import Event
    from pykern.task import Task

# the records that become instant events, and the name each one's event gets
INSTANT_NAMES = {"signal": lambda r: r["signal"], "stopped": lambda r: f"stopped by {r['signal']}",
                 "fork": lambda r: "thread" if r["thread"] else "fork", "exec": lambda r: "exec",
                 "exit": lambda r: "exit"}
KERNEL_TRACK = (0, 0)  # the kernel's wake-ups: timers, host fds, host signals
# the order of events at one time: flow ends, slices, then instants and flow starts
FLOW_END, SLICE, INSTANT = 0, 1, 2
# of slices that start at one time and last as long: the enclosing one first
SLICE_ORDER = {"run": 0, "syscall": 1, "kernel": 1, "sleep": 2}


def microseconds(ns: int) -> float:
    """`ns` as the trace's microseconds: the float nearest ns/1000 that gives back `ns` when
    multiplied by 1000 and truncated, as Perfetto reads a number (so that slices which
    nest to the nanosecond still nest there)."""
    value = ns / 1000
    while int(value * 1000.0) < ns:
        value = math.nextafter(value, math.inf)
    return value


def sleep_name(block: Block | None) -> tuple[str, dict]:
    """A sleep slice's name and args: what its Block waits for."""
    if block is None:
        return "sleep", {}
    queues = [queue.name or "wait queue" for queue in block.queues]
    parts = list(queues)
    args: dict[str, Any] = {"queues": queues}
    if block.deadline is not None:
        parts.append("timeout")
        args["deadline_s"] = block.deadline
    if block.host_fds:
        parts.extend(f"host fd {fd}" for fd, _ in block.host_fds)
        args["host_fds"] = [[fd, mode] for fd, mode in block.host_fds]
    if not parts and block.until_signal:
        parts.append("a signal")
    return ("sleep: " + ", ".join(parts)) if parts else "sleep", args


@dataclass
class Sleep:
    """A task's sleep not yet ended."""

    start_ns: int
    name: str
    args: dict


@dataclass
class Timeline(Sink):
    stream: TextIO
    # (time ns, order at that time, -duration, slice order, sequence, the event), made into
    # trace events at `close`
    events: list[tuple] = field(default_factory=list)
    names: dict[tuple[int, int], str] = field(default_factory=dict)  # (pid, tid) -> comm, the latest
    starts: dict[Any, int] = field(default_factory=dict)  # a call's entry event -> its guest time
    calls: dict[Task, int] = field(default_factory=dict)  # a task's call not yet returned -> its entry time
    sleeps: dict[Task, Sleep] = field(default_factory=dict)  # a task asleep -> since when, on what
    exiting: dict[Task, tuple[dict, int]] = field(default_factory=dict)  # exit's record, entry time
    # a thread whose execve made it the leader -> (its old tid, the execve's entry time, the
    # time its run goes on from on the leader's track: the execve's return)
    moved: dict[Task, tuple[int, int | None, int]] = field(default_factory=dict)
    guest_clock: Clock | None = None  # the traced kernel's, from the latest event's task
    sequence: itertools.count = field(default_factory=itertools.count)
    flow_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def handle(self, event: Event) -> None:
        task = event.task
        if task is not None:
            self.guest_clock = task.kernel.clock
        kind = event.kind
        if kind == "ran":
            self.ran(task, event.start_ns, event.end_ns)
            return
        if self.guest_clock is None:
            return
        now = self.guest_clock.monotonic_ns()
        if kind == "wake":
            self.woken(task, event.waker, event.by, now)
            return
        if kind == "block":
            name, args = sleep_name(event.block)
            args["call"] = event.enter.entry.name
            self.sleeps[task] = Sleep(now, name, args)
            return
        if kind == "syscall_enter":
            self.starts[event] = self.calls[task] = now
        elif kind == "superseded":  # execve in a thread: its run so far was on its old track
            self.moved[task] = (event.old_tid, self.calls.get(task), now)
        elif kind in ("syscall_exit", "unfinished", "task_exited", "process_exit"):
            owner = task
            ended = now
            if kind == "unfinished" and event.enter.task is not task:
                # the leader's call, ended by an execve in another thread (the one now on
                # its track): shown ended when that execve began
                owner = event.enter.task
                ended = min(now, self.calls.get(task, now))
            if owner is not None:
                self.calls.pop(owner, None)
                self.end_sleep(owner, ended)
                if owner in self.moved:  # the execve returned: the run goes on from here
                    self.moved[owner] = (*self.moved[owner][:2], now)
            if kind == "unfinished":
                self.starts.pop(event.enter, None)
        made = record(event)
        if made is None:
            return
        if task is not None:
            self.name(made["pid"], made.get("tid", made["pid"]), task.comm)
        start = self.starts.pop(event.enter, None) if kind == "syscall_exit" else None
        if kind == "syscall_exit" and event.result is None and task is not None and start is not None:
            self.exiting[task] = (made, start)  # exit, exit_group: the slice ends with the run
            return
        self.add(made, now, start)

    def name(self, pid: int, tid: int, comm: bytes) -> None:
        self.names[(pid, tid)] = comm.decode(errors="backslashreplace")

    def slice(self, track: tuple[int, int], name: str, cat: str, start_ns: int, end_ns: int, args: dict) -> None:
        """An "X" slice on `track` (pid, tid) from `start_ns` to `end_ns`."""
        self.events.append((start_ns, SLICE, start_ns - end_ns, SLICE_ORDER[cat], next(self.sequence),
                            {"name": name, "cat": cat, "ph": "X", "pid": track[0], "tid": track[1],
                             "dur": end_ns - start_ns, "args": args}))

    def point(self, at_ns: int, order: int, event: dict) -> None:
        """An instant or flow event at `at_ns`."""
        self.events.append((at_ns, order, 0, 0, next(self.sequence), event))

    def add(self, record: dict, now_ns: int, start_ns: int | None = None) -> None:
        """One --trace-json record at guest time `now_ns`; `start_ns` is a syscall_exit's
        entry time."""
        kind = record["event"]
        pid = record["pid"]
        tid = record.get("tid", pid)  # a process's exit: on its leader's track
        if kind == "syscall_exit":
            start = now_ns if start_ns is None else min(start_ns, now_ns)  # nosys: no entry
            self.slice((pid, tid), record["name"], "syscall", start, now_ns,
                       {"args": record["decoded"], "ret": record["ret"], "error": record.get("error")})
            return
        instant = INSTANT_NAMES.get(kind)
        if instant is None:  # syscall_entry, block: a slice shows them
            return
        args = {key: value for key, value in record.items() if key not in ("event", "pid", "tid", "time")}
        self.point(now_ns, INSTANT, {"name": instant(record), "cat": kind, "ph": "i", "s": "t", "pid": pid,
                                     "tid": tid, "args": args})

    def ran(self, task: Task, start_ns: int, end_ns: int) -> None:
        """A run in the JIT. One that ends inside a call still pending (it went to sleep)
        ends at the call's entry, where the call's slice begins. The slice of an exit or
        exit_group made in it ends with it (the task's last moments: it wakes its waiters).
        An execve in a thread that is not the leader moves the thread to the leader's tid:
        its run is on its old track up to the execve, and on the leader's after it."""
        track = (task.group.tgid, task.tid)
        moved = self.moved.pop(task, None)
        if moved is not None:
            old_tid, entered, resumed = moved
            if entered is not None and start_ns < entered:
                self.slice((track[0], old_tid), "run", "run", start_ns, entered, {})
            start_ns = max(start_ns, resumed)
        run_end = end_ns
        entered = self.calls.get(task)
        if entered is not None and start_ns <= entered < end_ns:
            run_end = entered
        if run_end > start_ns:
            self.name(*track, task.comm)
            self.slice(track, "run", "run", start_ns, run_end, {})
        exiting = self.exiting.pop(task, None)
        if exiting is not None:
            made, entered = exiting
            self.add(made, max(end_ns, entered), entered)

    def end_sleep(self, task: Task, now_ns: int, woken_by: str | None = None) -> bool:
        """`task`'s sleep, if it had one, ends now: its slice. False if it had none."""
        sleep = self.sleeps.pop(task, None)
        if sleep is None:
            return False
        if woken_by is not None:
            sleep.args["woken_by"] = woken_by
        self.slice((task.group.tgid, task.tid), sleep.name, "sleep", sleep.start_ns, now_ns, sleep.args)
        return True

    def woken(self, task: Task, waker: Task | None, by: str, now_ns: int) -> None:
        """`task` was woken by `waker`'s call, or by the kernel (`by`): its sleep ends,
        and a flow goes from the waker's track to the sleep."""
        if waker is not None:
            source = (waker.group.tgid, waker.tid)
            described = f"{waker.comm.decode(errors='backslashreplace')} pid {source[0]} tid {source[1]}"
        else:
            source = KERNEL_TRACK
            described = by
        if not self.end_sleep(task, now_ns, described):
            return
        if waker is None:
            self.names[KERNEL_TRACK] = "kernel"
            self.slice(KERNEL_TRACK, by, "kernel", now_ns, now_ns, {"woke": task.tid})
        flow = next(self.flow_ids)
        self.point(now_ns, INSTANT, {"name": "wake-up", "cat": "wake", "ph": "s", "id": flow,
                                     "pid": source[0], "tid": source[1]})
        self.point(now_ns, FLOW_END, {"name": "wake-up", "cat": "wake", "ph": "f", "bp": "e", "id": flow,
                                      "pid": task.group.tgid, "tid": task.tid})

    def close(self) -> None:
        for made, entered in self.exiting.values():  # (a run of its own not seen)
            self.add(made, entered, entered)
        self.exiting.clear()
        ordered = []
        for at_ns, *_, event in sorted(self.events, key=lambda entry: entry[:5]):
            event["ts"] = microseconds(at_ns)
            if "dur" in event:
                event["dur"] = microseconds(event["dur"])
            ordered.append(event)
        tracks = {(event["pid"], event["tid"]) for event in ordered}
        meta = []
        for pid, tid in sorted(tracks):
            comm = self.names.get((pid, tid)) or self.names.get((pid, pid)) or str(tid)
            if tid == pid:
                meta.append({"name": "process_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": comm}})
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": comm}})
        json.dump({"traceEvents": meta + ordered, "displayTimeUnit": "ms"}, self.stream)
        self.stream.write("\n")
        self.stream.flush()
