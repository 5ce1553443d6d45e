"""Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise (mm/mmap.c, mm/mremap.c,
mm/madvise.c). The address-space work is in pykern.mm; these check arguments."""

from __future__ import annotations

import os
import stat
import time

from pykern.abi import (
    CAP_IPC_LOCK,
    EACCES,
    EBADF,
    EINVAL,
    ENODEV,
    ENOMEM,
    EOPNOTSUPP,
    EPERM,
    MADV_DONTNEED,
    MADV_FREE,
    MAP_ANONYMOUS,
    MAP_GROWSDOWN,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_TYPE,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    O_ACCMODE,
    O_PATH,
    O_RDWR,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_GROWSDOWN,
    PROT_GROWSUP,
    PROT_READ,
    PROT_WRITE,
    RLIM_INFINITY,
    RLIMIT_AS,
    RLIMIT_DATA,
    RLIMIT_MEMLOCK,
    TASK_SIZE,
    page_up,
)
from pykern.errors import SysError
from pykern.fs.file import File
from pykern.fs.namei import file_path
from pykern.fs.proc.task_mmu import mapped_file_name
from pykern.hostmem import Backing, HostMemoryError
from pykern.ipc import shm
from pykern.mm import MM
from pykern.rlimit import get_rlimit
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, MADVISE, MMAP_FLAGS, MREMAP_FLAGS, OFF, PROT, PTR, RET_HEX, SIZE, UINT
from pykern.task import Task

PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC
MAP_KNOWN = 0x1FFFFF  # every flag Linux accepts with MAP_SHARED_VALIDATE


@syscall("brk", PTR, ret=RET_HEX, classes="memory")
def sys_brk(task: Task, addr: int) -> int:
    """brk(2): the raw call returns the new break, or the old one on failure (also past
    RLIMIT_DATA, check_data_rlimit, or RLIMIT_AS)."""
    mm = task.mm
    old_top, new_top = page_up(mm.brk), page_up(addr)
    if addr >= mm.start_brk and new_top > old_top:
        data_limit = get_rlimit(task.group, RLIMIT_DATA)[0]
        layout = mm.layout
        data_segment = layout.end_data - layout.start_data if layout is not None else 0
        if addr - mm.start_brk + data_segment > data_limit:
            return mm.brk
        try:
            may_expand_vm(task, old_top, new_top - old_top, PROT_READ | PROT_WRITE, MAP_PRIVATE)
            task.kernel.overcommit.check_grow(task, None, new_top - old_top)
        except SysError:
            return mm.brk
    return mm.set_brk(addr)


def may_expand_vm(task: Task, start: int, length: int, prot: int, flags: int) -> None:
    """ENOMEM if mapping [start, start+length) would take the address space past RLIMIT_AS,
    or its private writable part (Linux's data_vm) past RLIMIT_DATA. What the new mapping
    replaces (MAP_FIXED over old ones) is not counted twice."""
    as_limit = get_rlimit(task.group, RLIMIT_AS)[0]
    data_limit = get_rlimit(task.group, RLIMIT_DATA)[0]
    if as_limit == RLIM_INFINITY and data_limit == RLIM_INFINITY:
        return

    def is_data(vma_prot: int, vma_flags: int) -> bool:
        return bool(vma_prot & PROT_WRITE) and not vma_flags & (MAP_SHARED | MAP_GROWSDOWN)

    end = start + length
    total = data = 0
    for vma in task.mm.vmas:
        size = vma.end - vma.start - max(0, min(vma.end, end) - max(vma.start, start))
        total += size
        if is_data(vma.prot, vma.flags) and vma.name != "[stack]":
            data += size
    if total + length > as_limit:
        raise SysError(ENOMEM)
    if is_data(prot, flags) and data + length > data_limit:
        raise SysError(ENOMEM)


@syscall("mmap", PTR, SIZE, PROT, MMAP_FLAGS, FD, OFF, ret=RET_HEX, classes="memory")
def sys_mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    """mmap(2). Private file mappings are copied in; shared ones map the host file."""
    start = _do_mmap(task, addr, length, prot, flags, fd, offset)
    mm = task.mm
    if mm.mlocked or mm.lock_future or flags & MAP_LOCKED:  # a new mapping is locked only so
        _set_locked(mm, start, start + page_up(length), mm.lock_future or bool(flags & MAP_LOCKED))
    return start


