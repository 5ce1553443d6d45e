"""The tracer's events, and the Tracer that makes them.

The kernel calls the Tracer's hooks: `enter` before a handler runs, `exit` after it
completed (or exec'd), `block` when it went to sleep, `nosys` for a call without a
handler, `fork`, `exec`, `signal`, `stopped`, and `process_exit` when a process died. The
Tracer turns each into one event object (the classes below) and hands it to every sink in
turn: strace's text (pykern.strace.text), the JSON lines (jsonl), the -c summary
(summary), the --timeline file (timeline). A sink is any object with `handle(event)` and
`close()` (pykern.strace.sinks); adding one touches only the list `Tracer.sinks`.

What the Tracer owns: decoding (arguments at entry, before the call can change memory;
outputs at exit, by kind: pykern.strace.kinds), each task's pending call (one entry
event and one exit event per call, however often a blocked call is re-run), the -e
trace= selection, and the set of traced tasks (`live`: strace prints the `[pid N]`
prefix once there are two). Each event carries the number of traced tasks when it
happened (`tracees`), so a sink needs nothing of the Tracer but its clocks.

Interrupted calls end with the kernel's restart codes, which the sinks show by strace's
names. Linux resumes a call that ended with ERESTART_RESTARTBLOCK through
restart_syscall; pykern re-enters the call itself, and the entry event says so
(`restarted`). A thread's exit makes a TaskExited event at once; an execve in a thread
that is not the leader ends the leader's pending call (Unfinished) and makes a Superseded
event, and the execve's pending call moves to the leader's tid, which the thread takes.
Formatting never raises into the kernel: a guest pointer that cannot be read is shown as
its address, as strace does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, TextIO

from pykern import abi
from pykern.strace.formats import DEFAULT_STRSIZE, quote
from pykern.strace.jsonl import JsonSink
from pykern.strace.kinds import ENTRY_CAPTURE, SPECIAL, SPLIT_SPECIAL, fmt_arg, format_return
from pykern.strace.sinks import Sink
from pykern.strace.structs import Call
from pykern.strace.summary import SummarySink
from pykern.strace.text import TextSink
from pykern.strace.timeline import Timeline

if TYPE_CHECKING:
    from pykern.errors import Block
    from pykern.sigtypes import SigInfo
    from pykern.sysent import SyscallEntry
    from pykern.task import Task, ThreadGroup


# --- the events -------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Event:
    """Something that happened to `task`; `tracees`: how many tasks were traced then.
    `kind` names it for the sinks (a sink's `on_<kind>` method gets it)."""

    kind: ClassVar[str] = ""
    task: Task
    tracees: int

    @property
    def tid(self) -> int:
        return self.task.tid

    @property
    def pid(self) -> int:
        return self.task.group.tgid


@dataclass(eq=False, slots=True)
class SyscallEnter(Event):
    """A call entered (once, however often a blocked call is re-run). `shown` is its
    entry arguments as strace prints them (with the ", " when more follow at exit),
    `decoded` the same one by one."""

    kind: ClassVar[str] = "syscall_enter"

    entry: SyscallEntry
    raw: list[int]
    args: list[int]
    shown: str
    decoded: list[str]
    head: str  # `name(entry args` as strace's line starts (restart_syscall's own when restarted)
    start_ns: int  # the Tracer's call clock (-T, -c)
    restarted: bool = False  # re-entered after ERESTART_RESTARTBLOCK: strace's restart_syscall
    split: int = 0  # the first argument shown at exit
    before: dict[str, int] = field(default_factory=dict)  # Call.before: values read at entry

    @property
    def name(self) -> str:
        return self.entry.name



@dataclass(eq=False, slots=True)
class SyscallExit(Event):
    """The call `enter` returned `result`, or never returns (exit, exit_group: None).
    `rest` is what strace prints after the entry part (the exit arguments and ")"),
    `ret` what follows " = "."""

    kind: ClassVar[str] = "syscall_exit"

    enter: SyscallEnter
    result: int | None
    rest: str
    ret: str
    took_ns: int = 0
    rest_parts: list[str] = field(default_factory=list)
    strsize: int = DEFAULT_STRSIZE
    made: list[str] | None = None  # `decoded`, once made

    @property
    def name(self) -> str:
        return self.enter.entry.name

    @property
    def decoded(self) -> list[str]:
        """All the arguments as shown (for the JSON record: made only when a sink asks,
        while the guest's memory is as it was at exit)."""
        if self.made is None:
            enter = self.enter
            if self.result is None:
                self.made = [str(enter.args[0])]
            elif enter.entry.name in SPECIAL:
                self.made = self.rest_parts
            else:
                call = Call(self.task, enter.entry, enter.args, self.strsize, self.result, enter.before)
                self.made = [fmt_arg(call, i) for i in range(enter.split)] + self.rest_parts
        return self.made


@dataclass(eq=False, slots=True)
class NoSys(Event):
    """A call with no handler: it returned ENOSYS without running. `name` is its Linux
    name, or strace's `syscall_0x1f3` for numbers Linux lacks; `decoded` its raw args."""

    kind: ClassVar[str] = "nosys"

    nr: int
    name: str
    args: list[int]
    decoded: list[str]
    start_ns: int


@dataclass(eq=False, slots=True)
class Blocked(Event):
    """The pending call `enter` went to sleep; `block` says on what (its wait queues,
    deadline and host fds)."""

    kind: ClassVar[str] = "block"

    enter: SyscallEnter
    block: Block | None = None


@dataclass(eq=False, slots=True)
class Woken(Event):
    """The sleeping `task` was woken: by the system call of `waker` (the task running
    then), or, when `waker` is None, by the kernel itself: `by` says what ("timer": its
    deadline or a kernel timer; "host fd": a host file descriptor became ready; "host
    signal": a signal sent to pykern; "kernel" otherwise). Only the timeline takes it."""

    kind: ClassVar[str] = "wake"

    waker: Task | None
    by: str


@dataclass(eq=False, slots=True)
class Ran(Event):
    """`task` ran in the JIT from `start_ns` to `end_ns` (the kernel's CLOCK_MONOTONIC):
    one of the scheduler's slices. Only the timeline takes it."""

    kind: ClassVar[str] = "ran"

    start_ns: int
    end_ns: int


@dataclass(eq=False, slots=True)
class Unfinished(Event):
    """The task died inside `enter` (killed while blocked, or superseded by an execve)."""

    kind: ClassVar[str] = "unfinished"

    enter: SyscallEnter


@dataclass(eq=False, slots=True)
class Superseded(Event):
    """execve succeeded in thread `old_tid`, which now has the leader's tid (`task.tid`);
    its pending call `moved` goes with it."""

    kind: ClassVar[str] = "superseded"

    old_tid: int
    moved: SyscallEnter


@dataclass(eq=False, slots=True)
class InitialExec(Event):
    """The CLI's own execve of the program, shown first (strace shows the one it made)."""

    kind: ClassVar[str] = "initial_exec"

    decoded: list[str]  # path, argv, and envp's size


@dataclass(eq=False, slots=True)
class Signal(Event):
    kind: ClassVar[str] = "signal"

    info: SigInfo


@dataclass(eq=False, slots=True)
class Stopped(Event):
    """`task` entered group stop because of `signo`."""

    kind: ClassVar[str] = "stopped"

    signo: int


@dataclass(eq=False, slots=True)
class Forked(Event):
    """`task` created `child` (fork, vfork, clone, clone3)."""

    kind: ClassVar[str] = "fork"

    child: Task
    flags: int


@dataclass(eq=False, slots=True)
class Exec(Event):
    kind: ClassVar[str] = "exec"

    path: str
    argv: list[bytes]


@dataclass(eq=False, slots=True)
class TaskExited(Event):
    """`task` is gone with wait status `status` (a thread's exit at once; each task of a
    process when the process dies)."""

    kind: ClassVar[str] = "task_exited"

    status: int


@dataclass(eq=False, slots=True)
class ProcessExit(Event):
    """The process `tgid` died with wait status `status`; `task` is its first task, or
    None when it had none left."""

    kind: ClassVar[str] = "process_exit"

    task: Task | None  # type: ignore[assignment]
    tgid: int
    status: int

    @property
    def pid(self) -> int:
        return self.tgid

    @property
    def tid(self) -> int:
        return self.tgid


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
TASK_CREATING_CALLS = frozenset({"clone", "clone3", "fork", "vfork"})


@dataclass
class Tracer:
    """Follows every task (forks always) and hands each event to `sinks`.

    The options make the usual sinks: strace's text to `stream` (options as strace's:
    `status` -e status=, a line then printed whole at exit; `timestamps` -t, -tt, -ttt: 1,
    2, 3; `relative` -r; `syscall_times` -T; `signals` -e signal=; `pid_prefix_always`
    -f -o FILE), or with `summary` (-c) the summary table instead; `json_stream`
    (--trace-json) and `timeline` (--timeline). `selected` (-e trace=) is which calls
    make events at all. `wall_ns`, `mono_ns` and `clock0` are the trace's clocks (for -t;
    for -T, -r, -c and the JSON times), which the sinks read through the Tracer when they
    write (pykern.strace.sinks.Clocks): tests, and a virtual clock, replace them, also
    after the Tracer is made.
    """

    stream: TextIO | None
    strsize: int = DEFAULT_STRSIZE
    selected: frozenset[str] | None = None  # syscall names to trace; None = all
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
    clock0: float = field(default_factory=lambda: time.perf_counter_ns() / 1e9)  # the JSON times' zero
    sinks: list[Sink] = field(default_factory=list)  # besides the ones the options make
    pending: dict[int, SyscallEnter] = field(default_factory=dict)  # tid -> its call not yet returned
    live: set[int] = field(default_factory=set)  # the traced tasks
    restart_blocks: dict[int, SyscallEntry] = field(default_factory=dict)  # ended ERESTART_RESTARTBLOCK
    routes: dict[str, list[Callable[[Event], None]]] = field(default_factory=dict)  # event kind -> handlers

    def __post_init__(self) -> None:
        made: list[Sink] = []
        if self.stream is not None and not self.summary:
            made.append(TextSink(self.stream, status=self.status, signals=self.signals,
                                 timestamps=self.timestamps, relative=self.relative,
                                 syscall_times=self.syscall_times, pid_prefix_always=self.pid_prefix_always,
                                 clocks=self))
        if self.summary:
            made.append(SummarySink(self.stream, clocks=self))
        if self.json_stream is not None:
            made.append(JsonSink(self.json_stream, clocks=self))
        if self.timeline is not None:
            made.append(self.timeline)
        self.sinks[:0] = made

    def _emit(self, event: Event) -> None:
        handlers = self.routes.get(event.kind)
        if handlers is None:  # the first event of its kind: which sinks take it
            handlers = self.routes[event.kind] = [handler for handler in (_handler(sink, event.kind)
                                                                          for sink in self.sinks) if handler]
        for handle in handlers:
            handle(event)

    def _see(self, task: Task) -> None:
        if task.tid not in self.live:
            self.live.add(task.tid)
            if self.initial_exec is not None:
                path, argv, nenv = self.initial_exec
                self.initial_exec = None
                if self.selected is not None and "execve" not in self.selected:
                    return
                decoded = [quote(path, None), "[" + ", ".join(quote(a, self.strsize) for a in argv) + "]",
                           f"0x7ffc00000000 /* {nenv} var{'' if nenv == 1 else 's'} */"]
                self._emit(InitialExec(task, len(self.live), decoded))

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
        if entry.name in SPECIAL or entry.name in SPLIT_SPECIAL:
            split = 0
        decoded = [fmt_arg(call, i) for i in range(split)]
        shown = ", ".join(decoded)
        if split < len(entry.args) and shown:
            shown += ", "
        if entry.name in SPLIT_SPECIAL:
            shown = SPLIT_SPECIAL[entry.name][0](call)
        if entry.name == "rt_sigreturn":
            self.restart_blocks.pop(task.tid, None)  # a handler ran: no restart_syscall
        restarted = self.restart_blocks.pop(task.tid, None) is entry
        capture = ENTRY_CAPTURE.get(entry.name)
        if capture is not None:
            capture(call)
        head = f"restart_syscall(<... resuming interrupted {entry.name} ...>" if restarted else f"{entry.name}({shown}"
        event = SyscallEnter(task, len(self.live), entry, list(raw), args, shown,
                             decoded if entry.name not in SPECIAL else [], head, self.mono_ns(), restarted, split,
                             call.before)
        self._emit(event)
        if entry.ret.name == "ret_none":  # exit, exit_group: there is no return to wait for
            rest = ", ".join(SPECIAL[entry.name](call)) + ")"
            self._emit(SyscallExit(task, len(self.live), event, None, rest, "?"))
            if entry.name == "exit" and task.tid != task.group.tgid and any(
                    t is not task for t in task.group.live_tasks):
                # a thread that is not the last one: strace reports it gone at once (the
                # leader, and the last thread, are reported when the process dies)
                self._emit(TaskExited(task, len(self.live), (args[0] & 0xFF) << 8))  # a wait status
                self.live.discard(task.tid)
            return
        self.pending[task.tid] = event

    def fork(self, parent: Task, child: Task, flags: int) -> None:
        """A task was created (fork, vfork, clone, clone3)."""
        self._emit(Forked(parent, len(self.live), child, flags))

    def exec(self, task: Task, path: str, argv: list[bytes]) -> None:
        """A new image replaced the old one."""
        self._emit(Exec(task, len(self.live), path, argv))

    def block(self, task: Task, entry: SyscallEntry) -> None:
        pending = self.pending.get(task.tid)
        if pending is None or pending.entry is not entry:
            return
        call = task.pending  # the PendingSyscall with the Block it sleeps on
        self._emit(Blocked(task, len(self.live), pending, call.block if call is not None else None))

    # --timeline only: the scheduler calls these when `timeline` is set (Scheduler.timeline)

    def woken(self, task: Task, waker: Task | str | None) -> None:
        """The sleeping `task` was woken by `waker`: the running task, or what of the
        kernel woke it (Woken.by), or None (the kernel, no task running)."""
        if isinstance(waker, str) or waker is None:
            self._emit(Woken(task, len(self.live), None, waker or "kernel"))
        else:
            self._emit(Woken(task, len(self.live), waker, "task"))

    def ran(self, task: Task, start_ns: int, end_ns: int) -> None:
        """`task` ran in the JIT from `start_ns` to `end_ns`."""
        self._emit(Ran(task, len(self.live), start_ns, end_ns))

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
        if pending.restarted:
            rest = ")"
        if result == -abi.ERESTART_RESTARTBLOCK:
            self.restart_blocks[task.tid] = entry
        self._emit(SyscallExit(task, len(self.live), pending, result, rest, format_return(call), took, rest_parts,
                               self.strsize))
        if entry.name in TASK_CREATING_CALLS and result > 0:
            self.live.add(result)

    def _superseded(self, task: Task) -> None:
        """execve succeeded in a thread that is not the leader: it now has the leader's
        tid. As strace: the leader's call ends `= ?`, `+++ superseded by execve in pid
        OLD +++`, and the execve's pending call moves to the new tid."""
        old_tid = next((tid for tid, p in self.pending.items() if p.task is task), None)
        if old_tid is None or old_tid == task.tid:
            return
        leader = self.pending.pop(task.tid, None)
        if leader is not None:
            self._emit(Unfinished(task, len(self.live), leader))  # on the tid both now have
        moved = self.pending.pop(old_tid)
        self._emit(Superseded(task, len(self.live), old_tid, moved))
        self.pending[task.tid] = moved
        self.live.discard(old_tid)

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
        self._emit(NoSys(task, len(self.live), nr, shown_name, args, decoded, start))

    def signal(self, task: Task, info: SigInfo) -> None:
        """`info` is being delivered to `task`."""
        self._see(task)
        self._emit(Signal(task, len(self.live), info))

    def stopped(self, task: Task, sig: int) -> None:
        """`task` entered group stop because of `sig`."""
        self._see(task)
        self._emit(Stopped(task, len(self.live), sig))

    def process_exit(self, group: ThreadGroup, status: int) -> None:
        """The last thread of `group` is gone; `status` is its wait status. Called by
        exit.py's exit_notify."""
        for task in group.tasks:
            pending = self.pending.pop(task.tid, None)
            if pending is not None:  # died inside a call (killed while blocked)
                self._emit(Unfinished(task, len(self.live), pending))
        self._exited(group.tasks, status, group.tgid)

    def _exited(self, tasks: list[Task], status: int, tgid: int) -> None:
        for task in tasks:
            if task.tid in self.live or task is tasks[0]:
                self._emit(TaskExited(task, len(self.live), status))
                self.live.discard(task.tid)
        self._emit(ProcessExit(tasks[0] if tasks else None, len(self.live), tgid, status))

    def close(self) -> None:
        """End of the run: each sink ends its output (an open line, the -c table ...)."""
        for sink in self.sinks:
            sink.close()


def _handler(sink: Sink, kind: str) -> Callable[[Event], None] | None:
    """What of `sink` takes events of `kind`: its `on_<kind>` method (None when it has
    none), or its own `handle` when it takes every event."""
    if getattr(type(sink), "handle", None) is Sink.handle:
        return getattr(sink, "on_" + kind, None)
    return sink.handle
