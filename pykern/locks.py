"""Record locks: fcntl's F_GETLK/F_SETLK/F_SETLKW and the open-file-description (OFD)
variants (Linux's fs/locks.c: posix_lock_inode, posix_test_lock, posix_locks_deadlock).

pykern runs every guest process in one host process, so the host's fcntl locks cannot
tell guest processes apart: the locks are kernel state here, kept per file identity
(`File.lock_key()`: (st_dev, st_ino) for a host file, the pipe or the file itself for
pykern's own files).

- A POSIX lock belongs to the process's descriptor table (Linux's fl_owner =
  current->files) and records the locker's pid; closing *any* fd of the file through that
  table releases all of them (`remove_posix`, called by FdTable when an fd goes away, so
  on close, dup2 over it, close-on-exec and exit).
- An OFD lock belongs to the open file description; it goes when the description is
  released (`remove_file`, called by File.fput) and F_GETLK reports its pid as -1.
- Locks of one owner never conflict with each other: a new lock replaces, splits or
  merges the owner's existing ranges (upgrades, downgrades, unlocking a middle part).
- F_SETLKW sleeps on the file's wait queue ("raise Block, be retried"); what a blocked
  POSIX owner waits for is recorded so that a request that would close a cycle fails with
  EDEADLK (posix_locks_deadlock; OFD locks are not checked, as on Linux). The record goes
  when the call ends, is interrupted or the task exits (its Block's `cancel`).

Ranges are inclusive [start, end] as in Linux; end == OFFSET_MAX means "to EOF and beyond".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import (
    EAGAIN,
    EBADF,
    EDEADLK,
    EINVAL,
    EOVERFLOW,
    F_GETLK,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_RDLCK,
    F_SETLKW,
    F_UNLCK,
    F_WRLCK,
    FLOCK,
    O_PATH,
    OFFSET_MAX,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
)
from pykern.errors import Block, SysError
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.file import File
    from pykern.task import Task

MAX_DEADLK_ITERATIONS = 10  # how far posix_locks_deadlock follows the chain of waiters


class FileLock:
    """One lock: immutable once made (a change makes new locks), so a waiter's record of
    the lock it waits for is stale exactly when that lock is no longer in the list."""

    __slots__ = ("owner", "pid", "type", "start", "end", "ofd")

    def __init__(self, owner: object, pid: int, type_: int, start: int, end: int, ofd: bool) -> None:
        self.owner = owner  # the FdTable (POSIX) or the File (OFD)
        self.pid = pid
        self.type = type_
        self.start = start
        self.end = end
        self.ofd = ofd

    def overlaps(self, start: int, end: int) -> bool:
        return self.start <= end and start <= self.end

    def conflicts(self, other: FileLock) -> bool:
        """posix_locks_conflict: another owner, overlapping, and one of them writes."""
        return (self.owner is not other.owner and self.overlaps(other.start, other.end)
                and F_WRLCK in (self.type, other.type))

    def __repr__(self) -> str:
        return f"<FileLock {self.type} [{self.start}, {self.end}] pid={self.pid} ofd={self.ofd}>"


class LockContext:
    """The locks on one file (Linux's file_lock_context) and who waits for them."""

    __slots__ = ("locks", "waiters")

    def __init__(self, key: object) -> None:
        self.locks: list[FileLock] = []
        self.waiters = WaitQueue(f"posix_lock({key!r})")


# file identity -> its locks; POSIX owner -> (context, the lock it is blocked on)
_contexts: dict[object, LockContext] = {}
_blocked: dict[object, tuple[LockContext, FileLock]] = {}


def _key(file: File) -> object:
    pipe = getattr(file, "pipe", None)  # both ends of a pipe are one inode
    return pipe if pipe is not None else file.lock_key()


# --- fcntl(2) -------------------------------------------------------------------------------


def fcntl_lock(task: Task, file: File, cmd: int, arg_addr: int) -> int:
    """fcntl's lock commands: copy the struct flock in, test or set, copy it out (GETLK)."""
    if file.flags & O_PATH:
        raise SysError(EBADF)
    l_type, l_whence, l_start, l_len, l_pid = FLOCK.unpack(task.mm.copy_in(arg_addr, FLOCK.size))
    ofd = cmd in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
    if cmd in (F_GETLK, F_OFD_GETLK):
        if l_type not in (F_RDLCK, F_WRLCK):
            raise SysError(EINVAL)
        start, end = _range(file, l_whence, l_start, l_len)
        _check_type(l_type)
        if ofd and l_pid:
            raise SysError(EINVAL)
        owner = file if ofd else task.group.files
        conflict = test_lock(file, FileLock(owner, task.group.tgid, l_type, start, end, ofd))
        if conflict is None:
            l_type = F_UNLCK
        else:
            l_type, l_whence, l_start = conflict.type, SEEK_SET, conflict.start
            l_len = 0 if conflict.end == OFFSET_MAX else conflict.end - conflict.start + 1
            l_pid = -1 if conflict.ofd else conflict.pid
        task.mm.copy_out(arg_addr, FLOCK.pack(l_type, l_whence, l_start, l_len, l_pid))
        return 0
    start, end = _range(file, l_whence, l_start, l_len)
    _check_type(l_type)
    if l_type == F_RDLCK and not file.readable or l_type == F_WRLCK and not file.writable:
        raise SysError(EBADF)  # check_fmode_for_setlk
    if ofd and l_pid:
        raise SysError(EINVAL)
    owner = file if ofd else task.group.files
    request = FileLock(owner, task.group.tgid, l_type, start, end, ofd)
    set_lock(task, file, request, wait=cmd in (F_SETLKW, F_OFD_SETLKW))
    return 0


def _check_type(l_type: int) -> None:
    if l_type not in (F_RDLCK, F_WRLCK, F_UNLCK):
        raise SysError(EINVAL)  # assign_type


def _range(file: File, whence: int, start: int, length: int) -> tuple[int, int]:
    """flock_to_posix_lock: the inclusive byte range a struct flock names."""
    if whence == SEEK_SET:
        base = 0
    elif whence == SEEK_CUR:
        try:
            base = file.lseek(0, SEEK_CUR)
        except SysError:
            base = 0  # a pipe's f_pos
    elif whence == SEEK_END:
        base = file.stat().size
    else:
        raise SysError(EINVAL)
    if start > OFFSET_MAX - base:
        raise SysError(EOVERFLOW)
    start += base
    if start < 0:
        raise SysError(EINVAL)
    if length > 0:
        if length - 1 > OFFSET_MAX - start:
            raise SysError(EOVERFLOW)
        return start, start + length - 1
    if length < 0:
        end = start - 1
        start += length
        if start < 0:
            raise SysError(EINVAL)
        return start, end
    return start, OFFSET_MAX


# --- the lock table -----------------------------------------------------------------------


def test_lock(file: File, request: FileLock) -> FileLock | None:
    """posix_test_lock: the first lock that would conflict with `request`, if any."""
    ctx = _contexts.get(_key(file))
    if ctx is None:
        return None
    return next((lock for lock in ctx.locks if lock.conflicts(request)), None)


def set_lock(task: Task, file: File, request: FileLock, wait: bool) -> None:
    """posix_lock_inode: EAGAIN on a conflict (F_SETLK), sleep (F_SETLKW) unless that
    would deadlock (EDEADLK); then the owner's ranges are rewritten."""
    key = _key(file)
    ctx = _contexts.get(key)
    _unblock(request.owner)
    if request.type != F_UNLCK and ctx is not None:
        conflict = next((lock for lock in ctx.locks if lock.conflicts(request)), None)
        if conflict is not None:
            if not wait:
                raise SysError(EAGAIN)
            if not request.ofd and _deadlocks(request.owner, conflict):
                raise SysError(EDEADLK)
            cancel = None
            if not request.ofd:
                _blocked[request.owner] = (ctx, conflict)
                cancel = _cancel_wait(request.owner)
            raise Block(ctx.waiters, cancel=cancel)
    if ctx is None:
        if request.type == F_UNLCK:
            return
        ctx = _contexts[key] = LockContext(key)
    ctx.locks = _apply(ctx.locks, request)
    ctx.waiters.wake_all()  # wakeups are hints: a waiter re-checks
    if not ctx.locks:
        del _contexts[key]


def _apply(locks: list[FileLock], request: FileLock) -> list[FileLock]:
    """The list after `request` replaces its owner's locks over its range: same-type
    locks that overlap or touch merge into it; others keep their parts outside it."""
    start, end = request.start, request.end
    kept: list[FileLock] = []
    for lock in locks:
        if lock.owner is not request.owner:
            kept.append(lock)
        elif lock.type == request.type and lock.start <= end + 1 and start <= lock.end + 1:
            start, end = min(start, lock.start), max(end, lock.end)  # merged into the new one
        elif not lock.overlaps(start, end):
            kept.append(lock)
        else:
            if lock.start < start:
                kept.append(FileLock(lock.owner, lock.pid, lock.type, lock.start, start - 1, lock.ofd))
            if lock.end > end:
                kept.append(FileLock(lock.owner, lock.pid, lock.type, end + 1, lock.end, lock.ofd))
    if request.type != F_UNLCK:
        kept.append(FileLock(request.owner, request.pid, request.type, start, end, request.ofd))
    kept.sort(key=lambda lock: lock.start)
    return kept


def _deadlocks(owner: object, conflict: FileLock) -> bool:
    """posix_locks_deadlock: follow "the holder waits for a lock held by ..." from the
    conflicting lock; reaching the requesting owner closes a cycle."""
    lock = conflict
    for _ in range(MAX_DEADLK_ITERATIONS + 1):
        waiting = _blocked.get(lock.owner)
        if waiting is None or waiting[1] not in waiting[0].locks:
            return False  # the holder is not blocked (or its blocker is gone: it will retry)
        lock = waiting[1]
        if lock.owner is owner:
            return True
    return False


def _unblock(owner: object) -> None:
    _blocked.pop(owner, None)


def _cancel_wait(owner: object):  # noqa: ANN202 - a Block's cancel
    def cancel(task: Task) -> None:
        _unblock(owner)

    return cancel


# --- release on close and on the last reference ---------------------------------------------


def remove_posix(file: File, owner: object) -> None:
    """locks_remove_posix: `owner` closed an fd of `file`: its POSIX locks on the file go."""
    if not _contexts:
        return
    _remove(file, lambda lock: lock.owner is owner and not lock.ofd)


def remove_file(file: File) -> None:
    """locks_remove_file: the description is released: its OFD locks go."""
    if not _contexts:
        return
    _remove(file, lambda lock: lock.owner is file)


def _remove(file: File, doomed) -> None:  # noqa: ANN001 - a predicate on FileLock
    try:
        key = _key(file)
    except SysError:
        return
    ctx = _contexts.get(key)
    if ctx is None:
        return
    kept = [lock for lock in ctx.locks if not doomed(lock)]
    if len(kept) != len(ctx.locks):
        ctx.locks = kept
        ctx.waiters.wake_all()
        if not kept:
            del _contexts[key]
