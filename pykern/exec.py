"""execve: replace a process's image (Linux's fs/exec.c and fs/binfmt_elf.c).

do_execve reads the file, follows "#!" interpreters (binfmt_script), asks the pure
loader for a load plan and an initial stack image, and builds a complete new address
space. Only then, past the point of no return, does it swap the image in: before that,
every error leaves the old image intact and is returned to the caller.
"""

from __future__ import annotations

import os
import stat as host_stat
from typing import TYPE_CHECKING, NamedTuple

from pykern import uc_const as X
from pykern.abi import (
    AT_FDCWD,
    AT_SYSINFO_EHDR,
    EACCES,
    ELOOP,
    MAP_ANONYMOUS,
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    O_RDONLY,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    RLIMIT_STACK,
    X_OK,
)
from pykern.errors import ExecImage, SysError
from pykern.exit import retire_mm, vfork_done
from pykern.fs.file import HostFile
from pykern.fs.namei import d_path, lookup
from pykern.fs.proc.task_mmu import mapped_file_name
from pykern.futex import futex_exit_release
from pykern.hostmem import Backing
from pykern.ipc.shm import shm_exit
from pykern.loader import (
    LoadPlan,
    StackImage,
    build_stack,
    check_arg_limits,
    make_auxv,
    parse_shebang,
    plan_elf,
    script_argv,
)
from pykern.mm import MM, STACK_SIZE, STACK_TOP, ImageLayout
from pykern.sigtypes import AltStack
from pykern.task import GPRS

if TYPE_CHECKING:
    from pykern.fs.mount import Location
    from pykern.task import Task

FPU_CONTROL_DEFAULT = 0x037F  # x87: all exceptions masked, 64-bit precision, round to nearest
FPU_TAGS_EMPTY = 0xFFFF
MXCSR_DEFAULT = 0x1F80  # SSE: all exceptions masked, round to nearest
BINPRM_MAX_RECURSION = 4  # nested "#!" interpreters, as Linux allows
# CPUID.1:EDX of a generic x86-64 CPU: what Linux puts in AT_HWCAP on x86.
X86_HWCAP = 0x178BFBFF


class Executable(NamedTuple):
    """A file execve can run: where it is (guest), a host path for its symbols, its bytes,
    and its version for the page cache (None: not to be cached; see mm.PageCache)."""

    location: Location | None
    host_path: str
    data: bytes
    version: tuple[int, ...] | None = None


def open_exec(task: Task, filename: bytes) -> Executable:
    """do_open_execat: walk `filename` in the guest's tree, check that it is a regular
    file the caller may execute (EACCES), and read it."""
    found = lookup(task, AT_FDCWD, filename)
    file = found.file
    if file is None:
        inode = found.inode
        if not host_stat.S_ISREG(inode.mode):
            raise SysError(EACCES)
        inode.access(task, X_OK, True, True)
        file = inode.open(task, O_RDONLY)
    elif not host_stat.S_ISREG(file.stat().mode) or not isinstance(file, HostFile):
        raise SysError(EACCES)  # /proc/self/fd/N of a pipe or a socket
    file.get_file()
    try:
        # A file that has not changed since an exec read it is not read again (a shell
        # loop running busybox read its 2 MB at every exec). The version is taken before
        # and after a read: one that changed while read is not cached.
        cache = task.kernel.mm_pool.page_cache
        version = cache.file_version(file.host_fd)
        data = cache.file_data(version) if version is not None else None
        if data is None:
            data = file.read_all()
            if version is not None and (len(data) != version[2] or cache.file_version(file.host_fd) != version):
                version = None
            if version is not None:
                cache.add_file_data(version, data)
        return Executable(found.location, file.host_path_now(), data, version)
    finally:
        file.fput()


