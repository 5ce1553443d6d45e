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

openat2's RESOLVE_* rules are the walk's too (`Walk.resolve`, Linux's LOOKUP_NO_XDEV,
LOOKUP_NO_MAGICLINKS, LOOKUP_NO_SYMLINKS, LOOKUP_BENEATH, LOOKUP_IN_ROOT): a mount crossing
(down, up by "..", or by a magic link) is EXDEV under NO_XDEV; following any symlink is
ELOOP under NO_SYMLINKS, a magic one under NO_MAGICLINKS; the two scoped walks take the
dirfd as their root, where BENEATH makes every way out (an absolute path or symlink, ".."
at the dirfd) EXDEV and IN_ROOT treats the dirfd as "/"; a magic link is EXDEV in both.

The result, `Found`, names the parent directory and the last component too, so that
open(O_CREAT) can create a missing one. The calls that make or remove a name (mkdir,
mknod, symlink, link, unlink, rmdir, rename) use `parent_walk` instead (Linux's
filename_parentat): it stops before the last component, which it only classifies
(a name, ".", "..", "/") and never follows. Search permission is checked on every
directory the walk goes through (Inode.lookup and may_lookup). `d_path` goes the
other way: a Location back to its path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    AT_FDCWD,
    EEXIST,
    EISDIR,
    ELOOP,
    ENAMETOOLONG,
    ENOENT,
    ENOTDIR,
    EXDEV,
    NAME_MAX,
    PATH_MAX,
    RESOLVE_BENEATH,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
    RESOLVE_NO_XDEV,
)
from pykern.errors import SysError
from pykern.fs.mount import Location, MountTable

if TYPE_CHECKING:
    from pykern.fs.file import File
    from pykern.fs.inode import Inode
    from pykern.task import Task

MAXSYMLINKS = 40  # links followed in one walk (Linux's MAXSYMLINKS)


class Found:
    """What a path names.

    `location` is the file (None when it does not exist and the caller allowed that);
    `parent` and `name` are its directory and entry name, None and b"" when the path
    ends in "/", "." or ".." (there is no entry to create or remove); `file` is set
    when a magic link led to an open file (/proc/self/fd/N): `location` is then that
    file's place if it has one. (This module's classes are plain classes, not
    dataclasses: dataclasses imports inspect, ast and dis, about 5 ms of every start-up.)"""

    __slots__ = ("location", "parent", "name", "file", "trailing_slash")

    def __init__(self, location: Location | None, parent: Location | None, name: bytes, file: File | None = None,
                 trailing_slash: bool = False) -> None:
        self.location = location
        self.parent = parent
        self.name = name
        self.file = file
        self.trailing_slash = trailing_slash

    def __repr__(self) -> str:
        return (f"Found(location={self.location!r}, parent={self.parent!r}, name={self.name!r}, "
                f"file={self.file!r}, trailing_slash={self.trailing_slash!r})")

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


RESOLVE_SCOPED = RESOLVE_BENEATH | RESOLVE_IN_ROOT  # Linux's LOOKUP_IS_SCOPED


def start_location(task: Task, dirfd: int, path: bytes) -> Location:
    """Where a walk of `path` begins (the dirfd's errors come first: EBADF, ENOTDIR)."""
    fs = task.group.fs
    if path.startswith(b"/"):
        return fs.root
    return _dirfd_location(task, dirfd)


def _dirfd_location(task: Task, dirfd: int) -> Location:
    fs = task.group.fs
    if dirfd == AT_FDCWD:
        return fs.cwd
    file = task.group.files.get(dirfd)
    location = file.location
    if location is None or not location.inode.is_dir:
        raise SysError(ENOTDIR)
    return location


def path_walk(task: Task, dirfd: int, path: bytes, follow: bool = True, allow_missing: bool = False,
              resolve: int = 0) -> Found:  # fmt: skip
    """Resolve `path` (see the module's docstring). `follow`: follow a symlink in the
    last component; `allow_missing`: a missing last component is not an error (the
    caller will create it: open(O_CREAT), for which "name/" is EISDIR) as long as its
    directory exists; `resolve`: openat2's RESOLVE_* bits."""
    if not path:
        raise SysError(ENOENT)
    if len(path) >= PATH_MAX:
        raise SysError(ENAMETOOLONG)
    walk, current = begin_walk(task, dirfd, path, resolve)
    WALKS[0] += 1
    return _walk(walk, current, path, follow, allow_missing)


