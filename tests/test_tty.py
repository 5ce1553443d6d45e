"""pykern.tty: the line discipline (n_tty) driven directly, and the console's job
control under a real (host) pseudo-terminal, natively and under pykern.

testbins/pty checks the pseudo-terminals end to end against Linux (tests/test_testbins.py);
these tests pin the line discipline's editing and echo rules one by one, and the
console: pykern's own terminal, whose sessions and process groups pykern keeps.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import REPO_ROOT, TESTBINS_DIR
from pykern.abi import (
    ECHO,
    ECHOCTL,
    ECHOE,
    ECHOK,
    ECHOKE,
    ECHONL,
    ICANON,
    ICRNL,
    IGNCR,
    INLCR,
    IUTF8,
    NOFLSH,
    ONLCR,
    OPOST,
    SIGINT,
    SIGQUIT,
    SIGTSTP,
    VEOL,
    VMIN,
)
from pykern.tty import LineDiscipline, Termios


def make(**changes: int) -> tuple[LineDiscipline, list[int]]:
    """A line discipline with the pty slave's initial termios, changed by flag name:
    lflag_off=ECHO, iflag_on=INLCR ..."""
    termios_ = Termios.pty_slave()
    for name, bits in changes.items():
        field, how = name.split("_")
        value = getattr(termios_, field)
        setattr(termios_, field, value | bits if how == "on" else value & ~bits)
    signals: list[int] = []
    return LineDiscipline(termios_, signals.append), signals


def typed(ldisc: LineDiscipline, data: bytes) -> bytes:
    """Type `data`; return the echo and clear it."""
    assert ldisc.receive(data) == len(data)
    echo = bytes(ldisc.output)
    ldisc.output.clear()
    return echo


def lines(ldisc: LineDiscipline) -> list[bytes]:
    out = []
    while ldisc.lines:
        out.append(ldisc.read_line(4096))
    return out


# --- canonical mode -------------------------------------------------------------------------


def test_initial_termios_is_linuxs_pty_slave():
    t = Termios.pty_slave()
    assert (t.iflag, t.oflag, t.cflag, t.lflag) == (0o2400, 0o5, 0o277, 0o105073)
    assert list(t.cc[:17]) == [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0]
    assert Termios.unpack(t.pack()).pack() == t.pack() and len(t.pack()) == 36


def test_a_line_is_readable_only_when_complete():
    ldisc, _ = make()
    assert typed(ldisc, b"hel") == b"hel"
    assert not ldisc.input_available() and ldisc.readable_count() == 0
    assert typed(ldisc, b"lo\r") == b"lo\r\n"  # ICRNL, and the newline echoes through ONLCR
    assert ldisc.readable_count() == 6
    assert ldisc.read_line(3) == b"hel"  # a short read leaves the rest of the line
    assert ldisc.read_line(100) == b"lo\n"


def test_erase_kill_and_word_erase():
    ldisc, _ = make()
    assert typed(ldisc, b"abc\x7f") == b"abc\b \b"
    assert typed(ldisc, b"\x17") == b"\b \b\b \b"  # VWERASE takes the word back
    assert typed(ldisc, b"one two\x17") == b"one two" + b"\b \b" * 3
    assert typed(ldisc, b"\x15") == b"\b \b" * 4  # VKILL with ECHOKE erases visibly
    assert typed(ldisc, b"ok\n") == b"ok\r\n"
    assert lines(ldisc) == [b"ok\n"]
    assert typed(ldisc, b"\x7f") == b""  # nothing to erase


def test_kill_without_echoke_echoes_the_kill_char_and_a_newline():
    ldisc, _ = make(lflag_off=ECHOKE)
    assert typed(ldisc, b"xy\x15") == b"xy^U\r\n"
    ldisc, _ = make(lflag_off=ECHOE | ECHOK | ECHOKE)
    assert typed(ldisc, b"xy\x7f") == b"xy^?"  # no ECHOE: the erase character itself
    assert typed(ldisc, b"\x15") == b"^U"


def test_erasing_a_tab_and_a_control_character():
    ldisc, _ = make()
    assert typed(ldisc, b"ab\t") == b"ab\t"
    assert typed(ldisc, b"\x7f") == b"\b" * 6  # back to column 2
    assert typed(ldisc, b"\x01") == b"^A"
    assert typed(ldisc, b"\x7f") == b"\b \b\b \b"  # two columns under ECHOCTL


def test_utf8_erase_takes_the_whole_character():
    ldisc, _ = make(iflag_on=IUTF8)
    typed(ldisc, "aé".encode())
    assert typed(ldisc, b"\x7f") == b"\b \b"
    assert typed(ldisc, b"\n") == b"\r\n"
    assert lines(ldisc) == [b"a\n"]


def test_eof_and_eol():
    ldisc, _ = make()
    assert typed(ldisc, b"ab\x04") == b"ab"  # VEOF is not echoed and not kept
    assert typed(ldisc, b"\x04") == b""
    assert lines(ldisc) == [b"ab", b""]  # an empty line: read returns 0 (EOF)
    ldisc.termios.cc[VEOL] = ord(";")
    ldisc.set_termios(ldisc.termios, ldisc.termios.copy())
    assert typed(ldisc, b"x;") == b"x;"
    assert lines(ldisc) == [b"x;"]
    assert typed(ldisc, b"\0\n") == b"^@\r\n"  # VEOL2 = 0 is disabled, not a line end


def test_lnext_and_reprint():
    ldisc, _ = make()
    assert typed(ldisc, b"\x16") == b"^\b"
    assert typed(ldisc, b"\x7f") == b"^?"  # taken literally
    assert typed(ldisc, b"a\x12") == b"a^R\r\n^?a"
    assert lines(ldisc) == []
    typed(ldisc, b"\n")
    assert lines(ldisc) == [b"\x7fa\n"]


def test_echo_off_and_echonl():
    ldisc, _ = make(lflag_off=ECHO)
    assert typed(ldisc, b"secret\n") == b""
    ldisc, _ = make(lflag_off=ECHO, lflag_on=ECHONL)
    assert typed(ldisc, b"secret\n") == b"\r\n"


def test_input_translation():
    ldisc, _ = make(iflag_on=IGNCR)
    typed(ldisc, b"a\rb\n")
    assert lines(ldisc) == [b"ab\n"]
    ldisc, _ = make(iflag_off=ICRNL, iflag_on=INLCR, lflag_off=ICANON)
    typed(ldisc, b"a\nb\r")
    assert ldisc.read_raw(10) == b"a\rb\r"


def test_signal_characters():
    ldisc, signals = make()
    assert typed(ldisc, b"abc\x03") == b"abc^C"
    assert signals == [SIGINT] and ldisc.used() == 0  # the input is flushed
    typed(ldisc, b"\x1c\x1a")
    assert signals == [SIGINT, SIGQUIT, SIGTSTP]
    ldisc, signals = make(lflag_on=NOFLSH, lflag_off=ECHOCTL)
    assert typed(ldisc, b"ab\x03") == b"ab\x03"
    assert signals == [SIGINT] and ldisc.used() == 2


def test_flow_control_holds_echoes():
    ldisc, _ = make()
    assert typed(ldisc, b"\x13ab") == b""
    assert ldisc.stopped
    assert typed(ldisc, b"\x11") == b"ab"
    assert not ldisc.stopped


def test_a_full_canonical_line_keeps_taking_erase_and_newline():
    ldisc, _ = make(lflag_off=ECHO)
    typed(ldisc, b"x" * 5000)
    assert len(ldisc.edit) == 4095
    typed(ldisc, b"\n")
    line = lines(ldisc)[0]
    assert len(line) == 4095 and line.endswith(b"\n")


def test_raw_mode_and_switching_modes():
    ldisc, _ = make()
    typed(ldisc, b"one\ntw")
    raw = ldisc.termios.copy()
    raw.lflag &= ~(ICANON | ECHO)
    ldisc.set_termios(raw, ldisc.termios)
    assert ldisc.readable_count() == 6  # all of it, the partial line too
    assert ldisc.read_raw(4) == b"one\n"
    typed(ldisc, b"o")
    cooked = raw.copy()
    cooked.lflag |= ICANON
    ldisc.set_termios(cooked, raw)
    assert lines(ldisc) == [b"two"]  # pushed as one line
    raw.cc[VMIN] = 3
    ldisc.set_termios(raw.copy(), cooked)
    typed(ldisc, b"ab")
    assert ldisc.input_available() and not ldisc.input_available(3)


def test_output_processing():
    ldisc, _ = make()
    assert ldisc.process_output(b"a\nb\n") == b"a\r\nb\r\n"
    assert ldisc.process_output(b"plain") == b"plain"
    ldisc.termios.oflag &= ~ONLCR
    assert ldisc.process_output(b"a\n") == b"a\n"
    ldisc.termios.oflag = OPOST | 0o14000  # XTABS
    ldisc.column = 0
    assert ldisc.process_output(b"ab\tc") == b"ab      c"
    ldisc.termios.oflag = 0
    assert ldisc.process_output(b"\n\t") == b"\n\t"


# --- the console: a guest on a real terminal -------------------------------------------------------


def _run_on_terminal(cmd: list[str]) -> tuple[int, bytes]:
    """Run `cmd` as the leader of a new session whose controlling terminal is a fresh
    host pty (what a terminal emulator does); return its status and all it wrote."""
    master, slave = os.openpty()

    def become_session_leader() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=REPO_ROOT,
                            start_new_session=True, preexec_fn=become_session_leader,
                            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    os.close(slave)
    out = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every slave fd is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), bytes(out)


@pytest.mark.usefixtures("built_testbins")
def test_console_job_control_matches_linux():
    """On pykern's own terminal, tcgetpgrp/tcsetpgrp/tcgetsid answer for the guest's
    groups, and background reads, writes under TOSTOP and termios changes stop with
    SIGTTIN/SIGTTOU, as natively."""
    prog = str(TESTBINS_DIR / "pty")
    native = _run_on_terminal([prog, "console"])
    under = _run_on_terminal([sys.executable, "-m", "pykern", "run", prog, "console"])
    assert native[0] == 0, native[1].decode(errors="replace")
    assert under == native


class Terminal:
    """A program run as the session leader on a fresh host pty, typed at like a user."""

    def __init__(self, cmd: list[str]) -> None:
        self.master, slave = os.openpty()

        def become_session_leader() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PS1": "$ ", "TERM": "dumb", "HOME": "/",
               "PTY_RESIZE": "1"}
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=REPO_ROOT,
                                     start_new_session=True, preexec_fn=become_session_leader, env=env)
        os.close(slave)
        self.out = bytearray()

    def until(self, marker: bytes, start: int = 0, timeout: float = 60) -> None:
        """Read until the output from `start` on holds `marker` (not only at its end: what
        the program writes next may come in the same read)."""
        deadline = time.monotonic() + timeout
        while marker not in self.out[start:]:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"waited for {marker!r}; got {bytes(self.out)!r}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF waiting for {marker!r}; got {bytes(self.out)!r}")
            self.out += chunk

    def type(self, data: bytes, then: bytes) -> None:
        """Type `data`, then wait for what it makes appear (not what was already there)."""
        start = len(self.out)
        os.write(self.master, data)
        self.until(then, start)

    def close(self) -> tuple[int, str]:
        try:
            status = self.proc.wait(timeout=60)
            while select.select([self.master], [], [], 1)[0]:  # what it wrote before exiting
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
        finally:
            self.proc.kill()
            os.close(self.master)
        lines = bytes(self.out).decode(errors="replace").replace("\r", "").splitlines()
        return status, "\n".join(line for line in lines if not line.startswith("pykern: warning"))


def _interactive_bash(prefix: list[str]) -> tuple[int, str]:
    term = Terminal([*prefix, "/bin/bash", "--norc", "--noprofile", "-i"])
    try:
        term.until(b"$ ")
        term.type(b"sh -c 'echo started; exec cat'\n", b"started\r\n")
        term.type(b"\x1a", b"$ ")  # Ctrl-Z stops the job in front, not the shell
        term.type(b"jobs\n", b"$ ")
        term.type(b"fg\n", b"exec cat'\r\n")
        term.type(b"typed\n", b"typed\r\ntyped\r\n")  # the echo, then cat's copy
        term.type(b"\x03", b"$ ")  # Ctrl-C ends the job, bash stays
        term.type(b"exit\n", b"exit\r\n")
    except AssertionError:
        term.proc.kill()
        raise
    return term.close()


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="no bash")
def test_interactive_bash_has_job_control_on_a_terminal():
    """bash -i under pykern on a real terminal: no "no job control" warning, Ctrl-Z
    stops the foreground job and bash takes the terminal back, fg continues it, Ctrl-C
    ends it; the same transcript as natively."""
    native = _interactive_bash([])
    under = _interactive_bash([sys.executable, "-m", "pykern", "run"])
    assert "no job control" not in under[1]
    assert under == native


@pytest.mark.skipif(not os.path.exists("/usr/bin/script"), reason="no util-linux script")
def test_script_runs_a_command_on_a_pty():
    """util-linux script(1): openpty (TIOCGPTPEER), a child on the slave as its controlling
    terminal, the output through the master (and signalfd for its child's SIGCHLD)."""
    shell = "echo hi; test -t 0 && echo on a tty; stty size; echo $((6*7))"
    cmd = ["/usr/bin/script", "-qc", shell, "/dev/null"]
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    native = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60)
    under = subprocess.run([sys.executable, "-m", "pykern", "run", *cmd], stdin=subprocess.DEVNULL,
                           capture_output=True, env=env, cwd=REPO_ROOT, timeout=120)
    assert (under.returncode, under.stdout, under.stderr) == (native.returncode, native.stdout, native.stderr)
    assert native.stdout == b"hi\r\non a tty\r\n0 0\r\n42\r\n"


