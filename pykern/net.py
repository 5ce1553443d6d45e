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

from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import EOPNOTSUPP, O_RDWR, S_IFSOCK
from pykern.errors import SysError
from pykern.fs.file import File
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

    # read(2) and write(2) are recvmsg and sendmsg without names or control data
    def read(self, task: Task, size: int) -> bytes:
        parts: list[bytes] = []
        self.recvmsg(task, size, 0, None, parts.append)
        return b"".join(parts)

    def write(self, task: Task, data: bytes) -> int:
        return self.sendmsg(task, data, 0, b"", None)
