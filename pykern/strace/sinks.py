"""What a sink of the tracer's events (pykern.strace.events) is: an object with
`handle(event)` and `close()`. The Sink base class calls its `on_<event.kind>` method
for each event it has one for; a sink that takes every event overrides `handle`.

The sinks: strace's text (text), the --trace-json lines (jsonl), the -c table (summary),
the --timeline file (timeline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pykern.strace.formats import MAX_ERRNO

if TYPE_CHECKING:
    from pykern.strace.events import Event


class Sink:
    """A consumer of the tracer's events; subclasses define `on_<kind>` methods."""

    def handle(self, event: Event) -> None:
        method = getattr(self, "on_" + event.kind, None)
        if method is not None:
            method(event)

    def close(self) -> None:
        pass


@dataclass
class Clocks:
    """The trace's clocks, read by the sinks when they write: `wall_ns` for -t, `mono_ns`
    for -T, -r, -c and the JSON times (in seconds since `clock0`). The Tracer is one, and
    passes itself: tests, and --deterministic's virtual time, replace its clocks."""

    wall_ns: Callable[[], int] = time.time_ns
    mono_ns: Callable[[], int] = time.perf_counter_ns
    clock0: float = field(default_factory=lambda: time.perf_counter_ns() / 1e9)


def is_error(result: int) -> bool:
    return -MAX_ERRNO <= result < 0
