"""Sockets (Linux's net/socket.c): the socket system calls, family-neutral. Each copies
its arguments in, calls the socket's operations (pykern.net.Socket, Linux's proto_ops) and
copies results out; what a call means for a family is in that family's module:
pykern.af_unix (AF_UNIX, in the kernel), pykern.inet (AF_INET and AF_INET6, through host
sockets), pykern.netlink (AF_NETLINK's NETLINK_ROUTE).

Every other family is EAFNOSUPPORT, silently, as Linux answers a family it was built
without. Calls on a file that is not a socket fail with ENOTSOCK, as on Linux; a socket
inherited from the host (stdin may be one) is beyond pykern: ENOSYS, with the warning
unsupported calls get. (bash, for one, asks getpeername whether stdin is a network
connection before deciding to read ~/.bashrc.)
"""

from __future__ import annotations

import os
import stat as host_stat

from pykern import inet, netlink
from pykern.abi import (
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_UNIX,
    AF_UNSPEC,
    EAFNOSUPPORT,
    EBADF,
    EINVAL,
    EMSGSIZE,
    ENOBUFS,
    ENOSYS,
    ENOTSOCK,
    EOPNOTSUPP,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    INT_MAX,
    MSG_CMSG_CLOEXEC,
    MSG_DONTWAIT,
    MSG_WAITFORONE,
    MSGHDR,
    NSEC_PER_SEC,
    O_PATH,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_TYPE_MASK,
    SOMAXCONN,
    SYSCALL_NUMBERS,
    TIMESPEC,
    UIO_MAXIOV,
)
from pykern.af_unix import SOCK_TYPES, UnixSocket, make_pair
from pykern.errors import Block, SysError, ends_with
from pykern.fs.file import HostFile
from pykern.net import Socket
from pykern.syscalls.file import iovecs, scatter
from pykern.syscalls.pipe import install_pair
from pykern.syscalls.poll import timespec_ns
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, PTR, SIZE, UINT
from pykern.task import Task

NPROTO = 46  # address families Linux knows (AF_MAX)
SOCK_MAX = 11  # socket types Linux knows (SOCK_PACKET + 1)
SOCKADDR_STORAGE_SIZE = 128  # the longest address a call copies in
MMSGHDR_SIZE = MSGHDR.size + 8  # struct mmsghdr: msg_hdr, msg_len, (pad)


def sockfd_lookup(task: Task, fd: int, name: str) -> Socket:
    """The socket behind `fd`: EBADF if none (or an O_PATH descriptor, which fdget does
    not give to calls on the file), ENOTSOCK if it is not a socket."""
    file = task.group.files.get(fd)
    if file.flags & O_PATH:
        raise SysError(EBADF)
    if isinstance(file, Socket):
        return file
    if isinstance(file, HostFile):
        try:
            if host_stat.S_ISSOCK(os.fstat(file.host_fd).st_mode):
                task.kernel.trap.unsupported(SYSCALL_NUMBERS[name])  # the warn-once of unsupported calls
                raise SysError(ENOSYS)
        except OSError:
            pass
    raise SysError(ENOTSOCK)


def copy_in_address(task: Task, addr: int, addrlen: int) -> bytes:
    """move_addr_to_kernel: EINVAL for a negative or too long length, EFAULT."""
    if addrlen < 0 or addrlen > SOCKADDR_STORAGE_SIZE:
        raise SysError(EINVAL)
    return task.mm.copy_in(addr, addrlen) if addrlen else b""


def give_address(task: Task, address: bytes, addr: int, addrlen_addr: int) -> None:
    """move_addr_to_user: at most *addrlen bytes of `address`, then *addrlen set to its
    real length (EINVAL for a negative *addrlen)."""
    length = task.mm.copy_in_i32(addrlen_addr)
    if length < 0:
        raise SysError(EINVAL)
    if length and address:
        task.mm.copy_out(addr, address[:length])
    task.mm.copy_out_i32(addrlen_addr, len(address))


# --- creating --------------------------------------------------------------------------------


def _unix_type(sock_type: int, protocol: int) -> int:
    """unix_create's checks: protocol 0 (or PF_UNIX); SOCK_RAW is SOCK_DGRAM."""
    if protocol not in (0, AF_UNIX):
        raise SysError(EPROTONOSUPPORT)
    if sock_type == SOCK_RAW:
        sock_type = SOCK_DGRAM  # unix_create does the same
    if sock_type not in SOCK_TYPES:
        raise SysError(ESOCKTNOSUPPORT)
    return sock_type


