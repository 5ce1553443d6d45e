"""File syscalls: open/close, read/write and friends, stat, fcntl/ioctl, descriptors,
directories and path operations.

Handlers only fetch and check arguments, in the order Linux checks them (so the same
bad call fails with the same errno); the work is in pykern.vfs, which owns the host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern import locks
from pykern.abi import (
    AT_EACCESS,
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_NO_AUTOMOUNT,
    AT_REMOVEDIR,
    AT_STATX_SYNC_TYPE,
    AT_SYMLINK_FOLLOW,
    AT_SYMLINK_NOFOLLOW,
    EBADF,
    EINVAL,
    ERANGE,
    ESPIPE,
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFD,
    F_GETFL,
    F_GETLK,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETFD,
    F_SETFL,
    F_SETLK,
    F_SETLKW,
    FD_CLOEXEC,
    FIOCLEX,
    FIONBIO,
    FIONCLEX,
    IOVEC,
    NSEC_PER_SEC,
    O_CLOEXEC,
    O_CREAT,
    O_NONBLOCK,
    O_PATH,
    O_TRUNC,
    O_WRONLY,
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    RENAME_WHITEOUT,
    TIMESPEC,
    UTIME_NOW,
    UTIME_OMIT,
)
from pykern.errors import SysError
from pykern.syscalls.table import syscall
from pykern.sysent import (
    ACCESS_MODE,
    AT_FLAGS,
    BUF_IN,
    BUF_OUT,
    DIRENTS_OUT,
    DIRFD,
    FCNTL_CMD,
    FD,
    INT,
    IOCTL_REQ,
    IOVEC_IN,
    IOVEC_OUT,
    MODE,
    OFF,
    OPEN_FLAGS,
    PATH,
    SEEK_WHENCE,
    SIZE,
    STAT_OUT,
    STATX_OUT,
    TIMESPEC_IN,
    UINT,
    ULONG,
)
from pykern.vfs import (
    MAX_RW_COUNT,
    File,
    HostFile,
    Stat,
    getcwd_bytes,
    pack_stat,
    pack_statx,
    vfs_access,
    vfs_chdir_target,
    vfs_chmod,
    vfs_fchdir_target,
    vfs_fchmod,
    vfs_link,
    vfs_mkdir,
    vfs_readlink,
    vfs_rename,
    vfs_rmdir,
    vfs_stat,
    vfs_symlink,
    vfs_truncate,
    vfs_unlink,
    vfs_utimes,
)

if TYPE_CHECKING:
    from pykern.task import Task

Addr = int

# Not in pykern.abi: readv/writev's vector limit (UIO_MAXIOV), ssize_t's maximum,
# statx's reserved mask bit, and the flags each *at() call accepts.
UIO_MAXIOV = 1024
SSIZE_MAX = (1 << 63) - 1
STATX__RESERVED = 0x80000000
STAT_AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE
ACCESS_AT_FLAGS = AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH
LOCK_CMDS = frozenset((F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW))


# --- helpers ---------------------------------------------------------------------------------


def _resolve(task: Task, dirfd: int, path: bytes, follow: bool = True) -> str:
    group = task.group
    return group.fs.resolve(dirfd, path, group.files, group.exe_path, follow, group.tgid)


def path_at(task: Task, dirfd: int, path_addr: Addr, follow: bool = True) -> str:
    """The host path a guest path argument names, resolved as the *at() calls do."""
    return _resolve(task, dirfd, task.mm.copy_in_str(path_addr), follow)


def _readable(task: Task, fd: int) -> File:
    file = task.group.files.get(fd)
    if not file.readable:
        raise SysError(EBADF)
    return file


def _writable(task: Task, fd: int) -> File:
    file = task.group.files.get(fd)
    if not file.writable:
        raise SysError(EBADF)
    return file


def _stat_at(task: Task, dirfd: int, path_addr: Addr, flags: int) -> Stat:
    """The file newfstatat/statx name: a path, or with AT_EMPTY_PATH and "" the dirfd."""
    path = task.mm.copy_in_str(path_addr) if path_addr or not flags & AT_EMPTY_PATH else b""
    if flags & ~STAT_AT_FLAGS:
        raise SysError(EINVAL)
    if not path and flags & AT_EMPTY_PATH:
        if dirfd == AT_FDCWD:
            return vfs_stat(task.group.fs.cwd)
        return task.group.files.get(dirfd).stat()
    follow = not flags & AT_SYMLINK_NOFOLLOW
    return vfs_stat(_resolve(task, dirfd, path, follow), follow)


def iovecs(task: Task, iov_addr: Addr, iovcnt: int) -> list[tuple[int, int]]:
    """The iovec array, checked as import_iovec does; lengths clipped to MAX_RW_COUNT."""
    if iovcnt < 0 or iovcnt > UIO_MAXIOV:
        raise SysError(EINVAL)
    raw = task.mm.copy_in(iov_addr, iovcnt * IOVEC.size)
    vectors = []
    total = 0
    for index in range(iovcnt):
        base, length = IOVEC.unpack_from(raw, index * IOVEC.size)
        if length > SSIZE_MAX:
            raise SysError(EINVAL)
        length = min(length, MAX_RW_COUNT - total)
        total += length
        vectors.append((base, length))
    return vectors


# --- open and close ----------------------------------------------------------------------------


def do_open(task: Task, dirfd: int, path_addr: Addr, flags: int, mode: int) -> int:
    """openat(2)'s body: the fd is reserved first (EMFILE before ENOENT, as Linux)."""
    path = task.mm.copy_in_str(path_addr)
    group = task.group
    group.files.lowest_free()
    file = HostFile.open(_resolve(task, dirfd, path), flags, mode, group.fs.umask)
    return group.files.install(file, cloexec=bool(flags & O_CLOEXEC))


