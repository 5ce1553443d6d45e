"""The gdb stub (pykern.gdbstub): the real gdb, in batch mode, against `pykern run --gdb 0`.

Each session is compared, where that means something, with the same gdb commands on
the same program run natively under gdb (`starti` stands for the stub's stop before the
first instruction): the functions, source lines and values reached must be the same.
The programs are testbins/gdb_*.c, built unoptimised with debug information. A raw
socket test sends bad packets: they get error replies, never a traceback.
"""

from __future__ import annotations

import os
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TESTBINS_DIR

GDB = shutil.which("gdb")
TIMEOUT = 60
pytestmark = pytest.mark.skipif(GDB is None, reason="gdb is not installed (make test installs it)")


def program_path(name: str) -> str:
    path = Path(TESTBINS_DIR) / name
    if not path.exists():
        pytest.skip(f"{path} is not built (make testbins)")
    return f"./testbins/{name}"


class Guest:
    """`pykern run --gdb 0 PROG` waiting for gdb; `port` is the one it printed."""

    def __init__(self, program: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pykern", "run", "--gdb", "0", program, *args], cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = b""
        deadline = time.monotonic() + TIMEOUT
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 1)
            if ready:
                byte = os.read(self.process.stderr.fileno(), 1)  # unbuffered: select sees the rest
                if not byte:
                    break
                line += byte
        match = re.search(rb"waiting for gdb on 127\.0\.0\.1:(\d+)", line)
        if match is None:
            self.process.kill()
            pytest.fail(f"pykern did not offer a gdb port: {line!r}")
        self.port = int(match.group(1))

    def finish(self) -> tuple[int, str, str]:
        try:
            stdout, stderr = self.process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            pytest.fail(f"pykern did not end after gdb: {stderr.decode(errors='replace')}")
        return self.process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def gdb_batch(program: str, start: list[str], commands: list[str], program_args: tuple[str, ...] = ()) -> str:
    args = [GDB, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off"]
    for command in start + commands:
        args += ["-ex", command]
    args += ["--args", program, *program_args] if program_args else [program]
    result = subprocess.run(args, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def under_pykern(program: str, commands: list[str], args: tuple[str, ...] = (), setup: tuple[str, ...] = (),
                 ) -> tuple[str, int, str, str]:
    """gdb's output, and pykern's exit status, stdout and stderr once gdb is done. `setup`:
    gdb commands before it connects (they shape its qSupported)."""
    guest = Guest(program, *args)
    # gdb waits 2 s for a reply by default; a loaded CI machine can take longer, and a late
    # reply would be taken for the next packet's.
    output = gdb_batch(program, [*setup, "set remotetimeout 30", f"target remote 127.0.0.1:{guest.port}"],
                       commands)
    status, stdout, stderr = guest.finish()
    assert "Traceback" not in stderr, stderr
    return output, status, stdout, stderr


def natively(program: str, commands: list[str], args: tuple[str, ...] = ()) -> str | None:
    """The same commands on the program under gdb natively; None if ptrace is not allowed here."""
    output = gdb_batch(program, ["starti"], commands, args)
    if "Program stopped." not in output:
        return None
    return output


# Lines that say where the program is and what it holds, comparable between the two runs.
SOURCE_LINES = re.compile(r"^(#\d+ |Breakpoint \d+, |\d+\t|Value returned|\$\d+ = |Catchpoint \d+ \(|"
                          r"Program received|Old value|New value|rip |fctrl |0x[0-9a-f]+ <greeting>|Thread \d+ .* hit |"
                          r"process \d+ is executing new program|\[Detaching after|Program stopped at )")


def where_lines(output: str) -> list[str]:
    """(Stack addresses, as in main's argv=0x7ffe..., and pids differ between the two runs.)"""
    return [re.sub(r"process \d+", "process PID", re.sub(r"=0x7ff[0-9a-f]+", "=0x7ff...", line.rstrip()))
            for line in output.splitlines() if SOURCE_LINES.match(line)]


def compare_with_native(program: str, commands: list[str], output: str, args: tuple[str, ...] = ()) -> None:
    native = natively(program, commands, args)
    if native is None:
        return  # no ptrace here (a container without CAP_SYS_PTRACE): the checks above stand alone
    assert where_lines(output) == where_lines(native), native


def test_break_bt_registers_string_finish_step() -> None:
    program = program_path("gdb_basic")
    commands = ["break leaf", "continue", "bt", "info registers rip", "x/s greeting", "finish", "stepi",
                "next", "print counter", "print $fs_base != 0", "print/x $mxcsr", "info registers fctrl",
                "print $xmm15.uint128 == 0 || 1", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert "Breakpoint 1, leaf (x=1) at testbins/gdb_basic.c:12" in output
    assert re.search(r"#1 +0x[0-9a-f]+ in middle \(x=0\) at testbins/gdb_basic.c:18", output)
    assert re.search(r"#2 +0x[0-9a-f]+ in main \(\) at testbins/gdb_basic.c:26", output)
    assert re.search(r"rip +0x[0-9a-f]+ +0x[0-9a-f]+ <leaf\+\d+>", output)
    assert '<greeting>:\t"hello from gdb_basic"' in output
    assert "Value returned is $1 = 2" in output
    assert "$3 = 1" in output  # fs_base: glibc's thread pointer
    assert "$4 = 0x1f80" in output  # MXCSR as Linux starts a process
    assert re.search(r"fctrl +0x37f", output)
    assert "Breakpoint 1, leaf (x=2)" in output
    # gdb's quit detaches (qAttached: 1, as qemu-user): the program runs on to its end
    assert status == 0
    assert stdout == "hello from gdb_basic\ntotal 23 counter 6\n"
    compare_with_native(program, commands, output)


def test_catch_syscall_write() -> None:
    program = program_path("gdb_basic")
    commands = ["catch syscall write", "continue", "bt", "print $rax", "print $orig_rax", "continue", "print $rax",
                "print $orig_rax", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert "Catchpoint 1 (call to syscall write)" in output
    assert "Catchpoint 1 (returned from syscall write)" in output
    assert re.search(r"#1 +0x[0-9a-f]+ in main \(\) at testbins/gdb_basic.c:27", output)
    assert "$1 = -38" in output and "$2 = 1" in output  # at the entry: -ENOSYS, orig_rax the number
    assert "$3 = 20" in output and "$4 = 1" in output  # write's result: strlen(greeting)
    assert status == 0 and stdout.startswith("hello from gdb_basic\n")
    compare_with_native(program, commands, output)


@pytest.mark.parametrize("name", ["gdb_threads", "gdb_fork"])
def test_catch_every_syscall(name: str, tmp_path: Path) -> None:
    """`catch syscall` of every call, through clone3 and fork: each call stops at its
    entry and return (the call is made when gdb continues from the entry stop), and the
    program's result is unchanged."""
    script = tmp_path / "catch.gdb"
    script.write_text("catch syscall\nset $n = 0\nwhile $n < 200\n  set $n = $n + 1\n  continue\nend\n")
    output, status, stdout, _ = under_pykern(program_path(name), [f"source {script}"])
    entries = re.findall(r"\(call to syscall (\w+)\)", output)
    returns = re.findall(r"\(returned from syscall (\w+)\)", output)
    assert {"clone3" if name == "gdb_threads" else "clone", "write", "exit_group"} <= set(entries)
    assert len(returns) >= len(entries) - 3  # exit, exit_group and a sleeping futex do not return
    assert status == 0, output[-3000:]
    assert stdout == ("worker_done 7\n" if name == "gdb_threads" else "child 15\nparent 6\n")


def test_software_watchpoint() -> None:
    program = program_path("gdb_basic")
    commands = ["break middle", "continue", "set can-use-hw-watchpoints 0", "watch counter", "continue",
                "continue"]
    output, status, _, _ = under_pykern(program, commands)
    assert "Old value = 0" in output and "New value = 1" in output
    assert "leaf (x=1) at testbins/gdb_basic.c:13" in output
    assert status == 0
    compare_with_native(program, commands, output)


def test_hardware_watchpoints() -> None:
    """Z2/Z3/Z4: watch, rwatch and awatch stop after the access, where x86's debug
    registers stop a native run."""
    program = program_path("gdb_basic")
    commands = ["break middle", "continue", "watch counter", "continue", "delete 2", "rwatch counter", "continue",
                "continue", "delete 3", "awatch counter", "continue", "continue"]
    output, status, _, _ = under_pykern(program, commands)
    assert "Hardware watchpoint 2: counter" in output and "New value = 1" in output
    assert "Hardware read watchpoint 3: counter" in output and "Value = 1" in output
    assert "Hardware access (read/write) watchpoint 4: counter" in output
    assert status == 0
    compare_with_native(program, commands, output)


def test_fork_parent_is_debugged_child_runs_on() -> None:
    """gdb stays with the process it started with (follow-fork-mode parent): the child
    passes its breakpoint without stopping."""
    program = program_path("gdb_fork")
    commands = ["break child_work", "break parent_work", "continue", "bt", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert "Breakpoint 2, parent_work (n=5) at testbins/gdb_fork.c:19" in output
    assert "Breakpoint 1," not in output
    assert "[Detaching after fork from child process " in output  # (gdb's fork event, then D;pid)
    assert status == 0 and stdout == "child 15\nparent 6\n"
    compare_with_native(program, commands, output)


def test_catch_fork() -> None:
    """`catch fork`: the parent stops in _Fork once the child exists (gdbserver's fork:
    stop reply); continuing detaches the child, whose output still appears."""
    program = program_path("gdb_fork")
    commands = ["catch fork", "continue", "bt", "info program", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert re.search(r"Catchpoint 1 \(forked process \d+\), 0x[0-9a-f]+ in _Fork \(\)", output)
    assert re.search(r"#\d +0x[0-9a-f]+ in main \(argc=1, argv=0x[0-9a-f]+\) at testbins/gdb_fork.c:36", output)
    assert "It stopped at breakpoint 1." in output
    assert "[Detaching after fork from child process " in output
    assert "exited normally" in output
    assert status == 0 and stdout == "child 15\nparent 6\n"
    compare_with_native(program, commands, output)


def test_catch_fork_and_syscall_clone() -> None:
    """Both caught: the clone's entry, the fork event, then the clone's return (ptrace's
    order), with the child's pid in rax."""
    program = program_path("gdb_fork")
    commands = ["catch syscall clone", "catch fork", "continue", "continue", "continue", "print $rax > 0", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    stops = re.findall(r"Catchpoint \d \((call to syscall clone|forked process \d+|returned from syscall clone)\)",
                       output)
    assert [re.sub(r"\d+", "N", stop) for stop in stops] == [
        "call to syscall clone", "forked process N", "returned from syscall clone"]
    assert "$1 = 1" in output
    assert status == 0 and stdout == "child 15\nparent 6\n"
    compare_with_native(program, commands, output)


def test_catch_exec_then_the_new_programs_symbols() -> None:
    """`catch exec`: the process stops at the new program's first instruction with gdb
    told of the exec (exec: in the stop reply); gdb loads gdb_basic's symbols, so
    `break main` is set again in the new program and `break leaf` can be set."""
    program = program_path("gdb_exec")
    program_path("gdb_basic")
    commands = ["catch exec", "break main", "continue", "continue", "info program", "bt", "break leaf", "continue",
                "continue", "bt", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    basic = f"{REPO_ROOT}/testbins/gdb_basic"
    assert "Breakpoint 2, main (argc=1" in output  # gdb_exec's
    assert re.search(rf"process \d+ is executing new program: {re.escape(basic)}\n", output)
    assert re.search(rf"Catchpoint 1 \(exec'd {re.escape(basic)}\), 0x[0-9a-f]+ in _start \(\)", output)
    assert re.search(r"#0 +0x[0-9a-f]+ in _start \(\)", output)
    assert "Breakpoint 2, main () at testbins/gdb_basic.c:24" in output  # re-set in the new program
    assert "Breakpoint 3, leaf (x=1) at testbins/gdb_basic.c:12" in output
    assert re.search(r"#2 +0x[0-9a-f]+ in main \(\) at testbins/gdb_basic.c:26", output)
    assert status == 0
    assert stdout == "gdb_exec: running ./testbins/gdb_basic\nhello from gdb_basic\ntotal 23 counter 6\n"
    compare_with_native(program, commands, output)


def test_catch_vfork_and_breakpoints_after_vfork_done() -> None:
    """`catch vfork`: the parent stops in vfork; gdb detaches the child, which runs
    gdb_basic (its output appears), and puts its breakpoints back when the parent runs
    again (vforkdone:), so after_child stops."""
    program = program_path("gdb_exec")
    program_path("gdb_basic")
    commands = ["catch vfork", "break after_child", "continue", "bt", "continue", "bt", "continue"]
    output, status, stdout, _ = under_pykern(program, commands, ("vfork",))
    assert re.search(r"Catchpoint 1 \(vforked process \d+\), 0x[0-9a-f]+ in vfork \(\)", output)
    assert "[Detaching after vfork from child process " in output
    assert "Breakpoint 2, after_child (status=0) at testbins/gdb_exec.c:" in output
    assert status == 0
    assert stdout == ("gdb_exec: running ./testbins/gdb_basic\nhello from gdb_basic\ntotal 23 counter 6\n"
                      "gdb_exec: child exited with 0\n")
    compare_with_native(program, commands, output, ("vfork",))


@pytest.mark.parametrize("args", [(), ("vfork",)], ids=["fork", "vfork"])
def test_follow_fork_mode_child(args: tuple[str, ...]) -> None:
    """`set follow-fork-mode child`: gdb debugs the child and lets the parent go, after a
    fork at once (D;pid), after a vfork once the child has exec'd (gdb resumes the child
    alone, then hears of its exec)."""
    if args:
        program = program_path("gdb_exec")
        program_path("gdb_basic")
        commands = ["set follow-fork-mode child", "catch exec", "continue", "bt", "break leaf", "continue", "bt",
                    "continue"]
    else:
        program = program_path("gdb_fork")
        commands = ["set follow-fork-mode child", "break child_work", "break parent_work", "continue", "bt",
                    "continue"]
    output, status, stdout, _ = under_pykern(program, commands, args)
    if args:
        assert "[Detaching vfork parent process " in output
        assert re.search(r"hit Catchpoint 1 \(exec'd \S+/testbins/gdb_basic\), 0x[0-9a-f]+ in _start \(\)", output)
        assert re.search(r"hit Breakpoint 2, leaf \(x=1\) at testbins/gdb_basic.c:12", output)
        assert stdout.endswith("hello from gdb_basic\ntotal 23 counter 6\ngdb_exec: child exited with 0\n")
    else:
        assert "[Detaching after fork from parent process " in output
        assert re.search(r"hit Breakpoint 1, child_work \(n=5\) at testbins/gdb_fork.c:14", output)
        assert "Breakpoint 2, parent_work" not in output
        assert sorted(stdout.splitlines()) == ["child 15", "parent 6"]
    assert status == 0
    compare_with_native(program, commands, output, args)


@pytest.mark.parametrize("args", [(), ("vfork",)], ids=["exec", "vfork"])
def test_without_fork_and_exec_events(args: tuple[str, ...]) -> None:
    """A gdb that does not ask for fork, vfork and exec events hears of none: the
    program runs on correctly, a breakpoint in the vfork parent still stops."""
    program = program_path("gdb_exec")
    program_path("gdb_basic")
    setup = tuple(f"set remote {kind}-event-feature-packet off" for kind in ("fork", "vfork", "exec"))
    output, status, stdout, _ = under_pykern(program, ["break after_child", "continue", "continue"], args, setup)
    assert "is executing new program" not in output and "Detaching after" not in output
    assert ("Breakpoint 1, after_child (status=0)" in output) == bool(args)
    assert status == 0 and "hello from gdb_basic\ntotal 23 counter 6\n" in stdout


@pytest.mark.parametrize("how", ["spin", "sleep"])
def test_interrupt(how: str) -> None:
    """Ctrl-C (a 0x03 byte) stops a guest that computes or sleeps; gdb then sets a
    variable and the program goes on with it (spin), or kills it (sleep)."""
    program = program_path("gdb_fork")
    guest = Guest(program, how)
    raw = Raw(guest.port)
    assert raw.packet(b"QStartNoAckMode") == b"OK"
    raw.send_raw(b"$c#63")
    time.sleep(1)
    raw.send_raw(b"\x03")
    stop = raw.reply()
    assert stop.startswith(b"T02thread:"), stop
    if how == "spin":
        release = int(subprocess.run(["nm", program], cwd=REPO_ROOT, capture_output=True, text=True,
                                     timeout=TIMEOUT).stdout.split(" B release")[0].split("\n")[-1], 16)
        assert raw.packet(b"M%x,4:01000000" % release) == b"OK"
        raw.send_raw(b"$c#63")
        assert raw.reply() == b"W00"
        status, stdout, _ = guest.finish()
        assert status == 0 and stdout == "released\n"
    else:
        raw.send_raw(b"$k#6b")
        status, _, _ = guest.finish()
        assert status in (137, -9)


def test_dynamic_program_libraries_from_the_guest() -> None:
    """A dynamically linked program: gdb reads ld.so and libc through vFile (pykern's
    own path walk: under --root, the jail's copies), finds them in the link map and
    stops in libc."""
    program = program_path("pykern_only/dynamic")
    output, status, stdout, _ = under_pykern(program, ["set breakpoint pending on", "break printf", "continue",
                                                       "bt 2", "info sharedlibrary", "continue"])
    assert "Reading /lib64/ld-linux-x86-64.so.2 from remote target..." in output
    assert re.search(r"Breakpoint 1, [^\n]*printf", output)
    assert re.search(r"#1 +0x[0-9a-f]+ in main", output)
    assert re.search(r"Yes +target:\S*/libc\.so\.6", output)
    assert status == 0 and stdout.startswith("hello from a dynamic binary")


def test_threads() -> None:
    program = program_path("gdb_threads")
    commands = ["break worker_body", "continue", "info threads", "bt 2", "thread 1", "bt", "thread 2",
                "print n", "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert re.search(r"Thread 2 .* hit Breakpoint 1, worker_body \(n=7\)", output)
    listing = output[output.index("Target Id"):]
    assert re.search(r"\n  1 +Thread \w+\.\w+ \"gdb_threads\"", listing)
    assert re.search(r"\n\* 2 +Thread \w+\.\w+ \"gdb_threads\" worker_body \(n=7\)", listing)
    assert re.search(r"#1 +0x[0-9a-f]+ in worker \(arg=0x7\) at testbins/gdb_threads.c:15", output)
    assert re.search(r"#\d +0x[0-9a-f]+ in main \(\) at testbins/gdb_threads.c:24", output)
    assert "$1 = 7" in output
    assert status == 0 and stdout == "worker_done 7\n"
    native = natively(program, commands)
    if native is not None:  # the frames of thread 2 (thread 1's wait differs in depth: futex vs. syscall)
        frames = [line for line in where_lines(output) if re.match(r"#[01] .*(worker|worker_body) ", line)]
        assert frames and frames == [line for line in where_lines(native)
                                     if re.match(r"#[01] .*(worker|worker_body) ", line)]


@pytest.mark.parametrize("name", ["signals", "jobctl"])
def test_signals_stop_and_pass(name: str, tmp_path: Path) -> None:
    """Every signal stops the program once under gdb, named as natively (the protocol's
    own signal numbers: SIGUSR1 is 30 there, SIGCHLD 20 ...), ignored ones included;
    `continue` passes it on as gdb's `handle` table says, and the program's checks
    still pass."""
    program = program_path(name)
    script = tmp_path / "continue.gdb"
    script.write_text("set $n = 0\nwhile $n < 100\n  set $n = $n + 1\n  continue\nend\n")
    commands = [f"source {script}"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert status == 0 and stdout.endswith(f"{name}: ok\n")
    native = natively(program, commands)
    if native is not None:
        def received(text: str) -> list[str]:
            return sorted(line for line in text.splitlines() if line.startswith("Program received signal"))
        assert received(output) == received(native)


def test_segfault_stops_before_delivery() -> None:
    program = program_path("gdb_segv")
    commands = ["continue", "bt", "print $_siginfo.si_signo", "print $_siginfo._sifields._sigfault.si_addr",
                "continue"]
    output, status, stdout, _ = under_pykern(program, commands)
    assert "Program received signal SIGSEGV, Segmentation fault." in output
    assert re.search(r"0x[0-9a-f]+ in crash \(where=0x10\) at testbins/gdb_segv.c:7", output)
    assert "$1 = 11" in output
    assert "$2 = (void *) 0x10" in output
    assert "Program terminated with signal SIGSEGV" in output  # continue delivered it
    assert status in (139, -11) and stdout == "about to crash\n"  # pykern dies as its guest did
    compare_with_native(program, commands, output)


def test_segfault_suppressed_faults_again() -> None:
    """`signal 0` continues without the signal: the store runs again and faults again."""
    program = program_path("gdb_segv")
    output, status, _, _ = under_pykern(program, ["continue", "signal 0", "print $pc", "kill"])
    assert output.count("Program received signal SIGSEGV") == 2
    assert status in (137, -9)  # killed by gdb's kill (SIGKILL)


# --- the raw protocol ----------------------------------------------------------------------------


class Raw:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def packet(self, payload: bytes) -> bytes:
        """Send one packet and return the reply's payload (acknowledgements skipped)."""
        self.sock.sendall(b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xFF))
        return self.reply()

    def reply(self) -> bytes:
        while True:
            match = re.search(rb"\$([^#]*)#[0-9a-f]{2}", self.buffer)
            if match:
                self.buffer = self.buffer[match.end():]
                return match.group(1)
            data = self.sock.recv(65536)
            assert data, "the stub closed the connection"
            self.buffer += data


def test_bad_packets_get_errors_and_the_program_runs_on() -> None:
    guest = Guest(program_path("gdb_basic"))
    raw = Raw(guest.port)
    raw.send_raw(b"garbage+-$bad#zz$qC#00")  # noise and bad checksums: '-', no reply
    assert raw.packet(b"?").startswith(b"T05thread:")
    assert raw.packet(b"m0,10") == b"E14"  # unmapped: an error, never a traceback
    assert raw.packet(b"mzz,10") == b"E01"
    assert raw.packet(b"m") == b"E01"
    assert raw.packet(b"pffff") == b"E01"
    assert raw.packet(b"P10=00") == b"E01"  # rip is 8 bytes
    assert raw.packet(b"Z0,zz,1") == b"E01"
    assert raw.packet(b"M0,4:00") == b"E01"  # length disagrees with the data
    assert raw.packet(b"M10,1:00") == b"E14"
    assert raw.packet(b"X10,1:") == b"E01"
    assert raw.packet(b"Hgp99.99") == b"E01"
    assert raw.packet(b"T1234") == b"E01"
    assert raw.packet(b"qXfer:features:read:nope.xml:0,100") == b"E00"
    assert raw.packet(b"qXfer:features:read:target.xml:zz") == b"E01"
    assert raw.packet(b"vCont;q") == b"E01"
    assert raw.packet(b"vCont;") == b"E01"
    assert raw.packet(b"QCatchSyscalls:7") == b"E01"
    assert raw.packet(b"qNoSuchThing") == b""
    assert raw.packet(b"\xff\xfe") == b""
    assert raw.packet(b"qXfer:features:read:target.xml:0,40").startswith(b"m<?xml")
    registers = raw.packet(b"g")
    assert len(registers) == 2 * (16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 8 + 8 + 8)
    exe = raw.packet(b"qXfer:exec-file:read::0,1000")[1:]
    assert exe.endswith(b"gdb_basic")
    # vFile: the guest's files, read-only
    assert raw.packet(b"vFile:setfs:0") == b"F0"
    fd = raw.packet(b"vFile:open:%s,0,0" % exe.hex().encode())
    assert fd == b"F0"
    assert raw.packet(b"vFile:pread:0,4,0") == b"F4;\x7fELF"
    assert raw.packet(b"vFile:close:0") == b"F0"
    assert raw.packet(b"vFile:pread:0,4,0") == b"F-1,9"  # EBADF
    assert raw.packet(b"vFile:open:%s,0,0" % b"/no/such/file".hex().encode()) == b"F-1,2"  # ENOENT
    assert raw.packet(b"vFile:open:%s,1,0" % exe.hex().encode()) == b"F-1,1e"  # EROFS: read-only
    assert raw.packet(b"vFile:open:zz,0,0") == b"E01"
    assert raw.packet(b"vFile:pread:") == b"E01"
    raw.sock.close()  # a disconnect: the program runs on
    status, stdout, stderr = guest.finish()
    assert "Traceback" not in stderr
    assert status == 0 and stdout == "hello from gdb_basic\ntotal 23 counter 6\n"


def test_random_packets() -> None:
    """Random packets of every kind that does not resume: an answer each (an error or
    empty for nonsense), the stub still serves, pykern prints no traceback."""
    guest = Guest(program_path("gdb_basic"))
    raw = Raw(guest.port)
    assert raw.packet(b"QStartNoAckMode") == b"OK"
    rng = random.Random(17)
    alphabet = b"0123456789abcdefxp.,:;=-}*qXferatsl"
    for _ in range(400):
        head = rng.choice([b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z", b"z", b"H", b"T", b"q", b"Q", b"?",
                           b"qXfer:", b"qXfer:features:read:", b"qXfer:threads:read::", b"QCatchSyscalls:",
                           b"qSupported:", b"qThreadExtraInfo,", b"vFile:", b"vMustReplyEmpty"])
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        raw.packet(head + body)  # any reply will do; a hang or a closed socket fails here
    assert raw.packet(b"?").startswith(b"T05thread:")
    raw.send_raw(b"$k#6b")
    status, _, stderr = guest.finish()
    assert status in (137, -9)
    assert "Traceback" not in stderr and "could not answer" not in stderr


def test_detach_and_kill() -> None:
    guest = Guest(program_path("gdb_basic"))
    raw = Raw(guest.port)
    assert raw.packet(b"QStartNoAckMode") == b"OK"
    raw.send_raw(b"$k#6b")  # no reply: the program is killed and the session ends
    status, _, stderr = guest.finish()
    assert status in (137, -9) and "Traceback" not in stderr


def test_fork_event_by_packets() -> None:
    """fork-events+ (with multiprocess+, as gdbserver): the parent stops with fork: naming
    the child; gdb's removal of breakpoints from the child (Hg child, z0) leaves the
    parent's; D;pid detaches only the child, which runs on."""
    program = program_path("gdb_fork")
    guest = Guest(program)
    raw = Raw(guest.port)
    features = raw.packet(b"qSupported:multiprocess+;fork-events+;exec-events+")
    assert b"fork-events+" in features and b"exec-events+" in features and b"vfork-events+" not in features
    parent_work = int(subprocess.run(["nm", program], cwd=REPO_ROOT, capture_output=True, text=True,
                                     timeout=TIMEOUT).stdout.split(" T parent_work")[0].split("\n")[-1], 16)
    assert raw.packet(b"QStartNoAckMode") == b"OK"
    assert raw.packet(b"Z0,%x,1" % parent_work) == b"OK"
    raw.send_raw(b"$vCont;c#a8")
    stop = raw.reply()
    match = re.match(rb"T05thread:p([0-9a-f]+)\.([0-9a-f]+);fork:p([0-9a-f]+)\.([0-9a-f]+);", stop)
    assert match, stop
    parent, child = match.group(1), match.group(3)
    assert parent != child and match.group(4) == child
    assert raw.packet(b"Hgp%s.%s" % (child, child)) == b"OK"
    assert raw.packet(b"z0,%x,1" % parent_work) == b"OK"  # the child's copy: the parent keeps its breakpoint
    assert raw.packet(b"D;%s" % child) == b"OK"
    assert raw.packet(b"Hgp%s.%s" % (child, child)) == b"E01"  # detached: no longer known
    assert raw.packet(b"D;7fffff") == b"E01"  # no such process
    assert raw.packet(b"Hgp%s.%s" % (parent, parent)) == b"OK"
    stop = raw.packet(b"vCont;c")
    while stop.startswith(b"T14"):  # SIGCHLD (the protocol's 20): the child has exited
        stop = raw.packet(b"vCont;c")
    assert b"swbreak:" in stop, stop  # parent_work, after the child's output
    rip = int.from_bytes(bytes.fromhex(raw.packet(b"p10").decode()), "little")
    assert rip == parent_work
    assert raw.packet(b"z0,%x,1" % parent_work) == b"OK"
    raw.send_raw(b"$vCont;c#a8")
    assert raw.reply() == b"W00;process:%s" % parent
    status, stdout, _ = guest.finish()
    assert status == 0 and stdout == "child 15\nparent 6\n"


def test_breakpoint_and_step_by_packets() -> None:
    """Z0 and s at the protocol level: a step moves rip by one instruction, a breakpoint
    stops with swbreak and the thread, and D lets the program finish."""
    guest = Guest(program_path("gdb_basic"))
    raw = Raw(guest.port)
    assert b"multiprocess+" in raw.packet(b"qSupported:multiprocess+;swbreak+")
    stop = raw.packet(b"?")
    assert re.match(rb"T05thread:p[0-9a-f]+\.[0-9a-f]+;", stop)
    rip = int.from_bytes(bytes.fromhex(raw.packet(b"p10").decode()), "little")
    raw.sock.sendall(b"$s#73")
    assert raw.reply().startswith(b"T05")
    stepped = int.from_bytes(bytes.fromhex(raw.packet(b"p10").decode()), "little")
    assert 0 < stepped - rip <= 15  # one instruction (_start's first: xor ebp, ebp)
    leaf = int(subprocess.run(["nm", program_path("gdb_basic")], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=TIMEOUT).stdout.split(" T leaf")[0].split("\n")[-1], 16)
    assert raw.packet(b"Z0,%x,1" % leaf) == b"OK"
    raw.sock.sendall(b"$vCont;c#a8")
    stop = raw.reply()
    assert b"swbreak:" in stop and stop.startswith(b"T05thread:p")
    assert int.from_bytes(bytes.fromhex(raw.packet(b"p10").decode()), "little") == leaf
    assert raw.packet(b"z0,%x,1" % leaf) == b"OK"
    assert raw.packet(b"D") == b"OK"
    status, stdout, _ = guest.finish()
    assert status == 0 and stdout.endswith("total 23 counter 6\n")
