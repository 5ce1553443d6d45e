"""Decoders of the socket calls: sockaddr, msghdr and control messages, socket options,
mmsg vectors."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable

from pykern import abi
from pykern.strace.calls import _fmt_array, _s32
from pykern.strace.files import (
    FADV_NAMES,
    _getxattr_args,
    _listxattr_args,
    _mincore_args,
    _named,
    _removexattr_args,
    _setxattr_args,
    fmt_statfs,
)
from pykern.strace.formats import _uid, flags, ptr, quote
from pykern.strace.kinds import ENTRY_CAPTURE, SPECIAL, fmt_arg
from pykern.strace.structs import Call, fmt_buffer, fmt_iovec, fmt_path

# --- sockets ---

AF_NAMES = dict(enumerate((
    "AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE", "AF_ATMPVC",
    "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY", "AF_NETLINK", "AF_PACKET",
    "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA", "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB",
    "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH", "AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154",
    "AF_CAIF", "AF_ALG", "AF_NFC", "AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP")))
SOCK_TYPE_NAMES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
                   6: "SOCK_DCCP", 10: "SOCK_PACKET"}
SOCK_FLAG_BITS = [(abi.SOCK_CLOEXEC, "SOCK_CLOEXEC"), (abi.SOCK_NONBLOCK, "SOCK_NONBLOCK")]
MSG_BITS = [(1 << i, n) for i, n in enumerate((
    "MSG_OOB", "MSG_PEEK", "MSG_DONTROUTE", "MSG_CTRUNC", "MSG_PROBE", "MSG_TRUNC", "MSG_DONTWAIT", "MSG_EOR",
    "MSG_WAITALL", "MSG_FIN", "MSG_SYN", "MSG_CONFIRM", "MSG_RST", "MSG_ERRQUEUE", "MSG_NOSIGNAL", "MSG_MORE",
    "MSG_WAITFORONE", "MSG_SENDPAGE_NOPOLICY", "MSG_BATCH"))] + [(0x4000000, "MSG_ZEROCOPY"),
                                                              (0x20000000, "MSG_FASTOPEN"),
                                                              (0x40000000, "MSG_CMSG_CLOEXEC")]
SHUT_NAMES = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
SOL_NAMES = {1: "SOL_SOCKET"}
SO_NAMES = {1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE", 6: "SO_BROADCAST",
            7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 10: "SO_OOBINLINE", 12: "SO_PRIORITY",
            13: "SO_LINGER", 15: "SO_REUSEPORT", 16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT",
            19: "SO_SNDLOWAT", 20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 30: "SO_ACCEPTCONN",
            38: "SO_PROTOCOL", 39: "SO_DOMAIN"}


def _sock_type(value: int) -> str:
    """The type, then its flags: `SOCK_STREAM|SOCK_CLOEXEC`, `SOCK_STREAM|0x100 /* SOCK_??? */`."""
    base, extra = value & 0xF, value & ~0xF & 0xFFFFFFFF
    parts = [SOCK_TYPE_NAMES.get(base, f"{base:#x} /* SOCK_??? */")]
    if extra:
        parts.append(flags(extra, SOCK_FLAG_BITS, unknown="SOCK_???"))
    return "|".join(parts)


def _msg_flags(value: int) -> str:
    return flags(value & 0xFFFFFFFF, MSG_BITS, unknown="MSG_???")


IPPROTO_NAMES = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP", 6: "IPPROTO_TCP",
                 8: "IPPROTO_EGP", 12: "IPPROTO_PUP", 17: "IPPROTO_UDP", 22: "IPPROTO_IDP", 29: "IPPROTO_TP",
                 33: "IPPROTO_DCCP", 41: "IPPROTO_IPV6", 46: "IPPROTO_RSVP", 47: "IPPROTO_GRE", 50: "IPPROTO_ESP",
                 51: "IPPROTO_AH", 58: "IPPROTO_ICMPV6", 92: "IPPROTO_MTP", 94: "IPPROTO_BEETPH",
                 98: "IPPROTO_ENCAP", 103: "IPPROTO_PIM", 108: "IPPROTO_COMP", 115: "IPPROTO_L2TP",
                 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 137: "IPPROTO_MPLS", 143: "IPPROTO_ETHERNET",
                 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP"}
NETLINK_NAMES = {0: "NETLINK_ROUTE", 1: "NETLINK_UNUSED", 2: "NETLINK_USERSOCK", 3: "NETLINK_FIREWALL",
                 4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG", 6: "NETLINK_XFRM", 7: "NETLINK_SELINUX",
                 8: "NETLINK_ISCSI", 9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP", 11: "NETLINK_CONNECTOR",
                 12: "NETLINK_NETFILTER", 13: "NETLINK_IP6_FW", 14: "NETLINK_DNRTMSG",
                 15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC", 18: "NETLINK_SCSITRANSPORT",
                 19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA", 21: "NETLINK_CRYPTO", 22: "NETLINK_SMC"}


def _protocol(domain: int, protocol: int) -> str:
    """socket(2)'s protocol as strace names it for the family (a number for the others)."""
    if domain in (abi.AF_INET, abi.AF_INET6):
        return IPPROTO_NAMES.get(protocol, str(protocol))
    if domain == abi.AF_NETLINK:
        return _named(NETLINK_NAMES, protocol, "NETLINK")
    return str(protocol)


