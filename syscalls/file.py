"""Descriptor syscalls: close, read/write and friends, fstat, fcntl/ioctl, dup,
getdents and getdents64, fchmod, ftruncate, fsync. (The calls that take a path are in path.py.)

Handlers only fetch and check arguments, in the order Linux checks them (so the same
bad call fails with the same errno); the work is in the open file's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern import locks
from pykern.abi import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_NO_AUTOMOUNT,
    AT_STATX_SYNC_TYPE,
    AT_SYMLINK_NOFOLLOW,
    DIRENT64_HEAD,
    DIRENT_HEAD,
    EBADF,
    EINVAL,
    ESPIPE,
    F_CREATED_QUERY,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETFD,
    F_SETFL,
    F_SETLK,
    F_SETLKW,
    FD_CLOEXEC,
    FIOCLEX,
    FIONBIO,
    FIONCLEX,
    IN_ATTRIB,
    IN_MODIFY,
    IOVEC,
    MAX_RW_COUNT,
    O_CLOEXEC,
    O_NONBLOCK,
    O_PATH,
    UIO_MAXIOV,
)
from pykern.errors import SysError
from pykern.fs.file import File, vfs_fchmod
from pykern.fs.inotify import WATCHES, fsnotify_access, fsnotify_change, fsnotify_modify
from pykern.fs.stat import pack_stat
from pykern.syscalls.path import check_file_size
from pykern.syscalls.table import syscall
from pykern.sysent import (
    BUF_IN,
    BUF_OUT,
    COUNT,
    DIRENTS_OUT,
    FCNTL_CMD,
    FD,
    IOCTL_REQ,
    IOVEC_IN,
    IOVEC_OUT,
    MODE,
    NEW_FD_FLAGS,
    OFF,
    OFF_LENGTH,
    SEEK_WHENCE,
    SIZE,
    STAT_OUT,
    UINT,
    ULONG,
)

if TYPE_CHECKING:
    from pykern.task import Task

Addr = int

# Not in pykern.abi: ssize_t's maximum and the flags each *at() call accepts.
SSIZE_MAX = (1 << 63) - 1
STAT_AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE
ACCESS_AT_FLAGS = AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH
LOCK_CMDS = frozenset((F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW))


# --- helpers ---------------------------------------------------------------------------------


def _readable(task: Task, fd: int) -> File:
    file = task.group.files.get(fd)
    if not file.readable:
        raise SysError(EBADF)
    return file


def _writable(task: Task, fd: int) -> File:
    file = task.group.files.get(fd)
    if not file.writable:
        raise SysError(EBADF)
    return file


def iovecs(task: Task, iov_addr: Addr, iovcnt: int) -> list[tuple[int, int]]:
    """The iovec array, checked as import_iovec does; lengths clipped to MAX_RW_COUNT."""
    if iovcnt < 0 or iovcnt > UIO_MAXIOV:
        raise SysError(EINVAL)
    raw = task.mm.copy_in(iov_addr, iovcnt * IOVEC.size)
    vectors = []
    total = 0
    for index in range(iovcnt):
        base, length = IOVEC.unpack_from(raw, index * IOVEC.size)
        if length > SSIZE_MAX:
            raise SysError(EINVAL)
        length = min(length, MAX_RW_COUNT - total)
        total += length
        vectors.append((base, length))
    return vectors


# --- open and close ----------------------------------------------------------------------------


@syscall("close", FD, classes="desc")
def sys_close(task: Task, fd: int) -> int:
    """close(2)."""
    task.group.files.close(fd)
    return 0


CLOSE_RANGE_UNSHARE = 1 << 1
CLOSE_RANGE_CLOEXEC = 1 << 2


@syscall("close_range", UINT, UINT, UINT, classes="desc")
def sys_close_range(task: Task, first: int, last: int, flags: int) -> int:
    """close_range(2): close (or with CLOSE_RANGE_CLOEXEC mark close-on-exec) every open
    fd in [first, last]; CLOSE_RANGE_UNSHARE first gives the process a table of its own
    if it shares one (CLONE_FILES)."""
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        raise SysError(EINVAL)
    files = task.group.files
    if flags & CLOSE_RANGE_UNSHARE:
        files = task.group.files = files.unshare()  # a table of our own first
    for fd in sorted(fd for fd in files.files if first <= fd <= last):
        if flags & CLOSE_RANGE_CLOEXEC:
            files.set_cloexec(fd, True)
        else:
            files.close(fd)
    return 0


# --- read and write ------------------------------------------------------------------------------


@syscall("read", FD, BUF_OUT, SIZE, classes="desc")
def sys_read(task: Task, fd: int, buf_addr: Addr, count: int) -> int:
    """read(2)."""
    file = _readable(task, fd)
    data = file.read(task, min(count, MAX_RW_COUNT))
    task.mm.copy_out(buf_addr, data)
    if WATCHES and data:
        fsnotify_access(file)
    return len(data)


@syscall("write", FD, BUF_IN, SIZE, classes="desc")
def sys_write(task: Task, fd: int, buf_addr: Addr, count: int) -> int:
    """write(2)."""
    file = _writable(task, fd)
    data = task.mm.copy_in(buf_addr, min(count, MAX_RW_COUNT))
    written = file.write(task, data)
    if WATCHES and written:
        fsnotify_modify(file)
    return written


@syscall("readv", FD, IOVEC_OUT, COUNT, classes="desc")
def sys_readv(task: Task, fd: int, iov_addr: Addr, iovcnt: int) -> int:
    """readv(2): one read, scattered."""
    file = _readable(task, fd)
    vectors = iovecs(task, iov_addr, iovcnt)
    total = sum(length for _, length in vectors)
    data = file.read(task, total)
    scatter(task, vectors, data)
    if WATCHES and data:
        fsnotify_access(file)
    return len(data)


def scatter(task: Task, vectors: list[tuple[int, int]], data: bytes) -> None:
    """Copy `data` out over the iovecs in order (readv, recvmsg)."""
    done = 0
    for base, length in vectors:
        if done >= len(data):
            break
        task.mm.copy_out(base, data[done : done + length])
        done += length


@syscall("writev", FD, IOVEC_IN, COUNT, classes="desc")
def sys_writev(task: Task, fd: int, iov_addr: Addr, iovcnt: int) -> int:
    """writev(2): gathered, then one write (atomic as one write(2) is)."""
    file = _writable(task, fd)
    vectors = iovecs(task, iov_addr, iovcnt)
    data = b"".join(task.mm.copy_in(base, length) for base, length in vectors)
    if not data:
        return 0
    written = file.write(task, data)
    if WATCHES and written:
        fsnotify_modify(file)
    return written


@syscall("pread64", FD, BUF_OUT, SIZE, OFF, classes="desc")
def sys_pread64(task: Task, fd: int, buf_addr: Addr, count: int, offset: int) -> int:
    """pread(2)."""
    if offset < 0:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if not file.seekable:
        raise SysError(ESPIPE)
    if not file.readable:
        raise SysError(EBADF)
    data = file.pread(min(count, MAX_RW_COUNT), offset)
    task.mm.copy_out(buf_addr, data)
    if WATCHES and data:
        fsnotify_access(file)
    return len(data)


@syscall("pwrite64", FD, BUF_IN, SIZE, OFF, classes="desc")
def sys_pwrite64(task: Task, fd: int, buf_addr: Addr, count: int, offset: int) -> int:
    """pwrite(2). As on Linux, O_APPEND files are appended to whatever the offset."""
    if offset < 0:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if not file.seekable:
        raise SysError(ESPIPE)
    if not file.writable:
        raise SysError(EBADF)
    data = task.mm.copy_in(buf_addr, min(count, MAX_RW_COUNT))
    written = file.pwrite(data, offset)
    if WATCHES and written:
        fsnotify_modify(file)
    return written


@syscall("lseek", FD, OFF, SEEK_WHENCE, classes="desc")
def sys_lseek(task: Task, fd: int, offset: int, whence: int) -> int:
    """lseek(2)."""
    return task.group.files.get(fd).lseek(offset, whence)


# --- stat ----------------------------------------------------------------------------------------


@syscall("fstat", FD, STAT_OUT, classes="desc")
def sys_fstat(task: Task, fd: int, statbuf_addr: Addr) -> int:
    """fstat(2)."""
    st = task.group.files.get(fd).stat()
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


# --- descriptors: fcntl, ioctl, dup ----------------------------------------------------------------


@syscall("fcntl", FD, FCNTL_CMD, ULONG, classes="desc")
def sys_fcntl(task: Task, fd: int, cmd: int, arg: int) -> int:
    """fcntl(2); record locks (POSIX and OFD) are kept in pykern.locks."""
    files = task.group.files
    file = files.get(fd)
    if cmd in LOCK_CMDS:
        return locks.fcntl_lock(task, file, cmd, arg)
    if cmd == F_CREATED_QUERY:  # did the open that made this description create the file?
        return int(file.created)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if arg >= files.max_fds:  # unsigned long compare, as Linux
            raise SysError(EINVAL)
        return files.install(file, cloexec=cmd == F_DUPFD_CLOEXEC, lowest=arg)
    if cmd == F_GETFD:
        return FD_CLOEXEC if files.get_cloexec(fd) else 0
    if cmd == F_SETFD:
        files.set_cloexec(fd, bool(arg & FD_CLOEXEC))
        return 0
    if cmd == F_GETFL:
        return file.flags
    if cmd == F_SETFL:
        file.set_status_flags(arg & 0xFFFFFFFF)
        return 0
    return file.fcntl(task, cmd, arg)


@syscall("ioctl", FD, IOCTL_REQ, ULONG, classes="desc")
def sys_ioctl(task: Task, fd: int, request: int, arg: int) -> int:
    """ioctl(2): descriptor requests here, the rest (terminals) to the file."""
    files = task.group.files
    file = files.get(fd)
    if file.flags & O_PATH:  # fdget: an O_PATH descriptor opens nothing to ask
        raise SysError(EBADF)
    if request in (FIOCLEX, FIONCLEX):
        files.set_cloexec(fd, request == FIOCLEX)
        return 0
    if request == FIONBIO:
        on = task.mm.copy_in_i32(arg)
        file.set_status_flags(file.flags | O_NONBLOCK if on else file.flags & ~O_NONBLOCK)
        return 0
    return file.ioctl(task, request, arg)


@syscall("dup", FD, classes="desc")
def sys_dup(task: Task, oldfd: int) -> int:
    """dup(2)."""
    files = task.group.files
    return files.install(files.get(oldfd))


@syscall("dup2", FD, FD, classes="desc")
def sys_dup2(task: Task, oldfd: int, newfd: int) -> int:
    """dup2(2)."""
    files = task.group.files
    file = files.get(oldfd)
    if oldfd == newfd:
        return newfd
    return files.install_at(newfd, file)


@syscall("dup3", FD, FD, NEW_FD_FLAGS, classes="desc")
def sys_dup3(task: Task, oldfd: int, newfd: int, flags: int) -> int:
    """dup3(2)."""
    if flags & ~O_CLOEXEC or oldfd == newfd:
        raise SysError(EINVAL)
    files = task.group.files
    return files.install_at(newfd, files.get(oldfd), cloexec=bool(flags & O_CLOEXEC))


# --- directories -----------------------------------------------------------------------------------


@syscall("getdents64", FD, DIRENTS_OUT, UINT, classes="desc")
def sys_getdents64(task: Task, fd: int, dirp_addr: Addr, count: int) -> int:
    """getdents64(2): the host's entries, order and cookies."""
    data = task.group.files.get(fd).getdents64(count)
    task.mm.copy_out(dirp_addr, data)
    return len(data)


