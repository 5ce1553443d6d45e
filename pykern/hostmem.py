"""Host memory that backs guest pages.

A `Backing` is one host mmap (anonymous, MAP_NORESERVE, or a shared file mapping).
Unicorn maps guest pages straight onto it with `mem_map_ptr`, so two address spaces
that map the same Backing share memory exactly as two page tables pointing at the same
physical pages. Untouched anonymous pages cost nothing on the host, which is what lets a
1 GiB PROT_NONE reservation or a forked address space stay cheap.
"""

from __future__ import annotations

import ctypes
import mmap as _hostmmap
import os

_libc = ctypes.CDLL(None, use_errno=True)  # the C library this process already has loaded
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

# Host values (this is the host seam: these are never shown to the guest).
_HOST_PROT_RW = _hostmmap.PROT_READ | _hostmmap.PROT_WRITE
_HOST_MAP_NORESERVE = 0x4000
_HOST_MADV_DONTNEED = 4
_MAP_FAILED = ctypes.c_void_p(-1).value
HOST_PAGE = 4096
RESIDENT_WINDOW = 1 << 30  # bytes of a backing whose residency is asked at once (a 256 KiB vector)


_HOST_PR_SET_THP_DISABLE = 41


class HostMemoryError(MemoryError):
    pass


_thp_disabled = False


def disable_transparent_hugepages() -> None:
    """No transparent huge pages in pykern's process (prctl PR_SET_THP_DISABLE), once.

    QEMU madvises its TCG code buffer MADV_HUGEPAGE, so on a host whose THP mode is
    "madvise" (the common default) the first translated block of every Unicorn instance
    faulted in a whole 2 MiB page: 2 of the 3.7 MB of pykern RSS that each live process
    cost (measured: 3.69 MB per instance, 1.65 MB with THP off). Guest memory is not
    madvised and so never had huge pages in that mode; under "always" it now gets 4 KiB
    pages too, which also keeps fork's copy (resident pages only) at page granularity."""
    global _thp_disabled
    if not _thp_disabled:
        _thp_disabled = True
        zero = ctypes.c_ulong(0)  # prctl reads all four as unsigned long; 3-5 must be 0
        _libc.prctl(_HOST_PR_SET_THP_DISABLE, ctypes.c_ulong(1), zero, zero, zero)  # best effort


def page_runs(vector: bytes | bytearray, offset: int) -> list[tuple[int, int]]:
    """(offset, length) runs of the pages whose byte is 1 in a mincore-style vector that
    starts at `offset`. `find` is memchr-fast: a 1 GiB range's 256 KiB vector takes
    microseconds."""
    runs = []
    find = vector.find
    start = find(1)
    while start >= 0:
        end = find(0, start)
        if end < 0:
            end = len(vector)
        runs.append((offset + start * HOST_PAGE, (end - start) * HOST_PAGE))
        start = find(1, end)
    return runs


_swap: bool | None = None


def host_has_swap() -> bool:
    """Is any swap area active on the host (/proc/swaps lists more than its header)?"""
    global _swap
    if _swap is None:
        try:
            with open("/proc/swaps", encoding="ascii") as swaps:
                _swap = len(swaps.read().splitlines()) > 1
        except OSError:
            _swap = True  # unknown: take the careful path
    return _swap


_PAGEMAP_PRESENT = 1 << 63
_PAGEMAP_SWAPPED = 1 << 62


def _pagemap_vector(addr: int, pages: int) -> bytearray:
    try:
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
            pagemap.seek(addr // HOST_PAGE * 8)
            entries = pagemap.read(pages * 8)
    except OSError:
        return bytearray(b"\x01" * pages)
    if len(entries) != pages * 8:
        return bytearray(b"\x01" * pages)
    words = memoryview(entries).cast("Q")
    return bytearray(1 if word & (_PAGEMAP_PRESENT | _PAGEMAP_SWAPPED) else 0 for word in words)


# PAGEMAP_SCAN (Linux 6.7, fs/proc/task_mmu.c): the populated runs of a range, found by a
# page-table walk that skips what was never touched, so its cost follows the touched
# pages, not the range's size (mincore fills a byte for every page).
_HOST_PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg)
_HOST_PAGE_IS_PRESENT = 1 << 3
_HOST_PAGE_IS_SWAPPED = 1 << 4
_SCAN_REGIONS = 512  # page_region entries per ioctl


