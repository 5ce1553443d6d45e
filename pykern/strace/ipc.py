"""Decoders of System V IPC (shm, sem, msg) and POSIX message queues."""

from __future__ import annotations

import struct

from pykern import abi
from pykern.strace.calls import _fmt_array, _hex0, _s32
from pykern.strace.fdcalls import _sigevent
from pykern.strace.formats import flags, octal, ptr
from pykern.strace.kinds import KIND_FORMATTERS, SPECIAL, SPLIT_SPECIAL, fmt_arg
from pykern.strace.structs import Call, fmt_buffer

# --- System V IPC and POSIX message queues (ipc/shm.c, sem.c, msg.c, mqueue.c in strace) ---

IPC_GET_BITS = [(abi.IPC_CREAT, "IPC_CREAT"), (abi.IPC_EXCL, "IPC_EXCL"), (abi.IPC_NOWAIT, "IPC_NOWAIT")]
SHMGET_BITS = IPC_GET_BITS[:2] + [(abi.SHM_HUGETLB, "SHM_HUGETLB"), (abi.SHM_NORESERVE, "SHM_NORESERVE")]
SHMAT_BITS = [(abi.SHM_RDONLY, "SHM_RDONLY"), (abi.SHM_RND, "SHM_RND"), (abi.SHM_REMAP, "SHM_REMAP"),
              (abi.SHM_EXEC, "SHM_EXEC")]
SEMOP_BITS = [(abi.SEM_UNDO, "SEM_UNDO"), (abi.IPC_NOWAIT, "IPC_NOWAIT")]
MSG_FLAG_BITS = [(abi.MSG_NOERROR, "MSG_NOERROR"), (abi.MSG_EXCEPT, "MSG_EXCEPT"), (abi.MSG_COPY, "MSG_COPY"),
                 (abi.IPC_NOWAIT, "IPC_NOWAIT")]
IPC_CMDS = {abi.IPC_RMID: "IPC_RMID", abi.IPC_SET: "IPC_SET", abi.IPC_STAT: "IPC_STAT", abi.IPC_INFO: "IPC_INFO"}
SHMCTL_CMDS = {**IPC_CMDS, abi.SHM_LOCK: "SHM_LOCK", abi.SHM_UNLOCK: "SHM_UNLOCK", abi.SHM_STAT: "SHM_STAT",
               abi.SHM_INFO: "SHM_INFO", abi.SHM_STAT_ANY: "SHM_STAT_ANY"}
SEMCTL_CMDS = {**IPC_CMDS, abi.GETPID: "GETPID", abi.GETVAL: "GETVAL", abi.GETALL: "GETALL",
               abi.GETNCNT: "GETNCNT", abi.GETZCNT: "GETZCNT", abi.SETVAL: "SETVAL", abi.SETALL: "SETALL",
               abi.SEM_STAT: "SEM_STAT", abi.SEM_INFO: "SEM_INFO", abi.SEM_STAT_ANY: "SEM_STAT_ANY"}
MSGCTL_CMDS = {**IPC_CMDS, abi.MSG_STAT: "MSG_STAT", abi.MSG_INFO: "MSG_INFO", abi.MSG_STAT_ANY: "MSG_STAT_ANY"}


def ipc_key(value: int) -> str:
    return "IPC_PRIVATE" if value == 0 else f"{value & 0xFFFFFFFF:#x}"


def ipc_get_flags(value: int, bits: list[tuple[int, str]]) -> str:
    """IPC_CREAT|IPC_EXCL|0600: the flags, then the permission bits in octal."""
    value &= 0xFFFFFFFF
    named = flags(value & ~0o777, bits, "") if value & ~0o777 else ""
    return f"{named}|{octal(value & 0o777)}" if named else octal(value & 0o777)


def ipc_cmd(value: int, names: dict[int, str], unknown: str) -> str:
    """A ctl command: IPC_64 is shown as a flag before it."""
    value &= 0xFFFFFFFF
    prefix = "IPC_64|" if value & abi.IPC_64 else ""
    value &= ~abi.IPC_64
    return prefix + (names[value] if value in names else f"{value:#x} /* {unknown} */")


def _ipc_perm(data: bytes, full: bool) -> str:
    key, uid, gid, cuid, cgid, mode, _seq = abi.IPC64_PERM.unpack_from(data)[:7]
    mode_text = "0" + format(mode, "o") if mode else "000"
    if not full:
        return f"{{uid={uid}, gid={gid}, mode={mode_text}}}"
    return f"{{uid={uid}, gid={gid}, mode={mode_text}, key={key}, cuid={cuid}, cgid={cgid}}}"


