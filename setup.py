"""The build step pyproject.toml's metadata cannot say: pykern's patched libunicorn.

`pip install .` and `pip wheel .` (make wheel) put pykern's own libunicorn.so.2 — the one
`make venv` builds, tools/build_unicorn.py — into the package as pykern/_unicorn/, where
pykern.ucbind finds it first. It is copied from $PYKERN_UNICORN_LIB when that names a
built library (make wheel passes the venv's), else built here (cmake, about a minute).
The wheel is then platform-specific. An editable install (`pip install -e`, what `make
venv` does) skips this: the venv's library is found at <venv>/lib/pykern-unicorn/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

LIBRARY = "libunicorn.so.2"
HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithUnicorn(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "pykern", "_unicorn")
        os.makedirs(target, exist_ok=True)
        prebuilt = os.environ.get("PYKERN_UNICORN_LIB")
        if prebuilt:
            if not os.path.isfile(prebuilt):
                sys.exit(f"setup.py: PYKERN_UNICORN_LIB={prebuilt} is not a file")
            shutil.copy2(prebuilt, os.path.join(target, LIBRARY))
            return
        subprocess.run([sys.executable, os.path.join(HERE, "tools", "build_unicorn.py"), target], check=True,
                       timeout=3600)


class BinaryDistribution(Distribution):
    """The wheel carries a shared library: not pure Python."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildWithUnicorn}, distclass=BinaryDistribution)
