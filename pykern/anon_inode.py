"""The one inode behind the kernel's anonymous files (Linux's fs/anon_inodes.c): signalfd,
timerfd, pidfd. fstat shows it as Linux does: mode 0600 with no file type bits, owned by
root, on the anon_inodefs device."""

from __future__ import annotations

from pykern.fs.stat import Stat

ANON_INODE_DEV = 0xF  # anon_inodefs' anonymous device number on a fresh boot (varies)
ANON_INODE_INO = 1


def anon_inode_stat() -> Stat:
    return Stat(dev=ANON_INODE_DEV, ino=ANON_INODE_INO, nlink=1, mode=0o600, uid=0, gid=0, rdev=0, size=0,
                blksize=4096, blocks=0, atime_ns=0, mtime_ns=0, ctime_ns=0)
