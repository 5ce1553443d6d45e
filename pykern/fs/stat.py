"""What stat(2), statx(2) and getdents64(2) write for the guest: `Stat` (struct stat's
fields, as every File and Inode reports them) and the packers of struct stat, struct
statx and struct linux_dirent64."""

from __future__ import annotations

import os
import stat as host_stat
import struct
from typing import TYPE_CHECKING, NamedTuple

from pykern.abi import (
    DIRENT64_HEAD,
    DT_BLK,
    DT_CHR,
    DT_DIR,
    DT_FIFO,
    DT_LNK,
    DT_REG,
    DT_SOCK,
    DT_UNKNOWN,
    EINVAL,
    STAT,
    STATX_BASIC_STATS,
    STATX_HEAD,
    STATX_SIZE,
    STATX_TS,
)
from pykern.errors import SysError

if TYPE_CHECKING:
    pass


class Stat(NamedTuple):
    """The fields of struct stat, as any File reports them."""

    dev: int
    ino: int
    nlink: int
    mode: int
    uid: int
    gid: int
    rdev: int
    size: int
    blksize: int
    blocks: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def from_host(cls, st: os.stat_result) -> Stat:
        # Mode bits and dev_t encodings are the Linux ones: the host is Linux.
        return cls(
            st.st_dev, st.st_ino, st.st_nlink, st.st_mode, st.st_uid, st.st_gid, st.st_rdev,
            st.st_size, st.st_blksize, st.st_blocks, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns,
        )  # fmt: skip


def pack_stat(st: Stat) -> bytes:
    """struct stat (x86-64, 144 bytes)."""
    return STAT.pack(
        st.dev, st.ino, st.nlink, st.mode, st.uid, st.gid, 0, st.rdev, st.size, st.blksize, st.blocks,
        *divmod(st.atime_ns, 10**9), *divmod(st.mtime_ns, 10**9), *divmod(st.ctime_ns, 10**9),
    )  # fmt: skip


def _dev_major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF & 0xFFFFFFFF)


def _dev_minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF & 0xFFFFFFFF)


def pack_statx(st: Stat) -> bytes:
    """struct statx (256 bytes) with the basic stats. Deviation: Linux also fills
    stx_btime and stx_mnt_id where the file system has them; we report only
    STATX_BASIC_STATS in stx_mask."""

    def ts(ns: int) -> bytes:
        sec, nsec = divmod(ns, 10**9)
        return STATX_TS.pack(sec, nsec, 0)

    head = STATX_HEAD.pack(
        STATX_BASIC_STATS, st.blksize, 0, st.nlink, st.uid, st.gid, st.mode & 0xFFFF, st.ino,
        st.size, st.blocks, 0,
    )  # fmt: skip
    times = ts(st.atime_ns) + STATX_TS.pack(0, 0, 0) + ts(st.ctime_ns) + ts(st.mtime_ns)
    devs = struct.pack(
        "<IIII", _dev_major(st.rdev), _dev_minor(st.rdev), _dev_major(st.dev), _dev_minor(st.dev)
    )
    out = head + times + devs
    return out + bytes(STATX_SIZE - len(out))


def _dirent64_reclen(name: bytes) -> int:
    return (DIRENT64_HEAD.size + len(name) + 1 + 7) & ~7


def pack_dirent64(ino: int, offset: int, dtype: int, name: bytes) -> bytes:
    """One struct linux_dirent64: header, NUL-terminated name, padded to 8 bytes."""
    reclen = _dirent64_reclen(name)
    record = DIRENT64_HEAD.pack(ino, offset, reclen, dtype) + name + b"\0"
    return record + bytes(reclen - len(record))


def pack_dirents64(entries: list[tuple[int, int, int, bytes]], start: int, size: int) -> tuple[bytes, int]:
    """Pack entries[start:] as (ino, cookie, d_type, name) records into at most `size`
    bytes. Returns the bytes and the index of the first entry left out. EINVAL when not
    even one entry fits (getdents64(2)); b"" at the end of the directory."""
    out = bytearray()
    index = start
    while index < len(entries):
        ino, cookie, dtype, name = entries[index]
        if len(out) + _dirent64_reclen(name) > size:
            if not out:
                raise SysError(EINVAL)
            break
        out += pack_dirent64(ino, cookie, dtype, name)
        index += 1
    return bytes(out), index


def dtype_of_mode(mode: int) -> int:
    return {
        host_stat.S_IFREG: DT_REG,
        host_stat.S_IFDIR: DT_DIR,
        host_stat.S_IFLNK: DT_LNK,
        host_stat.S_IFCHR: DT_CHR,
        host_stat.S_IFBLK: DT_BLK,
        host_stat.S_IFIFO: DT_FIFO,
        host_stat.S_IFSOCK: DT_SOCK,
    }.get(host_stat.S_IFMT(mode), DT_UNKNOWN)