@syscall("openat", DIRFD, PATH, OPEN_FLAGS, MODE, classes="desc file")
def sys_openat(task: Task, dirfd: int, pathname_addr: Addr, flags: int, mode: int) -> int:
    """openat(2)."""
    return do_open(task, dirfd, pathname_addr, flags, mode)


@syscall("open", PATH, OPEN_FLAGS, MODE, classes="desc file")
def sys_open(task: Task, pathname_addr: Addr, flags: int, mode: int) -> int:
    """open(2)."""
    return do_open(task, AT_FDCWD, pathname_addr, flags, mode)


@syscall("creat", PATH, MODE, classes="desc file")
def sys_creat(task: Task, pathname_addr: Addr, mode: int) -> int:
    """creat(2): open(pathname, O_CREAT|O_WRONLY|O_TRUNC, mode)."""
    return do_open(task, AT_FDCWD, pathname_addr, O_CREAT | O_WRONLY | O_TRUNC, mode)


@syscall("close", FD, classes="desc")
def sys_close(task: Task, fd: int) -> int:
    """close(2)."""
    task.group.files.close(fd)
    return 0


CLOSE_RANGE_UNSHARE = 1 << 1
CLOSE_RANGE_CLOEXEC = 1 << 2


@syscall("close_range", UINT, UINT, UINT, classes="desc")
def sys_close_range(task: Task, first: int, last: int, flags: int) -> int:
    """close_range(2): close (or with CLOSE_RANGE_CLOEXEC mark close-on-exec) every open
    fd in [first, last]; CLOSE_RANGE_UNSHARE first gives the process a table of its own
    if it shares one (CLONE_FILES)."""
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        raise SysError(EINVAL)
    files = task.group.files
    if flags & CLOSE_RANGE_UNSHARE and any(g.files is files for g in task.kernel.groups.values()
                                           if g is not task.group and not g.is_zombie):
        files = task.group.files = files.fork()  # a table of our own first
    for fd in sorted(fd for fd in files.files if first <= fd <= last):
        if flags & CLOSE_RANGE_CLOEXEC:
            files.set_cloexec(fd, True)
        else:
            files.close(fd)
    return 0


# --- read and write ------------------------------------------------------------------------------


