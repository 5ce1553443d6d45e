"""/proc/PID/ and /proc/PID/task/TID/ (Linux's fs/proc/base.c and fd.c).

A `PidDir` describes one process (or, under task/, one of its threads). Its entries are
made on lookup and read the process's state when opened, so a file shows the process as
it is at open (one seq_file snapshot). Entries of a process that was reaped since fail
with ESRCH; lookups of its pid with ENOENT.

Magic links (exe, cwd, root, fd/N) lead to the kernel's objects: the Location of the
image, the working directory or the root, and the open File of fd N; readlink gives
their guest paths, or for a file with no name in the tree (a pipe, a socket, an
eventfd) Linux's `pipe:[ino]` text, which File.link_target() gives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import (
    EACCES,
    EINVAL,
    EIO,
    ENOENT,
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    OOM_SCORE_ADJ_MAX,
    OOM_SCORE_ADJ_MIN,
    PAGE_SIZE,
    RLIM_INFINITY,
    S_IFDIR,
    S_IFREG,
    SEEK_CUR,
    SEEK_SET,
    TASK_COMM_LEN,
)
from pykern.errors import Fault, SysError
from pykern.fs.file import File
from pykern.fs.libfs import DirInode, GenInode, LinkInode, SimpleInode
from pykern.fs.mount import Location
from pykern.fs.namei import d_path, path_from_top
from pykern.fs.proc import array, task_mmu
from pykern.fs.proc.common import (
    check_alive,
    comm_of,
    group_alive,
    is_init,
    live_mm,
    main_task,
    reader_root,
)
from pykern.fs.proc.system import read_host
from pykern.fs.stat import Stat
from pykern.oom import badness
from pykern.task import TaskState

if TYPE_CHECKING:
    from pykern.fs.inode import Inode, LinkTarget
    from pykern.fs.procfs import ProcFS
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.task import Task, ThreadGroup

Factory = Callable[[DirInode, bytes], "Inode"]

ID_MAP = b"%10u %10u %10u\n" % (0, 0, 4294967295)  # uid_map/gid_map of the initial user namespace
PROC_NUMBUF = 13  # the longest number a proc write handler reads
ARG_READ_LIMIT = 1 << 20  # cmdline/environ: more than any execve accepts (MAX_ARG_STRLEN x 32)

# fs/proc/base.c's lnames: (name, units) per RLIMIT_*, in resource number order.
LIMIT_NAMES = (
    ("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
    ("Max stack size", "bytes"), ("Max core file size", "bytes"), ("Max resident set", "bytes"),
    ("Max processes", "processes"), ("Max open files", "files"), ("Max locked memory", "bytes"),
    ("Max address space", "bytes"), ("Max file locks", "locks"), ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"), ("Max nice priority", ""), ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
)  # fmt: skip

# What a sleeping task's wchan shows (the kernel function Linux's tasks sleep in), by
# the call it sleeps in; anything else by its wait queue's name (pipe_read, pipe_write).
WCHAN_BY_CALL = {
    "wait4": "do_wait", "waitid": "do_wait", "nanosleep": "hrtimer_nanosleep",
    "clock_nanosleep": "hrtimer_nanosleep", "poll": "do_sys_poll", "ppoll": "do_sys_poll",
    "select": "do_select", "pselect6": "do_select", "epoll_wait": "do_epoll_wait",
    "epoll_pwait": "do_epoll_wait", "epoll_pwait2": "do_epoll_wait", "futex": "futex_wait_queue",
    "pause": "sys_pause", "rt_sigsuspend": "sigsuspend", "rt_sigtimedwait": "do_sigtimedwait",
    "vfork": "wait_for_vfork_done", "clone": "wait_for_vfork_done", "clone3": "wait_for_vfork_done",
    "flock": "locks_lock_inode_wait",
}  # fmt: skip


def owner(group: ThreadGroup) -> tuple[int, int]:
    """task_dump_owner: the process's effective ids, root's when it is not dumpable."""
    if is_init(group):
        return 0, 0
    mm = live_mm(group)
    if mm is not None and mm.dumpable == 0:
        return 0, 0
    return group.creds.euid, group.creds.egid


# --- the directory -----------------------------------------------------------------------------------


class PidDir(DirInode):
    """/proc/PID (thread None: the process, its leader's view) or /proc/PID/task/TID."""

    fs: ProcFS

    def __init__(self, fs: ProcFS, parent: SimpleInode, name: bytes, group: ThreadGroup,
                 thread: Task | None = None, thread_dir: bool = False) -> None:  # fmt: skip
        uid, gid = owner(group)
        super().__init__(fs, parent, name, mode=S_IFDIR | 0o555, uid=uid, gid=gid)
        self.group = group
        self.thread = thread  # set under task/ (and for /proc/TID): the files describe this thread
        self.thread_dir = thread_dir or thread is not None  # a task/TID directory (init's has no Task)

    @property
    def task(self) -> Task | None:
        """The thread the per-thread fields (state, mask, comm) describe."""
        return self.thread if self.thread is not None else main_task(self.group)

    def alive(self) -> None:
        check_alive(self.fs.kernel, self.group, self.thread)

    def lookup(self, task: Task, name: bytes) -> Inode:
        if not group_alive(self.fs.kernel, self.group) or (
                self.thread is not None and self.thread.state is TaskState.DEAD):
            raise SysError(ENOENT)
        return super().lookup(task, name)

    def children(self, task: Task) -> dict[bytes, Factory]:
        entries: dict[bytes, Factory] = {}
        if not self.thread_dir:
            entries[b"task"] = lambda parent, name: TaskDir(self.fs, parent, name, self.group)
        entries.update({
            b"fd": lambda parent, name: FdDir(self.fs, parent, name, self, info=False),
            b"fdinfo": lambda parent, name: FdDir(self.fs, parent, name, self, info=True),
            b"environ": self._file(self.show_environ, 0o400),
            b"auxv": self._file(self.show_auxv, 0o400),
            b"status": self._file(self.show_status),
            b"limits": self._file(self.show_limits),
            b"comm": self._file(self.show_comm, 0o644, self.write_comm),
            b"cmdline": self._file(self.show_cmdline),
            b"stat": self._file(self.show_stat),
            b"statm": self._file(self.show_statm),
            b"maps": self._file(self.show_maps),
            b"cwd": self._link(self.cwd_text, self.cwd_follow),
            b"root": self._link(self.root_text, self.root_follow),
            b"exe": self._link(self.exe_text, self.exe_follow),
            b"mounts": self._file(self.show_mounts),
            b"mountinfo": self._file(self.show_mountinfo),
            b"smaps": self._file(self.show_smaps),
            b"wchan": self._file(self.show_wchan),
            b"oom_score": self._file(self.show_oom_score),
            b"oom_score_adj": self._file(self.show_oom_score_adj, 0o644, self.write_oom_score_adj),
            b"io": self._file(self.show_io, 0o400),
            b"mem": lambda parent, name: MemInode(self.fs, parent, name, self),
            b"personality": self._file(self.show_personality, 0o400),
            # the initial user namespace (pykern has no other): the identity map of every id
            b"uid_map": self._file(lambda task: ID_MAP),
            b"gid_map": self._file(lambda task: ID_MAP),
            b"setgroups": self._file(lambda task: b"allow\n"),
        })
        if self.thread_dir:
            entries[b"children"] = self._file(self.show_children_pids)
        return entries

    def _file(self, content: Callable[[Task], bytes], mode: int = 0o444,
              write: Callable[[Task, bytes], int] | None = None) -> Factory:  # fmt: skip
        def checked(task: Task) -> bytes:
            self.alive()
            return content(task)

        def make(parent: DirInode, name: bytes) -> Inode:
            return GenInode(self.fs, parent, name, checked, S_IFREG | mode, write, self.uid, self.gid)

        return make

    def _link(self, text: Callable[[Task], bytes], follow: Callable[[Task], LinkTarget]) -> Factory:
        def make(parent: DirInode, name: bytes) -> Inode:
            return LinkInode(self.fs, parent, name, text, follow, self.uid, self.gid)

        return make

    # --- the magic links ---------------------------------------------------------------------------

    def _place(self, place: Location | None) -> Location:
        """A place the process has (its image, cwd, root): ENOENT once it is gone."""
        if not group_alive(self.fs.kernel, self.group) or self.group.is_zombie or is_init(self.group):
            raise SysError(ENOENT)
        if place is None:
            raise SysError(ENOENT)
        return place

    def exe_text(self, task: Task) -> bytes:
        return d_path(self._place(self.group.exe_location), reader_root(task))

    def exe_follow(self, task: Task) -> LinkTarget:
        return self._place(self.group.exe_location)

    def cwd_text(self, task: Task) -> bytes:
        return d_path(self._place(self.group.fs.cwd), reader_root(task))

    def cwd_follow(self, task: Task) -> LinkTarget:
        return self._place(self.group.fs.cwd)

    def root_text(self, task: Task) -> bytes:
        return d_path(self._place(self.group.fs.root), reader_root(task))

    def root_follow(self, task: Task) -> LinkTarget:
        return self._place(self.group.fs.root)

    # --- the files -------------------------------------------------------------------------------------

    def _arg_area(self, start_field: str, end_field: str) -> bytes:
        mm = live_mm(self.group)
        if mm is None or mm.layout is None:
            return b""
        start, end = getattr(mm.layout, start_field), getattr(mm.layout, end_field)
        return _read_guest(mm, start, min(end - start, ARG_READ_LIMIT))

    def show_cmdline(self, task: Task) -> bytes:
        """get_mm_cmdline: the argv strings; a process that wrote over the NUL ending
        them (setproctitle) shows one string, read on into the environment area."""
        data = self._arg_area("arg_start", "arg_end")
        if data and data[-1] != 0:
            data += self._arg_area("env_start", "env_end")
            nul = data.find(0)
            return data[:nul] if nul >= 0 else data
        return data

    def show_environ(self, task: Task) -> bytes:
        return self._arg_area("env_start", "env_end")

    def show_auxv(self, task: Task) -> bytes:
        mm = live_mm(self.group)
        return mm.layout.auxv if mm is not None and mm.layout is not None else b""

    def show_status(self, task: Task) -> bytes:
        return array.show_status(self.fs.kernel, self.group, self.task)

    def show_stat(self, task: Task) -> bytes:
        return array.show_stat(self.fs.kernel, self.group, self.task, whole=not self.thread_dir)

    def show_statm(self, task: Task) -> bytes:
        return array.show_statm(self.group)

    def show_maps(self, task: Task) -> bytes:
        return task_mmu.show_maps(live_mm(self.group))

    def show_smaps(self, task: Task) -> bytes:
        return task_mmu.show_smaps(live_mm(self.group))

    def show_comm(self, task: Task) -> bytes:
        return comm_of(self.group, self.task) + b"\n"

    def write_comm(self, task: Task, data: bytes) -> int:
        """comm_write: the first TASK_COMM_LEN - 1 bytes, to the end or a NUL, newline
        included; only a thread of the same process may rename."""
        self.alive()
        target = self.task
        if target is None or task.group is not self.group:
            raise SysError(EINVAL)
        target.comm = data[: TASK_COMM_LEN - 1].split(b"\0", 1)[0]
        return len(data)

    def show_limits(self, task: Task) -> bytes:
        lines = [f"{'Limit':<25} {'Soft Limit':<20} {'Hard Limit':<20} {'Units':<10}\n"]
        for resource, (name, units) in enumerate(LIMIT_NAMES):
            cur, top = self.group.rlimits.get(resource, (RLIM_INFINITY, RLIM_INFINITY))
            line = f"{name:<25} "
            for value in (cur & RLIM_INFINITY, top & RLIM_INFINITY):
                line += f"{'unlimited' if value == RLIM_INFINITY else value:<20} "
            lines.append(line + (f"{units:<10}\n" if units else "\n"))
        return "".join(lines).encode()

    def show_mounts(self, task: Task) -> bytes:
        return show_mounts(self.fs.kernel, self.group, info=False)

    def show_mountinfo(self, task: Task) -> bytes:
        return show_mounts(self.fs.kernel, self.group, info=True)

    def show_wchan(self, task: Task) -> bytes:
        """The kernel function the thread sleeps in; "0" when it runs (no newline)."""
        thread = self.task
        if thread is None or thread.state is TaskState.RUNNABLE or thread.state is TaskState.DEAD:
            return b"0"
        if thread.state is TaskState.STOPPED:
            return b"do_signal_stop"
        pending = thread.pending
        name = WCHAN_BY_CALL.get(pending.entry.name) if pending is not None else None
        if name is None and thread.wait_queues:
            name = thread.wait_queues[0].name.split("(", 1)[0]
        return (name or "0").encode()

    def show_oom_score(self, task: Task) -> bytes:
        """proc_oom_score: oom_badness scaled into [0, 2000] * 2/3; 0 for init and for a
        process at OOM_SCORE_ADJ_MIN."""
        oom = self.fs.kernel.oom
        if oom is not None:  # --max-memory is the killer's totalpages, as a memory cgroup's limit
            total_pages = oom.total_pages
        else:
            memory = _host_meminfo_kb()
            total_pages = max((memory.get("MemTotal", 0) + memory.get("SwapTotal", 0)) * 1024 // PAGE_SIZE, 1)
        points = badness(live_mm(self.group), self.group, total_pages)
        if points is None:
            return b"0\n"
        points = max((1000 + points * 1000 // total_pages) * 2 // 3, 0)
        return f"{points}\n".encode()

    def show_oom_score_adj(self, task: Task) -> bytes:
        return f"{self.group.oom_score_adj}\n".encode()

    def write_oom_score_adj(self, task: Task, data: bytes) -> int:
        """oom_score_adj_write: a number in [-1000, 1000] (EINVAL otherwise); below the
        process's floor only with CAP_SYS_RESOURCE (EACCES), which also moves the floor."""
        self.alive()
        value = parse_proc_int(data[: PROC_NUMBUF - 1])
        if not OOM_SCORE_ADJ_MIN <= value <= OOM_SCORE_ADJ_MAX:
            raise SysError(EINVAL)
        privileged = task.group.creds.euid == 0
        if value < self.group.oom_score_adj_min and not privileged:
            raise SysError(EACCES)
        self.group.oom_score_adj = value
        if privileged:
            self.group.oom_score_adj_min = value
        return len(data)

    def show_personality(self, task: Task) -> bytes:
        return f"{self.group.personality & 0xFFFFFFFF:08x}\n".encode()

    def show_io(self, task: Task) -> bytes:
        """The I/O counters; pykern keeps them on the process when it counts them
        (`group.io_counters`), else they are 0."""
        counters = getattr(self.group, "io_counters", None) or {}
        names = ("rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes")
        return "".join(f"{name}: {counters.get(name, 0)}\n" for name in names).encode()

    def show_children_pids(self, task: Task) -> bytes:
        return "".join(f"{child.tgid} " for child in self.group.children if not child.reaped).encode()


def _read_guest(mm: object, start: int, size: int) -> bytes:
    """Guest memory as access_remote_vm reads it: what is readable, up to a fault."""
    if size <= 0:
        return b""
    try:
        return mm.copy_in(start, size)  # type: ignore[attr-defined]
    except Fault:
        out = b""
        while size > 0:
            piece = min(size, PAGE_SIZE - start % PAGE_SIZE)
            try:
                out += mm.copy_in(start, piece)  # type: ignore[attr-defined]
            except Fault:
                break
            start += piece
            size -= piece
        return out


def _host_meminfo_kb() -> dict[str, int]:
    memory = {}
    for line in read_host("/proc/meminfo").splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            memory[name.strip()] = int(parts[0])
    return memory


def parse_proc_int(data: bytes) -> int:
    """kstrtoint(strstrip(buf), 0): an optional sign, then 0x-hex, 0-octal or decimal;
    EINVAL for anything else."""
    text = data.split(b"\0", 1)[0].strip()
    negative = text.startswith(b"-")
    if text[:1] in (b"-", b"+"):
        text = text[1:]
    try:
        if text[:2].lower() == b"0x":
            value = int(text[2:], 16) if text[2:].isalnum() else None
        elif text.startswith(b"0") and len(text) > 1:
            value = int(text[1:], 8) if text[1:].isdigit() else None
        else:
            value = int(text) if text.isdigit() else None
    except ValueError:
        value = None
    if value is None:
        raise SysError(EINVAL)
    return -value if negative else value


# --- mem --------------------------------------------------------------------------------------------


def may_attach(reader: Task, group: ThreadGroup) -> bool:
    """PTRACE_MODE_ATTACH, simplified: the process itself, root, or a dumpable process
    whose ids all equal the reader's."""
    if reader.group is group or reader.group.creds.euid == 0:
        return True
    mine, theirs = reader.group.creds, group.creds
    mm = live_mm(group)
    return (theirs.uid == theirs.euid == theirs.suid == mine.uid and theirs.gid == theirs.egid == theirs.sgid
            == mine.gid and (mm is None or mm.dumpable != 0))


class MemInode(SimpleInode):
    """/proc/PID/mem: the process's memory at file offsets that are its addresses."""

    file_mode = S_IFREG | 0o600

    def __init__(self, fs: ProcFS, parent: SimpleInode, name: bytes, owner_dir: PidDir) -> None:
        super().__init__(fs, parent, name, uid=owner_dir.uid, gid=owner_dir.gid)
        self.owner_dir = owner_dir

    def open_file(self, task: Task, flags: int) -> File:
        self.owner_dir.alive()
        if not may_attach(task, self.owner_dir.group):
            raise SysError(EACCES)
        return MemFile(self, live_mm(self.owner_dir.group), flags)


class MemFile(File):
    """An open /proc/PID/mem: the address space it was opened on (mem_open takes the mm
    then; reads see nothing once the process has none). A read or write stops at the
    first address that is not mapped (EIO if that is the first). Deviation: Linux
    writes through read-only pages too (FOLL_FORCE); pykern gives EIO there."""

    kind = "mem"
    seekable = True

    def __init__(self, inode: MemInode, mm: MM | None, flags: int) -> None:
        super().__init__(flags, inode.name_in_fs().decode(errors="replace"))
        self.inode = inode
        self.mm = mm
        self.pos = 0

    def stat(self) -> Stat:
        return self.inode.stat()

    def _pages(self, address: int, size: int) -> list[tuple[int, int]]:
        """(address, length) pieces of [address, address + size) within single pages."""
        pieces = []
        while size > 0:
            piece = min(size, PAGE_SIZE - address % PAGE_SIZE)
            pieces.append((address, piece))
            address += piece
            size -= piece
        return pieces

    def _pfn_mapped(self, address: int) -> bool:
        """The vDSO's data page, which access_remote_vm cannot reach on Linux (VM_IO|VM_PFNMAP)."""
        vma = self.mm.find_vma(address)
        return vma is not None and vma.name == "[vvar]"

    def pread(self, size: int, offset: int) -> bytes:
        if self.mm is None:
            return b""
        out = bytearray()
        for address, length in self._pages(offset, size):
            try:
                if self._pfn_mapped(address):
                    raise Fault(address)
                out += self.mm.copy_in(address, length)
            except Fault:
                if not out:
                    raise SysError(EIO) from None
                break
        return bytes(out)

    def pwrite(self, data: bytes, offset: int) -> int:
        if self.mm is None:
            return 0
        done = 0
        for address, length in self._pages(offset, len(data)):
            try:
                self.mm.copy_out(address, data[done : done + length])
            except Fault:
                if not done:
                    raise SysError(EIO) from None
                break
            done += length
        return done

    def read(self, task: Task, size: int) -> bytes:
        data = self.pread(size, self.pos)
        self.pos += len(data)
        return data

    def write(self, task: Task, data: bytes) -> int:
        done = self.pwrite(data, self.pos)
        self.pos += done
        return done

    def lseek(self, offset: int, whence: int) -> int:
        """mem_lseek: SEEK_SET and SEEK_CUR only."""
        if whence == SEEK_SET:
            self.pos = offset
        elif whence == SEEK_CUR:
            self.pos += offset
        else:
            raise SysError(EINVAL)
        return self.pos


# --- task/ ---------------------------------------------------------------------------------------------


class TaskDir(DirInode):
    """/proc/PID/task: one directory per live thread."""

    fs: ProcFS

    def __init__(self, fs: ProcFS, parent: SimpleInode, name: bytes, group: ThreadGroup) -> None:
        uid, gid = owner(group)
        super().__init__(fs, parent, name, mode=S_IFDIR | 0o555, uid=uid, gid=gid)
        self.group = group

    def children(self, task: Task) -> dict[bytes, Factory]:
        if not group_alive(self.fs.kernel, self.group):
            return {}
        entries: dict[bytes, Factory] = {}
        if is_init(self.group):  # pykern's init has no Task, but Linux's pid 1 has its thread
            entries[b"1"] = lambda parent, name: PidDir(self.fs, parent, name, self.group, thread_dir=True)
        for thread in self.group.live_tasks:
            entries[str(thread.tid).encode()] = (
                lambda parent, name, thread=thread: PidDir(self.fs, parent, name, self.group, thread))
        return entries


# --- fd/ and fdinfo/ -------------------------------------------------------------------------------------


def fd_link_text(file: File, reader: Task) -> bytes:
    """readlink of fd/N: the guest path of a file that has one (as `reader` sees it),
    else the kernel's name for it (pipe:[ino], socket:[ino], anon_inode:[eventfd])."""
    if file.location is not None:
        return d_path(file.location, reader_root(reader))
    return file.link_target()


def fd_mode(file: File) -> int:
    """fd/N's permission bits: r-x for reading, -wx for writing, none for an O_PATH
    descriptor (proc_fd_instantiate)."""
    accmode = file.flags & O_ACCMODE
    mode = 0
    if file.flags & O_PATH:
        return mode
    if accmode in (O_RDONLY, O_RDWR):
        mode |= 0o500
    if accmode in (O_WRONLY, O_RDWR):
        mode |= 0o300
    return mode


def file_position(file: File) -> int:
    for attribute in ("pos", "_pos"):
        value = getattr(file, attribute, None)
        if isinstance(value, int):
            return value
    if getattr(file, "host_fd", None) is not None and file.seekable:
        try:
            return file.lseek(0, SEEK_CUR)
        except SysError:
            return 0
    return 0


class FdLink(LinkInode):
    """fd/N: lstat shows a size of 64, as proc_fd_instantiate sets it."""

    def size(self) -> int:
        return 64


class FdDir(DirInode):
    """fd/ (magic links to the open files) or fdinfo/ (their position and flags)."""

    fs: ProcFS

    def __init__(self, fs: ProcFS, parent: SimpleInode, name: bytes, owner_dir: PidDir, info: bool) -> None:
        mode = S_IFDIR | (0o555 if info else 0o500)
        super().__init__(fs, parent, name, mode=mode, uid=owner_dir.uid, gid=owner_dir.gid)
        self.owner_dir = owner_dir
        self.info = info

    @property
    def group(self) -> ThreadGroup:
        return self.owner_dir.group

    def _file(self, fd: int) -> File:
        check_alive(self.fs.kernel, self.group)
        file = self.group.files.files.get(fd) if not self.group.is_zombie else None
        if file is None:
            raise SysError(ENOENT)
        return file

    def children(self, task: Task) -> dict[bytes, Factory]:
        if not group_alive(self.fs.kernel, self.group) or self.group.is_zombie:
            return {}
        return {str(fd).encode(): self._entry(fd) for fd in sorted(self.group.files.files)}

    def lookup(self, task: Task, name: bytes) -> Inode:
        if not group_alive(self.fs.kernel, self.group):
            raise SysError(ENOENT)
        return super().lookup(task, name)

    def _entry(self, fd: int) -> Factory:
        if self.info:
            def make_info(parent: DirInode, name: bytes) -> Inode:
                return GenInode(self.fs, parent, name, lambda task: self.fdinfo(fd), S_IFREG | 0o444,
                                uid=self.uid, gid=self.gid)
            return make_info

        def make_link(parent: DirInode, name: bytes) -> Inode:
            file = self._file(fd)
            return FdLink(self.fs, parent, name, lambda task: fd_link_text(self._file(fd), task),
                          lambda task: self._file(fd), self.uid, self.gid, mode=fd_mode(file))
        return make_link

    def fdinfo(self, fd: int) -> bytes:
        """seq_show: pos, flags (with O_CLOEXEC from the table), mnt_id, ino, and the
        file type's own lines (an eventfd's count)."""
        file = self._file(fd)
        # f_flags: the open-time-only bits are gone (do_dentry_open), close-on-exec comes from the table
        flags = file.flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)
        flags |= O_CLOEXEC if fd in self.group.files.cloexec else 0
        mnt_id = file.location.mount.mnt_id if file.location is not None else 0
        try:
            ino = file.stat().ino
        except (SysError, NotImplementedError):
            ino = 0
        text = f"pos:\t{file_position(file)}\nflags:\t0{flags:o}\nmnt_id:\t{mnt_id}\nino:\t{ino}\n"
        if file.kind == "eventfd":
            text += f"eventfd-count: {getattr(file, 'count', 0):16x}\neventfd-id: {ino}\n"
        return text.encode()


def _path_fields(mount: object, root_path: bytes) -> bytes | None:
    """A mount's path as the process sees it (None when outside its root)."""
    path = path_from_top(Location(mount, mount.root))  # type: ignore[arg-type, attr-defined]
    if root_path != b"/":
        if path != root_path and not path.startswith(root_path + b"/"):
            return None
        path = path[len(root_path) :] or b"/"
    return path


def mangle(text: bytes) -> bytes:
    """seq_escape's treatment of mount table fields: space, tab, newline, backslash."""
    for char, escaped in ((b"\\", b"\\134"), (b" ", b"\\040"), (b"\t", b"\\011"), (b"\n", b"\\012")):
        text = text.replace(char, escaped)
    return text


def show_mounts(kernel: Kernel, group: ThreadGroup, info: bool) -> bytes:
    """/proc/PID/mounts (the fstab-like table) or mountinfo, from kernel.mounts."""
    table = kernel.mounts
    root_path = path_from_top(group.fs.root)
    lines = []
    for mount in table.mounts:
        path = _path_fields(mount, root_path)
        if path is None:
            continue
        fs = mount.fs
        # the mount's own "ro"/"rw" first, then its other options (given with or without it)
        extra = [o for o in mount.options.split(",") if o and o not in ("rw", "ro")]
        options = ",".join(["ro" if mount.readonly else "rw", *extra])
        source = mangle(os.fsencode(fs.source))
        if not info:
            lines.append(b"%s %s %s %s 0 0\n" % (source, mangle(path), fs.fstype.encode(), options.encode()))
            continue
        dev = getattr(fs, "dev", 0)
        parent_id = mount.parent.mnt_id if mount.parent is not None else 1
        super_options = "ro" if getattr(fs, "readonly", False) else "rw"
        extra = getattr(fs, "super_options", "")
        if extra:
            super_options += "," + extra
        lines.append(b"%d %d %d:%d %s %s %s - %s %s %s\n" % (
            mount.mnt_id, parent_id, os.major(dev), os.minor(dev), mangle(mount.root.name_in_fs()),
            mangle(path), options.encode(), fs.fstype.encode(), source, super_options.encode()))
    return b"".join(lines)

