"""Values formatted as strace prints them: the symbolic tables (flags, enums, names) and
the decoders of plain values (open flags, signal sets, quoted strings, wait statuses,
siginfo lines). Nothing here reads guest memory."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pykern import abi
from pykern.abi import (
    FUTEX_CLOCK_REALTIME,
    FUTEX_PRIVATE_FLAG,
    errno_name,
    signal_name,
)

if TYPE_CHECKING:
    from pykern.sigtypes import SigInfo

ALIGN_COLUMN = 40  # strace's -a default: "= ret" starts at this column
DEFAULT_STRSIZE = 32
MAX_ERRNO = 4095

# --- symbolic tables -------------------------------------------------------------------


def _names(prefix: str, exclude: tuple[str, ...] = ()) -> dict[int, str]:
    return {value: name for name, value in vars(abi).items()
            if name.startswith(prefix) and isinstance(value, int) and name not in exclude}


# in strace's order (open_mode_flags.in): O_SYNC and O_TMPFILE are placed by open_flags
OPEN_FLAG_BITS = [(getattr(abi, n), n) for n in (
    "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_DIRECT",
    "O_LARGEFILE", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH", "O_DIRECTORY")] + [(abi.O_ASYNC, "FASYNC")]
OPEN_ACCMODE = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}
AT_FLAG_BITS = [(abi.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), (abi.AT_REMOVEDIR, "AT_REMOVEDIR"),
                (abi.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"), (abi.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"),
                (abi.AT_EMPTY_PATH, "AT_EMPTY_PATH")]
# faccessat2's flags: 0x200 is AT_EACCESS there, not AT_REMOVEDIR
AT_ACCESS_FLAG_BITS = [(abi.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), (abi.AT_EACCESS, "AT_EACCESS"),
                       (abi.AT_EMPTY_PATH, "AT_EMPTY_PATH")]
PROT_BITS = [(abi.PROT_READ, "PROT_READ"), (abi.PROT_WRITE, "PROT_WRITE"), (abi.PROT_EXEC, "PROT_EXEC"),
             (abi.PROT_GROWSDOWN, "PROT_GROWSDOWN"), (abi.PROT_GROWSUP, "PROT_GROWSUP")]
MAP_TYPES = {0: "MAP_FILE", abi.MAP_SHARED: "MAP_SHARED", abi.MAP_PRIVATE: "MAP_PRIVATE",
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
MPOL_MODE_NAMES = {value: name for name, value in vars(abi).items()
                   if name.startswith("MPOL_") and isinstance(value, int) and value < abi.MPOL_MAX
                   and not name.startswith(("MPOL_F_", "MPOL_MF_")) and name != "MPOL_MAX"}
MPOL_MODE_FLAG_BITS = [(abi.MPOL_F_STATIC_NODES, "MPOL_F_STATIC_NODES"),
                       (abi.MPOL_F_RELATIVE_NODES, "MPOL_F_RELATIVE_NODES"),
                       (abi.MPOL_F_NUMA_BALANCING, "MPOL_F_NUMA_BALANCING")]
MPOL_GET_BITS = [(abi.MPOL_F_NODE, "MPOL_F_NODE"), (abi.MPOL_F_ADDR, "MPOL_F_ADDR"),
                 (abi.MPOL_F_MEMS_ALLOWED, "MPOL_F_MEMS_ALLOWED")]
MPOL_MF_BITS = [(abi.MPOL_MF_STRICT, "MPOL_MF_STRICT"), (abi.MPOL_MF_MOVE, "MPOL_MF_MOVE"),
                (abi.MPOL_MF_MOVE_ALL, "MPOL_MF_MOVE_ALL")]


def mpol_mode(value: int) -> str:
    """set_mempolicy's and mbind's mode: `MPOL_BIND|MPOL_F_STATIC_NODES`."""
    mode = value & ~abi.MPOL_MODE_FLAGS & 0xFFFFFFFF
    name = MPOL_MODE_NAMES.get(mode)
    if name is None:
        return f"{value & 0xFFFFFFFF:#x} /* MPOL_??? */"
    return "|".join([name, *(n for bit, n in MPOL_MODE_FLAG_BITS if value & bit)])
# by name first: F_GETFD and F_SETFD share their values with F_WRLCK and F_UNLCK
FCNTL_NAMES = {v: n for n, v in vars(abi).items()
               if n.startswith("F_") and isinstance(v, int) and n != "F_OK" and not n.endswith(("_OK", "LCK"))}
FLOCK_TYPE_NAMES = {abi.F_RDLCK: "F_RDLCK", abi.F_WRLCK: "F_WRLCK", abi.F_UNLCK: "F_UNLCK"}
FCNTL_LOCK_CMDS = {abi.F_GETLK, abi.F_SETLK, abi.F_SETLKW, abi.F_OFD_GETLK, abi.F_OFD_SETLK, abi.F_OFD_SETLKW}
FCNTL_NAMES.update({0: "F_DUPFD", abi.F_GETFD: "F_GETFD", 1031: "F_SETPIPE_SZ", abi.F_GETPIPE_SZ: "F_GETPIPE_SZ"})
FCNTL_NO_ARG = {abi.F_GETFD, abi.F_GETFL, abi.F_GETOWN, abi.F_GETPIPE_SZ}
IOCTL_NAMES = {v: n for n in ("TCGETS", "TCSETS", "TCSETSW", "TCSETSF", "TIOCGPGRP", "TIOCSPGRP",
                              "TIOCGWINSZ", "TIOCSWINSZ", "FIONREAD", "FIONBIO", "FIOCLEX", "FIONCLEX")
               for v in (getattr(abi, n),)}
# OSS's _IO('T', 2..4) share the numbers; strace names both
IOCTL_NAMES.update({abi.TCSETS: "SNDCTL_TMR_START or TCSETS", abi.TCSETSW: "SNDCTL_TMR_STOP or TCSETSW",
                    abi.TCSETSF: "SNDCTL_TMR_CONTINUE or TCSETSF"})
# asm-generic/termbits.h, in strace's xlat order (term_*flags.in)
TERM_IFLAG_BITS = [(getattr(abi, n), n) for n in (
    "IGNBRK", "BRKINT", "IGNPAR", "PARMRK", "INPCK", "ISTRIP", "INLCR", "IGNCR", "ICRNL", "IUCLC", "IXON",
    "IXANY", "IXOFF", "IMAXBEL", "IUTF8")]
TERM_OFLAG_BITS = [(getattr(abi, n), n) for n in (
    "OPOST", "OLCUC", "ONLCR", "OCRNL", "ONOCR", "ONLRET", "OFILL", "OFDEL")]
# the output delay fields: (mask, names by value), printed before the flag bits
TERM_ODELAYS = [(0o400, {0: "NL0", 0o400: "NL1"}),
                (0o3000, {0: "CR0", 0o1000: "CR1", 0o2000: "CR2", 0o3000: "CR3"}),
                (0o14000, {0: "TAB0", 0o4000: "TAB1", 0o10000: "TAB2", 0o14000: "TAB3"}),
                (0o20000, {0: "BS0", 0o20000: "BS1"}), (0o40000, {0: "VT0", 0o40000: "VT1"}),
                (0o100000, {0: "FF0", 0o100000: "FF1"})]
TERM_CFLAG_BITS = [(getattr(abi, n), n) for n in (
    "CSTOPB", "CREAD", "PARENB", "PARODD", "HUPCL", "CLOCAL", "CMSPAR", "CRTSCTS")]
TERM_CBAUD = abi.CBAUD
TERM_BAUDS = {i: f"B{rate}" for i, rate in enumerate(
    (0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400))}
TERM_BAUDS.update({0o10000 + i: f"B{rate}" for i, rate in enumerate(
    (57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000,
     3000000, 3500000, 4000000), start=1)})
TERM_CSIZE = {0: "CS5", 0o20: "CS6", 0o40: "CS7", 0o60: "CS8"}
TERM_LFLAG_BITS = [(getattr(abi, n), n) for n in (
    "ISIG", "ICANON", "XCASE", "ECHO", "ECHOE", "ECHOK", "ECHONL", "NOFLSH", "IEXTEN", "ECHOCTL", "ECHOPRT",
    "ECHOKE", "FLUSHO", "PENDIN", "TOSTOP", "EXTPROC")]
TERMIOS_HEAD = struct.Struct("<IIII")  # c_iflag, c_oflag, c_cflag, c_lflag: the rest is "..."
WHENCE_NAMES = {getattr(abi, n): n for n in ("SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE")}
CLOCK_NAMES = {v: n for v, n in _names("CLOCK_").items()}
CLOCK_NAMES.update({10: "CLOCK_SGI_CYCLE", 11: "CLOCK_TAI"})
ARCH_PRCTL_NAMES = _names("ARCH_")
RLIMIT_NAMES = {v: n for v, n in _names("RLIMIT_").items()}
SIGHOW_NAMES = {abi.SIG_BLOCK: "SIG_BLOCK", abi.SIG_UNBLOCK: "SIG_UNBLOCK", abi.SIG_SETMASK: "SIG_SETMASK"}
GRND_BITS = [(abi.GRND_NONBLOCK, "GRND_NONBLOCK"), (abi.GRND_RANDOM, "GRND_RANDOM"),
             (abi.GRND_INSECURE, "GRND_INSECURE")]
S_IFMT_NAMES = {abi.S_IFSOCK: "S_IFSOCK", abi.S_IFLNK: "S_IFLNK", abi.S_IFREG: "S_IFREG",
                abi.S_IFBLK: "S_IFBLK", abi.S_IFDIR: "S_IFDIR", abi.S_IFCHR: "S_IFCHR", abi.S_IFIFO: "S_IFIFO"}
FUTEX_OPS = {getattr(abi, n): n for n in (
    "FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE", "FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP",
    "FUTEX_LOCK_PI", "FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI", "FUTEX_WAIT_BITSET", "FUTEX_WAKE_BITSET",
    "FUTEX_WAIT_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2")}
# in strace's order (sigact_flags.in)
SA_BITS = [(getattr(abi, n), n) for n in (
    "SA_RESTORER", "SA_ONSTACK", "SA_RESTART", "SA_INTERRUPT", "SA_NODEFER", "SA_RESETHAND",
    "SA_SIGINFO", "SA_NOCLDSTOP", "SA_NOCLDWAIT")]
RLIM64_INFINITY = abi.RLIM_INFINITY  # strace's name for it


def flags(value: int, bits: list[tuple[int, str]], zero: str = "0", unknown: str = "") -> str:
    """`A|B|0x40` as strace prints a flag word; `zero` when nothing is set; only unknown
    bits are `0x40 /* X_??? */` when `unknown` names the family."""
    parts = []
    for bit, name in bits:
        if bit and value & bit == bit:
            parts.append(name)
            value &= ~bit
    if value:
        if not parts and unknown:
            return f"{value:#x} /* {unknown} */"
        parts.append(hex(value))
    return "|".join(parts) if parts else zero


def open_flags(value: int) -> str:
    value &= 0xFFFFFFFF
    access = OPEN_ACCMODE[value & abi.O_ACCMODE]
    bits = list(OPEN_FLAG_BITS)
    bits.insert(6, (abi.O_SYNC, "O_SYNC"))  # before O_DSYNC, which it includes
    bits.insert(len(bits) - 2, (abi.O_TMPFILE, "O_TMPFILE"))  # before O_DIRECTORY, likewise
    rest = flags(value & ~abi.O_ACCMODE, bits, "")
    return "|".join(p for p in (access, rest) if p)


def octal(value: int) -> str:
    """C's %#03o: 0644, 022, 000."""
    return ("0" + format(value, "o")).rjust(3, "0") if value else "000"


