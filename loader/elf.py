"""ELF64 x86-64 executable -> LoadPlan (what to map, what to copy, where to start).

Owns the validation execve(2) does on an ELF image and the translation of PT_LOAD
segments into page-aligned anonymous mappings plus file copies. Pure: bytes in, a
frozen plan out; the kernel maps and copies. Mirrors fs/binfmt_elf.c load_elf_binary().

Invariants of a LoadPlan:
- `mappings` are page-aligned, sorted, non-overlapping; a page shared by two segments
  appears once with the union of their protections (Linux would give it the later
  segment's protection; the union never faults where Linux would not).
- `copies` cover exactly [p_vaddr, p_vaddr + p_filesz) of each PT_LOAD, in program
  header order. Everything else in the mappings is zero: the .bss tail of a partial
  page (Linux's padzero) and whole .bss pages. Deviation: Linux maps whole file pages, so
  the bytes of a first/last page outside [p_vaddr, p_vaddr + p_filesz) show file
  content there; here they are zero unless another segment's copy covers them.

Only the ELF header and the program headers matter to a loader (as in Linux), so they
are decoded with `struct` for exact control over every malformed-input path; pyelftools
serves the tests as an independent reader.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pykern.abi import (
    ENOEXEC,
    PAGE_SIZE,
    PATH_MAX,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    page_down,
    page_up,
)

from .errors import ExecFormatError

# ELF constants (System V gABI; linux/elf.h). Loader-local: they are not guest ABI values.
ELF_MAGIC = b"\x7fELF"
EI_CLASS = 4
EI_DATA = 5
ELFCLASS64 = 2
ELFDATA2LSB = 1
ET_EXEC = 2
ET_DYN = 3
EM_X86_64 = 62
PT_LOAD = 1
PT_INTERP = 3
PT_PHDR = 6
PT_GNU_STACK = 0x6474E551
PF_X = 1
PF_W = 2
PF_R = 4

# Elf64_Ehdr (64 bytes) and Elf64_Phdr (56 bytes), little-endian.
ELF64_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
ELF64_PHDR = struct.Struct("<IIQQQQQQ")

# fs/binfmt_elf.c load_elf_phdrs(): the program header table may not exceed 64 KiB.
MAX_PHDR_TABLE = 65536
ADDRESS_LIMIT = 1 << 64

DEFAULT_PIE_BASE = 0x555555554000  # ELF_ET_DYN_BASE on x86-64 without randomisation


class Mapping(NamedTuple):
    """One page-aligned region [start, end) to map anonymous, private, zero-filled."""

    start: int
    end: int
    prot: int  # PROT_* bits


class FileCopy(NamedTuple):
    """Copy `size` bytes from file offset `offset` to guest address `vaddr`."""

    vaddr: int
    offset: int
    size: int


class LoadPlan(NamedTuple):
    e_type: int  # ET_EXEC or ET_DYN
    entry: int  # absolute entry point (bias applied)
    load_bias: int  # 0 for ET_EXEC
    phdr_addr: int  # absolute guest address of the program headers (AT_PHDR)
    phent: int
    phnum: int
    mappings: tuple[Mapping, ...]
    copies: tuple[FileCopy, ...]
    brk_start: int  # page_up(highest p_vaddr + p_memsz), like mm->start_brk
    exec_stack: bool  # PT_GNU_STACK has PF_X; True when PT_GNU_STACK is absent
    interp: str | None  # PT_INTERP path, if any


class ElfHeader(NamedTuple):
    e_ident: bytes
    e_type: int
    e_machine: int
    e_version: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_flags: int
    e_ehsize: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


class ProgramHeader(NamedTuple):
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int


def plan_elf(data: bytes, pie_base: int = DEFAULT_PIE_BASE) -> LoadPlan:
    """Validate an ELF executable image and describe how to load it.

    Raises ExecFormatError(ENOEXEC) for anything malformed, truncated or unsupported.
    ET_DYN images are placed so that their lowest page lands at `pie_base`. (Linux puts a
    static-pie with no PT_INTERP wherever mmap chooses, top-down below the stack; the
    caller picks the base.)
    """
    if pie_base % PAGE_SIZE:
        raise ValueError(f"pie_base {pie_base:#x} is not page-aligned")
    try:
        return _plan_elf(bytes(data), pie_base)
    except (struct.error, IndexError) as exc:  # defensive: every read is bounds-checked
        raise ExecFormatError(ENOEXEC, f"malformed ELF: {exc}") from exc


def _refuse(message: str) -> ExecFormatError:
    return ExecFormatError(ENOEXEC, message)


def _plan_elf(data: bytes, pie_base: int) -> LoadPlan:
    if data[:4] != ELF_MAGIC:
        raise _refuse("not an ELF file (bad magic)")
    if len(data) < ELF64_EHDR.size:
        raise _refuse(f"truncated ELF header ({len(data)} bytes)")
    ehdr = ElfHeader(*ELF64_EHDR.unpack_from(data))
    ident, e_type, e_machine, e_entry = ehdr.e_ident, ehdr.e_type, ehdr.e_machine, ehdr.e_entry
    e_phoff, e_phentsize, e_phnum = ehdr.e_phoff, ehdr.e_phentsize, ehdr.e_phnum
    if ident[EI_CLASS] != ELFCLASS64:
        raise _refuse(f"not a 64-bit ELF (EI_CLASS={ident[EI_CLASS]})")
    if ident[EI_DATA] != ELFDATA2LSB:
        raise _refuse(f"not a little-endian ELF (EI_DATA={ident[EI_DATA]})")
    if e_type not in (ET_EXEC, ET_DYN):
        raise _refuse(f"not an executable (e_type={e_type})")
    if e_machine != EM_X86_64:
        raise _refuse(f"not an x86-64 ELF (e_machine={e_machine})")
    if e_phentsize != ELF64_PHDR.size:
        raise _refuse(f"bad e_phentsize {e_phentsize}")
    table_size = e_phnum * ELF64_PHDR.size
    if table_size == 0 or table_size > MAX_PHDR_TABLE:
        raise _refuse(f"bad e_phnum {e_phnum}")
    if e_phoff + table_size > len(data):
        raise _refuse(f"program headers at {e_phoff:#x} run past end of file ({len(data):#x} bytes)")

    phdrs = [
        ProgramHeader(*ELF64_PHDR.unpack_from(data, e_phoff + i * ELF64_PHDR.size)) for i in range(e_phnum)
    ]
    loads = [ph for ph in phdrs if ph.p_type == PT_LOAD]
    if not loads:
        raise _refuse("no PT_LOAD segment")
    for ph in loads:
        _check_load(ph, len(data))

    interp = _read_interp(data, phdrs)
    # Linux: the last PT_GNU_STACK decides; without one the stack is executable on x86-64
    # (EXSTACK_DEFAULT, see the table in commit 9fccc5c0c99f "x86/elf: Disable automatic
    # READ_IMPLIES_EXEC on 64-bit").
    exec_stack = True
    for ph in phdrs:
        if ph.p_type == PT_GNU_STACK:
            exec_stack = bool(ph.p_flags & PF_X)

    load_bias = 0
    if e_type == ET_DYN:
        load_bias = pie_base - page_down(min(ph.p_vaddr for ph in loads))

    lowest = min(page_down(ph.p_vaddr) for ph in loads) + load_bias
    highest = max(ph.p_vaddr + ph.p_memsz for ph in loads) + load_bias
    if lowest < 0 or page_up(highest) > TASK_SIZE:
        raise _refuse(f"segments [{lowest:#x}, {highest:#x}) outside the user address space")
    entry = e_entry + load_bias
    if not 0 <= entry < TASK_SIZE:
        raise _refuse(f"entry point {entry:#x} outside the user address space")

    return LoadPlan(
        e_type=e_type,
        entry=entry,
        load_bias=load_bias,
        phdr_addr=_phdr_addr(e_phoff, phdrs, loads) + load_bias,
        phent=e_phentsize,
        phnum=e_phnum,
        mappings=_mappings(loads, load_bias),
        copies=tuple(
            FileCopy(ph.p_vaddr + load_bias, ph.p_offset, ph.p_filesz) for ph in loads if ph.p_filesz
        ),
        brk_start=page_up(highest),
        exec_stack=exec_stack,
        interp=interp,
    )


def _check_load(ph: ProgramHeader, file_size: int) -> None:
    where = f"PT_LOAD at {ph.p_vaddr:#x}"
    if ph.p_filesz > ph.p_memsz:
        raise _refuse(f"{where}: p_filesz {ph.p_filesz:#x} > p_memsz {ph.p_memsz:#x}")
    if ph.p_vaddr + ph.p_memsz >= ADDRESS_LIMIT:
        raise _refuse(f"{where}: p_vaddr + p_memsz wraps around")
    if ph.p_filesz:
        if ph.p_offset + ph.p_filesz > file_size:
            raise _refuse(f"{where}: file range [{ph.p_offset:#x}, +{ph.p_filesz:#x}) past end of file")
        # gABI "Program Header": p_vaddr and p_offset must be congruent modulo the page
        # size, or the file pages cannot be mapped (Linux's elf_map() mmap fails).
        if (ph.p_vaddr - ph.p_offset) % PAGE_SIZE:
            raise _refuse(f"{where}: p_vaddr and p_offset {ph.p_offset:#x} not congruent mod page size")


def _read_interp(data: bytes, phdrs: list[ProgramHeader]) -> str | None:
    """The first PT_INTERP's path, checked as load_elf_binary() does."""
    for ph in phdrs:
        if ph.p_type != PT_INTERP:
            continue
        if not 2 <= ph.p_filesz <= PATH_MAX:
            raise _refuse(f"bad PT_INTERP size {ph.p_filesz}")
        if ph.p_offset + ph.p_filesz > len(data):
            raise _refuse("PT_INTERP past end of file")
        raw = data[ph.p_offset : ph.p_offset + ph.p_filesz]
        if raw[-1] != 0:
            raise _refuse("PT_INTERP path not NUL-terminated")
        return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return None


