"""Unix-domain sockets (Linux's net/unix/af_unix.c): socketpair(2)'s connected pairs and
socket(2)'s named sockets, bound to a path in the guest's tree or in the abstract namespace.
UnixSocket implements pykern.net.Socket's operations (proto_ops) for syscalls/socket.py;
the SCM_RIGHTS/SCM_CREDENTIALS control messages (net/core/scm.c) are read and written here.

Each socket has its own receive queue, and sending appends to the peer's. SOCK_STREAM
queues bytes (a pipe each way, but both ends read and write); SOCK_DGRAM and
SOCK_SEQPACKET queue whole messages, and a read shorter than the message takes its head
and drops the rest (MSG_TRUNC says so).

- Names: `kernel.unix_names` maps a bound name to its socket: ("path", the S_IFSOCK
  node's inode key) for a path, so two guest processes meet through any path to the same
  node (as fifo.py keys FIFOs); ("abstract", the type, the name bytes) for the abstract
  namespace, which Linux hashes with the socket type: the same name may be bound once
  per type, and a connect finds only its own type's (ECONNREFUSED, not EPROTOTYPE).
  Closing the socket removes its entry (a path's becomes CLOSED: the node stays, and a
  connect to it gets ECONNREFUSED, not the host daemon treatment below).
- Connections (unix_stream_connect): connect makes the server's end at once (Linux's
  embryo), connected to the client, and queues it on the listener; accept takes it. A
  listener with more than `backlog` waiting makes connect sleep (on its `room` queue) or
  fail with EAGAIN. The client never sees EINPROGRESS.
- Ancillary data: a message carries the sender's name (datagrams), the files passed with
  SCM_RIGHTS (each holds a reference while in flight) and the sender's credentials
  (SCM_CREDENTIALS). A stream keeps them as marks over byte ranges; a read stops at the
  end of a range that carried files, as unix_stream_read_generic does.
- shutdown(SHUT_WR) on one end is SHUT_RD on the other for the connection-oriented
  types: the peer reads EOF once the queue is empty, and this end's writes fail with
  EPIPE (and SIGPIPE unless MSG_NOSIGNAL). Closing an end does both to the peer; an end
  closed with unread data (or never accepted) leaves the peer ECONNRESET.
- A write to a full queue sleeps (on the receiver's `room` queue) or fails with EAGAIN;
  a stream write larger than the room goes in as room appears, with the bytes already
  written kept in the task's restart_block, as a pipe write does.
- poll is unix_poll: POLLIN when the queue has data, a connection waits to be accepted,
  or reading is shut down (then also POLLRDHUP), POLLHUP when both directions are (or an
  unconnected stream socket), POLLOUT while the peer's queue has room (never a listener).

- A host daemon's socket: connect to a path that is a socket on the host's tree that no
  guest socket is bound to connects a host socket to it (through the node's O_PATH fd, as
  /proc/self/fd/N), and the guest socket then sends, receives, polls and shuts down through
  it without blocking pykern (EAGAIN becomes a sleep on the host fd). Files passed to a
  host peer (SCM_RIGHTS) are not supported (EOPNOTSUPP); SO_PEERCRED gives its ids with
  pid 0 (a process outside the guest's pid namespace).
"""

from __future__ import annotations

import itertools
import select
import socket as host_socket
import struct
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from pykern.abi import (
    AF_UNIX,
    AT_FDCWD,
    CAP_SETGID,
    CAP_SETUID,
    CAP_SYS_ADMIN,
    CMSGHDR,
    EADDRINUSE,
    EAGAIN,
    ECONNREFUSED,
    ECONNRESET,
    EEXIST,
    EINVAL,
    EISCONN,
    EMSGSIZE,
    ENOENT,
    ENOPROTOOPT,
    ENOTCONN,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    EPROTOTYPE,
    FIONREAD,
    MSG_CMSG_CLOEXEC,
    MSG_CTRUNC,
    MSG_DONTWAIT,
    MSG_NOSIGNAL,
    MSG_PEEK,
    MSG_TRUNC,
    O_NONBLOCK,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    S_IFMT,
    S_IFSOCK,
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
    SOCK_DGRAM,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    SOCKADDR_UN_SIZE,
    SOL_SOCKET,
    UCRED,
    W_OK,
)
from pykern.errors import Block, SysError, ends_with
from pykern.fs.file import File
from pykern.fs.hostfs import HostInode
from pykern.fs.hostio import host_error
from pykern.fs.namei import LAST_NORM, parent_walk, path_walk
from pykern.net import Delivery, Received, Socket
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.task import Task

RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2  # sk->sk_shutdown bits
SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN
TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN = 1, 7, 10  # sk->sk_state, as Linux numbers them
STREAM_CAPACITY = 212992  # bytes queued per receiver: Linux's default sk_sndbuf (net.core.wmem_default)
MAX_DGRAM_QLEN = 512  # messages queued per receiver (net.unix.max_dgram_qlen)
CMSG_ALIGN = 8
SUN_PATH_OFFSET = 2  # offsetof(struct sockaddr_un, sun_path): an unnamed socket's address length
FAMILY = AF_UNIX.to_bytes(2, "little")
CLOSED = "closed"  # kernel.unix_names' entry for a path whose guest socket has closed
_autobind_numbers = itertools.count(0x10000)

Creds = tuple[int, int, int]  # struct ucred: pid, uid, gid
UCRED_HOST = struct.Struct("<iII")  # the host's struct ucred


def current_creds(task: Task) -> Creds:
    """The caller's credentials as SO_PEERCRED and SCM_CREDENTIALS give them."""
    creds = task.group.creds
    return task.group.tgid, creds.euid, creds.egid


class Message:
    """What one send carries besides its bytes: the sender's name (a datagram's, None
    when unnamed), the files passed (SCM_RIGHTS; a reference each while in flight) and
    the sender's credentials. For a stream, `end` is where its bytes end in the stream."""

    __slots__ = ("data", "sender", "rights", "creds", "end")

    def __init__(self, data: bytes, sender: bytes | None = None, rights: list[File] | None = None,
                 creds: Creds | None = None) -> None:
        self.data = data
        self.sender = sender
        self.rights = rights or []
        self.creds = creds
        self.end = 0

    def discard(self) -> None:
        """The files of a message nobody will receive (a read(2), a closed receiver)."""
        rights, self.rights = self.rights, []
        for file in rights:
            file.fput()


