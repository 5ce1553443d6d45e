"""Futexes (Linux's kernel/futex): wait queues keyed by a user address, the
priority-inheritance lock protocol, and the robust-list walk at thread exit.

The key decides who meets whom (get_futex_key). A private futex (FUTEX_PRIVATE_FLAG)
is keyed by (address space, address) without looking at the memory. A shared one must
be mapped and readable (EFAULT otherwise): in a MAP_SHARED file mapping it is keyed by
the file (host device and inode) and the offset in it, in shared anonymous memory by
(host backing, offset), so processes that map the same memory at different addresses
wait on the same queue, as with Linux's inode/page keys; in private memory by (address
space, address) again, but apart from the private key, as Linux marks it FUT_OFF_MMSHARED.

A waiter is a record on its key's list, in arrival order. FUTEX_WAKE marks records woken
and wakes their tasks; the sleeping call, re-run from the top, sees the mark and returns.

PI futexes (FUTEX_LOCK_PI and friends) keep the owner's TID in the futex word, with
FUTEX_WAITERS set while the kernel has waiters and FUTEX_OWNER_DIED after an owner died
holding it. pykern has no priorities to inherit: PI here is the protocol and the
ownership (Linux's pi_state), not scheduling. A lock handed to a waiter (unlock, or its
owner's death) is written into the word by the kernel before the waiter runs again, as
Linux's wake_futex_pi and fixup_pi_state_owner leave it.

Invariants: a waiter is on exactly one key's list until it is woken, granted or
cancelled; `pi_states[key]` exists while the key has PI waiters, and names the task
they wait for; `pi_blocked[task]` is the PI waiter a task sleeps as (deadlock detection).
"""

from __future__ import annotations

import ctypes
from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    EDEADLK,
    EINVAL,
    EPERM,
    ESRCH,
    FUTEX_BITSET_MATCH_ANY,
    FUTEX_OWNER_DIED,
    FUTEX_TID_MASK,
    FUTEX_WAITERS,
    MAP_ANONYMOUS,
    PROT_READ,
    PROT_WRITE,
    ROBUST_LIST_LIMIT,
)
from pykern.errors import Fault, SysError
from pykern.task import TaskState
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.mm import MM
    from pykern.task import Task

__all__ = ["FUTEX_BITSET_MATCH_ANY", "FutexTable", "FutexWaiter", "PiState", "futex_exit_release"]


class FutexWaiter:
    """A futex_q: one task waiting on one key. `pi`: it waits for a PI lock (LOCK_PI, or
    requeued there by CMP_REQUEUE_PI); `requeue_pi_key`: it sleeps in WAIT_REQUEUE_PI and
    may only be requeued to that key; `granted`: a PI lock was handed to it; `index`:
    its place in a futex_waitv vector."""

    __slots__ = ("task", "key", "bitset", "woken", "queue", "pi", "requeue_pi_key", "granted", "mm", "uaddr",
                 "index")

    def __init__(self, task: Task, key: Hashable, bitset: int, queue: WaitQueue | None = None) -> None:
        self.task = task
        self.key = key
        self.bitset = bitset
        self.woken = False
        self.queue = WaitQueue("futex") if queue is None else queue
        self.pi = False
        self.requeue_pi_key: Hashable | None = None
        self.granted = False
        self.mm: MM = task.mm
        self.uaddr = 0  # the PI futex word, in self.mm (written when the lock is handed over)
        self.index = 0


class PiState:
    """Linux's futex_pi_state: who owns a PI futex that has (or had) kernel waiters."""

    __slots__ = ("key", "owner")

    def __init__(self, key: Hashable, owner: Task | None) -> None:
        self.key = key
        self.owner = owner


# process_vm_readv on pykern's own memory: a read that the host kernel answers with EFAULT
# where a plain load would raise SIGBUS (a shared file mapping beyond the file's end).
_libc = ctypes.CDLL(None, use_errno=True)


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_getpid = _libc.getpid
_process_vm_readv = _libc.process_vm_readv
_process_vm_readv.argtypes = [ctypes.c_int, ctypes.POINTER(_IoVec), ctypes.c_ulong, ctypes.POINTER(_IoVec),
                              ctypes.c_ulong, ctypes.c_ulong]
