"""An address space (Linux's mm_struct): the VMAs, the Unicorn instance that executes
in it, and copy_in/copy_out for syscalls.

Invariants:
- `vmas` is sorted by start, non-overlapping, page-aligned. Unicorn's mappings mirror
  its accessible part exactly: every byte of a VMA with some access is mapped in `uc`
  with the VMA's protection, nothing else is. A PROT_NONE VMA (a reservation, a guard
  page) is not mapped in Unicorn at all: an access to it faults as unmapped, and the
  trap tells it from a hole by the VMA list (SEGV_ACCERR). That keeps reservations
  free: Unicorn splits a region by unmapping all of it, and unmapping flushes its TLB
  page by page (a 1 TiB PROT_NONE reservation cost 33 s per mprotect or munmap of a
  piece of it, and an AddressSanitizer program's start-up never finished).
- Each VMA maps guest [start, end) onto `backing.ptr + offset`. Private memory has
  backings owned by this MM alone (fork copies them); MAP_SHARED memory has backings
  that several MMs map, which is how shared memory is shared.
- A private backing that no VMA can write is shared by fork instead of copied (text,
  rodata) and frozen: its content never changes again. An MM that wants to map a frozen
  backing writable, or zero part of it, first takes its own copy (`_own`). So a
  writable private VMA's backing always belongs to this MM alone.
- Threads and vfork children share one MM and so its Unicorn instance `uc`, whose
  `loaded_task` is the task whose registers it holds. While two of its threads run at
  once on two CPUs (pykern.smp), the second runs in a secondary instance (`extra`) that
  maps the same host pages: every mapping change is made in all of them (`_all_uc`),
  after the CPUs running in them have stopped.
- Translated code: Unicorn drops it when memory is unmapped, and sees guest writes, but
  not host-side changes (a fork's copy, madvise) under a mapping that stays: those call
  `_forget_code`. Nor does it see a write through another mapping of the same memory:
  where one VMA can write what another executes, the pages are guarded (`aliases`,
  pykern.codealias) and Unicorn's protection there is the VMA's less write or exec.
"""

from __future__ import annotations

import bisect
import collections
import ctypes
import functools
import os
import stat
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from pykern.abi import (
    EACCES,
    EEXIST,
    EFAULT,
    EINVAL,
    ENAMETOOLONG,
    ENOMEM,
    MAP_32BIT,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    page_up,
)
from pykern.codealias import CodeAliases
from pykern.errors import Fault, SysError
from pykern.hostmem import Backing, disable_transparent_hugepages
from pykern.rusage import faultable, forked, release_pages
from pykern.uc_const import UC_ARCH_X86, UC_MODE_64, UC_PROT_EXEC, UC_X86_REG_CR4
from pykern.ucbind import Uc, UcError

if TYPE_CHECKING:
    from pykern.smp import Smp
    from pykern.task import Task

STACK_TOP = TASK_SIZE
STACK_SIZE = 8 << 20  # RLIMIT_STACK's default
MMAP_BASE = STACK_TOP - STACK_SIZE - (128 << 20)  # Linux leaves a gap below the stack
MMAP_MIN_ADDR = 0x10000  # vm.mmap_min_addr
MAP_32BIT_START, MAP_32BIT_END = 0x40000000, 0x80000000  # where MAP_32BIT mappings go
HEAP_RESERVE = 1 << 30  # host address space reserved for brk; committed only when touched


class ImageLayout(NamedTuple):
    """What execve laid out, as /proc shows it (Linux's mm->start_code ... env_end and
    mm->saved_auxv): set by exec, inherited by fork."""

    start_code: int
    end_code: int
    start_data: int
    end_data: int
    start_stack: int
    arg_start: int
    arg_end: int
    env_start: int
    env_end: int
    auxv: bytes


def uc_prot(prot: int) -> int:
    """x86 page tables cannot express write-only or exec-only: both imply read."""
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC
    if prot & (PROT_WRITE | PROT_EXEC):
        prot |= PROT_READ
    return prot


class MemPolicy(NamedTuple):
    """A NUMA memory policy (set_mempolicy, mbind; syscalls/mempolicy.py): the mode
    (MPOL_*), its mode flags (MPOL_F_STATIC_NODES ...), the nodes it uses and the nodes
    the caller named (kept for get_mempolicy when a mode flag asks for them)."""

    mode: int
    flags: int
    nodes: int
    user_nodes: int


class VMA:
    __slots__ = ("start", "end", "prot", "flags", "backing", "offset", "name", "file_offset", "policy")

    def __init__(self, start: int, end: int, prot: int, flags: int, backing: Backing, offset: int,
                 name: str = "", file_offset: int = 0, policy: MemPolicy | None = None) -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.flags = flags  # MAP_SHARED or MAP_PRIVATE, | MAP_ANONYMOUS
        self.backing = backing
        self.offset = offset  # guest `start` is backing.ptr + offset
        self.name = name  # "[heap]", "[stack]" or the mapped file's path
        self.file_offset = file_offset
        self.policy = policy  # mbind(2); None: the task's policy applies

    def __repr__(self) -> str:  # (test_mm's assertion messages)
        return (f"VMA({self.start:#x}-{self.end:#x}, prot={self.prot}, flags={self.flags:#x}, "
                f"offset={self.offset:#x}, name={self.name!r}, file_offset={self.file_offset:#x})")

    @property
    def shared(self) -> bool:
        return bool(self.flags & MAP_SHARED)

    def piece(self, start: int, end: int) -> VMA:
        delta = start - self.start
        return VMA(start, end, self.prot, self.flags, self.backing, self.offset + delta, self.name,
                   self.file_offset + delta, self.policy)


CR4_OSFXSR = 1 << 9  # FXSAVE/FXRSTOR include the SSE registers
CR4_OSXMMEXCPT = 1 << 10  # SSE exceptions are #XM (masked by MXCSR_DEFAULT anyway)


def new_unicorn() -> Uc:
    """A CPU as Linux sets one up for user code. Unicorn leaves CR4.OSFXSR clear, and then
    fxsave/fxrstor skip the XMM registers: ld.so's lazy-binding trampoline saves the
    caller's float arguments with them, so every first call to a libc function taking a
    double (printf("%f")) would get garbage."""
    disable_transparent_hugepages()  # before QEMU allocates its code buffer
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.reg_write(UC_X86_REG_CR4, uc.reg_read(UC_X86_REG_CR4) | CR4_OSFXSR | CR4_OSXMMEXCPT)
    return uc


