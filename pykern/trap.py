"""The trap: where the guest enters the kernel.

- `syscall`: the UC_HOOK_INSN hook for the `syscall` instruction. One batched register
  read, one list index, the handler, one register write. The fast path never leaves the
  JIT; only a call that changed who runs (blocked, exited, exec'd, woke someone) stops
  emulation so the scheduler can act.
- Blocking: a handler that raises Block leaves its call pending on the task, asleep; the
  scheduler re-runs it from the top after a wakeup (`retry`). If a signal is pending when
  the call blocks, it does not sleep and is not run again: `interrupt_call` ends it at
  once with its own answer or EINTR, or keeps its restart code for signal delivery,
  which then asks the trap to end it with EINTR or to make it again
  (`end_interrupted`). Only the trap writes a call's result register.
- CPU exceptions (bad memory access, #DE, #UD, int3, #GP, and the floating-point #MF and
  #XM that pykern's libunicorn raises for unmasked exceptions) become synchronous signals.
- A Python exception in a handler is a pykern bug: emulation stops and it is re-raised
  as `KernelBug` with the guest context; it never becomes an errno.
"""

from __future__ import annotations

import sys
import threading
from time import perf_counter_ns
from typing import TYPE_CHECKING

from pykern import uc_const as X
from pykern.abi import (
    BUS_ADRERR,
    EFAULT,
    EINTR,
    ENOSYS,
    FPE_FLTDIV,
    FPE_FLTINV,
    FPE_FLTOVF,
    FPE_FLTRES,
    FPE_FLTUND,
    FPE_INTDIV,
    ILL_ILLOPN,
    SEGV_ACCERR,
    SEGV_MAPERR,
    SI_KERNEL,
    SIGBUS,
    SIGFPE,
    SIGILL,
    SIGSEGV,
    SIGTRAP,
    SYSCALL_INSN_LEN,
    SYSCALL_NAMES,
    TRAP_BRKPT,
)
from pykern.crash import describe_guest, locate_fault
from pykern.errors import Block, ExecImage, Fault, Restart, SysError
from pykern.mm import uc_prot
from pykern.task import PendingSyscall, Task, TaskState
from pykern.ucbind import HAS_BUDGET, NO_BUDGET, RegisterBatch, Uc, UcError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.smp import Cpu
    from pykern.sysent import SyscallEntry

SYSCALL_REGS = (
    X.UC_X86_REG_RAX, X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX,
    X.UC_X86_REG_R10, X.UC_X86_REG_R8, X.UC_X86_REG_R9,
)
RAX = X.UC_X86_REG_RAX
RIP = X.UC_X86_REG_RIP
UNTIL_NEVER = 0xFFFF_FFFF_FFFF_FFFF
UNBOUNDED_COUNT = 1 << 62  # emu_start's count for a lone task in a counted address space
X86_TRAP_MF = 16  # x87 floating-point error, raised at the next waiting x87 instruction
X86_TRAP_XF = 19  # SIMD floating-point exception, raised by the faulting SSE instruction
_DEAD = TaskState.DEAD
_RUNNABLE = TaskState.RUNNABLE

# The access an invalid-memory hook reports -> the protection that would allow it.
_ACCESS_PROT = {
    X.UC_MEM_READ_UNMAPPED: X.UC_PROT_READ, X.UC_MEM_READ_PROT: X.UC_PROT_READ,
    X.UC_MEM_WRITE_UNMAPPED: X.UC_PROT_WRITE, X.UC_MEM_WRITE_PROT: X.UC_PROT_WRITE,
    X.UC_MEM_FETCH_UNMAPPED: X.UC_PROT_EXEC, X.UC_MEM_FETCH_PROT: X.UC_PROT_EXEC,
}

