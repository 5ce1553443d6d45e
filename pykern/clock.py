"""The one place guest time comes from. A deterministic mode replaces this class with a
virtual clock; nothing else in pykern reads the host's clocks for guest-visible time.

Timekeeping (Linux's kernel/time/timekeeping.c, in small). When the host's clocksource is
the TSC (the host kernel trusts it: synchronised across CPUs, constant rate), every guest
clock is one formula of the TSC, the formula the vDSO computes inside the guest
(pykern/vdso.py) from the same numbers, which pykern keeps in its data page:

    monotonic = base_ns + ((tsc - cycle_last) * mult >> shift)    (delta 0 if tsc < cycle_last)
    realtime  = monotonic + wall_offset, boottime = monotonic + boot_offset, ...

So a clock_gettime through the vDSO and one through the syscall read the same clock, and
neither can ever be behind a reading the other made before it. The guest's rdtsc under
Unicorn is the host's TSC (QEMU's helper_rdtsc), read here through a few bytes of machine
code. At most every UPDATE_NS (checked when pykern reads the clock) the formula is
re-anchored: cycle_last = now, base_ns = the formula's value now (so the clock never steps
back), and mult = the TSC rate measured against the host's CLOCK_MONOTONIC since start;
a clock that fell behind the host's steps forward, one ahead of it runs slower (by at
most MAX_SLEW_PPM) until level. On
a host whose clocksource is not the TSC the clocks are the host's own and the vDSO makes
the syscall, as Linux's vDSO does when the clocksource has no vDSO mode.
"""

from __future__ import annotations

import ctypes
import functools
import math
import mmap
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from pykern.abi import CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME, CLOCK_TAI, NSEC_PER_SEC

if TYPE_CHECKING:
    from pykern.task import Task, ThreadGroup
    from pykern.ucbind import Uc

SHIFT = 32  # mult is ns per cycle in 32.32 fixed point
UPDATE_NS = 10_000_000  # re-anchor and re-measure the rate at most this often
CALIBRATE_NS = 2_000_000  # the TSC rate is first measured over at least this long
STEER_NS = 100_000_000  # an error is absorbed over this long ...
MAX_SLEW_PPM = 500  # ... running at most this much faster or slower (NTP's limit)
WALL_STEP_NS = 100_000  # a smaller change of REALTIME - MONOTONIC is measurement noise
MASK64 = (1 << 64) - 1
# rdtsc; shl rdx, 32; or rax, rdx; ret
_RDTSC_CODE = bytes.fromhex("0f3148c1e2204809d0c3")


@functools.cache
def jiffy_ns() -> int:
    """The tick length (1/HZ) of the host kernel, seen through its coarse clock resolution.
    (The host is Linux, so its clock ids are the guest's; Python names no coarse clock.)"""
    return round(time.clock_getres(CLOCK_MONOTONIC_COARSE) * NSEC_PER_SEC) or 4_000_000


@functools.cache
def tai_offset_ns() -> int:
    """CLOCK_TAI - CLOCK_REALTIME on the host: a whole number of seconds (0 unless set by NTP)."""
    offset = time.clock_gettime_ns(CLOCK_TAI) - time.clock_gettime_ns(CLOCK_REALTIME)
    return round(offset / NSEC_PER_SEC) * NSEC_PER_SEC


class Timekeeping(NamedTuple):
    """One anchoring of the formula: what the vDSO's data page holds."""

    cycle_last: int
    mult: int
    shift: int
    base_ns: int  # CLOCK_MONOTONIC at cycle_last
    wall_offset_ns: int  # CLOCK_REALTIME - CLOCK_MONOTONIC
    boot_offset_ns: int  # CLOCK_BOOTTIME - CLOCK_MONOTONIC
    tai_offset_ns: int  # CLOCK_TAI - CLOCK_REALTIME
    jiffy_ns: int  # the coarse clocks' tick

    def monotonic_at(self, cycles: int) -> int:
        """The formula, with the vDSO's 64-bit arithmetic."""
        delta = cycles - self.cycle_last
        if delta < 0:
            delta = 0
        return (self.base_ns + (((delta * self.mult) >> self.shift) & MASK64)) & MASK64


_tsc_code: mmap.mmap | None = None


def host_clocksource() -> str:
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def host_tsc_reader() -> Callable[[], int] | None:
    """rdtsc in pykern's own process, or None where the guest's clocks cannot be the TSC:
    not an x86-64 host, a host clocksource other than the TSC, no executable memory."""
    global _tsc_code
    if os.uname().machine != "x86_64" or host_clocksource() != "tsc":
        return None
    if _tsc_code is None:
        try:
            code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        except OSError:
            return None
        code.write(_RDTSC_CODE)
        _tsc_code = code
    address = ctypes.addressof(ctypes.c_char.from_buffer(_tsc_code))
    return ctypes.CFUNCTYPE(ctypes.c_uint64)(address)


