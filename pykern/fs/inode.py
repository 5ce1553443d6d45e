"""`Inode`: one file as its file system sees it.

Linux splits this between struct inode (the object) and struct dentry (a name for it in
a directory); pykern keeps one object per lookup and lets each file system say what
makes two of them the same file (`key()`). The path walk (namei.py) only ever calls
these methods; a file system implements the ones it supports and inherits, for the
rest, the error Linux gives for a file system without that operation.

Directory operations take the *name* of an entry in this directory (a single path
component, never "." or ".."): the walk has already resolved everything before it.
"""

from __future__ import annotations

import stat as host_stat
from collections.abc import Hashable
from typing import TYPE_CHECKING, Union

from pykern.abi import (
    EACCES,
    EINVAL,
    ENODATA,
    ENOTDIR,
    EOPNOTSUPP,
    EPERM,
    EXDEV,
    S_IFDIR,
    S_IFLNK,
)
from pykern.errors import SysError

if TYPE_CHECKING:
    from pykern.fs.file import File
    from pykern.fs.mount import Location
    from pykern.fs.stat import Stat
    from pykern.task import Task

# What a magic link (/proc/PID/fd/N, exe, cwd, root) leads to: a place in the guest's
# tree, or an open file that has no name there (a pipe, a socket, an eventfd).
LinkTarget = Union["Location", "File"]


class FileSystem:
    """One mounted file system: its type name (as /proc/mounts shows it), its root
    inode, and the statfs(2) answer."""

    fstype = "none"
    source = "none"  # the "device" column of /proc/mounts

    def root(self) -> Inode:
        raise NotImplementedError

    def statfs(self, inode: Inode) -> bytes | None:
        """struct statfs for a file in this file system (None: the caller asks the host)."""
        return None


class Inode:
    """A file in a FileSystem. Subclasses override what they support."""

    fs: FileSystem
    # A directory where a missing name may be created (Linux's negative dentry): the
    # create calls then get the file system's own answer (EPERM without the operation).
    # False for a tree whose lookup of an unknown name is itself an error (procfs's
    # proc_root_lookup): open(O_CREAT), mkdir, rename onto a new name there are ENOENT.
    creatable_names = True

    # --- identity and attributes ------------------------------------------------------------

    def key(self) -> Hashable:
        """Two inodes with the same key are the same file (mount points, `..` at a root)."""
        return id(self)

    def stat(self) -> Stat:
        raise NotImplementedError(f"{type(self).__name__}.stat")

    def stat_after_lookup(self) -> Stat:
        """stat() right after the walk found this inode: a file system that learned the
        attributes during the lookup may answer from them (one host call less)."""
        return self.stat()

    @property
    def mode(self) -> int:
        return self.stat().mode

    @property
    def is_dir(self) -> bool:
        return host_stat.S_IFMT(self.mode) == S_IFDIR

    @property
    def is_symlink(self) -> bool:
        return host_stat.S_IFMT(self.mode) == S_IFLNK

    # --- directories ------------------------------------------------------------------------

    def lookup(self, task: Task, name: bytes) -> Inode:
        """The entry `name` of this directory (ENOENT when there is none)."""
        raise SysError(ENOTDIR)

    def lookup_dir(self, task: Task, name: bytes) -> Inode:
        """lookup() of a component with more path after it (most likely a directory)."""
        return self.lookup(task, name)

    def parent(self) -> Inode:
        """`..` inside this file system; the file system's root answers itself."""
        raise SysError(ENOTDIR)

    def may_lookup(self, task: Task | None) -> None:
        """Search permission on this directory for the walk's "." and ".." (lookup()
        checks it for names): EACCES. pykern's own trees let everyone search."""

    def readdir(self, task: Task) -> list[tuple[int, int, bytes]]:
        """The entries as (inode number, d_type, name), "." and ".." first."""
        raise SysError(ENOTDIR)

    # --- symbolic links ---------------------------------------------------------------------

    def readlink(self, task: Task) -> bytes:
        raise SysError(EINVAL)

    def get_link(self, task: Task) -> LinkTarget | None:
        """A magic link's object (procfs); None: follow readlink()'s text."""
        return None

    # --- open --------------------------------------------------------------------------------

    def open(self, task: Task, flags: int) -> File:
        """open(2) of this existing file with the guest's flags (O_CREAT already handled)."""
        raise SysError(EACCES)

    # --- namespace operations (on the parent directory) ---------------------------------------

    def create(self, task: Task, name: bytes, flags: int, mode: int) -> File:
        """open(O_CREAT) of a missing `name`: make a regular file and open it."""
        raise SysError(self._namespace_error())

    def mkdir(self, task: Task, name: bytes, mode: int) -> None:
        raise SysError(self._namespace_error())

    def mknod(self, task: Task, name: bytes, mode: int, dev: int) -> None:
        raise SysError(self._namespace_error())

    def symlink(self, task: Task, name: bytes, target: bytes) -> None:
        raise SysError(self._namespace_error())

    def link(self, task: Task, name: bytes, inode: Inode) -> None:
        if inode.fs is not self.fs:
            raise SysError(EXDEV)
        raise SysError(self._namespace_error())

    def unlink(self, task: Task, name: bytes) -> None:
        raise SysError(self._namespace_error())

    def rmdir(self, task: Task, name: bytes) -> None:
        raise SysError(self._namespace_error())

    def rename(self, task: Task, name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        if new_dir.fs is not self.fs:
            raise SysError(EXDEV)
        raise SysError(self._namespace_error())

    def _namespace_error(self) -> int:
        return EPERM if self.is_dir else ENOTDIR

    # --- attributes --------------------------------------------------------------------------

    def chmod(self, task: Task, mode: int, follow: bool) -> None:
        raise SysError(EPERM)

    def chown(self, task: Task, uid: int, gid: int, follow: bool) -> None:
        raise SysError(EPERM)

    def utimes(self, task: Task, atime_ns: int | None, mtime_ns: int | None, follow: bool) -> None:
        """None is UTIME_OMIT; atime_ns == mtime_ns == -1 asks for "now" (the write-
        permission rule, not ownership)."""
        raise SysError(EPERM)

    def truncate(self, task: Task, length: int) -> None:
        raise SysError(EINVAL if not self.is_dir else EPERM)

    def access(self, task: Task, mode: int, effective: bool, follow: bool) -> None:
        """faccessat2(2): return, or raise EACCES / EROFS."""
        if mode & 0o2:  # W_OK: pykern's own file systems are read-only unless they say so
            perm = self.mode & 0o222
            if not perm:
                raise SysError(EACCES)

    def getxattr(self, task: Task, name: bytes, follow: bool) -> bytes:
        raise SysError(ENODATA if name.startswith((b"user.", b"trusted.", b"security.")) else EOPNOTSUPP)

    def listxattr(self, task: Task, follow: bool) -> list[bytes]:
        return []

    def setxattr(self, task: Task, name: bytes, value: bytes, flags: int, follow: bool) -> None:
        raise SysError(EOPNOTSUPP)

    def removexattr(self, task: Task, name: bytes, follow: bool) -> None:
        raise SysError(EOPNOTSUPP)

    # --- where it is -------------------------------------------------------------------------

    def name_in_fs(self) -> bytes:
        """This file's path from its file system's root ("/" for the root), for d_path."""
        raise NotImplementedError(f"{type(self).__name__}.name_in_fs")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.fs.fstype}:{self.name_in_fs()!r}>"
