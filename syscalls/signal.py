"""Signal syscalls: actions, masks, sending, waiting, the alternate stack and the way back
from a handler (rt_sigreturn). The machinery itself is pykern.signal."""

from __future__ import annotations

from pykern import uc_const as X
from pykern.abi import (
    EAGAIN,
    EINVAL,
    EPERM,
    ESRCH,
    KERNEL_SIGACTION,
    NSEC_PER_SEC,
    NSIG,
    RLIMIT_SIGPENDING,
    SI_TKILL,
    SIG_BLOCK,
    SIG_SETMASK,
    SIG_UNBLOCK,
    SIGINFO_HEAD,
    SIGINFO_KILL,
    SIGINFO_UNION_OFFSET,
    SIGKILL,
    SIGRTMIN,
    SIGSET_SIZE,
    SIGSTOP,
    STACK_T,
)
from pykern.errors import Block, Restart, SysError
from pykern.rlimit import get_rlimit
from pykern.sigtypes import (
    QUEUE_BOUND,
    UNBLOCKABLE,
    AltStack,
    SigAction,
    SigInfo,
    SigQueue,
    sigbit,
    user_info,
)
from pykern.syscalls.table import syscall
from pykern.syscalls.time import copy_in_timespec_ns
from pykern.sysent import (
    PID,
    PTR,
    RET_RESTORED,
    SIGACTION_IN,
    SIGACTION_OUT,
    SIGHOW,
    SIGINFO_OUT,
    SIGNUM,
    SIGSET_IN,
    SIGSET_OUT,
    SIZE,
    TIMESPEC_IN,
)
from pykern.task import Task, ThreadGroup


@syscall("rt_sigaction", SIGNUM, SIGACTION_IN, SIGACTION_OUT, SIZE, classes="signal")
def sys_rt_sigaction(task: Task, signum: int, act_addr: int, oldact_addr: int, sigsetsize: int) -> int:
    """rt_sigaction(2). Setting SIG_IGN (or SIG_DFL on a default-ignored signal) drops
    what is pending of that signal."""
    if sigsetsize != SIGSET_SIZE or not 1 <= signum <= NSIG:
        raise SysError(EINVAL)
    new = SigAction.unpack(task.mm.copy_in(act_addr, KERNEL_SIGACTION.size)) if act_addr else None
    if new is not None and signum in (SIGKILL, SIGSTOP):
        raise SysError(EINVAL)
    signals = task.kernel.signals
    old = signals.action(task.group, signum)
    if oldact_addr:
        task.mm.copy_out(oldact_addr, old.pack())
    if new is not None:
        new.mask &= ~UNBLOCKABLE
        task.group.sigactions[signum] = new
        if signals.is_ignored(task.group, signum) and task.kernel.tracer is None:
            signals.discard(task.group, sigbit(signum))
    return 0


@syscall("rt_sigprocmask", SIGHOW, SIGSET_IN, SIGSET_OUT, SIZE, classes="signal")
def sys_rt_sigprocmask(task: Task, how: int, set_addr: int, oldset_addr: int, sigsetsize: int) -> int:
    """rt_sigprocmask(2). SIGKILL and SIGSTOP can never be blocked; a pending signal
    the new mask lets through is delivered before the call returns to user code."""
    if sigsetsize != SIGSET_SIZE:
        raise SysError(EINVAL)
    new = task.mm.copy_in_u64(set_addr) if set_addr else None
    if new is not None and how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        raise SysError(EINVAL)
    if oldset_addr:
        task.mm.copy_out_u64(oldset_addr, task.sigmask)
    if new is not None:
        if how == SIG_BLOCK:
            task.sigmask |= new
        elif how == SIG_UNBLOCK:
            task.sigmask &= ~new
        else:
            task.sigmask = new
        task.sigmask &= ~UNBLOCKABLE
        task.kernel.signals.mask_changed(task)
    return 0


@syscall("rt_sigpending", SIGSET_OUT, SIZE, classes="signal")
def sys_rt_sigpending(task: Task, set_addr: int, sigsetsize: int) -> int:
    """rt_sigpending(2): pending signals that are blocked."""
    if sigsetsize > SIGSET_SIZE:
        raise SysError(EINVAL)
    pending = (task.sigpending.mask | task.group.shared_pending.mask) & task.sigmask
    task.mm.copy_out(set_addr, pending.to_bytes(8, "little")[:sigsetsize])
    return 0


