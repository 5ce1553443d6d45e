"""POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify,
mq_getsetattr (Linux's ipc/mqueue.c). The queues are pykern.ipc.mqueue's."""

from __future__ import annotations

from pykern.abi import (
    CAP_SYS_RESOURCE,
    EAGAIN,
    EBADF,
    EBUSY,
    EEXIST,
    EINVAL,
    EMFILE,
    EMSGSIZE,
    ENOENT,
    ENOSPC,
    ENOTSOCK,
    ETIMEDOUT,
    MQ_ATTR,
    MQ_PRIO_MAX,
    NOTIFY_COOKIE_LEN,
    NSEC_PER_SEC,
    NSIG,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_NONBLOCK,
    O_TRUNC,
    RLIMIT_MSGQUEUE,
    SIGEV_NONE,
    SIGEV_SIGNAL,
    SIGEV_THREAD,
    SIGEVENT,
)
from pykern.errors import Block, SysError
from pykern.ipc import ipc_namespace
from pykern.ipc.mqueue import Mqueue, MqueueFile, check_name, open_existing, queue_of, valid_attr
from pykern.netlink import NetlinkSocket
from pykern.syscalls.table import syscall
from pykern.syscalls.time import copy_in_timespec_ns
from pykern.sysent import FD, MODE, OPEN_FLAGS, SIZE, UINT, Kind
from pykern.task import Task

MQ_NAME = Kind("path")  # shown quoted, as strace shows the name
MQ_ATTR_IN = Kind("mq_attr_in")
MQ_ATTR_OUT = Kind("mq_attr_out", out=True)
MSG_IN = Kind("buf_in")
MQ_MSG_OUT = Kind("mq_msg_out", out=True)
TIMESPEC_IN = Kind("timespec_in")
SIGEVENT_IN = Kind("sigevent_in")
UINT_OUT = Kind("uint_out", out=True)
MSG_TREE_NODE = 48  # sizeof(struct msg_msg) and of struct posix_msg_tree_node: RLIMIT_MSGQUEUE's account


def _name(task: Task, name_addr: int) -> bytes:
    name = task.mm.copy_in_str(name_addr)
    check_name(name)
    return name


def _charge(task: Task, maxmsg: int, msgsize: int) -> int:
    """RLIMIT_MSGQUEUE: the bytes a new queue costs its creator's user (EMFILE past it)."""
    cost = maxmsg * msgsize + maxmsg * MSG_TREE_NODE + min(maxmsg, MQ_PRIO_MAX) * MSG_TREE_NODE
    ns = ipc_namespace(task.kernel)
    uid = task.group.creds.uid
    limit = task.group.rlimits.get(RLIMIT_MSGQUEUE, (819200, 819200))[0]
    used = sum(q.charge for q in ns.mqueue.queues() if q.charged_uid == uid)
    if used + cost > limit:
        raise SysError(EMFILE)
    return cost


@syscall("mq_open", MQ_NAME, OPEN_FLAGS, MODE, MQ_ATTR_IN, classes="desc")
def sys_mq_open(task: Task, name_addr: int, oflag: int, mode: int, attr_addr: int) -> int:
    """mq_open(2): descriptors are close-on-exec, as Linux makes them."""
    attr = MQ_ATTR.unpack(task.mm.copy_in(attr_addr, MQ_ATTR.size)) if attr_addr else None  # EFAULT first
    name = _name(task, name_addr)
    files = task.group.files
    files.lowest_free()  # EMFILE first
    fs = ipc_namespace(task.kernel).mqueue
    root = fs.root()
    queue = root.children.get(name)
    flags = oflag & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)
    if queue is not None:
        if oflag & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL:
            raise SysError(EEXIST)
        file = open_existing(task, queue, flags)
    else:
        if not oflag & O_CREAT:
            raise SysError(ENOENT)
        shape = None
        if attr is not None:
            valid_attr(task, attr[1], attr[2])
            shape = (attr[1], attr[2])
        if len(fs.queues()) >= fs.ns.mq_queues_max and not task.group.creds.capable(CAP_SYS_RESOURCE):
            raise SysError(ENOSPC)
        queue = root.make_queue(task, name, mode, shape)
        try:
            cost = _charge(task, queue.maxmsg, queue.msgsize)
        except SysError:
            root.children.pop(name, None)
            raise
        queue.charge, queue.charged_uid = cost, task.group.creds.uid
        file = MqueueFile(queue, flags, task.group.tgid)
    return files.install(file, True)


@syscall("mq_unlink", MQ_NAME, classes="")
def sys_mq_unlink(task: Task, name_addr: int) -> int:
    """mq_unlink(2)."""
    name = _name(task, name_addr)
    ipc_namespace(task.kernel).mqueue.root().unlink(task, name)
    return 0


def _deadline(task: Task, abs_timeout_addr: int) -> float | None:
    """An absolute CLOCK_REALTIME timeout as a monotonic deadline (seconds)."""
    if not abs_timeout_addr:
        return None
    when = copy_in_timespec_ns(task, abs_timeout_addr)
    clock = task.kernel.clock
    return (clock.monotonic_ns() + when - clock.realtime_ns()) / NSEC_PER_SEC


def _timed_out(task: Task, deadline: float | None) -> bool:
    return deadline is not None and task.kernel.clock.monotonic_ns() / NSEC_PER_SEC >= deadline


