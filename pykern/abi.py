"""Guest ABI: x86-64 Linux constants and struct layouts.

Every guest-visible number in pykern comes from here, spelled as in Linux. Never use
Python's `errno`, `signal`, `os` or `stat` constants for guest values: those are the
host's. Syscall numbers and errno tables are generated into `abi_tables`.
"""

from __future__ import annotations

import struct

from pykern.abi_tables import ERRNO_MESSAGES, ERRNO_NAMES, ERRNO_VALUES, SYSCALL_NAMES

SYSCALL_NUMBERS: dict[str, int] = {name: nr for nr, name in SYSCALL_NAMES.items()}

PAGE_SIZE = 4096
OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX = -1000, 1000  # /proc/PID/oom_score_adj
PAGE_MASK = ~(PAGE_SIZE - 1)
INT_MAX = (1 << 31) - 1


def page_down(addr: int) -> int:
    return addr & PAGE_MASK


def page_up(addr: int) -> int:
    return (addr + PAGE_SIZE - 1) & PAGE_MASK


# --- errno -----------------------------------------------------------------------------
globals().update(ERRNO_VALUES)
EPERM = 1
ENOENT = 2
ESRCH = 3
EINTR = 4
EIO = 5
ENXIO = 6
E2BIG = 7
ENOEXEC = 8
EBADF = 9
ECHILD = 10
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EFAULT = 14
EBUSY = 16
EEXIST = 17
EXDEV = 18
ENODEV = 19
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
ENFILE = 23
EMFILE = 24
ENOTTY = 25
ETXTBSY = 26
EFBIG = 27
ENOSPC = 28
ESPIPE = 29
EROFS = 30
EMLINK = 31
EPIPE = 32
EDOM = 33
ERANGE = 34
EDEADLK = 35
ENAMETOOLONG = 36
ENOSYS = 38
ENOTEMPTY = 39
ELOOP = 40
EWOULDBLOCK = EAGAIN
ENODATA = 61
ETIME = 62
EOVERFLOW = 75
ENOTSOCK = 88
EDESTADDRREQ = 89
EMSGSIZE = 90
EPROTOTYPE = 91
ENOPROTOOPT = 92
EPROTONOSUPPORT = 93
ESOCKTNOSUPPORT = 94
EOPNOTSUPP = 95
ENOTSUP = EOPNOTSUPP
EAFNOSUPPORT = 97
EADDRINUSE = 98
ECONNRESET = 104
ENOBUFS = 105
EISCONN = 106
ENOTCONN = 107
ECONNREFUSED = 111
EINPROGRESS = 115
ETIMEDOUT = 110
# Kernel-internal: never reach the guest (signal delivery turns them into EINTR or a restart).
ERESTARTSYS = 512
ERESTARTNOINTR = 513
ERESTARTNOHAND = 514
ERESTART_RESTARTBLOCK = 516


def errno_name(err: int) -> str:
    return ERRNO_NAMES.get(err, f"E?{err}")


def strerror(err: int) -> str:
    return ERRNO_MESSAGES.get(err, f"Unknown error {err}")


# --- signals ---------------------------------------------------------------------------
SIGHUP = 1
SIGINT = 2
SIGQUIT = 3
SIGILL = 4
SIGTRAP = 5
SIGABRT = 6
SIGBUS = 7
SIGFPE = 8
SIGKILL = 9
SIGUSR1 = 10
SIGSEGV = 11
SIGUSR2 = 12
SIGPIPE = 13
SIGALRM = 14
SIGTERM = 15
SIGSTKFLT = 16
SIGCHLD = 17
SIGCONT = 18
SIGSTOP = 19
SIGTSTP = 20
SIGTTIN = 21
SIGTTOU = 22
SIGURG = 23
SIGXCPU = 24
SIGXFSZ = 25
SIGVTALRM = 26
SIGPROF = 27
SIGWINCH = 28
SIGIO = 29
SIGPWR = 30
SIGSYS = 31
SIGRTMIN = 32
NSIG = 64

SIGNAL_NAMES: dict[int, str] = {
    value: name
    for name, value in dict(globals()).items()
    if name.startswith("SIG") and not name.startswith(("SIGRT", "SIGNAL")) and isinstance(value, int)
}