def begin_walk(task: Task, dirfd: int, path: bytes, resolve: int = 0) -> tuple[Walk, Location]:
    """The walk's context and its first place (path_init). A scoped walk's root is the
    dirfd (or the cwd): an absolute path is EXDEV under RESOLVE_BENEATH before the dirfd
    is looked at, and starts at the dirfd under RESOLVE_IN_ROOT."""
    walk = Walk(task, task.group.fs.root, task.kernel.mounts, resolve=resolve)
    if not resolve & RESOLVE_SCOPED:
        return walk, start_location(task, dirfd, path)
    if path.startswith(b"/") and resolve & RESOLVE_BENEATH:
        raise SysError(EXDEV)
    walk.root = _dirfd_location(task, dirfd)
    return walk, walk.root


# How many walks have begun: an inode's attributes learned during a lookup are fresh only
# for the caller of the same walk (Inode.stat_after_lookup), never for a later one that
# finds the same inode again as a working directory, a root or a dirfd.
WALKS = [0]


class Walk:
    """One walk's context: who walks (procfs answers /proc/self by it; None for the
    kernel's own walks, e.g. placing mounts), the root it cannot leave, the mounts, how
    many symlinks it has followed, and openat2's RESOLVE_* rules."""

    __slots__ = ("task", "root", "mounts", "links", "resolve")

    def __init__(self, task: Task | None, root: Location, mounts: MountTable, links: int = 0,
                 resolve: int = 0) -> None:
        self.task = task
        self.root = root
        self.mounts = mounts
        self.links = links
        self.resolve = resolve


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
            current.inode.may_lookup(task)
            parent = None
            continue
        if name == b"..":
            _require_dir(current)
            current.inode.may_lookup(task)
            current, parent = _parent(current, walk), None
            continue
        if last and allow_missing and trailing_slash:
            raise SysError(EISDIR)  # open(O_CREAT) of "name/": never a regular file (open_last_lookups)
        parent = current
        mount = mounts.mounted_on(current, name)
        if mount is not None:
            if walk.resolve & RESOLVE_NO_XDEV:
                raise SysError(EXDEV)
            current = Location(mount, mount.root)
            continue
        try:
            inode = current.inode.lookup(task, name) if last else current.inode.lookup_dir(task, name)
        except SysError as error:
            if error.errno == ENOENT and last and allow_missing and current.inode.creatable_names:
                return Found(None, parent, name, trailing_slash=trailing_slash)
            raise
        if inode.is_symlink and (not last or follow or trailing_slash):
            walk.links += 1
            if walk.links > MAXSYMLINKS or walk.resolve & RESOLVE_NO_SYMLINKS:
                raise SysError(ELOOP)
            target = inode.get_link(task)
            if target is None:  # an ordinary link: walk its text from here (or the root)
                text = inode.readlink(task)
                if not text:
                    raise SysError(ENOENT)
                if text.startswith(b"/"):
                    _jump_root(walk, current)
                rest = b"/".join(components[index + 1 :])
                found = _walk(walk, walk.root if text.startswith(b"/") else current, text, True,
                              allow_missing and not rest)  # fmt: skip
                if not rest:  # the link was the last component: its trailing slash applies
                    found.trailing_slash = found.trailing_slash or trailing_slash
                    return _finish(found)
                return _walk(walk, found.existing(), rest + (b"/" if trailing_slash else b""), follow, allow_missing)
            _jump_link(walk, current, target if isinstance(target, Location) else target.location)
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
    """A trailing slash demands a directory, also of a magic link's file (/proc/self/fd/N/
    of a pipe or a regular file is ENOTDIR)."""
    if found.trailing_slash:
        if found.location is None:
            if found.file is not None:
                raise SysError(ENOTDIR)
        else:
            _require_dir(found.location)
    return found


def _require_dir(location: Location) -> None:
    if not location.inode.is_dir:
        raise SysError(ENOTDIR)


def _parent(current: Location, walk: Walk) -> Location:
    """`..` from `current` (follow_dotdot): not above the walk's root (EXDEV there under
    RESOLVE_BENEATH); from a mount's root to the parent of its mount point (EXDEV under
    RESOLVE_NO_XDEV)."""
    if current.same(walk.root):
        if walk.resolve & RESOLVE_BENEATH:
            raise SysError(EXDEV)
        return current
    mount = current.mount
    if current.inode.key() != mount.root.key():
        return Location(mount, current.inode.parent())
    if mount.parent is None or mount.mountpoint is None:
        return current  # the namespace's top
    if walk.resolve & RESOLVE_NO_XDEV:
        raise SysError(EXDEV)
    # the mount root's ".." is the directory holding the mount point
    return Location(mount.parent, mount.mountpoint)


