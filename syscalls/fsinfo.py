"""File system odds and ends, all the host's: statfs, fstatfs, the xattr families (get,
list, set, remove), fadvise64, the chown family, sync, syncfs, flock and memfd_create
(Linux's fs/statfs.c, fs/xattr.c, mm/fadvise.c, fs/open.c, fs/sync.c, fs/locks.c,
mm/memfd.c).

All of it is the host's: statfs asks the host's C library (struct statfs is the same
kernel layout on an x86-64 host), xattrs go through Python's os.*xattr on the host path
or fd. Files that are not host files (pipes, eventfds, epolls) have no xattrs (ENODATA,
an empty list, EPERM to set a user.* one), as Linux's pipefs answers; their owner cannot be changed
(EOPNOTSUPP: pykern keeps no owner for them).
"""

from __future__ import annotations

import ctypes
import os
import stat as host_stat
from typing import NamedTuple

from pykern.abi import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_SYMLINK_NOFOLLOW,
    E2BIG,
    EAGAIN,
    EINVAL,
    ENODATA,
    EOPNOTSUPP,
    EPERM,
    ERANGE,
    ESPIPE,
    IN_ATTRIB,
    MQUEUE_MAGIC,
    O_RDWR,
    PIPEFS_MAGIC,
    ST_VALID,
    STATFS,
)
from pykern.errors import Block, SysError
from pykern.fs.file import File, HostFile, KernelStampedFile
from pykern.fs.hostfs import MAY_WRITE, generic_permission
from pykern.fs.hostio import host_error, host_errors
from pykern.fs.inotify import WATCHES, fsnotify_change
from pykern.syscalls.path import found_stat, host_path_of, walk_at
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, LONG, OFF, PATH, PTR, SIZE, UINT
from pykern.task import Task

XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
_libc = ctypes.CDLL(None, use_errno=True)


def _host_statfs(target: str | int) -> bytes:
    buffer = ctypes.create_string_buffer(STATFS.size)
    if isinstance(target, int):
        status = _libc.fstatfs(target, buffer)
    else:
        status = _libc.statfs(os.fsencode(target), buffer)
    if status != 0:
        errno = ctypes.get_errno()
        raise host_error(OSError(errno, os.strerror(errno)))
    return STATFS.pack(*STATFS.unpack(buffer.raw))  # (field by field: the guest's layout)


PROC_SUPER_MAGIC = 0x9FA0
TMPFS_MAGIC = 0x01021994
_FS_MAGIC = {"proc": PROC_SUPER_MAGIC, "tmpfs": TMPFS_MAGIC, "devtmpfs": TMPFS_MAGIC, "mqueue": MQUEUE_MAGIC}


@syscall("statfs", PATH, PTR, classes="file")
def sys_statfs(task: Task, path_addr: int, buf_addr: int) -> int:
    """statfs(2): the host file system's numbers; for procfs, devfs and tmpfs their magic
    and no counts."""
    found = walk_at(task, AT_FDCWD, path_addr)
    target = host_path_of(found, True)
    if target is not None:
        data = _host_statfs(target[0])  # (`found` holds the host fd the path names)
    else:
        found_stat(found)
        magic = _FS_MAGIC.get(found.existing().mount.fs.fstype, TMPFS_MAGIC)
        data = STATFS.pack(magic, 4096, 0, 0, 0, 0, 0, 0, 0, 255, 4096, ST_VALID, 0, 0, 0, 0)
    task.mm.copy_out(buf_addr, data)
    return 0


_pseudo_statfs: dict[str, bytes] = {}


def _pseudo_fs(kind: str) -> bytes:
    """The host's statfs of its own pipefs (for a pipe) or anon_inodefs (eventfd, epoll),
    asked once of a host file of that kind: the numbers, fsid included, are the host's."""
    if kind not in _pseudo_statfs:
        try:
            fds = os.pipe() if kind == "pipe" else (os.eventfd(0),)
            try:
                _pseudo_statfs[kind] = _host_statfs(fds[0])
            finally:
                for fd in fds:
                    os.close(fd)
        except (OSError, SysError, AttributeError):  # no fds left, or no os.eventfd
            _pseudo_statfs[kind] = STATFS.pack(PIPEFS_MAGIC, 4096, 0, 0, 0, 0, 0, 0, 0, 255, 4096, ST_VALID,
                                               0, 0, 0, 0)
    return _pseudo_statfs[kind]


