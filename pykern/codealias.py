"""Code written through one mapping and run through another: the guard that keeps QEMU's
translations of it fresh.

Linux needs nothing here: a CPU's instruction fetch sees every store to the physical page,
whichever virtual address it went through. QEMU keys the code it translated by the
guest-physical page it came from, and pykern maps each VMA as a Unicorn region over host
memory of its own, so two mappings of the same memory (a memfd or shared file mapped twice,
shared anonymous memory given a second address by mremap, a System V segment attached
twice, and any of these in two processes) are two unrelated "physical" pages to QEMU. A
store through one view drops the code translated from that view only: code run through the
other view would run its first translation for ever. JITs that keep W^X map their code
buffer just so, written through a read-write view and run through a read-execute one (.NET,
V8 and others under W^X).

So each page of memory that one mapping can write and another execute, in any address
space, is guarded, as software guards a CPU whose instruction and data caches are not
coherent. A guarded page is in one of two states, the same in every address space:

- *code*: its executable views run; every writable view of it is write-protected in
  Unicorn;
- *data*: its writable views write; its executable views are not executable in Unicorn
  and hold no translated code.

A store in the code state and an instruction fetch in the data state fault in Unicorn; the
fault flips the page (a store first drops the code translated from its executable views)
and the instruction runs again (trap.py: the guest sees nothing). Pages start in the data
state; a JIT's cycle of writing a page and running it costs two such faults. A kernel
write into a guarded page (read(2) into the writable view) flips it too (MM.copy_out).
Writes that reach the memory without a mapping (write(2) to the memfd or file) are not
seen (README, "Translated code, known gaps").

An instruction that stores into its own page through another view would flip that page
for ever (the store wants the data state, the instruction's fetch the code state): that
page is left unguarded, each view with its own protection (its code may then go stale),
and pykern says so once on stderr.

One `CodeAliases` serves all address spaces (MMPool holds it); each MM tells it when its
shared mappings changed (`refresh`) and when it goes (`forget`).
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pykern.abi import PAGE_SIZE, PROT_EXEC, PROT_WRITE
from pykern.uc_const import UC_MEM_FETCH_PROT, UC_MEM_WRITE_PROT, UC_PROT_EXEC, UC_PROT_WRITE

if TYPE_CHECKING:
    from pykern.mm import MM, VMA

# A memory object: ("file", st_dev, st_ino) for a shared file mapping (each mmap of it has
# a host mapping of its own), ("mem", id(backing)) for shared memory without a file (one
# Backing, whoever maps it). A page of it: (object, offset in it).
Source = tuple
Page = tuple


def source_of(vma: VMA) -> tuple[Source, int]:
    """The memory object `vma` maps, and the offset in it of vma.start."""
    backing = vma.backing
    if backing.file_key is not None:
        dev, ino, offset = backing.file_key
        return ("file", dev, ino), offset + vma.offset
    return ("mem", id(backing)), vma.offset


class CodeAliases:
    """The guarded pages of all address spaces, and the state of each (module docstring)."""

    def __init__(self) -> None:
        # source -> {mm: its shared mappings of it that can write or execute}
        self.views: dict[Source, dict[MM, list[VMA]]] = {}
        # source -> sorted disjoint [start, end) offsets guarded (absent: nothing is)
        self.guarded: dict[Source, list[tuple[int, int]]] = {}
        self.code: set[Page] = set()  # guarded pages in the code state
        self.unguarded: set[Page] = set()  # pages given up on (_stores_into_itself)
        self._warned = False

    def __bool__(self) -> bool:
        return bool(self.guarded)

    # --- which pages are guarded ---------------------------------------------------------------

    def refresh(self, mm: MM) -> None:
        """`mm`'s shared mappings changed (and Unicorn's mappings of them were made from
        the VMAs alone): its views are taken again, and the memory objects it mapped or
        maps are guarded anew, every view of their guarded pages in the data state."""
        mm.aliases_dirty = False
        mine: dict[Source, list[VMA]] = {}
        for vma in mm.vmas:
            if vma.shared and vma.prot & (PROT_WRITE | PROT_EXEC):
                mine.setdefault(source_of(vma)[0], []).append(vma)
        touched = {source for source, by_mm in self.views.items() if mm in by_mm} | set(mine)
        for source in touched:
            by_mm = self.views.setdefault(source, {})
            by_mm.pop(mm, None)
            if source in mine:
                by_mm[mm] = mine[source]
        self._guard(touched)

    def forget(self, mm: MM) -> None:
        """`mm` is gone: its views no longer guard the memory others map."""
        touched = {source for source, by_mm in self.views.items() if by_mm.pop(mm, None) is not None}
        self._guard(touched)

    def _guard(self, sources: set[Source]) -> None:
        for source in sources:
            if source in self.guarded:  # the old guards go: each view its own protection again
                self._protect(source, 0, 1 << 64, lambda vma: 0)
                del self.guarded[source]
            self.code = {page for page in self.code if page[0] != source}
            self.unguarded = {page for page in self.unguarded if page[0] != source}
            by_mm = self.views.get(source)
            if not by_mm:
                self.views.pop(source, None)
                continue
            ranges = _aliased([vma for vmas in by_mm.values() for vma in vmas])
            if ranges:
                self.guarded[source] = ranges
                for mm in by_mm:
                    mm.aliases_ever = True
                for start, end in ranges:
                    self._set(source, start, end, code=False)

    def _page(self, mm: MM, addr: int) -> Page | None:
        """The guarded page under `mm`'s guest address `addr`, if it is one."""
        vma = mm.find_vma(addr)
        if vma is None or not vma.shared:
            return None
        source, base = source_of(vma)
        ranges = self.guarded.get(source)
        if not ranges:
            return None
        offset = (base + addr - vma.start) & ~(PAGE_SIZE - 1)
        i = bisect.bisect_right(ranges, (offset, 1 << 64)) - 1
        if i < 0 or offset >= ranges[i][1] or (source, offset) in self.unguarded:
            return None
        return source, offset

    def guards(self, mm: MM, addr: int, size: int) -> bool:
        """Is a page of `mm`'s [addr, addr+size) guarded? (Its protection faults are ours.)"""
        return self._page(mm, addr) is not None or self._page(mm, addr + max(size, 1) - 1) is not None

    # --- flips ---------------------------------------------------------------------------------

    def fault(self, mm: MM, access: int, addr: int, size: int, rip: int) -> bool:
        """A Unicorn protection fault at `mm`'s [addr, addr+size): True if it was a guarded
        page in the wrong state for the access, now flipped (the instruction runs again)."""
        want_code = access == UC_MEM_FETCH_PROT
        if not want_code and access != UC_MEM_WRITE_PROT:
            return False
        flipped = False
        for page_addr in sorted({addr & ~(PAGE_SIZE - 1), (addr + max(size, 1) - 1) & ~(PAGE_SIZE - 1)}):
            page = self._page(mm, page_addr)
            if page is None or (page in self.code) == want_code:
                continue
            vma = mm.find_vma(page_addr)
            if vma is None or not vma.prot & (PROT_EXEC if want_code else PROT_WRITE):
                continue  # the access is not allowed at all: a real fault
            if not want_code and self._page(mm, rip) == page:
                self._stores_into_itself(rip, page)
            else:
                self._set(page[0], page[1], page[1] + PAGE_SIZE, code=want_code)
            flipped = True
        return flipped

    def written(self, mm: MM, addr: int, end: int) -> None:
        """The kernel writes `mm`'s [addr, end) through a host pointer (MM.copy_out): the
        guarded pages there go to the data state first."""
        for page_addr in range(addr & ~(PAGE_SIZE - 1), end, PAGE_SIZE):
            page = self._page(mm, page_addr)
            if page is not None and page in self.code:
                self._set(page[0], page[1], page[1] + PAGE_SIZE, code=False)

    def _stores_into_itself(self, rip: int, page: Page) -> None:
        """The instruction at `rip` stores into its own page through another view: no
        state lets both its fetch and its store run. The page goes unguarded, each view
        with its own protection."""
        self.code.discard(page)
        self.unguarded.add(page)
        self._protect(page[0], page[1], page[1] + PAGE_SIZE, lambda vma: 0)
        if not self._warned:
            self._warned = True
            print(f"pykern: code at {rip:#x} writes its own page through another mapping: "
                  "that page's translated code may go stale", file=sys.stderr)

    def _set(self, source: Source, start: int, end: int, code: bool) -> None:
        """Put the guarded offsets [start, end) of `source` in the code or data state."""
        pages = [(source, offset) for offset in range(start, end, PAGE_SIZE)]
        if code:
            self.code.update(pages)
            self._protect(source, start, end, lambda vma: UC_PROT_WRITE if vma.prot & PROT_WRITE else 0)
        else:
            self.code.difference_update(pages)
            for mm, vma, lo, hi in self._views_of(source, start, end):
                if vma.prot & PROT_EXEC:
                    for uc in mm._all_uc():
                        uc.ctl_remove_cache(lo, hi)
            self._protect(source, start, end, lambda vma: UC_PROT_EXEC if vma.prot & PROT_EXEC else 0)

    def _views_of(self, source: Source, start: int, end: int) -> Iterator[tuple[MM, VMA, int, int]]:
        """(mm, vma, guest start, guest end) of each view of offsets [start, end) of `source`."""
        for mm, vmas in self.views.get(source, {}).items():
            for vma in vmas:
                _, base = source_of(vma)
                lo, hi = max(start, base), min(end, base + vma.end - vma.start)
                if lo < hi:
                    yield mm, vma, vma.start + lo - base, vma.start + hi - base

    def _protect(self, source: Source, start: int, end: int, taken: Callable[[VMA], int]) -> None:
        """Each view of [start, end) of `source`: its own protection less `taken(vma)`."""
        from pykern.mm import uc_prot  # (mm imports this module)

        for mm, vma, lo, hi in self._views_of(source, start, end):
            prot = uc_prot(vma.prot) & ~taken(vma)
            for uc in mm._all_uc():
                uc.mem_protect(lo, hi - lo, prot)


def _aliased(views: list[VMA]) -> list[tuple[int, int]]:
    """The offsets of one memory object that one of `views` can execute and another can
    write: sorted, disjoint [start, end) ranges."""
    spans = [(vma, *_span(vma)) for vma in views]
    found = []
    for x, x0, x1 in spans:
        if not x.prot & PROT_EXEC:
            continue
        for w, w0, w1 in spans:
            if w is not x and w.prot & PROT_WRITE and max(x0, w0) < min(x1, w1):
                found.append((max(x0, w0), min(x1, w1)))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _span(vma: VMA) -> tuple[int, int]:
    _, base = source_of(vma)
    return base, base + vma.end - vma.start
