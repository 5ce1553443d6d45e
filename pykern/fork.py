"""copy_process: fork, vfork, clone (Linux's kernel/fork.c).

The child starts as a copy of the calling task's registers with rax = 0, resuming after
the `syscall` instruction. What it shares with the parent follows the CLONE_* flags:
the address space (CLONE_VM: same MM, same Unicorn instance), the fd table
(CLONE_FILES), cwd/umask (CLONE_FS), signal actions (CLONE_SIGHAND), the process
itself (CLONE_THREAD). Everything not shared is copied.
"""

from __future__ import annotations

from pykern import uc_const as X
from pykern.abi import (
    CAP_SYS_ADMIN,
    CAP_SYS_RESOURCE,
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_FILES,
    CLONE_FS,
    CLONE_PARENT,
    CLONE_PARENT_SETTID,
    CLONE_SETTLS,
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VFORK,
    CLONE_VM,
    CSIGNAL,
    EAGAIN,
    EINVAL,
    RLIM_INFINITY,
    RLIMIT_CPU,
    RLIMIT_NPROC,
    SYSCALL_INSN_LEN,
)
from pykern.errors import SysError
from pykern.ipc.shm import shm_fork
from pykern.rlimit import update_cpu_limit
from pykern.task import Task, ThreadGroup


def copy_process(parent: Task, flags: int, child_stack: int, parent_tid_addr: int, child_tid_addr: int,
                 tls: int) -> Task:
    """Create the child task. Called from the syscall hook, where the parent's rip still
    points at its `syscall` instruction, or (after gdb's `catch syscall` stopped the call:
    pykern.gdbstub) from the scheduler's retry, where it points past it."""
    if flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise SysError(EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
        raise SysError(EINVAL)
    kernel = parent.kernel
    pgroup = parent.group
    check_task_limits(parent)

    if not flags & CLONE_VM:
        kernel.overcommit.check_fork(parent.mm)  # ENOMEM under vm.overcommit_memory=2
    context = parent.uc.context_save()  # the parent's live registers
    mm = parent.mm if flags & CLONE_VM else parent.mm.fork()
    tid = kernel.alloc_pid()

    if flags & CLONE_THREAD:
        group = pgroup
    else:
        files = pgroup.files.share() if flags & CLONE_FILES else pgroup.files.fork()
        fs = pgroup.fs if flags & CLONE_FS else pgroup.fs.fork()
        real_parent = pgroup.parent if flags & CLONE_PARENT and pgroup.parent else pgroup
        group = ThreadGroup(tid, real_parent, files, fs, pgroup.creds.copy(), dict(pgroup.rlimits))
        group.pgid, group.sid = pgroup.pgid, pgroup.sid
        group.exe_path = pgroup.exe_path
        group.exe_location = pgroup.exe_location
        group.nice = pgroup.nice
        group.personality = pgroup.personality
        group.oom_score_adj, group.oom_score_adj_min = pgroup.oom_score_adj, pgroup.oom_score_adj_min
        group.exit_signal = flags & CSIGNAL
        group.sigactions = pgroup.sigactions if flags & CLONE_SIGHAND else dict(pgroup.sigactions)
        real_parent.children.append(group)
        kernel.groups[tid] = group
        if RLIMIT_CPU in group.rlimits:
            update_cpu_limit(group)  # the child's own CPU time, from 0

    if mm is not parent.mm:
        shm_fork(kernel, parent.mm, mm, pgroup.tgid)  # the child inherits the parent's shm attaches
    child = Task(kernel, tid, group, mm)
    child.comm = parent.comm
    child.sigmask = parent.sigmask
    child.cpu_affinity = parent.cpu_affinity
    child.mempolicy = parent.mempolicy
    context.reg_write(X.UC_X86_REG_RAX, 0)
    after_syscall = SYSCALL_INSN_LEN if kernel.smp.this_cpu().in_syscall_hook else 0
    context.reg_write(X.UC_X86_REG_RIP, context.reg_read(X.UC_X86_REG_RIP) + after_syscall)
    if child_stack:
        context.reg_write(X.UC_X86_REG_RSP, child_stack)
    if flags & CLONE_SETTLS:
        context.reg_write(X.UC_X86_REG_FS_BASE, tls)
    child.context = context
    group.tasks.append(child)
    kernel.tasks[tid] = child
    kernel.nr_threads += 1
    mm.users += 1

    if flags & CLONE_PARENT_SETTID and parent_tid_addr:
        parent.mm.copy_out_u32(parent_tid_addr, tid)
    if flags & CLONE_CHILD_SETTID and child_tid_addr:
        mm.copy_out_u32(child_tid_addr, tid)
    if flags & CLONE_CHILD_CLEARTID:
        child.tid_address = child_tid_addr
    if flags & CLONE_VFORK:
        child.vfork_parent = parent
    kernel.sched.enqueue(child)
    if kernel.tracer is not None:
        kernel.tracer.fork(parent, child, flags)
    if kernel.sched.debugger is not None:  # gdb: a fork or vfork event (catch fork)
        kernel.sched.debugger.forked(parent, child, flags)
    return child


def check_task_limits(parent: Task) -> None:
    """EAGAIN when one more task would pass the guest's threads-max (--max-tasks; Linux
    counts every task not yet released, zombies included) or the caller's RLIMIT_NPROC:
    tasks of its real uid, a limit root and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN
    do not have (copy_process's checks)."""
    kernel = parent.kernel
    if len(kernel.tasks) >= kernel.options.max_tasks:
        raise SysError(EAGAIN)
    creds = parent.group.creds
    limit = parent.group.rlimits.get(RLIMIT_NPROC, (RLIM_INFINITY, RLIM_INFINITY))[0] & RLIM_INFINITY
    if limit == RLIM_INFINITY or creds.uid == 0 or creds.capable(CAP_SYS_RESOURCE) or creds.capable(CAP_SYS_ADMIN):
        return
    if sum(1 for t in kernel.tasks.values() if t.group.creds.uid == creds.uid) >= limit:
        raise SysError(EAGAIN)


__all__ = ["copy_process"]
