"""pipe and pipe2 (fs/pipe.c). The pipe itself is pykern.pipe."""

from __future__ import annotations

from pykern.abi import EINVAL, O_CLOEXEC, O_DIRECT, O_NONBLOCK
from pykern.errors import SysError
from pykern.fs.file import File
from pykern.pipe import make_pipe
from pykern.syscalls.table import syscall
from pykern.sysent import INT_PAIR_OUT, NEW_FD_FLAGS
from pykern.task import Task


@syscall("pipe2", INT_PAIR_OUT, NEW_FD_FLAGS, classes="desc")
def sys_pipe2(task: Task, pipefd_addr: int, flags: int) -> int:
    """pipe2(2): O_CLOEXEC, O_NONBLOCK, O_DIRECT (packet mode)."""
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        raise SysError(EINVAL)
    install_pair(task, make_pipe(flags & (O_NONBLOCK | O_DIRECT)), bool(flags & O_CLOEXEC), pipefd_addr)
    return 0


def install_pair(task: Task, pair: tuple[File, File], cloexec: bool, fds_addr: int) -> None:
    """Install two new files and write their fds to int[2] at `fds_addr` (pipe2,
    socketpair): all or nothing, so a bad address leaves no fd behind."""
    files = task.group.files
    first = files.install(pair[0], cloexec)
    try:
        second = files.install(pair[1], cloexec)
    except SysError:
        files.close(first)
        raise
    try:
        task.mm.copy_out_i32(fds_addr, first)
        task.mm.copy_out_i32(fds_addr + 4, second)
    except BaseException:
        files.close(first)
        files.close(second)
        raise


@syscall("pipe", INT_PAIR_OUT, classes="desc")
def sys_pipe(task: Task, pipefd_addr: int) -> int:
    """pipe(2)."""
    return sys_pipe2(task, pipefd_addr, 0)
