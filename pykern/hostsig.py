"""Signals sent to pykern itself, passed on to the guest as a terminal or a shell would.

Ctrl-C (SIGINT), Ctrl-\\ (SIGQUIT) and a hang-up (SIGHUP) go to the job in the
foreground: the guest's foreground process group on the console (pykern.tty), or the
first process's group when pykern has no terminal; so do a resize (SIGWINCH) and Ctrl-Z
(SIGTSTP), and when that stops the first process pykern stops itself
(suspend_stopped_guest). SIGTERM (CI's `timeout`, a shell's `kill %job`) goes to the
first process's group, as such tools signal a whole group; every other catchable
signal (SIGUSR1, SIGALRM, the real-time ones...) goes to the first process, as `kill
PID` reaches the program. pykern dies of none of them; the guest decides, and the exit
status is the first process's, as natively.

Two catches. While the guest runs in the JIT no Python runs, and Python runs a signal
handler only between bytecodes: so Python's C-level handler also writes the signal
number to a wakeup pipe, and a watcher thread reading it stops the emulation
(uc_emu_stop, as Unicorn's own timeout thread does), again every 50 ms until the
scheduler has taken the signal. The stop is exact, the guest resumes where it left off,
only with pykern's libunicorn build (tools/build_unicorn.py; testbins/pykern_only/spin
"count" checks it). And when every task sleeps, the scheduler waits in
select(), which Python restarts after a handler returns: the handler raises
`HostSignalArrived` to end that wait (only then).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from typing import TYPE_CHECKING

from pykern.abi import (
    SI_KERNEL,
    SI_USER,
    SIGCONT,
    SIGHUP,
    SIGINT,
    SIGQUIT,
    SIGTERM,
    SIGTSTP,
    SIGTTIN,
    SIGTTOU,
    SIGWINCH,
)
from pykern.sigtypes import SigInfo

if TYPE_CHECKING:
    from pykern.kernel import Kernel

# Signals pykern keeps for itself: it cannot catch SIGKILL/SIGSTOP; SIGSEGV, SIGBUS,
# SIGFPE, SIGILL and SIGTRAP would be faults of pykern's own; SIGCHLD, SIGPIPE and SIGXFSZ
# are what the host says about pykern's own children, pipes and files (the guest gets its
# own from pykern); SIGCONT continues a stopped pykern (suspend_stopped_guest); SIGTTIN and
# SIGTTOU stop pykern when it touches the terminal from the background, as they would stop
# the program; glibc reserves 32 and 33 for its threads.
_KEPT = {signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL,
         signal.SIGTRAP, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCONT, signal.SIGTTIN,
         signal.SIGTTOU, 32, 33}
# host signal -> the guest signal and who gets it:
# - "foreground": the job in front, as the terminal sends it (Ctrl-C, Ctrl-\, Ctrl-Z, a
#   hang-up, a resize);
# - "group": the first process's group. A termination signal usually comes from a tool
#   that signals a whole process group (timeout(1), a shell's `kill %job`), pykern's
#   among them, and natively every process of that group would get it;
# - "first": the first process, as `kill PID` would reach the program.
FORWARDED = {
    host_signal: (int(host_signal), "first") for host_signal in range(1, signal.NSIG) if host_signal not in _KEPT
}
FORWARDED.update({
    signal.SIGINT: (SIGINT, "foreground"),
    signal.SIGQUIT: (SIGQUIT, "foreground"),
    signal.SIGHUP: (SIGHUP, "foreground"),
    signal.SIGTERM: (SIGTERM, "group"),
    signal.SIGTSTP: (SIGTSTP, "foreground"),  # Ctrl-Z: see suspend_stopped_guest
    signal.SIGWINCH: (SIGWINCH, "foreground"),  # the terminal was resized
})
RESTOP_SECONDS = 0.05
# the guest's stop signal -> the one pykern stops itself with (the shell reports which)
_HOST_STOP_SIGNALS = {SIGTSTP: signal.SIGTSTP, SIGTTIN: signal.SIGTTIN, SIGTTOU: signal.SIGTTOU}


class HostSignals:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.pending: deque[int] = deque()  # host signal numbers not yet passed on
        self._taken = threading.Event()
        self.installed = False

    def install(self) -> None:
        """Catch the forwarded signals (main thread only, before the guest runs)."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for host_signal in FORWARDED:
            signal.signal(host_signal, self._handler)
        self.installed = True
        self._read_fd = read_fd
        self._start_watcher()

    def _start_watcher(self) -> None:
        threading.Thread(target=self._watch, args=(self._read_fd,), name="pykern-host-signals", daemon=True).start()

    def after_fork(self) -> None:
        """In a forked copy of pykern (Kernel.detach): threads do not survive fork."""
        if self.installed:
            self._start_watcher()

    def _handler(self, signum: int, frame: object) -> None:
        """Python's handler, in the main thread between bytecodes: note the signal; end
        the scheduler's idle wait if that is where it came."""
        self.pending.append(signum)
        if self.kernel.sched.idle_waiting:
            raise HostSignalArrived()

    def _watch(self, read_fd: int) -> None:
        """The watcher thread: a wakeup byte means a signal Python has yet to handle,
        perhaps not before the guest leaves the JIT; make it leave."""
        while os.read(read_fd, 64):
            self._taken.clear()
            self.kernel.trap.interrupt()
            while not self._taken.wait(RESTOP_SECONDS):
                self.kernel.trap.interrupt()

    def deliver(self) -> None:
        """From the scheduler loop: send what arrived."""
        kernel = self.kernel
        while self.pending:
            guest_signal, target = FORWARDED[self.pending.popleft()]
            first = kernel.first
            live = [g for g in kernel.groups.values() if g.tgid != 1 and not g.is_zombie and g.live_tasks]
            console = kernel.ttys.console
            front = console.pgrp if console is not None else None  # the guest's job in front
            if front is None and first is not None:
                front = first.pgid
            if target == "group" and first is not None:
                front = first.pgid
            if target == "first" and first is not None and first in live:
                groups = [first]
            elif front is not None and any(g.pgid == front for g in live):
                groups = [g for g in live if g.pgid == front]
            else:
                groups = live
            code = SI_KERNEL if target == "foreground" else SI_USER
            for group in groups:
                kernel.signals.send(group, SigInfo(guest_signal, code))
        self._taken.set()


    def suspend_stopped_guest(self) -> bool:
        """The first process is stopped (Ctrl-Z, SIGTSTP, SIGSTOP) and nothing in the
        guest can continue it: pykern stops itself, with the same signal, as the program
        would have stopped natively (a shell that started it takes the terminal back);
        SIGCONT to pykern (`fg`) continues the guest's stopped job. False when this does
        not apply (then it is a deadlock)."""
        kernel = self.kernel
        first = kernel.first
        if not self.installed or first is None or not first.job.stopped:
            return False
        host_signal = _HOST_STOP_SIGNALS.get(first.job.signal, signal.SIGSTOP)
        previous = signal.signal(host_signal, signal.SIG_DFL) if host_signal != signal.SIGSTOP else None
        try:
            os.kill(os.getpid(), host_signal)  # stops here until SIGCONT
        finally:
            if previous is not None:
                signal.signal(host_signal, previous)
        for group in list(kernel.groups.values()):
            if group.pgid == first.pgid and group.job.stopped and not group.is_zombie:
                kernel.signals.send(group, SigInfo(SIGCONT, SI_KERNEL))
        return True


class HostSignalArrived(Exception):
    """Ends the scheduler's idle wait: a host signal is pending (pykern.hostsig)."""