def _socketpair_args(call: Call) -> list[str]:
    return [_named(AF_NAMES, _s32(call.args[0]), "AF"), _sock_type(call.args[1]), str(_s32(call.args[2])),
            _fmt_array(call, call.args[3], 2, 4, lambda v: str(_s32(v)))]


def _len_in_out(call: Call, addr: int) -> str:
    """A socklen_t in/out argument as strace shows it: `[4]`, or `[110 => 2]` if it changed."""
    if addr == 0:
        return "NULL"
    before = call.before.get("len")
    after = None if call.result is None or call.failed else call.read(addr, 4)
    if before is None:
        return ptr(addr)
    if after is None or int.from_bytes(after, "little") == before:
        return f"[{_s32(before)}]"
    return f"[{_s32(before)} => {_s32(int.from_bytes(after, 'little'))}]"


def _capture_len(index: int) -> Callable[[Call], None]:
    def capture(call: Call) -> None:
        data = call.read(call.args[index], 4) if call.args[index] else None
        if data is not None:
            call.before["len"] = int.from_bytes(data, "little")
    return capture


def fmt_sockaddr(call: Call, addr: int, addrlen: int) -> str:
    """strace's decode_sockaddr: `{sa_family=AF_UNIX, sun_path="/x"}` (`@"name"` for the
    abstract namespace), AF_INET and AF_INET6 by their fields, other families' sa_data;
    an address shorter than sa_family (or unreadable) as a pointer."""
    if addr == 0:
        return "NULL"
    if addrlen < 2:
        return ptr(addr)
    data = call.read(addr, min(addrlen, 128))
    if data is None:
        return ptr(addr)
    family = int.from_bytes(data[:2], "little")
    head = f"{{sa_family={_named(AF_NAMES, family, 'AF')}"
    if len(data) == 2:
        return head + "}"
    if family == abi.AF_UNIX:
        path = data[2:110]
        abstract = path[:1] == b"\0" and len(path) > 1
        text = (path[1:] if abstract else path).split(b"\0", 1)[0]
        return f"{head}, sun_path={'@' if abstract else ''}{quote(text, None)}}}"
    if family == abi.AF_INET and len(data) >= 16:
        port = int.from_bytes(data[2:4], "big")
        return f'{head}, sin_port=htons({port}), sin_addr=inet_addr("{".".join(str(b) for b in data[4:8])}")}}'
    if family == abi.AF_INET6 and len(data) >= 24:
        port = int.from_bytes(data[2:4], "big")
        flowinfo = int.from_bytes(data[4:8], "big")
        text = f'{head}, sin6_port=htons({port}), sin6_flowinfo=htonl({flowinfo}), ' \
               f'inet_pton(AF_INET6, "{ipaddress.IPv6Address(data[8:24])}", &sin6_addr)'
        if len(data) >= 28:
            text += f", sin6_scope_id={int.from_bytes(data[24:28], 'little')}"
        return text + "}"
    if family == abi.AF_NETLINK and len(data) >= 12:
        pid, groups = struct.unpack_from("<II", data, 4)
        return f"{head}, nl_pid={pid}, nl_groups={groups:08x}}}"
    return f"{head}, sa_data={quote(data[2:], None)}}}"


