"""Sockets (Linux's net/socket.c and the AF_UNIX half of net/core/scm.c): socket(2) and
socketpair(2) for AF_UNIX, bind/listen/connect/accept4, send/recv with names and control
messages (SCM_RIGHTS, SCM_CREDENTIALS), shutdown, the socket options a Unix socket has,
and its names. The sockets themselves are pykern.af_unix.

Every other family is EAFNOSUPPORT, silently, as Linux answers a family it was built
without (AF_INET and AF_INET6 too, for now; AF_NETLINK as well). Calls on a file that is
not a socket fail with ENOTSOCK, as on Linux; a socket inherited from the host (stdin may
be one) is beyond pykern: ENOSYS, with the warning unsupported calls get. (bash, for one,
asks getpeername whether stdin is a network connection before deciding to read ~/.bashrc.)
"""

from __future__ import annotations

import os
import stat as host_stat

from pykern.abi import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    AF_UNSPEC,
    CAP_SETGID,
    CAP_SETUID,
    CAP_SYS_ADMIN,
    CMSGHDR,
    EAFNOSUPPORT,
    EBADF,
    EINVAL,
    EISCONN,
    ENOBUFS,
    ENOPROTOOPT,
    ENOSYS,
    ENOTCONN,
    ENOTSOCK,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    MSG_CMSG_CLOEXEC,
    MSG_CTRUNC,
    MSG_TRUNC,
    MSGHDR,
    O_PATH,
    SCM_CREDENTIALS,
    SCM_MAX_FD,
    SCM_RIGHTS,
    SO_ACCEPTCONN,
    SO_DOMAIN,
    SO_ERROR,
    SO_PASSCRED,
    SO_PEERCRED,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_SNDBUF,
    SO_TYPE,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
    SOL_SOCKET,
    SOMAXCONN,
    SYSCALL_NUMBERS,
    UCRED,
)
from pykern.af_unix import (
    FAMILY,
    SEND_SHUTDOWN,
    SOCK_TYPES,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    Message,
    UnixSocket,
    find_other,
    make_pair,
    validate_address,
)
from pykern.errors import SysError
from pykern.fs.file import File, HostFile
from pykern.syscalls.file import iovecs, scatter
from pykern.syscalls.pipe import install_pair
from pykern.syscalls.table import syscall
from pykern.sysent import FD, INT, PTR, SIZE, UINT
from pykern.task import Task

NPROTO = 46  # address families Linux knows (AF_MAX)
SOCK_MAX = 11  # socket types Linux knows (SOCK_PACKET + 1)
SOCKADDR_STORAGE_SIZE = 128  # the longest address a call copies in
INT_MAX = 0x7FFFFFFF
CMSG_ALIGN = 8


def sockfd_lookup(task: Task, fd: int, name: str) -> UnixSocket:
    """The socket behind `fd`: EBADF if none (or an O_PATH descriptor, which fdget does
    not give to calls on the file), ENOTSOCK if it is not a socket."""
    file = task.group.files.get(fd)
    if file.flags & O_PATH:
        raise SysError(EBADF)
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


def _unix_type(domain: int, sock_type: int, protocol: int, pair: bool) -> tuple[int, int]:
    """__sock_create and unix_create's checks, in their order: (the type, its flags)."""
    flags = sock_type & ~SOCK_TYPE_MASK
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SysError(EINVAL)
    sock_type &= SOCK_TYPE_MASK
    if not 0 <= domain < NPROTO:
        raise SysError(EAFNOSUPPORT)
    if sock_type >= SOCK_MAX:
        raise SysError(EINVAL)
    if domain in (AF_INET, AF_INET6):
        _inet_protocol(domain, sock_type, protocol)
    if domain != AF_UNIX:
        # socketpair: the families Linux has have no pairs (EOPNOTSUPP); AF_UNSPEC is none
        raise SysError(EOPNOTSUPP if pair and domain != AF_UNSPEC else EAFNOSUPPORT)
    if protocol not in (0, AF_UNIX):
        raise SysError(EPROTONOSUPPORT)
    if sock_type == SOCK_RAW:
        sock_type = SOCK_DGRAM  # unix_create does the same
    if sock_type not in SOCK_TYPES:
        raise SysError(ESOCKTNOSUPPORT)
    return sock_type, flags


