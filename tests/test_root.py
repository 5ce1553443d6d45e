"""`pykern run --root DIR` and `--mount HOST:GUEST[:ro]`: the guest's tree is DIR, and
no path can name a host file outside it (pykern only: there is no native oracle).

Each test builds a small tree in a temporary directory with a static busybox in it and
runs shell commands there under pykern. The escapes tried: absolute symlinks (to the
tree's own /etc and to the host's), `..` at the root, /proc/self/root and /proc/self/cwd,
a directory fd on the root's parent, rename and link to "../../x". A file planted next
to DIR (in its parent) must never be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

BUSYBOX = shutil.which("busybox")
TIMEOUT = 60
needs_busybox = pytest.mark.skipif(
    BUSYBOX is None or "statically linked" not in subprocess.run(
        ["file", "-L", BUSYBOX or "/"], capture_output=True, text=True, check=False).stdout,
    reason="needs a static busybox (Debian's busybox-static)")


def make_tree(tmp_path: Path) -> Path:
    """DIR = tmp_path/root with bin/busybox, etc/marker, a dir, and symlinks that would
    escape if they were resolved by the host; tmp_path/outside is the file that must
    stay out of reach."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    (root / "etc").mkdir()
    (root / "etc" / "marker").write_text("guest marker\n")
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "abs-marker").symlink_to("/etc/marker")
    (root / "host-passwd").symlink_to("/etc/passwd")
    (root / "up-outside").symlink_to("../../../../outside")
    (root / "sub" / "abs-outside").symlink_to(str(tmp_path / "outside"))
    (tmp_path / "outside").write_text("host secret\n")
    return root


def guest(root: Path, script: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pykern", "run", "--root", str(root), *options,
                           "/bin/busybox", "sh", "-c", script],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False, env={"PATH": "/bin", "LC_ALL": "C"})