def _phdr_addr(e_phoff: int, phdrs: list[ProgramHeader], loads: list[ProgramHeader]) -> int:
    """Unbiased AT_PHDR. Linux (>= 5.18, load_elf_binary) finds the PT_LOAD whose file
    range holds e_phoff; PT_PHDR is the fallback when none does, then 0 as in Linux."""
    for ph in loads:
        if ph.p_offset <= e_phoff < ph.p_offset + ph.p_filesz:
            return e_phoff - ph.p_offset + ph.p_vaddr
    for ph in phdrs:
        if ph.p_type == PT_PHDR:
            return ph.p_vaddr
    return 0


def _prot(p_flags: int) -> int:
    """fs/binfmt_elf.c make_prot(); x86-64 has no READ_IMPLIES_EXEC for 64-bit ELF."""
    prot = PROT_READ if p_flags & PF_R else 0
    if p_flags & PF_W:
        prot |= PROT_WRITE
    if p_flags & PF_X:
        prot |= PROT_EXEC
    return prot


def _mappings(loads: list[ProgramHeader], load_bias: int) -> tuple[Mapping, ...]:
    """Sweep over segment page ranges: each page gets the union of the protections of the
    segments touching it; contiguous pages with equal protection become one Mapping."""
    events: list[tuple[int, int, int]] = []  # (address, +1 open / -1 close, prot)
    for ph in loads:
        if ph.p_memsz == 0:
            continue
        start = page_down(ph.p_vaddr + load_bias)
        end = page_up(ph.p_vaddr + load_bias + ph.p_memsz)
        prot = _prot(ph.p_flags)
        events += [(start, 1, prot), (end, -1, prot)]
    events.sort()
    active: dict[int, int] = {}  # prot -> number of open segments with it
    result: list[Mapping] = []
    i = 0
    while i < len(events):
        address = events[i][0]
        while i < len(events) and events[i][0] == address:
            _, delta, prot = events[i]
            active[prot] = active.get(prot, 0) + delta
            if not active[prot]:
                del active[prot]
            i += 1
        if not active or i == len(events):
            continue
        union = 0
        for prot in active:
            union |= prot
        end = events[i][0]
        if result and result[-1].end == address and result[-1].prot == union:
            result[-1] = Mapping(result[-1].start, end, union)
        else:
            result.append(Mapping(address, end, union))
    return tuple(result)
