"""/dev as the guest sees it (Linux's devtmpfs with what udev would add): the memory
devices, the terminal, the descriptor links, and the directories on which /dev/shm
(tmpfs) and /dev/pts are mounted. The host's other device nodes are not reachable.

The memory devices (null, zero, full, random, urandom) and tty open the host's own
node: the same answers, stat and mmap behaviour (a private mapping of /dev/zero) as a
native program gets. /dev/tty without a controlling terminal is the host's ENXIO.
Under --deterministic, reads of random and urandom come from the kernel's seeded source.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pykern.abi import O_PATH, S_IFDIR
from pykern.errors import SysError
from pykern.fs.file import File, HostFile
from pykern.fs.hostio import guest_errno, host_errors, host_open_flags
from pykern.fs.libfs import DirInode, LinkInode, PathFile, SimpleFS, SimpleInode
from pykern.fs.stat import Stat

if TYPE_CHECKING:
    from pykern.task import Task

HOST_DEVICES = (b"null", b"zero", b"full", b"random", b"urandom", b"tty")


class HostDevice(SimpleInode):
    """A character device of the host's, opened through its host node."""

    def __init__(self, fs: SimpleFS, parent: SimpleInode, name: bytes) -> None:
        self.host_path = b"/dev/" + name
        try:
            host = os.stat(self.host_path)
        except OSError as error:
            raise SysError(guest_errno(error.errno or 0)) from None
        super().__init__(fs, parent, name, host.st_mode)

    def stat(self) -> Stat:
        with host_errors():
            return Stat.from_host(os.stat(self.host_path))

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        with host_errors():
            fd = os.open(self.host_path, host_open_flags(flags) | os.O_CLOEXEC)
        if self.name in RANDOM_DEVICES and task.kernel.random is not None:
            return SeededRandomFile.wrap(fd, flags)
        return HostFile.wrap(fd, flags)


RANDOM_DEVICES = (b"random", b"urandom")


class SeededRandomFile(HostFile):
    """--deterministic: /dev/random or /dev/urandom whose reads are Kernel.random_bytes
    (seeded); stat, writes (entropy the guest adds) and ioctls are the host node's."""

    def read(self, task: Task, size: int) -> bytes:
        return task.kernel.random_bytes(size)


def _device(parent: DirInode, name: bytes) -> SimpleInode:
    return HostDevice(parent.fs, parent, name)


class DevLink(LinkInode):
    """A symlink of devtmpfs (/dev/fd, /dev/stdin, ...): its size is its target's length."""

    def __init__(self, fs: SimpleFS, parent: SimpleInode, name: bytes, target: bytes) -> None:
        super().__init__(fs, parent, name, lambda task: target)
        self.target = target

    def size(self) -> int:
        return len(self.target)


def _link(target: bytes):  # type: ignore[no-untyped-def]
    def make(parent: DirInode, name: bytes) -> SimpleInode:
        return DevLink(parent.fs, parent, name, target)

    return make


def _dir(parent: DirInode, name: bytes) -> SimpleInode:
    return DirInode(parent.fs, parent, name, mode=S_IFDIR | 0o755)


class DevFS(SimpleFS):
    fstype = "devtmpfs"
    source = "udev"

    def __init__(self) -> None:
        super().__init__(dev=0x5)
        entries = {name: _device for name in HOST_DEVICES}
        entries.update({
            b"fd": _link(b"/proc/self/fd"),
            b"stdin": _link(b"/proc/self/fd/0"),
            b"stdout": _link(b"/proc/self/fd/1"),
            b"stderr": _link(b"/proc/self/fd/2"),
            b"shm": _dir,
            b"pts": _dir,
        })
        self._root = DirInode(self, None, b"", entries, mode=S_IFDIR | 0o755)
        self._root.creatable_names = True  # devtmpfs is writable: mkdir /dev/x is EPERM here, not ENOENT

    def add(self, name: bytes, factory) -> None:  # type: ignore[no-untyped-def]
        """A node made by another part of the kernel (/dev/ptmx by the tty layer)."""
        self._root.entries[name] = factory

    def root(self) -> DirInode:
        return self._root