@syscall("mq_timedsend", FD, MSG_IN, SIZE, UINT, TIMESPEC_IN, classes="desc")
def sys_mq_timedsend(task: Task, mqdes: int, msg_ptr_addr: int, msg_len: int, msg_prio: int,
                     abs_timeout_addr: int) -> int:
    """mq_timedsend(2): sleeps while the queue is full, until the absolute timeout."""
    block = task.restart_block
    if block is not None and block.mq_waiting:
        deadline, data = block.mq_deadline, block.mq_data
        file = queue_of(task, mqdes)
    else:
        deadline = _deadline(task, abs_timeout_addr)
        if msg_prio >= MQ_PRIO_MAX:
            raise SysError(EINVAL)
        file = queue_of(task, mqdes)
        if not file.writable:
            raise SysError(EBADF)
        if msg_len > file.queue.msgsize:
            raise SysError(EMSGSIZE)
        data = task.mm.copy_in(msg_ptr_addr, msg_len)
    queue = file.queue
    if queue.curmsgs >= queue.maxmsg:
        if file.nonblocking:
            raise SysError(EAGAIN)
        if _timed_out(task, deadline):
            raise SysError(ETIMEDOUT)
        block = task.restart_state()
        block.mq_waiting, block.mq_deadline, block.mq_data = True, deadline, data
        raise Block(queue.senders, deadline=deadline)
    queue.send(task, data, msg_prio)
    return 0


@syscall("mq_timedreceive", FD, MQ_MSG_OUT, SIZE, UINT_OUT, TIMESPEC_IN, classes="desc")
def sys_mq_timedreceive(task: Task, mqdes: int, msg_ptr_addr: int, msg_len: int, msg_prio_addr: int,
                        abs_timeout_addr: int) -> int:
    """mq_timedreceive(2): the oldest message of the highest priority; sleeps while the
    queue is empty, until the absolute timeout."""
    block = task.restart_block
    if block is not None and block.mq_waiting:
        deadline = block.mq_deadline
        file = queue_of(task, mqdes)
        file.queue.receiving.discard(task)
    else:
        deadline = _deadline(task, abs_timeout_addr)
        file = queue_of(task, mqdes)
        if not file.readable:
            raise SysError(EBADF)
        if msg_len < file.queue.msgsize:
            raise SysError(EMSGSIZE)
    queue = file.queue
    if not queue.messages:
        if file.nonblocking:
            raise SysError(EAGAIN)
        if _timed_out(task, deadline):
            raise SysError(ETIMEDOUT)
        block = task.restart_state()
        block.mq_waiting, block.mq_deadline = True, deadline
        queue.receiving.add(task)
        raise Block(queue.receivers, deadline=deadline, cancel=queue.receiving.discard)
    prio, data = queue.receive()
    if msg_prio_addr:
        task.mm.copy_out_u32(msg_prio_addr, prio)
    task.mm.copy_out(msg_ptr_addr, data)
    return len(data)


@syscall("mq_notify", FD, SIGEVENT_IN, classes="desc")
def sys_mq_notify(task: Task, mqdes: int, sevp_addr: int) -> int:
    """mq_notify(2): SIGEV_SIGNAL, SIGEV_NONE, and SIGEV_THREAD as glibc does it (a
    netlink socket its helper thread reads, and a cookie sent there)."""
    notification = None
    if sevp_addr:
        value, signo, notify, _tid = SIGEVENT.unpack(task.mm.copy_in(sevp_addr, SIGEVENT.size))
        if notify not in (SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD):
            raise SysError(EINVAL)
        if notify == SIGEV_SIGNAL and not 0 <= signo <= NSIG:
            raise SysError(EINVAL)
        notification = (notify, signo, value)
        if notify == SIGEV_THREAD:  # glibc's: `signo` is its netlink socket, `value` its cookie
            cookie = task.mm.copy_in(value, NOTIFY_COOKIE_LEN)
            try:
                sock = task.group.files.get(signo)
            except SysError:
                raise SysError(EBADF) from None
            if sock.kind != "socket":
                raise SysError(ENOTSOCK)
            if not isinstance(sock, NetlinkSocket):
                raise SysError(EINVAL)  # netlink_getsockbyfilp: not a netlink socket
            notification = (notify, sock, cookie)
    queue: Mqueue = queue_of(task, mqdes).queue
    tgid = task.group.tgid
    if notification is None:
        if queue.notify_owner == tgid:
            queue.remove_notification()
            queue.changed()
    elif queue.notify_owner:
        raise SysError(EBUSY)
    else:
        queue.notify = notification
        queue.notify_owner = tgid
        queue.changed()
    return 0


@syscall("mq_getsetattr", FD, MQ_ATTR_IN, MQ_ATTR_OUT, classes="desc")
def sys_mq_getsetattr(task: Task, mqdes: int, newattr_addr: int, oldattr_addr: int) -> int:
    """mq_getsetattr(2): only O_NONBLOCK can change."""
    new_flags = None
    if newattr_addr:
        new_flags = MQ_ATTR.unpack(task.mm.copy_in(newattr_addr, MQ_ATTR.size))[0]
        if new_flags & ~O_NONBLOCK:
            raise SysError(EINVAL)
    file = queue_of(task, mqdes)
    queue = file.queue
    old = MQ_ATTR.pack(file.flags & O_NONBLOCK, queue.maxmsg, queue.msgsize, queue.curmsgs)
    if new_flags is not None:
        file.flags = (file.flags & ~O_NONBLOCK) | (new_flags & O_NONBLOCK)
    if oldattr_addr:
        task.mm.copy_out(oldattr_addr, old)
    return 0

