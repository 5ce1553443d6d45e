"""pykern.ucbind (pykern's own libunicorn binding) against the official `unicorn` binding:
the same program gives the same registers; hooks, errors and contexts behave alike; and
pykern's constants are the installed package's."""

from __future__ import annotations

import subprocess
import sys
import weakref

import pytest
import unicorn
from unicorn import x86_const

from pykern import uc_const as X
from pykern.hostmem import Backing
from pykern.ucbind import RegisterBatch, Uc, UcError

CODE_AT = 0x10000
# mov rax, 0x1122334455667788; movq xmm0, rax; movq xmm1, rax; pslldq xmm1, 8; por xmm1, xmm0;
# mov eax, 39; syscall; int3
CODE = bytes.fromhex("48b88877665544332211" "66480f6ec0" "66480f6ec8" "660f73f908" "660febc8"
                     "b827000000" "0f05" "cc")
REGS = [X.UC_X86_REG_RAX, X.UC_X86_REG_EAX, X.UC_X86_REG_RIP, X.UC_X86_REG_EFLAGS, X.UC_X86_REG_FPCW,
        X.UC_X86_REG_MXCSR, X.UC_X86_REG_XMM0, X.UC_X86_REG_XMM1, X.UC_X86_REG_FS_BASE]


def run(make, hook_insn: int, hook_intr: int) -> tuple[list[tuple[int, object]], list[int], tuple, list[int]]:
    """Run CODE on an engine from `make`; (syscalls seen, interrupts, batch read, reads)."""
    memory = Backing(0x1000)
    uc = make()
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_ALL, memory.ptr)
    uc.mem_write(CODE_AT, CODE)
    uc.reg_write(X.UC_X86_REG_FS_BASE, 0x7000_0000_1000)
    syscalls: list[tuple[int, object]] = []
    interrupts: list[int] = []
    uc.hook_add(hook_insn, lambda u, data: syscalls.append((u.reg_read(X.UC_X86_REG_RAX), data)), "data",
                1, 0, X.UC_X86_INS_SYSCALL)
    uc.hook_add(hook_intr, lambda u, intno, data: interrupts.append(intno) or u.emu_stop())
    uc.emu_start(CODE_AT, 2**64 - 1)
    return syscalls, interrupts, tuple(uc.reg_read_batch(REGS)), [uc.reg_read(reg) for reg in REGS]


def test_same_results_as_the_official_binding() -> None:
    ours = run(lambda: Uc(X.UC_ARCH_X86, X.UC_MODE_64), X.UC_HOOK_INSN, X.UC_HOOK_INTR)
    theirs = run(lambda: unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64), unicorn.UC_HOOK_INSN,
                 unicorn.UC_HOOK_INTR)
    assert ours == theirs
    assert ours[0] == [(39, "data")] and ours[1] == [3]
    assert ours[3][REGS.index(X.UC_X86_REG_XMM1)] == 0x1122334455667788_1122334455667788  # all 128 bits


def test_register_widths_and_contexts() -> None:
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.reg_write(X.UC_X86_REG_RAX, -1)  # written as the low 64 bits, as the official binding does
    assert uc.reg_read(X.UC_X86_REG_RAX) == 2**64 - 1
    assert uc.reg_read(X.UC_X86_REG_EAX) == 2**32 - 1
    uc.reg_write(X.UC_X86_REG_XMM15, 1 << 127 | 5)
    uc.reg_write(X.UC_X86_REG_MXCSR, 0x1F80)
    saved = uc.context_save()
    uc.reg_write(X.UC_X86_REG_XMM15, 0)
    uc.reg_write(X.UC_X86_REG_RAX, 7)
    assert saved.reg_read(X.UC_X86_REG_XMM15) == 1 << 127 | 5
    assert saved.reg_read(X.UC_X86_REG_RAX) == 2**64 - 1
    saved.reg_write(X.UC_X86_REG_FS_BASE, 0x1234_5678_9ABC)
    uc.context_restore(saved)
    assert uc.reg_read_batch([X.UC_X86_REG_XMM15, X.UC_X86_REG_FS_BASE, X.UC_X86_REG_MXCSR]) == (
        1 << 127 | 5, 0x1234_5678_9ABC, 0x1F80)
    assert RegisterBatch([X.UC_X86_REG_RAX, X.UC_X86_REG_FS_BASE]).read(uc) == [2**64 - 1, 0x1234_5678_9ABC]
    with pytest.raises(ValueError):
        RegisterBatch([X.UC_X86_REG_XMM0])
    with pytest.raises(NotImplementedError):
        uc.reg_read(X.UC_X86_REG_ST0)