@syscall("fstatfs", FD, PTR, classes="desc")
def sys_fstatfs(task: Task, fd: int, buf_addr: int) -> int:
    """fstatfs(2). A pipe reports the host's pipefs, an eventfd or epoll file the host's
    anon_inodefs."""
    file = task.group.files.get(fd)
    if isinstance(file, HostFile):
        data = _host_statfs(file.host_fd)
    else:
        data = _pseudo_fs("pipe" if file.kind in ("pipe", "fifo") else "anon")
    task.mm.copy_out(buf_addr, data)
    return 0


# --- extended attributes -------------------------------------------------------------------


def _xattr_name(task: Task, name_addr: int) -> str:
    name = task.mm.copy_in_str(name_addr, XATTR_NAME_MAX + 1)
    if not name or len(name) > XATTR_NAME_MAX:
        raise SysError(ERANGE)
    return os.fsdecode(name)


def _give(task: Task, value: bytes, addr: int, size: int) -> int:
    """The xattr calls' size protocol: 0 asks for the length; too small is ERANGE."""
    if size == 0:
        return len(value)
    if size < len(value):
        raise SysError(ERANGE)
    task.mm.copy_out(addr, value)
    return len(value)


class HostTarget(NamedTuple):
    """How a host call names a guest file: a host path or fd, whether the host follows
    it, and what keeps the host fd behind a path alive until the call is made."""

    target: str | int
    follow: bool
    holder: object = None


def _fd_target(task: Task, fd: int) -> HostTarget:
    file: File = task.group.files.get(fd)
    if not isinstance(file, HostFile):
        raise SysError(EOPNOTSUPP)
    return HostTarget(file.host_fd, True, file)


def _path_target(task: Task, dirfd: int, path_addr: int, follow: bool) -> HostTarget:
    """The host path (and whether the host follows it) of the file a guest path names;
    EOPNOTSUPP for the files of pykern's own file systems (procfs, devfs, tmpfs)."""
    found = walk_at(task, dirfd, path_addr, follow)
    target = host_path_of(found, follow)
    if target is None:
        found_stat(found)  # ENOENT first
        raise SysError(EOPNOTSUPP)
    return HostTarget(target[0], target[1], found)


def _attrib_changed(where: HostTarget) -> None:
    """IN_ATTRIB for inotify's watches (notify_change, fsnotify_xattr)."""
    location = getattr(where.holder, "location", None)
    if WATCHES and location is not None:
        fsnotify_change(location.inode, IN_ATTRIB)


def _getxattr(task: Task, where: HostTarget, name_addr: int, value_addr: int, size: int) -> int:
    target, follow = where.target, where.follow
    name = _xattr_name(task, name_addr)
    with host_errors():
        value = os.getxattr(target, name, follow_symlinks=follow)
    return _give(task, value, value_addr, min(size, XATTR_SIZE_MAX))


def _listxattr(task: Task, where: HostTarget, list_addr: int, size: int) -> int:
    target, follow = where.target, where.follow
    with host_errors():
        names = os.listxattr(target, follow_symlinks=follow)
    return _give(task, b"".join(os.fsencode(name) + b"\0" for name in names), list_addr, size)


@syscall("getxattr", PATH, PTR, PTR, SIZE, classes="file")
def sys_getxattr(task: Task, path_addr: int, name_addr: int, value_addr: int, size: int) -> int:
    """getxattr(2), from the host file."""
    return _getxattr(task, _path_target(task, AT_FDCWD, path_addr, True), name_addr, value_addr, size)


@syscall("lgetxattr", PATH, PTR, PTR, SIZE, classes="file")
def sys_lgetxattr(task: Task, path_addr: int, name_addr: int, value_addr: int, size: int) -> int:
    """lgetxattr(2): of a symbolic link itself."""
    return _getxattr(task, _path_target(task, AT_FDCWD, path_addr, False), name_addr, value_addr, size)


