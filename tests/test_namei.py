"""The path walk (pykern.fs.namei) over a mount table, without Unicorn: relative and
absolute paths, dirfds, `..` that cannot leave the root, symlinks inside the root,
ELOOP, ENAMETOOLONG, trailing slashes, mount crossings, d_path and the host file
system's namespace operations."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from pykern import abi
from pykern.abi import AT_FDCWD, EEXIST, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, O_DIRECTORY, O_RDONLY
from pykern.errors import SysError
from pykern.fs.fdtable import FdTable
from pykern.fs.fs_struct import FsContext
from pykern.fs.hostfs import HostFS
from pykern.fs.mount import MountTable
from pykern.fs.namei import d_path, path_walk
from pykern.fs.tmpfs import TmpFS
from pykern.task import Task


def errno_of(excinfo: pytest.ExceptionInfo) -> int:
    return excinfo.value.errno


def make_task(root: str, cwd: str = "/") -> SimpleNamespace:
    """A stand-in for a Task: what the walk reads (fs, files, mounts, creds)."""
    mounts = MountTable(HostFS(root))
    top = mounts.root_location()
    kernel = SimpleNamespace(mounts=mounts, fifos={})
    creds = SimpleNamespace(uid=0, euid=0, gid=0, egid=0)
    group = SimpleNamespace(fs=FsContext(top, top, 0o022), files=FdTable(), creds=creds, tgid=7)
    task = SimpleNamespace(kernel=kernel, group=group, restart_block=None)
    task.restart_state = lambda: Task.restart_state(task)
    group.fs.cwd = path_walk(task, AT_FDCWD, cwd.encode()).existing()
    return task


def where(task: SimpleNamespace, path: bytes, dirfd: int = AT_FDCWD, follow: bool = True) -> bytes:
    found = path_walk(task, dirfd, path, follow)
    return d_path(found.existing(), task.group.fs.root)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    (tmp_path / "file").write_text("y")
    os.symlink("/a/b", tmp_path / "abs")  # absolute: inside the guest's root
    os.symlink("a/b/f", tmp_path / "rel")
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    os.symlink("../../../../../../a", tmp_path / "up")
    os.symlink("../../../../../../etc/passwd", tmp_path / "passwd")
    return tmp_path


def test_relative_absolute_and_dotdot(tree) -> None:
    task = make_task(str(tree), "/a")
    assert where(task, b"b/f") == b"/a/b/f"
    assert where(task, b"/a/./b/../b/f") == b"/a/b/f"
    assert where(task, b"..") == b"/"
    assert where(task, b"/../../..") == b"/"  # `..` at the root stays at the root
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"")
    assert errno_of(excinfo) == ENOENT


def test_symlinks_resolve_inside_the_root(tree) -> None:
    task = make_task(str(tree))
    assert where(task, b"/abs/f") == b"/a/b/f"  # /a/b of the guest, not of the host
    assert where(task, b"/rel") == b"/a/b/f"
    assert where(task, b"/rel", follow=False) == b"/rel"
    assert where(task, b"/up") == b"/a"  # ../../.. cannot leave --root
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/passwd")  # the guest's /etc/passwd: there is none
    assert errno_of(excinfo) == ENOENT
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/loop1")
    assert errno_of(excinfo) == ELOOP


def test_limits_and_trailing_slash(tree) -> None:
    task = make_task(str(tree))
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/" + b"x" * 256)
    assert errno_of(excinfo) == ENAMETOOLONG
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"a/" * 2048)
    assert errno_of(excinfo) == ENAMETOOLONG
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/file/")
    assert errno_of(excinfo) == ENOTDIR
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/file/x")
    assert errno_of(excinfo) == ENOTDIR
    assert where(task, b"/abs/") == b"/a/b"  # a link to a directory, with a slash: followed


def test_dirfd_follows_the_directory_not_its_name(tree) -> None:
    task = make_task(str(tree))
    found = path_walk(task, AT_FDCWD, b"/a/b")
    file = found.inode.open(task, O_RDONLY | O_DIRECTORY)
    file.location = found.location
    dirfd = task.group.files.install(file)
    os.rename(tree / "a" / "b", tree / "a" / "c")
    assert path_walk(task, dirfd, b"f").existing().inode.stat().size == 1
    assert where(task, b"f", dirfd) == b"/a/c/f"
    with pytest.raises(SysError) as excinfo:
        path_walk(task, 99, b"f")
    assert errno_of(excinfo) == abi.EBADF
    task.group.files.close_all()


def test_mounts_are_crossed_both_ways(tree) -> None:
    task = make_task(str(tree))
    mounts = task.kernel.mounts
    shm = TmpFS()
    mounts.attach(path_walk(task, AT_FDCWD, b"/a").existing(), b"b", shm)  # hides the host's a/b
    mounted = path_walk(task, AT_FDCWD, b"/a/b").existing()
    assert mounted.mount.fs is shm
    with pytest.raises(SysError) as excinfo:
        path_walk(task, AT_FDCWD, b"/a/b/f")
    assert errno_of(excinfo) == ENOENT
    assert where(task, b"/a/b/..") == b"/a"
    mounts.attach(mounts.root_location(), b"nothere", TmpFS())  # no such host entry: still a mount
    assert where(task, b"/nothere") == b"/nothere"


def test_namespace_operations_through_the_walk(tree) -> None:
    task = make_task(str(tree))
    found = path_walk(task, AT_FDCWD, b"/new", allow_missing=True)
    assert found.location is None
    parent, name = found.entry()
    parent.inode.mkdir(task, name, 0o777)
    assert os.stat(tree / "new").st_mode & 0o777 == 0o755  # the guest's umask
    file = path_walk(task, AT_FDCWD, b"/file").existing()
    with pytest.raises(SysError) as excinfo:
        parent.inode.rename(task, b"file", parent.inode, b"rel", abi.RENAME_NOREPLACE)
    assert errno_of(excinfo) == EEXIST
    parent.inode.link(task, b"hard", path_walk(task, AT_FDCWD, b"/rel").existing().inode)
    assert not os.path.islink(tree / "hard")
    parent.inode.link(task, b"hard2", path_walk(task, AT_FDCWD, b"/rel", follow=False).existing().inode)
    assert os.path.islink(tree / "hard2")
    file.inode.access(task, abi.R_OK, False, True)
    with pytest.raises(SysError) as excinfo:
        file.inode.access(task, abi.X_OK, False, True)
    assert errno_of(excinfo) == abi.EACCES
