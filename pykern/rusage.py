"""Resource usage: what getrusage(2), wait4(2)'s rusage, times(2) and /proc/PID/stat
report (Linux's k_getrusage and the signal struct's c* counters).

- CPU time, as gVisor keeps it: the wall time a thread spends running, split by where it
  runs. System time is the time in its syscall handlers (the trap times each one; a
  woken call's retry counts too); user time is the rest of its slices, the JIT's. It is
  wall time: on a host with more runnable threads than CPUs both run long. Under
  --deterministic CPU time is virtual (the instructions run) and all of it is user time.
- Context switches: sleeping in a call is a voluntary switch, the end of a quantum an
  involuntary one.
- Memory, per address space (an MM): its resident set is the host pages that back its
  VMAs (pykern never sees a page fault: the host serves the first touch of a page, inside
  the JIT). A page fault is a page of memory that starts empty (anonymous, heap, stack;
  not a file's, which pykern reads in whole) becoming resident, so an MM's minor faults
  are those resident pages now, less those a fork gave it already copied (`rss_base`),
  plus those it gave back (`rss_released`: munmap, MADV_DONTNEED, a shrinking brk). The
  peak (ru_maxrss, VmHWM) is sampled where the resident set can only go down, before
  pages are given back (as Linux's update_hiwater_rss), when it is asked for, and now
  and then between slices (OomKiller.check). Differences from Linux: what a fork child
  starts with is not its faults (Linux counts its copy-on-write faults); touching a
  file's pages is no fault, and a private file mapping is resident whole from the start
  (pykern reads it in); faults belong to the process, so RUSAGE_THREAD shows the
  process's; there are no major faults.
- A process's reaped children add their totals, and those of their own reaped children,
  to its `children_usage` (the peak: the largest, as Linux's cmaxrss).
"""

from __future__ import annotations

import resource
import struct
import time
import weakref
from time import perf_counter_ns
from typing import TYPE_CHECKING

from pykern.abi import PAGE_SIZE

if TYPE_CHECKING:
    from pykern.clock import Clock
    from pykern.hostmem import Backing
    from pykern.mm import MM, VMA
    from pykern.task import Task, ThreadGroup

RUSAGE = struct.Struct("<qqqq14q")  # ru_utime, ru_stime (timevals), then 14 longs ending nvcsw, nivcsw
SAMPLE_NS = 100_000_000  # the least time between two peak samples of one MM from the scheduler
BIG_RELEASE = 1 << 20  # giving back this much samples the peak first, however recent the last sample


class Usage:
    __slots__ = ("cpu_ns", "stime_ns", "minflt", "majflt", "maxrss", "nvcsw", "nivcsw")

    def __init__(self, cpu_ns: int = 0, nvcsw: int = 0, nivcsw: int = 0, stime_ns: int = 0) -> None:
        self.cpu_ns = cpu_ns  # user + system
        self.stime_ns = stime_ns
        self.minflt = 0
        self.majflt = 0
        self.maxrss = 0  # bytes
        self.nvcsw = nvcsw
        self.nivcsw = nivcsw

    @property
    def utime_ns(self) -> int:
        return max(self.cpu_ns - self.stime_ns, 0)

    def add(self, other: Usage) -> None:
        self.cpu_ns += other.cpu_ns
        self.stime_ns += other.stime_ns
        self.minflt += other.minflt
        self.majflt += other.majflt
        self.maxrss = max(self.maxrss, other.maxrss)
        self.nvcsw += other.nvcsw
        self.nivcsw += other.nivcsw

    def pack(self) -> bytes:
        user_sec, user_ns = divmod(self.utime_ns, 1_000_000_000)
        sys_sec, sys_ns = divmod(min(self.stime_ns, self.cpu_ns), 1_000_000_000)
        return RUSAGE.pack(user_sec, user_ns // 1000, sys_sec, sys_ns // 1000, self.maxrss // 1024,
                           0, 0, 0, self.minflt, self.majflt, 0, 0, 0, 0, 0, 0, self.nvcsw, self.nivcsw)


# --- memory --------------------------------------------------------------------------------------

# A frozen backing's content never changes (pykern.mm): what of it is resident is asked once.
_frozen_resident: weakref.WeakKeyDictionary[Backing, dict[tuple[int, int], int]] = weakref.WeakKeyDictionary()


