"""Sockets: not provided yet, except the answers Linux gives about files that are not
sockets. pykern creates no sockets, so getsockname and getpeername on any of its files
fail with ENOTSOCK, as on Linux; a socket inherited from the host (stdin may be one) is
beyond pykern: ENOSYS, with the one warning unsupported calls get. (bash, for one, asks
getpeername whether stdin is a network connection before deciding to read ~/.bashrc.)
"""

from __future__ import annotations

import os
import stat as host_stat

from pykern.abi import ENOSYS, ENOTSOCK, SYSCALL_NUMBERS
from pykern.errors import SysError
from pykern.syscalls.table import syscall
from pykern.sysent import FD, PTR
from pykern.task import Task
from pykern.vfs import HostFile


def _not_a_socket(task: Task, fd: int, name: str) -> int:
    file = task.group.files.get(fd)
    if isinstance(file, HostFile):
        try:
            if host_stat.S_ISSOCK(os.fstat(file.host_fd).st_mode):
                task.kernel.trap.unsupported(SYSCALL_NUMBERS[name])  # the warn-once of unsupported calls
                raise SysError(ENOSYS)
        except OSError:
            pass
    raise SysError(ENOTSOCK)


@syscall("getsockname", FD, PTR, PTR, classes="network")
def sys_getsockname(task: Task, fd: int, addr: int, addrlen_addr: int) -> int:
    """getsockname(2): ENOTSOCK (pykern has no sockets yet)."""
    return _not_a_socket(task, fd, "getsockname")


@syscall("getpeername", FD, PTR, PTR, classes="network")
def sys_getpeername(task: Task, fd: int, addr: int, addrlen_addr: int) -> int:
    """getpeername(2): ENOTSOCK (pykern has no sockets yet)."""
    return _not_a_socket(task, fd, "getpeername")