def signame(sig: int) -> str:
    if sig == abi.SIGRTMIN:
        return "SIGRTMIN"
    name = signal_name(sig)
    return name if name.startswith("SIG") else str(sig)


def termios(head: bytes) -> str:
    """struct termios as strace prints it without -v: the four flag words, then `...`."""
    iflag, oflag, cflag, lflag = TERMIOS_HEAD.unpack(head[:TERMIOS_HEAD.size])
    delays = [names.get(oflag & mask, hex(oflag & mask)) for mask, names in TERM_ODELAYS]
    rest_o = oflag & ~sum(mask for mask, _ in TERM_ODELAYS)
    # strace 6.1 prints the "|" after the delay fields even when no other bit is set
    oflags = "|".join(delays) + "|" + flags(rest_o, TERM_OFLAG_BITS, "")
    baud = TERM_BAUDS.get(cflag & TERM_CBAUD, hex(cflag & TERM_CBAUD))
    rest_c = flags(cflag & ~TERM_CBAUD & ~0o60, TERM_CFLAG_BITS, "")
    cflags = "|".join(p for p in (baud, TERM_CSIZE[cflag & 0o60], rest_c) if p)
    return (f"{{c_iflag={flags(iflag, TERM_IFLAG_BITS)}, c_oflag={oflags}, c_cflag={cflags}, "
            f"c_lflag={flags(lflag, TERM_LFLAG_BITS)}, ...}}")