@needs_busybox
def test_absolute_symlinks_resolve_inside(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = guest(root, "cat /abs-marker; cat /host-passwd; cat /up-outside; cat /sub/abs-outside; "
                       "cd /sub && cat ../abs-marker")
    assert done.stdout == "guest marker\nguest marker\n"
    assert "host secret" not in done.stdout and "root:" not in done.stdout
    assert done.stderr.count("No such file or directory") == 3, done.stderr


@needs_busybox
def test_dotdot_at_the_root_stays(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = guest(root, "cd /..; pwd; cd ../../..; pwd; cat /../../outside /../../etc/marker; "
                       "cd /sub/deeper && cd ../../../.. && pwd; "
                       "stat -c %i / /.. /../.. /sub/../..; echo listing; ls /../../..")
    lines = done.stdout.splitlines()
    assert lines[:4] == ["/", "/", "guest marker", "/"], done.stdout + done.stderr
    assert len(set(lines[4:8])) == 1 and lines[8] == "listing", done.stdout  # one inode: the root's
    # the mount points on names DIR lacks are listed too, as on Linux
    assert lines[9:] == ["abs-marker", "bin", "dev", "etc", "host-passwd", "proc", "sub", "up-outside"], done.stdout
    assert "host secret" not in done.stdout and "outside" in done.stderr


@needs_busybox
def test_proc_self_root_and_cwd_do_not_lead_out(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = guest(root, "readlink /proc/self/root; cd /sub; readlink /proc/self/cwd; "
                       "cat /proc/self/root/../outside; cat /proc/self/cwd/../../../outside; "
                       "ls /proc/self/root/..; cat /proc/self/cwd/../../etc/marker")
    lines = done.stdout.splitlines()
    assert lines[:2] == ["/", "/sub"], done.stdout + done.stderr
    assert "host secret" not in done.stdout
    assert "up-outside" in lines and lines[-1] == "guest marker"


@needs_busybox
def test_rename_and_link_stay_inside(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = guest(root, "cd /sub/deeper && echo moved > a && echo linked > b && mv a ../../../../x "
                       "&& ln b ../../../../y && ln -s target ../../../../z && mkdir ../../../../w && "
                       "cat /x /y && ls /")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("moved\nlinked\n")
    for name in "xyzw":
        assert os.path.lexists(root / name), name
        assert not os.path.lexists(tmp_path / name), name


@needs_busybox
def test_host_symlink_planted_in_the_tree_is_followed_inside(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    (root / "etc" / "passwd").write_text("guest passwd\n")
    done = guest(root, "cat /host-passwd; cd /sub; cat abs-outside; ls -d /etc/../..")
    assert done.stdout.splitlines()[:1] == ["guest passwd"]
    assert "host secret" not in done.stdout


@needs_busybox
def test_read_only_mount(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    shared = tmp_path / "shared"
    (shared / "dir").mkdir(parents=True)
    (shared / "file").write_text("original\n")
    script = ("cat /ro/file; echo new > /ro/new; echo more >> /ro/file; rm /ro/file; mkdir /ro/d; "
              "rmdir /ro/dir; chmod 600 /ro/file; touch /ro/file; mv /ro/file /ro/renamed; ln -s x /ro/l; "
              "ln /ro/file /ro/hard; mkfifo /ro/fifo; truncate -s 0 /ro/file; "
              "mv /ro/file /tmpdir/file; echo status $?")
    done = guest(root, script, "--mount", f"{shared}:/ro:ro", "--mount", f"{tmp_path / 'rw'}:/tmpdir")
    assert done.returncode == 2  # --mount of a missing host directory
    assert done.stderr.startswith("pykern: --mount") and "Traceback" not in done.stderr
    (tmp_path / "rw").mkdir()
    done = guest(root, script, "--mount", f"{shared}:/ro:ro", "--mount", f"{tmp_path / 'rw'}:/tmpdir")
    assert done.stdout.splitlines() == ["original", "status 1"], done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("pykern: warning")]
    assert len(errors) == 13, done.stderr
    # the last: mv copies across mounts (rename is EXDEV), then cannot remove the source
    assert all("Read-only file system" in line for line in errors), done.stderr
    assert sorted(os.listdir(shared)) == ["dir", "file"]
    assert (shared / "file").read_text() == "original\n"
    assert oct((shared / "file").stat().st_mode & 0o777) != oct(0o600)


@needs_busybox
def test_read_write_mount(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "file").write_text("original\n")
    done = guest(root, "echo more >> /data/file; mkdir /data/d; echo x > /data/d/new; "
                       "mv /data/d/new /data/moved; rm /data/file; ls /data; "
                       "cd /data/d && cd ../../.. && pwd && cat ../outside",
                 "--mount", f"{shared}:/data")
    assert done.stdout.splitlines() == ["d", "moved", "/"], done.stdout + done.stderr
    assert sorted(os.listdir(shared)) == ["d", "moved"]
    assert (shared / "moved").read_text() == "x\n"


@needs_busybox
def test_dev_lists_only_pykerns_devices(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    done = guest(root, "ls /dev; ls /dev/fd/; cat /dev/sda /dev/mem /dev/kmsg")
    names = set(done.stdout.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout", "stderr", "shm"} <= names
    known = {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout", "stderr", "shm", "pts",
             "ptmx", "0", "1", "2", "3"}
    assert names <= known, names - known
    assert done.stderr.count("No such file or directory") == 3


@pytest.mark.parametrize("options", [
    ["--root", "/nonexistent-pykern-root"],
    ["--root", "/etc/passwd"],
    ["--mount", "/nonexistent-pykern-dir:/x"],
    ["--mount", "/etc/passwd:/x"],
    ["--mount", "/tmp:/missing-pykern-dir/x"],
    ["--mount", "/tmp:/etc/passwd"],
    ["--mount", "/tmp:/"],
    ["--mount", "/tmp:relative"],
    ["--mount", "junk"],
    ["--mount", "/tmp:/x:sideways"],
])
def test_bad_root_or_mount_is_one_line(options: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "pykern", "run", *options, "/bin/true"], cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("pykern: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


@needs_busybox
def test_inherited_directory_fd_does_not_open_the_jail(tmp_path: Path) -> None:
    """A host directory given as stdin (DIR's parent) has no place in the guest's tree:
    the guest cannot walk from it (Linux would let a chrooted process do so)."""
    root = make_tree(tmp_path)
    parent = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # as the shell's `< DIR/..`
    try:
        done = subprocess.run([sys.executable, "-m", "pykern", "run", "--root", str(root), "/bin/busybox", "sh",
                               "-c", "cat /proc/self/fd/0/outside; cd /proc/self/fd/0 && ls; cat /dev/stdin/outside; "
                               "cat /dev/fd/0/root/etc/marker"],
                              cwd=REPO_ROOT, stdin=parent, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False, env={"PATH": "/bin", "LC_ALL": "C"})
    finally:
        os.close(parent)
    assert "host secret" not in done.stdout and "guest marker" not in done.stdout
    assert done.stdout == "", done.stdout
    assert "Traceback" not in done.stderr


def test_path_calls_over_tricky_paths_never_break_pykern(tmp_path: Path) -> None:
    """testbins/pykern_only/sysfuzz --paths, jailed by --root: every call that takes a
    path over FIFOs nobody opened, symlink loops, PATH_MAX+1 bytes, /proc/PID of a reaped
    process, /proc/self/fd/N of pipes and sockets, ... Each gets a result or an errno:
    no traceback, no child killed."""
    fuzzer = REPO_ROOT / "testbins" / "pykern_only" / "sysfuzz"
    if not fuzzer.exists():
        pytest.fail("testbins/pykern_only/sysfuzz was not built")
    jail = tmp_path / "jail"
    (jail / "work").mkdir(parents=True)
    (jail / "sysfuzz-jail").touch()
    shutil.copy(fuzzer, jail / "sysfuzz")
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--root", str(jail), "/sysfuzz", "--paths", "/work"],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                          check=False)
    assert "Traceback" not in done.stderr and "pykern bug" not in done.stderr, done.stderr[-4000:]
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.startswith("sysfuzz --paths: ") and "0 ended by a signal" in done.stdout, done.stdout
    assert sorted(os.listdir(tmp_path)) == ["jail"]  # nothing escaped the jail


@needs_busybox
def test_deep_paths_under_a_low_host_fd_limit(tmp_path: Path) -> None:
    """A path of 900 components walks with a host RLIMIT_NOFILE of 256: the host tree's
    walk holds no host fd per directory it has passed (it gave EMFILE)."""
    import resource

    root = make_tree(tmp_path)
    deep = root / "deep"
    deep.mkdir()
    os.chdir(deep)
    try:
        for _ in range(900):
            os.mkdir("a")
            os.chdir("a")
        Path("f").write_text("at the bottom\n")
    finally:
        os.chdir(REPO_ROOT)
    path = "/deep/" + "/".join(["a"] * 900)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--root", str(root), "/bin/busybox", "sh", "-c",
                           f"cat {path}/f && cd {path} && pwd | wc -c && cd ../../.. && ls"],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False, env={"PATH": "/bin", "LC_ALL": "C"}, preexec_fn=low_limit)
    assert done.stdout.splitlines() == ["at the bottom", str(len(path) + 1), "a"], done.stdout + done.stderr


def test_read_only_mount_by_path_and_by_descriptor(tmp_path: Path) -> None:
    """testbins/pykern_only/rocheck: 30 ways to change a file of a read-only mount, by
    path and by descriptor (fchmod, fchown, fsetxattr went to the host), all EROFS; a
    FIFO there still opens for writing."""
    rocheck = REPO_ROOT / "testbins" / "pykern_only" / "rocheck"
    if not rocheck.exists():
        pytest.fail("testbins/pykern_only/rocheck was not built")
    shared = tmp_path / "shared"
    (shared / "dir").mkdir(parents=True)
    (shared / "file").write_text("original\n")
    (shared / "file").chmod(0o644)
    os.mkfifo(shared / "fifo")
    done = subprocess.run([sys.executable, "-m", "pykern", "run", "--mount", f"{shared}:/mnt/pykern-ro:ro",
                           str(rocheck), "/mnt/pykern-ro"],
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    assert done.returncode == 0 and done.stdout.endswith("rocheck: all checks passed\n"), done.stdout + done.stderr
    assert sorted(os.listdir(shared)) == ["dir", "fifo", "file"]
    assert (shared / "file").read_text() == "original\n" and (shared / "file").stat().st_mode & 0o777 == 0o644
