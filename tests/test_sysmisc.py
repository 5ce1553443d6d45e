"""Unit tests, without Unicorn, for the identity, time and misc syscall families: the pure
rules they encode (timespec validation, credential changes, rlimits, getrandom flags,
cpumasks) and the handlers run against a fake task whose memory is a bytearray."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from pykern.abi import (
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME,
    CLOCK_THREAD_CPUTIME_ID,
    EFAULT,
    EINVAL,
    ENOSYS,
    EOPNOTSUPP,
    EPERM,
    ERESTART_RESTARTBLOCK,
    ESRCH,
    GRND_INSECURE,
    GRND_NONBLOCK,
    GRND_RANDOM,
    RLIM_INFINITY,
    RLIMIT_NOFILE,
    RLIMIT_STACK,
    SYSINFO,
    TASK_SIZE,
    TIMER_ABSTIME,
    TIMESPEC,
)
from pykern.errors import Block, Fault, SysError
from pykern.mm import UserAccess
from pykern.rusage import Usage
from pykern.syscalls import identity, misc
from pykern.syscalls import time as systime
from pykern.task import Creds, Task, TaskState
from pykern.vdso import VvarPage

BASE = 0x10000


class FakeMM(UserAccess):
    """One page-aligned region of guest memory; anything else faults."""

    def __init__(self, size: int = 0x4000) -> None:
        self.memory = bytearray(size)

    def _span(self, addr: int, size: int, write: bool = False) -> slice:
        if addr < BASE or addr + size > BASE + len(self.memory):
            raise Fault(addr, write)
        return slice(addr - BASE, addr - BASE + size)

    def copy_in(self, addr: int, size: int) -> bytes:
        return bytes(self.memory[self._span(addr, size)]) if size else b""

    def copy_out(self, addr: int, data: bytes) -> None:
        if data:
            self.memory[self._span(addr, len(data), True)] = data


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1_000_000_000_000
        self.real = 1_700_000_000_123_456_789
        self.cpu = 5_000

    def monotonic_ns(self) -> int:
        return self.mono

    def realtime_ns(self) -> int:
        return self.real

    def boottime_ns(self) -> int:
        return self.mono

    def process_cpu_ns(self, group: object) -> int:
        return self.cpu

    def thread_cpu_ns(self, task: object) -> int:
        return self.cpu

    def advance(self, ns: int) -> None:
        self.mono += ns
        self.real += ns


def make_task(euid: int = 1000, tid: int = 42) -> SimpleNamespace:
    kernel = SimpleNamespace(clock=FakeClock(), tasks={}, random_bytes=lambda n: b"\xa5" * n,
                             vdso=SimpleNamespace(vvar=VvarPage()))
    creds = Creds(euid, euid, euid, 100, 100, 100, [100, 4, 27])
    group = SimpleNamespace(
        tgid=tid,
        creds=creds,
        rlimits={RLIMIT_NOFILE: (1024, 4096)},
        files=SimpleNamespace(max_fds=1024),  # (setrlimit(RLIMIT_NOFILE) sets it)
        tasks=[],
        live_tasks=[],
        children_usage=Usage(),
    )
    task = SimpleNamespace(
        kernel=kernel,
        tid=tid,
        group=group,
        mm=FakeMM(),
        restart_block=None,
        comm=b"prog",
        robust_list=(0, 0),
        state=TaskState.RUNNABLE,
        pdeath_signal=0,
    )
    task.restart_state = lambda: Task.restart_state(task)
    group.tasks.append(task)
    group.live_tasks.append(task)
    kernel.tasks[tid] = task
    return task


def errno_of(call, *args) -> int:
    with pytest.raises(SysError) as info:
        call(*args)
    return info.value.errno


# --- time ----------------------------------------------------------------------------------


def test_timespec_validation():
    assert systime.timespec_to_ns(0, 0) == 0
    assert systime.timespec_to_ns(2, 999_999_999) == 2_999_999_999
    for bad in ((0, 1_000_000_000), (0, -1), (-1, 0)):
        assert errno_of(systime.timespec_to_ns, *bad) == EINVAL
    assert TIMESPEC.unpack(systime.ns_to_timespec(3_000_000_007)) == (3, 7)


def test_times_return_value_matches_linux_formula():
    # HZ=250: INITIAL_JIFFIES = 2**32 - 75000; 98689 jiffies of uptime -> 1717996394 ticks.
    if systime.jiffy_ns() != 4_000_000:
        pytest.skip("host HZ is not 250")
    assert systime.jiffies_to_clock_t(98689 * 4_000_000) == 1717996394


def test_clock_gettime_and_coarse_clock():
    task = make_task()
    systime.sys_clock_gettime(task, CLOCK_REALTIME, BASE)
    assert TIMESPEC.unpack(task.mm.copy_in(BASE, 16)) == (1_700_000_000, 123_456_789)
    systime.sys_clock_gettime(task, CLOCK_MONOTONIC_COARSE, BASE)
    seconds, nanoseconds = TIMESPEC.unpack(task.mm.copy_in(BASE, 16))
    assert (seconds * 10**9 + nanoseconds) % systime.jiffy_ns() == 0
    assert seconds * 10**9 + nanoseconds <= task.kernel.clock.mono
    assert errno_of(systime.sys_clock_gettime, task, 10, BASE) == EINVAL
    assert errno_of(systime.sys_clock_gettime, task, 16, BASE) == EINVAL
    with pytest.raises(Fault):
        systime.sys_clock_gettime(task, CLOCK_MONOTONIC, 1)


def test_cpu_clockids():
    task = make_task(tid=42)
    process_of_self = (~0 << 3) | systime.CPUCLOCK_SCHED  # MAKE_PROCESS_CPUCLOCK(0, SCHED)
    thread_of_42 = (~42 << 3) | systime.CPUCLOCK_SCHED | systime.CPUCLOCK_PERTHREAD_MASK
    assert systime.sys_clock_gettime(task, process_of_self, BASE) == 0
    assert systime.sys_clock_gettime(task, thread_of_42, BASE) == 0
    other_thread = (~43 << 3) | systime.CPUCLOCK_SCHED | systime.CPUCLOCK_PERTHREAD_MASK
    assert errno_of(systime.sys_clock_gettime, task, other_thread, BASE) == EINVAL
    assert errno_of(systime.sys_clock_gettime, task, (~3 << 3) | systime.CLOCKFD, BASE) == EINVAL
    systime.sys_clock_getres(task, (~0 << 3) | systime.CPUCLOCK_PROF, BASE)
    assert TIMESPEC.unpack(task.mm.copy_in(BASE, 16)) == (0, systime.jiffy_ns())


def test_clock_getres():
    task = make_task()
    assert systime.sys_clock_getres(task, CLOCK_MONOTONIC, 0) == 0
    systime.sys_clock_getres(task, CLOCK_THREAD_CPUTIME_ID, BASE)
    assert TIMESPEC.unpack(task.mm.copy_in(BASE, 16)) == (0, 1)
    assert errno_of(systime.sys_clock_getres, task, 10, 0) == EINVAL


def test_nanosleep_blocks_until_the_first_deadline():
    task = make_task()
    clock = task.kernel.clock
    task.mm.copy_out(BASE, TIMESPEC.pack(0, 20_000_000))
    with pytest.raises(Block) as info:
        systime.sys_nanosleep(task, BASE, 0)
    assert info.value.deadline == pytest.approx((clock.mono + 20_000_000) / 1e9)
    # A retry after a spurious wakeup must not extend the sleep, nor re-read the request.
    clock.advance(5_000_000)
    task.mm.copy_out(BASE, TIMESPEC.pack(9, 0))
    with pytest.raises(Block) as info:
        systime.sys_nanosleep(task, BASE, 0)
    assert info.value.deadline == pytest.approx((clock.mono + 15_000_000) / 1e9)
    clock.advance(15_000_000)
    assert systime.sys_nanosleep(task, BASE, 0) == 0


def test_nanosleep_errors_and_zero():
    task = make_task()
    task.mm.copy_out(BASE, TIMESPEC.pack(0, 1_000_000_000))
    assert errno_of(systime.sys_nanosleep, task, BASE, 0) == EINVAL
    assert task.restart_block is None
    with pytest.raises(Fault):
        systime.sys_nanosleep(task, 1, 0)
    task.mm.copy_out(BASE, TIMESPEC.pack(0, 0))
    assert systime.sys_nanosleep(task, BASE, 0) == 0


def test_sleep_interrupted_writes_remaining_time():
    task = make_task()
    task.mm.copy_out(BASE, TIMESPEC.pack(1, 0))
    with pytest.raises(Block) as info:
        systime.sys_nanosleep(task, BASE, BASE + 16)
    on_signal = info.value.on_signal
    task.kernel.clock.advance(250_000_000)
    assert on_signal(task) == -ERESTART_RESTARTBLOCK
    assert TIMESPEC.unpack(task.mm.copy_in(BASE + 16, 16)) == (0, 750_000_000)
    task.restart_block.rem_addr = 1
    assert on_signal(task) == -EFAULT
    task.kernel.clock.advance(750_000_000)
    assert on_signal(task) == 0


def test_clock_nanosleep_clocks_and_absolute_time():
    task = make_task()
    task.mm.copy_out(BASE, TIMESPEC.pack(0, 0))
    for clockid in (CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_COARSE, 4, 5, 8, 9):
        assert errno_of(systime.sys_clock_nanosleep, task, clockid, 0, BASE, 0) == EOPNOTSUPP
    assert errno_of(systime.sys_clock_nanosleep, task, 10, 0, BASE, 0) == EINVAL
    own_thread = (~0 << 3) | systime.CPUCLOCK_SCHED | systime.CPUCLOCK_PERTHREAD_MASK
    assert errno_of(systime.sys_clock_nanosleep, task, own_thread, 0, BASE, 0) == EINVAL
    # Absolute realtime: the deadline is translated to the monotonic clock.
    target = task.kernel.clock.real + 30_000_000
    task.mm.copy_out(BASE, TIMESPEC.pack(*divmod(target, 10**9)))
    with pytest.raises(Block) as info:
        systime.sys_clock_nanosleep(task, CLOCK_REALTIME, TIMER_ABSTIME, BASE, 0)
    assert info.value.deadline == pytest.approx((task.kernel.clock.mono + 30_000_000) / 1e9)
    task.kernel.clock.advance(30_000_000)
    assert systime.sys_clock_nanosleep(task, CLOCK_REALTIME, TIMER_ABSTIME, BASE, 0) == 0


def test_process_cpu_clock_sleep_polls_each_tick():
    task = make_task()
    task.mm.copy_out(BASE, TIMESPEC.pack(1, 0))
    with pytest.raises(Block) as info:
        systime.sys_clock_nanosleep(task, CLOCK_PROCESS_CPUTIME_ID, 0, BASE, 0)
    assert info.value.deadline == pytest.approx((task.kernel.clock.mono + systime.jiffy_ns()) / 1e9)
    task.kernel.clock.cpu += 10**9
    assert systime.sys_clock_nanosleep(task, CLOCK_PROCESS_CPUTIME_ID, 0, BASE, 0) == 0


def test_gettimeofday_and_time():
    task = make_task()
    task.mm.copy_out(BASE + 16, b"\xff" * 8)
    assert systime.sys_gettimeofday(task, BASE, BASE + 16) == 0
    assert struct.unpack("<qq", task.mm.copy_in(BASE, 16)) == (1_700_000_000, 123_456)
    assert task.mm.copy_in(BASE + 16, 8) == bytes(8)
    assert systime.sys_gettimeofday(task, 0, 0) == 0
    assert systime.sys_time(task, 0) == 1_700_000_000
    with pytest.raises(Fault):
        systime.sys_time(task, 1)


# --- identity ------------------------------------------------------------------------------


def test_setuid_rules():
    creds = Creds(1000, 1000, 2000, 100, 100, 100)
    identity.do_setid(creds, 2000, "uid")  # to the saved id: only euid changes
    assert (creds.uid, creds.euid, creds.suid) == (1000, 2000, 2000)
    assert errno_of(identity.do_setid, creds, 3000, "uid") == EPERM
    assert errno_of(identity.do_setid, creds, identity.INVALID_ID, "uid") == EINVAL
    root = Creds(0, 0, 0, 0, 0, 0)
    identity.do_setid(root, 65534, "uid")  # privileged: all three
    assert (root.uid, root.euid, root.suid) == (65534, 65534, 65534)


def test_setreuid_saved_id_follows():
    creds = Creds(1000, 1000, 1000, 0, 0, 0)
    identity.do_setreid(creds, identity.INVALID_ID, 1000, "uid")
    assert creds.suid == 1000
    root = Creds(0, 0, 0, 0, 0, 0)
    identity.do_setreid(root, identity.INVALID_ID, 500, "uid")  # euid != ruid: saved follows
    assert (root.uid, root.euid, root.suid) == (0, 500, 500)
    unprivileged = Creds(1, 2, 3, 0, 0, 0)
    assert errno_of(identity.do_setreid, unprivileged, 3, identity.INVALID_ID, "uid") == EPERM
    identity.do_setreid(unprivileged, identity.INVALID_ID, 3, "uid")
    assert (unprivileged.uid, unprivileged.euid, unprivileged.suid) == (1, 3, 3)


def test_setresuid_rules():
    creds = Creds(1, 2, 3, 0, 0, 0)
    identity.do_setresid(creds, (3, identity.INVALID_ID, 1), "uid")
    assert (creds.uid, creds.euid, creds.suid) == (3, 2, 1)
    assert (
        errno_of(identity.do_setresid, creds, (identity.INVALID_ID, 9, identity.INVALID_ID), "uid") == EPERM
    )
    root = Creds(0, 0, 0, 0, 0, 0)
    identity.do_setresid(root, (identity.INVALID_ID, 9, identity.INVALID_ID), "gid")
    assert (root.gid, root.egid, root.sgid, root.euid) == (0, 9, 0, 0)


def test_euid_change_resets_dumpable_and_pdeathsig():
    task = make_task(euid=0)
    task.mm.dumpable = 1
    task.pdeath_signal = 9
    identity.sys_setresuid(task, identity.INVALID_ID, 5, identity.INVALID_ID)
    assert task.mm.dumpable == identity.suid_dumpable()
    assert task.pdeath_signal == 0


def test_getgroups():
    task = make_task()
    assert identity.sys_getgroups(task, 0, 0) == 3
    assert identity.sys_getgroups(task, 3, BASE) == 3
    assert identity.unpack_ids(task.mm.copy_in(BASE, 12)) == [100, 4, 27]
    assert errno_of(identity.sys_getgroups, task, 2, BASE) == EINVAL
    assert errno_of(identity.sys_getgroups, task, -1, BASE) == EINVAL
    assert errno_of(identity.sys_setgroups, task, 1, BASE) == EPERM


def test_rlimit_rules():
    old = (1024, 4096)
    identity.check_new_rlimit(RLIMIT_NOFILE, old, (10, 4096), privileged=False)
    assert errno_of(identity.check_new_rlimit, RLIMIT_NOFILE, old, (10, 5), False) == EINVAL
    assert errno_of(identity.check_new_rlimit, RLIMIT_NOFILE, old, (10, 5000), False) == EPERM
    identity.check_new_rlimit(RLIMIT_NOFILE, old, (10, 5000), privileged=True)
    assert errno_of(identity.check_new_rlimit, RLIMIT_NOFILE, old, (10, 1 << 40), True) == EPERM
    identity.check_new_rlimit(RLIMIT_STACK, (1, 2), (RLIM_INFINITY, RLIM_INFINITY), privileged=True)


def test_prlimit64_round_trip_and_errors():
    task = make_task()
    task.mm.copy_out(BASE, struct.pack("<QQ", 64, 4096))
    assert identity.sys_prlimit64(task, 0, RLIMIT_NOFILE, BASE, BASE + 16) == 0
    assert struct.unpack("<QQ", task.mm.copy_in(BASE + 16, 16)) == (1024, 4096)
    assert task.group.rlimits[RLIMIT_NOFILE] == (64, 4096)
    assert task.group.files.max_fds == 64  # the fd table allocates below the new limit
    assert identity.sys_getrlimit(task, RLIMIT_STACK, BASE) == 0  # absent: unlimited
    assert struct.unpack("<QQ", task.mm.copy_in(BASE, 16)) == (RLIM_INFINITY, RLIM_INFINITY)
    assert errno_of(identity.sys_getrlimit, task, 16, BASE) == EINVAL
    assert errno_of(identity.sys_prlimit64, task, 99999, RLIMIT_NOFILE, 0, BASE) == ESRCH
    with pytest.raises(Fault):
        identity.sys_prlimit64(task, 0, RLIMIT_NOFILE, 1, 0)


def test_arch_prctl():
    task = make_task()
    bases = {}
    task.set_fs_base = lambda value: bases.__setitem__("fs", value)
    task.get_fs_base = lambda: bases["fs"]
    assert identity.sys_arch_prctl(task, identity.ARCH_SET_FS, 0x7000) == 0
    assert identity.sys_arch_prctl(task, identity.ARCH_GET_FS, BASE) == 0
    assert task.mm.copy_in_u64(BASE) == 0x7000
    assert errno_of(identity.sys_arch_prctl, task, identity.ARCH_SET_FS, TASK_SIZE) == EPERM
    assert identity.sys_arch_prctl(task, identity.ARCH_GET_CPUID, 0) == 1
    assert errno_of(identity.sys_arch_prctl, task, identity.ARCH_SET_CPUID, 0) == identity.ENODEV
    assert errno_of(identity.sys_arch_prctl, task, 0x9999, 0) == EINVAL


def test_robust_list_and_tid_address():
    task = make_task()
    assert identity.sys_set_tid_address(task, 0x1234) == 42 and task.tid_address == 0x1234
    assert errno_of(identity.sys_set_robust_list, task, 0x5000, 23) == EINVAL
    identity.sys_set_robust_list(task, 0x5000, 24)
    identity.sys_get_robust_list(task, 0, BASE, BASE + 8)
    assert (task.mm.copy_in_u64(BASE), task.mm.copy_in_u64(BASE + 8)) == (0x5000, 24)
    assert errno_of(identity.sys_get_robust_list, task, 7, BASE, BASE + 8) == ESRCH


# --- misc ----------------------------------------------------------------------------------


def test_getrandom_flags():
    for flags in (0, GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE, GRND_NONBLOCK | GRND_INSECURE):
        misc.check_getrandom_flags(flags)
    assert errno_of(misc.check_getrandom_flags, 8) == EINVAL
    assert errno_of(misc.check_getrandom_flags, GRND_RANDOM | GRND_INSECURE) == EINVAL


def test_getrandom_partial_fill_stops_at_the_unmapped_page():
    task = make_task()
    end = BASE + len(task.mm.memory)
    assert misc.sys_getrandom(task, end - 4096, 3 * 4096, 0) == 4096
    assert misc.sys_getrandom(task, BASE, 0, 0) == 0
    assert errno_of(misc.sys_getrandom, task, 0, 16, 0) == EFAULT


def test_cpu_masks():
    assert misc.parse_cpu_list("0-3,8,10-11\n") == frozenset({0, 1, 2, 3, 8, 10, 11})
    assert misc.parse_cpu_list("0") == frozenset({0})
    assert misc.pack_cpu_mask(frozenset({0, 9}), 8) == b"\x01\x02" + bytes(6)
    assert misc.unpack_cpu_mask(b"\x01\x02") == frozenset({0, 9})
    assert misc.pack_cpu_mask(frozenset({70}), 8) == bytes(8)  # beyond the buffer: cut


def test_sched_affinity_round_trip():
    task = make_task()
    size = misc.cpumask_size()
    assert misc.sys_sched_getaffinity(task, 0, 1024, BASE) == min(1024, size)
    assert errno_of(misc.sys_sched_getaffinity, task, 0, 12, BASE) == EINVAL
    assert errno_of(misc.sys_sched_getaffinity, task, 0, 0, BASE) == EINVAL
    cpu = min(misc.online_cpus())
    task.mm.copy_out(BASE, misc.pack_cpu_mask(frozenset({cpu}), 8))
    assert misc.sys_sched_setaffinity(task, 0, 8, BASE) == 0
    assert task.cpu_affinity == frozenset({cpu})
    misc.sys_getcpu(task, BASE + 64, BASE + 68, 0)
    assert (task.mm.copy_in_u32(BASE + 64), task.mm.copy_in_u32(BASE + 68)) == (cpu, 0)
    task.mm.copy_out(BASE, misc.pack_cpu_mask(frozenset({1023}), 128))
    assert errno_of(misc.sys_sched_setaffinity, task, 0, 128, BASE) == EINVAL


def test_utsname_and_sysinfo_layout():
    packed = misc.pack_utsname(["Linux", "n" * 80, "6.1", "#1", "x86_64", "(none)"])
    assert len(packed) == 6 * 65
    assert packed[65 : 65 + 65] == b"n" * 64 + b"\0"
    assert SYSINFO.size == 112
    assert misc.parse_meminfo("MemTotal:  2048 kB\nHugePages_Total:  3\n") == {
        "MemTotal": 2048 * 1024,
        "HugePages_Total": 3,
    }
    assert misc.load_to_fixed(1.0) == 65536


def test_prctl_name_dumpable_pdeathsig():
    task = make_task()
    task.mm.copy_out(BASE, b"a-rather-long-thread-name\0")
    misc.sys_prctl(task, misc.PR_SET_NAME, BASE, 0, 0, 0)
    assert task.comm == b"a-rather-long-t"
    misc.sys_prctl(task, misc.PR_GET_NAME, BASE + 64, 0, 0, 0)
    assert task.mm.copy_in(BASE + 64, 16) == b"a-rather-long-t\0"
    end = BASE + len(task.mm.memory)
    task.mm.copy_out(end - 3, b"ab\0")  # a short name right before unmapped memory
    misc.sys_prctl(task, misc.PR_SET_NAME, end - 3, 0, 0, 0)
    assert task.comm == b"ab"
    assert misc.sys_prctl(task, misc.PR_GET_DUMPABLE, 0, 0, 0, 0) == 1
    assert errno_of(misc.sys_prctl, task, misc.PR_SET_DUMPABLE, 2, 0, 0, 0) == EINVAL
    misc.sys_prctl(task, misc.PR_SET_PDEATHSIG, 9, 0, 0, 0)
    misc.sys_prctl(task, misc.PR_GET_PDEATHSIG, BASE, 0, 0, 0)
    assert task.mm.copy_in_u32(BASE) == 9
    assert errno_of(misc.sys_prctl, task, misc.PR_SET_PDEATHSIG, 65, 0, 0, 0) == EINVAL
    assert errno_of(misc.sys_prctl, task, 0x7FFF, 0, 0, 0, 0) == EINVAL


def test_rseq_is_declared_unsupported():
    assert errno_of(misc.sys_rseq, make_task(), 0, 32, 0, 0) == ENOSYS
