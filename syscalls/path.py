"""The calls that take a path (Linux's fs/open.c, fs/namei.c, fs/stat.c, fs/utimes.c):
open and openat2, stat and readlink, the working directory and root, mkdir/mknod/unlink/rmdir/
rename/link/symlink, access, chmod, truncate, utimensat.

Every path goes through pykern.fs.namei's walk, which returns the file and, for the
calls that make or remove a name, its directory and entry name; the work is then one
call on the file system's inode. Arguments are checked in the order Linux checks them,
so the same bad call fails with the same errno.
"""

from __future__ import annotations

import os
import stat as host_stat
from typing import TYPE_CHECKING

from pykern.abi import (
    __O_TMPFILE,
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_NO_AUTOMOUNT,
    AT_REMOVEDIR,
    AT_STATX_SYNC_TYPE,
    AT_SYMLINK_FOLLOW,
    AT_SYMLINK_NOFOLLOW,
    CAP_MKNOD,
    E2BIG,
    EAGAIN,
    EBADF,
    EBUSY,
    EEXIST,
    EFBIG,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENOTEMPTY,
    ENXIO,
    EOPNOTSUPP,
    EPERM,
    ERANGE,
    EXDEV,
    IN_ATTRIB,
    IN_CREATE,
    IN_DELETE,
    IN_MODIFY,
    NSEC_PER_SEC,
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_LARGEFILE,
    O_NOFOLLOW,
    O_PATH,
    O_PATH_FLAGS,
    O_RDONLY,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    OPEN_HOW,
    OPEN_HOW_SIZE_VER0,
    PAGE_SIZE,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
    RESOLVE_BENEATH,
    RESOLVE_CACHED,
    RESOLVE_IN_ROOT,
    RLIMIT_FSIZE,
    S_IALLUGO,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFMT,
    S_IFREG,
    S_IFSOCK,
    SIGXFSZ,
    STATX__RESERVED,
    TIMESPEC,
    UTIME_NOW,
    UTIME_OMIT,
    VALID_OPEN_FLAGS,
    VALID_RESOLVE_FLAGS,
)
from pykern.errors import SysError
from pykern.fs.fifo import open_pipe_end
from pykern.fs.file import File, HostFile
from pykern.fs.hostfs import HostInode
from pykern.fs.hostio import host_errors
from pykern.fs.inode import Inode
from pykern.fs.inotify import (
    fsnotify_change,
    fsnotify_inode,
    fsnotify_move,
    fsnotify_name,
    fsnotify_open,
    fsnotify_removed,
)
from pykern.fs.libfs import PathFile
from pykern.fs.mount import Location
from pykern.fs.namei import LAST_DOT, LAST_DOTDOT, LAST_NORM, Found, d_path, parent_walk, path_walk, reachable
from pykern.fs.stat import Stat, pack_stat, pack_statx
from pykern.pipe import PipeEnd
from pykern.rlimit import get_rlimit
from pykern.sigtypes import user_info
from pykern.syscalls.table import syscall
from pykern.sysent import (
    ACCESS_MODE,
    ACCESSAT_FLAGS,
    AT_FLAGS_ARG,
    BUF_OUT,
    COUNT,
    CWD_OUT,
    DIRFD,
    FD,
    MODE,
    OFF_LENGTH,
    OPEN_FLAGS,
    PATH,
    PTR,
    SIZE,
    STAT_OUT,
    STATX_FLAGS,
    STATX_MASK,
    STATX_OUT,
    TIMESPEC_IN,
    UINT,
)

if TYPE_CHECKING:
    from pykern.task import Task

Addr = int

STAT_AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE
ACCESS_AT_FLAGS = AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH


# --- walking a guest path argument ------------------------------------------------------------------


def walk_at(task: Task, dirfd: int, path_addr: Addr, follow: bool = True, allow_missing: bool = False) -> Found:
    """The file a path argument names, resolved as the *at() calls do."""
    return path_walk(task, dirfd, task.mm.copy_in_str(path_addr), follow, allow_missing)


def walk_at_flags(task: Task, dirfd: int, path_addr: Addr, flags: int, follow: bool) -> Found:
    """As walk_at, and with AT_EMPTY_PATH an empty path names the file dirfd refers to."""
    path = task.mm.copy_in_str(path_addr) if path_addr or not flags & AT_EMPTY_PATH else b""
    if not path and flags & AT_EMPTY_PATH:
        return fd_found(task, dirfd)
    return path_walk(task, dirfd, path, follow)


def fd_found(task: Task, dirfd: int) -> Found:
    """The Found for a descriptor itself (AT_EMPTY_PATH, a NULL path to utimensat)."""
    if dirfd == AT_FDCWD:
        return Found(task.group.fs.cwd, None, b".")
    file = task.group.files.get(dirfd)
    return Found(file.location, None, b"", file=file)


def found_stat(found: Found) -> Stat:
    if found.file is not None:
        return found.file.stat()
    return found.existing().inode.stat_after_lookup()


