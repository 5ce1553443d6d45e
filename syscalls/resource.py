"""Process resources and scheduling attributes: getrusage, getpriority/setpriority,
sched_getscheduler/sched_getparam/sched_get_priority_max/min (Linux's kernel/sys.c,
kernel/sched/core.c).

pykern's scheduler is one round-robin queue: every task is SCHED_OTHER at priority 0.
The nice value is kept per process (setpriority, inherited by fork) and reported, but
the quantum does not depend on it. getrusage's counters are pykern.rusage's.
"""

from __future__ import annotations

from pykern.abi import EACCES, EINVAL, ESRCH
from pykern.errors import SysError
from pykern.rusage import process_usage, thread_usage
from pykern.syscalls.table import syscall
from pykern.sysent import INT, PID, PTR, RUSAGE_OUT
from pykern.task import Task, ThreadGroup

RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1
PRIO_PROCESS, PRIO_PGRP, PRIO_USER = 0, 1, 2
SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE = 0, 1, 2, 3, 5


@syscall("getrusage", INT, RUSAGE_OUT, classes="process")
def sys_getrusage(task: Task, who: int, usage_addr: int) -> int:
    """getrusage(2): CPU time of the process, its reaped children, or the thread."""
    clock = task.kernel.clock
    if who == RUSAGE_SELF:
        usage = process_usage(clock, task.group)
    elif who == RUSAGE_CHILDREN:
        usage = task.group.children_usage
    elif who == RUSAGE_THREAD:
        usage = thread_usage(clock, task)
    else:
        raise SysError(EINVAL)
    task.mm.copy_out(usage_addr, usage.pack())
    return 0


def _targets(task: Task, which: int, who: int) -> list[ThreadGroup]:
    kernel = task.kernel
    live = [g for g in kernel.groups.values() if g.tgid != 1 and not g.is_zombie]
    if which == PRIO_PROCESS:
        found = [task.group] if who == 0 else [g for g in live if g.tgid == who]
    elif which == PRIO_PGRP:
        pgid = task.group.pgid if who == 0 else who
        found = [g for g in live if g.pgid == pgid]
    elif which == PRIO_USER:
        uid = task.group.creds.uid if who == 0 else who
        found = [g for g in live if g.creds.uid == uid]
    else:
        raise SysError(EINVAL)
    if not found:
        raise SysError(ESRCH)
    return found


@syscall("getpriority", INT, INT, classes="process")
def sys_getpriority(task: Task, which: int, who: int) -> int:
    """getpriority(2): the raw call returns 20 - nice (glibc turns it back)."""
    return max(20 - group.nice for group in _targets(task, which, who))


@syscall("setpriority", INT, INT, INT, classes="process")
def sys_setpriority(task: Task, which: int, who: int, nice: int) -> int:
    """setpriority(2): nice clamped to [-20, 19]; lowering it needs root."""
    nice = min(max(nice, -20), 19)
    for group in _targets(task, which, who):
        if nice < group.nice and task.group.creds.euid != 0:
            raise SysError(EACCES)
        group.nice = nice
    return 0


def _check_pid(task: Task, pid: int) -> None:
    if pid < 0:
        raise SysError(EINVAL)
    if pid and pid not in task.kernel.tasks:
        raise SysError(ESRCH)


@syscall("sched_getscheduler", PID, classes="process")
def sys_sched_getscheduler(task: Task, pid: int) -> int:
    """sched_getscheduler(2): always SCHED_OTHER."""
    _check_pid(task, pid)
    return SCHED_OTHER


@syscall("sched_getparam", PID, PTR, classes="process")
def sys_sched_getparam(task: Task, pid: int, param_addr: int) -> int:
    """sched_getparam(2): priority 0 (SCHED_OTHER)."""
    if not param_addr:
        raise SysError(EINVAL)
    _check_pid(task, pid)
    task.mm.copy_out_i32(param_addr, 0)
    return 0


@syscall("sched_get_priority_max", INT, classes="process")
def sys_sched_get_priority_max(task: Task, policy: int) -> int:
    """sched_get_priority_max(2): 99 for the real-time policies, 0 for the others."""
    if policy in (SCHED_FIFO, SCHED_RR):
        return 99
    if policy in (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, 6):  # 6: SCHED_DEADLINE
        return 0
    raise SysError(EINVAL)


@syscall("sched_get_priority_min", INT, classes="process")
def sys_sched_get_priority_min(task: Task, policy: int) -> int:
    """sched_get_priority_min(2): 1 for the real-time policies, 0 for the others."""
    if policy in (SCHED_FIFO, SCHED_RR):
        return 1
    if policy in (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, 6):
        return 0
    raise SysError(EINVAL)


@syscall("personality", PID, classes="process")
def sys_personality(task: Task, persona: int) -> int:
    """personality(2): 0xffffffff asks; anything else is kept (pykern never randomizes
    addresses, so ADDR_NO_RANDOMIZE changes nothing) and the old value returned."""
    old = task.group.personality
    if persona & 0xFFFFFFFF != 0xFFFFFFFF:
        task.group.personality = persona & 0xFFFFFFFF
    return old
