"""pykern: a Linux kernel in Python that runs unmodified x86-64 ELF programs on Unicorn.

`pykern run PROG` from the shell (pykern.cli); `pykern.run(argv)` from Python (pykern.api).

In the source tree, pykern.syscalls and pykern.loader are the top-level folders
syscalls/ and loader/ (pyproject.toml's package-dir). An installed wheel has them inside
this package; run from the source tree (`make venv`'s editable install is the repo root
as a path entry, or the repo root as the current directory) they are found through the
tree's root, added here to this package's path. (setuptools' default editable install
instead adds an import hook to every Python start-up in the venv, about 11 ms.)
"""

import os as _os

_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "syscalls")) and _os.path.isfile(
        _os.path.join(_root, "syscalls", "__init__.py")):
    __path__.append(_root)
del _os, _root


def __getattr__(name: str) -> object:
    """pykern.run, pykern.Result, pykern.GuestFailed (pykern.api), imported on first use
    so that `pykern run`'s start-up does not pay for them."""
    if name in ("run", "Result", "GuestFailed"):
        from pykern import api

        return getattr(api, name)
    raise AttributeError(f"module 'pykern' has no attribute {name!r}")
