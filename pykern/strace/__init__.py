"""pykern's tracer: strace's output (and JSON lines, the -c summary, a timeline) of a
running kernel.

One stream of events with sinks. The kernel calls the Tracer's hooks (enter, exit,
block, nosys, fork, exec, signal, stopped, process_exit: pykern.strace.events); the
Tracer decodes each call's arguments by their declared kind (`Kind.name`,
pykern.sysent), follows each task's pending call, and hands one event object per thing
that happened (SyscallEnter, SyscallExit, Signal, Forked, TaskExited ...) to every sink:
strace's text (text), the --trace-json lines (jsonl), the -c table (summary), the
--timeline file (timeline). Adding a sink is one more object in `Tracer.sinks`; adding how a call
is shown is a kind (kinds) or one entry in a per-call table (SPECIAL, SPLIT_SPECIAL,
RETURNS ...), never a check of the call's name in the generic code.

The kernel calls `enter` before a handler runs, `exit` after it completed (or exec'd),
`block` when it went to sleep, and `process_exit` when a process died. A blocked call
re-run after a wakeup is the same call, with no second `enter` (a call interrupted by a
signal and then made again is a new one, as in strace), so each call prints one line (or
an `<unfinished ...>` / `<... resumed>` pair when another task's line came in between, as
strace -f does).

Arguments are formatted the way strace prints them: input arguments at entry (before
the call can change memory), output arguments at exit. A few calls whose argument
meaning depends on another argument (clone, fcntl, futex, ioctl ...) have a formatter of
their own, called at exit; clone3 prints its struct at entry and the tid it wrote back at
exit, as strace does. Formatting never raises into the kernel: a guest pointer that
cannot be read is shown as its address, as strace does.

The package, by layer (each module imports only from those above it):
formats (symbolic tables, plain values), structs (Call and the struct decoders), kinds
(arguments and results by kind, and the per-call tables the next five fill), calls,
files, net, fdcalls, ipc (strace's per-call decoders), filters (-e expressions), sinks
(what a sink is), then the sinks: text (strace's lines: stamps, alignment,
<unfinished ...>), jsonl (--trace-json), summary (-c), timeline (--timeline's Chrome
trace-event file); last events (the event types and the Tracer the kernel calls).
"""

from pykern.strace import calls, fdcalls, files, ipc, net  # noqa: F401  (they fill kinds.SPECIAL and friends)
from pykern.strace.calls import _futex_args, _futex_waitv_args, _sigaltstack_args, _sigqueueinfo_args
from pykern.strace.events import Tracer
from pykern.strace.filters import (
    TRACE_CLASSES,
    TRACE_STATUSES,
    parse_signal_expr,
    parse_status_expr,
    parse_trace_expr,
)
from pykern.strace.formats import (
    PROT_BITS,
    TERMIOS_HEAD,
    clone_flags,
    flags,
    futex_op,
    mmap_flags,
    octal,
    open_flags,
    quote,
    rlim,
    signal_line,
    sigset,
    termios,
    wait_status,
    winsize,
)
from pykern.strace.ipc import IPC_GET_BITS, SHMCTL_CMDS, ipc_cmd, ipc_get_flags, ipc_key
from pykern.strace.jsonl import JsonSink
from pykern.strace.sinks import Sink
from pykern.strace.structs import Call, fmt_siginfo
from pykern.strace.summary import Stats, SummarySink, summary_table
from pykern.strace.text import TextSink, duration, timestamp
from pykern.strace.timeline import Timeline

__all__ = [
    "IPC_GET_BITS", "PROT_BITS", "SHMCTL_CMDS", "TERMIOS_HEAD", "TRACE_CLASSES", "TRACE_STATUSES", "Call", "JsonSink",
    "Sink", "Stats", "SummarySink", "TextSink", "Timeline", "Tracer", "_futex_args", "_futex_waitv_args", "_sigaltstack_args", "_sigqueueinfo_args", "clone_flags",
    "duration", "flags", "fmt_siginfo", "futex_op", "ipc_cmd", "ipc_get_flags", "ipc_key", "mmap_flags", "octal",
    "open_flags", "parse_signal_expr", "parse_status_expr", "parse_trace_expr", "quote", "rlim", "signal_line",
    "sigset", "summary_table", "termios", "timestamp", "wait_status", "winsize",
]
