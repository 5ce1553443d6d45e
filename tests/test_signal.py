"""The signal machinery's pure parts: pending queues, siginfo layout, the alternate stack.
Delivery itself is shown end to end by testbins/signals, jobctl and threads against Linux."""

from __future__ import annotations

import struct

from pykern.abi import (
    CLD_EXITED,
    SEGV_MAPERR,
    SI_QUEUE,
    SI_USER,
    SIGCHLD,
    SIGINFO_SIZE,
    SIGRTMIN,
    SIGSEGV,
    SIGUSR1,
    SIGUSR2,
    UCONTEXT_SIZE,
)
from pykern.signal import FRAME_INFO_OFFSET, FRAME_SIZE
from pykern.sigtypes import (
    SS_AUTODISARM,
    SS_DISABLE,
    SS_ONSTACK,
    AltStack,
    SigInfo,
    SigQueue,
    sigbit,
)

ALL = (1 << 64) - 1


def test_standard_signals_queue_once_realtime_every_time() -> None:
    queue = SigQueue()
    assert queue.add(SigInfo(SIGUSR1, SI_USER, pid=5))
    assert not queue.add(SigInfo(SIGUSR1, SI_USER, pid=6))
    assert queue.add(SigInfo(SIGRTMIN, SI_QUEUE, value=1))
    assert queue.add(SigInfo(SIGRTMIN, SI_QUEUE, value=2))
    first = queue.take(ALL)
    assert (first.signo, first.pid) == (SIGUSR1, 5)  # the first instance keeps its siginfo
    assert [queue.take(ALL).value for _ in range(2)] == [1, 2]
    assert queue.take(ALL) is None and queue.mask == 0


def test_faults_first_then_lowest_number() -> None:
    queue = SigQueue()
    for sig in (SIGUSR2, SIGSEGV, SIGUSR1):
        queue.add(SigInfo(sig, 0))
    assert [queue.take(ALL).signo for _ in range(3)] == [SIGSEGV, SIGUSR1, SIGUSR2]


def test_take_respects_the_allowed_mask_and_discard() -> None:
    queue = SigQueue()
    queue.add(SigInfo(SIGUSR1, 0))
    queue.add(SigInfo(SIGUSR2, 0))
    assert queue.take(ALL & ~sigbit(SIGUSR1)).signo == SIGUSR2
    queue.discard(sigbit(SIGUSR1))
    assert queue.mask == 0 and queue.infos == []


def test_siginfo_layouts() -> None:
    chld = SigInfo(SIGCHLD, CLD_EXITED, pid=42, uid=1000, status=3, utime=7, stime=8).pack()
    assert len(chld) == SIGINFO_SIZE
    assert struct.unpack_from("<iii", chld) == (SIGCHLD, 0, CLD_EXITED)
    assert struct.unpack_from("<iIi", chld, 16) == (42, 1000, 3)
    assert struct.unpack_from("<qq", chld, 32) == (7, 8)
    fault = SigInfo(SIGSEGV, SEGV_MAPERR, addr=0xDEAD000).pack()
    assert struct.unpack_from("<Q", fault, 16) == (0xDEAD000,)
    queued = SigInfo(SIGUSR1, SI_QUEUE, pid=9, uid=0, value=0x1234).pack()
    assert struct.unpack_from("<iIQ", queued, 16) == (9, 0, 0x1234)


def test_frame_layout_matches_x86_64() -> None:
    # struct ucontext: flags, link, stack_t (24), sigcontext (256), sigset (8)
    assert UCONTEXT_SIZE == 304
    assert FRAME_INFO_OFFSET == 312  # pretcode, then the ucontext
    assert FRAME_SIZE == 440


def test_altstack_state() -> None:
    stack = AltStack(0x10000, 0, 0x4000)
    assert stack.state(0x12000) == SS_ONSTACK
    assert stack.state(0x20000) == 0
    assert AltStack().state(0x12000) == SS_DISABLE
    disarming = AltStack(0x10000, SS_AUTODISARM, 0x4000)
    assert disarming.state(0x12000) == SS_AUTODISARM  # never "on" it: the handler may switch away
