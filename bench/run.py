#!/usr/bin/env python3
"""pykern's benchmarks (issue 5): every workload natively, under qemu-user and under pykern.

Each workload is a static program in testbins/bench/ (built by `make testbins`) that takes
its size from argv[1] and prints a deterministic result line. For every repetition the
runner runs it natively, under `qemu-x86_64` (when installed) and under `pykern run`,
interleaved so that a burst of load from elsewhere hits all three alike. Every run has a
timeout; its exit status and stdout must equal the native run's, otherwise the mode is
marked `mismatch` (or `timeout`, `exit N`) and not repeated.

Reported per workload: the median wall time of each mode, pykern/native and pykern/qemu,
a per-operation cost where one is meaningful ((median - hello world's median) / count,
the same mode's start-up subtracted), pykern's peak RSS (from os.wait4's rusage of that
run), and the issue's targets as met/missed. Targets are reported, never asserted.

    .venv/bin/python bench/run.py                    # the full run: 5 repetitions
    .venv/bin/python bench/run.py --only getppid,hello --reps 3
    .venv/bin/python bench/run.py --quick --json /tmp/q.json   # tiny sizes, 1 repetition

A full run writes bench/results/latest.json; --quick writes JSON only with --json.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINS = "./testbins/bench"
DEFAULT_JSON = REPO / "bench" / "results" / "latest.json"
# Every mode gets exactly this environment (as in tests/test_testbins.py).
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
MODES = ("native", "qemu", "pykern")
QEMU = "qemu-x86_64"
STRACE = "strace"


@dataclass(frozen=True)
class Target:
    label: str
    metric: str  # "pykern/qemu", "per_op", "median_ms" or "rss_mb"
    limit: float

    def check(self, value: float | None) -> bool | None:
        return None if value is None else value <= self.limit


@dataclass(frozen=True)
class Workload:
    name: str
    program: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    what: str
    op: str = ""  # the unit of the per-op cost ("syscall", "cycle"); "" for none
    op_scale: float = 1e6  # seconds -> reported unit (1e6: µs, 1e3: ms)
    traced: bool = False  # native under `strace -f`, qemu with -strace, pykern with --strace
    targets: tuple[Target, ...] = ()
    timeout: float = 300.0  # per run, any mode (--quick: 30 s)
    count_at: int = 0  # which argument is the count of operations
    requires: str = ""  # a host program the workload runs (busybox); skipped when absent
    optional: bool = False  # its program may not be built (asan_hello without libasan): skipped
    qemu: bool = True  # False: not run under qemu-user (asan_hello there grew past 23 GB of RSS)

    def argv(self, quick: bool) -> tuple[str, ...]:
        return self.quick_args if quick else self.args

    def count(self, quick: bool) -> int | None:
        return int(self.argv(quick)[self.count_at]) if self.op else None

    @property
    def available(self) -> bool:
        return not self.requires or os.access(self.requires, os.X_OK)

    @property
    def op_unit(self) -> str:
        return "µs" if self.op_scale == 1e6 else "ms"


CPU_TARGET = Target("<= 1.5x qemu", "pykern/qemu", 1.5)
NOT_ALONE_TARGET = Target("<= 1.3x qemu", "pykern/qemu", 1.3)  # issue 11: a process that is not alone
BUSYBOX = "/bin/busybox"  # busybox-static (make bench-tools); its workloads are skipped without it
# busybox_exec: `busybox sh -c` running `busybox true` by its path N times (by its path:
# a bare applet name makes busybox's sh re-execute /proc/self/exe).
BUSYBOX_LOOP = f'for i in $({BUSYBOX} seq "$1"); do {BUSYBOX} true; done'

WORKLOADS: tuple[Workload, ...] = (
    Workload("hello", "./testbins/hello", (), (), "start-up of hello world (testbins/hello)",
             targets=(Target("< 150 ms", "median_ms", 150.0), Target("RSS < 60 MB", "rss_mb", 60.0))),
    Workload("cpu_int", f"{BINS}/cpu_int", ("40",), ("1",),
             "integer + memory: sieve of 2^21 and a 2^21-step hash into a table, per round",
             targets=(CPU_TARGET,)),
    Workload("cpu_int_forked", f"{BINS}/cpu_int", ("40", "after-fork"), ("1", "after-fork"),
             "cpu_int in a process that forked and reaped a child first (pykern: after a counted "
             "slice; compare with cpu_int)", targets=(CPU_TARGET,)),
    Workload("mem_pages", f"{BINS}/mem_pages", ("40",), ("1",),
             "read-modify-write spread over 16 MiB, a new page each access (the software TLB's cost)"),
    Workload("fp", f"{BINS}/fp", ("40",), ("1",), "floating point: Mandelbrot grid and a sqrt/div series",
             targets=(CPU_TARGET,)),
    Workload("getppid", f"{BINS}/getppid", ("1000000",), ("2000",), "1,000,000 raw getppid() calls",
             op="syscall", targets=(Target("<= 4 µs", "per_op", 4.0),)),
    Workload("clock_gettime", f"{BINS}/clock_gettime", ("10000000",), ("2000",),
             "10,000,000 clock_gettime(CLOCK_MONOTONIC) calls through glibc and the vDSO (no syscall)",
             op="call", targets=(Target("< 0.1 µs", "per_op", 0.1),)),
    Workload("write_null", f"{BINS}/write_null", ("1000000",), ("2000",),
             "1,000,000 one-byte write()s to /dev/null", op="syscall"),
    Workload("fork_wait", f"{BINS}/fork_wait", ("500",), ("5",), "500 cycles of fork + _exit + waitpid",
             op="cycle", op_scale=1e3, targets=(Target("< 1 ms", "per_op", 1.0),)),
    Workload("fork_exec", f"{BINS}/fork_exec", ("100", "testbins/bench/true"), ("3", "testbins/bench/true"),
             "100 cycles of fork + execv(testbins/bench/true) + waitpid", op="cycle", op_scale=1e3),
    Workload("pipe_pingpong", f"{BINS}/pipe_pingpong", ("10000",), ("100",),
             "10,000 one-byte round trips between two processes over pipes", op="round trip"),
    Workload("futex_pingpong", f"{BINS}/futex_pingpong", ("10000",), ("100",),
             "10,000 round trips between two threads with FUTEX_WAIT/FUTEX_WAKE", op="round trip"),
    Workload("fork_bigmap", f"{BINS}/fork_bigmap", ("20",), ("2",),
             "20 forks of a process with 1 GiB mapped, 1 MiB touched", op="fork", op_scale=1e3),
    Workload("threads_cpu", f"{BINS}/threads_cpu", ("1000", "2"), ("5", "2"),
             "a multiply/xor loop of 10^9 steps split over two threads (pykern: preempted by its "
             "instruction budget)", targets=(NOT_ALONE_TARGET,)),
    Workload("threads_cpu_8", f"{BINS}/threads_cpu", ("1000", "8"), ("5", "8"),
             "threads_cpu with eight threads", targets=(NOT_ALONE_TARGET,)),
    Workload("pipeline_cpu", f"{BINS}/pipeline_cpu", ("500",), ("5",),
             "a CPU-bound producer (5*10^8 multiply/xor steps, a line per 1000) piped into a forked "
             "reader, as `gzip | cat`", targets=(NOT_ALONE_TARGET,)),
    Workload("go_cpu", "./testbins/go/bin/go_cpu", ("5",), ("1",),
             "a static Go program (testbins/go/go_cpu, make go-testbins): 5 rounds of a JSON encode and "
             "decode of 200,000 numbers, a sort and SHA-256 on a goroutine pool, GOMAXPROCS=2",
             targets=(CPU_TARGET,), optional=True),
    Workload("busybox_exec", BUSYBOX, ("sh", "-c", BUSYBOX_LOOP, "busybox_exec", "100"),
             ("sh", "-c", BUSYBOX_LOOP, "busybox_exec", "3"),
             "a `busybox sh -c` loop running /bin/busybox true 100 times (qemu: its children run natively)",
             op="cycle", op_scale=1e3, count_at=4, requires=BUSYBOX,
             targets=(Target("<= 3 ms", "per_op", 3.0),)),
    Workload("shell_script", BUSYBOX, ("sh", f"{BINS}/shell_script.sh", "20"),
             ("sh", f"{BINS}/shell_script.sh", "1"),
             "testbins/bench/shell_script.sh: 20 rounds of two pipelines of busybox applets (7 execs a "
             "round; qemu: its children run natively)", op="round", op_scale=1e3, count_at=2, requires=BUSYBOX),
    Workload("strace_getppid", f"{BINS}/getppid", ("100000",), ("500",),
             "100,000 getppid() traced: strace -f -o /dev/null vs pykern run --strace -o /dev/null "
             "(qemu: -strace to a pipe)", op="traced syscall", traced=True),
)

# Memory, process and start-up workloads (issue 11): what a live process costs, fork+exec of
# a dynamic program, and the start-up of a program with huge reservations.
MM_WORKLOADS: tuple[Workload, ...] = (
    Workload("many_procs", f"{BINS}/many_procs", ("1000",), ("20",),
             "1,000 processes alive at once, all blocked in read() on one pipe, then released and reaped "
             "(per op: fork + exit + wait; RSS: all of them)", op="process", op_scale=1e3,
             targets=(Target("RSS < 1000 MB", "rss_mb", 1000.0),)),
    Workload("dyn_exec", f"{BINS}/fork_exec", ("50", "/bin/true"), ("3", "/bin/true"),
             "50 cycles of fork + execv(/bin/true, the host's dynamically linked true) + waitpid",
             op="cycle", op_scale=1e3, targets=(Target("<= 10 ms", "per_op", 10.0),)),
    Workload("asan_hello", f"{BINS}/asan_hello", (), (),
             "start-up of hello world built with -fsanitize=address (dynamic; terabytes of reservations)",
             targets=(Target("< 1 s", "median_ms", 1000.0),), optional=True, qemu=False),
)
WORKLOADS += MM_WORKLOADS
BY_NAME = {w.name: w for w in WORKLOADS}


# ---------------------------------------------------------------------------------------
# Running one command


@dataclass
class Run:
    wall: float
    status: int | None  # exit status, 128+N when killed by signal N; None on timeout
    stdout: str
    stderr: str
    rss_kb: int

    @property
    def failure(self) -> str:
        if self.status is None:
            return "timeout"
        return "" if self.status == 0 else f"exit {self.status}"


TIME = "/usr/bin/time"


def run_once(cmd: list[str], timeout: float) -> Run:
    """Run cmd from the repo root; wall time, status, output and the program's peak RSS.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`) when it is installed: the
    rusage os.wait4 gives for our own child counts the size of the process before it
    exec'd, and a child of this Python process starts as big as Python (about 16 MB),
    which would swamp a native program's 1 MB. Without /usr/bin/time, wait4's figure is
    used (fine for pykern, itself bigger than this runner). Either way the status is the
    program's (GNU time passes it on, 128+N for a signal). A timer kills the whole
    session on timeout.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss_file:
        if os.access(TIME, os.X_OK):
            cmd = [TIME, "-f", "%M", "-o", rss_file.name, *cmd]
        timed_out = threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, wstatus, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(wstatus)
        proc.returncode = code  # reaped here: keep Popen from waiting again
        if code < 0:
            code = 128 - code
        # Leftovers of a killed or crashed run (a forked child still blocked) must not linger.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        rss_kb = usage.ru_maxrss
        reported = Path(rss_file.name).read_text(errors="replace").split()
        if cmd[0] == TIME and reported and reported[-1].isdigit():
            rss_kb = int(reported[-1])
        out.seek(0)
        err.seek(0)
        return Run(wall, None if timed_out.is_set() else code, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), rss_kb)


