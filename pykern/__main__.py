"""`python -m pykern`: the same as the `pykern` console script."""

from pykern.cli import entry

entry()
