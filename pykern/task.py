"""Tasks (threads) and thread groups (processes): Linux's task_struct split in two.

- `Task`: one schedulable thread: its registers (live in its MM's Unicorn instance while
  loaded, else in `context`), its state, the syscall it is sleeping in, its signal mask.
- `ThreadGroup`: a process: tgid, parent and children, exit status, the things threads
  share (fd table, fs context, credentials, rlimits, signal actions).

Who touches what (each field says who writes it): `state` is written by sched.py
(RUNNABLE, SLEEPING), signal.py (STOPPED) and exit.py (DEAD); the run queue by sched.py;
the parent/child links by fork.py, exit.py (reparenting, reaping) and kernel.py (init).
Handlers read them and call those modules to change them.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pykern import uc_const as X
from pykern.abi import CAP_LAST_CAP
from pykern.errors import Restart
from pykern.rusage import Usage
from pykern.sigtypes import AltStack, GroupStop, SigQueue
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.errors import Block
    from pykern.fs.fdtable import FdTable
    from pykern.fs.fs_struct import FsContext
    from pykern.fs.mount import Location
    from pykern.futex import FutexWaiter
    from pykern.ipc.msg import MsgQueue
    from pykern.ipc.sem import SemSet
    from pykern.kernel import Kernel
    from pykern.mm import MM, MemPolicy
    from pykern.pipe import PipeEnd
    from pykern.smp import Cpu
    from pykern.sysent import SyscallEntry
    from pykern.ucbind import Uc


class TaskState(enum.Enum):
    RUNNABLE = "R"
    SLEEPING = "S"
    STOPPED = "T"
    DEAD = "X"


CAP_FULL_SET = (1 << (CAP_LAST_CAP + 1)) - 1  # CAP_FULL_SET: every capability Linux knows


class Creds:
    """A process's credentials: ids, groups and capability sets (Linux keeps creds per
    thread; pykern per process). Capabilities are 64-bit masks; root starts with the
    full sets (commoncap's root emulation), anyone else with empty ones."""

    __slots__ = ("uid", "euid", "suid", "gid", "egid", "sgid", "groups", "cap_effective", "cap_permitted",
                 "cap_inheritable", "cap_bset", "no_new_privs", "keepcaps")

    def __init__(self, uid: int, euid: int, suid: int, gid: int, egid: int, sgid: int,
                 groups: list[int] | None = None) -> None:
        self.uid = uid
        self.euid = euid
        self.suid = suid
        self.gid = gid
        self.egid = egid
        self.sgid = sgid
        self.groups = [] if groups is None else groups
        self.cap_bset = CAP_FULL_SET
        self.cap_permitted = CAP_FULL_SET if 0 in (uid, euid) else 0
        self.cap_effective = CAP_FULL_SET if euid == 0 else 0
        self.cap_inheritable = 0
        self.no_new_privs = False  # prctl(PR_SET_NO_NEW_PRIVS): inherited, never cleared
        self.keepcaps = False  # prctl(PR_SET_KEEPCAPS): cleared by execve

    def copy(self) -> Creds:
        new = Creds(self.uid, self.euid, self.suid, self.gid, self.egid, self.sgid, list(self.groups))
        new.cap_effective, new.cap_permitted = self.cap_effective, self.cap_permitted
        new.cap_inheritable, new.cap_bset = self.cap_inheritable, self.cap_bset
        new.no_new_privs, new.keepcaps = self.no_new_privs, self.keepcaps
        return new

    def capable(self, cap: int) -> bool:
        """capable(): `cap` is in the effective set."""
        return bool(self.cap_effective >> cap & 1)

    def exec_caps(self) -> None:
        """cap_bprm_creds_from_file for a file without capabilities: root (real or
        effective) gets its bounding set (plus inheritable) permitted, effective when euid
        is 0; anyone else loses permitted and effective. KEEPCAPS ends."""
        if 0 in (self.uid, self.euid):
            self.cap_permitted = (self.cap_bset | self.cap_inheritable) & CAP_FULL_SET
        else:
            self.cap_permitted = 0
        self.cap_effective = self.cap_permitted if self.euid == 0 else 0
        self.keepcaps = False

    def setuid_caps(self, old: tuple[int, int, int]) -> None:
        """cap_emulate_setxuid: leaving uid 0 in all three ids drops permitted (unless
        KEEPCAPS) and effective; euid 0 -> nonzero drops effective; nonzero -> 0 raises
        effective to permitted."""
        new = (self.uid, self.euid, self.suid)
        if 0 in old and 0 not in new:
            if not self.keepcaps:
                self.cap_permitted = 0
            self.cap_effective = 0
        if old[1] == 0 and new[1] != 0:
            self.cap_effective = 0
        if old[1] != 0 and new[1] == 0:
            self.cap_effective = self.cap_permitted


class PendingSyscall:
    """A call that could not finish yet. It raised `block`, and sleeps (re-run from the
    top when woken: the same call, not a new entry), or a signal interrupted it:
    `interrupted` is then the restart code it ended with, and if no handler ends it with
    EINTR, its next run is the call made again. With no `block`, gdb caught the call
    before it was made (pykern.gdbstub)."""

    __slots__ = ("entry", "args", "block", "interrupted")

    def __init__(self, entry: SyscallEntry, args: list[int], block: Block | None = None) -> None:
        self.entry = entry
        self.args = args
        self.block = block  # what it sleeps on, and what a signal makes of the sleep
        self.interrupted: int | None = None  # the restart code a signal ended its sleep with


class RestartBlock:
    """What a blocked call keeps from one run to the next. pykern re-runs a call from the
    top after each wakeup; Linux keeps such things on the sleeping task's kernel stack, and
    in struct restart_block for restart_syscall (nanosleep's target time, a futex wait's
    deadline, poll's). Made on the call's first need (`Task.restart_state`), dropped when
    the call ends (pykern.trap); each kind of call uses its own fields. The defaults are
    class attributes: a new block costs no more than the dict it replaces."""

    # A write that goes in as room appears: the bytes already written (a signal ends it
    # with that count): a pipe, an AF_UNIX or TCP stream, a terminal.
    pipe_written: int = 0
    unix_sent: int = 0
    inet_sent: int = 0
    tty_written: int = 0
    # Host sockets (pykern.inet): the timeout's end (monotonic ns), a connect under way,
    # what a MSG_WAITALL receive has gathered.
    inet_deadline: int | None = None
    inet_connecting: bool = False
    inet_received: bytes = b""
    # A terminal read: it has slept (a hang-up meanwhile is EIO), VTIME's end (seconds).
    tty_waiting: bool = False
    tty_deadline: float | None = None
    # sendmmsg, recvmmsg: the messages done, and recvmmsg's timeout (monotonic ns).
    mmsg_started: bool = False
    mmsg_deadline: int | None = None
    mmsg_done: int = 0
    # A FIFO open waiting for its other side: the end made, the partner count seen.
    fifo_end: PipeEnd | None = None
    fifo_seen: int = 0
    # semtimedop: the set, its operations, the deadline (monotonic seconds).
    sem_set: SemSet | None = None
    sem_sops: Sequence[tuple[int, int, int]] = ()
    sem_deadline: float | None = None
    # msgsnd, msgrcv: the queue slept on, msgsnd's message (type, text).
    msg_queue: MsgQueue | None = None
    msg_sent: tuple[int, bytes] | None = None
    # mq_timedsend, mq_timedreceive: the absolute timeout (monotonic seconds), the message.
    mq_waiting: bool = False
    mq_deadline: float | None = None
    mq_data: bytes = b""
    # vfork: the child the parent waits for.
    vfork_child: Task | None = None
    # poll, select, epoll_wait: the deadline (monotonic ns; None: none), and whether
    # a temporary signal mask is in place (ppoll, pselect6, epoll_pwait).
    poll_waiting: bool = False
    poll_deadline: int | None = None
    temporary_mask: bool = False
    # sigsuspend's mask is in place; rt_sigtimedwait's set, deadline (ns) and old mask.
    suspended: bool = False
    wait_set: int | None = None
    wait_deadline: int | None = None
    wait_mask: int = 0
    # A futex wait: its queue entries, deadline (monotonic seconds), restart code.
    futex_waiters: list[FutexWaiter] | None = None
    futex_deadline: float | None = None
    futex_restart: Restart = Restart.ERESTARTSYS
    # nanosleep, clock_nanosleep (Linux's restart_block.nanosleep): the clock, the
    # target on it, where the time left goes, and whether it is a CPU clock.
    sleep_read: Callable[[], int] | None = None
    target_ns: int | None = None
    rem_addr: int = 0
    cpu_clock: bool = False


# General-purpose registers in the order a context switch or a fork copies them.
GPRS = (
    X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX,
    X.UC_X86_REG_RSI, X.UC_X86_REG_RDI, X.UC_X86_REG_RBP, X.UC_X86_REG_RSP,
    X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
    X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15,
)


class Task:
    """One thread. Who writes the fields of the blocking machinery: `pending`,
    `wait_queues`, `wake_deadline`, `host_fds` and `signals_first` trap.py (a call blocks or
    ends), sched.py (sleep, wake, retry) and signal.py (a signal interrupts a call);
    `restart_block` those and the handlers of calls that keep progress across a sleep;
    `context` load_context (below), fork.py and exec.py."""

    def __init__(self, kernel: Kernel, tid: int, group: ThreadGroup, mm: MM) -> None:
        self.kernel = kernel
        self.tid = tid  # fork.py; exec.py's de_thread gives the exec'ing thread the leader's
        self.group = group  # fork.py, for life
        self.mm = mm  # fork.py (shared or copied), exec.py (a new one)
        self.state = TaskState.RUNNABLE  # sched.py, signal.py (STOPPED), exit.py (DEAD)
        self.context: Any = None  # saved Unicorn context while it is loaded in no instance
        self.loaded_in: Uc | None = None  # load_context: the instance holding its registers
        self.on_cpu: Cpu | None = None  # sched.py: the CPU that runs it (Linux's p->on_cpu)
        self.queued_at = 0  # sched.py: perf_counter_ns when woken onto the run queue (0: any CPU at once)
        self.pending: PendingSyscall | None = None
        self.restart_block: RestartBlock | None = None  # the blocked call's state: restart_state()
        self.wait_queues: tuple[WaitQueue, ...] = ()
        self.wake_deadline: float | None = None
        self.host_fds: tuple[tuple[int, str], ...] = ()
        self.tid_address = 0  # clear_child_tid: fork.py (CLONE_CHILD_CLEARTID), set_tid_address
        self.robust_list = (0, 0)  # set_robust_list; futex.py clears it at exit
        self.comm = b""  # fork.py, exec.py, prctl(PR_SET_NAME), /proc/PID/comm
        self.sigmask = 0  # blocked signals: signal.py, rt_sigprocmask and the calls with a mask, fork.py
        self.sigpending = SigQueue()  # signals sent to this thread: queued and taken by signal.py
        # rt_sigsuspend's, ppoll's, pselect6's mask to restore after a handler (signal.py restores)
        self.saved_sigmask: int | None = None
        self.real_blocked = 0  # in sigtimedwait (syscalls/signal.py): the mask it lifted
        self.altstack = AltStack()  # sigaltstack; signal.py (SS_AUTODISARM), exec.py resets
        self.signals_first = False  # continued from a stop: deliver before re-running its call
        # frame address -> registers saved when a handler began: signal.py; exec.py clears
        self.sigframes: dict[int, Any] = {}
        self.vfork_parent: Task | None = None  # fork.py; exit.py's vfork_done (exec or exit) clears
        self.vfork_done_queue = WaitQueue(f"vfork_done({tid})")
        self.cpu_ns = 0  # sched.py: the CPU time of its slices
        self.stime_ns = 0  # trap.py: the part of cpu_ns spent in its syscalls (pykern.rusage)
        self.prev_cputime = (0, 0)  # rusage.py: (user, system) ns last reported, neither goes back
        self.nvcsw = 0  # sched.py: slept in a call (getrusage's voluntary context switches)
        self.nivcsw = 0  # sched.py: preempted at the end of a quantum
        self.running_since = 0  # sched.py: perf_counter_ns when its current slice began, 0 if not running
        self.cpu_affinity: bytes | None = None  # sched_setaffinity, fork.py; None = the host's
        self.mempolicy: MemPolicy | None = None  # set_mempolicy, fork.py; None: MPOL_DEFAULT
        self.pdeath_signal = 0  # prctl(PR_SET_PDEATHSIG); a credentials change clears it
        self.start_time_ns = kernel.clock.boottime_ns()  # /proc/PID/stat's starttime

    def end_slice(self) -> None:
        """Its slice in the JIT ends: the host CPU time since `running_since` is its
        (1 there is --deterministic's mark, whose CPU time is the instructions run).
        Counted once, by whichever comes first: its CPU after the slice, or its exit."""
        if self.running_since > 1:
            self.cpu_ns += time.perf_counter_ns() - self.running_since
        self.running_since = 0

    def restart_state(self) -> RestartBlock:
        """The running call's restart block, made on first use (Linux: current->restart_block)."""
        block = self.restart_block
        if block is None:
            block = self.restart_block = RestartBlock()
        return block

    # --- registers: in one of its MM's instances, or saved in `context` ---------------

    def load_context(self, uc: Uc | None = None) -> Uc:
        """Make this task's registers the ones in `uc` (an instance of its MM; by default
        the one holding them already, or the primary), first saving those of the thread
        that had them (a context switch between threads of one MM). Returns the instance."""
        loaded = self.loaded_in
        if uc is None:
            uc = loaded if loaded is not None and loaded.mm is self.mm else self.mm.uc  # type: ignore[attr-defined]
        if loaded is uc and uc.loaded_task is self:  # type: ignore[attr-defined]
            return uc
        if loaded is not None and loaded.loaded_task is self and loaded.mm is self.mm:  # type: ignore[attr-defined]
            self.context = loaded.context_save()  # moving to another instance of its MM (pykern.smp)
            loaded.loaded_task = None  # type: ignore[attr-defined]
        previous = uc.loaded_task  # type: ignore[attr-defined]
        if previous is not None and previous is not self:
            if previous.state is not TaskState.DEAD and previous.mm is self.mm:
                previous.context = uc.context_save()
            if previous.loaded_in is uc:
                previous.loaded_in = None
        if self.context is not None:
            uc.context_restore(self.context)
            self.context = None
        uc.loaded_task = self  # type: ignore[attr-defined]
        self.loaded_in = uc
        return uc

    @property
    def uc(self) -> Uc:
        """Where this task's registers are read and written: while it runs, the instance
        its CPU has bound; while it waits, its saved context (which has reg_read and
        reg_write too). Never loaded into an instance here: another CPU may be running
        a sibling in it (pykern.smp)."""
        loaded = self.loaded_in
        if loaded is not None and loaded.loaded_task is self and loaded.mm is self.mm:  # type: ignore[attr-defined]
            return loaded
        if self.context is not None:
            return self.context  # type: ignore[no-any-return]
        return self.load_context()  # (just exec'd: its new MM's primary, which only it uses)

    def reg(self, reg: int) -> int:
        return self.uc.reg_read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        self.uc.reg_write(reg, value & 0xFFFFFFFFFFFFFFFF)

    @property
    def rip(self) -> int:
        return self.reg(X.UC_X86_REG_RIP)

    def set_fs_base(self, value: int) -> None:
        self.set_reg(X.UC_X86_REG_FS_BASE, value)

    def get_fs_base(self) -> int:
        return self.reg(X.UC_X86_REG_FS_BASE)

    def set_gs_base(self, value: int) -> None:
        self.set_reg(X.UC_X86_REG_GS_BASE, value)

    def get_gs_base(self) -> int:
        return self.reg(X.UC_X86_REG_GS_BASE)

    @property
    def pid(self) -> int:
        return self.group.tgid

    def __repr__(self) -> str:
        return f"<Task {self.tid} of {self.group.tgid} {self.state.value}>"


class ThreadGroup:
    def __init__(
        self,
        tgid: int,
        parent: ThreadGroup | None,
        files: FdTable,
        fs: FsContext,
        creds: Creds,
        rlimits: dict[int, tuple[int, int]],
    ) -> None:
        self.tgid = tgid
        self.parent = parent  # fork.py; exit.py reparents orphans
        self.children: list[ThreadGroup] = []  # fork.py adds, exit.py reparents and reaps; kernel.py (init)
        self.tasks: list[Task] = []  # fork.py and kernel.py add; exec.py's de_thread leaves one
        self.files = files  # fork.py; exec.py and unshare(CLONE_FILES) take a table of their own
        self.fs = fs  # fork.py
        self.creds = creds  # fork.py; the set*id and capset calls change it in place
        self.rlimits = rlimits  # fork.py; setrlimit/prlimit64, rlimit.py
        self.pgid = tgid  # fork.py, kernel.py; setpgid, setsid
        self.sid = tgid  # fork.py, kernel.py; setsid
        # fork.py, exec.py: a host path to the image's file (crash reports read its symbols)
        self.exe_path = ""
        self.exe_location: Location | None = None  # fork.py, exec.py: /proc/PID/exe's image
        self.wait_status: int | None = None  # once a zombie (exit.py): what wait4 reports
        self.is_zombie = False  # exit.py
        self.reaped = False  # exit.py
        self.did_exec = False  # exec.py: setpgid on a child fails with EACCES after it exec'd
        self.exit_signal = 17  # fork.py (CSIGNAL; SIGCHLD): what the parent is sent when we die
        self.child_events = WaitQueue(f"child_events({tgid})")  # wait4 sleeps here
        self.sigactions: dict[int, Any] = {}  # fork.py (shared under CLONE_SIGHAND), rt_sigaction, signal.py
        self.shared_pending = SigQueue()  # signals sent to the process: queued and taken by signal.py
        self.job = GroupStop()  # signal.py, wait: stopped/continued, for wait's WUNTRACED/WCONTINUED
        self.real_timer: Any = None  # ITIMER_REAL (pykern.syscalls.itimer), made on first use
        self.nice = 0  # setpriority; inherited by fork
        self.personality = 0  # personality(2): PER_LINUX; inherited by fork
        # ITIMER_VIRTUAL, ITIMER_PROF, RLIMIT_CPU's (pykern.rlimit): checked by the scheduler
        self.cpu_timers: dict[int | str, Any] = {}
        self.cpu_ns = 0  # threads no longer in `tasks` (nobody adds yet: de_thread drops theirs)
        self.children_usage = Usage()  # exit.py: reaped children's (pykern.rusage), theirs included
        self.mm_usage = Usage()  # exit.py: faults and peak RSS of the address spaces it left (exec, exit)
        self.oom_score_adj = 0  # /proc/PID/oom_score_adj; inherited by fork
        self.oom_score_adj_min = 0  # the lowest an unprivileged writer may set (Linux's signal->oom_score_adj_min)
        self.child_subreaper = False  # prctl(PR_SET_CHILD_SUBREAPER): orphans below come here
        self.next_timer_id = 0  # timer_create's ids count up per process
        self.posix_timers: dict[int, Any] = {}  # timer_create's (pykern.posix_timers): gone at exec and exit
        self.signalfd_wait = WaitQueue(f"signalfd({tgid})")  # readers and pollers of signalfds (send wakes it)
        self.pidfd_wait = WaitQueue(f"pidfd({tgid})")  # pollers of its pidfds: woken when it exits

    @property
    def ppid(self) -> int:
        return self.parent.tgid if self.parent is not None else 0

    @property
    def leader(self) -> Task | None:
        return self.tasks[0] if self.tasks else None

    @property
    def live_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.state is not TaskState.DEAD]

    def __repr__(self) -> str:
        return f"<ThreadGroup {self.tgid}{' zombie' if self.is_zombie else ''}>"
