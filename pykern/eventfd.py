"""eventfd: a 64-bit counter as a file (Linux's fs/eventfd.c).

A read takes the counter (or 1 of it in EFD_SEMAPHORE mode) and blocks while it is 0; a
write adds to it and blocks while the sum would pass 0xfffffffffffffffe. Readable while
the counter is not 0, writable while 1 more fits.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pykern.abi import EAGAIN, EINVAL, O_RDWR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from pykern.anon_inode import anon_inode_stat
from pykern.errors import Block, SysError
from pykern.fs.file import File
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.stat import Stat
    from pykern.task import Task

EFD_SEMAPHORE = 1
EVENTFD_MAX = 0xFFFF_FFFF_FFFF_FFFE
U64 = struct.Struct("<Q")


class EventFd(File):
    kind = "eventfd"

    def __init__(self, initval: int, flags: int, semaphore: bool) -> None:
        super().__init__(O_RDWR | flags)
        self.count = initval
        self.semaphore = semaphore
        self.changed = WaitQueue("eventfd")  # readers and writers sleep here

    def stat(self) -> Stat:
        return anon_inode_stat()  # fstat of an eventfd or epoll fd: Linux's anon inode

    def read(self, task: Task, size: int) -> bytes:
        if size < U64.size:
            raise SysError(EINVAL)
        if self.count == 0:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.changed)
        taken = 1 if self.semaphore else self.count
        self.count -= taken
        self.changed.wake_all()
        return U64.pack(taken)

    def write(self, task: Task, data: bytes) -> int:
        if len(data) < U64.size:
            raise SysError(EINVAL)
        (value,) = U64.unpack_from(data)
        if value == 0xFFFF_FFFF_FFFF_FFFF:
            raise SysError(EINVAL)
        if self.count + value > EVENTFD_MAX:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.changed)
        self.count += value
        if value:
            self.changed.wake_all()
        return U64.size

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        mask = (POLLIN | POLLRDNORM if self.count else 0) | (POLLOUT | POLLWRNORM if self.count < EVENTFD_MAX else 0)
        return mask, (self.changed,), ()
