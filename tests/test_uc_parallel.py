"""Parallel mode of pykern's libunicorn (Uc.set_parallel, tools/build_unicorn.py): two
engines, each run by its own Python thread (a call into libunicorn releases the GIL),
over the same host memory. In parallel mode locked instructions are host atomics, so
shared counters come out exact; without it they are plain loads and stores and lose
updates. A locked access the host cannot do atomically (across a page) runs alone
(EXCP_ATOMIC) instead of looping for ever, and the instruction budget still counts it
once."""

from __future__ import annotations

import ctypes
import random
import threading
import time

import pytest

from pykern import uc_const as X
from pykern import ucbind
from pykern.hostmem import Backing
from pykern.ucbind import Uc, UcError

pytestmark = pytest.mark.skipif("pykern-unicorn" not in ucbind.LIBRARY_PATH,
                                reason="only pykern's libunicorn build has parallel mode")

CODE_AT = 0x10000
DATA_AT = 0x20000
ROUNDS = 1_000_000

# rdi = the shared counters, rcx = rounds. A start barrier (lock inc [rdi+40], then wait
# for 2), then each round: lock xadd [rdi]; a lock cmpxchg loop adding 1 to [rdi+8];
# lock inc [rdi+16]; and an xchg spin lock ([rdi+24]) around a plain inc of [rdi+32].
#        lock inc qword [rdi+40]; 1: cmp qword [rdi+40], 2; jb 1b
#   top: mov eax, 1; lock xadd [rdi], rax
#        mov rax, [rdi+8]; 2: lea rdx, [rax+1]; lock cmpxchg [rdi+8], rdx; jne 2b
#        lock inc qword [rdi+16]
#     3: mov eax, 1; xchg [rdi+24], rax; test rax, rax; jnz 3b
#        inc qword [rdi+32]; mov qword [rdi+24], 0
#        dec rcx; jnz top; hlt
RACE = bytes.fromhex(
    "f048ff472848837f280272f9"
    "b801000000f0480fc107"
    "488b4708488d5001f0480fb1570875f4"
    "f048ff4710"
    "b801000000488747184885c075f2"
    "48ff472048c7471800000000"
    "48ffc975c2f4")
COUNTERS = (0, 8, 16, 32)  # xadd, cmpxchg, inc, under the xchg lock

# top: inc rax; lock inc dword [rdi+0xffe] (across the page at rdi+0x1000); inc rbx;
#      lock add qword [rdi+0x1002], 3 (misaligned in the next page); dec rcx; jnz top; hlt
SPLIT = bytes.fromhex("48ffc0" "f0ff87fe0f0000" "48ffc3" "f048838702100000" "03" "48ffc9" "75e5" "f4")


def test_the_library_has_parallel_mode() -> None:
    assert ucbind.HAS_PARALLEL, "pykern's libunicorn lacks uc_pykern_set_parallel: rebuild it (make venv)"


def engine(code: Backing, data: Backing, parallel: bool) -> Uc:
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, code.ptr)
    uc.mem_map_ptr(DATA_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, data.ptr)
    uc.set_parallel(parallel)
    return uc


def race(engines: list[Uc], data: Backing, rounds: int = ROUNDS) -> tuple[list[int], list[bool]]:
    """Run RACE on each engine in its own thread at once: (the counters, which finished).
    A budget bounds each run: one stuck in a spin (a lost update of the lock or of the
    start barrier) stops instead of hanging."""
    ctypes_data = (ctypes.c_char * 0x1000).from_address(data.ptr)
    ctypes.memset(ctypes_data, 0, 0x1000)
    end = CODE_AT + len(RACE) - 1
    for uc in engines:
        uc.reg_write(X.UC_X86_REG_RDI, DATA_AT)
        uc.reg_write(X.UC_X86_REG_RCX, rounds)
        uc.set_budget(rounds * 100)
    errors: list[BaseException] = []

    def run(uc: Uc) -> None:
        try:
            uc.emu_start(CODE_AT, end)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(uc,)) for uc in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and not any(thread.is_alive() for thread in threads)
    raw = bytes(ctypes_data)
    counters = [int.from_bytes(raw[at:at + 8], "little") for at in COUNTERS]
    return counters, [uc.reg_read(X.UC_X86_REG_RIP) == end for uc in engines]


