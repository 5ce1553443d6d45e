"""Futexes (Linux's kernel/futex): wait queues keyed by a user address.

The key decides who meets whom. A private futex (FUTEX_PRIVATE_FLAG, or an address in
private memory) is keyed by (address space, address). An address in a MAP_SHARED
mapping is keyed by (host backing, offset): two processes that map the same memory at
different addresses still wait on the same queue, as with Linux's inode/page keys.

A waiter is a record on its key's list. FUTEX_WAKE marks records woken and wakes their
tasks; the sleeping FUTEX_WAIT call, re-run from the top, sees the mark and returns 0.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.mm import MM
    from pykern.task import Task

FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF


class FutexWaiter:
    __slots__ = ("task", "key", "bitset", "woken", "queue")

    def __init__(self, task: Task, key: Hashable, bitset: int, woken: bool = False,
                 queue: WaitQueue | None = None) -> None:
        self.task = task
        self.key = key
        self.bitset = bitset
        self.woken = woken
        self.queue = WaitQueue("futex") if queue is None else queue


class FutexTable:
    def __init__(self) -> None:
        self.waiters: dict[Hashable, list[FutexWaiter]] = {}

    @staticmethod
    def key(mm: MM, addr: int, private: bool) -> Hashable:
        if not private:
            vma = mm.find_vma(addr)
            if vma is not None and vma.shared:
                return (id(vma.backing), vma.offset + addr - vma.start)
        return (id(mm), addr)

    def enqueue(self, task: Task, key: Hashable, bitset: int) -> FutexWaiter:
        waiter = FutexWaiter(task, key, bitset)
        self.waiters.setdefault(key, []).append(waiter)
        return waiter

    def dequeue(self, waiter: FutexWaiter) -> None:
        queue = self.waiters.get(waiter.key)
        if queue and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self.waiters[waiter.key]

    def wake_key(self, key: Hashable, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
        woken = 0
        for waiter in list(self.waiters.get(key, ())):
            if woken >= count:
                break
            if waiter.bitset & bitset:
                self.dequeue(waiter)
                waiter.woken = True
                waiter.queue.wake_all()
                woken += 1
        return woken

    def wake(self, mm: MM, addr: int, count: int) -> int:
        """CLONE_CHILD_CLEARTID's wake at thread exit (a shared-key lookup first)."""
        return self.wake_key(self.key(mm, addr, private=False), count)

    def requeue(self, key: Hashable, count: int, key2: Hashable, count2: int) -> int:
        woken = self.wake_key(key, count)
        moved = 0
        for waiter in list(self.waiters.get(key, ())):
            if moved >= count2:
                break
            self.dequeue(waiter)
            waiter.key = key2
            self.waiters.setdefault(key2, []).append(waiter)
            moved += 1
        return woken + moved
