"""System V shared memory (Linux's ipc/shm.c).

A segment's memory is one host `Backing`; every attach maps it MAP_SHARED into the
caller's address space, so all attaches (and the forked children that inherit them)
are the same host pages, as the page tables of two processes point at the same
physical pages. Each attach is an `Attach` (an address space and an address): fork
copies the parent's into the child, shmdt, exec and the last exit of an address space
remove theirs. shm_nattch is their count; a segment marked by IPC_RMID is destroyed when
its last attach goes. An attach the guest unmapped itself (munmap) is noticed when the
segment is next looked at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    CAP_IPC_LOCK,
    EACCES,
    EIDRM,
    EINVAL,
    ENOMEM,
    ENOSPC,
    EPERM,
    MAP_FIXED,
    MAP_SHARED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    RLIMIT_MEMLOCK,
    SHM_DEST,
    SHM_EXEC,
    SHM_HUGETLB,
    SHM_LOCKED,
    SHM_RDONLY,
    SHM_REMAP,
    SHM_RND,
    SHMLBA,
    SHMMIN,
    page_up,
)
from pykern.errors import SysError
from pykern.fs.proc.task_mmu import mapped_file_name
from pykern.hostmem import Backing, HostMemoryError
from pykern.ipc import IpcNamespace, IpcPerm, in_group, ipc_namespace, ipcget

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.task import Task


SHM_HUGE_SHIFT, SHM_HUGE_MASK = 26, 0x3F  # the log2 of a huge page size in shmflg
LLONG_MAX = (1 << 63) - 1
SHM_DEV = 1  # 00:01, the device of Linux's internal shm mount in /proc/PID/maps


class Attach:
    __slots__ = ("mm", "addr")

    def __init__(self, mm: MM, addr: int) -> None:
        self.mm = mm
        self.addr = addr


class ShmSegment:
    """struct shmid_kernel."""

    def __init__(self, ns: IpcNamespace, perm: IpcPerm, size: int, pid: int) -> None:
        self.ns = ns
        self.perm = perm
        self.size = size  # shm_segsz: as asked, not rounded
        # The host memory, made at the first attach: a segment larger than any address
        # space can hold (Linux's shmem file reserves nothing) is made, and fails to attach.
        self.backing: Backing | None = None
        self.atime = self.dtime = 0
        self.ctime = ns.now()
        self.cpid = pid
        self.lpid = 0
        self.attaches: list[Attach] = []

    @property
    def pages(self) -> int:
        return page_up(self.size) // PAGE_SIZE

    def still_mapped(self, attach: Attach) -> bool:
        """Does any of the attach's range still map the segment (a partial munmap or a
        remap_file_pages leaves the rest: Linux counts each piece's VMA)?"""
        if attach.mm.uc is None:
            return False
        end = attach.addr + self.pages * PAGE_SIZE
        return any(vma.backing is self.backing for vma in attach.mm.overlapping(attach.addr, end))

    def prune(self) -> None:
        """Forget attaches whose mapping is gone (unmapped by the guest, or an address
        space freed without the exit hook seeing it); destroy a marked segment left
        without any."""
        live = [a for a in self.attaches if self.still_mapped(a)]
        if len(live) != len(self.attaches):
            self.attaches = live
        self.destroy_if_unused()

    def resident_pages(self) -> int:
        """Pages the guest has touched (shm_rss)."""
        if self.backing is None:
            return 0
        runs = self.backing.resident_runs(0, self.pages * PAGE_SIZE)
        return sum(length for _, length in runs) // PAGE_SIZE

    @property
    def nattch(self) -> int:
        return len(self.attaches)

    def destroy_if_unused(self) -> None:
        if self.perm.mode & SHM_DEST and not self.attaches and not self.perm.deleted:
            self.destroy()

    def destroy(self) -> None:
        """shm_destroy: out of the table; the memory goes with the last reference."""
        self.ns.shm.remove(self)
        self.ns.shm_tot -= self.pages

    def mark_removed(self) -> None:
        """IPC_RMID: the key is free at once; the segment goes with its last attach."""
        self.perm.mode |= SHM_DEST
        self.ns.shm.forget_key(self)
        self.perm.key = 0
        self.destroy_if_unused()

    def vma_name(self) -> str:
        return f"/SYSV{self.perm.key & 0xFFFFFFFF:08x} (deleted)"


def segments(ns: IpcNamespace) -> list[ShmSegment]:
    """All segments, in index order, after noticing attaches that are gone."""
    for segment in list(ns.shm.objects.values()):
        segment.prune()  # type: ignore[attr-defined]
    return ns.shm.sorted()


