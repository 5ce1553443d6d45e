"""The host's tree as a guest file system (gVisor's gofer, Linux's bind mount of a
host directory): `HostFS(host_root)` shows the host directory `host_root` as its root.

Every inode holds an O_PATH host fd, opened from its parent's fd with O_NOFOLLOW on a
single component, so the host never follows a symlink or `..` for the guest: the walk
(namei.py) does, inside the guest's root. A `--root DIR` jail therefore cannot be left
by a symlink, by `..`, or by a race on a string path. Operations on an entry act through
the parent's fd and the entry's name (…at() calls), or through the inode's own fd.

Host errors become guest errnos through fs/hostio.py's host_errors(), the one host seam.
"""

from __future__ import annotations

import ctypes
import errno as host_errno
import os
import stat as host_stat
from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    DT_DIR,
    EACCES,
    EINVAL,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENXIO,
    EOPNOTSUPP,
    EPERM,
    EROFS,
    F_OK,
    O_CREAT,
    O_EXCL,
    O_NOATIME,
    O_PATH,
    O_TMPFILE,
    O_TRUNC,
    R_OK,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    SEEK_SET,
    W_OK,
    X_OK,
)
from pykern.errors import SysError
from pykern.fs.file import File, HostFile
from pykern.fs.hostio import file_status_flags, guest_errno, host_errors, host_open_flags, host_umask, libc
from pykern.fs.inode import FileSystem, Inode
from pykern.fs.namei import WALKS, path_below
from pykern.fs.stat import Stat, pack_dirents64

if TYPE_CHECKING:
    from pykern.fs.mount import MountTable
    from pykern.task import Task

_OPATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_HOST_RENAME_FLAGS = {RENAME_NOREPLACE: 1, RENAME_EXCHANGE: 2, RENAME_WHITEOUT: 4}
_ACCESS_TO_HOST = ((R_OK, os.R_OK), (W_OK, os.W_OK), (X_OK, os.X_OK))


MAY_EXEC, MAY_WRITE, MAY_READ = 0o1, 0o2, 0o4


def generic_permission(task: Task | None, status: os.stat_result, mask: int, real: bool = False) -> None:
    """EACCES unless the guest's credentials allow `mask` (MAY_*) on a file with these
    mode bits and owner (Linux's generic_permission; `real`: access(2)'s real ids). The
    host cannot check for the guest: pykern may run as root while the guest does not.
    Root may do anything but execute a file without any x bit (CAP_DAC_OVERRIDE)."""
    if task is None:
        return  # the kernel's own walk (placing mounts)
    creds = task.group.creds
    uid = creds.uid if real else creds.euid
    mode = status.st_mode
    if uid == 0:
        if mask & MAY_EXEC and not host_stat.S_ISDIR(mode) and not mode & 0o111:
            raise SysError(EACCES)
        return
    gid = creds.gid if real else creds.egid
    if uid == status.st_uid:
        allowed = mode >> 6
    elif gid == status.st_gid or status.st_gid in creds.groups:
        allowed = mode >> 3
    else:
        allowed = mode
    if mask & ~allowed & 0o7:
        raise SysError(EACCES)


def _is_root(task: Task | None) -> bool:
    return task is None or task.group.creds.euid == 0


def _give_to_guest(task: Task, directory_fd: int, name: bytes) -> None:
    """A file the guest just made belongs to its effective ids (the directory's group
    when it is setgid), not to pykern's: only a root pykern can and needs to say so."""
    if os.geteuid() != 0:
        return
    creds = task.group.creds
    if creds.euid == 0 and creds.egid == 0:
        return
    with host_errors():
        setgid_dir = os.fstat(directory_fd).st_mode & host_stat.S_ISGID
        os.chown(name, creds.euid, -1 if setgid_dir else creds.egid, dir_fd=directory_fd, follow_symlinks=False)


