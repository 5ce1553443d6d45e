"""Waiting for several files at once: poll, ppoll, select, pselect6 (Linux's fs/select.c).

Each file says what is ready now and what to sleep on (`File.poll`: wait queues for
pipes, host fds for terminals and FIFOs, nothing for files that never block). A call
with nothing ready raises Block on all of them and its deadline, and is re-run from the
top when any wakes; the absolute deadline is kept in restart_block across retries, so
a wakeup or a stop never extends the timeout. A signal ends the wait with EINTR when a
handler runs (ERESTARTNOHAND, declared by wait_block); otherwise it goes on waiting.
ppoll and pselect6 wait with a temporary signal mask: restored when the call returns, or,
if a handler interrupts the wait, when the handler returns (as sigsuspend's is).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pykern.abi import (
    EINVAL,
    NSEC_PER_SEC,
    POLLERR,
    POLLFD,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDBAND,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    SIGSET_ARG,
    SIGSET_SIZE,
    TIMESPEC,
    TIMEVAL,
)
from pykern.errors import Block, Fault, Restart, SysError
from pykern.sigtypes import UNBLOCKABLE
from pykern.syscalls.table import syscall
from pykern.syscalls.time import copy_in_timespec_ns
from pykern.sysent import INT, PTR, SIZE, UINT
from pykern.task import RestartBlock, Task

# select's sets as poll events (fs/select.c POLLIN_SET, POLLOUT_SET, POLLEX_SET)
POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
POLLEX_SET = POLLPRI


# --- the deadline and the temporary mask, kept across retries ------------------------------------


def wait_started(task: Task) -> bool:
    """Is the call a retry, its deadline (and mask) set by its first run?"""
    return task.restart_block is not None and task.restart_block.poll_waiting


def _wait_state(task: Task) -> RestartBlock:
    block = task.restart_block
    assert block is not None and block.poll_waiting, "start_wait comes first"
    return block


def start_wait(task: Task, timeout_ns: int | None, mask_addr: int = 0, mask_size: int = SIGSET_SIZE) -> None:
    """First entry: the absolute deadline (None: forever) and ppoll/pselect's mask."""
    block = task.restart_state()
    if block.poll_waiting:
        return
    if mask_addr:
        if mask_size != SIGSET_SIZE:
            raise SysError(EINVAL)
        mask = task.mm.copy_in_u64(mask_addr)
        block.temporary_mask = True  # (a handler's frame saves and restores the old one)
        task.saved_sigmask = task.sigmask
        task.sigmask = mask & ~UNBLOCKABLE
        task.kernel.signals.mask_changed(task)
    now = task.kernel.clock.monotonic_ns()
    block.poll_waiting = True
    block.poll_deadline = None if timeout_ns is None else now + timeout_ns


def finish_wait(task: Task) -> None:
    """The call ends without a handler running: the temporary mask goes (what it let
    through is delivered on the way out, as Linux's restore_saved_sigmask does)."""
    if task.restart_block is not None and task.restart_block.temporary_mask:
        task.kernel.signals.restore_saved_mask(task)
        task.kernel.signals.mask_changed(task)


def with_mask(task: Task, wait: Callable[[], int], tsp_addr: int = 0) -> int:
    """Run a waiting call that has a temporary mask (ppoll, pselect6, epoll_pwait): it
    returns or fails with the old mask back; a Block keeps it. The time left goes to
    `tsp_addr` if given."""
    try:
        ready = wait()
        if tsp_addr:
            task.mm.copy_out(tsp_addr, TIMESPEC.pack(*divmod(wait_remaining_ns(task), NSEC_PER_SEC)))
    except (SysError, Fault):
        finish_wait(task)
        raise
    finish_wait(task)
    return ready


def wait_expired(task: Task) -> bool:
    deadline = _wait_state(task).poll_deadline
    return deadline is not None and task.kernel.clock.monotonic_ns() >= deadline


def wait_block(task: Task, queues: list, host_fds: list, restart: Restart = Restart.ERESTARTNOHAND) -> Block:
    """Sleep on what the files named, until the deadline. A signal ends poll and select
    with EINTR when a handler runs (ERESTARTNOHAND), epoll_wait with EINTR whatever runs."""
    deadline = _wait_state(task).poll_deadline
    return Block(*queues, deadline=None if deadline is None else deadline / NSEC_PER_SEC, host_fds=tuple(host_fds),
                 restart=restart)


def wait_remaining_ns(task: Task) -> int:
    deadline = _wait_state(task).poll_deadline
    return 0 if deadline is None else max(0, deadline - task.kernel.clock.monotonic_ns())


def timespec_ns(task: Task, addr: int) -> int | None:
    """A timeout: None for NULL (wait forever), else the validated timespec."""
    return copy_in_timespec_ns(task, addr) if addr else None


# --- poll -------------------------------------------------------------------------------------------


