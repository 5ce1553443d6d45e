"""`pykern run`'s start-up: the lazy syscall table imports a family at its first call, and its
map from syscall to family is the one the family modules register."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from pykern.syscalls import table as syscall_table


def test_family_map_is_what_the_families_register():
    syscall_table.build_table()
    registered: dict[str, set[str]] = {}
    for entry in syscall_table.REGISTRY.values():
        registered.setdefault(entry.handler.__module__.rsplit(".", 1)[-1], set()).add(entry.name)
    declared = {family: set(names.split()) for family, names in syscall_table.FAMILY_SYSCALLS.items()}
    assert declared == registered, "syscalls/table.py's FAMILY_SYSCALLS is stale: a syscall moved or was added"


def test_lazy_table_loads_a_family_at_its_first_call():
    from pykern.abi import SYSCALL_NUMBERS

    table, load = syscall_table.lazy_table()
    full = syscall_table.build_table()
    assert len(table) == len(full)
    number = SYSCALL_NUMBERS["getppid"]
    table[number] = None  # as before the first call
    assert load(number) is full[number] and table[number] is full[number]
    assert load(max(SYSCALL_NUMBERS.values()) + 5) is None  # no family: ENOSYS


def test_lazy_table_imports_no_family_up_front():
    code = ("import sys\nfrom pykern.syscalls.table import lazy_table\nlazy_table()\n"
            "print(sorted(m for m in sys.modules if m.startswith('pykern.syscalls.') and m != 'pykern.syscalls.table'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_plain_run_command_line_parses_as_argparse_does():
    from pykern.cli import build_parser, parse_command_line

    for argv in (["run", "p"], ["run", "./testbins/hello", "a", "b c"], ["run", "p", "-h"],
                 ["run", "p", "--strace", "x"], ["run", "p", "-E", "A=1", "-"], ["run", "p", "-x=1", ""],
                 ["run", "p", "--", "x"], ["run", "p", "a", "--", "b"], ["run", "--strace", "p"],
                 ["run", "-E", "A=1", "p", "q"]):
        assert vars(parse_command_line(argv)) == vars(build_parser().parse_args(argv)), argv


@pytest.mark.usefixtures("built_testbins")
def test_pykern_run_of_a_program_imports_no_argparse_and_no_unused_family():
    code = ("import os, sys\nfrom pykern import cli\nexit = os._exit\n"
            "def report(status):\n"
            "    sys.stdout.flush()\n"
            "    print(sorted(m for m in ('argparse', 'pykern.syscalls.socket', 'pykern.syscalls.ipc') if m in sys.modules))\n"
            "    exit(status)\n"
            "os._exit = report\nsys.argv = ['pykern', 'run', './testbins/hello']\ncli.entry()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
