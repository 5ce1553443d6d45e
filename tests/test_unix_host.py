"""A guest connecting to a host daemon's Unix socket (pykern.af_unix's host connections).

A server in this test process (a thread) listens on a path in a temporary directory;
`unix_sockets connect PATH` runs natively and under pykern and must print the same: the
reply to its line, the peer's name, SO_PEERCRED's uid, and the EOF after its half-close.
The server answers only after a pause, so the guest's read sleeps on the host fd.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import REPO_ROOT, TESTBINS_DIR

TIMEOUT = 60


def serve_once(path: Path, seen: list[bytes]) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def run() -> None:
        with server:
            server.settimeout(TIMEOUT)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                data = conn.recv(100)
                time.sleep(0.2)
                conn.sendall(b"host got: " + data)
                seen.append(conn.recv(100))  # b"": the guest's shutdown(SHUT_WR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run_client(command: list[str], path: Path) -> tuple[subprocess.CompletedProcess, list[bytes]]:
    seen: list[bytes] = []
    thread = serve_once(path, seen)
    done = subprocess.run([*command, str(TESTBINS_DIR / "unix_sockets"), "connect", str(path)], cwd=REPO_ROOT,
                          capture_output=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    thread.join(TIMEOUT)
    path.unlink()
    return done, seen


def test_guest_connects_to_a_host_socket(tmp_path: Path, built_testbins: str) -> None:
    path = tmp_path / "daemon.sock"
    native, native_seen = run_client([], path)
    emulated, emulated_seen = run_client([sys.executable, "-m", "pykern", "run"], path)
    assert native.returncode == 0, native.stdout + native.stderr
    assert native.stdout == (b"peer is the path\npeer uid is ours\nreply: host got: hello from the guest\n"
                             b"then 0\n")
    assert (emulated.returncode, emulated.stdout, emulated.stderr) == (0, native.stdout, b"")
    assert native_seen == emulated_seen == [b""]


def test_host_socket_nobody_listens_on(tmp_path: Path, built_testbins: str) -> None:
    """A socket node whose host socket is closed: ECONNREFUSED from the host, as natively."""
    path = tmp_path / "gone.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    for command in ([], [sys.executable, "-m", "pykern", "run"]):
        done = subprocess.run([*command, str(TESTBINS_DIR / "unix_sockets"), "connect", str(path)], cwd=REPO_ROOT,
                              capture_output=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        assert (done.returncode, done.stdout, done.stderr) == (1, b"connect: Connection refused\n", b"")
