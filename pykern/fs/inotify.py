"""inotify (Linux's fs/notify/inotify/ over fsnotify): watches on inodes, and the events
they collect, queued on the inotify file that reads them.

A watch is kept under its inode's key (Inode.key()), so a file watched by one path sees
the changes made through any other. The kernel's calls report what they did with one
call each (the hooks in syscalls/path.py, syscalls/file.py and File.fput):

- `fsnotify_name(directory, mask, name)`: an entry of a directory was made, removed or
  moved (IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO with a cookie);
- `fsnotify_inode(inode, mask)`: the inode itself (IN_ATTRIB, IN_DELETE_SELF, IN_MOVE_SELF);
- `fsnotify_file(file, mask)`: an open file was read, written, opened or closed: its own
  watches and, with the file's name, its directory's (fsnotify_parent).

Every hook first tests `WATCHES`, so without a watch an event costs one dict test.
IN_DELETE_SELF (then IN_IGNORED, and the watch is gone) follows the removal of the last
link, or, while open descriptions still name the file, their last close (the dentry's
last reference; a working directory does not delay it here). Changes made by others
than the guest (the host, behind pykern's back) are not seen.
Events are merged with the last queued one when equal, and the queue stops at
max_queued_events with one IN_Q_OVERFLOW, as on Linux.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    EAGAIN,
    EEXIST,
    EINVAL,
    FIONREAD,
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MASK_ADD,
    IN_MASK_CREATE,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    IN_OPEN,
    IN_Q_OVERFLOW,
    INOTIFY_EVENT,
    INOTIFY_MAX_QUEUED_EVENTS,
    O_PATH,
    O_RDONLY,
    POLLIN,
    POLLRDNORM,
)
from pykern.anon_inode import anon_inode_stat
from pykern.errors import Block, SysError
from pykern.fs import file as vfs_file
from pykern.fs.file import File
from pykern.fs.stat import Stat
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.inode import Inode
    from pykern.fs.mount import Location
    from pykern.kernel import Kernel
    from pykern.task import Task

# inode key -> the watches on that inode, of every inotify instance
WATCHES: dict[Hashable, list[Watch]] = {}

# inode key -> how many open descriptions still name a watched inode whose last link is
# gone: its IN_DELETE_SELF waits for their last close
_DYING: dict[Hashable, int] = {}

# the cookie that ties an IN_MOVED_FROM to its IN_MOVED_TO (Linux's fsnotify_sync_cookie)
_cookies = itertools.count(1)

# the mask bits a watch keeps (the rest are flags of inotify_add_watch)
_WATCH_EVENTS = IN_ALL_EVENTS | IN_ONESHOT


class Watch:
    """One watch of an inotify instance. (A plain class, not a dataclass: dataclasses
    imports inspect, ast and dis, about 5 ms of every start-up.)"""

    __slots__ = ("group", "wd", "key", "mask")

    def __init__(self, group: InotifyFile, wd: int, key: Hashable, mask: int) -> None:
        self.group = group
        self.wd = wd
        self.key = key
        self.mask = mask


class InotifyFile(File):
    """An inotify instance (struct fsnotify_group): its watches by descriptor and the
    queue of events not read yet, as (wd, mask, cookie, name)."""

    kind = "inotify"

    def __init__(self, flags: int) -> None:
        super().__init__(O_RDONLY | flags)
        self.watches: dict[int, Watch] = {}
        self.by_key: dict[Hashable, Watch] = {}
        self.last_wd = 0
        self.events: deque[tuple[int, int, int, bytes]] = deque()
        self.changed = WaitQueue("inotify")

    # --- watches -----------------------------------------------------------------------------

    def add_watch(self, key: Hashable, mask: int) -> int:
        """inotify_update_watch / inotify_new_watch: the same inode keeps its descriptor;
        a new one gets the next number (idr_alloc_cyclic from 1)."""
        watch = self.by_key.get(key)
        if watch is not None:
            if mask & IN_MASK_CREATE:
                raise SysError(EEXIST)
            events = mask & _WATCH_EVENTS
            watch.mask = watch.mask | events if mask & IN_MASK_ADD else events
            return watch.wd
        self.last_wd += 1
        watch = Watch(self, self.last_wd, key, mask & _WATCH_EVENTS)
        self.watches[watch.wd] = watch
        self.by_key[key] = watch
        WATCHES.setdefault(key, []).append(watch)
        return watch.wd

    def rm_watch(self, wd: int) -> None:
        watch = self.watches.get(wd)
        if watch is None:
            raise SysError(EINVAL)
        self.drop(watch)

    def drop(self, watch: Watch) -> None:
        """The watch ends: IN_IGNORED is its last event."""
        self._forget(watch)
        self.queue(watch.wd, IN_IGNORED, 0, b"")

    def _forget(self, watch: Watch) -> None:
        self.watches.pop(watch.wd, None)
        self.by_key.pop(watch.key, None)
        others = WATCHES.get(watch.key)
        if others is not None:
            others.remove(watch)
            if not others:
                del WATCHES[watch.key]
                _DYING.pop(watch.key, None)  # nobody waits for its IN_DELETE_SELF now

    def release(self) -> None:
        for watch in list(self.watches.values()):
            self._forget(watch)
        self.events.clear()

    # --- events --------------------------------------------------------------------------------

    def queue(self, wd: int, mask: int, cookie: int, name: bytes) -> None:
        """fsnotify_add_event: merged with an equal last event; past the limit, one
        IN_Q_OVERFLOW (wd -1) ends the queue until it is read."""
        event = (wd, mask, cookie, name)
        if self.events:
            last = self.events[-1]
            if last == event and not mask & IN_IGNORED:
                return
            if len(self.events) >= INOTIFY_MAX_QUEUED_EVENTS:
                if last[1] != IN_Q_OVERFLOW:
                    self.events.append((-1, IN_Q_OVERFLOW, 0, b""))
                return
        self.events.append(event)
        self.changed.wake_all()

    def read(self, task: Task, size: int) -> bytes:
        """As many whole events as fit; EINVAL when not even the first does."""
        if not self.events:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.changed)
        out = bytearray()
        while self.events:
            record = _event_record(*self.events[0])
            if len(out) + len(record) > size:
                if not out:
                    raise SysError(EINVAL)
                break
            out += record
            self.events.popleft()
        return bytes(out)

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if request == FIONREAD:
            task.mm.copy_out_u32(arg_addr, sum(len(_event_record(*event)) for event in self.events))
            return 0
        return super().ioctl(task, request, arg_addr)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        return (POLLIN | POLLRDNORM if self.events else 0), (self.changed,), ()

    def stat(self) -> Stat:
        return anon_inode_stat()

    def link_target(self) -> bytes:
        return b"anon_inode:inotify"


def _event_record(wd: int, mask: int, cookie: int, name: bytes) -> bytes:
    """struct inotify_event, its name NUL-padded to a multiple of the header's 16 bytes."""
    if not name:
        return INOTIFY_EVENT.pack(wd, mask, cookie, 0)
    length = (len(name) + 1 + INOTIFY_EVENT.size - 1) // INOTIFY_EVENT.size * INOTIFY_EVENT.size
    return INOTIFY_EVENT.pack(wd, mask, cookie, length) + name + bytes(length - len(name))