@syscall("rt_sigsuspend", SIGSET_IN, SIZE, classes="signal")
def sys_rt_sigsuspend(task: Task, mask_addr: int, sigsetsize: int) -> int:
    """rt_sigsuspend(2): wait for a signal with `mask` blocked; the old mask comes back
    when the handler returns. Always ends with EINTR."""
    if task.restart_block is None or not task.restart_block.suspended:
        if sigsetsize != SIGSET_SIZE:
            raise SysError(EINVAL)
        mask = task.mm.copy_in_u64(mask_addr)
        task.saved_sigmask = task.sigmask
        task.sigmask = mask & ~UNBLOCKABLE
        task.restart_state().suspended = True
    raise Block(restart=Restart.ERESTARTNOHAND, until_signal=True)


@syscall("pause", classes="signal")
def sys_pause(task: Task) -> int:
    """pause(2): sleep until a signal is delivered. Always ends with EINTR."""
    raise Block(restart=Restart.ERESTARTNOHAND, until_signal=True)


@syscall("rt_sigtimedwait", SIGSET_IN, SIGINFO_OUT, TIMESPEC_IN, SIZE, ret=SIGNUM, classes="signal")
def sys_rt_sigtimedwait(task: Task, set_addr: int, info_addr: int, timeout_addr: int, sigsetsize: int) -> int:
    """rt_sigtimedwait(2) (sigwait, sigwaitinfo, sigtimedwait): take a signal from `set`
    without running its handler; EAGAIN when the timeout passes."""
    block = task.restart_state()
    if block.wait_set is None:
        if sigsetsize != SIGSET_SIZE:
            raise SysError(EINVAL)
        wanted = task.mm.copy_in_u64(set_addr) & ~UNBLOCKABLE
        deadline = None
        if timeout_addr:
            deadline = task.kernel.clock.monotonic_ns() + copy_in_timespec_ns(task, timeout_addr)
        block.wait_set, block.wait_deadline = wanted, deadline
        # While it waits, the wanted signals are unblocked, so that sending one wakes it.
        block.wait_mask = task.sigmask
        task.real_blocked = task.sigmask  # (a blocked signal is queued even if ignored)
        task.sigmask &= ~wanted
    wanted, deadline = block.wait_set, block.wait_deadline
    info = task.sigpending.take(wanted) or task.group.shared_pending.take(wanted)
    if info is not None:
        _end_sigwait(task)
        if info_addr:
            task.mm.copy_out(info_addr, info.pack())
        return info.signo
    if deadline is not None and task.kernel.clock.monotonic_ns() >= deadline:
        _end_sigwait(task)
        raise SysError(EAGAIN)
    raise Block(deadline=None if deadline is None else deadline / NSEC_PER_SEC, restart=Restart.ERESTARTNOHAND,
                cancel=_end_sigwait, until_signal=True)


def _end_sigwait(task: Task) -> None:
    task.sigmask = task.restart_state().wait_mask
    task.real_blocked = 0


@syscall("sigaltstack", PTR, PTR, classes="signal")
def sys_sigaltstack(task: Task, ss_addr: int, old_ss_addr: int) -> int:
    """sigaltstack(2): the stack handlers with SA_ONSTACK run on."""
    sp = task.reg(X.UC_X86_REG_RSP)
    old = task.altstack
    old_bytes = STACK_T.pack(old.sp, old.state(sp), old.size)
    if ss_addr:
        ss_sp, ss_flags, ss_size = STACK_T.unpack(task.mm.copy_in(ss_addr, STACK_T.size))
        if old_ss_addr:
            task.mm.copy_out(old_ss_addr, old_bytes)  # checked before the change, as Linux
        task.kernel.signals.set_altstack(task, AltStack(ss_sp, ss_flags, ss_size), sp)
    elif old_ss_addr:
        task.mm.copy_out(old_ss_addr, old_bytes)
    return 0


@syscall("rt_sigreturn", ret=RET_RESTORED, classes="signal")
def sys_rt_sigreturn(task: Task) -> int:
    """rt_sigreturn(2): back from a handler to the registers its frame saved."""
    return task.kernel.signals.sigreturn(task)


# --- sending ---------------------------------------------------------------------------------


def _check_permission(task: Task, target_uid: int) -> None:
    creds = task.group.creds
    if creds.euid != 0 and creds.uid != target_uid and creds.euid != target_uid:
        raise SysError(EPERM)


