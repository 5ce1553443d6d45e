"""The initial process stack: auxiliary vector and the image execve leaves at the top.

Owns the byte layout of fs/exec.c (strings copied by do_execveat_common) plus
fs/binfmt_elf.c create_elf_tables(), x86-64 psABI 3.4.1 "Initial Stack and Register
State". Built in host memory and returned as one bytes object, written once by the
kernel. From high to low addresses:

    stack_top - 8     8-byte NULL end marker
                      execfn string (AT_EXECFN)
                      envp strings, then argv strings (argv[0] lowest)
    (align to 16)     platform string (AT_PLATFORM), 16 random bytes (AT_RANDOM)
    (padding)         auxv pairs ending with AT_NULL
                      envp pointers, NULL; argv pointers, NULL
    sp (16-aligned)   argc

Differences from Linux: no stack randomisation (arch_align_stack's random offset),
AT_MINSIGSTKSZ only when the caller supplies it. AT_SYSINFO_EHDR (the vDSO) is the
kernel's to add (pykern/exec.py puts it first, as ARCH_DLINFO does).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pykern.abi import (
    AT_BASE,
    AT_CLKTCK,
    AT_EGID,
    AT_ENTRY,
    AT_EUID,
    AT_EXECFN,
    AT_FLAGS,
    AT_GID,
    AT_HWCAP,
    AT_HWCAP2,
    AT_MINSIGSTKSZ,
    AT_NULL,
    AT_PAGESZ,
    AT_PHDR,
    AT_PHENT,
    AT_PHNUM,
    AT_PLATFORM,
    AT_RANDOM,
    AT_SECURE,
    AT_UID,
    E2BIG,
    MAX_ARG_STRLEN,
    PAGE_SIZE,
    USER_HZ,
)

from .elf import LoadPlan
from .errors import ExecFormatError

# include/uapi/linux/limits.h ARG_MAX: the floor of the argv+envp budget.
ARG_MAX = 131072
# include/uapi/linux/resource.h _STK_LIM: the default RLIMIT_STACK soft limit (8 MiB).
_STK_LIM = 8 * 1024 * 1024
WORD = 8

# Auxv entries that only build_stack can fill in (they point into the stack image).
_STACK_KEYS = frozenset({AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL})


class StackImage(NamedTuple):
    sp: int  # initial RSP: points at argc; 16-byte aligned (x86-64 psABI 3.4.1)
    data: bytes  # bytes to write at [base, stack_top)
    base: int  # = stack_top - len(data) (== sp)
    argv_addrs: tuple[int, ...]
    envp_addrs: tuple[int, ...]
    random_addr: int
    execfn_addr: int
    platform_addr: int  # 0 when no platform string was given


def make_auxv(
    plan: LoadPlan,
    *,
    uid: int,
    euid: int,
    gid: int,
    egid: int,
    hwcap: int,
    hwcap2: int = 0,
    clktck: int = USER_HZ,
    secure: int = 0,
    minsigstksz: int | None = None,
    base: int = 0,
) -> list[tuple[int, int]]:
    """The auxiliary vector in create_elf_tables() order, without the entries that point
    into the stack (AT_RANDOM, AT_EXECFN, AT_PLATFORM) and AT_NULL: build_stack adds those
    at their Linux positions. AT_BASE is the interpreter's load address (0: none)."""
    auxv: list[tuple[int, int]] = []
    if minsigstksz is not None:  # ARCH_DLINFO on x86 (Linux >= 5.14)
        auxv.append((AT_MINSIGSTKSZ, minsigstksz))
    auxv += [
        (AT_HWCAP, hwcap),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, clktck),
        (AT_PHDR, plan.phdr_addr),
        (AT_PHENT, plan.phent),
        (AT_PHNUM, plan.phnum),
        (AT_BASE, base),
        (AT_FLAGS, 0),
        (AT_ENTRY, plan.entry),
        (AT_UID, uid),
        (AT_EUID, euid),
        (AT_GID, gid),
        (AT_EGID, egid),
        (AT_SECURE, secure),
        # AT_RANDOM goes here
        (AT_HWCAP2, hwcap2),
        # AT_EXECFN, AT_PLATFORM go here
    ]
    return auxv


