"""Wait queues: a list of sleeping tasks that a wakeup makes runnable again.

A wakeup is only a hint (xv6's wakeup(chan)): woken tasks re-run their pending call,
which re-checks its condition and may sleep again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.task import Task


class WaitQueue:
    __slots__ = ("name", "waiters", "wakeups")

    def __init__(self, name: str = "") -> None:
        self.name = name
        # in the order they came (a dict as an ordered set: adding and removing one of a
        # thousand sleepers on one pipe costs the same as one of two)
        self.waiters: dict[Task, None] = {}
        self.wakeups = 0  # how many times it was woken: epoll's edge-triggered mode reads it

    def add(self, task: Task) -> None:
        self.waiters[task] = None

    def remove(self, task: Task) -> None:
        self.waiters.pop(task, None)

    def wake_all(self) -> None:
        self.wakeups += 1
        waiters, self.waiters = self.waiters, {}
        for task in waiters:
            task.kernel.sched.wake(task)

    def __repr__(self) -> str:
        return f"<WaitQueue {self.name} {len(self.waiters)} waiting>"