def vma_resident(vma: VMA) -> int:
    """Bytes of `vma` the host holds (the vDSO's data page counts none, as Linux's [vvar])."""
    if vma.name == "[vvar]":
        return 0
    backing, length = vma.backing, vma.end - vma.start
    try:
        if backing.frozen and not vma.shared:
            sizes = _frozen_resident.setdefault(backing, {})
            size = sizes.get((vma.offset, length))
            if size is None:
                size = sizes[vma.offset, length] = backing.resident_size(vma.offset, length)
            return size
        return backing.resident_size(vma.offset, length)
    except (OSError, ValueError):
        return length


def faultable(vma: VMA) -> bool:
    """Does a page of `vma` become resident by the guest's first touch? Not a file's
    (pykern reads a private file mapping in whole when it maps it, and the host's page
    cache serves a shared one) nor the vDSO's: only memory that starts empty."""
    return not vma.name or vma.name.startswith("[") and vma.name not in ("[vdso]", "[vvar]")


def _resident(mm: MM) -> tuple[int, int, int]:
    """(resident bytes of the MM, the part in faultable VMAs, the part in its own
    private backings)."""
    rss = touched = private = 0
    for vma in mm.vmas:
        resident = vma_resident(vma)
        rss += resident
        if faultable(vma):
            touched += resident
        if not vma.shared and not vma.backing.frozen:
            private += resident
    return rss, touched, private