# inet_create's inetsw: the protocols each type has (None: any, as SOCK_RAW's IPPROTO_IP entry)
INET_PROTOCOLS = {SOCK_STREAM: (6,), SOCK_DGRAM: (17, 1, 136), SOCK_RAW: None}  # TCP; UDP, ICMP, UDPLITE
INET6_PROTOCOLS = {SOCK_STREAM: (6,), SOCK_DGRAM: (17, 58, 136), SOCK_RAW: None}  # TCP; UDP, ICMPV6, UDPLITE


def _inet_protocol(domain: int, sock_type: int, protocol: int) -> None:
    """inet_create's type and protocol lookup (inet6_create's likewise): ESOCKTNOSUPPORT for
    a type with no entry, EPROTONOSUPPORT for a protocol the type lacks (SOCK_RAW needs
    one). pykern has no IP sockets yet: what passes is EAFNOSUPPORT after all."""
    table = INET_PROTOCOLS if domain == AF_INET else INET6_PROTOCOLS
    if sock_type not in table:
        raise SysError(ESOCKTNOSUPPORT)
    protocols = table[sock_type]
    if protocols is None:
        if protocol == 0:
            raise SysError(EPROTONOSUPPORT)
    elif protocol != 0 and protocol not in protocols:
        raise SysError(EPROTONOSUPPORT)


@syscall("socket", INT, INT, INT, classes="network")
def sys_socket(task: Task, domain: int, sock_type: int, protocol: int) -> int:
    """socket(2): AF_UNIX (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW as
    SOCK_DGRAM) with SOCK_NONBLOCK and SOCK_CLOEXEC; any other family EAFNOSUPPORT."""
    sock_type, flags = _unix_type(domain, sock_type, protocol, pair=False)
    return task.group.files.install(UnixSocket(sock_type, flags & SOCK_NONBLOCK), bool(flags & SOCK_CLOEXEC))


@syscall("socketpair", INT, INT, INT, PTR, classes="network")
def sys_socketpair(task: Task, domain: int, sock_type: int, protocol: int, sv_addr: int) -> int:
    """socketpair(2): AF_UNIX only. Other families have no pairs: EOPNOTSUPP, or
    EAFNOSUPPORT for a number Linux does not know."""
    sock_type, flags = _unix_type(domain, sock_type, protocol, pair=True)
    install_pair(task, make_pair(task, sock_type, flags & SOCK_NONBLOCK), bool(flags & SOCK_CLOEXEC), sv_addr)
    return 0


# --- names and connections ------------------------------------------------------------------------


@syscall("bind", FD, PTR, INT, classes="network")
def sys_bind(task: Task, sockfd: int, addr: int, addrlen: int) -> int:
    """bind(2): a path (a new S_IFSOCK node, EADDRINUSE if the name exists), an abstract
    name (sun_path[0] == 0), or an automatic abstract name for a bare sun_family."""
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
    """connect(2). A Unix stream connection is made at once (never EINPROGRESS); a full
    backlog blocks, or EAGAIN for a non-blocking socket. Restartable."""
    sock = sockfd_lookup(task, sockfd, "connect")
    sock.connect(task, copy_in_address(task, addr, addrlen))
    return 0


def do_accept(task: Task, sockfd: int, addr: int, addrlen_addr: int, flags: int) -> int:
    if flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK):
        raise SysError(EINVAL)
    sock = sockfd_lookup(task, sockfd, "accept4")
    files = task.group.files
    files.lowest_free()  # EMFILE before a connection is taken
    new = sock.accept(task, flags)
    try:
        if addr:
            peer = new.peer
            give_address(task, (peer.addr if peer is not None else None) or FAMILY, addr, addrlen_addr)
        return files.install(new, bool(flags & SOCK_CLOEXEC))
    except BaseException:
        new.release()  # taken and lost, as Linux loses it
        raise


