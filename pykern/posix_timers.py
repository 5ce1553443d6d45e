"""Timers on a clock (Linux's hrtimer as timerfd and kernel/time/posix-timers.c use it) and
the POSIX per-process timers of timer_create(2).

`ClockTimer` expires at an absolute time of one clock (CLOCK_REALTIME, MONOTONIC,
BOOTTIME, or a CPU-time clock), then every `interval_ns`. Expirations are counted from
the clock, not from wakeups: whoever looks (the kernel timer at the deadline, a read, a
poll, a gettime) collects every period that has passed since, so a 1 ns interval costs
one wakeup per look, not one per nanosecond. Wall and monotonic clocks wait in the
scheduler's timer heap (converted to a monotonic deadline when armed: pykern has no
clock_settime, so the conversion holds); CPU-time clocks advance only while the
process runs and are checked after each slice with the itimers (`group.cpu_timers`).

A `PosixTimer` belongs to its process (`ThreadGroup.posix_timers`, by id): not inherited
by fork, deleted at execve and exit. At expiry it queues its signal (SIGEV_SIGNAL, to
the process; SIGEV_THREAD_ID, to one thread; SIGEV_THREAD is glibc's SIGEV_THREAD_ID)
with si_code SI_TIMER, or does nothing (SIGEV_NONE). While its signal is still queued,
further expirations count as overruns of that signal (si_overrun); timer_getoverrun
reports those of the last signal delivered. A signal queued before the timer was
re-armed or deleted is dropped when dequeued (Linux 6.13's posixtimer_deliver_signal):
sigpending still shows it, nothing receives it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import NSEC_PER_SEC, SI_TIMER, SIGEV_NONE, SIGINFO_HEAD, SIGINFO_SIZE, SIGINFO_TIMER
from pykern.sched import Timer
from pykern.sigtypes import SigInfo

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

DELAYTIMER_MAX = 0x7FFFFFFF
HEAP_SLACK_NS = 1000  # fire a microsecond late rather than early: the clock must have passed
_cpu_keys = itertools.count()


class ClockTimer:
    """One timer on one clock. `on_expire(n)` hears of the `n` expirations that passed
    since the last look."""

    def __init__(self, kernel: Kernel, read: Callable[[], int], on_expire: Callable[[int], None],
                 cpu_group: ThreadGroup | None = None) -> None:
        self.kernel = kernel
        self.read = read  # the clock, in ns
        self.on_expire = on_expire
        self.cpu_group = cpu_group  # a CPU-time clock: checked with the group's itimers
        self.cpu_key = ("posix", next(_cpu_keys))
        self.expires_ns: int | None = None  # absolute, on `read`'s clock
        self.interval_ns = 0
        self.timer = Timer(self.update)

    def arm(self, expires_ns: int | None, interval_ns: int) -> None:
        """Start at absolute `expires_ns` (None: stop), then every `interval_ns` if set."""
        self.expires_ns = expires_ns
        self.interval_ns = interval_ns if expires_ns is not None else 0
        self._schedule()

    def _schedule(self) -> None:
        sched = self.kernel.sched
        if self.cpu_group is not None:
            if self.expires_ns is None:
                self.cpu_group.cpu_timers.pop(self.cpu_key, None)
            else:
                self.cpu_group.cpu_timers[self.cpu_key] = self
            return
        if self.expires_ns is None:
            sched.arm(self.timer, None)
            return
        delay = max(0, self.expires_ns - self.read())
        sched.arm(self.timer, (self.kernel.clock.monotonic_ns() + delay + HEAP_SLACK_NS) / NSEC_PER_SEC)

    def check(self, now_ns: int) -> None:
        """The scheduler's CPU-time check after a slice (pykern.sched.check_cpu_timers)."""
        self.update()

    def update(self) -> None:
        """Collect the expirations that passed, tell the owner, and wait for the next."""
        if self.expires_ns is None:
            return
        now = self.read()
        if now < self.expires_ns:
            if self.cpu_group is None and self.timer.deadline is None:
                self._schedule()  # the heap fired a hair early
            return
        if self.interval_ns:
            count = 1 + (now - self.expires_ns) // self.interval_ns
            self.expires_ns += count * self.interval_ns
        else:
            count = 1
            self.expires_ns = None
        self._schedule()
        self.on_expire(count)

    def remaining_ns(self) -> int:
        """Time to the next expiry (0: disarmed). Call update() first."""
        if self.expires_ns is None:
            return 0
        return max(0, self.expires_ns - self.read())


