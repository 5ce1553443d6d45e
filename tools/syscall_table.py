"""Print the README's syscall support table from the registered handlers.

`python tools/syscall_table.py` prints the Markdown table; `--write README.md` puts it
between the README's markers. tests/test_readme.py checks that the README holds
exactly this text there.
"""

from __future__ import annotations

import sys

from pykern.syscalls.table import REGISTRY, build_table

BEGIN = "<!-- syscall-table:begin -->"
END = "<!-- syscall-table:end -->"


def first_line(text: str | None) -> str:
    """The docstring's first paragraph, on one line."""
    paragraph = (text or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def render() -> str:
    build_table()
    rows = ["| nr | syscall | family | notes |", "|---:|---|---|---|"]
    for entry in sorted(REGISTRY.values(), key=lambda e: e.number):
        family = entry.handler.__module__.rsplit(".", 1)[-1]
        note = entry.note or first_line(entry.handler.__doc__)
        rows.append(f"| {entry.number} | `{entry.name}` | {family} | {note.replace('|', '/')} |")
    return "\n".join(rows)


def write(path: str) -> None:
    with open(path, encoding="utf-8") as file:
        text = file.read()
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text[:start] + "\n" + render() + "\n" + text[end:])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2])
    else:
        sys.stdout.write(render() + "\n")
