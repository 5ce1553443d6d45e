"""Floating-point exception flags and SIGFPE (issue 12), on pykern's libunicorn itself:
softfloat's flags reach MXCSR and the x87 status word where the guest reads them, and an
unmasked exception raises #XM at the SSE instruction (its destination unchanged) or #MF
at the next waiting x87 instruction, which pykern's trap turns into SIGFPE with Linux's
si_code. testbins/fpu_flags.c shows the same against Linux through glibc's fenv.h.

These fail with Unicorn's own library (QEMU 5.0 never copies the flags and never traps):
rebuild pykern's with `make venv` (tools/build_unicorn.py)."""

from __future__ import annotations

import struct

import pytest

from pykern import uc_const as X
from pykern.abi import FPE_FLTDIV, FPE_FLTINV, FPE_FLTOVF, FPE_FLTRES, FPE_FLTUND
from pykern.hostmem import Backing
from pykern.mm import new_unicorn
from pykern.trap import X86_TRAP_MF, X86_TRAP_XF, fpu_exception_code

CODE_AT = 0x10000
DATA_AT = 0x11000
ONE = struct.unpack("<Q", struct.pack("<d", 1.0))[0]
THREE = struct.unpack("<Q", struct.pack("<d", 3.0))[0]
_alive: list[Backing] = []
REBUILD = "pykern's libunicorn lacks the floating-point exception patch: rebuild it (make venv)"


def run(code: bytes, *, fpcw: int = 0x37F, mxcsr: int = 0x1F80, xmm0: int = ONE, xmm1: int = 0):
    """Run `code` from CODE_AT to its end, RDX pointing at a zeroed data page. Returns the
    engine and the interrupts raised (each stops the run, rip at the instruction)."""
    memory = Backing(0x2000)
    uc = new_unicorn()
    uc.mem_map_ptr(CODE_AT, 0x2000, X.UC_PROT_ALL, memory.ptr)
    uc.mem_write(CODE_AT, code)
    uc.reg_write(X.UC_X86_REG_RDX, DATA_AT)
    uc.reg_write(X.UC_X86_REG_FPCW, fpcw)
    uc.reg_write(X.UC_X86_REG_MXCSR, mxcsr)
    uc.reg_write(X.UC_X86_REG_XMM0, xmm0)
    uc.reg_write(X.UC_X86_REG_XMM1, xmm1)
    interrupts: list[tuple[int, int]] = []
    uc.hook_add(X.UC_HOOK_INTR, lambda u, intno, data: interrupts.append((intno, u.reg_read(X.UC_X86_REG_RIP)))
                or u.emu_stop())
    uc.emu_start(CODE_AT, CODE_AT + len(code))
    _alive.append(memory)  # the engine maps it: keep it for the test's lifetime
    return uc, interrupts


DIVSD = bytes.fromhex("f20f5ec1")  # divsd xmm0, xmm1
MULSD = bytes.fromhex("f20f59c1")  # mulsd xmm0, xmm1
STMXCSR = bytes.fromhex("0fae1a")  # stmxcsr [rdx]
FLD1, FLDZ = bytes.fromhex("d9e8"), bytes.fromhex("d9ee")
FDIVP = bytes.fromhex("def9")  # fdivp st(1), st: 1 / 0
FNSTSW_AX = bytes.fromhex("dfe0")
FSTP_ST0 = bytes.fromhex("ddd8")  # fstp st(0): a waiting x87 instruction
FXSAVE = bytes.fromhex("0fae02")  # fxsave [rdx]


@pytest.mark.parametrize("xmm0, xmm1, flags", [
    (ONE, 0, 0x04),  # 1/0: divide by zero
    (0, 0, 0x01),  # 0/0: invalid
    (ONE, THREE, 0x20),  # 1/3: inexact
    (ONE, ONE, 0x00),  # exact
])
def test_sse_flags_reach_mxcsr(xmm0: int, xmm1: int, flags: int) -> None:
    uc, interrupts = run(DIVSD + STMXCSR, xmm0=xmm0, xmm1=xmm1)
    stored = struct.unpack("<I", uc.mem_read(DATA_AT, 4))[0]
    assert interrupts == []
    assert stored == 0x1F80 | flags, REBUILD
    assert uc.reg_read(X.UC_X86_REG_MXCSR) == 0x1F80 | flags  # pykern's signal frame reads this


