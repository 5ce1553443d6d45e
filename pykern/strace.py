"""The syscall tracer: strace-compatible lines, a JSON-lines stream and a `-c` summary.

The kernel calls `enter` before a handler runs, `exit` after it completed (or exec'd),
`block` when it went to sleep, and `process_exit` when a process died. A blocked call is
retried from the top and `enter` runs again: per-task pending state makes the retry
silent, so each call prints one line (or an `<unfinished ...>` / `<... resumed>` pair
when another task's line came in between, as strace -f does).

Arguments are formatted by their declared kind (`Kind.name`, pykern.sysent) the way
strace prints them: input arguments at entry (before the call can change memory), output
arguments at exit. A few calls whose argument meaning depends on another argument
(clone, fcntl, futex, getrandom, ...) have a small formatter of their own.
Formatting never raises into the kernel: a guest pointer that cannot be read is shown
as its address, as strace does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from pykern import abi
from pykern.abi import errno_name, signal_name, strerror
from pykern.errors import Fault, SysError

if TYPE_CHECKING:
    from pykern.sysent import SyscallEntry
    from pykern.task import Task, ThreadGroup

ALIGN_COLUMN = 40  # strace's -a default: "= ret" starts at this column
DEFAULT_STRSIZE = 32
MAX_ERRNO = 4095

# strace's -e trace=%CLASS names -> the classes declared with @syscall(classes=...)
TRACE_CLASSES = ("process", "file", "signal", "memory", "desc", "creds", "clock")


# --- symbolic tables -------------------------------------------------------------------

def _names(prefix: str, exclude: tuple[str, ...] = ()) -> dict[int, str]:
    return {value: name for name, value in vars(abi).items()
            if name.startswith(prefix) and isinstance(value, int) and name not in exclude}


OPEN_FLAG_BITS = [(getattr(abi, n), n) for n in (
    "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_ASYNC",
    "O_DIRECT", "O_LARGEFILE", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH")]
OPEN_ACCMODE = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}
AT_FLAG_BITS = [(abi.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), (abi.AT_REMOVEDIR, "AT_REMOVEDIR"),
                (abi.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"), (abi.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"),
                (abi.AT_EMPTY_PATH, "AT_EMPTY_PATH")]
# faccessat2's flags: 0x200 is AT_EACCESS there, not AT_REMOVEDIR
AT_ACCESS_FLAG_BITS = [(abi.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), (abi.AT_EACCESS, "AT_EACCESS"),
                       (abi.AT_EMPTY_PATH, "AT_EMPTY_PATH")]
PROT_BITS = [(abi.PROT_READ, "PROT_READ"), (abi.PROT_WRITE, "PROT_WRITE"), (abi.PROT_EXEC, "PROT_EXEC"),
             (abi.PROT_GROWSDOWN, "PROT_GROWSDOWN"), (abi.PROT_GROWSUP, "PROT_GROWSUP")]
MAP_TYPES = {abi.MAP_SHARED: "MAP_SHARED", abi.MAP_PRIVATE: "MAP_PRIVATE",
             abi.MAP_SHARED_VALIDATE: "MAP_SHARED_VALIDATE"}
MAP_BITS = [(getattr(abi, n), n) for n in (
    "MAP_FIXED", "MAP_ANONYMOUS", "MAP_32BIT", "MAP_GROWSDOWN", "MAP_DENYWRITE", "MAP_EXECUTABLE",
    "MAP_LOCKED", "MAP_NORESERVE", "MAP_POPULATE", "MAP_NONBLOCK", "MAP_STACK", "MAP_HUGETLB",
    "MAP_SYNC", "MAP_FIXED_NOREPLACE")]
MREMAP_BITS = [(abi.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"), (abi.MREMAP_FIXED, "MREMAP_FIXED"),
               (abi.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP")]
CLONE_BITS = sorted(((v, n) for v, n in _names("CLONE_").items()), key=lambda item: item[0])
WAIT_BITS = [(abi.WNOHANG, "WNOHANG"), (abi.WUNTRACED, "WSTOPPED"), (abi.WEXITED, "WEXITED"),
             (abi.WCONTINUED, "WCONTINUED"), (abi.WNOWAIT, "WNOWAIT"), (abi.__WNOTHREAD, "__WNOTHREAD"),
             (abi.__WALL, "__WALL"), (abi.__WCLONE, "__WCLONE")]
ACCESS_BITS = [(abi.R_OK, "R_OK"), (abi.W_OK, "W_OK"), (abi.X_OK, "X_OK")]
MADVISE_NAMES = _names("MADV_")
FCNTL_NAMES = {v: n for v, n in _names("F_").items() if n != "F_OK" and not n.endswith("_OK")}
FCNTL_NAMES.update({1031: "F_SETPIPE_SZ", abi.F_GETPIPE_SZ: "F_GETPIPE_SZ"})
FCNTL_NO_ARG = {abi.F_GETFD, abi.F_GETFL, abi.F_GETOWN, abi.F_GETPIPE_SZ}
IOCTL_NAMES = {v: n for n in ("TCGETS", "TCSETS", "TCSETSW", "TCSETSF", "TIOCGPGRP", "TIOCSPGRP",
                              "TIOCGWINSZ", "TIOCSWINSZ", "FIONREAD", "FIONBIO", "FIOCLEX", "FIONCLEX")
               for v in (getattr(abi, n),)}
WHENCE_NAMES = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
CLOCK_NAMES = {v: n for v, n in _names("CLOCK_").items()}
ARCH_PRCTL_NAMES = _names("ARCH_")
RLIMIT_NAMES = {v: n for v, n in _names("RLIMIT_").items()}
SIGHOW_NAMES = {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}
GRND_BITS = [(abi.GRND_NONBLOCK, "GRND_NONBLOCK"), (abi.GRND_RANDOM, "GRND_RANDOM"),
             (abi.GRND_INSECURE, "GRND_INSECURE")]
S_IFMT_NAMES = {abi.S_IFSOCK: "S_IFSOCK", abi.S_IFLNK: "S_IFLNK", abi.S_IFREG: "S_IFREG",
                abi.S_IFBLK: "S_IFBLK", abi.S_IFDIR: "S_IFDIR", abi.S_IFCHR: "S_IFCHR", abi.S_IFIFO: "S_IFIFO"}
# linux/futex.h and asm/signal.h: only needed to print them, so they live here
FUTEX_OPS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
             5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
             9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI",
             12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
SA_BITS = [(0x00000001, "SA_NOCLDSTOP"), (0x00000002, "SA_NOCLDWAIT"), (0x00000004, "SA_SIGINFO"),
           (0x04000000, "SA_RESTORER"), (0x08000000, "SA_ONSTACK"), (0x10000000, "SA_RESTART"),
           (0x40000000, "SA_NODEFER"), (0x80000000, "SA_RESETHAND")]
SA_RESTORER = 0x04000000
RLIM64_INFINITY = (1 << 64) - 1


def flags(value: int, bits: list[tuple[int, str]], zero: str = "0") -> str:
    """`A|B|0x40` as strace prints a flag word; `zero` when nothing is set."""
    parts = []
    for bit, name in bits:
        if bit and value & bit == bit:
            parts.append(name)
            value &= ~bit
    if value:
        parts.append(hex(value))
    return "|".join(parts) if parts else zero


def open_flags(value: int) -> str:
    value &= 0xFFFFFFFF
    access = OPEN_ACCMODE[value & abi.O_ACCMODE]
    if value & abi.O_TMPFILE == abi.O_TMPFILE:  # O_TMPFILE includes O_DIRECTORY
        rest = flags(value & ~abi.O_ACCMODE & ~abi.O_TMPFILE, OPEN_FLAG_BITS, "")
        return "|".join(p for p in (access, "O_TMPFILE", rest) if p)
    sync = ""
    if value & abi.O_SYNC == abi.O_SYNC:
        sync, value = "O_SYNC", value & ~abi.O_SYNC
    rest = flags(value & ~abi.O_ACCMODE, OPEN_FLAG_BITS, "")
    return "|".join(p for p in (access, rest, sync) if p)


def octal(value: int) -> str:
    """C's %#03o: 0644, 022, 000."""
    return ("0" + format(value, "o")).rjust(3, "0") if value else "000"


