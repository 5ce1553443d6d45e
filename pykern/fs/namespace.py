"""The mounts a guest starts with (Linux's init/do_mounts.c plus what systemd and udev
mount): the host's tree at `/` (or `--root DIR`), procfs at /proc, devfs at /dev with a
tmpfs at /dev/shm, and the user's `--mount HOST:GUEST[:ro]` bind mounts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from pykern.errors import SysError
from pykern.fs.devfs import DevFS
from pykern.fs.devpts import add_to_dev
from pykern.fs.hostfs import HostFS
from pykern.fs.mount import Location, MountTable
from pykern.fs.namei import Walk, walk_from
from pykern.fs.procfs import ProcFS
from pykern.fs.tmpfs import TmpFS
from pykern.ipc import ipc_namespace

if TYPE_CHECKING:
    from pykern.kernel import Kernel


class Bind(NamedTuple):
    """--mount HOST:GUEST[:ro]"""

    host: str
    guest: str
    readonly: bool = False

    @classmethod
    def parse(cls, text: str) -> Bind:
        parts = text.split(":")
        if len(parts) == 3 and parts[2] in ("ro", "rw"):
            return cls(parts[0], parts[1], parts[2] == "ro")
        if len(parts) == 2 and parts[0] and parts[1].startswith("/"):
            return cls(parts[0], parts[1])
        raise ValueError(f"--mount wants HOST:GUEST[:ro] with an absolute GUEST, got {text!r}")


def initial_mounts(kernel: Kernel, root: str = "/", binds: tuple[Bind, ...] = ()) -> MountTable:
    """The guest's mount table. Raises ValueError with a message for a bad --root or
    --mount (a missing directory, a guest path that is not a directory)."""
    try:
        host = HostFS(root)
    except SysError:
        raise ValueError(f"--root {root}: not a directory") from None
    mounts = MountTable(host)
    if host.nodev:
        mounts.root.options = "nodev"
    top = mounts.root_location()
    proc = ProcFS(kernel)
    mounts.attach(top, b"proc", proc, options="rw,nosuid,nodev,noexec,relatime")
    dev = DevFS()
    devmount = mounts.attach(top, b"dev", dev, options="rw,nosuid,relatime,mode=755")
    mounts.attach(Location(devmount, dev.root()), b"shm", TmpFS(), options="rw,nosuid,nodev")
    mounts.attach(Location(devmount, dev.root()), b"mqueue", ipc_namespace(kernel).mqueue,
                  options="rw,nosuid,nodev,noexec,relatime")
    add_to_dev(dev.root())  # /dev/ptmx and /dev/tty are the tty layer's (pykern.tty)
    mounts.attach(Location(devmount, dev.root()), b"pts", kernel.ttys.devpts,
                  options="rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000")
    if kernel.options.deterministic:  # their inodes' times: boot, on the virtual clock
        for fs in (proc, dev, kernel.ttys.devpts):
            fs.created_ns = kernel.clock.realtime_ns()
    for bind in binds:
        try:
            source = HostFS(bind.host)
        except SysError:
            raise ValueError(f"--mount {bind.host}: not a directory") from None
        parent, name = _mount_point(mounts, bind.guest)
        mounts.attach(parent, name, source, readonly=bind.readonly, options="nodev,bind")
    return mounts


def _mount_point(mounts: MountTable, guest: str) -> tuple[Location, bytes]:
    """Where --mount's GUEST goes: an existing directory (a symlink to one is followed,
    as mount(8) does), or a missing name in an existing directory (pykern needs no
    directory to mount on). ValueError for "/", a file, or a missing directory."""
    top = mounts.root_location()
    path = os.fsencode(os.path.normpath(guest))
    try:
        found = walk_from(Walk(None, top, mounts), top, path, allow_missing=True)
    except SysError:
        raise ValueError(f"--mount {guest}: its directory does not exist in the guest") from None
    if found.location is not None and not found.location.inode.is_dir:
        raise ValueError(f"--mount {guest}: not a directory in the guest")
    if found.parent is None or found.file is not None:
        raise ValueError(f"--mount {guest}: cannot mount on the guest's /")
    return found.parent, found.name


def initial_cwd(mounts: MountTable, root: str, here: str) -> Location:
    """Where the first process starts: the host directory `here` (where pykern was
    started), when the guest can see it (always without --root), else the guest's /."""
    top = mounts.root_location()
    here = os.path.abspath(here)
    host_root = os.path.realpath(root)
    if host_root != "/":
        if here != host_root and not here.startswith(host_root + "/"):
            return top
        here = here[len(host_root) :] or "/"
    try:
        found = walk_from(Walk(None, top, mounts), top, os.fsencode(here))
        location = found.existing()
        return location if location.inode.is_dir else top
    except SysError:
        return top
