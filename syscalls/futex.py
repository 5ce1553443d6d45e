"""futex(2): FUTEX_WAIT, FUTEX_WAKE, the bitset variants, REQUEUE/CMP_REQUEUE and
WAKE_OP. Priority-inheritance operations are not provided (ENOSYS). The wait queues
are pykern.futex's."""

from __future__ import annotations

from pykern.abi import EAGAIN, EINVAL, ENOSYS, ETIMEDOUT, NSEC_PER_SEC
from pykern.errors import Block, SysError
from pykern.futex import FUTEX_BITSET_MATCH_ANY, FutexTable
from pykern.syscalls.table import syscall
from pykern.syscalls.time import copy_in_timespec_ns
from pykern.sysent import FUTEX_OP, PTR, UINT
from pykern.task import Task

FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAKE_OP = 5
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)


def _table(task: Task) -> FutexTable:
    kernel = task.kernel
    if kernel.futexes is None:
        kernel.futexes = FutexTable()
    return kernel.futexes


def _deadline(task: Task, timeout_addr: int, absolute: bool, realtime: bool) -> float | None:
    """The monotonic deadline (seconds) of a FUTEX_WAIT timeout, or None."""
    if not timeout_addr:
        return None
    timeout = copy_in_timespec_ns(task, timeout_addr)
    clock = task.kernel.clock
    now_mono = clock.monotonic_ns()
    if not absolute:
        return (now_mono + timeout) / NSEC_PER_SEC
    now = clock.realtime_ns() if realtime else now_mono
    return (now_mono + (timeout - now)) / NSEC_PER_SEC


def _futex_wait(task: Task, uaddr: int, val: int, timeout_addr: int, bitset: int, private: bool,
                absolute: bool, realtime: bool) -> int:
    table = _table(task)
    block = task.restart_block
    waiter = block.get("futex_waiter")
    if waiter is None:
        if bitset == 0:
            raise SysError(EINVAL)
        deadline = _deadline(task, timeout_addr, absolute, realtime)
        if task.mm.copy_in_u32(uaddr) != val & 0xFFFFFFFF:
            raise SysError(EAGAIN)
        waiter = block["futex_waiter"] = table.enqueue(task, table.key(task.mm, uaddr, private), bitset)
        block["futex_deadline"] = deadline
        block["cancel"] = lambda task: table.dequeue(waiter)  # interrupted, or the task died
    if waiter.woken:
        return 0
    deadline = block["futex_deadline"]
    if deadline is not None and task.kernel.clock.monotonic_ns() / NSEC_PER_SEC >= deadline:
        table.dequeue(waiter)
        raise SysError(ETIMEDOUT)
    raise Block(waiter.queue, deadline=deadline)


_WAKE_OP_ARITH = {
    0: lambda old, arg: arg,  # FUTEX_OP_SET
    1: lambda old, arg: old + arg,  # FUTEX_OP_ADD
    2: lambda old, arg: old | arg,  # FUTEX_OP_OR
    3: lambda old, arg: old & ~arg,  # FUTEX_OP_ANDN
    4: lambda old, arg: old ^ arg,  # FUTEX_OP_XOR
}
_WAKE_OP_CMP = {
    0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,
    3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b,
}


def _signed12(value: int) -> int:
    return value - 0x1000 if value & 0x800 else value


@syscall("futex", PTR, FUTEX_OP, UINT, PTR, PTR, UINT, classes="")
def sys_futex(task: Task, uaddr: int, futex_op: int, val: int, timeout_addr: int, uaddr2: int, val3: int) -> int:
    """futex(2). For REQUEUE/CMP_REQUEUE/WAKE_OP the 4th argument is val2, a count."""
    private = bool(futex_op & FUTEX_PRIVATE_FLAG)
    realtime = bool(futex_op & FUTEX_CLOCK_REALTIME)
    cmd = futex_op & FUTEX_CMD_MASK
    if uaddr % 4:
        raise SysError(EINVAL)
    table = _table(task)
    if cmd == FUTEX_WAIT:
        return _futex_wait(task, uaddr, val, timeout_addr, FUTEX_BITSET_MATCH_ANY, private, False, realtime)
    if cmd == FUTEX_WAIT_BITSET:
        return _futex_wait(task, uaddr, val, timeout_addr, val3, private, True, realtime)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = val3 if cmd == FUTEX_WAKE_BITSET else FUTEX_BITSET_MATCH_ANY
        if bitset == 0:
            raise SysError(EINVAL)
        return table.wake_key(table.key(task.mm, uaddr, private), val, bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if cmd == FUTEX_CMP_REQUEUE and task.mm.copy_in_u32(uaddr) != val3:
            raise SysError(EAGAIN)
        val2 = timeout_addr & 0x7FFFFFFF
        return table.requeue(table.key(task.mm, uaddr, private), val,
                             table.key(task.mm, uaddr2, private), val2)
    if cmd == FUTEX_WAKE_OP:
        op, cmp = (val3 >> 28) & 7, (val3 >> 24) & 15
        oparg, cmparg = _signed12((val3 >> 12) & 0xFFF), _signed12(val3 & 0xFFF)
        if val3 >> 28 & 8:  # FUTEX_OP_OPARG_SHIFT
            oparg = 1 << (oparg & 31)
        if op not in _WAKE_OP_ARITH or cmp not in _WAKE_OP_CMP:
            raise SysError(ENOSYS)
        old = task.mm.copy_in_u32(uaddr2)
        task.mm.copy_out_u32(uaddr2, _WAKE_OP_ARITH[op](old, oparg) & 0xFFFFFFFF)
        woken = table.wake_key(table.key(task.mm, uaddr, private), val)
        old_signed = old - (1 << 32) if old & 0x80000000 else old
        if _WAKE_OP_CMP[cmp](old_signed, cmparg):
            woken += table.wake_key(table.key(task.mm, uaddr2, private), timeout_addr & 0x7FFFFFFF)
        return woken
    raise SysError(ENOSYS)