def test_sse_flags_cleared_by_mxcsr_write_and_shown_by_fxsave() -> None:
    uc, _ = run(DIVSD)
    assert uc.reg_read(X.UC_X86_REG_MXCSR) & 0x3F == 0x04, REBUILD
    uc.reg_write(X.UC_X86_REG_MXCSR, 0x1F80)
    assert uc.reg_read(X.UC_X86_REG_MXCSR) == 0x1F80
    uc2, _ = run(MULSD + FXSAVE, xmm0=0x7FEF_FFFF_FFFF_FFFF, xmm1=struct.unpack("<Q", struct.pack("<d", 2.0))[0])
    assert struct.unpack("<I", uc2.mem_read(DATA_AT + 24, 4))[0] == 0x1F80 | 0x08 | 0x20  # overflow, inexact


def test_x87_flags_reach_the_status_word() -> None:
    uc, interrupts = run(FLD1 + FLDZ + FDIVP + FNSTSW_AX)
    assert interrupts == []
    assert uc.reg_read(X.UC_X86_REG_AX) & 0x3F == 0x04, REBUILD
    assert uc.reg_read(X.UC_X86_REG_FPSW) & 0x3F == 0x04
    uc, _ = run(FLDZ + FLDZ + FDIVP + FNSTSW_AX)  # 0/0 is invalid only, not a divide by zero
    assert uc.reg_read(X.UC_X86_REG_AX) & 0x3F == 0x01, REBUILD


def test_unmasked_sse_exception_raises_xf_before_writing() -> None:
    """#XM is a fault: rip at the divsd, xmm0 as it was, MXCSR with the flag."""
    uc, interrupts = run(DIVSD + STMXCSR, mxcsr=0x1F80 & ~0x200)  # divide by zero unmasked
    assert interrupts == [(X86_TRAP_XF, CODE_AT)], REBUILD
    assert uc.reg_read(X.UC_X86_REG_XMM0) == ONE
    assert uc.reg_read(X.UC_X86_REG_MXCSR) & 0x3F == 0x04
    assert fpu_exception_code(uc, X86_TRAP_XF) == FPE_FLTDIV


def test_unmasked_invalid_conversion_raises_xf_before_the_register_is_written() -> None:
    big = struct.unpack("<Q", struct.pack("<d", 1e300))[0]
    code = bytes.fromhex("b8 2a 00 00 00" "f2 0f 2c c0")  # mov eax, 42; cvttsd2si eax, xmm0
    uc, interrupts = run(code, mxcsr=0x1F80 & ~0x80, xmm0=big)  # invalid unmasked
    assert interrupts == [(X86_TRAP_XF, CODE_AT + 5)], REBUILD
    assert uc.reg_read(X.UC_X86_REG_EAX) == 42
    assert fpu_exception_code(uc, X86_TRAP_XF) == FPE_FLTINV


def test_unmasked_x87_divide_by_zero_leaves_the_stack() -> None:
    """The hardware does not make a change whose instruction raised an unmasked invalid or
    divide-by-zero exception: fdivp neither writes st(1) nor pops."""
    uc, interrupts = run(FLD1 + FLDZ + FDIVP + FNSTSW_AX, fpcw=0x37F & ~0x04)
    assert interrupts == []  # fnstsw does not wait
    status = uc.reg_read(X.UC_X86_REG_AX)
    assert status & 0x84 == 0x84, REBUILD
    assert (status >> 11) & 7 == 6, REBUILD  # two values pushed, none popped
    uc, _ = run(FLD1 + FLDZ + FDIVP + FNSTSW_AX)  # masked: the quotient, one popped
    assert (uc.reg_read(X.UC_X86_REG_AX) >> 11) & 7 == 7


