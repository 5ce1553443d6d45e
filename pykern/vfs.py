"""Open files, descriptor tables and path resolution: the file layer's kernel half.

Owns:
- the one seam to the host file system: `host_errors()` / `host_error()` turn a host
  OSError into SysError with the guest errno, matched by errno *name*;
- `File`, an open file description (Linux's struct file): access mode and status flags
  as F_GETFL reports them (guest values), a reference count held by fd tables (and by
  anything else that keeps the file, e.g. a mapping), `release()` on the last put;
- `HostFile`, a file description backed by one host fd. The host fd *is* the
  description: its offset is the shared offset (dup, fork), the host kernel checks
  access modes, seeks directories by its own cookies and produces the errno;
- `HostStream`, an inherited host fd (the console). O_NONBLOCK on it stays in pykern:
  the host description is shared with the shell that started us;
- `FdTable` (files_struct) and `FsContext` (fs_struct: cwd, umask).

Invariants: a File's `refs` equals the number of fd-table slots (plus other holders)
that point at it; the host fd of a HostFile is closed exactly once, by `release()`.
Reads and writes on host fds that could block (a terminal, a host pipe) never block the
kernel: they check readiness with a zero-timeout select and raise Block(host_fds=...).
"""

from __future__ import annotations

import ctypes
import errno as host_errno
import fcntl
import os
import resource
import select
import stat as host_stat
import struct
import termios
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from pykern import locks
from pykern.abi import (
    DEFAULT_POLLMASK,
    DIRENT64_HEAD,
    DT_BLK,
    DT_CHR,
    DT_DIR,
    DT_FIFO,
    DT_LNK,
    DT_REG,
    DT_SOCK,
    DT_UNKNOWN,
    EAGAIN,
    EBADF,
    EINVAL,
    EIO,
    EMFILE,
    ENOTDIR,
    ENOTTY,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    ERRNO_VALUES,
    ESPIPE,
    FIONREAD,
    O_ACCMODE,
    O_APPEND,
    O_ASYNC,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECT,
    O_DIRECTORY,
    O_DSYNC,
    O_EXCL,
    O_LARGEFILE,
    O_NOATIME,
    O_NOCTTY,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_SYNC,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDNORM,
    POLLWRNORM,
    SEEK_CUR,
    SEEK_DATA,
    SEEK_END,
    SEEK_HOLE,
    SEEK_SET,
    SIGTTIN,
    SIGTTOU,
    STAT,
    STATX_BASIC_STATS,
    STATX_HEAD,
    STATX_SIZE,
    STATX_TS,
    TCFLSH,
    TCGETS,
    TCSBRK,
    TCSETS,
    TCSETSF,
    TCSETSW,
    TCXONC,
    TIOCGPGRP,
    TIOCGSID,
    TIOCGWINSZ,
    TIOCNOTTY,
    TIOCOUTQ,
    TIOCSCTTY,
    TIOCSPGRP,
    TIOCSWINSZ,
)
from pykern.errors import Block, SysError

if TYPE_CHECKING:
    from pykern.fs.mount import Location
    from pykern.task import Task
    from pykern.tty import ConsoleTty
    from pykern.waitqueue import WaitQueue

# Not in pykern.abi (yet): the largest read/write count Linux performs (MAX_RW_COUNT,
# INT_MAX rounded down to a page) and the default open-file limit.
MAX_RW_COUNT = 0x7FFFF000
# RLIMIT_NOFILE's soft limit: the guest starts with the one it would have natively, ours
# (setrlimit updates FdTable.max_fds). fs.nr_open's default caps it on Linux.
_NR_OPEN = 1 << 20
GUEST_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)  # as pykern was started, before raise_host_nofile
_nofile = GUEST_NOFILE[0]
NOFILE_DEFAULT = _NR_OPEN if _nofile == resource.RLIM_INFINITY else min(_nofile, _NR_OPEN)


