"""The CLI's own behaviour, where there is no native run to compare with: crash reports,
refused programs, deadlock reports, environment control, ENOSYS warnings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT

TIMEOUT = 60


def pykern(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pykern", *args],
        cwd=REPO_ROOT,
        env=env if env is not None else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_null_dereference_is_sigsegv_with_report():
    plain = pykern("run", "./testbins/segv")
    assert plain.returncode == -signal.SIGSEGV  # pykern dies of it too, as the native program does
    assert plain.stderr == b"", "without --report-crashes stderr stays as on Linux"
    reported = pykern("run", "--report-crashes", "./testbins/segv")
    assert reported.returncode == -signal.SIGSEGV
    first = reported.stderr.decode().splitlines()[0]
    assert "SIGSEGV" in first and "fault address 0x0" in first
    assert "<main+0x" in first, first  # the faulting instruction is located precisely
    assert "mov" in first and "Traceback" not in reported.stderr.decode()


def test_dynamic_program_runs_with_its_interpreter():
    """A dynamically linked program: pykern loads its PT_INTERP (ld.so), which loads libc."""
    native = subprocess.run(["./testbins/pykern_only/dynamic"], cwd=REPO_ROOT, capture_output=True, timeout=TIMEOUT,
                            stdin=subprocess.DEVNULL, check=False)
    result = pykern("run", "./testbins/pykern_only/dynamic")
    assert (result.returncode, result.stdout, result.stderr) == (native.returncode, native.stdout, native.stderr)


def test_missing_interpreter_is_enoent(tmp_path):
    """A dynamic program whose interpreter does not exist fails as execve does: ENOENT."""
    data = (REPO_ROOT / "testbins/pykern_only/dynamic").read_bytes()
    interp = b"/lib64/ld-linux-x86-64.so.2"
    assert interp in data
    program = tmp_path / "lost"
    program.write_bytes(data.replace(interp, b"/nonexistent/ld-linux.so.9"))
    program.chmod(0o755)
    result = pykern("run", str(program))
    assert result.returncode == 127
    assert result.stderr.decode() == f"pykern: {program}: No such file or directory\n"


# Host programs (dynamically linked, from the distribution): each must do under pykern
# what it does natively. Skipped where the host lacks the program.
HOST_COMMANDS = [
    ["/bin/true"],
    ["/bin/echo", "hello", "world"],
    ["/bin/ls", "-la", "testbins/pykern_only"],
    ["/usr/bin/sort", "-r", "Makefile"],
    ["/bin/sh", "-c", "ls testbins | wc -l; echo $((6 * 7)); exit 3"],
    ["/bin/bash", "-c", "for i in 1 2 3; do echo $i; done | tac; false || echo fallback"],
    ["/bin/sh", "-c", "sleep 0.05 & wait; echo waited"],
    ["/bin/grep", "-c", "syscall", "README.md"],
    ["/usr/bin/awk", "NR < 3 { print NR, $1 }", "Makefile"],
    ["/usr/bin/find", "testbins/pykern_only", "-name", "*.c"],
    ["/usr/bin/python3", "-c", "import math, subprocess; print(0.1 + 0.2, math.sqrt(2)); "
                               "print(subprocess.run(['echo', 'child'], capture_output=True).stdout)"],
    ["/usr/bin/perl", "-e", "printf(qq(%.3f %s\\n), 2 ** 0.5, join(q(,), sort { $b <=> $a } 3, 1, 2))"],
]


# No stderr difference is allowed: glibc's nscd probe (ls -l, bash) now gets socket(2)
# and ENOENT from connect, quietly, as natively.
ACCEPTED_WARNINGS: set[bytes] = set()


@pytest.mark.parametrize("argv", HOST_COMMANDS, ids=lambda argv: " ".join(argv)[:40])
def test_host_programs_match_native(argv: list[str]) -> None:
    if not os.path.exists(argv[0]):
        pytest.skip(f"{argv[0]} is not installed")
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    native = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=TIMEOUT,
                            stdin=subprocess.DEVNULL, check=False)
    result = pykern("run", *argv, env=env)
    stderr = b"".join(line for line in result.stderr.splitlines(keepends=True)
                      if line.rstrip(b"\n") not in ACCEPTED_WARNINGS)
    assert (result.returncode, result.stdout, stderr) == (native.returncode, native.stdout, native.stderr)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x7fELF", b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x3e\x00" + b"\xff" * 200],
)
def test_malformed_elf_is_refused_without_traceback(tmp_path, content):
    program = tmp_path / "bad"
    program.write_bytes(content)
    program.chmod(0o755)
    result = pykern("run", str(program))
    assert result.returncode == 126
    assert "Exec format error" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_deadlock_is_reported_and_fails():
    result = pykern("run", "./testbins/pykern_only/deadlock")
    assert result.stdout == b"about to wait forever\n"
    assert result.returncode != 0
    assert b"deadlock" in result.stderr and b"read()" in result.stderr


def test_unimplemented_syscall_returns_enosys_and_warns_once():
    result = pykern("run", "./testbins/pykern_only/io_uring")
    assert result.returncode == 0
    assert result.stdout.decode().count("ENOSYS") == 3
    assert result.stderr.decode().count("io_uring_setup") == 1


def test_environment_control():
    env = {"PATH": "/usr/bin:/bin", "PYKERN_TEST_VAR": "from host", "DROP_ME": "x"}
    shown = pykern("run", "./testbins/auxv", env=env)
    assert b"PYKERN_TEST_VAR=from host" in shown.stdout
    changed = pykern("run", "--env", "PYKERN_TEST_VAR=changed", "./testbins/auxv", env=env)
    assert b"PYKERN_TEST_VAR=changed" in changed.stdout
    removed = pykern("run", "--unset-env", "PYKERN_TEST_VAR", "./testbins/auxv", env=env)
    assert b"PYKERN_TEST_VAR=(unset)" in removed.stdout
    cleared = pykern("run", "--clear-env", "./testbins/auxv", env=env)
    assert b"PYKERN_TEST_VAR=(unset)" in cleared.stdout


def test_program_found_in_path_and_arguments_passed():
    env = {"PATH": f"{REPO_ROOT}/testbins:/usr/bin:/bin"}
    result = pykern("run", "echoargs", "x", "y z", env=env)
    assert result.returncode == 0
    assert b"argv[1]=x\nargv[2]=y z\n" in result.stdout
    missing = pykern("run", "no-such-command-anywhere", env=env)
    assert missing.returncode == 127 and b"command not found" in missing.stderr


def test_python_module_and_console_script_agree():
    script = os.path.join(os.path.dirname(sys.executable), "pykern")
    result = subprocess.run([script, "run", "./testbins/exitcode", "5"], cwd=REPO_ROOT, capture_output=True,
                            timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 5


def _interrupted(cmd: list[str], host_signal: int, stdin: int | None = None,
                 delay: float = 0.0) -> tuple[int, bytes]:
    """Start `cmd`, wait for its "ready" line and `delay` seconds more, send `host_signal`,
    return (status, output)."""
    with subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            assert proc.stdout.readline() == b"ready\n"
            time.sleep(delay)
            proc.send_signal(host_signal)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert b"Traceback" not in err, err.decode()
        return proc.returncode, out


@pytest.mark.parametrize(("mode", "host_signal"), [
    ("loop", signal.SIGINT),  # a guest in the JIT with no syscall to come back through
    ("loop", signal.SIGTERM),
    ("handler", signal.SIGINT),  # the guest's handler runs; its exit status is the result
    ("handler", signal.SIGTERM),
    ("count", signal.SIGINT),  # the JIT stopped mid-loop resumes exactly (tools/build_unicorn.py)
    ("count", signal.SIGTERM),
    ("read", signal.SIGINT),  # asleep in a host read
    ("pause", signal.SIGTERM),  # every task waits for a signal: a wait, not a deadlock
])
def test_signals_to_pykern_reach_the_guest(mode: str, host_signal: int) -> None:
    """Ctrl-C or kill aimed at pykern acts on the guest as on the native program: same
    exit status (130, 143, or the handler's 3), no Python traceback."""
    binary = "./testbins/pykern_only/spin"
    read_end, write_end = os.pipe()  # "read" blocks on stdin: a pipe nobody writes
    try:
        delay = 0.3 if mode == "count" else 0.0  # well into the loop
        native = _interrupted([binary, mode], host_signal, stdin=read_end, delay=delay)
        emulated = _interrupted([sys.executable, "-m", "pykern", "run", binary, mode], host_signal,
                                stdin=read_end, delay=delay)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert emulated == native


def test_every_syscall_with_awkward_arguments_never_breaks_pykern(tmp_path) -> None:
    """testbins/pykern_only/sysfuzz: each syscall number with NULL, unmapped, kernel-half
    and misaligned pointers, -1 and huge values, each in a child ended by a timer if it
    blocks. Every call must get a result, an errno or a signal: no Python traceback, no
    pykern bug, and the fuzzer itself finishes."""
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "./testbins/pykern_only/sysfuzz", str(tmp_path)],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=600, check=False)
    stderr = done.stderr.decode(errors="replace")
    assert "Traceback" not in stderr and "pykern bug" not in stderr, stderr[-4000:]
    assert done.returncode == 0, stderr[-4000:]
    assert done.stdout.startswith(b"sysfuzz: ") and b"(0 stuck and killed)" in done.stdout, done.stdout
