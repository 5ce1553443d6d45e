"""The signal data types (Linux's include/linux/signal_types.h and uapi/asm/signal.h): a
leaf module that imports only pykern.abi, so that task.py can hold a thread's and a
process's signal state without importing the signal code (pykern.signal), which needs
the task types.

Signal numbers as bits, siginfo_t, struct kernel_sigaction, the pending queues,
sigaltstack's stack_t and a process's job-control state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    KERNEL_SIGACTION,
    SI_USER,
    SIG_DFL,
    SIGABRT,
    SIGBUS,
    SIGCHLD,
    SIGCONT,
    SIGFPE,
    SIGILL,
    SIGINFO_CHLD,
    SIGINFO_FAULT,
    SIGINFO_HEAD,
    SIGINFO_KILL,
    SIGINFO_SIZE,
    SIGKILL,
    SIGQUIT,
    SIGRTMIN,
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
    SS_AUTODISARM,
    SS_DISABLE,
    SS_ONSTACK,
    signal_name,
)

if TYPE_CHECKING:
    from pykern.task import Task


IGNORED_BY_DEFAULT = frozenset({SIGCHLD, SIGCONT, SIGURG, SIGWINCH})
STOP_SIGNALS = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})
CORE_SIGNALS = frozenset({SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS})
FAULT_SIGNALS = frozenset({SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP})
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def sigbit(sig: int) -> int:
    return 1 << (sig - 1)


class SigInfo:
    """A queued signal's siginfo_t: who sent it and why (the fields per si_code family).

    - kill/tkill/sigqueue (SI_USER, SI_TKILL, SI_QUEUE): pid, uid (and sigqueue's value)
    - SIGCHLD (CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED): pid, uid,
      status (exit code or signal number), utime, stime (clock ticks)
    - faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP): addr
    - the kernel's own (SI_KERNEL): nothing else
    """

    __slots__ = ("signo", "code", "errno", "pid", "uid", "status", "utime", "stime", "addr", "value")

    def __init__(self, signo: int, code: int, errno: int = 0, pid: int = 0, uid: int = 0, status: int = 0,
                 utime: int = 0, stime: int = 0, addr: int = 0, value: int = 0) -> None:
        self.signo = signo
        self.code = code
        self.errno = errno
        self.pid = pid
        self.uid = uid
        self.status = status
        self.utime = utime
        self.stime = stime
        self.addr = addr
        self.value = value  # si_value (sigqueue)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__[2:] if getattr(self, name))
        return f"SigInfo({signal_name(self.signo)}, code={self.code}{', ' + fields if fields else ''})"

    def pack(self) -> bytes:
        """The 128-byte siginfo_t as x86-64 lays it out."""
        head = SIGINFO_HEAD.pack(self.signo, self.errno, self.code)
        if self.signo in FAULT_SIGNALS and self.code > 0:
            body = SIGINFO_FAULT.pack(self.addr)
        elif self.signo == SIGCHLD and self.code > 0:
            body = SIGINFO_CHLD.pack(self.pid, self.uid, self.status, self.utime, self.stime)
        else:
            body = SIGINFO_KILL.pack(self.pid, self.uid, self.value)
        return (head + body).ljust(SIGINFO_SIZE, b"\0")

    # A signal that must be dropped when dequeued instead of taken: a POSIX timer's, once
    # the timer was re-armed or deleted (pykern.posix_timers.TimerSigInfo, Linux 6.13's
    # posixtimer_deliver_signal).
    stale = False


class SigAction:
    __slots__ = ("handler", "flags", "restorer", "mask")

    def __init__(self, handler: int = SIG_DFL, flags: int = 0, restorer: int = 0, mask: int = 0) -> None:
        self.handler = handler
        self.flags = flags
        self.restorer = restorer
        self.mask = mask

    def pack(self) -> bytes:
        return KERNEL_SIGACTION.pack(self.handler, self.flags, self.restorer, self.mask)

    @classmethod
    def unpack(cls, data: bytes) -> SigAction:
        return cls(*KERNEL_SIGACTION.unpack(data))


# A bound on the siginfos one queue holds, for pykern's own memory: past it a real-time
# signal already pending merges like a standard one (Linux, past RLIMIT_SIGPENDING, keeps
# the bit and drops the info); sigqueue gets EAGAIN first (syscalls/signal.py).
QUEUE_BOUND = 1 << 16


class SigQueue:
    """Pending signals (Linux's struct sigpending): a mask and the queued siginfos.
    A standard signal is queued at most once; real-time signals queue every instance
    (up to QUEUE_BOUND)."""

    __slots__ = ("mask", "infos")

    def __init__(self) -> None:
        self.mask = 0
        self.infos: list[SigInfo] = []

    def add(self, info: SigInfo) -> bool:
        bit = sigbit(info.signo)
        if self.mask & bit and (info.signo < SIGRTMIN or len(self.infos) >= QUEUE_BOUND):
            return False
        self.mask |= bit
        self.infos.append(info)
        return True

    def take(self, allowed: int) -> SigInfo | None:
        """Dequeue the next signal in `allowed`: synchronous faults first, then the
        lowest number (Linux's next_signal). Stale ones are dropped on the way."""
        while True:
            ready = self.mask & allowed
            if not ready:
                return None
            ready = (ready & SYNCHRONOUS_MASK) or ready
            sig = (ready & -ready).bit_length()
            index = next(i for i, info in enumerate(self.infos) if info.signo == sig)
            info = self.infos.pop(index)
            if not any(other.signo == sig for other in self.infos):
                self.mask &= ~sigbit(sig)
            if not info.stale:
                return info

    def discard(self, mask: int) -> None:
        if self.mask & mask:
            self.infos = [info for info in self.infos if not sigbit(info.signo) & mask]
            self.mask &= ~mask


SYNCHRONOUS_MASK = 0
for _sig in (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS):
    SYNCHRONOUS_MASK |= sigbit(_sig)
STOP_MASK = 0
for _sig in STOP_SIGNALS:
    STOP_MASK |= sigbit(_sig)



class AltStack:
    """sigaltstack(2)'s stack_t for one thread."""

    __slots__ = ("sp", "flags", "size")

    def __init__(self, sp: int = 0, flags: int = SS_DISABLE, size: int = 0) -> None:
        self.sp = sp
        self.flags = flags
        self.size = size

    def contains(self, sp: int) -> bool:
        return not self.flags & SS_AUTODISARM and self.sp < sp <= self.sp + self.size

    def state(self, sp: int) -> int:
        """ss_flags as sigaltstack reports them for a thread whose stack pointer is `sp`."""
        if not self.size or self.flags & SS_DISABLE:
            return SS_DISABLE | (self.flags & SS_AUTODISARM)
        return (SS_ONSTACK if self.contains(sp) else 0) | (self.flags & SS_AUTODISARM)


class GroupStop:
    """Job control state of a process (Linux's SIGNAL_STOP_* flags and group_exit_code)."""

    __slots__ = ("stopped", "signal", "report")

    def __init__(self, stopped: bool = False, signal: int = 0, report: tuple[int, int] | None = None) -> None:
        self.stopped = stopped
        self.signal = signal
        self.report = report  # (CLD_STOPPED | CLD_CONTINUED, signal) for wait


def user_info(sender: Task, sig: int, code: int = SI_USER) -> SigInfo:
    """The siginfo of kill(2) (SI_USER) and tgkill(2) (SI_TKILL): who sent it."""
    return SigInfo(sig, code, pid=sender.group.tgid, uid=sender.group.creds.uid)


