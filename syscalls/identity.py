"""Who a task is: ids, credentials, the thread registration calls, TLS bases, rlimits.

Credentials and rlimits belong to the thread group (Linux keeps creds per thread, but
glibc's setxid broadcast makes them process-wide in practice). Privilege is modelled as
Linux's capability rules reduce to without file capabilities: CAP_SETUID, CAP_SETGID and
CAP_SYS_RESOURCE are held exactly while the effective uid is 0. The credentials are the
guest's own view: host file access is not re-checked against them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pykern.abi import (
    ARCH_GET_CPUID,
    ARCH_GET_FS,
    ARCH_GET_GS,
    ARCH_SET_CPUID,
    ARCH_SET_FS,
    ARCH_SET_GS,
    CAP_DATA,
    CAP_LAST_CAP,
    CAP_SETGID,
    CAP_SETPCAP,
    CAP_SETUID,
    CAP_SYS_RESOURCE,
    EINVAL,
    ENODEV,
    EPERM,
    ESRCH,
    LINUX_CAPABILITY_VERSION_1,
    LINUX_CAPABILITY_VERSION_2,
    LINUX_CAPABILITY_VERSION_3,
    NGROUPS_MAX,
    NR_OPEN,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    PR_GET_KEEPCAPS,
    PR_GET_NO_NEW_PRIVS,
    PR_SET_KEEPCAPS,
    PR_SET_NO_NEW_PRIVS,
    RLIM_NLIMITS,
    RLIMIT,
    RLIMIT_CPU,
    RLIMIT_NOFILE,
    ROBUST_LIST_HEAD_SIZE,
    TASK_SIZE,
)
from pykern.errors import SysError
from pykern.rlimit import get_rlimit, update_cpu_limit
from pykern.syscalls.table import syscall
from pykern.sysent import (
    ARCH_PRCTL_CODE,
    INT,
    PID,
    PTR,
    RLIMIT_IN,
    RLIMIT_OUT,
    RLIMIT_RESOURCE,
    SIZE,
    UID,
    ULONG,
)
from pykern.task import CAP_FULL_SET, TaskState

if TYPE_CHECKING:
    from pykern.task import Creds, Task, ThreadGroup

# Not in pykern.abi yet (linux/uidgid.h).
INVALID_ID = 0xFFFFFFFF  # (uid_t)-1: "leave unchanged" for setre*/setres*, invalid for setuid


# --- ids ---------------------------------------------------------------------------------


@syscall("getpid", classes="process")
def sys_getpid(task: Task) -> int:
    """getpid(2): the thread group id."""
    return task.group.tgid


@syscall("getppid", classes="process")
def sys_getppid(task: Task) -> int:
    """getppid(2): the first guest process's parent is pykern's init (pid 1)."""
    return task.group.ppid


@syscall("gettid", classes="process")
def sys_gettid(task: Task) -> int:
    """gettid(2)."""
    return task.tid


@syscall("getuid", classes="creds")
def sys_getuid(task: Task) -> int:
    """getuid(2)."""
    return task.group.creds.uid


@syscall("geteuid", classes="creds")
def sys_geteuid(task: Task) -> int:
    """geteuid(2)."""
    return task.group.creds.euid


@syscall("getgid", classes="creds")
def sys_getgid(task: Task) -> int:
    """getgid(2)."""
    return task.group.creds.gid


@syscall("getegid", classes="creds")
def sys_getegid(task: Task) -> int:
    """getegid(2)."""
    return task.group.creds.egid


@syscall("getresuid", PTR, PTR, PTR, classes="creds")
def sys_getresuid(task: Task, ruid_addr: int, euid_addr: int, suid_addr: int) -> int:
    """getresuid(2)."""
    creds = task.group.creds
    task.mm.copy_out_u32(ruid_addr, creds.uid)
    task.mm.copy_out_u32(euid_addr, creds.euid)
    task.mm.copy_out_u32(suid_addr, creds.suid)
    return 0


@syscall("getresgid", PTR, PTR, PTR, classes="creds")
def sys_getresgid(task: Task, rgid_addr: int, egid_addr: int, sgid_addr: int) -> int:
    """getresgid(2)."""
    creds = task.group.creds
    task.mm.copy_out_u32(rgid_addr, creds.gid)
    task.mm.copy_out_u32(egid_addr, creds.egid)
    task.mm.copy_out_u32(sgid_addr, creds.sgid)
    return 0


@syscall("getgroups", INT, PTR, classes="creds")
def sys_getgroups(task: Task, size: int, list_addr: int) -> int:
    """getgroups(2): size 0 asks for the count only."""
    groups = task.group.creds.groups
    if size < 0:
        raise SysError(EINVAL)
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise SysError(EINVAL)
    task.mm.copy_out(list_addr, pack_ids(groups))
    return len(groups)


def pack_ids(ids: list[int]) -> bytes:
    """A gid_t array as the guest lays it out."""
    return b"".join((value & 0xFFFFFFFF).to_bytes(4, "little") for value in ids)


def unpack_ids(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]


# --- changing credentials (kernel/sys.c) -------------------------------------------------


def capable_setid(creds: Creds, which: str = "uid") -> bool:
    """CAP_SETUID (uids) or CAP_SETGID (gids) in the effective set: root's while euid is 0,
    unless capset dropped it."""
    return creds.capable(CAP_SETUID if which == "uid" else CAP_SETGID)


def set_ids(creds: Creds, real: int, effective: int, saved: int, which: str) -> None:
    """Store a (real, effective, saved) triple for `which` ("uid" or "gid")."""
    if which == "uid":
        old = (creds.uid, creds.euid, creds.suid)
        creds.uid, creds.euid, creds.suid = real, effective, saved
        creds.setuid_caps(old)
    else:
        creds.gid, creds.egid, creds.sgid = real, effective, saved


def get_ids(creds: Creds, which: str) -> tuple[int, int, int]:
    if which == "uid":
        return creds.uid, creds.euid, creds.suid
    return creds.gid, creds.egid, creds.sgid


def do_setid(creds: Creds, value: int, which: str) -> None:
    """setuid(2)/setgid(2): privileged callers set all three ids, others only the
    effective one, and only to the real or saved id."""
    if value == INVALID_ID:
        raise SysError(EINVAL)
    real, _effective, saved = get_ids(creds, which)
    if capable_setid(creds, which):
        set_ids(creds, value, value, value, which)
    elif value in (real, saved):
        set_ids(creds, real, value, saved, which)
    else:
        raise SysError(EPERM)


def do_setreid(creds: Creds, new_real: int, new_effective: int, which: str) -> None:
    """setreuid(2)/setregid(2), with Linux's rule for when the saved id follows."""
    real, effective, saved = get_ids(creds, which)
    privileged = capable_setid(creds, which)
    result_real, result_effective = real, effective
    if new_real != INVALID_ID:
        if new_real not in (real, effective) and not privileged:
            raise SysError(EPERM)
        result_real = new_real
    if new_effective != INVALID_ID:
        if new_effective not in (real, effective, saved) and not privileged:
            raise SysError(EPERM)
        result_effective = new_effective
    result_saved = saved
    if new_real != INVALID_ID or (new_effective != INVALID_ID and new_effective != real):
        result_saved = result_effective
    set_ids(creds, result_real, result_effective, result_saved, which)