# --- reporting (the fsnotify hooks) ----------------------------------------------------------------


def _send(key: Hashable, mask: int, cookie: int = 0, name: bytes = b"") -> None:
    """Queue the event on every watch of inode `key` that asked for it."""
    for watch in list(WATCHES.get(key, ())):
        if not watch.mask & mask & IN_ALL_EVENTS:
            continue
        group = watch.group
        group.queue(watch.wd, mask, cookie, name)
        if watch.mask & IN_ONESHOT:
            group.drop(watch)


def fsnotify_name(directory: Location, mask: int, name: bytes, is_dir: bool = False, cookie: int = 0) -> None:
    """An entry `name` of `directory` was made, removed or moved."""
    if WATCHES:
        _send(directory.inode.key(), mask | (IN_ISDIR if is_dir else 0), cookie, name)


def fsnotify_inode(inode: Inode, mask: int, is_dir: bool = False) -> None:
    """An event on the inode itself. IN_DELETE_SELF also ends its watches (IN_IGNORED)."""
    if not WATCHES:
        return
    key = inode.key()
    _send(key, mask | (IN_ISDIR if is_dir else 0))
    if mask & IN_DELETE_SELF:
        for watch in list(WATCHES.get(key, ())):
            watch.group.drop(watch)


def fsnotify_change(inode: Inode, mask: int) -> None:
    """notify_change: attributes (IN_ATTRIB) or the size (IN_MODIFY) changed by a path or
    a descriptor: its directory's watches get it with the name, then its own."""
    if not WATCHES:
        return
    if inode.is_dir:
        mask |= IN_ISDIR
    else:
        entry = _parent_entry(inode)
        if entry is not None:
            _send(entry[0], mask, 0, entry[1])
    _send(inode.key(), mask)


