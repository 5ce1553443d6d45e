"""Clocks and sleeping: clock_gettime/getres, gettimeofday, time, times, nanosleep,
clock_nanosleep, sched_yield.

Every reading comes from `task.kernel.clock` (so a deterministic clock can replace it).
Sleeps never wait here: they record an absolute target in `task.restart_block` on first
entry and raise Block(deadline=...) until it has passed, so a retry after a spurious
wakeup, or a restart after a stop, never extends the sleep. A signal ends the sleep with
ERESTART_RESTARTBLOCK, after `sleep_interrupted` wrote the remaining time to `rem` as
do_nanosleep does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    CLOCK_THREAD_CPUTIME_ID,
    EFAULT,
    EINVAL,
    EOPNOTSUPP,
    ERESTART_RESTARTBLOCK,
    NSEC_PER_SEC,
    TIMER_ABSTIME,
    TIMESPEC,
    TIMEVAL,
    TMS,
    USER_HZ,
)
from pykern.clock import jiffy_ns, tai_offset_ns
from pykern.errors import Block, Fault, Restart, SysError
from pykern.rusage import process_cpu_usage
from pykern.syscalls.table import syscall
from pykern.sysent import CLOCKID, PTR, TIMER_FLAGS, TIMESPEC_IN, TIMESPEC_OUT, TIMESPEC_REM_OUT, TIMEVAL_OUT

if TYPE_CHECKING:
    from pykern.task import Task

# Not in pykern.abi yet (include/linux/posix-timers.h, asm/param.h).
CPUCLOCK_PERTHREAD_MASK = 4
CPUCLOCK_CLOCK_MASK = 3
CPUCLOCK_PROF = 0
CPUCLOCK_VIRT = 1
CPUCLOCK_SCHED = 2
CLOCKFD = 3  # a negative clockid with (id & 7) == 3 names a posix clock device fd

HIRES_CLOCKS = frozenset(
    {
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_BOOTTIME,
        CLOCK_TAI,
        CLOCK_PROCESS_CPUTIME_ID,
        CLOCK_THREAD_CPUTIME_ID,
    }
)
COARSE_CLOCKS = frozenset({CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE})
# Clocks clock_nanosleep can sleep on; the other valid ones fail with EOPNOTSUPP.
SLEEPABLE_CLOCKS = frozenset(
    {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_PROCESS_CPUTIME_ID}
)
# The alarm clocks exist but, without an RTC device (as on this host and in pykern),
# reading them fails with EINVAL and sleeping on them with EOPNOTSUPP.
ALARM_CLOCKS = frozenset({CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM})


def timespec_to_ns(tv_sec: int, tv_nsec: int) -> int:
    """timespec64_valid: EINVAL for a negative second count or nanoseconds out of range."""
    if tv_sec < 0 or not 0 <= tv_nsec < NSEC_PER_SEC:
        raise SysError(EINVAL)
    return tv_sec * NSEC_PER_SEC + tv_nsec


def ns_to_timespec(ns: int) -> bytes:
    return TIMESPEC.pack(*divmod(ns, NSEC_PER_SEC))


def copy_in_timespec_ns(task: Task, addr: int) -> int:
    return timespec_to_ns(*TIMESPEC.unpack(task.mm.copy_in(addr, TIMESPEC.size)))


# --- reading clocks ----------------------------------------------------------------------


def cpu_clock_reader(task: Task, clockid: int) -> Callable[[], int]:
    """A reader for a negative (CPU-time) clockid, as posix-cpu-timers decodes it:
    pid = ~(id >> 3), bit 2 = per-thread, bits 0-1 = PROF/VIRT/SCHED. Only the caller's
    own process and its threads are found (others: EINVAL, as for a missing pid).
    pykern does not split user from system time, so all three read the same."""
    if clockid & CPUCLOCK_CLOCK_MASK == CLOCKFD or clockid & CPUCLOCK_CLOCK_MASK > CPUCLOCK_SCHED:
        raise SysError(EINVAL)
    pid = ~(clockid >> 3)
    clock = task.kernel.clock
    if clockid & CPUCLOCK_PERTHREAD_MASK:
        if pid == 0:
            return lambda: clock.thread_cpu_ns(task)
        for thread in task.group.live_tasks:
            if thread.tid == pid:
                return lambda: clock.thread_cpu_ns(thread)
        raise SysError(EINVAL)
    if pid in (0, task.group.tgid, task.tid):
        return lambda: clock.process_cpu_ns(task.group)
    raise SysError(EINVAL)


def clock_reader(task: Task, clockid: int) -> Callable[[], int]:
    """A function reading `clockid` in nanoseconds; EINVAL for an unknown clock."""
    clock = task.kernel.clock
    if clockid in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE):
        read = clock.realtime_ns
    elif clockid in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE):
        read = clock.monotonic_ns
    elif clockid == CLOCK_BOOTTIME:
        read = clock.boottime_ns
    elif clockid == CLOCK_TAI:
        return lambda: clock.realtime_ns() + tai_offset_ns()
    elif clockid == CLOCK_PROCESS_CPUTIME_ID:
        return lambda: clock.process_cpu_ns(task.group)
    elif clockid == CLOCK_THREAD_CPUTIME_ID:
        return lambda: clock.thread_cpu_ns(task)
    elif clockid < 0:
        return cpu_clock_reader(task, clockid)
    else:
        raise SysError(EINVAL)
    if clockid in COARSE_CLOCKS:
        # The coarse clocks show the time of the last tick: never ahead of the fine one.
        return lambda: read() // jiffy_ns() * jiffy_ns()
    return read


def clock_resolution_ns(clockid: int) -> int:
    """clock_getres for a clock clock_reader accepted: 1 ns except the tick-based ones."""
    if clockid in COARSE_CLOCKS:
        return jiffy_ns()
    if clockid < 0 and clockid & CPUCLOCK_CLOCK_MASK != CPUCLOCK_SCHED:
        return jiffy_ns()  # CPUCLOCK_PROF and CPUCLOCK_VIRT are sampled at ticks
    return 1


@syscall("clock_gettime", CLOCKID, TIMESPEC_OUT, classes="clock")
def sys_clock_gettime(task: Task, clockid: int, tp_addr: int) -> int:
    """clock_gettime(2)."""
    read = clock_reader(task, clockid)
    task.mm.copy_out(tp_addr, ns_to_timespec(read()))
    return 0


@syscall("clock_getres", CLOCKID, TIMESPEC_OUT, classes="clock")
def sys_clock_getres(task: Task, clockid: int, res_addr: int) -> int:
    """clock_getres(2): res may be NULL."""
    clock_reader(task, clockid)
    if res_addr:
        task.mm.copy_out(res_addr, ns_to_timespec(clock_resolution_ns(clockid)))
    return 0


@syscall("gettimeofday", TIMEVAL_OUT, PTR, classes="clock")
def sys_gettimeofday(task: Task, tv_addr: int, tz_addr: int) -> int:
    """gettimeofday(2): both pointers may be NULL; the timezone is always zero (sys_tz
    is never set in pykern, settimeofday being unsupported)."""
    if tv_addr:
        seconds, nanoseconds = divmod(task.kernel.clock.realtime_ns(), NSEC_PER_SEC)
        task.mm.copy_out(tv_addr, TIMEVAL.pack(seconds, nanoseconds // 1000))
    if tz_addr:
        task.mm.copy_out(tz_addr, bytes(8))  # struct timezone: minuteswest, dsttime
    return 0


@syscall("time", PTR, classes="clock")
def sys_time(task: Task, tloc_addr: int) -> int:
    """time(2)."""
    seconds = task.kernel.clock.realtime_ns() // NSEC_PER_SEC
    if tloc_addr:
        task.mm.copy_out_i64(tloc_addr, seconds)
    return seconds


def jiffies_to_clock_t(uptime_ns: int) -> int:
    """What times(2) returns: jiffies since boot, which start at INITIAL_JIFFIES
    ((unsigned int)(-300 * HZ)), converted to USER_HZ ticks."""
    hz = NSEC_PER_SEC // jiffy_ns()
    initial_jiffies = (1 << 32) - 300 * hz
    return (initial_jiffies + uptime_ns // jiffy_ns()) * USER_HZ // hz


@syscall("times", PTR, classes="clock")
def sys_times(task: Task, buf_addr: int) -> int:
    """times(2): system time is the time in syscalls (pykern.rusage)."""
    clock = task.kernel.clock
    if buf_addr:
        ticks = NSEC_PER_SEC // USER_HZ
        usage = process_cpu_usage(clock, task.group)
        children = task.group.children_usage
        task.mm.copy_out(buf_addr, TMS.pack(usage.utime_ns // ticks, usage.stime_ns // ticks,
                                            children.utime_ns // ticks, children.stime_ns // ticks))
    return jiffies_to_clock_t(clock.monotonic_ns())


# --- sleeping ----------------------------------------------------------------------------


def sleep_until(task: Task, read: Callable[[], int], target_ns: int, cpu_clock: bool) -> int:
    """Return 0 once `read()` reaches `target_ns`, else Block until it may have.
    A CPU clock advances only while threads run, so it is polled once per tick."""
    now = read()
    if now >= target_ns:
        return 0
    remaining = target_ns - now
    if cpu_clock:
        remaining = min(remaining, jiffy_ns())
    raise Block(deadline=(task.kernel.clock.monotonic_ns() + remaining) / NSEC_PER_SEC,
                restart=Restart.ERESTART_RESTARTBLOCK, on_signal=sleep_interrupted)


def sleep_interrupted(task: Task) -> int:
    """A signal cut the sleep short: write the time left to rem (relative sleeps that gave
    one) and return how the call ends: -ERESTART_RESTARTBLOCK (EINTR when a handler runs,
    a restart with the same deadline otherwise), 0 if the sleep had in fact finished,
    -EFAULT if rem cannot be written."""
    block = task.restart_state()
    assert block.sleep_read is not None and block.target_ns is not None, "start_sleep comes first"
    remaining = block.target_ns - block.sleep_read()
    if remaining <= 0:
        return 0
    if block.rem_addr:
        try:
            task.mm.copy_out(block.rem_addr, ns_to_timespec(remaining))
        except Fault:
            return -EFAULT
    return -ERESTART_RESTARTBLOCK


def start_sleep(task: Task, read: Callable[[], int], target_ns: int, rem_addr: int, cpu_clock: bool) -> None:
    """Record the sleep's absolute target on first entry (restart_block survives retries)."""
    block = task.restart_state()
    block.sleep_read, block.target_ns, block.rem_addr, block.cpu_clock = read, target_ns, rem_addr, cpu_clock


