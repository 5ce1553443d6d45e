"""One call being formatted (`Call`: its arguments, its result, a safe reader of guest
memory) and strace's decoders of the structs it points to: stat, statx, timespec,
rlimit, sigset, sigaction, iovec, dirents, utsname, siginfo, stack_t, rusage."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

from pykern import abi
from pykern.abi import SA_RESTORER
from pykern.errors import Fault, SysError
from pykern.strace.formats import (
    AT_FLAG_BITS,
    FAULT_ADDR_SIGNALS,
    MAX_ERRNO,
    S_IFMT_NAMES,
    SA_BITS,
    flags,
    makedev,
    octal,
    ptr,
    quote,
    rlim,
    siginfo,
    sigset,
    wait_status,
)

if TYPE_CHECKING:
    from pykern.sysent import SyscallEntry
    from pykern.task import Task

# --- one call being formatted ----------------------------------------------------------


@dataclass
class Call:
    """What a formatter may look at: the task, all decoded args, the result (at exit)."""

    task: Task
    entry: SyscallEntry
    args: list[int]
    strsize: int
    result: int | None = None
    before: dict[str, int] = field(default_factory=dict)  # values read at entry (ENTRY_CAPTURE)

    @property
    def failed(self) -> bool:
        return self.result is not None and -MAX_ERRNO <= self.result < 0

    def read(self, addr: int, size: int) -> bytes | None:
        try:
            return self.task.mm.copy_in(addr, size)
        except (Fault, SysError):
            return None

    def read_str(self, addr: int, limit: int) -> tuple[bytes, bool] | None:
        """A NUL-terminated string of at most `limit` bytes, and whether it was cut."""
        try:
            return self.task.mm.copy_in_str(addr, limit + 1), False
        except SysError:
            data = self.read(addr, limit)
            return (data, True) if data is not None else None
        except Fault:
            # the string may end just before an unmapped page: read byte pages one by one
            out = bytearray()
            while len(out) <= limit:
                byte = self.read(addr + len(out), 1)
                if byte is None:
                    return None
                if byte == b"\0":
                    return bytes(out), False
                out += byte
            return bytes(out[:limit]), True


def fmt_path(call: Call, value: int) -> str:
    """strace's printpath: at most PATH_MAX - 1 bytes, "..." after a longer one."""
    if value == 0:
        return "NULL"
    got = call.read_str(value, abi.PATH_MAX - 1)
    if got is None:
        return hex(value)
    data, cut = got
    return quote(data, None) + ("..." if cut else "")


def fmt_str(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    got = call.read_str(value, call.strsize)
    if got is None:
        return hex(value)
    data, cut = got
    text = quote(data[: call.strsize], None)
    return text + "..." if cut or len(data) > call.strsize else text


def fmt_buffer(call: Call, value: int, size: int, force_hex: bool = False) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, min(size, call.strsize + 1)) if size > 0 else b""
    if data is None:
        return hex(value)
    return quote(data[:size], call.strsize, force_hex)


def fmt_strv(call: Call, value: int, abbreviate: bool) -> str:
    if value == 0:
        return "NULL"
    strings = []
    addr = value
    while True:
        raw = call.read(addr, 8)
        if raw is None:
            return hex(value)
        pointer = int.from_bytes(raw, "little")
        if pointer == 0:
            break
        strings.append(pointer)
        addr += 8
        if len(strings) > 4096:
            break
    if abbreviate:  # strace's default for envp: the pointer and a count
        return f"{value:#x} /* {len(strings)} var{'' if len(strings) == 1 else 's'} */"
    shown = [fmt_str(call, p) for p in strings[: call.strsize]]
    if len(strings) > call.strsize:
        shown.append("...")
    return "[" + ", ".join(shown) + "]"


def file_mode(mode: int) -> str:
    """strace's symbolic st_mode: `S_IFREG|S_ISUID|0755`."""
    kind = S_IFMT_NAMES.get(mode & abi.S_IFMT, octal(mode & abi.S_IFMT))
    special = [name for bit, name in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX"))
               if mode & bit]
    return "|".join([kind, *special, octal(mode & 0o777)])


def fmt_stat(call: Call, value: int) -> str:
    data = call.read(value, abi.STAT.size)
    if data is None:
        return hex(value)
    fields = abi.STAT.unpack(data)
    mode, rdev, size = fields[3], fields[7], fields[8]
    text = f"{{st_mode={file_mode(mode)}, "
    if mode & abi.S_IFMT in (abi.S_IFCHR, abi.S_IFBLK):
        return text + f"st_rdev={makedev(rdev)}, ...}}"
    return text + f"st_size={size}, ...}}"


