"""The vDSO (Linux's arch/x86/entry/vdso and lib/vdso): a small ELF shared object every
process gets, announced in AT_SYSINFO_EHDR, whose functions answer clock_gettime,
gettimeofday, time, getcpu and clock_getres without a syscall, from a data page pykern
keeps current (`[vvar]`, mapped read-only just below it).

- The code is x86-64 assembly (FUNCTIONS below). Keystone assembles it (`assemble()`,
  used by tools/gen_vdso.py and the tests); the bytes it gives are kept in
  pykern/vdso_text.py so that pykern's start does not pay for importing keystone (12-34 ms
  measured); tests/test_vdso.py checks that they are still what the source assembles to.
- The ELF image (`build_image`) is made here, as Linux's vdso2c layout has it: one PT_LOAD
  from offset 0, PT_DYNAMIC, PT_NOTE; .hash and .gnu.hash, .dynsym with every function
  under its __vdso_ name (GLOBAL) and its plain name (WEAK), all at version LINUX_2.6
  (DT_VERSYM, DT_VERDEF), which is what glibc's dl_vdso_vsym and Go's runtime look up.
- The data page (`VvarPage`) holds one anchoring of pykern.clock's formula, under a
  seqcount as Linux's vdso_data: the vDSO computes
  base + ((rdtsc - cycle_last) * mult >> shift) + offset[clock], the very integers
  pykern.clock computes for the syscalls, so both read one clock. Clocks whose bit is not
  in clock_mask (CPU-time clocks, bad ids, every clock when the host's TSC is not usable)
  make the real syscall from inside the vDSO function, as Linux's does.
- One image and one data page per kernel, shared by every process: the image's backing
  is frozen (a process that makes it writable gets its own copy, mm.MM._own), the data
  page is mapped shared and read-only, and mprotect cannot make it writable (EACCES, as
  Linux's vvar has no VM_MAYWRITE). fork keeps both; exec maps them afresh.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, NamedTuple

from pykern.abi import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    MAP_PRIVATE,
    MAP_SHARED,
    NSEC_PER_SEC,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    SYSCALL_NUMBERS,
    page_up,
)
from pykern.hostmem import Backing
from pykern.loader.elf import (
    ELF64_EHDR,
    ELF64_PHDR,
    ELF_MAGIC,
    ELFCLASS64,
    ELFDATA2LSB,
    EM_X86_64,
    ET_DYN,
    PF_R,
    PF_X,
    PT_LOAD,
)

if TYPE_CHECKING:
    from pykern.clock import Clock, Timekeeping
    from pykern.mm import MM

VVAR_PAGES = 4  # [vvar] is four pages, as on Linux 5.x-6.12; only the first is used
VVAR_SIZE = VVAR_PAGES * PAGE_SIZE
TEXT_VADDR = 0x600  # where the code starts in the image (the tables before it must fit)
VERSION = "LINUX_2.6"
SONAME = "linux-vdso.so.1"
MAX_CLOCKS = 16

# --- the data page ([vvar]) ------------------------------------------------------------------
# offset: field                   (all little-endian)
# u32 seqcount. pykern writes only while no guest code runs, so the guest never sees it odd;
# but a guest preempted (or interrupted by a signal) in the middle of a read resumes after
# pykern may have re-anchored: the changed count sends it round again.
VVAR_SEQ = 0
VVAR_CPU = 4  # u32: getcpu's cpu, the CPU the running task is on (the lowest it may run on)
VVAR_CLOCK_MASK = 8  # u32: bit n set: clock n is answered here, else by the syscall
VVAR_COARSE_MASK = 12  # u32: clocks rounded down to the tick (the *_COARSE ones)
VVAR_CYCLE_LAST = 16  # u64
VVAR_MULT = 24  # u64
VVAR_SHIFT = 32  # u32
VVAR_NODE = 36  # u32: getcpu's node
VVAR_BASE = 40  # u64: CLOCK_MONOTONIC at cycle_last, ns
VVAR_JIFFY = 48  # u64: the tick, ns (the coarse clocks' resolution)
VVAR_TZ = 56  # i32 tz_minuteswest, i32 tz_dsttime (gettimeofday's timezone: always 0 in pykern)
VVAR_OFFSETS = 64  # u64[MAX_CLOCKS]: added to CLOCK_MONOTONIC to give clock n
_HEAD = struct.Struct("<IIIIQQIIQQii")
_OFFSETS = struct.Struct(f"<{MAX_CLOCKS}Q")

HRES_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_TAI)
COARSE_CLOCKS = (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE)


def _mask(clocks: tuple[int, ...]) -> int:
    return sum(1 << clock for clock in clocks)


# --- the code --------------------------------------------------------------------------------
# Each function is assembled on its own at its own address; `{vvar}` is the RIP-relative
# operand of the data page, `{read_ns}` the seqcount loop leaving the clock's ns in rax
# (clobbers rax, rcx, rdx, r9, r10; r8 = the data page; `{offset}` the clock's offset).

_READ_NS = """
{p}_retry:
    mov r9d, dword ptr [r8 + {SEQ}]
    rdtsc
    shl rdx, 32
    or rax, rdx
    xor r10d, r10d
    sub rax, qword ptr [r8 + {CYCLE_LAST}]
    cmovb rax, r10
    mul qword ptr [r8 + {MULT}]
    mov ecx, dword ptr [r8 + {SHIFT}]
    shrd rax, rdx, cl
    add rax, qword ptr [r8 + {BASE}]
    add rax, qword ptr {offset}
    mov r10d, dword ptr [r8 + {SEQ}]
    xor r10d, r9d
    and r9d, 1
    or r10d, r9d
    jnz {p}_pause