def test_locked_instructions_are_atomic_between_two_engines_in_parallel_mode() -> None:
    code, data = Backing(0x1000), Backing(0x1000)
    engines = [engine(code, data, True) for _ in range(2)]
    engines[0].mem_write(CODE_AT, RACE)
    counters, finished = race(engines, data)
    assert finished == [True, True]
    assert counters == [2 * ROUNDS] * 4


def test_without_parallel_mode_two_engines_lose_updates() -> None:
    """What parallel mode fixes (and what shows the test above depends on it): the same
    race without it comes out short, or stuck in the spin lock (an xchg's store undid
    the holder's release). Measured on 2 cores: 8 races in 10 wrong (the others ran
    one engine after the other; the same with the library before parallel mode: 6 in 10)."""
    code, data = Backing(0x1000), Backing(0x1000)
    engines = [engine(code, data, False) for _ in range(2)]
    engines[0].mem_write(CODE_AT, RACE)
    outcomes = []
    for _ in range(10):
        counters, finished = race(engines, data)
        outcomes.append((counters, finished))
        if counters != [2 * ROUNDS] * 4 or finished != [True, True]:
            return
    pytest.fail(f"no update lost in 10 races: {outcomes}")


def test_an_engine_switched_to_parallel_mode_and_back_translates_again() -> None:
    """Blocks translated in one mode are not reused in the other: both engines first run
    RACE alone (one after the other) without parallel mode, so its blocks are
    translated non-atomic; switched on, the race is exact, so the blocks were
    translated again; switched back off, a lone run is still right."""
    code, data = Backing(0x1000), Backing(0x1000)
    engines = [engine(code, data, False) for _ in range(2)]
    engines[0].mem_write(CODE_AT, RACE)
    for uc in engines:  # alone: the barrier waits for 2, so give it one arrival in advance
        ctypes.memset(data.ptr, 0, 0x1000)
        ctypes.c_uint64.from_address(data.ptr + 40).value = 1
        uc.reg_write(X.UC_X86_REG_RDI, DATA_AT)
        uc.reg_write(X.UC_X86_REG_RCX, 1000)
        uc.emu_start(CODE_AT, CODE_AT + len(RACE) - 1)
        assert [ctypes.c_uint64.from_address(data.ptr + at).value for at in COUNTERS] == [1000] * 4
    for uc in engines:
        uc.set_parallel(True)
    counters, finished = race(engines, data)
    assert finished == [True, True] and counters == [2 * ROUNDS] * 4
    engines[0].set_parallel(False)
    ctypes.memset(data.ptr, 0, 0x1000)
    ctypes.c_uint64.from_address(data.ptr + 40).value = 1
    engines[0].reg_write(X.UC_X86_REG_RCX, 1000)
    engines[0].emu_start(CODE_AT, CODE_AT + len(RACE) - 1)
    assert [ctypes.c_uint64.from_address(data.ptr + at).value for at in COUNTERS] == [1000] * 4


def split_engine(parallel: bool) -> tuple[Uc, list[Backing]]:
    """SPLIT at CODE_AT; its data in two pages from two separate host mappings."""
    code, low, high = Backing(0x1000), Backing(0x1000), Backing(0x1000)
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, code.ptr)
    uc.mem_map_ptr(DATA_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, low.ptr)
    uc.mem_map_ptr(DATA_AT + 0x1000, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, high.ptr)
    uc.mem_write(CODE_AT, SPLIT)
    uc.set_parallel(parallel)
    return uc, [code, low, high]


def split_results(uc: Uc) -> tuple[int, ...]:
    return (uc.reg_read(X.UC_X86_REG_RAX), uc.reg_read(X.UC_X86_REG_RBX),
            int.from_bytes(uc.mem_read(DATA_AT + 0xFFE, 4), "little"),
            int.from_bytes(uc.mem_read(DATA_AT + 0x1002, 8), "little"))


