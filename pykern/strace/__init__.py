"""

The kernel calls `enter` before a handler runs, `exit` after it completed (or exec'd),
`block` when it went to sleep, and `process_exit` when a process died. A blocked call
re-run after a wakeup is the same call, with no second `enter` (a call interrupted by a
signal and then made again is a new one, as in strace), so each call prints one line (or
an `<unfinished ...>` / `<... resumed>` pair when another task's line came in between, as
strace -f does).

Arguments are formatted by their declared kind (`Kind.name`, pykern.sysent) the way
strace prints them: input arguments at entry (before the call can change memory), output
arguments at exit. A few calls whose argument meaning depends on another argument
(clone, fcntl, futex, getrandom, ...) have a small formatter of their own (SPECIAL,
called at exit), and clone3 prints its struct at entry and the tid it wrote back at exit
(SPLIT_SPECIAL), as strace does.

Interrupted calls end with strace's names for the kernel's restart codes (`= ?
ERESTARTSYS (To be restarted if SA_RESTART is set)`). Linux resumes a call that ended
with ERESTART_RESTARTBLOCK through restart_syscall; pykern re-enters the call itself,
and the tracer shows that re-entry as strace does: `restart_syscall(<... resuming
interrupted clock_nanosleep ...>) = 0`. A thread's exit prints its `+++ exited with N
+++` at once; an execve in a thread that is not the leader prints `+++ superseded by
execve in pid OLD +++` for the leader, whose tid the thread takes.
Formatting never raises into the kernel: a guest pointer that cannot be read is shown
as its address, as strace does.

The package, by layer (each module imports only from those above it):
formats (symbolic tables, plain values), structs (Call and the struct decoders), kinds
(arguments by kind, and the decoder tables the next five fill), calls, files, net,
fdcalls, ipc (strace's per-call decoders), filters (-e expressions), sinks (stamps,
alignment, the -c table), timeline (--timeline's Chrome trace-event file), events (the
Tracer the kernel calls).
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
from pykern.strace.sinks import Stats, duration, summary_table, timestamp
from pykern.strace.structs import Call, fmt_siginfo
from pykern.strace.timeline import Timeline

__all__ = [
    "IPC_GET_BITS", "PROT_BITS", "SHMCTL_CMDS", "TERMIOS_HEAD", "TRACE_CLASSES", "TRACE_STATUSES", "Call", "Stats",
    "Timeline", "Tracer", "_futex_args", "_futex_waitv_args", "_sigaltstack_args", "_sigqueueinfo_args", "clone_flags",
    "duration", "flags", "fmt_siginfo", "futex_op", "ipc_cmd", "ipc_get_flags", "ipc_key", "mmap_flags", "octal",
    "open_flags", "parse_signal_expr", "parse_status_expr", "parse_trace_expr", "quote", "rlim", "signal_line",
    "sigset", "summary_table", "termios", "timestamp", "wait_status", "winsize",
]