@pytest.mark.usefixtures("built_testbins")
def test_a_resize_of_the_console_reaches_the_guest():
    """The terminal pykern runs on is resized: SIGWINCH goes to the guest's foreground
    group, which reads the new size, as natively."""
    prog = str(TESTBINS_DIR / "pty")

    def resized(prefix: list[str]) -> tuple[int, str]:
        term = Terminal([*prefix, prog, "console"])
        try:
            term.until(b"resize me\r\n")
            fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            term.until(b"x120\r\n")
        except AssertionError:
            term.proc.kill()
            raise
        return term.close()

    native = resized([])
    assert "SIGWINCH: 40x120" in native[1]
    assert resized([sys.executable, "-m", "pykern", "run"]) == native


def _stop_and_continue(cmd: list[str]) -> tuple[int, int, bytes]:
    """Run `cmd`, wait for it to stop, continue it; (stop signal, exit status, stdout)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=REPO_ROOT)
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        stopped_by = os.WSTOPSIG(status) if os.WIFSTOPPED(status) else -1
        os.kill(proc.pid, signal.SIGCONT)
        out = proc.stdout.read() if proc.stdout else b""
        return stopped_by, proc.wait(timeout=60), out
    finally:
        proc.kill()


def test_a_stopped_first_process_stops_pykern():
    """A program that stops itself stops, and SIGCONT continues it: under pykern, pykern
    stops with it (hostsig.suspend_stopped_guest) instead of reporting a deadlock."""
    script = ["/bin/sh", "-c", "echo before; kill -STOP $$; echo after; exit 3"]
    native = _stop_and_continue(script)
    assert native == (signal.SIGSTOP, 3, b"before\nafter\n")
    assert _stop_and_continue([sys.executable, "-m", "pykern", "run", *script]) == native
