"""POSIX per-process timers: timer_create, timer_settime, timer_gettime,
timer_getoverrun, timer_delete (Linux's kernel/time/posix-timers.c). The timers are
pykern.posix_timers.PosixTimer."""

from __future__ import annotations

from pykern.abi import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_TAI,
    CLOCK_THREAD_CPUTIME_ID,
    EINVAL,
    EOPNOTSUPP,
    NSIG,
    SIGALRM,
    SIGEV_NONE,
    SIGEV_SIGNAL,
    SIGEV_THREAD,
    SIGEV_THREAD_ID,
    SIGEVENT,
    TIMER_ABSTIME,
)
from pykern.errors import Fault, SysError
from pykern.posix_timers import PosixTimer
from pykern.syscalls.eventfiles import copy_in_itimerspec, pack_itimerspec
from pykern.syscalls.table import syscall
from pykern.syscalls.time import clock_reader
from pykern.sysent import CLOCKID, INT, PTR
from pykern.task import Task

# Clocks with a timer_create (others that clock_gettime knows: EOPNOTSUPP, as Linux's
# do_timer_create for a k_clock without one)
TIMER_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_PROCESS_CPUTIME_ID,
                          CLOCK_THREAD_CPUTIME_ID, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM})
ALARM_CLOCKS = frozenset({CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM})


def _sigevent(task: Task, sigevent: bytes | None, timerid: int) -> tuple[int, int, int, Task | None]:
    """good_sigevent: (notify, signo, value, target thread) or EINVAL."""
    if sigevent is None:
        return SIGEV_SIGNAL, SIGALRM, timerid, None
    value, signo, notify, tid = SIGEVENT.unpack(sigevent)
    target = None
    if notify == SIGEV_SIGNAL | SIGEV_THREAD_ID:
        target = task.kernel.tasks.get(tid)
        if target is None or target.group is not task.group:
            raise SysError(EINVAL)
    elif notify not in (SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_NONE):
        raise SysError(EINVAL)
    if notify != SIGEV_NONE and not 0 < signo <= NSIG:
        raise SysError(EINVAL)
    return notify, signo, value, target


@syscall("timer_create", CLOCKID, PTR, PTR, classes="signal")
def sys_timer_create(task: Task, clockid: int, sevp_addr: int, timerid_addr: int) -> int:
    """timer_create(2): wall, monotonic and CPU-time clocks (the caller's own process and
    threads); SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE (SIGEV_THREAD is glibc's). The
    _ALARM clocks are EOPNOTSUPP, as on a Linux without an RTC: pykern has none."""
    if clockid >= 0 and clockid not in TIMER_CLOCKS:
        clock_reader(task, clockid)  # EINVAL for a clock that does not exist
        raise SysError(EOPNOTSUPP)
    read = clock_reader(task, clockid) if clockid not in ALARM_CLOCKS else task.kernel.clock.realtime_ns
    cpu = clockid in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) or clockid < 0
    group = task.group
    sigevent = task.mm.copy_in(sevp_addr, SIGEVENT.size) if sevp_addr else None
    # Linux takes the id before it checks the sigevent: a refused create uses one up
    timerid = group.next_timer_id
    group.next_timer_id = timerid + 1
    if clockid in ALARM_CLOCKS:  # alarmtimer without an RTC device, as pykern has none
        raise SysError(EOPNOTSUPP)
    notify, signo, value, target = _sigevent(task, sigevent, timerid)
    timer = PosixTimer(task.kernel, group, timerid, clockid, read, cpu, notify, signo, value, target)
    group.posix_timers[timerid] = timer
    try:
        task.mm.copy_out_u32(timerid_addr, timerid)
    except Fault:
        timer.delete()
        raise
    return 0


def _timer(task: Task, timerid: int) -> PosixTimer:
    timer = task.group.posix_timers.get(timerid)
    if timer is None:
        raise SysError(EINVAL)
    return timer


def _current(timer: PosixTimer) -> bytes:
    clock = timer.clock
    clock.update()
    return pack_itimerspec(clock.remaining_ns(), clock.interval_ns)


@syscall("timer_settime", INT, INT, PTR, PTR, classes="signal")
def sys_timer_settime(task: Task, timerid: int, flags: int, new_value_addr: int, old_value_addr: int) -> int:
    """timer_settime(2): arm (TIMER_ABSTIME: at a time of its clock) or, with a zero
    value, disarm; the old setting is returned first. A NULL new value is EINVAL."""
    if not new_value_addr:
        raise SysError(EINVAL)
    value, interval = copy_in_itimerspec(task, new_value_addr)
    timer = _timer(task, timerid)
    if old_value_addr:
        task.mm.copy_out(old_value_addr, _current(timer))
    clock = timer.clock
    if not value:
        timer.settime(None, 0)
    else:
        timer.settime(value if flags & TIMER_ABSTIME else clock.read() + value, interval)
    return 0


@syscall("timer_gettime", INT, PTR, classes="signal")
def sys_timer_gettime(task: Task, timerid: int, curr_value_addr: int) -> int:
    """timer_gettime(2): time to the next expiry and the interval."""
    task.mm.copy_out(curr_value_addr, _current(_timer(task, timerid)))
    return 0


@syscall("timer_getoverrun", INT, classes="signal")
def sys_timer_getoverrun(task: Task, timerid: int) -> int:
    """timer_getoverrun(2): the overrun count of the timer's last delivered signal."""
    return _timer(task, timerid).overrun()


@syscall("timer_delete", INT, classes="signal")
def sys_timer_delete(task: Task, timerid: int) -> int:
    """timer_delete(2)."""
    _timer(task, timerid).delete()
    return 0