def do_setresid(creds: Creds, new_ids: tuple[int, int, int], which: str) -> None:
    """setresuid(2)/setresgid(2): unprivileged callers may only pick among current ids."""
    current = get_ids(creds, which)
    if not capable_setid(creds, which):
        for value in new_ids:
            if value != INVALID_ID and value not in current:
                raise SysError(EPERM)
    result = tuple(old if new == INVALID_ID else new for old, new in zip(current, new_ids))
    set_ids(creds, *result, which)


def commit_creds(task: Task, old: Creds) -> None:
    """commit_creds' side effects: a changed effective (hence fs) uid or gid makes the
    process non-dumpable (fs.suid_dumpable) and clears every thread's parent-death signal.
    Capability changes coincide with euid changes in pykern's privilege model."""
    new = task.group.creds
    if (old.euid, old.egid) == (new.euid, new.egid):
        return
    task.mm.dumpable = suid_dumpable()
    for thread in task.group.tasks:
        thread.pdeath_signal = 0


@functools.cache
def suid_dumpable() -> int:
    """The host's fs.suid_dumpable (0, 1 or 2), read once."""
    try:
        with open("/proc/sys/fs/suid_dumpable") as file:
            return int(file.read())
    except (OSError, ValueError):
        return 0


@syscall("setuid", UID, classes="creds")
def sys_setuid(task: Task, uid: int) -> int:
    """setuid(2)."""
    before = task.group.creds.copy()
    do_setid(task.group.creds, uid, "uid")
    commit_creds(task, before)
    return 0