@syscall("accept", FD, PTR, PTR, classes="network")
def sys_accept(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """accept(2): the oldest waiting connection; the client's name (unnamed: sun_family
    alone). Restartable."""
    return do_accept(task, sockfd, addr, addrlen_addr, 0)


@syscall("accept4", FD, PTR, PTR, INT, classes="network")
def sys_accept4(task: Task, sockfd: int, addr: int, addrlen_addr: int, flags: int) -> int:
    """accept4(2): accept with SOCK_NONBLOCK and SOCK_CLOEXEC."""
    return do_accept(task, sockfd, addr, addrlen_addr, flags)


@syscall("getsockname", FD, PTR, PTR, classes="network")
def sys_getsockname(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """getsockname(2): the bound name, or sun_family alone for an unnamed socket."""
    sock = sockfd_lookup(task, sockfd, "getsockname")
    give_address(task, sock.addr or FAMILY, addr, addrlen_addr)
    return 0


@syscall("getpeername", FD, PTR, PTR, classes="network")
def sys_getpeername(task: Task, sockfd: int, addr: int, addrlen_addr: int) -> int:
    """getpeername(2): the peer's name; ENOTCONN without one."""
    sock = sockfd_lookup(task, sockfd, "getpeername")
    give_address(task, sock.peer_name(), addr, addrlen_addr)
    return 0


# --- sending and receiving ---------------------------------------------------------------------


def _destination(task: Task, sock: UnixSocket, address: bytes) -> UnixSocket | None:
    """A send's explicit destination (unix_*_sendmsg's msg_name rules): the connection-
    oriented types have none (EISCONN/EOPNOTSUPP for a stream, ignored when a seqpacket
    is connected); a datagram's is looked up (autobinding a sender with SO_PASSCRED)."""
    if not address:
        return None
    if sock.type == SOCK_STREAM:
        raise SysError(EISCONN if sock.state == TCP_ESTABLISHED else EOPNOTSUPP)
    if sock.type == SOCK_SEQPACKET:
        if sock.state != TCP_ESTABLISHED:
            raise SysError(ENOTCONN)
        return None
    validate_address(address)
    if sock.shutdown & SEND_SHUTDOWN:
        raise SysError(EPIPE)  # before the name is looked up
    if sock.passcred:
        sock.autobind(task)
    return find_other(task, address, sock.type)


def _sender_address(sock: UnixSocket, message: Message | None) -> bytes:
    """Who sent what was received (unix_copy_addr): a datagram's sender, a stream's peer;
    empty when unnamed, and at a stream's EOF (no message was read)."""
    if sock.type == SOCK_STREAM:
        return (sock.peer.addr if sock.peer is not None and message is not None else None) or b""
    return (message.sender if message is not None else None) or b""


@syscall("sendto", FD, PTR, SIZE, UINT, PTR, INT, classes="network")
def sys_sendto(task: Task, sockfd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen: int) -> int:
    """sendto(2) (and send(2)): to a bound datagram socket by name; MSG_DONTWAIT,
    MSG_NOSIGNAL."""
    sock = sockfd_lookup(task, sockfd, "sendto")
    data = task.mm.copy_in(buf_addr, length)
    address = copy_in_address(task, addr, addrlen) if addr else b""
    return sock.send(task, data, flags, None, _destination(task, sock, address))


@syscall("recvfrom", FD, PTR, SIZE, UINT, PTR, PTR, classes="network")
def sys_recvfrom(task: Task, sockfd: int, buf_addr: int, length: int, flags: int, addr: int, addrlen_addr: int) -> int:
    """recvfrom(2) (and recv(2)): MSG_DONTWAIT, MSG_PEEK, and MSG_TRUNC (a datagram's
    whole length); the sender's name (*addrlen 0 when it has none)."""
    sock = sockfd_lookup(task, sockfd, "recvfrom")
    data, whole, message = sock.recv(task, length, flags)
    if message is not None:
        message.discard()  # files sent to a call that takes none are closed
    task.mm.copy_out(buf_addr, data)
    if addr and addrlen_addr:
        give_address(task, _sender_address(sock, message), addr, addrlen_addr)
    return whole if flags & MSG_TRUNC and sock.type != SOCK_STREAM else len(data)


def _msghdr(task: Task, msg_addr: int) -> tuple[int, ...]:
    """The msghdr as __copy_msghdr takes it: a negative msg_namelen is EINVAL, a long one
    is clipped; no msg_name is no name."""
    name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack(task.mm.copy_in(msg_addr, MSGHDR.size))
    if namelen > INT_MAX:
        raise SysError(EINVAL)
    if not name:
        namelen = 0
    return name, min(namelen, SOCKADDR_STORAGE_SIZE), iov, iovlen, control, controllen, flags


def _capable(task: Task, capability: int) -> bool:
    return bool(task.group.creds.cap_effective >> capability & 1)


def _control_in(task: Task, control: bytes) -> Message:
    """__scm_send: each cmsg must fit (EINVAL); SCM_RIGHTS takes up to SCM_MAX_FD open
    files (EBADF), SCM_CREDENTIALS the caller's own ids unless privileged (EPERM); other
    SOL_SOCKET types are EINVAL, other levels ignored. The files are referenced only
    once all of it is valid."""
    files: list[File] = []
    creds = None
    offset = 0
    while len(control) - offset >= CMSGHDR.size:
        cmsg_len, level, kind = CMSGHDR.unpack_from(control, offset)
        if cmsg_len < CMSGHDR.size or cmsg_len > len(control) - offset:
            raise SysError(EINVAL)
        body = control[offset + CMSGHDR.size:offset + cmsg_len]
        if level == SOL_SOCKET:
            if kind == SCM_RIGHTS:
                count = len(body) // 4
                if len(files) + count > SCM_MAX_FD:
                    raise SysError(EINVAL)
                for index in range(count):
                    files.append(task.group.files.get(int.from_bytes(body[index * 4:index * 4 + 4], "little",
                                                                     signed=True)))
            elif kind == SCM_CREDENTIALS:
                if len(body) != UCRED.size:
                    raise SysError(EINVAL)
                pid, uid, gid = UCRED.unpack(body)
                if uid == 0xFFFFFFFF or gid == 0xFFFFFFFF:
                    raise SysError(EINVAL)
                ids = task.group.creds
                if not ((pid == task.group.tgid or _capable(task, CAP_SYS_ADMIN))
                        and (uid in (ids.uid, ids.euid, ids.suid) or _capable(task, CAP_SETUID))
                        and (gid in (ids.gid, ids.egid, ids.sgid) or _capable(task, CAP_SETGID))):
                    raise SysError(EPERM)
                creds = (pid, uid, gid)
            else:
                raise SysError(EINVAL)
        offset += (cmsg_len + CMSG_ALIGN - 1) & ~(CMSG_ALIGN - 1)
    if creds is None:
        creds = (task.group.tgid, task.group.creds.euid, task.group.creds.egid)
    return Message(b"", None, [file.get_file() for file in files], creds)


@syscall("sendmsg", FD, PTR, UINT, classes="network")
def sys_sendmsg(task: Task, sockfd: int, msg_addr: int, flags: int) -> int:
    """sendmsg(2): the iovecs gathered into one send, with a datagram's destination and
    the control messages SCM_RIGHTS and SCM_CREDENTIALS."""
    sock = sockfd_lookup(task, sockfd, "sendmsg")
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    address = copy_in_address(task, name, namelen) if namelen else b""
    if controllen > INT_MAX:
        raise SysError(ENOBUFS)
    control_data = task.mm.copy_in(control, controllen) if controllen else b""
    vectors = iovecs(task, iov, iovlen)
    data = b"".join(task.mm.copy_in(base, length) for base, length in vectors)
    if sock.type == SOCK_SEQPACKET and sock.state != TCP_ESTABLISHED:
        raise SysError(ENOTCONN)  # unix_seqpacket_sendmsg, before the control messages
    extra = _control_in(task, control_data)  # scm_send comes before the destination
    try:
        return sock.send(task, data, flags, extra, _destination(task, sock, address))
    finally:
        extra.discard()  # what the send did not queue


def _put_cmsg(out: bytearray, room: int, kind: int, body: bytes) -> tuple[int, bool]:
    """put_cmsg: one control message into what is left of the buffer; (the space it
    took, whether it was cut)."""
    if room < CMSGHDR.size:
        return 0, True
    length = CMSGHDR.size + len(body)
    cut = room < length
    length = min(length, room)
    out += (CMSGHDR.pack(length, SOL_SOCKET, kind) + body)[:length]
    space = min((CMSGHDR.size + len(body) + CMSG_ALIGN - 1) & ~(CMSG_ALIGN - 1), room)
    out += bytes(space - length)
    return space, cut


def _control_out(task: Task, sock: UnixSocket, message: Message | None, controllen: int, flags: int) -> tuple[
        bytes, bool]:
    """scm_recv: SCM_CREDENTIALS when the receiver asked (SO_PASSCRED), then the passed
    files as new descriptors (scm_detach_fds): as many as fit; the rest are closed and
    MSG_CTRUNC says so. Returns the control bytes and whether anything was cut."""
    out = bytearray()
    room = controllen
    cut = False
    if sock.passcred:
        creds = message.creds if message is not None and message.creds is not None else (0, 0xFFFFFFFF, 0xFFFFFFFF)
        used, cut = _put_cmsg(out, room, SCM_CREDENTIALS, UCRED.pack(*creds))
        room -= used
    rights = message.rights if message is not None else []
    if rights:
        fit = min(max((room - CMSGHDR.size) // 4, 0), len(rights))
        fds = []
        files = task.group.files
        for file in rights[:fit]:
            try:
                fds.append(files.install(file, bool(flags & MSG_CMSG_CLOEXEC)))
            except SysError:
                break
        if fds:
            used, _ = _put_cmsg(out, room, SCM_RIGHTS, b"".join(fd.to_bytes(4, "little") for fd in fds))
            room -= used
        if len(fds) < len(rights):
            cut = True
        message.discard()  # installed ones hold their own references now
    return bytes(out), cut


@syscall("recvmsg", FD, PTR, UINT, classes="network")
def sys_recvmsg(task: Task, sockfd: int, msg_addr: int, flags: int) -> int:
    """recvmsg(2): scattered over the iovecs; the sender's name; control messages
    (SCM_CREDENTIALS with SO_PASSCRED, SCM_RIGHTS); msg_flags gets MSG_TRUNC when a
    datagram was cut and MSG_CTRUNC when control data was."""
    sock = sockfd_lookup(task, sockfd, "recvmsg")
    name, namelen, iov, iovlen, control, controllen, _ = _msghdr(task, msg_addr)
    vectors = iovecs(task, iov, iovlen)
    data, whole, message = sock.recv(task, sum(length for _, length in vectors), flags)
    try:
        scatter(task, vectors, data)
        control_data, cut = _control_out(task, sock, message, min(controllen, INT_MAX) if control else 0, flags)
    finally:
        if message is not None:
            message.discard()
    if control_data:
        task.mm.copy_out(control, control_data)
    truncated = sock.type != SOCK_STREAM and whole > len(data)
    # msg_flags also carries MSG_CMSG_CLOEXEC back, as ____sys_recvmsg leaves it there
    msg_flags = (MSG_TRUNC if truncated else 0) | (MSG_CTRUNC if cut else 0) | (flags & MSG_CMSG_CLOEXEC)
    if name:
        give_address(task, _sender_address(sock, message), name, msg_addr + 8)
    task.mm.copy_out(msg_addr + 40, len(control_data).to_bytes(8, "little"))
    task.mm.copy_out_i32(msg_addr + 48, msg_flags)
    return whole if flags & MSG_TRUNC and sock.type != SOCK_STREAM else len(data)


@syscall("shutdown", FD, INT, classes="network")
def sys_shutdown(task: Task, sockfd: int, how: int) -> int:
    """shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR; the peer of a connection sees the
    other half (EOF to read, EPIPE to write)."""
    sock = sockfd_lookup(task, sockfd, "shutdown")
    if not 0 <= how <= 2:
        raise SysError(EINVAL)
    sock.shut(how)
    return 0


# --- options -----------------------------------------------------------------------------------


@syscall("getsockopt", FD, INT, INT, PTR, PTR, classes="network")
def sys_getsockopt(task: Task, sockfd: int, level: int, optname: int, optval_addr: int, optlen_addr: int) -> int:
    """getsockopt(2) at SOL_SOCKET: SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR (and clear
    it), SO_SNDBUF, SO_RCVBUF, SO_ACCEPTCONN, SO_PASSCRED, SO_PEERCRED; anything else
    ENOPROTOOPT."""
    sock = sockfd_lookup(task, sockfd, "getsockopt")
    length = task.mm.copy_in_i32(optlen_addr)
    if length < 0:
        raise SysError(EINVAL)
    if level != SOL_SOCKET:
        raise SysError(EOPNOTSUPP)
    if optname == SO_PEERCRED:
        creds = sock.host_peercred() if sock.host is not None else \
            sock.peercred or (0, 0xFFFFFFFF, 0xFFFFFFFF)  # cred_to_ucred without a peer
        value = UCRED.pack(*creds)
    else:
        if optname == SO_ERROR:
            number, sock.error = sock.error, 0
        else:
            values = {SO_TYPE: sock.type, SO_DOMAIN: AF_UNIX, SO_PROTOCOL: 0, SO_SNDBUF: sock.sndbuf,
                      SO_RCVBUF: sock.rcvbuf, SO_ACCEPTCONN: int(sock.state == TCP_LISTEN),
                      SO_PASSCRED: int(sock.passcred)}
            if optname not in values:
                raise SysError(ENOPROTOOPT)
            number = values[optname]
        value = number.to_bytes(4, "little", signed=True)
    length = min(length, len(value))
    task.mm.copy_out(optval_addr, value[:length])
    task.mm.copy_out_i32(optlen_addr, length)
    return 0


@syscall("setsockopt", FD, INT, INT, PTR, INT, classes="network")
def sys_setsockopt(task: Task, sockfd: int, level: int, optname: int, optval_addr: int, optlen: int) -> int:
    """setsockopt(2) at SOL_SOCKET: SO_SNDBUF and SO_RCVBUF (stored doubled, as Linux
    does), SO_PASSCRED; anything else ENOPROTOOPT."""
    sock = sockfd_lookup(task, sockfd, "setsockopt")
    if level != SOL_SOCKET:
        raise SysError(EOPNOTSUPP)
    if optname not in (SO_SNDBUF, SO_RCVBUF, SO_PASSCRED):
        raise SysError(ENOPROTOOPT)
    if optlen < 4:
        raise SysError(EINVAL)
    number = task.mm.copy_in_i32(optval_addr)
    if optname == SO_PASSCRED:
        sock.passcred = bool(number)
        return 0
    value = max(number, 0) * 2
    if optname == SO_SNDBUF:
        sock.sndbuf = max(value, 4608)  # SOCK_MIN_SNDBUF
    else:
        sock.rcvbuf = max(value, 2304)  # SOCK_MIN_RCVBUF
    return 0