def signal_name(sig: int) -> str:
    if sig in SIGNAL_NAMES:
        return SIGNAL_NAMES[sig]
    if SIGRTMIN <= sig <= NSIG:
        return f"SIGRT_{sig - SIGRTMIN}"
    return str(sig)


# sigaction(2): the handler's special values and sa_flags (asm-generic/signal-defs.h, asm/signal.h)
SIG_DFL = 0
SIG_IGN = 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2  # rt_sigprocmask's how
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_INTERRUPT = 0x20000000  # historical, no effect: strace still names it
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
# struct kernel_sigaction on x86-64: handler, flags, restorer, mask (8 bytes)
KERNEL_SIGACTION = struct.Struct("<QQQQ")
# sigaltstack(2): ss_flags, and the smallest stack it accepts
SS_ONSTACK = 1
SS_DISABLE = 2
SS_AUTODISARM = 1 << 31
MINSIGSTKSZ = 2048
SIGSET_SIZE = 8  # the kernel's sigset_t (64 signals): the sigsetsize the rt_sig* calls accept
SYSCALL_INSN_LEN = 2  # `syscall` (0f 05): a restarted call backs rip up by this much

# si_code values
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_TKILL = -6
SEGV_MAPERR = 1
SEGV_ACCERR = 2
BUS_ADRERR = 2
ILL_ILLOPN = 2
FPE_INTDIV = 1
FPE_FLTDIV = 3
FPE_FLTOVF = 4
FPE_FLTUND = 5
FPE_FLTRES = 6
FPE_FLTINV = 7
TRAP_BRKPT = 1
TRAP_HWBKPT = 4  # a hardware breakpoint or watchpoint (the gdb stub's watchpoints)
CLD_EXITED = 1
CLD_KILLED = 2
CLD_DUMPED = 3
CLD_TRAPPED = 4
CLD_STOPPED = 5
CLD_CONTINUED = 6

# --- open(2), fcntl(2) -----------------------------------------------------------------
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_ACCMODE = 0o3
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_ASYNC = 0o20000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000
O_PATH = 0o10000000
O_TMPFILE = 0o20200000
__O_TMPFILE = 0o20000000  # O_TMPFILE without O_DIRECTORY
# every flag open(2) knows (VALID_OPEN_FLAGS): openat2 rejects any other bit
VALID_OPEN_FLAGS = (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC
                    | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH
                    | __O_TMPFILE)
O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC  # what O_PATH may come with (openat2)

# openat2(2): struct open_how {u64 flags, mode, resolve} and its resolve bits
OPEN_HOW = struct.Struct("<QQQ")
OPEN_HOW_SIZE_VER0 = 24
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20
VALID_RESOLVE_FLAGS = (RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH
                       | RESOLVE_IN_ROOT | RESOLVE_CACHED)
S_IALLUGO = 0o7777

# inotify(7): event bits, watch flags, struct inotify_event {int wd; u32 mask, cookie, len}
IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_MASK_CREATE = 0x10000000
IN_MASK_ADD = 0x20000000
IN_ISDIR = 0x40000000
IN_ONESHOT = 0x80000000
IN_ALL_EVENTS = 0x00000FFF
IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO
ALL_INOTIFY_BITS = (IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ONLYDIR | IN_DONT_FOLLOW
                    | IN_EXCL_UNLINK | IN_MASK_CREATE | IN_MASK_ADD | IN_ISDIR | IN_ONESHOT)
INOTIFY_EVENT = struct.Struct("<iIII")
INOTIFY_MAX_QUEUED_EVENTS = 16384  # /proc/sys/fs/inotify/max_queued_events

# linux/limits.h: a path argument's length with its NUL, one component's length
PATH_MAX = 4096
NAME_MAX = 255

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EACCESS = 0x200
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_SYNC_TYPE = 0x6000

