"""The path walk (Linux's fs/namei.c): every guest path argument resolves here.

`path_walk(task, dirfd, path)` starts at the process's root (an absolute path), its
working directory (AT_FDCWD) or a directory fd, and resolves one component at a time:

- "." stays, ".." goes up but never above the process's root, and from the root of a
  mount to the directory it is mounted on;
- a name on which a file system is mounted leads into that mount's root;
- a symbolic link is followed (an absolute target from the process's root) unless it
  is the last component and the caller asked not to; more than MAXSYMLINKS links in one
  walk is ELOOP; a magic link (procfs) leads to the object itself, not to a path;
- a trailing slash demands a directory;
- PATH_MAX and NAME_MAX give ENAMETOOLONG.

The result, `Found`, names the parent directory and the last component too, so that
the namespace calls (mkdir, unlink, rename, ...) act on the entry and open(O_CREAT)
can create a missing one. `d_path` goes the other way: a Location back to its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykern.abi import (
    AT_FDCWD,
    EEXIST,
    ELOOP,
    ENAMETOOLONG,
    ENOENT,
    ENOTDIR,
    NAME_MAX,
    PATH_MAX,
)
from pykern.errors import SysError
from pykern.fs.mount import Location, MountTable

if TYPE_CHECKING:
    from pykern.fs.inode import Inode
    from pykern.task import Task
    from pykern.vfs import File

MAXSYMLINKS = 40  # links followed in one walk (Linux's MAXSYMLINKS)


@dataclass
class Found:
    """What a path names.

    `location` is the file (None when it does not exist and the caller allowed that);
    `parent` and `name` are its directory and entry name, None and b"" when the path
    ends in "/", "." or ".." (there is no entry to create or remove); `file` is set
    when a magic link led to an open file (/proc/self/fd/N): `location` is then that
    file's place if it has one."""

    location: Location | None
    parent: Location | None
    name: bytes
    file: File | None = None
    trailing_slash: bool = False

    @property
    def inode(self) -> Inode:
        assert self.location is not None
        return self.location.inode

    def existing(self) -> Location:
        if self.location is None:
            raise SysError(ENOENT)
        return self.location

    def entry(self) -> tuple[Location, bytes]:
        """The parent directory and name, for a call that makes or removes an entry."""
        if self.parent is None:
            raise SysError(EEXIST)
        return self.parent, self.name


def start_location(task: Task, dirfd: int, path: bytes) -> Location:
    """Where a walk of `path` begins (the dirfd's errors come first: EBADF, ENOTDIR)."""
    fs = task.group.fs
    if path.startswith(b"/"):
        return fs.root
    if dirfd == AT_FDCWD:
        return fs.cwd
    file = task.group.files.get(dirfd)
    location = file.location
    if location is None or not location.inode.is_dir:
        raise SysError(ENOTDIR)
    return location


def path_walk(task: Task, dirfd: int, path: bytes, follow: bool = True, allow_missing: bool = False) -> Found:
    """Resolve `path` (see the module's docstring). `follow`: follow a symlink in the
    last component; `allow_missing`: a missing last component is not an error (the
    caller will create it) as long as its directory exists."""
    if not path:
        raise SysError(ENOENT)
    if len(path) >= PATH_MAX:
        raise SysError(ENAMETOOLONG)
    current = start_location(task, dirfd, path)
    return _walk(Walk(task, task.group.fs.root, task.kernel.mounts), current, path, follow, allow_missing)


@dataclass
class Walk:
    """One walk's context: who walks (procfs answers /proc/self by it; None for the
    kernel's own walks, e.g. placing mounts), the root it cannot leave, the mounts, and
    how many symlinks it has followed."""

    task: Task | None
    root: Location
    mounts: MountTable
    links: int = 0


def walk_from(walk: Walk, start: Location, path: bytes, follow: bool = True, allow_missing: bool = False) -> Found:
    """A walk with an explicit context (the kernel's own, before any task exists)."""
    return _walk(walk, start, path, follow, allow_missing)