def winsize(data: bytes) -> str:
    row, col, xpixel, ypixel = abi.WINSIZE.unpack(data[:abi.WINSIZE.size])
    return f"{{ws_row={row}, ws_col={col}, ws_xpixel={xpixel}, ws_ypixel={ypixel}}}"


def mmap_flags(value: int) -> str:
    kind = MAP_TYPES.get(value & abi.MAP_TYPE, hex(value & abi.MAP_TYPE))
    rest = flags(value & ~abi.MAP_TYPE, MAP_BITS, "")
    return kind + ("|" + rest if rest else "")


def clone_flags(value: int) -> str:
    sig = value & abi.CSIGNAL
    rest = flags(value & ~abi.CSIGNAL, CLONE_BITS, "")
    parts = [p for p in (rest, signame(sig) if sig else "") if p]
    return "|".join(parts) if parts else "0"


def _futex_op_names() -> dict[int, str]:
    """strace's xlat/futexops: each command, its _PRIVATE form (FUTEX_FD's spelled out), and
    FUTEX_CLOCK_REALTIME only with the waits that take it; any other value is unknown."""
    names = dict(FUTEX_OPS)
    for cmd, name in FUTEX_OPS.items():
        names[cmd | FUTEX_PRIVATE_FLAG] = name + ("|FUTEX_PRIVATE_FLAG" if cmd == abi.FUTEX_FD else "_PRIVATE")
    for cmd in (abi.FUTEX_WAIT, abi.FUTEX_WAIT_BITSET, abi.FUTEX_WAIT_REQUEUE_PI):
        for private in (0, FUTEX_PRIVATE_FLAG):
            names[cmd | private | FUTEX_CLOCK_REALTIME] = names[cmd | private] + "|FUTEX_CLOCK_REALTIME"
    return names


