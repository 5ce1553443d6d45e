"""Code written through one mapping and run through another (pykern.codealias): the
testbins jit_alias and smp_jit_alias compare with Linux in test_testbins and test_smp;
here, what only pykern shows: the guard's bookkeeping ends with the mappings, and an
instruction that stores into its own page through the other view still runs."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO_ROOT, TESTBINS_DIR
from pykern.kernel import Kernel, Options
from pykern.syscalls.table import build_table

TIMEOUT = 120


def test_the_guards_go_with_the_mappings(built_testbins: str) -> None:
    """jit_alias maps memory twice in four ways and in a fork; once every process is
    gone, no view is left registered, no page guarded, and no MM that had guarded pages
    went to the pool (its Unicorn protections were not its VMAs')."""
    out = os.open(os.devnull, os.O_WRONLY)
    try:
        kernel = Kernel(build_table(), Options(stdio=(0, out, 2)))
        kernel.spawn(str(TESTBINS_DIR / "jit_alias").encode(), [b"jit_alias"], [])
        assert kernel.run() == 0
        kernel.shutdown()
    finally:
        os.close(out)
    aliases = kernel.mm_pool.code_aliases
    assert aliases.views == {} and aliases.guarded == {} and aliases.code == set()
    assert not any(mm.aliases_ever for mm in kernel.mm_pool.free)


def test_an_instruction_that_stores_into_its_own_page_runs(built_testbins: str) -> None:
    """No state of the guard lets one instruction fetch from a page and store into it
    through another view: pykern leaves that page unguarded, says so once, and the
    program ends as natively."""
    prog = str(TESTBINS_DIR / "pykern_only" / "jit_self_store")
    native = subprocess.run([prog], capture_output=True, timeout=TIMEOUT, check=False)
    under = subprocess.run([sys.executable, "-m", "pykern", "run", prog], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, check=False)
    assert (under.returncode, under.stdout) == (native.returncode, native.stdout) == (0, b"returned 7, stored 0x5a\n")
    assert under.stderr.decode().count("writes its own page through another mapping") == 1