def _magic(fd: int) -> str:
    """pykern's own /proc/self/fd/N: the host path that names host fd N's file."""
    return f"/proc/self/fd/{fd}"


class HostDirFile(HostFile):
    """An open host directory whose listing also shows the mount points attached on
    names the host directory lacks (`--root DIR` without proc/ or dev/, a --mount on a
    new name): on Linux a mount point is always an existing directory, so `ls /` shows
    /proc. They come after the host's entries, once its end is reached."""

    kind = "dir"
    _COOKIE_BASE = 0x7FFFFFFF00000000  # d_off of the extra entries (past ext4's hashes)

    def __init__(self, fd: int, flags: int, mounts: MountTable) -> None:
        super().__init__(fd, file_status_flags(flags))
        self._mounts = mounts
        self._extra_pos = 0

    def _extra_entries(self) -> list[tuple[int, int, int, bytes]]:
        if self.location is None:
            return []
        names = []
        for name in self._mounts.mounted_names(self.location):
            try:
                os.stat(name, dir_fd=self.host_fd, follow_symlinks=False)
            except OSError:
                mount = self._mounts.mounted_on(self.location, name)
                if mount is not None:
                    names.append((mount.root.stat().ino, name))
        return [(ino, self._COOKIE_BASE + index + 1, DT_DIR, name) for index, (ino, name) in enumerate(names)]

    def getdents64(self, size: int) -> bytes:
        data = super().getdents64(size)
        if data or self.flags & O_PATH:
            return data
        data, self._extra_pos = pack_dirents64(self._extra_entries(), self._extra_pos, size)
        return data

    def lseek(self, offset: int, whence: int) -> int:
        result = super().lseek(offset, whence)
        if whence == SEEK_SET:  # rewinddir, or seekdir to one of the host's cookies
            self._extra_pos = max(0, offset - self._COOKIE_BASE) if offset > self._COOKIE_BASE else 0
        return result