def _walk(walk: Walk, current: Location, path: bytes, follow: bool, allow_missing: bool) -> Found:
    task = walk.task
    mounts = walk.mounts
    components = [part for part in path.split(b"/") if part]
    trailing_slash = path.endswith(b"/")
    if not components:
        return Found(current, None, b"", trailing_slash=True)
    parent: Location | None = None
    for index, name in enumerate(components):
        last = index == len(components) - 1
        if len(name) > NAME_MAX:
            raise SysError(ENAMETOOLONG)
        if name == b".":
            _require_dir(current)
            parent = None
            continue
        if name == b"..":
            _require_dir(current)
            current, parent = _parent(current, walk.root), None
            continue
        parent = current
        mount = mounts.mounted_on(current, name)
        if mount is not None:
            current = Location(mount, mount.root)
            continue
        try:
            inode = current.inode.lookup(task, name) if last else current.inode.lookup_dir(task, name)
        except SysError as error:
            if error.errno == ENOENT and last and allow_missing:
                return Found(None, parent, name, trailing_slash=trailing_slash)
            raise
        if inode.is_symlink and (not last or follow or trailing_slash):
            walk.links += 1
            if walk.links > MAXSYMLINKS:
                raise SysError(ELOOP)
            target = inode.get_link(task)
            if target is None:  # an ordinary link: walk its text from here (or the root)
                text = inode.readlink(task)
                if not text:
                    raise SysError(ENOENT)
                rest = b"/".join(components[index + 1 :])
                if trailing_slash:
                    rest += b"/"
                found = _walk(walk, walk.root if text.startswith(b"/") else current, text, True,
                              allow_missing and not rest)  # fmt: skip
                if not rest:
                    found.trailing_slash = found.trailing_slash or trailing_slash
                    return _finish(found)
                return _walk(walk, found.existing(), rest, follow, allow_missing)
            if isinstance(target, Location):
                current = target
                continue
            # a magic link to an open file (/proc/self/fd/N)
            if last:
                return _finish(Found(target.location, parent, name, file=target, trailing_slash=trailing_slash))
            if target.location is None:
                raise SysError(ENOTDIR)
            current = target.location
            continue
        current = Location(current.mount, inode)
    return _finish(Found(current, parent, components[-1], trailing_slash=trailing_slash))


def _finish(found: Found) -> Found:
    if found.trailing_slash and found.location is not None and found.file is None:
        _require_dir(found.location)
    return found


def _require_dir(location: Location) -> None:
    if not location.inode.is_dir:
        raise SysError(ENOTDIR)


def _parent(current: Location, root: Location) -> Location:
    """`..` from `current` (follow_dotdot): not above `root`; from a mount's root to
    the parent of its mount point."""
    while True:
        if current.same(root):
            return current
        mount = current.mount
        if current.inode.key() != mount.root.key():
            return Location(mount, current.inode.parent())
        if mount.parent is None or mount.mountpoint is None:
            return current  # the namespace's top
        # the mount root's ".." is the directory holding the mount point
        return Location(mount.parent, mount.mountpoint)


def lookup(task: Task, dirfd: int, path: bytes, follow: bool = True) -> Found:
    """An existing file: path_walk that fails with ENOENT for a missing one."""
    found = path_walk(task, dirfd, path, follow)
    if found.location is None and found.file is None:
        raise SysError(ENOENT)
    return found


# --- back from a place to its path (Linux's d_path) ------------------------------------------------


def path_from_top(location: Location) -> bytes:
    """The path of `location` from the top of the mount namespace."""
    mount = location.mount
    inside = location.inode.name_in_fs()
    mount_root = mount.root.name_in_fs()
    if mount_root != b"/":
        inside = inside[len(mount_root) :] if inside.startswith(mount_root) else inside
        inside = inside or b"/"
    if mount.parent is None or mount.mountpoint is None:
        return inside
    above = path_from_top(Location(mount.parent, mount.mountpoint))
    base = (above if above.endswith(b"/") else above + b"/") + mount.name
    return base if inside == b"/" else base + inside


def d_path(location: Location, root: Location) -> bytes:
    """`location`'s path as a process with root `root` sees it (getcwd, /proc links)."""
    path = path_from_top(location)
    top = path_from_top(root)
    if top == b"/":
        return path
    if path == top:
        return b"/"
    if path.startswith(top + b"/"):
        return path[len(top) :]
    return path  # outside the process's root: Linux's "(unreachable)"


def file_path(file: File, root: Location) -> bytes:
    """What /proc/PID/fd/N and /proc/PID/maps show for an open file: its path when it
    was opened by one, else its kind (pipe:[N], anon_inode:[eventfd], ...)."""
    if file.location is not None:
        return d_path(file.location, root)
    return file.link_target()
