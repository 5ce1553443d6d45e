"""/proc/sysvipc/{shm,sem,msg}: the System V IPC objects (ipc/util.c's sysvipc_proc_show
with shm.c's, sem.c's and msg.c's row formats), from pykern.ipc's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykern.abi import PAGE_SIZE
from pykern.ipc import ipc_namespace
from pykern.ipc.shm import segments

if TYPE_CHECKING:
    from pykern.kernel import Kernel

SHM_HEADER = ("       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid"
              "      atime      dtime      ctime                   rss                  swap\n")
SEM_HEADER = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
MSG_HEADER = ("       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid"
              "      stime      rtime      ctime\n")


def show_shm(kernel: Kernel) -> bytes:
    rows = [SHM_HEADER]
    for s in segments(ipc_namespace(kernel)):
        p = s.perm
        rss = s.resident_pages() * PAGE_SIZE
        rows.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o} {s.size:21d} {s.cpid:5d} {s.lpid:5d}  {s.nattch:5d} "
                    f"{p.uid:5d} {p.gid:5d} {p.cuid:5d} {p.cgid:5d} {s.atime:10d} {s.dtime:10d} {s.ctime:10d} "
                    f"{rss:21d} {0:21d}\n")
    return "".join(rows).encode()


def show_sem(kernel: Kernel) -> bytes:
    rows = [SEM_HEADER]
    for s in ipc_namespace(kernel).sem.sorted():
        p = s.perm
        rows.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o} {s.nsems:10d} {p.uid:5d} {p.gid:5d} {p.cuid:5d} "
                    f"{p.cgid:5d} {s.otime:10d} {s.ctime:10d}\n")
    return "".join(rows).encode()


def show_msg(kernel: Kernel) -> bytes:
    rows = [MSG_HEADER]
    for q in ipc_namespace(kernel).msg.sorted():
        p = q.perm
        rows.append(f"{p.key:10d} {p.id:10d}  {p.mode:4o}  {q.cbytes:10d} {q.qnum:10d} {q.lspid:5d} {q.lrpid:5d} "
                    f"{p.uid:5d} {p.gid:5d} {p.cuid:5d} {p.cgid:5d} {q.stime:10d} {q.rtime:10d} {q.ctime:10d}\n")
    return "".join(rows).encode()


SHOWS = {b"msg": show_msg, b"sem": show_sem, b"shm": show_shm}
