"""Open file descriptions (Linux's struct file).

- `File`: access mode and status flags as F_GETFL reports them (guest values), a
  reference count held by fd tables (and by anything else that keeps the file, e.g. a
  mapping), `release()` on the last put, and the operations with the errors Linux gives
  a file that lacks them;
- `HostFile`, a file description backed by one host fd. The host fd *is* the
  description: its offset is the shared offset (dup, fork), the host kernel checks
  access modes, seeks directories by its own cookies and produces the errno;
- `HostStream`, an inherited host fd (the console). O_NONBLOCK on it stays in pykern:
  the host description is shared with the shell that started us.

Invariants: a File's `refs` equals the number of fd-table slots (plus other holders)
that point at it; the host fd of a HostFile is closed exactly once, by `release()`.
Reads and writes on host fds that could block (a terminal, a host pipe) never block the
kernel: they check readiness with a zero-timeout select and raise Block(host_fds=...).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import stat as host_stat
import termios
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern import locks
from pykern.abi import (
    DEFAULT_POLLMASK,
    DT_DIR,
    EAGAIN,
    EBADF,
    EINVAL,
    ENOTDIR,
    ENOTTY,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    ESPIPE,
    FIONREAD,
    O_ACCMODE,
    O_APPEND,
    O_CREAT,
    O_DIRECT,
    O_NOATIME,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TMPFILE,
    O_WRONLY,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDNORM,
    POLLWRNORM,
    SEEK_SET,
    SIGTTIN,
    SIGTTOU,
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
from pykern.fs.hostio import (
    _HOST_CHUNK,
    _HOST_GETDENTS64_NR,
    _OPEN_FLAG_MAP,
    _WHENCE_TO_HOST,
    SETFL_MASK,
    file_status_flags,
    guest_errno,
    guest_status_flags,
    host_error,
    host_errors,
    host_getdents64,
    host_open_flags,
    host_umask,
    libc,
)
from pykern.fs.stat import Stat, dtype_of_mode, pack_dirents64

if TYPE_CHECKING:
    from pykern.fs.mount import Location
    from pykern.task import Task
    from pykern.tty import ConsoleTty
    from pykern.waitqueue import WaitQueue


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
            task.kernel.signals.send_sigpipe(task)  # pipe_write: SIGPIPE, then EPIPE
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


_stamped_inodes = iter(range(300000, 1 << 62))  # KernelStampedFile's inode numbers


class KernelStampedFile(HostFile):
    """--deterministic: a host memfd whose stat shows an inode number and times of the
    guest machine's (the host numbers memfds with its own counter and stamps them with
    its own clock). Deviation: its times stay those of its creation."""

    def __init__(self, host_fd: int, flags: int, path: str, now_ns: int) -> None:
        super().__init__(host_fd, flags, path)
        self.ino = next(_stamped_inodes)
        self.created_ns = now_ns

    def stat(self) -> Stat:
        ns = self.created_ns
        return super().stat()._replace(ino=self.ino, atime_ns=ns, mtime_ns=ns, ctime_ns=ns)


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


def vfs_fchmod(file: File, mode: int) -> None:
    if isinstance(file, HostFile):
        with host_errors():
            os.fchmod(file.host_fd, mode & 0o7777)
    elif file.flags & O_PATH:
        raise SysError(EBADF)
