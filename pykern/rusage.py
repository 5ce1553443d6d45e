"""Resource usage: what getrusage(2), wait4(2)'s rusage and times(2) report (Linux's
k_getrusage and the signal struct's c* counters).

pykern keeps, per thread, the time it ran in the JIT (its slices, syscalls included)
and how often it gave the CPU up: sleeping in a call (a voluntary switch) or at the
end of its quantum (an involuntary one). It does not tell user from system time (all
of it is user time) and keeps no page-fault, block-I/O or peak-RSS counters (0, as
Linux shows for counters it does not maintain). A process's reaped children add their
totals, and those of their own reaped children, to its `children_usage`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.clock import Clock
    from pykern.task import Task, ThreadGroup

RUSAGE = struct.Struct("<qqqq14q")  # ru_utime, ru_stime (timevals), then 14 longs ending nvcsw, nivcsw


class Usage:
    __slots__ = ("cpu_ns", "nvcsw", "nivcsw")

    def __init__(self, cpu_ns: int = 0, nvcsw: int = 0, nivcsw: int = 0) -> None:
        self.cpu_ns = cpu_ns
        self.nvcsw = nvcsw
        self.nivcsw = nivcsw

    def add(self, other: Usage) -> None:
        self.cpu_ns += other.cpu_ns
        self.nvcsw += other.nvcsw
        self.nivcsw += other.nivcsw

    def pack(self) -> bytes:
        sec, rest = divmod(self.cpu_ns, 1_000_000_000)
        return RUSAGE.pack(sec, rest // 1000, 0, 0, *([0] * 12), self.nvcsw, self.nivcsw)


def thread_usage(clock: Clock, task: Task) -> Usage:
    return Usage(clock.thread_cpu_ns(task), task.nvcsw, task.nivcsw)


def process_usage(clock: Clock, group: ThreadGroup) -> Usage:
    """RUSAGE_SELF: every thread the process has had."""
    total = Usage(group.cpu_ns)
    for task in group.tasks:
        total.add(thread_usage(clock, task))
    return total


def reaped_usage(clock: Clock, group: ThreadGroup) -> Usage:
    """What a zombie's parent collects when it reaps it, and what wait4 reports: the
    child's own usage and its reaped children's."""
    total = process_usage(clock, group)
    total.add(group.children_usage)
    return total


__all__ = ["RUSAGE", "Usage", "process_usage", "reaped_usage", "thread_usage"]
