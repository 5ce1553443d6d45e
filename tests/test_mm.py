"""Unit tests for pykern.mm (the address space) and pykern.hostmem (host backings).

No real Unicorn: `FakeUc` records what MM maps as its own (start, end) -> (perms, host
pointer) regions and reads/writes guest memory through those host pointers with ctypes.
Like Unicorn, it refuses overlapping maps and unmapped accesses (UcError) and its
mem_read/mem_write ignore page protections.

`assert_mirror` checks the central invariant after every operation: the VMA list is
sorted, page-aligned and non-overlapping, and Unicorn's mappings mirror it exactly —
every page of a VMA with some access is mapped with uc_prot(vma.prot) at backing.ptr +
offset + delta, and nothing else is mapped (PROT_NONE VMAs are not).
"""

from __future__ import annotations

import ctypes

import pytest

from pykern import uc_const as X
from pykern.abi import (
    EEXIST,
    EFAULT,
    EINVAL,
    ENAMETOOLONG,
    ENOMEM,
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
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
)
from pykern.errors import Fault, SysError
from pykern.hostmem import Backing
from pykern.mm import HEAP_RESERVE, MM, MMAP_BASE, MMAP_MIN_ADDR, STACK_TOP, VMA, MMPool, uc_prot
from pykern.ucbind import Uc, UcError

P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
A = 0x10000000  # a convenient, free, page-aligned guest address
HOOKS = lambda uc, mm: None  # noqa: E731


class FakeUc:
    """The slice of pykern.ucbind.Uc that MM uses, with Unicorn's error behaviour. Mappings are
    kept as regions, {start: (end, perms, host ptr)}, so a 1 GiB mapping costs nothing."""

    def __init__(self, *_args: object) -> None:
        self.regions: dict[int, tuple[int, int, int]] = {}
        self.cache_flushes: list[tuple[int, int]] = []
        self.calls = 0  # mem_map_ptr/mem_unmap/mem_protect calls

    def lookup(self, addr: int) -> tuple[int, int] | None:
        """(perms, host ptr) of guest `addr`, or None if it is unmapped."""
        for start, (end, perms, ptr) in self.regions.items():
            if start <= addr < end:
                return perms, ptr + addr - start
        return None

    def _cut(self, addr: int, size: int) -> list[int]:
        """Split regions at addr and addr+size; return the starts of those inside, which
        must cover the range exactly (else Unicorn's UC_ERR_NOMEM)."""
        if addr % P or size % P:
            raise UcError(X.UC_ERR_ARG)
        end = addr + size
        covered = sum(
            min(e, end) - max(s, addr) for s, (e, _, _) in self.regions.items() if s < end and e > addr
        )
        if covered != size:
            raise UcError(X.UC_ERR_NOMEM)
        for cut in (addr, end):
            for start, (stop, perms, ptr) in list(self.regions.items()):
                if start < cut < stop:
                    self.regions[start] = (cut, perms, ptr)
                    self.regions[cut] = (stop, perms, ptr + cut - start)
        return [start for start in self.regions if addr <= start < end]

    def mem_map_ptr(self, addr: int, size: int, perms: int, ptr: int) -> None:
        self.calls += 1
        if size == 0 or addr % P or size % P or ptr % P:
            raise UcError(X.UC_ERR_ARG)
        if any(start < addr + size and end > addr for start, (end, _, _) in self.regions.items()):
            raise UcError(X.UC_ERR_MAP)
        self.regions[addr] = (addr + size, perms, ptr)

    def mem_unmap(self, addr: int, size: int) -> None:
        self.calls += 1
        for start in self._cut(addr, size):
            del self.regions[start]

    def mem_protect(self, addr: int, size: int, perms: int) -> None:
        self.calls += 1
        for start in self._cut(addr, size):
            end, _, ptr = self.regions[start]
            self.regions[start] = (end, perms, ptr)

    def ctl_remove_cache(self, start: int, end: int) -> None:
        self.cache_flushes.append((start, end))

    def map_batch(self, begin: bool) -> None:
        pass

    def mem_regions(self):
        for start, (end, perms, _) in sorted(self.regions.items()):
            yield start, end - 1, perms

    def mapping(self) -> list[tuple[int, int, int, int]]:
        return coalesce((start, end, perms, ptr) for start, (end, perms, ptr) in self.regions.items())

    def _host(self, addr: int, size: int, err: int) -> list[tuple[int, int]]:
        """(host ptr, length) pieces for guest [addr, addr+size); UcError(err) if unmapped."""
        pieces = []
        while size:
            found = self.lookup(addr)
            if found is None:
                raise UcError(err)
            n = min(size, P - addr % P)
            pieces.append((found[1], n))
            addr, size = addr + n, size - n
        return pieces

    def mem_read(self, addr: int, size: int) -> bytearray:
        pieces = self._host(addr, size, X.UC_ERR_READ_UNMAPPED)
        return bytearray(b"".join(ctypes.string_at(ptr, n) for ptr, n in pieces))

    def mem_write(self, addr: int, data: bytes) -> None:
        pieces = self._host(addr, len(data), X.UC_ERR_WRITE_UNMAPPED)
        done = 0
        for ptr, n in pieces:
            ctypes.memmove(ptr, bytes(data[done : done + n]), n)
            done += n


