"""Sockets (Linux's net/socket.c): connected Unix-domain pairs from socketpair(2), with
send/recv, sendmsg/recvmsg, shutdown, the socket options a pair has, and its (unnamed)
names. The sockets themselves are pykern.af_unix.

socket(2) itself, and so named sockets and every network family, are not provided: it
has no handler (ENOSYS, with the one warning unsupported calls get). Calls on a file that
is not a socket fail with ENOTSOCK, as on Linux; a socket inherited from the host (stdin
may be one) is beyond pykern: ENOSYS, with the same warning. (bash, for one, asks
getpeername whether stdin is a network connection before deciding to read ~/.bashrc.)
"""

from __future__ import annotations

import os
import stat as host_stat

from pykern.abi import (
    AF_UNIX,
    EAFNOSUPPORT,
    EINVAL,
    EISCONN,
    ENOPROTOOPT,
    ENOSYS,
    ENOTCONN,
    ENOTSOCK,
    EOPNOTSUPP,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    MSG_TRUNC,
    MSGHDR,
    SO_ACCEPTCONN,
    SO_DOMAIN,
    SO_ERROR,
    SO_PASSCRED,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_SNDBUF,
    SO_TYPE,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
    SOL_SOCKET,
    SYSCALL_NUMBERS,
)
from pykern.af_unix import SOCK_TYPES, UnixSocket, make_pair
from pykern.errors import SysError
from pykern.syscalls.file import iovecs, scatter
from pykern.syscalls.pipe import install_pair
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, PTR, SIZE, UINT
from pykern.task import Task
from pykern.vfs import HostFile

NPROTO = 46  # address families Linux knows (AF_MAX)
SA_FAMILY_SIZE = 2  # an unnamed Unix socket's address: just sun_family


def sockfd_lookup(task: Task, fd: int, name: str) -> UnixSocket:
    """The socket behind `fd`: EBADF if none, ENOTSOCK if it is not a socket."""
    file = task.group.files.get(fd)
    if isinstance(file, UnixSocket):
        return file
    if isinstance(file, HostFile):
        try:
            if host_stat.S_ISSOCK(os.fstat(file.host_fd).st_mode):
                task.kernel.trap.unsupported(SYSCALL_NUMBERS[name])  # the warn-once of unsupported calls
                raise SysError(ENOSYS)
        except OSError:
            pass
    raise SysError(ENOTSOCK)


# --- creating --------------------------------------------------------------------------------


@syscall("socketpair", INT, INT, INT, PTR, classes="network")
def sys_socketpair(task: Task, domain: int, sock_type: int, protocol: int, sv_addr: int) -> int:
    """socketpair(2): AF_UNIX only (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW as
    SOCK_DGRAM), with SOCK_NONBLOCK and SOCK_CLOEXEC. Other families have no pairs:
    EOPNOTSUPP, or EAFNOSUPPORT for a number Linux does not know."""
    flags = sock_type & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SysError(EINVAL)
    sock_type &= SOCK_TYPE_MASK
    if not 0 <= domain < NPROTO:
        raise SysError(EAFNOSUPPORT)
    if domain != AF_UNIX:
        raise SysError(EOPNOTSUPP)
    if sock_type == SOCK_RAW:
        sock_type = SOCK_DGRAM  # unix_create does the same
    if sock_type not in SOCK_TYPES:
        raise SysError(ESOCKTNOSUPPORT)
    if protocol not in (0, AF_UNIX):
        raise SysError(EPROTONOSUPPORT)
    install_pair(task, make_pair(sock_type, flags & SOCK_NONBLOCK), bool(flags & SOCK_CLOEXEC), sv_addr)
    return 0


# --- sending and receiving ---------------------------------------------------------------------