class MMPool:
    """Address spaces whose processes are gone, kept with their Unicorn instance, hooks,
    mappings and translated code for the next fork (or, emptied, the next exec).

    A new instance costs about 1 ms (QEMU's machine set-up on first use, the TCG prologue,
    three hooks) and closing one 0.1 ms; unmapping costs per page (Unicorn flushes its TLB
    page by page: 16 ms for 1 GiB) and a new child translates again all the code it runs.
    A fork into a recycled instance keeps the old mappings that match the parent's (its
    private backings take the new copies), and keeps the code translated from frozen
    backings (hostmem.Backing.frozen), whose bytes cannot have changed.

    Kept: only instances that never ran a counted slice (Unicorn's count hook slows the
    JIT, and removing it flushes all code); each may throw its translated code away a
    bounded number of times (`max_code_drops`: an exec, a fork whose code differs), as QEMU
    never reclaims the code buffer space of dropped translations, and a full buffer's
    flush touches all of it (1 GiB by default). Replacing instances costs host memory too
    (freed instances fragment the heap), so a warm fork reuse, which keeps the code, is
    not counted. A recycled instance whose old mappings would cost more to unmap than a
    new instance costs is closed."""

    def __init__(self, limit: int = 4, max_code_drops: int = 64, max_unmap: int = 32 << 20,
                 max_idle_resident: int = 32 << 20, max_scan: int = 64 << 30) -> None:
        self.free: list[MM] = []
        self.limit = limit
        self.max_code_drops = max_code_drops
        self.max_unmap = max_unmap  # bytes of old mappings worth unmapping rather than closing
        self.max_idle_resident = max_idle_resident  # private memory a pooled MM may hold on to
        # private mappings whose resident pages are worth scanning to pool an MM (the host
        # tells residency page by page: about 0.2 s per TiB)
        self.max_scan = max_scan
        self.page_cache = PageCache()  # (MMPool is the kernel's one place for address-space-wide state)
        self.code_aliases = CodeAliases()

    def take(self, empty: bool = True, keep_code: bool = False) -> MM | None:
        """A recycled MM, emptied of its old mappings unless `empty` is False (fork).
        `keep_code` (exec): its old mappings of frozen backings stay until the new image
        is built, and those the new image maps again at the same place keep their
        translated code (MM.keep_stale_code); the caller ends with MM.drop_stale."""
        while self.free:
            mm = self.free.pop()
            if not empty:
                return mm
            if sum(vma.end - vma.start for vma in mm._stale if uc_prot(vma.prot)) <= self.max_unmap:
                if keep_code:
                    mm._stale = [vma for vma in mm._stale if uc_prot(vma.prot)]
                    mm._reuse = {MM._mapping_key(vma): vma for vma in mm._stale if vma.backing.frozen}
                else:
                    mm._drop_stale()
                return mm
            mm._close()
        return None

    def keeps(self, mm: MM) -> bool:
        return (len(self.free) < self.limit and not mm.counted and mm.code_drops < self.max_code_drops
                and not mm.aliases_ever)  # (its mappings' protections were not all the VMAs')


class PageCache:
    """The pages of files mapped private and read-only (program text, rodata, ld.so's first
    look at a library), shared by every address space that maps the same bytes, as Linux's
    page cache is: one frozen Backing per (file version, offset, length). A process that
    makes such pages writable takes its own copy first (MM._own), as for any frozen backing.

    A file version is its host (device, inode, size, mtime, ctime). Only a file whose
    mtime and ctime are `settle_ns` old is cached: the host's file times are coarse (a
    clock tick), and a file rewritten twice within one tick would keep its times; once
    they are old, any later change gives new ones. A cached backing lives while a VMA or
    a pooled address space maps it, and the `keep` most recent ones a while longer, so
    that a program run again and again (a shell loop) finds its libraries still there."""

    def __init__(self, keep: int = 32, settle_ns: int = 2_000_000_000) -> None:
        self._live: weakref.WeakValueDictionary[tuple[int, ...], Backing] = weakref.WeakValueDictionary()
        self._recent: collections.deque[Backing] = collections.deque(maxlen=keep)
        self.settle_ns = settle_ns
        # whole files that execve read (its ELF parse wants all of them), by version
        self._files: collections.OrderedDict[tuple[int, ...], bytes] = collections.OrderedDict()
        self.keep_files = 8
        self.keep_file_bytes = 64 << 20

    def file_version(self, host_fd: int) -> tuple[int, ...] | None:
        """The host file's version (device, inode, size, mtime, ctime), the start of the
        keys of its pages; None if it is not a regular file or changed too recently to
        be cached."""
        try:
            st = os.fstat(host_fd)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < self.settle_ns:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def file_data(self, version: tuple[int, ...]) -> bytes | None:
        """The bytes of a file version that execve read before, if still kept."""
        data = self._files.get(version)
        if data is not None:
            self._files.move_to_end(version)
        return data

    def add_file_data(self, version: tuple[int, ...], data: bytes) -> None:
        """Keep the bytes of the `keep_files` most recent versions, at most `keep_file_bytes` in all."""
        if len(data) > self.keep_file_bytes:
            return
        self._files[version] = data
        while len(self._files) > self.keep_files or sum(map(len, self._files.values())) > self.keep_file_bytes:
            self._files.popitem(last=False)

    def clear(self) -> None:
        """Forget what is kept only for later runs (a kernel shutting down)."""
        self._recent.clear()
        self._files.clear()

    def get(self, key: tuple[int, ...]) -> Backing | None:
        backing = self._live.get(key)
        if backing is not None:
            self._recent.append(backing)
        return backing

    def add(self, key: tuple[int, ...], backing: Backing) -> None:
        backing.frozen = True
        self._live[key] = backing
        self._recent.append(backing)


