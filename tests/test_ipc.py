"""System V IPC and POSIX message queues (pykern.ipc): the id tables, the sysctls that set
their limits, /proc/sysvipc as util-linux's ipcs reads it, and the strace formats.
The testbins sysv_shm, sysv_sem, sysv_msg and mqueue compare the calls with Linux."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT
from pykern import strace as st
from pykern.errors import SysError
from pykern.ipc import IPCMNI, IpcIds, _parse_ints

PYKERN = str(REPO_ROOT / ".venv" / "bin" / "pykern")


class _Perm:
    def __init__(self, key: int = 0) -> None:
        self.key = key
        self.id = -1
        self.seq = 0
        self.deleted = False


class _Obj:
    def __init__(self, key: int = 0) -> None:
        self.perm = _Perm(key)


def test_ids_cyclic_indices_and_sequence() -> None:
    """As Linux 5.x+: indices go round a window of max(in use * 3/2, 64); the sequence
    number grows when they wrap, so a removed object's id does not come back."""
    ids = IpcIds("t")
    a, b, c = _Obj(), _Obj(5), _Obj()
    assert [ids.add(o, 10) for o in (a, b, c)] == [0, 1, 2]
    ids.remove(b)
    assert ids.find_key(5) is None and ids.find_id(1) is None
    d = _Obj()
    assert ids.add(d, 10) == 3  # not index 1 again yet
    assert ids.find_id(3) is d and ids.find_index(3) is d and ids.max_index() == 3
    with pytest.raises(SysError):
        ids.add(_Obj(), 3)  # the table is full at its limit: ENOSPC
    ids = IpcIds("t")
    objects = [_Obj() for _ in range(64)]
    assert [ids.add(o, 100) for o in objects] == list(range(64))
    for obj in objects:
        ids.remove(obj)
    assert ids.add(_Obj(), 100) == IPCMNI + 0  # wrapped: index 0 with the next sequence


def test_ids_next_id() -> None:
    ids = IpcIds("t")
    ids.next_id = 7 * IPCMNI + 9
    assert ids.add(_Obj(), 10) == 7 * IPCMNI + 9 and ids.next_id == -1
    assert ids.add(_Obj(), 10) == 0  # then the cyclic allocation again


def test_sysctl_parsing() -> None:
    assert _parse_ints(b"12\n", 1, 0, 100) == [12]
    assert _parse_ints(b"1 2 3 4\n", 4, 0, 100) == [1, 2, 3, 4]
    for bad in (b"x\n", b"101", b"", b"1 2"):
        with pytest.raises(SysError):
            _parse_ints(bad, 4 if bad == b"1 2" else 1, 0, 100)


def test_strace_formats() -> None:
    assert st.ipc_key(0) == "IPC_PRIVATE" and st.ipc_key(0x5A006768) == "0x5a006768"
    assert st.ipc_get_flags(0o1000 | 0o2000 | 0o640, st.IPC_GET_BITS) == "IPC_CREAT|IPC_EXCL|0640"
    assert st.ipc_get_flags(0, st.IPC_GET_BITS) == "000"
    assert st.ipc_cmd(999, st.SHMCTL_CMDS, "SHM_???") == "IPC_64|0x2e7 /* SHM_??? */"
    assert st.ipc_cmd(14, st.SHMCTL_CMDS, "SHM_???") == "SHM_INFO"


def _run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYKERN, "run", "/bin/sh", "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.skipif(shutil.which("ipcmk") is None or shutil.which("ipcs") is None, reason="no util-linux ipc tools")
def test_ipcs_reads_proc_sysvipc() -> None:
    """ipcmk makes one object of each kind; ipcs lists them from /proc/sysvipc."""
    done = _run("ipcmk -M 8192 >/dev/null && ipcmk -Q >/dev/null && ipcmk -S 3 >/dev/null && ipcs")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^0x[0-9a-f]{8} 0 +root +644 +8192 +0", done.stdout, re.M), done.stdout
    assert re.search(r"^0x[0-9a-f]{8} 0 +root +644 +0 +0", done.stdout, re.M), done.stdout
    assert re.search(r"^0x[0-9a-f]{8} 0 +root +644 +3", done.stdout, re.M), done.stdout


@pytest.mark.skipif(shutil.which("ipcmk") is None, reason="no util-linux ipcmk")
def test_msgmni_limits_queues() -> None:
    """A write to /proc/sys/kernel/msgmni is the limit msgget enforces (ENOSPC)."""
    done = _run("echo 2 > /proc/sys/kernel/msgmni && cat /proc/sys/kernel/msgmni && ipcmk -Q && ipcmk -Q && ipcmk -Q")
    assert done.returncode != 0
    assert done.stdout.splitlines()[0] == "2"
    assert done.stdout.count("Message queue id") == 2
    assert "No space left on device" in done.stderr


def test_ipc_sysctls() -> None:
    done = _run("cat /proc/sys/kernel/shmmni /proc/sys/kernel/sem /proc/sys/kernel/msgmax /proc/sys/kernel/msg_next_id"
                " /proc/sys/fs/mqueue/msg_max; echo 40000 > /proc/sys/kernel/msgmni || echo refused")
    assert done.stdout.splitlines() == ["4096", "32000\t1024000000\t500\t32000", "8192", "-1", "10", "refused"]


def test_mqueue_mounted_at_dev_mqueue() -> None:
    done = _run("grep mqueue /proc/mounts; ls -ld /dev/mqueue")
    assert done.stdout.splitlines()[0].startswith("mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime")
    assert done.stdout.splitlines()[1].startswith("drwxrwxrwt")
