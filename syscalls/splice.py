"""Data-moving calls (Linux's fs/splice.c, fs/read_write.c, fs/open.c): sendfile,
splice, tee, vmsplice, copy_file_range, fallocate.

pykern's pipes are byte buffers, so "moving pages" is copying bytes. The checks follow
Linux's order (do_sendfile, __do_splice/do_splice, do_tee, vmsplice, vfs_copy_file_range,
vfs_fallocate) so the same bad call fails with the same errno.

No call loses data when it blocks: the source is read without being consumed (pread at
an offset, a pipe's buffer, a socket peeked), the destination is written, and only what
was written is consumed from the source. A blocked call re-runs from the top and reads
the same bytes again. A socket write that made partial progress before a signal reports
that count (its own restart state), and the source is advanced by it.
"""

from __future__ import annotations

import stat as host_stat
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import (
    EAGAIN,
    EBADF,
    EINVAL,
    EISDIR,
    ENODEV,
    EOPNOTSUPP,
    EOVERFLOW,
    EPIPE,
    ESPIPE,
    FALLOC_FL_COLLAPSE_RANGE,
    FALLOC_FL_INSERT_RANGE,
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_NO_HIDE_STALE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_UNSHARE_RANGE,
    FALLOC_FL_ZERO_RANGE,
    MAX_RW_COUNT,
    MSG_PEEK,
    O_APPEND,
    OFFSET_MAX,
    SEEK_CUR,
    SEEK_SET,
    SPLICE_F_ALL,
    SPLICE_F_NONBLOCK,
)
from pykern.af_unix import UnixSocket
from pykern.errors import Block, SysError
from pykern.fs.file import File, HostFile
from pykern.fs.inotify import WATCHES, fsnotify_access, fsnotify_modify
from pykern.pipe import Pipe, PipeEnd
from pykern.syscalls.file import iovecs, scatter
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, IOVEC_IN, OFF, PTR, SIZE, UINT

if TYPE_CHECKING:
    from pykern.task import Task

Addr = int

# How much one step of a file-to-file sendfile copies (Linux moves a pipe's worth, 64 KiB,
# per step of do_splice_direct; a larger step costs fewer host calls).
_STEP = 1 << 20
_FALLOC_SUPPORTED = (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE | FALLOC_FL_COLLAPSE_RANGE
                     | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE)


def _pipe_of(file: File) -> Pipe | None:
    """get_pipe_info: the pipe behind a pipe end, None for any other file."""
    return file.pipe if isinstance(file, PipeEnd) else None


# Kernel-made files with neither f_op->splice_read nor f_op->splice_write in Linux:
# do_splice_read and do_splice_from fail with EINVAL before touching their data (a
# splice from an empty pipe into an epoll fd does not wait for the pipe; one from an
# eventfd whose count is 0 does not wait for the count).
_NO_SPLICE_KINDS = frozenset(("eventpoll", "eventfd", "signalfd", "timerfd", "pidfd", "inotify", "mqueue"))


def _no_splice_write(file: File) -> bool:
    """A file Linux cannot splice into from a pipe (no f_op->splice_write)."""
    return file.kind in _NO_SPLICE_KINDS


def _no_splice_read(file: File) -> bool:
    """A file Linux cannot splice from into a pipe (no f_op->splice_read): a pipe or FIFO
    (pykern's or the host's, e.g. a shell pipeline's stdin), a directory, an anon file."""
    if _pipe_of(file) is not None or file.kind in _NO_SPLICE_KINDS:
        return True
    if isinstance(file, HostFile):
        return file.is_dir or host_stat.S_ISFIFO(file.stat().mode)
    return False


def _copy_in_loff(task: Task, addr: Addr) -> int:
    value = task.mm.copy_in_u64(addr)
    return value - (1 << 64) if value >> 63 else value


# --- the source side: read without consuming, then consume what was written ---------------


class _Source:
    """Where the bytes come from: `peek(n)` reads up to n bytes without consuming them,
    `consume(n)` takes the first n of them (and moves the offset)."""

    def __init__(self, task: Task, file: File, offset: int | None) -> None:
        self.task = task
        self.file = file
        self.offset = offset  # the position to read at (files only)
        self.pipe = _pipe_of(file)
        self.own_offset = offset is None and self.pipe is None and file.seekable
        if self.own_offset:
            self.offset = file.lseek(0, SEEK_CUR)

    def peek(self, size: int) -> bytes:
        if self.pipe is not None:
            return bytes(self.pipe.buffer[:size])
        if self.offset is not None:
            return self.file.pread(size, self.offset)
        if isinstance(self.file, UnixSocket):
            data, _, message = self.file.recv(self.task, size, MSG_PEEK)
            if message is not None:
                message.discard()  # files passed with the bytes: a splice takes none
            return data
        return self.file.read(self.task, size)  # a stream we cannot peek at: consumed now

    def consume(self, size: int) -> None:
        if self.pipe is not None:
            del self.pipe.buffer[:size]
            self.pipe.writable.wake_all()
        elif self.offset is not None:
            self.offset += size
            if self.own_offset:
                self.file.lseek(self.offset, SEEK_SET)
        elif isinstance(self.file, UnixSocket) and size:
            self.file.read(self.task, size)  # read(2)'s way: passed files are closed


