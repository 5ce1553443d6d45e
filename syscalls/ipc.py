"""System V IPC: shmget/shmat/shmdt/shmctl, semget/semop/semtimedop/semctl,
msgget/msgsnd/msgrcv/msgctl (Linux's ipc/shm.c, sem.c, msg.c). The objects are
pykern.ipc's; these wrappers fetch arguments and answer the ctl commands."""

from __future__ import annotations

import struct

from pykern.abi import (
    CAP_SYS_RESOURCE,
    EACCES,
    EINVAL,
    EPERM,
    ERANGE,
    GETALL,
    GETNCNT,
    GETPID,
    GETVAL,
    GETZCNT,
    IPC_INFO,
    IPC_NOWAIT,
    IPC_RMID,
    IPC_SET,
    IPC_STAT,
    MSG_COPY,
    MSG_EXCEPT,
    MSG_INFO,
    MSG_STAT,
    MSG_STAT_ANY,
    MSGINFO,
    MSGMAP,
    MSGPOOL,
    MSGSEG,
    MSGSSZ,
    MSGTQL,
    MSQID64_DS,
    SEM_INFO,
    SEM_STAT,
    SEM_STAT_ANY,
    SEMAEM,
    SEMID64_DS,
    SEMINFO,
    SEMMAP,
    SEMMNU,
    SEMUME,
    SEMUSZ,
    SEMVMX,
    SETALL,
    SETVAL,
    SHM_INFO,
    SHM_INFO_STRUCT,
    SHM_LOCK,
    SHM_STAT,
    SHM_STAT_ANY,
    SHM_UNLOCK,
    SHMID64_DS,
    SHMINFO64,
    SHMMIN,
    SHMMNI,
    TIMESPEC,
)
from pykern.errors import SysError
from pykern.ipc import check_owner, ipc_namespace, shm
from pykern.ipc import msg as msgq
from pykern.ipc import sem as sems
from pykern.syscalls.table import syscall
from pykern.syscalls.time import timespec_to_ns
from pykern.sysent import INT, PTR, RET_HEX, SIZE, TIMESPEC_IN, UINT, Kind
from pykern.task import Task

# Argument kinds, formatted by pykern.strace as strace does
IPC_KEY = Kind("ipc_key", 32, True)
IPC_FLAGS = Kind("ipc_flags", 32, True)  # IPC_CREAT|IPC_EXCL|0600
SHMGET_FLAGS = Kind("shmget_flags", 32, True)  # and SHM_HUGETLB, SHM_NORESERVE
SHMAT_FLAGS = Kind("shmat_flags", 32, True)
SHMCTL_CMD = Kind("shmctl_cmd", 32, True)
SEMCTL_CMD = Kind("semctl_cmd", 32, True)
MSGCTL_CMD = Kind("msgctl_cmd", 32, True)
SEMBUF_IN = Kind("sembuf_in")  # struct sembuf[nsops]
MSGBUF_IN = Kind("msgbuf_in")  # {mtype, mtext} of msgsz bytes
MSGBUF_OUT = Kind("msgbuf_out", out=True)
MSG_FLAGS = Kind("msg_flags", 32, True)  # IPC_NOWAIT|MSG_NOERROR|MSG_EXCEPT|MSG_COPY
SEMCTL_ARG = Kind("semctl_arg")
LONG_TYPE = Kind("long", 64, True)

IPC_CMD_MASK = 0xFF  # IPC_64 and the rest: Linux answers EINVAL for them


def _perm_fields(data: bytes) -> tuple[int, int, int]:
    """uid, gid and mode of IPC_SET's ipc64_perm."""
    _key, uid, gid, _cuid, _cgid, mode = struct.unpack_from("<iIIIII", data)
    return uid, gid, mode


def _stat_object(task: Task, table, ident: int, cmd_by_index: bool, any_cmd: bool):
    """The object IPC_STAT (by id) or *_STAT / *_STAT_ANY (by index) reports; read
    permission is asked except for *_STAT_ANY."""
    ns_table = table
    obj = ns_table.find_index(ident) if cmd_by_index else ns_table.find_id(ident)
    if obj is None:
        raise SysError(EINVAL)
    if not any_cmd and not obj.perm.allowed(task, 0o444):
        raise SysError(EACCES)
    return obj


def ns_sem_opm(task: Task) -> int:
    return ipc_namespace(task.kernel).sem_ctls[2]


# --- shared memory -----------------------------------------------------------------------------


