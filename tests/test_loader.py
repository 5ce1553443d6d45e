"""pykern.loader without Unicorn: load plans, #! scripts, auxv and the initial stack.

Real binaries are compiled here with gcc (-static and -static-pie) and read back with
pyelftools as the independent oracle; malformed inputs are built by hand and by
mutating a real binary. The stack layout is also checked against one measured on Linux.
"""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

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
    EACCES,
    ENOEXEC,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    page_down,
    page_up,
)
from pykern.loader import (
    ET_DYN,
    ET_EXEC,
    ExecFormatError,
    FileCopy,
    LoadPlan,
    Mapping,
    StackImage,
    build_stack,
    make_auxv,
    parse_shebang,
    plan_elf,
    script_argv,
)

PROGRAM = r"""
#include <stdio.h>
static char big_bss[3 * 4096 + 123];
int initialised = 42;
int main(int argc, char **argv) {
    big_bss[argc] = (char)initialised;
    printf("%d\n", big_bss[1]);
    return 0;
}
"""

STACK_TOP = 0x7FFFFFFFF000
REQUIRED_AUXV = [
    AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID,
    AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP, AT_HWCAP2, AT_CLKTCK, AT_PLATFORM,
    AT_EXECFN, AT_NULL,
]  # fmt: skip
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4


# --- fixtures: real binaries -----------------------------------------------------------


def _compile(tmp: Path, name: str, *flags: str) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not available")
    src = tmp / "prog.c"
    src.write_text(PROGRAM)
    out = tmp / name
    subprocess.run(
        ["gcc", "-O2", *flags, "-o", str(out), str(src)], check=True, timeout=60, capture_output=True
    )
    return out.read_bytes()


