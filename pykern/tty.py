"""Terminals (Linux's drivers/tty: tty_io.c, tty_jobctrl.c, tty_ioctl.c, n_tty.c, pty.c).

Owns:
- `Tty`: what makes a terminal a controlling terminal (tty->ctrl): the session it belongs
  to, its foreground process group, and the job-control rules (`check_change`: a
  background read gets SIGTTIN, a background write under TOSTOP and a background termios
  change SIGTTOU, as __tty_check_change) and the ioctls every terminal shares
  (TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID);
- `LineDiscipline`: n_tty: input processing (ICRNL, INLCR, IGNCR, ISTRIP), canonical
  lines with VERASE, VWERASE, VKILL, VLNEXT, VREPRINT, VEOF, VEOL, echo (ECHO, ECHOE,
  ECHOK, ECHOKE, ECHONL, ECHOCTL, ECHOPRT), ISIG's VINTR, VQUIT and VSUSP, IXON's
  VSTOP/VSTART, output processing (OPOST: ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, XTABS) and
  VMIN/VTIME in non-canonical reads;
- `Pty`: a pseudo-terminal pair (the slave tty, its line discipline, the master's
  buffers) and the open files of both ends: `PtyMaster` (TIOCGPTN, TIOCSPTLCK,
  TIOCGPTLCK, TIOCGPTPEER, TIOCPKT, TIOCSIG) and `PtySlave`; the termios, window size,
  FIONREAD, TIOCOUTQ, TCFLSH, TCXONC, TIOCEXCL, TIOCSTI ioctls of both ends (on the master they act
  on the slave, as Linux); the hang-up when the master closes;
- `ConsoleTty`: the host terminal pykern was started on. Its termios stay on the host;
  the guest's sessions and process groups on it are kept here (the host only knows
  pykern), so a guest shell gets job control on a real terminal;
- `TtyTable` (kernel.ttys): the console, the ptys by index, the devpts file system.

Not done: the old termio ioctls (TCGETA ...) and termios2 (TCGETS2 ...), which
fail with ENOTTY; the master's own termios (Linux keeps them, but every termios ioctl
on a master acts on its slave, so no program sees them).

A process's controlling terminal is the terminal whose session is the process's session
(Linux keeps a pointer per process, signal->tty, that every member of a session shares
unless it dropped it with TIOCNOTTY; `Tty.detached` records those, but a child forked
after that has it again). The session ends when its leader dies: the terminal is then
nobody's and a pty's foreground group gets SIGHUP (disassociate_ctty, from exit.py).

Blocking follows pipes: a call that cannot go on raises Block on the terminal's wait
queues and is re-run from the top. A job-control stop is a signal sent to the caller's
own process group followed by Block: the signal's delivery interrupts the call
(ERESTARTSYS), which after SIGCONT runs again and checks again, as Linux does.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykern.abi import (
    B38400,
    CREAD,
    CS8,
    CSIZE,
    EAGAIN,
    EBUSY,
    ECHO,
    ECHOCTL,
    ECHOE,
    ECHOK,
    ECHOKE,
    ECHONL,
    ECHOPRT,
    EINVAL,
    EIO,
    ENOENT,
    ENOTTY,
    ENXIO,
    EPERM,
    ESRCH,
    FIONREAD,
    ICANON,
    ICRNL,
    IEXTEN,
    IGNCR,
    INLCR,
    ISIG,
    ISTRIP,
    IUCLC,
    IUTF8,
    IXANY,
    IXON,
    NCCS,
    NOFLSH,
    O_ACCMODE,
    O_CLOEXEC,
    O_NOCTTY,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    OCRNL,
    OLCUC,
    ONLCR,
    ONLRET,
    ONOCR,
    OPOST,
    PARENB,
    PARMRK,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLPRI,
    POLLRDNORM,
    POLLWRNORM,
    S_IFCHR,
    SI_KERNEL,
    SIG_IGN,
    SIGCONT,
    SIGHUP,
    SIGINT,
    SIGQUIT,
    SIGTSTP,
    SIGTTIN,
    SIGTTOU,
    SIGWINCH,
    TABDLY,
    TCFLSH,
    TCGETS,
    TCIFLUSH,
    TCIOFF,
    TCIOFLUSH,
    TCION,
    TCOFLUSH,
    TCOOFF,
    TCOON,
    TCSBRK,
    TCSBRKP,
    TCSETS,
    TCSETSF,
    TCSETSW,
    TCXONC,
    TERMIOS,
    TIOCCBRK,
    TIOCEXCL,
    TIOCGETD,
    TIOCGEXCL,
    TIOCGPGRP,
    TIOCGPKT,
    TIOCGPTLCK,
    TIOCGPTN,
    TIOCGPTPEER,
    TIOCGSID,
    TIOCGWINSZ,
    TIOCNOTTY,
    TIOCNXCL,
    TIOCOUTQ,
    TIOCPKT,
    TIOCPKT_DATA,
    TIOCPKT_DOSTOP,
    TIOCPKT_FLUSHREAD,
    TIOCPKT_FLUSHWRITE,
    TIOCPKT_NOSTOP,
    TIOCPKT_START,
    TIOCPKT_STOP,
    TIOCSBRK,
    TIOCSCTTY,
    TIOCSETD,
    TIOCSIG,
    TIOCSPGRP,
    TIOCSPTLCK,
    TIOCSTI,
    TIOCSWINSZ,
    TOSTOP,
    TTYAUX_MAJOR,
    UNIX98_PTY_SLAVE_MAJOR,
    VEOF,
    VEOL,
    VEOL2,
    VERASE,
    VINTR,
    VKILL,
    VLNEXT,
    VMIN,
    VQUIT,
    VREPRINT,
    VSTART,
    VSTOP,
    VSUSP,
    VTIME,
    VWERASE,
    WINSIZE,
    XTABS,
)
from pykern.errors import Block, SysError, ends_with
from pykern.fs.file import File
from pykern.fs.hostio import file_status_flags
from pykern.fs.stat import Stat
from pykern.sigtypes import SigInfo, sigbit
from pykern.waitqueue import WaitQueue

if TYPE_CHECKING:
    from pykern.fs.devpts import DevptsFS
    from pykern.kernel import Kernel
    from pykern.task import Task, ThreadGroup

N_TTY_BUF_SIZE = 4096  # n_tty's read buffer: a canonical line holds at most 4095 bytes
PTY_BUFFER_LIMIT = 640 * 1024  # TTYB_DEFAULT_MEM_LIMIT: what one side may have in flight
N_TTY = 0  # the only line discipline
_DISABLED = 0  # _POSIX_VDISABLE: a c_cc slot holding 0 is off

# INIT_C_CC: ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, VSWTC 0, ^Q ^S ^Z, VEOL 0, ^R ^O ^W ^V, VEOL2 0
INIT_C_CC = bytes([3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0]).ljust(NCCS, b"\0")


def makedev(major: int, minor: int) -> int:
    """The kernel's new_encode_dev, as st_rdev shows a device number."""
    return (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12) | ((major & ~0xFFF) << 32)