"""
# (retry while the seqcount was odd at the start or changed: one branch, not two. Under
# QEMU every conditional branch ends a translation block, and those cost more than the
# arithmetic here: the checks below are written without branches where they can be.)

_PAUSE = """
{p}_pause:
    pause
    jmp {p}_retry
"""

# ns in rax -> seconds in rax, nanoseconds in rdx: a multiply by the reciprocal of 10^9
# (what gcc emits for x / 1000000000UL), since QEMU's div is a call into a 128-bit
# software division.
_SPLIT = """
    mov rcx, rax
    shr rax, 9
    mov rdx, {RECIP_NSEC}
    mul rdx
    mov rax, rdx
    shr rax, 11
    imul rdx, rax, {NSEC_PER_SEC}
    neg rdx
    add rdx, rcx
"""

# Clocks 0..15 whose bit is set in clock_mask; any other id (>= 16 unsigned, so negative
# CPU-time ids too) finds no bit.
_CHECK_CLOCK = """
    mov eax, dword ptr [r8 + {CLOCK_MASK}]
    xor ecx, ecx
    cmp edi, {MAX_CLOCKS}
    cmovae eax, ecx
    bt eax, edi
    jnc {fallback}
"""

_CLOCK_GETTIME = """
{name}:
    lea r8, {vvar}
    mov edi, edi
{check_clock}
{read_ns}
    mov r9d, dword ptr [r8 + {COARSE_MASK}]
    bt r9d, edi
    jc cg_coarse
cg_split:
{split}
    mov qword ptr [rsi], rax
    mov qword ptr [rsi + 8], rdx
    xor eax, eax
    ret
cg_coarse:
    xor edx, edx
    div qword ptr [r8 + {JIFFY}]
    mul qword ptr [r8 + {JIFFY}]
    jmp cg_split
cg_syscall:
    mov eax, {NR_clock_gettime}
    syscall
    ret
{pause}
"""

_GETTIMEOFDAY = """
{name}:
    lea r8, {vvar}
    test dword ptr [r8 + {CLOCK_MASK}], 1
    jz gtod_syscall
    test rdi, rdi
    jz gtod_tz
{read_ns}
{split}
    mov qword ptr [rdi], rax
    mov rax, rdx
    shr rax, 3
    mov rdx, {RECIP_USEC}
    mul rdx
    shr rdx, 4
    mov qword ptr [rdi + 8], rdx