@pytest.fixture(scope="module")
def static_bin(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _compile(tmp_path_factory.mktemp("static"), "prog", "-static")


@pytest.fixture(scope="module")
def pie_bin(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _compile(tmp_path_factory.mktemp("pie"), "prog_pie", "-static-pie", "-fPIE")


def _segments(data: bytes, p_type: str = "PT_LOAD") -> list:
    elf = ELFFile(io.BytesIO(data))
    return [seg.header for seg in elf.iter_segments() if seg["p_type"] == p_type]


def _expected_prot(flags: int) -> int:
    return (
        (PROT_READ if flags & PF_R else 0)
        | (PROT_WRITE if flags & PF_W else 0)
        | (PROT_EXEC if flags & PF_X else 0)
    )


def _prot_at(plan: LoadPlan, address: int) -> int | None:
    for m in plan.mappings:
        if m.start <= address < m.end:
            return m.prot
    return None


def _check_plan_invariants(plan: LoadPlan) -> None:
    previous_end = 0
    for m in plan.mappings:
        assert m.start % PAGE_SIZE == 0 and m.end % PAGE_SIZE == 0
        assert previous_end <= m.start < m.end
        previous_end = m.end
    for c in plan.copies:  # every copied byte lands in a mapping
        assert _prot_at(plan, c.vaddr) is not None and _prot_at(plan, c.vaddr + c.size - 1) is not None
    assert plan.brk_start % PAGE_SIZE == 0
    assert plan.brk_start >= plan.mappings[-1].end


# --- real static binary ----------------------------------------------------------------


def test_static_plan_matches_pyelftools(static_bin: bytes) -> None:
    plan = plan_elf(static_bin)
    elf = ELFFile(io.BytesIO(static_bin))
    loads = _segments(static_bin)
    assert plan.e_type == ET_EXEC and plan.load_bias == 0
    assert plan.entry == elf.header.e_entry
    assert (plan.phent, plan.phnum) == (56, elf.header.e_phnum)
    assert plan.interp is None
    assert plan.exec_stack is False  # gcc emits PT_GNU_STACK RW
    assert plan.copies == tuple(FileCopy(s.p_vaddr, s.p_offset, s.p_filesz) for s in loads if s.p_filesz)
    for s in loads:  # every page of every segment is mapped with at least its protection
        want = _expected_prot(s.p_flags)
        for page in range(page_down(s.p_vaddr), page_up(s.p_vaddr + s.p_memsz), PAGE_SIZE):
            prot = _prot_at(plan, page)
            assert prot is not None and prot & want == want
    mapped = sum(m.end - m.start for m in plan.mappings)
    pages = {p for s in loads for p in range(page_down(s.p_vaddr), page_up(s.p_vaddr + s.p_memsz), PAGE_SIZE)}
    assert mapped == len(pages) * PAGE_SIZE
    assert plan.brk_start == page_up(max(s.p_vaddr + s.p_memsz for s in loads))
    _check_plan_invariants(plan)


def test_static_phdr_addr_points_at_program_headers(static_bin: bytes) -> None:
    plan = plan_elf(static_bin)
    e_phoff = ELFFile(io.BytesIO(static_bin)).header.e_phoff
    copy = next(c for c in plan.copies if c.vaddr <= plan.phdr_addr < c.vaddr + c.size)
    assert copy.offset + (plan.phdr_addr - copy.vaddr) == e_phoff


def test_static_bss_is_mapped_not_copied(static_bin: bytes) -> None:
    plan = plan_elf(static_bin)
    rw = next(s for s in _segments(static_bin) if s.p_memsz > s.p_filesz)
    file_end, mem_end = rw.p_vaddr + rw.p_filesz, rw.p_vaddr + rw.p_memsz
    assert page_up(mem_end) - page_down(file_end) > PAGE_SIZE  # the test program has whole bss pages
    # The partial page after the file data, and the whole bss pages, are mapped writable...
    for address in (file_end, mem_end - 1, page_up(file_end)):
        assert _prot_at(plan, address) == PROT_READ | PROT_WRITE
    # ... but no copy writes there: they stay zero.
    for c in plan.copies:
        assert c.vaddr + c.size <= file_end or c.vaddr >= page_up(mem_end)
    assert plan.brk_start == page_up(mem_end)


# --- real static-pie binary ------------------------------------------------------------


def test_static_pie_is_placed_at_pie_base(pie_bin: bytes) -> None:
    plan = plan_elf(pie_bin)
    elf = ELFFile(io.BytesIO(pie_bin))
    loads = _segments(pie_bin)
    lowest = page_down(min(s.p_vaddr for s in loads))
    assert plan.e_type == ET_DYN and plan.interp is None
    assert plan.load_bias == 0x555555554000 - lowest
    assert plan.mappings[0].start == 0x555555554000
    assert plan.entry == elf.header.e_entry + plan.load_bias
    assert plan.copies == tuple(
        FileCopy(s.p_vaddr + plan.load_bias, s.p_offset, s.p_filesz) for s in loads if s.p_filesz
    )
    assert plan.brk_start == page_up(max(s.p_vaddr + s.p_memsz for s in loads) + plan.load_bias)
    _check_plan_invariants(plan)

    moved = plan_elf(pie_bin, pie_base=0x7F0000000000)
    assert moved.mappings[0].start == 0x7F0000000000
    assert moved.entry - moved.load_bias == plan.entry - plan.load_bias
    with pytest.raises(ValueError):
        plan_elf(pie_bin, pie_base=0x1234)


# --- hand-built ELF images -------------------------------------------------------------


def make_elf(
    phdrs: list[tuple[int, int, int, int, int, int]],
    *,
    e_type: int = 2,
    machine: int = 62,
    entry: int = 0x401000,
    ei_class: int = 2,
    ei_data: int = 1,
    phnum: int | None = None,
    phentsize: int = 56,
    phoff: int = 64,
    size: int = 0x3000,
) -> bytes:
    """An ELF64 image of `size` bytes: header, program headers (type, flags, offset,
    vaddr, filesz, memsz), and a payload of 0xAA bytes."""
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1]) + bytes(9)
    header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        ident,
        e_type,
        machine,
        1,
        entry,
        phoff,
        0,
        0,
        64,
        phentsize,
        len(phdrs) if phnum is None else phnum,
        64,
        0,
        0,
    )
    table = b"".join(
        struct.pack("<IIQQQQQQ", t, f, o, v, v, fs, ms, PAGE_SIZE) for t, f, o, v, fs, ms in phdrs
    )
    image = bytearray(b"\xaa" * size)
    image[:64] = header
    image[phoff : phoff + len(table)] = table
    return bytes(image)


TEXT = (PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x1800, 0x1800)


