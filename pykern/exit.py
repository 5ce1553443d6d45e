"""Process death and reaping (Linux's kernel/exit.c): do_exit, do_group_exit,
exit_notify, reparenting to init, and the pieces of wait4/waitid.

Wait statuses are encoded as Linux does: (code & 0xff) << 8 for an exit, the signal
number (| 0x80 for a core dump) for a kill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import SI_USER
from pykern.errors import Fault
from pykern.futex import futex_exit_release
from pykern.ipc.sem import exit_ipc
from pykern.ipc.shm import shm_exit
from pykern.rusage import reaped_usage, retire_mm_usage
from pykern.sigtypes import SigInfo
from pykern.task import Task, TaskState, ThreadGroup

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.mm import MM


def vfork_done(child: Task) -> None:
    """The vfork child exec'd or exited: its parent may run again (mm_release)."""
    child.vfork_parent = None
    child.vfork_done_queue.wake_all()


def retire_mm(mm: MM, task: Task) -> None:
    """`task` stopped using `mm`; free it once no live task does. Freed later, from
    the scheduler loop (Kernel.free_dead_mms): we may be inside one of its hooks right now."""
    mm.users -= 1
    dead_mms = task.kernel.dead_mms
    if mm.users <= 0 and mm not in dead_mms:
        retire_mm_usage(task.group, mm)  # its faults and peak RSS stay with the process
        dead_mms.append(mm)


def exit_status(code: int) -> int:
    return (code & 0xFF) << 8


def do_exit(task: Task, status: int) -> None:
    """One thread ends. The last thread out turns its process into a zombie."""
    kernel = task.kernel
    if task.state is TaskState.DEAD:
        return
    kernel.smp.stop_task(task)  # (it runs on another CPU: stopped there first, pykern.smp)
    task.end_slice()  # its slice's CPU time, counted now: it may be reaped before that slice's CPU looks
    kernel.sched.forget(task)
    task.state = TaskState.DEAD
    kernel.nr_threads -= 1
    pending = task.pending
    if pending is not None and pending.block is not None and pending.block.cancel is not None:
        pending.block.cancel(task)  # e.g. leave the futex queue it slept on
    task.pending = None
    kernel.sched.need_resched = True
    futex_exit_release(task)  # robust and PI locks it holds: FUTEX_OWNER_DIED, a waiter wakes
    if task.tid_address:  # CLONE_CHILD_CLEARTID: zero the tid and wake a futex waiter
        try:
            task.mm.copy_out_u32(task.tid_address, 0)
        except Fault:
            pass  # an unmapped clear_child_tid: Linux ignores the failed put_user too
        kernel.futexes.wake(task.mm, task.tid_address, 1)
    if task.vfork_parent is not None:
        vfork_done(task)
    group = task.group
    if not group.live_tasks:
        exit_notify(kernel, group, status)
    retire_mm(task.mm, task)
    if task.mm in kernel.dead_mms:
        shm_exit(kernel, task.mm, group.tgid)  # the last user of the address space: shm detaches


def do_group_exit(task: Task, status: int) -> None:
    """exit_group(2) and fatal signals: every thread of the process dies with `status`."""
    group = task.group
    if group.wait_status is None:
        group.wait_status = status
    for other in group.live_tasks:
        if other is not task:
            do_exit(other, status)
    do_exit(task, status)


