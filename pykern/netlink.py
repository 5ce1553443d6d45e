"""AF_NETLINK sockets (placeholder)."""

from __future__ import annotations

from pykern.abi import EAFNOSUPPORT
from pykern.errors import SysError
from pykern.net import Socket


def check_create(sock_type: int, protocol: int) -> None:
    raise SysError(EAFNOSUPPORT)


class NetlinkSocket(Socket):
    pass
