"""The Tracer: the entry points the kernel calls (enter, exit, block, nosys, fork, exec,
signal, stopped, process_exit) and the strace text and JSON-lines output they make."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from pykern import abi
from pykern.abi import errno_name, strerror
from pykern.strace.calls import DUMPABLE_NAMES, _hex0, _sigreturn_mask, _utc
from pykern.strace.files import SCHED_NAMES, _personality, poll_result
from pykern.strace.formats import (
    DEFAULT_STRSIZE,
    MAX_ERRNO,
    clone_flags,
    flags,
    octal,
    open_flags,
    ptr,
    quote,
    si_code_name,
    siginfo,
    signal_line,
    signame,
)
from pykern.strace.kinds import ENTRY_CAPTURE, ERESTART_ERRNOS, SPECIAL, SPLIT_SPECIAL, fmt_arg
from pykern.strace.sinks import (
    Stats,
    _aligned,
    duration,
    relative_stamp,
    summary_table,
    timestamp,
)
from pykern.strace.structs import Call
from pykern.strace.timeline import Timeline

if TYPE_CHECKING:
    from pykern.clock import Clock
    from pykern.sigtypes import SigInfo
    from pykern.sysent import SyscallEntry
    from pykern.task import Task, ThreadGroup


def format_return(call: Call) -> str:
    result = call.result
    assert result is not None
    name = call.entry.name
    if name == "rt_sigreturn":  # the restored rax: an error code, or any 64-bit value
        signed = result - (1 << 64) if result >= 1 << 63 else result
        if -MAX_ERRNO <= signed < 0:
            result = signed
        else:
            return str(result & ((1 << 64) - 1))
    if -MAX_ERRNO <= result < 0:
        err = -result
        if err in ERESTART_ERRNOS:
            return "? {} ({})".format(*ERESTART_ERRNOS[err])
        return f"-1 {errno_name(err)} ({strerror(err)})"
    if name in ("poll", "ppoll", "select", "pselect6"):
        return f"{result}{poll_result(call)}"
    if name == "sched_getscheduler" and result >= 0:
        return f"{result} ({SCHED_NAMES.get(result, '?')})"
    if name == "personality" and result >= 0:
        return f"{ptr(result) if result else 0} ({_personality(result)})"
    if call.entry.ret.name == "signum" and result > 0:
        return f"{result} ({signame(result)})"
    if name == "time":
        return f"{result} ({_utc(result)})"
    if name == "fcntl":
        cmd = call.args[1]
        if cmd == abi.F_GETFL:
            return f"{_hex0(result)} (flags {open_flags(result)})"
        if cmd == abi.F_GETFD:
            return f"{result:#x} (flags {flags(result, [(abi.FD_CLOEXEC, 'FD_CLOEXEC')])})" if result else "0"
    if name == "umask":
        return octal(result)
    if name == "prctl" and call.args[0] & 0xFFFFFFFF == 3 and result in DUMPABLE_NAMES:
        return f"{result} ({DUMPABLE_NAMES[result]})"
    if call.entry.ret.name == "ret_hex":
        return hex(result & ((1 << 64) - 1))
    return str(result)


# --- the tracer -------------------------------------------------------------------------

# Linux's argument counts for the calls pykern may have no handler for (strace prints
# that many raw arguments); any other unhandled call shows six, as strace does for
# numbers it does not know.
NOSYS_NARGS = {"socket": 3, "connect": 3, "accept": 3, "sendto": 6, "recvfrom": 6, "sendmsg": 3,
               "recvmsg": 3, "shutdown": 2, "bind": 3, "listen": 2, "getsockname": 3, "getpeername": 3,
               "socketpair": 4, "setsockopt": 5, "getsockopt": 5, "accept4": 4, "recvmmsg": 5,
               "sendmmsg": 4, "sendfile": 4, "io_uring_setup": 2, "io_uring_enter": 6,
               "io_uring_register": 4, "clone3": 2, "rseq": 4, "epoll_create1": 1, "eventfd2": 2,
               "inotify_init1": 1, "timerfd_create": 2, "signalfd4": 4, "memfd_create": 2}


@dataclass
class Pending:
    """A call whose entry was seen and whose exit was not."""

    entry: SyscallEntry
    raw: list[int]
    args: list[int]
    head: str  # "name(in-args" as printed at entry
    split: int  # index of the first argument printed at exit
    start_ns: int
    lead: str = ""  # the "[pid N] 12:00:00.000000 " printed before head
    task: Task | None = None  # who made the call (its tid changes if it execs from a thread)
    unfinished: bool = False  # its entry line was ended with " <unfinished ...>"
    before: dict[str, int] = field(default_factory=dict)  # Call.before, for the exit
    clock_ns: int | None = None  # the guest's CLOCK_MONOTONIC at entry, for the timeline


def is_error(result: int) -> bool:
    return -MAX_ERRNO <= result < 0


@dataclass
class Tracer:
    """Prints every traced call of every task (following forks always) to `stream`.

    Options as strace's: `selected` (-e trace=), `status` (-e status=: a line is then
    printed whole at exit, never split), `timestamps` (-t, -tt, -ttt: 1, 2, 3),
    `syscall_times` (-T), `summary` (-c). `wall_ns` and `mono_ns` are the clocks (for
    the -t prefixes and the -T durations); tests replace them. Besides strace's text:
    `json_stream` (--trace-json, one record per event) and `timeline` (--timeline,
    pykern.strace.timeline), which gets the same records.
    """

    stream: TextIO | None
    strsize: int = DEFAULT_STRSIZE
    selected: frozenset[str] | None = None  # syscall names to show; None = all
    pid_prefix_always: bool = False  # strace -f -o FILE: "PID " on every line
    json_stream: TextIO | None = None
    timeline: Timeline | None = None
    summary: bool = False  # -c: count instead of printing lines
    initial_exec: tuple[bytes, list[bytes], int] | None = None  # the CLI's execve, shown first
    status: frozenset[str] | None = None  # -e status=: "successful", "failed", "unfinished"
    timestamps: int = 0  # -t 1, -tt 2, -ttt 3
    relative: bool = False  # -r: the time since the previous line's, instead of -t's
    signals: frozenset[int] | None = None  # -e signal=: whose `--- SIG ---` lines to show; None = all
    syscall_times: bool = False  # -T
    wall_ns: Callable[[], int] = time.time_ns
    mono_ns: Callable[[], int] = time.perf_counter_ns
    pending: dict[int, Pending] = field(default_factory=dict)
    live: set[int] = field(default_factory=set)
    open_tid: int | None = None  # the task whose entry line is printed but not ended
    restart_blocks: dict[int, SyscallEntry] = field(default_factory=dict)  # ended ERESTART_RESTARTBLOCK
    stats: dict[str, Stats] = field(default_factory=dict)
    clock0: float = field(default_factory=time.monotonic)
    last_stamp_ns: int | None = None  # -r: when the previous line started
    guest_clock: Clock | None = None  # the traced kernel's pykern.clock, for the timeline

    # --- output plumbing ---

    def _prefix(self, tid: int) -> str:
        if self.pid_prefix_always:
            return f"{tid:<5} "
        if len(self.live) > 1:
            return f"[pid {tid:5}] "
        return ""

    def _lead(self, tid: int) -> str:
        """What starts a line: the pid prefix, then the -t timestamp (or -r's delta)."""
        if self.relative:
            now = self.mono_ns()
            delta = 0 if self.last_stamp_ns is None else now - self.last_stamp_ns
            self.last_stamp_ns = now
            return self._prefix(tid) + relative_stamp(delta)
        if not self.timestamps:
            return self._prefix(tid)
        return self._prefix(tid) + timestamp(self.wall_ns(), self.timestamps)

    def _shows(self, how: str) -> bool:
        return self.status is None or how in self.status

    def _see(self, task: Task) -> None:
        if task.tid not in self.live:
            self.live.add(task.tid)
            if self.initial_exec is not None:
                path, argv, nenv = self.initial_exec
                self.initial_exec = None
                if self.selected is not None and "execve" not in self.selected:
                    return
                if self.summary:
                    self.stats.setdefault("execve", Stats()).calls += 1
                args = [quote(path, None), "[" + ", ".join(quote(a, self.strsize) for a in argv) + "]",
                        f"0x7ffc00000000 /* {nenv} var{'' if nenv == 1 else 's'} */"]
                if self._shows("successful"):
                    self._line(task.tid, f"execve({', '.join(args)})", "0", suffix=self._took(0))

    def _write(self, text: str) -> None:
        if self.stream is not None and not self.summary:
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

    def _line(self, tid: int, text: str, ret: str, lead: str | None = None, suffix: str = "") -> None:
        self._interrupt(tid)
        line = (self._lead(tid) if lead is None else lead) + text
        self._write(_aligned(line, ret) + suffix + "\n")

    def _event(self, tid: int, text: str) -> None:
        """A `--- ... ---` or `+++ ... +++` line."""
        self._interrupt(None)
        self._write(self._lead(tid) + text + "\n")

    def _took(self, ns: int) -> str:
        return duration(ns) if self.syscall_times else ""

    @property
    def _recording(self) -> bool:
        return self.json_stream is not None or self.timeline is not None

    def _json(self, record: dict, task: Task | None = None, start_ns: int | None = None) -> None:
        """One event record, for the JSON-lines stream and the timeline (`task`: whose
        track and clock, `start_ns`: a syscall_exit's entry time on that clock)."""
        if self.json_stream is not None:
            record["time"] = round(self.mono_ns() / 1e9 - self.clock0, 9)
            self.json_stream.write(json.dumps(record) + "\n")
        if self.timeline is not None:
            if task is not None:
                self.timeline.name(record["pid"], record.get("tid", record["pid"]), task.comm)
                self.guest_clock = task.kernel.clock
            if self.guest_clock is not None:
                self.timeline.add(record, self.guest_clock.monotonic_ns(), start_ns)

    def wants(self, entry: SyscallEntry) -> bool:
        return self.selected is None or entry.name in self.selected

    # --- the kernel's hooks ---

    def enter(self, task: Task, entry: SyscallEntry, raw: list[int]) -> None:
        self._see(task)
        if not self.wants(entry):
            return
        args = entry.decode_args(raw)
        call = Call(task, entry, args, self.strsize)
        split = next((i for i, kind in enumerate(entry.args) if kind.out), len(entry.args))
        if entry.name in SPECIAL or entry.name in SPLIT_SPECIAL or entry.name == "execve":
            split = len(entry.args) if entry.name == "execve" else 0
        shown = ", ".join(fmt_arg(call, i) for i in range(split))
        if entry.name == "rt_sigreturn":
            shown = _sigreturn_mask(call)
            self.restart_blocks.pop(task.tid, None)  # a handler ran: no restart_syscall
        if split < len(entry.args) and shown:
            shown += ", "
        if entry.name in SPLIT_SPECIAL:
            shown = SPLIT_SPECIAL[entry.name][0](call)
        head = f"{entry.name}({shown}"
        if self.restart_blocks.pop(task.tid, None) is entry:
            # ERESTART_RESTARTBLOCK without a handler: Linux resumes the call through
            # restart_syscall, and strace shows that; pykern re-enters the call itself
            head = f"restart_syscall(<... resuming interrupted {entry.name} ...>"
        capture = ENTRY_CAPTURE.get(entry.name)
        if capture is not None:
            capture(call)
        pending = Pending(entry, list(raw), args, head, split, self.mono_ns(), self._lead(task.tid), task,
                          before=call.before)
        if self.timeline is not None:
            pending.clock_ns = task.kernel.clock.monotonic_ns()
        if self._recording:
            self._json({"event": "syscall_entry", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(raw[:len(entry.args)]),
                        "decoded": [fmt_arg(call, i) for i in range(split)] if entry.name not in SPECIAL else []},
                       task)
        if entry.ret.name == "ret_none":  # exit, exit_group: there is no return to wait for
            text = pending.head + ", ".join(SPECIAL[entry.name](call)) + ")"
            if self._shows("unfinished"):
                self._line(task.tid, text, "?", lead=pending.lead)
            self._count(entry.name, 0, pending.start_ns)
            self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(raw[:len(entry.args)]),
                        "decoded": [str(args[0])], "ret": None}, task, pending.clock_ns)
            if entry.name == "exit" and task.tid != task.group.tgid and any(
                    t is not task for t in task.group.live_tasks):
                # a thread that is not the last one: strace reports it gone at once (the
                # leader, and the last thread, are reported when the process dies)
                self._event(task.tid, f"+++ exited with {args[0] & 0xFF} +++")
                self.live.discard(task.tid)
            return
        self.pending[task.tid] = pending
        if self.status is None:  # with a status filter the line waits for the result
            self._interrupt(task.tid)
            self._write(pending.lead + pending.head)
            self.open_tid = task.tid

    def fork(self, parent: Task, child: Task, flags: int) -> None:
        """A task was created (fork, vfork, clone, clone3): JSON only, strace shows the call."""
        self._json({"event": "fork", "pid": parent.group.tgid, "tid": parent.tid, "child_pid": child.group.tgid,
                    "child_tid": child.tid, "flags": clone_flags(flags), "thread": child.group is parent.group},
                   parent)

    def exec(self, task: Task, path: str, argv: list[bytes]) -> None:
        """A new image replaced the old one: JSON only, strace shows the execve."""
        self._json({"event": "exec", "pid": task.group.tgid, "tid": task.tid, "path": path,
                    "argv": [arg.decode(errors="backslashreplace") for arg in argv]}, task)

    def block(self, task: Task, entry: SyscallEntry) -> None:
        pending = self.pending.get(task.tid)
        if pending is None or pending.entry is not entry:
            return
        self._json({"event": "block", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                    "nr": entry.number, "args": list(pending.raw[:len(entry.args)])}, task)

    def exit(self, task: Task, entry: SyscallEntry, raw: list[int], result: int) -> None:
        pending = self.pending.get(task.tid)
        if (pending is None or pending.task is not task) and entry.name == "execve":
            self._superseded(task)
        pending = self.pending.pop(task.tid, None)
        if pending is None or pending.entry is not entry:
            return
        took = self.mono_ns() - pending.start_ns
        call = Call(task, entry, pending.args, self.strsize, result, pending.before)
        special = SPECIAL.get(entry.name)
        if entry.name in SPLIT_SPECIAL:
            rest_parts = []
            rest = SPLIT_SPECIAL[entry.name][1](call) + ")"
        else:
            if special is not None:
                rest_parts = special(call)
            else:
                rest_parts = [fmt_arg(call, i) for i in range(pending.split, len(entry.args))]
            rest = ", ".join(rest_parts) + ")"
        if pending.head.startswith("restart_syscall("):
            rest = ")"
        if result == -abi.ERESTART_RESTARTBLOCK:
            self.restart_blocks[task.tid] = entry
        ret = format_return(call)
        if self.status is not None:
            if self._shows("failed" if is_error(result) else "successful"):
                self._line(task.tid, pending.head + rest, ret, lead=pending.lead, suffix=self._took(took))
        elif self.open_tid == task.tid and not pending.unfinished:
            self.open_tid = None
            written = len(pending.lead) + len(pending.head)  # the entry line printed so far
            self._write(_aligned(pending.lead + pending.head + rest, ret)[written:] + self._took(took) + "\n")
        else:
            self._line(task.tid, f"<... {entry.name} resumed>{rest}", ret, suffix=self._took(took))
        self._count(entry.name, result, pending.start_ns)
        if entry.name in ("clone", "clone3", "fork", "vfork") and result > 0:
            self.live.add(result)
        if self._recording:
            decoded = ([fmt_arg(call, i) for i in range(pending.split)] if special is None else []) + rest_parts
            self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(pending.raw[:len(entry.args)]), "decoded": decoded,
                        "ret": result, "error": errno_name(-result) if is_error(result) else None,
                        "duration": took / 1e9}, task, pending.clock_ns)

    def _superseded(self, task: Task) -> None:
        """execve succeeded in a thread that is not the leader: it now has the leader's
        tid. As strace: the leader's call ends `= ?`, `+++ superseded by execve in pid
        OLD +++`, and the execve's pending entry moves to the new tid."""
        old_tid = next((tid for tid, p in self.pending.items() if p.task is task), None)
        if old_tid is None or old_tid == task.tid:
            return
        leader = self.pending.pop(task.tid, None)
        if leader is not None:
            self._end_unfinished(task.tid, leader)
        self._event(task.tid, f"+++ superseded by execve in pid {old_tid} +++")
        moved = self.pending.pop(old_tid)
        if self.open_tid == old_tid:
            self._interrupt(None)
        moved.unfinished = True
        self.pending[task.tid] = moved
        self.live.discard(old_tid)

    def _end_unfinished(self, tid: int, pending: Pending) -> None:
        """A task died inside a call (killed while blocked): `<... name resumed>) = ?`."""
        if self.status is not None:
            if self._shows("unfinished"):
                self._line(tid, pending.head + "<unfinished ...>)", "?", lead=pending.lead)
        elif self.open_tid == tid and not pending.unfinished:
            self.open_tid = None
            written = len(pending.lead) + len(pending.head)
            self._write(_aligned(pending.lead + pending.head + ")", "?")[written:] + "\n")
        else:
            self._line(tid, f"<... {pending.entry.name} resumed>)", "?")

    def nosys(self, task: Task, nr: int, raw: list[int]) -> None:
        """A call with no handler: it returned ENOSYS without running. Shown by its Linux
        name with raw arguments, or as strace shows numbers Linux lacks: `syscall_0x1f3`
        (those are shown whatever -e trace= says, as strace does)."""
        start = self.mono_ns()
        self._see(task)
        name = abi.SYSCALL_NAMES.get(nr)
        if name is not None and self.selected is not None and name not in self.selected:
            return
        shown_name = name if name is not None else f"syscall_{nr & (1 << 64) - 1:#x}"
        args = [value & (1 << 64) - 1 for value in raw[:NOSYS_NARGS.get(name or "", 6)]]
        decoded = [hex(value) if value else "0" for value in args]
        if self._shows("failed"):
            self._line(task.tid, f"{shown_name}({', '.join(decoded)})",
                       f"-1 ENOSYS ({strerror(abi.ENOSYS)})", suffix=self._took(self.mono_ns() - start))
        self._count(shown_name, -abi.ENOSYS, start)
        self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": shown_name, "nr": nr,
                    "args": args, "decoded": decoded, "ret": -abi.ENOSYS, "error": "ENOSYS"}, task)

    def signal(self, task: Task, info: SigInfo) -> None:
        """`info` is being delivered to `task`: strace's `--- SIGCHLD {...} ---`. An entry
        line still open (this task's or another's) is ended with `<unfinished ...>`."""
        self._see(task)
        if self.signals is None or info.signo in self.signals:
            self._event(task.tid, signal_line(info))
        self._json({"event": "signal", "pid": task.group.tgid, "tid": task.tid, "signo": info.signo,
                    "signal": signame(info.signo), "code": info.code,
                    "code_name": si_code_name(info.signo, info.code), "siginfo": siginfo(info)}, task)

    def stopped(self, task: Task, sig: int) -> None:
        """`task` entered group stop because of `sig`: `--- stopped by SIGSTOP ---`."""
        self._see(task)
        self._event(task.tid, f"--- stopped by {signame(sig)} ---")
        self._json({"event": "stopped", "pid": task.group.tgid, "tid": task.tid, "signo": sig,
                    "signal": signame(sig)}, task)

    def process_exit(self, group: ThreadGroup, status: int) -> None:
        """The last thread of `group` is gone; `status` is its wait status. Called by
        exit.py's exit_notify."""
        for task in group.tasks:
            pending = self.pending.pop(task.tid, None)
            if pending is not None:  # died inside a call (killed while blocked)
                self._end_unfinished(task.tid, pending)
        self._exited(group.tasks, status, group.tgid)

    def _exited(self, tasks: list[Task], status: int, tgid: int) -> None:
        sig = status & 0x7F
        if sig:
            core = " (core dumped)" if status & 0x80 else ""
            text = f"+++ killed by {signame(sig)}{core} +++"
        else:
            text = f"+++ exited with {(status >> 8) & 0xFF} +++"
        for task in tasks:
            if task.tid in self.live or task is tasks[0]:
                self._event(task.tid, text)
                self.live.discard(task.tid)
        self._json({"event": "exit", "pid": tgid, "status": status,
                    "code": None if sig else (status >> 8) & 0xFF, "signal": signame(sig) if sig else None,
                    "core_dumped": bool(sig and status & 0x80)}, tasks[0] if tasks else None)

    def _count(self, name: str, result: int, start_ns: int) -> None:
        if not self.summary:
            return
        stats = self.stats.setdefault(name, Stats())
        stats.calls += 1
        stats.ns += self.mono_ns() - start_ns
        if is_error(result):
            stats.errors += 1

    def close(self) -> None:
        """End of the run: an open line is ended, the -c table printed, streams flushed."""
        self._interrupt(None)
        if self.summary and self.stream is not None:
            self.stream.write(summary_table(self.stats))
        for stream in (self.stream, self.json_stream):
            if stream is not None:
                stream.flush()
        if self.timeline is not None:
            self.timeline.close()
