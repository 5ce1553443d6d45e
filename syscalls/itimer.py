"""Interval timers: alarm, setitimer, getitimer (Linux's kernel/time/itimer.c).

ITIMER_REAL counts wall time and sends SIGALRM to the process; it is a kernel timer in
the scheduler's heap, so a process sleeping in pause() or sigsuspend() for its alarm is
not a deadlock. Timers are per process, not inherited by fork, kept across execve, and
cancelled at exit. ITIMER_VIRTUAL and ITIMER_PROF (CPU-time timers) are not provided:
setitimer fails with EINVAL for them, and says so once on stderr.
"""

from __future__ import annotations

import struct
import sys

from pykern.abi import EINVAL, SI_KERNEL, SIGALRM
from pykern.errors import SysError
from pykern.sched import Timer
from pykern.signal import SigInfo
from pykern.syscalls.table import syscall
from pykern.sysent import INT, PTR, UINT
from pykern.task import Task

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
ITIMERVAL = struct.Struct("<qqqq")  # it_interval {tv_sec, tv_usec}, it_value {tv_sec, tv_usec}
USEC = 1_000_000
_warned: set[int] = set()


class RealTimer:
    """A process's ITIMER_REAL: SIGALRM at expiry, then every `interval_us` if set."""

    def __init__(self, task: Task) -> None:
        self.kernel = task.kernel
        self.group = task.group
        self.interval_us = 0
        self.timer = Timer(self._expire)

    def _expire(self) -> None:
        self.kernel.signals.send(self.group, SigInfo(SIGALRM, SI_KERNEL))
        if self.interval_us:
            self.kernel.sched.arm(self.timer, self._now() + self.interval_us / USEC)

    def _now(self) -> float:
        return self.kernel.clock.monotonic_ns() / 1e9

    def remaining_us(self) -> int:
        if self.timer.deadline is None:
            return 0
        return max(1, round((self.timer.deadline - self._now()) * USEC))  # armed: never 0

    def set(self, value_us: int, interval_us: int) -> None:
        self.interval_us = interval_us if value_us else 0
        self.kernel.sched.arm(self.timer, self._now() + value_us / USEC if value_us else None)

    def cancel(self) -> None:
        self.set(0, 0)


def real_timer(task: Task) -> RealTimer:
    group = task.group
    if group.real_timer is None:
        group.real_timer = RealTimer(task)
    return group.real_timer


def _split(us: int) -> tuple[int, int]:
    return divmod(us, USEC)


def _check_which(which: int) -> None:
    if which in (ITIMER_VIRTUAL, ITIMER_PROF):
        if which not in _warned:
            _warned.add(which)
            print(f"pykern: warning: setitimer({'ITIMER_VIRTUAL' if which == 1 else 'ITIMER_PROF'}) is not "
                  "supported: returning EINVAL", file=sys.stderr)
        raise SysError(EINVAL)
    if which != ITIMER_REAL:
        raise SysError(EINVAL)


def _current(task: Task) -> bytes:
    timer = real_timer(task)
    return ITIMERVAL.pack(*_split(timer.interval_us), *_split(timer.remaining_us()))


@syscall("getitimer", INT, PTR, classes="signal")
def sys_getitimer(task: Task, which: int, value_addr: int) -> int:
    """getitimer(2): ITIMER_REAL's interval and time left."""
    _check_which(which)
    task.mm.copy_out(value_addr, _current(task))
    return 0


@syscall("setitimer", INT, PTR, PTR, classes="signal")
def sys_setitimer(task: Task, which: int, new_addr: int, old_addr: int) -> int:
    """setitimer(2): arm or (a zero value, or NULL as Linux accepts) disarm ITIMER_REAL."""
    _check_which(which)
    values = ITIMERVAL.unpack(task.mm.copy_in(new_addr, ITIMERVAL.size)) if new_addr else (0, 0, 0, 0)
    isec, iusec, vsec, vusec = values
    if min(isec, iusec, vsec, vusec) < 0 or iusec >= USEC or vusec >= USEC:
        raise SysError(EINVAL)
    if old_addr:
        task.mm.copy_out(old_addr, _current(task))
    real_timer(task).set(vsec * USEC + vusec, isec * USEC + iusec)
    return 0


@syscall("alarm", UINT, classes="signal")
def sys_alarm(task: Task, seconds: int) -> int:
    """alarm(2): SIGALRM in `seconds` (0 cancels); returns the seconds the previous alarm
    had left, rounded as Linux does."""
    timer = real_timer(task)
    left_sec, left_usec = _split(timer.remaining_us())
    if (not left_sec and left_usec) or left_usec >= USEC // 2:
        left_sec += 1
    timer.set(seconds * USEC, 0)
    return left_sec