def raise_host_nofile() -> None:
    """Every guest descriptor of a host file holds a host fd, and pykern holds more of its
    own (O_PATH fds of the walk, Unicorn's): pykern's soft RLIMIT_NOFILE goes up to its
    hard limit, so that the guest meets its own limit (EMFILE at GUEST_NOFILE, which it
    keeps) before pykern meets the host's."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass

# The largest single host read we allocate for at once (a guest may ask for 2 GiB).
_HOST_CHUNK = 1 << 20

# --- the host seam -----------------------------------------------------------------------

# Python's errno names one number with one of its aliases; the guest table uses the other.
_ERRNO_ALIASES = {"ENOTSUP": "EOPNOTSUPP", "EDEADLOCK": "EDEADLK", "EWOULDBLOCK": "EAGAIN"}


def guest_errno(host_number: int) -> int:
    """The guest errno for a host errno number, matched by name (never by value)."""
    name = host_errno.errorcode.get(host_number, "")
    name = _ERRNO_ALIASES.get(name, name)
    return ERRNO_VALUES.get(name, EIO)


def host_error(error: OSError) -> SysError:
    """The SysError to raise for a host OSError."""
    if error.errno is None:
        return SysError(EIO, str(error))
    return SysError(guest_errno(error.errno), str(error))


@contextmanager
def host_errors() -> Iterator[None]:
    """Run host file operations; an OSError leaves as SysError with the guest errno."""
    try:
        yield
    except OSError as error:
        raise host_error(error) from None


@contextmanager
def host_umask(mask: int) -> Iterator[None]:
    """Create files under the guest's umask instead of ours. pykern runs guest code on
    one host thread, so swapping the process umask around the creating call is exact:
    the host kernel applies the guest umask (and ignores it under default ACLs, as
    Linux does for the guest natively)."""
    previous = os.umask(mask & 0o777)
    try:
        yield
    finally:
        os.umask(previous)


# Guest open(2) flag -> host flag, translated bit by bit by name. O_CLOEXEC is not
# passed: host fds are always close-on-exec (Python's default); the guest's CLOEXEC
# lives in its FdTable. O_LARGEFILE is implied on a 64-bit host.
_OPEN_FLAG_MAP: tuple[tuple[int, int], ...] = (
    (O_CREAT, os.O_CREAT),
    (O_EXCL, os.O_EXCL),
    (O_NOCTTY, os.O_NOCTTY),
    (O_TRUNC, os.O_TRUNC),
    (O_APPEND, os.O_APPEND),
    (O_NONBLOCK, os.O_NONBLOCK),
    (O_SYNC, os.O_SYNC),  # O_SYNC contains the O_DSYNC bit: both are matched whole
    (O_DSYNC, os.O_DSYNC),
    (O_DIRECT, getattr(os, "O_DIRECT", 0)),
    (O_DIRECTORY, os.O_DIRECTORY),
    (O_NOFOLLOW, os.O_NOFOLLOW),
    (O_NOATIME, getattr(os, "O_NOATIME", 0)),
    (O_TMPFILE, getattr(os, "O_TMPFILE", 0)),
    (O_PATH, getattr(os, "O_PATH", 0)),
)
_ACCMODE_TO_HOST = {O_RDONLY: os.O_RDONLY, O_WRONLY: os.O_WRONLY, O_RDWR: os.O_RDWR}
_HOST_ACCMODE = {os.O_RDONLY: O_RDONLY, os.O_WRONLY: O_WRONLY, os.O_RDWR: O_RDWR}
# The host kernel's O_LARGEFILE bit as F_GETFL reports it (glibc defines O_LARGEFILE as
# 0 on 64-bit, so Python cannot tell us).
_HOST_O_LARGEFILE = {"x86_64": 0o100000, "aarch64": 0o400000}.get(os.uname().machine, 0)

# Status flags kept in f_flags after open(2) (Linux's do_dentry_open drops these).
_OPEN_ONLY_FLAGS = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC
# fcntl(F_SETFL) may change only these (Linux's SETFL_MASK).
SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME


def host_open_flags(flags: int) -> int:
    """Translate guest open(2) flags to the host's."""
    host = _ACCMODE_TO_HOST.get(flags & O_ACCMODE, os.O_ACCMODE)  # 3: ioctl-only (open(2))
    for guest_bit, host_bit in _OPEN_FLAG_MAP:
        if flags & guest_bit == guest_bit:
            host |= host_bit
    return host


def file_status_flags(flags: int) -> int:
    """What F_GETFL reports for a file opened with `flags` on x86-64 Linux: open(2)
    forces O_LARGEFILE; O_PATH keeps only O_PATH, O_DIRECTORY and O_NOFOLLOW."""
    if flags & O_PATH:
        return flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW)
    return (flags & ~_OPEN_ONLY_FLAGS) | O_LARGEFILE


def guest_status_flags(host_flags: int) -> int:
    """Translate a host F_GETFL value (of a descriptor we inherited) to guest flags."""
    flags = _HOST_ACCMODE.get(host_flags & os.O_ACCMODE, host_flags & os.O_ACCMODE)
    for guest_bit, host_bit in _OPEN_FLAG_MAP:
        if host_bit and host_flags & host_bit == host_bit:
            flags |= guest_bit
    if _HOST_O_LARGEFILE and host_flags & _HOST_O_LARGEFILE:
        flags |= O_LARGEFILE
    return flags & ~_OPEN_ONLY_FLAGS