def _sembuf(call: Call, index: int) -> str:
    addr, count = call.args[index], call.args[index + 1]
    shown = min(count, call.strsize)  # strace prints at most -s elements, then "..."
    data = call.read(addr, shown * abi.SEMBUF.size) if shown else b""
    if data is None:
        return ptr(addr)
    items = [abi.SEMBUF.unpack_from(data, i * abi.SEMBUF.size) for i in range(shown)]
    texts = [f"{{sem_num={num}, sem_op={op}, sem_flg={flags(flg & 0xFFFF, SEMOP_BITS, '0', 'SEM_???')}}}"
             for num, op, flg in items]
    return "[" + ", ".join(texts + (["..."] if count > shown else [])) + "]"


def _msgbuf(call: Call, index: int) -> str:
    """{mtype=N, mtext="..."}: msgsnd's message, or what msgrcv wrote (msgsz bytes shown)."""
    addr, size = call.args[index], call.args[index + 1]
    head = call.read(addr, 8)
    if head is None:
        return ptr(addr)
    mtype = struct.unpack("<q", head)[0]
    return f"{{mtype={mtype}, mtext={fmt_buffer(call, addr + 8, size)}}}"


def _mq_attr(call: Call, index: int) -> str:
    addr = call.args[index]
    data = call.read(addr, abi.MQ_ATTR.size) if addr else None
    if data is None:
        return ptr(addr)
    mq_flags, maxmsg, msgsize, curmsgs = abi.MQ_ATTR.unpack(data)
    shown = flags(mq_flags, [(abi.O_NONBLOCK, "O_NONBLOCK")], "0", "O_???")
    return f"{{mq_flags={shown}, mq_maxmsg={maxmsg}, mq_msgsize={msgsize}, mq_curmsgs={curmsgs}}}"


KIND_FORMATTERS.update({
    "ipc_key": lambda call, i: ipc_key(call.args[i]),
    "ipc_flags": lambda call, i: ipc_get_flags(call.args[i], IPC_GET_BITS),
    "shmget_flags": lambda call, i: ipc_get_flags(call.args[i], SHMGET_BITS),
    "shmat_flags": lambda call, i: flags(call.args[i] & 0xFFFFFFFF, SHMAT_BITS, "0", "SHM_???"),
    "msg_flags": lambda call, i: flags(call.args[i] & 0xFFFFFFFF, MSG_FLAG_BITS, "0", "MSG_???"),
    "sembuf_in": _sembuf,
    "msgbuf_in": _msgbuf,
    "msgbuf_out": _msgbuf,
    "mq_attr_in": _mq_attr,
    "mq_attr_out": _mq_attr,
    "mq_msg_out": lambda call, i: fmt_buffer(call, call.args[i], call.result or 0),
    "uint_out": lambda call, i: _fmt_array(call, call.args[i], 1, 4) if call.args[i] else "NULL",
    "sigevent_in": lambda call, i: _sigevent(call, call.args[i]),
})


