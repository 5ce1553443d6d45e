"""A process's fs_struct: its root, working directory and umask."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykern.fs.mount import Location


class FsContext:
    """A process's fs_struct: its root (chroot), working directory and umask. The root
    and cwd are Locations in the guest's tree (pykern.fs.mount), walked from by namei."""

    def __init__(self, root: Location, cwd: Location, umask: int | None = None) -> None:
        self.root = root
        self.cwd = cwd
        if umask is None:
            umask = os.umask(0o022)
            os.umask(umask)
        self.umask = umask

    def fork(self) -> FsContext:
        return FsContext(self.root, self.cwd, self.umask)

    def __repr__(self) -> str:
        return f"<FsContext cwd={self.cwd!r} umask={self.umask:#o}>"