def _check_create(task: Task, domain: int, sock_type: int, protocol: int, pair: bool) -> tuple[int, int]:
    """__sock_create's checks, then the family's: (the type, its flags). The families
    Linux has other than AF_UNIX have no pairs (EOPNOTSUPP, after their own checks);
    AF_UNSPEC and families pykern lacks are EAFNOSUPPORT."""
    flags = sock_type & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SysError(EINVAL)
    sock_type &= SOCK_TYPE_MASK
    if not 0 <= domain < NPROTO:
        raise SysError(EAFNOSUPPORT)
    if sock_type >= SOCK_MAX:
        raise SysError(EINVAL)
    if domain == AF_UNIX:
        return _unix_type(sock_type, protocol), flags
    if domain in (AF_INET, AF_INET6):
        inet.check_create(task, domain, sock_type, protocol)
    elif domain == AF_NETLINK:
        netlink.check_create(sock_type, protocol)
    if pair or domain not in (AF_INET, AF_INET6, AF_NETLINK):
        raise SysError(EOPNOTSUPP if pair and domain != AF_UNSPEC else EAFNOSUPPORT)
    return sock_type, flags


@syscall("socket", INT, INT, INT, classes="network")
def sys_socket(task: Task, domain: int, sock_type: int, protocol: int) -> int:
    """socket(2): AF_UNIX, AF_INET and AF_INET6 (host sockets), AF_NETLINK (NETLINK_ROUTE),
    with SOCK_NONBLOCK and SOCK_CLOEXEC; any other family EAFNOSUPPORT."""
    sock_type, flags = _check_create(task, domain, sock_type, protocol, pair=False)
    nonblock = flags & SOCK_NONBLOCK
    sock: Socket
    if domain == AF_UNIX:
        sock = UnixSocket(sock_type, nonblock)
    else:
        task.group.files.lowest_free()  # EMFILE before a host socket is made
        if domain == AF_NETLINK:
            sock = netlink.NetlinkSocket.create_for(task, sock_type, protocol, nonblock)
        else:
            sock = inet.InetSocket.create(domain, sock_type, protocol, nonblock)
    return task.group.files.install(sock, bool(flags & SOCK_CLOEXEC))


@syscall("socketpair", INT, INT, INT, PTR, classes="network")
def sys_socketpair(task: Task, domain: int, sock_type: int, protocol: int, sv_addr: int) -> int:
    """socketpair(2): AF_UNIX only. Other families have no pairs: EOPNOTSUPP, or
    EAFNOSUPPORT for a number Linux does not know."""
    sock_type, flags = _check_create(task, domain, sock_type, protocol, pair=True)
    install_pair(task, make_pair(task, sock_type, flags & SOCK_NONBLOCK), bool(flags & SOCK_CLOEXEC), sv_addr)
    return 0


# --- names and connections ------------------------------------------------------------------------


