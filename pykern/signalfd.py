"""signalfd: pending signals read as a file (Linux's fs/signalfd.c).

A read dequeues signals of the file's mask from the reading thread's pending set, then
its process's (as sigtimedwait does), each as a 128-byte struct signalfd_siginfo. The
file takes nothing itself: a signal it should see must be blocked, or it is delivered
(or ignored) before anyone reads it, as on Linux. Readiness is judged for the thread that
asks (Linux's `current`): a signalfd shared across fork reads each process's own signals.
Senders wake `ThreadGroup.signalfd_wait` (pykern.signal.Signals.send).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pykern.abi import (
    EAGAIN,
    EINVAL,
    O_RDWR,
    POLLIN,
    POLLRDNORM,
    SI_KERNEL,
    SI_TIMER,
    SI_USER,
    SIGCHLD,
)
from pykern.anon_inode import anon_inode_stat
from pykern.errors import Block, SysError
from pykern.fs.file import File
from pykern.fs.stat import Stat
from pykern.sigtypes import FAULT_SIGNALS, UNBLOCKABLE, SigInfo

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task
    from pykern.waitqueue import WaitQueue

# struct signalfd_siginfo: signo, errno, code, pid, uid, fd, tid, band, overrun, trapno,
# status, int, ptr, utime, stime, addr, addr_lsb, pad, syscall, call_addr, arch; 28 bytes pad
SIGNALFD_SIGINFO = struct.Struct("<IiiIIiIIIIiiQQQQHHiQI28x")


def signalfd_siginfo(info: SigInfo) -> bytes:
    """signalfd_copyinfo: the fields of `info`'s siginfo layout (Linux's siginfo_layout)."""
    pid = uid = tid = overrun = status = value = utime = stime = addr = 0
    code = info.code
    if SI_USER < code < SI_KERNEL and info.signo in FAULT_SIGNALS:
        addr = info.addr
    elif SI_USER < code < SI_KERNEL and info.signo == SIGCHLD:
        pid, uid, status, utime, stime = info.pid, info.uid, info.status, info.utime, info.stime
    elif code == SI_TIMER:
        tid, overrun, value = getattr(info, "timerid", 0), getattr(info, "overrun", 0), info.value
    elif code < 0:  # SI_QUEUE, SI_TKILL, SI_MESGQ ...: pid, uid and the value
        pid, uid, value = info.pid, info.uid, info.value
    else:  # SI_USER, SI_KERNEL
        pid, uid = info.pid, info.uid
    as_int = value & 0xFFFFFFFF
    as_int -= (as_int & 0x80000000) << 1
    return SIGNALFD_SIGINFO.pack(info.signo, info.errno, code, pid & 0xFFFFFFFF, uid, 0, tid & 0xFFFFFFFF, 0,
                                 overrun & 0xFFFFFFFF, 0, status, as_int, value, utime, stime, addr, 0, 0, 0, 0, 0)


class SignalFd(File):
    kind = "signalfd"

    def __init__(self, kernel: Kernel, mask: int, flags: int) -> None:
        super().__init__(O_RDWR | flags)
        self.kernel = kernel
        self.mask = mask & ~UNBLOCKABLE

    def set_mask(self, task: Task, mask: int) -> None:
        """signalfd4 on an existing signalfd: a new mask, and pollers look again."""
        self.mask = mask & ~UNBLOCKABLE
        task.group.signalfd_wait.wake_all()

    def _dequeue(self, task: Task) -> SigInfo | None:
        return task.sigpending.take(self.mask) or task.group.shared_pending.take(self.mask)

    def read(self, task: Task, size: int) -> bytes:
        count = size // SIGNALFD_SIGINFO.size
        if not count:
            raise SysError(EINVAL)
        info = self._dequeue(task)
        if info is None:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(task.group.signalfd_wait)
        out = [signalfd_siginfo(info)]
        while len(out) < count and (info := self._dequeue(task)) is not None:
            out.append(signalfd_siginfo(info))
        return b"".join(out)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        task = self.kernel.sched.current
        if task is None:
            return 0, (), ()
        pending = task.sigpending.mask | task.group.shared_pending.mask
        return (POLLIN | POLLRDNORM if pending & self.mask else 0), (task.group.signalfd_wait,), ()

    def stat(self) -> Stat:
        return anon_inode_stat()