def newseg(task: Task, ns: IpcNamespace, key: int, size: int, shmflg: int) -> int:
    if size < SHMMIN or size > ns.shm_ctlmax:
        raise SysError(EINVAL)
    pages = page_up(size) // PAGE_SIZE
    if ns.shm_tot + pages > ns.shm_ctlall:
        raise SysError(ENOSPC)
    if len(ns.shm) >= ns.shm_ctlmni:
        raise SysError(ENOSPC)
    if shmflg & SHM_HUGETLB:  # hugetlb_file_setup: pykern reserves no huge pages
        if (shmflg >> SHM_HUGE_SHIFT) & SHM_HUGE_MASK not in (0, 21, 30):  # no such huge page size
            raise SysError(EINVAL)
        creds = task.group.creds
        if not creds.capable(CAP_IPC_LOCK) and not in_group(task, 0):  # sysctl_hugetlb_shm_group
            raise SysError(EPERM)
        raise SysError(ENOMEM)
    if size > LLONG_MAX:  # shmem_kernel_file_setup: past MAX_LFS_FILESIZE
        raise SysError(EINVAL)
    segment = ShmSegment(ns, IpcPerm(key, task, shmflg), size, task.group.tgid)
    ident = ns.shm.add(segment, ns.shm_ctlmni)
    ns.shm_tot += pages
    return ident


def shmget(task: Task, key: int, size: int, shmflg: int) -> int:
    ns = ipc_namespace(task.kernel)
    segments(ns)

    def more_checks(segment: ShmSegment) -> None:
        if segment.size < size:
            raise SysError(EINVAL)

    return ipcget(ns.shm, task, key, shmflg, lambda: newseg(task, ns, key, size, shmflg), more_checks)


def lookup(task: Task, shmid: int) -> ShmSegment:
    if shmid < 0:
        raise SysError(EINVAL)
    ns = ipc_namespace(task.kernel)
    segments(ns)
    segment = ns.shm.find_id(shmid)
    if segment is None:
        raise SysError(EINVAL)
    return segment  # type: ignore[return-value]


def shmat(task: Task, shmid: int, addr: int, shmflg: int) -> int:
    """do_shmat: map the segment, at `addr` (SHM_RND rounds it down to SHMLBA;
    SHM_REMAP may replace what is there) or where mmap would put it."""
    if shmid < 0:
        raise SysError(EINVAL)
    fixed = bool(addr)  # (MAP_FIXED even when SHM_RND rounds it down to 0)
    if addr:
        if addr & (SHMLBA - 1):
            if not shmflg & SHM_RND:
                raise SysError(EINVAL)
            addr &= ~(SHMLBA - 1)
            if not addr and shmflg & SHM_REMAP:
                raise SysError(EINVAL)
    elif shmflg & SHM_REMAP:
        raise SysError(EINVAL)
    if shmflg & SHM_RDONLY:
        prot, acc = PROT_READ, 0o444
    else:
        prot, acc = PROT_READ | PROT_WRITE, 0o666
    if shmflg & SHM_EXEC:
        prot |= PROT_EXEC
        acc |= 0o111
    segment = lookup(task, shmid)
    if not segment.perm.allowed(task, acc):
        raise SysError(EACCES)
    mm = task.mm
    length = segment.pages * PAGE_SIZE
    if fixed and not shmflg & SHM_REMAP:
        if addr + length >= 1 << 64 or not mm.is_free(addr, addr + length):
            raise SysError(EINVAL)
    start = mm.choose_address(addr, length, MAP_FIXED if fixed else 0)  # (ENOMEM past the address space)
    if segment.backing is None:
        try:
            segment.backing = Backing(length, label=f"SYSV{segment.perm.key & 0xFFFFFFFF:08x}")
        except HostMemoryError:
            raise SysError(ENOMEM) from None
    for other in segments(segment.ns):  # SHM_REMAP: what it replaces is detached (shm_close)
        for attach in [a for a in other.attaches if a.mm is mm and start <= a.addr < start + length]:
            other.attaches.remove(attach)
            other.dtime, other.lpid = other.ns.now(), task.group.tgid
    mm.map_backing(start, length, prot, MAP_SHARED, segment.backing, 0,
                   mapped_file_name(segment.vma_name(), SHM_DEV, segment.perm.id))
    segment.attaches.append(Attach(mm, start))
    segment.atime = segment.ns.now()
    segment.lpid = task.group.tgid
    return start