_PRINTABLE = bytes(range(32, 127))


def _iscntrl(c: int) -> bool:
    """The kernel's iscntrl (lib/ctype.c: Latin-1, so 128-159 are control characters too)."""
    return c < 32 or 127 <= c < 160


class Termios:
    """struct termios as TCGETS/TCSETS carry it (36 bytes)."""

    __slots__ = ("iflag", "oflag", "cflag", "lflag", "line", "cc")

    def __init__(self, iflag: int, oflag: int, cflag: int, lflag: int, line: int = 0,
                 cc: bytes = INIT_C_CC) -> None:  # fmt: skip
        self.iflag = iflag
        self.oflag = oflag
        self.cflag = cflag
        self.lflag = lflag
        self.line = line
        self.cc = bytearray(cc)

    @classmethod
    def pty_slave(cls) -> Termios:
        """pts_driver->init_termios: tty_std_termios with c_cflag B38400 | CS8 | CREAD."""
        return cls(ICRNL | IXON, OPOST | ONLCR, B38400 | CS8 | CREAD,
                   ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN)

    @classmethod
    def unpack(cls, data: bytes) -> Termios:
        iflag, oflag, cflag, lflag, line, cc = TERMIOS.unpack(data)
        return cls(iflag, oflag, cflag, lflag, line, cc)

    def pack(self) -> bytes:
        return TERMIOS.pack(self.iflag, self.oflag, self.cflag, self.lflag, self.line, bytes(self.cc))

    def copy(self) -> Termios:
        return Termios(self.iflag, self.oflag, self.cflag, self.lflag, self.line, bytes(self.cc))


# --- the line discipline (n_tty) ---------------------------------------------------------------


