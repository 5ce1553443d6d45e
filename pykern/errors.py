"""How a syscall handler ends other than by returning a value.

- `SysError(errno)`: the call fails; the trap stores -errno in rax. The only place an
  errno becomes a value.
- `Fault(addr)`: a guest pointer could not be read or written; the trap turns it into
  EFAULT.
- `Block(...)`: the call cannot make progress yet. Raised before anything visible has
  changed; the task sleeps and the handler is re-run from the top after a wakeup. The
  Block also says what a signal makes of the sleep (`restart`, `on_signal`), what to undo
  if the sleep is abandoned (`cancel`), and whether only SIGKILL may end it (`killable`).
  If a signal is already pending when a call blocks, the call does not sleep: it is
  interrupted at once, by the same rules (pykern.trap).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern import abi

if TYPE_CHECKING:
    from pykern.task import Task
    from pykern.waitqueue import WaitQueue


class Restart(enum.IntEnum):
    """How a signal ends a sleeping call: Linux's kernel-internal codes
    (include/linux/errno.h), which signal delivery turns into EINTR or a restart and
    which never reach the guest; and EINTR itself, for a call that is never restarted."""

    ERESTARTSYS = abi.ERESTARTSYS  # EINTR after a handler without SA_RESTART, else restarted
    ERESTARTNOINTR = abi.ERESTARTNOINTR  # always restarted (futex LOCK_PI)
    ERESTARTNOHAND = abi.ERESTARTNOHAND  # EINTR after any handler, restarted if none ran (poll, pause)
    ERESTART_RESTARTBLOCK = abi.ERESTART_RESTARTBLOCK  # as NOHAND, resumed with the saved state
    EINTR = abi.EINTR  # EINTR, handler or not, stop and continue too (epoll_wait, semop)


class SysError(Exception):
    """A syscall failure carrying a guest errno (from pykern.abi)."""

    def __init__(self, errno: int, detail: str = "") -> None:
        super().__init__(errno, detail)
        self.errno = errno
        self.detail = detail


class Fault(Exception):
    """A guest address that could not be accessed: EFAULT for syscalls."""

    def __init__(self, addr: int, write: bool = False) -> None:
        super().__init__(addr)
        self.addr = addr
        self.write = write


class Block(Exception):
    """Sleep until one of `queues` is woken, `deadline` (monotonic seconds) passes, or a
    host fd in `host_fds` ((fd, "r"|"w") pairs) becomes ready. Wakeups are hints: the
    handler re-runs from the top.

    A signal ends the sleep with `restart` (the call's policy, declared where it blocks),
    unless `on_signal` gives the call's own answer: its result (the bytes already
    written) or a restart code, after any work of its own (nanosleep writes the time
    left). `cancel` undoes the sleep's bookkeeping (leave a futex queue) when the call
    ends without completing: a signal, or the task's death. A `killable` sleep is ended
    by SIGKILL only (vfork's). `until_signal`: nothing but a signal can end it (pause,
    sigsuspend, sigtimedwait), so sleeping in it is no deadlock."""

    def __init__(
        self,
        *queues: WaitQueue,
        deadline: float | None = None,
        host_fds: tuple[tuple[int, str], ...] = (),
        restart: Restart = Restart.ERESTARTSYS,
        on_signal: Callable[[Task], int] | None = None,
        cancel: Callable[[Task], None] | None = None,
        killable: bool = False,
        until_signal: bool = False,
    ) -> None:
        super().__init__()
        self.queues = queues
        self.deadline = deadline
        self.host_fds = host_fds
        self.restart = restart
        self.on_signal = on_signal
        self.cancel = cancel
        self.killable = killable
        self.until_signal = until_signal


def ends_with(count: int) -> Callable[[Task], int] | None:
    """The `on_signal` of a call that may have made progress before it slept: a signal
    ends it with the count done so far, if any (Linux's `return ret ?: -ERESTARTSYS`)."""
    return (lambda task: count) if count else None


class ExecImage(Exception):
    """Raised by execve after the new image is installed: the trap must not write rax."""