def _sockaddr_out(call: Call, addr: int, len_addr: int) -> str:
    """An address the kernel wrote (accept, getsockname, recvfrom): as much as both the
    buffer and the real length cover, once the call succeeded."""
    if addr == 0:
        return "NULL"
    if call.failed or call.result is None or len_addr == 0:
        return ptr(addr)
    after = call.read(len_addr, 4)
    if after is None:
        return ptr(addr)
    length = _s32(int.from_bytes(after, "little"))
    before = call.before.get("len")
    if before is not None:
        length = min(length, _s32(before))
    return fmt_sockaddr(call, addr, length)


def _sockname_args(call: Call) -> list[str]:
    """getsockname/getpeername: the address, and `[110 => 9]` for its length."""
    return [str(_s32(call.args[0])), _sockaddr_out(call, call.args[1], call.args[2]),
            _len_in_out(call, call.args[2])]


def _accept_args(call: Call) -> list[str]:
    return [str(_s32(call.args[0])), _sockaddr_out(call, call.args[1], call.args[2]),
            _len_in_out(call, call.args[2])]


def _accept4_args(call: Call) -> list[str]:
    return _accept_args(call) + [flags(call.args[3] & 0xFFFFFFFF, SOCK_FLAG_BITS, unknown="SOCK_???")]


def _socket_args(call: Call) -> list[str]:
    domain = _s32(call.args[0])
    return [_named(AF_NAMES, domain, "AF"), _sock_type(call.args[1]), _protocol(domain, _s32(call.args[2]))]


def _bind_args(call: Call) -> list[str]:
    """bind/connect: the address as the call passed it."""
    return [str(_s32(call.args[0])), fmt_sockaddr(call, call.args[1], _s32(call.args[2])), str(_s32(call.args[2]))]


def _sendto_args(call: Call) -> list[str]:
    return [str(_s32(call.args[0])), fmt_buffer(call, call.args[1], call.args[2]), str(call.args[2]),
            _msg_flags(call.args[3]), fmt_sockaddr(call, call.args[4], _s32(call.args[5])),
            str(_s32(call.args[5]))]


def _recvfrom_args(call: Call) -> list[str]:
    ok = not (call.failed or call.result is None)
    buf = fmt_buffer(call, call.args[1], min(call.result, call.args[2])) if ok else ptr(call.args[1])
    return [str(_s32(call.args[0])), buf, str(call.args[2]), _msg_flags(call.args[3]),
            _sockaddr_out(call, call.args[4], call.args[5]), _len_in_out(call, call.args[5])]


