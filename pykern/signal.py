"""Signals: dispositions, sending, and default actions (Linux's kernel/signal.c).

What exists now: per-process action tables (inherited by fork, shared under
CLONE_SIGHAND, reset to SIG_DFL by execve for handled signals), per-thread masks, and
delivery of default actions: terminate, ignore. SIGCHLD set to SIG_IGN (or SA_NOCLDWAIT)
makes children reap themselves.

Not yet: running user handlers (rt_sigframe, rt_sigreturn), stop/continue, queued
siginfo. A signal that would run a user handler is reported on stderr once and its
default action taken, so the difference is never silent.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykern.abi import (
    NSIG,
    SIGABRT,
    SIGBUS,
    SIGCHLD,
    SIGCONT,
    SIGFPE,
    SIGILL,
    SIGKILL,
    SIGQUIT,
    SIGSEGV,
    SIGSTOP,
    SIGSYS,
    SIGTRAP,
    SIGTSTP,
    SIGTTIN,
    SIGTTOU,
    SIGURG,
    SIGWINCH,
    SIGXCPU,
    SIGXFSZ,
    signal_name,
)

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

SIG_DFL = 0
SIG_IGN = 1
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

# struct kernel_sigaction on x86-64: handler, flags, restorer, mask (8 bytes)
KERNEL_SIGACTION = struct.Struct("<QQQQ")

IGNORED_BY_DEFAULT = frozenset({SIGCHLD, SIGCONT, SIGURG, SIGWINCH})
STOP_SIGNALS = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})
CORE_SIGNALS = frozenset({SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS})
FAULT_SIGNALS = frozenset({SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP})
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def sigbit(sig: int) -> int:
    return 1 << (sig - 1)


SIGINFO_SIZE = 128


@dataclass
class SigInfo:
    """A queued signal's siginfo_t: who sent it and why (the fields per si_code family).

    - kill/tkill/sigqueue (SI_USER, SI_TKILL, SI_QUEUE): pid, uid
    - SIGCHLD (CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED): pid, uid,
      status (exit code or signal number), utime, stime (clock ticks)
    - faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP): addr
    - the kernel's own (SI_KERNEL): nothing else
    """

    signo: int
    code: int
    errno: int = 0
    pid: int = 0
    uid: int = 0
    status: int = 0
    utime: int = 0
    stime: int = 0
    addr: int = 0

    def pack(self) -> bytes:
        """The 128-byte siginfo_t as x86-64 lays it out."""
        head = struct.pack("<iii4x", self.signo, self.errno, self.code)
        if self.signo in FAULT_SIGNALS and self.code > 0:
            body = struct.pack("<Q", self.addr)
        elif self.signo == SIGCHLD and self.code > 0:
            body = struct.pack("<iIi4xqq", self.pid, self.uid, self.status, self.utime, self.stime)
        else:
            body = struct.pack("<iI", self.pid, self.uid)
        return (head + body).ljust(SIGINFO_SIZE, b"\0")


@dataclass
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0

    def pack(self) -> bytes:
        return KERNEL_SIGACTION.pack(self.handler, self.flags, self.restorer, self.mask)

    @classmethod
    def unpack(cls, data: bytes) -> SigAction:
        return cls(*KERNEL_SIGACTION.unpack(data))


class Signals:
    """The kernel's signal machinery; installed as `kernel.signals`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.warned = False

    def action(self, group: ThreadGroup, sig: int) -> SigAction:
        return group.sigactions.get(sig) or SigAction()

    def ignores_children(self, parent: ThreadGroup) -> bool:
        action = self.action(parent, SIGCHLD)
        return action.handler == SIG_IGN or bool(action.flags & SA_NOCLDWAIT)

    def flush_handlers(self, group: ThreadGroup) -> None:
        """execve: handled signals go back to SIG_DFL; ignored ones stay ignored."""
        for sig, action in list(group.sigactions.items()):
            if action.handler not in (SIG_DFL, SIG_IGN):
                group.sigactions[sig] = SigAction()

    def notify_parent(self, child: ThreadGroup) -> None:
        if child.parent is not None:
            self.send_to_group(child.parent, child.exit_signal)

    def is_ignored(self, group: ThreadGroup, sig: int) -> bool:
        action = self.action(group, sig)
        return action.handler == SIG_IGN or (action.handler == SIG_DFL and sig in IGNORED_BY_DEFAULT)

    def send_to_group(self, group: ThreadGroup, sig: int) -> None:
        """Deliver `sig` to a process: for now, its default action happens at once."""
        if sig == 0 or group.is_zombie or not group.live_tasks:
            return
        if sig != SIGKILL and self.is_ignored(group, sig):
            return
        action = self.action(group, sig)
        if sig != SIGKILL and action.handler not in (SIG_DFL, SIG_IGN):
            if not self.warned:
                self.warned = True
                print(f"pykern: warning: {signal_name(sig)} has a handler, but running signal handlers "
                      "is not supported yet: taking the default action", file=sys.stderr)
            if sig in IGNORED_BY_DEFAULT:
                return
        if sig in STOP_SIGNALS or sig == SIGCONT:
            return  # job control arrives with the signals issue
        self.kernel.kill_group(group, sig)

    def send_to_task(self, task: Task, sig: int) -> None:
        self.send_to_group(task.group, sig)


def valid_signal(sig: int) -> bool:
    return 0 <= sig <= NSIG