def signame(sig: int) -> str:
    name = signal_name(sig)
    return name if name.startswith("SIG") else str(sig)


def mmap_flags(value: int) -> str:
    kind = MAP_TYPES.get(value & abi.MAP_TYPE, hex(value & abi.MAP_TYPE))
    rest = flags(value & ~abi.MAP_TYPE, MAP_BITS, "")
    return kind + ("|" + rest if rest else "")


def clone_flags(value: int) -> str:
    sig = value & abi.CSIGNAL
    rest = flags(value & ~abi.CSIGNAL, CLONE_BITS, "")
    parts = [p for p in (rest, signame(sig) if sig else "") if p]
    return "|".join(parts) if parts else "0"


def futex_op(value: int) -> str:
    cmd = value & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    name = FUTEX_OPS.get(cmd, hex(cmd))
    if value & FUTEX_PRIVATE_FLAG:
        name += "_PRIVATE"
    if value & FUTEX_CLOCK_REALTIME:
        name = "FUTEX_CLOCK_REALTIME|" + name
    return name


def sigset(mask: int) -> str:
    """strace's sigset: `[CHLD INT]`, or `~[...]` listing the unset ones when most are set."""
    members = [s for s in range(1, abi.NSIG + 1) if mask >> (s - 1) & 1]
    if len(members) > abi.NSIG // 2:
        absent = [s for s in range(1, abi.NSIG + 1) if not mask >> (s - 1) & 1]
        return "~[" + " ".join(_short_signame(s) for s in absent) + "]"
    return "[" + " ".join(_short_signame(s) for s in members) + "]"