@syscall("fgetxattr", FD, PTR, PTR, SIZE, classes="desc")
def sys_fgetxattr(task: Task, fd: int, name_addr: int, value_addr: int, size: int) -> int:
    """fgetxattr(2)."""
    if not isinstance(task.group.files.get(fd), HostFile):
        _xattr_name(task, name_addr)
        raise SysError(ENODATA)
    return _getxattr(task, _fd_target(task, fd), name_addr, value_addr, size)


@syscall("listxattr", PATH, PTR, SIZE, classes="file")
def sys_listxattr(task: Task, path_addr: int, list_addr: int, size: int) -> int:
    """listxattr(2): NUL-separated names."""
    return _listxattr(task, _path_target(task, AT_FDCWD, path_addr, True), list_addr, size)


@syscall("llistxattr", PATH, PTR, SIZE, classes="file")
def sys_llistxattr(task: Task, path_addr: int, list_addr: int, size: int) -> int:
    """llistxattr(2)."""
    return _listxattr(task, _path_target(task, AT_FDCWD, path_addr, False), list_addr, size)


@syscall("flistxattr", FD, PTR, SIZE, classes="desc")
def sys_flistxattr(task: Task, fd: int, list_addr: int, size: int) -> int:
    """flistxattr(2)."""
    if not isinstance(task.group.files.get(fd), HostFile):
        return 0
    return _listxattr(task, _fd_target(task, fd), list_addr, size)


XATTR_CREATE, XATTR_REPLACE = 1, 2


def _setxattr(task: Task, where: HostTarget, name_addr: int, value_addr: int, size: int,
              flags: int) -> int:  # fmt: skip
    target, follow = where.target, where.follow
    if flags & ~(XATTR_CREATE | XATTR_REPLACE):
        raise SysError(EINVAL)
    name = _xattr_name(task, name_addr)
    if size > XATTR_SIZE_MAX:
        raise SysError(E2BIG)
    value = task.mm.copy_in(value_addr, size) if size else b""
    _check_writable(task, where)
    _xattr_permission(task, where, name)
    with host_errors():
        os.setxattr(target, name, value, flags, follow_symlinks=follow)
    _attrib_changed(where)
    return 0


def _removexattr(task: Task, where: HostTarget, name_addr: int) -> int:
    target, follow = where.target, where.follow
    name = _xattr_name(task, name_addr)
    _check_writable(task, where)
    _xattr_permission(task, where, name)
    with host_errors():
        os.removexattr(target, name, follow_symlinks=follow)
    _attrib_changed(where)
    return 0


def _no_xattrs_here(task: Task, name_addr: int) -> SysError:
    """Setting or removing an attribute of a pipe, eventfd or epoll file: Linux allows
    user.* only on regular files and directories (EPERM), and these file systems have no
    other namespace (EOPNOTSUPP)."""
    return SysError(EPERM if _xattr_name(task, name_addr).startswith("user.") else EOPNOTSUPP)


@syscall("setxattr", PATH, PTR, PTR, SIZE, INT, classes="file")
def sys_setxattr(task: Task, path_addr: int, name_addr: int, value_addr: int, size: int, flags: int) -> int:
    """setxattr(2), on the host file: XATTR_CREATE fails with EEXIST, XATTR_REPLACE with
    ENODATA; a value over 64 KiB is E2BIG."""
    return _setxattr(task, _path_target(task, AT_FDCWD, path_addr, True), name_addr, value_addr, size, flags)


@syscall("lsetxattr", PATH, PTR, PTR, SIZE, INT, classes="file")
def sys_lsetxattr(task: Task, path_addr: int, name_addr: int, value_addr: int, size: int, flags: int) -> int:
    """lsetxattr(2): of a symbolic link itself."""
    return _setxattr(task, _path_target(task, AT_FDCWD, path_addr, False), name_addr, value_addr, size, flags)


@syscall("fsetxattr", FD, PTR, PTR, SIZE, INT, classes="desc")
def sys_fsetxattr(task: Task, fd: int, name_addr: int, value_addr: int, size: int, flags: int) -> int:
    """fsetxattr(2)."""
    if not isinstance(task.group.files.get(fd), HostFile):
        raise _no_xattrs_here(task, name_addr)
    return _setxattr(task, _fd_target(task, fd), name_addr, value_addr, size, flags)


