"""The sinks of the tracer's events (pykern.strace.events) besides strace's text
(pykern.strace.text) and the timeline (pykern.strace.timeline): the JSON-lines stream
(--trace-json, one record per event) and the -c summary table.

A sink gets every event through `handle`, which calls its `on_<event.kind>` method when
it has one, and ends its output in `close`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pykern.abi import ENOSYS, errno_name
from pykern.strace.formats import MAX_ERRNO, clone_flags, si_code_name, siginfo, signame

if TYPE_CHECKING:
    from pykern.strace.events import Event


class Sink:
    def handle(self, event: Event) -> None:
        method = getattr(self, "on_" + event.kind, None)
        if method is not None:
            method(event)

    def close(self) -> None:
        pass


def is_error(result: int) -> bool:
    return -MAX_ERRNO <= result < 0


def exit_status_of(code: int) -> int:
    return (code & 0xFF) << 8


# --- the JSON records -------------------------------------------------------------------

def _syscall_entry(e: Any) -> dict:
    return {"event": "syscall_entry", "pid": e.pid, "tid": e.tid, "name": e.entry.name, "nr": e.entry.number,
            "args": e.raw[:len(e.entry.args)], "decoded": e.decoded}


def _syscall_exit(e: Any) -> dict:
    enter = e.enter
    record = {"event": "syscall_exit", "pid": e.pid, "tid": e.tid, "name": enter.entry.name,
              "nr": enter.entry.number, "args": enter.raw[:len(enter.entry.args)], "decoded": e.decoded,
              "ret": e.result}
    if e.result is not None:  # exit, exit_group: no result, no error, no duration
        record["error"] = errno_name(-e.result) if is_error(e.result) else None
        record["duration"] = e.took_ns / 1e9
    return record


def _exit(e: Any) -> dict:
    status = e.status
    sig = status & 0x7F
    return {"event": "exit", "pid": e.tgid, "status": status, "code": None if sig else (status >> 8) & 0xFF,
            "signal": signame(sig) if sig else None, "core_dumped": bool(sig and status & 0x80)}


RECORDS: dict[str, Callable[[Any], dict]] = {
    "syscall_enter": _syscall_entry,
    "syscall_exit": _syscall_exit,
    "nosys": lambda e: {"event": "syscall_exit", "pid": e.pid, "tid": e.tid, "name": e.name, "nr": e.nr,
                        "args": e.args, "decoded": e.decoded, "ret": -ENOSYS, "error": "ENOSYS"},
    "block": lambda e: {"event": "block", "pid": e.pid, "tid": e.tid, "name": e.enter.entry.name,
                        "nr": e.enter.entry.number, "args": e.enter.raw[:len(e.enter.entry.args)]},
    "signal": lambda e: {"event": "signal", "pid": e.pid, "tid": e.tid, "signo": e.info.signo,
                         "signal": signame(e.info.signo), "code": e.info.code,
                         "code_name": si_code_name(e.info.signo, e.info.code), "siginfo": siginfo(e.info)},
    "stopped": lambda e: {"event": "stopped", "pid": e.pid, "tid": e.tid, "signo": e.signo,
                          "signal": signame(e.signo)},
    "fork": lambda e: {"event": "fork", "pid": e.pid, "tid": e.tid, "child_pid": e.child.group.tgid,
                       "child_tid": e.child.tid, "flags": clone_flags(e.flags),
                       "thread": e.child.group is e.task.group},
    "exec": lambda e: {"event": "exec", "pid": e.pid, "tid": e.tid, "path": e.path,
                       "argv": [arg.decode(errors="backslashreplace") for arg in e.argv]},
    "process_exit": _exit,
}


def record(event: Event) -> dict | None:
    """The --trace-json record of `event` (None for the events only strace's text shows:
    the initial execve, a thread's exit line, an unfinished or superseded call)."""
    make = RECORDS.get(event.kind)
    return make(event) if make is not None else None


@dataclass
class JsonSink(Sink):
    """--trace-json: one JSON object per line and event, with the seconds since the start."""

    stream: TextIO
    clock0: float = field(default_factory=time.monotonic)

    def handle(self, event: Event) -> None:
        made = record(event)
        if made is not None:
            made["time"] = round(time.monotonic() - self.clock0, 9)
            self.stream.write(json.dumps(made) + "\n")

    def close(self) -> None:
        self.stream.flush()


# --- -c ---------------------------------------------------------------------------------

@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    ns: int = 0


@dataclass
class SummarySink(Sink):
    """-c: calls, errors and time per syscall, printed as strace's table at the end."""

    stream: TextIO | None
    mono_ns: Callable[[], int] = time.perf_counter_ns
    stats: dict[str, Stats] = field(default_factory=dict)

    def _count(self, name: str, result: int, start_ns: int) -> None:
        stats = self.stats.setdefault(name, Stats())
        stats.calls += 1
        stats.ns += self.mono_ns() - start_ns
        if is_error(result):
            stats.errors += 1

    def on_initial_exec(self, event: Any) -> None:
        self.stats.setdefault("execve", Stats()).calls += 1

    def on_syscall_exit(self, event: Any) -> None:
        self._count(event.name, event.result or 0, event.enter.start_ns)

    def on_nosys(self, event: Any) -> None:
        self._count(event.name, -ENOSYS, event.start_ns)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write(summary_table(self.stats))
            self.stream.flush()


def summary_table(stats: dict[str, Stats]) -> str:
    """strace -c's table, sorted by time (then calls, then name)."""
    total_ns = sum(s.ns for s in stats.values())
    rule = "------ ----------- ----------- --------- --------- ----------------"
    lines = ["% time     seconds  usecs/call     calls    errors syscall", rule]
    order = sorted(stats.items(), key=lambda item: (-item[1].ns, -item[1].calls, item[0]))
    for name, s in order:
        percent = 100.0 * s.ns / total_ns if total_ns else 0.0
        errors = str(s.errors) if s.errors else ""
        lines.append(f"{percent:6.2f} {s.ns / 1e9:11.6f} {s.ns // 1000 // max(s.calls, 1):11d} "
                     f"{s.calls:9d} {errors:>9} {name}")
    calls = sum(s.calls for s in stats.values())
    errors = sum(s.errors for s in stats.values())
    lines.append(rule)
    lines.append(f"{100.0 if total_ns else 0.0:6.2f} {total_ns / 1e9:11.6f} "
                 f"{total_ns // 1000 // max(calls, 1):11d} {calls:9d} {errors if errors else '':>9} total")
    return "\n".join(lines) + "\n"