class LineDiscipline:
    """n_tty for one terminal. Input arrives with `receive` (what the master writes);
    readers take it with `read`; `write` and the echoes put processed output in
    `output` (what the master reads). `signal(sig)` sends a signal to the terminal's
    foreground process group. Input is processed at once, when it arrives (Linux does it
    a moment later, from a work queue: nothing a program can count on tells them apart)."""

    def __init__(self, termios: Termios, signal: Callable[[int], None]) -> None:
        self.termios = termios
        self.signal = signal
        self.lines: deque[bytes] = deque()  # completed canonical lines (VEOF's without it)
        self.edit = bytearray()  # the line being edited; in non-canonical mode, the input
        self.output = bytearray()  # processed output and echoes, for the master to read
        self.held_echo = bytearray()  # echoes while output is stopped (^S)
        self.column = 0
        self.canon_column = 0
        self.erasing = False  # ECHOPRT: inside "\...": a '/' closes it
        self.lnext = False  # the next character is literal (VLNEXT)
        self.stopped = False  # output stopped by VSTOP or TCOOFF (tty->flow.stopped)
        self.tco_stopped = False  # ... by TCOOFF: only TCOON restarts it
        self.last_input = 0.0  # when input last arrived, on `now`'s clock (VTIME's inter-byte timer)
        self.now: Callable[[], float] = time.monotonic  # the scheduler's timer clock (Pty sets it)
        self.on_stop_change: Callable[[bool], None] | None = None  # packet mode's STOP/START
        self._specials: frozenset[int] = frozenset()
        self.set_termios(termios, None)

    # --- termios ------------------------------------------------------------------------

    @property
    def icanon(self) -> bool:
        return bool(self.termios.lflag & ICANON)

    def set_termios(self, new: Termios, old: Termios | None) -> None:
        """n_tty_set_termios: a change of ICANON makes what is buffered readable: all of
        it as raw input, or all of it as one line."""
        self.termios = new
        if old is not None and (old.lflag ^ new.lflag) & ICANON:
            pending = b"".join(self.lines) + bytes(self.edit)
            self.lines.clear()
            self.edit.clear()
            if new.lflag & ICANON:
                if pending:
                    self.lines.append(pending)
            else:
                self.edit += pending
            self.erasing = self.lnext = False
        if old is not None and old.iflag & IXON and not new.iflag & IXON and self.stopped \
                and not self.tco_stopped:
            self.start()
        self._specials = frozenset(self._char_map())

    def _char_map(self) -> set[int]:
        t = self.termios
        cc = t.cc
        chars: set[int] = set()
        if t.iflag & (IGNCR | ICRNL):
            chars.add(ord("\r"))
        if t.iflag & INLCR:
            chars.add(ord("\n"))
        if t.lflag & ICANON:
            chars.update((cc[VERASE], cc[VKILL], cc[VEOF], ord("\n"), cc[VEOL]))
            if t.lflag & IEXTEN:
                chars.update((cc[VWERASE], cc[VLNEXT], cc[VEOL2]))
                if t.lflag & ECHO:
                    chars.add(cc[VREPRINT])
        if t.iflag & IXON:
            chars.update((cc[VSTART], cc[VSTOP]))
        if t.lflag & ISIG:
            chars.update((cc[VINTR], cc[VQUIT], cc[VSUSP]))
        chars.discard(_DISABLED)
        return chars

    # --- reading --------------------------------------------------------------------------

    def used(self) -> int:
        return sum(map(len, self.lines)) + len(self.edit)

    def room(self) -> int:
        """How many more characters the read buffer takes (n_tty_receive_buf_common)."""
        return N_TTY_BUF_SIZE - 1 - self.used()

    def readable_count(self) -> int:
        """FIONREAD (TIOCINQ): the bytes of complete lines, or all input when raw."""
        if self.icanon:
            return sum(map(len, self.lines))
        return len(self.edit)

    def input_available(self, amount: int = 1) -> bool:
        if self.icanon:
            return bool(self.lines)
        return len(self.edit) >= amount

    def read_line(self, size: int) -> bytes:
        """A canonical read: at most one line (b"" for a VEOF on an empty line)."""
        line = self.lines[0]
        if len(line) <= size:
            self.lines.popleft()
            return line
        self.lines[0] = line[size:]
        return line[:size]

    def read_raw(self, size: int) -> bytes:
        data = bytes(self.edit[:size])
        del self.edit[:size]
        return data

    def flush_input(self) -> None:
        """reset_buffer_flags: the unread input is gone."""
        self.lines.clear()
        self.edit.clear()
        self.erasing = self.lnext = False

    # --- output ---------------------------------------------------------------------------

    def _put(self, data: bytes) -> None:
        if self.stopped:
            self.held_echo += data
        else:
            self.output += data

    def _output_char(self, c: int) -> bytes:
        """do_output_char: one character through OPOST, tracking the column."""
        oflag = self.termios.oflag
        if c == 10:  # \n
            if oflag & ONLRET:
                self.column = 0
            if oflag & ONLCR:
                self.canon_column = self.column = 0
                return b"\r\n"
            self.canon_column = self.column
        elif c == 13:  # \r
            if oflag & ONOCR and self.column == 0:
                return b""
            if oflag & OCRNL:
                if oflag & ONLRET:
                    self.canon_column = self.column = 0
                return b"\n"
            self.canon_column = self.column = 0
        elif c == 9:  # \t
            spaces = 8 - (self.column & 7)
            self.column += spaces
            if oflag & TABDLY == XTABS:
                return b" " * spaces
        elif c == 8:  # \b
            if self.column > 0:
                self.column -= 1
        elif not _iscntrl(c):
            if oflag & OLCUC and 97 <= c <= 122:
                c -= 32
            if not (self.termios.iflag & IUTF8 and c & 0xC0 == 0x80):
                self.column += 1
        return bytes((c,))

    def process_output(self, data: bytes) -> bytes:
        """What a write of `data` puts on the wire (n_tty_write with OPOST)."""
        oflag = self.termios.oflag
        if not oflag & OPOST:
            return data
        if not oflag & (OLCUC | OCRNL | ONOCR | ONLRET | TABDLY) and not data.translate(None, _PRINTABLE):
            self.column += len(data)  # the common case: plain text, no control characters
            return data
        return b"".join(self._output_char(c) for c in data)

    def _echo_raw(self, c: int) -> None:
        """echo_char_raw: through OPOST (a newline echoes as \\r\\n under ONLCR)."""
        if self.termios.oflag & OPOST:
            self._put(self._output_char(c))
        else:
            self._put(bytes((c,)))

    def _echo_char(self, c: int) -> None:
        """echo_char: a control character shows as ^X under ECHOCTL (not tab)."""
        if self.termios.lflag & ECHOCTL and _iscntrl(c) and c != 9:
            self._put(b"^" + bytes((c ^ 0o100,)))
            self.column += 2
        else:
            self._echo_raw(c)

    def _finish_erasing(self) -> None:
        if self.erasing:
            self._echo_raw(ord("/"))
            self.erasing = False

    def _set_canon_column(self) -> None:
        if not self.edit:
            self.canon_column = self.column

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            if self.on_stop_change is not None:
                self.on_stop_change(True)

    def start(self) -> None:
        """start_tty: output flows again, echoes held meanwhile come out."""
        if self.stopped and not self.tco_stopped:
            self.stopped = False
            self.output += self.held_echo
            self.held_echo.clear()
            if self.on_stop_change is not None:
                self.on_stop_change(False)

    # --- input ------------------------------------------------------------------------------

    def receive(self, data: bytes) -> int:
        """Process input characters while the read buffer has room; return how many
        were taken (the rest waits in the pty's buffer)."""
        taken = 0
        for c in data:
            if self.room() <= 0:
                if not (self.icanon and not self.lines):
                    break
                # A full canonical line: the last character is overwritten, so that an
                # erase or a newline still gets through (n_tty's overflow handling).
                if self.edit:
                    del self.edit[-1]
            self.receive_char(c)
            taken += 1
        if taken:
            self.last_input = self.now()
        return taken

    def receive_char(self, c: int) -> None:
        t = self.termios
        if t.iflag & ISTRIP:
            c &= 0x7F
        if t.iflag & IUCLC and t.lflag & IEXTEN and 65 <= c <= 90:
            c += 32
        if self.lnext:
            self.lnext = False
            self._normal_char(c)
        elif c in self._specials:
            self._special_char(c)
        else:
            self._normal_char(c)

    def _normal_char(self, c: int) -> None:
        """n_tty_receive_char."""
        t = self.termios
        if self.stopped and not self.tco_stopped and t.iflag & IXON and t.iflag & IXANY:
            self.start()
        if t.lflag & ECHO:
            self._finish_erasing()
            self._set_canon_column()
            self._echo_char(c)
        self._queue(c)

    def _queue(self, c: int) -> None:
        if c == 0xFF and self.termios.iflag & PARMRK:
            self.edit.append(c)
        self.edit.append(c)

    def _end_line(self, c: int | None) -> None:
        """n_tty_receive_handle_newline: the line is complete (c None: VEOF, not kept)."""
        if c is not None:
            self._queue(c)
        self.lines.append(bytes(self.edit))
        self.edit.clear()

    def _isig(self, sig: int, c: int) -> None:
        """n_tty_receive_signal_char: signal the foreground group, flush the input unless
        NOFLSH, echo the character."""
        t = self.termios
        if not t.lflag & NOFLSH:
            self.flush_input()
        self.signal(sig)
        if t.iflag & IXON:
            self.start()
        if t.lflag & ECHO:
            self._echo_char(c)

    def _special_char(self, c: int) -> None:
        """n_tty_receive_char_special."""
        t = self.termios
        cc = t.cc
        lflag = t.lflag
        if t.iflag & IXON and c in (cc[VSTART], cc[VSTOP]):
            if c == cc[VSTART]:
                self.start()
            else:
                self.stop()
            return
        if lflag & ISIG:
            for index, sig in ((VINTR, SIGINT), (VQUIT, SIGQUIT), (VSUSP, SIGTSTP)):
                if c == cc[index]:
                    self._isig(sig, c)
                    return
        if self.stopped and not self.tco_stopped and t.iflag & IXON and t.iflag & IXANY:
            self.start()
        if c == 13:
            if t.iflag & IGNCR:
                return
            if t.iflag & ICRNL:
                c = 10
        elif c == 10 and t.iflag & INLCR:
            c = 13
        if lflag & ICANON:
            if c in (cc[VERASE], cc[VKILL]) or (c == cc[VWERASE] and lflag & IEXTEN):
                self._erase(c)
                return
            if c == cc[VLNEXT] and lflag & IEXTEN:
                self.lnext = True
                if lflag & ECHO:
                    self._finish_erasing()
                    if lflag & ECHOCTL:
                        self._echo_raw(ord("^"))
                        self._echo_raw(8)
                return
            if c == cc[VREPRINT] and lflag & ECHO and lflag & IEXTEN:
                self._finish_erasing()
                self._echo_char(c)
                self._echo_raw(10)
                for ch in self.edit:
                    self._echo_char(ch)
                return
            if c == 10:
                if lflag & (ECHO | ECHONL):
                    self._echo_raw(10)
                self._end_line(c)
                return
            if c == cc[VEOF]:
                self._end_line(None)
                return
            if c == cc[VEOL] or (c == cc[VEOL2] and lflag & IEXTEN):
                if lflag & ECHO:
                    self._set_canon_column()
                    self._echo_char(c)
                self._end_line(c)
                return
        if lflag & ECHO:
            self._finish_erasing()
            if c == 10:
                self._echo_raw(10)
            else:
                self._set_canon_column()
                self._echo_char(c)
        self._queue(c)

    def _is_continuation(self, c: int) -> bool:
        return bool(self.termios.iflag & IUTF8) and c & 0xC0 == 0x80

    def _erase(self, c: int) -> None:
        """eraser: VERASE takes back one character, VWERASE a word, VKILL the line."""
        t = self.termios
        cc = t.cc
        lflag = t.lflag
        if not self.edit:
            return
        kill = c == cc[VKILL] and c != cc[VERASE] and not (c == cc[VWERASE] and lflag & IEXTEN)
        werase = c == cc[VWERASE] and lflag & IEXTEN and c != cc[VERASE]
        if kill:
            if not lflag & ECHO:
                self.edit.clear()
                return
            if not lflag & ECHOK or not lflag & ECHOKE or not lflag & ECHOE:
                self.edit.clear()
                self._finish_erasing()
                self._echo_char(c)
                if lflag & ECHOK:
                    self._echo_raw(10)
                return
        seen_alnums = 0
        while self.edit:
            head = len(self.edit)
            while True:  # one character, with its UTF-8 continuation bytes
                head -= 1
                ch = self.edit[head]
                if not (self._is_continuation(ch) and head > 0):
                    break
            if self._is_continuation(ch):
                break  # do not partially erase
            if werase:
                if chr(ch).isalnum() and ch < 128 or ch == ord("_"):
                    seen_alnums += 1
                elif seen_alnums:
                    break
            erased = self.edit[head:]
            del self.edit[head:]
            if lflag & ECHO:
                if lflag & ECHOPRT:
                    if not self.erasing:
                        self._echo_raw(ord("\\"))
                        self.erasing = True
                    self._echo_char(ch)
                    for extra in erased[1:]:
                        self._echo_raw(extra)
                        self.column -= 1
                elif not kill and not werase and not lflag & ECHOE:
                    self._echo_char(cc[VERASE])
                elif ch == 9:
                    self._erase_tab()
                else:
                    if _iscntrl(ch) and lflag & ECHOCTL:
                        self._backspace_echo()
                    if not _iscntrl(ch) or lflag & ECHOCTL:
                        self._backspace_echo()
            if not kill and not werase:
                break
        if not self.edit and lflag & ECHO:
            self._finish_erasing()

    def _backspace_echo(self) -> None:
        for ch in b"\b \b":
            self._echo_raw(ch)

    def _erase_tab(self) -> None:
        """ECHO_OP_ERASE_TAB: back up to where the tab started."""
        columns = 0
        after_tab = False
        for ch in reversed(self.edit):
            if ch == 9:
                after_tab = True
                break
            if _iscntrl(ch):
                if self.termios.lflag & ECHOCTL:
                    columns += 2
            elif not self._is_continuation(ch):
                columns += 1
        if not after_tab:
            columns += self.canon_column
        backspaces = min(8 - (columns & 7), self.column)
        self.column -= backspaces
        self._put(b"\b" * backspaces)