@syscall("removexattr", PATH, PTR, classes="file")
def sys_removexattr(task: Task, path_addr: int, name_addr: int) -> int:
    """removexattr(2): ENODATA if there is no such attribute."""
    return _removexattr(task, _path_target(task, AT_FDCWD, path_addr, True), name_addr)


@syscall("lremovexattr", PATH, PTR, classes="file")
def sys_lremovexattr(task: Task, path_addr: int, name_addr: int) -> int:
    """lremovexattr(2)."""
    return _removexattr(task, _path_target(task, AT_FDCWD, path_addr, False), name_addr)


@syscall("fremovexattr", FD, PTR, classes="desc")
def sys_fremovexattr(task: Task, fd: int, name_addr: int) -> int:
    """fremovexattr(2)."""
    if not isinstance(task.group.files.get(fd), HostFile):
        raise _no_xattrs_here(task, name_addr)
    return _removexattr(task, _fd_target(task, fd), name_addr)


# --- fadvise ---------------------------------------------------------------------------------

POSIX_FADV_MAX = 5  # NORMAL RANDOM SEQUENTIAL WILLNEED DONTNEED NOREUSE


@syscall("fadvise64", FD, OFF, LONG, INT, classes="desc")
def sys_fadvise64(task: Task, fd: int, offset: int, length: int, advice: int) -> int:
    """fadvise64(2): advice about caching, checked as Linux checks it (EBADF, ESPIPE on a
    pipe, EINVAL); pykern keeps no page cache of its own, so there is nothing to do."""
    file = task.group.files.get(fd)
    if not isinstance(file, HostFile):
        raise SysError(ESPIPE if file.kind in ("pipe", "fifo") else EINVAL)
    if not file.seekable and file.pollable:
        raise SysError(ESPIPE)
    if not 0 <= advice <= POSIX_FADV_MAX or length < 0:
        raise SysError(EINVAL)
    return 0



# --- ownership, sync, locks, memfd ---------------------------------------------------------------

LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8
MFD_CLOEXEC, MFD_ALLOW_SEALING = 1, 2


def _check_writable(task: Task, where: HostTarget) -> None:
    """EROFS for a change to a file of a read-only mount (mnt_want_write), whether it is
    named by a path or by a descriptor."""
    location = getattr(where.holder, "location", None)
    if location is not None:
        task.kernel.mounts.check_writable(location)


def _chown_permission(task: Task, where: HostTarget, uid: int, gid: int) -> None:
    """chown_ok and chgrp_ok for a guest without CAP_CHOWN (the host cannot tell: pykern
    may be root): only the owner, keeping the owner, giving the file to one of its groups."""
    creds = task.group.creds
    if creds.euid == 0:
        return
    with host_errors():
        status = os.stat(where.target, follow_symlinks=where.follow)
    owner = creds.euid == status.st_uid
    if uid != 0xFFFFFFFF and not (owner and uid == status.st_uid):
        raise SysError(EPERM)
    if gid != 0xFFFFFFFF and not (owner and (gid == status.st_gid or gid == creds.egid or gid in creds.groups)):
        raise SysError(EPERM)


def _xattr_permission(task: Task, where: HostTarget, name: str) -> None:
    """xattr_permission for a change by a guest that is not root: trusted.* needs
    CAP_SYS_ADMIN (EPERM); user.* only on files and directories (EPERM), with write
    access (EACCES)."""
    if task.group.creds.euid == 0:
        return
    if name.startswith("trusted."):
        raise SysError(EPERM)
    if name.startswith("user."):
        with host_errors():
            status = os.stat(where.target, follow_symlinks=where.follow)
        if not (host_stat.S_ISREG(status.st_mode) or host_stat.S_ISDIR(status.st_mode)):
            raise SysError(EPERM)
        generic_permission(task, status, MAY_WRITE)