# Unicorn memory errors -> (signal, si_code). Unmapped is SEGV_MAPERR, protection SEGV_ACCERR.
_MEMORY_ERRORS = {
    X.UC_ERR_READ_UNMAPPED: (SIGSEGV, SEGV_MAPERR),
    X.UC_ERR_WRITE_UNMAPPED: (SIGSEGV, SEGV_MAPERR),
    X.UC_ERR_FETCH_UNMAPPED: (SIGSEGV, SEGV_MAPERR),
    X.UC_ERR_READ_PROT: (SIGSEGV, SEGV_ACCERR),
    X.UC_ERR_WRITE_PROT: (SIGSEGV, SEGV_ACCERR),
    X.UC_ERR_FETCH_PROT: (SIGSEGV, SEGV_ACCERR),
    X.UC_ERR_READ_UNALIGNED: (SIGBUS, BUS_ADRERR),
    X.UC_ERR_WRITE_UNALIGNED: (SIGBUS, BUS_ADRERR),
    X.UC_ERR_FETCH_UNALIGNED: (SIGBUS, BUS_ADRERR),
}


class SyscallRegisters(RegisterBatch):
    """[nr, arg0..arg5] with one prebuilt uc_reg_read_batch (a register read costs about a
    ctypes call; ARCHITECTURE: measured facts), and the result written to rax."""

    def __init__(self) -> None:
        super().__init__(SYSCALL_REGS)

    @staticmethod
    def set_return(uc: Uc, value: int) -> None:
        uc.reg_write(RAX, value)


class KernelBug(Exception):
    """A Python exception inside pykern while serving a guest: shown with guest context."""


