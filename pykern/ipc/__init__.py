"""Inter-process communication (Linux's ipc/): System V shared memory, semaphores and
message queues, and POSIX message queues.

One `IpcNamespace` per kernel (`ipc_namespace(kernel)`) holds the three System V id
tables, the per-process SEM_UNDO lists and the mqueue file system. An object's id is
`seq * IPCMNI + index` (ipc/util.c: the lowest free index, a sequence number that grows
with every object made), so that a stale id of a removed object does not find its
successor. Permissions are ipcperms(): the owner's, group's or others' rwx bits of the
object's mode against what the call asks, with CAP_IPC_OWNER passing all.

What the guest sees of a machine-wide limit comes from here too: /proc/sys/kernel/shm*,
sem, msg* and /proc/sysvipc/* (pykern.fs.proc.sysvipc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    CAP_IPC_OWNER,
    CAP_SYS_ADMIN,
    DFLT_MSG,
    DFLT_MSGMAX,
    DFLT_MSGSIZE,
    DFLT_MSGSIZEMAX,
    DFLT_QUEUESMAX,
    EACCES,
    EEXIST,
    EINVAL,
    ENOENT,
    ENOSPC,
    EPERM,
    INT_MAX,
    IPC64_PERM,
    IPC_CREAT,
    IPC_EXCL,
    IPC_PRIVATE,
    MSGMAX,
    MSGMNB,
    MSGMNI,
    SEMMNI,
    SEMMNS,
    SEMMSL,
    SEMOPM,
    SHMALL,
    SHMMAX,
    SHMMNI,
)
from pykern.errors import SysError

if TYPE_CHECKING:
    from pykern.ipc.mqueue import MqueueFS
    from pykern.ipc.msg import MsgQueue
    from pykern.ipc.sem import SemSet, UndoList
    from pykern.ipc.shm import ShmSegment
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

IPCMNI = 32768  # ids per table; an id's low 15 bits are its index (IPCMNI_SHIFT)
IPCID_SEQ_MAX = (1 << 31) - 1 >> 15  # ipcid_seq_max(): INT_MAX >> IPCMNI_SHIFT


class IpcPerm:
    """struct kern_ipc_perm: the key, owner, creator and mode of one object."""

    __slots__ = ("key", "uid", "gid", "cuid", "cgid", "mode", "seq", "id", "deleted")

    def __init__(self, key: int, task: Task, mode: int) -> None:
        creds = task.group.creds
        self.key = key
        self.uid = self.cuid = creds.euid
        self.gid = self.cgid = creds.egid
        self.mode = mode & 0o777
        self.seq = 0
        self.id = -1
        self.deleted = False

    def pack(self) -> bytes:
        return IPC64_PERM.pack(self.key, self.uid, self.gid, self.cuid, self.cgid, self.mode, self.seq, 0, 0)

    def allowed(self, task: Task, flag: int) -> bool:
        """ipcperms(): may `task` have the rwx bits of `flag` (in any of the three places)?"""
        creds = task.group.creds
        requested = (flag >> 6) | (flag >> 3) | flag
        granted = self.mode
        if creds.euid in (self.cuid, self.uid):
            granted >>= 6
        elif in_group(task, self.cgid) or in_group(task, self.gid):
            granted >>= 3
        return not (requested & ~granted & 0o7) or creds.capable(CAP_IPC_OWNER)

    def is_owner(self, task: Task) -> bool:
        """ipcctl_obtain_check's rule for IPC_SET and IPC_RMID: the owner, the creator,
        or CAP_SYS_ADMIN."""
        creds = task.group.creds
        return creds.euid in (self.cuid, self.uid) or creds.capable(CAP_SYS_ADMIN)

    def set(self, uid: int, gid: int, mode: int) -> None:
        """IPC_SET's ipc_update_perm."""
        self.uid, self.gid = uid, gid
        self.mode = (self.mode & ~0o777) | (mode & 0o777)


def in_group(task: Task, gid: int) -> bool:
    creds = task.group.creds
    return creds.egid == gid or gid in creds.groups


