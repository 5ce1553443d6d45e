"""/proc/PID/maps and smaps, and the memory counters status and statm show (Linux's
fs/proc/task_mmu.c), from the guest's VMAs in pykern/mm.py.

Resident pages are the host pages that back the guest's (mincore on the backing): a
page the guest never touched is not resident, as on Linux. What pykern does not keep
(the peak sizes VmPeak and VmHWM, swap, huge pages) is shown as its current value or 0.
Differences: pykern's VMAs are not merged across separate backings as Linux merges
adjacent anonymous VMAs, and its stack VMA has its full 8 MiB from the start.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pykern.abi import MAP_GROWSDOWN, MAP_SHARED, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from pykern.mm import MM, VMA

# seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): the name column of maps and smaps
MAPS_NAME_COLUMN = 25 + 8 * 6 - 1


class MappedFileName(str):
    """A file mapping's VMA name: the file's guest path, carrying the file's device and
    inode number for maps' columns (the path may name nothing on the host)."""

    dev: int
    ino: int


def mapped_file_name(path: str, dev: int | None = None, ino: int | None = None) -> str:
    """The name of a VMA that maps the file at guest `path` (dev and ino: the file's,
    else looked up on the host by that path when maps is read)."""
    if dev is None or ino is None:
        return path
    name = MappedFileName(path)
    name.dev, name.ino = dev, ino
    return name


def is_stack(vma: VMA) -> bool:
    return bool(vma.flags & MAP_GROWSDOWN) or vma.name == "[stack]"


def is_file(vma: VMA) -> bool:
    """A file mapping (named after its file, not "[heap]" and the like)."""
    return bool(vma.name) and not vma.name.startswith("[")


def is_special_shared(vma: VMA) -> bool:
    """The vDSO's data page: shared by every process, but shown as Linux shows its
    [vvar] (a private PFN mapping: "p", no resident pages counted)."""
    return vma.name == "[vvar]"


def file_pages(vma: VMA) -> bool:
    """Pages counted as file pages: a file's, and the vDSO's (the kernel's own pages,
    inserted with vm_insert_page)."""
    return is_file(vma) or vma.name == "[vdso]"


def resident_bytes(vma: VMA) -> int:
    length = vma.end - vma.start
    if is_special_shared(vma):
        return 0
    try:
        return sum(size for _, size in vma.backing.resident_runs(vma.offset, length))
    except (OSError, ValueError):
        return length


class MemCounters:
    """The mm counters of Linux's task_mem(), in bytes. (A plain class, not a dataclass:
    dataclasses imports inspect, ast and dis, about 5 ms of every start-up.)"""

    def __init__(self, locked: int = 0) -> None:
        self.total = 0
        self.data = 0
        self.stack = 0
        self.exec = 0
        self.rss_anon = 0
        self.rss_file = 0
        self.rss_shmem = 0
        self.text = 0  # VmExe: the program's text
        self.lib = 0  # VmLib: other executable mappings
        self.locked = locked

    @property
    def rss(self) -> int:
        return self.rss_anon + self.rss_file + self.rss_shmem


