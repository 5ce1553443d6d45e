"""The one way the loader says no.

Every refusal (malformed or unsupported ELF, bad script line, oversized argv/envp) is an
`ExecFormatError` carrying the guest errno execve(2) would return. The loader never lets
a parser exception (struct.error, IndexError, pyelftools' ELFError) escape.
"""

from __future__ import annotations

from pykern.abi import errno_name


class ExecFormatError(Exception):
    """execve(2) refusal: `errno` is the guest errno (ENOEXEC, EACCES, E2BIG, ...),
    `message` one clear line for the kernel log."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(errno, message)
        self.errno = errno
        self.message = message

    def __str__(self) -> str:
        return f"{errno_name(self.errno)}: {self.message}"