def _no_address(sock: UnixSocket, addr: int, addrlen: int) -> None:
    """A destination on a connected pair: EISCONN for the connection-oriented types;
    a datagram to a named socket needs names, which pykern does not have yet."""
    if addr and addrlen:
        if sock.connection_oriented:
            raise SysError(EISCONN)
        raise SysError(EOPNOTSUPP)


def _give_name(task: Task, addr: int, addrlen_addr: int) -> None:
    """Write an unnamed Unix socket's address (sun_family only) the way move_addr_to_user
    does: at most *addrlen bytes, and *addrlen set to the real length."""
    if not addrlen_addr:
        return
    length = task.mm.copy_in_i32(addrlen_addr)
    if length < 0:
        raise SysError(EINVAL)
    if length and addr:
        task.mm.copy_out(addr, AF_UNIX.to_bytes(SA_FAMILY_SIZE, "little")[:length])
    task.mm.copy_out_i32(addrlen_addr, SA_FAMILY_SIZE)


@syscall("sendto", FD, PTR, SIZE, UINT, PTR, INT, classes="network")
def sys_sendto(task: Task, fd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen: int) -> int:
    """sendto(2) (and send(2)): MSG_DONTWAIT, MSG_NOSIGNAL."""
    sock = sockfd_lookup(task, fd, "sendto")
    _no_address(sock, addr, addrlen)
    return sock.send(task, task.mm.copy_in(buf_addr, length), flags)


@syscall("recvfrom", FD, PTR, SIZE, UINT, PTR, PTR, classes="network")
def sys_recvfrom(task: Task, fd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen_addr: int) -> int:
    """recvfrom(2) (and recv(2)): MSG_DONTWAIT, MSG_PEEK, and MSG_TRUNC (a datagram's
    whole length). The sender of a pair is unnamed: *addrlen becomes 0."""
    sock = sockfd_lookup(task, fd, "recvfrom")
    data, whole = sock.recv(task, length, flags)
    task.mm.copy_out(buf_addr, data)
    if addr and addrlen_addr:
        if task.mm.copy_in_i32(addrlen_addr) < 0:
            raise SysError(EINVAL)
        task.mm.copy_out_i32(addrlen_addr, 0)
    return whole if flags & MSG_TRUNC and sock.type != SOCK_STREAM else len(data)


def _msghdr(task: Task, msg_addr: int) -> tuple[int, ...]:
    return MSGHDR.unpack(task.mm.copy_in(msg_addr, MSGHDR.size))


@syscall("sendmsg", FD, PTR, UINT, classes="network")
def sys_sendmsg(task: Task, fd: int, msg_addr: int, flags: int) -> int:
    """sendmsg(2): the iovecs gathered into one send. Control messages (SCM_RIGHTS,
    SCM_CREDENTIALS) are not supported: EOPNOTSUPP, with a warning."""
    sock = sockfd_lookup(task, fd, "sendmsg")
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    _no_address(sock, name, namelen)
    if controllen:
        task.kernel.trap.unsupported_use("sendmsg-control", "sendmsg with control messages (SCM_RIGHTS ...) "
                                         "is not supported: returning EOPNOTSUPP")
        raise SysError(EOPNOTSUPP)
    data = b"".join(task.mm.copy_in(base, length) for base, length in iovecs(task, iov, iovlen))
    return sock.send(task, data, flags)


@syscall("recvmsg", FD, PTR, UINT, classes="network")
def sys_recvmsg(task: Task, fd: int, msg_addr: int, flags: int) -> int:
    """recvmsg(2): scattered over the iovecs; msg_flags gets MSG_TRUNC when a datagram
    was cut; no control messages and no sender name (a pair's peer is unnamed)."""
    sock = sockfd_lookup(task, fd, "recvmsg")
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    vectors = iovecs(task, iov, iovlen)
    data, whole = sock.recv(task, sum(length for _, length in vectors), flags)
    scatter(task, vectors, data)
    truncated = sock.type != SOCK_STREAM and whole > len(data)
    task.mm.copy_out(msg_addr, MSGHDR.pack(name, 0, iov, iovlen, control, 0, MSG_TRUNC if truncated else 0))
    return whole if flags & MSG_TRUNC and sock.type != SOCK_STREAM else len(data)