def test_fnstenv_masks_the_x87_exceptions() -> None:
    """glibc's feholdexcept relies on it (Intel SDM: FSTENV)."""
    uc, interrupts = run(bytes.fromhex("d932") + FLD1 + FLDZ + FDIVP + FSTP_ST0, fpcw=0x37F & ~0x04)
    assert interrupts == []
    assert uc.reg_read(X.UC_X86_REG_FPCW) == 0x37F, REBUILD
    assert struct.unpack("<H", uc.mem_read(DATA_AT, 2))[0] == 0x37F & ~0x04  # the stored one as it was


def test_masked_exceptions_do_not_trap() -> None:
    uc, interrupts = run(DIVSD + FLD1 + FLDZ + FDIVP + FSTP_ST0 + FSTP_ST0, mxcsr=0x1F80 & ~0x400)  # only OE open
    assert interrupts == []
    assert uc.reg_read(X.UC_X86_REG_XMM0) == 0x7FF0_0000_0000_0000  # inf


def test_unmasked_x87_exception_raises_mf_at_the_next_waiting_instruction() -> None:
    code = FLD1 + FLDZ + FDIVP + FNSTSW_AX + FSTP_ST0
    uc, interrupts = run(code, fpcw=0x37F & ~0x04)
    at = CODE_AT + len(FLD1 + FLDZ + FDIVP + FNSTSW_AX)  # fnstsw does not wait; fstp does
    assert interrupts == [(X86_TRAP_MF, at)], REBUILD
    status = uc.reg_read(X.UC_X86_REG_FPSW)
    assert status & 0x04 and status & 0x80  # ZE and ES
    assert uc.reg_read(X.UC_X86_REG_AX) & 0x84 == 0x84
    assert fpu_exception_code(uc, X86_TRAP_MF) == FPE_FLTDIV


class FakeUc:
    def __init__(self, fpcw: int = 0x37F, fpsw: int = 0, mxcsr: int = 0x1F80) -> None:
        self.values = {X.UC_X86_REG_FPCW: fpcw, X.UC_X86_REG_FPSW: fpsw, X.UC_X86_REG_MXCSR: mxcsr}

    def reg_read(self, reg: int) -> int:
        return self.values[reg]

    def reg_read_batch(self, regs) -> tuple[int, ...]:
        return tuple(self.values[reg] for reg in regs)


@pytest.mark.parametrize("mxcsr, code", [
    (0x1F80 & ~0x080 | 0x01, FPE_FLTINV),
    (0x1F80 & ~0x200 | 0x24, FPE_FLTDIV),  # inexact flagged but masked: the divide wins
    (0x1F80 & ~0x400 | 0x28, FPE_FLTOVF),
    (0x1F80 & ~0x800 | 0x30, FPE_FLTUND),
    (0x1F80 & ~0x1000 | 0x20, FPE_FLTRES),
    (0 | 0x05, FPE_FLTINV),  # several unmasked: Linux's order, invalid first
])
def test_si_code_from_mxcsr_as_linux(mxcsr: int, code: int) -> None:
    assert fpu_exception_code(FakeUc(mxcsr=mxcsr), X86_TRAP_XF) == code


@pytest.mark.parametrize("fpcw, fpsw, code", [
    (0x37F & ~0x04, 0x84, FPE_FLTDIV),
    (0x37F & ~0x08, 0xA8, FPE_FLTOVF),
    (0x37F & ~0x01, 0xC1, FPE_FLTINV),  # stack fault: invalid
    (0x37F & ~0x20, 0xA0, FPE_FLTRES),
])
def test_si_code_from_the_x87_status_as_linux(fpcw: int, fpsw: int, code: int) -> None:
    assert fpu_exception_code(FakeUc(fpcw=fpcw, fpsw=fpsw), X86_TRAP_MF) == code