@syscall("shmget", IPC_KEY, SIZE, SHMGET_FLAGS, classes="ipc")
def sys_shmget(task: Task, key: int, size: int, shmflg: int) -> int:
    """shmget(2). SHM_HUGETLB is ENOMEM: pykern reserves no huge pages."""
    return shm.shmget(task, key, size, shmflg)


@syscall("shmat", INT, PTR, SHMAT_FLAGS, ret=RET_HEX, classes="ipc memory")
def sys_shmat(task: Task, shmid: int, shmaddr: int, shmflg: int) -> int:
    """shmat(2): the segment's memory is the same host memory in every process."""
    return shm.shmat(task, shmid, shmaddr, shmflg)


@syscall("shmdt", PTR, classes="ipc memory")
def sys_shmdt(task: Task, shmaddr: int) -> int:
    """shmdt(2)."""
    return shm.shmdt(task, shmaddr)


@syscall("shmctl", INT, SHMCTL_CMD, PTR, classes="ipc")
def sys_shmctl(task: Task, shmid: int, cmd: int, buf_addr: int) -> int:
    """shmctl(2): IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SHM_INFO, SHM_STAT,
    SHM_STAT_ANY, SHM_LOCK, SHM_UNLOCK."""
    ns = ipc_namespace(task.kernel)
    if shmid < 0 or cmd < 0:
        raise SysError(EINVAL)
    segments = shm.segments(ns)
    if cmd == IPC_INFO:
        task.mm.copy_out(buf_addr, SHMINFO64.pack(ns.shm_ctlmax, SHMMIN, ns.shm_ctlmni, SHMMNI, ns.shm_ctlall,
                                                  0, 0, 0, 0))
        return max(ns.shm.max_index(), 0)
    if cmd == SHM_INFO:
        rss = sum(s.resident_pages() for s in segments)
        task.mm.copy_out(buf_addr, SHM_INFO_STRUCT.pack(len(segments), ns.shm_tot, rss, 0, 0, 0))
        return max(ns.shm.max_index(), 0)
    if cmd in (IPC_STAT, SHM_STAT, SHM_STAT_ANY):
        segment = _stat_object(task, ns.shm, shmid, cmd != IPC_STAT, cmd == SHM_STAT_ANY)
        task.mm.copy_out(buf_addr, SHMID64_DS.pack(segment.perm.pack(), segment.size, segment.atime,
                                                   segment.dtime, segment.ctime, segment.cpid, segment.lpid,
                                                   segment.nattch, 0, 0))
        return segment.perm.id if cmd != IPC_STAT else 0
    segment = ns.shm.find_id(shmid)
    if cmd in (SHM_LOCK, SHM_UNLOCK):
        if segment is None:
            raise SysError(EINVAL)
        shm.shm_lock(task, segment, cmd == SHM_LOCK)
        return 0
    if cmd == IPC_SET:
        data = task.mm.copy_in(buf_addr, SHMID64_DS.size)
        if segment is None:
            raise SysError(EINVAL)
        check_owner(task, segment.perm)
        segment.perm.set(*_perm_fields(data))
        segment.ctime = ns.now()
        return 0
    if cmd == IPC_RMID:
        if segment is None:
            raise SysError(EINVAL)
        check_owner(task, segment.perm)
        segment.mark_removed()
        return 0
    raise SysError(EINVAL)


# --- semaphores --------------------------------------------------------------------------------


@syscall("semget", IPC_KEY, INT, IPC_FLAGS, classes="ipc")
def sys_semget(task: Task, key: int, nsems: int, semflg: int) -> int:
    """semget(2)."""
    return sems.semget(task, key, nsems, semflg)


@syscall("semop", INT, SEMBUF_IN, UINT, classes="ipc")
def sys_semop(task: Task, semid: int, sops_addr: int, nsops: int) -> int:
    """semop(2): all operations or none; sleeps in pykern's scheduler."""
    return sys_semtimedop(task, semid, sops_addr, nsops, 0)


@syscall("semtimedop", INT, SEMBUF_IN, UINT, TIMESPEC_IN, classes="ipc")
def sys_semtimedop(task: Task, semid: int, sops_addr: int, nsops: int, timeout_addr: int) -> int:
    """semtimedop(2): semop with a relative timeout (EAGAIN when it passes)."""
    if task.restart_block is not None and task.restart_block.sem_set is not None:  # a retry: kept
        return sems.semtimedop(task, semid, [], None)
    timeout = TIMESPEC.unpack(task.mm.copy_in(timeout_addr, TIMESPEC.size)) if timeout_addr else None
    sops = sems.copy_in_sops(task, semid, sops_addr, nsops)
    return sems.semtimedop(task, semid, sops, timespec_to_ns(*timeout) if timeout is not None else None)