@syscall("read", FD, BUF_OUT, SIZE, classes="desc")
def sys_read(task: Task, fd: int, buf_addr: Addr, count: int) -> int:
    """read(2)."""
    file = _readable(task, fd)
    data = file.read(task, min(count, MAX_RW_COUNT))
    task.mm.copy_out(buf_addr, data)
    return len(data)


@syscall("write", FD, BUF_IN, SIZE, classes="desc")
def sys_write(task: Task, fd: int, buf_addr: Addr, count: int) -> int:
    """write(2)."""
    file = _writable(task, fd)
    data = task.mm.copy_in(buf_addr, min(count, MAX_RW_COUNT))
    return file.write(task, data)


@syscall("readv", FD, IOVEC_OUT, INT, classes="desc")
def sys_readv(task: Task, fd: int, iov_addr: Addr, iovcnt: int) -> int:
    """readv(2): one read, scattered."""
    file = _readable(task, fd)
    vectors = iovecs(task, iov_addr, iovcnt)
    total = sum(length for _, length in vectors)
    data = file.read(task, total)
    scatter(task, vectors, data)
    return len(data)


def scatter(task: Task, vectors: list[tuple[int, int]], data: bytes) -> None:
    """Copy `data` out over the iovecs in order (readv, recvmsg)."""
    done = 0
    for base, length in vectors:
        if done >= len(data):
            break
        task.mm.copy_out(base, data[done : done + length])
        done += length


@syscall("writev", FD, IOVEC_IN, INT, classes="desc")
def sys_writev(task: Task, fd: int, iov_addr: Addr, iovcnt: int) -> int:
    """writev(2): gathered, then one write (atomic as one write(2) is)."""
    file = _writable(task, fd)
    vectors = iovecs(task, iov_addr, iovcnt)
    data = b"".join(task.mm.copy_in(base, length) for base, length in vectors)
    if not data:
        return 0
    return file.write(task, data)


@syscall("pread64", FD, BUF_OUT, SIZE, OFF, classes="desc")
def sys_pread64(task: Task, fd: int, buf_addr: Addr, count: int, offset: int) -> int:
    """pread(2)."""
    if offset < 0:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if not file.seekable:
        raise SysError(ESPIPE)
    if not file.readable:
        raise SysError(EBADF)
    data = file.pread(min(count, MAX_RW_COUNT), offset)
    task.mm.copy_out(buf_addr, data)
    return len(data)


@syscall("pwrite64", FD, BUF_IN, SIZE, OFF, classes="desc")
def sys_pwrite64(task: Task, fd: int, buf_addr: Addr, count: int, offset: int) -> int:
    """pwrite(2). As on Linux, O_APPEND files are appended to whatever the offset."""
    if offset < 0:
        raise SysError(EINVAL)
    file = task.group.files.get(fd)
    if not file.seekable:
        raise SysError(ESPIPE)
    if not file.writable:
        raise SysError(EBADF)
    data = task.mm.copy_in(buf_addr, min(count, MAX_RW_COUNT))
    return file.pwrite(data, offset)


@syscall("lseek", FD, OFF, SEEK_WHENCE, classes="desc")
def sys_lseek(task: Task, fd: int, offset: int, whence: int) -> int:
    """lseek(2)."""
    return task.group.files.get(fd).lseek(offset, whence)


# --- stat ----------------------------------------------------------------------------------------


@syscall("fstat", FD, STAT_OUT, classes="desc")
def sys_fstat(task: Task, fd: int, statbuf_addr: Addr) -> int:
    """fstat(2)."""
    st = task.group.files.get(fd).stat()
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


@syscall("stat", PATH, STAT_OUT, classes="file")
def sys_stat(task: Task, pathname_addr: Addr, statbuf_addr: Addr) -> int:
    """stat(2)."""
    st = vfs_stat(path_at(task, AT_FDCWD, pathname_addr))
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


@syscall("lstat", PATH, STAT_OUT, classes="file")
def sys_lstat(task: Task, pathname_addr: Addr, statbuf_addr: Addr) -> int:
    """lstat(2)."""
    st = vfs_stat(path_at(task, AT_FDCWD, pathname_addr, follow=False), follow=False)
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