def shmdt(task: Task, shmaddr: int) -> int:
    """shmdt(2): the attach at exactly `shmaddr` goes (EINVAL when there is none)."""
    if shmaddr % PAGE_SIZE:
        raise SysError(EINVAL)
    ns = ipc_namespace(task.kernel)
    mm = task.mm
    for segment in segments(ns):
        for attach in segment.attaches:
            if attach.mm is mm and attach.addr == shmaddr:
                detach(segment, attach, task.group.tgid)
                return 0
    raise SysError(EINVAL)


def detach(segment: ShmSegment, attach: Attach, pid: int) -> None:
    mm = attach.mm
    end = attach.addr + segment.pages * PAGE_SIZE
    for vma in mm.overlapping(attach.addr, end):  # the pieces at their own offset (not remapped ones)
        if vma.backing is segment.backing and vma.offset == vma.start - attach.addr:
            mm.unmap_range(max(vma.start, attach.addr), min(vma.end, end))
    segment.attaches.remove(attach)
    segment.dtime = segment.ns.now()
    segment.lpid = pid
    segment.destroy_if_unused()


def shm_fork(kernel: Kernel, parent: MM, child: MM, pid: int) -> None:
    """dup_mmap's shm_open for each attach the child inherits."""
    ns = ipc_namespace(kernel)
    for segment in ns.shm.objects.values():
        segment.attaches = [a for a in segment.attaches if a.mm is not child]  # type: ignore[attr-defined]
        inherited = [Attach(child, a.addr) for a in segment.attaches if a.mm is parent]  # type: ignore[attr-defined]
        if inherited:
            segment.attaches.extend(inherited)  # type: ignore[attr-defined]
            segment.atime = ns.now()  # type: ignore[attr-defined]
            segment.lpid = pid  # type: ignore[attr-defined]


def shm_exit(kernel: Kernel, mm: MM, pid: int) -> None:
    """The address space is gone (exit, exec): its attaches end, as exit_mmap's shm_close."""
    ns = ipc_namespace(kernel)
    for segment in list(ns.shm.objects.values()):
        for attach in [a for a in segment.attaches if a.mm is mm]:  # type: ignore[attr-defined]
            segment.attaches.remove(attach)  # type: ignore[attr-defined]
            segment.dtime = ns.now()  # type: ignore[attr-defined]
            segment.lpid = pid  # type: ignore[attr-defined]
        segment.destroy_if_unused()  # type: ignore[attr-defined]


def remap(task: Task, start: int, size: int, prot: int, backing: Backing, offset: int, name: str) -> None:
    """remap_file_pages' new mapping of shared memory at `offset` of `backing` (Linux's
    emulation: a MAP_FIXED mmap of the same file). For a System V segment the old attach
    ends first, destroying a segment marked for removal, and the new mapping is an attach
    of its own: EIDRM, with the range left unmapped, when the segment is gone by then."""
    mm = task.mm
    ns = ipc_namespace(task.kernel)
    segment = next((s for s in ns.shm.objects.values() if s.backing is backing), None)  # type: ignore[attr-defined]
    if segment is None:  # shared anonymous memory
        mm.map_backing(start, size, prot, MAP_SHARED, backing, offset, name)
        return
    mm.unmap_range(start, start + size)
    segment.prune()
    if segment.perm.deleted:
        raise SysError(EIDRM)
    mm.map_backing(start, size, prot, MAP_SHARED, backing, offset, name)
    segment.attaches.append(Attach(mm, start - offset))
    segment.atime, segment.lpid = ns.now(), task.group.tgid


def exit_shm(kernel: Kernel, pid: int) -> None:
    """exit_shm: with /proc/sys/kernel/shm_rmid_forced set, the segments the process made
    go: at once when nothing has them attached, else with their last detach."""
    ns = ipc_namespace(kernel)
    if not ns.shm_rmid_forced:
        return
    for segment in segments(ns):
        if segment.cpid == pid:
            segment.mark_removed()


def shm_lock(task: Task, segment: ShmSegment, lock: bool) -> None:
    """SHM_LOCK/SHM_UNLOCK: the owner (or CAP_IPC_LOCK), with a RLIMIT_MEMLOCK to lock."""
    creds = task.group.creds
    if not creds.capable(CAP_IPC_LOCK):
        if creds.euid not in (segment.perm.uid, segment.perm.cuid):
            raise SysError(EPERM)
        if lock and not task.group.rlimits.get(RLIMIT_MEMLOCK, (0, 0))[0]:
            raise SysError(EPERM)
    if segment.perm.deleted:
        raise SysError(EIDRM)
    if lock:
        segment.perm.mode |= SHM_LOCKED
    else:
        segment.perm.mode &= ~SHM_LOCKED
