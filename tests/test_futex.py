"""pykern.futex without Unicorn: the PI protocol (the TID in the word, FUTEX_WAITERS,
hand-over on unlock and on the owner's death, EDEADLK/EPERM/ESRCH), the robust-list walk,
wake/requeue counts, and the strace decoding of futex_waitv and futex's op names.
The testbins futex_robust, futex_pi, futex_ops and futex_waitv show the same against Linux."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from pykern import abi
from pykern import strace as st
from pykern.abi import FUTEX_OWNER_DIED, FUTEX_WAITERS
from pykern.errors import Fault, SysError
from pykern.futex import FutexTable
from pykern.mm import UserAccess
from pykern.smp import Smp
from pykern.task import TaskState


class Memory(UserAccess):
    """A few guest pages as one bytearray at BASE."""

    BASE = 0x10000

    def __init__(self, size: int = 0x1000) -> None:
        self.data = bytearray(size)

    def copy_in(self, addr: int, size: int) -> bytes:
        offset = addr - self.BASE
        if offset < 0 or offset + size > len(self.data):
            raise Fault(addr)
        return bytes(self.data[offset:offset + size])

    def find_vma(self, addr: int) -> SimpleNamespace | None:
        """One private read-write mapping (shared futex keys look it up)."""
        if self.BASE <= addr < self.BASE + len(self.data):
            return SimpleNamespace(prot=abi.PROT_READ | abi.PROT_WRITE, shared=False, flags=abi.MAP_PRIVATE)
        return None

    def copy_out(self, addr: int, data: bytes) -> None:
        offset = addr - self.BASE
        if offset < 0 or offset + len(data) > len(self.data):
            raise Fault(addr, write=True)
        self.data[offset:offset + len(data)] = data


class FakeTask:
    """What the futex table reads of a task (hashable, as a Task is)."""

    def __init__(self, tid: int, mm: Memory, kernel: SimpleNamespace) -> None:
        self.tid, self.mm, self.kernel = tid, mm, kernel
        self.state = TaskState.RUNNABLE
        self.robust_list = (0, 0)


class World:
    """Tasks sharing one Memory, found by tid as kernel.tasks finds them."""

    def __init__(self) -> None:
        self.mm = Memory()
        self.kernel = SimpleNamespace(tasks={}, woken=[], smp=Smp(1))
        self.kernel.sched = SimpleNamespace(wake=self.kernel.woken.append)
        self.table = FutexTable()

    def task(self, tid: int) -> FakeTask:
        task = FakeTask(tid, self.mm, self.kernel)
        self.kernel.tasks[tid] = task
        return task

    def key(self, addr: int) -> tuple:
        return self.table.key(self.mm, addr, private=True)

    def word(self, addr: int) -> int:
        return self.mm.copy_in_u32(addr)


WORD = Memory.BASE + 0x100


def lock_or_wait(world: World, task: FakeTask, addr: int = WORD):
    """LOCK_PI's first attempt: None when taken, else the queued PI waiter."""
    key = world.key(addr)
    if world.table.lock_pi_atomic(task, world.mm, addr, key, set_waiters=False) is None:
        return None
    waiter = world.table.enqueue(task, key, abi.FUTEX_BITSET_MATCH_ANY)
    world.table.wait_pi(waiter, addr)
    return waiter


def test_pi_lock_unlock_and_hand_over() -> None:
    world = World()
    a, b, c = world.task(100), world.task(101), world.task(102)
    assert lock_or_wait(world, a) is None and world.word(WORD) == 100
    with pytest.raises(SysError) as error:
        lock_or_wait(world, a)
    assert error.value.errno == abi.EDEADLK
    waiter_b = lock_or_wait(world, b)
    waiter_c = lock_or_wait(world, c)
    assert world.word(WORD) == 100 | FUTEX_WAITERS
    with pytest.raises(SysError) as error:
        world.table.unlock_pi(b, world.mm, WORD, world.key(WORD))
    assert error.value.errno == abi.EPERM
    world.table.unlock_pi(a, world.mm, WORD, world.key(WORD))
    assert waiter_b.granted and not waiter_c.granted  # first come, first served
    assert world.word(WORD) == 101 | FUTEX_WAITERS
    world.table.unlock_pi(b, world.mm, WORD, world.key(WORD))
    assert waiter_c.granted and world.word(WORD) == 102 | FUTEX_WAITERS
    world.table.unlock_pi(c, world.mm, WORD, world.key(WORD))
    assert world.word(WORD) == 0 and not world.table.pi_states and not world.table.waiters


def test_pi_owner_gone_is_esrch_and_death_hands_over() -> None:
    world = World()
    world.mm.copy_out_u32(WORD, 4242)
    with pytest.raises(SysError) as error:
        lock_or_wait(world, world.task(100))
    assert error.value.errno == abi.ESRCH
    assert not world.table.pi_states  # nothing left behind
    world.mm.copy_out_u32(WORD, 0)
    owner, waiter_task = world.task(200), world.task(201)
    lock_or_wait(world, owner)
    waiter = lock_or_wait(world, waiter_task)
    world.table.exit_release(owner)
    assert waiter.granted and world.word(WORD) == 201 | FUTEX_WAITERS | FUTEX_OWNER_DIED


