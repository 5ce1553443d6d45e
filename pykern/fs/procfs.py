"""/proc, generated from the kernel's own tables (Linux's fs/proc/). Never the host's
/proc, which describes pykern's Python process.

This first version has the process links: /proc/self, /proc/thread-self and
/proc/PID/{exe,cwd,root,fd/N}; the rest of /proc is ENOENT until it is generated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import ENOENT, S_IFDIR
from pykern.errors import SysError
from pykern.fs.libfs import DirInode, LinkInode, SimpleFS
from pykern.fs.namei import d_path

if TYPE_CHECKING:
    from pykern.fs.inode import Inode
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup
    from pykern.vfs import File

PROC_SUPER_MAGIC_DEV = 0x16


def _caller(task: Task | None) -> Task:
    if task is None:
        raise SysError(ENOENT)
    return task


class ProcFS(SimpleFS):
    fstype = "proc"
    source = "proc"

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(dev=PROC_SUPER_MAGIC_DEV)
        self.kernel = kernel
        self._root = ProcRoot(self, None, b"", mode=S_IFDIR | 0o555)

    def root(self) -> DirInode:
        return self._root


class ProcRoot(DirInode):
    fs: ProcFS

    def children(self, task: Task) -> dict:
        entries = {b"self": _self_link, b"thread-self": _thread_self_link}
        for tgid, group in sorted(self.fs.kernel.groups.items()):
            if not group.is_zombie or group.tasks:
                entries[str(tgid).encode()] = _pid_dir
        return entries


def _self_link(parent: DirInode, name: bytes) -> Inode:
    return LinkInode(parent.fs, parent, name, lambda task: str(_caller(task).group.tgid).encode())


def _thread_self_link(parent: DirInode, name: bytes) -> Inode:
    def target(task: Task) -> bytes:
        task = _caller(task)
        return f"{task.group.tgid}/task/{task.tid}".encode()

    return LinkInode(parent.fs, parent, name, target)


def _group_of(fs: ProcFS, name: bytes) -> ThreadGroup:
    group = fs.kernel.groups.get(int(name)) if name.isdigit() else None
    if group is None:
        raise SysError(ENOENT)
    return group


def _pid_dir(parent: DirInode, name: bytes) -> Inode:
    fs: ProcFS = parent.fs  # type: ignore[assignment]
    group = _group_of(fs, name)

    def link(getter):  # type: ignore[no-untyped-def]
        def make(dir_inode: DirInode, link_name: bytes) -> Inode:
            def follow(task: Task):  # type: ignore[no-untyped-def]
                return getter(group)

            def target(task: Task) -> bytes:
                place = getter(group)
                return d_path(place, _caller(task).group.fs.root)

            return LinkInode(fs, dir_inode, link_name, target, follow)

        return make

    entries = {
        b"exe": link(lambda g: _exe(g)),
        b"cwd": link(lambda g: g.fs.cwd),
        b"root": link(lambda g: g.fs.root),
        b"fd": lambda d, n: FdDir(fs, d, n, group),
    }
    return DirInode(fs, parent, name, entries, mode=S_IFDIR | 0o555)


def _exe(group: ThreadGroup):  # type: ignore[no-untyped-def]
    if group.exe_location is None:
        raise SysError(ENOENT)
    return group.exe_location


class FdDir(DirInode):
    def __init__(self, fs: ProcFS, parent: DirInode, name: bytes, group: ThreadGroup) -> None:
        super().__init__(fs, parent, name, mode=S_IFDIR | 0o500)
        self.group = group

    def children(self, task: Task) -> dict:
        return {str(fd).encode(): self._fd_link for fd in sorted(self.group.files.files)}

    def _fd_link(self, parent: DirInode, name: bytes) -> Inode:
        group = self.group

        def file() -> File:
            found = group.files.files.get(int(name))
            if found is None:
                raise SysError(ENOENT)
            return found

        def target(task: Task) -> bytes:
            opened = file()
            if opened.location is not None:
                return d_path(opened.location, _caller(task).group.fs.root)
            return opened.link_target()

        return LinkInode(self.fs, parent, name, target, lambda task: file())
