"""Several CPUs: guest threads run at once, one host thread per CPU (Linux's SMP, with
its first design: a big kernel lock).

- A `Cpu` is a host thread that runs guest tasks, and what the trap keeps for the one
  task it runs now: the Unicorn instance it has bound (`uc`), whether it may be
  executing guest code (`in_guest`), and the trap's flags for the current call. CPU 0
  is the thread that called Scheduler.run; the others are started by it.
- The big kernel lock (`Smp.lock`): all of pykern's Python code runs under it. A CPU
  lets go of it only while its Unicorn instance executes guest code (ctypes releases
  the GIL there too) and while it idles; the syscall hook takes it again. So kernel code
  never runs on two CPUs at once, and guest code runs on all of them.
- Each running thread needs its own Unicorn instance: an address space has its primary
  instance and, while two of its threads run at once, a secondary one over the same host
  pages (pykern.mm, `MM.instance_for`). Their translated code is each their own, so an
  address space runs on two CPUs only while no executable mapping is writable or shared
  (`MM.smp_safe`): then a guest can change code only through mprotect or munmap, and
  those drop the translations in every instance.
- Stopping another CPU (`stop_cpu`, Linux's IPI and TLB shootdown): a mapping change,
  a fork's snapshot of memory, or the death of a task that runs elsewhere first waits
  until the CPU involved executes no guest code. The kernel lock keeps it so until the
  lock is let go: a stopped CPU waits for the lock in its syscall hook or after emu_start.
- `kick` (signal_wake_up's kick_process): a signal for a task running on another CPU,
  or a task woken while every CPU runs one that has no quantum, makes that CPU leave
  the JIT soon, without waiting for it.

With one CPU (--deterministic, --gdb, tracing, or `--cpus 1`) none of this costs more
than an attribute read: the lock is never taken and nothing is stopped.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections import deque

    from pykern.mm import MM
    from pykern.task import Task
    from pykern.ucbind import Uc


RETIRE_S = 0.05  # a CPU other than 0 that found nothing to take for this long goes offline
# A CPU other than 0 takes a task woken on the run queue only once it has waited this
# long (Linux's wake-affine idea): a task woken by one that is about to sleep (a pipe or
# futex ping-pong, a parent forking then waiting) runs on the waker's CPU at once, which
# costs far less than a hand-over between two host threads (about 100 us here).
STEAL_GRACE_NS = 300_000


class Cpu:
    """One CPU. Fields written by its own host thread (pykern.sched, pykern.trap) under
    the kernel lock, except `in_guest`, which it clears without the lock."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.current: Task | None = None  # sched.py: the task it runs
        self.uc: Uc | None = None  # sched.py (bind): the instance it runs `current` in
        # may be executing guest code: set under the lock just before the lock is let go
        # for emu_start (or a syscall hook returns); cleared as soon as it stops
        self.in_guest = False
        self.unbounded = False  # trap.py: its slice has no instruction budget (a lone task)
        self.need_resched = False  # leave the JIT after the current call (sched, signal, exit)
        self.yielded = False  # sched_yield: the current task goes to the back of the queue
        # trap.py: the current call and run
        self.stopped = False  # the kernel asked Unicorn to stop (vs. the quantum ran out)
        self.executed = 0  # guest instructions the last run_user was charged
        self.syscalls_left = 0  # sched.py sets, trap.py counts: calls the quantum may still make
        self.in_syscall_hook = False
        self.entered = 0  # perf_counter_ns when the call being served began (pykern.rusage)
        self.retrying: Task | None = None  # the task whose call retry() is making
        self.thread: threading.Thread | None = None  # CPUs other than 0
        self.slices = 0  # sched.py: the slices it ran (tests, and who ran what)

    def unbind(self) -> None:
        """Let go of the Unicorn instance it had bound (sched.py)."""
        uc = self.uc
        if uc is not None:
            uc.cpu = None  # type: ignore[attr-defined]
            self.uc = None

    def __repr__(self) -> str:
        return f"<Cpu {self.index} running {self.current}>"


