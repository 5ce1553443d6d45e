"""futex(2) and futex_waitv(2), as Linux's kernel/futex/syscalls.c dispatches them:
FUTEX_WAIT/WAKE and their bitset variants, REQUEUE/CMP_REQUEUE, WAKE_OP, the
priority-inheritance operations (LOCK_PI, LOCK_PI2, UNLOCK_PI, TRYLOCK_PI,
WAIT_REQUEUE_PI, CMP_REQUEUE_PI) and the vectored wait. The queues, keys and the PI
protocol are pykern.futex's; this module decodes arguments, checks them in Linux's
order, and sleeps (raise Block, be retried: a waiter stays queued across retries in
task.restart_block, and its mark says whether it was woken or handed a lock)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from pykern.abi import (
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    EAGAIN,
    EINVAL,
    ENOSYS,
    EPERM,
    ETIMEDOUT,
    FUTEX_32,
    FUTEX_BITSET_MATCH_ANY,
    FUTEX_CLOCK_REALTIME,
    FUTEX_CMD_MASK,
    FUTEX_CMP_REQUEUE,
    FUTEX_CMP_REQUEUE_PI,
    FUTEX_LOCK_PI,
    FUTEX_LOCK_PI2,
    FUTEX_OP_OPARG_SHIFT,
    FUTEX_PRIVATE_FLAG,
    FUTEX_REQUEUE,
    FUTEX_TID_MASK,
    FUTEX_TRYLOCK_PI,
    FUTEX_UNLOCK_PI,
    FUTEX_WAIT,
    FUTEX_WAIT_BITSET,
    FUTEX_WAIT_REQUEUE_PI,
    FUTEX_WAITV_MAX,
    FUTEX_WAITV_SIZE,
    FUTEX_WAKE,
    FUTEX_WAKE_BITSET,
    FUTEX_WAKE_OP,
    NSEC_PER_SEC,
)
from pykern.errors import Block, Restart, SysError
from pykern.futex import FutexTable, FutexWaiter, PiState
from pykern.syscalls.table import syscall
from pykern.syscalls.time import copy_in_timespec_ns
from pykern.sysent import CLOCKID, FUTEX_OP, PTR, UINT
from pykern.task import Task
from pykern.waitqueue import WaitQueue

# The commands that take a timeout (futex_cmd_has_timeout), and those FUTEX_CLOCK_REALTIME
# is allowed with (do_futex: ENOSYS for the others).
HAS_TIMEOUT = frozenset({FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI})
CLOCK_REALTIME_OK = frozenset({FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2})


def futex_table(task: Task) -> FutexTable:
    return task.kernel.futexes


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _deadline(task: Task, timeout_ns: int, absolute: bool, realtime: bool) -> float:
    """The monotonic deadline (seconds) of a timeout: relative, or absolute on CLOCK_REALTIME
    or CLOCK_MONOTONIC (a later change of the realtime clock does not move it)."""
    clock = task.kernel.clock
    now_mono = clock.monotonic_ns()
    if not absolute:
        return (now_mono + timeout_ns) / NSEC_PER_SEC
    now = clock.realtime_ns() if realtime else now_mono
    return (now_mono + (timeout_ns - now)) / NSEC_PER_SEC


def _key(task: Task, uaddr: int, private: bool) -> Hashable:
    """get_futex_key: EINVAL for a misaligned address, EFAULT for an unmapped shared one."""
    if uaddr % 4:
        raise SysError(EINVAL)
    return futex_table(task).key(task.mm, uaddr, private)


def _expired(task: Task, deadline: float | None) -> bool:
    return deadline is not None and task.kernel.clock.monotonic_ns() / NSEC_PER_SEC >= deadline


def _sleep(task: Task, waiters: list[FutexWaiter], deadline: float | None, restart: Restart) -> None:
    """Record a queued wait in restart_block and sleep. A signal ends it with `restart`
    unless a wakeup (or a lock handed over) came first."""
    block = task.restart_state()
    block.futex_waiters, block.futex_deadline, block.futex_restart = waiters, deadline, restart
    raise _block(waiters, deadline)


def _block(waiters: list[FutexWaiter], deadline: float | None) -> Block:
    """The sleep of a queued wait, first or again: a signal asks _wait_interrupted how it
    ends; a call that ends without its wakeup leaves the queue."""
    return Block(waiters[0].queue, deadline=deadline, on_signal=_wait_interrupted, cancel=_cancel_wait)


def _cancel_wait(task: Task) -> None:
    """The sleeping call ends without its wakeup (a signal, or the task died): unqueue."""
    table = futex_table(task)
    for waiter in task.restart_state().futex_waiters or ():
        table.dequeue(waiter)


def _wait_interrupted(task: Task) -> int:
    block = task.restart_state()
    done = [w for w in block.futex_waiters or () if w.woken or w.granted]
    return done[-1].index if done else -block.futex_restart


def _resume(task: Task) -> tuple[list[FutexWaiter], float | None] | None:
    block = task.restart_block
    waiters = block.futex_waiters if block is not None else None
    return None if block is None or waiters is None else (waiters, block.futex_deadline)


# --- FUTEX_WAIT, FUTEX_WAIT_BITSET -------------------------------------------------------


def futex_wait(task: Task, uaddr: int, private: bool, val: int, deadline: float | None, bitset: int) -> int:
    table = futex_table(task)
    resumed = _resume(task)
    if resumed is None:
        if not bitset:
            raise SysError(EINVAL)
        key = _key(task, uaddr, private)
        if task.mm.copy_in_u32(uaddr) != val & 0xFFFFFFFF:
            raise SysError(EAGAIN)
        waiter = table.enqueue(task, key, bitset)
        _sleep(task, [waiter], deadline, Restart.ERESTARTSYS if deadline is None else Restart.ERESTART_RESTARTBLOCK)
    waiters, deadline = resumed
    if waiters[0].woken:
        return 0
    if _expired(task, deadline):
        table.dequeue(waiters[0])
        raise SysError(ETIMEDOUT)
    raise _block(waiters, deadline)


# --- FUTEX_WAKE_OP -----------------------------------------------------------------------

_WAKE_OP_ARITH: dict[int, Callable[[int, int], int]] = {
    0: lambda old, arg: arg,  # FUTEX_OP_SET
    1: lambda old, arg: old + arg,  # FUTEX_OP_ADD
    2: lambda old, arg: old | arg,  # FUTEX_OP_OR
    3: lambda old, arg: old & ~arg,  # FUTEX_OP_ANDN
    4: lambda old, arg: old ^ arg,  # FUTEX_OP_XOR
}
_WAKE_OP_CMP: dict[int, Callable[[int, int], bool]] = {
    0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,  # EQ NE LT
    3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b,  # LE GT GE
}


def _sign_extend12(value: int) -> int:
    return value - 0x1000 if value & 0x800 else value


def futex_wake_op(task: Task, uaddr: int, private: bool, nr_wake: int, nr_wake2: int, uaddr2: int,
                  encoded_op: int) -> int:
    """futex_wake_op with futex_atomic_op_inuser: change *uaddr2, wake uaddr's waiters,
    and uaddr2's too if the old value passes the comparison. An unknown comparison is
    ENOSYS after the change was made, as in Linux."""
    table = futex_table(task)
    key1 = _key(task, uaddr, private)
    key2 = _key(task, uaddr2, private)
    op, cmp = (encoded_op >> 28) & 7, (encoded_op >> 24) & 15
    oparg, cmparg = _sign_extend12((encoded_op >> 12) & 0xFFF), _sign_extend12(encoded_op & 0xFFF)
    if encoded_op & (FUTEX_OP_OPARG_SHIFT << 28):
        oparg = 1 << (oparg & 31)  # (Linux logs a shift outside 0..31 and masks it)
    if op not in _WAKE_OP_ARITH:
        raise SysError(ENOSYS)
    task.kernel.smp.stop_others()  # (the read and the write as one atomic step, pykern.smp)
    old = task.mm.copy_in_u32(uaddr2)
    task.mm.copy_out_u32(uaddr2, _WAKE_OP_ARITH[op](old, oparg) & 0xFFFFFFFF)
    if cmp not in _WAKE_OP_CMP:
        raise SysError(ENOSYS)
    woken = table.wake_key(key1, _s32(nr_wake))
    if _WAKE_OP_CMP[cmp](_s32(old), cmparg):
        woken += table.wake_key(key2, _s32(nr_wake2))
    return woken


# --- PI: FUTEX_LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI ----------------------------------


def futex_lock_pi(task: Task, uaddr: int, private: bool, deadline: float | None, trylock: bool) -> int:
    """futex_lock_pi: take the lock (0), or sleep until it is handed over. A signal
    restarts the call after the handler (ERESTARTNOINTR)."""
    table = futex_table(task)
    resumed = _resume(task)
    if resumed is None:
        key = _key(task, uaddr, private)
        state = table.lock_pi_atomic(task, task.mm, uaddr, key, set_waiters=False)
        if state is None:
            return 0
        if trylock:
            table.put_pi_state(key)
            raise SysError(EAGAIN)
        waiter = table.enqueue(task, key, FUTEX_BITSET_MATCH_ANY)
        table.wait_pi(waiter, uaddr)
        _sleep(task, [waiter], deadline, Restart.ERESTARTNOINTR)
    return _until_granted(table, task, resumed)


def _until_granted(table: FutexTable, task: Task, resumed: tuple) -> int:
    """A PI waiter woken: 0 once the lock was handed to it, ETIMEDOUT past its deadline
    (it leaves the queue), else back to sleep."""
    waiters, deadline = resumed
    if waiters[0].granted:
        return 0
    if _expired(task, deadline):
        table.dequeue(waiters[0])
        raise SysError(ETIMEDOUT)
    raise _block(waiters, deadline)


# --- PI requeue: FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI ------------------------------


def futex_wait_requeue_pi(task: Task, uaddr: int, private: bool, val: int, deadline: float | None,
                          uaddr2: int) -> int:
    """Wait on the non-PI futex uaddr until CMP_REQUEUE_PI moves us to the PI futex
    uaddr2, and return holding it."""
    table = futex_table(task)
    resumed = _resume(task)
    if resumed is None:
        if uaddr == uaddr2:
            raise SysError(EINVAL)
        key2 = _key(task, uaddr2, private)
        key = _key(task, uaddr, private)
        if task.mm.copy_in_u32(uaddr) != val & 0xFFFFFFFF:
            raise SysError(EAGAIN)
        waiter = table.enqueue(task, key, FUTEX_BITSET_MATCH_ANY)
        waiter.requeue_pi_key = key2
        waiter.uaddr = uaddr2
        _sleep(task, [waiter], deadline, Restart.ERESTARTNOINTR)
    return _until_granted(table, task, resumed)


def futex_cmp_requeue_pi(task: Task, uaddr: int, private: bool, nr_wake: int, nr_requeue: int, uaddr2: int,
                         cmpval: int) -> int:
    """futex_requeue(requeue_pi=1): take uaddr2 for the first waiter if it is free (it
    wakes holding it), and requeue the others to wait for the PI lock."""
    table = futex_table(task)
    if nr_wake < 0 or nr_requeue < 0:
        raise SysError(EINVAL)
    if uaddr == uaddr2 or nr_wake != 1:
        raise SysError(EINVAL)
    key1 = _key(task, uaddr, private)
    key2 = _key(task, uaddr2, private)
    if key1 == key2:
        raise SysError(EINVAL)
    if task.mm.copy_in_u32(uaddr) != cmpval & 0xFFFFFFFF:
        raise SysError(EAGAIN)
    queue = list(table.waiters.get(key1, ()))
    if not queue:
        return 0
    top = queue[0]
    if top.requeue_pi_key is None or top.pi:
        raise SysError(EINVAL)
    if top.requeue_pi_key != key2:
        raise SysError(EINVAL)
    task_count = 0
    state = table.lock_pi_atomic(top.task, task.mm, uaddr2, key2, set_waiters=nr_requeue > 0)
    if state is None:  # the lock was free: the top waiter has it now, and wakes
        table.dequeue(top)
        top.granted = True
        top.queue.wake_all()
        task_count += 1
        queue = queue[1:]
        table.pi_states.setdefault(key2, PiState(key2, top.task))
    for waiter in queue:
        if task_count - nr_wake >= nr_requeue:
            break
        if waiter.requeue_pi_key is None or waiter.pi:
            raise SysError(EINVAL)
        if waiter.requeue_pi_key != key2:
            raise SysError(EINVAL)
        table.move(waiter, key2)
        table.wait_pi(waiter, waiter.uaddr)
        task_count += 1
    table.put_pi_state(key2)  # (nobody was requeued: no pi_state to keep)
    return task_count


# --- futex(2) ------------------------------------------------------------------------------


@syscall("futex", PTR, FUTEX_OP, UINT, PTR, PTR, UINT, classes="")
def sys_futex(task: Task, uaddr: int, futex_op: int, val: int, timeout_addr: int, uaddr2: int, val3: int) -> int:
    """futex(2). For REQUEUE/CMP_REQUEUE/WAKE_OP the 4th argument is val2, a count."""
    cmd = futex_op & FUTEX_CMD_MASK
    private = bool(futex_op & FUTEX_PRIVATE_FLAG)
    realtime = bool(futex_op & FUTEX_CLOCK_REALTIME)
    deadline = None
    if _resume(task) is None:
        if timeout_addr and cmd in HAS_TIMEOUT:
            timeout_ns = copy_in_timespec_ns(task, timeout_addr)  # EFAULT, EINVAL
            if cmd == FUTEX_WAIT:
                deadline = _deadline(task, timeout_ns, absolute=False, realtime=False)
            else:
                deadline = _deadline(task, timeout_ns, absolute=True, realtime=realtime or cmd == FUTEX_LOCK_PI)
        if realtime and cmd not in CLOCK_REALTIME_OK:
            raise SysError(ENOSYS)
    val2 = timeout_addr & 0xFFFFFFFF
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        bitset = FUTEX_BITSET_MATCH_ANY if cmd == FUTEX_WAIT else val3
        return futex_wait(task, uaddr, private, val, deadline, bitset)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = FUTEX_BITSET_MATCH_ANY if cmd == FUTEX_WAKE else val3
        if not bitset:
            raise SysError(EINVAL)
        return futex_table(task).wake_key(_key(task, uaddr, private), _s32(val), bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        nr_wake, nr_requeue = _s32(val), _s32(val2)
        if nr_wake < 0 or nr_requeue < 0:
            raise SysError(EINVAL)
        key1 = _key(task, uaddr, private)
        key2 = _key(task, uaddr2, private)
        if cmd == FUTEX_CMP_REQUEUE and task.mm.copy_in_u32(uaddr) != val3:
            raise SysError(EAGAIN)
        return futex_table(task).requeue(key1, nr_wake, key2, nr_requeue)
    if cmd == FUTEX_WAKE_OP:
        return futex_wake_op(task, uaddr, private, val, val2, uaddr2, val3)
    if cmd in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2):
        return futex_lock_pi(task, uaddr, private, deadline, trylock=False)
    if cmd == FUTEX_TRYLOCK_PI:
        return futex_lock_pi(task, uaddr, private, None, trylock=True)
    if cmd == FUTEX_UNLOCK_PI:
        # futex_unlock_pi reads the word (EFAULT) and checks the owner (EPERM) before it
        # looks at the key: a misaligned or read-only word that is not ours is EPERM.
        if task.mm.copy_in_u32(uaddr) & FUTEX_TID_MASK != task.tid:
            raise SysError(EPERM)
        key = _key(task, uaddr, private)
        futex_table(task).unlock_pi(task, task.mm, uaddr, key)
        return 0
    if cmd == FUTEX_WAIT_REQUEUE_PI:
        return futex_wait_requeue_pi(task, uaddr, private, val, deadline, uaddr2)
    if cmd == FUTEX_CMP_REQUEUE_PI:
        return futex_cmp_requeue_pi(task, uaddr, private, _s32(val), _s32(val2), uaddr2, val3)
    raise SysError(ENOSYS)


# --- futex_waitv(2) ------------------------------------------------------------------------


@syscall("futex_waitv", PTR, UINT, UINT, PTR, CLOCKID, classes="")
def sys_futex_waitv(task: Task, waiters_addr: int, nr_futexes: int, flags: int, timeout_addr: int,
                    clockid: int) -> int:
    """futex_waitv(2): sleep until one of several futexes is woken; returns its index
    (the highest one, if several were). The timeout is absolute on `clockid`."""
    table = futex_table(task)
    resumed = _resume(task)
    if resumed is None:
        if flags:
            raise SysError(EINVAL)
        if not nr_futexes or nr_futexes > FUTEX_WAITV_MAX or not waiters_addr:
            raise SysError(EINVAL)
        deadline = None
        if timeout_addr:
            if clockid not in (CLOCK_REALTIME, CLOCK_MONOTONIC):
                raise SysError(EINVAL)
            timeout_ns = copy_in_timespec_ns(task, timeout_addr)
            deadline = _deadline(task, timeout_ns, absolute=True, realtime=clockid == CLOCK_REALTIME)
        entries = []
        for i in range(nr_futexes):  # futex_parse_waitv
            raw = task.mm.copy_in(waiters_addr + i * FUTEX_WAITV_SIZE, FUTEX_WAITV_SIZE)
            val, uaddr = int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:16], "little")
            wflags, reserved = int.from_bytes(raw[16:20], "little"), int.from_bytes(raw[20:24], "little")
            if wflags & ~(FUTEX_32 | FUTEX_PRIVATE_FLAG) or reserved or not wflags & FUTEX_32:
                raise SysError(EINVAL)
            entries.append((val, uaddr, bool(wflags & FUTEX_PRIVATE_FLAG)))
        keys = [_key(task, uaddr, private) for _val, uaddr, private in entries]
        for val, uaddr, _private in entries:
            if task.mm.copy_in_u32(uaddr) != val & 0xFFFFFFFF:
                raise SysError(EAGAIN)
        queue = WaitQueue("futex_waitv")
        waiters = []
        for index, key in enumerate(keys):
            waiter = table.enqueue(task, key, FUTEX_BITSET_MATCH_ANY, queue)
            waiter.index = index
            waiters.append(waiter)
        _sleep(task, waiters, deadline, Restart.ERESTARTSYS)
    waiters, deadline = resumed
    woken = [w for w in waiters if w.woken]
    if woken:
        for waiter in waiters:
            table.dequeue(waiter)
        return woken[-1].index
    if _expired(task, deadline):
        for waiter in waiters:
            table.dequeue(waiter)
        raise SysError(ETIMEDOUT)
    raise _block(waiters, deadline)