def coalesce(regions) -> list[tuple[int, int, int, int]]:
    """Sorted (start, end, perms, host ptr) with neighbours that continue each other merged."""
    out: list[tuple[int, int, int, int]] = []
    for start, end, perms, ptr in sorted(regions):
        if out and out[-1][1] == start and out[-1][2] == perms and out[-1][3] + start - out[-1][0] == ptr:
            out[-1] = (out[-1][0], end, perms, out[-1][3])
        else:
            out.append((start, end, perms, ptr))
    return out


@pytest.fixture
def mm() -> MM:
    space = MM(HOOKS, FakeUc)
    assert isinstance(space.uc, FakeUc)
    assert_mirror(space)
    return space


def assert_mirror(mm: MM) -> None:
    expected = []
    prev_end = 0
    for vma in mm.vmas:
        assert vma.start % P == 0 and vma.end % P == 0 and vma.offset % P == 0, vma
        assert prev_end <= vma.start < vma.end <= TASK_SIZE, vma
        assert vma.offset + vma.end - vma.start <= vma.backing.size, vma
        prev_end = vma.end
        if uc_prot(vma.prot):  # PROT_NONE VMAs are not mapped in Unicorn
            expected.append((vma.start, vma.end, uc_prot(vma.prot), vma.backing.ptr + vma.offset))
    assert mm._starts == [vma.start for vma in mm.vmas]
    assert mm.uc.mapping() == coalesce(expected)


def layout(mm: MM) -> list[tuple[int, int, int]]:
    return [(vma.start, vma.end, vma.prot) for vma in mm.vmas]


def errno_of(call, *args) -> int:
    with pytest.raises(SysError) as info:
        call(*args)
    return info.value.errno


def fill(vma: VMA, addr: int, data: bytes) -> None:
    """Write straight into the host memory behind guest `addr` of `vma`."""
    vma.backing.view(vma.offset + addr - vma.start, len(data))[:] = data


# --- mapping ------------------------------------------------------------------------------


def test_map_anonymous(mm: MM) -> None:
    vma = mm.map_anonymous(A, 3 * P, RW, MAP_PRIVATE)
    assert (vma.start, vma.end, vma.offset, vma.flags) == (A, A + 3 * P, 0, MAP_PRIVATE | MAP_ANONYMOUS)
    assert vma.backing.size == 3 * P and mm.find_vma(A + 2 * P) is vma and mm.find_vma(A + 3 * P) is None
    for i, prot in enumerate((PROT_NONE, PROT_WRITE, PROT_EXEC)):
        mm.map_anonymous(A + (i + 4) * P, P, prot, MAP_PRIVATE)
        assert_mirror(mm)
    assert mm.uc.lookup(A + 4 * P) is None  # PROT_NONE: a VMA, not a Unicorn mapping
    assert [mm.uc.lookup(A + i * P)[0] for i in (5, 6)] == [RW, PROT_READ | PROT_EXEC]


def test_map_anonymous_over_existing_replaces_the_middle(mm: MM) -> None:
    old = mm.map_anonymous(A, 4 * P, RW, MAP_PRIVATE)
    new = mm.map_anonymous(A + P, 2 * P, PROT_READ, MAP_PRIVATE)
    assert_mirror(mm)
    assert layout(mm) == [(A, A + P, RW), (A + P, A + 3 * P, PROT_READ), (A + 3 * P, A + 4 * P, RW)]
    assert [v.backing for v in mm.vmas] == [old.backing, new.backing, old.backing]
    assert mm.vmas[2].offset == 3 * P


def test_get_unmapped_area_is_top_down(mm: MM) -> None:
    mm.map_anonymous(STACK_TOP - P, P, RW, MAP_PRIVATE)  # above MMAP_BASE: ignored
    first = mm.get_unmapped_area(4 * P)
    assert first == MMAP_BASE - 4 * P
    mm.map_anonymous(first, 4 * P, RW, MAP_PRIVATE)
    second = mm.get_unmapped_area(P)
    assert second == first - P
    mm.map_anonymous(second, P, RW, MAP_PRIVATE)
    mm.unmap_range(first + P, first + 3 * P)  # a two-page hole
    assert_mirror(mm)
    assert mm.get_unmapped_area(2 * P) == first + P  # fits the hole
    assert mm.get_unmapped_area(3 * P) == second - 3 * P  # does not