def _short_signame(sig: int) -> str:
    if sig == abi.SIGRTMIN:
        return "RTMIN"
    if sig > abi.SIGRTMIN:
        return f"RT_{sig - abi.SIGRTMIN}"
    name = signal_name(sig)
    return name[3:] if name.startswith("SIG") else str(sig)


def quote(data: bytes, limit: int | None, force_hex: bool = False, nul_terminated: bool = False) -> str:
    """A byte string as strace quotes it: C escapes, octal for other non-printables
    (hex for all bytes when `force_hex`), cut at `limit` with `...` after the quote."""
    cut = limit is not None and len(data) > limit
    if cut:
        data = data[:limit]
    out = ['"']
    if force_hex:
        out.extend(f"\\x{b:02x}" for b in data)
    else:
        for i, b in enumerate(data):
            if b == 0x22:
                out.append('\\"')
            elif b == 0x5C:
                out.append("\\\\")
            elif 0x20 <= b <= 0x7E:
                out.append(chr(b))
            elif b in _C_ESCAPES:
                out.append(_C_ESCAPES[b])
            else:
                nxt = data[i + 1] if i + 1 < len(data) else None
                if nxt is not None and 0x30 <= nxt <= 0x37:
                    out.append(f"\\{b:03o}")
                else:
                    out.append(f"\\{b:o}")
    out.append('"')
    if cut:
        out.append("...")
    return "".join(out)


_C_ESCAPES = {0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v"}


def ptr(value: int) -> str:
    return "NULL" if value == 0 else hex(value)


def makedev(rdev: int) -> str:
    major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~0xFFF)
    minor = (rdev & 0xFF) | ((rdev >> 12) & ~0xFF)
    return f"makedev({major:#x}, {minor:#x})"


def rlim(value: int) -> str:
    if value == RLIM64_INFINITY:
        return "RLIM64_INFINITY"
    if value and value % 1024 == 0:
        return f"{value // 1024}*1024"
    return str(value)


def wait_status(status: int) -> str:
    sig = status & 0x7F
    if sig == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}]"
    if sig == 0x7F:
        return f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {signame((status >> 8) & 0xFF)}}}]"
    core = " && WCOREDUMP(s)" if status & 0x80 else ""
    return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {signame(sig)}{core}}}]"


# --- one call being formatted ----------------------------------------------------------

@dataclass
class Call:
    """What a formatter may look at: the task, all decoded args, the result (at exit)."""

    task: Task
    entry: SyscallEntry
    args: list[int]
    strsize: int
    result: int | None = None

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
    if value == 0:
        return "NULL"
    got = call.read_str(value, 4096)
    if got is None:
        return hex(value)
    return quote(got[0], None)


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


def fmt_stat(call: Call, value: int) -> str:
    data = call.read(value, abi.STAT.size)
    if data is None:
        return hex(value)
    fields = abi.STAT.unpack(data)
    mode, rdev, size = fields[3], fields[7], fields[8]
    kind = S_IFMT_NAMES.get(mode & abi.S_IFMT, octal(mode & abi.S_IFMT))
    text = f"{{st_mode={kind}|{octal(mode & 0o7777)}, "
    if mode & abi.S_IFMT in (abi.S_IFCHR, abi.S_IFBLK):
        return text + f"st_rdev={makedev(rdev)}, ...}}"
    return text + f"st_size={size}, ...}}"