def test_handmade_minimal_plan() -> None:
    data = make_elf([TEXT, (PT_LOAD, PF_R | PF_W, 0x1800, 0x401800, 0x100, 0x3000)])
    plan = plan_elf(data)
    # 0x401000 is shared by text and data: one page with the union of protections.
    assert plan.mappings == (
        Mapping(0x400000, 0x401000, PROT_READ | PROT_EXEC),
        Mapping(0x401000, 0x402000, PROT_READ | PROT_WRITE | PROT_EXEC),
        Mapping(0x402000, 0x405000, PROT_READ | PROT_WRITE),
    )
    assert plan.copies == (FileCopy(0x400000, 0, 0x1800), FileCopy(0x401800, 0x1800, 0x100))
    assert plan.brk_start == 0x405000
    assert plan.phdr_addr == 0x400040  # e_phoff inside the first PT_LOAD
    assert plan.exec_stack is True  # no PT_GNU_STACK


def test_handmade_gnu_stack_interp_and_pt_phdr() -> None:
    interp = b"/lib64/ld-linux-x86-64.so.2\0"
    data = bytearray(
        make_elf(
            [
                (PT_PHDR, PF_R, 0x2000, 0x402000, 0x100, 0x100),
                (PT_INTERP, PF_R, 0x2800, 0, len(interp), len(interp)),
                (PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x1000, 0x1000),  # e_phoff=64 not inside
                (PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0),
            ],
            entry=0x401000,
        )
    )
    data[0x2800 : 0x2800 + len(interp)] = interp
    plan = plan_elf(bytes(data))
    assert plan.interp == "/lib64/ld-linux-x86-64.so.2"
    assert plan.exec_stack is True
    assert plan.phdr_addr == 0x402000  # PT_PHDR when e_phoff is in no PT_LOAD
    no_x = make_elf([TEXT, (PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0)])
    assert plan_elf(no_x).exec_stack is False