SOL_LEVEL_NAMES = {1: "SOL_SOCKET", 0: "SOL_IP", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6"}
SCM_NAMES = {abi.SCM_RIGHTS: "SCM_RIGHTS", abi.SCM_CREDENTIALS: "SCM_CREDENTIALS", 3: "SCM_SECURITY",
             4: "SCM_PIDFD"}


def _ucred(data: bytes) -> str:
    pid, uid, gid = abi.UCRED.unpack(data[:abi.UCRED.size])
    return f"{{pid={pid}, uid={_uid(uid)}, gid={_uid(gid)}}}"


def fmt_cmsgs(call: Call, addr: int, length: int) -> str:
    """strace's decode_msg_control: `[{cmsg_len=20, cmsg_level=SOL_SOCKET,
    cmsg_type=SCM_RIGHTS, cmsg_data=[5]}]`; SCM_CREDENTIALS' data as a struct ucred;
    a header whose cmsg_len is shorter than a header ends the list with `...`."""
    size = abi.CMSGHDR.size
    if length < size:
        return ptr(addr)
    data = call.read(addr, min(length, 4096))
    if data is None:
        return ptr(addr)
    items = []
    offset = 0
    left = len(data)
    while left >= size:
        cmsg_len, level, kind = abi.CMSGHDR.unpack_from(data, offset)
        level_text = _named(SOL_LEVEL_NAMES, level, "SOL")
        kind_text = _named(SCM_NAMES, kind, "SCM") if level == abi.SOL_SOCKET else hex(kind & 0xFFFFFFFF)
        item = f"{{cmsg_len={cmsg_len}, cmsg_level={level_text}, cmsg_type={kind_text}"
        if cmsg_len < size:
            items.append(item + "}")
            left -= size
            break
        body = data[offset + size:offset + min(cmsg_len, left)]
        if level == abi.SOL_SOCKET and kind == abi.SCM_RIGHTS and len(body) >= 4:
            fds = [_s32(int.from_bytes(body[i:i + 4], "little")) for i in range(0, len(body) - 3, 4)]
            item += f", cmsg_data=[{', '.join(map(str, fds))}]"
        elif level == abi.SOL_SOCKET and kind == abi.SCM_CREDENTIALS and len(body) >= abi.UCRED.size:
            item += f", cmsg_data={_ucred(body)}"
        items.append(item + "}")
        step = (cmsg_len + 7) & ~7
        if step >= left:
            left = 0
            break
        offset += step
        left -= step
    if left:
        items.append(f"... /* {ptr(addr + len(data) - left)} */")
    return "[" + ", ".join(items) + "]"


def fmt_msghdr(call: Call, addr: int, received: int | None) -> str:
    """struct msghdr; `received`: how much recvmsg filled (None for sendmsg)."""
    data = call.read(addr, abi.MSGHDR.size)
    if data is None:
        return ptr(addr)
    name, namelen, iov, iovlen, control, controllen, msg_flags = abi.MSGHDR.unpack(data)
    iovs = fmt_iovec(call, iov, iovlen, received)
    before = call.before.get("namelen")
    name_text = fmt_sockaddr(call, name, min(_s32(namelen), _s32(before) if before is not None else namelen))
    namelen_text = f"{_s32(before)} => {_s32(namelen)}" if before is not None and before != namelen \
        else str(_s32(namelen))
    control_text = f"msg_control={fmt_cmsgs(call, control, controllen)}, " if controllen else ""
    return (f"{{msg_name={name_text}, msg_namelen={namelen_text}, msg_iov={iovs}, "
            f"msg_iovlen={iovlen}, {control_text}msg_controllen={controllen}, msg_flags={_msg_flags(msg_flags)}}}")


def _sendmsg_args(call: Call) -> list[str]:
    return [str(_s32(call.args[0])), fmt_msghdr(call, call.args[1], None), _msg_flags(call.args[2])]


def _recvmsg_args(call: Call) -> list[str]:
    """A failed recvmsg shows only msg_namelen, as strace does."""
    ok = not (call.failed or call.result is None)
    if ok:
        shown = fmt_msghdr(call, call.args[1], call.result)
    else:
        data = call.read(call.args[1] + 8, 4)
        shown = ptr(call.args[1]) if data is None else f"{{msg_namelen={_s32(int.from_bytes(data, 'little'))}}}"
    return [str(_s32(call.args[0])), shown, _msg_flags(call.args[2])]


SOCKOPT_LEVEL_NAMES = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6", 58: "SOL_ICMPV6",
                       255: "SOL_RAW", 270: "SOL_NETLINK", 136: "SOL_UDPLITE"}
IP_OPT_NAMES = {1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 6: "IP_RECVOPTS", 7: "IP_RETOPTS",
                8: "IP_PKTINFO", 9: "IP_PKTOPTIONS", 10: "IP_MTU_DISCOVER", 11: "IP_RECVERR", 12: "IP_RECVTTL",
                13: "IP_RECVTOS", 14: "IP_MTU", 15: "IP_FREEBIND", 16: "IP_IPSEC_POLICY", 17: "IP_XFRM_POLICY",
                18: "IP_PASSSEC", 19: "IP_TRANSPARENT", 20: "IP_ORIGDSTADDR", 21: "IP_MINTTL", 22: "IP_NODEFRAG",
                23: "IP_CHECKSUM", 24: "IP_BIND_ADDRESS_NO_PORT", 25: "IP_RECVFRAGSIZE", 26: "IP_RECVERR_RFC4884",
                32: "IP_MULTICAST_IF", 33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP", 35: "IP_ADD_MEMBERSHIP",
                36: "IP_DROP_MEMBERSHIP", 37: "IP_UNBLOCK_SOURCE", 38: "IP_BLOCK_SOURCE",
                39: "IP_ADD_SOURCE_MEMBERSHIP", 40: "IP_DROP_SOURCE_MEMBERSHIP", 41: "IP_MSFILTER",
                49: "IP_MULTICAST_ALL", 50: "IP_UNICAST_IF"}
