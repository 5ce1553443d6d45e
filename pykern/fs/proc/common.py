"""What several parts of procfs need: whose file it is, whether that process is still
there, its state letter, and the guest path of a place (d_path).

A /proc/PID inode holds its ThreadGroup (and, under task/TID, its Task). The process
can be reaped while the inode lives on (an open directory fd, a file opened before):
reads and writes then fail with ESRCH, as Linux's get_proc_task() makes them, while a
new lookup of the pid fails with ENOENT.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pykern.abi import ESRCH
from pykern.errors import SysError
from pykern.fs.mount import Location
from pykern.task import TaskState

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.task import Task, ThreadGroup

INIT_COMM = b"init"  # pykern's in-kernel pid 1 has no image; Linux's is usually /sbin/init


def is_init(group: ThreadGroup) -> bool:
    return group.parent is None and not group.tasks


def group_alive(kernel: Kernel, group: ThreadGroup) -> bool:
    """Still in the pid table: live or a zombie not yet reaped."""
    return not group.reaped and kernel.groups.get(group.tgid) is group


def check_alive(kernel: Kernel, group: ThreadGroup, task: Task | None = None) -> None:
    """ESRCH once the process (or the thread `task`) is gone."""
    if not group_alive(kernel, group):
        raise SysError(ESRCH)
    if task is not None and (task.state is TaskState.DEAD or task.group is not group):
        raise SysError(ESRCH)


def main_task(group: ThreadGroup) -> Task | None:
    """The task /proc/PID describes: the thread group leader (Linux keeps the leader's
    task_struct until the whole process is reaped); a live thread if pykern dropped it."""
    if not group.tasks:
        return None
    leader = group.tasks[0]
    if leader.state is TaskState.DEAD and not group.is_zombie:
        return next((t for t in group.tasks if t.state is not TaskState.DEAD), leader)
    return leader


def live_mm(group: ThreadGroup) -> MM | None:
    """The process's address space while it has one (not a zombie, not init)."""
    if group.is_zombie:
        return None
    for task in group.tasks:
        if task.state is not TaskState.DEAD and task.mm is not None and task.mm.uc is not None:
            return task.mm
    return None


def comm_of(group: ThreadGroup, task: Task | None) -> bytes:
    if task is None:
        return INIT_COMM if is_init(group) else b""
    return task.comm


def state_of(group: ThreadGroup, task: Task | None) -> str:
    """The state as status shows it ("S (sleeping)"); stat shows its first letter."""
    if task is None:
        return "S (sleeping)"  # init only waits for orphans
    if group.is_zombie or (task.state is TaskState.DEAD and task is group.tasks[0]):
        return "Z (zombie)"
    if task.state is TaskState.DEAD:
        return "X (dead)"
    if task.state is TaskState.STOPPED:
        return "T (stopped)"
    if task.state is TaskState.SLEEPING:
        return "S (sleeping)"
    return "R (running)"


# --- guest paths of places -------------------------------------------------------------------


def reader_root(task: Task | None) -> Location | None:
    """The root of the process reading /proc: links and paths are shown as it sees them."""
    root = getattr(task.group.fs, "root", None) if task is not None else None
    return root if isinstance(root, Location) else None


def d_path(location: Location, root: Location | None = None) -> bytes:
    """The guest path of a place as a process whose root is `root` sees it (Linux's
    d_path): namei's when the path walk provides it, else this module's own."""
    try:
        from pykern.fs import namei
    except ImportError:
        namei = None
    if namei is not None and hasattr(namei, "d_path") and root is not None:
        return namei.d_path(location, root)
    path = _d_path(location)
    top = _d_path(root) if root is not None else b"/"
    if top != b"/" and (path == top or path.startswith(top + b"/")):
        return path[len(top) :] or b"/"
    return path


def _d_path(location: Location) -> bytes:
    parts: list[bytes] = []
    mount, inode = location.mount, location.inode
    while True:
        inner = _below(inode.name_in_fs(), mount.root.name_in_fs())
        if inner:
            parts.append(inner)
        if mount.parent is None or mount.mountpoint is None:
            break
        parts.append(mount.name)
        inode, mount = mount.mountpoint, mount.parent
    return b"/" + b"/".join(reversed(parts))


def _below(path: bytes, root: bytes) -> bytes:
    """`path` relative to `root` (both absolute in one file system), without slashes."""
    root = root.rstrip(b"/")
    if root and (path == root or path.startswith(root + b"/")):
        path = path[len(root) :]
    return path.strip(b"/")


def guest_path(place: object, root: Location | None = None) -> bytes | None:
    """The guest path of a Location (seen from `root`), or of a host path string (before
    the path walk kept places as Locations, cwd and the image were host paths: the same
    thing while the guest's / is the host's)."""
    if isinstance(place, Location):
        return d_path(place, root)
    if isinstance(place, bytes):
        return place
    if isinstance(place, str) and place:
        return os.fsencode(place)
    return None
