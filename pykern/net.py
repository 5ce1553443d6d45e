"""A socket and the operations each address family provides (Linux's include/linux/net.h:
struct socket and struct proto_ops).

syscalls/socket.py copies arguments in and results out and calls these; what a call means
for a family is the family's class: pykern.af_unix.UnixSocket (sockets in the kernel),
pykern.inet.InetSocket (AF_INET and AF_INET6 through host sockets) and
pykern.netlink.NetlinkSocket (NETLINK_ROUTE answered by pykern). An operation a family
lacks fails as Linux's sock_no_* stubs do: EOPNOTSUPP.

Addresses and control data cross this interface as the guest's bytes (a sockaddr, a
cmsg buffer); each family checks them with its own rules (lengths, sa_family) so that bad
input gets the errno that family's Linux code gives.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket as host_socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import EOPNOTSUPP, EPERM, O_RDWR, S_IFSOCK
from pykern.errors import SysError
from pykern.fs.file import File
from pykern.fs.hostio import host_error
from pykern.fs.stat import Stat

if TYPE_CHECKING:
    from pykern.task import Task

# What recvmsg hands back besides the data (which it gives to `deliver` itself, so that a
# family can copy it out before it installs passed descriptors): the call's result (the
# length, or a datagram's whole length under MSG_TRUNC), the sender's address (b"": none),
# the control messages as the guest's cmsg bytes, and msg_flags.
Delivery = Callable[[bytes], None]


class Received:
    __slots__ = ("result", "name", "control", "msg_flags")

    def __init__(self, result: int, name: bytes = b"", control: bytes = b"", msg_flags: int = 0) -> None:
        self.result = result
        self.name = name
        self.control = control
        self.msg_flags = msg_flags


_inode_numbers = iter(range(200000, 1 << 62))

# dev_ioctl's requests, which every socket takes (sock_ioctl passes them on whatever the
# family): the SIOCGIF* reads of one struct ifreq (no pointers in it) are the host's
# answers, as the guest's AF_INET sockets are the host's; SIOCGIFCONF lists the interfaces
# with addresses; requests that change interfaces, routes or ARP entries are refused.
IFREQ_SIZE = 40
SIOCGIFCONF = 0x8912
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFREQ_GETS = frozenset({0x8910, 0x8913, 0x8915, 0x8917, 0x8919, 0x891B, 0x891D, 0x8921, 0x8927, 0x8933, 0x8935,
                        0x8942, 0x8970})
DEV_SETS = frozenset({0x890B, 0x890C, 0x8914, 0x8916, 0x8918, 0x891A, 0x891C, 0x891E, 0x8920, 0x8922, 0x8923,
                      0x8924, 0x8930, 0x8931, 0x8934, 0x8936, 0x8937, 0x8943, 0x8953, 0x8955, 0x8960, 0x8962,
                      0x8971})
IFCONF = struct.Struct("<i4xQ")  # struct ifconf: ifc_len, (pad), ifc_buf
_dev_socket: host_socket.socket | None = None


def _host_dev_socket() -> host_socket.socket:
    global _dev_socket
    if _dev_socket is None:
        _dev_socket = host_socket.socket(host_socket.AF_INET, host_socket.SOCK_DGRAM | host_socket.SOCK_CLOEXEC)
    return _dev_socket


def host_if_flags(name: bytes) -> int | None:
    """An interface's flags as SIOCGIFFLAGS gives them (None: no such interface)."""
    try:
        answer = fcntl.ioctl(_host_dev_socket().fileno(), SIOCGIFFLAGS, name[:15].ljust(IFREQ_SIZE, b"\0"))
    except OSError:
        return None
    return struct.unpack_from("<H", answer, 16)[0]