def fmt_statx(call: Call, value: int) -> str:
    data = call.read(value, abi.STATX_HEAD.size)
    if data is None:
        return hex(value)
    head = abi.STATX_HEAD.unpack(data)
    mask, attributes, mode, size = head[0], head[2], head[6], head[8]
    return (f"{{stx_mask={flags(mask, STATX_MASK_BITS)}, stx_attributes={flags(attributes, STATX_ATTR_BITS)}, "
            f"stx_mode={file_mode(mode)}, stx_size={size}, ...}}")


# statx_masks.in, in strace's order (STATX_ALL first: it wins over the bits it holds)
STATX_MASK_BITS = [(0xFFF, "STATX_ALL"), (abi.STATX_BASIC_STATS, "STATX_BASIC_STATS")] + [
    (1 << i, name) for i, name in enumerate(
        ("STATX_TYPE", "STATX_MODE", "STATX_NLINK", "STATX_UID", "STATX_GID", "STATX_ATIME", "STATX_MTIME",
         "STATX_CTIME", "STATX_INO", "STATX_SIZE", "STATX_BLOCKS", "STATX_BTIME", "STATX_MNT_ID",
         "STATX_DIOALIGN"))]
STATX_ATTR_BITS = [(0x4, "STATX_ATTR_COMPRESSED"), (0x10, "STATX_ATTR_IMMUTABLE"), (0x20, "STATX_ATTR_APPEND"),
                   (0x40, "STATX_ATTR_NODUMP"), (0x800, "STATX_ATTR_ENCRYPTED"), (0x1000, "STATX_ATTR_AUTOMOUNT"),
                   (0x2000, "STATX_ATTR_MOUNT_ROOT"), (0x100000, "STATX_ATTR_VERITY"), (0x200000, "STATX_ATTR_DAX")]
AT_STATX_SYNC_NAMES = {0: "AT_STATX_SYNC_AS_STAT", 0x2000: "AT_STATX_FORCE_SYNC", 0x4000: "AT_STATX_DONT_SYNC",
                       0x6000: "AT_STATX_SYNC_TYPE"}


def statx_flags(value: int) -> str:
    """statx's flags: the sync type first (AT_STATX_SYNC_AS_STAT is 0), then the AT_ bits."""
    value &= 0xFFFFFFFF
    sync = AT_STATX_SYNC_NAMES[value & abi.AT_STATX_SYNC_TYPE]
    rest = flags(value & ~abi.AT_STATX_SYNC_TYPE, AT_FLAG_BITS, "")
    return sync + ("|" + rest if rest else "")


def fmt_timespec(call: Call, value: int, usec: bool = False) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, 16)
    if data is None:
        return hex(value)
    sec, frac = abi.TIMESPEC.unpack(data)
    return f"{{tv_sec={sec}, tv_usec={frac}}}" if usec else f"{{tv_sec={sec}, tv_nsec={frac}}}"


def fmt_rlimit(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, abi.RLIMIT.size)
    if data is None:
        return hex(value)
    cur, top = abi.RLIMIT.unpack(data)
    return f"{{rlim_cur={rlim(cur)}, rlim_max={rlim(top)}}}"


def fmt_sigset(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, abi.SIGSET_SIZE)
    if data is None:
        return hex(value)
    return sigset(int.from_bytes(data, "little"))


def fmt_sigaction(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, abi.KERNEL_SIGACTION.size)
    if data is None:
        return hex(value)
    handler, sa_flags, restorer, mask = abi.KERNEL_SIGACTION.unpack(data)
    shown = {abi.SIG_DFL: "SIG_DFL", abi.SIG_IGN: "SIG_IGN"}.get(handler, hex(handler))
    text = f"{{sa_handler={shown}, sa_mask={sigset(mask)}, sa_flags={flags(sa_flags, SA_BITS)}"
    if sa_flags & SA_RESTORER:
        text += f", sa_restorer={hex(restorer)}"
    return text + "}"


def fmt_int_out(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, 4)
    if data is None:
        return hex(value)
    return f"[{int.from_bytes(data, 'little', signed=True)}]"


def fmt_wstatus(call: Call, value: int) -> str:
    """wait4's status: `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`; NULL when WNOHANG found
    nothing (the call wrote no status)."""
    if value == 0 or call.result == 0:
        return ptr(value)
    data = call.read(value, 4)
    if data is None:
        return hex(value)
    return wait_status(int.from_bytes(data, "little"))


def fmt_int_pair(call: Call, value: int) -> str:
    data = call.read(value, 8)
    if data is None:
        return hex(value)
    return f"[{int.from_bytes(data[:4], 'little', signed=True)}, {int.from_bytes(data[4:], 'little', signed=True)}]"


