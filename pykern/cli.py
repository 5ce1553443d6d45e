"""pykern's command line: `pykern run [options] PROG [ARGS...]`.

The only module that imports the syscall table and builds a kernel. Exits with the
guest's exit status (128 + signal if it was killed), or with the shell's 127/126 when
PROG cannot be found or executed.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

USAGE_EXIT = 2


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter, as wide as shutil.get_terminal_size() says ($COLUMNS, else the
    terminal's width, else 80) but without importing shutil (and with it zlib, bz2 and lzma:
    about 4 ms of every start-up), which argparse does when left to find the width."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    import argparse

    return argparse.HelpFormatter(prog, width=columns - 2)


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def memory_size(text: str) -> int:
    import argparse

    from pykern.oom import parse_size

    try:
        return parse_size(text)
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"not a size (like 512M or 2G): {text!r}") from None


def non_negative_int(text: str) -> int:
    import argparse

    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def add_determinism_arguments(parser: argparse.ArgumentParser) -> None:
    """--deterministic, --seed, --start-time (`pykern run`; `pykern explore` shares them)."""
    group = parser.add_argument_group("deterministic runs")
    group.add_argument("--deterministic", action="store_true",
                       help="make every run with the same inputs identical: virtual time (advanced by executed "
                            "instructions and sleeps, which take no real time), seeded randomness, a schedule "
                            "chosen by the seed")
    group.add_argument("--seed", type=non_negative_int, default=None, metavar="N",
                       help="with --deterministic (implied): another seed, another schedule (default 0)")
    group.add_argument("--start-time", type=non_negative_int, default=None, metavar="EPOCH_SECONDS",
                       help="with --deterministic (implied): CLOCK_REALTIME at boot (default 946684800, 2000-01-01)")


def determinism_options(options: argparse.Namespace) -> dict:
    """The Kernel Options keywords for --deterministic/--seed/--start-time ({} when none is given)."""
    from pykern.clock import DEFAULT_START_TIME

    if not (options.deterministic or options.seed is not None or options.start_time is not None):
        return {}
    start_time = DEFAULT_START_TIME if options.start_time is None else options.start_time
    return {"deterministic": True, "seed": options.seed or 0, "start_time": start_time}


def trace_on_clock(tracer: Any, clock: Any) -> None:
    """--deterministic: the trace's timestamps (-t, -r, -T, --trace-json, --timeline) are
    the guest's virtual time, so that two runs give the same trace."""
    tracer.wall_ns = clock.realtime_ns
    tracer.mono_ns = clock.monotonic_ns
    tracer.clock0 = clock.monotonic_ns() / 1e9


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog="pykern", description="Run x86-64 Linux programs on a Python kernel.",
                                     formatter_class=help_formatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version", help="show pykern's version and the libunicorn it uses",
                        formatter_class=help_formatter)
    run = commands.add_parser("run", help="run a program", description="Run PROG with ARGS under pykern.",
                              formatter_class=help_formatter)
    run.add_argument("--version", action="store_true", help="show pykern's version and libunicorn, and exit")
    run.add_argument("--env", "-E", action="append", default=[], metavar="NAME=VALUE",
                     help="set an environment variable for the guest (repeatable)")
    run.add_argument("--unset-env", "-U", action="append", default=[], metavar="NAME",
                     help="remove an environment variable from the guest's environment (repeatable)")
    run.add_argument("--clear-env", "-i", action="store_true", help="start the guest with an empty environment")
    run.add_argument("--root", metavar="DIR", default="/",
                     help="make the host directory DIR the guest's / (no path can leave it); default: the "
                          "host's own tree, as under qemu-user")
    run.add_argument("--mount", action="append", default=[], metavar="HOST:GUEST[:ro]",
                     help="bind-mount the host directory HOST at GUEST in the guest (repeatable; :ro "
                          "makes it read-only)")
    limits = run.add_argument_group("limits")
    limits.add_argument("--max-tasks", type=positive_int, default=None, metavar="N",
                        help="fork and clone fail with EAGAIN beyond N guest tasks (threads count; default 4096)")
    limits.add_argument("--max-memory", type=memory_size, default=None, metavar="SIZE",
                        help="bound the memory the guest makes pykern hold (512M, 2G; default: 3/4 of the host's "
                             "RAM); past it the OOM killer kills the process with the highest badness")
    limits.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                        help="after SECONDS send SIGTERM to every guest process, SIGKILL after --kill-after; "
                             "pykern then exits with 124, as timeout(1) does")
    limits.add_argument("--kill-after", type=positive_float, default=2.0, metavar="SECONDS",
                        help="with --timeout: the grace between SIGTERM and SIGKILL (default 2)")
    run.add_argument("--cpus", type=positive_int, default=None, metavar="N",
                     help="run up to N guest threads at once, one host thread each (default: 2, or 1 on a "
                          "one-core host; always 1 with --deterministic, --gdb and tracing)")
    run.add_argument("--gdb", type=int, metavar="PORT",
                     help="wait for gdb on 127.0.0.1:PORT (0: any free port, printed) and let it debug PROG: "
                          "the GDB remote protocol, as qemu-user's -g")
    run.add_argument("--report-crashes", action="store_true",
                     help="on a fatal signal, print the signal, address, registers and faulting instruction")
    add_determinism_arguments(run)
    trace = run.add_argument_group("tracing (strace-compatible)")
    trace.add_argument("--strace", action="store_true", help="print each system call to stderr, as strace -f does")
    trace.add_argument("-o", dest="trace_output", metavar="FILE", help="write the --strace trace to FILE")
    trace.add_argument("-s", dest="trace_strsize", type=int, default=32, metavar="N",
                       help="show at most N bytes of each string (default 32)")
    trace.add_argument("-e", dest="trace_expr", action="append", default=[], metavar="EXPR",
                       help="trace=NAME,...|%%process|%%file|%%signal|%%memory|%%desc|%%network ...; "
                            "status=successful|failed|unfinished; signal=SIG,... (repeatable)")
    trace.add_argument("-t", dest="trace_timestamps", action="count", default=0,
                       help="prefix each line with the time of day; -tt with microseconds, -ttt as seconds "
                            "since the epoch")
    trace.add_argument("-r", dest="trace_relative", action="store_true",
                       help="prefix each line with the time since the previous one (relative timestamps)")
    trace.add_argument("-T", dest="trace_syscall_times", action="store_true",
                       help="show the time spent in each system call, as <seconds>")
    trace.add_argument("-Z", dest="trace_expr", action="append_const", const="status=failed",
                       help="show only the calls that failed (-e status=failed)")
    trace.add_argument("-z", dest="trace_expr", action="append_const", const="status=successful",
                       help="show only the calls that succeeded (-e status=successful)")
    trace.add_argument("-f", dest="trace_follow", action="store_true",
                       help="follow forks (always on; accepted for strace compatibility)")
    trace.add_argument("-c", dest="trace_summary", action="store_true",
                       help="count time, calls and errors per system call; print a table at exit")
    trace.add_argument("--trace-json", metavar="FILE", help="write one JSON object per system call to FILE")
    trace.add_argument("--timeline", metavar="FILE",
                       help="write a Chrome trace-event file (Perfetto, chrome://tracing): a track per task, "
                            "a slice per system call")
    run.add_argument("prog", nargs="?", metavar="PROG", help="the program (a path, or a name looked up in PATH)")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for PROG")
    from pykern import explore

    explore.configure(commands.add_parser(
        "explore", help="run a program under many seeds and group the runs by outcome",
        description="Run PROG with ARGS under --deterministic with RUNS seeds, group the runs by outcome "
                    "(exit status, stdout, stderr) and show how to replay one; exit 0 when every run agreed, "
                    "1 when they differ, 2 for trouble.", formatter_class=help_formatter))
    return parser