class TimerSigInfo(SigInfo):
    """A POSIX timer's signal: SI_TIMER with si_timerid, si_overrun and si_value."""

    __slots__ = ("timerid", "overrun", "timer", "seq")

    def __init__(self, timer: PosixTimer) -> None:
        super().__init__(timer.signo, SI_TIMER, value=timer.value)
        self.timerid = timer.timerid
        self.overrun = 0
        self.timer = timer
        self.seq = timer.signal_seq

    @property  # type: ignore[override]
    def stale(self) -> bool:
        """Queued before its timer was re-armed or deleted: dropped when dequeued."""
        return self.timer.deleted or self.seq != self.timer.signal_seq

    def pack(self) -> bytes:
        head = SIGINFO_HEAD.pack(self.signo, self.errno, self.code) + SIGINFO_TIMER.pack(
            self.timerid, self.overrun, self.value)
        return head.ljust(SIGINFO_SIZE, b"\0")


class PosixTimer:
    """A timer_create(2) timer of `group`."""

    def __init__(self, kernel: Kernel, group: ThreadGroup, timerid: int, clockid: int, read: Callable[[], int],
                 cpu: bool, notify: int, signo: int, value: int, target: Task | None) -> None:
        self.group = group
        self.timerid = timerid
        self.clockid = clockid
        self.notify = notify
        self.signo = signo
        self.value = value
        self.target = target  # SIGEV_THREAD_ID's thread
        self.last_info: TimerSigInfo | None = None  # the signal last queued
        self.overrun_last = 0  # si_overrun of the last signal delivered
        self.signal_seq = 0  # bumped by settime and delete: a signal queued before is stale
        self.deleted = False
        self.kernel = kernel
        self.clock = ClockTimer(kernel, read, self._expired, group if cpu else None)

    def _queued(self) -> bool:
        info = self.last_info
        if info is None:
            return False
        queue = self.target.sigpending if self.target is not None else self.group.shared_pending
        return any(queued is info for queued in queue.infos)

    def _expired(self, count: int) -> None:
        if self.notify == SIGEV_NONE:
            return
        if self._queued():  # its signal is still queued: it counts one more overrun
            info = self.last_info
            assert info is not None
            if info.stale:  # queued before a re-arm: the one signal serves the new setting
                info.seq, info.overrun = self.signal_seq, count - 1
            else:
                info.overrun += count
            info.overrun = min(DELAYTIMER_MAX, info.overrun)
            return
        if self.last_info is not None:
            self.overrun_last = self.last_info.overrun
        info = TimerSigInfo(self)
        info.overrun = min(DELAYTIMER_MAX, count - 1)
        self.last_info = info
        target = self.target
        if target is not None and target.group is self.group and target in self.group.live_tasks:
            self.kernel.signals.send(self.group, info, target)
        else:
            self.target = None
            self.kernel.signals.send(self.group, info)

    def overrun(self) -> int:
        """timer_getoverrun: the overruns of the last signal delivered."""
        if self.last_info is None or self._queued():
            return self.overrun_last
        return self.last_info.overrun

    def settime(self, expires_ns: int | None, interval_ns: int) -> None:
        """Arm at absolute `expires_ns` of its clock (None: disarm); a signal of the old
        setting still queued will be dropped (Linux 6.13 and later)."""
        self.signal_seq += 1
        self.clock.arm(expires_ns, interval_ns)

    def delete(self) -> None:
        self.deleted = True
        self.clock.arm(None, 0)
        self.group.posix_timers.pop(self.timerid, None)