def load_binary(task: Task, filename: bytes, argv: list[bytes]
                ) -> tuple[Executable, LoadPlan, list[bytes], tuple[Executable, LoadPlan] | None, str]:
    """Follow "#!" lines to an ELF: (the file, its plan, the final argv, its PT_INTERP
    program and its plan at address 0 if it is dynamically linked, and that
    program's name in /proc/PID/maps). Everything that can fail fails here, before the
    old image is touched: a missing interpreter is ENOENT."""
    for _ in range(BINPRM_MAX_RECURSION + 1):
        image = open_exec(task, filename)
        shebang = parse_shebang(image.data)
        if shebang is None:
            plan = plan_elf(image.data)
            interp, interp_name = None, ""
            if plan.interp is not None:
                interp_image = open_exec(task, os.fsencode(plan.interp))
                # planned now (at 0: its size) so that a malformed one fails before the point of no return
                interp = interp_image, plan_elf(interp_image.data, pie_base=0)
                interp_name = mapped_name(task, interp_image)
            return image, plan, argv, interp, interp_name
        interp_path, optarg = shebang
        argv = script_argv(interp_path, optarg, os.fsdecode(filename), argv)
        filename = os.fsencode(interp_path)
    raise SysError(ELOOP)


def build_image(task: Task, image: Executable, plan: LoadPlan, argv: list[bytes], envp: list[bytes],
                execfn: bytes, mm: MM | None = None, interp: tuple[Executable, LoadPlan] | None = None,
                names: tuple[str, str] = ("", "")) -> tuple[MM, int, int]:
    """A complete new address space for `plan`: segments, brk, stack, and for a dynamic
    program its interpreter (ld.so) where mmap would put it, announced in AT_BASE; built
    in `mm` if given (an empty one), else in a new one. `names` are the program's and the interpreter's
    names in /proc/PID/maps. Returns (mm, sp, entry): the
    interpreter's entry point if there is one, else the program's."""
    kernel = task.kernel
    creds = task.group.creds
    if mm is None:
        # A recycled MM keeps the code translated from the pages the new image maps at
        # the same place (a shell loop running one program: its text, from the page cache).
        mm = kernel.mm_pool.take(keep_code=True) or kernel.new_mm()
    try:
        entry, base = _map_image(mm, image, plan, interp, names)
        vdso = kernel.vdso.install(mm)  # arch_setup_additional_pages: after the interpreter
    finally:
        mm.drop_stale()
    # ARCH_DLINFO puts AT_SYSINFO_EHDR first
    auxv = [(AT_SYSINFO_EHDR, vdso)] + make_auxv(plan, uid=creds.uid, euid=creds.euid, gid=creds.gid,
                                                 egid=creds.egid, hwcap=X86_HWCAP, base=base)
    stack_limit = task.group.rlimits.get(RLIMIT_STACK, (STACK_SIZE, 0))[0]
    stack = build_stack(STACK_TOP, argv, envp, auxv, execfn=execfn, random16=kernel.random_bytes(16),
                        rlimit_stack=min(stack_limit, 1 << 40))
    mm.uc.mem_write(stack.base, stack.data)
    mm.layout = image_layout(plan, stack, len(argv), len(envp))
    return mm, stack.sp, entry


def _map_image(mm: MM, image: Executable, plan: LoadPlan, interp: tuple[Executable, LoadPlan] | None,
               names: tuple[str, str]) -> tuple[int, int]:
    """Every mapping of the new image: segments, the interpreter's, brk, stack. Returns
    (entry point, AT_BASE)."""
    _map_plan(mm, plan, image, names[0])
    entry, base = plan.entry, 0
    if interp is not None:
        interp_image, at_zero = interp
        span = max(m.end for m in at_zero.mappings) - min(m.start for m in at_zero.mappings)
        interp_plan = plan_elf(interp_image.data, pie_base=mm.choose_address(0, span, 0))
        _map_plan(mm, interp_plan, interp_image, names[1])
        entry, base = interp_plan.entry, interp_plan.load_bias
    mm.init_brk(plan.brk_start)
    stack_prot = PROT_READ | PROT_WRITE | (PROT_EXEC if plan.exec_stack else 0)
    mm.map_anonymous(STACK_TOP - STACK_SIZE, STACK_SIZE, stack_prot, MAP_PRIVATE | MAP_GROWSDOWN, "[stack]")
    return entry, base


