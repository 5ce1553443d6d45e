"""timerfd: a timer read as a file (Linux's fs/timerfd.c).

A read returns the number of expirations since the last read (8 bytes) and blocks while
there are none; settime resets the count. The timer is a `ClockTimer`
(pykern.posix_timers) on CLOCK_REALTIME, MONOTONIC or BOOTTIME (the _ALARM clocks run
as their plain clocks: pykern has no suspend to wake from).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import EAGAIN, EINVAL, O_RDWR, POLLIN, POLLRDNORM
from pykern.anon_inode import anon_inode_stat
from pykern.errors import Block, SysError
from pykern.fs.file import File
from pykern.fs.stat import Stat
from pykern.posix_timers import ClockTimer
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task

U64 = struct.Struct("<Q")


class TimerFd(File):
    kind = "timerfd"

    def __init__(self, kernel: Kernel, clockid: int, read: Callable[[], int], flags: int) -> None:
        super().__init__(O_RDWR | flags)
        self.clockid = clockid
        self.ticks = 0
        self.expired = WaitQueue("timerfd")
        self.timer = ClockTimer(kernel, read, self._expired)

    def _expired(self, count: int) -> None:
        self.ticks += count
        self.expired.wake_all()

    def settime(self, value_ns: int, interval_ns: int, absolute: bool) -> tuple[int, int]:
        """Arm (a zero value: disarm); returns the old (value, interval) in ns."""
        old = self.gettime()
        self.ticks = 0
        if not value_ns:
            self.timer.arm(None, 0)
        else:
            self.timer.arm(value_ns if absolute else self.timer.read() + value_ns, interval_ns)
        return old

    def gettime(self) -> tuple[int, int]:
        self.timer.update()
        return self.timer.remaining_ns(), self.timer.interval_ns

    def read(self, task: Task, size: int) -> bytes:
        if size < U64.size:
            raise SysError(EINVAL)
        self.timer.update()
        if not self.ticks:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.expired)
        ticks, self.ticks = self.ticks, 0
        return U64.pack(ticks)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        self.timer.update()
        return (POLLIN | POLLRDNORM if self.ticks else 0), (self.expired,), ()

    def release(self) -> None:
        self.timer.arm(None, 0)

    def stat(self) -> Stat:
        return anon_inode_stat()