@syscall("setgid", UID, classes="creds")
def sys_setgid(task: Task, gid: int) -> int:
    """setgid(2)."""
    before = task.group.creds.copy()
    do_setid(task.group.creds, gid, "gid")
    commit_creds(task, before)
    return 0


@syscall("setreuid", UID, UID, classes="creds")
def sys_setreuid(task: Task, ruid: int, euid: int) -> int:
    """setreuid(2)."""
    before = task.group.creds.copy()
    do_setreid(task.group.creds, ruid, euid, "uid")
    commit_creds(task, before)
    return 0


@syscall("setregid", UID, UID, classes="creds")
def sys_setregid(task: Task, rgid: int, egid: int) -> int:
    """setregid(2)."""
    before = task.group.creds.copy()
    do_setreid(task.group.creds, rgid, egid, "gid")
    commit_creds(task, before)
    return 0


@syscall("setresuid", UID, UID, UID, classes="creds")
def sys_setresuid(task: Task, ruid: int, euid: int, suid: int) -> int:
    """setresuid(2)."""
    before = task.group.creds.copy()
    do_setresid(task.group.creds, (ruid, euid, suid), "uid")
    commit_creds(task, before)
    return 0


@syscall("setresgid", UID, UID, UID, classes="creds")
def sys_setresgid(task: Task, rgid: int, egid: int, sgid: int) -> int:
    """setresgid(2)."""
    before = task.group.creds.copy()
    do_setresid(task.group.creds, (rgid, egid, sgid), "gid")
    commit_creds(task, before)
    return 0


@syscall("setgroups", INT, PTR, classes="creds")
def sys_setgroups(task: Task, size: int, list_addr: int) -> int:
    """setgroups(2): needs CAP_SETGID."""
    if not 0 <= size <= NGROUPS_MAX:
        raise SysError(EINVAL)
    if not capable_setid(task.group.creds, "gid"):
        raise SysError(EPERM)
    groups = unpack_ids(task.mm.copy_in(list_addr, 4 * size))
    if INVALID_ID in groups:
        raise SysError(EINVAL)
    task.group.creds.groups = sorted(groups)  # Linux keeps the list sorted (groups_sort)
    return 0


# --- thread registration -----------------------------------------------------------------


@syscall("set_tid_address", PTR, classes="process")
def sys_set_tid_address(task: Task, tidptr: int) -> int:
    """set_tid_address(2): the word cleared and futex-woken when this thread exits."""
    task.tid_address = tidptr
    return task.tid


@syscall("set_robust_list", PTR, SIZE, classes="process")
def sys_set_robust_list(task: Task, head_addr: int, length: int) -> int:
    """set_robust_list(2)."""
    if length != ROBUST_LIST_HEAD_SIZE:
        raise SysError(EINVAL)
    task.robust_list = (head_addr, length)
    return 0


@syscall("get_robust_list", PID, PTR, PTR, classes="process")
def sys_get_robust_list(task: Task, pid: int, head_addr_addr: int, len_addr: int) -> int:
    """get_robust_list(2): another process's list needs ptrace-like access (same uid)."""
    target = find_task(task, pid)
    if not may_access(task, target):
        raise SysError(EPERM)
    head_addr, _length = target.robust_list
    task.mm.copy_out_u64(len_addr, ROBUST_LIST_HEAD_SIZE)
    task.mm.copy_out_u64(head_addr_addr, head_addr)
    return 0


def find_task(task: Task, tid: int) -> Task:
    """find_task_by_vpid: the live thread `tid` anywhere in the guest (0: the caller)."""
    if tid == 0 or tid == task.tid:
        return task
    target = task.kernel.tasks.get(tid)
    if target is None or target.state is TaskState.DEAD:
        raise SysError(ESRCH)
    return target


