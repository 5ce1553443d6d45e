"""procfs: /proc generated from the kernel's own tables (Linux's fs/proc/root.c).

`ProcFS(kernel)` is the file system the kernel mounts at /proc; `.root()` is its root
directory: the machine-wide files, /proc/sys, `self` and `thread-self`, and one
directory per guest process (pid 1, pykern's in-kernel init, included), listed by
tgid. A thread's tid is not listed but can be looked up, as on Linux. Nothing in it
comes from the host's /proc/<pid>: every process file describes the guest's process
(see pykern/fs/proc/ for what each file shows and where machine-wide values come from).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import ENOENT, S_IFDIR, S_IFREG
from pykern.errors import SysError
from pykern.fs.libfs import DirInode, GenInode, LinkInode, SimpleFS, SimpleInode
from pykern.fs.proc import system
from pykern.fs.proc.common import group_alive
from pykern.task import TaskState

if TYPE_CHECKING:
    from pykern.fs.inode import Inode
    from pykern.kernel import Kernel
    from pykern.task import Task

Factory = Callable[[DirInode, bytes], "Inode"]

PROC_DEV = os.makedev(0, 22)  # an anonymous device number, as Linux gives proc
# Files of /proc/sys that only root may write on Linux (0644); the others are 0444.
SYSCTL_WRITABLE_MODE = {b"hostname", b"domainname", b"pid_max", b"threads-max", b"overcommit_memory",
                        b"overcommit_ratio", b"overcommit_kbytes",
                        b"max_map_count", b"pipe-max-size", b"nr_open", b"tainted", b"randomize_va_space",
                        b"mmap_min_addr", b"file-max", b"nr_hugepages", b"shmmax", b"shmall", b"shmmni", b"shm_rmid_forced", b"sem",
                        b"msgmax", b"msgmnb", b"msgmni", b"shm_next_id", b"sem_next_id", b"msg_next_id", b"msg_default", b"msg_max", b"msgsize_default",
                        b"msgsize_max", b"queues_max"}


class ProcFS(SimpleFS):
    """The proc file system of one kernel."""

    fstype = "proc"
    source = "proc"
    mount_options = "nosuid,nodev,noexec,relatime"  # what the kernel passes to MountTable.attach

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(PROC_DEV)
        self.kernel = kernel
        self.boot_id = system.random_uuid(kernel)
        self._root = ProcRoot(self)

    def root(self) -> ProcRoot:
        return self._root


class ProcRoot(DirInode):
    """/proc itself: fixed entries first, then the pids in increasing order."""

    fs: ProcFS

    def __init__(self, fs: ProcFS) -> None:
        super().__init__(fs, None, b"", mode=S_IFDIR | 0o555)
        self.fixed = self._fixed_entries()

    def _fixed_entries(self) -> dict[bytes, Factory]:
        kernel = self.fs.kernel
        entries: dict[bytes, Factory] = {
            b"self": self._link(lambda task: str(task.group.tgid).encode()),
            b"thread-self": self._link(lambda task: f"{task.group.tgid}/task/{task.tid}".encode()),
            b"mounts": self._link(lambda task: b"self/mounts"),
            b"sys": self._sys_dir,
            b"sysvipc": self._sysvipc_dir,
        }
        shows = {
            b"cpuinfo": system.show_cpuinfo, b"meminfo": system.show_meminfo, b"stat": system.show_stat,
            b"uptime": system.show_uptime, b"loadavg": system.show_loadavg, b"version": system.show_version,
            b"filesystems": system.show_filesystems, b"swaps": system.show_swaps,
        }  # fmt: skip
        for name, show in shows.items():
            entries[name] = self._file(lambda task, show=show: show(kernel))
        if os.path.exists(system.HOST_CONFIG_GZ):  # the running kernel's config: the host's, as uname is
            entries[b"config.gz"] = self._file(lambda task: system.show_config_gz())
        return dict(sorted(entries.items()))

    def _link(self, target: Callable[[Task], bytes]) -> Factory:
        return lambda parent, name: LinkInode(self.fs, parent, name, target)

    def _file(self, content: Callable[[Task], bytes], mode: int = 0o444) -> Factory:
        return lambda parent, name: GenInode(self.fs, parent, name, content, S_IFREG | mode)

    def _sys_dir(self, parent: DirInode, name: bytes) -> Inode:
        """/proc/sys: the few sysctls pykern answers (kernel/, vm/, fs/)."""
        tables = system.sysctl_values(self.fs.kernel, self.fs.boot_id)
        return _sysctl_dir(self.fs, parent, name, b"", tables)

    def _sysvipc_dir(self, parent: DirInode, name: bytes) -> Inode:
        """/proc/sysvipc: the System V IPC objects (pykern.fs.proc.sysvipc)."""
        from pykern.fs.proc import sysvipc

        kernel = self.fs.kernel
        entries = {file_name: self._file(lambda task, show=show: show(kernel))
                   for file_name, show in sysvipc.SHOWS.items()}
        return DirInode(self.fs, parent, name, entries)

    def children(self, task: Task) -> dict[bytes, Factory]:
        from pykern.fs.proc.base import PidDir  # (a process's files: imported when /proc is read)

        entries = dict(self.fixed)
        kernel = self.fs.kernel
        for tgid in sorted(kernel.groups):
            group = kernel.groups[tgid]
            if group_alive(kernel, group):
                entries[str(tgid).encode()] = lambda parent, name, group=group: PidDir(self.fs, parent, name, group)
        return entries

    def lookup(self, task: Task, name: bytes) -> Inode:
        factory = self.fixed.get(name)
        if factory is not None:
            return factory(self, name)
        if not name.isdigit() or name.startswith(b"0"):
            raise SysError(ENOENT)
        from pykern.fs.proc.base import PidDir

        kernel = self.fs.kernel
        pid = int(name)
        group = kernel.groups.get(pid)
        if group is not None and group_alive(kernel, group):
            return PidDir(self.fs, self, name, group)
        thread = kernel.tasks.get(pid)  # a thread's tid: not listed, but there
        if thread is not None and thread.state is not TaskState.DEAD and group_alive(kernel, thread.group):
            return PidDir(self.fs, self, name, thread.group, thread)
        raise SysError(ENOENT)


def _sysctl_dir(fs: ProcFS, parent: SimpleInode, name: bytes, here: bytes,
                tables: dict[bytes, dict[bytes, object]]) -> DirInode:  # fmt: skip
    """The directory `here` of /proc/sys ("" for /proc/sys itself): its files from
    `tables[here]` and a subdirectory for each deeper table."""
    entries: dict[bytes, Factory] = {}
    for directory in tables:
        if here and not directory.startswith(here + b"/"):
            continue
        child = directory[len(here) + 1 if here else 0 :].split(b"/", 1)[0]
        path = here + b"/" + child if here else child
        entries[child] = lambda p, n, path=path: _sysctl_dir(fs, p, n, path, tables)
    for file_name, value in tables.get(here, {}).items():
        mode = 0o644 if file_name in SYSCTL_WRITABLE_MODE else 0o444
        entries[file_name] = _sysctl_file(fs, value, mode)
    return DirInode(fs, parent, name, dict(sorted(entries.items())))


def _sysctl_file(fs: ProcFS, value: object, mode: int) -> Factory:
    """A sysctl: bytes, a function of nothing, or (that function, a write handler)."""
    write = None
    if isinstance(value, tuple):
        value, write = value

    def content(task: Task) -> bytes:
        return value() if callable(value) else value  # type: ignore[return-value]

    return lambda parent, name: GenInode(fs, parent, name, content, S_IFREG | mode, write)
