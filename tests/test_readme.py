"""The README's syscall table is the one the registered handlers produce."""

from __future__ import annotations

import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))

import syscall_table  # noqa: E402


def test_readme_syscall_table_is_current():
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index(syscall_table.BEGIN) + len(syscall_table.BEGIN)
    end = text.index(syscall_table.END)
    assert text[start:end].strip() == syscall_table.render().strip(), (
        "README syscall table is stale: run `python tools/syscall_table.py` and paste it in"
    )