class _PageRegion(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("categories", ctypes.c_uint64)]


class _PmScanArg(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "size", "flags", "start", "end", "walk_end", "vec", "vec_len", "max_pages", "category_inverted",
        "category_mask", "category_anyof_mask", "return_mask")]


_pagemap_fd: int | None = None  # -1: PAGEMAP_SCAN is not available


def _scan_runs(addr: int, length: int) -> list[tuple[int, int]] | None:
    """(host address, length) runs of populated (present or swapped) pages in
    [addr, addr+length), or None where the host kernel has no PAGEMAP_SCAN."""
    global _pagemap_fd
    if _pagemap_fd is None:
        try:
            _pagemap_fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            _pagemap_fd = -1
    if _pagemap_fd < 0:
        return None
    regions = (_PageRegion * _SCAN_REGIONS)()
    arg = _PmScanArg(size=ctypes.sizeof(_PmScanArg), start=addr, end=addr + length, vec=ctypes.addressof(regions),
                     vec_len=_SCAN_REGIONS, category_anyof_mask=_HOST_PAGE_IS_PRESENT | _HOST_PAGE_IS_SWAPPED,
                     return_mask=_HOST_PAGE_IS_PRESENT | _HOST_PAGE_IS_SWAPPED)
    runs: list[tuple[int, int]] = []
    while True:
        found = _libc.ioctl(_pagemap_fd, _HOST_PAGEMAP_SCAN, ctypes.byref(arg))
        if found < 0:
            if runs or arg.start != addr:
                raise HostMemoryError(ctypes.get_errno(), "PAGEMAP_SCAN failed part way")
            os.close(_pagemap_fd)
            _pagemap_fd = -1  # (EINVAL, ENOTTY: an older kernel)
            return None
        for region in regions[:found]:
            if runs and runs[-1][0] + runs[-1][1] == region.start:  # present next to swapped
                runs[-1] = (runs[-1][0], region.end - runs[-1][0])
            else:
                runs.append((region.start, region.end - region.start))
        if found < _SCAN_REGIONS or arg.walk_end >= addr + length:  # the walk reached the end
            return runs
        if arg.walk_end <= arg.start:
            raise HostMemoryError(0, "PAGEMAP_SCAN made no progress")
        arg.start = arg.walk_end