@syscall("newfstatat", DIRFD, PATH, STAT_OUT, AT_FLAGS, classes="desc file")
def sys_newfstatat(task: Task, dirfd: int, pathname_addr: Addr, statbuf_addr: Addr, flags: int) -> int:
    """fstatat(2)."""
    st = _stat_at(task, dirfd, pathname_addr, flags)
    task.mm.copy_out(statbuf_addr, pack_stat(st))
    return 0


@syscall("statx", DIRFD, PATH, AT_FLAGS, UINT, STATX_OUT, classes="desc file")
def sys_statx(task: Task, dirfd: int, pathname_addr: Addr, flags: int, mask: int, statxbuf_addr: Addr) -> int:
    """statx(2). Deviation: stx_mask is STATX_BASIC_STATS (no btime or mnt_id)."""
    if mask & STATX__RESERVED or flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE:
        raise SysError(EINVAL)
    st = _stat_at(task, dirfd, pathname_addr, flags)
    task.mm.copy_out(statxbuf_addr, pack_statx(st))
    return 0


# --- descriptors: fcntl, ioctl, dup ----------------------------------------------------------------


@syscall("fcntl", FD, FCNTL_CMD, ULONG, classes="desc")
def sys_fcntl(task: Task, fd: int, cmd: int, arg: int) -> int:
    """fcntl(2); record locks (POSIX and OFD) are kept in pykern.locks."""
    files = task.group.files
    file = files.get(fd)
    if cmd in LOCK_CMDS:
        return locks.fcntl_lock(task, file, cmd, arg)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if arg >= files.max_fds:  # unsigned long compare, as Linux
            raise SysError(EINVAL)
        return files.install(file, cloexec=cmd == F_DUPFD_CLOEXEC, lowest=arg)
    if cmd == F_GETFD:
        return FD_CLOEXEC if files.get_cloexec(fd) else 0
    if cmd == F_SETFD:
        files.set_cloexec(fd, bool(arg & FD_CLOEXEC))
        return 0
    if cmd == F_GETFL:
        return file.flags
    if cmd == F_SETFL:
        file.set_status_flags(arg & 0xFFFFFFFF)
        return 0
    return file.fcntl(task, cmd, arg)


@syscall("ioctl", FD, IOCTL_REQ, ULONG, classes="desc")
def sys_ioctl(task: Task, fd: int, request: int, arg: int) -> int:
    """ioctl(2): descriptor requests here, the rest (terminals) to the file."""
    files = task.group.files
    file = files.get(fd)
    if request in (FIOCLEX, FIONCLEX):
        files.set_cloexec(fd, request == FIOCLEX)
        return 0
    if request == FIONBIO:
        on = task.mm.copy_in_i32(arg)
        file.set_status_flags(file.flags | O_NONBLOCK if on else file.flags & ~O_NONBLOCK)
        return 0
    return file.ioctl(task, request, arg)


@syscall("dup", FD, classes="desc")
def sys_dup(task: Task, oldfd: int) -> int:
    """dup(2)."""
    files = task.group.files
    return files.install(files.get(oldfd))


@syscall("dup2", FD, FD, classes="desc")
def sys_dup2(task: Task, oldfd: int, newfd: int) -> int:
    """dup2(2)."""
    files = task.group.files
    file = files.get(oldfd)
    if oldfd == newfd:
        return newfd
    return files.install_at(newfd, file)


@syscall("dup3", FD, FD, OPEN_FLAGS, classes="desc")
def sys_dup3(task: Task, oldfd: int, newfd: int, flags: int) -> int:
    """dup3(2)."""
    if flags & ~O_CLOEXEC or oldfd == newfd:
        raise SysError(EINVAL)
    files = task.group.files
    return files.install_at(newfd, files.get(oldfd), cloexec=bool(flags & O_CLOEXEC))


# --- directories -----------------------------------------------------------------------------------


@syscall("getdents64", FD, DIRENTS_OUT, UINT, classes="desc")
def sys_getdents64(task: Task, fd: int, dirp_addr: Addr, count: int) -> int:
    """getdents64(2): the host's entries, order and cookies."""
    data = task.group.files.get(fd).getdents64(count)
    task.mm.copy_out(dirp_addr, data)
    return len(data)


