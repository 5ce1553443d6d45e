"""POSIX message queues (Linux's ipc/mqueue.c): a file system of queues.

`MqueueFS` is the kernel's one mqueue file system: mq_open and mq_unlink find queues in
its root by name, and it is mounted at /dev/mqueue, where the queues are files (made by
mq_open or open(O_CREAT), removed by mq_unlink or unlink) whose text is Linux's
"QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:..." line. An open queue is an `MqueueFile`:
mq_timedsend and mq_timedreceive work on any of them (opened either way), poll, select
and epoll see POLLIN while a message waits and POLLOUT while one more fits.

Messages are kept by priority (highest first), in sending order within a priority.
Senders and receivers sleep on the queue's wait queues and are retried from the top;
a signal ends the sleep with ERESTARTSYS (restarted under SA_RESTART, as on Linux).
mq_notify registers one process: the first message into an empty queue with no receiver
waiting sends it the signal (SIGEV_SIGNAL, si_code SI_MESGQ) or nothing (SIGEV_NONE),
and ends the registration. SIGEV_THREAD is glibc's: its helper thread reads a netlink
socket, to which the notification (or the end of the registration) comes as glibc's
32-byte cookie with NOTIFY_WOKENUP (or NOTIFY_REMOVED) in its last byte, as
netlink_sendskb queues it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pykern.abi import (
    CAP_SYS_RESOURCE,
    EACCES,
    EBADF,
    EINVAL,
    ENAMETOOLONG,
    ENOENT,
    EOVERFLOW,
    EPERM,
    HARD_MSGMAX,
    HARD_MSGSIZEMAX,
    NOTIFY_COOKIE_LEN,
    NOTIFY_REMOVED,
    NOTIFY_WOKENUP,
    O_ACCMODE,
    O_PATH,
    O_RDONLY,
    O_WRONLY,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    S_IFDIR,
    S_IFREG,
    SI_MESGQ,
    SIGEV_SIGNAL,
    SIGEV_THREAD,
)
from pykern.errors import SysError
from pykern.fs.file import File
from pykern.fs.libfs import PathFile
from pykern.fs.stat import Stat
from pykern.fs.tmpfs import TmpDir, TmpFS, TmpInode
from pykern.sigtypes import SigInfo
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.inode import Inode
    from pykern.ipc import IpcNamespace
    from pykern.task import Task

FILENT_SIZE = 80  # a queue file's st_size (Linux's FILENT_SIZE)
MIN_MSGMAX = 1
MIN_MSGSIZEMAX = 128


class MqueueFS(TmpFS):
    """The mqueue file system (one per IPC namespace)."""

    fstype = "mqueue"
    source = "mqueue"

    def __init__(self, ns: IpcNamespace) -> None:
        self.ns = ns
        super().__init__(0o1777)
        self._root: MqueueDir = MqueueDir(self, None, S_IFDIR | 0o1777, 0, 0)
        self.unlinked_open: set[Mqueue] = set()  # removed, still open: still charged

    def root(self) -> MqueueDir:
        return self._root

    def queues(self) -> list[Mqueue]:
        """Every queue that exists: named, or unlinked with a descriptor still open."""
        named = [q for q in self._root.children.values() if isinstance(q, Mqueue)]
        return named + list(self.unlinked_open)

    def statfs(self, inode: Inode) -> bytes | None:
        return None


class MqueueDir(TmpDir):
    """The root of the mqueue file system: only queues live here."""

    fs: MqueueFS

    def create(self, task: Task, name: bytes, flags: int, mode: int) -> File:
        """open(O_CREAT) in /dev/mqueue: a queue with the default attributes."""
        queue = self.make_queue(task, name, mode, None)
        return queue.open(task, flags)

    def make_queue(self, task: Task, name: bytes, mode: int, attr: tuple[int, int] | None) -> Mqueue:
        if attr is None:
            ns = self.fs.ns
            attr = (min(ns.mq_msg_max, ns.mq_msg_default), min(ns.mq_msgsize_max, ns.mq_msgsize_default))
        umask = task.group.fs.umask
        queue = Mqueue(self.fs, self, S_IFREG | (mode & 0o7777 & ~umask), *self._creds(task), attr)
        self._add(task, name, queue)
        return queue

    def mkdir(self, task: Task, name: bytes, mode: int) -> None:
        raise SysError(EPERM)

    def mknod(self, task: Task, name: bytes, mode: int, dev: int) -> None:
        raise SysError(EPERM)

    def symlink(self, task: Task, name: bytes, target: bytes) -> None:
        raise SysError(EPERM)

    def link(self, task: Task, name: bytes, inode: Inode) -> None:
        raise SysError(EPERM)

    def rename(self, task: Task, name: bytes, new_dir: Inode, new_name: bytes, flags: int) -> None:
        raise SysError(EPERM)

    def unlink(self, task: Task, name: bytes) -> None:
        queue = self.children.get(name)
        super().unlink(task, name)
        if isinstance(queue, Mqueue) and queue.opened:
            self.fs.unlinked_open.add(queue)


class Mqueue(TmpInode):
    """One queue: struct mqueue_inode_info."""

    def __init__(self, fs: MqueueFS, parent: MqueueDir, mode: int, uid: int, gid: int,
                 attr: tuple[int, int]) -> None:
        super().__init__(fs, parent, mode, uid, gid)
        self.maxmsg, self.msgsize = attr
        self.messages: list[tuple[int, bytes]] = []  # highest priority first, FIFO within one
        self.qsize = 0
        self.receivers = WaitQueue("mq_receive")
        self.senders = WaitQueue("mq_send")
        self.receiving: set[Task] = set()  # asleep in mq_timedreceive (a notification waits for none)
        self.notify_owner = 0  # the registered process's pid (0: none)
        # sigev_notify, sigev_signo, sigev_value; for SIGEV_THREAD the netlink socket and
        # glibc's 32-byte cookie instead of the last two
        self.notify: tuple[int, Any, Any] = (0, 0, 0)
        self.opened = 0  # open descriptions
        self.charge = 0  # RLIMIT_MSGQUEUE bytes charged to charged_uid
        self.charged_uid = 0

    def size(self) -> int:
        return FILENT_SIZE

    def open(self, task: Task, flags: int) -> File:
        if flags & O_PATH:
            return PathFile(self, flags)
        return MqueueFile(self, flags, task.group.tgid)

    def describe(self) -> bytes:
        """mqueue_read_file's line."""
        owner = self.notify_owner
        notify = self.notify[0] if owner else 0
        signo = self.notify[1] if owner and self.notify[0] == SIGEV_SIGNAL else 0
        return f"QSIZE:{self.qsize:<10} NOTIFY:{notify:<5} SIGNO:{signo:<5} NOTIFY_PID:{owner:<6}\n".encode()

    @property
    def curmsgs(self) -> int:
        return len(self.messages)

    def changed(self) -> None:
        self.atime_ns = self.mtime_ns = self.ctime_ns = time.time_ns()

    # --- sending and receiving (the caller checked the descriptor and the sizes) -----------

    def send(self, task: Task, data: bytes, prio: int) -> None:
        index = next((i for i, (p, _) in enumerate(self.messages) if p < prio), len(self.messages))
        self.messages.insert(index, (prio, data))
        self.qsize += len(data)
        self.changed()
        if self.receiving:
            self.receivers.wake_all()
        elif len(self.messages) == 1:
            self._do_notify(task)

    def receive(self) -> tuple[int, bytes]:
        prio, data = self.messages.pop(0)
        self.qsize -= len(data)
        self.changed()
        self.senders.wake_all()
        return prio, data

    def _do_notify(self, task: Task) -> None:
        """__do_notify: the registered process hears of the first message, once."""
        owner = self.notify_owner
        if not owner:
            return
        notify, signo, value = self.notify
        self.notify_owner = 0
        if notify == SIGEV_THREAD:
            signo.deliver_local(value[:NOTIFY_COOKIE_LEN - 1] + bytes([NOTIFY_WOKENUP]))
            return
        if notify != SIGEV_SIGNAL:
            return
        group = task.kernel.groups.get(owner)
        if group is None or group.is_zombie:
            return
        info = SigInfo(signo, SI_MESGQ, pid=task.group.tgid, uid=task.group.creds.uid, value=value)
        task.kernel.signals.send(group, info)

    def remove_notification(self) -> None:
        """remove_notification: the registration ends unused; a SIGEV_THREAD one tells
        glibc's helper thread so (NOTIFY_REMOVED), and it cleans up."""
        notify, sock, cookie = self.notify
        if self.notify_owner and notify == SIGEV_THREAD:
            sock.deliver_local(cookie[:NOTIFY_COOKIE_LEN - 1] + bytes([NOTIFY_REMOVED]))
        self.notify_owner = 0
        self.notify = (0, 0, 0)

    def poll_mask(self) -> int:
        mask = POLLIN | POLLRDNORM if self.messages else 0
        if len(self.messages) < self.maxmsg:
            mask |= POLLOUT | POLLWRNORM
        return mask