def _corrupt(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _bad_inputs() -> dict[str, bytes]:
    good = make_elf([TEXT])
    phdr0 = 64
    return {
        "empty": b"",
        "magic only": b"\x7fELF",
        "short header": b"\x7fELF\x02\x01\x01" + bytes(20),
        "not elf": b"MZ" + bytes(200),
        "32-bit class": make_elf([TEXT], ei_class=1),
        "big endian": make_elf([TEXT], ei_data=2),
        "i386 machine": make_elf([TEXT], machine=3),
        "ET_REL": make_elf([TEXT], e_type=1),
        "ET_CORE": make_elf([TEXT], e_type=4),
        "phoff past EOF": _corrupt(good, 32, "<Q", 0x10000),
        "phdrs truncated": good[:100],
        "huge phnum": make_elf([TEXT], phnum=0xFFFF),
        "zero phnum": make_elf([TEXT], phnum=0),
        "bad phentsize": make_elf([TEXT], phentsize=32),
        "no PT_LOAD": make_elf([(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0)]),
        "filesz > memsz": make_elf([(PT_LOAD, PF_R, 0, 0x400000, 0x2000, 0x1000)]),
        "segment past EOF": make_elf([(PT_LOAD, PF_R, 0, 0x400000, 0x5000, 0x5000)]),
        "offset not congruent": make_elf([(PT_LOAD, PF_R, 0x10, 0x400000, 0x100, 0x100)]),
        "vaddr wraps": make_elf([(PT_LOAD, PF_R, 0, 0xFFFFFFFFFFFFF000, 0x1000, 0x2000)]),
        "kernel half": make_elf([(PT_LOAD, PF_R, 0, 0xFFFF800000000000, 0x1000, 0x1000)]),
        "entry in kernel half": make_elf([TEXT], entry=0xFFFFFFFF81000000),
        "interp unterminated": make_elf([TEXT, (PT_INTERP, PF_R, 0x100, 0, 16, 16)]),
        "interp past EOF": make_elf([TEXT, (PT_INTERP, PF_R, 0x2FF0, 0, 0x100, 0x100)]),
        "interp too long": make_elf([TEXT, (PT_INTERP, PF_R, 0, 0, 5000, 5000)], size=0x3000),
        "huge p_offset": _corrupt(good, phdr0 + 8, "<Q", 0xFFFFFFFFFFFFFFFF),
    }


@pytest.mark.parametrize("name", list(_bad_inputs()))
def test_malformed_elf_is_enoexec(name: str) -> None:
    with pytest.raises(ExecFormatError) as info:
        plan_elf(_bad_inputs()[name])
    assert info.value.errno == ENOEXEC
    assert info.value.message and "\n" not in info.value.message


def test_real_binary_truncated_and_corrupted(static_bin: bytes) -> None:
    """Truncations and random byte flips of a real binary: a plan or ENOEXEC, nothing else."""
    phoff = struct.unpack_from("<Q", static_bin, 32)[0]
    file_end = max(s.p_offset + s.p_filesz for s in _segments(static_bin))
    for cut in (0, 3, 4, 16, 63, 64, phoff + 20, 0x1000, len(static_bin) // 2, file_end - 1):
        with pytest.raises(ExecFormatError) as info:
            plan_elf(static_bin[:cut])
        assert info.value.errno == ENOEXEC
    rng = random.Random(1234)
    head = 64 + 56 * struct.unpack_from("<H", static_bin, 56)[0]
    outcomes = {"plan": 0, "refused": 0}
    for _ in range(400):
        data = bytearray(static_bin)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(head)] = rng.randrange(256)
        try:
            _check_plan_invariants(plan_elf(bytes(data)))
            outcomes["plan"] += 1
        except ExecFormatError as exc:
            assert exc.errno == ENOEXEC
            outcomes["refused"] += 1
    assert outcomes["plan"] and outcomes["refused"]


def test_exec_format_error_fields() -> None:
    exc = ExecFormatError(ENOEXEC, "not an ELF file")
    assert (exc.errno, exc.message) == (ENOEXEC, "not an ELF file")
    assert "ENOEXEC" in str(exc) and "not an ELF file" in str(exc)


# --- #! scripts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"#!/bin/sh\necho hi\n", ("/bin/sh", None)),
        (b"#!/bin/sh -e\n", ("/bin/sh", "-e")),
        (b"#! \t/usr/bin/env  python3 -u  \t\nprint()\n", ("/usr/bin/env", "python3 -u")),
        (b"#!/bin/sh\t-x\t\n", ("/bin/sh", "-x")),
        (b"#!/bin/sh   \n", ("/bin/sh", None)),
        (b"#!/bin/awk -f", ("/bin/awk", "-f")),  # no newline at EOF
        (b"#!/bin/sh\r\n", ("/bin/sh\r", None)),  # only spaces and tabs are blanks
        (b"#!/bin/sh -c\0junk\n", ("/bin/sh", "-c")),  # C strings end at NUL
        (b"#!/bin/sh \0 z\n", ("/bin/sh", "")),  # the argument is the empty C string
        (b"#!/bin/sh " + b"y" * 300 + b"\n", ("/bin/sh", "y" * (255 - 10))),  # cut at byte 255
        (b"#!/bin/sh" + b" " * 300 + b"\n", ("/bin/sh", None)),
        (b"#!/bin/\xffsh\n", ("/bin/\udcffsh", None)),  # undecodable bytes survive
    ],
)
def test_parse_shebang(data: bytes, expected: tuple[str, str | None]) -> None:
    assert parse_shebang(data) == expected


@pytest.mark.parametrize("data", [b"", b"#", b"\x7fELF", b"# !/bin/sh\n", b" #!/bin/sh\n"])
def test_not_a_script(data: bytes) -> None:
    assert parse_shebang(data) is None


@pytest.mark.parametrize(
    ("data", "errno"),
    [
        (b"#!\n", ENOEXEC),
        (b"#! \t \n", ENOEXEC),
        (b"#!" + b" " * 300, ENOEXEC),  # all blanks, no newline
        (b"#!/" + b"a" * 300, ENOEXEC),  # interpreter name cut by the 256-byte buffer
        (b"#!", EACCES),  # "#!" alone names "": Linux opens the cwd, a directory (measured)
        (b"#!\0/bin/sh\n", EACCES),
    ],
)
def test_bad_shebang(data: bytes, errno: int) -> None:
    with pytest.raises(ExecFormatError) as info:
        parse_shebang(data)
    assert info.value.errno == errno


def test_script_argv() -> None:
    argv = [b"./run", b"a", b"b c"]
    assert script_argv("/bin/sh", None, "./run.sh", argv) == [b"/bin/sh", b"./run.sh", b"a", b"b c"]
    assert script_argv("/usr/bin/env", "python3 -u", "/x/s.py", argv) == [
        b"/usr/bin/env",
        b"python3 -u",
        b"/x/s.py",
        b"a",
        b"b c",
    ]
    assert script_argv("/bin/\udcffsh", None, "s", []) == [b"/bin/\xffsh", b"s"]


