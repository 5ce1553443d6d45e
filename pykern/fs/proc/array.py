"""/proc/PID/stat, statm and status (Linux's fs/proc/array.c), from the ThreadGroup and
its tasks: the same numbers getpid, getppid, getrlimit, sigprocmask and getrusage give.

The times, faults, context switches and the peak resident set VmHWM are pykern.rusage's,
as getrusage reports them (no major faults); VmPeak is the current size.
Capabilities are the credentials' sets, as capget(2) reports them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pykern.abi import (
    NSIG,
    PAGE_SIZE,
    RLIM_INFINITY,
    RLIMIT_RSS,
    RLIMIT_SIGPENDING,
    SIG_DFL,
    SIG_IGN,
    USER_HZ,
)
from pykern.fs.proc.common import comm_of, is_init, live_mm, state_of
from pykern.fs.proc.task_mmu import MemCounters, mem_counters
from pykern.rusage import Usage, process_usage, thread_usage
from pykern.task import TaskState
from pykern.tty import ctty_numbers

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

PF_FORKNOEXEC = 0x40  # forked but did not exec
PF_RANDOMIZE = 0x400000
MAX_NUMNODES = 1024  # Mems_allowed is printed at this width (CONFIG_NODES_SHIFT=10)


def ticks(ns: int) -> int:
    return ns * USER_HZ // 1_000_000_000


def _sigmask_hex(mask: int) -> str:
    return f"{mask & ((1 << NSIG) - 1):016x}"


def sig_dispositions(group: ThreadGroup) -> tuple[int, int]:
    """(ignored, caught) masks from the action table."""
    ignored = caught = 0
    for sig, action in group.sigactions.items():
        if not 1 <= sig <= NSIG:
            continue
        if action.handler == SIG_IGN:
            ignored |= 1 << (sig - 1)
        elif action.handler != SIG_DFL:
            caught |= 1 << (sig - 1)
    return ignored, caught


def rlimit_cur(group: ThreadGroup, resource: int) -> int:
    return group.rlimits.get(resource, (RLIM_INFINITY, RLIM_INFINITY))[0] & RLIM_INFINITY


def possible_cpus() -> int:
    return os.cpu_count() or 1


def cpu_mask_hex(cpus: frozenset[int] | set[int], nbits: int) -> str:
    """A bitmap as "%*pb" prints it: hex words of 32 bits, high first, comma-separated;
    the first word only as wide as `nbits` needs."""
    mask = sum(1 << cpu for cpu in cpus if cpu < nbits)
    words = max((nbits + 31) // 32, 1)
    parts = []
    for index in reversed(range(words)):
        word = (mask >> (32 * index)) & 0xFFFFFFFF
        width = 8 if index < words - 1 else (nbits - 32 * index + 3) // 4
        parts.append(f"{word:0{max(width, 1)}x}")
    return ",".join(parts)


def cpu_list(cpus: frozenset[int] | set[int]) -> str:
    """"0-3,6" as "%*pbl" prints it."""
    ranges: list[str] = []
    ordered = sorted(cpus)
    start = prev = None
    for cpu in ordered + [None]:
        if start is not None and (cpu is None or cpu != prev + 1):
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if cpu is not None and start is None:
            start = cpu
        prev = cpu
    return ",".join(ranges)


def task_affinity(task: Task | None) -> frozenset[int]:
    affinity = task.cpu_affinity if task is not None else None
    return frozenset(affinity) if affinity is not None else frozenset(os.sched_getaffinity(0))


def fd_size(group: ThreadGroup) -> int:
    """FDSize: the fd table's capacity as Linux grows it (64, then multiples of 128
    rounded up to a power of two times 128)."""
    files = group.files.files
    highest = max(files, default=-1) + 1
    if highest <= 64:
        return 64
    per_kb = 1024 // 8
    count = 1
    while count < highest // per_kb + 1:
        count *= 2
    return count * per_kb


def capabilities(group: ThreadGroup) -> tuple[int, int, int, int, int]:
    """(inheritable, permitted, effective, bounding, ambient): what capget(2) reports."""
    creds = group.creds
    return creds.cap_inheritable, creds.cap_permitted, creds.cap_effective, creds.cap_bset, 0


def queued_signals(kernel: Kernel, uid: int) -> int:
    """Signals queued to every process of the user `uid` (Linux's user->sigpending)."""
    count = 0
    for group in kernel.groups.values():
        if group.creds.uid != uid:
            continue
        count += len(group.shared_pending.infos)
        count += sum(len(task.sigpending.infos) for task in group.tasks if task.state is not TaskState.DEAD)
    return count


# --- status ----------------------------------------------------------------------------------------


def _kb(label: str, value_bytes: int) -> str:
    return f"{label}\t{value_bytes >> 10:>8} kB\n"


def _task_mem(counters: MemCounters, hiwater_rss: int) -> str:
    return "".join((
        _kb("VmPeak:", counters.total), _kb("VmSize:", counters.total), _kb("VmLck:", counters.locked),
        _kb("VmPin:", 0), _kb("VmHWM:", max(hiwater_rss, counters.rss)), _kb("VmRSS:", counters.rss),
        _kb("RssAnon:", counters.rss_anon), _kb("RssFile:", counters.rss_file),
        _kb("RssShmem:", counters.rss_shmem), _kb("VmData:", counters.data), _kb("VmStk:", counters.stack),
        _kb("VmExe:", counters.text), _kb("VmLib:", counters.lib), _kb("VmPTE:", 0), _kb("VmSwap:", 0),
        _kb("HugetlbPages:", 0),
    ))  # fmt: skip


def escape_comm(comm: bytes) -> str:
    return comm.decode("latin-1").replace("\\", "\\\\").replace("\n", "\\n")


def show_status(kernel: Kernel, group: ThreadGroup, task: Task | None) -> bytes:
    """`task`: the thread shown (the leader for /proc/PID; None for pykern's init)."""
    creds = group.creds
    tid = task.tid if task is not None else group.tgid
    umask = group.fs.umask
    groups = " ".join(str(gid) for gid in creds.groups) + " "  # (Linux ends the list with a space)
    lines = [
        f"Name:\t{escape_comm(comm_of(group, task))}\n",
        f"Umask:\t{umask:04o}\n",
        f"State:\t{state_of(group, task)}\n",
        f"Tgid:\t{group.tgid}\n",
        "Ngid:\t0\n",
        f"Pid:\t{tid}\n",
        f"PPid:\t{group.ppid}\n",
        "TracerPid:\t0\n",
        f"Uid:\t{creds.uid}\t{creds.euid}\t{creds.suid}\t{creds.euid}\n",
        f"Gid:\t{creds.gid}\t{creds.egid}\t{creds.sgid}\t{creds.egid}\n",
        f"FDSize:\t{fd_size(group) if not group.is_zombie else 0}\n",
        f"Groups:\t{groups}\n",
        f"NStgid:\t{group.tgid}\n",
        f"NSpid:\t{tid}\n",
        f"NSpgid:\t{group.pgid}\n",
        f"NSsid:\t{kernel.sid_vnr(group.sid)}\n",
        "Kthread:\t0\n",
    ]
    mm = live_mm(group)
    if mm is not None:
        counters = mem_counters(mm)
        mm.hiwater_rss = max(mm.hiwater_rss, counters.rss)
        lines.append(_task_mem(counters, mm.hiwater_rss))
        lines.append("CoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\n")
    threads = max(len(group.live_tasks), 1)  # a zombie still counts its leader until reaped
    ignored, caught = sig_dispositions(group)
    pending = task.sigpending.mask if task is not None else 0
    blocked = task.sigmask if task is not None else 0
    inheritable, permitted, effective, bounding, ambient = capabilities(group)
    affinity = task_affinity(task)
    nodes = ",".join(["00000000"] * (MAX_NUMNODES // 32 - 1) + ["00000001"])
    lines += [
        f"Threads:\t{threads}\n",
        f"SigQ:\t{queued_signals(kernel, creds.uid)}/{rlimit_cur(group, RLIMIT_SIGPENDING)}\n",
        f"SigPnd:\t{_sigmask_hex(pending)}\n",
        f"ShdPnd:\t{_sigmask_hex(group.shared_pending.mask)}\n",
        f"SigBlk:\t{_sigmask_hex(blocked)}\n",
        f"SigIgn:\t{_sigmask_hex(ignored)}\n",
        f"SigCgt:\t{_sigmask_hex(caught)}\n",
        f"CapInh:\t{inheritable:016x}\n",
        f"CapPrm:\t{permitted:016x}\n",
        f"CapEff:\t{effective:016x}\n",
        f"CapBnd:\t{bounding:016x}\n",
        f"CapAmb:\t{ambient:016x}\n",
        f"NoNewPrivs:\t{int(group.creds.no_new_privs)}\n",
        "Seccomp:\t0\n",
        "Seccomp_filters:\t0\n",
        "Speculation_Store_Bypass:\tthread vulnerable\n",
        "SpeculationIndirectBranch:\tconditional enabled\n",
        f"Cpus_allowed:\t{cpu_mask_hex(affinity, possible_cpus())}\n",
        f"Cpus_allowed_list:\t{cpu_list(affinity)}\n",
        f"Mems_allowed:\t{nodes}\n",
        "Mems_allowed_list:\t0\n",
        f"voluntary_ctxt_switches:\t{getattr(task, 'nvcsw', 0)}\n",
        f"nonvoluntary_ctxt_switches:\t{getattr(task, 'nivcsw', 0)}\n",
    ]
    return "".join(lines).encode("latin-1")


# --- stat ------------------------------------------------------------------------------------------


def show_stat(kernel: Kernel, group: ThreadGroup, task: Task | None, whole: bool) -> bytes:
    """do_task_stat: `whole` for /proc/PID/stat (the process's times and counts), else
    the thread `task`'s."""
    mm = live_mm(group)
    layout = mm.layout if mm is not None else None
    counters = mem_counters(mm) if mm is not None else MemCounters()
    tid = task.tid if task is not None else group.tgid
    state = state_of(group, task)[0]
    ignored, caught = sig_dispositions(group)
    pending = (task.sigpending.mask if task is not None else 0) | (group.shared_pending.mask if whole else 0)
    blocked = task.sigmask if task is not None else 0
    if task is None:  # pykern's init
        usage = Usage()
    else:
        usage = process_usage(kernel.clock, group) if whole else thread_usage(kernel.clock, task)
    children = group.children_usage if whole else Usage()
    start_ns = task.start_time_ns if task is not None and hasattr(task, "start_time_ns") else 0
    flags = PF_RANDOMIZE | (0 if group.did_exec or is_init(group) else PF_FORKNOEXEC)
    sleeping = task is not None and task.state is not TaskState.RUNNABLE
    exit_code = (group.wait_status or 0) if group.is_zombie else 0
    affinity = task_affinity(task)

    def at(name: str) -> int:
        return getattr(layout, name) if layout is not None else 0

    fields = [
        group.ppid, group.pgid, kernel.sid_vnr(group.sid), *ctty_numbers(kernel, group), flags,
        usage.minflt, children.minflt, usage.majflt, children.majflt,
        ticks(usage.utime_ns), ticks(usage.stime_ns), ticks(children.utime_ns), ticks(children.stime_ns),
        20 + group.nice, group.nice, max(len(group.live_tasks), 1), 0,
        ticks(start_ns), counters.total, counters.rss // PAGE_SIZE, rlimit_cur(group, RLIMIT_RSS),
        at("start_code"), at("end_code"), at("start_stack"), 0, 0,
        pending & 0x7FFFFFFF, blocked & 0x7FFFFFFF, ignored & 0x7FFFFFFF, caught & 0x7FFFFFFF,
        1 if sleeping else 0, 0, 0, group.exit_signal, min(affinity, default=0), 0, 0, 0, 0, 0,
        at("start_data"), at("end_data"), mm.start_brk if mm is not None else 0,
        at("arg_start"), at("arg_end"), at("env_start"), at("env_end"), exit_code,
    ]  # fmt: skip
    comm = comm_of(group, task)
    return b"%d (%s) %s " % (tid, comm, state.encode()) + " ".join(str(f) for f in fields).encode() + b"\n"


def show_statm(group: ThreadGroup) -> bytes:
    mm = live_mm(group)
    if mm is None:
        return b"0 0 0 0 0 0 0\n"
    counters = mem_counters(mm)
    pages = PAGE_SIZE
    text = 0
    if mm.layout is not None:
        text = ((mm.layout.end_code + pages - 1) // pages) - mm.layout.start_code // pages
    shared = (counters.rss_file + counters.rss_shmem) // pages
    data = (counters.data + counters.stack) // pages
    return f"{counters.total // pages} {counters.rss // pages} {shared} {text} 0 {data} 0\n".encode()
