"""Unix-domain sockets made by socketpair(2) (Linux's net/unix/af_unix.c).

A connected pair: each socket has its own receive queue, and sending appends to the
peer's. SOCK_STREAM queues bytes (a pipe each way, but both ends read and write);
SOCK_DGRAM and SOCK_SEQPACKET queue whole messages, and a read shorter than the message
takes its head and drops the rest (MSG_TRUNC says so).

- shutdown(SHUT_WR) on one end is SHUT_RD on the other for the connection-oriented
  types: the peer reads EOF once the queue is empty, and this end's writes fail with
  EPIPE (and SIGPIPE unless MSG_NOSIGNAL). Closing an end does both to the peer; a
  stream end closed with unread data leaves the peer ECONNRESET.
- A write to a full queue sleeps (on the receiver's `room` queue) or fails with EAGAIN;
  a stream write larger than the room goes in as room appears, with the bytes already
  written kept in the task's restart_block, as a pipe write does.
- poll is unix_poll: POLLIN when the queue has data or reading is shut down (then also
  POLLRDHUP), POLLHUP when both directions are, POLLOUT while the peer's queue has room.

Not here yet: socket/bind/listen/connect/accept (named sockets), SCM_RIGHTS and other
control messages (sendmsg with msg_control fails with EOPNOTSUPP and a warning).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING

from pykern.abi import (
    EAGAIN,
    ECONNREFUSED,
    ECONNRESET,
    EMSGSIZE,
    ENOTCONN,
    EPIPE,
    FIONREAD,
    MSG_DONTWAIT,
    MSG_NOSIGNAL,
    MSG_PEEK,
    O_RDWR,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    S_IFSOCK,
    SOCK_DGRAM,
    SOCK_SEQPACKET,
    SOCK_STREAM,
)
from pykern.errors import Block, SysError
from pykern.vfs import File, Stat
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.task import Task

RCV_SHUTDOWN, SEND_SHUTDOWN = 1, 2  # sk->sk_shutdown bits
SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN
STREAM_CAPACITY = 212992  # bytes queued per receiver: Linux's default sk_sndbuf (net.core.wmem_default)
MAX_DGRAM_QLEN = 512  # messages queued per receiver (net.unix.max_dgram_qlen)
_inode_numbers = itertools.count(200000)


class UnixSocket(File):
    kind = "socket"

    def __init__(self, sock_type: int, flags: int) -> None:
        self.ino = next(_inode_numbers)
        super().__init__((flags & ~3) | O_RDWR, f"socket:[{self.ino}]")
        self.type = sock_type
        self.peer: UnixSocket | None = None
        self.dead = False  # closed (its peer may still point at it)
        self.shutdown = 0  # RCV_SHUTDOWN | SEND_SHUTDOWN
        self.error = 0  # sk_err: reported once, by the next receive on an empty queue
        self.stream = bytearray()  # SOCK_STREAM's receive queue
        self.messages: deque[bytes] = deque()  # SOCK_DGRAM/SOCK_SEQPACKET's
        self.data_ready = WaitQueue("unix_recv")  # receivers sleep here
        self.room = WaitQueue("unix_send")  # the peer's senders sleep here, for room in our queue
        self.sndbuf = self.rcvbuf = STREAM_CAPACITY

    @property
    def connection_oriented(self) -> bool:
        return self.type in (SOCK_STREAM, SOCK_SEQPACKET)

    def link_target(self) -> bytes:
        return self.path.encode()

    def stat(self) -> Stat:
        return Stat(dev=0x8, ino=self.ino, nlink=1, mode=S_IFSOCK | 0o777, uid=0, gid=0, rdev=0, size=0,
                    blksize=4096, blocks=0, atime_ns=0, mtime_ns=0, ctime_ns=0)

    def queued(self) -> int:
        return len(self.stream) if self.type == SOCK_STREAM else sum(len(m) for m in self.messages)

    def _wake_both(self) -> None:
        self.data_ready.wake_all()
        self.room.wake_all()

    # --- receiving ----------------------------------------------------------------------

    def read(self, task: Task, size: int) -> bytes:
        return self.recv(task, size, 0)[0]

    def recv(self, task: Task, size: int, flags: int) -> tuple[bytes, int]:
        """unix_*_recvmsg: (the bytes, the message's whole length) or EOF (b"", 0)."""
        empty = not (self.stream if self.type == SOCK_STREAM else self.messages)
        if empty:
            if self.error:
                error, self.error = self.error, 0
                raise SysError(error)
            if self.shutdown & RCV_SHUTDOWN or (size == 0 and self.type == SOCK_STREAM):
                return b"", 0
            if self.nonblocking or flags & MSG_DONTWAIT:
                raise SysError(EAGAIN)
            raise Block(self.data_ready)
        if self.type == SOCK_STREAM:
            data = bytes(self.stream[:size])
            if not flags & MSG_PEEK:
                del self.stream[:size]
            whole = len(data)
        else:
            message = self.messages[0] if flags & MSG_PEEK else self.messages.popleft()
            data, whole = message[:size], len(message)
        if not flags & MSG_PEEK:
            self.room.wake_all()
        return data, whole

    # --- sending ------------------------------------------------------------------------

    def write(self, task: Task, data: bytes) -> int:
        return self.send(task, data, 0)

    def _broken(self, task: Task, flags: int) -> SysError:
        if not flags & MSG_NOSIGNAL:
            task.kernel.send_sigpipe(task)
        return SysError(EPIPE)

    def send(self, task: Task, data: bytes, flags: int) -> int:
        """unix_stream_sendmsg / unix_dgram_sendmsg, to the peer's queue."""
        peer = self.peer
        done = task.restart_block.get("unix_sent", 0)
        if not self.connection_oriented and (peer is None or peer.dead):
            # a datagram peer that is gone: refused once, then not connected at all
            self.peer = None
            raise SysError(ENOTCONN if peer is None else ECONNREFUSED)
        if self.shutdown & SEND_SHUTDOWN or peer is None or peer.dead or peer.shutdown & RCV_SHUTDOWN:
            if done:
                return done
            raise self._broken(task, flags)
        nonblocking = self.nonblocking or flags & MSG_DONTWAIT
        if self.type != SOCK_STREAM:
            if len(data) > self.sndbuf:
                raise SysError(EMSGSIZE)
            if len(peer.messages) >= MAX_DGRAM_QLEN or peer.queued() + len(data) > peer.rcvbuf:
                if nonblocking:
                    raise SysError(EAGAIN)
                raise Block(peer.room)
            peer.messages.append(bytes(data))
            peer.data_ready.wake_all()
            return len(data)
        room = STREAM_CAPACITY - len(peer.stream)
        remaining = data[done:]
        if not remaining:
            return done
        if room <= 0:
            if nonblocking:
                if done:
                    return done
                raise SysError(EAGAIN)
            raise Block(peer.room)
        peer.stream += remaining[:room]
        peer.data_ready.wake_all()
        done += min(room, len(remaining))
        if done < len(data) and not nonblocking:
            task.restart_block["unix_sent"] = done
            task.restart_block["interrupted"] = _bytes_sent  # a signal: return the count
            raise Block(peer.room)
        return done

    # --- the connection -----------------------------------------------------------------

    def shut(self, how: int) -> None:
        """unix_shutdown: `how` is SHUT_RD/SHUT_WR/SHUT_RDWR (0/1/2)."""
        mode = how + 1
        self.shutdown |= mode
        self._wake_both()
        peer = self.peer
        if peer is not None and self.connection_oriented:
            peer.shutdown |= (SEND_SHUTDOWN if mode & RCV_SHUTDOWN else 0) | (RCV_SHUTDOWN if mode & SEND_SHUTDOWN else 0)
            peer._wake_both()

    def release(self) -> None:
        """unix_release_sock: the peer can no longer send here nor read more from us."""
        self.dead = True
        peer = self.peer
        if peer is None:
            return
        if self.connection_oriented:
            peer.shutdown = SHUTDOWN_MASK
            if self.stream or self.messages:  # we leave unread data: the peer sees a reset
                peer.error = ECONNRESET
        peer._wake_both()

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        """unix_poll (unix_dgram_poll for datagrams, the same here for a pair)."""
        mask = POLLERR if self.error else 0
        if self.shutdown == SHUTDOWN_MASK:
            mask |= POLLHUP
        if self.shutdown & RCV_SHUTDOWN:
            mask |= POLLRDHUP | POLLIN | POLLRDNORM
        if self.stream or self.messages:
            mask |= POLLIN | POLLRDNORM
        peer = self.peer
        if peer is None or peer.dead or peer.queued() < (STREAM_CAPACITY if self.type == SOCK_STREAM
                                                          else peer.rcvbuf):
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND
        waits = (self.data_ready,) if peer is None else (self.data_ready, peer.room)
        return mask, waits, ()

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if request == FIONREAD:  # SIOCINQ: bytes queued (the next message's, for datagrams)
            size = len(self.stream) if self.type == SOCK_STREAM else (len(self.messages[0]) if self.messages else 0)
            task.mm.copy_out_u32(arg_addr, size)
            return 0
        return super().ioctl(task, request, arg_addr)


def _bytes_sent(task: Task) -> int:
    return task.restart_block["unix_sent"]


def make_pair(sock_type: int, flags: int) -> tuple[UnixSocket, UnixSocket]:
    """socketpair(AF_UNIX): two sockets connected to each other."""
    a, b = UnixSocket(sock_type, flags), UnixSocket(sock_type, flags)
    a.peer, b.peer = b, a
    return a, b


SOCK_TYPES = (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET)