def _do_mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    map_type = flags & MAP_TYPE
    if map_type not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        raise SysError(EINVAL)
    if map_type == MAP_SHARED_VALIDATE and flags & ~MAP_KNOWN:
        raise SysError(EOPNOTSUPP)
    if length == 0 or offset % PAGE_SIZE or prot & ~(PROT_ALL | PROT_GROWSDOWN | PROT_GROWSUP):
        raise SysError(EINVAL)
    length = page_up(length)
    if length == 0 or length > TASK_SIZE:
        raise SysError(ENOMEM)
    shared = map_type != MAP_PRIVATE
    share_flag = MAP_SHARED if shared else MAP_PRIVATE
    mm = task.mm

    if flags & MAP_ANONYMOUS:
        start = mm.choose_address(addr, length, flags)
        may_expand_vm(task, start, length, prot, share_flag | flags & MAP_GROWSDOWN)
        overcommit = task.kernel.overcommit
        overcommit.check_map(task, start, length, prot, share_flag | flags & (MAP_ANONYMOUS | MAP_NORESERVE))
        try:
            mm.map_anonymous(start, length, prot, share_flag | overcommit.map_flags(flags))
        except HostMemoryError:
            raise SysError(ENOMEM) from None
        return start

    file = task.group.files.get(fd)
    if file.flags & O_PATH:
        raise SysError(EBADF)  # an O_PATH descriptor maps nothing (fdget)
    host_fd = getattr(file, "host_fd", None)
    path = file.host_path() if hasattr(file, "host_path") else None
    if host_fd is None or path is None or file.stat().mode & 0o170000 not in (0o100000, 0o020000):
        raise SysError(ENODEV)
    if not file.readable or (shared and prot & PROT_WRITE and file.flags & O_ACCMODE != O_RDWR):
        raise SysError(EACCES)
    start = mm.choose_address(addr, length, flags)
    may_expand_vm(task, start, length, prot, share_flag)
    overcommit = task.kernel.overcommit
    overcommit.check_map(task, start, length, prot, share_flag | flags & MAP_NORESERVE)
    if shared:
        try:
            backing = Backing(length, fd=host_fd, offset=offset, writable=bool(file.flags & O_ACCMODE == O_RDWR),
                              label=path)
        except HostMemoryError:
            raise SysError(ENODEV) from None
        mm.map_backing(start, length, prot, MAP_SHARED, backing, 0, vma_name(task, file), offset)
        return start
    cache = mm.pool.page_cache if mm.pool is not None and not prot & PROT_WRITE else None
    key = _file_version(host_fd, offset, length, cache.settle_ns) if cache is not None else None
    backing = cache.get(key) if key is not None else None
    if backing is not None and any(vma.backing is backing for vma in mm.vmas):
        backing = key = None  # mapped twice here: MM._own's copy-on-write is per backing, per MM
    if backing is None:
        data = file.pread(length, offset)
        try:
            backing = Backing(length, label=path)
        except HostMemoryError:
            raise SysError(ENOMEM) from None
        if data:
            backing.view(0, len(data))[:] = data
        if key is not None:
            cache.add(key, backing)
    mm.map_backing(start, length, prot, MAP_PRIVATE | overcommit.map_flags(flags), backing, 0, vma_name(task, file),
                   offset)
    return start


def _file_version(host_fd: int, offset: int, length: int, settle_ns: int) -> tuple[int, ...] | None:
    """The page cache's key for a private mapping of a regular file, or None when the
    file is too recently changed to be cached (pykern.mm.PageCache)."""
    try:
        st = os.fstat(host_fd)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < settle_ns:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, offset, length


def vma_name(task: Task, file: File) -> str:
    """A file mapping's name in /proc/PID/maps: the file's guest path, carrying its
    device and inode number (or the kernel's name for a file without one)."""
    name = os.fsdecode(file_path(file, task.group.fs.root))
    if file.location is None:
        return name
    info = file.stat()
    return mapped_file_name(name, info.dev, info.ino)


@syscall("munmap", PTR, SIZE, classes="memory")
def sys_munmap(task: Task, addr: int, length: int) -> int:
    """munmap(2)."""
    if addr % PAGE_SIZE or length == 0 or addr + length > TASK_SIZE:
        raise SysError(EINVAL)
    task.mm.unmap_range(addr, addr + page_up(length))
    if task.mm.mlocked:
        _set_locked(task.mm, addr, addr + page_up(length), False)
    return 0


