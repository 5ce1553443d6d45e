"""The one place guest time comes from. A deterministic mode replaces this class with a
virtual clock; nothing else in pykern reads the host's clocks for guest-visible time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.task import Task, ThreadGroup


class Clock:
    def __init__(self) -> None:
        self._boot_offset = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - time.monotonic_ns()

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