def fmt_statx(call: Call, value: int) -> str:
    data = call.read(value, abi.STATX_HEAD.size)
    if data is None:
        return hex(value)
    head = abi.STATX_HEAD.unpack(data)
    mask, mode, size = head[0], head[6], head[8]
    kind = S_IFMT_NAMES.get(mode & abi.S_IFMT, "0")
    return (f"{{stx_mask={flags(mask, [(abi.STATX_BASIC_STATS, 'STATX_BASIC_STATS')])}, "
            f"stx_attributes=0, stx_mode={kind}|{octal(mode & 0o7777)}, stx_size={size}, ...}}")


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
    data = call.read(value, 8)
    if data is None:
        return hex(value)
    return sigset(int.from_bytes(data, "little"))


def fmt_sigaction(call: Call, value: int) -> str:
    if value == 0:
        return "NULL"
    data = call.read(value, 32)
    if data is None:
        return hex(value)
    handler, sa_flags, restorer, mask = (int.from_bytes(data[i:i + 8], "little") for i in (0, 8, 16, 24))
    shown = {0: "SIG_DFL", 1: "SIG_IGN"}.get(handler, hex(handler))
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
    number = int.from_bytes(data, "little", signed=True)
    if call.entry.name == "wait4":
        return wait_status(number & 0xFFFFFFFF)
    return f"[{number}]"


def fmt_int_pair(call: Call, value: int) -> str:
    data = call.read(value, 8)
    if data is None:
        return hex(value)
    return f"[{int.from_bytes(data[:4], 'little', signed=True)}, {int.from_bytes(data[4:], 'little', signed=True)}]"


def fmt_iovec(call: Call, value: int, count: int, total: int | None) -> str:
    """readv/writev: `[{iov_base="...", iov_len=N}, ...]`; `total` caps what readv filled."""
    if value == 0:
        return "NULL"
    items = []
    remaining = total
    for i in range(max(0, min(count, call.strsize))):
        raw = call.read(value + 16 * i, 16)
        if raw is None:
            return hex(value)
        base, length = abi.IOVEC.unpack(raw)
        shown = length if remaining is None else max(0, min(length, remaining))
        if remaining is not None:
            remaining -= shown
        items.append(f"{{iov_base={fmt_buffer(call, base, shown)}, iov_len={length}}}")
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


# --- the generic argument formatter by kind --------------------------------------------

def fmt_arg(call: Call, index: int) -> str:
    kind = call.entry.args[index]
    value = call.args[index]
    name = kind.name
    out_unavailable = kind.out and (call.result is None or call.failed)
    if out_unavailable:
        return ptr(value)
    if name == "uint" and call.entry.name == "getrandom":
        return flags(value, GRND_BITS)
    simple = _SIMPLE.get(name)
    if simple is not None:
        return simple(value)
    if name == "path":
        return fmt_path(call, value)
    if name == "str":
        return fmt_str(call, value)
    if name == "buf_in":
        return fmt_buffer(call, value, _next_arg(call, index))
    if name == "buf_out":
        return fmt_buffer(call, value, call.result or 0, force_hex=call.entry.name == "getrandom")
    if name == "strv":
        return fmt_strv(call, value, abbreviate=index == 2 and call.entry.name == "execve")
    if name == "stat_out":
        return fmt_stat(call, value)
    if name == "statx_out":
        return fmt_statx(call, value)
    if name in ("timespec_in", "timespec_out"):
        return fmt_timespec(call, value)
    if name == "timeval_out":
        return fmt_timespec(call, value, usec=True)
    if name in ("rlimit_in", "rlimit_out"):
        return fmt_rlimit(call, value)
    if name in ("sigset_in", "sigset_out"):
        return fmt_sigset(call, value)
    if name in ("sigaction_in", "sigaction_out"):
        return fmt_sigaction(call, value)
    if name == "int_out":
        return fmt_int_out(call, value)
    if name == "int_pair_out":
        return fmt_int_pair(call, value)
    if name == "iovec_in":
        return fmt_iovec(call, value, _next_arg(call, index), None)
    if name == "iovec_out":
        return fmt_iovec(call, value, _next_arg(call, index), call.result)
    if name == "dirents_out":
        return fmt_dirents(call, value, call.result or 0)
    if name == "utsname_out":
        return fmt_utsname(call, value)
    if name == "at_flags":
        bits = AT_ACCESS_FLAG_BITS if call.entry.name == "faccessat2" else AT_FLAG_BITS
        return flags(value & 0xFFFFFFFF, bits)
    return ptr(value) if name in ("ptr",) or kind.out else hex(value)


def _next_arg(call: Call, index: int) -> int:
    return call.args[index + 1] if index + 1 < len(call.args) else 0


def _dirfd(value: int) -> str:
    return "AT_FDCWD" if value == abi.AT_FDCWD else str(value)