@syscall("getcwd", BUF_OUT, SIZE, classes="file")
def sys_getcwd(task: Task, buf_addr: Addr, size: int) -> int:
    """getcwd(2): the length including the NUL (the raw syscall's convention)."""
    cwd = getcwd_bytes(task.group.fs) + b"\0"
    if size < len(cwd):
        raise SysError(ERANGE)
    task.mm.copy_out(buf_addr, cwd)
    return len(cwd)


@syscall("chdir", PATH, classes="file")
def sys_chdir(task: Task, path_addr: Addr) -> int:
    """chdir(2)."""
    task.group.fs.cwd = vfs_chdir_target(path_at(task, AT_FDCWD, path_addr))
    return 0


@syscall("fchdir", FD, classes="desc")
def sys_fchdir(task: Task, fd: int) -> int:
    """fchdir(2)."""
    task.group.fs.cwd = vfs_fchdir_target(task.group.files.get(fd))
    return 0


@syscall("mkdir", PATH, MODE, classes="file")
def sys_mkdir(task: Task, pathname_addr: Addr, mode: int) -> int:
    """mkdir(2)."""
    vfs_mkdir(path_at(task, AT_FDCWD, pathname_addr, follow=False), mode, task.group.fs.umask)
    return 0


@syscall("mkdirat", DIRFD, PATH, MODE, classes="desc file")
def sys_mkdirat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """mkdirat(2)."""
    vfs_mkdir(path_at(task, dirfd, pathname_addr, follow=False), mode, task.group.fs.umask)
    return 0


@syscall("rmdir", PATH, classes="file")
def sys_rmdir(task: Task, pathname_addr: Addr) -> int:
    """rmdir(2)."""
    vfs_rmdir(path_at(task, AT_FDCWD, pathname_addr, follow=False))
    return 0


# --- names: unlink, rename, links --------------------------------------------------------------------


@syscall("unlink", PATH, classes="file")
def sys_unlink(task: Task, pathname_addr: Addr) -> int:
    """unlink(2)."""
    vfs_unlink(path_at(task, AT_FDCWD, pathname_addr, follow=False))
    return 0


@syscall("unlinkat", DIRFD, PATH, AT_FLAGS, classes="desc file")
def sys_unlinkat(task: Task, dirfd: int, pathname_addr: Addr, flags: int) -> int:
    """unlinkat(2)."""
    if flags & ~AT_REMOVEDIR:
        raise SysError(EINVAL)
    path = path_at(task, dirfd, pathname_addr, follow=False)
    if flags & AT_REMOVEDIR:
        vfs_rmdir(path)
    else:
        vfs_unlink(path)
    return 0


def do_renameat2(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
                 flags: int) -> int:  # fmt: skip
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise SysError(EINVAL)
    if flags & RENAME_NOREPLACE and flags & (RENAME_EXCHANGE | RENAME_WHITEOUT):
        raise SysError(EINVAL)
    old = path_at(task, olddirfd, oldpath_addr, follow=False)
    new = path_at(task, newdirfd, newpath_addr, follow=False)
    vfs_rename(old, new, flags)
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
    """renameat2(2): RENAME_NOREPLACE and RENAME_EXCHANGE go to the host's renameat2."""
    return do_renameat2(task, olddirfd, oldpath_addr, newdirfd, newpath_addr, flags)


@syscall("symlink", PATH, PATH, classes="file")
def sys_symlink(task: Task, target_addr: Addr, linkpath_addr: Addr) -> int:
    """symlink(2): the target is stored as given, never resolved."""
    target = task.mm.copy_in_str(target_addr)
    vfs_symlink(target, path_at(task, AT_FDCWD, linkpath_addr, follow=False))
    return 0


@syscall("symlinkat", PATH, DIRFD, PATH, classes="desc file")
def sys_symlinkat(task: Task, target_addr: Addr, newdirfd: int, linkpath_addr: Addr) -> int:
    """symlinkat(2)."""
    target = task.mm.copy_in_str(target_addr)
    vfs_symlink(target, path_at(task, newdirfd, linkpath_addr, follow=False))
    return 0