gtod_tz:
    test rsi, rsi
    jz gtod_done
    mov rax, qword ptr [r8 + {TZ}]
    mov qword ptr [rsi], rax
gtod_done:
    xor eax, eax
    ret
gtod_syscall:
    mov eax, {NR_gettimeofday}
    syscall
    ret
{pause}
"""

_TIME = """
{name}:
    lea r8, {vvar}
    test dword ptr [r8 + {CLOCK_MASK}], 1
    jz time_syscall
{read_ns}
    shr rax, 9
    mov rdx, {RECIP_NSEC}
    mul rdx
    mov rax, rdx
    shr rax, 11
    test rdi, rdi
    jz time_done
    mov qword ptr [rdi], rax
time_done:
    ret
time_syscall:
    mov eax, {NR_time}
    syscall
    ret
{pause}
"""

_GETCPU = """
{name}:
    lea r8, {vvar}
    test rdi, rdi
    jz getcpu_node
    mov eax, dword ptr [r8 + {CPU}]
    mov dword ptr [rdi], eax
getcpu_node:
    test rsi, rsi
    jz getcpu_done
    mov eax, dword ptr [r8 + {NODE}]
    mov dword ptr [rsi], eax
getcpu_done:
    xor eax, eax
    ret
"""

_CLOCK_GETRES = """
{name}:
    lea r8, {vvar}
{check_clock}
    mov eax, 1
    mov ecx, dword ptr [r8 + {COARSE_MASK}]
    bt ecx, edi
    cmovc rax, qword ptr [r8 + {JIFFY}]
    test rsi, rsi
    jz cgr_done
    mov qword ptr [rsi], 0
    mov qword ptr [rsi + 8], rax
cgr_done:
    xor eax, eax
    ret
cgr_syscall:
    mov eax, {NR_clock_getres}
    syscall
    ret
"""

# (exported name, its weak alias, source, the read's clock offset operand), in image order
FUNCTIONS = (
    ("__vdso_clock_gettime", "clock_gettime", _CLOCK_GETTIME, "[r8 + {OFFSETS} + rdi*8]"),
    ("__vdso_gettimeofday", "gettimeofday", _GETTIMEOFDAY, "[r8 + {OFFSETS}]"),
    ("__vdso_time", "time", _TIME, "[r8 + {OFFSETS}]"),
    ("__vdso_getcpu", "getcpu", _GETCPU, ""),
    ("__vdso_clock_getres", "clock_getres", _CLOCK_GETRES, ""),
)
FUNCTION_ALIGN = 16

_CONSTANTS = {
    "SEQ": VVAR_SEQ, "CPU": VVAR_CPU, "CLOCK_MASK": VVAR_CLOCK_MASK, "COARSE_MASK": VVAR_COARSE_MASK,
    "CYCLE_LAST": VVAR_CYCLE_LAST, "MULT": VVAR_MULT, "SHIFT": VVAR_SHIFT, "NODE": VVAR_NODE,
    "BASE": VVAR_BASE, "JIFFY": VVAR_JIFFY, "TZ": VVAR_TZ, "OFFSETS": VVAR_OFFSETS,
    "MAX_CLOCKS": MAX_CLOCKS, "NSEC_PER_SEC": NSEC_PER_SEC,
    # x / 10^9 == mulhi(x >> 9, RECIP_NSEC) >> 11 and x / 1000 == mulhi(x >> 3, RECIP_USEC) >> 4
    # for every 64-bit x (gcc's constants; tests/test_vdso.py checks them)
    "RECIP_NSEC": 19342813113834067, "RECIP_USEC": 2361183241434822607,
    "NR_clock_gettime": SYSCALL_NUMBERS["clock_gettime"], "NR_gettimeofday": SYSCALL_NUMBERS["gettimeofday"],
    "NR_time": SYSCALL_NUMBERS["time"], "NR_clock_getres": SYSCALL_NUMBERS["clock_getres"],
}


def function_source(name: str, template: str, offset: str, address: int) -> str:
    """One function's assembly, for keystone at `address` (its place in the image)."""
    prefix = name.lstrip("_")
    # RIP-relative to a label: keystone resolves `label - constant` against the label's
    # address, which is `address`; the data page starts VVAR_SIZE below the image.
    vvar = f"[rip + {name} - {address + VVAR_SIZE:#x}]"
    read_ns = _READ_NS.format(p=prefix, offset=offset.format(**_CONSTANTS), **_CONSTANTS)
    fallback = {"__vdso_clock_gettime": "cg_syscall", "__vdso_clock_getres": "cgr_syscall"}.get(name, "")
    return template.format(name=name, vvar=vvar, read_ns=read_ns, pause=_PAUSE.format(p=prefix),
                           split=_SPLIT.format(**_CONSTANTS),
                           check_clock=_CHECK_CLOCK.format(fallback=fallback, **_CONSTANTS), **_CONSTANTS)


