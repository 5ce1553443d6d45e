"""The syscall table: `@syscall(name, kinds...)` registers `sys_<name>` handlers.

Each family module (process, memory, file, ...) registers its handlers at import time;
`build_table()` imports them all and returns a list indexed by syscall number, the form
the trap wants (one list index per call, no lookup by name). `lazy_table()` is the same
list with only the families the program calls: `pykern run`'s start-up imports none, and
the trap's first call of a number in an empty slot imports its family (FAMILY_SYSCALLS)
and fills the slots of every family imported since. A hello world calls 6 of 22 families.
"""

from __future__ import annotations

from collections.abc import Callable

from pykern.abi import SYSCALL_NUMBERS
from pykern.sysent import RET_INT, Kind, SyscallEntry

REGISTRY: dict[str, SyscallEntry] = {}


# Which family module registers each syscall: the lazy table's map from a number to the
# module to import. tests/test_startup.py checks it against what the modules register.
FAMILY_SYSCALLS: dict[str, str] = {
    "process": "clone fork vfork execve exit wait4 setpgid getpgrp setsid getpgid getsid exit_group waitid clone3",
    "memory": ("mmap mprotect munmap brk mremap msync mincore madvise mlock munlock mlockall munlockall "
        "remap_file_pages mlock2"),
    "mempolicy": "mbind set_mempolicy get_mempolicy",
    "file": ("read write close fstat lseek ioctl pread64 pwrite64 readv writev dup dup2 fcntl fsync fdatasync "
        "ftruncate getdents fchmod umask getdents64 dup3 close_range"),
    "path": ("open stat lstat access truncate getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink "
        "readlink chmod mknod chroot openat mkdirat mknodat newfstatat unlinkat renameat linkat symlinkat "
        "readlinkat fchmodat faccessat utimensat renameat2 statx openat2 faccessat2"),
    "pipe": "pipe pipe2",
    "splice": "sendfile splice tee vmsplice fallocate copy_file_range",
    "futex": "futex futex_waitv",
    "identity": ("getpid getrlimit getuid getgid setuid setgid geteuid getegid getppid setreuid setregid getgroups "
        "setgroups setresuid getresuid setresgid getresgid capget capset arch_prctl setrlimit gettid "
        "set_tid_address set_robust_list get_robust_list prlimit64"),
    "time": "sched_yield nanosleep gettimeofday times time clock_gettime clock_getres clock_nanosleep",
    "signal": ("rt_sigaction rt_sigprocmask rt_sigreturn pause kill rt_sigpending rt_sigtimedwait rt_sigqueueinfo "
        "rt_sigsuspend sigaltstack tkill tgkill rt_tgsigqueueinfo"),
    "itimer": "getitimer alarm setitimer",
    "poll": "poll select pselect6 ppoll",
    "epoll": "epoll_create epoll_wait epoll_ctl epoll_pwait eventfd eventfd2 epoll_create1 epoll_pwait2",
    "fsinfo": ("flock chown fchown lchown statfs fstatfs sync setxattr lsetxattr fsetxattr getxattr lgetxattr "
        "fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr fadvise64 fchownat "
        "syncfs memfd_create"),
    "socket": ("socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername "
        "socketpair setsockopt getsockopt accept4 recvmmsg sendmmsg"),
    "resource": ("getrusage personality getpriority setpriority sched_getparam sched_getscheduler "
        "sched_get_priority_max sched_get_priority_min"),
    "misc": "uname sysinfo prctl sched_setaffinity sched_getaffinity getcpu getrandom rseq",
    "eventfiles": ("signalfd timerfd_create timerfd_settime timerfd_gettime signalfd4 pidfd_send_signal pidfd_open "
        "pidfd_getfd"),
    "posix_timer": "timer_create timer_settime timer_gettime timer_getoverrun timer_delete",
    "inotify": "inotify_init inotify_add_watch inotify_rm_watch inotify_init1",
    "ipc": "shmget shmat shmctl semget semop semctl shmdt msgget msgsnd msgrcv msgctl semtimedop",
    "mqueue": "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr",
}
FAMILIES = tuple(FAMILY_SYSCALLS)


def syscall(name: str, *args: Kind, ret: Kind = RET_INT, note: str = "", classes: str = "") -> Callable:
    """Declare `name`'s argument kinds and register the decorated handler for it."""

    def register(handler: Callable[..., int]) -> Callable[..., int]:
        if name in REGISTRY:
            raise RuntimeError(f"syscall {name} registered twice")
        REGISTRY[name] = SyscallEntry(
            SYSCALL_NUMBERS[name], name, handler, args, ret, note, frozenset(classes.split())
        )
        return handler

    return register


def build_table() -> list[SyscallEntry | None]:
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"pykern.syscalls.{family}")
    table: list[SyscallEntry | None] = [None] * (max(SYSCALL_NUMBERS.values()) + 1)
    for entry in REGISTRY.values():
        table[entry.number] = entry
    return table


def lazy_table() -> tuple[list[SyscallEntry | None], Callable[[int], SyscallEntry | None]]:
    """The syscall table with no family imported yet, and the loader the trap calls for a
    number whose slot is empty: it imports that number's family (and so whatever families
    that one imports) and fills the table from the registry; None for a number no family
    serves (ENOSYS)."""
    import importlib

    table: list[SyscallEntry | None] = [None] * (max(SYSCALL_NUMBERS.values()) + 1)
    family_of = {SYSCALL_NUMBERS[name]: family for family, names in FAMILY_SYSCALLS.items() for name in names.split()}
    for entry in REGISTRY.values():  # families some other code imported already
        table[entry.number] = entry

    def load(number: int) -> SyscallEntry | None:
        family = family_of.pop(number, None)
        if family is None:
            return None
        importlib.import_module(f"pykern.syscalls.{family}")
        for entry in REGISTRY.values():
            table[entry.number] = entry
        return table[number]

    return table, load
