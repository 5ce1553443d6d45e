"""pipe and pipe2 (fs/pipe.c). The pipe itself is pykern.pipe."""

from __future__ import annotations

from pykern.abi import EINVAL, O_CLOEXEC, O_NONBLOCK
from pykern.errors import SysError
from pykern.pipe import make_pipe
from pykern.syscalls.table import syscall
from pykern.sysent import INT_PAIR_OUT, OPEN_FLAGS
from pykern.task import Task


@syscall("pipe2", INT_PAIR_OUT, OPEN_FLAGS, classes="desc")
def sys_pipe2(task: Task, pipefd_addr: int, flags: int) -> int:
    """pipe2(2): O_CLOEXEC, O_NONBLOCK (O_DIRECT packet mode is refused with EINVAL)."""
    if flags & ~(O_CLOEXEC | O_NONBLOCK):
        raise SysError(EINVAL)
    reader, writer = make_pipe(flags & O_NONBLOCK)
    files = task.group.files
    cloexec = bool(flags & O_CLOEXEC)
    read_fd = files.install(reader, cloexec)
    try:
        write_fd = files.install(writer, cloexec)
    except SysError:
        files.close(read_fd)
        raise
    try:
        task.mm.copy_out_i32(pipefd_addr, read_fd)
        task.mm.copy_out_i32(pipefd_addr + 4, write_fd)
    except BaseException:
        files.close(read_fd)
        files.close(write_fd)
        raise
    return 0


@syscall("pipe", INT_PAIR_OUT, classes="desc")
def sys_pipe(task: Task, pipefd_addr: int) -> int:
    """pipe(2)."""
    return sys_pipe2(task, pipefd_addr, 0)