TCP_OPT_NAMES = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL",
                 6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2", 9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP",
                 11: "TCP_INFO", 12: "TCP_QUICKACK", 13: "TCP_CONGESTION", 14: "TCP_MD5SIG", 16: "TCP_THIN_LINEAR_TIMEOUTS",
                 17: "TCP_THIN_DUPACK", 18: "TCP_USER_TIMEOUT", 19: "TCP_REPAIR", 20: "TCP_REPAIR_QUEUE",
                 21: "TCP_QUEUE_SEQ", 22: "TCP_REPAIR_OPTIONS", 23: "TCP_FASTOPEN", 24: "TCP_TIMESTAMP",
                 25: "TCP_NOTSENT_LOWAT", 26: "TCP_CC_INFO", 27: "TCP_SAVE_SYN", 28: "TCP_SAVED_SYN",
                 29: "TCP_REPAIR_WINDOW", 30: "TCP_FASTOPEN_CONNECT", 31: "TCP_ULP", 32: "TCP_MD5SIG_EXT",
                 33: "TCP_FASTOPEN_KEY", 34: "TCP_FASTOPEN_NO_COOKIE", 35: "TCP_ZEROCOPY_RECEIVE", 36: "TCP_INQ",
                 37: "TCP_TX_DELAY"}
IPV6_OPT_NAMES = {1: "IPV6_ADDRFORM", 2: "IPV6_2292PKTINFO", 3: "IPV6_2292HOPOPTS", 4: "IPV6_2292DSTOPTS",
                  5: "IPV6_2292RTHDR", 6: "IPV6_2292PKTOPTIONS", 7: "IPV6_CHECKSUM", 8: "IPV6_2292HOPLIMIT",
                  9: "IPV6_NEXTHOP", 10: "IPV6_AUTHHDR", 11: "IPV6_FLOWINFO", 16: "IPV6_UNICAST_HOPS",
                  17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS", 19: "IPV6_MULTICAST_LOOP",
                  20: "IPV6_ADD_MEMBERSHIP", 21: "IPV6_DROP_MEMBERSHIP", 22: "IPV6_ROUTER_ALERT",
                  23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU", 25: "IPV6_RECVERR", 26: "IPV6_V6ONLY",
                  27: "IPV6_JOIN_ANYCAST", 28: "IPV6_LEAVE_ANYCAST", 49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO",
                  51: "IPV6_RECVHOPLIMIT", 52: "IPV6_HOPLIMIT", 66: "IPV6_RECVTCLASS", 67: "IPV6_TCLASS",
                  75: "IPV6_TRANSPARENT", 76: "IPV6_UNICAST_IF", 77: "IPV6_RECVFRAGSIZE", 78: "IPV6_FREEBIND"}
NETLINK_OPT_NAMES = {1: "NETLINK_ADD_MEMBERSHIP", 2: "NETLINK_DROP_MEMBERSHIP", 3: "NETLINK_PKTINFO",
                     4: "NETLINK_BROADCAST_ERROR", 5: "NETLINK_NO_ENOBUFS", 6: "NETLINK_RX_RING",
                     7: "NETLINK_TX_RING", 8: "NETLINK_LISTEN_ALL_NSID", 9: "NETLINK_LIST_MEMBERSHIPS",
                     10: "NETLINK_CAP_ACK", 11: "NETLINK_EXT_ACK", 12: "NETLINK_GET_STRICT_CHK"}
