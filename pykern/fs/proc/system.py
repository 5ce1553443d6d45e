"""The machine-wide files of /proc and /proc/sys.

Where each value comes from:
- pykern's own tables: the task counts and last pid of loadavg, stat's processes,
  procs_running and btime (from pykern's clock), uptime (pykern's clock, as sysinfo's
  uptime), filesystems (the types pykern mounts), cpuinfo (what CPUID answers under
  Unicorn, run once in a scratch instance: the guest's CPU, not the host's), pid_max,
  threads-max (--max-tasks, the limit fork checks), the pipe and overcommit settings
  pykern implements;
- the host, because the guest runs on it and the syscalls say the same: meminfo and swaps
  (sysinfo reads the same totals), the load averages (sysinfo's), the cpu time lines of stat, uptime's idle
  time, version, ostype/osrelease/hostname/domainname (uname's).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from pykern.abi import CAP_LAST_CAP, EINVAL, NGROUPS_MAX, NR_OPEN, PIPE_MAX_SIZE
from pykern.errors import SysError
from pykern.ipc import ipc_namespace
from pykern.mm import MMAP_MIN_ADDR
from pykern.task import TaskState

if TYPE_CHECKING:
    from pykern.kernel import Kernel

PID_MAX = 4194304  # PID_MAX_LIMIT on 64-bit: pykern's pids never wrap
# Host file systems backed by a device (listed without "nodev" in /proc/filesystems).
DEVICE_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "f2fs", "iso9660",
                                "squashfs", "fuseblk", "jfs", "reiserfs", "ntfs3"})
PYKERN_FILESYSTEMS = ("proc", "tmpfs", "devtmpfs")


def read_host(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as file:
            return file.read()
    except OSError:
        return default


# --- meminfo, uptime, loadavg, stat, version ----------------------------------------------------------

# --deterministic: the host's free memory and load change from run to run, so the guest
# sees a machine whose numbers are fixed (4 GiB, 3 GiB of it free, idle).
FIXED_MEMINFO_KB = (("MemTotal", 4 << 20), ("MemFree", 3 << 20), ("MemAvailable", 3 << 20), ("Buffers", 0),
                    ("Cached", 0), ("SwapCached", 0), ("Shmem", 0), ("SwapTotal", 0), ("SwapFree", 0))


def host_meminfo(kernel: Kernel) -> str:
    """/proc/meminfo's text: the host's, or under --deterministic FIXED_MEMINFO_KB."""
    if kernel.options.deterministic:
        return "".join(f"{name + ':':<16}{kb:8d} kB\n" for name, kb in FIXED_MEMINFO_KB)
    return read_host("/proc/meminfo")


def host_loadavg(kernel: Kernel) -> tuple[float, float, float]:
    """The load averages: the host's, or under --deterministic an idle machine's."""
    return (0.0, 0.0, 0.0) if kernel.options.deterministic else os.getloadavg()


def show_meminfo(kernel: Kernel) -> bytes:
    """The host's memory, the same source as sysinfo(2) (host_meminfo), but for the commit
    lines, which are the guest's (pykern.overcommit: CommitLimit from --max-memory)."""
    overcommit = kernel.overcommit
    ours = {"CommitLimit": overcommit.commit_limit(), "Committed_AS": overcommit.committed()}
    lines = []
    for line in host_meminfo(kernel).splitlines(keepends=True):
        name = line.partition(":")[0]
        if name in ours:
            line = f"{name}:{ours.pop(name) // 1024:>{23 - len(name)}} kB\n"
        lines.append(line)
    lines += [f"{name}:{value // 1024:>{23 - len(name)}} kB\n" for name, value in ours.items()]
    return "".join(lines).encode(errors="surrogateescape")


def show_swaps(kernel: Kernel) -> bytes:
    """The host's swap areas (sysinfo's swap totals are the host's too)."""
    return read_host("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n").encode(
        errors="surrogateescape")


def show_uptime(kernel: Kernel) -> bytes:
    uptime_ns = kernel.clock.boottime_ns()
    fields = [] if kernel.options.deterministic else read_host("/proc/uptime").split()
    idle = fields[1] if len(fields) > 1 else "0.00"
    seconds, rest = divmod(uptime_ns, 1_000_000_000)
    return f"{seconds}.{rest // 10_000_000:02d} {idle}\n".encode()


def guest_tasks(kernel: Kernel) -> list:
    return [task for task in kernel.tasks.values() if task.state is not TaskState.DEAD]


def last_pid(kernel: Kernel) -> int:
    return max(kernel._next_pid - 1, 1)


