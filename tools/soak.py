"""Soak tests: long, bounded runs that look for leaks and Python tracebacks in pykern.

    python tools/soak.py [--seconds N] [--only cycles,sysfuzz,sigstorm,elf]

`make soak` runs this (SOAK_SECONDS= shortens the fuzzer's run, default 600 s). Not part
of `make test`: it takes minutes. Every guest runs in a subprocess with a timeout. The
checks:

- cycles: 1,000 fork/exec/exit cycles (busybox sh running testbins/exitcode) inside one
  `pykern run`; pykern's VmRSS and its count of open host fds, read from /proc/PID of the
  pykern process every 100 cycles, must stay flat: RSS at cycle 1000 within 5% of cycle
  100's, the fd count the same at every sample (a reaped process lets go of its host fds
  at once, pykern.exit.release_task, not when Python's cyclic GC runs). The guest waits
  on its stdin at each sample point.
- sysfuzz: testbins/pykern_only/sysfuzz --storm: several processes with several threads
  each making random syscalls with random arguments while others signal them, for the
  given time; pykern must print no Python traceback and exit with the guest's status.
- sigstorm: testbins/sigstorm with 5,000 rounds per sender (80,000 signals) (thousands of signals at threads asleep
  in futex waits, pipe reads and nanosleep), natively and under pykern: same output.
- elf: tests/test_elf_fuzz.py with 1,000 fresh hypothesis examples (SOAK_ELF_EXAMPLES=).

Exit status 0 when every check passed; each check prints one result line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYKERN = [sys.executable, "-m", "pykern", "run"]
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
# What pykern prints when its own code fails (a Python exception is a kernel bug).
BUG_MARKERS = (b"Traceback (most recent call last)", b"pykern bug", b"pykern: internal error")


def bug_lines(output: bytes) -> list[str]:
    """The lines of output that show a pykern bug, with a little context."""
    lines = output.decode("utf-8", "replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if any(marker.decode() in line for marker in BUG_MARKERS):
            found.append("\n".join(lines[i : i + 30]))
    return found


def sample(pid: int) -> tuple[int, int]:
    """(VmRSS in kB, number of open fds) of a host process."""
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def soak_cycles(cycles: int = 1000, first: int = 100) -> bool:
    """1,000 fork/exec/exit cycles in one pykern run: RSS and host fds flat."""
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        print("cycles: SKIPPED (no /bin/busybox; apt-get install busybox-static)")
        return True
    program = os.path.join(ROOT, "testbins", "exitcode")  # a static fork+exec+exit, not a shell builtin
    # The guest waits on its stdin, a host pipe (a host FIFO would not do: pykern keeps
    # FIFOs in the kernel, so a writer outside the guest never meets the guest's reader).
    script = (
        f"i=0; while [ $i -lt {cycles} ]; do {program} 0; i=$((i+1)); "
        f"case $i in *00) echo $i; read x;; esac; done; echo done"
    )
    with tempfile.TemporaryDirectory(prefix="pykern-soak-") as tmp:
        proc = subprocess.Popen(
            [*PYKERN, busybox, "sh", "-c", script],
            cwd=tmp,
            env=ENV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stderr: list[bytes] = []
        reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
        reader.start()
        samples: dict[int, tuple[int, int]] = {}
        killer = threading.Timer(900, proc.kill)
        killer.start()
        started = time.monotonic()
        try:
            for line in proc.stdout:
                text = line.decode().strip()
                if text.isdigit():
                    time.sleep(0.2)  # let the guest settle in its read
                    samples[int(text)] = sample(proc.pid)
                    proc.stdin.write(b"\n")
                    proc.stdin.flush()
            status = proc.wait()
        finally:
            killer.cancel()
            proc.kill()
        reader.join(5)
    elapsed = time.monotonic() - started
    bugs = bug_lines(b"".join(stderr))
    if status != 0 or bugs or set(samples) != set(range(first, cycles + 1, first)):
        print(f"cycles: FAILED status {status}, samples {samples}")
        for bug in bugs:
            print(bug)
        return False
    (rss1, fds1), (rss2, fds2) = samples[first], samples[cycles]
    growth = (rss2 - rss1) / rss1 * 100
    fd_counts = [samples[n][1] for n in sorted(samples)]
    ok = growth <= 5 and len(set(fd_counts)) == 1
    print(
        f"cycles: {'ok' if ok else 'FAILED'}: {cycles} fork/exec/exit cycles in {elapsed:.0f} s; "
        f"pykern RSS {rss1} kB at cycle {first}, {rss2} kB at cycle {cycles} ({growth:+.1f}%); "
        f"host fds {fds1} -> {fds2} (every 100 cycles: {' '.join(map(str, fd_counts))})"
    )
    return ok


def soak_sysfuzz(seconds: int, seed: int = 1) -> bool:
    """sysfuzz --storm for `seconds`: no pykern bug, the guest's own exit status."""
    fuzzer = os.path.join(ROOT, "testbins", "pykern_only", "sysfuzz")
    with tempfile.TemporaryDirectory(prefix="pykern-soak-") as tmp:
        try:
            done = subprocess.run(
                [*PYKERN, fuzzer, "--storm", str(seconds), str(seed), tmp, "0", "-v"],
                cwd=tmp,
                env=ENV,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=seconds + 120,
                check=False,
            )
        except subprocess.TimeoutExpired as stuck:
            lines = [line for line in (stuck.stderr or b"").decode("utf-8", "replace").splitlines()
                     if "generation" in line]
            last = lines[-1] if lines else "no generation started"
            print(f"sysfuzz: FAILED: still running {seconds + 120} s after a {seconds} s storm, seed {seed}; "
                  f"last: {last} (rerun from it: sysfuzz --storm SECONDS {seed} DIR GENERATION -v; if the "
                  f"fuzzer itself died, its orphans live on in a detached pykern holding the pipes)")
            return False
    bugs = bug_lines(done.stderr)
    summary = done.stdout.decode("utf-8", "replace").strip()
    ok = done.returncode == 0 and not bugs and summary.startswith("sysfuzz --storm: ")
    unsupported = done.stderr.count(b"warning: unsupported syscall")
    if done.returncode != 0:
        print(done.stderr.decode("utf-8", "replace")[-2000:])
    print(f"sysfuzz: {'ok' if ok else 'FAILED'}: {seconds} s, seed {seed}: {summary} "
          f"(status {done.returncode}; {unsupported} syscalls reported unsupported)")
    for bug in bugs:
        print(bug)
    return ok


