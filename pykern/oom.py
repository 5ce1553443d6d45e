"""--max-memory and the OOM killer (Linux's mm/oom_kill.c, as the lectures tell it).

Guest memory is host memory pykern reserves without committing it: a page costs the
host only once the guest touches it, inside the JIT, where pykern does not see it
happen. So the bound is on what the host pays: pykern's own resident set, less what it
had before the first guest instruction, is checked between slices (at most every
CHECK_SECONDS; a task alone then runs in quanta too, so a loop that only touches memory
is checked as well). When it is over the limit, the killer picks the process with the
highest badness — its resident pages, plus oom_score_adj thousandths of the limit, as
oom_badness() computes it with the limit as totalpages, the way a memory cgroup's limit
is — kills it with SIGKILL and says so on pykern's stderr as the kernel log would. pykern
and the other guest processes run on. /proc/PID/oom_score shows the same badness.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from pykern.abi import OOM_SCORE_ADJ_MIN, PAGE_SIZE, SI_KERNEL, SIGKILL
from pykern.rusage import maybe_sample_rss
from pykern.sigtypes import SigInfo

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.task import ThreadGroup

CHECK_SECONDS = 0.01
DEFAULT_FRACTION = 0.75  # --max-memory's default: this much of the host's RAM


def host_rss_bytes() -> int:
    """pykern's own resident set (statm's second field)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


def host_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 1 << 34


def parse_size(text: str) -> int:
    """'512M', '2G', '1048576', '64k' -> bytes (ValueError otherwise)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    value = int(float(number) * units[unit])
    if value <= 0:
        raise ValueError(f"must be positive: {text!r}")
    return value


def badness(mm: MM | None, group: ThreadGroup, total_pages: int) -> int | None:
    """oom_badness: resident pages plus oom_score_adj per mille of `total_pages`; None
    for a process the killer never picks (no memory, or oom_score_adj -1000)."""
    from pykern.fs.proc.task_mmu import mem_counters

    adj = group.oom_score_adj
    if mm is None or adj == OOM_SCORE_ADJ_MIN:
        return None
    return mem_counters(mm).rss // PAGE_SIZE + adj * (total_pages // 1000)


class OomKiller:
    def __init__(self, kernel: Kernel, limit: int) -> None:
        self.kernel = kernel
        self.limit = limit
        self.total_pages = max(limit // PAGE_SIZE, 1)
        self.baseline: int | None = None  # pykern's RSS before the guest's first slice
        self._next_check = 0.0
        self.kills = 0

    def check(self) -> None:
        """Between slices: over the limit? Then kill. Cheap when not due."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_SECONDS
        current = self.kernel.sched.current
        if current is not None and current.mm.uc is not None:
            maybe_sample_rss(current.mm)  # ru_maxrss's peak, now and then (pykern.rusage)
        rss = host_rss_bytes()
        if self.baseline is None:
            self.baseline = rss
            return
        if rss - self.baseline > self.limit:
            self.kill()

    def kill(self) -> None:
        from pykern.fs.proc.common import live_mm
        from pykern.fs.proc.task_mmu import mem_counters

        kernel = self.kernel
        chosen, worst, chosen_mm = None, None, None
        for group in kernel.groups.values():
            if group is kernel.init or group.is_zombie or not group.live_tasks:
                continue
            mm = live_mm(group)
            points = badness(mm, group, self.total_pages)
            if points is not None and (worst is None or points > worst):
                chosen, worst, chosen_mm = group, points, mm
        if chosen is None or chosen_mm is None:
            return
        counters = mem_counters(chosen_mm)
        comm = chosen.live_tasks[0].comm.decode(errors="replace")
        print(f"pykern: Out of memory: Killed process {chosen.tgid} ({comm}) total-vm:{counters.total // 1024}kB, "
              f"anon-rss:{counters.rss_anon // 1024}kB, file-rss:{counters.rss_file // 1024}kB, "
              f"shmem-rss:{counters.rss_shmem // 1024}kB, UID:{chosen.creds.uid} pgtables:0kB "
              f"oom_score_adj:{chosen.oom_score_adj}", file=sys.stderr, flush=True)
        kernel.signals.send(chosen, SigInfo(SIGKILL, SI_KERNEL))
        self.kills += 1
        self._next_check = time.monotonic() + CHECK_SECONDS  # let its memory go first


__all__ = ["DEFAULT_FRACTION", "OomKiller", "badness", "host_ram_bytes", "parse_size"]
