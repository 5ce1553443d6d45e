"""Unit tests for pykern.fs.{hostio,stat,file,fdtable} without Unicorn: fd tables, the errno seam, status flags,
stat/statx/dirent packing and host files. (The path walk: test_namei.py.)"""

from __future__ import annotations

import errno as host_errno
import os
import stat as host_stat

import pytest

from pykern import abi
from pykern.abi import (
    DIRENT64_HEAD,
    DT_DIR,
    DT_REG,
    EBADF,
    EEXIST,
    EINVAL,
    EMFILE,
    ENOENT,
    ENOTDIR,
    ENOTSUP,
    ENOTTY,
    EOPNOTSUPP,
    ESPIPE,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_LARGEFILE,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_SYNC,
    O_TRUNC,
    O_WRONLY,
    SEEK_END,
    SEEK_SET,
    STAT,
    STATX_BASIC_STATS,
    STATX_SIZE,
    TCGETS,
)
from pykern.errors import SysError
from pykern.fs.fdtable import FdTable
from pykern.fs.file import File, HostFile, HostStream
from pykern.fs.hostio import file_status_flags, guest_errno, guest_status_flags, host_errors, host_open_flags
from pykern.fs.stat import Stat, pack_dirent64, pack_dirents64, pack_stat, pack_statx


class Dummy(File):
    """A File that records its release."""

    def __init__(self, name: str = "dummy") -> None:
        super().__init__(O_RDWR, name)
        self.released = 0

    def release(self) -> None:
        self.released += 1


def errno_of(excinfo: pytest.ExceptionInfo[SysError]) -> int:
    return excinfo.value.errno


# --- FdTable ---------------------------------------------------------------------------------


def test_install_takes_lowest_free_fd() -> None:
    table = FdTable()
    files = [Dummy(str(i)) for i in range(4)]
    assert [table.install(f) for f in files] == [0, 1, 2, 3]
    table.close(1)
    assert table.install(Dummy()) == 1
    assert table.install(Dummy(), lowest=10) == 10
    assert table.install(Dummy(), lowest=10) == 11
    assert table.install(Dummy()) == 4


def test_install_emfile_past_limit() -> None:
    table = FdTable(max_fds=3)
    for _ in range(3):
        table.install(Dummy())
    with pytest.raises(SysError) as excinfo:
        table.install(Dummy())
    assert errno_of(excinfo) == EMFILE
    with pytest.raises(SysError) as excinfo:
        table.lowest_free()
    assert errno_of(excinfo) == EMFILE


def test_get_and_close_bad_fd() -> None:
    table = FdTable()
    for call in (lambda: table.get(5), lambda: table.close(5), lambda: table.get_cloexec(5)):
        with pytest.raises(SysError) as excinfo:
            call()
        assert errno_of(excinfo) == EBADF


def test_refs_and_release_on_last_close() -> None:
    table = FdTable()
    file = Dummy()
    fd = table.install(file)
    dup = table.install(file)
    assert file.refs == 2
    table.close(fd)
    assert file.released == 0
    table.close(dup)
    assert file.refs == 0 and file.released == 1


def test_install_at_closes_previous() -> None:
    table = FdTable()
    old, new = Dummy("old"), Dummy("new")
    table.install_at(5, old, cloexec=True)
    assert table.get_cloexec(5)
    table.install_at(5, new)
    assert old.released == 1 and table.get(5) is new
    assert not table.get_cloexec(5)  # dup2 clears FD_CLOEXEC


def test_install_at_same_file_is_safe() -> None:
    table = FdTable()
    file = Dummy()
    table.install_at(3, file)
    table.install_at(3, file)
    assert file.refs == 1 and file.released == 0


def test_install_at_range() -> None:
    table = FdTable(max_fds=8)
    for fd in (-1, 8):
        with pytest.raises(SysError) as excinfo:
            table.install_at(fd, Dummy())
        assert errno_of(excinfo) == EBADF


def test_cloexec_flags_and_close_on_exec() -> None:
    table = FdTable()
    keep, drop = Dummy("keep"), Dummy("drop")
    table.install(keep)
    fd = table.install(drop, cloexec=True)
    assert table.get_cloexec(fd)
    table.set_cloexec(0, True)
    table.set_cloexec(0, False)
    table.close_on_exec()
    assert drop.released == 1 and keep.released == 0
    assert sorted(table.files) == [0]
    assert table.cloexec == set()