def assemble() -> list[tuple[str, bytes]]:
    """(name, machine code) of each function, assembled by keystone at its image address
    (TEXT_VADDR on, each aligned to FUNCTION_ALIGN)."""
    from keystone import KS_ARCH_X86, KS_MODE_64, Ks

    ks = Ks(KS_ARCH_X86, KS_MODE_64)
    out = []
    address = TEXT_VADDR
    for name, _, template, offset in FUNCTIONS:
        encoding, _ = ks.asm(function_source(name, template, offset, address), address)
        code = bytes(encoding)
        out.append((name, code))
        address += -len(code) % FUNCTION_ALIGN + len(code)
    return out


def prebuilt_code() -> list[tuple[str, bytes]]:
    from pykern.vdso_text import CODE

    return [(name, bytes.fromhex(text)) for name, text in CODE]


# --- the ELF image ---------------------------------------------------------------------------

# ELF constants (elf.h) the image needs beyond the loader's (pykern.loader.elf)
EV_CURRENT = 1
PT_DYNAMIC, PT_NOTE = 2, 4
SHT_PROGBITS, SHT_STRTAB, SHT_DYNAMIC, SHT_HASH, SHT_NOTE, SHT_DYNSYM = 1, 3, 6, 5, 7, 11
SHT_GNU_HASH, SHT_GNU_VERDEF, SHT_GNU_VERSYM = 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFF
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_ABS = 0xFFF1
STB_GLOBAL, STB_WEAK = 1, 2
STT_OBJECT, STT_FUNC = 1, 2
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 4, 5, 6, 10, 11, 14
DT_FLAGS, DT_GNU_HASH, DT_VERSYM, DT_FLAGS_1, DT_VERDEF, DT_VERDEFNUM = 30, 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFB, 0x6FFFFFFC, 0x6FFFFFFD
DF_SYMBOLIC, DF_BIND_NOW, DF_1_NOW = 2, 8, 1
VER_FLG_BASE = 1
NT_LINUX_VERSION = 0  # the "Linux" note carrying LINUX_VERSION_CODE

SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
DYN = struct.Struct("<qQ")
VERDEF = struct.Struct("<HHHHIII")
VERDAUX = struct.Struct("<II")