def dev_ioctl(task: Task, request: int, arg_addr: int) -> int | None:
    """The interface ioctls, or None for a request that is not one."""
    if request == SIOCSIFFLAGS:
        # what is already so is done (`ifconfig lo up` on a loopback that is up); a change is refused
        ifreq = task.mm.copy_in(arg_addr, IFREQ_SIZE)
        current = host_if_flags(ifreq[:16].split(b"\0", 1)[0])
        if current is not None and current == struct.unpack_from("<H", ifreq, 16)[0]:
            return 0
        raise SysError(EPERM)
    if request in DEV_SETS:
        raise SysError(EPERM)  # pykern does not change the host's interfaces
    if request in IFREQ_GETS:
        ifreq = task.mm.copy_in(arg_addr, IFREQ_SIZE)
        try:
            answer = fcntl.ioctl(_host_dev_socket().fileno(), request, ifreq)
        except OSError as error:
            raise host_error(error) from None
        task.mm.copy_out(arg_addr, answer)
        return 0
    if request == SIOCGIFCONF:
        length, buf_addr = IFCONF.unpack(task.mm.copy_in(arg_addr, IFCONF.size))
        room = max(length, 0) if buf_addr else 0
        buffer = ctypes.create_string_buffer(max(room, 1))
        ifconf = ctypes.create_string_buffer(IFCONF.pack(room, ctypes.addressof(buffer) if buf_addr else 0),
                                             IFCONF.size)
        try:
            fcntl.ioctl(_host_dev_socket().fileno(), request, ifconf)
        except OSError as error:
            raise host_error(error) from None
        filled = IFCONF.unpack(ifconf.raw)[0]
        if buf_addr and filled:
            task.mm.copy_out(buf_addr, buffer.raw[:filled])
        task.mm.copy_out_i32(arg_addr, filled)
        return 0
    return None


class Socket(File):
    """A socket's open file description; `family`, `type` and `protocol` as socket(2) made it."""

    kind = "socket"
    family = 0

    def __init__(self, sock_type: int, flags: int, protocol: int = 0) -> None:
        self.ino = next(_inode_numbers)
        super().__init__((flags & ~3) | O_RDWR, f"socket:[{self.ino}]")
        self.type = sock_type
        self.protocol = protocol

    def link_target(self) -> bytes:
        return self.path.encode()

    def stat(self) -> Stat:
        return Stat(dev=0x8, ino=self.ino, nlink=1, mode=S_IFSOCK | 0o777, uid=0, gid=0, rdev=0, size=0,
                    blksize=4096, blocks=0, atime_ns=0, mtime_ns=0, ctime_ns=0)

    # --- proto_ops -------------------------------------------------------------------------

    def bind(self, task: Task, address: bytes) -> None:
        raise SysError(EOPNOTSUPP)

    def connect(self, task: Task, address: bytes) -> None:
        raise SysError(EOPNOTSUPP)

    def listen(self, task: Task, backlog: int) -> None:
        raise SysError(EOPNOTSUPP)

    def accept(self, task: Task, flags: int) -> tuple[Socket, bytes]:
        """The new connection's socket (status flags `flags`) and the peer's address."""
        raise SysError(EOPNOTSUPP)

    def getname(self, task: Task, peer: bool) -> bytes:
        """getsockname (peer False) or getpeername's address."""
        raise SysError(EOPNOTSUPP)

    def sendmsg(self, task: Task, data: bytes, flags: int, address: bytes, control: bytes | None) -> int:
        """Send `data` (to `address` unless b""); `control` is the cmsg buffer, None for a
        call that has none (send, sendto, write)."""
        raise SysError(EOPNOTSUPP)

    def recvmsg(self, task: Task, size: int, flags: int, controllen: int | None, deliver: Delivery) -> Received:
        """Receive at most `size` bytes and give them to `deliver`; `controllen` is the room
        for control messages, None for a call that takes none (recv, recvfrom, read)."""
        raise SysError(EOPNOTSUPP)

    def getsockopt(self, task: Task, level: int, optname: int, length: int) -> bytes:
        """The option's value, at most `length` bytes (the caller copies it out)."""
        raise SysError(EOPNOTSUPP)

    def setsockopt(self, task: Task, level: int, optname: int, optval_addr: int, optlen: int) -> None:
        """The value is read by the family (after its own checks: EFAULT comes last)."""
        raise SysError(EOPNOTSUPP)

    def shut(self, task: Task, how: int) -> None:
        """shutdown(2): `how` is SHUT_RD, SHUT_WR or SHUT_RDWR (already checked)."""
        raise SysError(EOPNOTSUPP)

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        """sock_ioctl: what the family does not take goes to dev_ioctl, else ENOTTY."""
        done = dev_ioctl(task, request, arg_addr)
        return done if done is not None else super().ioctl(task, request, arg_addr)

    # read(2) and write(2) are recvmsg and sendmsg without names or control data
    def read(self, task: Task, size: int) -> bytes:
        parts: list[bytes] = []
        self.recvmsg(task, size, 0, None, parts.append)
        return b"".join(parts)

    def write(self, task: Task, data: bytes) -> int:
        return self.sendmsg(task, data, 0, b"", None)