def may_access(task: Task, target: Task) -> bool:
    """A simplified ptrace_may_access / check_prlimit_permission: the caller's own process,
    a process whose real, effective and saved ids all equal the caller's real ids, or any
    process when the caller is privileged (euid 0)."""
    if target.group is task.group or task.group.creds.euid == 0:
        return True
    mine, theirs = task.group.creds, target.group.creds
    same_uids = theirs.uid == theirs.euid == theirs.suid == mine.uid
    same_gids = theirs.gid == theirs.egid == theirs.sgid == mine.gid
    return same_uids and same_gids


# --- arch_prctl --------------------------------------------------------------------------


@syscall("arch_prctl", ARCH_PRCTL_CODE, ULONG, classes="process")
def sys_arch_prctl(task: Task, code: int, addr: int) -> int:
    """arch_prctl(2). ARCH_SET_CPUID fails with ENODEV: the emulated CPU has no CPUID
    faulting (Linux's answer on such hardware)."""
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        if addr >= TASK_SIZE:  # TASK_SIZE_MAX: no base at or above it
            raise SysError(EPERM)
        if code == ARCH_SET_FS:
            task.set_fs_base(addr)
        else:
            task.set_gs_base(addr)
        return 0
    if code == ARCH_GET_FS:
        task.mm.copy_out_u64(addr, task.get_fs_base())
        return 0
    if code == ARCH_GET_GS:
        task.mm.copy_out_u64(addr, task.get_gs_base())
        return 0
    if code == ARCH_GET_CPUID:
        return 1
    if code == ARCH_SET_CPUID:
        raise SysError(ENODEV)
    raise SysError(EINVAL)


# --- resource limits (kernel/sys.c do_prlimit) -------------------------------------------


def check_new_rlimit(resource: int, old: tuple[int, int], new: tuple[int, int], privileged: bool) -> None:
    """The checks do_prlimit makes before installing `new` over `old`."""
    cur, maximum = new
    if cur > maximum:
        raise SysError(EINVAL)
    if resource == RLIMIT_NOFILE and maximum > NR_OPEN:
        raise SysError(EPERM)
    if maximum > old[1] and not privileged:
        raise SysError(EPERM)


def do_prlimit(
    group: ThreadGroup, resource: int, new: tuple[int, int] | None, privileged: bool
) -> tuple[int, int]:
    """Install `new` (if given) and return the previous limit."""
    if resource >= RLIM_NLIMITS:
        raise SysError(EINVAL)
    old = get_rlimit(group, resource)
    if new is not None:
        check_new_rlimit(resource, old, new, privileged)
        group.rlimits[resource] = new
        if resource == RLIMIT_NOFILE:
            group.files.max_fds = new[0]  # the fd table's allocation limit (alloc_fd reads it)
        elif resource == RLIMIT_CPU:
            update_cpu_limit(group)
    return old


@syscall("prlimit64", PID, RLIMIT_RESOURCE, RLIMIT_IN, RLIMIT_OUT, classes="process")
def sys_prlimit64(task: Task, pid: int, resource: int, new_limit_addr: int, old_limit_addr: int) -> int:
    """prlimit(2)."""
    new = RLIMIT.unpack(task.mm.copy_in(new_limit_addr, RLIMIT.size)) if new_limit_addr else None
    target = find_task(task, pid)
    if not may_access(task, target):
        raise SysError(EPERM)
    old = do_prlimit(target.group, resource, new, task.group.creds.capable(CAP_SYS_RESOURCE))
    if old_limit_addr:
        task.mm.copy_out(old_limit_addr, RLIMIT.pack(*old))
    return 0


@syscall("getrlimit", RLIMIT_RESOURCE, RLIMIT_OUT, classes="process")
def sys_getrlimit(task: Task, resource: int, rlim_addr: int) -> int:
    """getrlimit(2)."""
    old = do_prlimit(task.group, resource, None, False)
    task.mm.copy_out(rlim_addr, RLIMIT.pack(*old))
    return 0


@syscall("setrlimit", RLIMIT_RESOURCE, RLIMIT_IN, classes="process")
def sys_setrlimit(task: Task, resource: int, rlim_addr: int) -> int:
    """setrlimit(2)."""
    new = RLIMIT.unpack(task.mm.copy_in(rlim_addr, RLIMIT.size))
    do_prlimit(task.group, resource, new, task.group.creds.capable(CAP_SYS_RESOURCE))
    return 0


# --- capabilities (kernel/capability.c, security/commoncap.c) ------------------------------

