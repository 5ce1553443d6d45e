"""What a sink of the tracer's events (pykern.strace.events) is: an object with
`handle(event)` and `close()`. The Sink base class calls its `on_<event.kind>` method
for each event it has one for; a sink that takes every event overrides `handle`.

The sinks: strace's text (text), the --trace-json lines (jsonl), the -c table (summary),
the --timeline file (timeline).
"""

from __future__ import annotations

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


def is_error(result: int) -> bool:
    return -MAX_ERRNO <= result < 0


def exit_status_of(code: int) -> int:
    return (code & 0xFF) << 8
