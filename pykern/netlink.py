"""AF_NETLINK sockets for NETLINK_ROUTE (Linux's net/netlink/af_netlink.c), answered by the
host's kernel through a host netlink socket: what glibc's getifaddrs() and `ip addr` /
`ip link` ask (RTM_GETLINK and RTM_GETADDR dumps) comes back with the host's interfaces
and addresses, as the guest's AF_INET sockets are the host's too.

- Only reads reach the host: a request (NLM_F_REQUEST) of a type other than RTM_GET*
  (a change to links, addresses or routes) is answered by pykern with NLMSG_ERROR EPERM,
  as a process without CAP_NET_ADMIN in the host's network namespace gets; except an
  RTM_NEWLINK asking for link flags the link already has (`ip link set lo up`), which is
  done as it is (acknowledged).
- Port ids are the guest's (netlink_autobind): a socket binds on bind (nl_pid 0: the
  caller's tgid, or a negative number once that is taken), connect or its first send;
  getsockname shows it, and the host's port id in each message received (nlmsg_pid of
  the answers) is replaced by it. Dumps come in datagrams as the host makes them, sized by
  the guest's own receive buffer, as on Linux.
- Blocking receives sleep on the host fd in pykern's scheduler (pykern.inet's machinery);
  options go to the host socket (SO_RCVBUF, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK ...).
- Other netlink protocols are EPROTONOSUPPORT; socketpair is EOPNOTSUPP.
"""

from __future__ import annotations

import os
import socket as host_socket
import struct
from collections import deque
from typing import TYPE_CHECKING

from pykern.abi import (
    AF_NETLINK,
    EADDRINUSE,
    EAGAIN,
    ECONNREFUSED,
    EINVAL,
    EOPNOTSUPP,
    EPERM,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    MSG_PEEK,
    MSG_TRUNC,
    POLLIN,
    POLLRDNORM,
    SOCK_DGRAM,
    SOCK_RAW,
)
from pykern.errors import Block, SysError
from pykern.inet import HostErrno, InetSocket, _host, _host_name
from pykern.net import Delivery, Received, Socket, host_if_flags

if TYPE_CHECKING:
    from pykern.kernel import Kernel
    from pykern.task import Task
    from pykern.waitqueue import WaitQueue

NETLINK_ROUTE = 0
MAX_LINKS = 32  # netlink protocols Linux numbers
NLMSGHDR = struct.Struct("<IHHII")  # nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
SOCKADDR_NL = struct.Struct("<HHII")  # nl_family, nl_pad, nl_pid, nl_groups
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CAPPED = 0x1, 0x4, 0x100
RTM_NEWLINK = 16
IFINFOMSG = struct.Struct("<BxHiII")  # ifi_family, (pad), ifi_type, ifi_index, ifi_flags, ifi_change
RTATTR = struct.Struct("<HH")  # rta_len, rta_type
IFLA_IFNAME, IFLA_EXT_MASK = 3, 29
NLMSG_ERROR = 0x2
RTM_BASE = 16
NLMSG_ALIGN = 4
# each kernel's bound port ids -> their sockets (nl_table's hash for NETLINK_ROUTE)


def check_create(sock_type: int, protocol: int) -> None:
    """netlink_create: SOCK_RAW or SOCK_DGRAM (ESOCKTNOSUPPORT); a protocol pykern answers
    (EPROTONOSUPPORT, as for a protocol whose kernel side is absent)."""
    if sock_type not in (SOCK_RAW, SOCK_DGRAM):
        raise SysError(ESOCKTNOSUPPORT)
    if not 0 <= protocol < MAX_LINKS or protocol != NETLINK_ROUTE:
        raise SysError(EPROTONOSUPPORT)