F_DUPFD = 0
F_GETFD = 1
F_SETFD = 2
F_GETFL = 3
F_SETFL = 4
F_GETLK = 5
F_SETLK = 6
F_SETLKW = 7
F_SETOWN = 8
F_GETOWN = 9
F_DUPFD_CLOEXEC = 1030
F_GETPIPE_SZ = 1032
F_SETPIPE_SZ = 1031
PIPE_MAX_SIZE = 1048576  # fs.pipe-max-size's default: the most without CAP_SYS_RESOURCE
F_CREATED_QUERY = 1024 + 4  # F_LINUX_SPECIFIC_BASE + 4 (Linux 6.12)
FD_CLOEXEC = 1

SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2
SEEK_DATA = 3
SEEK_HOLE = 4

R_OK = 4
W_OK = 2
X_OK = 1
F_OK = 0

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISVTX = 0o1000  # the sticky bit: in a directory, only the owners may remove an entry

DT_UNKNOWN = 0
DT_FIFO = 1
DT_CHR = 2
DT_DIR = 4
DT_BLK = 6
DT_REG = 8
DT_LNK = 10
DT_SOCK = 12

# ioctl requests
TCGETS = 0x5401
TCSETS = 0x5402
TCSETSW = 0x5403
TCSETSF = 0x5404
TIOCGPGRP = 0x540F
TIOCSPGRP = 0x5410
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
FIONREAD = 0x541B  # also TIOCINQ
FIONBIO = 0x5421
FIOCLEX = 0x5451
FIONCLEX = 0x5450
TCGETA = 0x5405
TCSETA = 0x5406
TCSETAW = 0x5407
TCSETAF = 0x5408
TCSBRK = 0x5409
TCXONC = 0x540A
TCFLSH = 0x540B
TIOCEXCL = 0x540C
TIOCNXCL = 0x540D
TIOCSCTTY = 0x540E
TIOCOUTQ = 0x5411
TIOCSTI = 0x5412
TIOCPKT = 0x5420
TIOCNOTTY = 0x5422
TIOCSETD = 0x5423
TIOCGETD = 0x5424
TCSBRKP = 0x5425
TIOCSBRK = 0x5427
TIOCCBRK = 0x5428
TIOCGSID = 0x5429
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSIG = 0x40045436
TIOCVHANGUP = 0x5437
TIOCGPKT = 0x80045438
TIOCGPTLCK = 0x80045439
TIOCGEXCL = 0x80045440
TIOCGPTPEER = 0x5441

# termios (asm-generic/termbits.h): the kernel's struct termios is 36 bytes:
# c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[19]
TERMIOS = struct.Struct("<IIIIB19s")
WINSIZE = struct.Struct("<HHHH")  # ws_row, ws_col, ws_xpixel, ws_ypixel
NCCS = 19
VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN, VSWTC = 0, 1, 2, 3, 4, 5, 6, 7
VSTART, VSTOP, VSUSP, VEOL, VREPRINT, VDISCARD, VWERASE, VLNEXT, VEOL2 = 8, 9, 10, 11, 12, 13, 14, 15, 16
# c_iflag
IGNBRK, BRKINT, IGNPAR, PARMRK, INPCK, ISTRIP = 0o1, 0o2, 0o4, 0o10, 0o20, 0o40
INLCR, IGNCR, ICRNL, IUCLC, IXON, IXANY, IXOFF, IMAXBEL, IUTF8 = (
    0o100, 0o200, 0o400, 0o1000, 0o2000, 0o4000, 0o10000, 0o20000, 0o40000)
# c_oflag
OPOST, OLCUC, ONLCR, OCRNL, ONOCR, ONLRET, OFILL, OFDEL = 0o1, 0o2, 0o4, 0o10, 0o20, 0o40, 0o100, 0o200
TABDLY, XTABS = 0o14000, 0o14000
# c_cflag
CBAUD, B38400, CSIZE, CS8, CSTOPB, CREAD, PARENB, PARODD, HUPCL, CLOCAL = (
    0o10017, 0o17, 0o60, 0o60, 0o100, 0o200, 0o400, 0o1000, 0o2000, 0o4000)
CMSPAR, CRTSCTS = 0o10000000000, 0o20000000000
# c_lflag
ISIG, ICANON, XCASE, ECHO, ECHOE, ECHOK, ECHONL, NOFLSH, TOSTOP = (
    0o1, 0o2, 0o4, 0o10, 0o20, 0o40, 0o100, 0o200, 0o400)
