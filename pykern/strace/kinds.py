"""Arguments and results formatted by their declared kind (`Kind.name`, pykern.sysent):
fmt_arg chooses by the kind alone, never by the call's name; an argument a call shows its
own way has a kind of its own (getrandom's flags, wait4's status, nanosleep's remaining
time ...), decoded as the plain kind it stands for. Also the tables the per-call decoders
(calls, files, net, fdcalls, ipc) fill, each keyed by syscall name in one place: SPECIAL
(a whole argument list at exit), SPLIT_SPECIAL (entry part, exit part), ENTRY_CAPTURE
(values read before the call), RETURNS (a result strace decodes: poll's ready set,
fcntl's flags) and KIND_FORMATTERS (argument kinds, of one family too)."""

from __future__ import annotations

from collections.abc import Callable

from pykern import abi
from pykern.abi import TIMER_ABSTIME, errno_name, strerror
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
    MAX_ERRNO,
    MPOL_GET_BITS,
    MPOL_MF_BITS,
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
    mpol_mode,
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
    fmt_wstatus,
    statx_flags,
)

SPECIAL: dict[str, Callable[[Call], list[str]]] = {}
SPLIT_SPECIAL: dict[str, tuple[Callable[[Call], str], Callable[[Call], str]]] = {}
ENTRY_CAPTURE: dict[str, Callable[[Call], None]] = {}
KIND_FORMATTERS: dict[str, Callable[[Call, int], str]] = {}
RETURNS: dict[str, Callable[[Call], str | None]] = {}


# the kernel-internal codes of an interrupted call (include/linux/errno.h), as strace
# names them: the call is restarted, or fails with EINTR, once the signal is handled
ERESTART_ERRNOS = {abi.ERESTARTSYS: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
                   abi.ERESTARTNOINTR: ("ERESTARTNOINTR", "To be restarted"),
                   abi.ERESTARTNOHAND: ("ERESTARTNOHAND", "To be restarted if no handler"),
                   515: ("ENOIOCTLCMD", "No ioctl command"),
                   abi.ERESTART_RESTARTBLOCK: ("ERESTART_RESTARTBLOCK", "Interrupted by signal")}


# --- the generic argument formatter by kind --------------------------------------------

def fmt_arg(call: Call, index: int) -> str:
    """Argument `index` of `call` as strace prints it, chosen by its kind alone: an output
    argument the call did not fill (at entry, or after an error) is its address."""
    kind = call.entry.args[index]
    value = call.args[index]
    own = _OUTPUT_WHEN_FAILED.get(kind.name)
    if own is not None:
        return own(call, index)
    if kind.out and (call.result is None or call.failed):
        return ptr(value)
    simple = _SIMPLE.get(kind.name)
    if simple is not None:
        return simple(value)
    formatter = KIND_FORMATTERS.get(kind.name)
    if formatter is not None:
        return formatter(call, index)
    return ptr(value) if kind.name == "ptr" or kind.out else hex(value)


def format_return(call: Call) -> str:
    """What follows a finished call's ` = `: an error by name, an interrupted call by
    strace's name for the restart code, a result some calls decode (RETURNS: poll's ready
    set, fcntl's flags ...), or the number as its return kind shows it."""
    result = call.result
    assert result is not None
    kind = call.entry.ret.name
    if kind == "ret_restored":  # rt_sigreturn: the restored rax, an error code or any 64-bit value
        signed = result - (1 << 64) if result >= 1 << 63 else result
        if -MAX_ERRNO <= signed < 0:
            result = signed
        else:
            return str(result & ((1 << 64) - 1))
    if -MAX_ERRNO <= result < 0:
        err = -result
        if err in ERESTART_ERRNOS:
            return "? {} ({})".format(*ERESTART_ERRNOS[err])
        return f"-1 {errno_name(err)} ({strerror(err)})"
    decode = RETURNS.get(call.entry.name)
    shown = decode(call) if decode is not None else None
    if shown is not None:
        return shown
    if kind == "signum" and result > 0:
        return f"{result} ({signame(result)})"
    if kind == "ret_hex":
        return hex(result & ((1 << 64) - 1))
    return str(result)


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
    "mpol_mode": mpol_mode,
    "mpol_get_flags": lambda v: flags(v, MPOL_GET_BITS, unknown="MPOL_???"),
    "mbind_flags": lambda v: flags(v, MPOL_MF_BITS, unknown="MPOL_???"),
    "clone_flags": clone_flags,
    "wait_options": lambda v: flags(v & 0xFFFFFFFF, WAIT_BITS),
    "fcntl_cmd": lambda v: _lookup(FCNTL_NAMES, v, "F_???"),
    "ioctl_req": lambda v: _lookup(IOCTL_NAMES, v),
    "whence": lambda v: _lookup(WHENCE_NAMES, v, "SEEK_???"),
    "clockid": lambda v: _lookup(CLOCK_NAMES, v & 0xFFFFFFFF, "CLOCK_???"),
    "arch_prctl_code": lambda v: _lookup(ARCH_PRCTL_NAMES, v, "ARCH_???"),
    "rlimit_resource": lambda v: _lookup(RLIMIT_NAMES, v, "RLIMIT_???"),
    "access_mode": lambda v: flags(v & 0xFFFFFFFF, ACCESS_BITS, "F_OK", "?_OK"),
    "count": lambda v: str(v & 0xFFFFFFFF),
    "off_length": lambda v: str(v & ((1 << 64) - 1)),
    "new_fd_flags": lambda v: flags(v & 0xFFFFFFFF, OPEN_FLAG_BITS),
    "timer_flags": lambda v: flags(v & 0xFFFFFFFF, [(TIMER_ABSTIME, "TIMER_ABSTIME")]),
    "getrandom_flags": lambda v: flags(v, GRND_BITS) if v & ~0x7 == 0 or v & 0x7 else f"{v:#x} /* GRND_??? */",
    "statx_mask": lambda v: flags(v & 0xFFFFFFFF, STATX_MASK_BITS, "0", "STATX_???"),
    "statx_flags": statx_flags,
    "at_flags": lambda v: flags(v & 0xFFFFFFFF, AT_FLAG_BITS, "0", "AT_???"),
    "accessat_flags": lambda v: flags(v & 0xFFFFFFFF, AT_ACCESS_FLAG_BITS, "0", "AT_???"),
    "sighow": lambda v: _lookup(SIGHOW_NAMES, v, "SIG_???"),
    "futex_op": futex_op,
    "ptr": ptr,
}


