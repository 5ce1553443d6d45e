"""Event files: signalfd, timerfd, pidfd (Linux's fs/signalfd.c, fs/timerfd.c,
kernel/pid.c). The files are pykern.signalfd, pykern.timerfd and pykern.pidfd; they wait
and poll like any other file (pykern.syscalls.poll, epoll)."""

from __future__ import annotations

import struct

from pykern.abi import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    EBADF,
    EINVAL,
    EPERM,
    ESRCH,
    ITIMERSPEC,
    NSIG,
    PIDFD_NONBLOCK,
    SFD_CLOEXEC,
    SFD_NONBLOCK,
    SI_TKILL,
    SIGSET_SIZE,
    TFD_CLOEXEC,
    TFD_NONBLOCK,
    TFD_TIMER_ABSTIME,
    TFD_TIMER_CANCEL_ON_SET,
)
from pykern.errors import SysError
from pykern.fs.procfs import ProcFS
from pykern.pidfd import PidFd
from pykern.signalfd import SignalFd
from pykern.sigtypes import SigInfo, user_info
from pykern.syscalls.table import syscall
from pykern.syscalls.time import ns_to_timespec, timespec_to_ns
from pykern.sysent import CLOCKID, FD, INT, PID, PTR, SIGNUM, SIZE, UINT
from pykern.task import Task, ThreadGroup
from pykern.timerfd import TimerFd

# --- signalfd ----------------------------------------------------------------------------------


@syscall("signalfd4", FD, PTR, SIZE, INT, classes="desc signal")
def sys_signalfd4(task: Task, fd: int, mask_addr: int, sizemask: int, flags: int) -> int:
    """signalfd4(2): a new signalfd (fd -1) or a new mask for an existing one."""
    if flags & ~(SFD_CLOEXEC | SFD_NONBLOCK) or sizemask != SIGSET_SIZE:
        raise SysError(EINVAL)
    mask = task.mm.copy_in_u64(mask_addr)
    if fd != -1:
        file = task.group.files.get(fd)
        if not isinstance(file, SignalFd):
            raise SysError(EINVAL)
        file.set_mask(task, mask)
        return fd
    file = SignalFd(task.kernel, mask, flags & SFD_NONBLOCK)
    return task.group.files.install(file, bool(flags & SFD_CLOEXEC))


@syscall("signalfd", FD, PTR, SIZE, classes="desc signal")
def sys_signalfd(task: Task, fd: int, mask_addr: int, sizemask: int) -> int:
    """signalfd(2): signalfd4 without flags."""
    return sys_signalfd4(task, fd, mask_addr, sizemask, 0)


# --- timerfd ----------------------------------------------------------------------------------

TIMERFD_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM,
                            CLOCK_BOOTTIME_ALARM})


def copy_in_itimerspec(task: Task, addr: int) -> tuple[int, int]:
    """(value, interval) in ns from a struct itimerspec; EINVAL unless both are valid."""
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(task.mm.copy_in(addr, ITIMERSPEC.size))
    interval = timespec_to_ns(isec, insec)
    return timespec_to_ns(vsec, vnsec), interval


def pack_itimerspec(value_ns: int, interval_ns: int) -> bytes:
    return ns_to_timespec(interval_ns) + ns_to_timespec(value_ns)


@syscall("timerfd_create", CLOCKID, INT, classes="desc")
def sys_timerfd_create(task: Task, clockid: int, flags: int) -> int:
    """timerfd_create(2): CLOCK_REALTIME, MONOTONIC, BOOTTIME and their _ALARM forms (those
    need CAP_WAKE_ALARM: root)."""
    if flags & ~(TFD_CLOEXEC | TFD_NONBLOCK) or clockid not in TIMERFD_CLOCKS:
        raise SysError(EINVAL)
    if clockid in (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM) and task.group.creds.euid != 0:
        raise SysError(EPERM)
    clock = task.kernel.clock
    read = {CLOCK_REALTIME: clock.realtime_ns, CLOCK_REALTIME_ALARM: clock.realtime_ns,
            CLOCK_MONOTONIC: clock.monotonic_ns}.get(clockid, clock.boottime_ns)
    file = TimerFd(task.kernel, clockid, read, flags & TFD_NONBLOCK)
    return task.group.files.install(file, bool(flags & TFD_CLOEXEC))


def _timerfd(task: Task, fd: int) -> TimerFd:
    file = task.group.files.get(fd)
    if not isinstance(file, TimerFd):
        raise SysError(EINVAL)
    return file


@syscall("timerfd_settime", FD, INT, PTR, PTR, classes="desc")
def sys_timerfd_settime(task: Task, fd: int, flags: int, new_value_addr: int, old_value_addr: int) -> int:
    """timerfd_settime(2): TFD_TIMER_ABSTIME; TFD_TIMER_CANCEL_ON_SET is accepted (ignored
    unless absolute on a realtime clock, as Linux) and never cancels: pykern's realtime
    clock is never set."""
    value, interval = copy_in_itimerspec(task, new_value_addr)
    if flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET):
        raise SysError(EINVAL)
    file = _timerfd(task, fd)
    old = file.settime(value, interval, bool(flags & TFD_TIMER_ABSTIME))
    if old_value_addr:
        task.mm.copy_out(old_value_addr, pack_itimerspec(*old))
    return 0