class UserAccess:
    """Typed guest reads and writes, built on a class's copy_in/copy_out."""

    def copy_in(self, addr: int, size: int) -> bytes:
        raise NotImplementedError

    def copy_out(self, addr: int, data: bytes) -> None:
        raise NotImplementedError

    def copy_in_u32(self, addr: int) -> int:
        return int.from_bytes(self.copy_in(addr, 4), "little")

    def copy_in_i32(self, addr: int) -> int:
        return int.from_bytes(self.copy_in(addr, 4), "little", signed=True)

    def copy_in_u64(self, addr: int) -> int:
        return int.from_bytes(self.copy_in(addr, 8), "little")

    def copy_out_u32(self, addr: int, value: int) -> None:
        self.copy_out(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def copy_out_i32(self, addr: int, value: int) -> None:
        self.copy_out(addr, value.to_bytes(4, "little", signed=True))

    def copy_out_u64(self, addr: int, value: int) -> None:
        self.copy_out(addr, (value & (1 << 64) - 1).to_bytes(8, "little"))

    def copy_out_i64(self, addr: int, value: int) -> None:
        self.copy_out(addr, value.to_bytes(8, "little", signed=True))


def _settles_aliases(method):
    """A mapping operation: if it changed shared mappings, the pages one mapping writes
    and another executes are guarded again (pykern.codealias) before the guest runs on."""
    @functools.wraps(method)
    def operation(self: MM, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        finally:
            if self.aliases_dirty:
                self.aliases.refresh(self)
    return operation


class MM(UserAccess):
    def __init__(self, hooks: Callable[[Uc, MM], None],
                 uc_factory: Callable[[], Uc] = new_unicorn, pool: MMPool | None = None,
                 smp: Smp | None = None) -> None:
        """`uc_factory` makes the CPU; tests pass a recorder to check VMA logic alone.
        `pool`: where this MM goes when destroyed, and where its forks come from.
        `smp`: the CPUs, when there are several (pykern.smp)."""
        self.smp = smp if smp is not None and smp.multi else None
        self.uc = self._instance(uc_factory())
        self.extra: list[Uc] = []  # secondary instances (instance_for), while threads run at once
        self._uc_factory = uc_factory
        self.pool = pool
        self.code_drops = 0  # times a recycled instance dropped translated code (MMPool)
        self._stale: list[VMA] = []  # pooled: a dead process's VMAs, still mapped in `uc`
        # exec into a recycled MM (MMPool.take(keep_code=True)): the stale mappings of
        # frozen backings, by mapping key, that a new mapping may take over with their code
        self._reuse: dict[tuple[int, int, int, int], VMA] = {}
        self.vmas: list[VMA] = []  # this class's mapping methods (mmap, munmap, mprotect, brk, fork)
        self._starts: list[int] = []
        self.start_brk = 0  # init_brk (exec), fork
        self.brk = 0  # set_brk (brk(2)), init_brk, fork
        self.heap: Backing | None = None  # init_brk, fork
        self.exe_path = ""  # exec.py, fork
        self.layout: ImageLayout | None = None  # exec.py, fork
        self.counted = False  # trap.py: has run a counted slice, Unicorn's count hook is installed
        # live tasks using it (Linux's mm_users): fork.py, exec.py, kernel.py add; exit.py's
        # retire_mm takes away and frees it at 0
        self.users = 0
        self.dumpable = 1  # prctl(PR_SET_DUMPABLE), set*id; copied by fork, 1 again after exec
        # code written through one mapping and run through another (pykern.codealias; one
        # for all address spaces, held by the pool): its guards are made again after a
        # change of shared mappings (aliases_dirty, _settles_aliases); an MM that had
        # guarded pages is not pooled (aliases_ever: its Unicorn protections were not the VMAs')
        self.aliases = pool.code_aliases if pool is not None else CodeAliases()
        self.aliases_dirty = False
        self.aliases_ever = False
        # mlock(2): locked page ranges, sorted and disjoint (syscalls/memory.py keeps them;
        # locked_bytes() is /proc/PID/status's VmLck); mlockall(MCL_FUTURE) locks new maps.
        self.mlocked: list[tuple[int, int]] = []
        self.lock_future = False
        self._reset_usage()
        self._hooks = hooks
        hooks(self.uc, self)

    def _instance(self, uc: Uc) -> Uc:
        """What pykern keeps on each of its Unicorn instances."""
        uc.mm = self  # type: ignore[attr-defined]  # (pykern.smp: which address space a CPU runs)
        uc.cpu = None  # type: ignore[attr-defined]  # the CPU that has it bound (pykern.sched)
        uc.loaded_task = None  # type: ignore[attr-defined]  # Task.load_context: whose registers it holds
        uc.fault = None  # type: ignore[attr-defined]  # trap.py: (access, address, size) of a bad access
        uc.interrupt = None  # type: ignore[attr-defined]  # trap.py: the last CPU interrupt number
        if self.smp is not None:  # lock-prefixed instructions as host atomics (tools/build_unicorn.py)
            uc.set_parallel(True)
        return uc

    @property
    def loaded_task(self) -> Task | None:
        """The task whose registers the primary instance holds."""
        return self.uc.loaded_task  # type: ignore[attr-defined]

    def smp_safe(self) -> bool:
        """May two of its threads run at once, each in its own instance? Only while no
        executable mapping is writable or shared: each instance drops the code it
        translated when a page is written through itself, not through another."""
        if self._safe_generation != self.map_generation:
            self._safe = not any(vma.prot & PROT_EXEC and (vma.prot & PROT_WRITE or vma.shared) for vma in self.vmas)
            self._safe_generation = self.map_generation
        return self._safe

    def has_room(self) -> bool:
        """May a CPU run one more of its threads now? Yes if none runs, else if smp_safe."""
        return not self.bound_elsewhere(None) or self.smp_safe()

    def bound_elsewhere(self, uc: Uc | None) -> bool:
        """Does a CPU have another of its instances than `uc` (None: any) bound?"""
        return any(other.cpu is not None for other in (self.uc, *self.extra) if other is not uc)  # type: ignore[attr-defined]

    def must_yield(self, uc: Uc) -> bool:
        """Must the CPU running in `uc` stop: its address space stopped being smp_safe
        while another CPU runs in another instance of it?"""
        return bool(self.extra) and not self.smp_safe() and self.bound_elsewhere(uc)

    def instance_for(self, task: Task) -> Uc | None:
        """An instance no CPU has bound, for a CPU to run `task` in: the one holding
        its registers, the primary, a secondary, or a new secondary. None if its threads
        may not run at once (smp_safe) and another CPU runs one."""
        if not self.smp_safe():
            # Its code may change under a store now: only the primary may run it (each
            # instance sees only its own stores), and the secondaries' translations
            # would be stale by the time it is safe again. They go, once none is bound.
            if self.bound_elsewhere(None):
                return None
            self._close_extra()
            return self.uc
        loaded = task.loaded_in
        if loaded is not None and loaded.mm is self and loaded.cpu is None:  # type: ignore[attr-defined]
            return loaded
        for uc in (self.uc, *self.extra):
            if uc.cpu is None:  # type: ignore[attr-defined]
                return uc
        uc = self._instance(self._uc_factory())
        self._hooks(uc, self)
        uc.map_batch(True)
        try:
            for vma in self.vmas:
                self._map_in(uc, vma)
        finally:
            uc.map_batch(False)
        self.extra.append(uc)
        return uc

    def _all_uc(self) -> list[Uc]:
        """Every instance of this address space, none running guest code now: a mapping
        change or a copy of its memory must not race a CPU that runs in one."""
        if self.smp is not None:
            self.smp.stop_others(self)
            if self.extra:
                return [self.uc, *self.extra]
        return [self.uc]

    # --- VMA bookkeeping ----------------------------------------------------------------

    def find_vma(self, addr: int) -> VMA | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def overlapping(self, start: int, end: int) -> list[VMA]:
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        found = []
        while i < len(self.vmas) and self.vmas[i].start < end:
            if self.vmas[i].end > start:
                found.append(self.vmas[i])
            i += 1
        return found

    def _insert(self, vma: VMA) -> None:
        self.map_generation += 1
        if vma.flags & MAP_SHARED:
            self.aliases_dirty = True
        if vma.prot & PROT_WRITE and not vma.flags & MAP_SHARED and vma.backing.frozen:
            vma.backing = self._own(vma.backing)
        self._uc_map(vma)
        i = bisect.bisect_left(self._starts, vma.start)
        # Merge with the neighbour below when it continues the same backing (brk growth).
        if i > 0:
            below = self.vmas[i - 1]
            if (below.end == vma.start and below.backing is vma.backing and below.prot == vma.prot
                    and below.flags == vma.flags and below.offset + (below.end - below.start) == vma.offset
                    and below.name == vma.name and below.policy == vma.policy):
                below.end = vma.end
                return
        self.vmas.insert(i, vma)
        self._starts.insert(i, vma.start)

    def _remove(self, vma: VMA) -> None:
        self.map_generation += 1
        if vma.flags & MAP_SHARED:
            self.aliases_dirty = True
        i = self.vmas.index(vma)
        del self.vmas[i]
        del self._starts[i]

    @_settles_aliases
    def unmap_range(self, start: int, end: int, moving: bool = False) -> list[VMA]:
        """Remove [start, end) from the address space; return the removed pieces (their
        resident pages were faults, pykern.rusage, unless `moving` maps them elsewhere)."""
        removed = []
        vmas = self.overlapping(start, end)
        if vmas and not moving:
            release_pages(self, [vma.piece(max(start, vma.start), min(end, vma.end)) for vma in vmas])
        for vma in vmas:
            lo, hi = max(start, vma.start), min(end, vma.end)
            if uc_prot(vma.prot):
                for uc in self._all_uc():
                    uc.mem_unmap(lo, hi - lo)
            self._remove(vma)
            if vma.start < lo:
                self._relink(vma.piece(vma.start, lo))
            if hi < vma.end:
                self._relink(vma.piece(hi, vma.end))
            removed.append(vma.piece(lo, hi))
        return removed

    def _uc_map(self, vma: VMA) -> None:
        """Map `vma` in Unicorn, unless it has no access (see the module's invariants)."""
        if self._stale and self._take_stale(vma):
            return
        if uc_prot(vma.prot):
            for uc in self._all_uc():
                self._map_in(uc, vma)

    @staticmethod
    def _map_in(uc: Uc, vma: VMA) -> None:
        """Map `vma` in one Unicorn instance, unless it has no access."""
        prot = uc_prot(vma.prot)
        if prot:
            uc.mem_map_ptr(vma.start, vma.end - vma.start, prot, vma.backing.ptr + vma.offset)

    def _take_stale(self, vma: VMA) -> bool:
        """While an exec builds in a recycled MM: if a stale mapping is exactly `vma`'s
        (same place, protection, frozen host pages), it becomes `vma`'s, with the code
        QEMU translated from it, which cannot be stale: frozen bytes never change.
        Otherwise the stale mappings in its way are unmapped first. True if taken."""
        key = self._mapping_key(vma)
        stale = self._reuse.pop(key, None) if uc_prot(vma.prot) and vma.backing.frozen else None
        if stale is not None and stale.backing is vma.backing:
            self._stale.remove(stale)
            return True
        for old in [v for v in self._stale if v.start < vma.end and vma.start < v.end]:
            self._stale.remove(old)
            self._reuse.pop(self._mapping_key(old), None)
            self.uc.mem_unmap(old.start, old.end - old.start)
        return False

    def drop_stale(self) -> None:
        """The end of an exec into a recycled MM: the stale mappings it did not take over
        go (see MMPool.take)."""
        self._reuse = {}
        self._drop_stale()

    def _uc_unmap(self, vma: VMA) -> None:
        if uc_prot(vma.prot):
            for uc in self._all_uc():
                uc.mem_unmap(vma.start, vma.end - vma.start)

    def _forget_code(self, start: int, end: int) -> None:
        """Drop QEMU's translations of the executable guest pages in [start, end), which
        stay mapped. Per Unicorn region: the removal looks up the first page and assumes
        the RAM offsets after it are contiguous, true only within one region."""
        for uc in self._all_uc():
            for begin, last, perms in list(uc.mem_regions()):
                if perms & UC_PROT_EXEC and begin < end and last >= start:
                    uc.ctl_remove_cache(max(begin, start), min(last + 1, end))

    def _relink(self, vma: VMA) -> None:
        """Put back a VMA piece whose pages are still mapped in Unicorn."""
        self.map_generation += 1
        if vma.flags & MAP_SHARED:
            self.aliases_dirty = True
        i = bisect.bisect_left(self._starts, vma.start)
        self.vmas.insert(i, vma)
        self._starts.insert(i, vma.start)

    def is_free(self, start: int, end: int) -> bool:
        return not self.overlapping(start, end)

    def get_unmapped_area(self, length: int, hint: int = 0) -> int:
        """Linux's top-down allocator: the hint if it is free, else the highest gap below
        MMAP_BASE that fits."""
        if hint:
            hint = page_up(hint)
            if MMAP_MIN_ADDR <= hint and hint + length <= TASK_SIZE and self.is_free(hint, hint + length):
                return hint
        top = MMAP_BASE
        for vma in reversed(self.vmas):
            if vma.start >= top:
                continue
            if vma.end <= top - length:
                return top - length
            top = vma.start
        if top - length >= MMAP_MIN_ADDR:
            return top - length
        raise SysError(ENOMEM)

    # --- mapping operations (the syscalls call these) ----------------------------------

    @_settles_aliases
    def map_anonymous(self, start: int, length: int, prot: int, flags: int, name: str = "") -> VMA:
        backing = Backing(length, label=name or "anon")
        vma = VMA(start, start + length, prot, flags | MAP_ANONYMOUS, backing, 0, name)
        self.unmap_range(start, start + length)
        self._insert(vma)
        return vma

    @_settles_aliases
    def map_backing(self, start: int, length: int, prot: int, flags: int, backing: Backing, offset: int,
                    name: str = "", file_offset: int = 0) -> VMA:
        vma = VMA(start, start + length, prot, flags, backing, offset, name, file_offset)
        self.unmap_range(start, start + length)
        self._insert(vma)
        return vma

    def choose_address(self, addr: int, length: int, flags: int) -> int:
        """do_mmap's placement rules: MAP_FIXED, MAP_FIXED_NOREPLACE, hint, or search."""
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr % PAGE_SIZE:
                raise SysError(EINVAL)
            if addr + length > TASK_SIZE or addr < MMAP_MIN_ADDR:
                raise SysError(ENOMEM if addr + length > TASK_SIZE else EINVAL if flags & MAP_FIXED else ENOMEM)
            if flags & MAP_FIXED_NOREPLACE and not self.is_free(addr, addr + length):
                raise SysError(EEXIST)
            return addr
        if flags & MAP_32BIT:
            return self.get_unmapped_area_32bit(length, addr)
        return self.get_unmapped_area(length, addr)

    def get_unmapped_area_32bit(self, length: int, hint: int = 0) -> int:
        """MAP_32BIT (x86-64's find_start_end): the lowest gap between 1 GiB and 2 GiB, so
        the mapping's addresses fit in 31 bits; a free hint below 2 GiB is taken as is."""
        if hint:
            hint = page_up(hint)
            if MMAP_MIN_ADDR <= hint and hint + length <= MAP_32BIT_END and self.is_free(hint, hint + length):
                return hint
        bottom = MAP_32BIT_START
        for vma in self.vmas:
            if vma.end <= bottom:
                continue
            if vma.start >= bottom + length:
                break
            bottom = vma.end
        if bottom + length <= MAP_32BIT_END:
            return bottom
        raise SysError(ENOMEM)

    @_settles_aliases
    def protect(self, start: int, end: int, prot: int) -> None:
        """mprotect: every page in range must be mapped (else ENOMEM)."""
        covered = start
        vmas = self.overlapping(start, end)
        for vma in vmas:
            if vma.start > covered:
                raise SysError(ENOMEM)
            covered = vma.end
        if covered < end:
            raise SysError(ENOMEM)
        if prot & (PROT_WRITE | PROT_EXEC) and any(vma.name == "[vvar]" for vma in vmas):
            raise SysError(EACCES)  # the vDSO's data page has neither VM_MAYWRITE nor VM_MAYEXEC
        if not prot & PROT_EXEC and any(vma.prot & PROT_EXEC for vma in vmas):
            self._forget_code(start, end)
        new = uc_prot(prot)
        for vma in vmas:
            lo, hi = max(start, vma.start), min(end, vma.end)
            self._remove(vma)
            for piece in (vma.piece(vma.start, lo), vma.piece(hi, vma.end)):
                if piece.end > piece.start:
                    self._relink(piece)
            middle = vma.piece(lo, hi)
            old = uc_prot(middle.prot)
            middle.prot = prot
            self._relink(middle)
            if old and new:
                if old != new:
                    for uc in self._all_uc():
                        uc.mem_protect(lo, hi - lo, new)
            elif old:
                for uc in self._all_uc():
                    uc.mem_unmap(lo, hi - lo)
            elif new:
                self._uc_map(middle)
        if prot & PROT_WRITE:
            for vma in self.overlapping(start, end):  # the new pieces: _own repoints them
                if not vma.shared and vma.backing.frozen:
                    self._own(vma.backing)

    @_settles_aliases
    def set_policy(self, start: int, end: int, policy: MemPolicy | None) -> None:
        """mbind's mbind_range: the VMAs of [start, end), split at its ends, take `policy`.
        EFAULT if a page in the range is not mapped (nothing changes then)."""
        covered = start
        vmas = self.overlapping(start, end)
        for vma in vmas:
            if vma.start > covered:
                raise SysError(EFAULT)
            covered = vma.end
        if covered < end:
            raise SysError(EFAULT)
        for vma in vmas:
            lo, hi = max(start, vma.start), min(end, vma.end)
            self._remove(vma)
            for piece in (vma.piece(vma.start, lo), vma.piece(hi, vma.end)):
                if piece.end > piece.start:
                    self._relink(piece)
            middle = vma.piece(lo, hi)
            middle.policy = policy
            self._relink(middle)

    @_settles_aliases
    def remap(self, old_addr: int, old_size: int, new_size: int, flags: int, new_addr: int) -> int:
        """mremap(2). Moving re-maps the same host pages at the new address: no copy."""
        if old_addr % PAGE_SIZE or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
            raise SysError(EINVAL)
        if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and not flags & MREMAP_MAYMOVE:
            raise SysError(EINVAL)
        if flags & MREMAP_DONTUNMAP and page_up(old_size) != page_up(new_size):
            raise SysError(EINVAL)
        old_size, new_size = page_up(old_size), page_up(new_size)
        if new_size == 0:
            raise SysError(EINVAL)
        vma = self.find_vma(old_addr)
        if vma is None or old_addr + max(old_size, 1) > vma.end:
            raise SysError(EFAULT)
        if flags & MREMAP_FIXED:
            if new_addr % PAGE_SIZE or new_addr + new_size > TASK_SIZE:
                raise SysError(EINVAL)
            if new_addr < old_addr + old_size and old_addr < new_addr + new_size:
                raise SysError(EINVAL)
            if old_size == 0:
                return self._duplicate(vma, old_addr, new_size, flags, new_addr)
            return self._move(vma, old_addr, old_size, new_size, new_addr, flags)
        if flags & MREMAP_DONTUNMAP:
            return self._move(vma, old_addr, old_size, new_size, self.get_unmapped_area(new_size), flags)
        if old_size == 0:
            return self._duplicate(vma, old_addr, new_size, flags)
        if new_size <= old_size:
            if new_size < old_size:
                self.release_range(old_addr + new_size, old_addr + old_size)
            return old_addr
        # Grow: in place if the pages above are free, else move if allowed.
        grow_start, grow_end = old_addr + old_size, old_addr + new_size
        if old_addr + old_size == vma.end and grow_end <= TASK_SIZE and self.is_free(grow_start, grow_end):
            self._extend(vma, grow_end)
            return old_addr
        if not flags & MREMAP_MAYMOVE:
            raise SysError(ENOMEM)
        return self._move(vma, old_addr, old_size, new_size, self.get_unmapped_area(new_size), flags)

    def _duplicate(self, vma: VMA, old_addr: int, new_size: int, flags: int, new_addr: int | None = None) -> int:
        """mremap with old_size 0: a second mapping of the same shared pages (an old way
        to map memory twice). Private memory has no pages to share: EINVAL. (Linux maps
        beyond the memory object too, where an access is SIGBUS; pykern refuses, EFAULT.)"""
        if not vma.shared:
            raise SysError(EINVAL)
        if not flags & MREMAP_MAYMOVE:
            raise SysError(ENOMEM)
        delta = old_addr - vma.start
        if vma.offset + delta + new_size > vma.backing.size:
            raise SysError(EFAULT)
        if new_addr is None:
            new_addr = self.get_unmapped_area(new_size)
        else:  # MREMAP_FIXED
            self.unmap_range(new_addr, new_addr + new_size)
        self._insert(VMA(new_addr, new_addr + new_size, vma.prot, vma.flags, vma.backing, vma.offset + delta,
                         vma.name, vma.file_offset + delta, vma.policy))
        return new_addr

    def _extend(self, vma: VMA, new_end: int) -> None:
        """Grow `vma` to `new_end`: continue its backing if it has room, else add one."""
        length = new_end - vma.end
        offset = vma.offset + (vma.end - vma.start)
        if offset + length <= vma.backing.size:
            self._insert(VMA(vma.end, new_end, vma.prot, vma.flags, vma.backing, offset, vma.name,
                             vma.file_offset + (vma.end - vma.start), vma.policy))
        else:
            self.map_anonymous(vma.end, length, vma.prot, vma.flags & ~MAP_ANONYMOUS, vma.name)

    def _move(self, vma: VMA, old_addr: int, old_size: int, new_size: int, new_addr: int, flags: int) -> int:
        pieces = self.overlapping(old_addr, old_addr + old_size)
        if not pieces or pieces[0].start > old_addr:
            raise SysError(EFAULT)
        if new_size < old_size:  # the tail beyond new_size goes away, as Linux does first
            self.release_range(old_addr + new_size, old_addr + old_size)
            old_size = new_size
        moved = self.unmap_range(old_addr, old_addr + old_size, moving=True)
        self.unmap_range(new_addr, new_addr + new_size)
        for piece in moved:
            self._insert(VMA(piece.start - old_addr + new_addr, piece.end - old_addr + new_addr, piece.prot,
                             piece.flags, piece.backing, piece.offset, piece.name, piece.file_offset, piece.policy))
        if new_size > old_size:
            last = moved[-1]
            self.map_anonymous(new_addr + old_size, new_size - old_size, last.prot,
                               last.flags & ~MAP_ANONYMOUS, last.name)
        if flags & MREMAP_DONTUNMAP:  # the old range stays, reading as fresh zero pages
            first = moved[0]
            self.map_anonymous(old_addr, old_size, first.prot, first.flags & ~MAP_ANONYMOUS)
        return new_addr

    def release_range(self, start: int, end: int) -> None:
        """Unmap [start, end) and give private pages back to the host, so a later mapping
        of the same backing range (a regrow in place) reads zeros, as fresh pages do."""
        owned: dict[int, Backing] = {}
        for piece in self.unmap_range(start, end):
            if not piece.shared:
                backing = owned.get(id(piece.backing))
                if backing is None:
                    backing = owned[id(piece.backing)] = self._own(piece.backing)
                backing.zero(piece.offset, piece.end - piece.start)

    def discard(self, start: int, end: int) -> None:
        """madvise(MADV_DONTNEED): private pages read back as zero; shared keep content."""
        private = [vma.piece(max(start, vma.start), min(end, vma.end)) for vma in self.overlapping(start, end)
                   if not vma.shared]
        release_pages(self, private)
        for vma in self.overlapping(start, end):
            if vma.shared:
                continue
            lo, hi = max(start, vma.start), min(end, vma.end)
            if vma.prot & PROT_EXEC:  # the bytes change behind QEMU's back
                self._forget_code(lo, hi)
            self._own(vma.backing).zero(vma.offset + lo - vma.start, hi - lo)

    # --- brk -----------------------------------------------------------------------------

    def set_brk(self, new_brk: int) -> int:
        """brk(2): returns the new break, or the old one if it cannot move."""
        if new_brk < self.start_brk:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new_brk)
        if new_top > old_top:
            if new_top - page_up(self.start_brk) > HEAP_RESERVE or not self.is_free(old_top, new_top):
                return self.brk
            assert self.heap is not None
            offset = old_top - page_up(self.start_brk)
            self._insert(VMA(old_top, new_top, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             self.heap, offset, "[heap]"))
        elif new_top < old_top:
            self.unmap_range(new_top, old_top)
            assert self.heap is not None
            offset = new_top - page_up(self.start_brk)
            self._own(self.heap).zero(offset, old_top - new_top)
        self.brk = new_brk
        return new_brk

    def init_brk(self, start: int) -> None:
        self.start_brk = self.brk = start
        self.heap = Backing(HEAP_RESERVE, label="heap")

    # --- fork ----------------------------------------------------------------------------

    def fork(self) -> MM:
        """dup_mmap: private backings are copied (resident pages only), except those no
        VMA here can write, which are frozen and shared; shared ones are mapped by the same
        host pointer. A recycled child keeps whatever of its old mappings already match."""
        self._all_uc()  # (no thread of it runs on another CPU while its memory is copied)
        pool = self.pool
        child = pool.take(empty=False) if pool is not None else None
        # The dead process's own private backings can take the copies: where the geometry
        # matches, their Unicorn mappings are already right.
        spare = {} if child is None else {
            (v.start, v.end, v.offset, v.backing.size): v.backing for v in child._stale
            if not v.shared and not v.backing.frozen}
        taken: set[int] = set()
        ranges: dict[int, list[tuple[int, int]]] = {}
        writable = {id(vma.backing) for vma in self.vmas if vma.prot & PROT_WRITE and not vma.shared}
        copies: dict[int, Backing] = {}
        copied = copied_faultable = 0  # resident bytes the child gets: not its page faults (rusage)
        counted: set[int] = set()  # copies whose VMAs are faultable (pykern.rusage)
        vmas = []
        for vma in self.vmas:
            backing = vma.backing
            if not vma.shared:
                copy = copies.get(id(backing))
                if copy is None:
                    if id(backing) in writable:
                        copy = spare.get((vma.start, vma.end, vma.offset, backing.size))
                        if copy is None or id(copy) in taken:
                            copy = Backing(backing.size, label=backing.label)
                        else:
                            ranges[id(copy)] = []
                        taken.add(id(copy))
                    else:  # nobody here can write it: share it, frozen
                        copy = backing
                        backing.frozen = True
                    copies[id(backing)] = copy
                if faultable(vma):
                    counted.add(id(copy))
                if id(copy) in ranges:
                    ranges[id(copy)].append((vma.offset, vma.end - vma.start))
                elif copy is not backing:
                    for offset, length in backing.resident_runs(vma.offset, vma.end - vma.start):
                        copy.copy_from(backing, offset, length)
                        copied += length
                        if id(copy) in counted:
                            copied_faultable += length
                backing = copy
            vmas.append(VMA(vma.start, vma.end, vma.prot, vma.flags, backing, vma.offset, vma.name,
                            vma.file_offset, vma.policy))
        for source_id, copy in copies.items():
            if id(copy) in ranges:
                source = next(v.backing for v in self.vmas if id(v.backing) == source_id)
                refilled = copy.refill_from(source, sorted(ranges[id(copy)]))
                copied += refilled
                if id(copy) in counted:
                    copied_faultable += refilled
        wanted = {self._mapping_key(vma) for vma in vmas}
        if child is not None and pool is not None and child._unmap_cost(wanted) > pool.max_unmap:
            child._close()
            child = None
        if child is None:
            child = MM(self._hooks, self._uc_factory, pool, self.smp)
        child._adopt(vmas, wanted)
        child.start_brk, child.brk, child.exe_path = self.start_brk, self.brk, self.exe_path
        child.dumpable = self.dumpable
        child.layout = self.layout
        forked(child, copied, copied_faultable)
        if self.heap is not None:
            child.heap = copies.get(id(self.heap)) or Backing(self.heap.size, label="heap")
        return child

    @staticmethod
    def _mapping_key(vma: VMA) -> tuple[int, int, int, int]:
        return vma.start, vma.end, uc_prot(vma.prot), vma.backing.ptr + vma.offset

    def _unmap_cost(self, wanted: set[tuple[int, int, int, int]]) -> int:
        """Bytes of stale mappings that adopting mappings `wanted` would unmap."""
        return sum(v.end - v.start for v in self._stale if uc_prot(v.prot) and self._mapping_key(v) not in wanted)

    @_settles_aliases
    def _adopt(self, vmas: list[VMA], wanted: set[tuple[int, int, int, int]]) -> None:
        """Make `vmas` (sorted, canonical: a fork's copy of another MM's list; `wanted`
        their mapping keys) this MM's address space, replacing the stale mappings of a
        recycled instance: mappings that already match stay, with their translated code
        if their backing is frozen."""
        self.map_generation += 1
        uc = self.uc
        key = self._mapping_key
        kept = set()
        dropped = False
        for vma in self._stale:
            if not uc_prot(vma.prot):  # never mapped in Unicorn
                continue
            if key(vma) in wanted:
                kept.add(key(vma))
                if vma.prot & PROT_EXEC and not vma.backing.frozen:  # new bytes, same mapping
                    self._forget_code(vma.start, vma.end)
                    dropped = True
                continue
            dropped = dropped or bool(vma.prot & PROT_EXEC)
            uc.mem_unmap(vma.start, vma.end - vma.start)
        self._stale = []
        self.code_drops += dropped
        uc.map_batch(True)  # one commit of Unicorn's memory map for all of them
        try:
            for vma in vmas:
                if key(vma) not in kept:
                    self._uc_map(vma)
        finally:
            uc.map_batch(False)
        self.vmas = vmas
        self._starts = [vma.start for vma in vmas]
        self.aliases_dirty = any(vma.flags & MAP_SHARED for vma in vmas)

    def _own(self, backing: Backing) -> Backing:
        """This MM's own copy of a frozen private backing (a fork shared it read-only):
        copy its resident pages, repoint this MM's VMAs and heap at the copy."""
        if not backing.frozen:
            return backing
        copy = Backing(backing.size, label=backing.label)
        for offset, length in backing.resident_runs(0, backing.size):
            copy.copy_from(backing, offset, length)
        users = [vma for vma in self.vmas if vma.backing is backing]
        for vma in users:
            self._uc_unmap(vma)
            vma.backing = copy
            self._uc_map(vma)
        if self.heap is backing:
            self.heap = copy
        return copy

    # --- user memory access (copy_from_user / copy_to_user) ------------------------------

    def copy_in(self, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        if addr == 0 or addr + size > TASK_SIZE:
            raise Fault(addr)
        vma = self.find_vma(addr)
        if vma is not None and addr + size <= vma.end and vma.prot & (PROT_READ | PROT_WRITE | PROT_EXEC):
            # Within one readable mapping: read its host memory directly (it is the guest's).
            return ctypes.string_at(vma.backing.ptr + vma.offset + (addr - vma.start), size)
        self._check_access(addr, size, PROT_READ, False)
        try:
            return bytes(self.uc.mem_read(addr, size))
        except UcError:
            raise Fault(addr) from None

    def copy_out(self, addr: int, data: bytes) -> None:
        if not data:
            return
        if addr == 0 or addr + len(data) > TASK_SIZE:
            raise Fault(addr, write=True)
        vma = self.find_vma(addr)
        if vma is not None and addr + len(data) <= vma.end and vma.prot & (PROT_WRITE | PROT_EXEC) == PROT_WRITE:
            # Within one writable, non-executable mapping: write its host memory directly.
            # (Through Unicorn when executable: its mem_write drops code translated from it.)
            if vma.flags & MAP_SHARED and self.aliases:  # (code another mapping runs)
                self.aliases.written(self, addr, addr + len(data))
            ctypes.memmove(vma.backing.ptr + vma.offset + (addr - vma.start), data, len(data))
            return
        self._check_access(addr, len(data), PROT_WRITE, True)
        instances = self._all_uc()
        try:
            self.uc.mem_write(addr, data)
        except UcError:
            raise Fault(addr, write=True) from None
        for uc in instances[1:]:  # (the primary's mem_write dropped only its own translations)
            uc.ctl_remove_cache(addr & ~(PAGE_SIZE - 1), page_up(addr + len(data)))

    def _check_access(self, addr: int, size: int, need: int, write: bool) -> None:
        """Fault unless every byte of [addr, addr+size) is mapped with `need` (x86: write
        implies read, so PROT_WRITE or PROT_EXEC pages are readable)."""
        end = addr + size
        vma = self.find_vma(addr)
        while vma is not None:
            if not uc_prot(vma.prot) & need:
                raise Fault(addr, write)
            if end <= vma.end:
                return
            vma = self.find_vma(vma.end)
        raise Fault(addr, write)

    def copy_in_str(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string; ENAMETOOLONG if no NUL within `limit` bytes."""
        out = bytearray()
        while len(out) < limit:
            chunk = min(PAGE_SIZE - (addr % PAGE_SIZE), limit - len(out))
            data = self.copy_in(addr, chunk)
            nul = data.find(0)
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            addr += chunk
        raise SysError(ENAMETOOLONG)

    def destroy(self) -> None:
        """The last task left: give the Unicorn instance to the pool with its mappings, or
        free it. Never from inside its hooks. A pooled MM's private memory is kept for the
        next fork's copy (overwritten in place, no new host page faults) up to the pool's
        budget, and given back to the host beyond it."""
        pool = self.pool
        if self.aliases.views:  # (before its instance goes: the guards of others' views change)
            self.aliases.forget(self)
        if self._stale and self.uc is not None:  # an exec that did not finish its build
            self.drop_stale()
        if pool is None or self.uc is None or not pool.keeps(self):
            self._close()
            return
        private = [v for v in self.vmas if not v.shared and not v.backing.frozen]
        if sum(v.end - v.start for v in private) > pool.max_scan:  # (an ASan shadow: 15 TiB)
            self._close()
            return
        resident = self.private_rss  # the last users left: pykern.rusage has just counted them
        if resident is None:
            resident = 0
            for vma in private:  # (outside its VMAs, a private backing's pages are zeroed)
                resident += vma.backing.resident_size(vma.offset, vma.end - vma.start)
        if resident > pool.max_idle_resident:
            for vma in private:
                vma.backing.zero(vma.offset, vma.end - vma.start)
        self._stale = self.vmas
        self._reset()
        pool.free.append(self)

    def _close(self) -> None:
        self._reset()
        self._stale = []
        if self.uc is not None:
            self.uc.mm = None  # type: ignore[attr-defined]
        self.uc = None  # type: ignore[assignment]  # breaks uc -> hooks -> mm -> uc

    def _close_extra(self) -> None:
        """The secondary instances go (not pooled); a thread whose registers one holds
        keeps them in its saved context."""
        for uc in self.extra:
            task = uc.loaded_task  # type: ignore[attr-defined]
            if task is not None and task.loaded_in is uc:
                task.context = uc.context_save()
                task.loaded_in = None
            uc.mm = uc.loaded_task = None  # type: ignore[attr-defined]
            uc.close()
        self.extra = []

    def _drop_stale(self) -> None:
        """Unmap a recycled instance's old mappings (and so their translated code)."""
        self._reuse = {}
        self.code_drops += any(vma.prot & PROT_EXEC for vma in self._stale)
        for vma in self._stale:
            self._uc_unmap(vma)
        self._stale = []

    def _reset(self) -> None:
        self.vmas = []
        self._starts = []
        self.start_brk = self.brk = 0
        self.heap = None
        if self.uc is not None:
            self.uc.loaded_task = None  # type: ignore[attr-defined]
        self._close_extra()
        self.exe_path = ""
        self.layout = None
        self.dumpable = 1
        self.mlocked = []
        self.lock_future = False
        self._reset_usage()

    def _reset_usage(self) -> None:
        """pykern.rusage's counters of this address space (as Linux's mm counters)."""
        self.rss_base = 0  # resident bytes of faultable VMAs it started with (a fork's copies)
        self.rss_released = 0  # resident bytes of faultable VMAs it has given back
        self.hiwater_rss = 0  # the peak of its resident bytes seen so far
        self.rss_sampled_ns = 0  # when the peak was last sampled (time.monotonic_ns)
        self.private_rss: int | None = None  # resident bytes in private backings when it was retired
        self.map_generation = 0  # changes with every change of the VMA list
        self._safe, self._safe_generation = True, -1  # smp_safe's answer, for map_generation
        # the last sample: (rss, of it in faultable VMAs, in private backings, map_generation,
        # pykern's host faults then)
        self.rss_sample: tuple[int, int, int, int, int] | None = None

    def locked_bytes(self) -> int:
        """VmLck: the bytes of mlock'ed ranges that are mapped."""
        return sum(min(end, vma.end) - max(start, vma.start)
                   for start, end in self.mlocked for vma in self.overlapping(start, end))

    def __repr__(self) -> str:
        return f"<MM {len(self.vmas)} vmas brk={self.brk:#x}>"