def guest_environment(options: argparse.Namespace) -> list[bytes]:
    env = {} if options.clear_env else dict(os.environb)
    for name in options.unset_env:
        env.pop(os.fsencode(name), None)
    for assignment in options.env:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise SystemExit(f"pykern: --env wants NAME=VALUE, got {assignment!r}")
        env[os.fsencode(name)] = os.fsencode(value)
    return [name + b"=" + value for name, value in env.items()]


def find_program(prog: str, root: str = "/") -> str | None:
    """A PROG without '/' is looked up in PATH, as the shell does (in the guest's tree
    under --root: PATH's directories are the guest's)."""
    if "/" in prog:
        return prog
    for directory in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        candidate = os.path.join(directory or ".", prog)
        host = os.path.join(root, candidate.lstrip("/")) if root != "/" and candidate.startswith("/") else candidate
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return candidate
    return None


def run(options: argparse.Namespace) -> int:
    from pykern.abi import EACCES, ENOENT, ENOEXEC, strerror
    from pykern.errors import SysError
    try:  # (the CPU: libunicorn is found and loaded here)
        from pykern.kernel import Kernel, Options
    except ImportError as error:
        print(f"pykern: {error}", file=sys.stderr)
        return 1
    from pykern.fs.namespace import Bind
    from pykern.loader import ExecFormatError

    library, patched = library_description()
    if not patched:
        print(f"pykern: warning: libunicorn {library}", file=sys.stderr)
    from pykern.syscalls.table import build_table, lazy_table

    try:
        binds = tuple(Bind.parse(text) for text in options.mount)
    except ValueError as error:
        print(f"pykern: {error}", file=sys.stderr)
        return USAGE_EXIT
    path = find_program(options.prog, options.root)
    if path is None:
        print(f"pykern: {options.prog}: command not found", file=sys.stderr)
        return 127
    argv = [os.fsencode(options.prog)] + [os.fsencode(a) for a in options.args]
    load_syscall = None
    if tracing(options) or options.gdb is not None:
        table = build_table()  # the tracer and gdb know every call by name from the start
    else:
        table, load_syscall = lazy_table()  # a family is imported at its first call
    tracer = make_tracer(options, table, os.fsencode(path), argv, len(guest_environment(options)))
    # --strace also reports crashes (to stderr, even when the trace goes to -o FILE)
    try:
        from pykern.oom import DEFAULT_FRACTION, host_ram_bytes

        limits = {} if options.max_tasks is None else {"max_tasks": options.max_tasks}
        limits["max_memory"] = options.max_memory or int(host_ram_bytes() * DEFAULT_FRACTION)
        limits.update(determinism_options(options))
        # Orphans outlive the first process in a detached pykern, as they outlive the
        # program natively; but strace -f waits for every traced process, and so does
        # pykern when it traces or gdb debugs, or runs deterministically (what the
        # orphans write would race with whoever reads pykern's output).
        detach = tracer is None and options.gdb is None and not limits.get("deterministic")
        cpus = 1 if options.gdb is not None else options.cpus or default_cpus()
        kernel = Kernel(table, Options(report_crashes=options.report_crashes or options.strace, tracer=tracer,
                                       root=options.root, binds=binds, detach_orphans=detach, cpus=cpus,
                                       **limits),
                        load_syscall)
    except ValueError as error:  # a bad --root or --mount
        print(f"pykern: {error}", file=sys.stderr)
        return USAGE_EXIT
    if tracer is not None and kernel.options.deterministic:
        trace_on_clock(tracer, kernel.clock)
    stub = None
    if options.gdb is not None:
        from pykern.gdbstub import GdbStub

        try:
            stub = GdbStub(kernel, options.gdb)
        except (OSError, OverflowError) as error:
            print(f"pykern: --gdb {options.gdb}: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
            return USAGE_EXIT
    try:
        kernel.spawn(os.fsencode(path), argv, guest_environment(options))
    except (SysError, ExecFormatError) as error:
        if error.errno == ENOEXEC:
            message = f"cannot execute binary file: {strerror(ENOEXEC)}"
        else:
            message = strerror(error.errno)
        print(f"pykern: {options.prog}: {message}", file=sys.stderr)
        return 127 if error.errno == ENOENT else 126 if error.errno in (EACCES, ENOEXEC) else 126
    if stub is not None:
        try:
            stub.attach(kernel.first)  # the program waits for gdb before its first instruction
        except KeyboardInterrupt:
            return 130
    kernel.host_signals.install()  # Ctrl-C, kill: passed on to the guest
    watchdog = None
    if options.timeout is not None:
        from pykern.watchdog import TIMED_OUT_STATUS, Watchdog

        watchdog = Watchdog(kernel, options.timeout, options.kill_after)
    # Start-up made no garbage worth collecting: what it built (modules, the syscall table,
    # the first process) lives to the end. Collect from here on, and never look at it again.
    gc.freeze()
    gc.enable()
    try:
        status = kernel.run()
        if watchdog is not None and watchdog.fired:
            print(watchdog.message(), file=sys.stderr)
            return TIMED_OUT_STATUS
        death = (kernel.first.wait_status or 0) & 0x7F if kernel.first is not None else 0
        if death and status == 128 + death:
            options.killed_by = death  # entry() ends pykern by the same signal
        return status
    finally:
        if stub is not None:
            stub.finish()
        if tracer is not None:
            tracer.close()


def tracing(options: argparse.Namespace) -> bool:
    """--strace, -c, --trace-json or --timeline: the run has a pykern.strace.Tracer."""
    return bool(options.strace or options.trace_summary or options.trace_json or options.timeline)


def make_tracer(options: argparse.Namespace, table: list, path: bytes, argv: list[bytes], nenv: int):
    """A pykern.strace.Tracer when --strace, -c, --trace-json or --timeline asks for one; else None."""
    if not tracing(options):
        return None
    from pykern.strace import Timeline, Tracer, parse_signal_expr, parse_status_expr, parse_trace_expr

    try:
        selected = parse_trace_expr(options.trace_expr, table)
        status = parse_status_expr(options.trace_expr)
        signals = parse_signal_expr(options.trace_expr)
    except ValueError as error:
        raise SystemExit(f"pykern: {error}") from None
    stream = None
    try:
        if options.strace or options.trace_summary:
            stream = open(options.trace_output, "w") if options.trace_output else sys.stderr
        json_stream = open(options.trace_json, "w") if options.trace_json else None
        timeline = Timeline(open(options.timeline, "w")) if options.timeline else None
    except OSError as error:
        raise SystemExit(f"pykern: {error.filename}: {error.strerror}") from None
    return Tracer(stream, strsize=options.trace_strsize, selected=selected,
                  pid_prefix_always=bool(options.trace_output and options.trace_follow),
                  json_stream=json_stream, timeline=timeline, summary=options.trace_summary,
                  initial_exec=(os.fsencode(options.prog), argv, nenv), status=status,
                  timestamps=min(options.trace_timestamps, 3), syscall_times=options.trace_syscall_times,
                  relative=options.trace_relative, signals=signals)


# `pykern run`'s options as argparse leaves them when none is given (parse_command_line).
RUN_DEFAULTS = {
    "command": "run", "version": False, "env": [], "unset_env": [], "clear_env": False, "root": "/", "mount": [],
    "max_tasks": None, "max_memory": None, "timeout": None, "kill_after": 2.0, "cpus": None, "gdb": None,
    "report_crashes": False,
    "deterministic": False, "seed": None, "start_time": None, "strace": False, "trace_output": None,
    "trace_strsize": 32, "trace_expr": [], "trace_timestamps": 0, "trace_relative": False,
    "trace_syscall_times": False, "trace_follow": False, "trace_summary": False, "trace_json": None,
    "timeline": None,
}


def default_cpus() -> int:
    """--cpus by default: 2 where the host has two cores for pykern (more host threads
    than that buy little: the kernel lock serializes every system call)."""
    return min(2, len(os.sched_getaffinity(0)))


def parse_command_line(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line. `pykern run PROG [ARGS...]` with no option (and no `--`, which
    argparse drops in one place only) is parsed here, giving the namespace argparse would
    (tests/test_startup.py compares them), without building the parser: importing argparse
    and building it is about 5 ms of a hello world's start-up. Everything else goes to argparse."""
    if argv is None:
        argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "run" and argv[1] and not argv[1].startswith("-") and "--" not in argv:
        from types import SimpleNamespace

        defaults = {name: list(value) if isinstance(value, list) else value for name, value in RUN_DEFAULTS.items()}
        return SimpleNamespace(**defaults, prog=argv[1], args=argv[2:])  # type: ignore[return-value]
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return execute(parse_command_line(argv))


def library_description() -> tuple[str, bool]:
    """Which libunicorn pykern loaded, and whether it is pykern's patched build."""
    from pykern.ucbind import HAS_BUDGET, LIBRARY_PATH

    if HAS_BUDGET:
        return f"{LIBRARY_PATH} (pykern's patched build)", True
    return (f"{LIBRARY_PATH} is not pykern's build: without its patches, preemption is slower and stops can "
            "re-run instructions (make venv, or install pykern's wheel)"), False


def show_version() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("pykern")
    except PackageNotFoundError:
        number = "(not installed)"
    try:
        library, _ = library_description()
    except ImportError as error:
        library = f"not found: {error}"
    print(f"pykern {number}\nlibunicorn: {library}")
    return 0


def execute(options: argparse.Namespace) -> int:
    if options.command == "version" or options.command == "run" and options.version:
        return show_version()
    if options.command == "run":
        if options.prog is None:
            print("pykern run: error: the following arguments are required: PROG", file=sys.stderr)
            return USAGE_EXIT
        status = run(options)
        sys.stdout.flush()
        return status
    if options.command == "explore":
        from pykern.explore import explore

        return explore(options)
    return USAGE_EXIT


def entry() -> None:
    gc.disable()  # until the guest runs (see run): start-up's collections found nothing to free
    options = parse_command_line()
    status = execute(options)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # let Python report what went wrong with the output
    if getattr(options, "killed_by", 0):
        die_by_signal(options.killed_by)
    # Everything is written and closed: skip the interpreter's teardown, which spends
    # tens of milliseconds freeing guest memory and Unicorn instances the host reclaims
    # at exit anyway (part of the start-up budget of a short program).
    os._exit(status)


def die_by_signal(sig: int) -> None:
    """End pykern as the guest ended, killed by `sig`, so that whoever waits for us sees
    the status the native program gives (a shell shows 128 + sig either way). pykern
    itself leaves no core file."""
    import resource
    import signal

    from pykern.abi import signal_name

    host_signal = getattr(signal, signal_name(sig), None)
    if host_signal is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
        if host_signal not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(host_signal, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {host_signal})
        os.kill(os.getpid(), host_signal)
    os._exit(128 + sig)  # a signal whose default here is not to kill
