"""-c: calls, errors and time per syscall, printed as strace's table at the end of the
run; a sink of the tracer's events (pykern.strace.events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from pykern.abi import ENOSYS
from pykern.strace.sinks import Clocks, Sink, is_error


@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    ns: int = 0


@dataclass
class SummarySink(Sink):
    """The counts per syscall name, written to `stream` as strace's table by `close`."""

    stream: TextIO | None
    clocks: Clocks = field(default_factory=Clocks)
    stats: dict[str, Stats] = field(default_factory=dict)

    def _count(self, name: str, result: int, start_ns: int) -> None:
        stats = self.stats.setdefault(name, Stats())
        stats.calls += 1
        stats.ns += self.clocks.mono_ns() - start_ns
        if is_error(result):
            stats.errors += 1

    def on_initial_exec(self, event: Any) -> None:
        self.stats.setdefault("execve", Stats()).calls += 1

    def on_syscall_exit(self, event: Any) -> None:
        self._count(event.name, event.result or 0, event.enter.start_ns)

    def on_nosys(self, event: Any) -> None:
        self._count(event.name, -ENOSYS, event.start_ns)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write(summary_table(self.stats))
            self.stream.flush()


def summary_table(stats: dict[str, Stats]) -> str:
    """strace -c's table, sorted by time (then calls, then name)."""
    total_ns = sum(s.ns for s in stats.values())
    rule = "------ ----------- ----------- --------- --------- ----------------"
    lines = ["% time     seconds  usecs/call     calls    errors syscall", rule]
    order = sorted(stats.items(), key=lambda item: (-item[1].ns, -item[1].calls, item[0]))
    for name, s in order:
        percent = 100.0 * s.ns / total_ns if total_ns else 0.0
        errors = str(s.errors) if s.errors else ""
        lines.append(f"{percent:6.2f} {s.ns / 1e9:11.6f} {s.ns // 1000 // max(s.calls, 1):11d} "
                     f"{s.calls:9d} {errors:>9} {name}")
    calls = sum(s.calls for s in stats.values())
    errors = sum(s.errors for s in stats.values())
    lines.append(rule)
    lines.append(f"{100.0 if total_ns else 0.0:6.2f} {total_ns / 1e9:11.6f} "
                 f"{total_ns // 1000 // max(calls, 1):11d} {calls:9d} {errors if errors else '':>9} total")
    return "\n".join(lines) + "\n"
