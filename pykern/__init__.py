"""pykern: a Linux kernel in Python that runs x86-64 ELF programs on Unicorn.

`pykern run PROG` from the shell (pykern.cli); `pykern.run(argv)` from Python (pykern.api)."""


def __getattr__(name: str) -> object:
    """pykern.run, pykern.Result, pykern.GuestFailed (pykern.api), imported on first use
    so that `pykern run`'s start-up does not pay for them."""
    if name in ("run", "Result", "GuestFailed"):
        from pykern import api

        return getattr(api, name)
    raise AttributeError(f"module 'pykern' has no attribute {name!r}")
