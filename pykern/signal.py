"""Signals (Linux's kernel/signal.c and arch/x86/kernel/signal.c).

The life of a signal, as in Linux:

- generation (`send`): kill, tgkill, a child's death, SIGPIPE, a CPU fault. SIGCONT
  resumes a stopped process and SIGKILL kills at once, whatever the target is doing;
  anything else is queued with its siginfo on the thread (thread-directed) or the
  process (`shared_pending`), and one thread that does not block it is woken.
- delivery (`do_signal`): on the way back to user mode, the scheduler dequeues each
  signal the thread does not block and takes its action: ignore, stop the process,
  terminate it (with a core-dump flag), or run the user's handler on an
  `rt_sigframe` built on the user stack (or the alternate signal stack). A blocking
  call the signal interrupted (pykern.trap's `interrupt_call`, by the policy its Block
  declared) ends with EINTR, or is restarted (SA_RESTART, or no handler ran): this module
  decides, the trap writes the registers.
- return (`sigreturn`): the handler returns into its sa_restorer, which calls
  rt_sigreturn; the registers and mask saved in the frame come back.

Stopped processes are reported to wait4 (WUNTRACED) and continued ones (WCONTINUED),
and their parent gets SIGCHLD with CLD_STOPPED / CLD_CONTINUED unless it set
SA_NOCLDSTOP; a process group orphaned while a member is stopped gets SIGHUP and SIGCONT.
signalfd (pykern.signalfd) reads what is pending from the same queues.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pykern import uc_const as X
from pykern.abi import (
    CLD_CONTINUED,
    CLD_DUMPED,
    CLD_EXITED,
    CLD_KILLED,
    CLD_STOPPED,
    EINVAL,
    ENOMEM,
    EPERM,
    ERESTARTNOINTR,
    ERESTARTSYS,
    MINSIGSTKSZ,
    NSEC_PER_SEC,
    RLIMIT_CORE,
    SA_NOCLDSTOP,
    SA_NOCLDWAIT,
    SA_NODEFER,
    SA_ONSTACK,
    SA_RESETHAND,
    SA_RESTART,
    SA_RESTORER,
    SI_KERNEL,
    SIG_DFL,
    SIG_IGN,
    SIGBUS,
    SIGCHLD,
    SIGCONT,
    SIGCONTEXT,
    SIGFPE,
    SIGHUP,
    SIGILL,
    SIGINFO_SIZE,
    SIGKILL,
    SIGPIPE,
    SIGSEGV,
    SIGSTOP,
    SIGTRAP,
    SS_AUTODISARM,
    SS_DISABLE,
    SS_ONSTACK,
    STACK_T,
    UCONTEXT_HEAD,
    UCONTEXT_SIZE,
    USER_HZ,
)
from pykern.errors import Fault, SysError
from pykern.sigtypes import (
    CORE_SIGNALS,
    FAULT_SIGNALS,
    IGNORED_BY_DEFAULT,
    STOP_MASK,
    STOP_SIGNALS,
    UNBLOCKABLE,
    AltStack,
    SigAction,
    SigInfo,
    sigbit,
    user_info,
)
from pykern.task import TaskState

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

TICK_NS = NSEC_PER_SEC // USER_HZ  # one clock_t tick


# --- the signal frame (arch/x86/include/uapi/asm/sigcontext.h, ucontext.h) ----------------------

# struct sigcontext's general registers, in order; then cs, gs, fs, ss (u16 each), err,
# trapno, oldmask, cr2, fpstate pointer, 8 reserved words: 256 bytes.
SIGCONTEXT_REGS = (
    X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
    X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15,
    X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RBP, X.UC_X86_REG_RBX,
    X.UC_X86_REG_RDX, X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RSP,
    X.UC_X86_REG_RIP, X.UC_X86_REG_EFLAGS,
)
FRAME_INFO_OFFSET = 8 + UCONTEXT_SIZE  # after pretcode and the ucontext: 312
FRAME_SIZE = FRAME_INFO_OFFSET + SIGINFO_SIZE
FXSAVE_SIZE = 512
REDZONE = 128
UC_SIGCONTEXT_SS = 0x2
UC_STRICT_RESTORE_SS = 0x4
USER_CS, USER_SS = 0x33, 0x2B
# eflags bits a handler may change in its saved context (Linux's FIX_EFLAGS)
FIX_EFLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000 | 0x40000
EFLAGS_TF, EFLAGS_DF, EFLAGS_RF = 0x100, 0x400, 0x10000
XMM_REGS = tuple(getattr(X, f"UC_X86_REG_XMM{i}") for i in range(16))
SIGCONTEXT_FPSTATE = 26  # the fpstate pointer's index in SIGCONTEXT's fields
FPU_STATE_REGS = (X.UC_X86_REG_FPCW, X.UC_X86_REG_FPSW, X.UC_X86_REG_MXCSR)
FPU_INIT_STATE = (0x37F, 0, 0x1F80)  # as after FNINIT, and Linux's MXCSR_DEFAULT
TRAPNO = {SIGSEGV: 14, SIGBUS: 14, SIGFPE: 0, SIGILL: 6, SIGTRAP: 3}
MAX_SAVED_FRAMES = 64


class Signals:
    """The kernel's signal machinery; installed as `kernel.signals`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    # --- dispositions -----------------------------------------------------------------------

    def action(self, group: ThreadGroup, sig: int) -> SigAction:
        return group.sigactions.get(sig) or SigAction()

    def ignores_children(self, parent: ThreadGroup) -> bool:
        """SIGCHLD set to SIG_IGN or SA_NOCLDWAIT: children are reaped at exit."""
        action = self.action(parent, SIGCHLD)
        return action.handler == SIG_IGN or bool(action.flags & SA_NOCLDWAIT)

    def flush_handlers(self, group: ThreadGroup) -> None:
        """execve: handled signals go back to SIG_DFL; ignored ones stay ignored."""
        for sig, action in list(group.sigactions.items()):
            if action.handler not in (SIG_DFL, SIG_IGN):
                group.sigactions[sig] = SigAction()

    def is_ignored(self, group: ThreadGroup, sig: int) -> bool:
        action = self.action(group, sig)
        return action.handler == SIG_IGN or (action.handler == SIG_DFL and sig in IGNORED_BY_DEFAULT)

    # --- generation ------------------------------------------------------------------------------

    def send(self, group: ThreadGroup, info: SigInfo, task: Task | None = None) -> None:
        """send_signal: `info` to the process `group`, or to its thread `task`."""
        sig = info.signo
        if sig == 0 or group.is_zombie or not group.live_tasks:
            return
        if sig == SIGKILL:
            self.kill_group(group, SIGKILL)
            return
        if sig in STOP_SIGNALS:
            self.discard(group, sigbit(SIGCONT))
        elif sig == SIGCONT:
            self.discard(group, STOP_MASK)
            self.continue_group(group)
        targets = [task] if task is not None else group.live_tasks
        bit = sigbit(sig)
        blocked = all((t.sigmask | t.real_blocked) & bit for t in targets)
        # An ignored signal is dropped unless blocked (the action may change before it is
        # unblocked) or traced: a tracer (or gdb) sees every signal, as under ptrace.
        debugger = self.kernel.sched.debugger
        if self.is_ignored(group, sig) and not blocked and self.kernel.tracer is None \
                and (debugger is None or not debugger.traces(group.leader)):
            return
        queue = task.sigpending if task is not None else group.shared_pending
        if not queue.add(info):
            return
        group.signalfd_wait.wake_all()  # signalfd readers take blocked signals
        for target in targets:  # complete_signal: wake one thread that can take it
            if not target.sigmask & bit:
                self.wake_for_signal(target)
                break

    def send_sigpipe(self, task: Task) -> None:
        """A write to a pipe or socket nobody reads: SIGPIPE to the writing thread (then EPIPE)."""
        self.send(task.group, user_info(task, SIGPIPE), task)

    def discard(self, group: ThreadGroup, mask: int) -> None:
        group.shared_pending.discard(mask)
        for task in group.tasks:
            task.sigpending.discard(mask)

    def wake_for_signal(self, task: Task) -> None:
        """signal_wake_up: a sleeping thread re-runs its call and may be interrupted; a
        running one leaves the JIT after its current syscall."""
        sched = self.kernel.sched
        if task.state is TaskState.SLEEPING:
            sched.wake(task)
        elif task.state is TaskState.RUNNABLE:
            self.kernel.smp.kick(task)  # (on another CPU: it leaves the JIT now)

    def deliverable(self, task: Task) -> int:
        """The pending signals `task` would take now (Linux's signal_pending)."""
        return (task.sigpending.mask | task.group.shared_pending.mask) & ~task.sigmask

    def mask_changed(self, task: Task) -> None:
        """After the mask shrank: deliver what it now lets through before user code runs."""
        if self.deliverable(task):
            self.kernel.sched.need_resched = True

    # --- children -----------------------------------------------------------------------------

    def notify_parent(self, child: ThreadGroup) -> None:
        """do_notify_parent: the child died; tell its parent with its exit signal."""
        parent = child.parent
        if parent is None or not child.exit_signal:
            return
        status = child.wait_status or 0
        if status & 0x7F:
            code, value = (CLD_DUMPED if status & 0x80 else CLD_KILLED), status & 0x7F
        else:
            code, value = CLD_EXITED, (status >> 8) & 0xFF
        self.send(parent, self._child_info(child, child.exit_signal, code, value))

    def _child_info(self, child: ThreadGroup, sig: int, code: int, value: int) -> SigInfo:
        from pykern.rusage import process_cpu_usage  # do_notify_parent: the child's own times, its threads'

        usage = process_cpu_usage(self.kernel.clock, child)
        return SigInfo(sig, code, pid=child.tgid, uid=child.creds.uid, status=value,
                       utime=usage.utime_ns // TICK_NS, stime=usage.stime_ns // TICK_NS)

    def _notify_parent_stop(self, child: ThreadGroup, code: int, sig: int) -> None:
        """do_notify_parent_cldstop: the child stopped or continued."""
        child.job.report = (code, sig)
        parent = child.parent
        if parent is None or parent is self.kernel.init:
            return
        parent.child_events.wake_all()
        if not self.action(parent, SIGCHLD).flags & SA_NOCLDSTOP:
            self.send(parent, self._child_info(child, SIGCHLD, code, sig))

    # --- job control --------------------------------------------------------------------------

    def stop_group(self, task: Task, sig: int) -> None:
        """do_signal_stop: every thread of the process stops; the parent hears of it."""
        group = task.group
        job = group.job
        job.stopped, job.signal = True, sig
        sched = self.kernel.sched
        for thread in group.live_tasks:
            sched.forget(thread)
            self.kernel.smp.kick(thread)  # (on another CPU: it leaves the JIT now)
            thread.state = TaskState.STOPPED
            if self.kernel.tracer is not None:
                self.kernel.tracer.stopped(thread, sig)
        sched.need_resched = True
        self._notify_parent_stop(group, CLD_STOPPED, sig)

    def continue_group(self, group: ThreadGroup) -> None:
        """SIGCONT: a stopped process runs again (its sleeping calls re-run from the top)."""
        job = group.job
        if not job.stopped:
            return
        job.stopped = False
        for thread in group.live_tasks:
            if thread.state is TaskState.STOPPED:
                thread.signals_first = True  # it wakes inside get_signal: signals, then its call
                self.kernel.sched.enqueue(thread)
        self._notify_parent_stop(group, CLD_CONTINUED, SIGCONT)

    def _links(self, member: ThreadGroup, parent: ThreadGroup | None) -> bool:
        """Does `parent` keep `member`'s process group from being orphaned: a parent in
        another group of the same session? The first process's parent stands for the
        shell that ran it, which always does."""
        kernel = self.kernel
        if member is kernel.first:
            return True
        return parent is not None and parent is not kernel.init and parent.pgid != member.pgid \
            and parent.sid == member.sid

    def _pgrp_members(self, pgid: int) -> list[ThreadGroup]:
        return [g for g in self.kernel.groups.values() if g.pgid == pgid and not g.is_zombie]

    def orphaned_pgrp(self, group: ThreadGroup) -> bool:
        """Is `group`'s process group orphaned (no member's parent links it, see _links)?"""
        return not any(self._links(member, member.parent) for member in self._pgrp_members(group.pgid))

    def kill_orphaned_pgrps(self, group: ThreadGroup, children: list[ThreadGroup]) -> None:
        """`group` has died (its children already given to init): a process group that
        this orphans and that has stopped members gets SIGHUP, then SIGCONT (Linux's
        kill_orphaned_pgrp), for nobody is left to continue them. That can be `group`'s
        own process group, if its parent made the link, or a child's, if `group` did."""
        candidates = [group] if self._links(group, group.parent) else []
        candidates += [child for child in children if self._links(child, group)]
        for pgid in dict.fromkeys(member.pgid for member in candidates):
            members = self._pgrp_members(pgid)
            if not any(m.job.stopped for m in members) or not self.orphaned_pgrp(members[0]):
                continue
            for target in members:
                self.send(target, SigInfo(SIGHUP, SI_KERNEL))
                self.send(target, SigInfo(SIGCONT, SI_KERNEL))

    # --- delivery ---------------------------------------------------------------------------------

    def do_signal(self, task: Task) -> None:
        """Take the action of every signal `task` can take now (Linux's get_signal loop on
        the way back to user mode). The task is loaded."""
        if not self.deliverable(task):
            return
        pending = task.pending
        if pending is not None:
            if pending.block is not None and pending.block.killable:
                return  # a killable-only wait (vfork): only SIGKILL ends it
            if pending.interrupted is None:  # a thread stopped mid-sleep by its process's stop
                self.kernel.trap.interrupt_call(task)  # (which may complete the call instead)
        group = task.group
        while task.state is TaskState.RUNNABLE:
            info = task.sigpending.take(~task.sigmask) or group.shared_pending.take(~task.sigmask)
            if info is None:
                break
            debugger = self.kernel.sched.debugger
            if debugger is not None and debugger.traces(task):  # gdb sees it first
                info = debugger.signal_stop(task, info)
                if info is None:
                    continue  # suppressed (gdb's c instead of C<sig>)
            sig = info.signo
            action = self.action(group, sig)
            if self.kernel.tracer is not None:
                self.kernel.tracer.signal(task, info)
            if action.handler == SIG_IGN:
                continue
            if action.handler != SIG_DFL:
                self._handle(task, info, action)
                continue
            if sig in IGNORED_BY_DEFAULT:
                continue
            if sig in STOP_SIGNALS:
                if sig != SIGSTOP and self.orphaned_pgrp(group):
                    continue  # an orphaned process group may not be stopped by the terminal
                self.stop_group(task, sig)
                return
            self.kill_group(group, sig)
            return
        if task.pending is None:
            # A call that waited with a temporary mask (epoll_pwait, ppoll) ended and no
            # handler's frame took the old mask: it comes back now.
            self.restore_saved_mask(task)

    def restore_saved_mask(self, task: Task) -> None:
        """Linux's restore_saved_sigmask: the mask a call replaced while it waited (ppoll,
        pselect6, epoll_pwait, sigsuspend) comes back."""
        if task.saved_sigmask is not None:
            task.sigmask, task.saved_sigmask = task.saved_sigmask, None

    def _handle(self, task: Task, info: SigInfo, action: SigAction) -> None:
        """handle_signal: end an interrupted call (EINTR, or a restart after the handler:
        always for ERESTARTNOINTR, under SA_RESTART for ERESTARTSYS), then build the frame."""
        pending = task.pending
        if pending is not None and pending.interrupted is not None:
            code = pending.interrupted
            restart = code == -ERESTARTNOINTR or (code == -ERESTARTSYS and bool(action.flags & SA_RESTART))
            self.kernel.trap.end_interrupted(task, restart)
        try:
            self._setup_frame(task, info, action)
        except Fault:  # no room for the frame: Linux's force_sigsegv
            if self.kernel.tracer is not None:
                self.kernel.tracer.signal(task, SigInfo(SIGSEGV, SI_KERNEL))
            self.kill_group(task.group, SIGSEGV)

    def _setup_frame(self, task: Task, info: SigInfo, action: SigAction) -> None:
        """Build the rt_sigframe (x86-64 setup_rt_frame) and enter the handler."""
        if not action.flags & SA_RESTORER:
            raise Fault(0)  # x86-64 has no vDSO trampoline here: a restorer is required
        uc = task.uc
        regs = list(uc.reg_read_batch(SIGCONTEXT_REGS))
        rsp = regs[15]
        altstack = task.altstack
        sp = rsp - REDZONE
        if action.flags & SA_ONSTACK and altstack.state(rsp) == 0:
            sp = altstack.sp + altstack.size
        fpstate = (sp - FXSAVE_SIZE) & ~63
        frame = ((fpstate - FRAME_SIZE) & ~15) - 8
        old_mask = task.saved_sigmask if task.saved_sigmask is not None else task.sigmask
        sig = info.signo
        trapno = TRAPNO.get(sig, 0) if info.code > 0 and sig in FAULT_SIGNALS else 0
        cr2 = info.addr if sig in (SIGSEGV, SIGBUS) and info.code > 0 else 0
        sigcontext = SIGCONTEXT.pack(*regs, USER_CS, 0, 0, USER_SS, 0, trapno, old_mask & 0xFFFFFFFF, cr2,
                                     fpstate)
        stack = STACK_T.pack(altstack.sp, altstack.state(rsp), altstack.size)
        ucontext = UCONTEXT_HEAD.pack(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0) + stack + sigcontext \
            + struct.pack("<Q", old_mask)
        mm = task.mm
        fpu = uc.reg_read_batch(FPU_STATE_REGS)  # with the exception flags (tools/build_unicorn.py)
        mm.copy_out(fpstate, self._fxsave(uc, fpu))
        mm.copy_out(frame, struct.pack("<Q", action.restorer) + ucontext + info.pack())
        # The registers to come back to: all of them, FPU and SSE included, by frame address.
        frames = task.sigframes
        frames[frame] = (uc.context_save(), fpu)
        if fpu != FPU_INIT_STATE:  # the handler starts with a clean FPU (fpu__clear_user_states)
            for reg, value in zip(FPU_STATE_REGS, FPU_INIT_STATE):
                uc.reg_write(reg, value)
            uc.reg_write(X.UC_X86_REG_FPTAG, 0xFFFF)  # the x87 stack empty
        if len(frames) > MAX_SAVED_FRAMES:  # handlers that longjmp'd out never return
            del frames[next(iter(frames))]
        uc.reg_write(X.UC_X86_REG_RSP, frame)
        uc.reg_write(X.UC_X86_REG_RIP, action.handler)
        uc.reg_write(X.UC_X86_REG_RDI, sig)
        uc.reg_write(X.UC_X86_REG_RSI, frame + FRAME_INFO_OFFSET)
        uc.reg_write(X.UC_X86_REG_RDX, frame + 8)
        uc.reg_write(X.UC_X86_REG_RAX, 0)  # the handler's rax (setup_rt_frame), not a call's result
        uc.reg_write(X.UC_X86_REG_EFLAGS, regs[17] & ~(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF))
        if altstack.flags & SS_AUTODISARM:
            task.altstack = AltStack()
        task.saved_sigmask = None
        task.sigmask |= action.mask | (0 if action.flags & SA_NODEFER else sigbit(sig))
        task.sigmask &= ~UNBLOCKABLE
        if action.flags & SA_RESETHAND:  # one shot: the handler goes, flags and mask stay
            task.group.sigactions[sig] = SigAction(SIG_DFL, action.flags, action.restorer, action.mask)

    @staticmethod
    def _fxsave(uc: object, fpu: tuple[int, ...]) -> bytes:
        """The FXSAVE image a handler can read at uc_mcontext.fpregs (control words and SSE)."""
        fcw, fsw, mxcsr = fpu
        image = bytearray(FXSAVE_SIZE)
        struct.pack_into("<HH", image, 0, fcw, fsw)
        struct.pack_into("<II", image, 24, mxcsr, 0xFFFF)
        for i, value in enumerate(uc.reg_read_batch(XMM_REGS)):
            image[160 + 16 * i:176 + 16 * i] = value.to_bytes(16, "little")
        return bytes(image)

    def sigreturn(self, task: Task) -> int:
        """rt_sigreturn: restore what the frame at rsp - 8 saved; returns the restored rax."""
        uc = task.uc
        frame = uc.reg_read(X.UC_X86_REG_RSP) - 8
        try:
            data = task.mm.copy_in(frame + 8, UCONTEXT_SIZE)
        except Fault:
            self.force_sigsegv(task)
            return 0
        frames = task.sigframes
        saved = frames.pop(frame, None)
        for deeper in [addr for addr in frames if addr < frame]:
            del frames[deeper]  # frames of handlers that longjmp'd out and never returned
        offset = UCONTEXT_HEAD.size
        ss_sp, ss_flags, ss_size = STACK_T.unpack_from(data, offset)
        offset += STACK_T.size
        values = SIGCONTEXT.unpack_from(data, offset)
        if saved is not None:
            context, fpu = saved
            uc.context_restore(context)
            self._restore_fpu(task, values[SIGCONTEXT_FPSTATE], fpu)
        (mask,) = struct.unpack_from("<Q", data, offset + SIGCONTEXT.size)
        eflags = uc.reg_read(X.UC_X86_REG_EFLAGS)
        for reg, value in zip(SIGCONTEXT_REGS[:16], values[:16]):
            uc.reg_write(reg, value)
        self.kernel.trap.set_user_rip(uc, values[16])
        uc.reg_write(X.UC_X86_REG_EFLAGS, (eflags & ~FIX_EFLAGS) | (values[17] & FIX_EFLAGS))
        task.sigmask = mask & ~UNBLOCKABLE
        try:  # restore_altstack: a bad saved stack_t is ignored, as Linux does
            self.set_altstack(task, AltStack(ss_sp, ss_flags & ~SS_ONSTACK, ss_size), values[15])
        except SysError:
            pass
        self.kernel.sched.need_resched = True  # leave the JIT: the restored rip is a jump
        return values[13]  # rax

    @staticmethod
    def _restore_fpu(task: Task, fpstate: int, saved: tuple[int, ...]) -> None:
        """The control words, status word and MXCSR as the frame's fpstate holds them: a
        SIGFPE handler clears the exception flags or masks the exception there. (The rest
        of the FPU and SSE state comes back as it was saved.)"""
        if not fpstate:
            return
        try:
            header = task.mm.copy_in(fpstate, 28)
        except Fault:
            return
        fcw, fsw = struct.unpack_from("<HH", header, 0)
        (mxcsr,) = struct.unpack_from("<I", header, 24)
        uc = task.uc
        for reg, value, before in zip(FPU_STATE_REGS, (fcw, fsw, mxcsr & 0xFFFF), saved):
            if value != before:
                uc.reg_write(reg, value)

    # --- synchronous signals --------------------------------------------------------------------

    def force(self, task: Task, info: SigInfo) -> bool:
        """force_sig_info: a fault in `task`. Returns True if a handler will run; False if
        the fault is fatal (no handler, or the signal blocked or ignored)."""
        debugger = self.kernel.sched.debugger
        if debugger is not None and debugger.traces(task):  # gdb stops at the faulting instruction
            delivered = debugger.signal_stop(task, info)
            if delivered is None:
                return True  # suppressed: the instruction runs (and faults) again, as under ptrace
            info = delivered
        action = self.action(task.group, info.signo)
        if action.handler in (SIG_DFL, SIG_IGN) or task.sigmask & sigbit(info.signo):
            return False
        task.sigpending.add(info)
        self.kernel.sched.need_resched = True
        return True

    def force_signal(self, task: Task, sig: int, code: int, addr: int, rip: int) -> None:
        """A synchronous CPU fault: the task's handler runs (at the faulting instruction,
        as Linux restarts it), or with none, or the signal blocked or ignored, the
        process dies and `--report-crashes` says where."""
        info = SigInfo(sig, code, addr=addr)
        if self.force(task, info):
            return
        if self.kernel.tracer is not None:
            self.kernel.tracer.signal(task, info)
        if self.kernel.options.report_crashes:
            from pykern.crash import report_crash

            report_crash(task, sig, code, addr, rip)
        self.kill_group(task.group, sig)

    def kill_group(self, group: ThreadGroup, sig: int) -> None:
        """Default action of a fatal signal sent to a process."""
        from pykern.exit import do_group_exit

        victim = group.live_tasks[0] if group.live_tasks else None
        if victim is not None:
            core = sig in CORE_SIGNALS and group.rlimits.get(RLIMIT_CORE, (0, 0))[0] != 0
            do_group_exit(victim, sig | (0x80 if core else 0))

    def force_sigsegv(self, task: Task) -> None:
        if self.kernel.tracer is not None:
            self.kernel.tracer.signal(task, SigInfo(SIGSEGV, SI_KERNEL))
        self.kill_group(task.group, SIGSEGV)

    # --- sigaltstack ---------------------------------------------------------------------------

    def set_altstack(self, task: Task, new: AltStack, sp: int) -> None:
        """do_sigaltstack's checks for a new stack_t."""
        if task.altstack.contains(sp):
            raise SysError(EPERM)
        mode = new.flags & ~SS_AUTODISARM
        if mode not in (0, SS_DISABLE, SS_ONSTACK):
            raise SysError(EINVAL)
        if mode == SS_DISABLE:
            task.altstack = AltStack(0, SS_DISABLE, 0)
            return
        if new.size < MINSIGSTKSZ:
            raise SysError(ENOMEM)
        task.altstack = AltStack(new.sp, new.flags & SS_AUTODISARM, new.size)