def exit_notify(kernel: Kernel, group: ThreadGroup, status: int) -> None:
    """The process is dead: release what it held, give its children to init, and tell
    its parent (which reaps it, or init does)."""
    if group.wait_status is None:
        group.wait_status = status
    if kernel.tracer is not None:
        kernel.tracer.process_exit(group, group.wait_status)
    if group.real_timer is not None:
        group.real_timer.cancel()  # alarm(2) and setitimer(2): a dead process gets no SIGALRM
    group.cpu_timers.clear()
    for timer in list(group.posix_timers.values()):
        timer.delete()
    group.files.put()  # closes the files unless another process shares the table (CLONE_FILES)
    exit_ipc(kernel, group)  # SEM_UNDO adjustments, shm_rmid_forced
    if group.sid == group.tgid:
        kernel.ttys.session_leader_exit(group)  # disassociate_ctty(1)
    children = forget_children(kernel, group)
    group.is_zombie = True
    group.pidfd_wait.wake_all()  # its pidfds poll readable now
    kernel.signals.kill_orphaned_pgrps(group, children)
    parent = group.parent
    if parent is None or parent is kernel.init:
        release_task(kernel, group)
        return
    # SIGCHLD ignored or SA_NOCLDWAIT: the child reaps itself (a waiting wait4 then finds
    # no children: ECHILD). The signal is still sent unless the action is SIG_IGN.
    autoreap = kernel.signals.ignores_children(parent)
    if not (autoreap and kernel.signals.is_ignored(parent, group.exit_signal)):
        kernel.signals.notify_parent(group)
    if autoreap:
        release_task(kernel, group)
    parent.child_events.wake_all()


def find_new_reaper(kernel: Kernel, group: ThreadGroup) -> ThreadGroup:
    """The nearest living ancestor that made itself a child subreaper
    (prctl(PR_SET_CHILD_SUBREAPER): container inits such as catatonit), else init."""
    ancestor = group.parent
    while ancestor is not None and ancestor is not kernel.init:
        if ancestor.child_subreaper and not ancestor.is_zombie and ancestor.live_tasks:
            return ancestor
        ancestor = ancestor.parent
    return kernel.init


def forget_children(kernel: Kernel, group: ThreadGroup) -> list[ThreadGroup]:
    """Reparent children to init or a subreaper (returned); zombies among them are reaped
    at once by init, or reported to the subreaper as if they had just died."""
    init = find_new_reaper(kernel, group)
    children = list(group.children)
    for child in children:
        for thread in child.live_tasks:  # prctl(PR_SET_PDEATHSIG)
            if thread.pdeath_signal:
                kernel.signals.send(child, SigInfo(thread.pdeath_signal, SI_USER, pid=group.tgid,
                                                   uid=group.creds.uid))
        child.parent = init
        init.children.append(child)
        if child.is_zombie:
            if init is kernel.init or kernel.signals.ignores_children(init):
                release_task(kernel, child)
            else:
                kernel.signals.notify_parent(child)
                init.child_events.wake_all()
    group.children.clear()
    return children


def release_task(kernel: Kernel, group: ThreadGroup, waited: bool = False) -> None:
    """Reap a zombie: it disappears from the tables and its parent's children. Only a
    parent that `waited` for it adds its usage to RUSAGE_CHILDREN's (wait_task_zombie;
    one that ignores SIGCHLD does not)."""
    group.reaped = True
    if group.parent is not None and group in group.parent.children:
        group.parent.children.remove(group)
        if waited:
            group.parent.children_usage.add(reaped_usage(kernel.clock, group))
    kernel.groups.pop(group.tgid, None)
    group.pidfd_wait.wake_all()  # (POLLHUP too once reaped)
    for task in group.tasks:
        kernel.tasks.pop(task.tid, None)
    # A process is a knot of reference cycles (its tasks and it, its children and it):
    # what holds host fds (its image's and its directories' O_PATH fds) goes now, not
    # when Python's cyclic collector runs.
    group.exe_location = None
    group.fs = kernel.init.fs


def waitable_children(group: ThreadGroup, pid: int) -> list[ThreadGroup]:
    """The children wait4's pid selects: > 0 that pid, -1 any, 0 our process group,
    < -1 process group -pid."""
    if pid > 0:
        return [c for c in group.children if c.tgid == pid]
    if pid == -1:
        return list(group.children)
    pgid = group.pgid if pid == 0 else -pid
    return [c for c in group.children if c.pgid == pgid]