@syscall("mprotect", PTR, SIZE, PROT, classes="memory")
def sys_mprotect(task: Task, addr: int, length: int, prot: int) -> int:
    """mprotect(2). PROT_GROWSDOWN/GROWSUP are accepted and ignored."""
    if addr % PAGE_SIZE or prot & ~(PROT_ALL | PROT_GROWSDOWN | PROT_GROWSUP):
        raise SysError(EINVAL)
    end = addr + page_up(length)
    if end > TASK_SIZE or end < addr:
        raise SysError(ENOMEM)
    if end == addr:
        return 0
    task.kernel.overcommit.check_protect(task, addr, end, prot)
    task.mm.protect(addr, end, prot & PROT_ALL)
    return 0


@syscall("mremap", PTR, SIZE, SIZE, MREMAP_FLAGS, PTR, ret=RET_HEX, classes="memory")
def sys_mremap(task: Task, old_address: int, old_size: int, new_size: int, flags: int, new_address: int) -> int:
    """mremap(2). Moving re-maps the same host pages: contents move without a copy."""
    if new_size > old_size:
        vma = task.mm.find_vma(old_address)
        if vma is not None:
            may_expand_vm(task, TASK_SIZE, page_up(new_size) - page_up(old_size), vma.prot, vma.flags)
            task.kernel.overcommit.check_grow(task, vma, page_up(new_size) - page_up(old_size))
    try:
        return task.mm.remap(old_address, old_size, new_size, flags, new_address)
    except HostMemoryError:
        raise SysError(ENOMEM) from None


@syscall("madvise", PTR, SIZE, MADVISE, classes="memory")
def sys_madvise(task: Task, addr: int, length: int, advice: int) -> int:
    """madvise(2). DONTNEED/FREE zero private pages; other advice is accepted as a hint."""
    if addr % PAGE_SIZE or advice < 0:
        raise SysError(EINVAL)
    end = addr + page_up(length)
    if advice in (MADV_DONTNEED, MADV_FREE):
        if not task.mm.overlapping(addr, end) and end > addr:
            raise SysError(ENOMEM)
        task.mm.discard(addr, end)
    elif advice > 100:
        raise SysError(EINVAL)
    return 0


@syscall("msync", PTR, SIZE, INT, classes="memory")
def sys_msync(task: Task, addr: int, length: int, flags: int) -> int:
    """msync(2): shared file mappings write through the host page cache already."""
    if addr % PAGE_SIZE or flags & ~7:
        raise SysError(EINVAL)
    return 0



@syscall("mincore", PTR, SIZE, PTR, classes="memory")
def sys_mincore(task: Task, addr: int, length: int, vec_addr: int) -> int:
    """mincore(2): a byte per page, 1 if the host holds it (a page never touched is not
    resident, as on Linux). EINVAL if addr is not page-aligned, ENOMEM if any page in the
    range is unmapped."""
    if addr % PAGE_SIZE:
        raise SysError(EINVAL)
    pages = (length + PAGE_SIZE - 1) // PAGE_SIZE
    end = addr + pages * PAGE_SIZE
    if end > TASK_SIZE or end < addr:
        raise SysError(ENOMEM)
    vector = bytearray()
    at = addr
    mm = task.mm
    while at < end:
        vma = mm.find_vma(at)
        if vma is None:
            raise SysError(ENOMEM)
        upto = min(end, vma.end)
        vector += vma.backing.resident_vector(vma.offset + (at - vma.start), upto - at)
        at = upto
    mm.copy_out(vec_addr, bytes(vector))
    return 0


# --- mlock (mm/mlock.c) ---------------------------------------------------------------------
# pykern never pages guest memory out, so locking changes nothing but the bookkeeping:
# the locked ranges are kept on the MM (mm.mlocked) and MM.locked_bytes() is VmLck.


def _can_do_mlock(task: Task) -> bool:
    return get_rlimit(task.group, RLIMIT_MEMLOCK)[0] != 0 or task.group.creds.capable(CAP_IPC_LOCK)