ECHOCTL, ECHOPRT, ECHOKE, FLUSHO, PENDIN, IEXTEN, EXTPROC = (
    0o1000, 0o2000, 0o4000, 0o10000, 0o40000, 0o100000, 0o200000)
# tcflush / tcflow arguments
TCIFLUSH, TCOFLUSH, TCIOFLUSH = 0, 1, 2
TCOOFF, TCOON, TCIOFF, TCION = 0, 1, 2, 3
# packet mode status bits (TIOCPKT)
TIOCPKT_DATA, TIOCPKT_FLUSHREAD, TIOCPKT_FLUSHWRITE = 0, 1, 2
TIOCPKT_STOP, TIOCPKT_START, TIOCPKT_NOSTOP, TIOCPKT_DOSTOP = 4, 8, 16, 32
# device numbers: /dev/tty (5, 0), /dev/ptmx (5, 2), the pty slaves (136 + n / 256, n % 256)
TTYAUX_MAJOR = 5
UNIX98_PTY_SLAVE_MAJOR = 136
DEVPTS_SUPER_MAGIC = 0x1CD1

# --- memory ----------------------------------------------------------------------------
PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_32BIT = 0x40
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

# NUMA memory policies (include/uapi/linux/mempolicy.h)
MPOL_DEFAULT = 0
MPOL_PREFERRED = 1
MPOL_BIND = 2
MPOL_INTERLEAVE = 3
MPOL_LOCAL = 4
MPOL_PREFERRED_MANY = 5
MPOL_WEIGHTED_INTERLEAVE = 6
MPOL_MAX = 7
MPOL_F_NUMA_BALANCING = 1 << 13  # mode flags, or'ed into the mode
MPOL_F_RELATIVE_NODES = 1 << 14
MPOL_F_STATIC_NODES = 1 << 15
MPOL_MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING
MPOL_F_NODE = 1 << 0  # get_mempolicy's flags
MPOL_F_ADDR = 1 << 1
MPOL_F_MEMS_ALLOWED = 1 << 2
MPOL_MF_STRICT = 1 << 0  # mbind's flags
MPOL_MF_MOVE = 1 << 1
MPOL_MF_MOVE_ALL = 1 << 2
MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL

# arch/x86/include/asm/page_64_types.h TASK_SIZE_MAX with 4-level paging: the highest
# user address + 1 (one guard page below the canonical hole).
TASK_SIZE = (1 << 47) - PAGE_SIZE

MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_REMOVE = 9
MADV_DONTFORK = 10
MADV_DOFORK = 11
MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17

# --- processes -------------------------------------------------------------------------
MAX_ARG_STRLEN = 32 * PAGE_SIZE  # include/uapi/linux/binfmts.h: one argv/envp string, NUL included
MAX_ARG_STRINGS = 0x7FFFFFFF  # binfmts.h: the most argv or envp strings
MAX_RW_COUNT = INT_MAX & PAGE_MASK  # the most one read/write-like call moves
NR_OPEN = 1 << 20  # fs.nr_open's default: RLIMIT_NOFILE's hard limit may not exceed it
NGROUPS_MAX = 65536  # linux/limits.h: the most supplementary groups
TASK_COMM_LEN = 16  # a thread's name (comm) with its NUL
USER_HZ = 100  # clock_t ticks (times(2), AT_CLKTCK, /proc/PID/stat)
CSIGNAL = 0x000000FF
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_DETACHED = 0x00400000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_IO = 0x80000000

WNOHANG = 0x00000001
WUNTRACED = 0x00000002
WSTOPPED = WUNTRACED
WEXITED = 0x00000004
WCONTINUED = 0x00000008
WNOWAIT = 0x01000000
__WNOTHREAD = 0x20000000
__WALL = 0x40000000
__WCLONE = 0x80000000

P_ALL = 0
P_PID = 1
P_PGID = 2
P_PIDFD = 3

ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004
ARCH_GET_CPUID = 0x1011
ARCH_SET_CPUID = 0x1012