class UnixSocket(Socket):
    family = AF_UNIX

    def __init__(self, sock_type: int, flags: int) -> None:
        super().__init__(sock_type, flags)
        self.state = TCP_CLOSE
        self.peer: UnixSocket | None = None
        self.dead = False  # closed (its peer may still point at it)
        self.shutdown = 0  # RCV_SHUTDOWN | SEND_SHUTDOWN
        self.error = 0  # sk_err: reported once, by the next receive on an empty queue
        self.stream = bytearray()  # SOCK_STREAM's receive queue
        self.stream_head = 0  # how many bytes the stream has ever taken from its queue
        self.marks: deque[Message] = deque()  # a stream's ancillary data, by the end of its bytes
        self.messages: deque[Message] = deque()  # SOCK_DGRAM/SOCK_SEQPACKET's
        self.data_ready = WaitQueue("unix_recv")  # receivers (and accept) sleep here
        self.room = WaitQueue("unix_send")  # the peer's senders (and connect) sleep here, for room
        self.sndbuf = self.rcvbuf = STREAM_CAPACITY
        self.addr: bytes | None = None  # the bound sockaddr_un (as getsockname gives it)
        self.name_key: Hashable | None = None  # its key in kernel.unix_names
        self.names: dict | None = None  # that table
        self.backlog = 0
        self.pending: deque[UnixSocket] = deque()  # a listener's connections not yet accepted
        self.peercred: Creds | None = None  # SO_PEERCRED
        self.passcred = False  # SO_PASSCRED
        self.host: host_socket.socket | None = None  # connected to a host daemon's socket instead
        self.host_name = b""  # the address connect gave for it (getpeername)
        self.host_target: HostInode | None = None  # the host's socket node it connects to

    @property
    def connection_oriented(self) -> bool:
        return self.type in (SOCK_STREAM, SOCK_SEQPACKET)

    def queued(self) -> int:
        return len(self.stream) if self.type == SOCK_STREAM else sum(len(m.data) for m in self.messages)

    def _wake_both(self) -> None:
        self.data_ready.wake_all()
        self.room.wake_all()

    # --- receiving ----------------------------------------------------------------------

    def read(self, task: Task, size: int) -> bytes:
        data, _, message = self.recv(task, size, 0)
        if message is not None:
            message.discard()
        return data

    def recv(self, task: Task, size: int, flags: int) -> tuple[bytes, int, Message | None]:
        """unix_*_recvmsg: (the bytes, the message's whole length, what came with them)
        or EOF (b"", 0, None). The caller owns the returned message's files."""
        if self.host is not None:
            return self._host_recv(size, flags)
        if self.state != TCP_ESTABLISHED and self.connection_oriented:
            raise SysError(EINVAL if self.type == SOCK_STREAM else ENOTCONN)
        empty = not (self.stream if self.type == SOCK_STREAM else self.messages)
        if empty:
            if self.error:
                error, self.error = self.error, 0
                raise SysError(error)
            nonblocking = self.nonblocking or flags & MSG_DONTWAIT
            if self.type != SOCK_STREAM and nonblocking:
                # __skb_recv_datagram: a shutdown counts only for a sleeper, except that a
                # disconnected SOCK_SEQPACKET signals EOF (__unix_dgram_recvmsg)
                if self.type == SOCK_SEQPACKET and self.shutdown & RCV_SHUTDOWN:
                    return b"", 0, None
                raise SysError(EAGAIN)
            if self.shutdown & RCV_SHUTDOWN or (size == 0 and self.type == SOCK_STREAM):
                return b"", 0, None
            if nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.data_ready)
        if self.type == SOCK_STREAM:
            return self._stream_recv(size, flags)
        message = self.messages[0] if flags & MSG_PEEK else self.messages.popleft()
        if not flags & MSG_PEEK:
            self.room.wake_all()
            return message.data[:size], len(message.data), message
        # a peek passes the files too, as new references (scm_fp_dup: "questionable", says Linux)
        return message.data[:size], len(message.data), Message(b"", message.sender, _dup(message.rights),
                                                                message.creds)

    def _stream_recv(self, size: int, flags: int) -> tuple[bytes, int, Message | None]:
        """Bytes from the stream's head; a read takes the files of the first range it
        reaches that carried some and stops at that range's end."""
        mark = None
        for candidate in self.marks:
            if candidate.end - self.stream_head <= 0:
                continue
            if candidate.rights or mark is None:
                mark = candidate
            if candidate.rights:
                size = min(size, candidate.end - self.stream_head)
                break
            if candidate.end - self.stream_head >= size:
                break
        data = bytes(self.stream[:size])
        if flags & MSG_PEEK:
            return data, len(data), None if mark is None else Message(b"", None, _dup(mark.rights), mark.creds)
        del self.stream[:size]
        self.stream_head += len(data)
        received = None
        if mark is not None:
            received = Message(b"", None, mark.rights, mark.creds)
            mark.rights = []
        while self.marks and self.marks[0].end <= self.stream_head:
            self.marks.popleft().discard()
        self.room.wake_all()
        return data, len(data), received

    # --- sending ------------------------------------------------------------------------

    def write(self, task: Task, data: bytes) -> int:
        return self.send(task, data, 0)

    def _broken(self, task: Task, flags: int) -> SysError:
        if not flags & MSG_NOSIGNAL:
            task.kernel.signals.send_sigpipe(task)
        return SysError(EPIPE)

    def send(self, task: Task, data: bytes, flags: int, extra: Message | None = None,
             target: UnixSocket | None = None) -> int:
        """unix_stream_sendmsg / unix_dgram_sendmsg, to the peer's queue (or a datagram's
        `target`). `extra` carries the files and credentials; they go with the first
        bytes queued, and back to the caller (who drops them) if nothing is."""
        if self.host is not None:
            return self._host_send(task, data, flags, extra)
        peer = self.peer if target is None else target
        block = task.restart_block
        done = block.unix_sent if block is not None else 0
        if self.type == SOCK_STREAM:
            if peer is None or self.state != TCP_ESTABLISHED:
                raise SysError(ENOTCONN)
            if self.shutdown & SEND_SHUTDOWN or peer.dead or peer.shutdown & RCV_SHUTDOWN:
                if done:
                    return done
                raise self._broken(task, flags)  # a stream's EPIPE comes with SIGPIPE
        else:
            # unix_seqpacket_sendmsg and unix_dgram_sendmsg, in the order Linux 6.18 checks:
            # a pending error, the connection (seqpacket), our shutdown, the peer; their
            # EPIPE has no SIGPIPE
            if self.type == SOCK_SEQPACKET:
                if self.error:
                    error, self.error = self.error, 0
                    raise SysError(error)
                if self.state != TCP_ESTABLISHED:
                    raise SysError(ENOTCONN)
            if self.shutdown & SEND_SHUTDOWN:
                raise SysError(EPIPE)
            if peer is None:
                raise SysError(ENOTCONN)
            if target is not None and target.peer is not None and target.peer is not self:
                raise SysError(EPERM)  # unix_may_send: it is connected to somebody else (even a closed one)
            if peer.dead:
                if self.type == SOCK_SEQPACKET:
                    raise SysError(EPIPE)
                if target is None:  # a datagram peer that is gone: refused once, then not connected
                    self.peer = None
                raise SysError(ECONNREFUSED)
            if peer.shutdown & RCV_SHUTDOWN:
                raise SysError(EPIPE)
        nonblocking = self.nonblocking or flags & MSG_DONTWAIT
        if extra is None:
            extra = Message(b"", None, None, current_creds(task))
        if self.type != SOCK_STREAM:
            if len(data) > self.sndbuf:
                raise SysError(EMSGSIZE)
            if len(peer.messages) >= MAX_DGRAM_QLEN or peer.queued() + len(data) > peer.rcvbuf:
                if nonblocking:
                    raise SysError(EAGAIN)
                raise Block(peer.room)
            message = Message(bytes(data), self.addr, extra.rights, extra.creds)
            extra.rights = []
            peer.messages.append(message)
            peer.data_ready.wake_all()
            return len(data)
        if done:
            extra.discard()  # a resumed write: its files went with the first chunk
        room = STREAM_CAPACITY - len(peer.stream)
        remaining = data[done:]
        if not remaining:
            return done
        if room <= 0:
            if nonblocking:
                if done:
                    return done
                raise SysError(EAGAIN)
            raise Block(peer.room, on_signal=ends_with(done))  # a signal: return the count
        chunk = remaining[:room]
        peer.stream += chunk
        mark = Message(b"", None, extra.rights, extra.creds)  # the files go with the first chunk
        extra.rights = []
        mark.end = peer.stream_head + len(peer.stream)
        peer.marks.append(mark)
        peer.data_ready.wake_all()
        done += len(chunk)
        if done < len(data) and not nonblocking:
            task.restart_state().unix_sent = done
            raise Block(peer.room, on_signal=ends_with(done))
        return done

    # --- names and connections -------------------------------------------------------------

    def bind(self, task: Task, address: bytes) -> None:
        """unix_bind: autobind for a bare family, else a path or an abstract name."""
        if len(address) == SUN_PATH_OFFSET and address == FAMILY:
            self.autobind(task)
            return
        validate_address(address)
        names = task.kernel.unix_names
        if address[SUN_PATH_OFFSET] == 0:
            if self.addr is not None:
                raise SysError(EINVAL)
            key: Hashable = ("abstract", self.type, address[SUN_PATH_OFFSET:])
            if key in names:
                raise SysError(EADDRINUSE)
            self._set_name(names, key, address)
            return
        path = path_of(address)
        parent = parent_walk(task, AT_FDCWD, path)
        if parent.kind != LAST_NORM:
            raise SysError(EADDRINUSE)  # ".", ".." or "/": kern_path_create's EEXIST
        found = parent.child()
        if found.location is not None or found.file is not None:
            raise SysError(EADDRINUSE)
        if parent.trailing_slash:
            raise SysError(ENOENT)
        task.kernel.mounts.check_writable(parent.directory)
        directory = parent.directory.inode
        try:
            directory.mknod(task, parent.name, S_IFSOCK | 0o777, 0)  # the umask applies
        except SysError as error:
            if error.errno == EEXIST:
                raise SysError(EADDRINUSE) from None
            raise
        if self.addr is not None:  # bound meanwhile: the new node goes again (unix_bind_bsd)
            try:
                directory.unlink(task, parent.name)
            except SysError:
                pass
            raise SysError(EINVAL)
        node = directory.lookup(task, parent.name)
        self._set_name(names, ("path", node.key()), FAMILY + path + b"\0")

    def autobind(self, task: Task) -> None:
        """unix_autobind: an abstract name of five hex digits, unless already named."""
        if self.addr is not None:
            return
        names = task.kernel.unix_names
        while True:
            name = b"\0" + f"{next(_autobind_numbers) & 0xFFFFF:05x}".encode()
            if ("abstract", self.type, name) not in names:
                break
        self._set_name(names, ("abstract", self.type, name), FAMILY + name)

    def _set_name(self, names: dict, key: Hashable, address: bytes) -> None:
        names[key] = self
        self.addr, self.name_key, self.names = address, key, names

    def listen(self, task: Task, backlog: int) -> None:
        """unix_listen."""
        if not self.connection_oriented:
            raise SysError(EOPNOTSUPP)
        if self.addr is None or self.state not in (TCP_CLOSE, TCP_LISTEN):
            raise SysError(EINVAL)
        if backlog > self.backlog:
            self.room.wake_all()
        self.backlog = backlog
        self.state = TCP_LISTEN
        self.peercred = current_creds(task)

    def connect(self, task: Task, address: bytes) -> None:
        """unix_stream_connect (the connection-oriented types) and unix_dgram_connect."""
        if not self.connection_oriented:
            if len(address) >= SUN_PATH_OFFSET and address[:2] == b"\0\0":  # AF_UNSPEC: disconnect
                self.peer = None
                self._host_drop()
                return
            validate_address(address)
            if self.passcred:
                self.autobind(task)
            other = find_other(task, address, self.type, host_ok=True)
            self._host_drop()
            if isinstance(other, HostInode):
                self._host_connect(task, address, other)
                return
            if other.peer is not None and other.peer is not self:
                raise SysError(EPERM)  # unix_may_send
            self.peer = other
            self.state = TCP_ESTABLISHED
            return
        validate_address(address)
        if self.passcred:
            self.autobind(task)
        if self.host is not None:  # a host connect that had to wait: try it again
            if self.state == TCP_ESTABLISHED:
                raise SysError(EISCONN)
            self._host_connect(task, address, None)
            return
        other = find_other(task, address, self.type, host_ok=True)
        if isinstance(other, HostInode):
            if self.state != TCP_CLOSE:
                raise SysError(EISCONN if self.state == TCP_ESTABLISHED else EINVAL)
            self._host_connect(task, address, other)
            return
        if other.state != TCP_LISTEN or other.shutdown & RCV_SHUTDOWN:
            raise SysError(ECONNREFUSED)
        if len(other.pending) > other.backlog:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(other.room)
        if self.state == TCP_ESTABLISHED:
            raise SysError(EISCONN)
        if self.state != TCP_CLOSE:
            raise SysError(EINVAL)
        embryo = UnixSocket(self.type, 0)
        embryo.state = self.state = TCP_ESTABLISHED
        embryo.peer, self.peer = self, embryo
        embryo.addr = other.addr
        embryo.peercred = current_creds(task)
        embryo.passcred = other.passcred
        self.peercred = other.peercred
        other.pending.append(embryo)
        other.data_ready.wake_all()

    def accept(self, task: Task, flags: int) -> tuple[UnixSocket, bytes]:
        """unix_accept: the oldest waiting connection, as a socket with `flags`, and the
        client's name (unnamed: sun_family alone)."""
        if not self.connection_oriented:
            raise SysError(EOPNOTSUPP)
        if self.state != TCP_LISTEN:
            raise SysError(EINVAL)
        if not self.pending:
            if self.nonblocking:
                raise SysError(EAGAIN)
            raise Block(self.data_ready)
        embryo = self.pending.popleft()
        embryo.flags |= flags & O_NONBLOCK
        self.room.wake_all()
        peer = embryo.peer
        return embryo, (peer.addr if peer is not None else None) or FAMILY

    def peer_name(self) -> bytes:
        """getpeername's address: ENOTCONN without a peer. A peer that has closed still
        answers (unix_peer_get: the closing end forgets us, we do not forget it)."""
        if self.host is not None and self.state == TCP_ESTABLISHED:
            return self.host_name
        peer = self.peer
        if peer is None:
            raise SysError(ENOTCONN)
        return peer.addr or FAMILY

    # --- the connection -----------------------------------------------------------------

    def shut(self, task: Task, how: int) -> None:
        """unix_shutdown: `how` is SHUT_RD/SHUT_WR/SHUT_RDWR (0/1/2)."""
        mode = how + 1
        if self.host is not None:
            try:
                self.host.shutdown(how)
            except OSError:
                pass
        self.shutdown |= mode
        self._wake_both()
        peer = self.peer
        if peer is not None and self.connection_oriented:
            peer.shutdown |= (SEND_SHUTDOWN if mode & RCV_SHUTDOWN else 0) | (RCV_SHUTDOWN if mode & SEND_SHUTDOWN else 0)
            peer._wake_both()

    def release(self, embryo: bool = False) -> None:
        """unix_release_sock: the peer can no longer send here nor read more from us;
        the name is free again; connections never accepted are dropped."""
        self.dead = True
        unread = bool(self.stream or self.messages)
        if self.host is not None:
            self.host.close()
        if self.names is not None and self.names.get(self.name_key) is self:
            if self.name_key[0] == "path":  # type: ignore[index]
                self.names[self.name_key] = CLOSED  # a guest's node, not a host daemon's
            else:
                del self.names[self.name_key]
        for message in list(self.messages) + list(self.marks):
            message.discard()
        self.messages.clear()
        self.marks.clear()
        while self.pending:
            self.pending.popleft().release(embryo=True)
        self._wake_both()
        peer = self.peer
        if peer is None:
            return
        if self.connection_oriented:
            peer.shutdown = SHUTDOWN_MASK
            if unread or embryo:  # we leave unread data: the peer sees a reset
                peer.error = ECONNRESET
        peer._wake_both()

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """unix_poll (unix_dgram_poll for datagrams, the same here); a host connection
        asks the host."""
        if self.host is not None and self.state == TCP_ESTABLISHED:
            return self._host_poll(events)
        mask = POLLERR if self.error else 0
        if self.shutdown == SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.shutdown & RCV_SHUTDOWN:
            mask |= POLLRDHUP | POLLIN | POLLRDNORM
        if self.stream or self.messages or self.pending:
            mask |= POLLIN | POLLRDNORM
        if self.state == TCP_LISTEN:
            return mask, (self.data_ready,), ()
        if self.connection_oriented and self.state == TCP_CLOSE:
            mask |= POLLHUP
        peer = self.peer
        if peer is None or peer.dead or peer.queued() < (STREAM_CAPACITY if self.type == SOCK_STREAM
                                                          else peer.rcvbuf):
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND
        waits = (self.data_ready,) if peer is None else (self.data_ready, peer.room)
        return mask, waits, ()

    # --- a connection to a host daemon's socket ----------------------------------------------

    def _host_connect(self, task: Task, address: bytes, node: HostInode | None) -> None:
        """connect(2) of a host socket to the host's socket `node` (None: the one a
        connect that had to wait tried), through its O_PATH fd. Non-blocking: a full
        backlog is EAGAIN, or a sleep and a retry, as for a guest listener."""
        if self.host is None:
            try:
                self.host = host_socket.socket(host_socket.AF_UNIX, self.type | host_socket.SOCK_NONBLOCK
                                               | host_socket.SOCK_CLOEXEC)
            except OSError as error:
                raise host_error(error) from None
            self.host_target = node
        try:
            self.host.connect(self.host_target.host_path())  # type: ignore[union-attr]
        except BlockingIOError:
            if self.nonblocking:
                self._host_drop()
                raise SysError(EAGAIN) from None
            raise Block(deadline=_retry_deadline(task)) from None
        except OSError as error:
            self._host_drop()
            raise host_error(error) from None
        self.state = TCP_ESTABLISHED
        self.host_target = None
        self.host_name = address if address[SUN_PATH_OFFSET] == 0 else FAMILY + path_of(address) + b"\0"

    def _host_drop(self) -> None:
        if self.host is not None:
            self.host.close()
            self.host = None
            self.host_target = None
            if not self.connection_oriented:
                self.state = TCP_CLOSE

    def _host_wait(self, mode: str, flags: int,
                   on_signal: Callable[[Task], int] | None = None) -> Block | SysError:
        if self.nonblocking or flags & MSG_DONTWAIT:
            return SysError(EAGAIN)
        return Block(host_fds=((self.host.fileno(), mode),), on_signal=on_signal)  # type: ignore[union-attr]

    def _host_recv(self, size: int, flags: int) -> tuple[bytes, int, Message | None]:
        if self.state != TCP_ESTABLISHED:
            raise SysError(EINVAL if self.type == SOCK_STREAM else ENOTCONN)
        host = self.host
        assert host is not None
        try:
            data, _, msg_flags, _ = host.recvmsg(size, 0, host_socket.MSG_DONTWAIT | (flags & MSG_PEEK))
        except BlockingIOError:
            raise self._host_wait("r", flags) from None
        except OSError as error:
            raise host_error(error) from None
        whole = len(data) + (1 if msg_flags & host_socket.MSG_TRUNC else 0)  # cut: longer than we took
        return data, whole, None

    def _host_send(self, task: Task, data: bytes, flags: int, extra: Message | None) -> int:
        if self.state != TCP_ESTABLISHED:
            raise SysError(ENOTCONN)
        if extra is not None and extra.rights:
            raise SysError(EOPNOTSUPP)  # files are guest objects: the host peer cannot take them
        host = self.host
        assert host is not None
        block = task.restart_block
        done = block.unix_sent if block is not None else 0
        remaining = data[done:]
        try:
            sent = host.send(remaining, host_socket.MSG_DONTWAIT | host_socket.MSG_NOSIGNAL) if remaining else 0
        except BlockingIOError:
            if done and (self.nonblocking or flags & MSG_DONTWAIT):
                return done
            raise self._host_wait("w", flags, on_signal=ends_with(done)) from None
        except BrokenPipeError:
            if done:
                return done
            raise self._broken(task, flags) from None
        except OSError as error:
            raise host_error(error) from None
        done += sent
        if self.type == SOCK_STREAM and done < len(data) and not (self.nonblocking or flags & MSG_DONTWAIT):
            task.restart_state().unix_sent = done
            raise Block(host_fds=((host.fileno(), "w"),), on_signal=ends_with(done))
        return done

    def _host_poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        host = self.host
        assert host is not None
        poller = select.poll()
        poller.register(host.fileno(), select.POLLIN | select.POLLOUT | select.POLLRDHUP)
        ready = poller.poll(0)
        mask = ready[0][1] if ready else 0  # the host's bits are Linux's, as the guest's
        waits = []
        if events & (POLLIN | POLLRDNORM | POLLRDHUP):
            waits.append((host.fileno(), "r"))
        if events & (POLLOUT | POLLWRNORM):
            waits.append((host.fileno(), "w"))
        return mask, (), tuple(waits)

    def host_peercred(self) -> Creds:
        """SO_PEERCRED of a host peer: its ids, and pid 0 (outside the guest's pids)."""
        assert self.host is not None
        try:
            _, uid, gid = UCRED_HOST.unpack(self.host.getsockopt(host_socket.SOL_SOCKET, host_socket.SO_PEERCRED,
                                                                 UCRED_HOST.size))
        except OSError:
            return 0, 0xFFFFFFFF, 0xFFFFFFFF
        return 0, uid, gid

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if request == FIONREAD:  # SIOCINQ: bytes queued (the next message's, for datagrams)
            size = len(self.stream) if self.type == SOCK_STREAM else (
                len(self.messages[0].data) if self.messages else 0)
            task.mm.copy_out_u32(arg_addr, size)
            return 0
        return super().ioctl(task, request, arg_addr)

    # --- proto_ops: what syscalls/socket.py calls ------------------------------------------

    def getname(self, task: Task, peer: bool) -> bytes:
        """unix_getname: the bound name, or sun_family alone; the peer's (ENOTCONN)."""
        return self.peer_name() if peer else self.addr or FAMILY

    def _destination(self, task: Task, address: bytes) -> UnixSocket | None:
        """A send's explicit destination (unix_*_sendmsg's msg_name rules): the connection-
        oriented types have none (EISCONN/EOPNOTSUPP for a stream, ignored when a seqpacket
        is connected); a datagram's is looked up (autobinding a sender with SO_PASSCRED)."""
        if not address:
            return None
        if self.type == SOCK_STREAM:
            raise SysError(EISCONN if self.state == TCP_ESTABLISHED else EOPNOTSUPP)
        if self.type == SOCK_SEQPACKET:
            if self.state != TCP_ESTABLISHED:
                raise SysError(ENOTCONN)
            return None
        validate_address(address)
        if self.shutdown & SEND_SHUTDOWN:
            raise SysError(EPIPE)  # before the name is looked up
        if self.passcred:
            self.autobind(task)
        return find_other(task, address, self.type)  # type: ignore[return-value]

    def sendmsg(self, task: Task, data: bytes, flags: int, address: bytes, control: bytes | None) -> int:
        if control is None:
            return self.send(task, data, flags, None, self._destination(task, address))
        if self.type == SOCK_SEQPACKET and self.state != TCP_ESTABLISHED:
            raise SysError(ENOTCONN)  # unix_seqpacket_sendmsg, before the control messages
        extra = control_in(task, control)  # scm_send comes before the destination
        try:
            return self.send(task, data, flags, extra, self._destination(task, address))
        finally:
            extra.discard()  # what the send did not queue

    def _sender_address(self, message: Message | None) -> bytes:
        """Who sent what was received (unix_copy_addr): a datagram's sender, a stream's peer;
        empty when unnamed, and at a stream's EOF (no message was read)."""
        if self.type == SOCK_STREAM:
            return (self.peer.addr if self.peer is not None and message is not None else None) or b""
        return (message.sender if message is not None else None) or b""

    def recvmsg(self, task: Task, size: int, flags: int, controllen: int | None, deliver: Delivery) -> Received:
        """unix_*_recvmsg: the data first, then control messages (SCM_CREDENTIALS with
        SO_PASSCRED, SCM_RIGHTS); MSG_TRUNC when a datagram was cut, MSG_CTRUNC when control
        data was. A call without control data (recvfrom) closes the files that came."""
        data, whole, message = self.recv(task, size, flags)
        control, cut = b"", False
        try:
            if controllen is None:
                if message is not None:
                    message.discard()  # files sent to a call that takes none are closed
                deliver(data)
            else:
                deliver(data)
                control, cut = _control_out(task, self, message, controllen, flags)
        finally:
            if message is not None:
                message.discard()
        truncated = self.type != SOCK_STREAM and whole > len(data)
        result = whole if flags & MSG_TRUNC and self.type != SOCK_STREAM else len(data)
        return Received(result, self._sender_address(message), control,
                        (MSG_TRUNC if truncated else 0) | (MSG_CTRUNC if cut else 0))

    def getsockopt(self, task: Task, level: int, optname: int, length: int) -> bytes:
        """SOL_SOCKET: SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR (and clear it), SO_SNDBUF,
        SO_RCVBUF, SO_ACCEPTCONN, SO_PASSCRED, SO_PEERCRED; anything else ENOPROTOOPT."""
        if level != SOL_SOCKET:
            raise SysError(EOPNOTSUPP)
        if optname == SO_PEERCRED:
            creds = self.host_peercred() if self.host is not None else \
                self.peercred or (0, 0xFFFFFFFF, 0xFFFFFFFF)  # cred_to_ucred without a peer
            return UCRED.pack(*creds)
        if optname == SO_ERROR:
            number, self.error = self.error, 0
        else:
            values = {SO_TYPE: self.type, SO_DOMAIN: AF_UNIX, SO_PROTOCOL: 0, SO_SNDBUF: self.sndbuf,
                      SO_RCVBUF: self.rcvbuf, SO_ACCEPTCONN: int(self.state == TCP_LISTEN),
                      SO_PASSCRED: int(self.passcred)}
            if optname not in values:
                raise SysError(ENOPROTOOPT)
            number = values[optname]
        return number.to_bytes(4, "little", signed=True)

    def setsockopt(self, task: Task, level: int, optname: int, optval_addr: int, optlen: int) -> None:
        """SOL_SOCKET: SO_SNDBUF and SO_RCVBUF (stored doubled, as Linux does), SO_PASSCRED;
        anything else ENOPROTOOPT."""
        if level != SOL_SOCKET:
            raise SysError(EOPNOTSUPP)
        if optname not in (SO_SNDBUF, SO_RCVBUF, SO_PASSCRED):
            raise SysError(ENOPROTOOPT)
        if optlen < 4:
            raise SysError(EINVAL)
        number = task.mm.copy_in_i32(optval_addr)
        if optname == SO_PASSCRED:
            self.passcred = bool(number)
            return
        value = max(number, 0) * 2
        if optname == SO_SNDBUF:
            self.sndbuf = max(value, 4608)  # SOCK_MIN_SNDBUF
        else:
            self.rcvbuf = max(value, 2304)  # SOCK_MIN_RCVBUF