def mapped_name(task: Task, image: Executable) -> str:
    """The name the image's mappings have in /proc/PID/maps: its guest path, with its
    device and inode number."""
    if image.location is None:
        return mapped_file_name(image.host_path)
    path = d_path(image.location, task.group.fs.root)
    info = image.location.inode.stat()
    return mapped_file_name(os.fsdecode(path), info.dev, info.ino)


def image_layout(plan: LoadPlan, image: StackImage, argc: int, envc: int) -> ImageLayout:
    """Where the new image keeps what /proc shows (Linux's mm->start_code ... env_end and
    saved_auxv): the program's text and data, the argv and envp strings, the auxv bytes."""
    text = [m for m in plan.mappings if m.prot & PROT_EXEC] or list(plan.mappings)
    data = [m for m in plan.mappings if m.prot & PROT_WRITE] or text
    file_end = max((c.vaddr + c.size for c in plan.copies), default=data[-1].end)
    env_start = image.envp_addrs[0] if image.envp_addrs else image.execfn_addr
    arg_start = image.argv_addrs[0] if image.argv_addrs else env_start
    auxv_at = (1 + argc + 1 + envc + 1) * 8  # after argc, argv[], NULL, envp[], NULL
    auxv = bytearray()
    while auxv_at + 16 <= len(image.data):
        pair = image.data[auxv_at : auxv_at + 16]
        auxv += pair
        auxv_at += 16
        if not any(pair[:8]):  # AT_NULL ends it (and is part of it)
            break
    return ImageLayout(start_code=text[0].start, end_code=text[-1].end, start_data=data[0].start,
                       end_data=min(file_end, data[-1].end), start_stack=image.sp, arg_start=arg_start,
                       arg_end=env_start, env_start=env_start, env_end=image.execfn_addr, auxv=bytes(auxv))


def _map_plan(mm: MM, plan: LoadPlan, image: Executable, path: str = "") -> None:
    """Map the segments; those holding file bytes are named after the file in /proc's
    maps, with the file offset their first page came from.

    A segment's pages are a function of the file's version and the segment's layout
    (its length, and where its file bytes go in it), so they come from the page cache
    (mm.PageCache) when the file is old enough to be cached: the same frozen backing
    in every process that runs the program, mapped without a copy, and copied only
    when made writable (MM._own: a data segment). A shell loop running busybox copied
    its 1 MB of text into fresh memory at every exec before."""
    data = image.data
    cache = mm.pool.page_cache if mm.pool is not None and image.version is not None else None
    for mapping in plan.mappings:
        length = mapping.end - mapping.start
        # (where in the mapping, file offset, size) of each copy's part in it, in plan order
        pieces = []
        for c in plan.copies:
            lo, hi = max(c.vaddr, mapping.start), min(c.vaddr + c.size, mapping.end)
            if lo < hi:
                pieces.append((lo - mapping.start, c.offset + (lo - c.vaddr), hi - lo))
        name, file_offset = "", 0
        if pieces and path:
            at, offset, _ = pieces[0]
            name, file_offset = path, max(offset - at, 0)
        backing, key = None, None
        if cache is not None and pieces and image.version is not None:
            key = image.version + (length,) + tuple(part for piece in pieces for part in piece)
            backing = cache.get(key)
            if backing is not None and any(vma.backing is backing for vma in mm.vmas):
                backing = key = None  # mapped twice here: MM._own's copy-on-write is per backing, per MM
        if backing is None:
            backing = Backing(length, label=path or "anon")
            for at, offset, size in pieces:
                backing.view(at, size)[:] = data[offset:offset + size]
            if key is not None:
                cache.add(key, backing)
        flags = MAP_PRIVATE if pieces else MAP_PRIVATE | MAP_ANONYMOUS
        mm.map_backing(mapping.start, length, mapping.prot, flags, backing, 0, name, file_offset)


