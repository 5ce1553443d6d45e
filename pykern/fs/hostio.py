"""The one seam between the guest's file layer and the host (pykern.fs).

`host_errors()` / `host_error()` turn a host OSError into SysError with the guest errno,
matched by errno *name* (never by value); open(2) flags, status flags and whence values
are translated bit by bit by name; the guest's fd limits and the host's getdents64 live
here too. Nothing else in pykern reads a host errno.
"""

from __future__ import annotations

import ctypes
import errno as host_errno
import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pykern.abi import (
    EINVAL,
    EIO,
    ERRNO_VALUES,
    NR_OPEN,
    O_ACCMODE,
    O_APPEND,
    O_ASYNC,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECT,
    O_DIRECTORY,
    O_DSYNC,
    O_EXCL,
    O_LARGEFILE,
    O_NOATIME,
    O_NOCTTY,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_SYNC,
    O_TMPFILE,
    O_TRUNC,
    O_WRONLY,
    SEEK_CUR,
    SEEK_DATA,
    SEEK_END,
    SEEK_HOLE,
    SEEK_SET,
)
from pykern.errors import SysError

if TYPE_CHECKING:
    pass

# RLIMIT_NOFILE's soft limit: the guest starts with the one it would have natively, ours
# (setrlimit updates FdTable.max_fds). fs.nr_open's default (NR_OPEN) caps it on Linux.

GUEST_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)  # as pykern was started, before raise_host_nofile


_nofile = GUEST_NOFILE[0]


NOFILE_DEFAULT = NR_OPEN if _nofile == resource.RLIM_INFINITY else min(_nofile, NR_OPEN)


def raise_host_nofile() -> None:
    """Every guest descriptor of a host file holds a host fd, and pykern holds more of its
    own (O_PATH fds of the walk, Unicorn's): pykern's soft RLIMIT_NOFILE goes up to its
    hard limit, so that the guest meets its own limit (EMFILE at GUEST_NOFILE, which it
    keeps) before pykern meets the host's."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


# The largest single host read we allocate for at once (a guest may ask for 2 GiB).
_HOST_CHUNK = 1 << 20


# Python's errno names one number with one of its aliases; the guest table uses the other.
_ERRNO_ALIASES = {"ENOTSUP": "EOPNOTSUPP", "EDEADLOCK": "EDEADLK", "EWOULDBLOCK": "EAGAIN"}


def guest_errno(host_number: int) -> int:
    """The guest errno for a host errno number, matched by name (never by value)."""
    name = host_errno.errorcode.get(host_number, "")
    name = _ERRNO_ALIASES.get(name, name)
    return ERRNO_VALUES.get(name, EIO)


def host_error(error: OSError) -> SysError:
    """The SysError to raise for a host OSError."""
    if error.errno is None:
        return SysError(EIO, str(error))
    return SysError(guest_errno(error.errno), str(error))


@contextmanager
def host_errors() -> Iterator[None]:
    """Run host file operations; an OSError leaves as SysError with the guest errno."""
    try:
        yield
    except OSError as error:
        raise host_error(error) from None


@contextmanager
def host_umask(mask: int) -> Iterator[None]:
    """Create files under the guest's umask instead of ours. pykern runs guest code on
    one host thread, so swapping the process umask around the creating call is exact:
    the host kernel applies the guest umask (and ignores it under default ACLs, as
    Linux does for the guest natively)."""
    previous = os.umask(mask & 0o777)
    try:
        yield
    finally:
        os.umask(previous)


# Guest open(2) flag -> host flag, translated bit by bit by name. O_CLOEXEC is not
# passed: host fds are always close-on-exec (Python's default); the guest's CLOEXEC
# lives in its FdTable. O_LARGEFILE is implied on a 64-bit host.
_OPEN_FLAG_MAP: tuple[tuple[int, int], ...] = (
    (O_CREAT, os.O_CREAT),
    (O_EXCL, os.O_EXCL),
    (O_NOCTTY, os.O_NOCTTY),
    (O_TRUNC, os.O_TRUNC),
    (O_APPEND, os.O_APPEND),
    (O_NONBLOCK, os.O_NONBLOCK),
    (O_SYNC, os.O_SYNC),  # O_SYNC contains the O_DSYNC bit: both are matched whole
    (O_DSYNC, os.O_DSYNC),
    (O_DIRECT, getattr(os, "O_DIRECT", 0)),
    (O_DIRECTORY, os.O_DIRECTORY),
    (O_NOFOLLOW, os.O_NOFOLLOW),
    (O_NOATIME, getattr(os, "O_NOATIME", 0)),
    (O_TMPFILE, getattr(os, "O_TMPFILE", 0)),
    (O_PATH, getattr(os, "O_PATH", 0)),
)


_ACCMODE_TO_HOST = {O_RDONLY: os.O_RDONLY, O_WRONLY: os.O_WRONLY, O_RDWR: os.O_RDWR}


_HOST_ACCMODE = {os.O_RDONLY: O_RDONLY, os.O_WRONLY: O_WRONLY, os.O_RDWR: O_RDWR}


# The host kernel's O_LARGEFILE bit as F_GETFL reports it (glibc defines O_LARGEFILE as
# 0 on 64-bit, so Python cannot tell us).
_HOST_O_LARGEFILE = {"x86_64": 0o100000, "aarch64": 0o400000}.get(os.uname().machine, 0)


# Status flags kept in f_flags after open(2) (Linux's do_dentry_open drops these).
_OPEN_ONLY_FLAGS = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC


# fcntl(F_SETFL) may change only these (Linux's SETFL_MASK).
SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME


def host_open_flags(flags: int) -> int:
    """Translate guest open(2) flags to the host's."""
    host = _ACCMODE_TO_HOST.get(flags & O_ACCMODE, os.O_ACCMODE)  # 3: ioctl-only (open(2))
    for guest_bit, host_bit in _OPEN_FLAG_MAP:
        if flags & guest_bit == guest_bit:
            host |= host_bit
    return host


