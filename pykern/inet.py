"""AF_INET and AF_INET6 sockets (TCP, UDP, ICMP and raw) through host sockets.

The guest's socket is a host socket of the same family, type and protocol, so a guest
talks to real servers and to other guest processes on loopback, and the host kernel, which
is Linux on x86-64 as the guest expects, does the protocol work: it checks addresses and
option values and answers with the errno the guest's Linux would. Addresses, option
values and control messages cross as the guest's bytes (the layouts are the host's), by
raw calls through libc (`_host`), and host errnos are translated by name.

- The host socket is always non-blocking; what the guest sees is its own O_NONBLOCK.
  A call that would block on the host sleeps in pykern's scheduler on the host fd
  (Block(host_fds=...)) and is retried from the top when the fd is ready, so other guest
  tasks keep running and pykern never blocks on one guest's socket. SO_RCVTIMEO and
  SO_SNDTIMEO bound that sleep (then EAGAIN; EINPROGRESS for connect), as
  sock_rcvtimeo/sock_sndtimeo do.
- A blocking connect is the host's non-blocking connect (EINPROGRESS), a sleep until the
  fd is writable, and the host's connect again, which reports the outcome (0 once
  connected, the error otherwise: __inet_stream_connect's second call).
- A blocking stream send of more than the host takes at once goes in as room appears,
  with the bytes already sent in the task's restart_block (a signal then returns the
  count, as Linux's sk_stream_wait_memory does); MSG_WAITALL receives likewise.
- Sends always carry MSG_NOSIGNAL to the host: EPIPE raises SIGPIPE in the guest, unless
  the guest passed MSG_NOSIGNAL.
- epoll's edge-triggered mode learns of a new edge from `drained`, woken when the socket
  is seen ready again after a call found it not ready (an edge-triggered user reads or
  writes until EAGAIN).
- Options holding guest pointers or guest descriptors (socket filters, BPF programs)
  cannot be given to the host: EOPNOTSUPP, with a warning.
"""

from __future__ import annotations

import ctypes
import os
import select
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import (
    AF_INET,
    AF_INET6,
    CAP_NET_BIND_SERVICE,
    CAP_NET_RAW,
    EACCES,
    EAGAIN,
    EALREADY,
    EINPROGRESS,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    FIONREAD,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    MSG_NOSIGNAL,
    MSG_PEEK,
    MSG_TRUNC,
    MSG_WAITALL,
    NSEC_PER_SEC,
    O_NONBLOCK,
    POLLIN,
    POLLOUT,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRNORM,
    SO_RCVTIMEO_NEW,
    SO_RCVTIMEO_OLD,
    SO_SNDTIMEO_NEW,
    SO_SNDTIMEO_OLD,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    SOL_SOCKET,
    TIMEVAL,
    TIOCOUTQ,
)
from pykern.errors import Block, Fault, Restart, SysError, ends_with
from pykern.fs.hostio import guest_errno
from pykern.net import Delivery, Received, Socket
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.task import Task

IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_UDPLITE = 6, 17, 1, 58, 136
# inet_create's inetsw: the protocols each type has (None: any, as SOCK_RAW's IPPROTO_IP entry)
INET_PROTOCOLS = {SOCK_STREAM: (IPPROTO_TCP,), SOCK_DGRAM: (IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_UDPLITE),
                  SOCK_RAW: None}
INET6_PROTOCOLS = {SOCK_STREAM: (IPPROTO_TCP,), SOCK_DGRAM: (IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_UDPLITE),
                   SOCK_RAW: None}
ADDRESS_SIZES = {AF_INET: 16, AF_INET6: 24}  # sizeof(sockaddr_in), SIN6_LEN_RFC2133
PROT_SOCK = 1024  # ports below it need CAP_NET_BIND_SERVICE
SOCKADDR_MAX = 128
RECV_CHUNK = 1 << 20  # the most one host receive takes (a datagram is at most 64 KiB)
OPTION_MAX = 1 << 16  # the longest option value passed to the host
# SOL_SOCKET options whose values the host cannot take from us: a struct sock_fprog
# (a pointer into guest memory) or a BPF program's descriptor (a guest fd)
FOREIGN_OPTIONS = {26: "SO_ATTACH_FILTER", 50: "SO_ATTACH_BPF", 51: "SO_ATTACH_REUSEPORT_CBPF",
                   52: "SO_ATTACH_REUSEPORT_EBPF"}