class Clock:
    def __init__(self, use_tsc: bool = True) -> None:
        """`use_tsc` False: the host's clocks, as on a host whose clocksource is not the TSC."""
        # BOOTTIME runs ahead of MONOTONIC by the time suspended, never behind: read
        # MONOTONIC first, so that a delay between the two reads (a loaded host) can only
        # make the offset larger, never negative (ident_time's check failed once in CI).
        before = time.monotonic_ns()
        self._boot_offset = max(0, time.clock_gettime_ns(time.CLOCK_BOOTTIME) - before)
        self._read_tsc = host_tsc_reader() if use_tsc else None
        self._tk: Timekeeping | None = None  # None: the host's clocks (no TSC, or not calibrated yet)
        self._update_cycles = 0
        self._cycle_last = self._mult = self._base = self._wall_offset = 0  # self._tk's, for the hot path
        # Told every new anchoring (the vDSO's data page); None: the vDSO makes syscalls.
        self.publish: Callable[[Timekeeping | None], None] | None = None
        self._calibration = self._sample() if self._read_tsc is not None else (0, 0, 0)

    @property
    def timekeeping(self) -> Timekeeping | None:
        return self._tk

    def _sample(self) -> tuple[int, int, int]:
        """(TSC, host CLOCK_MONOTONIC, host REALTIME - MONOTONIC) at one moment: the
        narrowest of three brackets, its TSC and monotonic taken at their midpoints."""
        read_tsc = self._read_tsc
        assert read_tsc is not None
        best = None
        for _ in range(3):
            t1 = read_tsc()
            m1 = time.monotonic_ns()
            wall = time.time_ns()
            m2 = time.monotonic_ns()
            t2 = read_tsc()
            if best is None or t2 - t1 < best[0]:
                best = (t2 - t1, (t1 + t2) // 2, (m1 + m2) // 2, wall - (m1 + m2) // 2)
        return best[1], best[2], best[3]

    def calibrate(self) -> Timekeeping | None:
        """Start timekeeping on the TSC now if it has not started: waits out the rest of
        CALIBRATE_NS since pykern started (it has usually passed). None: no TSC."""
        if self._tk is None and self._read_tsc is not None:
            while time.monotonic_ns() - self._calibration[1] < CALIBRATE_NS:
                pass
            self._update()
        return self._tk

    def _update(self) -> None:
        """timekeeping_advance: re-anchor the formula at the TSC now and publish it."""
        cycles, host_ns, wall_offset = self._sample()
        old = self._tk
        base = old.monotonic_at(cycles) if old is not None else host_ns
        start_cycles, start_ns, _ = self._calibration
        if cycles - start_cycles <= 0:
            return
        # Behind the host: step forward (a clock may jump ahead, never back). Ahead: run
        # slower, to be level in STEER_NS. Updates come only when the clock is read, at
        # any interval: a slowing that lasts too long leaves the clock behind, and the
        # next update steps it; a rate correction in both directions would oscillate
        # (measured: 0.5 s between updates, a 100 ms correction grew the error 5x a time).
        ahead = base - host_ns
        if ahead < 0:
            base, ahead = host_ns, 0
        rate = ((host_ns - start_ns) << SHIFT) // (cycles - start_cycles)
        limit = STEER_NS * MAX_SLEW_PPM // 1_000_000
        mult = max(1, rate - rate * min(limit, ahead) // STEER_NS)
        if old is not None and abs(wall_offset - old.wall_offset_ns) < WALL_STEP_NS:
            wall_offset = old.wall_offset_ns
        self._tk = Timekeeping(cycles, mult, SHIFT, base, wall_offset, self._boot_offset, tai_offset_ns(),
                               jiffy_ns())
        self._update_cycles = (UPDATE_NS << SHIFT) // mult
        self._cycle_last, self._mult, self._base, self._wall_offset = cycles, mult, base, wall_offset
        if self.publish is not None:
            self.publish(self._tk)

    def _host_monotonic(self) -> int:
        """Before timekeeping on the TSC starts (or without a TSC): the host's clock,
        and the switch to the TSC once CALIBRATE_NS have passed."""
        if self._read_tsc is not None and time.monotonic_ns() - self._calibration[1] >= CALIBRATE_NS:
            self._update()
            if self._tk is not None:
                return self.monotonic_ns()
        return time.monotonic_ns()

    # The hot path (every clock read of every syscall): Timekeeping.monotonic_at inlined,
    # its fields kept as attributes. Python's integers do not wrap where the vDSO's 64-bit
    # ones would, which takes 584 years of uptime.
    def monotonic_ns(self) -> int:
        if self._tk is None:
            return self._host_monotonic()
        delta = self._read_tsc() - self._cycle_last
        if delta > self._update_cycles:
            self._update()
            delta = self._read_tsc() - self._cycle_last
        return self._base + ((delta * self._mult) >> SHIFT) if delta > 0 else self._base

    def realtime_ns(self) -> int:
        now = self.monotonic_ns()
        return now + self._wall_offset if self._tk is not None else time.time_ns()

    def boottime_ns(self) -> int:
        return self.monotonic_ns() + self._boot_offset

    def process_cpu_ns(self, group: ThreadGroup) -> int:
        return sum(self.thread_cpu_ns(task) for task in group.tasks) + group.cpu_ns

    def thread_cpu_ns(self, task: Task) -> int:
        """Guest time the task has run, including the slice it is in now."""
        running = time.perf_counter_ns() - task.running_since if task.running_since else 0
        return task.cpu_ns + running


# --- --deterministic: a virtual clock ------------------------------------------------------

# Virtual time one guest instruction takes: a 1 GHz CPU doing one instruction a cycle. The
# virtual TSC of pykern's libunicorn counts one tick per instruction: INSN_NS * TSC_HZ = 1e9.
INSN_NS = 1
TSC_HZ = 1_000_000_000  # the virtual TSC (rdtsc) counts virtual nanoseconds since boot
BOOT_NS = 10 * NSEC_PER_SEC  # CLOCK_MONOTONIC when the first process starts: booting took 10 s
DEFAULT_START_TIME = 946_684_800  # CLOCK_REALTIME at boot: 2000-01-01 00:00:00 UTC


class VirtualClock(Clock):
    """The clock of a deterministic run (--deterministic). Time is what the guest did:
    INSN_NS per guest instruction executed (by any task: one virtual CPU), plus the
    sleeps the scheduler skips (`advance_to`: when every task sleeps, time jumps to the
    next timer). Nothing here reads the host. The instruction count inside a running
    slice is the JIT's budget counter (pykern.ucbind.Uc.budget), charged per translation
    block: a read from a syscall counts its whole block, the same on every run.

    The guest's rdtsc reads the same count (pykern's libunicorn, the virtual TSC:
    tools/build_unicorn.py), a TSC of TSC_HZ that reads CLOCK_MONOTONIC's nanoseconds,
    so the vDSO computes every clock from it with the identity formula (mult 1 in
    32.32, cycle_last 0, base 0) and agrees with the syscalls to the instruction. With
    another libunicorn `timekeeping` is None: the vDSO makes the syscall, and rdtsc
    reads the host's TSC (not deterministic)."""

    def __init__(self, start_time: int = DEFAULT_START_TIME) -> None:
        """`start_time`: CLOCK_REALTIME at boot, in seconds since the epoch (--start-time)."""
        from pykern.ucbind import HAS_VIRTUAL_TSC

        self._read_tsc = None
        self._boot_offset = 0  # the guest machine never suspends: BOOTTIME = MONOTONIC
        self._update_cycles = 0
        self._cycle_last = self._mult = self._base = 0
        self._wall_offset = start_time * NSEC_PER_SEC - BOOT_NS
        self._tk = Timekeeping(0, 1 << SHIFT, SHIFT, 0, self._wall_offset, 0, tai_offset_ns(),
                               jiffy_ns()) if HAS_VIRTUAL_TSC else None
        self.publish = None
        self._calibration = (0, 0, 0)
        self._ns = BOOT_NS  # CLOCK_MONOTONIC when no slice runs
        self._uc: Uc | None = None  # the engine running a slice (its budget counts the slice's instructions)
        self._budget = 0  # its budget when the slice began

    def calibrate(self) -> Timekeeping | None:
        return self._tk

    def monotonic_ns(self) -> int:
        uc = self._uc
        if uc is None:
            return self._ns
        return self._ns + (self._budget - uc.budget()) * INSN_NS

    def realtime_ns(self) -> int:
        return self.monotonic_ns() + self._wall_offset

    def seconds(self) -> float:
        """CLOCK_MONOTONIC in seconds: the scheduler's timer deadlines."""
        return self.monotonic_ns() / NSEC_PER_SEC

    def tsc(self) -> int:
        """What rdtsc reads."""
        return self.monotonic_ns() * TSC_HZ // NSEC_PER_SEC

    def enter_user(self, uc: Uc, budget: int) -> None:
        """A slice begins with `budget` on `uc`'s counter (Trap.run_user, after set_budget)."""
        self._uc, self._budget = uc, budget
        if self._tk is not None:
            uc.set_tsc(self._ns * TSC_HZ // NSEC_PER_SEC)

    def leave_user(self, executed: int) -> int:
        """A slice of `executed` instructions ended: returns the virtual ns it took."""
        self._uc = None
        took = executed * INSN_NS
        self._ns += took
        return took

    def advance_to(self, deadline: float) -> None:
        """Every task sleeps: skip to `deadline` (monotonic seconds), never back."""
        ns = math.ceil(deadline * NSEC_PER_SEC)
        while ns / NSEC_PER_SEC < deadline:  # the timer must be due at the new time
            ns += 1
        if ns > self._ns:
            self._ns = ns

    def thread_cpu_ns(self, task: Task) -> int:
        if task.running_since and self._uc is not None:
            return task.cpu_ns + (self._budget - self._uc.budget()) * INSN_NS
        return task.cpu_ns
