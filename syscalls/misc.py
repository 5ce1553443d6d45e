"""The system as a whole and per-task odds and ends: uname, sysinfo, getrandom, CPU
affinity, getcpu, prctl, rseq.

The machine the guest sees is the host's: its uname, memory, load and CPUs, read when
asked. Per-task state kept here (affinity, pdeath signal, dumpable) lives on the task or
its MM under the names noted below.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import TYPE_CHECKING

from pykern.abi import (
    EFAULT,
    EINVAL,
    ENOSYS,
    EPERM,
    GRND_INSECURE,
    GRND_NONBLOCK,
    GRND_RANDOM,
    MAX_RW_COUNT,
    NSIG,
    PAGE_SIZE,
    SYSINFO,
    TASK_COMM_LEN,
    UTSNAME_FIELD,
)
from pykern.errors import Fault, SysError
from pykern.fs.proc.system import host_loadavg, host_meminfo
from pykern.syscalls.identity import find_task, may_access, prctl_creds
from pykern.syscalls.table import syscall
from pykern.sysent import GETRANDOM_FLAGS, INT, PID, PTR, RANDOM_OUT, SIZE, UINT, ULONG, UTSNAME_OUT

if TYPE_CHECKING:
    from pykern.task import Task

# Not in pykern.abi yet (linux/prctl.h, linux/sysinfo.h, linux/fs.h).
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
SUID_DUMP_DISABLE = 0
SUID_DUMP_USER = 1
SI_LOAD_SHIFT = 16
GRND_FLAGS = GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE
RANDOM_CHUNK = 1 << 20  # getrandom fills guest memory this much at a time


# --- uname, sysinfo ----------------------------------------------------------------------


def read_host_text(path: str, default: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return default


def pack_utsname(fields: list[str]) -> bytes:
    """struct utsname: six NUL-padded 65-byte fields (each at most 64 characters)."""
    return b"".join(f.encode()[: UTSNAME_FIELD - 1].ljust(UTSNAME_FIELD, b"\0") for f in fields)


@syscall("uname", UTSNAME_OUT)
def sys_uname(task: Task, buf_addr: int) -> int:
    """uname(2): the host's identity (the guest runs on this machine)."""
    host = os.uname()
    domainname = read_host_text("/proc/sys/kernel/domainname", "(none)")
    fields = [host.sysname, host.nodename, host.release, host.version, host.machine, domainname]
    task.mm.copy_out(buf_addr, pack_utsname(fields))
    return 0


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as {field: bytes}."""
    result = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            result[name.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return result


def load_to_fixed(load: float) -> int:
    """A load average as sysinfo's loads[]: avenrun (FSHIFT 11) << (SI_LOAD_SHIFT - 11)."""
    return round(load * 2048) << (SI_LOAD_SHIFT - 11)


@syscall("sysinfo", PTR)
def sys_sysinfo(task: Task, info_addr: int) -> int:
    """sysinfo(2): the host's memory and load; procs counts the guest's tasks."""
    uptime_seconds, uptime_ns = divmod(task.kernel.clock.boottime_ns(), 1_000_000_000)
    memory = parse_meminfo(host_meminfo(task.kernel))
    loads = [load_to_fixed(load) for load in host_loadavg(task.kernel)]
    info = SYSINFO.pack(
        uptime_seconds + (1 if uptime_ns else 0),
        *loads,
        memory.get("MemTotal", 0),
        memory.get("MemFree", 0),
        memory.get("Shmem", 0),
        memory.get("Buffers", 0),
        memory.get("SwapTotal", 0),
        memory.get("SwapFree", 0),
        min(len(task.kernel.tasks), 0xFFFF),
        0,  # totalhigh
        0,  # freehigh
        1,  # mem_unit: with 64-bit fields Linux always reports bytes
    )
    task.mm.copy_out(info_addr, info)
    return 0


# --- getrandom ---------------------------------------------------------------------------


def check_getrandom_flags(flags: int) -> None:
    if flags & ~GRND_FLAGS:
        raise SysError(EINVAL)
    if flags & (GRND_INSECURE | GRND_RANDOM) == GRND_INSECURE | GRND_RANDOM:
        raise SysError(EINVAL)


