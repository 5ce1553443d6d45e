"""NUMA memory policy on a machine of one node (mm/mempolicy.c): set_mempolicy,
get_mempolicy and mbind keep and report the policy a program asks for, checked as Linux
checks it, and every page is on node 0, the only node there is (nr_node_ids is 1, as
/sys/devices/system/node shows on a one-node host). Linux built without NUMA answers
ENOSYS: so does pykern on such a host (host_has_numa), as the program would natively."""

from __future__ import annotations

import ctypes
import errno
import functools

from pykern.abi import (
    CAP_SYS_NICE,
    EFAULT,
    EINVAL,
    ENOSYS,
    EPERM,
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_F_MEMS_ALLOWED,
    MPOL_F_NODE,
    MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES,
    MPOL_F_STATIC_NODES,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MAX,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_VALID,
    MPOL_MODE_FLAGS,
    MPOL_PREFERRED,
    MPOL_WEIGHTED_INTERLEAVE,
    PAGE_SIZE,
    page_up,
)
from pykern.errors import SysError
from pykern.mm import MemPolicy
from pykern.syscalls.table import syscall
from pykern.sysent import MBIND_FLAGS, MPOL_GET_FLAGS, MPOL_MODE, PTR, SIZE, ULONG
from pykern.task import Task

NR_NODE_IDS = 1  # node 0
NODES_ALLOWED = 1  # the nodes a task may use (cpuset_current_mems_allowed): a bit per node
MAX_NUMNODES = 1 << 10  # the kernel's nodemask_t (CONFIG_NODES_SHIFT=10, as distributions build it)
LONG_BITS = 64
_HOST_GET_MEMPOLICY = 239  # x86-64


@functools.cache
def host_has_numa() -> bool:
    """Was the host's kernel built with NUMA (get_mempolicy is not ENOSYS there)?"""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_HOST_GET_MEMPOLICY, None, None, 0, 0, 0) == 0 or ctypes.get_errno() != errno.ENOSYS


def _numa_kernel() -> None:
    if not host_has_numa():
        raise SysError(ENOSYS)


def _read_nodes(task: Task, addr: int, maxnode: int) -> int:
    """get_nodes: the node mask the caller passed, `maxnode - 1` bits of it (Linux's
    off-by-one, kept by every libnuma); bits beyond MAX_NUMNODES must be clear."""
    maxnode -= 1
    if maxnode <= 0 or not addr:
        return 0
    if maxnode > PAGE_SIZE * 8:
        raise SysError(EINVAL)
    words = (maxnode + LONG_BITS - 1) // LONG_BITS
    mask = int.from_bytes(task.mm.copy_in(addr, words * 8), "little") & ((1 << maxnode) - 1)
    if mask >> MAX_NUMNODES:
        raise SysError(EINVAL)
    return mask


def _sanitize(mode: int) -> tuple[int, int]:
    """sanitize_mpol_flags: (mode, mode flags) of set_mempolicy's and mbind's `mode`."""
    flags, mode = mode & MPOL_MODE_FLAGS, mode & ~MPOL_MODE_FLAGS
    if not 0 <= mode < MPOL_MAX:
        raise SysError(EINVAL)
    if flags & MPOL_F_STATIC_NODES and flags & MPOL_F_RELATIVE_NODES:
        raise SysError(EINVAL)
    if flags & MPOL_F_NUMA_BALANCING and mode != MPOL_BIND:
        raise SysError(EINVAL)
    return mode, flags


def _new_policy(mode: int, flags: int, nodes: int) -> MemPolicy | None:
    """mpol_new: None for MPOL_DEFAULT; EINVAL when the nodes do not fit the mode or name
    no node the task may use."""
    named = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)
    if mode == MPOL_DEFAULT:
        if nodes:
            raise SysError(EINVAL)
        return None
    if mode == MPOL_PREFERRED and not nodes:
        if named:
            raise SysError(EINVAL)
        mode = MPOL_LOCAL
    elif mode == MPOL_LOCAL:
        if nodes or named:
            raise SysError(EINVAL)
    elif not nodes:
        raise SysError(EINVAL)
    if mode == MPOL_LOCAL:
        return MemPolicy(mode, flags, 0, 0)
    # MPOL_F_RELATIVE_NODES: node n is the n-th allowed node (mod their number): with one
    # node, any node named is node 0.
    used = NODES_ALLOWED if flags & MPOL_F_RELATIVE_NODES else nodes & NODES_ALLOWED
    if not used:
        raise SysError(EINVAL)
    if mode == MPOL_PREFERRED:
        used &= -used  # the first node
    return MemPolicy(mode, flags, used, nodes if named else 0)


