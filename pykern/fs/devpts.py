"""devpts (Linux's fs/devpts/inode.c): /dev/pts, one entry per live pseudo-terminal.

The root lists `ptmx` (c 5,2, mode 0000 as Debian mounts devpts with ptmxmode=000) and
one character device N per pty whose master is open (devpts_pty_new / devpts_pty_kill):
inode number N + 3, major 136 + N / 256, gid 5 and mode 0620 (the mount's gid=5,mode=620).
Opening N opens the slave (pykern.tty.Pty.open_slave: EIO while locked); opening ptmx
makes a new pair, as /dev/ptmx does. The ptys themselves live in kernel.ttys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    DEVPTS_SUPER_MAGIC,
    EACCES,
    ENOENT,
    O_NOCTTY,
    O_PATH,
    S_IFCHR,
    S_IFDIR,
    STATFS,
    TTYAUX_MAJOR,
)
from pykern.errors import SysError
from pykern.fs.file import File, HostFile
from pykern.fs.hostio import host_errors
from pykern.fs.inode import Inode
from pykern.fs.libfs import DirInode, PathFile, SimpleFS, SimpleInode
from pykern.fs.stat import Stat

if TYPE_CHECKING:
    from pykern.task import Task
    from pykern.tty import TtyTable

DEVPTS_DEV = (0 << 8) | 24  # an anonymous device number, as a mount of devpts gets one
_PTMX_INO = 2


class DevptsFS(SimpleFS):
    fstype = "devpts"
    source = "devpts"

    def __init__(self, table: TtyTable) -> None:
        super().__init__(DEVPTS_DEV)
        self.table = table
        self._root = DevptsRoot(self)

    def root(self) -> Inode:
        return self._root

    def statfs(self, inode: Inode) -> bytes | None:
        return STATFS.pack(DEVPTS_SUPER_MAGIC, 4096, 0, 0, 0, 0, 0, 0, 0, 255, 4096, 0x20, 0, 0, 0, 0)


class DevptsRoot(DirInode):
    """/dev/pts itself: ptmx, then the live ptys in order."""

    file_mode = S_IFDIR | 0o755
    fs: DevptsFS

    def __init__(self, fs: DevptsFS) -> None:
        super().__init__(fs, None, b"")

    @property
    def ino(self) -> int:
        return 1

    def children(self, task: Task) -> dict[bytes, Callable[[DirInode, bytes], Inode]]:
        entries: dict[bytes, Callable[[DirInode, bytes], Inode]] = {b"ptmx": PtmxInode}
        live = {index for index, pty in self.fs.table.ptys.items() if pty.master_open}
        console = self.fs.table.console_pts_index()
        for index in sorted(live | ({console} if console is not None else set())):
            entries[str(index).encode()] = ConsoleInode if index == console else PtsInode
        return entries


class ConsoleInode(SimpleInode):
    """/dev/pts/N for the console, when pykern runs on the host's /dev/pts/N: the host's
    node (its stat, so that ttyname() finds it; opening it opens the host's)."""

    fs: DevptsFS

    def __init__(self, parent: DirInode, name: bytes) -> None:
        super().__init__(parent.fs, parent, name, S_IFCHR | 0o620)
        self.host_path = "/dev/pts/" + name.decode()

    def stat(self) -> Stat:
        with host_errors():
            return Stat.from_host(os.stat(self.host_path))

    @property
    def mode(self) -> int:
        return self.stat().mode

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        return HostFile.open(self.host_path, flags | O_NOCTTY, 0, 0)


class PtmxInode(SimpleInode):
    """/dev/pts/ptmx: mode 0000 (ptmxmode=000), so only root may open it."""

    file_mode = S_IFCHR | 0o000
    fs: DevptsFS

    def __init__(self, parent: DirInode, name: bytes) -> None:
        super().__init__(parent.fs, parent, name)

    @property
    def ino(self) -> int:
        return _PTMX_INO

    def stat(self) -> Stat:
        base = super().stat()
        return base._replace(rdev=(TTYAUX_MAJOR << 8) | 2)

    def open(self, task: Task, flags: int) -> File:
        from pykern.tty import open_ptmx

        if flags & O_PATH:
            return PathFile(self, flags)
        if task.group.creds.euid != 0:
            raise SysError(EACCES)
        return open_ptmx(task, flags, "/dev/pts/ptmx", self.stat)


class PtsInode(SimpleInode):
    """/dev/pts/N: the slave of pty N."""

    file_mode = S_IFCHR | 0o620

    fs: DevptsFS

    def __init__(self, parent: DirInode, name: bytes) -> None:
        super().__init__(parent.fs, parent, name)
        self.index = int(name)

    def key(self) -> Hashable:
        return (id(self.fs), self.index)

    def stat(self) -> Stat:
        pty = self.fs.table.ptys.get(self.index)
        if pty is None:
            raise SysError(ENOENT)
        return pty.slave_stat()

    @property
    def mode(self) -> int:
        return self.file_mode

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        pty = self.fs.table.ptys.get(self.index)
        if pty is None or not pty.master_open:
            raise SysError(ENOENT)
        return pty.open_slave(task, flags, f"/dev/pts/{self.index}")


class TtyDeviceNode(SimpleInode):
    """A node of /dev that the tty layer opens: /dev/ptmx (c 5,2: a new pty pair) and
    /dev/tty (c 5,0: the caller's controlling terminal), crw-rw-rw- root tty."""

    def __init__(self, parent: DirInode, name: bytes) -> None:
        super().__init__(parent.fs, parent, name, S_IFCHR | 0o666, uid=0, gid=5)
        self.minor = 2 if name == b"ptmx" else 0

    def stat(self) -> Stat:
        return super().stat()._replace(rdev=(TTYAUX_MAJOR << 8) | self.minor)

    def open(self, task: Task, flags: int) -> File:
        from pykern.tty import open_dev_tty, open_ptmx

        if flags & O_PATH:
            return PathFile(self, flags)
        if self.minor == 2:
            return open_ptmx(task, flags, "/dev/ptmx", self.stat)
        return open_dev_tty(task, flags, self.stat)


def add_to_dev(dev: DirInode) -> None:
    """Put ptmx and tty in devfs's root (the caller mounts kernel.ttys.devpts on pts)."""
    dev.entries[b"ptmx"] = TtyDeviceNode
    dev.entries[b"tty"] = TtyDeviceNode
