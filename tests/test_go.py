"""Go programs (testbins/go/NAME/, built static by `make go-testbins` into testbins/go/bin/)
natively and under `pykern run`: same exit status, stdout and stderr.

Go's runtime asks more of a kernel than C programs do: threads made with clone, signals
for preemption (SIGURG by tgkill to a running thread) on sigaltstacks, futexes, a netpoller
on epoll that other threads add files to while it sleeps, nanosleep, sched_yield, madvise,
/proc/self/exe for os.Executable, and os/exec's clone(CLONE_VFORK|CLONE_VM) + pipes + wait.
Without a Go toolchain (and no binaries) the tests are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

GO_DIR = REPO_ROOT / "testbins" / "go"
BIN_DIR = GO_DIR / "bin"
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
NATIVE_TIMEOUT = 60
PYKERN_TIMEOUT = 180


def _stale(name: str) -> bool:
    binary = BIN_DIR / name
    if not binary.exists():
        return True
    built = binary.stat().st_mtime
    return any(source.stat().st_mtime > built for source in (GO_DIR / name).iterdir())


@pytest.fixture(scope="module")
def go_programs() -> None:
    """Build the Go programs when missing or stale (make go-testbins); skip without Go."""
    names = [d.name for d in GO_DIR.iterdir() if d.is_dir() and d.name != "bin"]
    if any(_stale(name) for name in names):
        if shutil.which("go") is None and not any((BIN_DIR / name).exists() for name in names):
            pytest.skip("no Go toolchain (make go-testbins installs Debian's golang-go)")
        done = subprocess.run(["make", "-s", "go-testbins"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=600, check=False)
        missing = [name for name in names if not (BIN_DIR / name).exists()]
        if missing:
            pytest.fail(f"make go-testbins did not build {missing}:\n{done.stdout}\n{done.stderr}")


def run(cmd: list[str], timeout: float) -> tuple[int, str, str]:
    try:
        done = subprocess.run(cmd, cwd=REPO_ROOT, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"timed out after {timeout} s: {cmd}\nstdout so far:\n{e.stdout!r}\nstderr so far:\n{e.stderr!r}")
    status = 128 - done.returncode if done.returncode < 0 else done.returncode
    return status, done.stdout.decode(errors="surrogateescape"), done.stderr.decode(errors="surrogateescape")


def compare(argv: list[str], *options: str) -> None:
    native = run(argv, NATIVE_TIMEOUT)
    emulated = run([sys.executable, "-m", "pykern", "run", *options, *argv], PYKERN_TIMEOUT)
    assert native[0] == 0, f"native run failed: {native}"
    for field, want, got in zip(("status", "stdout", "stderr"), native, emulated, strict=True):
        assert got == want, (f"{' '.join(argv)}: {field} differs\n--- native: {native[0]}\n{native[1]}{native[2]}"
                             f"\n--- pykern: {emulated[0]}\n{emulated[1]}{emulated[2]}")


def test_go_cpu(go_programs: None) -> None:
    """Sorting, SHA-256 on a goroutine pool, JSON of 200,000 numbers (make bench's go_cpu)."""
    compare(["./testbins/go/bin/go_cpu", "1"])


def test_go_runtime(go_programs: None) -> None:
    """Go's scheduler: async preemption by SIGURG, 1000 goroutines on timers, 12 locked
    threads contending for a mutex, a ticker, GC with FreeOSMemory, /proc/self."""
    compare(["./testbins/go/bin/go_http", "runtime"])


def test_go_signal(go_programs: None) -> None:
    """os/signal: Notify for SIGUSR1 and SIGINT sent by kill and tgkill, Ignore, Reset."""
    compare(["./testbins/go/bin/go_http", "signal"])


def test_go_exec(go_programs: None) -> None:
    """os/exec: itself as a child with stdin, stdout, stderr and exit status; SIGCHLD;
    a pipe between two children; children ended by SIGTERM (caught), SIGKILL and a
    context's deadline; a missing program."""
    compare(["./testbins/go/bin/go_http", "exec"])


def test_go_http_traced(go_programs: None) -> None:
    """Tracing does not change what the program does (the trace goes to /dev/null)."""
    compare(["./testbins/go/bin/go_http"], "--strace", "-f", "-o", "/dev/null")


def test_go_http(go_programs: None) -> None:
    """net/http on 127.0.0.1:0 serving from goroutines, queried by 8 concurrent clients and
    a raw TCP connection; then the whole program, all four parts."""
    compare(["./testbins/go/bin/go_http", "http"])
    compare(["./testbins/go/bin/go_http"])


GOJQ = "/usr/bin/gojq"


@pytest.mark.skipif(not shutil.which(GOJQ), reason="Debian's gojq is not installed (apt-get install gojq)")
def test_gojq() -> None:
    """A Go program we did not build: Debian's gojq, over 50,000 numbers."""
    compare([GOJQ, "-n", "-c", "[range(50000)] | map(. * 7 % 1000) | sort | group_by(. % 10) | map(add)"])