@syscall("shutdown", FD, INT, classes="network")
def sys_shutdown(task: Task, fd: int, how: int) -> int:
    """shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR; the peer of a connected pair sees the
    other half (EOF to read, EPIPE to write)."""
    sock = sockfd_lookup(task, fd, "shutdown")
    if not 0 <= how <= 2:
        raise SysError(EINVAL)
    sock.shut(how)
    return 0


# --- options and names -------------------------------------------------------------------------


@syscall("getsockopt", FD, INT, INT, PTR, PTR, classes="network")
def sys_getsockopt(task: Task, fd: int, level: int, name: int, value_addr: int, len_addr: int) -> int:
    """getsockopt(2) at SOL_SOCKET: SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR (and clear
    it), SO_SNDBUF, SO_RCVBUF, SO_ACCEPTCONN, SO_PASSCRED; anything else ENOPROTOOPT."""
    sock = sockfd_lookup(task, fd, "getsockopt")
    length = task.mm.copy_in_i32(len_addr)
    if length < 0:
        raise SysError(EINVAL)
    if level != SOL_SOCKET:
        raise SysError(EOPNOTSUPP)
    if name == SO_ERROR:
        value, sock.error = sock.error, 0
    else:
        values = {SO_TYPE: sock.type, SO_DOMAIN: AF_UNIX, SO_PROTOCOL: 0, SO_SNDBUF: sock.sndbuf,
                  SO_RCVBUF: sock.rcvbuf, SO_ACCEPTCONN: 0, SO_PASSCRED: 0}
        if name not in values:
            raise SysError(ENOPROTOOPT)
        value = values[name]
    length = min(length, 4)
    task.mm.copy_out(value_addr, value.to_bytes(4, "little", signed=True)[:length])
    task.mm.copy_out_i32(len_addr, length)
    return 0


@syscall("setsockopt", FD, INT, INT, PTR, INT, classes="network")
def sys_setsockopt(task: Task, fd: int, level: int, name: int, value_addr: int, length: int) -> int:
    """setsockopt(2) at SOL_SOCKET: SO_SNDBUF and SO_RCVBUF (stored doubled, as Linux
    does); anything else ENOPROTOOPT."""
    sock = sockfd_lookup(task, fd, "setsockopt")
    if level != SOL_SOCKET:
        raise SysError(EOPNOTSUPP)
    if name not in (SO_SNDBUF, SO_RCVBUF):
        raise SysError(ENOPROTOOPT)
    if length < 4:
        raise SysError(EINVAL)
    value = max(task.mm.copy_in_i32(value_addr), 0) * 2
    if name == SO_SNDBUF:
        sock.sndbuf = max(value, 4608)  # SOCK_MIN_SNDBUF
    else:
        sock.rcvbuf = max(value, 2304)  # SOCK_MIN_RCVBUF
    return 0


@syscall("getsockname", FD, PTR, PTR, classes="network")
def sys_getsockname(task: Task, fd: int, addr: int, addrlen_addr: int) -> int:
    """getsockname(2): a socketpair's socket is unnamed (sun_family alone)."""
    sockfd_lookup(task, fd, "getsockname")
    _give_name(task, addr, addrlen_addr)
    return 0


@syscall("getpeername", FD, PTR, PTR, classes="network")
def sys_getpeername(task: Task, fd: int, addr: int, addrlen_addr: int) -> int:
    """getpeername(2): the peer of a pair, unnamed too; ENOTCONN once it is gone."""
    sock = sockfd_lookup(task, fd, "getpeername")
    if sock.peer is None or (sock.connection_oriented and sock.peer.dead):
        raise SysError(ENOTCONN)
    _give_name(task, addr, addrlen_addr)
    return 0

