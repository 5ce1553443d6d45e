"""A guest talking TCP to programs outside pykern (pykern.inet's host sockets).

- A host server (Python's socketserver, in this test process) on 127.0.0.1 and ::1:
  `inet_peer connect HOST PORT` runs natively and under pykern and must print the same
  reply. The server answers only after a pause, so the guest's read sleeps on the host fd.
- The guest as the server: `inet_peer serve ADDR` prints its port, and a host client in
  this test sends lines and reads them back upper-cased.
"""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO_ROOT, TESTBINS_DIR

TIMEOUT = 60
PYKERN = [sys.executable, "-m", "pykern", "run"]


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        time.sleep(0.2)
        family = "IPv6" if self.request.family == socket.AF_INET6 else "IPv4"
        self.wfile.write(b"host got over " + family.encode() + b": " + line)
        self.wfile.write(b"eof seen: " + str(self.rfile.read() == b"").encode() + b"\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(host: str) -> Server:
    server_class = Server
    if ":" in host:
        server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6})
    server = server_class((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_guest_connects_to_a_host_server(host: str, built_testbins: str) -> None:
    server = serve(host)
    try:
        port = str(server.server_address[1])
        argv = [str(TESTBINS_DIR / "inet_peer"), "connect", host, port]
        native = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, timeout=TIMEOUT, check=False,
                                stdin=subprocess.DEVNULL)
        emulated = subprocess.run([*PYKERN, *argv], cwd=REPO_ROOT, capture_output=True, timeout=TIMEOUT,
                                  check=False, stdin=subprocess.DEVNULL)
    finally:
        server.shutdown()
        server.server_close()
    family = b"IPv6" if ":" in host else b"IPv4"
    assert native.returncode == 0, native.stderr
    assert native.stdout == b"host got over " + family + b": hello from the guest\neof seen: True\n"
    assert (emulated.returncode, emulated.stdout, emulated.stderr) == (0, native.stdout, b"")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_host_client_talks_to_a_guest_server(host: str, built_testbins: str) -> None:
    guest = subprocess.Popen([*PYKERN, str(TESTBINS_DIR / "inet_peer"), "serve", host], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert guest.stdout is not None
        first = guest.stdout.readline()
        assert first.startswith(b"port "), first + guest.stderr.read() if guest.stderr else first
        port = int(first.split()[1])
        with socket.create_connection((host, port), timeout=TIMEOUT) as client:
            replies = []
            for line in (b"one\n", b"two words\n"):
                client.sendall(line)
                time.sleep(0.05)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = client.recv(100)
                    assert chunk, "the guest closed early"
                    data += chunk
                replies.append(data)
            client.shutdown(socket.SHUT_WR)
            assert client.recv(100) == b""  # the guest saw EOF and closed
        assert replies == [b"ONE\n", b"TWO WORDS\n"]
        assert guest.wait(TIMEOUT) == 0
    finally:
        if guest.poll() is None:
            guest.kill()
            guest.wait()
