"""Run Linux Test Project syscall tests natively and under pykern, and compare.

    python tools/ltp.py [--src TARBALL] [--folders "open read ..."] [--jobs N]

`make ltp` runs this. The LTP source is a tarball (LTP_SRC=, default
../shared/ltp/ltp-src.tar.gz beside the repo) unpacking to ltp/; it is built statically
under build/ltp as ../shared/ltp/README.md describes (autoconf, automake, m4 and pkg-config
are installed with apt-get when missing). The build is cached: the library is rebuilt only
when the tarball changes, and each folder's own make rebuilds only what is missing.

Each test of the chosen folders of testcases/kernel/syscalls/ (LTP_FOLDERS=; the tests
and their arguments are the folder's entries in runtest/syscalls) runs from its own
folder, in a fresh TMPDIR, natively and then under `pykern run`, each with a timeout
(LTP_TIMEOUT_MUL= stretches LTP's own timeouts and ours). An LTP test's exit status is a
sum of bits: 0 passed, 1 TFAIL, 2 TBROK, 4 TWARN, 32 TCONF (not applicable). The table
gives both results, the summary line counts the tests that pass natively and under
pykern, and build/ltp-results.json keeps everything, with the first TFAIL/TBROK line of
each run.

Tests that use a block device (a loop device of their own) run one at a time after the
others; the rest run JOBS at a time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC_BESIDE_REPO = os.path.join("..", "shared", "ltp", "ltp-src.tar.gz")
BUILD = os.path.join(ROOT, "build")
LTP_DIR = os.path.join(BUILD, "ltp")
RESULTS = os.path.join(BUILD, "ltp-results.json")
PYKERN = os.path.join(ROOT, ".venv", "bin", "pykern")

# Issue 10's folders: the path walk, /proc, FIFOs, locks and the data-moving calls.
DEFAULT_FOLDERS = (
    "open openat read write stat fstat lstat readlink mknod fcntl flock sendfile splice tee "
    "copy_file_range fallocate mlock capget capset chdir getcwd rename link unlink symlink "
    "truncate dup dup2 dup3 pipe pipe2"
)

BUILD_TOOLS = {"autoconf": "autoconf", "automake": "automake", "m4": "m4", "pkg-config": "pkg-config"}
BUILD_TIMEOUT = 1800  # seconds, for each build step

# The exit status bits of tst_test.c (include/tst_res_flags.h), lowest first.
RESULT_BITS = ((1, "TFAIL"), (2, "TBROK"), (4, "TWARN"), (32, "TCONF"))
# A test's own timeout is LTP's default 30 s times LTP_TIMEOUT_MUL (plus its setup);
# ours is a margin above that, so LTP's own timeout report normally comes first.
BASE_TIMEOUT = 60
PYKERN_SLOWDOWN = 4  # pykern runs a test more slowly: its own timeout is this much longer
# Source markers of tests that need a block device of their own (tst_device).
DEVICE_MARKERS = (".needs_device", ".mount_device", ".format_device", ".all_filesystems", ".needs_rofs")


@dataclass
class Run:
    result: str  # PASS, TFAIL|TCONF, ..., TIMEOUT, SIGSEGV, ...
    status: int | None  # the exit status; None after a timeout, -N when killed by signal N
    seconds: float
    first_problem: str = ""  # the first TFAIL or TBROK line, else the first TWARN line


@dataclass
class Test:
    folder: str
    name: str  # the runtest tag
    argv: list[str]
    exclusive: bool = False
    native: Run | None = None
    pykern: Run | None = None
    notes: list[str] = field(default_factory=list)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default=os.environ.get("LTP_SRC") or default_src(), help="the LTP source tarball")
    parser.add_argument("--folders", default=os.environ.get("LTP_FOLDERS") or DEFAULT_FOLDERS,
                        help="syscall test folders, separated by spaces or commas")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("LTP_JOBS") or 2))
    parser.add_argument("--timeout-mul", type=float, default=float(os.environ.get("LTP_TIMEOUT_MUL") or 1))
    parser.add_argument("--pykern", default=PYKERN)
    parser.add_argument("--json", default=RESULTS)
    args = parser.parse_args()

    src = os.path.abspath(args.src)
    if not os.path.isfile(src):
        print(f"ltp: there is no LTP source at {src}.\n"
              "ltp: set LTP_SRC= to the LTP source tarball (it unpacks to ltp/), e.g. "
              "make ltp LTP_SRC=/path/to/ltp-src.tar.gz", file=sys.stderr)
        return 2
    if not os.access(args.pykern, os.X_OK):
        print(f"ltp: {args.pykern} is missing: run make venv first", file=sys.stderr)
        return 2
    folders = args.folders.replace(",", " ").split()
    started = time.monotonic()
    if not install_build_tools() or not build_library(src):
        return 2
    tests = []
    for folder in folders:
        built = build_folder(folder)
        if built is None:
            continue
        tests += built
    print(f"ltp: built {len(folders)} folders, {len(tests)} tests in {time.monotonic() - started:.0f} s", flush=True)
    run_all(tests, args)
    report(tests, args.json, time.monotonic() - started)
    return 0


def default_src() -> str:
    """../shared/ltp/ltp-src.tar.gz beside the repository; in a git worktree elsewhere, also
    beside the main checkout (whose .git the worktree shares)."""
    candidates = [os.path.normpath(os.path.join(ROOT, SRC_BESIDE_REPO))]
    try:
        common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=ROOT,
                                capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        common = ""
    if common:
        candidates.append(os.path.normpath(os.path.join(os.path.dirname(common), SRC_BESIDE_REPO)))
    return next((path for path in candidates if os.path.isfile(path)), candidates[0])


def sh(argv: list[str], cwd: str, what: str) -> bool:
    """Run a build step, its output shown only when it fails."""
    try:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        print(f"ltp: {what}: timed out after {BUILD_TIMEOUT} s", file=sys.stderr)
        return False
    if done.returncode != 0:
        print(f"ltp: {what} failed ({shlex.join(argv)}, exit {done.returncode}):\n"
              f"{(done.stdout + done.stderr)[-4000:]}", file=sys.stderr)
        return False
    return True


def install_build_tools() -> bool:
    missing = sorted(package for command, package in BUILD_TOOLS.items() if shutil.which(command) is None)
    if not missing:
        return True
    print(f"ltp: installing {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        if subprocess.run(argv, stdin=subprocess.DEVNULL, env=env, check=False, timeout=BUILD_TIMEOUT).returncode:
            print(f"ltp: could not install {' '.join(missing)}: install them and run again", file=sys.stderr)
            return False
    return True


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_library(src: str) -> bool:
    """Unpack, configure and build LTP's library once per tarball (stamp: build/ltp/.pykern-built)."""
    stamp = os.path.join(LTP_DIR, ".pykern-built")
    digest = file_sha256(src)
    if os.path.exists(stamp) and open(stamp).read().strip() == digest:
        return True
    print(f"ltp: unpacking and building {src} into {LTP_DIR} (static)", flush=True)
    shutil.rmtree(LTP_DIR, ignore_errors=True)
    os.makedirs(BUILD, exist_ok=True)
    if not sh(["tar", "-xzf", src, "-C", BUILD], BUILD, "unpacking"):
        return False
    if not os.path.isdir(LTP_DIR):
        print(f"ltp: {src} did not unpack to ltp/", file=sys.stderr)
        return False
    steps = ((["make", "autotools"], "make autotools"),
             (["./configure", "LDFLAGS=-static"], "configure"),
             (["make", "-C", "lib", "-j2"], "building the library"))
    for argv, what in steps:
        if not sh(argv, LTP_DIR, what):
            return False
    with open(stamp, "w") as out:
        out.write(digest + "\n")
    return True


