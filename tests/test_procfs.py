"""procfs from Python: a Kernel runs testbins/pykern_only/procblock until every task
sleeps (it waits on pipes nobody writes), then its /proc inodes are read directly.

procblock: renames itself (prctl), blocks SIGUSR1, ignores SIGINT, handles SIGUSR2,
maps and touches 3 anonymous pages, opens two pipes, starts a thread and forks a child,
and reads a pipe forever.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from pykern.abi import (
    AT_NULL,
    AT_PAGESZ,
    EACCES,
    EINVAL,
    EIO,
    ENOENT,
    ESRCH,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    RLIMIT_NOFILE,
    S_IFLNK,
    S_IFMT,
    SEEK_END,
    SEEK_SET,
)
from pykern.errors import SysError
from pykern.exit import do_group_exit, release_task
from pykern.fs.inode import Inode
from pykern.fs.libfs import DirInode, GenInode, SimpleFS
from pykern.fs.mount import Location, MountTable
from pykern.fs.namei import d_path
from pykern.fs.proc.base import parse_proc_int
from pykern.fs.procfs import ProcFS
from pykern.kernel import Kernel
from pykern.sched import Deadlock
from pykern.syscalls.table import build_table
from pykern.task import TaskState

PROCBLOCK = "testbins/pykern_only/procblock"
ARGV = [b"procblock", b"arg one", b"", b"x"]
ENVP = [b"A=1", b"B=two words"]


class Proc:
    """A kernel with procblock asleep, its /proc, and path-wise access from Python."""

    def __init__(self, repo_root: os.PathLike) -> None:
        self.kernel = Kernel(build_table())
        self.cwd = os.path.realpath(repo_root)
        cwd = os.getcwd()
        os.chdir(repo_root)
        try:
            self.group = self.kernel.spawn(PROCBLOCK.encode(), ARGV, ENVP)
        finally:
            os.chdir(cwd)
        with pytest.raises(Deadlock):
            self.kernel.sched.run()
        self.fs = ProcFS(self.kernel)
        self.root = self.fs.root()
        self.task = self.group.tasks[0]
        self.pid = self.group.tgid

    def lookup(self, path: str, task=None, follow: bool = False) -> Inode:
        """Walk `path` below /proc, following the plain links (self, thread-self; the
        last component's only if `follow`)."""
        task = task or self.task
        node: Inode = self.root
        parts = [p for p in path.split("/") if p]
        while parts:
            node = node.lookup(task, parts.pop(0).encode())
            if node.is_symlink and (parts or follow) and node.get_link(task) is None:
                parts = node.readlink(task).decode().split("/") + parts
                node = self.root
        return node

    def read(self, path: str, task=None) -> bytes:
        task = task or self.task
        file = self.lookup(path, task, follow=True).open(task, O_RDONLY)
        return file.read(task, 1 << 22)

    def write(self, path: str, data: bytes, task=None) -> int:
        task = task or self.task
        file = self.lookup(path, task, follow=True).open(task, O_WRONLY)
        return file.write(task, data)

    def status(self, path: str) -> dict[str, str]:
        return dict(line.split(":\t", 1) for line in self.read(path).decode().splitlines())


@pytest.fixture(scope="module")
def proc(built_testbins, repo_root) -> Proc:
    return Proc(repo_root)


def names(node: Inode, task) -> list[bytes]:
    return [name for _, _, name in node.readdir(task)]


# --- the root --------------------------------------------------------------------------------


def test_root_lists_guest_pids_only(proc: Proc) -> None:
    listed = [int(n) for n in names(proc.root, proc.task) if n.isdigit()]
    guest = sorted(proc.kernel.groups)
    assert listed == guest
    assert 1 in listed and proc.pid in listed
    thread = proc.group.tasks[1].tid
    assert thread not in listed  # a thread is not listed ...
    assert proc.lookup(str(thread)).is_dir  # ... but it can be looked up
    host = max(os.getpid(), max(guest) + 1)  # pykern's own pid, unless a pid namespace made it a guest's too
    with pytest.raises(SysError) as error:
        proc.lookup(str(host))
    assert error.value.errno == ENOENT


def test_self_and_thread_self(proc: Proc) -> None:
    thread = proc.group.tasks[1]
    assert proc.lookup("self").readlink(proc.task) == str(proc.pid).encode()
    assert proc.lookup("thread-self").readlink(thread) == f"{proc.pid}/task/{thread.tid}".encode()
    assert proc.read("self/comm", thread) == b"procblock\n"  # the process's (leader's) name
    assert proc.read("thread-self/comm", thread) == b"procblock-t\n"


def test_unknown_entries_are_enoent(proc: Proc) -> None:
    for path in ("kallsyms", "self/pagemap", "0", "01", "self/nothing"):
        with pytest.raises(SysError) as error:
            proc.lookup(path)
        assert error.value.errno == ENOENT, path


def test_config_gz_is_the_host_kernels(proc: Proc) -> None:
    """/proc/config.gz describes the kernel uname names (the host's): there when the host has it."""
    if os.path.exists("/proc/config.gz"):
        with open("/proc/config.gz", "rb") as host:
            assert proc.read("config.gz") == host.read()
    else:
        with pytest.raises(SysError):
            proc.lookup("config.gz")


# --- the process's own files -----------------------------------------------------------------------


def test_cmdline_environ_auxv(proc: Proc) -> None:
    assert proc.read("self/cmdline") == b"\0".join(ARGV) + b"\0"
    assert proc.read("self/environ") == b"\0".join(ENVP) + b"\0"
    auxv = proc.read("self/auxv")
    pairs = dict(struct.iter_unpack("<QQ", auxv))
    assert pairs[AT_PAGESZ] == 4096
    assert auxv[-16:] == struct.pack("<QQ", AT_NULL, 0)


def test_status_agrees_with_the_syscalls(proc: Proc) -> None:
    status = proc.status("self/status")
    creds = proc.group.creds
    assert status["Name"] == "procblock"
    assert status["State"] == "S (sleeping)"
    assert status["Pid"] == status["Tgid"] == str(proc.pid)
    assert status["PPid"] == "1"
    assert status["Uid"].split() == [str(creds.uid), str(creds.euid), str(creds.suid), str(creds.euid)]
    assert status["Threads"] == "2"
    assert int(status["SigBlk"], 16) == 1 << (10 - 1)  # SIGUSR1
    assert int(status["SigIgn"], 16) & (1 << (2 - 1))  # SIGINT
    assert int(status["SigCgt"], 16) & (1 << (12 - 1))  # SIGUSR2
    assert int(status["VmSize"].split()[0]) * 1024 == sum(v.end - v.start for v in proc.task.mm.vmas)
    assert int(status["VmRSS"].split()[0]) > 0
    assert status["Umask"] == f"{proc.group.fs.umask:04o}"


def test_stat_fields(proc: Proc) -> None:
    text = proc.read("self/stat").decode()
    assert text.endswith("\n")
    head, _, rest = text.partition(") ")
    pid, comm = head.split(" (")
    fields = rest.split()
    assert (int(pid), comm) == (proc.pid, "procblock")
    assert len(fields) == 50  # 52 with pid and comm
    assert fields[0] == "S"
    assert int(fields[1]) == proc.group.ppid
    assert int(fields[2]) == proc.group.pgid
    assert int(fields[3]) == (proc.group.sid if os.getsid(0) else 0)  # init's session, 0 where pykern's own is outside its pid namespace
    assert int(fields[17]) == 2  # num_threads
    assert int(fields[29]) == 1 << 9  # blocked (field 32): SIGUSR1
    layout = proc.task.mm.layout
    assert int(fields[45]) == layout.arg_start and int(fields[48]) == layout.env_end
    thread = proc.group.tasks[1]
    assert proc.read(f"self/task/{thread.tid}/stat").startswith(f"{thread.tid} (procblock-t) S ".encode())


def test_statm_matches_status(proc: Proc) -> None:
    size, resident, *_ = (int(v) for v in proc.read("self/statm").split())
    status = proc.status("self/status")
    assert size * 4 == int(status["VmSize"].split()[0])
    assert resident * 4 == int(status["VmRSS"].split()[0])


def test_maps(proc: Proc) -> None:
    lines = proc.read("self/maps").decode().splitlines()
    mm = proc.task.mm
    assert len(lines) == len(mm.vmas)
    exe = os.path.realpath(proc.group.exe_path)
    assert any(line.endswith(exe) and " r-xp " in line for line in lines)
    assert lines[-1].endswith("[stack]")
    assert any(line.endswith("[heap]") for line in lines)
    area = next(v for v in mm.vmas if v.end - v.start == 3 * 4096 and not v.name)
    assert f"{area.start:08x}-{area.end:08x} rw-p 00000000 00:00 0 " in lines
    smaps = proc.read("self/smaps").decode()
    assert smaps.count("VmFlags:") == len(mm.vmas)
    assert "Rss:" in smaps and "Private_Dirty:" in smaps


def test_fd_links_and_fdinfo(proc: Proc) -> None:
    fds = names(proc.lookup("self/fd"), proc.task)[2:]
    assert fds == [str(fd).encode() for fd in sorted(proc.group.files.files)]
    reader = next(fd for fd, f in proc.group.files.files.items() if f.kind == "pipe" and f.readable)
    link = proc.lookup(f"self/fd/{reader}")
    file = proc.group.files.files[reader]
    assert link.readlink(proc.task) == f"pipe:[{file.stat().ino}]".encode()
    assert link.get_link(proc.task) is file
    assert link.mode & S_IFMT == S_IFLNK and link.mode & 0o777 == 0o500
    info = dict(line.split(":\t") for line in proc.read(f"self/fdinfo/{reader}").decode().splitlines())
    assert info["pos"] == "0" and info["flags"] == "00" and info["ino"] == str(file.stat().ino)
    with pytest.raises(SysError) as error:
        proc.lookup("self/fd/999")
    assert error.value.errno == ENOENT


def test_exe_cwd_root(proc: Proc) -> None:
    assert proc.lookup("self/exe").readlink(proc.task) == os.fsencode(os.path.realpath(proc.group.exe_path))
    assert proc.lookup("self/cwd").readlink(proc.task) == os.fsencode(proc.cwd)  # spawn's cwd
    assert proc.lookup("self/cwd").get_link(proc.task) is proc.group.fs.cwd
    assert proc.lookup("self/root").readlink(proc.task) == b"/"
    assert proc.lookup("self/exe").get_link(proc.task) is proc.group.exe_location
    assert names(proc.lookup("1/task"), proc.task)[2:] == [b"1"]  # init's one thread, as ps -L reads it
    assert proc.read("1/task/1/stat").startswith(b"1 (init) S 0 ")
    with pytest.raises(SysError) as error:
        proc.lookup("1/exe").readlink(proc.task)  # init has no image
    assert error.value.errno == ENOENT


def test_limits_match_getrlimit(proc: Proc) -> None:
    line = next(x for x in proc.read("self/limits").decode().splitlines() if x.startswith("Max open files"))
    soft, hard = proc.group.rlimits[RLIMIT_NOFILE]
    assert line.split()[3:5] == [str(soft), str(hard)]


def test_comm_is_writable_by_the_process_only(proc: Proc) -> None:
    thread = proc.group.tasks[1]
    assert proc.write(f"self/task/{thread.tid}/comm", b"renamed-thread-name-too-long", thread) == 28
    assert thread.comm == b"renamed-thread-"
    assert proc.read(f"self/task/{thread.tid}/status").startswith(b"Name:\trenamed-thread-\n")
    child = proc.group.children[0]
    with pytest.raises(SysError) as error:
        proc.write(f"{child.tgid}/comm", b"x")  # another process's
    assert error.value.errno == EINVAL
    thread.comm = b"procblock-t"


def test_oom_score_adj(proc: Proc) -> None:
    assert proc.read("self/oom_score_adj") == b"0\n"
    assert proc.write("self/oom_score_adj", b"500\n") == 4
    assert proc.read("self/oom_score_adj") == b"500\n"
    assert int(proc.read("self/oom_score")) > 0
    for bad in (b"1001", b"-1001", b"abc", b"", b"5x"):
        with pytest.raises(SysError) as error:
            proc.write("self/oom_score_adj", bad)
        assert error.value.errno == EINVAL, bad
    child = proc.group.children[0]
    assert proc.read(f"{child.tgid}/oom_score_adj") == b"0\n"  # kept per process
    creds = proc.group.creds
    saved = creds.euid
    creds.euid = 1000
    try:
        proc.group.oom_score_adj_min = 0
        with pytest.raises(SysError) as error:
            proc.write("self/oom_score_adj", b"-1")  # below the floor without CAP_SYS_RESOURCE
        assert error.value.errno == EACCES
    finally:
        creds.euid = saved
    assert proc.write("self/oom_score_adj", b"0x0") == 3
    assert proc.read("self/oom_score_adj") == b"0\n"


def test_parse_proc_int() -> None:
    assert [parse_proc_int(x) for x in (b"12", b"-3\n", b"+7", b"0x10", b"010", b"0")] == [12, -3, 7, 16, 8, 0]
    for bad in (b"", b"-", b"1 2", b"0x", b"09", b"1.5"):
        with pytest.raises(SysError):
            parse_proc_int(bad)


def test_wchan_and_child(proc: Proc) -> None:
    assert proc.read("self/wchan") == b"pipe_read"
    child = proc.group.children[0]
    status = proc.status(f"{child.tgid}/status")
    assert status["Name"] == "procblock-c" and status["PPid"] == str(proc.pid)
    thread = proc.group.tasks[1]
    assert proc.read(f"self/task/{thread.tid}/children") == f"{child.tgid} ".encode()


def test_ownership_follows_the_process_uid(proc: Proc) -> None:
    creds = proc.group.creds
    node = proc.lookup(f"{proc.pid}/status")
    assert (node.stat().uid, node.stat().gid) == (creds.euid, creds.egid)
    assert proc.lookup(str(proc.pid)).stat().uid == creds.euid
    assert proc.lookup("1/status").stat().uid == 0


# --- machine-wide files ---------------------------------------------------------------------------


def test_system_files(proc: Proc) -> None:
    cpuinfo = proc.read("cpuinfo").decode()
    assert cpuinfo.count("processor\t:") == (os.cpu_count() or 1)
    flags = next(line for line in cpuinfo.splitlines() if line.startswith("flags")).split(":", 1)[1].split()
    assert {"fpu", "sse2", "lm"} <= set(flags)
    assert "QEMU" in cpuinfo  # Unicorn's CPU, not the host's
    assert proc.read("sys/kernel/osrelease") == os.uname().release.encode() + b"\n"
    assert proc.read("sys/kernel/hostname") == os.uname().nodename.encode() + b"\n"
    assert proc.read("sys/kernel/ostype") == b"Linux\n"
    assert int(proc.read("sys/kernel/pid_max")) >= 32768
    assert proc.read("sys/fs/pipe-max-size") == b"1048576\n"
    assert proc.read("sys/vm/overcommit_memory") in (b"0\n", b"1\n", b"2\n")
    assert proc.read("sys/kernel/random/boot_id") == proc.read("sys/kernel/random/boot_id")
    loadavg = proc.read("loadavg").split()
    assert loadavg[3].split(b"/")[1] == str(len(proc.kernel.live_tasks)).encode()
    uptime = float(proc.read("uptime").split()[0])
    assert uptime > 0
    assert b"MemTotal:" in proc.read("meminfo")
    assert b"btime " in proc.read("stat")
    assert proc.read("version").startswith(b"Linux version ")
    assert b"\tproc\n" in proc.read("filesystems")
    with pytest.raises(SysError) as error:
        proc.lookup("sys/kernel/hostname").open(proc.task, O_WRONLY)
    assert error.value.errno == EACCES


class _FakeFS(SimpleFS):
    fstype = "ext4"
    source = "/dev/vda1"


def test_mounts_and_mountinfo(proc: Proc) -> None:
    root_fs = _FakeFS(os.makedev(254, 1))
    root_fs_root = DirInode(root_fs, None, b"", {b"proc": lambda parent, name: DirInode(root_fs, parent, name)})
    root_fs.root = lambda: root_fs_root  # type: ignore[method-assign]
    table = MountTable(root_fs)
    where = table.root_location()
    table.attach(where, b"proc", proc.fs, options="rw," + ProcFS.mount_options)  # "rw" given or not: shown once
    saved, proc.kernel.mounts = proc.kernel.mounts, table
    try:
        mounts = proc.read("self/mounts").decode().splitlines()
        assert mounts == ["/dev/vda1 / ext4 rw 0 0", "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"]
        assert proc.read("mounts") == proc.read("self/mounts")  # /proc/mounts -> self/mounts
        info = proc.read("self/mountinfo").decode().splitlines()
        fields = info[1].split()
        assert fields[0] == str(table.mounts[1].mnt_id) and fields[1] == str(table.root.mnt_id)
        assert fields[4] == "/proc" and fields[6:9] == ["-", "proc", "proc"]
        assert info[0].split()[2] == "254:1"
        assert b"ext4" in proc.read("filesystems")
        location = Location(table.mounts[1], proc.root.lookup(proc.task, b"self"))
        assert d_path(location, table.root_location()) == b"/proc/self"
    finally:
        proc.kernel.mounts = saved


# --- a process that goes away -------------------------------------------------------------------------


def test_reaped_process_is_enoent_and_open_files_esrch(built_testbins, repo_root) -> None:
    proc = Proc(repo_root)
    child = proc.group.children[0]
    pid_dir = proc.lookup(str(child.tgid))
    status = pid_dir.lookup(proc.task, b"status")
    assert isinstance(status, GenInode)
    do_group_exit(child.tasks[0], 9)
    assert child.is_zombie
    zombie = proc.status(f"{child.tgid}/status")
    assert zombie["State"] == "Z (zombie)" and zombie["Threads"] == "1" and "VmSize" not in zombie
    assert proc.read(f"{child.tgid}/cmdline") == b""
    release_task(proc.kernel, child)  # reaped, as by wait4
    assert str(child.tgid).encode() not in names(proc.root, proc.task)
    with pytest.raises(SysError) as error:
        proc.lookup(str(child.tgid))
    assert error.value.errno == ENOENT
    with pytest.raises(SysError) as error:
        status.open(proc.task, O_RDONLY)
    assert error.value.errno == ESRCH
    with pytest.raises(SysError) as error:
        pid_dir.lookup(proc.task, b"stat")
    assert error.value.errno == ENOENT
    assert all(t.state is not TaskState.DEAD for t in proc.group.tasks)



# --- end to end: the guest's /proc through the path walk ------------------------------------------


def test_guest_sees_only_its_own_processes(repo_root) -> None:
    """Under pykern, /proc lists pid 1 (init) and the guest's own pids, never the host's,
    and /proc/self describes the guest program, not pykern's Python process."""
    script = "ls /proc; cat /proc/self/comm; readlink /proc/self/exe; cat /proc/$$/cmdline"
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "/bin/sh", "-c", script], cwd=repo_root,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    pids = sorted(int(line) for line in lines if line.isdigit())
    assert pids == [1, 2, 3]  # init, sh, ls
    assert os.getpid() <= 3 or str(os.getpid()) not in lines  # (a pid namespace can give pytest a guest's pid)
    assert "cat" in lines
    assert os.path.realpath("/bin/readlink") in lines
    assert done.stdout.endswith(b"/bin/sh\0-c\0" + script.encode() + b"\0")