def de_thread(task: Task) -> None:
    """execve in a multi-threaded process: every other thread ends, and the caller
    becomes the only thread, with the process's pid as its tid (Linux's de_thread)."""
    from pykern.exit import do_exit

    group = task.group
    for other in group.live_tasks:
        if other is not task:
            do_exit(other, 0)
    if task.tid != group.tgid:
        kernel = task.kernel
        kernel.tasks.pop(task.tid, None)
        task.tid = group.tgid
        kernel.tasks[task.tid] = task
    group.tasks = [task]


def do_execve(task: Task, filename: bytes, argv: list[bytes], envp: list[bytes], first: bool = False) -> None:
    """execve(2). Raises SysError/ExecFormatError with the old image intact, or installs
    the new image and raises ExecImage (unless `first`: the initial exec of spawn)."""
    image, plan, argv, interp, interp_name = load_binary(task, filename, argv)
    host_path = image.host_path
    check_arg_limits(argv, envp, filename)
    # The first exec fills the empty address space spawn gave the task: a second Unicorn
    # instance would cost 1-3 ms of start-up. Any other exec builds beside the old image.
    mm, sp, entry = build_image(task, image, plan, argv, envp, filename, task.mm if first else None, interp,
                                (mapped_name(task, image), interp_name))
    mm.exe_path = host_path

    # Point of no return: the old image goes away.
    de_thread(task)
    futex_exit_release(task)  # exec_mm_release: the old image's robust and PI locks
    group = task.group
    old_mm = task.mm
    task.mm = mm
    if not first:
        mm.users += 1  # and retire_mm below drops the old image's
    task.context = None
    group.files = group.files.unshare()  # (a table shared with another process under CLONE_FILES)
    group.files.close_on_exec()
    for timer in list(group.posix_timers.values()):  # POSIX timers do not survive exec
        timer.delete()
    group.exe_path = host_path
    group.exe_location = image.location
    group.did_exec = True
    group.creds.exec_caps()
    task.comm = filename.rstrip(b"/").rpartition(b"/")[2][:15]  # begin_new_exec: the name asked for
    task.kernel.signals.flush_handlers(group)
    task.altstack = AltStack()  # no alternate stack in the new image
    task.sigframes.clear()
    for reg in GPRS:
        task.set_reg(reg, 0)
    task.set_reg(X.UC_X86_REG_RSP, sp)
    task.set_reg(X.UC_X86_REG_RIP, entry)
    task.set_reg(X.UC_X86_REG_EFLAGS, 0x202)
    # The FPU and SSE state of a fresh process, as fpstate_init gives it (Unicorn's own
    # reset leaves every x87 and SSE exception unmasked and the x87 at single precision).
    task.set_reg(X.UC_X86_REG_FPCW, FPU_CONTROL_DEFAULT)
    task.set_reg(X.UC_X86_REG_FPSW, 0)  # no exception flags (a pooled MM's last process may have left some)
    task.set_reg(X.UC_X86_REG_FPTAG, FPU_TAGS_EMPTY)
    task.set_reg(X.UC_X86_REG_MXCSR, MXCSR_DEFAULT)
    if task.kernel.tracer is not None:
        task.kernel.tracer.exec(task, host_path, argv)
    if task.vfork_parent is not None:
        vfork_done(task)
    if not first:
        retire_mm(old_mm, task)
        if old_mm in task.kernel.dead_mms:
            shm_exit(task.kernel, old_mm, group.tgid)  # exec detaches System V shared memory
        raise ExecImage()