def runtest_entries() -> dict[str, list[tuple[str, list[str]]]]:
    """runtest/syscalls: the program name -> [(tag, argv)] of the tests that run it."""
    entries: dict[str, list[tuple[str, list[str]]]] = {}
    with open(os.path.join(LTP_DIR, "runtest", "syscalls")) as runtest:
        for line in runtest:
            words = line.split("#", 1)[0].split()
            if len(words) >= 2:
                entries.setdefault(words[1], []).append((words[0], words[1:]))
    return entries


def is_elf(path: str) -> bool:
    with open(path, "rb") as candidate:
        return candidate.read(4) == b"\x7fELF"


def build_folder(folder: str) -> list[Test] | None:
    """Build one folder of testcases/kernel/syscalls; its tests, in runtest order."""
    path = os.path.join(LTP_DIR, "testcases", "kernel", "syscalls", folder)
    if not os.path.isdir(path):
        print(f"ltp: there is no folder testcases/kernel/syscalls/{folder}", file=sys.stderr)
        return None
    if not sh(["make", "-j2"], path, f"building {folder}"):
        return None
    programs = {name for name in os.listdir(path)
                if os.access(os.path.join(path, name), os.X_OK) and os.path.isfile(os.path.join(path, name))
                and is_elf(os.path.join(path, name))}
    tests = []
    for program, entries in runtest_entries().items():
        if program not in programs:
            continue
        source = os.path.join(path, program.removesuffix("_64") + ".c")
        exclusive = os.path.exists(source) and any(marker in open(source, errors="replace").read()
                                                   for marker in DEVICE_MARKERS)
        tests += [Test(folder, tag, argv, exclusive) for tag, argv in entries]
    return sorted(tests, key=lambda test: test.name)