def file_status_flags(flags: int) -> int:
    """What F_GETFL reports for a file opened with `flags` on x86-64 Linux: open(2)
    forces O_LARGEFILE; O_PATH keeps only O_PATH, O_DIRECTORY and O_NOFOLLOW."""
    if flags & O_PATH:
        return flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW)
    return (flags & ~_OPEN_ONLY_FLAGS) | O_LARGEFILE


def guest_status_flags(host_flags: int) -> int:
    """Translate a host F_GETFL value (of a descriptor we inherited) to guest flags."""
    flags = _HOST_ACCMODE.get(host_flags & os.O_ACCMODE, host_flags & os.O_ACCMODE)
    for guest_bit, host_bit in _OPEN_FLAG_MAP:
        if host_bit and host_flags & host_bit == host_bit:
            flags |= guest_bit
    if _HOST_O_LARGEFILE and host_flags & _HOST_O_LARGEFILE:
        flags |= O_LARGEFILE
    return flags & ~_OPEN_ONLY_FLAGS


_WHENCE_TO_HOST = {
    SEEK_SET: os.SEEK_SET,
    SEEK_CUR: os.SEEK_CUR,
    SEEK_END: os.SEEK_END,
    SEEK_DATA: getattr(os, "SEEK_DATA", -1),
    SEEK_HOLE: getattr(os, "SEEK_HOLE", -1),
}


# The host's own getdents64: same entries, order and cookies as the guest would get
# natively, and the host fd's offset stays the directory position.
_HOST_GETDENTS64_NR = {"x86_64": 217, "aarch64": 61}.get(os.uname().machine)


try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
except OSError:  # pragma: no cover - no dynamic libc
    libc = None


def host_getdents64(fd: int, size: int) -> bytes:
    """getdents64 on a host fd (the host's d_type, d_ino and d_off pass through)."""
    if libc is None or _HOST_GETDENTS64_NR is None:
        raise SysError(EINVAL, "no host getdents64")
    buf = ctypes.create_string_buffer(size)
    result = libc.syscall(ctypes.c_long(_HOST_GETDENTS64_NR), ctypes.c_long(fd), buf, ctypes.c_long(size))
    if result < 0:
        raise SysError(guest_errno(ctypes.get_errno()))
    return buf.raw[:result]