def pykern_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


# How pykern is started (--pykern): this checkout's venv by default; another installed
# pykern (a snapshot, another Unicorn version) can be compared with --pykern PATH/bin/pykern.
PYKERN: list[str] = [pykern_python(), "-m", "pykern"]


def command(w: Workload, mode: str, quick: bool) -> list[str] | None:
    """The command line for one mode, or None when its tool (or the program) is not installed."""
    if not w.available or (not w.requires and not (REPO / w.program).exists()):  # busybox; asan_hello
        return None
    target = [w.program, *w.argv(quick)]
    if mode == "native":
        if w.traced:
            return [STRACE, "-f", "-o", "/dev/null", *target] if shutil.which(STRACE) else None
        return target
    if mode == "qemu":
        if not w.qemu or not shutil.which(QEMU):
            return None
        return [QEMU, "-strace", *target] if w.traced else [QEMU, *target]
    trace = ["--strace", "-o", "/dev/null"] if w.traced else []
    return [*PYKERN, "run", *trace, *target]


# ---------------------------------------------------------------------------------------
# Measuring workloads


@dataclass
class ModeResult:
    cmd: list[str] | None
    runs: list[Run] = field(default_factory=list)
    status: str = "ok"  # ok, missing (tool not installed), timeout, exit N, mismatch, no oracle
    detail: str = ""

    @property
    def done(self) -> bool:
        return self.cmd is None or self.status != "ok"

    @property
    def median(self) -> float | None:
        if self.status != "ok" or not self.runs:
            return None
        return statistics.median(r.wall for r in self.runs)

    @property
    def peak_rss_kb(self) -> int | None:
        return max((r.rss_kb for r in self.runs), default=None) if self.status == "ok" else None


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def measure(w: Workload, modes: tuple[str, ...], reps: int, quick: bool, timeout: float | None,
            log) -> dict[str, ModeResult]:
    results = {m: ModeResult(command(w, m, quick)) for m in modes}
    for m, res in results.items():
        if res.cmd is None:
            res.status = "missing"
            res.detail = (f"{w.requires} not installed (apt-get install busybox-static): skipped"
                          if not w.available
                          else f"{w.program} not built" if not w.requires and not (REPO / w.program).exists()
                          else "not run under qemu-user" if m == "qemu" and not w.qemu
                          else f"{STRACE if w.traced and m == 'native' else QEMU} not installed")
    limit = timeout if timeout is not None else (30.0 if quick else w.timeout)
    oracle: Run | None = None
    for rep in range(reps):
        for m in modes:
            res = results[m]
            if res.done:
                continue
            run = run_once(res.cmd, limit)
            res.runs.append(run)
            if run.status is None:
                res.status, res.detail = "timeout", f"no exit after {limit:g} s"
            elif m == "native" and oracle is None:
                oracle = run
                if run.failure:
                    res.detail = f"native exits {run.status}: {tail(run.stderr)}"
            elif oracle is None:
                res.status, res.detail = "no oracle", "the native run did not complete"
            elif (run.status, run.stdout) != (oracle.status, oracle.stdout):
                res.status = "mismatch"
                res.detail = (f"status {run.status} vs native {oracle.status}; stdout {run.stdout.strip()!r} "
                              f"vs {oracle.stdout.strip()!r}; stderr: {tail(run.stderr)}")
            shown = f"{run.wall:8.3f} s" if run.status is not None else "  timeout"
            log(f"  {w.name:<15} rep {rep + 1}/{reps} {m:<7}{shown}  rss {run.rss_kb / 1024:6.1f} MB"
                + (f"  [{res.status}]" if res.status != "ok" else ""))
    return results


