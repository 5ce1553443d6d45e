"""strace's own decoders for calls whose argument meaning depends on another argument:
clone, fcntl, futex, ioctl, arch_prctl, ids, signals, itimers, waitid, clone3, affinity,
time, utimensat, renameat2, mknod, prctl."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from pykern import abi
from pykern.abi import FUTEX_PRIVATE_FLAG
from pykern.strace.formats import (
    CLOCK_NAMES,
    CLONE_BITS,
    FCNTL_LOCK_CMDS,
    FCNTL_NO_ARG,
    FLOCK_TYPE_NAMES,
    IOCTL_NAMES,
    S_IFMT_NAMES,
    TERMIOS_HEAD,
    WHENCE_NAMES,
    _clock_t,
    _uid,
    cap_name,
    clone_flags,
    flags,
    futex_op,
    makedev,
    octal,
    open_flags,
    ptr,
    quote,
    signame,
    sigset,
    termios,
    winsize,
)
from pykern.strace.kinds import RETURNS, SPECIAL, SPLIT_SPECIAL, _dirfd, _lookup, fmt_arg
from pykern.strace.structs import Call, _timeval_at, fmt_path, fmt_siginfo, fmt_stack_t, fmt_timespec
from pykern.uc_const import UC_X86_REG_RSP as X86_REG_RSP

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


def _sigreturn_mask(call: Call) -> str:
    """`{mask=[...]}`: the signal mask rt_sigreturn is about to restore."""
    try:
        rsp = call.task.reg(X86_REG_RSP)
    except Exception:  # a task without registers (tests): nothing to show
        return ""
    data = call.read(rsp + abi.UC_SIGMASK_OFFSET, 8)  # rt_sigreturn's rsp: the ucontext
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


def _sigaltstack_args(call: Call) -> list[str]:
    return [fmt_stack_t(call, call.args[0], False), fmt_stack_t(call, call.args[1], True)]


def _sigqueueinfo_args(call: Call, nargs: int = 3) -> list[str]:
    """rt_sigqueueinfo(tgid, sig, info), rt_tgsigqueueinfo(tgid, tid, sig, info)."""
    *ids, info_addr = call.args[:nargs]
    shown = [str(_s32(v)) for v in ids[:-1]] + [signame(_s32(ids[-1]))]
    return shown + [fmt_siginfo(call, info_addr, out=False)]


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


ITIMER_NAMES = {0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}


def fmt_itimerval(call: Call, value: int, out: bool) -> str:
    if value == 0:
        return "NULL"
    if out and (call.result is None or call.failed):
        return ptr(value)
    interval, current = _timeval_at(call, value), _timeval_at(call, value + 16)
    if interval is None or current is None:
        return hex(value)
    return f"{{it_interval={interval}, it_value={current}}}"


def _itimer_args(call: Call, setting: bool) -> list[str]:
    which = _lookup(ITIMER_NAMES, call.args[0] & 0xFFFFFFFF, "ITIMER_???")
    if not setting:
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


def _affinity_args(call: Call, getting: bool) -> list[str]:
    pid, size, addr = call.args[:3]
    size &= 0xFFFFFFFF
    if getting:
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
SPECIAL.update({
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
    "rt_tgsigqueueinfo": lambda call: _sigqueueinfo_args(call, 4),
    "getitimer": lambda call: _itimer_args(call, setting=False),
    "setitimer": lambda call: _itimer_args(call, setting=True),
    "waitid": _waitid_args,
    "sched_getaffinity": lambda call: _affinity_args(call, getting=True),
    "sched_setaffinity": lambda call: _affinity_args(call, getting=False),
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
})


def _fcntl_return(call: Call) -> str | None:
    cmd, result = call.args[1], call.result
    if cmd == abi.F_GETFL:
        return f"{_hex0(result)} (flags {open_flags(result)})"
    if cmd == abi.F_GETFD:
        return f"{result:#x} (flags {flags(result, [(abi.FD_CLOEXEC, 'FD_CLOEXEC')])})" if result else "0"
    return None


# rt_sigreturn shows the mask it is about to restore, at entry (nothing at exit)
SPLIT_SPECIAL["rt_sigreturn"] = (_sigreturn_mask, lambda call: "")

# Results strace decodes (after errors, which format_return shows itself)
RETURNS.update({
    "time": lambda call: f"{call.result} ({_utc(call.result)})",
    "fcntl": _fcntl_return,
    "umask": lambda call: octal(call.result),
    "prctl": lambda call: f"{call.result} ({DUMPABLE_NAMES[call.result]})"
    if call.args[0] & 0xFFFFFFFF == 3 and call.result in DUMPABLE_NAMES else None,
})