@syscall("bind", FD, PTR, INT, classes="network")
def sys_bind(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    """bind(2): the family checks the address."""
    sock = sockfd_lookup(task, sockfd, "bind")
    sock.bind(task, copy_in_address(task, addr, addrlen))
    return 0


@syscall("listen", FD, INT, classes="network")
def sys_listen(task: Task, sockfd: int, backlog: int) -> int:
    """listen(2): a backlog above net.core.somaxconn (or negative) is somaxconn."""
    sock = sockfd_lookup(task, sockfd, "listen")
    if backlog < 0 or backlog > SOMAXCONN:
        backlog = SOMAXCONN
    sock.listen(task, backlog)
    return 0


@syscall("connect", FD, PTR, INT, classes="network")
def sys_connect(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    """connect(2). A blocking connect sleeps in the scheduler. Restartable."""
    sock = sockfd_lookup(task, sockfd, "connect")
    sock.connect(task, copy_in_address(task, addr, addrlen))
    return 0


def do_accept(task: Task, sockfd: int, addr: int, addrlen_addr: int, flags: int) -> int:
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SysError(EINVAL)
    sock = sockfd_lookup(task, sockfd, "accept4")
    files = task.group.files
    files.lowest_free()  # EMFILE before a connection is taken
    new, peer = sock.accept(task, flags)
    try:
        if addr:
            give_address(task, peer, addr, addrlen_addr)
        return files.install(new, bool(flags & SOCK_CLOEXEC))
    except BaseException:
        new.release()  # taken and lost, as Linux loses it
        raise


@syscall("accept", FD, PTR, PTR, classes="network")
def sys_accept(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """accept(2): the oldest waiting connection and the client's name. Restartable."""
    return do_accept(task, sockfd, addr, addrlen_addr, 0)


@syscall("accept4", FD, PTR, PTR, INT, classes="network")
def sys_accept4(task: Task, sockfd: int, addr: int, addrlen_addr: int, flags: int) -> int:
    """accept4(2): accept with SOCK_NONBLOCK and SOCK_CLOEXEC."""
    return do_accept(task, sockfd, addr, addrlen_addr, flags)


@syscall("getsockname", FD, PTR, PTR, classes="network")
def sys_getsockname(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """getsockname(2): the bound name (an unnamed socket's as its family gives it)."""
    sock = sockfd_lookup(task, sockfd, "getsockname")
    give_address(task, sock.getname(task, peer=False), addr, addrlen_addr)
    return 0


@syscall("getpeername", FD, PTR, PTR, classes="network")
def sys_getpeername(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """getpeername(2): the peer's name; ENOTCONN without one."""
    sock = sockfd_lookup(task, sockfd, "getpeername")
    give_address(task, sock.getname(task, peer=True), addr, addrlen_addr)
    return 0


# --- sending and receiving ---------------------------------------------------------------------


@syscall("sendto", FD, PTR, SIZE, UINT, PTR, INT, classes="network")
def sys_sendto(task: Task, sockfd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen: int) -> int:
    """sendto(2) (and send(2)): MSG_DONTWAIT, MSG_NOSIGNAL; a destination for datagrams."""
    sock = sockfd_lookup(task, sockfd, "sendto")
    data = task.mm.copy_in(buf_addr, min(length, INT_MAX))
    address = copy_in_address(task, addr, addrlen) if addr else b""
    return sock.sendmsg(task, data, flags, address, None)


@syscall("recvfrom", FD, PTR, SIZE, UINT, PTR, PTR, classes="network")
def sys_recvfrom(task: Task, sockfd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen_addr: int) -> int:
    """recvfrom(2) (and recv(2)): MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, and MSG_TRUNC (a
    datagram's whole length); the sender's name (*addrlen 0 when it has none)."""
    sock = sockfd_lookup(task, sockfd, "recvfrom")
    got = sock.recvmsg(task, min(length, INT_MAX), flags, None, lambda data: task.mm.copy_out(buf_addr, data))
    if addr and addrlen_addr:
        give_address(task, got.name, addr, addrlen_addr)
    return got.result


def _msghdr(task: Task, msg_addr: int) -> tuple[int, ...]:
    """The msghdr as __copy_msghdr takes it: a negative msg_namelen is EINVAL, a long one
    is clipped; no msg_name is no name; more than UIO_MAXIOV iovecs is EMSGSIZE."""
    name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack(task.mm.copy_in(msg_addr, MSGHDR.size))
    if namelen > INT_MAX:
        raise SysError(EINVAL)
    if not name:
        namelen = 0
    if iovlen > UIO_MAXIOV:
        raise SysError(EMSGSIZE)
    return name, min(namelen, SOCKADDR_STORAGE_SIZE), iov, iovlen, control, controllen, flags


def do_sendmsg(task: Task, sock: Socket, msg_addr: int, flags: int) -> int:
    """___sys_sendmsg: the name, the control messages and the gathered iovecs."""
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    address = copy_in_address(task, name, namelen) if namelen else b""
    if controllen > INT_MAX:
        raise SysError(ENOBUFS)
    control_data = task.mm.copy_in(control, controllen) if controllen else b""
    vectors = iovecs(task, iov, iovlen)
    data = b"".join(task.mm.copy_in(base, length) for base, length in vectors)
    return sock.sendmsg(task, data, flags, address, control_data)


@syscall("sendmsg", FD, PTR, UINT, classes="network")
def sys_sendmsg(task: Task, sockfd: int, msg_addr: int, flags: int) -> int:
    """sendmsg(2): the iovecs gathered into one send, with a destination and control
    messages (SCM_RIGHTS and SCM_CREDENTIALS for AF_UNIX; the host's for AF_INET)."""
    return do_sendmsg(task, sockfd_lookup(task, sockfd, "sendmsg"), msg_addr, flags)


def do_recvmsg(task: Task, sock: Socket, msg_addr: int, flags: int) -> int:
    """___sys_recvmsg: scattered over the iovecs; the sender's name; the control
    messages; msg_flags (MSG_TRUNC, MSG_CTRUNC, and MSG_CMSG_CLOEXEC carried back)."""
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    vectors = iovecs(task, iov, iovlen)
    got = sock.recvmsg(task, sum(length for _, length in vectors), flags,
                       min(controllen, INT_MAX) if control else 0, lambda data: scatter(task, vectors, data))
    if got.control:
        task.mm.copy_out(control, got.control)
    if name:
        give_address(task, got.name, name, msg_addr + 8)
    task.mm.copy_out(msg_addr + 40, len(got.control).to_bytes(8, "little"))
    task.mm.copy_out_i32(msg_addr + 48, got.msg_flags | (flags & MSG_CMSG_CLOEXEC))
    return got.result


@syscall("recvmsg", FD, PTR, UINT, classes="network")
def sys_recvmsg(task: Task, sockfd: int, msg_addr: int, flags: int) -> int:
    """recvmsg(2)."""
    return do_recvmsg(task, sockfd_lookup(task, sockfd, "recvmsg"), msg_addr, flags)


@syscall("sendmmsg", FD, PTR, UINT, UINT, classes="network")
def sys_sendmmsg(task: Task, sockfd: int, msgvec_addr: int, vlen: int, flags: int) -> int:
    """sendmmsg(2): sendmsg for each entry, msg_len set; the count sent, or the first
    message's error. Messages already sent stay sent across a sleep (restart_block)."""
    sock = sockfd_lookup(task, sockfd, "sendmmsg")
    vlen = min(vlen, UIO_MAXIOV)
    done = task.restart_block.mmsg_done if task.restart_block is not None else 0
    while done < vlen:
        entry = msgvec_addr + done * MMSGHDR_SIZE
        try:
            sent = do_sendmsg(task, sock, entry, flags)
            task.mm.copy_out_u32(entry + MSGHDR.size, sent)
        except Block as block:
            if done:
                task.restart_state().mmsg_done = done
                block.on_signal = ends_with(done)  # a signal: the messages sent
            raise
        except SysError:
            if done:
                return done
            raise
        done += 1
    return done


@syscall("recvmmsg", FD, PTR, UINT, UINT, PTR, classes="network")
def sys_recvmmsg(task: Task, sockfd: int, msgvec_addr: int, vlen: int, flags: int, timeout_addr: int) -> int:
    """recvmmsg(2): recvmsg for each entry, msg_len set; MSG_WAITFORONE makes every one
    after the first non-blocking. The timeout is checked after each message, as Linux
    does (see its BUGS), and the time left written back."""
    sock = sockfd_lookup(task, sockfd, "recvmmsg")
    block = task.restart_state()
    if not block.mmsg_started:
        timeout = timespec_ns(task, timeout_addr) if timeout_addr else None
        block.mmsg_started = True
        block.mmsg_deadline = None if timeout is None else task.kernel.clock.monotonic_ns() + timeout
    deadline = block.mmsg_deadline
    vlen = min(vlen, UIO_MAXIOV)
    done = block.mmsg_done
    while done < vlen:
        entry = msgvec_addr + done * MMSGHDR_SIZE
        each = flags & ~MSG_WAITFORONE | (MSG_DONTWAIT if done and flags & MSG_WAITFORONE else 0)
        try:
            got = do_recvmsg(task, sock, entry, each)
            task.mm.copy_out_u32(entry + MSGHDR.size, got)
        except Block as sleep:
            if done:
                block.mmsg_done = done
                sleep.on_signal = ends_with(done)  # a signal: the messages received
            raise
        except SysError:
            if done:
                break
            raise
        done += 1
        if deadline is not None and task.kernel.clock.monotonic_ns() >= deadline:
            break
    if deadline is not None and done:
        left = max(0, deadline - task.kernel.clock.monotonic_ns())
        task.mm.copy_out(timeout_addr, TIMESPEC.pack(*divmod(left, NSEC_PER_SEC)))
    return done


@syscall("shutdown", FD, INT, classes="network")
def sys_shutdown(task: Task, sockfd: int, how: int) -> int:
    """shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR."""
    sock = sockfd_lookup(task, sockfd, "shutdown")
    if not 0 <= how <= 2:
        raise SysError(EINVAL)
    sock.shut(task, how)
    return 0


# --- options -----------------------------------------------------------------------------------


@syscall("getsockopt", FD, INT, INT, PTR, PTR, classes="network")
def sys_getsockopt(task: Task, sockfd: int, level: int, optname: int, optval_addr: int, optlen_addr: int) -> int:
    """getsockopt(2): the family's options; the value cut to *optlen, which is set to the
    length given."""
    sock = sockfd_lookup(task, sockfd, "getsockopt")
    length = task.mm.copy_in_i32(optlen_addr)
    if length < 0:
        raise SysError(EINVAL)
    value = sock.getsockopt(task, level, optname, length)
    length = min(length, len(value))
    task.mm.copy_out(optval_addr, value[:length])
    task.mm.copy_out_i32(optlen_addr, length)
    return 0


@syscall("setsockopt", FD, INT, INT, PTR, INT, classes="network")
def sys_setsockopt(task: Task, sockfd: int, level: int, optname: int, optval_addr: int, optlen: int) -> int:
    """setsockopt(2): the family reads the value itself (an unknown option is its errno
    before a bad pointer's EFAULT, as Linux's sockptr copies are)."""
    sock = sockfd_lookup(task, sockfd, "setsockopt")
    if optlen < 0:
        raise SysError(EINVAL)
    sock.setsockopt(task, level, optname, optval_addr, optlen)
    return 0