_WHENCE_TO_HOST = {
    SEEK_SET: os.SEEK_SET,
    SEEK_CUR: os.SEEK_CUR,
    SEEK_END: os.SEEK_END,
    SEEK_DATA: getattr(os, "SEEK_DATA", -1),
    SEEK_HOLE: getattr(os, "SEEK_HOLE", -1),
}


# --- stat ---------------------------------------------------------------------------------


class Stat(NamedTuple):
    """The fields of struct stat, as any File reports them."""

    dev: int
    ino: int
    nlink: int
    mode: int
    uid: int
    gid: int
    rdev: int
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def from_host(cls, st: os.stat_result) -> Stat:
        # Mode bits and dev_t encodings are the Linux ones: the host is Linux.
        return cls(
            st.st_dev, st.st_ino, st.st_nlink, st.st_mode, st.st_uid, st.st_gid, st.st_rdev,
            st.st_size, st.st_blksize, st.st_blocks, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns,
        )  # fmt: skip


def pack_stat(st: Stat) -> bytes:
    """struct stat (x86-64, 144 bytes)."""
    return STAT.pack(
        st.dev, st.ino, st.nlink, st.mode, st.uid, st.gid, 0, st.rdev, st.size, st.blksize, st.blocks,
        *divmod(st.atime_ns, 10**9), *divmod(st.mtime_ns, 10**9), *divmod(st.ctime_ns, 10**9),
    )  # fmt: skip


def _dev_major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF & 0xFFFFFFFF)


def _dev_minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF & 0xFFFFFFFF)


def pack_statx(st: Stat) -> bytes:
    """struct statx (256 bytes) with the basic stats. Deviation: Linux also fills
    stx_btime and stx_mnt_id where the file system has them; we report only
    STATX_BASIC_STATS in stx_mask."""

    def ts(ns: int) -> bytes:
        sec, nsec = divmod(ns, 10**9)
        return STATX_TS.pack(sec, nsec, 0)

    head = STATX_HEAD.pack(
        STATX_BASIC_STATS, st.blksize, 0, st.nlink, st.uid, st.gid, st.mode & 0xFFFF, st.ino,
        st.size, st.blocks, 0,
    )  # fmt: skip
    times = ts(st.atime_ns) + STATX_TS.pack(0, 0, 0) + ts(st.ctime_ns) + ts(st.mtime_ns)
    devs = struct.pack(
        "<IIII", _dev_major(st.rdev), _dev_minor(st.rdev), _dev_major(st.dev), _dev_minor(st.dev)
    )
    out = head + times + devs
    return out + bytes(STATX_SIZE - len(out))


# --- getdents64 --------------------------------------------------------------------------


def _dirent64_reclen(name: bytes) -> int:
    return (DIRENT64_HEAD.size + len(name) + 1 + 7) & ~7


def pack_dirent64(ino: int, offset: int, dtype: int, name: bytes) -> bytes:
    """One struct linux_dirent64: header, NUL-terminated name, padded to 8 bytes."""
    reclen = _dirent64_reclen(name)
    record = DIRENT64_HEAD.pack(ino, offset, reclen, dtype) + name + b"\0"
    return record + bytes(reclen - len(record))


def pack_dirents64(entries: list[tuple[int, int, int, bytes]], start: int, size: int) -> tuple[bytes, int]:
    """Pack entries[start:] as (ino, cookie, d_type, name) records into at most `size`
    bytes. Returns the bytes and the index of the first entry left out. EINVAL when not
    even one entry fits (getdents64(2)); b"" at the end of the directory."""
    out = bytearray()
    index = start
    while index < len(entries):
        ino, cookie, dtype, name = entries[index]
        if len(out) + _dirent64_reclen(name) > size:
            if not out:
                raise SysError(EINVAL)
            break
        out += pack_dirent64(ino, cookie, dtype, name)
        index += 1
    return bytes(out), index


def dtype_of_mode(mode: int) -> int:
    return {
        host_stat.S_IFREG: DT_REG,
        host_stat.S_IFDIR: DT_DIR,
        host_stat.S_IFLNK: DT_LNK,
        host_stat.S_IFCHR: DT_CHR,
        host_stat.S_IFBLK: DT_BLK,
        host_stat.S_IFIFO: DT_FIFO,
        host_stat.S_IFSOCK: DT_SOCK,
    }.get(host_stat.S_IFMT(mode), DT_UNKNOWN)


# The host's own getdents64: same entries, order and cookies as the guest would get
# natively, and the host fd's offset stays the directory position.
_HOST_GETDENTS64_NR = {"x86_64": 217, "aarch64": 61}.get(os.uname().machine)
try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
except OSError:  # pragma: no cover - no dynamic libc
    libc = None