@syscall("semctl", INT, INT, SEMCTL_CMD, SEMCTL_ARG, classes="ipc")
def sys_semctl(task: Task, semid: int, semnum: int, cmd: int, arg: int) -> int:
    """semctl(2). `arg` is union semun: a value (SETVAL) or a pointer."""
    ns = ipc_namespace(task.kernel)
    if semid < 0 or cmd < 0:
        raise SysError(EINVAL)
    mm = task.mm
    if cmd in (IPC_INFO, SEM_INFO):
        sets = ns.sem.sorted()
        if cmd == SEM_INFO:
            usz, aem = len(sets), sum(s.nsems for s in sets)
        else:
            usz, aem = SEMUSZ, SEMAEM
        semmsl, semmns, semopm, semmni = ns.sem_ctls
        mm.copy_out(arg, SEMINFO.pack(SEMMAP, semmni, semmns, SEMMNU, semmsl, semopm, SEMUME, usz, SEMVMX, aem))
        return max(ns.sem.max_index(), 0)
    if cmd in (IPC_STAT, SEM_STAT, SEM_STAT_ANY):
        sem_set = _stat_object(task, ns.sem, semid, cmd != IPC_STAT, cmd == SEM_STAT_ANY)
        mm.copy_out(arg, SEMID64_DS.pack(sem_set.perm.pack(), sem_set.otime, 0, sem_set.ctime, 0,
                                         sem_set.nsems, 0, 0))
        return sem_set.perm.id if cmd != IPC_STAT else 0
    if cmd not in (GETALL, GETVAL, GETPID, GETNCNT, GETZCNT, SETVAL, SETALL, IPC_SET, IPC_RMID):
        raise SysError(EINVAL)
    value = arg & 0xFFFFFFFF  # SETVAL: semun.val, an int, checked first (semctl_setval)
    value = value - (1 << 32) if value & 0x80000000 else value
    if cmd == SETVAL and not 0 <= value <= SEMVMX:
        raise SysError(ERANGE)
    data = mm.copy_in(arg, SEMID64_DS.size) if cmd == IPC_SET else b""  # before the lookup (semctl_down)
    sem_set = sems.lookup(task, semid)
    if cmd in (IPC_SET, IPC_RMID):
        check_owner(task, sem_set.perm)
        if cmd == IPC_RMID:
            sem_set.remove()
        else:
            sem_set.perm.set(*_perm_fields(data))
            sem_set.ctime = ns.now()
        return 0
    write = cmd in (SETVAL, SETALL)
    if cmd == SETVAL and not 0 <= semnum < sem_set.nsems:  # (semctl_setval: before the permission)
        raise SysError(EINVAL)
    if not sem_set.perm.allowed(task, 0o222 if write else 0o444):
        raise SysError(EACCES)
    if cmd == GETALL:
        mm.copy_out(arg, struct.pack(f"<{sem_set.nsems}H", *(s.val for s in sem_set.sems)))
        return 0
    if cmd == SETALL:
        values = struct.unpack(f"<{sem_set.nsems}H", mm.copy_in(arg, 2 * sem_set.nsems))
        if any(v > SEMVMX for v in values):
            raise SysError(ERANGE)
        pid = task.group.tgid
        for sem, value in zip(sem_set.sems, values):
            sem.val, sem.pid = value, pid
        sem_set.clear_undo(None)
        sem_set.ctime = ns.now()
        sem_set.changed.wake_all()
        return 0
    if not 0 <= semnum < sem_set.nsems:
        raise SysError(EINVAL)
    sem = sem_set.sems[semnum]
    if cmd == GETVAL:
        return sem.val
    if cmd == GETPID:
        return sem.pid
    if cmd == GETNCNT:
        return sem_set.count_waiters(semnum, False)
    if cmd == GETZCNT:
        return sem_set.count_waiters(semnum, True)
    sem.val, sem.pid = value, task.group.tgid
    sem_set.clear_undo(semnum)
    sem_set.ctime = ns.now()
    sem_set.changed.wake_all()
    return 0


# --- message queues ----------------------------------------------------------------------------


@syscall("msgget", IPC_KEY, IPC_FLAGS, classes="ipc")
def sys_msgget(task: Task, key: int, msgflg: int) -> int:
    """msgget(2)."""
    return msgq.msgget(task, key, msgflg)


