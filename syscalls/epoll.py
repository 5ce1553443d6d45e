"""epoll and eventfd (Linux's fs/eventpoll.c, fs/eventfd.c). The files themselves are
pykern.eventpoll and pykern.eventfd; waiting works as poll's does (pykern.syscalls.poll)."""

from __future__ import annotations

from pykern.abi import EEXIST, EINVAL, ENOENT, EPERM, EPOLL_EVENT, O_CLOEXEC, O_NONBLOCK
from pykern.errors import Restart, SysError
from pykern.eventfd import EFD_SEMAPHORE, EventFd
from pykern.eventpoll import EPOLLEXCLUSIVE, EpollFile, Interest
from pykern.fs.file import File, HostFile
from pykern.syscalls.poll import (
    start_wait,
    timespec_ns,
    wait_block,
    wait_expired,
    wait_started,
    with_mask,
)
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, PTR, SIZE, UINT
from pykern.task import Task

EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT.size


def _epoll(task: Task, epfd: int) -> EpollFile:
    file = task.group.files.get(epfd)
    if not isinstance(file, EpollFile):
        raise SysError(EINVAL)
    return file


def _new_epoll(task: Task, flags: int) -> int:
    if flags & ~O_CLOEXEC:
        raise SysError(EINVAL)
    return task.group.files.install(EpollFile(0), bool(flags & O_CLOEXEC))


@syscall("epoll_create1", INT, classes="desc")
def sys_epoll_create1(task: Task, flags: int) -> int:
    """epoll_create1(2): EPOLL_CLOEXEC only."""
    return _new_epoll(task, flags)


@syscall("epoll_create", INT, classes="desc")
def sys_epoll_create(task: Task, size: int) -> int:
    """epoll_create(2): `size` is only checked to be positive."""
    if size <= 0:
        raise SysError(EINVAL)
    return _new_epoll(task, 0)


def _pollable(file: File) -> bool:
    """Linux refuses (EPERM) files without a poll operation: regular files, directories,
    /dev/null and the other memory devices. Pipes, eventfds, epolls, terminals and FIFOs
    are fine."""
    if isinstance(file, HostFile):
        return file.pollable
    return type(file).poll is not File.poll


@syscall("epoll_ctl", FD, INT, FD, PTR, classes="desc")
def sys_epoll_ctl(task: Task, epfd: int, op: int, fd: int, event_addr: int) -> int:
    """epoll_ctl(2): ADD (EEXIST), MOD and DEL (ENOENT); EPOLLONESHOT and EPOLLET."""
    events = data = 0
    if op in (EPOLL_CTL_ADD, EPOLL_CTL_MOD):
        events, data = EPOLL_EVENT.unpack(task.mm.copy_in(event_addr, EPOLL_EVENT.size))
    files = task.group.files
    epoll = files.get(epfd)
    target = files.get(fd)
    if not _pollable(target):
        raise SysError(EPERM)
    if not isinstance(epoll, EpollFile) or target is epoll:
        raise SysError(EINVAL)
    key = (fd, target)
    if op == EPOLL_CTL_ADD:
        if key in epoll.interest:
            raise SysError(EEXIST)
        epoll.interest[key] = Interest(events, data)
        epoll.changed.wake_all()
    elif op == EPOLL_CTL_MOD:
        if key not in epoll.interest:
            raise SysError(ENOENT)
        if events & EPOLLEXCLUSIVE:
            raise SysError(EINVAL)
        epoll.interest[key] = Interest(events, data)
        epoll.changed.wake_all()
    elif op == EPOLL_CTL_DEL:
        if epoll.interest.pop(key, None) is None:
            raise SysError(ENOENT)
    else:
        raise SysError(EINVAL)
    return 0


def _do_wait(task: Task, epfd: int, events_addr: int, maxevents: int) -> int:
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise SysError(EINVAL)
    epoll = _epoll(task, epfd)
    found, queues, host_fds = epoll.ready(maxevents)
    if found or wait_expired(task):
        task.mm.copy_out(events_addr, b"".join(EPOLL_EVENT.pack(mask, data) for mask, data in found))
        return len(found)
    raise wait_block(task, queues, host_fds, Restart.EINTR)  # epoll_wait returns EINTR itself


@syscall("epoll_wait", FD, PTR, INT, INT, classes="desc")
def sys_epoll_wait(task: Task, epfd: int, events_addr: int, maxevents: int, timeout_ms: int) -> int:
    """epoll_wait(2): timeout in ms, negative for none; a handled signal ends it (EINTR)."""
    start_wait(task, None if timeout_ms < 0 else timeout_ms * 1_000_000)
    return _do_wait(task, epfd, events_addr, maxevents)


def _pwait(task: Task, epfd: int, events_addr: int, maxevents: int, timeout_ns: int | None, mask_addr: int,
           mask_size: int) -> int:
    if not wait_started(task):
        start_wait(task, timeout_ns, mask_addr, mask_size)
    return with_mask(task, lambda: _do_wait(task, epfd, events_addr, maxevents))


@syscall("epoll_pwait", FD, PTR, INT, INT, PTR, SIZE, classes="desc")
def sys_epoll_pwait(task: Task, epfd: int, events_addr: int, maxevents: int, timeout_ms: int, mask_addr: int,
                    mask_size: int) -> int:
    """epoll_pwait(2): epoll_wait with a temporary signal mask."""
    return _pwait(task, epfd, events_addr, maxevents, None if timeout_ms < 0 else timeout_ms * 1_000_000,
                  mask_addr, mask_size)


@syscall("epoll_pwait2", FD, PTR, INT, PTR, PTR, SIZE, classes="desc")
def sys_epoll_pwait2(task: Task, epfd: int, events_addr: int, maxevents: int, timeout_addr: int, mask_addr: int,
                     mask_size: int) -> int:
    """epoll_pwait2(2): a timespec timeout (NULL: none)."""
    timeout = timespec_ns(task, timeout_addr) if not wait_started(task) else None
    return _pwait(task, epfd, events_addr, maxevents, timeout, mask_addr, mask_size)


# --- eventfd ---------------------------------------------------------------------------------


@syscall("eventfd2", UINT, INT, classes="desc")
def sys_eventfd2(task: Task, initval: int, flags: int) -> int:
    """eventfd2(2): EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE."""
    if flags & ~(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE):
        raise SysError(EINVAL)
    file = EventFd(initval, flags & O_NONBLOCK, bool(flags & EFD_SEMAPHORE))
    return task.group.files.install(file, bool(flags & O_CLOEXEC))


@syscall("eventfd", UINT, classes="desc")
def sys_eventfd(task: Task, initval: int) -> int:
    """eventfd(2): eventfd2 without flags."""
    return sys_eventfd2(task, initval, 0)

