"""Finding and describing the instruction that faulted.

With pykern's libunicorn (ucbind.PRECISE_FAULTS) a bad data access stops with rip at
the faulting instruction and the registers as they were before it ran: the library
restores the instruction's state from its translated code, as QEMU does for a guest
page fault (tools/build_unicorn.py, precise faults). Another libunicorn leaves rip
wherever the guest's pc was last stored: at best the start of the translation block,
and after chained blocks an earlier one. There the faulting instruction is looked for
from rip on: the first one whose memory operand, computed with the current registers,
touches the faulting address (a guess, kept only for such a library).

The crash report (--report-crashes) names the signal, the address, the instruction
(disassembled with capstone), the nearest ELF symbol and the registers.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pykern import uc_const as X
from pykern.abi import signal_name
from pykern.ucbind import PRECISE_FAULTS

if TYPE_CHECKING:
    from pykern.task import Task

MAX_BLOCK_INSNS = 64
_REPORT_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags")


@functools.lru_cache(maxsize=1)
def _disassembler():  # capstone is imported only when a crash needs it
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


def _unicorn_reg(name: str) -> int | None:
    return getattr(X, f"UC_X86_REG_{name.upper()}", None)


def _reg_value(task: Task, md, reg_id: int, insn_end: int) -> int:
    if reg_id == 0:
        return 0
    name = md.reg_name(reg_id)
    if name == "rip":
        return insn_end
    uc_reg = _unicorn_reg(name)
    return task.reg(uc_reg) if uc_reg is not None else 0


def _touches(task: Task, md, insn, addr: int) -> bool:
    import capstone.x86 as cx

    for op in insn.operands:
        if op.type != cx.X86_OP_MEM:
            continue
        mem = op.mem
        base = _reg_value(task, md, mem.base, insn.address + insn.size)
        index = _reg_value(task, md, mem.index, insn.address + insn.size)
        segment = 0
        seg_name = md.reg_name(mem.segment) if mem.segment else ""
        if seg_name == "fs":
            segment = task.get_fs_base()
        elif seg_name == "gs":
            segment = task.get_gs_base()
        effective = (segment + base + index * mem.scale + mem.disp) & ((1 << 64) - 1)
        if effective <= addr < effective + max(op.size, 1) + 64:
            return True
    # push/call/ret and friends touch the stack implicitly
    if insn.mnemonic in ("push", "call", "pushfq", "ret", "pop", "leave", "enter"):
        rsp = task.reg(X.UC_X86_REG_RSP)
        return rsp - 16 <= addr < rsp + 16
    return insn.mnemonic.startswith(("rep", "movs", "stos", "lods", "cmps", "scas"))


def locate_faulting_instruction(task: Task, block_start: int, addr: int) -> int:
    """The address of the instruction in the block at `block_start` that touched `addr`
    (block_start itself when none can be identified)."""
    md = _disassembler()
    try:
        code = bytes(task.mm.uc.mem_read(block_start, MAX_BLOCK_INSNS * 15))
    except Exception:
        try:
            code = bytes(task.mm.uc.mem_read(block_start, 4096 - block_start % 4096))
        except Exception:
            return block_start
    count = 0
    for insn in md.disasm(code, block_start):
        if _touches(task, md, insn, addr):
            return insn.address
        count += 1
        if count >= MAX_BLOCK_INSNS or insn.group(1) or insn.group(2) or insn.group(3):  # jump/call/ret
            break
    return block_start


def describe_instruction(task: Task, rip: int) -> str:
    try:
        code = bytes(task.mm.uc.mem_read(rip, 16))
    except Exception:
        return "<unreadable>"
    for insn in _disassembler().disasm(code, rip):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "<invalid instruction>"


def nearest_symbol(path: str, addr: int, load_bias: int = 0) -> str:
    """'main+0x14' from the ELF symbol table, or '' if there is none."""
    symbols = _symbols(path)
    best = None
    for start, size, name in symbols:
        if start <= addr - load_bias and (best is None or start > best[0]):
            best = (start, size, name)
    if best is None:
        return ""
    start, size, name = best
    offset = addr - load_bias - start
    if size and offset >= size and offset > 0x10000:
        return ""
    return f"{name}+{offset:#x}" if offset else name


@functools.lru_cache(maxsize=8)
def _symbols(path: str) -> tuple[tuple[int, int, str], ...]:
    try:
        from elftools.elf.elffile import ELFFile

        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            table = elf.get_section_by_name(".symtab")
            if table is None:
                return ()
            return tuple(
                (sym["st_value"], sym["st_size"], sym.name)
                for sym in table.iter_symbols()
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]
            )
    except Exception:
        return ()


def describe_guest(task: Task) -> str:
    """Where a task is, for the report of a kernel bug met while serving it."""
    try:
        rip = task.reg(X.UC_X86_REG_RIP)
    except Exception:  # the report must not fail on a task whose instance is gone
        rip = 0
    pending = f" in {task.pending.entry.name}()" if task.pending else ""
    return f"pid {task.group.tgid} tid {task.tid} at rip={rip:#x}{pending} ({task.group.exe_path})"


def locate_fault(task: Task, addr: int, fetch: bool) -> int:
    """The rip of the instruction that faulted on `addr` (the fetch address itself when the
    fetch faulted); the task's rip is set to it. With pykern's libunicorn a data access's
    rip is exact already (PRECISE_FAULTS)."""
    rip = task.reg(X.UC_X86_REG_RIP)
    if fetch:
        return addr
    if PRECISE_FAULTS:
        return rip
    precise = locate_faulting_instruction(task, rip, addr)
    if precise != rip:
        task.set_reg(X.UC_X86_REG_RIP, precise)
    return precise


def report_crash(task: Task, sig: int, code: int, addr: int, rip: int) -> None:
    """--report-crashes: where the process died, on the kernel's crash stream."""
    print(crash_report(task, sig, code, addr, rip), file=task.kernel.options.crash_stream)


def crash_report(task: Task, sig: int, code: int, addr: int, rip: int) -> str:
    """A few lines for stderr: what killed the guest, where, and its registers."""
    group = task.group
    bias = _load_bias(task)
    vma = task.mm.find_vma(rip)
    if vma is not None and vma.name == "[vdso]":
        symbol = task.kernel.vdso.symbol_at(rip - vma.start)
    else:
        symbol = nearest_symbol(group.exe_path, rip, bias)
    where = f"{rip:#x}" + (f" <{symbol}>" if symbol else "")
    head = (f"pykern: pid {group.tgid} killed by {signal_name(sig)} (si_code {code}) at {where}: "
            f"{describe_instruction(task, rip)}; fault address {addr:#x}")
    values = []
    for name in _REPORT_REGS:
        reg = _unicorn_reg(name)
        value = rip if name == "rip" else task.reg(reg) if reg is not None else 0
        values.append(f"{name}={value:#x}")
    regs = "pykern:   " + " ".join(values[:9]) + "\npykern:   " + " ".join(values[9:])
    return head + "\n" + regs


def _load_bias(task: Task) -> int:
    """Static-pie images are loaded at a bias; symbols are link-time addresses."""
    for vma in task.mm.vmas:
        if vma.start >= 0x500000000000 and vma.start < 0x600000000000:
            return vma.start
    return 0