RLIMIT_CPU = 0
RLIMIT_FSIZE = 1
RLIMIT_DATA = 2
RLIMIT_STACK = 3
RLIMIT_CORE = 4
RLIMIT_RSS = 5
RLIMIT_NPROC = 6
RLIMIT_NOFILE = 7
RLIMIT_MEMLOCK = 8
RLIMIT_AS = 9
RLIMIT_LOCKS = 10
RLIMIT_SIGPENDING = 11
RLIMIT_MSGQUEUE = 12
RLIMIT_NICE = 13
RLIMIT_RTPRIO = 14
RLIMIT_RTTIME = 15
RLIM_NLIMITS = 16
RLIM_INFINITY = (1 << 64) - 1

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3
CLOCK_MONOTONIC_RAW = 4
CLOCK_REALTIME_COARSE = 5
CLOCK_MONOTONIC_COARSE = 6
CLOCK_BOOTTIME = 7
TIMER_ABSTIME = 1
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
CLOCK_TAI = 11

# signalfd, timerfd, pidfd and POSIX timer flags (linux/signalfd.h, timerfd.h, pidfd.h, asm-generic/siginfo.h)
SFD_CLOEXEC = 0o2000000
SFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_NONBLOCK = 0o4000
TFD_TIMER_ABSTIME = 1
TFD_TIMER_CANCEL_ON_SET = 2
PIDFD_NONBLOCK = 0o4000
PIDFD_THREAD = 0o200  # O_EXCL
SIGEV_SIGNAL = 0
SIGEV_NONE = 1
SIGEV_THREAD = 2
SIGEV_THREAD_ID = 4

# futex(2) (linux/futex.h)
FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_FD = 2
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAKE_OP = 5
FUTEX_LOCK_PI = 6
FUTEX_UNLOCK_PI = 7
FUTEX_TRYLOCK_PI = 8
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_WAIT_REQUEUE_PI = 11
FUTEX_CMP_REQUEUE_PI = 12
FUTEX_LOCK_PI2 = 13
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
FUTEX_WAITERS = 0x80000000  # the futex word of a PI or robust lock: TID | these bits
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
FUTEX_OP_OPARG_SHIFT = 8  # (in the op field of FUTEX_WAKE_OP's val3)
FUTEX_32 = 2  # futex_waitv's per-futex size flag
FUTEX_WAITV_MAX = 128
FUTEX_WAITV_SIZE = 24  # struct futex_waitv: u64 val, u64 uaddr, u32 flags, u32 __reserved
ROBUST_LIST_HEAD_SIZE = 24  # struct robust_list_head: next, futex_offset, list_op_pending
ROBUST_LIST_LIMIT = 2048  # exit_robust_list stops after this many entries (a circular list)

GRND_NONBLOCK = 1
GRND_RANDOM = 2
GRND_INSECURE = 4

# --- auxiliary vector (x86-64 psABI 3.4.3, linux/auxvec.h) ------------------------------
AT_NULL = 0
AT_IGNORE = 1
AT_EXECFD = 2
AT_PHDR = 3
AT_PHENT = 4
AT_PHNUM = 5
AT_PAGESZ = 6
AT_BASE = 7
AT_FLAGS = 8
AT_ENTRY = 9
AT_NOTELF = 10
AT_UID = 11
AT_EUID = 12
AT_GID = 13
AT_EGID = 14
AT_PLATFORM = 15
AT_HWCAP = 16
AT_CLKTCK = 17
AT_SECURE = 23
AT_BASE_PLATFORM = 24
AT_RANDOM = 25
AT_HWCAP2 = 26
AT_EXECFN = 31
AT_SYSINFO_EHDR = 33
AT_MINSIGSTKSZ = 51