class MqueueFile(File):
    """An open queue (mq_open's descriptor, or open(2) of a file in /dev/mqueue)."""

    kind = "mqueue"
    seekable = True

    def __init__(self, queue: Mqueue, flags: int, opener: int = 0) -> None:
        super().__init__(flags)
        self.queue = queue
        self.opener = opener  # the process that opened it
        self.pos = 0
        queue.opened += 1

    def stat(self) -> Stat:
        return self.queue.stat()

    def link_target(self) -> bytes:
        return self.queue.name_in_fs()

    def read(self, task: Task, size: int) -> bytes:
        text = self.queue.describe()
        chunk = text[self.pos : self.pos + size]
        self.pos += len(chunk)
        self.queue.atime_ns = time.time_ns()
        return chunk

    def pread(self, size: int, offset: int) -> bytes:
        return self.queue.describe()[offset : offset + size]

    def lseek(self, offset: int, whence: int) -> int:
        new = {0: offset, 1: self.pos + offset}.get(whence)
        if new is None or new < 0:
            raise SysError(EINVAL)
        self.pos = new
        return new

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        return self.queue.poll_mask(), (self.queue.receivers, self.queue.senders), ()

    def release(self) -> None:
        """The last descriptor of this open queue is closed: the opener's notification
        ends. (Linux's mqueue_flush_file ends the closer's at each close(); pykern
        sees the last one, made by the opener or a process that inherited it.)"""
        queue = self.queue
        if queue.notify_owner and queue.notify_owner == self.opener:
            queue.remove_notification()
        queue.opened -= 1
        if not queue.opened:
            queue.fs.unlinked_open.discard(queue)  # type: ignore[attr-defined]


