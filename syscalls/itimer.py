"""Interval timers: alarm, setitimer, getitimer (Linux's kernel/time/itimer.c).

- ITIMER_REAL counts wall time and sends SIGALRM. It is a kernel timer in the
  scheduler's heap, so a process sleeping in pause() or sigsuspend() for its alarm is not
  a deadlock.
- ITIMER_VIRTUAL (SIGVTALRM) and ITIMER_PROF (SIGPROF) count the process's CPU time,
  which advances only while its threads run in the JIT. The scheduler checks them after
  each slice (`check_cpu_timers`), and while one is armed the process's slices are
  bounded by the quantum, so they fire within a few ms of CPU time (Linux: a tick).
  pykern does not tell user time from system time: both timers count all of it.

Timers belong to the process: not inherited by fork, kept across execve, cancelled at
exit.
"""

from __future__ import annotations

from pykern.abi import EINVAL, ITIMERVAL, SI_KERNEL, SIGALRM, SIGPROF, SIGVTALRM
from pykern.errors import SysError
from pykern.sched import Timer
from pykern.sigtypes import SigInfo
from pykern.syscalls.table import syscall
from pykern.sysent import INT, PTR, UINT
from pykern.task import Task

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
USEC = 1_000_000


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


class CpuTimer:
    """ITIMER_VIRTUAL or ITIMER_PROF: `signal` once the process's CPU time reaches
    `expires_ns`, then every `interval_us` of CPU time if set."""

    def __init__(self, task: Task, signal: int) -> None:
        self.kernel = task.kernel
        self.group = task.group
        self.signal = signal
        self.interval_us = 0
        self.expires_ns: int | None = None

    def _now_ns(self) -> int:
        return self.kernel.clock.process_cpu_ns(self.group)

    def remaining_us(self) -> int:
        if self.expires_ns is None:
            return 0
        return max(1, (self.expires_ns - self._now_ns()) // 1000)

    def set(self, value_us: int, interval_us: int) -> None:
        self.interval_us = interval_us if value_us else 0
        self.expires_ns = self._now_ns() + value_us * 1000 if value_us else None

    def check(self, now_ns: int) -> None:
        if self.expires_ns is None or now_ns < self.expires_ns:
            return
        self.kernel.signals.send(self.group, SigInfo(self.signal, SI_KERNEL))
        self.expires_ns = now_ns + self.interval_us * 1000 if self.interval_us else None


def _timer(task: Task, which: int) -> RealTimer | CpuTimer:
    group = task.group
    if which == ITIMER_REAL:
        if group.real_timer is None:
            group.real_timer = RealTimer(task)
        return group.real_timer
    if which not in (ITIMER_VIRTUAL, ITIMER_PROF):
        raise SysError(EINVAL)
    if which not in group.cpu_timers:
        group.cpu_timers[which] = CpuTimer(task, SIGVTALRM if which == ITIMER_VIRTUAL else SIGPROF)
    return group.cpu_timers[which]


def _split(us: int) -> tuple[int, int]:
    return divmod(us, USEC)


def _current(timer: RealTimer | CpuTimer) -> bytes:
    return ITIMERVAL.pack(*_split(timer.interval_us), *_split(timer.remaining_us()))


@syscall("getitimer", INT, PTR, classes="signal")
def sys_getitimer(task: Task, which: int, value_addr: int) -> int:
    """getitimer(2): a timer's interval and time left."""
    task.mm.copy_out(value_addr, _current(_timer(task, which)))
    return 0


@syscall("setitimer", INT, PTR, PTR, classes="signal")
def sys_setitimer(task: Task, which: int, new_addr: int, old_addr: int) -> int:
    """setitimer(2): arm or (a zero value, or NULL as Linux accepts) disarm a timer."""
    timer = _timer(task, which)
    values = ITIMERVAL.unpack(task.mm.copy_in(new_addr, ITIMERVAL.size)) if new_addr else (0, 0, 0, 0)
    isec, iusec, vsec, vusec = values
    if min(isec, iusec, vsec, vusec) < 0 or iusec >= USEC or vusec >= USEC:
        raise SysError(EINVAL)
    if old_addr:
        task.mm.copy_out(old_addr, _current(timer))
    timer.set(vsec * USEC + vusec, isec * USEC + iusec)
    return 0


@syscall("alarm", UINT, classes="signal")
def sys_alarm(task: Task, seconds: int) -> int:
    """alarm(2): SIGALRM in `seconds` (0 cancels); returns the seconds the previous alarm
    had left, rounded as Linux does."""
    timer = _timer(task, ITIMER_REAL)
    left_sec, left_usec = _split(timer.remaining_us())
    if (not left_sec and left_usec) or left_usec >= USEC // 2:
        left_sec += 1
    timer.set(seconds * USEC, 0)
    return left_sec