def fill_random(task: Task, buf_addr: int, count: int) -> int:
    """Write `count` random bytes; on a fault keep what was written before the faulting
    page, as get_random_bytes_user does (EFAULT only if nothing was written)."""
    done = 0
    while done < count:
        size = min(count - done, RANDOM_CHUNK)
        try:
            task.mm.copy_out(buf_addr + done, task.kernel.random_bytes(size))
        except Fault:
            return done + fill_random_by_page(task, buf_addr + done, size)
        done += size
    return done


def fill_random_by_page(task: Task, addr: int, size: int) -> int:
    done = 0
    while done < size:
        piece = min(size - done, PAGE_SIZE - (addr + done) % PAGE_SIZE)
        try:
            task.mm.copy_out(addr + done, task.kernel.random_bytes(piece))
        except Fault:
            break
        done += piece
    return done


@syscall("getrandom", RANDOM_OUT, SIZE, GETRANDOM_FLAGS)
def sys_getrandom(task: Task, buf_addr: int, count: int, flags: int) -> int:
    """getrandom(2). The pool is always initialised, so GRND_NONBLOCK never matters;
    one call returns at most MAX_RW_COUNT bytes, as in Linux >= 5.18."""
    check_getrandom_flags(flags)
    count = min(count, MAX_RW_COUNT)
    written = fill_random(task, buf_addr, count)
    if count and not written:
        raise SysError(EFAULT)
    return written


# --- CPU affinity ------------------------------------------------------------------------


