"""pykern from Python: run a program in this process and get what it did.

    import pykern

    result = pykern.run(["./testbins/hello"], stdin=b"", timeout=30)
    print(result.stdout, result.exit_status)
    result.check()  # raises pykern.GuestFailed with a readable report unless it exited 0

The guest's fds 0, 1 and 2 are host memfds pykern reads back after the run, so a guest
that writes a lot never blocks on a reader, and nothing reaches the caller's terminal.
Each run is a fresh Kernel; its address spaces, Unicorn instances and host fds are
released before run() returns, so a loop of runs keeps the caller's memory and fds flat.
The run waits for every guest process (no orphans outlive it, as under --strace).
"""

from __future__ import annotations

import gc
import io
import json
import os
import time
from dataclasses import dataclass, field

from pykern.abi import signal_name

STDERR_TAIL_LINES = 20
LAST_SYSCALLS = 15


class GuestFailed(AssertionError):
    """Result.check(): the guest did not exit with status 0. The message is the report."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.report())
        self.result = result


@dataclass
class Result:
    argv: list[str]
    stdout: bytes = b""
    stderr: bytes = b""
    exit_status: int = 0  # as a shell shows it: the exit code, or 128 + the signal
    exit_code: int | None = None  # None if a signal killed it
    signal: int | None = None  # the signal that killed it, else None
    wall_time: float = 0.0  # seconds
    timed_out: bool = False
    strace: str = ""  # strace's text, when run(strace=True)
    events: list[dict] = field(default_factory=list)  # one dict per traced syscall (--trace-json's)
    crash_report: str = ""  # pykern's report when a fault killed the guest

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out

    def check(self) -> Result:
        if not self.ok:
            raise GuestFailed(self)
        return self

    def report(self) -> str:
        """A few readable lines: how it ended, the crash report, the stderr tail, the last
        syscalls (when traced)."""
        if self.timed_out:
            how = "timed out"
        elif self.signal is not None:
            how = f"killed by {signal_name(self.signal)}"
        else:
            how = f"exited with status {self.exit_code}"
        lines = [f"{' '.join(self.argv)}: {how} after {self.wall_time:.2f} s"]
        if self.crash_report:
            lines += ["", self.crash_report.rstrip()]
        if self.stderr:
            tail = self.stderr.decode(errors="replace").splitlines()[-STDERR_TAIL_LINES:]
            lines += ["", f"stderr (last {len(tail)} lines):"] + [f"  {line}" for line in tail]
        if self.strace:
            calls = self.strace.splitlines()[-LAST_SYSCALLS:]
            lines += ["", f"last {len(calls)} syscalls:"] + [f"  {line}" for line in calls]
        return "\n".join(lines)


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def run(argv: list[str] | tuple[str, ...], *, stdin: bytes = b"", env: dict[str, str] | None = None,
        cwd: str | None = None, timeout: float | None = None, strace: bool = False, deterministic: bool = False,
        seed: int | None = None, start_time: int | None = None, root: str | None = None) -> Result:  # fmt: skip
    """Run `argv` (argv[0] a path, or a name looked up in PATH) under pykern, in this
    process. `env` replaces the environment (default: this process's); `cwd` is where
    the guest starts; `timeout` ends the guest as --timeout does (Result.timed_out);
    `strace` fills Result.strace and Result.events; `root` is --root; `deterministic`,
    `seed` and `start_time` are --deterministic, --seed and --start-time (a seed or a
    start time implies deterministic; the seed defaults to 0). Raises
    FileNotFoundError / PermissionError / ValueError for a program that cannot be run,
    as subprocess does."""
    from pykern.abi import ENOENT, strerror
    from pykern.cli import find_program, trace_on_clock
    from pykern.clock import DEFAULT_START_TIME
    from pykern.errors import SysError
    from pykern.kernel import Kernel, Options, shell_status
    from pykern.loader import ExecFormatError
    from pykern.syscalls.table import build_table

    argv = [os.fspath(arg) for arg in argv]
    if not argv:
        raise ValueError("argv is empty")
    root = root or "/"
    path = find_program(argv[0], root)
    if path is None:
        raise FileNotFoundError(f"{argv[0]}: command not found")
    environment = dict(os.environ) if env is None else dict(env)
    envp = [os.fsencode(f"{name}={value}") for name, value in environment.items()]
    guest_argv = [os.fsencode(arg) for arg in argv]

    text, events = io.StringIO(), io.StringIO()
    tracer = None
    table = build_table()
    if strace:
        from pykern.strace import Tracer

        tracer = Tracer(text, json_stream=events, initial_exec=(os.fsencode(argv[0]), guest_argv, len(envp)))
    crashes = io.StringIO()
    fds = [_memfd("pykern-stdin", stdin), _memfd("pykern-stdout"), _memfd("pykern-stderr")]
    result = Result(list(argv))
    kernel = None
    start = time.monotonic()
    try:
        deterministic = deterministic or seed is not None or start_time is not None
        kernel = Kernel(table, Options(report_crashes=True, crash_stream=crashes, tracer=tracer, root=root,
                                       stdio=tuple(fds), cwd=cwd, console=False, deterministic=deterministic,
                                       seed=seed or 0,
                                       start_time=DEFAULT_START_TIME if start_time is None else start_time))
        if tracer is not None and deterministic:
            trace_on_clock(tracer, kernel.clock)
        try:
            kernel.spawn(os.fsencode(path), guest_argv, envp)
        except (SysError, ExecFormatError) as error:
            if error.errno == ENOENT:
                raise FileNotFoundError(f"{argv[0]}: {strerror(error.errno)}") from None
            raise PermissionError(f"{argv[0]}: {strerror(error.errno)}") from None
        watchdog = None
        if timeout is not None:
            from pykern.watchdog import Watchdog

            watchdog = Watchdog(kernel, timeout)
        kernel.run()
        result.timed_out = watchdog is not None and watchdog.fired
        status = kernel.first.wait_status or 0 if kernel.first is not None else 0
        result.exit_status = shell_status(status)
        if status & 0x7F:
            result.signal = status & 0x7F
        else:
            result.exit_code = status >> 8 & 0xFF
        if tracer is not None:
            tracer.close()
    finally:
        result.wall_time = time.monotonic() - start
        result.stdout, result.stderr = _read_all(fds[1]), _read_all(fds[2])
        for fd in fds:
            os.close(fd)
        if kernel is not None:
            kernel.shutdown()
        del kernel
        gc.collect()  # Unicorn instances and host mappings sit in reference cycles
    result.crash_report = crashes.getvalue()
    result.strace = text.getvalue()
    result.events = [json.loads(line) for line in events.getvalue().splitlines() if line.strip()]
    return result


__all__ = ["GuestFailed", "Result", "run"]