def _lookup(table: dict[int, str], value: int, unknown: str = "") -> str:
    if value in table:
        return table[value]
    return f"{value:#x} /* {unknown} */" if unknown else hex(value)


_SIMPLE: dict[str, Callable[[int], str]] = {
    "int": str, "uint": str, "long": str, "ulong": str, "size": str, "ssize": str, "off": str,
    "fd": str, "pid": str, "uid": str,
    "dirfd": _dirfd,
    "mode": octal,
    "signum": signame,
    "open_flags": open_flags,
    "prot": lambda v: flags(v, PROT_BITS, "PROT_NONE"),
    "mmap_flags": mmap_flags,
    "mremap_flags": lambda v: flags(v, MREMAP_BITS),
    "madvise": lambda v: _lookup(MADVISE_NAMES, v, "MADV_???"),
    "clone_flags": clone_flags,
    "wait_options": lambda v: flags(v & 0xFFFFFFFF, WAIT_BITS),
    "fcntl_cmd": lambda v: _lookup(FCNTL_NAMES, v, "F_???"),
    "ioctl_req": lambda v: _lookup(IOCTL_NAMES, v),
    "whence": lambda v: _lookup(WHENCE_NAMES, v, "SEEK_???"),
    "clockid": lambda v: _lookup(CLOCK_NAMES, v),
    "arch_prctl_code": lambda v: _lookup(ARCH_PRCTL_NAMES, v, "ARCH_???"),
    "rlimit_resource": lambda v: _lookup(RLIMIT_NAMES, v, "RLIMIT_???"),
    "access_mode": lambda v: flags(v, ACCESS_BITS, "F_OK"),
    "sighow": lambda v: _lookup(SIGHOW_NAMES, v, "SIG_???"),
    "futex_op": futex_op,
    "ptr": ptr,
}


# --- calls whose shape depends on their arguments (strace's own decoders) ---------------

def _clone_args(call: Call) -> list[str]:
    # clone(flags, stack, parent_tid, child_tid, tls) on x86-64
    clone_flags_, stack, parent_tid, child_tid, tls = call.args[:5]
    parts = [f"child_stack={ptr(stack)}", f"flags={clone_flags(clone_flags_)}"]
    if clone_flags_ & abi.CLONE_PARENT_SETTID:
        parts.append(f"parent_tid={ptr(parent_tid)}")
    if clone_flags_ & (abi.CLONE_CHILD_SETTID | abi.CLONE_CHILD_CLEARTID):
        parts.append(f"child_tidptr={ptr(child_tid)}")
    if clone_flags_ & abi.CLONE_SETTLS:
        parts.append(f"tls={ptr(tls)}")
    return parts


def _fcntl_args(call: Call) -> list[str]:
    fd, cmd, arg = call.args[:3]
    parts = [str(fd), fmt_arg(call, 1)]
    if cmd in FCNTL_NO_ARG:
        return parts
    if cmd == abi.F_SETFD:
        parts.append(flags(arg, [(abi.FD_CLOEXEC, "FD_CLOEXEC")]))
    elif cmd == abi.F_SETFL:
        parts.append(open_flags(arg))
    elif cmd in (abi.F_GETLK, abi.F_SETLK, abi.F_SETLKW):
        parts.append(ptr(arg))
    else:
        parts.append(str(arg))
    return parts


def _futex_args(call: Call) -> list[str]:
    addr, op, val, timeout, addr2, val3 = call.args[:6]
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    parts = [ptr(addr), futex_op(op), str(val)]
    if cmd in (0, 9):  # WAIT, WAIT_BITSET: a timeout
        parts.append(fmt_timespec(call, timeout))
        if cmd == 9:
            parts += [ptr(addr2), hex(val3)]
    elif cmd in (1, 7, 8):  # WAKE, UNLOCK_PI, TRYLOCK_PI
        pass
    elif cmd == 10:
        parts += [ptr(timeout), ptr(addr2), hex(val3)]
    else:
        parts += [str(timeout), ptr(addr2), str(val3)]
    return parts


def _ioctl_args(call: Call) -> list[str]:
    fd, request, arg = call.args[:3]
    return [str(fd), fmt_arg(call, 1), ptr(arg)]


def _arch_prctl_args(call: Call) -> list[str]:
    # the second argument is an address (or a pointer for the GET codes): shown in hex
    return [fmt_arg(call, 0), ptr(call.args[1])]


def _rseq_args(call: Call) -> list[str]:
    addr, length, rseq_flags, sig = call.args[:4]
    return [ptr(addr), hex(length), str(rseq_flags), hex(sig)]