class Backing:
    """A host mapping of `size` bytes at host address `ptr`; freed when unreferenced."""

    __slots__ = ("__weakref__", "label", "ptr", "frozen", "shared", "size", "file_key")

    def __init__(self, size: int, *, fd: int = -1, offset: int = 0, writable: bool = True, label: str = "") -> None:
        self.ptr = 0  # (set before the host mmap: __del__ of a failed one has nothing to unmap)
        if fd >= 0:
            prot = _HOST_PROT_RW if writable else _hostmmap.PROT_READ
            flags = _hostmmap.MAP_SHARED
        else:
            prot = _HOST_PROT_RW
            flags = _hostmmap.MAP_PRIVATE | _hostmmap.MAP_ANONYMOUS | _HOST_MAP_NORESERVE
        ptr = _libc.mmap(None, size, prot, flags, fd, offset)
        if ptr is None or ptr == _MAP_FAILED:
            raise HostMemoryError(ctypes.get_errno(), f"host mmap of {size:#x} bytes failed")
        self.ptr: int = ptr
        self.size = size
        self.shared = fd >= 0  # a host file mapping: writes reach the file
        # The mapped file and offset (a shared futex there is keyed by them, not by mapping)
        if fd >= 0:
            st = os.fstat(fd)
            self.file_key: tuple[int, int, int] | None = (st.st_dev, st.st_ino, offset)
        else:
            self.file_key = None
        self.label = label
        # Private memory only. A fork shares a private backing that no VMA can write (text,
        # rodata) instead of copying it, and freezes it: from then on its content never
        # changes; whoever wants to write or zero it works on a copy (mm.MM._own). Frozen
        # content is what lets a recycled Unicorn instance keep its translated code.
        self.frozen = False

    def __del__(self) -> None:
        if self.ptr:
            _libc.munmap(self.ptr, self.size)
            self.ptr = 0

    def view(self, offset: int, length: int) -> memoryview:
        """A writable view of [offset, offset+length) of this backing."""
        return memoryview((ctypes.c_char * length).from_address(self.ptr + offset)).cast("B")

    def zero(self, offset: int, length: int) -> None:
        """Give pages back to the host; they read as zero again (private anonymous only)."""
        _libc.madvise(self.ptr + offset, length, _HOST_MADV_DONTNEED)

    def resident_vector(self, offset: int, length: int) -> bytearray:
        """A byte per page of [offset, offset+length): 1 if the page holds data (the host
        populated it), else 0. mincore says so exactly when the host has no swap; with
        swap, a swapped-out page is not "in core" yet holds data, so /proc/self/pagemap's
        present and swapped bits are read instead. All 1 if neither works: everything is
        copied."""
        pages = length // HOST_PAGE
        if host_has_swap():
            return _pagemap_vector(self.ptr + offset, pages)
        vec = bytearray(pages)
        if _libc.mincore(self.ptr + offset, length, (ctypes.c_char * pages).from_buffer(vec)) != 0:
            return bytearray(b"\x01" * pages)
        return vec

    def resident_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        """(offset, length) runs of pages in [offset, offset+length) that the host has
        populated: the only pages a fork has to copy. Asked a window at a time, so that a
        huge mapping (AddressSanitizer's 15 TiB shadow: a 3.75 GB vector at once) costs
        a bounded vector (about 0.2 s per TiB scanned)."""
        scanned = _scan_runs(self.ptr + offset, length) if length else []
        if scanned is not None:
            return [(start - self.ptr, size) for start, size in scanned]
        runs: list[tuple[int, int]] = []
        end = offset + length
        for at in range(offset, end, RESIDENT_WINDOW):
            for start, size in page_runs(self.resident_vector(at, min(RESIDENT_WINDOW, end - at)), at):
                if runs and runs[-1][0] + runs[-1][1] == start:  # a run across windows
                    runs[-1] = (runs[-1][0], runs[-1][1] + size)
                else:
                    runs.append((start, size))
        return runs

    def resident_size(self, offset: int, length: int) -> int:
        """Bytes of [offset, offset+length) the host has populated (a few microseconds:
        the host's page-table walk, whatever the length)."""
        return sum(run for _, run in self.resident_runs(offset, length))

    def refill_from(self, source: Backing, ranges: list[tuple[int, int]]) -> int:
        """Make this backing a copy of `source` over `ranges` (sorted (offset, length))
        and zero elsewhere, without giving back pages that are resident in both: those
        are overwritten in place, with no new host page faults. A recycled address space's
        backing takes the next fork's copy this way. Returns the bytes copied."""
        at = 0
        copied = 0
        windows = ((window, min(RESIDENT_WINDOW, offset + length - window))
                   for offset, length in ranges for window in range(offset, offset + length, RESIDENT_WINDOW))
        for offset, length in windows:
            if offset > at:
                self.zero(at, offset - at)
            at = max(at, offset + length)
            mine = self.resident_vector(offset, length)
            theirs = source.resident_vector(offset, length)
            copied += theirs.count(1) * HOST_PAGE
            for start, size in page_runs(theirs, offset):
                self.copy_from(source, start, size)
            if mine == theirs:
                continue
            only_mine = int.from_bytes(mine, "little") & ~int.from_bytes(theirs, "little")
            if only_mine:
                for start, size in page_runs(only_mine.to_bytes(len(mine), "little"), offset):
                    self.zero(start, size)
        if at < self.size:
            self.zero(at, self.size - at)
        return copied

    def copy_from(self, source: Backing, offset: int, length: int) -> None:
        ctypes.memmove(self.ptr + offset, source.ptr + offset, length)

    def __repr__(self) -> str:
        return f"<Backing {self.label} {self.size:#x} at {self.ptr:#x}>"
