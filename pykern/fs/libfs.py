"""Building blocks for the file systems pykern generates (Linux's fs/libfs.c and
seq_file): directories whose entries are computed, files whose contents are computed
at open, and symbolic links, magic or not. procfs and devfs are made of these.

An inode here is a name in a tree of Python objects: `SimpleInode(fs, parent, name)`.
Its key is its path in the file system, so a directory looked up twice is the same
directory; its inode number is given by the file system, stable per path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    DT_DIR,
    EACCES,
    EINVAL,
    EISDIR,
    ENOENT,
    ENOTDIR,
    O_ACCMODE,
    O_DIRECTORY,
    O_PATH,
    O_RDONLY,
    O_TRUNC,
    S_IFDIR,
    S_IFLNK,
    S_IFREG,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)
from pykern.errors import SysError
from pykern.fs.file import File
from pykern.fs.hostio import file_status_flags
from pykern.fs.inode import FileSystem, Inode, LinkTarget
from pykern.fs.stat import Stat, dtype_of_mode, pack_dirents64

if TYPE_CHECKING:
    from pykern.task import Task


class SimpleFS(FileSystem):
    """A file system of SimpleInodes: a device number and stable inode numbers."""

    def __init__(self, dev: int) -> None:
        self.dev = dev
        self._inos: dict[bytes, int] = {}
        self.created_ns = time.time_ns()

    def ino_of(self, path: bytes) -> int:
        ino = self._inos.get(path)
        if ino is None:
            ino = self._inos[path] = len(self._inos) + 1
        return ino


class SimpleInode(Inode):
    """An inode of a SimpleFS, named by its parent and its name."""

    fs: SimpleFS
    file_mode = S_IFREG | 0o444

    def __init__(self, fs: SimpleFS, parent: SimpleInode | None, name: bytes, mode: int | None = None,
                 uid: int = 0, gid: int = 0) -> None:  # fmt: skip
        self.fs = fs
        self._parent = parent
        self.name = name
        self._mode = self.file_mode if mode is None else mode
        self.uid = uid
        self.gid = gid

    def key(self) -> Hashable:
        return (id(self.fs), self.name_in_fs())

    def name_in_fs(self) -> bytes:
        if self._parent is None:
            return b"/"
        parent = self._parent.name_in_fs()
        return (parent if parent.endswith(b"/") else parent + b"/") + self.name

    @property
    def ino(self) -> int:
        return self.fs.ino_of(self.name_in_fs())

    @property
    def mode(self) -> int:
        return self._mode

    def size(self) -> int:
        return 0

    def stat(self) -> Stat:
        ns = self.fs.created_ns
        return Stat(dev=self.fs.dev, ino=self.ino, nlink=2 if self.is_dir else 1, mode=self._mode,
                    uid=self.uid, gid=self.gid, rdev=0, size=self.size(), blksize=1024, blocks=0,
                    atime_ns=ns, mtime_ns=ns, ctime_ns=ns)

    def parent(self) -> Inode:
        if not self.is_dir:
            return super().parent()
        return self._parent if self._parent is not None else self

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        if flags & O_DIRECTORY and not self.is_dir:
            raise SysError(ENOTDIR)
        return self.open_file(task, flags)

    def open_file(self, task: Task, flags: int) -> File:
        raise SysError(EACCES)


class PathFile(File):
    """An O_PATH descriptor of a generated file: it names the inode, nothing more."""

    kind = "path"

    def __init__(self, inode: Inode, flags: int) -> None:
        super().__init__(flags & (O_PATH | O_DIRECTORY), inode.name_in_fs().decode(errors="replace"))
        self.inode = inode

    def stat(self) -> Stat:
        return self.inode.stat()


# --- directories ---------------------------------------------------------------------------------


class DirInode(SimpleInode):
    """A directory whose entries are computed: `children(task)` gives name -> inode
    factory (called on lookup). Subclasses override children(), or pass a fixed dict."""

    file_mode = S_IFDIR | 0o555
    creatable_names = False  # an unknown name is ENOENT for every call, as in procfs

    def __init__(self, fs: SimpleFS, parent: SimpleInode | None, name: bytes,
                 entries: dict[bytes, Callable[[DirInode, bytes], Inode]] | None = None,
                 mode: int | None = None, uid: int = 0, gid: int = 0) -> None:  # fmt: skip
        super().__init__(fs, parent, name, mode, uid, gid)
        self.entries = entries or {}

    def children(self, task: Task) -> dict[bytes, Callable[[DirInode, bytes], Inode]]:
        return self.entries

    def lookup(self, task: Task, name: bytes) -> Inode:
        factory = self.children(task).get(name)
        if factory is None:
            raise SysError(ENOENT)
        return factory(self, name)

    def readdir(self, task: Task) -> list[tuple[int, int, bytes]]:
        parent = self.parent()
        out = [(self.ino, DT_DIR, b"."), (parent.stat().ino, DT_DIR, b"..")]
        for name, factory in self.children(task).items():
            try:
                child = factory(self, name)
                out.append((child.stat().ino, dtype_of_mode(child.mode), name))
            except SysError:
                continue  # gone while listing (a process that exited)
        return out

    def open_file(self, task: Task, flags: int) -> File:
        if flags & O_ACCMODE != O_RDONLY:
            raise SysError(EISDIR)
        return DirFile(self, task, flags)


class DirFile(File):
    """An open directory of a file system pykern keeps (libfs, tmpfs): a snapshot of
    its entries, taken at the first read and again after a rewind, read by getdents64."""

    kind = "dir"

    def __init__(self, inode: Inode, task: Task, flags: int) -> None:
        super().__init__(file_status_flags(flags), inode.name_in_fs().decode(errors="replace"))
        self.inode = inode
        self.task = task
        self._entries: list[tuple[int, int, int, bytes]] | None = None
        self._pos = 0

    def stat(self) -> Stat:
        return self.inode.stat()

    def getdents64(self, size: int) -> bytes:
        if self._entries is None or self._pos == 0:
            raw = self.inode.readdir(self.task)
            self._entries = [(ino, index + 1, dtype, name) for index, (ino, dtype, name) in enumerate(raw)]
        data, self._pos = pack_dirents64(self._entries, self._pos, size)
        return data

    def lseek(self, offset: int, whence: int) -> int:
        if whence != SEEK_SET or offset < 0:
            raise SysError(EINVAL)
        self._pos = offset
        return offset

    seekable = True

    def read(self, task: Task, size: int) -> bytes:
        raise SysError(EISDIR)


# --- generated files -------------------------------------------------------------------------------


class GenInode(SimpleInode):
    """A regular file whose contents `content(task)` computes at open (seq_file: one
    snapshot per open file, so a reader sees one consistent state). Writable when the
    mode says so and `write(task, data)` is overridden."""

    def __init__(self, fs: SimpleFS, parent: SimpleInode | None, name: bytes,
                 content: Callable[[Task], bytes] | None = None, mode: int | None = None,
                 write: Callable[[Task, bytes], int] | None = None, uid: int = 0, gid: int = 0) -> None:  # fmt: skip
        super().__init__(fs, parent, name, mode, uid, gid)
        self._content = content
        self._write = write

    def content(self, task: Task) -> bytes:
        return self._content(task) if self._content is not None else b""

    def write(self, task: Task, data: bytes) -> int:
        if self._write is None:
            raise SysError(EINVAL)
        return self._write(task, data)

    def open_file(self, task: Task, flags: int) -> File:
        accmode = flags & O_ACCMODE
        if accmode != O_RDONLY and not self._mode & 0o222:
            raise SysError(EACCES)
        if accmode != O_RDONLY and self._write is None and type(self).write is GenInode.write:
            raise SysError(EACCES)
        return SeqFile(self, task, flags & ~O_TRUNC)

    def truncate(self, task: Task, length: int) -> None:
        if not self._mode & 0o222:
            raise SysError(EACCES)


class SeqFile(File):
    """An open generated file: contents computed once at open; reads and seeks walk
    them; each write goes to the inode's write() whole (as proc's write handlers)."""

    kind = "seq"
    seekable = True

    def __init__(self, inode: GenInode, task: Task, flags: int) -> None:
        super().__init__(flags, inode.name_in_fs().decode(errors="replace"))
        self.inode = inode
        self.task = task  # the opener: writes act on its behalf (pwrite has no task)
        self.data = inode.content(task) if flags & O_ACCMODE != 1 else b""
        self.pos = 0

    def stat(self) -> Stat:
        return self.inode.stat()

    def read(self, task: Task, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def pread(self, size: int, offset: int) -> bytes:
        return self.data[offset : offset + size]

    def write(self, task: Task, data: bytes) -> int:
        return self.inode.write(task, data)

    def pwrite(self, data: bytes, offset: int) -> int:
        return self.inode.write(self.task, data)

    def lseek(self, offset: int, whence: int) -> int:
        if whence == SEEK_SET:
            new = offset
        elif whence == SEEK_CUR:
            new = self.pos + offset
        elif whence == SEEK_END:
            new = len(self.data) + offset
        else:
            raise SysError(EINVAL)
        if new < 0:
            raise SysError(EINVAL)
        self.pos = new
        return new

    def truncate(self, length: int) -> None:
        """O_TRUNC and ftruncate on a proc file do nothing (proc has no setattr size)."""


# --- symbolic links ----------------------------------------------------------------------------------


class LinkInode(SimpleInode):
    """A symbolic link: `target(task)` is what readlink says; `follow(task)`, when
    given, makes it a magic link that leads to a kernel object instead of a path."""

    file_mode = S_IFLNK | 0o777

    def __init__(self, fs: SimpleFS, parent: SimpleInode | None, name: bytes,
                 target: Callable[[Task], bytes],
                 follow: Callable[[Task], LinkTarget | None] | None = None, uid: int = 0, gid: int = 0,
                 mode: int | None = None) -> None:  # fmt: skip
        """`mode`: the permission bits when not 0777 (proc's fd/N links show the open
        file's access mode); `follow` may return None: then the text is followed."""
        super().__init__(fs, parent, name, None if mode is None else S_IFLNK | (mode & 0o7777), uid, gid)
        self._target = target
        self._follow = follow

    def readlink(self, task: Task) -> bytes:
        return self._target(task)

    def get_link(self, task: Task) -> LinkTarget | None:
        return self._follow(task) if self._follow is not None else None

    def size(self) -> int:
        return 0

