"""What the tracer writes besides its lines' text: the -t/-r/-T stamps, strace's column
alignment and the -c summary table."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pykern.strace.formats import ALIGN_COLUMN


@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    ns: int = 0


def timestamp(ns: int, style: int) -> str:
    """strace's -t (1), -tt (2) and -ttt (3) line prefixes for the wall time `ns`."""
    sec, usec = divmod(ns // 1000, 1_000_000)
    if style >= 3:
        return f"{sec}.{usec:06d} "
    clock = time.strftime("%H:%M:%S", time.localtime(sec))
    return f"{clock}.{usec:06d} " if style == 2 else clock + " "


def relative_stamp(ns: int) -> str:
    """strace -r's prefix: seconds since the previous line, `     0.000123 `."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f"{sec:6d}.{usec:06d} "


def duration(ns: int) -> str:
    """strace -T's ` <0.000012>`: the time spent in the call."""
    sec, usec = divmod(max(ns, 0) // 1000, 1_000_000)
    return f" <{sec}.{usec:06d}>"


def _aligned(line: str, ret: str) -> str:
    """`line = ret` with "=" at strace's column 40 (one space after a longer line)."""
    return line.ljust(ALIGN_COLUMN) + f"= {ret}" if len(line) < ALIGN_COLUMN else line + f" = {ret}"


def exit_status_of(code: int) -> int:
    return (code & 0xFF) << 8


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