_process_vm_readv.restype = ctypes.c_ssize_t


def host_readable(host_addr: int) -> bool:
    """Whether pykern can read 4 bytes at a host address of a file mapping (no SIGBUS)."""
    word = ctypes.c_uint32()
    local = _IoVec(ctypes.cast(ctypes.byref(word), ctypes.c_void_p), 4)
    remote = _IoVec(host_addr, 4)
    return _process_vm_readv(_getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) == 4


class FutexTable:
    def __init__(self) -> None:
        self.waiters: dict[Hashable, list[FutexWaiter]] = {}
        self.pi_states: dict[Hashable, PiState] = {}
        self.pi_blocked: dict[Task, FutexWaiter] = {}

    # --- keys -------------------------------------------------------------------------------

    @staticmethod
    def key(mm: MM, addr: int, private: bool) -> Hashable:
        """get_futex_key. Raises Fault (EFAULT) for a shared futex that is not mapped
        readable; the caller has checked the alignment (EINVAL)."""
        if private:
            return ("private", id(mm), addr)
        vma = mm.find_vma(addr)
        if vma is None or not vma.prot & PROT_READ:
            raise Fault(addr)
        if vma.shared:
            offset = vma.offset + addr - vma.start
            backing = vma.backing
            if backing.file_key is None:  # shared anonymous memory (inherited across fork)
                return ("shared", id(backing), offset)
            if not host_readable(backing.ptr + offset):
                raise Fault(addr)  # beyond the end of the mapped file: SIGBUS, hence EFAULT
            dev, ino, file_offset = backing.file_key
            return ("file", dev, ino, file_offset + offset)
        if vma.flags & MAP_ANONYMOUS and not vma.prot & PROT_WRITE:
            raise Fault(addr)  # a read-only anonymous page (get_futex_key's `ro` case)
        return ("mm", id(mm), addr)

    # --- queues -----------------------------------------------------------------------------

    def enqueue(self, task: Task, key: Hashable, bitset: int, queue: WaitQueue | None = None) -> FutexWaiter:
        waiter = FutexWaiter(task, key, bitset, queue)
        self.waiters.setdefault(key, []).append(waiter)
        return waiter

    def dequeue(self, waiter: FutexWaiter) -> None:
        """Take a waiter off its list (woken, timed out, interrupted or dead)."""
        queue = self.waiters.get(waiter.key)
        if queue and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self.waiters[waiter.key]
        if self.pi_blocked.get(waiter.task) is waiter:
            del self.pi_blocked[waiter.task]
        if waiter.pi:
            self.put_pi_state(waiter.key)

    def _mark_woken(self, waiter: FutexWaiter) -> None:
        self.dequeue(waiter)
        waiter.woken = True
        waiter.queue.wake_all()

    def wake_key(self, key: Hashable, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
        """futex_wake: wake up to `count` (at least one) waiters whose bitset matches.
        EINVAL when it meets a PI waiter: FUTEX_WAKE is not for PI futexes."""
        woken = 0
        for waiter in list(self.waiters.get(key, ())):
            if waiter.pi or waiter.requeue_pi_key is not None:
                raise SysError(EINVAL)
            if waiter.bitset & bitset:
                self._mark_woken(waiter)
                woken += 1
                if woken >= count:
                    break
        return woken

    def wake(self, mm: MM, addr: int, count: int) -> int:
        """CLONE_CHILD_CLEARTID's wake at thread exit (a shared futex, as mm_release)."""
        try:
            return self.wake_key(self.key(mm, addr, private=False), count)
        except (Fault, SysError):
            return 0

    def requeue(self, key: Hashable, count: int, key2: Hashable, count2: int) -> int:
        """futex_requeue without PI: wake `count`, move up to `count2` more to key2."""
        done = 0
        for waiter in list(self.waiters.get(key, ())):
            if done - count >= count2:
                break
            if waiter.pi or waiter.requeue_pi_key is not None:
                raise SysError(EINVAL)
            done += 1
            if done <= count:
                self._mark_woken(waiter)
            else:
                self.move(waiter, key2)
        return done

    def move(self, waiter: FutexWaiter, key2: Hashable) -> None:
        self.waiters[waiter.key].remove(waiter)
        if not self.waiters[waiter.key]:
            del self.waiters[waiter.key]
        waiter.key = key2
        self.waiters.setdefault(key2, []).append(waiter)

    # --- priority inheritance ---------------------------------------------------------------

    def put_pi_state(self, key: Hashable) -> None:
        """Drop a pi_state nobody waits on any more (Linux frees it with its last reference)."""
        if key in self.pi_states and not self._pi_waiters(key):
            del self.pi_states[key]

    def _pi_waiters(self, key: Hashable) -> list[FutexWaiter]:
        return [w for w in self.waiters.get(key, ()) if w.pi]

    def _attach(self, task: Task, key: Hashable, uval: int) -> PiState:
        """attach_to_pi_state / attach_to_pi_owner: the pi_state of a futex whose word
        names owner TID `uval & FUTEX_TID_MASK` (ESRCH when no such thread lives), and
        EDEADLK if waiting for it would close a cycle of PI waits (rt_mutex's chain walk)."""
        tid = uval & FUTEX_TID_MASK
        state = self.pi_states.get(key)
        if state is None or state.owner is None or state.owner.tid != tid:
            owner = task.kernel.tasks.get(tid)
            if owner is None or owner.state is TaskState.DEAD:
                self.put_pi_state(key)
                raise SysError(ESRCH)
            if state is None:
                state = self.pi_states[key] = PiState(key, owner)
            state.owner = owner
        holder, steps = state.owner, 0
        while holder is not None and steps < 1024:
            if holder is task:
                self.put_pi_state(key)
                raise SysError(EDEADLK)
            blocked = self.pi_blocked.get(holder)
            if blocked is None:
                break
            next_state = self.pi_states.get(blocked.key)
            holder = next_state.owner if next_state is not None else None
            steps += 1
        return state

    def lock_pi_atomic(self, task: Task, mm: MM, uaddr: int, key: Hashable, set_waiters: bool) -> PiState | None:
        """futex_lock_pi_atomic for `task`: take the lock when the word names no owner
        (None), else set FUTEX_WAITERS and return the owner's pi_state. EDEADLK when
        `task` owns it already, ESRCH when the owner is gone."""
        task.kernel.smp.stop_others()  # (the read and the write below as one atomic step)
        uval = mm.copy_in_u32(uaddr)
        if uval & FUTEX_TID_MASK == task.tid:
            raise SysError(EDEADLK)
        if not uval & FUTEX_TID_MASK:
            newval = task.tid | (uval & FUTEX_OWNER_DIED) | (FUTEX_WAITERS if set_waiters else 0)
            mm.copy_out_u32(uaddr, newval)
            self.pi_states.setdefault(key, PiState(key, task)).owner = task
            self.put_pi_state(key)  # (kept while waiters, or requeued ones, need it)
            return None
        if not uval & FUTEX_WAITERS:
            mm.copy_out_u32(uaddr, uval | FUTEX_WAITERS)
        return self._attach(task, key, uval)

    def wait_pi(self, waiter: FutexWaiter, uaddr: int) -> None:
        """The waiter now sleeps for the PI lock at `uaddr` (in its own address space)."""
        waiter.pi = True
        waiter.mm = waiter.task.mm
        waiter.uaddr = uaddr
        self.pi_blocked[waiter.task] = waiter

    def grant(self, waiter: FutexWaiter, owner_died: bool) -> None:
        """Hand a PI lock to a waiter: it becomes the owner, the word says so (with
        FUTEX_WAITERS kept, and FUTEX_OWNER_DIED when the old owner died), and it wakes."""
        key = waiter.key
        state = self.pi_states.get(key)
        if state is None:
            state = self.pi_states[key] = PiState(key, waiter.task)
        state.owner = waiter.task
        queue = self.waiters.get(key)
        if queue and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self.waiters[key]
        if self.pi_blocked.get(waiter.task) is waiter:
            del self.pi_blocked[waiter.task]
        newval = waiter.task.tid | FUTEX_WAITERS | (FUTEX_OWNER_DIED if owner_died else 0)
        waiter.task.kernel.smp.stop_others()
        try:
            waiter.mm.copy_out_u32(waiter.uaddr, newval)
        except Fault:
            pass
        waiter.granted = True
        waiter.queue.wake_all()
        self.put_pi_state(key)

    def unlock_pi(self, task: Task, mm: MM, uaddr: int, key: Hashable) -> None:
        """futex_unlock_pi: EPERM unless `task` is the owner the word names; the lock
        goes to the first PI waiter, or the word becomes 0."""
        task.kernel.smp.stop_others()  # (the read and the write below as one atomic step)
        uval = mm.copy_in_u32(uaddr)
        if uval & FUTEX_TID_MASK != task.tid:
            raise SysError(EPERM)
        waiters = self._pi_waiters(key)
        if waiters:
            self.grant(waiters[0], owner_died=False)
            return
        mm.copy_out_u32(uaddr, 0)
        self.pi_states.pop(key, None)

    def exit_pi_state_list(self, task: Task) -> None:
        """A dying owner's PI locks go to their first waiters, marked FUTEX_OWNER_DIED."""
        for key, state in list(self.pi_states.items()):
            if state.owner is not task:
                continue
            state.owner = None
            waiters = self._pi_waiters(key)
            if waiters:
                self.grant(waiters[0], owner_died=True)
            else:
                del self.pi_states[key]

    # --- robust futexes ---------------------------------------------------------------------

    def handle_futex_death(self, task: Task, uaddr: int, pi: bool, pending: bool) -> bool:
        """One lock of a dying thread's robust list. False stops the walk (a fault)."""
        if uaddr % 4:
            return False
        mm = task.mm
        task.kernel.smp.stop_others()  # (the read and the write below as one atomic step)
        try:
            uval = mm.copy_in_u32(uaddr)
            if pending and not pi and not uval:
                # Died between unlocking and clearing list_op_pending: a waiter may have
                # missed its wakeup.
                self.wake(mm, uaddr, 1)
                return True
            if uval & FUTEX_TID_MASK != task.tid:
                return True
            mm.copy_out_u32(uaddr, (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
        except Fault:
            return False
        if not pi and uval & FUTEX_WAITERS:  # PI waiters get the lock in exit_pi_state_list
            self.wake(mm, uaddr, 1)
        return True

    def exit_robust_list(self, task: Task) -> None:
        """exit_robust_list: mark every robust lock the thread holds FUTEX_OWNER_DIED and
        wake one waiter of each. struct robust_list_head is {next, futex_offset,
        list_op_pending}; bit 0 of an entry pointer marks a PI futex. A bad pointer
        ends the walk silently, as in Linux."""
        head, _length = task.robust_list
        if not head:
            return
        mm = task.mm
        try:
            entry = mm.copy_in_u64(head)
            futex_offset = int.from_bytes(mm.copy_in(head + 8, 8), "little", signed=True)
            pending = mm.copy_in_u64(head + 16)
        except Fault:
            return
        entry, pi = entry & ~1, bool(entry & 1)
        pending, pending_pi = pending & ~1, bool(pending & 1)
        limit = ROBUST_LIST_LIMIT
        while entry != head:
            try:
                next_entry = mm.copy_in_u64(entry)
                fault = False
            except Fault:
                next_entry, fault = 0, True
            if entry != pending:
                if not self.handle_futex_death(task, (entry + futex_offset) & (1 << 64) - 1, pi, False):
                    return
            if fault:
                return
            entry, pi = next_entry & ~1, bool(next_entry & 1)
            limit -= 1
            if not limit:
                break
        if pending:
            self.handle_futex_death(task, (pending + futex_offset) & (1 << 64) - 1, pending_pi, True)

    def exit_release(self, task: Task) -> None:
        """futex_cleanup, at thread exit and at exec: the robust list, then PI locks."""
        if task.robust_list[0]:
            self.exit_robust_list(task)
            task.robust_list = (0, 0)
        self.exit_pi_state_list(task)


def futex_exit_release(task: Task) -> None:
    """A thread exits or execs: its robust list is walked (even if no futex call was ever
    made: a lock taken without contention never enters the kernel), then its PI locks go."""
    task.kernel.futexes.exit_release(task)