SO_NAMES.update({20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 25: "SO_BINDTODEVICE", 26: "SO_ATTACH_FILTER",
                 27: "SO_DETACH_FILTER", 28: "SO_PEERNAME", 29: "SO_TIMESTAMP_OLD", 31: "SO_PEERSEC",
                 32: "SO_SNDBUFFORCE", 33: "SO_RCVBUFFORCE", 34: "SO_PASSSEC", 35: "SO_TIMESTAMPNS_OLD",
                 36: "SO_MARK", 37: "SO_TIMESTAMPING_OLD", 40: "SO_RXQ_OVFL", 41: "SO_WIFI_STATUS", 42: "SO_PEEK_OFF",
                 43: "SO_NOFCS", 44: "SO_LOCK_FILTER", 45: "SO_SELECT_ERR_QUEUE", 46: "SO_BUSY_POLL",
                 47: "SO_MAX_PACING_RATE", 48: "SO_BPF_EXTENSIONS", 49: "SO_INCOMING_CPU", 50: "SO_ATTACH_BPF",
                 51: "SO_ATTACH_REUSEPORT_CBPF", 52: "SO_ATTACH_REUSEPORT_EBPF", 53: "SO_CNX_ADVICE",
                 55: "SO_MEMINFO", 56: "SO_INCOMING_NAPI_ID", 57: "SO_COOKIE", 59: "SO_PEERGROUPS",
                 60: "SO_ZEROCOPY", 61: "SO_TXTIME", 62: "SO_BINDTOIFINDEX", 63: "SO_TIMESTAMP_NEW",
                 64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW", 66: "SO_RCVTIMEO_NEW", 67: "SO_SNDTIMEO_NEW",
                 68: "SO_DETACH_REUSEPORT_BPF", 69: "SO_PREFER_BUSY_POLL", 70: "SO_BUSY_POLL_BUDGET",
                 71: "SO_NETNS_COOKIE", 72: "SO_BUF_LOCK", 73: "SO_RESERVE_MEM", 74: "SO_TXREHASH",
                 75: "SO_RCVMARK", 76: "SO_PASSPIDFD", 77: "SO_PEERPIDFD"})
OPTNAME_TABLES = {1: (SO_NAMES, "SO"), 0: (IP_OPT_NAMES, "IP"), 6: (TCP_OPT_NAMES, "TCP"),
                  41: (IPV6_OPT_NAMES, "IPV6"), 270: (NETLINK_OPT_NAMES, "NETLINK")}


# SOL_SOCKET options whose value is not an int: strace shows their bytes
SO_STRUCT_OPTIONS = frozenset({20, 21, 66, 67, 17, 25, 26, 28, 31, 51})  # timeouts, PEERCRED, BINDTODEVICE ...


def _sockopt_name(level: int, optname: int) -> str:
    """The option by its level's names (strace's sockoptions, sockipoptions ...); a
    level strace does not decode gives the bare number."""
    table = OPTNAME_TABLES.get(level)
    if table is None:
        return str(optname)
    return _named(table[0], optname, table[1])


def _sockopt_value(call: Call, level: int, optname: int, addr: int, length: int, setting: bool) -> str:
    """An option's value as strace prints it: an int as `[1]` (SO_ERROR's as its errno
    name), struct linger by its fields, the SOL_SOCKET options that are not ints as
    bytes; an int option of another length as the address."""
    if level == abi.SOL_SOCKET and optname == 13 and length == 8:  # SO_LINGER
        data = call.read(addr, 8)
        if data is not None:
            onoff, linger = struct.unpack("<ii", data)
            return f"{{l_onoff={onoff}, l_linger={linger}}}"
    if level == abi.SOL_SOCKET and optname in SO_STRUCT_OPTIONS:
        return fmt_buffer(call, addr, length) if length >= 0 else ptr(addr)
    if length >= 4 and (length == 4 or not setting):
        data = call.read(addr, 4)
        if data is None:
            return ptr(addr)
        value = _s32(int.from_bytes(data, "little"))
        if level == abi.SOL_SOCKET and optname == abi.SO_ERROR and value in abi.ERRNO_NAMES:
            return f"[{abi.ERRNO_NAMES[value]}]"
        return f"[{value}]"
    if setting and 0 <= length and level not in OPTNAME_TABLES:
        return fmt_buffer(call, addr, length)
    return ptr(addr)


def _sockopt_args(call: Call, setting: bool) -> list[str]:
    level, optname = _s32(call.args[1]), _s32(call.args[2])
    head = [str(_s32(call.args[0])), _named(SOCKOPT_LEVEL_NAMES, level, "SOL").replace("SOL_???", "SOL_??"),
            _sockopt_name(level, optname)]
    if setting:
        return head + [_sockopt_value(call, level, optname, call.args[3], _s32(call.args[4]), setting),
                       str(_s32(call.args[4]))]
    if optname == abi.SO_PEERCRED and level == abi.SOL_SOCKET and not call.failed \
            and call.result is not None:
        data = call.read(call.args[3], abi.UCRED.size)
        value = _ucred(data) if data is not None else ptr(call.args[3])
    elif call.failed or call.result is None or not call.args[4]:
        value = ptr(call.args[3])
    else:
        after = call.read(call.args[4], 4)
        length = _s32(int.from_bytes(after, "little")) if after is not None else 0
        value = _sockopt_value(call, level, optname, call.args[3], length, setting)
    return head + [value, _len_in_out(call, call.args[4])]