# --- controlling terminals and job control ------------------------------------------------------


class Tty:
    """A terminal's job-control state (tty->ctrl): its session and foreground group."""

    name = "tty"
    is_pty_master_of: Pty | None = None

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._session: int | None = None
        self._pgrp: int | None = None
        self.detached: set[int] = set()  # tgids that dropped it (TIOCNOTTY, not the leader)
        self.job_wait = WaitQueue(f"{self.name}_job")

    # --- who it belongs to ----------------------------------------------------------------------

    @property
    def session(self) -> int | None:
        """The session, while its leader lives (disassociate_ctty at the leader's exit)."""
        sid = self._session
        if sid is not None:
            leader = self.kernel.groups.get(sid)
            if leader is None or leader.is_zombie or leader.sid != sid:
                self._session = self._pgrp = None
                self.detached.clear()
                return None
        return sid

    @property
    def pgrp(self) -> int | None:
        return self._pgrp if self.session is not None else None

    def set_ctty(self, group: ThreadGroup) -> None:
        """__proc_set_tty: the terminal becomes `group`'s session's, its group in front."""
        self._session = group.sid
        self._pgrp = group.pgid
        self.detached.clear()

    def clear_session(self) -> None:
        self._session = self._pgrp = None
        self.detached.clear()

    def is_ctty_of(self, group: ThreadGroup) -> bool:
        return self.session == group.sid and group.tgid not in self.detached

    # --- job control (tty_jobctrl.c) -------------------------------------------------------------

    def check_change(self, task: Task, sig: int = SIGTTOU, done: int = 0) -> None:
        """__tty_check_change: a process of a background group of this terminal's session
        that reads it (SIGTTIN) or changes it (SIGTTOU) gets the signal, sent to its
        whole group, and the call waits for it to be delivered (ERESTARTSYS; a write that
        already wrote `done` bytes ends with that count). Ignored or blocked: SIGTTOU lets
        the change through, SIGTTIN fails with EIO; an orphaned group cannot be stopped: EIO."""
        group = task.group
        if not self.is_ctty_of(group):
            return
        pgrp = self.pgrp
        if pgrp is None or pgrp == group.pgid:
            return
        signals = self.kernel.signals
        if task.sigmask & sigbit(sig) or signals.action(group, sig).handler == SIG_IGN:
            if sig == SIGTTIN:
                raise SysError(EIO)
            return
        if signals.orphaned_pgrp(group):
            raise SysError(EIO)
        self.kill_pgrp(group.pgid, sig)
        raise Block(self.job_wait, on_signal=ends_with(done))

    def kill_pgrp(self, pgid: int, sig: int) -> None:
        for target in list(self.kernel.groups.values()):
            if target.pgid == pgid and not target.is_zombie and target.tgid != 1:
                self.kernel.signals.send(target, SigInfo(sig, SI_KERNEL))

    def signal_foreground(self, sig: int) -> None:
        pgrp = self.pgrp
        if pgrp is not None:
            self.kill_pgrp(pgrp, sig)

    def hangup_session(self) -> None:
        """tty_signal_session_leader: the session leader gets SIGHUP and SIGCONT; nobody
        has the terminal any more."""
        sid = self.session
        if sid is not None:
            leader = self.kernel.groups.get(sid)
            if leader is not None:
                self.kernel.signals.send(leader, SigInfo(SIGHUP, SI_KERNEL))
                self.kernel.signals.send(leader, SigInfo(SIGCONT, SI_KERNEL))
        self.clear_session()

    def disassociate(self, task: Task) -> None:
        """TIOCNOTTY (no_tty): a session leader gives the terminal up for its whole
        session, its foreground group gets SIGHUP and SIGCONT; anyone else only for itself."""
        group = task.group
        if group.sid != group.tgid:
            self.detached.add(group.tgid)
            return
        pgrp = self.pgrp
        if pgrp is not None:
            self.kill_pgrp(pgrp, SIGHUP)
            self.kill_pgrp(pgrp, SIGCONT)
        self.clear_session()

    # --- the ioctls every terminal has (tty_io.c, tty_jobctrl.c) ------------------------------------

    def job_ioctl(self, task: Task, file: File, request: int, arg: int, is_master: bool) -> int | None:
        """TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID; None for other requests.
        On a pty master they act on its slave, as tty_pair_get_tty."""
        group = task.group
        if request == TIOCSCTTY:
            return self._tiocsctty(task, file, arg)
        if request == TIOCNOTTY:
            if is_master or not self.is_ctty_of(group):
                raise SysError(ENOTTY)
            self.disassociate(task)
            return 0
        if request == TIOCGPGRP:
            if not is_master and not self.is_ctty_of(group):
                raise SysError(ENOTTY)
            task.mm.copy_out_i32(arg, self.pgrp or 0)
            return 0
        if request == TIOCGSID:
            if not is_master and not self.is_ctty_of(group):
                raise SysError(ENOTTY)
            sid = self.session
            if sid is None:
                raise SysError(ENOTTY)
            task.mm.copy_out_i32(arg, self.kernel.sid_vnr(sid))
            return 0
        if request == TIOCSPGRP:
            return self._tiocspgrp(task, arg)
        return None

    def _tiocsctty(self, task: Task, file: File, arg: int) -> int:
        group = task.group
        leader = group.sid == group.tgid
        if leader and self.session == group.sid:
            return 0
        if not leader or self.kernel.ttys.ctty(group) is not None:
            raise SysError(EPERM)
        root = group.creds.euid == 0
        if self.session is not None:
            if arg != 1 or not root:
                raise SysError(EPERM)  # another session's (root may steal it with arg 1)
        if not file.readable and not root:
            raise SysError(EPERM)
        self.set_ctty(group)
        return 0

    def _tiocspgrp(self, task: Task, arg: int) -> int:
        try:
            self.check_change(task)
        except SysError as error:
            raise SysError(ENOTTY if error.errno == EIO else error.errno) from None
        pgrp = task.mm.copy_in_i32(arg)
        if pgrp < 0:
            raise SysError(EINVAL)
        group = task.group
        if not self.is_ctty_of(group):
            raise SysError(ENOTTY)
        groups = [g for g in self.kernel.groups.values() if not g.reaped and g.tgid != 1]
        members = [g for g in groups if g.pgid == pgrp] or [g for g in groups if g.tgid == pgrp]
        if not pgrp or not members:
            raise SysError(ESRCH)
        if members[0].sid != group.sid:
            raise SysError(EPERM)
        self._pgrp = pgrp
        return 0