def host_faults() -> int:
    """Page faults of pykern's thread (the one that runs the JIT and touches guest memory)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_minflt + usage.ru_majflt


def _current(mm: MM) -> tuple[int, int, int]:
    """_resident(mm) now; the peak follows. Asking the host costs some microseconds a
    VMA, so when neither the VMA list has changed nor the host has faulted in a page for
    pykern since the last sample (a fork's, or an ask's), that sample is still the answer."""
    faults = host_faults()
    last = mm.rss_sample
    if last is not None and last[3] == mm.map_generation and last[4] == faults:
        rss, touched, private = last[0], last[1], last[2]
    else:
        rss, touched, private = _resident(mm)
    if rss > mm.hiwater_rss:
        mm.hiwater_rss = rss
    mm.rss_sampled_ns = time.monotonic_ns()
    mm.rss_sample = (rss, touched, private, mm.map_generation, faults)
    return rss, touched, private


def sample_rss(mm: MM) -> tuple[int, int]:
    """(resident bytes of the MM now, the part in faultable VMAs); the peak follows."""
    rss, touched, _ = _current(mm)
    return rss, touched


def maybe_sample_rss(mm: MM) -> None:
    """Between slices (OomKiller.check): a peak sample if the last is SAMPLE_NS old."""
    if time.monotonic_ns() - mm.rss_sampled_ns >= SAMPLE_NS:
        sample_rss(mm)


def forked(child: MM, copied: int, copied_faultable: int) -> None:
    """A fork made `child`, copying `copied` resident bytes of private memory into it
    (`copied_faultable` of them in faultable VMAs). What it starts with is not its faults
    (`rss_base`: those copies, and the shared pages it maps as its parent does), and is
    its first sample: a child that exits without the host faulting a page in is not
    asked again."""
    rss, touched = copied, copied_faultable
    for vma in child.vmas:
        if vma.shared or vma.backing.frozen:
            resident = vma_resident(vma)
            rss += resident
            if faultable(vma):
                touched += resident
    child.rss_base = touched
    child.hiwater_rss = rss
    child.rss_sampled_ns = time.monotonic_ns()
    child.rss_sample = (rss, touched, copied, child.map_generation, host_faults())


def mm_faults(mm: MM, touched: int) -> int:
    """Minor faults of `mm` so far, given its faultable resident bytes now."""
    return max(touched - mm.rss_base + mm.rss_released, 0) // PAGE_SIZE


def release_pages(mm: MM, vmas: list[VMA]) -> None:
    """`vmas` (pieces of the MM's) are about to be unmapped or zeroed: what of them is
    resident was faulted in, and the peak may be now."""
    released = touched = 0
    for vma in vmas:
        resident = vma_resident(vma)
        released += resident
        if faultable(vma):
            touched += resident
    if not released:
        return
    if released >= BIG_RELEASE or time.monotonic_ns() - mm.rss_sampled_ns >= SAMPLE_NS // 10:
        sample_rss(mm)
    mm.rss_sample = None  # (MADV_DONTNEED gives pages back without changing a VMA)
    mm.rss_released += touched


def retire_mm_usage(group: ThreadGroup, mm: MM) -> None:
    """The process leaves `mm` for good (exec, exit): its faults and peak stay with the
    process (Linux keeps min_flt per task and the old mm's hiwater in signal->maxrss)."""
    rss, touched, private = _current(mm)
    mm.private_rss = private  # MM.destroy weighs it when it pools the MM: not asked twice
    usage = group.mm_usage
    usage.minflt += mm_faults(mm, touched)
    usage.maxrss = max(usage.maxrss, mm.hiwater_rss)
    mm.rss_base, mm.rss_released = touched, 0  # counted: nothing is counted twice


def _memory_usage(group: ThreadGroup, mm: MM | None, usage: Usage) -> None:
    usage.minflt += group.mm_usage.minflt
    usage.maxrss = max(usage.maxrss, group.mm_usage.maxrss)
    if mm is not None and mm.uc is not None:
        usage.minflt += mm_faults(mm, sample_rss(mm)[1])
        usage.maxrss = max(usage.maxrss, mm.hiwater_rss)


# --- what the calls report -----------------------------------------------------------------------


def _live_mm(group: ThreadGroup) -> MM | None:
    live = group.live_tasks
    return live[0].mm if live else None


def thread_stime_ns(task: Task) -> int:
    """The task's system time, the call it is in now included (so that its user time,
    CPU time less system time, never goes back between two asks). None under
    --deterministic, where CPU time is the instructions run, all of it user time."""
    if task.kernel.sched.virtual is not None:
        return 0
    stime = task.stime_ns
    for cpu in task.kernel.smp.cpus:
        if cpu.retrying is task or (cpu.in_syscall_hook and cpu.current is task):
            stime += perf_counter_ns() - cpu.entered
    return stime


def _cpu_usage(clock: Clock, task: Task) -> Usage:
    """The thread's times, neither of which goes back between two asks (Linux's
    cputime_adjust and its prev_cputime: the CPU time and the system time are read at
    two instants, and a host that preempts pykern between them would move time from one
    to the other)."""
    cpu = clock.thread_cpu_ns(task)
    stime = min(thread_stime_ns(task), cpu)
    prev_utime, prev_stime = task.prev_cputime
    if prev_utime + prev_stime >= cpu:
        utime, stime = prev_utime, prev_stime
    else:
        stime = max(stime, prev_stime)
        utime = max(cpu - stime, prev_utime)
        stime = cpu - utime
        task.prev_cputime = (utime, stime)
    return Usage(utime + stime, task.nvcsw, task.nivcsw, stime)


def thread_usage(clock: Clock, task: Task) -> Usage:
    """RUSAGE_THREAD (faults and peak: the process's, see the module's text)."""
    usage = _cpu_usage(clock, task)
    _memory_usage(task.group, _live_mm(task.group), usage)
    return usage


def process_cpu_usage(clock: Clock, group: ThreadGroup) -> Usage:
    """The CPU times and context switches of every thread the process has had (times(2))."""
    total = Usage(group.cpu_ns)
    for task in group.tasks:
        total.add(_cpu_usage(clock, task))
    return total


def process_usage(clock: Clock, group: ThreadGroup) -> Usage:
    """RUSAGE_SELF: every thread the process has had, every address space it has used."""
    total = process_cpu_usage(clock, group)
    _memory_usage(group, _live_mm(group), total)
    return total


def reaped_usage(clock: Clock, group: ThreadGroup) -> Usage:
    """What a zombie's parent collects when it reaps it, and what wait4 reports: the
    child's own usage and its reaped children's."""
    total = process_usage(clock, group)
    total.add(group.children_usage)
    return total


__all__ = ["RUSAGE", "Usage", "faultable", "forked", "maybe_sample_rss", "mm_faults", "process_cpu_usage", "process_usage",
           "reaped_usage", "release_pages", "retire_mm_usage", "sample_rss", "thread_stime_ns", "thread_usage",
           "vma_resident"]