@syscall("msgsnd", INT, MSGBUF_IN, SIZE, MSG_FLAGS, classes="ipc")
def sys_msgsnd(task: Task, msqid: int, msgp_addr: int, msgsz: int, msgflg: int) -> int:
    """msgsnd(2): sleeps while the queue is full."""
    block = task.restart_block
    if block is not None and block.msg_queue is not None and block.msg_sent is not None:
        mtype, text = block.msg_sent
    else:
        mtype = struct.unpack("<q", task.mm.copy_in(msgp_addr, 8))[0]  # read first (ksys_msgsnd)
        if msgsz > ipc_namespace(task.kernel).msg_ctlmax or msgsz >= 1 << 63 or msqid < 0:
            raise SysError(EINVAL)
        if mtype < 1:
            raise SysError(EINVAL)
        text = task.mm.copy_in(msgp_addr + 8, msgsz)
        task.restart_state().msg_sent = (mtype, text)
    return msgq.msgsnd(task, msqid, mtype, text, msgflg)


@syscall("msgrcv", INT, MSGBUF_OUT, SIZE, LONG_TYPE, MSG_FLAGS, classes="ipc")
def sys_msgrcv(task: Task, msqid: int, msgp_addr: int, msgsz: int, msgtyp: int, msgflg: int) -> int:
    """msgrcv(2): msgtyp 0, > 0 (MSG_EXCEPT), < 0; MSG_NOERROR, MSG_COPY; sleeps while
    nothing matches. A message whose copy-out faults is lost, as on Linux."""
    if msqid < 0 or msgsz >= 1 << 63:
        raise SysError(EINVAL)
    retry = task.restart_block is not None and task.restart_block.msg_queue is not None
    if msgflg & MSG_COPY and not retry:  # prepare_copy reads the buffer first
        if msgflg & MSG_EXCEPT or not msgflg & IPC_NOWAIT:
            raise SysError(EINVAL)
        task.mm.copy_in(msgp_addr, min(msgsz, ipc_namespace(task.kernel).msg_ctlmax))
    mtype, text = msgq.msgrcv(task, msqid, msgsz, msgtyp, msgflg)
    task.mm.copy_out(msgp_addr, struct.pack("<q", mtype) + text)
    return len(text)


@syscall("msgctl", INT, MSGCTL_CMD, PTR, classes="ipc")
def sys_msgctl(task: Task, msqid: int, cmd: int, buf_addr: int) -> int:
    """msgctl(2): IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, MSG_INFO, MSG_STAT,
    MSG_STAT_ANY."""
    ns = ipc_namespace(task.kernel)
    if msqid < 0 or cmd < 0:
        raise SysError(EINVAL)
    mm = task.mm
    if cmd in (IPC_INFO, MSG_INFO):
        if cmd == MSG_INFO:
            pool, msgmap, tql = len(ns.msg), ns.msg_hdrs, ns.msg_bytes
        else:
            pool, msgmap, tql = MSGPOOL, MSGMAP, MSGTQL
        mm.copy_out(buf_addr, MSGINFO.pack(pool, msgmap, ns.msg_ctlmax, ns.msg_ctlmnb, ns.msg_ctlmni, MSGSSZ, tql,
                                           MSGSEG))
        return max(ns.msg.max_index(), 0)
    if cmd in (IPC_STAT, MSG_STAT, MSG_STAT_ANY):
        queue = _stat_object(task, ns.msg, msqid, cmd != IPC_STAT, cmd == MSG_STAT_ANY)
        mm.copy_out(buf_addr, MSQID64_DS.pack(queue.perm.pack(), queue.stime, queue.rtime, queue.ctime,
                                              queue.cbytes, queue.qnum, queue.qbytes, queue.lspid,
                                              queue.lrpid, 0, 0))
        return queue.perm.id if cmd != IPC_STAT else 0
    if cmd == IPC_SET:
        data = mm.copy_in(buf_addr, MSQID64_DS.size)
        queue = msgq.lookup(task, msqid)
        check_owner(task, queue.perm)
        qbytes = struct.unpack_from("<Q", data, 88)[0]
        if qbytes > ns.msg_ctlmnb and not task.group.creds.capable(CAP_SYS_RESOURCE):
            raise SysError(EPERM)
        queue.perm.set(*_perm_fields(data))
        queue.qbytes = qbytes
        queue.ctime = ns.now()
        queue.senders.wake_all()
        return 0
    if cmd == IPC_RMID:
        queue = msgq.lookup(task, msqid)
        check_owner(task, queue.perm)
        queue.remove()
        return 0
    raise SysError(EINVAL)