class ConsoleTty(Tty):
    """The host terminal pykern runs on: the guest's sessions and groups on it."""

    name = "console"

    def __init__(self, kernel: Kernel, rdev: int) -> None:
        super().__init__(kernel)
        self.rdev = rdev
        self._claimed = False

    @property
    def session(self) -> int | None:
        """The first process's session has it from the start, as the shell's job had it."""
        if not self._claimed and self.kernel.first is not None:
            self._claimed = True
            self.set_ctty(self.kernel.first)
        return super().session


_HOST_TIOCGDEV = 0x80045432  # _IOR('T', 0x32, unsigned int): the terminal behind /dev/tty


def _host_ctty_rdev() -> int | None:
    """The device number of pykern's controlling terminal on the host (None without
    one). /dev/tty's own inode is c 5,0: TIOCGDEV says which terminal it stands for."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return struct.unpack("I", fcntl.ioctl(fd, _HOST_TIOCGDEV, bytes(4)))[0]
    except OSError:
        return None
    finally:
        os.close(fd)


class TtyTable:
    """The kernel's terminals: the console and the pseudo-terminals by index."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.ptys: dict[int, Pty] = {}
        self._console: ConsoleTty | None = None
        self._console_probed = False
        self._devpts: DevptsFS | None = None

    @property
    def console(self) -> ConsoleTty | None:
        """pykern's own controlling terminal on the host, if it has one."""
        if not self._console_probed:
            self._console_probed = True
            rdev = _host_ctty_rdev() if self.kernel.options.console else None
            if rdev is not None:
                self._console = ConsoleTty(self.kernel, rdev)
        return self._console

    @property
    def devpts(self) -> DevptsFS:
        """The devpts instance /dev/pts shows and /dev/ptmx allocates in."""
        if self._devpts is None:
            from pykern.fs.devpts import DevptsFS

            self._devpts = DevptsFS(self)
        return self._devpts

    def ctty(self, group: ThreadGroup) -> Tty | None:
        """`group`'s controlling terminal (get_current_tty)."""
        console = self.console
        if console is not None and console.is_ctty_of(group):
            return console
        for pty in self.ptys.values():
            if pty.is_ctty_of(group):
                return pty
        return None

    def console_of(self, host_rdev: int) -> ConsoleTty | None:
        """The console if `host_rdev` is its device, or the host's /dev/tty (c 5,0),
        which can only be pykern's own controlling terminal."""
        console = self.console
        if console is not None and host_rdev in (console.rdev, makedev(TTYAUX_MAJOR, 0)):
            return console
        return None

    def session_leader_exit(self, group: ThreadGroup) -> None:
        """disassociate_ctty(1): the leader of a session whose controlling terminal is a
        pty died: the terminal's foreground group gets SIGHUP and the terminal is
        nobody's. The console is left alone: the first process only stands in for a
        session leader there (natively the shell that started pykern leads the session)."""
        for pty in list(self.ptys.values()):
            if pty._session == group.sid:
                pgrp = pty._pgrp
                pty.clear_session()
                if pgrp is not None:
                    pty.kill_pgrp(pgrp, SIGHUP)

    def console_pts_index(self) -> int | None:
        """N if the console is the host's /dev/pts/N (devpts shows it there too)."""
        console = self.console
        if console is None:
            return None
        major = (console.rdev >> 8) & 0xFFF
        minor = (console.rdev & 0xFF) | ((console.rdev >> 12) & ~0xFF)
        if not UNIX98_PTY_SLAVE_MAJOR <= major < UNIX98_PTY_SLAVE_MAJOR + 8:
            return None
        return (major - UNIX98_PTY_SLAVE_MAJOR) * 256 + minor

    def new_index(self) -> int:
        """The lowest free pty number (the console's, if it is a host pts, is taken)."""
        taken = self.console_pts_index()
        index = 0
        while index in self.ptys or index == taken:
            index += 1
        return index


# --- pseudo-terminals (pty.c) ------------------------------------------------------------------