def elf_hash(name: bytes) -> int:
    """The System V ABI's symbol hash (.hash, and vd_hash of a version definition)."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


def gnu_hash(name: bytes) -> int:
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


class Symbol(NamedTuple):
    name: str
    value: int
    size: int
    bind: int
    type: int
    shndx: int


class Image(NamedTuple):
    data: bytes  # the whole image, padded to pages
    symbols: dict[str, int]  # exported name -> offset in the image


def linux_version_code(release: str) -> int:
    """KERNEL_VERSION(a, b, c) of a uname release such as "6.1.0-18-amd64"."""
    parts = []
    for part in release.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit()) or "0"
        parts.append(int(digits))
    parts += [0] * (3 - len(parts))
    return (parts[0] << 16) | (parts[1] << 8) | min(parts[2], 255)


def _align(data: bytearray, alignment: int) -> int:
    data += bytes(-len(data) % alignment)
    return len(data)


def build_image(code: list[tuple[str, bytes]], release: str = "") -> Image:
    """The vDSO's ELF image with `code` (assemble()'s list) at TEXT_VADDR; `release` (the
    uname release) gives the Linux version note."""
    text = bytearray()
    functions = []
    for name, body in code:
        _align(text, FUNCTION_ALIGN)
        functions.append((name, TEXT_VADDR + len(text), len(body)))
        text += body
    aliases = {name: alias for name, alias, _, _ in FUNCTIONS}
    text_index = 9  # .text's section index (see `sections` below)
    symbols = [Symbol("", 0, 0, 0, 0, 0), Symbol(VERSION, 0, 0, STB_GLOBAL, STT_OBJECT, SHN_ABS)]
    for name, address, size in functions:
        symbols.append(Symbol(name, address, size, STB_GLOBAL, STT_FUNC, text_index))
        symbols.append(Symbol(aliases[name], address, size, STB_WEAK, STT_FUNC, text_index))
    # .gnu.hash wants the hashed symbols (all but the null one) grouped by bucket
    nbuckets = 3
    symbols[1:] = sorted(symbols[1:], key=lambda s: gnu_hash(s.name.encode()) % nbuckets)

    strtab = bytearray(b"\0")
    string_at: dict[str, int] = {}

    def string(value: str) -> int:
        if value not in string_at:
            string_at[value] = len(strtab)
            strtab.extend(value.encode() + b"\0")
        return string_at[value]

    string(SONAME)
    string(VERSION)
    for symbol in symbols[1:]:
        string(symbol.name)

    image = bytearray(ELF64_EHDR.size + 3 * ELF64_PHDR.size)
    sections: list[tuple[str, int, int, int, int, int, int, int, int]] = []  # name, type, flags, addr, size, link, info, align, entsize

    def section(name: str, kind: int, flags: int, data: bytes, align: int, link: int = 0, info: int = 0,
                entsize: int = 0) -> int:
        at = _align(image, align)
        image.extend(data)
        sections.append((name, kind, flags, at, len(data), link, info, align, entsize))
        return at

    # .hash: nbucket, nchain, buckets, chains
    buckets, chains = [0] * nbuckets, [0] * len(symbols)
    for index in range(1, len(symbols)):
        h = elf_hash(symbols[index].name.encode()) % nbuckets
        chains[index] = buckets[h]
        buckets[h] = index
    hash_at = section(".hash", SHT_HASH, SHF_ALLOC, struct.pack(f"<II{nbuckets}I{len(symbols)}I", nbuckets,
                      len(symbols), *buckets, *chains), 8, link=3, entsize=4)
    # .gnu.hash: nbuckets, symoffset, bloom size, bloom shift, bloom, buckets, hash chain
    symoffset, bloom_shift = 1, 6
    bloom = 0
    gnu_buckets = [0] * nbuckets
    gnu_chain = []
    for index in range(symoffset, len(symbols)):
        h = gnu_hash(symbols[index].name.encode())
        bloom |= 1 << (h % 64) | 1 << ((h >> bloom_shift) % 64)
        bucket = h % nbuckets
        if not gnu_buckets[bucket]:
            gnu_buckets[bucket] = index
        last = index + 1 == len(symbols) or gnu_hash(symbols[index + 1].name.encode()) % nbuckets != bucket
        gnu_chain.append((h & ~1) | last)
    gnu_hash_at = section(".gnu.hash", SHT_GNU_HASH, SHF_ALLOC, struct.pack(
        f"<IIIIQ{nbuckets}I{len(gnu_chain)}I", nbuckets, symoffset, 1, bloom_shift, bloom, *gnu_buckets,
        *gnu_chain), 8, link=3)
    dynsym = b"".join(SYM.pack(string(s.name) if s.name else 0, (s.bind << 4) | s.type, 0, s.shndx, s.value,
                               s.size) for s in symbols)
    dynsym_at = section(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym, 8, link=4, info=1, entsize=SYM.size)
    dynstr_at = section(".dynstr", SHT_STRTAB, SHF_ALLOC, bytes(strtab), 1)
    versym = struct.pack(f"<{len(symbols)}H", 0, *([2] * (len(symbols) - 1)))
    versym_at = section(".gnu.version", SHT_GNU_VERSYM, SHF_ALLOC, versym, 2, link=3, entsize=2)
    verdef = (VERDEF.pack(1, VER_FLG_BASE, 1, 1, elf_hash(SONAME.encode()), VERDEF.size, VERDEF.size + VERDAUX.size)
              + VERDAUX.pack(string(SONAME), 0)
              + VERDEF.pack(1, 0, 2, 1, elf_hash(VERSION.encode()), VERDEF.size, 0)
              + VERDAUX.pack(string(VERSION), 0))
    verdef_at = section(".gnu.version_d", SHT_GNU_VERDEF, SHF_ALLOC, verdef, 8, link=4, info=2)
    dynamic = b"".join(DYN.pack(tag, value) for tag, value in (
        (DT_SONAME, string(SONAME)), (DT_HASH, hash_at), (DT_GNU_HASH, gnu_hash_at), (DT_STRTAB, dynstr_at),
        (DT_SYMTAB, dynsym_at), (DT_STRSZ, len(strtab)), (DT_SYMENT, SYM.size), (DT_VERDEF, verdef_at),
        (DT_VERDEFNUM, 2), (DT_FLAGS, DF_SYMBOLIC | DF_BIND_NOW), (DT_FLAGS_1, DF_1_NOW), (DT_VERSYM, versym_at),
        (DT_NULL, 0)))
    dynamic_at = section(".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dynamic, 8, link=4, entsize=DYN.size)
    note = struct.pack("<III8sI", 6, 4, NT_LINUX_VERSION, b"Linux\0\0\0", linux_version_code(release))
    note_at = section(".note", SHT_NOTE, SHF_ALLOC, note, 4)
    if len(image) > TEXT_VADDR:
        raise ValueError(f"vDSO tables end at {len(image):#x}, past TEXT_VADDR {TEXT_VADDR:#x}")
    image.extend(bytes(TEXT_VADDR - len(image)))
    section(".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, bytes(text), FUNCTION_ALIGN)
    load_end = len(image)

    names = bytearray(b"\0")
    name_at = {}
    for name in [s[0] for s in sections] + [".shstrtab"]:
        name_at[name] = len(names)
        names.extend(name.encode() + b"\0")
    section(".shstrtab", SHT_STRTAB, 0, bytes(names), 1)
    shoff = _align(image, 8)
    shdrs = [SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for name, kind, flags, at, size, link, info, align, entsize in sections:
        shdrs.append(SHDR.pack(name_at[name], kind, flags, at if flags & SHF_ALLOC else 0, at, size, link, info,
                               align, entsize))
    image.extend(b"".join(shdrs))

    ident = ELF_MAGIC + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0]) + bytes(8)
    ehdr_size = ELF64_EHDR.size
    image[:ehdr_size] = ELF64_EHDR.pack(ident, ET_DYN, EM_X86_64, EV_CURRENT, 0, ehdr_size, shoff, 0, ehdr_size,
                                        ELF64_PHDR.size, 3, SHDR.size, len(shdrs), len(shdrs) - 1)
    phdrs = (ELF64_PHDR.pack(PT_LOAD, PF_R | PF_X, 0, 0, 0, load_end, load_end, PAGE_SIZE)
             + ELF64_PHDR.pack(PT_DYNAMIC, PF_R, dynamic_at, dynamic_at, dynamic_at, len(dynamic), len(dynamic), 8)
             + ELF64_PHDR.pack(PT_NOTE, PF_R, note_at, note_at, note_at, len(note), len(note), 4))
    image[ehdr_size:ehdr_size + len(phdrs)] = phdrs
    image.extend(bytes(page_up(len(image)) - len(image)))
    exported = {s.name: s.value for s in symbols if s.type == STT_FUNC}
    return Image(bytes(image), exported)


# --- the data page and the mappings ----------------------------------------------------------


class VvarPage:
    """The data page: pykern.clock's anchoring, the running task's CPU."""

    def __init__(self) -> None:
        self.backing = Backing(VVAR_SIZE, label="[vvar]")
        self._view = self.backing.view(0, PAGE_SIZE)
        self._seq = 0
        self._affinity: object = None
        self._default_cpu = min(os.sched_getaffinity(0), default=0)
        self.publish(None)

    def publish(self, tk: Timekeeping | None) -> None:
        """update_vsyscall: write one anchoring (None: every clock by syscall) under the
        seqcount."""
        view = self._view
        self._seq += 1
        struct.pack_into("<I", view, VVAR_SEQ, self._seq & 0xFFFFFFFF)  # odd: being written
        cpu, node = struct.unpack_from("<I", view, VVAR_CPU)[0], struct.unpack_from("<I", view, VVAR_NODE)[0]
        if tk is None:
            head = (0, cpu, 0, 0, 0, 0, 0, node, 0, 0, 0, 0)
            offsets = [0] * MAX_CLOCKS
        else:
            head = (0, cpu, _mask(HRES_CLOCKS + COARSE_CLOCKS), _mask(COARSE_CLOCKS), tk.cycle_last, tk.mult,
                    tk.shift, node, tk.base_ns, tk.jiffy_ns, 0, 0)
            offsets = [0] * MAX_CLOCKS
            offsets[CLOCK_REALTIME] = offsets[CLOCK_REALTIME_COARSE] = tk.wall_offset_ns
            offsets[CLOCK_BOOTTIME] = tk.boot_offset_ns
            offsets[CLOCK_TAI] = tk.wall_offset_ns + tk.tai_offset_ns
        _HEAD.pack_into(view, 0, *head)
        _OFFSETS.pack_into(view, VVAR_OFFSETS, *(offset & 0xFFFFFFFFFFFFFFFF for offset in offsets))
        self._seq += 1
        struct.pack_into("<I", view, VVAR_SEQ, self._seq & 0xFFFFFFFF)

    def set_cpu(self, affinity: frozenset[int] | None) -> None:
        """Before a task runs: getcpu's answer for it, the lowest CPU its affinity allows
        (what the getcpu syscall says); the host's own affinity when it has none."""
        if affinity is self._affinity:
            return
        self._affinity = affinity
        struct.pack_into("<I", self._view, VVAR_CPU, min(affinity) if affinity else self._default_cpu)


