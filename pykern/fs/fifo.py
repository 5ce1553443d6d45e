"""Named pipes (Linux's fs/fifo.c: fifo_open). A FIFO's data never goes through the
host: every open of the same FIFO inode by a guest process gets an end of one kernel
`Pipe`, kept in `kernel.fifos` by the inode's key. So guest processes talk through a
FIFO on the host's file system without pykern ever calling the host's blocking
open(2) on it. (A host process on the other end would not see the guest's data: a
deviation, listed in the README.)

Open rules, as Linux:
- O_RDONLY waits until a writer has opened (unless O_NONBLOCK, which succeeds);
- O_WRONLY waits until a reader has opened; with O_NONBLOCK and no reader, ENXIO;
- O_RDWR never waits.
Waiting is "raise Block, be retried": the end made on the first run is kept in the
task's restart_block with the partner counter it waits to see move, and released if
a signal ends the wait.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from pykern.abi import ENXIO, O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, POLLHUP
from pykern.errors import Block, SysError
from pykern.fs.hostio import file_status_flags
from pykern.pipe import Pipe, PipeEnd, PipeReader, PipeWriter

if TYPE_CHECKING:
    from pykern.fs.file import File
    from pykern.fs.stat import Stat
    from pykern.task import Task


class Fifo(Pipe):
    """A pipe that has a name: fstat of its ends shows the FIFO's own inode."""

    def __init__(self, stat: Callable[[], Stat]) -> None:
        super().__init__()
        self._stat = stat

    def stat(self) -> Stat:
        return self._stat()


class FifoReader(PipeReader):
    """A read end of a FIFO opened with O_NONBLOCK while it had no writer: poll says
    POLLHUP only once a writer has come and gone since (pipe_poll compares the writer
    counter with the one seen at open, so a reader waiting for its first writer with
    poll does not see a hang-up at once)."""

    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(pipe, flags)
        self.w_counter_at_open = pipe.w_counter

    def poll(self, events: int):  # type: ignore[no-untyped-def]
        mask, waits, extra = super().poll(events)
        if mask & POLLHUP and self.pipe.w_counter == self.w_counter_at_open:
            mask &= ~POLLHUP
        return mask, waits, extra


class PipeReadWriter(PipeReader):
    """An O_RDWR end of a FIFO: a reader that also writes (it never waits to open)."""

    def __init__(self, pipe: Pipe, flags: int) -> None:
        super().__init__(pipe, flags)
        self.flags = (self.flags & ~O_ACCMODE) | O_RDWR
        pipe.writers += 1

    write = PipeWriter.write

    def poll(self, events: int):  # type: ignore[no-untyped-def]
        read_mask, read_waits, _ = PipeReader.poll(self, events)
        write_mask, write_waits, _ = PipeWriter.poll(self, events)
        return read_mask | write_mask, read_waits + write_waits, ()

    def release(self) -> None:
        PipeReader.release(self)
        PipeWriter.release(self)


def fifo_open(task: Task, key: Hashable, flags: int, stat: Callable[[], Stat]) -> File:
    """open(2) of the FIFO inode `key`."""
    pipe = task.kernel.fifos.get(key)
    if pipe is None or (pipe.readers == 0 and pipe.writers == 0 and not pipe.opened.waiters):
        pipe = task.kernel.fifos[key] = Fifo(stat)  # the last close discarded the old one
    return open_pipe_end(task, pipe, flags)


def open_pipe_end(task: Task, pipe: Pipe, flags: int) -> PipeEnd:
    """A new end of `pipe` by fifo_open's rules (also /proc/PID/fd/N of a pipe, which
    never waits and is never ENXIO: fifo_open's is_pipe)."""
    named = isinstance(pipe, Fifo)
    flags = file_status_flags(flags)  # an end made by open(2): O_LARGEFILE, as any open file
    block = task.restart_block
    end = block.fifo_end if block is not None else None
    accmode = flags & O_ACCMODE
    if block is None or end is None:
        if accmode == O_RDONLY:
            alone = named and pipe.writers == 0
            end = FifoReader(pipe, flags) if alone and flags & O_NONBLOCK else PipeReader(pipe, flags)
            pipe.r_counter += 1
            waiting = alone and not flags & O_NONBLOCK
            seen = pipe.w_counter
        elif accmode == O_WRONLY:
            if named and flags & O_NONBLOCK and pipe.readers == 0:
                raise SysError(ENXIO)
            end = PipeWriter(pipe, flags)
            pipe.w_counter += 1
            waiting = named and pipe.readers == 0
            seen = pipe.r_counter
        else:
            end = PipeReadWriter(pipe, flags)
            pipe.r_counter += 1
            pipe.w_counter += 1
            waiting, seen = False, 0
        pipe.opened.wake_all()
        if not waiting:
            return end
        block = task.restart_state()
        block.fifo_end, block.fifo_seen = end, seen
    counter = pipe.w_counter if accmode == O_RDONLY else pipe.r_counter
    if counter == block.fifo_seen:
        raise Block(pipe.opened, cancel=_release_waiting_end)
    return end


def _release_waiting_end(task: Task) -> None:
    """A signal (or exit) ended a FIFO open that was waiting for the other side."""
    end = task.restart_block.fifo_end if task.restart_block is not None else None
    if end is not None:
        end.release()