def check_arg_limits(
    argv: list[bytes], envp: list[bytes], execfn: bytes, rlimit_stack: int = _STK_LIM
) -> None:
    """E2BIG as execve(2) decides it (fs/exec.c bprm_stack_limits(), copy_strings()).

    Each string with its NUL must fit in MAX_ARG_STRLEN. All strings (execfn, envp, argv)
    must fit in a quarter of RLIMIT_STACK (at most 3/4 of _STK_LIM, at least ARG_MAX),
    less one pointer per argv (at least one) and envp entry.
    """
    for kind, strings in (("argument", argv), ("environment string", envp), ("filename", [execfn])):
        for s in strings:
            if len(s) + 1 > MAX_ARG_STRLEN:
                raise ExecFormatError(E2BIG, f"{kind} of {len(s) + 1} bytes exceeds MAX_ARG_STRLEN")
    limit = max(min(_STK_LIM // 4 * 3, rlimit_stack // 4), ARG_MAX)
    ptr_size = (max(len(argv), 1) + len(envp)) * WORD
    total = sum(len(s) + 1 for s in argv) + sum(len(s) + 1 for s in envp) + len(execfn) + 1
    if ptr_size >= limit or total > limit - ptr_size:
        raise ExecFormatError(
            E2BIG, f"argument list too long: {total} bytes of strings + {ptr_size} of pointers > {limit}"
        )


def build_stack(
    stack_top: int,
    argv: list[bytes],
    envp: list[bytes],
    auxv: list[tuple[int, int]],
    *,
    execfn: bytes,
    platform: bytes = b"x86_64",
    random16: bytes,
    rlimit_stack: int = _STK_LIM,
) -> StackImage:
    """Lay out the initial stack below `stack_top` (see the module docstring).

    `auxv` comes from make_auxv(); AT_RANDOM is inserted after AT_SECURE, AT_EXECFN and
    AT_PLATFORM after AT_HWCAP2 (create_elf_tables() order), AT_NULL last. An empty
    `platform` omits AT_PLATFORM, as Linux does without ELF_PLATFORM. `rlimit_stack` is
    the RLIMIT_STACK soft limit that sizes the E2BIG budget.
    """
    if stack_top % 16:
        raise ValueError(f"stack_top {stack_top:#x} is not 16-byte aligned")
    if len(random16) != 16:
        raise ValueError("random16 must be 16 bytes")
    if any(key in _STACK_KEYS for key, _ in auxv):
        raise ValueError("auxv must not contain AT_RANDOM, AT_EXECFN, AT_PLATFORM or AT_NULL")
    for s in (*argv, *envp, execfn, platform):
        if b"\0" in s:
            raise ValueError(f"NUL inside a stack string: {s[:40]!r}")
    check_arg_limits(argv, envp, execfn, rlimit_stack)

    # Strings, top down, as do_execveat_common() copies them: execfn, envp, argv; each
    # list is copied last-to-first, so element 0 ends up lowest.
    placed: list[tuple[int, bytes]] = []  # (address, bytes) to write
    p = stack_top - WORD  # the NULL end marker occupies the top word
    p -= len(execfn) + 1
    execfn_addr = p
    placed.append((p, execfn + b"\0"))
    envp_addrs = _place_strings(envp, p, placed)
    p = envp_addrs[0] if envp_addrs else p
    argv_addrs = _place_strings(argv, p, placed)
    p = argv_addrs[0] if argv_addrs else p

    # create_elf_tables(): arch_align_stack() (16-byte, no random offset), then the
    # platform string and the AT_RANDOM bytes.
    p &= ~15
    platform_addr = 0
    if platform:
        p -= len(platform) + 1
        platform_addr = p
        placed.append((p, platform + b"\0"))
    p -= 16
    random_addr = p
    placed.append((p, random16))

    full_auxv = _complete_auxv(auxv, random_addr, execfn_addr, platform_addr)
    # STACK_ROUND(): argc, argv[]+NULL, envp[]+NULL, auxv sit directly below the random
    # bytes, moved down together so that sp % 16 == 0 (psABI 3.4.1); the padding lies
    # between auxv and the random bytes.
    words = [len(argv), *argv_addrs, 0, *envp_addrs, 0]
    for key, value in full_auxv:
        words += [key, value]
    sp = (p - len(words) * WORD) & ~15

    image = bytearray(stack_top - sp)
    struct.pack_into(f"<{len(words)}Q", image, 0, *(w & 0xFFFFFFFFFFFFFFFF for w in words))
    for address, blob in placed:
        image[address - sp : address - sp + len(blob)] = blob
    return StackImage(
        sp=sp,
        data=bytes(image),
        base=sp,
        argv_addrs=tuple(argv_addrs),
        envp_addrs=tuple(envp_addrs),
        random_addr=random_addr,
        execfn_addr=execfn_addr,
        platform_addr=platform_addr,
    )


def _place_strings(strings: list[bytes], top: int, placed: list[tuple[int, bytes]]) -> list[int]:
    """Put `strings` contiguously just below `top`, first string lowest; their addresses."""
    address = top - sum(len(s) + 1 for s in strings)
    addresses = []
    for s in strings:
        addresses.append(address)
        placed.append((address, s + b"\0"))
        address += len(s) + 1
    return addresses


def _complete_auxv(
    auxv: list[tuple[int, int]], random_addr: int, execfn_addr: int, platform_addr: int
) -> list[tuple[int, int]]:
    """Insert the stack-pointing entries where create_elf_tables() emits them."""
    random_entry = [(AT_RANDOM, random_addr)]
    tail_entries = [(AT_EXECFN, execfn_addr)] + ([(AT_PLATFORM, platform_addr)] if platform_addr else [])
    result: list[tuple[int, int]] = []
    for key, value in auxv:
        result.append((key, value))
        if key == AT_SECURE and random_entry:
            result += random_entry
            random_entry = []
        elif key == AT_HWCAP2 and tail_entries:
            result += random_entry + tail_entries
            random_entry, tail_entries = [], []
    return result + random_entry + tail_entries + [(AT_NULL, 0)]