def found_inode(task: Task, found: Found) -> Inode:
    """The inode a found path names; a descriptor with no name (a pipe) has none to
    change: EBADF for an O_PATH one, else EOPNOTSUPP."""
    if found.location is not None:
        return found.location.inode
    if found.file is not None:
        file = found.file
        if isinstance(file, HostFile):  # no name in the guest's tree (memfd, O_TMPFILE)
            with host_errors():
                fd = os.open(f"/proc/self/fd/{file.host_fd}", os.O_PATH | os.O_CLOEXEC)
            return HostInode(task.kernel.mounts.root.fs, fd, None, b"")  # type: ignore[arg-type]
        raise SysError(EOPNOTSUPP)
    raise SysError(ENOENT)


def host_path_of(found: Found, follow: bool) -> tuple[str, bool] | None:
    """A host path naming the found file for the host calls that take a path (statfs,
    xattrs), and whether the host should follow it; None when it is not a host file."""
    if found.location is None:
        file = found.file
        if isinstance(file, HostFile):
            return f"/proc/self/fd/{file.host_fd}", True
        return None
    inode = found.location.inode
    if not isinstance(inode, HostInode):
        return None
    if inode.is_symlink and not follow and inode.parent_inode is not None:
        return f"/proc/self/fd/{inode.parent_inode.fd}/{os.fsdecode(inode.name)}", False
    return inode.host_path(), True


def check_writable(task: Task, location: Location | None) -> None:
    if location is not None:
        task.kernel.mounts.check_writable(location)


# --- open -------------------------------------------------------------------------------------------


