"""Commit accounting and the overcommit policy (Linux's mm/util.c: __vm_enough_memory,
vm_commit_limit; Documentation/mm/overcommit-accounting.rst).

Memory a process could write without asking again is committed: its private writable
mappings (brk, stacks, a private file mapping made writable) and its shared anonymous
ones. Committed_AS in /proc/meminfo is their sum over the guest. The policy is
vm.overcommit_memory, writable in /proc/sys/vm as on Linux:

- 0 (heuristic, the default): only an obviously excessive request fails, one larger
  than the machine's memory;
- 1 (always): nothing fails;
- 2 (never): a request that would take Committed_AS past CommitLimit fails with ENOMEM
  up front — mmap, brk, mremap, an mprotect that makes private memory writable, and
  fork (the child's copy of the private writable memory) — so the OOM killer never has
  to act. MAP_NORESERVE is ignored in this mode, as on Linux.

The machine's memory is --max-memory (the OOM killer's limit; the host's RAM without
one) and there is no swap, so CommitLimit = max_memory * overcommit_ratio / 100, or
overcommit_kbytes when that is set. Root keeps no admin reserve here (pykern's guest
runs as its host user; Linux's admin reserve matters only for other users), and the
user reserve (total_vm / 32, at most 128 MiB) is kept from every process, as Linux does.

Deviations: a stack VMA counts what its Linux counterpart would span (its touched part,
at least 128 KiB: pykern maps the whole RLIMIT_STACK at exec); exec and shmget are not
checked; memory made read-only again stops counting (Linux keeps its VM_ACCOUNT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import EINVAL, ENOMEM, MAP_ANONYMOUS, MAP_NORESERVE, MAP_SHARED, PROT_WRITE
from pykern.errors import SysError
from pykern.oom import host_ram_bytes
from pykern.rusage import vma_resident

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.mm import MM, VMA
    from pykern.task import Task

OVERCOMMIT_GUESS, OVERCOMMIT_ALWAYS, OVERCOMMIT_NEVER = 0, 1, 2
STACK_EXPAND = 128 << 10  # setup_arg_pages' stack_expand: a new stack VMA spans at least this
USER_RESERVE = 128 << 20  # vm.user_reserve_kbytes' most


def accountable(vma: VMA) -> bool:
    """Private writable memory not mapped MAP_NORESERVE, and shared anonymous memory."""
    if vma.flags & MAP_SHARED:
        return bool(vma.flags & MAP_ANONYMOUS) and vma.name != "[vvar]"
    return bool(vma.prot & PROT_WRITE) and not vma.flags & MAP_NORESERVE


def vma_committed(vma: VMA) -> int:
    size = vma.end - vma.start
    if vma.name == "[stack]":
        return min(size, max(STACK_EXPAND, vma_resident(vma)))
    return size


def mm_committed(mm: MM, shared: set[int] | None = None) -> int:
    """Bytes `mm` commits. A shared anonymous backing counts once in `shared`'s scope."""
    total = 0
    for vma in mm.vmas:
        if not accountable(vma):
            continue
        if vma.flags & MAP_SHARED:
            if shared is None or id(vma.backing) in shared:
                continue
            shared.add(id(vma.backing))
            total += vma.backing.size
        else:
            total += vma_committed(vma)
    return total