def _messages(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The nlmsghdr chain of a send, as (offset, message) pairs, and what follows the
    last whole one (netlink_rcv_skb stops at a header that does not fit)."""
    found = []
    offset = 0
    while len(data) - offset >= NLMSGHDR.size:
        length = NLMSGHDR.unpack_from(data, offset)[0]
        if length < NLMSGHDR.size or length > len(data) - offset:
            break
        found.append((offset, data[offset:offset + length]))
        offset += (length + NLMSG_ALIGN - 1) & ~(NLMSG_ALIGN - 1)
    return found, data[offset:] if offset < len(data) else b""


def _link_unchanged(message: bytes) -> bool:
    """Is an RTM_NEWLINK a request to set flags the link already has (`ip link set lo up`
    on a loopback that is up), naming the link by index or IFLA_IFNAME and nothing else?
    do_setlink's flags: ifi_change selects the bits (0: all of them)."""
    body = message[NLMSGHDR.size:]
    if len(body) < IFINFOMSG.size:
        return False
    _, _, index, flags, change = IFINFOMSG.unpack_from(body)
    name = None
    offset = IFINFOMSG.size
    while len(body) - offset >= RTATTR.size:
        length, kind = RTATTR.unpack_from(body, offset)
        if length < RTATTR.size:
            break
        if kind == IFLA_IFNAME:
            name = body[offset + RTATTR.size:offset + length].split(b"\0", 1)[0]
        elif kind != IFLA_EXT_MASK:
            return False
        offset += (length + 3) & ~3
    if name is None:
        try:
            name = host_socket.if_indextoname(index).encode()
        except OSError:
            return False
    current = host_if_flags(name)
    if current is None:
        return False
    mask = (change or 0xFFFFFFFF) & 0xFFFF  # SIOCGIFFLAGS' bits: the ones a link's owner sets
    return current & mask == flags & mask


class NetlinkSocket(InetSocket):
    """A guest's NETLINK_ROUTE socket: the host netlink socket `host_fd`, with the
    guest's port id `portid` (0 until bound) and the answers pykern makes itself."""

    def __init__(self, kernel: Kernel, sock_type: int, protocol: int, host_fd: int, flags: int) -> None:
        super().__init__(AF_NETLINK, sock_type, protocol, host_fd, flags)
        self.kernel = kernel
        self.portid = 0
        self.host_portid = SOCKADDR_NL.unpack(_host_name("getsockname", host_fd)[:SOCKADDR_NL.size])[2]
        self.local: deque[bytes] = deque()  # pykern's own answers, received before the host's
        self.dst = (0, 0)  # connect's nl_pid and nl_groups

    @classmethod
    def create_for(cls, task: Task, sock_type: int, protocol: int, flags: int) -> NetlinkSocket:
        try:
            fd = _host("socket", AF_NETLINK, sock_type | os.O_NONBLOCK | os.O_CLOEXEC, protocol)
        except HostErrno as error:
            raise SysError(error.errno) from None
        try:
            _host("bind", fd, SOCKADDR_NL.pack(AF_NETLINK, 0, 0, 0), SOCKADDR_NL.size)
            return cls(task.kernel, sock_type, protocol, fd, flags)
        except HostErrno as error:
            os.close(fd)
            raise SysError(error.errno) from None

    def release(self) -> None:
        table = self.kernel.netlink_ports
        if table.get(self.portid) is self:
            del table[self.portid]
        super().release()

    # --- port ids ------------------------------------------------------------------------

    def _insert(self, portid: int) -> None:
        table = self.kernel.netlink_ports
        if portid in table:
            raise SysError(EADDRINUSE)
        table[portid] = self
        self.portid = portid

    def autobind(self, task: Task) -> None:
        """netlink_autobind: the process's tgid if free, else -4096 and down."""
        if self.portid:
            return
        table = self.kernel.netlink_ports
        portid = task.group.tgid
        rover = -4096
        while portid in table:
            portid = rover & 0xFFFFFFFF
            rover -= 1
        self._insert(portid)

    def _address(self, address: bytes) -> tuple[int, int]:
        if len(address) < SOCKADDR_NL.size:
            raise SysError(EINVAL)
        family, _, pid, groups = SOCKADDR_NL.unpack_from(address)
        if family != AF_NETLINK:
            raise SysError(EINVAL)
        return pid, groups

    def bind(self, task: Task, address: bytes) -> None:
        """netlink_bind: nl_pid 0 autobinds; groups subscribe the host socket."""
        pid, groups = self._address(address)
        if self.portid and pid != self.portid:
            raise SysError(EINVAL)
        if groups:
            try:
                _host("bind", self.host_fd, SOCKADDR_NL.pack(AF_NETLINK, 0, self.host_portid, groups),
                      SOCKADDR_NL.size)
            except HostErrno as error:
                raise SysError(error.errno) from None
        if not self.portid:
            if pid:
                self._insert(pid)
            else:
                self.autobind(task)

    def connect(self, task: Task, address: bytes) -> None:
        """netlink_connect: AF_UNSPEC disconnects; the kernel (nl_pid 0) is the peer a
        route socket may have."""
        if len(address) >= 2 and address[:2] == b"\0\0":
            self.dst = (0, 0)
            return
        pid, groups = self._address(address)
        if groups:
            raise SysError(EPERM)  # sending to groups needs CAP_NET_ADMIN (NL_CFG_F_NONROOT_SEND)
        self.autobind(task)
        self.dst = (pid, groups)

    def getname(self, task: Task, peer: bool) -> bytes:
        if peer:
            return SOCKADDR_NL.pack(AF_NETLINK, 0, *self.dst)
        return SOCKADDR_NL.pack(AF_NETLINK, 0, self.portid, 0)

    def listen(self, task: Task, backlog: int) -> None:
        raise SysError(EOPNOTSUPP)

    def accept(self, task: Task, flags: int) -> tuple[Socket, bytes]:
        raise SysError(EOPNOTSUPP)

    # --- requests and answers --------------------------------------------------------------

    def sendmsg(self, task: Task, data: bytes, flags: int, address: bytes, control: bytes | None) -> int:
        """netlink_sendmsg to the kernel: RTM_GET* requests go to the host, requests to
        change anything get NLMSG_ERROR EPERM from pykern."""
        if address:
            pid, groups = self._address(address)
            if groups:
                raise SysError(EPERM)
            if pid:
                raise SysError(ECONNREFUSED)  # no other netlink sockets are reachable
        self.autobind(task)
        messages, tail = _messages(data)
        forward = []
        for _, message in messages:
            _, kind, msg_flags, seq, _ = NLMSGHDR.unpack_from(message)
            if msg_flags & NLM_F_REQUEST and kind >= RTM_BASE and (kind - RTM_BASE) & 3 != 2:
                if kind == RTM_NEWLINK and _link_unchanged(message):
                    if msg_flags & NLM_F_ACK:
                        self._ack(message, seq)
                    continue
                self._error(message, seq, EPERM)
                continue
            forward.append(message + bytes(-len(message) % NLMSG_ALIGN))
        request = b"".join(forward) + tail
        if request or not messages:
            try:
                self._host_sendmsg(request, 0, b"", control or b"")
            except HostErrno as error:
                raise SysError(error.errno) from None
        return len(data)

    def _error(self, message: bytes, seq: int, errno: int) -> None:
        """netlink_ack: NLMSG_ERROR with -errno and the request."""
        body = (-errno).to_bytes(4, "little", signed=True) + message
        self.local.append(NLMSGHDR.pack(NLMSGHDR.size + len(body), NLMSG_ERROR, 0, seq, self.portid) + body)

    def _ack(self, message: bytes, seq: int) -> None:
        """netlink_ack for a request that succeeded: error 0 and the request's header."""
        body = bytes(4) + message[:NLMSGHDR.size]
        self.local.append(NLMSGHDR.pack(NLMSGHDR.size + len(body), NLMSG_ERROR, NLM_F_CAPPED, seq, self.portid)
                          + body)

    def _rewrite(self, data: bytes) -> bytes:
        """The host's answers with our port id for the host socket's."""
        out = bytearray(data)
        for offset, message in _messages(data)[0]:
            if NLMSGHDR.unpack_from(message)[4] == self.host_portid:
                struct.pack_into("<I", out, offset + 12, self.portid)
        return bytes(out)

    def recvmsg(self, task: Task, size: int, flags: int, controllen: int | None, deliver: Delivery) -> Received:
        if self.local:
            datagram = self.local[0] if flags & MSG_PEEK else self.local.popleft()
            deliver(datagram[:size])
            result = len(datagram) if flags & MSG_TRUNC else min(size, len(datagram))
            return Received(result, SOCKADDR_NL.pack(AF_NETLINK, 0, 0, 0), b"",
                            MSG_TRUNC if len(datagram) > size else 0)
        parts: list[bytes] = []
        got = super().recvmsg(task, size, flags, controllen, parts.append)
        deliver(self._rewrite(b"".join(parts)))
        return got

    def deliver_local(self, datagram: bytes) -> None:
        """A message from pykern itself (mq_notify's SIGEV_THREAD cookie): queued ahead
        of the host's answers; readers and pollers asleep on the host fd are woken."""
        self.local.append(datagram)
        self.drained.wake_all()

    def _wait(self, task: Task, mode: str, flags: int, timeout_ns: int, timed_out: int = EAGAIN) -> Block:
        block = super()._wait(task, mode, flags, timeout_ns, timed_out)
        block.queues = (*block.queues, self.drained)  # (deliver_local wakes it)
        return block

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        mask, queues, host_fds = super().poll(events)
        if self.local:
            mask |= POLLIN | POLLRDNORM
        return mask, queues, host_fds