# ---------------------------------------------------------------------------------------
# Summaries


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summarize(selected: list[Workload], measured: dict[str, dict[str, ModeResult]], quick: bool) -> dict:
    hello = measured.get("hello", {})
    summary = {}
    for w in selected:
        results = measured[w.name]
        med = {m: r.median for m, r in results.items()}
        per_op: dict[str, float | None] = {}
        if w.op:
            for m, value in med.items():
                base = hello[m].median if m in hello else None
                per_op[m] = (value - base) / w.count(quick) * w.op_scale if value is not None and base is not None \
                    else None
        pk = results.get("pykern")
        values = {
            "pykern/qemu": ratio(med.get("pykern"), med.get("qemu")),
            "per_op": per_op.get("pykern"),
            "median_ms": med["pykern"] * 1e3 if med.get("pykern") is not None else None,
            "rss_mb": pk.peak_rss_kb / 1024 if pk and pk.peak_rss_kb is not None else None,
        }
        summary[w.name] = {
            "what": w.what,
            "count": w.count(quick),
            "op": w.op or None,
            "op_unit": w.op_unit if w.op else None,
            "modes": {
                m: {
                    "status": r.status,
                    "detail": r.detail,
                    "command": r.cmd,
                    "times_s": [round(x.wall, 6) for x in r.runs],
                    "median_s": None if r.median is None else round(r.median, 6),
                    "rss_kb": [x.rss_kb for x in r.runs],
                    "peak_rss_kb": r.peak_rss_kb,
                    "per_op": None if per_op.get(m) is None else round(per_op[m], 4),
                }
                for m, r in results.items()
            },
            "pykern/native": ratio(med.get("pykern"), med.get("native")),
            "pykern/qemu": values["pykern/qemu"],
            "targets": [
                {"label": t.label, "metric": t.metric, "limit": t.limit, "value": values[t.metric],
                 "met": None if quick else t.check(values[t.metric])}
                for t in w.targets
            ],
        }
    return summary


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.1f} ms"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else (f"{r:.1f}x" if r >= 10 else f"{r:.2f}x")


