"""The Kernel: the task and pid tables, init, the subsystems (sched, signals, trap,
futexes, clock ...), and the entry points that tie the core together (spawn the first
process, run the scheduler). Callers name the subsystem that does the work
(`kernel.sched.wake`, `kernel.signals.send`): Kernel holds tables, not forwarders.

Process lifecycle lives beside it, each in the file a Linux reader would look in:
fork.py (copy_process), exec.py (do_execve), exit.py (do_exit, wait, reparenting).
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
from typing import TYPE_CHECKING, TextIO

from pykern.abi import signal_name
from pykern.clock import DEFAULT_START_TIME, Clock, VirtualClock
from pykern.futex import FutexTable
from pykern.hostsig import HostSignals
from pykern.mm import MM, MMPool
from pykern.oom import OomKiller
from pykern.overcommit import Overcommit
from pykern.sched import Scheduler
from pykern.signal import Signals
from pykern.smp import Smp
from pykern.task import Creds, Task, TaskState, ThreadGroup
from pykern.trap import Trap
from pykern.tty import TtyTable
from pykern.ucbind import HAS_BUDGET, HAS_PARALLEL
from pykern.vdso import Vdso

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from pykern.strace import Tracer
    from pykern.sysent import SyscallEntry

INIT_PID = 1


MAX_TASKS = 4096  # --max-tasks' default: a fork bomb gets EAGAIN long before the host suffers


class Options:
    __slots__ = ("report_crashes", "crash_stream", "tracer", "root", "binds", "max_tasks",
                 "detach_orphans", "max_memory", "stdio", "cwd", "console", "deterministic", "seed", "start_time",
                 "cpus")

    def __init__(self, report_crashes: bool = False, crash_stream: TextIO = sys.stderr,
                 tracer: Tracer | None = None, root: str = "/",
                 binds: tuple = (), max_tasks: int = MAX_TASKS,
                 detach_orphans: bool = False, max_memory: int | None = None,
                 stdio: tuple[int, int, int] = (0, 1, 2), cwd: str | None = None,
                 console: bool = True, deterministic: bool = False, seed: int = 0,
                 start_time: int = DEFAULT_START_TIME, cpus: int = 1) -> None:  # fmt: skip
        self.report_crashes = report_crashes
        self.crash_stream = crash_stream
        self.tracer = tracer  # pykern.strace.Tracer when tracing
        self.root = root  # the host directory that is the guest's / (--root)
        self.binds = binds  # pykern.fs.namespace.Bind: --mount HOST:GUEST[:ro]
        self.max_tasks = max_tasks  # --max-tasks: Linux's threads-max, for the whole guest
        # the CLI's: when the first process is gone, report its status at once and leave
        # the guest processes still alive to a detached copy of pykern (Kernel.run)
        self.detach_orphans = detach_orphans
        self.max_memory = max_memory  # --max-memory in bytes: the OOM killer's limit (None: no killer)
        self.stdio = stdio  # the host fds that become the first process's 0, 1 and 2 (dup'ed)
        self.cwd = cwd  # where the first process starts (None: pykern's own cwd)
        self.console = console  # pykern's controlling terminal is the guest's console (pykern.tty)
        # --deterministic: virtual time, seeded randomness, a schedule chosen by `seed`
        # (--seed); `start_time` is CLOCK_REALTIME at boot (--start-time, epoch seconds)
        self.deterministic = deterministic
        # --cpus: guest threads that run at once (pykern.smp); one under --deterministic
        # and when tracing, whose output follows one CPU's order
        self.cpus = cpus
        self.seed = seed
        self.start_time = start_time


class Kernel:
    def __init__(self, table: list[SyscallEntry | None], options: Options | None = None,
                 load_syscall: Callable[[int], SyscallEntry | None] | None = None) -> None:
        """`table` is indexed by syscall number; with `load_syscall` (pykern.syscalls.table's
        lazy_table) an empty slot is first offered to it, which fills the table."""
        self.options = options or Options()
        if self.options.deterministic:
            restart_numbering()
            self.clock: Clock = VirtualClock(self.options.start_time)
            import random  # only a deterministic run seeds its own

            self.random: random.Random | None = random.Random(f"pykern random {self.options.seed}")
        else:
            self.clock = Clock()
            self.random = None  # the host's: os.urandom
        from pykern.fs.hostio import raise_host_nofile

        raise_host_nofile()
        from pykern.fs.namespace import initial_mounts

        self.ipc = None  # pykern.ipc's namespace (System V objects, mqueue limits), made at first use
        self.netlink_ports: dict = {}  # a bound netlink socket's port id -> the socket (pykern.netlink)
        self.ttys = TtyTable(self)  # the console and the pseudo-terminals (pykern.tty): /dev/pts
        self.mounts = initial_mounts(self, self.options.root, self.options.binds)  # ValueError: bad --root
        self.fifos: dict = {}  # FIFO inode key -> its kernel pipe (pykern.fs.fifo)
        self.unix_names: dict = {}  # a bound Unix socket's name -> the socket (pykern.af_unix)
        self.vdso = Vdso(self.clock)  # the one vDSO image and data page every process maps
        ncpus = self.options.cpus if not self.options.deterministic and self.options.tracer is None else 1
        self.smp = Smp(ncpus if HAS_BUDGET and HAS_PARALLEL else 1)  # the CPUs and the kernel lock
        self.sched = Scheduler(self)
        if self.options.deterministic:
            self.sched.make_deterministic(self.clock, self.options.seed)
        self.trap = Trap(self, table, load_syscall)
        self.tasks: dict[int, Task] = {}  # tid -> task, live and zombie leaders
        self.nr_threads = 0  # tasks not DEAD (Linux's nr_threads): the scheduler runs while any is
        self.groups: dict[int, ThreadGroup] = {}  # tgid -> process, until reaped
        self._next_pid = INIT_PID + 1
        self.init = self._make_init()
        self.first: ThreadGroup | None = None
        # The first process's session is the world outside the guest's (init stands for
        # it). When pykern's own session leader lies outside pykern's pid namespace (a
        # container), Linux reads its id as 0, and the guest reads the same.
        self.outer_sid = INIT_PID if os.getsid(0) else 0
        self.tracer = self.options.tracer
        self.dead_mms: list[MM] = []
        self.mm_pool = MMPool()  # address spaces of dead processes, recycled by fork and exec
        self.signals = Signals(self)
        self.host_signals = HostSignals(self)  # installed by the CLI, not by tests
        self.futexes = FutexTable()  # every futex waiter and PI lock (pykern.futex)
        self.detached = False  # this pykern runs the orphans of a first process that exited
        self.oom = None if self.options.max_memory is None else OomKiller(self, self.options.max_memory)
        self.overcommit = Overcommit(self)  # vm.overcommit_memory and Committed_AS

    def _make_init(self) -> ThreadGroup:
        """pid 1 lives inside the kernel: it has no code, it only adopts and reaps orphans."""
        from pykern.fs.fdtable import FdTable
        from pykern.fs.fs_struct import FsContext

        top = self.mounts.root_location()
        init = ThreadGroup(INIT_PID, None, FdTable(), FsContext(top, top), self.host_creds(), {})
        self.groups[INIT_PID] = init
        return init

    def sid_vnr(self, sid: int) -> int:
        """A session id as the guest reads it (getsid, TIOCGSID, /proc): pid_vnr of the
        session leader, 0 for the outside world's session when that is hidden."""
        return self.outer_sid if sid == INIT_PID else sid

    @staticmethod
    def host_creds() -> Creds:
        ruid, euid, suid = os.getresuid()
        rgid, egid, sgid = os.getresgid()
        creds = Creds(ruid, euid, suid, rgid, egid, sgid, list(os.getgroups()))
        # The capability sets we run with (a container's root lacks some): the guest has
        # what it would have natively.
        try:
            with open("/proc/self/status") as status:
                fields = dict(line.split(":\t", 1) for line in status if line.startswith("Cap"))
            creds.cap_inheritable = int(fields["CapInh"], 16)
            creds.cap_permitted = int(fields["CapPrm"], 16)
            creds.cap_effective = int(fields["CapEff"], 16)
            creds.cap_bset = int(fields["CapBnd"], 16)
        except (OSError, KeyError, ValueError):
            pass
        return creds

    @staticmethod
    def host_rlimits() -> dict[int, tuple[int, int]]:
        """The limits the first process starts with: pykern's own, as the program would
        have them natively (RLIMIT_NOFILE as it was before pykern raised its own)."""
        from pykern.fs.hostio import GUEST_NOFILE

        limits = {}
        for name in dir(resource):
            if name.startswith("RLIMIT_"):
                number = getattr(resource, name)
                cur, top = resource.getrlimit(number)
                if number == resource.RLIMIT_NOFILE:
                    cur, top = GUEST_NOFILE
                infinity = (1 << 64) - 1
                limits[number] = (infinity if cur == resource.RLIM_INFINITY else cur,
                                  infinity if top == resource.RLIM_INFINITY else top)
        return limits

    # --- tables ---------------------------------------------------------------------------

    def alloc_pid(self) -> int:
        pid = self._next_pid
        while pid in self.tasks or pid in self.groups:
            pid += 1
        self._next_pid = pid + 1
        return pid

    def new_mm(self) -> MM:
        """An empty address space: a recycled one from the pool (see MMPool) if any."""
        return self.mm_pool.take() or MM(self.trap.install, pool=self.mm_pool, smp=self.smp)

    @property
    def live_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.state is not TaskState.DEAD]

    def random_bytes(self, n: int) -> bytes:
        """The one source of the guest's random bytes (getrandom, AT_RANDOM, /dev/urandom):
        the host's, or under --deterministic a generator seeded by --seed."""
        if self.random is None:
            return os.urandom(n)
        return self.random.randbytes(n)

    # --- the first process ----------------------------------------------------------------

    def spawn(self, path: bytes, argv: list[bytes], envp: list[bytes]) -> ThreadGroup:
        """Create the first guest process and exec `path` in it (raises SysError/ExecFormatError)."""
        from pykern.exec import do_execve
        from pykern.fs.fdtable import console_fdtable
        from pykern.fs.fs_struct import FsContext
        from pykern.fs.namespace import initial_cwd

        pid = self.alloc_pid()
        fs = FsContext(self.mounts.root_location(),
                       initial_cwd(self.mounts, self.options.root, self.options.cwd or os.getcwd()))
        group = ThreadGroup(pid, self.init, console_fdtable(self.options.stdio), fs, self.host_creds(),
                            self.host_rlimits())
        # What a shell with job control gives a command: a process group of its own, in
        # the shell's session. pid 1 stands in for the world outside the guest (the
        # shell that started pykern), so the session is init's: the first process may
        # setpgid() and setsid() as the program would.
        group.pgid, group.sid = pid, INIT_PID
        mm = self.new_mm()  # empty: the first exec builds its image in it
        task = Task(self, pid, group, mm)
        mm.users += 1
        group.tasks.append(task)
        try:
            do_execve(task, path, argv, envp, first=True)
        except BaseException:
            group.files.close_all()
            raise
        self.init.children.append(group)
        self.groups[pid] = group
        self.tasks[pid] = task
        self.nr_threads += 1
        self.first = group
        self.sched.enqueue(task)
        return group

    def run(self) -> int:
        """Run until every task has exited; return the first process's exit status in the
        shell's convention (code, or 128+signal)."""
        from pykern.sched import Deadlock

        first = self.first
        assert first is not None
        try:
            if self.options.detach_orphans:
                self.sched.run(until=lambda: not first.live_tasks)
                if self.nr_threads and self.detach():
                    self.sched.run()  # the detached copy: the orphans, to their end
                    self.end_detached()
            else:
                self.sched.run()
        except Deadlock:
            self.report_deadlock()
            if self.detached:
                self.end_detached()
            return 125
        return shell_status(first.wait_status or 0)

    def shutdown(self) -> None:
        """After run(), for a caller that goes on (pykern.api): give back what the
        kernel still holds on the host — pooled address spaces with their Unicorn
        instances, the page cache, fds of processes nobody reaped."""
        self.free_dead_mms()
        self.smp.close()
        for mm in self.mm_pool.free:
            mm._close()
        self.mm_pool.free.clear()
        self.mm_pool.page_cache.clear()
        for group in list(self.groups.values()):
            group.files.close_all()

    def detach(self) -> bool:
        """The first process has exited and others live on, as after `sleep 5 &` in a
        script: natively the command is over and the orphans run on. So does the guest:
        pykern forks itself; the original returns the first process's status now (False),
        the copy goes on running the guest (True) until its last task exits."""
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() != 0:
            return False
        self.detached = True
        self.host_signals.after_fork()
        return True

    def end_detached(self) -> None:
        """The detached copy is done: nobody waits for its status."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def report_deadlock(self) -> None:
        lines = [f"pykern: deadlock: all {len(self.live_tasks)} tasks are asleep or stopped and nothing can wake them"]
        for task in self.live_tasks:
            if task.state is TaskState.STOPPED:
                doing = f"stopped by {signal_name(task.group.job.signal)}"
            else:
                doing = f"sleeping in {task.pending.entry.name if task.pending else '?'}()"
            lines.append(f"pykern:   pid {task.group.tgid} tid {task.tid} {doing}")
        print("\n".join(lines), file=sys.stderr)

    # --- process lifecycle helpers (used by fork.py, exec.py, exit.py) ---------------------

    def free_dead_mms(self) -> None:
        """Destroy the address spaces no task uses any more, except one still bound by a
        CPU (its thread was killed while that CPU waited for the kernel lock inside one of
        its hooks: pykern.smp): that one goes next time."""
        kept = []
        while self.dead_mms:
            mm = self.dead_mms.pop()
            if mm.uc is not None and mm.bound_elsewhere(None):
                kept.append(mm)
            else:
                mm.destroy()
        self.dead_mms.extend(kept)


def restart_numbering() -> None:
    """--deterministic: the numbers some modules hand out from a counter of their own
    (pipe, socket and memfd inode numbers, mount ids, tmpfs devices, autobind names, inotify
    cookies) start again, so that a second kernel in one process (pykern.api, pykern
    explore) numbers its objects as the first did. Two kernels alive at once share them."""
    from pykern import af_unix, net, pipe
    from pykern.fs import file, inotify, mount, tmpfs

    pipe._inode_numbers = itertools.count(100000)
    net._inode_numbers = iter(range(200000, 1 << 62))
    af_unix._autobind_numbers = itertools.count(0x10000)
    mount._mount_ids = itertools.count(21)
    inotify._cookies = itertools.count(1)
    tmpfs._tmpfs_devs = itertools.count(0x2E)
    file._stamped_inodes = iter(range(300000, 1 << 62))


def shell_status(wait_status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the fatal signal."""
    signal = wait_status & 0x7F
    if signal:
        return 128 + signal
    return (wait_status >> 8) & 0xFF

