"""Decoders of event files and POSIX timers (signalfd, timerfd, pidfd, timer_*), the
data-moving calls (sendfile, splice, copy_file_range, fallocate), capabilities and
mlock, openat2 and inotify."""

from __future__ import annotations

import struct

from pykern import abi
from pykern.strace.calls import _clone3_entry, _clone3_exit, _fcntl_args, _flock, _fmt_array, _hex0, _s32
from pykern.strace.files import _epoll_wait_exit, _poll_entry, _select_entry
from pykern.strace.formats import CAP_NAMES, CLOCK_NAMES, flags, octal, open_flags, ptr, quote, signame
from pykern.strace.kinds import SPECIAL, SPLIT_SPECIAL, _lookup, fmt_arg
from pykern.strace.net import (
    _accept4_args,
    _accept_args,
    _bind_args,
    _recvfrom_args,
    _recvmsg_args,
    _sendmsg_args,
    _sendto_args,
)
from pykern.strace.structs import Call, fmt_siginfo, fmt_sigset

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


def _signalfd_args(call: Call, with_flags: bool) -> list[str]:
    fd, mask_addr, size = call.args[:3]
    mask = fmt_sigset(call, mask_addr) if size == abi.SIGSET_SIZE else ptr(mask_addr)
    shown = [str(_s32(fd)), mask, str(size)]
    if with_flags:  # signalfd4
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
    "signalfd4": lambda call: _signalfd_args(call, with_flags=True),
    "signalfd": lambda call: _signalfd_args(call, with_flags=False),
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
SPLIT_SPECIAL.update({
    "clone3": (_clone3_entry, _clone3_exit),
    "poll": (lambda call: _poll_entry(call, ppoll=False), lambda call: ""),
    "ppoll": (lambda call: _poll_entry(call, ppoll=True), lambda call: ""),
    "select": (lambda call: _select_entry(call, pselect=False), lambda call: ""),
    "pselect6": (lambda call: _select_entry(call, pselect=True), lambda call: ""),
    "epoll_wait": (lambda call: f"{_s32(call.args[0])}, ", lambda call: _epoll_wait_exit(call, pwait=0)),
    "epoll_pwait": (lambda call: f"{_s32(call.args[0])}, ", lambda call: _epoll_wait_exit(call, pwait=1)),
    "epoll_pwait2": (lambda call: f"{_s32(call.args[0])}, ", lambda call: _epoll_wait_exit(call, pwait=2)),
})

# Socket calls that may block, printed as strace prints them when another line comes
# first: what goes in at entry (`connect(3, {...}, 16 <unfinished ...>`, `accept(3, `),
# the rest at exit
SPLIT_SPECIAL.update({
    name: (lambda call, args=args: ", ".join(args(call)), lambda call: "")
    for name, args in (("connect", _bind_args), ("sendto", _sendto_args), ("sendmsg", _sendmsg_args))
})
SPLIT_SPECIAL.update({
    name: (lambda call: f"{_s32(call.args[0])}, ", lambda call, args=args: ", ".join(args(call)[1:]))
    for name, args in (("accept", _accept_args), ("accept4", _accept4_args), ("recvfrom", _recvfrom_args),
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
