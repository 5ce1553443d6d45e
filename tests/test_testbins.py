"""End to end: every testbin runs natively and under `pykern run`; both must agree.

The real kernel is the oracle. Each testbin runs from the repo root as ./testbins/NAME
(the same argv[0] both ways) with the same arguments, environment and stdin, and the
exit status, stdout and stderr must be identical. A native death by signal N
(returncode -N) counts as status 128+N, the shell's convention, which is what pykern's
CLI exits with when its guest is killed.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TESTBINS_DIR


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None  # None: /dev/null


# Per-testbin arguments, extra environment and stdin. Anything not listed runs bare.
CASES: dict[str, Case] = {
    "auxv": Case(args=("one", "two words", ""), env={"PYKERN_TEST_VAR": "set by test_testbins"}),
    "echoargs": Case(args=("a", "b c", "")),
    "exitcode": Case(args=("42",)),
    "shebang.sh": Case(args=("a", "b")),
    # Large enough for many reads; stdin is a host pipe, so reads may block on the host.
    "stdin_echo": Case(stdin=b"".join(b"line %d of the input\n" % i for i in range(20000))),
}

# Both runs get exactly this environment (plus the case's), so the guest sees the same stack.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}

NATIVE_TIMEOUT = 20
PYKERN_TIMEOUT = 60


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


def pykern_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pykern", *args]


def run(cmd: list[str], case: Case, timeout: float) -> Outcome:
    """Run cmd from the repo root; fail the test (not error) on a timeout."""
    try:
        done = subprocess.run(
            cmd,
            check=False,
            cwd=REPO_ROOT,
            env={**BASE_ENV, **case.env},
            input=case.stdin,
            stdin=subprocess.DEVNULL if case.stdin is None else None,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(
            f"timed out after {timeout} s: {cmd}\n"
            f"stdout so far:\n{decode(e.stdout)}\nstderr so far:\n{decode(e.stderr)}"
        )
    status = 128 - done.returncode if done.returncode < 0 else done.returncode
    return Outcome(status, decode(done.stdout), decode(done.stderr))


def report(argv: list[str], native: Outcome, emulated: Outcome, fields: tuple[str, ...]) -> str:
    """Both outcomes in full (long pykern stderr trimmed to its tail), differing fields first."""
    lines = [f"{' '.join(argv)}: pykern differs from native in {', '.join(fields)}"]
    for label, outcome in (("native", native), ("pykern", emulated)):
        stderr = outcome.stderr if len(outcome.stderr) < 4000 else "...\n" + outcome.stderr[-4000:]
        lines += [
            f"--- {label}: status {outcome.status}",
            f"--- {label} stdout:\n{outcome.stdout}",
            f"--- {label} stderr:\n{stderr}",
        ]
    return "\n".join(lines)


def assert_same(argv: list[str], native: Outcome, emulated: Outcome, fields: tuple[str, ...]) -> None:
    differing = tuple(f for f in fields if getattr(native, f) != getattr(emulated, f))
    if differing:
        pytest.fail(report(argv, native, emulated, differing), pytrace=False)


def decode(data: bytes | None) -> str:
    # surrogateescape keeps any byte difference visible to the comparison.
    return (data or b"").decode("utf-8", "surrogateescape")


def program(testbin: str, built_testbins: str) -> list[str]:
    path = TESTBINS_DIR / testbin
    if not path.exists():
        pytest.fail(f"testbins/{testbin} was not built; make output:\n{built_testbins}")
    return [f"./testbins/{testbin}", *CASES.get(testbin, Case()).args]


def test_native_vs_pykern(testbin: str, built_testbins: str) -> None:
    argv = program(testbin, built_testbins)
    case = CASES.get(testbin, Case())
    native = run(argv, case, NATIVE_TIMEOUT)
    emulated = run(pykern_cmd("run", *argv), case, PYKERN_TIMEOUT)
    assert_same(argv, native, emulated, ("status", "stdout", "stderr"))


def bash_status(path: str) -> int:
    done = subprocess.run(
        ["bash", "-c", path],
        check=False,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=NATIVE_TIMEOUT,
    )
    return done.returncode


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("./testbins/does-not-exist", 127, "No such file or directory"),
        ("./testbins/hello.c", 126, "Permission denied"),
    ],
    ids=["missing", "not-executable"],
)
def test_cannot_execute(path: str, status: int, message: str) -> None:
    """The CLI reports exec failures like a shell: 127 for a missing file, 126 for no permission."""
    assert (REPO_ROOT / path).exists() == (status == 126)
    assert bash_status(path) == status
    outcome = run(pykern_cmd("run", path), Case(), PYKERN_TIMEOUT)
    assert outcome.status == status
    assert message in outcome.stderr
    assert outcome.stdout == ""


def test_testbins_listed() -> None:
    """The table only names testbins that exist."""
    names = {p.stem for p in Path(TESTBINS_DIR).glob("*.c")} | {p.name for p in TESTBINS_DIR.glob("*.sh")}
    assert set(CASES) <= names