def show_loadavg(kernel: Kernel) -> bytes:
    loads = host_loadavg(kernel)
    tasks = guest_tasks(kernel)
    running = sum(task.state is TaskState.RUNNABLE for task in tasks)
    head = " ".join(f"{load:.2f}" for load in loads)
    return f"{head} {running}/{len(tasks)} {last_pid(kernel)}\n".encode()


def show_stat(kernel: Kernel) -> bytes:
    cpu_lines = [] if kernel.options.deterministic else \
        [line for line in read_host("/proc/stat").splitlines() if line.startswith("cpu")]
    if not cpu_lines:
        cpu_lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    boot = (kernel.clock.realtime_ns() - kernel.clock.boottime_ns()) // 1_000_000_000
    tasks = guest_tasks(kernel)
    running = sum(task.state is TaskState.RUNNABLE for task in tasks)
    lines = cpu_lines + [
        "intr 0",
        "ctxt 0",
        f"btime {boot}",
        f"processes {last_pid(kernel) - 1}",
        f"procs_running {max(running, 1)}",
        "procs_blocked 0",
        "softirq 0 0 0 0 0 0 0 0 0 0 0",
    ]
    return ("\n".join(lines) + "\n").encode()


def show_version(kernel: Kernel) -> bytes:
    text = read_host("/proc/version")
    if not text:
        host = os.uname()
        text = f"Linux version {host.release} (pykern) {host.version}\n"
    return text.encode(errors="surrogateescape")


def show_filesystems(kernel: Kernel) -> bytes:
    types = list(PYKERN_FILESYSTEMS)
    for mount in kernel.mounts.mounts:
        if mount.fs.fstype not in types:
            types.append(mount.fs.fstype)
    return "".join(f"{'' if t in DEVICE_FILESYSTEMS else 'nodev'}\t{t}\n" for t in types).encode()


# --- cpuinfo ---------------------------------------------------------------------------------------

# Linux's x86_cap_flags names (arch/x86/include/asm/cpufeatures.h) of the CPUID words
# it shows, in its word order: (leaf, register) -> {bit: name}. Features Linux hides
# ("" names) and its synthetic words are left out.
CPUID_FLAG_WORDS: tuple[tuple[int, str, dict[int, str]], ...] = (
    (0x1, "edx", {0: "fpu", 1: "vme", 2: "de", 3: "pse", 4: "tsc", 5: "msr", 6: "pae", 7: "mce", 8: "cx8",
                  9: "apic", 11: "sep", 12: "mtrr", 13: "pge", 14: "mca", 15: "cmov", 16: "pat", 17: "pse36",
                  18: "pn", 19: "clflush", 21: "dts", 22: "acpi", 23: "mmx", 24: "fxsr", 25: "sse", 26: "sse2",
                  27: "ss", 28: "ht", 29: "tm", 30: "ia64", 31: "pbe"}),
    (0x80000001, "edx", {11: "syscall", 19: "mp", 20: "nx", 22: "mmxext", 25: "fxsr_opt", 26: "pdpe1gb",
                         27: "rdtscp", 29: "lm", 30: "3dnowext", 31: "3dnow"}),
    (0x1, "ecx", {0: "pni", 1: "pclmulqdq", 2: "dtes64", 3: "monitor", 4: "ds_cpl", 5: "vmx", 6: "smx", 7: "est",
                  8: "tm2", 9: "ssse3", 10: "cid", 11: "sdbg", 12: "fma", 13: "cx16", 14: "xtpr", 15: "pdcm",
                  17: "pcid", 18: "dca", 19: "sse4_1", 20: "sse4_2", 21: "x2apic", 22: "movbe", 23: "popcnt",
                  24: "tsc_deadline_timer", 25: "aes", 26: "xsave", 28: "avx", 29: "f16c", 30: "rdrand",
                  31: "hypervisor"}),
    (0x80000001, "ecx", {0: "lahf_lm", 1: "cmp_legacy", 2: "svm", 3: "extapic", 4: "cr8_legacy", 5: "abm",
                         6: "sse4a", 7: "misalignsse", 8: "3dnowprefetch", 9: "osvw", 10: "ibs", 11: "xop",
                         12: "skinit", 13: "wdt", 15: "lwp", 16: "fma4", 17: "tce", 19: "nodeid_msr", 21: "tbm",
                         22: "topoext", 23: "perfctr_core", 24: "perfctr_nb", 26: "bpext", 27: "ptsc",
                         28: "perfctr_llc", 29: "mwaitx"}),
    (0x7, "ebx", {0: "fsgsbase", 1: "tsc_adjust", 2: "sgx", 3: "bmi1", 4: "hle", 5: "avx2", 7: "smep", 8: "bmi2",
                  9: "erms", 10: "invpcid", 11: "rtm", 12: "cqm", 14: "mpx", 15: "rdt_a", 16: "avx512f",
                  17: "avx512dq", 18: "rdseed", 19: "adx", 20: "smap", 21: "avx512ifma", 23: "clflushopt",
                  24: "clwb", 25: "intel_pt", 26: "avx512pf", 27: "avx512er", 28: "avx512cd", 29: "sha_ni",
                  30: "avx512bw", 31: "avx512vl"}),
    (0x7, "ecx", {1: "avx512vbmi", 2: "umip", 3: "pku", 4: "ospke", 5: "waitpkg", 6: "avx512_vbmi2", 8: "gfni",
                  9: "vaes", 10: "vpclmulqdq", 11: "avx512_vnni", 12: "avx512_bitalg", 13: "tme",
                  14: "avx512_vpopcntdq", 16: "la57", 22: "rdpid", 25: "cldemote", 27: "movdiri",
                  28: "movdir64b"}),
    (0x7, "edx", {2: "avx512_4vnniw", 3: "avx512_4fmaps", 4: "fsrm", 8: "avx512_vp2intersect", 10: "md_clear",
                  14: "serialize", 16: "tsxldtrk", 18: "pconfig", 19: "arch_lbr", 22: "amx_bf16",
                  23: "avx512_fp16", 24: "amx_tile", 25: "amx_int8", 28: "flush_l1d", 29: "arch_capabilities"}),
)  # fmt: skip
_REGISTERS = ("eax", "ebx", "ecx", "edx")


