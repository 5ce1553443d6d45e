"""Guest threads on several CPUs (pykern.smp): threads of one process, and processes,
run at once on host threads, under a big kernel lock, and programs still behave as on
Linux: the testbins whose threads and processes share memory, locks and signals run
several times on two CPUs and must match their native runs every time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, TESTBINS_DIR
from pykern.kernel import Kernel, Options
from pykern.sched import QUANTUM_SYSCALLS
from pykern.syscalls.table import build_table
from pykern.ucbind import HAS_PARALLEL

TIMEOUT = 120
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
# Testbins whose threads or processes share memory and locks, or signal each other.
SHARED = [
    "threads", "smp_atomics", "smp_mm", "smp_exit", "smp_signals", "smp_fork", "smp_jit", "futex_ops", "futex_pi",
    "futex_robust", "futex_waitv", "shm_mutex", "smp_jit_alias", "jit_alias", "jit_patch", "pipe_pingpong", "eintr_once", "sigstorm", "mqueue_thread",
]


def run(cmd: list[str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=TIMEOUT, check=False)
    return done.returncode, done.stdout, done.stderr


def kernel_running(argv: list[str], cpus: int, **options: object) -> Kernel:
    out = os.open(os.devnull, os.O_WRONLY)
    try:
        kernel = Kernel(build_table(), Options(cpus=cpus, stdio=(0, out, 2), **options))
        kernel.spawn(argv[0].encode(), [a.encode() for a in argv], [])
        assert kernel.run() == 0
        kernel.shutdown()
    finally:
        os.close(out)
    return kernel


def test_pykerns_library_has_parallel_mode() -> None:
    assert HAS_PARALLEL, "pykern's libunicorn (make venv) runs lock-prefixed instructions as host atomics"


def test_two_threads_run_on_two_cpus(built_testbins: str) -> None:
    """threads_cpu's two threads spin: each CPU runs slices."""
    kernel = kernel_running([str(TESTBINS_DIR / "bench" / "threads_cpu"), "20", "2"], cpus=2)
    assert kernel.smp.multi
    assert all(cpu.slices > 0 for cpu in kernel.smp.cpus), [cpu.slices for cpu in kernel.smp.cpus]


def test_one_runnable_task_at_a_time_keeps_one_cpu(built_testbins: str) -> None:
    """A pipe ping-pong never has two runnable tasks: the other CPUs never come online,
    and CPU 0 runs without the kernel lock, as with --cpus 1."""
    kernel = kernel_running([str(TESTBINS_DIR / "bench" / "pipe_pingpong"), "200"], cpus=2)
    assert kernel.smp.multi and kernel.smp.onlines == 0 and kernel.smp.cpus[1].slices == 0
    assert kernel.trap.lock is None


def test_other_cpus_come_online_for_threads_and_are_offline_after_the_run(built_testbins: str) -> None:
    """Two threads spin: the second CPU comes online for them; when run() returns the
    other CPUs are offline and CPU 0 holds no lock (a detach forks pykern next, and
    pykern.run's callers go on)."""
    kernel = kernel_running([str(TESTBINS_DIR / "bench" / "threads_cpu"), "20", "2"], cpus=2)
    assert kernel.smp.onlines >= 1 and not kernel.smp.online and kernel.trap.lock is None


def test_a_pykern_bug_on_another_cpu_is_raised_by_cpu0_with_the_cpus_offline(built_testbins: str, monkeypatch) -> None:
    """A bug in kernel code on CPU 1 ends the run with that error, raised by CPU 0, and
    leaves the machine as after any run: the other CPUs offline, no lock held (a caller
    of pykern.run goes on, and reports the bug)."""
    from pykern.sched import Scheduler

    run_task = Scheduler._run_task

    def buggy(self, cpu, task):
        if cpu.index == 1:
            raise RuntimeError("injected bug on CPU 1")
        return run_task(self, cpu, task)

    monkeypatch.setattr(Scheduler, "_run_task", buggy)
    out = os.open(os.devnull, os.O_WRONLY)
    try:
        kernel = Kernel(build_table(), Options(cpus=2, stdio=(0, out, 2)))
        kernel.spawn(str(TESTBINS_DIR / "bench" / "threads_cpu").encode(), [b"threads_cpu", b"20", b"2"], [])
        with pytest.raises(RuntimeError, match="injected bug on CPU 1"):
            kernel.run()
    finally:
        os.close(out)
    smp = kernel.smp
    assert smp.onlines >= 1 and not smp.online and kernel.trap.lock is None and not smp.lock.locked()
    assert all(cpu.thread is None for cpu in smp.cpus[1:])


@pytest.mark.parametrize("options", [{"deterministic": True}, {"cpus": 1}], ids=["deterministic", "cpus1"])
def test_one_cpu_when_order_must_be_kept(options: dict, built_testbins: str) -> None:
    """--deterministic (and tracing, and --gdb) keep one CPU: their output follows one order."""
    options = {"cpus": 2, **options}
    cpus = options.pop("cpus")
    kernel = kernel_running([str(TESTBINS_DIR / "bench" / "threads_cpu"), "5", "2"], cpus=cpus, **options)
    assert not kernel.smp.multi
    assert kernel.smp.cpus[0].slices > 0


@pytest.mark.parametrize("cpus", ["1", "2"])
def test_a_quantum_ends_after_its_system_calls(cpus: str, built_testbins: str) -> None:
    """A task looping on calls that never block is preempted after QUANTUM_SYSCALLS of
    them (its quantum of instructions would last hundreds of thousands of calls): the
    child it forked runs then. With one CPU the count is exact; with two, CPU 0 brings
    the other CPU online at that quantum's end, and the parent may run a little on."""
    status, out, err = run([sys.executable, "-m", "pykern", "run", "--cpus", cpus,
                            "./testbins/pykern_only/syscall_loop"])
    assert status == 0, err.decode()
    calls = int(out.decode().rsplit(":", 1)[1])
    assert 0 < calls <= QUANTUM_SYSCALLS * (1 if cpus == "1" else 10), out.decode()


def test_the_cli_takes_cpus(built_testbins: str) -> None:
    for cpus in ("1", "2", "4"):
        status, out, err = run([sys.executable, "-m", "pykern", "run", "--cpus", cpus, "./testbins/threads"])
        assert status == 0, err.decode()
    status, _, err = run([sys.executable, "-m", "pykern", "run", "--cpus", "0", "./testbins/hello"])
    assert status == 2 and b"--cpus" in err


@pytest.mark.parametrize("name", SHARED)
def test_shared_state_matches_linux_on_two_cpus(name: str, built_testbins: str) -> None:
    """Five runs on two CPUs, each the same as the native run."""
    path = f"./testbins/{name}"
    if not (REPO_ROOT / path).exists():
        pytest.fail(f"{path} is not built")
    native = run([path])
    for attempt in range(5):
        under = run([sys.executable, "-m", "pykern", "run", "--cpus", "2", path])
        assert under == native, f"run {attempt + 1}: {under[2].decode()[-2000:]}"