def test_errors_and_hook_exceptions() -> None:
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    with pytest.raises(UcError) as unmapped:
        uc.mem_read(0x5000, 4)
    assert unmapped.value.errno == X.UC_ERR_READ_UNMAPPED and "UC_ERR_READ_UNMAPPED" in str(unmapped.value)
    memory = Backing(0x1000)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_ALL, memory.ptr)
    with pytest.raises(UcError) as overlap:
        uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_ALL, memory.ptr)
    assert overlap.value.errno == X.UC_ERR_MAP
    uc.mem_write(CODE_AT, bytes.fromhex("488b0425efbead0e"))  # mov rax, [0xeadbeef]
    faults = []
    uc.hook_add(X.UC_HOOK_MEM_INVALID, lambda u, access, addr, size, value, data: faults.append((access, addr)))
    with pytest.raises(UcError) as fault:
        uc.emu_start(CODE_AT, 2**64 - 1)
    assert fault.value.errno == X.UC_ERR_READ_UNMAPPED and faults == [(X.UC_MEM_READ_UNMAPPED, 0xEADBEEF)]
    assert uc.mem_regions() == [(CODE_AT, CODE_AT + 0xFFF, X.UC_PROT_ALL)]

    def broken(u: Uc, data: object) -> None:
        raise RuntimeError("in a hook")

    uc.mem_write(CODE_AT, bytes.fromhex("0f05cc"))  # syscall; int3
    uc.ctl_remove_cache(CODE_AT, CODE_AT + 0x1000)
    uc.hook_add(X.UC_HOOK_INSN, broken, None, 1, 0, X.UC_X86_INS_SYSCALL)
    with pytest.raises(RuntimeError, match="in a hook"):  # stopped at once, raised by emu_start
        uc.emu_start(CODE_AT, 2**64 - 1)
    assert uc.reg_read(X.UC_X86_REG_RIP) == CODE_AT + 2


def test_the_engine_goes_with_its_last_reference() -> None:
    """Its hook callbacks do not keep it alive (no cycle): dropped, it is closed at once."""
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.hook_add(X.UC_HOOK_INTR, lambda u, intno, data: None)
    ref = weakref.ref(uc)
    del uc
    assert ref() is None


def test_constants_are_the_installed_packages() -> None:
    names = [name for name in dir(X) if name.startswith("UC_")]
    assert len(names) > 300
    for name in names:
        assert getattr(X, name) == getattr(x86_const, name, getattr(unicorn, name, None)), name


def test_the_unicorn_package_is_not_imported() -> None:
    code = "import sys, pykern.cli, pykern.kernel, pykern.syscalls.table; print(sorted(m for m in sys.modules if 'unicorn' in m))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_pykern_runs_on_its_own_libunicorn_build() -> None:
    """`make venv` builds libunicorn (tools/build_unicorn.py) into the venv, and pykern
    loads that one rather than the wheel's: without it, floating point runs 2x slower,
    a loop over more than 1 MiB refills the TLB on nearly every access, and a stop from
    another thread can re-run instructions (the next test)."""
    import os

    from pykern import ucbind

    if os.environ.get("LIBUNICORN_PATH"):
        pytest.skip("LIBUNICORN_PATH chooses the library")
    built = os.path.join(sys.prefix, "lib", "pykern-unicorn", ucbind.LIBRARY_NAME)
    assert os.path.isfile(built), "run `make venv`: it builds pykern's libunicorn"
    assert ucbind.LIBRARY_PATH == built


def test_a_stop_from_another_thread_resumes_exactly() -> None:
    """Unicorn's timeout stops the engine from a timer thread with uc_emu_stop, as
    pykern's host-signal watcher does. Each stop must land between instructions that
    either ran or did not: a loop of `inc rax; add rbx, 3; add qword [rdx], 1; inc rcx`
    stopped a few hundred times must end with all four counters in step. (The wheel's
    libunicorn re-runs the start of the block after a memory access: see
    tools/build_unicorn.py.)"""
    from pykern import ucbind

    if "pykern-unicorn" not in ucbind.LIBRARY_PATH:
        pytest.skip("only pykern's libunicorn build stops exactly")
    rounds = 20_000_000
    loop = bytes.fromhex("48ffc0" "4883c303" "48ff02" "48ffc1") + b"\x49\xb8" + rounds.to_bytes(8, "little")
    loop += bytes.fromhex("4c39c0")  # cmp rax, r8 (after mov r8, rounds)
    code = loop + bytes([0x75, (-(len(loop) + 2)) & 0xFF]) + b"\xf4"  # jne to the top; hlt
    memory = Backing(0x2000)
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, memory.ptr)
    uc.mem_map_ptr(CODE_AT + 0x1000, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, memory.ptr + 0x1000)
    uc.mem_write(CODE_AT, code)
    uc.reg_write(X.UC_X86_REG_RDX, CODE_AT + 0x1000)
    end = CODE_AT + len(code) - 1  # the hlt
    rip, stops = CODE_AT, 0
    while rip != end:
        uc.emu_start(rip, end, timeout=200)  # microseconds
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        stops += 1
    assert stops > 10
    counters = (uc.reg_read(X.UC_X86_REG_RAX), uc.reg_read(X.UC_X86_REG_RBX) // 3,
                int.from_bytes(uc.mem_read(CODE_AT + 0x1000, 8), "little"), uc.reg_read(X.UC_X86_REG_RCX))
    assert counters == (rounds,) * 4, f"after {stops} stops"