# --- splice, record locks, capabilities, mlock ------------------------------------------
# splice(2), tee(2), vmsplice(2) flags (include/linux/splice.h)
SPLICE_F_MOVE = 0x01
SPLICE_F_NONBLOCK = 0x02
SPLICE_F_MORE = 0x04
SPLICE_F_GIFT = 0x08
SPLICE_F_ALL = 0x0F
UIO_MAXIOV = 1024
# fallocate(2) modes (include/uapi/linux/falloc.h)
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_NO_HIDE_STALE = 0x04
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
FALLOC_FL_UNSHARE_RANGE = 0x40
# fcntl(2) record locks (include/uapi/asm-generic/fcntl.h)
F_OFD_GETLK = 36
F_OFD_SETLK = 37
F_OFD_SETLKW = 38
F_RDLCK = 0
F_WRLCK = 1
F_UNLCK = 2
FLOCK = struct.Struct("<hh4xqqi4x")  # struct flock: l_type, l_whence, (pad), l_start, l_len, l_pid
OFFSET_MAX = (1 << 63) - 1  # the largest loff_t
# capget(2)/capset(2) (include/uapi/linux/capability.h)
LINUX_CAPABILITY_VERSION_1 = 0x19980330
LINUX_CAPABILITY_VERSION_2 = 0x20071026
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST_CAP = 40  # CAP_CHECKPOINT_RESTORE
CAP_SETGID = 6
CAP_SETUID = 7
CAP_SYS_ADMIN = 21
CAP_NET_BIND_SERVICE = 10
CAP_NET_RAW = 13
CAP_SETPCAP = 8
CAP_IPC_LOCK = 14
CAP_MKNOD = 27
CAP_SYS_RESOURCE = 24
CAP_SYS_NICE = 23
CAP_HEADER = struct.Struct("<Ii")  # cap_user_header_t: version, pid
CAP_DATA = struct.Struct("<III")  # cap_user_data_t: effective, permitted, inheritable
# prctl(2) options about privileges (include/uapi/linux/prctl.h)
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
# mlockall(2), mlock2(2) (include/uapi/asm-generic/mman-common.h)
MCL_CURRENT = 1
MCL_FUTURE = 2
MCL_ONFAULT = 4
MLOCK_ONFAULT = 1

# --- struct layouts --------------------------------------------------------------------
TIMESPEC = struct.Struct("<qq")  # struct timespec: tv_sec, tv_nsec
NSEC_PER_SEC = 1_000_000_000  # tv_nsec is below this

# poll(2) events (include/uapi/asm-generic/poll.h)
POLLIN = 0x0001
POLLPRI = 0x0002
POLLOUT = 0x0004
POLLERR = 0x0008
POLLHUP = 0x0010
POLLNVAL = 0x0020
POLLRDNORM = 0x0040
POLLRDBAND = 0x0080
POLLWRNORM = 0x0100
POLLWRBAND = 0x0200
POLLRDHUP = 0x2000

# --- sockets --------------------------------------------------------------------------------
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
SOCK_TYPE_MASK = 0xF
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000  # O_NONBLOCK, O_CLOEXEC
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
SOL_SOCKET = 1
SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_PASSCRED = 3, 4, 7, 8, 16
SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN = 30, 38, 39
SO_PEERCRED = 17
SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW = 20, 21, 66, 67
AF_UNSPEC = 0
SOMAXCONN = 4096  # net.core.somaxconn
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SCM_MAX_FD = 253  # descriptors one sendmsg may pass
MSG_CTRUNC = 0x8
CMSGHDR = struct.Struct("<Qii")  # struct cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type
UCRED = struct.Struct("<iII")  # struct ucred: pid, uid, gid
SOCKADDR_UN_SIZE = 110  # sizeof(struct sockaddr_un): sun_family + sun_path[108]
MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, MSG_EOR, MSG_WAITALL, MSG_NOSIGNAL, MSG_CMSG_CLOEXEC = (
    0x2, 0x20, 0x40, 0x80, 0x100, 0x4000, 0x40000000)
