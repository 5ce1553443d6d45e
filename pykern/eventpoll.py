"""epoll: an interest list of files, waited on together (Linux's fs/eventpoll.c).

The interest list maps (fd, file) to the events asked for and the user's 64-bit data.
epoll_wait asks each file what is ready (File.poll) and, with nothing ready, sleeps on
all their wait queues and host fds at once, like poll. Level-triggered by default;
EPOLLONESHOT disarms an entry once reported, until EPOLL_CTL_MOD; EPOLLET reports a
file again only when something happened to it since the last report: its wait queues
were woken (new data, a hang-up), or, for host fds, it was seen not ready in between. An entry goes when its
file is closed for good. A waiter also sleeps on the epoll's own queue, which epoll_ctl wakes: a file added
(or changed) while another thread waits is then watched too (Linux's ep_insert; Go's netpoller adds fds
while its poller thread sleeps in epoll_pwait).
"""

from __future__ import annotations

from pykern.abi import O_RDWR, POLLERR, POLLHUP, POLLIN, POLLRDNORM
from pykern.anon_inode import anon_inode_stat
from pykern.fs.file import File
from pykern.fs.stat import Stat
from pykern.waitqueue import WaitQueue

EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLL_FLAG_BITS = EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP


class Interest:
    __slots__ = ("events", "data", "armed", "seen", "wakeups")

    def __init__(self, events: int, data: int) -> None:
        self.events = events
        self.data = data
        self.armed = True  # EPOLLONESHOT: false once reported
        self.seen = 0  # EPOLLET: what was ready when last looked at
        self.wakeups = -1  # EPOLLET: its wait queues' wakeups when last reported


class EpollFile(File):
    kind = "eventpoll"

    def __init__(self, flags: int) -> None:
        super().__init__(O_RDWR | flags)
        self.interest: dict[tuple[int, File], Interest] = {}
        self.changed = WaitQueue("epoll_ctl")  # woken by ADD and MOD: waiters look again

    def stat(self) -> Stat:
        return anon_inode_stat()  # fstat of an epoll fd: Linux's anon inode

    def _armed(self) -> list[tuple[Interest, int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]]:
        """(entry, ready events, wait queues, host fds) of each armed entry, forgetting the
        entries whose file was closed for good."""
        found = []
        for key, entry in list(self.interest.items()):
            file = key[1]
            if file.refs <= 0:
                del self.interest[key]
                continue
            if entry.armed:
                wanted = entry.events & ~EPOLL_FLAG_BITS
                mask, waits, host = file.poll(wanted)
                found.append((entry, mask & (wanted | POLLERR | POLLHUP), waits, host))
        return found

    def ready(self, limit: int) -> tuple[list[tuple[int, int]], list[WaitQueue], list[tuple[int, str]]]:
        """(events, data) of up to `limit` ready entries, and what to sleep on if none."""
        found, queues, host_fds = [], [self.changed], []
        for entry, mask, waits, host in self._armed():
            queues += waits
            host_fds += host
            edge = bool(entry.events & EPOLLET)
            if edge:
                wakeups = sum(queue.wakeups for queue in waits)
                changed = wakeups != entry.wakeups or mask & ~entry.seen
                entry.seen = mask
                if not changed:
                    continue
            if mask and len(found) < limit:
                found.append((mask, entry.data))
                if edge:
                    entry.wakeups = wakeups
                if entry.events & EPOLLONESHOT:
                    entry.armed = False
        return found, queues, host_fds

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """An epoll fd is readable when one of its files is ready (epoll in epoll, poll)."""
        armed = self._armed()
        any_ready = any(mask for _, mask, _, _ in armed)
        queues = (self.changed, *(queue for _, _, waits, _ in armed for queue in waits))
        host_fds = tuple(fd for _, _, _, host in armed for fd in host)
        return (POLLIN | POLLRDNORM if any_ready else 0), queues, host_fds