class Trap:
    def __init__(self, kernel: Kernel, table: list[SyscallEntry | None],
                 load_syscall: Callable[[int], SyscallEntry | None] | None = None) -> None:
        self.kernel = kernel
        self.table = table
        self.load_syscall = load_syscall  # an empty slot's first call: import its family (lazy_table)
        self.warned: set[int | str] = set()
        self.bug: BaseException | None = None
        self.bug_task: Task | None = None
        self.registers = SyscallRegisters()
        self.sched = kernel.sched
        self.smp = kernel.smp
        # the kernel lock while other CPUs are online (pykern.smp, sched.py sets it): let
        # go while guest code runs, taken again by the syscall hook
        self.lock: threading.Lock | None = None
        self.virtual = kernel.sched.virtual  # --deterministic: the VirtualClock counts each slice
        # --deterministic: the seed may preempt a task right after a system call
        self.preempt = kernel.sched.preempt_after_syscall if kernel.sched.chaos is not None else None

    def install(self, uc: Uc, mm: MM) -> None:
        """Give a new address space's Unicorn instance its hooks. An exception escaping
        one stops emulation and comes out of emu_start (pykern.ucbind): see run_user."""
        uc.hook_add(X.UC_HOOK_INSN, self._syscall_hook, mm, 1, 0, X.UC_X86_INS_SYSCALL)
        uc.hook_add(X.UC_HOOK_INTR, self._interrupt_hook, mm)
        uc.hook_add(X.UC_HOOK_MEM_INVALID, self._bad_access_hook, mm)

    # --- syscalls ------------------------------------------------------------------------------

    def _syscall_hook(self, uc: Uc, mm: MM) -> None:
        """The `syscall` instruction. With several CPUs, under the kernel lock: a CPU
        waiting for it runs no guest code (pykern.smp), and its task may have been
        stopped or killed meanwhile: then the call is not made now (the `syscall`
        instruction runs again when the task does), as if the signal came just before it."""
        cpu = uc.cpu
        lock = self.lock
        if lock is None:
            self._syscall(uc, cpu)
            return
        cpu.in_guest = False
        lock.acquire()
        try:
            if uc.loaded_task.state is not _RUNNABLE or cpu.current is not uc.loaded_task or not self.smp.online \
                    or mm.must_yield(uc):
                uc.reg_write(RIP, uc.reg_read(RIP) - SYSCALL_INSN_LEN)
                cpu.stopped = True
                uc.emu_stop()
                return
            self._syscall(uc, cpu)
        finally:
            cpu.in_guest = True
            lock.release()

    def _syscall(self, uc: Uc, cpu: Cpu) -> None:
        """One batched register read, one list index, the handler, one register write;
        the JIT is left only when the scheduler must act."""
        task = uc.loaded_task
        values = self.registers.read(uc)
        nr = values[0]
        raw = values[1:]
        try:
            entry = self.table[nr]
        except IndexError:
            entry = None
        if entry is None:
            if self.load_syscall is not None and nr < len(self.table):
                entry = self.load_syscall(nr)  # its family's first call (a lazy table)
            if entry is None:
                self.unsupported(nr)
                self.registers.set_return(uc, -ENOSYS)
                if self.kernel.tracer is not None:
                    self.kernel.tracer.nosys(task, nr, raw)
                return
        debugger = self.sched.debugger
        if debugger is not None and debugger.syscall_entry_stop(task, nr, entry, raw):
            cpu.stopped = True  # gdb's `catch syscall`: stop first, the call is made on resume
            uc.emu_stop()
            return
        cpu.in_syscall_hook = True
        cpu.entered = perf_counter_ns()
        completed = self.invoke(task, entry, raw)
        task.stime_ns += perf_counter_ns() - cpu.entered  # system time (pykern.rusage)
        cpu.in_syscall_hook = False
        if not cpu.unbounded:  # a quantum's calls are counted too (sched.QUANTUM_SYSCALLS)
            cpu.syscalls_left -= 1
            if cpu.syscalls_left <= 0:
                cpu.need_resched = True
        if not completed or cpu.need_resched or (self.preempt is not None and self.preempt()):
            cpu.stopped = True
            uc.emu_stop()

    def interrupt(self) -> None:
        """From another thread (pykern.hostsig): leave the JIT soon, whatever is running."""
        for cpu in self.smp.cpus:
            uc = cpu.uc
            if uc is not None:
                uc.emu_stop()

    @staticmethod
    def set_user_rip(uc: Uc, rip: int) -> None:
        """Make `rip` the next instruction the task runs (rt_sigreturn). Inside the syscall
        hook Unicorn still adds the `syscall` instruction's length after we return."""
        cpu = uc.cpu
        uc.reg_write(RIP, rip - SYSCALL_INSN_LEN if cpu is not None and cpu.in_syscall_hook else rip)

    def unsupported(self, nr: int) -> None:
        """ENOSYS. A number Linux also lacks is answered silently, as Linux does; one
        that Linux implements and pykern does not is a gap, reported once."""
        if nr not in self.warned and nr in SYSCALL_NAMES:
            self.warned.add(nr)
            print(f"pykern: warning: unsupported syscall {SYSCALL_NAMES[nr]} ({nr}): returning ENOSYS",
                  file=sys.stderr)

    def unsupported_use(self, key: str, message: str) -> None:
        """A call pykern implements, used in a way it does not (sendmsg with control
        messages ...): reported once, the handler then fails the way its docstring says."""
        if key not in self.warned:
            self.warned.add(key)
            print(f"pykern: warning: {message}", file=sys.stderr)

    def invoke(self, task: Task, entry: SyscallEntry, raw: list[int], entering: bool = True) -> bool:
        """Run one handler. True if it completed (rax written) and the task goes on;
        False if it blocked, was interrupted, exited, exec'd, or hit a pykern bug. The fast
        path is a flag check for the tracer, the handler, and the result's register write.
        `entering` is False when a sleeping call runs again after a wakeup: the same call."""
        tracer = self.kernel.tracer
        if tracer is not None and entering:
            tracer.enter(task, entry, raw)
        try:
            result = entry.handler(task, *entry.decode_args(raw))
        except SysError as error:
            result = -error.errno
        except Fault:
            result = -EFAULT
        except Block as block:
            self._block(task, entry, raw, block)
            return False
        except ExecImage:
            task.restart_block = None
            task.pending = None
            if self.kernel.tracer is not None:
                self.kernel.tracer.exit(task, entry, raw, 0)
            return False
        except Exception as error:  # a pykern bug: stop, keep the guest context
            self.bug, self.bug_task = error, task
            uc = task.uc
            if uc.cpu is not None:
                uc.cpu.stopped = True
            uc.emu_stop()
            return False
        if task.pending is not None:
            task.pending = None
        if task.restart_block is not None:
            task.restart_block = None
        state = task.state
        if state is _DEAD:
            return False
        self.registers.set_return(task.uc, result)
        if tracer is not None:
            tracer.exit(task, entry, raw, result)
        return state is _RUNNABLE

    def retry(self, cpu: Cpu, task: Task) -> bool:
        """Run a task's pending call again (outside the JIT): from the top after a wakeup,
        or, after a signal interrupted it and no handler ran, made again (a new entry, as
        Linux restarts it; strace shows it again). Also gdb's caught call, made now."""
        pending = task.pending
        assert pending is not None
        again = pending.interrupted is not None or pending.block is None
        cpu.retrying = task
        cpu.entered = perf_counter_ns()
        completed = self.invoke(task, pending.entry, pending.args, entering=again)
        spent = perf_counter_ns() - cpu.entered  # outside a slice: system time and CPU time (pykern.rusage)
        task.stime_ns += spent
        if self.sched.virtual is None:  # (--deterministic: CPU time is the instructions run)
            task.cpu_ns += spent
        cpu.retrying = None
        if self.bug is not None:
            self._raise_bug()
        if completed and self.sched.debugger is not None:
            self.sched.debugger.syscall_exit_stop(task)
        return completed

    # --- blocked calls and signals ---------------------------------------------------------------

    def _block(self, task: Task, entry: SyscallEntry, raw: list[int], block: Block) -> None:
        """The handler raised Block: the call sleeps, or, with a signal already pending
        (Linux's signal_pending check before schedule()), is interrupted without sleeping;
        the signal is delivered next, on the way back to user mode."""
        block.__traceback__ = None  # kept with the pending call: not the handler's frames
        task.pending = PendingSyscall(entry, raw, block)
        if not block.killable and self.kernel.signals.deliverable(task):
            self.interrupt_call(task)
            return
        self.sched.sleep(task, block)
        if self.kernel.tracer is not None:
            self.kernel.tracer.block(task, entry)

    def interrupt_call(self, task: Task) -> None:
        """A signal ends the sleep of `task`'s pending call. The call's own answer (its
        Block's `on_signal`) or its restart policy gives the code: a result or EINTR ends
        the call here; a restart code stays in `pending.interrupted` (and is traced), for
        signal delivery to turn into EINTR or a restart (`end_interrupted`), or, if no
        handler runs, for the scheduler to make the call again."""
        pending = task.pending
        assert pending is not None
        block = pending.block
        if block is None:  # gdb's caught call, not made yet
            code = -Restart.ERESTARTSYS
        elif block.on_signal is not None:
            code = block.on_signal(task)
        else:
            code = -block.restart
        if code >= 0 or code in (-EFAULT, -EINTR):
            self.finish(task, code)
            return
        pending.interrupted = code
        if self.kernel.tracer is not None:
            self.kernel.tracer.exit(task, pending.entry, pending.args, code)

    def end_interrupted(self, task: Task, restart: bool) -> None:
        """A handler is about to run for the signal that interrupted `task`'s pending call
        (signal delivery decided, by the call's code and SA_RESTART): the call ends with
        EINTR, or, to `restart`, is made again when the handler returns: rip back on the
        `syscall` instruction and rax its number (Linux's orig_rax)."""
        pending = task.pending
        assert pending is not None
        self.abandon(task)
        uc = task.uc
        if restart:
            uc.reg_write(RIP, uc.reg_read(RIP) - SYSCALL_INSN_LEN)
            uc.reg_write(RAX, pending.entry.number)
        else:
            self.registers.set_return(uc, -EINTR)

    def finish(self, task: Task, result: int) -> None:
        """End `task`'s pending call with `result` (a signal ended its sleep)."""
        pending = task.pending
        assert pending is not None
        self.abandon(task)
        self.registers.set_return(task.uc, result)
        if self.kernel.tracer is not None:
            self.kernel.tracer.exit(task, pending.entry, pending.args, result)

    @staticmethod
    def abandon(task: Task) -> None:
        """`task`'s pending call ends without completing: undo its sleep's bookkeeping
        (its Block's `cancel`, which may read the restart block), then forget the call."""
        pending = task.pending
        if pending is not None and pending.block is not None and pending.block.cancel is not None:
            pending.block.cancel(task)
        task.restart_block = None
        task.pending = None

    # --- running user code ------------------------------------------------------------------

    def run_user(self, cpu: Cpu, task: Task, budget: int) -> bool:
        """emu_start until the task stops: returns True if its budget ran out.

        `budget` is in guest instructions (0: unbounded, a lone task), and
        `cpu.executed` is what the run was charged. With pykern's libunicorn the
        budget is charged per translation block in the blocks' own code
        (tools/build_unicorn.py, the instruction budget): the JIT keeps its block
        chaining and lazy flags, and a slice ends at the same block boundary on every
        run, so preemption is reproducible. With another libunicorn the budget is
        emu_start's count, Unicorn's per-instruction hook, more than 10x slower; Unicorn
        flushes all translated code when that hook comes or goes, so once an address
        space has run counted it stays counted. (Never Unicorn's `timeout`: a wall-time
        stop lands anywhere, and the wheel's libunicorn could re-run instructions after
        one, unicorn-engine/unicorn#1565 and #1105.)

        With several CPUs the kernel lock is let go while the guest runs (pykern.smp);
        the task may have died meanwhile (killed by another CPU): then nothing it did
        in the JIT matters any more."""
        mm = task.mm
        uc = task.uc
        uc.fault = None
        uc.interrupt = None
        rip = uc.reg_read(RIP)
        cpu.stopped = False
        cpu.unbounded = not budget
        start = budget or NO_BUDGET
        lock = self.lock
        try:
            if HAS_BUDGET:
                uc.set_budget(start)
                if self.virtual is not None:
                    self.virtual.enter_user(uc, start)
                if lock is None:
                    uc.emu_start(rip, UNTIL_NEVER)
                else:
                    cpu.in_guest = True
                    lock.release()
                    try:
                        uc.emu_start(rip, UNTIL_NEVER)
                    finally:
                        cpu.in_guest = False
                        lock.acquire()
            else:
                if budget:
                    mm.counted = True
                uc.emu_start(rip, UNTIL_NEVER, count=budget or (UNBOUNDED_COUNT if mm.counted else 0))
        except UcError as error:
            self._charge(cpu, uc, start)
            if self.bug is not None:
                self._raise_bug()
            if task.state is not _DEAD:
                self._cpu_fault(task, error)
            return False
        except Exception as error:  # escaped from a hook, outside any handler: a pykern bug
            self.bug, self.bug_task = error, uc.loaded_task
            self._raise_bug()
        self._charge(cpu, uc, start)
        if self.bug is not None:
            self._raise_bug()
        if uc.interrupt is not None and task.state is not _DEAD:
            self._cpu_interrupt(task, uc.interrupt)
            return False
        return budget > 0 and not cpu.stopped

    def _charge(self, cpu: Cpu, uc: Uc, start: int) -> None:
        """cpu.executed: the instructions the last run was charged (without a budget,
        the whole budget when it ran out, else 0: the kernel stopped it)."""
        if HAS_BUDGET:
            cpu.executed = start - uc.budget()
        else:
            cpu.executed = 0 if cpu.stopped else start
        if self.virtual is not None:
            self.virtual.leave_user(cpu.executed)

    def _raise_bug(self) -> None:
        error, task = self.bug, self.bug_task
        self.bug = self.bug_task = None
        where = describe_guest(task) if task is not None else ""
        raise KernelBug(f"pykern bug while serving {where}: {error!r}") from error

    # --- CPU exceptions -------------------------------------------------------------------------

    def _bad_access_hook(self, uc: Uc, access: int, addr: int, size: int, value: int, mm: MM) -> bool:
        """An access Unicorn's mappings refuse. Whether a VMA is there is decided now, as
        Linux's fault handler decides it under the mmap lock: with several CPUs, under
        the kernel lock, where another CPU may just have mapped the page (a MAP_FIXED
        replacement, mmap after munmap): then the access is made again (True), as a
        fault that finds the page present returns to the instruction on Linux."""
        lock = self.lock
        if lock is None:
            uc.fault = (access, addr, size, mm.find_vma(addr) is not None)
            return False
        cpu = uc.cpu
        cpu.in_guest = False
        lock.acquire()
        try:
            vma = mm.find_vma(addr)
            if vma is not None and uc_prot(vma.prot) & _ACCESS_PROT.get(access, 0) and uc.fault != (access, addr, size, True) \
                    and not (mm.aliases and mm.aliases.guards(mm, addr, size)):  # (the guard's faults flip in _cpu_fault)
                uc.fault = (access, addr, size, True)  # (once: a second fault at once is a real one)
                return True
            uc.fault = (access, addr, size, vma is not None)
            return False
        finally:
            cpu.in_guest = True
            lock.release()

    @staticmethod
    def _interrupt_hook(uc: Uc, intno: int, mm: MM) -> None:
        uc.interrupt = intno
        uc.cpu.stopped = True
        uc.emu_stop()

    def _cpu_fault(self, task: Task, error: UcError) -> None:
        fault = task.uc.fault
        if fault and task.mm.aliases and task.mm.aliases.fault(task.mm, fault[0], fault[1], fault[2], task.reg(RIP)):
            return  # a page one mapping writes and another runs changed state: run it again (pykern.codealias)
        if error.errno == X.UC_ERR_INSN_INVALID:
            rip = task.reg(RIP)
            self.kernel.signals.force_signal(task, SIGILL, ILL_ILLOPN, rip, rip)
            return
        signal, code = _MEMORY_ERRORS.get(error.errno, (SIGSEGV, SI_KERNEL))
        addr = fault[1] if fault else 0
        if code == SEGV_MAPERR and fault and fault[3]:  # PROT_NONE: not in Unicorn (mm.py)
            code = SEGV_ACCERR
        rip = locate_fault(task, addr, error.errno == X.UC_ERR_FETCH_UNMAPPED
                                       or error.errno == X.UC_ERR_FETCH_PROT)
        self.kernel.signals.force_signal(task, signal, code, addr, rip)

    def _cpu_interrupt(self, task: Task, intno: int) -> None:
        rip = task.reg(RIP)
        if intno == 0:  # #DE divide error: rip is the faulting div
            self.kernel.signals.force_signal(task, SIGFPE, FPE_INTDIV, rip, rip)
        elif intno == 3:  # int3: rip is after the instruction, as on Linux
            self.kernel.signals.force_signal(task, SIGTRAP, TRAP_BRKPT, 0, rip)
        elif intno == 6:
            self.kernel.signals.force_signal(task, SIGILL, ILL_ILLOPN, rip, rip)
        elif intno in (X86_TRAP_MF, X86_TRAP_XF):  # rip is the instruction that trapped
            self.kernel.signals.force_signal(task, SIGFPE, fpu_exception_code(task.uc, intno), rip, rip)
        else:  # #GP and the rest: privileged instructions, bad segment use
            self.kernel.signals.force_signal(task, SIGSEGV, SI_KERNEL, 0, rip)


def fpu_exception_code(uc: Uc, intno: int) -> int:
    """SIGFPE's si_code for #MF or #XM, from the exceptions both raised and unmasked, in
    Linux's order of precedence (arch/x86/kernel/fpu/core.c, fpu__exception_code). The
    status word and MXCSR read here include the flags the instruction just raised."""
    if intno == X86_TRAP_MF:
        control, status = uc.reg_read_batch((X.UC_X86_REG_FPCW, X.UC_X86_REG_FPSW))
        err = status & ~control
    else:
        mxcsr = uc.reg_read(X.UC_X86_REG_MXCSR)
        err = ~(mxcsr >> 7) & mxcsr
    if err & 0x001:
        return FPE_FLTINV
    if err & 0x004:
        return FPE_FLTDIV
    if err & 0x008:
        return FPE_FLTOVF
    if err & 0x012:  # denormal operand or underflow
        return FPE_FLTUND
    if err & 0x020:
        return FPE_FLTRES
    return 0  # Linux calls such a trap spurious; pykern's libunicorn never raises one
