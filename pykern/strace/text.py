"""strace's text: the sink that writes the tracer's events (pykern.strace.events) as
`strace -f` lines.

A call's line starts at its entry (`[pid N] read(3, `) and ends at its exit; when
another line comes in between, the open one is ended with ` <unfinished ...>` and the
call's exit prints `<... read resumed>...)`, as strace does. With -e status= a line is
printed whole at exit (or not at all), with the prefix of its entry. Besides the text:
the -t/-tt/-ttt and -r line prefixes, -T's durations, and strace's alignment of ` = `.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from pykern.abi import ENOSYS, strerror
from pykern.strace.formats import ALIGN_COLUMN, signal_line, signame
from pykern.strace.sinks import Clocks, Sink, is_error


def timestamp(ns: int, style: int) -> str:
    """strace's -t (1), -tt (2) and -ttt (3) line prefixes for the wall time `ns`."""
    sec, usec = divmod(ns // 1000, 1_000_000)
    if style >= 3:
        return f"{sec}.{usec:06d} "
    clock = time.strftime("%H:%M:%S", time.localtime(sec))
    return f"{clock}.{usec:06d} " if style == 2 else clock + " "


def relative_stamp(ns: int) -> str:
    """strace -r's prefix: seconds since the previous line, `     0.000123 `."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f"{sec:6d}.{usec:06d} "


def duration(ns: int) -> str:
    """strace -T's ` <0.000012>`: the time spent in the call."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f" <{sec}.{usec:06d}>"


def _aligned(line: str, ret: str) -> str:
    """`line = ret` with "=" at strace's column 40 (one space after a longer line)."""
    return line.ljust(ALIGN_COLUMN) + f"= {ret}" if len(line) < ALIGN_COLUMN else line + f" = {ret}"


@dataclass(slots=True)
class _Line:
    """A call whose entry was seen and whose exit was not."""

    lead: str  # the "[pid N] 12:00:00.000000 " before head
    head: str  # "name(in-args" as printed at entry
    name: str
    unfinished: bool = False  # its entry line was ended with " <unfinished ...>"


@dataclass
class TextSink(Sink):
    """strace's lines to `stream`. Options as strace's: `status` (-e status=),
    `signals` (-e signal=), `timestamps` (-t, -tt, -ttt: 1, 2, 3), `relative` (-r),
    `syscall_times` (-T), `pid_prefix_always` (-f -o FILE: "PID " on every line).
    `clocks` are those of -t, -r and -T (pykern.strace.sinks.Clocks)."""

    stream: TextIO
    status: frozenset[str] | None = None
    signals: frozenset[int] | None = None
    timestamps: int = 0
    relative: bool = False
    syscall_times: bool = False
    pid_prefix_always: bool = False
    clocks: Clocks = field(default_factory=Clocks)
    pending: dict[int, _Line] = field(default_factory=dict)  # tid -> its open call
    open_tid: int | None = None  # the task whose entry line is printed but not ended
    last_stamp_ns: int | None = None  # -r: when the previous line started

    # --- output plumbing ---

    def _prefix(self, tid: int, tracees: int) -> str:
        if self.pid_prefix_always:
            return f"{tid:<5} "
        if tracees > 1:
            return f"[pid {tid:5}] "
        return ""

    def _lead(self, tid: int, tracees: int) -> str:
        """What starts a line: the pid prefix, then the -t timestamp (or -r's delta)."""
        if self.relative:
            now = self.clocks.mono_ns()
            delta = 0 if self.last_stamp_ns is None else now - self.last_stamp_ns
            self.last_stamp_ns = now
            return self._prefix(tid, tracees) + relative_stamp(delta)
        if not self.timestamps:
            return self._prefix(tid, tracees)
        return self._prefix(tid, tracees) + timestamp(self.clocks.wall_ns(), self.timestamps)

    def _shows(self, how: str) -> bool:
        return self.status is None or how in self.status

    def _write(self, text: str) -> None:
        self.stream.write(text)

    def _interrupt(self, tid: int | None) -> None:
        """Another line is about to be printed: end the open entry line of any other task
        (of any task at all when `tid` is None)."""
        if self.open_tid is not None and self.open_tid != tid:
            other = self.pending.get(self.open_tid)
            if other is not None:
                other.unfinished = True
                self._write(" <unfinished ...>\n")
            self.open_tid = None

    def _line(self, event: Any, text: str, ret: str, lead: str | None = None, suffix: str = "") -> None:
        self._interrupt(event.tid)
        line = (self._lead(event.tid, event.tracees) if lead is None else lead) + text
        self._write(_aligned(line, ret) + suffix + "\n")

    def _event(self, event: Any, text: str) -> None:
        """A `--- ... ---` or `+++ ... +++` line."""
        self._interrupt(None)
        self._write(self._lead(event.tid, event.tracees) + text + "\n")

    def _took(self, ns: int) -> str:
        return duration(ns) if self.syscall_times else ""

    def _end(self, event: Any, line: _Line, rest: str, ret: str, suffix: str = "") -> None:
        """The exit of the call `line`: its open line completed, or `<... name resumed>`."""
        if self.open_tid == event.task.tid and not line.unfinished:
            self.open_tid = None
            written = len(line.lead) + len(line.head)  # the entry line printed so far
            self.stream.write(_aligned(line.lead + line.head + rest, ret)[written:] + suffix + "\n")
        else:
            self._line(event, f"<... {line.name} resumed>{rest}", ret, suffix=suffix)

    # --- the events ---

    def on_initial_exec(self, event: Any) -> None:
        if self._shows("successful"):
            self._line(event, f"execve({', '.join(event.decoded)})", "0", suffix=self._took(0))

    def on_syscall_enter(self, event: Any) -> None:
        tid = event.task.tid
        line = _Line(self._lead(tid, event.tracees), event.head, event.entry.name)
        self.pending[tid] = line
        if event.entry.ret.name == "ret_none":  # exit, exit_group: printed whole, at once
            return
        if self.status is None:  # with a status filter the line waits for the result
            self._interrupt(tid)
            self.stream.write(line.lead + line.head)
            self.open_tid = tid

    def on_syscall_exit(self, event: Any) -> None:
        line = self.pending.pop(event.task.tid)
        if event.result is None:  # never returns
            if self._shows("unfinished"):
                self._line(event, line.head + event.rest, "?", lead=line.lead)
            return
        took = self._took(event.took_ns)
        if self.status is not None:
            if self._shows("failed" if is_error(event.result) else "successful"):
                self._line(event, line.head + event.rest, event.ret, lead=line.lead, suffix=took)
        else:
            self._end(event, line, event.rest, event.ret, took)

    def on_unfinished(self, event: Any) -> None:
        """A task died inside a call (killed while blocked): `<... name resumed>) = ?`."""
        line = self.pending.pop(event.tid, None)
        if line is None:
            return
        if self.status is not None:
            if self._shows("unfinished"):
                self._line(event, line.head + "<unfinished ...>)", "?", lead=line.lead)
        else:
            self._end(event, line, ")", "?")

    def on_superseded(self, event: Any) -> None:
        self._event(event, f"+++ superseded by execve in pid {event.old_tid} +++")
        moved = self.pending.pop(event.old_tid, None)
        if moved is None:
            return
        if self.open_tid == event.old_tid:
            self._interrupt(None)
        moved.unfinished = True
        self.pending[event.tid] = moved

    def on_nosys(self, event: Any) -> None:
        if self._shows("failed"):
            self._line(event, f"{event.name}({', '.join(event.decoded)})", f"-1 ENOSYS ({strerror(ENOSYS)})",
                       suffix=self._took(self.clocks.mono_ns() - event.start_ns))

    def on_signal(self, event: Any) -> None:
        if self.signals is None or event.info.signo in self.signals:
            self._event(event, signal_line(event.info))

    def on_stopped(self, event: Any) -> None:
        self._event(event, f"--- stopped by {signame(event.signo)} ---")

    def on_task_exited(self, event: Any) -> None:
        sig = event.status & 0x7F
        if sig:
            core = " (core dumped)" if event.status & 0x80 else ""
            self._event(event, f"+++ killed by {signame(sig)}{core} +++")
        else:
            self._event(event, f"+++ exited with {(event.status >> 8) & 0xFF} +++")

    def close(self) -> None:
        self._interrupt(None)
        self.stream.flush()