def _lock_range(task: Task, start: int, length: int, lock: bool) -> None:
    """apply_vma_lock_flags over the page-rounded range: ENOMEM if any of it is unmapped
    (nothing changes then); EINVAL if it wraps."""
    end = page_up(start + length) if length else start
    start -= start % PAGE_SIZE
    if end < start or end > 1 << 64:
        raise SysError(EINVAL)
    if end == start:
        return
    mm = task.mm
    at = start
    for vma in mm.overlapping(start, end):
        if vma.start > at:
            break
        at = vma.end
    if at < end:
        raise SysError(ENOMEM)
    if lock:
        rlimit = get_rlimit(task.group, RLIMIT_MEMLOCK)[0]
        if not task.group.creds.capable(CAP_IPC_LOCK):
            already = sum(min(end, e) - max(start, s) for s, e in mm.mlocked if s < end and e > start)
            if mm.locked_bytes() + (end - start) - already > rlimit:
                raise SysError(ENOMEM)
    _set_locked(mm, start, end, lock)


def _set_locked(mm: MM, start: int, end: int, lock: bool) -> None:
    """Add [start, end) to (or take it out of) the MM's sorted, disjoint locked ranges."""
    kept = []
    for s, e in mm.mlocked:
        if e < start or s > end or (not lock and (e == start or s == end)):
            kept.append((s, e))
        elif lock:
            start, end = min(s, start), max(e, end)
        else:
            if s < start:
                kept.append((s, start))
            if e > end:
                kept.append((end, e))
    if lock:
        kept.append((start, end))
    mm.mlocked = sorted(kept)


@syscall("mlock", PTR, SIZE, classes="memory")
def sys_mlock(task: Task, addr: int, length: int) -> int:
    """mlock(2): EPERM without RLIMIT_MEMLOCK or CAP_IPC_LOCK, ENOMEM for an unmapped
    page or past the limit."""
    return sys_mlock2(task, addr, length, 0)


@syscall("mlock2", PTR, SIZE, UINT, classes="memory")
def sys_mlock2(task: Task, start: int, length: int, flags: int) -> int:
    """mlock2(2): MLOCK_ONFAULT is accepted (nothing is paged in either way)."""
    if flags & ~MLOCK_ONFAULT:
        raise SysError(EINVAL)
    if not _can_do_mlock(task):
        raise SysError(EPERM)
    _lock_range(task, start, length, True)
    return 0


@syscall("munlock", PTR, SIZE, classes="memory")
def sys_munlock(task: Task, addr: int, length: int) -> int:
    """munlock(2)."""
    _lock_range(task, addr, length, False)
    return 0


@syscall("mlockall", INT, classes="memory")
def sys_mlockall(task: Task, flags: int) -> int:
    """mlockall(2): MCL_CURRENT locks every mapping now (ENOMEM past RLIMIT_MEMLOCK
    without CAP_IPC_LOCK); MCL_FUTURE makes new mmaps locked."""
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise SysError(EINVAL)
    if not _can_do_mlock(task):
        raise SysError(EPERM)
    mm = task.mm
    if flags & MCL_CURRENT:
        total = sum(vma.end - vma.start for vma in mm.vmas)
        if total > get_rlimit(task.group, RLIMIT_MEMLOCK)[0] and not task.group.creds.capable(CAP_IPC_LOCK):
            raise SysError(ENOMEM)
        for vma in mm.vmas:
            _set_locked(mm, vma.start, vma.end, True)
    mm.lock_future = bool(flags & MCL_FUTURE)
    return 0


@syscall("munlockall", classes="memory")
def sys_munlockall(task: Task) -> int:
    """munlockall(2)."""
    task.mm.mlocked = []
    task.mm.lock_future = False
    return 0


@syscall("remap_file_pages", PTR, SIZE, PROT, SIZE, MMAP_FLAGS, classes="memory")
def sys_remap_file_pages(task: Task, addr: int, size: int, prot: int, pgoff: int, flags: int) -> int:
    """remap_file_pages(2) as Linux emulates it: the shared mapping at `addr` maps page
    `pgoff` of its memory instead. Done for shared anonymous and System V shared memory;
    a shared mapping of a host file is EINVAL (pykern maps only the range asked of it)."""
    if prot:
        raise SysError(EINVAL)
    start, size = addr & ~(PAGE_SIZE - 1), size & ~(PAGE_SIZE - 1)
    offset = pgoff * PAGE_SIZE
    if start + size <= start or pgoff + size // PAGE_SIZE >= 1 << 64:
        raise SysError(EINVAL)
    vma = task.mm.find_vma(start)
    if vma is None or not vma.shared or start + size > vma.end or vma.backing.shared:
        raise SysError(EINVAL)
    if offset + size > vma.backing.size:
        raise SysError(EINVAL)
    shm.remap(task, start, size, vma.prot, vma.backing, offset, vma.name)
    return 0
