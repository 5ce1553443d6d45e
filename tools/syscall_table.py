"""Print the README's syscall support table from the registered handlers.

`python tools/syscall_table.py` writes the Markdown table; tests/test_readme.py checks
that the README holds exactly this text between its markers.
"""

from __future__ import annotations

import sys

from pykern.syscalls.table import REGISTRY, build_table

BEGIN = "<!-- syscall-table:begin -->"
END = "<!-- syscall-table:end -->"


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


def render() -> str:
    build_table()
    rows = ["| nr | syscall | family | notes |", "|---:|---|---|---|"]
    for entry in sorted(REGISTRY.values(), key=lambda e: e.number):
        family = entry.handler.__module__.rsplit(".", 1)[-1]
        note = entry.note or first_line(entry.handler.__doc__)
        rows.append(f"| {entry.number} | `{entry.name}` | {family} | {note.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(render() + "\n")