@functools.cache
def guest_cpuid() -> dict[int, tuple[int, int, int, int]]:
    """CPUID leaves as the guest's CPU answers them: executed in a scratch Unicorn
    instance, since pykern does not intercept the instruction."""
    from pykern import uc_const as X
    from pykern.hostmem import Backing
    from pykern.mm import new_unicorn

    uc = new_unicorn()
    code = Backing(4096)
    uc.mem_map_ptr(0x1000, 4096, X.UC_PROT_READ | X.UC_PROT_EXEC, code.ptr)
    uc.mem_write(0x1000, b"\x0f\xa2")  # cpuid
    registers = (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX)

    def cpuid(leaf: int) -> tuple[int, int, int, int]:
        uc.reg_write(X.UC_X86_REG_RAX, leaf)
        uc.reg_write(X.UC_X86_REG_RCX, 0)
        uc.emu_start(0x1000, 0x1002)
        return tuple(uc.reg_read(r) & 0xFFFFFFFF for r in registers)  # type: ignore[return-value]

    leaves: dict[int, tuple[int, int, int, int]] = {}
    basic_max = cpuid(0)[0]
    extended_max = cpuid(0x80000000)[0]
    for leaf in (0, 1, 7):
        leaves[leaf] = cpuid(leaf) if leaf <= basic_max else (0, 0, 0, 0)
    for leaf in (0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000008):
        leaves[leaf] = cpuid(leaf) if leaf <= extended_max else (0, 0, 0, 0)
    uc.close()
    return leaves


def _text(*words: int) -> str:
    return b"".join(w.to_bytes(4, "little") for w in words).rstrip(b"\0").decode("ascii", "replace").strip()


def cpu_flags(leaves: dict[int, tuple[int, int, int, int]]) -> list[str]:
    flags = []
    for leaf, register, names in CPUID_FLAG_WORDS:
        value = leaves.get(leaf, (0, 0, 0, 0))[_REGISTERS.index(register)]
        flags += [names[bit] for bit in sorted(names) if value >> bit & 1]
    return flags