def _chown(task: Task, where: HostTarget, uid: int, gid: int) -> int:
    target, follow = where.target, where.follow
    _check_writable(task, where)
    _chown_permission(task, where, uid, gid)
    with host_errors():
        os.chown(target, uid if uid != 0xFFFFFFFF else -1, gid if gid != 0xFFFFFFFF else -1,
                 follow_symlinks=follow)
    if uid != 0xFFFFFFFF or gid != 0xFFFFFFFF:  # chown(-1, -1) changes no attribute: no event
        _attrib_changed(where)
    return 0


@syscall("chown", PATH, INT, INT, classes="file")
def sys_chown(task: Task, path_addr: int, uid: int, gid: int) -> int:
    """chown(2) on the host file (-1 leaves an id as it is)."""
    return _chown(task, _path_target(task, AT_FDCWD, path_addr, True), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)


@syscall("lchown", PATH, INT, INT, classes="file")
def sys_lchown(task: Task, path_addr: int, uid: int, gid: int) -> int:
    """lchown(2): of a symbolic link itself."""
    return _chown(task, _path_target(task, AT_FDCWD, path_addr, False), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)


@syscall("fchown", FD, INT, INT, classes="desc")
def sys_fchown(task: Task, fd: int, uid: int, gid: int) -> int:
    """fchown(2)."""
    return _chown(task, _fd_target(task, fd), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)


@syscall("fchownat", INT, PATH, INT, INT, INT, classes="file")
def sys_fchownat(task: Task, dirfd: int, path_addr: int, uid: int, gid: int, flags: int) -> int:
    """fchownat(2): AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH."""
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SysError(EINVAL)
    if flags & AT_EMPTY_PATH and not task.mm.copy_in_str(path_addr):
        return _chown(task, _fd_target(task, dirfd), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    return _chown(task, _path_target(task, dirfd, path_addr, follow), uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)


@syscall("sync", classes="file")
def sys_sync(task: Task) -> int:
    """sync(2): the host's."""
    os.sync()
    return 0


@syscall("syncfs", FD, classes="desc")
def sys_syncfs(task: Task, fd: int) -> int:
    """syncfs(2): the host's sync (of every file system: more than asked, never less)."""
    task.group.files.get(fd)
    os.sync()
    return 0


@syscall("flock", FD, INT, classes="desc")
def sys_flock(task: Task, fd: int, operation: int) -> int:
    """flock(2): the host's lock on the host file. A lock that would block returns
    EWOULDBLOCK with LOCK_NB; without it pykern waits by polling the host lock."""
    import fcntl

    file = task.group.files.get(fd)
    kind = operation & ~LOCK_NB
    if kind not in (LOCK_SH, LOCK_EX, LOCK_UN):
        raise SysError(EINVAL)
    if not isinstance(file, HostFile):
        raise SysError(EINVAL)
    host_op = {LOCK_SH: fcntl.LOCK_SH, LOCK_EX: fcntl.LOCK_EX, LOCK_UN: fcntl.LOCK_UN}[kind]
    try:
        fcntl.flock(file.host_fd, host_op | fcntl.LOCK_NB)
    except BlockingIOError:
        if operation & LOCK_NB:
            raise SysError(EAGAIN) from None
        raise Block(deadline=task.kernel.clock.monotonic_ns() / 1e9 + 0.01) from None
    except OSError as error:
        raise host_error(error) from None
    return 0


@syscall("memfd_create", PTR, UINT, classes="desc")
def sys_memfd_create(task: Task, name_addr: int, flags: int) -> int:
    """memfd_create(2): an anonymous host memfd, a host file like any other."""
    name = task.mm.copy_in_str(name_addr, 250)
    if flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING):
        raise SysError(EINVAL)
    with host_errors():
        host_fd = os.memfd_create(os.fsdecode(name), os.MFD_CLOEXEC)
    try:
        path = f"/memfd:{os.fsdecode(name)} (deleted)"
        if task.kernel.options.deterministic:  # the host's inode number and times are not
            file = KernelStampedFile(host_fd, O_RDWR, path, task.kernel.clock.realtime_ns())
        else:
            file = HostFile(host_fd, O_RDWR, path)
    except BaseException:
        os.close(host_fd)
        raise
    return task.group.files.install(file, bool(flags & MFD_CLOEXEC))
