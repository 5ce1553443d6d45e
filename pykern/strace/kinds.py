"""Arguments formatted by their declared kind (`Kind.name`, pykern.sysent), and the
tables that the per-call decoders (calls, files, net, fdcalls, ipc) fill: SPECIAL (a
whole argument list at exit), SPLIT_SPECIAL (entry part, exit part), ENTRY_CAPTURE
(values read before the call) and KIND_FORMATTERS (argument kinds of one family)."""

from __future__ import annotations

from collections.abc import Callable

from pykern import abi
from pykern.abi import TIMER_ABSTIME
from pykern.strace.formats import (
    ACCESS_BITS,
    ARCH_PRCTL_NAMES,
    AT_ACCESS_FLAG_BITS,
    AT_FLAG_BITS,
    CLOCK_NAMES,
    FCNTL_NAMES,
    GRND_BITS,
    IOCTL_NAMES,
    MADVISE_NAMES,
    MREMAP_BITS,
    OPEN_FLAG_BITS,
    PROT_BITS,
    RLIMIT_NAMES,
    SIGHOW_NAMES,
    WAIT_BITS,
    WHENCE_NAMES,
    _uid,
    clone_flags,
    flags,
    futex_op,
    mmap_flags,
    octal,
    open_flags,
    ptr,
    quote,
    signame,
)
from pykern.strace.structs import (
    STATX_MASK_BITS,
    Call,
    fmt_buffer,
    fmt_dirents,
    fmt_int_out,
    fmt_int_pair,
    fmt_iovec,
    fmt_path,
    fmt_rlimit,
    fmt_rusage,
    fmt_sigaction,
    fmt_siginfo,
    fmt_sigset,
    fmt_stat,
    fmt_statx,
    fmt_str,
    fmt_strv,
    fmt_timespec,
    fmt_utsname,
    statx_flags,
)

SPECIAL: dict[str, Callable[[Call], list[str]]] = {}
SPLIT_SPECIAL: dict[str, tuple[Callable[[Call], str], Callable[[Call], str]]] = {}
ENTRY_CAPTURE: dict[str, Callable[[Call], None]] = {}
KIND_FORMATTERS: dict[str, Callable[[Call, int], str]] = {}


# the kernel-internal codes of an interrupted call (include/linux/errno.h), as strace
# names them: the call is restarted, or fails with EINTR, once the signal is handled
ERESTART_ERRNOS = {abi.ERESTARTSYS: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
                   abi.ERESTARTNOINTR: ("ERESTARTNOINTR", "To be restarted"),
                   abi.ERESTARTNOHAND: ("ERESTARTNOHAND", "To be restarted if no handler"),
                   515: ("ENOIOCTLCMD", "No ioctl command"),
                   abi.ERESTART_RESTARTBLOCK: ("ERESTART_RESTARTBLOCK", "Interrupted by signal")}


# --- the generic argument formatter by kind --------------------------------------------

def fmt_arg(call: Call, index: int) -> str:
    kind = call.entry.args[index]
    value = call.args[index]
    name = kind.name
    if name == "timespec_out" and call.entry.name in ("nanosleep", "clock_nanosleep"):
        # the remaining time is written only when interrupted (EINTR, or a restart)
        interrupted = call.result is not None and -call.result in (abi.EINTR, *ERESTART_ERRNOS)
        return fmt_timespec(call, value) if interrupted else ptr(value)
    if name == "iovec_out" and call.failed:
        return fmt_iovec(call, value, _next_arg(call, index), None, contents=False)
    out_unavailable = kind.out and (call.result is None or call.failed)
    if out_unavailable:
        return ptr(value)
    if name == "uint" and call.entry.name == "getrandom":
        return flags(value, GRND_BITS) if value & ~0x7 == 0 or value & 0x7 else f"{value:#x} /* GRND_??? */"
    if name == "open_flags" and call.entry.name in ("dup3", "pipe2"):
        return flags(value & 0xFFFFFFFF, OPEN_FLAG_BITS)  # no access mode in these
    if name == "int" and call.entry.name in ("readv", "writev", "readlink", "readlinkat"):
        return str(value & 0xFFFFFFFF)  # strace shows iovcnt and readlink's bufsiz unsigned
    if name == "int" and call.entry.name == "clock_nanosleep" and index == 1:
        return flags(value & 0xFFFFFFFF, [(TIMER_ABSTIME, "TIMER_ABSTIME")])
    if name == "int_out" and call.entry.name == "wait4" and call.result == 0:
        return ptr(value)  # WNOHANG and nothing to report: no status written
    if name == "rusage_out":
        return fmt_rusage(call, value)
    if name == "buf_out" and call.entry.name == "getcwd" and call.result:
        data = call.read(value, call.result - 1)  # the path without its NUL, whole (printpathn)
        return quote(data, None) if data is not None else ptr(value)
    if name == "off" and call.entry.name in ("truncate", "ftruncate"):
        return str(value & ((1 << 64) - 1))  # strace shows the length unsigned
    if name == "uint" and call.entry.name == "statx":
        return flags(value & 0xFFFFFFFF, STATX_MASK_BITS, "0", "STATX_???")
    if name == "at_flags" and call.entry.name == "statx":
        return statx_flags(value)
    if name == "siginfo_out":
        return fmt_siginfo(call, value)
    if name == "access_mode":
        return flags(value & 0xFFFFFFFF, ACCESS_BITS, "F_OK", "?_OK")
    simple = _SIMPLE.get(name)
    if simple is not None:
        return simple(value)
    family = KIND_FORMATTERS.get(name)
    if family is not None:
        return family(call, index)
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
        return flags(value & 0xFFFFFFFF, bits, "0", "AT_???")
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
    "fd": str, "pid": str, "uid": lambda v: _uid(v),
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
    "clockid": lambda v: _lookup(CLOCK_NAMES, v & 0xFFFFFFFF, "CLOCK_???"),
    "arch_prctl_code": lambda v: _lookup(ARCH_PRCTL_NAMES, v, "ARCH_???"),
    "rlimit_resource": lambda v: _lookup(RLIMIT_NAMES, v, "RLIMIT_???"),
    "access_mode": lambda v: flags(v, ACCESS_BITS, "F_OK"),
    "sighow": lambda v: _lookup(SIGHOW_NAMES, v, "SIG_???"),
    "futex_op": futex_op,
    "ptr": ptr,
}
