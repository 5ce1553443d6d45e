"""Pipes (Linux's fs/pipe.c): a 64 KiB kernel buffer between a read end and a write end.

- read: returns what is buffered; sleeps on `readable` while empty and a writer exists;
  EOF (b"") once the last writer is gone; EAGAIN when O_NONBLOCK.
- write: writes of at most PIPE_BUF bytes are atomic. Larger blocking writes go in as
  space appears; the bytes already written are kept in the task's restart_block, so a
  retry after a wakeup continues where the last run stopped. No reader: EPIPE (and
  SIGPIPE, sent through the kernel).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from pykern.abi import (
    CAP_SYS_RESOURCE,
    EAGAIN,
    EBUSY,
    EINVAL,
    EPERM,
    EPIPE,
    F_GETPIPE_SZ,
    F_SETPIPE_SZ,
    FIONREAD,
    O_DIRECT,
    O_RDONLY,
    O_WRONLY,
    PAGE_SIZE,
    PIPE_MAX_SIZE,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    S_IFIFO,
)
from pykern.errors import Block, SysError, ends_with
from pykern.fs.file import File
from pykern.fs.stat import Stat
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.task import Task

PIPE_CAPACITY = 65536  # Linux's default pipe size (16 pages)
PIPE_BUF = 4096  # writes up to this size are atomic
_inode_numbers = itertools.count(100000)


class Pipe:
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.capacity = PIPE_CAPACITY  # F_SETPIPE_SZ changes it
        # pipe2(O_DIRECT): packet mode; the lengths of the packets in `buffer`, in order
        self.packets: list[int] | None = None
        self.readers = 0
        self.writers = 0
        self.readable = WaitQueue("pipe_read")  # readers sleep here; writers wake it
        self.writable = WaitQueue("pipe_write")  # writers sleep here; readers wake it
        self.ino = next(_inode_numbers)
        # fifo_open: how many read and write opens there have ever been, and where an
        # opener sleeps until the other side appears (named pipes, /proc/PID/fd/N)
        self.r_counter = 0
        self.w_counter = 0
        self.opened = WaitQueue("fifo_open")

    def stat(self) -> Stat:
        return Stat(dev=0xC, ino=self.ino, nlink=1, mode=S_IFIFO | 0o600, uid=0, gid=0, rdev=0,
                    size=0, blksize=PIPE_BUF, blocks=0, atime_ns=0, mtime_ns=0, ctime_ns=0)


class PipeEnd(File):
    kind = "pipe"

    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(flags, f"pipe:[{pipe.ino}]")
        self.pipe = pipe

    def link_target(self) -> bytes:
        return self.path.encode()

    def stat(self) -> Stat:
        return self.pipe.stat()

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if request == FIONREAD:
            task.mm.copy_out_u32(arg_addr, len(self.pipe.buffer))
            return 0
        return super().ioctl(task, request, arg_addr)

    def fcntl(self, task: Task, cmd: int, arg: int) -> int:
        if cmd == F_GETPIPE_SZ:
            return self.pipe.capacity
        if cmd == F_SETPIPE_SZ:
            return pipe_set_size(task, self.pipe, arg)
        return super().fcntl(task, cmd, arg)


class PipeReader(PipeEnd):
    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(pipe, (flags & ~3) | O_RDONLY)
        pipe.readers += 1

    def read(self, task: Task, size: int) -> bytes:
        pipe = self.pipe
        if not pipe.buffer:
            if pipe.writers == 0 or size == 0:
                return b""
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(pipe.readable)
        if pipe.packets is not None and pipe.packets:  # one packet a read; a short read drops its rest
            length = pipe.packets.pop(0)
            data = bytes(pipe.buffer[:min(size, length)])
            del pipe.buffer[:length]
        else:
            data = bytes(pipe.buffer[:size])
            del pipe.buffer[:size]
        pipe.writable.wake_all()
        return data

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """pipe_poll, read side: data to read; POLLHUP once no writer is left."""
        pipe = self.pipe
        mask = (POLLIN | POLLRDNORM if pipe.buffer else 0) | (POLLHUP if pipe.writers == 0 else 0)
        return mask, (pipe.readable,), ()

    def release(self) -> None:
        self.pipe.readers -= 1
        if self.pipe.readers == 0:
            self.pipe.writable.wake_all()


class PipeWriter(PipeEnd):
    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(pipe, (flags & ~3) | O_WRONLY)
        pipe.writers += 1

    def write(self, task: Task, data: bytes) -> int:
        pipe = self.pipe
        block = task.restart_block
        done = block.pipe_written if block is not None else 0
        if pipe.readers == 0:
            task.kernel.signals.send_sigpipe(task)
            if done:
                return done
            raise SysError(EPIPE)
        remaining = data[done:]
        space = pipe.capacity - len(pipe.buffer)
        if not remaining:
            return done
        if len(remaining) <= PIPE_BUF and space < len(remaining) or space == 0:
            if self.nonblocking:
                if done:
                    return done
                raise SysError(EAGAIN)
            raise Block(pipe.writable, on_signal=ends_with(done))  # a signal: return the count
        chunk = remaining[:space]
        pipe.buffer += chunk
        if pipe.packets is not None:  # a packet per write, at most a page each (pipe_write)
            pipe.packets.extend(min(PAGE_SIZE, len(chunk) - at) for at in range(0, len(chunk), PAGE_SIZE))
        pipe.readable.wake_all()
        done += len(chunk)
        if done < len(data) and not self.nonblocking:
            task.restart_state().pipe_written = done
            raise Block(pipe.writable, on_signal=ends_with(done))
        return done

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """pipe_poll, write side: room for an atomic write; POLLERR once no reader is left."""
        pipe = self.pipe
        mask = POLLOUT | POLLWRNORM if pipe.capacity - len(pipe.buffer) >= PIPE_BUF else 0
        return mask | (POLLERR if pipe.readers == 0 else 0), (pipe.writable,), ()

    def release(self) -> None:
        self.pipe.writers -= 1
        if self.pipe.writers == 0:
            self.pipe.readable.wake_all()


def make_pipe(flags: int) -> tuple[PipeReader, PipeWriter]:
    """pipe2's pair; O_DIRECT makes a packet-mode pipe (F_GETFL shows it)."""
    pipe = Pipe()
    if flags & O_DIRECT:
        pipe.packets = []
    return PipeReader(pipe, flags), PipeWriter(pipe, flags)


def pipe_set_size(task: Task, pipe: Pipe, size: int) -> int:
    """fcntl(F_SETPIPE_SZ) (pipe_set_size): the size rounded up to a power of two of
    pages; EPERM past pipe-max-size without CAP_SYS_RESOURCE, EBUSY when the buffered
    data would not fit, EINVAL past 2^31 (round_pipe_size: less than a page is a page)."""
    size &= 0xFFFFFFFF
    if size > 1 << 31:
        raise SysError(EINVAL)
    pages = max(1, (size + PAGE_SIZE - 1) // PAGE_SIZE)
    new = (1 << (pages - 1).bit_length()) * PAGE_SIZE
    if new > PIPE_MAX_SIZE and not task.group.creds.capable(CAP_SYS_RESOURCE):
        raise SysError(EPERM)
    if len(pipe.buffer) > new:
        raise SysError(EBUSY)
    pipe.capacity = new
    pipe.writable.wake_all()
    return new