def _write_out(task: Task, out: File, data: bytes, source: _Source, out_offset: int | None) -> int:
    """Write `data` to a file that is not a pipe and consume what went out from `source`.
    A write that blocks after partial progress (a socket) and is then interrupted
    reports its count: the source is consumed by that much then."""
    if out_offset is not None:
        written = out.pwrite(data, out_offset)
    else:
        try:
            written = out.write(task, data)
        except Block as block:
            if block.on_signal is not None:
                block.on_signal = _consuming(block.on_signal, source)
            raise
    source.consume(written)
    if WATCHES and written:
        fsnotify_modify(out)
    return written


def _consuming(interrupted: Callable[[Task], int], source: _Source) -> Callable[[Task], int]:
    def count(task: Task) -> int:
        done = interrupted(task)
        source.consume(done)
        return done

    return count


# --- pipes: waiting for data and for room ---------------------------------------------------


def _wait_for_data(pipe: Pipe, nonblock: bool) -> bool:
    """ipipe_prep / splice_from_pipe_next: True when there is data, False at EOF."""
    if pipe.buffer:
        return True
    if pipe.writers == 0:
        return False
    if nonblock:
        raise SysError(EAGAIN)
    raise Block(pipe.readable)


def _wait_for_space(task: Task, pipe: Pipe, nonblock: bool) -> int:
    """wait_for_space / opipe_prep: the room left; EPIPE (and SIGPIPE) with no reader."""
    if pipe.readers == 0:
        task.kernel.signals.send_sigpipe(task)
        raise SysError(EPIPE)
    space = pipe.capacity - len(pipe.buffer)
    if space == 0:
        if nonblock:
            raise SysError(EAGAIN)
        raise Block(pipe.writable)
    return space


def _fill_pipe(task: Task, source: _Source, pipe: Pipe, count: int, nonblock: bool) -> int:
    """splice_file_to_pipe: at most the pipe's free room, in one step."""
    space = _wait_for_space(task, pipe, nonblock)
    if count == 0:
        return 0
    if source.pipe is None and (isinstance(source.file, HostFile) and source.file.is_dir
                                or source.file.kind in _NO_SPLICE_KINDS):
        raise SysError(EINVAL)  # no splice_read
    data = source.peek(min(count, space))
    if data:
        pipe.buffer += data
        pipe.readable.wake_all()
        source.consume(len(data))
    return len(data)


def _drain_pipe(task: Task, pipe: Pipe, out: File, count: int, out_offset: int | None, nonblock: bool,
                source: _Source) -> int:
    """splice_from_pipe: the pipe's bytes (at most `count`) to a file that is not a pipe."""
    if _no_splice_write(out):
        raise SysError(EINVAL)  # do_splice_from, before the pipe is waited on
    if not _wait_for_data(pipe, nonblock):
        return 0
    return _write_out(task, out, source.peek(count), source, out_offset)


# --- sendfile ---------------------------------------------------------------------------


@syscall("sendfile", FD, FD, PTR, SIZE, classes="desc network")
def sys_sendfile(task: Task, out_fd: int, in_fd: int, offset_addr: Addr, count: int) -> int:
    """sendfile(2): from a file (not a pipe) to anything writable; to a pipe at most
    the room it has, otherwise until `count`, a short read, or a write that would block."""
    pos = _copy_in_loff(task, offset_addr) if offset_addr else None
    done, pos = _sendfile(task, out_fd, in_fd, pos, count)
    if offset_addr:
        task.mm.copy_out_i64(offset_addr, pos)
    return done