FUTEX_OP_NAMES = _futex_op_names()


def futex_op(value: int) -> str:
    """strace's futexops: `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`, `0x181 /* FUTEX_??? */`."""
    name = FUTEX_OP_NAMES.get(value & 0xFFFFFFFF)
    return name if name is not None else f"{hex(value & 0xFFFFFFFF)} /* FUTEX_??? */"


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
    if status & 0xFFFF == 0xFFFF:
        return "[{WIFCONTINUED(s)}]"
    if sig == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}]"
    if sig == 0x7F:
        return f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {signame((status >> 8) & 0xFF)}}}]"
    core = " && WCOREDUMP(s)" if status & 0x80 else ""
    return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {signame(sig)}{core}}}]"


# siginfo's si_code: the generic values first (strace looks those up first too), then
# the per-signal ones (asm-generic/siginfo.h)
SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
            -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL"}


def _codes(*names: str) -> dict[int, str]:
    return {i: name for i, name in enumerate(names, start=1)}


SIGNAL_CODES: dict[int, dict[int, str]] = {
    abi.SIGILL: _codes("ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG",
                       "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"),
    abi.SIGFPE: _codes("FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES",
                       "FPE_FLTINV", "FPE_FLTSUB", "FPE_DECOVF", "FPE_DECDIV", "FPE_DECERR", "FPE_INVASC",
                       "FPE_INVDEC", "FPE_FLTUNK", "FPE_CONDTRAP"),
    abi.SIGSEGV: _codes("SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI",
                        "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"),
    abi.SIGBUS: _codes("BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"),
    abi.SIGTRAP: _codes("TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"),
    abi.SIGCHLD: _codes("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED",
                        "CLD_CONTINUED"),
    abi.SIGIO: _codes("POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"),
    abi.SIGSYS: _codes("SYS_SECCOMP", "SYS_USER_DISPATCH"),
}
FAULT_ADDR_SIGNALS = frozenset({abi.SIGILL, abi.SIGFPE, abi.SIGSEGV, abi.SIGBUS, abi.SIGTRAP})