class Smp:
    """The CPUs, the kernel lock, and how one CPU stops or kicks another."""

    def __init__(self, ncpus: int) -> None:
        self.cpus = [Cpu(index) for index in range(max(1, ncpus))]
        self.multi = len(self.cpus) > 1
        self.lock = threading.Lock()
        self.wakeup = threading.Event()  # CPUs other than 0 wait on it for work (steal_wait)
        self.online = False  # the CPUs other than 0 are running, kernel code under the lock (sched.py)
        self.retired = False  # they found nothing to take for RETIRE_S: CPU 0 takes them offline
        self.onlines = 0  # sched.py: how many times they came online (tests)
        self._local = threading.local()
        self._local.cpu = self.cpus[0]
        # CPU 0's idle wait also watches this pipe: another CPU writes a byte when it
        # made work for CPU 0 (a task woken, a timer or host fd to wait for).
        self.poke_r, self.poke_w = os.pipe() if self.multi else (-1, -1)
        if self.multi:
            os.set_blocking(self.poke_r, False)
            os.set_blocking(self.poke_w, False)
        self.cpu0_idle = False

    def close(self) -> None:
        for fd in (self.poke_r, self.poke_w):
            if fd >= 0:
                os.close(fd)
        self.poke_r = self.poke_w = -1

    def this_cpu(self) -> Cpu:
        """The CPU whose host thread runs this code."""
        if not self.multi:
            return self.cpus[0]
        return getattr(self._local, "cpu", self.cpus[0])

    def enter(self, cpu: Cpu) -> None:
        """A CPU's host thread starts: it is `cpu` from now on."""
        self._local.cpu = cpu

    # --- stopping and kicking ---------------------------------------------------------

    def stop_cpu(self, cpu: Cpu) -> None:
        """With the kernel lock held: return once `cpu` executes no guest code (it stays
        so until the lock is let go)."""
        spins = 0
        while cpu.in_guest:
            if spins % 64 == 0:  # (an emu_stop just before its emu_start is lost: ask again now and then)
                uc = cpu.uc
                if uc is not None:
                    uc.emu_stop()
            spins += 1
            time.sleep(0.00002)  # (it leaves the JIT at the next block boundary: microseconds)

    def stop_others(self, mm: MM | None = None) -> None:
        """Before changing `mm`'s mappings or copying its memory: no other CPU runs in it.
        Without `mm`, before a read-modify-write of guest memory other processes may
        change at once (a futex word: Linux does it with an atomic cmpxchg on user
        memory): no other CPU runs guest code. Either until the kernel lock is let go."""
        if not self.multi:
            return
        me = self.this_cpu()
        for cpu in self.cpus:
            if cpu is not me and cpu.in_guest and (mm is None or (cpu.uc is not None and cpu.uc.mm is mm)):
                self.stop_cpu(cpu)

    def cpu_running(self, task: Task) -> Cpu | None:
        """The CPU other than this one that runs `task` now, if any."""
        if not self.multi:
            return None
        me = self.this_cpu()
        for cpu in self.cpus:
            if cpu is not me and cpu.current is task:
                return cpu
        return None

    def stop_task(self, task: Task) -> None:
        """Before `task` dies or changes under another CPU that runs it: stop that CPU."""
        cpu = self.cpu_running(task)
        if cpu is not None:
            cpu.need_resched = True
            self.stop_cpu(cpu)

    def kick(self, task: Task) -> None:
        """`task` must leave the JIT soon (a signal came, it was stopped): after its
        current call if it runs here, at once if it runs on another CPU."""
        cpu = self.cpu_running(task)
        if cpu is None:
            self.this_cpu().need_resched = True
            return
        cpu.need_resched = True
        uc = cpu.uc
        if cpu.in_guest and uc is not None:
            uc.emu_stop()

    def work_arrived(self, urgent: bool) -> None:
        """A task became runnable. `urgent` (it was preempted, or more tasks are runnable
        than CPUs run): an idle CPU takes it at once; else one takes it only after a grace
        (steal_wait), unless the waker's CPU runs it first. CPUs that run a lone task
        without a quantum get one (they leave the JIT and come back with a budget)."""
        if not self.online:
            return
        if urgent:
            self.wakeup.set()
        if self.cpu0_idle and self.this_cpu().index != 0:
            self.poke_cpu0()
        me = self.this_cpu()
        for cpu in self.cpus:
            if cpu is not me and cpu.unbounded and cpu.in_guest and cpu.uc is not None:
                cpu.need_resched = True
                cpu.uc.emu_stop()

    def steal_wait(self, runqueue: deque[Task], patience: float) -> bool:
        """A CPU other than 0 with nothing to run, without the kernel lock: wait until
        the run queue's first task has waited STEAL_GRACE_NS (or is urgent), looking
        without the lock every 2 ms while another CPU runs something, 50 ms when all idle.
        False once it found nothing to take for RETIRE_S."""
        if patience and self.wakeup.wait(patience):
            self.wakeup.clear()
            return True
        give_up = time.monotonic() + RETIRE_S
        while self.online:
            try:
                head = runqueue[0]
            except IndexError:
                head = None
            if head is not None and time.perf_counter_ns() - head.queued_at >= STEAL_GRACE_NS:
                return True
            if head is None and time.monotonic() > give_up:
                return False
            # (every 2 ms at most: each look needs the GIL, which CPU 0 would rather keep)
            timeout = 0.002 if head is not None or any(cpu.current is not None for cpu in self.cpus) else 0.05
            if self.wakeup.wait(timeout):
                self.wakeup.clear()
                return True
        return True

    def poke_cpu0(self) -> None:
        """CPU 0 may be waiting in idle() for timers and host fds: look again."""
        if self.cpu0_idle and self.poke_w >= 0:
            try:
                os.write(self.poke_w, b"!")
            except BlockingIOError:
                pass  # (a byte is already waiting)

    def drain_pokes(self) -> None:
        try:
            while os.read(self.poke_r, 256):
                pass
        except (BlockingIOError, OSError):
            pass
