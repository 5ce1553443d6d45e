"""pykern.loader: execve's pure half. Bytes in, plans and stack images out.

- `plan_elf` validates an x86-64 ELF executable and returns a LoadPlan (elf.py).
- `parse_shebang` / `script_argv` handle "#!" scripts (script.py).
- `make_auxv` / `build_stack` produce the initial stack image (stack.py).

No Unicorn, no kernel objects: every refusal is an ExecFormatError carrying the guest
errno execve(2) returns.
"""

from .elf import ET_DYN, ET_EXEC, FileCopy, LoadPlan, Mapping, plan_elf
from .errors import ExecFormatError
from .script import BINPRM_BUF_SIZE, parse_shebang, script_argv
from .stack import StackImage, build_stack, check_arg_limits, make_auxv

__all__ = [
    "BINPRM_BUF_SIZE",
    "ET_DYN",
    "ET_EXEC",
    "ExecFormatError",
    "FileCopy",
    "LoadPlan",
    "Mapping",
    "StackImage",
    "build_stack",
    "check_arg_limits",
    "make_auxv",
    "parse_shebang",
    "plan_elf",
    "script_argv",
]