def _capable(task: Task, capability: int) -> bool:
    return bool(task.group.creds.cap_effective >> capability & 1)


def control_in(task: Task, control: bytes) -> Message:
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


def put_cmsg(out: bytearray, room: int, level: int, kind: int, body: bytes) -> tuple[int, bool]:
    """put_cmsg: one control message into what is left of the buffer; (the space it
    took, whether it was cut)."""
    if room < CMSGHDR.size:
        return 0, True
    length = CMSGHDR.size + len(body)
    cut = room < length
    length = min(length, room)
    out += (CMSGHDR.pack(length, level, kind) + body)[:length]
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
        used, cut = put_cmsg(out, room, SOL_SOCKET, SCM_CREDENTIALS, UCRED.pack(*creds))
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
            used, _ = put_cmsg(out, room, SOL_SOCKET, SCM_RIGHTS, b"".join(fd.to_bytes(4, "little") for fd in fds))
            room -= used
        if len(fds) < len(rights):
            cut = True
        message.discard()  # installed ones hold their own references now
    return bytes(out), cut


def _retry_deadline(task: Task) -> float:
    """When a host connect that found the daemon's backlog full tries again (the host
    has no wakeup for it: Linux's unix_wait_for_peer is the daemon's accept)."""
    return task.kernel.clock.monotonic_ns() / 1e9 + 0.01