_CAP_U32S = {LINUX_CAPABILITY_VERSION_1: 1, LINUX_CAPABILITY_VERSION_2: 2, LINUX_CAPABILITY_VERSION_3: 2}


def _cap_validate_magic(task: Task, header_addr: int) -> int:
    """cap_validate_magic: how many 32-bit words of each set the header's version has;
    an unknown version gets the preferred one written back, and EINVAL."""
    version = task.mm.copy_in_u32(header_addr)
    words = _CAP_U32S.get(version)
    if words is None:
        task.mm.copy_out_u32(header_addr, LINUX_CAPABILITY_VERSION_3)
        raise SysError(EINVAL)
    return words


@syscall("capget", PTR, PTR, classes="creds")
def sys_capget(task: Task, hdrp_addr: int, datap_addr: int) -> int:
    """capget(2): any thread's sets (pid 0: the caller). A NULL data pointer probes the
    version: 0 even for an unknown one, which is written back."""
    try:
        words = _cap_validate_magic(task, hdrp_addr)
    except SysError as error:
        if not datap_addr and error.errno == EINVAL:
            return 0
        raise
    if not datap_addr:
        return 0
    pid = task.mm.copy_in_i32(hdrp_addr + 4)
    if pid < 0:
        raise SysError(EINVAL)
    creds = find_task(task, pid).group.creds
    data = b"".join(CAP_DATA.pack(creds.cap_effective >> shift & 0xFFFFFFFF, creds.cap_permitted >> shift & 0xFFFFFFFF,
                                  creds.cap_inheritable >> shift & 0xFFFFFFFF)
                    for shift in (0, 32)[:words])
    task.mm.copy_out(datap_addr, data)
    return 0


@syscall("capset", PTR, PTR, classes="creds")
def sys_capset(task: Task, hdrp_addr: int, datap_addr: int) -> int:
    """capset(2) on the caller only (EPERM for another pid), with commoncap's rules: no
    permitted capability gained, effective within the new permitted, inheritable within
    the old inheritable | permitted (unless CAP_SETPCAP) and within the bounding set."""
    words = _cap_validate_magic(task, hdrp_addr)
    pid = task.mm.copy_in_i32(hdrp_addr + 4)
    if pid not in (0, task.tid):
        raise SysError(EPERM)
    raw = task.mm.copy_in(datap_addr, words * CAP_DATA.size)
    sets = [0, 0, 0]
    for word in range(words):
        for i, value in enumerate(CAP_DATA.unpack_from(raw, word * CAP_DATA.size)):
            sets[i] |= value << (32 * word)
    effective, permitted, inheritable = (value & CAP_FULL_SET for value in sets)
    creds = task.group.creds
    if not creds.capable(CAP_SETPCAP) and inheritable & ~(creds.cap_inheritable | creds.cap_permitted):
        raise SysError(EPERM)
    if inheritable & ~(creds.cap_inheritable | creds.cap_bset):
        raise SysError(EPERM)
    if permitted & ~creds.cap_permitted or effective & ~permitted:
        raise SysError(EPERM)
    creds.cap_effective, creds.cap_permitted, creds.cap_inheritable = effective, permitted, inheritable
    return 0


def prctl_creds(task: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int | None:
    """prctl(2)'s privilege options (cap_task_prctl and kernel/sys.c); None for others."""
    creds = task.group.creds
    if option == PR_CAPBSET_READ:
        if arg2 > CAP_LAST_CAP:
            raise SysError(EINVAL)
        return creds.cap_bset >> arg2 & 1
    if option == PR_CAPBSET_DROP:
        if not creds.capable(CAP_SETPCAP):
            raise SysError(EPERM)
        if arg2 > CAP_LAST_CAP:
            raise SysError(EINVAL)
        creds.cap_bset &= ~(1 << arg2)
        return 0
    if option == PR_GET_KEEPCAPS:
        return int(creds.keepcaps)
    if option == PR_SET_KEEPCAPS:
        if arg2 > 1:
            raise SysError(EINVAL)
        creds.keepcaps = bool(arg2)
        return 0
    if option == PR_SET_NO_NEW_PRIVS:
        if arg2 != 1 or arg3 or arg4 or arg5:
            raise SysError(EINVAL)
        creds.no_new_privs = True
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if arg2 or arg3 or arg4 or arg5:
            raise SysError(EINVAL)
        return int(creds.no_new_privs)
    return None
