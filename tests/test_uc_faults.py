"""Precise faults in pykern's libunicorn (tools/build_unicorn.py): a load or store that
faults stops with rip at the faulting instruction and the lazily computed flags of the
instructions before it, however the blocks before it were chained. Unicorn's own exit
left rip where the guest's pc was last stored, which after chained blocks is the start
of the first block of the chain (testbins/smp_segv_resume shows it through a signal
handler). A hook that maps the page and asks for a retry still resumes the access."""

from __future__ import annotations

import pytest

from pykern import uc_const as X
from pykern import ucbind
from pykern.hostmem import Backing
from pykern.ucbind import Uc, UcError

pytestmark = pytest.mark.skipif("pykern-unicorn" not in ucbind.LIBRARY_PATH,
                                reason="only pykern's libunicorn build has precise faults")

CODE_AT = 0x10000
DATA_AT = 0x20000  # the faulting page: mapped or not by each test
CF, ZF, SF = 0x1, 0x40, 0x80

#   start: mov eax, 1; jmp l1          (three blocks, chained once each has run)
#   l1:    add eax, 1; jmp l2
#   l2:    mov ecx, 7; cmp eax, 3      (2 - 3: CF and SF set, ZF clear; an add's flags differ)
#   access: the load or the store through rbx, then hlt
PREFIX = bytes.fromhex("b801000000" "eb00" "83c001" "eb00" "b907000000" "83f803")
ACCESS_AT = CODE_AT + len(PREFIX)
LOAD = bytes.fromhex("488b13")  # mov rdx, [rbx]
STORE = bytes.fromhex("488913")  # mov [rbx], rdx


def engine(access: bytes, data_perms: int | None) -> tuple[Uc, list[Backing]]:
    memory = [Backing(0x1000), Backing(0x1000)]
    uc = Uc(X.UC_ARCH_X86, X.UC_MODE_64)
    uc.mem_map_ptr(CODE_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_EXEC, memory[0].ptr)
    uc.mem_write(CODE_AT, PREFIX + access + b"\xf4")
    if data_perms is not None:
        uc.mem_map_ptr(DATA_AT, 0x1000, data_perms, memory[1].ptr)
    return uc, memory


def run_to_fault(uc: Uc) -> tuple[int, int, int, int]:
    uc.reg_write(X.UC_X86_REG_RBX, DATA_AT + 8)
    uc.reg_write(X.UC_X86_REG_RCX, 0)
    with pytest.raises(UcError) as fault:
        uc.emu_start(CODE_AT, 2**64 - 1)
    flags = uc.reg_read(X.UC_X86_REG_EFLAGS) & (CF | ZF | SF)
    return fault.value.errno, uc.reg_read(X.UC_X86_REG_RIP), uc.reg_read(X.UC_X86_REG_RCX), flags


@pytest.mark.parametrize(("access", "data_perms", "error"), [
    (LOAD, None, X.UC_ERR_READ_UNMAPPED),
    (STORE, None, X.UC_ERR_WRITE_UNMAPPED),
    (STORE, X.UC_PROT_READ, X.UC_ERR_WRITE_PROT),
])
def test_a_fault_stops_at_the_faulting_instruction(access: bytes, data_perms: int | None, error: int) -> None:
    """The first run translates the three blocks, the second runs them chained: both stop
    at the access, with the instructions before it done and cmp's flags (CF and SF)."""
    assert ucbind.PRECISE_FAULTS, "pykern's libunicorn lacks precise faults: rebuild it (make venv)"
    uc, _memory = engine(access, data_perms)
    for _ in range(3):
        assert run_to_fault(uc) == (error, ACCESS_AT, 7, CF | SF)


def test_a_hook_that_maps_the_page_retries_the_access() -> None:
    """UC_HOOK_MEM_INVALID returning True: the access is made again (no exit, no restore)."""
    uc, memory = engine(LOAD, None)
    data = Backing(0x1000)
    memory.append(data)

    def fill(u: Uc, access: int, addr: int, size: int, value: int, _data: object) -> bool:
        u.mem_map_ptr(DATA_AT, 0x1000, X.UC_PROT_READ | X.UC_PROT_WRITE, data.ptr)
        u.mem_write(addr, (0x1234).to_bytes(8, "little"))
        return True

    uc.hook_add(X.UC_HOOK_MEM_INVALID, fill)
    uc.reg_write(X.UC_X86_REG_RBX, DATA_AT + 8)
    end = ACCESS_AT + len(LOAD)
    uc.emu_start(CODE_AT, end)
    assert (uc.reg_read(X.UC_X86_REG_RIP), uc.reg_read(X.UC_X86_REG_RDX)) == (end, 0x1234)