@syscall("getdents", FD, DIRENTS_OUT, UINT, classes="desc")
def sys_getdents(task: Task, fd: int, dirp_addr: Addr, count: int) -> int:
    """getdents(2): the old struct linux_dirent, whose d_type is the last byte of the
    record. A record is exactly as long as getdents64's for the same name (both are
    ALIGN(20 + strlen(name), 8)), so the entries are getdents64's, rewritten in place:
    same count, same cookies, same directory position."""
    data = task.group.files.get(fd).getdents64(count)
    task.mm.copy_out(dirp_addr, linux_dirents(data))
    return len(data)


def linux_dirents(data: bytes) -> bytes:
    """struct linux_dirent64 records as struct linux_dirent records of the same sizes."""
    out = bytearray(len(data))
    offset = 0
    while offset + DIRENT64_HEAD.size <= len(data):
        ino, cookie, reclen, dtype = DIRENT64_HEAD.unpack_from(data, offset)
        if reclen == 0:
            break
        name = data[offset + DIRENT64_HEAD.size : offset + reclen].split(b"\0", 1)[0]
        DIRENT_HEAD.pack_into(out, offset, ino, cookie, reclen)
        start = offset + DIRENT_HEAD.size
        out[start : start + len(name)] = name  # the NUL and padding are already zero
        out[offset + reclen - 1] = dtype
        offset += reclen
    return bytes(out)