def _mmsg_args(call: Call, receiving: bool) -> list[str]:
    """sendmmsg/recvmmsg: the entries the call handled, each `{msg_hdr={...}, msg_len=N}`;
    the vector's address when it failed; recvmmsg's timeout."""
    ok = not (call.failed or call.result is None)
    shown = ptr(call.args[1])
    if ok and call.result > 0:
        items = []
        for index in range(min(call.result, call.args[2] & 0xFFFFFFFF, 64)):
            entry = call.args[1] + index * (abi.MSGHDR.size + 8)
            length = call.read(entry + abi.MSGHDR.size, 4)
            if length is None:
                break
            received = int.from_bytes(length, "little")
            header = fmt_msghdr(call, entry, received if receiving else None)
            items.append(f"{{msg_hdr={header}, msg_len={received}}}")
        shown = "[" + ", ".join(items) + "]"
    args = [str(_s32(call.args[0])), shown, str(call.args[2] & 0xFFFFFFFF), _msg_flags(call.args[3])]
    if receiving:
        args.append(fmt_arg(call, 4) if call.args[4] else "NULL")
    return args


def _capture_namelen(call: Call) -> None:
    """recvmsg: msg_namelen before the call, for `msg_namelen=110 => 9`."""
    data = call.read(call.args[1] + 8, 4)
    if data is not None:
        call.before["namelen"] = int.from_bytes(data, "little")


ENTRY_CAPTURE.update({
    "getsockname": _capture_len(2), "getpeername": _capture_len(2), "recvfrom": _capture_len(5),
    "getsockopt": _capture_len(4), "accept": _capture_len(2), "accept4": _capture_len(2),
    "recvmsg": lambda call: _capture_namelen(call),
})


SPECIAL.update({
    "statfs": lambda call: [fmt_path(call, call.args[0]), fmt_statfs(call, call.args[1])],
    "fstatfs": lambda call: [str(_s32(call.args[0])), fmt_statfs(call, call.args[1])],
    "getxattr": _getxattr_args,
    "lgetxattr": _getxattr_args,
    "fgetxattr": lambda call: _getxattr_args(call, by_fd=True),
    "listxattr": _listxattr_args,
    "llistxattr": _listxattr_args,
    "flistxattr": lambda call: _listxattr_args(call, by_fd=True),
    "setxattr": _setxattr_args,
    "lsetxattr": _setxattr_args,
    "fsetxattr": lambda call: _setxattr_args(call, by_fd=True),
    "removexattr": _removexattr_args,
    "lremovexattr": _removexattr_args,
    "fremovexattr": lambda call: _removexattr_args(call, by_fd=True),
    "fadvise64": lambda call: [str(_s32(call.args[0])), str(call.args[1]), str(call.args[2]),
                               _named(FADV_NAMES, _s32(call.args[3]), "POSIX_FADV")],
    "mincore": _mincore_args,
    "getsockname": _sockname_args,
    "getpeername": _sockname_args,
    "socket": _socket_args,
    "bind": _bind_args,
    "connect": _bind_args,
    "accept": _accept_args,
    "accept4": _accept4_args,
    "socketpair": _socketpair_args,
    "sendto": _sendto_args,
    "recvfrom": _recvfrom_args,
    "sendmsg": _sendmsg_args,
    "recvmsg": _recvmsg_args,
    "getsockopt": lambda call: _sockopt_args(call, setting=False),
    "setsockopt": lambda call: _sockopt_args(call, setting=True),
    "sendmmsg": lambda call: _mmsg_args(call, receiving=False),
    "recvmmsg": lambda call: _mmsg_args(call, receiving=True),
    "shutdown": lambda call: [str(_s32(call.args[0])), _named(SHUT_NAMES, _s32(call.args[1]), "SHUT")],
})