RCVTIMEO = (SO_RCVTIMEO_OLD, SO_RCVTIMEO_NEW)
SNDTIMEO = (SO_SNDTIMEO_OLD, SO_SNDTIMEO_NEW)
# ioctls answered by the host with an int: SIOCINQ (FIONREAD), SIOCOUTQ, SIOCATMARK, SIOCOUTQNSD
INT_IOCTLS = (FIONREAD, TIOCOUTQ, 0x8905, 0x894B)
STAMP_IOCTLS = (0x8906, 0x8907)  # SIOCGSTAMP, SIOCGSTAMPNS: the last packet's time, 16 bytes


# --- raw host calls ---------------------------------------------------------------------------

class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_SIGNATURES = {
    "socket": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "bind": (ctypes.c_int, [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]),
    "connect": (ctypes.c_int, [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]),
    "listen": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
    "accept4": (ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]),
    "getsockname": (ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
    "getpeername": (ctypes.c_int, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
    "getsockopt": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]),
    "setsockopt": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]),
    "shutdown": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
    "sendmsg": (ctypes.c_ssize_t, [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]),
    "recvmsg": (ctypes.c_ssize_t, [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]),
    "ioctl": (ctypes.c_int, [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]),
}
for _name, (_restype, _argtypes) in _SIGNATURES.items():
    getattr(_libc, _name).restype = _restype
    getattr(_libc, _name).argtypes = _argtypes