def _open_args(call: Call, flags_index: int) -> list[str]:
    """open/openat show the mode only with O_CREAT or O_TMPFILE."""
    parts = [fmt_arg(call, i) for i in range(flags_index + 1)]
    open_flags_ = call.args[flags_index]
    if open_flags_ & abi.O_CREAT or open_flags_ & abi.O_TMPFILE == abi.O_TMPFILE:
        parts.append(octal(call.args[flags_index + 1]))
    return parts


# Whole-argument-list formatters, called at exit (all of these take only input args, or
# print their outputs as pointers, so formatting at exit shows what strace shows).
SPECIAL: dict[str, Callable[[Call], list[str]]] = {
    "clone": _clone_args,
    "fcntl": _fcntl_args,
    "futex": _futex_args,
    "ioctl": _ioctl_args,
    "rseq": _rseq_args,
    "arch_prctl": _arch_prctl_args,
    "open": lambda call: _open_args(call, 1),
    "openat": lambda call: _open_args(call, 2),
    "exit": lambda call: [str(call.args[0])],
    "exit_group": lambda call: [str(call.args[0])],
}


def format_return(call: Call) -> str:
    result = call.result
    assert result is not None
    if -MAX_ERRNO <= result < 0:
        err = -result
        if err in (abi.ERESTARTSYS, abi.ERESTARTNOINTR, abi.ERESTARTNOHAND, abi.ERESTART_RESTARTBLOCK):
            return f"? {errno_name(err)} ({strerror(err)})"
        return f"-1 {errno_name(err)} ({strerror(err)})"
    name = call.entry.name
    if name == "fcntl":
        cmd = call.args[1]
        if cmd == abi.F_GETFL:
            return f"{result:#x} (flags {open_flags(result)})"
        if cmd == abi.F_GETFD:
            return f"{result:#x} (flags {flags(result, [(abi.FD_CLOEXEC, 'FD_CLOEXEC')])})" if result else "0"
    if name == "umask":
        return octal(result)
    if call.entry.ret.name == "ret_hex":
        return hex(result & ((1 << 64) - 1))
    return str(result)


# --- the tracer -------------------------------------------------------------------------

@dataclass
class Pending:
    """A call whose entry was seen and whose exit was not."""

    entry: SyscallEntry
    raw: list[int]
    args: list[int]
    head: str  # "name(in-args" as printed at entry
    split: int  # index of the first argument printed at exit
    start_ns: int
    unfinished: bool = False  # its entry line was ended with " <unfinished ...>"


@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    ns: int = 0