class Vdso:
    """The kernel's one vDSO image and data page, mapped into every process at exec."""

    def __init__(self, clock: Clock, code: list[tuple[str, bytes]] | None = None) -> None:
        self.image = build_image(code if code is not None else prebuilt_code(), os.uname().release)
        self.backing = Backing(len(self.image.data), label="[vdso]")
        self.backing.view(0, len(self.image.data))[:] = self.image.data
        self.backing.frozen = True  # its bytes never change: shared by every process
        self.vvar = VvarPage()
        self.clock = clock
        clock.publish = self.vvar.publish
        self.vvar.publish(clock.timekeeping)

    def symbol_at(self, offset: int) -> str:
        """'__vdso_time+0x1c' for an offset in the image (crash reports), or ''."""
        name, start = max(((name, at) for name, at in self.image.symbols.items()
                           if name.startswith("__vdso_") and at <= offset), key=lambda item: item[1],
                          default=("", 0))
        return f"{name}+{offset - start:#x}" if name and offset > start else name

    def install(self, mm: MM) -> int:
        """map_vdso: [vvar] and, right above it, [vdso], where mmap would put them (after
        the interpreter, as binfmt_elf does). Returns the image's address: AT_SYSINFO_EHDR."""
        self.clock.calibrate()  # (publishes the first anchoring)
        size = len(self.image.data)
        start = mm.choose_address(0, VVAR_SIZE + size, 0)
        mm.map_backing(start, VVAR_SIZE, PROT_READ, MAP_SHARED, self.vvar.backing, 0, "[vvar]")
        mm.map_backing(start + VVAR_SIZE, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, self.backing, 0, "[vdso]")
        return start + VVAR_SIZE
