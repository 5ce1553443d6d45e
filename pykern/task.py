"""Tasks (threads) and thread groups (processes): Linux's task_struct split in two.

- `Task`: one schedulable thread: its registers (live in its MM's Unicorn instance while
  loaded, else in `context`), its state, the syscall it is sleeping in, its signal mask.
- `ThreadGroup`: a process: tgid, parent and children, exit status, the things threads
  share (fd table, fs context, credentials, rlimits, signal actions).

Who touches what: only the kernel (kernel.py) changes `state`, the run queue and the
parent/child links; handlers read them and call kernel functions to change them.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from pykern import uc_const as X
from pykern.abi import CAP_LAST_CAP
from pykern.rusage import Usage
from pykern.sigtypes import AltStack, GroupStop, SigQueue
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.fdtable import FdTable
    from pykern.fs.fs_struct import FsContext
    from pykern.fs.mount import Location
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.sysent import SyscallEntry


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
    """A call that raised Block: re-run from the top when the task is woken."""

    __slots__ = ("entry", "args", "interrupted")

    def __init__(self, entry: SyscallEntry, args: list[int], interrupted: int | None = None) -> None:
        self.entry = entry
        self.args = args
        self.interrupted = interrupted  # the code a signal ended its sleep with (shown once)


# General-purpose registers in the order a context switch or a fork copies them.
GPRS = (
    X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX,
    X.UC_X86_REG_RSI, X.UC_X86_REG_RDI, X.UC_X86_REG_RBP, X.UC_X86_REG_RSP,
    X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
    X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15,
)


class Task:
    def __init__(self, kernel: Kernel, tid: int, group: ThreadGroup, mm: MM) -> None:
        self.kernel = kernel
        self.tid = tid
        self.group = group
        self.mm = mm
        self.state = TaskState.RUNNABLE
        self.context: Any = None  # saved Unicorn context while another task is loaded
        self.pending: PendingSyscall | None = None
        self.restart_block: dict[str, Any] = {}
        self.wait_queues: tuple[WaitQueue, ...] = ()
        self.wake_deadline: float | None = None
        self.host_fds: tuple[tuple[int, str], ...] = ()
        self.tid_address = 0  # set_child_tid / clear_child_tid (CLONE_CHILD_CLEARTID)
        self.robust_list = (0, 0)
        self.comm = b""
        self.sigmask = 0  # blocked signals
        self.sigpending = SigQueue()  # signals sent to this thread
        self.saved_sigmask: int | None = None  # rt_sigsuspend's mask to restore after a handler
        self.real_blocked = 0  # in sigtimedwait: the mask it lifted (still "blocked" for ignoring)
        self.altstack = AltStack()
        self.signals_first = False  # continued from a stop: deliver before re-running its call
        self.sigframes: dict[int, Any] = {}  # frame address -> registers saved when a handler began
        self.vfork_parent: Task | None = None  # the parent sleeping until we exec or exit
        self.vfork_done_queue = WaitQueue(f"vfork_done({tid})")
        self.cpu_ns = 0
        self.stime_ns = 0  # the part of cpu_ns spent in its syscalls (pykern.trap; rusage)
        self.prev_cputime = (0, 0)  # (user, system) ns last reported: neither goes back (rusage)
        self.nvcsw = 0  # slept in a call (getrusage's voluntary context switches)
        self.nivcsw = 0  # preempted at the end of a quantum
        self.running_since = 0  # perf_counter_ns when its current slice began, 0 if not running
        self.cpu_affinity: bytes | None = None  # sched_setaffinity mask; None = the host's
        self.pdeath_signal = 0  # prctl(PR_SET_PDEATHSIG)
        self.start_time_ns = kernel.clock.boottime_ns()  # /proc/PID/stat's starttime

    # --- registers (valid while this task is loaded in its MM's instance) ---------------

    def loaded(self) -> None:
        """Make this task's registers the ones in its Unicorn instance."""
        mm = self.mm
        if mm.loaded_task is self:
            return
        previous = mm.loaded_task
        if previous is not None and previous.state is not TaskState.DEAD and previous.mm is mm:
            previous.context = mm.uc.context_save()
        if self.context is not None:
            mm.uc.context_restore(self.context)
            self.context = None
        mm.loaded_task = self

    def reg(self, reg: int) -> int:
        self.loaded()
        return self.mm.uc.reg_read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        self.loaded()
        self.mm.uc.reg_write(reg, value & 0xFFFFFFFFFFFFFFFF)

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
        self.parent = parent
        self.children: list[ThreadGroup] = []
        self.tasks: list[Task] = []
        self.files = files
        self.fs = fs
        self.creds = creds
        self.rlimits = rlimits
        self.pgid = tgid
        self.sid = tgid
        self.exe_path = ""  # a host path to the image's file (crash reports read its symbols)
        self.exe_location: Location | None = None  # the image in the guest's tree (/proc/PID/exe)
        self.exit_code: int | None = None  # the wait status once a zombie
        self.is_zombie = False
        self.reaped = False
        self.did_exec = False  # setpgid on a child fails with EACCES after it exec'd
        self.exit_signal = 17  # SIGCHLD: what the parent is sent when we die
        self.child_events = WaitQueue(f"child_events({tgid})")  # wait4 sleeps here
        self.sigactions: dict[int, Any] = {}
        self.shared_pending = SigQueue()  # signals sent to the process
        self.job = GroupStop()  # stopped/continued, for wait's WUNTRACED/WCONTINUED
        self.real_timer: Any = None  # ITIMER_REAL (pykern.syscalls.itimer), made on first use
        self.nice = 0  # setpriority; inherited by fork
        self.personality = 0  # personality(2): PER_LINUX; inherited by fork
        # ITIMER_VIRTUAL, ITIMER_PROF, RLIMIT_CPU's (pykern.rlimit): checked by the scheduler
        self.cpu_timers: dict[int | str, Any] = {}
        self.cpu_ns = 0
        self.children_usage = Usage()  # reaped children's (pykern.rusage), theirs included
        self.mm_usage = Usage()  # faults and peak RSS of the address spaces it left (exec, exit)
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