def show_cpuinfo(kernel: Kernel) -> bytes:
    leaves = guest_cpuid()
    _, vendor_b, vendor_c, vendor_d = leaves[0]
    vendor = _text(vendor_b, vendor_d, vendor_c)
    signature = leaves[1][0]
    family = (signature >> 8) & 0xF
    model = (signature >> 4) & 0xF
    if family == 0xF:
        family += (signature >> 20) & 0xFF
    if family >= 6:
        model += ((signature >> 16) & 0xF) << 4
    brand = _text(*leaves[0x80000002], *leaves[0x80000003], *leaves[0x80000004]) or "unknown"
    sizes = leaves[0x80000008][0]
    physical, virtual = (sizes & 0xFF) or 36, ((sizes >> 8) & 0xFF) or 48
    flags = " ".join(cpu_flags(leaves))
    count = os.cpu_count() or 1
    blocks = []
    for cpu in range(count):
        blocks.append(
            f"processor\t: {cpu}\n"
            f"vendor_id\t: {vendor}\n"
            f"cpu family\t: {family}\n"
            f"model\t\t: {model}\n"
            f"model name\t: {brand}\n"
            f"stepping\t: {signature & 0xF}\n"
            f"physical id\t: 0\n"
            f"siblings\t: {count}\n"
            f"core id\t\t: {cpu}\n"
            f"cpu cores\t: {count}\n"
            f"apicid\t\t: {cpu}\n"
            f"initial apicid\t: {cpu}\n"
            "fpu\t\t: yes\n"
            "fpu_exception\t: yes\n"
            f"cpuid level\t: {leaves[0][0]}\n"
            "wp\t\t: yes\n"
            f"flags\t\t: {flags}\n"
            "bugs\t\t:\n"
            "clflush size\t: 64\n"
            "cache_alignment\t: 64\n"
            f"address sizes\t: {physical} bits physical, {virtual} bits virtual\n"
            "power management:\n\n"
        )
    return "".join(blocks).encode()


# --- /proc/sys -------------------------------------------------------------------------------------


def random_uuid(kernel: Kernel) -> str:
    """A random (version 4) UUID as /proc/sys/kernel/random/uuid shows one, as the uuid
    module's uuid4() makes it (not imported: with platform, about 3 ms of start-up)."""
    raw = bytearray(kernel.random_bytes(16))
    raw[6] = raw[6] & 0x0F | 0x40  # RFC 4122 4.4: version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def sysctl_values(kernel: Kernel, boot_id: str) -> dict[bytes, dict[bytes, object]]:
    """/proc/sys's directories: name -> file name -> its content (bytes, or a function
    of nothing for contents computed at open)."""
    host = os.uname()
    threads_max = kernel.options.max_tasks  # copy_process's limit (--max-tasks)
    domainname = read_host("/proc/sys/kernel/domainname").strip() or "(none)"
    ipc = ipc_namespace(kernel).sysctls()  # shm*, sem, msg*, *_next_id; fs/mqueue (writable)
    return {
        b"kernel": {
            b"ostype": b"Linux\n",
            b"osrelease": f"{host.release}\n".encode(),
            b"version": f"{host.version}\n".encode(),
            b"hostname": f"{host.nodename}\n".encode(),
            b"domainname": f"{domainname}\n".encode(),
            b"pid_max": f"{PID_MAX}\n".encode(),
            b"threads-max": f"{threads_max}\n".encode(),
            b"ngroups_max": f"{NGROUPS_MAX}\n".encode(),
            b"cap_last_cap": f"{CAP_LAST_CAP}\n".encode(),
            b"tainted": b"0\n",
            b"randomize_va_space": b"0\n",  # pykern places stacks and mappings at fixed addresses
            **ipc[b"kernel"],
        },
        b"fs/mqueue": ipc[b"fs/mqueue"],
        b"kernel/random": {
            b"boot_id": f"{boot_id}\n".encode(),
            b"uuid": lambda: f"{random_uuid(kernel)}\n".encode(),
            b"entropy_avail": b"256\n",  # Linux >= 5.18: the pool is always full
            b"poolsize": b"256\n",
        },
        # overcommit_memory, _ratio, _kbytes: pykern.overcommit's policy (writable).
        # No huge pages: a write asking for some is taken, and the pool stays empty, as
        # on a Linux that found no memory for them
        b"vm": {**kernel.overcommit.sysctls(), b"max_map_count": b"65530\n",
                b"nr_hugepages": (lambda: b"0\n", _take_hugepages),
                b"mmap_min_addr": f"{MMAP_MIN_ADDR}\n".encode()},
        b"fs": {b"pipe-max-size": f"{PIPE_MAX_SIZE}\n".encode(), b"nr_open": f"{NR_OPEN}\n".encode(),
                b"file-max": b"9223372036854775807\n", b"pipe-user-pages-soft": b"16384\n",
                b"pipe-user-pages-hard": b"0\n", b"lease-break-time": b"45\n"},
    }


def _take_hugepages(task: object, data: bytes) -> int:
    if not data.strip().isdigit():
        raise SysError(EINVAL)
    return len(data)


HOST_CONFIG_GZ = "/proc/config.gz"


def show_config_gz() -> bytes:
    """/proc/config.gz: the configuration of the kernel the guest is told it runs on
    (uname's release is the host's, so is this); absent when the host has none."""
    try:
        with open(HOST_CONFIG_GZ, "rb") as config:
            return config.read()
    except OSError:
        return b""