def _dup(files: list[File]) -> list[File]:
    return [file.get_file() for file in files]


def make_pair(task: Task, sock_type: int, flags: int) -> tuple[UnixSocket, UnixSocket]:
    """socketpair(AF_UNIX): two sockets connected to each other."""
    a, b = UnixSocket(sock_type, flags), UnixSocket(sock_type, flags)
    a.peer, b.peer = b, a
    a.state = b.state = TCP_ESTABLISHED
    a.peercred = b.peercred = current_creds(task)
    return a, b


def validate_address(address: bytes) -> None:
    """unix_validate_addr: more than the family, no more than a sockaddr_un, AF_UNIX."""
    if not SUN_PATH_OFFSET < len(address) <= SOCKADDR_UN_SIZE or address[:2] != FAMILY:
        raise SysError(EINVAL)


def path_of(address: bytes) -> bytes:
    """unix_mkname_bsd: sun_path up to its first NUL (or the address's end)."""
    return address[SUN_PATH_OFFSET:].split(b"\0", 1)[0]


def find_other(task: Task, address: bytes, sock_type: int, host_ok: bool = False) -> UnixSocket | HostInode:
    """unix_find_other: the socket bound to a (validated) name. A path needs write
    permission on the node (EACCES) and must be a socket nobody closed (ECONNREFUSED).
    With `host_ok`, a host socket no guest socket was ever bound to gives its inode
    instead (one a guest socket bound and closed is CLOSED in the table: refused)."""
    names = task.kernel.unix_names
    if address[SUN_PATH_OFFSET] == 0:
        other = names.get(("abstract", sock_type, address[SUN_PATH_OFFSET:]))
    else:
        found = path_walk(task, AT_FDCWD, path_of(address))
        if found.location is None:
            raise SysError(ECONNREFUSED if found.file is not None else ENOENT)
        inode = found.location.inode
        inode.access(task, W_OK, True, True)
        if inode.mode & S_IFMT != S_IFSOCK:
            raise SysError(ECONNREFUSED)
        other = names.get(("path", inode.key()))
        if other is None and host_ok and isinstance(inode, HostInode):
            return inode
    if not isinstance(other, UnixSocket) or other.dead:
        raise SysError(ECONNREFUSED)
    if other.type != sock_type:
        raise SysError(EPROTOTYPE)
    return other


SOCK_TYPES = (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET)