def test_pi_deadlock_cycle_is_edeadlk() -> None:
    world = World()
    a, b = world.task(100), world.task(101)
    other = WORD + 4
    lock_or_wait(world, a)
    lock_or_wait(world, b, other)
    assert lock_or_wait(world, a, other) is not None  # a waits for b
    with pytest.raises(SysError) as error:
        lock_or_wait(world, b)  # b would wait for a: a cycle
    assert error.value.errno == abi.EDEADLK


def test_robust_list_walk() -> None:
    """exit_robust_list over {next, futex_offset, list_op_pending}: held locks get
    FUTEX_OWNER_DIED (WAITERS kept), others stay, a cycle stops at the limit."""
    world = World()
    task = world.task(300)
    head, a, b, c = (Memory.BASE + off for off in (0x200, 0x300, 0x340, 0x380))
    offset = 8  # each lock: an 8-byte next pointer, then the word
    world.mm.copy_out(head, struct.pack("<QqQ", a, offset, c | 1))  # c pending, as a PI lock
    world.mm.copy_out(a, struct.pack("<QI", b, 300))
    world.mm.copy_out(b, struct.pack("<QI", head, 300 | FUTEX_WAITERS))
    world.mm.copy_out(c, struct.pack("<QI", head, 300))
    task.robust_list = (head, 24)
    waiter = world.table.enqueue(world.task(301), world.table.key(world.mm, b + offset, private=False), 1)
    world.table.exit_release(task)
    assert world.word(a + offset) == FUTEX_OWNER_DIED
    assert world.word(b + offset) == FUTEX_OWNER_DIED | FUTEX_WAITERS
    assert waiter.woken  # the lock with FUTEX_WAITERS wakes one waiter (a shared futex)
    assert world.word(c + offset) == FUTEX_OWNER_DIED
    assert task.robust_list == (0, 0)

    world.mm.copy_out(a, struct.pack("<QI", a, 999))  # a list that points at itself
    task.robust_list = (head, 24)
    world.mm.copy_out(head, struct.pack("<QqQ", a, offset, 0))
    world.table.exit_robust_list(task)  # ends after ROBUST_LIST_LIMIT entries
    assert world.word(a + offset) == 999
    world.mm.copy_out(head, struct.pack("<QqQ", 0xDEAD0000, offset, 0))  # unmapped: ignored
    world.table.exit_robust_list(task)


def test_wake_counts_and_requeue() -> None:
    world = World()
    tasks = [world.task(400 + i) for i in range(4)]
    key, key2 = world.key(WORD), world.key(WORD + 4)
    waiters = [world.table.enqueue(t, key, 1 << (i % 2)) for i, t in enumerate(tasks)]
    assert world.table.wake_key(key, 0) == 1 and waiters[0].woken  # 0 still wakes one
    assert world.table.wake_key(key, 10, bitset=2) == 2  # the odd ones
    assert world.table.requeue(key, 0, key2, 1) == 1 and waiters[2].key == key2
    assert world.table.wake_key(key2, 5) == 1 and waiters[2].woken
    pi_waiter = world.table.enqueue(tasks[0], key, 1)
    pi_waiter.pi = True
    with pytest.raises(SysError) as error:
        world.table.wake_key(key, 1)  # FUTEX_WAKE meets a PI waiter
    assert error.value.errno == abi.EINVAL


class FakeMemory:
    def __init__(self, base: int, blob: bytes) -> None:
        self.base, self.blob = base, blob

    def copy_in(self, addr: int, size: int) -> bytes:
        if self.base <= addr and addr + size <= self.base + len(self.blob):
            return self.blob[addr - self.base:addr - self.base + size]
        raise Fault(addr)


def test_strace_futex_waitv_and_op_names() -> None:
    from pykern.syscalls.table import build_table

    entry = next(e for e in build_table() if e is not None and e.name == "futex_waitv")
    vector = struct.pack("<QQII", 0, 0x7000, 2 | 128, 0) + struct.pack("<QQII", 1, 0x7004, 2 | 4, 1)
    task = SimpleNamespace(tid=2, mm=FakeMemory(0x5000, vector))
    call = st.Call(task, entry, [0x5000, 2, 0, 0, 1], 32, 0)
    assert st._futex_waitv_args(call) == [
        "[{val=0, uaddr=0x7000, flags=FUTEX_32|FUTEX_PRIVATE_FLAG}, "
        "{val=0x1, uaddr=0x7004, flags=FUTEX_32|0x4, __reserved=0x1}]", "2", "0", "NULL", "CLOCK_MONOTONIC"]
    assert st._futex_waitv_args(st.Call(task, entry, [0, 1, 1, 0, 0], 32, 0))[:3] == ["NULL", "1", "0x1"]
    assert st._futex_waitv_args(st.Call(task, entry, [8, 1, 0, 0, 0], 32, 0))[0] == "0x8"
    assert st._futex_waitv_args(st.Call(task, entry, [0x5000, 0, 0, 0, 0], 32, 0))[0] == "[]"
    assert st.futex_op(0x181) == "0x181 /* FUTEX_??? */"
    assert st.futex_op(2 | 128) == "FUTEX_FD|FUTEX_PRIVATE_FLAG"
    assert st.futex_op(6 | 128) == "FUTEX_LOCK_PI_PRIVATE"
    assert st.futex_op(0 | 256) == "FUTEX_WAIT|FUTEX_CLOCK_REALTIME"
    assert st.futex_op(11 | 128 | 256) == "FUTEX_WAIT_REQUEUE_PI_PRIVATE|FUTEX_CLOCK_REALTIME"
    assert st.futex_op(14) == "0xe /* FUTEX_??? */"
