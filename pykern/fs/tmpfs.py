"""tmpfs (Linux's mm/shmem.c): a file system in memory, mounted at /dev/shm (shm_open).

Directories, symbolic links and FIFOs are Python objects; a regular file's bytes live
in a host memfd, so reads, writes, seeks, truncation and mmap(MAP_SHARED) are the host
kernel's own, and every guest process that maps the file shares its pages. Each open
reopens the memfd through pykern's /proc/self/fd (a description of its own, with its
own offset), and fstat shows the tmpfs inode, not the memfd.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    DT_DIR,
    EACCES,
    EEXIST,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENOTEMPTY,
    ENXIO,
    EPERM,
    F_OK,
    O_ACCMODE,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    O_TMPFILE,
    O_TRUNC,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    S_ISVTX,
)
from pykern.errors import SysError
from pykern.fs.file import File, HostFile
from pykern.fs.hostio import host_errors, host_open_flags
from pykern.fs.inode import FileSystem, Inode
from pykern.fs.libfs import DirFile, PathFile
from pykern.fs.stat import Stat, dtype_of_mode

if TYPE_CHECKING:
    from pykern.task import Task

_tmpfs_devs = itertools.count(0x2E)
BOGO_DIRENT_SIZE = 20  # what a directory entry adds to a tmpfs directory's st_size


class TmpFS(FileSystem):
    fstype = "tmpfs"
    source = "tmpfs"

    def __init__(self, mode: int = 0o1777) -> None:
        self.dev = next(_tmpfs_devs)
        self._inos = itertools.count(1)
        self._root = TmpDir(self, None, S_IFDIR | mode, 0, 0)

    def root(self) -> Inode:
        return self._root

    def next_ino(self) -> int:
        return next(self._inos)


class TmpInode(Inode):
    fs: TmpFS

    def __init__(self, fs: TmpFS, parent: TmpDir | None, mode: int, uid: int, gid: int) -> None:
        self.fs = fs
        self.parent_dir = parent
        self.ino = fs.next_ino()
        self._mode = mode
        self.uid, self.gid = uid, gid
        self.nlink = 2 if mode & S_IFMT == S_IFDIR else 1
        self.linkable = False  # an O_TMPFILE file that linkat may still name (I_LINKABLE)
        self.atime_ns = self.mtime_ns = self.ctime_ns = time.time_ns()

    def key(self) -> Hashable:
        return (self.fs.dev, self.ino)

    @property
    def mode(self) -> int:
        return self._mode

    def size(self) -> int:
        return 0

    def stat(self) -> Stat:
        size = self.size()
        return Stat(dev=self.fs.dev, ino=self.ino, nlink=self.nlink, mode=self._mode, uid=self.uid,
                    gid=self.gid, rdev=0, size=size, blksize=4096, blocks=(size + 511) // 512,
                    atime_ns=self.atime_ns, mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns)

    def touch(self) -> None:
        self.mtime_ns = self.ctime_ns = time.time_ns()

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        if flags & O_DIRECTORY:
            raise SysError(ENOTDIR)
        if self._mode & S_IFMT == S_IFLNK:
            raise SysError(ELOOP)  # O_NOFOLLOW on a symlink (may_open)
        raise SysError(EINVAL)

    def chmod(self, task: Task, mode: int, follow: bool) -> None:
        self._owner_check(task)
        self._mode = (self._mode & S_IFMT) | (mode & 0o7777)
        self.ctime_ns = time.time_ns()

    def chown(self, task: Task, uid: int, gid: int, follow: bool) -> None:
        if task.group.creds.euid != 0:
            raise SysError(EPERM)
        if uid != 0xFFFFFFFF:
            self.uid = uid
        if gid != 0xFFFFFFFF:
            self.gid = gid
        self.ctime_ns = time.time_ns()

    def utimes(self, task: Task, atime_ns: int | None, mtime_ns: int | None, follow: bool) -> None:
        now = time.time_ns()
        if atime_ns == -1 and mtime_ns == -1:
            euid = task.group.creds.euid
            if euid not in (0, self.uid):
                self.access(task, 0o2, True, True)  # "now" needs write access, or ownership
            self.atime_ns = self.mtime_ns = now
        else:
            self._owner_check(task)
            if atime_ns is not None:
                self.atime_ns = atime_ns
            if mtime_ns is not None:
                self.mtime_ns = mtime_ns
        self.ctime_ns = now

    def _owner_check(self, task: Task) -> None:
        euid = task.group.creds.euid
        if euid != 0 and euid != self.uid:
            raise SysError(EPERM)

    def access(self, task: Task, mode: int, effective: bool, follow: bool) -> None:
        if mode == F_OK:
            return
        creds = task.group.creds
        uid = creds.euid if effective else creds.uid
        if uid == 0:
            if mode & 0o1 and not self._mode & 0o111 and self._mode & S_IFMT != S_IFDIR:
                raise SysError(EACCES)
            return
        gid = creds.egid if effective else creds.gid
        bits = (self._mode >> 6) if uid == self.uid else (self._mode >> 3) if gid == self.gid else self._mode
        if mode & ~bits & 0o7:
            raise SysError(EACCES)

    def name_in_fs(self) -> bytes:
        parts = []
        inode: TmpInode = self
        while inode.parent_dir is not None:
            parent = inode.parent_dir
            name = next((n for n, child in parent.children.items() if child is inode), None)
            if name is None:  # unlinked
                return b"/"
            parts.append(name)
            inode = parent
        return b"/" + b"/".join(reversed(parts))


class TmpFile(TmpInode):
    """A regular file: its bytes in a host memfd, and its permission bits, owner and
    times too, so that what the guest does through an open descriptor (fchmod, fchown,
    futimens, ftruncate, write: the host's calls on the memfd) and through the path
    agree."""

    def __init__(self, fs: TmpFS, parent: TmpDir | None, mode: int, uid: int, gid: int) -> None:
        with host_errors():
            self.memfd = os.memfd_create("pykern-tmpfs", os.MFD_CLOEXEC)
        super().__init__(fs, parent, mode, uid, gid)

    def _host(self) -> os.stat_result:
        with host_errors():
            return os.fstat(self.memfd)

    @property  # type: ignore[override]
    def _mode(self) -> int:
        return S_IFREG | (self._host().st_mode & 0o7777)

    @_mode.setter
    def _mode(self, mode: int) -> None:
        with host_errors():
            os.fchmod(self.memfd, mode & 0o7777)

    @property  # type: ignore[override]
    def uid(self) -> int:
        return self._host().st_uid

    @uid.setter
    def uid(self, uid: int) -> None:
        with host_errors():
            os.fchown(self.memfd, uid, -1)

    @property  # type: ignore[override]
    def gid(self) -> int:
        return self._host().st_gid

    @gid.setter
    def gid(self, gid: int) -> None:
        with host_errors():
            os.fchown(self.memfd, -1, gid)

    @property  # type: ignore[override]
    def atime_ns(self) -> int:
        return self._host().st_atime_ns

    @atime_ns.setter
    def atime_ns(self, value: int) -> None:
        with host_errors():
            os.utime(self.memfd, ns=(value, self._host().st_mtime_ns))

    @property  # type: ignore[override]
    def mtime_ns(self) -> int:
        return self._host().st_mtime_ns

    @mtime_ns.setter
    def mtime_ns(self, value: int) -> None:
        with host_errors():
            os.utime(self.memfd, ns=(self._host().st_atime_ns, value))

    @property  # type: ignore[override]
    def ctime_ns(self) -> int:
        return self._host().st_ctime_ns

    @ctime_ns.setter
    def ctime_ns(self, value: int) -> None:
        pass  # the host's: every change above sets it

    def __del__(self) -> None:
        fd, self.memfd = getattr(self, "memfd", -1), -1
        if fd >= 0:
            os.close(fd)

    def size(self) -> int:
        return os.fstat(self.memfd).st_size

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        if flags & O_DIRECTORY:
            raise SysError(ENOTDIR)
        accmode = flags & O_ACCMODE
        want = (0o4 if accmode in (O_RDONLY, 2) else 0) | (0o2 if accmode in (1, 2) or flags & O_TRUNC else 0)
        self.access(task, want, True, True)
        with host_errors():
            # the walk has found this file: O_NOFOLLOW is not for pykern's own magic link
            fd = os.open(f"/proc/self/fd/{self.memfd}",
                         host_open_flags(flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | os.O_CLOEXEC)
        if flags & O_TRUNC:
            self.touch()
        return TmpfsOpenFile(fd, flags, self)

    def truncate(self, task: Task, length: int) -> None:
        self.access(task, 0o2, True, True)
        with host_errors():
            os.ftruncate(self.memfd, length)
        self.touch()


class TmpfsOpenFile(HostFile):
    """An open tmpfs file: the memfd's description, the tmpfs inode's identity."""

    kind = "tmpfs"

    def __init__(self, fd: int, flags: int, inode: TmpFile) -> None:
        from pykern.fs.hostio import file_status_flags

        try:
            super().__init__(fd, file_status_flags(flags))
        except BaseException:
            os.close(fd)
            raise
        self.inode = inode

    def stat(self) -> Stat:
        return self.inode.stat()

    def write(self, task: Task, data: bytes) -> int:
        written = super().write(task, data)
        self.inode.touch()
        return written


class TmpLink(TmpInode):
    def __init__(self, fs: TmpFS, parent: TmpDir, target: bytes, uid: int, gid: int) -> None:
        super().__init__(fs, parent, S_IFLNK | 0o777, uid, gid)
        self.target = target

    def size(self) -> int:
        return len(self.target)

    def readlink(self, task: Task) -> bytes:
        return self.target


class TmpNode(TmpInode):
    """A FIFO, socket or device node: opening a FIFO meets the kernel pipe of its inode;
    a device is EACCES (tmpfs here is mounted nodev), a socket ENXIO."""

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        if self._mode & S_IFMT == S_IFIFO:
            from pykern.fs.fifo import fifo_open

            return fifo_open(task, self.key(), flags, self.stat)
        raise SysError(ENXIO if self._mode & S_IFMT == S_IFSOCK else EACCES)


class TmpDir(TmpInode):
    def __init__(self, fs: TmpFS, parent: TmpDir | None, mode: int, uid: int, gid: int) -> None:
        super().__init__(fs, parent, mode, uid, gid)
        self.children: dict[bytes, TmpInode] = {}

    def may_lookup(self, task: Task | None) -> None:
        if task is not None:
            self.access(task, 0o1, True, True)

    def lookup(self, task: Task, name: bytes) -> Inode:
        self.may_lookup(task)
        child = self.children.get(name)
        if child is None:
            raise SysError(ENOENT)
        return child

    def parent(self) -> Inode:
        return self.parent_dir if self.parent_dir is not None else self

    def size(self) -> int:
        """shmem's BOGO_DIRENT_SIZE: 20 bytes per entry, "." and ".." included."""
        return BOGO_DIRENT_SIZE * (2 + len(self.children))

    def readdir(self, task: Task) -> list[tuple[int, int, bytes]]:
        """The newest entry first, as Linux's tmpfs lists them (a rename makes it new)."""
        out = [(self.ino, DT_DIR, b"."), (self.parent().stat().ino, DT_DIR, b"..")]
        out += [(child.ino, dtype_of_mode(child.mode), name) for name, child in reversed(self.children.items())]
        return out

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        if flags & O_ACCMODE != O_RDONLY:
            raise SysError(EISDIR)
        self.access(task, 0o4, True, True)
        return DirFile(self, task, flags)

    def _add(self, task: Task, name: bytes, child: TmpInode) -> None:
        self.access(task, 0o3, True, True)
        if name in self.children:
            raise SysError(EEXIST)
        if self.nlink == 0:
            raise SysError(ENOENT)  # a removed directory takes no new entries (IS_DEADDIR)
        self.children[name] = child
        self.touch()

    def _creds(self, task: Task) -> tuple[int, int]:
        creds = task.group.creds
        return creds.euid, creds.egid

    def create(self, task: Task, name: bytes, flags: int, mode: int) -> File:
        umask = task.group.fs.umask
        child = TmpFile(self.fs, self, S_IFREG | (mode & 0o7777 & ~umask), *self._creds(task))
        self._add(task, name, child)
        return child.open(task, flags & ~O_TRUNC)

    def open_tmpfile(self, task: Task, flags: int, mode: int) -> File:
        """open(O_TMPFILE): a file of this directory with no name (nlink 0) until linkat
        gives it one; with O_EXCL it can never have one."""
        self.access(task, 0o3, True, True)
        if self.nlink == 0:
            raise SysError(ENOENT)
        child = TmpFile(self.fs, self, S_IFREG | (mode & 0o7777 & ~task.group.fs.umask), *self._creds(task))
        child.nlink = 0
        child.linkable = not flags & O_EXCL
        return child.open(task, flags & ~(O_TRUNC | O_TMPFILE))

    def mkdir(self, task: Task, name: bytes, mode: int) -> None:
        umask = task.group.fs.umask
        self._add(task, name, TmpDir(self.fs, self, S_IFDIR | (mode & 0o7777 & ~umask), *self._creds(task)))
        self.nlink += 1

    def mknod(self, task: Task, name: bytes, mode: int, dev: int) -> None:
        kind = mode & S_IFMT
        perm = mode & 0o7777 & ~task.group.fs.umask
        if kind in (0, S_IFREG):
            self._add(task, name, TmpFile(self.fs, self, S_IFREG | perm, *self._creds(task)))
        elif kind in (S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK):  # (devices: the caller checked CAP_MKNOD)
            self._add(task, name, TmpNode(self.fs, self, kind | perm, *self._creds(task)))
        else:
            raise SysError(EINVAL)

    def symlink(self, task: Task, name: bytes, target: bytes) -> None:
        self._add(task, name, TmpLink(self.fs, self, target, *self._creds(task)))

    def link(self, task: Task, name: bytes, inode: Inode) -> None:
        if not isinstance(inode, TmpInode) or inode.fs is not self.fs:
            super().link(task, name, inode)
            return
        if isinstance(inode, TmpDir):
            raise SysError(EPERM)
        if inode.nlink == 0 and not inode.linkable:
            raise SysError(ENOENT)  # unlinked, or O_TMPFILE|O_EXCL (no I_LINKABLE)
        self._add(task, name, inode)
        inode.linkable = False
        inode.nlink += 1
        inode.ctime_ns = time.time_ns()

    def _take(self, task: Task, name: bytes) -> TmpInode:
        self.access(task, 0o3, True, True)
        child = self.children.get(name)
        if child is None:
            raise SysError(ENOENT)
        euid = task.group.creds.euid
        if self._mode & S_ISVTX and euid not in (0, child.uid, self.uid):
            raise SysError(EPERM)  # the sticky bit: only the file's or the directory's owner
        return child

    def unlink(self, task: Task, name: bytes) -> None:
        child = self._take(task, name)
        if isinstance(child, TmpDir):
            raise SysError(EISDIR)
        del self.children[name]
        child.nlink -= 1
        child.ctime_ns = time.time_ns()
        self.touch()

    def rmdir(self, task: Task, name: bytes) -> None:
        child = self._take(task, name)
        if not isinstance(child, TmpDir):
            raise SysError(ENOTDIR)
        if child.children:
            raise SysError(ENOTEMPTY)
        del self.children[name]
        child.nlink = 0  # its ".." still leads here, as a removed directory's d_parent does
        self.nlink -= 1
        self.touch()

    def rename(self, task: Task, name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        if not isinstance(new_dir, TmpDir) or new_dir.fs is not self.fs:
            super().rename(task, name, new_dir, new_name, flags)
            return
        child = self._take(task, name)
        new_dir.access(task, 0o3, True, True)
        target = new_dir.children.get(new_name)
        if flags & RENAME_NOREPLACE and target is not None:
            raise SysError(EEXIST)
        if flags & RENAME_EXCHANGE:
            if target is None:
                raise SysError(ENOENT)
            del self.children[name]  # both names become the newest entries (readdir's order)
            del new_dir.children[new_name]
            self.children[name], new_dir.children[new_name] = target, child
            target.parent_dir, child.parent_dir = self, new_dir
            return
        if target is child:
            return
        ancestor: TmpDir | None = new_dir
        while ancestor is not None:  # a directory cannot move inside itself
            if ancestor is child:
                raise SysError(EINVAL)
            ancestor = ancestor.parent_dir
        if target is not None:
            if isinstance(child, TmpDir) and not isinstance(target, TmpDir):
                raise SysError(ENOTDIR)
            if isinstance(target, TmpDir):
                if not isinstance(child, TmpDir):
                    raise SysError(EISDIR)
                if target.children:
                    raise SysError(ENOTEMPTY)
            target.nlink -= 1
        del self.children[name]
        new_dir.children.pop(new_name, None)  # the moved entry is the newest (readdir's order)
        new_dir.children[new_name] = child
        if isinstance(child, TmpDir):
            child.parent_dir = new_dir
        self.touch()
        new_dir.touch()