@syscall("timerfd_gettime", FD, PTR, classes="desc")
def sys_timerfd_gettime(task: Task, fd: int, curr_value_addr: int) -> int:
    """timerfd_gettime(2): time to the next expiry and the interval."""
    file = _timerfd(task, fd)
    task.mm.copy_out(curr_value_addr, pack_itimerspec(*file.gettime()))
    return 0


# --- pidfd ------------------------------------------------------------------------------------


def pidfd_group(task: Task, pidfd: int) -> ThreadGroup:
    """The process a pidfd names (EBADF for another kind of file)."""
    file = task.group.files.get(pidfd)
    if not isinstance(file, PidFd):
        raise SysError(EBADF)
    return file.group


def _proc_pid_dir_group(task: Task, pidfd: int) -> ThreadGroup:
    """pidfd_send_signal's other kind of pidfd: an open /proc/PID directory (the API
    before pidfd_open existed). Anything else: EBADF."""
    file = task.group.files.get(pidfd)
    if isinstance(file, PidFd):
        return file.group
    location = file.location
    if location is not None and isinstance(location.inode.fs, ProcFS):
        name = location.inode.name_in_fs()
        group = task.kernel.groups.get(int(name[1:])) if name[1:].isdigit() and name.count(b"/") == 1 else None
        if group is not None:
            return group
        if name[1:].isdigit():
            raise SysError(ESRCH)
    raise SysError(EBADF)


def new_pidfd(task: Task, group: ThreadGroup, flags: int = 0) -> int:
    """Install a pidfd for `group` (always close-on-exec, as Linux)."""
    return task.group.files.install(PidFd(group, flags), True)


@syscall("pidfd_open", PID, UINT, classes="desc process")
def sys_pidfd_open(task: Task, pid: int, flags: int) -> int:
    """pidfd_open(2): a process (a thread that does not lead one: EINVAL). PIDFD_THREAD
    (pidfds of single threads) is not provided: EINVAL, as kernels before 6.9 answer."""
    if flags & ~PIDFD_NONBLOCK or pid <= 0:
        raise SysError(EINVAL)
    target = task.kernel.tasks.get(pid)
    if target is None or target.group.reaped:
        raise SysError(ESRCH)
    if target.group.tgid != pid:
        raise SysError(EINVAL)
    return new_pidfd(task, target.group, flags & PIDFD_NONBLOCK)


PIDFD_SIGNAL_THREAD, PIDFD_SIGNAL_THREAD_GROUP, PIDFD_SIGNAL_PROCESS_GROUP = 1, 2, 4


@syscall("pidfd_send_signal", FD, SIGNUM, PTR, UINT, classes="desc signal process")
def sys_pidfd_send_signal(task: Task, pidfd: int, sig: int, info_addr: int, flags: int) -> int:
    """pidfd_send_signal(2): kill(2) through a pidfd (or an open /proc/PID directory); with
    a siginfo, sigqueue's rules.
    PIDFD_SIGNAL_THREAD (the thread the pidfd names: its leader), _THREAD_GROUP (the
    default) or _PROCESS_GROUP (every process of its group), one at most."""
    if flags & ~(PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP) \
            or flags & (flags - 1):
        raise SysError(EINVAL)
    group = _proc_pid_dir_group(task, pidfd)
    if not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    if info_addr:
        signo, errno, code, pid_field, uid_field, value = struct.unpack(
            "<iii4xiIQ", task.mm.copy_in(info_addr, 32))
        if signo != sig:
            raise SysError(EINVAL)
        if (code >= 0 or code == SI_TKILL) and group is not task.group:
            raise SysError(EPERM)
    if group.reaped:
        raise SysError(ESRCH)
    targets = [group]
    if flags & PIDFD_SIGNAL_PROCESS_GROUP:
        targets = [g for g in task.kernel.groups.values() if g.pgid == group.pgid and not g.is_zombie]
    creds = task.group.creds
    for target in targets:
        if creds.euid != 0 and target.creds.uid not in (creds.uid, creds.euid):
            raise SysError(EPERM)
    for target in targets:
        if info_addr:
            info = SigInfo(sig, code, errno, pid=pid_field, uid=uid_field, value=value)
        else:
            info = user_info(task, sig)
        thread = target.leader if flags & PIDFD_SIGNAL_THREAD else None
        task.kernel.signals.send(target, info, thread)
    return 0


@syscall("pidfd_getfd", FD, FD, UINT, classes="desc process")
def sys_pidfd_getfd(task: Task, pidfd: int, targetfd: int, flags: int) -> int:
    """pidfd_getfd(2): a duplicate of another process's fd (ptrace's rights: root, or the
    same uid), close-on-exec."""
    if flags:
        raise SysError(EINVAL)
    group = pidfd_group(task, pidfd)
    if group.is_zombie or group.reaped:
        raise SysError(ESRCH)
    creds, other = task.group.creds, group.creds
    if creds.euid != 0 and (other.uid, other.euid, other.suid) != (creds.uid, creds.uid, creds.uid):
        raise SysError(EPERM)
    file = group.files.get(targetfd)
    return task.group.files.install(file, True)
