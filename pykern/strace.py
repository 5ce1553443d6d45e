"""The syscall tracer: strace-compatible lines, a JSON-lines stream and a `-c` summary.

The kernel calls `enter` before a handler runs, `exit` after it completed (or exec'd),
`block` when it went to sleep, and `process_exit` when a process died. A blocked call is
retried from the top and `enter` runs again: per-task pending state makes the retry
silent, so each call prints one line (or an `<unfinished ...>` / `<... resumed>` pair
when another task's line came in between, as strace -f does).

Arguments are formatted by their declared kind (`Kind.name`, pykern.sysent) the way
strace prints them: input arguments at entry (before the call can change memory), output
arguments at exit. A few calls whose argument meaning depends on another argument
(clone, fcntl, futex, getrandom, ...) have a small formatter of their own (SPECIAL,
called at exit), and clone3 prints its struct at entry and the tid it wrote back at exit
(SPLIT_SPECIAL), as strace does.

Interrupted calls end with strace's names for the kernel's restart codes (`= ?
ERESTARTSYS (To be restarted if SA_RESTART is set)`). Linux resumes a call that ended
with ERESTART_RESTARTBLOCK through restart_syscall; pykern re-enters the call itself,
and the tracer shows that re-entry as strace does: `restart_syscall(<... resuming
interrupted clock_nanosleep ...>) = 0`. A thread's exit prints its `+++ exited with N
+++` at once; an execve in a thread that is not the leader prints `+++ superseded by
execve in pid OLD +++` for the leader, whose tid the thread takes.
Formatting never raises into the kernel: a guest pointer that cannot be read is shown
as its address, as strace does.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, TextIO

from pykern import abi
from pykern.abi import errno_name, signal_name, strerror
from pykern.errors import Fault, SysError
from pykern.uc_const import UC_X86_REG_RSP as X86_REG_RSP

if TYPE_CHECKING:
    from pykern.signal import SigInfo
    from pykern.sysent import SyscallEntry
    from pykern.task import Task, ThreadGroup

ALIGN_COLUMN = 40  # strace's -a default: "= ret" starts at this column
DEFAULT_STRSIZE = 32
MAX_ERRNO = 4095

# strace 6.1's -e trace=%CLASS sets for x86-64, by name (measured: a program that makes
# every syscall under a seccomp filter answering ENOSYS, traced with each class). By
# name, so that calls pykern has no handler for are classified too.
TRACE_CLASSES: dict[str, frozenset[str]] = {name: frozenset(names.split()) for name, names in {
    "network": "accept accept4 bind connect getpeername getpmsg getsockname getsockopt listen putpmsg "
               "recvfrom recvmmsg recvmsg sendfile sendmmsg sendmsg sendto setsockopt shutdown socket socketpair",
    "process": "clone clone3 execve execveat exit exit_group fork kill pidfd_send_signal rt_sigqueueinfo "
               "rt_tgsigqueueinfo tgkill tkill vfork wait4 waitid",
    "file": "access acct chdir chmod chown chroot creat execve execveat faccessat faccessat2 fanotify_mark "
            "fchmodat fchownat fsconfig fspick futimesat getcwd getxattr inotify_add_watch lchown lgetxattr "
            "link linkat listxattr llistxattr lremovexattr lsetxattr lstat mkdir mkdirat mknod mknodat mount "
            "mount_setattr move_mount name_to_handle_at newfstatat open open_tree openat openat2 pivot_root "
            "quotactl readlink readlinkat removexattr rename renameat renameat2 rmdir setxattr stat statfs "
            "statx swapoff swapon symlink symlinkat truncate umount2 unlink unlinkat uselib utime utimensat "
            "utimes",
    "signal": "io_uring_enter kill pause pidfd_send_signal rt_sigaction rt_sigpending rt_sigprocmask "
              "rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sigaltstack "
              "signalfd signalfd4 tgkill tkill",
    "memory": "brk get_mempolicy io_destroy io_setup io_uring_register madvise mbind migrate_pages mincore "
              "mlock mlock2 mlockall mmap move_pages mprotect mremap msync munlock munlockall munmap "
              "pkey_mprotect remap_file_pages set_mempolicy set_mempolicy_home_node shmat shmdt",
    "desc": "bpf close copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait "
            "epoll_pwait2 epoll_wait eventfd eventfd2 execveat faccessat faccessat2 fadvise64 fallocate "
            "fanotify_init fanotify_mark fchdir fchmod fchmodat fchown fchownat fcntl fdatasync fgetxattr "
            "finit_module flistxattr flock fremovexattr fsconfig fsetxattr fsmount fsopen fspick fstat fstatfs "
            "fsync ftruncate futimesat getdents getdents64 inotify_add_watch inotify_init inotify_init1 "
            "inotify_rm_watch io_uring_enter io_uring_register io_uring_setup ioctl kexec_file_load "
            "landlock_add_rule landlock_create_ruleset landlock_restrict_self linkat lseek memfd_create "
            "memfd_secret mkdirat mknodat mmap mount_setattr move_mount mq_getsetattr mq_notify mq_open "
            "mq_timedreceive mq_timedsend name_to_handle_at newfstatat open open_by_handle_at open_tree openat "
            "openat2 perf_event_open pidfd_getfd pidfd_open pidfd_send_signal pipe pipe2 poll ppoll pread64 "
            "preadv preadv2 process_madvise process_mrelease pselect6 pwrite64 pwritev pwritev2 quotactl_fd "
            "read readahead readlinkat readv renameat renameat2 select sendfile setns signalfd signalfd4 "
            "splice statx symlinkat sync_file_range syncfs tee timerfd_create timerfd_gettime timerfd_settime "
            "unlinkat userfaultfd utimensat vmsplice write writev",
    "ipc": "msgctl msgget msgrcv msgsnd semctl semget semop semtimedop shmat shmctl shmdt shmget",
    "creds": "capget capset getegid geteuid getgid getgroups getresgid getresuid getuid prctl setfsgid "
             "setfsuid setgid setgroups setregid setresgid setresuid setreuid setuid",
    "clock": "adjtimex clock_adjtime clock_getres clock_gettime clock_settime gettimeofday settimeofday time",
    "pure": "getegid geteuid getgid getpgrp getpid getppid gettid getuid",
    "stat": "stat", "lstat": "lstat", "fstat": "fstat newfstatat statx",
    "%stat": "fstat lstat newfstatat stat statx",
    "statfs": "statfs", "fstatfs": "fstatfs", "%statfs": "fstatfs statfs ustat",
}.items()}
TRACE_CLASSES["net"] = TRACE_CLASSES["network"]
# -e status=: strace's names; "unavailable" and "detached" never happen here
TRACE_STATUSES = frozenset({"successful", "failed", "unfinished", "unavailable", "detached"})


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
TERM_IFLAG_BITS = [(0o1, "IGNBRK"), (0o2, "BRKINT"), (0o4, "IGNPAR"), (0o10, "PARMRK"), (0o20, "INPCK"),
                   (0o40, "ISTRIP"), (0o100, "INLCR"), (0o200, "IGNCR"), (0o400, "ICRNL"), (0o1000, "IUCLC"),
                   (0o2000, "IXON"), (0o4000, "IXANY"), (0o10000, "IXOFF"), (0o20000, "IMAXBEL"),
                   (0o40000, "IUTF8")]
TERM_OFLAG_BITS = [(0o1, "OPOST"), (0o2, "OLCUC"), (0o4, "ONLCR"), (0o10, "OCRNL"), (0o20, "ONOCR"),
                   (0o40, "ONLRET"), (0o100, "OFILL"), (0o200, "OFDEL")]
# the output delay fields: (mask, names by value), printed before the flag bits
TERM_ODELAYS = [(0o400, {0: "NL0", 0o400: "NL1"}),
                (0o3000, {0: "CR0", 0o1000: "CR1", 0o2000: "CR2", 0o3000: "CR3"}),
                (0o14000, {0: "TAB0", 0o4000: "TAB1", 0o10000: "TAB2", 0o14000: "TAB3"}),
                (0o20000, {0: "BS0", 0o20000: "BS1"}), (0o40000, {0: "VT0", 0o40000: "VT1"}),
                (0o100000, {0: "FF0", 0o100000: "FF1"})]
TERM_CFLAG_BITS = [(0o100, "CSTOPB"), (0o200, "CREAD"), (0o400, "PARENB"), (0o1000, "PARODD"),
                   (0o2000, "HUPCL"), (0o4000, "CLOCAL"), (0o10000000000, "CMSPAR"),
                   (0o20000000000, "CRTSCTS")]
TERM_CBAUD = 0o10017
TERM_BAUDS = {i: f"B{rate}" for i, rate in enumerate(
    (0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400))}
TERM_BAUDS.update({0o10000 + i: f"B{rate}" for i, rate in enumerate(
    (57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000,
     3000000, 3500000, 4000000), start=1)})
TERM_CSIZE = {0: "CS5", 0o20: "CS6", 0o40: "CS7", 0o60: "CS8"}
TERM_LFLAG_BITS = [(0o1, "ISIG"), (0o2, "ICANON"), (0o4, "XCASE"), (0o10, "ECHO"), (0o20, "ECHOE"),
                   (0o40, "ECHOK"), (0o100, "ECHONL"), (0o200, "NOFLSH"), (0o100000, "IEXTEN"),
                   (0o1000, "ECHOCTL"), (0o2000, "ECHOPRT"), (0o4000, "ECHOKE"), (0o10000, "FLUSHO"),
                   (0o40000, "PENDIN"), (0o400, "TOSTOP"), (0o200000, "EXTPROC")]
TERMIOS_HEAD = struct.Struct("<IIII")  # c_iflag, c_oflag, c_cflag, c_lflag: the rest is "..."
WHENCE_NAMES = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
CLOCK_NAMES = {v: n for v, n in _names("CLOCK_").items()}
CLOCK_NAMES.update({10: "CLOCK_SGI_CYCLE", 11: "CLOCK_TAI"})
TIMER_ABSTIME = 1
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
# in strace's order (sigact_flags.in)
SA_BITS = [(0x04000000, "SA_RESTORER"), (0x08000000, "SA_ONSTACK"), (0x10000000, "SA_RESTART"),
           (0x20000000, "SA_INTERRUPT"), (0x40000000, "SA_NODEFER"), (0x80000000, "SA_RESETHAND"),
           (0x00000004, "SA_SIGINFO"), (0x00000001, "SA_NOCLDSTOP"), (0x00000002, "SA_NOCLDWAIT")]
SA_RESTORER = 0x04000000
RLIM64_INFINITY = (1 << 64) - 1


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
        names[cmd | FUTEX_PRIVATE_FLAG] = name + ("|FUTEX_PRIVATE_FLAG" if cmd == 2 else "_PRIVATE")
    for cmd in (0, 9, 11):  # WAIT, WAIT_BITSET, WAIT_REQUEUE_PI
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


# --- calls whose shape depends on their arguments (strace's own decoders) ---------------

def _clone_args(call: Call) -> list[str]:
    # clone(flags, stack, parent_tid, child_tid, tls) on x86-64
    clone_flags_, stack, parent_tid, child_tid, tls = call.args[:5]
    parts = [f"child_stack={ptr(stack)}", f"flags={clone_flags(clone_flags_)}"]
    if clone_flags_ & abi.CLONE_PARENT_SETTID:
        parts.append(f"parent_tid={ptr(parent_tid)}")
    elif clone_flags_ & abi.CLONE_PIDFD:  # the pidfd comes back through parent_tid
        parts.append(f"parent_tid={_fmt_array(call, parent_tid, 1, 4, lambda v: str(_s32(v)))}")
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
    elif cmd in FCNTL_LOCK_CMDS:
        parts.append(_flock(call, arg))
    else:
        parts.append(str(arg))
    return parts


def _flock(call: Call, addr: int) -> str:
    """struct flock as strace's print_struct_flock64; F_GETLK's (shown at exit, with
    l_pid) only when the call succeeded."""
    getlk = call.args[1] in (abi.F_GETLK, abi.F_OFD_GETLK)
    data = None if getlk and call.failed else call.read(addr, abi.FLOCK.size)
    if data is None:
        return ptr(addr)
    l_type, whence, start, length, pid = abi.FLOCK.unpack(data)
    shown = (f"{{l_type={_lookup(FLOCK_TYPE_NAMES, l_type, 'F_???')}, "
             f"l_whence={_lookup(WHENCE_NAMES, whence, 'SEEK_???')}, l_start={start}, l_len={length}")
    return shown + (f", l_pid={pid}}}" if getlk else "}")


def _futex_args(call: Call) -> list[str]:
    """strace's do_futex: which arguments a command shows, and how."""
    addr, op, val, timeout, addr2, val3 = call.args[:6]
    cmd = op & 127 & ~FUTEX_PRIVATE_FLAG
    val, val2, val3 = val & 0xFFFFFFFF, timeout & 0xFFFFFFFF, val3 & 0xFFFFFFFF
    parts = [ptr(addr), futex_op(op & 0xFFFFFFFF)]
    if cmd == 0:  # WAIT
        parts += [str(val), fmt_timespec(call, timeout)]
    elif cmd in (6, 13):  # LOCK_PI, LOCK_PI2
        parts.append(fmt_timespec(call, timeout))
    elif cmd == 9:  # WAIT_BITSET
        parts += [str(val), fmt_timespec(call, timeout), _futex_val3_bitset(val3)]
    elif cmd == 10:  # WAKE_BITSET
        parts += [str(val), _futex_val3_bitset(val3)]
    elif cmd == 3:  # REQUEUE
        parts += [str(val), str(val2), ptr(addr2)]
    elif cmd in (4, 12):  # CMP_REQUEUE, CMP_REQUEUE_PI
        parts += [str(val), str(val2), ptr(addr2), str(val3)]
    elif cmd == 5:  # WAKE_OP
        parts += [str(val), str(val2), ptr(addr2), _futex_wake_op(val3)]
    elif cmd == 11:  # WAIT_REQUEUE_PI
        parts += [str(val), fmt_timespec(call, timeout), ptr(addr2)]
    elif cmd in (1, 2):  # WAKE, FD
        parts.append(str(val))
    elif cmd in (7, 8):  # UNLOCK_PI, TRYLOCK_PI
        pass
    else:
        parts += [str(val), ptr(timeout), ptr(addr2), _hex0(val3)]
    return parts


# ioctl requests whose argument strace decodes: (size, decoder, written by the call)
_IOCTL_ARGS: dict[int, tuple[int, Callable[[bytes], str], bool]] = {
    abi.TCGETS: (TERMIOS_HEAD.size, termios, True),
    abi.TCSETS: (TERMIOS_HEAD.size, termios, False),
    abi.TCSETSW: (TERMIOS_HEAD.size, termios, False),
    abi.TCSETSF: (TERMIOS_HEAD.size, termios, False),
    abi.TIOCGWINSZ: (abi.WINSIZE.size, winsize, True),
    abi.TIOCSWINSZ: (abi.WINSIZE.size, winsize, False),
    abi.TIOCGPGRP: (4, lambda data: f"[{int.from_bytes(data, 'little', signed=True)}]", True),
    abi.TIOCSPGRP: (4, lambda data: f"[{int.from_bytes(data, 'little', signed=True)}]", False),
    abi.FIONREAD: (4, lambda data: f"[{int.from_bytes(data, 'little', signed=True)}]", True),
    abi.FIONBIO: (4, lambda data: f"[{int.from_bytes(data, 'little', signed=True)}]", False),
}


IOC_DIRS = {0: "_IOC_NONE", 1: "_IOC_WRITE", 2: "_IOC_READ", 3: "_IOC_READ|_IOC_WRITE"}


def _ioc(request: int) -> str:
    """An unknown ioctl request as its asm-generic/ioctl.h fields."""
    request &= 0xFFFFFFFF
    direction, size, kind, number = request >> 30, (request >> 16) & 0x3FFF, (request >> 8) & 0xFF, request & 0xFF
    return f"_IOC({IOC_DIRS[direction]}, {kind:#x}, {number:#x}, {size:#x})"


