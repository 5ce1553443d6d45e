"""A mutating fuzzer over the ELF header and program headers of a small static testbin.

Each mutant (fields set to boundary values or random ones, bit flips, truncation) runs
under `pykern run` in a subprocess with a timeout. pykern must never print a Python
traceback: it refuses the file with a clear message and 126/127, or it runs the guest,
which exits or dies of a signal as it would on Linux. The loader-level fuzz in
test_loader.py checks plans; this checks the whole path (exec, mapping, the first
instructions) end to end.

The normal suite runs a few dozen derandomized examples; `make soak` (tools/soak.py)
runs many more with fresh randomness: SOAK_ELF_EXAMPLES sets the number.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import REPO_ROOT, TESTBINS_DIR  # noqa: E402

SOAK_EXAMPLES = int(os.environ.get("SOAK_ELF_EXAMPLES") or 0)
EXAMPLES = SOAK_EXAMPLES or 30
GUEST_TIMEOUT = 5  # pykern's own --timeout: a mutant that loops ends with 124
RUN_TIMEOUT = 60
BUG_MARKERS = ("Traceback (most recent call last)", "pykern bug")

# (offset, struct format) of every ELF64 header field (elf(5)); e_ident's bytes one by one.
EHDR_FIELDS = [(i, "<B") for i in range(4, 16)] + [
    (16, "<H"), (18, "<H"), (20, "<I"), (24, "<Q"), (32, "<Q"), (40, "<Q"), (48, "<I"),
    (52, "<H"), (54, "<H"), (56, "<H"), (58, "<H"), (60, "<H"), (62, "<H"),
]  # fmt: skip
# Offsets within one Elf64_Phdr: p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz,
# p_memsz, p_align.
PHDR_FIELDS = [(0, "<I"), (4, "<I"), (8, "<Q"), (16, "<Q"), (24, "<Q"), (32, "<Q"), (40, "<Q"), (48, "<Q")]


def program() -> bytes:
    path = TESTBINS_DIR / "exitcode"
    if not path.exists():
        subprocess.run(["make", "testbins/exitcode"], cwd=REPO_ROOT, capture_output=True, timeout=120, check=False)
    if not path.exists():
        pytest.fail("testbins/exitcode was not built")
    return path.read_bytes()


ORIGINAL = program() if (TESTBINS_DIR / "exitcode").exists() else b""
PHOFF = struct.unpack_from("<Q", ORIGINAL, 32)[0] if ORIGINAL else 64
PHNUM = struct.unpack_from("<H", ORIGINAL, 56)[0] if ORIGINAL else 1


def boundary_values(size: int) -> list[int]:
    top = (1 << (8 * size)) - 1
    return [0, 1, 2, 0x7F, 0x80, 0xFF, 0x1000 & top, 0xFFF & top, top >> 1, (top >> 1) + 1, top - 1, top]


@st.composite
def mutation(draw: st.DrawFn) -> tuple:
    kind = draw(st.sampled_from(["ehdr", "phdr", "flip", "truncate"]))
    if kind == "truncate":
        return ("truncate", draw(st.one_of(st.integers(0, PHOFF + 56 * PHNUM + 64), st.integers(0, len(ORIGINAL)))))
    if kind == "flip":
        return ("flip", draw(st.integers(0, (PHOFF + 56 * PHNUM) * 8 - 1)))
    if kind == "ehdr":
        offset, fmt = draw(st.sampled_from(EHDR_FIELDS))
    else:
        index = draw(st.integers(0, PHNUM - 1))
        field_offset, fmt = draw(st.sampled_from(PHDR_FIELDS))
        offset = PHOFF + 56 * index + field_offset
    size = struct.calcsize(fmt)
    original = struct.unpack_from(fmt, ORIGINAL, offset)[0]
    top = (1 << (8 * size)) - 1
    value = draw(
        st.one_of(
            st.sampled_from(boundary_values(size)),
            st.sampled_from([(original + 1) & top, (original - 1) & top, (original + 0x1000) & top]),
            st.integers(0, top),
        )
    )
    return ("set", offset, fmt, value)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    out = bytearray(data)
    for m in mutations:
        if m[0] != "truncate" and (m[1] // 8 + 1 if m[0] == "flip" else m[1] + struct.calcsize(m[2])) > len(out):
            continue  # past a truncation
        if m[0] == "set":
            struct.pack_into(m[2], out, m[1], m[3])
        elif m[0] == "flip":
            out[m[1] // 8] ^= 1 << (m[1] % 8)
        else:
            del out[m[1]:]
    return bytes(out)


def run_mutant(path: Path) -> tuple[int, str]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pykern", "run", "--timeout", str(GUEST_TIMEOUT), str(path), "0"],
            cwd=path.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"pykern did not end within {RUN_TIMEOUT} s (its --timeout is {GUEST_TIMEOUT} s)")
    return done.returncode, done.stderr.decode("utf-8", "replace")


@settings(
    max_examples=EXAMPLES,
    derandomize=not SOAK_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutations=st.lists(mutation(), min_size=1, max_size=3))
def test_mutated_elf_never_a_traceback(mutations: list[tuple], tmp_path: Path) -> None:
    path = tmp_path / "mutant"
    path.write_bytes(mutate(ORIGINAL, mutations))
    path.chmod(0o755)
    status, stderr = run_mutant(path)
    assert not any(marker in stderr for marker in BUG_MARKERS), f"{mutations}: pykern failed:\n{stderr}"
    # A negative status is the guest's death by that signal: pykern ends itself the same way.
    if status in (126, 127):  # refused by pykern, or by the guest's own start-up code: say why
        assert stderr.strip(), f"{mutations}: status {status} without a message"


def test_unmutated_program_runs(tmp_path: Path) -> None:
    """The fuzzer's starting point runs: a refusal of every mutant would prove nothing."""
    path = tmp_path / "original"
    path.write_bytes(ORIGINAL)
    path.chmod(0o755)
    status, stderr = run_mutant(path)
    assert status == 0, stderr