def fsnotify_move(kernel: Kernel, old_dir: Location, old_name: bytes, new_dir: Location, new_name: bytes,
                  moved: Inode, replaced: Inode | None) -> None:
    """fsnotify_move: IN_MOVED_FROM and IN_MOVED_TO with one cookie, IN_ATTRIB on a
    replaced file, IN_MOVE_SELF on the moved one; then the replaced file is gone."""
    if not WATCHES:
        return
    is_dir = moved.is_dir
    cookie = next(_cookies) & 0xFFFFFFFF
    fsnotify_name(old_dir, IN_MOVED_FROM, old_name, is_dir, cookie)
    fsnotify_name(new_dir, IN_MOVED_TO, new_name, is_dir, cookie)
    if replaced is not None:
        fsnotify_inode(replaced, IN_ATTRIB)
    fsnotify_inode(moved, IN_MOVE_SELF)
    if replaced is not None:
        fsnotify_removed(kernel, replaced, replaced.key(), replaced.is_dir)


def fsnotify_removed(kernel: Kernel, inode: Inode, key: Hashable, is_dir: bool) -> None:
    """After an unlink, rmdir or a rename over a file: the last link gone is
    IN_DELETE_SELF (dentry_unlink_inode), once no open description names the file."""
    if key not in WATCHES:
        return
    try:
        gone = is_dir or inode.stat().nlink == 0
    except SysError:
        gone = True
    if not gone:
        return
    users = _open_descriptions(kernel, key)
    if users:
        _DYING[key] = users
    else:
        _delete_self(key)


def _delete_self(key: Hashable) -> None:
    _send(key, IN_DELETE_SELF)
    for watch in list(WATCHES.get(key, ())):
        watch.group.drop(watch)


def _open_descriptions(kernel: Kernel, key: Hashable) -> int:
    """How many open file descriptions (O_PATH ones too) name inode `key`."""
    seen: set[int] = set()
    for group in kernel.groups.values():
        files = getattr(group, "files", None)
        if files is None:
            continue
        for file in files.files.values():
            location = file.location
            if location is not None and id(file) not in seen and location.inode.key() == key:
                seen.add(id(file))
    return len(seen)


def fsnotify_file(file: File, mask: int) -> None:
    """An open file was accessed, modified, opened or closed: its directory's watches get
    the event with the file's name (fsnotify_parent), then the file's own watches."""
    if not WATCHES:
        return
    location = file.location
    if location is None or file.flags & O_PATH:
        return
    fsnotify_change(location.inode, mask)  # (the same delivery: parent with the name, then the file)


def fsnotify_close(file: File) -> None:
    """__fput: the last reference to an open file is gone."""
    if not WATCHES:
        return
    fsnotify_file(file, IN_CLOSE_WRITE if file.writable else IN_CLOSE_NOWRITE)
    if _DYING and file.location is not None:
        key = file.location.inode.key()
        users = _DYING.get(key)
        if users is not None:
            if users > 1:
                _DYING[key] = users - 1
            else:
                del _DYING[key]
                _delete_self(key)


vfs_file.on_last_close = fsnotify_close


def fsnotify_access(file: File) -> None:
    if WATCHES:
        fsnotify_file(file, IN_ACCESS)


def fsnotify_modify(file: File) -> None:
    if WATCHES:
        fsnotify_file(file, IN_MODIFY)


def fsnotify_open(file: File) -> None:
    if WATCHES:
        fsnotify_file(file, IN_OPEN)


def _parent_entry(inode: Inode) -> tuple[Hashable, bytes] | None:
    """The directory key and name a file was reached by (its dentry's parent and name),
    when its file system remembers them: the host's (HostInode) and tmpfs."""
    parent = getattr(inode, "parent_inode", None)
    if parent is not None:
        return parent.key(), inode.name  # type: ignore[attr-defined]
    directory = getattr(inode, "parent_dir", None)
    if directory is not None:
        name = next((n for n, child in directory.children.items() if child is inode), None)
        if name is not None:
            return directory.key(), name
    return None