@pytest.mark.skipif(not os.path.exists("/bin/ps"), reason="procps is not installed")
def test_ps_describes_the_guest(repo_root) -> None:
    """procps' ps reads /proc/PID/stat, status and cmdline: it sees init and the guest."""
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "/bin/sh", "-c", "ps -e -o pid=,ppid=,stat=,comm="],
                          cwd=repo_root, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.decode().splitlines()]
    assert [(pid, ppid, comm) for pid, ppid, _, comm in rows] == [("1", "0", "init"), ("2", "1", "sh"), ("3", "2", "ps")]
    # init leads the session, and ps sees that only where the session is visible: in a container whose
    # shell's session leader is outside the pid namespace, Linux reads that session as 0, and so does pykern.
    assert rows[0][2] == ("Ss" if os.getsid(0) else "S")
    assert rows[1][2] in ("S", "R") and rows[2][2] == "R"  # sh: not a session leader (the session is init's); it may not wait yet


def test_mem_reads_and_writes_the_process_memory(proc: Proc) -> None:
    mm = proc.task.mm
    area = next(v for v in mm.vmas if v.end - v.start == 3 * 4096 and not v.name)
    file = proc.lookup("self/mem").open(proc.task, O_RDWR)
    assert file.pread(7, area.start) == b"touched"
    assert file.pwrite(b"TOUCH", area.start) == 5
    assert mm.copy_in(area.start, 7) == b"TOUCHed"
    assert file.lseek(area.start + 2, SEEK_SET) == area.start + 2 and file.read(proc.task, 3) == b"UCH"
    assert file.pread(2 * 4096, area.end - 4096) == mm.copy_in(area.end - 4096, 4096)  # stops at the hole
    with pytest.raises(SysError) as error:
        file.pread(16, 0x1000)  # nothing mapped there
    assert error.value.errno == EIO
    with pytest.raises(SysError) as error:
        file.lseek(0, SEEK_END)
    assert error.value.errno == EINVAL
    assert proc.read("sys/kernel/randomize_va_space") == b"0\n"
    assert proc.read("sys/vm/mmap_min_addr") == b"65536\n"


def test_namespace_and_personality_files(proc: Proc) -> None:
    assert proc.read("self/uid_map") == proc.read("self/gid_map") == b"         0          0 4294967295\n"
    assert proc.read("self/setgroups") == b"allow\n"
    assert proc.read("self/personality") == f"{proc.group.personality:08x}\n".encode()
    assert proc.read("swaps").startswith(b"Filename")
