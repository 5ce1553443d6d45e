"""The blocking contract (pykern.errors.Block, pykern.trap): a call that blocks while a
signal is pending does not sleep and is not run again before the signal is taken; it is
interrupted at once, by the restart policy its Block declared.

testbins/eintr_once makes a pipe read, a futex wait, a nanosleep and a wait4 that a
SIGALRM handler without SA_RESTART interrupts (compared with Linux in test_testbins).
Here it runs in this process with the four calls' handlers wrapped to count how often
each runs; with "inject", the wrapper also sends the signal as the call starts (as a
signal from another CPU comes while the call is being made).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

import pykern
from conftest import REPO_ROOT
from pykern.abi import SI_KERNEL, SIGALRM
from pykern.sigtypes import SigInfo
from pykern.syscalls import table as syscall_table
from pykern.sysent import SyscallEntry

INJECTED = ("read", "futex", "nanosleep", "wait4")


def _signalling(entry: SyscallEntry, runs: Counter, inject: bool) -> SyscallEntry:
    """`entry` with a handler that counts its runs and, with `inject`, on its first sends
    the task SIGALRM before the real handler runs (which then blocks with it pending)."""
    sent = not inject

    def handler(task, *args: int) -> int:  # noqa: ANN001 - a pykern.task.Task
        nonlocal sent
        runs[entry.name] += 1
        if not sent:
            sent = True
            task.kernel.signals.send(task.group, SigInfo(SIGALRM, SI_KERNEL), task)
        return entry.handler(task, *args)

    return SyscallEntry(entry.number, entry.name, handler, entry.args, entry.ret, entry.note, entry.classes)


def _table_with(runs: Counter, inject: bool = True) -> Callable[[], list[SyscallEntry | None]]:
    build = syscall_table.build_table

    def build_table() -> list[SyscallEntry | None]:
        table = build()
        for name in INJECTED:
            entry = syscall_table.REGISTRY[name]
            table[entry.number] = _signalling(entry, runs, inject)
        return table

    return build_table


@pytest.mark.usefixtures("built_testbins")
@pytest.mark.parametrize("strace", [False, True])
def test_a_blocked_call_with_a_signal_pending_runs_its_handler_once(monkeypatch: pytest.MonkeyPatch,
                                                                     strace: bool) -> None:
    runs: Counter = Counter()
    monkeypatch.setattr(syscall_table, "build_table", _table_with(runs))
    result = pykern.run(["./testbins/eintr_once", "inject"], cwd=str(REPO_ROOT), timeout=60, strace=strace)
    result.check()
    lines = result.stdout.decode().splitlines()
    for what in ("read of an empty pipe", "futex wait", "nanosleep", "wait4"):
        assert f"ok {what} ends with EINTR" in lines
    assert "ok nanosleep writes the time left" in lines
    # Each interrupted call ran once; wait4's second run is the later call that reaps.
    assert runs == {"read": 1, "futex": 1, "nanosleep": 1, "wait4": 2}
    if strace:
        entries = Counter(event["name"] for event in result.events if event["event"] == "syscall_entry")
        assert {name: entries[name] for name in INJECTED} == {"read": 1, "futex": 1, "nanosleep": 1, "wait4": 2}
        assert "read(3, 0x" in result.strace and "= ? ERESTARTSYS" in result.strace
        assert "= ? ERESTART_RESTARTBLOCK (Interrupted by signal)" in result.strace


@pytest.mark.usefixtures("built_testbins")
def test_a_sleeping_call_woken_by_a_signal_runs_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """The signal comes while the call sleeps (SIGALRM from the interval timer): the call
    runs once more, from the top (its condition may have come true meanwhile, and Linux's
    wait loop checks it before the signal), then is interrupted: two runs, never three."""
    runs: Counter = Counter()
    monkeypatch.setattr(syscall_table, "build_table", _table_with(runs, inject=False))
    result = pykern.run(["./testbins/eintr_once"], cwd=str(REPO_ROOT), timeout=60)
    result.check()
    assert runs == {"read": 2, "futex": 2, "nanosleep": 2, "wait4": 3}