def soak_sigstorm(rounds: int = 5000) -> bool:
    """testbins/sigstorm with `rounds` per sender, natively and under pykern: same output."""
    storm = os.path.join(ROOT, "testbins", "sigstorm")
    outcomes = []
    for cmd in ([storm, str(rounds)], [*PYKERN, storm, str(rounds)]):
        started = time.monotonic()
        try:
            done = subprocess.run(cmd, cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=900, check=False)
        except subprocess.TimeoutExpired:
            print(f"sigstorm: FAILED: {cmd} did not end in 900 s")
            return False
        outcomes.append((done.returncode, done.stdout, done.stderr, time.monotonic() - started))
    (native_status, native_out, _, native_time), (status, out, err, elapsed) = outcomes
    bugs = bug_lines(err)
    ok = status == native_status == 0 and out == native_out and not bugs and b"deadlock" not in err
    signals = 4 * 4 * rounds  # senders x kinds x rounds
    print(f"sigstorm: {'ok' if ok else 'FAILED'}: {signals} signals, same checks as native "
          f"(native {native_time:.1f} s, pykern {elapsed:.1f} s)")
    if not ok:
        print(out.decode("utf-8", "replace") + err.decode("utf-8", "replace")[-3000:])
    return ok


def soak_elf(examples: int = 1000) -> bool:
    """tests/test_elf_fuzz.py with `examples` fresh hypothesis examples."""
    examples = int(os.environ.get("SOAK_ELF_EXAMPLES") or examples)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests/test_elf_fuzz.py"],
            cwd=ROOT,
            env={**os.environ, "SOAK_ELF_EXAMPLES": str(examples)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=examples * 70 + 300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print("elf: FAILED: the fuzzer did not end in time")
        return False
    ok = done.returncode == 0
    print(f"elf: {'ok' if ok else 'FAILED'}: {examples} mutated ELF files run under pykern "
          f"in {time.monotonic() - started:.0f} s")
    if not ok:
        print(done.stdout.decode("utf-8", "replace")[-5000:])
    return ok


CHECKS = {"cycles": soak_cycles, "sysfuzz": soak_sysfuzz, "sigstorm": soak_sigstorm, "elf": soak_elf}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS") or 600))
    parser.add_argument("--only", default=",".join(CHECKS))
    options = parser.parse_args()
    os.chdir(ROOT)
    results = []
    for name in options.only.split(","):
        check = CHECKS[name]
        results.append(check(options.seconds) if name == "sysfuzz" else check())
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