class Pty(Tty):
    """A pseudo-terminal pair: the slave terminal (its termios, window size, line
    discipline and job-control state) and the master's side of the wire.

    - master writes are the slave's input: they wait in `input` (the flip buffer) until
      the line discipline has room;
    - slave writes and echoes go to `ldisc.output`, which the master reads.
    """

    def __init__(self, table: TtyTable, index: int, uid: int, gid: int) -> None:
        self.index = index
        self.name = f"pts{index}"
        super().__init__(table.kernel)
        self.table = table
        self.ldisc = LineDiscipline(Termios.pty_slave(), self.signal_foreground)
        self.ldisc.on_stop_change = self._packet_stop_change
        self.ldisc.now = lambda: table.kernel.sched.now()  # VTIME: virtual under --deterministic
        self.input = bytearray()  # master writes not yet taken by the line discipline
        self.winsize = bytes(WINSIZE.size)
        self.locked = True  # TIOCSPTLCK: the slave cannot be opened
        self.exclusive = False  # TIOCEXCL
        self.packet = False  # TIOCPKT
        self.packet_status = 0
        self.master_open = True
        self.slave_files: list[PtySlave] = []
        self.slave_opened = False  # the master reads EIO once every slave is closed again
        self.uid = uid
        self.gid = gid
        self.created_ns = table.kernel.clock.realtime_ns()
        self.slave_read = WaitQueue(f"pts{index}_read")
        self.slave_write = WaitQueue(f"pts{index}_write")
        self.master_read = WaitQueue(f"ptm{index}_read")
        self.master_write = WaitQueue(f"ptm{index}_write")

    # --- data flow ------------------------------------------------------------------------------

    def push_input(self) -> None:
        """Feed waiting master writes to the line discipline (flush_to_ldisc)."""
        before = len(self.ldisc.output)
        if self.input:
            taken = self.ldisc.receive(bytes(self.input))
            if taken:
                del self.input[:taken]
                self.master_write.wake_all()
                self.slave_read.wake_all()
        if len(self.ldisc.output) != before:
            self.master_read.wake_all()

    def master_write_data(self, data: bytes) -> None:
        self.input += data
        before = len(self.ldisc.output)
        self.push_input()
        self.slave_read.wake_all()
        if len(self.ldisc.output) != before or self.ldisc.held_echo:
            self.master_read.wake_all()

    def master_room(self) -> int:
        return PTY_BUFFER_LIMIT - len(self.input)

    def slave_room(self) -> int:
        if self.ldisc.stopped:
            return 0
        return PTY_BUFFER_LIMIT - len(self.ldisc.output)

    def signal_foreground(self, sig: int) -> None:
        if not self.ldisc.termios.lflag & NOFLSH:
            self._packet_flush(TIOCPKT_FLUSHREAD)
        super().signal_foreground(sig)

    # --- packet mode ---------------------------------------------------------------------------

    def _packet_flush(self, bit: int) -> None:
        if self.packet:
            self.packet_status |= bit
            self.master_read.wake_all()

    def _packet_stop_change(self, stopped: bool) -> None:
        if stopped:
            self.slave_write.wake_all()
        else:
            self.slave_write.wake_all()
            self.master_read.wake_all()
        if self.packet:
            self.packet_status &= ~(TIOCPKT_START if stopped else TIOCPKT_STOP)
            self.packet_status |= TIOCPKT_STOP if stopped else TIOCPKT_START
            self.master_read.wake_all()

    # --- termios and window size ---------------------------------------------------------------

    def set_termios(self, new: Termios) -> None:
        """tty_set_termios, with pty_set_termios' rule: CS8 and CREAD, no parity."""
        old = self.ldisc.termios
        new.cflag = (new.cflag & ~(CSIZE | PARENB)) | CS8 | CREAD
        if self.packet:
            old_flow = old.iflag & IXON and old.cc[VSTOP] == 0o23 and old.cc[VSTART] == 0o21
            new_flow = new.iflag & IXON and new.cc[VSTOP] == 0o23 and new.cc[VSTART] == 0o21
            if bool(old_flow) != bool(new_flow):
                self.packet_status &= ~(TIOCPKT_DOSTOP | TIOCPKT_NOSTOP)
                self.packet_status |= TIOCPKT_DOSTOP if new_flow else TIOCPKT_NOSTOP
                self.master_read.wake_all()
        self.ldisc.set_termios(new, old)
        self.push_input()
        self.slave_read.wake_all()

    def set_winsize(self, data: bytes) -> None:
        """tty_do_resize: SIGWINCH to the foreground group when the size changes."""
        if data != self.winsize:
            self.signal_foreground_plain(SIGWINCH)
            self.winsize = data

    def signal_foreground_plain(self, sig: int) -> None:
        Tty.signal_foreground(self, sig)

    # --- opening and closing --------------------------------------------------------------------

    def open_slave(self, task: Task, flags: int, path: str = "",
                   stat: Callable[[], Stat] | None = None) -> PtySlave:
        """pty_open of the slave: EIO while locked or once the master is gone; EBUSY
        under TIOCEXCL (but for root). Without O_NOCTTY, a session leader with no
        controlling terminal acquires this one (tty_open_proc_set_tty)."""
        if not self.master_open or self.locked:
            raise SysError(EIO)
        group = task.group
        if self.exclusive and group.creds.euid != 0:
            raise SysError(EBUSY)
        file = PtySlave(self, flags, path or f"/dev/pts/{self.index}", stat)
        self.slave_files.append(file)
        self.slave_opened = True
        if not flags & O_NOCTTY and group.sid == group.tgid and self.session is None \
                and self.table.ctty(group) is None and file.readable:
            self.set_ctty(group)
        return file

    def slave_closed(self, file: PtySlave) -> None:
        if file in self.slave_files:
            self.slave_files.remove(file)
        if not self.slave_files:
            self.master_read.wake_all()  # it reads EIO once the output is drained
            self.master_write.wake_all()
        self._maybe_free()

    def master_closed(self) -> None:
        """pty_close of the master: /dev/pts/N goes away and the slave is hung up
        (tty_vhangup): its open files read EOF and fail writes with EIO, the session
        leader gets SIGHUP and SIGCONT."""
        self.master_open = False
        for file in self.slave_files:
            file.hung_up = True
        self.slave_read.wake_all()
        self.slave_write.wake_all()
        self.job_wait.wake_all()
        self.hangup_session()
        self.ldisc.flush_input()
        self._maybe_free()

    def _maybe_free(self) -> None:
        if not self.master_open and not self.slave_files and self.table.ptys.get(self.index) is self:
            del self.table.ptys[self.index]

    # --- stat -----------------------------------------------------------------------------------

    @property
    def rdev(self) -> int:
        return makedev(UNIX98_PTY_SLAVE_MAJOR + (self.index >> 8), self.index & 0xFF)

    def slave_stat(self) -> Stat:
        """The devpts inode of /dev/pts/N (devpts_pty_new: ino N + 3, the mount's
        gid=5,mode=620 as Debian mounts it)."""
        fs = self.table.devpts
        ns = self.created_ns
        return Stat(dev=fs.dev, ino=self.index + 3, nlink=1, mode=S_IFCHR | 0o620, uid=self.uid,
                    gid=self.gid, rdev=self.rdev, size=0, blksize=1024, blocks=0,
                    atime_ns=ns, mtime_ns=ns, ctime_ns=ns)


def _tty_ready_mask(readable: bool, writable: bool, hangup: bool) -> int:
    mask = (POLLIN | POLLRDNORM if readable else 0) | (POLLOUT | POLLWRNORM if writable else 0)
    return mask | (POLLHUP if hangup else 0)


class TtyFile(File):
    """An open terminal: what the slave and the master have in common."""

    kind = "tty"

    def __init__(self, flags: int, path: str) -> None:
        super().__init__(file_status_flags(flags), path)  # as F_GETFL shows them

    def link_target(self) -> bytes:
        return self.path.encode()


