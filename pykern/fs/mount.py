"""The guest's mount namespace: `Mount`, `MountTable`, `Location`.

A `Location` is Linux's struct path: a mount and an inode inside it. Every place the
walk can stand (the root, the working directory, a directory fd, a magic link's
target) is one. A mount is attached on a directory of its parent mount, named by that
directory's inode key and the entry's name; the walk crosses into it when it steps on
that name, whether or not the host tree has such an entry (so `--root DIR` gets /proc
and /dev even when DIR has no such directories).

Invariant: the root mount has no parent; every other mount's parent is in the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.abi import EROFS
from pykern.errors import SysError

if TYPE_CHECKING:
    from pykern.fs.inode import FileSystem, Inode

_mount_ids = itertools.count(21)  # mnt_id: Linux's first few are taken by early mounts


class Mount:
    """One mounted file system: where it is attached and how (read-only, bind source).
    (A plain class, not a dataclass: dataclasses imports inspect, ast and dis, about 5 ms
    of every start-up.)"""

    def __init__(self, fs: FileSystem, root: Inode, parent: Mount | None = None, mountpoint: Inode | None = None,
                 name: bytes = b"", readonly: bool = False, options: str = "", mnt_id: int | None = None) -> None:
        self.fs = fs
        self.root = root  # the inode the mount shows at its mount point (a bind mount: any dir)
        self.parent = parent
        self.mountpoint = mountpoint  # the directory of the parent mount it sits on
        self.name = name  # the entry name of the mount point in its parent directory
        self.readonly = readonly
        self.options = options  # extra options as /proc/mounts shows them
        self.mnt_id = next(_mount_ids) if mnt_id is None else mnt_id

    def __repr__(self) -> str:
        return f"<Mount {self.fs.fstype} at {self.name!r} ro={self.readonly}>"


class Location:
    """A place in the guest's tree: a mount and an inode of its file system. Never
    changed once made."""

    __slots__ = ("mount", "inode")

    def __init__(self, mount: Mount, inode: Inode) -> None:
        self.mount = mount
        self.inode = inode

    def __repr__(self) -> str:
        return f"Location(mount={self.mount!r}, inode={self.inode!r})"

    def same(self, other: Location) -> bool:
        return self.mount is other.mount and self.inode.key() == other.inode.key()


class MountTable:
    """All mounts of the guest (one namespace: pykern has no unshare(CLONE_NEWNS))."""

    def __init__(self, root_fs: FileSystem, readonly: bool = False) -> None:
        self.root = Mount(root_fs, root_fs.root(), readonly=readonly)
        self.mounts: list[Mount] = [self.root]
        # (parent mount, key of the directory, entry name) -> the mount attached there
        self._attached: dict[tuple[int, Hashable, bytes], Mount] = {}
        self._names: set[bytes] = set()  # every mount point's name: most lookups need no key

    def root_location(self) -> Location:
        return Location(self.root, self.root.root)

    def attach(self, where: Location, name: bytes, fs: FileSystem, root: Inode | None = None,
               readonly: bool = False, options: str = "") -> Mount:
        """Mount `fs` (or the subtree at `root` of it: a bind mount) on the entry `name`
        of the directory `where`. The newest mount on a name hides older ones."""
        if not name or b"/" in name or name in (b".", b".."):
            raise ValueError(f"bad mount point name {name!r}")
        mount = Mount(fs, root if root is not None else fs.root(), where.mount, where.inode, name,
                      readonly, options)
        self._attached[(id(where.mount), where.inode.key(), name)] = mount
        self._names.add(name)
        self.mounts.append(mount)
        return mount

    def mounted_on(self, where: Location, name: bytes) -> Mount | None:
        """The mount attached on entry `name` of directory `where`, if any."""
        if name not in self._names:
            return None
        return self._attached.get((id(where.mount), where.inode.key(), name))

    def mounted_names(self, where: Location) -> list[bytes]:
        """Names under `where` that are mount points (a readdir shows them)."""
        key = where.inode.key()
        return [m.name for (mid, k, _), m in self._attached.items() if mid == id(where.mount) and k == key]

    def check_writable(self, location: Location) -> None:
        """EROFS for a change to a read-only mount."""
        if location.mount.readonly:
            raise SysError(EROFS)