MSG_OOB, MSG_ERRQUEUE, MSG_WAITFORONE = 0x1, 0x2000, 0x10000
# struct msghdr (x86-64): name, namelen, (pad), iov, iovlen, control, controllen, flags, (pad)
MSGHDR = struct.Struct("<QI4xQQQQi4x")
DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM  # a file that cannot block
TIMEVAL = struct.Struct("<qq")  # struct timeval: tv_sec, tv_usec
ITIMERSPEC = struct.Struct("<qqqq")  # it_interval {tv_sec, tv_nsec}, it_value {tv_sec, tv_nsec}
SIGEVENT = struct.Struct("<QiiI44x")  # sigev_value, sigev_signo, sigev_notify, sigev_notify_thread_id: 64 bytes
ITIMERVAL = struct.Struct("<qqqq")  # it_interval {tv_sec, tv_usec}, it_value {tv_sec, tv_usec}
TMS = struct.Struct("<qqqq")  # struct tms: utime, stime, cutime, cstime in clock_t
STACK_T = struct.Struct("<Qi4xQ")  # stack_t: ss_sp, ss_flags, (pad), ss_size
# struct sigcontext: r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags; cs, gs,
# fs, ss (u16 each); err, trapno, oldmask, cr2, the fpstate pointer; 8 reserved words: 256 bytes
SIGCONTEXT = struct.Struct("<18Q4H5Q64x")
# struct ucontext: uc_flags, uc_link, uc_stack (stack_t), uc_mcontext (sigcontext), uc_sigmask
UCONTEXT_HEAD = struct.Struct("<QQ")  # uc_flags, uc_link
UC_SIGMASK_OFFSET = UCONTEXT_HEAD.size + STACK_T.size + SIGCONTEXT.size
UCONTEXT_SIZE = UC_SIGMASK_OFFSET + 8  # 304
POLLFD = struct.Struct("<ihh")  # struct pollfd: fd, events, revents
EPOLL_EVENT = struct.Struct("<IQ")  # struct epoll_event is packed on x86-64: 12 bytes
SIGSET_ARG = struct.Struct("<QQ")  # pselect6's last argument: {const sigset_t *ss; size_t ss_len}
RLIMIT = struct.Struct("<QQ")  # struct rlimit: rlim_cur, rlim_max
IOVEC = struct.Struct("<QQ")  # struct iovec: iov_base, iov_len
# struct stat (x86-64): dev, ino, nlink, mode, uid, gid, pad, rdev, size, blksize, blocks,
# atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns, 3 reserved -> 144 bytes
STAT = struct.Struct("<QQQIIIiQqqqqqqqqq24x")
assert STAT.size == 144
# struct statx: 256 bytes
STATX_HEAD = struct.Struct("<IIQIIIHxxQQQQ")  # mask blksize attributes nlink uid gid mode ino size blocks attributes_mask
STATX_TS = struct.Struct("<qIi")  # tv_sec, tv_nsec, reserved
STATX_SIZE = 256
STATX_BASIC_STATS = 0x7FF
STATX_MNT_ID = 0x1000
STATX__RESERVED = 0x80000000  # a mask bit statx refuses (EINVAL)
# struct statfs (x86-64): type bsize blocks bfree bavail files ffree fsid[2] namelen frsize
# flags spare[4] -> 120 bytes
STATFS = struct.Struct("<7q2i3q4q")
PIPEFS_MAGIC = 0x50495045
ST_VALID = 0x20
# struct sysinfo (x86-64): 112 bytes
SYSINFO = struct.Struct("<q3Q6QH6xQQI4x")
# struct utsname: six 65-byte fields
UTSNAME_FIELD = 65
# struct rusage: two timevals then 14 longs -> 144 bytes
RUSAGE_SIZE = 144
# siginfo_t is always 128 bytes: a head, then a union at SIGINFO_UNION_OFFSET whose part
# the signal and si_code choose (asm-generic/siginfo.h)
SIGINFO_SIZE = 128
SIGINFO_HEAD = struct.Struct("<iii4x")  # si_signo, si_errno, si_code, (pad)
SIGINFO_UNION_OFFSET = SIGINFO_HEAD.size
SIGINFO_KILL = struct.Struct("<iIQ")  # kill, tkill, sigqueue: si_pid, si_uid, si_value
SIGINFO_TIMER = struct.Struct("<iiQ")  # POSIX timers: si_tid (the timer id), si_overrun, si_value
SIGINFO_CHLD = struct.Struct("<iIi4xqq")  # SIGCHLD: si_pid, si_uid, si_status, si_utime, si_stime
SIGINFO_FAULT = struct.Struct("<Q")  # SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: si_addr
# struct linux_dirent64 header: d_ino, d_off, d_reclen, d_type
DIRENT64_HEAD = struct.Struct("<QqHB")
# struct linux_dirent (getdents(2)): d_ino, d_off, d_reclen, then the name; d_type is the
# record's last byte
DIRENT_HEAD = struct.Struct("<QqH")

