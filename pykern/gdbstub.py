"""A gdb stub: the GDB remote serial protocol for `pykern run --gdb PORT`.

Like qemu-user's `-g PORT`, the first process waits for gdb to connect on
127.0.0.1:PORT before its first instruction. The stub debugs that process (all its
threads); processes it forks run on untraced (gdb's default follow-fork-mode parent).
Fork, vfork and exec are reported as gdbserver reports them, when gdb asked for them in
qSupported (fork-events+, vfork-events+, exec-events+): a T stop reply with fork:,
vfork: (then vforkdone: when the parent runs again) or exec:, so `catch fork` and `catch
exec` work and gdb reads the new program's symbols after an exec. gdb then detaches the
child (D;pid): it was never traced here and simply runs on. Under `set follow-fork-mode
child` gdb detaches the parent instead (or, after a vfork, resumes the child alone): the
stub then debugs the child, and the parent runs on.

All-stop, and the whole guest stops: while gdb looks at a stopped thread, the stub
serves its socket from pykern's own loop (`serve`), so nothing else runs, neither the
other threads of the process nor the other processes. (qemu-user stops all threads of
its one process; other processes are other qemu-user instances and run on. Here the
whole machine stops: nothing the debugged process waits for changes while gdb looks.)

The hooks the rest of the kernel calls, each one attribute check when gdb is absent
(`kernel.sched.debugger is None`): nothing is hooked in Unicorn unless --gdb is given.
- `check_stop(task)`: sched.py, after a slice or a retried call and at the top of the
  loop: a stop a Unicorn hook recorded (breakpoint, step, syscall) or an interrupt from
  gdb (Ctrl-C) is served here, outside the JIT.
- `syscall_entry_stop` / `syscall_exit_stop`: trap.py, for QCatchSyscalls: the entry
  stop leaves the call pending, so it is made when the task resumes (as a woken call is).
- `signal_stop`: signal.py, before a signal is delivered (a fault: before its handler or
  its default action). gdb's C<sig> delivers it, c suppresses it; a suppressed fault
  runs the faulting instruction again, as under ptrace.
- `idle`: sched.py, instead of an unbounded wait: gdb may interrupt a sleeping guest.
- `forked`: fork.py, a process made by the traced one (a fork or vfork event). An exec
  needs no hook: check_stop sees the traced process in a new address space.

Breakpoints are Unicorn code hooks on just their addresses (the translated block that
holds one is dropped, so it is translated again with the hook); single-stepping is a code
hook on every address while a step is in progress (emu_start's count=1 is Unicorn's own
such hook, and pykern's instruction budget is charged per block, so it cannot stop after
one instruction). Guest memory is never patched. Watchpoints are memory hooks on their
range that note the access; the per-instruction hook then stops after the instruction, as
x86's debug registers do. Signal numbers in packets are the protocol's own (gdb's
signals.def: SIGUSR1 is 30 there), translated both ways. vFile reads files read-only
through pykern's own path walk: gdb sees the guest's libraries (under --root, the jail's).
"""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import threading
import time
from typing import TYPE_CHECKING

from pykern import abi
from pykern import uc_const as X
from pykern.abi import (
    AT_FDCWD,
    CLONE_THREAD,
    CLONE_VFORK,
    EBADF,
    EISDIR,
    ENAMETOOLONG,
    ENOSYS,
    EROFS,
    NSIG,
    O_RDONLY,
    SIGINT,
    SIGKILL,
    SIGRTMIN,
    SIGTRAP,
    TRAP_BRKPT,
    TRAP_HWBKPT,
)
from pykern.errors import Fault, SysError
from pykern.sigtypes import SigInfo
from pykern.task import PendingSyscall, TaskState

if TYPE_CHECKING:
    from pykern.fs.file import File
    from pykern.kernel import Kernel
    from pykern.mm import MM
    from pykern.sched import Scheduler
    from pykern.sysent import SyscallEntry
    from pykern.task import Task, ThreadGroup
    from pykern.ucbind import Uc

PACKET_SIZE = 0x4000
MAX_MEMORY_READ = PACKET_SIZE // 2 - 16
IDLE_POLL_SECONDS = 0.05  # how long an idle guest waits before the stub looks at its socket
INTERRUPT = 0x03
ERROR_GENERIC = "E01"
ERROR_MEMORY = "E14"  # EFAULT, as gdbserver and qemu answer a bad address

# --- signal numbers: the remote protocol has its own (gdb's include/gdb/signals.def) ----------

# Where Linux's numbering differs from the protocol's; the rest (HUP ... TRAP, ABRT, FPE,
# KILL, SEGV, PIPE, ALRM, TERM, TTIN, TTOU, XCPU ... WINCH) are the same numbers.
_GDB_SIGNAL_OF = {abi.SIGBUS: 10, abi.SIGUSR1: 30, abi.SIGUSR2: 31, abi.SIGSTKFLT: 143, abi.SIGCHLD: 20,
                  abi.SIGCONT: 19, abi.SIGSTOP: 17, abi.SIGTSTP: 18, abi.SIGURG: 16, abi.SIGIO: 23,
                  abi.SIGPWR: 32, abi.SIGSYS: 12, SIGRTMIN: 77, NSIG: 78}
_GDB_SIGNAL_OF.update({sig: 45 + sig - 33 for sig in range(33, 64)})  # SIG33 ... SIG63
_LINUX_SIGNAL_OF = {gdb: linux for linux, gdb in _GDB_SIGNAL_OF.items()}
GDB_SIGNAL_UNKNOWN = 143


def gdb_signal(sig: int) -> int:
    """The protocol's number for the guest's signal `sig` (stop replies)."""
    return _GDB_SIGNAL_OF.get(sig, sig)


def linux_signal(number: int) -> int:
    """The guest's signal for the protocol's `number` (C, S, vCont;C); 0 if it has none."""
    if number in _LINUX_SIGNAL_OF:
        return _LINUX_SIGNAL_OF[number]
    if number in _GDB_SIGNAL_OF or not 0 <= number <= 28 or number == 7:  # (7: SIGEMT)
        return 0
    return number


# --- the x86-64 target description: gdb's own feature names, so its numbering holds ----------

