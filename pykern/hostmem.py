"""Host memory that backs guest pages.

A `Backing` is one host mmap (anonymous, MAP_NORESERVE, or a shared file mapping).
Unicorn maps guest pages straight onto it with `mem_map_ptr`, so two address spaces
that map the same Backing share memory exactly as two page tables pointing at the same
physical pages. Untouched anonymous pages cost nothing on the host, which is what lets a
1 GiB PROT_NONE reservation or a forked address space stay cheap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap as _hostmmap
import re

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

# Host values (this is the host seam: these are never shown to the guest).
_HOST_PROT_RW = _hostmmap.PROT_READ | _hostmmap.PROT_WRITE
_HOST_MAP_NORESERVE = 0x4000
_HOST_MADV_DONTNEED = 4
_MAP_FAILED = ctypes.c_void_p(-1).value
HOST_PAGE = 4096
_RESIDENT_RUN = re.compile(rb"[^\x00]+")  # mincore: bit 0 set for a resident page


class HostMemoryError(MemoryError):
    pass


class Backing:
    """A host mapping of `size` bytes at host address `ptr`; freed when unreferenced."""

    __slots__ = ("__weakref__", "label", "ptr", "shared", "size")

    def __init__(self, size: int, *, fd: int = -1, offset: int = 0, writable: bool = True, label: str = "") -> None:
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
        self.label = label

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

    def resident_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        """(offset, length) runs of pages in [offset, offset+length) that the host has
        populated: the only pages a fork has to copy."""
        pages = length // HOST_PAGE
        vec = ctypes.create_string_buffer(pages)
        if _libc.mincore(self.ptr + offset, length, vec) != 0:
            return [(offset, length)]
        return [
            (offset + m.start() * HOST_PAGE, (m.end() - m.start()) * HOST_PAGE)
            for m in _RESIDENT_RUN.finditer(vec.raw)
        ]

    def copy_from(self, source: Backing, offset: int, length: int) -> None:
        ctypes.memmove(self.ptr + offset, source.ptr + offset, length)

    def __repr__(self) -> str:
        return f"<Backing {self.label} {self.size:#x} at {self.ptr:#x}>"