def _ioctl_args(call: Call) -> list[str]:
    fd, request, arg = call.args[:3]
    parts = [str(fd), fmt_arg(call, 1)]
    if request in (abi.FIOCLEX, abi.FIONCLEX):
        return parts
    if request not in IOCTL_NAMES:  # strace decodes the number and shows the argument as %#lx
        return [str(fd), _ioc(request), _hex0(arg)]
    decoder = _IOCTL_ARGS.get(request)
    if decoder is None or arg == 0 or (decoder[2] and call.failed):
        return parts + [ptr(arg)]
    size, decode, _ = decoder
    data = call.read(arg, size)
    return parts + [ptr(arg) if data is None else decode(data)]


def _arch_prctl_args(call: Call) -> list[str]:
    """SET codes take an address (%#lx), GET codes a pointer to the value, GET_CPUID nothing."""
    code, addr = call.args[:2]
    if code == abi.ARCH_GET_CPUID:
        return [fmt_arg(call, 0)]
    if code in (abi.ARCH_GET_FS, abi.ARCH_GET_GS):
        return [fmt_arg(call, 0), _fmt_array(call, addr, 1, 8, hex)]
    return [fmt_arg(call, 0), _hex0(addr)]


# rt_sigreturn runs with rsp just past the frame's return address: the ucontext is at
# rsp, its uc_sigmask after uc_flags, uc_link, uc_stack (24) and uc_mcontext (256)
UC_SIGMASK_OFFSET = 8 + 8 + 24 + 256


def _sigreturn_mask(call: Call) -> str:
    """`{mask=[...]}`: the signal mask rt_sigreturn is about to restore."""
    try:
        rsp = call.task.reg(X86_REG_RSP)
    except Exception:  # a task without registers (tests): nothing to show
        return ""
    data = call.read(rsp + UC_SIGMASK_OFFSET, 8)
    return "" if data is None else f"{{mask={sigset(int.from_bytes(data, 'little'))}}}"


def _hex0(value: int) -> str:
    """C's %#lx: 0 without the 0x."""
    return hex(value) if value else "0"


def _fmt_array(call: Call, addr: int, count: int, size: int, show: Callable[[int], str] = str,
               out: bool = True) -> str:
    """`[a, b]`: `count` integers of `size` bytes at `addr`; an output array is shown only
    when the call succeeded, else (like an unreadable one) as its address."""
    if addr == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(addr)
    data = call.read(addr, count * size) if count > 0 else b""
    if data is None:
        return ptr(addr)
    values = [int.from_bytes(data[i:i + size], "little") for i in range(0, len(data), size)]
    return "[" + ", ".join(show(v) for v in values) + "]"


def _uid(value: int) -> str:
    return "-1" if value & 0xFFFFFFFF == 0xFFFFFFFF else str(value & 0xFFFFFFFF)


def _getresid_args(call: Call) -> list[str]:
    return [_fmt_array(call, addr, 1, 4, _uid) for addr in call.args[:3]]


def _groups_args(call: Call, out: bool) -> list[str]:
    size, addr = call.args[:2]
    count = (call.result or 0) if out else size
    if out and size == 0:
        return [str(size), ptr(addr)]
    return [str(size), _fmt_array(call, addr, min(count, call.strsize), 4, _uid, out)]


def _get_robust_list_args(call: Call) -> list[str]:
    pid, head_addr, len_addr = call.args[:3]
    return [str(pid), _fmt_array(call, head_addr, 1, 8, _hex0), _fmt_array(call, len_addr, 1, 8)]


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


# --- more of strace's struct decoders ---------------------------------------------------

def unpack_siginfo(data: bytes) -> SimpleNamespace:
    """A guest siginfo_t as the fields `siginfo` reads (x86-64 layout)."""
    signo, errno_, code = struct.unpack_from("<iii", data)
    info = SimpleNamespace(signo=signo, errno=errno_, code=code, pid=0, uid=0, status=0, utime=0, stime=0,
                           addr=0, value=0)
    if signo in FAULT_ADDR_SIGNALS and code > 0:
        info.addr = struct.unpack_from("<Q", data, 16)[0]
    elif signo == abi.SIGCHLD and code > 0:
        info.pid, info.uid, info.status, info.utime, info.stime = struct.unpack_from("<iIi4xqq", data, 16)
    elif code == abi.SI_TIMER:
        info.timerid, info.overrun, info.value = struct.unpack_from("<iiQ", data, 16)
    else:
        info.pid, info.uid, info.value = struct.unpack_from("<iIQ", data, 16)
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


SS_FLAG_BITS = [(1, "SS_ONSTACK"), (2, "SS_DISABLE"), (1 << 31, "SS_AUTODISARM")]


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


def _sigaltstack_args(call: Call) -> list[str]:
    return [fmt_stack_t(call, call.args[0], False), fmt_stack_t(call, call.args[1], True)]


def _sigqueueinfo_args(call: Call) -> list[str]:
    *ids, info_addr = call.args[:3] if call.entry.name == "rt_sigqueueinfo" else call.args[:4]
    shown = [str(_s32(v)) for v in ids[:-1]] + [signame(_s32(ids[-1]))]
    return shown + [fmt_siginfo(call, info_addr, out=False)]


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


ITIMER_NAMES = {0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}


def _timeval_at(call: Call, addr: int) -> str | None:
    data = call.read(addr, abi.TIMEVAL.size)
    if data is None:
        return None
    sec, usec = abi.TIMEVAL.unpack(data)
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


def fmt_itimerval(call: Call, value: int, out: bool) -> str:
    if value == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(value)
    interval, current = _timeval_at(call, value), _timeval_at(call, value + 16)
    if interval is None or current is None:
        return hex(value)
    return f"{{it_interval={interval}, it_value={current}}}"


def _itimer_args(call: Call) -> list[str]:
    which = _lookup(ITIMER_NAMES, call.args[0] & 0xFFFFFFFF, "ITIMER_???")
    if call.entry.name == "getitimer":
        return [which, fmt_itimerval(call, call.args[1], True)]
    return [which, fmt_itimerval(call, call.args[1], False), fmt_itimerval(call, call.args[2], True)]


IDTYPE_NAMES = {abi.P_ALL: "P_ALL", abi.P_PID: "P_PID", abi.P_PGID: "P_PGID", abi.P_PIDFD: "P_PIDFD"}


def _waitid_args(call: Call) -> list[str]:
    idtype, ident = call.args[:2]
    return ([_lookup(IDTYPE_NAMES, idtype & 0xFFFFFFFF, "P_???"), str(_s32(ident))]
            + [fmt_arg(call, i) for i in range(2, len(call.entry.args))])


def _clone3_struct(call: Call) -> str:
    addr, size = call.args[:2]
    if size < 64:
        return ptr(addr)
    data = call.read(addr, min(size, 88))
    if data is None:
        return ptr(addr)
    fields = struct.unpack_from(f"<{len(data) // 8}Q", data) + (0,) * 11
    clone_flags_, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = fields[:8]
    set_tid, set_tid_size, cgroup = fields[8:11]
    parts = [f"flags={flags(clone_flags_, CLONE_BITS + CLONE3_BITS)}"]
    if clone_flags_ & abi.CLONE_PIDFD:
        parts.append(f"pidfd={ptr(pidfd)}")
    if clone_flags_ & (abi.CLONE_CHILD_SETTID | abi.CLONE_CHILD_CLEARTID):
        parts.append(f"child_tid={ptr(child_tid)}")
    if clone_flags_ & abi.CLONE_PARENT_SETTID:
        parts.append(f"parent_tid={ptr(parent_tid)}")
    parts.append(f"exit_signal={signame(exit_signal) if exit_signal < 1 << 31 else exit_signal}")
    parts += [f"stack={ptr(stack)}", f"stack_size={_hex0(stack_size)}"]
    if clone_flags_ & abi.CLONE_SETTLS:
        parts.append(f"tls={ptr(tls)}")
    if set_tid or set_tid_size:
        parts += [f"set_tid={ptr(set_tid)}", f"set_tid_size={set_tid_size}"]
    if len(data) > 80 and (cgroup or clone_flags_ & CLONE_INTO_CGROUP):
        parts.append(f"cgroup={cgroup}")
    return "{" + ", ".join(parts) + "}"


def _clone3_sets_parent_tid(call: Call) -> bool:
    data = call.read(call.args[0], 8) if call.args[1] >= 64 else None
    return data is not None and bool(int.from_bytes(data, "little") & (abi.CLONE_PARENT_SETTID | abi.CLONE_PIDFD))


def _clone3_entry(call: Call) -> str:
    """clone3's struct is shown at entry; its size too unless the call writes a tid back."""
    shown = _clone3_struct(call)
    return shown if _clone3_sets_parent_tid(call) else f"{shown}, {call.args[1]}"


def _clone3_exit(call: Call) -> str:
    addr, size = call.args[:2]
    if not _clone3_sets_parent_tid(call):
        return ""
    if call.failed:
        return f", {size}"
    data = call.read(addr, 32)
    if data is None:
        return f" => {ptr(addr)}, {size}"
    clone_flags_, pidfd_addr, _, parent_tid = struct.unpack("<4Q", data)
    parts = []
    if clone_flags_ & abi.CLONE_PIDFD:
        parts.append(f"pidfd={_fmt_array(call, pidfd_addr, 1, 4, lambda v: str(_s32(v)))}")
    if clone_flags_ & abi.CLONE_PARENT_SETTID:
        parts.append(f"parent_tid={_fmt_array(call, parent_tid, 1, 4, lambda v: str(_s32(v)))}")
    return f" => {{{', '.join(parts)}}}, {size}"


CLONE3_BITS = [(1 << 32, "CLONE_CLEAR_SIGHAND"), (1 << 33, "CLONE_INTO_CGROUP")]
CLONE_INTO_CGROUP = 1 << 33


def _futex_val3_bitset(value: int) -> str:
    return "FUTEX_BITSET_MATCH_ANY" if value & 0xFFFFFFFF == 0xFFFFFFFF else _hex0(value & 0xFFFFFFFF)


FUTEX_WAKE_OPS = {0: "FUTEX_OP_SET", 1: "FUTEX_OP_ADD", 2: "FUTEX_OP_OR", 3: "FUTEX_OP_ANDN", 4: "FUTEX_OP_XOR"}
FUTEX_WAKE_CMPS = {0: "FUTEX_OP_CMP_EQ", 1: "FUTEX_OP_CMP_NE", 2: "FUTEX_OP_CMP_LT", 3: "FUTEX_OP_CMP_LE",
                   4: "FUTEX_OP_CMP_GT", 5: "FUTEX_OP_CMP_GE"}


def _futex_wake_op(val3: int) -> str:
    val3 &= 0xFFFFFFFF
    parts = []
    if (val3 >> 28) & 8:
        parts.append("FUTEX_OP_OPARG_SHIFT<<28")
    op = (val3 >> 28) & 7
    parts.append(FUTEX_WAKE_OPS[op] + "<<28" if op in FUTEX_WAKE_OPS else f"{hex(op)}<<28 /* FUTEX_OP_??? */")
    parts.append(f"{_hex0((val3 >> 12) & 0xFFF)}<<12")
    cmp = (val3 >> 24) & 0xF
    parts.append(FUTEX_WAKE_CMPS[cmp] + "<<24" if cmp in FUTEX_WAKE_CMPS else f"{hex(cmp)}<<24 /* FUTEX_OP_CMP_??? */")
    parts.append(_hex0(val3 & 0xFFF))
    return "|".join(parts)


def _futex_waitv_flags(value: int) -> str:
    """A struct futex_waitv's flags: `FUTEX_32|FUTEX_PRIVATE_FLAG`, `FUTEX_32|0x4`, `0`."""
    names = [name for bit, name in ((abi.FUTEX_32, "FUTEX_32"), (FUTEX_PRIVATE_FLAG, "FUTEX_PRIVATE_FLAG"))
             if value & bit]
    rest = value & ~(abi.FUTEX_32 | FUTEX_PRIVATE_FLAG)
    if not names:
        return f"{hex(rest)} /* FUTEX_??? */" if rest else "0"
    return "|".join(names + ([hex(rest)] if rest else []))


def _futex_waitv_args(call: Call) -> list[str]:
    """strace's futex_waitv: the vector (at most -s entries), count, flags, timeout, clock."""
    addr, count, flags, timeout, clockid = call.args[:5]
    count &= 0xFFFFFFFF
    return [_futex_waitv_vector(call, addr, count), str(count), _hex0(flags & 0xFFFFFFFF),
            fmt_timespec(call, timeout), _lookup(CLOCK_NAMES, clockid & 0xFFFFFFFF, "CLOCK_???")]


def _futex_waitv_vector(call: Call, addr: int, count: int) -> str:
    """`[{val=0x1, uaddr=0x..., flags=FUTEX_32|FUTEX_PRIVATE_FLAG}, ...]`; an entry that
    cannot be read ends the list with its address (the whole vector: just the address)."""
    if addr == 0:
        return "NULL"
    entries = []
    for i in range(min(count, call.strsize)):
        entry_addr = addr + i * abi.FUTEX_WAITV_SIZE
        raw = call.read(entry_addr, abi.FUTEX_WAITV_SIZE)
        if raw is None:
            if not entries:
                return ptr(addr)
            entries.append(ptr(entry_addr))
            break
        val, uaddr, wflags, reserved = struct.unpack("<QQII", raw)
        entry = f"{{val={_hex0(val)}, uaddr={ptr(uaddr)}, flags={_futex_waitv_flags(wflags)}"
        entries.append(entry + (f", __reserved={hex(reserved)}}}" if reserved else "}"))
    else:
        if count > call.strsize:
            entries.append("...")
    return "[" + ", ".join(entries) + "]"


def fmt_cpu_set(call: Call, addr: int, size: int) -> str:
    """sched_{get,set}affinity's mask: `[0 1]`, the CPU numbers set."""
    if addr == 0:
        return "NULL"
    if size <= 0:
        return ptr(addr)
    data = call.read(addr, size)
    if data is None:
        return ptr(addr)
    mask = int.from_bytes(data, "little")
    return "[" + " ".join(str(i) for i in range(size * 8) if mask >> i & 1) + "]"


def _affinity_args(call: Call) -> list[str]:
    pid, size, addr = call.args[:3]
    size &= 0xFFFFFFFF
    if call.entry.name == "sched_getaffinity":
        shown = ptr(addr) if call.result is None or call.failed else fmt_cpu_set(call, addr, call.result)
    else:
        shown = fmt_cpu_set(call, addr, min(size, 1024))
    return [str(_s32(pid)), str(size), shown]


def _getcpu_args(call: Call) -> list[str]:
    return [_fmt_array(call, call.args[0], 1, 4), _fmt_array(call, call.args[1], 1, 4), ptr(call.args[2])]


def _utc(seconds: int) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return ""


def _time_args(call: Call) -> list[str]:
    addr = call.args[0]
    if addr == 0 or call.result is None or call.failed:
        return [ptr(addr)]
    data = call.read(addr, 8)
    if data is None:
        return [ptr(addr)]
    seconds = int.from_bytes(data, "little", signed=True)
    return [f"[{seconds} /* {_utc(seconds)} */]"]




def _times_args(call: Call) -> list[str]:
    addr = call.args[0]
    if addr == 0 or call.result is None or call.failed:
        return [ptr(addr)]
    data = call.read(addr, abi.TMS.size)
    if data is None:
        return [ptr(addr)]
    utime, stime, cutime, cstime = abi.TMS.unpack(data)
    return [f"{{tms_utime={_clock_t(utime)}, tms_stime={_clock_t(stime)}, tms_cutime={_clock_t(cutime)}, "
            f"tms_cstime={_clock_t(cstime)}}}"]


