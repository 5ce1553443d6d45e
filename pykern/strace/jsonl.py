"""--trace-json FILE: one JSON object per line and event of the tracer
(pykern.strace.events), with the seconds since the start. The records are also what the
timeline (pykern.strace.timeline) is made of."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pykern.abi import ENOSYS, errno_name
from pykern.strace.formats import clone_flags, si_code_name, siginfo, signame
from pykern.strace.sinks import Clocks, Sink, is_error

if TYPE_CHECKING:
    from pykern.strace.events import Event


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
    clocks: Clocks = field(default_factory=Clocks)

    def handle(self, event: Event) -> None:
        made = record(event)
        if made is not None:
            made["time"] = round(self.clocks.mono_ns() / 1e9 - self.clocks.clock0, 9)
            self.stream.write(json.dumps(made) + "\n")

    def close(self) -> None:
        self.stream.flush()