def fmt_op(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3g} {unit}"


def cell(mode: dict) -> str:
    if mode["status"] == "ok":
        return fmt_time(mode["median_s"])
    return "n/a" if mode["status"] == "missing" else f"**{mode['status']}**"


def table(summary: dict, quick: bool) -> str:
    head = ["workload", "native", "qemu", "pykern", "pykern/native", "pykern/qemu", "per op: pykern / qemu / native",
            "pykern peak RSS", "target"]
    rows = [head, ["---"] + ["---:"] * 7 + ["---"]]
    for name, s in summary.items():
        absent = {"status": "missing", "median_s": None, "per_op": None}

        def get(m: str, modes: dict = s["modes"], absent: dict = absent) -> dict:
            return modes.get(m, absent)

        per_op = "-"
        if s["op"]:
            costs = [get(m)["per_op"] for m in ("pykern", "qemu", "native")]
            per_op = " / ".join("-" if c is None else f"{c:.3g}" for c in costs) + f" {s['op_unit']} per {s['op']}"
        rss = get("pykern").get("peak_rss_kb")
        targets = "; ".join(
            f"{t['label']}: " + {True: "met", False: "**missed**", None: "n/a"}[t["met"]] for t in s["targets"])
        if quick and targets:
            targets = "not judged on quick sizes"
        rows.append([name, cell(get("native")), cell(get("qemu")), cell(get("pykern")), fmt_ratio(s["pykern/native"]),
                     fmt_ratio(s["pykern/qemu"]), per_op, "-" if rss is None else f"{rss / 1024:.0f} MB",
                     targets or "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("| " + " | ".join(c.ljust(wd) for c, wd in zip(r, widths)) + " |" for r in rows)


def first_line(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (done.stdout or done.stderr).strip()
    return out.splitlines()[0] if out else None


def machine() -> dict:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    py = PYKERN[0] if len(PYKERN) > 1 else str(Path(PYKERN[0]).with_name("python"))
    probe = ("import sys, importlib.metadata as m, pykern.ucbind as u; "
             "print(sys.version.split()[0], m.version('unicorn'), u.LIBRARY_PATH)")
    versions = (first_line([py, "-c", probe]) or "? ? ?").split()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "kernel": platform.release(),
        "python": versions[0],
        "unicorn": versions[1] if len(versions) > 1 else None,
        "libunicorn": libunicorn_build(versions[2]) if len(versions) > 2 else None,
        "qemu": first_line([QEMU, "--version"]) if shutil.which(QEMU) else None,
        "strace": first_line([STRACE, "-V"]) if shutil.which(STRACE) else None,
        "load_average": os.getloadavg(),
        "peak_rss_from": TIME if os.access(TIME, os.X_OK) else "os.wait4 (includes the runner's pre-exec size)",
        "pykern": " ".join(PYKERN),
        "commit": first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def libunicorn_build(path: str) -> str:
    """Which libunicorn pykern loads: its own build (tools/build_unicorn.py) or the wheel's."""
    return ("pykern's build (tools/build_unicorn.py)" if os.sep + "pykern-unicorn" + os.sep in path
            else f"the unicorn wheel's ({path})")


def describe(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Linux {m['kernel']}; Python {m['python']}; "
            f"unicorn {m['unicorn']}, libunicorn: {m.get('libunicorn')}; {m['qemu'] or 'no qemu-user'}; "
            f"commit {m['commit']}")


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="workloads: " + ", ".join(BY_NAME))
    p.add_argument("--quick", action="store_true", help="tiny sizes and 1 repetition (a smoke test)")
    p.add_argument("--only", metavar="NAME[,NAME]", help="run only these workloads (hello is added as the "
                   "start-up baseline when a per-op cost needs it)")
    p.add_argument("--reps", type=int, help="repetitions per mode (default 5; --quick: 1)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    p.add_argument("--timeout", type=float, help="seconds per run (default 300; --quick: 30)")
    p.add_argument("--pykern", metavar="CMD", help="how to start pykern, split on spaces (default: "
                   f"{' '.join(PYKERN)}; e.g. /tmp/other/.venv/bin/pykern)")
    p.add_argument("--json", metavar="PATH", help=f"where to write the results (default "
                   f"{DEFAULT_JSON.relative_to(REPO)}; --quick: only when given)")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.reps < 1:
        p.error("--reps must be at least 1")
    args.modes = tuple(m for m in MODES if m in args.modes.split(","))
    if "native" not in args.modes:
        p.error("--modes must include native (the oracle and the baseline)")
    names = [n for n in (args.only or "").split(",") if n] or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    if "hello" not in names and any(BY_NAME[n].op for n in names):
        names.insert(0, "hello")
    args.selected = [BY_NAME[n] for n in BY_NAME if n in names]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pykern:
        PYKERN[:] = args.pykern.split()
    missing = [w.program for w in args.selected
               if not w.requires and not w.optional and not (REPO / w.program).exists()]
    for w in args.selected:
        if not w.available:
            print(f"bench: {w.name}: {w.requires} not installed (apt-get install busybox-static): skipped",
                  file=sys.stderr)
    if missing:
        print(f"bench: missing {', '.join(missing)}: run `make testbins`", file=sys.stderr)
        return 2
    desc = machine()
    began = time.time()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"bench: {describe(desc)}")
    log(f"bench: {len(args.selected)} workloads x {args.reps} reps, modes {', '.join(args.modes)}"
        + (" (quick)" if args.quick else ""))
    measured = {}
    for w in args.selected:
        measured[w.name] = measure(w, args.modes, args.reps, args.quick, args.timeout, log)
    summary = summarize(args.selected, measured, args.quick)
    failed = [f"{name} under {m}: {r['status']} ({r['detail']})" for name, s in summary.items()
              for m, r in s["modes"].items() if r["status"] not in ("ok", "missing")]

    print()
    print(f"Machine: {describe(desc)}")
    print(f"Medians of {args.reps} run(s) each{' (quick sizes)' if args.quick else ''}; "
          "per op = (median - hello's median) / count.\n")
    print(table(summary, args.quick))
    if failed:
        print("\nFailed:")
        for line in failed:
            print(f"- {line}")

    path = Path(args.json) if args.json else (None if args.quick else DEFAULT_JSON)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "machine": desc,
            "started": datetime.datetime.fromtimestamp(began, datetime.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - began, 1),
            "config": {"quick": args.quick, "reps": args.reps, "modes": list(args.modes),
                       "only": [w.name for w in args.selected]},
            "workloads": summary,
            "failed": failed,
        }
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        print(f"\nbench: results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