@syscall("kill", PID, SIGNUM, classes="signal process")
def sys_kill(task: Task, pid: int, sig: int) -> int:
    """kill(2): pid > 0 one process, 0 our group, -1 everyone we may signal, < -1 a group."""
    if not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    kernel = task.kernel
    if pid == 1:
        # init (pykern's, with no code) takes only the signals it has handlers for,
        # that is none; but it exists, and only root may signal it.
        _check_permission(task, 0)  # init is root's
        return 0
    if pid > 0:
        targets = [g for g in kernel.groups.values() if g.tgid == pid and not g.reaped]
        if not targets:
            raise SysError(ESRCH)
    elif pid == -1:
        targets = [g for g in kernel.groups.values() if g.tgid != 1 and g is not task.group and not g.reaped]
    else:
        pgid = task.group.pgid if pid == 0 else -pid
        targets = [g for g in kernel.groups.values() if g.pgid == pgid and g.tgid != 1 and not g.reaped]
        if not targets:
            raise SysError(ESRCH)
    for group in targets:
        _check_permission(task, group.creds.uid)
    for group in sorted(targets, key=lambda g: g is task.group):  # ourselves last
        kernel.signals.send(group, user_info(task, sig))
    return 0


def _find_thread(task: Task, tgid: int, tid: int) -> Task:
    target = task.kernel.tasks.get(tid)
    if target is None or (tgid > 0 and target.group.tgid != tgid) or target.group.is_zombie:
        raise SysError(ESRCH)
    return target


@syscall("tgkill", PID, PID, SIGNUM, classes="signal")
def sys_tgkill(task: Task, tgid: int, tid: int, sig: int) -> int:
    """tgkill(2) (glibc's raise and abort use it)."""
    if tgid <= 0 or tid <= 0 or not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    target = _find_thread(task, tgid, tid)
    _check_permission(task, target.group.creds.uid)
    task.kernel.signals.send(target.group, user_info(task, sig, SI_TKILL), target)
    return 0


@syscall("tkill", PID, SIGNUM, classes="signal")
def sys_tkill(task: Task, tid: int, sig: int) -> int:
    """tkill(2)."""
    if tid <= 0 or not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    target = _find_thread(task, 0, tid)
    _check_permission(task, target.group.creds.uid)
    task.kernel.signals.send(target.group, user_info(task, sig, SI_TKILL), target)
    return 0


def _check_queue_room(target: ThreadGroup, queue: SigQueue, sig: int) -> None:
    """sigqueue's EAGAIN: the receiver's RLIMIT_SIGPENDING (and pykern's QUEUE_BOUND) is
    reached. Linux counts a user's signals over all its processes; pykern counts the one
    queue the signal joins."""
    if sig >= SIGRTMIN and len(queue.infos) >= min(get_rlimit(target, RLIMIT_SIGPENDING)[0], QUEUE_BOUND):
        raise SysError(EAGAIN)


def _copy_in_queued_info(task: Task, info_addr: int) -> tuple[int, int, int, int, int]:
    """si_errno, si_code, si_pid, si_uid, si_value of the siginfo_t a sigqueue caller gives."""
    data = task.mm.copy_in(info_addr, SIGINFO_UNION_OFFSET + SIGINFO_KILL.size)
    _, errno, code = SIGINFO_HEAD.unpack_from(data)
    return (errno, code, *SIGINFO_KILL.unpack_from(data, SIGINFO_UNION_OFFSET))


@syscall("rt_sigqueueinfo", PID, SIGNUM, PTR, classes="signal")
def sys_rt_sigqueueinfo(task: Task, pid: int, sig: int, info_addr: int) -> int:
    """rt_sigqueueinfo(2) (sigqueue): a signal with the caller's si_code; a process may
    not pretend to be the kernel (si_code >= 0) when signalling another."""
    if not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    errno, code, pid_field, uid_field, value = _copy_in_queued_info(task, info_addr)
    group = task.kernel.groups.get(pid)
    if group is None or group.reaped or pid == 1:
        raise SysError(ESRCH)
    if code >= 0 and group is not task.group:
        raise SysError(EPERM)
    _check_permission(task, group.creds.uid)
    _check_queue_room(group, group.shared_pending, sig)
    task.kernel.signals.send(group, SigInfo(sig, code, errno, pid=pid_field, uid=uid_field, value=value))
    return 0


@syscall("rt_tgsigqueueinfo", PID, PID, SIGNUM, PTR, classes="signal")
def sys_rt_tgsigqueueinfo(task: Task, tgid: int, tid: int, sig: int, info_addr: int) -> int:
    """rt_tgsigqueueinfo(2): rt_sigqueueinfo aimed at one thread, as tgkill is kill's."""
    if tgid <= 0 or tid <= 0 or not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    errno, code, pid_field, uid_field, value = _copy_in_queued_info(task, info_addr)
    target = _find_thread(task, tgid, tid)
    if (code >= 0 or code == SI_TKILL) and target.group is not task.group:
        raise SysError(EPERM)
    _check_permission(task, target.group.creds.uid)
    _check_queue_room(target.group, target.sigpending, sig)
    task.kernel.signals.send(target.group, SigInfo(sig, code, errno, pid=pid_field, uid=uid_field, value=value), target)
    return 0