# --- auxv and the initial stack --------------------------------------------------------


def _small_plan() -> LoadPlan:
    return plan_elf(make_elf([TEXT]))


def _auxv(plan: LoadPlan) -> list[tuple[int, int]]:
    return make_auxv(plan, uid=1000, euid=1001, gid=100, egid=101, hwcap=0x178BFBFF, hwcap2=2)


def _c_string(image: StackImage, address: int) -> bytes:
    offset = address - image.base
    return image.data[offset : image.data.index(b"\0", offset)]


def _parse_stack(image: StackImage) -> tuple[list[bytes], list[bytes], list[tuple[int, int]]]:
    """Read the image back the way a libc _start would."""
    words = image.data
    offset = image.sp - image.base
    (argc,) = struct.unpack_from("<Q", words, offset)
    pointers = struct.unpack_from(f"<{argc + 1}Q", words, offset + 8)
    assert pointers[-1] == 0
    argv = [_c_string(image, p) for p in pointers[:-1]]
    offset += 8 * (argc + 2)
    envp = []
    while (pointer := struct.unpack_from("<Q", words, offset)[0]) != 0:
        envp.append(_c_string(image, pointer))
        offset += 8
    offset += 8
    auxv = []
    while True:
        key, value = struct.unpack_from("<QQ", words, offset)
        auxv.append((key, value))
        offset += 16
        if key == AT_NULL:
            return argv, envp, auxv


@pytest.mark.parametrize("argc", [0, 1, 2, 3])
@pytest.mark.parametrize("envc", [0, 1, 2])
def test_stack_round_trip(argc: int, envc: int) -> None:
    plan = _small_plan()
    argv = [b"prog", b"-x", b"hello world"][:argc]
    envp = [b"A=1", b"PATH=/bin"][:envc]
    random16 = bytes(range(16))
    image = build_stack(STACK_TOP, argv, envp, _auxv(plan), execfn=b"/tmp/prog", random16=random16)
    assert image.sp % 16 == 0
    assert image.base == image.sp == STACK_TOP - len(image.data)
    assert image.data[-8:] == bytes(8)  # end marker
    got_argv, got_envp, auxv = _parse_stack(image)
    assert (got_argv, got_envp) == (argv, envp)
    assert [_c_string(image, a) for a in image.argv_addrs] == argv
    assert [_c_string(image, a) for a in image.envp_addrs] == envp
    keys = [k for k, _ in auxv]
    assert set(REQUIRED_AUXV) <= set(keys) and keys[-1] == AT_NULL and keys.count(AT_NULL) == 1
    values = dict(auxv)
    assert values[AT_PHDR] == plan.phdr_addr and values[AT_ENTRY] == plan.entry
    assert values[AT_PHENT] == 56 and values[AT_PHNUM] == plan.phnum
    assert values[AT_PAGESZ] == PAGE_SIZE and values[AT_BASE] == 0 and values[AT_CLKTCK] == 100
    assert (values[AT_UID], values[AT_EUID], values[AT_GID], values[AT_EGID]) == (1000, 1001, 100, 101)
    assert (values[AT_HWCAP], values[AT_HWCAP2], values[AT_SECURE]) == (0x178BFBFF, 2, 0)
    assert values[AT_RANDOM] == image.random_addr
    offset = image.random_addr - image.base
    assert image.data[offset : offset + 16] == random16
    assert _c_string(image, values[AT_EXECFN]) == b"/tmp/prog" and values[AT_EXECFN] == image.execfn_addr
    assert _c_string(image, values[AT_PLATFORM]) == b"x86_64" and values[AT_PLATFORM] == image.platform_addr
    # Strings: argv lowest, then envp, then execfn just under the end marker.
    assert image.execfn_addr + len(b"/tmp/prog") + 1 + 8 == STACK_TOP