class HostErrno(Exception):
    """A host socket call failed with the guest errno `errno`."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


def _host(name: str, *args: object) -> int:
    result = getattr(_libc, name)(*args)
    if result < 0:
        raise HostErrno(guest_errno(ctypes.get_errno()))
    return result


def _host_name(name: str, fd: int) -> bytes:
    """getsockname/getpeername/...: the address the host writes."""
    buf = ctypes.create_string_buffer(SOCKADDR_MAX)
    length = ctypes.c_uint32(SOCKADDR_MAX)
    _host(name, fd, buf, ctypes.byref(length))
    return buf.raw[:min(length.value, SOCKADDR_MAX)]


# --- creating -------------------------------------------------------------------------------


def _capable(task: Task, capability: int) -> bool:
    return bool(task.group.creds.cap_effective >> capability & 1)


def check_create(task: Task, domain: int, sock_type: int, protocol: int) -> None:
    """inet_create's type and protocol lookup (inet6_create's likewise): ESOCKTNOSUPPORT
    for a type with no entry, EPROTONOSUPPORT for a protocol the type lacks (SOCK_RAW
    needs one), EPERM for SOCK_RAW without CAP_NET_RAW."""
    table = INET_PROTOCOLS if domain == AF_INET else INET6_PROTOCOLS
    if sock_type not in table:
        raise SysError(ESOCKTNOSUPPORT)
    protocols = table[sock_type]
    if protocols is None:
        if protocol == 0:
            raise SysError(EPROTONOSUPPORT)
        if not _capable(task, CAP_NET_RAW):
            raise SysError(EPERM)
    elif protocol != 0 and protocol not in protocols:
        raise SysError(EPROTONOSUPPORT)


class InetSocket(Socket):
    """A guest's AF_INET/AF_INET6 socket: the host socket `host_fd` (non-blocking, owned)."""

    def __init__(self, family: int, sock_type: int, protocol: int, host_fd: int, flags: int) -> None:
        super().__init__(sock_type, flags, protocol)
        self.family = family
        self.host_fd = host_fd
        self.rcvtimeo = 0  # SO_RCVTIMEO in ns (0: none), kept to bound the scheduler's sleep
        self.sndtimeo = 0
        # epoll's edge-triggered mode cannot see the host's wakeups: a call that finds
        # the host socket not ready notes the direction (`edges`), and the next poll that
        # finds it ready again wakes `drained`, which epoll counts as a new edge
        self.drained = WaitQueue("inet")
        self.edges = 0

    @classmethod
    def create(cls, family: int, sock_type: int, protocol: int, flags: int) -> InetSocket:
        try:
            fd = _host("socket", family, sock_type | os.O_NONBLOCK | os.O_CLOEXEC, protocol)
        except HostErrno as error:
            raise SysError(error.errno) from None
        return cls(family, sock_type, protocol, fd, flags)

    def release(self) -> None:
        os.close(self.host_fd)

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, task: Task, mode: str, flags: int, timeout_ns: int, timed_out: int = EAGAIN,
              on_signal: Callable[[Task], int] | None = None) -> Block:
        """The host would block: EAGAIN for a non-blocking call, else a sleep on the host
        fd, bounded by the socket's timeout (then `timed_out`; a signal then ends the
        call with EINTR, as sock_intr_errno does for a timed wait, unless `on_signal`
        gives the call's own answer: what it sent or received so far)."""
        self.edges |= POLLIN | POLLRDNORM if mode == "r" else POLLOUT | POLLWRNORM
        if self.nonblocking or flags & MSG_DONTWAIT:
            raise SysError(EAGAIN)
        deadline = None
        if timeout_ns:
            now = task.kernel.clock.monotonic_ns()
            block = task.restart_state()
            if block.inet_deadline is None:
                block.inet_deadline = now + timeout_ns
            deadline = block.inet_deadline
            if now >= deadline:
                raise SysError(timed_out)
        return Block(host_fds=((self.host_fd, mode),),
                     deadline=None if deadline is None else deadline / NSEC_PER_SEC,
                     restart=Restart.EINTR if timeout_ns else Restart.ERESTARTSYS, on_signal=on_signal)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """The host's readiness (its bits are Linux's, as the guest's); sleep on the fd."""
        poller = select.poll()
        poller.register(self.host_fd, select.POLLIN | select.POLLOUT | select.POLLRDHUP | select.POLLPRI)
        try:
            ready = poller.poll(0)
        except OSError:
            ready = []
        mask = ready[0][1] if ready else 0
        if mask & self.edges:
            self.edges = 0
            self.drained.wake_all()
        waits = []
        if events & (POLLIN | POLLRDNORM | POLLRDHUP) or not events & (POLLOUT | POLLWRNORM):
            waits.append((self.host_fd, "r"))
        if events & (POLLOUT | POLLWRNORM):
            waits.append((self.host_fd, "w"))
        return mask, (self.drained,), tuple(waits)

    # --- names and connections ---------------------------------------------------------------

    def _check_port(self, task: Task, address: bytes) -> None:
        """inet_bind's privileged ports: below 1024 only with CAP_NET_BIND_SERVICE (pykern's
        host process may be allowed what the guest is not)."""
        if len(address) < ADDRESS_SIZES[self.family] or int.from_bytes(address[:2], "little") != self.family:
            return  # the host's checks give EINVAL or EAFNOSUPPORT
        port = int.from_bytes(address[2:4], "big")
        if 0 < port < PROT_SOCK and not _capable(task, CAP_NET_BIND_SERVICE):
            raise SysError(EACCES)

    def bind(self, task: Task, address: bytes) -> None:
        self._check_port(task, address)
        try:
            _host("bind", self.host_fd, address, len(address))
        except HostErrno as error:
            raise SysError(error.errno) from None

    def listen(self, task: Task, backlog: int) -> None:
        try:
            _host("listen", self.host_fd, backlog)
        except HostErrno as error:
            raise SysError(error.errno) from None

    def connect(self, task: Task, address: bytes) -> None:
        """A blocking connect sleeps until the host's handshake ends, then asks again."""
        retry = task.restart_block is not None and task.restart_block.inet_connecting
        try:
            _host("connect", self.host_fd, address, len(address))
        except HostErrno as error:
            if error.errno in (EINPROGRESS, EALREADY) and (retry or error.errno == EINPROGRESS):
                if self.nonblocking:
                    raise SysError(error.errno) from None
                task.restart_state().inet_connecting = True
                raise self._wait(task, "w", 0, self.sndtimeo, EINPROGRESS) from None
            raise SysError(error.errno) from None

    def accept(self, task: Task, flags: int) -> tuple[Socket, bytes]:
        buf = ctypes.create_string_buffer(SOCKADDR_MAX)
        length = ctypes.c_uint32(SOCKADDR_MAX)
        try:
            fd = _host("accept4", self.host_fd, buf, ctypes.byref(length), os.O_NONBLOCK | os.O_CLOEXEC)
        except HostErrno as error:
            if error.errno == EAGAIN:
                raise self._wait(task, "r", 0, self.rcvtimeo) from None
            raise SysError(error.errno) from None
        new = InetSocket(self.family, self.type, self.protocol, fd, flags & O_NONBLOCK)
        return new, buf.raw[:min(length.value, SOCKADDR_MAX)]

    def getname(self, task: Task, peer: bool) -> bytes:
        try:
            return _host_name("getpeername" if peer else "getsockname", self.host_fd)
        except HostErrno as error:
            raise SysError(error.errno) from None

    def shut(self, task: Task, how: int) -> None:
        try:
            _host("shutdown", self.host_fd, how)
        except HostErrno as error:
            raise SysError(error.errno) from None

    # --- sending and receiving ---------------------------------------------------------------

    def _host_sendmsg(self, data: bytes, flags: int, address: bytes, control: bytes) -> int:
        buffer = ctypes.create_string_buffer(data, len(data))
        iov = _Iovec(ctypes.cast(buffer, ctypes.c_void_p), len(data))
        name = ctypes.create_string_buffer(address, len(address)) if address else None
        ctl = ctypes.create_string_buffer(control, len(control)) if control else None
        msg = _Msghdr(ctypes.cast(name, ctypes.c_void_p) if name is not None else None, len(address),
                      ctypes.cast(ctypes.pointer(iov), ctypes.c_void_p), 1,
                      ctypes.cast(ctl, ctypes.c_void_p) if ctl is not None else None, len(control), 0)
        return _host("sendmsg", self.host_fd, ctypes.byref(msg), flags | MSG_DONTWAIT | MSG_NOSIGNAL)

    def sendmsg(self, task: Task, data: bytes, flags: int, address: bytes, control: bytes | None) -> int:
        """inet_sendmsg through the host; a blocking stream send sends it all."""
        done = task.restart_block.inet_sent if task.restart_block is not None else 0
        nonblocking = self.nonblocking or flags & MSG_DONTWAIT
        try:
            sent = self._host_sendmsg(data[done:], flags & ~MSG_DONTWAIT, address, control or b"")
        except HostErrno as error:
            if done:
                if error.errno == EAGAIN and not nonblocking:
                    raise self._wait(task, "w", flags, self.sndtimeo, on_signal=ends_with(done)) from None
                return done  # a partial send ends with its count
            if error.errno == EAGAIN:
                raise self._wait(task, "w", flags, self.sndtimeo) from None
            if error.errno == EPIPE and self.type == SOCK_STREAM and not flags & MSG_NOSIGNAL:
                task.kernel.signals.send_sigpipe(task)  # sk_stream_error
            raise SysError(error.errno) from None
        done += sent
        if self.type == SOCK_STREAM and done < len(data) and not nonblocking:
            task.restart_state().inet_sent = done
            raise self._wait(task, "w", flags, self.sndtimeo, on_signal=ends_with(done))
        return done

    def _host_recvmsg(self, size: int, flags: int, controllen: int) -> tuple[int, bytes, bytes, bytes, int]:
        """One host recvmsg: (its result, the data, the name, the control bytes, msg_flags)."""
        buffer = ctypes.create_string_buffer(max(size, 1))
        iov = _Iovec(ctypes.cast(buffer, ctypes.c_void_p), size)
        name = ctypes.create_string_buffer(SOCKADDR_MAX)
        ctl = ctypes.create_string_buffer(controllen) if controllen else None
        msg = _Msghdr(ctypes.cast(name, ctypes.c_void_p), SOCKADDR_MAX, ctypes.cast(ctypes.pointer(iov), ctypes.c_void_p),
                      1, ctypes.cast(ctl, ctypes.c_void_p) if ctl is not None else None, controllen, 0)
        count = _host("recvmsg", self.host_fd, ctypes.byref(msg), flags | MSG_DONTWAIT)
        data = buffer.raw[:min(count, size)]
        control = ctl.raw[:msg.controllen] if ctl is not None else b""
        return count, data, name.raw[:min(msg.namelen, SOCKADDR_MAX)], control, msg.flags

    def recvmsg(self, task: Task, size: int, flags: int, controllen: int | None, deliver: Delivery) -> Received:
        """inet_recvmsg through the host. MSG_WAITALL on a blocking stream gathers until
        `size` bytes, EOF, an error or a signal (which returns what came)."""
        have = task.restart_block.inet_received if task.restart_block is not None else b""
        want = min(size, RECV_CHUNK) - len(have)
        try:
            count, data, name, control, msg_flags = self._host_recvmsg(want, flags & ~MSG_DONTWAIT,
                                                                       min(controllen or 0, OPTION_MAX))
        except HostErrno as error:
            if not have:
                if error.errno == EAGAIN and not flags & MSG_ERRQUEUE:  # the error queue never waits
                    raise self._wait(task, "r", flags, self.rcvtimeo) from None
                raise SysError(error.errno) from None
            if error.errno == EAGAIN:
                try:
                    raise self._wait(task, "r", flags, self.rcvtimeo, on_signal=_delivering(deliver, have)) from None
                except SysError:
                    pass  # timed out: what came is the result
            deliver(have)
            return Received(len(have))
        if self.type == SOCK_STREAM and flags & MSG_TRUNC:
            deliver(b"")  # tcp_recvmsg discards the bytes without copying them
            return Received(count, name, control, msg_flags)
        data = have + data
        if (flags & MSG_WAITALL and not flags & MSG_PEEK and self.type == SOCK_STREAM and count
                and len(data) < min(size, RECV_CHUNK) and not (self.nonblocking or flags & MSG_DONTWAIT)):
            task.restart_state().inet_received = data
            raise self._wait(task, "r", flags, self.rcvtimeo, on_signal=_delivering(deliver, data))
        deliver(data)
        result = count if flags & MSG_TRUNC and self.type != SOCK_STREAM else len(data)
        return Received(result, name, control, msg_flags)

    # --- options and ioctls -----------------------------------------------------------------------

    def getsockopt(self, task: Task, level: int, optname: int, length: int) -> bytes:
        room = min(length, OPTION_MAX)
        buf = ctypes.create_string_buffer(max(room, 1))
        size = ctypes.c_uint32(room)
        try:
            _host("getsockopt", self.host_fd, level, optname, buf, ctypes.byref(size))
        except HostErrno as error:
            raise SysError(error.errno) from None
        return buf.raw[:min(size.value, room)]

    def setsockopt(self, task: Task, level: int, optname: int, optval_addr: int, optlen: int) -> None:
        if level == SOL_SOCKET and optname in FOREIGN_OPTIONS:
            task.kernel.trap.unsupported_use(f"sockopt{optname}", f"setsockopt({FOREIGN_OPTIONS[optname]}) on an "
                                             "AF_INET socket is not supported: EOPNOTSUPP")
            raise SysError(EOPNOTSUPP)
        length = min(optlen, OPTION_MAX)
        try:
            value = task.mm.copy_in(optval_addr, length) if length else b""
        except Fault:
            value = None  # the host reports EFAULT where Linux would, after its own checks
        try:
            _host("setsockopt", self.host_fd, level, optname, value, length)
        except HostErrno as error:
            raise SysError(error.errno) from None
        if level == SOL_SOCKET and optname in RCVTIMEO + SNDTIMEO:
            timeout = self._host_timeout(SO_RCVTIMEO_OLD if optname in RCVTIMEO else SO_SNDTIMEO_OLD)
            if optname in RCVTIMEO:
                self.rcvtimeo = timeout
            else:
                self.sndtimeo = timeout

    def _host_timeout(self, optname: int) -> int:
        """The timeout the host stored (rounded to its jiffies, as the guest reads it back)."""
        buf = ctypes.create_string_buffer(TIMEVAL.size)
        size = ctypes.c_uint32(TIMEVAL.size)
        _host("getsockopt", self.host_fd, SOL_SOCKET, optname, buf, ctypes.byref(size))
        sec, usec = TIMEVAL.unpack(buf.raw)
        return sec * NSEC_PER_SEC + usec * 1000

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if request in INT_IOCTLS:
            value = ctypes.c_int(0)
            try:
                _host("ioctl", self.host_fd, request, ctypes.byref(value))
            except HostErrno as error:
                raise SysError(error.errno) from None
            task.mm.copy_out_i32(arg_addr, value.value)
            return 0
        if request in STAMP_IOCTLS:
            stamp = ctypes.create_string_buffer(16)
            try:
                _host("ioctl", self.host_fd, request, stamp)
            except HostErrno as error:
                raise SysError(error.errno) from None
            task.mm.copy_out(arg_addr, stamp.raw)
            return 0
        return super().ioctl(task, request, arg_addr)


def _delivering(deliver: Delivery, data: bytes):  # noqa: ANN202 - a Block's on_signal
    """A MSG_WAITALL receive interrupted by a signal: what came is the result."""
    def interrupted(task: Task) -> int:
        deliver(data)
        return len(data)
    return interrupted