def check_name(name: bytes) -> None:
    """lookup_one_len's rules for mq_open's and mq_unlink's name (glibc took the "/")."""
    if not name:
        raise SysError(ENOENT)
    if b"/" in name or name in (b".", b".."):
        raise SysError(EACCES)
    if len(name) > 255:
        raise SysError(ENAMETOOLONG)


def queue_fs(task: Task) -> MqueueFS:
    from pykern.ipc import ipc_namespace

    return ipc_namespace(task.kernel).mqueue


def queue_of(task: Task, mqdes: int) -> MqueueFile:
    """The open queue behind a descriptor (EBADF for anything else)."""
    try:
        file = task.group.files.get(mqdes)
    except SysError:
        raise SysError(EBADF) from None
    if not isinstance(file, MqueueFile):
        raise SysError(EBADF)
    return file


def open_existing(task: Task, queue: Mqueue, oflag: int) -> MqueueFile:
    """prepare_open for a queue that exists: the access mode against its permissions."""
    accmode = oflag & O_ACCMODE
    if accmode == O_ACCMODE:
        raise SysError(EINVAL)
    want = {O_RDONLY: 0o4, O_WRONLY: 0o2}.get(accmode, 0o6)
    try:
        queue.access(task, want, True, True)
    except SysError:
        raise SysError(EACCES) from None
    return MqueueFile(queue, oflag, task.group.tgid)


def valid_attr(task: Task, maxmsg: int, msgsize: int) -> None:
    """mq_attr_ok."""
    if maxmsg <= 0 or msgsize <= 0:
        raise SysError(EINVAL)
    if not task.group.creds.capable(CAP_SYS_RESOURCE):
        ns = queue_fs(task).ns
        if maxmsg > ns.mq_msg_max or msgsize > ns.mq_msgsize_max:
            raise SysError(EINVAL)
    elif maxmsg > HARD_MSGMAX or msgsize > HARD_MSGSIZEMAX:
        raise SysError(EINVAL)
    if maxmsg * 8 + maxmsg * msgsize > (1 << 63) - 1:
        raise SysError(EOVERFLOW)

