"""Decoders of poll/select, epoll and eventfd, process resources, and file-system calls
(statfs, xattrs, fadvise, mincore)."""

from __future__ import annotations

from pykern import abi
from pykern.strace.calls import _fmt_array, _hex0, _s32
from pykern.strace.formats import AT_FLAG_BITS, flags, ptr
from pykern.strace.kinds import RETURNS, SPECIAL, _dirfd, fmt_arg
from pykern.strace.structs import Call, fmt_buffer, fmt_path, fmt_sigset, fmt_str, fmt_timespec

# --- poll, ppoll, select, pselect6: the request at entry, what is ready in the result ---

POLL_BITS = [(abi.POLLIN, "POLLIN"), (abi.POLLPRI, "POLLPRI"), (abi.POLLOUT, "POLLOUT"), (abi.POLLERR, "POLLERR"),
             (abi.POLLHUP, "POLLHUP"), (abi.POLLNVAL, "POLLNVAL"), (abi.POLLRDNORM, "POLLRDNORM"),
             (abi.POLLRDBAND, "POLLRDBAND"), (abi.POLLWRNORM, "POLLWRNORM"), (abi.POLLWRBAND, "POLLWRBAND"),
             (0x400, "POLLMSG"), (0x1000, "POLLREMOVE"), (abi.POLLRDHUP, "POLLRDHUP")]


def _pollfds(call: Call) -> list[tuple[int, int, int]] | None:
    addr, count = call.args[0], call.args[1] & 0xFFFFFFFF
    data = call.read(addr, count * abi.POLLFD.size) if count else b""
    return None if data is None else [abi.POLLFD.unpack_from(data, i * abi.POLLFD.size) for i in range(count)]


def _poll_entry(call: Call, ppoll: bool) -> str:
    entries = _pollfds(call)
    if call.args[0] == 0:
        shown = "NULL"
    elif entries is None:
        shown = ptr(call.args[0])
    else:
        shown = "[" + ", ".join(f"{{fd={fd}, events={flags(events & 0xFFFF, POLL_BITS)}}}" if fd >= 0 else f"{{fd={fd}}}"
                                for fd, events, _ in entries) + "]"
    count = call.args[1] & 0xFFFFFFFF
    if not ppoll:
        return f"{shown}, {count}, {_s32(call.args[2])}"
    mask = fmt_sigset(call, call.args[3])
    return f"{shown}, {count}, {fmt_timespec(call, call.args[2])}, {mask}, {call.args[4]}"


def _fd_set(call: Call, addr: int, nfds: int) -> str:
    if addr == 0:
        return "NULL"
    size = (nfds + 63) // 64 * 8
    data = call.read(addr, size) if size else b""
    if data is None:
        return ptr(addr)
    bits = int.from_bytes(data, "little")
    return "[" + " ".join(str(fd) for fd in range(nfds) if bits >> fd & 1) + "]"


def _select_entry(call: Call, pselect: bool) -> str:
    nfds = _s32(call.args[0])
    sets = ", ".join(_fd_set(call, call.args[i], max(nfds, 0)) for i in (1, 2, 3))
    if not pselect:
        return f"{nfds}, {sets}, {fmt_timespec(call, call.args[4], usec=True)}"
    sig_data = call.args[5]
    shown = "NULL"
    if sig_data:
        data = call.read(sig_data, abi.SIGSET_ARG.size)
        if data is None:
            shown = ptr(sig_data)
        else:
            mask_addr, mask_size = abi.SIGSET_ARG.unpack(data)
            shown = f"{{sigmask={fmt_sigset(call, mask_addr)}, sigsetsize={mask_size}}}"
    return f"{nfds}, {sets}, {fmt_timespec(call, call.args[4])}, {shown}"


def _poll_ready(call: Call, timeout_index: int | None) -> str:
    """poll's and ppoll's result: ` (Timeout)` or `1 ([{fd=3, revents=POLLIN}], left ...)`."""
    if call.result == 0:
        return "0 (Timeout)"
    entries = _pollfds(call) or []
    ready = [f"{{fd={fd}, revents={flags(revents & 0xFFFF, POLL_BITS)}}}" for fd, _, revents in entries
             if fd >= 0 and revents]
    parts = ["[" + ", ".join(ready) + "]"]
    timeout = call.args[timeout_index] if timeout_index is not None else 0
    if timeout:
        parts.append(f"left {fmt_timespec(call, timeout)}")
    return f"{call.result} ({', '.join(parts)})"


