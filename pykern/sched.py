"""The scheduler: run queue, sleeping and waking, timers, idle, and the main loop.

A task is RUNNABLE (on `runqueue` or running), SLEEPING (on wait queues, a timer or a
host fd), STOPPED (job control: until SIGCONT), or DEAD. Preemption is timer driven: when more than one task could run, a
task gets a quantum of `QUANTUM_INSNS` guest instructions (counted by the JIT, see
Trap.run_user) and `QUANTUM_SYSCALLS` system calls, spread over as many `emu_start`s as
its system calls need; a lone task
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
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.clock import INSN_NS
from pykern.errors import Block
from pykern.smp import STEAL_GRACE_NS
from pykern.task import Task, TaskState

if TYPE_CHECKING:
    import random

    from pykern.clock import VirtualClock
    from pykern.gdbstub import GdbStub
    from pykern.kernel import Kernel
    from pykern.smp import Cpu
    from pykern.strace.events import Tracer
    from pykern.ucbind import Uc

# A quantum, in guest instructions: about 5 ms of a CPU-bound loop at pykern's JIT speed.
# Counted, not timed, so that where a task is preempted never depends on the host's load
# (Trap.run_user).
QUANTUM_INSNS = 5_000_000
# A quantum also ends after this many system calls made in the JIT: a task that loops on
# calls that never block runs few instructions per second (each call is Python), and
# 5 million of them took tens of seconds (LTP's rename14: the other runnable task and
# the timers, which fire between slices, waited that long). Counted too, so reproducible.
QUANTUM_SYSCALLS = 1000
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
        self.smp = kernel.smp  # the CPUs (pykern.smp): each has its current task and flags
        self.cpu_failure: BaseException | None = None  # a pykern bug on another CPU, raised by CPU 0
        self.idle_waiting = False  # in idle()'s wait for timers and host fds
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

    # --- this CPU's (pykern.smp) --------------------------------------------------------

    @property
    def current(self) -> Task | None:
        """The task this CPU runs."""
        return self.smp.this_cpu().current

    @property
    def need_resched(self) -> bool:
        """This CPU leaves the JIT after the current call, for the scheduler to look."""
        return self.smp.this_cpu().need_resched

    @need_resched.setter
    def need_resched(self, value: bool) -> None:
        self.smp.this_cpu().need_resched = value

    @property
    def yielded(self) -> bool:
        """sched_yield: this CPU's task goes to the back of the run queue after its call."""
        return self.smp.this_cpu().yielded

    @yielded.setter
    def yielded(self, value: bool) -> None:
        self.smp.this_cpu().yielded = value

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
        if task.on_cpu is not None:
            # Woken by another CPU while its own has not yet left the slice in which it
            # went to sleep (it waits for the kernel lock): that CPU sees it runnable and
            # runs it on. On the run queue too, another CPU could run it at the same time.
            return
        task.queued_at = time.perf_counter_ns()
        self.runqueue.append(task)
        self.need_resched = True
        if self.smp.online:
            self.smp.work_arrived(urgent=False)

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
            if self.smp.cpu0_idle:
                self.smp.poke_cpu0()

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

    def poll_host(self, timeout: float | None, idle: bool = False) -> None:
        """Wait (at most `timeout` seconds; None = forever) for a host fd a task sleeps on.
        `idle`: CPU 0 waits with nothing to run; with several CPUs it lets go of the
        kernel lock meanwhile, and another CPU that makes work for it pokes it (pykern.smp)."""
        readers: dict[int, list[Task]] = {}
        writers: dict[int, list[Task]] = {}
        for task in self.host_waiters:
            for fd, mode in task.host_fds:
                (readers if mode == "r" else writers).setdefault(fd, []).append(task)
        smp = self.smp
        poke = idle and smp.online
        if not readers and not writers and not poke:
            if timeout is not None and timeout > 0:
                time.sleep(timeout)
            return
        watched = [*readers, smp.poke_r] if poke else list(readers)
        if poke:
            smp.cpu0_idle = True
            smp.lock.release()
        try:
            ready_r, ready_w, _ = select.select(watched, list(writers), [], timeout)
        except (OSError, ValueError):
            ready_r, ready_w = list(readers), list(writers)  # a closed fd: let the call report it
        finally:
            if poke:
                self._end_idle_wait()
                smp.lock.acquire()
                smp.cpu0_idle = False
                smp.drain_pokes()
        self.kernel_wakes = "host fd"
        for fd in ready_r:
            for task in readers.get(fd, ()):
                self.wake(task)
        for fd in ready_w:
            for task in writers[fd]:
                self.wake(task)
        self.kernel_wakes = None

    def _end_idle_wait(self) -> None:
        """From here on a signal sent to pykern no longer raises HostSignalArrived (whose
        handler raises only while `idle_waiting`): nothing may interrupt taking the lock."""
        from pykern.hostsig import HostSignalArrived

        while True:
            try:
                self.idle_waiting = False
                return
            except HostSignalArrived:
                pass

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
        others_run = self.smp.online and any(cpu.current is not None for cpu in self.smp.cpus)
        if deadline is None and not self.host_waiters and not self._awaiting_signals() and not others_run:
            if self.kernel.host_signals.suspend_stopped_guest():
                return  # pykern itself was stopped (the guest's job, on a terminal) and continued
            raise Deadlock()
        timeout = None if deadline is None else max(0.0, deadline - self.now())
        self.idle_waiting = True
        try:
            if self.kernel.host_signals.pending:
                pass
            elif self.smp.online:
                self.poll_host(timeout, idle=True)  # another CPU may make work: it pokes us
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

    def pick_next(self, steal: bool = False) -> Task | None:
        """The next task to run on this CPU: the first on the run queue that may run here
        (with several CPUs, a thread whose address space cannot run on two CPUs at once
        waits while another CPU runs one of its siblings: MM.has_room). `steal`: a CPU
        other than 0 takes only a task that has waited STEAL_GRACE_NS (Smp.steal_wait)."""
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
        runqueue = self.runqueue
        if not self.smp.online:
            while runqueue:
                task = runqueue.popleft()
                if task.state is TaskState.RUNNABLE:
                    return task
            return None
        since = time.perf_counter_ns() - STEAL_GRACE_NS if steal else None
        index = 0
        while index < len(runqueue):
            task = runqueue[index]
            if task.state is not TaskState.RUNNABLE:  # (stale: it slept or died since)
                del runqueue[index]
            elif task.on_cpu is None and (since is None or task.queued_at <= since) and task.mm.has_room():
                del runqueue[index]
                return task
            else:
                index += 1
        return None

    def requeue(self, task: Task) -> None:
        """`task` used up its quantum (or must wait for a CPU): to the back of the queue,
        where an idle CPU may take it at once."""
        task.queued_at = 0
        self.runqueue.append(task)
        if self.smp.online:
            self.smp.work_arrived(urgent=True)

    def others_may_run(self) -> bool:
        """Does the running task need a quantum? Only if another task could want the CPU,
        or a CPU-time timer of its process (ITIMER_VIRTUAL/PROF) must be checked."""
        if self.runqueue or self.timers or self.host_waiters:
            return True
        current = self.current
        return current is not None and any(t.expires_ns is not None for t in current.group.cpu_timers.values())

    def bind(self, cpu: Cpu, task: Task) -> Uc | None:
        """The Unicorn instance `cpu` runs `task` in, bound to it with the task's registers
        loaded (a new instance after an exec). None if the task must wait: another CPU runs
        one of its siblings in an address space that cannot run on two CPUs at once."""
        uc = cpu.uc
        mm = task.mm
        if uc is not None and uc.mm is mm and uc.loaded_task is task and not mm.must_yield(uc):
            return uc
        cpu.unbind()
        uc = mm.instance_for(task)
        if uc is None:
            return None
        uc.cpu = cpu
        cpu.uc = uc
        task.load_context(uc)
        return uc

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
        task has exited (or `until()` is true). This is CPU 0; with several CPUs it starts
        the others when two tasks are runnable at once (`_cpus_online`), lets them go
        when they found nothing to take for a while, and stops them before it returns."""
        smp = self.smp
        self.cpu_failure = None
        try:
            self._run_cpu0(until)
        finally:
            if smp.online:
                self._cpus_offline()

    def _run_cpu0(self, until: Callable[[], bool] | None) -> None:
        kernel = self.kernel
        cpu = self.smp.cpus[0]
        smp = self.smp
        while kernel.nr_threads:
            if self.cpu_failure is not None:  # a pykern bug on another CPU
                raise self.cpu_failure
            if smp.online and smp.retired:  # the other CPUs found nothing to do for a while
                self._cpus_offline()
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
            if self.runqueue and smp.multi:  # more runnable tasks than this CPU: another takes one now
                if not smp.online:
                    self._cpus_online()
                self.runqueue[0].queued_at = 0
                smp.work_arrived(urgent=True)
            self._run_task(cpu, task)

    def _run_task(self, cpu: Cpu, task: Task) -> None:
        cpu.current = task
        cpu.slices += 1
        task.on_cpu = cpu
        try:
            if self.bind(cpu, task) is None:
                self.requeue(task)
                return
            self._run_slice(cpu, task)
        finally:
            cpu.unbind()
            cpu.current = None
            task.on_cpu = None
            cpu.unbounded = False
            if cpu.index and self.smp.cpu0_idle:
                self.smp.poke_cpu0()  # (CPU 0 idles: the slice may have ended the last task, or put it to sleep)

    # --- the other CPUs (pykern.smp) ----------------------------------------------------------

    def _cpus_online(self) -> None:
        """CPU 0, between slices: the other CPUs start, and from now on kernel code runs
        under the kernel lock (taken here, let go while guest code runs). Until then CPU 0
        runs alone and takes no lock: a program with one runnable task at a time (a
        single-threaded one, a ping-pong) pays nothing for the other CPUs."""
        smp = self.smp
        smp.lock.acquire()
        smp.retired = False
        smp.online = True
        smp.onlines += 1
        self.kernel.trap.lock = smp.lock
        smp.wakeup.clear()
        for cpu in smp.cpus[1:]:
            cpu.thread = threading.Thread(target=self._run_other_cpu, args=(cpu,), name=f"pykern cpu{cpu.index}",
                                          daemon=True)
            cpu.thread.start()

    def _cpus_offline(self) -> None:
        """CPU 0, with the kernel lock held: the other CPUs put their tasks back on the
        run queue and end (when they retired, and before run() returns: a detach forks
        pykern, and tests go on); CPU 0 runs alone again, without the lock."""
        smp = self.smp
        smp.online = False
        smp.wakeup.set()
        for cpu in smp.cpus[1:]:
            smp.stop_cpu(cpu)
        smp.lock.release()
        for cpu in smp.cpus[1:]:
            if cpu.thread is not None:
                cpu.thread.join(timeout=30)
                cpu.thread = None
        self.kernel.trap.lock = None
        smp.retired = False

    def _run_other_cpu(self, cpu: Cpu) -> None:
        """A CPU other than 0: take runnable tasks and run them; CPU 0 keeps the timers,
        host fds and signals sent to pykern, and idles for all."""
        smp = self.smp
        smp.enter(cpu)
        with smp.lock:
            try:
                while smp.online:
                    task = self.pick_next(steal=True)
                    if task is None:
                        smp.lock.release()
                        try:  # (a queue whose tasks cannot run here now: look again in a while)
                            work = smp.steal_wait(self.runqueue, 0.001 if self.runqueue else 0.0)
                        finally:
                            smp.lock.acquire()
                        if not work and smp.online:  # nothing to take for a while: CPU 0 lets us go
                            smp.retired = True
                            smp.poke_cpu0()
                            break
                        continue
                    self._run_task(cpu, task)
                    if not smp.online and task.state is TaskState.RUNNABLE and task not in self.runqueue:
                        self.runqueue.appendleft(task)  # (stopped mid-slice: CPU 0 runs it on)
            except BaseException as error:  # a pykern bug on this CPU: CPU 0 raises it, and takes us offline
                self.cpu_failure = error
                self.kernel.trap.interrupt()
                smp.poke_cpu0()

    def _run_slice(self, cpu: Cpu, task: Task) -> None:
        """Run `task` in the JIT for one quantum (or unbounded if it is alone)."""
        kernel = self.kernel
        budget = self.quantum()
        cpu.syscalls_left = QUANTUM_SYSCALLS
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
            if not self.smp.online and cpu.index:
                return  # CPU 0 stops the others (its caller puts the task back)
            pending = task.pending
            if pending is not None and (pending.interrupted is None or not kernel.signals.deliverable(task)) \
                    and not kernel.trap.retry(cpu, task) and task.state is not TaskState.RUNNABLE:
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
            cpu.need_resched = False
            trap = kernel.trap
            if self.bind(cpu, task) is None:  # (an exec gave it a new MM, or its MM went W+X)
                self.requeue(task)
                return
            if self.timeline is not None:
                ran_from = kernel.clock.monotonic_ns()
            if self.virtual is None:
                task.running_since = time.perf_counter_ns()
                expired = trap.run_user(cpu, task, self.slice_budget(budget))
                task.end_slice()  # (unless its exit ended it: pykern.exit)
            else:  # CPU time is virtual too: the instructions the slice ran
                task.running_since = 1
                expired = trap.run_user(cpu, task, self.slice_budget(budget))
                task.cpu_ns += cpu.executed * INSN_NS
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
            budget -= cpu.executed  # stopped early (a wakeup, a fork): keep the rest of the slice
            if expired or budget <= 0 or cpu.yielded or cpu.syscalls_left <= 0:
                cpu.yielded = False
                task.nivcsw += 1
                self.requeue(task)  # quantum used up: to the back of the queue
                return
            if self.timers:
                self.fire_timers(self.now())
            if self.host_waiters:
                self.poll_host(0)