def do_linkat(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
              flags: int) -> int:  # fmt: skip
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise SysError(EINVAL)
    oldpath = task.mm.copy_in_str(oldpath_addr)
    follow = bool(flags & AT_SYMLINK_FOLLOW)
    if not oldpath and flags & AT_EMPTY_PATH:
        old = task.group.fs.dir_base(olddirfd, task.group.files)
        follow = True  # the /proc/self/fd link leads to the file itself
    else:
        old = _resolve(task, olddirfd, oldpath, follow)
    vfs_link(old, path_at(task, newdirfd, newpath_addr, follow=False), follow)
    return 0


@syscall("link", PATH, PATH, classes="file")
def sys_link(task: Task, oldpath_addr: Addr, newpath_addr: Addr) -> int:
    """link(2): does not follow a symlink oldpath."""
    return do_linkat(task, AT_FDCWD, oldpath_addr, AT_FDCWD, newpath_addr, 0)


@syscall("linkat", DIRFD, PATH, DIRFD, PATH, AT_FLAGS, classes="desc file")
def sys_linkat(task: Task, olddirfd: int, oldpath_addr: Addr, newdirfd: int, newpath_addr: Addr,
               flags: int) -> int:  # fmt: skip
    """linkat(2)."""
    return do_linkat(task, olddirfd, oldpath_addr, newdirfd, newpath_addr, flags)


