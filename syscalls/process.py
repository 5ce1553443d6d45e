"""Process syscalls: exit, fork/vfork/clone, execve, wait4/waitid, process groups and
sessions. The lifecycle work is in pykern.fork, pykern.exec and pykern.exit."""

from __future__ import annotations

import struct

from pykern.abi import (
    __WALL,
    __WCLONE,
    __WNOTHREAD,
    CLD_CONTINUED,
    CLD_DUMPED,
    CLD_EXITED,
    CLD_KILLED,
    CLD_STOPPED,
    CLONE_DETACHED,
    CLONE_PARENT,
    CLONE_PARENT_SETTID,
    CLONE_PIDFD,
    CLONE_THREAD,
    CLONE_VFORK,
    CLONE_VM,
    CSIGNAL,
    E2BIG,
    EACCES,
    EAGAIN,
    ECHILD,
    EINVAL,
    ENAMETOOLONG,
    EPERM,
    ESRCH,
    MAX_ARG_STRINGS,
    MAX_ARG_STRLEN,
    P_ALL,
    P_PGID,
    P_PID,
    P_PIDFD,
    PAGE_SIZE,
    SIGCHLD,
    SIGINFO_SIZE,
    WCONTINUED,
    WEXITED,
    WNOHANG,
    WNOWAIT,
    WUNTRACED,
)
from pykern.errors import Block, SysError
from pykern.exec import do_execve
from pykern.exit import do_exit, do_group_exit, exit_status, release_task, waitable_children
from pykern.fork import copy_process
from pykern.loader import ExecFormatError
from pykern.rusage import reaped_usage
from pykern.sigtypes import SigInfo
from pykern.syscalls.table import syscall
from pykern.sysent import (
    CLONE_FLAGS,
    ENVP,
    INT,
    PATH,
    PID,
    PTR,
    RET_NONE,
    RUSAGE_OUT,
    SIGINFO_OUT,
    SIZE,
    STRV,
    WAIT_OPTIONS,
    WSTATUS_OUT,
)
from pykern.task import Task, ThreadGroup

WAIT4_OPTIONS = WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE
WAITID_OPTIONS = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE


@syscall("exit", INT, ret=RET_NONE, classes="process")
def sys_exit(task: Task, status: int) -> int:
    """exit(2): this thread only."""
    do_exit(task, exit_status(status))
    return 0


@syscall("exit_group", INT, ret=RET_NONE, classes="process")
def sys_exit_group(task: Task, status: int) -> int:
    """exit_group(2): every thread of the process."""
    do_group_exit(task, exit_status(status))
    return 0


# --- fork ------------------------------------------------------------------------------------


def _fork_and_maybe_wait(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int,
                         pidfd_addr: int = 0) -> int:
    """Create the child; with CLONE_VFORK the parent sleeps until the child execs or exits.
    Restartable: the second and later runs only check whether the child let go.
    CLONE_PIDFD stores a pidfd for the child at `pidfd_addr` (an int)."""
    child = task.restart_block.vfork_child if task.restart_block is not None else None
    if child is None:
        if flags & CLONE_PIDFD:
            if flags & (CLONE_THREAD | CLONE_DETACHED):
                raise SysError(EINVAL)  # (thread pidfds, Linux 6.9's, are not provided)
            task.group.files.lowest_free()  # EMFILE before the child exists
        child = copy_process(task, flags, stack, parent_tid, child_tid, tls)
        if flags & CLONE_PIDFD:
            from pykern.syscalls.eventfiles import new_pidfd  # (with its family: at first use)

            task.mm.copy_out_u32(pidfd_addr, new_pidfd(task, child.group))
        if not flags & CLONE_VFORK:
            return child.tid
        task.restart_state().vfork_child = child
    if child.vfork_parent is task:
        raise Block(child.vfork_done_queue, killable=True)  # killable only, as Linux's vfork wait
    return child.tid


@syscall("fork", ret=PID, classes="process")
def sys_fork(task: Task) -> int:
    """fork(2)."""
    return _fork_and_maybe_wait(task, SIGCHLD, 0, 0, 0, 0)


@syscall("vfork", ret=PID, classes="process")
def sys_vfork(task: Task) -> int:
    """vfork(2): the child borrows our address space; we sleep until it execs or exits."""
    return _fork_and_maybe_wait(task, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)


@syscall("clone", CLONE_FLAGS, PTR, PTR, PTR, PTR, ret=PID, classes="process")
def sys_clone(task: Task, flags: int, stack: int, parent_tid: int, child_tid: int, tls: int) -> int:
    """clone(2), x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
    CLONE_PIDFD returns the pidfd through parent_tid (so not with CLONE_PARENT_SETTID)."""
    if flags & CLONE_PIDFD and flags & CLONE_PARENT_SETTID:
        raise SysError(EINVAL)
    return _fork_and_maybe_wait(task, flags, stack, parent_tid, child_tid, tls, parent_tid)


