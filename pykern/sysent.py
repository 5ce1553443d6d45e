"""Syscall table entries and argument kinds.

One declaration per syscall (Blink's style) carries number, name, handler and the kind
of each argument. A kind says how to decode the raw register (signedness, width) and
how the strace formatter prints it; the formatter looks kinds up by `kind.name`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

_MASK64 = (1 << 64) - 1


class Kind(NamedTuple):
    """How one syscall argument is decoded from its register and shown in traces."""

    name: str
    bits: int = 64  # value width: 32 for C int/unsigned, 64 for long/pointer
    signed: bool = False
    out: bool = False  # an output pointer: traced at syscall exit

    def decode(self, raw: int) -> int:
        if self.bits == 32:
            raw &= 0xFFFFFFFF
            if self.signed and raw & 0x80000000:
                raw -= 1 << 32
        elif self.signed and raw & (1 << 63):
            raw -= 1 << 64
        return raw


# Scalars
INT = Kind("int", 32, True)
UINT = Kind("uint", 32)
LONG = Kind("long", 64, True)
ULONG = Kind("ulong")
SIZE = Kind("size")  # size_t
SSIZE = Kind("ssize", 64, True)
OFF = Kind("off", 64, True)  # off_t
FD = Kind("fd", 32, True)
DIRFD = Kind("dirfd", 32, True)  # AT_FDCWD shown symbolically
PID = Kind("pid", 32, True)
UID = Kind("uid", 32)
MODE = Kind("mode", 32)  # octal
SIGNUM = Kind("signum", 32, True)
# Flag words, decoded symbolically by the tracer
OPEN_FLAGS = Kind("open_flags", 32, True)
AT_FLAGS_ARG = Kind("at_flags", 32, True)  # AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH... (abi.AT_FLAGS is an auxv tag)
PROT = Kind("prot", 64)
MMAP_FLAGS = Kind("mmap_flags", 64)
MREMAP_FLAGS = Kind("mremap_flags", 64)
MADVISE = Kind("madvise", 32, True)
MPOL_MODE = Kind("mpol_mode", 32, True)  # set_mempolicy, mbind: MPOL_* | MPOL_F_* mode flags
MPOL_GET_FLAGS = Kind("mpol_get_flags", 64)  # get_mempolicy: MPOL_F_NODE ...
MBIND_FLAGS = Kind("mbind_flags", 32)  # MPOL_MF_STRICT ...
CLONE_FLAGS = Kind("clone_flags", 64)
WAIT_OPTIONS = Kind("wait_options", 32, True)
FCNTL_CMD = Kind("fcntl_cmd", 32, True)
IOCTL_REQ = Kind("ioctl_req", 32)
SEEK_WHENCE = Kind("whence", 32)
CLOCKID = Kind("clockid", 32, True)
ARCH_PRCTL_CODE = Kind("arch_prctl_code", 32, True)
RLIMIT_RESOURCE = Kind("rlimit_resource", 32)
ACCESS_MODE = Kind("access_mode", 32, True)
SIGHOW = Kind("sighow", 32, True)
FUTEX_OP = Kind("futex_op", 32, True)
# Pointers
PTR = Kind("ptr")
PATH = Kind("path")  # NUL-terminated string, shown quoted
STR = Kind("str")
BUF_IN = Kind("buf_in")  # bytes the call reads; length is the next argument
BUF_OUT = Kind("buf_out", out=True)  # bytes the call writes; length is the return value
IOVEC_IN = Kind("iovec_in")
IOVEC_OUT = Kind("iovec_out", out=True)
STRV = Kind("strv")  # char *const argv[]
STAT_OUT = Kind("stat_out", out=True)
STATX_OUT = Kind("statx_out", out=True)
TIMESPEC_IN = Kind("timespec_in")
TIMESPEC_OUT = Kind("timespec_out", out=True)
TIMEVAL_OUT = Kind("timeval_out", out=True)
RLIMIT_IN = Kind("rlimit_in")
RLIMIT_OUT = Kind("rlimit_out", out=True)
INT_OUT = Kind("int_out", out=True)  # int *, e.g. wait4's wstatus
INT_PAIR_OUT = Kind("int_pair_out", out=True)  # int[2], pipe's fds
SIGSET_IN = Kind("sigset_in")
SIGSET_OUT = Kind("sigset_out", out=True)
SIGACTION_IN = Kind("sigaction_in")
SIGACTION_OUT = Kind("sigaction_out", out=True)
SIGINFO_OUT = Kind("siginfo_out", out=True)
RUSAGE_OUT = Kind("rusage_out", out=True)
UTSNAME_OUT = Kind("utsname_out", out=True)
DIRENTS_OUT = Kind("dirents_out", out=True)
# One call's argument as strace shows it there: decoded as the kind it stands for (the
# handler sees the same value), printed its own way
COUNT = Kind("count", 32, True)  # a C int count strace prints unsigned: iovcnt, readlink's bufsiz
OFF_LENGTH = Kind("off_length", 64, True)  # truncate's off_t length, printed unsigned
NEW_FD_FLAGS = Kind("new_fd_flags", 32, True)  # pipe2's and dup3's O_* flags: no access mode
TIMER_FLAGS = Kind("timer_flags", 32, True)  # TIMER_ABSTIME
GETRANDOM_FLAGS = Kind("getrandom_flags", 32)  # GRND_*
STATX_MASK = Kind("statx_mask", 32)  # STATX_TYPE|STATX_MODE...
STATX_FLAGS = Kind("statx_flags", 32, True)  # AT_* and AT_STATX_SYNC_TYPE
ACCESSAT_FLAGS = Kind("accessat_flags", 32, True)  # faccessat2's: 0x200 is AT_EACCESS there
ENVP = Kind("envp")  # execve's environment: shown as its size, `0x... /* 5 vars */`
TIMESPEC_REM_OUT = Kind("timespec_rem_out", out=True)  # nanosleep's rem: written only when interrupted
WSTATUS_OUT = Kind("wstatus_out", out=True)  # wait4's int *wstatus, a wait status
CWD_OUT = Kind("cwd_out", out=True)  # getcwd's buffer: the path, its length the result
RANDOM_OUT = Kind("random_out", out=True)  # getrandom's bytes, in hex
# Return kinds
RET_INT = Kind("ret_int", 64, True)
RET_HEX = Kind("ret_hex", 64)  # mmap, brk: addresses
RET_NONE = Kind("ret_none", 64, True)  # exit, exit_group: never return ("= ?")
RET_RESTORED = Kind("ret_restored", 64)  # rt_sigreturn: the restored rax, an error code or any value


class SyscallEntry:
    __slots__ = ("number", "name", "handler", "args", "ret", "note", "classes", "_count", "_converters")

    def __init__(self, number: int, name: str, handler: Callable[..., int], args: tuple[Kind, ...],
                 ret: Kind = RET_INT, note: str = "", classes: frozenset[str] = frozenset()) -> None:
        self.number = number
        self.name = name
        self.handler = handler
        self.args = args
        self.ret = ret
        self.note = note  # a deliberate difference from Linux, shown in the support table
        self.classes = classes  # strace's %file, %process ...
        # Only 32-bit and signed kinds need converting; the rest pass through as is.
        self._count = len(self.args)
        self._converters = tuple((i, kind.decode) for i, kind in enumerate(self.args)
                                 if kind.bits == 32 or kind.signed)

    def decode_args(self, raw: list[int]) -> list[int]:
        """The handler's arguments from the raw registers (on every syscall: kept lean)."""
        args = raw[:self._count]
        if self._converters:
            args = list(args)
            for i, convert in self._converters:
                args[i] = convert(args[i])
        return args