def _sendfile(task: Task, out_fd: int, in_fd: int, pos: int | None, count: int) -> tuple[int, int]:
    files = task.group.files
    in_file = files.get(in_fd)
    if not in_file.readable:
        raise SysError(EBADF)
    if pos is not None:
        if not in_file.seekable:
            raise SysError(ESPIPE)
        if pos < 0:
            raise SysError(EINVAL)
    count = min(count, MAX_RW_COUNT)
    out = files.get(out_fd)
    if not out.writable:
        raise SysError(EBADF)
    source = _Source(task, in_file, pos)
    start = source.offset if source.offset is not None else 0
    if start + count > OFFSET_MAX:
        if start >= OFFSET_MAX:
            raise SysError(EOVERFLOW)
        count = OFFSET_MAX - start
    opipe = _pipe_of(out)
    if opipe is not None:
        if _no_splice_read(in_file):
            _wait_for_space(task, opipe, out.nonblocking)
            raise SysError(EINVAL)
        done = _fill_pipe(task, source, opipe, count, out.nonblocking)
    else:
        if out.flags & O_APPEND or _no_splice_read(in_file):
            raise SysError(EINVAL)  # do_splice_direct refuses O_APPEND
        done = _send_direct(task, source, out, count)
    return done, source.offset or 0


def _send_direct(task: Task, source: _Source, out: File, count: int) -> int:
    """do_splice_direct: step by step while the steps are whole. Only a regular file
    (one that never blocks) is written more than once per call."""
    done = 0
    repeat = isinstance(out, HostFile) and not out.pollable
    while done < count:
        data = source.peek(min(count - done, _STEP))
        if not data:
            break
        if _no_splice_write(out):
            raise SysError(EINVAL)  # direct_splice_actor's do_splice_from: only once there is data
        try:
            written = _write_out(task, out, data, source, None)
        except (Block, SysError) as error:
            if done and (isinstance(error, Block) or error.errno == EAGAIN):
                return done
            raise
        done += written
        if written < len(data) or not repeat:
            break
    return done


# --- splice, tee, vmsplice ----------------------------------------------------------------


@syscall("splice", FD, PTR, FD, PTR, SIZE, UINT, classes="desc")
def sys_splice(task: Task, fd_in: int, off_in_addr: Addr, fd_out: int, off_out_addr: Addr, length: int,
               flags: int) -> int:
    """splice(2): one end at least must be a pipe; offsets only on the other end."""
    if length == 0:
        return 0
    if flags & ~SPLICE_F_ALL:
        raise SysError(EINVAL)
    files = task.group.files
    in_file = files.get(fd_in)
    out = files.get(fd_out)
    ipipe, opipe = _pipe_of(in_file), _pipe_of(out)
    if ipipe is not None and off_in_addr or opipe is not None and off_out_addr:
        raise SysError(ESPIPE)
    off_out = _copy_in_loff(task, off_out_addr) if off_out_addr else None
    off_in = _copy_in_loff(task, off_in_addr) if off_in_addr else None
    if not in_file.readable or not out.writable:
        raise SysError(EBADF)
    length = min(length, MAX_RW_COUNT)
    nonblock = bool(flags & SPLICE_F_NONBLOCK)
    if ipipe is not None and opipe is not None:
        if ipipe is opipe:
            raise SysError(EINVAL)
        return _pipe_to_pipe(task, ipipe, opipe, length, nonblock or in_file.nonblocking or out.nonblocking,
                             consume=True)
    if ipipe is not None:
        if off_out is not None and not out.seekable:
            raise SysError(EINVAL)
        if out.flags & O_APPEND:
            raise SysError(EINVAL)
        if off_out is not None and off_out < 0:
            raise SysError(EINVAL)
        source = _Source(task, in_file, None)
        done = _drain_pipe(task, ipipe, out, length, off_out, nonblock or in_file.nonblocking, source)
        if off_out is not None:
            task.mm.copy_out_i64(off_out_addr, off_out + done)
        return done
    if opipe is not None:
        if off_in is not None and not in_file.seekable:
            raise SysError(EINVAL)
        if off_in is not None and off_in < 0:
            raise SysError(EINVAL)
        source = _Source(task, in_file, off_in)
        done = _fill_pipe(task, source, opipe, length, nonblock or out.nonblocking)
        if off_in is not None:
            task.mm.copy_out_i64(off_in_addr, source.offset)
        return done
    raise SysError(EINVAL)


def _pipe_to_pipe(task: Task, ipipe: Pipe, opipe: Pipe, length: int, nonblock: bool, consume: bool) -> int:
    """splice_pipe_to_pipe (consume=True) and link_pipe (tee: consume=False)."""
    if not _wait_for_data(ipipe, nonblock):
        return 0
    if opipe.readers and len(opipe.buffer) >= opipe.capacity:
        if nonblock:
            raise SysError(EAGAIN)
        raise Block(opipe.writable)
    if opipe.readers == 0:
        task.kernel.signals.send_sigpipe(task)
        raise SysError(EPIPE)
    data = bytes(ipipe.buffer[:min(length, opipe.capacity - len(opipe.buffer))])
    opipe.buffer += data
    opipe.readable.wake_all()
    if consume:
        del ipipe.buffer[:len(data)]
        ipipe.writable.wake_all()
    return len(data)