CLONE_ARGS = struct.Struct("<11Q")  # struct clone_args up to cgroup (CLONE_ARGS_SIZE_VER2)
CLONE_ARGS_SIZE_VER0 = 64
CLONE3_FLAGS = (1 << 32) - 1 & ~CSIGNAL  # the legacy flags; CLONE_CLEAR_SIGHAND and cgroups are not provided


@syscall("clone3", PTR, SIZE, ret=PID, classes="process")
def sys_clone3(task: Task, args_addr: int, size: int) -> int:
    """clone3(2) (glibc's pthread_create and fork try it first): clone's flags with the
    exit signal apart and the stack given as base and size, CLONE_PIDFD's fd stored at
    `pidfd`. set_tid and cgroups are not provided (EINVAL)."""
    if size < CLONE_ARGS_SIZE_VER0:
        raise SysError(EINVAL)
    if size > PAGE_SIZE:
        raise SysError(E2BIG)
    raw = task.mm.copy_in(args_addr, size)
    if any(raw[CLONE_ARGS.size:]):
        raise SysError(E2BIG)  # a newer struct whose extra fields we do not know
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, _ = \
        CLONE_ARGS.unpack(raw.ljust(CLONE_ARGS.size, b"\0"))
    if flags & ~CLONE3_FLAGS or flags & CLONE_DETACHED or exit_signal > CSIGNAL \
            or set_tid or set_tid_size or (stack == 0) != (stack_size == 0):
        raise SysError(EINVAL)
    if flags & (CLONE_THREAD | CLONE_PARENT) and exit_signal:
        raise SysError(EINVAL)
    return _fork_and_maybe_wait(task, flags | exit_signal, stack + stack_size if stack else 0, parent_tid,
                                child_tid, tls, pidfd)


# --- execve ------------------------------------------------------------------------------------


def _copy_strings(task: Task, array_addr: int) -> list[bytes]:
    strings: list[bytes] = []
    if not array_addr:
        return strings
    while True:
        pointer = task.mm.copy_in_u64(array_addr + 8 * len(strings))
        if not pointer:
            return strings
        try:
            strings.append(task.mm.copy_in_str(pointer, limit=MAX_ARG_STRLEN))
        except SysError as error:  # one string longer than MAX_ARG_STRLEN
            raise SysError(E2BIG if error.errno == ENAMETOOLONG else error.errno) from None
        if len(strings) > MAX_ARG_STRINGS:
            raise SysError(EINVAL)




@syscall("execve", PATH, STRV, ENVP, classes="file process")
def sys_execve(task: Task, pathname: int, argv_addr: int, envp_addr: int) -> int:
    """execve(2). On success the new image runs and nothing is returned."""
    filename = task.mm.copy_in_str(pathname)
    argv = _copy_strings(task, argv_addr)
    envp = _copy_strings(task, envp_addr)
    try:
        do_execve(task, filename, argv, envp)
    except ExecFormatError as error:
        raise SysError(error.errno) from None
    return 0


# --- wait ----------------------------------------------------------------------------------------


def _reap(task: Task, child: ThreadGroup) -> None:
    release_task(task.kernel, child, waited=True)


def _wait_event(child: ThreadGroup, options: int) -> tuple[int, int] | None:
    """What wait may report of `child` (wait_consider_task): (si_code, status value) for
    an exit (WEXITED), a stop (WUNTRACED) or a continue (WCONTINUED), else None."""
    if child.is_zombie:
        if not options & WEXITED:
            return None
        status = child.wait_status or 0
        if status & 0x7F:
            return (CLD_DUMPED if status & 0x80 else CLD_KILLED), status & 0x7F
        return CLD_EXITED, (status >> 8) & 0xFF
    report = child.job.report
    if report is None:
        return None
    if report[0] == CLD_STOPPED and options & WUNTRACED and child.job.stopped:
        return report
    if report[0] == CLD_CONTINUED and options & WCONTINUED:
        return report
    return None


def _wait_status(code: int, value: int, child: ThreadGroup) -> int:
    """The int wait4 stores: exit code << 8, the signal (| 0x80 core), (sig << 8) | 0x7f
    for a stop, 0xffff for a continue."""
    if code == CLD_STOPPED:
        return (value << 8) | 0x7F
    if code == CLD_CONTINUED:
        return 0xFFFF
    return child.wait_status or 0


def _find_event(task: Task, children: list[ThreadGroup], options: int) -> tuple[ThreadGroup, int, int] | None:
    for child in children:
        event = _wait_event(child, options)
        if event is not None:
            return child, *event
    return None


def _consume(task: Task, child: ThreadGroup) -> None:
    """A reported event is gone: a zombie is reaped, a stop or continue report cleared."""
    if child.is_zombie:
        _reap(task, child)
    else:
        child.job.report = None