def classify(status: int) -> str:
    if status == 0:
        return "PASS"
    if status < 0:
        return signal.Signals(-status).name if -status in signal.Signals._value2member_map_ else f"signal {-status}"
    names = [name for bit, name in RESULT_BITS if status & bit]
    other = status & ~sum(bit for bit, _ in RESULT_BITS)
    if other or not names:
        names.append(f"exit {status}")
    return "|".join(names)


def first_problem(output: str) -> str:
    """The first TFAIL or TBROK line; failing those, the first TWARN line."""
    lines = output.splitlines()
    for kinds in (("TFAIL", "TBROK"), ("TWARN",)):
        for line in lines:
            if any(kind in line for kind in kinds):
                return line.strip()
    return ""


def run_one(test: Test, under_pykern: bool, args: argparse.Namespace) -> Run:
    folder = os.path.join(LTP_DIR, "testcases", "kernel", "syscalls", test.folder)
    mul = args.timeout_mul * (PYKERN_SLOWDOWN if under_pykern else 1)
    timeout = BASE_TIMEOUT * mul + 30
    argv = ([args.pykern, "run"] if under_pykern else []) + [os.path.join(".", test.argv[0]), *test.argv[1:]]
    with tempfile.TemporaryDirectory(prefix=f"ltp-{test.name}-") as tmpdir:
        env = {"PATH": f"{folder}:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": tmpdir, "LTPROOT": LTP_DIR,
               "LTP_TIMEOUT_MUL": f"{mul:g}", "LANG": "C"}
        started = time.monotonic()
        # A session of its own: the timeout kills the test and whatever it forked.
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            return Run("TIMEOUT", None, time.monotonic() - started, first_problem(output.decode(errors="replace")))
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers of a test that exited
            except ProcessLookupError:
                pass
    return Run(classify(proc.returncode), proc.returncode, time.monotonic() - started,
               first_problem(output.decode(errors="replace")))


def run_test(test: Test, args: argparse.Namespace) -> Test:
    test.native = run_one(test, False, args)
    test.pykern = run_one(test, True, args)
    mark = "ok" if test.native.result == test.pykern.result else "DIFFERS"
    print(f"  {test.folder}/{test.name}: native {test.native.result}, pykern {test.pykern.result} "
          f"({test.pykern.seconds:.1f} s) {mark}", flush=True)
    return test


def run_all(tests: list[Test], args: argparse.Namespace) -> None:
    shared = [test for test in tests if not test.exclusive]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(lambda test: run_test(test, args), shared))
    for test in tests:
        if test.exclusive:
            run_test(test, args)


def report(tests: list[Test], json_path: str, seconds: float) -> None:
    width = max([len(f"{t.folder}/{t.name}") for t in tests] + [10])
    print(f"\n{'test':<{width}}  {'native':<14}  pykern")
    for test in tests:
        print(f"{test.folder + '/' + test.name:<{width}}  {test.native.result:<14}  {test.pykern.result}")
    passing = [test for test in tests if test.native.result == "PASS"]
    both = [test for test in passing if test.pykern.result == "PASS"]
    failing = [test for test in passing if test.pykern.result != "PASS"]
    if failing:
        print("\nPass natively, not under pykern:")
        for test in failing:
            print(f"  {test.folder}/{test.name}: {test.pykern.result}: {test.pykern.first_problem or '-'}")
    summary = f"{len(both)} of {len(passing)} tests that pass natively pass under pykern"
    print(f"\n{summary} ({len(tests)} tests run, {seconds:.0f} s)")
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w") as out:
        json.dump({"summary": summary, "seconds": round(seconds, 1), "tests": [asdict(test) for test in tests]},
                  out, indent=1)
    print(f"results: {json_path}")


if __name__ == "__main__":
    sys.exit(main())