# --- System V IPC and POSIX message queues (include/uapi/linux/{ipc,shm,sem,msg,mqueue}.h) ---
ENOMSG = 42
EIDRM = 43
EBADMSG = 74
CAP_IPC_OWNER = 15
IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
IPC_64 = 0x100
# shm
SHM_RDONLY = 0o10000
SHM_RND = 0o20000
SHM_REMAP = 0o40000
SHM_EXEC = 0o100000
SHM_HUGETLB = 0o4000
SHM_NORESERVE = 0o10000
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
SHM_DEST = 0o1000  # shm_perm.mode: marked for removal
SHM_LOCKED = 0o2000  # shm_perm.mode: SHM_LOCK'ed
SHMMIN = 1
SHMMNI = 4096
SHMMAX = (1 << 64) - 1 - (1 << 24)  # ULONG_MAX - 2^24
SHMALL = SHMMAX  # in pages
SHMLBA = PAGE_SIZE
# sem
SEM_UNDO = 0x1000
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20
SEMMNI = 32000
SEMMSL = 32000
SEMMNS = SEMMNI * SEMMSL
SEMOPM = 500
SEMVMX = 32767
SEMAEM = SEMVMX
SEMUME = SEMOPM
SEMMNU = SEMMNS
SEMMAP = SEMMNS
SEMUSZ = 20
# msg
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
MSG_NOERROR = 0o10000
MSG_EXCEPT = 0o20000
MSG_COPY = 0o40000
MSGMNI = 32000
MSGMAX = 8192
MSGMNB = 16384
MSGPOOL = MSGMNI * MSGMNB // 1024
MSGTQL = MSGMNB
MSGMAP = MSGMNB
MSGSSZ = 16
MSGSEG = 0xFFFF
# struct ipc64_perm: key uid gid cuid cgid mode seq (x86-64: 48 bytes)
IPC64_PERM = struct.Struct("<iIIIIIH2x4xQQ")
SHMID64_DS = struct.Struct("<48sQqqqiiQQQ")  # perm segsz atime dtime ctime cpid lpid nattch: 112
SHMINFO64 = struct.Struct("<9Q")  # shmmax shmmin shmmni shmseg shmall, 4 unused
SHM_INFO_STRUCT = struct.Struct("<i4x5Q")  # used_ids shm_tot shm_rss shm_swp swap_attempts swap_successes
SEMID64_DS = struct.Struct("<48sqQqQQQQ")  # perm otime - ctime - nsems - -: 104
SEMINFO = struct.Struct("<10i")
SEMBUF = struct.Struct("<Hhh")  # sem_num sem_op sem_flg
MSQID64_DS = struct.Struct("<48sqqqQQQiiQQ")  # perm stime rtime ctime cbytes qnum qbytes lspid lrpid: 120
MSGINFO = struct.Struct("<7iH2x")
# POSIX message queues
MQ_ATTR = struct.Struct("<4q32x")  # mq_flags mq_maxmsg mq_msgsize mq_curmsgs: 64 bytes
MQ_PRIO_MAX = 32768
DFLT_QUEUESMAX = 256
DFLT_MSGMAX = 10
DFLT_MSG = 10
HARD_MSGMAX = 65536
DFLT_MSGSIZEMAX = 8192
DFLT_MSGSIZE = 8192
HARD_MSGSIZEMAX = 16 * 1024 * 1024
MQUEUE_MAGIC = 0x19800202
NOTIFY_NONE, NOTIFY_WOKENUP, NOTIFY_REMOVED = 0, 1, 2
NOTIFY_COOKIE_LEN = 32  # mq_notify SIGEV_THREAD: glibc's cookie, sent back on its netlink socket
SI_MESGQ = -3
