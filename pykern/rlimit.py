"""Resource limits as the kernel reads them, and the one it enforces on its own clock.

setrlimit/prlimit64 (syscalls/identity.py) install limits in `group.rlimits`; the calls
that allocate check theirs where they allocate (fork: RLIMIT_NPROC, mmap/brk: RLIMIT_AS
and RLIMIT_DATA, the fd table: RLIMIT_NOFILE, write/truncate: RLIMIT_FSIZE). RLIMIT_CPU
is the exception: nothing allocates CPU time, so a CPU-time timer of the process checks
it after each slice, as Linux's check_process_timers does: past the soft limit SIGXCPU,
again each further second (the soft limit moves up by one second each time, as Linux
moves it), and SIGKILL at the hard limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import NSEC_PER_SEC, RLIM_INFINITY, RLIMIT_CPU, SI_KERNEL, SIGKILL, SIGXCPU
from pykern.sigtypes import SigInfo

if TYPE_CHECKING:
    from pykern.task import ThreadGroup

CPU_LIMIT_KEY = "RLIMIT_CPU"  # its entry in group.cpu_timers, beside the itimers


def get_rlimit(group: ThreadGroup, resource: int) -> tuple[int, int]:
    """The limit as the guest sees it (host -1 means RLIM_INFINITY)."""
    cur, maximum = group.rlimits.get(resource, (RLIM_INFINITY, RLIM_INFINITY))
    return cur & RLIM_INFINITY, maximum & RLIM_INFINITY


class CpuLimit:
    """RLIMIT_CPU as one of the process's CPU-time timers (see the module's text)."""

    def __init__(self, group: ThreadGroup) -> None:
        self.group = group
        self.expires_ns: int | None = None
        self.rearm()

    def rearm(self) -> None:
        soft, hard = get_rlimit(self.group, RLIMIT_CPU)
        limits = [limit for limit in (soft, hard) if limit != RLIM_INFINITY]
        self.expires_ns = min(limits) * NSEC_PER_SEC if limits else None

    def check(self, now_ns: int) -> None:
        if self.expires_ns is None or now_ns < self.expires_ns:
            return
        group = self.group
        soft, hard = get_rlimit(group, RLIMIT_CPU)
        kernel = group.tasks[0].kernel  # (a process has tasks while it runs)
        if hard != RLIM_INFINITY and now_ns >= hard * NSEC_PER_SEC:
            kernel.signals.send(group, SigInfo(SIGKILL, SI_KERNEL))
            self.expires_ns = None
            return
        if soft != RLIM_INFINITY and now_ns >= soft * NSEC_PER_SEC:
            kernel.signals.send(group, SigInfo(SIGXCPU, SI_KERNEL))
            if soft < hard:
                group.rlimits[RLIMIT_CPU] = (soft + 1, hard)
        self.rearm()


def update_cpu_limit(group: ThreadGroup) -> None:
    """RLIMIT_CPU was set, or the process was forked with one: (re)arm its check."""
    soft, hard = get_rlimit(group, RLIMIT_CPU)
    if soft == RLIM_INFINITY and hard == RLIM_INFINITY:
        group.cpu_timers.pop(CPU_LIMIT_KEY, None)
    else:
        group.cpu_timers[CPU_LIMIT_KEY] = CpuLimit(group)
        if group.tasks:  # a lone task may be running unbounded: from now on, in slices
            group.tasks[0].kernel.sched.need_resched = True


__all__ = ["CPU_LIMIT_KEY", "CpuLimit", "get_rlimit", "update_cpu_limit"]
