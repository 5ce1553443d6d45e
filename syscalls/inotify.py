"""inotify(7): inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch (Linux's
fs/notify/inotify/inotify_user.c). The instance and its events are pykern.fs.inotify's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    ALL_INOTIFY_BITS,
    AT_FDCWD,
    EINVAL,
    ENOTDIR,
    IN_DONT_FOLLOW,
    IN_MASK_ADD,
    IN_MASK_CREATE,
    IN_ONLYDIR,
    O_CLOEXEC,
    O_NONBLOCK,
)
from pykern.errors import SysError
from pykern.fs.inotify import InotifyFile
from pykern.fs.namei import lookup
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, PATH, UINT

if TYPE_CHECKING:
    from pykern.task import Task

Addr = int

IN_CLOEXEC = O_CLOEXEC
IN_NONBLOCK = O_NONBLOCK


@syscall("inotify_init1", INT, classes="desc")
def sys_inotify_init1(task: Task, flags: int) -> int:
    """inotify_init1(2): IN_NONBLOCK, IN_CLOEXEC."""
    if flags & ~(IN_CLOEXEC | IN_NONBLOCK):
        raise SysError(EINVAL)
    return task.group.files.install(InotifyFile(flags & IN_NONBLOCK), bool(flags & IN_CLOEXEC))


@syscall("inotify_init", classes="desc")
def sys_inotify_init(task: Task) -> int:
    """inotify_init(2)."""
    return sys_inotify_init1(task, 0)


def _inotify_file(task: Task, fd: int) -> InotifyFile:
    file = task.group.files.get(fd)  # EBADF
    if not isinstance(file, InotifyFile):
        raise SysError(EINVAL)
    return file


@syscall("inotify_add_watch", FD, PATH, UINT, classes="desc file")
def sys_inotify_add_watch(task: Task, fd: int, pathname_addr: Addr, mask: int) -> int:
    """inotify_add_watch(2): the same inode keeps its watch descriptor (IN_MASK_ADD adds
    to its mask, IN_MASK_CREATE refuses it: EEXIST). Read permission on the file is
    required (EACCES). Only files with a place in the guest's tree are watched."""
    if mask & IN_MASK_ADD and mask & IN_MASK_CREATE:
        raise SysError(EINVAL)
    if not mask & ALL_INOTIFY_BITS:
        raise SysError(EINVAL)
    group = _inotify_file(task, fd)
    path = task.mm.copy_in_str(pathname_addr)
    found = lookup(task, AT_FDCWD, path, follow=not mask & IN_DONT_FOLLOW)
    location = found.existing()
    inode = location.inode
    if mask & IN_ONLYDIR and not inode.is_dir:
        raise SysError(ENOTDIR)
    inode.access(task, 0o4, True, not mask & IN_DONT_FOLLOW)  # inode_permission(MAY_READ)
    return group.add_watch(inode.key(), mask)


@syscall("inotify_rm_watch", FD, INT, classes="desc")
def sys_inotify_rm_watch(task: Task, fd: int, wd: int) -> int:
    """inotify_rm_watch(2): the watch's last event is IN_IGNORED."""
    _inotify_file(task, fd).rm_watch(wd)
    return 0