def test_fork_shares_files_and_counts_refs() -> None:
    table = FdTable()
    file = Dummy()
    table.install(file)
    table.install(file, cloexec=True)
    child = table.fork()
    assert file.refs == 4
    assert child.get(0) is file and child.get_cloexec(1)
    child.close_all()
    assert file.refs == 2 and file.released == 0
    table.close_all()
    assert file.released == 1 and len(table) == 0


# --- errno seam --------------------------------------------------------------------------------


def test_errno_mapping_by_name() -> None:
    assert guest_errno(host_errno.ENOENT) == ENOENT
    assert guest_errno(host_errno.EEXIST) == EEXIST
    # Python names 95 ENOTSUP and 35 EDEADLOCK; the guest table spells them otherwise.
    assert guest_errno(host_errno.ENOTSUP) == EOPNOTSUPP == ENOTSUP
    assert guest_errno(host_errno.EDEADLK) == abi.EDEADLK
    assert guest_errno(99999) == abi.EIO


def test_host_errors_translates_oserror(tmp_path) -> None:
    with pytest.raises(SysError) as excinfo, host_errors():
        os.stat(tmp_path / "missing")
    assert errno_of(excinfo) == ENOENT
    with pytest.raises(SysError) as excinfo, host_errors():
        os.mkdir(tmp_path)
    assert errno_of(excinfo) == EEXIST


# --- flags ----------------------------------------------------------------------------------------


def test_open_flags_translate_to_host() -> None:
    assert host_open_flags(O_WRONLY | O_CREAT | O_EXCL) == os.O_WRONLY | os.O_CREAT | os.O_EXCL
    assert host_open_flags(O_RDONLY | O_DIRECTORY | O_NOFOLLOW) == os.O_DIRECTORY | os.O_NOFOLLOW
    assert host_open_flags(O_RDWR | O_SYNC) & os.O_SYNC == os.O_SYNC
    assert host_open_flags(O_RDWR | O_CLOEXEC) == os.O_RDWR  # cloexec lives in the FdTable


def test_status_flags_as_f_getfl_reports_them() -> None:
    # Measured on x86-64 Linux: open forces O_LARGEFILE and drops the open-only flags.
    assert file_status_flags(O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC) == O_RDWR | O_LARGEFILE
    assert file_status_flags(O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) == 0o700000
    assert file_status_flags(O_PATH | O_CLOEXEC) == O_PATH
    host = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK
    assert guest_status_flags(host) == O_WRONLY | O_APPEND | O_NONBLOCK


def test_setfl_changes_only_setfl_bits() -> None:
    file = Dummy()
    file.flags = O_RDWR | O_LARGEFILE
    file.set_status_flags(O_WRONLY | O_APPEND | O_NONBLOCK | O_TRUNC)
    assert file.flags == O_RDWR | O_LARGEFILE | O_APPEND | O_NONBLOCK


# --- packing ------------------------------------------------------------------------------------------


def test_dirent64_packing() -> None:
    record = pack_dirent64(42, 7, DT_REG, b"abc")
    assert len(record) == 24 and len(record) % 8 == 0
    ino, off, reclen, dtype = DIRENT64_HEAD.unpack_from(record)
    assert (ino, off, reclen, dtype) == (42, 7, 24, DT_REG)
    assert record[DIRENT64_HEAD.size :].rstrip(b"\0") == b"abc"
    assert len(pack_dirent64(1, 1, DT_REG, b"x" * 5)) == 32  # 19 + 5 + NUL = 25, padded
    entries = [(1, 1, DT_DIR, b"."), (2, 2, DT_DIR, b".."), (3, 3, DT_REG, b"file")]
    data, next_index = pack_dirents64(entries, 0, 48)
    assert next_index == 2 and len(data) == 48
    data, next_index = pack_dirents64(entries, next_index, 4096)
    assert next_index == 3 and len(data) == 24
    assert pack_dirents64(entries, 3, 4096) == (b"", 3)
    with pytest.raises(SysError) as excinfo:
        pack_dirents64(entries, 0, 10)
    assert errno_of(excinfo) == EINVAL