# --- modes, sizes, syncing ------------------------------------------------------------------------


@syscall("fchmod", FD, MODE, classes="desc")
def sys_fchmod(task: Task, fd: int, mode: int) -> int:
    """fchmod(2)."""
    file = task.group.files.get(fd)
    if file.location is not None and not file.flags & O_PATH:
        task.kernel.mounts.check_writable(file.location)  # a read-only mount: EROFS
    vfs_fchmod(file, mode)
    if WATCHES and file.location is not None:
        fsnotify_change(file.location.inode, IN_ATTRIB)
    return 0


@syscall("umask", MODE)
def sys_umask(task: Task, mask: int) -> int:
    """umask(2)."""
    fs = task.group.fs
    old, fs.umask = fs.umask, mask & 0o777
    return old


@syscall("ftruncate", FD, OFF_LENGTH, classes="desc")
def sys_ftruncate(task: Task, fd: int, length: int) -> int:
    """ftruncate(2)."""
    if length < 0:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if file.writable and file.stat().mode & 0o170000 == 0o100000:
        check_file_size(task, length)  # (a pipe or a read-only fd: the file's own EINVAL)
    file.truncate(length)
    if WATCHES and file.location is not None:
        fsnotify_change(file.location.inode, IN_MODIFY)
    return 0


@syscall("fsync", FD, classes="desc")
def sys_fsync(task: Task, fd: int) -> int:
    """fsync(2)."""
    task.group.files.get(fd).fsync()
    return 0


@syscall("fdatasync", FD, classes="desc")
def sys_fdatasync(task: Task, fd: int) -> int:
    """fdatasync(2)."""
    task.group.files.get(fd).fsync(datasync=True)
    return 0