@syscall("wait4", PID, WSTATUS_OUT, WAIT_OPTIONS, RUSAGE_OUT, ret=PID, classes="process")
def sys_wait4(task: Task, pid: int, wstatus_addr: int, options: int, rusage_addr: int) -> int:
    """wait4(2). Restartable: re-run from the top after every wakeup."""
    if options & ~WAIT4_OPTIONS or pid == -(1 << 31):
        raise SysError(EINVAL)
    children = waitable_children(task.group, pid)
    if not children:
        raise SysError(ECHILD)
    found = _find_event(task, children, options | WEXITED)
    if found is None:
        if options & WNOHANG:
            return 0
        raise Block(task.group.child_events)
    child, code, value = found
    if wstatus_addr:  # before reaping: EFAULT loses nothing
        task.mm.copy_out_u32(wstatus_addr, _wait_status(code, value, child))
    if rusage_addr:
        task.mm.copy_out(rusage_addr, reaped_usage(task.kernel.clock, child).pack())
    _consume(task, child)
    return child.tgid


@syscall("waitid", INT, PID, SIGINFO_OUT, WAIT_OPTIONS, RUSAGE_OUT, classes="process")
def sys_waitid(task: Task, idtype: int, id: int, infop_addr: int, options: int, rusage_addr: int) -> int:
    """waitid(2): exited (WEXITED), stopped (WSTOPPED) and continued (WCONTINUED) children."""
    if options & ~WAITID_OPTIONS or not options & (WEXITED | WUNTRACED | WCONTINUED):
        raise SysError(EINVAL)
    if idtype == P_ALL:
        children = waitable_children(task.group, -1)
    elif idtype == P_PID:
        if id <= 0:
            raise SysError(EINVAL)
        children = waitable_children(task.group, id)
    elif idtype == P_PGID:
        if id < 0:
            raise SysError(EINVAL)
        children = waitable_children(task.group, -id if id else 0)
    elif idtype == P_PIDFD:
        if id < 0:
            raise SysError(EINVAL)
        from pykern.syscalls.eventfiles import pidfd_group

        pidfd = pidfd_group(task, id)
        children = [child for child in task.group.children if child is pidfd]
        nonblocking = task.group.files.get(id).nonblocking
    else:
        raise SysError(EINVAL)
    if not children:
        raise SysError(ECHILD)
    found = _find_event(task, children, options)
    if found is None:
        if idtype == P_PIDFD and nonblocking and not options & WNOHANG:
            raise SysError(EAGAIN)  # a PIDFD_NONBLOCK pidfd's child still runs
        if options & WNOHANG:
            if infop_addr:
                task.mm.copy_out(infop_addr, bytes(SIGINFO_SIZE))
            return 0
        raise Block(task.group.child_events)
    child, code, value = found
    if infop_addr:
        info = SigInfo(SIGCHLD, code, pid=child.tgid, uid=child.creds.uid, status=value)
        task.mm.copy_out(infop_addr, info.pack())
    if rusage_addr:
        task.mm.copy_out(rusage_addr, reaped_usage(task.kernel.clock, child).pack())
    if not options & WNOWAIT:
        _consume(task, child)
    return 0


# --- process groups and sessions --------------------------------------------------------------------


def _find_group(task: Task, pid: int) -> ThreadGroup:
    if pid == 0:
        return task.group
    group = task.kernel.groups.get(pid)
    if group is None or group.reaped:
        raise SysError(ESRCH)
    return group


@syscall("setpgid", PID, PID, classes="process")
def sys_setpgid(task: Task, pid: int, pgid: int) -> int:
    """setpgid(2), with Linux's rules: self or a child in our session, not a session
    leader, a child that has not exec'd, and a group that exists in our session."""
    if pgid < 0:
        raise SysError(EINVAL)
    me = task.group
    target = me if pid == 0 else task.kernel.groups.get(pid)
    if target is None or (target is not me and target.parent is not me) or target.reaped:
        raise SysError(ESRCH)
    if target is not me:
        if target.sid != me.sid:
            raise SysError(EPERM)
        if target.did_exec:
            raise SysError(EACCES)
    if target.sid == target.tgid:  # a session leader
        raise SysError(EPERM)
    pgid = pgid or target.tgid
    if pgid != target.tgid and not any(g.pgid == pgid and g.sid == me.sid and not g.reaped
                                       for g in task.kernel.groups.values()):
        raise SysError(EPERM)
    target.pgid = pgid
    return 0


@syscall("getpgid", PID, ret=PID, classes="process")
def sys_getpgid(task: Task, pid: int) -> int:
    """getpgid(2)."""
    return _find_group(task, pid).pgid


@syscall("getpgrp", ret=PID, classes="process")
def sys_getpgrp(task: Task) -> int:
    """getpgrp(2)."""
    return task.group.pgid


@syscall("setsid", ret=PID, classes="process")
def sys_setsid(task: Task) -> int:
    """setsid(2): EPERM for a process group leader."""
    me = task.group
    if any(g.pgid == me.tgid and not g.reaped for g in task.kernel.groups.values()):
        raise SysError(EPERM)
    me.sid = me.pgid = me.tgid
    return me.tgid


@syscall("getsid", PID, ret=PID, classes="process")
def sys_getsid(task: Task, pid: int) -> int:
    """getsid(2)."""
    return task.kernel.sid_vnr(_find_group(task, pid).sid)
