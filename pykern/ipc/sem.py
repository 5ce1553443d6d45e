"""System V semaphores (Linux's ipc/sem.c).

semop applies all its operations or none (perform_atomic_semop). One that cannot go on
now sleeps on its set's wait queue and is retried from the top after every change of
the set (pykern's "raise Block, be retried"); while it sleeps it is counted by
GETNCNT/GETZCNT through the operation that blocked it. IPC_RMID wakes the sleepers with
EIDRM; a signal ends the sleep with EINTR (semop is never restarted); semtimedop's
timeout with EAGAIN.

SEM_UNDO: each process keeps, per set, the sum of the operations it made with SEM_UNDO,
negated (semadj); its exit adds them back (exit_sem), clamped to [0, SEMVMX]. A fork
starts with no adjustments; SETVAL and SETALL clear them for the values they set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    E2BIG,
    EACCES,
    EAGAIN,
    EFBIG,
    EIDRM,
    EINVAL,
    ENOSPC,
    ERANGE,
    IPC_NOWAIT,
    NSEC_PER_SEC,
    SEM_UNDO,
    SEMAEM,
    SEMBUF,
    SEMVMX,
)
from pykern.errors import Block, Restart, SysError
from pykern.ipc import IpcNamespace, IpcPerm, ipc_namespace, ipcget
from pykern.ipc.shm import exit_shm
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

UndoList = dict  # SemSet -> list of semadj values, one per semaphore


class Sem:
    __slots__ = ("val", "pid")

    def __init__(self) -> None:
        self.val = 0
        self.pid = 0


class SemSet:
    """struct sem_array."""

    def __init__(self, ns: IpcNamespace, perm: IpcPerm, nsems: int) -> None:
        self.ns = ns
        self.perm = perm
        self.sems = [Sem() for _ in range(nsems)]
        self.otime = 0
        self.ctime = ns.now()
        self.changed = WaitQueue("sem")
        self.sleepers: dict[Task, tuple[int, int]] = {}  # who sleeps on which (sem_num, sem_op)

    @property
    def nsems(self) -> int:
        return len(self.sems)

    def count_waiters(self, semnum: int, zero: bool) -> int:
        """GETZCNT (zero) or GETNCNT: sleepers whose blocking operation waits for this
        semaphore to be 0, or to grow."""
        return sum(1 for num, op in self.sleepers.values() if num == semnum and (op == 0 if zero else op < 0))

    def clear_undo(self, semnum: int | None) -> None:
        """SETVAL (one semaphore) or SETALL (None: all): the adjustments are void."""
        for undo in self.ns.sem_undo.values():
            adj = undo.get(self)
            if adj is not None:
                for i in range(len(adj)) if semnum is None else (semnum,):
                    adj[i] = 0

    def remove(self) -> None:
        """freeary: the sleepers wake to EIDRM; the undo entries go."""
        self.ns.sem.remove(self)
        self.ns.sem_total -= self.nsems
        for undo in self.ns.sem_undo.values():
            undo.pop(self, None)
        self.changed.wake_all()


def newary(task: Task, ns: IpcNamespace, key: int, nsems: int, semflg: int) -> int:
    if not nsems:
        raise SysError(EINVAL)
    if ns.sem_total + nsems > ns.sem_ctls[1]:
        raise SysError(ENOSPC)
    ident = ns.sem.add(SemSet(ns, IpcPerm(key, task, semflg), nsems), ns.sem_ctls[3])
    ns.sem_total += nsems
    return ident


def semget(task: Task, key: int, nsems: int, semflg: int) -> int:
    ns = ipc_namespace(task.kernel)
    if nsems < 0 or nsems > ns.sem_ctls[0]:
        raise SysError(EINVAL)

    def more_checks(sem_set: SemSet) -> None:
        if nsems > sem_set.nsems:
            raise SysError(EINVAL)

    return ipcget(ns.sem, task, key, semflg, lambda: newary(task, ns, key, nsems, semflg), more_checks)


def lookup(task: Task, semid: int) -> SemSet:
    if semid < 0:
        raise SysError(EINVAL)
    sem_set = ipc_namespace(task.kernel).sem.find_id(semid)
    if sem_set is None:
        raise SysError(EINVAL)
    return sem_set  # type: ignore[return-value]


def _perform(sem_set: SemSet, sops: list[tuple[int, int, int]], undo: list[int] | None
             ) -> tuple[int, int] | None:
    """perform_atomic_semop without applying: None if every operation can go now, else
    the (sem_num, sem_op) that would block. ERANGE past SEMVMX or SEMAEM."""
    values = {}
    adjust = {}
    for num, op, flg in sops:
        current = values.get(num, sem_set.sems[num].val)
        result = current + op
        if op == 0 and current:
            return num, op
        if result < 0:
            return num, op
        if result > SEMVMX:
            raise SysError(ERANGE)
        if flg & SEM_UNDO and undo is not None:
            adj = adjust.get(num, undo[num]) - op
            if adj < -SEMAEM - 1 or adj > SEMAEM:
                raise SysError(ERANGE)
            adjust[num] = adj
        values[num] = result
    return None


def copy_in_sops(task: Task, semid: int, sops_addr: int, nsops: int) -> list[tuple[int, int, int]]:
    """do_semtimedop's checks before the set is looked up, in Linux's order (the
    timeout's copy came first): E2BIG, EINVAL for no operations, EFAULT, EINVAL for a
    negative id."""
    if nsops > ipc_namespace(task.kernel).sem_ctls[2]:
        raise SysError(E2BIG)
    if nsops < 1:
        raise SysError(EINVAL)
    raw = task.mm.copy_in(sops_addr, nsops * SEMBUF.size)
    if semid < 0:
        raise SysError(EINVAL)
    return [SEMBUF.unpack_from(raw, i * SEMBUF.size) for i in range(nsops)]


def semtimedop(task: Task, semid: int, sops: list[tuple[int, int, int]], timeout_ns: int | None) -> int:
    """do_semtimedop, re-run from the top after every wakeup (the caller checked and
    copied the operations: copy_in_sops)."""
    block = task.restart_block
    sem_set = block.sem_set if block is not None else None
    if block is None or sem_set is None:  # the first run: check everything
        deadline = None
        if timeout_ns is not None:
            deadline = (task.kernel.clock.monotonic_ns() + timeout_ns) / NSEC_PER_SEC
        sem_set = lookup(task, semid)
        if max(num for num, _, _ in sops) >= sem_set.nsems:
            raise SysError(EFBIG)
        alter = any(op for _, op, _ in sops)
        if not sem_set.perm.allowed(task, 0o222 if alter else 0o444):
            raise SysError(EACCES)
    else:
        sops, deadline = block.sem_sops, block.sem_deadline
        sem_set.sleepers.pop(task, None)
        if sem_set.perm.deleted:
            raise SysError(EIDRM)
    ns = sem_set.ns
    undo = None
    if any(flg & SEM_UNDO for _, _, flg in sops):
        undo = ns.sem_undo.setdefault(task.group, {}).setdefault(sem_set, [0] * sem_set.nsems)
    blocking = _perform(sem_set, sops, undo)
    if blocking is None:
        pid = task.group.tgid
        for num, op, flg in sops:
            sem = sem_set.sems[num]
            sem.val += op
            sem.pid = pid
            if flg & SEM_UNDO and undo is not None:
                undo[num] -= op
        sem_set.otime = ns.now()
        if any(op for _, op, _ in sops):
            sem_set.changed.wake_all()
        return 0
    if any(flg & IPC_NOWAIT for num, op, flg in sops if (num, op) == blocking):
        raise SysError(EAGAIN)
    if deadline is not None and task.kernel.clock.monotonic_ns() / NSEC_PER_SEC >= deadline:
        raise SysError(EAGAIN)
    block = task.restart_state()
    block.sem_set, block.sem_sops, block.sem_deadline = sem_set, sops, deadline
    sem_set.sleepers[task] = blocking
    # semop is never restarted (man 7 signal)
    raise Block(sem_set.changed, deadline=deadline, restart=Restart.EINTR, cancel=_cancel)


def _cancel(task: Task) -> None:
    sem_set = task.restart_block.sem_set if task.restart_block is not None else None
    if sem_set is not None:
        sem_set.sleepers.pop(task, None)


def exit_ipc(kernel: Kernel, group: ThreadGroup) -> None:
    """What a process's exit does to System V IPC: SEM_UNDO, shm_rmid_forced."""
    exit_sem(kernel, group)
    exit_shm(kernel, group.tgid)


def exit_sem(kernel: Kernel, group: ThreadGroup) -> None:
    """The process's SEM_UNDO adjustments are applied, clamped to [0, SEMVMX]."""
    ns = ipc_namespace(kernel)
    undo = ns.sem_undo.pop(group, None)
    if not undo:
        return
    for sem_set, adj in undo.items():
        if sem_set.perm.deleted:
            continue
        changed = False
        for num, value in enumerate(adj):
            if value:
                sem = sem_set.sems[num]
                sem.val = min(max(sem.val + value, 0), SEMVMX)
                sem.pid = group.tgid
                changed = True
        if changed:
            sem_set.changed.wake_all()