def _select_ready(call: Call, usec: bool) -> str:
    """select's and pselect6's result: ` (Timeout)` or `1 (in [3], left ...)`."""
    if call.result == 0:
        return "0 (Timeout)"
    nfds = max(_s32(call.args[0]), 0)
    parts = [f"{label} {_fd_set(call, call.args[i], nfds)}" for i, label in ((1, "in"), (2, "out"), (3, "except"))
             if call.args[i] and _fd_set(call, call.args[i], nfds) != "[]"]
    if call.args[4]:
        parts.append(f"left {fmt_timespec(call, call.args[4], usec=usec)}")
    return f"{call.result} ({', '.join(parts)})"


RETURNS.update({
    "poll": lambda call: _poll_ready(call, None),
    "ppoll": lambda call: _poll_ready(call, 2),
    "select": lambda call: _select_ready(call, usec=True),
    "pselect6": lambda call: _select_ready(call, usec=False),
})


# --- epoll and eventfd ---

EPOLL_BITS = [(bit, "E" + name) for bit, name in POLL_BITS] + [
    (1 << 28, "EPOLLEXCLUSIVE"), (1 << 29, "EPOLLWAKEUP"), (1 << 30, "EPOLLONESHOT"), (1 << 31, "EPOLLET")]
EPOLL_CTL_NAMES = {1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}
EFD_BITS = [(1, "EFD_SEMAPHORE"), (abi.O_CLOEXEC, "EFD_CLOEXEC"), (abi.O_NONBLOCK, "EFD_NONBLOCK")]


def _epoll_event(events: int, data: int) -> str:
    shown = flags(events, EPOLL_BITS)
    return f"{{events={shown}, data={{u32={data & 0xFFFFFFFF}, u64={data}}}}}"


def _epoll_create1_args(call: Call) -> list[str]:
    return [flags(call.args[0] & 0xFFFFFFFF, [(abi.O_CLOEXEC, "EPOLL_CLOEXEC")], unknown="EPOLL_???")]


def _epoll_ctl_args(call: Call) -> list[str]:
    op = call.args[1] & 0xFFFFFFFF
    name = EPOLL_CTL_NAMES.get(op, f"{op:#x} /* EPOLL_CTL_??? */")
    addr = call.args[3]
    data = call.read(addr, abi.EPOLL_EVENT.size) if addr else None
    event = "NULL" if not addr else ptr(addr) if data is None else _epoll_event(*abi.EPOLL_EVENT.unpack(data))
    return [str(_s32(call.args[0])), name, str(_s32(call.args[2])), event]


def _epoll_wait_exit(call: Call, pwait: int) -> str:
    """epoll_wait (`pwait` 0), epoll_pwait (1: and a mask), epoll_pwait2 (2: a timespec)."""
    addr, maxevents, timeout = call.args[1], _s32(call.args[2]), _s32(call.args[3])
    if call.failed or call.result is None:
        shown = ptr(addr)
    else:
        data = call.read(addr, call.result * abi.EPOLL_EVENT.size) if call.result else b""
        shown = ptr(addr) if data is None else "[" + ", ".join(
            _epoll_event(*abi.EPOLL_EVENT.unpack_from(data, i * abi.EPOLL_EVENT.size)) for i in range(call.result)) + "]"
    rest = f"{shown}, {maxevents}, "
    if pwait == 2:
        rest += fmt_timespec(call, call.args[3])
    else:
        rest += str(timeout)
    if pwait:  # (strace shows the mask only when the call succeeded)
        mask = ptr(call.args[4]) if call.failed else fmt_sigset(call, call.args[4])
        rest += f", {mask}, {call.args[5]}"
    return rest


def _eventfd2_args(call: Call) -> list[str]:
    return [str(call.args[0] & 0xFFFFFFFF), flags(call.args[1] & 0xFFFFFFFF, EFD_BITS)]


SPECIAL.update({"epoll_create1": _epoll_create1_args, "epoll_ctl": _epoll_ctl_args, "eventfd2": _eventfd2_args})