def host_getdents64(fd: int, size: int) -> bytes:
    """getdents64 on a host fd (the host's d_type, d_ino and d_off pass through)."""
    if libc is None or _HOST_GETDENTS64_NR is None:
        raise SysError(EINVAL, "no host getdents64")
    buf = ctypes.create_string_buffer(size)
    result = libc.syscall(ctypes.c_long(_HOST_GETDENTS64_NR), ctypes.c_long(fd), buf, ctypes.c_long(size))
    if result < 0:
        raise SysError(guest_errno(ctypes.get_errno()))
    return buf.raw[:result]


# --- open file descriptions ----------------------------------------------------------------


# What the last fput of a file with a place in the tree reports (pykern.fs.inotify sets it:
# it imports this module, so it cannot be imported from here)
on_last_close: Callable[[File], None] | None = None


class File:
    """An open file description. Subclasses override what they support; the defaults
    fail the way Linux fails for a file without that operation."""

    kind = "file"

    def __init__(self, flags: int, path: str = "") -> None:
        self.flags = flags  # access mode | status flags, as F_GETFL reports them
        self.path = path  # what the guest opened, for messages
        self.refs = 0
        # where the file is in the guest's tree, when it was opened by a path (set by
        # the open that made it): a dirfd walks from here, /proc/PID/fd/N shows it
        self.location: Location | None = None
        self.created = False  # the open that made it created the file (F_CREATED_QUERY)

    # reference counting (get_file/fput)
    def get_file(self) -> File:
        self.refs += 1
        return self

    def fput(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            locks.remove_file(self)  # its OFD record locks
            if self.location is not None and on_last_close is not None:
                on_last_close(self)  # inotify's IN_CLOSE_WRITE/NOWRITE
            self.release()

    def lock_key(self) -> object:
        """The identity record locks are kept under (pykern.locks): the file itself."""
        return self

    def release(self) -> None:
        """The last reference is gone."""

    @property
    def readable(self) -> bool:
        return not self.flags & O_PATH and self.flags & O_ACCMODE in (O_RDONLY, O_RDWR)

    @property
    def writable(self) -> bool:
        return not self.flags & O_PATH and self.flags & O_ACCMODE in (O_WRONLY, O_RDWR)

    seekable = False  # pread/pwrite allowed (Linux's FMODE_PREAD): not on pipes, terminals

    @property
    def nonblocking(self) -> bool:
        return bool(self.flags & O_NONBLOCK)

    def set_status_flags(self, flags: int) -> None:
        """fcntl(F_SETFL): only SETFL_MASK bits change."""
        self.flags = (self.flags & ~SETFL_MASK) | (flags & SETFL_MASK)

    # host path that names the same object (for *at() relative to a dir fd, /proc/self/fd)
    def host_path(self) -> str | None:
        return None

    def link_target(self) -> bytes:
        """What readlink(/proc/self/fd/N) shows."""
        return f"anon_inode:[{self.kind}]".encode()

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """f_op->poll: the ready events now, and what to sleep on until they may change
        (wait queues, host fds). A file that never blocks is always ready."""
        return DEFAULT_POLLMASK, (), ()

    # operations
    def read(self, task: Task, size: int) -> bytes:
        raise SysError(EINVAL)

    def write(self, task: Task, data: bytes) -> int:
        raise SysError(EINVAL)

    def pread(self, size: int, offset: int) -> bytes:
        raise SysError(ESPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise SysError(ESPIPE)

    def lseek(self, offset: int, whence: int) -> int:
        raise SysError(ESPIPE)

    def stat(self) -> Stat:
        raise NotImplementedError(f"{type(self).__name__}.stat")

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        raise SysError(ENOTTY)

    def fcntl(self, task: Task, cmd: int, arg: int) -> int:
        """fcntl commands the syscall layer does not handle itself (F_GETPIPE_SZ ...)."""
        raise SysError(EINVAL)

    def getdents64(self, size: int) -> bytes:
        raise SysError(ENOTDIR)

    def truncate(self, length: int) -> None:
        raise SysError(EINVAL)

    def fsync(self, datasync: bool = False) -> None:
        raise SysError(EINVAL)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r} flags={self.flags:#o} refs={self.refs}>"


# host poll bits -> guest ones (this is the host seam: never mix the two)
_HOST_POLL_BITS = (
    (select.POLLIN, POLLIN | POLLRDNORM),
    (select.POLLPRI, POLLPRI),
    (select.POLLOUT, POLLOUT | POLLWRNORM),
    (select.POLLERR, POLLERR),
    (select.POLLHUP, POLLHUP),
    (select.POLLNVAL, POLLNVAL),
)


def _ready(fd: int, mode: str) -> bool:
    """Would a read ("r") or write ("w") on host fd `fd` proceed without blocking?
    (An error or hang-up counts as ready: the operation itself reports it.)"""
    poller = select.poll()
    poller.register(fd, select.POLLIN if mode == "r" else select.POLLOUT)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


class HostFile(File):
    """A file description backed by a host fd: regular files, directories, device
    nodes (/dev/null, /dev/zero, /dev/tty ...), host FIFOs."""

    kind = "host"

    def __init__(self, host_fd: int, flags: int, path: str = "") -> None:
        super().__init__(flags, path)
        self.host_fd = host_fd
        with host_errors():
            status = os.fstat(host_fd)
        mode = status.st_mode
        # Could a host read or write block? Then we check readiness before doing it. The
        # memory devices (major 1: /dev/null, zero, full, random, urandom) never block.
        memory_device = host_stat.S_ISCHR(mode) and os.major(status.st_rdev) == 1
        self.pollable = (host_stat.S_ISFIFO(mode) or host_stat.S_ISCHR(mode) or host_stat.S_ISSOCK(mode)) \
            and not memory_device
        self.is_dir = host_stat.S_ISDIR(mode)
        # A terminal's device number: is it the console? (see _console)
        self._tty_rdev = status.st_rdev if host_stat.S_ISCHR(mode) and os.isatty(host_fd) else None
        self.seekable = not (
            host_stat.S_ISFIFO(mode)
            or host_stat.S_ISSOCK(mode)
            or (host_stat.S_ISCHR(mode) and os.isatty(host_fd))
        )
        # Only without a host getdents64: a snapshot of the directory and our position.
        self._dir_entries: list[tuple[int, int, int, bytes]] | None = None
        self._dir_pos = 0

    @classmethod
    def wrap(cls, fd: int, flags: int) -> HostFile:
        """A description for host fd `fd`, just opened with the guest's `flags`."""
        try:
            return cls(fd, file_status_flags(flags))
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def open(cls, path: str, flags: int, mode: int, umask: int) -> HostFile:
        """open(2) on the host with the guest's flags, mode and umask."""
        host_flags = host_open_flags(flags)
        with host_errors():
            if flags & (O_CREAT | O_TMPFILE):
                with host_umask(umask):
                    fd = os.open(path, host_flags, mode & 0o7777)
            else:
                fd = os.open(path, host_flags)
        try:
            return cls(fd, file_status_flags(flags), path)
        except BaseException:
            os.close(fd)
            raise

    def release(self) -> None:
        fd, self.host_fd = self.host_fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass  # close(2)'s errors are not reported after the last reference

    def host_path(self) -> str | None:
        return f"/proc/self/fd/{self.host_fd}"

    def link_target(self) -> bytes:
        with host_errors():
            return os.readlink(f"/proc/self/fd/{self.host_fd}".encode())

    def host_path_now(self) -> str:
        """The host's name for this file now ("" if it has none that we can read)."""
        try:
            return os.readlink(f"/proc/self/fd/{self.host_fd}")
        except OSError:
            return ""

    def read_all(self) -> bytes:
        """The whole file, from offset 0, without moving the shared offset (execve)."""
        parts = []
        offset = 0
        with host_errors():
            while True:
                part = os.pread(self.host_fd, _HOST_CHUNK * 16, offset)
                if not part:
                    return b"".join(parts)
                parts.append(part)
                offset += len(part)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """Regular files and memory devices are always ready; a FIFO, socket or terminal
        is asked with the host's poll, and slept on through the scheduler's select."""
        if not self.pollable:
            return DEFAULT_POLLMASK, (), ()
        poller = select.poll()
        poller.register(self.host_fd, select.POLLIN | select.POLLPRI | select.POLLOUT)
        try:
            host = poller.poll(0)
        except OSError:
            return POLLERR, (), ()
        host_mask = host[0][1] if host else 0
        mask = 0
        for host_bit, guest_bits in _HOST_POLL_BITS:
            if host_mask & host_bit:
                mask |= guest_bits
        waits = []
        if events & (POLLIN | POLLRDNORM | POLLPRI):
            waits.append((self.host_fd, "r"))
        if events & (POLLOUT | POLLWRNORM):
            waits.append((self.host_fd, "w"))
        return mask, (), tuple(waits)

    def _wait(self, mode: str, size: int) -> None:
        """Raise EAGAIN or Block unless the host fd is ready now. A null read or
        write never waits (pipe_read/pipe_write: "Null read/write succeeds")."""
        if self.pollable and size and not _ready(self.host_fd, mode):
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(host_fds=((self.host_fd, mode),))

    def read(self, task: Task, size: int) -> bytes:
        if self._tty_rdev is not None:
            self._console_check(task, SIGTTIN)
        self._wait("r", size)
        try:
            if self.pollable or size <= _HOST_CHUNK:
                return os.read(self.host_fd, size)
            parts = []
            while size > 0:
                part = os.read(self.host_fd, min(size, _HOST_CHUNK))
                if not part:
                    break
                parts.append(part)
                size -= len(part)
            return b"".join(parts)
        except OSError as error:
            raise host_error(error) from None

    def write(self, task: Task, data: bytes) -> int:
        if self._tty_rdev is not None:
            self._console_check(task, SIGTTOU)
        self._wait("w", len(data))
        try:
            return os.write(self.host_fd, data)
        except BrokenPipeError:
            task.kernel.send_sigpipe(task)  # pipe_write: SIGPIPE, then EPIPE
            raise SysError(EPIPE) from None
        except OSError as error:
            raise host_error(error) from None

    def pread(self, size: int, offset: int) -> bytes:
        with host_errors():
            return os.pread(self.host_fd, min(size, _HOST_CHUNK * 64), offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        with host_errors():
            return os.pwrite(self.host_fd, data, offset)

    def lseek(self, offset: int, whence: int) -> int:
        host_whence = _WHENCE_TO_HOST.get(whence, -1)
        if host_whence < 0:
            raise SysError(EINVAL)
        if self.is_dir and _HOST_GETDENTS64_NR is None:
            if whence != SEEK_SET or offset < 0:
                raise SysError(EINVAL)
            self._dir_pos = offset
            return offset
        with host_errors():
            return os.lseek(self.host_fd, offset, host_whence)

    def stat(self) -> Stat:
        with host_errors():
            return Stat.from_host(os.fstat(self.host_fd))

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        """Terminal ioctls reach the host terminal; the host says ENOTTY for the rest.
        The structs (termios: 36 bytes, winsize: 8) have the same layout on the host.
        On the console (pykern's own controlling terminal) the guest's sessions and
        process groups are pykern's: TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP and
        TIOCGSID answer from pykern.tty, and a background process changing the terminal
        gets SIGTTOU (tty_check_change)."""
        if request in _JOB_IOCTLS:
            console = self._console(task)
            if console is None:
                raise SysError(ENOTTY if request != TIOCSCTTY or not self._is_terminal() else EPERM)
            done = console.job_ioctl(task, self, request, arg_addr, is_master=False)
            assert done is not None
            return done
        host_request, size, direction = _HOST_IOCTLS.get(request, (None, 0, ""))
        if host_request is None:
            raise SysError(ENOTTY)
        if request in _CHANGING_IOCTLS:
            console = self._console(task)
            if console is not None:
                console.check_change(task, SIGTTOU)
        if direction == "value":
            with host_errors():
                fcntl.ioctl(self.host_fd, host_request, arg_addr & 0xFFFFFFFF)
            return 0
        if direction == "in":
            data = task.mm.copy_in(arg_addr, size)
            with host_errors():
                fcntl.ioctl(self.host_fd, host_request, data)
            return 0
        with host_errors():
            data = fcntl.ioctl(self.host_fd, host_request, bytes(size))
        task.mm.copy_out(arg_addr, data)
        return 0

    def _is_terminal(self) -> bool:
        return self._tty_rdev is not None

    def _console(self, task: Task) -> ConsoleTty | None:
        """The console, if this is it (a terminal with the host device number of
        pykern's controlling terminal)."""
        if self._tty_rdev is None:
            return None
        return task.kernel.ttys.console_of(self._tty_rdev)

    def _console_check(self, task: Task, sig: int) -> None:
        """Job control on the console: a background read stops with SIGTTIN, a
        background write with SIGTTOU when the terminal has TOSTOP (n_tty_read,
        n_tty_write), as the host would do were the guest's groups its own."""
        console = self._console(task)
        if console is None or console.pgrp in (None, task.group.pgid) or not console.is_ctty_of(task.group):
            return
        if sig == SIGTTOU:
            try:
                if not termios.tcgetattr(self.host_fd)[3] & termios.TOSTOP:
                    return
            except (OSError, termios.error):
                return
        console.check_change(task, sig)

    def getdents64(self, size: int) -> bytes:
        if not self.is_dir:
            raise SysError(ENOTDIR)
        if self.flags & O_PATH:
            raise SysError(EBADF)
        if _HOST_GETDENTS64_NR is not None:
            return host_getdents64(self.host_fd, min(size, _HOST_CHUNK))
        if self._dir_entries is None or self._dir_pos == 0:
            self._dir_entries = self._scan_dir()
        data, self._dir_pos = pack_dirents64(self._dir_entries, self._dir_pos, size)
        return data

    def _scan_dir(self) -> list[tuple[int, int, int, bytes]]:
        """Fallback listing: '.', '..', then the host's entries; the cookie of an entry
        is the index of the next one, so lseek(fd, cookie, SEEK_SET) resumes there."""
        base = f"/proc/self/fd/{self.host_fd}"
        with host_errors():
            raw = [(os.stat(base).st_ino, DT_DIR, b"."), (os.stat(base + "/..").st_ino, DT_DIR, b"..")]
            with os.scandir(self.host_fd) as it:
                for entry in it:
                    mode = entry.stat(follow_symlinks=False).st_mode
                    raw.append((entry.inode(), dtype_of_mode(mode), os.fsencode(entry.name)))
        return [(ino, index + 1, dtype, name) for index, (ino, dtype, name) in enumerate(raw)]

    def truncate(self, length: int) -> None:
        with host_errors():
            os.ftruncate(self.host_fd, length)

    def lock_key(self) -> object:
        """Record locks are per inode: every description of the host file shares them."""
        key = getattr(self, "_lock_key", None)
        if key is None:
            with host_errors():
                status = os.fstat(self.host_fd)
            key = self._lock_key = ("host", status.st_dev, status.st_ino)
        return key

    def copy_file_range(self, out: HostFile, count: int, off_in: int | None, off_out: int | None) -> int:
        """copy_file_range(2) by the host: its checks (EXDEV, overlap, EBADF for O_APPEND,
        EISDIR, EINVAL) are Linux's. A None offset uses and moves the shared offset."""
        with host_errors():
            return os.copy_file_range(self.host_fd, out.host_fd, count, off_in, off_out)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """fallocate(2) by the host (the mode bits are the same on a Linux host)."""
        if libc is None:
            raise SysError(EOPNOTSUPP)
        result = libc.fallocate(self.host_fd, ctypes.c_int(mode), ctypes.c_int64(offset), ctypes.c_int64(length))
        if result < 0:
            raise SysError(guest_errno(ctypes.get_errno()))

    def fsync(self, datasync: bool = False) -> None:
        with host_errors():
            if datasync:
                os.fdatasync(self.host_fd)
            else:
                os.fsync(self.host_fd)

    def set_status_flags(self, flags: int) -> None:
        super().set_status_flags(flags)
        self._sync_host_flags(O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME)

    def _sync_host_flags(self, which: int) -> None:
        """Mirror `which` of our status flags onto the host description (never O_ASYNC:
        SIGIO would go to pykern)."""
        with host_errors():
            host = fcntl.fcntl(self.host_fd, fcntl.F_GETFL)
            for guest_bit, host_bit in _OPEN_FLAG_MAP:
                if guest_bit & which and host_bit:
                    host = host | host_bit if self.flags & guest_bit else host & ~host_bit
            fcntl.fcntl(self.host_fd, fcntl.F_SETFL, host)


# Guest ioctl request -> (host request, argument size, direction).
_HOST_IOCTLS: dict[int, tuple[int, int, str]] = {
    TCGETS: (termios.TCGETS, 36, "out"),
    TCSETS: (termios.TCSETS, 36, "in"),
    TCSETSW: (termios.TCSETSW, 36, "in"),
    TCSETSF: (termios.TCSETSF, 36, "in"),
    TIOCGWINSZ: (termios.TIOCGWINSZ, 8, "out"),
    TIOCSWINSZ: (termios.TIOCSWINSZ, 8, "in"),
    FIONREAD: (termios.FIONREAD, 4, "out"),
    TIOCOUTQ: (termios.TIOCOUTQ, 4, "out"),
    TCFLSH: (termios.TCFLSH, 0, "value"),
    TCXONC: (termios.TCXONC, 0, "value"),
    TCSBRK: (termios.TCSBRK, 0, "value"),
}
# Job control on the console is pykern's (pykern.tty); these change the terminal, so a
# background process gets SIGTTOU for them (tty_check_change).
_JOB_IOCTLS = frozenset({TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID})
_CHANGING_IOCTLS = frozenset({TCSETS, TCSETSW, TCSETSF, TCFLSH, TCXONC, TCSBRK})


class HostStream(HostFile):
    """A host fd inherited from whoever started pykern (the console: fds 0, 1, 2).
    Its host description is shared with our parent (the shell), so O_NONBLOCK is kept
    here and implemented with select, never set on the host; O_APPEND is passed on, as
    Linux would change the shared description too."""

    kind = "stream"

    @classmethod
    def inherit(cls, host_fd: int, path: str = "") -> HostStream:
        with host_errors():
            own = os.dup(host_fd)
        try:
            host_flags = fcntl.fcntl(own, fcntl.F_GETFL)
            return cls(own, guest_status_flags(host_flags), path or f"/proc/self/fd/{host_fd}")
        except BaseException:
            os.close(own)
            raise

    def set_status_flags(self, flags: int) -> None:
        File.set_status_flags(self, flags)
        self._sync_host_flags(O_APPEND)


# --- descriptor tables ---------------------------------------------------------------------


class FdTable:
    """A process's descriptor table (files_struct). Shared by reference under
    CLONE_FILES; `fork()` copies it. Each slot holds one reference on its File."""

    def __init__(self, max_fds: int = NOFILE_DEFAULT) -> None:
        self.files: dict[int, File] = {}
        self.cloexec: set[int] = set()
        self.max_fds = max_fds  # RLIMIT_NOFILE's soft limit; setrlimit updates it

    def get(self, fd: int) -> File:
        file = self.files.get(fd)
        if file is None:
            raise SysError(EBADF)
        return file

    def lowest_free(self, lowest: int = 0) -> int:
        """The fd install() would use (EMFILE if none): open(2) reserves it first."""
        fd = lowest
        while fd in self.files:
            fd += 1
        if fd >= self.max_fds:
            raise SysError(EMFILE)
        return fd

    def install(self, file: File, cloexec: bool = False, lowest: int = 0) -> int:
        """Put `file` in the lowest free slot >= `lowest`; takes a new reference."""
        fd = self.lowest_free(lowest)
        self._set(fd, file, cloexec)
        return fd

    def install_at(self, fd: int, file: File, cloexec: bool = False) -> int:
        """dup2/dup3: put `file` at `fd`, closing what was there (after taking the new
        reference, so installing a file over itself is safe)."""
        if not 0 <= fd < self.max_fds:
            raise SysError(EBADF)
        old = self.files.get(fd)
        self._set(fd, file, cloexec)
        if old is not None:
            locks.remove_posix(old, self)
            old.fput()
        return fd

    def _set(self, fd: int, file: File, cloexec: bool) -> None:
        self.files[fd] = file.get_file()
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def close(self, fd: int) -> None:
        file = self.files.pop(fd, None)
        if file is None:
            raise SysError(EBADF)
        self.cloexec.discard(fd)
        locks.remove_posix(file, self)  # closing any fd of a file drops our POSIX locks on it
        file.fput()

    def get_cloexec(self, fd: int) -> bool:
        self.get(fd)
        return fd in self.cloexec

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        self.get(fd)
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def fork(self) -> FdTable:
        child = FdTable(self.max_fds)
        for fd, file in self.files.items():
            child.files[fd] = file.get_file()
        child.cloexec = set(self.cloexec)
        return child

    def close_on_exec(self) -> None:
        for fd in sorted(self.cloexec):
            if fd in self.files:
                self.close(fd)
        self.cloexec.clear()

    def close_all(self) -> None:
        for fd in sorted(self.files):
            self.close(fd)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"<FdTable {sorted(self.files)}>"


def console_fdtable() -> FdTable:
    """Fds 0, 1, 2 for the first process: our own 0, 1, 2, dup'ed so that the guest
    closing its fd 1 leaves pykern's stdout (and error reporting) alone. A host fd that
    is closed stays closed for the guest."""
    table = FdTable()
    for fd in (0, 1, 2):
        try:
            stream = HostStream.inherit(fd)
        except SysError:
            continue
        table.install_at(fd, stream)
    return table


# --- the root and the working directory ----------------------------------------------------------


class FsContext:
    """A process's fs_struct: its root (chroot), working directory and umask. The root
    and cwd are Locations in the guest's tree (pykern.fs.mount), walked from by namei."""

    def __init__(self, root: Location, cwd: Location, umask: int | None = None) -> None:
        self.root = root
        self.cwd = cwd
        if umask is None:
            umask = os.umask(0o022)
            os.umask(umask)
        self.umask = umask

    def fork(self) -> FsContext:
        return FsContext(self.root, self.cwd, self.umask)

    def __repr__(self) -> str:
        return f"<FsContext cwd={self.cwd!r} umask={self.umask:#o}>"


# --- descriptor operations ------------------------------------------------------------------


def vfs_fchmod(file: File, mode: int) -> None:
    if isinstance(file, HostFile):
        with host_errors():
            os.fchmod(file.host_fd, mode & 0o7777)
    elif file.flags & O_PATH:
        raise SysError(EBADF)
    # Kernel objects (pipes ...) keep no mode of their own to change: Linux succeeds.
