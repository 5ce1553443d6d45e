"""How a syscall handler ends other than by returning a value.

- `SysError(errno)`: the call fails; the trap stores -errno in rax. The only place an
  errno becomes a value.
- `Fault(addr)`: a guest pointer could not be read or written; the trap turns it into
  EFAULT.
- `Block(...)`: the call cannot make progress yet. Raised before anything visible has
  changed; the task sleeps and the handler is re-run from the top after a wakeup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.waitqueue import WaitQueue


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
    handler re-runs from the top."""

    def __init__(
        self,
        *queues: WaitQueue,
        deadline: float | None = None,
        host_fds: tuple[tuple[int, str], ...] = (),
    ) -> None:
        super().__init__()
        self.queues = queues
        self.deadline = deadline
        self.host_fds = host_fds


class ExecImage(Exception):
    """Raised by execve after the new image is installed: the trap must not write rax."""