@dataclass
class Tracer:
    """Prints every traced call of every task (following forks always) to `stream`."""

    stream: TextIO | None
    strsize: int = DEFAULT_STRSIZE
    selected: frozenset[str] | None = None  # syscall names to show; None = all
    pid_prefix_always: bool = False  # strace -f -o FILE: "PID " on every line
    json_stream: TextIO | None = None
    summary: bool = False  # -c: count instead of printing lines
    initial_exec: tuple[bytes, list[bytes], int] | None = None  # the CLI's execve, shown first
    pending: dict[int, Pending] = field(default_factory=dict)
    live: set[int] = field(default_factory=set)
    open_tid: int | None = None  # the task whose entry line is printed but not ended
    stats: dict[str, Stats] = field(default_factory=dict)
    clock0: float = field(default_factory=time.monotonic)

    # --- output plumbing ---

    def _prefix(self, tid: int) -> str:
        if self.pid_prefix_always:
            return f"{tid:<5} "
        if len(self.live) > 1:
            return f"[pid {tid:5}] "
        return ""

    def _see(self, task: Task) -> None:
        if task.tid not in self.live:
            self.live.add(task.tid)
            if self.initial_exec is not None:
                path, argv, nenv = self.initial_exec
                self.initial_exec = None
                if self.selected is not None and "execve" not in self.selected:
                    return
                if self.summary:
                    self.stats.setdefault("execve", Stats()).calls += 1
                args = [quote(path, None), "[" + ", ".join(quote(a, self.strsize) for a in argv) + "]",
                        f"0x7ffc00000000 /* {nenv} var{'' if nenv == 1 else 's'} */"]
                self._line(task.tid, f"execve({', '.join(args)})", "0")

    def _write(self, text: str) -> None:
        if self.stream is not None and not self.summary:
            self.stream.write(text)

    def _interrupt(self, tid: int | None) -> None:
        """Another task is about to print: end the open entry line of any other task."""
        if self.open_tid is not None and self.open_tid != tid:
            other = self.pending.get(self.open_tid)
            if other is not None:
                other.unfinished = True
                self._write(" <unfinished ...>\n")
            self.open_tid = None

    def _line(self, tid: int, text: str, ret: str) -> None:
        self._interrupt(tid)
        line = self._prefix(tid) + text
        self._write(line.ljust(ALIGN_COLUMN) + f"= {ret}\n" if len(line) < ALIGN_COLUMN else line + f" = {ret}\n")

    def _json(self, record: dict) -> None:
        if self.json_stream is not None:
            record["time"] = round(time.monotonic() - self.clock0, 9)
            self.json_stream.write(json.dumps(record) + "\n")

    def wants(self, entry: SyscallEntry) -> bool:
        return self.selected is None or entry.name in self.selected

    # --- the kernel's hooks ---

    def enter(self, task: Task, entry: SyscallEntry, raw: list[int]) -> None:
        self._see(task)
        known = self.pending.get(task.tid)
        if known is not None and known.entry is entry and known.raw == list(raw):
            return  # a blocked call being retried: its entry is already shown
        if not self.wants(entry):
            return
        args = entry.decode_args(raw)
        call = Call(task, entry, args, self.strsize)
        split = next((i for i, kind in enumerate(entry.args) if kind.out), len(entry.args))
        if entry.name in SPECIAL or entry.name == "execve":
            split = len(entry.args) if entry.name == "execve" else 0
        shown = ", ".join(fmt_arg(call, i) for i in range(split))
        if split < len(entry.args) and shown:
            shown += ", "
        self.pending[task.tid] = Pending(entry, list(raw), args, f"{entry.name}({shown}", split,
                                         time.perf_counter_ns())
        if entry.ret.name == "ret_none":  # exit, exit_group: there is no return to wait for
            pending = self.pending.pop(task.tid)
            text = pending.head + ", ".join(SPECIAL[entry.name](call)) + ")"
            self._line(task.tid, text, "?")
            self._count(entry, 0, pending.start_ns)
            self._json({"event": "syscall", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(raw[:len(entry.args)]),
                        "decoded": [str(args[0])], "ret": None})
            if not hasattr(task.kernel, "tracer_process_exit"):
                # no process-exit hook in this kernel: derive it from the exit call
                others = [t for t in task.group.live_tasks if t is not task]
                if entry.name == "exit_group" or not others:
                    self._exited(task.group.tasks if entry.name == "exit_group" else [task],
                                 exit_status_of(args[0]), task.group.tgid)
            return
        self._interrupt(task.tid)
        self._write(self._prefix(task.tid) + self.pending[task.tid].head)
        self.open_tid = task.tid

    def block(self, task: Task, entry: SyscallEntry) -> None:
        pending = self.pending.get(task.tid)
        if pending is None or pending.entry is not entry:
            return
        self._json({"event": "block", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                    "nr": entry.number, "args": list(pending.raw[:len(entry.args)])})

    def exit(self, task: Task, entry: SyscallEntry, raw: list[int], result: int) -> None:
        pending = self.pending.pop(task.tid, None)
        if pending is None or pending.entry is not entry:
            return
        call = Call(task, entry, pending.args, self.strsize, result)
        special = SPECIAL.get(entry.name)
        if special is not None:
            rest_parts = special(call)
        else:
            rest_parts = [fmt_arg(call, i) for i in range(pending.split, len(entry.args))]
        rest = ", ".join(rest_parts) + ")"
        ret = format_return(call)
        if self.open_tid == task.tid and not pending.unfinished:
            self.open_tid = None
            line_len = len(self._prefix(task.tid)) + len(pending.head) + len(rest)
            self._write(rest + (" " * (ALIGN_COLUMN - line_len) + f"= {ret}\n"
                                if line_len < ALIGN_COLUMN else f" = {ret}\n"))
        else:
            self._line(task.tid, f"<... {entry.name} resumed>{rest}", ret)
        self._count(entry, result, pending.start_ns)
        if entry.name in ("clone", "clone3", "fork", "vfork") and result > 0:
            self.live.add(result)
        if self.json_stream is not None:
            decoded = ([fmt_arg(call, i) for i in range(pending.split)] if special is None else []) + rest_parts
            failed = -MAX_ERRNO <= result < 0
            self._json({"event": "syscall", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(pending.raw[:len(entry.args)]), "decoded": decoded,
                        "ret": result, "error": errno_name(-result) if failed else None})

    def process_exit(self, group: ThreadGroup, status: int) -> None:
        """The last thread of `group` is gone; `status` is its wait status. Called by
        the kernel's `tracer_process_exit` (exit_notify)."""
        for task in group.tasks:
            pending = self.pending.pop(task.tid, None)
            if pending is not None:  # died inside a call (killed while blocked)
                if self.open_tid == task.tid and not pending.unfinished:
                    self.open_tid = None
                    self._write(") = ?\n")
                else:
                    self._line(task.tid, f"<... {pending.entry.name} resumed>)", "?")
        self._exited(group.tasks, status, group.tgid)

    def _exited(self, tasks: list[Task], status: int, tgid: int) -> None:
        sig = status & 0x7F
        if sig:
            core = " (core dumped)" if status & 0x80 else ""
            text = f"+++ killed by {signame(sig)}{core} +++"
        else:
            text = f"+++ exited with {(status >> 8) & 0xFF} +++"
        for task in tasks:
            if task.tid in self.live or task is tasks[0]:
                self._interrupt(None)
                self._write(self._prefix(task.tid) + text + "\n")
                self.live.discard(task.tid)
        self._json({"event": "exit", "pid": tgid, "status": status,
                    "code": None if sig else (status >> 8) & 0xFF, "signal": signame(sig) if sig else None})

    def _count(self, entry: SyscallEntry, result: int, start_ns: int) -> None:
        if not self.summary:
            return
        stats = self.stats.setdefault(entry.name, Stats())
        stats.calls += 1
        stats.ns += time.perf_counter_ns() - start_ns
        if -MAX_ERRNO <= result < 0:
            stats.errors += 1

    def close(self) -> None:
        """End of the run: an open line is ended, the -c table printed, streams flushed."""
        self._interrupt(None)
        if self.summary and self.stream is not None:
            self.stream.write(summary_table(self.stats))
        for stream in (self.stream, self.json_stream):
            if stream is not None:
                stream.flush()