def _sysinfo_args(call: Call) -> list[str]:
    addr = call.args[0]
    if addr == 0 or call.result is None or call.failed:
        return [ptr(addr)]
    data = call.read(addr, abi.SYSINFO.size)
    if data is None:
        return [ptr(addr)]
    (uptime, l1, l5, l15, total, free, shared, buffer, tswap, fswap, procs, thigh, fhigh,
     unit) = abi.SYSINFO.unpack(data)
    return [f"{{uptime={uptime}, loads=[{l1}, {l5}, {l15}], totalram={total}, freeram={free}, "
            f"sharedram={shared}, bufferram={buffer}, totalswap={tswap}, freeswap={fswap}, procs={procs}, "
            f"totalhigh={thigh}, freehigh={fhigh}, mem_unit={unit}}}"]


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


def _gettimeofday_args(call: Call) -> list[str]:
    tz = call.args[1]
    shown = ptr(tz)
    if tz and not call.failed:
        data = call.read(tz, 8)
        if data is not None:
            west, dst = struct.unpack("<ii", data)
            shown = f"{{tz_minuteswest={west}, tz_dsttime={dst}}}"
    return [fmt_arg(call, 0), shown]


UTIME_SPECIAL = {abi.UTIME_NOW: "UTIME_NOW", abi.UTIME_OMIT: "UTIME_OMIT"}


def _utimensat_args(call: Call) -> list[str]:
    dirfd, path, times_addr, at_flags = call.args[:4]
    shown = ptr(times_addr)
    data = call.read(times_addr, 32) if times_addr else None
    if data is not None:
        items = []
        pair = (abi.TIMESPEC.unpack_from(data, 0), abi.TIMESPEC.unpack_from(data, abi.TIMESPEC.size))
        valid = all(0 <= nsec < 1_000_000_000 or nsec in UTIME_SPECIAL for _, nsec in pair)
        for sec, nsec in pair:
            if nsec in UTIME_SPECIAL:
                items.append(UTIME_SPECIAL[nsec])
            elif valid:  # a date comment only when the whole pair is valid
                stamp = _utc(sec)
                frac = f".{nsec:09d}".rstrip("0").rstrip(".") if nsec else ""
                if stamp and frac:
                    stamp = stamp[:19] + frac + stamp[19:]
                items.append(f"{{tv_sec={sec}, tv_nsec={nsec}}}" + (f" /* {stamp} */" if stamp else ""))
            else:
                items.append(f"{{tv_sec={sec}, tv_nsec={nsec}}}")
        shown = "[" + ", ".join(items) + "]"
    return [_dirfd(_s32(dirfd)), fmt_path(call, path), shown, fmt_arg(call, 3)]


RENAME_BITS = [(abi.RENAME_NOREPLACE, "RENAME_NOREPLACE"), (abi.RENAME_EXCHANGE, "RENAME_EXCHANGE"),
               (abi.RENAME_WHITEOUT, "RENAME_WHITEOUT")]


def _renameat2_args(call: Call) -> list[str]:
    value = call.args[4] & 0xFFFFFFFF
    known = flags(value & 7, RENAME_BITS)
    shown = known if not value & ~7 else (  # strace 6.1 writes RENAME_?? here
        (known + "|" if value & 7 else "") + f"{value & ~7:#x} /* RENAME_?? */")
    return [fmt_arg(call, i) for i in range(4)] + [shown]


def _symbolic_mode(mode: int) -> str:
    """strace's print_symbolic_mode_t: `S_IFIFO|0600`, `0644` without a type; a type it
    does not know: the whole mode in octal."""
    kind = mode & abi.S_IFMT
    name = S_IFMT_NAMES.get(kind, "") if kind else ""
    if kind and not name:
        return octal(mode)
    special = [bit_name for bit, bit_name in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX"))
               if mode & bit]
    return "|".join([part for part in (name, *special) if part] + [octal(mode & 0o777)])


def _mknod_args(call: Call, offset: int) -> list[str]:
    """mknod(path, mode, dev) / mknodat(dirfd, path, mode, dev): the mode is an unsigned
    short, and the device is shown only for a character or block node (strace's
    decode_mknod)."""
    mode = call.args[offset + 1] & 0xFFFF
    shown = [fmt_arg(call, i) for i in range(offset + 1)] + [_symbolic_mode(mode)]
    if mode & abi.S_IFMT in (abi.S_IFCHR, abi.S_IFBLK):
        shown.append(makedev(call.args[offset + 2] & 0xFFFFFFFF))
    return shown