class IpcIds:
    """struct ipc_ids: one table of objects (shm, sem or msg) by index, and by key.

    Indices are handed out cyclically (ipc_idr_alloc's idr_alloc_cyclic) below a window
    of max(in use * 3/2, 64): a removed object's index is not taken again at once, and
    the sequence number grows when the allocation wraps, so ids read 0, 1, 2, ... as on
    Linux 5.x and later."""

    MIN_CYCLE = 64  # ipc_min_cycle: RADIX_TREE_MAP_SIZE

    def __init__(self, name: str) -> None:
        self.name = name
        self.objects: dict[int, object] = {}  # index -> object with a .perm
        self.by_key: dict[int, object] = {}  # key (not IPC_PRIVATE) -> object
        self.cursor = 0  # where the next cyclic search starts (the idr's idr_next)
        self.last_idx = -1
        self.seq = 0
        self.next_id = -1  # /proc/sys/kernel/*_next_id: the id the next object gets

    def __len__(self) -> int:
        return len(self.objects)

    def _alloc_cyclic(self, end: int) -> int:
        start = self.cursor if self.cursor < end else 0
        for index in (*range(start, end), *range(0, start)):
            if index not in self.objects:
                self.cursor = index + 1
                return index
        raise SysError(ENOSPC)

    def add(self, obj: ShmSegment | SemSet | MsgQueue, limit: int) -> int:
        """ipc_addid: the next free index (or the one *_next_id asks for); ENOSPC when
        the table holds `limit` objects."""
        if len(self.objects) >= min(limit, IPCMNI):
            raise SysError(ENOSPC)
        perm = obj.perm
        if self.next_id >= 0:
            index = next((i for i in range(self.next_id % IPCMNI, IPCMNI) if i not in self.objects), None)
            if index is None:
                raise SysError(ENOSPC)
            perm.seq = self.next_id // IPCMNI
            self.next_id = -1
        else:
            index = self._alloc_cyclic(min(max(len(self.objects) * 3 // 2, self.MIN_CYCLE), IPCMNI))
            if index <= self.last_idx:
                self.seq = self.seq + 1 if self.seq + 1 < IPCID_SEQ_MAX else 0
            self.last_idx = index
            perm.seq = self.seq
        perm.id = perm.seq * IPCMNI + index
        self.objects[index] = obj
        if perm.key != IPC_PRIVATE:
            self.by_key[perm.key] = obj
        return perm.id

    def forget_key(self, obj: ShmSegment | SemSet | MsgQueue) -> None:
        if self.by_key.get(obj.perm.key) is obj:
            del self.by_key[obj.perm.key]

    def remove(self, obj: ShmSegment | SemSet | MsgQueue) -> None:
        obj.perm.deleted = True
        self.forget_key(obj)
        index = obj.perm.id % IPCMNI
        if self.objects.get(index) is obj:
            del self.objects[index]

    def find_id(self, ident: int) -> object | None:
        """ipc_obtain_object_check: the object with this id (index and sequence), or None."""
        if ident < 0:
            return None
        obj = self.objects.get(ident % IPCMNI)
        if obj is None or obj.perm.id != ident:  # type: ignore[attr-defined]
            return None
        return obj

    def find_index(self, index: int) -> object | None:
        """The object at an index (the *_STAT commands: the low bits of what is given), or None."""
        return self.objects.get(index % IPCMNI) if index >= 0 else None  # (ipcid_to_idx)

    def find_key(self, key: int) -> object | None:
        return self.by_key.get(key)

    def max_index(self) -> int:
        """ipc_get_maxidx: the highest index in use, or -1 when the table is empty."""
        return max(self.objects, default=-1)

    def sorted(self) -> list:
        return [self.objects[i] for i in sorted(self.objects)]


def ipcget(ids: IpcIds, task: Task, key: int, flg: int, create, more_checks=None) -> int:
    """ipcget(): IPC_PRIVATE always makes a new object; a key finds its object (EEXIST
    under IPC_CREAT|IPC_EXCL, then `more_checks`, then EACCES) or, under IPC_CREAT,
    makes one. `create()` makes and registers the new object and returns its id."""
    if key == IPC_PRIVATE:
        return create()
    obj = ids.find_key(key)
    if obj is None:
        if not flg & IPC_CREAT:
            raise SysError(ENOENT)
        return create()
    if flg & IPC_CREAT and flg & IPC_EXCL:
        raise SysError(EEXIST)
    if more_checks is not None:
        more_checks(obj)
    if not obj.perm.allowed(task, flg):  # type: ignore[attr-defined]
        raise SysError(EACCES)
    return obj.perm.id  # type: ignore[attr-defined]


def check_owner(task: Task, perm: IpcPerm) -> None:
    if not perm.is_owner(task):
        raise SysError(EPERM)


def check_id(ident: int) -> None:
    if ident < 0:
        raise SysError(EINVAL)


class IpcNamespace:
    """struct ipc_namespace: everything System V and POSIX IPC keep for one kernel,
    with the limits /proc/sys/kernel and /proc/sys/fs/mqueue show and set."""

    def __init__(self, kernel: Kernel) -> None:
        from pykern.ipc import mqueue

        self.kernel = kernel
        self.shm = IpcIds("shm")
        self.sem = IpcIds("sem")
        self.msg = IpcIds("msg")
        self.shm_tot = 0  # pages of all segments (shmall's account)
        self.sem_total = 0  # semaphores in all sets (semmns's account)
        self.sem_undo: dict[ThreadGroup, UndoList] = {}
        self.msg_bytes = 0  # all queues' bytes and messages (MSG_INFO)
        self.msg_hdrs = 0
        self.shm_ctlmax, self.shm_ctlall, self.shm_ctlmni, self.shm_rmid_forced = SHMMAX, SHMALL, SHMMNI, 0
        self.sem_ctls = [SEMMSL, SEMMNS, SEMOPM, SEMMNI]  # semmsl semmns semopm semmni
        self.msg_ctlmax, self.msg_ctlmnb, self.msg_ctlmni = MSGMAX, MSGMNB, MSGMNI
        self.mq_queues_max = DFLT_QUEUESMAX  # /proc/sys/fs/mqueue/queues_max
        self.mq_msg_max, self.mq_msgsize_max = DFLT_MSGMAX, DFLT_MSGSIZEMAX  # without CAP_SYS_RESOURCE
        self.mq_msg_default, self.mq_msgsize_default = DFLT_MSG, DFLT_MSGSIZE  # a queue without attributes
        self.mqueue: MqueueFS = mqueue.MqueueFS(self)

    def now(self) -> int:
        return self.kernel.clock.realtime_ns() // 1_000_000_000

    # --- the sysctls ---------------------------------------------------------------------------

    def sysctls(self) -> dict[bytes, dict[bytes, object]]:
        """kernel/ and fs/mqueue/ files: name -> (read, write), as procfs's sysctl table wants."""
        def number(attr: str, low: int, high: int) -> tuple:
            def read() -> bytes:
                return f"{getattr(self, attr)}\n".encode()

            def write(task: Task, data: bytes) -> int:
                setattr(self, attr, _parse_ints(data, 1, low, high)[0])
                return len(data)

            return read, write

        def next_id(ids: IpcIds) -> tuple:
            def write(task: Task, data: bytes) -> int:
                ids.next_id = _parse_ints(data, 1, -1, INT_MAX)[0]
                return len(data)

            return (lambda: f"{ids.next_id}\n".encode()), write

        def sem_write(task: Task, data: bytes) -> int:
            values = _parse_ints(data, 4, 0, INT_MAX)
            if values[3] > IPCMNI:
                raise SysError(EINVAL)
            self.sem_ctls = values
            return len(data)

        ulong_max = (1 << 64) - 1
        kernel = {
            b"shmmax": number("shm_ctlmax", 0, ulong_max), b"shmall": number("shm_ctlall", 0, ulong_max),
            b"shmmni": number("shm_ctlmni", 0, IPCMNI), b"shm_rmid_forced": number("shm_rmid_forced", 0, 1),
            b"sem": (lambda: "\t".join(map(str, self.sem_ctls)).encode() + b"\n", sem_write),
            b"msgmax": number("msg_ctlmax", 0, INT_MAX), b"msgmnb": number("msg_ctlmnb", 0, INT_MAX),
            b"msgmni": number("msg_ctlmni", 0, IPCMNI),
            b"shm_next_id": next_id(self.shm), b"sem_next_id": next_id(self.sem), b"msg_next_id": next_id(self.msg),
        }  # fmt: skip
        from pykern.ipc import mqueue

        fs_mqueue = {
            b"queues_max": number("mq_queues_max", 0, INT_MAX),
            b"msg_max": number("mq_msg_max", mqueue.MIN_MSGMAX, mqueue.HARD_MSGMAX),
            b"msgsize_max": number("mq_msgsize_max", mqueue.MIN_MSGSIZEMAX, mqueue.HARD_MSGSIZEMAX),
            b"msg_default": number("mq_msg_default", mqueue.MIN_MSGMAX, mqueue.HARD_MSGMAX),
            b"msgsize_default": number("mq_msgsize_default", mqueue.MIN_MSGSIZEMAX, mqueue.HARD_MSGSIZEMAX),
        }
        return {b"kernel": kernel, b"fs/mqueue": fs_mqueue}


def _parse_ints(data: bytes, count: int, low: int, high: int) -> list[int]:
    """proc_dointvec_minmax: `count` numbers (EINVAL for text, too few or out of range)."""
    try:
        values = [int(word) for word in data.split()]
    except ValueError:
        raise SysError(EINVAL) from None
    if len(values) < count or any(not low <= v <= high for v in values[:count]):
        raise SysError(EINVAL)
    return values[:count]


def ipc_namespace(kernel: Kernel) -> IpcNamespace:
    """The kernel's one IPC namespace (kernel.ipc), made at first use."""
    ns = kernel.ipc
    if ns is None:
        ns = kernel.ipc = IpcNamespace(kernel)
    return ns