def exit_status_of(code: int) -> int:
    return (code & 0xFF) << 8


def summary_table(stats: dict[str, Stats]) -> str:
    """strace -c's table, sorted by time (then calls, then name)."""
    total_ns = sum(s.ns for s in stats.values())
    rule = "------ ----------- ----------- --------- --------- ----------------"
    lines = ["% time     seconds  usecs/call     calls    errors syscall", rule]
    order = sorted(stats.items(), key=lambda item: (-item[1].ns, -item[1].calls, item[0]))
    for name, s in order:
        percent = 100.0 * s.ns / total_ns if total_ns else 0.0
        errors = str(s.errors) if s.errors else ""
        lines.append(f"{percent:6.2f} {s.ns / 1e9:11.6f} {s.ns // 1000 // max(s.calls, 1):11d} "
                     f"{s.calls:9d} {errors:>9} {name}")
    calls = sum(s.calls for s in stats.values())
    errors = sum(s.errors for s in stats.values())
    lines.append(rule)
    lines.append(f"{100.0 if total_ns else 0.0:6.2f} {total_ns / 1e9:11.6f} "
                 f"{total_ns // 1000 // max(calls, 1):11d} {calls:9d} {errors if errors else '':>9} total")
    return "\n".join(lines) + "\n"


def parse_trace_expr(expressions: list[str], table: list[SyscallEntry | None]) -> frozenset[str] | None:
    """strace's `-e trace=a,b,%file` (also `-e a,b` and a leading `!` to negate): the
    names to show, or None for all. Raises ValueError on an unknown name or class."""
    if not expressions:
        return None
    entries = [e for e in table if e is not None]
    everything = frozenset(e.name for e in entries)
    selected: set[str] | None = None
    for expression in expressions:
        qualifier, sep, value = expression.partition("=")
        if not sep:
            qualifier, value = "trace", expression
        if qualifier not in ("trace", "t"):
            raise ValueError(f"unsupported -e qualifier {qualifier!r}")
        negate = value.startswith("!")
        names: set[str] = set()
        for item in value.lstrip("!").split(","):
            if item in ("all", "%all"):
                names |= everything
            elif item.startswith("%"):
                cls = item[1:]
                if cls not in TRACE_CLASSES and cls not in ("ipc", "network", "net"):
                    raise ValueError(f"invalid system call class {item!r}")
                names |= {e.name for e in entries if cls in e.classes}
            elif item:
                if item not in abi.SYSCALL_NUMBERS:
                    raise ValueError(f"invalid system call {item!r}")
                names.add(item)
        current = set(everything) if selected is None else selected
        selected = (current - names) if negate else (names if selected is None else selected | names)
    return frozenset(selected) if selected is not None else None
