"""#! scripts, as fs/binfmt_script.c load_script() reads them.

Owns the parse of the first line (within BINPRM_BUF_SIZE bytes) and the argv rewrite.
Strings are decoded with surrogateescape, so any byte sequence round-trips through
script_argv(). The kernel owns opening the interpreter and the nesting limit (Linux
allows 4 levels of interpreters before ELOOP).
"""

from __future__ import annotations

from pykern.abi import EACCES, ENOEXEC

from .errors import ExecFormatError

# include/uapi/linux/binfmts.h: execve reads this many bytes of the file to decide.
BINPRM_BUF_SIZE = 256
_SPACETAB = b" \t"


def parse_shebang(data: bytes) -> tuple[str, str | None] | None:
    """(interpreter, optional argument) of a "#!" script; None if `data` is not one.

    Follows load_script() byte for byte: only spaces and tabs are blanks (a "\\r" stays in
    the name), everything after the interpreter name up to the newline, trimmed of
    spaces/tabs, is one argument, and a line with no newline within 256 bytes is cut at
    255 bytes unless the interpreter name itself would be cut (ENOEXEC). A file of just
    "#!" names the empty interpreter: Linux then opens "" relative to the cwd, a
    directory, and execve fails with EACCES.
    """
    if data[:2] != b"#!":
        return None
    buf = bytearray(data[:BINPRM_BUF_SIZE].ljust(BINPRM_BUF_SIZE, b"\0"))
    buf_end = BINPRM_BUF_SIZE - 1
    i_end = buf.find(b"\n")
    if i_end < 0:
        first = _next_non_spacetab(buf, 2, buf_end)
        if first is None:
            raise ExecFormatError(ENOEXEC, "#! line is all blanks")
        if _next_terminator(buf, first, buf_end) is None:
            raise ExecFormatError(ENOEXEC, "#! interpreter path truncated")
        i_end = buf_end
    while buf[i_end - 1] in _SPACETAB:
        i_end -= 1
    i_name = _next_non_spacetab(buf, 2, i_end)
    if i_name is None or i_name == i_end:
        raise ExecFormatError(ENOEXEC, "#! line names no interpreter")
    i_arg = None
    i_sep = _next_terminator(buf, i_name, i_end)
    if i_sep is not None and buf[i_sep] != 0:
        i_arg = _next_non_spacetab(buf, i_sep, i_end)
    buf[i_end] = 0
    if i_arg is not None:
        buf[i_sep] = 0  # type: ignore[index]  # i_sep is set whenever i_arg is
    interp = _c_string(buf, i_name)
    if not interp:
        raise ExecFormatError(EACCES, "#! names an empty interpreter")
    return interp, (_c_string(buf, i_arg) if i_arg is not None else None)


def script_argv(interp: str, optarg: str | None, script_path: str, argv: list[bytes]) -> list[bytes]:
    """load_script()'s argv: interpreter, optional argument, the script path as passed to
    execve (replacing argv[0]), then the original argv[1:]."""
    head = [interp] + ([optarg] if optarg is not None else []) + [script_path]
    return [s.encode("utf-8", "surrogateescape") for s in head] + list(argv[1:])


def _next_non_spacetab(buf: bytearray, first: int, last: int) -> int | None:
    for i in range(first, last + 1):
        if buf[i] not in _SPACETAB:
            return i
    return None


def _next_terminator(buf: bytearray, first: int, last: int) -> int | None:
    for i in range(first, last + 1):
        if buf[i] in _SPACETAB or buf[i] == 0:
            return i
    return None


def _c_string(buf: bytearray, start: int) -> str:
    end = buf.find(b"\0", start)
    return bytes(buf[start:end]).decode("utf-8", "surrogateescape")