class Overcommit:
    """vm.overcommit_memory, overcommit_ratio and overcommit_kbytes, and the checks."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.mode = OVERCOMMIT_GUESS
        self.ratio = 50
        self.kbytes = 0

    @property
    def never(self) -> bool:
        return self.mode == OVERCOMMIT_NEVER

    def ram_bytes(self) -> int:
        return self.kernel.options.max_memory or host_ram_bytes()

    def commit_limit(self) -> int:
        """vm_commit_limit (bytes), with no swap and no huge pages."""
        if self.kbytes:
            return self.kbytes * 1024
        return self.ram_bytes() * self.ratio // 100

    def committed(self) -> int:
        """Committed_AS (bytes): every live address space's, shared memory once."""
        shared: set[int] = set()
        seen: set[int] = set()
        total = 0
        for task in self.kernel.live_tasks:
            mm = task.mm
            if mm is None or mm.uc is None or id(mm) in seen:
                continue
            seen.add(id(mm))
            total += mm_committed(mm, shared)
        return total

    def vm_enough_memory(self, mm: MM, length: int, released: int = 0) -> None:
        """ENOMEM unless `length` more bytes may be committed (`released`: what the same
        request gives back, as a MAP_FIXED mapping replaces what it covers)."""
        if length <= 0 or self.mode == OVERCOMMIT_ALWAYS:
            return
        if self.mode == OVERCOMMIT_GUESS:
            if length > self.ram_bytes():
                raise SysError(ENOMEM)
            return
        total_vm = sum(vma.end - vma.start for vma in mm.vmas)
        allowed = self.commit_limit() - min(total_vm // 32, USER_RESERVE)
        if self.committed() - released + length > allowed:
            raise SysError(ENOMEM)

    # --- the requests -------------------------------------------------------------------------

    def check_map(self, task: Task, start: int, length: int, prot: int, flags: int) -> None:
        """mmap: the new mapping's commitment, less that of what it replaces."""
        if flags & MAP_SHARED:
            new = length if flags & MAP_ANONYMOUS else 0
        elif prot & PROT_WRITE and not (flags & MAP_NORESERVE and not self.never):
            new = length
        else:
            return
        self.vm_enough_memory(task.mm, new, self._covered(task.mm, start, start + length))

    def check_grow(self, task: Task, vma: VMA | None, length: int) -> None:
        """brk or mremap growing a mapping (None: the heap) by `length`."""
        if vma is None or (accountable(vma) and not vma.flags & MAP_SHARED):
            self.vm_enough_memory(task.mm, length)

    def check_protect(self, task: Task, start: int, end: int, prot: int) -> None:
        """mprotect: private memory that becomes writable is committed now."""
        if not prot & PROT_WRITE:
            return
        new = 0
        for vma in task.mm.overlapping(start, end):
            if not vma.flags & MAP_SHARED and not vma.prot & PROT_WRITE and not vma.flags & MAP_NORESERVE:
                new += min(end, vma.end) - max(start, vma.start)
        self.vm_enough_memory(task.mm, new)

    def check_fork(self, mm: MM) -> None:
        """dup_mmap: the child commits its copy of the parent's private memory."""
        if self.mode != OVERCOMMIT_NEVER:
            return
        self.vm_enough_memory(mm, mm_committed(mm))

    def _covered(self, mm: MM, start: int, end: int) -> int:
        return sum(min(end, vma.end) - max(start, vma.start) for vma in mm.overlapping(start, end)
                   if accountable(vma) and not vma.flags & MAP_SHARED)

    def map_flags(self, flags: int) -> int:
        """The MAP_NORESERVE a new VMA keeps: none in mode 2 (mmap ignores it there)."""
        return 0 if self.never else flags & MAP_NORESERVE

    # --- /proc/sys/vm ---------------------------------------------------------------------------

    def sysctls(self) -> dict[bytes, tuple]:
        def number(attr: str, low: int, high: int, clears: str | None = None) -> tuple:
            def read() -> bytes:
                return f"{getattr(self, attr)}\n".encode()

            def write(task: Task, data: bytes) -> int:
                try:
                    value = int(data.split()[0]) if data.split() else None
                except ValueError:
                    value = None
                if value is None or not low <= value <= high:
                    raise SysError(EINVAL)
                setattr(self, attr, value)
                if clears is not None:  # ratio and kbytes exclude each other
                    setattr(self, clears, 0)
                return len(data)

            return read, write

        return {
            b"overcommit_memory": number("mode", 0, 2),
            b"overcommit_ratio": number("ratio", 0, (1 << 63) - 1, "kbytes"),
            b"overcommit_kbytes": number("kbytes", 0, (1 << 63) - 1, "ratio"),
        }


__all__ = ["OVERCOMMIT_ALWAYS", "OVERCOMMIT_GUESS", "OVERCOMMIT_NEVER", "Overcommit", "accountable"]
