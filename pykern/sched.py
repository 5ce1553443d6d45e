"""The scheduler: run queue, sleeping and waking, timers, idle, and the main loop.

A task is RUNNABLE (on `runqueue` or running), SLEEPING (on wait queues, a timer or a
host fd), STOPPED (job control: until SIGCONT), or DEAD. Preemption is timer driven: when more than one task could run, a
task gets a quantum of `QUANTUM_INSNS` guest instructions (counted by the JIT, see
Trap.run_user), spread over as many `emu_start`s as its system calls need; a lone task
runs until it blocks or exits. Sleeping tasks are woken by `wake` (a hint: they re-run
their pending call from the top), by their deadline, or by host fd readiness.

Under --deterministic (`make_deterministic`) time is the kernel's VirtualClock: timers
fire at virtual times, and when every task sleeps the clock jumps to the next timer
instead of waiting for it. The scheduling choices a real CPU's timing would make are made
here, by a generator seeded with --seed: the length of each quantum, which runnable task
goes next (so also the order of wake-ups), and a preemption right after a system call.
"""

from __future__ import annotations

import heapq
import itertools
import select
import signal
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.clock import INSN_NS
from pykern.errors import Block
from pykern.task import Task, TaskState

if TYPE_CHECKING:
    import random

    from pykern.clock import VirtualClock
    from pykern.gdbstub import GdbStub
    from pykern.kernel import Kernel
    from pykern.strace.events import Tracer

# A quantum, in guest instructions: about 5 ms of a CPU-bound loop at pykern's JIT speed.
# Counted, not timed, so that where a task is preempted never depends on the host's load
# (Trap.run_user).
QUANTUM_INSNS = 5_000_000
# A task alone runs unbounded, or, with the OOM killer on, for about 50 ms between checks
# of pykern's memory (pykern.oom).
LONE_QUANTUM_INSNS = 50_000_000


class Deadlock(Exception):
    """Every task is asleep and nothing (timer, host fd) can ever wake one."""


class Timer:
    """A kernel timer (Linux's hrtimer): `fire()` runs at `deadline` (monotonic seconds)
    unless cancelled. Interval timers re-arm themselves from `fire`."""

    def __init__(self, fire: Callable[[], None]) -> None:
        self.fire = fire
        self.deadline: float | None = None

    @property
    def armed(self) -> bool:
        return self.deadline is not None