@syscall("tee", FD, FD, SIZE, UINT, classes="desc")
def sys_tee(task: Task, fd_in: int, fd_out: int, length: int, flags: int) -> int:
    """tee(2): copy from one pipe to another without consuming."""
    if flags & ~SPLICE_F_ALL:
        raise SysError(EINVAL)
    if length == 0:
        return 0
    files = task.group.files
    in_file = files.get(fd_in)
    out = files.get(fd_out)
    if not in_file.readable or not out.writable:
        raise SysError(EBADF)
    ipipe, opipe = _pipe_of(in_file), _pipe_of(out)
    if ipipe is None or opipe is None or ipipe is opipe:
        raise SysError(EINVAL)
    nonblock = bool(flags & SPLICE_F_NONBLOCK) or in_file.nonblocking or out.nonblocking
    return _pipe_to_pipe(task, ipipe, opipe, min(length, MAX_RW_COUNT), nonblock, consume=False)


@syscall("vmsplice", FD, IOVEC_IN, SIZE, UINT, classes="desc")
def sys_vmsplice(task: Task, fd: int, iov_addr: Addr, nr_segs: int, flags: int) -> int:
    """vmsplice(2): user memory into a pipe opened for writing, or out of one opened for
    reading. Deviation: the bytes are copied (SPLICE_F_GIFT gifts nothing)."""
    if flags & ~SPLICE_F_ALL:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if not file.writable and not file.readable:
        raise SysError(EBADF)
    vectors = iovecs(task, iov_addr, nr_segs if nr_segs <= 1 << 31 else -1)
    total = sum(length for _, length in vectors)
    if total == 0:
        return 0
    pipe = _pipe_of(file)
    if pipe is None:
        raise SysError(EBADF)
    nonblock = bool(flags & SPLICE_F_NONBLOCK) or file.nonblocking
    if file.writable:
        space = _wait_for_space(task, pipe, nonblock)
        data = b"".join(task.mm.copy_in(base, length) for base, length in vectors)[:space]
        pipe.buffer += data
        pipe.readable.wake_all()
        return len(data)
    if not _wait_for_data(pipe, nonblock):
        return 0
    data = bytes(pipe.buffer[:total])
    scatter(task, vectors, data)
    del pipe.buffer[:len(data)]
    pipe.writable.wake_all()
    return len(data)


# --- copy_file_range, fallocate -----------------------------------------------------------


@syscall("copy_file_range", FD, PTR, FD, PTR, SIZE, UINT, classes="desc")
def sys_copy_file_range(task: Task, fd_in: int, off_in_addr: Addr, fd_out: int, off_out_addr: Addr,
                        length: int, flags: int) -> int:
    """copy_file_range(2) between regular files. Host files are copied by the host's
    copy_file_range, which checks them (EXDEV, overlap, EFBIG, ...) as Linux does."""
    files = task.group.files
    in_file = files.get(fd_in)
    out = files.get(fd_out)
    off_in = _copy_in_loff(task, off_in_addr) if off_in_addr else None
    off_out = _copy_in_loff(task, off_out_addr) if off_out_addr else None
    if flags:
        raise SysError(EINVAL)
    if not (isinstance(in_file, HostFile) and isinstance(out, HostFile)):
        if any(isinstance(f, HostFile) and f.is_dir for f in (in_file, out)):
            raise SysError(EISDIR)
        raise SysError(EINVAL)  # pipes, sockets: not regular files
    done = in_file.copy_file_range(out, length, off_in, off_out)
    if WATCHES and done:
        fsnotify_access(in_file)
        fsnotify_modify(out)
    if off_in is not None:
        task.mm.copy_out_i64(off_in_addr, off_in + done)
    if off_out is not None:
        task.mm.copy_out_i64(off_out_addr, off_out + done)
    return done


@syscall("fallocate", FD, INT, OFF, OFF, classes="desc")
def sys_fallocate(task: Task, fd: int, mode: int, offset: int, length: int) -> int:
    """fallocate(2): host files by the host; pipes ESPIPE, other files ENODEV."""
    file = task.group.files.get(fd)
    if isinstance(file, HostFile):
        file.fallocate(mode, offset, length)
        if WATCHES:
            fsnotify_modify(file)
        return 0
    if offset < 0 or length <= 0:
        raise SysError(EINVAL)
    if mode & ~_FALLOC_SUPPORTED & 0xFFFFFFFF:
        raise SysError(EOPNOTSUPP)
    if not file.writable:
        raise SysError(EBADF)
    if _pipe_of(file) is not None:
        raise SysError(ESPIPE)
    raise SysError(ENODEV)