@pytest.mark.parametrize("parallel", [True, False])
def test_a_locked_access_across_a_page_runs_once_and_is_counted_once(parallel: bool) -> None:
    """In parallel mode a locked access across a page cannot be a host atomic: the block
    leaves with EXCP_ATOMIC, and the instruction runs alone (Unicorn looped for ever
    on it). Each of the loop's 6 instructions runs, and is charged to the budget, once:
    with no limit the budget goes down by exactly 6 a round; with a budget of 50 a run
    the runs stop at block boundaries, each after 45 to 50 instructions, and the
    totals are the same."""
    rounds = 3000
    uc, _memory = split_engine(parallel)
    end = CODE_AT + len(SPLIT) - 1
    uc.reg_write(X.UC_X86_REG_RCX, rounds)
    uc.reg_write(X.UC_X86_REG_RDI, DATA_AT)
    uc.set_budget(ucbind.NO_BUDGET)
    started = time.monotonic()
    uc.emu_start(CODE_AT, end, timeout=60_000_000)
    assert time.monotonic() - started < 30
    assert uc.reg_read(X.UC_X86_REG_RIP) == end
    assert split_results(uc) == (rounds, rounds, rounds, 3 * rounds)
    assert uc.budget() == ucbind.NO_BUDGET - 6 * rounds - 1  # and the hlt

    uc, _memory = split_engine(parallel)
    uc.reg_write(X.UC_X86_REG_RCX, rounds)
    uc.reg_write(X.UC_X86_REG_RDI, DATA_AT)
    rip, runs = CODE_AT, 0
    while rip != end and runs < 10 * rounds:
        uc.set_budget(50)
        uc.emu_start(rip, end)
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        runs += 1
    assert rip == end
    assert split_results(uc) == (rounds, rounds, rounds, 3 * rounds)
    # Each run but the last does 45 to 50 instructions (it stops before a block of up
    # to 6 that does not fit). Charging a block that left at a locked access in full
    # would cost 14 a round in parallel mode, and need about 840 runs.
    assert -(-(6 * rounds + 1) // 50) <= runs <= -(-(6 * rounds + 1) // 45)


@pytest.mark.parametrize("target", ["unmapped", "mapped read-only", "protected read-only"])
def test_a_locked_access_that_faults_faults_alike_in_both_modes(target: str) -> None:
    """A locked access to an unmapped or read-only page is not done by the atomic
    helpers (they leave with EXCP_ATOMIC) but by the ordinary store helpers, whose
    checks stop the engine with the same error as without parallel mode, the memory
    unchanged; and the page stays read-only for plain stores after it (the atomic
    helpers once wrote it, and marked it written in the TLB, which let plain stores
    through)."""
    seen = []
    for parallel in (False, True):
        code, data = Backing(0x1000), Backing(0x1000)
        uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
        uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, code.ptr)
        if target == "mapped read-only":
            uc.mem_map_ptr(DATA_AT, 0x1000, X.UC_PROT_READ, data.ptr)
        elif target == "protected read-only":
            uc.mem_map_ptr(DATA_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, data.ptr)
            uc.mem_write(DATA_AT, b"\x07")
            uc.mem_protect(DATA_AT, 0x1000, X.UC_PROT_READ)
        # inc rax; lock inc qword [rdi]; hlt; then mov qword [rdi], 5; hlt
        uc.mem_write(CODE_AT, bytes.fromhex("48ffc0" "f048ff07" "f4" "48c70705000000" "f4"))
        uc.set_parallel(parallel)
        uc.reg_write(X.UC_X86_REG_RDI, DATA_AT)
        errors = []
        for begin, end in ((CODE_AT, CODE_AT + 7), (CODE_AT + 8, CODE_AT + 15)):
            with pytest.raises(UcError) as fault:
                uc.emu_start(begin, end, timeout=10_000_000)
            errors.append(fault.value.errno)
        if target == "unmapped":
            memory = None
        else:
            memory = bytes(uc.mem_read(DATA_AT, 8))
        seen.append((errors, uc.reg_read(X.UC_X86_REG_RAX), memory))
    assert seen[0] == seen[1]
    if target == "unmapped":
        assert seen[0][0] == [X.UC_ERR_READ_UNMAPPED, X.UC_ERR_WRITE_UNMAPPED]
    else:
        assert seen[0][0] == [X.UC_ERR_WRITE_PROT] * 2
        assert seen[0][2] == (b"\x07" if target == "protected read-only" else b"\x00") + bytes(7)