def _remaining(call: Call, index: int) -> str:
    """nanosleep's rem: written only when the sleep was interrupted (EINTR, or a restart)."""
    interrupted = call.result is not None and -call.result in (abi.EINTR, *ERESTART_ERRNOS)
    return fmt_timespec(call, call.args[index]) if interrupted else ptr(call.args[index])


def _iovec_out(call: Call, index: int) -> str:
    """readv's buffers: their addresses when the call failed, what it filled when it did not."""
    value = call.args[index]
    if call.failed:
        return fmt_iovec(call, value, _next_arg(call, index), None, contents=False)
    if call.result is None:
        return ptr(value)
    return fmt_iovec(call, value, _next_arg(call, index), call.result)


def _cwd(call: Call, index: int) -> str:
    """getcwd's path without its NUL, whole (strace's printpathn)."""
    value = call.args[index]
    if not call.result:
        return fmt_buffer(call, value, 0)
    data = call.read(value, call.result - 1)
    return quote(data, None) if data is not None else ptr(value)


# the output kinds that decide themselves what a call that failed (or has not returned) shows
_OUTPUT_WHEN_FAILED: dict[str, Callable[[Call, int], str]] = {
    "timespec_rem_out": _remaining,
    "iovec_out": _iovec_out,
}

KIND_FORMATTERS.update({
    "rusage_out": lambda call, i: fmt_rusage(call, call.args[i]),
    "siginfo_out": lambda call, i: fmt_siginfo(call, call.args[i]),
    "path": lambda call, i: fmt_path(call, call.args[i]),
    "str": lambda call, i: fmt_str(call, call.args[i]),
    "buf_in": lambda call, i: fmt_buffer(call, call.args[i], _next_arg(call, i)),
    "buf_out": lambda call, i: fmt_buffer(call, call.args[i], call.result or 0),
    "random_out": lambda call, i: fmt_buffer(call, call.args[i], call.result or 0, force_hex=True),
    "cwd_out": _cwd,
    "strv": lambda call, i: fmt_strv(call, call.args[i], abbreviate=False),
    "envp": lambda call, i: fmt_strv(call, call.args[i], abbreviate=True),
    "stat_out": lambda call, i: fmt_stat(call, call.args[i]),
    "statx_out": lambda call, i: fmt_statx(call, call.args[i]),
    "timespec_in": lambda call, i: fmt_timespec(call, call.args[i]),
    "timespec_out": lambda call, i: fmt_timespec(call, call.args[i]),
    "timeval_out": lambda call, i: fmt_timespec(call, call.args[i], usec=True),
    "rlimit_in": lambda call, i: fmt_rlimit(call, call.args[i]),
    "rlimit_out": lambda call, i: fmt_rlimit(call, call.args[i]),
    "sigset_in": lambda call, i: fmt_sigset(call, call.args[i]),
    "sigset_out": lambda call, i: fmt_sigset(call, call.args[i]),
    "sigaction_in": lambda call, i: fmt_sigaction(call, call.args[i]),
    "sigaction_out": lambda call, i: fmt_sigaction(call, call.args[i]),
    "int_out": lambda call, i: fmt_int_out(call, call.args[i]),
    "wstatus_out": lambda call, i: fmt_wstatus(call, call.args[i]),
    "int_pair_out": lambda call, i: fmt_int_pair(call, call.args[i]),
    "iovec_in": lambda call, i: fmt_iovec(call, call.args[i], _next_arg(call, i), None),
    "dirents_out": lambda call, i: fmt_dirents(call, call.args[i], call.result or 0),
    "utsname_out": lambda call, i: fmt_utsname(call, call.args[i]),
})