# prctl options strace names, and how it shows their arguments
PR_NAMES = {1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
            15: "PR_SET_NAME", 16: "PR_GET_NAME", 22: "PR_SET_SECCOMP", 21: "PR_GET_SECCOMP",
            36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER", 38: "PR_SET_NO_NEW_PRIVS",
            39: "PR_GET_NO_NEW_PRIVS", 8: "PR_SET_KEEPCAPS", 7: "PR_GET_KEEPCAPS",
            23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP"}
DUMPABLE_NAMES = {0: "SUID_DUMP_DISABLE", 1: "SUID_DUMP_USER", 2: "SUID_DUMP_ROOT"}


def _prctl_args(call: Call) -> list[str]:
    option = call.args[0] & 0xFFFFFFFF
    arg2 = call.args[1]
    name = PR_NAMES.get(option)
    if name is None:
        return [f"{option:#x} /* PR_??? */"] + [_hex0(v) for v in call.args[1:5]]
    if option == 15:  # PR_SET_NAME: a 16-byte comm
        got = call.read_str(arg2, 15) if arg2 else None
        text = ptr(arg2) if got is None or call.failed else quote(got[0], None) + ("..." if got[1] else "")
        return [name, text]
    if option == 16:  # PR_GET_NAME: shown at exit
        if call.result is None or call.failed:
            return [name, ptr(arg2)]
        got = call.read_str(arg2, 15)
        return [name, ptr(arg2) if got is None else quote(got[0], None)]
    if option == 4:
        return [name, _lookup(DUMPABLE_NAMES, arg2 & 0xFFFFFFFF)]
    if option in (1,):
        return [name, signame(_s32(arg2))]
    if option in (2,):
        return [name, _fmt_array(call, arg2, 1, 4, lambda v: signame(_s32(v)))]
    if option == 37:  # PR_GET_CHILD_SUBREAPER: an int written back
        return [name, _fmt_array(call, arg2, 1, 4, lambda v: str(_s32(v)))]
    if option in (3, 7, 21):
        return [name]
    if option in (23, 24):  # PR_CAPBSET_READ, PR_CAPBSET_DROP
        return [name, cap_name(arg2)]
    if option == 38:  # PR_SET_NO_NEW_PRIVS
        return [name, str(arg2)] + [_hex0(v) for v in call.args[2:5]]
    if option == 39:  # PR_GET_NO_NEW_PRIVS
        return [name] + [_hex0(v) for v in call.args[1:5]]
    return [name, str(arg2)]


# Whole-argument-list formatters, called at exit (all of these take only input args, or
# print their outputs as pointers, so formatting at exit shows what strace shows).
SPECIAL: dict[str, Callable[[Call], list[str]]] = {
    "clone": _clone_args,
    "futex": _futex_args,
    "futex_waitv": _futex_waitv_args,
    "ioctl": _ioctl_args,
    "rseq": _rseq_args,
    "arch_prctl": _arch_prctl_args,
    "open": lambda call: _open_args(call, 1),
    "openat": lambda call: _open_args(call, 2),
    "getresuid": _getresid_args,
    "getresgid": _getresid_args,
    "getgroups": lambda call: _groups_args(call, out=True),
    "setgroups": lambda call: _groups_args(call, out=False),
    "get_robust_list": _get_robust_list_args,
    "exit": lambda call: [str(call.args[0])],
    "exit_group": lambda call: [str(call.args[0])],
    "sigaltstack": _sigaltstack_args,
    # mmap's offset is %#lx; mremap shows new_address only with MREMAP_FIXED/DONTUNMAP
    "mmap": lambda call: [fmt_arg(call, i) for i in range(5)] + [_hex0(call.args[5] & ((1 << 64) - 1))],
    "mremap": lambda call: [fmt_arg(call, i) for i in range(4)] + (
        [ptr(call.args[4])] if call.args[3] & (abi.MREMAP_FIXED | abi.MREMAP_DONTUNMAP) else []),
    "rt_sigqueueinfo": _sigqueueinfo_args,
    "rt_tgsigqueueinfo": _sigqueueinfo_args,
    "getitimer": _itimer_args,
    "setitimer": _itimer_args,
    "waitid": _waitid_args,
    "sched_getaffinity": _affinity_args,
    "sched_setaffinity": _affinity_args,
    "getcpu": _getcpu_args,
    "time": _time_args,
    "times": _times_args,
    "sysinfo": _sysinfo_args,
    "gettimeofday": _gettimeofday_args,
    "utimensat": _utimensat_args,
    "renameat2": _renameat2_args,
    "mknod": lambda call: _mknod_args(call, 0),
    "mknodat": lambda call: _mknod_args(call, 1),
    "prctl": _prctl_args,
}
# --- poll, ppoll, select, pselect6: the request at entry, what is ready in the result ---

POLL_BITS = [(abi.POLLIN, "POLLIN"), (abi.POLLPRI, "POLLPRI"), (abi.POLLOUT, "POLLOUT"), (abi.POLLERR, "POLLERR"),
             (abi.POLLHUP, "POLLHUP"), (abi.POLLNVAL, "POLLNVAL"), (abi.POLLRDNORM, "POLLRDNORM"),
             (abi.POLLRDBAND, "POLLRDBAND"), (abi.POLLWRNORM, "POLLWRNORM"), (abi.POLLWRBAND, "POLLWRBAND"),
             (0x400, "POLLMSG"), (0x1000, "POLLREMOVE"), (abi.POLLRDHUP, "POLLRDHUP")]


def _pollfds(call: Call) -> list[tuple[int, int, int]] | None:
    addr, count = call.args[0], call.args[1] & 0xFFFFFFFF
    data = call.read(addr, count * abi.POLLFD.size) if count else b""
    return None if data is None else [abi.POLLFD.unpack_from(data, i * abi.POLLFD.size) for i in range(count)]


def _poll_entry(call: Call) -> str:
    entries = _pollfds(call)
    if call.args[0] == 0:
        shown = "NULL"
    elif entries is None:
        shown = ptr(call.args[0])
    else:
        shown = "[" + ", ".join(f"{{fd={fd}, events={flags(events & 0xFFFF, POLL_BITS)}}}" if fd >= 0 else f"{{fd={fd}}}"
                                for fd, events, _ in entries) + "]"
    count = call.args[1] & 0xFFFFFFFF
    if call.entry.name == "poll":
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


def _select_entry(call: Call) -> str:
    nfds = _s32(call.args[0])
    sets = ", ".join(_fd_set(call, call.args[i], max(nfds, 0)) for i in (1, 2, 3))
    if call.entry.name == "select":
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


def poll_result(call: Call) -> str:
    """The ready part of a poll-family result: ` (Timeout)` or ` ([{fd=.., revents=..}], left ...)`."""
    result = call.result
    if result == 0:
        return " (Timeout)"
    name = call.entry.name
    if name in ("poll", "ppoll"):
        entries = _pollfds(call) or []
        ready = [f"{{fd={fd}, revents={flags(revents & 0xFFFF, POLL_BITS)}}}" for fd, _, revents in entries
                 if fd >= 0 and revents]
        parts = ["[" + ", ".join(ready) + "]"]
        timeout = call.args[2] if name == "ppoll" else 0
    else:
        nfds = max(_s32(call.args[0]), 0)
        parts = [f"{label} {_fd_set(call, call.args[i], nfds)}" for i, label in ((1, "in"), (2, "out"), (3, "except"))
                 if call.args[i] and _fd_set(call, call.args[i], nfds) != "[]"]
        timeout = call.args[4]
    if timeout:
        parts.append(f"left {fmt_timespec(call, timeout, usec=name == 'select')}")
    return f" ({', '.join(parts)})"


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


def _epoll_wait_exit(call: Call) -> str:
    addr, maxevents, timeout = call.args[1], _s32(call.args[2]), _s32(call.args[3])
    if call.failed or call.result is None:
        shown = ptr(addr)
    else:
        data = call.read(addr, call.result * abi.EPOLL_EVENT.size) if call.result else b""
        shown = ptr(addr) if data is None else "[" + ", ".join(
            _epoll_event(*abi.EPOLL_EVENT.unpack_from(data, i * abi.EPOLL_EVENT.size)) for i in range(call.result)) + "]"
    rest = f"{shown}, {maxevents}, "
    if call.entry.name == "epoll_pwait2":
        rest += fmt_timespec(call, call.args[3])
    else:
        rest += str(timeout)
    if call.entry.name != "epoll_wait":  # (strace shows the mask only when the call succeeded)
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


def _priority_args(call: Call) -> list[str]:
    shown = [_named(PRIO_NAMES, _s32(call.args[0]), "PRIO"), str(_s32(call.args[1]))]
    return shown + ([str(_s32(call.args[2]))] if call.entry.name == "setpriority" else [])


def _personality_args(call: Call) -> list[str]:
    value = call.args[0] & 0xFFFFFFFF
    return [ptr(value) if value == 0xFFFFFFFF else _personality(value)]


SPECIAL.update({
    "getrusage": _getrusage_args,
    "getpriority": _priority_args,
    "setpriority": _priority_args,
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


def _xattr_target(call: Call) -> str:
    """The first argument of the xattr calls: a path, or an fd for the f* ones."""
    return str(_s32(call.args[0])) if call.entry.name.startswith("f") else fmt_path(call, call.args[0])


def _getxattr_args(call: Call) -> list[str]:
    first = _xattr_target(call)
    return [first, fmt_str(call, call.args[1]), _xattr_value(call, call.args[2], call.args[3]),
            str(call.args[3])]


def _listxattr_args(call: Call) -> list[str]:
    first = _xattr_target(call)
    return [first, _xattr_value(call, call.args[1], call.args[2]), str(call.args[2])]


XATTR_FLAG_BITS = [(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")]


def _setxattr_args(call: Call) -> list[str]:
    first = _xattr_target(call)
    size = call.args[3]
    value = fmt_buffer(call, call.args[2], size) if size <= 1 << 16 else ptr(call.args[2])  # as strace: E2BIG
    return [first, fmt_str(call, call.args[1]), value, str(size),
            flags(call.args[4] & 0xFFFFFFFF, XATTR_FLAG_BITS, unknown="XATTR_???")]


def _removexattr_args(call: Call) -> list[str]:
    first = _xattr_target(call)
    return [first, fmt_str(call, call.args[1])]


def _mincore_args(call: Call) -> list[str]:
    pages = (call.args[1] + 4095) // 4096
    vector = _fmt_array(call, call.args[2], pages, 1, lambda v: str(v & 1)) if pages <= 1024 else ptr(call.args[2])
    return [ptr(call.args[0]), str(call.args[1]), vector]


# --- sockets ---

AF_NAMES = dict(enumerate((
    "AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE", "AF_ATMPVC",
    "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY", "AF_NETLINK", "AF_PACKET",
    "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA", "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB",
    "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH", "AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154",
    "AF_CAIF", "AF_ALG", "AF_NFC", "AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP")))
SOCK_TYPE_NAMES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
                   6: "SOCK_DCCP", 10: "SOCK_PACKET"}
SOCK_FLAG_BITS = [(abi.SOCK_CLOEXEC, "SOCK_CLOEXEC"), (abi.SOCK_NONBLOCK, "SOCK_NONBLOCK")]
MSG_BITS = [(1 << i, n) for i, n in enumerate((
    "MSG_OOB", "MSG_PEEK", "MSG_DONTROUTE", "MSG_CTRUNC", "MSG_PROBE", "MSG_TRUNC", "MSG_DONTWAIT", "MSG_EOR",
    "MSG_WAITALL", "MSG_FIN", "MSG_SYN", "MSG_CONFIRM", "MSG_RST", "MSG_ERRQUEUE", "MSG_NOSIGNAL", "MSG_MORE",
    "MSG_WAITFORONE", "MSG_SENDPAGE_NOPOLICY", "MSG_BATCH"))] + [(0x4000000, "MSG_ZEROCOPY"),
                                                              (0x20000000, "MSG_FASTOPEN"),
                                                              (0x40000000, "MSG_CMSG_CLOEXEC")]
SHUT_NAMES = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
SOL_NAMES = {1: "SOL_SOCKET"}
SO_NAMES = {1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE", 6: "SO_BROADCAST",
            7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 10: "SO_OOBINLINE", 12: "SO_PRIORITY",
            13: "SO_LINGER", 15: "SO_REUSEPORT", 16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT",
            19: "SO_SNDLOWAT", 20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 30: "SO_ACCEPTCONN",
            38: "SO_PROTOCOL", 39: "SO_DOMAIN"}


def _sock_type(value: int) -> str:
    """The type, then its flags: `SOCK_STREAM|SOCK_CLOEXEC`, `SOCK_STREAM|0x100 /* SOCK_??? */`."""
    base, extra = value & 0xF, value & ~0xF & 0xFFFFFFFF
    parts = [SOCK_TYPE_NAMES.get(base, f"{base:#x} /* SOCK_??? */")]
    if extra:
        parts.append(flags(extra, SOCK_FLAG_BITS, unknown="SOCK_???"))
    return "|".join(parts)


def _msg_flags(value: int) -> str:
    return flags(value & 0xFFFFFFFF, MSG_BITS, unknown="MSG_???")


IPPROTO_NAMES = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP", 6: "IPPROTO_TCP",
                 8: "IPPROTO_EGP", 12: "IPPROTO_PUP", 17: "IPPROTO_UDP", 22: "IPPROTO_IDP", 29: "IPPROTO_TP",
                 33: "IPPROTO_DCCP", 41: "IPPROTO_IPV6", 46: "IPPROTO_RSVP", 47: "IPPROTO_GRE", 50: "IPPROTO_ESP",
                 51: "IPPROTO_AH", 58: "IPPROTO_ICMPV6", 92: "IPPROTO_MTP", 94: "IPPROTO_BEETPH",
                 98: "IPPROTO_ENCAP", 103: "IPPROTO_PIM", 108: "IPPROTO_COMP", 115: "IPPROTO_L2TP",
                 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 137: "IPPROTO_MPLS", 143: "IPPROTO_ETHERNET",
                 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP"}
NETLINK_NAMES = {0: "NETLINK_ROUTE", 1: "NETLINK_UNUSED", 2: "NETLINK_USERSOCK", 3: "NETLINK_FIREWALL",
                 4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG", 6: "NETLINK_XFRM", 7: "NETLINK_SELINUX",
                 8: "NETLINK_ISCSI", 9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP", 11: "NETLINK_CONNECTOR",
                 12: "NETLINK_NETFILTER", 13: "NETLINK_IP6_FW", 14: "NETLINK_DNRTMSG",
                 15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC", 18: "NETLINK_SCSITRANSPORT",
                 19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA", 21: "NETLINK_CRYPTO", 22: "NETLINK_SMC"}


def _protocol(domain: int, protocol: int) -> str:
    """socket(2)'s protocol as strace names it for the family (a number for the others)."""
    if domain in (abi.AF_INET, abi.AF_INET6):
        return IPPROTO_NAMES.get(protocol, str(protocol))
    if domain == abi.AF_NETLINK:
        return _named(NETLINK_NAMES, protocol, "NETLINK")
    return str(protocol)


def _socketpair_args(call: Call) -> list[str]:
    return [_named(AF_NAMES, _s32(call.args[0]), "AF"), _sock_type(call.args[1]), str(_s32(call.args[2])),
            _fmt_array(call, call.args[3], 2, 4, lambda v: str(_s32(v)))]


def _len_in_out(call: Call, addr: int) -> str:
    """A socklen_t in/out argument as strace shows it: `[4]`, or `[110 => 2]` if it changed."""
    if addr == 0:
        return "NULL"
    before = call.before.get("len")
    after = None if call.result is None or call.failed else call.read(addr, 4)
    if before is None:
        return ptr(addr)
    if after is None or int.from_bytes(after, "little") == before:
        return f"[{_s32(before)}]"
    return f"[{_s32(before)} => {_s32(int.from_bytes(after, 'little'))}]"


def _capture_len(index: int) -> Callable[[Call], None]:
    def capture(call: Call) -> None:
        data = call.read(call.args[index], 4) if call.args[index] else None
        if data is not None:
            call.before["len"] = int.from_bytes(data, "little")
    return capture


def fmt_sockaddr(call: Call, addr: int, addrlen: int) -> str:
    """strace's decode_sockaddr: `{sa_family=AF_UNIX, sun_path="/x"}` (`@"name"` for the
    abstract namespace), AF_INET and AF_INET6 by their fields, other families' sa_data;
    an address shorter than sa_family (or unreadable) as a pointer."""
    if addr == 0:
        return "NULL"
    if addrlen < 2:
        return ptr(addr)
    data = call.read(addr, min(addrlen, 128))
    if data is None:
        return ptr(addr)
    family = int.from_bytes(data[:2], "little")
    head = f"{{sa_family={_named(AF_NAMES, family, 'AF')}"
    if len(data) == 2:
        return head + "}"
    if family == abi.AF_UNIX:
        path = data[2:110]
        abstract = path[:1] == b"\0" and len(path) > 1
        text = (path[1:] if abstract else path).split(b"\0", 1)[0]
        return f"{head}, sun_path={'@' if abstract else ''}{quote(text, None)}}}"
    if family == abi.AF_INET and len(data) >= 16:
        port = int.from_bytes(data[2:4], "big")
        return f'{head}, sin_port=htons({port}), sin_addr=inet_addr("{".".join(str(b) for b in data[4:8])}")}}'
    if family == abi.AF_INET6 and len(data) >= 24:
        port = int.from_bytes(data[2:4], "big")
        flowinfo = int.from_bytes(data[4:8], "big")
        text = f'{head}, sin6_port=htons({port}), sin6_flowinfo=htonl({flowinfo}), ' \
               f'inet_pton(AF_INET6, "{ipaddress.IPv6Address(data[8:24])}", &sin6_addr)'
        if len(data) >= 28:
            text += f", sin6_scope_id={int.from_bytes(data[24:28], 'little')}"
        return text + "}"
    if family == abi.AF_NETLINK and len(data) >= 12:
        pid, groups = struct.unpack_from("<II", data, 4)
        return f"{head}, nl_pid={pid}, nl_groups={groups:08x}}}"
    return f"{head}, sa_data={quote(data[2:], None)}}}"


def _sockaddr_out(call: Call, addr: int, len_addr: int) -> str:
    """An address the kernel wrote (accept, getsockname, recvfrom): as much as both the
    buffer and the real length cover, once the call succeeded."""
    if addr == 0:
        return "NULL"
    if call.failed or call.result is None or len_addr == 0:
        return ptr(addr)
    after = call.read(len_addr, 4)
    if after is None:
        return ptr(addr)
    length = _s32(int.from_bytes(after, "little"))
    before = call.before.get("len")
    if before is not None:
        length = min(length, _s32(before))
    return fmt_sockaddr(call, addr, length)


def _sockname_args(call: Call) -> list[str]:
    """getsockname/getpeername: the address, and `[110 => 9]` for its length."""
    return [str(_s32(call.args[0])), _sockaddr_out(call, call.args[1], call.args[2]),
            _len_in_out(call, call.args[2])]


def _accept_args(call: Call) -> list[str]:
    shown = [str(_s32(call.args[0])), _sockaddr_out(call, call.args[1], call.args[2]),
             _len_in_out(call, call.args[2])]
    if call.entry.name == "accept4":
        shown.append(flags(call.args[3] & 0xFFFFFFFF, SOCK_FLAG_BITS, unknown="SOCK_???"))
    return shown


def _socket_args(call: Call) -> list[str]:
    domain = _s32(call.args[0])
    return [_named(AF_NAMES, domain, "AF"), _sock_type(call.args[1]), _protocol(domain, _s32(call.args[2]))]


def _bind_args(call: Call) -> list[str]:
    """bind/connect: the address as the call passed it."""
    return [str(_s32(call.args[0])), fmt_sockaddr(call, call.args[1], _s32(call.args[2])), str(_s32(call.args[2]))]


def _sendto_args(call: Call) -> list[str]:
    return [str(_s32(call.args[0])), fmt_buffer(call, call.args[1], call.args[2]), str(call.args[2]),
            _msg_flags(call.args[3]), fmt_sockaddr(call, call.args[4], _s32(call.args[5])),
            str(_s32(call.args[5]))]


def _recvfrom_args(call: Call) -> list[str]:
    ok = not (call.failed or call.result is None)
    buf = fmt_buffer(call, call.args[1], min(call.result, call.args[2])) if ok else ptr(call.args[1])
    return [str(_s32(call.args[0])), buf, str(call.args[2]), _msg_flags(call.args[3]),
            _sockaddr_out(call, call.args[4], call.args[5]), _len_in_out(call, call.args[5])]


SOL_LEVEL_NAMES = {1: "SOL_SOCKET", 0: "SOL_IP", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6"}
SCM_NAMES = {abi.SCM_RIGHTS: "SCM_RIGHTS", abi.SCM_CREDENTIALS: "SCM_CREDENTIALS", 3: "SCM_SECURITY",
             4: "SCM_PIDFD"}


def _ucred(data: bytes) -> str:
    pid, uid, gid = abi.UCRED.unpack(data[:abi.UCRED.size])
    return f"{{pid={pid}, uid={_uid(uid)}, gid={_uid(gid)}}}"


def fmt_cmsgs(call: Call, addr: int, length: int) -> str:
    """strace's decode_msg_control: `[{cmsg_len=20, cmsg_level=SOL_SOCKET,
    cmsg_type=SCM_RIGHTS, cmsg_data=[5]}]`; SCM_CREDENTIALS' data as a struct ucred;
    a header whose cmsg_len is shorter than a header ends the list with `...`."""
    size = abi.CMSGHDR.size
    if length < size:
        return ptr(addr)
    data = call.read(addr, min(length, 4096))
    if data is None:
        return ptr(addr)
    items = []
    offset = 0
    left = len(data)
    while left >= size:
        cmsg_len, level, kind = abi.CMSGHDR.unpack_from(data, offset)
        level_text = _named(SOL_LEVEL_NAMES, level, "SOL")
        kind_text = _named(SCM_NAMES, kind, "SCM") if level == abi.SOL_SOCKET else hex(kind & 0xFFFFFFFF)
        item = f"{{cmsg_len={cmsg_len}, cmsg_level={level_text}, cmsg_type={kind_text}"
        if cmsg_len < size:
            items.append(item + "}")
            left -= size
            break
        body = data[offset + size:offset + min(cmsg_len, left)]
        if level == abi.SOL_SOCKET and kind == abi.SCM_RIGHTS and len(body) >= 4:
            fds = [_s32(int.from_bytes(body[i:i + 4], "little")) for i in range(0, len(body) - 3, 4)]
            item += f", cmsg_data=[{', '.join(map(str, fds))}]"
        elif level == abi.SOL_SOCKET and kind == abi.SCM_CREDENTIALS and len(body) >= abi.UCRED.size:
            item += f", cmsg_data={_ucred(body)}"
        items.append(item + "}")
        step = (cmsg_len + 7) & ~7
        if step >= left:
            left = 0
            break
        offset += step
        left -= step
    if left:
        items.append(f"... /* {ptr(addr + len(data) - left)} */")
    return "[" + ", ".join(items) + "]"


def fmt_msghdr(call: Call, addr: int, received: int | None) -> str:
    """struct msghdr; `received`: how much recvmsg filled (None for sendmsg)."""
    data = call.read(addr, abi.MSGHDR.size)
    if data is None:
        return ptr(addr)
    name, namelen, iov, iovlen, control, controllen, msg_flags = abi.MSGHDR.unpack(data)
    iovs = fmt_iovec(call, iov, iovlen, received)
    before = call.before.get("namelen")
    name_text = fmt_sockaddr(call, name, min(_s32(namelen), _s32(before) if before is not None else namelen))
    namelen_text = f"{_s32(before)} => {_s32(namelen)}" if before is not None and before != namelen \
        else str(_s32(namelen))
    control_text = f"msg_control={fmt_cmsgs(call, control, controllen)}, " if controllen else ""
    return (f"{{msg_name={name_text}, msg_namelen={namelen_text}, msg_iov={iovs}, "
            f"msg_iovlen={iovlen}, {control_text}msg_controllen={controllen}, msg_flags={_msg_flags(msg_flags)}}}")


def _sendmsg_args(call: Call) -> list[str]:
    return [str(_s32(call.args[0])), fmt_msghdr(call, call.args[1], None), _msg_flags(call.args[2])]


def _recvmsg_args(call: Call) -> list[str]:
    """A failed recvmsg shows only msg_namelen, as strace does."""
    ok = not (call.failed or call.result is None)
    if ok:
        shown = fmt_msghdr(call, call.args[1], call.result)
    else:
        data = call.read(call.args[1] + 8, 4)
        shown = ptr(call.args[1]) if data is None else f"{{msg_namelen={_s32(int.from_bytes(data, 'little'))}}}"
    return [str(_s32(call.args[0])), shown, _msg_flags(call.args[2])]


SOCKOPT_LEVEL_NAMES = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6", 58: "SOL_ICMPV6",
                       255: "SOL_RAW", 270: "SOL_NETLINK", 136: "SOL_UDPLITE"}
IP_OPT_NAMES = {1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 6: "IP_RECVOPTS", 7: "IP_RETOPTS",
                8: "IP_PKTINFO", 9: "IP_PKTOPTIONS", 10: "IP_MTU_DISCOVER", 11: "IP_RECVERR", 12: "IP_RECVTTL",
                13: "IP_RECVTOS", 14: "IP_MTU", 15: "IP_FREEBIND", 16: "IP_IPSEC_POLICY", 17: "IP_XFRM_POLICY",
                18: "IP_PASSSEC", 19: "IP_TRANSPARENT", 20: "IP_ORIGDSTADDR", 21: "IP_MINTTL", 22: "IP_NODEFRAG",
                23: "IP_CHECKSUM", 24: "IP_BIND_ADDRESS_NO_PORT", 25: "IP_RECVFRAGSIZE", 26: "IP_RECVERR_RFC4884",
                32: "IP_MULTICAST_IF", 33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP", 35: "IP_ADD_MEMBERSHIP",
                36: "IP_DROP_MEMBERSHIP", 37: "IP_UNBLOCK_SOURCE", 38: "IP_BLOCK_SOURCE",
                39: "IP_ADD_SOURCE_MEMBERSHIP", 40: "IP_DROP_SOURCE_MEMBERSHIP", 41: "IP_MSFILTER",
                49: "IP_MULTICAST_ALL", 50: "IP_UNICAST_IF"}
TCP_OPT_NAMES = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL",
                 6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2", 9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP",
                 11: "TCP_INFO", 12: "TCP_QUICKACK", 13: "TCP_CONGESTION", 14: "TCP_MD5SIG", 16: "TCP_THIN_LINEAR_TIMEOUTS",
                 17: "TCP_THIN_DUPACK", 18: "TCP_USER_TIMEOUT", 19: "TCP_REPAIR", 20: "TCP_REPAIR_QUEUE",
                 21: "TCP_QUEUE_SEQ", 22: "TCP_REPAIR_OPTIONS", 23: "TCP_FASTOPEN", 24: "TCP_TIMESTAMP",
                 25: "TCP_NOTSENT_LOWAT", 26: "TCP_CC_INFO", 27: "TCP_SAVE_SYN", 28: "TCP_SAVED_SYN",
                 29: "TCP_REPAIR_WINDOW", 30: "TCP_FASTOPEN_CONNECT", 31: "TCP_ULP", 32: "TCP_MD5SIG_EXT",
                 33: "TCP_FASTOPEN_KEY", 34: "TCP_FASTOPEN_NO_COOKIE", 35: "TCP_ZEROCOPY_RECEIVE", 36: "TCP_INQ",
                 37: "TCP_TX_DELAY"}
IPV6_OPT_NAMES = {1: "IPV6_ADDRFORM", 2: "IPV6_2292PKTINFO", 3: "IPV6_2292HOPOPTS", 4: "IPV6_2292DSTOPTS",
                  5: "IPV6_2292RTHDR", 6: "IPV6_2292PKTOPTIONS", 7: "IPV6_CHECKSUM", 8: "IPV6_2292HOPLIMIT",
                  9: "IPV6_NEXTHOP", 10: "IPV6_AUTHHDR", 11: "IPV6_FLOWINFO", 16: "IPV6_UNICAST_HOPS",
                  17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS", 19: "IPV6_MULTICAST_LOOP",
                  20: "IPV6_ADD_MEMBERSHIP", 21: "IPV6_DROP_MEMBERSHIP", 22: "IPV6_ROUTER_ALERT",
                  23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU", 25: "IPV6_RECVERR", 26: "IPV6_V6ONLY",
                  27: "IPV6_JOIN_ANYCAST", 28: "IPV6_LEAVE_ANYCAST", 49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO",
                  51: "IPV6_RECVHOPLIMIT", 52: "IPV6_HOPLIMIT", 66: "IPV6_RECVTCLASS", 67: "IPV6_TCLASS",
                  75: "IPV6_TRANSPARENT", 76: "IPV6_UNICAST_IF", 77: "IPV6_RECVFRAGSIZE", 78: "IPV6_FREEBIND"}
NETLINK_OPT_NAMES = {1: "NETLINK_ADD_MEMBERSHIP", 2: "NETLINK_DROP_MEMBERSHIP", 3: "NETLINK_PKTINFO",
                     4: "NETLINK_BROADCAST_ERROR", 5: "NETLINK_NO_ENOBUFS", 6: "NETLINK_RX_RING",
                     7: "NETLINK_TX_RING", 8: "NETLINK_LISTEN_ALL_NSID", 9: "NETLINK_LIST_MEMBERSHIPS",
                     10: "NETLINK_CAP_ACK", 11: "NETLINK_EXT_ACK", 12: "NETLINK_GET_STRICT_CHK"}
SO_NAMES.update({20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 25: "SO_BINDTODEVICE", 26: "SO_ATTACH_FILTER",
                 27: "SO_DETACH_FILTER", 28: "SO_PEERNAME", 29: "SO_TIMESTAMP_OLD", 31: "SO_PEERSEC",
                 32: "SO_SNDBUFFORCE", 33: "SO_RCVBUFFORCE", 34: "SO_PASSSEC", 35: "SO_TIMESTAMPNS_OLD",
                 36: "SO_MARK", 37: "SO_TIMESTAMPING_OLD", 40: "SO_RXQ_OVFL", 41: "SO_WIFI_STATUS", 42: "SO_PEEK_OFF",
                 43: "SO_NOFCS", 44: "SO_LOCK_FILTER", 45: "SO_SELECT_ERR_QUEUE", 46: "SO_BUSY_POLL",
                 47: "SO_MAX_PACING_RATE", 48: "SO_BPF_EXTENSIONS", 49: "SO_INCOMING_CPU", 50: "SO_ATTACH_BPF",
                 51: "SO_ATTACH_REUSEPORT_CBPF", 52: "SO_ATTACH_REUSEPORT_EBPF", 53: "SO_CNX_ADVICE",
                 55: "SO_MEMINFO", 56: "SO_INCOMING_NAPI_ID", 57: "SO_COOKIE", 59: "SO_PEERGROUPS",
                 60: "SO_ZEROCOPY", 61: "SO_TXTIME", 62: "SO_BINDTOIFINDEX", 63: "SO_TIMESTAMP_NEW",
                 64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW", 66: "SO_RCVTIMEO_NEW", 67: "SO_SNDTIMEO_NEW",
                 68: "SO_DETACH_REUSEPORT_BPF", 69: "SO_PREFER_BUSY_POLL", 70: "SO_BUSY_POLL_BUDGET",
                 71: "SO_NETNS_COOKIE", 72: "SO_BUF_LOCK", 73: "SO_RESERVE_MEM", 74: "SO_TXREHASH",
                 75: "SO_RCVMARK", 76: "SO_PASSPIDFD", 77: "SO_PEERPIDFD"})
OPTNAME_TABLES = {1: (SO_NAMES, "SO"), 0: (IP_OPT_NAMES, "IP"), 6: (TCP_OPT_NAMES, "TCP"),
                  41: (IPV6_OPT_NAMES, "IPV6"), 270: (NETLINK_OPT_NAMES, "NETLINK")}


# SOL_SOCKET options whose value is not an int: strace shows their bytes
SO_STRUCT_OPTIONS = frozenset({20, 21, 66, 67, 17, 25, 26, 28, 31, 51})  # timeouts, PEERCRED, BINDTODEVICE ...


def _sockopt_name(level: int, optname: int) -> str:
    """The option by its level's names (strace's sockoptions, sockipoptions ...); a
    level strace does not decode gives the bare number."""
    table = OPTNAME_TABLES.get(level)
    if table is None:
        return str(optname)
    return _named(table[0], optname, table[1])


def _sockopt_value(call: Call, level: int, optname: int, addr: int, length: int) -> str:
    """An option's value as strace prints it: an int as `[1]` (SO_ERROR's as its errno
    name), struct linger by its fields, the SOL_SOCKET options that are not ints as
    bytes; an int option of another length as the address."""
    if level == abi.SOL_SOCKET and optname == 13 and length == 8:  # SO_LINGER
        data = call.read(addr, 8)
        if data is not None:
            onoff, linger = struct.unpack("<ii", data)
            return f"{{l_onoff={onoff}, l_linger={linger}}}"
    if level == abi.SOL_SOCKET and optname in SO_STRUCT_OPTIONS:
        return fmt_buffer(call, addr, length) if length >= 0 else ptr(addr)
    if length >= 4 and (length == 4 or call.entry.name == "getsockopt"):
        data = call.read(addr, 4)
        if data is None:
            return ptr(addr)
        value = _s32(int.from_bytes(data, "little"))
        if level == abi.SOL_SOCKET and optname == abi.SO_ERROR and value in abi.ERRNO_NAMES:
            return f"[{abi.ERRNO_NAMES[value]}]"
        return f"[{value}]"
    if call.entry.name == "setsockopt" and 0 <= length and level not in OPTNAME_TABLES:
        return fmt_buffer(call, addr, length)
    return ptr(addr)


def _sockopt_args(call: Call) -> list[str]:
    level, optname = _s32(call.args[1]), _s32(call.args[2])
    head = [str(_s32(call.args[0])), _named(SOCKOPT_LEVEL_NAMES, level, "SOL").replace("SOL_???", "SOL_??"),
            _sockopt_name(level, optname)]
    if call.entry.name == "setsockopt":
        return head + [_sockopt_value(call, level, optname, call.args[3], _s32(call.args[4])),
                       str(_s32(call.args[4]))]
    if optname == abi.SO_PEERCRED and level == abi.SOL_SOCKET and not call.failed \
            and call.result is not None:
        data = call.read(call.args[3], abi.UCRED.size)
        value = _ucred(data) if data is not None else ptr(call.args[3])
    elif call.failed or call.result is None or not call.args[4]:
        value = ptr(call.args[3])
    else:
        after = call.read(call.args[4], 4)
        length = _s32(int.from_bytes(after, "little")) if after is not None else 0
        value = _sockopt_value(call, level, optname, call.args[3], length)
    return head + [value, _len_in_out(call, call.args[4])]


def _mmsg_args(call: Call) -> list[str]:
    """sendmmsg/recvmmsg: the entries the call handled, each `{msg_hdr={...}, msg_len=N}`;
    the vector's address when it failed."""
    ok = not (call.failed or call.result is None)
    shown = ptr(call.args[1])
    if ok and call.result > 0:
        items = []
        for index in range(min(call.result, call.args[2] & 0xFFFFFFFF, 64)):
            entry = call.args[1] + index * (abi.MSGHDR.size + 8)
            length = call.read(entry + abi.MSGHDR.size, 4)
            if length is None:
                break
            received = int.from_bytes(length, "little")
            header = fmt_msghdr(call, entry, received if call.entry.name == "recvmmsg" else None)
            items.append(f"{{msg_hdr={header}, msg_len={received}}}")
        shown = "[" + ", ".join(items) + "]"
    args = [str(_s32(call.args[0])), shown, str(call.args[2] & 0xFFFFFFFF), _msg_flags(call.args[3])]
    if call.entry.name == "recvmmsg":
        args.append(fmt_arg(call, 4) if call.args[4] else "NULL")
    return args


def _capture_namelen(call: Call) -> None:
    """recvmsg: msg_namelen before the call, for `msg_namelen=110 => 9`."""
    data = call.read(call.args[1] + 8, 4)
    if data is not None:
        call.before["namelen"] = int.from_bytes(data, "little")


ENTRY_CAPTURE: dict[str, Callable[[Call], None]] = {
    "getsockname": _capture_len(2), "getpeername": _capture_len(2), "recvfrom": _capture_len(5),
    "getsockopt": _capture_len(4), "accept": _capture_len(2), "accept4": _capture_len(2),
    "recvmsg": lambda call: _capture_namelen(call),
}


SPECIAL.update({
    "statfs": lambda call: [fmt_path(call, call.args[0]), fmt_statfs(call, call.args[1])],
    "fstatfs": lambda call: [str(_s32(call.args[0])), fmt_statfs(call, call.args[1])],
    "getxattr": _getxattr_args,
    "lgetxattr": _getxattr_args,
    "fgetxattr": _getxattr_args,
    "listxattr": _listxattr_args,
    "llistxattr": _listxattr_args,
    "flistxattr": _listxattr_args,
    "setxattr": _setxattr_args,
    "lsetxattr": _setxattr_args,
    "fsetxattr": _setxattr_args,
    "removexattr": _removexattr_args,
    "lremovexattr": _removexattr_args,
    "fremovexattr": _removexattr_args,
    "fadvise64": lambda call: [str(_s32(call.args[0])), str(call.args[1]), str(call.args[2]),
                               _named(FADV_NAMES, _s32(call.args[3]), "POSIX_FADV")],
    "mincore": _mincore_args,
    "getsockname": _sockname_args,
    "getpeername": _sockname_args,
    "socket": _socket_args,
    "bind": _bind_args,
    "connect": _bind_args,
    "accept": _accept_args,
    "accept4": _accept_args,
    "socketpair": _socketpair_args,
    "sendto": _sendto_args,
    "recvfrom": _recvfrom_args,
    "sendmsg": _sendmsg_args,
    "recvmsg": _recvmsg_args,
    "getsockopt": _sockopt_args,
    "setsockopt": _sockopt_args,
    "sendmmsg": _mmsg_args,
    "recvmmsg": _mmsg_args,
    "shutdown": lambda call: [str(_s32(call.args[0])), _named(SHUT_NAMES, _s32(call.args[1]), "SHUT")],
})


# --- event files and POSIX timers: signalfd, timerfd, pidfd, timer_* (strace's signalfd.c,
# timerfd.c, pidfd*.c, time.c and print_sigevent) -------------------------------------------

SFD_BITS = [(abi.SFD_CLOEXEC, "SFD_CLOEXEC"), (abi.SFD_NONBLOCK, "SFD_NONBLOCK")]
TFD_BITS = [(abi.TFD_TIMER_ABSTIME, "TFD_TIMER_ABSTIME"), (abi.TFD_TIMER_CANCEL_ON_SET, "TFD_TIMER_CANCEL_ON_SET"),
            (abi.TFD_CLOEXEC, "TFD_CLOEXEC"), (abi.TFD_NONBLOCK, "TFD_NONBLOCK")]
PIDFD_BITS = [(abi.PIDFD_NONBLOCK, "PIDFD_NONBLOCK"), (abi.PIDFD_THREAD, "PIDFD_THREAD")]
SIGEV_NAMES = {abi.SIGEV_SIGNAL: "SIGEV_SIGNAL", abi.SIGEV_NONE: "SIGEV_NONE", abi.SIGEV_THREAD: "SIGEV_THREAD",
               abi.SIGEV_THREAD_ID: "SIGEV_THREAD_ID"}


def _clockid(value: int) -> str:
    return _lookup(CLOCK_NAMES, value & 0xFFFFFFFF, "CLOCK_???")


def _itimerspec_at(call: Call, addr: int, out: bool) -> str:
    """struct itimerspec; strace prints tv_nsec unsigned."""
    if addr == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(addr)
    data = call.read(addr, abi.ITIMERSPEC.size)
    if data is None:
        return ptr(addr)
    isec, insec, vsec, vnsec = abi.ITIMERSPEC.unpack(data)
    mask = (1 << 64) - 1
    return (f"{{it_interval={{tv_sec={isec}, tv_nsec={insec & mask}}}, "
            f"it_value={{tv_sec={vsec}, tv_nsec={vnsec & mask}}}}}")


def _signalfd_args(call: Call) -> list[str]:
    fd, mask_addr, size = call.args[:3]
    mask = fmt_sigset(call, mask_addr) if size == 8 else ptr(mask_addr)
    shown = [str(_s32(fd)), mask, str(size)]
    if call.entry.name == "signalfd4":
        shown.append(flags(call.args[3] & 0xFFFFFFFF, SFD_BITS, "0", "SFD_???"))
    return shown


def _sigevent(call: Call, addr: int) -> str:
    if addr == 0:
        return "NULL"
    data = call.read(addr, abi.SIGEVENT.size)
    if data is None:
        return ptr(addr)
    value, signo, notify, tid = abi.SIGEVENT.unpack(data)
    parts = []
    if value:
        as_int = struct.unpack("<i", struct.pack("<I", value & 0xFFFFFFFF))[0]
        parts.append(f"sigev_value={{sival_int={as_int}, sival_ptr={ptr(value)}}}")
    named = notify in (abi.SIGEV_SIGNAL, abi.SIGEV_THREAD, abi.SIGEV_THREAD_ID)
    parts.append(f"sigev_signo={signame(signo) if named else signo & 0xFFFFFFFF}")
    parts.append(f"sigev_notify={_lookup(SIGEV_NAMES, notify & 0xFFFFFFFF, 'SIGEV_???')}")
    if notify == abi.SIGEV_THREAD_ID:
        parts.append(f"sigev_notify_thread_id={_s32(tid)}")
    elif notify == abi.SIGEV_THREAD:
        function, attributes = struct.unpack_from("<QQ", data, 16)
        parts += [f"sigev_notify_function={ptr(function)}", f"sigev_notify_attributes={ptr(attributes)}"]
    return "{" + ", ".join(parts) + "}"


SPECIAL.update({
    "signalfd4": _signalfd_args,
    "signalfd": _signalfd_args,
    "timerfd_create": lambda call: [_clockid(call.args[0]), flags(call.args[1] & 0xFFFFFFFF, TFD_BITS, "0",
                                                                  "TFD_???")],
    "timerfd_settime": lambda call: [str(_s32(call.args[0])), flags(call.args[1] & 0xFFFFFFFF, TFD_BITS, "0",
                                                                    "TFD_???"),
                                     _itimerspec_at(call, call.args[2], False), _itimerspec_at(call, call.args[3], True)],
    "timerfd_gettime": lambda call: [str(_s32(call.args[0])), _itimerspec_at(call, call.args[1], True)],
    "pidfd_open": lambda call: [str(_s32(call.args[0])), flags(call.args[1] & 0xFFFFFFFF, PIDFD_BITS, "0",
                                                               "PIDFD_???")],
    "pidfd_send_signal": lambda call: [str(_s32(call.args[0])), signame(_s32(call.args[1])),
                                       fmt_siginfo(call, call.args[2], out=False), _hex0(call.args[3] & 0xFFFFFFFF)],
    "pidfd_getfd": lambda call: [str(_s32(call.args[0])), str(_s32(call.args[1])), _hex0(call.args[2] & 0xFFFFFFFF)],
    "timer_create": lambda call: [_clockid(call.args[0]), _sigevent(call, call.args[1]),
                                  _fmt_array(call, call.args[2], 1, 4, lambda v: str(_s32(v)))],
    "timer_settime": lambda call: [str(_s32(call.args[0])), flags(call.args[1] & 0xFFFFFFFF,
                                                                  [(abi.TIMER_ABSTIME, "TIMER_ABSTIME")], "0"),
                                   _itimerspec_at(call, call.args[2], False), _itimerspec_at(call, call.args[3], True)],
    "timer_gettime": lambda call: [str(_s32(call.args[0])), _itimerspec_at(call, call.args[1], True)],
})


# Calls shown in two parts: (what is printed at entry after "name(", what at exit before ")")
SPLIT_SPECIAL: dict[str, tuple[Callable[[Call], str], Callable[[Call], str]]] = {
    "clone3": (_clone3_entry, _clone3_exit),
    "poll": (_poll_entry, lambda call: ""),
    "ppoll": (_poll_entry, lambda call: ""),
    "select": (_select_entry, lambda call: ""),
    "pselect6": (_select_entry, lambda call: ""),
    "epoll_wait": (lambda call: f"{_s32(call.args[0])}, ", _epoll_wait_exit),
    "epoll_pwait": (lambda call: f"{_s32(call.args[0])}, ", _epoll_wait_exit),
    "epoll_pwait2": (lambda call: f"{_s32(call.args[0])}, ", _epoll_wait_exit),
}

# Socket calls that may block, printed as strace prints them when another line comes
# first: what goes in at entry (`connect(3, {...}, 16 <unfinished ...>`, `accept(3, `),
# the rest at exit
SPLIT_SPECIAL.update({
    name: (lambda call, args=args: ", ".join(args(call)), lambda call: "")
    for name, args in (("connect", _bind_args), ("sendto", _sendto_args), ("sendmsg", _sendmsg_args))
})
SPLIT_SPECIAL.update({
    name: (lambda call: f"{_s32(call.args[0])}, ", lambda call, args=args: ", ".join(args(call)[1:]))
    for name, args in (("accept", _accept_args), ("accept4", _accept_args), ("recvfrom", _recvfrom_args),
                       ("recvmsg", _recvmsg_args))
})


# --- data-moving calls: sendfile, splice, tee, vmsplice, copy_file_range, fallocate ---

SPLICE_BITS = [(abi.SPLICE_F_MOVE, "SPLICE_F_MOVE"), (abi.SPLICE_F_NONBLOCK, "SPLICE_F_NONBLOCK"),
               (abi.SPLICE_F_MORE, "SPLICE_F_MORE"), (abi.SPLICE_F_GIFT, "SPLICE_F_GIFT")]
FALLOC_BITS = [(abi.FALLOC_FL_KEEP_SIZE, "FALLOC_FL_KEEP_SIZE"), (abi.FALLOC_FL_PUNCH_HOLE, "FALLOC_FL_PUNCH_HOLE"),
               (abi.FALLOC_FL_NO_HIDE_STALE, "FALLOC_FL_NO_HIDE_STALE"),
               (abi.FALLOC_FL_COLLAPSE_RANGE, "FALLOC_FL_COLLAPSE_RANGE"),
               (abi.FALLOC_FL_ZERO_RANGE, "FALLOC_FL_ZERO_RANGE"), (abi.FALLOC_FL_INSERT_RANGE, "FALLOC_FL_INSERT_RANGE"),
               (abi.FALLOC_FL_UNSHARE_RANGE, "FALLOC_FL_UNSHARE_RANGE")]


def _loff(call: Call, addr: int, signed: bool = True) -> str:
    """strace's printnum_int64: `[N]`, NULL, or the address when unreadable."""
    if addr == 0:
        return "NULL"
    data = call.read(addr, 8)
    if data is None:
        return ptr(addr)
    return f"[{struct.unpack('<q' if signed else '<Q', data)[0]}]"


def _splice_flags(value: int) -> str:
    return flags(value & 0xFFFFFFFF, SPLICE_BITS, unknown="SPLICE_F_???")


def _sendfile_exit(call: Call) -> str:
    offset = call.args[2]
    changed = ""
    if offset and call.read(offset, 8) is not None and not call.failed and call.result:
        changed = " => " + _loff(call, offset, signed=False)
    return f"{changed}, {call.args[3]}"


def _fcntl_entry(call: Call) -> str:
    """fcntl at entry: everything, but F_GETLK's struct (it is shown at exit)."""
    if call.args[1] in (abi.F_GETLK, abi.F_OFD_GETLK):
        return f"{_s32(call.args[0])}, {fmt_arg(call, 1)}, "
    return ", ".join(_fcntl_args(call))


SPLIT_SPECIAL.update({
    "fcntl": (_fcntl_entry, lambda call: _flock(call, call.args[2])
              if call.args[1] in (abi.F_GETLK, abi.F_OFD_GETLK) else ""),
    "sendfile": (lambda call: f"{_s32(call.args[0])}, {_s32(call.args[1])}, {_loff(call, call.args[2], signed=False)}",
                 _sendfile_exit),
    "splice": (lambda call: f"{_s32(call.args[0])}, {_loff(call, call.args[1])}, {_s32(call.args[2])}, "
                            f"{_loff(call, call.args[3])}, {call.args[4]}, {_splice_flags(call.args[5])}",
               lambda call: ""),
    "copy_file_range": (lambda call: f"{_s32(call.args[0])}, {_loff(call, call.args[1])}, {_s32(call.args[2])}, "
                                     f"{_loff(call, call.args[3])}, {call.args[4]}, {call.args[5] & 0xFFFFFFFF}",
                        lambda call: ""),
    "vmsplice": (lambda call: f"{_s32(call.args[0])}, {fmt_arg(call, 1)}, {call.args[2]}, "
                              f"{_splice_flags(call.args[3])}",
                 lambda call: ""),
})
SPECIAL.update({
    "tee": lambda call: [str(_s32(call.args[0])), str(_s32(call.args[1])), str(call.args[2]),
                         _splice_flags(call.args[3])],
    "fallocate": lambda call: [str(_s32(call.args[0])),
                               flags(call.args[1] & 0xFFFFFFFF, FALLOC_BITS, unknown="FALLOC_FL_???"),
                               str(call.args[2]), str(call.args[3])],
})


# --- capabilities, mlock ---

CAP_NAMES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
             "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
             "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
             "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
             "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
             "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
             "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
             "CAP_CHECKPOINT_RESTORE"]
CAP_VERSION_NAMES = {abi.LINUX_CAPABILITY_VERSION_1: "_LINUX_CAPABILITY_VERSION_1",
                     abi.LINUX_CAPABILITY_VERSION_2: "_LINUX_CAPABILITY_VERSION_2",
                     abi.LINUX_CAPABILITY_VERSION_3: "_LINUX_CAPABILITY_VERSION_3"}
_CAP_BITS_LO = [(1 << i, f"1<<{name}") for i, name in enumerate(CAP_NAMES[:32])]
_CAP_BITS_HI = [(1 << i, f"1<<{name}") for i, name in enumerate(CAP_NAMES[32:])]
MCL_BITS = [(abi.MCL_CURRENT, "MCL_CURRENT"), (abi.MCL_FUTURE, "MCL_FUTURE"), (abi.MCL_ONFAULT, "MCL_ONFAULT")]


def _cap_header(call: Call) -> tuple[str, int | None]:
    """strace's print_cap_header, and the version it read (None: not readable)."""
    data = call.read(call.args[0], abi.CAP_HEADER.size) if call.args[0] else None
    if data is None:
        return ptr(call.args[0]), None
    version, pid = abi.CAP_HEADER.unpack(data)
    return f"{{version={_named_hex(CAP_VERSION_NAMES, version, '_LINUX_CAPABILITY_VERSION_???')}, pid={pid}}}", version


def _named_hex(names: dict[int, str], value: int, unknown: str) -> str:
    return names[value] if value in names else f"{value:#x} /* {unknown} */"


def _cap_bits(lo: int, hi: int) -> str:
    parts = []
    if lo or not hi:
        parts.append(flags(lo, _CAP_BITS_LO, unknown="CAP_???"))
    if hi:
        parts.append(flags(hi, _CAP_BITS_HI, unknown="CAP_???"))
    return "|".join(parts)


def _cap_data(call: Call, version: int | None) -> str:
    """strace's print_cap_data: one word per set for v1, two for v2/v3."""
    addr = call.args[1]
    if not addr or version is None:
        return ptr(addr)
    words = 2 if version in (abi.LINUX_CAPABILITY_VERSION_2, abi.LINUX_CAPABILITY_VERSION_3) else 1
    data = call.read(addr, words * abi.CAP_DATA.size)
    if data is None:
        return ptr(addr)
    low = abi.CAP_DATA.unpack_from(data, 0)
    high = abi.CAP_DATA.unpack_from(data, abi.CAP_DATA.size) if words == 2 else (0, 0, 0)
    names = ("effective", "permitted", "inheritable")
    return "{" + ", ".join(f"{name}={_cap_bits(low[i], high[i])}" for i, name in enumerate(names)) + "}"


def _capget_exit(call: Call) -> str:
    return _cap_data(call, None if call.failed else _cap_header(call)[1])


def _capset_entry(call: Call) -> str:
    header, version = _cap_header(call)
    return f"{header}, {_cap_data(call, version)}"


SPLIT_SPECIAL.update({
    "capget": (lambda call: _cap_header(call)[0] + ", ", _capget_exit),
    "capset": (_capset_entry, lambda call: ""),
})
SPECIAL.update({
    "mlock2": lambda call: [ptr(call.args[0]), str(call.args[1]),
                            flags(call.args[2] & 0xFFFFFFFF, [(abi.MLOCK_ONFAULT, "MLOCK_ONFAULT")], unknown="MLOCK_???")],
    "mlockall": lambda call: [flags(call.args[0] & 0xFFFFFFFF, MCL_BITS, unknown="MCL_???")],
})



# --- System V IPC and POSIX message queues (ipc/shm.c, sem.c, msg.c, mqueue.c in strace) ---

IPC_GET_BITS = [(abi.IPC_CREAT, "IPC_CREAT"), (abi.IPC_EXCL, "IPC_EXCL"), (abi.IPC_NOWAIT, "IPC_NOWAIT")]
SHMGET_BITS = IPC_GET_BITS[:2] + [(abi.SHM_HUGETLB, "SHM_HUGETLB"), (abi.SHM_NORESERVE, "SHM_NORESERVE")]
SHMAT_BITS = [(abi.SHM_RDONLY, "SHM_RDONLY"), (abi.SHM_RND, "SHM_RND"), (abi.SHM_REMAP, "SHM_REMAP"),
              (abi.SHM_EXEC, "SHM_EXEC")]
SEMOP_BITS = [(abi.SEM_UNDO, "SEM_UNDO"), (abi.IPC_NOWAIT, "IPC_NOWAIT")]
MSG_FLAG_BITS = [(abi.MSG_NOERROR, "MSG_NOERROR"), (abi.MSG_EXCEPT, "MSG_EXCEPT"), (abi.MSG_COPY, "MSG_COPY"),
                 (abi.IPC_NOWAIT, "IPC_NOWAIT")]
IPC_CMDS = {abi.IPC_RMID: "IPC_RMID", abi.IPC_SET: "IPC_SET", abi.IPC_STAT: "IPC_STAT", abi.IPC_INFO: "IPC_INFO"}
SHMCTL_CMDS = {**IPC_CMDS, abi.SHM_LOCK: "SHM_LOCK", abi.SHM_UNLOCK: "SHM_UNLOCK", abi.SHM_STAT: "SHM_STAT",
               abi.SHM_INFO: "SHM_INFO", abi.SHM_STAT_ANY: "SHM_STAT_ANY"}
SEMCTL_CMDS = {**IPC_CMDS, abi.GETPID: "GETPID", abi.GETVAL: "GETVAL", abi.GETALL: "GETALL",
               abi.GETNCNT: "GETNCNT", abi.GETZCNT: "GETZCNT", abi.SETVAL: "SETVAL", abi.SETALL: "SETALL",
               abi.SEM_STAT: "SEM_STAT", abi.SEM_INFO: "SEM_INFO", abi.SEM_STAT_ANY: "SEM_STAT_ANY"}
MSGCTL_CMDS = {**IPC_CMDS, abi.MSG_STAT: "MSG_STAT", abi.MSG_INFO: "MSG_INFO", abi.MSG_STAT_ANY: "MSG_STAT_ANY"}


def ipc_key(value: int) -> str:
    return "IPC_PRIVATE" if value == 0 else f"{value & 0xFFFFFFFF:#x}"


def ipc_get_flags(value: int, bits: list[tuple[int, str]]) -> str:
    """IPC_CREAT|IPC_EXCL|0600: the flags, then the permission bits in octal."""
    value &= 0xFFFFFFFF
    named = flags(value & ~0o777, bits, "") if value & ~0o777 else ""
    return f"{named}|{octal(value & 0o777)}" if named else octal(value & 0o777)


def ipc_cmd(value: int, names: dict[int, str], unknown: str) -> str:
    """A ctl command: IPC_64 is shown as a flag before it."""
    value &= 0xFFFFFFFF
    prefix = "IPC_64|" if value & abi.IPC_64 else ""
    value &= ~abi.IPC_64
    return prefix + (names[value] if value in names else f"{value:#x} /* {unknown} */")


def _ipc_perm(data: bytes, full: bool) -> str:
    key, uid, gid, cuid, cgid, mode, _seq = abi.IPC64_PERM.unpack_from(data)[:7]
    mode_text = "0" + format(mode, "o") if mode else "000"
    if not full:
        return f"{{uid={uid}, gid={gid}, mode={mode_text}}}"
    return f"{{uid={uid}, gid={gid}, mode={mode_text}, key={key}, cuid={cuid}, cgid={cgid}}}"


def _sembuf(call: Call, index: int) -> str:
    addr, count = call.args[index], call.args[index + 1]
    shown = min(count, call.strsize)  # strace prints at most -s elements, then "..."
    data = call.read(addr, shown * abi.SEMBUF.size) if shown else b""
    if data is None:
        return ptr(addr)
    items = [abi.SEMBUF.unpack_from(data, i * abi.SEMBUF.size) for i in range(shown)]
    texts = [f"{{sem_num={num}, sem_op={op}, sem_flg={flags(flg & 0xFFFF, SEMOP_BITS, '0', 'SEM_???')}}}"
             for num, op, flg in items]
    return "[" + ", ".join(texts + (["..."] if count > shown else [])) + "]"


def _msgbuf(call: Call, index: int) -> str:
    """{mtype=N, mtext="..."}: msgsnd's message, or what msgrcv wrote (msgsz bytes shown)."""
    addr, size = call.args[index], call.args[index + 1]
    head = call.read(addr, 8)
    if head is None:
        return ptr(addr)
    mtype = struct.unpack("<q", head)[0]
    return f"{{mtype={mtype}, mtext={fmt_buffer(call, addr + 8, size)}}}"


def _mq_attr(call: Call, index: int) -> str:
    addr = call.args[index]
    data = call.read(addr, abi.MQ_ATTR.size) if addr else None
    if data is None:
        return ptr(addr)
    mq_flags, maxmsg, msgsize, curmsgs = abi.MQ_ATTR.unpack(data)
    shown = flags(mq_flags, [(abi.O_NONBLOCK, "O_NONBLOCK")], "0", "O_???")
    return f"{{mq_flags={shown}, mq_maxmsg={maxmsg}, mq_msgsize={msgsize}, mq_curmsgs={curmsgs}}}"


KIND_FORMATTERS: dict[str, Callable[[Call, int], str]] = {
    "ipc_key": lambda call, i: ipc_key(call.args[i]),
    "ipc_flags": lambda call, i: ipc_get_flags(call.args[i], SHMGET_BITS if call.entry.name == "shmget"
                                               else IPC_GET_BITS),
    "shmat_flags": lambda call, i: flags(call.args[i] & 0xFFFFFFFF, SHMAT_BITS, "0", "SHM_???"),
    "msg_flags": lambda call, i: flags(call.args[i] & 0xFFFFFFFF, MSG_FLAG_BITS, "0", "MSG_???"),
    "sembuf_in": _sembuf,
    "msgbuf_in": _msgbuf,
    "msgbuf_out": _msgbuf,
    "mq_attr_in": _mq_attr,
    "mq_attr_out": _mq_attr,
    "mq_msg_out": lambda call, i: fmt_buffer(call, call.args[i], call.result or 0),
    "uint_out": lambda call, i: _fmt_array(call, call.args[i], 1, 4) if call.args[i] else "NULL",
    "sigevent_in": lambda call, i: _sigevent(call, call.args[i]),
}


def _shmctl_args(call: Call) -> list[str]:
    shmid, cmd, addr = _s32(call.args[0]), call.args[1] & 0xFFFFFFFF & ~abi.IPC_64, call.args[2]
    head = [str(shmid), ipc_cmd(call.args[1], SHMCTL_CMDS, "SHM_???")]
    ok = not call.failed and call.result is not None
    data = None
    if cmd in (abi.IPC_STAT, abi.SHM_STAT, abi.SHM_STAT_ANY) and ok:
        data = call.read(addr, abi.SHMID64_DS.size)
        if data is not None:
            perm, segsz, atime, dtime, ctime, cpid, lpid, nattch = abi.SHMID64_DS.unpack(data)[:8]
            return head + [f"{{shm_perm={_ipc_perm(perm, True)}, shm_segsz={segsz}, shm_cpid={cpid}, "
                           f"shm_lpid={lpid}, shm_nattch={nattch}, shm_atime={atime}, shm_dtime={dtime}, "
                           f"shm_ctime={ctime}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(addr, abi.SHMID64_DS.size)
        if data is not None:
            return head + [f"{{shm_perm={_ipc_perm(data, False)}}}"]
    elif cmd == abi.IPC_INFO and ok:
        data = call.read(addr, abi.SHMINFO64.size)
        if data is not None:
            shmmax, shmmin, shmmni, shmseg, shmall = abi.SHMINFO64.unpack(data)[:5]
            return head + [f"{{shmmax={shmmax}, shmmin={shmmin}, shmmni={shmmni}, shmseg={shmseg}, "
                           f"shmall={shmall}}}"]
    elif cmd == abi.SHM_INFO and ok:
        data = call.read(addr, abi.SHM_INFO_STRUCT.size)
        if data is not None:
            used, tot, rss, swp, attempts, successes = abi.SHM_INFO_STRUCT.unpack(data)
            return head + [f"{{used_ids={used}, shm_tot={tot}, shm_rss={rss}, shm_swp={swp}, "
                           f"swap_attempts={attempts}, swap_successes={successes}}}"]
    return head + [ptr(addr)]


def _semctl_args(call: Call) -> list[str]:
    cmd, arg = call.args[2] & 0xFFFFFFFF & ~abi.IPC_64, call.args[3]
    head = [str(_s32(call.args[0])), str(_s32(call.args[1])), ipc_cmd(call.args[2], SEMCTL_CMDS, "SEM_???")]
    ok = not call.failed and call.result is not None
    if cmd in (abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY) and ok:
        data = call.read(arg, abi.SEMID64_DS.size)
        if data is not None:
            perm, otime, _, ctime, _, nsems = abi.SEMID64_DS.unpack(data)[:6]
            return head + [f"{{sem_perm={_ipc_perm(perm, True)}, sem_otime={otime}, sem_ctime={ctime}, "
                           f"sem_nsems={nsems}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(arg, abi.SEMID64_DS.size)
        if data is not None:
            return head + [f"{{sem_perm={_ipc_perm(data, False)}}}"]
    elif cmd in (abi.IPC_INFO, abi.SEM_INFO) and ok:
        data = call.read(arg, abi.SEMINFO.size)
        if data is not None:
            names = ("semmap", "semmni", "semmns", "semmnu", "semmsl", "semopm", "semume", "semusz", "semvmx",
                     "semaem")
            return head + ["{" + ", ".join(f"{n}={v}" for n, v in zip(names, abi.SEMINFO.unpack(data))) + "}"]
    elif cmd == abi.SETVAL:
        return head + [_hex0(arg)]
    return head + [ptr(arg)]


def _msgctl_args(call: Call) -> list[str]:
    cmd, addr = call.args[1] & 0xFFFFFFFF & ~abi.IPC_64, call.args[2]
    head = [str(_s32(call.args[0])), ipc_cmd(call.args[1], MSGCTL_CMDS, "MSG_???")]
    ok = not call.failed and call.result is not None
    if cmd in (abi.IPC_STAT, abi.MSG_STAT, abi.MSG_STAT_ANY) and ok:
        data = call.read(addr, abi.MSQID64_DS.size)
        if data is not None:
            perm, stime, rtime, ctime, _cbytes, qnum, qbytes, lspid, lrpid = abi.MSQID64_DS.unpack(data)[:9]
            return head + [f"{{msg_perm={_ipc_perm(perm, True)}, msg_stime={stime}, msg_rtime={rtime}, "
                           f"msg_ctime={ctime}, msg_qnum={qnum}, msg_qbytes={qbytes}, msg_lspid={lspid}, "
                           f"msg_lrpid={lrpid}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(addr, abi.MSQID64_DS.size)
        if data is not None:
            qbytes = struct.unpack_from("<Q", data, 88)[0]
            return head + [f"{{msg_perm={_ipc_perm(data, False)}, msg_qbytes={qbytes}}}"]
    elif cmd in (abi.IPC_INFO, abi.MSG_INFO) and ok:
        data = call.read(addr, abi.MSGINFO.size)
        if data is not None:
            names = ("msgpool", "msgmap", "msgmax", "msgmnb", "msgmni", "msgssz", "msgtql", "msgseg")
            return head + ["{" + ", ".join(f"{n}={v}" for n, v in zip(names, abi.MSGINFO.unpack(data))) + "}"]
    return head + [ptr(addr)]


def _mq_open_args(call: Call) -> list[str]:
    """mq_open shows mode and attributes only with O_CREAT."""
    parts = [fmt_arg(call, 0), fmt_arg(call, 1)]
    if call.args[1] & abi.O_CREAT:
        parts += [octal(call.args[2] & 0xFFFFFFFF), _mq_attr(call, 3)]
    return parts


SPECIAL.update({"shmctl": _shmctl_args, "semctl": _semctl_args, "msgctl": _msgctl_args, "mq_open": _mq_open_args})
SPLIT_SPECIAL.update({
    "semtimedop": (lambda call: ", ".join(fmt_arg(call, i) for i in range(4)), lambda call: ""),
})


# --- openat2 ---------------------------------------------------------------------------------

RESOLVE_BITS = [(abi.RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"), (abi.RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"),
                (abi.RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"), (abi.RESOLVE_BENEATH, "RESOLVE_BENEATH"),
                (abi.RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"), (abi.RESOLVE_CACHED, "RESOLVE_CACHED")]


def fmt_open_how(call: Call, addr: int, size: int) -> str:
    """strace's print_open_how: the mode only with O_CREAT/O_TMPFILE or when non-zero; the
    bytes past the struct (up to a page) only when some are non-zero."""
    if size < abi.OPEN_HOW_SIZE_VER0:
        return ptr(addr)
    data = call.read(addr, abi.OPEN_HOW.size)
    if data is None:
        return ptr(addr)
    how_flags, mode, resolve = abi.OPEN_HOW.unpack(data)
    text = open_flags(how_flags)
    if how_flags >> 32:
        text += f"|{how_flags >> 32 << 32:#x}"
    parts = [f"flags={text}"]
    if how_flags & (abi.O_CREAT | abi.__O_TMPFILE) or mode:
        parts.append(f"mode={octal(mode)}")
    parts.append(f"resolve={flags(resolve, RESOLVE_BITS, unknown='RESOLVE_???')}")
    end = min(size, abi.PAGE_SIZE)
    if end > abi.OPEN_HOW.size:
        tail = call.read(addr + abi.OPEN_HOW.size, end - abi.OPEN_HOW.size)
        if tail is not None and any(tail):
            parts.append(f"/* bytes {abi.OPEN_HOW.size}..{end - 1} */ {quote(tail, call.strsize, force_hex=True)}")
    return "{" + ", ".join(parts) + "}"


SPECIAL.update({
    "openat2": lambda call: [fmt_arg(call, 0), fmt_arg(call, 1), fmt_open_how(call, call.args[2], call.args[3]),
                             str(call.args[3])],
})



# --- inotify -----------------------------------------------------------------------------------

INOTIFY_BITS = [(getattr(abi, n), n) for n in (
    "IN_ACCESS", "IN_MODIFY", "IN_ATTRIB", "IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE", "IN_OPEN", "IN_MOVED_FROM",
    "IN_MOVED_TO", "IN_CREATE", "IN_DELETE", "IN_DELETE_SELF", "IN_MOVE_SELF", "IN_UNMOUNT", "IN_Q_OVERFLOW",
    "IN_IGNORED", "IN_ONLYDIR", "IN_DONT_FOLLOW", "IN_EXCL_UNLINK", "IN_MASK_CREATE", "IN_MASK_ADD", "IN_ISDIR",
    "IN_ONESHOT")]
INOTIFY_INIT_BITS = [(abi.O_NONBLOCK, "IN_NONBLOCK"), (abi.O_CLOEXEC, "IN_CLOEXEC")]

SPECIAL.update({
    "inotify_init1": lambda call: [flags(call.args[0] & 0xFFFFFFFF, INOTIFY_INIT_BITS, unknown="IN_???")],
    "inotify_add_watch": lambda call: [fmt_arg(call, 0), fmt_arg(call, 1),
                                       flags(call.args[2] & 0xFFFFFFFF, INOTIFY_BITS, unknown="IN_???")],
})


def cap_name(value: int) -> str:
    return CAP_NAMES[value] if 0 <= value < len(CAP_NAMES) else f"{value:#x} /* CAP_??? */"


# the kernel-internal codes of an interrupted call (include/linux/errno.h), as strace
# names them: the call is restarted, or fails with EINTR, once the signal is handled
ERESTART_ERRNOS = {abi.ERESTARTSYS: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
                   abi.ERESTARTNOINTR: ("ERESTARTNOINTR", "To be restarted"),
                   abi.ERESTARTNOHAND: ("ERESTARTNOHAND", "To be restarted if no handler"),
                   515: ("ENOIOCTLCMD", "No ioctl command"),
                   abi.ERESTART_RESTARTBLOCK: ("ERESTART_RESTARTBLOCK", "Interrupted by signal")}


def format_return(call: Call) -> str:
    result = call.result
    assert result is not None
    name = call.entry.name
    if name == "rt_sigreturn":  # the restored rax: an error code, or any 64-bit value
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
    if name in ("poll", "ppoll", "select", "pselect6"):
        return f"{result}{poll_result(call)}"
    if name == "sched_getscheduler" and result >= 0:
        return f"{result} ({SCHED_NAMES.get(result, '?')})"
    if name == "personality" and result >= 0:
        return f"{ptr(result) if result else 0} ({_personality(result)})"
    if call.entry.ret.name == "signum" and result > 0:
        return f"{result} ({signame(result)})"
    if name == "time":
        return f"{result} ({_utc(result)})"
    if name == "fcntl":
        cmd = call.args[1]
        if cmd == abi.F_GETFL:
            return f"{_hex0(result)} (flags {open_flags(result)})"
        if cmd == abi.F_GETFD:
            return f"{result:#x} (flags {flags(result, [(abi.FD_CLOEXEC, 'FD_CLOEXEC')])})" if result else "0"
    if name == "umask":
        return octal(result)
    if name == "prctl" and call.args[0] & 0xFFFFFFFF == 3 and result in DUMPABLE_NAMES:
        return f"{result} ({DUMPABLE_NAMES[result]})"
    if call.entry.ret.name == "ret_hex":
        return hex(result & ((1 << 64) - 1))
    return str(result)


# --- the tracer -------------------------------------------------------------------------

# Linux's argument counts for the calls pykern may have no handler for (strace prints
# that many raw arguments); any other unhandled call shows six, as strace does for
# numbers it does not know.
NOSYS_NARGS = {"socket": 3, "connect": 3, "accept": 3, "sendto": 6, "recvfrom": 6, "sendmsg": 3,
               "recvmsg": 3, "shutdown": 2, "bind": 3, "listen": 2, "getsockname": 3, "getpeername": 3,
               "socketpair": 4, "setsockopt": 5, "getsockopt": 5, "accept4": 4, "recvmmsg": 5,
               "sendmmsg": 4, "sendfile": 4, "io_uring_setup": 2, "io_uring_enter": 6,
               "io_uring_register": 4, "clone3": 2, "rseq": 4, "epoll_create1": 1, "eventfd2": 2,
               "inotify_init1": 1, "timerfd_create": 2, "signalfd4": 4, "memfd_create": 2}


@dataclass
class Pending:
    """A call whose entry was seen and whose exit was not."""

    entry: SyscallEntry
    raw: list[int]
    args: list[int]
    head: str  # "name(in-args" as printed at entry
    split: int  # index of the first argument printed at exit
    start_ns: int
    lead: str = ""  # the "[pid N] 12:00:00.000000 " printed before head
    task: Task | None = None  # who made the call (its tid changes if it execs from a thread)
    unfinished: bool = False  # its entry line was ended with " <unfinished ...>"
    before: dict[str, int] = field(default_factory=dict)  # Call.before, for the exit


@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    ns: int = 0


def timestamp(ns: int, style: int) -> str:
    """strace's -t (1), -tt (2) and -ttt (3) line prefixes for the wall time `ns`."""
    sec, usec = divmod(ns // 1000, 1_000_000)
    if style >= 3:
        return f"{sec}.{usec:06d} "
    clock = time.strftime("%H:%M:%S", time.localtime(sec))
    return f"{clock}.{usec:06d} " if style == 2 else clock + " "


def relative_stamp(ns: int) -> str:
    """strace -r's prefix: seconds since the previous line, `     0.000123 `."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f"{sec:6d}.{usec:06d} "


def duration(ns: int) -> str:
    """strace -T's ` <0.000012>`: the time spent in the call."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f" <{sec}.{usec:06d}>"


def is_error(result: int) -> bool:
    return -MAX_ERRNO <= result < 0


@dataclass
class Tracer:
    """Prints every traced call of every task (following forks always) to `stream`.

    Options as strace's: `selected` (-e trace=), `status` (-e status=: a line is then
    printed whole at exit, never split), `timestamps` (-t, -tt, -ttt: 1, 2, 3),
    `syscall_times` (-T), `summary` (-c). `wall_ns` and `mono_ns` are the clocks (for
    the -t prefixes and the -T durations); tests replace them.
    """

    stream: TextIO | None
    strsize: int = DEFAULT_STRSIZE
    selected: frozenset[str] | None = None  # syscall names to show; None = all
    pid_prefix_always: bool = False  # strace -f -o FILE: "PID " on every line
    json_stream: TextIO | None = None
    summary: bool = False  # -c: count instead of printing lines
    initial_exec: tuple[bytes, list[bytes], int] | None = None  # the CLI's execve, shown first
    status: frozenset[str] | None = None  # -e status=: "successful", "failed", "unfinished"
    timestamps: int = 0  # -t 1, -tt 2, -ttt 3
    relative: bool = False  # -r: the time since the previous line's, instead of -t's
    signals: frozenset[int] | None = None  # -e signal=: whose `--- SIG ---` lines to show; None = all
    syscall_times: bool = False  # -T
    wall_ns: Callable[[], int] = time.time_ns
    mono_ns: Callable[[], int] = time.perf_counter_ns
    pending: dict[int, Pending] = field(default_factory=dict)
    live: set[int] = field(default_factory=set)
    open_tid: int | None = None  # the task whose entry line is printed but not ended
    restart_blocks: dict[int, SyscallEntry] = field(default_factory=dict)  # ended ERESTART_RESTARTBLOCK
    stats: dict[str, Stats] = field(default_factory=dict)
    clock0: float = field(default_factory=time.monotonic)
    last_stamp_ns: int | None = None  # -r: when the previous line started

    # --- output plumbing ---

    def _prefix(self, tid: int) -> str:
        if self.pid_prefix_always:
            return f"{tid:<5} "
        if len(self.live) > 1:
            return f"[pid {tid:5}] "
        return ""

    def _lead(self, tid: int) -> str:
        """What starts a line: the pid prefix, then the -t timestamp (or -r's delta)."""
        if self.relative:
            now = self.mono_ns()
            delta = 0 if self.last_stamp_ns is None else now - self.last_stamp_ns
            self.last_stamp_ns = now
            return self._prefix(tid) + relative_stamp(delta)
        if not self.timestamps:
            return self._prefix(tid)
        return self._prefix(tid) + timestamp(self.wall_ns(), self.timestamps)

    def _shows(self, how: str) -> bool:
        return self.status is None or how in self.status

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
                if self._shows("successful"):
                    self._line(task.tid, f"execve({', '.join(args)})", "0", suffix=self._took(0))

    def _write(self, text: str) -> None:
        if self.stream is not None and not self.summary:
            self.stream.write(text)

    def _interrupt(self, tid: int | None) -> None:
        """Another line is about to be printed: end the open entry line of any other task
        (of any task at all when `tid` is None)."""
        if self.open_tid is not None and self.open_tid != tid:
            other = self.pending.get(self.open_tid)
            if other is not None:
                other.unfinished = True
                self._write(" <unfinished ...>\n")
            self.open_tid = None

    def _line(self, tid: int, text: str, ret: str, lead: str | None = None, suffix: str = "") -> None:
        self._interrupt(tid)
        line = (self._lead(tid) if lead is None else lead) + text
        self._write(_aligned(line, ret) + suffix + "\n")

    def _event(self, tid: int, text: str) -> None:
        """A `--- ... ---` or `+++ ... +++` line."""
        self._interrupt(None)
        self._write(self._lead(tid) + text + "\n")

    def _took(self, ns: int) -> str:
        return duration(ns) if self.syscall_times else ""

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
        if entry.name in SPECIAL or entry.name in SPLIT_SPECIAL or entry.name == "execve":
            split = len(entry.args) if entry.name == "execve" else 0
        shown = ", ".join(fmt_arg(call, i) for i in range(split))
        if entry.name == "rt_sigreturn":
            shown = _sigreturn_mask(call)
            self.restart_blocks.pop(task.tid, None)  # a handler ran: no restart_syscall
        if split < len(entry.args) and shown:
            shown += ", "
        if entry.name in SPLIT_SPECIAL:
            shown = SPLIT_SPECIAL[entry.name][0](call)
        head = f"{entry.name}({shown}"
        if self.restart_blocks.pop(task.tid, None) is entry:
            # ERESTART_RESTARTBLOCK without a handler: Linux resumes the call through
            # restart_syscall, and strace shows that; pykern re-enters the call itself
            head = f"restart_syscall(<... resuming interrupted {entry.name} ...>"
        capture = ENTRY_CAPTURE.get(entry.name)
        if capture is not None:
            capture(call)
        pending = Pending(entry, list(raw), args, head, split, self.mono_ns(), self._lead(task.tid), task,
                          before=call.before)
        if self.json_stream is not None:
            self._json({"event": "syscall_entry", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(raw[:len(entry.args)]),
                        "decoded": [fmt_arg(call, i) for i in range(split)] if entry.name not in SPECIAL else []})
        if entry.ret.name == "ret_none":  # exit, exit_group: there is no return to wait for
            text = pending.head + ", ".join(SPECIAL[entry.name](call)) + ")"
            if self._shows("unfinished"):
                self._line(task.tid, text, "?", lead=pending.lead)
            self._count(entry.name, 0, pending.start_ns)
            self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(raw[:len(entry.args)]),
                        "decoded": [str(args[0])], "ret": None})
            if entry.name == "exit" and task.tid != task.group.tgid and any(
                    t is not task for t in task.group.live_tasks):
                # a thread that is not the last one: strace reports it gone at once (the
                # leader, and the last thread, are reported when the process dies)
                self._event(task.tid, f"+++ exited with {args[0] & 0xFF} +++")
                self.live.discard(task.tid)
            if not hasattr(task.kernel, "tracer_process_exit"):
                # no process-exit hook in this kernel: derive it from the exit call
                others = [t for t in task.group.live_tasks if t is not task]
                if entry.name == "exit_group" or not others:
                    self._exited(task.group.tasks if entry.name == "exit_group" else [task],
                                 exit_status_of(args[0]), task.group.tgid)
            return
        self.pending[task.tid] = pending
        if self.status is None:  # with a status filter the line waits for the result
            self._interrupt(task.tid)
            self._write(pending.lead + pending.head)
            self.open_tid = task.tid

    def fork(self, parent: Task, child: Task, flags: int) -> None:
        """A task was created (fork, vfork, clone, clone3): JSON only, strace shows the call."""
        self._json({"event": "fork", "pid": parent.group.tgid, "tid": parent.tid, "child_pid": child.group.tgid,
                    "child_tid": child.tid, "flags": clone_flags(flags), "thread": child.group is parent.group})

    def exec(self, task: Task, path: str, argv: list[bytes]) -> None:
        """A new image replaced the old one: JSON only, strace shows the execve."""
        self._json({"event": "exec", "pid": task.group.tgid, "tid": task.tid, "path": path,
                    "argv": [arg.decode(errors="backslashreplace") for arg in argv]})

    def block(self, task: Task, entry: SyscallEntry) -> None:
        pending = self.pending.get(task.tid)
        if pending is None or pending.entry is not entry:
            return
        self._json({"event": "block", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                    "nr": entry.number, "args": list(pending.raw[:len(entry.args)])})

    def exit(self, task: Task, entry: SyscallEntry, raw: list[int], result: int) -> None:
        pending = self.pending.get(task.tid)
        if (pending is None or pending.task is not task) and entry.name == "execve":
            self._superseded(task)
        pending = self.pending.pop(task.tid, None)
        if pending is None or pending.entry is not entry:
            return
        took = self.mono_ns() - pending.start_ns
        call = Call(task, entry, pending.args, self.strsize, result, pending.before)
        special = SPECIAL.get(entry.name)
        if entry.name in SPLIT_SPECIAL:
            rest_parts = []
            rest = SPLIT_SPECIAL[entry.name][1](call) + ")"
        else:
            if special is not None:
                rest_parts = special(call)
            else:
                rest_parts = [fmt_arg(call, i) for i in range(pending.split, len(entry.args))]
            rest = ", ".join(rest_parts) + ")"
        if pending.head.startswith("restart_syscall("):
            rest = ")"
        if result == -abi.ERESTART_RESTARTBLOCK:
            self.restart_blocks[task.tid] = entry
        ret = format_return(call)
        if self.status is not None:
            if self._shows("failed" if is_error(result) else "successful"):
                self._line(task.tid, pending.head + rest, ret, lead=pending.lead, suffix=self._took(took))
        elif self.open_tid == task.tid and not pending.unfinished:
            self.open_tid = None
            written = len(pending.lead) + len(pending.head)  # the entry line printed so far
            self._write(_aligned(pending.lead + pending.head + rest, ret)[written:] + self._took(took) + "\n")
        else:
            self._line(task.tid, f"<... {entry.name} resumed>{rest}", ret, suffix=self._took(took))
        self._count(entry.name, result, pending.start_ns)
        if entry.name in ("clone", "clone3", "fork", "vfork") and result > 0:
            self.live.add(result)
        if self.json_stream is not None:
            decoded = ([fmt_arg(call, i) for i in range(pending.split)] if special is None else []) + rest_parts
            self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": entry.name,
                        "nr": entry.number, "args": list(pending.raw[:len(entry.args)]), "decoded": decoded,
                        "ret": result, "error": errno_name(-result) if is_error(result) else None,
                        "duration": took / 1e9})

    def _superseded(self, task: Task) -> None:
        """execve succeeded in a thread that is not the leader: it now has the leader's
        tid. As strace: the leader's call ends `= ?`, `+++ superseded by execve in pid
        OLD +++`, and the execve's pending entry moves to the new tid."""
        old_tid = next((tid for tid, p in self.pending.items() if p.task is task), None)
        if old_tid is None or old_tid == task.tid:
            return
        leader = self.pending.pop(task.tid, None)
        if leader is not None:
            self._end_unfinished(task.tid, leader)
        self._event(task.tid, f"+++ superseded by execve in pid {old_tid} +++")
        moved = self.pending.pop(old_tid)
        if self.open_tid == old_tid:
            self._interrupt(None)
        moved.unfinished = True
        self.pending[task.tid] = moved
        self.live.discard(old_tid)

    def _end_unfinished(self, tid: int, pending: Pending) -> None:
        """A task died inside a call (killed while blocked): `<... name resumed>) = ?`."""
        if self.status is not None:
            if self._shows("unfinished"):
                self._line(tid, pending.head + "<unfinished ...>)", "?", lead=pending.lead)
        elif self.open_tid == tid and not pending.unfinished:
            self.open_tid = None
            written = len(pending.lead) + len(pending.head)
            self._write(_aligned(pending.lead + pending.head + ")", "?")[written:] + "\n")
        else:
            self._line(tid, f"<... {pending.entry.name} resumed>)", "?")

    def nosys(self, task: Task, nr: int, raw: list[int]) -> None:
        """A call with no handler: it returned ENOSYS without running. Shown by its Linux
        name with raw arguments, or as strace shows numbers Linux lacks: `syscall_0x1f3`
        (those are shown whatever -e trace= says, as strace does)."""
        start = self.mono_ns()
        self._see(task)
        name = abi.SYSCALL_NAMES.get(nr)
        if name is not None and self.selected is not None and name not in self.selected:
            return
        shown_name = name if name is not None else f"syscall_{nr & (1 << 64) - 1:#x}"
        args = [value & (1 << 64) - 1 for value in raw[:NOSYS_NARGS.get(name or "", 6)]]
        decoded = [hex(value) if value else "0" for value in args]
        if self._shows("failed"):
            self._line(task.tid, f"{shown_name}({', '.join(decoded)})",
                       f"-1 ENOSYS ({strerror(abi.ENOSYS)})", suffix=self._took(self.mono_ns() - start))
        self._count(shown_name, -abi.ENOSYS, start)
        self._json({"event": "syscall_exit", "pid": task.group.tgid, "tid": task.tid, "name": shown_name, "nr": nr,
                    "args": args, "decoded": decoded, "ret": -abi.ENOSYS, "error": "ENOSYS"})

    def signal(self, task: Task, info: SigInfo) -> None:
        """`info` is being delivered to `task`: strace's `--- SIGCHLD {...} ---`. An entry
        line still open (this task's or another's) is ended with `<unfinished ...>`."""
        self._see(task)
        if self.signals is None or info.signo in self.signals:
            self._event(task.tid, signal_line(info))
        self._json({"event": "signal", "pid": task.group.tgid, "tid": task.tid, "signo": info.signo,
                    "signal": signame(info.signo), "code": info.code,
                    "code_name": si_code_name(info.signo, info.code), "siginfo": siginfo(info)})

    def stopped(self, task: Task, sig: int) -> None:
        """`task` entered group stop because of `sig`: `--- stopped by SIGSTOP ---`."""
        self._see(task)
        self._event(task.tid, f"--- stopped by {signame(sig)} ---")
        self._json({"event": "stopped", "pid": task.group.tgid, "tid": task.tid, "signo": sig,
                    "signal": signame(sig)})

    def process_exit(self, group: ThreadGroup, status: int) -> None:
        """The last thread of `group` is gone; `status` is its wait status. Called by
        the kernel's `tracer_process_exit` (exit_notify)."""
        for task in group.tasks:
            pending = self.pending.pop(task.tid, None)
            if pending is not None:  # died inside a call (killed while blocked)
                self._end_unfinished(task.tid, pending)
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
                self._event(task.tid, text)
                self.live.discard(task.tid)
        self._json({"event": "exit", "pid": tgid, "status": status,
                    "code": None if sig else (status >> 8) & 0xFF, "signal": signame(sig) if sig else None,
                    "core_dumped": bool(sig and status & 0x80)})

    def _count(self, name: str, result: int, start_ns: int) -> None:
        if not self.summary:
            return
        stats = self.stats.setdefault(name, Stats())
        stats.calls += 1
        stats.ns += self.mono_ns() - start_ns
        if is_error(result):
            stats.errors += 1

    def close(self) -> None:
        """End of the run: an open line is ended, the -c table printed, streams flushed."""
        self._interrupt(None)
        if self.summary and self.stream is not None:
            self.stream.write(summary_table(self.stats))
        for stream in (self.stream, self.json_stream):
            if stream is not None:
                stream.flush()


def _aligned(line: str, ret: str) -> str:
    """`line = ret` with "=" at strace's column 40 (one space after a longer line)."""
    return line.ljust(ALIGN_COLUMN) + f"= {ret}" if len(line) < ALIGN_COLUMN else line + f" = {ret}"


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
    names to show, or None for all. Names and classes are Linux's, whether pykern has a
    handler or not. `status=` expressions are left to `parse_status_expr`. Raises
    ValueError on an unknown name, class or qualifier."""
    everything = frozenset(abi.SYSCALL_NUMBERS) | {e.name for e in table if e is not None}
    selected: set[str] | None = None
    for expression in expressions:
        qualifier, sep, value = expression.partition("=")
        if not sep:
            qualifier, value = "trace", expression
        if qualifier in ("status", "signal", "signals", "s"):
            continue
        if qualifier not in ("trace", "t"):
            raise ValueError(f"unsupported -e qualifier {qualifier!r}")
        negate = value.startswith("!")
        names: set[str] = set()
        for item in value.lstrip("!").split(","):
            if item in ("all", "%all"):
                names |= everything
            elif item == "none":
                continue
            elif item.startswith("%"):
                if item[1:] not in TRACE_CLASSES:
                    raise ValueError(f"invalid system call class {item!r}")
                names |= TRACE_CLASSES[item[1:]]
            elif item:
                if item not in everything:
                    raise ValueError(f"invalid system call {item!r}")
                names.add(item)
        current = set(everything) if selected is None else selected
        selected = (current - names) if negate else (names if selected is None else selected | names)
    return frozenset(selected) if selected is not None else None


def parse_signal_expr(expressions: list[str]) -> frozenset[int] | None:
    """strace's `-e signal=SET` (`SIGUSR1`, `USR1`, `10`, `all`, `none`, `!` negates):
    which signals get a `--- SIG... ---` line, or None for all. The last one wins."""
    everything = frozenset(range(1, abi.NSIG + 1))
    selected: frozenset[int] | None = None
    for expression in expressions:
        qualifier, sep, value = expression.partition("=")
        if qualifier not in ("signal", "signals", "s") or not sep:
            continue
        negate = value.startswith("!")
        chosen: set[int] = set()
        for item in value.lstrip("!").split(","):
            if item == "all":
                chosen |= everything
            elif item == "none":
                continue
            elif item.isdigit() and 1 <= int(item) <= abi.NSIG:
                chosen.add(int(item))
            else:
                name = item.upper() if item.upper().startswith("SIG") else "SIG" + item.upper()
                number = next((n for n in everything if signame(n) == name), None)
                if number is None:
                    raise ValueError(f"invalid signal {item!r}")
                chosen.add(number)
        selected = frozenset(everything - chosen if negate else chosen)
    return selected


def parse_status_expr(expressions: list[str]) -> frozenset[str] | None:
    """strace's `-e status=failed,unfinished` (`!` negates, `all`): which calls to show by
    how they ended, or None for all. The last status= expression wins, as in strace."""
    selected: frozenset[str] | None = None
    for expression in expressions:
        qualifier, sep, value = expression.partition("=")
        if qualifier != "status" or not sep:
            continue
        negate = value.startswith("!")
        names = set()
        for item in value.lstrip("!").split(","):
            if item == "all":
                names |= TRACE_STATUSES
            elif item not in TRACE_STATUSES:
                raise ValueError(f"invalid status {item!r}")
            else:
                names.add(item)
        selected = frozenset(TRACE_STATUSES - names if negate else names)
    return selected