class PtySlave(TtyFile):
    """An open /dev/pts/N."""

    def __init__(self, pty: Pty, flags: int, path: str, stat: Callable[[], Stat] | None = None) -> None:
        super().__init__(flags, path)
        self.pty = pty
        self.hung_up = False  # the master closed: hung_up_tty_fops
        self._stat = stat  # opened as /dev/tty: that node's

    def stat(self) -> Stat:
        return self._stat() if self._stat is not None else self.pty.slave_stat()

    def release(self) -> None:
        self.pty.slave_closed(self)

    def read(self, task: Task, size: int) -> bytes:
        """n_tty_read: a line in canonical mode, else VMIN/VTIME's rules."""
        pty = self.pty
        if self.hung_up:
            block = task.restart_block
            if block is not None and block.tty_waiting:
                raise SysError(EIO)  # slept through the hang-up (TTY_OTHER_CLOSED)
            return b""
        pty.check_change(task, SIGTTIN)
        ldisc = pty.ldisc
        if ldisc.icanon:
            if ldisc.lines:
                data = ldisc.read_line(size)
                pty.push_input()
                return data
            return self._wait(task)
        cc = ldisc.termios.cc
        vmin, vtime = cc[VMIN], cc[VTIME]
        available = len(ldisc.edit)
        deadline = None
        if vmin == 0:
            if available or vtime == 0:
                return self._take(size)
            block = task.restart_state()
            if block.tty_deadline is None:
                block.tty_deadline = ldisc.now() + vtime / 10
            deadline = block.tty_deadline
            if ldisc.now() >= deadline:
                return b""
        elif available >= min(vmin, size):
            return self._take(size)
        elif available and vtime:
            deadline = ldisc.last_input + vtime / 10
            if ldisc.now() >= deadline:
                return self._take(size)
        return self._wait(task, deadline)

    def _take(self, size: int) -> bytes:
        data = self.pty.ldisc.read_raw(size)
        self.pty.push_input()
        return data

    def _wait(self, task: Task, deadline: float | None = None) -> bytes:
        if self.nonblocking:
            raise SysError(EAGAIN)
        task.restart_state().tty_waiting = True
        raise Block(self.pty.slave_read, deadline=deadline)

    def write(self, task: Task, data: bytes) -> int:
        """n_tty_write: OPOST processing; waits while output is stopped or full."""
        pty = self.pty
        if self.hung_up:
            raise SysError(EIO)
        ldisc = pty.ldisc
        block = task.restart_block
        done = block.tty_written if block is not None else 0
        if ldisc.termios.lflag & TOSTOP:
            pty.check_change(task, SIGTTOU, done)
        room = pty.slave_room()
        if room > 0 and done < len(data):
            chunk = data[done : done + room]
            ldisc.output += ldisc.process_output(chunk)
            done += len(chunk)
            pty.master_read.wake_all()
        return _finish_write(task, self, data, done, pty.slave_write)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        pty = self.pty
        if self.hung_up:
            return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM, (), ()
        ldisc = pty.ldisc
        cc = ldisc.termios.cc
        amount = cc[VMIN] if not cc[VTIME] and cc[VMIN] else 1
        mask = _tty_ready_mask(ldisc.input_available(amount), pty.slave_room() > 0, not pty.master_open)
        return mask, (pty.slave_read, pty.slave_write), ()

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        if self.hung_up:
            raise SysError(ENOTTY if request == TIOCSPGRP else EIO)
        return pty_ioctl(task, self, self.pty, request, arg_addr, is_master=False)


class PtyMaster(TtyFile):
    """An open /dev/ptmx: the other end of pty `index`."""

    def __init__(self, pty: Pty, flags: int, path: str, stat: Callable[[], Stat] | None) -> None:
        super().__init__(flags, path)
        self.pty = pty
        self._stat = stat

    def stat(self) -> Stat:
        if self._stat is not None:
            return self._stat()
        ns = self.pty.created_ns
        return Stat(dev=5, ino=85, nlink=1, mode=S_IFCHR | 0o666, uid=0, gid=5,
                    rdev=makedev(TTYAUX_MAJOR, 2), size=0, blksize=4096, blocks=0,
                    atime_ns=ns, mtime_ns=ns, ctime_ns=ns)

    def release(self) -> None:
        self.pty.master_closed()

    def read(self, task: Task, size: int) -> bytes:
        """The slave's output; EIO once no slave is open and nothing is left (pty's
        TTY_OTHER_CLOSED); in packet mode a status byte leads every read."""
        pty = self.pty
        output = pty.ldisc.output
        if pty.packet:
            if pty.packet_status:
                status, pty.packet_status = pty.packet_status, 0
                return bytes((status,))
            if output and size > 1:
                data = bytes(output[: size - 1])
                del output[: size - 1]
                pty.slave_write.wake_all()
                return bytes((TIOCPKT_DATA,)) + data
        elif output:
            data = bytes(output[:size])
            del output[:size]
            pty.slave_write.wake_all()
            return data
        if pty.slave_opened and not pty.slave_files:
            raise SysError(EIO)
        if self.nonblocking:
            raise SysError(EAGAIN)
        raise Block(pty.master_read)

    def write(self, task: Task, data: bytes) -> int:
        """Input for the slave: what the line discipline cannot take yet waits (up to
        the flip buffer's limit; then the writer waits)."""
        pty = self.pty
        block = task.restart_block
        done = block.tty_written if block is not None else 0
        room = pty.master_room()
        if room > 0 and done < len(data):
            chunk = data[done : done + room]
            pty.master_write_data(chunk)
            done += len(chunk)
        return _finish_write(task, self, data, done, pty.master_write)

    def poll(self, events: int) -> tuple[int, tuple[WaitQueue, ...], tuple[tuple[int, str], ...]]:
        pty = self.pty
        readable = bool(pty.ldisc.output) or (pty.packet and bool(pty.packet_status))
        hangup = pty.slave_opened and not pty.slave_files
        mask = _tty_ready_mask(readable, pty.master_room() > 0, hangup)
        if pty.packet and pty.packet_status:
            mask |= POLLPRI
        return mask, (pty.master_read, pty.master_write), ()

    def ioctl(self, task: Task, request: int, arg_addr: int) -> int:
        pty = self.pty
        if request == TIOCGPTN:
            task.mm.copy_out_u32(arg_addr, pty.index)
            return 0
        if request == TIOCSPTLCK:
            pty.locked = task.mm.copy_in_i32(arg_addr) != 0
            return 0
        if request == TIOCGPTLCK:
            task.mm.copy_out_i32(arg_addr, int(pty.locked))
            return 0
        if request == TIOCPKT:
            on = task.mm.copy_in_i32(arg_addr) != 0
            if on and not pty.packet:
                pty.packet_status = 0
            pty.packet = on
            return 0
        if request == TIOCGPKT:
            task.mm.copy_out_i32(arg_addr, int(pty.packet))
            return 0
        if request == TIOCSIG:
            if arg_addr not in (SIGINT, SIGQUIT, SIGTSTP):
                raise SysError(EINVAL)
            pty.signal_foreground_plain(arg_addr)
            return 0
        if request == TIOCGPTPEER:
            return self._open_peer(task, arg_addr)
        return pty_ioctl(task, self, pty, request, arg_addr, is_master=True)

    def _open_peer(self, task: Task, flags: int) -> int:
        """TIOCGPTPEER: open the slave through the master, into a new fd."""
        files = task.group.files
        files.lowest_free()  # EMFILE first
        access = flags & O_ACCMODE
        if access not in (O_RDONLY, O_WRONLY, O_RDWR):
            raise SysError(EINVAL)
        slave = self.pty.open_slave(task, flags)
        try:
            return files.install(slave, cloexec=bool(flags & O_CLOEXEC))
        finally:
            if slave.refs == 0:
                slave.release()