def _jump_root(walk: Walk, current: Location) -> None:
    """An absolute symlink (nd_jump_root): EXDEV under RESOLVE_BENEATH, and under
    RESOLVE_NO_XDEV when the root is on another mount than `current`."""
    if walk.resolve & RESOLVE_BENEATH:
        raise SysError(EXDEV)
    if walk.resolve & RESOLVE_NO_XDEV and current.mount is not walk.root.mount:
        raise SysError(EXDEV)


def _jump_link(walk: Walk, current: Location, target: Location | None) -> None:
    """A magic link (nd_jump_link) from directory `current`: ELOOP under
    RESOLVE_NO_MAGICLINKS; EXDEV to another mount under RESOLVE_NO_XDEV (an open file
    without a place, a pipe, is on pipefs) and in any scoped walk."""
    if walk.resolve & RESOLVE_NO_MAGICLINKS:
        raise SysError(ELOOP)
    if walk.resolve & RESOLVE_NO_XDEV and (target is None or target.mount is not current.mount):
        raise SysError(EXDEV)
    if walk.resolve & RESOLVE_SCOPED:
        raise SysError(EXDEV)


# The kind of a path's last component (Linux's LAST_NORM, LAST_DOT, LAST_DOTDOT, LAST_ROOT)
LAST_NORM, LAST_DOT, LAST_DOTDOT, LAST_ROOT = "norm", "dot", "dotdot", "root"


class Parent:
    """What filename_parentat gives the calls that make or remove a name (mkdir, mknod,
    symlink, link's new name, unlink, rmdir, rename): the directory, the last component
    (not looked up, never followed), its kind, and whether the path ends in "/"."""

    __slots__ = ("directory", "name", "kind", "trailing_slash", "walk")

    def __init__(self, directory: Location, name: bytes, kind: str, trailing_slash: bool, walk: Walk) -> None:
        self.directory = directory
        self.name = name
        self.kind = kind
        self.trailing_slash = trailing_slash
        self.walk = walk

    def child(self) -> Found:
        """The entry itself, not followed (location None when it does not exist); a
        mount on the name is the mount's root."""
        return _walk(self.walk, self.directory, self.name, False, True)


def parent_walk(task: Task, dirfd: int, path: bytes) -> Parent:
    """filename_parentat: walk every component but the last, which must lead to a
    directory; the last is only classified."""
    if not path:
        raise SysError(ENOENT)
    if len(path) >= PATH_MAX:
        raise SysError(ENAMETOOLONG)
    current = start_location(task, dirfd, path)
    walk = Walk(task, task.group.fs.root, task.kernel.mounts)
    stripped = path.rstrip(b"/")
    if not stripped:  # "/" (or "//")
        return Parent(walk.root, b"", LAST_ROOT, True, walk)
    head, slash, name = stripped.rpartition(b"/")
    if slash:
        found = _walk(walk, current, (head or b"/") + b"/", True, False)
        if found.location is None:
            raise SysError(ENOTDIR)  # a magic link to an open file that has no directory
        current = found.location
    _require_dir(current)
    kind = LAST_DOT if name == b"." else LAST_DOTDOT if name == b".." else LAST_NORM
    if kind == LAST_NORM and len(name) > NAME_MAX:
        raise SysError(ENAMETOOLONG)
    return Parent(current, name, kind, len(stripped) != len(path), walk)


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
    """`location`'s path as a process with root `root` sees it (getcwd, /proc links);
    outside that root (a chroot without chdir), its path from the namespace's top."""
    return path_below(path_from_top(location), path_from_top(root))


def path_below(path: bytes, top: bytes) -> bytes:
    """`path` as seen from the directory `top` (both absolute): "/" for `top` itself;
    a path outside `top` stays as it is (Linux's d_path would say "(unreachable)")."""
    if top == b"/":
        return path
    if path == top:
        return b"/"
    if path.startswith(top + b"/"):
        return path[len(top) :]
    return path


def file_path(file: File, root: Location) -> bytes:
    """What /proc/PID/fd/N and /proc/PID/maps show for an open file: its path when it
    was opened by one, else its kind (pipe:[N], anon_inode:[eventfd], ...)."""
    if file.location is not None:
        return d_path(file.location, root)
    return file.link_target()


def reachable(location: Location, root: Location) -> bool:
    """Whether `location` is at or under `root` (getcwd says "(unreachable)" otherwise)."""
    path, top = path_from_top(location), path_from_top(root)
    return top == b"/" or path == top or path.startswith(top + b"/")
