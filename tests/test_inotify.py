"""inotify's queue and getdents' record conversion without Unicorn (the behaviour against
Linux is testbins/inotify.c and testbins/getdents.c)."""

from __future__ import annotations

import pytest

from pykern import abi
from pykern.errors import Block, SysError
from pykern.fs import inotify
from pykern.fs.stat import pack_dirents64
from pykern.syscalls.file import linux_dirents


@pytest.fixture
def group():
    file = inotify.InotifyFile(abi.O_NONBLOCK)
    yield file
    file.release()
    assert not inotify.WATCHES


def test_record_is_padded_to_16_bytes(group) -> None:
    wd = group.add_watch("key", abi.IN_CREATE)
    inotify._send("key", abi.IN_CREATE, 0, b"abc")
    data = group.read(None, 4096)
    assert len(data) == 32
    assert abi.INOTIFY_EVENT.unpack_from(data) == (wd, abi.IN_CREATE, 0, 16)
    assert data[16:32] == b"abc" + bytes(13)


def test_equal_events_merge_and_the_queue_overflows_once(group) -> None:
    wd = group.add_watch("key", abi.IN_MODIFY)
    inotify._send("key", abi.IN_MODIFY)
    inotify._send("key", abi.IN_MODIFY)
    assert len(group.events) == 1
    for index in range(abi.INOTIFY_MAX_QUEUED_EVENTS + 5):
        group.queue(wd, abi.IN_MODIFY, 0, b"%d" % index)
    assert len(group.events) == abi.INOTIFY_MAX_QUEUED_EVENTS + 1
    assert group.events[-1] == (-1, abi.IN_Q_OVERFLOW, 0, b"")


def test_read_errors_and_blocking() -> None:
    blocking = inotify.InotifyFile(0)
    with pytest.raises(Block):
        blocking.read(None, 4096)
    blocking.add_watch("k", abi.IN_CREATE)
    inotify._send("k", abi.IN_CREATE, 0, b"name")
    with pytest.raises(SysError) as error:
        blocking.read(None, 16)  # the event is 32 bytes
    assert error.value.errno == abi.EINVAL
    blocking.release()


def test_oneshot_and_rm_watch_end_with_ignored(group) -> None:
    once = group.add_watch("once", abi.IN_MODIFY | abi.IN_ONESHOT)
    kept = group.add_watch("kept", abi.IN_MODIFY)
    assert group.add_watch("kept", abi.IN_ATTRIB | abi.IN_MASK_ADD) == kept
    inotify._send("once", abi.IN_MODIFY)
    inotify._send("once", abi.IN_MODIFY)
    group.rm_watch(kept)
    with pytest.raises(SysError):
        group.rm_watch(kept)
    assert [(wd, mask) for wd, mask, _, _ in group.events] == [
        (once, abi.IN_MODIFY), (once, abi.IN_IGNORED), (kept, abi.IN_IGNORED)]


def test_linux_dirent_keeps_sizes_and_puts_d_type_last() -> None:
    entries = [(5, 1, abi.DT_DIR, b"."), (7, 2, abi.DT_REG, b"a" * 13)]
    data, _ = pack_dirents64(entries, 0, 4096)
    old = linux_dirents(data)
    assert len(old) == len(data)
    ino, off, reclen = abi.DIRENT_HEAD.unpack_from(old)
    assert (ino, off, reclen) == (5, 1, 24) and old[18:20] == b".\0" and old[23] == abi.DT_DIR
    ino, off, reclen = abi.DIRENT_HEAD.unpack_from(old, 24)
    assert (ino, off) == (7, 2) and old[24 + 18 : 24 + 31] == b"a" * 13 and old[24 + reclen - 1] == abi.DT_REG
