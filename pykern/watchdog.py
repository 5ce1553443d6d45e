"""--timeout: a guest that runs too long is ended as timeout(1) ends its command.

When the time is up every guest process gets SIGTERM (and SIGCONT, so that a stopped one
can act on it); whatever still lives after the grace period gets SIGKILL. pykern then
prints one line and exits with 124, timeout(1)'s status, whatever the guest's own status
was. The deadline is a kernel timer on pykern's clock, so it ends a guest that sleeps as
surely as one that spins: the scheduler checks its timers between slices. Under
--deterministic that clock is virtual: the timeout counts the guest's seconds, and a run
that times out does so at the same point every time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import SI_KERNEL, SIGCONT, SIGKILL, SIGTERM
from pykern.sched import Timer
from pykern.sigtypes import SigInfo

if TYPE_CHECKING:
    from pykern.kernel import Kernel

TIMED_OUT_STATUS = 124  # timeout(1)'s exit status when the command timed out
GRACE_SECONDS = 2.0  # from SIGTERM to SIGKILL


class Watchdog:
    def __init__(self, kernel: Kernel, seconds: float, grace: float = GRACE_SECONDS) -> None:
        self.kernel = kernel
        self.seconds = seconds
        self.grace = grace
        self.fired = False
        self._timer = Timer(self._expire)
        kernel.sched.arm(self._timer, kernel.sched.now() + seconds)

    def _expire(self) -> None:
        """The time is up: SIGTERM everyone (then SIGCONT), and arm the SIGKILL."""
        self.fired = True
        self._signal_all(SIGTERM)
        self._signal_all(SIGCONT)
        self._timer = Timer(lambda: self._signal_all(SIGKILL))
        self.kernel.sched.arm(self._timer, self.kernel.sched.now() + self.grace)

    def _signal_all(self, sig: int) -> None:
        kernel = self.kernel
        for group in list(kernel.groups.values()):
            if group is not kernel.init and not group.is_zombie and group.live_tasks:
                kernel.signals.send(group, SigInfo(sig, SI_KERNEL))

    def cancel(self) -> None:
        self.kernel.sched.arm(self._timer, None)

    def message(self) -> str:
        return f"pykern: timed out after {self.seconds:g} s: sent SIGTERM to the guest"


__all__ = ["TIMED_OUT_STATUS", "Watchdog"]