def sleeping(task: Task) -> bool:
    """Is the call a retry (or a restart) of a sleep started before?"""
    return task.restart_block is not None and task.restart_block.target_ns is not None


def continue_sleep(task: Task) -> int:
    block = task.restart_state()
    assert block.sleep_read is not None and block.target_ns is not None, "start_sleep comes first"
    return sleep_until(task, block.sleep_read, block.target_ns, block.cpu_clock)


@syscall("nanosleep", TIMESPEC_IN, TIMESPEC_REM_OUT, classes="clock")
def sys_nanosleep(task: Task, req_addr: int, rem_addr: int) -> int:
    """nanosleep(2): sleeps on CLOCK_MONOTONIC; rem is written only on interruption."""
    if not sleeping(task):
        duration = copy_in_timespec_ns(task, req_addr)
        read = task.kernel.clock.monotonic_ns
        start_sleep(task, read, read() + duration, rem_addr, cpu_clock=False)
    return continue_sleep(task)


def check_sleep_clock(clockid: int) -> None:
    """clock_nanosleep's clock checks, made before the request is read."""
    if clockid in SLEEPABLE_CLOCKS:
        return
    if clockid in HIRES_CLOCKS or clockid in COARSE_CLOCKS or clockid in ALARM_CLOCKS:
        raise SysError(EOPNOTSUPP)
    if clockid < 0 and clockid & (CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_CLOCK_MASK) == CLOCKFD:
        raise SysError(EOPNOTSUPP)  # posix clock devices cannot be slept on
    if clockid >= 0:
        raise SysError(EINVAL)


