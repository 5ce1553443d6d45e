"""Signal syscalls: rt_sigaction, rt_sigprocmask, kill, tgkill, tkill, sigaltstack.
Running user handlers is not implemented yet (see pykern.signal)."""

from __future__ import annotations

from pykern.abi import EINVAL, ENOSYS, EPERM, ESRCH, NSIG, SIGKILL, SIGSTOP
from pykern.errors import SysError
from pykern.signal import KERNEL_SIGACTION, UNBLOCKABLE, SigAction
from pykern.syscalls.table import syscall
from pykern.sysent import PID, PTR, SIGACTION_IN, SIGACTION_OUT, SIGHOW, SIGNUM, SIGSET_IN, SIGSET_OUT, SIZE
from pykern.task import Task

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSET_SIZE = 8


@syscall("rt_sigaction", SIGNUM, SIGACTION_IN, SIGACTION_OUT, SIZE, classes="signal")
def sys_rt_sigaction(task: Task, signum: int, act_addr: int, oldact_addr: int, sigsetsize: int) -> int:
    """rt_sigaction(2)."""
    if sigsetsize != SIGSET_SIZE or not 1 <= signum <= NSIG:
        raise SysError(EINVAL)
    new = SigAction.unpack(task.mm.copy_in(act_addr, KERNEL_SIGACTION.size)) if act_addr else None
    if new is not None and signum in (SIGKILL, SIGSTOP):
        raise SysError(EINVAL)
    old = task.kernel.signals.action(task.group, signum)
    if oldact_addr:
        task.mm.copy_out(oldact_addr, old.pack())
    if new is not None:
        new.mask &= ~UNBLOCKABLE
        task.group.sigactions[signum] = new
    return 0


@syscall("rt_sigprocmask", SIGHOW, SIGSET_IN, SIGSET_OUT, SIZE, classes="signal")
def sys_rt_sigprocmask(task: Task, how: int, set_addr: int, oldset_addr: int, sigsetsize: int) -> int:
    """rt_sigprocmask(2). SIGKILL and SIGSTOP can never be blocked."""
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
    return 0


@syscall("sigaltstack", PTR, PTR, classes="signal")
def sys_sigaltstack(task: Task, ss_addr: int, old_ss_addr: int) -> int:
    """sigaltstack(2): recorded (stack_t is 24 bytes) for when handlers run."""
    if old_ss_addr:
        task.mm.copy_out(old_ss_addr, getattr(task, "altstack", bytes(24)))
    if ss_addr:
        task.altstack = task.mm.copy_in(ss_addr, 24)
    return 0


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
    if pid > 0:
        targets = [g for g in kernel.groups.values() if g.tgid == pid and not g.reaped]
        if pid == 1 or not targets:
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
        kernel.signals.send_to_group(group, sig)
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
    task.kernel.signals.send_to_task(target, sig)
    return 0


@syscall("tkill", PID, SIGNUM, classes="signal")
def sys_tkill(task: Task, tid: int, sig: int) -> int:
    """tkill(2)."""
    if tid <= 0 or not 0 <= sig <= NSIG:
        raise SysError(EINVAL)
    task.kernel.signals.send_to_task(_find_thread(task, 0, tid), sig)
    return 0


@syscall("rt_sigreturn", classes="signal")
def sys_rt_sigreturn(task: Task) -> int:
    """rt_sigreturn(2): no signal frame is ever set up yet, so there is none to return from."""
    raise SysError(ENOSYS)