def test_auxv_order_is_create_elf_tables_order() -> None:
    image = build_stack(STACK_TOP, [b"p"], [], _auxv(_small_plan()), execfn=b"p", random16=bytes(16))
    keys = [k for k, _ in _parse_stack(image)[2]]
    assert keys == [
        AT_HWCAP,
        AT_PAGESZ,
        AT_CLKTCK,
        AT_PHDR,
        AT_PHENT,
        AT_PHNUM,
        AT_BASE,
        AT_FLAGS,
        AT_ENTRY,
        AT_UID,
        AT_EUID,
        AT_GID,
        AT_EGID,
        AT_SECURE,
        AT_RANDOM,
        AT_HWCAP2,
        AT_EXECFN,
        AT_PLATFORM,
        AT_NULL,
    ]
    with_minsig = make_auxv(_small_plan(), uid=0, euid=0, gid=0, egid=0, hwcap=0, minsigstksz=2048)
    assert with_minsig[0] == (AT_MINSIGSTKSZ, 2048)


def test_stack_without_platform() -> None:
    image = build_stack(
        STACK_TOP, [b"p"], [], _auxv(_small_plan()), execfn=b"p", platform=b"", random16=bytes(16)
    )
    assert image.platform_addr == 0
    assert AT_PLATFORM not in dict(_parse_stack(image)[2])


def test_stack_matches_linux_layout() -> None:
    """Golden layout measured on Linux 6.18 (setarch -R, env -i A=1 BB=hello ./sd x yy 'zz z'):
    the addresses a static binary saw for sp, argv, envp and the stack-pointing auxv."""
    host_auxv = [
        (33, 0x7FFFF7FC1000),
        (51, 11952),
        (16, 0x1F8BFBFF),
        (6, 4096),
        (17, 100),
        (3, 0x400040),
        (4, 56),
        (5, 10),
        (7, 0),
        (8, 0),
        (9, 0x4017D0),
        (11, 0),
        (12, 0),
        (13, 0),
        (14, 0),
        (23, 0),
        (26, 2),
        (27, 28),
        (28, 32),
    ]
    image = build_stack(
        STACK_TOP,
        [b"./sd", b"x", b"yy", b"zz z"],
        [b"A=1", b"BB=hello"],
        host_auxv,
        execfn=b"./sd",
        random16=bytes(16),
    )
    assert image.sp == 140737488350720
    assert image.argv_addrs == (140737488351191, 140737488351196, 140737488351198, 140737488351201)
    assert image.envp_addrs == (140737488351206, 140737488351210)
    assert (image.random_addr, image.execfn_addr, image.platform_addr) == (
        140737488351161,
        140737488351219,
        140737488351177,
    )
    keys = [k for k, _ in _parse_stack(image)[2]]
    assert keys == [33, 51, 16, 6, 17, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 23, 25, 26, 31, 15, 27, 28, 0]


def test_stack_rejects_caller_supplied_stack_keys() -> None:
    with pytest.raises(ValueError):
        build_stack(STACK_TOP, [b"p"], [], [(AT_RANDOM, 1)], execfn=b"p", random16=bytes(16))
    with pytest.raises(ValueError):
        build_stack(STACK_TOP, [b"p"], [], [], execfn=b"p", random16=bytes(15))


def _expect_e2big(argv: list[bytes], envp: list[bytes], **kwargs: int) -> None:
    with pytest.raises(ExecFormatError) as info:
        build_stack(STACK_TOP, argv, envp, [], execfn=b"p", random16=bytes(16), **kwargs)
    assert info.value.errno == E2BIG


def test_e2big_single_string() -> None:
    longest = b"a" * (32 * PAGE_SIZE - 1)  # 131072 with its NUL: allowed
    image = build_stack(STACK_TOP, [b"p", longest], [longest], [], execfn=b"p", random16=bytes(16))
    assert _parse_stack(image)[0][1] == longest
    _expect_e2big([b"p", longest + b"a"], [])
    _expect_e2big([b"p"], [b"X=" + longest])


def test_e2big_total() -> None:
    chunk = b"b" * 100_000
    fits = [chunk] * 20  # ~2.0 MB < 2 MiB budget
    build_stack(STACK_TOP, fits, [], [], execfn=b"p", random16=bytes(16))
    _expect_e2big(fits, [chunk] * 2)  # ~2.2 MB of strings
    _expect_e2big([b""] * 270_000, [])  # pointers alone exceed the budget
    build_stack(
        STACK_TOP, fits, [chunk] * 2, [], execfn=b"p", random16=bytes(16), rlimit_stack=64 * 1024 * 1024
    )  # budget min(6 MiB, rlimit/4)
    _expect_e2big([chunk] * 2, [], rlimit_stack=512 * 1024)  # budget floor ARG_MAX = 128 KiB