@syscall("clock_nanosleep", CLOCKID, TIMER_FLAGS, TIMESPEC_IN, TIMESPEC_REM_OUT, classes="clock")
def sys_clock_nanosleep(task: Task, clockid: int, flags: int, req_addr: int, rem_addr: int) -> int:
    """clock_nanosleep(2). Like every raw syscall it fails with -errno (glibc's wrapper
    turns that into a positive return). Unknown flag bits are ignored, as in Linux."""
    if not sleeping(task):
        check_sleep_clock(clockid)
        request = copy_in_timespec_ns(task, req_addr)
        if clockid < 0 and clockid & CPUCLOCK_PERTHREAD_MASK and ~(clockid >> 3) in (0, task.tid):
            raise SysError(EINVAL)  # a thread cannot sleep on its own CPU clock
        read = clock_reader(task, clockid)
        cpu_clock = clockid == CLOCK_PROCESS_CPUTIME_ID or clockid < 0
        if flags & TIMER_ABSTIME:
            start_sleep(task, read, request, 0, cpu_clock)
        else:
            if not cpu_clock:
                read = task.kernel.clock.monotonic_ns  # relative sleeps ignore clock steps
            start_sleep(task, read, read() + request, rem_addr, cpu_clock)
    return continue_sleep(task)


@syscall("sched_yield", classes="process")
def sys_sched_yield(task: Task) -> int:
    """sched_yield(2)."""
    task.kernel.sched.yield_current()
    return 0