def do_readlinkat(task: Task, dirfd: int, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    if bufsiz <= 0:
        raise SysError(EINVAL)
    group = task.group
    path = task.mm.copy_in_str(pathname_addr)
    target = group.fs.proc_readlink(path, group.files, group.exe_path, group.tgid)
    if target is None:
        target = vfs_readlink(_resolve(task, dirfd, path, follow=False))
    target = target[:bufsiz]
    task.mm.copy_out(buf_addr, target)
    return len(target)


@syscall("readlink", PATH, BUF_OUT, INT, classes="file")
def sys_readlink(task: Task, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    """readlink(2): no NUL appended; /proc/self/exe is the guest's program."""
    return do_readlinkat(task, AT_FDCWD, pathname_addr, buf_addr, bufsiz)


@syscall("readlinkat", DIRFD, PATH, BUF_OUT, INT, classes="desc file")
def sys_readlinkat(task: Task, dirfd: int, pathname_addr: Addr, buf_addr: Addr, bufsiz: int) -> int:
    """readlinkat(2)."""
    return do_readlinkat(task, dirfd, pathname_addr, buf_addr, bufsiz)


# --- permissions, modes, times, sizes -------------------------------------------------------------------


def do_faccessat(task: Task, dirfd: int, pathname_addr: Addr, mode: int, flags: int) -> int:
    if mode & ~0o7 or flags & ~ACCESS_AT_FLAGS:
        raise SysError(EINVAL)
    path = task.mm.copy_in_str(pathname_addr)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    if not path and flags & AT_EMPTY_PATH:
        host = task.group.fs.dir_base(dirfd, task.group.files)
    else:
        host = _resolve(task, dirfd, path, follow)
    vfs_access(host, mode, follow, effective=bool(flags & AT_EACCESS))
    return 0


@syscall("access", PATH, ACCESS_MODE, classes="file")
def sys_access(task: Task, pathname_addr: Addr, mode: int) -> int:
    """access(2): with the real ids."""
    return do_faccessat(task, AT_FDCWD, pathname_addr, mode, 0)


@syscall("faccessat", DIRFD, PATH, ACCESS_MODE, classes="desc file")
def sys_faccessat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """faccessat(2): the system call has no flags argument (glibc's wrapper does)."""
    return do_faccessat(task, dirfd, pathname_addr, mode, 0)


@syscall("faccessat2", DIRFD, PATH, ACCESS_MODE, AT_FLAGS, classes="desc file")
def sys_faccessat2(task: Task, dirfd: int, pathname_addr: Addr, mode: int, flags: int) -> int:
    """faccessat2(2)."""
    return do_faccessat(task, dirfd, pathname_addr, mode, flags)


@syscall("chmod", PATH, MODE, classes="file")
def sys_chmod(task: Task, pathname_addr: Addr, mode: int) -> int:
    """chmod(2)."""
    vfs_chmod(path_at(task, AT_FDCWD, pathname_addr), mode)
    return 0


@syscall("fchmod", FD, MODE, classes="desc")
def sys_fchmod(task: Task, fd: int, mode: int) -> int:
    """fchmod(2)."""
    vfs_fchmod(task.group.files.get(fd), mode)
    return 0


@syscall("fchmodat", DIRFD, PATH, MODE, classes="desc file")
def sys_fchmodat(task: Task, dirfd: int, pathname_addr: Addr, mode: int) -> int:
    """fchmodat(2): the system call has no flags argument (glibc's wrapper does)."""
    vfs_chmod(path_at(task, dirfd, pathname_addr), mode)
    return 0


@syscall("umask", MODE)
def sys_umask(task: Task, mask: int) -> int:
    """umask(2)."""
    fs = task.group.fs
    old, fs.umask = fs.umask, mask & 0o777
    return old


@syscall("truncate", PATH, OFF, classes="file")
def sys_truncate(task: Task, path_addr: Addr, length: int) -> int:
    """truncate(2)."""
    if length < 0:
        raise SysError(EINVAL)
    vfs_truncate(path_at(task, AT_FDCWD, path_addr), length)
    return 0


@syscall("ftruncate", FD, OFF, classes="desc")
def sys_ftruncate(task: Task, fd: int, length: int) -> int:
    """ftruncate(2)."""
    if length < 0:
        raise SysError(EINVAL)
    task.group.files.get(fd).truncate(length)
    return 0


@syscall("fsync", FD, classes="desc")
def sys_fsync(task: Task, fd: int) -> int:
    """fsync(2)."""
    task.group.files.get(fd).fsync()
    return 0


@syscall("fdatasync", FD, classes="desc")
def sys_fdatasync(task: Task, fd: int) -> int:
    """fdatasync(2)."""
    task.group.files.get(fd).fsync(datasync=True)
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


@syscall("utimensat", DIRFD, PATH, TIMESPEC_IN, AT_FLAGS, classes="desc file")
def sys_utimensat(task: Task, dirfd: int, pathname_addr: Addr, times_addr: Addr, flags: int) -> int:
    """utimensat(2). A NULL pathname means the file dirfd refers to (futimens)."""
    times = None
    if times_addr:
        raw = task.mm.copy_in(times_addr, 2 * TIMESPEC.size)
        times = TIMESPEC.unpack_from(raw, 0) + TIMESPEC.unpack_from(raw, TIMESPEC.size)
        if times[1] == UTIME_OMIT and times[3] == UTIME_OMIT:
            return 0  # Linux does not even look the path up
    follow = not flags & AT_SYMLINK_NOFOLLOW
    target: str | int
    if pathname_addr == 0 and dirfd != AT_FDCWD:
        if flags:
            raise SysError(EINVAL)
        file = task.group.files.get(dirfd)
        if not isinstance(file, HostFile) or file.flags & O_PATH:
            raise SysError(EBADF)
        target, follow = file.host_fd, True
    else:
        if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
            raise SysError(EINVAL)
        path = task.mm.copy_in_str(pathname_addr)
        if not path and flags & AT_EMPTY_PATH:
            target, follow = task.group.fs.dir_base(dirfd, task.group.files), True
        else:
            target = _resolve(task, dirfd, path, follow)
    atime_ns: int | None = -1  # -1, -1: both "now" (vfs_utimes)
    mtime_ns: int | None = -1
    if times is not None and not (times[1] == UTIME_NOW and times[3] == UTIME_NOW):
        if not (_nsec_valid(times[1]) and _nsec_valid(times[3])):
            if isinstance(target, str):
                vfs_stat(target, follow)  # the lookup's errors come first
            raise SysError(EINVAL)
        atime_ns = _utime_value(task, times[0], times[1])
        mtime_ns = _utime_value(task, times[2], times[3])
    vfs_utimes(target, atime_ns, mtime_ns, follow)
    return 0
