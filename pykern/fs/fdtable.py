"""A process's descriptor table (Linux's files_struct): slots holding references to
open files, close-on-exec bits, RLIMIT_NOFILE; and the first process's console fds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern import locks
from pykern.abi import (
    EBADF,
    EMFILE,
)
from pykern.errors import SysError
from pykern.fs.file import File, HostStream
from pykern.fs.hostio import NOFILE_DEFAULT

if TYPE_CHECKING:
    pass


class FdTable:
    """A process's descriptor table (files_struct). Shared by reference under
    CLONE_FILES; `fork()` copies it. Each slot holds one reference on its File."""

    def __init__(self, max_fds: int = NOFILE_DEFAULT) -> None:
        self.files: dict[int, File] = {}
        self.cloexec: set[int] = set()
        self.max_fds = max_fds  # RLIMIT_NOFILE's soft limit; setrlimit updates it

    def get(self, fd: int) -> File:
        file = self.files.get(fd)
        if file is None:
            raise SysError(EBADF)
        return file

    def lowest_free(self, lowest: int = 0) -> int:
        """The fd install() would use (EMFILE if none): open(2) reserves it first."""
        fd = lowest
        while fd in self.files:
            fd += 1
        if fd >= self.max_fds:
            raise SysError(EMFILE)
        return fd

    def install(self, file: File, cloexec: bool = False, lowest: int = 0) -> int:
        """Put `file` in the lowest free slot >= `lowest`; takes a new reference."""
        fd = self.lowest_free(lowest)
        self._set(fd, file, cloexec)
        return fd

    def install_at(self, fd: int, file: File, cloexec: bool = False) -> int:
        """dup2/dup3: put `file` at `fd`, closing what was there (after taking the new
        reference, so installing a file over itself is safe)."""
        if not 0 <= fd < self.max_fds:
            raise SysError(EBADF)
        old = self.files.get(fd)
        self._set(fd, file, cloexec)
        if old is not None:
            locks.remove_posix(old, self)
            old.fput()
        return fd

    def _set(self, fd: int, file: File, cloexec: bool) -> None:
        self.files[fd] = file.get_file()
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def close(self, fd: int) -> None:
        file = self.files.pop(fd, None)
        if file is None:
            raise SysError(EBADF)
        self.cloexec.discard(fd)
        locks.remove_posix(file, self)  # closing any fd of a file drops our POSIX locks on it
        file.fput()

    def get_cloexec(self, fd: int) -> bool:
        self.get(fd)
        return fd in self.cloexec

    def set_cloexec(self, fd: int, cloexec: bool) -> None:
        self.get(fd)
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)

    def fork(self) -> FdTable:
        child = FdTable(self.max_fds)
        for fd, file in self.files.items():
            child.files[fd] = file.get_file()
        child.cloexec = set(self.cloexec)
        return child

    def close_on_exec(self) -> None:
        for fd in sorted(self.cloexec):
            if fd in self.files:
                self.close(fd)
        self.cloexec.clear()

    def close_all(self) -> None:
        for fd in sorted(self.files):
            self.close(fd)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"<FdTable {sorted(self.files)}>"


def console_fdtable(host_fds: tuple[int, int, int] = (0, 1, 2)) -> FdTable:
    """Fds 0, 1, 2 for the first process: our own 0, 1, 2 (or the API's memfds),
    dup'ed so that the guest closing its fd 1 leaves pykern's stdout (and error
    reporting) alone. A host fd that is closed stays closed for the guest."""
    table = FdTable()
    for fd, host_fd in enumerate(host_fds):
        try:
            stream = HostStream.inherit(host_fd)
        except SysError:
            continue
        table.install_at(fd, stream)
    return table