# --- process resources, locks, memfd ---

PRIO_NAMES = {0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"}
SCHED_NAMES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE",
               6: "SCHED_DEADLINE"}
RUSAGE_WHO = {0: "RUSAGE_SELF", -1: "RUSAGE_CHILDREN", 1: "RUSAGE_THREAD"}
FLOCK_BITS = [(1, "LOCK_SH"), (2, "LOCK_EX"), (4, "LOCK_NB"), (8, "LOCK_UN")]
MFD_BITS = [(1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (4, "MFD_HUGETLB")]
PERSONALITY_BITS = [(0x0040000, "ADDR_NO_RANDOMIZE"), (0x0800000, "ADDR_LIMIT_3GB"), (0x0400000, "READ_IMPLIES_EXEC")]


def _named(table: dict[int, str], value: int, family: str) -> str:
    return table.get(value, f"{value & 0xFFFFFFFF:#x} /* {family}_??? */")


def _personality(value: int) -> str:
    return "|".join(["PER_LINUX"] + [n for b, n in PERSONALITY_BITS if value & b]) if value & 0xFF == 0 else hex(value)


def _getrusage_args(call: Call) -> list[str]:
    return [_named(RUSAGE_WHO, _s32(call.args[0]), "RUSAGE"), fmt_arg(call, 1)]


def _priority_args(call: Call, setting: bool) -> list[str]:
    shown = [_named(PRIO_NAMES, _s32(call.args[0]), "PRIO"), str(_s32(call.args[1]))]
    return shown + ([str(_s32(call.args[2]))] if setting else [])


def _personality_args(call: Call) -> list[str]:
    value = call.args[0] & 0xFFFFFFFF
    return [ptr(value) if value == 0xFFFFFFFF else _personality(value)]


SPECIAL.update({
    "getrusage": _getrusage_args,
    "getpriority": lambda call: _priority_args(call, setting=False),
    "setpriority": lambda call: _priority_args(call, setting=True),
    "sched_get_priority_max": lambda call: [_named(SCHED_NAMES, _s32(call.args[0]), "SCHED")],
    "sched_get_priority_min": lambda call: [_named(SCHED_NAMES, _s32(call.args[0]), "SCHED")],
    "sched_getparam": lambda call: [str(_s32(call.args[0])), _fmt_array(call, call.args[1], 1, 4, str)],
    "flock": lambda call: [str(_s32(call.args[0])), flags(call.args[1] & 0xFFFFFFFF, FLOCK_BITS)],
    "memfd_create": lambda call: [fmt_str(call, call.args[0]),
                                  flags(call.args[1] & 0xFFFFFFFF, MFD_BITS, unknown="MFD_???")],
    "fchownat": lambda call: [_dirfd(_s32(call.args[0])), fmt_path(call, call.args[1]), str(_s32(call.args[2])),
                              str(_s32(call.args[3])), flags(call.args[4] & 0xFFFFFFFF, AT_FLAG_BITS, unknown="AT_???")],
    "personality": _personality_args,
})
RETURNS.update({
    "sched_getscheduler": lambda call: f"{call.result} ({SCHED_NAMES.get(call.result, '?')})"
    if call.result >= 0 else None,
    "personality": lambda call: f"{ptr(call.result) if call.result else 0} ({_personality(call.result)})"
    if call.result >= 0 else None,
})


# --- file systems: statfs, xattrs, fadvise, mincore, socket names ---

# f_type as strace names it (include/uapi/linux/magic.h)
FS_MAGIC_NAMES = {0xEF53: "EXT2_SUPER_MAGIC", abi.PIPEFS_MAGIC: "PIPEFS_MAGIC", 0x01021994: "TMPFS_MAGIC",
                  0x9FA0: "PROC_SUPER_MAGIC", 0x62656572: "SYSFS_MAGIC", 0x1CD1: "DEVPTS_SUPER_MAGIC",
                  0x794C7630: "OVERLAYFS_SUPER_MAGIC", 0x9123683E: "BTRFS_SUPER_MAGIC",
                  0x58465342: "XFS_SUPER_MAGIC", 0x6969: "NFS_SUPER_MAGIC", 0x65735546: "FUSE_SUPER_MAGIC",
                  0x01021997: "V9FS_MAGIC", 0x63677270: "CGROUP2_SUPER_MAGIC", 0x534F434B: "SOCKFS_MAGIC",
                  0x09041934: "ANON_INODE_FS_MAGIC", 0x2FC12FC1: "ZFS_SUPER_MAGIC"}
ST_FLAG_BITS = [(0x1, "ST_RDONLY"), (0x2, "ST_NOSUID"), (0x4, "ST_NODEV"), (0x8, "ST_NOEXEC"),
                (0x10, "ST_SYNCHRONOUS"), (abi.ST_VALID, "ST_VALID"), (0x40, "ST_MANDLOCK"), (0x80, "ST_WRITE"),
                (0x100, "ST_APPEND"), (0x200, "ST_IMMUTABLE"), (0x400, "ST_NOATIME"), (0x800, "ST_NODIRATIME"),
                (0x1000, "ST_RELATIME"), (0x2000, "ST_NOSYMFOLLOW")]
FADV_NAMES = {0: "POSIX_FADV_NORMAL", 1: "POSIX_FADV_RANDOM", 2: "POSIX_FADV_SEQUENTIAL",
              3: "POSIX_FADV_WILLNEED", 4: "POSIX_FADV_DONTNEED", 5: "POSIX_FADV_NOREUSE"}


def fmt_statfs(call: Call, value: int) -> str:
    data = None if call.failed else call.read(value, abi.STATFS.size)
    if data is None:
        return ptr(value)
    (ftype, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, fflags,
     *_spare) = abi.STATFS.unpack(data)
    fsid = ", ".join(_hex0(v & 0xFFFFFFFF) for v in (fsid0, fsid1))
    return (f"{{f_type={FS_MAGIC_NAMES.get(ftype, hex(ftype))}, f_bsize={bsize}, f_blocks={blocks}, "
            f"f_bfree={bfree}, f_bavail={bavail}, f_files={files}, f_ffree={ffree}, f_fsid={{val=[{fsid}]}}, "
            f"f_namelen={namelen}, f_frsize={frsize}, f_flags={flags(fflags, ST_FLAG_BITS)}}}")


def _xattr_value(call: Call, addr: int, size: int) -> str:
    """What getxattr/listxattr wrote: the result's bytes, once the call succeeded."""
    if addr == 0 or call.failed or call.result is None or size == 0:
        return ptr(addr) if addr else "NULL"
    return fmt_buffer(call, addr, call.result)


def _xattr_target(call: Call, by_fd: bool) -> str:
    """The first argument of the xattr calls: a path, or an fd for the f* ones."""
    return str(_s32(call.args[0])) if by_fd else fmt_path(call, call.args[0])


def _getxattr_args(call: Call, by_fd: bool = False) -> list[str]:
    first = _xattr_target(call, by_fd)
    return [first, fmt_str(call, call.args[1]), _xattr_value(call, call.args[2], call.args[3]),
            str(call.args[3])]


def _listxattr_args(call: Call, by_fd: bool = False) -> list[str]:
    first = _xattr_target(call, by_fd)
    return [first, _xattr_value(call, call.args[1], call.args[2]), str(call.args[2])]


XATTR_FLAG_BITS = [(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")]


def _setxattr_args(call: Call, by_fd: bool = False) -> list[str]:
    first = _xattr_target(call, by_fd)
    size = call.args[3]
    value = fmt_buffer(call, call.args[2], size) if size <= 1 << 16 else ptr(call.args[2])  # as strace: E2BIG
    return [first, fmt_str(call, call.args[1]), value, str(size),
            flags(call.args[4] & 0xFFFFFFFF, XATTR_FLAG_BITS, unknown="XATTR_???")]


def _removexattr_args(call: Call, by_fd: bool = False) -> list[str]:
    first = _xattr_target(call, by_fd)
    return [first, fmt_str(call, call.args[1])]


def _mincore_args(call: Call) -> list[str]:
    pages = (call.args[1] + 4095) // 4096
    vector = _fmt_array(call, call.args[2], pages, 1, lambda v: str(v & 1)) if pages <= 1024 else ptr(call.args[2])
    return [ptr(call.args[0]), str(call.args[1]), vector]