class HostFS(FileSystem):
    """The host directory `host_root` (a canonical absolute path) as a file system."""

    fstype = "hostfs"

    def __init__(self, host_root: str) -> None:
        self.host_root = os.path.realpath(host_root)
        # The whole host tree (no --root) is the guest's, as under qemu-user: its device
        # nodes open. A jail (--root DIR, a --mount) is nodev: a device node in it would be
        # a door to the host's devices.
        self.nodev = self.host_root != "/"
        with host_errors():
            fd = os.open(self.host_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._root = HostInode(self, fd, None, b"")
        self.source = self.host_root

    def root(self) -> Inode:
        return self._root


class HostInode(Inode):
    """A host file, held by an O_PATH fd (closed when the inode is dropped)."""

    fs: HostFS

    def __init__(self, fs: HostFS, fd: int, parent: HostInode | None, name: bytes,
                 kind: int | None = None) -> None:  # fmt: skip
        self.fs = fs
        self.fd = fd
        self.name = name
        self._key: tuple[int, int] | None = None
        self._mode = 0
        self._fresh: os.stat_result | None = None  # the lookup's own fstat, for its caller
        self._fresh_walk = -1  # ... in the walk that made it (namei.WALKS)
        # The directory and name act on this entry without following it (open by name,
        # link, a symlink's own attributes); None for the root, for inodes reached by ".."
        # and for directories, which act through their own fd: so a walk does not hold
        # one host fd per component of a deep path (EMFILE under a low RLIMIT_NOFILE).
        self.parent_inode: HostInode | None = None
        if kind is not None:  # known from how it was opened (O_DIRECTORY): fstat when needed
            self._kind = kind
            return
        try:
            status = os.fstat(fd)
        except OSError as error:
            os.close(fd)
            raise SysError(guest_errno(error.errno or 0)) from None
        self._remember(status)
        self._fresh, self._fresh_walk = status, WALKS[0]
        if not host_stat.S_ISDIR(status.st_mode):
            self.parent_inode = parent

    def _remember(self, status: os.stat_result) -> None:
        self._key = (status.st_dev, status.st_ino)
        self._mode = status.st_mode
        self._kind = status.st_mode & S_IFMT

    def __del__(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    # --- identity and attributes -------------------------------------------------------------

    def key(self) -> Hashable:
        if self._key is None:
            self._fstat()
        return self._key

    @property
    def mode(self) -> int:
        if not self._mode:
            self._fstat()
        return self._mode

    @property
    def is_dir(self) -> bool:
        return self._kind == S_IFDIR

    @property
    def is_symlink(self) -> bool:
        return self._kind == S_IFLNK

    def _fstat(self) -> os.stat_result:
        try:
            status = os.fstat(self.fd)
        except OSError as error:
            raise SysError(guest_errno(error.errno or 0)) from None
        self._remember(status)
        return status

    def stat(self) -> Stat:
        return Stat.from_host(self._fstat())

    def stat_after_lookup(self) -> Stat:
        status, self._fresh = self._fresh, None
        if self._fresh_walk != WALKS[0]:
            status = None
        return Stat.from_host(status) if status is not None else self.stat()

    def host_path(self) -> str:
        """A host path naming this very file (for the host calls that take only paths)."""
        return _magic(self.fd)

    def _entry(self) -> tuple[int, str]:
        """(parent fd, name) to act on this entry without following it, when known."""
        if self.parent_inode is None:
            raise SysError(EINVAL)
        return self.parent_inode.fd, os.fsdecode(self.name)

    # --- permissions (only a non-root guest pays the fstat) -------------------------------------------

    def may(self, task: Task | None, mask: int) -> None:
        if not _is_root(task) or mask & MAY_EXEC:
            generic_permission(task, self._host_stat(), mask)

    def _host_stat(self) -> os.stat_result:
        with host_errors():
            return os.fstat(self.fd)

    def _may_delete(self, task: Task, name: bytes) -> None:
        """may_delete: write and search on this directory, and the sticky bit's rule
        (only the owner of the file or of the directory may remove it: EPERM)."""
        if _is_root(task):
            return
        status = self._host_stat()
        generic_permission(task, status, MAY_WRITE | MAY_EXEC)
        if status.st_mode & host_stat.S_ISVTX:
            with host_errors():
                child = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            euid = task.group.creds.euid
            if euid not in (child.st_uid, status.st_uid):
                raise SysError(EPERM)

    # --- directories ---------------------------------------------------------------------------

    def may_lookup(self, task: Task | None) -> None:
        if not self.is_dir:
            raise SysError(ENOTDIR)  # before the permission check, as link_path_walk
        if not _is_root(task):
            generic_permission(task, self._host_stat(), MAY_EXEC)

    def lookup(self, task: Task, name: bytes) -> Inode:
        self.may_lookup(task)
        try:
            fd = os.open(name, _OPATH, dir_fd=self.fd)
        except OSError as error:
            raise SysError(guest_errno(error.errno or 0)) from None
        return HostInode(self.fs, fd, self, name)

    def lookup_dir(self, task: Task, name: bytes) -> Inode:
        """A component in the middle of a path: usually a directory, opened as one in a
        single host call; anything else (a symlink) takes the general lookup."""
        self.may_lookup(task)
        try:
            fd = os.open(name, _OPATH | os.O_DIRECTORY, dir_fd=self.fd)
        except OSError as error:
            if error.errno in (host_errno.ENOTDIR, host_errno.ELOOP):
                return self.lookup(task, name)
            raise SysError(guest_errno(error.errno or 0)) from None
        return HostInode(self.fs, fd, self, name, kind=S_IFDIR)

    def parent(self) -> Inode:
        if self is self.fs._root:
            return self
        with host_errors():
            fd = os.open("..", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        parent = HostInode(self.fs, fd, None, b"")
        if parent.key() == self.fs._root.key():
            return self.fs._root
        return parent

    # --- links ---------------------------------------------------------------------------------

    def readlink(self, task: Task) -> bytes:
        if not self.is_symlink:
            raise SysError(EINVAL)
        with host_errors():
            return os.readlink(b"", dir_fd=self.fd)

    # --- open ------------------------------------------------------------------------------------

    def open(self, task: Task, flags: int) -> File:
        kind = S_IFMT & self._mode
        if self.is_symlink:
            if not flags & O_PATH:
                raise SysError(ELOOP)  # O_NOFOLLOW on a symlink
        elif kind == S_IFIFO and not flags & O_PATH:
            from pykern.fs.fifo import fifo_open

            return fifo_open(task, self._key, flags, self.stat)
        elif kind == S_IFSOCK and not flags & O_PATH:
            raise SysError(ENXIO)
        elif kind in (S_IFCHR, S_IFBLK) and not flags & O_PATH and self.fs.nodev:
            raise SysError(EACCES)  # a nodev mount: the host's devices are not the guest's
        if not flags & O_PATH and not _is_root(task):
            accmode = flags & 3
            mask = (MAY_READ if accmode in (0, 2) else 0) | (MAY_WRITE if accmode in (1, 2) or flags & O_TRUNC else 0)
            status = self._host_stat()
            generic_permission(task, status, mask)  # may_open
            if flags & O_NOATIME and task.group.creds.euid != status.st_uid:
                raise SysError(EPERM)  # O_NOATIME: the owner's (or CAP_FOWNER's) only
        host_flags = host_open_flags(flags & ~(O_CREAT | O_EXCL | O_TMPFILE)) | os.O_CLOEXEC
        with host_errors():
            if self.parent_inode is not None:
                fd = os.open(self.name, host_flags | os.O_NOFOLLOW, dir_fd=self.parent_inode.fd)
            elif self.is_dir:
                fd = os.open(".", host_flags, dir_fd=self.fd)
            else:  # reached through a magic link: reopen it
                fd = os.open(_magic(self.fd), host_flags & ~os.O_NOFOLLOW)
        if self.is_dir and not flags & O_PATH and len(task.kernel.mounts.mounts) > 1:
            try:
                return HostDirFile(fd, flags, task.kernel.mounts)
            except BaseException:
                os.close(fd)
                raise
        return HostFile.wrap(fd, flags)

    def open_tmpfile(self, task: Task, flags: int, mode: int) -> File:
        """open(O_TMPFILE) in this directory."""
        self.may(task, MAY_WRITE | MAY_EXEC)
        with host_errors(), host_umask(task.group.fs.umask):
            fd = os.open(".", host_open_flags(flags) | os.O_CLOEXEC, mode & 0o7777, dir_fd=self.fd)
        return HostFile.wrap(fd, flags)

    # --- namespace operations ----------------------------------------------------------------------

    def create(self, task: Task, name: bytes, flags: int, mode: int) -> File:
        self.may(task, MAY_WRITE | MAY_EXEC)  # may_create
        # O_EXCL: the walk found no such name, so this open makes the file it gives away
        host_flags = host_open_flags(flags) | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with host_errors(), host_umask(task.group.fs.umask):
            fd = os.open(name, host_flags, mode & 0o7777, dir_fd=self.fd)
        try:
            _give_to_guest(task, self.fd, name)
        except BaseException:
            os.close(fd)
            raise
        return HostFile.wrap(fd, flags)

    def mkdir(self, task: Task, name: bytes, mode: int) -> None:
        self.may(task, MAY_WRITE | MAY_EXEC)
        with host_errors(), host_umask(task.group.fs.umask):
            os.mkdir(name, mode & 0o7777, dir_fd=self.fd)
        _give_to_guest(task, self.fd, name)

    def mknod(self, task: Task, name: bytes, mode: int, dev: int) -> None:
        kind = mode & S_IFMT
        host_kind = {0: host_stat.S_IFREG, S_IFREG: host_stat.S_IFREG, S_IFIFO: host_stat.S_IFIFO,
                     S_IFSOCK: host_stat.S_IFSOCK, S_IFCHR: host_stat.S_IFCHR,
                     S_IFBLK: host_stat.S_IFBLK}.get(kind)  # (devices: the caller checked CAP_MKNOD)
        if host_kind is None:
            raise SysError(EINVAL)
        self.may(task, MAY_WRITE | MAY_EXEC)
        with host_errors(), host_umask(task.group.fs.umask):
            device = dev if host_kind in (host_stat.S_IFCHR, host_stat.S_IFBLK) else 0
            os.mknod(name, host_kind | (mode & 0o7777), device, dir_fd=self.fd)
        _give_to_guest(task, self.fd, name)

    def symlink(self, task: Task, name: bytes, target: bytes) -> None:
        self.may(task, MAY_WRITE | MAY_EXEC)
        with host_errors():
            os.symlink(target, name, dir_fd=self.fd)
        _give_to_guest(task, self.fd, name)

    def link(self, task: Task, name: bytes, inode: Inode) -> None:
        if not isinstance(inode, HostInode):  # another host tree: the host says EXDEV or not
            super().link(task, name, inode)
            return
        self.may(task, MAY_WRITE | MAY_EXEC)
        with host_errors():
            if inode.parent_inode is not None:
                old_dir, old_name = inode._entry()
                os.link(old_name, name, src_dir_fd=old_dir, dst_dir_fd=self.fd, follow_symlinks=False)
            else:  # a file known only by its fd (AT_EMPTY_PATH): link the magic link's target
                os.link(_magic(inode.fd), name, dst_dir_fd=self.fd, follow_symlinks=True)

    def unlink(self, task: Task, name: bytes) -> None:
        self._may_delete(task, name)
        with host_errors():
            os.unlink(name, dir_fd=self.fd)

    def rmdir(self, task: Task, name: bytes) -> None:
        self._may_delete(task, name)
        with host_errors():
            os.rmdir(name, dir_fd=self.fd)

    def rename(self, task: Task, name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        if not isinstance(new_dir, HostInode) or new_dir.fs is not self.fs:
            super().rename(task, name, new_dir, new_name, flags)
            return
        self._may_delete(task, name)
        try:
            new_dir._may_delete(task, new_name)
        except SysError as error:
            if error.errno != ENOENT:
                raise
            new_dir.may(task, MAY_WRITE | MAY_EXEC)  # no target: may_create
        if not flags:
            with host_errors():
                os.rename(name, new_name, src_dir_fd=self.fd, dst_dir_fd=new_dir.fd)
            return
        host_flags = 0
        for guest_bit, host_bit in _HOST_RENAME_FLAGS.items():
            if flags & guest_bit:
                host_flags |= host_bit
        renameat2 = getattr(libc, "renameat2", None)
        if renameat2 is None:
            raise SysError(EINVAL, "host libc has no renameat2")
        if renameat2(self.fd, name, new_dir.fd, new_name, ctypes.c_uint(host_flags)) < 0:
            raise SysError(guest_errno(ctypes.get_errno()))

    # --- attributes ----------------------------------------------------------------------------------

    def _target(self, follow: bool) -> tuple[str | int, dict]:
        """How to name this file to a path-taking host call: its magic link (which the
        host resolves to the very inode), or for a symlink itself its parent fd + name."""
        if self.is_symlink and not follow and self.parent_inode is not None:
            parent_fd, name = self._entry()
            return name, {"dir_fd": parent_fd, "follow_symlinks": False}
        return _magic(self.fd), {}

    def chmod(self, task: Task, mode: int, follow: bool) -> None:
        if self.is_symlink and not follow:
            raise SysError(EOPNOTSUPP)  # fchmodat(AT_SYMLINK_NOFOLLOW) of a link
        if not _is_root(task) and task.group.creds.euid != self._host_stat().st_uid:
            raise SysError(EPERM)  # only the owner (inode_owner_or_capable)
        with host_errors():
            os.chmod(_magic(self.fd), mode & 0o7777)

    def chown(self, task: Task, uid: int, gid: int, follow: bool) -> None:
        target, kwargs = self._target(follow)
        with host_errors():
            os.chown(target, uid if uid != 0xFFFFFFFF else -1, gid if gid != 0xFFFFFFFF else -1, **kwargs)

    def utimes(self, task: Task, atime_ns: int | None, mtime_ns: int | None, follow: bool) -> None:
        target, kwargs = self._target(follow)
        if not _is_root(task) and task.group.creds.euid != self._host_stat().st_uid:
            if atime_ns != -1 or mtime_ns != -1:
                raise SysError(EPERM)  # explicit times: the owner only
            generic_permission(task, self._host_stat(), MAY_WRITE)  # "now": write access will do
        with host_errors():
            if atime_ns == -1 and mtime_ns == -1:
                os.utime(target, None, **kwargs)
                return
            if atime_ns is None or mtime_ns is None:
                st = os.fstat(self.fd)
                atime_ns = st.st_atime_ns if atime_ns is None else atime_ns
                mtime_ns = st.st_mtime_ns if mtime_ns is None else mtime_ns
            os.utime(target, ns=(atime_ns, mtime_ns), **kwargs)

    def truncate(self, task: Task, length: int) -> None:
        if not _is_root(task):
            generic_permission(task, self._host_stat(), MAY_WRITE)
        with host_errors():
            os.truncate(_magic(self.fd), length)

    def access(self, task: Task, mode: int, effective: bool, follow: bool) -> None:
        if mode == F_OK:
            return
        host_mode = 0
        for guest_bit, host_bit in _ACCESS_TO_HOST:
            if mode & guest_bit:
                host_mode |= host_bit
        target, kwargs = self._target(follow)
        status = os.fstat(self.fd) if follow or not self.is_symlink else os.stat(target, **kwargs)
        generic_permission(task, status, mode & 0o7, real=not effective)  # the guest's ids
        effective = effective and os.access in os.supports_effective_ids
        with host_errors():
            if os.access(target, host_mode, effective_ids=effective, **kwargs):
                return
            if mode & W_OK and os.fstatvfs(self.fd).f_flag & os.ST_RDONLY:
                raise SysError(EROFS)
        raise SysError(EACCES)

    def _xattr_path(self, follow: bool) -> tuple[str, bool]:
        if self.is_symlink and not follow and self.parent_inode is not None:
            return f"{_magic(self.parent_inode.fd)}/{os.fsdecode(self.name)}", False
        return _magic(self.fd), True

    def getxattr(self, task: Task, name: bytes, follow: bool) -> bytes:
        path, follow_host = self._xattr_path(follow)
        with host_errors():
            return os.getxattr(path, name, follow_symlinks=follow_host)

    def listxattr(self, task: Task, follow: bool) -> list[bytes]:
        path, follow_host = self._xattr_path(follow)
        with host_errors():
            return [os.fsencode(n) for n in os.listxattr(path, follow_symlinks=follow_host)]

    def setxattr(self, task: Task, name: bytes, value: bytes, flags: int, follow: bool) -> None:
        path, follow_host = self._xattr_path(follow)
        with host_errors():
            os.setxattr(path, name, value, flags, follow_symlinks=follow_host)

    def removexattr(self, task: Task, name: bytes, follow: bool) -> None:
        path, follow_host = self._xattr_path(follow)
        with host_errors():
            os.removexattr(path, name, follow_symlinks=follow_host)

    # --- where it is -----------------------------------------------------------------------------------

    def name_in_fs(self) -> bytes:
        with host_errors():
            host = os.readlink(_magic(self.fd).encode())
        return path_below(host, os.fsencode(self.fs.host_root))  # (moved out by someone else: as it is)

    def __repr__(self) -> str:
        return f"<HostInode fd={self.fd} {self.name!r}>"