def test_cmpxchg16b_in_parallel_mode() -> None:
    """lock cmpxchg16b is a host 128-bit compare-and-swap in parallel mode: a success
    swaps, a failure loads the old value into rdx:rax."""
    code, data = Backing(0x1000), Backing(0x1000)
    uc = engine(code, data, True)
    uc.mem_write(CODE_AT, bytes.fromhex("f0480fc70f" "f4"))  # lock cmpxchg16b [rdi]; hlt
    uc.mem_write(DATA_AT + 0x10, (5).to_bytes(8, "little") + (6).to_bytes(8, "little"))
    for rax, rdx, expected, zf in ((5, 6, (7, 8), 1), (5, 6, (7, 8), 0)):
        for reg, value in ((X.UC_X86_REG_RAX, rax), (X.UC_X86_REG_RDX, rdx), (X.UC_X86_REG_RBX, 7),
                           (X.UC_X86_REG_RCX, 8), (X.UC_X86_REG_RDI, DATA_AT + 0x10)):
            uc.reg_write(reg, value)
        uc.emu_start(CODE_AT, CODE_AT + 5)
        memory = uc.mem_read(DATA_AT + 0x10, 16)
        assert (int.from_bytes(memory[:8], "little"), int.from_bytes(memory[8:], "little")) == expected
        assert (uc.reg_read(X.UC_X86_REG_EFLAGS) >> 6) & 1 == zf
    assert (uc.reg_read(X.UC_X86_REG_RAX), uc.reg_read(X.UC_X86_REG_RDX)) == (7, 8)


def chain(seed: int, blocks: int) -> tuple[bytes, int, int]:
    """Code of `blocks` distinct blocks (add rax, imm32; jmp to the next, in a shuffled
    order) ending in hlt: (code, offset of the first block, the rax it leaves from 0)."""
    rng = random.Random(seed)
    size = 11  # 48 05 imm32 (add rax, imm32: 6 bytes) + e9 rel32 (5)
    order = list(range(blocks))
    rng.shuffle(order)
    code = bytearray(b"\xf4" * (blocks * size + 1))
    total = 0
    for n, slot in enumerate(order):
        at = slot * size
        value = rng.randrange(1 << 31)
        total += value
        target = order[n + 1] * size if n + 1 < blocks else blocks * size  # the hlt
        code[at:at + 6] = b"\x48\x05" + value.to_bytes(4, "little")
        code[at + 6:at + 11] = b"\xe9" + (target - (at + 11)).to_bytes(4, "little", signed=True)
    return bytes(code), order[0] * size, total


def test_two_engines_translating_at_once_do_not_interfere() -> None:
    """Unicorn instances share no state that breaks when two run at once: two threads
    for 3 s each keep opening engines, mapping and unmapping memory, translating
    thousands of distinct blocks, running them (parallel mode on and off) and flushing
    the translation cache, and every run computes its own right answer."""
    deadline = time.monotonic() + 3
    errors: list[str] = []
    runs = [0, 0]

    def work(index: int) -> None:
        rng = random.Random(index)
        try:
            while time.monotonic() < deadline:
                uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
                uc.set_parallel(rng.random() < 0.5)
                memory = Backing(0x10000)
                uc.mem_map_ptr(CODE_AT, 0x10000, X.UC_PROT_ALL, memory.ptr)
                for _ in range(4):
                    seed = rng.randrange(1 << 30)
                    code, entry, total = chain(seed, 2000)
                    uc.mem_write(CODE_AT, code)
                    uc.ctl_flush_tb()
                    uc.reg_write(X.UC_X86_REG_RAX, 0)
                    uc.emu_start(CODE_AT + entry, CODE_AT + len(code) - 1)
                    if uc.reg_read(X.UC_X86_REG_RAX) != total:
                        errors.append(f"thread {index}: rax {uc.reg_read(X.UC_X86_REG_RAX)}, not {total}")
                    scratch = Backing(0x4000)
                    uc.mem_map_ptr(0x100000, 0x4000, X.UC_PROT_READ | X.UC_PROT_WRITE, scratch.ptr)
                    uc.mem_unmap(0x100000, 0x4000)
                    runs[index] += 1
                uc.close()
        except BaseException as error:  # reported below
            errors.append(f"thread {index}: {error!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    assert min(runs) >= 4