def si_code_name(signo: int, code: int) -> str:
    name = SI_CODES.get(code) or SIGNAL_CODES.get(signo, {}).get(code)
    return name if name is not None else hex(code & 0xFFFFFFFF) if code < 0 else str(code)


def siginfo(info: SigInfo) -> str:
    """A siginfo as strace prints it (printsiginfo.c): the sender for user-sent signals
    (si_code <= 0), per-signal fields for the kernel's own."""
    fields = [f"si_signo={signame(info.signo)}", f"si_code={si_code_name(info.signo, info.code)}"]
    if info.errno:
        fields.append(f"si_errno={errno_name(info.errno)}")
    source = [f"si_pid={info.pid}", f"si_uid={info.uid}"]
    value = getattr(info, "value", 0)  # si_value: sigqueue's int and pointer share it
    sigval = [f"si_int={struct.unpack('<i', struct.pack('<I', value & 0xFFFFFFFF))[0]}", f"si_ptr={ptr(value)}"]
    if info.code == abi.SI_TIMER:  # a POSIX timer's: no sender, its id and overruns
        fields += [f"si_timerid={getattr(info, 'timerid', 0) & 0xFFFFFFFF:#x}",
                   f"si_overrun={getattr(info, 'overrun', 0)}"] + sigval
    elif info.code <= 0:
        fields += source + (sigval if value and info.code not in (abi.SI_USER, abi.SI_TKILL) else [])
    elif info.signo == abi.SIGCHLD:
        status = str(info.status) if info.code == abi.CLD_EXITED else signame(info.status)
        fields += source + [f"si_status={status}", f"si_utime={_clock_t(info.utime)}",
                            f"si_stime={_clock_t(info.stime)}"]
    elif info.signo in FAULT_ADDR_SIGNALS:
        fields.append(f"si_addr={ptr(info.addr)}")
    elif info.pid or info.uid:
        fields += source + (sigval if value else [])
    return "{" + ", ".join(fields) + "}"


def _clock_t(ticks: int) -> str:
    """A clock_t in siginfo: strace adds the seconds (USER_HZ 100) when it is not 0."""
    ticks &= (1 << 64) - 1
    return f"{ticks} /* {ticks // 100}.{ticks % 100:02d} s */" if ticks else "0"


def signal_line(info: SigInfo) -> str:
    return f"--- {signame(info.signo)} {siginfo(info)} ---"


# --- capabilities, mlock ---

CAP_NAMES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
             "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
             "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
             "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
             "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
             "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
             "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
             "CAP_CHECKPOINT_RESTORE"]


def cap_name(value: int) -> str:
    return CAP_NAMES[value] if 0 <= value < len(CAP_NAMES) else f"{value:#x} /* CAP_??? */"


def _uid(value: int) -> str:
    return "-1" if value & 0xFFFFFFFF == 0xFFFFFFFF else str(value & 0xFFFFFFFF)