class Scheduler:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.runqueue: deque[Task] = deque()
        self.timers: list[tuple[float, int, Task | Timer]] = []
        self._seq = itertools.count()
        self.host_waiters: set[Task] = set()
        self.need_resched = False
        self.yielded = False  # sched_yield: rotate the current task after its call returns
        self.idle_waiting = False  # in idle()'s wait for timers and host fds
        self.current: Task | None = None
        self.debugger: GdbStub | None = None  # --gdb: its hooks below are one check when None
        # --timeline: the tracer, told of each slice run and each wake-up (one check when None)
        tracer = kernel.options.tracer
        self.timeline: Tracer | None = tracer if tracer is not None and tracer.timeline is not None else None
        self.kernel_wakes: str | None = None  # --timeline: what of the kernel wakes tasks now (Woken.by)
        self.now: Callable[[], float] = time.monotonic  # timer deadlines' clock, in seconds
        self.virtual: VirtualClock | None = None  # --deterministic: the kernel's clock
        self.chaos: random.Random | None = None  # --deterministic: the seeded scheduling choices
        self.max_quantum = QUANTUM_INSNS
        self.preempt_chance = 0.0  # of a preemption right after a system call

    def make_deterministic(self, clock: VirtualClock, seed: int) -> None:
        """--deterministic --seed N: timers on the virtual clock, choices from the seed.
        Each seed also picks how hard it shakes the schedule (shorter quanta, more
        preemptions after system calls); seed 0 keeps full quanta and no extra preemption,
        the schedule closest to a normal run's."""
        self.virtual = clock
        self.now = clock.seconds
        import random  # only a deterministic run needs it

        self.chaos = random.Random(f"pykern schedule {seed}")
        if seed != 0:
            self.max_quantum = self.chaos.choice((QUANTUM_INSNS, QUANTUM_INSNS // 8, QUANTUM_INSNS // 64))
            self.preempt_chance = self.chaos.choice((0.0, 1 / 64, 1 / 8, 1 / 2))

    def quantum(self) -> int:
        """A new quantum, in guest instructions."""
        if self.chaos is None:
            return QUANTUM_INSNS
        return self.chaos.randint(self.max_quantum // 4, self.max_quantum)

    def preempt_after_syscall(self) -> bool:
        """--deterministic: does the seed preempt the running task after this system call
        (only when another task is runnable)? Trap's syscall hook asks, after the call."""
        chaos = self.chaos
        if self.runqueue and self.preempt_chance and chaos is not None and chaos.random() < self.preempt_chance:
            self.yielded = True
            self.need_resched = True
            return True
        return False

    # --- sleep / wake ----------------------------------------------------------------------

    def enqueue(self, task: Task) -> None:
        task.state = TaskState.RUNNABLE
        self.runqueue.append(task)
        self.need_resched = True

    def sleep(self, task: Task, block: Block) -> None:
        """Put `task` to sleep on everything `block` names (the caller raised Block)."""
        task.state = TaskState.SLEEPING
        task.wait_queues = block.queues
        for queue in block.queues:
            queue.add(task)
        task.wake_deadline = block.deadline
        if block.deadline is not None:
            heapq.heappush(self.timers, (block.deadline, next(self._seq), task))
        task.host_fds = block.host_fds
        if block.host_fds:
            self.host_waiters.add(task)
            if self.chaos is not None:  # --deterministic: said once, on stderr
                what = "waiting for a host file descriptor (a terminal, a host pipe or socket)"
                self.kernel.trap.unsupported_use(f"deterministic {what}", f"--deterministic: {what} is not deterministic")
        task.nvcsw += 1
        self.need_resched = True

    def wake(self, task: Task) -> None:
        if task.state is not TaskState.SLEEPING:
            return
        for queue in task.wait_queues:
            queue.remove(task)
        task.wait_queues = ()
        task.wake_deadline = None
        task.host_fds = ()
        self.host_waiters.discard(task)
        self.enqueue(task)
        if self.timeline is not None:  # who woke it: the running task's call, or the kernel
            self.timeline.woken(task, self.kernel_wakes or self.current)

    def yield_current(self) -> None:
        """sched_yield: the running task goes to the back of the run queue once its call returns."""
        self.need_resched = True
        self.yielded = True

    def forget(self, task: Task) -> None:
        """A task is dying: take it off every queue."""
        for queue in task.wait_queues:
            queue.remove(task)
        task.wait_queues = ()
        task.host_fds = ()
        self.host_waiters.discard(task)
        if task in self.runqueue:
            self.runqueue.remove(task)

    # --- timers and idle ---------------------------------------------------------------------

    def arm(self, timer: Timer, deadline: float | None) -> None:
        """Start (or with None, cancel) a kernel timer. A re-armed timer's old entry in
        the heap goes stale: it no longer matches `timer.deadline`."""
        timer.deadline = deadline
        if deadline is not None:
            heapq.heappush(self.timers, (deadline, next(self._seq), timer))

    @staticmethod
    def _live(deadline: float, target: Task | Timer) -> bool:
        if isinstance(target, Timer):
            return target.deadline == deadline
        return target.state is TaskState.SLEEPING and target.wake_deadline == deadline

    def fire_timers(self, now: float) -> None:
        while self.timers and self.timers[0][0] <= now:
            deadline, _, target = heapq.heappop(self.timers)
            if not self._live(deadline, target):
                continue
            self.kernel_wakes = "timer"
            try:
                if isinstance(target, Timer):
                    target.deadline = None
                    target.fire()
                else:
                    self.wake(target)
            finally:
                self.kernel_wakes = None

    def _next_deadline(self) -> float | None:
        while self.timers:
            deadline, _, target = self.timers[0]
            if self._live(deadline, target):
                return deadline
            heapq.heappop(self.timers)
        return None

    def poll_host(self, timeout: float | None) -> None:
        """Wait (at most `timeout` seconds; None = forever) for a host fd a task sleeps on."""
        readers: dict[int, list[Task]] = {}
        writers: dict[int, list[Task]] = {}
        for task in self.host_waiters:
            for fd, mode in task.host_fds:
                (readers if mode == "r" else writers).setdefault(fd, []).append(task)
        if not readers and not writers:
            if timeout is not None and timeout > 0:
                time.sleep(timeout)
            return
        try:
            ready_r, ready_w, _ = select.select(list(readers), list(writers), [], timeout)
        except (OSError, ValueError):
            ready_r, ready_w = list(readers), list(writers)  # a closed fd: let the call report it
        self.kernel_wakes = "host fd"
        for fd in ready_r:
            for task in readers[fd]:
                self.wake(task)
        for fd in ready_w:
            for task in writers[fd]:
                self.wake(task)
        self.kernel_wakes = None

    def idle(self) -> None:
        """Nothing is runnable: wait for the next timer or host fd (or a signal sent to
        pykern itself, which ends the wait: see pykern.hostsig)."""
        from pykern.hostsig import HostSignalArrived

        deadline = self._next_deadline()
        virtual = self.virtual
        if virtual is not None and deadline is not None and not self.host_waiters and not self.kernel.host_signals.pending:
            virtual.advance_to(deadline)  # every task sleeps: skip the wait
            self.fire_timers(self.now())
            return
        if self.debugger is not None:  # gdb may interrupt a guest that sleeps for ever
            self.debugger.idle(self, deadline)
            return
        if deadline is None and not self.host_waiters and not self._awaiting_signals():
            if self.kernel.host_signals.suspend_stopped_guest():
                return  # pykern itself was stopped (the guest's job, on a terminal) and continued
            raise Deadlock()
        timeout = None if deadline is None else max(0.0, deadline - self.now())
        self.idle_waiting = True
        try:
            if self.kernel.host_signals.pending:
                pass
            elif deadline is None and not self.host_waiters:
                signal.pause()  # pause() and friends: only a signal sent to pykern can come
            else:
                self.poll_host(timeout)
        except HostSignalArrived:
            pass
        finally:
            self.idle_waiting = False
        if virtual is not None and deadline is not None and not self.runqueue and not self.kernel.host_signals.pending:
            virtual.advance_to(deadline)  # (a host fd or signal, waited for in real time, did not come first)
        self.fire_timers(self.now())

    def _awaiting_signals(self) -> bool:
        """Does a task sleep until a signal comes (pause, sigsuspend, sigwait: its Block
        says `until_signal`)? Then a signal sent to pykern (Ctrl-C, kill) can still wake
        it: waiting is not a deadlock, as on Linux."""
        return any(task.state is TaskState.SLEEPING and task.pending is not None
                   and task.pending.block is not None and task.pending.block.until_signal
                   for task in self.kernel.live_tasks)

    def pick_next(self) -> Task | None:
        chaos = self.chaos
        if chaos is not None:
            runqueue = self.runqueue
            while runqueue:
                index = chaos.randrange(len(runqueue)) if len(runqueue) > 1 else 0
                task = runqueue[index]
                del runqueue[index]
                if task.state is TaskState.RUNNABLE:
                    return task
            return None
        while self.runqueue:
            task = self.runqueue.popleft()
            if task.state is TaskState.RUNNABLE:
                return task
        return None

    def others_may_run(self) -> bool:
        """Does the running task need a quantum? Only if another task could want the CPU,
        or a CPU-time timer of its process (ITIMER_VIRTUAL/PROF) must be checked."""
        if self.runqueue or self.timers or self.host_waiters:
            return True
        current = self.current
        return current is not None and any(t.expires_ns is not None for t in current.group.cpu_timers.values())

    def slice_budget(self, budget: int) -> int:
        """What the next run in the JIT may execute: the rest of the quantum when another
        task may want the CPU; else unbounded (0), or, when the OOM killer must look at
        memory now and then, LONE_QUANTUM_INSNS."""
        if self.others_may_run():
            return budget
        return LONE_QUANTUM_INSNS if self.kernel.oom is not None else 0

    def check_cpu_timers(self, task: Task) -> None:
        """After a slice: fire the CPU-time interval timers of `task`'s process that are due."""
        now_ns = self.kernel.clock.process_cpu_ns(task.group)
        self.kernel_wakes = "timer"  # (a signal it sends wakes a sleeper: the timer did, not the task)
        for timer in list(task.group.cpu_timers.values()):
            timer.check(now_ns)
        self.kernel_wakes = None

    # --- the loop ---------------------------------------------------------------------------

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """schedule(): pick -> retry pending call -> run in the JIT -> account, until every
        task has exited (or `until()` is true)."""
        kernel = self.kernel
        while kernel.nr_threads:
            if until is not None and until():
                return
            if self.debugger is not None and self.debugger.check_stop(None):
                continue  # gdb had the guest stopped (Ctrl-C, the traced process ended): look again
            if kernel.dead_mms:
                kernel.free_dead_mms()
            if self.timers:
                self.fire_timers(self.now())
            if self.host_waiters:
                self.poll_host(0)
            if kernel.host_signals.pending:
                kernel.host_signals.deliver()
            task = self.pick_next()
            if task is None:
                if kernel.nr_threads:  # (a timer above may have killed the last ones)
                    self.idle()
                continue
            self.current = task
            task.load_context()
            self._run_slice(task)
            self.current = None

    def _run_slice(self, task: Task) -> None:
        """Run `task` in the JIT for one quantum (or unbounded if it is alone)."""
        kernel = self.kernel
        budget = self.quantum()
        kernel.vdso.vvar.set_cpu(task.cpu_affinity)  # the vDSO's getcpu answers for this task
        while True:
            # Back to user mode: finish a woken call, then deliver signals. (A call that
            # blocks with a signal pending is interrupted instead (pykern.trap): it is
            # made again only once its signals were taken and none ran a handler.)
            if kernel.host_signals.pending:  # Ctrl-C and friends (pykern.hostsig)
                self.kernel_wakes = "host signal"
                kernel.host_signals.deliver()
                self.kernel_wakes = None
            if task.signals_first:  # continued from a stop: it was in the middle of delivery
                task.signals_first = False
                kernel.signals.do_signal(task)
                if task.state is not TaskState.RUNNABLE:
                    return
            pending = task.pending
            if pending is not None and (pending.interrupted is None or not kernel.signals.deliverable(task)) \
                    and not kernel.trap.retry(task) and task.state is not TaskState.RUNNABLE:
                return  # asleep again, stopped, or exited
            if self.debugger is not None:  # gdb: a caught syscall's return
                self.debugger.check_stop(task)
                if task.state is not TaskState.RUNNABLE:
                    return
            if kernel.signals.deliverable(task):
                kernel.signals.do_signal(task)
                if task.state is not TaskState.RUNNABLE:
                    return
                if task.pending is not None:
                    continue  # restarted with no handler run: make the call again
            self.need_resched = False
            trap = kernel.trap
            if self.timeline is not None:
                ran_from = kernel.clock.monotonic_ns()
            if self.virtual is None:
                started = task.running_since = time.perf_counter_ns()
                expired = trap.run_user(task, self.slice_budget(budget))
                task.cpu_ns += time.perf_counter_ns() - started
            else:  # CPU time is virtual too: the instructions the slice ran
                task.running_since = 1
                expired = trap.run_user(task, self.slice_budget(budget))
                task.cpu_ns += trap.executed * INSN_NS
            task.running_since = 0
            if self.timeline is not None:
                self.timeline.ran(task, ran_from, kernel.clock.monotonic_ns())
            if task.group.cpu_timers:
                self.check_cpu_timers(task)
            if kernel.oom is not None:
                kernel.oom.check()
            if self.debugger is not None:  # gdb: a breakpoint, a step, a caught syscall, Ctrl-C
                self.debugger.check_stop(task)
            if task.state is not TaskState.RUNNABLE:
                return
            budget -= trap.executed  # stopped early (a wakeup, a fork): keep the rest of the slice
            if expired or budget <= 0 or self.yielded:
                self.yielded = False
                task.nivcsw += 1
                self.runqueue.append(task)  # quantum used up: to the back of the queue
                return
            if self.timers:
                self.fire_timers(self.now())
            if self.host_waiters:
                self.poll_host(0)
