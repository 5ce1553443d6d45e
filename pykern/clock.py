"""The one place guest time comes from. A deterministic mode replaces this class with a
virtual clock; nothing else in pykern reads the host's clocks for guest-visible time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.task import Task, ThreadGroup


class Clock:
    def __init__(self) -> None:
        # BOOTTIME runs ahead of MONOTONIC by the time suspended, never behind: read
        # MONOTONIC first, so that a delay between the two reads (a loaded host) can only
        # make the offset larger, never negative (ident_time's check failed once in CI).
        before = time.monotonic_ns()
        self._boot_offset = max(0, time.clock_gettime_ns(time.CLOCK_BOOTTIME) - before)

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def realtime_ns(self) -> int:
        return time.time_ns()

    def boottime_ns(self) -> int:
        return time.monotonic_ns() + self._boot_offset

    def process_cpu_ns(self, group: ThreadGroup) -> int:
        return sum(self.thread_cpu_ns(task) for task in group.tasks) + group.cpu_ns

    def thread_cpu_ns(self, task: Task) -> int:
        """Guest time the task has run, including the slice it is in now."""
        running = time.perf_counter_ns() - task.running_since if task.running_since else 0
        return task.cpu_ns + running