# (name, bits, type, group or "") in gdb's amd64 order; the index is gdb's register number.
_REGISTERS: list[tuple[str, int, str, str]] = (
    [(name, 64, "int64", "") for name in
     ("rax", "rbx", "rcx", "rdx", "rsi", "rdi")]
    + [("rbp", 64, "data_ptr", ""), ("rsp", 64, "data_ptr", "")]
    + [(f"r{i}", 64, "int64", "") for i in range(8, 16)]
    + [("rip", 64, "code_ptr", ""), ("eflags", 32, "i386_eflags", "")]
    + [(name, 32, "int32", "") for name in ("cs", "ss", "ds", "es", "fs", "gs")]
    + [(f"st{i}", 80, "i387_ext", "") for i in range(8)]
    + [(name, 32, "int", "float") for name in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")]
    + [(f"xmm{i}", 128, "vec128", "") for i in range(16)]
    + [("mxcsr", 32, "i386_mxcsr", "vector")]
    + [("orig_rax", 64, "int", "")]
    + [("fs_base", 64, "int", ""), ("gs_base", 64, "int", "")]
)
_FEATURES = (  # (feature name, first register, end)
    ("org.gnu.gdb.i386.core", 0, 40),
    ("org.gnu.gdb.i386.sse", 40, 57),
    ("org.gnu.gdb.i386.linux", 57, 58),
    ("org.gnu.gdb.i386.segments", 58, 60),
)
_TYPES = {
    "org.gnu.gdb.i386.core": """
  <flags id="i386_eflags" size="4">
    <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
    <field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
    <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
    <field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
    <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
    <field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
  </flags>""",
    "org.gnu.gdb.i386.sse": """
  <vector id="v8bf16" type="bfloat16" count="8"/><vector id="v8h" type="ieee_half" count="8"/>
  <vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>
  <vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>
  <vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>
  <union id="vec128">
    <field name="v8_bfloat16" type="v8bf16"/><field name="v8_half" type="v8h"/>
    <field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
    <field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
    <field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
    <field name="uint128" type="uint128"/>
  </union>
  <flags id="i386_mxcsr" size="4">
    <field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
    <field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
    <field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
    <field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
    <field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
  </flags>""",
}


def target_xml() -> str:
    parts = ['<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n'
             "  <architecture>i386:x86-64</architecture>\n  <osabi>GNU/Linux</osabi>\n"]
    for feature, first, end in _FEATURES:
        parts.append(f'  <feature name="{feature}">{_TYPES.get(feature, "")}\n')
        for number in range(first, end):
            name, bits, kind, group = _REGISTERS[number]
            extra = f' group="{group}"' if group else ""
            parts.append(f'    <reg name="{name}" bitsize="{bits}" type="{kind}" regnum="{number}"{extra}/>\n')
        parts.append("  </feature>\n")
    parts.append("</target>\n")
    return "".join(parts)


# gdb register number -> how to read it from Unicorn
_GPR_IDS = (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RSI,
            X.UC_X86_REG_RDI, X.UC_X86_REG_RBP, X.UC_X86_REG_RSP, X.UC_X86_REG_R8, X.UC_X86_REG_R9,
            X.UC_X86_REG_R10, X.UC_X86_REG_R11, X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14,
            X.UC_X86_REG_R15, X.UC_X86_REG_RIP)
REG_RIP, REG_EFLAGS, REG_CS, REG_ST0, REG_FCTRL, REG_XMM0, REG_MXCSR, REG_ORIG_RAX, REG_FS_BASE = (
    16, 17, 18, 24, 32, 40, 56, 57, 58)
_SEGMENT_VALUES = (0x33, 0x2B, 0, 0, 0, 0)  # cs, ss, ds, es, fs, gs as Linux's user mode has them
_FPU_IDS = (X.UC_X86_REG_FPCW, X.UC_X86_REG_FPSW, X.UC_X86_REG_FPTAG, None, None, None, None, X.UC_X86_REG_FOP)
NUM_REGS = len(_REGISTERS)


class Disconnected(Exception):
    """gdb closed the connection (or it broke)."""


class BadPacket(Exception):
    """A packet the stub cannot parse: answered with an error, never a traceback."""


def _hex_int(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise BadPacket(text) from None


def escape_binary(data: bytes) -> bytes:
    """The remote protocol's escaping of '#', '$', '}' and '*' (0x7d, then the byte ^ 0x20)."""
    out = bytearray()
    for byte in data:
        if byte in b"#$}*":
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    escaped = False
    for byte in data:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == 0x7D:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


class Connection:
    """Packet framing: $data#checksum, + / - acknowledgements until QStartNoAckMode."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.ack = True

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise Disconnected()
        self.buffer += data

    def read_packet(self) -> bytes | int:
        """The next packet's payload, or INTERRUPT for a Ctrl-C byte."""
        while True:
            buffer = self.buffer
            while buffer and buffer[0] != ord("$"):
                byte = buffer.pop(0)
                if byte == INTERRUPT:
                    return INTERRUPT  # '+', '-' and noise between packets are dropped
            end = buffer.find(b"#")
            if end < 0 or len(buffer) < end + 3:
                self._fill()
                continue
            payload = bytes(buffer[1:end])
            checksum = bytes(buffer[end + 1:end + 3])
            del buffer[:end + 3]
            good = _is_hex(checksum) and int(checksum, 16) == sum(payload) & 0xFF
            if self.ack:
                try:
                    self.sock.sendall(b"+" if good else b"-")
                except OSError:
                    raise Disconnected() from None
            if good or not self.ack:
                return payload

    def send_packet(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            payload = payload.encode()
        data = escape_binary(payload)
        try:
            self.sock.sendall(b"$" + data + b"#" + f"{sum(data) & 0xFF:02x}".encode())
        except OSError:
            raise Disconnected() from None


def _is_hex(text: bytes) -> bool:
    return len(text) == 2 and all(c in b"0123456789abcdefABCDEF" for c in text)


class Stop:
    """Why the traced process is stopped: the thread, the signal, the stop reply's extra
    fields (swbreak:, syscall_entry:NR), and the siginfo gdb's $_siginfo shows."""

    __slots__ = ("task", "signal", "extra", "info", "syscall", "entry")

    def __init__(self, task: Task, signal: int, extra: str = "", info: SigInfo | None = None,
                 syscall: int | None = None, entry: bool = False) -> None:
        self.task = task
        self.signal = signal
        self.extra = extra
        self.info = info
        self.syscall = syscall  # a `catch syscall` stop: its number (orig_rax)
        self.entry = entry  # ... at its entry, where rax reads -ENOSYS, as on Linux


class Resume:
    """What gdb's last c/s/vCont asked of each thread: step or not, a signal to deliver."""

    def __init__(self) -> None:
        self.step: set[Task] = set()
        self.signals: dict[Task, int] = {}


class GdbStub:
    def __init__(self, kernel: Kernel, port: int, host: str = "127.0.0.1") -> None:
        self.kernel = kernel
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))  # OSError: the port is taken
        self.listener.listen(1)
        self.host = host
        self.port = self.listener.getsockname()[1]
        self.conn: Connection | None = None
        self.group: ThreadGroup | None = None
        self.mm: MM | None = None  # the address space the hooks are in
        self.breakpoints: dict[int, int] = {}  # address -> Unicorn hook handle
        self.step_hook: int | None = None
        self.watchpoints: dict[tuple[int, int, int], int] = {}  # (kind, address, length) -> hook handle
        self.watch_hit: tuple[Task, str, int] | None = None  # an access seen, reported at the next instruction
        self.stepping: dict[Task, bool] = {}  # task -> has run the first instruction of its step
        self.skip: dict[Task, int] = {}  # resumed at a breakpoint: pass it once
        self.catch_syscalls: frozenset[int] | None = None  # None: off; empty: all
        self.syscall_returns: dict[Task, int] = {}  # entry reported: report the return too
        self.stop: Stop | None = None  # the stop gdb sees now (or is about to)
        self.pending: Stop | None = None  # recorded in a hook, served by check_stop
        self.later: list[Stop] = []  # stops recorded while one was pending, served right after it
        self.passed: SigInfo | None = None  # the signal gdb let through: do_signal delivers it without a stop
        self.g_task: Task | None = None  # Hg: registers and memory
        self.multiprocess = False
        self.fork_events = self.vfork_events = self.exec_events = False  # what gdb's qSupported asked
        self.fork_children: dict[int, Task] = {}  # fork and vfork events reported: child tgid -> child, until D;pid
        self.released: set[int] = set()  # processes the stub debugged before it followed a fork child
        self.vfork_parents: set[Task] = set()  # vfork events reported: vforkdone when the call returns
        self.resume = Resume()
        self.interrupt_requested = False
        self.running = threading.Event()  # the guest runs: the watcher looks for Ctrl-C
        self.exit_reported = False
        self.warned: set[bytes] = set()
        self.files: dict[int, File] = {}  # vFile:open's descriptors (the stub's own, not the guest's)

    # --- connection -----------------------------------------------------------------------

    def attach(self, group: ThreadGroup) -> None:
        """Wait for gdb, then serve it with `group` stopped before its first instruction."""
        self.group = group
        print(f"pykern: waiting for gdb on {self.host}:{self.port}", file=sys.stderr, flush=True)
        sock, _ = self.listener.accept()
        self.listener.close()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = Connection(sock)
        self.kernel.sched.debugger = self
        self._sync_mm()
        leader = group.leader
        assert leader is not None
        threading.Thread(target=self._watch, name="pykern-gdb", daemon=True).start()
        self.serve(Stop(leader, SIGTRAP), reply=False)

    def _watch(self) -> None:
        """The watcher thread: while the guest runs, data from gdb (Ctrl-C) makes the JIT
        stop (exactly, as for a host signal: pykern.hostsig) so check_stop can read it."""
        while True:
            self.running.wait()
            conn = self.conn
            if conn is None:
                return
            try:
                ready, _, _ = select.select([conn.sock], [], [], IDLE_POLL_SECONDS)
            except (OSError, ValueError):
                return
            if ready and self.running.is_set():
                self.interrupt_requested = True
                self.running.clear()
                # Again until the scheduler takes it: a stop asked for just before the
                # JIT started is lost (as pykern.hostsig's watcher does).
                while self.interrupt_requested and self.conn is not None:
                    self.kernel.trap.interrupt()
                    time.sleep(IDLE_POLL_SECONDS)

    def detach(self) -> None:
        """D, a disconnect, or the end of the process: remove every hook; the guest runs on
        at full speed."""
        mm = self.mm
        if mm is not None and mm.uc is not None:
            try:
                for handle in self.breakpoints.values():
                    mm.uc.hook_del(handle)
                for handle in self.watchpoints.values():
                    mm.uc.hook_del(handle)
                if self.step_hook is not None:
                    mm.uc.hook_del(self.step_hook)
                mm.uc.ctl_flush_tb()
            except Exception:  # a destroyed engine: nothing left to unhook
                pass
        self.breakpoints.clear()
        self.watchpoints.clear()
        self.step_hook = None
        self.stepping.clear()
        self.catch_syscalls = None
        self.fork_children.clear()
        self.vfork_parents.clear()
        self.later.clear()
        for file in self.files.values():
            file.fput()
        self.files.clear()
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.sock.close()
            except OSError:
                pass
        self.running.set()  # lets the watcher see conn is None and end
        if self.kernel.sched.debugger is self:
            self.kernel.sched.debugger = None

    # --- the hooks the kernel calls ----------------------------------------------------------------

    def traces(self, task: Task) -> bool:
        return task.group is self.group

    def check_stop(self, task: Task | None) -> bool:
        """Serve a stop recorded inside the JIT, an interrupt from gdb, or the end of the
        traced process. True if gdb was served."""
        if self.conn is None:
            return False
        group = self.group
        assert group is not None
        if group.wait_status is not None:
            self.report_exit()
            return True
        served = False
        execed = self._exec_stop()
        if execed is not None:  # (before a caught execve's return, as ptrace's PTRACE_EVENT_EXEC)
            self.serve(execed)
            served = True
        if self.pending is not None:
            stop, self.pending = self.pending, None
            self.serve(stop)
            served = True
            while self.later and self.conn is not None:  # (a fork event, then the caught clone's return)
                self.serve(self.later.pop(0))
            self.later.clear()
        if self.interrupt_requested:
            self.interrupt_requested = False
            conn = self.conn
            try:
                if not self._interrupt_arrived():
                    self.running.set()
                    return served
            except Disconnected:
                self.detach()
                return True
            target = task if task is not None and self.traces(task) else self._any_thread()
            if target is not None:
                self.serve(Stop(target, SIGINT))
                served = True
            elif conn is not None:
                self.running.set()
        return served

    def _interrupt_arrived(self) -> bool:
        """Has gdb sent Ctrl-C? Never waits: the watcher may have woken for bytes that
        came just as a stop began (gdb's next packet, which `serve` has read since)."""
        conn = self.conn
        assert conn is not None
        ready, _, _ = select.select([conn.sock], [], [], 0)
        if ready:
            conn._fill()  # Disconnected at EOF
        at = conn.buffer.find(bytes((INTERRUPT,)))
        if at < 0:
            return False
        del conn.buffer[:at + 1]
        return True

    def idle(self, sched: Scheduler, deadline: float | None) -> None:
        """Nothing runs: wait for a timer or host fd, but briefly, so a Ctrl-C from gdb to
        a guest that sleeps for ever is seen (no deadlock report while gdb is attached)."""
        timeout = IDLE_POLL_SECONDS
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - sched.now()))
        sched.poll_host(timeout)
        sched.fire_timers(sched.now())

    def syscall_entry_stop(self, task: Task, nr: int, entry: SyscallEntry, raw: list[int]) -> bool:
        """In the syscall hook: stop for `catch syscall` before the call, which is left
        pending and made when the task resumes. False: not caught, make the call now."""
        caught = self.catch_syscalls
        if caught is None or (caught and nr not in caught) or not self.traces(task) or self.conn is None:
            return False
        task.pending = PendingSyscall(entry, list(raw))
        self.syscall_returns[task] = nr
        self.pending = Stop(task, SIGTRAP, f"syscall_entry:{nr:x};", syscall=nr, entry=True)
        return True

    def syscall_exit_stop(self, task: Task) -> None:
        """A pending call completed outside the JIT: its return is the next stop (or,
        first, the end of a reported vfork: the parent runs again)."""
        if self.conn is None or task.state is not TaskState.RUNNABLE:
            return
        if task in self.vfork_parents:
            self.vfork_parents.discard(task)
            self._post(Stop(task, SIGTRAP, "vforkdone:;"))
        nr = self.syscall_returns.pop(task, None)
        if nr is not None:
            self._post(Stop(task, SIGTRAP, f"syscall_return:{nr:x};", syscall=nr))

    def _post(self, stop: Stop) -> None:
        """A stop for check_stop to serve; one already pending comes first (as ptrace
        reports a fork event before the syscall-exit stop of the call that made it)."""
        if self.pending is None:
            self.pending = stop
        else:
            self.later.append(stop)

    def signal_stop(self, task: Task, info: SigInfo) -> SigInfo | None:
        """Before `info` is delivered to the traced `task`: gdb sees the stop, then says
        whether to deliver it (C<sig>: that signal), or suppress it (c): None."""
        if info is self.passed:
            self.passed = None
            return info
        if self.conn is None or info.signo == SIGKILL:
            return info
        self.serve(Stop(task, info.signo, "", info))
        sig = self.resume.signals.pop(task, 0)
        if not sig:
            return None
        if sig != info.signo:
            return SigInfo(sig, info.code)
        self.passed = info  # delivered: no second stop for it in do_signal
        return info

    def forked(self, parent: Task, child: Task, flags: int) -> None:
        """fork.py: `parent` made a process. When gdb asked for fork (vfork) events, the
        parent stops with fork: (vfork:) once the call is made, like gdbserver's
        PTRACE_EVENT_FORK stop; gdb then detaches the child (D;pid), which runs on. A new
        thread is no event (gdb lists threads with qXfer:threads)."""
        if self.conn is None or flags & CLONE_THREAD or not self.traces(parent):
            return
        vfork = bool(flags & CLONE_VFORK)
        if not (self.vfork_events if vfork else self.fork_events):
            return
        self.fork_children[child.group.tgid] = child
        if vfork:
            self.vfork_parents.add(parent)
        self._post(Stop(parent, SIGTRAP, f"{'vfork' if vfork else 'fork'}:{self.thread_id(child)};"))
        self.kernel.sched.need_resched = True  # the trap leaves the JIT after the call; check_stop serves it

    def _follow_child(self, child: Task) -> None:
        """`set follow-fork-mode child`: gdb detaches the parent of a fork event (D;pid)
        or, after a vfork, resumes the child alone (the parent is detached once the child
        has exec'd). The parent runs on untraced; the stub serves the child from here on.
        A forked child's image has no hooks; a vforked one shares the parent's address
        space and its hooks, which now answer for the child."""
        self.fork_children.clear()
        if self.group is not None:
            self.released.add(self.group.tgid)
        mm = self.mm
        if mm is not None and child.mm is not mm:
            for handle in [*self.breakpoints.values(), *self.watchpoints.values()]:
                mm.uc.hook_del(handle)
            self.breakpoints.clear()
            self.watchpoints.clear()
            self._set_step_hook(False)
        self.vfork_parents.clear()
        self.syscall_returns.clear()
        self.stepping.clear()
        self.skip.clear()
        self.watch_hit = None
        self.group = child.group
        self._sync_mm()
        self.stop = Stop(child, SIGTRAP)
        self.g_task = child

    def _exec_stop(self) -> Stop | None:
        """The traced process runs a new image (an exec since the last look): the hooks move
        to its address space, and with exec events gdb hears of it (exec: and the program's
        path as the process sees it, /proc/PID/exe), then reads the new symbols."""
        group = self.group
        leader = group.live_tasks[0] if group is not None and group.live_tasks else None
        if leader is None or leader.mm is self.mm:
            return None
        self._sync_mm()
        if not self.exec_events:
            return None
        return Stop(leader, SIGTRAP, f"exec:{self._exec_path().hex()};")

    def _exec_path(self) -> bytes:
        """The traced program's path in the guest's tree (gdb opens it with vFile)."""
        from pykern.fs.namei import d_path

        group = self.group
        if group is None:
            return b""
        if group.exe_location is not None:
            return d_path(group.exe_location, group.fs.root)
        return os.fsencode(group.exe_path)

    # --- Unicorn hooks (inside the JIT: record, stop, serve later) ---------------------------

    def _breakpoint_hook(self, uc: Uc, address: int, size: int, mm: MM) -> None:
        task = mm.loaded_task
        if task is None or task.group is not self.group or self.pending is not None:
            return
        if self.skip.get(task) == address:
            del self.skip[task]  # resumed at this breakpoint: pass it once
            return
        if task in self.stepping:
            return  # the step hook decides
        self._stop_in_hook(uc, Stop(task, SIGTRAP, "swbreak:;"))

    def _step_hook(self, uc: Uc, address: int, size: int, mm: MM) -> None:
        """Every instruction, while a thread steps or a watchpoint is set."""
        task = mm.loaded_task
        if task is None or self.pending is not None:
            return
        hit = self.watch_hit
        if hit is not None and hit[0] is task:  # the access's instruction is done: trap after it, as x86's
            self.watch_hit = None
            self._stop_in_hook(uc, Stop(task, SIGTRAP, f"{hit[1]}:{hit[2]:x};", SigInfo(SIGTRAP, TRAP_HWBKPT)))
            return
        started = self.stepping.get(task)
        if started is None:
            return
        if not started:
            self.stepping[task] = True  # the one instruction the step executes
            return
        self._stop_in_hook(uc, Stop(task, SIGTRAP))

    def _watch_hook(self, uc: Uc, access: int, address: int, size: int, value: int,
                    watch: tuple[MM, str, int]) -> bool:
        mm, kind, start = watch
        task = mm.loaded_task
        if task is not None and task.group is self.group and self.watch_hit is None:
            self.watch_hit = (task, kind, start)
        return True

    def _stop_in_hook(self, uc: Uc, stop: Stop) -> None:
        self.pending = stop
        self.kernel.smp.this_cpu().stopped = True
        self.kernel.sched.need_resched = True
        uc.emu_stop()

    def _sync_mm(self) -> None:
        """The hooks live in the traced process's address space; after an exec, in the new
        one, which has none of the old image's breakpoints and watchpoints (as an exec
        leaves no int3 behind under gdbserver): gdb inserts its own again, at once when it
        heard of the exec, else when it next resumes from a stop."""
        group = self.group
        leader = group.live_tasks[0] if group is not None and group.live_tasks else None
        if leader is None or leader.mm is self.mm:
            return
        self.mm = leader.mm
        self.breakpoints.clear()
        self.watchpoints.clear()
        self.watch_hit = None
        self.step_hook = None
        if self.stepping:
            self._set_step_hook(True)

    def _insert_breakpoint(self, address: int) -> None:
        mm = self.mm
        assert mm is not None
        if address in self.breakpoints:
            return
        self.breakpoints[address] = mm.uc.hook_add(X.UC_HOOK_CODE, self._breakpoint_hook, mm, address, address)
        self._retranslate(address)

    def _remove_breakpoint(self, address: int) -> bool:
        handle = self.breakpoints.pop(address, None)
        if handle is None:
            return False
        mm = self.mm
        assert mm is not None
        mm.uc.hook_del(handle)
        self._retranslate(address)
        return True

    def _retranslate(self, address: int) -> None:
        mm = self.mm
        assert mm is not None
        try:
            mm.uc.ctl_remove_cache(address, address + 1)
        except Exception:
            mm.uc.ctl_flush_tb()

    def _set_step_hook(self, on: bool) -> None:
        mm = self.mm
        assert mm is not None
        if on and self.step_hook is None:
            self.step_hook = mm.uc.hook_add(X.UC_HOOK_CODE, self._step_hook, mm, 1, 0)
            mm.uc.ctl_flush_tb()
        elif not on and self.step_hook is not None:
            mm.uc.hook_del(self.step_hook)
            self.step_hook = None
            mm.uc.ctl_flush_tb()

    # --- serving a stop ---------------------------------------------------------------------

    def serve(self, stop: Stop, reply: bool = True) -> None:
        """The guest is stopped at `stop`: answer gdb until it resumes, detaches or kills."""
        conn = self.conn
        if conn is None:
            return
        self.running.clear()
        self._sync_mm()
        self.stop = stop
        self.g_task = stop.task
        current = self.kernel.sched.current
        try:
            if reply:
                conn.send_packet(self.stop_reply())
            while self.conn is not None:
                packet = conn.read_packet()
                if packet == INTERRUPT:
                    continue  # already stopped
                assert isinstance(packet, bytes)
                try:
                    answer = self.dispatch(packet)
                except (BadPacket, ValueError, IndexError, UnicodeDecodeError, struct.error):
                    answer = ERROR_GENERIC
                except Fault:
                    answer = ERROR_MEMORY
                except Disconnected:
                    raise
                except Exception as error:  # a stub bug: say so once, answer an error, go on
                    self._warn_once(packet, error)
                    answer = ERROR_GENERIC
                if answer is _RESUMED:
                    break
                if answer is not None:
                    conn.send_packet(answer)
        except Disconnected:
            self.detach()
        finally:
            if current is not None and current.state is not TaskState.DEAD:
                current.load_context()  # the registers of the task the scheduler runs
        if self.conn is not None:
            self.running.set()

    def _warn_once(self, packet: bytes, error: Exception) -> None:
        key = packet[:1]
        if key not in self.warned:
            self.warned.add(key)
            print(f"pykern: gdb stub: could not answer {packet[:40]!r}: {error!r}", file=sys.stderr)

    def stop_reply(self) -> str:
        stop = self.stop
        assert stop is not None
        return f"T{gdb_signal(stop.signal):02x}thread:{self.thread_id(stop.task)};{stop.extra}"

    def report_exit(self) -> None:
        """The traced process is gone: W (exit code) or X (signal), and the session ends."""
        group = self.group
        conn = self.conn
        if self.exit_reported or group is None or conn is None:
            return
        self.exit_reported = True
        status = group.wait_status or 0
        suffix = f";process:{group.tgid:x}" if self.multiprocess else ""
        reply = f"X{gdb_signal(status & 0x7F):02x}{suffix}" if status & 0x7F else f"W{(status >> 8) & 0xFF:02x}{suffix}"
        try:
            conn.send_packet(reply)
        except Disconnected:
            pass
        self.detach()

    def finish(self) -> None:
        """The kernel's loop ended: report the exit gdb has not heard of yet."""
        if self.conn is not None and self.group is not None and self.group.wait_status is not None:
            self.report_exit()
        self.detach()

    # --- threads ---------------------------------------------------------------------------

    def thread_id(self, task: Task) -> str:
        if self.multiprocess:
            return f"p{task.group.tgid:x}.{task.tid:x}"
        return f"{task.tid:x}"

    def _threads(self) -> list[Task]:
        group = self.group
        return list(group.live_tasks) if group is not None else []

    def _any_thread(self) -> Task | None:
        threads = self._threads()
        return threads[0] if threads else None

    def parse_thread(self, text: str) -> Task | None | str:
        """A thread-id: a task, "all" (-1), or "any" (0). BadPacket if malformed; None
        if no such thread."""
        if text.startswith("p"):
            pid_text, _, tid_text = text[1:].partition(".")
            if pid_text != "-1" and self.group is not None and _hex_int(pid_text) != self.group.tgid:
                child = self.fork_children.get(_hex_int(pid_text))  # a fork event's child, until gdb detaches it
                if child is None or tid_text not in ("", "-1", "0") and _hex_int(tid_text) != child.tid:
                    return None
                return child
            text = tid_text or "-1"
        if text == "-1":
            return "all"
        tid = _hex_int(text)
        if tid == 0:
            return "any"
        return next((t for t in self._threads() if t.tid == tid), None)

    def _thread_or_current(self, text: str) -> Task | None:
        target = self.parse_thread(text)
        if target in ("all", "any"):
            return self.g_task or self._any_thread()
        return target  # type: ignore[return-value]

    # --- registers ------------------------------------------------------------------------

    def _task(self) -> Task:
        task = self.g_task
        if task is None or task.state is TaskState.DEAD:
            task = self._any_thread()
        if task is None:
            raise BadPacket("no thread")
        return task

    def read_register(self, task: Task, number: int) -> bytes:
        name, bits, _, _ = _REGISTERS[number]
        size = bits // 8
        stop = self.stop
        in_syscall = stop is not None and stop.task is task and stop.syscall is not None
        if number == 0 and in_syscall and stop.entry:
            value = -ENOSYS  # (the call's number is in orig_rax; the call is made on resume)
        elif number <= REG_RIP:
            value = task.reg(_GPR_IDS[number])
        elif number == REG_EFLAGS:
            value = task.reg(X.UC_X86_REG_EFLAGS)
        elif number < REG_ST0:
            value = _SEGMENT_VALUES[number - REG_CS]
        elif number < REG_FCTRL:
            task.load_context()
            return task.mm.uc.reg_read_bytes(X.UC_X86_REG_ST0 + number - REG_ST0)[:10].ljust(10, b"\0")
        elif number < REG_XMM0:
            reg = _FPU_IDS[number - REG_FCTRL]
            value = task.reg(reg) if reg is not None else 0
        elif number < REG_MXCSR:
            value = task.reg(X.UC_X86_REG_XMM0 + number - REG_XMM0)
        elif number == REG_MXCSR:
            value = task.reg(X.UC_X86_REG_MXCSR)
        elif number == REG_ORIG_RAX:
            if in_syscall:
                value = stop.syscall
            else:
                value = task.pending.entry.number if task.pending is not None else -1
        else:
            value = task.get_fs_base() if number == REG_FS_BASE else task.get_gs_base()
        return (value & ((1 << bits) - 1)).to_bytes(size, "little")

    def write_register(self, task: Task, number: int, data: bytes) -> None:
        bits = _REGISTERS[number][1]
        if len(data) != bits // 8:
            raise BadPacket("register size")
        value = int.from_bytes(data, "little")
        if number <= REG_RIP:
            task.set_reg(_GPR_IDS[number], value)
        elif number == REG_EFLAGS:
            task.set_reg(X.UC_X86_REG_EFLAGS, value)
        elif REG_ST0 <= number < REG_FCTRL:
            task.load_context()
            task.mm.uc.reg_write_bytes(X.UC_X86_REG_ST0 + number - REG_ST0, data)
        elif REG_FCTRL <= number < REG_XMM0:
            reg = _FPU_IDS[number - REG_FCTRL]
            if reg is not None:
                task.set_reg(reg, value)
        elif REG_XMM0 <= number < REG_MXCSR:
            task.load_context()
            task.mm.uc.reg_write(X.UC_X86_REG_XMM0 + number - REG_XMM0, value)
        elif number == REG_MXCSR:
            task.set_reg(X.UC_X86_REG_MXCSR, value)
        elif number == REG_FS_BASE:
            task.set_fs_base(value)
        elif number == REG_FS_BASE + 1:
            task.set_gs_base(value)
        # segment selectors and orig_rax: fixed in pykern's user mode; a write is ignored

    # --- memory -------------------------------------------------------------------------------

    def read_memory(self, address: int, length: int) -> bytes:
        """Guest memory as the process sees it, code included; Fault if any byte is unmapped."""
        task = self._task()
        length = min(length, MAX_MEMORY_READ)
        if address < 0 or address + length > 1 << 64:
            raise Fault(address)
        try:
            return task.mm.copy_in(address, length)
        except Fault:
            pass
        try:  # executable-only or read-only pages, which copy_in may refuse to a user read
            return bytes(task.mm.uc.mem_read(address, length))
        except Exception:
            raise Fault(address) from None

    def write_memory(self, address: int, data: bytes) -> None:
        task = self._task()
        task.mm.copy_out(address, data)

    # --- packets ------------------------------------------------------------------------------

    def dispatch(self, packet: bytes) -> str | bytes | object | None:
        """One packet's answer ("" for unsupported, as the protocol says), or _RESUMED."""
        if not packet:
            return ""
        head = chr(packet[0])
        if head == "X":
            return self._write_binary(packet[1:])
        text = packet.decode("latin-1")
        body = text[1:]
        if head == "q" or head == "Q":
            return self._query(text)
        if head == "v":
            return self._v_packet(text)
        if head == "?":
            return self.stop_reply()
        if head == "g":
            task = self._task()
            return b"".join(self.read_register(task, n) for n in range(NUM_REGS)).hex()
        if head == "G":
            return self._write_all_registers(bytes.fromhex(body))
        if head == "p":
            number = _hex_int(body)
            if not 0 <= number < NUM_REGS:
                return ERROR_GENERIC
            return self.read_register(self._task(), number).hex()
        if head == "P":
            number_text, _, value = body.partition("=")
            number = _hex_int(number_text)
            if not 0 <= number < NUM_REGS:
                return ERROR_GENERIC
            self.write_register(self._task(), number, bytes.fromhex(value))
            return "OK"
        if head == "m":
            address_text, _, length_text = body.partition(",")
            return self.read_memory(_hex_int(address_text), _hex_int(length_text)).hex()
        if head == "M":
            where, _, data = body.partition(":")
            address_text, _, length_text = where.partition(",")
            payload = bytes.fromhex(data)
            if len(payload) != _hex_int(length_text):
                return ERROR_GENERIC
            self.write_memory(_hex_int(address_text), payload)
            return "OK"
        if head == "H":
            return self._set_thread(body)
        if head == "T":
            target = self.parse_thread(body)
            return "OK" if target is not None and target not in ("all", "any") else ERROR_GENERIC
        if head in "Zz":
            return self._breakpoint(head == "Z", body)
        if head in "cCsS":
            return self._resume_legacy(head, body)
        if head == "D":
            pid = _hex_int(body[1:]) if body.startswith(";") else None
            if pid is not None and pid in self.fork_children:
                del self.fork_children[pid]  # a fork child gdb does not follow: never traced, it runs on
                return "OK"
            if pid is not None and self.group is not None and pid == self.group.tgid and self.fork_children:
                self._follow_child(list(self.fork_children.values())[-1])  # follow-fork-mode child
                return "OK"
            if pid is not None and pid in self.released:
                return "OK"  # a vfork parent gdb lets go once its followed child has exec'd
            if pid is not None and (self.group is None or pid != self.group.tgid):
                return ERROR_GENERIC
            self._send("OK")
            self.detach()
            return _RESUMED
        if head == "k":
            self._kill()
            return _RESUMED
        return ""

    def _send(self, answer: str) -> None:
        conn = self.conn
        if conn is not None:
            try:
                conn.send_packet(answer)
            except Disconnected:
                pass

    def _write_binary(self, body: bytes) -> str:
        where, sep, data = body.partition(b":")
        if not sep:
            return ERROR_GENERIC
        address_text, _, length_text = where.decode("latin-1").partition(",")
        payload = unescape_binary(data)
        length = _hex_int(length_text)
        if len(payload) != length:
            return ERROR_GENERIC
        if length:
            self.write_memory(_hex_int(address_text), payload)
        return "OK"

    def _write_all_registers(self, data: bytes) -> str:
        task = self._task()
        offset = 0
        for number, (_, bits, _, _) in enumerate(_REGISTERS):
            size = bits // 8
            if offset + size > len(data):
                break
            self.write_register(task, number, data[offset:offset + size])
            offset += size
        return "OK"

    def _set_thread(self, body: str) -> str:
        kind, thread = body[:1], body[1:]
        if kind not in ("g", "c"):
            return ERROR_GENERIC
        target = self.parse_thread(thread)
        if target is None:
            return ERROR_GENERIC
        if kind == "g" and not isinstance(target, str):
            self.g_task = target
        return "OK"

    def _breakpoint(self, insert: bool, body: str) -> str:
        kind_text, address_text, *_ = body.split(",") + [""]
        kind = _hex_int(kind_text)
        address = _hex_int(address_text)
        if self.g_task is not None and not self.traces(self.g_task):
            return "OK"  # a fork child's (gdb detaches its breakpoints): its image has no hooks
        if kind in _WATCH_KINDS:
            length = _hex_int(body.split(",")[2]) if body.count(",") >= 2 else 1
            if not 0 < length <= 1 << 20:
                return ERROR_GENERIC
            self._set_watchpoint(insert, kind, address, length)
            return "OK"
        if kind not in (0, 1):  # software and hardware breakpoints alike
            return ""
        if insert:
            self._insert_breakpoint(address)
        else:
            self._remove_breakpoint(address)
        return "OK"

    def _set_watchpoint(self, insert: bool, kind: int, address: int, length: int) -> None:
        """Z2/Z3/Z4: a Unicorn memory hook on the range notes the access; the per-instruction
        hook stops the thread after the instruction that made it."""
        mm = self.mm
        assert mm is not None
        key = (kind, address, length)
        if insert and key not in self.watchpoints:
            hook_type, name = _WATCH_KINDS[kind]
            self.watchpoints[key] = mm.uc.hook_add(hook_type, self._watch_hook, (mm, name, address),
                                                   address, address + length - 1)
        elif not insert and key in self.watchpoints:
            mm.uc.hook_del(self.watchpoints.pop(key))
        else:
            return
        mm.uc.ctl_flush_tb()  # memory hooks change how loads and stores are translated
        mm.uc.ctl_flush_tlb()

    def _kill(self) -> None:
        group = self.group
        self.detach()
        if group is not None and group.live_tasks:
            self.kernel.signals.kill_group(group, SIGKILL)

    # --- resuming -------------------------------------------------------------------------

    def _resume_legacy(self, head: str, body: str) -> object:
        """c [addr], C sig[;addr], s [addr], S sig[;addr]: the Hc thread (all, for pykern)."""
        signal_text = ""
        if head in "CS":
            signal_text, _, body = body.partition(";")
        task = self._task()
        if body:
            task.set_reg(X.UC_X86_REG_RIP, _hex_int(body))
        actions = [(head.lower(), linux_signal(_hex_int(signal_text)) if signal_text else 0, task)]
        return self._resume(actions)

    def _v_packet(self, text: str) -> str | object:
        if text == "vCont?":
            return "vCont;c;C;s;S"
        if text.startswith("vCont;"):
            actions = []
            for item in text[len("vCont;"):].split(";"):
                action, _, thread = item.partition(":")
                if not action:
                    raise BadPacket(text)
                kind = action[0]
                if kind not in "cCsSt":
                    return ERROR_GENERIC
                sig = linux_signal(_hex_int(action[1:])) if kind in "CS" else 0
                target = self.parse_thread(thread) if thread else "all"
                if target is None:
                    return ERROR_GENERIC
                actions.append((kind.lower(), sig, target))
            return self._resume(actions)
        if text.startswith("vKill"):
            self._send("OK")
            self._kill()
            return _RESUMED
        if text.startswith("vFile:"):
            return self._host_io(text[len("vFile:"):])
        return ""  # vMustReplyEmpty, vRun, vAttach ...: not supported

    def _resume(self, actions: list[tuple[str, int, object]]) -> object:
        """Apply each thread's leftmost matching action; threads no action names run on
        too (pykern stops and resumes the whole guest together)."""
        followed = next((t for _, _, t in actions if not isinstance(t, str) and not self.traces(t)), None)
        if followed is not None:  # a fork event's child, resumed by gdb: it follows the child
            self._follow_child(followed)
        resume = Resume()
        decided: set[Task] = set()
        for kind, sig, target in actions:
            if kind == "t":
                continue
            threads = self._threads() if isinstance(target, str) else [target]
            for task in threads:
                if task in decided:
                    continue
                decided.add(task)
                if kind == "s":
                    resume.step.add(task)
                if sig:
                    resume.signals[task] = sig
        stop = self.stop
        # A signal for a thread that is not in a signal stop is sent to it now.
        for task, sig in list(resume.signals.items()):
            if stop is None or task is not stop.task or stop.info is None:
                del resume.signals[task]
                self.kernel.signals.send(task.group, SigInfo(sig, abi.SI_KERNEL), task)
        self.resume = resume
        self.stepping = {task: False for task in resume.step}
        self.skip = {}
        for task in self._threads():
            rip = task.reg(X.UC_X86_REG_RIP)
            if rip in self.breakpoints:
                self.skip[task] = rip
        self.watch_hit = None
        self._set_step_hook(bool(self.stepping or self.watchpoints))
        return _RESUMED

    # --- vFile: gdb reads the program and its libraries as the guest sees them ----------------

    def _host_io(self, text: str) -> str | bytes:
        """vFile:setfs/open/pread/close, read-only, through pykern's own path walk (under
        --root, the jail's files). Errors are F-1,errno in the protocol's numbering."""
        operation, _, args = text.partition(":")
        fields = args.split(",")
        try:
            if operation == "setfs":
                return "F0"
            if operation == "open":
                if _hex_int(fields[1]) & 3 != 0:  # O_WRONLY, O_RDWR: the stub changes no file
                    raise SysError(EROFS)
                file = self._open_guest_file(bytes.fromhex(fields[0]))
                fd = next(n for n in range(len(self.files) + 1) if n not in self.files)
                self.files[fd] = file.get_file()
                return f"F{fd:x}"
            if operation == "pread":
                file = self.files.get(_hex_int(fields[0]))
                if file is None:
                    raise SysError(EBADF)
                count = min(_hex_int(fields[1]), MAX_MEMORY_READ)
                data = file.pread(count, _hex_int(fields[2]))
                return f"F{len(data):x};".encode() + data
            if operation == "close":
                file = self.files.pop(_hex_int(fields[0]), None)
                if file is None:
                    raise SysError(EBADF)
                file.fput()
                return "F0"
        except SysError as error:
            return f"F-1,{_FILEIO_ERRNO.get(error.errno, error.errno if error.errno < 31 else 9999):x}"
        except Fault:
            return "F-1,e"  # EFAULT
        return ""  # fstat, readlink, unlink ...: gdb manages without

    def _open_guest_file(self, path: bytes) -> File:
        from pykern.fs.namei import path_walk

        task = self._task()
        location = path_walk(task, AT_FDCWD, path, True).existing()
        if location.inode.is_dir:
            raise SysError(EISDIR)
        file = location.inode.open(task, O_RDONLY)
        file.location = location
        return file

    # --- queries -------------------------------------------------------------------------------

    def _query(self, text: str) -> str | bytes:
        name, _, args = text.partition(":")
        if name == "qSupported":
            features = args.split(";")
            self.multiprocess = "multiprocess+" in features
            # fork events name the child by pid: only with multiprocess thread ids (gdbserver's rule)
            self.fork_events = self.multiprocess and "fork-events+" in features
            self.vfork_events = self.multiprocess and "vfork-events+" in features
            self.exec_events = "exec-events+" in features
            events = "".join(f";{name}-events+" for name, on in
                             (("fork", self.fork_events), ("vfork", self.vfork_events), ("exec", self.exec_events))
                             if on)
            return (f"PacketSize={PACKET_SIZE:x};QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
                    "qXfer:exec-file:read+;qXfer:threads:read+;qXfer:siginfo:read+;QCatchSyscalls+;"
                    "vContSupported+;swbreak+" + (";multiprocess+" if self.multiprocess else "") + events)
        if name == "QStartNoAckMode":
            self._send("OK")
            if self.conn is not None:
                self.conn.ack = False
            return None  # type: ignore[return-value]
        if name == "qXfer":
            return self._xfer(args)
        if name == "qfThreadInfo":
            return "m" + ",".join(self.thread_id(t) for t in self._threads())
        if name == "qsThreadInfo":
            return "l"
        if name == "qC":
            task = self.stop.task if self.stop is not None else self._any_thread()
            return f"QC{self.thread_id(task)}" if task is not None else ERROR_GENERIC
        if name == "qAttached":
            return "1"  # as qemu-user: gdb's quit detaches and the program runs to its end
        if name == "qOffsets":
            return "Text=0;Data=0;Bss=0"
        if name == "qSymbol":
            return "OK"
        if name.startswith("qThreadExtraInfo"):
            task = self._thread_or_current(text.partition(",")[2])
            if task is None:
                return ERROR_GENERIC
            return task.comm.decode("latin-1").encode("latin-1").hex()
        if name == "QCatchSyscalls":
            return self._catch_syscalls(args)
        return ""

    def _catch_syscalls(self, args: str) -> str:
        fields = args.split(";")
        if fields[0] == "0":
            self.catch_syscalls = None
            return "OK"
        if fields[0] != "1":
            return ERROR_GENERIC
        numbers = frozenset(_hex_int(f) for f in fields[1:] if f)
        self.catch_syscalls = numbers
        return "OK"

    def _xfer(self, args: str) -> str | bytes:
        obj, _, rest = args.partition(":")
        operation, _, rest = rest.partition(":")
        annex, _, window = rest.partition(":")
        if operation != "read":
            return ""
        offset_text, _, length_text = window.partition(",")
        offset, length = _hex_int(offset_text), _hex_int(length_text)
        if obj == "features":
            if annex != "target.xml":
                return "E00"
            data = target_xml().encode()
        elif obj == "auxv":
            task = self._task()
            layout = task.mm.layout
            data = layout.auxv if layout is not None else b""
        elif obj == "exec-file":
            group = self.group
            if annex and group is not None and _hex_int(annex) != group.tgid:
                return ERROR_GENERIC
            data = self._exec_path()
        elif obj == "threads":
            data = self._threads_xml().encode()
        elif obj == "siginfo":
            stop = self.stop
            info = stop.info if stop is not None and stop.info is not None else SigInfo(
                stop.signal if stop is not None else SIGTRAP, TRAP_BRKPT)
            data = info.pack()
        else:
            return ""
        chunk = data[offset:offset + length]
        return (b"m" if offset + len(chunk) < len(data) else b"l") + chunk

    def _threads_xml(self) -> str:
        lines = ['<?xml version="1.0"?>\n<threads>\n']
        for task in self._threads():
            name = task.comm.decode("utf-8", "replace").replace("&", "&amp;").replace("<", "&lt;") \
                .replace('"', "&quot;")
            lines.append(f'  <thread id="{self.thread_id(task)}" core="0" name="{name}"/>\n')
        lines.append("</threads>\n")
        return "".join(lines)


_WATCH_KINDS = {2: (X.UC_HOOK_MEM_WRITE, "watch"), 3: (X.UC_HOOK_MEM_READ, "rwatch"),
                4: (X.UC_HOOK_MEM_READ | X.UC_HOOK_MEM_WRITE, "awatch")}
_FILEIO_ERRNO = {ENAMETOOLONG: 91}  # the protocol's File-I/O errno values: Linux's below 31, then its own
_RESUMED = object()  # dispatch's answer to a resume, detach or kill: leave `serve`
