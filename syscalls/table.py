"""The syscall table: `@syscall(name, kinds...)` registers `sys_<name>` handlers.

Each family module (process, memory, file, ...) registers its handlers at import time;
`build_table()` imports them all and returns a list indexed by syscall number, the form
the trap wants (one list index per call, no lookup by name).
"""

from __future__ import annotations

from collections.abc import Callable

from pykern.abi import SYSCALL_NUMBERS
from pykern.sysent import RET_INT, Kind, SyscallEntry

REGISTRY: dict[str, SyscallEntry] = {}

FAMILIES = ("process", "memory", "file", "path", "pipe", "splice", "futex", "identity", "time", "signal", "itimer", "poll",
            "epoll", "fsinfo", "socket", "resource", "misc", "eventfiles", "posix_timer",
            "inotify", "ipc", "mqueue")


def syscall(name: str, *args: Kind, ret: Kind = RET_INT, note: str = "", classes: str = "") -> Callable:
    """Declare `name`'s argument kinds and register the decorated handler for it."""

    def register(handler: Callable[..., int]) -> Callable[..., int]:
        if name in REGISTRY:
            raise RuntimeError(f"syscall {name} registered twice")
        REGISTRY[name] = SyscallEntry(
            SYSCALL_NUMBERS[name], name, handler, args, ret, note, frozenset(classes.split())
        )
        return handler

    return register


def build_table() -> list[SyscallEntry | None]:
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"pykern.syscalls.{family}")
    table: list[SyscallEntry | None] = [None] * (max(SYSCALL_NUMBERS.values()) + 1)
    for entry in REGISTRY.values():
        table[entry.number] = entry
    return table