def parse_cpu_list(text: str) -> frozenset[int]:
    """A sysfs CPU list such as "0-3,8,10-11"."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return frozenset(cpus)


def pack_cpu_mask(cpus: frozenset[int], size: int) -> bytes:
    """The first `size` bytes of a cpumask (bit n = CPU n, little-endian longs)."""
    bits = sum(1 << cpu for cpu in cpus if cpu < size * 8)
    return bits.to_bytes(size, "little")


def unpack_cpu_mask(data: bytes) -> frozenset[int]:
    bits = int.from_bytes(data, "little")
    return frozenset(cpu for cpu in range(len(data) * 8) if bits >> cpu & 1)


@functools.cache
def possible_cpus() -> frozenset[int]:
    text = read_host_text("/sys/devices/system/cpu/possible", "")
    return parse_cpu_list(text) if text else frozenset(range(os.cpu_count() or 1))


def nr_cpu_ids() -> int:
    return max(possible_cpus()) + 1


def online_cpus() -> frozenset[int]:
    text = read_host_text("/sys/devices/system/cpu/online", "")
    return parse_cpu_list(text) if text else frozenset(os.sched_getaffinity(0))


@functools.cache
def cpumask_size() -> int:
    """The host kernel's cpumask_size(): what sched_getaffinity copies for a large buffer
    (NR_CPUS/8 or nr_cpu_ids rounded to longs, depending on its configuration). Only the
    host kernel knows, so it is asked once."""
    fallback = (nr_cpu_ids() + 63) // 64 * 8
    host = os.uname()
    if host.sysname != "Linux" or host.machine != "x86_64":
        return fallback
    buffer = ctypes.create_string_buffer(8192)
    size = ctypes.CDLL(None, use_errno=True).syscall(204, 0, len(buffer), buffer)  # host x86-64 nr
    return size if size > 0 else fallback


def task_affinity(task: Task) -> frozenset[int]:
    """The CPUs `task` may run on: `task.cpu_affinity` once set, else the host's own
    affinity (what a native process started here would inherit)."""
    affinity = getattr(task, "cpu_affinity", None)
    return affinity if affinity is not None else frozenset(os.sched_getaffinity(0))


@syscall("sched_getaffinity", PID, UINT, PTR, classes="process")
def sys_sched_getaffinity(task: Task, pid: int, cpusetsize: int, mask_addr: int) -> int:
    """sched_getaffinity(2): returns the number of bytes written."""
    if cpusetsize * 8 < nr_cpu_ids() or cpusetsize % 8:
        raise SysError(EINVAL)
    target = find_task(task, pid)
    size = min(cpusetsize, cpumask_size())
    task.mm.copy_out(mask_addr, pack_cpu_mask(task_affinity(target), size))
    return size


@syscall("sched_setaffinity", PID, UINT, PTR, classes="process")
def sys_sched_setaffinity(task: Task, pid: int, cpusetsize: int, mask_addr: int) -> int:
    """sched_setaffinity(2): the mask is cut to cpumask_size() and to the online CPUs;
    EINVAL if nothing is left. pykern does not place tasks on CPUs: the mask is recorded
    for sched_getaffinity and getcpu. Stored as `task.cpu_affinity`."""
    requested = unpack_cpu_mask(task.mm.copy_in(mask_addr, min(cpusetsize, cpumask_size())))
    target = find_task(task, pid)
    if not may_access(task, target):
        raise SysError(EPERM)
    allowed = requested & online_cpus()
    if not allowed:
        raise SysError(EINVAL)
    target.cpu_affinity = allowed
    if target is task:
        task.kernel.vdso.vvar.set_cpu(allowed)  # the vDSO's getcpu, for the rest of this slice
    return 0


@syscall("getcpu", PTR, PTR, PTR)
def sys_getcpu(task: Task, cpu_addr: int, node_addr: int, tcache_addr: int) -> int:
    """getcpu(2): the lowest CPU the task may run on, node 0; either pointer may be NULL."""
    if cpu_addr:
        task.mm.copy_out_u32(cpu_addr, min(task_affinity(task)))
    if node_addr:
        task.mm.copy_out_u32(node_addr, 0)
    return 0


# --- rseq, prctl -------------------------------------------------------------------------


@syscall("rseq", PTR, UINT, INT, UINT, note="unsupported: ENOSYS, glibc falls back")
def sys_rseq(task: Task, rseq_addr: int, rseq_len: int, flags: int, sig: int) -> int:
    """rseq(2): declared unsupported. glibc registers rseq at startup and, on ENOSYS,
    runs without it (sched_getcpu falls back to getcpu)."""
    raise SysError(ENOSYS)


def copy_in_comm(task: Task, addr: int) -> bytes:
    """strncpy_from_user of at most TASK_COMM_LEN - 1 bytes, stopping at a NUL."""
    out = b""
    while len(out) < TASK_COMM_LEN - 1:
        size = min(TASK_COMM_LEN - 1 - len(out), PAGE_SIZE - (addr + len(out)) % PAGE_SIZE)
        data = task.mm.copy_in(addr + len(out), size)
        nul = data.find(0)
        if nul >= 0:
            return out + data[:nul]
        out += data
    return out


@syscall("prctl", INT, ULONG, ULONG, ULONG, ULONG, classes="process")
def sys_prctl(task: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    """prctl(2): PR_SET/GET_NAME, PR_SET/GET_DUMPABLE, PR_SET/GET_PDEATHSIG,
    PR_SET/GET_CHILD_SUBREAPER, and the capability and no_new_privs options
    (identity.prctl_creds); other
    options fail with EINVAL, as on a kernel that lacks them. The dumpable flag is kept
    on the MM (`mm.dumpable`), the death signal on the task (`task.pdeath_signal`)."""
    if option == PR_SET_NAME:
        task.comm = copy_in_comm(task, arg2)
        return 0
    if option == PR_GET_NAME:
        task.mm.copy_out(arg2, task.comm[: TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return getattr(task.mm, "dumpable", SUID_DUMP_USER)
    if option == PR_SET_DUMPABLE:
        if arg2 not in (SUID_DUMP_DISABLE, SUID_DUMP_USER):
            raise SysError(EINVAL)
        task.mm.dumpable = arg2
        return 0
    if option == PR_SET_PDEATHSIG:
        if arg2 > NSIG:
            raise SysError(EINVAL)
        task.pdeath_signal = arg2
        return 0
    if option == PR_GET_PDEATHSIG:
        task.mm.copy_out_i32(arg2, getattr(task, "pdeath_signal", 0))
        return 0
    if option == PR_SET_CHILD_SUBREAPER:  # orphaned descendants are reparented to us (pykern.exit)
        task.group.child_subreaper = bool(arg2)
        return 0
    if option == PR_GET_CHILD_SUBREAPER:
        task.mm.copy_out_i32(arg2, int(task.group.child_subreaper))
        return 0
    result = prctl_creds(task, option, arg2, arg3, arg4, arg5)
    if result is not None:
        return result
    raise SysError(EINVAL)