def mem_counters(mm: MM) -> MemCounters:
    counters = MemCounters(locked=mm.locked_bytes())
    for vma in mm.vmas:
        size = vma.end - vma.start
        counters.total += size
        stack = is_stack(vma)
        shared = bool(vma.flags & MAP_SHARED) and not is_special_shared(vma)
        if stack:
            counters.stack += size
        elif vma.prot & PROT_WRITE and not shared:
            counters.data += size
        elif vma.prot & PROT_EXEC and not vma.prot & PROT_WRITE:
            counters.exec += size
        resident = resident_bytes(vma)
        if shared:
            if is_file(vma):
                counters.rss_file += resident
            else:
                counters.rss_shmem += resident
        elif file_pages(vma) and not vma.prot & PROT_WRITE:
            counters.rss_file += resident
        else:
            counters.rss_anon += resident
    layout = mm.layout
    if layout is not None:
        text = (layout.end_code + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE - layout.start_code // PAGE_SIZE * PAGE_SIZE
        counters.text = min(text, counters.exec)
    counters.lib = counters.exec - counters.text
    return counters


# --- maps ----------------------------------------------------------------------------------------


def _file_identity(name: str, cache: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(dev, ino) of a mapped file, 0s when it cannot be found (deleted, renamed)."""
    if isinstance(name, MappedFileName):
        return name.dev, name.ino
    if name not in cache:
        try:
            info = os.stat(name)
            cache[name] = (info.st_dev, info.st_ino)
        except OSError:
            cache[name] = (0, 0)
    return cache[name]


def _header(vma: VMA, cache: dict[str, tuple[int, int]], heap_range: tuple[int, int]) -> bytes:
    perms = "".join((
        "r" if vma.prot & PROT_READ else "-",
        "w" if vma.prot & PROT_WRITE else "-",
        "x" if vma.prot & PROT_EXEC else "-",
        "s" if vma.flags & MAP_SHARED and not is_special_shared(vma) else "p",
    ))
    name = vma.name
    dev = ino = offset = 0
    if is_file(vma):
        dev, ino = _file_identity(name, cache)
        offset = vma.file_offset
    elif not name and heap_range[0] <= vma.start < heap_range[1]:
        name = "[heap]"
    line = f"{vma.start:08x}-{vma.end:08x} {perms} {offset:08x} {os.major(dev):02x}:{os.minor(dev):02x} {ino} "
    if name:
        line = line.ljust(MAPS_NAME_COLUMN) + " " + escape_name(name)
    return line.encode(errors="surrogateescape") + b"\n"


def escape_name(name: str) -> str:
    """seq_file_path escapes a newline in a path as \\012."""
    return name.replace("\n", "\\012")


def _heap_range(mm: MM) -> tuple[int, int]:
    start = (mm.start_brk + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    end = (mm.brk + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    return start, end


def show_maps(mm: MM | None) -> bytes:
    if mm is None:
        return b""
    cache: dict[str, tuple[int, int]] = {}
    heap = _heap_range(mm)
    return b"".join(_header(vma, cache, heap) for vma in mm.vmas)


# --- smaps ---------------------------------------------------------------------------------------

def _vm_flags(vma: VMA) -> str:
    """show_smap_vma_flags' two-letter names, in its bit order: those pykern can tell."""
    if is_special_shared(vma):
        return "VmFlags: rd mr pf io de dd \n"  # VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP
    shared = bool(vma.flags & MAP_SHARED)
    flags = []
    if vma.prot & PROT_READ:
        flags.append("rd")
    if vma.prot & PROT_WRITE:
        flags.append("wr")
    if vma.prot & PROT_EXEC:
        flags.append("ex")
    if shared:
        flags.append("sh")
    flags += ["mr", "mw", "me"]
    if shared:
        flags.append("ms")
    if is_stack(vma):
        flags.append("gd")
    if vma.name == "[vdso]":
        flags.append("de")  # a special mapping: VM_DONTEXPAND
    if vma.prot & PROT_WRITE and not shared:
        flags.append("ac")
    return "VmFlags: " + "".join(f + " " for f in flags) + "\n"


def _kb_line(label: str, value_bytes: int, width: int = 8) -> str:
    return f"{label}{value_bytes >> 10:>{width}} kB\n"


def show_smap(vma: VMA, locked: int = 0) -> str:
    """One VMA's smaps block; `locked`: its bytes under mlock."""
    size = vma.end - vma.start
    resident = resident_bytes(vma)
    shared = bool(vma.flags & MAP_SHARED) and not is_special_shared(vma)
    anonymous = 0 if shared or (file_pages(vma) and not vma.prot & PROT_WRITE) else resident
    clean = resident - anonymous if not shared else 0
    dirty_private = anonymous
    shared_clean = resident if shared else 0
    lines = [
        _kb_line("Size:           ", size),
        _kb_line("KernelPageSize: ", PAGE_SIZE),
        _kb_line("MMUPageSize:    ", PAGE_SIZE),
        _kb_line("Rss:            ", resident),
        _kb_line("Pss:            ", resident),
        _kb_line("Pss_Dirty:      ", dirty_private),
        _kb_line("Shared_Clean:   ", shared_clean),
        _kb_line("Shared_Dirty:   ", 0),
        _kb_line("Private_Clean:  ", clean),
        _kb_line("Private_Dirty:  ", dirty_private),
        _kb_line("Referenced:     ", resident),
        _kb_line("Anonymous:      ", anonymous),
        _kb_line("KSM:            ", 0),
        _kb_line("LazyFree:       ", 0),
        _kb_line("AnonHugePages:  ", 0),
        _kb_line("ShmemPmdMapped: ", 0),
        _kb_line("FilePmdMapped:  ", 0),
        _kb_line("Shared_Hugetlb: ", 0, 7),
        _kb_line("Private_Hugetlb: ", 0, 7),
        _kb_line("Swap:           ", 0),
        _kb_line("SwapPss:        ", 0),
        _kb_line("Locked:         ", min(locked, resident)),
        f"THPeligible:    {0:>8}\n",
        _vm_flags(vma),
    ]
    return "".join(lines)


def show_smaps(mm: MM | None) -> bytes:
    if mm is None:
        return b""
    cache: dict[str, tuple[int, int]] = {}
    heap = _heap_range(mm)
    out = []
    for vma in mm.vmas:
        out.append(_header(vma, cache, heap))
        locked = sum(max(0, min(end, vma.end) - max(start, vma.start)) for start, end in mm.mlocked)
        out.append(show_smap(vma, locked).encode())
    return b"".join(out)

