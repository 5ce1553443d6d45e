"""strace's -e expressions: trace= (names and %classes), signal= and status=."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern import abi
from pykern.strace.formats import signame

if TYPE_CHECKING:
    from pykern.sysent import SyscallEntry

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