def test_the_instruction_budget_stops_at_block_boundaries() -> None:
    """pykern's preemption (Trap.run_user): with an instruction budget the engine leaves
    at the first translation block boundary after the budget is spent, charged per block
    in the blocks' own code (tools/build_unicorn.py), with no per-instruction hook. A loop
    of five instructions (`inc rax; add qword [rdx], 1; inc rcx; cmp rax, r8; jne top`),
    one block, run with a budget of 1000 stops every 200 iterations exactly, at the top
    of the loop, with all counters in step, and budget() tells a spent budget (<= 0)
    from a stop at the end. Fails with Unicorn's own library, which has no budget."""
    from pykern import ucbind

    if "pykern-unicorn" not in ucbind.LIBRARY_PATH:
        pytest.skip("only pykern's libunicorn build has the instruction budget")
    assert ucbind.HAS_BUDGET, "pykern's libunicorn lacks uc_pykern_set_budget: rebuild it (make venv)"
    rounds = 5050
    code = bytes.fromhex("48ffc0" "48ff02" "48ffc1" "4c39c0" "75f2" "f4")  # ...; jne -14; hlt
    memory = Backing(0x2000)
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, memory.ptr)
    uc.mem_map_ptr(CODE_AT + 0x1000, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, memory.ptr + 0x1000)
    uc.mem_write(CODE_AT, code)
    uc.reg_write(X.UC_X86_REG_RDX, CODE_AT + 0x1000)
    uc.reg_write(X.UC_X86_REG_R8, rounds)
    end = CODE_AT + len(code) - 1  # the hlt
    rip, seen = CODE_AT, []
    while rip != end:
        uc.set_budget(1000)
        uc.emu_start(rip, end)
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        seen.append((uc.reg_read(X.UC_X86_REG_RAX), rip, uc.budget()))
    counters = (uc.reg_read(X.UC_X86_REG_RAX), int.from_bytes(uc.mem_read(CODE_AT + 0x1000, 8), "little"),
                uc.reg_read(X.UC_X86_REG_RCX))
    assert counters == (rounds,) * 3
    assert seen[:-1] == [(200 * n, CODE_AT, 0) for n in range(1, len(seen))]
    assert seen[-1][1] == end and seen[-1][2] > 0  # the last run ended at the hlt, budget left
    uc.reg_write(X.UC_X86_REG_RAX, 0)
    uc.set_budget(ucbind.NO_BUDGET)  # no limit: one run to the end
    uc.emu_start(CODE_AT, end)
    assert uc.reg_read(X.UC_X86_REG_RIP) == end and uc.budget() == ucbind.NO_BUDGET - 5 * rounds - 1


def test_a_large_region_unmapped_is_gone_from_the_tlb_and_the_code_cache() -> None:
    """Unmapping a region of more than 256 pages flushes the software TLB in one walk
    and skips the pages no code came from (tools/build_unicorn.py; the unmap's memory
    map commit also flushes the whole TLB, so this guards rather than tells the patched
    library from the wheel's): afterwards neither
    a load from it nor a jump into it may still succeed through a stale TLB entry or
    translated block (the backing stays alive, so a stale entry would still work), and
    a new mapping there shows its own code and data."""
    size = 2 << 20  # 512 pages
    region = 0x10_0000
    # In the region: mov eax, 111*generation; ret. The caller, outside it:
    # mov rbx, [region + size - 8]; call region; hlt
    caller = bytes.fromhex("488b1c25f8ff2f00") + bytes.fromhex("e8") + (region - (CODE_AT + 13)).to_bytes(
        4, "little", signed=True) + b"\xf4"
    code_memory = Backing(0x2000)
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x2000, X.UC_PROT_ALL, code_memory.ptr)
    uc.mem_write(CODE_AT, caller)
    uc.reg_write(X.UC_X86_REG_RSP, CODE_AT + 0x2000)
    backings = []
    for generation in (1, 2, 3):
        memory = Backing(size)
        backings.append(memory)
        uc.mem_map_ptr(region, size, X.UC_PROT_ALL, memory.ptr)
        uc.mem_write(region, b"\xb8" + (generation * 111).to_bytes(4, "little") + b"\xc3")
        uc.mem_write(region + size - 8, (generation * 7).to_bytes(8, "little"))
        for _ in range(2):  # the second run goes through the translated blocks and the TLB
            uc.reg_write(X.UC_X86_REG_RSP, CODE_AT + 0x2000)
            uc.emu_start(CODE_AT, CODE_AT + len(caller) - 1)
            assert (uc.reg_read(X.UC_X86_REG_RAX), uc.reg_read(X.UC_X86_REG_RBX)) == (generation * 111,
                                                                                      generation * 7)
        uc.mem_unmap(region, size)
        with pytest.raises(UcError) as load:
            uc.emu_start(CODE_AT, CODE_AT + len(caller) - 1)
        assert load.value.errno == X.UC_ERR_READ_UNMAPPED
        with pytest.raises(UcError) as fetch:
            uc.emu_start(region, region + 5)
        assert fetch.value.errno == X.UC_ERR_FETCH_UNMAPPED
