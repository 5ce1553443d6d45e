"""pidfd: a process as a file (Linux's kernel/pid.c pidfd_fops).

It names one process for its whole life, whatever pid is reused later: pidfd_send_signal,
pidfd_getfd and waitid(P_PIDFD) act on it, and it polls readable once the process has
exited (a zombie or gone), with POLLHUP too once reaped. exit_notify and release_task
wake `ThreadGroup.pidfd_wait`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import O_RDWR, POLLHUP, POLLIN, POLLRDNORM
from pykern.anon_inode import anon_inode_stat
from pykern.fs.file import File
from pykern.fs.stat import Stat

if TYPE_CHECKING:
    from pykern.task import ThreadGroup
    from pykern.waitqueue import WaitQueue


class PidFd(File):
    kind = "pidfd"

    def __init__(self, group: ThreadGroup, flags: int) -> None:
        super().__init__(O_RDWR | flags)
        self.group = group

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        group = self.group
        if group.reaped:
            mask = POLLIN | POLLRDNORM | POLLHUP
        elif group.is_zombie:
            mask = POLLIN | POLLRDNORM
        else:
            mask = 0
        return mask, (group.pidfd_wait,), ()

    def stat(self) -> Stat:
        return anon_inode_stat()._replace(mode=0o700)  # pidfs' inode (Linux 6.9+): 0700