def _shmctl_args(call: Call) -> list[str]:
    shmid, cmd, addr = _s32(call.args[0]), call.args[1] & 0xFFFFFFFF & ~abi.IPC_64, call.args[2]
    head = [str(shmid), ipc_cmd(call.args[1], SHMCTL_CMDS, "SHM_???")]
    ok = not call.failed and call.result is not None
    data = None
    if cmd in (abi.IPC_STAT, abi.SHM_STAT, abi.SHM_STAT_ANY) and ok:
        data = call.read(addr, abi.SHMID64_DS.size)
        if data is not None:
            perm, segsz, atime, dtime, ctime, cpid, lpid, nattch = abi.SHMID64_DS.unpack(data)[:8]
            return head + [f"{{shm_perm={_ipc_perm(perm, True)}, shm_segsz={segsz}, shm_cpid={cpid}, "
                           f"shm_lpid={lpid}, shm_nattch={nattch}, shm_atime={atime}, shm_dtime={dtime}, "
                           f"shm_ctime={ctime}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(addr, abi.SHMID64_DS.size)
        if data is not None:
            return head + [f"{{shm_perm={_ipc_perm(data, False)}}}"]
    elif cmd == abi.IPC_INFO and ok:
        data = call.read(addr, abi.SHMINFO64.size)
        if data is not None:
            shmmax, shmmin, shmmni, shmseg, shmall = abi.SHMINFO64.unpack(data)[:5]
            return head + [f"{{shmmax={shmmax}, shmmin={shmmin}, shmmni={shmmni}, shmseg={shmseg}, "
                           f"shmall={shmall}}}"]
    elif cmd == abi.SHM_INFO and ok:
        data = call.read(addr, abi.SHM_INFO_STRUCT.size)
        if data is not None:
            used, tot, rss, swp, attempts, successes = abi.SHM_INFO_STRUCT.unpack(data)
            return head + [f"{{used_ids={used}, shm_tot={tot}, shm_rss={rss}, shm_swp={swp}, "
                           f"swap_attempts={attempts}, swap_successes={successes}}}"]
    return head + [ptr(addr)]


def _semctl_args(call: Call) -> list[str]:
    cmd, arg = call.args[2] & 0xFFFFFFFF & ~abi.IPC_64, call.args[3]
    head = [str(_s32(call.args[0])), str(_s32(call.args[1])), ipc_cmd(call.args[2], SEMCTL_CMDS, "SEM_???")]
    ok = not call.failed and call.result is not None
    if cmd in (abi.IPC_STAT, abi.SEM_STAT, abi.SEM_STAT_ANY) and ok:
        data = call.read(arg, abi.SEMID64_DS.size)
        if data is not None:
            perm, otime, _, ctime, _, nsems = abi.SEMID64_DS.unpack(data)[:6]
            return head + [f"{{sem_perm={_ipc_perm(perm, True)}, sem_otime={otime}, sem_ctime={ctime}, "
                           f"sem_nsems={nsems}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(arg, abi.SEMID64_DS.size)
        if data is not None:
            return head + [f"{{sem_perm={_ipc_perm(data, False)}}}"]
    elif cmd in (abi.IPC_INFO, abi.SEM_INFO) and ok:
        data = call.read(arg, abi.SEMINFO.size)
        if data is not None:
            names = ("semmap", "semmni", "semmns", "semmnu", "semmsl", "semopm", "semume", "semusz", "semvmx",
                     "semaem")
            return head + ["{" + ", ".join(f"{n}={v}" for n, v in zip(names, abi.SEMINFO.unpack(data))) + "}"]
    elif cmd == abi.SETVAL:
        return head + [_hex0(arg)]
    return head + [ptr(arg)]


def _msgctl_args(call: Call) -> list[str]:
    cmd, addr = call.args[1] & 0xFFFFFFFF & ~abi.IPC_64, call.args[2]
    head = [str(_s32(call.args[0])), ipc_cmd(call.args[1], MSGCTL_CMDS, "MSG_???")]
    ok = not call.failed and call.result is not None
    if cmd in (abi.IPC_STAT, abi.MSG_STAT, abi.MSG_STAT_ANY) and ok:
        data = call.read(addr, abi.MSQID64_DS.size)
        if data is not None:
            perm, stime, rtime, ctime, _cbytes, qnum, qbytes, lspid, lrpid = abi.MSQID64_DS.unpack(data)[:9]
            return head + [f"{{msg_perm={_ipc_perm(perm, True)}, msg_stime={stime}, msg_rtime={rtime}, "
                           f"msg_ctime={ctime}, msg_qnum={qnum}, msg_qbytes={qbytes}, msg_lspid={lspid}, "
                           f"msg_lrpid={lrpid}}}"]
    elif cmd == abi.IPC_SET:
        data = call.read(addr, abi.MSQID64_DS.size)
        if data is not None:
            qbytes = struct.unpack_from("<Q", data, 88)[0]
            return head + [f"{{msg_perm={_ipc_perm(data, False)}, msg_qbytes={qbytes}}}"]
    elif cmd in (abi.IPC_INFO, abi.MSG_INFO) and ok:
        data = call.read(addr, abi.MSGINFO.size)
        if data is not None:
            names = ("msgpool", "msgmap", "msgmax", "msgmnb", "msgmni", "msgssz", "msgtql", "msgseg")
            return head + ["{" + ", ".join(f"{n}={v}" for n, v in zip(names, abi.MSGINFO.unpack(data))) + "}"]
    return head + [ptr(addr)]


def _mq_open_args(call: Call) -> list[str]:
    """mq_open shows mode and attributes only with O_CREAT."""
    parts = [fmt_arg(call, 0), fmt_arg(call, 1)]
    if call.args[1] & abi.O_CREAT:
        parts += [octal(call.args[2] & 0xFFFFFFFF), _mq_attr(call, 3)]
    return parts


SPECIAL.update({"shmctl": _shmctl_args, "semctl": _semctl_args, "msgctl": _msgctl_args, "mq_open": _mq_open_args})
SPLIT_SPECIAL.update({
    "semtimedop": (lambda call: ", ".join(fmt_arg(call, i) for i in range(4)), lambda call: ""),
})