def reopen(task: Task, file: File, flags: int) -> File:
    """open(2) of /proc/PID/fd/N: a new description of the same file (do_open on the
    magic link's inode). A pipe gets a new end by fifo_open's rules; a socket is ENXIO."""
    if flags & O_PATH:
        return PathFile(_FileInode(file), flags)
    if isinstance(file, HostFile):
        from pykern.fs.hostio import host_open_flags

        with host_errors():
            # the walk followed the magic link already: O_NOFOLLOW is not for pykern's own
            fd = os.open(f"/proc/self/fd/{file.host_fd}",
                         host_open_flags(flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | os.O_CLOEXEC)
        opened = HostFile.wrap(fd, flags)
        opened.location = file.location
        return opened
    if isinstance(file, PipeEnd):
        return open_pipe_end(task, file.pipe, flags)
    raise SysError(ENXIO)


class _FileInode:
    """What an O_PATH open of /proc/PID/fd/N names: the open file's object."""

    def __init__(self, file: File) -> None:
        self.file = file

    def stat(self) -> Stat:
        return self.file.stat()

    def name_in_fs(self) -> bytes:
        return self.file.link_target()


def do_open(task: Task, dirfd: int, path_addr: Addr, flags: int, mode: int) -> int:
    """openat(2)'s body (do_filp_open): the fd is reserved first (EMFILE before ENOENT,
    as Linux)."""
    path = task.mm.copy_in_str(path_addr)
    group = task.group
    group.files.lowest_free()
    file = open_path(task, dirfd, path, flags, mode)
    return group.files.install(file, cloexec=bool(flags & O_CLOEXEC))


def open_path(task: Task, dirfd: int, path: bytes, flags: int, mode: int, resolve: int = 0) -> File:
    """do_filp_open; `resolve`: openat2's RESOLVE_* rules for the walk."""
    if flags & (O_DIRECTORY | O_CREAT) == O_DIRECTORY | O_CREAT:
        raise SysError(EINVAL)  # build_open_flags (Linux 6.4 on): it never made a directory
    if flags & O_PATH:
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
    if flags & O_TMPFILE == O_TMPFILE:
        return _open_tmpfile(task, dirfd, path, flags, mode, resolve)
    creating = bool(flags & O_CREAT)
    follow = not flags & O_NOFOLLOW and not (creating and flags & O_EXCL)
    found = path_walk(task, dirfd, path, follow, allow_missing=creating, resolve=resolve)
    writes = flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC
    if found.location is None and found.file is None:  # O_CREAT of a missing name
        if found.trailing_slash:
            raise SysError(EISDIR)
        parent, name = found.entry()
        check_writable(task, parent)
        file = parent.inode.create(task, name, flags, mode)
        file.location = None
        file.created = True  # F_CREATED_QUERY
        file = _located(task, file, parent, name)
        fsnotify_name(parent, IN_CREATE, name)
        fsnotify_open(file)
        return file
    if creating and flags & O_EXCL:
        raise SysError(EEXIST)
    if found.file is not None:
        if flags & O_DIRECTORY and (found.location is None or not found.location.inode.is_dir):
            raise SysError(ENOTDIR)
        # A host file is reopened through its own host fd (it may have been renamed or
        # unlinked since); a file of pykern's own file systems is opened again from its
        # inode, below, as any path to it would be.
        if found.location is None or isinstance(found.location.inode, HostInode) or flags & O_PATH:
            return reopen(task, found.file, flags)
    location = found.existing()
    inode = location.inode
    if inode.is_dir and (creating or flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC) and not flags & O_PATH:
        raise SysError(EISDIR)  # O_TRUNC asks for write access too (build_open_flags)
    if flags & O_DIRECTORY and not inode.is_dir:
        raise SysError(ENOTDIR)  # before O_NOFOLLOW's ELOOP on a symlink (do_open, then may_open)
    if inode.is_symlink and not flags & O_PATH:
        raise SysError(ELOOP)  # O_NOFOLLOW on a symlink, magic links too (may_open)
    if writes and not flags & O_PATH and host_stat.S_ISREG(inode.mode):
        check_writable(task, location)
    file = inode.open(task, flags)
    file.location = location
    fsnotify_open(file)
    if flags & O_TRUNC and not flags & O_PATH and host_stat.S_ISREG(inode.mode):
        fsnotify_change(inode, IN_MODIFY)  # after IN_OPEN, as Linux reports them
    return file


def _located(task: Task, file: File, parent: Location, name: bytes) -> File:
    """A file just created in `parent`: look the new entry up for its place."""
    try:
        file.location = Location(parent.mount, parent.inode.lookup(task, name))
    except SysError:
        pass
    return file


def _open_tmpfile(task: Task, dirfd: int, path: bytes, flags: int, mode: int, resolve: int = 0) -> File:
    """open(O_TMPFILE): an unnamed file in the directory `path` (write access required)."""
    if flags & O_ACCMODE == O_RDONLY:
        raise SysError(EINVAL)
    location = path_walk(task, dirfd, path, resolve=resolve).existing()
    if not location.inode.is_dir:
        raise SysError(ENOTDIR)
    check_writable(task, location)
    open_tmpfile = getattr(location.inode, "open_tmpfile", None)
    if open_tmpfile is None:
        raise SysError(EOPNOTSUPP)
    file = open_tmpfile(task, flags, mode)
    inode = getattr(file, "inode", None)
    if isinstance(inode, Inode):  # an inode of pykern's own (tmpfs): linkat(AT_EMPTY_PATH) names it
        file.location = Location(location.mount, inode)
    return file


@syscall("openat", DIRFD, PATH, OPEN_FLAGS, MODE, classes="desc file")
def sys_openat(task: Task, dirfd: int, pathname_addr: Addr, flags: int, mode: int) -> int:
    """openat(2)."""
    return do_open(task, dirfd, pathname_addr, flags, mode)


@syscall("open", PATH, OPEN_FLAGS, MODE, classes="desc file")
def sys_open(task: Task, pathname_addr: Addr, flags: int, mode: int) -> int:
    """open(2)."""
    return do_open(task, AT_FDCWD, pathname_addr, flags, mode)


def build_open_how(flags: int, mode: int, resolve: int) -> int:
    """openat2's build_open_flags: every argument is checked (unknown flags or resolve
    bits, a mode without O_CREAT/O_TMPFILE, BENEATH with IN_ROOT: EINVAL); RESOLVE_CACHED
    cannot create or truncate (EAGAIN). Returns the flags open_path takes."""
    flags &= ~O_CLOEXEC
    if flags & ~VALID_OPEN_FLAGS or resolve & ~VALID_RESOLVE_FLAGS:
        raise SysError(EINVAL)
    if resolve & RESOLVE_BENEATH and resolve & RESOLVE_IN_ROOT:
        raise SysError(EINVAL)
    if flags & (O_CREAT | __O_TMPFILE) and mode & ~S_IALLUGO:
        raise SysError(EINVAL)
    if not flags & (O_CREAT | __O_TMPFILE) and mode:
        raise SysError(EINVAL)
    if flags & (O_DIRECTORY | O_CREAT) == O_DIRECTORY | O_CREAT:
        raise SysError(EINVAL)
    if flags & __O_TMPFILE and (not flags & O_DIRECTORY or flags & O_ACCMODE == O_RDONLY):
        raise SysError(EINVAL)
    if flags & O_PATH and flags & ~O_PATH_FLAGS:
        raise SysError(EINVAL)
    if resolve & RESOLVE_CACHED and flags & (O_TRUNC | O_CREAT | __O_TMPFILE):
        raise SysError(EAGAIN)
    return flags


@syscall("openat2", DIRFD, PATH, PTR, SIZE, classes="desc file")
def sys_openat2(task: Task, dirfd: int, pathname_addr: Addr, how_addr: Addr, size: int) -> int:
    """openat2(2). RESOLVE_CACHED never gives EAGAIN for a lookup: pykern's walk does not
    sleep on a cache miss, so every lookup counts as cached."""
    if size < OPEN_HOW_SIZE_VER0:
        raise SysError(EINVAL)
    if size > PAGE_SIZE:
        raise SysError(E2BIG)
    raw = task.mm.copy_in(how_addr, size)  # copy_struct_from_user: unknown trailing bytes must be 0
    if any(raw[OPEN_HOW.size :]):
        raise SysError(E2BIG)
    how_flags, mode, resolve = OPEN_HOW.unpack_from(raw)
    cloexec = bool(how_flags & O_CLOEXEC)
    flags = build_open_how(how_flags, mode, resolve)
    if not flags & O_PATH:
        flags |= O_LARGEFILE  # force_o_largefile
    path = task.mm.copy_in_str(pathname_addr)
    group = task.group
    group.files.lowest_free()
    file = open_path(task, dirfd, path, flags, mode, resolve)
    return group.files.install(file, cloexec=cloexec)


@syscall("creat", PATH, MODE, classes="desc file")
def sys_creat(task: Task, pathname_addr: Addr, mode: int) -> int:
    """creat(2): open(pathname, O_CREAT|O_WRONLY|O_TRUNC, mode)."""
    return do_open(task, AT_FDCWD, pathname_addr, O_CREAT | O_WRONLY | O_TRUNC, mode)


# --- stat and readlink ---------------------------------------------------------------------------------


def _stat_at(task: Task, dirfd: int, path_addr: Addr, flags: int) -> Stat:
    """The file newfstatat/statx name: a path, or with AT_EMPTY_PATH and "" the dirfd."""
    path = task.mm.copy_in_str(path_addr) if path_addr or not flags & AT_EMPTY_PATH else b""
    if flags & ~STAT_AT_FLAGS:
        raise SysError(EINVAL)
    if not path and flags & AT_EMPTY_PATH:
        return found_stat(fd_found(task, dirfd))
    return found_stat(path_walk(task, dirfd, path, not flags & AT_SYMLINK_NOFOLLOW))


@syscall("stat", PATH, STAT_OUT, classes="file")
def sys_stat(task: Task, pathname_addr: Addr, statbuf_addr: Addr) -> int:
    """stat(2)."""
    task.mm.copy_out(statbuf_addr, pack_stat(found_stat(walk_at(task, AT_FDCWD, pathname_addr))))
    return 0


@syscall("lstat", PATH, STAT_OUT, classes="file")
def sys_lstat(task: Task, pathname_addr: Addr, statbuf_addr: Addr) -> int:
    """lstat(2)."""
    task.mm.copy_out(statbuf_addr, pack_stat(found_stat(walk_at(task, AT_FDCWD, pathname_addr, follow=False))))
    return 0


@syscall("newfstatat", DIRFD, PATH, STAT_OUT, AT_FLAGS_ARG, classes="desc file")
def sys_newfstatat(task: Task, dirfd: int, pathname_addr: Addr, statbuf_addr: Addr, flags: int) -> int:
    """fstatat(2)."""
    st = _stat_at(task, dirfd, pathname_addr, flags)
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


@syscall("statx", DIRFD, PATH, STATX_FLAGS, STATX_MASK, STATX_OUT, classes="desc file")
def sys_statx(task: Task, dirfd: int, pathname_addr: Addr, flags: int, mask: int, statxbuf_addr: Addr) -> int:
    """statx(2). Deviation: stx_mask is STATX_BASIC_STATS (no btime or mnt_id)."""
    if mask & STATX__RESERVED or flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE:
        raise SysError(EINVAL)
    st = _stat_at(task, dirfd, pathname_addr, flags)
    task.mm.copy_out(statxbuf_addr, pack_statx(st))
    return 0


def do_readlinkat(task: Task, dirfd: int, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    if bufsiz <= 0:
        raise SysError(EINVAL)
    path = task.mm.copy_in_str(pathname_addr)
    if path:
        inode = path_walk(task, dirfd, path, follow=False).existing().inode
    else:  # readlinkat(fd, ""): the link an O_PATH descriptor holds
        location = None if dirfd == AT_FDCWD else task.group.files.get(dirfd).location
        if location is None or not location.inode.is_symlink:
            raise SysError(ENOENT)
        inode = location.inode
    target = inode.readlink(task)[:bufsiz]
    task.mm.copy_out(buf_addr, target)
    return len(target)


@syscall("readlink", PATH, BUF_OUT, COUNT, classes="file")
def sys_readlink(task: Task, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    """readlink(2): no NUL appended; /proc/self/exe is the guest's program."""
    return do_readlinkat(task, AT_FDCWD, pathname_addr, buf_addr, bufsiz)


@syscall("readlinkat", DIRFD, PATH, BUF_OUT, COUNT, classes="desc file")
def sys_readlinkat(task: Task, dirfd: int, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    """readlinkat(2)."""
    return do_readlinkat(task, dirfd, pathname_addr, buf_addr, bufsiz)


# --- the working directory and the root -------------------------------------------------------------------


@syscall("getcwd", CWD_OUT, SIZE, classes="file")
def sys_getcwd(task: Task, buf_addr: Addr, size: int) -> int:
    """getcwd(2): the length including the NUL (the raw syscall's convention); ENOENT
    once the directory has been removed."""
    fs = task.group.fs
    if fs.cwd.inode.stat().nlink == 0:
        raise SysError(ENOENT)
    cwd = d_path(fs.cwd, fs.root) + b"\0"
    if not reachable(fs.cwd, fs.root):
        cwd = b"(unreachable)" + cwd  # a chroot that left the cwd outside (prepend_path)
    if size < len(cwd):
        raise SysError(ERANGE)
    task.mm.copy_out(buf_addr, cwd)
    return len(cwd)


def _searchable_dir(task: Task, location: Location) -> Location:
    if not location.inode.is_dir:
        raise SysError(ENOTDIR)
    location.inode.access(task, 0o1, False, True)  # X_OK: set_fs_pwd needs search permission
    return location


@syscall("chdir", PATH, classes="file")
def sys_chdir(task: Task, path_addr: Addr) -> int:
    """chdir(2)."""
    task.group.fs.cwd = _searchable_dir(task, walk_at(task, AT_FDCWD, path_addr).existing())
    return 0


@syscall("fchdir", FD, classes="desc")
def sys_fchdir(task: Task, fd: int) -> int:
    """fchdir(2)."""
    location = task.group.files.get(fd).location
    if location is None:
        raise SysError(ENOTDIR)
    task.group.fs.cwd = _searchable_dir(task, location)
    return 0


@syscall("chroot", PATH, classes="file")
def sys_chroot(task: Task, path_addr: Addr) -> int:
    """chroot(2): the working directory stays where it is, as on Linux."""
    location = _searchable_dir(task, walk_at(task, AT_FDCWD, path_addr).existing())
    if task.group.creds.euid != 0:
        raise SysError(EPERM)
    task.group.fs.root = location
    return 0


# --- making and removing names ------------------------------------------------------------------------------


def _create_entry(task: Task, dirfd: int, path_addr: Addr, directory: bool = False) -> tuple[Location, bytes]:
    """filename_create: the directory and name of a new entry. EEXIST for ".", "..",
    "/" and for any existing entry (a dangling symlink too: it is not followed); then a
    trailing slash is ENOENT unless a directory is made; then EROFS."""
    parent = parent_walk(task, dirfd, task.mm.copy_in_str(path_addr))
    if parent.kind != LAST_NORM:
        raise SysError(EEXIST)
    found = parent.child()
    if found.location is not None or found.file is not None:
        raise SysError(EEXIST)
    if parent.trailing_slash and not directory:
        raise SysError(ENOENT)
    check_writable(task, parent.directory)
    return parent.directory, parent.name


def do_mkdirat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    parent, name = _create_entry(task, dirfd, pathname_addr, directory=True)
    parent.inode.mkdir(task, name, mode)
    fsnotify_name(parent, IN_CREATE, name, is_dir=True)
    return 0


@syscall("mkdir", PATH, MODE, classes="file")
def sys_mkdir(task: Task, pathname_addr: Addr, mode: int) -> int:
    """mkdir(2)."""
    return do_mkdirat(task, AT_FDCWD, pathname_addr, mode)


@syscall("mkdirat", DIRFD, PATH, MODE, classes="desc file")
def sys_mkdirat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """mkdirat(2)."""
    return do_mkdirat(task, dirfd, pathname_addr, mode)


def do_mknodat(task: Task, dirfd: int, pathname_addr: Addr, mode: int, dev: int) -> int:
    """mknodat(2): regular files, FIFOs and sockets; device nodes with CAP_MKNOD (EPERM
    without), which a --root or --mount tree and tmpfs then refuse to open (EACCES: they
    are nodev, the host's devices are not the guest's); a directory EPERM, another type
    EINVAL."""
    kind = mode & S_IFMT
    if kind == S_IFDIR:
        raise SysError(EPERM)
    if kind not in (0, S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK):
        raise SysError(EINVAL)
    parent, name = _create_entry(task, dirfd, pathname_addr)
    if kind in (S_IFCHR, S_IFBLK) and not task.group.creds.capable(CAP_MKNOD):
        raise SysError(EPERM)
    parent.inode.mknod(task, name, mode, dev)
    fsnotify_name(parent, IN_CREATE, name)
    return 0


@syscall("mknod", PATH, MODE, UINT, classes="file")
def sys_mknod(task: Task, pathname_addr: Addr, mode: int, dev: int) -> int:
    """mknod(2)."""
    return do_mknodat(task, AT_FDCWD, pathname_addr, mode, dev)


@syscall("mknodat", DIRFD, PATH, MODE, UINT, classes="desc file")
def sys_mknodat(task: Task, dirfd: int, pathname_addr: Addr, mode: int, dev: int) -> int:
    """mknodat(2)."""
    return do_mknodat(task, dirfd, pathname_addr, mode, dev)


def do_rmdir(task: Task, dirfd: int, pathname_addr: Addr) -> int:
    """do_rmdir: ".." is ENOTEMPTY, "." EINVAL, "/" EBUSY (before anything is looked
    up), then EROFS; the entry is never followed ("link-to-dir/" is ENOTDIR)."""
    parent = parent_walk(task, dirfd, task.mm.copy_in_str(pathname_addr))
    if parent.kind != LAST_NORM:
        raise SysError({LAST_DOTDOT: ENOTEMPTY, LAST_DOT: EINVAL}.get(parent.kind, EBUSY))
    check_writable(task, parent.directory)
    location = parent.child().existing()
    if not location.inode.is_dir:
        raise SysError(ENOTDIR)
    if location.mount is not parent.directory.mount:
        raise SysError(EBUSY)  # a mount point
    key = location.inode.key()
    parent.directory.inode.rmdir(task, parent.name)
    fsnotify_removed(task.kernel, location.inode, key, is_dir=True)
    fsnotify_name(parent.directory, IN_DELETE, parent.name, is_dir=True)
    return 0


@syscall("rmdir", PATH, classes="file")
def sys_rmdir(task: Task, pathname_addr: Addr) -> int:
    """rmdir(2)."""
    return do_rmdir(task, AT_FDCWD, pathname_addr)


def do_unlink(task: Task, dirfd: int, pathname_addr: Addr) -> int:
    """do_unlinkat: "." and ".." are EISDIR, then EROFS; the entry is never followed; a
    trailing slash is EISDIR on a directory, else ENOTDIR (a symlink too)."""
    parent = parent_walk(task, dirfd, task.mm.copy_in_str(pathname_addr))
    if parent.kind != LAST_NORM:
        raise SysError(EISDIR)
    check_writable(task, parent.directory)
    location = parent.child().existing()
    if parent.trailing_slash and not location.inode.is_dir:
        raise SysError(ENOTDIR)
    if location.inode.is_dir:
        raise SysError(EISDIR)
    key = location.inode.key()
    parent.directory.inode.unlink(task, parent.name)
    fsnotify_inode(location.inode, IN_ATTRIB)  # the link count (vfs_unlink's fsnotify_link_count)
    fsnotify_removed(task.kernel, location.inode, key, is_dir=False)
    fsnotify_name(parent.directory, IN_DELETE, parent.name)
    return 0


@syscall("unlink", PATH, classes="file")
def sys_unlink(task: Task, pathname_addr: Addr) -> int:
    """unlink(2)."""
    return do_unlink(task, AT_FDCWD, pathname_addr)


@syscall("unlinkat", DIRFD, PATH, AT_FLAGS_ARG, classes="desc file")
def sys_unlinkat(task: Task, dirfd: int, pathname_addr: Addr, flags: int) -> int:
    """unlinkat(2)."""
    if flags & ~AT_REMOVEDIR:
        raise SysError(EINVAL)
    if flags & AT_REMOVEDIR:
        return do_rmdir(task, dirfd, pathname_addr)
    return do_unlink(task, dirfd, pathname_addr)


def do_renameat2(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
                 flags: int) -> int:  # fmt: skip
    """do_renameat2, in its order: EXDEV across mounts, EBUSY for a last component that
    is ".", ".." or "/", EROFS, the source (ENOENT), the target (NOREPLACE: EEXIST,
    EXCHANGE: ENOENT), then trailing slashes on a non-directory: ENOTDIR. Neither
    entry is followed. The file system does the rest (EINVAL into itself, ENOTEMPTY,
    EISDIR, ENOTDIR)."""
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise SysError(EINVAL)
    if flags & RENAME_NOREPLACE and flags & (RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise SysError(EINVAL)
    if flags & RENAME_EXCHANGE and flags & RENAME_WHITEOUT:
        raise SysError(EINVAL)
    old = parent_walk(task, olddirfd, task.mm.copy_in_str(oldpath_addr))
    new = parent_walk(task, newdirfd, task.mm.copy_in_str(newpath_addr))
    if old.directory.mount is not new.directory.mount:
        raise SysError(EXDEV)
    if old.kind != LAST_NORM or new.kind != LAST_NORM:
        raise SysError(EBUSY)
    check_writable(task, old.directory)
    source = old.child().existing()
    target = new.child().location
    if flags & RENAME_NOREPLACE and target is not None:
        raise SysError(EEXIST)
    if flags & RENAME_EXCHANGE:
        if target is None:
            raise SysError(ENOENT)
        if not target.inode.is_dir and new.trailing_slash:
            raise SysError(ENOTDIR)
    if not source.inode.is_dir and (old.trailing_slash or new.trailing_slash and not flags & RENAME_EXCHANGE):
        raise SysError(ENOTDIR)
    if source.mount is not old.directory.mount or target is not None and target.mount is not new.directory.mount:
        raise SysError(EBUSY)  # a mount point
    old.directory.inode.rename(task, old.name, new.directory.inode, new.name, flags)
    fsnotify_move(task.kernel, old.directory, old.name, new.directory, new.name, source.inode,
                  None if target is None or flags & RENAME_EXCHANGE else target.inode)
    if flags & RENAME_EXCHANGE and target is not None:
        fsnotify_move(task.kernel, new.directory, new.name, old.directory, old.name, target.inode, None)
    return 0


@syscall("rename", PATH, PATH, classes="file")
def sys_rename(task: Task, oldpath_addr: Addr, newpath_addr: Addr) -> int:
    """rename(2)."""
    return do_renameat2(task, AT_FDCWD, oldpath_addr, AT_FDCWD, newpath_addr, 0)


@syscall("renameat", DIRFD, PATH, DIRFD, PATH, classes="desc file")
def sys_renameat(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr) -> int:
    """renameat(2)."""
    return do_renameat2(task, olddirfd, oldpath_addr, newdirfd, newpath_addr, 0)


@syscall("renameat2", DIRFD, PATH, DIRFD, PATH, UINT, classes="desc file")
def sys_renameat2(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
                  flags: int) -> int:  # fmt: skip
    """renameat2(2)."""
    return do_renameat2(task, olddirfd, oldpath_addr, newdirfd, newpath_addr, flags)


def do_symlinkat(task: Task, target_addr: Addr, newdirfd: int, linkpath_addr: Addr) -> int:
    target = task.mm.copy_in_str(target_addr)
    if not target:
        raise SysError(ENOENT)
    parent, name = _create_entry(task, newdirfd, linkpath_addr)
    parent.inode.symlink(task, name, target)
    fsnotify_name(parent, IN_CREATE, name)
    return 0


@syscall("symlink", PATH, PATH, classes="file")
def sys_symlink(task: Task, target_addr: Addr, linkpath_addr: Addr) -> int:
    """symlink(2): the target is stored as given, never resolved."""
    return do_symlinkat(task, target_addr, AT_FDCWD, linkpath_addr)


@syscall("symlinkat", PATH, DIRFD, PATH, classes="desc file")
def sys_symlinkat(task: Task, target_addr: Addr, newdirfd: int, linkpath_addr: Addr) -> int:
    """symlinkat(2)."""
    return do_symlinkat(task, target_addr, newdirfd, linkpath_addr)


def do_linkat(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
              flags: int) -> int:  # fmt: skip
    """do_linkat: the old path is looked up in full (a trailing slash wants a directory),
    the new one as for any new entry (EEXIST before EPERM for a directory), EXDEV
    across mounts, then EPERM for a directory."""
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise SysError(EINVAL)
    old = walk_at_flags(task, olddirfd, oldpath_addr, flags, follow=bool(flags & AT_SYMLINK_FOLLOW))
    if old.location is None and old.file is None:
        raise SysError(ENOENT)
    parent, name = _create_entry(task, newdirfd, newpath_addr)
    if old.location is not None and old.location.mount is not parent.mount:
        raise SysError(EXDEV)
    inode = found_inode(task, old)
    if inode.is_dir:
        raise SysError(EPERM)
    parent.inode.link(task, name, inode)
    fsnotify_inode(inode, IN_ATTRIB)  # fsnotify_link: the link count, then the new name
    fsnotify_name(parent, IN_CREATE, name)
    return 0


@syscall("link", PATH, PATH, classes="file")
def sys_link(task: Task, oldpath_addr: Addr, newpath_addr: Addr) -> int:
    """link(2): does not follow a symlink oldpath."""
    return do_linkat(task, AT_FDCWD, oldpath_addr, AT_FDCWD, newpath_addr, 0)


@syscall("linkat", DIRFD, PATH, DIRFD, PATH, AT_FLAGS_ARG, classes="desc file")
def sys_linkat(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
               flags: int) -> int:  # fmt: skip
    """linkat(2)."""
    return do_linkat(task, olddirfd, oldpath_addr, newdirfd, newpath_addr, flags)


# --- permissions, modes, times, sizes -----------------------------------------------------------------------


def do_faccessat(task: Task, dirfd: int, pathname_addr: Addr, mode: int, flags: int) -> int:
    if mode & ~0o7 or flags & ~ACCESS_AT_FLAGS:
        raise SysError(EINVAL)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    found = walk_at_flags(task, dirfd, pathname_addr, flags, follow)
    if found.location is None:
        if found.file is None:
            raise SysError(ENOENT)
        return 0  # a descriptor with no name (a pipe): the caller has it open
    inode = found.location.inode
    inode.access(task, mode, bool(flags & AT_EACCESS), follow)
    kind = host_stat.S_IFMT(inode.mode)
    if mode & 0o2 and kind in (S_IFREG, S_IFDIR, host_stat.S_IFLNK):
        check_writable(task, found.location)  # after the permission bits; never for a FIFO or device
    return 0


@syscall("access", PATH, ACCESS_MODE, classes="file")
def sys_access(task: Task, pathname_addr: Addr, mode: int) -> int:
    """access(2): with the real ids."""
    return do_faccessat(task, AT_FDCWD, pathname_addr, mode, 0)


@syscall("faccessat", DIRFD, PATH, ACCESS_MODE, classes="desc file")
def sys_faccessat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """faccessat(2): the system call has no flags argument (glibc's wrapper does)."""
    return do_faccessat(task, dirfd, pathname_addr, mode, 0)


@syscall("faccessat2", DIRFD, PATH, ACCESS_MODE, ACCESSAT_FLAGS, classes="desc file")
def sys_faccessat2(task: Task, dirfd: int, pathname_addr: Addr, mode: int, flags: int) -> int:
    """faccessat2(2)."""
    return do_faccessat(task, dirfd, pathname_addr, mode, flags)


def do_fchmodat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    found = walk_at(task, dirfd, pathname_addr)
    if found.location is None and found.file is not None and not isinstance(found.file, HostFile):
        return 0  # /proc/self/fd/N of a pipe or socket: its pseudo inode keeps no mode here
    inode = found_inode(task, found)
    check_writable(task, found.location)
    inode.chmod(task, mode, True)
    fsnotify_change(inode, IN_ATTRIB)
    return 0


@syscall("chmod", PATH, MODE, classes="file")
def sys_chmod(task: Task, pathname_addr: Addr, mode: int) -> int:
    """chmod(2)."""
    return do_fchmodat(task, AT_FDCWD, pathname_addr, mode)


@syscall("fchmodat", DIRFD, PATH, MODE, classes="desc file")
def sys_fchmodat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """fchmodat(2): the system call has no flags argument (glibc's wrapper does)."""
    return do_fchmodat(task, dirfd, pathname_addr, mode)


def check_file_size(task: Task, length: int) -> None:
    """RLIMIT_FSIZE (inode_newsize_ok): growing a file past it sends SIGXFSZ and is EFBIG."""
    limit = get_rlimit(task.group, RLIMIT_FSIZE)[0]
    if length > limit:
        task.kernel.signals.send(task.group, user_info(task, SIGXFSZ), task)
        raise SysError(EFBIG)


@syscall("truncate", PATH, OFF_LENGTH, classes="file")
def sys_truncate(task: Task, path_addr: Addr, length: int) -> int:
    """truncate(2)."""
    if length < 0:
        raise SysError(EINVAL)
    found = walk_at(task, AT_FDCWD, path_addr)
    kind = host_stat.S_IFMT(found_stat(found).mode)
    if kind == S_IFDIR:
        raise SysError(EISDIR)
    if kind != S_IFREG:
        raise SysError(EINVAL)  # a FIFO, a pipe through /proc/self/fd, a device (vfs_truncate)
    inode = found_inode(task, found)
    check_writable(task, found.location)
    check_file_size(task, length)
    inode.truncate(task, length)
    fsnotify_change(inode, IN_MODIFY)
    return 0


def _nsec_valid(nsec: int) -> bool:
    return 0 <= nsec < NSEC_PER_SEC or nsec in (UTIME_NOW, UTIME_OMIT)


def _utime_value(task: Task, sec: int, nsec: int) -> int | None:
    """One timespec of utimensat as ns since the epoch; None for UTIME_OMIT."""
    if nsec == UTIME_OMIT:
        return None
    if nsec == UTIME_NOW:
        return task.kernel.clock.realtime_ns()
    return sec * NSEC_PER_SEC + nsec


@syscall("utimensat", DIRFD, PATH, TIMESPEC_IN, AT_FLAGS_ARG, classes="desc file")
def sys_utimensat(task: Task, dirfd: int, pathname_addr: Addr, times_addr: Addr, flags: int) -> int:
    """utimensat(2). A NULL pathname means the file dirfd refers to (futimens)."""
    times = None
    if times_addr:
        raw = task.mm.copy_in(times_addr, 2 * TIMESPEC.size)
        times = TIMESPEC.unpack_from(raw, 0) + TIMESPEC.unpack_from(raw, TIMESPEC.size)
        if times[1] == UTIME_OMIT and times[3] == UTIME_OMIT:
            return 0  # Linux does not even look the path up
    follow = not flags & AT_SYMLINK_NOFOLLOW
    if pathname_addr == 0 and dirfd != AT_FDCWD:
        if flags:
            raise SysError(EINVAL)
        file = task.group.files.get(dirfd)
        if file.flags & O_PATH:
            raise SysError(EBADF)
        found, follow = Found(file.location, None, b"", file=file), True
    else:
        if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
            raise SysError(EINVAL)
        found = walk_at_flags(task, dirfd, pathname_addr, flags, follow)
        if found.file is not None:
            follow = True
    atime_ns: int | None = -1  # -1, -1: both "now" (Inode.utimes)
    mtime_ns: int | None = -1
    if times is not None and not (times[1] == UTIME_NOW and times[3] == UTIME_NOW):
        if not (_nsec_valid(times[1]) and _nsec_valid(times[3])):
            found_stat(found)  # the lookup's errors come first
            raise SysError(EINVAL)
        atime_ns = _utime_value(task, times[0], times[1])
        mtime_ns = _utime_value(task, times[2], times[3])
    inode = found_inode(task, found)
    check_writable(task, found.location)
    inode.utimes(task, atime_ns, mtime_ns, follow)
    fsnotify_change(inode, IN_ATTRIB)
    return 0