def _write_nodes(task: Task, addr: int, maxnode: int, nodes: int) -> None:
    """copy_nodes_to_user: ALIGN(maxnode - 1, 64) bits, zero beyond the kernel's node ids."""
    size = ((maxnode - 1 + LONG_BITS - 1) // LONG_BITS) * 8 if maxnode > 0 else 0
    own = (NR_NODE_IDS + LONG_BITS - 1) // LONG_BITS * 8
    if size > own:
        if size > PAGE_SIZE:
            raise SysError(EINVAL)
        task.mm.copy_out(addr + own, bytes(size - own))
        size = own
    if size:
        task.mm.copy_out(addr, (nodes & ((1 << size * 8) - 1)).to_bytes(size, "little"))


@syscall("set_mempolicy", MPOL_MODE, PTR, ULONG, classes="memory")
def sys_set_mempolicy(task: Task, mode: int, nmask: int, maxnode: int) -> int:
    """set_mempolicy(2): the calling thread's policy, inherited by fork and clone."""
    _numa_kernel()
    mode, flags = _sanitize(mode)
    task.mempolicy = _new_policy(mode, flags, _read_nodes(task, nmask, maxnode))
    return 0


@syscall("get_mempolicy", PTR, PTR, ULONG, PTR, MPOL_GET_FLAGS, classes="memory")
def sys_get_mempolicy(task: Task, policy_addr: int, nmask: int, maxnode: int, addr: int, flags: int) -> int:
    """get_mempolicy(2): the thread's policy, or with MPOL_F_ADDR the one mbind gave the
    page at `addr`; MPOL_F_NODE asks for a node (always 0), MPOL_F_MEMS_ALLOWED for the
    nodes allowed."""
    _numa_kernel()
    if nmask and maxnode < NR_NODE_IDS:
        raise SysError(EINVAL)
    if flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED):
        raise SysError(EINVAL)
    if flags & MPOL_F_MEMS_ALLOWED:
        if flags & (MPOL_F_NODE | MPOL_F_ADDR):
            raise SysError(EINVAL)
        value, nodes = 0, NODES_ALLOWED
    else:
        policy = task.mempolicy
        if flags & MPOL_F_ADDR:
            vma = task.mm.find_vma(addr)
            if vma is None:
                raise SysError(EFAULT)
            policy = vma.policy
        elif addr:
            raise SysError(EINVAL)
        if flags & MPOL_F_NODE:
            interleaved = policy is task.mempolicy and policy is not None \
                and policy.mode in (MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE)
            if not flags & MPOL_F_ADDR and not interleaved:
                raise SysError(EINVAL)
            value = 0  # the node of the page, or the next one interleaving uses: node 0
        else:
            value = MPOL_DEFAULT if policy is None else policy.mode | policy.flags
        nodes = 0 if policy is None else policy.user_nodes if policy.flags & (
            MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) else policy.nodes
    if policy_addr:
        task.mm.copy_out_i32(policy_addr, value)
    if nmask:
        _write_nodes(task, nmask, maxnode, nodes)
    return 0


@syscall("mbind", PTR, SIZE, MPOL_MODE, PTR, ULONG, MBIND_FLAGS, classes="memory")
def sys_mbind(task: Task, start: int, length: int, mode: int, nmask: int, maxnode: int, flags: int) -> int:
    """mbind(2): the policy of the pages of [start, start+length), which must be mapped
    (EFAULT). MPOL_MF_MOVE has nothing to move, and MPOL_MF_STRICT finds no page on
    another node."""
    _numa_kernel()
    mode, mode_flags = _sanitize(mode)
    nodes = _read_nodes(task, nmask, maxnode)
    if flags & ~MPOL_MF_VALID:
        raise SysError(EINVAL)
    if flags & MPOL_MF_MOVE_ALL and not task.group.creds.capable(CAP_SYS_NICE):
        raise SysError(EPERM)
    if start % PAGE_SIZE:
        raise SysError(EINVAL)
    end = start + page_up(length)
    if end == start:
        return 0
    policy = _new_policy(mode, mode_flags, nodes)
    task.mm.set_policy(start, end, policy)
    return 0
