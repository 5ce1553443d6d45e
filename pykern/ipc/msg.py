"""System V message queues (Linux's ipc/msg.c).

A queue holds (mtype, bytes) messages in the order they were sent, up to msg_qbytes
bytes (and as many messages). msgsnd sleeps while a message does not fit, msgrcv while
none matches its msgtyp (0: the first; > 0: the first of that type, or with MSG_EXCEPT
the first of another; < 0: the first of the lowest type <= |msgtyp|; MSG_COPY: a copy of
the one at index msgtyp). Both sleep on the queue's wait queues and are retried from the
top; IPC_RMID wakes them to EIDRM, a signal ends them with EINTR (never restarted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    E2BIG,
    EACCES,
    EAGAIN,
    EIDRM,
    EINVAL,
    ENOMSG,
    IPC_NOWAIT,
    MSG_COPY,
    MSG_EXCEPT,
    MSG_NOERROR,
)
from pykern.errors import Block, Restart, SysError
from pykern.ipc import IpcNamespace, IpcPerm, ipc_namespace, ipcget
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.task import Task

LONG_MAX = (1 << 63) - 1


class MsgQueue:
    """struct msg_queue."""

    def __init__(self, ns: IpcNamespace, perm: IpcPerm) -> None:
        self.ns = ns
        self.perm = perm
        self.messages: list[tuple[int, bytes]] = []
        self.cbytes = 0
        self.qbytes = ns.msg_ctlmnb
        self.stime = self.rtime = 0
        self.ctime = ns.now()
        self.lspid = self.lrpid = 0
        self.senders = WaitQueue("msgsnd")
        self.receivers = WaitQueue("msgrcv")

    @property
    def qnum(self) -> int:
        return len(self.messages)

    def remove(self) -> None:
        """freeque: sleepers wake to EIDRM."""
        self.ns.msg.remove(self)
        self.ns.msg_hdrs -= len(self.messages)
        self.ns.msg_bytes -= self.cbytes
        self.messages.clear()
        self.cbytes = 0
        self.senders.wake_all()
        self.receivers.wake_all()


def msgget(task: Task, key: int, msgflg: int) -> int:
    ns = ipc_namespace(task.kernel)
    return ipcget(ns.msg, task, key, msgflg,
                  lambda: ns.msg.add(MsgQueue(ns, IpcPerm(key, task, msgflg)), ns.msg_ctlmni))


def lookup(task: Task, msqid: int) -> MsgQueue:
    if msqid < 0:
        raise SysError(EINVAL)
    queue = ipc_namespace(task.kernel).msg.find_id(msqid)
    if queue is None:
        raise SysError(EINVAL)
    return queue  # type: ignore[return-value]


def _sleep(task: Task, queue: MsgQueue, wait: WaitQueue) -> Block:
    task.restart_state().msg_queue = queue
    return Block(wait, restart=Restart.ERESTARTNOHAND)  # a handler makes it EINTR, SA_RESTART or not


def _queue(task: Task, msqid: int, access: int) -> MsgQueue:
    """The queue of the first run (EINVAL, EACCES), or of the sleep being retried (EIDRM)."""
    queue = task.restart_block.msg_queue if task.restart_block is not None else None
    if queue is not None:
        if queue.perm.deleted:
            raise SysError(EIDRM)
        return queue
    queue = lookup(task, msqid)
    if not queue.perm.allowed(task, access):
        raise SysError(EACCES)
    return queue


def msgsnd(task: Task, msqid: int, mtype: int, text: bytes, msgflg: int) -> int:
    """do_msgsnd: the caller checked msgsz and mtype and copied the message in."""
    queue = _queue(task, msqid, 0o222)
    size = len(text)
    if size + queue.cbytes > queue.qbytes or 1 + queue.qnum > queue.qbytes:
        if msgflg & IPC_NOWAIT:
            raise SysError(EAGAIN)
        raise _sleep(task, queue, queue.senders)
    queue.messages.append((mtype, text))
    queue.cbytes += size
    queue.ns.msg_bytes += size
    queue.ns.msg_hdrs += 1
    queue.lspid = task.group.tgid
    queue.stime = queue.ns.now()
    queue.receivers.wake_all()
    return 0


def _find(queue: MsgQueue, msgtyp: int, msgflg: int) -> int | None:
    """find_msg: the index of the message msgrcv takes, or None."""
    messages = queue.messages
    if msgflg & MSG_COPY:  # SEARCH_NUMBER: the message at that place, if any
        return msgtyp if 0 <= msgtyp < len(messages) else None
    if msgtyp == 0:
        return 0 if messages else None
    if msgtyp < 0:
        bound = LONG_MAX if msgtyp == -(1 << 63) else -msgtyp
        best = None
        for i, (mtype, _) in enumerate(messages):
            if mtype <= bound and (best is None or mtype < messages[best][0]):
                best = i
        return best
    for i, (mtype, _) in enumerate(messages):
        if (mtype != msgtyp) if msgflg & MSG_EXCEPT else (mtype == msgtyp):
            return i
    return None


def msgrcv(task: Task, msqid: int, msgsz: int, msgtyp: int, msgflg: int) -> tuple[int, bytes]:
    """do_msgrcv: the (mtype, text) received, text cut to msgsz under MSG_NOERROR."""
    if msgflg & MSG_COPY and (msgflg & MSG_EXCEPT or not msgflg & IPC_NOWAIT):
        raise SysError(EINVAL)
    if msqid < 0 or msgsz < 0:
        raise SysError(EINVAL)
    queue = _queue(task, msqid, 0o444)
    index = _find(queue, msgtyp, msgflg)
    if index is None:
        if msgflg & IPC_NOWAIT:
            raise SysError(ENOMSG)
        raise _sleep(task, queue, queue.receivers)
    mtype, text = queue.messages[index]
    if len(text) > msgsz and not msgflg & MSG_NOERROR:
        raise SysError(E2BIG)
    if msgflg & MSG_COPY:
        return mtype, text[:msgsz]
    del queue.messages[index]
    queue.cbytes -= len(text)
    queue.ns.msg_bytes -= len(text)
    queue.ns.msg_hdrs -= 1
    queue.lrpid = task.group.tgid
    queue.rtime = queue.ns.now()
    queue.senders.wake_all()
    return mtype, text[:msgsz]