def test_get_unmapped_area_hint(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    assert mm.get_unmapped_area(P, A + 2 * P) == A + 2 * P  # free: taken
    assert mm.get_unmapped_area(P, A + 2 * P + 1) == A + 3 * P  # rounded up to a page
    top = MMAP_BASE - 2 * P
    assert mm.get_unmapped_area(2 * P, A + P) == top  # overlaps: ignored
    assert mm.get_unmapped_area(2 * P, MMAP_MIN_ADDR - P) == top  # below mmap_min_addr
    assert mm.get_unmapped_area(2 * P, TASK_SIZE - P) == top  # past the end of user space


def test_choose_address(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    assert mm.choose_address(A + P, 2 * P, MAP_FIXED) == A + P  # may replace
    assert errno_of(mm.choose_address, A + P, 2 * P, MAP_FIXED_NOREPLACE) == EEXIST
    assert mm.choose_address(A + 2 * P, P, MAP_FIXED_NOREPLACE) == A + 2 * P
    assert errno_of(mm.choose_address, A + 1, P, MAP_FIXED) == EINVAL
    assert errno_of(mm.choose_address, A + 1, P, MAP_FIXED_NOREPLACE) == EINVAL
    assert errno_of(mm.choose_address, MMAP_MIN_ADDR - P, P, MAP_FIXED) == EINVAL
    assert errno_of(mm.choose_address, TASK_SIZE - P, 2 * P, MAP_FIXED) == ENOMEM
    assert mm.choose_address(A, P, 0) == MMAP_BASE - P  # a taken hint is only a hint
    assert_mirror(mm)


def test_choose_address_fixed_noreplace_wins_over_fixed(mm: MM) -> None:
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    assert errno_of(mm.choose_address, A, P, MAP_FIXED | MAP_FIXED_NOREPLACE) == EEXIST


# --- munmap -------------------------------------------------------------------------------


def test_unmap_middle_splits_with_correct_offsets(mm: MM) -> None:
    vma = mm.map_anonymous(A, 4 * P, RW, MAP_PRIVATE)
    for i in range(4):
        fill(vma, A + i * P, bytes([0x41 + i]) * 8)
    removed = mm.unmap_range(A + P, A + 3 * P)
    assert_mirror(mm)
    assert [(r.start, r.end, r.offset) for r in removed] == [(A + P, A + 3 * P, P)]
    assert [(v.start, v.end, v.offset, v.backing) for v in mm.vmas] == [
        (A, A + P, 0, vma.backing),
        (A + 3 * P, A + 4 * P, 3 * P, vma.backing),
    ]
    assert mm.copy_in(A, 1) == b"A" and mm.copy_in(A + 3 * P, 1) == b"D"
    assert mm.uc.cache_flushes == []  # no code there: nothing to forget


def test_unmap_spanning_several_vmas(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    mm.map_anonymous(A + 2 * P, P, PROT_READ, MAP_PRIVATE)
    mm.map_anonymous(A + 4 * P, 2 * P, RW, MAP_SHARED)  # a hole at A + 3P
    removed = mm.unmap_range(A + P, A + 5 * P)
    assert_mirror(mm)
    assert [(r.start, r.end, r.offset) for r in removed] == [
        (A + P, A + 2 * P, P),
        (A + 2 * P, A + 3 * P, 0),
        (A + 4 * P, A + 5 * P, 0),
    ]
    assert [(v.start, v.end, v.offset) for v in mm.vmas] == [(A, A + P, 0), (A + 5 * P, A + 6 * P, P)]


def test_unmap_nothing(mm: MM) -> None:
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    calls = mm.uc.calls
    assert mm.unmap_range(A + P, A + 8 * P) == []
    assert mm.uc.calls == calls and mm.uc.cache_flushes == []
    assert_mirror(mm)


# --- mprotect -----------------------------------------------------------------------------


def test_protect_splits(mm: MM) -> None:
    vma = mm.map_anonymous(A, 4 * P, RW, MAP_PRIVATE)
    mm.protect(A + P, A + 3 * P, PROT_READ)
    assert_mirror(mm)
    assert layout(mm) == [(A, A + P, RW), (A + P, A + 3 * P, PROT_READ), (A + 3 * P, A + 4 * P, RW)]
    assert [v.offset for v in mm.vmas] == [0, P, 3 * P]
    assert all(v.backing is vma.backing for v in mm.vmas)
    assert mm.uc.cache_flushes == []
    mm.protect(A, A + 4 * P, PROT_EXEC)  # across all three pieces
    assert_mirror(mm)
    assert {v.prot for v in mm.vmas} == {PROT_EXEC}
    mm.protect(A, A + P, PROT_READ)  # dropping exec forgets the translations
    assert mm.uc.cache_flushes == [(A, A + P)]


def test_protect_hole_is_enomem(mm: MM) -> None:
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    mm.map_anonymous(A + 2 * P, P, RW, MAP_PRIVATE)
    before = layout(mm)
    assert errno_of(mm.protect, A, A + 3 * P, PROT_READ) == ENOMEM  # hole in the middle
    assert errno_of(mm.protect, A + 2 * P, A + 4 * P, PROT_READ) == ENOMEM  # runs off the end
    assert errno_of(mm.protect, A - P, A + P, PROT_READ) == ENOMEM  # starts in a hole
    assert errno_of(mm.protect, A + 8 * P, A + 9 * P, PROT_READ) == ENOMEM  # nothing there
    assert layout(mm) == before
    assert_mirror(mm)


# --- brk ----------------------------------------------------------------------------------


def test_brk_grows_merges_and_shrinks(mm: MM) -> None:
    start = A + 0x123
    mm.init_brk(start)
    assert mm.set_brk(start + 2 * P) == start + 2 * P
    assert mm.set_brk(start + 5 * P) == start + 5 * P  # growth merges into one [heap] VMA
    assert_mirror(mm)
    heap_lo = A + P
    assert [(v.start, v.end, v.name, v.offset) for v in mm.vmas] == [(heap_lo, A + 6 * P, "[heap]", 0)]
    assert mm.vmas[0].backing is mm.heap
    mm.copy_out(A + 5 * P, b"old")
    assert mm.set_brk(start + P) == start + P
    assert_mirror(mm)
    assert layout(mm) == [(heap_lo, A + 2 * P, RW)]
    assert mm.set_brk(start + 5 * P) == start + 5 * P
    assert mm.copy_in(A + 5 * P, 3) == b"\0\0\0"  # shrinking gave the pages back
    assert_mirror(mm)


def test_brk_refusals(mm: MM) -> None:
    mm.init_brk(A)
    mm.set_brk(A + P)
    assert mm.set_brk(A - P) == A + P  # below the start
    mm.map_anonymous(A + 3 * P, P, RW, MAP_PRIVATE)
    assert mm.set_brk(A + 4 * P) == A + P  # would run into a mapping
    assert mm.set_brk(A + HEAP_RESERVE + P) == A + P  # past the reservation
    assert mm.brk == A + P
    assert_mirror(mm)


# --- mremap -------------------------------------------------------------------------------


def test_remap_shrink(mm: MM) -> None:
    mm.map_anonymous(A, 4 * P, RW, MAP_PRIVATE)
    assert mm.remap(A, 4 * P, P + 1, 0, 0) == A
    assert_mirror(mm)
    assert layout(mm) == [(A, A + 2 * P, RW)]


def test_remap_grow_in_place(mm: MM) -> None:
    vma = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    fill(vma, A, b"keep")
    assert mm.remap(A, 2 * P, 4 * P, 0, 0) == A
    assert_mirror(mm)
    assert [(v.start, v.end) for v in mm.vmas] == [(A, A + 2 * P), (A + 2 * P, A + 4 * P)]
    assert mm.copy_in(A, 4) == b"keep" and mm.copy_in(A + 3 * P, 4) == b"\0" * 4


def test_remap_grow_blocked(mm: MM) -> None:
    vma = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    mm.map_anonymous(A + 2 * P, P, PROT_READ, MAP_PRIVATE)
    fill(vma, A, b"first")
    fill(vma, A + P, b"second")
    before = layout(mm)
    assert errno_of(mm.remap, A, 2 * P, 4 * P, 0, 0) == ENOMEM
    assert layout(mm) == before
    assert_mirror(mm)
    new = mm.remap(A, 2 * P, 4 * P, MREMAP_MAYMOVE, 0)
    assert_mirror(mm)
    assert new not in (A, 0) and mm.find_vma(A) is None and mm.find_vma(A + 2 * P) is not None
    assert mm.find_vma(new).backing is vma.backing  # moved, not copied
    assert mm.copy_in(new, 5) == b"first" and mm.copy_in(new + P, 6) == b"second"
    assert mm.copy_in(new + 2 * P, 2 * P) == bytes(2 * P)
    assert layout(mm) == [
        (A + 2 * P, A + 3 * P, PROT_READ),
        (new, new + 2 * P, RW),
        (new + 2 * P, new + 4 * P, RW),
    ]


def test_remap_fixed(mm: MM) -> None:
    vma = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    fill(vma, A + P, b"moved")
    target = A + 0x100000
    mm.map_anonymous(target, 4 * P, PROT_READ, MAP_PRIVATE)  # replaced by the move
    assert mm.remap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, target) == target
    assert_mirror(mm)
    assert layout(mm) == [(target, target + 2 * P, RW), (target + 2 * P, target + 4 * P, PROT_READ)]
    assert mm.copy_in(target + P, 5) == b"moved"


def test_remap_bad_args(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    fixed = MREMAP_MAYMOVE | MREMAP_FIXED
    assert errno_of(mm.remap, A + 1, P, 2 * P, MREMAP_MAYMOVE, 0) == EINVAL  # unaligned old
    assert errno_of(mm.remap, A, P, 2 * P, 0x80, 0) == EINVAL  # unknown flag
    assert errno_of(mm.remap, A, P, P, MREMAP_FIXED, A + 8 * P) == EINVAL  # FIXED without MAYMOVE
    assert errno_of(mm.remap, A, P, 0, 0, 0) == EINVAL  # new size 0
    assert errno_of(mm.remap, A, 2 * P, 2 * P, fixed, A + P) == EINVAL  # overlapping move
    assert errno_of(mm.remap, A, P, P, fixed, A + 8 * P + 1) == EINVAL  # unaligned new
    assert errno_of(mm.remap, A + 4 * P, P, 2 * P, MREMAP_MAYMOVE, 0) == EFAULT  # nothing mapped
    assert errno_of(mm.remap, A, 3 * P, 4 * P, MREMAP_MAYMOVE, 0) == EFAULT  # runs off the VMA
    assert layout(mm) == [(A, A + 2 * P, RW)]
    assert_mirror(mm)


def test_remap_dontunmap_needs_maymove(mm: MM) -> None:
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    assert errno_of(mm.remap, A, P, P, MREMAP_DONTUNMAP, 0) == EINVAL


def test_remap_fixed_shrinking_move(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    target = A + 0x100000
    mm.map_anonymous(target + P, P, PROT_READ, MAP_PRIVATE)
    try:
        assert mm.remap(A, 2 * P, P, MREMAP_MAYMOVE | MREMAP_FIXED, target) == target
    except UcError:  # FakeUc refuses to map over target + P
        pytest.fail("_move mapped old_size bytes at new_addr")
    assert_mirror(mm)
    assert layout(mm) == [(target, target + P, RW), (target + P, target + 2 * P, PROT_READ)]


def test_remap_regrow_after_shrink_reads_zero(mm: MM) -> None:
    vma = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    fill(vma, A + P, b"stale")
    mm.remap(A, 2 * P, P, 0, 0)
    assert mm.remap(A, P, 2 * P, 0, 0) == A
    assert_mirror(mm)
    assert mm.copy_in(A + P, 5) == bytes(5)


def test_remap_move_and_grow_head_does_not_alias_tail(mm: MM) -> None:
    mm.map_anonymous(A, 3 * P, RW, MAP_PRIVATE)
    new = mm.remap(A, P, 2 * P, MREMAP_MAYMOVE, 0)
    assert_mirror(mm)
    mm.copy_out(A + P, b"tail")
    assert mm.copy_in(new + P, 4) == bytes(4)
    assert mm.uc.lookup(new + P)[1] != mm.uc.lookup(A + P)[1]


# --- madvise ------------------------------------------------------------------------------


def test_discard_zeroes_private_not_shared(mm: MM) -> None:
    private = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    shared = mm.map_anonymous(A + 2 * P, P, RW, MAP_SHARED)
    fill(private, A, b"p0")
    fill(private, A + P, b"p1")
    fill(shared, A + 2 * P, b"sh")
    mm.discard(A + P, A + 3 * P)
    assert_mirror(mm)
    assert mm.copy_in(A, 2) == b"p0"  # outside the range
    assert mm.copy_in(A + P, 2) == b"\0\0"
    assert mm.copy_in(A + 2 * P, 2) == b"sh"


# --- fork ---------------------------------------------------------------------------------


def test_fork_copies_private_pages(mm: MM) -> None:
    vma = mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    mm.init_brk(A + 0x100000)
    mm.set_brk(A + 0x100000 + P)
    mm.copy_out(A, b"parent")
    mm.copy_out(A + 0x100000, b"heap")
    child = mm.fork()
    assert_mirror(mm)
    assert_mirror(child)
    assert layout(child) == layout(mm) and child.brk == mm.brk
    assert child.vmas[0].backing is not vma.backing
    assert child.heap is not mm.heap and child.find_vma(A + 0x100000).backing is child.heap
    assert child.copy_in(A, 6) == b"parent" and child.copy_in(A + 0x100000, 4) == b"heap"
    child.copy_out(A, b"child!")
    assert mm.copy_in(A, 6) == b"parent"
    mm.copy_out(A + P, b"later")
    assert child.copy_in(A + P, 5) == bytes(5)


def test_fork_shares_shared_backing(mm: MM) -> None:
    vma = mm.map_anonymous(A, P, RW, MAP_SHARED)
    child = mm.fork()
    assert_mirror(child)
    assert child.vmas[0].backing is vma.backing
    child.copy_out(A, b"hello")
    assert mm.copy_in(A, 5) == b"hello"


def test_fork_skips_untouched_pages_of_a_big_reservation(mm: MM) -> None:
    """The child holds only the page that was touched. (What such a fork costs is
    measured, not asserted: bench/run.py's fork_bigmap workload.)"""
    size = 1 << 30
    vma = mm.map_anonymous(A, size, PROT_NONE, MAP_PRIVATE)
    fill(vma, A + 5 * P, b"x")
    child = mm.fork()
    backing = child.vmas[0].backing
    assert backing.resident_runs(0, size) == [(5 * P, P)]
    assert backing.resident_runs(6 * P, size - 6 * P) == []
    assert bytes(backing.view(5 * P, 1)) == b"x"  # PROT_NONE: only the kernel-side view reads it
    assert_mirror(child)


def test_fork_shares_read_only_private_memory_frozen(mm: MM) -> None:
    """Text and rodata are shared, not copied; whoever later makes them writable (or
    zeroes them) gets a copy first, so the other side never sees the change."""
    text = mm.map_anonymous(A, 2 * P, PROT_READ | PROT_EXEC, MAP_PRIVATE)
    data = mm.map_anonymous(A + 4 * P, 2 * P, RW, MAP_PRIVATE)
    mm.protect(A + 4 * P, A + 5 * P, PROT_READ)  # relro: the backing is still writable
    fill(text, A, b"code")
    child = mm.fork()
    assert_mirror(child)
    assert child.vmas[0].backing is text.backing and text.backing.frozen
    assert child.vmas[1].backing is not data.backing  # one VMA of it is writable: copied
    child.protect(A, A + P, RW)  # the child's own copy, both pages, remapped
    assert_mirror(child)
    assert child.vmas[0].backing is not text.backing and child.vmas[1].backing is child.vmas[0].backing
    assert child.copy_in(A, 4) == b"code"
    child.copy_out(A, b"CODE")
    assert mm.copy_in(A, 4) == b"code"
    mm.protect(A, A + 2 * P, RW)  # the parent too: a frozen backing never changes again
    assert_mirror(mm)
    assert mm.vmas[0].backing is not text.backing and bytes(text.backing.view(0, 4)) == b"code"
    mm.copy_out(A + P, b"more")
    assert child.copy_in(A + P, 4) == bytes(4)


def test_frozen_memory_is_copied_before_it_is_zeroed(mm: MM) -> None:
    rodata = mm.map_anonymous(A, 3 * P, PROT_READ, MAP_PRIVATE)
    for i in range(3):
        fill(rodata, A + i * P, b"ro%d" % i)
    child = mm.fork()
    child.discard(A, A + P)  # MADV_DONTNEED
    assert child.copy_in(A, 3) == bytes(3) and child.copy_in(A + P, 3) == b"ro1"
    assert mm.copy_in(A, 3) == b"ro0"
    mm.release_range(A + P, A + 3 * P)  # munmap zeroes private pages: not the shared ones
    assert_mirror(mm)
    assert child.copy_in(A + 2 * P, 3) == b"ro2"
    assert rodata.backing.frozen and bytes(rodata.backing.view(P, 3)) == b"ro1"


def test_backing_refill_from() -> None:
    source, target = Backing(8 * P), Backing(8 * P)
    source.view(P, 1)[0] = 1
    source.view(5 * P, 1)[0] = 5
    for page in (0, 1, 2, 6):  # what a dead process left behind
        target.view(page * P, 1)[0] = 0x77
    target.refill_from(source, [(0, 4 * P), (5 * P, 2 * P)])
    assert target.resident_runs(0, 8 * P) == [(P, P), (5 * P, P)]  # (reading maps zero pages)
    assert [bytes(target.view(page * P, 1))[0] for page in range(8)] == [0, 1, 0, 0, 0, 5, 0, 0]


def test_pool_recycles_a_dead_address_space(mm: MM) -> None:
    """A fork into a recycled instance keeps the old mappings that match and reuses the
    dead process's private memory for the copy; nothing of the dead process shows."""
    pool = MMPool()
    mm.pool = pool
    code = mm.map_anonymous(A, 2 * P, PROT_READ | PROT_EXEC, MAP_PRIVATE)
    mm.map_anonymous(A + 4 * P, 4 * P, RW, MAP_PRIVATE)
    shared = mm.map_anonymous(A + 16 * P, P, RW, MAP_SHARED)
    mm.copy_out(A + 4 * P, b"parent")
    first = mm.fork()
    uc = first.uc
    first.copy_out(A + 5 * P, b"child leftovers")
    first.map_anonymous(A + 32 * P, P, PROT_READ | PROT_EXEC, MAP_PRIVATE)  # only the child has this
    first.destroy()
    assert pool.free == [first] and first.vmas == []
    calls = uc.calls
    second = mm.fork()
    assert second is first and second.uc is uc
    assert uc.calls == calls + 1  # only the child-only mapping went
    assert uc.cache_flushes == []  # frozen code keeps its translations
    assert_mirror(second)
    assert second.vmas[0].backing is code.backing and second.vmas[2].backing is shared.backing
    assert second.copy_in(A + 4 * P, 6) == b"parent" and second.copy_in(A + 5 * P, 5) == bytes(5)
    second.copy_out(A + 4 * P, b"second")
    assert mm.copy_in(A + 4 * P, 6) == b"parent"
    second.destroy()
    fresh = pool.take()  # an exec's empty address space
    assert fresh is second and fresh.vmas == [] and fresh.uc.regions == {}


def test_pool_does_not_keep_counted_instances(mm: MM) -> None:
    pool = MMPool()
    mm.pool = pool
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    child = mm.fork()
    child.counted = True
    child.destroy()
    assert pool.free == [] and child.uc is None


def test_recycled_unicorn_runs_the_new_code() -> None:
    """Real Unicorn. A recycled child keeps its old mapping of the parent's copied RWX
    memory (same host pages, refilled from the host side, which QEMU does not see): the
    code translated there by the previous child must go. Frozen code keeps it."""
    pool = MMPool()

    def hooks(uc: Uc, space: MM) -> None:
        uc.hook_add(X.UC_HOOK_INSN, lambda uc, data: uc.emu_stop(), None, 1, 0,
                    X.UC_X86_INS_SYSCALL)

    def run(space: MM, at: int) -> int:
        space.uc.emu_start(at, 0xFFFF_FFFF_FFFF_FFFF)
        return space.uc.reg_read(X.UC_X86_REG_RAX)

    def code(value: int) -> bytes:
        return b"\xb8" + value.to_bytes(4, "little") + b"\x0f\x05"  # mov eax, value; syscall

    parent = MM(hooks, pool=pool)
    parent.map_anonymous(A, P, PROT_READ | PROT_EXEC, MAP_PRIVATE)
    fill(parent.vmas[0], A, code(7))
    jit = parent.map_anonymous(A + P, P, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE)
    fill(jit, A + P, code(1))
    first = parent.fork()
    assert (run(first, A), run(first, A + P)) == (7, 1)
    copy = first.find_vma(A + P).backing
    first.destroy()
    fill(jit, A + P, code(2))
    second = parent.fork()
    assert second is first and second.find_vma(A + P).backing is copy
    assert (run(second, A), run(second, A + P)) == (7, 2)


# --- copy_in / copy_out -------------------------------------------------------------------


def test_copy_in_out(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    mm.copy_out(A + P - 2, b"span")  # across a page boundary
    assert mm.copy_in(A + P - 2, 4) == b"span"
    mm.copy_out_u64(A, 0x1122334455667788)
    assert mm.copy_in_u64(A) == 0x1122334455667788
    assert mm.copy_in(0, 0) == b"" and mm.copy_out(0, b"") is None
    for addr in (0, A + 2 * P, A + 2 * P - 2):  # NULL, unmapped, running off the end
        with pytest.raises(Fault) as info:
            mm.copy_in(addr, 4)
        assert info.value.addr == addr and not info.value.write
        with pytest.raises(Fault) as info:
            mm.copy_out(addr, b"data")
        assert info.value.addr == addr and info.value.write
    assert mm.copy_in(A + 2 * P - 2, 2) == b"\0\0"  # the failed copy_out wrote nothing
    assert_mirror(mm)


def test_copy_respects_protection(mm: MM) -> None:
    mm.map_anonymous(A, P, PROT_READ, MAP_PRIVATE)
    mm.map_anonymous(A + P, P, PROT_NONE, MAP_PRIVATE)
    with pytest.raises(Fault):
        mm.copy_out(A, b"x")
    with pytest.raises(Fault):
        mm.copy_in(A + P, 1)


def test_copy_in_str(mm: MM) -> None:
    mm.map_anonymous(A, P, RW, MAP_PRIVATE)
    mm.map_anonymous(A + P, P, PROT_READ, MAP_PRIVATE)  # a second VMA right after
    mm.copy_out(A + P - 3, b"abc")
    mm.uc.mem_write(A + P, b"def\0")
    assert mm.copy_in_str(A + P - 3) == b"abcdef"
    assert mm.copy_in_str(A + P - 3, limit=7) == b"abcdef"  # the NUL is the 7th byte
    assert errno_of(mm.copy_in_str, A + P - 3, 6) == ENAMETOOLONG
    mm.copy_out(A, b"x" * P)
    mm.uc.mem_write(A + P, b"y" * P)
    assert errno_of(mm.copy_in_str, A, 4096) == ENAMETOOLONG
    with pytest.raises(Fault):
        mm.copy_in_str(A, 3 * P)  # no NUL before the unmapped page
    with pytest.raises(Fault):
        mm.copy_in_str(0)
    with pytest.raises(Fault):
        mm.copy_in_str(A + 4 * P)
    assert_mirror(mm)


# --- Backing ------------------------------------------------------------------------------


def test_backing_resident_runs() -> None:
    backing = Backing(16 * P, label="t")
    assert backing.resident_runs(0, 16 * P) == []
    backing.view(2 * P, 1)[0] = 1
    backing.view(9 * P, 2 * P)[:] = b"\1" * 2 * P
    assert backing.resident_runs(0, 16 * P) == [(2 * P, P), (9 * P, 2 * P)]
    assert backing.resident_runs(8 * P, 8 * P) == [(9 * P, 2 * P)]
    backing.zero(9 * P, 2 * P)
    assert backing.resident_runs(0, 16 * P) == [(2 * P, P)]
    assert bytes(backing.view(9 * P, 4)) == bytes(4)


# --- /proc/PID/maps --------------------------------------------------------------------------


def test_proc_maps_lines_as_linux_prints_them(mm: MM) -> None:
    mm.map_anonymous(A, 2 * P, RW, MAP_PRIVATE)
    text = mm.map_anonymous(A + 4 * P, P, PROT_READ | PROT_EXEC, MAP_PRIVATE)
    text.name, text.file_offset = "/usr/lib/libc.so.6", 0x26000
    mm.map_anonymous(A + 8 * P, 8 * P, PROT_NONE, MAP_PRIVATE)
    mm.map_anonymous(STACK_TOP - 4 * P, 4 * P, RW, MAP_PRIVATE, "[stack]")
    from pykern.fs.proc.task_mmu import show_maps

    lines = show_maps(mm).decode().splitlines()  # (what procfs serves as /proc/PID/maps)
    assert lines[0] == "10000000-10002000 rw-p 00000000 00:00 0 "
    assert lines[1].startswith("10004000-10005000 r-xp 00026000 ") and lines[1].index("/usr") == 73
    assert lines[2] == "10008000-10010000 ---p 00000000 00:00 0 "
    assert lines[3].startswith("7fffffffb000-7ffffffff000 rw-p 00000000 00:00 0 ")
    assert lines[3].endswith(" [stack]") and lines[3].index("[stack]") == 73


def test_resident_runs_join_across_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Residency is asked a window at a time; a run that crosses a window's edge is one run."""
    from pykern import hostmem

    monkeypatch.setattr(hostmem, "RESIDENT_WINDOW", 4 * P)
    backing = Backing(16 * P)
    backing.view(3 * P, 3 * P)[:] = b"x" * (3 * P)  # pages 3-5: across the edge at 4
    backing.view(8 * P, P)[:] = b"y" * P  # page 8: a window's first page
    backing.view(15 * P, P)[:] = b"z" * P
    assert backing.resident_runs(0, 16 * P) == [(3 * P, 3 * P), (8 * P, P), (15 * P, P)]
    assert backing.resident_runs(5 * P, 6 * P) == [(5 * P, P), (8 * P, P)]
    copy = Backing(16 * P)
    copy.refill_from(backing, [(2 * P, 12 * P)])
    assert copy.resident_runs(0, 16 * P) == [(3 * P, 3 * P), (8 * P, P)]
    assert copy.view(8 * P, 1).tobytes() == b"y"


def test_resident_runs_by_page_table_scan_match_mincore(monkeypatch: pytest.MonkeyPatch) -> None:
    """PAGEMAP_SCAN (when the host has it) and mincore find the same runs, also when there
    are more runs than one ioctl returns."""
    from pykern import hostmem

    size = 4096 * P
    backing = Backing(size)
    for page in range(1, 4096, 3):
        backing.view(page * P, 1)[:] = b"x"
    monkeypatch.setattr(hostmem, "_SCAN_REGIONS", 100)
    scanned = backing.resident_runs(P, size - 2 * P)
    monkeypatch.setattr(hostmem, "_pagemap_fd", -1)
    assert scanned == backing.resident_runs(P, size - 2 * P)
    assert len(scanned) == 1365 and scanned[0] == (P, P)


def test_page_cache_keeps_recent_backings_frozen_and_forgets_the_rest() -> None:
    from pykern.mm import PageCache

    cache = PageCache(keep=2)
    first = Backing(P)
    cache.add(("f", 0), first)
    assert first.frozen and cache.get(("f", 0)) is first
    for i in range(3):  # three more push `first` out of the recent ones ...
        cache.add(("g", i), Backing(P))
    assert cache.get(("f", 0)) is first  # ... but a VMA (here: this test) still holds it
    del first
    for i in range(3):
        cache.add(("h", i), Backing(P))
    assert cache.get(("f", 0)) is None  # held by nobody: freed