def test_stat_packing(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    st = Stat.from_host(os.stat(path))
    raw = pack_stat(st)
    assert len(raw) == 144
    fields = STAT.unpack(raw)
    assert fields[1] == os.stat(path).st_ino and fields[8] == 5
    assert host_stat.S_ISREG(fields[3])
    assert fields[13] * 10**9 + fields[14] == os.stat(path).st_mtime_ns
    statx = pack_statx(st)
    assert len(statx) == STATX_SIZE
    assert int.from_bytes(statx[0:4], "little") == STATX_BASIC_STATS
    assert int.from_bytes(statx[40:48], "little") == 5  # stx_size


# --- host files ---------------------------------------------------------------------------------------


def test_hostfile_read_write_seek(tmp_path) -> None:
    path = str(tmp_path / "f")
    file = HostFile.open(path, O_RDWR | O_CREAT | O_EXCL, 0o644, 0o022)
    file.get_file()
    assert file.flags == O_RDWR | O_LARGEFILE and file.seekable
    assert file.write(None, b"hello") == 5  # type: ignore[arg-type]
    assert file.lseek(0, SEEK_SET) == 0
    assert file.read(None, 100) == b"hello"  # type: ignore[arg-type]
    assert file.pread(3, 1) == b"ell"
    assert file.lseek(0, SEEK_END) == 5
    with pytest.raises(SysError) as excinfo:
        file.lseek(0, 99)
    assert errno_of(excinfo) == EINVAL
    with pytest.raises(SysError) as excinfo:
        file.getdents64(4096)
    assert errno_of(excinfo) == ENOTDIR
    with pytest.raises(SysError) as excinfo:
        file.ioctl(None, TCGETS, 0)  # type: ignore[arg-type]
    assert errno_of(excinfo) == ENOTTY
    assert os.stat(path).st_mode & 0o777 == 0o644
    file.fput()
    assert file.host_fd == -1
    with pytest.raises(SysError) as excinfo:
        HostFile.open(path, O_RDWR | O_CREAT | O_EXCL, 0o644, 0o022)
    assert errno_of(excinfo) == EEXIST


def test_guest_umask_replaces_ours(tmp_path) -> None:
    file = HostFile.open(str(tmp_path / "f"), O_WRONLY | O_CREAT, 0o666, 0o077)
    file.release()
    assert os.stat(tmp_path / "f").st_mode & 0o777 == 0o600


def test_hostfile_getdents64_and_rewind(tmp_path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub").mkdir()
    directory = HostFile.open(str(tmp_path), O_RDONLY | O_DIRECTORY, 0, 0o022)
    data = directory.getdents64(4096)
    names = {}
    pos = 0
    while pos < len(data):
        _ino, _off, reclen, dtype = DIRENT64_HEAD.unpack_from(data, pos)
        name = data[pos + DIRENT64_HEAD.size : pos + reclen].split(b"\0")[0]
        names[name] = dtype
        pos += reclen
    assert names == {b".": DT_DIR, b"..": DT_DIR, b"a": DT_REG, b"b": DT_REG, b"sub": DT_DIR}
    assert directory.getdents64(4096) == b""
    directory.lseek(0, SEEK_SET)
    assert directory.getdents64(4096) == data
    directory.release()


def test_pipe_like_host_fd_is_not_seekable() -> None:
    read_end, write_end = os.pipe()
    try:
        file = HostFile(read_end, O_RDONLY)
        assert file.pollable and not file.seekable
        with pytest.raises(SysError) as excinfo:
            file.lseek(0, SEEK_SET)
        assert errno_of(excinfo) == ESPIPE
        file.flags |= O_NONBLOCK
        with pytest.raises(SysError) as excinfo:
            file.read(None, 10)  # type: ignore[arg-type]
        assert errno_of(excinfo) == abi.EAGAIN
        os.write(write_end, b"x")
        assert file.read(None, 10) == b"x"  # type: ignore[arg-type]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_blocking_read_on_empty_host_pipe_raises_block() -> None:
    from pykern.errors import Block

    read_end, write_end = os.pipe()
    try:
        file = HostFile(read_end, O_RDONLY)
        with pytest.raises(Block) as excinfo:
            file.read(None, 10)  # type: ignore[arg-type]
        assert excinfo.value.host_fds == ((read_end, "r"),)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stream_nonblock_is_not_set_on_the_host() -> None:
    read_end, write_end = os.pipe()
    try:
        stream = HostStream.inherit(read_end)
        assert stream.host_fd != read_end  # a dup: closing it leaves ours alone
        stream.set_status_flags(O_NONBLOCK)
        assert stream.nonblocking
        assert os.get_blocking(read_end)
        stream.release()
        os.fstat(read_end)  # still open
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stat_namedtuple_from_host(tmp_path) -> None:
    st = Stat.from_host(os.stat(tmp_path))
    assert host_stat.S_ISDIR(st.mode) and st.ino == os.stat(tmp_path).st_ino