def fmt_iovec(call: Call, value: int, count: int, total: int | None, contents: bool = True) -> str:
    """readv/writev: `[{iov_base="...", iov_len=N}, ...]`; `total` caps what readv filled;
    without `contents` (a failed readv) the buffers are shown as addresses."""
    if value == 0:
        return "NULL"
    items = []
    remaining = total
    count &= 0xFFFFFFFF
    for i in range(min(count, call.strsize)):
        raw = call.read(value + 16 * i, 16)
        if raw is None:
            return hex(value)
        base, length = abi.IOVEC.unpack(raw)
        shown = length if remaining is None else max(0, min(length, remaining))
        if remaining is not None:
            remaining -= shown
        base_text = fmt_buffer(call, base, shown) if contents else ptr(base)
        items.append(f"{{iov_base={base_text}, iov_len={length}}}")
    if count > call.strsize:
        items.append("...")
    return "[" + ", ".join(items) + "]"


def fmt_dirents(call: Call, value: int, length: int) -> str:
    entries, offset = 0, 0
    data = call.read(value, length) if length > 0 else b""
    if data is None:
        return hex(value)
    while offset + 19 <= len(data):
        reclen = int.from_bytes(data[offset + 16:offset + 18], "little")
        if reclen == 0:
            break
        entries += 1
        offset += reclen
    return f"{value:#x} /* {entries} entries */"


def fmt_utsname(call: Call, value: int) -> str:
    data = call.read(value, 65 * 2)
    if data is None:
        return hex(value)
    sysname = data[:65].split(b"\0")[0]
    nodename = data[65:130].split(b"\0")[0]
    return f"{{sysname={quote(sysname, None)}, nodename={quote(nodename, None)}, ...}}"


# --- more of strace's struct decoders ---------------------------------------------------

def unpack_siginfo(data: bytes) -> SimpleNamespace:
    """A guest siginfo_t as the fields `siginfo` reads (x86-64 layout)."""
    signo, errno_, code = abi.SIGINFO_HEAD.unpack_from(data)
    info = SimpleNamespace(signo=signo, errno=errno_, code=code, pid=0, uid=0, status=0, utime=0, stime=0,
                           addr=0, value=0)
    at = abi.SIGINFO_UNION_OFFSET
    if signo in FAULT_ADDR_SIGNALS and code > 0:
        info.addr = abi.SIGINFO_FAULT.unpack_from(data, at)[0]
    elif signo == abi.SIGCHLD and code > 0:
        info.pid, info.uid, info.status, info.utime, info.stime = abi.SIGINFO_CHLD.unpack_from(data, at)
    elif code == abi.SI_TIMER:
        info.timerid, info.overrun, info.value = abi.SIGINFO_TIMER.unpack_from(data, at)
    else:
        info.pid, info.uid, info.value = abi.SIGINFO_KILL.unpack_from(data, at)
    return info


def fmt_siginfo(call: Call, value: int, out: bool = True) -> str:
    """A siginfo_t argument: `{}` when the kernel left it zeroed (waitid WNOHANG)."""
    if value == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(value)
    data = call.read(value, 48)
    if data is None:
        return hex(value)
    info = unpack_siginfo(data)
    return "{}" if info.signo == 0 else siginfo(info)


SS_FLAG_BITS = [(abi.SS_ONSTACK, "SS_ONSTACK"), (abi.SS_DISABLE, "SS_DISABLE"), (abi.SS_AUTODISARM, "SS_AUTODISARM")]


def fmt_stack_t(call: Call, value: int, out: bool) -> str:
    if value == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(value)
    data = call.read(value, abi.STACK_T.size)
    if data is None:
        return hex(value)
    sp, ss_flags, size = abi.STACK_T.unpack(data)
    return f"{{ss_sp={ptr(sp)}, ss_flags={flags(ss_flags & 0xFFFFFFFF, SS_FLAG_BITS)}, ss_size={size}}}"


def _timeval_at(call: Call, addr: int) -> str | None:
    data = call.read(addr, abi.TIMEVAL.size)
    if data is None:
        return None
    sec, usec = abi.TIMEVAL.unpack(data)
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


def fmt_rusage(call: Call, value: int) -> str:
    """struct rusage without -v: the two times, then `...`."""
    if value == 0:
        return "NULL"
    if call.result is None or call.failed:
        return ptr(value)
    user, system = _timeval_at(call, value), _timeval_at(call, value + 16)
    if user is None or system is None:
        return hex(value)
    return f"{{ru_utime={user}, ru_stime={system}, ...}}"