def _do_poll(task: Task, fds_addr: int, nfds: int) -> int:
    if nfds > task.group.files.max_fds:
        raise SysError(EINVAL)
    entries = task.mm.copy_in(fds_addr, nfds * POLLFD.size) if nfds else b""
    files = task.group.files
    out = bytearray(entries)
    ready, queues, host_fds = 0, [], []
    for i in range(nfds):
        fd, events, _ = POLLFD.unpack_from(entries, i * POLLFD.size)
        revents = 0
        if fd >= 0:
            file = files.files.get(fd)
            if file is None:
                revents = POLLNVAL
            else:
                mask, waits, host = file.poll(events & 0xFFFF)
                revents = mask & ((events & 0xFFFF) | POLLERR | POLLHUP)
                queues += waits
                host_fds += host
        struct.pack_into("<h", out, i * POLLFD.size + 6, revents if revents < 0x8000 else revents - 0x10000)
        ready += bool(revents)
    if ready or wait_expired(task):
        if nfds:
            task.mm.copy_out(fds_addr, bytes(out))
        return ready
    raise wait_block(task, queues, host_fds)


@syscall("poll", PTR, UINT, INT, classes="desc")
def sys_poll(task: Task, fds_addr: int, nfds: int, timeout_ms: int) -> int:
    """poll(2): timeout in ms, negative for none."""
    start_wait(task, None if timeout_ms < 0 else timeout_ms * 1_000_000)
    return _do_poll(task, fds_addr, nfds)


@syscall("ppoll", PTR, UINT, PTR, PTR, SIZE, classes="desc")
def sys_ppoll(task: Task, fds_addr: int, nfds: int, tsp_addr: int, mask_addr: int, mask_size: int) -> int:
    """ppoll(2): a timespec timeout (the time left is written back, as the raw call does)
    and a signal mask to wait with."""
    if not wait_started(task):
        start_wait(task, timespec_ns(task, tsp_addr), mask_addr, mask_size)
    return with_mask(task, lambda: _do_poll(task, fds_addr, nfds), tsp_addr)


# --- select -------------------------------------------------------------------------------------


def _do_select(task: Task, nfds: int, sets: tuple[int, int, int]) -> int:
    if nfds < 0:
        raise SysError(EINVAL)
    nfds = min(nfds, task.group.files.max_fds)
    size = (nfds + 63) // 64 * 8
    wanted = [int.from_bytes(task.mm.copy_in(addr, size), "little") if addr and size else 0 for addr in sets]
    files = task.group.files
    found = [0, 0, 0]
    queues, host_fds = [], []
    every = wanted[0] | wanted[1] | wanted[2]
    fd = 0
    while every >> fd:
        if not every >> fd & 1:
            fd += 1
            continue
        file = files.get(fd)  # EBADF, as select fails for a closed fd in a set
        events = (POLLIN_SET if wanted[0] >> fd & 1 else 0) | (POLLOUT_SET if wanted[1] >> fd & 1 else 0) \
            | (POLLEX_SET if wanted[2] >> fd & 1 else 0)
        mask, waits, host = file.poll(events)
        for which, kind in enumerate((POLLIN_SET, POLLOUT_SET, POLLEX_SET)):
            if wanted[which] >> fd & 1 and mask & kind:
                found[which] |= 1 << fd
        queues += waits
        host_fds += host
        fd += 1
    ready = sum(bin(bits).count("1") for bits in found)
    if ready or wait_expired(task):
        for addr, bits in zip(sets, found):
            if addr and size:
                task.mm.copy_out(addr, bits.to_bytes(size, "little"))
        return ready
    raise wait_block(task, queues, host_fds)


@syscall("select", INT, PTR, PTR, PTR, PTR, classes="desc")
def sys_select(task: Task, nfds: int, read_addr: int, write_addr: int, except_addr: int, tv_addr: int) -> int:
    """select(2): the timeval is updated with the time left, as Linux does."""
    if not wait_started(task):
        timeout = None
        if tv_addr:
            sec, usec = TIMEVAL.unpack(task.mm.copy_in(tv_addr, TIMEVAL.size))
            if sec < 0 or not 0 <= usec < 1_000_000:
                raise SysError(EINVAL)
            timeout = sec * NSEC_PER_SEC + usec * 1000
        start_wait(task, timeout)
    ready = _do_select(task, nfds, (read_addr, write_addr, except_addr))
    if tv_addr:
        sec, nsec = divmod(wait_remaining_ns(task), NSEC_PER_SEC)
        task.mm.copy_out(tv_addr, TIMEVAL.pack(sec, nsec // 1000))
    return ready


@syscall("pselect6", INT, PTR, PTR, PTR, PTR, PTR, classes="desc")
def sys_pselect6(task: Task, nfds: int, read_addr: int, write_addr: int, except_addr: int, tsp_addr: int,
                 sig_addr: int) -> int:
    """pselect6(2): a timespec (updated with the time left) and {sigmask, size}."""
    if not wait_started(task):
        mask_addr, mask_size = SIGSET_ARG.unpack(task.mm.copy_in(sig_addr, SIGSET_ARG.size)) if sig_addr else (0, 8)
        start_wait(task, timespec_ns(task, tsp_addr), mask_addr, mask_size)
    return with_mask(task, lambda: _do_select(task, nfds, (read_addr, write_addr, except_addr)), tsp_addr)