def _finish_write(task: Task, file: File, data: bytes, done: int, queue: WaitQueue) -> int:
    """A write that did `done` bytes of `data`: return, or fail with EAGAIN, or wait for
    room with the progress kept for the retry (a signal then ends it with the count)."""
    if done >= len(data) or (done and file.nonblocking):
        return done
    if file.nonblocking:
        raise SysError(EAGAIN)
    task.restart_state().tty_written = done
    raise Block(queue, on_signal=ends_with(done))  # a signal: return the count


def pty_ioctl(task: Task, file: File, pty: Pty, request: int, arg: int, is_master: bool) -> int:
    """The ioctls of a pty's two ends (tty_ioctl, n_tty_ioctl, tty_mode_ioctl): on the
    master they act on the slave, as Linux's tty_pair_get_tty."""
    mm = task.mm
    ldisc = pty.ldisc
    done = pty.job_ioctl(task, file, request, arg, is_master)
    if done is not None:
        return done
    if request == TCGETS:
        mm.copy_out(arg, ldisc.termios.pack())
        return 0
    if request in (TCSETS, TCSETSW, TCSETSF):
        pty.check_change(task)
        new = Termios.unpack(mm.copy_in(arg, TERMIOS.size))
        if request == TCSETSF:
            ldisc.flush_input()
            pty.input.clear()
            pty._packet_flush(TIOCPKT_FLUSHREAD)
        pty.set_termios(new)
        return 0
    if request == TIOCGWINSZ:
        mm.copy_out(arg, pty.winsize)
        return 0
    if request == TIOCSWINSZ:
        pty.set_winsize(mm.copy_in(arg, WINSIZE.size))
        return 0
    if request == FIONREAD:
        count = len(ldisc.output) if is_master else ldisc.readable_count()
        mm.copy_out_i32(arg, count)
        return 0
    if request == TIOCOUTQ:
        mm.copy_out_i32(arg, 0)  # a pty keeps nothing in a driver buffer
        return 0
    if request == TCFLSH:
        pty.check_change(task)
        if arg not in (TCIFLUSH, TCOFLUSH, TCIOFLUSH):
            raise SysError(EINVAL)
        if is_master:
            if arg in (TCIFLUSH, TCIOFLUSH):
                ldisc.output.clear()
            if arg in (TCOFLUSH, TCIOFLUSH):
                pty.input.clear()
        else:
            if arg in (TCIFLUSH, TCIOFLUSH):
                ldisc.flush_input()
                pty.input.clear()
                pty._packet_flush(TIOCPKT_FLUSHREAD)
            if arg in (TCOFLUSH, TCIOFLUSH):
                pty._packet_flush(TIOCPKT_FLUSHWRITE)
        pty.master_write.wake_all()
        pty.slave_write.wake_all()
        return 0
    if request == TCXONC:
        pty.check_change(task)
        if arg == TCOOFF:
            ldisc.stop()
            ldisc.tco_stopped = True
        elif arg == TCOON:
            ldisc.tco_stopped = False
            ldisc.start()
        elif arg in (TCIOFF, TCION):
            char = ldisc.termios.cc[VSTOP if arg == TCIOFF else VSTART]
            if char != _DISABLED:
                ldisc.output.append(char)
                pty.master_read.wake_all()
        else:
            raise SysError(EINVAL)
        return 0
    if request in (TCSBRK, TCSBRKP, TIOCSBRK, TIOCCBRK):
        pty.check_change(task)
        return 0  # a pty has no line to send a break on (send_break without break_ctl)
    if request == TIOCEXCL:
        pty.exclusive = True
        return 0
    if request == TIOCNXCL:
        pty.exclusive = False
        return 0
    if request == TIOCGEXCL:
        mm.copy_out_i32(arg, int(pty.exclusive))
        return 0
    if request == TIOCGETD:
        mm.copy_out_i32(arg, N_TTY)
        return 0
    if request == TIOCSETD:
        if mm.copy_in_i32(arg) != N_TTY:
            raise SysError(EINVAL)
        return 0
    if request == TIOCSTI:
        # tiocsti: as if typed (on a master: as if the slave wrote it); the caller's own
        # controlling terminal, or root. (Deviation: a kernel built without
        # CONFIG_LEGACY_TIOCSTI refuses non-root callers with EIO.)
        if not pty.is_ctty_of(task.group) and task.group.creds.euid != 0:
            raise SysError(EPERM)
        char = mm.copy_in(arg, 1)
        if is_master:
            ldisc.output += char
            pty.master_read.wake_all()
        else:
            pty.master_write_data(char)
        return 0
    if request == TIOCGPTPEER:
        raise SysError(EIO)  # only a master has a peer to open
    raise SysError(ENOTTY)


# --- entry points for the device nodes ------------------------------------------------------------


def open_ptmx(task: Task, flags: int, path: str = "/dev/ptmx",
              stat: Callable[[], Stat] | None = None) -> File:
    """open(2) of /dev/ptmx: a new pty pair, locked, and its master. The master never
    becomes a controlling terminal by being opened. `stat` is the device node's."""
    table = task.kernel.ttys
    creds = task.group.creds
    index = table.new_index()
    pty = Pty(table, index, creds.euid, 5)  # devpts' gid=5 (tty), as Debian mounts it
    table.ptys[index] = pty
    return PtyMaster(pty, flags, path, stat)


def open_dev_tty(task: Task, flags: int, stat: Callable[[], Stat] | None = None) -> File:
    """open(2) of /dev/tty: the caller's controlling terminal again (ENXIO without
    one). It never makes a controlling terminal. `stat` is the device node's."""
    table = task.kernel.ttys
    tty = table.ctty(task.group)
    if tty is None:
        raise SysError(ENXIO)
    if isinstance(tty, Pty):
        return tty.open_slave(task, flags | O_NOCTTY, "/dev/tty", stat)
    from pykern.fs.file import HostFile

    return HostFile.open("/dev/tty", flags | O_NOCTTY, 0, 0)


def ctty_numbers(kernel: Kernel, group: ThreadGroup) -> tuple[int, int]:
    """/proc/PID/stat's tty_nr and tpgid: the controlling terminal's device number and
    its foreground group (0 and -1 without one)."""
    tty = kernel.ttys.ctty(group)
    if tty is None:
        return 0, -1
    pgrp = tty.pgrp
    rdev = tty.rdev if isinstance(tty, (Pty, ConsoleTty)) else 0
    return rdev, pgrp if pgrp is not None else -1


def lookup_pty(task: Task, index: int) -> Pty:
    """The pty /dev/pts/`index` names: ENOENT when there is none or its master is closed."""
    pty = task.kernel.ttys.ptys.get(index)
    if pty is None or not pty.master_open:
        raise SysError(ENOENT)
    return pty


__all__ = [
    "ConsoleTty",
    "LineDiscipline",
    "Pty",
    "PtyMaster",
    "PtySlave",
    "Termios",
    "Tty",
    "TtyTable",
    "open_dev_tty",
    "open_ptmx",
]
